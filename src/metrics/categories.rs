//! **top_categories**: the 10 categories with the most buy events (ties: smaller category_id),
//! among categories with at least one buy.

use super::source::{u, Ctx};
use super::MetricsError;
use serde::Serialize;

/// A top category.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Category {
    /// The category.
    pub category_id: i64,
    /// Buy events.
    pub buys: u64,
}

/// Up to 10 categories, most buys first.
pub fn compute(ctx: &Ctx<'_>) -> Result<Vec<Category>, MetricsError> {
    let mut st = ctx.conn.prepare(&format!(
        "SELECT category_id, sum(buy)::BIGINT AS buys FROM {} WHERE {}
         GROUP BY category_id HAVING sum(buy) > 0 ORDER BY buys DESC, category_id ASC LIMIT 10",
        ctx.src.category_day, ctx.between
    ))?;
    let rows = st.query_map([], |r| Ok(Category { category_id: r.get(0)?, buys: u(r.get(1)?) }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
