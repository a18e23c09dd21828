//! Sentences in both languages: templates with `{name}` placeholders that [`fill`] replaces, so
//! each sentence is written once per language here and the code that fills it exists once.
//! Numbers are formatted by the caller (`int`, `pct1`, …) before they are filled in.

use super::Lang;

/// One sentence (or phrase) in Chinese and English.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Tr {
    /// 简体中文
    pub zh: &'static str,
    /// English
    pub en: &'static str,
}

impl Tr {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.zh,
            Lang::En => self.en,
        }
    }
}

/// `tr`'s text in `lang` with every `{name}` replaced by its value in `args` (a placeholder with
/// no value is left as it is, which a test forbids for the templates below).
pub fn fill(lang: Lang, tr: &Tr, args: &[(&str, String)]) -> String {
    let mut out = tr.get(lang).to_string();
    for (k, v) in args {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

// `ecomm export`'s summary line.
tr!(
    EXPORT_DONE,
    "已导出{what} {rows} 行 → {file}（{bytes} 字节，{secs} 秒）",
    "Exported {rows} rows of {what} → {file} ({bytes} bytes, {secs} s)"
);

// Live data (`ecomm ingest --watch`, `--stdin`).
tr!(
    WATCH_START,
    "正在监视 {dir}：新文件写完后自动导入（数据库现有 {db_rows} 行；Ctrl-C 停止）",
    "Watching {dir}: every new file is ingested once complete (the DB holds {db_rows} rows; Ctrl-C stops)"
);
tr!(WATCH_FAILED, "{what} 导入失败，已移至 {to}：{error}", "{what} failed and was moved to {to}: {error}");
tr!(
    LIVE_INGESTED,
    "{what}：导入 {loaded} 行，拒绝 {rejected} 行；数据库共 {db_rows} 行",
    "{what}: {loaded} rows loaded, {rejected} rejected; the DB holds {db_rows} rows"
);
tr!(
    STDIN_START,
    "从标准输入读取行并分批提交（数据库现有 {db_rows} 行；未提交的批次暂存于 {dir}）",
    "Reading rows from standard input, committed in batches (the DB holds {db_rows} rows; a batch waits in {dir})"
);
tr!(
    STDIN_DONE,
    "输入结束：{batches} 批，导入 {loaded} 行，拒绝 {rejected} 行；数据库共 {db_rows} 行",
    "Input ended: {batches} batches, {loaded} rows loaded, {rejected} rejected; the DB holds {db_rows} rows"
);

// Alerts: what a firing says, and the CLI's lines.
tr!(
    ALERT_VALUE,
    "告警「{rule}」：{metric} 在 {day}（{over}）为 {value}，满足条件 {condition}",
    "Alert '{rule}': {metric} is {value} on {day} ({over}), which meets '{condition}'"
);
tr!(
    ALERT_CHANGE,
    "告警「{rule}」：{metric} 在 {day}（{over}）为 {value}，前一天为 {previous}（变化 {change}），满足条件 {condition}",
    "Alert '{rule}': {metric} is {value} on {day} ({over}) against {previous} the day before ({change}), which meets '{condition}'"
);
tr!(
    ALERT_NEW,
    "告警「{rule}」：{metric} 出现 {count} 项新发现（截至 {day}）：{first}",
    "Alert '{rule}': {count} new finding(s) in {metric} (up to {day}): {first}"
);
tr!(
    ALERT_ADDED,
    "已添加告警规则「{rule}」：{metric} {condition}（{over}）→ {destination}；当前值：{value}",
    "Added alert rule '{rule}': {metric} {condition} ({over}) → {destination}; the value now: {value}"
);
tr!(ALERT_REMOVED, "已删除告警规则「{rule}」（历史触发记录保留）", "Removed alert rule '{rule}' (its firings stay listed)");

// The report's section conclusions (`report::narrative`).
tr!(
    FUNNEL,
    "区间内共有 {uv} 名访客，其中 {pv} 人浏览、{fav} 人收藏、{cart} 人加购、{buy} 人购买。浏览→购买的用户转化率为 {conversion}。",
    "{uv} visitors in the range: {pv} viewed, {fav} favourited, {cart} carted and {buy} bought. pv→buy user conversion is {conversion}."
);
tr!(
    FUNNEL_CART,
    "加购用户与购买用户之比为 {cart_to_buy}，加购率 {cart_rate} 高于收藏率 {fav_rate}，加购是更强的购买信号。",
    " Buy users are {cart_to_buy} of cart users; the cart rate ({cart_rate}) is above the fav rate ({fav_rate}), so carting is the stronger buying signal."
);
tr!(
    HOURLY,
    "活动高峰在 {peak}:00，谷底在 {trough}:00，高峰小时的事件量是谷底的 {ratio} 倍。18–24 点占全天事件的 {evening}，购买最多的小时是 {buy_peak}:00。营销触达应安排在晚间高峰之前。",
    "Activity peaks at {peak}:00 and bottoms out at {trough}:00; the peak hour has {ratio}× the events of the trough. 18:00–24:00 holds {evening} of all events, and most buys happen at {buy_peak}:00. Time campaigns just before the evening peak."
);
tr!(DAILY_NONE, "区间内没有数据。", "No data in the range.");
tr!(
    DAILY,
    "日均活跃用户 {avg} 人；最高为 {best}（{best_n} 人），最低为 {worst}（{worst_n} 人）。",
    "On average {avg} users were active per day; the busiest day was {best} ({best_n}) and the quietest {worst} ({worst_n})."
);
tr!(DAILY_LAST2_UP, "最后两天的日均 UV 比此前高 {lift}。", " The last two days ran {lift} above the earlier days.");
tr!(DAILY_LAST2_DOWN, "最后两天的日均 UV 比此前低 {lift}。", " The last two days ran {lift} below the earlier days.");
tr!(DAILY_BUY_PEAK, "购买最多的一天是 {date}（{n} 次）。", " Buys peaked on {date} ({n}).");
tr!(
    RETENTION,
    "平均次日留存为 {avg}。最高为 {best}（{best_rate}），最低为 {worst}（{worst_rate}）。低于平均的日期值得回看当天的流量来源与活动。",
    "Average day-1 retention is {avg}. The best day was {best} ({best_rate}) and the worst {worst} ({worst_rate}). Days below the average deserve a look at their traffic sources and campaigns."
);
tr!(
    RETENTION_NONE,
    "区间只有一天（或没有活跃用户），无法计算次日留存。",
    "The range has a single day (or no active users), so day-1 retention cannot be measured."
);
tr!(RFM_NONE, "区间内没有购买用户，无法进行 RFM 分层。", "There are no buyers in the range, so there are no RFM segments.");
tr!(
    RFM,
    "{buyers} 名购买用户分为 5 层，最大的是「{segment}」（{users} 人，{share}）。重要价值用户占 {champions}，流失预警用户占 {at_risk}；复购率为 {repurchase}。",
    "{buyers} buyers fall into 5 segments; the largest is {segment} ({users} users, {share}). Champions are {champions} and at-risk buyers {at_risk}; the repurchase rate is {repurchase}."
);
tr!(CATEGORIES_NONE, "区间内没有购买，因此没有类目排名。", "There are no buys in the range, so there is no category ranking.");
tr!(
    CATEGORIES,
    "购买量最高的类目是 {cat}（{buys} 次购买）。前 {n} 个类目合计占全部 {all_buys} 次购买的 {share}，头部类目应优先保障库存与曝光。",
    "Category {cat} leads with {buys} buys. The top {n} categories hold {share} of all {all_buys} buys, so they come first for stock and placement."
);

// The report's page footer, and the note under its insights heading (`report`).
tr!(FOOTER, "{title}  ·  第 {p} / {n} 页", "{title}  ·  Page {p} of {n}");
tr!(
    NOTE_RULES,
    "以下建议由确定性规则根据本报告中的数字生成，未使用语言模型。",
    "These recommendations come from deterministic rules applied to the numbers in this report; no language model was used."
);
tr!(
    NOTE_LLM,
    "以下建议由本地大模型（{model}）生成，引用的每个数字都已与事实表核对。",
    "Written by a local language model ({model}); every number cited was checked against the fact sheet."
);

// Notes on where the insights came from (`insights`).
tr!(
    HOW_TO_ENABLE,
    "启用本地大模型：用 --model PATH.gguf、设置 ECOMM_MODEL，或把 .gguf 文件放进 models/（推荐 Qwen2.5 1.5B/3B Instruct GGUF，见 README）。",
    "To use a local LLM: pass --model PATH.gguf, set ECOMM_MODEL, or put a .gguf file in models/ (Qwen2.5 1.5B/3B Instruct GGUF recommended; see the README)."
);
tr!(
    NOTE_DROPPED,
    "{dropped} 条建议引用了事实表之外的数字，已丢弃并重新生成一次。",
    "{dropped} insight(s) cited numbers not in the fact sheet; they were dropped and regenerated once."
);
tr!(
    NOTE_FAILED,
    "模型的建议未通过检查（有效 {valid} 条，丢弃 {dropped} 条）。",
    "The model's insights did not pass the checks ({valid} valid, {dropped} dropped)."
);
tr!(INSIGHTS_PROMPT, "正在生成建议：读取提示（{prompt} 个 token）…", "generating insights: reading the prompt ({prompt} tokens)…");
tr!(
    INSIGHTS_STEP,
    "正在生成建议（第 {round} 轮）：{tokens}/{max} 个 token，{rate} token/s",
    "generating insights (round {round}): {tokens}/{max} tokens, {rate} tokens/s"
);
tr!(
    NOTE_CANCELLED,
    "模型生成在 {tokens} 个 token 后被取消，以下为规则建议。",
    "The model was stopped after {tokens} tokens; rule-based insights shown instead."
);
tr!(NOTE_RULES_INSTEAD, "（已改用规则建议）", "(rule-based insights shown instead)");
tr!(NOTE_RULES_ASKED, "按要求只使用规则建议。", "Rule-based insights, as requested.");
tr!(NOTE_NO_MODEL, "未配置模型，以下为基于规则的建议。", "No model is configured; these insights come from rules. ");
tr!(NOTE_BAD_MODEL, "无法读取模型", "Cannot read the model");

// The LLM's fact sheet (`insights::facts`), one line each.
tr!(FACT_RANGE, "区间: {from} 至 {to}，共 {days} 天，时区 {tz}", "Range: {from} to {to}, {days} days, time zone {tz}");
tr!(FACT_FILTER, "筛选（以下数字只含这些事件）: {filter}", "Filter (every number below covers these events only): {filter}");
tr!(FACT_TOTALS, "访客 UV {uv}；浏览 PV {pv}；购买 {buys} 次；购买用户 {buyers}", "UV {uv}; PV {pv}; buy events {buys}; buyers {buyers}");
tr!(FACT_FUNNEL, "漏斗用户数：浏览 {pv}，收藏 {fav}，加购 {cart}，购买 {buy}", "Funnel users: pv {pv}, fav {fav}, cart {cart}, buy {buy}");
tr!(
    FACT_RATES,
    "浏览→购买转化率 {conversion}；收藏率 {fav_rate}；加购率 {cart_rate}；加购→购买 {cart_to_buy}",
    "pv→buy conversion {conversion}; fav rate {fav_rate}; cart rate {cart_rate}; cart→buy {cart_to_buy}"
);
tr!(
    FACT_HOURS,
    "高峰 {peak}:00，低谷 {trough}:00，高峰/低谷 {ratio} 倍；18–24 点占 {evening}；购买最多的小时 {buy_peak}:00",
    "Peak hour {peak}:00, trough {trough}:00, peak/trough {ratio}x; 18:00-24:00 share {evening}; most buys at {buy_peak}:00"
);
tr!(
    FACT_DAYS,
    "日均 UV {avg}；UV 最高 {best}；最低 {worst}；最后两天较前期 {lift}；购买最多 {best_buy}",
    "Mean daily UV {avg}; highest {best}; lowest {worst}; last two days vs before {lift}; most buys {best_buy}"
);
tr!(FACT_RETENTION, "平均次日留存 {avg}；最高 {best}；最低 {worst}", "Average day-1 retention {avg}; best {best}; worst {worst}");
tr!(FACT_REPURCHASE, "复购用户 {repeat}，复购率 {rate}", "Repeat buyers {repeat}, repurchase rate {rate}");
tr!(FACT_RFM, "RFM 分层：{segments}", "RFM segments: {segments}");
tr!(
    FACT_CATEGORIES,
    "Top 类目（类目:购买次数）：{cats}；前 10 占全部购买 {share}",
    "Top categories (id:buys): {cats}; top-10 share of buys {share}"
);
// The rule-based insights (`insights::rules`): finding, action and expected impact of each rule.
tr!(RULE_NO_BUYS, "区间内 {uv} 名访客没有任何购买。", "None of the {uv} visitors bought anything in the range.");
tr!(
    RULE_NO_BUYS_ACTION,
    "检查下单与支付流程是否可用，并确认购买数据已正确导入。",
    "Check that ordering and payment work and that buy events are being logged."
);
tr!(RULE_NO_BUYS_IMPACT, "恢复成交。", "Restores sales.");
tr!(
    RULE_CONVERSION,
    "浏览→购买用户转化率为 {conversion}，加购用户中购买的比例为 {cart_to_buy}。",
    "pv→buy user conversion is {conversion}; {cart_to_buy} of cart users go on to buy."
);
tr!(
    RULE_CONVERSION_ACTION,
    "对加购未购买的用户推送限时优惠券和降价提醒，并简化结算步骤。",
    "Send time-limited coupons and price-drop alerts to users who carted but did not buy, and shorten checkout."
);
tr!(
    RULE_CONVERSION_IMPACT,
    "{cart_users} 名加购用户中每多一人完成购买，就多一名购买用户。",
    "Every one of the {cart_users} cart users who completes a purchase is one more buyer."
);
tr!(
    RULE_TIMING,
    "{peak}:00 是活动高峰，事件量是谷底 {trough}:00 的 {ratio} 倍；18–24 点占全天事件的 {evening}。",
    "Activity peaks at {peak}:00 with {ratio}× the events of the trough at {trough}:00; 18:00–24:00 holds {evening} of all events."
);
tr!(
    RULE_TIMING_ACTION,
    "把推送、直播和限时活动集中在 {peak}:00 前后，低谷时段安排系统维护与批量任务。",
    "Schedule pushes, live streams and flash sales around {peak}:00; run maintenance and batch jobs in the trough."
);
tr!(RULE_TIMING_IMPACT, "提高触达的打开率与点击率。", "Higher open and click-through rates for campaigns.");
tr!(RULE_RETENTION, "平均次日留存为 {avg}，最低在 {date}（{rate}）。", "Average day-1 retention is {avg}; the lowest is {date} ({rate}).");
tr!(RULE_RETENTION_NONE, "区间只有一天，无法计算次日留存。", "The range has a single day, so day-1 retention cannot be measured.");
tr!(
    RULE_RETENTION_ACTION,
    "对首日活跃用户次日推送个性化推荐和签到奖励，重点跟进留存最低的 {date} 当天的活动来源。",
    "Give day-one users personalised recommendations and a check-in reward the next day; review what drove {date}, the weakest day."
);
tr!(
    RULE_RETENTION_ACTION_NONE,
    "对首日活跃用户次日推送个性化推荐和签到奖励。",
    "Give day-one users personalised recommendations and a check-in reward the next day."
);
tr!(RULE_RETENTION_IMPACT, "提升次日留存与活跃用户规模。", "Higher day-1 retention and a larger active base.");
tr!(
    RULE_REPURCHASE,
    "{buyers} 名购买用户中有 {repeat} 人购买 2 次以上，复购率 {rate}。",
    "{repeat} of {buyers} buyers bought at least twice: a repurchase rate of {rate}."
);
tr!(
    RULE_REPURCHASE_ACTION,
    "对只购买一次的用户提供第二件折扣和会员积分，购买后 3 天内推荐相关商品。",
    "Offer one-time buyers a second-item discount and loyalty points, and recommend related items within 3 days of a purchase."
);
tr!(RULE_REPURCHASE_IMPACT, "提高复购率与用户生命周期价值。", "Higher repurchase rate and lifetime value.");
tr!(
    RULE_SEGMENT,
    "最大的 RFM 分层是「{segment}」，共 {users} 人，占购买用户的 {share}。",
    "The largest RFM segment is {segment} with {users} users, {share} of buyers."
);
tr!(RULE_SEGMENT_ACTION, "针对「{segment}」，{action}。", "{segment} users — {action}.");
tr!(RULE_SEGMENT_IMPACT, "把营销预算投向回报最高的用户群。", "Puts the marketing budget where it returns most.");
tr!(
    RULE_CATEGORY,
    "购买最多的类目是 {cat}（{buys} 次购买），前 10 类目占全部购买的 {share}。",
    "Category {cat} leads with {buys} buys; the top 10 categories take {share} of all buys."
);
tr!(
    RULE_CATEGORY_ACTION,
    "保障类目 {cat} 等头部类目的库存与流量，并在其商品页做关联推荐，带动长尾类目。",
    "Keep category {cat} and the other leading categories in stock and well placed, and cross-sell long-tail categories from their item pages."
);
tr!(RULE_CATEGORY_IMPACT, "稳住主要销量来源，同时提升长尾类目的曝光。", "Protects the main sales sources and lifts the long tail.");
tr!(RULE_LIFT, "最后两天的日均 UV 比此前高 {lift}。", "Daily UV on the last two days is {lift} above the earlier days.");
tr!(
    RULE_LIFT_ACTION,
    "像 {last} 这样的流量高峰之前，提前备货、扩容并准备活动素材。",
    "Prepare stock, capacity and campaign material ahead of peaks like the one up to {last}."
);
tr!(RULE_LIFT_IMPACT, "承接高峰流量，减少缺货与卡顿。", "Captures peak traffic without stock-outs or slowdowns.");

tr!(FACT_MORE, "{title}：{items}", "{title}: {items}");
/// Separators of the lists inside the fact lines: (segments, categories).
pub fn fact_separators(lang: Lang) -> (&'static str, &'static str) {
    match lang {
        Lang::Zh => ("；", "，"),
        Lang::En => ("; ", ", "),
    }
}

/// Every metric's definition, for the report's appendix: (name, definition) pairs.
pub const DEFINITIONS: &[(Tr, Tr)] = &[
    (
        Tr { zh: "分析区间", en: "Analysis range" },
        Tr {
            zh: "按分析时区（默认 Asia/Shanghai）计算的本地日期 [起, 止]，默认是整个数据窗口；所有指标只统计区间内的事件。",
            en: "Local dates [from, to] in the analysis time zone (default Asia/Shanghai), the whole data window by default; every metric counts only events in the range.",
        },
    ),
    (
        Tr { zh: "UV / PV", en: "UV / PV" },
        Tr {
            zh: "UV：区间内有任何行为的不同用户数；PV：pv（浏览）事件数。",
            en: "UV: distinct users with any event in the range; PV: number of pv (page view) events.",
        },
    ),
    (
        Tr { zh: "转化漏斗", en: "Funnel" },
        Tr {
            zh: "pv、fav、cart、buy 四个阶段分别统计事件数与有该行为的不同用户数（各阶段独立计数，不要求先后顺序）。环比转化 = 本阶段用户数 / 上一阶段用户数；相对浏览 = 本阶段用户数 / 浏览用户数。",
            en: "For each stage pv, fav, cart, buy: events and distinct users with such an event (stages counted independently, no ordering required). From previous = stage users / previous stage users; from pv = stage users / pv users.",
        },
    ),
    (Tr { zh: "浏览→购买用户转化率", en: "pv→buy user conversion" }, Tr { zh: "购买用户数 / 浏览用户数。", en: "Buy users / pv users." }),
    (
        Tr { zh: "24 小时分布", en: "Activity by hour" },
        Tr {
            zh: "按本地小时 0–23 统计各行为的事件数；高峰时段为事件总数最多的小时（并列取较早者）。",
            en: "Events per behaviour for each local hour 0–23; the peak hour has the most events (ties: the earlier hour).",
        },
    ),
    (
        Tr { zh: "每日趋势", en: "Daily trend" },
        Tr { zh: "每个本地日期的活跃用户数（UV）与各行为事件数。", en: "Active users (UV) and events per behaviour for each local date." },
    ),
    (
        Tr { zh: "次日留存", en: "Day-1 retention" },
        Tr {
            zh: "对区间内除最后一天外的每个日期 d：当日活跃用户中，d+1 日仍活跃的比例。平均次日留存 = 各日（当日活跃用户非零）留存率的算术平均。",
            en: "For each date d of the range except the last: the share of users active on d who are also active on d+1. Average = mean of the daily rates over dates with active users.",
        },
    ),
    (
        Tr { zh: "复购率", en: "Repurchase rate" },
        Tr { zh: "购买 ≥2 次的用户数 / 购买 ≥1 次的用户数。", en: "Users with ≥2 buys / users with ≥1 buy." },
    ),
    (
        Tr { zh: "Top 10 类目", en: "Top 10 categories" },
        Tr {
            zh: "购买事件数最多的 10 个类目（并列取类目 ID 较小者）。",
            en: "The 10 categories with the most buy events (ties: the smaller category id).",
        },
    ),
    (
        Tr { zh: "RFM", en: "RFM" },
        Tr {
            zh: "仅含购买用户。R = 最后一次购买日期距区间最后一天的天数；F = 购买次数；M = 购买的不同商品数（数据没有价格，M 只是消费代理）。各指标按 20/40/60/80 分位数打 1–5 分（R 越小分越高）；分层：重要价值（R≥4 且 F≥4）、忠诚（R≥3 且 F≥3）、潜力（R≥3 且 F<3）、流失预警（R<3 且 F≥3），其余为沉睡。",
            en: "Buyers only. R = days from the last buy date to the range's last date; F = buy events; M = distinct items bought (the data has no prices, so M is a proxy for spend). Each is scored 1–5 by its 20/40/60/80 % quantiles (lower R scores higher). Segments: champions (R≥4 and F≥4), loyal (R≥3 and F≥3), potential (R≥3 and F<3), at risk (R<3 and F≥3), hibernating (the rest).",
        },
    ),
    (Tr { zh: "比例", en: "Rates" }, Tr { zh: "分母为 0 时比例记为 0。", en: "A rate whose denominator is 0 is reported as 0." }),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_named_placeholders_in_any_order() {
        let t = Tr { zh: "{b} 与 {a}", en: "{a} and {b}" };
        let args = [("a", "1".to_string()), ("b", "2".to_string())];
        assert_eq!(fill(Lang::Zh, &t, &args), "2 与 1");
        assert_eq!(fill(Lang::En, &t, &args), "1 and 2");
    }

    #[test]
    fn both_languages_use_the_same_placeholders() {
        let all = [
            EXPORT_DONE,
            WATCH_START,
            WATCH_FAILED,
            LIVE_INGESTED,
            STDIN_START,
            STDIN_DONE,
            ALERT_VALUE,
            ALERT_CHANGE,
            ALERT_NEW,
            ALERT_ADDED,
            ALERT_REMOVED,
            RULE_RETENTION_ACTION_NONE,
            RULE_SEGMENT_ACTION,
            RULE_CATEGORY_ACTION,
            RULE_LIFT_ACTION,
            FUNNEL,
            FUNNEL_CART,
            HOURLY,
            DAILY,
            DAILY_LAST2_UP,
            DAILY_LAST2_DOWN,
            DAILY_BUY_PEAK,
            RETENTION,
            RFM,
            CATEGORIES,
            FACT_RANGE,
            FACT_FILTER,
            FACT_TOTALS,
            FACT_FUNNEL,
            FACT_RATES,
            FACT_HOURS,
            FACT_DAYS,
            FACT_RETENTION,
            FACT_REPURCHASE,
            FACT_RFM,
            FACT_CATEGORIES,
        ];
        let names = |s: &str| {
            let mut v: Vec<String> = s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|x| x.0.to_string())).collect();
            v.sort();
            v
        };
        for t in all {
            assert_eq!(names(t.zh), names(t.en), "{}", t.en);
        }
    }
}
