//! Sending firings, and the thread that evaluates and sends in long-running processes.
//!
//! - A **webhook** gets `POST` with the firing as JSON (`Content-Type: application/json`); any
//!   2xx answer is delivered, anything else (another status, no connection within 5 s, no answer
//!   within 10 s) is an error. Errors name the host, never the path or query (they often carry a
//!   token). https uses the platform's TLS and its certificate store.
//! - A **file** gets the firing as one JSON line appended.
//! - A failed send is tried again after [`backoff`] (1 s, 2 s, 4 s … 128 s); after [`ATTEMPTS`]
//!   the firing is `failed` with its last error.

use super::{evaluate, AlertError, Fired};
use crate::appdb::alerts::{self as rows, FiringRow};
use crate::appdb::{path_for, AppDb};
use crate::domain::alert::Destination;
use crate::store::{OpenOptions, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Attempts a firing gets.
pub const ATTEMPTS: i64 = 8;
/// How long a process holds a firing it is sending.
const LEASE_MS: i64 = 60_000;

/// The wait after the `n`th failed attempt (n ≥ 1): 1 s, 2 s, 4 s … at most 5 min.
pub fn backoff(n: i64) -> Duration {
    Duration::from_secs((1u64 << (n - 1).clamp(0, 20) as u32).min(300))
}

/// Sends one firing's `payload` to `dest`.
pub fn send(dest: &Destination, payload: &str) -> Result<(), String> {
    match dest {
        Destination::Dashboard => Ok(()),
        Destination::File(p) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .and_then(|mut f| f.write_all(format!("{payload}\n").as_bytes()))
            .map_err(|e| format!("cannot append to {}: {e}", p.display())),
        Destination::Webhook(url) => {
            let host = dest.host().unwrap_or_default();
            let tls = native_tls::TlsConnector::new().map_err(|e| format!("TLS is not available here: {e}"))?;
            let agent = ureq::AgentBuilder::new()
                .tls_connector(std::sync::Arc::new(tls))
                .timeout_connect(Duration::from_secs(5))
                .timeout(Duration::from_secs(10))
                .redirects(0)
                .user_agent(concat!("ecomm/", env!("CARGO_PKG_VERSION")))
                .build();
            match agent.post(url).set("Content-Type", "application/json").send_string(payload) {
                Ok(r) if (200..300).contains(&r.status()) => Ok(()),
                Ok(r) => Err(format!("{host} answered HTTP {}", r.status())),
                Err(ureq::Error::Status(code, _)) => Err(format!("{host} answered HTTP {code}")),
                Err(ureq::Error::Transport(t)) => Err(format!("cannot reach {host}: {}", t.kind())),
            }
        }
    }
}

/// One delivery attempt: the firing as it was before it, and how it went.
pub type Attempt = (FiringRow, Result<(), String>);

/// The app DB of the DB at `db`, if it exists (none: no rules, nothing to send; an ingest never
/// makes one).
fn app_of(db: &Path) -> Result<Option<AppDb>, AlertError> {
    let path = path_for(db);
    Ok(if path.exists() { Some(AppDb::open(&path)?) } else { None })
}

/// Sends every pending firing in `app` that is due now; returns each with its result.
pub fn deliver_due(app: &AppDb) -> Result<Vec<Attempt>, AlertError> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut out = Vec::new();
    for f in rows::claim_due(app, now, LEASE_MS)? {
        let result = f.destination.parse::<Destination>().map_err(|e| e.to_string()).and_then(|d| send(&d, &f.payload));
        let tries = f.attempts + 1;
        let next = (tries < ATTEMPTS).then(|| chrono::Utc::now().timestamp_millis() + backoff(tries).as_millis() as i64);
        rows::attempted(app, f.id, result.as_ref().map(|_| ()).map_err(|e| (e.as_str(), next)))?;
        out.push((f, result));
    }
    Ok(out)
}

/// Evaluates after a commit, retrying while a writer holds the DuckDB file (up to ~10 s).
pub fn evaluate_patiently(db: &Path, open: &OpenOptions) -> Result<Vec<Fired>, AlertError> {
    let mut tries = 0;
    loop {
        match evaluate(db, open) {
            Err(AlertError::Store(StoreError::Locked(_)))
            | Err(AlertError::Metrics(crate::metrics::MetricsError::Store(StoreError::Locked(_))))
                if tries < 40 =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}

/// Says on stderr what happened to a firing.
pub fn log(line: &str) {
    eprintln!("{line}");
}

/// Evaluates the rules (see [`evaluate_patiently`]) and says on stderr what fired.
fn evaluate_logged(db: &Path, open: &OpenOptions) {
    match evaluate_patiently(db, open) {
        Ok(fired) => fired.iter().for_each(|f| log(&format!("{} / {}", f.en, f.zh))),
        Err(e) => log(&format!("alerts were not evaluated: {e} / 告警规则计算失败")),
    }
}

/// After a one-off ingest committed: evaluates the rules and makes one delivery attempt for what
/// is due (failed sends are retried by the next process that runs alerts).
pub fn once(db: &Path, open: &OpenOptions) {
    evaluate_logged(db, open);
    match app_of(db) {
        Ok(Some(app)) => report(deliver_due(&app)),
        Ok(None) => {}
        Err(e) => report(Err(e)),
    }
}

/// A thread that evaluates the rules after each change it is told of and sends due firings every
/// second (`ecomm serve`, `ecomm ingest --watch`, `--stdin`).
pub struct Runner {
    tx: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Runner {
    /// Starts the thread for the DB at `db`.
    pub fn start(db: PathBuf, open: OpenOptions) -> Runner {
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // The app DB stays open between the rounds (opened once it exists).
            let mut app: Option<AppDb> = None;
            loop {
                match rx.recv_timeout(Duration::from_secs(1)) {
                    Ok(()) => {
                        while rx.try_recv().is_ok() {}
                        evaluate_logged(&db, &open);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
                if app.is_none() {
                    match app_of(&db) {
                        Ok(a) => app = a,
                        Err(e) => report(Err(e)),
                    }
                }
                if let Some(a) = &app {
                    report(deliver_due(a));
                }
            }
        });
        Runner { tx, thread }
    }

    /// Stops the thread once it has finished what it was doing (the process is about to end).
    pub fn finish(self) {
        drop(self.tx);
        let _ = self.thread.join();
    }

    /// The data changed: evaluate the rules.
    pub fn changed(&self) {
        let _ = self.tx.send(());
    }
}

/// Logs the outcome of a round of deliveries.
pub fn report(r: Result<Vec<Attempt>, AlertError>) {
    match r {
        Ok(done) => {
            for (f, result) in done {
                match result {
                    Ok(()) => log(&format!("alert '{}' delivered to {} / 告警已送达", f.rule, Destination::redact(&f.destination))),
                    Err(e) if f.attempts + 1 < ATTEMPTS => log(&format!(
                        "alert '{}' not delivered ({e}); retrying in {} s / 告警发送失败，稍后重试",
                        f.rule,
                        backoff(f.attempts + 1).as_secs()
                    )),
                    Err(e) => log(&format!("alert '{}' not delivered after {ATTEMPTS} attempts: {e} / 告警发送失败", f.rule)),
                }
            }
        }
        Err(e) => log(&format!("alerts could not be sent: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let secs: Vec<u64> = (1..=10).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
    }
}
