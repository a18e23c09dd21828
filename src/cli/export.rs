//! `ecomm export`'s arguments.

use super::{DbArgs, FilterArgs, RangeArgs};
use crate::metrics::lists::List;
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
    /// What to write: events (the cleaned events, ingestible as they are), users (the buyers with
    /// their RFM and CLV columns) or rejects (every rejected row).
    #[arg(long, value_name = "LIST", value_parser = crate::export::parse_list)]
    pub what: List,
    /// File format: csv, xlsx (one sheet, at most 1,048,575 rows), parquet or json (JSON lines).
    #[arg(long, value_name = "FORMAT", default_value = "csv", value_parser = <crate::export::Format as std::str::FromStr>::from_str)]
    pub format: crate::export::Format,
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
    /// Language of the text summary.
    #[arg(long, value_enum, env = "ECOMM_LANG", default_value_t = crate::i18n::Lang::Zh)]
    pub lang: crate::i18n::Lang,
}
