//! Staging one file: cutting it into blocks of whole lines and parsing them on every core into
//! [`Parsed`] batches for the store's appenders.

use super::files::*;
use super::parse::{self, Block};
use super::sources::{self, Input, ReadOptions, Records, SourceFormat};
use super::IngestError;
use crate::domain::rows::Parsed;
use crate::domain::rows::Reason;
use crate::domain::tz::OffsetCache;
use crate::domain::tz::Zone;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{mpsc, Arc, Mutex};

pub(crate) const BLOCK_BYTES: usize = 8 << 20;

/// Counts after staging one file.
pub(crate) struct Staged {
    pub(crate) rows_read: u64,
    pub(crate) valid: u64,
    pub(crate) malformed: u64,
    pub(crate) bad_behavior: u64,
    pub(crate) hash: String,
    pub(crate) days: HashMap<i64, u64>,
}

/// Length: the reader thread, the parser threads and the appender loop share one thread scope and its channels.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stage_file(
    apps: &mut crate::store::append::Appenders<'_>,
    cleaning: &parse::Cleaning<'_>,
    file_id: i32,
    path: &Path,
    gz: bool,
    zone: &Zone,
    bytes_done: &Arc<AtomicU64>,
    on_progress: &dyn Fn(u64),
) -> Result<Staged, IngestError> {
    let (mut r, hasher) = open_text(path, gz, bytes_done)?;
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 8);
    let (btx, brx) = mpsc::sync_channel::<Block>(workers + 1);
    let brx = Arc::new(Mutex::new(brx));
    let (ptx, prx) = mpsc::sync_channel::<Parsed>(workers + 1);
    let mut st = Staged { rows_read: 0, valid: 0, malformed: 0, bad_behavior: 0, hash: String::new(), days: HashMap::new() };
    std::thread::scope(|s| -> Result<(), IngestError> {
        // The content hash covers the file's bytes as stored (compressed for .gz).
        let reader = s.spawn(move || -> Result<String, std::io::Error> {
            cut_blocks(&mut r, file_id, &btx)?;
            drop(btx);
            Ok(digest(&hasher))
        });
        for _ in 0..workers {
            let brx = brx.clone();
            let ptx = ptx.clone();
            let zone = zone.clone();
            s.spawn(move || {
                let mut cache = OffsetCache::new(&zone);
                loop {
                    let blk = match brx.lock().expect("block queue").recv() {
                        Ok(b) => b,
                        Err(_) => break,
                    };
                    if ptx.send(parse::parse_block(&blk, &mut cache, cleaning)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(ptx);
        let failure = consume(prx, apps, &mut st, on_progress);
        match reader.join().expect("reader thread") {
            Ok(h) => st.hash = h,
            Err(e) => {
                return Err(IngestError::Input(format!(
                    "cannot read {}: {e}; if it is a .gz file it may be truncated or corrupt / 文件读取失败",
                    path.display()
                )))
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(())
    })?;
    Ok(st)
}

/// Stages one input with the reader its format needs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stage_input<'a>(
    apps: &mut crate::store::append::Appenders<'_>,
    cleaning: &'a parse::Cleaning<'a>,
    opts: &'a ReadOptions,
    input: &'a Input,
    file_id: i32,
    zone: &'a Zone,
    since: Option<&'a sources::table::State>,
    bytes_done: &Arc<AtomicU64>,
    on_progress: &dyn Fn(u64),
) -> Result<Staged, IngestError> {
    if input.fast {
        return stage_file(apps, cleaning, file_id, &input.path, input.gz, zone, bytes_done, on_progress);
    }
    let done = bytes_done.clone();
    // The reader of the input's format, run on the source thread.
    let produce: Box<dyn FnOnce(Records<'a>) -> Result<String, IngestError> + Send + 'a> = match input.format {
        SourceFormat::Csv | SourceFormat::Tsv => {
            let d = sources::delimited::delimiter(input, opts.delimiter);
            Box::new(move |r| sources::delimited::read(input, d, r, &done))
        }
        SourceFormat::Json => Box::new(move |r| sources::json::read(input, r, &done)),
        SourceFormat::Bson => Box::new(move |r| sources::bson::read(input, r, &done)),
        SourceFormat::Sheet => {
            let sheet = input.sheet.as_deref().unwrap_or_default();
            Box::new(move |r| sources::sheet::read(input, sheet, r, sources::hash_file(&input.path, &done)?))
        }
        SourceFormat::Table => {
            let t = input.table.as_ref().expect("table input");
            Box::new(move |r| sources::table::read(t, since, r))
        }
        SourceFormat::Parquet => Box::new(move |r| sources::parquet::read(input, r, sources::hash_file(&input.path, &done)?)),
    };
    stage_records(apps, cleaning, &opts.mapping, zone, file_id, on_progress, produce)
}

/// Appends the batches of `prx` and adds up their counts; the first append failure (after which
/// the rest is drained).
fn consume(
    prx: mpsc::Receiver<Parsed>,
    apps: &mut crate::store::append::Appenders<'_>,
    st: &mut Staged,
    on_progress: &dyn Fn(u64),
) -> Option<IngestError> {
    let mut failure: Option<IngestError> = None;
    for p in prx.iter() {
        if failure.is_some() {
            continue;
        }
        st.rows_read += p.rows_read;
        for r in &p.rej_reason {
            match r {
                Reason::Malformed => st.malformed += 1,
                Reason::BadBehavior => st.bad_behavior += 1,
                _ => {}
            }
        }
        for (d, n) in &p.days {
            *st.days.entry(*d).or_insert(0) += n;
            st.valid += n;
        }
        if let Err(e) = apps.append(p) {
            failure = Some(e.into());
        }
        on_progress(st.rows_read);
    }
    failure
}

/// Stages one record source: `produce` runs on its own thread, pushing its records into the
/// [`Records`] it is given, and returns the input's content hash.
pub(crate) fn stage_records<'a, F>(
    apps: &mut crate::store::append::Appenders<'_>,
    cleaning: &'a parse::Cleaning<'a>,
    mapping: &'a crate::domain::Mapping,
    zone: &'a Zone,
    file_id: i32,
    on_progress: &dyn Fn(u64),
    produce: F,
) -> Result<Staged, IngestError>
where
    F: FnOnce(Records<'a>) -> Result<String, IngestError> + Send,
{
    let (ptx, prx) = mpsc::sync_channel::<Parsed>(4);
    let mut st = Staged { rows_read: 0, valid: 0, malformed: 0, bad_behavior: 0, hash: String::new(), days: HashMap::new() };
    let records = Records::new(cleaning, mapping, zone, file_id, ptx);
    let (failure, produced) = std::thread::scope(|s| {
        let producer = s.spawn(move || produce(records));
        let failure = consume(prx, apps, &mut st, on_progress);
        (failure, producer.join().expect("source thread"))
    });
    if let Some(e) = failure {
        return Err(e);
    }
    st.hash = produced?;
    Ok(st)
}

/// Cuts a stream into blocks of whole lines and numbers them.
pub(crate) fn cut_blocks(src: &mut dyn Read, file_id: i32, out: &mpsc::SyncSender<Block>) -> std::io::Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let mut line = 1u64;
    let mut first = true;
    loop {
        let mut buf = std::mem::take(&mut carry);
        let old = buf.len();
        buf.resize(old + BLOCK_BYTES, 0);
        let mut filled = old;
        while filled < buf.len() {
            let k = src.read(&mut buf[filled..])?;
            if k == 0 {
                break;
            }
            filled += k;
        }
        let eof = filled < buf.len();
        buf.truncate(filled);
        if buf.is_empty() {
            return Ok(());
        }
        if !eof {
            match memchr::memrchr(b'\n', &buf) {
                Some(cut) => carry = buf.split_off(cut + 1),
                // A line longer than a block: keep reading, up to a sane limit.
                None if buf.len() < 8 * BLOCK_BYTES => {
                    carry = buf;
                    continue;
                }
                None => {}
            }
        }
        let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
        let blk = Block { data: buf, first_line: line, file_id, is_file_start: first };
        line += lines;
        first = false;
        if out.send(blk).is_err() || (eof && carry.is_empty()) {
            return Ok(());
        }
    }
}
