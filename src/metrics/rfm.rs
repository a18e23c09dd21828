//! RFM: recency, frequency and "monetary" value of buyers, their scores and segments.
//!
//! Definitions (over buyers only: users with at least one buy event in the range):
//! - **R** (recency) = days from the user's last buy date to the range's last date (0 = bought on the last day).
//! - **F** (frequency) = number of buy events.
//! - **M** (monetary proxy) = number of distinct items bought. The dataset has no prices, so M is a
//!   proxy for spend, not money.
//! - Scores: with q1..q4 = `quantile_cont` of the value at 0.2/0.4/0.6/0.8 over buyers,
//!   `F_score = 1 + #{k : F > qk}`, `M_score` likewise, and `R_score = 1 + #{k : R < qk}`
//!   (recent buyers score high). Equal values always get equal scores.
//! - Segments from R_score and F_score, checked in this order:
//!   champions (R≥4 and F≥4), loyal (R≥3 and F≥3), potential (R≥3 and F<3), at_risk (R<3 and F≥3),
//!   hibernating (the rest).

use super::source::{list_f64, ratio, u, Ctx};
use super::MetricsError;
use crate::store::sql_date;
use chrono::NaiveDate;
use serde::Serialize;

/// The quantiles whose values are the score thresholds q1..q4.
pub const CUTS: &str = "[0.2, 0.4, 0.6, 0.8]";

/// The five segments, in report order.
pub const SEGMENTS: [&str; 5] = ["champions", "loyal", "potential", "at_risk", "hibernating"];

/// SQL for one row per buyer in `[from, to]`: user_id, recency, frequency, monetary, r_score,
/// f_score, m_score, segment, and the thresholds `qr`, `qf`, `qm` (q1..q4 lists, equal on every
/// row). Reads the `buy_items` rollup (grouped per user and item first, so M is a plain count
/// rather than a slower DISTINCT aggregate; computed once and shared by the quantiles and the
/// scores). This is the single definition used
/// by `analyze`, `user_summary` and everything built on them.
pub fn per_buyer_sql(from: NaiveDate, to: NaiveDate) -> String {
    per_buyer_sql_from("buy_items", from, to)
}

/// The rows of [`per_buyer_sql`] over the whole window (recency, frequency, monetary, segment and
/// the thresholds `qr`, `qf`, `qm`) as `user_summary` stored them at ingest, so the whole-window
/// RFM need not group the buys again.
pub fn stored_per_buyer_sql() -> String {
    format!(
        "SELECT user_id, recency_days AS recency, frequency, monetary, r_score, f_score, m_score, q.qr, q.qf, q.qm, segment
         FROM user_summary,
              (SELECT quantile_cont(recency_days, {CUTS}) AS qr, quantile_cont(frequency, {CUTS}) AS qf,
                      quantile_cont(monetary, {CUTS}) AS qm
               FROM user_summary WHERE segment IS NOT NULL) q
         WHERE segment IS NOT NULL"
    )
}

/// [`per_buyer_sql`] over `buy_items`, a relation with the columns of the `buy_items` rollup
/// (the metrics pass a filtered one).
pub fn per_buyer_sql_from(buy_items: &str, from: NaiveDate, to: NaiveDate) -> String {
    let (f, t) = (sql_date(from), sql_date(to));
    format!(
        "WITH b AS MATERIALIZED (
            SELECT user_id, ({t} - max(last_date))::INTEGER AS recency, sum(buys)::BIGINT AS frequency,
                   count(*)::BIGINT AS monetary
            FROM (SELECT user_id, item_id, max(event_date) AS last_date, sum(buys) AS buys
                  FROM {buy_items} WHERE event_date BETWEEN {f} AND {t} GROUP BY user_id, item_id)
            GROUP BY user_id),
         q AS (
            SELECT quantile_cont(recency, {CUTS}) AS qr,
                   quantile_cont(frequency, {CUTS}) AS qf,
                   quantile_cont(monetary, {CUTS}) AS qm FROM b),
         s AS (
            SELECT b.*, q.qr, q.qf, q.qm,
                   (1 + (recency < qr[1])::INT + (recency < qr[2])::INT + (recency < qr[3])::INT + (recency < qr[4])::INT) AS r_score,
                   (1 + (frequency > qf[1])::INT + (frequency > qf[2])::INT + (frequency > qf[3])::INT + (frequency > qf[4])::INT) AS f_score,
                   (1 + (monetary > qm[1])::INT + (monetary > qm[2])::INT + (monetary > qm[3])::INT + (monetary > qm[4])::INT) AS m_score
            FROM b, q)
         SELECT user_id, recency, frequency, monetary, r_score, f_score, m_score, qr, qf, qm,
                CASE WHEN r_score >= 4 AND f_score >= 4 THEN 'champions'
                     WHEN r_score >= 3 AND f_score >= 3 THEN 'loyal'
                     WHEN r_score >= 3 THEN 'potential'
                     WHEN f_score >= 3 THEN 'at_risk'
                     ELSE 'hibernating' END AS segment
         FROM s"
    )
}

