//! Rows from standard input (`ecomm ingest --stdin [--batch 5s|50000]`, e.g.
//! `tail -F events.csv | ecomm ingest --stdin --db shop.duckdb`): lines are collected into
//! micro-batches and each batch is one ingest (one transaction, the usual rules, rejects and
//! duplicate check) when the interval since its first line has passed or it holds the row count,
//! and at the end of the input.
//!
//! A batch is written to `<db>.stdin/` beside the DB, ingested, then removed; so killing the
//! process loses at most the lines of the batch not yet committed (and a batch file left behind
//! by a kill is simply ingested by hand). Unlike a file, a batch is never skipped for having the
//! content of an earlier one: repeated lines are counted as `duplicate` rejects.

use super::{run, IngestConfig, IngestError, IngestSummary};
use std::io::BufRead;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// When a micro-batch is committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    /// This long after its first line (e.g. `5s`, `1m`).
    Every(Duration),
    /// At this many lines (e.g. `50000`).
    Rows(usize),
}

/// Lines a time-based batch holds at most before it is committed anyway (memory bound).
pub const MAX_BATCH_ROWS: usize = 1_000_000;

impl FromStr for Batch {
    type Err = String;
    fn from_str(s: &str) -> Result<Batch, String> {
        let s = s.trim();
        let bad = || format!("'{s}' is neither a duration (500ms, 5s, 1m) nor a row count (50000) / 批次应为时长或行数");
        if let Ok(n) = s.parse::<usize>() {
            return if n == 0 { Err(bad()) } else { Ok(Batch::Rows(n)) };
        }
        let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
        let n: u64 = num.parse().map_err(|_| bad())?;
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" | "min" => Duration::from_secs(n * 60),
            _ => return Err(bad()),
        };
        if d.is_zero() || d > Duration::from_secs(3600) {
            return Err(format!("'{s}' must be more than 0 and at most 1 hour / 批次间隔应在 0 到 1 小时之间"));
        }
        Ok(Batch::Every(d))
    }
}

/// What a stream ingest did in all.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct StreamTotals {
    /// Batches committed.
    pub batches: u64,
    /// Lines read.
    pub lines: u64,
    /// Rows loaded.
    pub rows_loaded: u64,
    /// Rows rejected (any reason).
    pub rejected: u64,
    /// Rows in the DB at the end.
    pub db_rows: u64,
}

/// The folder batches are written to.
pub fn batch_dir(db: &std::path::Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".stdin");
    PathBuf::from(s)
}

/// Ingests the lines of `input` in micro-batches with `cfg` (its `inputs` are ignored), telling
/// `on` about each committed batch.
pub fn ingest_lines(
    cfg: &IngestConfig,
    batch: Batch,
    input: Box<dyn BufRead + Send>,
    on: &mut dyn FnMut(&IngestSummary),
) -> Result<StreamTotals, IngestError> {
    let dir = batch_dir(&cfg.db);
    std::fs::create_dir_all(&dir).map_err(|e| IngestError::Input(format!("cannot create {}: {e}", dir.display())))?;
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(65_536);
    std::thread::spawn(move || {
        let mut input = input;
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut totals = StreamTotals::default();
    let (mut buf, mut n, mut first): (Vec<u8>, usize, Option<Instant>) = (Vec::new(), 0, None);
    let mut seq = 0u64;
    loop {
        let wait = match (batch, first) {
            (Batch::Every(d), Some(t)) => d.saturating_sub(t.elapsed()),
            _ => Duration::from_secs(3600),
        };
        let (flush, end) = match rx.recv_timeout(wait) {
            Ok(line) => {
                if !line.iter().all(u8::is_ascii_whitespace) {
                    first.get_or_insert_with(Instant::now);
                    buf.extend_from_slice(&line);
                    if !line.ends_with(b"\n") {
                        buf.push(b'\n');
                    }
                    n += 1;
                }
                let full = match batch {
                    Batch::Rows(k) => n >= k,
                    Batch::Every(d) => n >= MAX_BATCH_ROWS || first.is_some_and(|t| t.elapsed() >= d),
                };
                (full, false)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => (n > 0, false),
            Err(mpsc::RecvTimeoutError::Disconnected) => (n > 0, true),
        };
        if flush {
            seq += 1;
            let s = commit(cfg, &dir, seq, &buf)?;
            totals.batches += 1;
            totals.lines += n as u64;
            totals.rows_loaded += s.rows_loaded;
            totals.rejected += s.rejected.malformed + s.rejected.bad_behavior + s.rejected.out_of_window + s.rejected.duplicate;
            totals.db_rows = s.db_rows;
            on(&s);
            (buf, n, first) = (Vec::new(), 0, None);
        }
        if end {
            break;
        }
    }
    let _ = std::fs::remove_dir(&dir);
    Ok(totals)
}

/// Writes one batch to a file and ingests it; removes the file once committed. A DB locked by
/// another writer is waited for (up to a minute); any other error leaves the batch file for the
/// user and says where it is.
fn commit(cfg: &IngestConfig, dir: &std::path::Path, seq: u64, rows: &[u8]) -> Result<IngestSummary, IngestError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    let file = dir.join(format!("stdin-{stamp}-{seq:05}.csv"));
    std::fs::write(&file, rows).map_err(|e| IngestError::Input(format!("cannot write {}: {e}", file.display())))?;
    let one = IngestConfig { inputs: vec![file.to_string_lossy().into_owned()], progress: false, always_new: true, ..cfg.clone() };
    let t0 = Instant::now();
    loop {
        match run(&one) {
            Ok(s) => {
                let _ = std::fs::remove_file(&file);
                return Ok(s);
            }
            Err(IngestError::Store(crate::store::StoreError::Locked(_))) if t0.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(500))
            }
            Err(e) => {
                return Err(IngestError::Input(format!(
                    "{e}\nthe batch that failed is kept in {}; fix the cause and ingest it with `ecomm ingest {} --db {}` / 本批数据已保留",
                    file.display(),
                    file.display(),
                    cfg.db.display()
                )))
            }
        }
    }
}
