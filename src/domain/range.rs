//! The data window of a DB and the analysis range inside it.

use chrono::NaiveDate;
use serde::Serialize;

use super::dates::DateRange;

/// The analysis window and time zone recorded by the first ingest.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Window {
    /// First local date.
    pub start: NaiveDate,
    /// Last local date (inclusive).
    pub end: NaiveDate,
    /// IANA name or fixed offset.
    pub timezone: String,
}

/// A requested range that does not fit the data. The messages name dates, not flags: the CLI and
/// the HTTP API each say which of their inputs to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RangeError {
    /// from > to.
    #[error("the first date {0} is after the last date {1}; swap them / 开始日期晚于结束日期")]
    Reversed(NaiveDate, NaiveDate),
    /// The range misses the data.
    #[error("the range {0}..{1} does not overlap the data window {2}..{3}; pick dates inside the window / 日期范围与数据窗口没有交集")]
    OutsideWindow(NaiveDate, NaiveDate, NaiveDate, NaiveDate),
}

/// The analysis range actually used (the request clipped to the window).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Range {
    /// First date.
    pub from: NaiveDate,
    /// Last date (inclusive).
    pub to: NaiveDate,
    /// Time zone of dates and hours.
    pub timezone: String,
    /// The DB's full window.
    pub window_start: NaiveDate,
    /// The DB's full window.
    pub window_end: NaiveDate,
}

impl Range {
    /// Validates `[from, to]` against the DB's window; missing ends default to the window's.
    pub fn new(window: &Window, asked: DateRange) -> Result<Range, RangeError> {
        let f = asked.from.unwrap_or(window.start);
        let t = asked.to.unwrap_or(window.end);
        if f > t {
            return Err(RangeError::Reversed(f, t));
        }
        if t < window.start || f > window.end {
            return Err(RangeError::OutsideWindow(f, t, window.start, window.end));
        }
        Ok(Range {
            from: f.max(window.start),
            to: t.min(window.end),
            timezone: window.timezone.clone(),
            window_start: window.start,
            window_end: window.end,
        })
    }

    /// Dates in the range.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> {
        self.from.iter_days().take_while({
            let to = self.to;
            move |d| *d <= to
        })
    }
}
