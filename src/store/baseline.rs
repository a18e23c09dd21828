//! What an analyst who knows DuckDB would do by hand, for `ecomm bench` to compare against: a
//! bare scan of the CSV, and the CSV written as it is into a table of a new DuckDB file.

use super::{sql_str, StoreError};
use std::path::Path;

/// DuckDB's scan of the CSV with the five UserBehavior columns.
pub fn read_csv(csv: &Path) -> String {
    format!(
        "read_csv({}, header = false, delim = ',', ignore_errors = true, columns = {{'user_id': 'BIGINT', 'item_id': 'BIGINT', 'category_id': 'BIGINT', 'behavior_type': 'VARCHAR', 'ts': 'BIGINT'}})",
        sql_str(&csv.to_string_lossy())
    )
}

/// Rows in the CSV by DuckDB's bare scan (the floor any ingest has to pay).
pub fn count_csv(csv: &Path) -> Result<i64, StoreError> {
    let conn = duckdb::Connection::open_in_memory()?;
    Ok(conn.query_row(&format!("SELECT count(*) FROM {}", read_csv(csv)), [], |r| r.get(0))?)
}

/// The CSV scanned into table `t` of a new DuckDB file at `db`, then checkpointed (no cleaning, no
/// duplicate check, no rollups).
pub fn bare_load(csv: &Path, db: &Path) -> Result<(), StoreError> {
    let conn = duckdb::Connection::open(db)?;
    conn.execute_batch(&format!("CREATE TABLE t AS SELECT * FROM {}; CHECKPOINT;", read_csv(csv)))?;
    Ok(())
}
