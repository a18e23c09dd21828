//! **ordered_funnel**: an ordered, windowed funnel (ClickHouse's `windowFunnel` in its default
//! mode) with time to convert and a breakdown.
//!
//! - **Steps** (`--funnel-steps`, default `pv,fav|cart,buy`): 2–4 disjoint sets of behaviours; an
//!   event matches step k when its behaviour is in set k.
//! - **Key** (`--funnel-by`): `user` (default); `item`, the pair (user, item), so a chain stays on
//!   one item of one user; `category`, the pair (user, category). An item key's category is the
//!   category of its earliest step-1 event (ties: the smaller category id).
//! - **Window** (`--funnel-window`, default `1d`; `none` = no limit) w.
//! - The **level** of a key is the largest k for which there are events e1..ek of the key matching
//!   steps 1..k with t1 ≤ t2 ≤ … ≤ tk ≤ t1 + w (other events may come in between; equal
//!   timestamps are allowed). Per step k: **keys** = keys with level ≥ k; conversion from step 1
//!   (keys_k / keys_1) and from the previous step (keys_k / keys_{k−1}), 0 when the denominator is
//!   0; **drop-off** = keys_{k−1} − keys_k (0 for step 1).
//! - **Time to convert** T_k of a key that reaches step k = the smallest tk − t1 over all such
//!   chains. For k ≥ 2: its median and p90 (`quantile_cont`) and mean over the keys that reach k
//!   (null when none does); for the last step, a histogram of T_N in the buckets [0,1 min),
//!   [1,10 min), [10,60 min), [1,6 h), [6,24 h), [1,3 d), [3 d,∞).
//! - **Breakdown** (`--funnel-breakdown`): `segment` = the user's RFM segment over the whole
//!   window, whatever the filters (users who never bought: `non_buyer`); `category` (item or
//!   category keys only) = the key's category: the 10 categories with the most step-1 keys (ties:
//!   the smaller id), the rest summed as `other`. Per group: keys per step and conversion from step 1.
//!
//! The filters remove events first, as for every metric (with `--behavior buy` no key starts a pv step).
//!
//! How it is computed: one read of the kept events by user and time (shared with the sessions;
//! from the events stored in that order at ingest, else sorted), in which each key of a user (the
//! user, or each of their items or categories) keeps, for each level, the latest start of a chain
//! reaching it (the latest start leaves the most room in the window): a step-1 event starts a
//! chain; a step-k event at t extends the latest level-(k−1) start s when t ≤ s + w, and t − s
//! is then the shortest chain through this event, so T_k is the smallest such t − s. Events of a
//! key at the same time are applied in step order.

use super::rfm::SEGMENTS;
use super::section::{secs, Analysis, Cell, Computed, Headline, Label, Plot, PlotKind, Section, Table};
use super::source::{quantile_cont, ratio, Ctx};
use super::MetricsError;
use crate::domain::journey::{Breakdown, FunnelKey, Span, Steps};
use crate::i18n::prose::Tr;
use serde::Serialize;
use std::collections::HashMap;

/// Upper bounds (seconds, exclusive) of the time-to-convert buckets; the last is open.
pub const BUCKETS: [i64; 6] = [60, 600, 3_600, 6 * 3_600, 86_400, 3 * 86_400];
/// The buckets' names.
pub const BUCKET_NAMES: [&str; 7] = ["[0,1 min)", "[1,10 min)", "[10,60 min)", "[1,6 h)", "[6,24 h)", "[1,3 d)", "[3 d,∞)"];
/// Categories named in a category breakdown.
pub const TOP_GROUPS: usize = 10;

/// Time to convert to one step, seconds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Ttc {
    /// Median.
    pub median_s: f64,
    /// 90th percentile (`quantile_cont`).
    pub p90_s: f64,
    /// Mean.
    pub mean_s: f64,
}

/// One step of the ordered funnel.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OrderedStep {
    /// Its behaviours, joined with `|`.
    pub step: String,
    /// Keys whose level is at least this step.
    pub keys: u64,
    /// keys / keys of step 1.
    pub rate_from_first: f64,
    /// keys / keys of the previous step (1 for step 1 with keys).
    pub rate_from_prev: f64,
    /// Keys of the previous step that did not reach this one.
    pub drop_off: u64,
    /// Time from step 1 (null for step 1, and when no key reaches the step).
    pub time_to_convert: Option<Ttc>,
}

