//! **totals**: events; distinct users, items and categories with any (kept) event in the range.

use super::source::{u, Ctx};
use super::sums::Sums;
use super::MetricsError;
use crate::domain::trace_here;
use serde::Serialize;

/// Totals.
#[derive(Clone, Debug, Serialize, Default, PartialEq)]
pub struct Totals {
    /// Events.
    pub events: u64,
    /// Distinct users.
    pub users: u64,
    /// Distinct items.
    pub items: u64,
    /// Distinct categories.
    pub categories: u64,
}

/// Computes the totals (users and events from the shared sums).
pub fn compute(ctx: &Ctx<'_>, sums: &Sums) -> Result<Totals, MetricsError> {
    let (conn, between) = (ctx.conn, &ctx.between);
    let items: i64 = match &ctx.src.bitmaps {
        Some(b) => conn.query_row(&format!("SELECT count(*) FROM {} WHERE days & {} <> 0", b.item_days, b.mask), [], |r| r.get(0))?,
        None => conn.query_row(&format!("SELECT count(DISTINCT item_id) FROM {} WHERE {between}", ctx.src.events), [], |r| r.get(0))?,
    };
    let categories: i64 =
        conn.query_row(&format!("SELECT count(DISTINCT category_id) FROM {} WHERE {between}", ctx.src.category_day), [], |r| r.get(0))?;
    trace_here("metrics: distinct items and categories");
    Ok(Totals { events: sums.stage_events.iter().sum(), users: sums.users, items: u(items), categories: u(categories) })
}
