//! The parts of an alert rule (`ecomm alert add`), each parsing its own text. No I/O: rules are
//! stored by `appdb::alerts`, evaluated and delivered by the `alert` module.
//!
//! - **Metric** ([`MetricPath`]): a path into the JSON of `ecomm analyze --format json`: keys
//!   joined by dots (`kpis.pv_to_buy_conversion`, `totals.users`); an array element by index
//!   (`daily[-1].users`, negative from the end) or by a field's value (`funnel[stage=buy].users`).
//!   An array met by a key without an index gives its **last** element (`daily.users` is
//!   `daily[-1].users`: the latest day).
//! - **Scope** ([`Over`]): `day` (the default) reads the JSON of the latest day with data alone;
//!   `all` reads the JSON of every day from the window's start up to the latest day with data.
//!   The **previous day**'s value is the same path on the same scope one day earlier.
//! - **Condition** ([`Condition`]): `below X`, `above X` (the value against X); `drop P%`,
//!   `rise P%`, `change P%` (the change against the previous day's value, (v − prev) / prev, at
//!   least P % down, up, or either way; not checked when the previous value is 0 or missing);
//!   `new` (the path is a list, e.g. `anomalies.top`: an element the rule had not seen before).
//! - **Destination** ([`Destination`]): `http://…` or `https://…` (a POST of the firing as JSON),
//!   `file:PATH` (one JSON line appended per firing), or `dashboard` (the dashboard's alert list
//!   only; every firing is listed there anyway).

use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// One step of a [`MetricPath`].
#[derive(Clone, Debug, PartialEq)]
enum Step {
    /// An object's key.
    Key(String),
    /// An array's element; negative counts from the end.
    Index(i64),
    /// The array element whose field has this value (compared as text).
    Match(String, String),
}

/// A path into the analysis JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricPath {
    text: String,
    steps: Vec<Step>,
}

/// Why a path or condition does not fit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertRuleError {
    /// Bad text.
    #[error("{0}")]
    Syntax(String),
    /// The path leads nowhere in the JSON.
    #[error("{0}")]
    Path(String),
}

impl FromStr for MetricPath {
    type Err = AlertRuleError;
    fn from_str(s: &str) -> Result<MetricPath, AlertRuleError> {
        let bad = |why: &str| {
            AlertRuleError::Syntax(format!(
                "'{s}' is not a metric path ({why}); write keys of the analysis JSON joined by dots, e.g. kpis.pv_to_buy_conversion, daily.users or funnel[stage=buy].users / 指标路径格式不正确"
            ))
        };
        let mut steps = Vec::new();
        for part in s.trim().split('.') {
            let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
            if !key.is_empty() {
                if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(bad("a key is letters, digits and _"));
                }
                steps.push(Step::Key(key.to_string()));
            } else if rest.is_empty() {
                return Err(bad("an empty key"));
            }
            while !rest.is_empty() {
                let (inner, after) = rest.split_once(']').ok_or_else(|| bad("a [ without ]"))?;
                steps.push(match inner.split_once('=') {
                    Some((f, v)) if !f.is_empty() && !v.is_empty() => Step::Match(f.to_string(), v.to_string()),
                    Some(_) => return Err(bad("[field=value] needs both")),
                    None => Step::Index(inner.parse().map_err(|_| bad("[n] takes a whole number"))?),
                });
                rest = match after.strip_prefix('[') {
                    Some(r) => r,
                    None if after.is_empty() => "",
                    None => return Err(bad("text after ]")),
                };
            }
        }
        if steps.is_empty() {
            return Err(bad("it is empty"));
        }
        Ok(MetricPath { text: s.trim().to_string(), steps })
    }
}

impl fmt::Display for MetricPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The keys of an object, for messages.
fn keys(v: &Value) -> String {
    match v {
        Value::Object(m) => m.keys().cloned().collect::<Vec<_>>().join(", "),
        _ => String::new(),
    }
}

