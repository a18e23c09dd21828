//! The SQL side of an ingest: staging, cleaning rules 4–5, the load itself and the rollups.
//!
//! Everything between [`Loader::begin`] and [`Loader::commit`] is one DuckDB transaction, so an
//! ingest that is killed midway leaves the file exactly as it was.

use super::{sql_str, StoreError};
use crate::ingest::parse::{Parsed, Reason};
use duckdb::arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray, UInt64Array, UInt8Array};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::Connection;
use std::collections::HashMap;
use std::sync::Arc;

/// Per-file counts of rules 4–5.
#[derive(Clone, Debug, Default)]
pub struct FileCounts {
    /// Rows outside the window.
    pub out_of_window: u64,
    /// Duplicates of earlier rows.
    pub duplicate: u64,
}

/// One file's entry in the ingest log.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// Path as given.
    pub file: String,
    /// xxh3-128 of the file's bytes (hex).
    pub content_hash: String,
    /// Size and hash of the first MiB (for a fast "already ingested?" check).
    pub quick_key: String,
    /// Size on disk.
    pub bytes: u64,
    /// `loaded` or `skipped` (content already ingested).
    pub status: String,
    /// Rows read.
    pub rows_read: u64,
    /// Rows loaded.
    pub rows_loaded: u64,
    /// Rejects by reason, in [`Reason::ALL`] order.
    pub rejected: [u64; 4],
}

/// An open ingest transaction.
pub struct Loader<'c> {
    conn: &'c Connection,
    done: bool,
}

