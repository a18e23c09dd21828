//! Number formats shared by the table, report and charts.
//!
//! Full numbers and percentages are [`i18n::int`] (`1,234,567`) and [`i18n::pct`] (`12.35%`);
//! this adds [`compact`] for axes: English uses K/M/B (`1.2M`), Chinese uses 万/亿 (`120万`).

use crate::i18n::{self, Lang};

fn trim(v: f64, unit: &str) -> String {
    let s = if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.1}") };
    let s = s.strip_suffix(".0").unwrap_or(&s).to_string();
    format!("{s}{unit}")
}

/// Short form for axes and cards: `1.2M` / `120万`; small values keep their digits.
pub fn compact(v: f64, lang: Lang) -> String {
    let a = v.abs();
    let sign = if v < 0.0 { "-" } else { "" };
    let body = match lang {
        Lang::En if a >= 1e9 => trim(a / 1e9, "B"),
        Lang::En if a >= 1e6 => trim(a / 1e6, "M"),
        Lang::En if a >= 1e4 => trim(a / 1e3, "K"),
        Lang::Zh if a >= 1e8 => trim(a / 1e8, "亿"),
        Lang::Zh if a >= 1e4 => trim(a / 1e4, "万"),
        _ if a.fract() == 0.0 => i18n::int(a as u64),
        _ => format!("{a:.1}"),
    };
    format!("{sign}{body}")
}

/// [`compact`] in English (a plain `fn` for chart axes).
pub fn compact_en(v: f64) -> String {
    compact(v, Lang::En)
}

/// [`compact`] in Chinese (a plain `fn` for chart axes).
pub fn compact_zh(v: f64) -> String {
    compact(v, Lang::Zh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(compact(1_200_000.0, Lang::En), "1.2M");
        assert_eq!(compact(1_200_000.0, Lang::Zh), "120万");
        assert_eq!(compact(9_999.0, Lang::Zh), "9,999");
        assert_eq!(compact(15_000.0, Lang::En), "15K");
        assert_eq!(compact(100_150_807.0, Lang::Zh), "1亿");
        assert_eq!(compact(250_000_000.0, Lang::Zh), "2.5亿");
        assert_eq!(compact(0.5, Lang::En), "0.5");
    }
}
