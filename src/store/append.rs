//! Appending parsed batches to the stage table: rows sorted into category bands per cluster
//! (so the table's row groups cluster by category), through DuckDB's Arrow appender.

use super::StoreError;
use crate::domain::rows::Parsed;
use duckdb::arrow::array::{ArrayRef, Date32Array, Int64Array, StringArray, TimestampMicrosecondArray, UInt64Array, UInt8Array};
use duckdb::arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// The three appenders of an ingest.
///
/// Valid rows are not appended block by block: they are buffered into chunks of
/// [`cluster_rows`] rows, and each chunk is sorted by category before it goes to the stage
/// (a counting sort into [`BANDS`] bands of consecutive category ids, file order kept inside a
/// band). The load keeps that order, so each DuckDB row group of `user_behavior` (122,880 rows)
/// holds a narrow range of category ids, and a category filter reads only the row groups whose
/// min/max statistics (zonemaps) can hold its ids instead of the whole table. Rejects and raw
/// texts are appended as they come.
pub struct Appenders<'c> {
    stage: duckdb::Appender<'c>,
    rej: duckdb::Appender<'c>,
    raw: duckdb::Appender<'c>,
    pending: StageBuf,
    chunk: usize,
}

/// Stage rows waiting for their chunk to fill (columns as in `_ingest_stage`).
#[derive(Default)]
struct StageBuf {
    user: Vec<i64>,
    item: Vec<i64>,
    cat: Vec<i64>,
    beh: Vec<u8>,
    ts: Vec<i64>,
    time_us: Vec<i64>,
    date: Vec<i32>,
    hour: Vec<u8>,
    key: Vec<u64>,
    dup: Vec<u8>,
}

impl StageBuf {
    fn len(&self) -> usize {
        self.key.len()
    }

    fn is_empty(&self) -> bool {
        self.key.is_empty()
    }

    fn extend(&mut self, p: &mut Parsed) {
        self.user.append(&mut p.user);
        self.item.append(&mut p.item);
        self.cat.append(&mut p.cat);
        self.beh.append(&mut p.beh);
        self.ts.append(&mut p.ts);
        self.time_us.append(&mut p.time_us);
        self.date.append(&mut p.date);
        self.hour.append(&mut p.hour);
        self.key.append(&mut p.key);
        self.dup.extend(p.maybe_dup.drain(..).map(u8::from));
    }

    /// The same rows grouped by category band: a counting sort on [`category_bands`], which keeps
    /// file order inside a band. Each column is scattered in one sequential pass (one write cursor
    /// per band), and at most one extra column is alive at a time.
    fn sorted_by_category(self) -> StageBuf {
        let band = category_bands(&self.cat);
        let mut start = vec![0usize; BANDS + 1];
        for &b in &band {
            start[b as usize + 1] += 1;
        }
        for b in 0..BANDS {
            start[b + 1] += start[b];
        }
        StageBuf {
            user: scatter_by(self.user, &band, &start),
            item: scatter_by(self.item, &band, &start),
            cat: scatter_by(self.cat, &band, &start),
            beh: scatter_by(self.beh, &band, &start),
            ts: scatter_by(self.ts, &band, &start),
            time_us: scatter_by(self.time_us, &band, &start),
            date: scatter_by(self.date, &band, &start),
            hour: scatter_by(self.hour, &band, &start),
            key: scatter_by(self.key, &band, &start),
            dup: scatter_by(self.dup, &band, &start),
        }
    }
}

/// Number of category bands a chunk is sorted into.
pub const BANDS: usize = 1024;

/// Moves `v[i]` to the next free slot of band `band[i]` (bands start at `start`).
fn scatter_by<T: Copy + Default>(v: Vec<T>, band: &[u16], start: &[usize]) -> Vec<T> {
    let mut cur: Vec<usize> = start[..BANDS].to_vec();
    let mut out = vec![T::default(); v.len()];
    for (&x, &b) in v.iter().zip(band) {
        let c = &mut cur[b as usize];
        out[*c] = x;
        *c += 1;
    }
    out
}

