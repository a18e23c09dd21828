//! Alerts: rules over the analysis JSON, evaluated after every ingest, their firings stored and
//! delivered (see `domain::alert` for what a rule's parts mean, `appdb::alerts` for storage).
//!
//! **Evaluation** ([`evaluate`]) reads the data version; each rule not yet evaluated at that
//! version reads its value from `ecomm analyze --format json` of its scope (the latest day with
//! data, or everything up to it; the previous day likewise for changes), computed once per scope
//! by [`crate::metrics::Metrics::compute`] without a filter: the numbers `analyze` prints.
//! - `below`/`above`/`drop`/`rise`/`change` **fire when the condition starts to hold**: on the
//!   first evaluation where it holds after one where it did not (or after the rule was made), not
//!   again while it keeps holding. A change that cannot be told (previous value 0 or no previous
//!   day) leaves the state as it was.
//! - `new` fires when the list holds elements the rule has not seen; the elements present when
//!   the rule was made count as seen.
//! - Each rule's evaluation of a version is stored once (two processes evaluating the same
//!   version, e.g. `ecomm ingest` and a running `ecomm serve`, fire once).
//!
//! **Delivery** ([`deliver`]): a firing is stored first, then sent; a failed send is tried again
//! after 1 s, 2 s, 4 s … (8 attempts, about 4 min) by whichever ecomm process runs alerts next
//! (a server or a watch checks every second; a one-off `ecomm ingest` makes one attempt and leaves
//! the rest to them). Evaluation and delivery run after an ingest has committed, on a thread of
//! their own in `serve`, `--watch` and `--stdin`: they never hold an ingest up.

pub mod deliver;

use crate::appdb::alerts::{self as store_rules, Evaluated, RuleRow};
use crate::appdb::{path_for, AppDb};
use crate::domain::alert::{AlertRuleError, Condition, Destination, Over, Rule};
use crate::domain::{DateRange, Filter, Journey, Range, Window};
use crate::i18n::{prose, Lang};
use crate::metrics::{Metrics, MetricsError};
use crate::store::{self, Mode, OpenOptions, StoreError};
use chrono::{Duration, NaiveDate};
use duckdb::Connection;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// A rule's text.
    #[error(transparent)]
    Rule(#[from] AlertRuleError),
    /// Computing the numbers.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The DuckDB file.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The app DB.
    #[error("the app database: {0}")]
    App(#[from] rusqlite::Error),
    /// A rule of that name exists.
    #[error("{0}")]
    Exists(String),
    /// Anything else, in its own words.
    #[error("{0}")]
    Other(String),
}

/// The most elements a `new` rule remembers.
const SEEN_MAX: usize = 1000;
/// The longest rule name (characters).
pub const NAME_MAX: usize = 100;

/// A stored rule's text read back.
pub fn parse(row: &RuleRow) -> Result<Rule, AlertRuleError> {
    Ok(Rule {
        name: row.name.clone(),
        metric: row.metric.parse()?,
        condition: row.condition.parse()?,
        over: row.over.parse()?,
        destination: row.destination.parse()?,
    })
}

/// The analysis JSON of a DB per span of days, each computed once.
struct Reader<'a> {
    conn: &'a Connection,
    window: Window,
    last: Option<NaiveDate>,
    cache: HashMap<(NaiveDate, NaiveDate), Value>,
}

impl<'a> Reader<'a> {
    fn new(conn: &'a Connection, db: &Path) -> Result<Reader<'a>, AlertError> {
        Ok(Reader { conn, window: store::require_window(conn, db)?, last: store::last_date(conn)?, cache: HashMap::new() })
    }

    /// The days a rule over `over` reads, `back` days before the latest day with data.
    fn span(&self, over: Over, back: i64) -> Option<(NaiveDate, NaiveDate)> {
        let end = self.last? - Duration::days(back);
        (end >= self.window.start).then_some(match over {
            Over::Day => (end, end),
            Over::All => (self.window.start, end),
        })
    }

    fn json(&mut self, span: (NaiveDate, NaiveDate)) -> Result<&Value, AlertError> {
        if !self.cache.contains_key(&span) {
            let range = Range::new(&self.window, DateRange::new(Some(span.0), Some(span.1))).map_err(MetricsError::from)?;
            let m = Metrics::compute(self.conn, &range, &Filter::default(), &Journey::default())?;
            let v = serde_json::to_value(&m).map_err(|e| AlertError::Other(e.to_string()))?;
            self.cache.insert(span, v);
        }
        Ok(&self.cache[&span])
    }

    /// The whole window's JSON (to check a path on a DB without data yet).
    fn window_json(&mut self) -> Result<&Value, AlertError> {
        let span = (self.window.start, self.window.end);
        self.json(span)
    }
}

/// One rule read against the data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    /// The latest day read (none without data).
    pub day: Option<NaiveDate>,
    /// The value.
    pub value: Option<f64>,
    /// The previous day's value.
    pub previous: Option<f64>,
    /// Whether the condition holds (`None`: cannot be told; `new` rules: whether there is news).
    pub holds: Option<bool>,
    /// `new` rules: the elements not seen before.
    pub news: Vec<Value>,
    /// `new` rules: every element's identity now.
    pub ids: Vec<String>,
}

