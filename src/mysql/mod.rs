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

pub mod url;

use crate::store::{self, Mode, OpenOptions, StoreError};
use ::mysql::prelude::Queryable;
use ::mysql::{Conn, LocalInfileHandler, Opts, OptsBuilder};
use duckdb::arrow::array::AsArray;
use duckdb::arrow::datatypes::{Int64Type, UInt32Type, UInt8Type};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

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

/// The DDL of the mirror's tables (`{name}` is the table name). The seed project's schema comes
/// first, with its names (`timestamp`, `time`, `date`, `hour`, `behavior_name`; `pv_count` … and
/// `last_buy_time`), so its scripts and BI tools run unchanged; ecomm's own columns follow.
/// `time`, `date` and `hour` are local to the DB's analysis zone (Beijing by default), not UTC.
/// `behavior_name` (浏览/收藏/加购/购买) is a VIRTUAL generated column: computed on read, no storage.
const UB_DDL: &str = "CREATE TABLE `{name}` (
    user_id BIGINT NOT NULL,
    item_id BIGINT NOT NULL,
    category_id BIGINT NOT NULL,
    behavior_type ENUM('pv','fav','cart','buy') NOT NULL,
    `timestamp` BIGINT NOT NULL,
    `time` DATETIME NOT NULL,
    `date` DATE NOT NULL,
    `hour` TINYINT UNSIGNED NOT NULL,
    behavior_name VARCHAR(4) GENERATED ALWAYS AS (CASE behavior_type WHEN 'pv' THEN '浏览' WHEN 'fav' THEN '收藏' WHEN 'cart' THEN '加购' ELSE '购买' END) VIRTUAL,
    ingest_id INT UNSIGNED NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";
const UB_INDEXES: &str =
    "ALTER TABLE `{name}` ADD INDEX idx_user_id (user_id), ADD INDEX idx_date (`date`), ADD INDEX idx_behavior_type (behavior_type)";
const US_DDL: &str = "CREATE TABLE `{name}` (
    user_id BIGINT NOT NULL PRIMARY KEY,
    pv_count BIGINT NOT NULL, fav_count BIGINT NOT NULL, cart_count BIGINT NOT NULL, buy_count BIGINT NOT NULL,
    last_buy_time DATETIME NULL,
    first_event_at DATETIME NOT NULL, last_event_at DATETIME NOT NULL,
    active_days INT NOT NULL, distinct_items BIGINT NOT NULL,
    recency_days INT NULL, frequency BIGINT NULL, monetary BIGINT NULL,
    r_score TINYINT UNSIGNED NULL, f_score TINYINT UNSIGNED NULL, m_score TINYINT UNSIGNED NULL,
    segment VARCHAR(16) NULL,
    INDEX idx_segment (segment)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";
const LOG_DDL: &str = "CREATE TABLE `{name}` (
    generation VARCHAR(32) NOT NULL,
    ingest_id INT UNSIGNED NOT NULL,
    `rows` BIGINT NOT NULL,
    synced_at DATETIME NOT NULL,
    PRIMARY KEY (generation, ingest_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";

fn ddl(t: &str, name: &str) -> String {
    t.replace("{name}", name)
}

/// The stored columns, in the order the TSV streams send them (the generated `behavior_name` is not sent).
const UB_COLS: &str = "(user_id, item_id, category_id, behavior_type, `timestamp`, `time`, `date`, `hour`, ingest_id)";
const US_COLS: &str = "(user_id, pv_count, fav_count, cart_count, buy_count, last_buy_time, first_event_at, last_event_at, active_days, distinct_items, recency_days, frequency, monetary, r_score, f_score, m_score, segment)";

/// A column list without its parentheses, for `SELECT`.
fn select_list(cols: &str) -> &str {
    cols.trim_start_matches('(').trim_end_matches(')')
}

/// Maps a mysql error to a user sentence.
pub fn map_err(e: ::mysql::Error, user: &str, db: &str, addr: &str) -> SyncError {
    match e {
        ::mysql::Error::MySqlError(m) => match m.code {
            1045 | 1698 => SyncError::Auth { user: user.into() },
            1044 | 1142 | 1143 | 1227 | 1370 => SyncError::Privilege { user: user.into(), db: db.into(), detail: m.message },
            _ => SyncError::Server(format!("{} (code {})", m.message, m.code)),
        },
        ::mysql::Error::IoError(io) => SyncError::Unreachable { addr: addr.into(), why: io.to_string() },
        ::mysql::Error::DriverError(d) => {
            let s = d.to_string();
            if s.to_lowercase().contains("connect") {
                SyncError::Unreachable { addr: addr.into(), why: s }
            } else {
                SyncError::Server(s)
            }
        }
        ::mysql::Error::UrlError(u) => {
            SyncError::Config(format!("bad MySQL URL ({u}); use mysql://user:pass@host:3306/ecommerce_analysis"))
        }
        other => SyncError::Server(other.to_string()),
    }
}

/// Checks the server's `VERSION()`: MySQL 5.7+ or MariaDB 10.3+.
pub fn version_ok(v: &str) -> bool {
    let nums: Vec<u32> = v.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).take(2).filter_map(|s| s.parse().ok()).collect();
    let (major, minor) = (nums.first().copied().unwrap_or(0), nums.get(1).copied().unwrap_or(0));
    if v.to_lowercase().contains("mariadb") {
        (major, minor) >= (10, 3)
    } else {
        (major, minor) >= (5, 7)
    }
}

