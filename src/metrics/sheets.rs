//! Every analysis of [`Metrics`] as a sheet in one language: a title, a typed table (the values
//! of the JSON, not text), further tables, headline numbers, its charts and its definition.
//!
//! This is what `ecomm export --what metrics` writes (one Excel sheet per analysis, or one
//! section's table as CSV) and what the dashboard's download buttons serve. The built-in
//! analyses are laid out here, column for column as in `ecomm analyze`; the analyses of the
//! [`super::REGISTRY`] come from their [`Section`] unchanged. The values are those of
//! [`Metrics::compute`]: counts as [`Cell::Int`], rates as [`Cell::Rate`] (the ratio 0..1 of the
//! JSON), measures as [`Cell::Num`].

use super::section::{Cell, Section, ShownPlot};
use super::Metrics;
use crate::i18n::prose::{Tr, DEFINITIONS};
use crate::i18n::{describe_filter, segment_name, stage_name, t, tr, ui, Lang};

/// An analysis in one language, values typed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sheet {
    /// The analysis's key in the JSON (`overview` for the range, filter, KPIs and totals).
    pub key: &'static str,
    /// A short name (an Excel sheet name: at most 31 characters).
    pub name: String,
    /// Its title.
    pub title: String,
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<Cell>>,
    /// Further tables: (title, columns, rows).
    pub tables: Vec<(String, Vec<String>, Vec<Vec<Cell>>)>,
    /// Headline numbers: (label, value).
    pub headline: Vec<(String, Cell)>,
    /// Its charts, labels in the sheet's language.
    pub plots: Vec<ShownPlot>,
    /// The definition.
    pub definition: String,
}

/// The keys a sheet can be asked for by (`--section`, the dashboard's CSV buttons), in order.
pub fn keys(m: &Metrics) -> Vec<&'static str> {
    let builtin = ["overview", "funnel", "hourly", "daily", "retention", "repurchase", "top_categories", "rfm"];
    builtin.into_iter().chain(m.more.sections().map(|s| s.key)).collect()
}

/// Every analysis, in the order of the JSON: the overview, the built-in analyses, then the
/// registry's.
pub fn all(m: &Metrics, lang: Lang) -> Vec<Sheet> {
    let mut out = vec![overview(m, lang), funnel(m, lang), hourly(m, lang), daily(m, lang), retention(m, lang)];
    out.extend([repurchase(m, lang), categories(m, lang), rfm(m, lang)]);
    out.extend(m.more.sections().map(|s| from_section(s, lang)));
    out
}

/// The sheet of a registry analysis.
pub fn from_section(s: &Section, lang: Lang) -> Sheet {
    let tables = s.tables.iter().map(|x| (x.title.get(lang).to_string(), labels(&x.columns, lang), x.rows.clone())).collect();
    Sheet {
        key: s.key,
        name: s.title.get(lang).to_string(),
        title: s.title.get(lang).to_string(),
        columns: labels(&s.columns, lang),
        rows: s.rows.clone(),
        tables,
        headline: s.headline.iter().map(|h| (h.label.get(lang).to_string(), h.value.clone())).collect(),
        plots: s.plots.iter().map(|p| p.shown(lang)).collect(),
        definition: s.definition.get(lang).to_string(),
    }
}

fn labels(l: &[super::section::Label], lang: Lang) -> Vec<String> {
    l.iter().map(|c| c.get(lang)).collect()
}

/// The definition in the report's appendix whose English name is `en`.
fn definition(en: &str, lang: Lang) -> String {
    DEFINITIONS.iter().find(|(n, _)| n.en == en).map(|(_, d)| d.get(lang).to_string()).unwrap_or_default()
}

fn sheet(key: &'static str, name: String, title: String, columns: Vec<String>, rows: Vec<Vec<Cell>>) -> Sheet {
    Sheet { key, name, title, columns, rows, tables: vec![], headline: vec![], plots: vec![], definition: String::new() }
}

fn plot(name: &'static str, title: &Tr, kind: &'static str, lang: Lang) -> ShownPlot {
    ShownPlot::new(name, title.get(lang), kind)
}

fn series(name: String, v: impl Iterator<Item = u64>) -> (String, Vec<Option<f64>>) {
    (name, v.map(|x| Some(x as f64)).collect())
}

fn ints(v: &[u64]) -> Vec<Cell> {
    v.iter().map(|x| Cell::Int(*x)).collect()
}

