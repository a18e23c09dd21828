//! `ecomm sync-mysql`

use crate::cli::SyncArgs;
use crate::mysql::{self, url, SyncConfig, Table};
use anyhow::Result;

/// Resolves the URL, runs the sync and prints the result.
pub fn run(a: SyncArgs) -> Result<()> {
    let (u, source) = url::resolve(a.mysql).map_err(anyhow::Error::msg)?;
    let tables = a
        .tables
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Table::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    if tables.is_empty() {
        anyhow::bail!("--tables is empty: use user_behavior,user_summary");
    }
    eprintln!("sync-mysql: {} -> {} (URL from {source})", a.db.display(), url::redact(&u));
    let s = mysql::run(&SyncConfig {
        db: a.db,
        url: u.clone(),
        tables,
        full: a.full,
        no_local_infile: a.no_local_infile,
        streams: a.streams as usize,
        progress: !a.quiet && super::interactive(),
        timeout: std::time::Duration::from_secs(a.timeout),
    })?;
    if a.json {
        crate::outln!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    let why = if s.reason.is_empty() { String::new() } else { format!(" ({})", s.reason) };
    let default = if s.database == mysql::DEFAULT_DATABASE && !u.contains(&format!("/{}", mysql::DEFAULT_DATABASE)) {
        " (the default: the URL names no database)"
    } else {
        ""
    };
    crate::outln!("database: {}{default}", s.database);
    crate::outln!("mode: {}{why}, method: {}, batches: {:?}, verified: {}", s.mode, s.method, s.batches, s.verified);
    for t in &s.tables {
        crate::outln!(
            "{}: {} rows sent in {:.2} s ({:.0} rows/s); {} rows in the mirror",
            t.table,
            t.rows,
            t.seconds,
            t.rows_per_sec,
            t.mirror_rows
        );
    }
    Ok(())
}
