//! **cohorts**: retention of users grouped by the date they arrived.
//!
//! - A user's **cohort** is the date of their first kept event in the range; with
//!   `--retention-start buy`, the date of their first buy (users who never bought in the range
//!   are then in no cohort).
//! - For each cohort date c and N = 0..(days in range − 1) with c + N ≤ the range's last date:
//!   **retained[c][N]** = cohort users with a kept event (with `--retention-return buy`, a buy) on
//!   date c + N, and **unbounded[c][N]** = those with one on any date ≥ c + N. Rates divide by the
//!   cohort's size.
//! - **Pooled** rate per N, over the cohorts where N is defined: Σ retained / Σ cohort size (and
//!   likewise for unbounded), for N up to the largest N any cohort reaches.
//! - Only non-empty cohorts are listed.
//!
//! Computed from the per-(user, date) rollup of the kept events (so the filters apply): each
//! user's cohort date c and last return date l, computed once; retained counts (user, date) rows
//! at d ≥ c, and unbounded[c][N] = users of c with l − c ≥ N (a suffix sum).

use super::section::{Analysis, Cell, Computed, Headline, Label, Plot, PlotKind, Section, Table};
use super::source::{ratio, u, Ctx};
use super::MetricsError;
use crate::domain::journey::RetentionEvent;
use crate::domain::parse_date;
use crate::i18n::prose::Tr;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

/// One cohort.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Cohort {
    /// The cohort date.
    pub date: NaiveDate,
    /// Users in it.
    pub users: u64,
    /// retained[N] for N = 0..=(last date − date).
    pub retained: Vec<u64>,
    /// unbounded[N], same length.
    pub unbounded: Vec<u64>,
    /// retained[N] / users.
    pub rate: Vec<f64>,
    /// unbounded[N] / users.
    pub unbounded_rate: Vec<f64>,
}

/// The pooled rates for one N.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Pooled {
    /// Days after the cohort date.
    pub n: usize,
    /// Users of the cohorts where N is defined.
    pub users: u64,
    /// Of them, retained on day N.
    pub retained: u64,
    /// retained / users.
    pub rate: f64,
    /// Of them, with a return on day N or later.
    pub unbounded: u64,
    /// unbounded / users.
    pub unbounded_rate: f64,
}

/// Cohort retention.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Cohorts {
    /// What puts a user in a cohort.
    pub start: RetentionEvent,
    /// What counts as a return.
    #[serde(rename = "return")]
    pub return_event: RetentionEvent,
    /// Non-empty cohorts, by date.
    pub cohorts: Vec<Cohort>,
    /// Pooled rates, N = 0, 1, ….
    pub pooled: Vec<Pooled>,
}

/// (date, n, count) rows of a query.
fn triples(ctx: &Ctx<'_>, sql: &str) -> Result<Vec<(NaiveDate, usize, u64)>, MetricsError> {
    let mut st = ctx.conn.prepare(sql)?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (d, n, c) = row?;
        out.push((parse_date(&d).expect("DuckDB date"), n.max(0) as usize, u(c)));
    }
    Ok(out)
}

