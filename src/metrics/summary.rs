//! `user_summary`: one row per user over the whole window.
//!
//! Columns: `pv`, `fav`, `cart`, `buy` (event counts), `first_event_at`, `last_event_at`,
//! `last_buy_at` (local time), `active_days` (dates with any event), `distinct_items` (items
//! with any event), and the RFM columns from [`super::rfm::per_buyer_sql`] over the window:
//! `recency_days`, `frequency`, `monetary`, `r_score`, `f_score`, `m_score`, `segment`
//! (NULL for users who never bought), and the BG/NBD forecast of [`super::clv`] over the window:
//! `p_alive`, `exp_purchases_7d`, `exp_purchases_30d` (NULL for users who never bought, and for
//! everyone when there is nothing to fit).

use super::rfm::per_buyer_sql;
use crate::store::StoreError;
use chrono::NaiveDate;
use duckdb::Connection;

/// Rebuilds `user_summary` from `user_behavior` and the rollups.
pub fn rebuild_user_summary(conn: &Connection, start: NaiveDate, end: NaiveDate) -> Result<(), StoreError> {
    let rfm = per_buyer_sql(start, end);
    // In steps, so that each one can spill to disk within the memory limit at 100 M rows (the
    // distinct items first: the heaviest, with nothing else held). Up to SMALL rows,
    // count(DISTINCT) per user in one go; beyond, in slices of users (user_id modulo a number that
    // keeps each slice's distinct (user, item) pairs under SMALL rows' worth): one DISTINCT over 100 M
    // rows ran out of DuckDB's memory inside the ingest's transaction, even on one thread.
    // `ECOMM_SUMMARY_SLICE_ROWS` sets the slice size (a test slices a small DB with it).
    const SMALL: i64 = 15_000_000;
    let small: i64 = std::env::var("ECOMM_SUMMARY_SLICE_ROWS").ok().and_then(|v| v.parse().ok()).filter(|v| *v > 0).unwrap_or(SMALL);
    let rows: i64 = conn.query_row("SELECT count(*) FROM user_behavior", [], |r| r.get(0))?;
    let slices = (rows + small - 1) / small;
    conn.execute_batch("CREATE OR REPLACE TEMP TABLE _sum_items (user_id BIGINT, distinct_items BIGINT);")?;
    for k in 0..slices.max(1) {
        let slice = if slices > 1 { format!("WHERE (user_id % {slices} + {slices}) % {slices} = {k}") } else { String::new() };
        conn.execute_batch(&format!(
            "INSERT INTO _sum_items SELECT user_id, count(DISTINCT item_id)::BIGINT FROM user_behavior {slice} GROUP BY user_id;"
        ))?;
    }
    crate::domain::trace_here("user_summary: distinct items");
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE _sum_rfm AS {rfm};
         CREATE OR REPLACE TEMP TABLE _sum_days AS
           SELECT user_id, sum(pv)::BIGINT AS pv, sum(fav)::BIGINT AS fav, sum(cart)::BIGINT AS cart, sum(buy)::BIGINT AS buy,
                  min(first_time) AS first_event_at, max(last_time) AS last_event_at, max(last_buy_time) AS last_buy_at,
                  count(*)::BIGINT AS active_days
           FROM user_day GROUP BY user_id;"
    ))?;
    crate::domain::trace_here("user_summary: RFM and days");
    super::clv::prepare(conn, "user_day", start, end)?;
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE _sum_clv AS
           SELECT user_id, p_alive, exp_7d, exp_30d FROM _clv_buyers JOIN _clv_values USING (x, t_x, big_t);",
    )?;
    super::clv::cleanup(conn)?;
    crate::domain::trace_here("user_summary: the BG/NBD fit");
    conn.execute_batch(
        "CREATE OR REPLACE TABLE user_summary AS
         SELECT d.user_id, d.pv, d.fav, d.cart, d.buy, d.first_event_at, d.last_event_at, d.last_buy_at, d.active_days,
                i.distinct_items, r.recency AS recency_days, r.frequency, r.monetary,
                r.r_score::UTINYINT AS r_score, r.f_score::UTINYINT AS f_score, r.m_score::UTINYINT AS m_score, r.segment,
                c.p_alive, c.exp_7d AS exp_purchases_7d, c.exp_30d AS exp_purchases_30d
         FROM _sum_days d JOIN _sum_items i USING (user_id) LEFT JOIN _sum_rfm r USING (user_id) LEFT JOIN _sum_clv c USING (user_id)
         ORDER BY d.user_id;
         DROP TABLE _sum_items; DROP TABLE _sum_rfm; DROP TABLE _sum_days; DROP TABLE _sum_clv;",
    )?;
    Ok(())
}
