//! `ecomm serve`: the offline web dashboard (axum), every asset embedded in the binary.
//!
//! Endpoints (all GET; dates are `YYYY-MM-DD`, `lang` is `zh` or `en`):
//! - `/` the page; `/assets/app.js`, `/assets/app.css`
//! - `/api/meta` the data panel: DB, window, time zone, rows, ingests, rejects by reason
//! - `/api/metrics?from&to` exactly `ecomm analyze --format json --from --to`
//! - `/api/insights?from&to&lang` the insights module's outcome (LLM when configured, else rules)
//! - `/api/report.pdf?from&to&lang` the PDF report for that range
//!
//! Wrong parameters (unknown names, bad dates, reversed or out-of-window ranges, bad lang) get
//! a 400 with a JSON `{"error": ...}` sentence; nothing panics.
//!
//! Consistency with a concurrent `ecomm ingest`: every request opens the DuckDB file read-only,
//! answers from that one connection and closes it, and an ingest commits in one transaction, so
//! an answer is either all-before or all-after the ingest, never a mix. While the ingest holds
//! the file's write lock, a read-only open fails; the server then answers from the last good
//! answer to the same request (header `x-ecomm-stale: 1`), or with 503 and a sentence if it has none.

use crate::insights::{cache::AppDb, facts::Facts, produce, Request};
use crate::metrics::{Metrics, MetricsError};
use crate::render::i18n::Lang;
use crate::store::{self, Mode, OpenOptions, StoreError};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Shared server state.
pub struct AppState {
    /// The DuckDB file.
    pub db: PathBuf,
    /// Open options for each request's connection.
    pub open: OpenOptions,
    /// Threads for the model.
    pub model_threads: usize,
    /// Last good JSON answer per request key (served while an ingest holds the lock).
    last_good: Mutex<HashMap<String, String>>,
}

impl AppState {
    /// State for `db`.
    pub fn new(db: PathBuf, open: OpenOptions, model_threads: usize) -> AppState {
        AppState { db, open, model_threads, last_good: Mutex::new(HashMap::new()) }
    }
}

/// An API error: status and one sentence.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.1 }).to_string();
        (self.0, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

impl From<MetricsError> for ApiError {
    fn from(e: MetricsError) -> Self {
        match e {
            MetricsError::Reversed(..) | MetricsError::OutsideWindow(..) => bad(e.to_string()),
            MetricsError::Store(s) => s.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Locked(_) => ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "the DB is being updated by an ingest; try again in a moment / 数据正在导入，请稍后再试".into(),
            ),
            other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

/// Validated query parameters.
struct Params {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    lang: Lang,
}

fn params(q: &HashMap<String, String>, allowed: &[&str]) -> Result<Params, ApiError> {
    for k in q.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(bad(format!("unknown parameter '{k}'; this endpoint takes: {}", allowed.join(", "))));
        }
    }
    let date = |k: &str| -> Result<Option<NaiveDate>, ApiError> {
        match q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| bad(format!("{k}: expected a date like 2017-11-25, got '{s}'"))),
        }
    };
    let lang = match q.get("lang").map(String::as_str) {
        None | Some("zh") => Lang::Zh,
        Some("en") => Lang::En,
        Some(other) => return Err(bad(format!("lang: expected zh or en, got '{other}'"))),
    };
    Ok(Params { from: date("from")?, to: date("to")?, lang })
}

/// Runs `f` on a blocking thread with a fresh read-only connection; remembers the answer under
/// `key` and falls back to the last good one while the DB is locked.
async fn with_db<F>(st: Arc<AppState>, key: String, f: F) -> Result<Response, ApiError>
where
    F: FnOnce(&AppState, &duckdb::Connection) -> Result<String, ApiError> + Send + 'static,
{
    let st2 = st.clone();
    let res = tokio::task::spawn_blocking(move || {
        let conn = store::open(&st2.db, Mode::ReadOnly, &st2.open)?;
        f(&st2, &conn)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {e}")))?;
    let json_response = |body: String, stale: bool| {
        let mut r = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
        if stale {
            r.headers_mut().insert("x-ecomm-stale", HeaderValue::from_static("1"));
        }
        r
    };
    match res {
        Ok(body) => {
            st.last_good.lock().expect("cache lock").insert(key, body.clone());
            Ok(json_response(body, false))
        }
        Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, msg)) => match st.last_good.lock().expect("cache lock").get(&key) {
            Some(body) => Ok(json_response(body.clone(), true)),
            None => Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, msg)),
        },
        Err(e) => Err(e),
    }
}

