//! Helpers shared by the integration tests: they run the real binary on temp dirs.
#![allow(dead_code)]

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
    let mut c = ecomm();
    c.arg("ingest");
    for f in files {
        c.arg(f);
    }
    c.arg("--db").arg(db).args(["--format", "json"]).args(extra);
    let out = c.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("ingest json")
}

/// Runs `ecomm analyze --format json`, returns the JSON.
pub fn analyze(db: &Path, extra: &[&str]) -> Value {
    let out =
        ecomm().arg("analyze").arg("--db").arg(db).args(["--format", "json"]).args(extra).assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("analyze json")
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