impl MetricPath {
    /// The value the path leads to in `json`.
    pub fn resolve<'a>(&self, json: &'a Value) -> Result<&'a Value, AlertRuleError> {
        let mut at = json;
        let mut walked = String::new();
        let nowhere = |walked: &str, what: String| {
            AlertRuleError::Path(format!(
                "{}: {what} / 指标路径在分析结果中不存在",
                if walked.is_empty() { self.text.clone() } else { format!("{} (at {walked})", self.text) }
            ))
        };
        for step in &self.steps {
            // An array met by a key: its last element.
            if let (Step::Key(_), Value::Array(a)) = (step, at) {
                at = a.last().ok_or_else(|| nowhere(&walked, "the list is empty".into()))?;
            }
            at = match (step, at) {
                (Step::Key(k), Value::Object(m)) => {
                    m.get(k).ok_or_else(|| nowhere(&walked, format!("no key '{k}'; there are: {}", keys(at))))?
                }
                (Step::Index(i), Value::Array(a)) => {
                    let n = a.len() as i64;
                    let j = if *i < 0 { n + i } else { *i };
                    a.get(usize::try_from(j).unwrap_or(usize::MAX))
                        .ok_or_else(|| nowhere(&walked, format!("no element [{i}] in a list of {n}")))?
                }
                (Step::Match(f, want), Value::Array(a)) => a
                    .iter()
                    .find(|e| e.get(f).is_some_and(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string) == *want))
                    .ok_or_else(|| nowhere(&walked, format!("no element with {f}={want}")))?,
                (s, v) => return Err(nowhere(&walked, format!("{s:?} does not apply to {}", kind(v)))),
            };
            walked.push_str(&match step {
                Step::Key(k) if walked.is_empty() => k.clone(),
                Step::Key(k) => format!(".{k}"),
                Step::Index(i) => format!("[{i}]"),
                Step::Match(f, v) => format!("[{f}={v}]"),
            });
        }
        Ok(at)
    }

    /// The number the path leads to (the last element of a list of numbers).
    pub fn number(&self, json: &Value) -> Result<f64, AlertRuleError> {
        let v = self.resolve(json)?;
        let v = match v {
            Value::Array(a) => a.last().unwrap_or(&Value::Null),
            v => v,
        };
        v.as_f64().ok_or_else(|| {
            AlertRuleError::Path(format!(
                "{} is {}, not a number; name a number (e.g. {}.{}) / 指标路径需指向数值",
                self.text,
                kind(v),
                self.text,
                v.as_object().and_then(|m| m.iter().find(|(_, x)| x.is_number())).map(|(k, _)| k.as_str()).unwrap_or("…")
            ))
        })
    }

    /// The list the path leads to, each element with its identity (for `new`).
    pub fn list(&self, json: &Value) -> Result<Vec<(String, Value)>, AlertRuleError> {
        let v = self.resolve(json)?;
        let v = match v {
            Value::Object(m) if m.get("top").is_some_and(Value::is_array) => &m["top"],
            v => v,
        };
        let a = v.as_array().ok_or_else(|| {
            AlertRuleError::Path(format!(
                "{} is {}, not a list; `new` watches a list such as anomalies.top / new 条件需指向列表",
                self.text,
                kind(v)
            ))
        })?;
        Ok(a.iter().map(|e| (identity(e), e.clone())).collect())
    }
}

