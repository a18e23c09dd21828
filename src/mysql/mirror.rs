//! A connection to the mirror: the URL's database, the greeting probe, the version check,
//! errors phrased for users, and the loads (LOAD DATA LOCAL INFILE, or INSERT batches).

use super::encode::{tsv_to_insert, INSERT_BATCH};
use super::SyncError;
use ::mysql::prelude::Queryable;
use ::mysql::{Conn, LocalInfileHandler, Opts, OptsBuilder};
use std::io::Write;
use std::sync::{mpsc, Arc, Mutex};

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
pub(crate) fn probe(host: &str, port: u16, timeout: std::time::Duration) -> Result<(), SyncError> {
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
    pub(crate) conn: Conn,
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

    pub(crate) fn table_exists(&mut self, name: &str) -> Result<bool, SyncError> {
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
            if let Some(i) = crate::domain::BEHAVIORS.iter().position(|x| *x == b) {
                out[i + 1] = n as u64;
                out[0] += n as u64;
            }
        }
        Ok(out)
    }

    pub(crate) fn count(&mut self, table: &str) -> Result<u64, SyncError> {
        let n: Vec<i64> = self.query(&format!("SELECT count(*) FROM `{table}`"))?;
        Ok(n.first().copied().unwrap_or(0) as u64)
    }

    /// Streams `rows` (tab-separated lines from a producer) into `table`, by LOAD DATA LOCAL INFILE
    /// or, if `insert` is set, multi-row INSERTs. Returns rows sent.
    pub(crate) fn load(&mut self, table: &str, cols: &str, rx: mpsc::Receiver<Vec<u8>>, insert: bool) -> Result<(), SyncError> {
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

pub(crate) fn is_local_infile_refusal(msg: &str) -> bool {
    let m = msg.to_lowercase();
    m.contains("code 1148")
        || m.contains("code 3948")
        || m.contains("code 4166")
        || m.contains("local infile")
        || m.contains("local data")
        || m.contains("not allowed")
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
}
