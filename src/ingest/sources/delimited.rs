//! Delimited text that the canonical parser does not take: another delimiter (`.tsv`,
//! `--delimiter`), quoted fields, a header with other names or another order, or any mapping
//! option. Read with the `csv` crate (RFC 4180 quoting), one record at a time.
//!
//! The first record is a header when `--columns` names a column, or when its `user_id` field (the
//! mapped position, else the first) is not an integer. Without a header, fields are taken by
//! position (`--columns user_id=2,…`, else the canonical order). `line` in the rejects file is the
//! record's first line in the file.

use super::records::Records;
use super::{open_text, Input};
use crate::domain::mapping::Value;
use crate::ingest::files::io_err;
use crate::ingest::IngestError;
use std::borrow::Cow;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

const BOM: &str = "\u{feff}";

fn reader(r: Box<dyn std::io::Read + Send>, delim: u8) -> csv::Reader<Box<dyn std::io::Read + Send>> {
    csv::ReaderBuilder::new().delimiter(delim).has_headers(false).flexible(true).from_reader(r)
}

fn csv_err(path: &Path, e: csv::Error) -> IngestError {
    IngestError::Input(format!("cannot read {}: {e}; check that it is delimited text / 文件读取失败", path.display()))
}

/// The file's first record (fields trimmed, a BOM removed), if any.
pub fn first_record(path: &Path, gz: bool, delim: u8) -> Result<Option<Vec<String>>, IngestError> {
    let (r, _) = open_text(path, gz, &Arc::new(AtomicU64::new(0)))?;
    let mut rdr = reader(r, delim);
    let mut rec = csv::ByteRecord::new();
    match rdr.read_byte_record(&mut rec) {
        Ok(true) => Ok(Some(fields(&rec))),
        Ok(false) => Ok(None),
        // A broken gzip stream or the like is reported when the file is read.
        Err(_) => Ok(None),
    }
}

fn fields(rec: &csv::ByteRecord) -> Vec<String> {
    let mut v: Vec<String> = rec.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect();
    if let Some(f) = v.first_mut() {
        if let Some(x) = f.strip_prefix(BOM) {
            *f = x.trim().to_string();
        }
    }
    v
}

/// Whether a first record is data rather than a header: its user field is an integer.
pub fn looks_like_data(rec: &[String]) -> bool {
    looks_like_data_at(rec, 0)
}

fn looks_like_data_at(rec: &[String], at: usize) -> bool {
    rec.get(at).is_some_and(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// The delimiter of an input: `--delimiter`, else tab for TSV, else a comma.
pub fn delimiter(input: &Input, forced: Option<u8>) -> u8 {
    forced.unwrap_or(if input.format == super::SourceFormat::Tsv { b'\t' } else { b',' })
}

/// Reads every record of `input` into `out`; returns the content hash.
pub(crate) fn read(input: &Input, delim: u8, mut out: Records<'_>, done: &Arc<AtomicU64>) -> Result<String, IngestError> {
    let path = &input.path;
    let first = first_record(path, input.gz, delim)?;
    let columns = &out.mapping().columns;
    let user_at = columns.header_probe();
    let header = match &first {
        Some(f) if columns.has_names() || !looks_like_data_at(f, user_at) => Some(f.clone()),
        _ => None,
    };
    let width = first.as_ref().map_or(5, Vec::len);
    let idx = columns
        .resolve(header.as_deref(), width)
        .map_err(|e| super::mapping_error(&path.display().to_string(), e, !columns.is_default()))?;
    let (r, hasher) = open_text(path, input.gz, done)?;
    let mut rdr = reader(r, delim);
    let mut rec = csv::ByteRecord::new();
    let mut skip_header = header.is_some();
    let mut first_rec = true;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(path, e)),
        }
        let line = rec.position().map_or(0, |p| p.line());
        let raw = || {
            let parts: Vec<Cow<'_, str>> = rec.iter().map(String::from_utf8_lossy).collect();
            parts.join(&(delim as char).to_string())
        };
        if skip_header {
            skip_header = false;
            first_rec = false;
            continue;
        }
        if rec.len() == 1 && rec.get(0).is_some_and(|f| f.iter().all(|b| *b == b' ' || *b == b'\t')) {
            continue;
        }
        let mut vals: [Value<'_>; 5] = Default::default();
        let mut ok = true;
        for (v, &i) in vals.iter_mut().zip(&idx) {
            let Some(f) = rec.get(i) else {
                ok = false;
                break;
            };
            let Ok(mut s) = std::str::from_utf8(f) else {
                ok = false;
                break;
            };
            if first_rec && i == 0 {
                s = s.strip_prefix(BOM).unwrap_or(s);
            }
            let s = s.trim_matches([' ', '\t']);
            *v = if s.is_empty() { Value::Null } else { Value::Text(Cow::Borrowed(s)) };
        }
        first_rec = false;
        if ok {
            out.push(line, &vals, &raw)?;
        } else {
            out.malformed(line, raw())?;
        }
    }
    // Reading the rest feeds the hash with every byte (a gzip trailer included).
    let mut r = rdr.into_inner();
    std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| io_err(path, e))?;
    out.finish()?;
    Ok(super::digest(&hasher))
}
