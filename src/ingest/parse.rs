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

use crate::tz::OffsetCache;

/// Why a row was rejected. The order is the order in which the rules are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not 5 fields, a bad integer, or invalid UTF-8.
    Malformed,
    /// A behaviour other than pv/fav/cart/buy.
    BadBehavior,
    /// A timestamp outside the analysis window.
    OutOfWindow,
    /// Identical in all 5 fields to a row already loaded.
    Duplicate,
}

impl Reason {
    /// All reasons, in rule order.
    pub const ALL: [Reason; 4] = [Reason::Malformed, Reason::BadBehavior, Reason::OutOfWindow, Reason::Duplicate];
    /// The name used in JSON, the rejects file and the ingest log.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::BadBehavior => "bad_behavior",
            Reason::OutOfWindow => "out_of_window",
            Reason::Duplicate => "duplicate",
        }
    }
}

/// Behaviour codes, stored as the DuckDB enum in this order.
pub const BEHAVIORS: [&str; 4] = ["pv", "fav", "cart", "buy"];

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

/// The rows of one block, in columns, plus the rows rejected by rules 1–3.
#[derive(Default)]
pub struct Parsed {
    /// Index of the file in this ingest.
    pub file_id: i32,
    /// Line number of each valid row.
    pub line: Vec<u64>,
    /// user_id of each valid row.
    pub user: Vec<i64>,
    /// item_id of each valid row.
    pub item: Vec<i64>,
    /// category_id of each valid row.
    pub cat: Vec<i64>,
    /// Behaviour code (index into [`BEHAVIORS`]).
    pub beh: Vec<u8>,
    /// Unix seconds.
    pub ts: Vec<i64>,
    /// Local seconds (`ts` + UTC offset in the analysis zone).
    pub lts: Vec<i64>,
    /// xxh3 of the five normalised values (a pre-filter for duplicate detection).
    pub hash: Vec<u64>,
    /// The raw line where it differs from the canonical rendering of its values, else None.
    pub raw: Vec<Option<String>>,
    /// Line numbers of rejected rows.
    pub rej_line: Vec<u64>,
    /// Reasons of rejected rows.
    pub rej_reason: Vec<Reason>,
    /// Raw text of rejected rows (invalid UTF-8 replaced by U+FFFD).
    pub rej_raw: Vec<String>,
    /// Rows read (valid + rejected).
    pub rows_read: u64,
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

/// The hash used to find duplicate candidates.
#[inline]
pub fn row_hash(user: i64, item: i64, cat: i64, beh: u8, ts: i64) -> u64 {
    let mut b = [0u8; 33];
    b[0..8].copy_from_slice(&user.to_le_bytes());
    b[8..16].copy_from_slice(&item.to_le_bytes());
    b[16..24].copy_from_slice(&cat.to_le_bytes());
    b[24] = beh;
    b[25..33].copy_from_slice(&ts.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&b)
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses one block: applies rule 1 to each line and rules 2–3 to each row.
pub fn parse_block(b: &Block, cache: &mut OffsetCache) -> Parsed {
    let mut p = Parsed { file_id: b.file_id, ..Default::default() };
    let approx = b.data.len() / 36 + 1;
    for v in [&mut p.user, &mut p.item, &mut p.cat, &mut p.ts, &mut p.lts] {
        v.reserve(approx);
    }
    p.line.reserve(approx);
    p.beh.reserve(approx);
    p.hash.reserve(approx);
    p.raw.reserve(approx);
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
        let this_line = line_no;
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
        p.rows_read += 1;
        match parse_row(l) {
            Ok(r) => {
                p.line.push(this_line);
                p.user.push(r.user);
                p.item.push(r.item);
                p.cat.push(r.cat);
                p.beh.push(r.beh);
                p.ts.push(r.ts);
                p.lts.push(cache.local_secs(r.ts));
                p.hash.push(row_hash(r.user, r.item, r.cat, r.beh, r.ts));
                p.raw.push(if r.canonical { None } else { Some(String::from_utf8_lossy(l).into_owned()) });
            }
            Err(reason) => {
                p.rej_line.push(this_line);
                p.rej_reason.push(reason);
                p.rej_raw.push(String::from_utf8_lossy(l).into_owned());
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tz::Zone;

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
        let p = parse_block(&Block { data, first_line: 1, file_id: 0, is_file_start: true }, &mut c);
        assert_eq!(p.rows_read, 2);
        assert_eq!(p.line, vec![3, 5]);
        assert_eq!(p.raw, vec![None, None]);
    }
}