/// Computes the cohorts for the range, the filter and the retention options.
pub fn compute(ctx: &Ctx<'_>) -> Result<Cohorts, MetricsError> {
    let (start, ret) = (ctx.journey.retention_start, ctx.journey.retention_return);
    let only = |e: RetentionEvent| if e == RetentionEvent::Buy { " FILTER (WHERE b)" } else { "" };
    // Each user's cohort date c and last return date l, once (a temporary table of the
    // connection, as the filtered rollups are), then read by the three counts.
    let active = format!(
        "SELECT user_id, event_date AS d, buy > 0 AS b FROM {} WHERE {} AND (pv + fav + cart + buy) > 0",
        ctx.src.user_day, ctx.between
    );
    ctx.conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE _cohort_users AS
         SELECT * FROM (SELECT user_id, min(d){} AS c, max(d){} AS l FROM ({active}) GROUP BY user_id) WHERE c IS NOT NULL",
        only(start),
        only(ret)
    ))?;
    let sizes = triples(ctx, "SELECT c::VARCHAR, 0, count(*) FROM _cohort_users GROUP BY c")?;
    let kept = if ret == RetentionEvent::Buy { " AND a.b" } else { "" };
    let retained = triples(
        ctx,
        &format!("SELECT s.c::VARCHAR, a.d - s.c, count(*) FROM ({active}) a JOIN _cohort_users s USING (user_id) WHERE a.d >= s.c{kept} GROUP BY ALL"),
    )?;
    let lasts = triples(ctx, "SELECT c::VARCHAR, l - c, count(*) FROM _cohort_users WHERE l >= c GROUP BY ALL")?;
    ctx.conn.execute_batch("DROP TABLE _cohort_users")?;
    let to = ctx.range.to;
    let mut by_date: BTreeMap<NaiveDate, Cohort> = BTreeMap::new();
    for (date, _, users) in sizes {
        let len = (to - date).num_days() as usize + 1;
        by_date.insert(
            date,
            Cohort { date, users, retained: vec![0; len], unbounded: vec![0; len], rate: vec![0.0; len], unbounded_rate: vec![0.0; len] },
        );
    }
    for (date, n, c) in retained {
        by_date.get_mut(&date).expect("a cohort").retained[n] = c;
    }
    for (date, n, c) in lasts {
        let co = by_date.get_mut(&date).expect("a cohort");
        // Users whose last return is n days after c count for every N ≤ n.
        for x in co.unbounded.iter_mut().take(n + 1) {
            *x += c;
        }
    }
    let cohorts: Vec<Cohort> = by_date
        .into_values()
        .map(|mut c| {
            c.rate = c.retained.iter().map(|r| ratio(*r, c.users)).collect();
            c.unbounded_rate = c.unbounded.iter().map(|r| ratio(*r, c.users)).collect();
            c
        })
        .collect();
    let longest = cohorts.iter().map(|c| c.retained.len()).max().unwrap_or(0);
    let pooled = (0..longest)
        .map(|n| {
            let defined = cohorts.iter().filter(|c| c.retained.len() > n);
            let (users, retained, unbounded) =
                defined.fold((0, 0, 0), |(a, b, c), co| (a + co.users, b + co.retained[n], c + co.unbounded[n]));
            Pooled { n, users, retained, rate: ratio(retained, users), unbounded, unbounded_rate: ratio(unbounded, users) }
        })
        .collect();
    Ok(Cohorts { start, return_event: ret, cohorts, pooled })
}

const TITLE: Tr = Tr { zh: "同期群留存", en: "Cohort retention" };
const DEFINITION: Tr = Tr {
    zh: "用户的同期群 = 其在区间内首次有事件的日期（--retention-start buy 时为首次购买日期）。对每个同期群日期 c 与 N（c+N 不晚于区间最后一天）：第 N 天留存 = 该群中在 c+N 日有事件（--retention-return buy 时为购买）的用户；无界留存 = 在 c+N 日或之后任一天有事件的用户；比率除以同期群人数。合并留存率 = 对 N 有定义的各群 Σ 留存 / Σ 人数。只列出非空同期群。",
    en: "A user's cohort = the date of their first event in the range (with --retention-start buy, their first buy). For each cohort date c and N with c+N within the range: day-N retained = cohort users with an event (with --retention-return buy, a buy) on c+N; unbounded = those with one on c+N or any later date; rates divide by the cohort's size. Pooled rate = Σ retained / Σ cohort size over the cohorts where N is defined. Only non-empty cohorts are listed.",
};

fn matrix(c: &Cohorts, get: fn(&Cohort) -> &Vec<f64>) -> (Vec<Label>, Vec<Vec<Cell>>) {
    let longest = c.pooled.len();
    let mut columns: Vec<Label> = vec![Tr { zh: "同期群", en: "Cohort" }.into(), Tr { zh: "用户数", en: "Users" }.into()];
    columns.extend((0..longest).map(|n| Label::Raw(format!("D{n}"))));
    let rows = c
        .cohorts
        .iter()
        .map(|co| {
            let mut r = vec![Cell::Text(co.date.to_string()), Cell::Int(co.users)];
            r.extend((0..longest).map(|n| get(co).get(n).map(|x| Cell::Rate(*x)).unwrap_or(Cell::Empty)));
            r
        })
        .collect();
    (columns, rows)
}

