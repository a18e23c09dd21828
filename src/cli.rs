//! Command-line arguments (clap derive only; `cmd/` validates them into config structs).

mod alert;
mod export;
mod journey;
mod source;
mod user;

pub use alert::{AlertAction, AlertArgs, AlertFormat};
pub use export::{ExportArgs, SummaryFormat};
pub use journey::JourneyArgs;
pub use source::{IngestArgs, SourceArgs};
pub use user::{UserAction, UserArgs};

use crate::domain::{parse_date, DateRange, Filter, FilterError};
use crate::i18n::Lang;
use crate::metrics::{MetricsError, Query};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// ecomm: Taobao/Tianchi UserBehavior analytics in one binary.
///
/// Typical session:
///   ecomm gen --rows 1000000 --out data/sample.csv
///   ecomm ingest data/sample.csv --db local.duckdb
///   ecomm analyze --db local.duckdb --lang en
///
/// Or just `ecomm demo`, which does all three on generated data.
#[derive(Parser, Debug)]
#[command(name = "ecomm", version, about, long_about, propagate_version = true, verbatim_doc_comment)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write synthetic UserBehavior data that looks like the real dataset.
    ///
    /// Example: ecomm gen --rows 10000000 --seed 7 --dirty 0.001 --out data/10m.csv.gz
    #[command(verbatim_doc_comment)]
    Gen(GenArgs),
    /// Clean CSV, Parquet, Excel, JSON or BSON files, or MySQL/PostgreSQL tables, into a DuckDB file.
    ///
    /// Rejected rows are counted by reason and kept in <db-name>.rejects.csv; re-ingesting changes nothing.
    ///
    /// Example: ecomm ingest UserBehavior.csv --db local.duckdb
    ///          ecomm ingest 'logs/*.csv.gz' --db local.duckdb --start 2017-11-25 --end 2017-12-03
    ///          ecomm ingest events.xlsx --sheet 2017 --columns user_id=用户ID,timestamp=时间 --time-format "%Y-%m-%d %H:%M:%S"
    ///          ecomm ingest tianchi_mobile.csv --columns category_id=item_category,timestamp=time --behavior-map 1=pv,2=fav,3=cart,4=buy --time-format "%Y-%m-%d %H"
    ///          ecomm ingest 'mysql://analyst:pw@127.0.0.1:3306/shop?table=events' --columns user_id=uid,timestamp=created_at
    ///          ecomm ingest --watch incoming/ --db local.duckdb
    ///          tail -F events.csv | ecomm ingest --stdin --batch 5s --db local.duckdb
    #[command(verbatim_doc_comment)]
    Ingest(IngestArgs),
    /// Print every metric: totals, funnel, hourly, daily, retention, repurchase, top categories, RFM,
    /// and the journeys: ordered funnel, cohorts, lifecycle, sessions and paths.
    ///
    /// Example: ecomm analyze --db local.duckdb --from 2017-12-01 --format json
    ///          ecomm analyze --db local.duckdb --funnel-by item --funnel-window 2h --funnel-breakdown category
    ///          ecomm analyze --db local.duckdb --funnel-steps pv,cart,buy --retention-start buy --lang en
    #[command(verbatim_doc_comment)]
    Analyze(AnalyzeArgs),
    /// Structured operating advice from a local LLM (llama.cpp, GGUF), grounded in the metrics.
    ///
    /// Model: --model, then $ECOMM_MODEL, then the first *.gguf in models/. Without a model (or
    /// when it fails to load) the same JSON shape comes from deterministic rules ("source":"rules").
    /// Results are cached in <db-name>.app.sqlite beside the DB: a repeat run is instant.
    ///
    /// Example: ecomm insights --db local.duckdb --model models/qwen2.5-1.5b-instruct-q4_k_m.gguf --threads 2
    ///          (--threads sets DuckDB's and llama.cpp's CPU threads; 0 = all cores)
    ///          ecomm insights --db local.duckdb --lang en --format json
    #[command(verbatim_doc_comment)]
    Insights(InsightsArgs),
    /// The live dashboard in your browser: KPIs, charts, RFM, insights, PDF export; works offline.
    ///
    /// Example: ecomm serve --db local.duckdb --open
    ///          ecomm serve --db data/demo.duckdb --port 8502
    #[command(verbatim_doc_comment)]
    Serve(ServeArgs),
    /// Dashboard accounts (needed to serve on any address other than 127.0.0.1).
    ///
    /// Example: ecomm user add alice --role admin --db local.duckdb
    ///          echo 'a long password' | ecomm user add bob --role viewer --password-stdin
    #[command(verbatim_doc_comment)]
    User(UserArgs),
    /// Alert rules: a number of the analysis crossing a line, or a new anomaly, after an ingest,
    /// sent to a webhook, a file or the dashboard's list.
    ///
    /// Rules are evaluated after every ingest (ecomm ingest, --watch, --stdin, and while
    /// ecomm serve runs); a rule fires when its condition starts to hold, not again while it
    /// keeps holding. Failed sends are retried with back-off (1 s, 2 s, 4 s …, 8 attempts).
    ///
    /// Example: ecomm alert add low-conversion --metric kpis.pv_to_buy_conversion --when "below 0.01" --to http://127.0.0.1:9000/hook
    ///          ecomm alert list --db local.duckdb
    ///          ecomm alert remove low-conversion --db local.duckdb
    #[command(verbatim_doc_comment)]
    Alert(AlertArgs),
    /// Write the PDF report (Chinese or English) and every chart as PNG and SVG.
    ///
    /// Fonts: --font, then $ECOMM_FONT, then fonts/, then the system's CJK fonts
    /// (Noto Sans CJK, Source Han, WenQuanYi, PingFang, Microsoft YaHei, SimSun).
    ///
    /// Example: ecomm report --db local.duckdb --out results/report.pdf --lang zh
    ///          ecomm report --db local.duckdb --from 2017-12-01 --to 2017-12-03 --lang en --out results/dec.pdf
    #[command(verbatim_doc_comment)]
    Report(ReportArgs),
    /// Generate ~1M rows into data/, ingest them into data/demo.duckdb, print the analysis and
    /// write the PDF report into results/.
    #[command(verbatim_doc_comment)]
    Demo(DemoArgs),
    /// Benchmark gen, ingest and analyze against DuckDB's bare CSV scan; prints ratios.
    #[command(verbatim_doc_comment)]
    Bench(BenchArgs),
    /// Mirror user_behavior and user_summary into MySQL 8.0 (or MariaDB): fast, atomic, verified.
    ///
    /// The URL comes from --mysql, then ECOMM_MYSQL_URL, then mysql_url = "..." in ./ecomm.toml.
    /// Incremental by default: only ingest batches not yet mirrored are sent.
    ///
    /// Example: docker compose up -d
    ///          ecomm sync-mysql --db local.duckdb --mysql mysql://root:ecomm@127.0.0.1:3306/ecommerce_analysis
    #[command(name = "sync-mysql", verbatim_doc_comment)]
    SyncMysql(SyncArgs),
    /// Write the analyses as an Excel workbook with charts, or the rows behind the numbers: the events, a segment's users, the rejects.
    ///
    /// Example: ecomm export --db local.duckdb --what metrics --format xlsx --lang en --out results/analysis.xlsx
    ///          ecomm export --db local.duckdb --what metrics --section funnel --format csv
    ///          ecomm export --db local.duckdb --what events --format parquet --out results/events.parquet
    ///          ecomm export --db local.duckdb --what users --segment at_risk --min-p-alive 0.5 --format csv
    #[command(verbatim_doc_comment)]
    Export(ExportArgs),
}

