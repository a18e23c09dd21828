//! The fact sheet: a compact, deterministic digest of [`Metrics`] that the report's conclusions,
//! the rule-based insights and the LLM prompt all read, so they cite the same numbers.
//!
//! Derived figures (all from `Metrics`, nothing queried again):
//! - `fav_rate`, `cart_rate`: fav / cart users ÷ pv users; `cart_to_buy`: buy users ÷ cart users.
//! - `trough_hour`: the hour with the fewest events (ties: earlier); `peak_to_trough`: events in
//!   the peak hour ÷ events in the trough hour (0 when the trough is empty);
//!   `evening_share`: events at 18:00–23:59 ÷ all events; `buy_peak_hour`: the hour with most buys.
//! - `avg_daily_uv`: mean of the daily active users; best/worst day by active users;
//!   `last2_lift`: mean UV of the range's last two days ÷ mean UV of the earlier days − 1
//!   (only with ≥ 3 days); `best_buy_day`: the date with most buys.
//! - retention: best and worst date by day-1 retention rate (dates with a non-empty cohort).
//! - `top10_buy_share`: buys of the top-10 categories ÷ all buys; `largest_segment`: RFM segment
//!   with most users.

use crate::i18n::prose::Tr;
use crate::metrics::section::Headline;
use crate::metrics::Metrics;
use chrono::NaiveDate;
use serde::Serialize;

/// A date and a value.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DateValue {
    /// The date.
    pub date: NaiveDate,
    /// The value (users, buys or a rate, by context).
    pub value: f64,
}

/// The digest; see the module docs for each derived figure.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Facts {
    /// The event filter besides the range ("" when none), as [`crate::i18n::describe_filter`] in English.
    pub filter: String,
    /// First date of the range.
    pub from: NaiveDate,
    /// Last date of the range.
    pub to: NaiveDate,
    /// Days in the range.
    pub days: u32,
    /// Time zone of dates and hours.
    pub timezone: String,
    /// Distinct users.
    pub uv: u64,
    /// pv events.
    pub pv: u64,
    /// buy events.
    pub buys: u64,
    /// Users with a buy.
    pub buyers: u64,
    /// Users with a pv / fav / cart / buy event.
    pub stage_users: [u64; 4],
    /// buy users ÷ pv users.
    pub conversion: f64,
    /// fav users ÷ pv users.
    pub fav_rate: f64,
    /// cart users ÷ pv users.
    pub cart_rate: f64,
    /// buy users ÷ cart users.
    pub cart_to_buy: f64,
    /// Hour with most events.
    pub peak_hour: u32,
    /// Hour with fewest events.
    pub trough_hour: u32,
    /// Peak-hour events ÷ trough-hour events.
    pub peak_to_trough: f64,
    /// The evening window [from, to) in hours: always (18, 24).
    pub evening_hours: (u32, u32),
    /// Share of events at 18:00–23:59.
    pub evening_share: f64,
    /// Hour with most buys.
    pub buy_peak_hour: u32,
    /// Mean daily active users.
    pub avg_daily_uv: f64,
    /// Day with most active users.
    pub best_uv_day: Option<DateValue>,
    /// Day with fewest active users.
    pub worst_uv_day: Option<DateValue>,
    /// Last two days' mean UV vs the earlier days' (None with < 3 days).
    pub last2_lift: Option<f64>,
    /// Day with most buys.
    pub best_buy_day: Option<DateValue>,
    /// Mean day-1 retention.
    pub avg_day1_retention: f64,
    /// Best day-1 retention date.
    pub best_retention: Option<DateValue>,
    /// Worst day-1 retention date.
    pub worst_retention: Option<DateValue>,
    /// Users with ≥ 2 buys.
    pub repeat_buyers: u64,
    /// repeat buyers ÷ buyers.
    pub repurchase_rate: f64,
    /// (segment, users, share) in report order.
    pub segments: Vec<(String, u64, f64)>,
    /// Segment with most users.
    pub largest_segment: Option<(String, u64, f64)>,
    /// (category_id, buys), up to 10.
    pub top_categories: Vec<(i64, u64)>,
    /// Buys of the top-10 categories ÷ all buys.
    pub top10_buy_share: f64,
    /// The headline numbers of each analysis of the metrics registry: (its title, its headline).
    pub more: Vec<(Tr, Vec<Headline>)>,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

