//! `ecomm bench`: times gen, DuckDB's bare CSV scan (the floor), ingest, the Parquet export and its
//! ingest, analyze and report (and, with `--model`, insights phase by phase), and prints
//! ratios and peak memory. Ingest and analyze run as child processes so their peak RSS is their own.

use crate::cli::BenchArgs;
use crate::gen::{generate, GenConfig};
use crate::store::baseline;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Wall seconds and peak RSS (bytes) of a finished child process.
#[derive(Debug, serde::Serialize)]
pub struct Timed {
    /// Wall seconds.
    pub seconds: f64,
    /// Peak resident memory in bytes.
    pub peak_rss: u64,
}

/// Runs the current executable with `args`; returns its stdout, wall time and peak RSS.
fn child(args: &[&str]) -> Result<(String, Timed)> {
    use std::io::Read;
    let exe = std::env::current_exe().context("cannot find the ecomm executable")?;
    let t0 = Instant::now();
    let mut c = Command::new(exe).args(args).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
    let mut out = String::new();
    c.stdout.take().expect("stdout").read_to_string(&mut out)?;
    let pid = c.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child with valid out-pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let seconds = t0.elapsed().as_secs_f64();
    if r < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("`ecomm {}` failed", args.join(" "));
    }
    Ok((out, Timed { seconds, peak_rss: ru.ru_maxrss as u64 * 1024 }))
}

fn floor(csv: &Path) -> Result<f64> {
    let t0 = Instant::now();
    let n = baseline::count_csv(csv)?;
    let s = t0.elapsed().as_secs_f64();
    eprintln!("floor: DuckDB read_csv count(*) = {n} rows in {s:.2} s");
    Ok(s)
}

/// The bare load, for scale: the same scan written as it is into a table of a new DuckDB file (no
/// cleaning, no duplicate check, no rollups), then checkpointed. Returns its seconds.
fn bare_load(csv: &Path, dir: &Path) -> Result<f64> {
    let db = dir.join("bench-bare.duckdb");
    let _ = std::fs::remove_file(&db);
    let t0 = Instant::now();
    baseline::bare_load(csv, &db)?;
    let s = t0.elapsed().as_secs_f64();
    for p in [db.clone(), db.with_extension("duckdb.wal")] {
        let _ = std::fs::remove_file(p);
    }
    eprintln!("bare load: read_csv into a table of a DuckDB file in {s:.2} s");
    Ok(s)
}

/// `sync-mysql` of the bench DB into `<base>/ecomm_bench`, with LOAD DATA and with INSERT batches;
/// drops that database afterwards.
fn mysql_bench(base: &str, dbs: &str) -> Result<serde_json::Value> {
    let url = format!("{}/ecomm_bench", base.trim_end_matches('/'));
    let field = |out: &str, k: &str| -> f64 {
        let v: serde_json::Value = serde_json::from_str(out).unwrap_or_default();
        v["tables"][0][k].as_f64().unwrap_or(0.0)
    };
    let rows = |out: &str| field(out, "rows");
    let (out, load) = child(&["sync-mysql", "--db", dbs, "--mysql", &url, "--full", "--tables", "user_behavior", "--json", "--quiet"])?;
    let n = rows(&out);
    eprintln!("sync-mysql LOAD DATA: {n} rows in {:.2} s", load.seconds);
    let (out2, ins) = child(&[
        "sync-mysql",
        "--db",
        dbs,
        "--mysql",
        &url,
        "--full",
        "--tables",
        "user_behavior",
        "--no-local-infile",
        "--json",
        "--quiet",
    ])?;
    eprintln!("sync-mysql INSERT x10000: {} rows in {:.2} s", rows(&out2), ins.seconds);
    let _ = ::mysql::Conn::new(::mysql::Opts::from_url(base).map_err(|e| anyhow::anyhow!("{e}"))?)
        .and_then(|mut c| ::mysql::prelude::Queryable::query_drop(&mut c, "DROP DATABASE IF EXISTS ecomm_bench"));
    Ok(serde_json::json!({
        "rows": n,
        "load_data": load,
        "load_data_rows_per_sec": n / load.seconds,
        "load_data_streaming_seconds": field(&out, "load_seconds"),
        "load_data_streaming_rows_per_sec": field(&out, "load_rows_per_sec"),
        "insert_streaming_seconds": field(&out2, "load_seconds"),
        "insert_streaming_rows_per_sec": field(&out2, "load_rows_per_sec"),
        "insert_10000": ins,
        "insert_rows_per_sec": n / ins.seconds,
        "speedup": ins.seconds / load.seconds,
        "streaming_speedup": field(&out2, "load_seconds") / field(&out, "load_seconds").max(1e-9),
    }))
}

