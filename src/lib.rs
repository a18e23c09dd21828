//! ecomm: Taobao/Tianchi UserBehavior analytics in one binary.
//!
//! Data flows one way: files → [`ingest`] → [`store`] (DuckDB) → [`metrics`] → [`insights`] / [`report`] / [`render`] → [`serve`] / [`cmd`].
//! Every layer imports only the layers below it; [`domain`] (types, no I/O) is at the bottom. The map
//! is `docs/architecture.md`.
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

pub mod alert;
pub mod appdb;
pub mod cli;
pub mod cmd;
pub mod domain;
pub mod export;
pub mod gen;
pub mod i18n;
pub mod ingest;
pub mod insights;
pub mod metrics;
pub mod mysql;
pub mod render;
pub mod report;
pub mod serve;
pub mod store;