fn read(rule: &Rule, seen: &[String], r: &mut Reader<'_>) -> Result<Reading, AlertError> {
    let Some(span) = r.span(rule.over, 0) else { return Ok(Reading::default()) };
    let mut out = Reading { day: Some(span.1), ..Reading::default() };
    if rule.condition == Condition::New {
        let list = rule.metric.list(r.json(span)?)?;
        out.news = list.iter().filter(|(id, _)| !seen.contains(id)).map(|(_, v)| v.clone()).collect();
        out.ids = list.into_iter().map(|(id, _)| id).collect();
        out.holds = Some(!out.news.is_empty());
        return Ok(out);
    }
    out.value = Some(rule.metric.number(r.json(span)?)?);
    if rule.condition.needs_previous() {
        if let Some(prev) = r.span(rule.over, 1) {
            out.previous = Some(rule.metric.number(r.json(prev)?)?);
        }
    }
    out.holds = rule.condition.holds(out.value.unwrap_or(0.0), out.previous);
    Ok(out)
}

/// Checks a new rule against the DB and says what it reads now: (the value, the identities it
/// starts with as seen, as JSON). A path that leads nowhere is refused here, with the keys there
/// are, not at the first ingest.
pub fn prepare(db: &Path, open: &OpenOptions, rule: &Rule) -> Result<(Option<f64>, String), AlertError> {
    if rule.condition == Condition::New && rule.over == Over::Day {
        return Err(AlertError::Other(
            "a `new` rule reads findings over the days so far: add it with --over all (the anomaly detector compares each day with the others) / new 条件请使用 --over all".into(),
        ));
    }
    let conn = store::open(db, Mode::ReadOnly, open)?;
    let mut r = Reader::new(&conn, db)?;
    // With data, reading the rule checks its path; before any data, the path is checked on the
    // whole window's JSON (same shape, zero counts).
    if r.last.is_none() {
        let shape = r.window_json()?;
        if rule.condition == Condition::New {
            rule.metric.list(shape)?;
        } else {
            rule.metric.number(shape)?;
        }
    }
    let now = read(rule, &[], &mut r)?;
    let seen = serde_json::to_string(&now.ids).map_err(|e| AlertError::Other(e.to_string()))?;
    Ok((now.value, seen))
}

/// Adds `rule` to the DB at `db`, made by `by`, after [`prepare`] checked it; returns the value it
/// reads now.
pub fn add(db: &Path, open: &OpenOptions, rule: &Rule, by: &str) -> Result<Option<f64>, AlertError> {
    if rule.name.trim().is_empty() || rule.name.chars().count() > NAME_MAX {
        return Err(AlertError::Other(format!("a rule's name is 1 to {NAME_MAX} characters / 规则名称长度应为 1–{NAME_MAX}")));
    }
    let (value, seen) = prepare(db, open, rule)?;
    let app = AppDb::open(&path_for(db))?;
    let (metric, condition, over, to) =
        (rule.metric.to_string(), rule.condition.to_string(), rule.over.to_string(), rule.destination.to_string());
    store_rules::add(&app, &rule.name, &metric, &condition, &over, &to, by, &seen).map_err(|e| match e {
        store_rules::AddError::Exists(m) => AlertError::Exists(m),
        store_rules::AddError::Db(e) => AlertError::App(e),
    })?;
    Ok(value)
}

/// A firing just stored: its sentence in Chinese and in English.
#[derive(Clone, Debug)]
pub struct Fired {
    /// 简体中文
    pub zh: String,
    /// English
    pub en: String,
}

