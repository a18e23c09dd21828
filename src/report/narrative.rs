//! The report's words: each section's data-driven conclusion (2–4 sentences built from the fact
//! sheet, no model involved) and the metric definitions for the appendix.

use crate::insights::facts::Facts;
use crate::render::i18n::{int, pct1, segment_name, Lang};

/// Conclusion of the funnel section.
pub fn funnel(f: &Facts, lang: Lang) -> String {
    let [pv, fav, cart, buy] = f.stage_users;
    match lang {
        Lang::Zh => {
            let mut s = format!(
                "区间内共有 {} 名访客，其中 {} 人浏览、{} 人收藏、{} 人加购、{} 人购买。浏览→购买的用户转化率为 {}。",
                int(f.uv),
                int(pv),
                int(fav),
                int(cart),
                int(buy),
                pct1(f.conversion)
            );
            if cart > 0 {
                s += &format!(
                    "加购用户与购买用户之比为 {}，加购率 {} 高于收藏率 {}，加购是更强的购买信号。",
                    pct1(f.cart_to_buy),
                    pct1(f.cart_rate),
                    pct1(f.fav_rate)
                );
            }
            s
        }
        Lang::En => {
            let mut s = format!(
                "{} visitors in the range: {} viewed, {} favourited, {} carted and {} bought. pv→buy user conversion is {}.",
                int(f.uv),
                int(pv),
                int(fav),
                int(cart),
                int(buy),
                pct1(f.conversion)
            );
            if cart > 0 {
                s += &format!(
                    " Buy users are {} of cart users; the cart rate ({}) is above the fav rate ({}), so carting is the stronger buying signal.",
                    pct1(f.cart_to_buy),
                    pct1(f.cart_rate),
                    pct1(f.fav_rate)
                );
            }
            s
        }
    }
}

/// Conclusion of the 24-hour section.
pub fn hourly(f: &Facts, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!(
            "活动高峰在 {}:00，谷底在 {}:00，高峰小时的事件量是谷底的 {:.1} 倍。18–24 点占全天事件的 {}，购买最多的小时是 {}:00。营销触达应安排在晚间高峰之前。",
            f.peak_hour,
            f.trough_hour,
            f.peak_to_trough,
            pct1(f.evening_share),
            f.buy_peak_hour
        ),
        Lang::En => format!(
            "Activity peaks at {}:00 and bottoms out at {}:00; the peak hour has {:.1}× the events of the trough. 18:00–24:00 holds {} of all events, and most buys happen at {}:00. Time campaigns just before the evening peak.",
            f.peak_hour,
            f.trough_hour,
            f.peak_to_trough,
            pct1(f.evening_share),
            f.buy_peak_hour
        ),
    }
}

/// Conclusion of the daily-trend section.
pub fn daily(f: &Facts, lang: Lang) -> String {
    let (Some(best), Some(worst)) = (&f.best_uv_day, &f.worst_uv_day) else {
        return match lang {
            Lang::Zh => "区间内没有数据。".into(),
            Lang::En => "No data in the range.".into(),
        };
    };
    let mut s = match lang {
        Lang::Zh => format!(
            "日均活跃用户 {} 人；最高为 {}（{} 人），最低为 {}（{} 人）。",
            int(f.avg_daily_uv.round() as u64),
            best.date,
            int(best.value as u64),
            worst.date,
            int(worst.value as u64)
        ),
        Lang::En => format!(
            "On average {} users were active per day; the busiest day was {} ({}) and the quietest {} ({}).",
            int(f.avg_daily_uv.round() as u64),
            best.date,
            int(best.value as u64),
            worst.date,
            int(worst.value as u64)
        ),
    };
    if let Some(l) = f.last2_lift {
        s += &match lang {
            Lang::Zh => format!("最后两天的日均 UV 比此前{} {}。", if l >= 0.0 { "高" } else { "低" }, pct1(l.abs())),
            Lang::En => format!(" The last two days ran {} {} the earlier days.", pct1(l.abs()), if l >= 0.0 { "above" } else { "below" }),
        };
    }
    if let Some(b) = &f.best_buy_day {
        s += &match lang {
            Lang::Zh => format!("购买最多的一天是 {}（{} 次）。", b.date, int(b.value as u64)),
            Lang::En => format!(" Buys peaked on {} ({}).", b.date, int(b.value as u64)),
        };
    }
    s
}

/// Conclusion of the retention section.
pub fn retention(f: &Facts, lang: Lang) -> String {
    match (&f.best_retention, &f.worst_retention, lang) {
        (Some(b), Some(w), Lang::Zh) => format!(
            "平均次日留存为 {}。最高为 {}（{}），最低为 {}（{}）。低于平均的日期值得回看当天的流量来源与活动。",
            pct1(f.avg_day1_retention),
            b.date,
            pct1(b.value),
            w.date,
            pct1(w.value)
        ),
        (Some(b), Some(w), Lang::En) => format!(
            "Average day-1 retention is {}. The best day was {} ({}) and the worst {} ({}). Days below the average deserve a look at their traffic sources and campaigns.",
            pct1(f.avg_day1_retention),
            b.date,
            pct1(b.value),
            w.date,
            pct1(w.value)
        ),
        (_, _, Lang::Zh) => "区间只有一天（或没有活跃用户），无法计算次日留存。".into(),
        (_, _, Lang::En) => "The range has a single day (or no active users), so day-1 retention cannot be measured.".into(),
    }
}

