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
}

impl Cell {
    /// How the value reads in tables and prose.
    pub fn show(&self) -> String {
        match self {
            Cell::Int(n) => int(*n),
            Cell::Rate(r) => pct(*r),
            Cell::Num(x) => format!("{x:.1}"),
            Cell::Text(s) => s.clone(),
        }
    }
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
    pub columns: Vec<Tr>,
    /// Rows of the table.
    pub rows: Vec<Vec<Cell>>,
    /// Headline numbers (bullets in the PDF, lines in the LLM's fact sheet).
    pub headline: Vec<Headline>,
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
    pub columns: Vec<&'static str>,
    /// Rows, formatted.
    pub rows: Vec<Vec<String>>,
    /// (label, value) pairs, formatted.
    pub headline: Vec<(&'static str, String)>,
    /// The definition.
    pub definition: &'static str,
}

impl Section {
    /// The section in `lang`, formatted.
    pub fn shown(&self, lang: Lang) -> ShownSection {
        ShownSection {
            key: self.key,
            title: self.title.get(lang),
            columns: self.columns.iter().map(|c| c.get(lang)).collect(),
            rows: self.rows.iter().map(|r| r.iter().map(Cell::show).collect()).collect(),
            headline: self.headline.iter().map(|h| (h.label.get(lang), h.value.show())).collect(),
            definition: self.definition.get(lang),
        }
    }
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