/// One RFM segment.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Segment {
    /// champions, loyal, potential, at_risk, hibernating.
    pub segment: String,
    /// Buyers in the segment.
    pub users: u64,
    /// users / buyers.
    pub share: f64,
    /// Mean R (days).
    pub avg_recency: f64,
    /// Mean F (buy events).
    pub avg_frequency: f64,
    /// Mean M (distinct items bought).
    pub avg_monetary: f64,
    /// Suggested action, Chinese.
    pub action_zh: String,
    /// Suggested action, English.
    pub action_en: String,
}

/// RFM over buyers.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Rfm {
    /// Buyers scored.
    pub buyers: u64,
    /// The five segments in fixed order.
    pub segments: Vec<Segment>,
    /// q1..q4 of R, F and M.
    pub thresholds: Thresholds,
}

/// Quantile thresholds.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct Thresholds {
    /// Of R.
    pub recency: Vec<f64>,
    /// Of F.
    pub frequency: Vec<f64>,
    /// Of M.
    pub monetary: Vec<f64>,
}

/// RFM for the range and filter. Over the whole window with every buy kept, the buyers' rows
/// are the ones `user_summary` stored at ingest (same definition: [`per_buyer_sql`] over the window).
pub fn compute(ctx: &Ctx<'_>) -> Result<Rfm, MetricsError> {
    compute_from(ctx, stored(ctx))
}

/// Whether the context's RFM is the one `user_summary` stored at ingest (whole window, every buy
/// kept, `ECOMM_NO_STORED_RFM` unset).
fn stored(ctx: &Ctx<'_>) -> bool {
    let (range, filter) = (ctx.range, ctx.filter);
    range.from == range.window_start
        && range.to == range.window_end
        && filter.categories.is_empty()
        && filter.keeps("buy")
        && std::env::var_os("ECOMM_NO_STORED_RFM").is_none()
}

/// SQL for the context's buyers with their RFM segment (user_id, segment): the rows of
/// [`compute`]'s RFM, read from `user_summary` where that holds them.
pub fn per_buyer_for(ctx: &Ctx<'_>) -> String {
    if stored(ctx) {
        "SELECT user_id, segment FROM user_summary WHERE segment IS NOT NULL".into()
    } else {
        format!("SELECT user_id, segment FROM ({})", per_buyer_sql_from(&ctx.src.buy_items, ctx.range.from, ctx.range.to))
    }
}

/// RFM segment sizes, averages and thresholds: from [`per_buyer_sql_from`] over `buy_items`,
/// or, with `stored` (whole window, all buys kept), from the same per-buyer rows that `user_summary`
/// holds, which skips grouping the buys (`ECOMM_NO_STORED_RFM` turns that off; a test compares both).
pub fn compute_from(ctx: &Ctx<'_>, stored: bool) -> Result<Rfm, MetricsError> {
    let (conn, range, buy_items) = (ctx.conn, ctx.range, &ctx.src.buy_items);
    let per = if stored { stored_per_buyer_sql() } else { per_buyer_sql_from(buy_items, range.from, range.to) };
    let mut by: std::collections::HashMap<String, (u64, f64, f64, f64)> = Default::default();
    let mut thresholds = Thresholds::default();
    {
        // One pass: segment sizes and averages, and the quantile thresholds (equal on every row).
        let mut st = conn.prepare(&format!(
            "SELECT segment, count(*), avg(recency), avg(frequency), avg(monetary), any_value(qr), any_value(qf), any_value(qm)
             FROM ({per}) GROUP BY segment"
        ))?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, f64>(3)?,
                r.get::<_, f64>(4)?,
                Thresholds { recency: list_f64(r.get(5)?), frequency: list_f64(r.get(6)?), monetary: list_f64(r.get(7)?) },
            ))
        })?;
        for row in rows {
            let (s, n, a, b, c, t) = row?;
            by.insert(s, (u(n), a, b, c));
            thresholds = t;
        }
    }
    let buyers: u64 = by.values().map(|v| v.0).sum();
    let segments = SEGMENTS
        .iter()
        .map(|s| {
            let (n, a, b, c) = by.get(*s).cloned().unwrap_or((0, 0.0, 0.0, 0.0));
            let (zh, en) = crate::i18n::segment_action(s);
            Segment {
                segment: s.to_string(),
                users: n,
                share: ratio(n, buyers),
                avg_recency: a,
                avg_frequency: b,
                avg_monetary: c,
                action_zh: zh.into(),
                action_en: en.into(),
            }
        })
        .collect();
    Ok(Rfm { buyers, segments, thresholds })
}
