//! Line parsing: cleaning rules 1–3 (the ones that need nothing but the line itself).
//!
//! 1. A UTF-8 BOM, LF/CRLF endings and blank lines are ignored; a first line whose first field
//!    is `user_id` is a header. None of these count as rows read.
//! 2. A row has exactly 5 comma-separated fields, each trimmed of spaces and tabs. `user_id`,
//!    `item_id` and `category_id` are non-negative integers that fit in i64; `timestamp` is an
//!    integer (Unix seconds, i64). Anything else, invalid UTF-8 included, is `malformed`.
//! 3. `behavior_type` is compared case-insensitively; anything but pv/fav/cart/buy is `bad_behavior`.
//!
//! Rules 4–5 (window and duplicates) need the whole batch and run in SQL (see `store::load`).

use crate::domain::rows::{row_hash, source_key, Parsed, Reason, SeenSet};
use crate::domain::tz::OffsetCache;
use crate::domain::BEHAVIORS;

/// A chunk of whole lines of one file.
pub struct Block {
    /// The bytes; every line but possibly the file's last ends with `\n`.
    pub data: Vec<u8>,
    /// The 1-based line number of the first line in `data`.
    pub first_line: u64,
    /// Index of the file in this ingest.
    pub file_id: i32,
    /// True for the first block of a file (BOM and header handling).
    pub is_file_start: bool,
}

/// Timestamps outside about 1900..2200 are never analysed: they get a placeholder local time
/// (they can only be out of window).
pub const SANE_SECS: std::ops::Range<i64> = -2_208_988_800..7_258_118_400;

/// How a block is cleaned.
pub struct Cleaning<'a> {
    /// The window `[start, end)` in Unix seconds, when known before parsing (rule 4 in the worker).
    pub window: Option<(i64, i64)>,
    /// The duplicate pre-filter.
    pub seen: &'a SeenSet,
}

/// A valid row.
#[derive(Debug, PartialEq)]
pub struct Row {
    /// user_id
    pub user: i64,
    /// item_id
    pub item: i64,
    /// category_id
    pub cat: i64,
    /// behaviour code
    pub beh: u8,
    /// Unix seconds
    pub ts: i64,
    /// true when the line is exactly `u,i,c,beh,ts` with no padding, case or leading zeros to undo
    pub canonical: bool,
}

#[inline]
fn trim<'a>(f: &'a [u8], canon: &mut bool) -> &'a [u8] {
    let mut s = 0;
    let mut e = f.len();
    while s < e && (f[s] == b' ' || f[s] == b'\t') {
        s += 1;
    }
    while e > s && (f[e - 1] == b' ' || f[e - 1] == b'\t') {
        e -= 1;
    }
    if s != 0 || e != f.len() {
        *canon = false;
    }
    &f[s..e]
}

#[inline]
fn parse_digits(f: &[u8], canon: &mut bool) -> Option<i64> {
    if f.is_empty() || f.len() > 19 + 20 {
        return None;
    }
    let mut v: i64 = 0;
    for &b in f {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as i64)?;
    }
    if f.len() > 1 && f[0] == b'0' {
        *canon = false;
    }
    Some(v)
}

