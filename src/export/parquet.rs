//! Apache Parquet through the `parquet` crate's Arrow writer: the batches' own schema, zstd
//! compression, row groups of about a million rows. Reads back with pandas, Spark, DuckDB and
//! `ecomm ingest`.

use super::Writer;
use duckdb::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// The Parquet writer (created at the first batch, which carries the schema).
pub struct Parquet {
    file: Option<std::fs::File>,
    w: Option<ArrowWriter<std::fs::File>>,
}

impl Parquet {
    /// A writer into `file`.
    pub fn new(file: std::fs::File) -> Parquet {
        Parquet { file: Some(file), w: None }
    }
}

impl Writer for Parquet {
    fn batch(&mut self, b: &RecordBatch) -> Result<(), String> {
        if self.w.is_none() {
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).map_err(|e| e.to_string())?))
                .set_max_row_group_row_count(Some(1 << 20))
                .build();
            let file = self.file.take().expect("file");
            self.w = Some(ArrowWriter::try_new(file, b.schema(), Some(props)).map_err(|e| e.to_string())?);
        }
        self.w.as_mut().expect("writer").write(b).map_err(|e| e.to_string())
    }

    fn finish(self: Box<Self>) -> Result<(), String> {
        match self.w {
            Some(w) => {
                let f = w.into_inner().map_err(|e| e.to_string())?;
                f.sync_all().map_err(|e| e.to_string())
            }
            // No rows: DuckDB still sent the schema in a batch, so this is an empty list.
            None => Ok(()),
        }
    }
}
