//! **anomalies**: hours and dates whose counts stand out from the rest of the range.
//!
//! - **Hourly series**: events per behaviour per local (date, hour) of the range. A slot's
//!   baseline is the same hour on the *other* dates of the range; it needs at least 4 of them
//!   (a range of 5+ dates), else the hourly series is not checked.
//! - **Daily series**: events per behaviour and active users (UV) per date; the baseline is the
//!   other dates of the range; it needs at least 6 (a range of 7+ dates) and is marked
//!   **low-data** with fewer than 14.
//! - A (date, hour) or date without events counts as 0.
//! - With the baseline's median m and MAD = median |xᵢ − m|: robust z = (x − m) / (1.4826 · MAD);
//!   when MAD = 0, the scale is 1.2533 · mean |xᵢ − m| instead, and the slot is skipped when that
//!   is 0 too. Medians of an even count are the mean of the two middle values.
//! - A slot is **flagged** when |z| ≥ 3.5, |x − m| ≥ 0.5 · m and m ≥ 20. A spike has x > m, a dip
//!   x < m; the change is (x − m) / m.
//! - The report counts the flagged slots and lists the first 20 by |z| descending (ties: daily
//!   before hourly, then date, hour and behaviour in funnel order pv, fav, cart, buy, uv).
//!
//! The counts are those of the kept events (see the filters in [`super`]): a behaviour the filter
//! drops is all zeros, so its median is 0 and nothing of it is flagged.

use super::daily;
use super::section::{Analysis, Cell, Computed, Headline, Label, Section};
use super::source::{u, Ctx};
use super::MetricsError;
use crate::domain::parse_date;
use crate::i18n::prose::Tr;
use crate::i18n::{int, Lang};
use chrono::NaiveDate;
use serde::Serialize;

/// The smallest |z| flagged.
pub const Z_MIN: f64 = 3.5;
/// The smallest median a flagged slot's baseline has.
pub const MEDIAN_MIN: f64 = 20.0;
/// Other dates the hourly baseline needs.
pub const HOURLY_MIN_DATES: usize = 4;
/// Other dates the daily baseline needs.
pub const DAILY_MIN_DATES: usize = 6;
/// Under this many other dates the daily baseline is low-data.
pub const DAILY_LOW_DATES: usize = 14;
/// Slots listed.
pub const TOP: usize = 20;

/// The series' measures, in tie order.
const MEASURES: [&str; 5] = ["pv", "fav", "cart", "buy", "uv"];

/// One flagged slot.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Anomaly {
    /// `daily` or `hourly`.
    pub series: &'static str,
    /// pv, fav, cart, buy (events) or uv (active users, daily only).
    pub behavior: &'static str,
    /// The date.
    pub date: NaiveDate,
    /// The local hour (hourly only).
    pub hour: Option<u32>,
    /// The slot's count.
    pub value: u64,
    /// The baseline's median.
    pub median: f64,
    /// The robust z.
    pub z: f64,
    /// `spike` or `dip`.
    pub direction: &'static str,
    /// (value − median) / median.
    pub change: f64,
    /// One sentence on it in each language (see [`Anomaly::sentence`]).
    pub text: Said,
}

/// A sentence in Chinese and English.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Said {
    /// 简体中文
    pub zh: String,
    /// English
    pub en: String,
}

/// The anomalies of a range.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Anomalies {
    /// Whether the hourly series had enough dates to be checked.
    pub hourly_checked: bool,
    /// Whether the daily series had enough dates to be checked.
    pub daily_checked: bool,
    /// Whether the daily baseline has fewer than 14 other dates.
    pub daily_low_data: bool,
    /// Flagged slots.
    pub flagged: u64,
    /// The first 20 by |z|.
    pub top: Vec<Anomaly>,
}

/// The median of `v` (sorted in place); 0 for none.
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// (median, robust z) of `x` against `baseline`; `None` when the scale is 0.
pub fn robust_z(x: f64, baseline: &[f64]) -> Option<(f64, f64)> {
    let mut b = baseline.to_vec();
    let m = median(&mut b);
    let mut dev: Vec<f64> = b.iter().map(|v| (v - m).abs()).collect();
    let mad = median(&mut dev);
    let scale = if mad > 0.0 { 1.4826 * mad } else { 1.2533 * dev.iter().sum::<f64>() / dev.len().max(1) as f64 };
    (scale > 0.0).then(|| (m, (x - m) / scale))
}

