//! Alert rules and their firings (`ecomm alert`; what they mean is the `alert` module's doc). Rules
//! are kept as the text the user gave; each remembers its last evaluation (the data version, the
//! state, the value, and for `new` the elements seen), so a data version is evaluated once per
//! rule even when two processes try, and a rule fires when its condition starts to hold, not
//! again while it keeps holding. Each firing is a row with its delivery: pending (with the time
//! of the next attempt), delivered, failed (attempts used up) or listed (dashboard only).

use super::AppDb;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// The tables (made by [`AppDb::open`]).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alert_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    metric TEXT NOT NULL,
    condition TEXT NOT NULL,
    over TEXT NOT NULL,
    destination TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'unknown',
    last_value REAL,
    evaluated_version TEXT,
    seen TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS alert_firings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule TEXT NOT NULL,
    destination TEXT NOT NULL,
    value REAL,
    payload TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at TEXT
);";

/// A stored rule.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RuleRow {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// The metric path.
    pub metric: String,
    /// The condition.
    pub condition: String,
    /// `day` or `all`.
    pub over: String,
    /// The destination.
    pub destination: String,
    /// Who made it.
    pub created_by: String,
    /// When (UTC, RFC 3339).
    pub created_at: String,
    /// `unknown`, `ok` or `firing`.
    pub state: String,
    /// The last value read.
    pub last_value: Option<f64>,
    /// The data version last evaluated.
    pub evaluated_version: Option<String>,
    /// For `new`: the identities seen (a JSON array).
    #[serde(skip)]
    pub seen: String,
}

/// A stored firing.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FiringRow {
    /// Row id.
    pub id: i64,
    /// The rule's name.
    pub rule: String,
    /// Where it goes.
    pub destination: String,
    /// The value that fired.
    pub value: Option<f64>,
    /// What is sent (JSON).
    pub payload: String,
    /// When (UTC, RFC 3339).
    pub fired_at: String,
    /// `pending`, `delivered`, `failed` or `listed`.
    pub status: String,
    /// Delivery attempts made.
    pub attempts: i64,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<String>,
}

/// What an evaluation of one rule leaves behind.
pub struct Evaluated<'a> {
    /// The data version evaluated.
    pub version: &'a str,
    /// `ok`, `firing` or `unknown`.
    pub state: &'a str,
    /// The value read.
    pub value: Option<f64>,
    /// The identities seen (JSON array).
    pub seen: &'a str,
    /// A firing to store: (destination, payload, status).
    pub firing: Option<(&'a str, String, &'a str)>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// Why a rule was not added.
#[derive(Debug)]
pub enum AddError {
    /// The name is taken (a sentence that says so).
    Exists(String),
    /// The database.
    Db(rusqlite::Error),
}

/// Adds a rule; an existing name is an error that says so.
#[allow(clippy::too_many_arguments)]
pub fn add(
    app: &AppDb,
    name: &str,
    metric: &str,
    condition: &str,
    over: &str,
    destination: &str,
    by: &str,
    seen: &str,
) -> Result<i64, AddError> {
    let r = app.conn().execute(
        "INSERT INTO alert_rules (name, metric, condition, over, destination, created_by, created_at, seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![name, metric, condition, over, destination, by, now(), seen],
    );
    match r {
        Ok(_) => Ok(app.conn().last_insert_rowid()),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
            Err(AddError::Exists(format!("an alert rule named '{name}' exists; pick another name or remove it first / 同名规则已存在")))
        }
        Err(e) => Err(AddError::Db(e)),
    }
}

/// Removes a rule by name (its firings stay in the list); whether there was one.
pub fn remove(app: &AppDb, name: &str) -> rusqlite::Result<bool> {
    Ok(app.conn().execute("DELETE FROM alert_rules WHERE name = ?1", [name])? > 0)
}

/// Every rule, oldest first.
pub fn rules(app: &AppDb) -> rusqlite::Result<Vec<RuleRow>> {
    let mut st = app.conn().prepare(
        "SELECT id, name, metric, condition, over, destination, created_by, created_at, state, last_value, evaluated_version, seen
         FROM alert_rules ORDER BY id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(RuleRow {
            id: r.get(0)?,
            name: r.get(1)?,
            metric: r.get(2)?,
            condition: r.get(3)?,
            over: r.get(4)?,
            destination: r.get(5)?,
            created_by: r.get(6)?,
            created_at: r.get(7)?,
            state: r.get(8)?,
            last_value: r.get(9)?,
            evaluated_version: r.get(10)?,
            seen: r.get(11)?,
        })
    })?;
    rows.collect()
}

