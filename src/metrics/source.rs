//! The plumbing every analysis shares: which relations to read for a range and a filter (the
//! stored rollups, behaviour-filtered views of them, or connection-local rollups of the matching
//! events for a category filter), the day bitmaps, and small numeric helpers.

use super::MetricsError;
use crate::domain::{trace_here, Filter, Journey, Range, BEHAVIORS};
use crate::store::{self, sql_date};
use duckdb::Connection;

/// What an analysis reads: the connection, the range and filter, and the relations for them.
pub struct Ctx<'a> {
    /// A connection to the DB.
    pub conn: &'a Connection,
    /// The range.
    pub range: &'a Range,
    /// The filter.
    pub filter: &'a Filter,
    /// The relations to read.
    pub src: Sources,
    /// `event_date BETWEEN <from> AND <to>` for the range.
    pub between: String,
    /// The options of the journey analyses (ordered funnel, cohorts, sessions).
    pub journey: &'a Journey,
    /// The shared read of the events by user and time, once an analysis asked for it.
    pub user_pass: std::cell::RefCell<Option<super::user_pass::UserPass>>,
}

impl<'a> Ctx<'a> {
    /// The relations for `range` and `filter` (builds filtered rollups when a category filter asks for them).
    pub fn new(conn: &'a Connection, range: &'a Range, filter: &'a Filter, journey: &'a Journey) -> Result<Ctx<'a>, MetricsError> {
        let between = format!("event_date BETWEEN {} AND {}", sql_date(range.from), sql_date(range.to));
        Ok(Ctx { conn, range, filter, src: Sources::new(conn, range, filter)?, between, journey, user_pass: Default::default() })
    }

    /// Runs `sql`, a read whose order matters (an ORDER BY, or a scan of a table stored in order),
    /// and hands its Arrow batches to `f` in that order, streamed.
    ///
    /// The store's connections run with `preserve_insertion_order = false`, under which DuckDB
    /// may hand over the batches out of order (seen: a user split across the batches of an
    /// ORDER BY), so the setting is on for this read. Callers still check the order they rely on.
    pub fn ordered_batches(
        &self,
        sql: &str,
        mut f: impl FnMut(&duckdb::arrow::record_batch::RecordBatch) -> Result<(), MetricsError>,
    ) -> Result<(), MetricsError> {
        self.conn.execute_batch("SET preserve_insertion_order = true")?;
        let read = (|| {
            let mut st = self.conn.prepare(sql)?;
            // Streamed: `query_arrow` would hold the whole result (1.7 GB at 100 M rows).
            for batch in st.stream_arrow([])? {
                f(&batch?)?;
            }
            Ok(())
        })();
        self.conn.execute_batch("SET preserve_insertion_order = false")?;
        read
    }

    /// For each date of the range, (users active that day, of them also active the next day),
    /// from the day bitmaps; `None` without them.
    pub fn per_day(&self) -> Result<Option<Vec<(u64, u64)>>, MetricsError> {
        match &self.src.bitmaps {
            Some(b) => Ok(Some(b.per_day(self.conn, self.range)?)),
            None => Ok(None),
        }
    }
}

/// The error of a pass that found its input out of the order it asked for.
pub fn out_of_order(what: &str, detail: String) -> MetricsError {
    MetricsError::Store(store::StoreError::Io(format!("{what}: the events arrived out of order ({detail}); please report this")))
}

/// `quantile_cont(q)` as DuckDB computes it over `sorted` (ascending): linear interpolation at
/// position q·(n−1); 0 for none.
pub fn quantile_cont(sorted: &[i64], q: f64) -> f64 {
    interpolated(sorted.len() as u64, q, |i| sorted[i as usize] as f64)
}