/// The slot, if it is flagged.
fn check(series: &'static str, behavior: &'static str, date: NaiveDate, hour: Option<u32>, x: u64, baseline: &[f64]) -> Option<Anomaly> {
    let (m, z) = robust_z(x as f64, baseline)?;
    let d = x as f64 - m;
    (z.abs() >= Z_MIN && d.abs() >= 0.5 * m && m >= MEDIAN_MIN).then(|| Anomaly {
        series,
        behavior,
        date,
        hour,
        value: x,
        median: m,
        z,
        direction: if d > 0.0 { "spike" } else { "dip" },
        change: d / m,
        text: Said::default(),
    })
}

/// Every flagged slot of each series, where `values[s][i]` is series s's count on slot i of a
/// group of comparable slots (the same hour on each date, or each date).
fn scan(out: &mut Vec<Anomaly>, series: &'static str, dates: &[NaiveDate], hour: Option<u32>, values: &[(&'static str, Vec<u64>)]) {
    for (behavior, v) in values {
        for (i, x) in v.iter().enumerate() {
            let baseline: Vec<f64> = v.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, y)| *y as f64).collect();
            out.extend(check(series, behavior, dates[i], hour, *x, &baseline));
        }
    }
}

/// Events per behaviour per (date index, hour) of the range.
fn hourly_grid(ctx: &Ctx<'_>, days: usize) -> Result<Vec<[[u64; 24]; 4]>, MetricsError> {
    let mut grid = vec![[[0u64; 24]; 4]; days];
    let mut st = ctx.conn.prepare(&format!(
        "SELECT event_date::VARCHAR, event_hour, sum(pv)::BIGINT, sum(fav)::BIGINT, sum(cart)::BIGINT, sum(buy)::BIGINT
         FROM {} WHERE {} GROUP BY ALL",
        ctx.src.hourly, ctx.between
    ))?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            [r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, i64>(4)?, r.get::<_, i64>(5)?],
        ))
    })?;
    for row in rows {
        let (ds, h, counts) = row?;
        let i = (parse_date(&ds).expect("DuckDB date") - ctx.range.from).num_days() as usize;
        for (b, c) in counts.iter().enumerate() {
            grid[i][b][h as usize] = u(*c);
        }
    }
    Ok(grid)
}

/// The anomalies of the context's range and filter.
pub fn compute(ctx: &Ctx<'_>) -> Result<Anomalies, MetricsError> {
    let dates: Vec<NaiveDate> = ctx.range.dates().collect();
    let others = dates.len().saturating_sub(1);
    let mut found = Vec::new();
    let daily_checked = others >= DAILY_MIN_DATES;
    if daily_checked {
        let per_day = ctx.per_day()?;
        let days = daily::compute(ctx, per_day.as_deref())?;
        let col = |f: fn(&daily::Day) -> u64| days.iter().map(f).collect::<Vec<u64>>();
        let values =
            [("pv", col(|d| d.pv)), ("fav", col(|d| d.fav)), ("cart", col(|d| d.cart)), ("buy", col(|d| d.buy)), ("uv", col(|d| d.users))];
        scan(&mut found, "daily", &dates, None, &values);
    }
    let hourly_checked = others >= HOURLY_MIN_DATES;
    if hourly_checked {
        let grid = hourly_grid(ctx, dates.len())?;
        for h in 0..24u32 {
            let values: Vec<(&'static str, Vec<u64>)> =
                (0..4).map(|b| (MEASURES[b], grid.iter().map(|day| day[b][h as usize]).collect())).collect();
            scan(&mut found, "hourly", &dates, Some(h), &values);
        }
    }
    let order = |a: &Anomaly| (a.series != "daily", a.date, a.hour, MEASURES.iter().position(|m| *m == a.behavior));
    found.sort_by(|a, b| b.z.abs().total_cmp(&a.z.abs()).then_with(|| order(a).cmp(&order(b))));
    let flagged = found.len() as u64;
    found.truncate(TOP);
    for a in &mut found {
        a.text = Said { zh: a.sentence(Lang::Zh), en: a.sentence(Lang::En) };
    }
    Ok(Anomalies { hourly_checked, daily_checked, daily_low_data: daily_checked && others < DAILY_LOW_DATES, flagged, top: found })
}

/// What a measure counts, for sentences.
fn measure_name(lang: Lang, m: &str) -> &'static str {
    let (zh, en) = match m {
        "pv" => ("浏览量", "Page views"),
        "fav" => ("收藏量", "Favourites"),
        "cart" => ("加购量", "Add-to-carts"),
        "buy" => ("购买量", "Buys"),
        _ => ("活跃用户数", "Active users"),
    };
    if lang == Lang::Zh {
        zh
    } else {
        en
    }
}