/// The band (0..[`BANDS`]) of each category id: bands are consecutive ranges of ids cut at
/// quantiles of a sample of the chunk, so they hold similar numbers of rows whatever the ids look
/// like, and a band's rows have ids between two cut points.
fn category_bands(cat: &[i64]) -> Vec<u16> {
    let step = (cat.len() / (BANDS * 16)).max(1);
    let mut sample: Vec<i64> = cat.iter().step_by(step).copied().collect();
    sample.sort_unstable();
    // Cut points: every len/BANDS-th sampled value, without repeats (a category larger than a band
    // gets one band of its own).
    let mut cuts: Vec<i64> = (1..BANDS).map(|k| sample[k * sample.len() / BANDS]).collect();
    cuts.dedup();
    cat.iter().map(|c| cuts.partition_point(|x| x <= c) as u16).collect()
}

/// Rows per category-sorted chunk of the stage: 2 Mi rows (about 140 MB at the peak of its sort),
/// so each chunk spans about 17 row groups. `ECOMM_CLUSTER_ROWS` overrides it (`0` turns the sorting
/// off, for `ecomm bench` and tuning).
pub fn cluster_rows() -> usize {
    std::env::var("ECOMM_CLUSTER_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(CLUSTER_ROWS)
}

/// Default of [`cluster_rows`].
pub const CLUSTER_ROWS: usize = 1 << 21;

/// Bytes a buffered stage row takes at the peak of its chunk's sort (the columns, its band and
/// one sorted column), for the ingest's memory budget.
pub const STAGE_ROW_BYTES: u64 = 68;

impl<'c> Appenders<'c> {
    /// Appenders writing to `stage`, `rej` and `raw`, sorting stage rows in chunks of [`cluster_rows`].
    pub(super) fn new(stage: duckdb::Appender<'c>, rej: duckdb::Appender<'c>, raw: duckdb::Appender<'c>) -> Appenders<'c> {
        Appenders { stage, rej, raw, pending: StageBuf::default(), chunk: cluster_rows() }
    }

    /// Takes one parsed block: rejects and raw texts are appended now, valid rows once their chunk
    /// is full (see [`Appenders`]).
    pub fn append(&mut self, mut p: Parsed) -> Result<(), StoreError> {
        if !p.key.is_empty() {
            self.pending.extend(&mut p);
            if self.pending.len() >= self.chunk.max(1) {
                self.append_pending()?;
            }
        }
        if !p.rej_key.is_empty() {
            let cols: Vec<ArrayRef> = vec![
                Arc::new(UInt64Array::from(p.rej_key)),
                Arc::new(StringArray::from(p.rej_reason.iter().map(|r| r.as_str()).collect::<Vec<_>>())),
                Arc::new(StringArray::from(p.rej_raw)),
            ];
            self.rej.append_record_batch(RecordBatch::try_from_iter(["key", "reason", "raw"].iter().zip(cols)).expect("rej batch"))?;
        }
        if !p.raw_key.is_empty() {
            let cols: Vec<ArrayRef> = vec![Arc::new(UInt64Array::from(p.raw_key)), Arc::new(StringArray::from(p.raw))];
            self.raw.append_record_batch(RecordBatch::try_from_iter(["key", "raw"].iter().zip(cols)).expect("raw batch"))?;
        }
        Ok(())
    }

    /// Sorts the buffered rows (unless sorting is off) and appends them to the stage.
    fn append_pending(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut b = std::mem::take(&mut self.pending);
        if self.chunk > 0 {
            let t = std::time::Instant::now();
            b = b.sorted_by_category();
            crate::domain::trace_here(&format!("{} rows sorted by category band in {:.3} s", b.len(), t.elapsed().as_secs_f64()));
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(b.user)),
            Arc::new(Int64Array::from(b.item)),
            Arc::new(Int64Array::from(b.cat)),
            Arc::new(UInt8Array::from(b.beh)),
            Arc::new(Int64Array::from(b.ts)),
            Arc::new(TimestampMicrosecondArray::from(b.time_us)),
            Arc::new(Date32Array::from(b.date)),
            Arc::new(UInt8Array::from(b.hour)),
            Arc::new(UInt64Array::from(b.key)),
            Arc::new(UInt8Array::from(b.dup)),
        ];
        self.stage.append_record_batch(RecordBatch::try_from_iter(STAGE_COLS.iter().zip(cols)).expect("stage batch"))?;
        Ok(())
    }

    /// Appends the last partial chunk and flushes all three.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.append_pending()?;
        self.stage.flush()?;
        self.rej.flush()?;
        self.raw.flush()?;
        Ok(())
    }
}

