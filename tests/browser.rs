//! The dashboard in a real browser: Debian's headless Chromium driven through chromedriver's
//! W3C WebDriver protocol (HTTP + JSON, spoken here over a plain TCP socket, so no extra crate).
//! `.ci/run` installs `chromium` and `chromium-driver`.

mod common;
use common::browser::*;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn b64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = s.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()).collect();
    clean
        .chunks(4)
        .flat_map(|ch| {
            let v: u32 = ch.iter().enumerate().map(|(i, c)| (val(*c) as u32) << (18 - 6 * i)).sum();
            let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
            bytes[..ch.len() - 1].to_vec()
        })
        .collect()
}

/// Waits for a finished download (not a .crdownload) whose name starts with `prefix` and ends with
/// `.ext` in `dir`.
fn downloaded(dir: &Path, prefix: &str, ext: &str) -> PathBuf {
    let t0 = Instant::now();
    loop {
        let done = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(prefix) && name.ends_with(&format!(".{ext}")) && std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false)
        });
        if let Some(p) = done {
            return p;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no {prefix}*.{ext} arrived in {}", dir.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Loads the page and waits for the first render; returns (load event, first render) in ms
/// after navigation start, as the browser measured them.
fn timed_load(b: &Browser, url: &str) -> (f64, f64) {
    b.cmd("POST", "url", json!({ "url": url }));
    b.rendered_after(0);
    let first = b.js("return document.body.dataset.firstRenderMs").as_str().unwrap().parse::<f64>().unwrap();
    let load = b.js("return performance.getEntriesByType('navigation')[0].loadEventEnd").as_f64().unwrap();
    (load, first)
}

#[test]
fn dashboard_in_headless_chromium() {
    for bin in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(Path::new(bin).exists(), "{bin} missing: .ci/run installs Debian's chromium and chromium-driver");
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    let (_server, url) = start_server(&db, dir.path());
    let downloads = dir.path().join("downloads");
    let (_driver, b) = start_browser(dir.path(), &downloads);
    let addr = b.addr.clone();

    // Load: the KPI cards equal the analyze JSON; Chinese by default.
    let (load, first) = timed_load(&b, &url);
    let mut n = 1;
    eprintln!("first page load: load event {load:.0} ms, KPIs and charts rendered {first:.0} ms after navigation start");
    let all = analyze(&db, &[]);
    assert_eq!(b.kpis(), expected(&all));
    assert_eq!(b.js("return document.querySelector('#kpis .label').textContent"), "访客数 UV");
    // Every chart drew, the data panel is filled, and the categories box has suggestions.
    for id in ["funnel", "hourly", "daily", "retention", "rfm", "categories"] {
        let marks = b.js(&format!("return document.querySelectorAll('#{id} svg [data-tip]').length")).as_u64().unwrap();
        assert!(marks > 0, "{id} has no hover targets");
    }
    let t0 = Instant::now();
    while !b.js("return document.getElementById('data').textContent").as_str().unwrap().contains("Asia/Shanghai") {
        assert!(t0.elapsed() < Duration::from_secs(20), "the data panel stays empty");
        std::thread::sleep(Duration::from_millis(50));
    }
    let t0 = Instant::now();
    while b.js("return document.querySelectorAll('#category-list option').length").as_u64().unwrap() == 0 {
        assert!(t0.elapsed() < Duration::from_secs(20), "no category suggestions");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The metrics registry's panels: the lifecycle's table, its last row's active users as in the JSON.
    let last_active = b.js("const r = document.querySelectorAll('#section-lifecycle tr'); return r[r.length - 1].lastChild.textContent");
    let days = all["lifecycle"].as_array().unwrap();
    assert_eq!(last_active, int(&days[days.len() - 1]["active"]));
    assert_eq!(b.js("return document.querySelector('#section-lifecycle h2').textContent"), "用户生命周期（按日期）");

    // The journey panels draw their charts; hovering the ordered funnel's second step shows its
    // keys and drop-off.
    for id in ["ordered_funnel", "time_to_convert", "cohorts", "cohorts_unbounded", "lifecycle", "paths"] {
        let marks = b.js(&format!("return document.querySelectorAll('#plot-{id} svg [data-tip]').length")).as_u64().unwrap();
        assert!(marks > 0, "plot {id} has no hover targets");
    }
    // The anomaly alerts: a red mark on the hourly chart for each flagged hour of the top list
    // (several flagged dates of one hour share a mark), its sentences on hover; the first mark is
    // the strongest hourly anomaly's.
    let top = all["anomalies"]["top"].as_array().unwrap();
    let hours: std::collections::BTreeSet<u64> =
        top.iter().filter(|a| a["series"] == "hourly").map(|a| a["hour"].as_u64().unwrap()).collect();
    assert!(!hours.is_empty(), "the real sample has hourly anomalies");
    assert_eq!(b.js("return document.querySelectorAll('#hourly path.alert').length").as_u64().unwrap(), hours.len() as u64);
    b.hover("#hourly path.alert");
    let tip = b.js("const t = document.getElementById('tip'); return t.hidden ? '' : t.textContent").as_str().unwrap().to_string();
    let first = top.iter().find(|a| a["series"] == "hourly").unwrap();
    assert!(tip.contains(first["text"]["zh"].as_str().unwrap()), "alert tooltip {tip}");
    assert!(b.js("return document.querySelector('#section-anomalies h2').textContent").as_str().unwrap().contains("异常"));
    // The customer lifetime value: its panel, the segments' chart and the top buyer as `analyze` has them.
    assert!(b.js("return document.querySelector('#section-clv h2').textContent").as_str().unwrap().contains("客户生命周期价值"));
    assert!(b.js("return document.querySelectorAll('#plot-clv_segments svg [data-tip]').length").as_u64().unwrap() > 0);
    let first_buyer = b.js("return document.querySelectorAll('#section-clv table')[1].rows[1].cells[0].textContent");
    assert_eq!(first_buyer.as_str().unwrap(), all["clv"]["top"][0]["user_id"].to_string());
    let of = &all["ordered_funnel"]["stages"][1];
    b.hover("#plot-ordered_funnel rect:nth-of-type(2)");
    let tip = b.js("const t = document.getElementById('tip'); return t.hidden ? '' : t.textContent").as_str().unwrap().to_string();
    assert!(tip.contains(&int(&of["keys"])) && tip.contains(&int(&of["drop_off"])), "tooltip {tip}");
    // Toggle the ordered funnel's key and window: the table follows `analyze` and the URL keeps them.
    b.set("funnel_by", "item");
    n = b.rendered_after(n);
    b.set("funnel_window", "none");
    n = b.rendered_after(n);
    let by_item = analyze(&db, &["--funnel-by", "item", "--funnel-window", "none"]);
    let first_keys = b.js("return document.querySelector('#section-ordered_funnel table').rows[1].cells[1].textContent");
    assert_eq!(first_keys, int(&by_item["ordered_funnel"]["stages"][0]["keys"]));
    assert!(b.query().contains("funnel_by=item") && b.query().contains("funnel_window=none"), "{}", b.query());
    assert_eq!(b.kpis(), expected(&all), "the journey options leave the other numbers alone");
    // The association's "bought together" list follows its box and stays in the URL.
    b.set("bought_with", "2735466");
    n = b.rendered_after(n);
    let with = analyze(&db, &["--funnel-by", "item", "--funnel-window", "none", "--bought-with", "2735466"]);
    let first = b.js(
        "const t = document.querySelectorAll('#section-association table'); return t.length > 1 ? t[1].rows[1].cells[1].textContent : ''",
    );
    assert_eq!(first, with["association"]["bought_with"]["together"][0]["consequent"].to_string());
    assert!(b.query().contains("bought_with=2735466"), "{}", b.query());

    // Hovering the funnel's first bar shows its exact user count.
    b.hover("#funnel rect");
    let tip = b.js("const t = document.getElementById('tip'); return t.hidden ? '' : t.textContent");
    assert!(tip.as_str().unwrap().contains(&int(&all["funnel"][0]["users"])), "tooltip {tip}");

    // A screenshot of the whole page for the README (docs/dashboard.png is a copy of one).
    let png = b64(b.cmd("GET", "screenshot", json!({})).as_str().unwrap());
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png"), &png).unwrap();

    // Change the date range: the numbers follow, and the URL keeps the filter.
    b.set("from", "2017-12-01");
    n = b.rendered_after(n);
    b.set("to", "2017-12-02");
    n = b.rendered_after(n);
    let range = ["--from", "2017-12-01", "--to", "2017-12-02"];
    let dated = analyze(&db, &range);
    assert_eq!(b.kpis(), expected(&dated));
    assert_ne!(expected(&dated), expected(&all));
    let q = b.query();
    assert!(q.contains("from=2017-12-01") && q.contains("to=2017-12-02"), "{q}");

    // Behaviour filter: untick fav.
    b.click("#b-fav");
    n = b.rendered_after(n);
    let mut args = range.to_vec();
    args.extend(["--behavior", "pv,cart,buy"]);
    assert_eq!(b.kpis(), expected(&analyze(&db, &args)));
    assert!(b.query().contains("behavior=pv,cart,buy"), "{}", b.query());

    // Category filter: the top category by buys.
    let cat = all["top_categories"][0]["category_id"].as_i64().unwrap().to_string();
    b.set("category", &cat);
    n = b.rendered_after(n);
    args.extend(["--category", &cat]);
    let filtered = analyze(&db, &args);
    assert_eq!(b.kpis(), expected(&filtered));
    assert_ne!(expected(&filtered), expected(&dated));
    assert!(b.query().contains(&format!("category={cat}")));
    let note = b.js("return document.getElementById('filter-note').textContent").as_str().unwrap().to_string();
    assert!(note.contains(&cat) && note.contains("加购") && !note.contains("收藏"), "{note}");

    // Switch the language: English labels, same numbers.
    b.click("#lang");
    n = b.rendered_after(n);
    assert_eq!(b.js("return document.querySelector('#kpis .label').textContent"), "Unique visitors (UV)");
    assert_eq!(b.js("return document.documentElement.lang"), "en");
    assert!(b.query().contains("lang=en"));
    assert_eq!(b.kpis(), expected(&filtered), "same numbers in English");

    // Insights without a model: rules, labelled as such.
    b.click("#run-insights");
    let t0 = Instant::now();
    while b.js("return document.querySelectorAll('#insights .insight').length").as_u64().unwrap() < 3 {
        assert!(t0.elapsed() < Duration::from_secs(60), "no insights: {}", b.js("return document.getElementById('insights').textContent"));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(b.js("return document.getElementById('insights').textContent").as_str().unwrap().contains("Source: rules"));

    // Download the PDF of the current view with the page's button; it is the English report of
    // exactly this filter.
    b.click("#pdf");
    let pdf = downloaded(&downloads, "", "pdf");
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"), "{}", pdf.display());
    let text = Command::new("pdftotext").arg(&pdf).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("Filter") && text.contains(&cat) && text.contains("2017-12-01"), "{text}");
    assert!(text.contains(&int(&filtered["kpis"]["uv"])), "the PDF's UV");

    // The Excel button: the workbook of this view, in English, with the same numbers.
    b.click("#xlsx");
    let xlsx = downloaded(&downloads, "ecomm-metrics-", "xlsx");
    {
        use calamine::{DataType, Reader};
        let mut book = calamine::open_workbook_auto(&xlsx).unwrap();
        assert_eq!(book.sheet_names()[..2], ["Overview", "Funnel"]);
        let f = book.worksheet_range("Funnel").unwrap();
        for (i, st) in filtered["funnel"].as_array().unwrap().iter().enumerate() {
            assert_eq!(f.get_value((4 + i as u32, 2)).unwrap().as_f64(), st["users"].as_f64(), "funnel users, stage {i}");
        }
    }
    // A panel's CSV link: that chart's table for this view.
    b.click("a.csv[data-section=hourly]");
    let csv = std::fs::read_to_string(downloaded(&downloads, "ecomm-hourly-", "csv")).unwrap();
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "Hour,pv,fav,cart,buy");
    assert_eq!(lines.len(), 25);
    let h10 = &filtered["hourly"][10];
    assert_eq!(lines[11], format!("10,{},{},{},{}", h10["pv"], h10["fav"], h10["cart"], h10["buy"]));
    // On loopback (no logins: an admin) the segments' user lists are offered.
    let segments = filtered["rfm"]["segments"].as_array().unwrap();
    let shown = b.js("return [...document.querySelectorAll('a.users')].filter(a => !a.hidden).length");
    assert_eq!(shown, json!(segments.len()));
    // One segment with buyers and one without (a header alone), when the view has them.
    let with = segments.iter().find(|s| s["users"].as_u64() > Some(0));
    let without = segments.iter().find(|s| s["users"].as_u64() == Some(0));
    for s in [with, without].into_iter().flatten() {
        let seg = s["segment"].as_str().unwrap();
        b.click(&format!("a.users[data-segment={seg}]"));
        let users = std::fs::read_to_string(downloaded(&downloads, &format!("ecomm-users-{seg}-"), "csv")).unwrap();
        assert!(users.starts_with("user_id,recency_days,"), "{seg}: {users}");
        assert_eq!(users.lines().count() as u64 - 1, s["users"].as_u64().unwrap(), "{seg}");
    }

    // Reload from the shared URL: the same view, controls included.
    let shared = b.js("return location.href").as_str().unwrap().to_string();
    b.cmd("POST", "url", json!({ "url": "about:blank" }));
    b.cmd("POST", "url", json!({ "url": shared }));
    b.rendered_after(0);
    assert_eq!(b.kpis(), expected(&filtered));
    assert_eq!(
        b.js("return ['b-fav', 'category', 'from', 'funnel_by', 'funnel_window'].map(id => { const e = document.getElementById(id); return e.type === 'checkbox' ? e.checked : e.value; })"),
        json!([false, cat, "2017-12-01", "item", "none"])
    );

    // Back to everything.
    b.click("#reset");
    let t0 = Instant::now();
    while b.kpis() != expected(&all) {
        assert!(t0.elapsed() < Duration::from_secs(20), "reset did not restore the full view");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = n;
    http(&addr, "DELETE", &format!("/session/{}", b.session), &[], "");
}

/// Live data (issue 17): with a page open, files dropped into the server's watched folder show up
/// on the page without a reload: the KPI cards turn into the new numbers, the filters stay, a note
/// says when and how many rows came; a broken file changes nothing; paused, the page waits.
#[test]
fn the_open_page_follows_new_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.duckdb");
    let text = std::fs::read_to_string(real("100k")).unwrap();
    let part = |a: usize, b: usize| -> String { text.lines().skip(a).take(b - a).map(|l| format!("{l}\n")).collect() };
    let first = dir.path().join("first.csv");
    std::fs::write(&first, part(0, 30_000)).unwrap();
    ingest(&db, &[&first], &[]);
    let inbox = dir.path().join("in");
    std::fs::create_dir(&inbox).unwrap();
    let (_server, url) = start_server_with(&db, dir.path(), &["--watch", inbox.to_str().unwrap()]);
    let (_driver, b) = start_browser(dir.path(), &dir.path().join("downloads"));
    b.cmd("POST", "url", json!({ "url": format!("{url}?lang=en&behavior=pv,cart,buy") }));
    let mut n = b.rendered_after(0);
    let filter = ["--behavior", "pv,cart,buy"];
    assert_eq!(b.kpis(), expected(&analyze(&db, &filter)));
    b.js("window.scrollTo(0, 400); window.__stayed = 'same page'; return 0");
    let drop_in = |name: &str, body: String| {
        let tmp = dir.path().join(format!("{name}.part"));
        std::fs::write(&tmp, body).unwrap();
        std::fs::rename(&tmp, inbox.join(name)).unwrap();
    };
    for (k, (a, z)) in [(30_000, 60_000), (60_000, 100_000)].into_iter().enumerate() {
        let before = analyze(&db, &filter)["totals"]["events"].clone();
        drop_in(&format!("f{k}.csv"), part(a, z));
        let t0 = Instant::now();
        let want = loop {
            // The DB is written by the server's watch; read it once it has the file's rows.
            if let Ok(o) = std::process::Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
                .args(["analyze", "--format", "json", "--behavior", "pv,cart,buy", "--db"])
                .arg(&db)
                .output()
            {
                let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
                if o.status.success() && v["kpis"] != Value::Null && v["totals"]["events"] != before {
                    break v;
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "the watch did not ingest f{k}.csv");
            std::thread::sleep(Duration::from_millis(200));
        };
        n = b.rendered_after(n);
        let t0 = Instant::now();
        while b.kpis() != expected(&want) {
            assert!(t0.elapsed() < Duration::from_secs(10), "the page did not follow f{k}.csv: {} vs {}", b.kpis(), expected(&want));
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(b.js("return window.__stayed"), "same page", "no reload");
        assert_eq!(b.js("return Math.round(window.scrollY)"), json!(400), "the reader's place on the page stays");
        assert!(b.query().contains("behavior=pv,cart,buy"), "the filter stays");
        let note = b.js("return document.getElementById('live').textContent").as_str().unwrap().to_string();
        assert!(note.starts_with("updated ") && note.ends_with(" new rows"), "{note}");
    }
    // Paused: a new file waits; unpaused, the page catches up.
    b.click("#live-pause");
    let shown = b.kpis();
    drop_in("late.csv", "999999999,1,1,buy,1512230400\n".into());
    std::thread::sleep(Duration::from_millis(4000));
    assert_eq!(b.kpis(), shown, "paused");
    b.click("#live-pause");
    let t0 = Instant::now();
    while b.kpis() == shown {
        assert!(t0.elapsed() < Duration::from_secs(10), "the page did not catch up after the pause");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(b.kpis(), expected(&analyze(&db, &filter)));
    http(&b.addr, "DELETE", &format!("/session/{}", b.session), &[], "");
}

/// The first page load on a big DB: `ECOMM_PAGE_DB=/path/to.duckdb cargo test --release --test browser
/// -- --ignored --nocapture` (scripts/bench_page.sh). Each round starts a fresh server, so the first
/// load computes every answer (nothing memoized); the second load of the same server is the warm one.
#[test]
#[ignore]
fn first_page_load_on_a_big_db() {
    let db = PathBuf::from(std::env::var("ECOMM_PAGE_DB").expect("set ECOMM_PAGE_DB to a DuckDB file"));
    let dir = tempfile::tempdir().unwrap();
    let (_driver, b) = start_browser(dir.path(), &dir.path().join("downloads"));
    for round in 1..=3 {
        let (_server, url) = start_server(&db, dir.path());
        let (load, first) = timed_load(&b, &url);
        b.cmd("POST", "url", json!({ "url": "about:blank" }));
        let (load2, first2) = timed_load(&b, &url);
        eprintln!(
            "round {round}: cold server: load event {load:.0} ms, rendered {first:.0} ms; warm: load event {load2:.0} ms, rendered {first2:.0} ms"
        );
        b.cmd("POST", "url", json!({ "url": "about:blank" }));
    }
}
