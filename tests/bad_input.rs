//! Bad input: one clear sentence, a non-zero exit code, no panic, no half-written DB.

mod common;
use common::*;

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn missing_empty_binary_and_non_csv_files() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("x.duckdb");
    let err = fails(&["ingest", "/nonexistent/file.csv", "--db", s(&db)]);
    assert!(err.contains("file not found: /nonexistent/file.csv"), "{err}");

    let empty = d.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let err = fails(&["ingest", s(&empty), "--db", s(&db)]);
    assert!(err.contains("is empty"), "{err}");

    let header_only = d.path().join("header.csv");
    std::fs::write(&header_only, "user_id,item_id,category_id,behavior_type,timestamp\n\n").unwrap();
    let err = fails(&["ingest", s(&header_only), "--db", s(&db)]);
    assert!(err.contains("no data rows"), "{err}");

    let bin = d.path().join("data.csv");
    std::fs::write(&bin, [0u8, 159, 146, 150, 0, 1, 2, 3]).unwrap();
    let err = fails(&["ingest", s(&bin), "--db", s(&db)]);
    assert!(err.contains("binary file"), "{err}");

    let text = d.path().join("notes.csv");
    std::fs::write(&text, "name,age\nalice,30\nbob,41\n").unwrap();
    let err = fails(&["ingest", s(&text), "--db", s(&db)]);
    assert!(err.contains("does not look like UserBehavior data"), "{err}");

    let badgz = d.path().join("bad.csv.gz");
    std::fs::write(&badgz, [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    let err = fails(&["ingest", s(&badgz), "--db", s(&db)]);
    assert!(err.contains("gzip"), "{err}");

    // None of the failures left data behind.
    if db.exists() {
        let err = fails(&["analyze", "--db", s(&db)]);
        assert!(err.contains("holds no ingested data"), "{err}");
    }
}

#[test]
fn bad_dates_zones_and_ranges() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("x.duckdb");
    let one = real("1k");
    let err = fails(&["ingest", one.to_str().unwrap(), "--db", s(&db), "--start", "2017-13-01", "--end", "2017-12-03"]);
    assert!(err.contains("is not a date; use YYYY-MM-DD"), "{err}");
    let err = fails(&["ingest", one.to_str().unwrap(), "--db", s(&db), "--tz", "Mars/Olympus"]);
    assert!(err.contains("unknown time zone"), "{err}");
    let err = fails(&["ingest", one.to_str().unwrap(), "--db", s(&db), "--start", "2017-12-03", "--end", "2017-11-25"]);
    assert!(err.contains("is after --end"), "{err}");
    let err = fails(&["ingest", one.to_str().unwrap(), "--db", s(&db), "--start", "2017-12-03"]);
    assert!(err.contains("give both --start and --end"), "{err}");
    ingest(&db, &[&one], &[]);
    let err = fails(&["analyze", "--db", s(&db), "--from", "2017-12-02", "--to", "2017-12-01"]);
    assert!(err.contains("--from 2017-12-02 is after --to 2017-12-01"), "{err}");
    let err = fails(&["analyze", "--db", s(&db), "--from", "2018-01-01", "--to", "2018-01-05"]);
    assert!(err.contains("does not overlap the data window"), "{err}");
    let err = fails(&["ingest", one.to_str().unwrap(), "--db", s(&db), "--tz", "UTC"]);
    assert!(err.contains("this DB uses time zone Asia/Shanghai"), "{err}");
    let err = fails(&["ingest", one.to_str().unwrap(), "--db", s(&db), "--start", "2017-11-26", "--end", "2017-12-03"]);
    assert!(err.contains("this DB's window is 2017-11-25..2017-12-03"), "{err}");
}

#[test]
fn missing_foreign_newer_and_locked_dbs() {
    let d = tempfile::tempdir().unwrap();
    let err = fails(&["analyze", "--db", s(&d.path().join("none.duckdb"))]);
    assert!(err.contains("no database at"), "{err}");

    let junk = d.path().join("junk.duckdb");
    std::fs::write(&junk, "this is not a database file at all, just text that is long enough").unwrap();
    let err = fails(&["analyze", "--db", s(&junk)]);
    assert!(err.contains("not a DuckDB database"), "{err}");

    let foreign = d.path().join("foreign.duckdb");
    duckdb::Connection::open(&foreign).unwrap().execute_batch("CREATE TABLE t (x INT)").unwrap();
    let err = fails(&["ingest", real("1k").to_str().unwrap(), "--db", s(&foreign)]);
    assert!(err.contains("was not made by ecomm"), "{err}");

    let db = d.path().join("v.duckdb");
    ingest(&db, &[&real("1k")], &[]);
    {
        let c = duckdb::Connection::open(&db).unwrap();
        c.execute_batch("UPDATE ecomm_meta SET value = '99' WHERE key = 'schema_version'").unwrap();
    }
    let err = fails(&["analyze", "--db", s(&db)]);
    assert!(err.contains("written by a newer ecomm (schema version 99"), "{err}");
    {
        let c = duckdb::Connection::open(&db).unwrap();
        c.execute_batch("UPDATE ecomm_meta SET value = '1' WHERE key = 'schema_version'").unwrap();
        // While this process holds the DB open for writing, another ingest is refused clearly.
        let err = fails(&["ingest", real("4k").to_str().unwrap(), "--db", s(&db)]);
        assert!(err.contains("in use by another ecomm process"), "{err}");
    }
    assert_eq!(n(&analyze(&db, &[]), "totals.events"), 1000);
}

#[test]
fn usage_errors_exit_2_and_help_teaches() {
    let out = ecomm().args(["ingest"]).assert().failure().get_output().clone();
    assert_eq!(out.status.code(), Some(2));
    let help = ecomm().args(["ingest", "--help"]).assert().success().get_output().stdout.clone();
    let help = String::from_utf8(help).unwrap();
    assert!(help.contains("rejects.csv") && help.contains("Example"), "{help}");
    // Each example on its own line, as written (not run together into one paragraph).
    for cmd in ["ingest", "analyze", "export"] {
        let help = ecomm().args([cmd, "--help"]).assert().success().get_output().stdout.clone();
        let help = String::from_utf8(help).unwrap();
        let examples = help.lines().filter(|l| l.trim_start().starts_with("ecomm ") || l.starts_with("Example: ecomm ")).count();
        assert!(examples >= 2, "{cmd}: {help}");
    }
}
