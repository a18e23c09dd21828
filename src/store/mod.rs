//! The DuckDB file: schema, versioning, connections and the ingest's SQL.
//!
//! Tables (all in the `main` schema of one DuckDB file):
//! - `user_behavior`: the cleaned events. `behavior_type` is the enum `behavior_t`
//!   (`pv`,`fav`,`cart`,`buy`, one byte), ids are BIGINT (DuckDB compresses them with
//!   bit-packing, so small ids take a few bits on disk while ids near i64::MAX still fit),
//!   `ts` is Unix seconds, `event_time`/`event_date`/`event_hour` are local to the DB's time zone,
//!   `ingest_id` names the ingest that loaded the row.
//! - `user_summary`: one row per user (see `metrics::summary`).
//! - `ingest_log`: one row per file and ingest: content hash, rows read, loaded and rejected by reason.
//! - `rejects`: every rejected row with its reason, file, line and raw text (also exported as CSV).
//! - rollups for fast queries: `user_day`, `hourly`, `category_day`, `buy_items`, the day bitmaps, and
//!   `user_seq` (the events stored in user and time order; see [`rollups::rebuild_rollups`]).
//! - `ecomm_meta`: key/value pairs: schema version, window, time zone.

pub mod append;
pub mod baseline;
pub mod load;
pub mod rejects;
pub mod rollups;

use crate::domain::Window;
use chrono::NaiveDate;
use duckdb::{AccessMode, Config, Connection};
use std::path::{Path, PathBuf};

/// The schema version this binary writes and understands.
pub const SCHEMA_VERSION: i64 = 1;

/// Errors opening or reading the DuckDB file, each phrased for the user.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No file at the path.
    #[error("no database at {0}: run `ecomm ingest FILE --db {0}` first / 数据库不存在，请先运行 ecomm ingest")]
    Missing(PathBuf),
    /// Another process holds the write lock.
    #[error("the database {0} is in use by another ecomm process (an ingest or serve); wait for it to finish or stop it, then retry / 数据库正被其他进程占用，请稍后重试")]
    Locked(PathBuf),
    /// Not a DuckDB file at all.
    #[error(
        "{0} is not a DuckDB database (or it is damaged); pass the .duckdb file that `ecomm ingest` created / 不是有效的 DuckDB 数据库文件"
    )]
    NotDuckDb(PathBuf),
    /// A DuckDB file without ecomm's tables.
    #[error("{0} is a DuckDB file but was not made by ecomm (no ecomm_meta table); ingest data into it with `ecomm ingest --db {0}` or pick another file / 该文件不是 ecomm 创建的数据库")]
    NotEcomm(PathBuf),
    /// Made by a newer ecomm.
    #[error("{path} was written by a newer ecomm (schema version {found}; this ecomm understands up to {supported}); upgrade ecomm to read it / 数据库版本较新，请升级 ecomm")]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// Ours.
        supported: i64,
    },
    /// The DB has no data yet.
    #[error("the database {0} holds no ingested data yet; run `ecomm ingest FILE --db {0}` / 数据库中还没有数据")]
    Empty(PathBuf),
    /// A file next to the DB could not be written.
    #[error("{0}")]
    Io(String),
    /// A DuckDB file that DuckDB cannot read back (a flipped byte, a torn copy).
    #[error("the database {path} is damaged: DuckDB says \"{detail}\". No other process is involved; restore the file from a backup, or rebuild it from the source files with `ecomm ingest FILES --db {path} --replace` / 数据库文件已损坏：请从备份恢复，或用 ingest --replace 从源文件重建")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// DuckDB's message.
        detail: String,
    },
    /// Anything else DuckDB reports.
    #[error("DuckDB error: {0}{hint}", hint = damaged_hint(.0))]
    Db(#[from] duckdb::Error),
}

/// How to open the file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Read-only; several readers may share the file.
    ReadOnly,
    /// Read-write (creates the file).
    ReadWrite,
}

/// Settings for a connection.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// DuckDB's memory_limit, e.g. `2GB`. DuckDB spills to disk beyond it.
    pub memory_limit: String,
    /// Worker threads (0 = all cores).
    pub threads: usize,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { memory_limit: "2GB".into(), threads: 0 }
    }
}

