//! Alerts (issue 17): rules made with `ecomm alert`, evaluated after every ingest, fired once
//! when their condition starts to hold, sent to a real HTTP receiver on 127.0.0.1 (retried when
//! it fails), to a file, or listed on the dashboard; and the dashboard's alert endpoints with
//! their roles.

mod common;
use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A webhook receiver on 127.0.0.1: records every request's (method, path, body) and answers the
/// statuses of `script` in turn (then 200).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Receiver {
    fn start(script: &[u16]) -> Receiver {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook/secret-token", l.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let (g, mut script) = (got.clone(), script.to_vec());
        script.reverse();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else { continue };
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut first = String::new();
                r.read_line(&mut first).unwrap();
                let mut len = 0;
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).unwrap();
                    if h == "\r\n" || h.is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                let mut parts = first.split_whitespace();
                let (m, p) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                g.lock().unwrap().push((m, p, String::from_utf8(body).unwrap()));
                let status = script.pop().unwrap_or(200);
                let _ = write!(c, "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            }
        });
        Receiver { url, got }
    }
    fn posts(&self) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(m, _, b)| {
                assert_eq!(m, "POST");
                serde_json::from_str(b).unwrap()
            })
            .collect()
    }
}

/// The 100k real sample's lines a..b as a file in `dir`.
fn part(dir: &Path, name: &str, a: usize, b: usize) -> std::path::PathBuf {
    let text = std::fs::read_to_string(real("100k")).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text.lines().skip(a).take(b - a).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    p
}

const WINDOW: [&str; 4] = ["--start", "2017-11-25", "--end", "2017-12-03"];

fn list(db: &Path) -> Value {
    let out = ecomm().args(["alert", "list", "--format", "json", "--db"]).arg(db).assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}

fn add(db: &Path, args: &[&str]) -> Value {
    let out =
        ecomm().args(["alert", "add"]).args(args).args(["--format", "json", "--db"]).arg(db).assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}

fn add_fails(db: &Path, args: &[&str]) -> String {
    let out = ecomm().args(["alert", "add"]).args(args).arg("--db").arg(db).assert().failure().get_output().stderr.clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn rules_fire_once_when_their_condition_starts_to_hold() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.duckdb");
    ingest(&db, &[&part(dir.path(), "a.csv", 0, 30_000)], &WINDOW);
    let events_a = n(&analyze(&db, &[]), "totals.events");
    let hook = Receiver::start(&[]);
    let line = (events_a + 1).to_string();
    let added = add(&db, &["many", "--metric", "totals.events", "--when", &format!("above {line}"), "--over", "all", "--to", &hook.url]);
    assert_eq!(added["value"].as_f64(), Some(events_a as f64), "{added}");
    // The latest day's active users against the day before, to a file.
    let jsonl = dir.path().join("alerts.jsonl");
    let to_file = format!("file:{}", jsonl.display());
    add(&db, &["users", "--metric", "daily.users", "--when", "above 0", "--to", &to_file]);
    // Refused, each with a sentence that says what to write.
    let e = add_fails(&db, &["x", "--metric", "kpis.visitors", "--when", "below 1", "--to", "dashboard"]);
    assert!(e.contains("no key 'visitors'") && e.contains("pv_to_buy_conversion"), "{e}");
    let e = add_fails(&db, &["x", "--metric", "kpis", "--when", "below 1", "--to", "dashboard"]);
    assert!(e.contains("not a number"), "{e}");
    let e = add_fails(&db, &["x", "--metric", "anomalies.top", "--when", "new", "--to", "dashboard"]);
    assert!(e.contains("--over all"), "{e}");
    let e = add_fails(&db, &["x", "--metric", "totals.events", "--when", "sideways 3", "--to", "dashboard"]);
    assert!(e.contains("below 0.05"), "{e}");
    let e = add_fails(&db, &["many", "--metric", "totals.events", "--when", "below 1", "--to", "dashboard"]);
    assert!(e.contains("exists"), "{e}");
    let e = add_fails(&db, &["x", "--metric", "totals.events", "--when", "below 1", "--to", "file:/no/such/dir/a.jsonl"]);
    assert!(e.contains("does not exist"), "{e}");
    assert!(hook.posts().is_empty(), "making a rule sends nothing");

    // The second file takes the events over the line: one POST; the file rule fires too (its
    // condition held from the start: the first evaluation after the rule was made).
    ingest(&db, &[&part(dir.path(), "b.csv", 30_000, 60_000)], &[]);
    let after_b = analyze(&db, &[]);
    let posts = hook.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let p = &posts[0];
    assert_eq!(p["rule"], "many");
    assert_eq!(p["value"].as_f64(), Some(n(&after_b, "totals.events") as f64));
    assert_eq!(p["day"], after_b["daily"].as_array().unwrap().iter().rev().find(|d| n(d, "users") > 0).unwrap()["date"]);
    assert!(p["text"]["en"].as_str().unwrap().contains("totals.events"), "{p}");
    assert!(p["text"]["zh"].as_str().unwrap().contains("告警"), "{p}");
    let lines = std::fs::read_to_string(&jsonl).unwrap();
    assert_eq!(lines.lines().count(), 1, "{lines}");
    let f: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(f["rule"], "users");
    let latest = f["day"].as_str().unwrap();
    let day = analyze(&db, &["--from", latest, "--to", latest]);
    assert_eq!(f["value"].as_f64(), Some(n(&day, "totals.users") as f64), "the latest day's users");

    // Still over the line after the third file: nothing more is sent.
    ingest(&db, &[&part(dir.path(), "c.csv", 60_000, 100_000)], &[]);
    assert_eq!(hook.posts().len(), 1);
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap().lines().count(), 1);
    // The same file again changes nothing and evaluates nothing.
    ingest(&db, &[&dir.path().join("c.csv")], &[]);
    let l = list(&db);
    let states: Vec<&str> = l["rules"].as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["firing", "firing"]);
    let f = l["firings"].as_array().unwrap();
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|f| f["status"] == "delivered" && f["attempts"] == 1), "{l}");

    // Removed: gone from the list, its firings stay.
    ecomm().args(["alert", "remove", "many", "--db"]).arg(&db).assert().success();
    let l = list(&db);
    assert_eq!(l["rules"].as_array().unwrap().len(), 1);
    assert_eq!(l["firings"].as_array().unwrap().len(), 2);
    let out = ecomm().args(["alert", "remove", "many", "--db"]).arg(&db).assert().failure().get_output().stderr.clone();
    assert!(String::from_utf8_lossy(&out).contains("ecomm alert list"));
}

