//! Issue 16's sources: the same 40 events (plus one bad record) in every shape `ecomm ingest`
//! reads — canonical CSV, a Chinese-headed TSV with text times, the Tianchi mobile variant,
//! Parquet from pyarrow and pandas, xlsx/xls/ods, JSON lines, mongoexport (relaxed, canonical,
//! array) and mongodump BSON (tests/fixtures/sources, written by tests/fixtures/sources/make.py
//! with each format's usual library) — load into identical analyses, and the bad record is
//! rejected as `malformed` with the source's own position.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A fixture: committed in tests/fixtures/sources, or, for the Parquet variants (binary files kept
/// out of git), written once per test run by `parquet.py` with pyarrow and pandas from the seed
/// venv.
fn fx(name: &str) -> PathBuf {
    static PARQUET: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sources");
    if !name.ends_with(".parquet") {
        return here.join(name);
    }
    let dir = PARQUET.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let o = std::process::Command::new(seed_python()).arg(here.join("parquet.py")).arg(dir.path()).output().unwrap();
        assert!(o.status.success(), "parquet.py (needs pyarrow in the seed venv): {}", String::from_utf8_lossy(&o.stderr));
        dir
    });
    dir.path().join(name)
}

/// Every analysis of `analyze --format json` (none of them depends on how the rows arrived).
fn analysis(db: &Path) -> Value {
    analyze(db, &[])
}

/// The rejects file's rows as (reason, file, line, raw).
fn rejects(summary: &Value) -> Vec<(String, String, u64, String)> {
    let text = std::fs::read_to_string(summary["rejects_file"].as_str().unwrap()).unwrap();
    let mut r = csv_rows(&text);
    r.remove(0);
    r.into_iter().map(|f| (f[1].clone(), f[2].clone(), f[3].parse().unwrap(), f[4].clone())).collect()
}

/// A minimal RFC 4180 reader for the rejects file (DuckDB quotes fields with commas or quotes).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field, mut quoted, mut chars) = (Vec::new(), Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    rows
}

struct Case {
    file: &'static str,
    args: &'static [&'static str],
    /// Rows read, malformed.
    read: u64,
    /// The bad record's position (line) and the rejects file's `file` suffix, when it has one.
    bad: Option<(u64, &'static str)>,
}

const CASES: &[Case] = &[
    Case {
        file: "events_zh.tsv",
        args: &[
            "--columns",
            "user_id=用户ID,item_id=商品ID,category_id=类目ID,behavior_type=行为,timestamp=时间",
            "--time-format",
            "%Y-%m-%d %H:%M:%S",
        ],
        read: 41,
        bad: Some((7, "events_zh.tsv")),
    },
    Case {
        file: "mobile.csv",
        args: &[
            "--columns",
            "category_id=item_category,timestamp=time",
            "--behavior-map",
            "1=pv,2=fav,3=cart,4=buy",
            "--time-format",
            "%Y-%m-%d %H",
        ],
        read: 41,
        bad: Some((7, "mobile.csv")),
    },
    Case { file: "events.parquet", args: &[], read: 40, bad: None },
    Case {
        file: "pandas_utc.parquet",
        args: &["--columns", "user_id=uid,item_id=sku,category_id=cat,behavior_type=action,timestamp=ts"],
        read: 41,
        bad: Some((6, "pandas_utc.parquet")),
    },
    Case {
        file: "events.xlsx",
        args: &["--sheet", "行为数据", "--columns", "timestamp=time"],
        read: 41,
        bad: Some((7, "events.xlsx!行为数据")),
    },
    Case { file: "events.xls", args: &["--columns", "timestamp=time"], read: 41, bad: Some((7, "events.xls!行为数据")) },
    Case { file: "events.ods", args: &["--columns", "timestamp=5"], read: 41, bad: Some((7, "events.ods!行为数据")) },
    Case { file: "events.jsonl", args: &["--time-unit", "ms"], read: 41, bad: Some((6, "events.jsonl")) },
    Case { file: "mongo_relaxed.json", args: &[], read: 41, bad: Some((6, "mongo_relaxed.json")) },
    Case { file: "mongo_canonical.json", args: &[], read: 41, bad: Some((6, "mongo_canonical.json")) },
    Case { file: "mongo_array.json", args: &[], read: 41, bad: Some((6, "mongo_array.json")) },
    Case { file: "events.bson", args: &[], read: 41, bad: Some((6, "events.bson")) },
];

