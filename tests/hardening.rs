//! What a hostile run found (issue: hardening), each through the real binary: PDF memory,
//! logins, the rejects file after a kill, window detection with outliers, stdout errors, a
//! damaged DB, symlink loops, JSON errors. (The torn-mirror and timeout cases are in
//! tests/sync_mysql.rs, next to the real MariaDB.)

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn db_100k() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    (dir, db)
}

fn login_body(name: &str, password: &str) -> String {
    format!(r#"{{"name":"{name}","password":"{password}"}}"#)
}

/// POST /login: (status, session token if one was set, headers).
fn login(s: &Server, name: &str, password: &str) -> (u16, Option<String>, String) {
    let (status, head, _) = http(&s.addr, "POST", "/login", &[], &login_body(name, password));
    let token = head.lines().find_map(|l| l.strip_prefix("set-cookie: ecomm_session=")).map(|v| v.split(';').next().unwrap().to_string());
    (status, token.filter(|t| !t.is_empty()), head)
}

fn with_cookie(token: &str) -> Vec<String> {
    vec![format!("Cookie: ecomm_session={token}")]
}

#[test]
fn pdf_requests_do_not_grow_the_server() {
    let (dir, db) = db_100k();
    let s = serve_with(&db, dir.path(), "127.0.0.1", None);
    let pdf = |lang: &str| http(&s.addr, "GET", &format!("/api/report.pdf?lang={lang}"), &[], "");
    // Warm up: fonts, charts and the allocator's first arenas.
    for lang in ["en", "zh"] {
        let (status, _, body) = pdf(lang);
        assert_eq!(status, 200);
        assert!(body.starts_with(b"%PDF"));
    }
    let start = rss_mb(s.child.id());
    for i in 0..30 {
        assert_eq!(pdf(if i % 2 == 0 { "en" } else { "zh" }).0, 200);
    }
    let after_seq = rss_mb(s.child.id());
    // 20 at once: each gets its PDF (renders queue for a slot) or a 503 with Retry-After.
    let answers: Vec<(u16, String)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..20).map(|_| sc.spawn(|| pdf("en"))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).map(|(st, head, _)| (st, head)).collect()
    });
    for (status, head) in &answers {
        assert!(*status == 200 || (*status == 503 && head.contains("retry-after")), "{status}: {head}");
    }
    let after_par = rss_mb(s.child.id());
    eprintln!("RSS: {start:.0} MB after warm-up, {after_seq:.0} MB after 30 sequential PDFs, {after_par:.0} MB after 20 parallel");
    assert!(after_seq - start < 100.0, "30 sequential PDFs grew the server from {start:.0} to {after_seq:.0} MB");
    assert!(after_par - start < 100.0, "20 parallel PDFs grew the server from {start:.0} to {after_par:.0} MB");
}