#[test]
fn failed_sends_are_retried_with_back_off_by_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.duckdb");
    ingest(&db, &[&part(dir.path(), "a.csv", 0, 30_000)], &WINDOW);
    let hook = Receiver::start(&[500, 503]);
    add(&db, &["grew", "--metric", "totals.events", "--when", "above 1", "--over", "all", "--to", &hook.url]);
    let log = dir.path().join("serve.log");
    let _s = serve_with(&db, dir.path(), "127.0.0.1", Some(&log));
    // The server evaluates at start-up: the rule holds, one firing; 500, then 503 after 1 s,
    // then delivered after 2 s more.
    let t0 = Instant::now();
    let firing = loop {
        let l = list(&db);
        if let Some(f) = l["firings"].as_array().and_then(|f| f.first()).filter(|f| f["status"] == "delivered") {
            break f.clone();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "not delivered: {l}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(firing["attempts"], 3, "{firing}");
    let posts = hook.posts();
    assert_eq!(posts.len(), 3);
    assert!(posts.iter().all(|p| *p == posts[0]), "the same firing each time");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("answered HTTP 500") && text.contains("retrying in 1 s"), "{text}");
    assert!(!text.contains("secret-token"), "the webhook's path is never logged: {text}");
    // The ingest that follows evaluates in the server too; nothing new holds: no more posts.
    ingest(&db, &[&part(dir.path(), "b.csv", 30_000, 40_000)], &[]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(hook.posts().len(), 3);
}

/// 7 days of 30–32 page views in every hour from distinct users; `spike` adds 300 at 10:00 on the
/// 7th day (Beijing).
fn hours(days: std::ops::Range<i64>, spike: bool) -> String {
    let mut s = String::new();
    let mut user = 1;
    for d in days {
        for h in 0..24 {
            let n = 30 + d % 3 + if spike && d == 6 && h == 10 { 300 } else { 0 };
            for k in 0..n {
                s += &format!("{user},{},{},pv,{}\n", 100 + k, 7, bj(d, h, 0, k));
                user += 1;
            }
        }
    }
    s
}

#[test]
fn a_new_anomaly_fires_once_on_the_dashboard_list() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("n.duckdb");
    let first = dir.path().join("first.csv");
    std::fs::write(&first, hours(0..6, false)).unwrap();
    ingest(&db, &[&first], &["--start", "2017-11-25", "--end", "2017-12-01"]);
    add(&db, &["spikes", "--metric", "anomalies.top", "--when", "new", "--over", "all", "--to", "dashboard"]);
    let spike = dir.path().join("spike.csv");
    std::fs::write(&spike, hours(6..7, true)).unwrap();
    ingest(&db, &[&spike], &[]);
    let l = list(&db);
    let f = l["firings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{l}");
    assert_eq!(f[0]["status"], "listed");
    let p = &f[0]["payload"];
    let found = p["new"].as_array().unwrap();
    assert!(
        found.iter().any(|a| a["series"] == "hourly" && a["date"] == "2017-12-01" && a["hour"] == 10 && a["direction"] == "spike"),
        "{p}"
    );
    assert!(p["text"]["en"].as_str().unwrap().contains("new finding"), "{p}");
    // More rows at another hour: the spike is not new any more.
    let more = dir.path().join("more.csv");
    std::fs::write(&more, format!("999999,1,7,pv,{}\n", bj(6, 23, 30, 0))).unwrap();
    ingest(&db, &[&more], &[]);
    assert_eq!(list(&db)["firings"].as_array().unwrap().len(), 1);
}

