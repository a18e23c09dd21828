//! `ecomm serve`: every endpoint over real HTTP against the real binary, checked against
//! `ecomm analyze --format json`; bad parameters; concurrent users; a concurrent ingest.

mod common;
use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn serve(db: &Path, cwd: &Path) -> Server {
    serve_on(db, cwd, "127.0.0.1")
}

fn serve_on(db: &Path, cwd: &Path, host: &str) -> Server {
    serve_with(db, cwd, host, None)
}

/// A GET over a plain TCP connection: (status, headers in lower case, body).
fn get(s: &Server, path: &str) -> (u16, String, Vec<u8>) {
    request(s, "GET", path, None, None)
}

/// Any request, with an optional session cookie and JSON body.
fn request(s: &Server, method: &str, path: &str, cookie: Option<&str>, body: Option<&str>) -> (u16, String, Vec<u8>) {
    let headers: Vec<String> = cookie.map(|k| format!("Cookie: ecomm_session={k}")).into_iter().collect();
    http(&s.addr, method, path, &headers, body.unwrap_or(""))
}

/// GET `path` must answer 400 with a JSON `error` sentence containing `want`.
fn assert_400(s: &Server, path: &str, want: &str) {
    let (status, head, body) = get(s, path);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{path}: {body}");
    assert!(head.contains("application/json"), "{path}: {head}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["error"].as_str().unwrap().contains(want), "{path}: {body}");
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
    // The metrics registry's analyses, as the page shows them: the same numbers as the JSON.
    let sections = json(&s, "/api/sections?lang=en&from=2017-11-30");
    let m = analyze(&db, &["--from", "2017-11-30"]);
    let lc = sections.as_array().unwrap().iter().find(|x| x["key"] == "lifecycle").expect("the lifecycle section");
    assert_eq!(lc["title"], "User lifecycle by date");
    assert_eq!(lc["columns"][0], "Date");
    let rows = lc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), m["lifecycle"].as_array().unwrap().len());
    let int = |v: &Value| v.as_str().unwrap().replace(',', "").parse::<u64>().unwrap();
    for (row, day) in rows.iter().zip(m["lifecycle"].as_array().unwrap()) {
        assert_eq!(row[0], day["date"]);
        assert_eq!(int(&row[5]), day["active"].as_u64().unwrap());
    }
    let zh = json(&s, "/api/sections?lang=zh");
    let titles: Vec<&str> = zh.as_array().unwrap().iter().map(|x| x["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        [
            "有序漏斗（按顺序、限时间窗口）",
            "同期群留存",
            "用户生命周期（按日期）",
            "会话与路径",
            "品类关联",
            "客户生命周期价值（BG/NBD 购买预测）",
            "异常"
        ]
    );
}

#[test]
fn behaviour_and_category_filters_match_analyze() {
    let (dir, db) = setup();
    let s = serve(&db, dir.path());
    // Suggestions: categories by events, most first.
    let cats = json(&s, "/api/categories");
    let list = cats.as_array().unwrap();
    assert!(!list.is_empty() && list.len() <= 200);
    assert!(list.windows(2).all(|w| n(&w[0], "events") >= n(&w[1], "events")));
    let top = list[0]["category_id"].as_i64().unwrap().to_string();
    let buys = analyze(&db, &[])["top_categories"][0]["category_id"].as_i64().unwrap().to_string();
    assert_eq!(json(&s, "/api/metrics?behavior=pv,buy"), analyze(&db, &["--behavior", "pv,buy"]));
    assert_eq!(json(&s, &format!("/api/metrics?category={top}")), analyze(&db, &["--category", &top]));
    assert_eq!(
        json(&s, &format!("/api/metrics?from=2017-12-01&behavior=cart,buy&category={top},{buys}")),
        analyze(&db, &["--from", "2017-12-01", "--behavior", "cart,buy", "--category", &format!("{top},{buys}")])
    );
    // Insights and the PDF take the same filter.
    let ins = json(&s, &format!("/api/insights?lang=en&category={buys}"));
    assert_eq!(ins["facts"]["filter"], format!("categories {buys}"));
    let (status, _, pdf) = get(&s, &format!("/api/report.pdf?lang=en&behavior=pv,buy&category={buys}"));
    assert_eq!(status, 200);
    let f = dir.path().join("filtered.pdf");
    std::fs::write(&f, &pdf).unwrap();
    let text = String::from_utf8(Command::new("pdftotext").arg(&f).arg("-").output().unwrap().stdout).unwrap();
    assert!(text.contains(&format!("behaviours pv, buy · categories {buys}")), "the PDF names the filter");
    for (path, want) in [
        ("/api/metrics?behavior=click", "unknown behaviour 'click'"),
        ("/api/metrics?category=abc", "expected category ids"),
        ("/api/metrics?category=999999999", "category 999999999 has no events"),
        ("/api/insights?behavior=pv,views", "unknown behaviour 'views'"),
    ] {
        assert_400(&s, path, want);
    }
}

