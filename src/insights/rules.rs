//! Deterministic, rule-based insights from the fact sheet (no model needed).
//!
//! Rules, in output order (each cites only numbers from [`Facts`]):
//! 1. conversion: pv→buy user conversion and cart→buy; priority 1 when fewer than half of the
//!    cart users buy, else 2. With no buyers at all: priority 1, fix the purchase path.
//! 2. timing: peak vs trough hour and the evening share; priority 2.
//! 3. retention: average day-1 retention and the worst day; priority 1 below 50 %, else 3.
//! 4. retention (repurchase): repurchase rate; priority 2 below 50 %, else 3 (only with buyers).
//! 5. segments: the largest RFM segment and its suggested action; priority 2 (only with buyers).
//! 6. categories: the top category and the top-10 share of buys; priority 3 (only with buys).
//! 7. timing: the lift of the last two days when it exceeds 10 %; priority 3.

use super::facts::Facts;
use super::Insight;
use crate::render::i18n::{int, pct1, segment_name, Lang};

fn insight(area: &str, priority: u8, finding: String, action: String, impact: String) -> Insight {
    Insight { area: area.into(), finding, action, priority, expected_impact: impact }
}

/// The rule-based insights for `f` in `lang` (always 3 to 7 of them).
pub fn insights(f: &Facts, lang: Lang) -> Vec<Insight> {
    let zh = lang == Lang::Zh;
    let s = |a: String, b: String| if zh { a } else { b };
    let mut v = Vec::new();

    // 1. conversion
    if f.buyers == 0 {
        v.push(insight(
            "conversion",
            1,
            s(
                format!("区间内 {} 名访客没有任何购买。", int(f.uv)),
                format!("None of the {} visitors bought anything in the range.", int(f.uv)),
            ),
            s(
                "检查下单与支付流程是否可用，并确认购买数据已正确导入。".into(),
                "Check that ordering and payment work and that buy events are being logged.".into(),
            ),
            s("恢复成交。".into(), "Restores sales.".into()),
        ));
    } else {
        v.push(insight(
            "conversion",
            if f.cart_to_buy < 0.5 { 1 } else { 2 },
            s(
                format!("浏览→购买用户转化率为 {}，加购用户中购买的比例为 {}。", pct1(f.conversion), pct1(f.cart_to_buy)),
                format!("pv→buy user conversion is {}; {} of cart users go on to buy.", pct1(f.conversion), pct1(f.cart_to_buy)),
            ),
            s(
                "对加购未购买的用户推送限时优惠券和降价提醒，并简化结算步骤。".into(),
                "Send time-limited coupons and price-drop alerts to users who carted but did not buy, and shorten checkout.".into(),
            ),
            s(
                format!("{} 名加购用户中每多一人完成购买，就多一名购买用户。", int(f.stage_users[2])),
                format!("Every one of the {} cart users who completes a purchase is one more buyer.", int(f.stage_users[2])),
            ),
        ));
    }

    // 2. timing
    v.push(insight(
        "timing",
        2,
        s(
            format!(
                "{}:00 是活动高峰，事件量是谷底 {}:00 的 {:.1} 倍；18–24 点占全天事件的 {}。",
                f.peak_hour,
                f.trough_hour,
                f.peak_to_trough,
                pct1(f.evening_share)
            ),
            format!(
                "Activity peaks at {}:00 with {:.1}× the events of the trough at {}:00; 18:00–24:00 holds {} of all events.",
                f.peak_hour,
                f.peak_to_trough,
                f.trough_hour,
                pct1(f.evening_share)
            ),
        ),
        s(
            format!("把推送、直播和限时活动集中在 {}:00 前后，低谷时段安排系统维护与批量任务。", f.peak_hour),
            format!(
                "Schedule pushes, live streams and flash sales around {}:00; run maintenance and batch jobs in the trough.",
                f.peak_hour
            ),
        ),
        s("提高触达的打开率与点击率。".into(), "Higher open and click-through rates for campaigns.".into()),
    ));

    // 3. retention
    let worst = f.worst_retention.as_ref();
    v.push(insight(
        "retention",
        if f.avg_day1_retention < 0.5 { 1 } else { 3 },
        match (worst, zh) {
            (Some(w), true) => format!("平均次日留存为 {}，最低在 {}（{}）。", pct1(f.avg_day1_retention), w.date, pct1(w.value)),
            (Some(w), false) => {
                format!("Average day-1 retention is {}; the lowest is {} ({}).", pct1(f.avg_day1_retention), w.date, pct1(w.value))
            }
            (None, true) => "区间只有一天，无法计算次日留存。".into(),
            (None, false) => "The range has a single day, so day-1 retention cannot be measured.".into(),
        },
        s(
            "对首日活跃用户次日推送个性化推荐和签到奖励，重点跟进留存最低日期的活动来源。".into(),
            "Give day-one users personalised recommendations and a check-in reward the next day; review what drove the weakest day.".into(),
        ),
        s("提升次日留存与活跃用户规模。".into(), "Higher day-1 retention and a larger active base.".into()),
    ));

    if f.buyers > 0 {
        // 4. repurchase
        v.push(insight(
            "retention",
            if f.repurchase_rate < 0.5 { 2 } else { 3 },
            s(
                format!("{} 名购买用户中有 {} 人购买 2 次以上，复购率 {}。", int(f.buyers), int(f.repeat_buyers), pct1(f.repurchase_rate)),
                format!(
                    "{} of {} buyers bought at least twice: a repurchase rate of {}.",
                    int(f.repeat_buyers),
                    int(f.buyers),
                    pct1(f.repurchase_rate)
                ),
            ),
            s(
                "对只购买一次的用户提供第二件折扣和会员积分，购买后 3 天内推荐相关商品。".into(),
                "Offer one-time buyers a second-item discount and loyalty points, and recommend related items within 3 days of a purchase."
                    .into(),
            ),
            s("提高复购率与用户生命周期价值。".into(), "Higher repurchase rate and lifetime value.".into()),
        ));
        // 5. segments
        if let Some((seg, users, share)) = &f.largest_segment {
            let (a_zh, a_en) = crate::metrics::rfm::action(seg);
            v.push(insight(
                "segments",
                2,
                s(
                    format!("最大的 RFM 分层是「{}」，共 {} 人，占购买用户的 {}。", segment_name(lang, seg), int(*users), pct1(*share)),
                    format!(
                        "The largest RFM segment is {} with {} users, {} of buyers.",
                        segment_name(lang, seg),
                        int(*users),
                        pct1(*share)
                    ),
                ),
                s(format!("{a_zh}。"), format!("{a_en}.")),
                s("把营销预算投向回报最高的用户群。".into(), "Puts the marketing budget where it returns most.".into()),
            ));
        }
    }

    // 6. categories
    if let Some((cat, buys)) = f.top_categories.first() {
        v.push(insight(
            "categories",
            3,
            s(
                format!("购买最多的类目是 {}（{} 次购买），前 10 类目占全部购买的 {}。", cat, int(*buys), pct1(f.top10_buy_share)),
                format!(
                    "Category {} leads with {} buys; the top 10 categories take {} of all buys.",
                    cat,
                    int(*buys),
                    pct1(f.top10_buy_share)
                ),
            ),
            s(
                "保障头部类目的库存与流量，并在其商品页做关联推荐，带动长尾类目。".into(),
                "Keep the leading categories in stock and well placed, and cross-sell long-tail categories from their item pages.".into(),
            ),
            s("稳住主要销量来源，同时提升长尾类目的曝光。".into(), "Protects the main sales sources and lifts the long tail.".into()),
        ));
    }

    // 7. last-two-days lift
    if let Some(lift) = f.last2_lift.filter(|l| *l > 0.10) {
        v.push(insight(
            "timing",
            3,
            s(
                format!("最后两天的日均 UV 比此前高 {}。", pct1(lift)),
                format!("Daily UV on the last two days is {} above the earlier days.", pct1(lift)),
            ),
            s(
                "提前为流量高峰备货、扩容并准备活动素材。".into(),
                "Prepare stock, capacity and campaign material ahead of such peaks.".into(),
            ),
            s("承接高峰流量，减少缺货与卡顿。".into(), "Captures peak traffic without stock-outs or slowdowns.".into()),
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::facts::DateValue;
    use chrono::NaiveDate;

    fn facts(buyers: u64) -> Facts {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        Facts {
            filter: String::new(),
            from: d("2017-11-25"),
            to: d("2017-12-03"),
            days: 9,
            timezone: "Asia/Shanghai".into(),
            uv: 983,
            pv: 89_666,
            buys: if buyers > 0 { 2_101 } else { 0 },
            buyers,
            stage_users: [980, 363, 723, buyers],
            conversion: buyers as f64 / 980.0,
            fav_rate: 363.0 / 980.0,
            cart_rate: 723.0 / 980.0,
            cart_to_buy: buyers as f64 / 723.0,
            peak_hour: 21,
            trough_hour: 4,
            peak_to_trough: 22.337,
            evening_hours: (18, 24),
            evening_share: 0.4241,
            buy_peak_hour: 13,
            avg_daily_uv: 770.33,
            best_uv_day: Some(DateValue { date: d("2017-12-03"), value: 965.0 }),
            worst_uv_day: Some(DateValue { date: d("2017-11-25"), value: 695.0 }),
            last2_lift: Some(0.349),
            best_buy_day: Some(DateValue { date: d("2017-12-03"), value: 272.0 }),
            avg_day1_retention: 0.8339,
            best_retention: Some(DateValue { date: d("2017-12-02"), value: 0.982 }),
            worst_retention: Some(DateValue { date: d("2017-11-26"), value: 0.7676 }),
            repeat_buyers: buyers * 2 / 3,
            repurchase_rate: if buyers > 0 { (buyers * 2 / 3) as f64 / buyers as f64 } else { 0.0 },
            segments: vec![("champions".into(), 81, 0.1207), ("hibernating".into(), 196, 0.2921)],
            largest_segment: (buyers > 0).then(|| ("hibernating".to_string(), 196, 0.2921)),
            top_categories: if buyers > 0 { vec![(2_735_466, 38)] } else { vec![] },
            top10_buy_share: 0.1252,
        }
    }

    #[test]
    fn rule_insights_cite_only_fact_sheet_numbers() {
        for buyers in [671, 0] {
            let f = facts(buyers);
            let allowed = f.allowed();
            for lang in [Lang::Zh, Lang::En] {
                let v = insights(&f, lang);
                assert!((3..=8).contains(&v.len()), "{} insights", v.len());
                for i in &v {
                    let text = format!("{} {} {}", i.finding, i.action, i.expected_impact);
                    assert!(allowed.unknown(&text).is_empty(), "{text}: {:?}", allowed.unknown(&text));
                    assert!(crate::insights::AREAS.contains(&i.area.as_str()) && (1..=5).contains(&i.priority));
                }
            }
        }
    }
}