#[test]
fn every_variant_loads_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("ref.duckdb");
    let s = ingest(&reference, &[&fx("events.csv")], &[]);
    assert_eq!((n(&s, "rows_read"), n(&s, "rows_loaded"), n(&s, "rejected.malformed")), (41, 40, 1));
    let want = analysis(&reference);
    assert_eq!(n(&want, "totals.events"), 40, "{}", want["totals"]);
    for (k, c) in CASES.iter().enumerate() {
        let db = dir.path().join(format!("v{k}.duckdb"));
        let s = ingest(&db, &[&fx(c.file)], c.args);
        assert_eq!(n(&s, "rows_read"), c.read, "{}: {s}", c.file);
        assert_eq!(n(&s, "rows_loaded"), 40, "{}: {s}", c.file);
        assert_eq!(n(&s, "rejected.malformed"), c.read - 40, "{}: {s}", c.file);
        assert_eq!(n(&s, "rejected.bad_behavior") + n(&s, "rejected.duplicate") + n(&s, "rejected.out_of_window"), 0, "{}", c.file);
        let got = analysis(&db);
        assert!(got == want, "{}: the analysis differs from the canonical CSV's", c.file);
        let rej = rejects(&s);
        match c.bad {
            Some((line, file)) => {
                assert_eq!(rej.len(), 1, "{}: {rej:?}", c.file);
                let (reason, f, l, raw) = &rej[0];
                assert_eq!((reason.as_str(), *l), ("malformed", line), "{}: {rej:?}", c.file);
                assert!(f.ends_with(file), "{}: file {f}", c.file);
                assert!(!raw.is_empty(), "{}: empty raw", c.file);
            }
            None => assert!(rej.is_empty(), "{}: {rej:?}", c.file),
        }
        // Idempotence: the same file again changes nothing.
        let again = ingest(&db, &[&fx(c.file)], c.args);
        assert_eq!(again["unchanged"], Value::Bool(true), "{}: {again}", c.file);
    }
}

#[test]
fn raw_forms_keep_what_the_source_held() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.duckdb");
    let s = ingest(&db, &[&fx("events.bson")], &[]);
    let raw = &rejects(&s)[0].3;
    assert!(raw.contains("\"timestamp\":\"yesterday\"") && raw.contains("$oid"), "{raw}");
    let db = dir.path().join("j.duckdb");
    let s = ingest(&db, &[&fx("events.jsonl")], &["--time-unit", "ms"]);
    assert!(rejects(&s)[0].3.ends_with("\"behavior_type\": \"pv\""), "{:?}", rejects(&s));
    let db = dir.path().join("x.duckdb");
    let s = ingest(&db, &[&fx("events.xlsx")], &["--sheet", "行为数据", "--columns", "timestamp=time"]);
    assert_eq!(rejects(&s)[0].3, "101,n/a,71,pv,2017-11-25 09:00:00");
}