/// Applies rules 2–3 to one line (without its line ending).
pub fn parse_row(l: &[u8]) -> Result<Row, Reason> {
    if !l.is_ascii() && std::str::from_utf8(l).is_err() {
        return Err(Reason::Malformed);
    }
    let mut fields: [&[u8]; 5] = [&[]; 5];
    let mut n = 0;
    for f in l.split(|b| *b == b',') {
        if n == 5 {
            return Err(Reason::Malformed);
        }
        fields[n] = f;
        n += 1;
    }
    if n != 5 {
        return Err(Reason::Malformed);
    }
    let mut canon = true;
    let user = parse_digits(trim(fields[0], &mut canon), &mut canon).ok_or(Reason::Malformed)?;
    let item = parse_digits(trim(fields[1], &mut canon), &mut canon).ok_or(Reason::Malformed)?;
    let cat = parse_digits(trim(fields[2], &mut canon), &mut canon).ok_or(Reason::Malformed)?;
    let tsf = trim(fields[4], &mut canon);
    let ts = match tsf.first() {
        Some(b'-') => {
            let v = parse_digits(&tsf[1..], &mut canon).ok_or(Reason::Malformed)?;
            if v == 0 {
                canon = false;
            }
            -v
        }
        _ => parse_digits(tsf, &mut canon).ok_or(Reason::Malformed)?,
    };
    let bf = trim(fields[3], &mut canon);
    let beh = BEHAVIORS.iter().position(|b| bf.eq_ignore_ascii_case(b.as_bytes())).ok_or(Reason::BadBehavior)? as u8;
    if bf != BEHAVIORS[beh as usize].as_bytes() {
        canon = false;
    }
    Ok(Row { user, item, cat, beh, ts, canonical: canon })
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses one block: applies rule 1 to each line, rules 2–3 to each row, rule 4 when the window
/// is known, and marks duplicate candidates.
pub fn parse_block(b: &Block, cache: &mut OffsetCache, cl: &Cleaning<'_>) -> Parsed {
    let mut sink = Sink::new(cl, b.data.len() / 36 + 1);
    let mut data: &[u8] = &b.data;
    let mut header_pending = b.is_file_start;
    if b.is_file_start && data.starts_with(BOM) {
        data = &data[BOM.len()..];
    }
    let mut line_no = b.first_line;
    let mut start = 0;
    let len = data.len();
    while start < len {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(len, |i| start + i);
        let mut l = &data[start..end];
        start = end + 1;
        let key = source_key(b.file_id, line_no);
        line_no += 1;
        if let Some(x) = l.strip_suffix(b"\r") {
            l = x;
        }
        if l.iter().all(|c| *c == b' ' || *c == b'\t') {
            continue;
        }
        if header_pending {
            header_pending = false;
            let first = l.split(|c| *c == b',').next().unwrap_or(&[]);
            let mut ignore = true;
            if trim(first, &mut ignore).eq_ignore_ascii_case(b"user_id") {
                continue;
            }
        }
        match parse_row(l) {
            Ok(r) => sink.valid(cache, key, (r.user, r.item, r.cat, r.beh, r.ts), r.canonical, &|| String::from_utf8_lossy(l).into_owned()),
            Err(reason) => sink.reject(key, reason, String::from_utf8_lossy(l).into_owned()),
        }
    }
    sink.finish()
}

/// Builds one [`Parsed`] batch row by row, for every source: the local time and day of each valid
/// row, rule 4 when the window is known, and the duplicate candidates at the end.
pub struct Sink<'a> {
    p: Parsed,
    hashes: Vec<u64>,
    last_day: (i64, u64),
    cl: &'a Cleaning<'a>,
}