#[test]
fn logins_are_throttled_bounded_and_sessions_end_on_changes() {
    let (dir, db) = db_100k();
    add_user(&db, "ada", "admin", "admin-password-1");
    add_user(&db, "vic", "viewer", "viewer-password-1");
    let log = dir.path().join("serve.log");
    let s = serve_with(&db, dir.path(), "0.0.0.0", Some(&log));

    // The app DB is private and holds no session token in the clear.
    let (status, admin, _) = login(&s, "ada", "admin-password-1");
    assert_eq!(status, 200);
    let admin = admin.unwrap();
    let app = dir.path().join("s.app.sqlite");
    use std::os::unix::fs::PermissionsExt;
    for f in [app.clone(), PathBuf::from(format!("{}-wal", app.display()))] {
        if let Ok(m) = std::fs::metadata(&f) {
            assert_eq!(m.permissions().mode() & 0o777, 0o600, "{}", f.display());
            let bytes = std::fs::read(&f).unwrap();
            assert!(!bytes.windows(admin.len()).any(|w| w == admin.as_bytes()), "{} holds a session token", f.display());
        }
    }

    // A malformed body gets the API's JSON error shape.
    let (status, head, body) = http(&s.addr, "POST", "/login", &[], "{not json");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(head.contains("application/json"));
    assert!(serde_json::from_slice::<Value>(&body).unwrap()["error"].as_str().unwrap().contains("JSON"));

    // Cross-site state changes are refused, same-site ones pass.
    let evil = [with_cookie(&admin), vec!["Origin: http://evil.example".into()]].concat();
    let new_user = r#"{"name":"eve","password":"eve-password-1","role":"admin"}"#;
    assert_eq!(http(&s.addr, "POST", "/api/users", &evil, new_user).0, 403);
    let refer = [with_cookie(&admin), vec!["Referer: http://evil.example/page".into()]].concat();
    assert_eq!(http(&s.addr, "POST", "/api/users", &refer, new_user).0, 403);
    let (_, _, users) = http(&s.addr, "GET", "/api/users", &with_cookie(&admin), "");
    assert!(!String::from_utf8_lossy(&users).contains("eve"), "a cross-site POST created a user");
    let same = [with_cookie(&admin), vec![format!("Origin: http://{}", s.addr)]].concat();
    assert_eq!(http(&s.addr, "POST", "/api/users", &same, r#"{"name":"ned","password":"ned-password-1","role":"viewer"}"#).0, 201);

    // A password change (CLI) and a role change (dashboard) end the account's sessions.
    let (_, v1, _) = login(&s, "vic", "viewer-password-1");
    let v1 = v1.unwrap();
    assert_eq!(http(&s.addr, "GET", "/api/meta", &with_cookie(&v1), "").0, 200);
    add_user(&db, "vic", "viewer", "viewer-password-2");
    assert_eq!(http(&s.addr, "GET", "/api/meta", &with_cookie(&v1), "").0, 401, "a session survived a password change");
    let (_, v2, _) = login(&s, "vic", "viewer-password-2");
    let v2 = v2.unwrap();
    let role_change = r#"{"name":"vic","password":"viewer-password-2","role":"analyst"}"#;
    assert_eq!(http(&s.addr, "POST", "/api/users", &with_cookie(&admin), role_change).0, 201);
    assert_eq!(http(&s.addr, "GET", "/api/meta", &with_cookie(&v2), "").0, 401, "a session survived a role change");
    assert_eq!(http(&s.addr, "GET", "/api/meta", &with_cookie(&admin), "").0, 200, "the admin's own session ended");

    // 64 logins at once for unknown accounts: password checks run one per core, so the server
    // does not take 64 × 19 MB.
    let before = rss_mb(s.child.id());
    let server = &s;
    std::thread::scope(|sc| {
        let hs: Vec<_> = (0..64).map(|i| sc.spawn(move || login(server, &format!("ghost{i}"), "wrong-password-x").0)).collect();
        for h in hs {
            let st = h.join().unwrap();
            assert!(st == 401 || st == 429, "{st}");
        }
    });
    let after = rss_mb(s.child.id());
    eprintln!("RSS around 64 parallel logins: {before:.0} -> {after:.0} MB");
    assert!(after - before < 150.0, "64 parallel logins grew the server from {before:.0} to {after:.0} MB");

    // Brute force on one account: after 5 failures even the right password waits.
    drop(s);
    let log = dir.path().join("serve2.log");
    let s = serve_with(&db, dir.path(), "0.0.0.0", Some(&log));
    for _ in 0..5 {
        assert_eq!(login(&s, "ada", "wrong-password").0, 401);
    }
    let (status, token, head) = login(&s, "ada", "admin-password-1");
    assert_eq!(status, 429, "{head}");
    assert!(token.is_none());
    assert!(head.contains("retry-after: 1") || head.contains("retry-after: 2"), "{head}");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(login(&s, "ada", "admin-password-1").0, 200, "the wait is over");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("login failed: account 'ada'"), "{text}");
    assert!(text.contains("login throttled: account 'ada'"), "{text}");
}

#[test]
fn a_kill_after_the_commit_leaves_no_rejects_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.duckdb");
    let data = dir.path().join("dirty.csv");
    let mut text = std::fs::read_to_string(real("1k")).unwrap();
    text.push_str("x,y,z\n1,2,3,click,1511544070\n1,2,3,pv,99\n");
    std::fs::write(&data, &text).unwrap();
    let marker = dir.path().join("marker");
    let args: Vec<String> = vec!["ingest".into(), data.to_string_lossy().into(), "--db".into(), db.to_string_lossy().into()];
    kill_at_marker(&args, "ECOMM_TEST_PAUSE_AFTER_COMMIT", &marker.to_string_lossy(), &marker);
    let rejects = dir.path().join("r.rejects.csv");
    let lines = |p: &Path| std::fs::read_to_string(p).map(|t| t.lines().count()).unwrap_or(0);
    // What an ingest that was not killed writes.
    ingest(&dir.path().join("control.duckdb"), &[&data], &[]);
    let want = std::fs::read_to_string(dir.path().join("control.rejects.csv")).unwrap();
    assert!(want.lines().count() >= 4, "header + at least the 3 rejects added");
    assert!(lines(&rejects) < want.lines().count(), "the file was written before the kill; the test needs it behind");
    // The re-run skips the file (already committed) and brings the rejects file up to date.
    let out = ecomm().arg("ingest").arg(&data).arg("--db").arg(&db).assert().success().get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rewritten from the rejects table"), "{err}");
    let same_rows = |got: String| {
        // The files name different paths only in the ingest's file column: compare the rest.
        let strip = |t: &str| t.lines().map(|l| l.replace(&data.to_string_lossy().into_owned(), "F")).collect::<Vec<_>>();
        assert_eq!(strip(&got), strip(&want));
    };
    same_rows(std::fs::read_to_string(&rejects).unwrap());
    // serve does the same at start.
    std::fs::remove_file(&rejects).unwrap();
    let _s = serve_with(&db, dir.path(), "127.0.0.1", None);
    same_rows(std::fs::read_to_string(&rejects).unwrap());
}

