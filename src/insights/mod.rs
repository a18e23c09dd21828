//! Operating advice derived from the metrics.
//!
//! The shape is fixed for every source: `{"insights":[{"area","finding","action","priority",
//! "expected_impact"}]}` with `area` one of conversion, timing, segments, retention,
//! categories and `priority` 1 (most urgent) to 5. [`rules`] builds deterministic,
//! rule-based insights from the same [`Metrics`](crate::metrics::Metrics) as `ecomm analyze`;
//! they are what the report and dashboard show when no language model is configured.

pub mod facts;
pub mod rules;

use serde::{Deserialize, Serialize};

/// The areas an insight can be about.
pub const AREAS: [&str; 5] = ["conversion", "timing", "segments", "retention", "categories"];

/// One piece of advice.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Insight {
    /// One of [`AREAS`].
    pub area: String,
    /// What the numbers show (cites numbers from the metrics).
    pub finding: String,
    /// What to do about it.
    pub action: String,
    /// 1 (most urgent) to 5.
    pub priority: u8,
    /// What doing it should change.
    pub expected_impact: String,
}

/// Where a set of insights came from.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Deterministic rules ([`rules`]).
    Rules,
    /// A local language model.
    Llm,
}
