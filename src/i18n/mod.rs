//! The catalogue of user-facing strings, in Chinese and English, so both stay complete together:
//! the labels table, and the names of stages, segments and their actions (one translation per name).
//! Imports nothing of ecomm; every layer may use it. Whole sentences are in [`prose`], phrases of
//! the outputs (headings, captions, summary words) in [`ui`], the dashboard's labels in [`dashboard`].

/// A catalogue entry: `tr!(NAME, "中文", "English")` declares `pub const NAME: Tr` (used by
/// [`prose`] and [`ui`], which have `Tr` in scope).
macro_rules! tr {
    ($name:ident, $zh:expr, $en:expr) => {
        #[allow(missing_docs)]
        pub const $name: Tr = Tr { zh: $zh, en: $en };
    };
}

pub mod dashboard;
pub mod prose;
pub mod ui;

/// Output language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
pub enum Lang {
    /// 简体中文
    Zh,
    /// English
    En,
}

/// (key, Chinese, English)
const STRINGS: &[(&str, &str, &str)] = &[
    ("title", "用户行为分析", "User behaviour analysis"),
    ("range", "分析区间", "Range"),
    ("timezone", "时区", "Time zone"),
    ("totals", "总体规模", "Totals"),
    ("events", "事件数", "Events"),
    ("users", "用户数", "Users"),
    ("items", "商品数", "Items"),
    ("categories", "类目数", "Categories"),
    ("funnel", "转化漏斗（按阶段独立计数）", "Funnel (stages counted independently)"),
    ("stage", "阶段", "Stage"),
    ("rate_prev", "环比转化", "From previous"),
    ("rate_first", "相对浏览", "From pv"),
    ("conversion", "浏览→购买 用户转化率", "pv→buy user conversion"),
    ("hourly", "24 小时行为分布", "Activity by hour"),
    ("hour", "小时", "Hour"),
    ("daily", "每日趋势", "Daily trend"),
    ("date", "日期", "Date"),
    ("retention", "次日留存", "Day-1 retention"),
    ("cohort", "当日活跃", "Cohort"),
    ("retained", "次日仍活跃", "Retained"),
    ("rate", "比例", "Rate"),
    ("avg_retention", "平均次日留存", "Average day-1 retention"),
    ("repurchase", "复购", "Repurchase"),
    ("buyers", "购买用户", "Buyers"),
    ("repeat_buyers", "复购用户（≥2 次购买）", "Repeat buyers (≥2 buys)"),
    ("repurchase_rate", "复购率", "Repurchase rate"),
    ("top_categories", "购买量 Top 10 类目", "Top 10 categories by buys"),
    ("category", "类目", "Category"),
    ("buys", "购买次数", "Buys"),
    (
        "rfm",
        "RFM 用户分层（仅购买用户；M 为购买商品数，数据无价格，仅作代理）",
        "RFM segments (buyers only; M = distinct items bought, a proxy: the data has no prices)",
    ),
    ("segment", "分层", "Segment"),
    ("share", "占比", "Share"),
    ("avg_r", "平均 R（天）", "Avg R (days)"),
    ("avg_f", "平均 F", "Avg F"),
    ("avg_m", "平均 M", "Avg M"),
    ("action", "建议动作", "Suggested action"),
    ("peak_hour", "高峰时段", "Peak hour"),
    ("kpis", "核心指标", "Key figures"),
    ("uv", "访客数 UV", "Unique visitors (UV)"),
    ("pv", "浏览量 PV", "Page views (PV)"),
    ("ingest_done", "导入完成", "Ingest finished"),
    ("rows_read", "读取行数", "Rows read"),
    ("rows_loaded", "导入行数", "Rows loaded"),
    ("rejected", "拒绝行数", "Rows rejected"),
    ("malformed", "格式错误", "malformed"),
    ("bad_behavior", "未知行为类型", "unknown behaviour"),
    ("out_of_window", "超出时间窗口", "out of window"),
    ("duplicate", "重复行", "duplicate"),
    ("window", "时间窗口", "Window"),
    ("detected", "（自动检测）", " (detected)"),
    ("rejects_file", "拒绝行文件", "Rejects file"),
    ("db_rows", "数据库总行数", "Rows in the DB"),
    ("unchanged", "所有文件此前均已导入，数据库未改变", "Every file was ingested before; the DB is unchanged"),
    ("speed", "速度", "Speed"),
    ("list_events", "行为记录", "events"),
    ("list_users", "用户名单", "users"),
    ("list_rejects", "拒绝行", "rejects"),
    ("list_metrics", "分析结果", "analyses"),
];

