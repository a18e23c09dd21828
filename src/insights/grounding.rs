//! Grounding: every number an insight cites must be a number of the fact sheet.
//!
//! A cited number is any run of digits in `finding`, `action` or `expected_impact`, with its
//! decimals and thousands separators, and its unit if one follows: `%`, `万` (×10⁴), `亿` (×10⁸),
//! `K`/`M`/`B` (×10³/10⁶/10⁹). `HH:00` is an hour; `YYYY-MM-DD` and `MM-DD` are dates and must be dates
//! of the fact sheet. A number matches a fact value `v` when it equals `v` or `100·v` (ratios are
//! written as percentages) within the precision it is written with: `68.5%` matches 0.6847
//! (68.47 rounds to 68.5), `12万` matches 123,456. Bare integers 0–10 without a unit are allowed
//! anywhere ("3 days", "top 10"), since they count things rather than report data.

use std::collections::HashSet;

/// The numbers and dates an insight may cite.
#[derive(Clone, Debug, Default)]
pub struct Allowed {
    /// Numeric fact values.
    pub values: Vec<f64>,
    /// Dates as `YYYY-MM-DD`.
    pub dates: HashSet<String>,
}

/// One number as written in the text.
#[derive(Clone, Debug, PartialEq)]
pub struct Cited {
    /// The text as written (e.g. `68.5%`).
    pub text: String,
    /// Its value after the unit (e.g. 68.5 for `68.5%`, 120000 for `12万`).
    pub value: f64,
    /// Half a unit of the last written digit, times the unit (the rounding allowance).
    pub tolerance: f64,
    /// Written with `%`.
    pub percent: bool,
    /// A bare integer (no decimals, no unit).
    pub bare_int: bool,
    /// Where it starts in the text (a character index).
    pub at: usize,
}

impl Cited {
    /// Whether it is the value `v` as written or as a percentage (`100·v`), within its rounding.
    pub fn matches(&self, v: f64) -> bool {
        (self.value - v).abs() <= self.tolerance || (self.value - v * 100.0).abs() <= self.tolerance
    }
}

/// Finds the numbers cited in `s` (dates excluded; see [`dates`]).
pub fn numbers(s: &str) -> Vec<Cited> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if !c[i].is_ascii_digit() || (i > 0 && (c[i - 1].is_ascii_alphanumeric() || c[i - 1] == '.')) {
            i += 1;
            continue;
        }
        // A date: YYYY-MM-DD or MM-DD.
        let rest: String = c[i..c.len().min(i + 10)].iter().collect();
        if is_date(&rest, 10) {
            i += 10;
            continue;
        }
        if is_date(&rest, 5) {
            i += 5;
            continue;
        }
        let start = i;
        let mut digits = String::new();
        while i < c.len() && (c[i].is_ascii_digit() || (c[i] == ',' && i + 3 < c.len() + 1 && group3(&c, i))) {
            if c[i] != ',' {
                digits.push(c[i]);
            }
            i += 1;
        }
        let mut decimals = 0;
        if i + 1 < c.len() && c[i] == '.' && c[i + 1].is_ascii_digit() {
            digits.push('.');
            i += 1;
            while i < c.len() && c[i].is_ascii_digit() {
                digits.push(c[i]);
                decimals += 1;
                i += 1;
            }
        }
        // An hour: HH:MM.
        if i + 2 < c.len() && c[i] == ':' && c[i + 1].is_ascii_digit() && c[i + 2].is_ascii_digit() {
            i += 3;
        }
        let v: f64 = digits.parse().unwrap_or(0.0);
        let mut j = i;
        while j < c.len() && c[j] == ' ' {
            j += 1;
        }
        let (mult, percent, unit_len) = match c.get(j) {
            Some('%') => (1.0, true, j + 1 - i),
            Some('万') => (1e4, false, j + 1 - i),
            Some('亿') => (1e8, false, j + 1 - i),
            Some('K') if !c.get(j + 1).is_some_and(|n| n.is_alphabetic()) => (1e3, false, j + 1 - i),
            Some('M') if !c.get(j + 1).is_some_and(|n| n.is_alphabetic()) => (1e6, false, j + 1 - i),
            Some('B') if !c.get(j + 1).is_some_and(|n| n.is_alphabetic()) => (1e9, false, j + 1 - i),
            _ => (1.0, false, 0),
        };
        i += unit_len;
        let text: String = c[start..i].iter().collect();
        out.push(Cited {
            text: text.trim().to_string(),
            value: v * mult,
            tolerance: 0.5 * 10f64.powi(-decimals) * mult + 1e-9,
            percent,
            bare_int: decimals == 0 && unit_len == 0,
            at: start,
        });
    }
    out
}

fn group3(c: &[char], i: usize) -> bool {
    // A thousands separator: "," followed by exactly three digits and then a non-digit.
    c.get(i + 1).is_some_and(|d| d.is_ascii_digit())
        && c.get(i + 2).is_some_and(|d| d.is_ascii_digit())
        && c.get(i + 3).is_some_and(|d| d.is_ascii_digit())
        && !c.get(i + 4).is_some_and(|d| d.is_ascii_digit())
}