/// Conclusion of the RFM section.
pub fn rfm(f: &Facts, lang: Lang) -> String {
    let Some((seg, users, share)) = &f.largest_segment else {
        return match lang {
            Lang::Zh => "区间内没有购买用户，无法进行 RFM 分层。".into(),
            Lang::En => "There are no buyers in the range, so there are no RFM segments.".into(),
        };
    };
    let share_of = |name: &str| f.segments.iter().find(|s| s.0 == name).map(|s| s.2).unwrap_or(0.0);
    match lang {
        Lang::Zh => format!(
            "{} 名购买用户分为 5 层，最大的是「{}」（{} 人，{}）。重要价值用户占 {}，流失预警用户占 {}；复购率为 {}。",
            int(f.buyers),
            segment_name(lang, seg),
            int(*users),
            pct1(*share),
            pct1(share_of("champions")),
            pct1(share_of("at_risk")),
            pct1(f.repurchase_rate)
        ),
        Lang::En => format!(
            "{} buyers fall into 5 segments; the largest is {} ({} users, {}). Champions are {} and at-risk buyers {}; the repurchase rate is {}.",
            int(f.buyers),
            segment_name(lang, seg),
            int(*users),
            pct1(*share),
            pct1(share_of("champions")),
            pct1(share_of("at_risk")),
            pct1(f.repurchase_rate)
        ),
    }
}

/// Conclusion of the top-categories section.
pub fn categories(f: &Facts, lang: Lang) -> String {
    let Some((cat, buys)) = f.top_categories.first() else {
        return match lang {
            Lang::Zh => "区间内没有购买，因此没有类目排名。".into(),
            Lang::En => "There are no buys in the range, so there is no category ranking.".into(),
        };
    };
    match lang {
        Lang::Zh => format!(
            "购买量最高的类目是 {}（{} 次购买）。前 {} 个类目合计占全部 {} 次购买的 {}，头部类目应优先保障库存与曝光。",
            cat,
            int(*buys),
            f.top_categories.len(),
            int(f.buys),
            pct1(f.top10_buy_share)
        ),
        Lang::En => format!(
            "Category {} leads with {} buys. The top {} categories hold {} of all {} buys, so they come first for stock and placement.",
            cat,
            int(*buys),
            f.top_categories.len(),
            pct1(f.top10_buy_share),
            int(f.buys)
        ),
    }
}

/// Every metric's definition, for the appendix: (name, definition).
pub fn definitions(lang: Lang) -> Vec<(&'static str, &'static str)> {
    let zh = [
        ("分析区间", "按分析时区（默认 Asia/Shanghai）计算的本地日期 [起, 止]，默认是整个数据窗口；所有指标只统计区间内的事件。"),
        ("UV / PV", "UV：区间内有任何行为的不同用户数；PV：pv（浏览）事件数。"),
        ("转化漏斗", "pv、fav、cart、buy 四个阶段分别统计事件数与有该行为的不同用户数（各阶段独立计数，不要求先后顺序）。环比转化 = 本阶段用户数 / 上一阶段用户数；相对浏览 = 本阶段用户数 / 浏览用户数。"),
        ("浏览→购买用户转化率", "购买用户数 / 浏览用户数。"),
        ("24 小时分布", "按本地小时 0–23 统计各行为的事件数；高峰时段为事件总数最多的小时（并列取较早者）。"),
        ("每日趋势", "每个本地日期的活跃用户数（UV）与各行为事件数。"),
        ("次日留存", "对区间内除最后一天外的每个日期 d：当日活跃用户中，d+1 日仍活跃的比例。平均次日留存 = 各日（当日活跃用户非零）留存率的算术平均。"),
        ("复购率", "购买 ≥2 次的用户数 / 购买 ≥1 次的用户数。"),
        ("Top 10 类目", "购买事件数最多的 10 个类目（并列取类目 ID 较小者）。"),
        ("RFM", "仅含购买用户。R = 最后一次购买日期距区间最后一天的天数；F = 购买次数；M = 购买的不同商品数（数据没有价格，M 只是消费代理）。各指标按 20/40/60/80 分位数打 1–5 分（R 越小分越高）；分层：重要价值（R≥4 且 F≥4）、忠诚（R≥3 且 F≥3）、潜力（R≥3 且 F<3）、流失预警（R<3 且 F≥3），其余为沉睡。"),
        ("比例", "分母为 0 时比例记为 0。"),
    ];
    let en = [
        ("Analysis range", "Local dates [from, to] in the analysis time zone (default Asia/Shanghai), the whole data window by default; every metric counts only events in the range."),
        ("UV / PV", "UV: distinct users with any event in the range; PV: number of pv (page view) events."),
        ("Funnel", "For each stage pv, fav, cart, buy: events and distinct users with such an event (stages counted independently, no ordering required). From previous = stage users / previous stage users; from pv = stage users / pv users."),
        ("pv→buy user conversion", "Buy users / pv users."),
        ("Activity by hour", "Events per behaviour for each local hour 0–23; the peak hour has the most events (ties: the earlier hour)."),
        ("Daily trend", "Active users (UV) and events per behaviour for each local date."),
        ("Day-1 retention", "For each date d of the range except the last: the share of users active on d who are also active on d+1. Average = mean of the daily rates over dates with active users."),
        ("Repurchase rate", "Users with ≥2 buys / users with ≥1 buy."),
        ("Top 10 categories", "The 10 categories with the most buy events (ties: the smaller category id)."),
        ("RFM", "Buyers only. R = days from the last buy date to the range's last date; F = buy events; M = distinct items bought (the data has no prices, so M is a proxy for spend). Each is scored 1–5 by its 20/40/60/80 % quantiles (lower R scores higher). Segments: champions (R≥4 and F≥4), loyal (R≥3 and F≥3), potential (R≥3 and F<3), at risk (R<3 and F≥3), hibernating (the rest)."),
        ("Rates", "A rate whose denominator is 0 is reported as 0."),
    ];
    match lang {
        Lang::Zh => zh.to_vec(),
        Lang::En => en.to_vec(),
    }
}