/// Keys whose shortest chain to the last step falls in a bucket.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Bucket {
    /// The bucket, e.g. "[1,10 min)".
    pub bucket: &'static str,
    /// Keys.
    pub keys: u64,
}

/// One group of the breakdown.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Group {
    /// A segment name, a category id, or "other".
    pub group: String,
    /// Keys per step (level ≥ k).
    pub keys: Vec<u64>,
    /// Keys of the last step / keys of step 1.
    pub conversion: f64,
}

/// The breakdown.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Breakdowns {
    /// segment or category.
    pub by: Breakdown,
    /// The groups (segments in report order then non_buyer; categories by step-1 keys, then other).
    pub groups: Vec<Group>,
}

/// The ordered funnel.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OrderedFunnel {
    /// The steps.
    pub steps: Steps,
    /// What a chain follows.
    pub by: FunnelKey,
    /// The window in seconds (null: none).
    pub window_s: Option<i64>,
    /// One per step.
    pub stages: Vec<OrderedStep>,
    /// Time to convert to the last step, by bucket.
    pub histogram: Vec<Bucket>,
    /// The breakdown, when asked for.
    pub breakdown: Option<Breakdowns>,
}

mod feed;

pub use feed::{Feed, Tally};

/// The groups of the breakdown in their order.
fn groups(by: Breakdown, n: usize, mut g: HashMap<i64, [u64; 4]>) -> Vec<Group> {
    let make = |name: String, k: [u64; 4]| Group { group: name, keys: k[..n].to_vec(), conversion: ratio(k[n - 1], k[0]) };
    match by {
        Breakdown::Segment => (0..6)
            .map(|c| make(SEGMENTS.get(c).copied().unwrap_or("non_buyer").to_string(), g.remove(&(c as i64)).unwrap_or([0; 4])))
            .collect(),
        Breakdown::Category => {
            let mut all: Vec<(i64, [u64; 4])> = g.into_iter().collect();
            all.sort_by(|a, b| b.1[0].cmp(&a.1[0]).then(a.0.cmp(&b.0)));
            let rest = all.split_off(all.len().min(TOP_GROUPS));
            let mut out: Vec<Group> = all.into_iter().map(|(c, k)| make(c.to_string(), k)).collect();
            if !rest.is_empty() {
                let mut sum = [0u64; 4];
                for (_, k) in &rest {
                    for (s, x) in sum.iter_mut().zip(k) {
                        *s += x;
                    }
                }
                out.push(make("other".into(), sum));
            }
            out
        }
    }
}

/// Computes the ordered funnel for the range, the filter and the journey options.
pub fn compute(ctx: &Ctx<'_>) -> Result<OrderedFunnel, MetricsError> {
    let j = ctx.journey;
    let mut t = super::user_pass::funnel(ctx)?;
    let n = t.n;
    let stages = (0..n)
        .map(|k| {
            let keys = t.reached[k];
            let prev = if k == 0 { keys } else { t.reached[k - 1] };
            let gaps = &mut t.gaps[k];
            gaps.sort_unstable();
            let time_to_convert = (k > 0 && !gaps.is_empty()).then(|| Ttc {
                median_s: quantile_cont(gaps, 0.5),
                p90_s: quantile_cont(gaps, 0.9),
                mean_s: gaps.iter().map(|g| *g as f64).sum::<f64>() / gaps.len() as f64,
            });
            OrderedStep {
                step: j.steps.step_text(k),
                keys,
                rate_from_first: ratio(keys, t.reached[0]),
                rate_from_prev: ratio(keys, prev),
                drop_off: prev - keys,
                time_to_convert,
            }
        })
        .collect();
    let histogram = BUCKET_NAMES.iter().zip(t.hist).map(|(b, k)| Bucket { bucket: b, keys: k }).collect();
    let breakdown = j.breakdown.map(|by| Breakdowns { by, groups: groups(by, n, std::mem::take(&mut t.groups)) });
    Ok(OrderedFunnel { steps: j.steps.clone(), by: j.by, window_s: j.window.secs(), stages, histogram, breakdown })
}

/// The window as written (`1d`, `none`).
pub fn window_text(f: &OrderedFunnel) -> String {
    Span(f.window_s).to_string()
}

