//! `ecomm sync-mysql` against the real MariaDB server on 127.0.0.1:3306 (root, empty password).
//! Each test uses its own database and drops it at the end. The local_infile fallback test flips a
//! server-wide setting, so it takes the write side of a lock that the other tests hold for reading.

mod common;
use common::*;
use mysql::prelude::Queryable;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

static SERVER: RwLock<()> = RwLock::new(());
const ROOT: &str = "mysql://root@127.0.0.1:3306";

fn root() -> mysql::Conn {
    mysql::Conn::new(mysql::Opts::from_url(ROOT).unwrap()).expect("MariaDB on 127.0.0.1:3306 (root, no password); .ci/run starts it")
}

/// A test database that is dropped on drop.
struct TestDb {
    name: String,
}

impl TestDb {
    fn new(tag: &str) -> TestDb {
        let name = format!("ecomm_t_{tag}_{}", std::process::id());
        root().query_drop(format!("DROP DATABASE IF EXISTS `{name}`")).unwrap();
        TestDb { name }
    }
    fn url(&self) -> String {
        format!("{ROOT}/{}", self.name)
    }
    fn conn(&self) -> mysql::Conn {
        let mut c = root();
        c.query_drop(format!("USE `{}`", self.name)).unwrap();
        c
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = root().query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name));
    }
}

