//! The lists behind the numbers, for `ecomm export`: every row is one the analyses count, for the
//! same range and filter.
//!
//! - `events`: the cleaned events of the range and filter, in the canonical columns
//!   `user_id, item_id, category_id, behavior_type, timestamp` (Unix seconds), so an export
//!   ingests back as it is (tested: the same analysis).
//! - `users`: the buyers of the range and filter with their RFM columns, exactly the rows the RFM
//!   analysis counts (`user_id, recency_days, frequency, monetary, r_score, f_score, m_score,
//!   segment`), and the CLV columns of `user_summary` (`p_alive, exp_purchases_7d,
//!   exp_purchases_30d`: fitted over the whole window), optionally only one segment and/or a
//!   minimum P(alive). Ordered by user.
//! - `rejects`: every rejected row of every ingest (`ingest_id, reason, file, line, raw`, as the
//!   rejects file), whatever the range and filter.

use super::rfm::per_buyer_sql_from;
use super::source::Ctx;
use super::MetricsError;
use crate::store::sql_date;
use duckdb::arrow::record_batch::RecordBatch;

/// What to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    /// The events.
    Events,
    /// The buyers with their RFM and CLV columns.
    Users,
    /// The rejected rows.
    Rejects,
}

/// Narrowing of the user list.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Only this RFM segment (`champions`, `loyal`, `potential`, `at_risk`, `hibernating`).
    pub segment: Option<String>,
    /// Only users with at least this P(alive).
    pub min_p_alive: Option<f64>,
}

/// The RFM segments' keys.
pub const SEGMENTS: [&str; 5] = ["champions", "loyal", "potential", "at_risk", "hibernating"];

/// The SQL of a list.
pub fn sql(ctx: &Ctx<'_>, list: List, users: &UserFilter) -> String {
    let (from, to) = (sql_date(ctx.range.from), sql_date(ctx.range.to));
    match list {
        List::Events => format!(
            "SELECT user_id, item_id, category_id, behavior_type::VARCHAR AS behavior_type, ts AS timestamp
             FROM {} WHERE event_date BETWEEN {from} AND {to}",
            ctx.src.events
        ),
        List::Users => {
            let mut cond = Vec::new();
            if let Some(s) = &users.segment {
                cond.push(format!("p.segment = '{}'", s.replace('\'', "''")));
            }
            if let Some(p) = users.min_p_alive {
                cond.push(format!("s.p_alive >= {p}"));
            }
            let cond = if cond.is_empty() { String::new() } else { format!("WHERE {}", cond.join(" AND ")) };
            format!(
                "SELECT p.user_id, p.recency AS recency_days, p.frequency, p.monetary, p.r_score::UTINYINT AS r_score,
                        p.f_score::UTINYINT AS f_score, p.m_score::UTINYINT AS m_score, p.segment,
                        s.p_alive, s.exp_purchases_7d, s.exp_purchases_30d
                 FROM ({}) p LEFT JOIN user_summary s USING (user_id) {cond} ORDER BY p.user_id",
                per_buyer_sql_from(&ctx.src.buy_items, ctx.range.from, ctx.range.to)
            )
        }
        List::Rejects => "SELECT ingest_id, reason, file, line, raw FROM rejects ORDER BY ingest_id, file, line".into(),
    }
}

/// Streams a list as Arrow batches to `each`; returns the rows.
pub fn stream(
    ctx: &Ctx<'_>,
    list: List,
    users: &UserFilter,
    each: &mut dyn FnMut(&RecordBatch) -> Result<(), String>,
) -> Result<u64, MetricsError> {
    let mut st = ctx.conn.prepare(&sql(ctx, list, users))?;
    let (mut rows, mut batches) = (0u64, 0u64);
    let arrow = st.query_arrow([])?;
    let schema = arrow.get_schema();
    for b in arrow {
        rows += b.num_rows() as u64;
        batches += 1;
        each(&b).map_err(MetricsError::Output)?;
    }
    // An empty list still has its columns (a CSV its header, a workbook its header row).
    if batches == 0 {
        each(&RecordBatch::new_empty(schema)).map_err(MetricsError::Output)?;
    }
    Ok(rows)
}
