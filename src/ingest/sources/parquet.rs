//! Apache Parquet files (a file, or every `*.parquet` of a folder or a glob), read with the
//! `parquet` crate into Arrow batches, only the five mapped columns. Columns are found by name
//! (`--columns`, else the field's own name) or 1-based position. Integer columns of any width are
//! ids and Unix times, floats must be whole, strings (dictionary-encoded too) go through the same
//! rules as text, a timestamp adjusted to UTC is an instant and one without a zone (or a date) is
//! wall-clock time in the analysis zone. `line` in the rejects file is the 1-based row number in
//! the file; the raw form is the row's mapped values.

use super::records::{render, Records};
use super::Input;
use crate::domain::mapping::Value;
use crate::ingest::IngestError;
use duckdb::arrow::array::{Array, ArrayRef, AsArray};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use std::borrow::Cow;

/// Rows per Arrow batch.
const BATCH: usize = 64 * 1024;

/// A column of one batch, cast to one of the few types the mapping reads.
enum Col {
    Int(ArrayRef),
    Float(ArrayRef),
    Text(ArrayRef),
    /// Milliseconds (as Int64); `utc` when the timestamp is adjusted to UTC.
    TimeMs(ArrayRef, bool),
    Date(ArrayRef),
    Unsupported,
}

fn prepare(a: &ArrayRef) -> Col {
    use DataType::*;
    let to = |t: &DataType| cast(a, t).ok();
    let col = match a.data_type() {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => to(&Int64).map(Col::Int),
        Float16 | Float32 | Float64 | Decimal128(..) | Decimal256(..) => to(&Float64).map(Col::Float),
        Utf8 | LargeUtf8 | Utf8View | Dictionary(..) => to(&Utf8).map(Col::Text),
        Timestamp(_, tz) => {
            to(&Timestamp(TimeUnit::Millisecond, tz.clone())).and_then(|ms| cast(&ms, &Int64).ok()).map(|ms| Col::TimeMs(ms, tz.is_some()))
        }
        Date32 | Date64 => to(&Date32).map(Col::Date),
        _ => None,
    };
    col.unwrap_or(Col::Unsupported)
}

fn value(c: &Col, i: usize) -> Value<'_> {
    match c {
        Col::Int(a) if a.is_valid(i) => Value::Int(a.as_primitive::<Int64Type>().value(i)),
        Col::Float(a) if a.is_valid(i) => Value::Float(a.as_primitive::<Float64Type>().value(i)),
        Col::Text(a) if a.is_valid(i) => Value::Text(Cow::Borrowed(a.as_string::<i32>().value(i))),
        Col::TimeMs(a, utc) if a.is_valid(i) => {
            let ms = a.as_primitive::<Int64Type>().value(i);
            if *utc {
                Value::InstantMs(ms)
            } else {
                chrono::DateTime::from_timestamp_millis(ms).map_or(Value::Null, |d| Value::Local(d.naive_utc()))
            }
        }
        Col::Date(a) if a.is_valid(i) => {
            let days = a.as_primitive::<Date32Type>().value(i) as i64;
            chrono::DateTime::from_timestamp(days * 86_400, 0).map_or(Value::Null, |d| Value::Local(d.naive_utc()))
        }
        _ => Value::Null,
    }
}

/// Reads every row of `input` into `out`; returns the content hash (`hash`, computed first).
pub(crate) fn read(input: &Input, mut out: Records<'_>, hash: String) -> Result<String, IngestError> {
    let path = &input.path;
    let bad = |e: &dyn std::fmt::Display| {
        IngestError::Input(format!(
            "{} cannot be read as Parquet ({e}); check the file or write it again / 无法读取 Parquet 文件",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(|e| crate::ingest::files::io_err(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(&e))?;
    let names: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
    let columns = &out.mapping().columns;
    let idx = columns
        .resolve(Some(&names), names.len())
        .map_err(|e| super::mapping_error(&path.display().to_string(), e, !columns.is_default()))?;
    // The batch holds the projected columns in schema order.
    let mut wanted: Vec<usize> = idx.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let at: [usize; 5] = std::array::from_fn(|k| wanted.iter().position(|w| *w == idx[k]).expect("projected"));
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().copied());
    let reader = builder.with_projection(mask).with_batch_size(BATCH).build().map_err(|e| bad(&e))?;
    let mut row = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let cols: Vec<Col> = batch.columns().iter().map(prepare).collect();
        for i in 0..batch.num_rows() {
            row += 1;
            let vals: [Value<'_>; 5] = std::array::from_fn(|k| value(&cols[at[k]], i));
            out.push(row, &vals, &|| render(&vals))?;
        }
    }
    out.finish()?;
    Ok(hash)
}