impl Facts {
    /// Digests `m`.
    pub fn from_metrics(m: &Metrics) -> Facts {
        let su = |i: usize| m.funnel.get(i).map(|s| s.users).unwrap_or(0);
        let events = |h: &crate::metrics::Hour| h.pv + h.fav + h.cart + h.buy;
        let trough = m.hourly.iter().min_by_key(|h| (events(h), h.hour));
        let peak_events = m.hourly.iter().find(|h| h.hour == m.kpis.peak_hour).map(events).unwrap_or(0);
        let total: u64 = m.hourly.iter().map(events).sum();
        let evening: u64 = m.hourly.iter().filter(|h| h.hour >= 18).map(events).sum();
        let buy_peak = m.hourly.iter().max_by_key(|h| (h.buy, std::cmp::Reverse(h.hour))).map(|h| h.hour).unwrap_or(0);
        let dv = |date: NaiveDate, value: f64| DateValue { date, value };
        let best_uv = m.daily.iter().max_by_key(|d| (d.users, std::cmp::Reverse(d.date))).map(|d| dv(d.date, d.users as f64));
        let worst_uv = m.daily.iter().min_by_key(|d| (d.users, d.date)).map(|d| dv(d.date, d.users as f64));
        let avg_uv = ratio(m.daily.iter().map(|d| d.users as f64).sum(), m.daily.len() as f64);
        let last2_lift = (m.daily.len() >= 3).then(|| {
            let n = m.daily.len();
            let last = m.daily[n - 2..].iter().map(|d| d.users as f64).sum::<f64>() / 2.0;
            let before = m.daily[..n - 2].iter().map(|d| d.users as f64).sum::<f64>() / (n - 2) as f64;
            ratio(last, before) - 1.0
        });
        let best_buy =
            m.daily.iter().filter(|d| d.buy > 0).max_by_key(|d| (d.buy, std::cmp::Reverse(d.date))).map(|d| dv(d.date, d.buy as f64));
        let rets: Vec<_> = m.retention.iter().filter(|r| r.cohort > 0).collect();
        let best_ret = rets.iter().max_by(|a, b| a.rate.total_cmp(&b.rate).then(b.date.cmp(&a.date))).map(|r| dv(r.date, r.rate));
        let worst_ret = rets.iter().min_by(|a, b| a.rate.total_cmp(&b.rate).then(a.date.cmp(&b.date))).map(|r| dv(r.date, r.rate));
        let segments: Vec<(String, u64, f64)> = m.rfm.segments.iter().map(|s| (s.segment.clone(), s.users, s.share)).collect();
        let largest = segments.iter().filter(|s| s.1 > 0).max_by_key(|s| s.1).cloned();
        let top: Vec<(i64, u64)> = m.top_categories.iter().map(|c| (c.category_id, c.buys)).collect();
        let top_sum: u64 = top.iter().map(|c| c.1).sum();
        Facts {
            filter: crate::i18n::describe_filter(crate::i18n::Lang::En, &m.filter.behaviors, &m.filter.categories),
            from: m.range.from,
            to: m.range.to,
            days: ((m.range.to - m.range.from).num_days() + 1) as u32,
            timezone: m.range.timezone.clone(),
            uv: m.kpis.uv,
            pv: m.kpis.pv,
            buys: m.kpis.buys,
            buyers: m.kpis.buyers,
            stage_users: [su(0), su(1), su(2), su(3)],
            conversion: m.kpis.pv_to_buy_conversion,
            fav_rate: ratio(su(1) as f64, su(0) as f64),
            cart_rate: ratio(su(2) as f64, su(0) as f64),
            cart_to_buy: ratio(su(3) as f64, su(2) as f64),
            peak_hour: m.kpis.peak_hour,
            trough_hour: trough.map(|h| h.hour).unwrap_or(0),
            peak_to_trough: ratio(peak_events as f64, trough.map(events).unwrap_or(0) as f64),
            evening_hours: (18, 24),
            evening_share: ratio(evening as f64, total as f64),
            buy_peak_hour: buy_peak,
            avg_daily_uv: avg_uv,
            best_uv_day: best_uv,
            worst_uv_day: worst_uv,
            last2_lift,
            best_buy_day: best_buy,
            avg_day1_retention: m.kpis.avg_day1_retention,
            best_retention: best_ret,
            worst_retention: worst_ret,
            repeat_buyers: m.repurchase.repeat_buyers,
            repurchase_rate: m.repurchase.rate,
            segments,
            largest_segment: largest,
            top_categories: top,
            top10_buy_share: ratio(top_sum as f64, m.kpis.buys as f64),
            more: m.more.sections().map(|s| (s.title, s.headline.clone())).collect(),
        }
    }
}