/// What to do when a query finds the file damaged (checksums are checked block by block as they
/// are read, so damage can surface after the open).
fn damaged_hint(e: &duckdb::Error) -> &'static str {
    let m = e.to_string().to_lowercase();
    if m.contains("corrupt") || m.contains("checksum") {
        "; the database file is damaged: restore it from a backup, or rebuild it with `ecomm ingest FILES --db DB --replace` / 数据库文件已损坏"
    } else {
        ""
    }
}

/// Whether `path` starts like a DuckDB file (the magic bytes `DUCK` at offset 8).
fn has_duckdb_magic(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 12];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head[8..12] == b"DUCK"
}

fn map_open_error(path: &Path, e: duckdb::Error) -> StoreError {
    let msg = e.to_string();
    let lower = msg.to_lowercase();
    // DuckDB: "Could not set lock on file ...: Conflicting lock is held in ... (PID ...)".
    if lower.contains("could not set lock") || lower.contains("conflicting lock") {
        StoreError::Locked(path.to_path_buf())
    } else if path.exists() && has_duckdb_magic(path) && !lower.contains("permission") && !lower.contains("version") {
        StoreError::Damaged { path: path.to_path_buf(), detail: msg }
    } else if lower.contains("not a valid duckdb")
        || lower.contains("unable to open") && lower.contains("database file")
        || lower.contains("invalid") && lower.contains("header")
    {
        StoreError::NotDuckDb(path.to_path_buf())
    } else {
        StoreError::Db(e)
    }
}

/// Opens the DuckDB file and checks it was made by a compatible ecomm.
/// `ReadWrite` creates the file and the schema when missing.
pub fn open(path: &Path, mode: Mode, opts: &OpenOptions) -> Result<Connection, StoreError> {
    if mode == Mode::ReadOnly && !path.exists() {
        return Err(StoreError::Missing(path.to_path_buf()));
    }
    let config = || -> Result<Config, StoreError> {
        let mut cfg = Config::default()
            .access_mode(if mode == Mode::ReadOnly { AccessMode::ReadOnly } else { AccessMode::ReadWrite })?
            .enable_autoload_extension(false)?
            .max_memory(&opts.memory_limit)?;
        if opts.threads > 0 {
            cfg = cfg.threads(opts.threads as i64)?;
        }
        Ok(cfg)
    };
    // A writer waits up to 3 s for readers (e.g. a dashboard request, which holds the file for
    // milliseconds) to let go of the lock; readers never wait.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(if mode == Mode::ReadWrite { 3 } else { 0 });
    let conn = loop {
        match Connection::open_with_flags(path, config()?).map_err(|e| map_open_error(path, e)) {
            Err(StoreError::Locked(_)) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(100)),
            other => break other?,
        }
    };
    // Row order inside a table carries no meaning here; without it, large inserts stream with less memory.
    conn.execute_batch("SET preserve_insertion_order = false")?;
    let has_meta: i64 = conn.query_row(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'ecomm_meta'",
        [],
        |r| r.get(0),
    )?;
    if has_meta == 0 {
        let tables: i64 = conn.query_row("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'", [], |r| r.get(0))?;
        if tables > 0 || mode == Mode::ReadOnly {
            return Err(StoreError::NotEcomm(path.to_path_buf()));
        }
        create_schema(&conn)?;
    }
    let found: i64 = meta_get(&conn, "schema_version")?.and_then(|v| v.parse().ok()).unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::Newer { path: path.to_path_buf(), found, supported: SCHEMA_VERSION });
    }
    Ok(conn)
}