const TITLE: Tr = Tr { zh: "有序漏斗（按顺序、限时间窗口）", en: "Ordered funnel (in order, within a window)" };
const COLUMNS: [Tr; 8] = [
    Tr { zh: "步骤", en: "Step" },
    Tr { zh: "主体数", en: "Keys" },
    Tr { zh: "较第一步", en: "From step 1" },
    Tr { zh: "较上一步", en: "From previous" },
    Tr { zh: "流失", en: "Drop-off" },
    Tr { zh: "转化用时中位数", en: "Median time" },
    Tr { zh: "转化用时 P90", en: "p90 time" },
    Tr { zh: "平均转化用时", en: "Mean time" },
];
const DEFINITION: Tr = Tr {
    zh: "主体（用户，或用户×商品、用户×类目）的级别 = 最大的 k，使得存在依次匹配步骤 1..k 的事件 e1..ek，且 t1 ≤ t2 ≤ … ≤ tk ≤ t1 + 窗口（中间可夹杂其他事件，允许时间相同）。第 k 步主体数 = 级别 ≥ k 的主体数；流失 = 上一步主体数 − 本步主体数。转化用时 T_k = 所有到达第 k 步的链中 tk − t1 的最小值，报告其中位数、P90（quantile_cont）与均值，最后一步另给分桶直方图。按分群拆分用全窗口的 RFM 分群（未购买为 non_buyer）；按类目拆分取第一步主体最多的 10 个类目，其余合并为 other。",
    en: "A key's (a user, or a user's item or category) level = the largest k with events e1..ek matching steps 1..k and t1 ≤ t2 ≤ … ≤ tk ≤ t1 + window (other events may come in between; equal times allowed). Keys of step k = keys with level ≥ k; drop-off = keys of the previous step − keys of this one. Time to convert T_k = the smallest tk − t1 over the chains reaching step k; median, p90 (quantile_cont) and mean, and a histogram for the last step. The segment breakdown uses the whole window's RFM segment (non_buyer: never bought); the category breakdown the 10 categories with the most step-1 keys, the rest as other.",
};

/// The step after which the most keys are lost (1-based), with the keys lost; None for no loss.
pub fn biggest_drop(f: &OrderedFunnel) -> Option<(usize, &OrderedStep)> {
    f.stages.iter().enumerate().skip(1).filter(|(_, s)| s.drop_off > 0).max_by(|a, b| a.1.drop_off.cmp(&b.1.drop_off).then(b.0.cmp(&a.0)))
}

fn conclusion(f: &OrderedFunnel) -> Option<(String, String)> {
    let (first, last) = (f.stages.first()?, f.stages.last()?);
    if first.keys == 0 {
        return None;
    }
    let conv = crate::i18n::pct(last.rate_from_first);
    let mut zh = format!("{} 个主体完成第一步，{conv} 在窗口内按顺序走到“{}”。", crate::i18n::int(first.keys), last.step);
    let mut en =
        format!("Of {} keys at step 1, {conv} reached \"{}\" in order within the window.", crate::i18n::int(first.keys), last.step);
    if let Some((k, s)) = biggest_drop(f) {
        let lost = crate::i18n::pct(1.0 - s.rate_from_prev);
        zh.push_str(&format!("流失最多的是“{}”到“{}”这一步（{lost}）。", f.stages[k - 1].step, s.step));
        en.push_str(&format!(" The biggest drop-off is from \"{}\" to \"{}\" ({lost} lost).", f.stages[k - 1].step, s.step));
    }
    if let Some(t) = &last.time_to_convert {
        zh.push_str(&format!("一半主体在 {} 内完成。", secs(t.median_s)));
        en.push_str(&format!(" Half of them took at most {}.", secs(t.median_s)));
    }
    Some((zh, en))
}

