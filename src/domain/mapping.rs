//! How a source's record becomes a row: which of its columns holds each of the five fields
//! (`--columns`), which codes mean which behaviour (`--behavior-map`), and how its times are
//! written (`--time-format`, `--time-unit`). Every source (CSV, sheets, JSON, BSON, Parquet) turns a
//! record into five [`Value`]s and [`Mapping::row`] applies the same rules to all of them:
//!
//! - `user_id`, `item_id`, `category_id`: a non-negative integer (a whole-number float, as
//!   spreadsheets store numbers, or a text of digits, trimmed); anything else is `malformed`.
//! - `behavior_type`: without a map, pv/fav/cart/buy compared case-insensitively (anything else is
//!   `bad_behavior`, rule 3); with a map, only the map's codes (trimmed, case-insensitive), and a
//!   code the map does not name is `malformed` (the source could not be mapped).
//! - `timestamp`: Unix seconds (`--time-unit s`, the default) or milliseconds (`ms`, floored to the
//!   second) as an integer or a text of digits; with `--time-format`, a text in that strftime
//!   format read as wall-clock time in the analysis zone (`--tz`) unless the format carries an
//!   offset (`%z`); a date-time value of the source (a spreadsheet date, a Parquet timestamp
//!   without zone) is wall-clock time in the analysis zone, an instant (BSON `$date`, a Parquet
//!   timestamp adjusted to UTC) is taken as is. A wall-clock time that the zone skips (a DST gap)
//!   is `malformed`; one it repeats takes the earlier instant.

use super::rows::Reason;
use super::tz::Zone;
use super::BEHAVIORS;
use chrono::{NaiveDateTime, TimeZone};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// The five fields of a row, in the canonical column order.
pub const FIELDS: [&str; 5] = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"];

/// A mapping option that cannot be understood (the message names the value, never a flag).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    /// A `field=column` pair that is not one.
    #[error("'{0}' is not field=column (fields: user_id, item_id, category_id, behavior_type, timestamp; a column is a header name or a 1-based position) / 应为 字段=列名 或 字段=列号")]
    ColumnPair(String),
    /// An unknown field name.
    #[error("unknown field '{0}'; the fields are user_id, item_id, category_id, behavior_type, timestamp / 未知字段")]
    Field(String),
    /// The same field twice.
    #[error("field '{0}' is mapped twice / 字段重复映射")]
    Repeated(String),
    /// A `code=behaviour` pair that is not one.
    #[error("'{0}' is not code=behaviour with behaviour one of pv, fav, cart, buy (e.g. 1=pv,2=fav,3=cart,4=buy) / 应为 代码=行为，行为为 pv/fav/cart/buy")]
    BehaviorPair(String),
    /// A code mapped to two behaviours.
    #[error("code '{0}' is mapped twice / 行为代码重复")]
    RepeatedCode(String),
    /// A time unit other than s or ms.
    #[error("unknown time unit '{0}'; use s (Unix seconds) or ms (milliseconds) / 时间单位应为 s 或 ms")]
    Unit(String),
    /// A strftime format chrono cannot read.
    #[error("'{0}' is not a time format ecomm can read; use strftime fields such as %Y-%m-%d %H:%M:%S / 时间格式无效")]
    Format(String),
    /// A named column that the header lacks.
    #[error("column '{column}' (for {field}) is not in the header [{header}]; name one of them, or a 1-based position / 表头中没有该列")]
    MissingColumn {
        /// The field.
        field: &'static str,
        /// The column asked for.
        column: String,
        /// The header, comma-separated.
        header: String,
    },
    /// A position past the record's width.
    #[error("column {position} (for {field}) is past the last column ({width}) / 列号超出范围")]
    Position {
        /// The field.
        field: &'static str,
        /// The 1-based position asked for.
        position: usize,
        /// The number of columns.
        width: usize,
    },
    /// Names asked for, but the source has no header.
    #[error("column names were given ({0}) but the input has no header row; use 1-based positions instead / 输入没有表头，请用列号")]
    NoHeader(String),
}

/// Where a field is: a header name (compared case-insensitively, trimmed) or a 1-based position.
#[derive(Debug, Clone, PartialEq)]
pub enum ColRef {
    /// A header name.
    Name(String),
    /// A 1-based position.
    Position(usize),
}