#[test]
fn text_variants_of_the_canonical_csv() {
    let dir = tempfile::tempdir().unwrap();
    let want = {
        let db = dir.path().join("ref.duckdb");
        ingest(&db, &[&fx("events.csv")], &[]);
        analysis(&db)
    };
    let text = std::fs::read_to_string(fx("events.csv")).unwrap();
    // A header in another order, with quotes; a semicolon-delimited copy; a gzip copy.
    let mut reordered = String::from("\"timestamp\",\"behavior_type\",\"category_id\",\"item_id\",\"user_id\"\n");
    let mut semi = String::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split(',').collect();
        reordered += &format!("{},\"{}\",{},{},{}\n", f[4], f[3], f[2], f[1], f[0]);
        semi += &format!("{}\n", f.join(";"));
    }
    let files = [("reordered.csv", reordered.as_str(), &[][..]), ("semi.txt", semi.as_str(), &["--delimiter", ";"][..])];
    for (name, body, args) in files {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let db = dir.path().join(format!("{name}.duckdb"));
        let s = ingest(&db, &[&p], args);
        assert_eq!((n(&s, "rows_loaded"), n(&s, "rejected.malformed")), (40, 1), "{name}: {s}");
        assert!(analysis(&db) == want, "{name}: the analysis differs");
    }
    let gz = dir.path().join("events.tsv.gz");
    let tsv: String = text.lines().map(|l| l.replace(',', "\t") + "\n").collect();
    let mut enc = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    enc.stdin.take().unwrap().write_all(tsv.as_bytes()).unwrap();
    std::fs::write(&gz, enc.wait_with_output().unwrap().stdout).unwrap();
    let db = dir.path().join("gz.duckdb");
    let s = ingest(&db, &[&gz], &[]);
    assert_eq!(n(&s, "rows_loaded"), 40, "{s}");
    assert!(analysis(&db) == want, "tsv.gz: the analysis differs");
}

#[test]
fn a_file_that_is_not_what_its_name_says_fails_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.duckdb");
    ingest(&db, &[&fx("events.csv")], &[]);
    let before = analysis(&db);
    let cases = [
        ("fake.parquet", fx("events.csv")),
        ("fake.xlsx", fx("events.parquet")),
        ("fake.bson", fx("events.jsonl")),
        ("fake.json", fx("events.xlsx")),
    ];
    for (name, from) in cases {
        let p = dir.path().join(name);
        std::fs::copy(&from, &p).unwrap();
        let err = fails(&["ingest", p.to_str().unwrap(), "--db", db.to_str().unwrap()]);
        assert!(err.contains(name) && err.contains("--source-format"), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: one sentence: {err}");
    }
    // A truncated dump and an unfinished JSON array fail as a whole.
    let bson = std::fs::read(fx("events.bson")).unwrap();
    let cut = dir.path().join("cut.bson");
    std::fs::write(&cut, &bson[..bson.len() - 10]).unwrap();
    let err = fails(&["ingest", cut.to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert!(err.contains("truncated"), "{err}");
    let arr = std::fs::read_to_string(fx("mongo_array.json")).unwrap();
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &arr[..arr.len() / 2]).unwrap();
    let err = fails(&["ingest", cut.to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert!(err.contains("not a complete JSON array"), "{err}");
    // Mapping errors name what is wrong.
    let err = fails(&["ingest", fx("events.xlsx").to_str().unwrap(), "--db", db.to_str().unwrap(), "--sheet", "nope"]);
    assert!(err.contains("no sheet 'nope'") && err.contains("行为数据"), "{err}");
    let err = fails(&[
        "ingest",
        fx("mobile.csv").to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--columns",
        "category_id=item_category,timestamp=when",
    ]);
    assert!(err.contains("'when'") && err.contains("item_category"), "{err}");
    let err = fails(&["ingest", fx("mobile.csv").to_str().unwrap(), "--db", db.to_str().unwrap(), "--behavior-map", "1=click"]);
    assert!(err.contains("1=click"), "{err}");
    assert!(analysis(&db) == before, "a failed ingest changed the DB");
}

#[test]
fn a_folder_of_parquet_parts_and_a_glob() {
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("spark_out");
    std::fs::create_dir(&parts).unwrap();
    std::fs::copy(fx("events.parquet"), parts.join("part-00000.snappy.parquet")).unwrap();
    std::fs::write(parts.join("_SUCCESS"), b"").unwrap();
    std::fs::write(parts.join(".part-00000.snappy.parquet.crc"), b"crc").unwrap();
    let db = dir.path().join("p.duckdb");
    let s = ingest(&db, &[&parts], &[]);
    assert_eq!((n(&s, "rows_loaded"), s["files"].as_array().unwrap().len()), (40, 1), "{s}");
}
