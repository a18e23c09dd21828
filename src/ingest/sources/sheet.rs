//! Spreadsheets (`.xlsx`, `.xlsm`, `.xls`, `.ods`), read with calamine: the first sheet, or
//! `--sheet NAME`. The first non-empty row is a header when `--columns` names a column or its
//! `user_id` cell is not a number (as for delimited text). Numbers are numbers (whole-number
//! floats are ids), texts are texts, and a date-time cell is wall-clock time in the analysis zone
//! (rounded to the second). Rejected rows are kept with `file` = `book.xlsx!Sheet` and `line` = the
//! row number Excel shows; their raw form is the row's mapped cells, comma-separated.

use super::records::{render, Records};
use super::Input;
use crate::domain::mapping::Value;
use crate::ingest::IngestError;
use calamine::{Data, Reader};
use std::borrow::Cow;

/// The sheet to read: the one asked for, else the first.
pub fn sheet_name(input: &Input, asked: Option<&str>) -> Result<String, IngestError> {
    let wb = open(input)?;
    let names = wb.sheet_names();
    match asked {
        Some(a) => names.iter().find(|n| n.as_str() == a).cloned().ok_or_else(|| {
            IngestError::Input(format!("{} has no sheet '{a}'; its sheets are: {} / 工作表不存在", input.path.display(), names.join(", ")))
        }),
        None => {
            names.first().cloned().ok_or_else(|| IngestError::Input(format!("{} has no sheets / 工作簿没有工作表", input.path.display())))
        }
    }
}

fn open(input: &Input) -> Result<calamine::Sheets<std::io::BufReader<std::fs::File>>, IngestError> {
    calamine::open_workbook_auto(&input.path).map_err(|e| {
        IngestError::Input(format!(
            "{} cannot be read as a spreadsheet ({e}); open and save it again in Excel or LibreOffice / 无法读取表格文件",
            input.path.display()
        ))
    })
}

/// A cell as a field value.
fn value(c: &Data) -> Value<'_> {
    match c {
        Data::Int(i) => Value::Int(*i),
        Data::Float(f) => Value::Float(*f),
        Data::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                Value::Null
            } else {
                Value::Text(Cow::Borrowed(t))
            }
        }
        Data::DateTime(d) if d.is_datetime() => {
            let (y, mo, da, h, mi, s, ms) = d.to_ymd_hms_milli();
            chrono::NaiveDate::from_ymd_opt(y as i32, mo as u32, da as u32)
                .and_then(|day| day.and_hms_opt(h as u32, mi as u32, s as u32))
                .map(|t| if ms >= 500 { t + chrono::TimeDelta::seconds(1) } else { t })
                .map_or(Value::Null, Value::Local)
        }
        Data::DateTimeIso(s) => chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
            .map_or(Value::Null, Value::Local),
        _ => Value::Null,
    }
}

fn is_number(c: &Data) -> bool {
    match c {
        Data::Int(_) => true,
        Data::Float(f) => f.fract() == 0.0,
        Data::String(s) => !s.trim().is_empty() && s.trim().bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// Reads the sheet `name` of `input` into `out`; returns the content hash.
pub(crate) fn read(input: &Input, name: &str, mut out: Records<'_>, hash: String) -> Result<String, IngestError> {
    let path = &input.path;
    let range = open(input)?
        .worksheet_range(name)
        .map_err(|e| IngestError::Input(format!("{}: cannot read sheet '{name}' ({e}) / 无法读取工作表", path.display())))?;
    let top = range.start().map_or(0, |(r, _)| r as u64);
    let left = range.start().map_or(0, |(_, c)| c as usize);
    let mut rows = range.rows().enumerate().filter(|(_, r)| r.iter().any(|c| !matches!(c, Data::Empty)));
    let Some((first_at, first)) = rows.next() else {
        out.finish()?;
        return Ok(hash);
    };
    let columns = &out.mapping().columns;
    let user_at = columns.header_probe();
    // Positions count from column A, whatever the sheet's first used column.
    let cell = |r: &'_ [Data], i: usize| -> Option<usize> { i.checked_sub(left).filter(|j| *j < r.len()) };
    let header_row = columns.has_names() || !cell(first, user_at).is_some_and(|j| is_number(&first[j]));
    let header: Option<Vec<String>> =
        header_row.then(|| (0..left).map(|_| String::new()).chain(first.iter().map(|c| c.to_string().trim().to_string())).collect());
    let width = left + first.len();
    let idx = columns
        .resolve(header.as_deref(), width)
        .map_err(|e| super::mapping_error(&format!("{}!{name}", path.display()), e, !columns.is_default()))?;
    let data = std::iter::once((first_at, first)).filter(|_| !header_row).chain(rows);
    for (i, row) in data {
        let line = top + i as u64 + 1;
        let vals: [Value<'_>; 5] = std::array::from_fn(|k| cell(row, idx[k]).map_or(Value::Null, |j| value(&row[j])));
        out.push(line, &vals, &|| render(&vals))?;
    }
    out.finish()?;
    Ok(hash)
}
