//! The rejects file beside the DB (`<db>.rejects.csv`): every rejected row with its reason, kept
//! in step with the `rejects` table.

use super::{sql_str, StoreError};
use duckdb::Connection;

/// Brings the rejects CSV up to date with the `rejects` table (the truth) when it lags: when it is
/// missing while the table has rows, or its data lines differ in number from the table's rows (a kill between an ingest's
/// commit and its export leaves it behind). Returns whether it was rewritten.
pub fn sync_rejects_file(conn: &Connection, path: &std::path::Path) -> Result<bool, StoreError> {
    let n: i64 = conn.query_row("SELECT count(*) FROM rejects", [], |r| r.get(0))?;
    let lines = match std::fs::File::open(path) {
        Ok(f) => {
            use std::io::Read;
            let (mut lines, mut buf, mut r) = (0u64, vec![0u8; 1 << 16], std::io::BufReader::new(f));
            loop {
                let k = r.read(&mut buf).map_err(|e| StoreError::Io(format!("cannot read {}: {e}", path.display())))?;
                if k == 0 {
                    break;
                }
                lines += memchr::memchr_iter(b'\n', &buf[..k]).count() as u64;
            }
            Some(lines)
        }
        Err(_) => None,
    };
    // In step: as many data lines as rows (a missing file holds nothing to lose when there are none).
    if lines.map_or(n == 0, |l| l == n as u64 + 1) {
        return Ok(false);
    }
    export_rejects(conn, path)?;
    Ok(true)
}

/// Rewrites the rejects CSV from the `rejects` table (write to a temp file, then rename).
pub fn export_rejects(conn: &Connection, path: &std::path::Path) -> Result<u64, StoreError> {
    let tmp = path.with_extension("csv.tmp");
    let n: i64 = conn.query_row("SELECT count(*) FROM rejects", [], |r| r.get(0))?;
    conn.execute_batch(&format!(
        "COPY (SELECT ingest_id, reason, file, line, raw FROM rejects ORDER BY ingest_id, file, line) TO {} (HEADER, DELIMITER ',')",
        sql_str(&tmp.to_string_lossy())
    ))?;
    std::fs::rename(&tmp, path).map_err(|e| StoreError::Io(format!("cannot write {}: {e}", path.display())))?;
    Ok(n as u64)
}
