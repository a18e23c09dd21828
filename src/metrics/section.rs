//! The registry of analyses and the generic view every output shows of them.
//!
//! An analysis in [`super::REGISTRY`] computes, in one call, its JSON value (the key it adds to
//! `ecomm analyze --format json` and `/api/metrics`) and a [`Section`]: a titled table, headline
//! numbers and a definition, all in both languages. The terminal table, the PDF report, the
//! dashboard (`/api/sections`) and the LLM's fact sheet show every section of the registry without
//! knowing the analysis, so adding one is one file in `src/metrics/` and one line in the list.

use super::source::Ctx;
use super::MetricsError;
use crate::i18n::prose::Tr;
use crate::i18n::{int, pct, Lang};
use serde::Serialize;

/// One value of a section's table or headline.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// A count, shown with thousands separators.
    Int(u64),
    /// A ratio, shown as a percentage with two decimals.
    Rate(f64),
    /// A measure (seconds, a mean), shown with one decimal.
    Num(f64),
    /// Text (a date, a name), shown as it is.
    Text(String),
    /// A duration in seconds, shown in the largest fitting unit (e.g. "42 s", "3.5 min", "2.0 h").
    Secs(f64),
    /// Nothing (a value that is not defined), shown as "-".
    Empty,
}

impl Cell {
    /// How the value reads in tables and prose.
    pub fn show(&self) -> String {
        match self {
            Cell::Int(n) => int(*n),
            Cell::Rate(r) => pct(*r),
            Cell::Num(x) => format!("{x:.1}"),
            Cell::Text(s) => s.clone(),
            Cell::Secs(x) => secs(*x),
            Cell::Empty => "-".into(),
        }
    }
}

/// A duration in the largest fitting unit: "42 s", "3.5 min", "2.0 h", "1.5 d".
pub fn secs(x: f64) -> String {
    match x {
        x if x < 60.0 => format!("{x:.0} s"),
        x if x < 3_600.0 => format!("{:.1} min", x / 60.0),
        x if x < 86_400.0 => format!("{:.1} h", x / 3_600.0),
        x => format!("{:.1} d", x / 86_400.0),
    }
}

/// A header or a name: translated, or the same text in both languages (an id, "D3").
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Label {
    /// In both languages.
    Tr(Tr),
    /// Language-neutral.
    Raw(String),
}

impl Label {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> String {
        match self {
            Label::Tr(t) => t.get(lang).to_string(),
            Label::Raw(s) => s.clone(),
        }
    }
}

impl From<Tr> for Label {
    fn from(t: Tr) -> Label {
        Label::Tr(t)
    }
}

/// A further table of a section (a breakdown, a matrix).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Table {
    /// Its title.
    pub title: Tr,
    /// Column headers.
    pub columns: Vec<Label>,
    /// Rows.
    pub rows: Vec<Vec<Cell>>,
}

/// What a section's chart shows; each output draws it its own way (the PDF with plotters, the
/// dashboard in the browser).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PlotKind {
    /// Stages that narrow step by step: (name, value); the drawing adds the rates.
    Funnel {
        /// (stage, keys).
        stages: Vec<(Label, f64)>,
    },
    /// Bars, one per label, with a value label.
    Bars {
        /// (label, value, value label).
        bars: Vec<(Label, f64, Cell)>,
        /// Horizontal bars.
        horizontal: bool,
        /// The value axis.
        axis: Tr,
    },
    /// Stacked bars per x position; negative values stack below the axis.
    Stacked {
        /// x labels.
        x: Vec<String>,
        /// (series name, one value per x).
        series: Vec<(Tr, Vec<f64>)>,
        /// The value axis.
        axis: Tr,
    },
    /// A matrix of rates (0..1) coloured by value; `None` cells are not defined.
    Heatmap {
        /// Row labels.
        rows: Vec<String>,
        /// Column labels.
        columns: Vec<String>,
        /// values[row][column].
        values: Vec<Vec<Option<f64>>>,
    },
}

/// A chart of a section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plot {
    /// File stem of the drawn chart (e.g. `ordered_funnel`).
    pub name: &'static str,
    /// Its title.
    pub title: Tr,
    /// What it shows.
    pub kind: PlotKind,
}

/// A headline number: a label and its value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Headline {
    /// What the number is.
    pub label: Tr,
    /// The number.
    pub value: Cell,
}

/// What every output shows of an analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Section {
    /// The analysis's key in the JSON.
    pub key: &'static str,
    /// Its title.
    pub title: Tr,
    /// Column headers.
    pub columns: Vec<Label>,
    /// Rows of the table.
    pub rows: Vec<Vec<Cell>>,
    /// Further tables (a breakdown, a matrix).
    pub tables: Vec<Table>,
    /// Headline numbers (bullets in the PDF, lines in the LLM's fact sheet).
    pub headline: Vec<Headline>,
    /// Charts (the PDF and the dashboard draw them).
    pub plots: Vec<Plot>,
    /// A sentence of conclusion from the numbers, if the analysis writes one.
    pub conclusion: Option<(String, String)>,
    /// The definition, for the PDF's appendix.
    pub definition: Tr,
}

