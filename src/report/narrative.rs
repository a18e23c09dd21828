//! The report's words: each section's data-driven conclusion (2–4 sentences built from the fact
//! sheet, no model involved) and the metric definitions for the appendix. The sentences
//! themselves are in [`crate::i18n::prose`].

use crate::i18n::prose::{self, fill};
use crate::i18n::{int, pct1, segment_name, Lang};
use crate::insights::facts::Facts;

/// Conclusion of the funnel section.
pub fn funnel(f: &Facts, lang: Lang) -> String {
    let [pv, fav, cart, buy] = f.stage_users;
    let args = [
        ("uv", int(f.uv)),
        ("pv", int(pv)),
        ("fav", int(fav)),
        ("cart", int(cart)),
        ("buy", int(buy)),
        ("conversion", pct1(f.conversion)),
        ("cart_to_buy", pct1(f.cart_to_buy)),
        ("cart_rate", pct1(f.cart_rate)),
        ("fav_rate", pct1(f.fav_rate)),
    ];
    let mut s = fill(lang, &prose::FUNNEL, &args);
    if cart > 0 {
        s += &fill(lang, &prose::FUNNEL_CART, &args);
    }
    s
}

/// Conclusion of the 24-hour section.
pub fn hourly(f: &Facts, lang: Lang) -> String {
    fill(
        lang,
        &prose::HOURLY,
        &[
            ("peak", f.peak_hour.to_string()),
            ("trough", f.trough_hour.to_string()),
            ("ratio", format!("{:.1}", f.peak_to_trough)),
            ("evening", pct1(f.evening_share)),
            ("buy_peak", f.buy_peak_hour.to_string()),
        ],
    )
}

/// Conclusion of the daily-trend section.
pub fn daily(f: &Facts, lang: Lang) -> String {
    let (Some(best), Some(worst)) = (&f.best_uv_day, &f.worst_uv_day) else {
        return prose::DAILY_NONE.get(lang).into();
    };
    let mut s = fill(
        lang,
        &prose::DAILY,
        &[
            ("avg", int(f.avg_daily_uv.round() as u64)),
            ("best", best.date.to_string()),
            ("best_n", int(best.value as u64)),
            ("worst", worst.date.to_string()),
            ("worst_n", int(worst.value as u64)),
        ],
    );
    if let Some(l) = f.last2_lift {
        let t = if l >= 0.0 { &prose::DAILY_LAST2_UP } else { &prose::DAILY_LAST2_DOWN };
        s += &fill(lang, t, &[("lift", pct1(l.abs()))]);
    }
    if let Some(b) = &f.best_buy_day {
        s += &fill(lang, &prose::DAILY_BUY_PEAK, &[("date", b.date.to_string()), ("n", int(b.value as u64))]);
    }
    s
}

/// Conclusion of the retention section.
pub fn retention(f: &Facts, lang: Lang) -> String {
    match (&f.best_retention, &f.worst_retention) {
        (Some(b), Some(w)) => fill(
            lang,
            &prose::RETENTION,
            &[
                ("avg", pct1(f.avg_day1_retention)),
                ("best", b.date.to_string()),
                ("best_rate", pct1(b.value)),
                ("worst", w.date.to_string()),
                ("worst_rate", pct1(w.value)),
            ],
        ),
        _ => prose::RETENTION_NONE.get(lang).into(),
    }
}

/// Conclusion of the RFM section.
pub fn rfm(f: &Facts, lang: Lang) -> String {
    let Some((seg, users, share)) = &f.largest_segment else {
        return prose::RFM_NONE.get(lang).into();
    };
    let share_of = |name: &str| f.segments.iter().find(|s| s.0 == name).map(|s| s.2).unwrap_or(0.0);
    fill(
        lang,
        &prose::RFM,
        &[
            ("buyers", int(f.buyers)),
            ("segment", segment_name(lang, seg)),
            ("users", int(*users)),
            ("share", pct1(*share)),
            ("champions", pct1(share_of("champions"))),
            ("at_risk", pct1(share_of("at_risk"))),
            ("repurchase", pct1(f.repurchase_rate)),
        ],
    )
}

/// Conclusion of the top-categories section.
pub fn categories(f: &Facts, lang: Lang) -> String {
    let Some((cat, buys)) = f.top_categories.first() else {
        return prose::CATEGORIES_NONE.get(lang).into();
    };
    fill(
        lang,
        &prose::CATEGORIES,
        &[
            ("cat", cat.to_string()),
            ("buys", int(*buys)),
            ("n", f.top_categories.len().to_string()),
            ("all_buys", int(f.buys)),
            ("share", pct1(f.top10_buy_share)),
        ],
    )
}

/// Every metric's definition, for the appendix: (name, definition).
pub fn definitions(lang: Lang) -> Vec<(&'static str, &'static str)> {
    prose::DEFINITIONS.iter().map(|(n, d)| (n.get(lang), d.get(lang))).collect()
}