/// The range, time zone, filter, key figures and totals.
fn overview(m: &Metrics, lang: Lang) -> Sheet {
    let (k, tt) = (&m.kpis, &m.totals);
    let filter = describe_filter(lang, &m.filter.behaviors, &m.filter.categories);
    let text = |key: &str, v: String| vec![Cell::Text(t(lang, key).into()), Cell::Text(v)];
    let num = |key: &str, v: Cell| vec![Cell::Text(t(lang, key).into()), v];
    let rows = vec![
        text("range", format!("{} .. {}", m.range.from, m.range.to)),
        text("timezone", m.range.timezone.clone()),
        vec![Cell::Text(tr(lang, &ui::FILTER)), Cell::Text(if filter.is_empty() { tr(lang, &ui::ALL_EVENTS) } else { filter })],
        num("uv", Cell::Int(k.uv)),
        num("pv", Cell::Int(k.pv)),
        num("buys", Cell::Int(k.buys)),
        num("buyers", Cell::Int(k.buyers)),
        num("conversion", Cell::Rate(k.pv_to_buy_conversion)),
        num("repurchase_rate", Cell::Rate(k.repurchase_rate)),
        num("avg_retention", Cell::Rate(k.avg_day1_retention)),
        text("peak_hour", format!("{:02}:00", k.peak_hour)),
        num("events", Cell::Int(tt.events)),
        num("users", Cell::Int(tt.users)),
        num("items", Cell::Int(tt.items)),
        num("categories", Cell::Int(tt.categories)),
    ];
    let mut s = sheet(
        "overview",
        tr(lang, &ui::SHEET_OVERVIEW),
        t(lang, "title").into(),
        vec![tr(lang, &ui::SHEET_ITEM), tr(lang, &ui::SHEET_VALUE)],
        rows,
    );
    s.definition = definition("Analysis range", lang);
    s
}

fn funnel(m: &Metrics, lang: Lang) -> Sheet {
    let rows = m
        .funnel
        .iter()
        .map(|s| {
            vec![
                Cell::Text(stage_name(lang, &s.stage)),
                Cell::Int(s.events),
                Cell::Int(s.users),
                Cell::Rate(s.rate_from_prev),
                Cell::Rate(s.rate_from_first),
            ]
        })
        .collect();
    let columns = ["stage", "events", "users", "rate_prev", "rate_first"].map(|c| t(lang, c).to_string()).to_vec();
    let mut s = sheet("funnel", tr(lang, &ui::SHEET_FUNNEL), t(lang, "funnel").into(), columns, rows);
    s.headline = vec![(t(lang, "conversion").into(), Cell::Rate(m.kpis.pv_to_buy_conversion))];
    let mut p = plot("funnel", &ui::CONVERSION_FUNNEL_USERS_PER_STAGE, "funnel", lang);
    p.labels = m.funnel.iter().map(|s| stage_name(lang, &s.stage)).collect();
    p.series = vec![series(t(lang, "users").into(), m.funnel.iter().map(|s| s.users))];
    s.plots = vec![p];
    s.definition = definition("Funnel", lang);
    s
}

fn hourly(m: &Metrics, lang: Lang) -> Sheet {
    let rows = m.hourly.iter().map(|h| [vec![Cell::Int(h.hour as u64)], ints(&[h.pv, h.fav, h.cart, h.buy])].concat()).collect();
    let columns = vec![t(lang, "hour").to_string(), "pv".into(), "fav".into(), "cart".into(), "buy".into()];
    let mut s = sheet("hourly", t(lang, "hourly").into(), t(lang, "hourly").into(), columns, rows);
    s.headline = vec![(t(lang, "peak_hour").into(), Cell::Text(format!("{:02}:00", m.kpis.peak_hour)))];
    let mut p = plot("hourly", &ui::ACTIVITY_BY_HOUR_OF_DAY, "lines", lang);
    p.labels = m.hourly.iter().map(|h| format!("{:02}", h.hour)).collect();
    p.series = vec![series(stage_name(lang, "pv"), m.hourly.iter().map(|h| h.pv))];
    p.right = vec![
        series(stage_name(lang, "fav"), m.hourly.iter().map(|h| h.fav)),
        series(stage_name(lang, "cart"), m.hourly.iter().map(|h| h.cart)),
        series(stage_name(lang, "buy"), m.hourly.iter().map(|h| h.buy)),
    ];
    (p.axis, p.right_axis) = (tr(lang, &ui::PV_EVENTS), tr(lang, &ui::FAV_CART_BUY_EVENTS));
    s.plots = vec![p];
    s.definition = definition("Activity by hour", lang);
    s
}

fn daily(m: &Metrics, lang: Lang) -> Sheet {
    let rows =
        m.daily.iter().map(|d| [vec![Cell::Text(d.date.to_string())], ints(&[d.users, d.pv, d.fav, d.cart, d.buy])].concat()).collect();
    let columns = vec![t(lang, "date").to_string(), t(lang, "users").into(), "pv".into(), "fav".into(), "cart".into(), "buy".into()];
    let mut s = sheet("daily", t(lang, "daily").into(), t(lang, "daily").into(), columns, rows);
    let mut p = plot("daily", &ui::DAILY_TREND_ACTIVE_USERS_AND, "lines", lang);
    p.labels = m.daily.iter().map(|d| d.date.format("%m-%d").to_string()).collect();
    p.series = vec![series(tr(lang, &ui::ACTIVE_USERS_UV), m.daily.iter().map(|d| d.users))];
    p.right = vec![series(tr(lang, &ui::BUYS), m.daily.iter().map(|d| d.buy))];
    (p.axis, p.right_axis) = (tr(lang, &ui::USERS), tr(lang, &ui::BUY_EVENTS));
    s.plots = vec![p];
    s.definition = definition("Daily trend", lang);
    s
}

