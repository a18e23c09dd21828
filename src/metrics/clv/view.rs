//! How the customer lifetime value shows in every output: its section (table per RFM segment,
//! the top buyers, headline numbers, charts, conclusion and definition).

use super::{compute_with_groups, Clv, Group, SEGMENTS};
use crate::i18n::int;
use crate::i18n::prose::Tr;
use crate::metrics::section::{Analysis, Cell, Computed, Headline, Label, Plot, PlotKind, Section, Table};
use crate::metrics::source::Ctx;
use crate::metrics::MetricsError;

const TITLE: Tr = Tr { zh: "客户生命周期价值（BG/NBD 购买预测）", en: "Customer lifetime value (BG/NBD purchase forecast)" };
const COLUMNS: [Tr; 5] = [
    Tr { zh: "RFM 分群", en: "RFM segment" },
    Tr { zh: "买家", en: "Buyers" },
    Tr { zh: "平均存活概率 P(alive)", en: "Mean P(alive)" },
    Tr { zh: "未来 7 天预计购买天数", en: "Expected purchase days, next 7 d" },
    Tr { zh: "未来 30 天预计购买天数", en: "Expected purchase days, next 30 d" },
];
const DEFINITION: Tr = Tr {
    zh: "以天为单位，对区间内有购买的每名买家：购买天数 = 有购买的本地日期数，x = 购买天数 − 1，t_x = 末次购买日期 − 首次购买日期，T = 区间最后一天 − 首次购买日期。用 Fader–Hardie–Lee（2005）BG/NBD 模型的最大似然（无惩罚，argmin 的 L-BFGS）拟合 r、α、a、b，对数似然为所有买家之和。区间内看不到流失时似然在 a → 0 或 b → ∞ 处最大、a 与 b 无法识别：此时报告无流失的 NBD 极限（P(alive) = 1），r、α 也发散时报告每天的泊松购买率。P(alive) = 1 / (1 + [x>0]·a/(b+x−1)·((α+T)/(α+t_x))^(r+x))；未来 7/30 天的预计购买天数为 FHL 式 (10) 的条件期望（2F1 级数）。没有价格数据，这里只预测购买次数，不是金额。",
    en: "In days, for every buyer with a buy in the range: purchase days = local dates with a buy, x = purchase days − 1, t_x = last purchase date − first purchase date, T = the range's last date − first purchase date. r, α, a, b maximise the BG/NBD log-likelihood of Fader, Hardie & Lee (2005) summed over buyers (no penalty; argmin's L-BFGS). When the range shows no dropout the likelihood is largest towards a → 0 or b → ∞ and a, b are not identified: the no-dropout NBD limit is reported (P(alive) = 1), or the Poisson rate per day where r and α run off too. P(alive) = 1 / (1 + [x>0]·a/(b+x−1)·((α+T)/(α+t_x))^(r+x)); the expected purchase days in the next 7/30 days are FHL's conditional expectation (eq. 10, the 2F1 series). There are no prices: these forecast purchases, never money.",
};

/// A number with `d` decimals, the same in both languages.
fn fixed(v: f64, d: usize) -> Cell {
    Cell::Text(format!("{v:.d$}"))
}

fn opt(v: Option<f64>, cell: fn(f64) -> Cell) -> Cell {
    v.map(cell).unwrap_or(Cell::Empty)
}

