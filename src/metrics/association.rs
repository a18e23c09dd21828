//! **association** (品类关联): which categories land in the same users' baskets.
//!
//! - A user's **basket** is the set of categories in which they have at least one kept `buy` in
//!   the range (`--basket cart`: a cart; `--basket cart,buy`: either). N = users with a non-empty
//!   basket.
//! - For every ordered pair A→C (A ≠ C): n(A), n(C) = users whose basket holds the category,
//!   n(A,C) = users whose basket holds both; **support** = n(A,C) / N; **confidence** =
//!   n(A,C) / n(A); **lift** = confidence / (n(C) / N); **leverage** = support − (n(A)/N)·(n(C)/N).
//! - **Rules**: the 20 pairs with n(A,C) ≥ `--min-pair-users` (default 5) with the highest lift,
//!   ranked by the exact fraction n(A,C)·N / (n(A)·n(C)) compared as integers (A→C and C→A have
//!   equal lift, which floats can get wrong in the last bit); ties: higher n(A,C), then A, then C
//!   ascending. `pairs` counts every ordered pair that meets the threshold.
//! - **Bought together** (`--bought-with X`): every C with n(X,C) ≥ 1 as the rule X→C, the 10 with
//!   the most shared baskets (ties: higher lift, then C ascending).
//! - `multi_category_baskets`: baskets with 2 or more categories.
//!
//! Pairs are counted by a self-join of the (user, category) baskets on the user, grouped by the
//! pair: the work grows with Σ k(k−1) over baskets of k categories, never with N².

use super::section::{Analysis, Cell, Computed, Headline, Label, Section, Table};
use super::source::{ratio, u, Ctx};
use super::MetricsError;
use crate::domain::journey::BasketOf;
use crate::i18n::int;
use crate::i18n::prose::Tr;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Rules listed.
pub const TOP_RULES: usize = 20;
/// Categories in a "bought together" list.
pub const TOP_TOGETHER: usize = 10;

/// One rule A→C.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Rule {
    /// A.
    pub antecedent: i64,
    /// C.
    pub consequent: i64,
    /// Baskets holding A.
    pub n_antecedent: u64,
    /// Baskets holding C.
    pub n_consequent: u64,
    /// Baskets holding both.
    pub n_both: u64,
    /// n(A,C) / N.
    pub support: f64,
    /// n(A,C) / n(A).
    pub confidence: f64,
    /// confidence / (n(C) / N).
    pub lift: f64,
    /// support − (n(A)/N)·(n(C)/N).
    pub leverage: f64,
}

/// The categories bought together with one.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BoughtWith {
    /// The chosen category.
    pub category: i64,
    /// Baskets holding it.
    pub baskets: u64,
    /// Rules category→C, most shared baskets first.
    pub together: Vec<Rule>,
}

/// The category association.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Association {
    /// What puts a category in a basket.
    pub basket: BasketOf,
    /// The threshold on n(A,C).
    pub min_pair_users: u64,
    /// N: non-empty baskets.
    pub baskets: u64,
    /// Baskets with 2+ categories.
    pub multi_category_baskets: u64,
    /// Ordered pairs with n(A,C) ≥ the threshold.
    pub pairs: u64,
    /// The top rules by lift.
    pub rules: Vec<Rule>,
    /// The "bought together" list, when asked for.
    pub bought_with: Option<BoughtWith>,
}

fn rule(a: i64, c: i64, na: u64, nc: u64, nac: u64, n: u64) -> Rule {
    let (s, pa, pc) = (ratio(nac, n), ratio(na, n), ratio(nc, n));
    let confidence = ratio(nac, na);
    Rule {
        antecedent: a,
        consequent: c,
        n_antecedent: na,
        n_consequent: nc,
        n_both: nac,
        support: s,
        confidence,
        lift: if pc > 0.0 { confidence / pc } else { 0.0 },
        leverage: s - pa * pc,
    }
}

/// Lift descending, exactly: n(A,C)·N / (n(A)·n(C)) compared by cross-multiplication (N cancels).
fn by_lift(x: &Rule, y: &Rule) -> Ordering {
    let l = x.n_both as u128 * y.n_antecedent as u128 * y.n_consequent as u128;
    let r = y.n_both as u128 * x.n_antecedent as u128 * x.n_consequent as u128;
    r.cmp(&l)
}

