//! The DuckDB side: streams of `user_behavior` and `user_summary` rows as TSV chunks, and the
//! counts a sync verifies against.

use super::encode::{push_date, push_datetime, CHUNK};
use super::SyncError;
use duckdb::arrow::array::AsArray;
use duckdb::arrow::datatypes::{Int64Type, UInt32Type, UInt8Type};
use std::io::Write;
use std::sync::{mpsc, Arc};

/// Streams `user_behavior` rows of the given ingest ids (all when None) as TSV chunks, one stream
/// per sender: a row goes to stream `user_id mod n`, the partition MySQL's `PARTITION BY HASH
/// (user_id) PARTITIONS n` puts it in (ids are non-negative, cleaning rule 2).
pub(crate) fn produce_behavior(
    conn: duckdb::Connection,
    ids: Option<Vec<u32>>,
    txs: Vec<mpsc::SyncSender<Vec<u8>>>,
    sent: Arc<std::sync::atomic::AtomicU64>,
) -> Result<(), SyncError> {
    let filter = match &ids {
        Some(v) => format!("WHERE ingest_id IN ({})", v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")),
        None => String::new(),
    };
    let mut st = conn.prepare(&format!(
        "SELECT user_id, item_id, category_id, enum_code(behavior_type)::UTINYINT, ts, epoch(event_time)::BIGINT, event_hour, ingest_id FROM user_behavior {filter}"
    ))?;
    let n = txs.len().max(1) as i64;
    let mut bufs: Vec<Vec<u8>> = (0..n).map(|_| Vec::with_capacity(CHUNK + 4096)).collect();
    // Streams whose consumer has gone (it failed; its error is reported by the loader).
    let mut closed = vec![false; n as usize];
    let mut ib = itoa::Buffer::new();
    for batch in st.query_arrow([])? {
        let u = batch.column(0).as_primitive::<Int64Type>();
        let i = batch.column(1).as_primitive::<Int64Type>();
        let c = batch.column(2).as_primitive::<Int64Type>();
        let b = batch.column(3).as_primitive::<UInt8Type>();
        let ts = batch.column(4).as_primitive::<Int64Type>();
        let lt = batch.column(5).as_primitive::<Int64Type>();
        let h = batch.column(6).as_primitive::<UInt8Type>();
        let g = batch.column(7).as_primitive::<UInt32Type>();
        for r in 0..batch.num_rows() {
            let user = u.value(r);
            let buf = &mut bufs[user.rem_euclid(n) as usize];
            buf.extend_from_slice(ib.format(user).as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(ib.format(i.value(r)).as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(ib.format(c.value(r)).as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(crate::domain::BEHAVIORS[b.value(r) as usize].as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(ib.format(ts.value(r)).as_bytes());
            buf.push(b'\t');
            let l = lt.value(r);
            push_datetime(buf, l);
            buf.push(b'\t');
            push_date(buf, l.div_euclid(86_400));
            buf.push(b'\t');
            buf.extend_from_slice(ib.format(h.value(r)).as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(ib.format(g.value(r)).as_bytes());
            buf.push(b'\n');
        }
        sent.fetch_add(batch.num_rows() as u64, std::sync::atomic::Ordering::Relaxed);
        for (k, buf) in bufs.iter_mut().enumerate() {
            if buf.len() >= CHUNK && !closed[k] && txs[k].send(std::mem::replace(buf, Vec::with_capacity(CHUNK + 4096))).is_err() {
                closed[k] = true;
            }
            if closed[k] {
                buf.clear();
            }
        }
        if closed.iter().all(|c| *c) {
            return Ok(());
        }
    }
    for (k, buf) in bufs.into_iter().enumerate() {
        if !buf.is_empty() && !closed[k] {
            let _ = txs[k].send(buf);
        }
    }
    Ok(())
}

/// Streams `user_summary` as TSV chunks (sorted by user_id, the mirror's primary key).
pub(crate) fn produce_summary(
    conn: duckdb::Connection,
    txs: Vec<mpsc::SyncSender<Vec<u8>>>,
    sent: Arc<std::sync::atomic::AtomicU64>,
) -> Result<(), SyncError> {
    let tx = txs.into_iter().next().expect("one stream");
    let mut st = conn.prepare(
        "SELECT user_id, pv, fav, cart, buy, epoch(last_buy_at)::BIGINT, epoch(first_event_at)::BIGINT, epoch(last_event_at)::BIGINT,
                active_days, distinct_items, recency_days::BIGINT, frequency, monetary, r_score::BIGINT, f_score::BIGINT, m_score::BIGINT, segment
         FROM user_summary ORDER BY user_id",
    )?;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
    let mut rows = st.query([])?;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        for k in 0..17 {
            if k > 0 {
                buf.push(b'\t');
            }
            match k {
                5..=7 => match r.get::<_, Option<i64>>(k)? {
                    Some(v) => push_datetime(&mut buf, v),
                    None => buf.extend_from_slice(b"\\N"),
                },
                16 => match r.get::<_, Option<String>>(k)? {
                    Some(s) => buf.extend_from_slice(s.as_bytes()),
                    None => buf.extend_from_slice(b"\\N"),
                },
                _ => match r.get::<_, Option<i64>>(k)? {
                    Some(v) => {
                        let _ = write!(buf, "{v}");
                    }
                    None => buf.extend_from_slice(b"\\N"),
                },
            }
        }
        buf.push(b'\n');
        n += 1;
        if buf.len() >= CHUNK {
            sent.store(n, std::sync::atomic::Ordering::Relaxed);
            if tx.send(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 4096))).is_err() {
                return Ok(());
            }
        }
    }
    sent.store(n, std::sync::atomic::Ordering::Relaxed);
    if !buf.is_empty() {
        let _ = tx.send(buf);
    }
    Ok(())
}

/// DuckDB's counts: total and per behaviour (for all rows or some ingest ids).
pub(crate) fn duck_counts(conn: &duckdb::Connection, ids: Option<&[u32]>) -> Result<[u64; 5], SyncError> {
    let filter = match ids {
        Some(v) if !v.is_empty() => format!("WHERE ingest_id IN ({})", v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")),
        Some(_) => "WHERE false".into(),
        None => String::new(),
    };
    let mut out = [0u64; 5];
    let mut st = conn.prepare(&format!("SELECT enum_code(behavior_type)::INTEGER, count(*) FROM user_behavior {filter} GROUP BY 1"))?;
    let rows = st.query_map([], |r| Ok((r.get::<_, i32>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (b, n) = row?;
        out[b as usize + 1] = n as u64;
        out[0] += n as u64;
    }
    Ok(out)
}

pub(crate) fn batch_rows(duck: &duckdb::Connection) -> Result<Vec<(u32, u64)>, SyncError> {
    let mut st = duck.prepare("SELECT ingest_id, count(*) FROM user_behavior GROUP BY 1 ORDER BY 1")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The ingest batches in `user_behavior`, ascending.
pub(crate) fn ingest_ids(duck: &duckdb::Connection) -> Result<Vec<u32>, SyncError> {
    let mut st = duck.prepare("SELECT DISTINCT ingest_id FROM user_behavior ORDER BY 1")?;
    let rows = st.query_map([], |r| r.get::<_, u32>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Rows of DuckDB's `user_summary`.
pub(crate) fn summary_rows(duck: &duckdb::Connection) -> Result<u64, SyncError> {
    let n: i64 = duck.query_row("SELECT count(*) FROM user_summary", [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}