fn heatmap(c: &Cohorts, get: fn(&Cohort) -> &Vec<f64>) -> PlotKind {
    PlotKind::Heatmap {
        rows: c.cohorts.iter().map(|co| co.date.format("%m-%d").to_string()).collect(),
        columns: (0..c.pooled.len()).map(|n| format!("D{n}")).collect(),
        values: c.cohorts.iter().map(|co| (0..c.pooled.len()).map(|n| get(co).get(n).copied()).collect()).collect(),
    }
}

fn pooled_rate(c: &Cohorts, n: usize) -> Option<f64> {
    c.pooled.get(n).filter(|p| p.users > 0).map(|p| p.rate)
}

/// Cohort retention in the registry.
pub struct CohortRetention;

impl Analysis for CohortRetention {
    fn compute(&self, ctx: &Ctx<'_>) -> Result<Computed, MetricsError> {
        let c = compute(ctx)?;
        let (columns, rows) = matrix(&c, |co| &co.rate);
        let (ucolumns, urows) = matrix(&c, |co| &co.unbounded_rate);
        let pooled = Table {
            title: Tr { zh: "合并留存率（各同期群合计）", en: "Pooled retention over the cohorts" },
            columns: ["N", "用户数|Users", "留存|Retained", "留存率|Rate", "无界留存率|Unbounded rate"]
                .iter()
                .map(|s| match s.split_once('|') {
                    Some((zh, en)) => Label::Tr(Tr { zh, en }),
                    None => Label::Raw(s.to_string()),
                })
                .collect(),
            rows: c
                .pooled
                .iter()
                .map(|p| {
                    vec![
                        Cell::Text(format!("D{}", p.n)),
                        Cell::Int(p.users),
                        Cell::Int(p.retained),
                        Cell::Rate(p.rate),
                        Cell::Rate(p.unbounded_rate),
                    ]
                })
                .collect(),
        };
        let unbounded = Table {
            title: Tr { zh: "无界留存（第 N 天或之后回来）", en: "Unbounded retention (back on day N or later)" },
            columns: ucolumns,
            rows: urows,
        };
        let h = |zh: &'static str, en: &'static str, value: Cell| Headline { label: Tr { zh, en }, value };
        let mut headline = vec![
            h("同期群数", "Cohorts", Cell::Int(c.cohorts.len() as u64)),
            h("同期群用户", "Users in cohorts", Cell::Int(c.cohorts.iter().map(|x| x.users).sum())),
        ];
        if let Some(r) = pooled_rate(&c, 1) {
            headline.push(h("次日合并留存率（D1）", "Pooled D1 retention", Cell::Rate(r)));
        }
        if let Some(r) = pooled_rate(&c, 3) {
            headline.push(h("第 3 天合并留存率（D3）", "Pooled D3 retention", Cell::Rate(r)));
        }
        let conclusion = pooled_rate(&c, 1).map(|d1| {
            let d1 = crate::i18n::pct(d1);
            let unb = c.pooled.get(1).map(|p| crate::i18n::pct(p.unbounded_rate)).unwrap_or_default();
            (
                format!("合并来看，{d1} 的用户在进入同期群的次日回来；{unb} 在次日或之后某天回来过。"),
                format!(
                    "Pooled over the cohorts, {d1} of users came back the day after they arrived; {unb} came back on that day or later."
                ),
            )
        });
        let plots = vec![
            Plot {
                name: "cohorts",
                title: Tr { zh: "同期群第 N 天留存率", en: "Cohort retention on day N" },
                kind: heatmap(&c, |co| &co.rate),
            },
            Plot {
                name: "cohorts_unbounded",
                title: Tr { zh: "同期群无界留存率（第 N 天或之后）", en: "Unbounded cohort retention (day N or later)" },
                kind: heatmap(&c, |co| &co.unbounded_rate),
            },
        ];
        let section = Section {
            key: "cohorts",
            title: TITLE,
            columns,
            rows,
            tables: vec![unbounded, pooled],
            headline,
            plots,
            conclusion,
            definition: DEFINITION,
        };
        Ok(Computed { json: serde_json::to_value(&c).expect("cohorts JSON"), section })
    }
}