/// A number as a firing shows it: up to 6 significant decimals.
fn show(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The firing's sentence in `lang`.
fn sentence(lang: Lang, rule: &Rule, rd: &Reading) -> String {
    let day = rd.day.map(|d| d.to_string()).unwrap_or_default();
    let base = [
        ("rule", rule.name.clone()),
        ("metric", rule.metric.to_string()),
        ("condition", rule.condition.to_string()),
        ("over", rule.over.to_string()),
        ("day", day),
        ("value", rd.value.map(show).unwrap_or_default()),
    ];
    match (rule.condition, rd.previous) {
        (Condition::New, _) => {
            let first = rd
                .news
                .first()
                .and_then(|v| v["text"][if lang == Lang::Zh { "zh" } else { "en" }].as_str().map(str::to_string))
                .unwrap_or_else(|| rd.news.first().map(Value::to_string).unwrap_or_default());
            let mut args = base.to_vec();
            args.extend([("count", rd.news.len().to_string()), ("first", first)]);
            prose::fill(lang, &prose::ALERT_NEW, &args)
        }
        (c, Some(p)) if c.needs_previous() => {
            let v = rd.value.unwrap_or(0.0);
            let change = if p != 0.0 { format!("{:+.1}%", (v - p) / p.abs() * 100.0) } else { String::new() };
            let mut args = base.to_vec();
            args.extend([("previous", show(p)), ("change", change)]);
            prose::fill(lang, &prose::ALERT_CHANGE, &args)
        }
        _ => prose::fill(lang, &prose::ALERT_VALUE, &base),
    }
}

/// What a firing sends: the rule, the reading and its sentence in both languages (`text`).
fn payload(db: &Path, version: &str, rule: &Rule, rd: &Reading, text: &Fired) -> Value {
    json!({
        "rule": rule.name,
        "metric": rule.metric.to_string(),
        "condition": rule.condition.to_string(),
        "over": rule.over.to_string(),
        "day": rd.day,
        "value": rd.value,
        "previous": rd.previous,
        "new": rd.news,
        "text": { "zh": text.zh, "en": text.en },
        "db": db.file_name().map(|n| n.to_string_lossy().into_owned()),
        "data_version": version,
        "fired_at": chrono::Utc::now().to_rfc3339(),
    })
}

/// Evaluates every rule of the DB at `db` not yet evaluated at its data version; stores the
/// firings (not sent yet: see [`deliver::deliver_due`]). Without rules it only opens the app DB.
pub fn evaluate(db: &Path, open: &OpenOptions) -> Result<Vec<Fired>, AlertError> {
    // No app DB, no rules (and none is made as a side effect of an ingest).
    if !path_for(db).exists() {
        return Ok(Vec::new());
    }
    let mut app = AppDb::open(&path_for(db))?;
    let rows = store_rules::rules(&app)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let conn = store::open(db, Mode::ReadOnly, open)?;
    let version = store::data_version(&conn)?;
    let todo: Vec<&RuleRow> = rows.iter().filter(|r| r.evaluated_version.as_deref() != Some(version.as_str())).collect();
    if todo.is_empty() {
        return Ok(Vec::new());
    }
    let mut reader = Reader::new(&conn, db)?;
    let mut fired = Vec::new();
    for row in todo {
        let outcome = parse(row).map_err(AlertError::from).and_then(|rule| {
            let seen: Vec<String> = serde_json::from_str(&row.seen).unwrap_or_default();
            read(&rule, &seen, &mut reader).map(|rd| (rule, seen, rd))
        });
        let (rule, mut seen, rd) = match outcome {
            Ok(x) => x,
            Err(e) => {
                eprintln!("alert '{}' could not be evaluated: {e} / 告警规则无法计算", row.name);
                continue;
            }
        };
        let (state, fires) = match (rule.condition, rd.holds) {
            (Condition::New, h) => ("ok", h == Some(true)),
            (_, Some(true)) => ("firing", row.state != "firing"),
            (_, Some(false)) => ("ok", false),
            (_, None) => (row.state.as_str(), false),
        };
        for id in &rd.ids {
            if !seen.contains(id) {
                seen.push(id.clone());
            }
        }
        let skip = seen.len().saturating_sub(SEEN_MAX);
        let seen = serde_json::to_string(&seen[skip..]).map_err(|e| AlertError::Other(e.to_string()))?;
        let text = fires.then(|| Fired { zh: sentence(Lang::Zh, &rule, &rd), en: sentence(Lang::En, &rule, &rd) });
        let body = text.as_ref().map(|t| payload(db, &version, &rule, &rd, t));
        let dest = rule.destination.to_string();
        let status = if rule.destination == Destination::Dashboard { "listed" } else { "pending" };
        let e = Evaluated {
            version: &version,
            state,
            value: rd.value,
            seen: &seen,
            firing: body.as_ref().map(|b| (dest.as_str(), b.to_string(), status)),
        };
        if store_rules::record(&mut app, row.id, &e)?.is_some() {
            fired.extend(text);
        }
    }
    Ok(fired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shown_plainly() {
        assert_eq!(show(3.0), "3");
        assert_eq!(show(0.0312500001), "0.03125");
        assert_eq!(show(12.5), "12.5");
    }
}
