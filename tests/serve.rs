//! `ecomm serve`: every endpoint over real HTTP against the real binary, checked against
//! `ecomm analyze --format json`; bad parameters; concurrent users; a concurrent ingest.

mod common;
use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `ecomm serve` on a free port, stopped on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &Path, cwd: &Path) -> Server {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
        .args(["serve", "--port", "0", "--db"])
        .arg(db)
        .current_dir(cwd)
        .env_remove("ECOMM_MODEL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("http://").nth(1).and_then(|s| s.split('/').next()).unwrap_or_else(|| panic!("no URL in {line:?}")).to_string();
    Server { child, addr }
}

/// A GET over a plain TCP connection: (status, headers in lower case, body).
fn get(s: &Server, path: &str) -> (u16, String, Vec<u8>) {
    let mut c = TcpStream::connect(&s.addr).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", s.addr).unwrap();
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("headers");
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 2 + n + 2..];
    }
}

fn json(s: &Server, path: &str) -> Value {
    let (status, _, body) = get(s, path);
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    (dir, db)
}

#[test]
fn endpoints_match_analyze() {
    let (dir, db) = setup();
    let s = serve(&db, dir.path());
    assert_eq!(json(&s, "/api/metrics"), analyze(&db, &[]));
    assert_eq!(json(&s, "/api/metrics?from=2017-12-01&to=2017-12-03"), analyze(&db, &["--from", "2017-12-01", "--to", "2017-12-03"]));
    assert_eq!(json(&s, "/api/metrics?from=2017-11-30"), analyze(&db, &["--from", "2017-11-30"]));
    let meta = json(&s, "/api/meta");
    assert_eq!(meta["rows"], 99_957);
    assert_eq!(meta["rows_read"], 100_001);
    assert_eq!(meta["rejects"]["out_of_window"], 44);
    assert_eq!(meta["rejects"]["malformed"], 0);
    assert_eq!(meta["window"]["start"], "2017-11-25");
    assert_eq!(meta["window"]["end"], "2017-12-03");
    assert_eq!(meta["timezone"], "Asia/Shanghai");
    // Insights: rules here (no model in the server's folder), same shape as `ecomm insights`.
    let ins = json(&s, "/api/insights?lang=en&from=2017-12-01");
    assert_eq!(ins["source"], "rules");
    let n = ins["insights"].as_array().unwrap().len();
    assert!((3..=8).contains(&n));
    // The PDF for the current filter.
    let (status, head, pdf) = get(&s, "/api/report.pdf?from=2017-12-01&to=2017-12-03&lang=en");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/pdf") && head.contains("ecomm-report-2017-12-01-2017-12-03.pdf"), "{head}");
    assert!(pdf.starts_with(b"%PDF"));
    let f = dir.path().join("dl.pdf");
    std::fs::write(&f, &pdf).unwrap();
    let text = String::from_utf8(Command::new("pdftotext").arg(&f).arg("-").output().unwrap().stdout).unwrap();
    assert!(text.contains("2017-12-01 – 2017-12-03"), "the PDF is for the filtered range");
}

#[test]
fn page_and_assets_are_embedded_and_offline() {
    let (dir, db) = setup();
    let s = serve(&db, dir.path());
    let (status, head, body) = get(&s, "/");
    assert_eq!(status, 200);
    assert!(head.contains("text/html"));
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("/assets/app.js") && html.contains("/assets/app.css"));
    for path in ["/", "/assets/app.js", "/assets/app.css"] {
        let (status, _, body) = get(&s, path);
        assert_eq!(status, 200, "{path}");
        let text = String::from_utf8(body).unwrap();
        assert!(
            !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
            "{path} must not load anything from the network"
        );
    }
}

#[test]
fn wrong_parameters_are_400_with_a_sentence() {
    let (dir, db) = setup();
    let s = serve(&db, dir.path());
    for (path, want) in [
        ("/api/metrics?from=2017-13-01", "expected a date"),
        ("/api/metrics?from=yesterday", "expected a date"),
        ("/api/metrics?form=2017-12-01", "unknown parameter 'form'"),
        ("/api/metrics?from=2017-12-03&to=2017-12-01", "after"),
        ("/api/metrics?from=2018-02-01&to=2018-03-01", "does not overlap"),
        ("/api/insights?lang=fr", "expected zh or en"),
        ("/api/report.pdf?to=20171201", "expected a date"),
        ("/api/meta?x=1", "unknown parameter"),
    ] {
        let (status, head, body) = get(&s, path);
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(head.contains("application/json"));
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["error"].as_str().unwrap().contains(want), "{path}: {body}");
    }
    let (status, _, _) = get(&s, "/api/nothing");
    assert_eq!(status, 404);
    // Still serving after all that.
    assert_eq!(json(&s, "/api/metrics"), analyze(&db, &[]));
}

#[test]
fn concurrent_users_get_the_same_answers() {
    let (dir, db) = setup();
    let s = serve(&db, dir.path());
    let want = analyze(&db, &["--from", "2017-11-28"]);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..10 {
                    assert_eq!(json(&s, "/api/metrics?from=2017-11-28"), want);
                }
            });
        }
    });
}

#[test]
fn a_concurrent_ingest_never_shows_torn_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.duckdb");
    ingest(&db, &[&real("1k")], &[]);
    let before = analyze(&db, &[]);
    let s = serve(&db, dir.path());
    assert_eq!(json(&s, "/api/metrics"), before);
    // An ingest that holds the write lock inside its transaction for 4 s, then commits.
    let marker = dir.path().join("paused");
    let mut ingest = Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
        .args(["ingest", "--quiet", "--db"])
        .arg(&db)
        .arg(real("4k"))
        .env("ECOMM_TEST_PAUSE_BEFORE_COMMIT", &marker)
        .env("ECOMM_TEST_PAUSE_SECS", "4")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !marker.exists() {
        assert!(t0.elapsed().as_secs() < 60, "ingest never reached its pause point");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // During the ingest: the last good (pre-ingest) answer, marked stale; no error, no mix.
    let (status, head, body) = get(&s, "/api/metrics");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(head.contains("x-ecomm-stale: 1"), "{head}");
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), before);
    // A request never seen before has no good answer yet: 503 with a sentence, not a crash.
    let (status, _, body) = get(&s, "/api/metrics?from=2017-12-02");
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("ingest"));
    assert!(ingest.wait().unwrap().success(), "the ingest commits");
    // After: the new numbers, fresh.
    let after = analyze(&db, &[]);
    assert_ne!(after, before);
    let (status, head, body) = get(&s, "/api/metrics");
    assert_eq!(status, 200);
    assert!(!head.contains("x-ecomm-stale"));
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), after);
}

#[test]
fn only_loopback_without_accounts() {
    let (_dir, db) = setup();
    let err = fails(&["serve", "--db", db.to_str().unwrap(), "--host", "0.0.0.0", "--port", "0"]);
    assert!(err.contains("accounts") && err.contains("127.0.0.1"), "{err}");
}
