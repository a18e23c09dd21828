//! The SQL side of an ingest: staging, cleaning rules 4–5, the load itself and the rollups.
//!
//! Everything between [`Loader::begin`] and [`Loader::commit`] is one DuckDB transaction, so an
//! ingest that is killed midway leaves the file exactly as it was.

use super::{sql_str, StoreError};
use crate::ingest::parse::{Parsed, Reason};
use duckdb::arrow::array::{ArrayRef, Date32Array, Int64Array, StringArray, TimestampMicrosecondArray, UInt64Array, UInt8Array};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::Connection;
use std::collections::HashMap;
use std::sync::Arc;

/// Per-file counts after the SQL steps.
#[derive(Clone, Debug, Default)]
pub struct FileCounts {
    /// Rows loaded.
    pub loaded: u64,
    /// Rejects by reason, in [`Reason::ALL`] order.
    pub rejected: [u64; 4],
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
        Ok(Appenders {
            stage: if self.in_memory {
                self.conn.appender_to_catalog_and_db("_ingest_stage", "temp", "main")?
            } else {
                self.conn.appender("_ingest_stage")?
            },
            rej: self.conn.appender_to_catalog_and_db("_rej", "temp", "main")?,
            raw: self.conn.appender_to_catalog_and_db("_raw", "temp", "main")?,
            pending: StageBuf::default(),
            chunk: cluster_rows(),
        })
    }

    /// Fills a [`SeenSet`] with the hashes of the rows already loaded, so that duplicates of earlier
    /// ingests become candidates too.
    pub fn seed_seen(&self, seen: &crate::ingest::parse::SeenSet) -> Result<u64, StoreError> {
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
                .map(|r| crate::ingest::parse::row_hash(u.value(r), i.value(r), c.value(r), k.value(r), t.value(r)))
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
        crate::ingest::trace_here("out-of-window rows");
        c.execute_batch(
            "CREATE TEMP TABLE _flag AS
               SELECT DISTINCT user_id, item_id, category_id, behavior, ts FROM _ingest_stage WHERE maybe_dup = 1;",
        )?;
        let flagged: i64 = c.query_row("SELECT count(*) FROM _flag", [], |r| r.get(0))?;
        crate::ingest::trace_here(&format!("{flagged} duplicate candidates"));
        if flagged > 0 {
            c.execute_batch(
                "CREATE TEMP TABLE _dup AS
                   SELECT key FROM (
                     SELECT key, row_number() OVER (PARTITION BY user_id, item_id, category_id, behavior, ts ORDER BY key) AS rn
                     FROM _ingest_stage SEMI JOIN _flag USING (user_id, item_id, category_id, behavior, ts))
                   WHERE rn > 1;",
            )?;
            crate::ingest::trace_here("duplicates within the batch");
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
        crate::ingest::trace_here("rules 4-5 in SQL");

        crate::ingest::trace_here("duplicates removed");
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
        crate::ingest::trace_here("counts and rejects");
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
        crate::ingest::trace_here("moved into user_behavior");
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

/// The three appenders of an ingest.
///
/// Valid rows are not appended block by block: they are buffered into chunks of
/// [`cluster_rows`] rows, and each chunk is sorted by category before it goes to the stage
/// (a counting sort into [`BANDS`] bands of consecutive category ids, file order kept inside a
/// band). The load keeps that order, so each DuckDB row group of `user_behavior` (122,880 rows)
/// holds a narrow range of category ids, and a category filter reads only the row groups whose
/// min/max statistics (zonemaps) can hold its ids instead of the whole table. Rejects and raw
/// texts are appended as they come.
pub struct Appenders<'c> {
    stage: duckdb::Appender<'c>,
    rej: duckdb::Appender<'c>,
    raw: duckdb::Appender<'c>,
    pending: StageBuf,
    chunk: usize,
}

/// Stage rows waiting for their chunk to fill (columns as in `_ingest_stage`).
#[derive(Default)]
struct StageBuf {
    user: Vec<i64>,
    item: Vec<i64>,
    cat: Vec<i64>,
    beh: Vec<u8>,
    ts: Vec<i64>,
    time_us: Vec<i64>,
    date: Vec<i32>,
    hour: Vec<u8>,
    key: Vec<u64>,
    dup: Vec<u8>,
}

impl StageBuf {
    fn len(&self) -> usize {
        self.key.len()
    }

    fn is_empty(&self) -> bool {
        self.key.is_empty()
    }

    fn extend(&mut self, p: &mut Parsed) {
        self.user.append(&mut p.user);
        self.item.append(&mut p.item);
        self.cat.append(&mut p.cat);
        self.beh.append(&mut p.beh);
        self.ts.append(&mut p.ts);
        self.time_us.append(&mut p.time_us);
        self.date.append(&mut p.date);
        self.hour.append(&mut p.hour);
        self.key.append(&mut p.key);
        self.dup.extend(p.maybe_dup.drain(..).map(u8::from));
    }

    /// The same rows grouped by category band: a counting sort on [`category_bands`], which keeps
    /// file order inside a band. Each column is scattered in one sequential pass (one write cursor
    /// per band), and at most one extra column is alive at a time.
    fn sorted_by_category(self) -> StageBuf {
        let band = category_bands(&self.cat);
        let mut start = vec![0usize; BANDS + 1];
        for &b in &band {
            start[b as usize + 1] += 1;
        }
        for b in 0..BANDS {
            start[b + 1] += start[b];
        }
        StageBuf {
            user: scatter_by(self.user, &band, &start),
            item: scatter_by(self.item, &band, &start),
            cat: scatter_by(self.cat, &band, &start),
            beh: scatter_by(self.beh, &band, &start),
            ts: scatter_by(self.ts, &band, &start),
            time_us: scatter_by(self.time_us, &band, &start),
            date: scatter_by(self.date, &band, &start),
            hour: scatter_by(self.hour, &band, &start),
            key: scatter_by(self.key, &band, &start),
            dup: scatter_by(self.dup, &band, &start),
        }
    }
}

/// Number of category bands a chunk is sorted into.
pub const BANDS: usize = 1024;

/// Moves `v[i]` to the next free slot of band `band[i]` (bands start at `start`).
fn scatter_by<T: Copy + Default>(v: Vec<T>, band: &[u16], start: &[usize]) -> Vec<T> {
    let mut cur: Vec<usize> = start[..BANDS].to_vec();
    let mut out = vec![T::default(); v.len()];
    for (&x, &b) in v.iter().zip(band) {
        let c = &mut cur[b as usize];
        out[*c] = x;
        *c += 1;
    }
    out
}

/// The band (0..[`BANDS`]) of each category id: bands are consecutive ranges of ids cut at
/// quantiles of a sample of the chunk, so they hold similar numbers of rows whatever the ids look
/// like, and a band's rows have ids between two cut points.
fn category_bands(cat: &[i64]) -> Vec<u16> {
    let step = (cat.len() / (BANDS * 16)).max(1);
    let mut sample: Vec<i64> = cat.iter().step_by(step).copied().collect();
    sample.sort_unstable();
    // Cut points: every len/BANDS-th sampled value, without repeats (a category larger than a band
    // gets one band of its own).
    let mut cuts: Vec<i64> = (1..BANDS).map(|k| sample[k * sample.len() / BANDS]).collect();
    cuts.dedup();
    cat.iter().map(|c| cuts.partition_point(|x| x <= c) as u16).collect()
}

/// Rows per category-sorted chunk of the stage: 2 Mi rows (about 140 MB at the peak of its sort),
/// so each chunk spans about 17 row groups. `ECOMM_CLUSTER_ROWS` overrides it (`0` turns the sorting
/// off, for `ecomm bench` and tuning).
pub fn cluster_rows() -> usize {
    std::env::var("ECOMM_CLUSTER_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(CLUSTER_ROWS)
}

/// Default of [`cluster_rows`].
pub const CLUSTER_ROWS: usize = 1 << 21;

/// Bytes a buffered stage row takes at the peak of its chunk's sort (the columns, its band and
/// one sorted column), for the ingest's memory budget.
pub const STAGE_ROW_BYTES: u64 = 68;

impl Appenders<'_> {
    /// Takes one parsed block: rejects and raw texts are appended now, valid rows once their chunk
    /// is full (see [`Appenders`]).
    pub fn append(&mut self, mut p: Parsed) -> Result<(), StoreError> {
        if !p.key.is_empty() {
            self.pending.extend(&mut p);
            if self.pending.len() >= self.chunk.max(1) {
                self.append_pending()?;
            }
        }
        if !p.rej_key.is_empty() {
            let cols: Vec<ArrayRef> = vec![
                Arc::new(UInt64Array::from(p.rej_key)),
                Arc::new(StringArray::from(p.rej_reason.iter().map(|r| r.as_str()).collect::<Vec<_>>())),
                Arc::new(StringArray::from(p.rej_raw)),
            ];
            self.rej.append_record_batch(RecordBatch::try_from_iter(["key", "reason", "raw"].iter().zip(cols)).expect("rej batch"))?;
        }
        if !p.raw_key.is_empty() {
            let cols: Vec<ArrayRef> = vec![Arc::new(UInt64Array::from(p.raw_key)), Arc::new(StringArray::from(p.raw))];
            self.raw.append_record_batch(RecordBatch::try_from_iter(["key", "raw"].iter().zip(cols)).expect("raw batch"))?;
        }
        Ok(())
    }

    /// Sorts the buffered rows (unless sorting is off) and appends them to the stage.
    fn append_pending(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut b = std::mem::take(&mut self.pending);
        if self.chunk > 0 {
            let t = std::time::Instant::now();
            b = b.sorted_by_category();
            crate::ingest::trace_here(&format!("{} rows sorted by category band in {:.3} s", b.len(), t.elapsed().as_secs_f64()));
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(b.user)),
            Arc::new(Int64Array::from(b.item)),
            Arc::new(Int64Array::from(b.cat)),
            Arc::new(UInt8Array::from(b.beh)),
            Arc::new(Int64Array::from(b.ts)),
            Arc::new(TimestampMicrosecondArray::from(b.time_us)),
            Arc::new(Date32Array::from(b.date)),
            Arc::new(UInt8Array::from(b.hour)),
            Arc::new(UInt64Array::from(b.key)),
            Arc::new(UInt8Array::from(b.dup)),
        ];
        self.stage.append_record_batch(RecordBatch::try_from_iter(STAGE_COLS.iter().zip(cols)).expect("stage batch"))?;
        Ok(())
    }

    /// Appends the last partial chunk and flushes all three.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.append_pending()?;
        self.stage.flush()?;
        self.rej.flush()?;
        self.raw.flush()?;
        Ok(())
    }
}

