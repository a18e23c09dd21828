//! **clv** (客户生命周期价值): who will buy again, and how often, from the BG/NBD model.
//!
//! - Per **buyer** (a user with at least one kept `buy` in the range), with days as the unit:
//!   purchase days = distinct local dates with a buy; **x** = purchase days − 1 (repeat purchase
//!   days); **t_x** = last purchase date − first purchase date; **T** = the range's last date −
//!   first purchase date.
//! - **Fit**: r, α, a, b > 0 maximise the BG/NBD log-likelihood of Fader, Hardie & Lee (2005),
//!   summed over buyers, without penalty ([`bgnbd`]: L-BFGS of the `argmin` crate on the
//!   log-parameters, analytic gradient, several starts). `log_likelihood` is that sum.
//! - **No dropout**: a short window often shows none, and then the likelihood has no interior
//!   maximum (it rises towards a → 0 or b → ∞, where a and b are not identified). The fit then
//!   reports `dropout_identified: false`, a and b as null, and r, α of the limiting NBD model
//!   (every buyer alive: P(alive) = 1); where r and α run off too, the Poisson rate per day
//!   λ = Σx / ΣT (model `poisson`). Dropout counts as identified only when the BG/NBD optimum is
//!   an interior maximum (converged, parameters within about 1e-6..1e6, the likelihood curving
//!   down in every direction) and its log-likelihood exceeds the limit's; the NBD likewise.
//!   With no repeat purchase at all the model is `poisson` with rate 0; with no buyer observed
//!   for any time (every T = 0) it is `none` and nothing is predicted.
//! - **Per buyer**: P(alive) = 1 / (1 + [x>0] · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)) and the
//!   expected purchase days in the next 7 and 30 days, E[Y(t) | x, t_x, T] (FHL eq. 10, the
//!   Gaussian hypergeometric ₂F₁ closed form, summed as a series of positive terms: see
//!   [`bgnbd`]); NBD: (r+x)·t/(α+T); Poisson: λ·t. `user_summary` stores them for the whole
//!   window (`p_alive`, `exp_purchases_7d`, `exp_purchases_30d`; NULL for users who never bought).
//! - **Report**: the parameters, P(alive) over buyers (mean and quartiles, `quantile_cont`), the
//!   expected purchase days in the next 7 and 30 days in total and per RFM segment (the range's
//!   RFM, see [`super::rfm`]), and the 20 buyers with the most expected purchase days in the next
//!   30 days (ties: smaller user_id). There are no prices: these are purchases, never money.

pub mod bgnbd;
mod view;

pub use view::CustomerValue;

use super::rfm::SEGMENTS;
use super::source::{quantile_cont_counted, u, Ctx};
use super::MetricsError;
use crate::store::{sql_date, StoreError};
use bgnbd::{Fit, Model, Obs};
use chrono::NaiveDate;
use duckdb::Connection;
use serde::Serialize;

/// The horizons of the expectations, in days.
pub const HORIZONS: [f64; 2] = [7.0, 30.0];
/// Buyers listed.
pub const TOP: usize = 20;

/// SQL for one row per buyer of `user_day` (a relation with the columns of the `user_day`
/// rollup) in `[from, to]`: user_id, x, t_x, big_t (T).
pub fn buyers_sql(user_day: &str, from: NaiveDate, to: NaiveDate) -> String {
    let (f, t) = (sql_date(from), sql_date(to));
    format!(
        "SELECT user_id, (count(*) - 1)::INTEGER AS x, (max(event_date) - min(event_date))::INTEGER AS t_x,
                ({t} - min(event_date))::INTEGER AS big_t
         FROM {user_day} WHERE buy > 0 AND event_date BETWEEN {f} AND {t} GROUP BY user_id"
    )
}

