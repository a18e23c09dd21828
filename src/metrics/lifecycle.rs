//! **lifecycle**: for each date d of the range, the active users split by where they come from.
//! - new = users active on d whose first kept event in the range is on d;
//! - returning = users active on d and on d−1;
//! - resurrecting = users active on d, not on d−1, and first seen before d−1;
//! - dormant = users active on d−1 and not on d (a positive count; charts draw it below the axis);
//! - active = users active on d = new + returning + resurrecting.
//!
//! "First seen" is within the analysis range and its filter, so on the range's first date every
//! active user is new and the other three counts are 0. Activity means a kept event (see the
//! filters in [`super`]).

use super::section::{Analysis, Cell, Computed, Headline, Label, Plot, PlotKind, Section};
use super::source::{u, Bitmaps, Ctx};
use super::MetricsError;
use crate::domain::parse_date;
use crate::i18n::prose::Tr;
use crate::store::sql_date;
use chrono::NaiveDate;
use serde::Serialize;

/// One date's lifecycle.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LifecycleDay {
    /// The date.
    pub date: NaiveDate,
    /// First seen on this date.
    pub new: u64,
    /// Also active the day before.
    pub returning: u64,
    /// Back after at least one inactive day.
    pub resurrecting: u64,
    /// Active the day before, not on this date.
    pub dormant: u64,
    /// Active on this date.
    pub active: u64,
}

/// One row per date of the range: from the day bitmaps in one scan when they exist, else from
/// the per-(user, date) rollup (a test compares both).
pub fn compute(ctx: &Ctx<'_>) -> Result<Vec<LifecycleDay>, MetricsError> {
    let mut days: Vec<LifecycleDay> =
        ctx.range.dates().map(|date| LifecycleDay { date, new: 0, returning: 0, resurrecting: 0, dormant: 0, active: 0 }).collect();
    match &ctx.src.bitmaps {
        Some(b) => from_bitmaps(ctx, b, &mut days)?,
        None => from_rollup(ctx, &mut days)?,
    }
    Ok(days)
}

/// Bit k of `active` is the user's activity on window day k; `b.first` is the range's first day.
fn from_bitmaps(ctx: &Ctx<'_>, b: &Bitmaps, days: &mut [LifecycleDay]) -> Result<(), MetricsError> {
    let before = |k: i64| b.mask & ((1u64 << k) - 1);
    let mut cols = Vec::new();
    for i in 0..days.len() as i64 {
        let k = b.first + i;
        cols.push(format!("count(*) FILTER (WHERE (active >> {k}) & 1 = 1)"));
        cols.push(format!("count(*) FILTER (WHERE (active >> {k}) & 1 = 1 AND active & {}::UBIGINT = 0)", before(k)));
        if i == 0 {
            cols.extend(["0".to_string(), "0".to_string(), "0".to_string()]);
        } else {
            cols.push(format!("count(*) FILTER (WHERE (active >> {}) & 3 = 3)", k - 1));
            cols.push(format!("count(*) FILTER (WHERE (active >> {}) & 3 = 2 AND active & {}::UBIGINT <> 0)", k - 1, before(k - 1)));
            cols.push(format!("count(*) FILTER (WHERE (active >> {}) & 3 = 1)", k - 1));
        }
    }
    let sql = format!("SELECT {} FROM {}", cols.join(", "), b.user_days);
    ctx.conn.query_row(&sql, [], |r| {
        for (i, d) in days.iter_mut().enumerate() {
            let g = |j: usize| r.get::<_, i64>(5 * i + j).map(u);
            (d.active, d.new, d.returning, d.resurrecting, d.dormant) = (g(0)?, g(1)?, g(2)?, g(3)?, g(4)?);
        }
        Ok(())
    })?;
    Ok(())
}

/// The same from the per-(user, date) rollup, with self-joins.
fn from_rollup(ctx: &Ctx<'_>, days: &mut [LifecycleDay]) -> Result<(), MetricsError> {
    let range = ctx.range;
    let active = format!("SELECT DISTINCT user_id, event_date AS d FROM {} WHERE {}", ctx.src.user_day, ctx.between);
    let mut st = ctx.conn.prepare(&format!(
        "WITH a AS ({active}), f AS (SELECT user_id, min(d) AS first FROM a GROUP BY user_id)
         SELECT a.d::VARCHAR, count(*), count(*) FILTER (WHERE f.first = a.d), count(p.user_id),
                count(*) FILTER (WHERE p.user_id IS NULL AND f.first < a.d - 1)
         FROM a JOIN f USING (user_id) LEFT JOIN a p ON p.user_id = a.user_id AND p.d = a.d - 1
         GROUP BY a.d"
    ))?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, i64>(4)?))
    })?;
    for row in rows {
        let (ds, n, new, ret, res) = row?;
        let i = index(range.from, &ds);
        (days[i].active, days[i].new, days[i].returning, days[i].resurrecting) = (u(n), u(new), u(ret), u(res));
    }
    let mut st = ctx.conn.prepare(&format!(
        "WITH a AS ({active})
         SELECT (p.d + 1)::VARCHAR, count(*) FROM a p LEFT JOIN a n ON n.user_id = p.user_id AND n.d = p.d + 1
         WHERE n.user_id IS NULL AND p.d < {} GROUP BY p.d",
        sql_date(range.to)
    ))?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (ds, n) = row?;
        days[index(range.from, &ds)].dormant = u(n);
    }
    Ok(())
}