async fn metrics(State(st): State<Arc<AppState>>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let p = params(&q, &["from", "to"])?;
    let key = format!("metrics:{:?}:{:?}", p.from, p.to);
    with_db(st, key, move |st, conn| {
        let m = Metrics::for_db(conn, &st.db, p.from, p.to)?;
        Ok(serde_json::to_string(&m).expect("metrics serialize"))
    })
    .await
}

async fn meta(State(st): State<Arc<AppState>>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    params(&q, &[])?;
    with_db(st, "meta".into(), move |st, conn| {
        let w = store::require_window(conn, &st.db)?;
        let t = store::ingest_totals(conn)?;
        let v = serde_json::json!({
            "db": st.db.display().to_string(),
            "window": { "start": w.start, "end": w.end },
            "timezone": w.timezone,
            "rows": store::row_count(conn)?,
            "files": store::source_files(conn)?,
            "ingests": t.ingests,
            "last_ingest": t.last_finished_at,
            "rows_read": t.rows_read,
            "rows_loaded": t.rows_loaded,
            "rejects": {
                "malformed": t.malformed,
                "bad_behavior": t.bad_behavior,
                "out_of_window": t.out_of_window,
                "duplicate": t.duplicate,
            },
            "rejects_file": store::rejects_path(&st.db).display().to_string(),
        });
        Ok(v.to_string())
    })
    .await
}

async fn insights(State(st): State<Arc<AppState>>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let p = params(&q, &["from", "to", "lang"])?;
    let key = format!("insights:{:?}:{:?}:{:?}", p.from, p.to, p.lang);
    with_db(st, key, move |st, conn| {
        let m = Metrics::for_db(conn, &st.db, p.from, p.to)?;
        let facts = Facts::from_metrics(&m);
        let app = AppDb::open(&crate::insights::cache::path_for(&st.db)).ok();
        let o = produce(&Request {
            facts: &facts,
            lang: p.lang,
            model: None,
            threads: st.model_threads,
            seed: 42,
            app: app.as_ref(),
            use_llm: true,
        });
        Ok(serde_json::to_string(&o).expect("outcome serialize"))
    })
    .await
}

async fn report_pdf(State(st): State<Arc<AppState>>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let p = params(&q, &["from", "to", "lang"])?;
    let st2 = st.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, String), ApiError> {
        // Validate the range first so a bad one is a 400, not a failed report.
        {
            let conn = store::open(&st2.db, Mode::ReadOnly, &st2.open)?;
            Metrics::for_db(&conn, &st2.db, p.from, p.to)?;
        }
        let dir = std::env::temp_dir().join(format!("ecomm-serve-{}-{}", std::process::id(), store::new_generation()));
        let out = dir.join("report.pdf");
        let w = crate::cmd::report::generate(&crate::cmd::report::ReportConfig {
            db: st2.db.clone(),
            open: st2.open.clone(),
            out: out.clone(),
            lang: p.lang,
            from: p.from,
            to: p.to,
            font: None,
            model: None,
            llm: true,
            progress: false,
        });
        let bytes = w
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
            .and_then(|_| std::fs::read(&out).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())));
        let _ = std::fs::remove_dir_all(&dir);
        let name = format!(
            "ecomm-report-{}-{}.pdf",
            p.from.map(|d| d.to_string()).unwrap_or_else(|| "start".into()),
            p.to.map(|d| d.to_string()).unwrap_or_else(|| "end".into())
        );
        Ok((bytes?, name))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {e}")))??;
    let (bytes, name) = res;
    Ok((
        [(header::CONTENT_TYPE, "application/pdf".to_string()), (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""))],
        bytes,
    )
        .into_response())
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "no such page; the dashboard is at /".into())
}

/// The router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(|| async { asset(INDEX, "text/html; charset=utf-8") }))
        .route("/assets/app.js", get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }))
        .route("/assets/app.css", get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }))
        .route("/api/meta", get(meta))
        .route("/api/metrics", get(metrics))
        .route("/api/insights", get(insights))
        .route("/api/report.pdf", get(report_pdf))
        .fallback(not_found)
        .with_state(state)
}