/// What makes a list element the same finding again: for an anomaly its series, behaviour,
/// date and hour; for anything else the element itself.
fn identity(e: &Value) -> String {
    match e {
        Value::Object(m) if m.contains_key("series") && m.contains_key("date") => {
            format!("{}/{}/{}/{}", m["series"], m.get("behavior").unwrap_or(&Value::Null), m["date"], m.get("hour").unwrap_or(&Value::Null))
        }
        other => other.to_string(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// When a rule fires.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Condition {
    /// The value is below this.
    Below(f64),
    /// The value is above this.
    Above(f64),
    /// The value fell by at least this fraction against the previous day.
    Drop(f64),
    /// The value rose by at least this fraction against the previous day.
    Rise(f64),
    /// The value changed by at least this fraction either way.
    Change(f64),
    /// The list holds an element not seen before.
    New,
}

impl FromStr for Condition {
    type Err = AlertRuleError;
    fn from_str(s: &str) -> Result<Condition, AlertRuleError> {
        let bad = || {
            AlertRuleError::Syntax(format!(
                "'{s}' is not a condition; use \"below 0.05\", \"above 1000\", \"drop 20%\", \"rise 50%\", \"change 30%\" or new / 条件格式不正确"
            ))
        };
        let words: Vec<&str> = s.split_whitespace().collect();
        let num = |t: &str| t.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(bad);
        let pct = |t: &str| {
            let p = num(t.strip_suffix('%').ok_or_else(bad)?)?;
            (p > 0.0).then_some(p / 100.0).ok_or_else(bad)
        };
        match words.as_slice() {
            [w] if w.eq_ignore_ascii_case("new") => Ok(Condition::New),
            [w, x] if w.eq_ignore_ascii_case("below") => Ok(Condition::Below(num(x)?)),
            [w, x] if w.eq_ignore_ascii_case("above") => Ok(Condition::Above(num(x)?)),
            [w, p] if w.eq_ignore_ascii_case("drop") => Ok(Condition::Drop(pct(p)?)),
            [w, p] if w.eq_ignore_ascii_case("rise") => Ok(Condition::Rise(pct(p)?)),
            [w, p] if w.eq_ignore_ascii_case("change") => Ok(Condition::Change(pct(p)?)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = |x: f64| format!("{}%", (x * 1e6).round() / 1e4);
        match *self {
            Condition::Below(x) => write!(f, "below {x}"),
            Condition::Above(x) => write!(f, "above {x}"),
            Condition::Drop(x) => write!(f, "drop {}", p(x)),
            Condition::Rise(x) => write!(f, "rise {}", p(x)),
            Condition::Change(x) => write!(f, "change {}", p(x)),
            Condition::New => f.write_str("new"),
        }
    }
}

impl Condition {
    /// Whether it compares with the previous day.
    pub fn needs_previous(&self) -> bool {
        matches!(self, Condition::Drop(_) | Condition::Rise(_) | Condition::Change(_))
    }

    /// Whether `value` (with the previous day's `prev`) meets it; `None` when it cannot be told
    /// (a change against a previous value of 0 or none). Not for [`Condition::New`].
    pub fn holds(&self, value: f64, prev: Option<f64>) -> Option<bool> {
        let change = || prev.filter(|p| *p != 0.0).map(|p| (value - p) / p.abs());
        match *self {
            Condition::Below(x) => Some(value < x),
            Condition::Above(x) => Some(value > x),
            Condition::Drop(x) => change().map(|c| c <= -x),
            Condition::Rise(x) => change().map(|c| c >= x),
            Condition::Change(x) => change().map(|c| c.abs() >= x),
            Condition::New => None,
        }
    }
}

/// Which days a rule reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Over {
    /// The latest day with data alone.
    #[default]
    Day,
    /// From the window's start up to the latest day with data.
    All,
}

impl FromStr for Over {
    type Err = AlertRuleError;
    fn from_str(s: &str) -> Result<Over, AlertRuleError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" => Ok(Over::Day),
            "all" => Ok(Over::All),
            _ => Err(AlertRuleError::Syntax(format!(
                "'{s}': a rule reads the latest day (day) or everything so far (all) / 范围应为 day 或 all"
            ))),
        }
    }
}

impl fmt::Display for Over {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Over::Day => "day",
            Over::All => "all",
        })
    }
}

/// Where a firing goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// POST the firing as JSON to this URL.
    Webhook(String),
    /// Append the firing as one JSON line to this file.
    File(std::path::PathBuf),
    /// The dashboard's alert list only.
    Dashboard,
}

impl FromStr for Destination {
    type Err = AlertRuleError;
    fn from_str(s: &str) -> Result<Destination, AlertRuleError> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let host = host_of(s);
            if host.is_empty() || host.contains(char::is_whitespace) {
                return Err(AlertRuleError::Syntax(format!(
                    "'{s}' has no host; write e.g. https://hooks.example.com/ecomm / 网址缺少主机名"
                )));
            }
            return Ok(Destination::Webhook(s.to_string()));
        }
        if let Some(p) = s.strip_prefix("file:") {
            if p.is_empty() {
                return Err(AlertRuleError::Syntax("file: needs a path, e.g. file:alerts.jsonl / 请给出文件路径".into()));
            }
            return Ok(Destination::File(p.into()));
        }
        if lower == "dashboard" {
            return Ok(Destination::Dashboard);
        }
        Err(AlertRuleError::Syntax(format!(
            "'{s}' is not a destination; use a webhook URL (https://…), file:PATH or dashboard / 通知目标应为网址、file:路径或 dashboard"
        )))
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Webhook(u) => f.write_str(u),
            Destination::File(p) => write!(f, "file:{}", p.display()),
            Destination::Dashboard => f.write_str("dashboard"),
        }
    }
}

/// The host (and port) of a URL: what comes after `://` up to the path, query or fragment.
fn host_of(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, r)| r.split(['/', '?', '#']).next().unwrap_or(""))
}

impl Destination {
    /// The destination with secrets left out (a webhook's path and query often hold a token):
    /// what viewers of the alert list and the logs see.
    pub fn redacted(&self) -> String {
        match self {
            Destination::Webhook(u) => format!("{}://{}/…", u.split_once("://").map_or("http", |(scheme, _)| scheme), host_of(u)),
            other => other.to_string(),
        }
    }

