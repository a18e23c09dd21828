//! `ecomm ingest`

use crate::cli::{IngestArgs, IngestFormat};
use crate::ingest::{self, IngestConfig};
use crate::render::table;
use crate::store::OpenOptions;
use anyhow::Result;

/// Builds the config, runs the ingest and prints the summary.
pub fn run(a: IngestArgs) -> Result<()> {
    let cfg = IngestConfig {
        inputs: a.inputs,
        db: a.db.db.clone(),
        start: a.start,
        end: a.end,
        tz: a.tz,
        replace: a.replace,
        open: OpenOptions { memory_limit: a.db.memory_limit.clone(), threads: a.db.threads },
        progress: !a.quiet && super::interactive(),
        read: a.source.options(),
    };
    let s = ingest::run(&cfg)?;
    match a.format {
        IngestFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&s)?),
        IngestFormat::Text => crate::outp!("{}", table::ingest(&s, a.lang)),
    }
    Ok(())
}
