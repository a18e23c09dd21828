//! Time zones for the analysis.
//!
//! The bundled DuckDB has no ICU, so it knows no time zones. ecomm resolves every
//! timestamp to local wall-clock time here, in Rust, and hands DuckDB plain
//! "local seconds" (`ts + utc_offset`) from which dates and hours are plain
//! arithmetic. Zones with daylight saving time are handled exactly: the offset
//! is looked up per timestamp (through a small cache of 15-minute buckets,
//! which falls back to an exact lookup in any bucket that holds a transition).

use chrono::{NaiveDate, NaiveDateTime, Offset, TimeZone};
use std::fmt;

/// Timestamps further than this from the epoch (about ±250,000 years) are
/// outside chrono's range; they get offset 0 (they are always out of window).
const CHRONO_SAFE_SECS: i64 = 8_000_000_000_000;

/// An analysis time zone: an IANA name or a fixed UTC offset.
#[derive(Clone, Debug, PartialEq)]
pub enum Zone {
    /// A fixed offset in seconds east of UTC, e.g. `+08:00`.
    Fixed(i32),
    /// An IANA zone such as `Asia/Shanghai` or `America/New_York`.
    Named(chrono_tz::Tz),
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Named(tz) => write!(f, "{}", tz.name()),
            Zone::Fixed(secs) => {
                let sign = if *secs < 0 { '-' } else { '+' };
                let a = secs.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
            }
        }
    }
}

impl Zone {
    /// Parses `Asia/Shanghai`, `UTC`, `+08:00`, `-0530` or `+8`.
    pub fn parse(s: &str) -> Result<Zone, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Zone::Fixed(0));
        }
        if let Some(rest) = t.strip_prefix('+').map(|r| (1, r)).or_else(|| t.strip_prefix('-').map(|r| (-1, r))) {
            let (sign, body) = rest;
            let (h, m) = if let Some((h, m)) = body.split_once(':') {
                (h, m)
            } else if body.len() == 4 {
                body.split_at(2)
            } else {
                (body, "0")
            };
            let h: i32 = h.parse().map_err(|_| bad_zone(s))?;
            let m: i32 = m.parse().map_err(|_| bad_zone(s))?;
            if !(0..=14).contains(&h) || !(0..60).contains(&m) {
                return Err(bad_zone(s));
            }
            return Ok(Zone::Fixed(sign * (h * 3600 + m * 60)));
        }
        t.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| bad_zone(s))
    }

    /// Seconds east of UTC at the instant `ts` (Unix seconds).
    pub fn offset_at(&self, ts: i64) -> i32 {
        match self {
            Zone::Fixed(o) => *o,
            Zone::Named(tz) => {
                if !(-CHRONO_SAFE_SECS..=CHRONO_SAFE_SECS).contains(&ts) {
                    return 0;
                }
                match chrono::DateTime::from_timestamp(ts, 0) {
                    Some(dt) => tz.offset_from_utc_datetime(&dt.naive_utc()).fix().local_minus_utc(),
                    None => 0,
                }
            }
        }
    }

    /// The first instant (Unix seconds) of local date `d`. When local midnight
    /// does not exist (a DST gap at 00:00), the day starts at the first local
    /// minute that does.
    pub fn day_start_utc(&self, d: NaiveDate) -> i64 {
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight");
        match self {
            Zone::Fixed(o) => midnight.and_utc().timestamp() - *o as i64,
            Zone::Named(tz) => {
                for minute in 0..(24 * 60) {
                    let local = midnight + chrono::Duration::minutes(minute);
                    if let Some(dt) = tz.from_local_datetime(&local).earliest() {
                        return dt.timestamp();
                    }
                }
                midnight.and_utc().timestamp()
            }
        }
    }

    /// Local wall-clock time of `ts`.
    pub fn local(&self, ts: i64) -> Option<NaiveDateTime> {
        chrono::DateTime::from_timestamp(ts + self.offset_at(ts) as i64, 0).map(|d| d.naive_utc())
    }
}

fn bad_zone(s: &str) -> String {
    format!("unknown time zone '{s}': use an IANA name such as Asia/Shanghai or America/New_York, or a fixed offset such as +08:00")
}

/// A per-thread cache of UTC offsets by 15-minute bucket.
pub struct OffsetCache {
    zone: Zone,
    tags: Vec<i64>,
    offs: Vec<i32>,
}

const SLOTS: usize = 4096;
const BUCKET: i64 = 900;

impl OffsetCache {
    /// A cache for `zone`.
    pub fn new(zone: &Zone) -> Self {
        OffsetCache { zone: zone.clone(), tags: vec![i64::MIN; SLOTS], offs: vec![0; SLOTS] }
    }

    /// Seconds east of UTC at `ts`, exact for every zone.
    #[inline]
    pub fn offset(&mut self, ts: i64) -> i32 {
        if let Zone::Fixed(o) = self.zone {
            return o;
        }
        let bucket = ts.div_euclid(BUCKET);
        let slot = (bucket as usize) & (SLOTS - 1);
        if self.tags[slot] != bucket {
            // Saturating: a bucket at the ends of i64 reaches past them (found by fuzzing).
            let start = bucket.saturating_mul(BUCKET);
            let a = self.zone.offset_at(start);
            let b = self.zone.offset_at(start.saturating_add(BUCKET - 1));
            self.tags[slot] = bucket;
            self.offs[slot] = if a == b { a } else { i32::MIN };
        }
        match self.offs[slot] {
            i32::MIN => self.zone.offset_at(ts),
            o => o,
        }
    }

    /// Local seconds: `ts` plus its UTC offset.
    #[inline]
    pub fn local_secs(&mut self, ts: i64) -> i64 {
        ts.saturating_add(self.offset(ts) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_offsets() {
        assert_eq!(Zone::parse("+08:00").unwrap(), Zone::Fixed(8 * 3600));
        assert_eq!(Zone::parse("-0530").unwrap(), Zone::Fixed(-(5 * 3600 + 1800)));
        assert_eq!(Zone::parse("UTC").unwrap(), Zone::Fixed(0));
        assert_eq!(Zone::parse("Asia/Shanghai").unwrap().to_string(), "Asia/Shanghai");
        assert_eq!(Zone::Fixed(-(5 * 3600 + 1800)).to_string(), "-05:30");
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert!(Zone::parse("+25:00").is_err());
    }

    #[test]
    fn new_york_dst_is_exact() {
        let z = Zone::parse("America/New_York").unwrap();
        let mut c = OffsetCache::new(&z);
        // 2021-03-14 06:59:59Z is 01:59:59 EST; one second later it is 03:00:00 EDT.
        assert_eq!(c.offset(1_615_705_199), -5 * 3600);
        assert_eq!(c.offset(1_615_705_200), -4 * 3600);
        let d = NaiveDate::from_ymd_opt(2021, 3, 14).unwrap();
        assert_eq!(z.day_start_utc(d), 1_615_698_000);
        let shanghai = Zone::parse("Asia/Shanghai").unwrap();
        let mut c = OffsetCache::new(&shanghai);
        for ts in [i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX] {
            assert!(c.offset(ts).abs() <= 24 * 3600, "offset at {ts}");
            assert!(c.local_secs(ts) == ts.saturating_add(c.offset(ts) as i64));
        }
        assert_eq!(shanghai.day_start_utc(NaiveDate::from_ymd_opt(2017, 11, 25).unwrap()), 1_511_539_200);
    }
}
