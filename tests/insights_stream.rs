//! Streamed insights (issue 23): `/api/insights/stream` sends the real SmolLM2 model's tokens as
//! it writes them, then the same answer as `/api/insights`; closing the stream stops the model on
//! the server; the dashboard's panel shows the tokens and has a Cancel button (headless Chromium).

mod common;
use common::browser::*;
use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A folder with the 100k real sample ingested and the test model in its `models/` (where
/// `ecomm serve` looks for one).
fn setup() -> (tempfile::TempDir, PathBuf) {
    let m = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(m.exists(), "missing {}: .ci/run fetches it", m.display());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("models")).unwrap();
    std::os::unix::fs::symlink(&m, dir.path().join("models/smollm2.gguf")).unwrap();
    let db = dir.path().join("s.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    (dir, db)
}

/// Opens the stream (HTTP/1.0, so the body is the plain event stream) and calls `each` with every
/// (event, data) until it returns false or the stream ends.
fn events(addr: &str, path: &str, mut each: impl FnMut(&str, &str) -> bool) {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    write!(c, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut r = BufReader::new(c);
    let mut head = String::new();
    while r.read_line(&mut head).unwrap() > 2 && !head.ends_with("\r\n\r\n") {}
    assert!(head.starts_with("HTTP/1.0 200") && head.to_lowercase().contains("text/event-stream"), "{head}");
    let (mut event, mut data) = (String::new(), String::new());
    for line in r.lines() {
        let line = line.unwrap();
        if let Some(e) = line.strip_prefix("event: ") {
            event = e.to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            data.push_str(d);
        } else if line.is_empty() && !event.is_empty() {
            if !each(&event, &data) {
                return;
            }
            (event, data) = (String::new(), String::new());
        }
    }
}

/// Waits until the server's log holds `what`; returns the log.
fn log_has(log: &Path, what: &str) -> String {
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(what) {
            return text;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "the server never logged {what:?}: {text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_stream_carries_every_token_then_the_answer_and_closing_it_stops_the_model() {
    let (dir, db) = setup();
    let log = dir.path().join("serve.log");
    let s = serve_with(&db, dir.path(), "127.0.0.1", Some(&log));
    let (mut steps, mut done) = (Vec::<Value>::new(), Value::Null);
    events(&s.addr, "/api/insights/stream?lang=en&from=2017-12-01", |event, data| {
        match event {
            "step" => steps.push(serde_json::from_str(data).unwrap()),
            "done" => done = serde_json::from_str(data).unwrap(),
            other => panic!("unexpected event {other}: {data}"),
        }
        event != "done"
    });
    assert!(!done.is_null(), "the stream ended with the answer");
    let attempts = done["attempts"].as_array().expect("the model ran");
    assert!(!attempts.is_empty() && done["model"].as_str().unwrap().ends_with("smollm2.gguf"), "{done}");
    // Per attempt: a step when the prompt was read, then one per token, counting up; the text of
    // the steps is what the model wrote.
    for (round, a) in attempts.iter().enumerate() {
        let mine: Vec<&Value> = steps.iter().filter(|s| s["round"] == round).collect();
        let counts: Vec<u64> = mine.iter().map(|s| s["tokens"].as_u64().unwrap()).collect();
        assert_eq!(counts, (0..=a["tokens"].as_u64().unwrap()).collect::<Vec<_>>(), "round {round}");
        assert_eq!(mine[0]["prompt_tokens"], a["prompt_tokens"]);
        let text: String = mine.iter().map(|s| s["text"].as_str().unwrap()).collect();
        let raw = a["raw"].as_str().unwrap();
        assert!(raw.starts_with(&text) && raw.len() - text.len() < 4, "streamed {text:?} vs written {raw:?}");
        assert!(mine.last().unwrap()["rate"].as_f64().unwrap() > 0.0);
    }
    // The same answer as the plain endpoint (from the model's cache now).
    let (status, _, body) = http(&s.addr, "GET", "/api/insights?lang=en&from=2017-12-01", &[], "");
    assert_eq!(status, 200);
    let plain: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((&plain["insights"], &plain["source"], plain["cached"].as_bool()), (&done["insights"], &done["source"], Some(true)));

    // Closing the stream after a few tokens stops the generation on the server.
    let mut seen = 0;
    events(&s.addr, "/api/insights/stream?lang=zh", |event, data| {
        assert_eq!(event, "step", "{data}");
        seen = serde_json::from_str::<Value>(data).unwrap()["tokens"].as_u64().unwrap();
        seen < 5
    });
    let text = log_has(&log, "the model stopped after");
    let stopped: u64 = text.split("the model stopped after ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!((5..200).contains(&stopped), "stopped after {stopped} tokens (the page left at 5)");
    // Nothing of the cancelled run was cached: asking again starts the model (a step comes
    // first, not the cached answer).
    let mut first = String::new();
    events(&s.addr, "/api/insights/stream?lang=zh", |event, _| {
        first = event.to_string();
        false
    });
    assert_eq!(first, "step");
}

#[test]
fn the_dashboard_panel_shows_tokens_as_they_arrive_and_cancel_stops_the_model() {
    let (dir, db) = setup();
    let log = dir.path().join("serve.log");
    let s = serve_with(&db, dir.path(), "127.0.0.1", Some(&log));
    let (_driver, b) = start_browser(dir.path(), &dir.path().join("downloads"));
    b.cmd("POST", "url", serde_json::json!({ "url": format!("http://{}/?lang=en", s.addr) }));
    b.rendered_after(0);
    b.click("#run-insights");
    let streamed =
        || b.js("const e = document.getElementById('insights-stream'); return e ? e.textContent : ''").as_str().unwrap().to_string();
    let t0 = Instant::now();
    while streamed().len() < 20 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no tokens shown: {}",
            b.js("return document.getElementById('insights').textContent")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(streamed().starts_with('{'), "the model's JSON as it is written: {}", streamed());
    let progress = b.js("return document.getElementById('insights-progress').textContent").as_str().unwrap().to_string();
    assert!(progress.starts_with("Round 1: ") && progress.ends_with(" tokens/s"), "{progress}");
    b.click("#cancel-insights");
    let note = b.js("return document.getElementById('insights-cancelled').textContent");
    assert_eq!(note, "Generation cancelled.");
    log_has(&log, "the model stopped after");
}
