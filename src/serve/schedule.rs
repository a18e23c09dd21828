//! Scheduled reports (`ecomm serve --schedule "daily 08:00" [--results DIR]`): at each due time
//! (in the DB's time zone, see [`Schedule`]) the server writes the PDF report and the analyses'
//! workbook of the days the run covers to `DIR/<last day>/report.pdf` and `analysis.xlsx`, and
//! records the run in the app DB. A run the server missed (it was down) is made once at start-up:
//! the latest due time without a record. The dashboard lists the runs (`/api/reports`) with their
//! files (`/api/reports/<day>/<file>`), for analysts and admins as PDF exports are.

use super::{ApiError, AppState};
use crate::appdb::runs::{self, Run};
use crate::domain::schedule::Schedule;
use crate::domain::{tz::Zone, DateRange};
use crate::i18n::Lang;
use crate::metrics::{Metrics, Query};
use crate::store::{self, Mode};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The files a run writes.
pub const FILES: [&str; 2] = ["report.pdf", "analysis.xlsx"];

/// What the scheduler needs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// When.
    pub schedule: Schedule,
    /// Where the files go.
    pub results: PathBuf,
    /// Their language.
    pub lang: Lang,
}

/// Makes the run due at `due` (local time in `zone`), whatever happens recording it.
fn make(st: &AppState, plan: &Plan, due: chrono::NaiveDateTime) -> Run {
    let (first, last) = plan.schedule.period(due);
    let mut run = Run {
        due: due.format("%Y-%m-%d %H:%M").to_string(),
        first_day: first.to_string(),
        last_day: last.to_string(),
        files: vec![],
        error: None,
    };
    let dir = plan.results.join(last.to_string());
    let q = Query { range: DateRange::new(Some(first), Some(last)), ..Default::default() };
    let written = std::fs::create_dir_all(&dir).map_err(|e| e.to_string()).and_then(|_| {
        crate::report::build::generate(&crate::report::build::ReportConfig {
            db: st.db.clone(),
            open: st.open.clone(),
            out: dir.join(FILES[0]),
            lang: plan.lang,
            query: q.clone(),
            font: None,
            model: None,
            llm: false,
            progress: false,
        })
        .map_err(|e| e.to_string())?;
        let conn = store::open(&st.db, Mode::ReadOnly, &st.open).map_err(|e| e.to_string())?;
        let m = Metrics::for_db(&conn, &st.db, &q).map_err(|e| e.to_string())?;
        crate::export::run_metrics(&m, plan.lang, crate::export::Format::Xlsx, None, &dir.join(FILES[1])).map_err(|e| e.to_string())?;
        Ok(())
    });
    match written {
        Ok(()) => run.files = FILES.iter().map(|f| f.to_string()).collect(),
        Err(e) => run.error = Some(e),
    }
    run
}

/// Runs the schedule until the process ends (a thread of its own): checks every 20 s whether the
/// latest due time has a run, and makes it if not.
pub fn run_forever(st: Arc<AppState>, plan: Plan) {
    loop {
        if let Err(e) = tick(&st, &plan) {
            eprintln!("scheduled report: {e}");
        }
        std::thread::sleep(std::time::Duration::from_secs(20));
    }
}

fn tick(st: &AppState, plan: &Plan) -> Result<(), String> {
    let zone = {
        let conn = store::open(&st.db, Mode::ReadOnly, &st.open).map_err(|e| e.to_string())?;
        let w = store::require_window(&conn, &st.db).map_err(|e| e.to_string())?;
        Zone::parse(&w.timezone)?
    };
    let now = zone.local(chrono::Utc::now().timestamp()).ok_or("the clock is out of range")?;
    let due = plan.schedule.last_due(now);
    let app = st.app().map_err(|e| e.1)?;
    if runs::done(&app, &due.format("%Y-%m-%d %H:%M").to_string()).map_err(|e| e.to_string())? {
        return Ok(());
    }
    let run = make(st, plan, due);
    match &run.error {
        None => eprintln!("scheduled report for {}..{}: {}", run.first_day, run.last_day, plan.results.join(&run.last_day).display()),
        Some(e) => eprintln!("scheduled report for {}..{} failed: {e}", run.first_day, run.last_day),
    }
    runs::record(&app, &run).map_err(|e| e.to_string())
}

/// `GET /api/reports`: the runs, newest first, each file with its address.
pub async fn list(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let app = st.app()?;
    let runs = runs::list(&app).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let v: Vec<_> = runs
        .iter()
        .map(|r| {
            let files: Vec<_> =
                r.files.iter().map(|f| serde_json::json!({ "name": f, "url": format!("/api/reports/{}/{f}", r.last_day) })).collect();
            serde_json::json!({ "due": r.due, "first_day": r.first_day, "last_day": r.last_day, "files": files, "error": r.error })
        })
        .collect();
    Ok(([(header::CONTENT_TYPE, "application/json")], serde_json::Value::from(v).to_string()).into_response())
}

/// `GET /api/reports/<day>/<file>`: only a date and one of [`FILES`], so no other path of the
/// disk can be named.
pub async fn file(State(st): State<Arc<AppState>>, UrlPath((day, name)): UrlPath<(String, String)>) -> Result<Response, ApiError> {
    let not_found = || ApiError(StatusCode::NOT_FOUND, "no such scheduled report; see /api/reports".into());
    let day = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|_| not_found())?;
    let Some(name) = FILES.iter().find(|f| **f == name) else { return Err(not_found()) };
    let Some(results) = st.results.as_deref() else { return Err(not_found()) };
    let path: PathBuf = Path::new(results).join(day.to_string()).join(name);
    let bytes = std::fs::read(&path).map_err(|_| not_found())?;
    let kind = if name.ends_with(".pdf") { "application/pdf" } else { "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" };
    let disposition = format!("attachment; filename=\"ecomm-{day}-{name}\"");
    Ok(([(header::CONTENT_TYPE, kind.to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}