/// (a, c, count) rows of a query.
fn triples(ctx: &Ctx<'_>, sql: &str) -> Result<Vec<(i64, i64, u64)>, MetricsError> {
    let mut st = ctx.conn.prepare(sql)?;
    let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, u(r.get::<_, i64>(2)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The association for the context's range, filter and basket options.
pub fn compute(ctx: &Ctx<'_>) -> Result<Association, MetricsError> {
    let j = ctx.journey;
    let baskets = match &ctx.src.user_seq {
        Some(seq) => {
            let codes: Vec<String> = j.basket.codes().map(|i| i.to_string()).collect();
            format!("SELECT DISTINCT user_id, category_id FROM {seq} WHERE {} AND b IN ({})", ctx.between, codes.join(", "))
        }
        None => {
            let list: Vec<String> = j.basket.names().iter().map(|b| format!("'{b}'")).collect();
            format!(
                "SELECT DISTINCT user_id, category_id FROM {} WHERE {} AND behavior_type IN ({})",
                ctx.src.events,
                ctx.between,
                list.join(", ")
            )
        }
    };
    ctx.conn.execute_batch(&format!("CREATE OR REPLACE TEMP TABLE _baskets AS {baskets}"))?;
    let (n, multi): (i64, i64) = ctx.conn.query_row(
        "SELECT count(*), count(*) FILTER (WHERE k >= 2) FROM (SELECT count(*) AS k FROM _baskets GROUP BY user_id)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let n = u(n);
    let per: HashMap<i64, u64> = {
        let mut st = ctx.conn.prepare("SELECT category_id, count(*) FROM _baskets GROUP BY category_id")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, u(r.get::<_, i64>(1)?))))?;
        rows.collect::<Result<_, _>>()?
    };
    let pairs = triples(
        ctx,
        &format!(
            "SELECT x.category_id, y.category_id, count(*) FROM _baskets x JOIN _baskets y
             ON x.user_id = y.user_id AND x.category_id <> y.category_id
             GROUP BY ALL HAVING count(*) >= {}",
            j.min_pair_users
        ),
    )?;
    let mut rules: Vec<Rule> = pairs.iter().map(|&(a, c, k)| rule(a, c, per[&a], per[&c], k, n)).collect();
    rules.sort_by(|x, y| {
        by_lift(x, y).then(y.n_both.cmp(&x.n_both)).then(x.antecedent.cmp(&y.antecedent)).then(x.consequent.cmp(&y.consequent))
    });
    let pairs = rules.len() as u64;
    rules.truncate(TOP_RULES);
    let bought_with = match j.bought_with {
        None => None,
        Some(x) => {
            let rows = triples(
                ctx,
                &format!(
                    "SELECT {x}, y.category_id, count(*) FROM _baskets x JOIN _baskets y ON x.user_id = y.user_id
                     WHERE x.category_id = {x} AND y.category_id <> {x} GROUP BY ALL"
                ),
            )?;
            let na = per.get(&x).copied().unwrap_or(0);
            let mut together: Vec<Rule> = rows.iter().map(|&(a, c, k)| rule(a, c, na, per[&c], k, n)).collect();
            together.sort_by(|p, q| q.n_both.cmp(&p.n_both).then(by_lift(p, q)).then(p.consequent.cmp(&q.consequent)));
            together.truncate(TOP_TOGETHER);
            Some(BoughtWith { category: x, baskets: na, together })
        }
    };
    ctx.conn.execute_batch("DROP TABLE IF EXISTS _baskets")?;
    Ok(Association {
        basket: j.basket,
        min_pair_users: j.min_pair_users,
        baskets: n,
        multi_category_baskets: u(multi),
        pairs,
        rules,
        bought_with,
    })
}

