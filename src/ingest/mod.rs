//! `ecomm ingest`: read CSV / CSV.gz files, clean them and load them into the DuckDB file.
//!
//! Pipeline: one reader thread cuts each file into blocks of whole lines (and hashes the bytes),
//! worker threads parse blocks in parallel (rules 1–3, local time), and the calling thread
//! appends the parsed columns to staging tables through DuckDB's Arrow appender, in chunks of
//! about 2 M rows sorted by category (so category filters can skip most of the table, see
//! [`crate::store::load::Appenders`]). Rules 4–5 and
//! the load then run as SQL inside the same transaction (see [`crate::store::load`]).

pub mod parse;
pub mod window;

use crate::store::load::{self, Loader, LogEntry};
use crate::store::{self, Mode, OpenOptions, StoreError};
use crate::tz::{OffsetCache, Zone};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use parse::{Block, Parsed, Reason};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

/// Errors an ingest reports to the user.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Input path problems.
    #[error("{0}")]
    Input(String),
    /// Options that contradict the DB.
    #[error("{0}")]
    Options(String),
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<duckdb::Error> for IngestError {
    fn from(e: duckdb::Error) -> Self {
        IngestError::Store(StoreError::Db(e))
    }
}

/// A validated ingest request.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// Files, folders or glob patterns.
    pub inputs: Vec<String>,
    /// The DuckDB file.
    pub db: PathBuf,
    /// First local date of the window (with `end`).
    pub start: Option<NaiveDate>,
    /// Last local date of the window (with `start`).
    pub end: Option<NaiveDate>,
    /// Analysis time zone; None = the DB's, or Asia/Shanghai for a new DB.
    pub tz: Option<Zone>,
    /// Rebuild the DB from these files.
    pub replace: bool,
    /// DuckDB settings.
    pub open: OpenOptions,
    /// Show a progress bar.
    pub progress: bool,
}

/// The default analysis time zone.
pub const DEFAULT_TZ: &str = "Asia/Shanghai";

/// Rejected rows by reason (the JSON contract's `rejected`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Rejected {
    /// Rule 2.
    pub malformed: u64,
    /// Rule 3.
    pub bad_behavior: u64,
    /// Rule 4.
    pub out_of_window: u64,
    /// Rule 5.
    pub duplicate: u64,
}

/// The window as printed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WindowOut {
    /// First date, YYYY-MM-DD.
    pub start: String,
    /// Last date, YYYY-MM-DD.
    pub end: String,
    /// Time zone name or offset.
    pub timezone: String,
}

/// One input file's outcome.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileOut {
    /// Path.
    pub file: String,
    /// `loaded` or `skipped`.
    pub status: String,
    /// Rows read.
    pub rows_read: u64,
    /// Rows loaded.
    pub rows_loaded: u64,
}

/// What an ingest did (`--format json` prints this).
#[derive(Clone, Debug, serde::Serialize)]
pub struct IngestSummary {
    /// Rows read (data lines; BOM, header and blank lines excluded).
    pub rows_read: u64,
    /// Rows loaded into `user_behavior`.
    pub rows_loaded: u64,
    /// Rejects by reason.
    pub rejected: Rejected,
    /// The window and time zone.
    pub window: WindowOut,
    /// True when the window was detected from the data in this run.
    pub window_detected: bool,
    /// The rejects CSV.
    pub rejects_file: String,
    /// The ingest's id in `ingest_log` (None when nothing was loaded).
    pub ingest_id: Option<u32>,
    /// Per-file outcome.
    pub files: Vec<FileOut>,
    /// Wall seconds.
    pub seconds: f64,
    /// Rows read per second.
    pub rows_per_sec: f64,
    /// True when every file had been ingested before and nothing changed.
    pub unchanged: bool,
    /// Rows in the DB after the ingest.
    pub db_rows: u64,
}

