//! The journey analyses' options, shared by analyze, report and insights: clap only points at
//! each option's own parser (`FromStr` in `domain::journey`).

use crate::domain::journey::{BasketOf, Breakdown, FunnelKey, Journey, JourneyError, RetentionEvent, Span, Steps};
use clap::Args;

/// Options of the ordered funnel, cohorts, sessions and the category association.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Journey and basket analyses (ordered funnel, cohorts, sessions, association)")]
pub struct JourneyArgs {
    /// Ordered funnel steps: 2 to 4, comma-separated, in order; `|` means "either"
    /// (e.g. pv,cart,buy or pv,fav|cart,buy). A behaviour may be in one step only.
    #[arg(long, value_name = "STEPS", default_value = "pv,fav|cart,buy")]
    pub funnel_steps: Steps,
    /// What one funnel chain follows: a user, one item of a user (view X, then fav/cart X, then
    /// buy X), or one category of a user.
    #[arg(long, value_name = "user|item|category", default_value = "user")]
    pub funnel_by: FunnelKey,
    /// Longest time from step 1 to the last step: a number with s, m, h or d (30m, 1d, 7d), or none.
    #[arg(long, value_name = "DURATION", default_value = "1d")]
    pub funnel_window: Span,
    /// Break the ordered funnel down by the user's RFM segment, or by category (needs
    /// --funnel-by item or category).
    #[arg(long, value_name = "segment|category")]
    pub funnel_breakdown: Option<Breakdown>,
    /// What puts a user in a cohort: their first event of any kind, or their first buy.
    #[arg(long, value_name = "any|buy", default_value = "any")]
    pub retention_start: RetentionEvent,
    /// What counts as coming back in the cohort table: any event, or a buy.
    #[arg(long, value_name = "any|buy", default_value = "any")]
    pub retention_return: RetentionEvent,
    /// A gap longer than this between two events of a user starts a new session (e.g. 30m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    pub session_gap: Span,
    /// What puts a category in a user's basket for the category association: a buy, a cart, or either.
    #[arg(long, value_name = "buy|cart|cart,buy", default_value = "buy")]
    pub basket: BasketOf,
    /// The fewest users whose baskets hold both categories of a rule for it to be listed.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub min_pair_users: u64,
    /// Also list the categories most often in the same baskets as this one ("bought together").
    #[arg(long, value_name = "CATEGORY_ID")]
    pub bought_with: Option<i64>,
}

impl JourneyArgs {
    /// The validated options.
    pub fn journey(&self) -> Result<Journey, JourneyError> {
        Journey {
            steps: self.funnel_steps.clone(),
            by: self.funnel_by,
            window: self.funnel_window,
            breakdown: self.funnel_breakdown,
            retention_start: self.retention_start,
            retention_return: self.retention_return,
            session_gap: self.session_gap,
            basket: self.basket,
            min_pair_users: self.min_pair_users,
            bought_with: self.bought_with,
        }
        .validate()
    }
}