/// The events exported to Parquet (`ecomm export`), then that file ingested into a new DB: both
/// timed as child processes, with the Parquet ingest's ratio to the CSV ingest's.
fn parquet_bench(dir: &Path, dbs: &str, csv_ingest_s: f64) -> Result<serde_json::Value> {
    let file = dir.join("bench-events.parquet").to_string_lossy().into_owned();
    let (out, export) = child(&["export", "--db", dbs, "--what", "events", "--format", "parquet", "--out", &file, "--summary", "json"])?;
    let rows = serde_json::from_str::<serde_json::Value>(&out)?["rows"].as_f64().unwrap_or(0.0);
    eprintln!("export events to Parquet: {rows} rows in {:.2} s", export.seconds);
    let db = dir.join("bench-parquet.duckdb").to_string_lossy().into_owned();
    let (_, ingest) = child(&["ingest", &file, "--db", &db, "--replace", "--format", "json", "--quiet"])?;
    eprintln!("ingest the Parquet export: {:.2} s", ingest.seconds);
    Ok(serde_json::json!({
        "rows": rows,
        "export": export,
        "export_rows_per_sec": rows / export.seconds,
        "ingest": ingest,
        "ingest_rows_per_sec": rows / ingest.seconds,
        "ingest_over_csv_ingest": ingest.seconds / csv_ingest_s,
    }))
}

/// The analyses exported as the Excel workbook (`ecomm export --what metrics --format xlsx`): the
/// whole command (open, compute every analysis, write), and the workbook alone (its summary's
/// seconds: laying out the sheets and charts and writing the file).
fn xlsx_bench(dir: &Path, dbs: &str) -> Result<serde_json::Value> {
    let file = dir.join("bench-metrics.xlsx").to_string_lossy().into_owned();
    let (out, t) = child(&["export", "--db", dbs, "--what", "metrics", "--format", "xlsx", "--out", &file, "--summary", "json"])?;
    let s: serde_json::Value = serde_json::from_str(&out)?;
    eprintln!("export the analyses to xlsx: {:.2} s (the workbook alone {:.3} s)", t.seconds, s["seconds"].as_f64().unwrap_or(0.0));
    Ok(serde_json::json!({ "command": t, "workbook_seconds": s["seconds"], "bytes": s["bytes"] }))
}

/// The export lines of the table: events to Parquet and back, the analyses to xlsx.
fn print_exports(report: &serde_json::Value) {
    let pq = &report["parquet"];
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    let rss = |v: &serde_json::Value| f(v) / (1 << 20) as f64;
    crate::outln!(
        "{:<34} {:>9.2} {:>12.0} {:>8.0}MB",
        "export events to Parquet",
        f(&pq["export"]["seconds"]),
        f(&pq["export_rows_per_sec"]),
        rss(&pq["export"]["peak_rss"])
    );
    crate::outln!(
        "{:<34} {:>9.2} {:>12.0} {:>8.0}MB",
        "ingest that Parquet file",
        f(&pq["ingest"]["seconds"]),
        f(&pq["ingest_rows_per_sec"]),
        rss(&pq["ingest"]["peak_rss"])
    );
    let x = &report["xlsx"];
    crate::outln!(
        "{:<34} {:>9.2} {:>12} {:>8.0}MB",
        "export analyses to xlsx (command)",
        f(&x["command"]["seconds"]),
        "-",
        rss(&x["command"]["peak_rss"])
    );
    crate::outln!("{:<34} {:>9.3} {:>12} {:>10}", "  of which the workbook", f(&x["workbook_seconds"]), "-", "-");
}