#[test]
fn demo_ends_by_serving_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
        .args(["demo", "--rows", "50000", "--lang", "en", "--port", "0", "--dir"])
        .arg(dir.path().join("data"))
        .arg("--results")
        .arg(dir.path().join("results"))
        .current_dir(dir.path())
        .env_remove("ECOMM_MODEL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut addr = None;
    for _ in 0..400 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.strip_prefix("ecomm dashboard: http://") {
            addr = rest.split('/').next().map(str::to_string);
            break;
        }
    }
    let s = Server { child, addr: addr.expect("the demo printed the dashboard URL") };
    let db = dir.path().join("data/demo.duckdb");
    assert_eq!(json(&s, "/api/metrics"), analyze(&db, &[]));
    assert!(dir.path().join("results/report.pdf").exists());
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
        ("/api/sections?lang=fr", "expected zh or en"),
        ("/api/sections?from=2017-12-03&to=2017-12-01", "from=2017-12-03 is after to=2017-12-01"),
        ("/api/sections?category=999999999", "category 999999999 has no events"),
        ("/api/sections?x=1", "unknown parameter"),
        ("/api/report.pdf?to=20171201", "expected a date"),
        ("/api/report.pdf?from=2017-12-03&to=2017-12-01", "after"),
        ("/api/report.pdf?category=999999999", "category 999999999 has no events"),
        ("/api/meta?x=1", "unknown parameter"),
    ] {
        assert_400(&s, path, want);
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
    // During the ingest, while nothing is committed and the file is unchanged: the memoized answer,
    // which is still the committed data's, so not marked stale.
    let (status, head, body) = get(&s, "/api/metrics");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(!head.contains("x-ecomm-stale"), "{head}");
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), before);
    // Once the file changes under the lock (touched here, as a big ingest writes blocks before its
    // commit), the server cannot read it: the last good (pre-ingest) answer, marked stale; no
    // error, no mix.
    std::fs::File::options().write(true).open(&db).unwrap().set_modified(std::time::SystemTime::now()).unwrap();
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