impl<'c> Loader<'c> {
    /// Starts the transaction and creates the staging tables. With `replace`, the DB's data is
    /// dropped first (inside the same transaction).
    pub fn begin(conn: &'c Connection, replace: bool) -> Result<Self, StoreError> {
        conn.execute_batch("BEGIN TRANSACTION")?;
        let l = Loader { conn, done: false };
        if replace {
            conn.execute_batch(
                "DELETE FROM user_behavior; DELETE FROM ingest_log; DELETE FROM rejects;
                 DELETE FROM ecomm_meta WHERE key IN ('window_start', 'window_end', 'timezone');",
            )?;
            super::meta_set(conn, "generation", &super::new_generation())?;
        }
        conn.execute_batch(
            "CREATE TEMP TABLE _stage (file_id INTEGER, line UBIGINT, user_id BIGINT, item_id BIGINT, category_id BIGINT,
                                       behavior UTINYINT, ts BIGINT, lts BIGINT, h UBIGINT, raw VARCHAR);
             CREATE TEMP TABLE _rej (file_id INTEGER, line UBIGINT, reason VARCHAR, raw VARCHAR);
             CREATE TEMP TABLE _files (file_id INTEGER, path VARCHAR);",
        )?;
        Ok(l)
    }

    /// The connection (for reads inside the transaction).
    pub fn conn(&self) -> &Connection {
        self.conn
    }

    /// Registers an input file under `file_id`.
    pub fn add_file(&self, file_id: i32, path: &str) -> Result<(), StoreError> {
        self.conn.execute("INSERT INTO _files VALUES (?, ?)", duckdb::params![file_id, path])?;
        Ok(())
    }

    /// Appends parsed blocks to the staging tables (Arrow → DuckDB, column-wise).
    pub fn append(&self, stage: &mut duckdb::Appender<'_>, rej: &mut duckdb::Appender<'_>, p: Parsed) -> Result<(), StoreError> {
        let n = p.line.len();
        if n > 0 {
            let cols: Vec<ArrayRef> = vec![
                Arc::new(Int32Array::from(vec![p.file_id; n])),
                Arc::new(UInt64Array::from(p.line)),
                Arc::new(Int64Array::from(p.user)),
                Arc::new(Int64Array::from(p.item)),
                Arc::new(Int64Array::from(p.cat)),
                Arc::new(UInt8Array::from(p.beh)),
                Arc::new(Int64Array::from(p.ts)),
                Arc::new(Int64Array::from(p.lts)),
                Arc::new(UInt64Array::from(p.hash)),
                Arc::new(StringArray::from(p.raw)),
            ];
            stage.append_record_batch(RecordBatch::try_from_iter(STAGE_COLS.iter().zip(cols)).expect("stage batch"))?;
        }
        let m = p.rej_line.len();
        if m > 0 {
            let cols: Vec<ArrayRef> = vec![
                Arc::new(Int32Array::from(vec![p.file_id; m])),
                Arc::new(UInt64Array::from(p.rej_line)),
                Arc::new(StringArray::from(p.rej_reason.iter().map(|r| r.as_str()).collect::<Vec<_>>())),
                Arc::new(StringArray::from(p.rej_raw)),
            ];
            rej.append_record_batch(RecordBatch::try_from_iter(["file_id", "line", "reason", "raw"].iter().zip(cols)).expect("rej batch"))?;
        }
        Ok(())
    }

    /// Appenders for the two staging tables.
    pub fn appenders(&self) -> Result<(duckdb::Appender<'c>, duckdb::Appender<'c>), StoreError> {
        Ok((self.conn.appender_to_catalog_and_db("_stage", "temp", "main")?, self.conn.appender_to_catalog_and_db("_rej", "temp", "main")?))
    }

    /// Rows per local day (days since 1970-01-01) among staged valid rows: the input of window detection.
    pub fn day_histogram(&self) -> Result<Vec<(i64, u64)>, StoreError> {
        let mut st = self.conn.prepare("SELECT (lts // 86400) AS d, count(*) FROM _stage GROUP BY d ORDER BY d")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Applies rules 4 (window `[start_utc, end_utc)`) and 5 (duplicates, against this batch and
    /// every row already loaded), then loads the surviving rows as `ingest_id`.
    /// Returns the per-file counts of rules 4–5.
    pub fn merge(&self, ingest_id: u32, start_utc: i64, end_utc: i64) -> Result<HashMap<i32, FileCounts>, StoreError> {
        let c = self.conn;
        let win = format!("ts >= {start_utc} AND ts < {end_utc}");
        let swin = format!("s.ts >= {start_utc} AND s.ts < {end_utc}");
        let existing: i64 = c.query_row("SELECT count(*) FROM (SELECT 1 FROM user_behavior LIMIT 1)", [], |r| r.get(0))?;
        // Rule 5 within the batch: rows that share their hash with another in-window row are
        // candidates; among candidates with equal values, all but the first (by file, line) are duplicates.
        c.execute_batch(&format!(
            "CREATE TEMP TABLE _dup AS
             WITH cand AS (SELECT h FROM _stage WHERE {win} GROUP BY h HAVING count(*) > 1)
             SELECT file_id, line FROM (
                 SELECT file_id, line, row_number() OVER (PARTITION BY user_id, item_id, category_id, behavior, ts ORDER BY file_id, line) AS rn
                 FROM _stage WHERE {win} AND h IN (SELECT h FROM cand))
             WHERE rn > 1;"
        ))?;
        if existing > 0 {
            // Rule 5 against earlier ingests.
            c.execute_batch(&format!(
                "INSERT INTO _dup
                 SELECT DISTINCT s.file_id, s.line
                 FROM _stage s JOIN user_behavior u
                   ON u.user_id = s.user_id AND u.item_id = s.item_id AND u.category_id = s.category_id
                  AND u.ts = s.ts AND enum_code(u.behavior_type) = s.behavior
                 WHERE {swin}
                 EXCEPT SELECT file_id, line FROM _dup;"
            ))?;
        }
        c.execute_batch(&format!(
            "INSERT INTO user_behavior
             SELECT user_id, item_id, category_id, CAST(['pv','fav','cart','buy'][behavior + 1] AS behavior_t), ts,
                    make_timestamp(lts * 1000000), CAST(DATE '1970-01-01' + CAST(lts // 86400 AS INTEGER) AS DATE),
                    CAST((lts % 86400 + 86400) % 86400 // 3600 AS UTINYINT), {ingest_id}
             FROM _stage s ANTI JOIN _dup d ON s.file_id = d.file_id AND s.line = d.line
             WHERE {swin};
             INSERT INTO rejects
             SELECT {ingest_id}, reason, f.path, line, raw FROM (
                 SELECT file_id, line, reason, raw FROM _rej
                 UNION ALL
                 SELECT file_id, line, 'out_of_window', coalesce(raw, concat_ws(',', user_id, item_id, category_id, ['pv','fav','cart','buy'][behavior + 1], ts))
                 FROM _stage WHERE NOT ({win})
                 UNION ALL
                 SELECT s.file_id, s.line, 'duplicate', coalesce(raw, concat_ws(',', user_id, item_id, category_id, ['pv','fav','cart','buy'][behavior + 1], ts))
                 FROM _stage s SEMI JOIN _dup d ON s.file_id = d.file_id AND s.line = d.line
             ) r JOIN _files f USING (file_id);"
        ))?;
        let mut out: HashMap<i32, FileCounts> = HashMap::new();
        let mut st = c.prepare(&format!(
            "SELECT file_id, count(*) FILTER (WHERE NOT ({win}))::BIGINT,
                    (SELECT count(*) FROM _dup d WHERE d.file_id = s.file_id)::BIGINT
             FROM _stage s GROUP BY file_id"
        ))?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i32>(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64)))?;
        for row in rows {
            let (fid, oow, dup) = row?;
            out.insert(fid, FileCounts { out_of_window: oow, duplicate: dup });
        }
        Ok(out)
    }

    /// Writes the ingest log rows.
    pub fn log(&self, ingest_id: u32, entries: &[LogEntry], options: &str, started: &str, finished: &str) -> Result<(), StoreError> {
        let mut st = self.conn.prepare("INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")?;
        for e in entries {
            st.execute(duckdb::params![
                ingest_id,
                e.file,
                e.content_hash,
                e.quick_key,
                e.bytes,
                e.status,
                e.rows_read,
                e.rows_loaded,
                e.rejected[0],
                e.rejected[1],
                e.rejected[2],
                e.rejected[3],
                options,
                started,
                finished
            ])?;
        }
        Ok(())
    }

    /// Drops the staging tables and commits.
    pub fn commit(mut self) -> Result<(), StoreError> {
        self.conn.execute_batch(
            "DROP TABLE IF EXISTS _stage; DROP TABLE IF EXISTS _rej; DROP TABLE IF EXISTS _files; DROP TABLE IF EXISTS _dup; COMMIT;",
        )?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Loader<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

const STAGE_COLS: [&str; 10] = ["file_id", "line", "user_id", "item_id", "category_id", "behavior", "ts", "lts", "h", "raw"];

/// The next ingest id.
pub fn next_ingest_id(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn.query_row("SELECT coalesce(max(ingest_id), 0) + 1 FROM ingest_log", [], |r| r.get(0))?;
    Ok(v as u32)
}

/// Files already in the log, by quick key: (content hash, first path).
pub fn known_files(conn: &Connection) -> Result<HashMap<String, (String, String)>, StoreError> {
    let mut st = conn.prepare("SELECT quick_key, content_hash, min(file) FROM ingest_log GROUP BY ALL")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get::<_, String>(1)?, r.get::<_, String>(2)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Rebuilds the rollups the metrics read. Each holds one row per key below, with event counts per
/// behaviour (`pv`, `fav`, `cart`, `buy`):
/// - `user_day` (user_id, event_date) plus first/last event time and last buy time;
/// - `hourly` (event_date, event_hour);
/// - `category_day` (category_id, event_date);
/// - `buy_items` (user_id, item_id, event_date) with `buys`, over buy events only.
pub fn rebuild_rollups(conn: &Connection) -> Result<(), StoreError> {
    const COUNTS: &str = "count(*) FILTER (WHERE behavior_type = 'pv')::UINTEGER AS pv,
        count(*) FILTER (WHERE behavior_type = 'fav')::UINTEGER AS fav,
        count(*) FILTER (WHERE behavior_type = 'cart')::UINTEGER AS cart,
        count(*) FILTER (WHERE behavior_type = 'buy')::UINTEGER AS buy";
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TABLE user_day AS
           SELECT user_id, event_date, {COUNTS}, min(event_time) AS first_time, max(event_time) AS last_time,
                  max(event_time) FILTER (WHERE behavior_type = 'buy') AS last_buy_time
           FROM user_behavior GROUP BY user_id, event_date;
         CREATE OR REPLACE TABLE hourly AS
           SELECT event_date, event_hour, {COUNTS} FROM user_behavior GROUP BY event_date, event_hour;
         CREATE OR REPLACE TABLE category_day AS
           SELECT category_id, event_date, {COUNTS} FROM user_behavior GROUP BY category_id, event_date;
         CREATE OR REPLACE TABLE buy_items AS
           SELECT user_id, item_id, event_date, count(*)::UINTEGER AS buys
           FROM user_behavior WHERE behavior_type = 'buy' GROUP BY user_id, item_id, event_date;"
    ))?;
    Ok(())
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

/// Reasons in the order of [`Reason::ALL`], for callers that index counts.
pub fn reason_index(r: Reason) -> usize {
    Reason::ALL.iter().position(|x| *x == r).expect("reason")
}
