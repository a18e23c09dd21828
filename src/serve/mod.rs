//! `ecomm serve`: the offline web dashboard (axum), every asset embedded in the binary.
//!
//! Endpoints (all GET; dates are `YYYY-MM-DD`, `lang` is `zh` or `en`):
//! - `/` the page; `/assets/app.js`, `/assets/app.css`
//! - `/api/meta` the data panel: DB, window, time zone, rows, ingests, rejects by reason
//! - `/api/metrics?from&to&behavior&category` exactly `ecomm analyze --format json --from --to
//!   --behavior --category` (`behavior`: comma-separated pv,fav,cart,buy; `category`:
//!   comma-separated ids; both optional, see [`crate::metrics::Filter`])
//! - `/api/sections?from&to&behavior&category&lang` the analyses of the metrics registry (ordered
//!   funnel, cohorts, lifecycle, sessions) as the page shows them: title, columns, formatted rows,
//!   further tables, headline numbers, charts (labels in `lang`, values raw) and a conclusion
//! - `/api/metrics`, `/api/sections`, `/api/insights` and `/api/report.pdf` also take the journey
//!   options, each optional with the CLI's default and parsed by the same type as its flag:
//!   `funnel_steps`, `funnel_by`, `funnel_window`, `funnel_breakdown`, `retention_start`,
//!   `retention_return`, `session_gap` (e.g. `funnel_steps=pv,cart,buy&funnel_window=2h`)
//! - `/api/insights?from&to&behavior&category&lang` the insights module's outcome (LLM when
//!   configured, else rules) with its fact sheet under `facts`; `/api/insights/stream` the same
//!   as server-sent events while the model writes (see [`stream`])
//! - `/api/report.pdf?from&to&behavior&category&lang` the PDF report for that filter
//! - `/api/categories` the 200 categories with the most events (for the filter's suggestions)
//! - `/api/export/metrics`, `/api/export/users`, `/api/me`: the download buttons (see [`download`])
//! - `/api/events`: server-sent events, one `update` per change of the data (see [`live`])
//! - `/api/reports`, `/api/reports/<day>/<file>`: the scheduled reports (see [`schedule`])
//! - `/api/alerts` (GET), `/api/alerts/rules` (POST), `/api/alerts/rules/<name>` (DELETE): the
//!   alert list and its rules (see [`alerts`])
//!
//! - `/login` (GET page, POST `{"name","password"}`), `/logout` (POST), `/api/users` (GET list, POST
//!   `{"name","password","role"}`; admins only)
//!
//! Accounts: on loopback (the default) there are no logins. On any other address every path
//! but `/login` needs a session cookie (HttpOnly, SameSite=Strict) from `/login`; viewers see the
//! dashboard and its data (and download the page as a workbook or CSV), analysts also run insights,
//! export PDFs and download user lists, admins also manage users.
//! Cross-site state changes, login throttling and bounded password checks: see [`auth`].
//!
//! Memory: at most one PDF renders per core at a time; further requests wait up to
//! [`PDF_WAIT_SECS`], then get 503 with `Retry-After`. Fonts are loaded once per process.
//!
//! Wrong parameters (unknown names, bad dates, reversed or out-of-window ranges, unknown
//! behaviours, categories that are not numbers or have no events, bad lang) get
//! a 400 with a JSON `{"error": ...}` sentence; nothing panics.
//!
//! Consistency with a concurrent `ecomm ingest`: every request opens the DuckDB file read-only,
//! answers from that one connection and closes it, and an ingest commits in one transaction, so
//! an answer is either all-before or all-after the ingest, never a mix. While the ingest holds
//! the file's write lock, a read-only open fails; the server then answers from the last good
//! answer to the same request (header `x-ecomm-stale: 1`), or with 503 and a sentence if it has none.
//!
//! Speed: answers are memoized per (data version, request); identical concurrent requests wait
//! for one computation; [`warm`] computes the first page's answers when the server starts. A
//! memoized answer is served without opening the DuckDB file while the file's stamp (inode, length
//! and modification time of the file and its WAL, see [`store::file_stamp`]) is the one the
//! version was read under.

pub mod alerts;
pub mod auth;
pub mod download;
pub mod live;
mod params;
pub mod schedule;
mod stream;

pub use params::check_params;
use params::{params, Params, QUERY_PARAMS};