/// [`quantile_cont`] over values given as (value, count), sorted by value: the quantile of the
/// list in which each value stands `count` times, without writing that list out.
pub fn quantile_cont_counted(sorted: &[(f64, u64)], q: f64) -> f64 {
    let n = sorted.iter().map(|s| s.1).sum();
    interpolated(n, q, |rank| {
        let mut seen = 0;
        for (v, c) in sorted {
            seen += c;
            if rank < seen {
                return *v;
            }
        }
        unreachable!("rank below the count")
    })
}

/// DuckDB's `quantile_cont` of n values, the value at a 0-based rank given by `at`: linear
/// interpolation at position q·(n−1); 0 for none.
fn interpolated(n: u64, q: f64, at: impl Fn(u64) -> f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let pos = q * (n - 1) as f64;
    let (lo, hi) = (pos.floor() as u64, pos.ceil() as u64);
    let (a, b) = (at(lo), at(hi));
    a + (b - a) * (pos - lo as f64)
}

/// A hasher for ids: one multiplication (Fibonacci hashing) instead of SipHash, which took most
/// of an item-keyed pass's and the sessions' time; the keys are ids from the data, and a slow map is their worst case.
#[derive(Clone, Copy, Default)]
pub struct IdHash;

/// The state of [`IdHash`].
#[derive(Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // The map indexes by the low bits: fold the well-mixed high bits into them.
        self.0 ^ (self.0 >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ *b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (x ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_i64(&mut self, x: i64) {
        self.write_u64(x as u64);
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64);
    }
}