/// A section in one language with every value formatted (the dashboard's `/api/sections`).
#[derive(Clone, Debug, Serialize)]
pub struct ShownSection {
    /// The analysis's key in the JSON.
    pub key: &'static str,
    /// Its title.
    pub title: &'static str,
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows, formatted.
    pub rows: Vec<Vec<String>>,
    /// Further tables: (title, columns, formatted rows).
    pub tables: Vec<ShownTable>,
    /// (label, value) pairs, formatted.
    pub headline: Vec<(&'static str, String)>,
    /// Charts, in `lang`.
    pub plots: Vec<ShownPlot>,
    /// The conclusion, if any.
    pub conclusion: Option<String>,
    /// The definition.
    pub definition: &'static str,
}

/// A further table in one language: (title, columns, formatted rows).
pub type ShownTable = (&'static str, Vec<String>, Vec<Vec<String>>);

/// A chart in one language (labels resolved, values raw).
#[derive(Clone, Debug, Serialize)]
pub struct ShownPlot {
    /// File stem.
    pub name: &'static str,
    /// Title.
    pub title: &'static str,
    /// `funnel`, `bars`, `stacked`, `heatmap`, or `lines` (the built-in analyses' sheets, see
    /// [`super::sheets`]).
    pub kind: &'static str,
    /// Labels (stages, bars, x positions or rows).
    pub labels: Vec<String>,
    /// Column labels (heatmap).
    pub columns: Vec<String>,
    /// (series name, values); one unnamed series for funnel and bars.
    pub series: Vec<(String, Vec<Option<f64>>)>,
    /// Value labels (bars).
    pub notes: Vec<String>,
    /// Value axis.
    pub axis: String,
    /// Horizontal bars.
    pub horizontal: bool,
    /// Lines on a right-hand axis (`lines` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub right: Vec<(String, Vec<Option<f64>>)>,
    /// The right-hand axis.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub right_axis: String,
    /// Values are ratios 0..1, shown as percentages.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub percent: bool,
}

impl ShownPlot {
    /// An empty chart of `kind` (`funnel`, `bars`, `stacked`, `heatmap` or `lines`).
    pub fn new(name: &'static str, title: &'static str, kind: &'static str) -> ShownPlot {
        ShownPlot {
            name,
            title,
            kind,
            labels: vec![],
            columns: vec![],
            series: vec![],
            notes: vec![],
            axis: String::new(),
            horizontal: false,
            right: vec![],
            right_axis: String::new(),
            percent: false,
        }
    }
}

impl Plot {
    /// The chart in `lang`.
    pub fn shown(&self, lang: Lang) -> ShownPlot {
        let mut p = ShownPlot::new(self.name, self.title.get(lang), "");
        match &self.kind {
            PlotKind::Funnel { stages } => {
                p.kind = "funnel";
                p.labels = stages.iter().map(|s| s.0.get(lang)).collect();
                p.series = vec![(String::new(), stages.iter().map(|s| Some(s.1)).collect())];
            }
            PlotKind::Bars { bars, horizontal, axis } => {
                p.kind = "bars";
                p.labels = bars.iter().map(|b| b.0.get(lang)).collect();
                p.series = vec![(String::new(), bars.iter().map(|b| Some(b.1)).collect())];
                p.notes = bars.iter().map(|b| b.2.show()).collect();
                (p.horizontal, p.axis) = (*horizontal, axis.get(lang).to_string());
            }
            PlotKind::Stacked { x, series, axis } => {
                p.kind = "stacked";
                p.labels = x.clone();
                p.series = series.iter().map(|(n, v)| (n.get(lang).to_string(), v.iter().map(|x| Some(*x)).collect())).collect();
                p.axis = axis.get(lang).to_string();
            }
            PlotKind::Heatmap { rows, columns, values } => {
                p.kind = "heatmap";
                p.labels = rows.clone();
                p.columns = columns.clone();
                p.series = rows.iter().zip(values).map(|(r, v)| (r.clone(), v.clone())).collect();
            }
        }
        p
    }
}

impl Section {
    /// The section in `lang`, formatted.
    pub fn shown(&self, lang: Lang) -> ShownSection {
        ShownSection {
            key: self.key,
            title: self.title.get(lang),
            columns: self.columns.iter().map(|c| c.get(lang)).collect(),
            rows: shown_rows(&self.rows),
            tables: self
                .tables
                .iter()
                .map(|t| (t.title.get(lang), t.columns.iter().map(|c| c.get(lang)).collect(), shown_rows(&t.rows)))
                .collect(),
            headline: self.headline.iter().map(|h| (h.label.get(lang), h.value.show())).collect(),
            plots: self.plots.iter().map(|p| p.shown(lang)).collect(),
            conclusion: self.conclusion.as_ref().map(|(zh, en)| if lang == Lang::Zh { zh.clone() } else { en.clone() }),
            definition: self.definition.get(lang),
        }
    }
}

fn shown_rows(rows: &[Vec<Cell>]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r.iter().map(Cell::show).collect()).collect()
}

/// What an analysis of the registry computed: its JSON value and its section.
#[derive(Clone, Debug, PartialEq)]
pub struct Computed {
    /// The analysis's result as it appears in the JSON under `section.key`.
    pub json: serde_json::Value,
    /// What the outputs show.
    pub section: Section,
}

/// An analysis of the registry.
pub trait Analysis: Sync {
    /// Computes it for the context's range and filter.
    fn compute(&self, ctx: &Ctx<'_>) -> Result<Computed, MetricsError>;
}

/// The registry's results in registry order; serialized as one JSON key per analysis.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct More(pub Vec<Computed>);

impl Serialize for More {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for c in &self.0 {
            m.serialize_entry(c.section.key, &c.json)?;
        }
        m.end()
    }
}

impl More {
    /// Computes each analysis of `registry` for the context, in order.
    pub fn compute(registry: &[&dyn Analysis], ctx: &Ctx<'_>) -> Result<More, MetricsError> {
        Ok(More(registry.iter().map(|a| a.compute(ctx)).collect::<Result<_, _>>()?))
    }

    /// The sections, in registry order.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.0.iter().map(|c| &c.section)
    }
}
