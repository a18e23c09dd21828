//! Excel (.xlsx) through rust_xlsxwriter, one sheet named after the list: a bold header row,
//! frozen; column widths from the names; integers as numbers without separators (ids), or as
//! text beyond 2^53 where a spreadsheet's numbers lose digits; floats with four decimals; NULL
//! as an empty cell. Rows stream to disk (constant memory); a sheet holds at most 1,048,575 rows,
//! and a longer list is refused rather than cut.

use super::Writer;
use duckdb::arrow::array::{Array, ArrayRef, AsArray};
use duckdb::arrow::datatypes::*;
use duckdb::arrow::record_batch::RecordBatch;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// Data rows a sheet can hold (Excel's 1,048,576 rows less the header).
pub const MAX_ROWS: u32 = 1_048_575;

/// The xlsx writer.
pub struct Xlsx {
    file: std::fs::File,
    book: Workbook,
    sheet: String,
    row: u32,
    int: Format,
    float: Format,
}

fn err(e: XlsxError) -> String {
    e.to_string()
}

impl Xlsx {
    /// A writer into `file`, its one sheet named `sheet`.
    pub fn new(file: std::fs::File, sheet: &str) -> Xlsx {
        Xlsx {
            file,
            book: Workbook::new(),
            sheet: sheet.to_string(),
            row: 0,
            int: Format::new().set_num_format("0"),
            float: Format::new().set_num_format("0.0000"),
        }
    }

    fn header(&mut self, b: &RecordBatch) -> Result<(), String> {
        let bold = Format::new().set_bold();
        let ws = self.book.add_worksheet_with_constant_memory().map_err(err)?;
        ws.set_name(&self.sheet).map_err(err)?;
        for (c, f) in b.schema().fields().iter().enumerate() {
            ws.set_column_width(c as u16, (f.name().chars().count() + 4).max(12) as f64).map_err(err)?;
            ws.write_string_with_format(0, c as u16, f.name(), &bold).map_err(err)?;
        }
        ws.set_freeze_panes(1, 0).map_err(err)?;
        self.row = 1;
        Ok(())
    }
}

/// Writes the value at row `i` of column `a` into (`row`, `col`).
fn cell(
    ws: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    col: u16,
    a: &ArrayRef,
    i: usize,
    int: &Format,
    float: &Format,
) -> Result<(), XlsxError> {
    if a.is_null(i) {
        return Ok(());
    }
    let whole: Option<i128> = match a.data_type() {
        DataType::Int64 => Some(a.as_primitive::<Int64Type>().value(i) as i128),
        DataType::Int32 => Some(a.as_primitive::<Int32Type>().value(i) as i128),
        DataType::UInt8 => Some(a.as_primitive::<UInt8Type>().value(i) as i128),
        DataType::UInt32 => Some(a.as_primitive::<UInt32Type>().value(i) as i128),
        DataType::UInt64 => Some(a.as_primitive::<UInt64Type>().value(i) as i128),
        _ => None,
    };
    match (whole, a.data_type()) {
        (Some(v), _) if v.unsigned_abs() < (1u128 << 53) => ws.write_number_with_format(row, col, v as f64, int).map(|_| ()),
        (Some(v), _) => ws.write_string(row, col, v.to_string()).map(|_| ()),
        (None, DataType::Float64) => {
            let v = a.as_primitive::<Float64Type>().value(i);
            if v.is_finite() {
                ws.write_number_with_format(row, col, v, float).map(|_| ())
            } else {
                Ok(())
            }
        }
        _ => ws.write_string(row, col, super::csv::text(a, i)).map(|_| ()),
    }
}

impl Writer for Xlsx {
    fn batch(&mut self, b: &RecordBatch) -> Result<(), String> {
        if self.row == 0 {
            self.header(b)?;
        }
        if (self.row - 1) as usize + b.num_rows() > MAX_ROWS as usize {
            return Err(format!(
                "more than {MAX_ROWS} rows do not fit an Excel sheet; use --format csv or parquet, or narrow --from/--to, --behavior or --category / 超出 Excel 行数上限"
            ));
        }
        let ws = self.book.worksheet_from_index(0).map_err(err)?;
        for i in 0..b.num_rows() {
            for (c, a) in b.columns().iter().enumerate() {
                cell(ws, self.row, c as u16, a, i, &self.int, &self.float).map_err(err)?;
            }
            self.row += 1;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), String> {
        if self.row == 0 {
            self.book.add_worksheet().set_name(&self.sheet).map_err(err)?;
        }
        let file = self.file.try_clone().map_err(|e| e.to_string())?;
        self.book.save_to_writer(file).map_err(err)?;
        self.file.sync_all().map_err(|e| e.to_string())
    }
}