fn headline(c: &Clv) -> Vec<Headline> {
    let h = |zh: &'static str, en: &'static str, value: Cell| Headline { label: Tr { zh, en }, value };
    let mut out = vec![
        h("买家", "Buyers", Cell::Int(c.buyers)),
        h("有复购的买家（x > 0）", "Repeat buyers (x > 0)", Cell::Int(c.repeat_buyers)),
        h("模型", "Model", Cell::Text(MODEL_NAMES.iter().find(|m| m.0 == c.model).map(|m| m.1).unwrap_or("-").into())),
    ];
    let p = &c.params;
    for (v, zh, en) in [
        (p.r, "r（购买率的形状）", "r (purchase-rate shape)"),
        (p.alpha, "α（购买率的尺度，天）", "α (purchase-rate scale, days)"),
        (p.a, "a（流失概率 Beta 参数）", "a (dropout Beta parameter)"),
        (p.b, "b（流失概率 Beta 参数）", "b (dropout Beta parameter)"),
        (c.poisson_rate_per_day, "泊松购买率（购买天数/天）", "Poisson rate (purchase days per day)"),
    ] {
        if let Some(v) = v {
            out.push(h(zh, en, fixed(v, 4)));
        }
    }
    if let Some(ll) = c.log_likelihood {
        out.push(h("对数似然（买家之和）", "Log-likelihood (sum over buyers)", fixed(ll, 1)));
    }
    if let Some(s) = &c.p_alive {
        out.push(h("平均存活概率 P(alive)", "Mean P(alive)", Cell::Rate(s.mean)));
        out.push(h("P(alive) 下四分位数", "P(alive), first quartile", Cell::Rate(s.q25)));
        out.push(h("P(alive) 中位数", "Median P(alive)", Cell::Rate(s.median)));
        out.push(h("P(alive) 上四分位数", "P(alive), third quartile", Cell::Rate(s.q75)));
    }
    if let (Some(a), Some(b)) = (c.expected_7d, c.expected_30d) {
        out.push(h("未来 7 天预计购买天数（合计）", "Expected purchase days, next 7 days (total)", Cell::Num(a)));
        out.push(h("未来 30 天预计购买天数（合计）", "Expected purchase days, next 30 days (total)", Cell::Num(b)));
    }
    out
}

/// The model's name in both languages' tables.
const MODEL_NAMES: [(&str, &str); 4] = [("bgnbd", "BG/NBD"), ("nbd", "NBD (a, b = null)"), ("poisson", "Poisson"), ("none", "-")];

fn conclusion(c: &Clv) -> (String, String) {
    let p = &c.params;
    let e30 = c.expected_30d.unwrap_or(0.0);
    let f = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into());
    let (b, rb) = (int(c.buyers), int(c.repeat_buyers));
    match c.model {
        "bgnbd" => {
            let med = c.p_alive.as_ref().map(|s| crate::i18n::pct(s.median)).unwrap_or_default();
            (
                format!("BG/NBD 拟合（{b} 名买家，其中 {rb} 名有复购）：r = {}，α = {}，a = {}，b = {}；P(alive) 中位数 {med}，预计未来 30 天共 {e30:.1} 个购买日。", f(p.r), f(p.alpha), f(p.a), f(p.b)),
                format!("BG/NBD fit ({b} buyers, {rb} of them repeat buyers): r = {}, α = {}, a = {}, b = {}; median P(alive) {med}, {e30:.1} purchase days expected in the next 30 days.", f(p.r), f(p.alpha), f(p.a), f(p.b)),
            )
        }
        "nbd" => (
            format!("BG/NBD 的似然没有内部最大值，a、b 无法识别（短窗口内常见：看不到流失时似然在 a → 0 或 b → ∞ 时最大）；按无流失的 NBD 极限（r = {}，α = {}，所有买家 P(alive) = 1）预测，{b} 名买家未来 30 天共 {e30:.1} 个购买日。", f(p.r), f(p.alpha)),
            format!("The BG/NBD likelihood has no interior maximum, so a and b are not identified (common in a short window: without visible dropout it is largest as a → 0 or b → ∞); the no-dropout NBD limit (r = {}, α = {}, P(alive) = 1 for every buyer) expects {e30:.1} purchase days from {b} buyers in the next 30 days.", f(p.r), f(p.alpha)),
        ),
        "poisson" => {
            let rate = f(c.poisson_rate_per_day);
            (
                format!("BG/NBD 的似然没有内部最大值，a、b 无法识别，无流失的 NBD 极限的 r、α 也发散（买家间看不到购买率的差异）：按同一泊松购买率（每天 {rate} 个购买日）预测，{b} 名买家未来 30 天共 {e30:.1} 个购买日。"),
                format!("The BG/NBD likelihood has no interior maximum, so a and b are not identified, and r and α of the no-dropout NBD limit run off too (no difference in purchase rate between buyers shows): one Poisson rate ({rate} purchase days per day) expects {e30:.1} purchase days from {b} buyers in the next 30 days."),
            )
        }
        _ => (
            "没有可拟合的买家：区间内没有购买，或所有买家都在区间最后一天首次购买。".into(),
            "Nothing to fit: no buys in the range, or every buyer first bought on its last day.".into(),
        ),
    }
}

