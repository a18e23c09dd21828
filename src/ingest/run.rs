//! The ingest run: options checked against the DB, every new input staged, the window known or
//! detected, then rules 4–5, rollups, `user_summary`, the log and the commit in one transaction.

use super::files::*;
use super::sources::table::{self, State, TableUrl};
use super::sources::{Input, ReadOptions};
use super::stage::*;
use super::{parse, parse_bytes, window, FileOut, IngestConfig, IngestError, IngestSummary, Rejected, WindowOut, DEFAULT_TZ};
use crate::domain::rows::SeenSet;
use crate::domain::trace::{self, trace};
use crate::domain::tz::Zone;
use crate::domain::Window;
use crate::store::load::{self, Loader, LogEntry};
use crate::store::{self, Mode};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn date_of_day(day: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::TimeDelta::try_days(day)?)
}

fn now_utc() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Checks the options against each other and against the DB's recorded window and zone; returns
/// the analysis zone.
fn check_options(cfg: &IngestConfig, existing: Option<&Window>) -> Result<Zone, IngestError> {
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
    let zone = match (&cfg.tz, existing) {
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
    if let (Some(s), Some(e), Some(w)) = (cfg.start, cfg.end, existing) {
        if s != w.start || e != w.end {
            return Err(IngestError::Options(format!(
                "this DB's window is {}..{}, not {s}..{e}; drop --start/--end, or rebuild it with --replace / 时间窗口与数据库不一致",
                w.start, w.end
            )));
        }
    }
    Ok(zone)
}

/// Detects the window from the staged files' per-day histograms (see [`window::detect`]).
fn detect_window(staged: &[(i32, Staged)]) -> Result<(NaiveDate, NaiveDate), IngestError> {
    let mut hist: HashMap<i64, u64> = HashMap::new();
    for (_, st) in staged {
        for (d, n) in &st.days {
            *hist.entry(*d).or_insert(0) += n;
        }
    }
    // Timestamps outside the years 1900..2200 can only be out of window.
    let sane_days = parse::SANE_SECS.start.div_euclid(86_400)..parse::SANE_SECS.end.div_euclid(86_400);
    let mut hist: Vec<(i64, u64)> = hist.into_iter().filter(|(d, _)| sane_days.contains(d)).collect();
    hist.sort_unstable();
    let Some((a, b)) = window::detect(&hist) else {
        return Err(IngestError::Input(
            "no valid row has a timestamp in the years 1900..2200; check the timestamp column (Unix seconds) or pass --start and --end / 时间戳超出范围"
                .into(),
        ));
    };
    let (Some(x), Some(y)) = (date_of_day(a), date_of_day(b)) else {
        return Err(IngestError::Input("the detected window is not a valid date range; pass --start and --end / 时间窗口无效".into()));
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
    Ok((x, y))
}

/// The ingest's progress bar over `total_bytes` (hidden without `progress`).
fn progress_bar(progress: bool, total_bytes: u64) -> ProgressBar {
    let pb = if progress { ProgressBar::new(total_bytes) } else { ProgressBar::hidden() };
    pb.set_style(
        ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {msg} ({elapsed})")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_prefix("ingest");
    pb
}

/// An input that gave no row, or no valid row, is not UserBehavior data: the ingest stops.
fn check_rows(input: &Input, shown: &str, st: &Staged) -> Result<(), IngestError> {
    if st.rows_read == 0 {
        return Err(IngestError::Input(format!("{shown} has no data rows (only a header or blank lines) / 文件没有数据行")));
    }
    if st.valid == 0 {
        let hint = if input.fast {
            "expected lines like 1,2268318,2520377,pv,1511544070"
        } else {
            "check which columns hold the fields (--columns), the behaviour codes (--behavior-map) and the time format (--time-format, --time-unit)"
        };
        return Err(IngestError::Input(format!(
            "{shown} does not look like UserBehavior data: all {} rows were rejected ({} malformed, {} bad behaviour); {hint} / 文件格式不符",
            st.rows_read, st.malformed, st.bad_behavior
        )));
    }
    Ok(())
}

/// What the files loop produced: one log entry per input, and the files actually staged.
struct StagedFiles {
    entries: Vec<LogEntry>,
    staged: Vec<(i32, Staged)>,
}

/// Stages every input that was not ingested before (by content), in order.
#[allow(clippy::too_many_arguments)]
fn stage_inputs(
    inputs: &[Input],
    opts: &ReadOptions,
    known: &HashMap<String, (String, String)>,
    loader: &Loader<'_>,
    apps: &mut crate::store::append::Appenders<'_>,
    cleaning: &parse::Cleaning<'_>,
    zone: &Zone,
    pb: &ProgressBar,
    t0: Instant,
) -> Result<StagedFiles, IngestError> {
    let bytes_done = Arc::new(AtomicU64::new(0));
    let mut out = StagedFiles { entries: Vec::new(), staged: Vec::new() };
    let mut seen_files = known.clone();
    let mut rows_before = 0u64;
    for (i, input) in inputs.iter().enumerate() {
        let path = &input.path;
        let shown = path.to_string_lossy().into_owned();
        let fid = i as i32;
        let progress = |rows: u64| {
            pb.set_position(bytes_done.load(Ordering::Relaxed));
            let secs = t0.elapsed().as_secs_f64().max(1e-3);
            pb.set_message(format!("{} rows, {:.1}M rows/s", rows_before + rows, (rows_before + rows) as f64 / secs / 1e6));
        };
        if let Some(t) = &input.table {
            // A table: skipped when its state is the one last loaded, else the rows past it.
            let qk = t.key();
            let since = load::last_state(loader.conn(), &qk)?.and_then(|s| State::parse(&s));
            let now = table::probe(t, &opts.mapping.columns)?;
            if since.as_ref() == Some(&now) {
                pb.println(format!("skip {shown}: unchanged since it was last ingested / 数据表未变化，跳过"));
                out.entries.push(LogEntry::new(shown, now.text(), qk, 0, "skipped", 0));
                continue;
            }
            loader.add_file(fid, &input.shown())?;
            let st = stage_input(apps, cleaning, opts, input, fid, zone, since.as_ref(), &bytes_done, &progress)?;
            if since.is_none() {
                check_rows(input, &shown, &st)?;
            }
            rows_before += st.rows_read;
            out.entries.push(LogEntry::new(shown, st.hash.clone(), qk, 0, "loaded", st.rows_read));
            out.staged.push((fid, st));
            continue;
        }
        let qk = quick_key(path)?;
        let size = path.metadata().map(|m| m.len()).unwrap_or(0);
        if let Some((h, first)) = seen_files.get(&qk) {
            if &full_hash(path)? == h {
                pb.println(format!("skip {shown}: same content as {first}, already ingested / 内容已导入，跳过"));
                bytes_done.fetch_add(size, Ordering::Relaxed);
                out.entries.push(LogEntry::new(shown, h.clone(), qk, size, "skipped", 0));
                continue;
            }
        }
        loader.add_file(fid, &input.shown())?;
        let st = stage_input(apps, cleaning, opts, input, fid, zone, None, &bytes_done, &progress)?;
        check_rows(input, &shown, &st)?;
        rows_before += st.rows_read;
        seen_files.insert(qk.clone(), (st.hash.clone(), shown.clone()));
        out.entries.push(LogEntry::new(shown, st.hash.clone(), qk, size, "loaded", st.rows_read));
        out.staged.push((fid, st));
    }
    Ok(out)
}

/// Test hook: with `ECOMM_TEST_PAUSE_<point>=<marker file>`, writes the marker and sleeps (for
/// `ECOMM_TEST_PAUSE_SECS`, default 120 s), so a test can kill the process there or read meanwhile.
fn pause_hook(point: &str) {
    if let Ok(marker) = std::env::var(format!("ECOMM_TEST_PAUSE_{point}")) {
        let _ = std::fs::write(&marker, b"paused");
        let secs = std::env::var("ECOMM_TEST_PAUSE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(120);
        std::thread::sleep(std::time::Duration::from_secs(secs));
    }
}

/// Sums the log entries into the summary.
fn add_entries(summary: &mut IngestSummary, entries: &[LogEntry]) {
    for e in entries {
        summary.rows_read += e.rows_read;
        summary.rows_loaded += e.rows_loaded;
        summary.rejected.malformed += e.rejected[0];
        summary.rejected.bad_behavior += e.rejected[1];
        summary.rejected.out_of_window += e.rejected[2];
        summary.rejected.duplicate += e.rejected[3];
        summary.files.push(FileOut { file: e.file.clone(), status: e.status.clone(), rows_read: e.rows_read, rows_loaded: e.rows_loaded });
    }
}

/// How an ingest stages its rows: how many it expects, whether the stage fits in memory, and the
/// process's memory budget.
struct StagePlan {
    est_rows: u64,
    budget: Option<u64>,
    in_memory: bool,
}

impl StagePlan {
    fn new(cfg: &IngestConfig, total_bytes: u64) -> StagePlan {
        // About 60 bytes per staged row: stage in memory while that is under half of the budget.
        let est_rows = total_bytes / 30;
        let budget = parse_bytes(&cfg.open.memory_limit);
        // ECOMM_STAGE=disk|memory overrides the choice (the tests cover both paths with it).
        let in_memory = match std::env::var("ECOMM_STAGE").as_deref() {
            Ok("disk") => false,
            Ok("memory") => true,
            _ => budget.is_some_and(|b| est_rows.saturating_mul(60) < b / 2),
        };
        StagePlan { est_rows, budget, in_memory }
    }

    /// The memory limit is the whole process's budget: DuckDB gets it minus the duplicate filter,
    /// the category-sorted chunk being buffered, and about 448 MiB for the parser's buffers and
    /// what DuckDB allocates outside its limit.
    fn limit_memory(&self, loader: &Loader<'_>, seen: &SeenSet) -> Result<(), IngestError> {
        if let Some(budget) = self.budget {
            let chunk = (crate::store::append::cluster_rows() as u64).min(self.est_rows) * crate::store::append::STAGE_ROW_BYTES;
            let duck = budget.saturating_sub(seen.bytes() + chunk + (448 << 20)).max(512 << 20);
            store::set_memory_limit(loader.conn(), duck >> 20)?;
        }
        Ok(())
    }
}

/// The window as ((start, end) in UTC seconds, first date, last date, detected in this run).
type WindowArg = ((i64, i64), NaiveDate, NaiveDate, bool);

/// Inside the ingest's transaction: rules 4–5 and the load (filling in each entry's loaded and
/// rejected rows), the window in the meta table, the rollups, `user_summary` and the ingest log;
/// then the commit.
#[allow(clippy::too_many_arguments)]
fn load_and_commit(
    loader: Loader<'_>,
    cfg: &IngestConfig,
    ingest_id: u32,
    window: WindowArg,
    zone: &Zone,
    entries: &mut [LogEntry],
    staged: &[(i32, Staged)],
    started: &str,
    pb: &ProgressBar,
    t0: Instant,
) -> Result<(), IngestError> {
    let ((start_utc, end_utc), wstart, wend, window_detected) = window;
    pb.set_message("window and duplicates / 时间窗口与去重");
    let counts = loader.finish(ingest_id, start_utc, end_utc, window_detected)?;
    trace(t0, "rules 4-5 and load");
    for (fid, st) in staged {
        let c = counts.get(fid).cloned().unwrap_or_default();
        let e = entries.iter_mut().find(|e| e.status == "loaded" && e.content_hash == st.hash).expect("entry");
        e.rejected = c.rejected;
        e.rows_loaded = c.loaded;
    }
    store::meta_set(loader.conn(), "window_start", &wstart.to_string())?;
    store::meta_set(loader.conn(), "window_end", &wend.to_string())?;
    store::meta_set(loader.conn(), "timezone", &zone.to_string())?;
    pb.set_message("rollups and user_summary / 汇总表");
    crate::store::rollups::rebuild_rollups(loader.conn(), wstart, wend)?;
    trace(t0, "rollups");
    crate::metrics::summary::rebuild_user_summary(loader.conn(), wstart, wend)?;
    trace(t0, "user_summary");
    let options = serde_json::json!({
        "start": cfg.start.map(|d| d.to_string()),
        "end": cfg.end.map(|d| d.to_string()),
        "tz": zone.to_string(),
        "replace": cfg.replace,
        "inputs": cfg.inputs.iter().map(|i| if TableUrl::is_url(i) { table::redact(i) } else { i.clone() }).collect::<Vec<_>>(),
        "read": cfg.read.describe(),
    })
    .to_string();
    loader.log(ingest_id, entries, &options, started, &now_utc())?;
    // Lets the atomicity test kill the process inside the transaction (and the dashboard test
    // read while the write lock is held).
    pause_hook("BEFORE_COMMIT");
    loader.commit()?;
    trace(t0, "committed");

    // A kill between the commit and the rejects file (which the next ingest or serve then
    // brings up to date).
    pause_hook("AFTER_COMMIT");
    Ok(())
}

/// Runs an ingest. The DB is changed in one transaction, or not at all.
///
/// Phases (each traced with `ECOMM_TRACE=1`): options and inputs checked; every new file parsed
/// and staged; the window known or detected; rules 4–5 and the load in SQL; rollups and
/// `user_summary`; the ingest log; commit; the rejects file.
///
/// Length: the phases above in order, each a call; what is left is passing their results along.
pub fn run(cfg: &IngestConfig) -> Result<IngestSummary, IngestError> {
    let t0 = trace::start();
    let started = now_utc();
    // Files first (resolved and checked), then tables, each in the order given.
    let (urls, paths): (Vec<String>, Vec<String>) = cfg.inputs.iter().cloned().partition(|i| TableUrl::is_url(i));
    let files = if paths.is_empty() { Vec::new() } else { resolve_inputs(&paths)? };
    let mut inputs = files.iter().map(|f| Input::new(f, &cfg.read)).collect::<Result<Vec<Input>, _>>()?;
    for u in &urls {
        inputs.push(Input::table(TableUrl::parse(u)?));
    }
    let conn = store::open(&cfg.db, Mode::ReadWrite, &cfg.open)?;
    let existing = if cfg.replace { None } else { store::window(&conn)? };
    let zone = check_options(cfg, existing.as_ref())?;
    let rejects_file = store::rejects_path(&cfg.db);
    if !cfg.replace && crate::store::rejects::sync_rejects_file(&conn, &rejects_file)? {
        eprintln!("note: {} lagged behind the DB (an earlier ingest was stopped after its commit); rewritten from the rejects table / 拒绝行文件已按数据库补齐", rejects_file.display());
    }
    let known = if cfg.replace || cfg.always_new { HashMap::new() } else { load::known_files(&conn)? };
    let total_bytes: u64 = files.iter().map(|f| f.metadata().map(|m| m.len()).unwrap_or(0)).sum();
    let pb = progress_bar(cfg.progress, total_bytes);

    // The window, when known before parsing: rule 4 then runs in the parser.
    let known_window = match (cfg.start, cfg.end, &existing) {
        (Some(s), Some(e), _) => Some((s, e)),
        (_, _, Some(w)) => Some((w.start, w.end)),
        _ => None,
    };
    let utc_window = |s: NaiveDate, e: NaiveDate| (zone.day_start_utc(s), zone.day_start_utc(e.succ_opt().expect("date")));

    let plan = StagePlan::new(cfg, total_bytes);
    let loader = Loader::begin(&conn, cfg.replace, plan.in_memory)?;
    let ingest_id = load::next_ingest_id(loader.conn())?;
    let seen = SeenSet::for_rows(plan.est_rows + if cfg.replace { 0 } else { store::row_count(&conn)? });
    plan.limit_memory(&loader, &seen)?;
    if !cfg.replace {
        pb.set_message("indexing rows already loaded / 读取已有数据");
        loader.seed_seen(&seen)?;
    }
    let cleaning = parse::Cleaning { window: known_window.map(|(s, e)| utc_window(s, e)), seen: &seen };
    let mut apps = loader.appenders()?;
    let StagedFiles { mut entries, staged } = stage_inputs(&inputs, &cfg.read, &known, &loader, &mut apps, &cleaning, &zone, &pb, t0)?;
    apps.flush()?;
    drop(apps);
    pb.set_position(total_bytes);
    trace(t0, "parsed and staged");

    let window_detected = known_window.is_none() && !staged.is_empty();
    let (wstart, wend) = match known_window {
        Some(w) => w,
        None if staged.is_empty() => (NaiveDate::MIN, NaiveDate::MIN),
        None => detect_window(&staged)?,
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
        summary.db_rows = store::row_count(&conn)?;
        summary.seconds = t0.elapsed().as_secs_f64();
        pb.finish_and_clear();
        return Ok(summary);
    }

    let window = (utc_window(wstart, wend), wstart, wend, window_detected);
    trace(t0, "window");
    load_and_commit(loader, cfg, ingest_id, window, &zone, &mut entries, &staged, &started, &pb, t0)?;
    pb.set_message("rejects file / 拒绝行文件");
    crate::store::rejects::export_rejects(&conn, &rejects_file)?;
    trace(t0, "rejects file");
    pb.finish_and_clear();

    add_entries(&mut summary, &entries);
    summary.ingest_id = Some(ingest_id);
    summary.db_rows = store::row_count(&conn)?;
    summary.seconds = t0.elapsed().as_secs_f64();
    summary.rows_per_sec = summary.rows_read as f64 / summary.seconds.max(1e-9);
    Ok(summary)
}
