//! Turning metrics into what people read: terminal tables, charts, PDF pages and strings in two
//! languages.

pub mod chart;
pub mod fonts;
pub mod i18n;
pub mod num;
pub mod pdf;
pub mod table;
