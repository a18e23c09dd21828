//! The rollups every analysis reads instead of the events: per (user, date), per (date, hour),
//! per (category, date), per (user, date, item) buys, and the day bitmaps; and connection-local
//! rollups of a filtered subset of the events.

use super::StoreError;
use duckdb::Connection;

/// Rebuilds the rollups the metrics read. Each holds one row per key below, with event counts per
/// behaviour (`pv`, `fav`, `cart`, `buy`):
/// - `user_day` (user_id, event_date) plus first/last event time and last buy time;
/// - `hourly` (event_date, event_hour);
/// - `category_day` (category_id, event_date);
/// - `buy_items` (user_id, item_id, event_date) with `buys`, over buy events only;
/// - for windows of at most [`MASK_DAYS`] days, day bitmaps (bit k = active on window day k):
///   `user_days` (user_id, `active`, `pv_days`, `fav_days`, `cart_days`, `buy_days`) and
///   `item_days` (item_id, `days`, and for windows up to [`LANE_DAYS`] days `lanes`: bit 16·k + d =
///   behaviour k of pv, fav, cart, buy on window day d), which answer distinct-user and distinct-item questions for any
///   date range from one small scan;
/// - `user_seq` (user_id, ts, event_date, b = the behaviour's code 0..3, item_id, category_id): the events **stored in
///   (user_id, ts, b) order**, so the analyses that follow each user's events in time (sessions,
///   the ordered funnel) read them in that order without sorting (they check the
///   order as they read and refuse anything else).
pub fn rebuild_rollups(conn: &Connection, window_start: chrono::NaiveDate, window_end: chrono::NaiveDate) -> Result<(), StoreError> {
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TABLE user_day AS
           SELECT user_id, event_date, {COUNTS}, min(event_time) AS first_time, max(event_time) AS last_time,
                  max(event_time) FILTER (WHERE behavior_type = 'buy') AS last_buy_time
           FROM user_behavior GROUP BY user_id, event_date;
         {}",
        small_rollups("", "user_behavior")
    ))?;
    crate::domain::trace_here("rollups: user_day, hourly, category_day, buy_items");
    // Written with preserve_insertion_order on, so the rows are stored in the ORDER BY's order.
    conn.execute_batch(
        "SET preserve_insertion_order = true;
         CREATE OR REPLACE TABLE user_seq AS
           SELECT user_id, ts, event_date, enum_code(behavior_type)::UTINYINT AS b, item_id, category_id
           FROM user_behavior ORDER BY user_id, ts, b;
         SET preserve_insertion_order = false;",
    )?;
    crate::domain::trace_here("rollups: user_seq");
    if (window_end - window_start).num_days() < MASK_DAYS {
        let bit = format!("(1::UBIGINT << (event_date - {})::UBIGINT)", super::sql_date(window_start));
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TABLE user_days AS
               SELECT user_id, bit_or({bit}) AS active,
                      coalesce(bit_or({bit}) FILTER (WHERE pv > 0), 0) AS pv_days,
                      coalesce(bit_or({bit}) FILTER (WHERE fav > 0), 0) AS fav_days,
                      coalesce(bit_or({bit}) FILTER (WHERE cart > 0), 0) AS cart_days,
                      coalesce(bit_or({bit}) FILTER (WHERE buy > 0), 0) AS buy_days
               FROM user_day GROUP BY user_id;
             "
        ))?;
        crate::domain::trace_here("rollups: user_days");
        if (window_end - window_start).num_days() < LANE_DAYS {
            // One aggregate: bit 16·k + d = behaviour k (pv, fav, cart, buy) on window day d.
            let lane = format!(
                "(1::UBIGINT << (enum_code(behavior_type)::UBIGINT * {LANE_DAYS} + (event_date - {})::UBIGINT))",
                super::sql_date(window_start)
            );
            conn.execute_batch(&format!(
                "CREATE OR REPLACE TABLE item_days AS
                   SELECT item_id, (lanes | (lanes >> 16) | (lanes >> 32) | (lanes >> 48)) & 65535 AS days, lanes
                   FROM (SELECT item_id, bit_or({lane}) AS lanes FROM user_behavior GROUP BY item_id);"
            ))?;
        } else {
            conn.execute_batch(&format!(
                "CREATE OR REPLACE TABLE item_days AS SELECT item_id, bit_or({bit}) AS days FROM user_behavior GROUP BY item_id;"
            ))?;
        }
        crate::domain::trace_here("rollups: item_days");
    } else {
        conn.execute_batch("DROP TABLE IF EXISTS user_days; DROP TABLE IF EXISTS item_days;")?;
    }
    Ok(())
}

/// Event counts per behaviour, as columns `pv`, `fav`, `cart`, `buy`.
const COUNTS: &str = "count(*) FILTER (WHERE behavior_type = 'pv')::UINTEGER AS pv,
        count(*) FILTER (WHERE behavior_type = 'fav')::UINTEGER AS fav,
        count(*) FILTER (WHERE behavior_type = 'cart')::UINTEGER AS cart,
        count(*) FILTER (WHERE behavior_type = 'buy')::UINTEGER AS buy";

/// DDL for `hourly`, `category_day` and `buy_items` (names prefixed with `prefix`) from the
/// events in `source`.
fn small_rollups(prefix: &str, source: &str) -> String {
    let temp = if prefix.is_empty() { "" } else { "TEMP " };
    format!(
        "CREATE OR REPLACE {temp}TABLE {prefix}hourly AS
           SELECT event_date, event_hour, {COUNTS} FROM {source} GROUP BY event_date, event_hour;
         CREATE OR REPLACE {temp}TABLE {prefix}category_day AS
           SELECT category_id, event_date, {COUNTS} FROM {source} GROUP BY category_id, event_date;
         CREATE OR REPLACE {temp}TABLE {prefix}buy_items AS
           SELECT user_id, item_id, event_date, count(*)::UINTEGER AS buys
           FROM {source} WHERE behavior_type = 'buy' GROUP BY user_id, item_id, event_date;"
    )
}

/// Builds connection-local (TEMP, so allowed on a read-only connection) copies of the rollups
/// over the events matching `predicate` (an SQL condition on `user_behavior`):
/// `f_events`, `f_user_day`, `f_hourly`, `f_category_day`, `f_buy_items`, with the same columns
/// and meaning as the stored ones. Used for category filters, which the stored rollups cannot answer.
pub fn filtered_rollups(conn: &Connection, predicate: &str) -> Result<(), StoreError> {
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE f_events AS
           SELECT user_id, item_id, category_id, behavior_type, ts, event_date, event_hour FROM user_behavior WHERE {predicate};
         CREATE OR REPLACE TEMP TABLE f_user_day AS
           SELECT user_id, event_date, {COUNTS} FROM f_events GROUP BY user_id, event_date;
         {}",
        small_rollups("f_", "f_events")
    ))?;
    Ok(())
}

/// Longest window (days) for which `item_days` also keeps per-behaviour days (`lanes`).
pub const LANE_DAYS: i64 = 16;

/// Longest window (days) for which the day-bitmap rollups are kept.
pub const MASK_DAYS: i64 = 64;