use crate::appdb::AppDb;
use crate::domain::RangeError;
use crate::i18n::Lang;
use crate::metrics::{Metrics, MetricsError, Query as Ask};
use crate::report::build::ReportError;
use crate::store::{self, Mode, OpenOptions, StoreError};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");

/// The page's script with the labels of [`crate::i18n::dashboard`] filled in (built once).
fn app_js() -> &'static str {
    static JS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JS.get_or_init(|| APP_JS.replace("__ECOMM_LABELS__", &crate::i18n::dashboard::labels_json()))
}
const APP_CSS: &str = include_str!("assets/app.css");
const LOGIN: &str = include_str!("assets/login.html");

/// Shared server state.
pub struct AppState {
    /// The DuckDB file.
    pub db: PathBuf,
    /// Open options for each request's connection.
    pub open: OpenOptions,
    /// Threads for the model.
    pub model_threads: usize,
    /// Require a login (any address but loopback).
    pub auth: bool,
    /// Last good JSON answer per request key (served while an ingest holds the lock).
    last_good: Mutex<HashMap<String, String>>,
    /// Answers per (data version, request key): repeats are answered without recomputing.
    memo: Mutex<HashMap<String, String>>,
    /// The data version last read, with the file stamp it was read under: while the stamp is the
    /// same, memoized answers are served without opening the DuckDB file (well under 1 ms).
    version_at: Mutex<Option<(store::FileStamp, String)>>,
    /// One lock per request key (see `answer`).
    gates: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Failed logins per account and address.
    throttle: auth::Throttle,
    /// Password checks (argon2, ~19 MB each) running at once: one per core.
    password_checks: tokio::sync::Semaphore,
    /// PDF reports rendered at once: one per core; others wait up to [`PDF_WAIT_SECS`].
    pdf_slots: tokio::sync::Semaphore,
    /// The data version last seen and the open pages to tell when it changes (`/api/events`).
    pub live: live::Live,
    /// Where scheduled reports are written (`--schedule`), if any.
    pub results: Option<PathBuf>,
    /// Evaluates the alert rules after each change of the data and sends their firings.
    pub alerts: Option<crate::alert::deliver::Runner>,
}

/// How long a PDF request waits for a free render slot before it gets 503 with `Retry-After`.
pub const PDF_WAIT_SECS: u64 = 30;

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

impl AppState {
    /// State for `db`.
    pub fn new(db: PathBuf, open: OpenOptions, model_threads: usize, auth: bool) -> AppState {
        AppState {
            db,
            open,
            model_threads,
            auth,
            last_good: Mutex::new(HashMap::new()),
            memo: Mutex::new(HashMap::new()),
            version_at: Mutex::new(None),
            gates: Mutex::new(HashMap::new()),
            throttle: auth::Throttle::default(),
            password_checks: tokio::sync::Semaphore::new(cores()),
            pdf_slots: tokio::sync::Semaphore::new(cores()),
            live: live::Live::default(),
            results: None,
            alerts: None,
        }
    }

    fn app(&self) -> Result<AppDb, ApiError> {
        AppDb::open(&crate::appdb::path_for(&self.db))
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("app database: {e}")))
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

pub(crate) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