fn sync(db: &Path, url: &str, extra: &[&str]) -> serde_json::Value {
    let out = ecomm()
        .arg("sync-mysql")
        .arg("--db")
        .arg(db)
        .args(["--mysql", url, "--json"])
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

fn counts(c: &mut mysql::Conn) -> Vec<(String, u64)> {
    c.query("SELECT CAST(behavior_type AS CHAR), count(*) FROM user_behavior GROUP BY behavior_type ORDER BY behavior_type").unwrap()
}

fn duck_db(dir: &Path, files: &[PathBuf]) -> PathBuf {
    let db = dir.join("s.duckdb");
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    ingest(&db, &refs, &[]);
    db
}

#[test]
fn full_then_incremental_then_full_and_the_funnel_matches() {
    let _g = SERVER.read().unwrap();
    let t = TestDb::new("inc");
    let d = tempfile::tempdir().unwrap();
    let db = duck_db(d.path(), &[real("1k")]);
    let s = sync(&db, &t.url(), &[]);
    assert_eq!(s["mode"], "full");
    assert_eq!(s["method"], "load_data");
    assert_eq!(s["verified"], true);
    assert_eq!(n(&s, "tables.0.rows"), 1000);
    let mut c = t.conn();
    assert_eq!(counts(&mut c), vec![("pv".into(), 906), ("fav".into(), 43), ("cart".into(), 28), ("buy".into(), 23)]);
    let users: u64 = c.query_first("SELECT count(*) FROM user_summary").unwrap().unwrap();
    assert_eq!(users, 11);

    // A second ingest adds a batch; only that batch is sent.
    ingest(&db, &[&real("4k")], &[]);
    let s = sync(&db, &t.url(), &[]);
    assert_eq!(s["mode"], "incremental");
    assert_eq!(s["batches"], serde_json::json!([2]));
    assert_eq!(n(&s, "tables.0.rows"), 3320);
    assert_eq!(n(&s, "tables.0.mirror_rows"), 4320);
    // Nothing new: nothing sent.
    let s = sync(&db, &t.url(), &[]);
    assert_eq!(n(&s, "tables.0.rows"), 0);
    let s = sync(&db, &t.url(), &["--full"]);
    assert_eq!(s["mode"], "full");
    assert_eq!(n(&s, "tables.0.mirror_rows"), 4320);

    // The funnel computed in MySQL equals ecomm analyze.
    let m = analyze(&db, &[]);
    let mut c = t.conn();
    let rows: Vec<(String, u64, u64)> = c
        .query("SELECT CAST(behavior_type AS CHAR), count(*), count(DISTINCT user_id) FROM user_behavior GROUP BY behavior_type ORDER BY behavior_type")
        .unwrap();
    let ours: Vec<(String, u64, u64)> =
        m["funnel"].as_array().unwrap().iter().map(|s| (s["stage"].as_str().unwrap().to_string(), n(s, "events"), n(s, "users"))).collect();
    assert_eq!(rows, ours);
    // Indexes exist, everything is utf8mb4.
    let idx: Vec<String> = c.query("SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'user_behavior' ORDER BY 1").unwrap();
    assert_eq!(idx, vec!["idx_behavior_type", "idx_date", "idx_user_id"]);
    // Loaded in 8 parallel streams (the default), one partition each, every row in the partition of
    // user_id mod 8 (EXCHANGE PARTITION checked it; counted again here).
    let parts: Vec<(String, u64)> = c
        .query("SELECT partition_name, partition_ordinal_position FROM information_schema.partitions WHERE table_schema = DATABASE() AND table_name = 'user_behavior' ORDER BY 2")
        .unwrap();
    assert_eq!(parts.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"]);
    for k in 0..8u64 {
        let (inside, should): (u64, u64) = c
            .query_first(format!(
                "SELECT (SELECT count(*) FROM user_behavior PARTITION (p{k})), (SELECT count(*) FROM user_behavior WHERE user_id % 8 = {k})"
            ))
            .unwrap()
            .unwrap();
        assert_eq!(inside, should, "partition p{k}");
    }
    let cs: Vec<String> =
        c.query("SELECT DISTINCT table_collation FROM information_schema.tables WHERE table_schema = DATABASE()").unwrap();
    assert!(cs.iter().all(|x| x.starts_with("utf8mb4")), "{cs:?}");
    // After ingest --replace the mirror is rebuilt, not appended to.
    ingest(&db, &[&real("1k")], &["--replace"]);
    let s = sync(&db, &t.url(), &[]);
    assert_eq!(s["mode"], "full");
    assert_eq!(n(&s, "tables.0.mirror_rows"), 1000);
}

#[test]
fn extreme_ids_and_every_behaviour_round_trip() {
    let _g = SERVER.read().unwrap();
    let t = TestDb::new("ids");
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("x.csv");
    let max = i64::MAX;
    std::fs::write(
        &csv,
        format!(
            "{max},{max},{max},pv,{a}\n{max},{max},{max},fav,{b}\n0,0,0,cart,{a}\n{m1},1,{m1},buy,{b}\n",
            a = bj(0, 0, 0, 0),
            b = bj(1, 23, 59, 59),
            m1 = max - 1
        ),
    )
    .unwrap();
    let db = duck_db(d.path(), &[csv]);
    // 3 streams: i64::MAX goes to stream 1 (its id mod 3), i64::MAX - 1 and 0 to stream 0; stream 2
    // stays empty.
    let s = sync(&db, &t.url(), &["--streams", "3"]);
    assert_eq!(s["verified"], true);
    let parts: u64 = t
        .conn()
        .query_first("SELECT count(*) FROM information_schema.partitions WHERE table_schema = DATABASE() AND table_name = 'user_behavior'")
        .unwrap()
        .unwrap();
    assert_eq!(parts, 3);
    let mut c = t.conn();
    type Row = (i64, i64, i64, String, i64, String, String, u8);
    let rows: Vec<Row> = c
        .query("SELECT user_id, item_id, category_id, CAST(behavior_type AS CHAR), `timestamp`, CAST(`time` AS CHAR), CAST(`date` AS CHAR), `hour` FROM user_behavior ORDER BY `timestamp`, behavior_type")
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (max, max, max, "pv".into(), bj(0, 0, 0, 0), "2017-11-25 00:00:00".into(), "2017-11-25".into(), 0),
            (0, 0, 0, "cart".into(), bj(0, 0, 0, 0), "2017-11-25 00:00:00".into(), "2017-11-25".into(), 0),
            (max, max, max, "fav".into(), bj(1, 23, 59, 59), "2017-11-26 23:59:59".into(), "2017-11-26".into(), 23),
            (max - 1, 1, max - 1, "buy".into(), bj(1, 23, 59, 59), "2017-11-26 23:59:59".into(), "2017-11-26".into(), 23),
        ]
    );
    let seg: Option<String> = c.query_first(format!("SELECT segment FROM user_summary WHERE user_id = {}", max - 1)).unwrap().unwrap();
    assert!(seg.is_some());
}

/// (rows in user_behavior, events counted by user_summary, rows the sync log records).
fn mirror_state(c: &mut mysql::Conn) -> (u64, u64, u64) {
    let ub: u64 = c.query_first("SELECT count(*) FROM user_behavior").unwrap().unwrap();
    let us: u64 = c
        .query_first("SELECT CAST(COALESCE(SUM(pv_count + fav_count + cart_count + buy_count), 0) AS UNSIGNED) FROM user_summary")
        .unwrap()
        .unwrap();
    let log: u64 = c.query_first("SELECT CAST(COALESCE(SUM(`rows`), 0) AS UNSIGNED) FROM ecomm_sync_log").unwrap().unwrap();
    (ub, us, log)
}

