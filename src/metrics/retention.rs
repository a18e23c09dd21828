//! **retention** (day 1): for each date d of the range except the last, `cohort` = users active
//! on d and `retained` = those of them also active on d+1. Average day-1 retention (see
//! [`super::kpis`]) = mean of `retained / cohort` over dates with a non-empty cohort.

use super::source::{ratio, u, Ctx};
use super::MetricsError;
use crate::domain::parse_date;
use crate::store::sql_date;
use chrono::NaiveDate;
use serde::Serialize;

/// Day-1 retention of one date.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Retention {
    /// The cohort's date.
    pub date: NaiveDate,
    /// Users active on the date.
    pub cohort: u64,
    /// Of them, users active the next day.
    pub retained: u64,
    /// retained / cohort.
    pub rate: f64,
}

/// One row per date but the last; `per_day` (from the bitmaps) when present, else a self-join
/// of the per-(user, date) rollup.
pub fn compute(ctx: &Ctx<'_>, per_day: Option<&[(u64, u64)]>) -> Result<Vec<Retention>, MetricsError> {
    let range = ctx.range;
    let mut retention: Vec<Retention> =
        range.dates().filter(|d| *d < range.to).map(|d| Retention { date: d, cohort: 0, retained: 0, rate: 0.0 }).collect();
    if let Some(pd) = per_day {
        for (i, r) in retention.iter_mut().enumerate() {
            let (c, k) = (pd[i].0, pd[i].1);
            *r = Retention { date: r.date, cohort: c, retained: k, rate: ratio(k, c) };
        }
        return Ok(retention);
    }
    let (f, t, user_day) = (sql_date(range.from), sql_date(range.to), &ctx.src.user_day);
    let mut st = ctx.conn.prepare(&format!(
        "SELECT a.event_date::VARCHAR, count(*), count(b.user_id)
         FROM {user_day} a LEFT JOIN {user_day} b ON b.user_id = a.user_id AND b.event_date = a.event_date + 1
         WHERE a.event_date BETWEEN {f} AND {t} - 1
         GROUP BY a.event_date"
    ))?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
    for row in rows {
        let (ds, c, k) = row?;
        let date: NaiveDate = parse_date(&ds).expect("DuckDB date");
        let i = (date - range.from).num_days() as usize;
        retention[i] = Retention { date, cohort: u(c), retained: u(k), rate: ratio(u(k), u(c)) };
    }
    Ok(retention)
}