/// Logs in; returns the session token from the Set-Cookie header (checked for HttpOnly/SameSite).
fn login(s: &Server, name: &str, password: &str) -> Option<String> {
    let (status, head, _) = request(s, "POST", "/login", None, Some(&format!(r#"{{"name":"{name}","password":"{password}"}}"#)));
    if status != 200 {
        assert_eq!(status, 401);
        return None;
    }
    let line = head.lines().find(|l| l.starts_with("set-cookie: ecomm_session=")).expect("session cookie");
    assert!(line.contains("httponly") && line.contains("samesite=strict"), "{line}");
    Some(line["set-cookie: ecomm_session=".len()..].split(';').next().unwrap().to_string())
}

#[test]
fn beyond_loopback_accounts_and_roles_are_enforced() {
    let (dir, db) = setup();
    // No accounts yet: refused with the command to run.
    let err = fails(&["serve", "--db", db.to_str().unwrap(), "--host", "0.0.0.0", "--port", "0"]);
    assert!(err.contains("ecomm user add") && err.contains("127.0.0.1"), "{err}");
    // Short passwords are refused.
    ecomm().args(["user", "add", "x", "--role", "admin", "--password-stdin", "--db"]).arg(&db).write_stdin("short\n").assert().failure();
    add_user(&db, "ada", "admin", "admin-password-1");
    add_user(&db, "vic", "viewer", "viewer-password-1");
    add_user(&db, "ana", "analyst", "analyst-password-1");
    let out = ecomm().args(["user", "list", "--db"]).arg(&db).assert().success().get_output().stdout.clone();
    assert_eq!(String::from_utf8(out).unwrap(), "ada\tadmin\nana\tanalyst\nvic\tviewer\n");
    let app = std::fs::read(dir.path().join("s.app.sqlite")).unwrap();
    assert!(!app.windows(b"viewer-password-1".len()).any(|w| w == b"viewer-password-1"), "no plain passwords stored");
    let s = serve_on(&db, dir.path(), "0.0.0.0");
    // Anonymous: API refused, page redirected to the login page.
    assert_eq!(get(&s, "/api/metrics").0, 401);
    assert_eq!(get(&s, "/api/report.pdf").0, 401);
    let (status, head, _) = get(&s, "/");
    assert!(status == 303 || status == 307, "{status}");
    assert!(head.contains("location: /login"));
    assert_eq!(get(&s, "/login").0, 200);
    assert!(login(&s, "vic", "wrong-password").is_none());
    assert!(login(&s, "nobody", "whatever-123").is_none());
    // A viewer sees the dashboard but may not run insights, export or manage users.
    let v = login(&s, "vic", "viewer-password-1").unwrap();
    let (status, _, body) = request(&s, "GET", "/api/metrics", Some(&v), None);
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), analyze(&db, &[]));
    for path in ["/api/insights", "/api/report.pdf", "/api/users", "/api/reports", "/api/reports/2017-12-01/report.pdf"] {
        let (status, _, body) = request(&s, "GET", path, Some(&v), None);
        assert_eq!(status, 403, "{path}: {}", String::from_utf8_lossy(&body));
    }
    let (status, _, _) = request(&s, "POST", "/api/users", Some(&v), Some(r#"{"name":"eve","password":"12345678x","role":"admin"}"#));
    assert_eq!(status, 403);
    // A viewer downloads the page (workbook, a chart's CSV) but not a segment's user list, however
    // the path is spelled.
    let (status, head, xlsx) = request(&s, "GET", "/api/export/metrics?lang=en", Some(&v), None);
    assert_eq!(status, 200);
    assert!(head.contains("spreadsheetml") && head.contains("attachment; filename=\"ecomm-metrics-2017-11-25-2017-12-03.xlsx\""), "{head}");
    assert!(xlsx.starts_with(b"PK"));
    assert_eq!(request(&s, "GET", "/api/export/metrics?format=csv&section=funnel", Some(&v), None).0, 200);
    let (_, _, me) = request(&s, "GET", "/api/me", Some(&v), None);
    assert_eq!(serde_json::from_slice::<Value>(&me).unwrap(), serde_json::json!({"name": "vic", "role": "viewer"}));
    for path in [
        "/api/export/users?segment=loyal",
        "/api/export/users",
        "/api/export/users/?segment=loyal",
        "/api/export//users?segment=loyal",
        "/api/export/%75sers?segment=loyal",
        "/api/export/metrics/../users?segment=loyal",
        "/API/export/users?segment=loyal",
    ] {
        let (status, _, body) = request(&s, "GET", path, Some(&v), None);
        assert!(status == 403 || status == 404, "{path}: {status} {}", String::from_utf8_lossy(&body));
        assert!(!body.starts_with(b"user_id"), "{path} leaked the list");
    }
    // An analyst may export but not manage users.
    let a = login(&s, "ana", "analyst-password-1").unwrap();
    let (status, _, pdf) = request(&s, "GET", "/api/report.pdf?lang=en", Some(&a), None);
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(request(&s, "GET", "/api/users", Some(&a), None).0, 403);
    // ... and download a segment's users: the file `ecomm export --what users` writes.
    let (status, _, list) = request(&s, "GET", "/api/export/users?segment=loyal&from=2017-11-27", Some(&a), None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&list));
    let cli = dir.path().join("loyal.csv");
    ecomm()
        .args(["export", "--what", "users", "--segment", "loyal", "--from", "2017-11-27", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&cli)
        .assert()
        .success();
    assert_eq!(list, std::fs::read(&cli).unwrap());
    let (_, _, me) = request(&s, "GET", "/api/me", Some(&a), None);
    assert_eq!(serde_json::from_slice::<Value>(&me).unwrap()["role"], "analyst");
    // An admin manages users.
    let d = login(&s, "ada", "admin-password-1").unwrap();
    let (status, _, _) = request(&s, "POST", "/api/users", Some(&d), Some(r#"{"name":"new","password":"new-password-1","role":"viewer"}"#));
    assert_eq!(status, 201);
    let (_, _, body) = request(&s, "GET", "/api/users", Some(&d), None);
    assert!(String::from_utf8_lossy(&body).contains(r#""name":"new""#));
    // Logging out ends the session.
    request(&s, "POST", "/logout", Some(&v), None);
    assert_eq!(request(&s, "GET", "/api/metrics", Some(&v), None).0, 401);
    assert_eq!(request(&s, "GET", "/api/metrics", Some("forged-token"), None).0, 401);
}

/// The download buttons' endpoints answer the files `ecomm export` writes for the same filters,
/// and wrong parameters get a 400 sentence.
#[test]
fn downloads_are_the_files_export_writes() {
    let (dir, db) = setup();
    let s = serve(&db, dir.path());
    let cli = |args: &[&str], out: &Path| {
        ecomm().arg("export").arg("--db").arg(&db).arg("--out").arg(out).args(args).assert().success();
        std::fs::read(out).unwrap()
    };
    let out = dir.path().join("f.csv");
    let want = cli(
        &["--what", "metrics", "--section", "funnel", "--format", "csv", "--lang", "en", "--from", "2017-11-28", "--behavior", "pv,buy"],
        &out,
    );
    let (status, head, got) = get(&s, "/api/export/metrics?format=csv&section=funnel&lang=en&from=2017-11-28&behavior=pv,buy");
    assert_eq!(status, 200);
    assert!(head.contains("text/csv") && head.contains("ecomm-funnel-2017-11-28-2017-12-03.csv"), "{head}");
    assert_eq!(got, want);
    // A registry section, with a journey option.
    let want = cli(&["--what", "metrics", "--section", "ordered_funnel", "--format", "csv", "--funnel-window", "1h"], &out);
    assert_eq!(get(&s, "/api/export/metrics?format=csv&section=ordered_funnel&funnel_window=1h").2, want);
    // The workbook opens and holds the page's numbers.
    let cat = analyze(&db, &[])["top_categories"][0]["category_id"].to_string();
    let (status, _, xlsx) = get(&s, &format!("/api/export/metrics?lang=en&category={cat}"));
    assert_eq!(status, 200);
    let file = dir.path().join("page.xlsx");
    std::fs::write(&file, &xlsx).unwrap();
    use calamine::{DataType, Reader};
    let mut book = calamine::open_workbook_auto(&file).unwrap();
    let f = book.worksheet_range("Funnel").unwrap();
    let m = analyze(&db, &["--category", &cat]);
    assert_eq!(f.get_value((4, 2)).unwrap().as_f64(), m["funnel"][0]["users"].as_f64());
    // Loopback: no logins, every download (the page's script hides nothing).
    assert_eq!(json(&s, "/api/me")["role"], "admin");
    assert_eq!(get(&s, "/api/export/users?segment=champions&format=xlsx").0, 200);
    for (path, says) in [
        ("metrics?format=parquet", "parquet is for --what events"),
        ("metrics?format=csv", "add --section KEY"),
        ("metrics?format=csv&section=nope", "unknown section 'nope'"),
        ("metrics?format=pdf", "format: unknown export format 'pdf'"),
        ("users?segment=vip", "unknown segment 'vip'"),
        ("users?min_p_alive=2", "min_p_alive: expected a probability"),
        ("users?format=json", "csv or xlsx"),
        ("users?funnel_window=1h", "unknown parameter 'funnel_window'"),
    ] {
        assert_400(&s, &format!("/api/export/{path}"), says);
    }
}

/// The journey options as query parameters answer exactly what the CLI's flags answer, and
/// wrong ones get a 400 sentence naming the parameter.
#[test]
fn journey_parameters_match_the_flags() {
    let (dir, db) = setup();
    let s = serve(&db, dir.path());
    let m = json(&s, "/api/metrics?funnel_by=item&funnel_window=2h&funnel_breakdown=category&retention_start=buy&session_gap=10m");
    let a = analyze(
        &db,
        &[
            "--funnel-by",
            "item",
            "--funnel-window",
            "2h",
            "--funnel-breakdown",
            "category",
            "--retention-start",
            "buy",
            "--session-gap",
            "10m",
        ],
    );
    assert_eq!(m, a);
    assert_eq!(m["ordered_funnel"]["by"], "item");
    assert_eq!(m["ordered_funnel"]["breakdown"]["by"], "category");
    assert_eq!((m["cohorts"]["start"].as_str(), m["sessions"]["gap_s"].as_u64()), (Some("buy"), Some(600)));
    // The association's options, parsed like their flags.
    let m = json(&s, "/api/metrics?basket=cart,buy&min_pair_users=2&bought_with=10");
    assert_eq!(m, analyze(&db, &["--basket", "cart,buy", "--min-pair-users", "2", "--bought-with", "10"]));
    assert_eq!((m["association"]["basket"].as_str(), m["association"]["min_pair_users"].as_u64()), (Some("cart,buy"), Some(2)));
    assert_eq!(m["association"]["bought_with"]["category"], 10);
    // The page's sections follow the same parameters.
    let sections = json(&s, "/api/sections?lang=en&funnel_steps=pv,buy");
    let f = sections.as_array().unwrap().iter().find(|x| x["key"] == "ordered_funnel").unwrap();
    assert_eq!(f["rows"].as_array().unwrap().len(), 2);
    assert_eq!(f["plots"][0]["kind"], "funnel");
    assert_400(&s, "/api/metrics?funnel_steps=pv,pv", "funnel_steps:");
    assert_400(&s, "/api/sections?funnel_window=soon", "not a duration");
    assert_400(&s, "/api/metrics?funnel_breakdown=category", "needs an item or category funnel key");
    assert_400(&s, "/api/metrics?session_gap=none", "session gap");
    assert_400(&s, "/api/metrics?basket=pv", "use buy, cart or cart,buy");
    assert_400(&s, "/api/metrics?min_pair_users=0", "min_pair_users: expected a whole number of at least 1");
    assert_400(&s, "/api/sections?bought_with=abc", "bought_with: expected a whole number");
}