/// Buyers with one (x, t_x, T) and their predictions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Group {
    /// Repeat purchase days.
    pub x: u32,
    /// Days from the first to the last purchase.
    pub t_x: u32,
    /// Days from the first purchase to the range's end.
    pub big_t: u32,
    /// Buyers.
    pub buyers: u64,
    /// P(alive).
    pub p_alive: Option<f64>,
    /// Expected purchase days in the next 7 and 30 days.
    pub expected: [Option<f64>; 2],
}

/// Fits the model to the buyers of `user_day` in `[from, to]` and leaves two TEMP tables on the
/// connection: `_clv_buyers` (user_id, x, t_x, big_t) and `_clv_values` (x, t_x, big_t,
/// p_alive, exp_7d, exp_30d). Returns the fit and the groups of buyers with equal summaries.
pub fn prepare(conn: &Connection, user_day: &str, from: NaiveDate, to: NaiveDate) -> Result<(Fit, Vec<Group>), StoreError> {
    conn.execute_batch(&format!("CREATE OR REPLACE TEMP TABLE _clv_buyers AS {}", buyers_sql(user_day, from, to)))?;
    let mut groups: Vec<Group> = {
        let mut st = conn.prepare("SELECT x, t_x, big_t, count(*) FROM _clv_buyers GROUP BY ALL")?;
        let rows = st.query_map([], |r| {
            Ok(Group { x: r.get(0)?, t_x: r.get(1)?, big_t: r.get(2)?, buyers: u(r.get(3)?), p_alive: None, expected: [None, None] })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    // Sorted here too: the store's connections may hand an ORDER BY's rows over out of order.
    groups.sort_by_key(|g| (g.x, g.t_x, g.big_t));
    let obs: Vec<Obs> = groups.iter().map(|g| Obs { x: g.x, t_x: g.t_x as f64, t: g.big_t as f64, n: g.buyers as f64 }).collect();
    let fit = bgnbd::fit(&obs);
    for g in &mut groups {
        let (t_x, t) = (g.t_x as f64, g.big_t as f64);
        g.p_alive = fit.model.p_alive(g.x, t_x, t);
        g.expected = HORIZONS.map(|h| fit.model.expected(h, g.x, t_x, t));
    }
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE _clv_values (x INTEGER, t_x INTEGER, big_t INTEGER, p_alive DOUBLE, exp_7d DOUBLE, exp_30d DOUBLE)",
    )?;
    let num = |v: Option<f64>| v.map(|v| format!("{v:e}")).unwrap_or_else(|| "NULL".into());
    for chunk in groups.chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|g| format!("({}, {}, {}, {}, {}, {})", g.x, g.t_x, g.big_t, num(g.p_alive), num(g.expected[0]), num(g.expected[1])))
            .collect();
        conn.execute_batch(&format!("INSERT INTO _clv_values VALUES {}", values.join(", ")))?;
    }
    Ok((fit, groups))
}

/// Drops the TEMP tables of [`prepare`].
pub fn cleanup(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("DROP TABLE IF EXISTS _clv_buyers; DROP TABLE IF EXISTS _clv_values;")?;
    Ok(())
}

/// The fitted parameters (null where the model has none).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Params {
    /// Gamma shape of the purchase rate.
    pub r: Option<f64>,
    /// Gamma rate (days) of the purchase rate.
    pub alpha: Option<f64>,
    /// Beta a of the dropout probability.
    pub a: Option<f64>,
    /// Beta b of the dropout probability.
    pub b: Option<f64>,
}

/// Mean and quartiles over buyers.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// First quartile.
    pub q25: f64,
    /// Median.
    pub median: f64,
    /// Third quartile.
    pub q75: f64,
}

/// The forecast of one RFM segment.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SegmentForecast {
    /// champions, loyal, potential, at_risk, hibernating.
    pub segment: String,
    /// Buyers.
    pub buyers: u64,
    /// Mean P(alive).
    pub mean_p_alive: Option<f64>,
    /// Expected purchase days in the next 7 days, summed.
    pub expected_7d: Option<f64>,
    /// In the next 30 days, summed.
    pub expected_30d: Option<f64>,
}