fn collect(v: &serde_json::Value, nums: &mut Vec<f64>, dates: &mut std::collections::HashSet<String>) {
    match v {
        serde_json::Value::Number(n) => nums.extend(n.as_f64()),
        serde_json::Value::String(s) if s.len() == 10 && crate::domain::parse_date(s).is_ok() => {
            dates.insert(s.clone());
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, nums, dates)),
        serde_json::Value::Object(o) => o.values().for_each(|x| collect(x, nums, dates)),
        _ => {}
    }
}

impl Facts {
    /// Every number and date of the fact sheet, for [`grounding`](super::grounding).
    pub fn allowed(&self) -> super::grounding::Allowed {
        let mut a = super::grounding::Allowed::default();
        collect(&serde_json::to_value(self).unwrap_or_default(), &mut a.values, &mut a.dates);
        // A headline reads in its own unit in the prompt (e.g. "3.5 min" for 210 seconds): the
        // number as shown is a fact too.
        for (_, headline) in &self.more {
            for h in headline {
                a.values.extend(super::grounding::numbers(&h.value.show()).into_iter().filter(|n| !n.percent).map(|n| n.value));
            }
        }
        a
    }

    /// The fact sheet as compact text for a prompt, in `lang`.
    pub fn prompt_text(&self, lang: crate::i18n::Lang) -> String {
        use crate::i18n::prose::{self, fill};
        use crate::i18n::segment_name;
        let p = crate::i18n::pct1;
        let dv = |d: &Option<DateValue>, pct: bool| match d {
            Some(d) if pct => format!("{} ({})", d.date, p(d.value)),
            Some(d) => format!("{} ({})", d.date, d.value as u64),
            None => "-".into(),
        };
        let [pv_u, fav_u, cart_u, buy_u] = self.stage_users;
        let (seg_sep, cat_sep) = prose::fact_separators(lang);
        let segs: Vec<String> = self.segments.iter().map(|s| format!("{} {} ({})", segment_name(lang, &s.0), s.1, p(s.2))).collect();
        let cats: Vec<String> = self.top_categories.iter().map(|c| format!("{}:{}", c.0, c.1)).collect();
        let s = |v: &dyn std::fmt::Display| v.to_string();
        let mut lines = vec![
            fill(
                lang,
                &prose::FACT_RANGE,
                &[("from", s(&self.from)), ("to", s(&self.to)), ("days", s(&self.days)), ("tz", s(&self.timezone))],
            ),
            fill(
                lang,
                &prose::FACT_TOTALS,
                &[("uv", s(&self.uv)), ("pv", s(&self.pv)), ("buys", s(&self.buys)), ("buyers", s(&self.buyers))],
            ),
            fill(lang, &prose::FACT_FUNNEL, &[("pv", s(&pv_u)), ("fav", s(&fav_u)), ("cart", s(&cart_u)), ("buy", s(&buy_u))]),
            fill(
                lang,
                &prose::FACT_RATES,
                &[
                    ("conversion", p(self.conversion)),
                    ("fav_rate", p(self.fav_rate)),
                    ("cart_rate", p(self.cart_rate)),
                    ("cart_to_buy", p(self.cart_to_buy)),
                ],
            ),
            fill(
                lang,
                &prose::FACT_HOURS,
                &[
                    ("peak", s(&self.peak_hour)),
                    ("trough", s(&self.trough_hour)),
                    ("ratio", format!("{:.1}", self.peak_to_trough)),
                    ("evening", p(self.evening_share)),
                    ("buy_peak", s(&self.buy_peak_hour)),
                ],
            ),
            fill(
                lang,
                &prose::FACT_DAYS,
                &[
                    ("avg", format!("{:.0}", self.avg_daily_uv)),
                    ("best", dv(&self.best_uv_day, false)),
                    ("worst", dv(&self.worst_uv_day, false)),
                    ("lift", self.last2_lift.map(p).unwrap_or("-".into())),
                    ("best_buy", dv(&self.best_buy_day, false)),
                ],
            ),
            fill(
                lang,
                &prose::FACT_RETENTION,
                &[
                    ("avg", p(self.avg_day1_retention)),
                    ("best", dv(&self.best_retention, true)),
                    ("worst", dv(&self.worst_retention, true)),
                ],
            ),
            fill(lang, &prose::FACT_REPURCHASE, &[("repeat", s(&self.repeat_buyers)), ("rate", p(self.repurchase_rate))]),
            fill(lang, &prose::FACT_RFM, &[("segments", segs.join(seg_sep))]),
            fill(lang, &prose::FACT_CATEGORIES, &[("cats", cats.join(cat_sep)), ("share", p(self.top10_buy_share))]),
        ];
        for (title, headline) in &self.more {
            let items: Vec<String> = headline.iter().map(|h| format!("{} {}", h.label.get(lang), h.value.show())).collect();
            lines.push(fill(lang, &prose::FACT_MORE, &[("title", title.get(lang).to_string()), ("items", items.join(seg_sep))]));
        }
        if !self.filter.is_empty() {
            lines.insert(1, fill(lang, &prose::FACT_FILTER, &[("filter", self.filter.clone())]));
        }
        lines.iter().map(|l| format!("- {l}\n")).collect()
    }
}

