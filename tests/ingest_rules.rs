//! Every cleaning rule and reject reason on hand-written input, window edges, DST, the real
//! samples, idempotence, --replace and atomicity.

mod common;
use common::*;
use serde_json::json;
use std::path::Path;

/// Lines are numbered in the comments; expected outcomes were decided by reading the rules.
fn dirty_bytes() -> Vec<u8> {
    let mut b: Vec<u8> = Vec::new();
    let mut line = |s: &[u8]| {
        b.extend_from_slice(s);
        b.extend_from_slice(b"\r\n");
    };
    line(b"\xEF\xBB\xBFuser_id,item_id,category_id,behavior_type,timestamp"); // 1 BOM + header: not a row
    line(format!("1,100,10,pv,{}", bj(0, 10, 0, 0)).as_bytes()); // 2 loaded
    line(b""); // 3 blank: not a row
    line(format!("1,100,10,pv,{}", bj(0, 10, 0, 0)).as_bytes()); // 4 duplicate of 2
    line(format!(" 2 , 200 , 20 , PV , {}", bj(0, 10, 1, 40)).as_bytes()); // 5 loaded (trimmed, case)
    line(format!("3,300,30,click,{}", bj(0, 10, 0, 0)).as_bytes()); // 6 bad_behavior
    line(b"4,400,40,pv"); // 7 malformed: 4 fields
    line(format!("5,500,50,pv,{},9", bj(0, 10, 0, 0)).as_bytes()); // 8 malformed: 6 fields
    line(format!("-6,600,60,pv,{}", bj(0, 10, 0, 0)).as_bytes()); // 9 malformed: negative id
    line(b"7,700,70,buy,abc"); // 10 malformed: timestamp
    line(format!("8,800,80,pv,{}", bj(0, 0, 0, 0) - 1).as_bytes()); // 11 out_of_window: 1 s before
    line(format!("9,900,90,pv,{}", bj(3, 0, 0, 0)).as_bytes()); // 12 out_of_window: 1 s after the end
    line(format!("10,1000,100,pv,{}", bj(2, 23, 59, 59)).as_bytes()); // 13 loaded: last second
    line(format!("11,1100,110,cart,{}", bj(0, 0, 0, 0)).as_bytes()); // 14 loaded: first second
    line(format!(" 2 , 200 , 20 , pv , {}", bj(0, 10, 1, 40)).as_bytes()); // 15 duplicate of 5
    line(b"12,1200,120,xx,-5"); // 16 bad_behavior (rule 3 before rule 4)
    line(b"13,\xff\xfe,1,pv,1"); // 17 malformed: invalid UTF-8
    line(format!("9223372036854775807,1,1,fav,{}", bj(1, 0, 0, 0)).as_bytes()); // 18 loaded: i64::MAX
    line(b"14,1,1,buy,9223372036854775807"); // 19 out_of_window (far future, i64::MAX)
    b
}

fn window_args() -> Vec<&'static str> {
    vec!["--start", "2017-11-25", "--end", "2017-11-27"]
}