/// One of the buyers with the most expected purchase days.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TopBuyer {
    /// The user.
    pub user_id: i64,
    /// Repeat purchase days.
    pub x: u32,
    /// Days from the first to the last purchase.
    pub t_x: u32,
    /// Days from the first purchase to the range's end.
    #[serde(rename = "T")]
    pub big_t: u32,
    /// P(alive).
    pub p_alive: f64,
    /// Expected purchase days in the next 7 days.
    pub expected_7d: f64,
    /// In the next 30 days.
    pub expected_30d: f64,
}

/// The customer lifetime value analysis.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Clv {
    /// The time unit of t_x, T, α and the rates: `day`.
    pub unit: &'static str,
    /// Buyers.
    pub buyers: u64,
    /// Buyers with x > 0.
    pub repeat_buyers: u64,
    /// `bgnbd`, `nbd` (no dropout), `poisson` (one rate) or `none`.
    pub model: &'static str,
    /// Whether a and b were identified.
    pub dropout_identified: bool,
    /// r, α, a, b.
    pub params: Params,
    /// The Poisson rate per day (model `poisson`).
    pub poisson_rate_per_day: Option<f64>,
    /// The model's log-likelihood, summed over buyers.
    pub log_likelihood: Option<f64>,
    /// The no-dropout (NBD) limit's log-likelihood, for comparison.
    pub nbd_log_likelihood: Option<f64>,
    /// P(alive) over buyers.
    pub p_alive: Option<Spread>,
    /// Expected purchase days in the next 7 days, all buyers.
    pub expected_7d: Option<f64>,
    /// In the next 30 days.
    pub expected_30d: Option<f64>,
    /// Per RFM segment, in report order.
    pub segments: Vec<SegmentForecast>,
    /// The 20 buyers with the most expected purchase days in the next 30 days.
    pub top: Vec<TopBuyer>,
}

fn spread(groups: &[Group]) -> Option<Spread> {
    let mut v: Vec<(f64, u64)> = groups.iter().map(|g| g.p_alive.map(|p| (p, g.buyers))).collect::<Option<_>>()?;
    let n: u64 = v.iter().map(|x| x.1).sum();
    if n == 0 {
        return None;
    }
    v.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mean = v.iter().map(|(p, c)| p * *c as f64).sum::<f64>() / n as f64;
    let q = |q| quantile_cont_counted(&v, q);
    Some(Spread { mean, q25: q(0.25), median: q(0.5), q75: q(0.75) })
}

fn sum(groups: &[Group], k: usize) -> Option<f64> {
    groups.iter().map(|g| g.expected[k].map(|e| e * g.buyers as f64)).sum()
}

