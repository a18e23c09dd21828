//! The options of the journey analyses (ordered funnel, cohorts, sessions), each parsing its own
//! value (`FromStr`) so that the CLI and the dashboard's query parameters read them the same way.
//!
//! - [`Steps`]: `pv,fav|cart,buy` — 2 to 4 steps separated by commas, each a set of behaviours
//!   joined by `|` ("either"); the sets must be disjoint.
//! - [`FunnelKey`]: `user`, `item` (the key is (user, item)) or `category` (user, category).
//! - [`Span`]: a duration `<n><s|m|h|d>` (e.g. `30m`, `1d`) or `none` (no limit).
//! - [`Breakdown`]: `segment` or `category`.
//! - [`RetentionEvent`]: `any` (any kept event) or `buy`.
//! - [`BasketOf`]: the behaviours that put a category in a user's basket: `buy`, `cart` or `cart,buy`.

use super::behavior::BEHAVIORS;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// An option value that cannot be read. Messages name the value, never a flag or parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JourneyError {
    /// A behaviour name in a step list that is not pv, fav, cart or buy.
    #[error("unknown behaviour '{0}' in the funnel steps: use pv, fav, cart or buy, e.g. pv,fav|cart,buy / 漏斗步骤中有未知行为")]
    UnknownBehavior(String),
    /// Fewer than 2 or more than 4 steps.
    #[error("'{0}' has {1} steps; a funnel has 2 to 4, e.g. pv,fav|cart,buy / 漏斗需要 2 到 4 个步骤")]
    StepCount(String, usize),
    /// A behaviour in two steps.
    #[error("'{0}' names {1} in two steps; each behaviour may appear in one step only / 同一行为不能出现在两个步骤中")]
    Overlap(String, &'static str),
    /// A step with no behaviour (`pv,,buy`).
    #[error("'{0}' has an empty step; write behaviours between the commas, e.g. pv,cart,buy / 漏斗步骤不能为空")]
    EmptyStep(String),
    /// Not user, item or category.
    #[error("unknown funnel key '{0}': use user, item or category / 未知的漏斗主体")]
    Key(String),
    /// Not a duration.
    #[error("'{0}' is not a duration: use a number with s, m, h or d (e.g. 30m, 1d), or none / 无法识别的时长")]
    Span(String),
    /// Not segment or category.
    #[error("unknown breakdown '{0}': use segment or category / 未知的拆分维度")]
    Breakdown(String),
    /// Not any or buy.
    #[error("unknown retention event '{0}': use any or buy / 未知的留存事件")]
    RetentionEvent(String),
    /// A category breakdown of a user-keyed funnel.
    #[error(
        "a category breakdown needs an item or category funnel key (a user has no single category) / 按类目拆分需要以商品或类目为漏斗主体"
    )]
    CategoryNeedsKey,
    /// A session gap of `none`.
    #[error("the session gap must be a duration such as 30m, not none / 会话间隔必须是时长")]
    GapNone,
    /// Not buy, cart or cart,buy.
    #[error("unknown basket '{0}': use buy, cart or cart,buy / 未知的购物篮行为")]
    Basket(String),
}

/// The funnel's steps: each a bit set of behaviours (bit i = [`BEHAVIORS`]`[i]`), disjoint, 2–4 of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Steps(Vec<u8>);

impl Steps {
    /// The steps' bit sets, in order.
    pub fn masks(&self) -> &[u8] {
        &self.0
    }

    /// The step a behaviour (its index in [`BEHAVIORS`]) belongs to, if any.
    pub fn step_of(&self, behavior: usize) -> Option<usize> {
        self.0.iter().position(|m| m & (1 << behavior) != 0)
    }

    /// A step's behaviours joined with `|`.
    pub fn step_text(&self, k: usize) -> String {
        (0..4).filter(|b| self.0[k] & (1 << b) != 0).map(|b| BEHAVIORS[b]).collect::<Vec<_>>().join("|")
    }
}

impl Default for Steps {
    fn default() -> Steps {
        Steps(vec![0b0001, 0b0110, 0b1000])
    }
}

