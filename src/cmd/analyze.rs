//! `ecomm analyze`

use crate::cli::{AnalyzeArgs, AnalyzeFormat};
use crate::metrics::Metrics;
use crate::render::table;
use crate::store::{self, Mode, OpenOptions};
use anyhow::Result;

/// Opens the DB read-only, computes the metrics and prints them.
pub fn run(a: AnalyzeArgs) -> Result<()> {
    let conn = store::open(&a.db.db, Mode::ReadOnly, &OpenOptions { memory_limit: a.db.memory_limit.clone(), threads: a.db.threads })?;
    let m = Metrics::for_db(&conn, &a.db.db, &a.query()?)?;
    match a.format {
        AnalyzeFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&m)?),
        AnalyzeFormat::Table => crate::outp!("{}", table::analysis(&m, a.lang)),
    }
    Ok(())
}
