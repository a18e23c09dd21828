//! The dashboard's logins, roles and the checks every request passes before a handler runs.
//!
//! - **Roles** ([`required_role`]): beyond loopback every path but `/login`, `/logout` and the
//!   stylesheet needs a session cookie with the path's role.
//! - **Cross-site requests**: every state-changing request (any method but GET, HEAD, OPTIONS),
//!   on loopback too, is refused with 403 when the browser says it comes from another site:
//!   `Sec-Fetch-Site: cross-site`, an `Origin` (or, without one, a `Referer`) whose host is not
//!   the `Host` it was sent to, or `Origin: null`. Clients that send none of these (curl, scripts)
//!   are not browsers carrying someone else's cookie, and pass.
//! - **Login throttling**: failed logins are counted per account and per client address. After
//!   [`ACCOUNT_FREE`] failures in a row for an account (or [`ADDRESS_FREE`] from one address) each
//!   further attempt must wait 1 s, then 2 s, 4 s, … up to [`MAX_DELAY_SECS`] after the last
//!   failure; an attempt that comes sooner gets 429 with `Retry-After`, without a password check.
//!   A success clears the account's count; an address's count clears after
//!   [`FORGET_SECS`] without failures. Each failure and each throttled attempt is logged on stderr.
//! - **Bounded password checks**: an argon2 check takes ~19 MB, so at most one per core runs at a
//!   time; the others wait their turn.

use super::{ApiError, AppState};
use crate::appdb::accounts::{self, Role};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failed logins in a row an account gets before it is throttled.
pub const ACCOUNT_FREE: u32 = 5;
/// Failed logins in a row one client address gets before it is throttled.
pub const ADDRESS_FREE: u32 = 20;
/// The longest wait between attempts.
pub const MAX_DELAY_SECS: u64 = 15 * 60;
/// A count with no failure for this long starts again from zero.
pub const FORGET_SECS: u64 = 30 * 60;

/// Failed-login counts per key (`account:NAME`, `address:IP`).
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    /// Seconds `key` must still wait before its next attempt (0: it may try now).
    pub fn wait(&self, key: &str, free: u32) -> u64 {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(&(n, last)) = map.get(key) else { return 0 };
        let since = last.elapsed();
        if n < free || since >= Duration::from_secs(FORGET_SECS) {
            return 0;
        }
        let delay = Duration::from_secs((1u64 << (n - free).min(20)).min(MAX_DELAY_SECS));
        delay.saturating_sub(since).as_secs_f64().ceil() as u64
    }

    /// Counts a failure for `key`; returns the failures in a row.
    pub fn fail(&self, key: &str) -> u32 {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= 100_000 {
            map.retain(|_, (_, t)| t.elapsed() < Duration::from_secs(FORGET_SECS));
        }
        let e = map.entry(key.to_string()).or_insert((0, Instant::now()));
        if e.1.elapsed() >= Duration::from_secs(FORGET_SECS) {
            e.0 = 0;
        }
        e.0 += 1;
        e.1 = Instant::now();
        e.0
    }

    /// Forgets `key`'s failures.
    pub fn clear(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

/// The role a path needs when logins are on.
pub fn required_role(path: &str) -> Role {
    match path {
        "/api/insights" | "/api/insights/stream" | "/api/report.pdf" => Role::Analyst,
        p if p.starts_with("/api/export/users") || p.starts_with("/api/reports") => Role::Analyst,
        p if p.starts_with("/api/users") || p.starts_with("/api/alerts/rules") => Role::Admin,
        p if p.starts_with("/api/alerts") => Role::Analyst,
        _ => Role::Viewer,
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("ecomm_session=").map(str::to_string))
}

/// Why a state-changing request looks cross-site, if it does.
pub fn cross_site(method: &Method, headers: &HeaderMap) -> Option<String> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if h("sec-fetch-site") == Some("cross-site") {
        return Some("Sec-Fetch-Site: cross-site".into());
    }
    let (name, value) = match (h("origin"), h("referer")) {
        (Some(o), _) => ("Origin", o),
        (None, Some(r)) => ("Referer", r),
        (None, None) => return None,
    };
    let host = h("host").unwrap_or("");
    let from = value.split_once("://").map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or("")).unwrap_or("");
    if from.is_empty() || !from.eq_ignore_ascii_case(host) {
        return Some(format!("{name} {value} is not this server ({host})"));
    }
    None
}

/// Runs before every handler: refuses cross-site state changes, then (when logins are on)
/// requires a session with the path's role. API calls get 401/403 JSON, pages a redirect.
pub async fn guard(State(st): State<Arc<AppState>>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if let Some(why) = cross_site(req.method(), req.headers()) {
        eprintln!("refused a cross-site {} {}: {why}", req.method(), req.uri().path());
        return ApiError(StatusCode::FORBIDDEN, format!("cross-site request refused ({why}) / 拒绝跨站请求")).into_response();
    }
    let path = req.uri().path().to_string();
    if !st.auth || path == "/login" || path == "/logout" || path == "/assets/app.css" {
        return next.run(req).await;
    }
    let user = match (session_cookie(req.headers()), st.app()) {
        (Some(token), Ok(app)) => accounts::session(&app, &token).ok().flatten(),
        (_, Err(e)) => return e.into_response(),
        _ => None,
    };
    match user {
        None if path.starts_with("/api/") => {
            ApiError(StatusCode::UNAUTHORIZED, "log in first: POST /login / 请先登录".into()).into_response()
        }
        None => axum::response::Redirect::to("/login").into_response(),
        Some((name, role)) if role < required_role(&path) => ApiError(
            StatusCode::FORBIDDEN,
            format!("{name} is a {} and {path} needs {} / 权限不足", role.as_str(), required_role(&path).as_str()),
        )
        .into_response(),
        Some((name, role)) => {
            let mut req = req;
            req.extensions_mut().insert(super::download::Who { name, role });
            next.run(req).await
        }
    }
}