fn index(from: NaiveDate, ds: &str) -> usize {
    (parse_date(ds).expect("DuckDB date") - from).num_days() as usize
}

const TITLE: Tr = Tr { zh: "用户生命周期（按日期）", en: "User lifecycle by date" };
const COLUMNS: [Tr; 6] = [
    Tr { zh: "日期", en: "Date" },
    Tr { zh: "新用户", en: "New" },
    Tr { zh: "回访用户", en: "Returning" },
    Tr { zh: "回流用户", en: "Resurrecting" },
    Tr { zh: "流失用户", en: "Dormant" },
    Tr { zh: "活跃用户", en: "Active" },
];
const DEFINITION: Tr = Tr {
    zh: "对区间内每个日期 d：新用户 = d 日活跃且在区间内首次出现于 d 日；回访 = d 日与 d−1 日都活跃；回流 = d 日活跃、d−1 日不活跃、首次出现早于 d−1 日；流失 = d−1 日活跃而 d 日不活跃。新用户 + 回访 + 回流 = 当日活跃用户；区间第一天所有活跃用户都是新用户。",
    en: "For each date d of the range: new = active on d and first seen in the range on d; returning = active on d and on d−1; resurrecting = active on d, not on d−1, first seen before d−1; dormant = active on d−1 and not on d. New + returning + resurrecting = active users on d; on the range's first date every active user is new.",
};

/// A sentence on the last date: how its active users split, and how many left.
fn conclusion(days: &[LifecycleDay]) -> Option<(String, String)> {
    let l = days.last().filter(|l| l.active > 0 && days.len() > 1)?;
    let share = |n: u64| crate::i18n::pct(super::source::ratio(n, l.active));
    let (ret, new, dor) = (share(l.returning), share(l.new), crate::i18n::int(l.dormant));
    Some((
        format!("最后一天 {} 的活跃用户中，{ret} 是前一天也活跃的回访用户，{new} 是新用户；另有 {dor} 名前一天活跃的用户当天没有回来。", l.date),
        format!("Of the users active on the last date, {}, {ret} were also active the day before and {new} were new; {dor} users active the day before did not come back.", l.date),
    ))
}

/// The lifecycle in the registry.
pub struct Lifecycle;

impl Analysis for Lifecycle {
    fn compute(&self, ctx: &Ctx<'_>) -> Result<Computed, MetricsError> {
        let days = compute(ctx)?;
        let rows = days
            .iter()
            .map(|d| {
                let n = [d.new, d.returning, d.resurrecting, d.dormant, d.active].map(Cell::Int);
                std::iter::once(Cell::Text(d.date.to_string())).chain(n).collect()
            })
            .collect();
        let headline = match days.last() {
            Some(l) => vec![
                Headline { label: Tr { zh: "最后一天的新用户", en: "New users on the last date" }, value: Cell::Int(l.new) },
                Headline {
                    label: Tr { zh: "最后一天的回访用户", en: "Returning users on the last date" }, value: Cell::Int(l.returning)
                },
                Headline {
                    label: Tr { zh: "最后一天的回流用户", en: "Resurrecting users on the last date" },
                    value: Cell::Int(l.resurrecting),
                },
                Headline {
                    label: Tr { zh: "最后一天的流失用户", en: "Dormant users on the last date" }, value: Cell::Int(l.dormant)
                },
            ],
            None => vec![],
        };
        let plot = Plot {
            name: "lifecycle",
            title: Tr {
                zh: "每日用户构成（流失画在轴下方）", en: "Users by lifecycle stage per date (dormant below the axis)"
            },
            kind: PlotKind::Stacked {
                x: days.iter().map(|d| d.date.format("%m-%d").to_string()).collect(),
                series: vec![
                    (COLUMNS[1], days.iter().map(|d| d.new as f64).collect()),
                    (COLUMNS[2], days.iter().map(|d| d.returning as f64).collect()),
                    (COLUMNS[3], days.iter().map(|d| d.resurrecting as f64).collect()),
                    (COLUMNS[4], days.iter().map(|d| -(d.dormant as f64)).collect()),
                ],
                axis: Tr { zh: "用户数", en: "Users" },
            },
        };
        Ok(Computed {
            json: serde_json::to_value(&days).expect("lifecycle JSON"),
            section: Section {
                key: "lifecycle",
                title: TITLE,
                columns: COLUMNS.map(Label::from).to_vec(),
                rows,
                tables: vec![],
                headline,
                plots: vec![plot],
                conclusion: conclusion(&days),
                definition: DEFINITION,
            },
        })
    }
}
