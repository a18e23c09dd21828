//! `ecomm ingest`: files once, a watched folder (`--watch`), or rows from standard input
//! (`--stdin`).

use crate::alert::deliver::Runner;
use crate::cli::{IngestArgs, IngestFormat};
use crate::i18n::{int, prose, Lang};
use crate::ingest::stream::{self, StreamTotals};
use crate::ingest::watch::{self, Outcome, Watch};
use crate::ingest::{self, IngestConfig, IngestSummary};
use crate::render::table;
use crate::store::{self, Mode, OpenOptions};
use anyhow::Result;
use std::sync::atomic::AtomicBool;

/// Builds the config, runs the ingest and prints the summary.
pub fn run(a: IngestArgs) -> Result<()> {
    let cfg = IngestConfig {
        inputs: a.inputs.clone(),
        db: a.db.db.clone(),
        start: a.start,
        end: a.end,
        tz: a.tz,
        replace: a.replace,
        open: OpenOptions { memory_limit: a.db.memory_limit.clone(), threads: a.db.threads },
        progress: !a.quiet && super::interactive(),
        read: a.source.options(),
        always_new: false,
    };
    if let Some(dir) = &a.watch {
        return watch_folder(&cfg, dir, a.format, a.lang);
    }
    if a.stdin {
        // A window detected from the first few rows of a stream would be a guess that then
        // rejects the rest: a new DB fed from stdin is told its window.
        if !cfg.db.exists() && cfg.start.is_none() {
            anyhow::bail!(
                "{} does not exist yet: give the days the stream will bring with --start and --end (e.g. --start 2017-11-25 --end 2017-12-03), or ingest a first file / 新数据库请用 --start 与 --end 指定时间窗口",
                cfg.db.display()
            );
        }
        return from_stdin(&cfg, a.batch, a.format, a.lang);
    }
    let s = ingest::run(&cfg)?;
    match a.format {
        IngestFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&s)?),
        IngestFormat::Text => crate::outp!("{}", table::ingest(&s, a.lang)),
    }
    if !s.unchanged {
        crate::alert::deliver::once(&cfg.db, &cfg.open);
    }
    Ok(())
}

/// The rows the DB holds now (0 for a DB not made yet).
fn db_rows(cfg: &IngestConfig) -> u64 {
    match store::open(&cfg.db, Mode::ReadOnly, &cfg.open) {
        Ok(conn) => store::row_count(&conn).unwrap_or(0),
        Err(_) => 0,
    }
}

/// One line per batch or file: JSON for scripts, or a sentence.
fn line(format: IngestFormat, lang: Lang, what: &str, s: &IngestSummary) -> Result<()> {
    let rejected = s.rejected.malformed + s.rejected.bad_behavior + s.rejected.out_of_window + s.rejected.duplicate;
    match format {
        IngestFormat::Json => crate::outln!("{}", serde_json::to_string(&serde_json::json!({ "input": what, "summary": s }))?),
        IngestFormat::Text => {
            let args =
                [("what", what.to_string()), ("loaded", int(s.rows_loaded)), ("rejected", int(rejected)), ("db_rows", int(s.db_rows))];
            crate::outln!("{}", prose::fill(lang, &prose::LIVE_INGESTED, &args))
        }
    }
    Ok(())
}

/// `--watch DIR`: until the process is stopped (Ctrl-C between two files loses nothing).
fn watch_folder(cfg: &IngestConfig, dir: &std::path::Path, format: IngestFormat, lang: Lang) -> Result<()> {
    let start = [("dir", dir.display().to_string()), ("db_rows", int(db_rows(cfg)))];
    eprintln!("{}", prose::fill(lang, &prose::WATCH_START, &start));
    let stop = AtomicBool::new(false);
    let mut failed = None;
    let alerts = Runner::start(cfg.db.clone(), cfg.open.clone());
    alerts.changed();
    watch::watch(cfg, &Watch::new(dir.to_path_buf()), &stop, &mut |file, outcome| {
        let name = file.display().to_string();
        let done = match outcome {
            Outcome::Ingested(s) => {
                if !s.unchanged {
                    alerts.changed();
                }
                line(format, lang, &name, &s)
            }
            Outcome::Failed { moved_to, error } => {
                let args = [("what", name), ("to", moved_to.display().to_string()), ("error", error)];
                eprintln!("{}", prose::fill(lang, &prose::WATCH_FAILED, &args));
                Ok(())
            }
        };
        if let Err(e) = done {
            failed.get_or_insert(e);
        }
    })?;
    failed.map_or(Ok(()), Err)
}

/// `--stdin`: until the input ends.
fn from_stdin(cfg: &IngestConfig, batch: stream::Batch, format: IngestFormat, lang: Lang) -> Result<()> {
    let start = [("db_rows", int(db_rows(cfg))), ("dir", stream::batch_dir(&cfg.db).display().to_string())];
    eprintln!("{}", prose::fill(lang, &prose::STDIN_START, &start));
    let mut n = 0u64;
    let input = Box::new(std::io::BufReader::with_capacity(1 << 20, std::io::stdin()));
    let alerts = Runner::start(cfg.db.clone(), cfg.open.clone());
    let t: StreamTotals = stream::ingest_lines(cfg, batch, input, &mut |s| {
        n += 1;
        alerts.changed();
        let _ = line(format, lang, &format!("stdin #{n}"), s);
    })?;
    // The input ended: the last batch's rules are evaluated before the process goes.
    alerts.finish();
    crate::alert::deliver::once(&cfg.db, &cfg.open);
    match format {
        IngestFormat::Json => crate::outln!("{}", serde_json::to_string(&serde_json::json!({ "totals": t }))?),
        IngestFormat::Text => {
            let args =
                [("batches", int(t.batches)), ("loaded", int(t.rows_loaded)), ("rejected", int(t.rejected)), ("db_rows", int(t.db_rows))];
            crate::outln!("{}", prose::fill(lang, &prose::STDIN_DONE, &args))
        }
    }
    Ok(())
}
