//! ecomm: Taobao/Tianchi UserBehavior analytics in one binary.
//!
//! Data flows one way: files → [`ingest`] → [`store`] (DuckDB) → [`metrics`] → [`insights`] / [`report`] / [`render`] → [`cmd`].
#![warn(missing_docs)]

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
