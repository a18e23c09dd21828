//! What `ecomm ingest` reads, and how each source turns its input into rows. One pipeline: a
//! source only produces [`crate::domain::rows::Parsed`] batches; cleaning rules 4–5, the reject
//! accounting, the window, the transaction and idempotence are the ingest's, the same for all.
//!
//! Files are recognised by extension (`--source-format` forces one):
//!
//! | extension | format | read by |
//! |---|---|---|
//! | `.csv`, `.txt` (and `.gz`) | delimited text, `,` (`--delimiter`) | the parallel parser for the canonical layout, else [`delimited`] |
//! | `.tsv` (and `.gz`) | delimited text, tab | [`delimited`] |
//! | `.parquet`, `.parq` | Apache Parquet | [`parquet`] |
//! | `.xlsx`, `.xlsm`, `.xls`, `.ods` | spreadsheets (first sheet or `--sheet`) | [`sheet`] (calamine) |
//! | `.jsonl`, `.ndjson`, `.json` (and `.gz`) | JSON lines or one JSON array; MongoDB Extended JSON | [`json`] |
//! | `.bson` | `mongodump` output | [`bson`] |
//!
//! Inputs that start with `mysql://`, `mariadb://`, `postgres://` or `postgresql://` are tables
//! ([`table`]).
//!
//! A file whose first bytes contradict its format fails before the DB is touched, with one
//! sentence saying what it looks like instead.

pub mod bson;
pub mod delimited;
pub mod json;
pub mod parquet;
mod records;
pub mod sheet;
pub mod table;

pub(crate) use super::files::{digest, open_text};
pub(crate) use records::Records;

use super::files::io_err;
use super::IngestError;
use crate::domain::Mapping;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A source format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    /// Delimited text (CSV, TSV), plain or gzip.
    Csv,
    /// Tab-separated text.
    Tsv,
    /// Apache Parquet.
    Parquet,
    /// A spreadsheet: xlsx, xlsm, xls or ods.
    Sheet,
    /// JSON lines or a JSON array (MongoDB Extended JSON understood).
    Json,
    /// BSON documents as `mongodump` writes them.
    Bson,
    /// A MySQL/MariaDB or PostgreSQL table (a URL, not a file).
    Table,
}

impl FromStr for SourceFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "csv" | "txt" => SourceFormat::Csv,
            "tsv" => SourceFormat::Tsv,
            "parquet" => SourceFormat::Parquet,
            "xlsx" | "xlsm" | "xls" | "ods" | "excel" | "sheet" => SourceFormat::Sheet,
            "json" | "jsonl" | "ndjson" => SourceFormat::Json,
            "bson" => SourceFormat::Bson,
            _ => return Err(format!("unknown source format '{s}'; use csv, tsv, parquet, xlsx, xls, ods, json, jsonl or bson")),
        })
    }
}

impl SourceFormat {
    /// The format a file name says, if any (`.gz` looked through).
    pub fn from_name(p: &Path) -> Option<SourceFormat> {
        let n = p.file_name()?.to_string_lossy().to_lowercase();
        let n = n.strip_suffix(".gz").unwrap_or(&n);
        let ext = n.rsplit_once('.')?.1;
        match ext {
            "parquet" | "parq" | "xlsx" | "xlsm" | "xls" | "ods" | "bson" if n.len() != p.file_name()?.len() => None,
            _ => ext.parse().ok(),
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Csv => "CSV",
            SourceFormat::Tsv => "TSV",
            SourceFormat::Parquet => "Parquet",
            SourceFormat::Sheet => "spreadsheet",
            SourceFormat::Json => "JSON",
            SourceFormat::Bson => "BSON",
            SourceFormat::Table => "table",
        }
    }
}

/// How sources are read: the forced format, the delimiter, the sheet and the mapping.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// `--source-format`: overrides the extension.
    pub format: Option<SourceFormat>,
    /// `--delimiter` for delimited text (default `,`, tab for `.tsv`).
    pub delimiter: Option<u8>,
    /// `--sheet`: the sheet of a workbook (default: the first).
    pub sheet: Option<String>,
    /// `--columns`, `--behavior-map`, `--time-format`, `--time-unit`.
    pub mapping: Mapping,
}