#[test]
fn each_rule_counts_and_keeps_its_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("dirty.csv");
    std::fs::write(&csv, dirty_bytes()).unwrap();
    let db = dir.path().join("d.duckdb");
    let s = ingest(&db, &[&csv], &window_args());
    assert_eq!(n(&s, "rows_read"), 17);
    assert_eq!(n(&s, "rows_loaded"), 5);
    assert_eq!(s["rejected"], json!({"malformed": 5, "bad_behavior": 2, "out_of_window": 3, "duplicate": 2}));
    assert_eq!(s["window"], json!({"start": "2017-11-25", "end": "2017-11-27", "timezone": "Asia/Shanghai"}));
    let rej_path = s["rejects_file"].as_str().unwrap();
    assert_eq!(Path::new(rej_path), dir.path().join("d.rejects.csv"));
    let text = std::fs::read_to_string(rej_path).unwrap();
    let mut lines: Vec<(String, u64, String)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.splitn(5, ',').collect();
            (f[1].to_string(), f[3].parse().unwrap(), f[4].trim_matches('"').to_string())
        })
        .collect();
    lines.sort_by_key(|l| l.1);
    let got: Vec<(&str, u64)> = lines.iter().map(|(r, l, _)| (r.as_str(), *l)).collect();
    assert_eq!(
        got,
        vec![
            ("duplicate", 4),
            ("bad_behavior", 6),
            ("malformed", 7),
            ("malformed", 8),
            ("malformed", 9),
            ("malformed", 10),
            ("out_of_window", 11),
            ("out_of_window", 12),
            ("duplicate", 15),
            ("bad_behavior", 16),
            ("malformed", 17),
            ("out_of_window", 19),
        ]
    );
    // Raw text is kept as it was (trimming and case included), invalid UTF-8 as U+FFFD.
    assert_eq!(lines.iter().find(|l| l.1 == 15).unwrap().2, format!(" 2 , 200 , 20 , pv , {}", bj(0, 10, 1, 40)));
    assert_eq!(lines.iter().find(|l| l.1 == 4).unwrap().2, format!("1,100,10,pv,{}", bj(0, 10, 0, 0)));
    assert!(lines.iter().find(|l| l.1 == 17).unwrap().2.contains('\u{FFFD}'));

    // The loaded rows, normalised, with local date and hour.
    let conn = duckdb::Connection::open(&db).unwrap();
    let rows: Vec<(i64, String, i64, String, i64)> = conn
        .prepare("SELECT user_id, behavior_type::VARCHAR, ts, event_date::VARCHAR, event_hour FROM user_behavior ORDER BY ts, user_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (11, "cart".into(), bj(0, 0, 0, 0), "2017-11-25".into(), 0),
            (1, "pv".into(), bj(0, 10, 0, 0), "2017-11-25".into(), 10),
            (2, "pv".into(), bj(0, 10, 1, 40), "2017-11-25".into(), 10),
            (i64::MAX, "fav".into(), bj(1, 0, 0, 0), "2017-11-26".into(), 0),
            (10, "pv".into(), bj(2, 23, 59, 59), "2017-11-27".into(), 23),
        ]
    );
    // The ingest log has the file with its counts.
    let (read, loaded, mal, dup): (i64, i64, i64, i64) = conn
        .query_row("SELECT rows_read, rows_loaded, malformed, duplicate FROM ingest_log", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap();
    assert_eq!((read, loaded, mal, dup), (17, 5, 5, 2));
}

#[test]
fn gzip_input_gives_the_same_result() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("dirty.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    enc.write_all(&dirty_bytes()).unwrap();
    enc.finish().unwrap();
    let s = ingest(&dir.path().join("g.duckdb"), &[&gz], &window_args());
    assert_eq!(n(&s, "rows_loaded"), 5);
    assert_eq!(s["rejected"], json!({"malformed": 5, "bad_behavior": 2, "out_of_window": 3, "duplicate": 2}));
}

#[test]
fn new_york_dst_and_window_edges() {
    // DST starts 2021-03-14 02:00 EST -> 03:00 EDT. Window 03-13..03-15 in America/New_York:
    // [2021-03-13 05:00:00Z, 2021-03-16 04:00:00Z).
    let rows = [
        (1, 1_615_611_599i64), // 03-12 23:59:59 EST: out
        (2, 1_615_611_600),    // 03-13 00:00:00 EST: first second, hour 0
        (3, 1_615_705_199),    // 03-14 01:59:59 EST: hour 1
        (4, 1_615_705_200),    // 03-14 03:00:00 EDT: hour 3 (02:xx does not exist)
        (5, 1_615_867_199),    // 03-15 23:59:59 EDT: last second, hour 23
        (6, 1_615_867_200),    // 03-16 00:00:00 EDT: out
    ];
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ny.csv");
    std::fs::write(&csv, rows.iter().map(|(u, t)| format!("{u},1,1,pv,{t}\n")).collect::<String>()).unwrap();
    let db = dir.path().join("ny.duckdb");
    let s = ingest(&db, &[&csv], &["--start", "2021-03-13", "--end", "2021-03-15", "--tz", "America/New_York"]);
    assert_eq!(n(&s, "rows_loaded"), 4);
    assert_eq!(n(&s, "rejected.out_of_window"), 2);
    let m = analyze(&db, &[]);
    let hours: Vec<u64> = m["hourly"].as_array().unwrap().iter().filter(|h| n(h, "pv") > 0).map(|h| n(h, "hour")).collect();
    assert_eq!(hours, vec![0, 1, 3, 23]);
    let daily: Vec<u64> = m["daily"].as_array().unwrap().iter().map(|d| n(d, "pv")).collect();
    assert_eq!(daily, vec![1, 2, 1]);
    assert_eq!(m["range"]["timezone"], "America/New_York");
}

#[test]
fn fixed_offset_zone() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("f.csv");
    // 2017-11-24 16:00:00Z is 2017-11-25 00:00 at +08:00 and 2017-11-24 16:00 in UTC.
    std::fs::write(&csv, "1,1,1,pv,1511539200\n").unwrap();
    let s = ingest(&dir.path().join("a.duckdb"), &[&csv], &["--tz", "+08:00"]);
    assert_eq!(s["window"], json!({"start": "2017-11-25", "end": "2017-11-25", "timezone": "+08:00"}));
    let s = ingest(&dir.path().join("b.duckdb"), &[&csv], &["--tz", "UTC"]);
    assert_eq!(s["window"]["start"], "2017-11-24");
}