/// Parses a time zone.
pub fn parse_zone(s: &str) -> Result<crate::domain::tz::Zone, String> {
    crate::domain::tz::Zone::parse(s)
}

/// `ecomm gen`
#[derive(Args, Debug)]
pub struct GenArgs {
    /// Number of rows to write (exact).
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Number of users (default: rows / 101, as in the real data).
    #[arg(long)]
    pub users: Option<u64>,
    /// Random seed: the same seed gives the same file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Fraction of dirty rows (malformed, unknown behaviour, out of window, duplicates), 0..1.
    #[arg(long, default_value_t = 0.0)]
    pub dirty: f64,
    /// First date of the window (Beijing time).
    #[arg(long, value_parser = parse_date, default_value = "2017-11-25")]
    pub start: NaiveDate,
    /// Number of days in the window.
    #[arg(long, default_value_t = 9)]
    pub days: u32,
    /// Output file: .csv or .csv.gz.
    #[arg(long)]
    pub out: PathBuf,
}

/// Output format of `ingest`.
#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum IngestFormat {
    /// Human-readable summary.
    Text,
    /// The JSON contract.
    Json,
}

/// Output format of `analyze`.
#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum AnalyzeFormat {
    /// Aligned terminal tables.
    Table,
    /// The JSON contract.
    Json,
}

/// DuckDB settings shared by commands.
#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// The DuckDB file.
    #[arg(long, default_value = "local.duckdb")]
    pub db: PathBuf,
    /// DuckDB memory limit; it spills to disk beyond it.
    #[arg(long, default_value = "2GB")]
    pub memory_limit: String,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// The date range shared by analyze, report and insights.