/// Expands files, folders (their `*.csv` and `*.csv.gz`) and glob patterns, in sorted order.
pub fn resolve_inputs(inputs: &[String]) -> Result<Vec<PathBuf>, IngestError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for inp in inputs {
        let p = Path::new(inp);
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| IngestError::Input(format!("cannot read folder {inp}: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && is_data_name(f))
                .collect();
            if found.is_empty() {
                return Err(IngestError::Input(format!("folder {inp} holds no .csv or .csv.gz file / 文件夹中没有 CSV 文件")));
            }
            found.sort();
            out.extend(found);
        } else if p.is_file() {
            out.push(p.to_path_buf());
        } else if inp.contains(['*', '?', '[']) {
            let mut found: Vec<PathBuf> = glob::glob(inp)
                .map_err(|e| IngestError::Input(format!("bad pattern {inp}: {e}")))?
                .filter_map(Result::ok)
                .filter(|f| f.is_file())
                .collect();
            if found.is_empty() {
                return Err(IngestError::Input(format!("no file matches {inp} / 没有匹配的文件")));
            }
            found.sort();
            out.extend(found);
        } else if p.exists() {
            return Err(IngestError::Input(format!("{inp} is not a regular file / 不是普通文件")));
        } else if let Ok(link) = std::fs::symlink_metadata(p) {
            // The name exists but cannot be followed: a link that loops or points nowhere.
            let why = std::fs::metadata(p).err().map(|e| e.to_string()).unwrap_or_default();
            let target = std::fs::read_link(p).map(|t| t.display().to_string()).unwrap_or_default();
            let what = if link.file_type().is_symlink() {
                format!("a symbolic link to '{target}' that cannot be followed")
            } else {
                "unreadable".into()
            };
            return Err(IngestError::Input(format!(
                "{inp} is {what} ({why}); point it at the data file or pass the file itself / 符号链接无法解析：{inp}"
            )));
        } else {
            return Err(IngestError::Input(format!("file not found: {inp}; check the path / 文件不存在：{inp}")));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(out)
}

fn is_data_name(p: &Path) -> bool {
    let n = p.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    n.ends_with(".csv") || n.ends_with(".csv.gz")
}

/// A reader that counts and hashes the bytes it passes on.
struct Tap<R> {
    inner: R,
    hasher: xxhash_rust::xxh3::Xxh3,
    done: Arc<AtomicU64>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.done.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn io_err(path: &Path, e: std::io::Error) -> IngestError {
    IngestError::Input(format!("cannot read {}: {e} / 无法读取文件", path.display()))
}

/// Size and hash of the first MiB: two files with different keys differ.
fn quick_key(path: &Path) -> Result<String, IngestError> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let size = f.metadata().map_err(|e| io_err(path, e))?.len();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0;
    while n < buf.len() {
        let k = f.read(&mut buf[n..]).map_err(|e| io_err(path, e))?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(format!("{size}:{:016x}", xxhash_rust::xxh3::xxh3_64(&buf[..n])))
}

fn full_hash(path: &Path) -> Result<String, IngestError> {
    let f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut tap = Tap {
        inner: std::io::BufReader::with_capacity(1 << 20, f),
        hasher: xxhash_rust::xxh3::Xxh3::new(),
        done: Arc::new(AtomicU64::new(0)),
    };
    std::io::copy(&mut tap, &mut std::io::sink()).map_err(|e| io_err(path, e))?;
    Ok(format!("{:032x}", tap.hasher.digest128()))
}

/// Checks the start of a file: empty, binary, or not gzip despite the name.
fn sniff(path: &Path) -> Result<bool, IngestError> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut head = [0u8; 2];
    let n = f.read(&mut head).map_err(|e| io_err(path, e))?;
    if n == 0 {
        return Err(IngestError::Input(format!("{} is empty; pass a UserBehavior CSV file / 文件为空", path.display())));
    }
    let gz = n == 2 && head == [0x1f, 0x8b];
    let f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut r: Box<dyn Read> = if gz { Box::new(flate2::read::MultiGzDecoder::new(f)) } else { Box::new(f) };
    let mut buf = vec![0u8; 8192];
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) => {
                return Err(IngestError::Input(format!(
                    "{} is not a readable gzip file ({e}); re-download or decompress it / gzip 文件损坏",
                    path.display()
                )))
            }
        }
    }
    if got == 0 {
        return Err(IngestError::Input(format!("{} is empty; pass a UserBehavior CSV file / 文件为空", path.display())));
    }
    if buf[..got].contains(&0) {
        return Err(IngestError::Input(format!(
            "{} looks like a binary file, not a CSV; pass a UserBehavior CSV (user_id,item_id,category_id,behavior_type,timestamp) / 这不是 CSV 文本文件",
            path.display()
        )));
    }
    Ok(gz)
}

