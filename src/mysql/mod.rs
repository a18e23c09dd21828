//! `ecomm sync-mysql`: the MySQL mirror of `user_behavior` and `user_summary`.
//!
//! The DuckDB file stays the source of truth. The mirror lives in the database named by the URL
//! (default `ecommerce_analysis`), in tables with the seed project's names and columns (see
//! `UB_DDL`, `US_DDL`), so the seed's own queries run on it unchanged.
//!
//! How a sync works:
//! - **Fast path**: `LOAD DATA LOCAL INFILE`, fed by the client's local-infile handler straight from
//!   a DuckDB query (Arrow batches formatted as tab-separated text in a producer thread); no temp file.
//!   When the server refuses local infile, it falls back to multi-row `INSERT` batches and says so.
//! - **Parallel streams** (`--streams N`, default 8): `user_behavior` is partitioned `BY HASH (user_id)`
//!   into N parts. A full sync with LOAD DATA reads DuckDB once, routes each row to stream
//!   `user_id mod N`, loads the streams at once over N connections into N plain tables
//!   (`user_behavior__stage_p<k>`), indexes them in parallel, then swaps each into partition `p<k>` of the stage with
//!   `EXCHANGE PARTITION` (the server checks every row's partition). One LOAD DATA runs on one server
//!   thread; several at once keep a multi-core server busy (10 M rows: ~235 k rows/s with 1 stream,
//!   ~340 k with 8, measured on a 2-core machine against MariaDB 10.11 with its default config).
//! - **Atomic, both tables together**: `user_summary` is loaded into `user_summary__stage` and verified
//!   first, before anything visible changes.
//! - **Full** (`--full`, a new mirror, or a DB rebuilt by `ingest --replace`): load into
//!   `user_behavior__stage` (the per-stream tables indexed after their loads), verify it against DuckDB, then
//!   swap it, the sync log and the summary stage in with one `RENAME TABLE` (atomic).
//! - **Incremental** (default): only the ingest batches not yet in the mirror's `ecomm_sync_log` are
//!   loaded into `user_behavior__inc` and verified; then one InnoDB transaction moves them into
//!   `user_behavior`, adds their log rows and replaces `user_summary`'s rows with the stage's.
//! - So a kill at any point leaves exactly the old mirror or exactly the new one, `user_behavior`,
//!   `user_summary` and the log agreeing; the next sync drops leftover stage tables.
//! - **Verification** after every sync: total and per-behaviour row counts in MySQL equal DuckDB's, and
//!   `user_summary` has as many rows; a mismatch fails the command.

pub mod encode;
pub mod mirror;
pub mod schema;
pub mod source;
pub mod sync;
pub mod transfer;
pub mod url;

pub use mirror::{database_of, map_err, version_ok, Mirror, DEFAULT_DATABASE};
pub use sync::run;

use crate::store::StoreError;
use std::path::PathBuf;

/// Errors of a sync, each one sentence that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Config problems.
    #[error("{0}")]
    Config(String),
    /// Something answers at the address, but not MySQL.
    #[error("{addr} is not a MySQL server: {why}; check the host and port in the URL (MySQL listens on 3306 by default), or raise --timeout for a slow server / 该地址不是 MySQL 服务")]
    NotMysql {
        /// host:port
        addr: String,
        /// What was seen.
        why: String,
    },
    /// Server unreachable.
    #[error("cannot reach MySQL at {addr} ({why}); start it (`docker compose up -d` starts the bundled MySQL 8.0) or fix host/port in the URL / 无法连接 MySQL")]
    Unreachable {
        /// host:port
        addr: String,
        /// The OS error.
        why: String,
    },
    /// Bad user or password.
    #[error("MySQL refused user '{user}' (wrong password, or no access from this host); check the user and password in the URL or ECOMM_MYSQL_URL / 用户名或密码错误")]
    Auth {
        /// The user.
        user: String,
    },
    /// A privilege is missing.
    #[error("MySQL user '{user}' lacks a privilege ({detail}); as an admin run: GRANT CREATE, DROP, ALTER, INDEX, INSERT, SELECT ON `{db}`.* TO '{user}'@'%'; / 权限不足")]
    Privilege {
        /// The user.
        user: String,
        /// The database.
        db: String,
        /// The server's message.
        detail: String,
    },
    /// Too old a server.
    #[error("MySQL server {0} is too old: ecomm needs MySQL 5.7+ or MariaDB 10.3+ (utf8mb4, atomic multi-table RENAME); upgrade it or use the bundled docker-compose.yml (MySQL 8.0) / MySQL 版本过低")]
    TooOld(String),
    /// Counts differ after the sync.
    #[error("verification failed: {0}; the mirror does not match DuckDB; rerun with --full / 校验失败")]
    Verify(String),
    /// Other server errors.
    #[error("MySQL error: {0}")]
    Server(String),
    /// DuckDB side.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<duckdb::Error> for SyncError {
    fn from(e: duckdb::Error) -> Self {
        SyncError::Store(StoreError::Db(e))
    }
}

/// Which tables to mirror.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// The events.
    UserBehavior,
    /// One row per user.
    UserSummary,
}

impl Table {
    /// Parses `user_behavior` / `user_summary`.
    pub fn parse(s: &str) -> Result<Table, String> {
        match s.trim() {
            "user_behavior" => Ok(Table::UserBehavior),
            "user_summary" => Ok(Table::UserSummary),
            other => Err(format!("unknown table '{other}': use user_behavior and/or user_summary")),
        }
    }
    /// The table's name.
    pub fn name(self) -> &'static str {
        match self {
            Table::UserBehavior => "user_behavior",
            Table::UserSummary => "user_summary",
        }
    }
}

/// A validated sync request.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// The DuckDB file.
    pub db: PathBuf,
    /// mysql://user:pass@host:port/database
    pub url: String,
    /// Tables to mirror.
    pub tables: Vec<Table>,
    /// Rebuild everything.
    pub full: bool,
    /// Never try LOAD DATA LOCAL INFILE.
    pub no_local_infile: bool,
    /// Parallel LOAD DATA streams, and partitions of the mirror's `user_behavior` (1..=64).
    pub streams: usize,
    /// Progress bar.
    pub progress: bool,
    /// Bound on connecting and on the server's greeting.
    pub timeout: std::time::Duration,
}

/// One table's outcome.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TableOut {
    /// Table name.
    pub table: String,
    /// Rows sent in this sync.
    pub rows: u64,
    /// Rows in the mirror afterwards.
    pub mirror_rows: u64,
    /// Seconds.
    pub seconds: f64,
    /// rows / seconds.
    pub rows_per_sec: f64,
    /// Seconds spent streaming the rows (LOAD DATA or INSERTs), without index builds and checks.
    pub load_seconds: f64,
    /// rows / load_seconds.
    pub load_rows_per_sec: f64,
}

/// What a sync did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SyncSummary {
    /// The target, password redacted.
    pub target: String,
    /// The database the mirror is in (`ecommerce_analysis` when the URL names none).
    pub database: String,
    /// `full` or `incremental`.
    pub mode: String,
    /// Why a full sync happened.
    pub reason: String,
    /// `load_data` or `insert`.
    pub method: String,
    /// Ingest batches sent.
    pub batches: Vec<u32>,
    /// Per table.
    pub tables: Vec<TableOut>,
    /// Counts matched DuckDB.
    pub verified: bool,
    /// Total seconds.
    pub seconds: f64,
}
