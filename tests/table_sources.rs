//! Issue 16's table sources against the real MariaDB (127.0.0.1:3306, root) and PostgreSQL
//! (127.0.0.1:5432, trust) of this machine: the fixture's 40 events (and one bad row) in a table
//! load into the canonical CSV's analysis; an unchanged table is skipped; a grown one loads only
//! its new rows; a query works as a source; the bad row is `malformed` with its primary key.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn events() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sources/events.csv")).unwrap();
    text.lines().map(|l| l.split(',').map(str::to_string).collect()).collect()
}

/// `2017-11-25 09:00:00` for Unix seconds, in Beijing time.
fn beijing(ts: i64) -> String {
    let d = ts + 8 * 3600;
    let (days, secs) = (d.div_euclid(86_400), d.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

fn analysis(db: &Path) -> Value {
    analyze(db, &[])
}

fn reference(dir: &Path) -> Value {
    let db = dir.join("ref.duckdb");
    ingest(&db, &[&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sources/events.csv")], &[]);
    analysis(&db)
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().expect("client");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn mysql(sql: &str) {
    sh(Command::new("mysql").args(["--protocol=tcp", "-h127.0.0.1", "-uroot", "-e", sql]));
}

fn psql(db: &str, sql: &str) {
    sh(Command::new("psql").args(["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-qc", sql]));
}

/// The rows as SQL values: (uid, sku, cat, action, time) with the bad row's uid NULL.
fn values(time: &dyn Fn(i64) -> String) -> Vec<String> {
    events()
        .iter()
        .map(|e| {
            let uid = if e[0].parse::<i64>().is_ok() { e[0].clone() } else { "NULL".into() };
            format!("({uid}, {}, {}, '{}', {})", e[1], e[2], e[3], time(e[4].parse().unwrap()))
        })
        .collect()
}

fn ingest_url(db: &Path, url: &str, extra: &[&str]) -> Value {
    let out =
        ecomm().args(["ingest", url, "--db"]).arg(db).args(["--format", "json"]).args(extra).assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}

fn reject_lines(s: &Value) -> Vec<String> {
    let text = std::fs::read_to_string(s["rejects_file"].as_str().unwrap()).unwrap();
    text.lines().skip(1).map(str::to_string).collect()
}

const COLUMNS: &str = "user_id=uid,item_id=sku,category_id=cat,behavior_type=action,timestamp=ts";

#[test]
fn a_mysql_table_loads_skips_and_grows() {
    let dir = tempfile::tempdir().unwrap();
    let want = reference(dir.path());
    let name = format!("ecomm_src_{}", std::process::id());
    mysql(&format!(
        "DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name};
         CREATE TABLE {name}.events (id INT AUTO_INCREMENT PRIMARY KEY, uid BIGINT NULL, sku BIGINT, cat INT, action VARCHAR(8), ts DATETIME);
         INSERT INTO {name}.events (uid, sku, cat, action, ts) VALUES {};",
        values(&|t| format!("'{}'", beijing(t))).join(",")
    ));
    let url = format!("mysql://root:@127.0.0.1:3306/{name}?table=events");
    let db = dir.path().join("m.duckdb");
    let s = ingest_url(&db, &url, &["--columns", COLUMNS]);
    assert_eq!((n(&s, "rows_read"), n(&s, "rows_loaded"), n(&s, "rejected.malformed")), (41, 40, 1), "{s}");
    assert!(!s.to_string().contains("root:@") && s["files"][0]["file"].as_str().unwrap().contains("table=events"), "{s}");
    assert!(analysis(&db) == want, "the MySQL table's analysis differs from the CSV's");
    let rej = reject_lines(&s);
    assert_eq!(rej.len(), 1);
    assert!(rej[0].starts_with("1,malformed,") && rej[0].contains(",6,"), "the bad row's primary key is 6: {rej:?}");
    // Unchanged: skipped, the DB untouched.
    let again = ingest_url(&db, &url, &["--columns", COLUMNS]);
    assert_eq!(again["unchanged"], Value::Bool(true), "{again}");
    // Grown by two rows: only they are read.
    mysql(&format!("INSERT INTO {name}.events (uid, sku, cat, action, ts) VALUES (777, 1, 2, 'buy', '2017-11-27 10:00:00'), (777, 1, 2, 'pv', '2017-11-27 09:00:00');"));
    let grown = ingest_url(&db, &url, &["--columns", COLUMNS]);
    assert_eq!((n(&grown, "rows_read"), n(&grown, "rows_loaded"), n(&grown, "db_rows")), (2, 2, 42), "{grown}");
    mysql(&format!("DROP DATABASE {name};"));
}

#[test]
fn a_postgres_table_and_a_query() {
    let dir = tempfile::tempdir().unwrap();
    let want = reference(dir.path());
    let name = format!("ecomm_src_{}", std::process::id());
    psql("postgres", &format!("DROP DATABASE IF EXISTS {name}"));
    psql("postgres", &format!("CREATE DATABASE {name}"));
    psql(
        &name,
        &format!(
            "CREATE TABLE events (id bigserial PRIMARY KEY, uid bigint, sku bigint, cat integer, action text, ts timestamptz);
             INSERT INTO events (uid, sku, cat, action, ts) VALUES {};",
            values(&|t| format!("to_timestamp({t})")).join(",")
        ),
    );
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}?table=events");
    let db = dir.path().join("p.duckdb");
    let s = ingest_url(&db, &url, &["--columns", COLUMNS]);
    assert_eq!((n(&s, "rows_read"), n(&s, "rows_loaded"), n(&s, "rejected.malformed")), (41, 40, 1), "{s}");
    assert!(analysis(&db) == want, "the PostgreSQL table's analysis differs from the CSV's");
    assert!(reject_lines(&s)[0].contains(",6,"), "{:?}", reject_lines(&s));
    assert_eq!(ingest_url(&db, &url, &["--columns", COLUMNS])["unchanged"], Value::Bool(true));
    // A query as the source (no primary key: positions count rows), into a new DB.
    let q = format!("postgres://postgres@127.0.0.1:5432/{name}?query=SELECT%20uid%2C%20sku%2C%20cat%2C%20action%2C%20ts%20FROM%20events%20WHERE%20uid%20IS%20NOT%20NULL");
    let db2 = dir.path().join("q.duckdb");
    let s = ingest_url(&db2, &q, &["--columns", COLUMNS]);
    assert_eq!((n(&s, "rows_read"), n(&s, "rows_loaded")), (40, 40), "{s}");
    assert!(analysis(&db2) == want, "the query's analysis differs");
    // A wrong column name names what the table has.
    let out =
        ecomm().args(["ingest", &url, "--db"]).arg(dir.path().join("x.duckdb")).args(["--columns", "user_id=nope"]).assert().failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("'nope'") && err.contains("uid"), "{err}");
    psql("postgres", &format!("DROP DATABASE {name}"));
}
