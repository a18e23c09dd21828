//! `/api/insights/stream?from&to&behavior&category&lang` (and the journey options): the insights
//! of `/api/insights`, streamed as server-sent events while the model writes them.
//!
//! Events, in order:
//! - `step` `{"text","tokens","max_tokens","rate","round","prompt_tokens","seconds"}`: the prompt
//!   was read (`tokens` 0), then one per generated token, `text` being the characters it completed;
//! - `done`: the same JSON as `/api/insights` (the outcome and its fact sheet);
//! - `error` `{"error"}`: the request could not be answered (a bad range, a locked DB).
//!
//! Cancel: closing the stream (the page's Cancel button) stops the model within one token; the
//! generation asks after every token whether the page still listens. A cancelled run caches
//! nothing and the server logs how far it got. Without a model the stream is just `done`.

use super::params::{params, QUERY_PARAMS};
use super::{ApiError, AppState};
use crate::appdb::AppDb;
use crate::insights::{facts::Facts, llm::Step, produce, Request};
use crate::metrics::Metrics;
use crate::store::{self, Mode};
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The fact sheet of the request's metrics, read on `conn`.
pub(super) fn facts(st: &AppState, conn: &duckdb::Connection, p: &super::Params) -> Result<Facts, ApiError> {
    Ok(Facts::from_metrics(&Metrics::for_db(conn, &st.db, &p.q)?))
}

/// The outcome for `facts` and the sheet itself, as `/api/insights` answers; `on_step` told
/// each token.
pub(super) fn insights_json(st: &AppState, facts: &Facts, p: &super::Params, on_step: Option<crate::insights::llm::OnStep<'_>>) -> String {
    let app = AppDb::open(&crate::appdb::path_for(&st.db)).ok();
    let o = produce(&Request {
        facts,
        lang: p.lang,
        model: None,
        threads: st.model_threads,
        seed: 42,
        app: app.as_ref(),
        use_llm: true,
        on_step,
    });
    let mut v = serde_json::to_value(&o).expect("outcome serialize");
    v["facts"] = serde_json::to_value(facts).expect("facts serialize");
    v.to_string()
}

fn step_event(s: &Step) -> Event {
    let v = serde_json::json!({
        "text": s.text,
        "tokens": s.tokens,
        "max_tokens": s.max_tokens,
        "rate": s.rate(),
        "round": s.round,
        "prompt_tokens": s.prompt_tokens,
        "seconds": s.seconds,
    });
    Event::default().event("step").data(v.to_string())
}

/// `GET /api/insights/stream`.
pub async fn insights(
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let p = params(&q, &[QUERY_PARAMS.as_slice(), &["lang"]].concat())?;
    let (tx, rx) = mpsc::channel::<Event>(1024);
    tokio::task::spawn_blocking(move || {
        let last = std::sync::atomic::AtomicUsize::new(0);
        let tell = |s: &Step| {
            last.store(s.tokens, std::sync::atomic::Ordering::Relaxed);
            tx.blocking_send(step_event(s)).is_ok()
        };
        // The DB is read, then let go before the model runs (it may run for minutes).
        let sheet = store::open(&st.db, Mode::ReadOnly, &st.open).map_err(ApiError::from).and_then(|conn| facts(&st, &conn, &p));
        let event = match sheet {
            Ok(f) => Event::default().event("done").data(insights_json(&st, &f, &p, Some(&tell))),
            Err(ApiError(_, msg)) => Event::default().event("error").data(serde_json::json!({ "error": msg }).to_string()),
        };
        if tx.blocking_send(event).is_err() {
            let n = last.load(std::sync::atomic::Ordering::Relaxed);
            eprintln!("insights stream: the page closed it; the model stopped after {n} tokens");
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
