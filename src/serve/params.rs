//! The dashboard's query parameters: dates, the event filter, the journey options and the
//! language, each parsed by the same type as its CLI flag; wrong ones become a 400 sentence.

use super::{bad, ApiError};
use crate::domain::{parse_date, DateRange, Filter, Journey, JourneyError};
use crate::i18n::Lang;
use crate::metrics::Query as Ask;
use std::collections::HashMap;

/// Validated query parameters.
pub(super) struct Params {
    pub(super) q: Ask,
    pub(super) lang: Lang,
}

impl Params {
    /// The memo key of a request of `kind` with these parameters.
    pub(super) fn key(&self, kind: &str) -> String {
        format!("{kind}:{:?}:{:?}", self.q, self.lang)
    }
}

/// The parameters of an answer computed from the metrics: range, filter and journey options.
pub(super) const QUERY_PARAMS: [&str; 14] = [
    "from",
    "to",
    "behavior",
    "category",
    "funnel_steps",
    "funnel_by",
    "funnel_window",
    "funnel_breakdown",
    "retention_start",
    "retention_return",
    "session_gap",
    "basket",
    "min_pair_users",
    "bought_with",
];

/// The journey options of a request: each parameter parsed by its type, like the CLI's flags.
fn journey(q: &HashMap<String, String>) -> Result<Journey, ApiError> {
    fn get<T: std::str::FromStr<Err = JourneyError>>(q: &HashMap<String, String>, k: &str) -> Result<Option<T>, ApiError> {
        match q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|e: JourneyError| bad(format!("{k}: {e}"))),
        }
    }
    // Whole numbers: the association's threshold (at least 1) and a category id.
    let whole = |k: &str, min: i64| -> Result<Option<i64>, ApiError> {
        match q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= min => Ok(Some(n)),
                _ => Err(bad(format!("{k}: expected a whole number of at least {min}, got '{v}'"))),
            },
        }
    };
    let d = Journey::default();
    Journey {
        steps: get(q, "funnel_steps")?.unwrap_or(d.steps),
        by: get(q, "funnel_by")?.unwrap_or(d.by),
        window: get(q, "funnel_window")?.unwrap_or(d.window),
        breakdown: get(q, "funnel_breakdown")?,
        retention_start: get(q, "retention_start")?.unwrap_or(d.retention_start),
        retention_return: get(q, "retention_return")?.unwrap_or(d.retention_return),
        session_gap: get(q, "session_gap")?.unwrap_or(d.session_gap),
        basket: get(q, "basket")?.unwrap_or(d.basket),
        min_pair_users: whole("min_pair_users", 1)?.map_or(d.min_pair_users, |n| n as u64),
        bought_with: whole("bought_with", 0)?,
    }
    .validate()
    .map_err(|e| bad(e.to_string()))
}

pub(super) fn params(q: &HashMap<String, String>, allowed: &[&str]) -> Result<Params, ApiError> {
    for k in q.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(bad(format!("unknown parameter '{k}'; this endpoint takes: {}", allowed.join(", "))));
        }
    }
    let date = |k: &str| -> Result<Option<chrono::NaiveDate>, ApiError> {
        match q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => parse_date(s).map(Some).map_err(|e| bad(format!("{k}: expected a date like 2017-11-25, got '{}'", e.input))),
        }
    };
    let lang = match q.get("lang").map(String::as_str) {
        None | Some("zh") => Lang::Zh,
        Some("en") => Lang::En,
        Some(other) => return Err(bad(format!("lang: expected zh or en, got '{other}'"))),
    };
    let list = |k: &str| -> Vec<String> {
        q.get(k).map(|s| s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()).unwrap_or_default()
    };
    let categories = list("category")
        .iter()
        .map(|c| c.parse::<i64>().map_err(|_| bad(format!("category: expected category ids like 4756105, got '{c}'"))))
        .collect::<Result<Vec<i64>, ApiError>>()?;
    let filter = Filter::new(&list("behavior"), &categories).map_err(|e| bad(e.to_string()))?;
    let journey = if allowed.contains(&"funnel_steps") { journey(q)? } else { Journey::default() };
    Ok(Params { q: Ask { range: DateRange::new(date("from")?, date("to")?), filter, journey }, lang })
}

/// Validates a request's query parameters as an endpoint taking `allowed` does (for fuzzing and
/// tests): `Err` holds the sentence the 400 answer would carry.
pub fn check_params(q: &HashMap<String, String>, allowed: &[&str]) -> Result<(), String> {
    params(q, allowed).map(|_| ()).map_err(|e| e.1)
}
