//! Grounding by meaning: a cited number must belong to a fact that the words around it name.
//!
//! [`grounding`](super::grounding) checks that every number of an insight is a number of the fact
//! sheet. That lets a real number be attached to the wrong fact ("购买最多的小时为 13:00，占
//! 42.4%", where 42.4 % is the evening share of all events). This check closes that gap:
//!
//! - Every fact of the sheet is a [`Meaning`]: its value and the words that name it in either
//!   language (`evening_share`: 晚间, 晚上, 18, evening, night, …; a registry headline: the words
//!   of its label and title).
//! - A text is cut into clauses at `，；,;` and into sentences at `。！？.!?` (a `,` or `.` only
//!   when a space or the end follows, so `89,666` and `68.5` stay whole).
//! - A cited number (not a bare integer 0–10, see grounding) whose value is the value of one or
//!   more facts belongs to one of them when the fact's words appear in the number's own clause
//!   or, when they do not, in the closest earlier clause of the same sentence that names any fact
//!   at all (its subject: "购买最多的小时为 13:00，占 42.4%" reads the second clause with the
//!   first). Otherwise it is **misattributed**.
//! - Words are matched lower-cased; an English word matches at the start of a word (`buy` in
//!   `buyers`, not in `abuyer`), a Chinese one anywhere.
//! - A number that only matches values that no fact's words describe (a number inside a
//!   headline's free text) is judged by value alone.

use super::grounding::numbers;

/// A fact value and the words that name it (lower-cased).
#[derive(Clone, Debug, PartialEq)]
pub struct Meaning {
    /// The value (a ratio as a fraction; matched as written or as a percentage).
    pub value: f64,
    /// The words that name the fact.
    pub cues: Vec<String>,
}

/// Users, visitors.
pub const USERS: &[&str] = &["用户", "访客", "人", "uv", "user", "visitor", "people", "customer"];
/// Page views.
pub const VIEWS: &[&str] = &["浏览", "访问", "pv", "page view", "view", "browse"];
/// Buys.
pub const BUYS: &[&str] = &["购买", "下单", "订单", "成交", "买", "销量", "buy", "bought", "purchas", "order", "sale"];
/// Favourites.
pub const FAVS: &[&str] = &["收藏", "fav", "favo", "wishlist"];
/// Carts.
pub const CARTS: &[&str] = &["加购", "购物车", "cart", "basket"];
/// Conversion.
pub const CONVERSION: &[&str] = &["转化", "conversion", "convert"];
/// The busiest time.
pub const PEAK: &[&str] = &["高峰", "峰值", "最多", "最高", "最活跃", "最忙", "peak", "busiest", "most", "highest", "top"];
/// The quietest time.
pub const TROUGH: &[&str] = &["低谷", "谷底", "最少", "最低", "最冷清", "trough", "quiet", "lowest", "least", "fewest"];
/// A ratio of two counts.
pub const RATIO: &[&str] = &["倍", "×", "times", "ratio", "x the"];
/// The evening window.
pub const EVENING: &[&str] = &["晚间", "晚上", "夜间", "傍晚", "夜", "18", "evening", "night"];
/// An hour of the day.
pub const HOUR: &[&str] = &["点", "时", ":00", "hour", "o'clock", "am", "pm"];
/// A daily mean.
pub const DAILY: &[&str] = &["日均", "平均", "每天", "每日", "daily", "average", "mean", "per day", "a day"];
/// Activity on a day.
pub const ACTIVE: &[&str] = &["活跃", "流量", "日活", "active", "traffic", "dau"];
/// The last two days against the earlier ones.
pub const LIFT: &[&str] = &[
    "最后两天",
    "后两天",
    "最近两天",
    "近两天",
    "最后 2 天",
    "提升",
    "增长",
    "上升",
    "高出",
    "高于",
    "last two",
    "final two",
    "last 2",
    "lift",
    "above",
    "higher",
    "rise",
    "rose",
    "grew",
    "growth",
    "up ",
];
/// Day-1 retention.
pub const RETENTION: &[&str] = &["留存", "回访", "次日", "retention", "retain", "return", "d1", "day-1", "next day"];
/// Repurchase.
pub const REPEAT: &[&str] = &["复购", "回购", "再次购买", "重复购买", "两次", "2 次", "repeat", "repurchase", "twice", "again", "second"];
/// RFM segments.
pub const SEGMENT: &[&str] = &["分层", "用户群", "人群", "群体", "segment", "rfm", "group", "cohort"];
/// Categories.
pub const CATEGORY: &[&str] = &["类目", "品类", "类别", "category", "categories"];
/// The top-10 categories' share.
pub const TOP10: &[&str] = &["前 10", "前10", "前十", "头部", "top 10", "top-10", "top ten", "leading", "largest"];

/// The cue lists joined and lower-cased.
pub fn cues(lists: &[&[&str]]) -> Vec<String> {
    lists.iter().flat_map(|l| l.iter().map(|w| w.to_lowercase())).collect()
}

/// The words of a label or title as cues: English words of two or more letters that are not
/// function words, and the character pairs of Chinese text.
pub fn label_cues(label: &str) -> Vec<String> {
    const STOP: &[&str] = &["the", "of", "to", "at", "in", "by", "an", "on", "per", "and", "or", "with", "for", "from", "is", "as"];
    let lower = label.to_lowercase();
    let mut out: Vec<String> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() >= 2 && !STOP.contains(w) && !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect();
    let han: Vec<char> = lower.chars().collect();
    for w in han.windows(2) {
        if w.iter().all(|c| !c.is_ascii() && c.is_alphanumeric()) {
            out.push(w.iter().collect());
        }
    }
    out
}

