//! CSV: a header, then one line per row; a field with a comma, a quote or a line break is quoted
//! (RFC 4180); NULL is an empty field; floats in Rust's shortest round-trip form.

use super::Writer;
use duckdb::arrow::array::{Array, ArrayRef, AsArray};
use duckdb::arrow::datatypes::*;
use duckdb::arrow::record_batch::RecordBatch;
use std::io::Write;

/// The CSV writer.
pub struct Csv {
    out: std::io::BufWriter<std::fs::File>,
    header: bool,
    line: Vec<u8>,
}

impl Csv {
    /// A writer into `file`.
    pub fn new(file: std::fs::File) -> Csv {
        Csv { out: std::io::BufWriter::with_capacity(1 << 20, file), header: false, line: Vec::with_capacity(256) }
    }
}

fn quoted(out: &mut Vec<u8>, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// Appends the value at row `i` of column `a`.
pub(super) fn field(out: &mut Vec<u8>, a: &ArrayRef, i: usize) {
    if a.is_null(i) {
        return;
    }
    let mut ib = itoa::Buffer::new();
    match a.data_type() {
        DataType::Int64 => out.extend_from_slice(ib.format(a.as_primitive::<Int64Type>().value(i)).as_bytes()),
        DataType::Int32 => out.extend_from_slice(ib.format(a.as_primitive::<Int32Type>().value(i)).as_bytes()),
        DataType::UInt8 => out.extend_from_slice(ib.format(a.as_primitive::<UInt8Type>().value(i)).as_bytes()),
        DataType::UInt32 => out.extend_from_slice(ib.format(a.as_primitive::<UInt32Type>().value(i)).as_bytes()),
        DataType::UInt64 => out.extend_from_slice(ib.format(a.as_primitive::<UInt64Type>().value(i)).as_bytes()),
        DataType::Float64 => out.extend_from_slice(a.as_primitive::<Float64Type>().value(i).to_string().as_bytes()),
        _ => quoted(out, &text(a, i)),
    }
}

/// A non-numeric value as text (strings as they are, other types as Arrow displays them).
pub(super) fn text(a: &ArrayRef, i: usize) -> String {
    match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
        DataType::LargeUtf8 => a.as_string::<i64>().value(i).to_string(),
        DataType::Utf8View => a.as_string_view().value(i).to_string(),
        _ => duckdb::arrow::util::display::ArrayFormatter::try_new(a.as_ref(), &Default::default())
            .map(|f| f.value(i).to_string())
            .unwrap_or_default(),
    }
}

impl Writer for Csv {
    fn batch(&mut self, b: &RecordBatch) -> Result<(), String> {
        if !self.header {
            let names: Vec<String> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
            writeln!(self.out, "{}", names.join(",")).map_err(|e| e.to_string())?;
            self.header = true;
        }
        let cols = b.columns();
        for i in 0..b.num_rows() {
            self.line.clear();
            for (k, c) in cols.iter().enumerate() {
                if k > 0 {
                    self.line.push(b',');
                }
                field(&mut self.line, c, i);
            }
            self.line.push(b'\n');
            self.out.write_all(&self.line).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), String> {
        self.out.flush().map_err(|e| e.to_string())?;
        self.out.get_ref().sync_all().map_err(|e| e.to_string())
    }
}

/// A sheet's main table as CSV for a spreadsheet (the dashboard's CSV buttons, `ecomm export
/// --what metrics --section KEY --format csv`): a UTF-8 byte order mark so that Excel reads the
/// Chinese headers, the header, then one line per row; counts as integers, rates as the ratio
/// 0..1 of the JSON, other numbers in full precision, an undefined value as an empty field.
pub fn sheet(s: &crate::metrics::sheets::Sheet) -> Vec<u8> {
    use crate::metrics::section::Cell;
    let mut out = "\u{feff}".as_bytes().to_vec();
    let line = |out: &mut Vec<u8>, fields: Vec<String>| {
        for (k, f) in fields.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            quoted(out, f);
        }
        out.extend_from_slice(b"\r\n");
    };
    line(&mut out, s.columns.clone());
    for r in &s.rows {
        let fields = r
            .iter()
            .map(|c| match c {
                Cell::Int(n) => n.to_string(),
                Cell::Rate(x) | Cell::Num(x) | Cell::Secs(x) if x.is_finite() => x.to_string(),
                Cell::Text(t) => t.clone(),
                _ => String::new(),
            })
            .collect();
        line(&mut out, fields);
    }
    out
}