impl<'a> Sink<'a> {
    /// A sink expecting about `approx` rows.
    pub fn new(cl: &'a Cleaning<'a>, approx: usize) -> Sink<'a> {
        let mut p = Parsed::default();
        for v in [&mut p.user, &mut p.item, &mut p.cat, &mut p.ts, &mut p.time_us] {
            v.reserve(approx);
        }
        p.key.reserve(approx);
        p.beh.reserve(approx);
        p.date.reserve(approx);
        p.hour.reserve(approx);
        p.maybe_dup.reserve(approx);
        Sink { p, hashes: Vec::with_capacity(approx), last_day: (i64::MIN, 0), cl }
    }

    /// A row rejected by the source (rules 2–3): counted as read and kept with its raw form.
    #[inline]
    pub fn reject(&mut self, key: u64, reason: Reason, raw: String) {
        self.p.rows_read += 1;
        self.p.rej_key.push(key);
        self.p.rej_reason.push(reason);
        self.p.rej_raw.push(raw);
    }

    /// A row that passed rules 2–3; `canonical` is false when its raw form differs from the
    /// canonical rendering of its values (then `raw` is kept, as it is when rule 4 rejects it).
    #[inline]
    pub fn valid(
        &mut self,
        cache: &mut OffsetCache,
        key: u64,
        r: crate::domain::mapping::Mapped,
        canonical: bool,
        raw: &dyn Fn() -> String,
    ) {
        let (user, item, cat, beh, ts) = r;
        self.p.rows_read += 1;
        let lts = cache.local_secs(ts);
        let day = lts.div_euclid(86_400);
        if day == self.last_day.0 {
            self.last_day.1 += 1;
        } else {
            if self.last_day.1 > 0 {
                *self.p.days.entry(self.last_day.0).or_insert(0) += self.last_day.1;
            }
            self.last_day = (day, 1);
        }
        if let Some((s, e)) = self.cl.window {
            if ts < s || ts >= e {
                self.p.rej_key.push(key);
                self.p.rej_reason.push(Reason::OutOfWindow);
                self.p.rej_raw.push(raw());
                return;
            }
        }
        let p = &mut self.p;
        let (time_us, date, hour) =
            if SANE_SECS.contains(&ts) { (lts * 1_000_000, day as i32, (lts.rem_euclid(86_400) / 3600) as u8) } else { (0, 0, 0) };
        p.key.push(key);
        p.user.push(user);
        p.item.push(item);
        p.cat.push(cat);
        p.beh.push(beh);
        p.ts.push(ts);
        p.time_us.push(time_us);
        p.date.push(date);
        p.hour.push(hour);
        self.hashes.push(row_hash(user, item, cat, beh, ts));
        if !canonical {
            p.raw_key.push(key);
            p.raw.push(raw());
        }
    }

    /// Rows taken so far (read, valid or not).
    pub fn rows(&self) -> u64 {
        self.p.rows_read
    }

    /// The batch, with its duplicate candidates marked.
    pub fn finish(mut self) -> Parsed {
        if self.last_day.1 > 0 {
            *self.p.days.entry(self.last_day.0).or_insert(0) += self.last_day.1;
        }
        self.cl.seen.test_and_set_all(&self.hashes, &mut self.p.maybe_dup);
        self.p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rows::split_key;
    use crate::domain::tz::Zone;
    #[test]
    fn rules_two_and_three() {
        let ok = parse_row(b"1,2268318,2520377,pv,1511544070").unwrap();
        assert_eq!((ok.user, ok.beh, ok.ts, ok.canonical), (1, 0, 1511544070, true));
        let padded = parse_row(b" 1 , 2 ,3,\tPV ,-5").unwrap();
        assert_eq!((padded.user, padded.item, padded.cat, padded.beh, padded.ts, padded.canonical), (1, 2, 3, 0, -5, false));
        assert!(!parse_row(b"01,2,3,pv,4").unwrap().canonical);
        for bad in [
            &b"1,2,3,pv"[..],
            b"1,2,3,pv,4,5",
            b"-1,2,3,pv,4",
            b"1,2,,pv,4",
            b"1,2,3,pv,4.5",
            b"1,2,3,pv,",
            b"9223372036854775808,2,3,pv,4",
            b"1,2,3,p\xffv,4",
            b"1,2,3,click,x",
        ] {
            assert_eq!(parse_row(bad), Err(Reason::Malformed), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_row(b"9223372036854775807,2,3,buy,4").unwrap().user, i64::MAX);
        assert_eq!(parse_row(b"1,2,3,click,4"), Err(Reason::BadBehavior));
        assert_eq!(parse_row(b"1,2,3,,4"), Err(Reason::BadBehavior));
        assert_eq!(parse_row("1,2,3,浏览,4".as_bytes()), Err(Reason::BadBehavior));
    }

    #[test]
    fn rule_one_bom_header_blank_crlf() {
        let data = b"\xEF\xBB\xBFuser_id,item_id,category_id,behavior_type,timestamp\r\n\r\n1,2,3,pv,4\r\n  \n1,2,3,buy,5".to_vec();
        let mut c = OffsetCache::new(&Zone::Fixed(0));
        let seen = SeenSet::for_rows(10);
        let p =
            parse_block(&Block { data, first_line: 1, file_id: 0, is_file_start: true }, &mut c, &Cleaning { window: None, seen: &seen });
        assert_eq!(p.rows_read, 2);
        assert_eq!(p.key, vec![3, 5]);
        assert!(p.raw.is_empty());
        assert_eq!(p.hour, vec![0, 0]);
        assert_eq!(p.maybe_dup, vec![false, false]);
    }

    #[test]
    fn window_and_duplicate_candidates() {
        let data = b"1,2,3,pv,100\n1,2,3,pv,100\n1,2,3,pv,5\n 1,2,3,pv,100\n".to_vec();
        let mut c = OffsetCache::new(&Zone::Fixed(3600));
        let seen = SeenSet::for_rows(10);
        let p = parse_block(
            &Block { data, first_line: 1, file_id: 2, is_file_start: true },
            &mut c,
            &Cleaning { window: Some((50, 200)), seen: &seen },
        );
        assert_eq!(p.key, vec![source_key(2, 1), source_key(2, 2), source_key(2, 4)]);
        assert_eq!(p.maybe_dup, vec![false, true, true]);
        assert_eq!(p.rej_reason, vec![Reason::OutOfWindow]);
        assert_eq!(p.raw, vec![" 1,2,3,pv,100".to_string()]);
        assert_eq!(p.hour, vec![1, 1, 1]);
        assert_eq!(split_key(source_key(2, 4)), (2, 4));
    }
}