#[test]
fn killed_sync_leaves_exactly_the_old_or_the_new_mirror() {
    let _g = SERVER.read().unwrap();
    // Each kill point of an incremental and of a full sync, from the same old mirror (1k rows)
    // towards the same new data (4,320 rows).
    let points = [
        ("summary_staged", false),
        ("before_commit", false),
        ("in_commit", false),
        ("after_commit", false),
        ("summary_staged", true),
        ("after_stream", true),
        ("before_rename", true),
        ("after_rename", true),
    ];
    for (point, full) in points {
        let t = TestDb::new(&format!("kill_{point}_{full}"));
        let d = tempfile::tempdir().unwrap();
        let db = duck_db(d.path(), &[real("1k")]);
        sync(&db, &t.url(), &[]);
        ingest(&db, &[&real("4k")], &[]);
        let marker = d.path().join("marker");
        let mut args =
            vec!["sync-mysql".to_string(), "--db".into(), db.to_string_lossy().into(), "--mysql".into(), t.url(), "--quiet".into()];
        if full {
            args.push("--full".into());
        }
        kill_at_marker(&args, "ECOMM_TEST_SYNC_PAUSE", &format!("{point}:{}", marker.display()), &marker);
        let (ub, us, log) = mirror_state(&mut t.conn());
        assert!(ub == 1000 || ub == 4320, "a kill at {point} (full: {full}) left {ub} rows");
        assert_eq!((us, log), (ub, ub), "a kill at {point} (full: {full}) tore the mirror: behaviour {ub}, summary {us}, log {log}");
        let new = matches!(point, "after_commit" | "after_rename");
        assert_eq!(ub, if new { 4320 } else { 1000 }, "a kill at {point} (full: {full})");
        // The next sync cleans up (the stages, the per-stream tables) and completes.
        let s = sync(&db, &t.url(), &[]);
        assert_eq!(n(&s, "tables.0.mirror_rows"), 4320);
        let mut c = t.conn();
        assert_eq!(mirror_state(&mut c), (4320, 4320, 4320));
        let tables: Vec<String> =
            c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1").unwrap();
        assert_eq!(tables, vec!["ecomm_sync_log", "user_behavior", "user_summary"]);
    }
}

#[test]
fn a_port_that_is_not_mysql_fails_fast_with_its_address() {
    let d = tempfile::tempdir().unwrap();
    let db = duck_db(d.path(), &[real("1k")]);
    let dbs = db.to_str().unwrap();
    // A silent listener (accepts, never speaks) and one that answers like Redis.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let chatty = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let chatty_port = chatty.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::Write;
        for mut c in chatty.incoming().flatten() {
            let _ = c.write_all(b"-ERR unknown command\r\n");
        }
    });
    let t0 = std::time::Instant::now();
    let url = format!("mysql://root@127.0.0.1:{silent_port}/ecomm_x");
    let err = fails(&["sync-mysql", "--db", dbs, "--mysql", &url, "--timeout", "2"]);
    assert!(t0.elapsed().as_secs() < 20, "took {:?}", t0.elapsed());
    assert!(err.contains(&format!("127.0.0.1:{silent_port} is not a MySQL server")) && err.contains("within 2 s"), "{err}");
    assert_eq!(err.trim().lines().count(), 2, "the URL line and one error line: {err}");
    let url = format!("mysql://root@127.0.0.1:{chatty_port}/ecomm_x");
    let err = fails(&["sync-mysql", "--db", dbs, "--mysql", &url]);
    assert!(err.contains(&format!("127.0.0.1:{chatty_port} is not a MySQL server")), "{err}");
    drop(silent);
    // An empty database name is refused, not read as the default.
    let err = fails(&["sync-mysql", "--db", dbs, "--mysql", "mysql://root@127.0.0.1:3306/"]);
    assert!(err.contains("names no database"), "{err}");
}

#[test]
fn falls_back_to_insert_when_local_infile_is_off() {
    let _g = SERVER.write().unwrap();
    let t = TestDb::new("noinfile");
    let d = tempfile::tempdir().unwrap();
    let db = duck_db(d.path(), &[real("4k")]);
    let mut r = root();
    let before: String = r.query_first("SELECT @@GLOBAL.local_infile").unwrap().unwrap();
    r.query_drop("SET GLOBAL local_infile = 0").unwrap();
    let out = ecomm().arg("sync-mysql").arg("--db").arg(&db).args(["--mysql", &t.url(), "--json"]).assert().get_output().clone();
    r.query_drop(format!("SET GLOBAL local_infile = {}", if before == "1" || before.eq_ignore_ascii_case("on") { 1 } else { 0 })).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("falling back to multi-row INSERT"), "{stderr}");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["method"], "insert");
    assert_eq!(n(&s, "tables.0.mirror_rows"), 4320);
    assert_eq!(s["verified"], true);
}