#[test]
fn real_100k_crlf_sample_detects_the_public_window() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.duckdb");
    let s = ingest(&db, &[&real("100k")], &[]);
    // Figures from ../shared/data/real/PROVENANCE.md (Beijing window).
    assert_eq!(n(&s, "rows_read"), 100_001);
    assert_eq!(n(&s, "rows_loaded"), 99_957);
    assert_eq!(s["rejected"], json!({"malformed": 0, "bad_behavior": 0, "out_of_window": 44, "duplicate": 0}));
    assert_eq!(s["window"], json!({"start": "2017-11-25", "end": "2017-12-03", "timezone": "Asia/Shanghai"}));
    assert_eq!(s["window_detected"], true);
    let m = analyze(&db, &[]);
    let ev: Vec<u64> = m["funnel"].as_array().unwrap().iter().map(|s| n(s, "events")).collect();
    let us: Vec<u64> = m["funnel"].as_array().unwrap().iter().map(|s| n(s, "users")).collect();
    assert_eq!(ev, vec![89_666, 2_744, 5_446, 2_101]);
    assert_eq!(us, vec![980, 363, 723, 671]);
    assert_eq!(n(&m, "totals.users"), 983);
    assert_eq!(n(&m, "repurchase.buyers"), 671);
    assert_eq!(n(&m, "repurchase.repeat_buyers"), 442);
    let top: Vec<(u64, u64)> =
        m["top_categories"].as_array().unwrap().iter().take(3).map(|c| (n(c, "category_id"), n(c, "buys"))).collect();
    assert_eq!(top, vec![(2_735_466, 38), (1_464_116, 35), (4_145_813, 29)]);
    let daily: Vec<u64> = m["daily"].as_array().unwrap().iter().map(|d| n(d, "pv") + n(d, "fav") + n(d, "cart") + n(d, "buy")).collect();
    assert_eq!(daily, vec![10_063, 10_400, 9_820, 10_461, 10_588, 10_300, 11_431, 13_679, 13_215]);
    let pv_peak = m["hourly"].as_array().unwrap().iter().max_by_key(|h| n(h, "pv")).unwrap();
    assert_eq!(n(pv_peak, "hour"), 21);
}

#[test]
fn reingest_is_idempotent_and_overlaps_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("i.duckdb");
    let a = ingest(&db, &[&real("1k")], &[]);
    assert_eq!(n(&a, "rows_loaded"), 1000);
    let again = ingest(&db, &[&real("1k")], &[]);
    assert_eq!(again["unchanged"], true);
    assert_eq!(n(&again, "rows_loaded"), 0);
    assert_eq!(n(&again, "db_rows"), 1000);
    // The 4k file starts with the 1k file's rows: those are duplicates of the earlier ingest.
    let b = ingest(&db, &[&real("4k")], &[]);
    assert_eq!(n(&b, "rows_read"), 4321);
    assert_eq!(n(&b, "rejected.duplicate"), 1000);
    assert_eq!(n(&b, "rejected.out_of_window"), 1);
    assert_eq!(n(&b, "rows_loaded"), 3320);
    assert_eq!(n(&b, "db_rows"), 4320);
    // The window came from the first ingest and stays.
    assert_eq!(b["window"]["start"], a["window"]["start"]);
    let m = analyze(&db, &[]);
    assert_eq!(n(&m, "totals.events"), 4320);
    // --replace rebuilds from the given files only.
    let r = ingest(&db, &[&real("1k")], &["--replace"]);
    assert_eq!(n(&r, "db_rows"), 1000);
    assert_eq!(n(&analyze(&db, &[]), "totals.events"), 1000);
    // The rejects file follows the DB: after --replace it holds no rows of earlier ingests.
    let rej = std::fs::read_to_string(r["rejects_file"].as_str().unwrap()).unwrap();
    assert_eq!(rej.lines().count(), 1, "header only: {rej}");
}

#[test]
fn killed_ingest_leaves_the_db_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.duckdb");
    ingest(&db, &[&real("1k")], &[]);
    let marker = dir.path().join("paused");
    // Everything is loaded but not committed when the hook pauses: kill it there.
    let args: Vec<String> = vec!["ingest".into(), real("100k").to_string_lossy().into(), "--db".into(), db.to_string_lossy().into()];
    kill_at_marker(&args, "ECOMM_TEST_PAUSE_BEFORE_COMMIT", &marker.to_string_lossy(), &marker);
    let m = analyze(&db, &[]);
    assert_eq!(n(&m, "totals.events"), 1000);
    let conn = duckdb::Connection::open(&db).unwrap();
    let logs: i64 = conn.query_row("SELECT count(*) FROM ingest_log", [], |r| r.get(0)).unwrap();
    assert_eq!(logs, 1);
    drop(conn);
    // And the same ingest, not killed, goes through afterwards.
    let s = ingest(&db, &[&real("100k")], &[]);
    assert_eq!(n(&s, "db_rows"), 99_957);
}