#[derive(Args, Debug, Clone, Default)]
pub struct RangeArgs {
    /// First date of the range (default: the window's first).
    #[arg(long, value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    /// Last date of the range, inclusive (default: the window's last).
    #[arg(long, value_parser = parse_date)]
    pub to: Option<NaiveDate>,
}

impl RangeArgs {
    /// The requested range (checked against the DB's window when the metrics are computed).
    pub fn range(&self) -> DateRange {
        DateRange::new(self.from, self.to)
    }
}

/// Event filters shared by analyze, report and insights.
#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Keep only these behaviours (comma-separated, e.g. pv,buy); every metric is then computed
    /// over the kept events only, as if the DB held nothing else.
    #[arg(long = "behavior", value_name = "BEHAVIOURS", value_delimiter = ',', value_parser = ["pv", "fav", "cart", "buy"])]
    pub behaviors: Vec<String>,
    /// Keep only these categories (comma-separated ids, at most 50); metrics cover their events only.
    #[arg(long = "category", value_name = "IDS", value_delimiter = ',')]
    pub categories: Vec<i64>,
}

impl FilterArgs {
    /// The validated filter.
    pub fn filter(&self) -> Result<Filter, FilterError> {
        Filter::new(&self.behaviors, &self.categories)
    }
}

/// `ecomm analyze`
#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// DB options.
    #[command(flatten)]
    pub db: DbArgs,
    /// Event filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The date range.
    #[command(flatten)]
    pub range: RangeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AnalyzeFormat::Table)]
    pub format: AnalyzeFormat,
    /// Language of the tables.
    #[arg(long, value_enum, env = "ECOMM_LANG", default_value_t = Lang::Zh)]
    pub lang: Lang,
    /// Journey options (last: their help heading covers what follows).
    #[command(flatten)]
    pub journey: JourneyArgs,
}

impl AnalyzeArgs {
    /// The validated range, filter and journey options.
    pub fn query(&self) -> Result<Query, MetricsError> {
        Ok(Query { range: self.range.range(), filter: self.filter.filter()?, journey: self.journey.journey()? })
    }
}

/// `ecomm serve`
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// DB options.
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on; anything but loopback requires accounts (`ecomm user add`).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 = any free port).
    #[arg(long, default_value_t = 8501)]
    pub port: u16,
    /// Open the dashboard in the default browser.
    #[arg(long)]
    pub open: bool,
    /// Also ingest every new file that appears in DIR (as `ecomm ingest --watch DIR`); open pages
    /// update themselves after each one.
    #[arg(long, value_name = "DIR")]
    pub watch: Option<PathBuf>,
    /// Write the PDF report and the analyses' workbook on a schedule, in the DB's time zone:
    /// hourly (the day so far), "daily 08:00" (the previous day) or "weekly mon 09:00" (the
    /// previous 7 days); a run missed while the server was down is made at start-up.
    #[arg(long, value_name = "WHEN", value_parser = <crate::domain::schedule::Schedule as std::str::FromStr>::from_str)]
    pub schedule: Option<crate::domain::schedule::Schedule>,
    /// Where scheduled reports go: DIR/<last day>/report.pdf and analysis.xlsx.
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub results: PathBuf,
    /// Language of scheduled reports.
    #[arg(long, value_enum, env = "ECOMM_LANG", default_value_t = crate::i18n::Lang::Zh)]
    pub lang: crate::i18n::Lang,
}

/// `ecomm insights --format`
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InsightsFormat {
    /// Readable text.
    Text,
    /// JSON.
    Json,
}

/// `ecomm insights`
#[derive(Args, Debug)]
pub struct InsightsArgs {
    /// DB options.
    #[command(flatten)]
    pub db: DbArgs,
    /// Event filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// GGUF model file (else $ECOMM_MODEL, else the first models/*.gguf).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Output language.
    #[arg(long, value_enum, env = "ECOMM_LANG", default_value_t = Lang::Zh)]
    pub lang: Lang,
    /// Output format (json includes the fact sheet, timings and each raw generation).
    #[arg(long, value_enum, default_value_t = InsightsFormat::Text)]
    pub format: InsightsFormat,
    /// The date range.
    #[command(flatten)]
    pub range: RangeArgs,
    /// Sampling seed (same seed, model and data: same answer).
    #[arg(long, default_value_t = 42)]
    pub seed: u32,
    /// Ignore the cache (still updates it).
    #[arg(long)]
    pub no_cache: bool,
    /// Journey options (last: their help heading covers what follows).
    #[command(flatten)]
    pub journey: JourneyArgs,
}