#[test]
fn clear_errors_for_bad_url_password_and_privileges() {
    let _g = SERVER.read().unwrap();
    let d = tempfile::tempdir().unwrap();
    let db = duck_db(d.path(), &[real("1k")]);
    let dbs = db.to_str().unwrap();
    let err = fails(&["sync-mysql", "--db", dbs, "--mysql", "mysql://root@127.0.0.1:1/ecomm_x"]);
    assert!(err.contains("cannot reach MySQL at 127.0.0.1:1"), "{err}");
    let err = fails(&["sync-mysql", "--db", dbs, "--mysql", "postgres://nope"]);
    assert!(err.contains("bad MySQL URL"), "{err}");
    let err = fails(&["sync-mysql", "--db", dbs, "--mysql", "mysql://root:wrong-password@127.0.0.1:3306/ecomm_x"]);
    assert!(err.contains("MySQL refused user 'root'"), "{err}");
    assert!(!err.contains("wrong-password"), "the password leaked: {err}");

    // A user who may only read.
    let t = TestDb::new("priv");
    let user = format!("ecomm_ro_{}", std::process::id());
    let mut r = root();
    r.query_drop(format!("DROP USER IF EXISTS '{user}'@'%'")).unwrap();
    r.query_drop(format!("DROP USER IF EXISTS '{user}'@'localhost'")).unwrap();
    r.query_drop(format!("CREATE DATABASE `{}`", t.name)).unwrap();
    for host in ["%", "localhost"] {
        r.query_drop(format!("CREATE USER '{user}'@'{host}' IDENTIFIED BY 'pw'")).unwrap();
        r.query_drop(format!("GRANT SELECT ON `{}`.* TO '{user}'@'{host}'", t.name)).unwrap();
    }
    let err = fails(&["sync-mysql", "--db", dbs, "--mysql", &format!("mysql://{user}:pw@127.0.0.1:3306/{}", t.name)]);
    for host in ["%", "localhost"] {
        r.query_drop(format!("DROP USER IF EXISTS '{user}'@'{host}'")).unwrap();
    }
    assert!(err.contains(&format!("MySQL user '{user}' lacks a privilege")) && err.contains("GRANT CREATE"), "{err}");
    let err = fails(&["sync-mysql", "--db", dbs]);
    assert!(err.contains("no MySQL URL") || err.contains("cannot reach"), "{err}");
}

#[test]
fn docker_compose_file_is_valid() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docker-compose.yml")).unwrap();
    let y: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let svc = &y["services"]["mysql"];
    assert!(svc["image"].as_str().unwrap().starts_with("mysql:8.0"));
    let cmd: Vec<&str> = svc["command"].as_sequence().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(cmd.contains(&"--local-infile=1"));
    assert!(cmd.contains(&"--character-set-server=utf8mb4"));
    assert_eq!(svc["ports"][0].as_str().unwrap(), "3306:3306");
    assert!(svc["healthcheck"]["test"].as_sequence().is_some());
    assert!(svc["volumes"][0].as_str().unwrap().starts_with("ecomm-mysql-data:"));
    assert!(y["volumes"].as_mapping().unwrap().contains_key("ecomm-mysql-data"));
    assert_eq!(svc["environment"]["MYSQL_DATABASE"].as_str().unwrap(), "ecommerce_analysis");
    // The init script that creates the sync account (tested above against MariaDB).
    assert_eq!(svc["volumes"][1].as_str().unwrap(), "./docker/mysql-init:/docker-entrypoint-initdb.d:ro");
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/mysql-init/01-ecomm-user.sql").is_file());
}