/// The human-readable table of a bench run.
fn print_table(report: &serde_json::Value, ingest: &Timed, analyze: &Timed, analyze2: &Timed, report_t: Option<&Timed>) {
    let num = |k: &str| report[k].as_f64().unwrap_or(0.0);
    let (rows, bytes) = (num("rows"), num("csv_bytes"));
    let (gen_s, floor_s, bare_s) = (num("gen_seconds"), num("floor_seconds"), num("bare_load_seconds"));
    let mb = |b: u64| b as f64 / (1 << 20) as f64;
    crate::outln!("ecomm bench: {} rows, {:.0} MB CSV, {} threads", rows, bytes / 1e6, report["threads"]);
    crate::outln!("{:<34} {:>9} {:>12} {:>10}", "step", "seconds", "rows/s", "peak RSS");
    crate::outln!("{:<34} {:>9.2} {:>12.0} {:>10}", "gen", gen_s, rows / gen_s, "-");
    crate::outln!("{:<34} {:>9.2} {:>12.0} {:>10}", "floor: read_csv count(*)", floor_s, rows / floor_s, "-");
    crate::outln!("{:<34} {:>9.2} {:>12.0} {:>10}", "bare load: read_csv into a table", bare_s, rows / bare_s, "-");
    crate::outln!(
        "{:<34} {:>9.2} {:>12.0} {:>8.0}MB",
        "ingest (clean+dedup+rollups)",
        ingest.seconds,
        rows / ingest.seconds,
        mb(ingest.peak_rss)
    );
    crate::outln!("{:<34} {:>9.2} {:>12} {:>8.0}MB", "analyze (process, cold)", analyze.seconds, "-", mb(analyze.peak_rss));
    crate::outln!("{:<34} {:>9.2} {:>12} {:>8.0}MB", "analyze (process, warm cache)", analyze2.seconds, "-", mb(analyze2.peak_rss));
    if let Some(m) = report["sections"].as_object() {
        let user_total: f64 =
            m.iter().filter(|(k, _)| !k.contains("(item)") && !k.contains("(category)")).filter_map(|(_, v)| v.as_f64()).sum();
        for (k, v) in m {
            crate::outln!("{:<34} {:>9.2} {:>12} {:>10}", format!("  {k}"), v.as_f64().unwrap_or(0.0), "-", "-");
        }
        crate::outln!("{:<34} {:>9.2} {:>12} {:>10}", "  registry sections, default options", user_total, "-", "-");
        let three: f64 = ["association", "clv", "anomalies"].iter().filter_map(|k| m.get(*k).and_then(|v| v.as_f64())).sum();
        crate::outln!("{:<34} {:>9.2} {:>12} {:>10}", "  association + clv + anomalies", three, "-", "-");
    }
    if let Some(r) = report_t {
        crate::outln!("{:<34} {:>9.2} {:>12} {:>8.0}MB", "report (PDF + PNG/SVG charts)", r.seconds, "-", mb(r.peak_rss));
    }
    print_exports(report);
    crate::outln!(
        "ratio ingest / floor: {:.2}x (the bare load alone, without any cleaning: {:.2}x)",
        ingest.seconds / floor_s,
        bare_s / floor_s
    );
    let pq = &report["parquet"];
    crate::outln!(
        "ratio Parquet ingest / CSV ingest: {:.2}x ({:.0} clean rows vs the CSV's {:.0})",
        pq["ingest_over_csv_ingest"].as_f64().unwrap_or(0.0),
        pq["rows"].as_f64().unwrap_or(0.0),
        rows
    );
    if !report["mysql"].is_null() {
        let r = &report["mysql"];
        crate::outln!(
            "sync-mysql streaming only: LOAD DATA {:.0} rows/s vs INSERT x10000 {:.0} rows/s: {:.2}x",
            r["load_data_streaming_rows_per_sec"].as_f64().unwrap_or(0.0),
            r["insert_streaming_rows_per_sec"].as_f64().unwrap_or(0.0),
            r["streaming_speedup"].as_f64().unwrap_or(0.0)
        );
        crate::outln!(
            "sync-mysql user_behavior, {:.0} rows: LOAD DATA {:.2} s ({:.0} rows/s, whole command incl. indexes and checks); INSERT x10000 {:.2} s ({:.0} rows/s); speedup {:.2}x",
            r["rows"].as_f64().unwrap_or(0.0), r["load_data"]["seconds"].as_f64().unwrap_or(0.0), r["load_data_rows_per_sec"].as_f64().unwrap_or(0.0),
            r["insert_10000"]["seconds"].as_f64().unwrap_or(0.0), r["insert_rows_per_sec"].as_f64().unwrap_or(0.0), r["speedup"].as_f64().unwrap_or(0.0)
        );
    }
}