impl ReadOptions {
    /// The options as recorded in the ingest log.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "source_format": self.format.map(|f| f.name()),
            "delimiter": self.delimiter.map(|d| (d as char).to_string()),
            "sheet": self.sheet,
            "columns": (!self.mapping.columns.is_default()).then(|| self.mapping.columns.to_string()),
            "behavior_map": self.mapping.behaviors.is_some(),
            "time_format": self.mapping.time_format.is_some(),
            "time_unit_ms": self.mapping.unit == crate::domain::mapping::TimeUnit::Millis,
        })
    }
}

/// One input file with its format, checked against its first bytes.
#[derive(Clone, Debug)]
pub struct Input {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: SourceFormat,
    /// Gzip-compressed (text formats).
    pub gz: bool,
    /// Read by the canonical CSV parser (see [`Input::fast_csv`]).
    pub fast: bool,
    /// The sheet of a workbook.
    pub sheet: Option<String>,
    /// The table of a table URL.
    pub table: Option<table::TableUrl>,
}

impl Input {
    /// The format of `path` (forced, else by name, else CSV as before), checked by [`sniff`].
    pub fn new(path: &Path, opts: &ReadOptions) -> Result<Input, IngestError> {
        let format = opts.format.or_else(|| SourceFormat::from_name(path)).unwrap_or(SourceFormat::Csv);
        let gz = sniff(path, format)?;
        let mut input = Input { path: path.to_path_buf(), format, gz, fast: false, sheet: None, table: None };
        input.fast = input.fast_csv(opts)?;
        if format == SourceFormat::Sheet {
            input.sheet = Some(sheet::sheet_name(&input, opts.sheet.as_deref())?);
        }
        Ok(input)
    }

    /// A table input (its URL shown without the password).
    pub fn table(t: table::TableUrl) -> Input {
        Input { path: PathBuf::from(&t.shown), format: SourceFormat::Table, gz: false, fast: false, sheet: None, table: Some(t) }
    }

    /// The name the rejects file shows: the path, with `!Sheet` for a workbook.
    pub fn shown(&self) -> String {
        let p = self.path.to_string_lossy();
        match &self.sheet {
            Some(s) => format!("{p}!{s}"),
            None => p.into_owned(),
        }
    }

    /// Whether the canonical CSV parser (parallel, exactly five comma-separated fields) reads it.
    fn fast_csv(&self, opts: &ReadOptions) -> Result<bool, IngestError> {
        if self.format != SourceFormat::Csv || opts.delimiter.is_some_and(|d| d != b',') || !opts.mapping.is_default() {
            return Ok(false);
        }
        // A header naming the canonical fields in another order (or other columns) needs the mapper.
        Ok(match delimited::first_record(&self.path, self.gz, b',')? {
            Some(h) if !delimited::looks_like_data(&h) => {
                h.len() == 5 && h.iter().zip(crate::domain::mapping::FIELDS).all(|(a, b)| a.trim().eq_ignore_ascii_case(b))
            }
            _ => true,
        })
    }
}

fn mismatch(path: &Path, format: SourceFormat, what: &str) -> IngestError {
    IngestError::Input(format!(
        "{} is named like a {} file but {what}; rename it or pass --source-format / 文件内容与扩展名不符：{}",
        path.display(),
        format.name(),
        path.display()
    ))
}

/// Reads up to `n` bytes from the start of `path`.
fn head(path: &Path, n: usize) -> Result<Vec<u8>, IngestError> {
    let f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut buf = Vec::with_capacity(n);
    f.take(n as u64).read_to_end(&mut buf).map_err(|e| io_err(path, e))?;
    Ok(buf)
}