#[test]
fn the_dashboard_lists_alerts_and_only_admins_change_rules() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.duckdb");
    ingest(&db, &[&part(dir.path(), "a.csv", 0, 10_000)], &WINDOW);
    add(
        &db,
        &["hook", "--metric", "totals.events", "--when", "above 1", "--over", "all", "--to", "https://hooks.example.com/x/secret-token"],
    );
    add_user(&db, "ada", "admin", "admin-password-1");
    add_user(&db, "ana", "analyst", "analyst-password-1");
    add_user(&db, "vic", "viewer", "viewer-password-1");
    let s = serve_with(&db, dir.path(), "0.0.0.0", None);
    let login = |name: &str, pw: &str| -> String {
        let (status, head, _) = http(&s.addr, "POST", "/login", &[], &format!(r#"{{"name":"{name}","password":"{pw}"}}"#));
        assert_eq!(status, 200);
        let line = head.lines().find(|l| l.starts_with("set-cookie: ecomm_session=")).unwrap();
        format!("Cookie: ecomm_session={}", line["set-cookie: ecomm_session=".len()..].split(';').next().unwrap())
    };
    let (admin, analyst, viewer) =
        (vec![login("ada", "admin-password-1")], vec![login("ana", "analyst-password-1")], vec![login("vic", "viewer-password-1")]);
    let body = r#"{"name":"low","metric":"kpis.pv_to_buy_conversion","when":"below 0.5","over":"day","to":"dashboard"}"#;
    assert_eq!(http(&s.addr, "GET", "/api/alerts", &viewer, "").0, 403);
    let (status, _, b) = http(&s.addr, "GET", "/api/alerts", &analyst, "");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["manage"], false);
    assert_eq!(v["rules"][0]["to"], "https://hooks.example.com/…", "analysts see the host only");
    assert_eq!(http(&s.addr, "POST", "/api/alerts/rules", &analyst, body).0, 403);
    assert_eq!(http(&s.addr, "DELETE", "/api/alerts/rules/hook", &viewer, "").0, 403);
    assert_eq!(http(&s.addr, "POST", "/api/alerts/rules", &[], body).0, 401);
    // A cross-site form post with the admin's cookie is refused before the handler.
    let evil = [admin[0].clone(), "Origin: http://evil.example".to_string()];
    assert_eq!(http(&s.addr, "POST", "/api/alerts/rules", &evil, body).0, 403);
    let (status, _, b) = http(&s.addr, "POST", "/api/alerts/rules", &admin, body);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&b));
    assert_eq!(http(&s.addr, "POST", "/api/alerts/rules", &admin, body).0, 409, "the same name again");
    let bad = r#"{"name":"f","metric":"kpis.pv_to_buy_conversion","when":"below 0.5","to":"file:/etc/x"}"#;
    let (status, _, b) = http(&s.addr, "POST", "/api/alerts/rules", &admin, bad);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&b).contains("ecomm alert add"));
    let bad = r#"{"name":"g","metric":"kpis.nope","when":"below 0.5","to":"dashboard"}"#;
    let (status, _, b) = http(&s.addr, "POST", "/api/alerts/rules", &admin, bad);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&b).contains("no key 'nope'"));
    let (_, _, b) = http(&s.addr, "GET", "/api/alerts", &admin, "");
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["manage"], true);
    assert_eq!(v["rules"][0]["to"], "https://hooks.example.com/x/secret-token");
    let made: Vec<&str> = v["rules"].as_array().unwrap().iter().map(|r| r["created_by"].as_str().unwrap()).collect();
    assert_eq!(made[1], "ada");
    assert_eq!(http(&s.addr, "DELETE", "/api/alerts/rules/low", &admin, "").0, 200);
    assert_eq!(http(&s.addr, "DELETE", "/api/alerts/rules/low", &admin, "").0, 404);
}

