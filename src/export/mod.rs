//! `ecomm export`: the lists behind the numbers ([`crate::metrics::lists`]) written as CSV,
//! Excel, Parquet or JSON lines, one file per format behind one [`Writer`] trait; and the analyses
//! themselves ([`crate::metrics::sheets`]) as an Excel workbook with a native chart per analysis
//! ([`workbook`]), one analysis's table as CSV, or JSON. A file is written beside its target under
//! a temporary name and renamed when complete, so a failed or killed export never leaves half a
//! file under the name asked for.

pub mod csv;
mod json;
mod parquet;
pub mod workbook;
mod xlsx;

use crate::metrics::lists::{self, List, UserFilter};
use crate::metrics::sheets::{self, Sheet};
use crate::metrics::source::Ctx;
use crate::metrics::{Metrics, MetricsError};
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

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    /// A list of rows.
    List(List),
    /// The analyses.
    Metrics,
}

impl FromStr for What {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "events" => Ok(What::List(List::Events)),
            "users" => Ok(What::List(List::Users)),
            "rejects" => Ok(What::List(List::Rejects)),
            "metrics" => Ok(What::Metrics),
            _ => Err(format!("unknown export '{s}'; use metrics, events, users or rejects / 未知导出内容")),
        }
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

/// Writes `out` under a temporary name beside it with `write` (which returns the rows it wrote),
/// then renames it; on an error the temporary file is removed and `out` is untouched.
fn atomically(
    out: &Path,
    what: &str,
    format: Format,
    write: impl FnOnce(std::fs::File) -> Result<u64, ExportError>,
) -> Result<Summary, ExportError> {
    let t0 = std::time::Instant::now();
    let fail = |why: String| ExportError::Write { path: out.to_path_buf(), why };
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = out.with_file_name(format!(".{name}.partial"));
    let file = std::fs::File::create(&tmp).map_err(|e| fail(e.to_string()))?;
    let rows = match write(file) {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, out).map_err(|e| fail(e.to_string()))?;
    let bytes = out.metadata().map(|m| m.len()).unwrap_or(0);
    Ok(Summary {
        what: what.into(),
        format: format.ext().into(),
        file: out.display().to_string(),
        rows,
        bytes,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Writes `list` for the context's range and filter to `out`.
pub fn run(ctx: &Ctx<'_>, list: List, users: &UserFilter, format: Format, out: &Path) -> Result<Summary, ExportError> {
    if let Some(s) = &users.segment {
        if !lists::SEGMENTS.contains(&s.as_str()) {
            return Err(ExportError::Options(format!("unknown segment '{s}'; use one of {} / 未知客户分群", lists::SEGMENTS.join(", "))));
        }
    }
    let fail = |why: String| ExportError::Write { path: out.to_path_buf(), why };
    atomically(out, list_name(list), format, |file| {
        let mut w = Some(writer(format, file, list));
        let rows = lists::stream(ctx, list, users, &mut |b| w.as_mut().expect("writer").batch(b))?;
        w.take().expect("writer").finish().map_err(fail)?;
        Ok(rows)
    })
}

/// The workbook's own words in `lang`.
pub fn words(m: &Metrics, lang: crate::i18n::Lang) -> workbook::Words {
    use crate::i18n::{describe_filter, t, tr, ui};
    let filter = describe_filter(lang, &m.filter.behaviors, &m.filter.categories);
    let mut caption = format!("{} {} .. {} · {} {}", t(lang, "range"), m.range.from, m.range.to, t(lang, "timezone"), m.range.timezone);
    if !filter.is_empty() {
        caption.push_str(&format!(" · {} {filter}", tr(lang, &ui::FILTER)));
    }
    workbook::Words {
        caption,
        headline: tr(lang, &ui::KEY_NUMBERS),
        definition: tr(lang, &ui::DEFINITION),
        chart_data: tr(lang, &ui::CHART_DATA),
    }
}

/// The sheets of `m` in `lang`: all of them, or the one named by `section` (a key of
/// [`sheets::keys`]).
pub fn pick(m: &Metrics, lang: crate::i18n::Lang, section: Option<&str>) -> Result<Vec<Sheet>, ExportError> {
    let all = sheets::all(m, lang);
    match section {
        None => Ok(all),
        Some(k) => match all.into_iter().find(|s| s.key == k) {
            Some(s) => Ok(vec![s]),
            None => Err(ExportError::Options(format!("unknown section '{k}'; use one of {} / 未知分析", sheets::keys(m).join(", ")))),
        },
    }
}

/// The analyses in `format`: xlsx (every sheet, or one), csv (one section's table: `section`
/// is required), json (what `ecomm analyze --format json` prints, or one section's sheet).
pub fn bytes(m: &Metrics, lang: crate::i18n::Lang, format: Format, section: Option<&str>) -> Result<(Vec<u8>, u64), ExportError> {
    let picked = pick(m, lang, section)?;
    let rows =
        |s: &[Sheet]| -> u64 { s.iter().map(|s| s.rows.len() as u64 + s.tables.iter().map(|t| t.2.len() as u64).sum::<u64>()).sum() };
    match (format, section) {
        (Format::Xlsx, _) => {
            let mut buf = std::io::Cursor::new(Vec::new());
            let n = workbook::write(&mut buf, &picked, &words(m, lang)).map_err(|e| ExportError::Options(e.to_string()))?;
            Ok((buf.into_inner(), n))
        }
        (Format::Csv, Some(_)) => Ok((csv::sheet(&picked[0]), picked[0].rows.len() as u64)),
        (Format::Json, Some(_)) => Ok((serde_json::to_vec_pretty(&picked[0]).expect("sheet serializes"), rows(&picked))),
        (Format::Json, None) => Ok((serde_json::to_vec_pretty(m).expect("metrics serialize"), rows(&picked))),
        (Format::Csv, None) => Err(ExportError::Options(format!(
            "a CSV file holds one table: add --section KEY ({}), or use --format xlsx for every analysis / CSV 只能导出一个分析，请加 --section",
            sheets::keys(m).join(", ")
        ))),
        (Format::Parquet, _) => Err(ExportError::Options(
            "the analyses export as xlsx, csv (one --section) or json; parquet is for --what events, users and rejects / 分析结果不支持 parquet".into(),
        )),
    }
}

/// Writes the analyses of `m` to `out` (see [`bytes`]).
/// Its `seconds` cover laying the file out and writing it (the analyses are computed before).
pub fn run_metrics(
    m: &Metrics,
    lang: crate::i18n::Lang,
    format: Format,
    section: Option<&str>,
    out: &Path,
) -> Result<Summary, ExportError> {
    let t0 = std::time::Instant::now();
    let (data, rows) = bytes(m, lang, format, section)?;
    let fail = |why: String| ExportError::Write { path: out.to_path_buf(), why };
    let mut s = atomically(out, "metrics", format, |mut file| {
        use std::io::Write;
        file.write_all(&data).and_then(|_| file.sync_all()).map_err(|e| fail(e.to_string()))?;
        Ok(rows)
    })?;
    s.seconds = t0.elapsed().as_secs_f64();
    Ok(s)
}
