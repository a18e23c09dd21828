//! ecomm: Taobao/Tianchi UserBehavior analytics in one binary.
//!
//! Data flows one way: files → [`ingest`] → [`store`] (DuckDB) → [`metrics`] → [`insights`] / [`report`] / [`render`] → [`cmd`].
#![warn(missing_docs)]

/// `println!` for a command's output: a closed pipe (`ecomm analyze | head`) ends the process
/// quietly with exit 0, as ripgrep does, and a failed write (a full disk) is a one-line error with
/// exit 1; never a panic. See [`cmd::out`].
#[macro_export]
macro_rules! outln {
    () => { $crate::cmd::out::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cmd::out::write(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` with the behaviour of [`outln!`].
#[macro_export]
macro_rules! outp {
    ($($arg:tt)*) => { $crate::cmd::out::write(format_args!($($arg)*)) };
}

pub mod accounts;
pub mod cli;
pub mod cmd;
pub mod gen;
pub mod ingest;
pub mod insights;
pub mod metrics;
pub mod mysql;
pub mod render;
pub mod report;
pub mod serve;
pub mod store;
pub mod tz;