fn tables(f: &OrderedFunnel) -> Vec<Table> {
    let reached = f.stages.last().map(|s| s.keys).unwrap_or(0);
    let mut out = vec![Table {
        title: Tr { zh: "到达最后一步的用时分布", en: "Time to reach the last step" },
        columns: vec![Tr { zh: "用时", en: "Time" }.into(), COLUMNS[1].into(), Tr { zh: "占比", en: "Share" }.into()],
        rows: f
            .histogram
            .iter()
            .map(|b| vec![Cell::Text(b.bucket.into()), Cell::Int(b.keys), Cell::Rate(ratio(b.keys, reached))])
            .collect(),
    }];
    if let Some(b) = &f.breakdown {
        let mut columns: Vec<Label> = vec![Tr { zh: "分组", en: "Group" }.into()];
        columns.extend(f.stages.iter().map(|s| Label::Raw(s.step.clone())));
        columns.push(Tr { zh: "转化率", en: "Conversion" }.into());
        let rows = b
            .groups
            .iter()
            .map(|g| {
                let mut r = vec![Cell::Text(g.group.clone())];
                r.extend(g.keys.iter().map(|k| Cell::Int(*k)));
                r.push(Cell::Rate(g.conversion));
                r
            })
            .collect();
        let title = match b.by {
            Breakdown::Segment => Tr { zh: "按 RFM 分群拆分", en: "By RFM segment" },
            Breakdown::Category => Tr { zh: "按类目拆分", en: "By category" },
        };
        out.push(Table { title, columns, rows });
    }
    out
}

fn headline(f: &OrderedFunnel) -> Vec<Headline> {
    let h = |zh: &'static str, en: &'static str, value: Cell| Headline { label: Tr { zh, en }, value };
    let (first, last) = (&f.stages[0], &f.stages[f.stages.len() - 1]);
    let mut out = vec![
        h("漏斗主体", "Funnel key", Cell::Text(f.by.to_string())),
        h("时间窗口", "Window", Cell::Text(window_text(f))),
        h("完成第一步的主体", "Keys at step 1", Cell::Int(first.keys)),
        h("按顺序到达最后一步的主体", "Keys reaching the last step in order", Cell::Int(last.keys)),
        h("有序转化率（第一步到最后一步）", "Ordered conversion, step 1 to last", Cell::Rate(last.rate_from_first)),
    ];
    if let Some(t) = &last.time_to_convert {
        out.push(h("到达最后一步的用时中位数（分钟）", "Median time to convert to the last step (min)", Cell::Num(t.median_s / 60.0)));
    }
    if let Some((k, s)) = biggest_drop(f) {
        out.push(h("流失最多的步骤（第几步）", "Biggest drop-off at step", Cell::Int(k as u64 + 1)));
        out.push(h("该步流失的主体", "Keys lost at the biggest drop-off", Cell::Int(s.drop_off)));
        out.push(h("该步流失率", "Share lost at the biggest drop-off", Cell::Rate(1.0 - s.rate_from_prev)));
    }
    out
}

/// The ordered funnel in the registry.
pub struct Ordered;

impl Analysis for Ordered {
    fn compute(&self, ctx: &Ctx<'_>) -> Result<Computed, MetricsError> {
        let f = compute(ctx)?;
        let t = |x: &Option<Ttc>, get: fn(&Ttc) -> f64| x.as_ref().map(|x| Cell::Secs(get(x))).unwrap_or(Cell::Empty);
        let rows = f
            .stages
            .iter()
            .map(|s| {
                vec![
                    Cell::Text(s.step.clone()),
                    Cell::Int(s.keys),
                    Cell::Rate(s.rate_from_first),
                    Cell::Rate(s.rate_from_prev),
                    Cell::Int(s.drop_off),
                    t(&s.time_to_convert, |x| x.median_s),
                    t(&s.time_to_convert, |x| x.p90_s),
                    t(&s.time_to_convert, |x| x.mean_s),
                ]
            })
            .collect();
        let plots = vec![
            Plot {
                name: "ordered_funnel",
                title: Tr { zh: "有序漏斗：各步骤主体数", en: "Ordered funnel: keys per step" },
                kind: PlotKind::Funnel { stages: f.stages.iter().map(|s| (Label::Raw(s.step.clone()), s.keys as f64)).collect() },
            },
            Plot {
                name: "time_to_convert",
                title: Tr { zh: "到达最后一步的用时", en: "Time to convert to the last step" },
                kind: PlotKind::Bars {
                    bars: f.histogram.iter().map(|b| (Label::Raw(b.bucket.into()), b.keys as f64, Cell::Int(b.keys))).collect(),
                    horizontal: false,
                    axis: COLUMNS[1],
                },
            },
        ];
        let section = Section {
            key: "ordered_funnel",
            title: TITLE,
            columns: COLUMNS.map(Label::from).to_vec(),
            rows,
            tables: tables(&f),
            headline: headline(&f),
            plots,
            conclusion: conclusion(&f),
            definition: DEFINITION,
        };
        Ok(Computed { json: serde_json::to_value(&f).expect("ordered funnel JSON"), section })
    }
}
