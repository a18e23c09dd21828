//! **funnel**: for each stage pv, fav, cart, buy: event count and distinct users with at least
//! one such event. `rate_from_prev` = users of the stage / users of the previous stage;
//! `rate_from_first` = users of the stage / pv users. The stages are counted independently
//! (not an ordered funnel), so a later stage can exceed an earlier one (cart > fav is normal).
//! **Overall conversion** = buy users / pv users (see [`super::kpis`]).

use super::source::ratio;
use super::sums::Sums;
use crate::domain::BEHAVIORS;
use serde::Serialize;

/// One funnel stage.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Stage {
    /// pv, fav, cart or buy.
    pub stage: String,
    /// Events.
    pub events: u64,
    /// Distinct users.
    pub users: u64,
    /// users / previous stage's users (1 for pv).
    pub rate_from_prev: f64,
    /// users / pv users.
    pub rate_from_first: f64,
}

/// The four stages from the shared sums.
pub fn compute(sums: &Sums) -> Vec<Stage> {
    let (users, events) = (sums.stage_users, sums.stage_events);
    BEHAVIORS
        .iter()
        .enumerate()
        .map(|(i, s)| Stage {
            stage: s.to_string(),
            events: events[i],
            users: users[i],
            rate_from_prev: if i == 0 { ratio(users[0], users[0]) } else { ratio(users[i], users[i - 1]) },
            rate_from_first: ratio(users[i], users[0]),
        })
        .collect()
}
