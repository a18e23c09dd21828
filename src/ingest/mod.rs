//! `ecomm ingest`: read CSV, Parquet, spreadsheets, JSON and BSON (see [`sources`]), clean the rows and
//! load them into the DuckDB file.
//!
//! Pipeline: one reader thread cuts each file into blocks of whole lines (and hashes the bytes),
//! worker threads parse blocks in parallel (rules 1–3, local time), and the calling thread
//! appends the parsed columns to staging tables through DuckDB's Arrow appender, in chunks of
//! about 2 M rows sorted by category (so category filters can skip most of the table, see
//! [`crate::store::append::Appenders`]). Rules 4–5 and
//! the load then run as SQL inside the same transaction (see [`crate::store::load`]).

pub mod files;
pub mod parse;
mod run;
pub mod sources;
pub mod stage;
pub mod stream;
pub mod watch;
pub mod window;

pub use files::resolve_inputs;
pub use run::run;

use crate::domain::tz::Zone;
use crate::store::{OpenOptions, StoreError};
use chrono::NaiveDate;
use std::path::PathBuf;

/// Errors an ingest reports to the user.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Input path problems.
    #[error("{0}")]
    Input(String),
    /// Options that contradict the DB.
    #[error("{0}")]
    Options(String),
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<duckdb::Error> for IngestError {
    fn from(e: duckdb::Error) -> Self {
        IngestError::Store(StoreError::Db(e))
    }
}

/// A validated ingest request.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// Files, folders or glob patterns.
    pub inputs: Vec<String>,
    /// The DuckDB file.
    pub db: PathBuf,
    /// First local date of the window (with `end`).
    pub start: Option<NaiveDate>,
    /// Last local date of the window (with `start`).
    pub end: Option<NaiveDate>,
    /// Analysis time zone; None = the DB's, or Asia/Shanghai for a new DB.
    pub tz: Option<Zone>,
    /// Rebuild the DB from these files.
    pub replace: bool,
    /// DuckDB settings.
    pub open: OpenOptions,
    /// Show a progress bar.
    pub progress: bool,
    /// How sources are read (format, delimiter, sheet, mapping).
    pub read: sources::ReadOptions,
    /// Read every input even when its content was ingested before (a batch of `--stdin`, whose
    /// repeated lines are then counted as duplicates instead of skipped unseen).
    pub always_new: bool,
}

/// The default analysis time zone.
pub const DEFAULT_TZ: &str = "Asia/Shanghai";

/// Rejected rows by reason (the JSON contract's `rejected`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Rejected {
    /// Rule 2.
    pub malformed: u64,
    /// Rule 3.
    pub bad_behavior: u64,
    /// Rule 4.
    pub out_of_window: u64,
    /// Rule 5.
    pub duplicate: u64,
}

/// The window as printed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WindowOut {
    /// First date, YYYY-MM-DD.
    pub start: String,
    /// Last date, YYYY-MM-DD.
    pub end: String,
    /// Time zone name or offset.
    pub timezone: String,
}

/// One input file's outcome.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileOut {
    /// Path.
    pub file: String,
    /// `loaded` or `skipped`.
    pub status: String,
    /// Rows read.
    pub rows_read: u64,
    /// Rows loaded.
    pub rows_loaded: u64,
}

/// What an ingest did (`--format json` prints this).
#[derive(Clone, Debug, serde::Serialize)]
pub struct IngestSummary {
    /// Rows read (data lines; BOM, header and blank lines excluded).
    pub rows_read: u64,
    /// Rows loaded into `user_behavior`.
    pub rows_loaded: u64,
    /// Rejects by reason.
    pub rejected: Rejected,
    /// The window and time zone.
    pub window: WindowOut,
    /// True when the window was detected from the data in this run.
    pub window_detected: bool,
    /// The rejects CSV.
    pub rejects_file: String,
    /// The ingest's id in `ingest_log` (None when nothing was loaded).
    pub ingest_id: Option<u32>,
    /// Per-file outcome.
    pub files: Vec<FileOut>,
    /// Wall seconds.
    pub seconds: f64,
    /// Rows read per second.
    pub rows_per_sec: f64,
    /// True when every file had been ingested before and nothing changed.
    pub unchanged: bool,
    /// Rows in the DB after the ingest.
    pub db_rows: u64,
}

/// Parses sizes like `2GB`, `1500MB`, `2GiB` into bytes (decimal and binary units both as powers of 1024,
/// as DuckDB does for memory_limit).
pub fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}
