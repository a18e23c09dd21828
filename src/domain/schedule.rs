//! When scheduled reports run (`ecomm serve --schedule`), in the DB's time zone, and which days
//! each run reports. No I/O: times come in, times go out.
//!
//! - `hourly`: at every full hour; a run reports the day of the hour just ended (the day so far).
//! - `daily HH:MM`: every day at HH:MM; a run reports the previous day.
//! - `weekly mon HH:MM` (mon..sun): once a week; a run reports the 7 days before its day.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use std::str::FromStr;

/// A report schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Every full hour.
    Hourly,
    /// Every day at this time.
    Daily(NaiveTime),
    /// Every week on this day at this time.
    Weekly(Weekday, NaiveTime),
}

impl FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Schedule, String> {
        let bad = || format!("'{s}' is not a schedule; use hourly, \"daily 08:00\" or \"weekly mon 09:00\" / 定时格式不正确");
        let words: Vec<&str> = s.split_whitespace().collect();
        let time = |t: &str| NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| bad());
        match words.as_slice() {
            [w] if w.eq_ignore_ascii_case("hourly") => Ok(Schedule::Hourly),
            [w, t] if w.eq_ignore_ascii_case("daily") => Ok(Schedule::Daily(time(t)?)),
            [w, d, t] if w.eq_ignore_ascii_case("weekly") => Ok(Schedule::Weekly(d.parse::<Weekday>().map_err(|_| bad())?, time(t)?)),
            _ => Err(bad()),
        }
    }
}

impl Schedule {
    /// The latest time the schedule was due at or before `now` (local time).
    pub fn last_due(&self, now: NaiveDateTime) -> NaiveDateTime {
        match *self {
            Schedule::Hourly => now.date().and_hms_opt(now.hour(), 0, 0).expect("hour"),
            Schedule::Daily(t) => {
                let today = now.date().and_time(t);
                if today <= now {
                    today
                } else {
                    today - Duration::days(1)
                }
            }
            Schedule::Weekly(day, t) => {
                let back = (now.weekday().num_days_from_monday() + 7 - day.num_days_from_monday()) % 7;
                let due = (now.date() - Duration::days(back as i64)).and_time(t);
                if due <= now {
                    due
                } else {
                    due - Duration::days(7)
                }
            }
        }
    }

    /// The days a run due at `due` reports: (first, last).
    pub fn period(&self, due: NaiveDateTime) -> (NaiveDate, NaiveDate) {
        match self {
            Schedule::Hourly => {
                let d = (due - Duration::minutes(1)).date();
                (d, d)
            }
            Schedule::Daily(_) => {
                let d = due.date() - Duration::days(1);
                (d, d)
            }
            Schedule::Weekly(..) => (due.date() - Duration::days(7), due.date() - Duration::days(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!("hourly".parse::<Schedule>(), Ok(Schedule::Hourly));
        assert_eq!("daily 08:00".parse::<Schedule>(), Ok(Schedule::Daily(NaiveTime::from_hms_opt(8, 0, 0).unwrap())));
        assert_eq!("Weekly MON 09:30".parse::<Schedule>(), Ok(Schedule::Weekly(Weekday::Mon, NaiveTime::from_hms_opt(9, 30, 0).unwrap())));
        for bad in ["", "daily", "daily 25:00", "weekly funday 09:00", "monthly 1 08:00", "hourly 08:00"] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn last_due_and_period() {
        let daily: Schedule = "daily 08:00".parse().unwrap();
        assert_eq!(daily.last_due(at("2017-12-03 07:59")), at("2017-12-02 08:00"));
        assert_eq!(daily.last_due(at("2017-12-03 08:00")), at("2017-12-03 08:00"));
        assert_eq!(
            daily.period(at("2017-12-03 08:00")),
            (NaiveDate::from_ymd_opt(2017, 12, 2).unwrap(), NaiveDate::from_ymd_opt(2017, 12, 2).unwrap())
        );
        // 2017-12-04 is a Monday.
        let weekly: Schedule = "weekly mon 09:00".parse().unwrap();
        assert_eq!(weekly.last_due(at("2017-12-06 12:00")), at("2017-12-04 09:00"));
        assert_eq!(weekly.last_due(at("2017-12-04 08:00")), at("2017-11-27 09:00"));
        let (a, b) = weekly.period(at("2017-12-04 09:00"));
        assert_eq!((a.to_string(), b.to_string()), ("2017-11-27".into(), "2017-12-03".into()));
        assert_eq!(Schedule::Hourly.last_due(at("2017-12-03 00:30")), at("2017-12-03 00:00"));
        let (a, _) = Schedule::Hourly.period(at("2017-12-03 00:00"));
        assert_eq!(a.to_string(), "2017-12-02", "the midnight run reports the day that just ended");
    }
}
