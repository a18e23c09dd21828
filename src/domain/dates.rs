//! Dates as users type them, and the date range they ask for.
//!
//! One parser for every edge: the CLI (`--from`, `--to`, `--start`, `--end`) and the HTTP API
//! (`from`, `to`) both go through [`parse_date`] and [`DateRange`]. The errors name the value,
//! never a flag or a parameter: each edge says which of its inputs was wrong.

use chrono::NaiveDate;
use serde::Deserialize;
use std::str::FromStr;

/// A value that is not a `YYYY-MM-DD` date.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("'{input}' is not a date; use YYYY-MM-DD, e.g. 2017-11-25")]
pub struct DateError {
    /// What was given.
    pub input: String,
}

/// Parses `YYYY-MM-DD` (surrounding spaces ignored).
pub fn parse_date(s: &str) -> Result<NaiveDate, DateError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| DateError { input: s.to_string() })
}

/// A requested range of local dates; a missing end means "the data window's" (see
/// [`super::Range::new`], which checks it against a DB's window).
///
/// From text: `2017-11-25..2017-12-03`, `2017-11-25..`, `..2017-12-03`, `..`, or one date
/// (a one-day range). From serde: an object with optional `from` and `to` strings (empty
/// strings mean "not given").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "RawRange")]
pub struct DateRange {
    /// First date, inclusive.
    pub from: Option<NaiveDate>,
    /// Last date, inclusive.
    pub to: Option<NaiveDate>,
}

impl DateRange {
    /// A range from optional ends (reversed ends are caught against the window, where the
    /// defaults are known).
    pub fn new(from: Option<NaiveDate>, to: Option<NaiveDate>) -> DateRange {
        DateRange { from, to }
    }
}

/// Which end of a range a bad date was given for.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RangeParseError {
    /// The first date.
    #[error("first date: {0}")]
    From(DateError),
    /// The last date.
    #[error("last date: {0}")]
    To(DateError),
}

fn optional(s: Option<&str>) -> Result<Option<NaiveDate>, DateError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_date(s).map(Some),
    }
}

impl FromStr for DateRange {
    type Err = RangeParseError;

    fn from_str(s: &str) -> Result<DateRange, RangeParseError> {
        let (a, b) = match s.split_once("..") {
            Some((a, b)) => (a, b),
            None => (s, s),
        };
        Ok(DateRange { from: optional(Some(a)).map_err(RangeParseError::From)?, to: optional(Some(b)).map_err(RangeParseError::To)? })
    }
}

/// The serde form of a [`DateRange`].
#[derive(Deserialize)]
struct RawRange {
    from: Option<String>,
    to: Option<String>,
}

impl TryFrom<RawRange> for DateRange {
    type Error = RangeParseError;

    fn try_from(r: RawRange) -> Result<DateRange, RangeParseError> {
        Ok(DateRange {
            from: optional(r.from.as_deref()).map_err(RangeParseError::From)?,
            to: optional(r.to.as_deref()).map_err(RangeParseError::To)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn parses_dates_and_ranges() {
        assert_eq!(parse_date(" 2017-11-25 "), Ok(d("2017-11-25")));
        assert_eq!(parse_date("2017-13-01").unwrap_err().to_string(), "'2017-13-01' is not a date; use YYYY-MM-DD, e.g. 2017-11-25");
        let r: DateRange = "2017-11-25..2017-12-03".parse().unwrap();
        assert_eq!(r, DateRange::new(Some(d("2017-11-25")), Some(d("2017-12-03"))));
        assert_eq!("..2017-12-03".parse::<DateRange>().unwrap(), DateRange::new(None, Some(d("2017-12-03"))));
        assert_eq!("2017-12-01".parse::<DateRange>().unwrap(), DateRange::new(Some(d("2017-12-01")), Some(d("2017-12-01"))));
        assert!(matches!("x..2017-12-03".parse::<DateRange>(), Err(RangeParseError::From(_))));
        let j: DateRange = serde_json::from_str(r#"{"from": "", "to": "2017-12-03"}"#).unwrap();
        assert_eq!(j, DateRange::new(None, Some(d("2017-12-03"))));
        assert!(serde_json::from_str::<DateRange>(r#"{"to": "yesterday"}"#).is_err());
    }
}