impl FromStr for ColRef {
    type Err = MappingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() {
            return Err(MappingError::ColumnPair(s.to_string()));
        }
        Ok(match t.parse::<usize>() {
            Ok(0) => return Err(MappingError::ColumnPair(s.to_string())),
            Ok(n) => ColRef::Position(n),
            Err(_) => ColRef::Name(t.to_string()),
        })
    }
}

/// `--columns user_id=uid,item_id=sku,…`: where each field is; a field left out is found under
/// its own name (with a header) or at its canonical position (without one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnMap {
    refs: [Option<ColRef>; 5],
}

impl FromStr for ColumnMap {
    type Err = MappingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut m = ColumnMap::default();
        for pair in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (f, c) = pair.split_once('=').ok_or_else(|| MappingError::ColumnPair(pair.trim().to_string()))?;
            let f = f.trim().to_ascii_lowercase();
            let i = FIELDS.iter().position(|x| *x == f).ok_or_else(|| MappingError::Field(f.clone()))?;
            if m.refs[i].is_some() {
                return Err(MappingError::Repeated(f));
            }
            m.refs[i] = Some(c.parse()?);
        }
        Ok(m)
    }
}

impl fmt::Display for ColumnMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = FIELDS
            .iter()
            .zip(&self.refs)
            .filter_map(|(n, r)| {
                r.as_ref().map(|r| match r {
                    ColRef::Name(c) => format!("{n}={c}"),
                    ColRef::Position(p) => format!("{n}={p}"),
                })
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl ColumnMap {
    /// The 0-based column whose first value tells a data row from a header row: `user_id`'s
    /// position when one is given, else the first column.
    pub fn header_probe(&self) -> usize {
        match &self.refs[0] {
            Some(ColRef::Position(p)) => p - 1,
            _ => 0,
        }
    }

    /// Whether any field is named (which needs a header).
    pub fn has_names(&self) -> bool {
        self.refs.iter().any(|r| matches!(r, Some(ColRef::Name(_))))
    }

    /// Whether every field is left at its default.
    pub fn is_default(&self) -> bool {
        self.refs.iter().all(Option::is_none)
    }

    /// The field names a keyed record (JSON, BSON) is read by: the mapped name, or the field's own.
    /// Positions have no meaning there and fall back to the field's name.
    pub fn keys(&self) -> [String; 5] {
        std::array::from_fn(|i| match &self.refs[i] {
            Some(ColRef::Name(n)) => n.clone(),
            _ => FIELDS[i].to_string(),
        })
    }

    /// The 0-based column of each field in a record of `width` columns with this `header` (None:
    /// the source has no header row).
    pub fn resolve(&self, header: Option<&[String]>, width: usize) -> Result<[usize; 5], MappingError> {
        let mut out = [0usize; 5];
        for (i, slot) in out.iter_mut().enumerate() {
            let r = match &self.refs[i] {
                Some(r) => r.clone(),
                None if header.is_some() => ColRef::Name(FIELDS[i].to_string()),
                None => ColRef::Position(i + 1),
            };
            *slot = match (r, header) {
                (ColRef::Position(p), _) if p <= width => p - 1,
                (ColRef::Position(p), _) => return Err(MappingError::Position { field: FIELDS[i], position: p, width }),
                (ColRef::Name(n), Some(h)) => h
                    .iter()
                    .position(|c| c.trim().eq_ignore_ascii_case(n.trim()))
                    .ok_or_else(|| MappingError::MissingColumn { field: FIELDS[i], column: n.clone(), header: h.join(",") })?,
                (ColRef::Name(_), None) => return Err(MappingError::NoHeader(self.to_string())),
            };
        }
        Ok(out)
    }
}

/// `--behavior-map 1=pv,2=fav,3=cart,4=buy`: source codes (trimmed, case-insensitive) and the
/// behaviour each stands for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BehaviorMap {
    codes: Vec<(String, u8)>,
}

impl FromStr for BehaviorMap {
    type Err = MappingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut codes: Vec<(String, u8)> = Vec::new();
        for pair in s.split(',').filter(|p| !p.trim().is_empty()) {
            let bad = || MappingError::BehaviorPair(pair.trim().to_string());
            let (c, b) = pair.split_once('=').ok_or_else(bad)?;
            let code = c.trim().to_lowercase();
            let beh = BEHAVIORS.iter().position(|x| x.eq_ignore_ascii_case(b.trim())).ok_or_else(bad)? as u8;
            if code.is_empty() {
                return Err(bad());
            }
            if codes.iter().any(|(k, _)| *k == code) {
                return Err(MappingError::RepeatedCode(code));
            }
            codes.push((code, beh));
        }
        if codes.is_empty() {
            return Err(MappingError::BehaviorPair(s.to_string()));
        }
        Ok(BehaviorMap { codes })
    }
}

