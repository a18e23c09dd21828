//! Turning metrics into what people read: terminal tables and strings in two languages.

pub mod i18n;
pub mod table;