fn plots(c: &Clv, groups: &[Group]) -> Vec<Plot> {
    let mut out = vec![];
    if c.model == "bgnbd" {
        let mut bands = [0u64; 10];
        for g in groups {
            if let Some(p) = g.p_alive {
                bands[((p * 10.0) as usize).min(9)] += g.buyers;
            }
        }
        out.push(Plot {
            name: "clv_p_alive",
            title: Tr { zh: "买家的存活概率 P(alive) 分布", en: "Buyers by P(alive)" },
            kind: PlotKind::Bars {
                bars: bands
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (Label::Raw(format!("{}–{}%", i * 10, i * 10 + 10)), *n as f64, Cell::Int(*n)))
                    .collect(),
                horizontal: false,
                axis: Tr { zh: "买家", en: "Buyers" },
            },
        });
    }
    if c.expected_30d.is_some() {
        out.push(Plot {
            name: "clv_segments",
            title: Tr {
                zh: "各 RFM 分群未来 30 天预计购买天数", en: "Expected purchase days in the next 30 days by RFM segment"
            },
            kind: PlotKind::Bars {
                bars: c
                    .segments
                    .iter()
                    .zip(SEGMENTS)
                    .map(|(s, name)| {
                        let v = s.expected_30d.unwrap_or(0.0);
                        (Label::Tr(Tr { zh: crate::i18n::segment_zh(name), en: name }), v, Cell::Num(v))
                    })
                    .collect(),
                horizontal: true,
                axis: Tr { zh: "预计购买天数", en: "Expected purchase days" },
            },
        });
    }
    out
}

/// Customer lifetime value in the registry.
pub struct CustomerValue;

impl Analysis for CustomerValue {
    fn compute(&self, ctx: &Ctx<'_>) -> Result<Computed, MetricsError> {
        let (c, groups) = compute_with_groups(ctx)?;
        let mut rows: Vec<Vec<Cell>> = c
            .segments
            .iter()
            .map(|s| {
                vec![
                    Cell::Text(s.segment.clone()),
                    Cell::Int(s.buyers),
                    opt(s.mean_p_alive, Cell::Rate),
                    opt(s.expected_7d, Cell::Num),
                    opt(s.expected_30d, Cell::Num),
                ]
            })
            .collect();
        rows.push(vec![
            Cell::Text("all".into()),
            Cell::Int(c.buyers),
            opt(c.p_alive.as_ref().map(|s| s.mean), Cell::Rate),
            opt(c.expected_7d, Cell::Num),
            opt(c.expected_30d, Cell::Num),
        ]);
        let top = Table {
            title: Tr {
                zh: "未来 30 天预计购买天数最多的 20 名买家",
                en: "The 20 buyers with the most expected purchase days in the next 30 days",
            },
            columns: vec![
                Tr { zh: "用户", en: "User" }.into(),
                Label::Raw("x".into()),
                Label::Raw("t_x".into()),
                Label::Raw("T".into()),
                Label::Raw("P(alive)".into()),
                COLUMNS[3].into(),
                COLUMNS[4].into(),
            ],
            rows: c
                .top
                .iter()
                .map(|t| {
                    vec![
                        Cell::Text(t.user_id.to_string()),
                        Cell::Int(t.x as u64),
                        Cell::Int(t.t_x as u64),
                        Cell::Int(t.big_t as u64),
                        Cell::Rate(t.p_alive),
                        fixed(t.expected_7d, 3),
                        fixed(t.expected_30d, 3),
                    ]
                })
                .collect(),
        };
        let section = Section {
            key: "clv",
            title: TITLE,
            columns: COLUMNS.map(Label::from).to_vec(),
            rows,
            tables: vec![top],
            headline: headline(&c),
            plots: plots(&c, &groups),
            conclusion: Some(conclusion(&c)),
            definition: DEFINITION,
        };
        Ok(Computed { json: serde_json::to_value(&c).expect("clv JSON"), section })
    }
}
