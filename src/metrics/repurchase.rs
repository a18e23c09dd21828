//! **repurchase**: `buyers` = users with ≥1 buy event; `repeat_buyers` = users with ≥2 buy
//! events; repurchase rate = repeat_buyers / buyers.

use super::source::ratio;
use super::sums::Sums;
use serde::Serialize;

/// Repurchase.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Repurchase {
    /// Users with ≥1 buy.
    pub buyers: u64,
    /// Users with ≥2 buys.
    pub repeat_buyers: u64,
    /// repeat_buyers / buyers.
    pub rate: f64,
}

/// From the shared sums.
pub fn compute(sums: &Sums) -> Repurchase {
    let (buyers, repeat) = (sums.stage_users[3], sums.repeat_buyers);
    Repurchase { buyers, repeat_buyers: repeat, rate: ratio(repeat, buyers) }
}
