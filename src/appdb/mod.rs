//! The app database (SQLite via rusqlite): ecomm's own state beside the DuckDB file: its schema,
//! the insight cache and history (here), and the dashboard's accounts and sessions ([`accounts`]), the scheduled reports' runs ([`runs`]), alert rules and
//! their firings ([`alerts`]).
//! Insights and the dashboard both use it; it imports neither.
//!
//! It lives at `<db-stem>.app.sqlite` next to the DuckDB file (so a DB and its app state travel
//! together). Insights are cached under a key made of the fact-sheet hash, the model file hash,
//! the prompt version, the language and the seed: a repeat run with the same inputs is answered
//! from here without loading the model.

pub mod accounts;
pub mod alerts;
pub mod runs;

use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// The app DB path for a DuckDB file: `local.duckdb` → `local.app.sqlite`.
pub fn path_for(db: &Path) -> PathBuf {
    let stem = db.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "ecomm".into());
    db.with_file_name(format!("{stem}.app.sqlite"))
}

/// Creates `path` (and its WAL and shared-memory files, which SQLite opens with the database's
/// mode) with mode 0600, or takes group and other access away from existing ones.
fn owner_only(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let _ = std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path);
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            if let Ok(m) = std::fs::metadata(&p) {
                if m.permissions().mode() & 0o077 != 0 {
                    let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
                }
            }
        }
    }
}

/// An open app DB.
pub struct AppDb {
    conn: Connection,
}

impl AppDb {
    /// Opens (creating if needed) the app DB at `path`. The file holds password hashes, so it is
    /// created readable by its owner only (0600), and a looser existing file is tightened.
    pub fn open(path: &Path) -> rusqlite::Result<AppDb> {
        owner_only(path);
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS insight_cache (
                 key TEXT PRIMARY KEY,
                 facts_hash TEXT NOT NULL,
                 model_hash TEXT NOT NULL,
                 prompt_version INTEGER NOT NULL,
                 lang TEXT NOT NULL,
                 result_json TEXT NOT NULL,
                 created_at TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS users (
                 name TEXT PRIMARY KEY,
                 role TEXT NOT NULL,
                 password_hash TEXT NOT NULL,
                 created_at TEXT NOT NULL
             );
             DROP TABLE IF EXISTS sessions;
             CREATE TABLE IF NOT EXISTS login_sessions (
                 token_hash TEXT PRIMARY KEY,
                 name TEXT NOT NULL,
                 expires_at INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS scheduled_runs (
                 due TEXT PRIMARY KEY,
                 first_day TEXT NOT NULL,
                 last_day TEXT NOT NULL,
                 files TEXT NOT NULL,
                 error TEXT,
                 finished_at TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS insight_history (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 key TEXT NOT NULL,
                 source TEXT NOT NULL,
                 cached INTEGER NOT NULL,
                 seconds REAL NOT NULL,
                 created_at TEXT NOT NULL
             );",
        )?;
        conn.execute_batch(alerts::SCHEMA)?;
        Ok(AppDb { conn })
    }

    /// The cached result for `key`, if any.
    pub fn get(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn.query_row("SELECT result_json FROM insight_cache WHERE key = ?1", [key], |r| r.get(0)).optional()
    }

    /// Stores a result.
    pub fn put(&self, key: &str, facts_hash: &str, model_hash: &str, prompt_version: u32, lang: &str, json: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO insight_cache VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![key, facts_hash, model_hash, prompt_version, lang, json, chrono::Utc::now().to_rfc3339()],
        )?;
        Ok(())
    }

    /// The connection (for [`crate::appdb::accounts`]).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Records one run in the history.
    pub fn record(&self, key: &str, source: &str, cached: bool, seconds: f64) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO insight_history (key, source, cached, seconds, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![key, source, cached, seconds, chrono::Utc::now().to_rfc3339()],
        )?;
        Ok(())
    }
}
