//! The scheduled reports' runs (`ecomm serve --schedule`): one row per due time, so a run is made
//! once, a missed one is found at start-up, and the dashboard lists what was written.

use super::AppDb;
use rusqlite::{params, OptionalExtension};

/// One scheduled run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Run {
    /// When it was due (local time, `YYYY-MM-DD HH:MM`).
    pub due: String,
    /// The first day it reports.
    pub first_day: String,
    /// The last day it reports (its folder's name).
    pub last_day: String,
    /// The files written, by name.
    pub files: Vec<String>,
    /// Why it wrote nothing, if so.
    pub error: Option<String>,
}

/// Whether the run due at `due` was made.
pub fn done(app: &AppDb, due: &str) -> rusqlite::Result<bool> {
    Ok(app.conn().query_row("SELECT 1 FROM scheduled_runs WHERE due = ?1", [due], |_| Ok(())).optional()?.is_some())
}

/// Records a run.
pub fn record(app: &AppDb, r: &Run) -> rusqlite::Result<()> {
    app.conn().execute(
        "INSERT OR REPLACE INTO scheduled_runs VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![r.due, r.first_day, r.last_day, r.files.join(","), r.error, chrono::Utc::now().to_rfc3339()],
    )?;
    Ok(())
}

/// The runs, newest first (at most 100).
pub fn list(app: &AppDb) -> rusqlite::Result<Vec<Run>> {
    let mut st = app.conn().prepare("SELECT due, first_day, last_day, files, error FROM scheduled_runs ORDER BY due DESC LIMIT 100")?;
    let rows = st.query_map([], |r| {
        let files: String = r.get(3)?;
        Ok(Run {
            due: r.get(0)?,
            first_day: r.get(1)?,
            last_day: r.get(2)?,
            files: files.split(',').filter(|f| !f.is_empty()).map(str::to_string).collect(),
            error: r.get(4)?,
        })
    })?;
    rows.collect()
}
