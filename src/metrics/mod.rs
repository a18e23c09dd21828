//! Every number ecomm shows, defined once: one file per analysis, each with its definition in
//! its module doc, its query, its result struct (and tests in `tests/metrics_fixture.rs` on a
//! hand-checkable fixture).
//!
//! [`Metrics::compute`] is the one function behind `ecomm analyze` (table and JSON), the
//! dashboard API, the PDF report and the LLM fact sheet. All metrics cover the events in the
//! analysis range `[from, to]` (local dates in the DB's time zone; default: the whole window).
//!
//! The analyses, in the order of the JSON: [`totals`], [`funnel`], [`kpis`] (derived from the
//! others), [`hourly`], [`daily`], [`retention`], [`repurchase`], [`categories`] (`top_categories`),
//! [`rfm`], then the analyses of the [`REGISTRY`] ([`ordered_funnel`], [`cohorts`], [`lifecycle`], [`sessions`], [`association`], [`clv`], [`anomalies`]), which every output shows through
//! their generic [`section::Section`]. [`sums`] holds the per-user sums that totals, funnel, repurchase and KPIs share, and
//! [`source`] the relations every analysis reads for a range and filter. To add an analysis, see
//! `docs/architecture.md`.
//!
//! Rates are 0 when their denominator is 0.
//!
//! **Filters** ([`Filter`]): besides the date range, the events can be narrowed to some behaviours
//! and/or some categories. A filter keeps only the matching events and every metric above is then
//! computed over the kept events with the same definitions, exactly as if the DB held only them.
//! So with behaviours `pv,buy` the fav and cart stages are 0 (and cart→buy has rate 0), UV counts
//! users with a kept event, retention means activity in the kept events, and with one category
//! the buyers, repurchase and RFM are those of that category.

pub mod anomalies;
pub mod association;
pub mod categories;
pub mod clv;
pub mod cohorts;
pub mod daily;
pub mod funnel;
pub mod hourly;
pub mod kpis;
pub mod lifecycle;
pub mod lists;
pub mod ordered_funnel;
pub mod repurchase;
pub mod retention;
pub mod rfm;
pub mod section;
pub mod sessions;
pub mod sheets;
pub mod source;
pub mod summary;
pub mod sums;
pub mod totals;
pub mod user_pass;

pub use crate::domain::{Filter, Range};
pub use categories::Category;
pub use daily::Day;
pub use funnel::Stage;
pub use hourly::Hour;
pub use kpis::Kpis;
pub use repurchase::Repurchase;
pub use retention::Retention;
pub use rfm::{Rfm, Segment, Thresholds};
pub use totals::Totals;

use crate::domain::{trace_here, DateRange, FilterError, Journey, JourneyError, RangeError};
use crate::store::{self, StoreError};
use duckdb::Connection;
use serde::Serialize;

/// Why a set of metrics could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The range does not fit the data.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// The filter is not valid.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The journey options are not valid.
    #[error(transparent)]
    Journey(#[from] JourneyError),
    /// A category with no events in the DB.
    #[error("category {0} has no events in this DB; check the id / 该类目在数据库中没有记录")]
    UnknownCategory(i64),
    /// Store errors.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A consumer of a streamed list failed (an export's writer), in its own words.
    #[error("{0}")]
    Output(String),
}

impl From<duckdb::Error> for MetricsError {
    fn from(e: duckdb::Error) -> Self {
        MetricsError::Store(StoreError::Db(e))
    }
}

/// Everything `ecomm analyze` prints.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Metrics {
    /// The range used.
    pub range: Range,
    /// The event filter used (omitted from JSON when it keeps every event).
    #[serde(skip_serializing_if = "Filter::is_all")]
    pub filter: Filter,
    /// The journey options used (each journey analysis repeats the ones it reads).
    #[serde(skip)]
    pub journey: Journey,
    /// Totals.
    pub totals: totals::Totals,
    /// Funnel stages pv, fav, cart, buy.
    pub funnel: Vec<funnel::Stage>,
    /// Headline numbers.
    pub kpis: kpis::Kpis,
    /// 24 hours.
    pub hourly: Vec<hourly::Hour>,
    /// One per date.
    pub daily: Vec<daily::Day>,
    /// One per date except the last.
    pub retention: Vec<retention::Retention>,
    /// Repurchase.
    pub repurchase: repurchase::Repurchase,
    /// Up to 10 categories.
    pub top_categories: Vec<categories::Category>,
    /// RFM.
    pub rfm: rfm::Rfm,
    /// The analyses of [`REGISTRY`], one JSON key each, in registry order.
    #[serde(flatten)]
    pub more: section::More,
}