impl From<MetricsError> for ApiError {
    fn from(e: MetricsError) -> Self {
        match e {
            // The HTTP API names its own parameters.
            MetricsError::Range(RangeError::Reversed(f, t)) => bad(format!("from={f} is after to={t}; swap them / 开始日期晚于结束日期")),
            MetricsError::Range(_) | MetricsError::Filter(_) | MetricsError::Journey(_) | MetricsError::UnknownCategory(_) => {
                bad(e.to_string())
            }
            MetricsError::Store(s) => s.into(),
            MetricsError::Output(m) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, m),
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

/// Answers request `key` with `f` on a fresh read-only connection, unless the same request was
/// answered for the same data version before (then from the memo); remembers the answer.
fn answer<F>(st: &AppState, key: &str, f: F) -> Result<String, ApiError>
where
    F: FnOnce(&AppState, &duckdb::Connection) -> Result<String, ApiError>,
{
    // Fast path: the file has not changed since the version was read, and this request's answer
    // for that version is memoized.
    let stamp = store::file_stamp(&st.db);
    let known = st.version_at.lock().expect("version lock").clone();
    if let (Some(now), Some((then, version))) = (&stamp, &known) {
        if now == then {
            if let Some(hit) = st.memo.lock().expect("memo lock").get(&format!("{version}|{key}")) {
                return Ok(hit.clone());
            }
        }
    }
    // Requests for the same key wait for each other, so concurrent identical requests (or a
    // visitor arriving while `warm` runs) compute once and share the memoized answer.
    let gate = {
        let mut gates = st.gates.lock().expect("gates lock");
        if gates.len() >= 4096 {
            gates.clear();
        }
        gates.entry(key.to_string()).or_default().clone()
    };
    let _turn = gate.lock().unwrap_or_else(|e| e.into_inner());
    let conn = store::open(&st.db, Mode::ReadOnly, &st.open)?;
    // The version is read on the same connection as the answer, so a memoized answer is
    // exactly what this snapshot would compute.
    let version = store::data_version(&conn)?;
    // The stamp was taken before the open: if a commit came in between, this version is newer
    // than the stamp says, and the stamp (already out of date) can never match again. Harmless.
    if let Some(stamp) = stamp {
        *st.version_at.lock().expect("version lock") = Some((stamp, version.clone()));
    }
    let memo_key = format!("{version}|{key}");
    if let Some(hit) = st.memo.lock().expect("memo lock").get(&memo_key) {
        return Ok(hit.clone());
    }
    let body = f(st, &conn)?;
    let mut memo = st.memo.lock().expect("memo lock");
    if memo.len() >= 512 {
        memo.clear();
    }
    memo.insert(memo_key, body.clone());
    Ok(body)
}

/// Computes the answers a first page load asks for (the whole window, the data panel, the
/// category suggestions) into the memo, so the first visitor after a start does not wait for
/// them. Errors are left for the real request to report.
pub fn warm(st: &AppState) {
    let p = Params { q: Ask::default(), lang: Lang::Zh };
    let _ = answer(st, &p.key("metrics"), metrics_body(p));
    let p = Params { q: Ask::default(), lang: Lang::Zh };
    let _ = answer(st, &p.key("sections"), sections_body(p));
    let _ = answer(st, "meta", meta_body);
    let _ = answer(st, "categories", categories_body);
}

/// Runs `f` on a blocking thread with a fresh read-only connection, unless the same request was
/// answered for the same data version before; remembers the answer under `key` and falls back
/// to the last good one while the DB is locked.
async fn with_db<F>(st: Arc<AppState>, key: String, f: F) -> Result<Response, ApiError>
where
    F: FnOnce(&AppState, &duckdb::Connection) -> Result<String, ApiError> + Send + 'static,
{
    let st2 = st.clone();
    let key2 = key.clone();
    let res = tokio::task::spawn_blocking(move || answer(&st2, &key2, f))
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
    let p = params(&q, &QUERY_PARAMS)?;
    with_db(st, p.key("metrics"), metrics_body(p)).await
}

fn metrics_body(p: Params) -> impl FnOnce(&AppState, &duckdb::Connection) -> Result<String, ApiError> {
    move |st, conn| {
        let m = Metrics::for_db(conn, &st.db, &p.q)?;
        // The page asks for the registry's sections of the same query next: they are part of
        // these metrics, so remember them in both languages instead of computing them again.
        let version = store::data_version(conn)?;
        let mut memo = st.memo.lock().expect("memo lock");
        for lang in [Lang::Zh, Lang::En] {
            let key = Params { q: p.q.clone(), lang }.key("sections");
            let shown: Vec<_> = m.more.sections().map(|s| s.shown(lang)).collect();
            memo.insert(format!("{version}|{key}"), serde_json::to_string(&shown).expect("sections serialize"));
        }
        Ok(serde_json::to_string(&m).expect("metrics serialize"))
    }
}

async fn sections(State(st): State<Arc<AppState>>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let p = params(&q, &[QUERY_PARAMS.as_slice(), &["lang"]].concat())?;
    with_db(st, p.key("sections"), sections_body(p)).await
}

/// The analyses of the metrics registry as the page shows them: title, columns, formatted rows
/// and headline numbers in `lang`.
fn sections_body(p: Params) -> impl FnOnce(&AppState, &duckdb::Connection) -> Result<String, ApiError> {
    move |st, conn| {
        let more = crate::metrics::registry_for_db(conn, &st.db, &p.q)?;
        let shown: Vec<_> = more.sections().map(|s| s.shown(p.lang)).collect();
        Ok(serde_json::to_string(&shown).expect("sections serialize"))
    }
}

async fn meta(State(st): State<Arc<AppState>>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    params(&q, &[])?;
    with_db(st, "meta".into(), meta_body).await
}

fn meta_body(st: &AppState, conn: &duckdb::Connection) -> Result<String, ApiError> {
    let w = store::require_window(conn, &st.db)?;
    let t = store::ingest_totals(conn)?;
    let v = serde_json::json!({
        "db": st.db.display().to_string(),
        "version": store::data_version(conn)?,
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
}

async fn categories(State(st): State<Arc<AppState>>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    params(&q, &[])?;
    with_db(st, "categories".into(), categories_body).await
}

fn categories_body(_: &AppState, conn: &duckdb::Connection) -> Result<String, ApiError> {
    let list: Vec<_> = store::top_categories_by_events(conn, 200)?
        .into_iter()
        .map(|(id, events)| serde_json::json!({ "category_id": id, "events": events }))
        .collect();
    Ok(serde_json::Value::from(list).to_string())
}

async fn insights(State(st): State<Arc<AppState>>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let p = params(&q, &[QUERY_PARAMS.as_slice(), &["lang"]].concat())?;
    with_db(st, p.key("insights"), move |st, conn| Ok(stream::insights_json(st, &stream::facts(st, conn, &p)?, &p, None))).await
}

async fn report_pdf(State(st): State<Arc<AppState>>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let p = params(&q, &[QUERY_PARAMS.as_slice(), &["lang"]].concat())?;
    // A render holds a few tens of MB: bound how many run at once, so a burst of requests
    // queues instead of growing the server without limit.
    let Ok(Ok(_slot)) = tokio::time::timeout(std::time::Duration::from_secs(PDF_WAIT_SECS), st.pdf_slots.acquire()).await else {
        let mut r = ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is busy writing other reports; try again in a few seconds / 服务器正忙于生成其他报告，请稍后再试".into(),
        )
        .into_response();
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return Ok(r);
    };
    let st2 = st.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, String), ApiError> {
        let dir = scratch_dir();
        let out = dir.join("report.pdf");
        let w = crate::report::build::generate(&crate::report::build::ReportConfig {
            db: st2.db.clone(),
            open: st2.open.clone(),
            out: out.clone(),
            lang: p.lang,
            query: p.q.clone(),
            font: None,
            model: None,
            llm: true,
            progress: false,
        });
        // The report computes the metrics once; a bad range or filter surfaces there as a
        // MetricsError (400) and a locked DB as a StoreError (503), like the other endpoints.
        let bytes = w
            .map_err(|e| match e {
                ReportError::Metrics(m) => ApiError::from(m),
                ReportError::Store(s) => ApiError::from(s),
                e => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            })
            .and_then(|_| std::fs::read(&out).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())));
        let _ = std::fs::remove_dir_all(&dir);
        let name = format!(
            "ecomm-report-{}-{}.pdf",
            p.q.range.from.map(|d| d.to_string()).unwrap_or_else(|| "start".into()),
            p.q.range.to.map(|d| d.to_string()).unwrap_or_else(|| "end".into())
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

/// A folder of its own under the system's temp dir for one request's file (a PDF, a user list),
/// removed by the request when done.
pub(crate) fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("ecomm-serve-{}-{}", std::process::id(), store::new_generation()))
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
        .route("/assets/app.js", get(|| async { asset(app_js(), "text/javascript; charset=utf-8") }))
        .route("/assets/app.css", get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }))
        .route("/api/meta", get(meta))
        .route("/api/metrics", get(metrics))
        .route("/api/sections", get(sections))
        .route("/api/categories", get(categories))
        .route("/api/insights", get(insights))
        .route("/api/insights/stream", get(stream::insights))
        .route("/api/report.pdf", get(report_pdf))
        .route("/api/export/metrics", get(download::metrics))
        .route("/api/export/users", get(download::users))
        .route("/api/me", get(download::me))
        .route("/api/events", get(live::events))
        .route("/api/reports", get(schedule::list))
        .route("/api/reports/{day}/{file}", get(schedule::file))
        .route("/api/alerts", get(alerts::list))
        .route("/api/alerts/rules", axum::routing::post(alerts::add))
        .route("/api/alerts/rules/{name}", axum::routing::delete(alerts::remove))
        .route("/api/users", get(auth::users).post(auth::add_user))
        .route("/login", get(|| async { asset(LOGIN, "text/html; charset=utf-8") }).post(auth::login))
        .route("/logout", axum::routing::post(auth::logout))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::guard))
        .with_state(state)
}