/// When the slot is: "12-02 20:00" or "12-02".
fn when(a: &Anomaly) -> String {
    match a.hour {
        Some(h) => format!("{} {h:02}:00", a.date.format("%m-%d")),
        None => a.date.format("%m-%d").to_string(),
    }
}

impl Anomaly {
    /// The slot in a few language-neutral words, for headlines and the LLM's fact sheet:
    /// "12-02 20:00 buy 3,120 = 1.8× median 1,733.0 (z 6.2)".
    pub fn brief(&self) -> String {
        let r = self.value as f64 / self.median;
        format!("{} {} {} = {r:.1}× median {:.1} (z {:.1})", when(self), self.behavior, int(self.value), self.median, self.z)
    }

    /// One sentence on the slot, e.g. "12-02 20:00 的购买量 3,120，是同时段中位数的 1.8 倍".
    pub fn sentence(&self, lang: Lang) -> String {
        let (w, what, x, r) = (when(self), measure_name(lang, self.behavior), int(self.value), self.value as f64 / self.median);
        match (lang, self.hour.is_some()) {
            (Lang::Zh, true) => format!("{w} 的{what} {x}，是同时段中位数的 {r:.1} 倍"),
            (Lang::Zh, false) => format!("{w} 的{what} {x}，是其他日期中位数的 {r:.1} 倍"),
            (Lang::En, true) => format!("{what} at {w}: {x}, {r:.1}× the median of the same hour on the other dates"),
            (Lang::En, false) => format!("{what} on {w}: {x}, {r:.1}× the median of the other dates"),
        }
    }
}

const TITLE: Tr = Tr { zh: "异常", en: "Anomalies" };
/// The table's columns; a slot reads "12-02 20:00" (hourly) or "12-02" (daily), and the
/// direction as an arrow, so every cell reads the same in both languages.
const COLUMNS: [Tr; 7] = [
    Tr { zh: "时段", en: "Slot" },
    Tr { zh: "行为", en: "Behaviour" },
    Tr { zh: "数值", en: "Value" },
    Tr { zh: "基线中位数", en: "Baseline median" },
    Tr { zh: "稳健 z", en: "Robust z" },
    Tr { zh: "方向（↑ 激增，↓ 骤降）", en: "Direction (↑ spike, ↓ dip)" },
    Tr { zh: "变化", en: "Change" },
];
const DEFINITION: Tr = Tr {
    zh: "小时序列：每个本地（日期, 小时）各行为的事件数，基线为区间内其他日期的同一小时（至少 4 个）；日序列：每日各行为事件数与活跃用户数，基线为其他日期（至少 6 个，少于 14 个标为数据不足）。无事件的时段记为 0。稳健 z = (x − m) / (1.4826 · MAD)，m 为基线中位数，MAD 为 |x_i − m| 的中位数；MAD 为 0 时改用 1.2533 · |x_i − m| 的均值，仍为 0 则跳过。|z| ≥ 3.5、|x − m| ≥ 0.5 · m 且 m ≥ 20 时标为异常。",
    en: "Hourly series: events per behaviour per local (date, hour), baseline = the same hour on the other dates of the range (at least 4); daily series: events per behaviour and active users per date, baseline = the other dates (at least 6; low-data under 14). A slot without events counts as 0. Robust z = (x − m) / (1.4826 · MAD) with m the baseline's median and MAD the median of |x_i − m|; when MAD is 0, 1.2533 · the mean of |x_i − m| instead, skipped when that is 0 too. Flagged when |z| ≥ 3.5, |x − m| ≥ 0.5 · m and m ≥ 20.",
};