    /// A stored destination's text with secrets left out (empty when it does not parse).
    pub fn redact(text: &str) -> String {
        text.parse::<Destination>().map(|d| d.redacted()).unwrap_or_default()
    }

    /// A webhook's host (what errors name).
    pub fn host(&self) -> Option<&str> {
        match self {
            Destination::Webhook(u) => Some(host_of(u)),
            _ => None,
        }
    }
}

/// A rule as the user gave it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Its name (unique).
    pub name: String,
    /// What it reads.
    pub metric: MetricPath,
    /// When it fires.
    pub condition: Condition,
    /// Which days it reads.
    pub over: Over,
    /// Where a firing goes.
    pub destination: Destination,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn j() -> Value {
        json!({
            "kpis": { "pv_to_buy_conversion": 0.05 },
            "daily": [{ "date": "2017-11-25", "users": 3 }, { "date": "2017-11-26", "users": 5 }],
            "funnel": [{ "stage": "pv", "users": 9 }, { "stage": "buy", "users": 2 }],
            "anomalies": { "top": [{ "series": "daily", "behavior": "pv", "date": "2017-11-26", "hour": null, "z": 4.0 }] }
        })
    }

    #[test]
    fn paths_lead_to_numbers() {
        let n = |p: &str| p.parse::<MetricPath>().unwrap().number(&j());
        assert_eq!(n("kpis.pv_to_buy_conversion"), Ok(0.05));
        assert_eq!(n("daily.users"), Ok(5.0));
        assert_eq!(n("daily[0].users"), Ok(3.0));
        assert_eq!(n("daily[-2].users"), Ok(3.0));
        assert_eq!(n("funnel[stage=buy].users"), Ok(2.0));
        let e = n("kpis.uv").unwrap_err().to_string();
        assert!(e.contains("no key 'uv'") && e.contains("pv_to_buy_conversion"), "{e}");
        assert!(n("kpis").unwrap_err().to_string().contains("not a number"));
        assert!(n("daily[5].users").unwrap_err().to_string().contains("no element [5]"));
        for bad in ["", "kpis..x", "a[1", "a[x]", "a[=1]", "a b"] {
            assert!(bad.parse::<MetricPath>().is_err(), "{bad}");
        }
        let l = "anomalies".parse::<MetricPath>().unwrap().list(&j()).unwrap();
        assert_eq!(l[0].0, "\"daily\"/\"pv\"/\"2017-11-26\"/null");
        assert!("kpis.pv_to_buy_conversion".parse::<MetricPath>().unwrap().list(&j()).is_err());
    }

    #[test]
    fn conditions() {
        let c = |s: &str| s.parse::<Condition>().unwrap();
        assert_eq!(c("below 0.05").holds(0.04, None), Some(true));
        assert_eq!(c("below 0.05").holds(0.05, None), Some(false));
        assert_eq!(c("above 10").holds(11.0, None), Some(true));
        assert_eq!(c("drop 20%").holds(80.0, Some(100.0)), Some(true));
        assert_eq!(c("drop 20%").holds(81.0, Some(100.0)), Some(false));
        assert_eq!(c("rise 50%").holds(150.0, Some(100.0)), Some(true));
        assert_eq!(c("change 30%").holds(60.0, Some(100.0)), Some(true));
        assert_eq!(c("change 30%").holds(60.0, Some(0.0)), None);
        assert_eq!(c("change 30%").holds(60.0, None), None);
        assert_eq!(c("Drop 12.5%").to_string(), "drop 12.5%");
        assert_eq!(c("new"), Condition::New);
        for bad in ["below", "below x", "drop 20", "drop -5%", "sideways 3", "above inf"] {
            assert!(bad.parse::<Condition>().is_err(), "{bad}");
        }
    }

    #[test]
    fn destinations() {
        assert_eq!("https://h.example/x?token=s".parse::<Destination>().unwrap().redacted(), "https://h.example/…");
        assert_eq!("file:a/b.jsonl".parse::<Destination>(), Ok(Destination::File("a/b.jsonl".into())));
        assert_eq!("Dashboard".parse::<Destination>(), Ok(Destination::Dashboard));
        for bad in ["http://", "ftp://x", "file:", "alerts.jsonl"] {
            assert!(bad.parse::<Destination>().is_err(), "{bad}");
        }
    }
}
