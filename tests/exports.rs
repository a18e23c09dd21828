//! Issue 16's exports (`ecomm export`): events written as Parquet, CSV, JSON lines and xlsx ingest back
//! into the same analysis (the real 100k sample); filtered events and a segment's users are
//! exactly the rows the analyses count; rejects equal the rejects file; a failed export leaves no
//! file behind.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn export(db: &Path, out: &Path, args: &[&str]) -> Value {
    let o = ecomm().args(["export", "--db"]).arg(db).arg("--out").arg(out).args(["--summary", "json"]).args(args).assert().success();
    serde_json::from_slice(&o.get_output().stdout).unwrap()
}

fn sample(dir: &Path) -> PathBuf {
    let db = dir.join("r.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    db
}

fn csv_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn events_round_trip_through_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample(dir.path());
    let want = analyze(&db, &[]);
    for (fmt, ext) in [("parquet", "parquet"), ("csv", "csv"), ("json", "jsonl"), ("xlsx", "xlsx")] {
        let out = dir.path().join(format!("events.{ext}"));
        let s = export(&db, &out, &["--what", "events", "--format", fmt]);
        assert_eq!(n(&s, "rows"), n(&want, "totals.events"), "{fmt}: {s}");
        let back = dir.path().join(format!("back_{ext}.duckdb"));
        let i = ingest(&back, &[&out], &[]);
        assert_eq!((n(&i, "rows_loaded"), n(&i, "rejected.malformed")), (n(&want, "totals.events"), 0), "{fmt}: {i}");
        assert!(analyze(&back, &[]) == want, "{fmt}: the re-ingested export's analysis differs");
    }
    let header = csv_lines(&dir.path().join("events.csv"))[0].clone();
    assert_eq!(header, "user_id,item_id,category_id,behavior_type,timestamp");
}

#[test]
fn filtered_events_and_segment_users_are_the_rows_the_analyses_count() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample(dir.path());
    let filter = ["--from", "2017-11-28", "--to", "2017-12-01", "--behavior", "pv,buy"];
    let m = analyze(&db, &filter);
    let out = dir.path().join("f.csv");
    let s = export(&db, &out, &[&["--what", "events"][..], &filter[..]].concat());
    assert_eq!(n(&s, "rows"), n(&m, "totals.events"));
    let lines = csv_lines(&out);
    assert!(lines[1..].iter().all(|l| l.contains(",pv,") || l.contains(",buy,")), "only pv and buy");
    // Users: each segment's list has the analysis's count, for the whole window and for a range.
    for args in [&[][..], &["--from", "2017-11-28", "--to", "2017-12-01"][..]] {
        let m = analyze(&db, args);
        for seg in m["rfm"]["segments"].as_array().unwrap() {
            let name = seg["segment"].as_str().unwrap();
            let out = dir.path().join(format!("u_{name}.csv"));
            let s = export(&db, &out, &[&["--what", "users", "--segment", name][..], args].concat());
            assert_eq!(n(&s, "rows"), n(seg, "users"), "{name} {args:?}");
            let lines = csv_lines(&out);
            assert!(
                lines[0].starts_with("user_id,recency_days,frequency,monetary,r_score,f_score,m_score,segment,p_alive"),
                "{}",
                lines[0]
            );
            assert!(lines[1..].iter().all(|l| l.split(',').nth(7) == Some(name)), "{name}");
        }
    }
    // P(alive) narrows the list.
    let all = export(&db, &dir.path().join("all.json"), &["--what", "users", "--format", "json"]);
    let some = export(&db, &dir.path().join("some.json"), &["--what", "users", "--format", "json", "--min-p-alive", "0.9"]);
    assert!(n(&some, "rows") <= n(&all, "rows"));
    let text = std::fs::read_to_string(dir.path().join("some.json")).unwrap();
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(float(&v["p_alive"]) >= 0.9, "{l}");
        assert!(l.starts_with("{\"user_id\":"), "columns in order: {l}");
    }
}