const STAGE_COLS: [&str; 10] =
    ["user_id", "item_id", "category_id", "behavior", "ts", "event_time", "event_date", "event_hour", "key", "maybe_dup"];

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer whose columns all encode the row's original position, so the sort can be checked
    /// column by column.
    fn buf(cats: &[i64]) -> StageBuf {
        let n = cats.len();
        StageBuf {
            user: (0..n as i64).collect(),
            item: (0..n as i64).map(|i| i * 10).collect(),
            cat: cats.to_vec(),
            beh: (0..n).map(|i| (i % 4) as u8).collect(),
            ts: (0..n as i64).map(|i| i + 1000).collect(),
            time_us: (0..n as i64).map(|i| i * 7).collect(),
            date: (0..n as i32).collect(),
            hour: (0..n).map(|i| (i % 24) as u8).collect(),
            key: (0..n as u64).collect(),
            dup: (0..n).map(|i| (i % 2) as u8).collect(),
        }
    }

    fn check_sorted(cats: &[i64]) {
        let s = buf(cats).sorted_by_category();
        let n = cats.len();
        // A permutation of the rows, each row's columns kept together.
        let mut seen = vec![false; n];
        for r in 0..n {
            let k = s.key[r] as usize;
            assert!(!seen[k], "row {k} twice");
            seen[k] = true;
            assert_eq!(
                (s.user[r], s.item[r], s.cat[r], s.beh[r], s.ts[r], s.time_us[r], s.date[r], s.hour[r], s.dup[r]),
                (k as i64, k as i64 * 10, cats[k], (k % 4) as u8, k as i64 + 1000, k as i64 * 7, k as i32, (k % 24) as u8, (k % 2) as u8)
            );
        }
        // Bands are consecutive id ranges in order: the sorted ids never step back across a band
        // boundary, and inside a band file order is kept.
        let of_input = category_bands(cats);
        let bands: Vec<u16> = s.key.iter().map(|&k| of_input[k as usize]).collect();
        let mut band_max = s.cat[0];
        for r in 1..n {
            assert!(bands[r - 1] <= bands[r], "bands out of order at {r}");
            if bands[r - 1] == bands[r] {
                assert!(s.key[r - 1] < s.key[r], "file order lost inside a band at {r}");
                band_max = band_max.max(s.cat[r]);
            } else {
                assert!(band_max < s.cat[r], "band ranges overlap at {r}");
                band_max = s.cat[r];
            }
        }
    }

    #[test]
    fn chunks_sort_into_category_bands() {
        // Skewed ids (one huge category, sparse ids, negative and extreme values).
        let mut rng = crate::gen::Rng::new(1, 2);
        let cats: Vec<i64> = (0..50_000)
            .map(|i| match rng.next_u64() % 10 {
                0..=3 => 4_756_105,
                4 => i64::MAX - (rng.next_u64() % 3) as i64,
                5 => -((rng.next_u64() % 5) as i64),
                _ => (rng.next_u64() % 5_000_000) as i64 + (i % 2),
            })
            .collect();
        check_sorted(&cats);
        check_sorted(&[7]);
        check_sorted(&[3, 3, 3, 1, 1, 2]);
        check_sorted(&(0..5000).rev().collect::<Vec<i64>>());
    }

    #[test]
    fn bands_are_narrow_on_many_categories() {
        // 10,000 categories over 1 M rows: each band should hold about 1/1024 of the rows and a
        // handful of ids, so a row group (122,880 rows) spans about 120 bands of the 1024.
        let mut rng = crate::gen::Rng::new(3, 4);
        let cats: Vec<i64> = (0..1_000_000).map(|_| (rng.next_u64() % 10_000) as i64 * 517).collect();
        let b = category_bands(&cats);
        let used = b.iter().copied().max().unwrap() as usize + 1;
        assert!(used > BANDS * 9 / 10, "only {used} bands used");
    }
}
