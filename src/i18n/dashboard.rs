//! The dashboard's labels (the page reads them as `T` in `serve/assets/app.js`): one row per key in
//! both languages. Stage and segment names come from [`super::stage_name`] and [`super::segment_name`],
//! so they read the same in the dashboard, the terminal and the PDF.

use super::{segment_name, stage_name, Lang};

/// (key, Chinese, English).
const LABELS: &[(&str, &str, &str)] = &[
    ("title", "用户行为分析", "User behaviour analysis"),
    ("from", "开始", "From"),
    ("to", "结束", "To"),
    ("reset", "全部", "All"),
    ("pdf", "下载 PDF", "Download PDF"),
    ("xlsx", "下载 Excel", "Download Excel"),
    ("live_pause", "暂停实时更新", "Pause live updates"),
    ("reports", "定时报告", "Scheduled reports"),
    ("alerts", "告警", "Alerts"),
    ("alert_rules", "告警规则", "Alert rules"),
    ("alert_none", "尚无告警", "No alerts yet"),
    ("alert_add", "添加规则", "Add rule"),
    ("alert_remove", "删除", "Remove"),
    ("alert_name", "名称", "Name"),
    ("alert_metric", "指标路径（如 kpis.pv_to_buy_conversion）", "Metric path (e.g. kpis.pv_to_buy_conversion)"),
    ("alert_when", "条件（如 below 0.01、drop 20%、new）", "Condition (e.g. below 0.01, drop 20%, new)"),
    ("alert_to", "通知目标（网址或 dashboard）", "Send to (URL or dashboard)"),
    ("alert_over_day", "最近一天", "latest day"),
    ("alert_over_all", "截至最近一天的全部数据", "all days so far"),
    ("status_pending", "待发送", "pending"),
    ("status_delivered", "已送达", "delivered"),
    ("status_failed", "发送失败", "failed"),
    ("status_listed", "仅看板", "dashboard only"),
    ("state_firing", "触发中", "firing"),
    ("state_ok", "正常", "ok"),
    ("state_unknown", "未知", "unknown"),
    ("live_updated", "已更新", "updated"),
    ("new_rows", "新增 {n} 行", "{n} new rows"),
    ("csv", "CSV", "CSV"),
    ("csv_tip", "下载本图表的数据表（CSV）", "Download this chart's table (CSV)"),
    ("user_list", "名单", "List"),
    ("user_list_tip", "下载该分层的用户名单（CSV，含 RFM 与 CLV 列）", "Download this segment's users (CSV, with RFM and CLV columns)"),
    ("funnel", "转化漏斗（各阶段用户数）", "Conversion funnel (users per stage)"),
    ("hourly", "24 小时行为分布", "Activity by hour of day"),
    ("daily", "每日趋势：活跃用户与购买", "Daily trend: active users and buys"),
    ("retention", "次日留存率（按日期）", "Day-1 retention by date"),
    ("rfm", "RFM 用户分层（购买用户）", "RFM segments (buyers)"),
    ("categories", "购买量 Top 10 类目", "Top 10 categories by buys"),
    ("insights", "运营建议", "Insights"),
    ("run", "生成建议", "Generate insights"),
    ("data", "数据", "Data"),
    ("uv", "访客数 UV", "Unique visitors (UV)"),
    ("pv", "浏览量 PV", "Page views (PV)"),
    ("buys", "购买次数", "Buy events"),
    ("buyers", "购买用户", "Buyers"),
    ("conversion", "浏览→购买 用户转化率", "pv→buy user conversion"),
    ("retention1", "平均次日留存", "Average day-1 retention"),
    ("repurchase", "复购率", "Repurchase rate"),
    ("peak", "高峰时段", "Peak hour"),
    ("users", "用户", "Users"),
    ("share", "占比", "Share"),
    ("action", "建议动作", "Suggested action"),
    ("segment", "分层", "Segment"),
    ("avg_r", "平均 R", "Avg R"),
    ("avg_f", "平均 F", "Avg F"),
    ("avg_m", "平均 M", "Avg M"),
    ("prev", "环比", "from previous"),
    ("first", "相对浏览", "from pv"),
    ("hour", "小时", "Hour"),
    ("active", "活跃用户 UV", "Active users (UV)"),
    ("buys_l", "购买次数", "Buys"),
    ("running", "正在生成建议…", "Generating insights…"),
    ("cancel", "取消", "Cancel"),
    ("cancelled", "已取消生成。", "Generation cancelled."),
    ("reading_prompt", "正在读取提示（{n} 个 token）…", "Reading the prompt ({n} tokens)…"),
    ("stream_progress", "第 {round} 轮：{tokens}/{max} 个 token，{rate} token/s", "Round {round}: {tokens}/{max} tokens, {rate} tokens/s"),
    ("source_llm", "来源：本地大模型（数字已核对）", "Source: local LLM (numbers checked)"),
    ("source_rules", "来源：规则（未使用大模型）", "Source: rules (no language model)"),
    ("finding", "发现：", "Finding: "),
    ("act", "行动：", "Action: "),
    ("impact", "预期效果：", "Expected impact: "),
    ("cat", "类目", "cat."),
    ("db", "数据库", "DB"),
    ("window", "时间窗口", "Window"),
    ("tz", "时区", "Time zone"),
    ("rows", "行数", "Rows"),
    ("ingests", "导入批次", "Ingests"),
    ("last_ingest", "最近导入", "Last ingest"),
    ("rows_read", "读取行数", "Rows read"),
    ("malformed", "格式错误", "malformed"),
    ("bad_behavior", "未知行为类型", "unknown behaviour"),
    ("out_of_window", "超出时间窗口", "out of window"),
    ("duplicate", "重复行", "duplicate"),
    ("rejects_file", "拒绝行文件", "Rejects file"),
    ("files", "数据文件", "Files"),
    ("empty", "区间内没有数据", "No data in this range"),
    ("lang", "EN", "中文"),
    ("behaviors", "行为", "Behaviours"),
    ("category", "类目", "Category"),
    ("category_ph", "全部类目", "all categories"),
    ("filter_note", "筛选：", "Filter: "),
    ("events_l", "事件", "events"),
    ("funnel_by", "有序漏斗主体", "Ordered funnel by"),
    ("key_user", "用户", "user"),
    ("key_item", "用户×商品", "user × item"),
    ("key_category", "用户×类目", "user × category"),
    ("funnel_window", "窗口", "Window"),
    ("bought_with", "同购类目", "Bought with"),
    ("window_none", "不限", "none"),
    ("drop_off", "流失", "drop-off"),
    ("from_first", "较第一步", "from step 1"),
];

