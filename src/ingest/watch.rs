//! Watching a folder (`ecomm ingest --watch DIR`, `ecomm serve --watch DIR`): every file that
//! appears in DIR in a format ecomm reads is ingested once it is complete, one ingest per file,
//! with the usual rules, rejects and idempotence.
//!
//! **Complete** means: its size and modification time have not changed for [`Watch::settle`]
//! (2 s by default). A file moved in by rename (the safe way to publish one) is complete from the
//! start and is picked up after the settle time; a file still being written keeps changing and
//! waits. The folder is polled (every [`Watch::poll`]), so it works the same on every file system,
//! network shares included.
//!
//! **A file that fails** (not what its extension says, truncated, a mapping that does not fit) is
//! moved to `DIR/failed/` with `NAME.error.txt` beside it holding the reason; the watch goes on.
//! A DB held by another writer is not the file's fault: the file is tried again on the next poll.
//! Files already ingested are skipped by their content hash (as `ecomm ingest` always does), so
//! restarting a watch over the same folder loads nothing twice.

use super::{run, IngestConfig, IngestError, IngestSummary};
use crate::store::StoreError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// What a watch does with a folder.
#[derive(Clone, Debug)]
pub struct Watch {
    /// The folder.
    pub dir: PathBuf,
    /// How long a file must stay unchanged to count as complete.
    pub settle: Duration,
    /// How often the folder is listed.
    pub poll: Duration,
}

impl Watch {
    /// A watch of `dir` with the default timings (2 s settle, 0.5 s poll).
    pub fn new(dir: PathBuf) -> Watch {
        Watch { dir, settle: Duration::from_secs(2), poll: Duration::from_millis(500) }
    }
}

/// What happened to one file.
#[derive(Debug)]
pub enum Outcome {
    /// Ingested (or found already ingested: `summary.unchanged`).
    Ingested(Box<IngestSummary>),
    /// Moved aside to `failed/` with the reason in `error.txt`.
    Failed {
        /// Where the file went.
        moved_to: PathBuf,
        /// Why.
        error: String,
    },
}

/// The subfolder failed files go to.
pub const FAILED: &str = "failed";

#[derive(Clone, Copy, PartialEq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(p: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(p).ok()?;
    m.is_file().then(|| Stamp { len: m.len(), modified: m.modified().ok() })
}

/// The candidate files of the folder, in name order.
fn candidates(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && super::sources::is_source_name(p) && !p.to_string_lossy().ends_with(".error.txt"))
        .collect();
    v.sort();
    v
}

/// Whether an ingest error is the file's (move it aside) or the moment's (try again later).
fn transient(e: &IngestError) -> bool {
    matches!(e, IngestError::Store(StoreError::Locked(_)))
}

/// Moves `file` into `DIR/failed/` and writes the reason beside it; returns the new path.
fn set_aside(dir: &Path, file: &Path, error: &str) -> std::io::Result<PathBuf> {
    let failed = dir.join(FAILED);
    std::fs::create_dir_all(&failed)?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut to = failed.join(&name);
    let mut n = 2;
    while to.exists() {
        to = failed.join(format!("{n}-{name}"));
        n += 1;
    }
    std::fs::rename(file, &to)?;
    let note = to.with_file_name(format!("{}.error.txt", to.file_name().unwrap_or_default().to_string_lossy()));
    std::fs::write(note, format!("{error}\n"))?;
    Ok(to)
}

/// Watches `w.dir` until `stop` is set, ingesting with `cfg` (its `inputs` are ignored) and
/// telling `on` about every file it finished with.
pub fn watch(cfg: &IngestConfig, w: &Watch, stop: &AtomicBool, on: &mut dyn FnMut(&Path, Outcome)) -> Result<(), IngestError> {
    if !w.dir.is_dir() {
        return Err(IngestError::Input(format!(
            "{} is not a folder; create it, or pass the folder new files arrive in / 监视目录不存在",
            w.dir.display()
        )));
    }
    // (stamp, since when) per file not yet done; the stamps of the files done.
    let mut pending: HashMap<PathBuf, (Stamp, Instant)> = HashMap::new();
    let mut done: HashMap<PathBuf, Stamp> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        for file in candidates(&w.dir) {
            let Some(now) = stamp(&file) else { continue };
            if done.get(&file) == Some(&now) {
                continue;
            }
            let entry = pending.entry(file.clone()).or_insert((now, Instant::now()));
            if entry.0 != now {
                *entry = (now, Instant::now());
                continue;
            }
            if entry.1.elapsed() < w.settle {
                continue;
            }
            let one = IngestConfig { inputs: vec![file.to_string_lossy().into_owned()], progress: false, ..cfg.clone() };
            match run(&one) {
                Ok(s) => {
                    pending.remove(&file);
                    done.insert(file.clone(), now);
                    on(&file, Outcome::Ingested(Box::new(s)));
                }
                Err(e) if transient(&e) => {}
                Err(e) => {
                    pending.remove(&file);
                    let error = e.to_string();
                    match set_aside(&w.dir, &file, &error) {
                        Ok(moved_to) => on(&file, Outcome::Failed { moved_to, error }),
                        // It cannot even be moved (read-only folder): remember it, so it is not
                        // tried on every poll, and say so.
                        Err(m) => {
                            done.insert(file.clone(), now);
                            on(
                                &file,
                                Outcome::Failed { moved_to: file.clone(), error: format!("{error} (and it could not be moved: {m})") },
                            )
                        }
                    }
                }
            }
        }
        pending.retain(|p, _| p.exists());
        std::thread::sleep(w.poll);
    }
    Ok(())
}