#[derive(serde::Deserialize)]
struct Login {
    name: String,
    password: String,
}

/// Parses a JSON body into `T`, answering a malformed one with the API's JSON error shape.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| super::bad(format!("the request body is not the JSON this endpoint takes: {e}")))
}

fn too_many(wait: u64) -> Response {
    let mut r = ApiError(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many failed logins; try again in {wait} s / 登录失败次数过多，请 {wait} 秒后再试"),
    )
    .into_response();
    r.headers_mut().insert(header::RETRY_AFTER, wait.into());
    r
}

/// `POST /login` `{"name","password"}`: a session cookie, or 401; throttled (see the module doc).
pub async fn login(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let l: Login = json_body(&body)?;
    let (acct, addr) = (format!("account:{}", l.name), format!("address:{}", peer.ip()));
    let wait = st.throttle.wait(&acct, ACCOUNT_FREE).max(st.throttle.wait(&addr, ADDRESS_FREE));
    if wait > 0 {
        eprintln!("login throttled: account '{}' from {} must wait {wait} s", l.name, peer.ip());
        return Ok(too_many(wait));
    }
    let _slot = st.password_checks.acquire().await.map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let st2 = st.clone();
    let name = l.name.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let app = st2.app()?;
        accounts::login(&app, &name, &l.password).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    match res {
        None => {
            let n = st.throttle.fail(&acct);
            let m = st.throttle.fail(&addr);
            eprintln!("login failed: account '{}' from {} ({n} in a row for the account, {m} from the address)", l.name, peer.ip());
            Err(ApiError(StatusCode::UNAUTHORIZED, "wrong user name or password / 用户名或密码错误".into()))
        }
        Some((token, role)) => {
            st.throttle.clear(&acct);
            let cookie = format!("ecomm_session={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}", accounts::SESSION_SECS);
            let body = serde_json::json!({ "role": role }).to_string();
            Ok(([(header::SET_COOKIE, cookie), (header::CONTENT_TYPE, "application/json".into())], body).into_response())
        }
    }
}

/// `POST /logout`: ends the session.
pub async fn logout(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let (Some(token), Ok(app)) = (session_cookie(&headers), st.app()) {
        let _ = accounts::logout(&app, &token);
    }
    ([(header::SET_COOKIE, "ecomm_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")], "").into_response()
}

#[derive(serde::Deserialize)]
struct NewUser {
    name: String,
    password: String,
    role: String,
}

/// `GET /api/users`: the accounts.
pub async fn users(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let app = st.app()?;
    let list: Vec<_> = accounts::list_users(&app)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .into_iter()
        .map(|(name, role)| serde_json::json!({ "name": name, "role": role }))
        .collect();
    Ok(([(header::CONTENT_TYPE, "application/json")], serde_json::Value::from(list).to_string()).into_response())
}

/// `POST /api/users` `{"name","password","role"}`: adds an account, or changes one's password and
/// role (which ends that account's other sessions).
pub async fn add_user(State(st): State<Arc<AppState>>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let u: NewUser = json_body(&body)?;
    let role = match u.role.as_str() {
        "viewer" => Role::Viewer,
        "analyst" => Role::Analyst,
        "admin" => Role::Admin,
        other => return Err(super::bad(format!("role: expected viewer, analyst or admin, got '{other}'"))),
    };
    let _slot = st.password_checks.acquire().await.map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let app = st.app()?;
    let keep = session_cookie(&headers);
    accounts::add_user(&app, &u.name, role, &u.password, keep.as_deref()).map_err(|e| super::bad(e.to_string()))?;
    Ok((StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], serde_json::json!({ "name": u.name, "role": role }).to_string())
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_grows_and_clears() {
        let t = Throttle::default();
        for _ in 0..ACCOUNT_FREE - 1 {
            t.fail("a");
        }
        assert_eq!(t.wait("a", ACCOUNT_FREE), 0);
        t.fail("a");
        assert_eq!(t.wait("a", ACCOUNT_FREE), 1);
        t.fail("a");
        assert_eq!(t.wait("a", ACCOUNT_FREE), 2);
        for _ in 0..30 {
            t.fail("a");
        }
        assert_eq!(t.wait("a", ACCOUNT_FREE), MAX_DELAY_SECS);
        t.clear("a");
        assert_eq!(t.wait("a", ACCOUNT_FREE), 0);
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        let hm = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        let host = ("host", "127.0.0.1:8501");
        assert!(cross_site(&Method::POST, &hm(&[host])).is_none());
        assert!(cross_site(&Method::POST, &hm(&[host, ("origin", "http://127.0.0.1:8501")])).is_none());
        assert!(cross_site(&Method::POST, &hm(&[host, ("referer", "http://127.0.0.1:8501/?from=x")])).is_none());
        assert!(cross_site(&Method::POST, &hm(&[host, ("origin", "http://evil.example")])).is_some());
        assert!(cross_site(&Method::POST, &hm(&[host, ("origin", "null")])).is_some());
        assert!(cross_site(&Method::POST, &hm(&[host, ("referer", "https://evil.example/127.0.0.1:8501")])).is_some());
        assert!(cross_site(&Method::POST, &hm(&[host, ("sec-fetch-site", "cross-site")])).is_some());
        assert!(cross_site(&Method::GET, &hm(&[host, ("origin", "http://evil.example")])).is_none());
    }
}
