//! Turning metrics into what people read: terminal tables, charts, PDF pages and strings in two
//! languages (the strings themselves are in [`crate::i18n`]).

pub mod chart;
pub mod fonts;
pub mod grid;
pub mod num;
pub mod pdf;
pub mod table;
