//! Checks a program can make on a set of insights, reported with every run (model or rules):
//!
//! - **areas**: at least 3 distinct areas among the insights;
//! - **priorities**: not all the same;
//! - **distinct actions**: no two actions more than half the same text (Dice similarity of their
//!   character bigrams, lower-cased, spaces and punctuation left out, above 0.5);
//! - **levers**: every action names a concrete lever of the fact sheet: an hour (`21:00`, `21点`, `24 点`,
//!   `9 pm`), a date (`12-02`, `12月2日`), a funnel stage (浏览/收藏/加购/购买, pv/fav/cart/buy,
//!   view/favourite/cart/purchase), an RFM segment by name (either language), or a category id of
//!   the fact sheet;
//! - **grounded**: every number is a number of the fact sheet and belongs to the fact its words
//!   name ([`meaning::ungrounded`](super::meaning::ungrounded));
//! - **whole**: no text cut mid-sentence: a finding, action or impact that fills its field's
//!   maximum length, or ends in a comma, colon, dash or an opening bracket or quote, was cut.
//!
//! An insight set **passes** when every check does.

use super::facts::Facts;
use super::Insight;
use crate::i18n::{segment_name, Lang};
use serde::{Deserialize, Serialize};

use super::llm::{IMPACT_MAX, TEXT_MAX};

/// The checks' results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Distinct areas.
    pub areas: usize,
    /// Priorities are not all equal.
    pub varied_priorities: bool,
    /// No two actions more than half the same text.
    pub distinct_actions: bool,
    /// Actions that name no lever of the fact sheet (their indexes).
    pub without_lever: Vec<usize>,
    /// Texts cut mid-sentence (`index.field`).
    pub cut: Vec<String>,
    /// Numbers not grounded (`index: number`).
    #[serde(default)]
    pub ungrounded: Vec<String>,
    /// Every check passed.
    pub passed: bool,
}

