//! The SQL side of an ingest: staging, cleaning rules 4–5, the load itself and the rollups.
//!
//! Everything between [`Loader::begin`] and [`Loader::commit`] is one DuckDB transaction, so an
//! ingest that is killed midway leaves the file exactly as it was.

use super::append::Appenders;
use super::StoreError;
use crate::domain::rows::Reason;
use duckdb::Connection;
use std::collections::HashMap;

/// Per-file counts after the SQL steps.
#[derive(Clone, Debug, Default)]
pub struct FileCounts {
    /// Rows loaded.
    pub loaded: u64,
    /// Rejects by reason, in [`Reason::ALL`] order.
    pub rejected: [u64; 4],
}

impl LogEntry {
    /// An entry before the SQL-side rules ran (no rows loaded or rejected yet).
    pub fn new(file: String, content_hash: String, quick_key: String, bytes: u64, status: &str, rows_read: u64) -> LogEntry {
        LogEntry { file, content_hash, quick_key, bytes, status: status.into(), rows_read, rows_loaded: 0, rejected: [0; 4] }
    }
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
///
/// Valid rows are appended to `_ingest_stage`: the `user_behavior` columns with the behaviour as a
/// code (`behavior`, 0..3), plus `key` (file and line) and `maybe_dup` (the parser's duplicate
/// candidate flag). Rejected rows go to the temp table `_rej`, the raw text of non-canonical rows to
/// `_raw`. [`Loader::finish`] applies the SQL-side rules and inserts the survivors into
/// `user_behavior`.
pub struct Loader<'c> {
    conn: &'c Connection,
    done: bool,
    in_memory: bool,
}

/// The canonical text of a staged row (its raw text when `_raw` has none).
const CANONICAL: &str = "concat_ws(',', s.user_id, s.item_id, s.category_id, ['pv','fav','cart','buy'][s.behavior + 1], s.ts)";

impl<'c> Loader<'c> {
    /// Starts the transaction and creates the staging tables. With `replace`, the DB's data is
    /// dropped first (inside the same transaction).
    /// `in_memory` puts the stage in a TEMP table (faster while it fits in memory); otherwise it is a
    /// table in the DB file, which DuckDB writes out compressed as it grows, so memory stays bounded.
    pub fn begin(conn: &'c Connection, replace: bool, in_memory: bool) -> Result<Self, StoreError> {
        conn.execute_batch("BEGIN TRANSACTION")?;
        let l = Loader { conn, done: false, in_memory };
        if replace {
            conn.execute_batch(
                "DELETE FROM user_behavior; DELETE FROM ingest_log; DELETE FROM rejects;
                 DELETE FROM ecomm_meta WHERE key IN ('window_start', 'window_end', 'timezone');",
            )?;
            super::meta_set(conn, "generation", &super::new_generation())?;
        }
        conn.execute_batch(&format!(
            "CREATE {} TABLE _ingest_stage (
                 user_id BIGINT NOT NULL, item_id BIGINT NOT NULL, category_id BIGINT NOT NULL,
                 behavior UTINYINT NOT NULL, ts BIGINT NOT NULL, event_time TIMESTAMP NOT NULL,
                 event_date DATE NOT NULL, event_hour UTINYINT NOT NULL, key UBIGINT NOT NULL, maybe_dup UTINYINT NOT NULL);
             CREATE TEMP TABLE _rej (key UBIGINT, reason VARCHAR, raw VARCHAR);
             CREATE TEMP TABLE _raw (key UBIGINT, raw VARCHAR);
             CREATE TEMP TABLE _files (file_id INTEGER, path VARCHAR);",
            if in_memory { "TEMP" } else { "" }
        ))?;
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