impl FromStr for Steps {
    type Err = JourneyError;
    fn from_str(s: &str) -> Result<Steps, JourneyError> {
        let s = s.trim();
        let mut masks = Vec::new();
        let mut seen = 0u8;
        for step in s.split(',') {
            let mut m = 0u8;
            for name in step.split('|').map(|n| n.trim().to_ascii_lowercase()) {
                if name.is_empty() {
                    return Err(JourneyError::EmptyStep(s.to_string()));
                }
                let i = BEHAVIORS.iter().position(|b| *b == name).ok_or(JourneyError::UnknownBehavior(name))?;
                if (seen | m) & (1 << i) != 0 {
                    return Err(JourneyError::Overlap(s.to_string(), BEHAVIORS[i]));
                }
                m |= 1 << i;
            }
            seen |= m;
            masks.push(m);
        }
        if !(2..=4).contains(&masks.len()) {
            return Err(JourneyError::StepCount(s.to_string(), masks.len()));
        }
        Ok(Steps(masks))
    }
}

impl fmt::Display for Steps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = (0..self.0.len()).map(|k| self.step_text(k)).collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for Steps {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..self.0.len()).map(|k| self.step_text(k)))
    }
}

/// What one funnel chain follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FunnelKey {
    /// A user.
    #[default]
    User,
    /// One item of one user.
    Item,
    /// One category of one user.
    Category,
}

impl FromStr for FunnelKey {
    type Err = JourneyError;
    fn from_str(s: &str) -> Result<FunnelKey, JourneyError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "user" => Ok(FunnelKey::User),
            "item" => Ok(FunnelKey::Item),
            "category" => Ok(FunnelKey::Category),
            other => Err(JourneyError::Key(other.to_string())),
        }
    }
}

impl fmt::Display for FunnelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FunnelKey::User => "user",
            FunnelKey::Item => "item",
            FunnelKey::Category => "category",
        })
    }
}

/// A duration in seconds, or no limit (`None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span(pub Option<i64>);

/// Longest duration accepted: 100 years (keeps every sum of timestamps far from overflow).
const MAX_SPAN_SECS: i64 = 100 * 366 * 86_400;

impl Span {
    /// Seconds, `None` for no limit.
    pub fn secs(&self) -> Option<i64> {
        self.0
    }
}

impl FromStr for Span {
    type Err = JourneyError;
    fn from_str(s: &str) -> Result<Span, JourneyError> {
        let t = s.trim().to_ascii_lowercase();
        if t == "none" {
            return Ok(Span(None));
        }
        let bad = || JourneyError::Span(s.trim().to_string());
        let unit = match t.chars().last() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3_600,
            Some('d') => 86_400,
            _ => return Err(bad()),
        };
        let n: i64 = t[..t.len() - 1].parse().map_err(|_| bad())?;
        match n.checked_mul(unit) {
            Some(v) if (0..=MAX_SPAN_SECS).contains(&v) => Ok(Span(Some(v))),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("none"),
            Some(v) if v % 86_400 == 0 && v > 0 => write!(f, "{}d", v / 86_400),
            Some(v) if v % 3_600 == 0 && v > 0 => write!(f, "{}h", v / 3_600),
            Some(v) if v % 60 == 0 && v > 0 => write!(f, "{}m", v / 60),
            Some(v) => write!(f, "{v}s"),
        }
    }
}

/// How the ordered funnel is broken down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Breakdown {
    /// By the user's RFM segment over the whole window.
    Segment,
    /// By the key's category.
    Category,
}

impl FromStr for Breakdown {
    type Err = JourneyError;
    fn from_str(s: &str) -> Result<Breakdown, JourneyError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "segment" => Ok(Breakdown::Segment),
            "category" => Ok(Breakdown::Category),
            other => Err(JourneyError::Breakdown(other.to_string())),
        }
    }
}

/// Which events start a cohort or count as a return.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RetentionEvent {
    /// Any kept event.
    #[default]
    Any,
    /// A buy.
    Buy,
}

impl FromStr for RetentionEvent {
    type Err = JourneyError;
    fn from_str(s: &str) -> Result<RetentionEvent, JourneyError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "any" => Ok(RetentionEvent::Any),
            "buy" => Ok(RetentionEvent::Buy),
            other => Err(JourneyError::RetentionEvent(other.to_string())),
        }
    }
}

/// The behaviours that put a category in a user's basket (bit i = [`BEHAVIORS`]`[i]`): buy, cart or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BasketOf(pub u8);

impl BasketOf {
    /// The behaviours' codes (their index in [`BEHAVIORS`], as `user_seq.b` stores them), in funnel order.
    pub fn codes(&self) -> impl Iterator<Item = usize> {
        let mask = self.0;
        (0..BEHAVIORS.len()).filter(move |i| mask >> i & 1 == 1)
    }