const BLOCK_BYTES: usize = 8 << 20;

/// Counts after staging one file.
struct Staged {
    rows_read: u64,
    valid: u64,
    malformed: u64,
    bad_behavior: u64,
    hash: String,
    days: HashMap<i64, u64>,
}

#[allow(clippy::too_many_arguments)]
fn stage_file(
    apps: &mut load::Appenders<'_>,
    cleaning: &parse::Cleaning<'_>,
    file_id: i32,
    path: &Path,
    gz: bool,
    zone: &Zone,
    bytes_done: &Arc<AtomicU64>,
    on_progress: &dyn Fn(u64),
) -> Result<Staged, IngestError> {
    let f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 8);
    let (btx, brx) = mpsc::sync_channel::<Block>(workers + 1);
    let brx = Arc::new(Mutex::new(brx));
    let (ptx, prx) = mpsc::sync_channel::<Parsed>(workers + 1);
    let mut st = Staged { rows_read: 0, valid: 0, malformed: 0, bad_behavior: 0, hash: String::new(), days: HashMap::new() };
    let done = bytes_done.clone();
    std::thread::scope(|s| -> Result<(), IngestError> {
        let reader = s.spawn(move || -> Result<String, std::io::Error> {
            let tap = Tap { inner: std::io::BufReader::with_capacity(1 << 20, f), hasher: xxhash_rust::xxh3::Xxh3::new(), done };
            // The content hash covers the file's bytes as stored (compressed for .gz).
            let tap = if gz {
                let mut d = flate2::read::MultiGzDecoder::new(tap);
                cut_blocks(&mut d, file_id, &btx)?;
                d.into_inner()
            } else {
                let mut t = tap;
                cut_blocks(&mut t, file_id, &btx)?;
                t
            };
            drop(btx);
            Ok(format!("{:032x}", tap.hasher.digest128()))
        });
        for _ in 0..workers {
            let brx = brx.clone();
            let ptx = ptx.clone();
            let zone = zone.clone();
            s.spawn(move || {
                let mut cache = OffsetCache::new(&zone);
                loop {
                    let blk = match brx.lock().expect("block queue").recv() {
                        Ok(b) => b,
                        Err(_) => break,
                    };
                    if ptx.send(parse::parse_block(&blk, &mut cache, cleaning)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(ptx);
        let mut failure: Option<IngestError> = None;
        for p in prx.iter() {
            if failure.is_some() {
                continue;
            }
            st.rows_read += p.rows_read;
            for r in &p.rej_reason {
                match r {
                    Reason::Malformed => st.malformed += 1,
                    Reason::BadBehavior => st.bad_behavior += 1,
                    _ => {}
                }
            }
            for (d, n) in &p.days {
                *st.days.entry(*d).or_insert(0) += n;
                st.valid += n;
            }
            if let Err(e) = apps.append(p) {
                failure = Some(e.into());
            }
            on_progress(st.rows_read);
        }
        match reader.join().expect("reader thread") {
            Ok(h) => st.hash = h,
            Err(e) => {
                return Err(IngestError::Input(format!(
                    "cannot read {}: {e}; if it is a .gz file it may be truncated or corrupt / 文件读取失败",
                    path.display()
                )))
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(())
    })?;
    Ok(st)
}

/// Cuts a stream into blocks of whole lines and numbers them.
fn cut_blocks(src: &mut dyn Read, file_id: i32, out: &mpsc::SyncSender<Block>) -> std::io::Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let mut line = 1u64;
    let mut first = true;
    loop {
        let mut buf = std::mem::take(&mut carry);
        let old = buf.len();
        buf.resize(old + BLOCK_BYTES, 0);
        let mut filled = old;
        while filled < buf.len() {
            let k = src.read(&mut buf[filled..])?;
            if k == 0 {
                break;
            }
            filled += k;
        }
        let eof = filled < buf.len();
        buf.truncate(filled);
        if buf.is_empty() {
            return Ok(());
        }
        if !eof {
            match memchr::memrchr(b'\n', &buf) {
                Some(cut) => carry = buf.split_off(cut + 1),
                // A line longer than a block: keep reading, up to a sane limit.
                None if buf.len() < 8 * BLOCK_BYTES => {
                    carry = buf;
                    continue;
                }
                None => {}
            }
        }
        let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
        let blk = Block { data: buf, first_line: line, file_id, is_file_start: first };
        line += lines;
        first = false;
        if out.send(blk).is_err() || (eof && carry.is_empty()) {
            return Ok(());
        }
    }
}

/// Parses sizes like `2GB`, `1500MB`, `2GiB` into bytes (decimal and binary units both as powers of 1024,
/// as DuckDB does for memory_limit).
pub fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

fn existing_rows(conn: &duckdb::Connection, replace: bool) -> Result<u64, IngestError> {
    if replace {
        return Ok(0);
    }
    Ok(crate::store::row_count(conn)?)
}

fn date_of_day(day: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::TimeDelta::try_days(day)?)
}

fn now_utc() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// With `ECOMM_TRACE=1`, prints how long each phase took (for `ecomm bench` and tuning).
fn trace(t0: Instant, what: &str) {
    if std::env::var_os("ECOMM_TRACE").is_some() {
        eprintln!("[trace] {:>8.3} s  {what}", t0.elapsed().as_secs_f64());
    }
}

/// Runs an ingest. The DB is changed in one transaction, or not at all.
pub fn run(cfg: &IngestConfig) -> Result<IngestSummary, IngestError> {
    let t0 = *START.get_or_init(Instant::now);
    let started = now_utc();
    let files = resolve_inputs(&cfg.inputs)?;
    let mut gz_flags = Vec::with_capacity(files.len());
    for f in &files {
        gz_flags.push(sniff(f)?);
    }
    if cfg.start.is_some() != cfg.end.is_some() {
        return Err(IngestError::Options(
            "give both --start and --end, or neither (to detect the window) / --start 与 --end 需同时指定".into(),
        ));
    }
    if let (Some(s), Some(e)) = (cfg.start, cfg.end) {
        if s > e {
            return Err(IngestError::Options(format!("--start {s} is after --end {e}; swap them / 开始日期晚于结束日期")));
        }
    }
    let conn = store::open(&cfg.db, Mode::ReadWrite, &cfg.open)?;
    let existing = if cfg.replace { None } else { store::window(&conn)? };
    let zone = match (&cfg.tz, &existing) {
        (Some(z), Some(w)) if z.to_string() != w.timezone => {
            return Err(IngestError::Options(format!(
                "this DB uses time zone {}, not {z}; drop --tz, or rebuild it with --replace / 时区与数据库不一致",
                w.timezone
            )))
        }
        (Some(z), _) => z.clone(),
        (None, Some(w)) => Zone::parse(&w.timezone).map_err(IngestError::Options)?,
        (None, None) => Zone::parse(DEFAULT_TZ).expect("default zone"),
    };
    if let (Some(s), Some(e), Some(w)) = (cfg.start, cfg.end, &existing) {
        if s != w.start || e != w.end {
            return Err(IngestError::Options(format!(
                "this DB's window is {}..{}, not {s}..{e}; drop --start/--end, or rebuild it with --replace / 时间窗口与数据库不一致",
                w.start, w.end
            )));
        }
    }
    let rejects_file = store::rejects_path(&cfg.db);
    if !cfg.replace && load::sync_rejects_file(&conn, &rejects_file)? {
        eprintln!("note: {} lagged behind the DB (an earlier ingest was stopped after its commit); rewritten from the rejects table / 拒绝行文件已按数据库补齐", rejects_file.display());
    }
    let known = if cfg.replace { HashMap::new() } else { load::known_files(&conn)? };

    let total_bytes: u64 = files.iter().map(|f| f.metadata().map(|m| m.len()).unwrap_or(0)).sum();
    let pb = if cfg.progress { ProgressBar::new(total_bytes) } else { ProgressBar::hidden() };
    pb.set_style(
        ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {msg} ({elapsed})")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_prefix("ingest");
    let bytes_done = Arc::new(AtomicU64::new(0));

    // The window, when known before parsing: rule 4 then runs in the parser.
    let known_window = match (cfg.start, cfg.end, &existing) {
        (Some(s), Some(e), _) => Some((s, e)),
        (_, _, Some(w)) => Some((w.start, w.end)),
        _ => None,
    };
    let utc_window = |s: NaiveDate, e: NaiveDate| (zone.day_start_utc(s), zone.day_start_utc(e.succ_opt().expect("date")));

    // About 60 bytes per staged row: stage in memory while that is under half of the budget.
    let est_rows = total_bytes / 30;
    // ECOMM_STAGE=disk|memory overrides the choice (the tests cover both paths with it).
    let budget = parse_bytes(&cfg.open.memory_limit);
    let in_memory = match std::env::var("ECOMM_STAGE").as_deref() {
        Ok("disk") => false,
        Ok("memory") => true,
        _ => budget.is_some_and(|b| est_rows.saturating_mul(60) < b / 2),
    };
    let loader = Loader::begin(&conn, cfg.replace, in_memory)?;
    let ingest_id = load::next_ingest_id(loader.conn())?;
    let seen = parse::SeenSet::for_rows(est_rows + existing_rows(&conn, cfg.replace)?);
    // The memory limit is the whole process's budget: DuckDB gets it minus the duplicate filter, the
    // category-sorted chunk being buffered, and about 448 MiB for the parser's buffers and what
    // DuckDB allocates outside its limit.
    if let Some(budget) = budget {
        let chunk = (load::cluster_rows() as u64).min(est_rows) * load::STAGE_ROW_BYTES;
        let duck = budget.saturating_sub(seen.bytes() + chunk + (448 << 20)).max(512 << 20);
        loader.conn().execute_batch(&format!("SET memory_limit = '{}MB'", duck >> 20))?;
    }
    if !cfg.replace {
        pb.set_message("indexing rows already loaded / 读取已有数据");
        loader.seed_seen(&seen)?;
    }
    let cleaning = parse::Cleaning { window: known_window.map(|(s, e)| utc_window(s, e)), seen: &seen };
    let mut apps = loader.appenders()?;
    let mut entries: Vec<LogEntry> = Vec::new();
    let mut staged: Vec<(i32, Staged)> = Vec::new();
    let mut seen_files: HashMap<String, (String, String)> = known.clone();
    let mut rows_before = 0u64;
    for (i, (path, gz)) in files.iter().zip(&gz_flags).enumerate() {
        let shown = path.to_string_lossy().into_owned();
        let qk = quick_key(path)?;
        let size = path.metadata().map(|m| m.len()).unwrap_or(0);
        if let Some((h, first)) = seen_files.get(&qk) {
            if &full_hash(path)? == h {
                pb.println(format!("skip {shown}: same content as {first}, already ingested / 内容已导入，跳过"));
                bytes_done.fetch_add(size, Ordering::Relaxed);
                entries.push(LogEntry {
                    file: shown,
                    content_hash: h.clone(),
                    quick_key: qk,
                    bytes: size,
                    status: "skipped".into(),
                    rows_read: 0,
                    rows_loaded: 0,
                    rejected: [0; 4],
                });
                continue;
            }
        }
        let fid = i as i32;
        loader.add_file(fid, &shown)?;
        let st = stage_file(&mut apps, &cleaning, fid, path, *gz, &zone, &bytes_done, &|rows| {
            pb.set_position(bytes_done.load(Ordering::Relaxed));
            let secs = t0.elapsed().as_secs_f64().max(1e-3);
            pb.set_message(format!("{} rows, {:.1}M rows/s", rows_before + rows, (rows_before + rows) as f64 / secs / 1e6));
        })?;
        if st.rows_read == 0 {
            return Err(IngestError::Input(format!("{shown} has no data rows (only a header or blank lines) / 文件没有数据行")));
        }
        if st.valid == 0 {
            return Err(IngestError::Input(format!(
                "{shown} does not look like UserBehavior data: all {} rows were rejected ({} malformed, {} bad behaviour); expected lines like 1,2268318,2520377,pv,1511544070 / 文件格式不符",
                st.rows_read, st.malformed, st.bad_behavior
            )));
        }
        rows_before += st.rows_read;
        seen_files.insert(qk.clone(), (st.hash.clone(), shown.clone()));
        entries.push(LogEntry {
            file: shown,
            content_hash: st.hash.clone(),
            quick_key: qk,
            bytes: size,
            status: "loaded".into(),
            rows_read: st.rows_read,
            rows_loaded: 0,
            rejected: [0; 4],
        });
        staged.push((fid, st));
    }
    apps.flush()?;
    drop(apps);
    pb.set_position(total_bytes);
    trace(t0, "parsed and staged");

    let window_detected = known_window.is_none() && !staged.is_empty();
    let (wstart, wend) = match known_window {
        Some(w) => w,
        None if staged.is_empty() => (NaiveDate::MIN, NaiveDate::MIN),
        None => {
            let mut hist: HashMap<i64, u64> = HashMap::new();
            for (_, st) in &staged {
                for (d, n) in &st.days {
                    *hist.entry(*d).or_insert(0) += n;
                }
            }
            // Timestamps outside the years 1900..2200 can only be out of window.
            let sane_days = parse::SANE_SECS.start.div_euclid(86_400)..parse::SANE_SECS.end.div_euclid(86_400);
            let sane = |d: i64| sane_days.contains(&d);
            let mut hist: Vec<(i64, u64)> = hist.into_iter().filter(|(d, _)| sane(*d)).collect();
            hist.sort_unstable();
            let Some((a, b)) = window::detect(&hist) else {
                return Err(IngestError::Input(
                    "no valid row has a timestamp in the years 1900..2200; check the timestamp column (Unix seconds) or pass --start and --end / 时间戳超出范围"
                        .into(),
                ));
            };
            let (Some(x), Some(y)) = (date_of_day(a), date_of_day(b)) else {
                return Err(IngestError::Input(
                    "the detected window is not a valid date range; pass --start and --end / 时间窗口无效".into(),
                ));
            };
            if b - a + 1 > window::MAX_DETECTED_DAYS {
                return Err(IngestError::Input(format!(
                    "the data spans {x}..{y} ({} days), longer than the {} days ecomm detects on its own; pass --start and --end to choose the window (e.g. --start {x} --end {}) / 数据跨度超过 {} 天，请用 --start 与 --end 指定时间窗口",
                    b - a + 1,
                    window::MAX_DETECTED_DAYS,
                    x.checked_add_signed(chrono::TimeDelta::days(window::MAX_DETECTED_DAYS - 1)).unwrap_or(y),
                    window::MAX_DETECTED_DAYS
                )));
            }
            (x, y)
        }
    };

    let unchanged = staged.is_empty();
    let mut summary = IngestSummary {
        rows_read: 0,
        rows_loaded: 0,
        rejected: Rejected::default(),
        window: WindowOut { start: wstart.to_string(), end: wend.to_string(), timezone: zone.to_string() },
        window_detected,
        rejects_file: rejects_file.to_string_lossy().into_owned(),
        ingest_id: None,
        files: Vec::new(),
        seconds: 0.0,
        rows_per_sec: 0.0,
        unchanged,
        db_rows: 0,
    };
    if unchanged {
        drop(loader);
        summary.files =
            entries.iter().map(|e| FileOut { file: e.file.clone(), status: e.status.clone(), rows_read: 0, rows_loaded: 0 }).collect();
        if let Some(w) = &existing {
            summary.window = WindowOut { start: w.start.to_string(), end: w.end.to_string(), timezone: w.timezone.clone() };
        }
        summary.db_rows = conn.query_row("SELECT count(*) FROM user_behavior", [], |r| r.get::<_, i64>(0))? as u64;
        summary.seconds = t0.elapsed().as_secs_f64();
        pb.finish_and_clear();
        return Ok(summary);
    }

    let (start_utc, end_utc) = utc_window(wstart, wend);
    trace(t0, "window");
    pb.set_message("window and duplicates / 时间窗口与去重");
    let counts = loader.finish(ingest_id, start_utc, end_utc, window_detected)?;
    trace(t0, "rules 4-5 and load");
    for (fid, st) in &staged {
        let c = counts.get(fid).cloned().unwrap_or_default();
        let e = entries.iter_mut().find(|e| e.status == "loaded" && e.content_hash == st.hash).expect("entry");
        e.rejected = c.rejected;
        e.rows_loaded = c.loaded;
    }
    store::meta_set(loader.conn(), "window_start", &wstart.to_string())?;
    store::meta_set(loader.conn(), "window_end", &wend.to_string())?;
    store::meta_set(loader.conn(), "timezone", &zone.to_string())?;
    pb.set_message("rollups and user_summary / 汇总表");
    load::rebuild_rollups(loader.conn(), wstart, wend)?;
    trace(t0, "rollups");
    crate::metrics::summary::rebuild_user_summary(loader.conn(), wstart, wend)?;
    trace(t0, "user_summary");
    let options = serde_json::json!({
        "start": cfg.start.map(|d| d.to_string()),
        "end": cfg.end.map(|d| d.to_string()),
        "tz": zone.to_string(),
        "replace": cfg.replace,
        "inputs": cfg.inputs,
    })
    .to_string();
    loader.log(ingest_id, &entries, &options, &started, &now_utc())?;
    if let Ok(marker) = std::env::var("ECOMM_TEST_PAUSE_BEFORE_COMMIT") {
        // Test hook: lets the atomicity test kill the process inside the transaction (and the
        // dashboard test read while the write lock is held, for ECOMM_TEST_PAUSE_SECS).
        let _ = std::fs::write(&marker, b"paused");
        let secs = std::env::var("ECOMM_TEST_PAUSE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(120);
        std::thread::sleep(std::time::Duration::from_secs(secs));
    }
    loader.commit()?;
    trace(t0, "committed");
    if let Ok(marker) = std::env::var("ECOMM_TEST_PAUSE_AFTER_COMMIT") {
        // Test hook: a kill between the commit and the rejects file (which the next ingest or
        // serve then brings up to date).
        let _ = std::fs::write(&marker, b"paused");
        std::thread::sleep(std::time::Duration::from_secs(120));
    }
    pb.set_message("rejects file / 拒绝行文件");
    load::export_rejects(&conn, &rejects_file)?;
    trace(t0, "rejects file");
    pb.finish_and_clear();

    for e in &entries {
        summary.rows_read += e.rows_read;
        summary.rows_loaded += e.rows_loaded;
        summary.rejected.malformed += e.rejected[0];
        summary.rejected.bad_behavior += e.rejected[1];
        summary.rejected.out_of_window += e.rejected[2];
        summary.rejected.duplicate += e.rejected[3];
        summary.files.push(FileOut { file: e.file.clone(), status: e.status.clone(), rows_read: e.rows_read, rows_loaded: e.rows_loaded });
    }
    summary.ingest_id = Some(ingest_id);
    summary.db_rows = conn.query_row("SELECT count(*) FROM user_behavior", [], |r| r.get::<_, i64>(0))? as u64;
    summary.seconds = t0.elapsed().as_secs_f64();
    summary.rows_per_sec = summary.rows_read as f64 / summary.seconds.max(1e-9);
    Ok(summary)
}

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Like `trace`, timed from the start of the ingest (for code without the ingest's clock).
pub fn trace_here(what: &str) {
    trace(*START.get_or_init(Instant::now), what);
}
