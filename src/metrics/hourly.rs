//! **hourly**: for each local hour 0–23 (in the DB's time zone), events per behaviour.

use super::source::{u, Ctx};
use super::MetricsError;
use serde::Serialize;

/// Events per behaviour in one local hour.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Hour {
    /// 0–23.
    pub hour: u32,
    /// Events.
    pub pv: u64,
    /// Events.
    pub fav: u64,
    /// Events.
    pub cart: u64,
    /// Events.
    pub buy: u64,
}

/// The 24 hours (hours without events are 0).
pub fn compute(ctx: &Ctx<'_>) -> Result<Vec<Hour>, MetricsError> {
    let mut hourly: Vec<Hour> = (0..24).map(|h| Hour { hour: h, pv: 0, fav: 0, cart: 0, buy: 0 }).collect();
    let mut st = ctx.conn.prepare(&format!(
        "SELECT event_hour, sum(pv)::BIGINT, sum(fav)::BIGINT, sum(cart)::BIGINT, sum(buy)::BIGINT FROM {} WHERE {} GROUP BY event_hour",
        ctx.src.hourly, ctx.between
    ))?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, i64>(4)?)))?;
    for row in rows {
        let (h, a, b, c, d) = row?;
        hourly[h as usize] = Hour { hour: h as u32, pv: u(a), fav: u(b), cart: u(c), buy: u(d) };
    }
    Ok(hourly)
}