#[test]
fn the_seed_projects_own_queries_run_on_the_mirror() {
    let _g = SERVER.read().unwrap();
    let t = TestDb::new("seed");
    let d = tempfile::tempdir().unwrap();
    let db = duck_db(d.path(), &[real("100k")]);
    sync(&db, &t.url(), &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed_clients/seed_queries.py");
    let out = std::process::Command::new(seed_python())
        .arg(&script)
        .arg(format!("mysql+pymysql://root@127.0.0.1:3306/{}", t.name))
        .args(["2017-12-01", "2017-12-03"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = analyze(&db, &[]);
    let cols: Vec<&str> = v["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(
        &cols[..9],
        ["user_id", "item_id", "category_id", "behavior_type", "timestamp", "time", "date", "hour", "behavior_name"],
        "the seed's columns, in its order"
    );
    assert_eq!(v["behavior_names"], serde_json::json!(["加购", "收藏", "浏览", "购买"]));
    // Users per stage and events per hour, as the seed computes them.
    for (k, (name, stage)) in [("浏览", "pv"), ("收藏", "fav"), ("加购", "cart"), ("购买", "buy")].into_iter().enumerate() {
        assert_eq!(m["funnel"][k]["stage"], stage);
        assert_eq!(n(&v, &format!("users_per_stage.{name}")), n(&m, &format!("funnel.{k}.users")), "{stage}");
    }
    for h in 0..24 {
        let ours: u64 = ["pv", "fav", "cart", "buy"].iter().map(|b| n(&m, &format!("hourly.{h}.{b}"))).sum();
        assert_eq!(v["events_per_hour"][h.to_string()].as_u64().unwrap_or(0), ours, "hour {h} (Beijing time)");
    }
    assert_eq!(n(&v, "rows"), n(&m, "totals.events"));
    assert_eq!(n(&v, "rows_2017_11_25_to_12_03"), n(&m, "totals.events"));
    let f = analyze(&db, &["--from", "2017-12-01", "--to", "2017-12-03"]);
    assert_eq!(n(&v, "rows_filtered"), n(&f, "totals.events"));
    assert_eq!(n(&v, "users_filtered"), n(&f, "totals.users"));
    // user_summary: buyers and buy_count, and last_buy_time checked against the raw file.
    assert_eq!(n(&v, "summary_rows"), n(&m, "totals.users"));
    assert_eq!(n(&v, "buyers"), n(&m, "repurchase.buyers"));
    assert_eq!(n(&v, "repeat_buyers"), n(&m, "repurchase.repeat_buyers"));
    assert_eq!(n(&v, "buy_events"), n(&m, "funnel.3.events"));
    let mut last: std::collections::BTreeMap<String, i64> = Default::default();
    for line in std::fs::read_to_string(real("100k")).unwrap().lines() {
        let f: Vec<&str> = line.split(',').collect();
        let Ok(ts) = f[4].trim().parse::<i64>() else { continue };
        if f[3] == "buy" && (bj(0, 0, 0, 0)..bj(9, 0, 0, 0)).contains(&ts) {
            let e = last.entry(f[0].to_string()).or_insert(ts);
            *e = (*e).max(ts);
        }
    }
    let want: serde_json::Map<String, serde_json::Value> = last
        .into_iter()
        .map(|(u, ts)| {
            let local = chrono::DateTime::from_timestamp(ts + 8 * 3600, 0).unwrap().naive_utc();
            (u, serde_json::Value::from(local.format("%Y-%m-%d %H:%M:%S").to_string()))
        })
        .collect();
    assert_eq!(v["last_buy_time"], serde_json::Value::Object(want), "last_buy_time is the last buy in Beijing time");
}

#[test]
fn the_compose_accounts_privileges_are_enough_for_every_sync() {
    let _g = SERVER.read().unwrap();
    let t = TestDb::new("grants");
    let user = format!("ecomm_sync_{}", std::process::id());
    let sql = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/mysql-init/01-ecomm-user.sql")).unwrap();
    let mut r = root();
    for host in ["%", "localhost"] {
        r.query_drop(format!("DROP USER IF EXISTS '{user}'@'{host}'")).unwrap();
        // The compose file's statements, for this test's user, host and database.
        for stmt in sql.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join(" ").split(';').filter(|s| !s.trim().is_empty()) {
            r.query_drop(stmt.replace("'ecomm'@'%'", &format!("'{user}'@'{host}'")).replace("ecommerce_analysis", &t.name)).unwrap();
        }
    }
    let d = tempfile::tempdir().unwrap();
    let db = duck_db(d.path(), &[real("1k")]);
    let url = format!("mysql://{user}:ecomm@127.0.0.1:3306/{}", t.name);
    let full = sync(&db, &url, &[]);
    ingest(&db, &[&real("4k")], &[]);
    let inc = sync(&db, &url, &[]);
    let again = sync(&db, &url, &["--full"]);
    for host in ["%", "localhost"] {
        r.query_drop(format!("DROP USER IF EXISTS '{user}'@'{host}'")).unwrap();
    }
    assert_eq!((full["mode"].as_str(), inc["mode"].as_str(), again["mode"].as_str()), (Some("full"), Some("incremental"), Some("full")));
    assert_eq!(full["method"], "load_data");
    assert_eq!(mirror_state(&mut t.conn()), (4320, 4320, 4320));
}
