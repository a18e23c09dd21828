//! Live updates: `/api/events`, a stream of server-sent events. A poller looks at the DuckDB
//! file's stamp (inode, length, modification time of the file and its WAL) every
//! [`POLL`]; when it changed and the data version read from the file differs from the last one,
//! every open page gets an `update` event: `{"version", "counter", "rows", "new_rows", "at_ms"}`
//! (`counter` counts the updates this server has seen; `new_rows` is the change in the number of
//! rows the DB holds). The page then asks for its numbers again with its own filters.
//!
//! Any writer counts: `ecomm ingest` from a shell or a cron job, `ecomm ingest --stdin`, the
//! server's own `--watch`. While an ingest holds the write lock the poller cannot open the file;
//! it tries again on the next tick, so the event follows the commit within about one poll.

use crate::store::{self, Mode};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// How often the poller looks at the file.
pub const POLL: Duration = Duration::from_millis(500);

/// One change of the data.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Update {
    /// The data version (as in `/api/meta`).
    pub version: String,
    /// Updates seen by this server since it started.
    pub counter: u64,
    /// Rows in the DB now.
    pub rows: u64,
    /// Rows added since the previous version (negative after `ingest --replace` with less data).
    pub new_rows: i64,
    /// When the server saw it (Unix milliseconds).
    pub at_ms: i64,
}

/// The live state of a server: the last version seen and the channel to the open pages.
pub struct Live {
    tx: broadcast::Sender<Update>,
    last: Mutex<Option<(store::FileStamp, String, u64)>>,
    counter: Mutex<u64>,
    /// Set when the server stops: every open stream ends, so a graceful shutdown does not wait
    /// for pages that would listen forever.
    stop: tokio::sync::watch::Sender<bool>,
}

impl Default for Live {
    fn default() -> Live {
        Live { tx: broadcast::channel(64).0, last: Mutex::new(None), counter: Mutex::new(0), stop: tokio::sync::watch::channel(false).0 }
    }
}

impl Live {
    /// Ends every open event stream (the server is stopping).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Looks at the file once; returns the update when the data changed since the last look.
    pub fn check(&self, db: &std::path::Path, open: &store::OpenOptions) -> Option<Update> {
        let stamp = store::file_stamp(db)?;
        let mut last = self.last.lock().expect("live lock");
        if last.as_ref().is_some_and(|(s, _, _)| *s == stamp) {
            return None;
        }
        // Locked by a writer, or mid-commit: try again on the next tick.
        let conn = store::open(db, Mode::ReadOnly, open).ok()?;
        let version = store::data_version(&conn).ok()?;
        let rows = store::row_count(&conn).ok()?;
        let before = last.replace((stamp, version.clone(), rows));
        let (old_version, old_rows) = match before {
            None => return None,
            Some((_, v, r)) => (v, r),
        };
        if old_version == version {
            return None;
        }
        let mut counter = self.counter.lock().expect("live lock");
        *counter += 1;
        let u = Update {
            version,
            counter: *counter,
            rows,
            new_rows: rows as i64 - old_rows as i64,
            at_ms: chrono::Utc::now().timestamp_millis(),
        };
        let _ = self.tx.send(u.clone());
        Some(u)
    }
}

/// Polls the file until the process ends (a blocking thread); each change is also told to the
/// alert rules.
pub fn poll_forever(st: Arc<super::AppState>) {
    loop {
        if st.live.check(&st.db, &st.open).is_some() {
            if let Some(alerts) = &st.alerts {
                alerts.changed();
            }
        }
        std::thread::sleep(POLL);
    }
}

/// `GET /api/events`.
pub async fn events(State(st): State<Arc<super::AppState>>) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = st.live.tx.subscribe();
    let stop = st.live.stop.subscribe();
    let stream = futures_util::stream::unfold((rx, stop), |(mut rx, mut stop)| async move {
        loop {
            if *stop.borrow() {
                return None;
            }
            tokio::select! {
                got = rx.recv() => match got {
                    Ok(u) => return Some((Ok(Event::default().event("update").json_data(&u).expect("update serializes")), (rx, stop))),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = stop.changed() => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