fn csv_with(extra: &[i64]) -> String {
    let mut text = std::fs::read_to_string(real("1k")).unwrap();
    for (i, ts) in extra.iter().enumerate() {
        text.push_str(&format!("{},{},1,pv,{ts}\n", 9_000_000 + i, 7_000 + i));
    }
    text
}

#[test]
fn a_few_far_away_rows_do_not_move_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.csv");
    std::fs::write(&plain, csv_with(&[])).unwrap();
    let base = ingest(&dir.path().join("plain.duckdb"), &[&plain], &[]);
    assert_eq!(base["window"]["start"], "2017-11-25");
    assert_eq!(base["window"]["end"], "2017-12-03");
    // ts = 0, a day in 1970, a day in 2200, one far past 2200.
    for (tag, ts) in [("zero", 0i64), ("y1970", 15_000_000), ("y2200", 7_258_118_400 + 86_400 * 30), ("far", 99_999_999_999)] {
        let f = dir.path().join(format!("{tag}.csv"));
        std::fs::write(&f, csv_with(&[ts, ts + 60])).unwrap();
        let s = ingest(&dir.path().join(format!("{tag}.duckdb")), &[&f], &[]);
        assert_eq!(s["window"]["start"], "2017-11-25", "{tag}");
        assert_eq!(s["window"]["end"], "2017-12-03", "{tag}");
        assert_eq!(n(&s, "rejected.out_of_window"), n(&base, "rejected.out_of_window") + 2, "{tag}");
        assert_eq!(n(&s, "rows_loaded"), n(&base, "rows_loaded"), "{tag}");
    }
    // Data that really spans more than 366 days needs --start/--end.
    let long = dir.path().join("long.csv");
    let rows: String = (0..800).map(|d| format!("{d},1,1,pv,{}\n", 1_500_000_000 + d * 86_400)).collect();
    std::fs::write(&long, rows).unwrap();
    let err = fails(&["ingest", long.to_str().unwrap(), "--db", dir.path().join("long.duckdb").to_str().unwrap()]);
    assert!(err.contains("--start") && err.contains("--end") && err.contains("366"), "{err}");
    let ok = ingest(&dir.path().join("long2.duckdb"), &[&long], &["--start", "2017-07-14", "--end", "2018-07-13"]);
    assert_eq!(n(&ok, "rows_loaded"), 365);
}

