//! The one way a record source hands rows to the pipeline: five [`Value`]s and a position per
//! record, mapped by the [`Mapping`] and gathered into [`Parsed`] batches.

use crate::domain::mapping::Value;
use crate::domain::rows::{source_key, Parsed, Reason};
use crate::domain::tz::{OffsetCache, Zone};
use crate::domain::Mapping;
use crate::ingest::parse::{Cleaning, Sink};
use crate::ingest::IngestError;
use std::sync::mpsc::SyncSender;

/// Rows per batch handed to the appenders.
const BATCH_ROWS: u64 = 1 << 16;

/// Positions are stored in 40 bits (see [`source_key`]).
const MAX_POSITION: u64 = (1 << 40) - 1;

/// Takes a source's records one by one (see the module doc).
pub(crate) struct Records<'a> {
    cl: &'a Cleaning<'a>,
    mapping: &'a Mapping,
    zone: &'a Zone,
    cache: OffsetCache,
    file_id: i32,
    sink: Sink<'a>,
    tx: SyncSender<Parsed>,
}

impl<'a> Records<'a> {
    /// Records of input `file_id`, sent to `tx` in batches.
    pub(crate) fn new(cl: &'a Cleaning<'a>, mapping: &'a Mapping, zone: &'a Zone, file_id: i32, tx: SyncSender<Parsed>) -> Self {
        Records { cl, mapping, zone, cache: OffsetCache::new(zone), file_id, sink: Sink::new(cl, BATCH_ROWS as usize), tx }
    }

    /// The mapping in use.
    pub(crate) fn mapping(&self) -> &'a Mapping {
        self.mapping
    }

    /// One record at `position` (the source's own 1-based row, line or document number); `raw`
    /// renders it for the rejects file when it is rejected.
    #[inline]
    pub(crate) fn push(&mut self, position: u64, values: &[Value<'_>; 5], raw: &dyn Fn() -> String) -> Result<(), IngestError> {
        let key = source_key(self.file_id, position.min(MAX_POSITION));
        match self.mapping.row(values, self.zone) {
            Ok(r) => self.sink.valid(&mut self.cache, key, r, true, raw),
            Err(reason) => self.sink.reject(key, reason, raw()),
        }
        self.maybe_send()
    }

    /// A record the source could not even split into values (bad JSON, a short row): `malformed`.
    pub(crate) fn malformed(&mut self, position: u64, raw: String) -> Result<(), IngestError> {
        self.sink.reject(source_key(self.file_id, position.min(MAX_POSITION)), Reason::Malformed, raw);
        self.maybe_send()
    }

    fn maybe_send(&mut self) -> Result<(), IngestError> {
        if self.sink.rows() >= BATCH_ROWS {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), IngestError> {
        let full = std::mem::replace(&mut self.sink, Sink::new(self.cl, BATCH_ROWS as usize));
        // The receiver only hangs up after a failure of its own, which it reports.
        self.tx.send(full.finish()).map_err(|_| IngestError::Input("the load stopped".into()))
    }

    /// Sends what is left.
    pub(crate) fn finish(mut self) -> Result<(), IngestError> {
        if self.sink.rows() > 0 {
            self.send()?;
        }
        Ok(())
    }
}

/// Renders values for the rejects file: comma-separated, as a CSV line of them would read.
pub(crate) fn render(values: &[Value<'_>]) -> String {
    let parts: Vec<String> = values
        .iter()
        .map(|v| match v {
            Value::Null => String::new(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Text(t) => t.to_string(),
            Value::Local(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
            Value::InstantMs(ms) => chrono::DateTime::from_timestamp_millis(*ms)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                .unwrap_or_else(|| ms.to_string()),
        })
        .collect();
    parts.join(",")
}