/// Buyers per (segment, x, t_x, T), summed per segment in Rust (a fixed order of additions).
fn segments(ctx: &Ctx<'_>, groups: &[Group]) -> Result<Vec<SegmentForecast>, MetricsError> {
    let per = super::rfm::per_buyer_for(ctx);
    let mut st = ctx.conn.prepare(&format!(
        "SELECT s.segment, b.x, b.t_x, b.big_t, count(*) FROM _clv_buyers b JOIN ({per}) s USING (user_id) GROUP BY ALL"
    ))?;
    let rows =
        st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get::<_, u32>(2)?, r.get::<_, u32>(3)?, u(r.get(4)?))))?;
    // Summed in one fixed order (the rows may arrive out of the ORDER BY's order).
    let mut rows: Vec<(String, u32, u32, u32, u64)> = rows.collect::<Result<_, _>>()?;
    rows.sort();
    let mut out: Vec<SegmentForecast> = SEGMENTS
        .iter()
        .map(|s| SegmentForecast {
            segment: s.to_string(),
            buyers: 0,
            mean_p_alive: Some(0.0),
            expected_7d: Some(0.0),
            expected_30d: Some(0.0),
        })
        .collect();
    let add = |acc: &mut Option<f64>, v: Option<f64>, n: u64| *acc = acc.zip(v).map(|(a, v)| a + v * n as f64);
    for (s, x, t_x, big_t, n) in rows {
        // The groups come sorted by (x, t_x, T) from `prepare` (a long window has many).
        let g = groups.binary_search_by_key(&(x, t_x, big_t), |g| (g.x, g.t_x, g.big_t)).ok().map(|i| &groups[i]);
        let (Some(f), Some(g)) = (out.iter_mut().find(|f| f.segment == s), g) else {
            continue;
        };
        f.buyers += n;
        add(&mut f.mean_p_alive, g.p_alive, n);
        add(&mut f.expected_7d, g.expected[0], n);
        add(&mut f.expected_30d, g.expected[1], n);
    }
    for f in &mut out {
        f.mean_p_alive = if f.buyers == 0 { None } else { f.mean_p_alive.map(|p| p / f.buyers as f64) };
    }
    Ok(out)
}

fn top(ctx: &Ctx<'_>) -> Result<Vec<TopBuyer>, MetricsError> {
    let mut st = ctx.conn.prepare(&format!(
        "SELECT b.user_id, b.x, b.t_x, b.big_t, v.p_alive, v.exp_7d, v.exp_30d
         FROM _clv_buyers b JOIN _clv_values v USING (x, t_x, big_t)
         WHERE v.exp_30d IS NOT NULL ORDER BY v.exp_30d DESC, b.user_id LIMIT {TOP}"
    ))?;
    let rows = st.query_map([], |r| {
        Ok(TopBuyer {
            user_id: r.get(0)?,
            x: r.get(1)?,
            t_x: r.get(2)?,
            big_t: r.get(3)?,
            p_alive: r.get(4)?,
            expected_7d: r.get(5)?,
            expected_30d: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The analysis for the context's range and filter.
pub fn compute(ctx: &Ctx<'_>) -> Result<Clv, MetricsError> {
    Ok(compute_with_groups(ctx)?.0)
}

/// [`compute`], and the groups of buyers with equal summaries.
fn compute_with_groups(ctx: &Ctx<'_>) -> Result<(Clv, Vec<Group>), MetricsError> {
    let (fit, groups) = prepare(ctx.conn, &ctx.src.user_day, ctx.range.from, ctx.range.to)?;
    let segments = segments(ctx, &groups)?;
    let top = top(ctx)?;
    cleanup(ctx.conn)?;
    let (model, params, rate) = match fit.model {
        Model::BgNbd { r, alpha, a, b } => ("bgnbd", Params { r: Some(r), alpha: Some(alpha), a: Some(a), b: Some(b) }, None),
        Model::Nbd { r, alpha } => ("nbd", Params { r: Some(r), alpha: Some(alpha), ..Params::default() }, None),
        Model::Poisson { rate } => ("poisson", Params::default(), Some(rate)),
        Model::None => ("none", Params::default(), None),
    };
    let fitted = model != "none";
    let clv = Clv {
        unit: "day",
        buyers: groups.iter().map(|g| g.buyers).sum(),
        repeat_buyers: groups.iter().filter(|g| g.x > 0).map(|g| g.buyers).sum(),
        model,
        dropout_identified: model == "bgnbd",
        params,
        poisson_rate_per_day: rate,
        log_likelihood: fitted.then_some(fit.log_likelihood),
        nbd_log_likelihood: (model == "bgnbd" || model == "nbd").then_some(fit.nbd_log_likelihood),
        p_alive: spread(&groups),
        expected_7d: sum(&groups, 0).filter(|_| fitted),
        expected_30d: sum(&groups, 1).filter(|_| fitted),
        segments,
        top,
    };
    Ok((clv, groups))
}