impl BehaviorMap {
    /// The behaviour code of source code `s`.
    pub fn code(&self, s: &str) -> Option<u8> {
        let t = s.trim();
        self.codes.iter().find(|(k, _)| k.eq_ignore_ascii_case(t)).map(|(_, b)| *b)
    }
}

/// `--time-unit`: what an integer timestamp counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimeUnit {
    /// Unix seconds.
    #[default]
    Seconds,
    /// Unix milliseconds (floored to the second).
    Millis,
}

impl FromStr for TimeUnit {
    type Err = MappingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "secs" | "seconds" => Ok(TimeUnit::Seconds),
            "ms" | "millis" | "milliseconds" => Ok(TimeUnit::Millis),
            _ => Err(MappingError::Unit(s.to_string())),
        }
    }
}

/// `--time-format`: a strftime format for text times, e.g. `%Y-%m-%d %H` (fields it lacks, such
/// as minutes, are 0).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeFormat(String);

impl FromStr for TimeFormat {
    type Err = MappingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use chrono::format::{Item, StrftimeItems};
        if s.trim().is_empty() || StrftimeItems::new(s).any(|i| matches!(i, Item::Error)) {
            return Err(MappingError::Format(s.to_string()));
        }
        Ok(TimeFormat(s.to_string()))
    }
}

impl TimeFormat {
    /// Reads `s`: Unix seconds when the format carries an offset or is `%s`; else the wall-clock
    /// time (`Err(local)` keeps it for the zone to place).
    pub fn parse(&self, s: &str) -> Option<Result<i64, NaiveDateTime>> {
        use chrono::format::{parse, Parsed, StrftimeItems};
        let mut p = Parsed::new();
        parse(&mut p, s.trim(), StrftimeItems::new(&self.0)).ok()?;
        if let Some(t) = p.timestamp() {
            return Some(Ok(t));
        }
        if p.hour_div_12().is_none() && p.hour_mod_12().is_none() {
            p.set_hour(0).ok()?;
        }
        if p.minute().is_none() {
            p.set_minute(0).ok()?;
        }
        if p.second().is_none() {
            p.set_second(0).ok()?;
        }
        if p.offset().is_some() {
            return p.to_datetime().ok().map(|d| Ok(d.timestamp()));
        }
        Some(Err(p.to_naive_date().ok()?.and_time(p.to_naive_time().ok()?)))
    }
}

/// One field's value as a source holds it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value<'a> {
    /// Missing or empty.
    #[default]
    Null,
    /// An integer.
    Int(i64),
    /// A float (spreadsheets store every number as one).
    Float(f64),
    /// A text.
    Text(Cow<'a, str>),
    /// A date-time without zone: wall-clock time in the analysis zone.
    Local(NaiveDateTime),
    /// An instant, Unix milliseconds.
    InstantMs(i64),
}

/// A mapped row: user, item, category, behaviour code, Unix seconds.
pub type Mapped = (i64, i64, i64, u8, i64);

/// How records become rows (see the module doc).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapping {
    /// Where the fields are.
    pub columns: ColumnMap,
    /// Behaviour codes, if the source codes them.
    pub behaviors: Option<BehaviorMap>,
    /// The format of text times.
    pub time_format: Option<TimeFormat>,
    /// What integer timestamps count.
    pub unit: TimeUnit,
}

impl Mapping {
    /// True when nothing is mapped: the canonical `user_id,item_id,category_id,behavior_type,timestamp`.
    pub fn is_default(&self) -> bool {
        self.columns.is_default() && self.behaviors.is_none() && self.time_format.is_none() && self.unit == TimeUnit::Seconds
    }

