//! One read of the kept events in (user, time) order, shared by the analyses that follow each
//! user's events in order: the sessions and the ordered funnel (for every key: a user's items and
//! categories lie in the user's block). The
//! first of them to run reads for both and leaves the other's tally in the context
//! ([`Ctx::user_pass`]). The read comes from `user_seq`, the events stored in that order at
//! ingest, without a sort; with a category filter (or in a DB ingested before `user_seq`
//! existed) DuckDB sorts the kept events instead.

use super::source::Ctx;
use super::{ordered_funnel, sessions, MetricsError};
use crate::domain::journey::FunnelKey;
use duckdb::arrow::array::{AsArray, Int64Array, UInt8Array};
use duckdb::arrow::datatypes::Int64Type;
use duckdb::arrow::record_batch::RecordBatch;

/// The tallies of one read, each taken by its analysis.
#[derive(Default)]
pub struct UserPass {
    /// The sessions' tally, until `sessions` takes it.
    pub sessions: Option<sessions::Tally>,
    /// The ordered funnel's tally (any key), until `ordered_funnel` takes it.
    pub funnel: Option<ordered_funnel::Tally>,
}

/// Reads the kept events in (user, time, behaviour) order once and feeds both analyses (the
/// sessions order ties by item too, but equal behaviours at the same time are indistinguishable
/// to both, so the read does not sort by it: 0.1 s and 110 MB less at 10 M rows).
///
/// The two feeds run on two threads, each over every batch (the funnel's on a scoped thread fed
/// through a short channel): on one thread their sum was the pass's time and one core waited.
/// With DuckDB held to one thread (`--threads 1`), both run on the calling thread.
fn read(ctx: &Ctx<'_>) -> Result<UserPass, MetricsError> {
    // From `user_seq`, stored in this order, the read needs no sort; otherwise DuckDB sorts.
    // The item and category columns only when the funnel follows them (user keys skip their decoding).
    let keys = match ctx.journey.by {
        FunnelKey::User => "",
        _ => ", item_id, category_id",
    };
    let sql = match &ctx.src.user_seq {
        Some(seq) => format!("SELECT user_id, ts, b{keys} FROM {seq} WHERE {}", ctx.between),
        None => format!(
            "SELECT user_id, ts, enum_code(behavior_type)::UTINYINT AS b{keys} FROM {} WHERE {} ORDER BY user_id, ts, b",
            ctx.src.events, ctx.between
        ),
    };
    let mut s = sessions::Feed::new(ctx.journey.gap_secs());
    let mut f = ordered_funnel::Feed::new(ctx)?;
    // Asked for one thread (`--threads 1`): both feeds on this one.
    let threads: i64 = ctx.conn.query_row("SELECT current_setting('threads')::BIGINT", [], |r| r.get(0))?;
    if threads <= 1 {
        ctx.ordered_batches(&sql, |batch| {
            feed_sessions(&mut s, batch)?;
            feed_funnel(&mut f, batch)
        })?;
        return Ok(UserPass { sessions: Some(s.finish()), funnel: Some(f.finish()) });
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<RecordBatch>(8);
    std::thread::scope(|scope| {
        let funnel = scope.spawn(move || -> Result<ordered_funnel::Feed, MetricsError> {
            for batch in rx {
                feed_funnel(&mut f, &batch)?;
            }
            Ok(f)
        });
        let read = ctx.ordered_batches(&sql, |batch| {
            // A closed channel means the funnel stopped on an error: stop reading too. The join
            // below reports the funnel's own error, before this one is looked at.
            if tx.send(batch.clone()).is_err() {
                return Err(super::source::out_of_order("ordered funnel", "its feed stopped early".into()));
            }
            feed_sessions(&mut s, batch)
        });
        drop(tx);
        let f = funnel.join().expect("the funnel's thread does not panic")?;
        read?;
        Ok(UserPass { sessions: Some(s.finish()), funnel: Some(f.finish()) })
    })
}

/// The read's first three columns: user, time, behaviour code.
fn columns(batch: &RecordBatch) -> (&Int64Array, &Int64Array, &UInt8Array) {
    (batch.column(0).as_primitive(), batch.column(1).as_primitive(), batch.column(2).as_primitive())
}

fn feed_sessions(s: &mut sessions::Feed, batch: &RecordBatch) -> Result<(), MetricsError> {
    let (us, ts, bs) = columns(batch);
    for r in 0..batch.num_rows() {
        s.event(us.value(r), ts.value(r), bs.value(r))?;
    }
    Ok(())
}

/// Feeds the funnel a batch; the item and category columns are there only for those keys.
fn feed_funnel(f: &mut ordered_funnel::Feed, batch: &RecordBatch) -> Result<(), MetricsError> {
    let (us, ts, bs) = columns(batch);
    let keys =
        (batch.num_columns() == 5).then(|| (batch.column(3).as_primitive::<Int64Type>(), batch.column(4).as_primitive::<Int64Type>()));
    for r in 0..batch.num_rows() {
        let (item, cat) = keys.map(|(i, c)| (i.value(r), c.value(r))).unwrap_or((0, 0));
        f.event(us.value(r), ts.value(r), bs.value(r), item, cat)?;
    }
    Ok(())
}

/// Takes a part of the context's pass, reading it first when the part is not there.
fn take<T>(ctx: &Ctx<'_>, part: fn(&mut UserPass) -> Option<T>) -> Result<T, MetricsError> {
    let mut cell = ctx.user_pass.borrow_mut();
    if let Some(t) = cell.as_mut().and_then(part) {
        return Ok(t);
    }
    let mut fresh = read(ctx)?;
    let t = part(&mut fresh).expect("a fresh pass holds every part");
    *cell = Some(fresh);
    Ok(t)
}

/// The sessions' tally.
pub fn sessions(ctx: &Ctx<'_>) -> Result<sessions::Tally, MetricsError> {
    take(ctx, |p| p.sessions.take())
}

/// The ordered funnel's tally.
pub fn funnel(ctx: &Ctx<'_>) -> Result<ordered_funnel::Tally, MetricsError> {
    take(ctx, |p| p.funnel.take())
}