/// Each analysis of the metrics registry timed in this process on the bench DB (default
/// options, then the ordered funnel by item and by category): {"label": seconds}.
fn section_timings(db: &Path) -> Result<serde_json::Value> {
    use crate::domain::journey::FunnelKey;
    let conn = crate::store::open(db, crate::store::Mode::ReadOnly, &Default::default())?;
    let mut out = serde_json::Map::new();
    for by in [FunnelKey::User, FunnelKey::Item, FunnelKey::Category] {
        let mut q = crate::metrics::Query::default();
        q.journey.by = by;
        for (key, secs) in crate::metrics::registry_timings(&conn, db, &q)? {
            if by == FunnelKey::User || key == "ordered_funnel" {
                let label = if key == "ordered_funnel" { format!("ordered_funnel ({by})") } else { key.to_string() };
                out.insert(label, secs.into());
            }
        }
    }
    Ok(out.into())
}

/// `ecomm insights` with `model` on the bench DB, as a user runs it: once with an empty cache
/// (the app DB is removed first), then again from the cache. The phases come from the outcome's
/// JSON: model load, prompt, generation and grounding of each attempt.
fn insights_bench(db: &Path, model: &Path, lang: crate::i18n::Lang) -> Result<serde_json::Value> {
    let app = crate::appdb::path_for(db);
    for p in [app.clone(), app.with_extension("sqlite-wal"), app.with_extension("sqlite-shm")] {
        let _ = std::fs::remove_file(p);
    }
    let (dbs, ms) = (db.to_string_lossy().into_owned(), model.to_string_lossy().into_owned());
    let lang = if lang == crate::i18n::Lang::Zh { "zh" } else { "en" };
    let args = ["insights", "--db", &dbs, "--model", &ms, "--lang", lang, "--format", "json"];
    let (out, t) = child(&args)?;
    let (out2, t2) = child(&args)?;
    let o: serde_json::Value = serde_json::from_str(&out).context("insights printed no JSON")?;
    let cached: serde_json::Value = serde_json::from_str(&out2).context("insights printed no JSON")?;
    let sum = |k: &str| o["attempts"].as_array().into_iter().flatten().filter_map(|a| a[k].as_f64()).sum::<f64>();
    let (all, prompt) = (sum("seconds"), sum("prompt_seconds"));
    eprintln!("insights ({}): {:.1} s, {} tokens", model.display(), t.seconds, o["tokens"]);
    Ok(serde_json::json!({
        "model": model.display().to_string(),
        "lang": lang,
        "seconds": t.seconds,
        "peak_rss": t.peak_rss,
        "load_seconds": o["load_seconds"],
        "prompt_seconds": prompt,
        "prompt_tokens": sum("prompt_tokens"),
        "generation_seconds": all - prompt,
        "tokens": o["tokens"],
        "tokens_per_sec": o["tokens_per_sec"],
        "grounding_seconds": sum("grounding_seconds"),
        "attempts": o["attempts"].as_array().map(Vec::len).unwrap_or(0),
        "source": o["source"],
        "insights": o["insights"].as_array().map(Vec::len).unwrap_or(0),
        "dropped": o["dropped"],
        "quality_passed": o["quality"]["passed"],
        "cached_seconds": t2.seconds,
        "cached": cached["cached"],
    }))
}

fn print_insights(report: &serde_json::Value) {
    for r in report["insights"].as_array().into_iter().flatten() {
        let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
        let name = Path::new(r["model"].as_str().unwrap_or("")).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        crate::outln!("insights {name} ({}): {:.1} s end to end (metrics included)", r["lang"].as_str().unwrap_or(""), f("seconds"));
        crate::outln!(
            "  load {:.1} s; prompt {:.1} s ({:.0} tokens); generation {:.1} s ({:.0} tokens, {:.1} tokens/s); grounding {:.3} s",
            f("load_seconds"),
            f("prompt_seconds"),
            f("prompt_tokens"),
            f("generation_seconds"),
            f("tokens"),
            f("tokens_per_sec"),
            f("grounding_seconds")
        );
        crate::outln!(
            "  {} attempt(s), answer from {} ({:.0} insights, {:.0} dropped), quality checks {}; again from the cache: {:.2} s",
            f("attempts"),
            r["source"].as_str().unwrap_or("?"),
            f("insights"),
            f("dropped"),
            if r["quality_passed"].as_bool() == Some(true) { "passed" } else { "failed" },
            f("cached_seconds")
        );
    }
}