/// Stores one rule's evaluation, unless the rule is gone or another process evaluated this data
/// version first; returns the new firing's id, if one was stored.
pub fn record(app: &mut AppDb, rule_id: i64, e: &Evaluated<'_>) -> rusqlite::Result<Option<i64>> {
    let tx = app.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (name, done): (String, Option<String>) = match tx
        .query_row("SELECT name, evaluated_version FROM alert_rules WHERE id = ?1", [rule_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
    {
        None => return Ok(None),
        Some(x) => x,
    };
    if done.as_deref() == Some(e.version) {
        return Ok(None);
    }
    tx.execute(
        "UPDATE alert_rules SET evaluated_version = ?2, state = ?3, last_value = ?4, seen = ?5 WHERE id = ?1",
        params![rule_id, e.version, e.state, e.value, e.seen],
    )?;
    let id = match &e.firing {
        None => None,
        Some((destination, payload, status)) => {
            tx.execute(
                "INSERT INTO alert_firings (rule, destination, value, payload, fired_at, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![name, destination, e.value, payload, now(), status],
            )?;
            Some(tx.last_insert_rowid())
        }
    };
    tx.commit()?;
    Ok(id)
}

fn firing(r: &rusqlite::Row<'_>) -> rusqlite::Result<FiringRow> {
    Ok(FiringRow {
        id: r.get(0)?,
        rule: r.get(1)?,
        destination: r.get(2)?,
        value: r.get(3)?,
        payload: r.get(4)?,
        fired_at: r.get(5)?,
        status: r.get(6)?,
        attempts: r.get(7)?,
        last_error: r.get(8)?,
        delivered_at: r.get(9)?,
    })
}

const FIRING_COLUMNS: &str = "id, rule, destination, value, payload, fired_at, status, attempts, last_error, delivered_at";

/// The firings, newest first (at most `limit`).
pub fn firings(app: &AppDb, limit: u32) -> rusqlite::Result<Vec<FiringRow>> {
    let mut st = app.conn().prepare(&format!("SELECT {FIRING_COLUMNS} FROM alert_firings ORDER BY id DESC LIMIT {limit}"))?;
    let rows = st.query_map([], firing)?;
    rows.collect()
}

/// Takes the pending firings whose next attempt is due at `now_ms` (Unix ms) for delivery: each
/// is held for `lease_ms`, so another process looking at the same time does not send it too.
pub fn claim_due(app: &AppDb, now_ms: i64, lease_ms: i64) -> rusqlite::Result<Vec<FiringRow>> {
    let mut st = app.conn().prepare(&format!(
        "SELECT {FIRING_COLUMNS} FROM alert_firings WHERE status = 'pending' AND next_attempt_ms <= ?1 ORDER BY id LIMIT 50"
    ))?;
    let due: Vec<FiringRow> = st.query_map([now_ms], firing)?.collect::<rusqlite::Result<_>>()?;
    let mut mine = Vec::with_capacity(due.len());
    for f in due {
        let n = app.conn().execute(
            "UPDATE alert_firings SET next_attempt_ms = ?2 WHERE id = ?1 AND status = 'pending' AND next_attempt_ms <= ?3",
            params![f.id, now_ms + lease_ms, now_ms],
        )?;
        if n == 1 {
            mine.push(f);
        }
    }
    Ok(mine)
}

/// Records a delivery attempt: delivered, or the error with the time of the next attempt (`None`:
/// no more attempts, the firing failed).
pub fn attempted(app: &AppDb, id: i64, result: Result<(), (&str, Option<i64>)>) -> rusqlite::Result<()> {
    match result {
        Ok(()) => app.conn().execute(
            "UPDATE alert_firings SET status = 'delivered', attempts = attempts + 1, delivered_at = ?2, last_error = NULL WHERE id = ?1",
            params![id, now()],
        )?,
        Err((error, Some(next_ms))) => app.conn().execute(
            "UPDATE alert_firings SET attempts = attempts + 1, last_error = ?2, next_attempt_ms = ?3 WHERE id = ?1",
            params![id, error, next_ms],
        )?,
        Err((error, None)) => app.conn().execute(
            "UPDATE alert_firings SET status = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            params![id, error],
        )?,
    };
    Ok(())
}