impl std::hash::BuildHasher for IdHash {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

/// `a / b`, 0 when `b` is 0.
pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// A count from SQL (never negative) as u64.
pub fn u(v: i64) -> u64 {
    v.max(0) as u64
}

/// The day-bitmap rollups (`user_days`, `item_days`, or relations over them) and the range's bit mask.
pub struct Bitmaps {
    /// Bits of the range's days (bit k = window day k).
    pub mask: u64,
    /// Bit index of the range's first day.
    pub first: i64,
    /// Relation with `user_id, active, pv_days, fav_days, cart_days, buy_days`.
    pub user_days: String,
    /// Relation with `item_id, days`.
    pub item_days: String,
}

/// The relations the queries read, each with the columns of the stored rollup of the same name:
/// the stored rollups themselves; for a behaviour filter, the stored rollups with the other
/// behaviours' counts set to 0 (and rows left without events dropped); for a category filter,
/// connection-local rollups of the matching events ([`store::rollups::filtered_rollups`]).
pub struct Sources {
    /// Per (user, date) counts.
    pub user_day: String,
    /// Per (date, hour) counts.
    pub hourly: String,
    /// Per (category, date) counts.
    pub category_day: String,
    /// Per (user, date, item) buys.
    pub buy_items: String,
    /// Events (`user_behavior` columns).
    pub events: String,
    /// The day bitmaps, when they exist.
    pub bitmaps: Option<Bitmaps>,
    /// The kept events in (user_id, ts, b) storage order (`user_seq`, see
    /// [`store::rollups::rebuild_rollups`]), when it exists and no category filter is set;
    /// columns `user_id, ts, event_date, b, item_id, category_id`.
    pub user_seq: Option<String>,
}

impl Sources {
    /// The relations for `range` and `filter`.
    pub fn new(conn: &Connection, range: &Range, filter: &Filter) -> Result<Sources, MetricsError> {
        const B: [&str; 4] = BEHAVIORS;
        let kept: Vec<&str> = B.iter().copied().filter(|b| filter.keeps(b)).collect();
        let in_list = kept.iter().map(|b| format!("'{b}'")).collect::<Vec<_>>().join(", ");
        if !filter.categories.is_empty() {
            let ids = filter.categories.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ");
            let known: Vec<i64> = {
                let mut st = conn.prepare(&format!("SELECT DISTINCT category_id FROM category_day WHERE category_id IN ({ids})"))?;
                let rows = st.query_map([], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            if let Some(c) = filter.categories.iter().find(|c| !known.contains(c)) {
                return Err(MetricsError::UnknownCategory(*c));
            }
            let mut pred = format!("category_id IN ({ids}) AND event_date BETWEEN {} AND {}", sql_date(range.from), sql_date(range.to));
            if !filter.behaviors.is_empty() {
                pred.push_str(&format!(" AND behavior_type IN ({in_list})"));
            }
            store::rollups::filtered_rollups(conn, &pred)?;
            trace_here("metrics: filtered rollups");
            return Ok(Sources {
                user_day: "f_user_day".into(),
                hourly: "f_hourly".into(),
                category_day: "f_category_day".into(),
                buy_items: "f_buy_items".into(),
                events: "f_events".into(),
                bitmaps: None,
                user_seq: None,
            });
        }
        let dropped: Vec<&str> = B.iter().copied().filter(|b| !filter.keeps(b)).collect();
        let bitmaps = Bitmaps::for_range(conn, range, &kept, &dropped)?;
        let user_seq = user_seq(conn, &kept, &dropped)?;
        if dropped.is_empty() {
            return Ok(Sources {
                user_day: "user_day".into(),
                hourly: "hourly".into(),
                category_day: "category_day".into(),
                buy_items: "buy_items".into(),
                events: "user_behavior".into(),
                bitmaps,
                user_seq,
            });
        }
        let zero = dropped.iter().map(|b| format!("0::UINTEGER AS {b}")).collect::<Vec<_>>().join(", ");
        let any = kept.iter().map(|b| format!("{b} > 0")).collect::<Vec<_>>().join(" OR ");
        let any = if any.is_empty() { "false".to_string() } else { any };
        Ok(Sources {
            user_day: format!("(SELECT * REPLACE ({zero}) FROM user_day WHERE {any})"),
            hourly: format!("(SELECT * REPLACE ({zero}) FROM hourly)"),
            category_day: format!("(SELECT * REPLACE ({zero}) FROM category_day WHERE {any})"),
            buy_items: if filter.keeps("buy") { "buy_items".into() } else { "(SELECT * FROM buy_items WHERE false)".into() },
            events: format!("(SELECT * FROM user_behavior WHERE behavior_type IN ({in_list}))"),
            bitmaps,
            user_seq,
        })
    }
}

/// `user_seq`, narrowed to the kept behaviours, when it exists and `ECOMM_NO_USER_SEQ` is unset
/// (DBs ingested before it was added have none; the readers then sort the events).
fn user_seq(conn: &Connection, kept: &[&str], dropped: &[&str]) -> Result<Option<String>, MetricsError> {
    if std::env::var_os("ECOMM_NO_USER_SEQ").is_some() || kept.is_empty() {
        return Ok(None);
    }
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' AND table_name = 'user_seq' AND column_name = 'category_id'",
        [],
        |r| r.get(0),
    )?;
    if n == 0 {
        return Ok(None);
    }
    if dropped.is_empty() {
        return Ok(Some("user_seq".into()));
    }
    let codes: Vec<String> = kept.iter().map(|b| BEHAVIORS.iter().position(|x| x == b).expect("behaviour").to_string()).collect();
    Ok(Some(format!("(SELECT * FROM user_seq WHERE b IN ({}))", codes.join(", "))))
}

impl Bitmaps {
    /// Some when the bitmaps exist (windows up to 64 days; per-behaviour item bitmaps when some
    /// behaviours are dropped) and `ECOMM_NO_BITMAPS` is unset.
    fn for_range(conn: &Connection, range: &Range, kept: &[&str], dropped: &[&str]) -> Result<Option<Bitmaps>, MetricsError> {
        if std::env::var_os("ECOMM_NO_BITMAPS").is_some()
            || (range.window_end - range.window_start).num_days() >= store::rollups::MASK_DAYS
            || kept.is_empty()
        {
            return Ok(None);
        }
        let n: i64 = conn.query_row(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name IN ('user_days', 'item_days')",
            [],
            |r| r.get(0),
        )?;
        if n < 2 {
            return Ok(None);
        }
        let (user_days, item_days) = if dropped.is_empty() {
            ("user_days".to_string(), "item_days".to_string())
        } else {
            // Per-behaviour item days exist for windows up to LANE_DAYS days (and in DBs ingested
            // since they were added).
            let lanes: i64 = conn.query_row(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' AND table_name = 'item_days' AND column_name = 'lanes'",
                [],
                |r| r.get(0),
            )?;
            if lanes == 0 {
                return Ok(None);
            }
            let any = kept.iter().map(|b| format!("{b}_days")).collect::<Vec<_>>().join(" | ");
            let zero = dropped.iter().map(|b| format!("0::UBIGINT AS {b}_days")).collect::<Vec<_>>().join(", ");
            let lane = kept
                .iter()
                .map(|b| {
                    let k = BEHAVIORS.iter().position(|x| x == b).expect("behaviour") as i64;
                    format!("(lanes >> {})", k * store::rollups::LANE_DAYS)
                })
                .collect::<Vec<_>>()
                .join(" | ");
            (
                format!("(SELECT user_id, ({any}) AS active, * EXCLUDE (user_id, active) REPLACE ({zero}) FROM user_days)"),
                format!("(SELECT item_id, ({lane}) & 65535 AS days FROM item_days)"),
            )
        };
        let first = (range.from - range.window_start).num_days();
        let len = (range.to - range.from).num_days() + 1;
        let ones = if len >= 64 { u64::MAX } else { (1u64 << len) - 1 };
        Ok(Some(Bitmaps { mask: ones << first, first, user_days, item_days }))
    }