impl Facts {
    /// Every fact of the sheet with the words that name it, for [`meaning`](super::meaning)
    /// (a headline's free text is left to the value check).
    pub fn meanings(&self) -> Vec<super::meaning::Meaning> {
        use super::meaning::*;
        use crate::metrics::section::Cell;
        let mut out = Vec::new();
        let mut add = |value: f64, lists: &[&[&str]]| out.push(Meaning { value, cues: cues(lists) });
        let [pv, fav, cart, buy] = self.stage_users.map(|n| n as f64);
        add(self.uv as f64, &[USERS]);
        add(self.pv as f64, &[VIEWS]);
        add(self.buys as f64, &[BUYS]);
        add(self.buyers as f64, &[BUYS, USERS]);
        add(pv, &[VIEWS, USERS]);
        add(fav, &[FAVS]);
        add(cart, &[CARTS]);
        add(buy, &[BUYS]);
        add(self.conversion, &[CONVERSION, BUYS]);
        add(self.fav_rate, &[FAVS]);
        add(self.cart_rate, &[CARTS]);
        add(self.cart_to_buy, &[CARTS, BUYS, CONVERSION]);
        add(self.peak_hour as f64, &[PEAK, ACTIVE]);
        add(self.trough_hour as f64, &[TROUGH]);
        add(self.peak_to_trough, &[RATIO, PEAK, TROUGH]);
        add(self.evening_hours.0 as f64, &[EVENING, HOUR]);
        add(self.evening_hours.1 as f64, &[EVENING, HOUR]);
        add(self.evening_share, &[EVENING]);
        add(self.buy_peak_hour as f64, &[BUYS, PEAK]);
        add(self.avg_daily_uv, &[DAILY]);
        let day = |d: &Option<DateValue>| d.as_ref().map(|d| d.value);
        day(&self.best_uv_day).into_iter().for_each(|v| add(v, &[PEAK, ACTIVE, USERS]));
        day(&self.worst_uv_day).into_iter().for_each(|v| add(v, &[TROUGH, ACTIVE, USERS]));
        self.last2_lift.into_iter().for_each(|v| add(v, &[LIFT]));
        day(&self.best_buy_day).into_iter().for_each(|v| add(v, &[BUYS]));
        add(self.avg_day1_retention, &[RETENTION]);
        [day(&self.best_retention), day(&self.worst_retention)].into_iter().flatten().for_each(|v| add(v, &[RETENTION]));
        add(self.repeat_buyers as f64, &[REPEAT]);
        add(self.repurchase_rate, &[REPEAT]);
        for (c, buys) in &self.top_categories {
            add(*c as f64, &[CATEGORY]);
            add(*buys as f64, &[CATEGORY, BUYS]);
        }
        add(self.top10_buy_share, &[TOP10, CATEGORY]);
        for (segment, users, share) in &self.segments {
            let mut words = cues(&[SEGMENT, USERS]);
            words.extend([crate::i18n::Lang::Zh, crate::i18n::Lang::En].map(|l| crate::i18n::segment_name(l, segment).to_lowercase()));
            words.push(segment.to_lowercase());
            out.push(Meaning { value: *users as f64, cues: words.clone() });
            out.push(Meaning { value: *share, cues: words });
        }
        for (title, headline) in &self.more {
            for h in headline {
                let mut words = label_cues(h.label.zh);
                words.extend(label_cues(h.label.en).into_iter().chain(label_cues(title.zh)).chain(label_cues(title.en)));
                let mut values = match h.value {
                    Cell::Int(n) => vec![n as f64],
                    Cell::Rate(x) | Cell::Num(x) | Cell::Secs(x) => vec![x],
                    Cell::Text(_) | Cell::Empty => vec![],
                };
                if matches!(h.value, Cell::Secs(_)) {
                    values.extend(super::grounding::numbers(&h.value.show()).into_iter().map(|n| n.value));
                }
                out.extend(values.into_iter().map(|value| Meaning { value, cues: words.clone() }));
            }
        }
        out
    }
}
