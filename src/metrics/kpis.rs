//! **kpis**: headline numbers derived from the other analyses (KPI cards, reports, the fact
//! sheet): pv events, UV (distinct users), buy events, buyers, **overall conversion** = buy users
//! / pv users, the repurchase rate, the **average day-1 retention** = mean of `retained / cohort`
//! over dates with a non-empty cohort, and the **peak hour** = the hour with the most events
//! (ties: the earlier hour).

use super::hourly::Hour;
use super::repurchase::Repurchase;
use super::retention::Retention;
use super::source::ratio;
use super::sums::Sums;
use serde::Serialize;

/// Headline numbers derived from the metrics above (for KPI cards and reports).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Kpis {
    /// pv events.
    pub pv: u64,
    /// Distinct users (UV).
    pub uv: u64,
    /// buy events.
    pub buys: u64,
    /// Users with ≥1 buy.
    pub buyers: u64,
    /// buy users / pv users.
    pub pv_to_buy_conversion: f64,
    /// repeat_buyers / buyers.
    pub repurchase_rate: f64,
    /// Mean day-1 retention over dates with a non-empty cohort.
    pub avg_day1_retention: f64,
    /// Hour with most events (ties: earlier hour).
    pub peak_hour: u32,
}

/// Derives the headline numbers.
pub fn compute(sums: &Sums, hourly: &[Hour], retention: &[Retention], repurchase: &Repurchase) -> Kpis {
    let cohorts: Vec<&Retention> = retention.iter().filter(|r| r.cohort > 0).collect();
    let avg_ret = if cohorts.is_empty() { 0.0 } else { cohorts.iter().map(|r| r.rate).sum::<f64>() / cohorts.len() as f64 };
    let peak_hour =
        hourly.iter().map(|h| (h.pv + h.fav + h.cart + h.buy, h.hour)).fold((0u64, 0u32), |best, x| if x.0 > best.0 { x } else { best }).1;
    Kpis {
        pv: sums.stage_events[0],
        uv: sums.users,
        buys: sums.stage_events[3],
        buyers: sums.stage_users[3],
        pv_to_buy_conversion: ratio(sums.stage_users[3], sums.stage_users[0]),
        repurchase_rate: repurchase.rate,
        avg_day1_retention: avg_ret,
        peak_hour,
    }
}
