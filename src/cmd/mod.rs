//! One module per subcommand; [`run`] parses arguments and maps errors to exit codes.

pub mod alert;
pub mod analyze;
pub mod bench;
pub mod demo;
pub mod export;
pub mod gen;
pub mod ingest;
pub mod insights;
pub mod out;
pub mod report;
pub mod serve;
pub mod sync_mysql;
pub mod user;

use crate::cli::{Cli, Command};
use clap::Parser;

/// Exit code for runtime errors (bad input, DB problems).
pub const EXIT_ERROR: i32 = 1;
/// Exit code for usage errors (clap's own).
pub const EXIT_USAGE: i32 = 2;

/// Parses the command line, runs the subcommand and returns the process exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Gen(a) => gen::run(a),
        Command::Ingest(a) => ingest::run(a),
        Command::Analyze(a) => analyze::run(a),
        Command::Insights(a) => insights::run(a),
        Command::Serve(a) => serve::run(a),
        Command::User(a) => user::run(a),
        Command::Alert(a) => alert::run(a),
        Command::Report(a) => report::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Export(a) => export::run(a),
        Command::Bench(a) => bench::run(a),
        Command::SyncMysql(a) => sync_mysql::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", phrase(&e));
            EXIT_ERROR
        }
    }
}

/// Whether stderr is a terminal (progress bars only then).
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// An error as the CLI says it: errors that name an input say which flag to change (the domain's
/// own messages name no flag, see [`crate::domain::RangeError`]).
fn phrase(e: &anyhow::Error) -> String {
    use crate::domain::RangeError;
    use crate::metrics::MetricsError;
    let reversed = match e.downcast_ref::<MetricsError>() {
        Some(MetricsError::Range(RangeError::Reversed(f, t))) => Some((*f, *t)),
        _ => match e.downcast_ref::<crate::report::build::ReportError>() {
            Some(crate::report::build::ReportError::Metrics(MetricsError::Range(RangeError::Reversed(f, t)))) => Some((*f, *t)),
            _ => None,
        },
    };
    match reversed {
        Some((f, t)) => format!("--from {f} is after --to {t}; swap them / 开始日期晚于结束日期"),
        None => format!("{e:#}"),
    }
}
