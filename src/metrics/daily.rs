//! **daily**: for each date of the range, distinct active users and events per behaviour.

use super::source::{u, Ctx};
use super::MetricsError;
use crate::domain::parse_date;
use chrono::NaiveDate;
use serde::Serialize;

/// One date.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Day {
    /// The date.
    pub date: NaiveDate,
    /// Distinct active users.
    pub users: u64,
    /// Events.
    pub pv: u64,
    /// Events.
    pub fav: u64,
    /// Events.
    pub cart: u64,
    /// Events.
    pub buy: u64,
}

/// One row per date of the range; `per_day` (from the bitmaps, see [`Ctx::per_day`]) gives the
/// active users when present.
pub fn compute(ctx: &Ctx<'_>, per_day: Option<&[(u64, u64)]>) -> Result<Vec<Day>, MetricsError> {
    let range = ctx.range;
    let mut daily: Vec<Day> = range.dates().map(|d| Day { date: d, users: 0, pv: 0, fav: 0, cart: 0, buy: 0 }).collect();
    let sql = if per_day.is_some() {
        format!(
            "SELECT event_date::VARCHAR, 0::BIGINT, sum(pv)::BIGINT, sum(fav)::BIGINT, sum(cart)::BIGINT, sum(buy)::BIGINT
             FROM {} WHERE {} GROUP BY event_date",
            ctx.src.hourly, ctx.between
        )
    } else {
        format!(
            "SELECT event_date::VARCHAR, count(*), sum(pv)::BIGINT, sum(fav)::BIGINT, sum(cart)::BIGINT, sum(buy)::BIGINT
             FROM {} WHERE {} GROUP BY event_date",
            ctx.src.user_day, ctx.between
        )
    };
    let mut st = ctx.conn.prepare(&sql)?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    for row in rows {
        let (ds, n, a, b, c, d) = row?;
        let date: NaiveDate = parse_date(&ds).expect("DuckDB date");
        let i = (date - range.from).num_days() as usize;
        daily[i] = Day { date, users: u(n), pv: u(a), fav: u(b), cart: u(c), buy: u(d) };
    }
    if let Some(pd) = per_day {
        for (i, d) in daily.iter_mut().enumerate() {
            d.users = pd[i].0;
        }
    }
    Ok(daily)
}