/// The labels as the JS object `{"zh": {...}, "en": {...}}` the page starts from.
pub fn labels_json() -> String {
    let mut langs = serde_json::Map::new();
    for (lang, name) in [(Lang::Zh, "zh"), (Lang::En, "en")] {
        let mut m = serde_json::Map::new();
        for (k, zh, en) in LABELS {
            m.insert(k.to_string(), (if lang == Lang::Zh { *zh } else { *en }).into());
        }
        for b in ["pv", "fav", "cart", "buy"] {
            m.insert(format!("{b}_s"), stage_name(lang, b).into());
        }
        for s in ["champions", "loyal", "potential", "at_risk", "hibernating"] {
            m.insert(s.to_string(), segment_name(lang, s).into());
        }
        langs.insert(name.to_string(), m.into());
    }
    serde_json::Value::Object(langs).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_languages_have_every_label() {
        let v: serde_json::Value = serde_json::from_str(&super::labels_json()).unwrap();
        let (zh, en) = (v["zh"].as_object().unwrap(), v["en"].as_object().unwrap());
        assert_eq!(zh.len(), en.len());
        assert!(zh.keys().all(|k| en.contains_key(k) && !zh[k].as_str().unwrap().is_empty()));
        assert_eq!(zh["at_risk"], "流失预警用户");
        assert_eq!(en["at_risk"], "at risk");
        assert_eq!(zh["cart_s"], "加购 cart");
    }
}
