//! The event filter: which behaviours and categories an answer counts, besides its date range.
//!
//! A filter keeps only the matching events, and every metric is then computed over the kept
//! events with its usual definition, exactly as if the DB held only them (see `metrics`).

use super::behavior::BEHAVIORS;
use serde::Serialize;

/// A filter that cannot be built from what the user gave.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterError {
    /// A behaviour name that is not pv, fav, cart or buy.
    #[error("unknown behaviour '{0}': use pv, fav, cart or buy / 未知行为类型")]
    UnknownBehavior(String),
    /// Too many categories in one filter.
    #[error("at most {max} categories per filter, got {got} / 类目过多")]
    TooManyCategories {
        /// The limit.
        max: usize,
        /// Asked for.
        got: usize,
    },
}

/// Which events the metrics count besides the date range (see the module docs). Empty lists
/// mean "all".
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Behaviours kept, in pv, fav, cart, buy order, no repeats (empty: all four).
    pub behaviors: Vec<String>,
    /// Categories kept, ascending, no repeats (empty: all).
    pub categories: Vec<i64>,
}

/// Most categories one filter may name.
pub const MAX_FILTER_CATEGORIES: usize = 50;

impl Filter {
    /// A filter from user input: behaviour names (any case, any order, repeats allowed; all four
    /// means no behaviour filter) and category ids.
    pub fn new<S: AsRef<str>>(behaviors: &[S], categories: &[i64]) -> Result<Filter, FilterError> {
        let mut keep = [false; 4];
        for b in behaviors {
            let b = b.as_ref().trim().to_ascii_lowercase();
            match BEHAVIORS.iter().position(|x| *x == b) {
                Some(i) => keep[i] = true,
                None => return Err(FilterError::UnknownBehavior(b)),
            }
        }
        let behaviors = if keep.iter().all(|k| *k) {
            vec![]
        } else {
            BEHAVIORS.iter().zip(keep).filter(|(_, k)| *k).map(|(b, _)| b.to_string()).collect()
        };
        let mut categories = categories.to_vec();
        categories.sort_unstable();
        categories.dedup();
        if categories.len() > MAX_FILTER_CATEGORIES {
            return Err(FilterError::TooManyCategories { max: MAX_FILTER_CATEGORIES, got: categories.len() });
        }
        Ok(Filter { behaviors, categories })
    }

    /// True when the filter keeps every event.
    pub fn is_all(&self) -> bool {
        self.behaviors.is_empty() && self.categories.is_empty()
    }

    /// Whether behaviour `b` is kept.
    pub fn keeps(&self, b: &str) -> bool {
        self.behaviors.is_empty() || self.behaviors.iter().any(|x| x == b)
    }
}