/// The string for `key` in `lang` (the key itself if missing, which a test forbids).
pub fn t(lang: Lang, key: &str) -> &'static str {
    for (k, zh, en) in STRINGS {
        if *k == key {
            return if lang == Lang::Zh { zh } else { en };
        }
    }
    debug_assert!(false, "missing i18n key {key}");
    "?"
}

/// A segment's display name.
pub fn segment_name(lang: Lang, segment: &str) -> String {
    match lang {
        Lang::Zh => segment_zh(segment).to_string(),
        Lang::En => segment.replace('_', " "),
    }
}

/// The suggested action for a segment, in Chinese and English.
pub fn segment_action(segment: &str) -> (&'static str, &'static str) {
    match segment {
        "champions" => (
            "重点维护：提供专属客服、新品优先体验和会员权益，防止流失",
            "Retain and reward: VIP service, early access to new items and member perks",
        ),
        "loyal" => (
            "提升客单价：交叉销售与积分激励，推动其成为重要价值用户",
            "Grow basket size: cross-sell and loyalty points to turn them into champions",
        ),
        "potential" => (
            "促进复购：首购后关怀、优惠券与个性化推荐",
            "Drive the next purchase: post-purchase follow-up, coupons and personalised recommendations",
        ),
        "at_risk" => (
            "及时召回：限时优惠与短信/推送提醒，了解流失原因",
            "Win them back now: time-limited offers and reminders; ask why they stopped buying",
        ),
        _ => (
            "低成本唤醒：在大促活动中触达，长期无响应则减少投入",
            "Low-cost reactivation: reach them in big campaigns; cut spend if they stay silent",
        ),
    }
}

/// The segment label in Chinese.
pub fn segment_zh(segment: &str) -> &'static str {
    match segment {
        "champions" => "重要价值用户",
        "loyal" => "忠诚用户",
        "potential" => "潜力用户",
        "at_risk" => "流失预警用户",
        _ => "沉睡用户",
    }
}

/// A filter in words for cover pages and the fact sheet, e.g. "behaviours pv, buy · categories
/// 2520377" ("行为 pv, buy · 类目 2520377"); empty when it keeps every event.
pub fn describe_filter(lang: Lang, behaviors: &[String], categories: &[i64]) -> String {
    let zh = lang == Lang::Zh;
    let mut parts = Vec::new();
    if !behaviors.is_empty() {
        parts.push(format!("{}{}", if zh { "行为 " } else { "behaviours " }, behaviors.join(", ")));
    }
    if !categories.is_empty() {
        let ids: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
        parts.push(format!("{}{}", if zh { "类目 " } else { "categories " }, ids.join(", ")));
    }
    parts.join(" · ")
}

/// An area's display name in `lang`.
pub fn area_name(lang: Lang, area: &str) -> String {
    let zh = match area {
        "conversion" => "转化",
        "timing" => "时段",
        "segments" => "用户分层",
        "retention" => "留存",
        _ => "类目",
    };
    if lang == Lang::Zh {
        zh.into()
    } else {
        area.into()
    }
}

/// A funnel stage's display name: "浏览 pv" in Chinese, "pv" in English.
pub fn stage_name(lang: Lang, stage: &str) -> String {
    let zh = match stage {
        "pv" => "浏览 pv",
        "fav" => "收藏 fav",
        "cart" => "加购 cart",
        _ => "购买 buy",
    };
    if lang == Lang::Zh {
        zh.into()
    } else {
        stage.into()
    }
}

/// Display width of a string: CJK and full-width characters take two columns.
pub fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let u = c as u32;
            if (0x1100..=0x115F).contains(&u)
                || (0x2E80..=0xA4CF).contains(&u)
                || (0xAC00..=0xD7A3).contains(&u)
                || (0xF900..=0xFAFF).contains(&u)
                || (0xFE30..=0xFE4F).contains(&u)
                || (0xFF00..=0xFF60).contains(&u)
                || (0xFFE0..=0xFFE6).contains(&u)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

/// A catalogue phrase in `lang`, owned.
pub fn tr(lang: Lang, t: &prose::Tr) -> String {
    t.get(lang).to_string()
}

/// Formats an integer with thousands separators.
pub fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats a ratio as a percentage with one decimal, for prose.
pub fn pct1(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

/// Formats a ratio as a percentage with two decimals.
pub fn pct(r: f64) -> String {
    format!("{:.2}%", r * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn every_key_has_both_languages() {
        for (k, zh, en) in STRINGS {
            assert!(!zh.is_empty() && !en.is_empty(), "{k}");
        }
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(int(12), "12");
        assert_eq!(pct(0.12345), "12.35%");
    }
}
