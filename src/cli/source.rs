//! `ecomm ingest`'s arguments, and its source options: the format, the delimiter, the sheet and
//! the mapping; each value is parsed by its own `FromStr` in `ingest::sources` and `domain::mapping`.

use super::{parse_zone, DbArgs, IngestFormat};
use crate::domain::parse_date;
use crate::i18n::Lang;
use chrono::NaiveDate;
use clap::Args;
use std::str::FromStr;

/// `ecomm ingest`
#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Files, folders or glob patterns (quote them): CSV/TSV (and .gz), Parquet, Excel/ODS,
    /// JSON lines or arrays (mongoexport), BSON (mongodump).
    #[arg(required_unless_present_any = ["watch", "stdin"], conflicts_with_all = ["watch", "stdin"])]
    pub inputs: Vec<String>,
    /// Keep running and ingest every new file that appears in DIR once it is complete (size and
    /// time unchanged for 2 s; publishing a file by renaming it into DIR is safest); a file that
    /// fails goes to DIR/failed/ with NAME.error.txt.
    #[arg(long, value_name = "DIR", conflicts_with = "stdin")]
    pub watch: Option<std::path::PathBuf>,
    /// Read rows from standard input and commit them in micro-batches (see --batch), e.g.
    /// `tail -F events.csv | ecomm ingest --stdin --db shop.duckdb`.
    #[arg(long)]
    pub stdin: bool,
    /// --stdin: commit a batch this long after its first row (500ms, 5s, 1m) or at this many rows (50000).
    #[arg(long, value_name = "EVERY", default_value = "5s", value_parser = <crate::ingest::stream::Batch as FromStr>::from_str)]
    pub batch: crate::ingest::stream::Batch,
    /// DB options.
    #[command(flatten)]
    pub db: DbArgs,
    /// First local date of the window (default: detected from the data).
    #[arg(long, value_parser = parse_date)]
    pub start: Option<NaiveDate>,
    /// Last local date of the window, inclusive.
    #[arg(long, value_parser = parse_date)]
    pub end: Option<NaiveDate>,
    /// Analysis time zone: IANA name or fixed offset like +08:00 (default Asia/Shanghai).
    #[arg(long, value_parser = parse_zone)]
    pub tz: Option<crate::domain::tz::Zone>,
    /// Rebuild the DB from these files only.
    #[arg(long, conflicts_with_all = ["watch", "stdin"])]
    pub replace: bool,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = IngestFormat::Text)]
    pub format: IngestFormat,
    /// Language of the summary.
    #[arg(long, value_enum, env = "ECOMM_LANG", default_value_t = Lang::Zh)]
    pub lang: Lang,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Source options: format, delimiter, sheet and the column mapping.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// How `ecomm ingest` reads its inputs (see README "Sources").
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Sources")]
pub struct SourceArgs {
    /// Read every input as this format instead of going by its extension:
    /// csv, tsv, parquet, xlsx/xls/ods, json/jsonl (MongoDB Extended JSON too) or bson (mongodump).
    #[arg(long, value_name = "FORMAT", value_parser = crate::ingest::sources::SourceFormat::from_str)]
    pub source_format: Option<crate::ingest::sources::SourceFormat>,
    /// Field delimiter of delimited text: one character, or `tab` (default `,`, tab for .tsv).
    #[arg(long, value_name = "CHAR", value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// The sheet of a workbook to read (default: the first).
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// Where the fields are: field=column pairs, by header name or 1-based position; fields left
    /// out keep their own name (or position). Example: user_id=uid,item_id=sku,category_id=cat,behavior_type=action,timestamp=ts
    #[arg(long, value_name = "MAP", value_parser = crate::domain::mapping::ColumnMap::from_str)]
    pub columns: Option<crate::domain::mapping::ColumnMap>,
    /// Behaviour codes of the source. Example (Tianchi mobile-recommendation data): 1=pv,2=fav,3=cart,4=buy
    #[arg(long, value_name = "MAP", value_parser = crate::domain::mapping::BehaviorMap::from_str)]
    pub behavior_map: Option<crate::domain::mapping::BehaviorMap>,
    /// strftime format of text times, read in --tz. Example: "%Y-%m-%d %H" (minutes and seconds default to 0)
    #[arg(long, value_name = "FORMAT", value_parser = crate::domain::mapping::TimeFormat::from_str)]
    pub time_format: Option<crate::domain::mapping::TimeFormat>,
    /// What integer timestamps count: s (Unix seconds) or ms (milliseconds).
    #[arg(long, value_name = "UNIT", default_value = "s", value_parser = crate::domain::mapping::TimeUnit::from_str)]
    pub time_unit: crate::domain::mapping::TimeUnit,
}

impl SourceArgs {
    /// The validated read options.
    pub fn options(&self) -> crate::ingest::sources::ReadOptions {
        crate::ingest::sources::ReadOptions {
            format: self.source_format,
            delimiter: self.delimiter,
            sheet: self.sheet.clone(),
            mapping: crate::domain::Mapping {
                columns: self.columns.clone().unwrap_or_default(),
                behaviors: self.behavior_map.clone(),
                time_format: self.time_format.clone(),
                unit: self.time_unit,
            },
        }
    }
}

/// Parses `--delimiter`: one ASCII character, or `tab` / `\t`.
fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() && s != "\"" && s != "\n" => Ok(s.as_bytes()[0]),
        _ => Err(format!("'{s}' is not one ASCII character; use e.g. , ; | or tab / 分隔符应为单个字符")),
    }
}
