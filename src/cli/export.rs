//! `ecomm export`'s arguments.

use super::{DbArgs, FilterArgs, JourneyArgs, RangeArgs};
use crate::export::What;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Output format of `export`'s summary.
#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum SummaryFormat {
    /// One line.
    Text,
    /// JSON.
    Json,
}

/// `ecomm export`
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// DB options.
    #[command(flatten)]
    pub db: DbArgs,
    /// Event filters (events and users follow them, as the analyses do; rejects are all listed).
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The date range.
    #[command(flatten)]
    pub range: RangeArgs,
    /// What to write: metrics (every analysis of `analyze`: xlsx with one sheet and chart per
    /// analysis, csv of one --section, or json), events (the cleaned events, ingestible as they
    /// are), users (the buyers with their RFM and CLV columns) or rejects (every rejected row).
    #[arg(long, value_name = "WHAT", value_parser = <What as std::str::FromStr>::from_str)]
    pub what: What,
    /// File format: csv, xlsx (a list: one sheet, at most 1,048,575 rows), parquet (lists only) or
    /// json (lists: JSON lines; metrics: `analyze --format json`).
    #[arg(long, value_name = "FORMAT", default_value = "csv", value_parser = <crate::export::Format as std::str::FromStr>::from_str)]
    pub format: crate::export::Format,
    /// metrics: only this analysis (overview, funnel, hourly, daily, retention, repurchase,
    /// top_categories, rfm, or a key of `analyze --format json` such as cohorts or clv).
    #[arg(long, value_name = "KEY")]
    pub section: Option<String>,
    /// The file to write (default: results/<what>.<ext>); written under a temporary name, then renamed.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// users: only this RFM segment (champions, loyal, potential, at_risk, hibernating).
    #[arg(long, value_name = "SEGMENT")]
    pub segment: Option<String>,
    /// users: only those with at least this probability of still being a customer (0..1).
    #[arg(long, value_name = "P")]
    pub min_p_alive: Option<f64>,
    /// Summary format (`--format` is the file's): text, or json for scripts.
    #[arg(long = "summary", value_enum, default_value_t = SummaryFormat::Text)]
    pub summary: SummaryFormat,
    /// Journey options (metrics: as for `analyze`).
    #[command(flatten)]
    pub journey: JourneyArgs,
    /// Language of the text summary and of the workbook's sheets.
    #[arg(long, value_enum, env = "ECOMM_LANG", default_value_t = crate::i18n::Lang::Zh)]
    pub lang: crate::i18n::Lang,
}