/// The DDL of every table. Derived tables (rollups, user_summary) are rebuilt by each ingest.
const SCHEMA: &str = "
BEGIN;
CREATE TYPE behavior_t AS ENUM ('pv', 'fav', 'cart', 'buy');
CREATE TABLE ecomm_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE user_behavior (
    user_id BIGINT NOT NULL,
    item_id BIGINT NOT NULL,
    category_id BIGINT NOT NULL,
    behavior_type behavior_t NOT NULL,
    ts BIGINT NOT NULL,
    event_time TIMESTAMP NOT NULL,
    event_date DATE NOT NULL,
    event_hour UTINYINT NOT NULL,
    ingest_id UINTEGER NOT NULL
);
CREATE TABLE ingest_log (
    ingest_id UINTEGER NOT NULL,
    file VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    quick_key VARCHAR NOT NULL,
    bytes UBIGINT NOT NULL,
    status VARCHAR NOT NULL,
    rows_read UBIGINT NOT NULL,
    rows_loaded UBIGINT NOT NULL,
    malformed UBIGINT NOT NULL,
    bad_behavior UBIGINT NOT NULL,
    out_of_window UBIGINT NOT NULL,
    duplicate UBIGINT NOT NULL,
    options VARCHAR NOT NULL,
    started_at VARCHAR NOT NULL,
    finished_at VARCHAR NOT NULL
);
CREATE TABLE rejects (ingest_id UINTEGER NOT NULL, reason VARCHAR NOT NULL, file VARCHAR NOT NULL, line UBIGINT NOT NULL, raw VARCHAR NOT NULL);
INSERT INTO ecomm_meta VALUES ('schema_version', '1'), ('created_by', 'ecomm ' || $$VERSION$$);
COMMIT;
";

fn create_schema(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(&SCHEMA.replace("$$VERSION$$", &format!("'{}'", env!("CARGO_PKG_VERSION"))))?;
    meta_set(conn, "generation", &new_generation())?;
    Ok(())
}

/// A fresh random id for the DB's contents. It changes when `--replace` rebuilds the DB, so a
/// mirror (sync-mysql) can tell that its ingest ids no longer refer to the same data.
pub fn new_generation() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(format!("{t}-{}", std::process::id()).as_bytes()))
}

/// Reads a meta value.
pub fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    let mut st = conn.prepare("SELECT value FROM ecomm_meta WHERE key = ?")?;
    let mut rows = st.query([key])?;
    Ok(match rows.next()? {
        Some(r) => Some(r.get(0)?),
        None => None,
    })
}

/// Writes a meta value (inside the caller's transaction).
pub fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute("INSERT OR REPLACE INTO ecomm_meta VALUES (?, ?)", [key, value])?;
    Ok(())
}

/// Sets the connection's DuckDB memory limit to `mib` MiB.
pub fn set_memory_limit(conn: &Connection, mib: u64) -> Result<(), StoreError> {
    conn.execute_batch(&format!("SET memory_limit = '{mib}MB'"))?;
    Ok(())
}

/// The DB's window, if any data was ingested.
pub fn window(conn: &Connection) -> Result<Option<Window>, StoreError> {
    let (s, e, z) = (meta_get(conn, "window_start")?, meta_get(conn, "window_end")?, meta_get(conn, "timezone")?);
    Ok(match (s, e, z) {
        (Some(s), Some(e), Some(z)) => Some(Window {
            start: crate::domain::parse_date(&s).map_err(|_| StoreError::Io(format!("bad window_start {s} in ecomm_meta")))?,
            end: crate::domain::parse_date(&e).map_err(|_| StoreError::Io(format!("bad window_end {e} in ecomm_meta")))?,
            timezone: z,
        }),
        _ => None,
    })
}

/// Like [`window`] but an error when the DB is empty.
pub fn require_window(conn: &Connection, path: &Path) -> Result<Window, StoreError> {
    window(conn)?.ok_or_else(|| StoreError::Empty(path.to_path_buf()))
}

/// One row of `ingest_log`, as shown by the dashboard and the report's appendix.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct IngestTotals {
    /// Number of ingests that loaded something.
    pub ingests: u64,
    /// Rows read over all ingests.
    pub rows_read: u64,
    /// Rows loaded over all ingests.
    pub rows_loaded: u64,
    /// Rejected rows by reason.
    pub malformed: u64,
    /// Rejected rows by reason.
    pub bad_behavior: u64,
    /// Rejected rows by reason.
    pub out_of_window: u64,
    /// Rejected rows by reason.
    pub duplicate: u64,
    /// When the last ingest finished (UTC, RFC 3339).
    pub last_finished_at: Option<String>,
}