/// The analyses every output shows through their [`section::Section`] (see [`section`]): adding
/// an analysis is one file in `src/metrics/` and one line here.
pub const REGISTRY: &[&dyn section::Analysis] = &[
    &ordered_funnel::Ordered,
    &cohorts::CohortRetention,
    &lifecycle::Lifecycle,
    &sessions::SessionPaths,
    &association::CategoryAssociation,
    &clv::CustomerValue,
    &anomalies::AnomalyAlerts,
];

impl Metrics {
    /// Computes every analysis for `range` and `filter` from the rollups.
    pub fn compute(conn: &Connection, range: &Range, filter: &Filter, journey: &Journey) -> Result<Metrics, MetricsError> {
        let ctx = source::Ctx::new(conn, range, filter, journey)?;
        let sums = sums::Sums::compute(&ctx)?;
        let totals = totals::compute(&ctx, &sums)?;
        let funnel = funnel::compute(&sums);
        let hourly = hourly::compute(&ctx)?;
        let per_day = ctx.per_day()?;
        let daily = daily::compute(&ctx, per_day.as_deref())?;
        trace_here("metrics: hourly and daily");
        let retention = retention::compute(&ctx, per_day.as_deref())?;
        trace_here("metrics: retention");
        let repurchase = repurchase::compute(&sums);
        let top_categories = categories::compute(&ctx)?;
        trace_here("metrics: top categories");
        let rfm = rfm::compute(&ctx)?;
        trace_here("metrics: rfm");
        let kpis = kpis::compute(&sums, &hourly, &retention, &repurchase);
        let more = section::More::compute(REGISTRY, &ctx)?;
        trace_here("metrics: registry");
        Ok(Metrics {
            range: range.clone(),
            filter: filter.clone(),
            journey: journey.clone(),
            totals,
            funnel,
            kpis,
            hourly,
            daily,
            retention,
            repurchase,
            top_categories,
            rfm,
            more,
        })
    }

    /// The metrics of the DB at `db` (for its error messages) over the `asked` range, clipped
    /// to the DB's window.
    pub fn for_db(conn: &Connection, db: &std::path::Path, q: &Query) -> Result<Metrics, MetricsError> {
        let range = range_for_db(conn, db, q.range)?;
        Metrics::compute(conn, &range, &q.filter, &q.journey)
    }
}

/// The `asked` range checked against the window of the DB at `db` (for its error messages):
/// what every answer for a query covers.
pub fn range_for_db(conn: &Connection, db: &std::path::Path, asked: DateRange) -> Result<Range, MetricsError> {
    let w = store::require_window(conn, db)?;
    Ok(Range::new(&w, asked)?)
}

/// Only the analyses of the [`REGISTRY`] for a query (the dashboard's `/api/sections`),
/// computed exactly as [`Metrics::compute`] computes them.
pub fn registry_for_db(conn: &Connection, db: &std::path::Path, q: &Query) -> Result<section::More, MetricsError> {
    let range = range_for_db(conn, db, q.range)?;
    let ctx = source::Ctx::new(conn, &range, &q.filter, &q.journey)?;
    section::More::compute(REGISTRY, &ctx)
}

/// How long each analysis of the [`REGISTRY`] takes for a query, one after the other on one
/// connection (for `ecomm bench`): (key, seconds), plus the time to prepare the relations.
pub fn registry_timings(conn: &Connection, db: &std::path::Path, q: &Query) -> Result<Vec<(&'static str, f64)>, MetricsError> {
    let range = range_for_db(conn, db, q.range)?;
    let t0 = std::time::Instant::now();
    let ctx = source::Ctx::new(conn, &range, &q.filter, &q.journey)?;
    let mut out = vec![("(relations)", t0.elapsed().as_secs_f64())];
    for a in REGISTRY {
        let t = std::time::Instant::now();
        let c = a.compute(&ctx)?;
        out.push((c.section.key, t.elapsed().as_secs_f64()));
    }
    Ok(out)
}

/// What an answer is asked for: a date range (checked against the DB's window), an event
/// filter and the journey options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Query {
    /// The asked range.
    pub range: DateRange,
    /// The event filter.
    pub filter: Filter,
    /// The journey options.
    pub journey: Journey,
}