/// What the first bytes of a file look like, for messages.
fn looks_like(h: &[u8]) -> &'static str {
    if h.starts_with(b"PAR1") {
        "it is a Parquet file"
    } else if h.starts_with(b"PK\x03\x04") {
        "it is a zip archive (xlsx/ods)"
    } else if h.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        "it is an old Office (xls) file"
    } else if h.starts_with(&[0x1f, 0x8b]) {
        "it is gzip-compressed"
    } else if h.contains(&0) {
        "it is binary"
    } else {
        "it is text"
    }
}

/// Checks that the file's first bytes fit `format`; returns whether it is gzip (text formats).
pub fn sniff(path: &Path, format: SourceFormat) -> Result<bool, IngestError> {
    let h = head(path, 16)?;
    if h.is_empty() {
        return Err(IngestError::Input(format!("{} is empty; pass a file with data rows / 文件为空", path.display())));
    }
    match format {
        SourceFormat::Csv | SourceFormat::Tsv | SourceFormat::Json => {
            if h.starts_with(b"PAR1") || h.starts_with(b"PK\x03\x04") || h.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
                return Err(mismatch(path, format, looks_like(&h)));
            }
            super::files::sniff(path)
        }
        SourceFormat::Parquet => {
            let size = path.metadata().map_err(|e| io_err(path, e))?.len();
            let mut tail = [0u8; 4];
            if size >= 12 {
                use std::io::{Seek, SeekFrom};
                let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
                f.seek(SeekFrom::End(-4)).and_then(|_| f.read_exact(&mut tail)).map_err(|e| io_err(path, e))?;
            }
            if !h.starts_with(b"PAR1") {
                return Err(mismatch(path, format, looks_like(&h)));
            }
            if &tail != b"PAR1" {
                return Err(mismatch(path, format, "it does not end like one (truncated?)"));
            }
            Ok(false)
        }
        SourceFormat::Sheet => {
            if h.starts_with(b"PK\x03\x04") || h.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
                Ok(false)
            } else {
                Err(mismatch(path, format, looks_like(&h)))
            }
        }
        SourceFormat::Table => Ok(false),
        SourceFormat::Bson => {
            let size = path.metadata().map_err(|e| io_err(path, e))?.len();
            let len = if h.len() >= 5 { i32::from_le_bytes([h[0], h[1], h[2], h[3]]) as i64 } else { 0 };
            if len < 5 || len as u64 > size || h.starts_with(b"PAR1") || h.starts_with(b"PK") {
                return Err(mismatch(path, format, &format!("{} rather than a BSON document", looks_like(&h))));
            }
            Ok(false)
        }
    }
}

/// The content hash of a binary file read whole by its library (Parquet, sheets), counted as done.
pub(crate) fn hash_file(path: &Path, done: &Arc<AtomicU64>) -> Result<String, IngestError> {
    let h = super::files::full_hash(path)?;
    done.fetch_add(path.metadata().map(|m| m.len()).unwrap_or(0), Ordering::Relaxed);
    Ok(h)
}

/// A mapping that does not fit the source's columns, phrased for `what` (a file or a table).
/// Without `--columns`, a header that lacks the canonical names means the input is not
/// UserBehavior data as it stands: the message says so and how to map it.
pub(crate) fn mapping_error(what: &str, e: crate::domain::MappingError, columns_given: bool) -> IngestError {
    match e {
        crate::domain::MappingError::MissingColumn { header, .. } if !columns_given => IngestError::Input(format!(
            "{what} does not look like UserBehavior data: its columns [{header}] do not include user_id, item_id, category_id, behavior_type, timestamp; say which column holds each with --columns user_id=…,timestamp=… / 文件格式不符：请用 --columns 指定列"
        )),
        e => IngestError::Input(format!("{what}: {e}")),
    }
}

/// Whether `p` has a name ingest reads when it meets it in a folder.
/// `.txt` files are read when named, but left out of folders (notes and read-me files).
pub fn is_source_name(p: &Path) -> bool {
    let name = p.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let hidden = name.starts_with(['.', '_']);
    !hidden && !name.ends_with(".txt") && !name.ends_with(".txt.gz") && SourceFormat::from_name(p).is_some()
}
