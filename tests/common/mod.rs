//! Helpers shared by the integration tests: they run the real binary on temp dirs.
#![allow(dead_code)]

pub mod browser;

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The ecomm binary.
pub fn ecomm() -> Command {
    let mut c = Command::cargo_bin("ecomm").expect("binary");
    c.env_remove("ECOMM_LANG");
    c
}

/// The real samples in ../shared/data/real.
pub fn real(name: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
    let p = match name {
        "1k" => base.join("ClaraYuhan--taobao-user-behavior-analysis--data_sample_sample_1000rows.csv"),
        "4k" => base.join("fattydelivery--clothes-shopping-website-v1.0--UserBehavior.csv"),
        "100k" => base.join("ylcxg--taobao-user-behavior-analysis--small_sample.csv"),
        _ => panic!("unknown sample {name}"),
    };
    assert!(p.exists(), "missing real sample {}", p.display());
    p
}

/// Runs `ecomm ingest ... --format json`, asserts success, returns the JSON.
pub fn ingest(db: &Path, files: &[&Path], extra: &[&str]) -> Value {
    ingest_env(db, files, extra, &[])
}

/// [`ingest`] with extra environment variables.
pub fn ingest_env(db: &Path, files: &[&Path], extra: &[&str], env: &[(&str, &str)]) -> Value {
    let mut c = ecomm();
    c.envs(env.iter().copied()).arg("ingest");
    for f in files {
        c.arg(f);
    }
    c.arg("--db").arg(db).args(["--format", "json"]).args(extra);
    let out = c.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("ingest json")
}

/// Runs `ecomm analyze --format json`, returns the JSON.
pub fn analyze(db: &Path, extra: &[&str]) -> Value {
    analyze_env(db, extra, &[])
}

/// [`analyze`] with extra environment variables (e.g. to force a slower code path).
pub fn analyze_env(db: &Path, extra: &[&str], env: &[(&str, &str)]) -> Value {
    let out = ecomm()
        .envs(env.iter().copied())
        .arg("analyze")
        .arg("--db")
        .arg(db)
        .args(["--format", "json"])
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("analyze json")
}

/// `ecomm user add NAME --role ROLE --db DB` with the password on stdin.
pub fn add_user(db: &Path, name: &str, role: &str, password: &str) {
    ecomm()
        .args(["user", "add", name, "--role", role, "--password-stdin", "--db"])
        .arg(db)
        .write_stdin(format!("{password}\n"))
        .assert()
        .success();
}

/// Runs ecomm expecting failure; returns stderr.
pub fn fails(args: &[&str]) -> String {
    let out = ecomm().args(args).assert().failure().get_output().clone();
    assert!(out.status.code() != Some(101), "ecomm panicked: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Unix seconds of a Beijing local time on 2017-11-25 + `day` days.
pub fn bj(day: i64, h: i64, m: i64, s: i64) -> i64 {
    1_511_539_200 + day * 86_400 + h * 3600 + m * 60 + s
}

/// A JSON number as f64.
pub fn float(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

/// A u64 field.
pub fn n(v: &Value, path: &str) -> u64 {
    let mut cur = v;
    for p in path.split('.') {
        cur = match p.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[p],
        };
    }
    cur.as_u64().unwrap_or_else(|| panic!("{path} is not an integer: {cur}"))
}

/// Runs ecomm with `args` and the test-hook variable `var` = `value`; waits until the process writes
/// `marker` (the hook's pause point), then kills it there.
pub fn kill_at_marker(args: &[String], var: &str, value: &str, marker: &Path) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
        .args(args)
        .env(var, value)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !marker.exists() {
        assert!(t0.elapsed().as_secs() < 120, "ecomm {args:?} never reached its pause point");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// One HTTP/1.1 request to `addr` (`Connection: close`) with extra header lines (`"Name: value"`)
/// and a JSON body ("" for none): returns (status, status line and headers in lower case, body).
/// Reads exactly Content-Length bytes or the chunks, with a read timeout, so a stuck peer fails
/// the test instead of hanging it.
pub fn http(addr: &str, method: &str, path: &str, headers: &[String], body: &str) -> (u16, String, Vec<u8>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(120))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        req += "Content-Type: application/json\r\n";
    }
    for h in headers {
        req += &format!("{h}\r\n");
    }
    write!(c, "{req}\r\n{body}").unwrap();
    let mut r = BufReader::new(c);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line.to_lowercase());
    }
    let status: u16 = head.split_whitespace().nth(1).unwrap_or_else(|| panic!("{method} {path}: no status line")).parse().unwrap();
    let header =
        |name: &str| head.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')).map(|v| v.trim().to_string()));
    let mut out = Vec::new();
    if let Some(n) = header("content-length") {
        out.resize(n.parse().unwrap(), 0);
        r.read_exact(&mut out).unwrap();
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
    } else {
        r.read_to_end(&mut out).unwrap();
    }
    (status, head, out)
}