/// The default database when the URL names none.
pub const DEFAULT_DATABASE: &str = "ecommerce_analysis";

/// The database a URL names: its path, or [`DEFAULT_DATABASE`] when it has none. A path that is
/// present but empty (`…:3306/`) is refused rather than silently read as the default.
pub fn database_of(url: &str, parsed: Option<&str>) -> Result<String, SyncError> {
    let rest = url.split_once("://").map_or(url, |x| x.1);
    let host_and_path = rest.rsplit_once('@').map_or(rest, |x| x.1);
    match (host_and_path.split_once('/'), parsed) {
        (_, Some(db)) if !db.is_empty() => Ok(db.to_string()),
        (Some((_, path)), _) if path.split(['?', '#']).next().unwrap_or("").is_empty() => Err(SyncError::Config(format!(
            "the MySQL URL ends in '/' but names no database; add one (mysql://…:3306/{DEFAULT_DATABASE}) or drop the '/' to use the default {DEFAULT_DATABASE} / URL 中缺少数据库名"
        ))),
        _ => Ok(DEFAULT_DATABASE.to_string()),
    }
}

/// Connects to host:port and waits up to `timeout` for a MySQL greeting (the server speaks
/// first: protocol version 10, or an error packet such as "host not allowed"). Anything else (no
/// answer, a Redis or HTTP server, a closed connection) is a one-line error naming the address.
fn probe(host: &str, port: u16, timeout: std::time::Duration) -> Result<(), SyncError> {
    use std::io::Read;
    use std::net::ToSocketAddrs;
    let addr = format!("{host}:{port}");
    let unreachable = |why: String| SyncError::Unreachable { addr: addr.clone(), why };
    let targets: Vec<_> = (host, port).to_socket_addrs().map_err(|e| unreachable(e.to_string()))?.collect();
    let mut last = String::from("no address");
    for t in targets {
        let mut s = match std::net::TcpStream::connect_timeout(&t, timeout) {
            Ok(s) => s,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        let _ = s.set_read_timeout(Some(timeout));
        let mut head = [0u8; 5];
        return match s.read_exact(&mut head) {
            Ok(()) if head[4] == 10 || head[4] == 0xff => Ok(()),
            Ok(()) => Err(SyncError::NotMysql { addr, why: format!("its first bytes {:02x?} are not a MySQL greeting", head) }),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => Err(SyncError::NotMysql {
                addr,
                why: format!("it accepted the connection but sent no MySQL greeting within {} s", timeout.as_secs_f64()),
            }),
            Err(e) => Err(SyncError::NotMysql { addr, why: format!("it closed the connection without a MySQL greeting ({e})") }),
        };
    }
    Err(unreachable(last))
}

/// A connected mirror.
pub struct Mirror {
    conn: Conn,
    /// The database name.
    pub db: String,
    /// The user.
    pub user: String,
    /// host:port.
    pub addr: String,
}

impl Mirror {
    /// Connects, checks the version, creates the database if missing and selects it. `timeout`
    /// bounds the connect and the wait for the server's greeting, so a port where something else
    /// listens (or nothing answers) fails fast with a sentence naming it (`probe`: check the
    /// greeting on a separate connection first; the first connection of a sync does).
    pub fn connect(url: &str, timeout: std::time::Duration, probe_first: bool) -> Result<Mirror, SyncError> {
        let opts = Opts::from_url(url)
            .map_err(|e| SyncError::Config(format!("bad MySQL URL ({e}); use mysql://user:pass@host:3306/ecommerce_analysis")))?;
        let db = database_of(url, opts.get_db_name())?;
        if !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(SyncError::Config(format!("database name '{db}' in the URL must be letters, digits and _")));
        }
        let user = opts.get_user().unwrap_or("root").to_string();
        let addr = format!("{}:{}", opts.get_ip_or_hostname(), opts.get_tcp_port());
        if probe_first {
            probe(&opts.get_ip_or_hostname(), opts.get_tcp_port(), timeout)?;
        }
        let b = OptsBuilder::from_opts(opts).db_name(None::<String>).prefer_socket(false).tcp_connect_timeout(Some(timeout)).init(vec![
            "SET NAMES utf8mb4",
            "SET time_zone = '+00:00'",
            "SET unique_checks = 0",
            "SET foreign_key_checks = 0",
        ]);
        let mut conn = Conn::new(b).map_err(|e| map_err(e, &user, &db, &addr))?;
        let version: String = conn.query_first("SELECT VERSION()").map_err(|e| map_err(e, &user, &db, &addr))?.unwrap_or_default();
        if !version_ok(&version) {
            return Err(SyncError::TooOld(version));
        }
        let mut m = Mirror { conn, db: db.clone(), user, addr };
        m.exec(&format!("CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))?;
        m.exec(&format!("USE `{db}`"))?;
        Ok(m)
    }

    /// Runs a statement.
    pub fn exec(&mut self, sql: &str) -> Result<(), SyncError> {
        let (u, d, a) = (self.user.clone(), self.db.clone(), self.addr.clone());
        self.conn.query_drop(sql).map_err(|e| map_err(e, &u, &d, &a))
    }

    /// Runs a query returning rows of one type.
    pub fn query<T: ::mysql::prelude::FromRow>(&mut self, sql: &str) -> Result<Vec<T>, SyncError> {
        let (u, d, a) = (self.user.clone(), self.db.clone(), self.addr.clone());
        self.conn.query(sql).map_err(|e| map_err(e, &u, &d, &a))
    }

    fn table_exists(&mut self, name: &str) -> Result<bool, SyncError> {
        let n: Vec<i64> = self.query(&format!(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = '{}' AND table_name = '{name}'",
            self.db
        ))?;
        Ok(n.first().copied().unwrap_or(0) > 0)
    }

    /// Row count and per-behaviour counts of a user_behavior-shaped table.
    pub fn behavior_counts(&mut self, table: &str) -> Result<[u64; 5], SyncError> {
        let rows: Vec<(String, i64)> =
            self.query(&format!("SELECT CAST(behavior_type AS CHAR), count(*) FROM `{table}` GROUP BY behavior_type"))?;
        let mut out = [0u64; 5];
        for (b, n) in rows {
            if let Some(i) = crate::ingest::parse::BEHAVIORS.iter().position(|x| *x == b) {
                out[i + 1] = n as u64;
                out[0] += n as u64;
            }
        }
        Ok(out)
    }

    fn count(&mut self, table: &str) -> Result<u64, SyncError> {
        let n: Vec<i64> = self.query(&format!("SELECT count(*) FROM `{table}`"))?;
        Ok(n.first().copied().unwrap_or(0) as u64)
    }

    /// Streams `rows` (tab-separated lines from a producer) into `table`, by LOAD DATA LOCAL INFILE
    /// or, if `insert` is set, multi-row INSERTs. Returns rows sent.
    fn load(&mut self, table: &str, cols: &str, rx: mpsc::Receiver<Vec<u8>>, insert: bool) -> Result<(), SyncError> {
        if insert {
            // Statements of INSERT_BATCH rows each, as pandas' to_sql(chunksize=10000) sends them.
            let mut pending: Vec<u8> = Vec::new();
            let mut lines = 0usize;
            for chunk in rx.iter() {
                for line in chunk.split_inclusive(|b| *b == b'\n') {
                    pending.extend_from_slice(line);
                    lines += 1;
                    if lines == INSERT_BATCH {
                        self.exec(&tsv_to_insert(table, cols, &pending))?;
                        pending.clear();
                        lines = 0;
                    }
                }
            }
            if lines > 0 {
                self.exec(&tsv_to_insert(table, cols, &pending))?;
            }
            return Ok(());
        }
        let rx = Arc::new(Mutex::new(Some(rx)));
        let handler_rx = rx.clone();
        self.conn.set_local_infile_handler(Some(LocalInfileHandler::new(move |_name, w| {
            if let Some(rx) = handler_rx.lock().expect("infile").take() {
                for chunk in rx.iter() {
                    w.write_all(&chunk)?;
                }
            }
            w.flush()
        })));
        let sql = format!(
            "LOAD DATA LOCAL INFILE 'ecomm-stream' INTO TABLE `{table}` CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' {cols}"
        );
        let r = self.exec(&sql);
        self.conn.set_local_infile_handler(None);
        // Drain whatever the handler did not take, so the producer can finish.
        if let Some(rx) = rx.lock().expect("infile").take() {
            for _ in rx.iter() {}
        }
        r
    }

    /// Whether the server accepts LOAD DATA LOCAL INFILE (probes with an empty stream).
    pub fn local_infile_works(&mut self) -> Result<bool, SyncError> {
        self.exec("CREATE TEMPORARY TABLE IF NOT EXISTS ecomm_probe (x INT)")?;
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(1);
        drop(tx);
        let r = self.load("ecomm_probe", "(x)", rx, false);
        let _ = self.exec("DROP TEMPORARY TABLE IF EXISTS ecomm_probe");
        match r {
            Ok(()) => Ok(true),
            Err(SyncError::Server(msg)) if is_local_infile_refusal(&msg) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn is_local_infile_refusal(msg: &str) -> bool {
    let m = msg.to_lowercase();
    m.contains("code 1148")
        || m.contains("code 3948")
        || m.contains("code 4166")
        || m.contains("local infile")
        || m.contains("local data")
        || m.contains("not allowed")
}

/// Turns tab-separated lines into one multi-row INSERT (`\N` is NULL; numbers stay bare; the rest is quoted).
fn tsv_to_insert(table: &str, cols: &str, chunk: &[u8]) -> String {
    let text = String::from_utf8_lossy(chunk);
    let mut sql = String::with_capacity(chunk.len() * 2 + 100);
    let mut first = true;
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        sql.push_str(if first { "(" } else { ",(" });
        first = false;
        for (i, f) in line.split('\t').enumerate() {
            if i > 0 {
                sql.push(',');
            }
            if f == "\\N" {
                sql.push_str("NULL");
            } else if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit() || b == b'-') && !f[1..].contains('-') {
                sql.push_str(f);
            } else {
                sql.push('\'');
                sql.push_str(&f.replace('\\', "\\\\").replace('\'', "''"));
                sql.push('\'');
            }
        }
        sql.push(')');
    }
    if first {
        return String::new();
    }
    format!("INSERT INTO `{table}` {cols} VALUES {sql}")
}

/// Rows per INSERT statement on the fallback path.
pub const INSERT_BATCH: usize = 10_000;

/// Chunk size of the producer's messages.
const CHUNK: usize = 1 << 20;

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's civil_from_days).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn push_date(out: &mut Vec<u8>, day: i64) {
    let (y, m, d) = civil(day);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

fn push_datetime(out: &mut Vec<u8>, secs: i64) {
    push_date(out, secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let _ = write!(out, " {:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60);
}

/// Streams `user_behavior` rows of the given ingest ids (all when None) as TSV chunks, one stream
/// per sender: a row goes to stream `user_id mod n`, the partition MySQL's `PARTITION BY HASH
/// (user_id) PARTITIONS n` puts it in (ids are non-negative, cleaning rule 2).
fn produce_behavior(
    conn: duckdb::Connection,
    ids: Option<Vec<u32>>,
    txs: Vec<mpsc::SyncSender<Vec<u8>>>,
    sent: Arc<std::sync::atomic::AtomicU64>,
) -> Result<(), SyncError> {
    let filter = match &ids {
        Some(v) => format!("WHERE ingest_id IN ({})", v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")),
        None => String::new(),
    };
    let mut st = conn.prepare(&format!(
        "SELECT user_id, item_id, category_id, enum_code(behavior_type)::UTINYINT, ts, epoch(event_time)::BIGINT, event_hour, ingest_id FROM user_behavior {filter}"
    ))?;
    let n = txs.len().max(1) as i64;
    let mut bufs: Vec<Vec<u8>> = (0..n).map(|_| Vec::with_capacity(CHUNK + 4096)).collect();
    // Streams whose consumer has gone (it failed; its error is reported by the loader).
    let mut closed = vec![false; n as usize];
    let mut ib = itoa::Buffer::new();
    for batch in st.query_arrow([])? {
        let u = batch.column(0).as_primitive::<Int64Type>();
        let i = batch.column(1).as_primitive::<Int64Type>();
        let c = batch.column(2).as_primitive::<Int64Type>();
        let b = batch.column(3).as_primitive::<UInt8Type>();
        let ts = batch.column(4).as_primitive::<Int64Type>();
        let lt = batch.column(5).as_primitive::<Int64Type>();
        let h = batch.column(6).as_primitive::<UInt8Type>();
        let g = batch.column(7).as_primitive::<UInt32Type>();
        for r in 0..batch.num_rows() {
            let user = u.value(r);
            let buf = &mut bufs[user.rem_euclid(n) as usize];
            buf.extend_from_slice(ib.format(user).as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(ib.format(i.value(r)).as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(ib.format(c.value(r)).as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(crate::ingest::parse::BEHAVIORS[b.value(r) as usize].as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(ib.format(ts.value(r)).as_bytes());
            buf.push(b'\t');
            let l = lt.value(r);
            push_datetime(buf, l);
            buf.push(b'\t');
            push_date(buf, l.div_euclid(86_400));
            buf.push(b'\t');
            buf.extend_from_slice(ib.format(h.value(r)).as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(ib.format(g.value(r)).as_bytes());
            buf.push(b'\n');
        }
        sent.fetch_add(batch.num_rows() as u64, std::sync::atomic::Ordering::Relaxed);
        for (k, buf) in bufs.iter_mut().enumerate() {
            if buf.len() >= CHUNK && !closed[k] && txs[k].send(std::mem::replace(buf, Vec::with_capacity(CHUNK + 4096))).is_err() {
                closed[k] = true;
            }
            if closed[k] {
                buf.clear();
            }
        }
        if closed.iter().all(|c| *c) {
            return Ok(());
        }
    }
    for (k, buf) in bufs.into_iter().enumerate() {
        if !buf.is_empty() && !closed[k] {
            let _ = txs[k].send(buf);
        }
    }
    Ok(())
}

/// Streams `user_summary` as TSV chunks (sorted by user_id, the mirror's primary key).
fn produce_summary(
    conn: duckdb::Connection,
    txs: Vec<mpsc::SyncSender<Vec<u8>>>,
    sent: Arc<std::sync::atomic::AtomicU64>,
) -> Result<(), SyncError> {
    let tx = txs.into_iter().next().expect("one stream");
    let mut st = conn.prepare(
        "SELECT user_id, pv, fav, cart, buy, epoch(last_buy_at)::BIGINT, epoch(first_event_at)::BIGINT, epoch(last_event_at)::BIGINT,
                active_days, distinct_items, recency_days::BIGINT, frequency, monetary, r_score::BIGINT, f_score::BIGINT, m_score::BIGINT, segment
         FROM user_summary ORDER BY user_id",
    )?;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
    let mut rows = st.query([])?;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        for k in 0..17 {
            if k > 0 {
                buf.push(b'\t');
            }
            match k {
                5..=7 => match r.get::<_, Option<i64>>(k)? {
                    Some(v) => push_datetime(&mut buf, v),
                    None => buf.extend_from_slice(b"\\N"),
                },
                16 => match r.get::<_, Option<String>>(k)? {
                    Some(s) => buf.extend_from_slice(s.as_bytes()),
                    None => buf.extend_from_slice(b"\\N"),
                },
                _ => match r.get::<_, Option<i64>>(k)? {
                    Some(v) => {
                        let _ = write!(buf, "{v}");
                    }
                    None => buf.extend_from_slice(b"\\N"),
                },
            }
        }
        buf.push(b'\n');
        n += 1;
        if buf.len() >= CHUNK {
            sent.store(n, std::sync::atomic::Ordering::Relaxed);
            if tx.send(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 4096))).is_err() {
                return Ok(());
            }
        }
    }
    sent.store(n, std::sync::atomic::Ordering::Relaxed);
    if !buf.is_empty() {
        let _ = tx.send(buf);
    }
    Ok(())
}

/// DuckDB's counts: total and per behaviour (for all rows or some ingest ids).
fn duck_counts(conn: &duckdb::Connection, ids: Option<&[u32]>) -> Result<[u64; 5], SyncError> {
    let filter = match ids {
        Some(v) if !v.is_empty() => format!("WHERE ingest_id IN ({})", v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")),
        Some(_) => "WHERE false".into(),
        None => String::new(),
    };
    let mut out = [0u64; 5];
    let mut st = conn.prepare(&format!("SELECT enum_code(behavior_type)::INTEGER, count(*) FROM user_behavior {filter} GROUP BY 1"))?;
    let rows = st.query_map([], |r| Ok((r.get::<_, i32>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (b, n) = row?;
        out[b as usize + 1] = n as u64;
        out[0] += n as u64;
    }
    Ok(out)
}

/// Feeds one TSV stream per sender from a DuckDB connection, counting rows sent.
type Producer =
    Box<dyn FnOnce(duckdb::Connection, Vec<mpsc::SyncSender<Vec<u8>>>, Arc<std::sync::atomic::AtomicU64>) -> Result<(), SyncError> + Send>;

/// Runs a producer thread feeding one `Mirror::load` per (connection, table) pair, the loads in
/// parallel threads, and shows rows/s. Returns the seconds it took.
#[allow(clippy::too_many_arguments)]
fn transfer(
    mirrors: &mut [Mirror],
    duck: &duckdb::Connection,
    tables: &[String],
    cols: &str,
    insert: bool,
    expected: u64,
    progress: bool,
    produce: Producer,
) -> Result<f64, SyncError> {
    assert_eq!(mirrors.len(), tables.len(), "one connection per table");
    let t0 = Instant::now();
    let pb = if progress { ProgressBar::new(expected) } else { ProgressBar::hidden() };
    pb.set_style(
        ProgressStyle::with_template("{spinner} sync {prefix} [{bar:30}] {human_pos}/{human_len} rows {per_sec} ({elapsed})")
            .expect("template")
            .progress_chars("=> "),
    );
    let prefix = tables[0].trim_end_matches("__stage_p0").trim_end_matches("__stage").trim_end_matches("__inc").to_string();
    pb.set_prefix(if tables.len() > 1 { format!("{prefix} ({} streams)", tables.len()) } else { prefix });
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..tables.len()).map(|_| mpsc::sync_channel::<Vec<u8>>(4)).unzip();
    let dconn = duck.try_clone()?;
    let s2 = sent.clone();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d2 = done.clone();
    let pb2 = pb.clone();
    let ticker = std::thread::spawn(move || {
        while !d2.load(std::sync::atomic::Ordering::Relaxed) {
            pb2.set_position(s2.load(std::sync::atomic::Ordering::Relaxed));
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    });
    let prod = std::thread::spawn(move || produce(dconn, txs, sent));
    let loads: Vec<Result<(), SyncError>> = std::thread::scope(|sc| {
        let handles: Vec<_> =
            mirrors.iter_mut().zip(tables).zip(rxs).map(|((m, t), rx)| sc.spawn(move || m.load(t, cols, rx, insert))).collect();
        handles.into_iter().map(|h| h.join().expect("loader thread")).collect()
    });
    let p = prod.join().expect("producer thread");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = ticker.join();
    pb.finish_and_clear();
    for r in loads {
        r?;
    }
    p?;
    Ok(t0.elapsed().as_secs_f64())
}

/// Runs a sync.
pub fn run(cfg: &SyncConfig) -> Result<SyncSummary, SyncError> {
    let t0 = Instant::now();
    let duck = store::open(&cfg.db, Mode::ReadOnly, &OpenOptions::default())?;
    store::require_window(&duck, &cfg.db)?;
    let generation = store::meta_get(&duck, "generation")?.unwrap_or_default();
    let mut m = Mirror::connect(&cfg.url, cfg.timeout, true)?;
    let method_insert = cfg.no_local_infile || !m.local_infile_works()?;
    if method_insert && !cfg.no_local_infile {
        eprintln!(
            "note: the server refuses LOAD DATA LOCAL INFILE (local_infile is OFF); falling back to multi-row INSERT batches, which is several times slower. Enable it with SET GLOBAL local_infile = 1 (the bundled docker-compose.yml does). / 服务器未开启 local_infile，改用批量 INSERT"
        );
    }
    // Leftovers of a killed sync.
    for t in [
        "user_behavior__stage",
        "user_behavior__old",
        "user_behavior__inc",
        "user_summary__stage",
        "user_summary__old",
        "ecomm_sync_log__stage",
        "ecomm_sync_log__old",
    ] {
        m.exec(&format!("DROP TABLE IF EXISTS `{t}`"))?;
    }
    let parts: Vec<String> = m.query(&format!(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = '{}' AND table_name LIKE 'user\\_behavior\\_\\_stage\\_p%'",
        m.db
    ))?;
    for t in parts {
        m.exec(&format!("DROP TABLE IF EXISTS `{t}`"))?;
    }
    let all_ids: Vec<u32> = {
        let mut st = duck.prepare("SELECT DISTINCT ingest_id FROM user_behavior ORDER BY 1")?;
        let rows = st.query_map([], |r| r.get::<_, u32>(0))?;
        rows.collect::<Result<_, _>>()?
    };
    // DuckDB's counts (total and per behaviour): what a full sync sends and what the mirror must hold.
    // The read-only connection keeps writers out, so they cannot change during the sync.
    let all_counts = duck_counts(&duck, None)?;
    let mut summary = SyncSummary {
        target: url::redact(&cfg.url),
        database: m.db.clone(),
        mode: "incremental".into(),
        reason: String::new(),
        method: if method_insert { "insert" } else { "load_data" }.into(),
        batches: vec![],
        tables: vec![],
        verified: false,
        seconds: 0.0,
    };

    // `user_summary` is staged (and verified) before anything visible changes, so that it can
    // move in together with `user_behavior` and the sync log: in the same RENAME TABLE for a full
    // sync, in the same transaction for an incremental one. A kill at any point leaves exactly
    // the old mirror or exactly the new one.
    let staged_summary =
        if cfg.tables.contains(&Table::UserSummary) { Some(stage_summary(&mut m, &duck, cfg, method_insert)?) } else { None };
    pause_hook("summary_staged");
    let have_summary = m.table_exists("user_summary")?;

    if cfg.tables.contains(&Table::UserBehavior) {
        let have_ub = m.table_exists("user_behavior")?;
        let have_log = m.table_exists("ecomm_sync_log")?;
        let mirrored: Vec<(String, u32)> = if have_log { m.query("SELECT generation, ingest_id FROM ecomm_sync_log")? } else { vec![] };
        let same_gen = !mirrored.is_empty() && mirrored.iter().all(|(g, _)| *g == generation);
        let full_reason = if cfg.full {
            Some("--full")
        } else if !have_ub || !have_log {
            Some("no mirror yet")
        } else if !mirrored.is_empty() && !same_gen {
            Some("the DuckDB file was rebuilt (ingest --replace)")
        } else if mirrored.iter().any(|(_, id)| !all_ids.contains(id)) {
            Some("the mirror holds batches the DuckDB file no longer has")
        } else if staged_summary.is_some() && !have_summary {
            Some("the mirror has no user_summary yet")
        } else {
            None
        };
        let t1 = Instant::now();
        let (sent, stream_s) = if let Some(reason) = full_reason {
            summary.mode = "full".into();
            summary.reason = reason.into();
            summary.batches = all_ids.clone();
            let swap = Swap { have_ub, have_log, summary: staged_summary.is_some(), have_summary };
            (all_counts[0], full_behavior(&mut m, &duck, cfg, method_insert, all_counts, &generation, &all_ids, swap)?)
        } else {
            let have: Vec<u32> = mirrored.iter().map(|(_, id)| *id).collect();
            let new_ids: Vec<u32> = all_ids.iter().copied().filter(|id| !have.contains(id)).collect();
            summary.batches = new_ids.clone();
            incremental_behavior(&mut m, &duck, cfg, method_insert, &generation, new_ids, staged_summary.is_some())?
        };
        let secs = t1.elapsed().as_secs_f64();
        // A full sync's mirror is exactly the stage it verified; an incremental one is counted.
        let mirror_rows = if summary.mode == "full" { all_counts[0] } else { m.count("user_behavior")? };
        summary.tables.push(TableOut {
            table: "user_behavior".into(),
            rows: sent,
            mirror_rows,
            seconds: secs,
            rows_per_sec: sent as f64 / secs.max(1e-9),
            load_seconds: stream_s,
            load_rows_per_sec: sent as f64 / f64::max(stream_s, 1e-9),
        });
    } else if staged_summary.is_some() {
        // Only user_summary: swap it in alone.
        swap_in(&mut m, &[("user_summary", have_summary)])?;
    }
    if let Some((n, secs, stream_s)) = staged_summary {
        summary.tables.push(TableOut {
            table: "user_summary".into(),
            rows: n,
            mirror_rows: n,
            seconds: secs,
            rows_per_sec: n as f64 / secs.max(1e-9),
            load_seconds: stream_s,
            load_rows_per_sec: n as f64 / stream_s.max(1e-9),
        });
    }

    // Verification of the whole mirror. A full sync verified its stage before the atomic swap (the
    // rename moves exactly that table), so only an incremental sync counts the result again.
    if cfg.tables.contains(&Table::UserBehavior) && summary.mode != "full" {
        let expected = all_counts;
        let got = m.behavior_counts("user_behavior")?;
        if got != expected {
            return Err(SyncError::Verify(format!(
                "MySQL user_behavior counts {got:?} (total, pv, fav, cart, buy) differ from DuckDB's {expected:?}"
            )));
        }
    }
    if cfg.tables.contains(&Table::UserSummary) {
        let n: i64 = duck.query_row("SELECT count(*) FROM user_summary", [], |r| r.get(0))?;
        let got = m.count("user_summary")?;
        if got != n as u64 {
            return Err(SyncError::Verify(format!("MySQL user_summary has {got} rows, DuckDB {n}")));
        }
    }
    summary.verified = true;
    drop(duck);
    record_in_duckdb(cfg, &summary, &generation)?;
    summary.seconds = t0.elapsed().as_secs_f64();
    Ok(summary)
}

/// Loads DuckDB's `user_summary` into `user_summary__stage` and checks its row count. Returns
/// (rows, seconds, streaming seconds).
fn stage_summary(m: &mut Mirror, duck: &duckdb::Connection, cfg: &SyncConfig, insert: bool) -> Result<(u64, f64, f64), SyncError> {
    let t1 = Instant::now();
    let n: i64 = duck.query_row("SELECT count(*) FROM user_summary", [], |r| r.get(0))?;
    m.exec(&ddl(US_DDL, "user_summary__stage"))?;
    let stream_s = transfer(
        std::slice::from_mut(m),
        duck,
        &["user_summary__stage".to_string()],
        US_COLS,
        insert,
        n as u64,
        cfg.progress,
        Box::new(produce_summary),
    )?;
    let got = m.count("user_summary__stage")?;
    if got != n as u64 {
        return Err(SyncError::Verify(format!("staged user_summary has {got} rows, DuckDB {n}")));
    }
    Ok((n as u64, t1.elapsed().as_secs_f64(), stream_s))
}

/// Swaps `<table>__stage` in for each `(table, exists)` with one atomic `RENAME TABLE`, then drops
/// the old tables.
fn swap_in(m: &mut Mirror, tables: &[(&str, bool)]) -> Result<(), SyncError> {
    let mut renames = vec![];
    for (t, exists) in tables {
        if *exists {
            renames.push(format!("{t} TO {t}__old"));
        }
        renames.push(format!("{t}__stage TO {t}"));
    }
    pause_hook("before_rename");
    m.exec(&format!("RENAME TABLE {}", renames.join(", ")))?;
    pause_hook("after_rename");
    let olds: Vec<String> = tables.iter().map(|(t, _)| format!("{t}__old")).collect();
    m.exec(&format!("DROP TABLE IF EXISTS {}", olds.join(", ")))?;
    Ok(())
}

/// Which tables a full sync swaps in, and which of them exist already.
struct Swap {
    have_ub: bool,
    have_log: bool,
    /// `user_summary__stage` is ready and moves in too.
    summary: bool,
    have_summary: bool,
}

/// A full sync of `user_behavior`: stage, verify, then swap it, the sync log and the staged
/// `user_summary` in together. Returns the streaming seconds.
#[allow(clippy::too_many_arguments)]
fn full_behavior(
    m: &mut Mirror,
    duck: &duckdb::Connection,
    cfg: &SyncConfig,
    insert: bool,
    expected: [u64; 5],
    generation: &str,
    all_ids: &[u32],
    swap: Swap,
) -> Result<f64, SyncError> {
    // The stage is partitioned by user_id into `streams` parts. With LOAD DATA each part is
    // loaded on its own connection into its own table, the loads in parallel (the server
    // then works on several tables at once), the tables are indexed in parallel, and each is
    // swapped into its partition with EXCHANGE PARTITION, which checks that every row belongs
    // there. The INSERT fallback sends one stream to the stage itself, indexes in place.
    m.exec(&format!("{} PARTITION BY HASH (user_id) PARTITIONS {}", ddl(UB_DDL, "user_behavior__stage"), cfg.streams))?;
    m.exec(&ddl(UB_INDEXES, "user_behavior__stage"))?;
    let tables: Vec<String> =
        if insert { vec!["user_behavior__stage".into()] } else { (0..cfg.streams).map(|k| format!("user_behavior__stage_p{k}")).collect() };
    let mut conns = Vec::with_capacity(tables.len());
    for t in &tables {
        if !insert {
            m.exec(&ddl(UB_DDL, t))?;
        }
        conns.push(Mirror::connect(&cfg.url, cfg.timeout, false)?);
    }
    let load_s = transfer(
        &mut conns,
        duck,
        &tables,
        UB_COLS,
        insert,
        expected[0],
        cfg.progress,
        Box::new(|c, tx, s| produce_behavior(c, None, tx, s)),
    )?;
    // The per-stream tables get their indexes after the load, each built by one sort on its own
    // connection, all at once: 10 M rows measured 236-240k rows/s this way against 217-232k with
    // the indexes maintained row by row during the load (2-core machine, MariaDB 10.11).
    if !insert {
        let t1 = Instant::now();
        let res: Vec<Result<(), SyncError>> = std::thread::scope(|sc| {
            let hs: Vec<_> = conns.iter_mut().zip(&tables).map(|(c, t)| sc.spawn(move || c.exec(&ddl(UB_INDEXES, t)))).collect();
            hs.into_iter().map(|h| h.join().expect("index thread")).collect()
        });
        for r in res {
            r?;
        }
        crate::ingest::trace_here(&format!("indexes built in {:.2} s", t1.elapsed().as_secs_f64()));
    }
    drop(conns);
    pause_hook("after_stream");
    if !insert {
        for (k, t) in tables.iter().enumerate() {
            m.exec(&format!("ALTER TABLE user_behavior__stage EXCHANGE PARTITION p{k} WITH TABLE `{t}`"))?;
            m.exec(&format!("DROP TABLE `{t}`"))?;
        }
        crate::ingest::trace_here("partitions exchanged");
    }
    crate::ingest::trace_here(&format!("user_behavior streamed in {load_s:.2} s"));
    let got = m.behavior_counts("user_behavior__stage")?;
    crate::ingest::trace_here("stage verified");
    if got != expected {
        return Err(SyncError::Verify(format!(
            "staged user_behavior counts {got:?} (total, pv, fav, cart, buy) differ from DuckDB's {expected:?}"
        )));
    }
    m.exec(&ddl(LOG_DDL, "ecomm_sync_log__stage"))?;
    if !all_ids.is_empty() {
        let per = batch_rows(duck)?;
        let values: Vec<String> = per.iter().map(|(id, n)| format!("('{generation}', {id}, {n}, UTC_TIMESTAMP())")).collect();
        m.exec(&format!("INSERT INTO ecomm_sync_log__stage VALUES {}", values.join(",")))?;
    }
    let mut tables = vec![("user_behavior", swap.have_ub), ("ecomm_sync_log", swap.have_log)];
    if swap.summary {
        tables.push(("user_summary", swap.have_summary));
    }
    swap_in(m, &tables)?;
    Ok(load_s)
}

/// An incremental sync: the batches `new_ids` go to `user_behavior__inc`, are verified, then move
/// into `user_behavior` with their log rows, and the staged `user_summary` replaces the mirror's
/// rows, in one InnoDB transaction. Returns (rows sent, streaming seconds).
fn incremental_behavior(
    m: &mut Mirror,
    duck: &duckdb::Connection,
    cfg: &SyncConfig,
    insert: bool,
    generation: &str,
    new_ids: Vec<u32>,
    with_summary: bool,
) -> Result<(u64, f64), SyncError> {
    if new_ids.is_empty() {
        // The behaviour mirror is current; the staged summary (of the same data) moves in alone.
        if with_summary {
            swap_in(m, &[("user_summary", true)])?;
        }
        return Ok((0, 0.0));
    }
    let expected = duck_counts(duck, Some(&new_ids))?;
    m.exec(&ddl(UB_DDL, "user_behavior__inc"))?;
    let ids = new_ids.clone();
    let stream_s = transfer(
        std::slice::from_mut(m),
        duck,
        &["user_behavior__inc".to_string()],
        UB_COLS,
        insert,
        expected[0],
        cfg.progress,
        Box::new(move |c, tx, s| produce_behavior(c, Some(ids), tx, s)),
    )?;
    let got = m.behavior_counts("user_behavior__inc")?;
    if got != expected {
        return Err(SyncError::Verify(format!("staged batch counts {got:?} differ from DuckDB's {expected:?}")));
    }
    let per = batch_rows(duck)?;
    let values: Vec<String> =
        per.iter().filter(|(id, _)| new_ids.contains(id)).map(|(id, n)| format!("('{generation}', {id}, {n}, UTC_TIMESTAMP())")).collect();
    pause_hook("before_commit");
    m.exec("START TRANSACTION")?;
    m.exec(&format!("INSERT INTO user_behavior {UB_COLS} SELECT {} FROM user_behavior__inc", select_list(UB_COLS)))?;
    m.exec(&format!("INSERT INTO ecomm_sync_log VALUES {}", values.join(",")))?;
    if with_summary {
        m.exec("DELETE FROM user_summary")?;
        m.exec(&format!("INSERT INTO user_summary {US_COLS} SELECT {} FROM user_summary__stage", select_list(US_COLS)))?;
    }
    pause_hook("in_commit");
    m.exec("COMMIT")?;
    pause_hook("after_commit");
    m.exec("DROP TABLE IF EXISTS user_behavior__inc, user_summary__stage")?;
    Ok((expected[0], stream_s))
}

fn batch_rows(duck: &duckdb::Connection) -> Result<Vec<(u32, u64)>, SyncError> {
    let mut st = duck.prepare("SELECT ingest_id, count(*) FROM user_behavior GROUP BY 1 ORDER BY 1")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Keeps a sync log in the DuckDB file too (`mysql_sync_log`).
fn record_in_duckdb(cfg: &SyncConfig, s: &SyncSummary, generation: &str) -> Result<(), SyncError> {
    let conn = store::open(&cfg.db, Mode::ReadWrite, &OpenOptions::default())?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS mysql_sync_log (target VARCHAR, generation VARCHAR, mode VARCHAR, method VARCHAR, batches VARCHAR, rows UBIGINT, seconds DOUBLE, synced_at VARCHAR)",
    )?;
    let rows: u64 = s.tables.iter().map(|t| t.rows).sum();
    conn.execute(
        "INSERT INTO mysql_sync_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        duckdb::params![
            s.target,
            generation,
            s.mode,
            s.method,
            s.batches.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(","),
            rows,
            t_secs(s),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
        ],
    )?;
    Ok(())
}

fn t_secs(s: &SyncSummary) -> f64 {
    s.tables.iter().map(|t| t.seconds).sum()
}

/// Test hook: with `ECOMM_TEST_SYNC_PAUSE=<point>:<marker file>`, writes the marker and sleeps at that point.
fn pause_hook(point: &str) {
    if let Ok(v) = std::env::var("ECOMM_TEST_SYNC_PAUSE") {
        if let Some((p, marker)) = v.split_once(':') {
            if p == point {
                let _ = std::fs::write(marker, point);
                std::thread::sleep(std::time::Duration::from_secs(120));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(version_ok("8.0.36"));
        assert!(version_ok("5.7.44-log"));
        assert!(!version_ok("5.6.51"));
        assert!(version_ok("10.11.19-MariaDB-0+deb12u1"));
        assert!(!version_ok("10.1.48-MariaDB"));
    }

    #[test]
    fn dates() {
        let mut b = vec![];
        push_datetime(&mut b, 1_511_539_200 + 8 * 3600);
        assert_eq!(String::from_utf8(b).unwrap(), "2017-11-25 00:00:00");
        let mut b = vec![];
        push_date(&mut b, -1);
        assert_eq!(String::from_utf8(b).unwrap(), "1969-12-31");
    }

    #[test]
    fn tsv_insert() {
        let s = tsv_to_insert("t", "(a,b,c)", b"1\tpv\t\\N\n-5\t2017-11-25 00:00:00\tx'y\n");
        assert_eq!(s, "INSERT INTO `t` (a,b,c) VALUES (1,'pv',NULL),(-5,'2017-11-25 00:00:00','x''y')");
    }
}