/// Cleaning totals over every ingest in the DB.
pub fn ingest_totals(conn: &Connection) -> Result<IngestTotals, StoreError> {
    Ok(conn.query_row(
        "SELECT count(DISTINCT ingest_id), coalesce(sum(rows_read),0)::UBIGINT, coalesce(sum(rows_loaded),0)::UBIGINT,
                coalesce(sum(malformed),0)::UBIGINT, coalesce(sum(bad_behavior),0)::UBIGINT,
                coalesce(sum(out_of_window),0)::UBIGINT, coalesce(sum(duplicate),0)::UBIGINT, max(finished_at)
         FROM ingest_log WHERE status = 'loaded'",
        [],
        |r| {
            Ok(IngestTotals {
                ingests: r.get::<_, i64>(0)? as u64,
                rows_read: r.get(1)?,
                rows_loaded: r.get(2)?,
                malformed: r.get(3)?,
                bad_behavior: r.get(4)?,
                out_of_window: r.get(5)?,
                duplicate: r.get(6)?,
                last_finished_at: r.get(7)?,
            })
        },
    )?)
}

/// A token that changes whenever the DB's contents do (a new generation or another ingest), for
/// caches of derived answers.
pub fn data_version(conn: &Connection) -> Result<String, StoreError> {
    Ok(conn.query_row(
        "SELECT coalesce((SELECT value FROM ecomm_meta WHERE key = 'generation'), '') || ':' || count(*) || ':' || coalesce(max(ingest_id), 0) FROM ingest_log",
        [],
        |r| r.get(0),
    )?)
}

/// What the file system says about the DuckDB file and its WAL (device, inode, length and
/// modification time of each): any commit changes one of them, so while the stamp stays the same
/// the data does too, and a reader may reuse what it read before without opening the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStamp(Vec<(u64, u64, u64, Option<std::time::SystemTime>)>);

/// The stamp of `db` and `db.wal` now (None when the DB cannot be read).
pub fn file_stamp(db: &Path) -> Option<FileStamp> {
    #[cfg(unix)]
    use std::os::unix::fs::MetadataExt;
    let wal = PathBuf::from(format!("{}.wal", db.display()));
    let mut parts = Vec::with_capacity(2);
    for (i, p) in [db.to_path_buf(), wal].iter().enumerate() {
        match std::fs::metadata(p) {
            #[cfg(unix)]
            Ok(m) => parts.push((m.dev(), m.ino(), m.len(), m.modified().ok())),
            #[cfg(not(unix))]
            Ok(m) => parts.push((0, 0, m.len(), m.modified().ok())),
            Err(_) if i == 1 => parts.push((0, 0, 0, None)),
            Err(_) => return None,
        }
    }
    Some(FileStamp(parts))
}

/// The `n` categories with the most events over the whole window: (category_id, events),
/// most first (ties: smaller id).
pub fn top_categories_by_events(conn: &Connection, n: usize) -> Result<Vec<(i64, u64)>, StoreError> {
    let mut st = conn.prepare(&format!(
        "SELECT category_id, sum(pv::BIGINT + fav + cart + buy)::BIGINT AS events FROM category_day
         GROUP BY category_id ORDER BY events DESC, category_id LIMIT {n}"
    ))?;
    let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The latest local date with events (from the `hourly` rollup), `None` for a DB without rows.
pub fn last_date(conn: &Connection) -> Result<Option<NaiveDate>, StoreError> {
    let d: Option<String> = conn.query_row("SELECT max(event_date)::VARCHAR FROM hourly", [], |r| r.get(0))?;
    Ok(d.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
}

/// Rows in `user_behavior`.
pub fn row_count(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM user_behavior", [], |r| r.get::<_, i64>(0))? as u64)
}

/// The files loaded into the DB (file names as given to `ecomm ingest`), in ingest order.
pub fn source_files(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut st = conn.prepare("SELECT file FROM ingest_log WHERE status = 'loaded' GROUP BY file ORDER BY min(ingest_id), file")?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The path of the rejects CSV that belongs to a DB: `local.duckdb` → `local.rejects.csv`.
pub fn rejects_path(db: &Path) -> PathBuf {
    let stem = db.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "ecomm".into());
    db.with_file_name(format!("{stem}.rejects.csv"))
}

/// Quotes a string as an SQL literal.
pub fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An SQL DATE literal.
pub fn sql_date(d: NaiveDate) -> String {
    format!("DATE '{}'", d.format("%Y-%m-%d"))
}