fn retention(m: &Metrics, lang: Lang) -> Sheet {
    let rows = m
        .retention
        .iter()
        .map(|r| vec![Cell::Text(r.date.to_string()), Cell::Int(r.cohort), Cell::Int(r.retained), Cell::Rate(r.rate)])
        .collect();
    let columns = ["date", "cohort", "retained", "rate"].map(|c| t(lang, c).to_string()).to_vec();
    let mut s = sheet("retention", t(lang, "retention").into(), t(lang, "retention").into(), columns, rows);
    s.headline = vec![(t(lang, "avg_retention").into(), Cell::Rate(m.kpis.avg_day1_retention))];
    let mut p = plot("retention", &ui::DAY_1_RETENTION_BY_DATE, "bars", lang);
    p.labels = m.retention.iter().map(|r| r.date.format("%m-%d").to_string()).collect();
    p.series = vec![(t(lang, "rate").into(), m.retention.iter().map(|r| Some(r.rate)).collect())];
    (p.axis, p.percent) = (tr(lang, &ui::RETENTION), true);
    s.plots = vec![p];
    s.definition = definition("Day-1 retention", lang);
    s
}

fn repurchase(m: &Metrics, lang: Lang) -> Sheet {
    let r = &m.repurchase;
    let rows = vec![vec![Cell::Int(r.buyers), Cell::Int(r.repeat_buyers), Cell::Rate(r.rate)]];
    let columns = ["buyers", "repeat_buyers", "repurchase_rate"].map(|c| t(lang, c).to_string()).to_vec();
    let mut s = sheet("repurchase", t(lang, "repurchase").into(), t(lang, "repurchase").into(), columns, rows);
    let mut p = plot("repurchase", &ui::BUYERS_AND_REPEAT_BUYERS, "bars", lang);
    p.labels = vec![t(lang, "buyers").into(), t(lang, "repeat_buyers").into()];
    p.series = vec![series(t(lang, "users").into(), [r.buyers, r.repeat_buyers].into_iter())];
    p.axis = tr(lang, &ui::USERS_2);
    s.plots = vec![p];
    s.definition = definition("Repurchase rate", lang);
    s
}

fn categories(m: &Metrics, lang: Lang) -> Sheet {
    let rows = m
        .top_categories
        .iter()
        .enumerate()
        .map(|(i, c)| vec![Cell::Int(i as u64 + 1), Cell::Text(c.category_id.to_string()), Cell::Int(c.buys)])
        .collect();
    let columns = vec!["#".to_string(), t(lang, "category").into(), t(lang, "buys").into()];
    let name = tr(lang, &ui::SHEET_TOP_CATEGORIES);
    let mut s = sheet("top_categories", name, t(lang, "top_categories").into(), columns, rows);
    let mut p = plot("categories", &ui::TOP_10_CATEGORIES_BY_BUYS, "bars", lang);
    p.labels = m.top_categories.iter().map(|c| format!("{} {}", tr(lang, &ui::CAT), c.category_id)).collect();
    p.series = vec![series(t(lang, "buys").into(), m.top_categories.iter().map(|c| c.buys))];
    (p.axis, p.horizontal) = (tr(lang, &ui::BUY_EVENTS_2), true);
    s.plots = vec![p];
    s.definition = definition("Top 10 categories", lang);
    s
}

fn rfm(m: &Metrics, lang: Lang) -> Sheet {
    let rows = m
        .rfm
        .segments
        .iter()
        .map(|s| {
            vec![
                Cell::Text(segment_name(lang, &s.segment)),
                Cell::Int(s.users),
                Cell::Rate(s.share),
                Cell::Num(s.avg_recency),
                Cell::Num(s.avg_frequency),
                Cell::Num(s.avg_monetary),
                Cell::Text(if lang == Lang::Zh { s.action_zh.clone() } else { s.action_en.clone() }),
            ]
        })
        .collect();
    let columns = ["segment", "users", "share", "avg_r", "avg_f", "avg_m", "action"].map(|c| t(lang, c).to_string()).to_vec();
    let mut s = sheet("rfm", tr(lang, &ui::SHEET_RFM), t(lang, "rfm").into(), columns, rows);
    s.headline = vec![(t(lang, "buyers").into(), Cell::Int(m.rfm.buyers))];
    let mut p = plot("rfm", &ui::RFM_SEGMENTS_BUYERS, "bars", lang);
    p.labels = m.rfm.segments.iter().map(|x| segment_name(lang, &x.segment)).collect();
    p.series = vec![series(t(lang, "users").into(), m.rfm.segments.iter().map(|x| x.users))];
    (p.axis, p.horizontal) = (tr(lang, &ui::USERS_2), true);
    s.plots = vec![p];
    s.definition = definition("RFM", lang);
    s
}
