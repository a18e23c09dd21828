//! Issue 17's live data, against the real binary: a watched folder (complete files only, broken
//! ones set aside with their reason, nothing loaded twice), rows from standard input in
//! micro-batches (committed while the stream runs; a kill loses at most the open batch), and the
//! dashboard's server-sent events announcing each commit.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The real 100k sample's lines `from..to` (0-based, end exclusive) written to `to_file`.
fn lines(from: usize, to: usize) -> String {
    let text = std::fs::read_to_string(real("100k")).unwrap();
    text.lines().skip(from).take(to - from).map(|l| format!("{l}\n")).collect()
}

fn rows(db: &Path) -> u64 {
    n(&analyze(db, &[]), "totals.events")
}

/// Waits until `f` holds (checked every 100 ms), or fails after `secs` saying `what`.
fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn watch(dir: &Path, db: &Path, log: &Path) -> Kill {
    Kill(
        Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
            .args(["ingest", "--format", "json", "--watch"])
            .arg(dir)
            .arg("--db")
            .arg(db)
            .stdout(std::fs::File::create(log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// The per-file JSON lines a watch printed.
fn watched(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[test]
fn a_watched_folder_ingests_complete_files_once_and_sets_broken_ones_aside() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, db, log) = (dir.path().join("in"), dir.path().join("w.duckdb"), dir.path().join("watch.jsonl"));
    std::fs::create_dir(&inbox).unwrap();
    let w = watch(&inbox, &db, &log);
    // A file published by rename.
    std::fs::write(dir.path().join("a.tmp"), lines(0, 2000)).unwrap();
    std::fs::rename(dir.path().join("a.tmp"), inbox.join("a.csv")).unwrap();
    wait_for(30, "a.csv", || watched(&log).len() == 1);
    // A file named .parquet that is text: set aside with its reason; the watch goes on.
    std::fs::write(inbox.join("b.parquet"), "1,2,3,pv,1511544070\n").unwrap();
    // A file written slowly, in two parts 1 s apart: ingested once, whole.
    let mut slow = std::fs::File::create(inbox.join("c.csv")).unwrap();
    slow.write_all(lines(2000, 2500).as_bytes()).unwrap();
    slow.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    slow.write_all(lines(2500, 3000).as_bytes()).unwrap();
    drop(slow);
    wait_for(30, "c.csv", || watched(&log).len() == 2);
    wait_for(10, "b.parquet set aside", || inbox.join("failed/b.parquet.error.txt").exists());
    let out = watched(&log);
    assert_eq!(out[0]["input"].as_str().unwrap(), inbox.join("a.csv").to_str().unwrap());
    assert_eq!(n(&out[0], "summary.rows_loaded"), 2000);
    assert_eq!(out[1]["input"].as_str().unwrap(), inbox.join("c.csv").to_str().unwrap());
    assert_eq!((n(&out[1], "summary.rows_read"), n(&out[1], "summary.rows_loaded")), (1000, 1000), "c.csv whole, once");
    let why = std::fs::read_to_string(inbox.join("failed/b.parquet.error.txt")).unwrap();
    assert!(why.contains("named like a Parquet file but it is text"), "{why}");
    assert!(!inbox.join("b.parquet").exists());
    drop(w);
    assert_eq!(rows(&db), 3000);
    // A second watch over the same folder loads nothing again.
    let log2 = dir.path().join("watch2.jsonl");
    let w = watch(&inbox, &db, &log2);
    wait_for(30, "the second watch", || watched(&log2).len() == 2);
    assert!(watched(&log2).iter().all(|o| o["summary"]["unchanged"] == true), "{:?}", watched(&log2));
    drop(w);
    assert_eq!(rows(&db), 3000);
    // A watch of a folder that is not there says so.
    let err = fails(&["ingest", "--watch", dir.path().join("nope").to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert!(err.contains("is not a folder"), "{err}");
    // Only ingest and serve watch: the demo does not take the flag (it once accepted and ignored it).
    let err = fails(&["demo", "--watch", "in", "--no-serve"]);
    assert!(err.contains("unexpected argument '--watch'"), "{err}");
}

#[test]
fn rows_from_stdin_commit_in_batches_and_a_kill_loses_only_the_open_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.duckdb");
    let d = db.to_str().unwrap();
    // A new DB needs its window.
    let err = fails(&["ingest", "--stdin", "--db", d]);
    assert!(err.contains("--start and --end"), "{err}");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
        .args(["ingest", "--stdin", "--batch", "500ms", "--start", "2017-11-25", "--end", "2017-12-03", "--format", "json", "--db", d])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    input.write_all(lines(0, 300).as_bytes()).unwrap();
    input.flush().unwrap();
    // The first batch is committed while the stream stays open.
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!((n(&first, "summary.rows_loaded"), n(&first, "summary.db_rows")), (300, 300), "{first}");
    assert_eq!(rows(&db), 300);
    // Repeated lines are counted as duplicates, not skipped unseen.
    input.write_all(lines(0, 10).as_bytes()).unwrap();
    input.flush().unwrap();
    let mut second = String::new();
    out.read_line(&mut second).unwrap();
    let second: serde_json::Value = serde_json::from_str(&second).unwrap();
    assert_eq!(n(&second, "summary.rejected.duplicate"), 10, "{second}");
    // Lines sent, then a kill before their batch is due: only they are lost.
    input.write_all(lines(300, 400).as_bytes()).unwrap();
    input.flush().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(rows(&db), 300);
    // Start-up says what the DB holds; the end of the input commits what is left.
    let o =
        ecomm().args(["ingest", "--stdin", "--batch", "100000", "--lang", "en", "--db", d]).write_stdin(lines(300, 400)).assert().success();
    let text = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert!(text.contains("the DB holds 300 rows"), "{text}");
    let said = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    assert!(said.contains("Input ended: 1 batches, 100 rows loaded"), "{said}");
    assert_eq!(rows(&db), 400);
    assert!(!dir.path().join("s.duckdb.stdin").exists(), "no batch left behind");
    let bad = ecomm().args(["ingest", "--stdin", "--batch", "soon", "--db", d]).assert().failure();
    assert!(String::from_utf8_lossy(&bad.get_output().stderr).contains("neither a duration"));
    // Each batch rebuilding the DB would keep only the last one.
    let bad = ecomm().args(["ingest", "--stdin", "--replace", "--db", d]).assert().failure();
    assert!(String::from_utf8_lossy(&bad.get_output().stderr).contains("cannot be used with"));
}

/// Reads from an open `/api/events` connection until an `update` event arrives; returns its data.
fn next_update(stream: &mut std::net::TcpStream) -> serde_json::Value {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let t0 = Instant::now();
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(at) = text.find("event: update\ndata: ") {
            if let Some(end) = text[at..].find("\n\n") {
                let data = &text[at + "event: update\ndata: ".len()..at + end];
                return serde_json::from_str(data).unwrap();
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no update event: {text}");
        match stream.read(&mut chunk) {
            Ok(0) => panic!("the event stream closed: {text}"),
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn the_event_stream_announces_every_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.duckdb");
    let first = dir.path().join("first.csv");
    std::fs::write(&first, lines(0, 1000)).unwrap();
    ingest(&db, &[&first], &[]);
    let s = serve_with(&db, dir.path(), "127.0.0.1", None);
    let version = |s: &Server| {
        let (_, _, body) = http(&s.addr, "GET", "/api/meta", &[], "");
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["version"].as_str().unwrap().to_string()
    };
    let before = version(&s);
    let mut events = std::net::TcpStream::connect(&s.addr).unwrap();
    events.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    write!(events, "GET /api/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n", s.addr).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    for (k, (from, to)) in [(1000, 1600), (1600, 1700)].into_iter().enumerate() {
        let f = dir.path().join(format!("more{k}.csv"));
        std::fs::write(&f, lines(from, to)).unwrap();
        ingest(&db, &[&f], &[]);
        let u = next_update(&mut events);
        assert_eq!((n(&u, "counter"), n(&u, "new_rows")), (k as u64 + 1, (to - from) as u64), "{u}");
        assert_eq!(n(&u, "rows"), to as u64);
        assert_eq!(u["version"].as_str().unwrap(), version(&s));
    }
    assert_ne!(version(&s), before);
}

/// `serve --schedule "daily 00:00"` with yesterday's data (in Beijing time) makes the run it
/// missed at start-up: yesterday's PDF and workbook in results/<yesterday>/, listed for
/// analysts and downloadable; made once, not again after a restart; nothing else of the disk
/// can be named.
#[test]
fn a_missed_scheduled_report_is_made_at_start_up_once() {
    let dir = tempfile::tempdir().unwrap();
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let today = chrono::Utc::now().with_timezone(&beijing).date_naive();
    let yesterday = today.pred_opt().unwrap();
    let csv = dir.path().join("g.csv");
    let start = (yesterday - chrono::Duration::days(1)).to_string();
    ecomm().args(["gen", "--rows", "20000", "--days", "3", "--start", &start, "--out"]).arg(&csv).assert().success();
    let db = dir.path().join("r.duckdb");
    let end = today.to_string();
    ingest(&db, &[&csv], &["--start", &start, "--end", &end]);
    let results = dir.path().join("out");
    let serve = |log: &Path| {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
            .args(["serve", "--port", "0", "--schedule", "daily 00:00", "--lang", "en", "--results"])
            .arg(&results)
            .arg("--db")
            .arg(&db)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(c.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.split("http://").nth(1).unwrap().split('/').next().unwrap().to_string();
        (Kill(c), addr)
    };
    let (server, addr) = serve(&dir.path().join("serve1.log"));
    let day = results.join(yesterday.to_string());
    let list = || -> serde_json::Value {
        let (status, _, body) = http(&addr, "GET", "/api/reports", &[], "");
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    };
    wait_for(90, "the scheduled report", || list().as_array().is_some_and(|a| !a.is_empty()));
    let runs = list();
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs[0]["due"], format!("{today} 00:00"));
    assert_eq!(
        (runs[0]["first_day"].as_str(), runs[0]["last_day"].as_str()),
        (Some(&*yesterday.to_string()), Some(&*yesterday.to_string()))
    );
    let url = runs[0]["files"][1]["url"].as_str().unwrap().to_string();
    let (status, head, xlsx) = http(&addr, "GET", &url, &[], "");
    assert_eq!(status, 200, "{url}");
    assert!(head.contains("spreadsheetml"), "{head}");
    assert_eq!(xlsx, std::fs::read(day.join("analysis.xlsx")).unwrap());
    // The workbook covers yesterday only: its overview's range.
    {
        use calamine::Reader;
        let mut book = calamine::open_workbook_auto(day.join("analysis.xlsx")).unwrap();
        let o = book.worksheet_range("Overview").unwrap();
        assert_eq!(o.get_value((4, 1)).unwrap().to_string(), format!("{yesterday} .. {yesterday}"));
    }
    assert!(std::fs::read(day.join("report.pdf")).unwrap().starts_with(b"%PDF"));
    for bad in
        ["/api/reports/..%2F..%2Fr.duckdb/report.pdf", "/api/reports/2017-13-01/report.pdf", &format!("/api/reports/{yesterday}/r.duckdb")]
    {
        let (status, _, _) = http(&addr, "GET", bad, &[], "");
        assert_eq!(status, 404, "{bad}");
    }
    drop(server);
    // Restarted: the run is on record, so nothing is made again.
    std::fs::remove_file(day.join("report.pdf")).unwrap();
    let (_server, addr) = serve(&dir.path().join("serve2.log"));
    std::thread::sleep(Duration::from_secs(3));
    let (_, _, body) = http(&addr, "GET", "/api/reports", &[], "");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap().as_array().unwrap().len(), 1);
    assert!(!day.join("report.pdf").exists(), "made twice");
    let bad = ecomm().args(["serve", "--schedule", "monthly 1", "--db"]).arg(&db).assert().failure();
    assert!(String::from_utf8_lossy(&bad.get_output().stderr).contains("not a schedule"));
}