#[test]
fn a_users_workbook_holds_what_the_csv_holds() {
    use calamine::{Data, Reader};
    let dir = tempfile::tempdir().unwrap();
    let db = sample(dir.path());
    let (csv, xlsx) = (dir.path().join("u.csv"), dir.path().join("u.xlsx"));
    export(&db, &csv, &["--what", "users", "--segment", "loyal"]);
    let s = export(&db, &xlsx, &["--what", "users", "--segment", "loyal", "--format", "xlsx"]);
    let lines = csv_lines(&csv);
    assert_eq!(n(&s, "rows") as usize, lines.len() - 1);
    let mut book = calamine::open_workbook_auto(&xlsx).unwrap();
    assert_eq!(book.sheet_names(), vec!["users".to_string()]);
    let range = book.worksheet_range("users").unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    assert_eq!(rows.len(), lines.len());
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    assert_eq!(header.join(","), lines[0]);
    for (r, line) in rows[1..].iter().zip(&lines[1..]) {
        for (c, f) in r.iter().zip(line.split(',')) {
            match c {
                Data::Float(x) => assert!((x - f.parse::<f64>().unwrap()).abs() <= 5e-5 * x.abs().max(1.0), "{c} vs {f}"),
                Data::String(t) => assert_eq!(t, f),
                Data::Empty => assert_eq!(f, ""),
                other => panic!("unexpected cell {other:?} for {f}"),
            }
        }
    }
}

#[test]
fn rejects_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample(dir.path());
    let out = dir.path().join("rej.csv");
    let s = export(&db, &out, &["--what", "rejects"]);
    assert_eq!(n(&s, "rows"), 44);
    let file = std::fs::read_to_string(dir.path().join("r.rejects.csv")).unwrap();
    assert_eq!(csv_lines(&out).len(), file.lines().count(), "as many rows as the rejects file");
    let d = db.to_str().unwrap();
    // The summary line in both languages.
    for (lang, says) in [("zh", "已导出拒绝行 44 行 → "), ("en", "Exported 44 rows of rejects → ")] {
        let o = ecomm().args(["export", "--db", d, "--what", "rejects", "--lang", lang, "--out"]).arg(&out).assert().success();
        let text = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
        assert!(text.starts_with(says), "{text}");
    }
    let bad = dir.path().join("bad.csv");
    let b = bad.to_str().unwrap();
    for (args, says) in [
        (vec!["--what", "users", "--segment", "vip"], "unknown segment 'vip'"),
        (vec!["--what", "users", "--min-p-alive", "2"], "not a probability"),
        (vec!["--what", "events", "--segment", "loyal"], "--what users only"),
        (vec!["--what", "events", "--category", "999999999"], "category 999999999"),
        (vec!["--what", "metrics"], "not built yet"),
    ] {
        let err = fails(&[&["export", "--db", d, "--out", b][..], &args[..]].concat());
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!bad.exists(), "{args:?} left a file");
    }
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.ends_with(".partial")), "{names:?}");
}

#[test]
fn a_list_longer_than_a_sheet_is_refused_not_cut() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("g.csv");
    ecomm().args(["gen", "--rows", "1100000", "--seed", "3", "--out"]).arg(&csv).assert().success();
    let db = dir.path().join("g.duckdb");
    let s = ingest(&db, &[&csv], &[]);
    assert!(n(&s, "rows_loaded") > 1_048_575, "{s}");
    let out = dir.path().join("all.xlsx");
    let err = fails(&["export", "--db", db.to_str().unwrap(), "--what", "events", "--format", "xlsx", "--out", out.to_str().unwrap()]);
    assert!(err.contains("do not fit an Excel sheet") && err.contains("--format csv"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!out.exists() && !left.iter().any(|n| n.to_string_lossy().contains("all.xlsx")), "{left:?}");
}
