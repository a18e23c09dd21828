//! Input files: resolving paths, globs and directories; content keys for idempotence; sniffing
//! that a file is text; reading plain or gzip.

use super::IngestError;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use xxhash_rust::xxh3::Xxh3;

/// Expands files, folders (every file of a format ecomm reads, see [`super::sources`]; hidden
/// files and names starting with `_`, such as Spark's `_SUCCESS`, are left out) and glob patterns, in sorted order.
pub fn resolve_inputs(inputs: &[String]) -> Result<Vec<PathBuf>, IngestError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for inp in inputs {
        let p = Path::new(inp);
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| IngestError::Input(format!("cannot read folder {inp}: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && super::sources::is_source_name(f))
                .collect();
            if found.is_empty() {
                return Err(IngestError::Input(format!("folder {inp} holds no file ecomm reads (.csv, .tsv, .gz, .parquet, .xlsx, .xls, .ods, .json, .jsonl, .bson) / 文件夹中没有可导入的文件")));
            }
            found.sort();
            out.extend(found);
        } else if p.is_file() {
            out.push(p.to_path_buf());
        } else if inp.contains(['*', '?', '[']) {
            let mut found: Vec<PathBuf> = glob::glob(inp)
                .map_err(|e| IngestError::Input(format!("bad pattern {inp}: {e}")))?
                .filter_map(Result::ok)
                .filter(|f| f.is_file())
                .collect();
            if found.is_empty() {
                return Err(IngestError::Input(format!("no file matches {inp} / 没有匹配的文件")));
            }
            found.sort();
            out.extend(found);
        } else if p.exists() {
            return Err(IngestError::Input(format!("{inp} is not a regular file / 不是普通文件")));
        } else if let Ok(link) = std::fs::symlink_metadata(p) {
            // The name exists but cannot be followed: a link that loops or points nowhere.
            let why = std::fs::metadata(p).err().map(|e| e.to_string()).unwrap_or_default();
            let target = std::fs::read_link(p).map(|t| t.display().to_string()).unwrap_or_default();
            let what = if link.file_type().is_symlink() {
                format!("a symbolic link to '{target}' that cannot be followed")
            } else {
                "unreadable".into()
            };
            return Err(IngestError::Input(format!(
                "{inp} is {what} ({why}); point it at the data file or pass the file itself / 符号链接无法解析：{inp}"
            )));
        } else {
            return Err(IngestError::Input(format!("file not found: {inp}; check the path / 文件不存在：{inp}")));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(out)
}

/// A reader that hashes (into a hasher its opener keeps) and counts the bytes it passes on.
struct Tap<R> {
    inner: R,
    hasher: Arc<Mutex<Xxh3>>,
    done: Arc<AtomicU64>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.lock().expect("hasher").update(&buf[..n]);
        self.done.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A stream of a file's contents and the hasher that sees its bytes as stored.
pub(crate) type Opened = (Box<dyn Read + Send>, Arc<Mutex<Xxh3>>);

/// Opens a file for reading (decompressing gzip); the hasher sees its bytes as stored
/// (compressed for .gz) and `done` counts them, for the content key and the progress bar.
pub(crate) fn open_text(path: &Path, gz: bool, done: &Arc<AtomicU64>) -> Result<Opened, IngestError> {
    let f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let hasher = Arc::new(Mutex::new(Xxh3::new()));
    let tap = Tap { inner: std::io::BufReader::with_capacity(1 << 20, f), hasher: hasher.clone(), done: done.clone() };
    let r: Box<dyn Read + Send> =
        if gz { Box::new(std::io::BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(tap))) } else { Box::new(tap) };
    Ok((r, hasher))
}

/// The content key of what a hasher of [`open_text`] has seen.
pub(crate) fn digest(hasher: &Mutex<Xxh3>) -> String {
    format!("{:032x}", hasher.lock().expect("hasher").digest128())
}

pub(crate) fn io_err(path: &Path, e: std::io::Error) -> IngestError {
    IngestError::Input(format!("cannot read {}: {e} / 无法读取文件", path.display()))
}

/// Size and hash of the first MiB: two files with different keys differ.
pub(crate) fn quick_key(path: &Path) -> Result<String, IngestError> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let size = f.metadata().map_err(|e| io_err(path, e))?.len();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0;
    while n < buf.len() {
        let k = f.read(&mut buf[n..]).map_err(|e| io_err(path, e))?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(format!("{size}:{:016x}", xxhash_rust::xxh3::xxh3_64(&buf[..n])))
}

pub(crate) fn full_hash(path: &Path) -> Result<String, IngestError> {
    let (mut r, hasher) = open_text(path, false, &Arc::new(AtomicU64::new(0)))?;
    std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| io_err(path, e))?;
    Ok(digest(&hasher))
}

/// Checks the start of a file: empty, binary, or not gzip despite the name.
pub(crate) fn sniff(path: &Path) -> Result<bool, IngestError> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut head = [0u8; 2];
    let n = f.read(&mut head).map_err(|e| io_err(path, e))?;
    if n == 0 {
        return Err(IngestError::Input(format!("{} is empty; pass a UserBehavior CSV file / 文件为空", path.display())));
    }
    let gz = n == 2 && head == [0x1f, 0x8b];
    let f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut r: Box<dyn Read> = if gz { Box::new(flate2::read::MultiGzDecoder::new(f)) } else { Box::new(f) };
    let mut buf = vec![0u8; 8192];
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) => {
                return Err(IngestError::Input(format!(
                    "{} is not a readable gzip file ({e}); re-download or decompress it / gzip 文件损坏",
                    path.display()
                )))
            }
        }
    }
    if got == 0 {
        return Err(IngestError::Input(format!("{} is empty; pass a UserBehavior CSV file / 文件为空", path.display())));
    }
    if buf[..got].contains(&0) {
        return Err(IngestError::Input(format!(
            "{} looks like a binary file, not a CSV; pass a UserBehavior CSV (user_id,item_id,category_id,behavior_type,timestamp) / 这不是 CSV 文本文件",
            path.display()
        )));
    }
    Ok(gz)
}