    /// Applies the rules of the module doc to one record's five values (in [`FIELDS`] order).
    pub fn row(&self, v: &[Value<'_>; 5], zone: &Zone) -> Result<Mapped, Reason> {
        let user = id(&v[0]).ok_or(Reason::Malformed)?;
        let item = id(&v[1]).ok_or(Reason::Malformed)?;
        let cat = id(&v[2]).ok_or(Reason::Malformed)?;
        let ts = self.timestamp(&v[4], zone).ok_or(Reason::Malformed)?;
        let beh = self.behavior(&v[3])?;
        Ok((user, item, cat, beh, ts))
    }

    fn behavior(&self, v: &Value<'_>) -> Result<u8, Reason> {
        let text: Cow<'_, str> = match v {
            Value::Text(t) => Cow::Borrowed(t.as_ref()),
            Value::Int(i) => Cow::Owned(i.to_string()),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Cow::Owned((*f as i64).to_string()),
            Value::Null => Cow::Borrowed(""),
            _ => return Err(Reason::Malformed),
        };
        match &self.behaviors {
            Some(m) => m.code(&text).ok_or(Reason::Malformed),
            None => {
                let t = text.trim();
                BEHAVIORS.iter().position(|b| b.eq_ignore_ascii_case(t)).map(|b| b as u8).ok_or(Reason::BadBehavior)
            }
        }
    }

    fn timestamp(&self, v: &Value<'_>, zone: &Zone) -> Option<i64> {
        let from_int = |n: i64| match self.unit {
            TimeUnit::Seconds => n,
            TimeUnit::Millis => n.div_euclid(1000),
        };
        match v {
            Value::Int(n) if self.time_format.is_none() => Some(from_int(*n)),
            Value::Float(f) if self.time_format.is_none() && f.fract() == 0.0 && f.abs() < 9e15 => Some(from_int(*f as i64)),
            Value::Text(t) => match &self.time_format {
                Some(fmt) => match fmt.parse(t)? {
                    Ok(ts) => Some(ts),
                    Err(local) => local_to_utc(zone, local),
                },
                None => int_text(t.trim()).map(from_int),
            },
            Value::Local(dt) => local_to_utc(zone, *dt),
            Value::InstantMs(ms) => Some(ms.div_euclid(1000)),
            _ => None,
        }
    }
}

/// A non-negative id.
fn id(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Int(n) if *n >= 0 => Some(*n),
        Value::Float(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 9.007_199_254_740_992e15 => Some(*f as i64),
        Value::Text(t) => int_text(t.trim()).filter(|n| *n >= 0),
        _ => None,
    }
}