/// Whether `cue` occurs in `text` (both lower-cased): at a word start for an ASCII cue that
/// begins with a letter or digit, anywhere otherwise.
fn has(text: &str, cue: &str) -> bool {
    if cue.is_empty() {
        return false;
    }
    let word = cue.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    text.match_indices(cue).any(|(i, _)| !word || !text[..i].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric()))
}

/// A clause: where it is in the text (characters) and the index of its sentence.
struct Clause {
    from: usize,
    to: usize,
    sentence: usize,
}

/// The clauses of `c`, in order.
fn clauses(c: &[char]) -> Vec<Clause> {
    let mut out = Vec::new();
    let (mut from, mut sentence) = (0, 0);
    for i in 0..c.len() {
        let spaced = c.get(i + 1).is_none_or(|n| n.is_whitespace());
        let ends_sentence = matches!(c[i], '。' | '！' | '？' | '!' | '?' | '\n') || (c[i] == '.' && spaced);
        let ends_clause = ends_sentence || matches!(c[i], '，' | '；' | ';' | '、') || (c[i] == ',' && spaced);
        if ends_clause {
            out.push(Clause { from, to: i + 1, sentence });
            from = i + 1;
            sentence += usize::from(ends_sentence);
        }
    }
    if from < c.len() {
        out.push(Clause { from, to: c.len(), sentence });
    }
    out
}

/// The numbers of `text` that are values of facts none of which its clause (or its subject
/// clause) names; see the module docs.
pub fn misattributed(meanings: &[Meaning], text: &str) -> Vec<String> {
    let c: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    let spans = clauses(&c);
    let texts: Vec<String> = spans.iter().map(|k| c[k.from..k.to].iter().collect()).collect();
    let names_any = |t: &str| meanings.iter().any(|m| m.cues.iter().any(|w| has(t, w)));
    let mut bad = Vec::new();
    for n in numbers(text) {
        if n.bare_int && n.value <= 10.0 {
            continue;
        }
        let of: Vec<&Meaning> = meanings.iter().filter(|m| n.matches(m.value)).collect();
        if of.is_empty() {
            continue;
        }
        let named = |t: &str| of.iter().any(|m| m.cues.iter().any(|w| has(t, w)));
        let Some(k) = spans.iter().position(|s| s.from <= n.at && n.at < s.to) else { continue };
        let mut ok = named(&texts[k]);
        if !ok {
            let earlier = (0..k).rev().take_while(|&j| spans[j].sentence == spans[k].sentence);
            ok = earlier.map(|j| &texts[j]).find(|t| names_any(t)).is_some_and(|t| named(t));
        }
        if !ok {
            bad.push(n.text);
        }
    }
    bad
}

/// The numbers of an insight that are not grounded: those of any field that are not in the fact
/// sheet ([`Allowed`](super::grounding::Allowed)), then those of the finding and the expected
/// impact that belong to a fact their words do not name, marked `(misattributed)`. The action
/// is checked by value only: it cites levers (an hour, a category) that the finding has
/// introduced.
pub fn ungrounded(allowed: &super::grounding::Allowed, meanings: &[Meaning], i: &super::Insight) -> Vec<String> {
    let mut bad = allowed.unknown(&format!("{} {} {}", i.finding, i.action, i.expected_impact));
    for text in [&i.finding, &i.expected_impact] {
        bad.extend(misattributed(meanings, text).into_iter().map(|n| format!("{n} (misattributed)")));
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet() -> Vec<Meaning> {
        let m = |value: f64, lists: &[&[&str]]| Meaning { value, cues: cues(lists) };
        vec![
            m(13.0, &[BUYS, PEAK, HOUR]),
            m(21.0, &[PEAK, HOUR, ACTIVE]),
            m(0.4241, &[EVENING]),
            m(0.6847, &[CONVERSION, BUYS]),
            m(89_666.0, &[VIEWS]),
            m(983.0, &[USERS]),
        ]
    }

    #[test]
    fn the_misattributed_share_is_caught() {
        let s = sheet();
        assert_eq!(misattributed(&s, "购买最多的小时为13:00，占42.4%"), vec!["42.4%"]);
        assert_eq!(misattributed(&s, "The hour with most buys is 13:00, 42.4% of the total."), vec!["42.4%"]);
        assert_eq!(misattributed(&s, "访客 983 人，转化率 42.4%。"), vec!["42.4%"], "the clause names another fact");
        assert_eq!(misattributed(&s, "晚间占比最高的是 21:00，浏览 983 次"), vec!["983"], "983 is users, not views");
    }

    #[test]
    fn numbers_with_their_facts_pass() {
        let s = sheet();
        for ok in [
            "购买最多的小时为 13:00，晚间（18 点后）占全部事件的 42.4%。",
            "Buys peak at 13:00; 42.4% of all events happen in the evening.",
            "浏览→购买转化率为 68.5%，共 983 名访客，浏览量 89,666。",
            "Conversion is 68.47% of 983 visitors, out of 89,666 page views.",
            "晚间时段很重要，占全部事件的 42.4%",
            "Top 3 hours, 21:00 the busiest.",
        ] {
            assert!(misattributed(&s, ok).is_empty(), "{ok}: {:?}", misattributed(&s, ok));
        }
    }

    #[test]
    fn the_subject_is_searched_only_in_the_same_sentence() {
        let s = sheet();
        assert_eq!(misattributed(&s, "晚间很重要。占42.4%"), vec!["42.4%"]);
    }

    #[test]
    fn english_words_match_at_word_starts() {
        assert!(has("the buyers", "buy") && !has("abuyer", "buy") && has("购买用户", "购买"));
        assert_eq!(label_cues("Median time to convert (min)"), vec!["median", "time", "convert", "min"]);
        assert_eq!(label_cues("异常时段"), vec!["异常", "常时", "时段"]);
    }
}