/// Removes what a bench run wrote (unless `--keep`).
fn remove_outputs(dir: &Path, db: &Path, csv: &Path, pdf: &Path) {
    let pq_db = dir.join("bench-parquet.duckdb");
    let files = [
        csv.to_path_buf(),
        db.to_path_buf(),
        crate::store::rejects_path(db),
        pdf.to_path_buf(),
        dir.join("bench-events.parquet"),
        dir.join("bench-metrics.xlsx"),
        pq_db.clone(),
        crate::store::rejects_path(&pq_db),
        crate::appdb::path_for(db),
    ];
    for p in files {
        let _ = std::fs::remove_file(p);
    }
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("bench-report_") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Runs the benchmark.
pub fn run(a: BenchArgs) -> Result<()> {
    std::fs::create_dir_all(&a.dir)?;
    let csv = a.dir.join(format!("bench-{}.csv", a.rows));
    let db = a.dir.join("bench.duckdb");
    for p in [db.clone(), db.with_extension("duckdb.wal")] {
        let _ = std::fs::remove_file(p);
    }
    let cfg = GenConfig {
        rows: a.rows,
        users: GenConfig::default_users(a.rows),
        seed: 1,
        dirty: 0.001,
        start: chrono::NaiveDate::from_ymd_opt(2017, 11, 25).expect("date"),
        days: 9,
        out: csv.clone(),
    };
    let t0 = Instant::now();
    generate(&cfg, &|_| {})?;
    let gen_s = t0.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&csv)?.len();
    eprintln!("gen: {} rows, {:.0} MB in {gen_s:.2} s", a.rows, bytes as f64 / 1e6);
    let floor_s = floor(&csv)?;
    let bare_s = bare_load(&csv, &a.dir)?;
    let dbs = db.to_string_lossy().into_owned();
    let csvs = csv.to_string_lossy().into_owned();
    let (_, ingest) = child(&["ingest", &csvs, "--db", &dbs, "--replace", "--format", "json", "--quiet"])?;
    eprintln!("ingest: {:.2} s", ingest.seconds);
    let parquet = parquet_bench(&a.dir, &dbs, ingest.seconds)?;
    let xlsx = xlsx_bench(&a.dir, &dbs)?;
    let (_, analyze) = child(&["analyze", "--db", &dbs, "--format", "json"])?;
    let (_, analyze2) = child(&["analyze", "--db", &dbs, "--format", "json"])?;
    let sections = section_timings(&db)?;
    // The PDF report (zh), its 6 charts as PNG + SVG; skipped with a note when no CJK font exists.
    let pdf = a.dir.join("bench-report.pdf");
    let report_t = match child(&["report", "--db", &dbs, "--out", &pdf.to_string_lossy(), "--lang", "zh", "--quiet", "--no-llm"]) {
        Ok((_, t)) => Some(t),
        Err(e) => {
            eprintln!("report: skipped ({e}); see `ecomm report --help` for fonts");
            None
        }
    };
    let mut insights = Vec::new();
    for model in &a.models {
        insights.push(insights_bench(&db, model, a.insights_lang)?);
    }
    let mysql_report = match &a.mysql {
        Some(base) => mysql_bench(base, &dbs)?,
        None => serde_json::Value::Null,
    };
    let report = serde_json::json!({
        "rows": a.rows,
        "csv_bytes": bytes,
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "gen_seconds": gen_s,
        "floor_seconds": floor_s,
        "bare_load_seconds": bare_s,
        "bare_load_over_floor": bare_s / floor_s,
        "ingest": ingest,
        "ingest_over_floor": ingest.seconds / floor_s,
        "analyze": analyze,
        "analyze_second_run": analyze2,
        "sections": sections,
        "report": report_t,
        "mysql": mysql_report,
        "parquet": parquet,
        "xlsx": xlsx,
        "insights": insights,
    });
    if a.json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report, &ingest, &analyze, &analyze2, report_t.as_ref());
        print_insights(&report);
    }
    if !a.keep {
        remove_outputs(&a.dir, &db, &csv, &pdf);
    }
    Ok(())
}
