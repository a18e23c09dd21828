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

use crate::store::sql_date;
use chrono::NaiveDate;

/// The quantiles whose values are the score thresholds q1..q4.
pub const CUTS: &str = "[0.2, 0.4, 0.6, 0.8]";

/// The five segments, in report order.
pub const SEGMENTS: [&str; 5] = ["champions", "loyal", "potential", "at_risk", "hibernating"];

/// The suggested action for a segment, in Chinese and English.
pub fn action(segment: &str) -> (&'static str, &'static str) {
    match segment {
        "champions" => (
            "重点维护：提供专属客服、新品优先体验和会员权益，防止流失",
            "Retain and reward: VIP service, early access to new items and member perks",
        ),
        "loyal" => (
            "提升客单价：交叉销售与积分激励，推动其成为重要价值用户",
            "Grow basket size: cross-sell and loyalty points to turn them into champions",
        ),
        "potential" => (
            "促进复购：首购后关怀、优惠券与个性化推荐",
            "Drive the next purchase: post-purchase follow-up, coupons and personalised recommendations",
        ),
        "at_risk" => (
            "及时召回：限时优惠与短信/推送提醒，了解流失原因",
            "Win them back now: time-limited offers and reminders; ask why they stopped buying",
        ),
        _ => (
            "低成本唤醒：在大促活动中触达，长期无响应则减少投入",
            "Low-cost reactivation: reach them in big campaigns; cut spend if they stay silent",
        ),
    }
}

/// The segment label in Chinese.
pub fn segment_zh(segment: &str) -> &'static str {
    match segment {
        "champions" => "重要价值用户",
        "loyal" => "忠诚用户",
        "potential" => "潜力用户",
        "at_risk" => "流失预警用户",
        _ => "沉睡用户",
    }
}

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
