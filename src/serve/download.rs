//! The dashboard's downloads, made by the same functions as `ecomm export`:
//!
//! - `/api/export/metrics?format=xlsx|csv|json&section&lang` + the page's filters and journey
//!   options: the analyses as the workbook of `ecomm export --what metrics` (`xlsx`, the default),
//!   one analysis's table as CSV (`section` required: a key of the page's panels), or JSON. Any
//!   signed-in user (viewers included: it is the page they see).
//! - `/api/export/users?format=csv|xlsx&segment&min_p_alive` + `from,to,behavior,category`: the
//!   buyers behind a segment with their RFM and CLV columns, as `ecomm export --what users`.
//!   Analysts and admins only (a list of customer ids is more than the page shows): the role
//!   is checked server-side by [`super::auth::required_role`], whatever the page shows.
//! - `/api/me` who the request is from: `{"name", "role"}` (the page hides what the role may not
//!   use); without logins (loopback) `{"name": null, "role": "admin"}`.

use super::params::{params, QUERY_PARAMS};
use super::{bad, ApiError, AppState};
use crate::appdb::accounts::Role;
use crate::domain::Range;
use crate::export::{self, ExportError, Format};
use crate::metrics::lists::{List, UserFilter};
use crate::metrics::{source::Ctx, Metrics};
use crate::store::{self, Mode};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;

/// Who a request is from, put in the request by the guard when logins are on.
#[derive(Clone, Debug)]
pub struct Who {
    /// The account.
    pub name: String,
    /// Its role.
    pub role: Role,
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Options(m) => bad(m),
            ExportError::Metrics(m) => m.into(),
            e @ ExportError::Write { .. } => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

/// `GET /api/me`.
pub async fn me(who: Option<axum::Extension<Who>>) -> Response {
    let v = match who {
        Some(axum::Extension(w)) => serde_json::json!({ "name": w.name, "role": w.role.as_str() }),
        None => serde_json::json!({ "name": null, "role": Role::Admin.as_str() }),
    };
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

fn format_of(q: &HashMap<String, String>, default: Format) -> Result<Format, ApiError> {
    match q.get("format").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|e: String| bad(format!("format: {e}"))),
    }
}

fn content_type(f: Format) -> &'static str {
    match f {
        Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Format::Csv => "text/csv; charset=utf-8",
        Format::Json => "application/json",
        Format::Parquet => "application/vnd.apache.parquet",
    }
}

/// The file as an attachment named `ecomm-<what>-<from>-<to>.<ext>`.
fn attachment(bytes: Vec<u8>, what: &str, range: &Range, f: Format) -> Response {
    let ext = if f == Format::Json { "json" } else { f.ext() };
    let name = format!("ecomm-{what}-{}-{}.{ext}", range.from, range.to);
    let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    (
        [(header::CONTENT_TYPE, content_type(f).to_string()), (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""))],
        bytes,
    )
        .into_response()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {e}")))?
}

/// `GET /api/export/metrics`.
pub async fn metrics(State(st): State<Arc<AppState>>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let p = params(&q, &[QUERY_PARAMS.as_slice(), &["lang", "format", "section"]].concat())?;
    let format = format_of(&q, Format::Xlsx)?;
    let section = q.get("section").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let what = section.clone().unwrap_or_else(|| "metrics".into());
    let (bytes, range) = blocking(move || {
        let conn = store::open(&st.db, Mode::ReadOnly, &st.open)?;
        let m = Metrics::for_db(&conn, &st.db, &p.q)?;
        let (bytes, _) = export::bytes(&m, p.lang, format, section.as_deref())?;
        Ok((bytes, m.range))
    })
    .await?;
    Ok(attachment(bytes, &what, &range, format))
}

/// `GET /api/export/users`.
pub async fn users(State(st): State<Arc<AppState>>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let p = params(&q, &["from", "to", "behavior", "category", "format", "segment", "min_p_alive"])?;
    let format = format_of(&q, Format::Csv)?;
    if format == Format::Parquet || format == Format::Json {
        return Err(bad("format: the dashboard's user lists are csv or xlsx; `ecomm export --what users` writes parquet and json"));
    }
    let min_p_alive = match q.get("min_p_alive").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<f64>() {
            Ok(x) if (0.0..=1.0).contains(&x) => Some(x),
            _ => return Err(bad(format!("min_p_alive: expected a probability from 0 to 1, got '{s}'"))),
        },
    };
    let segment = q.get("segment").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let what = format!("users-{}", segment.as_deref().unwrap_or("all"));
    let filter = UserFilter { segment, min_p_alive };
    let (bytes, range) = blocking(move || {
        let conn = store::open(&st.db, Mode::ReadOnly, &st.open)?;
        let range = crate::metrics::range_for_db(&conn, &st.db, p.q.range)?;
        let ctx = Ctx::new(&conn, &range, &p.q.filter, &p.q.journey)?;
        let dir = super::scratch_dir();
        std::fs::create_dir_all(&dir).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let out = dir.join(format!("users.{}", format.ext()));
        let done = export::run(&ctx, List::Users, &filter, format, &out)
            .map_err(ApiError::from)
            .and_then(|_| std::fs::read(&out).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())));
        let _ = std::fs::remove_dir_all(&dir);
        Ok((done?, range))
    })
    .await?;
    Ok(attachment(bytes, &what, &range, format))
}
