//! Per-user sums that several analyses share (totals, funnel, repurchase, KPIs): distinct users,
//! users and events per behaviour, and users with two or more buys, computed in one pass.

use super::source::{u, Ctx};
use super::MetricsError;
use crate::domain::trace_here;

/// The shared sums over the range and filter.
pub struct Sums {
    /// Distinct users with a kept event.
    pub users: u64,
    /// Distinct users per behaviour (pv, fav, cart, buy).
    pub stage_users: [u64; 4],
    /// Events per behaviour (pv, fav, cart, buy).
    pub stage_events: [u64; 4],
    /// Users with ≥2 buy events.
    pub repeat_buyers: u64,
}

impl Sums {
    /// One pass over the day bitmaps (when they exist) or the per-(user, date) rollup.
    pub fn compute(ctx: &Ctx<'_>) -> Result<Sums, MetricsError> {
        let (conn, between) = (ctx.conn, &ctx.between);
        let (user_day, hourly_t, buy_items) = (&ctx.src.user_day, &ctx.src.hourly, &ctx.src.buy_items);
        let (users, pv_u, fav_u, cart_u, buy_u, repeat, pv, fav, cart, buy): (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) =
            if let Some(b) = &ctx.src.bitmaps {
                let m = b.mask;
                let (users, pv_u, fav_u, cart_u, buy_u): (i64, i64, i64, i64, i64) = conn.query_row(
                    &format!(
                        "SELECT count(*) FILTER (WHERE active & {m} <> 0), count(*) FILTER (WHERE pv_days & {m} <> 0),
                            count(*) FILTER (WHERE fav_days & {m} <> 0), count(*) FILTER (WHERE cart_days & {m} <> 0),
                            count(*) FILTER (WHERE buy_days & {m} <> 0)
                     FROM {}",
                        b.user_days
                    ),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )?;
                let repeat: i64 = conn.query_row(
                    &format!(
                        "SELECT count(*) FROM (SELECT user_id FROM {buy_items} WHERE {between} GROUP BY user_id HAVING sum(buys) >= 2)"
                    ),
                    [],
                    |r| r.get(0),
                )?;
                let (pv, fav, cart, buy): (i64, i64, i64, i64) = conn.query_row(
                    &format!(
                        "SELECT coalesce(sum(pv), 0)::BIGINT, coalesce(sum(fav), 0)::BIGINT, coalesce(sum(cart), 0)::BIGINT, coalesce(sum(buy), 0)::BIGINT
                     FROM {hourly_t} WHERE {between}"
                    ),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?;
                (users, pv_u, fav_u, cart_u, buy_u, repeat, pv, fav, cart, buy)
            } else {
                conn.query_row(
                    &format!(
                        "WITH u AS (SELECT user_id, sum(pv) AS pv, sum(fav) AS fav, sum(cart) AS cart, sum(buy) AS buy
                                FROM {user_day} WHERE {between} GROUP BY user_id)
                     SELECT count(*), count(*) FILTER (WHERE pv > 0), count(*) FILTER (WHERE fav > 0),
                            count(*) FILTER (WHERE cart > 0), count(*) FILTER (WHERE buy > 0), count(*) FILTER (WHERE buy >= 2),
                            coalesce(sum(pv), 0)::BIGINT, coalesce(sum(fav), 0)::BIGINT, coalesce(sum(cart), 0)::BIGINT, coalesce(sum(buy), 0)::BIGINT
                     FROM u"
                    ),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?)),
                )?
            };
        trace_here("metrics: per-user sums");
        Ok(Sums {
            users: u(users),
            stage_users: [u(pv_u), u(fav_u), u(cart_u), u(buy_u)],
            stage_events: [u(pv), u(fav), u(cart), u(buy)],
            repeat_buyers: u(repeat),
        })
    }
}
