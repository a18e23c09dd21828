//! `ecomm export`: the lists behind the numbers ([`crate::metrics::lists`]) written as CSV,
//! Excel, Parquet or JSON lines, one file per format behind one [`Writer`] trait. A file is written
//! beside its target under a temporary name and renamed when complete, so a failed or killed
//! export never leaves half a file under the name asked for.

mod csv;
mod json;
mod parquet;
mod xlsx;

use crate::metrics::lists::{self, List, UserFilter};
use crate::metrics::source::Ctx;
use crate::metrics::MetricsError;
use duckdb::arrow::record_batch::RecordBatch;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Errors of an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the list.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// Writing the file.
    #[error("cannot write {path}: {why} / 无法写入导出文件")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// An option that does not fit.
    #[error("{0}")]
    Options(String),
}

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, with a header (RFC 4180 quoting).
    Csv,
    /// Apache Parquet (zstd).
    Parquet,
    /// JSON lines: one object per row.
    Json,
    /// Excel: one sheet.
    Xlsx,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "parquet" => Ok(Format::Parquet),
            "json" | "jsonl" | "ndjson" => Ok(Format::Json),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(format!("unknown export format '{s}'; use csv, xlsx, parquet or json / 未知导出格式")),
        }
    }
}

impl Format {
    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Json => "jsonl",
            Format::Xlsx => "xlsx",
        }
    }
}

/// Parses `--what`.
pub fn parse_list(s: &str) -> Result<List, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "events" => Ok(List::Events),
        "users" => Ok(List::Users),
        "rejects" => Ok(List::Rejects),
        "metrics" => Err(
            "--what metrics (the analyses as a workbook) is not built yet (issue 16); `ecomm analyze --format json` prints them / 暂不支持"
                .into(),
        ),
        _ => Err(format!("unknown list '{s}'; use events, users or rejects / 未知导出内容")),
    }
}

/// The name of a list (its `--what`).
pub fn list_name(list: List) -> &'static str {
    match list {
        List::Events => "events",
        List::Users => "users",
        List::Rejects => "rejects",
    }
}

/// One output format: takes Arrow batches, then finishes the file.
pub trait Writer {
    /// Writes one batch.
    fn batch(&mut self, b: &RecordBatch) -> Result<(), String>;
    /// Completes the file (footer, flush).
    fn finish(self: Box<Self>) -> Result<(), String>;
}

fn writer(format: Format, file: std::fs::File, list: List) -> Box<dyn Writer> {
    match format {
        Format::Xlsx => Box::new(xlsx::Xlsx::new(file, list_name(list))),
        Format::Csv => Box::new(csv::Csv::new(file)),
        Format::Parquet => Box::new(parquet::Parquet::new(file)),
        Format::Json => Box::new(json::Json::new(file)),
    }
}

/// What an export did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// The list.
    pub what: String,
    /// The format.
    pub format: String,
    /// The file written.
    pub file: String,
    /// Rows written.
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Wall seconds.
    pub seconds: f64,
}

/// Writes `list` for the context's range and filter to `out`.
pub fn run(ctx: &Ctx<'_>, list: List, users: &UserFilter, format: Format, out: &Path) -> Result<Summary, ExportError> {
    let t0 = std::time::Instant::now();
    if let Some(s) = &users.segment {
        if !lists::SEGMENTS.contains(&s.as_str()) {
            return Err(ExportError::Options(format!("unknown segment '{s}'; use one of {} / 未知客户分群", lists::SEGMENTS.join(", "))));
        }
    }
    let fail = |why: String| ExportError::Write { path: out.to_path_buf(), why };
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = out.with_file_name(format!(".{name}.partial"));
    let file = std::fs::File::create(&tmp).map_err(|e| fail(e.to_string()))?;
    let mut w = Some(writer(format, file, list));
    let rows = lists::stream(ctx, list, users, &mut |b| w.as_mut().expect("writer").batch(b));
    let done = rows.map_err(ExportError::from).and_then(|rows| w.take().expect("writer").finish().map(|_| rows).map_err(fail));
    let rows = match done {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, out).map_err(|e| fail(e.to_string()))?;
    let bytes = out.metadata().map(|m| m.len()).unwrap_or(0);
    let what = match list {
        List::Events => "events",
        List::Users => "users",
        List::Rejects => "rejects",
    };
    Ok(Summary {
        what: what.into(),
        format: format.ext().into(),
        file: out.display().to_string(),
        rows,
        bytes,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