#[test]
fn killed_at_a_random_moment_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.duckdb");
    ingest(&db, &[&real("1k")], &["--start", "2017-11-25", "--end", "2017-12-03"]);
    for (i, delay_ms) in [60u64, 150, 300, 500, 800].into_iter().enumerate() {
        let csv = dir.path().join(format!("g{i}.csv"));
        ecomm().args(["gen", "--rows", "400000", "--seed", &(100 + i).to_string(), "--out"]).arg(&csv).assert().success();
        let before = n(&analyze(&db, &[]), "totals.events");
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ecomm"))
            .arg("ingest")
            .arg(&csv)
            .arg("--db")
            .arg(&db)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        let after = n(&analyze(&db, &[]), "totals.events");
        // Either nothing of this ingest is visible, or all of it (with its log row).
        let conn = duckdb::Connection::open(&db).unwrap();
        let logged: Option<i64> = conn
            .query_row("SELECT sum(rows_loaded)::BIGINT FROM ingest_log WHERE file = ?", [csv.to_str().unwrap()], |r| r.get(0))
            .unwrap();
        match logged {
            None => assert_eq!(after, before, "kill at {delay_ms} ms left rows without a log entry"),
            Some(k) => assert_eq!(after, before + k as u64, "kill at {delay_ms} ms: torn ingest"),
        }
    }
}

#[test]
fn folders_and_globs() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("in");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("a.csv"), format!("1,1,1,pv,{}\n", bj(0, 1, 0, 0))).unwrap();
    std::fs::write(sub.join("b.csv"), format!("2,1,1,pv,{}\n", bj(0, 2, 0, 0))).unwrap();
    std::fs::write(sub.join("notes.txt"), "not data").unwrap();
    let s = ingest(&dir.path().join("f.duckdb"), &[&sub], &[]);
    assert_eq!(n(&s, "rows_loaded"), 2);
    let pattern = format!("{}/*.csv", sub.display());
    let s = ingest(&dir.path().join("g.duckdb"), &[Path::new(&pattern)], &[]);
    assert_eq!(n(&s, "rows_loaded"), 2);
}

#[test]
fn the_on_disk_stage_gives_the_same_results() {
    // Large inputs are staged in the DB file instead of memory; force that path on small data.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("dirty.csv");
    std::fs::write(&csv, dirty_bytes()).unwrap();
    let db = dir.path().join("disk.duckdb");
    let run = |files: &[&Path], extra: &[&str]| ingest_env(&db, files, extra, &[("ECOMM_STAGE", "disk")]);
    let s = run(&[&csv], &window_args());
    assert_eq!(n(&s, "rows_loaded"), 5);
    assert_eq!(s["rejected"], json!({"malformed": 5, "bad_behavior": 2, "out_of_window": 3, "duplicate": 2}));
    let r = run(&[&real("4k")], &[]);
    // The 4k sample's rows outside 11-25..11-27 are out of this DB's window.
    assert_eq!(n(&r, "rows_read"), 4321);
    assert_eq!(n(&r, "rows_loaded") + n(&r, "rejected.out_of_window"), 4321);
    let s = run(&[&real("100k")], &["--replace"]);
    assert_eq!(n(&s, "rows_loaded"), 99_957);
    assert_eq!(n(&s, "rejected.out_of_window"), 44);
    assert_eq!(n(&analyze(&db, &[]), "totals.events"), 99_957);
}

#[test]
fn user_summary_counted_in_slices_is_the_same() {
    // Beyond 15 M rows the distinct items per user are counted in slices of users (one DISTINCT
    // over 100 M rows ran out of memory); force slices of 10,000 rows on the real 100k sample.
    let dir = tempfile::tempdir().unwrap();
    let read = |db: &Path| -> Vec<(i64, i64, i64)> {
        let c = duckdb::Connection::open(db).unwrap();
        let mut st = c.prepare("SELECT user_id, distinct_items, active_days FROM user_summary ORDER BY user_id").unwrap();
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
        rows.map(|r| r.unwrap()).collect()
    };
    let (one, sliced) = (dir.path().join("one.duckdb"), dir.path().join("sliced.duckdb"));
    ingest(&one, &[&real("100k")], &[]);
    ingest_env(&sliced, &[&real("100k")], &[], &[("ECOMM_SUMMARY_SLICE_ROWS", "10000")]);
    let (a, b) = (read(&one), read(&sliced));
    assert_eq!(a.len(), 983);
    assert_eq!(a, b);
}
