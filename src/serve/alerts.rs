//! The dashboard's alerts (see `crate::alert`):
//!
//! - `GET /api/alerts`: the rules with their state and the latest 50 firings with their
//!   delivery, for analysts and admins (`required_role`). Webhook URLs often carry a token: only
//!   admins get them whole, analysts get the host.
//! - `POST /api/alerts/rules` `{"name", "metric", "when", "over", "to"}`: adds a rule, checked as
//!   `ecomm alert add` checks it (the path against the analysis JSON); admins only. A file
//!   destination is refused here (it would write on the server's disk): `ecomm alert add` makes it.
//! - `DELETE /api/alerts/rules/<name>`: removes a rule; admins only.

use super::download::Who;
use super::{auth::json_body, bad, ApiError, AppState};
use crate::appdb::accounts::Role;
use crate::appdb::alerts as rows;
use crate::domain::alert::{Destination, Rule};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

/// Whether the request may see and change rules whole (admins; everyone without logins).
fn admin(who: &Option<axum::Extension<Who>>) -> bool {
    who.as_ref().is_none_or(|w| w.role == Role::Admin)
}

fn shown(dest: &str, whole: bool) -> String {
    if whole {
        dest.to_string()
    } else {
        Destination::redact(dest)
    }
}

/// `GET /api/alerts`.
pub async fn list(State(st): State<Arc<AppState>>, who: Option<axum::Extension<Who>>) -> Result<Response, ApiError> {
    let whole = admin(&who);
    let app = st.app()?;
    let rules: Vec<_> = rows::rules(&app)
        .map_err(internal)?
        .into_iter()
        .map(|r| {
            serde_json::json!({ "name": r.name, "metric": r.metric, "condition": r.condition, "over": r.over,
                "to": shown(&r.destination, whole), "state": r.state, "value": r.last_value, "created_by": r.created_by })
        })
        .collect();
    let firings: Vec<_> = rows::firings(&app, 50)
        .map_err(internal)?
        .into_iter()
        .map(|f| {
            let p: serde_json::Value = serde_json::from_str(&f.payload).unwrap_or_default();
            serde_json::json!({ "id": f.id, "rule": f.rule, "to": shown(&f.destination, whole), "value": f.value, "day": p["day"],
                "text": p["text"], "fired_at": f.fired_at, "status": f.status, "attempts": f.attempts, "error": f.last_error })
        })
        .collect();
    Ok(json(StatusCode::OK, serde_json::json!({ "rules": rules, "firings": firings, "manage": whole })))
}

#[derive(serde::Deserialize)]
struct NewRule {
    name: String,
    metric: String,
    when: String,
    #[serde(default)]
    over: Option<String>,
    to: String,
}

/// `POST /api/alerts/rules`.
pub async fn add(
    State(st): State<Arc<AppState>>,
    who: Option<axum::Extension<Who>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let n: NewRule = json_body(&body)?;
    let field = |name: &str, e: String| bad(format!("{name}: {e}"));
    let rule = Rule {
        name: n.name.trim().to_string(),
        metric: n.metric.parse().map_err(|e: crate::domain::alert::AlertRuleError| field("metric", e.to_string()))?,
        condition: n.when.parse().map_err(|e: crate::domain::alert::AlertRuleError| field("when", e.to_string()))?,
        over: n.over.as_deref().unwrap_or("day").parse().map_err(|e: crate::domain::alert::AlertRuleError| field("over", e.to_string()))?,
        destination: n.to.parse().map_err(|e: crate::domain::alert::AlertRuleError| field("to", e.to_string()))?,
    };
    if matches!(rule.destination, Destination::File(_)) {
        // A path typed into a web form would write on the server's disk as the server's user.
        return Err(bad("to: the dashboard sends to a webhook or its own list; a file destination is added on the server with `ecomm alert add … --to file:PATH` / 网页端不支持文件目标"));
    }
    let by = who.map(|w| w.name.clone()).unwrap_or_else(|| "dashboard".into());
    let st2 = st.clone();
    let r = rule.clone();
    let value = tokio::task::spawn_blocking(move || crate::alert::add(&st2.db, &st2.open, &r, &by)).await.map_err(internal)?.map_err(
        |e| match e {
            e @ crate::alert::AlertError::Exists(_) => ApiError(StatusCode::CONFLICT, e.to_string()),
            e => bad(e.to_string()),
        },
    )?;
    Ok(json(StatusCode::CREATED, serde_json::json!({ "name": rule.name, "value": value })))
}

/// `DELETE /api/alerts/rules/<name>`.
pub async fn remove(State(st): State<Arc<AppState>>, UrlPath(name): UrlPath<String>) -> Result<Response, ApiError> {
    let app = st.app()?;
    if !rows::remove(&app, &name).map_err(internal)? {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no alert rule named '{name}' / 没有该告警规则")));
    }
    Ok(json(StatusCode::OK, serde_json::json!({ "removed": name })))
}
