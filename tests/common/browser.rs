//! Driving Debian's headless Chromium through chromedriver's W3C WebDriver protocol (HTTP + JSON,
//! spoken over a plain TCP socket, so no extra crate), and `ecomm serve` beside it.
//! `.ci/run` installs `chromium` and `chromium-driver`.

use super::http;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A child process killed on drop.
pub struct Kill(pub Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A WebDriver call: the JSON answer.
pub fn http_json(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Value {
    let (_, _, b) = http(addr, method, path, &[], &body.map(|b| b.to_string()).unwrap_or_default());
    serde_json::from_slice(&b).unwrap_or_else(|e| panic!("{method} {path}: {e}: {}", String::from_utf8_lossy(&b)))
}

/// A WebDriver session.
pub struct Browser {
    pub addr: String,
    pub session: String,
}

impl Browser {
    pub fn cmd(&self, method: &str, what: &str, body: Value) -> Value {
        let body = if method == "GET" { None } else { Some(&body) };
        let v = http_json(&self.addr, method, &format!("/session/{}/{what}", self.session), body);
        assert!(v["value"].get("error").is_none(), "{what}: {v}");
        v["value"].clone()
    }
    pub fn js(&self, script: &str) -> Value {
        self.cmd("POST", "execute/sync", json!({ "script": script, "args": [] }))
    }
    pub fn find(&self, css: &str) -> String {
        let v = self.cmd("POST", "element", json!({ "using": "css selector", "value": css }));
        v[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {v}")).to_string()
    }
    /// Clicks the element as a user would: scrolled to the middle of the window first, so the
    /// page's sticky header does not cover it.
    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.cmd("POST", "execute/sync", json!({ "script": "arguments[0].scrollIntoView({block: 'center'})", "args": [{ ELEMENT: id }] }));
        self.cmd("POST", &format!("element/{id}/click"), json!({}));
    }
    /// Moves the real mouse pointer onto the element's centre.
    pub fn hover(&self, css: &str) {
        let id = self.find(css);
        let move_to = json!({ "type": "pointerMove", "duration": 0, "origin": { ELEMENT: id }, "x": 0, "y": 0 });
        self.cmd(
            "POST",
            "actions",
            json!({ "actions": [{ "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" }, "actions": [move_to] }] }),
        );
    }
    /// Waits until the page has rendered more than `n` times (body[data-ready]); returns the count.
    pub fn rendered_after(&self, n: u64) -> u64 {
        let t0 = Instant::now();
        loop {
            let r: u64 = self.js("return document.body.dataset.ready || '0'").as_str().unwrap_or("0").parse().unwrap();
            if r > n {
                return r;
            }
            let err = self.js("const e = document.getElementById('error'); return e && !e.hidden ? e.textContent : ''");
            assert_eq!(err, "", "the page shows an error");
            assert!(t0.elapsed() < Duration::from_secs(60), "the page did not render");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    /// Sets an input's value and fires its change event, as a user's edit does.
    pub fn set(&self, id: &str, value: &str) {
        self.js(&format!("const e = document.getElementById('{id}'); e.value = '{value}'; e.dispatchEvent(new Event('change'));"));
    }
    pub fn kpis(&self) -> Value {
        self.js("const o = {}; document.querySelectorAll('[id^=kpi-]').forEach(n => o[n.id] = n.textContent); return o;")
    }
    pub fn query(&self) -> String {
        self.js("return decodeURIComponent(location.search)").as_str().unwrap().to_string()
    }
}

pub fn int(n: &Value) -> String {
    let s = n.as_u64().unwrap().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn pct(v: &Value) -> String {
    format!("{:.2}%", v.as_f64().unwrap() * 100.0)
}

/// The KPI cards as the page must show them, from `ecomm analyze --format json`.
pub fn expected(a: &Value) -> Value {
    let k = &a["kpis"];
    json!({
        "kpi-uv": int(&k["uv"]), "kpi-pv": int(&k["pv"]), "kpi-buys": int(&k["buys"]), "kpi-buyers": int(&k["buyers"]),
        "kpi-conversion": pct(&k["pv_to_buy_conversion"]), "kpi-retention1": pct(&k["avg_day1_retention"]),
        "kpi-repurchase": pct(&k["repurchase_rate"]), "kpi-peak": format!("{}:00", k["peak_hour"]),
    })
}

/// `ecomm serve --port 0` on `db` in `cwd` (no model there); returns the process and the URL.
pub fn start_server(db: &Path, cwd: &Path) -> (Kill, String) {
    start_server_with(db, cwd, &[])
}

/// `ecomm serve --port 0 EXTRA...` on `db` in `cwd`.
pub fn start_server_with(db: &Path, cwd: &Path, extra: &[&str]) -> (Kill, String) {
    let mut server = Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
        .args(["serve", "--port", "0"])
        .args(extra)
        .arg("--db")
        .arg(db)
        .current_dir(cwd)
        .env_remove("ECOMM_MODEL")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no URL in {line:?}")).to_string();
    (Kill(server), url)
}

/// chromedriver on a free port and a headless Chromium session downloading into `downloads`.
pub fn start_browser(dir: &Path, downloads: &Path) -> (Kill, Browser) {
    let port = free_port();
    let driver = Kill(
        Command::new("/usr/bin/chromedriver").arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap(),
    );
    let addr = format!("127.0.0.1:{port}");
    let t0 = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(30), "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::create_dir_all(downloads).unwrap();
    let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-component-update", "--disable-sync", "--window-size=1400,2400",
                 "--lang=zh-CN", format!("--user-data-dir={}", dir.join("profile").display())],
        "prefs": { "download.default_directory": downloads.display().to_string(), "download.prompt_for_download": false }
    }}}});
    let s = http_json(&addr, "POST", "/session", Some(&caps));
    let session = s["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {s}")).to_string();
    (driver, Browser { addr, session })
}