    /// For each date of the range: (users active that day, of them also active the next day).
    fn per_day(&self, conn: &Connection, range: &Range) -> Result<Vec<(u64, u64)>, MetricsError> {
        let days = (range.to - range.from).num_days() + 1;
        let mut cols = Vec::new();
        for i in 0..days {
            let k = self.first + i;
            cols.push(format!("count(*) FILTER (WHERE (active >> {k}) & 1 = 1)"));
            cols.push(if i + 1 < days { format!("count(*) FILTER (WHERE (active >> {k}) & 3 = 3)") } else { "0".into() });
        }
        let sql = format!("SELECT {} FROM {}", cols.join(", "), self.user_days);
        Ok(conn.query_row(&sql, [], |r| {
            let mut out = Vec::with_capacity(days as usize);
            for i in 0..days as usize {
                out.push((u(r.get(2 * i)?), u(r.get(2 * i + 1)?)));
            }
            Ok(out)
        })?)
    }
}

/// A DuckDB list of numbers as f64s (empty for anything else).
pub fn list_f64(v: duckdb::types::Value) -> Vec<f64> {
    match v {
        duckdb::types::Value::List(xs) => xs
            .into_iter()
            .map(|x| match x {
                duckdb::types::Value::Double(d) => d,
                duckdb::types::Value::Float(d) => d as f64,
                duckdb::types::Value::BigInt(d) => d as f64,
                duckdb::types::Value::Int(d) => d as f64,
                _ => f64::NAN,
            })
            .collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_counted_values_are_those_of_the_list() {
        // 1, 1, 3, 3: position q·3 interpolated, as over the list written out.
        let v = [(1.0, 2), (3.0, 2)];
        for q in [0.0, 0.25, 0.5, 0.6, 0.75, 1.0] {
            assert_eq!(quantile_cont_counted(&v, q), quantile_cont(&[1, 1, 3, 3], q), "q = {q}");
        }
        assert_eq!((quantile_cont_counted(&v, 0.25), quantile_cont_counted(&v, 0.5)), (1.0, 2.0));
        assert_eq!(quantile_cont_counted(&[(0.5, 1)], 0.75), 0.5);
        assert_eq!(quantile_cont_counted(&[], 0.5), 0.0);
    }
}
