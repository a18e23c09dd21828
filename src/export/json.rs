//! JSON lines: one object per row, keys the column names; integers and floats as JSON numbers
//! (a float that is not finite as null), texts as strings, NULL as null.

use super::Writer;
use duckdb::arrow::array::{Array, ArrayRef, AsArray};
use duckdb::arrow::datatypes::*;
use duckdb::arrow::record_batch::RecordBatch;
use serde_json::Value;
use std::io::Write;

/// The JSON lines writer.
pub struct Json {
    out: std::io::BufWriter<std::fs::File>,
}

impl Json {
    /// A writer into `file`.
    pub fn new(file: std::fs::File) -> Json {
        Json { out: std::io::BufWriter::with_capacity(1 << 20, file) }
    }
}

fn value(a: &ArrayRef, i: usize) -> Value {
    if a.is_null(i) {
        return Value::Null;
    }
    match a.data_type() {
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i).into(),
        DataType::Int32 => a.as_primitive::<Int32Type>().value(i).into(),
        DataType::UInt8 => a.as_primitive::<UInt8Type>().value(i).into(),
        DataType::UInt32 => a.as_primitive::<UInt32Type>().value(i).into(),
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(i).into(),
        DataType::Float64 => serde_json::Number::from_f64(a.as_primitive::<Float64Type>().value(i)).map_or(Value::Null, Value::Number),
        _ => Value::String(super::csv::text(a, i)),
    }
}

impl Writer for Json {
    fn batch(&mut self, b: &RecordBatch) -> Result<(), String> {
        // Keys in column order (a JSON map would sort them).
        let keys: Vec<String> = b.schema().fields().iter().map(|f| Value::String(f.name().clone()).to_string()).collect();
        let mut line = String::with_capacity(256);
        for i in 0..b.num_rows() {
            line.clear();
            for (k, c) in b.columns().iter().enumerate() {
                line.push(if k == 0 { '{' } else { ',' });
                line.push_str(&keys[k]);
                line.push(':');
                line.push_str(&value(c, i).to_string());
            }
            line.push_str("}\n");
            self.out.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), String> {
        self.out.flush().map_err(|e| e.to_string())?;
        self.out.get_ref().sync_all().map_err(|e| e.to_string())
    }
}