/// The anomalies in the registry.
pub struct AnomalyAlerts;

impl Analysis for AnomalyAlerts {
    fn compute(&self, ctx: &Ctx<'_>) -> Result<Computed, MetricsError> {
        let a = compute(ctx)?;
        let rows = a
            .top
            .iter()
            .map(|x| {
                vec![
                    Cell::Text(when(x)),
                    Cell::Text(x.behavior.into()),
                    Cell::Int(x.value),
                    Cell::Num(x.median),
                    Cell::Num(x.z),
                    Cell::Text(if x.direction == "spike" { "↑" } else { "↓" }.into()),
                    Cell::Rate(x.change),
                ]
            })
            .collect();
        let mut headline = vec![Headline { label: Tr { zh: "异常时段数", en: "Flagged slots" }, value: Cell::Int(a.flagged) }];
        const TOP3: [Tr; 3] = [
            Tr { zh: "最显著的异常", en: "Top anomaly" },
            Tr { zh: "第二显著的异常", en: "Second anomaly" },
            Tr { zh: "第三显著的异常", en: "Third anomaly" },
        ];
        for (x, label) in a.top.iter().zip(TOP3) {
            headline.push(Headline { label, value: Cell::Text(x.brief()) });
        }
        let conclusion = Some(conclusion(&a));
        let section = Section {
            key: "anomalies",
            title: TITLE,
            columns: COLUMNS.map(Label::from).to_vec(),
            rows,
            tables: vec![],
            headline,
            plots: vec![],
            conclusion,
            definition: DEFINITION,
        };
        Ok(Computed { json: serde_json::to_value(&a).expect("anomalies JSON"), section })
    }
}

/// The first anomaly's sentence, or why there is none.
fn conclusion(a: &Anomalies) -> (String, String) {
    match a.top.first() {
        Some(x) => (
            format!("共 {} 个时段异常；最显著的是：{}。", int(a.flagged), x.sentence(Lang::Zh)),
            format!("{} slots flagged; the strongest: {}.", int(a.flagged), x.sentence(Lang::En)),
        ),
        None if !a.daily_checked && !a.hourly_checked => {
            ("区间太短（少于 5 天），无法建立基线。".into(), "The range is too short (under 5 dates) for a baseline.".into())
        }
        None => ("没有时段达到异常标准。".into(), "No slot meets the anomaly rule.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_z_by_hand() {
        // Baseline 10, 12, 14, 16: m = 13, |d| = 3, 1, 1, 3 → MAD = 2, scale 2.9652.
        let (m, z) = robust_z(25.0, &[10.0, 12.0, 14.0, 16.0]).unwrap();
        assert_eq!(m, 13.0);
        assert!((z - 12.0 / 2.9652).abs() < 1e-12);
        // MAD 0: 20, 20, 20, 40 → m 20, |d| 0, 0, 0, 20 → MAD 0, mean |d| 5, scale 6.2665.
        let (m, z) = robust_z(50.0, &[20.0, 20.0, 20.0, 40.0]).unwrap();
        assert_eq!(m, 20.0);
        assert!((z - 30.0 / 6.2665).abs() < 1e-12);
        // All equal: skipped.
        assert_eq!(robust_z(50.0, &[20.0; 5]), None);
    }

    #[test]
    fn flag_rule_needs_all_three() {
        let d = NaiveDate::from_ymd_opt(2017, 12, 2).unwrap();
        let base = [100.0, 102.0, 98.0, 101.0, 99.0];
        // z huge and +100 %: flagged.
        assert!(check("daily", "pv", d, None, 200, &base).is_some());
        // z huge but only +20 %: not flagged.
        assert!(check("daily", "pv", d, None, 120, &base).is_none());
        // Median under 20: not flagged.
        assert!(check("daily", "pv", d, None, 100, &[10.0, 11.0, 9.0, 10.0]).is_none());
        let a = check("hourly", "buy", d, Some(20), 40, &base).unwrap();
        assert_eq!((a.direction, a.change), ("dip", -0.6));
        assert_eq!(a.sentence(Lang::Zh), "12-02 20:00 的购买量 40，是同时段中位数的 0.4 倍");
    }
}