const STAGE_COLS: [&str; 10] =
    ["user_id", "item_id", "category_id", "behavior", "ts", "event_time", "event_date", "event_hour", "key", "maybe_dup"];

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
/// - `buy_items` (user_id, item_id, event_date) with `buys`, over buy events only;
/// - for windows of at most [`MASK_DAYS`] days, day bitmaps (bit k = active on window day k):
///   `user_days` (user_id, `active`, `pv_days`, `fav_days`, `cart_days`, `buy_days`) and
///   `item_days` (item_id, `days`, and for windows up to [`LANE_DAYS`] days `lanes`: bit 16·k + d =
///   behaviour k of pv, fav, cart, buy on window day d), which answer distinct-user and distinct-item questions for any
///   date range from one small scan.
pub fn rebuild_rollups(conn: &Connection, window_start: chrono::NaiveDate, window_end: chrono::NaiveDate) -> Result<(), StoreError> {
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TABLE user_day AS
           SELECT user_id, event_date, {COUNTS}, min(event_time) AS first_time, max(event_time) AS last_time,
                  max(event_time) FILTER (WHERE behavior_type = 'buy') AS last_buy_time
           FROM user_behavior GROUP BY user_id, event_date;
         {}",
        small_rollups("", "user_behavior")
    ))?;
    crate::ingest::trace_here("rollups: user_day, hourly, category_day, buy_items");
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
        crate::ingest::trace_here("rollups: user_days");
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
        crate::ingest::trace_here("rollups: item_days");
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
           SELECT user_id, item_id, category_id, behavior_type, event_date, event_hour FROM user_behavior WHERE {predicate};
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer whose columns all encode the row's original position, so the sort can be checked
    /// column by column.
    fn buf(cats: &[i64]) -> StageBuf {
        let n = cats.len();
        StageBuf {
            user: (0..n as i64).collect(),
            item: (0..n as i64).map(|i| i * 10).collect(),
            cat: cats.to_vec(),
            beh: (0..n).map(|i| (i % 4) as u8).collect(),
            ts: (0..n as i64).map(|i| i + 1000).collect(),
            time_us: (0..n as i64).map(|i| i * 7).collect(),
            date: (0..n as i32).collect(),
            hour: (0..n).map(|i| (i % 24) as u8).collect(),
            key: (0..n as u64).collect(),
            dup: (0..n).map(|i| (i % 2) as u8).collect(),
        }
    }

    fn check_sorted(cats: &[i64]) {
        let s = buf(cats).sorted_by_category();
        let n = cats.len();
        // A permutation of the rows, each row's columns kept together.
        let mut seen = vec![false; n];
        for r in 0..n {
            let k = s.key[r] as usize;
            assert!(!seen[k], "row {k} twice");
            seen[k] = true;
            assert_eq!(
                (s.user[r], s.item[r], s.cat[r], s.beh[r], s.ts[r], s.time_us[r], s.date[r], s.hour[r], s.dup[r]),
                (k as i64, k as i64 * 10, cats[k], (k % 4) as u8, k as i64 + 1000, k as i64 * 7, k as i32, (k % 24) as u8, (k % 2) as u8)
            );
        }
        // Bands are consecutive id ranges in order: the sorted ids never step back across a band
        // boundary, and inside a band file order is kept.
        let of_input = category_bands(cats);
        let bands: Vec<u16> = s.key.iter().map(|&k| of_input[k as usize]).collect();
        let mut band_max = s.cat[0];
        for r in 1..n {
            assert!(bands[r - 1] <= bands[r], "bands out of order at {r}");
            if bands[r - 1] == bands[r] {
                assert!(s.key[r - 1] < s.key[r], "file order lost inside a band at {r}");
                band_max = band_max.max(s.cat[r]);
            } else {
                assert!(band_max < s.cat[r], "band ranges overlap at {r}");
                band_max = s.cat[r];
            }
        }
    }

    #[test]
    fn chunks_sort_into_category_bands() {
        // Skewed ids (one huge category, sparse ids, negative and extreme values).
        let mut rng = crate::gen::Rng::new(1, 2);
        let cats: Vec<i64> = (0..50_000)
            .map(|i| match rng.next_u64() % 10 {
                0..=3 => 4_756_105,
                4 => i64::MAX - (rng.next_u64() % 3) as i64,
                5 => -((rng.next_u64() % 5) as i64),
                _ => (rng.next_u64() % 5_000_000) as i64 + (i % 2),
            })
            .collect();
        check_sorted(&cats);
        check_sorted(&[7]);
        check_sorted(&[3, 3, 3, 1, 1, 2]);
        check_sorted(&(0..5000).rev().collect::<Vec<i64>>());
    }

    #[test]
    fn bands_are_narrow_on_many_categories() {
        // 10,000 categories over 1 M rows: each band should hold about 1/1024 of the rows and a
        // handful of ids, so a row group (122,880 rows) spans about 120 bands of the 1024.
        let mut rng = crate::gen::Rng::new(3, 4);
        let cats: Vec<i64> = (0..1_000_000).map(|_| (rng.next_u64() % 10_000) as i64 * 517).collect();
        let b = category_bands(&cats);
        let used = b.iter().copied().max().unwrap() as usize + 1;
        assert!(used > BANDS * 9 / 10, "only {used} bands used");
    }
}
