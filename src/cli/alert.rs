//! `ecomm alert`'s arguments.

use super::DbArgs;
use crate::domain::alert::{Condition, Destination, MetricPath, Over};
use crate::i18n::Lang;
use clap::{Args, Subcommand, ValueEnum};

/// Output format of `alert list` and `alert add`.
#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum AlertFormat {
    /// Lines to read.
    Text,
    /// JSON for scripts.
    Json,
}

/// `ecomm alert`
#[derive(Args, Debug)]
pub struct AlertArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AlertAction,
}

/// `ecomm alert` actions.
#[derive(Subcommand, Debug)]
pub enum AlertAction {
    /// Add a rule: it is evaluated after every ingest from now on.
    ///
    /// Example: ecomm alert add low-conversion --metric kpis.pv_to_buy_conversion --when "below 0.01" --to https://hooks.example.com/ecomm
    ///          ecomm alert add uv-drop --metric daily.users --when "drop 20%" --to file:alerts.jsonl
    ///          ecomm alert add spikes --metric anomalies.top --when new --over all --to dashboard
    #[command(verbatim_doc_comment)]
    Add {
        /// A unique name for the rule.
        name: String,
        /// A number (or, for `new`, a list) in `ecomm analyze --format json`: keys joined by dots,
        /// e.g. kpis.pv_to_buy_conversion, totals.users, daily.buy (a list gives its last
        /// element: the latest day), daily[-2].buy, funnel[stage=cart].users, anomalies.top.
        #[arg(long)]
        metric: MetricPath,
        /// "below X", "above X", "drop P%", "rise P%", "change P%" (against the previous day)
        /// or new (a list element not seen before).
        #[arg(long = "when")]
        condition: Condition,
        /// day: the latest day with data alone; all: every day up to it (needed for new).
        #[arg(long, default_value = "day")]
        over: Over,
        /// Where a firing goes: a webhook URL (http:// or https://, gets a JSON POST),
        /// file:PATH (one JSON line appended) or dashboard (the dashboard's alert list only).
        #[arg(long = "to")]
        destination: Destination,
        /// DB options.
        #[command(flatten)]
        db: DbArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: AlertFormat,
        /// Language of the output.
        #[arg(long, value_enum, default_value = "zh", env = "ECOMM_LANG")]
        lang: Lang,
    },
    /// The rules, and the latest firings with their delivery.
    List {
        /// DB options.
        #[command(flatten)]
        db: DbArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: AlertFormat,
        /// Firings shown (newest first).
        #[arg(long, default_value_t = 20)]
        firings: u32,
    },
    /// Remove a rule (its firings stay listed).
    Remove {
        /// The rule's name.
        name: String,
        /// DB options.
        #[command(flatten)]
        db: DbArgs,
        /// Language of the output.
        #[arg(long, value_enum, default_value = "zh", env = "ECOMM_LANG")]
        lang: Lang,
    },
}