/// An optionally negative integer written in ASCII digits.
fn int_text(t: &str) -> Option<i64> {
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// The instant of wall-clock time `dt` in `zone` (the earlier one when it repeats; None in a gap).
pub fn local_to_utc(zone: &Zone, dt: NaiveDateTime) -> Option<i64> {
    match zone {
        Zone::Fixed(o) => Some(dt.and_utc().timestamp() - *o as i64),
        Zone::Named(tz) => tz.from_local_datetime(&dt).earliest().map(|d| d.timestamp()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Zone {
        Zone::parse("Asia/Shanghai").unwrap()
    }

    #[test]
    fn columns_parse_and_resolve() {
        let m: ColumnMap = "user_id=uid, category_id=3,timestamp=TS".parse().unwrap();
        let h: Vec<String> = ["UID", "item_id", "cat", "behavior_type", "ts"].iter().map(|s| s.to_string()).collect();
        assert_eq!(m.resolve(Some(&h), 5).unwrap(), [0, 1, 2, 3, 4]);
        assert!(matches!(m.resolve(None, 5), Err(MappingError::NoHeader(_))));
        let p: ColumnMap = "user_id=2,item_id=1".parse().unwrap();
        assert_eq!(p.resolve(None, 5).unwrap(), [1, 0, 2, 3, 4]);
        assert!(matches!("user_id=6".parse::<ColumnMap>().unwrap().resolve(None, 5), Err(MappingError::Position { .. })));
        assert!(matches!("shop=1".parse::<ColumnMap>(), Err(MappingError::Field(_))));
        assert!(matches!("user_id=1,user_id=2".parse::<ColumnMap>(), Err(MappingError::Repeated(_))));
        assert!(matches!("user_id".parse::<ColumnMap>(), Err(MappingError::ColumnPair(_))));
        assert!(matches!("user_id=0".parse::<ColumnMap>(), Err(MappingError::ColumnPair(_))));
        let e = "user_id=uid".parse::<ColumnMap>().unwrap().resolve(Some(&["a".to_string()]), 1).unwrap_err();
        assert!(e.to_string().contains("'uid'") && e.to_string().contains("[a]"), "{e}");
    }

    #[test]
    fn behaviour_map_and_rules() {
        let m = Mapping { behaviors: Some("1=pv,2=fav,3=cart,4=BUY".parse().unwrap()), ..Default::default() };
        let v = |b: Value<'static>| [Value::Int(1), Value::Float(2.0), Value::Text(" 3 ".into()), b, Value::Int(1_511_572_870)];
        assert_eq!(m.row(&v(Value::Int(4)), &zone()), Ok((1, 2, 3, 3, 1_511_572_870)));
        assert_eq!(m.row(&v(Value::Text("2".into())), &zone()).unwrap().3, 1);
        assert_eq!(m.row(&v(Value::Int(5)), &zone()), Err(Reason::Malformed));
        let plain = Mapping::default();
        assert_eq!(plain.row(&v(Value::Text("Buy".into())), &zone()).unwrap().3, 3);
        assert_eq!(plain.row(&v(Value::Text("click".into())), &zone()), Err(Reason::BadBehavior));
        let bad = [Value::Float(1.5), Value::Int(2), Value::Int(3), Value::Text("pv".into()), Value::Int(1)];
        assert_eq!(plain.row(&bad, &zone()), Err(Reason::Malformed));
        let neg = [Value::Int(-1), Value::Int(2), Value::Int(3), Value::Text("pv".into()), Value::Int(1)];
        assert_eq!(plain.row(&neg, &zone()), Err(Reason::Malformed));
        assert!(matches!("1=click".parse::<BehaviorMap>(), Err(MappingError::BehaviorPair(_))));
        assert!(matches!("1=pv,1=buy".parse::<BehaviorMap>(), Err(MappingError::RepeatedCode(_))));
    }

    #[test]
    fn times() {
        let z = zone();
        let ms = Mapping { unit: TimeUnit::Millis, ..Default::default() };
        assert_eq!(ms.timestamp(&Value::Int(1_511_572_870_999), &z), Some(1_511_572_870));
        assert_eq!(ms.timestamp(&Value::Text("1511572870000".into()), &z), Some(1_511_572_870));
        let hour = Mapping { time_format: Some("%Y-%m-%d %H".parse().unwrap()), ..Default::default() };
        // 2017-11-25 09:00 in Beijing is 01:00 UTC.
        assert_eq!(hour.timestamp(&Value::Text("2017-11-25 09".into()), &z), Some(1_511_571_600));
        assert_eq!(hour.timestamp(&Value::Text("2017-11-25".into()), &z), None);
        assert_eq!(hour.timestamp(&Value::Int(5), &z), None);
        let off = Mapping { time_format: Some("%Y-%m-%dT%H:%M:%S%z".parse().unwrap()), ..Default::default() };
        assert_eq!(off.timestamp(&Value::Text("2017-11-25T01:00:00+0000".into()), &z), Some(1_511_571_600));
        let local = chrono::NaiveDate::from_ymd_opt(2017, 11, 25).unwrap().and_hms_opt(9, 0, 0).unwrap();
        assert_eq!(Mapping::default().timestamp(&Value::Local(local), &z), Some(1_511_571_600));
        assert_eq!(Mapping::default().timestamp(&Value::InstantMs(1_511_571_600_500), &z), Some(1_511_571_600));
        assert!("%Q".parse::<TimeFormat>().is_err());
        assert_eq!("ms".parse::<TimeUnit>(), Ok(TimeUnit::Millis));
        // A DST gap in New York: 2021-03-14 02:30 never happened.
        let ny = Zone::parse("America/New_York").unwrap();
        let gap = chrono::NaiveDate::from_ymd_opt(2021, 3, 14).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(local_to_utc(&ny, gap), None);
    }
}
