//! BSON as `mongodump` writes a collection: documents one after another, each starting with its
//! length. Fields are found by name as in JSON (a dotted name walks into embedded documents);
//! int32, int64, double, string and decimal values are numbers or texts, a `DateTime` is an
//! instant. `line` in the rejects file is the document's 1-based index; its raw form is the
//! document in relaxed Extended JSON. A document that does not parse is `malformed`; a file that
//! ends inside a document fails the ingest.

use super::records::Records;
use super::{open_text, Input};
use crate::domain::mapping::Value;
use crate::ingest::files::io_err;
use crate::ingest::IngestError;
use bson::raw::{RawBsonRef, RawDocument, RawDocumentBuf};
use std::borrow::Cow;
use std::io::Read;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// BSON's own limit on a document (16 MiB), with room for mongodump's padding.
const MAX_DOC: i32 = 48 << 20;

fn lookup<'d>(doc: &'d RawDocument, key: &str) -> Option<RawBsonRef<'d>> {
    if let Ok(Some(v)) = doc.get(key) {
        return Some(v);
    }
    let mut parts = key.split('.');
    let mut cur = doc.get(parts.next()?).ok()??;
    for p in parts {
        match cur {
            RawBsonRef::Document(d) => cur = d.get(p).ok()??,
            _ => return None,
        }
    }
    Some(cur)
}

/// A BSON value as a field value.
pub fn value(v: RawBsonRef<'_>) -> Value<'_> {
    match v {
        RawBsonRef::Int32(i) => Value::Int(i as i64),
        RawBsonRef::Int64(i) => Value::Int(i),
        RawBsonRef::Double(f) => Value::Float(f),
        RawBsonRef::String(s) => Value::Text(Cow::Borrowed(s)),
        RawBsonRef::Decimal128(d) => Value::Text(Cow::Owned(d.to_string())),
        RawBsonRef::DateTime(d) => Value::InstantMs(d.timestamp_millis()),
        _ => Value::Null,
    }
}

/// The document in relaxed Extended JSON (its bytes in hex when it does not parse).
fn render(doc: &RawDocument) -> String {
    match bson::Document::try_from(doc) {
        Ok(d) => bson::Bson::Document(d).into_relaxed_extjson().to_string(),
        Err(_) => doc.as_bytes().iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Reads every document of `input` into `out`; returns the content hash.
pub(crate) fn read(input: &Input, mut out: Records<'_>, done: &Arc<AtomicU64>) -> Result<String, IngestError> {
    let path = &input.path;
    let keys = out.mapping().columns.keys();
    let (mut r, hasher) = open_text(path, input.gz, done)?;
    let mut n = 0u64;
    loop {
        let mut len = [0u8; 4];
        match r.read(&mut len[..1]).map_err(|e| io_err(path, e))? {
            0 => break,
            _ => r.read_exact(&mut len[1..]).map_err(|_| truncated(path, n + 1))?,
        }
        n += 1;
        let size = i32::from_le_bytes(len);
        if !(5..=MAX_DOC).contains(&size) {
            return Err(IngestError::Input(format!(
                "{}: document {n} claims {size} bytes, which no BSON document has; the file is damaged or not mongodump output / BSON 文件已损坏",
                path.display()
            )));
        }
        let mut buf = vec![0u8; size as usize];
        buf[..4].copy_from_slice(&len);
        r.read_exact(&mut buf[4..]).map_err(|_| truncated(path, n))?;
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        match RawDocumentBuf::from_bytes(buf) {
            Ok(doc) => {
                let vals: [Value<'_>; 5] = std::array::from_fn(|i| lookup(&doc, &keys[i]).map_or(Value::Null, value));
                out.push(n, &vals, &|| render(&doc))?;
            }
            Err(e) => out.malformed(n, format!("{e}: {}", hex(&len)))?,
        }
    }
    out.finish()?;
    Ok(super::digest(&hasher))
}

fn truncated(path: &std::path::Path, n: u64) -> IngestError {
    IngestError::Input(format!("{} ends inside document {n}; the dump is truncated: run mongodump again / BSON 文件不完整", path.display()))
}
