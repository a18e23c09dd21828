//! Moving streams: one producer thread reading DuckDB, one load thread per MySQL connection.

use super::mirror::Mirror;
use super::SyncError;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::{mpsc, Arc};
use std::time::Instant;

/// Feeds one TSV stream per sender from a DuckDB connection, counting rows sent.
pub(crate) type Producer =
    Box<dyn FnOnce(duckdb::Connection, Vec<mpsc::SyncSender<Vec<u8>>>, Arc<std::sync::atomic::AtomicU64>) -> Result<(), SyncError> + Send>;

/// Runs a producer thread feeding one `Mirror::load` per (connection, table) pair, the loads in
/// parallel threads, and shows rows/s. Returns the seconds it took.
#[allow(clippy::too_many_arguments)]
pub(crate) fn transfer(
    mirrors: &mut [Mirror],
    duck: &duckdb::Connection,
    tables: &[String],
    cols: &str,
    insert: bool,
    expected: u64,
    progress: bool,
    produce: Producer,
) -> Result<f64, SyncError> {
    assert_eq!(mirrors.len(), tables.len(), "one connection per table");
    let t0 = Instant::now();
    let pb = if progress { ProgressBar::new(expected) } else { ProgressBar::hidden() };
    pb.set_style(
        ProgressStyle::with_template("{spinner} sync {prefix} [{bar:30}] {human_pos}/{human_len} rows {per_sec} ({elapsed})")
            .expect("template")
            .progress_chars("=> "),
    );
    let prefix = tables[0].trim_end_matches("__stage_p0").trim_end_matches("__stage").trim_end_matches("__inc").to_string();
    pb.set_prefix(if tables.len() > 1 { format!("{prefix} ({} streams)", tables.len()) } else { prefix });
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..tables.len()).map(|_| mpsc::sync_channel::<Vec<u8>>(4)).unzip();
    let dconn = duck.try_clone()?;
    let s2 = sent.clone();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d2 = done.clone();
    let pb2 = pb.clone();
    let ticker = std::thread::spawn(move || {
        while !d2.load(std::sync::atomic::Ordering::Relaxed) {
            pb2.set_position(s2.load(std::sync::atomic::Ordering::Relaxed));
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    });
    let prod = std::thread::spawn(move || produce(dconn, txs, sent));
    let loads: Vec<Result<(), SyncError>> = std::thread::scope(|sc| {
        let handles: Vec<_> =
            mirrors.iter_mut().zip(tables).zip(rxs).map(|((m, t), rx)| sc.spawn(move || m.load(t, cols, rx, insert))).collect();
        handles.into_iter().map(|h| h.join().expect("loader thread")).collect()
    });
    let p = prod.join().expect("producer thread");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = ticker.join();
    pb.finish_and_clear();
    for r in loads {
        r?;
    }
    p?;
    Ok(t0.elapsed().as_secs_f64())
}