/// Runs ecomm with stdout on a pipe whose reading end is already closed.
fn closed_pipe(args: &[&str], cwd: &Path) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    std::process::Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
        .args(args)
        .current_dir(cwd)
        .env_remove("ECOMM_LANG")
        .env_remove("ECOMM_MODEL")
        .stdout(writer)
        .output()
        .unwrap()
}

fn to_dev_full(args: &[&str], cwd: &Path) -> std::process::Output {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
        .args(args)
        .current_dir(cwd)
        .env_remove("ECOMM_LANG")
        .env_remove("ECOMM_MODEL")
        .stdout(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap())
        .output()
        .unwrap()
}

#[test]
fn closed_pipes_end_quietly_and_full_disks_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.duckdb");
    ingest(&db, &[&real("1k")], &[]);
    add_user(&db, "ada", "admin", "admin-password-1");
    let d = db.to_str().unwrap();
    let report = dir.path().join("r.pdf");
    let fresh = |tag: &str| dir.path().join(format!("{tag}.duckdb")).to_string_lossy().into_owned();
    let commands: Vec<Vec<String>> = vec![
        vec!["analyze".into(), "--db".into(), d.into(), "--format".into(), "json".into()],
        vec!["analyze".into(), "--db".into(), d.into()],
        vec!["insights".into(), "--db".into(), d.into(), "--format".into(), "json".into()],
        vec!["insights".into(), "--db".into(), d.into()],
        vec!["report".into(), "--db".into(), d.into(), "--out".into(), report.to_string_lossy().into(), "--lang".into(), "en".into()],
        vec!["user".into(), "list".into(), "--db".into(), d.into()],
    ];
    for (i, args) in commands.iter().enumerate() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = closed_pipe(&args, dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?} on a closed pipe: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?} on a closed pipe: {err}");
        let out = to_dev_full(&args, dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?} to /dev/full: {err}");
        assert_eq!(out.status.code(), Some(1), "{args:?} to /dev/full: {err}");
        assert!(err.contains("cannot write the output to standard output") && err.contains("No space left"), "{args:?}: {err}");
        // ingest prints its summary last, after the commit.
        let f = fresh(&format!("i{i}"));
        let out = closed_pipe(&["ingest", real("1k").to_str().unwrap(), "--db", &f], dir.path());
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = to_dev_full(&["ingest", real("1k").to_str().unwrap(), "--db", &fresh("full"), "--format", "json"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No space left"));
}

#[test]
fn a_damaged_db_is_called_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.duckdb");
    ingest(&db, &[&real("4k")], &[]);
    let good = std::fs::read(&db).unwrap();
    // Flip one byte in each block after the headers in turn until DuckDB notices; every message
    // it gives must say "damaged" and never blame another process.
    let mut noticed = 0;
    for off in (3 * 4096..good.len()).step_by(262_144).take(8) {
        let mut bad = good.clone();
        bad[off + 100] ^= 0x55;
        std::fs::write(&db, &bad).unwrap();
        let out = ecomm().args(["analyze", "--format", "json", "--db"]).arg(&db).output().unwrap();
        if out.status.success() {
            continue;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "panic: {err}");
        assert!(!err.contains("in use by another"), "offset {off}: {err}");
        assert!(err.contains("damaged") && err.contains("--replace"), "offset {off}: {err}");
        noticed += 1;
    }
    assert!(noticed > 0, "no flipped byte was noticed");
}

#[test]
fn symlink_loops_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("loop.csv");
    std::os::unix::fs::symlink(&link, &link).unwrap();
    let err = fails(&["ingest", link.to_str().unwrap(), "--db", dir.path().join("x.duckdb").to_str().unwrap()]);
    assert!(err.contains("symbolic link") && !err.contains("file not found"), "{err}");
    let dangling = dir.path().join("gone.csv");
    std::os::unix::fs::symlink(dir.path().join("nowhere.csv"), &dangling).unwrap();
    let err = fails(&["ingest", dangling.to_str().unwrap(), "--db", dir.path().join("x.duckdb").to_str().unwrap()]);
    assert!(err.contains("symbolic link") && err.contains("nowhere.csv"), "{err}");
}