/// A running `ecomm serve` on a free port, stopped on drop.
pub struct Server {
    /// The process.
    pub child: std::process::Child,
    /// host:port to connect to.
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `ecomm serve --db db` on `host` and a free port, in `cwd`; its stderr goes to
/// `stderr_to` when given (to read its log), else to the test's.
pub fn serve_with(db: &Path, cwd: &Path, host: &str, stderr_to: Option<&Path>) -> Server {
    use std::io::{BufRead, BufReader};
    let stderr = match stderr_to {
        Some(p) => std::process::Stdio::from(std::fs::File::create(p).unwrap()),
        None => std::process::Stdio::inherit(),
    };
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
        .args(["serve", "--port", "0", "--host", host, "--db"])
        .arg(db)
        .current_dir(cwd)
        .env_remove("ECOMM_MODEL")
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .replace("0.0.0.0", "127.0.0.1");
    Server { child, addr }
}

/// Resident memory of a process in MB (VmRSS from /proc).
pub fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap();
    kb / 1024.0
}

/// The hand-checkable fixture of `tests/metrics_fixture.rs` and `tests/journeys.rs`.
/// 16 events of 5 users over 2017-11-25..27 (Beijing).
pub fn fixture() -> String {
    let rows: Vec<(u64, u64, u64, &str, i64)> = vec![
        // user 1: buys item 100 on day 0 and item 101 on day 1 (both category 10)
        (1, 100, 10, "pv", bj(0, 10, 0, 0)),
        (1, 100, 10, "cart", bj(0, 10, 5, 0)),
        (1, 100, 10, "buy", bj(0, 10, 10, 0)),
        (1, 101, 10, "pv", bj(1, 20, 0, 0)),
        (1, 101, 10, "buy", bj(1, 20, 1, 0)),
        // user 2: browses and favs, never buys; active day 0 and day 2
        (2, 200, 20, "pv", bj(0, 21, 0, 0)),
        (2, 200, 20, "fav", bj(0, 21, 30, 0)),
        (2, 201, 20, "pv", bj(2, 9, 0, 0)),
        // user 3: buys item 100 on day 1, item 300 twice on day 2
        (3, 100, 10, "pv", bj(1, 21, 0, 0)),
        (3, 100, 10, "buy", bj(1, 21, 10, 0)),
        (3, 300, 30, "pv", bj(2, 21, 0, 0)),
        (3, 300, 30, "cart", bj(2, 21, 5, 0)),
        (3, 300, 30, "buy", bj(2, 21, 6, 0)),
        (3, 300, 30, "buy", bj(2, 21, 7, 0)),
        // user 4: the window's last second; user 5: its first second
        (4, 400, 40, "pv", bj(2, 23, 59, 59)),
        (5, 500, 50, "pv", bj(0, 0, 0, 0)),
    ];
    rows.iter().map(|(u, i, c, b, t)| format!("{u},{i},{c},{b},{t}\n")).collect()
}

pub fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("fixture.csv");
    std::fs::write(&csv, fixture()).unwrap();
    let db = dir.path().join("f.duckdb");
    let s = ingest(&db, &[&csv], &[]);
    assert_eq!(n(&s, "rows_loaded"), 16);
    // Detected window: all three days hold rows, so the shortest run holding 99.9 % is all of them.
    assert_eq!(s["window"], serde_json::json!({"start": "2017-11-25", "end": "2017-11-27", "timezone": "Asia/Shanghai"}));
    (dir, db)
}

/// The Python that runs the seed project's client (pandas, SQLAlchemy, PyMySQL) and the pandas
/// references of `tests/reference`: `$ECOMM_SEED_PYTHON`, else the venv `.ci/run` makes in `~/.cache/ecomm/seed-venv`.
pub fn seed_python() -> PathBuf {
    let p = std::env::var_os("ECOMM_SEED_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/ecomm/seed-venv/bin/python"));
    assert!(
        p.exists(),
        "{} is missing: the seed's Python client and the references (pandas, SQLAlchemy, PyMySQL, mlxtend); `bash .ci/run` creates it",
        p.display()
    );
    p
}