fn is_date(s: &str, len: usize) -> bool {
    let b = s.as_bytes();
    if b.len() < len {
        return false;
    }
    let shape = if len == 10 { "dddd-dd-dd" } else { "dd-dd" };
    let num = |at: usize| (b[at] - b'0') as u32 * 10 + (b[at + 1] - b'0') as u32;
    shape.bytes().zip(b).all(|(p, ch)| if p == b'd' { ch.is_ascii_digit() } else { *ch == b'-' })
        && !b.get(len).is_some_and(|c| c.is_ascii_digit() || *c == b':')
        && (1..=12).contains(&num(len - 5))
        && (1..=31).contains(&num(len - 2))
}

/// Finds the dates cited in `s` (`YYYY-MM-DD`, or `MM-DD` returned as `--MM-DD`).
pub fn dates(s: &str) -> Vec<String> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        // Not inside a number or an hour: "18:00-24:00" holds no date.
        if c[i].is_ascii_digit() && (i == 0 || !(c[i - 1].is_ascii_digit() || c[i - 1] == ':')) {
            let rest: String = c[i..c.len().min(i + 10)].iter().collect();
            if is_date(&rest, 10) {
                out.push(rest[..10].to_string());
                i += 10;
                continue;
            }
            if is_date(&rest, 5) {
                out.push(format!("--{}", &rest[..5]));
                i += 5;
                continue;
            }
        }
        i += 1;
    }
    out
}

impl Allowed {
    /// Whether `n` matches a fact value (or its percentage form) within its rounding.
    pub fn accepts(&self, n: &Cited) -> bool {
        if n.bare_int && n.value <= 10.0 {
            return true;
        }
        self.values.iter().any(|&v| n.matches(v))
    }

    /// Whether `d` (from [`dates`]) is a fact-sheet date.
    pub fn accepts_date(&self, d: &str) -> bool {
        match d.strip_prefix("--") {
            Some(md) => self.dates.iter().any(|x| x.ends_with(md)),
            None => self.dates.contains(d),
        }
    }

    /// The numbers and dates of `text` that are not in the fact sheet.
    pub fn unknown(&self, text: &str) -> Vec<String> {
        let mut bad: Vec<String> = numbers(text).into_iter().filter(|n| !self.accepts(n)).map(|n| n.text).collect();
        bad.extend(dates(text).into_iter().filter(|d| !self.accepts_date(d)));
        bad
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Allowed {
        Allowed {
            values: vec![983.0, 89_666.0, 0.684_7, 21.0, 22.34, 123_456.0, 2_735_466.0, 0.349],
            dates: ["2017-12-02".to_string()].into_iter().collect(),
        }
    }

    #[test]
    fn parses_units_and_precision() {
        let n = numbers("转化率 68.5%，UV 983 人，PV 89,666，约 12万，1.2M 次，21:00 高峰，22.3 倍");
        let t: Vec<(&str, f64)> = n.iter().map(|c| (c.text.as_str(), c.value)).collect();
        assert_eq!(
            t,
            vec![
                ("68.5%", 68.5),
                ("983", 983.0),
                ("89,666", 89_666.0),
                ("12万", 120_000.0),
                ("1.2M", 1_200_000.0),
                ("21:00", 21.0),
                ("22.3", 22.3)
            ]
        );
        assert!((n[0].tolerance - 0.05).abs() < 1e-6);
        assert!((n[3].tolerance - 5000.0).abs() < 1e-6);
        assert!(numbers("version v2 and x3").is_empty(), "digits glued to letters are not numbers");
    }

    #[test]
    fn grounded_text_passes() {
        let a = allowed();
        for ok in [
            "浏览→购买用户转化率为 68.5%，共 983 名访客。",
            "Conversion is 68.47% of 89,666 page views; peak at 21:00 with 22.3x the trough.",
            "About 12万 buyers in category 2735466; the last two days ran 34.9% above.",
            "Top 3 categories, within 7 days, on 2017-12-02 (12-02).",
            "Conversion is 68%.",
        ] {
            assert!(a.unknown(ok).is_empty(), "{ok}: {:?}", a.unknown(ok));
        }
    }

    #[test]
    fn invented_numbers_are_caught() {
        let a = allowed();
        assert_eq!(a.unknown("转化率为 75.0%"), vec!["75.0%"]);
        assert_eq!(a.unknown("Conversion rose to 68.6%"), vec!["68.6%"], "68.47 does not round to 68.6");
        assert_eq!(a.unknown("We have 984 visitors"), vec!["984"]);
        assert_eq!(a.unknown("Raise buys by 5%"), vec!["5%"], "percentages are data, even small ones");
        assert_eq!(a.unknown("peak on 2017-12-05"), vec!["2017-12-05"]);
        assert!(dates("The evening (18:00-24:00) and 21:00-23:00").is_empty(), "hour ranges are not dates");
        assert_eq!(dates("from 12-02 to 2017-12-03"), vec!["--12-02", "2017-12-03"]);
        assert_eq!(a.unknown("12 new buyers"), vec!["12"]);
    }
}