const TITLE: Tr = Tr { zh: "品类关联", en: "Category association" };
const COLUMNS: [Tr; 7] = [
    Tr { zh: "前项类目 A", en: "Category A" },
    Tr { zh: "后项类目 C", en: "Category C" },
    Tr { zh: "同时购买用户", en: "Users with both" },
    Tr { zh: "支持度", en: "Support" },
    Tr { zh: "置信度", en: "Confidence" },
    Tr { zh: "提升度", en: "Lift" },
    Tr { zh: "杠杆率", en: "Leverage" },
];
const DEFINITION: Tr = Tr {
    zh: "购物篮 = 用户在区间内有购买（--basket 可改为加购或两者）的类目集合，N = 非空购物篮数。对每个有序类目对 A→C：支持度 = n(A,C)/N，置信度 = n(A,C)/n(A)，提升度 = 置信度 / (n(C)/N)，杠杆率 = 支持度 − (n(A)/N)·(n(C)/N)。列出 n(A,C) ≥ 阈值（默认 5）中提升度最高的 20 条规则，按精确分数比较，并列时 n(A,C) 大者优先，再按 A、C 升序。",
    en: "Basket = the categories in which a user bought in the range (--basket: cart, or either); N = non-empty baskets. For each ordered pair A→C: support = n(A,C)/N, confidence = n(A,C)/n(A), lift = confidence / (n(C)/N), leverage = support − (n(A)/N)·(n(C)/N). Lists the 20 rules with n(A,C) ≥ the threshold (default 5) with the highest lift, compared as exact fractions; ties: higher n(A,C), then A, then C ascending.",
};

fn rows(rules: &[Rule]) -> Vec<Vec<Cell>> {
    rules
        .iter()
        .map(|r| {
            vec![
                Cell::Text(r.antecedent.to_string()),
                Cell::Text(r.consequent.to_string()),
                Cell::Int(r.n_both),
                Cell::Rate(r.support),
                Cell::Rate(r.confidence),
                Cell::Num(r.lift),
                Cell::Rate(r.leverage),
            ]
        })
        .collect()
}

/// The category association in the registry.
pub struct CategoryAssociation;

impl Analysis for CategoryAssociation {
    fn compute(&self, ctx: &Ctx<'_>) -> Result<Computed, MetricsError> {
        let a = compute(ctx)?;
        let h = |zh: &'static str, en: &'static str, value: Cell| Headline { label: Tr { zh, en }, value };
        let mut headline = vec![
            h("购物篮数", "Baskets", Cell::Int(a.baskets)),
            h("含 2 个以上类目的购物篮", "Baskets with 2+ categories", Cell::Int(a.multi_category_baskets)),
            h("达到阈值的类目对", "Pairs at the threshold", Cell::Int(a.pairs)),
        ];
        if let Some(r) = a.rules.first() {
            headline.push(h("最高提升度", "Highest lift", Cell::Num(r.lift)));
        }
        let tables = a
            .bought_with
            .iter()
            .map(|b| Table {
                title: Tr { zh: "与所选类目一起购买的类目", en: "Categories bought together with the chosen one" },
                columns: COLUMNS.map(Label::from).to_vec(),
                rows: rows(&b.together),
            })
            .collect();
        let conclusion = a.rules.first().map(|r| {
            let (x, y, k, c) = (r.antecedent, r.consequent, int(r.n_both), crate::i18n::pct(r.confidence));
            (
                format!("{} 个购物篮中有 {} 个含 2 个以上类目；提升度最高的规则是 {x}→{y}：{k} 名用户两者都买，买 {x} 的用户中 {c} 也买了 {y}（提升度 {:.1}）。", int(a.baskets), int(a.multi_category_baskets), r.lift),
                format!("{} of {} baskets hold 2+ categories; the rule with the highest lift is {x}→{y}: {k} users bought both, and {c} of the buyers of {x} also bought {y} (lift {:.1}).", int(a.multi_category_baskets), int(a.baskets), r.lift),
            )
        });
        let section = Section {
            key: "association",
            title: TITLE,
            columns: COLUMNS.map(Label::from).to_vec(),
            rows: rows(&a.rules),
            tables,
            headline,
            plots: vec![],
            conclusion,
            definition: DEFINITION,
        };
        Ok(Computed { json: serde_json::to_value(&a).expect("association JSON"), section })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lift_ties_are_exact() {
        // A→C and C→A: n(A,C)·N/(n(A)·n(C)) is the same fraction; the tie goes to n(A,C), then A.
        let x = rule(7, 3, 10, 30, 6, 100);
        let y = rule(3, 7, 30, 10, 6, 100);
        assert_eq!(by_lift(&x, &y), Ordering::Equal);
        let z = rule(1, 2, 11, 30, 6, 100);
        assert_eq!(by_lift(&x, &z), Ordering::Less, "6/300 beats 6/330");
        assert!((x.lift - 2.0).abs() < 1e-12 && (x.confidence - 0.6).abs() < 1e-12);
        assert!((x.leverage - (0.06 - 0.1 * 0.3)).abs() < 1e-12);
    }
}