/// Lower-cased characters without spaces and punctuation, as bigrams.
fn bigrams(s: &str) -> Vec<(char, char)> {
    let c: Vec<char> = s.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect();
    c.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Dice similarity of two texts' character bigrams (0 = nothing shared, 1 = the same).
pub fn similarity(a: &str, b: &str) -> f64 {
    let (x, mut y) = (bigrams(a), bigrams(b));
    if x.is_empty() || y.is_empty() {
        return if a.trim() == b.trim() { 1.0 } else { 0.0 };
    }
    let total = x.len() + y.len();
    let mut shared = 0;
    for g in &x {
        if let Some(i) = y.iter().position(|h| h == g) {
            y.swap_remove(i);
            shared += 1;
        }
    }
    2.0 * shared as f64 / total as f64
}

/// Whether `t` names an hour or a date: `21:00`, `21点`, `21时`, `9 pm`, `12-02`, `12月2日`.
fn names_time(t: &str) -> bool {
    let c: Vec<char> = t.to_lowercase().chars().collect();
    for i in 0..c.len() {
        if !c[i].is_ascii_digit() || (i > 0 && c[i - 1].is_ascii_digit()) {
            continue;
        }
        let mut j = i;
        while j < c.len() && c[j].is_ascii_digit() {
            j += 1;
        }
        let rest: String = c[j..].iter().take(4).collect();
        let short = j - i <= 2;
        let digit_after = |k: usize| c.get(j + k).is_some_and(|d| d.is_ascii_digit());
        if short && ((rest.starts_with(':') || rest.starts_with('-')) && digit_after(1)) {
            return true;
        }
        if short && ["点", "时", "月", " 点", " 时", " 月"].iter().any(|s| rest.starts_with(s)) {
            return true;
        }
        if short && ["am", " am", "pm", " pm"].iter().any(|s| rest.starts_with(s)) {
            return true;
        }
    }
    false
}

/// The words that name a lever of a fact sheet, lower-cased.
pub struct Levers(Vec<String>);

impl Levers {
    /// The funnel stages' words, the `segments` by key and name, and the `categories`' ids.
    pub fn new(segments: &[String], categories: &[i64]) -> Levers {
        let mut v: Vec<String> =
            ["浏览", "收藏", "加购", "购物车", "购买", "下单", "pv", "fav", "cart", "buy", "view", "favourite", "favorite", "purchase"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        for segment in segments {
            v.push(segment.to_lowercase());
            v.push(segment_name(Lang::Zh, segment).to_lowercase());
            v.push(segment_name(Lang::En, segment).to_lowercase());
        }
        v.extend(categories.iter().map(i64::to_string));
        Levers(v)
    }

    /// The levers of `facts`.
    pub fn of(facts: &Facts) -> Levers {
        let segments: Vec<String> = facts.segments.iter().map(|(s, _, _)| s.clone()).collect();
        let categories: Vec<i64> = facts.top_categories.iter().map(|(id, _)| *id).collect();
        Levers::new(&segments, &categories)
    }

    fn named_in(&self, text: &str) -> bool {
        let t = text.to_lowercase();
        names_time(&t) || self.0.iter().any(|w| !w.is_empty() && t.contains(w.as_str()))
    }
}

/// Whether `text` fills `max` or ends where a sentence cannot.
fn cut(text: &str, max: usize) -> bool {
    let t = text.trim_end();
    t.chars().count() >= max || t.ends_with([',', '，', '、', ';', '；', ':', '：', '-', '—', '(', '（', '"', '“'])
}

/// What the checks compare an answer with: its fact sheet's levers, numbers and meanings.
pub struct Sheet {
    /// The levers.
    pub levers: Levers,
    /// The numbers and dates.
    pub allowed: super::grounding::Allowed,
    /// The facts and the words that name them.
    pub meanings: Vec<super::meaning::Meaning>,
}

impl Sheet {
    /// The sheet of `facts`.
    pub fn of(facts: &Facts) -> Sheet {
        Sheet { levers: Levers::of(facts), allowed: facts.allowed(), meanings: facts.meanings() }
    }
}

/// Runs every check on `insights` against their fact `sheet`.
pub fn check(insights: &[Insight], sheet: &Sheet) -> Quality {
    let levers = &sheet.levers;
    let mut areas: Vec<&str> = insights.iter().map(|i| i.area.as_str()).collect();
    areas.sort_unstable();
    areas.dedup();
    let varied_priorities = insights.windows(2).any(|w| w[0].priority != w[1].priority);
    let mut distinct_actions = true;
    for (i, a) in insights.iter().enumerate() {
        for b in &insights[i + 1..] {
            if similarity(&a.action, &b.action) > 0.5 {
                distinct_actions = false;
            }
        }
    }
    let without_lever: Vec<usize> = insights.iter().enumerate().filter(|(_, i)| !levers.named_in(&i.action)).map(|(k, _)| k).collect();
    let mut cuts = Vec::new();
    for (k, i) in insights.iter().enumerate() {
        for (field, text, max) in
            [("finding", &i.finding, TEXT_MAX), ("action", &i.action, TEXT_MAX), ("expected_impact", &i.expected_impact, IMPACT_MAX)]
        {
            if cut(text, max) {
                cuts.push(format!("{k}.{field}"));
            }
        }
    }
    let ungrounded: Vec<String> = insights
        .iter()
        .enumerate()
        .flat_map(|(k, i)| super::meaning::ungrounded(&sheet.allowed, &sheet.meanings, i).into_iter().map(move |n| format!("{k}: {n}")))
        .collect();
    let passed =
        areas.len() >= 3 && varied_priorities && distinct_actions && without_lever.is_empty() && cuts.is_empty() && ungrounded.is_empty();
    Quality { areas: areas.len(), varied_priorities, distinct_actions, without_lever, cut: cuts, ungrounded, passed }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(area: &str, action: &str, priority: u8, impact: &str) -> Insight {
        Insight {
            area: area.into(), finding: "转化率为 2.1%。".into(), action: action.into(), priority, expected_impact: impact.into()
        }
    }

    #[test]
    fn time_words() {
        for t in ["在 21:00 推送", "21点推送", "push at 9 pm", "12-02 预热", "12月2日预热", "在晚间 18–24 点推送"] {
            assert!(names_time(t), "{t}");
        }
        for t in ["提升 2.1% 的转化", "push 300 coupons", "2017 年"] {
            assert!(!names_time(t), "{t}");
        }
    }

    #[test]
    fn similar_texts() {
        assert!(similarity("分析高峰时段的购物行为，以优化销售策略", "分析高峰时段和低谷时段的购物行为，以优化销售策略") > 0.5);
        assert!(similarity("在 21:00 向加购未买用户推送优惠券", "为类目 4145813 增加首页曝光") < 0.5);
    }

    #[test]
    fn cut_texts() {
        assert!(cut("例如，可以增加商品", 9));
        assert!(cut("as a result,", 120));
        assert!(!cut("提高转化率。", 120));
    }

    fn allowed() -> crate::insights::grounding::Allowed {
        crate::insights::grounding::Allowed { values: vec![0.021, 21.0, 4_145_813.0], dates: Default::default() }
    }

    #[test]
    fn the_first_qwen_run_fails_and_a_varied_set_passes() {
        let f = Sheet { levers: Levers::new(&["at_risk".to_string()], &[4145813]), allowed: allowed(), meanings: vec![] };
        let same = "分析高峰时段和低谷时段的购物行为，以优化销售策略";
        // As the first Qwen 1.5B run wrote them: one area, priority 1, one action, impacts cut at 120.
        let long: String = "通过了解高峰时段和低谷时段的购物行为，可以针对性地调整商品价格".chars().cycle().take(IMPACT_MAX).collect();
        let bad: Vec<Insight> = (0..5).map(|_| ins("segments", same, 1, &long)).collect();
        let q = check(&bad, &f);
        assert_eq!((q.areas, q.varied_priorities, q.distinct_actions, q.passed), (1, false, false, false));
        assert_eq!(q.without_lever.len(), 5);
        assert_eq!(q.cut.len(), 5);
        let good = vec![
            ins("timing", "在 21:00 前后向加购未买的用户推送限时优惠", 1, "晚间转化率提升。"),
            ins("segments", "对流失风险 at risk 用户发放召回券", 2, "召回部分流失用户。"),
            ins("categories", "为类目 4145813 增加首页曝光位", 3, "带动该类目购买。"),
        ];
        let q = check(&good, &f);
        assert!(q.passed, "{q:?}");
    }
}