    /// Appenders for the stage, the rejects and the raw texts.
    pub fn appenders(&self) -> Result<Appenders<'c>, StoreError> {
        Ok(Appenders::new(
            if self.in_memory {
                self.conn.appender_to_catalog_and_db("_ingest_stage", "temp", "main")?
            } else {
                self.conn.appender("_ingest_stage")?
            },
            self.conn.appender_to_catalog_and_db("_rej", "temp", "main")?,
            self.conn.appender_to_catalog_and_db("_raw", "temp", "main")?,
        ))
    }

    /// Fills a [`SeenSet`] with the hashes of the rows already loaded, so that duplicates of earlier
    /// ingests become candidates too.
    pub fn seed_seen(&self, seen: &crate::domain::rows::SeenSet) -> Result<u64, StoreError> {
        use duckdb::arrow::array::AsArray;
        use duckdb::arrow::datatypes::{Int64Type, UInt8Type};
        let mut st =
            self.conn.prepare("SELECT user_id, item_id, category_id, enum_code(behavior_type)::UTINYINT, ts FROM user_behavior")?;
        let mut n = 0u64;
        for b in st.query_arrow([])? {
            let (u, i, c, k, t) = (
                b.column(0).as_primitive::<Int64Type>(),
                b.column(1).as_primitive::<Int64Type>(),
                b.column(2).as_primitive::<Int64Type>(),
                b.column(3).as_primitive::<UInt8Type>(),
                b.column(4).as_primitive::<Int64Type>(),
            );
            let hs: Vec<u64> = (0..b.num_rows())
                .map(|r| crate::domain::rows::row_hash(u.value(r), i.value(r), c.value(r), k.value(r), t.value(r)))
                .collect();
            let mut sink = Vec::with_capacity(hs.len());
            seen.test_and_set_all(&hs, &mut sink);
            n += b.num_rows() as u64;
        }
        Ok(n)
    }

    /// Applies the SQL-side rules and moves the stage into `user_behavior`:
    /// - with `detected` set, rule 4 (window `[start_utc, end_utc)`) was not applied while parsing, so
    ///   out-of-window rows are rejected here;
    /// - rule 5: among candidate rows (and rows equal to them) the first by file and line is kept and
    ///   the others are duplicates; candidates equal to rows of earlier ingests are duplicates.
    ///
    /// Returns the per-file counts.
    ///
    /// Length: the SQL steps of rules 4–5 in their required order, one statement each, in one transaction.
    pub fn finish(&self, ingest_id: u32, start_utc: i64, end_utc: i64, detected: bool) -> Result<HashMap<i32, FileCounts>, StoreError> {
        let c = self.conn;
        let existing: i64 = c.query_row("SELECT count(*) FROM (SELECT 1 FROM user_behavior LIMIT 1)", [], |r| r.get(0))?;
        if detected {
            c.execute_batch(&format!(
                "INSERT INTO _rej SELECT s.key, 'out_of_window', coalesce(r.raw, {CANONICAL})
                   FROM _ingest_stage s LEFT JOIN _raw r USING (key) WHERE NOT (s.ts >= {start_utc} AND s.ts < {end_utc});
                 DELETE FROM _ingest_stage WHERE NOT (ts >= {start_utc} AND ts < {end_utc});"
            ))?;
        }
        crate::domain::trace_here("out-of-window rows");
        c.execute_batch(
            "CREATE TEMP TABLE _flag AS
               SELECT DISTINCT user_id, item_id, category_id, behavior, ts FROM _ingest_stage WHERE maybe_dup = 1;",
        )?;
        let flagged: i64 = c.query_row("SELECT count(*) FROM _flag", [], |r| r.get(0))?;
        crate::domain::trace_here(&format!("{flagged} duplicate candidates"));
        if flagged > 0 {
            c.execute_batch(
                "CREATE TEMP TABLE _dup AS
                   SELECT key FROM (
                     SELECT key, row_number() OVER (PARTITION BY user_id, item_id, category_id, behavior, ts ORDER BY key) AS rn
                     FROM _ingest_stage SEMI JOIN _flag USING (user_id, item_id, category_id, behavior, ts))
                   WHERE rn > 1;",
            )?;
            crate::domain::trace_here("duplicates within the batch");
            if existing > 0 {
                c.execute_batch(
                    "INSERT INTO _dup
                       SELECT s.key FROM _ingest_stage s SEMI JOIN (
                           SELECT DISTINCT f.user_id, f.item_id, f.category_id, f.behavior, f.ts
                           FROM _flag f JOIN user_behavior u
                             ON u.user_id = f.user_id AND u.item_id = f.item_id AND u.category_id = f.category_id
                            AND u.ts = f.ts AND enum_code(u.behavior_type) = f.behavior) x
                         USING (user_id, item_id, category_id, behavior, ts)
                       EXCEPT SELECT key FROM _dup;",
                )?;
            }
            c.execute_batch(&format!(
                "INSERT INTO _rej SELECT s.key, 'duplicate', coalesce(r.raw, {CANONICAL})
                   FROM _ingest_stage s SEMI JOIN _dup d USING (key) LEFT JOIN _raw r USING (key);
                 DELETE FROM _ingest_stage WHERE key IN (SELECT key FROM _dup);
                 DROP TABLE _dup;"
            ))?;
        }
        c.execute_batch("DROP TABLE _flag;")?;
        crate::domain::trace_here("rules 4-5 in SQL");

        crate::domain::trace_here("duplicates removed");
        let mut out: HashMap<i32, FileCounts> = HashMap::new();
        {
            let mut st = c.prepare("SELECT (key >> 40)::INTEGER, count(*) FROM _ingest_stage GROUP BY 1")?;
            for row in st.query_map([], |r| Ok((r.get::<_, i32>(0)?, r.get::<_, i64>(1)?)))? {
                let (f, n) = row?;
                out.entry(f).or_default().loaded = n as u64;
            }
            let mut st = c.prepare("SELECT (key >> 40)::INTEGER, reason, count(*) FROM _rej GROUP BY ALL")?;
            for row in st.query_map([], |r| Ok((r.get::<_, i32>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))? {
                let (f, reason, n) = row?;
                if let Some(i) = Reason::ALL.iter().position(|x| x.as_str() == reason) {
                    out.entry(f).or_default().rejected[i] = n as u64;
                }
            }
        }
        c.execute_batch(&format!(
            "INSERT INTO rejects SELECT {ingest_id}, r.reason, f.path, r.key & 1099511627775, r.raw
               FROM _rej r JOIN _files f ON f.file_id = (r.key >> 40)::INTEGER;"
        ))?;
        crate::domain::trace_here("counts and rejects");
        // Keep the stage's order (rows grouped by category band, see [`Appenders`]) so that row
        // groups hold narrow category ranges; the parallel scan would otherwise interleave pieces.
        c.execute_batch(&format!(
            "SET preserve_insertion_order = true;
             INSERT INTO user_behavior
               SELECT user_id, item_id, category_id,
                      CASE behavior WHEN 0 THEN 'pv'::behavior_t WHEN 1 THEN 'fav'::behavior_t
                                    WHEN 2 THEN 'cart'::behavior_t ELSE 'buy'::behavior_t END, ts,
                      event_time, event_date, event_hour, {ingest_id}
               FROM _ingest_stage;
             SET preserve_insertion_order = false;
             DROP TABLE _ingest_stage;"
        ))?;
        crate::domain::trace_here("moved into user_behavior");
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

    /// Drops the working tables and commits.
    pub fn commit(mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("DROP TABLE IF EXISTS _rej; DROP TABLE IF EXISTS _raw; DROP TABLE IF EXISTS _files; COMMIT;")?;
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

/// The next ingest id.
pub fn next_ingest_id(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn.query_row("SELECT coalesce(max(ingest_id), 0) + 1 FROM ingest_log", [], |r| r.get(0))?;
    Ok(v as u32)
}

/// The content hash (a table source's state) of the last loaded entry under `quick_key`.
pub fn last_state(conn: &Connection, quick_key: &str) -> Result<Option<String>, StoreError> {
    let mut st =
        conn.prepare("SELECT content_hash FROM ingest_log WHERE quick_key = ? AND status = 'loaded' ORDER BY ingest_id DESC LIMIT 1")?;
    let mut rows = st.query([quick_key])?;
    Ok(match rows.next()? {
        Some(r) => Some(r.get(0)?),
        None => None,
    })
}

/// Files already in the log, by quick key: (content hash, first path).
pub fn known_files(conn: &Connection) -> Result<HashMap<String, (String, String)>, StoreError> {
    let mut st = conn.prepare("SELECT quick_key, content_hash, min(file) FROM ingest_log GROUP BY ALL")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get::<_, String>(1)?, r.get::<_, String>(2)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