    /// The behaviour names, in funnel order.
    pub fn names(&self) -> Vec<&'static str> {
        self.codes().map(|i| BEHAVIORS[i]).collect()
    }
}

impl Default for BasketOf {
    fn default() -> BasketOf {
        BasketOf(1 << 3)
    }
}

impl fmt::Display for BasketOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

impl Serialize for BasketOf {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for BasketOf {
    type Err = JourneyError;
    fn from_str(s: &str) -> Result<BasketOf, JourneyError> {
        let mut mask = 0u8;
        for part in s.split(',') {
            mask |= match part.trim().to_ascii_lowercase().as_str() {
                "cart" => 1 << 2,
                "buy" => 1 << 3,
                _ => return Err(JourneyError::Basket(s.trim().to_string())),
            };
        }
        Ok(BasketOf(mask))
    }
}

/// Every option of the journey analyses, validated together.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Journey {
    /// The ordered funnel's steps.
    pub steps: Steps,
    /// What a chain follows.
    pub by: FunnelKey,
    /// The longest time from step 1 to the last step (`None`: no limit).
    pub window: Span,
    /// How the ordered funnel is broken down, if at all.
    pub breakdown: Option<Breakdown>,
    /// What puts a user in a cohort.
    pub retention_start: RetentionEvent,
    /// What counts as a return.
    pub retention_return: RetentionEvent,
    /// The gap after which a new session starts (more than this, not equal).
    pub session_gap: Span,
    /// What puts a category in a user's basket (the category association).
    pub basket: BasketOf,
    /// The fewest users a rule's pair needs to be listed.
    pub min_pair_users: u64,
    /// The category whose "bought together" list the association adds, if any.
    pub bought_with: Option<i64>,
}

impl Default for Journey {
    fn default() -> Journey {
        Journey {
            steps: Steps::default(),
            by: FunnelKey::User,
            window: Span(Some(86_400)),
            breakdown: None,
            retention_start: RetentionEvent::Any,
            retention_return: RetentionEvent::Any,
            session_gap: Span(Some(30 * 60)),
            basket: BasketOf::default(),
            min_pair_users: 5,
            bought_with: None,
        }
    }
}

impl Journey {
    /// Checks the options that depend on each other.
    pub fn validate(self) -> Result<Journey, JourneyError> {
        if self.breakdown == Some(Breakdown::Category) && self.by == FunnelKey::User {
            return Err(JourneyError::CategoryNeedsKey);
        }
        if self.session_gap.0.is_none() {
            return Err(JourneyError::GapNone);
        }
        Ok(self)
    }

    /// The session gap in seconds.
    pub fn gap_secs(&self) -> i64 {
        self.session_gap.0.unwrap_or(30 * 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_and_print() {
        let s: Steps = "pv, fav|CART ,buy".parse().unwrap();
        assert_eq!(s, Steps::default());
        assert_eq!(s.to_string(), "pv,fav|cart,buy");
        assert_eq!(s.step_of(2), Some(1));
        assert!(matches!("pv,pv|buy".parse::<Steps>(), Err(JourneyError::Overlap(_, "pv"))));
        assert!(matches!("pv".parse::<Steps>(), Err(JourneyError::StepCount(_, 1))));
        assert!(matches!("pv,fav,cart,buy,pv".parse::<Steps>(), Err(JourneyError::Overlap(..))));
        assert!(matches!("pv,,buy".parse::<Steps>(), Err(JourneyError::EmptyStep(_))));
        assert!(matches!("pv,click".parse::<Steps>(), Err(JourneyError::UnknownBehavior(_))));
    }

    #[test]
    fn spans() {
        assert_eq!("1d".parse::<Span>().unwrap(), Span(Some(86_400)));
        assert_eq!("30m".parse::<Span>().unwrap().to_string(), "30m");
        assert_eq!("90s".parse::<Span>().unwrap().to_string(), "90s");
        assert_eq!("none".parse::<Span>().unwrap(), Span(None));
        for bad in ["", "d", "1w", "-1h", "1.5h", "99999999999999d"] {
            assert!(bad.parse::<Span>().is_err(), "{bad}");
        }
    }

    #[test]
    fn validate() {
        let j = Journey { breakdown: Some(Breakdown::Category), ..Journey::default() };
        assert_eq!(j.validate(), Err(JourneyError::CategoryNeedsKey));
        let j = Journey { breakdown: Some(Breakdown::Category), by: FunnelKey::Item, ..Journey::default() };
        assert!(j.validate().is_ok());
    }
}