/// Issue 17's scenario, end to end: `serve --watch` on a DB that holds nothing yet, a page open in
/// headless Chromium, three files dropped into the folder one by one (the third broken), and a
/// rule that fires on the second file to a local webhook.
#[test]
fn watched_folder_open_page_alert_and_a_broken_file() {
    use common::browser::*;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.duckdb");
    // The DB is made with its window and nothing in it (its one row is out of the window: an
    // ingest needs a row to read, and `serve` a DB).
    let seed = dir.path().join("seed.csv");
    std::fs::write(&seed, "1,1,1,pv,1513000000\n").unwrap();
    ingest(&db, &[&seed], &WINDOW);
    assert_eq!(n(&analyze(&db, &[]), "totals.events"), 0);
    // What the two good files hold, loaded the ordinary way into a DB of their own.
    let (a, b) = (part(dir.path(), "a.src", 0, 30_000), part(dir.path(), "b.src", 30_000, 60_000));
    let plain = dir.path().join("plain.duckdb");
    ingest(&plain, &[&seed], &WINDOW);
    ingest(&plain, &[&a], &[]);
    let after_a = analyze(&plain, &[]);
    ingest(&plain, &[&b], &[]);
    let after_b = analyze(&plain, &[]);
    let hook = Receiver::start(&[]);
    let line = format!("above {}", n(&after_a, "totals.events"));
    add(&db, &["second", "--metric", "totals.events", "--when", &line, "--over", "all", "--to", &hook.url]);

    let inbox = dir.path().join("in");
    std::fs::create_dir(&inbox).unwrap();
    let (_server, url) = start_server_with(&db, dir.path(), &["--watch", inbox.to_str().unwrap()]);
    let (_driver, br) = start_browser(dir.path(), &dir.path().join("downloads"));
    br.cmd("POST", "url", serde_json::json!({ "url": format!("{url}?lang=en") }));
    br.rendered_after(0);
    let drop_in = |from: &Path, name: &str| {
        let tmp = inbox.join(format!(".{name}.part"));
        std::fs::copy(from, &tmp).unwrap();
        std::fs::rename(&tmp, inbox.join(name)).unwrap();
    };
    let page_shows = |want: &Value, what: &str| {
        let t0 = Instant::now();
        while br.kpis() != expected(want) {
            assert!(t0.elapsed() < Duration::from_secs(60), "the page did not show {what}: {} vs {}", br.kpis(), expected(want));
            std::thread::sleep(Duration::from_millis(200));
        }
        let note = br.js("return document.getElementById('live').textContent").as_str().unwrap().to_string();
        assert!(note.starts_with("updated ") && note.ends_with(" new rows"), "{note}");
    };
    drop_in(&a, "a.csv");
    page_shows(&after_a, "the first file");
    std::thread::sleep(Duration::from_secs(3));
    assert!(hook.posts().is_empty(), "the first file stays under the line");
    drop_in(&b, "b.csv");
    page_shows(&after_b, "the second file");
    let t0 = Instant::now();
    while hook.posts().is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(30), "no POST after the second file");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(hook.posts()[0]["value"].as_f64(), Some(n(&after_b, "totals.events") as f64));
    // The page's alert list shows it.
    let t0 = Instant::now();
    loop {
        let shown = br.js("const l = document.querySelector('#alert-firings li.firing'); return l ? l.textContent : ''");
        if shown.as_str().unwrap().contains("Alert 'second'") {
            assert!(shown.as_str().unwrap().contains("delivered"), "{shown}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "the page's alert list: {shown}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The broken file: text named .parquet.
    let broken = dir.path().join("c.src");
    std::fs::write(&broken, "1,2,3,pv,1511539200\n").unwrap();
    drop_in(&broken, "c.parquet");
    let reason = inbox.join("failed").join("c.parquet.error.txt");
    let t0 = Instant::now();
    while !reason.exists() {
        assert!(t0.elapsed() < Duration::from_secs(30), "the broken file was not set aside");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(inbox.join("failed").join("c.parquet").exists());
    let why = std::fs::read_to_string(&reason).unwrap();
    assert!(why.contains("c.parquet") && why.contains("Parquet"), "{why}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(hook.posts().len(), 1, "exactly one POST");
    // The DB holds exactly the two good files' rows: every number equals the plain DB's.
    assert_eq!(analyze(&db, &[]), after_b);
    assert_eq!(br.kpis(), expected(&after_b));
    http(&br.addr, "DELETE", &format!("/session/{}", br.session), &[], "");
}