impl InsightsArgs {
    /// The validated range, filter and journey options.
    pub fn query(&self) -> Result<Query, MetricsError> {
        Ok(Query { range: self.range.range(), filter: self.filter.filter()?, journey: self.journey.journey()? })
    }
}

/// `ecomm report`
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// DB options.
    #[command(flatten)]
    pub db: DbArgs,
    /// Event filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The PDF to write; the charts go beside it.
    #[arg(long, default_value = "results/report.pdf")]
    pub out: PathBuf,
    /// Report language.
    #[arg(long, value_enum, env = "ECOMM_LANG", default_value_t = Lang::Zh)]
    pub lang: Lang,
    /// The date range.
    #[command(flatten)]
    pub range: RangeArgs,
    /// Font file (.ttf/.otf/.ttc) with Chinese glyphs; overrides $ECOMM_FONT and the lookup.
    #[arg(long)]
    pub font: Option<PathBuf>,
    /// GGUF model for the insights section (else $ECOMM_MODEL, else models/*.gguf; none: rules).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Rule-based insights only, even when a model is configured.
    #[arg(long)]
    pub no_llm: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Journey options (last: their help heading covers what follows).
    #[command(flatten)]
    pub journey: JourneyArgs,
}

impl ReportArgs {
    /// The validated range, filter and journey options.
    pub fn query(&self) -> Result<Query, MetricsError> {
        Ok(Query { range: self.range.range(), filter: self.filter.filter()?, journey: self.journey.journey()? })
    }
}

/// `ecomm demo`
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Rows to generate.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Folder for the CSV, the DB and the rejects file.
    #[arg(long, default_value = "data")]
    pub dir: PathBuf,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Language.
    #[arg(long, value_enum, env = "ECOMM_LANG", default_value_t = Lang::Zh)]
    pub lang: Lang,
    /// Folder for the PDF report and its charts.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Font for the report (see `ecomm report --help`).
    #[arg(long)]
    pub font: Option<PathBuf>,
    /// Stop after the report instead of starting the dashboard.
    #[arg(long)]
    pub no_serve: bool,
    /// Dashboard port (a free one is used if it is taken; 0 = any).
    #[arg(long, default_value_t = 8501)]
    pub port: u16,
    /// Open the dashboard in the default browser.
    #[arg(long)]
    pub open: bool,
}

/// `ecomm bench`
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Rows to generate and ingest.
    #[arg(long, default_value_t = 10_000_000)]
    pub rows: u64,
    /// Work folder (the CSV and DB go here).
    #[arg(long, default_value = "data/bench")]
    pub dir: PathBuf,
    /// Keep the generated files.
    #[arg(long)]
    pub keep: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also time sync-mysql into this server (a database `ecomm_bench` is created there and dropped),
    /// against 10,000-row INSERT batches as pandas to_sql(chunksize=10000) sends them.
    #[arg(long)]
    pub mysql: Option<String>,
    /// Also time `ecomm insights` with this GGUF model on the bench DB (repeatable): load, prompt,
    /// generation (tokens/s), grounding, the quality checks, and the answer from the cache.
    #[arg(long = "model", value_name = "GGUF")]
    pub models: Vec<PathBuf>,
    /// The language of the timed insights.
    #[arg(long, value_enum, default_value_t = Lang::Zh)]
    pub insights_lang: Lang,
}

/// `ecomm sync-mysql`
#[derive(Args, Debug)]
pub struct SyncArgs {
    /// The DuckDB file (the source of truth).
    #[arg(long, default_value = "local.duckdb")]
    pub db: PathBuf,
    /// mysql://user:pass@host:3306/ecommerce_analysis (else $ECOMM_MYSQL_URL, else ./ecomm.toml).
    #[arg(long)]
    pub mysql: Option<String>,
    /// Tables to mirror, comma-separated.
    #[arg(long, default_value = "user_behavior,user_summary")]
    pub tables: String,
    /// Rebuild the whole mirror instead of sending only new ingest batches.
    #[arg(long)]
    pub full: bool,
    /// Use multi-row INSERTs even if the server allows LOAD DATA LOCAL INFILE.
    #[arg(long)]
    pub no_local_infile: bool,
    /// Parallel LOAD DATA streams for user_behavior, one connection each; the mirror's
    /// user_behavior is partitioned by user_id into as many parts (PARTITION BY HASH). With 8, 10 M rows
    /// loaded at ~340k rows/s on a 2-core machine, against ~235k with 1 (README).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub streams: u16,
    /// Seconds to wait for the server to accept the connection and greet (a port where something
    /// other than MySQL listens fails after this long, naming host and port).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}
