//! JSON: one object per line (`.jsonl`, `.ndjson`, and `.json` as `mongoexport` writes it by
//! default) or one array of objects (`.json`, `mongoexport --jsonArray`), plain or gzip.
//!
//! Fields are found by name (`--columns user_id=uid,…`, else the field's own name); a dotted name
//! (`event.ts`) walks into nested objects. MongoDB Extended JSON, relaxed or canonical, is
//! understood: `{"$numberLong": "…"}`, `{"$numberInt": "…"}`, `{"$numberDouble": "…"}`,
//! `{"$numberDecimal": "…"}`, and `{"$date": …}` (an ISO 8601 text, milliseconds, or
//! `{"$numberLong": "…"}` milliseconds), which is an instant. Other fields, `_id` included, are
//! ignored. A line that is not a JSON object is `malformed`, with its line number as `line`; in an
//! array, `line` is the element's 1-based index. An array that breaks off fails the ingest.

use super::records::Records;
use super::{open_text, Input};
use crate::domain::mapping::Value;
use crate::ingest::files::io_err;
use crate::ingest::IngestError;
use serde::de::{Error as _, SeqAccess, Visitor};
use serde_json::Value as Json;
use std::borrow::Cow;
use std::io::{BufRead, BufReader};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The value of `key` in `doc` (a dotted key walks into nested objects).
fn lookup<'j>(doc: &'j serde_json::Map<String, Json>, key: &str) -> Option<&'j Json> {
    if let Some(v) = doc.get(key) {
        return Some(v);
    }
    let mut parts = key.split('.');
    let mut cur = doc.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// A JSON value as a field value, with Extended JSON's wrappers taken off.
pub fn value(v: &Json) -> Value<'_> {
    match v {
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None if n.is_u64() => Value::Text(Cow::Owned(n.to_string())),
            None => n.as_f64().map_or(Value::Null, Value::Float),
        },
        Json::String(s) => Value::Text(Cow::Borrowed(s)),
        Json::Object(o) if o.len() == 1 => {
            let (k, inner) = o.iter().next().expect("one entry");
            match (k.as_str(), inner) {
                ("$numberLong" | "$numberInt" | "$numberDecimal", Json::String(s)) => Value::Text(Cow::Borrowed(s)),
                ("$numberDouble", Json::String(s)) => s.parse::<f64>().map_or(Value::Null, Value::Float),
                ("$date", d) => date(d).map_or(Value::Null, Value::InstantMs),
                _ => Value::Null,
            }
        }
        _ => Value::Null,
    }
}

/// The milliseconds of a `$date`.
fn date(d: &Json) -> Option<i64> {
    match d {
        Json::String(s) => chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis()),
        Json::Number(n) => n.as_i64(),
        Json::Object(o) => o.get("$numberLong")?.as_str()?.parse().ok(),
        _ => None,
    }
}

/// Takes one parsed document at `position`.
fn take(out: &mut Records<'_>, keys: &[String; 5], position: u64, doc: &Json, raw: &dyn Fn() -> String) -> Result<(), IngestError> {
    let Some(obj) = doc.as_object() else {
        return out.malformed(position, raw());
    };
    let vals: [Value<'_>; 5] = std::array::from_fn(|i| lookup(obj, &keys[i]).map_or(Value::Null, value));
    out.push(position, &vals, raw)
}

/// Streams the elements of a top-level array to a callback.
struct Each<'f>(&'f mut dyn FnMut(u64, Json) -> Result<(), IngestError>);

impl<'de> Visitor<'de> for Each<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0u64;
        while let Some(v) = seq.next_element::<Json>()? {
            n += 1;
            (self.0)(n, v).map_err(|e| A::Error::custom(e.to_string()))?;
        }
        Ok(())
    }
}

/// Reads every document of `input` into `out`; returns the content hash.
pub(crate) fn read(input: &Input, mut out: Records<'_>, done: &Arc<AtomicU64>) -> Result<String, IngestError> {
    let path = &input.path;
    let keys = out.mapping().columns.keys();
    let (r, hasher) = open_text(path, input.gz, done)?;
    let mut r = BufReader::with_capacity(1 << 20, r);
    // Skips a BOM and leading white space to see whether this is an array.
    let array = loop {
        let buf = r.fill_buf().map_err(|e| io_err(path, e))?;
        let Some(&c) = buf.first() else { break false };
        if buf.starts_with(b"\xEF\xBB\xBF") {
            r.consume(3);
        } else if c.is_ascii_whitespace() {
            r.consume(1);
        } else {
            break c == b'[';
        }
    };
    if array {
        let mut each = |n: u64, v: Json| take(&mut out, &keys, n, &v, &|| v.to_string());
        let mut de = serde_json::Deserializer::from_reader(&mut r);
        serde::Deserializer::deserialize_seq(&mut de, Each(&mut each)).and_then(|_| de.end()).map_err(|e| {
            IngestError::Input(format!(
                "{} is not a complete JSON array ({e}); fix or re-export it (mongoexport --jsonArray) / JSON 数组不完整",
                path.display()
            ))
        })?;
    } else {
        let mut line = Vec::new();
        let mut n = 0u64;
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line).map_err(|e| io_err(path, e))? == 0 {
                break;
            }
            n += 1;
            let l = line.strip_suffix(b"\n").unwrap_or(&line);
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            if l.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let raw = || String::from_utf8_lossy(l).into_owned();
            match serde_json::from_slice::<Json>(l) {
                Ok(doc) => take(&mut out, &keys, n, &doc, &raw)?,
                Err(_) => out.malformed(n, raw())?,
            }
        }
    }
    std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| io_err(path, e))?;
    out.finish()?;
    Ok(super::digest(&hasher))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn extended_json() {
        let v: Json = serde_json::from_str(r#"{"a":{"$numberLong":"12"},"d":{"$date":"2017-11-25T01:00:00Z"},"e":{"$date":{"$numberLong":"1511571600000"}},"n":{"x":{"y":3}}}"#).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(value(lookup(o, "a").unwrap()), Value::Text("12".into()));
        assert_eq!(value(lookup(o, "d").unwrap()), Value::InstantMs(1_511_571_600_000));
        assert_eq!(value(lookup(o, "e").unwrap()), Value::InstantMs(1_511_571_600_000));
        assert_eq!(value(lookup(o, "n.x.y").unwrap()), Value::Int(3));
        assert!(lookup(o, "n.z").is_none());
    }
}
