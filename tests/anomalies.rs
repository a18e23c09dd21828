//! The anomaly alerts (`anomalies`): a hand-checkable fixture, the filters and short ranges, and
//! the real 100k sample against an independent pandas reference (`tests/reference/anomalies.py`).

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// 9 dates (2017-11-25..12-03, Beijing). At 10:00 each date has pv events from distinct users:
/// 38, 40, 42, 40, 39, 41, 40, 40 on the first eight dates and 100 on 12-03; one buy a day at
/// 15:00 by user 1.
fn fixture_csv(dir: &Path) -> std::path::PathBuf {
    let per_day = [38, 40, 42, 40, 39, 41, 40, 40, 100];
    let mut rows = String::new();
    let mut user = 1000;
    for (day, n) in per_day.iter().enumerate() {
        for k in 0..*n {
            user += 1;
            rows.push_str(&format!("{user},{},7,pv,{}\n", 500 + k, bj(day as i64, 10, 0, k)));
        }
        rows.push_str(&format!("1,900,8,buy,{}\n", bj(day as i64, 15, 0, 0)));
    }
    let csv = dir.join("spike.csv");
    std::fs::write(&csv, rows).unwrap();
    csv
}

#[test]
fn a_spike_by_hand() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("a.duckdb");
    ingest(&db, &[&fixture_csv(d.path())], &[]);
    let a = &analyze(&db, &[])["anomalies"];
    // Baseline of 12-03 = the other eight dates: 38 40 42 40 39 41 40 40 → median 40; |x − 40| =
    // 2 0 2 0 1 1 0 0 → MAD 0.5; z = (100 − 40) / (1.4826 · 0.5) = 80.939…; +150 %. The same
    // numbers make the daily pv series and the daily UV (one user per pv, plus user 1 every day:
    // UV = pv + 1, median 41, z = 60 / 0.7413). The other dates are not flagged: e.g. 11-27 (42)
    // against 38 40 40 39 41 40 40 100 has median 40, MAD 0.5, z = 2.70.
    let z = 60.0 / (1.4826 * 0.5);
    assert_eq!(a["hourly_checked"], true);
    assert_eq!(a["daily_checked"], true);
    assert_eq!(a["daily_low_data"], true, "8 other dates < 14");
    assert_eq!(n(a, "flagged"), 3, "{a}");
    let top = a["top"].as_array().unwrap();
    let got: Vec<(&str, &str, Value)> =
        top.iter().map(|x| (x["series"].as_str().unwrap(), x["behavior"].as_str().unwrap(), x["hour"].clone())).collect();
    // Equal |z|: daily before hourly, then behaviour in funnel order (pv before uv).
    assert_eq!(got, [("daily", "pv", Value::Null), ("daily", "uv", Value::Null), ("hourly", "pv", Value::from(10))]);
    for x in top {
        assert_eq!(x["date"], "2017-12-03");
        assert!((float(&x["z"]) - z).abs() < 1e-9, "{x}");
        assert_eq!(x["direction"], "spike");
    }
    assert_eq!((n(&top[0], "value"), float(&top[0]["median"]), float(&top[0]["change"])), (100, 40.0, 1.5));
    assert_eq!((n(&top[1], "value"), float(&top[1]["median"])), (101, 41.0));
    assert_eq!(top[2]["text"]["zh"], "12-03 10:00 的浏览量 100，是同时段中位数的 2.5 倍");
    assert_eq!(top[2]["text"]["en"], "Page views at 12-03 10:00: 100, 2.5× the median of the same hour on the other dates");
    assert_eq!(top[0]["text"]["zh"], "12-03 的浏览量 100，是其他日期中位数的 2.5 倍");
    // The buys (one a day, every day) are never flagged: median 1 < 20 and MAD 0 with mean |d| 0.

    // Filters remove events first: without pv nothing is left to flag but the buys.
    let a = &analyze(&db, &["--behavior", "buy"])["anomalies"];
    assert_eq!(n(a, "flagged"), 0);
    // A range of 5 dates checks the hourly series only (4 other dates), not the daily one (needs 6).
    let a = &analyze(&db, &["--from", "2017-11-29"])["anomalies"];
    assert_eq!((a["hourly_checked"].clone(), a["daily_checked"].clone(), n(a, "flagged")), (Value::from(true), Value::from(false), 1));
    // 4 dates: no baseline at all.
    let a = &analyze(&db, &["--from", "2017-11-30"])["anomalies"];
    assert_eq!((a["hourly_checked"].clone(), a["daily_checked"].clone(), n(a, "flagged")), (Value::from(false), Value::from(false), 0));
    // The table and the LLM's fact sheet get the count and the top slots.
    let out = ecomm().args(["analyze", "--lang", "en", "--db"]).arg(&db).assert().success().get_output().stdout.clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("Anomalies") && out.contains("Flagged slots"), "{out}");
}

#[test]
fn the_real_sample_matches_an_independent_pandas_reference() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("r.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    let m = analyze(&db, &[]);
    let (from, to) = (m["range"]["from"].as_str().unwrap(), m["range"]["to"].as_str().unwrap());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/anomalies.py");
    let out = std::process::Command::new(seed_python()).arg(&script).arg(real("100k")).args([from, to]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The reference keeps the same events.
    assert_eq!(n(&r, "events"), n(&m, "totals.events"));
    let a = &m["anomalies"];
    assert!(n(a, "flagged") > 0, "the real sample has flagged slots");
    assert_eq!(n(a, "flagged"), n(&r, "flagged"));
    let (mine, theirs) = (a["top"].as_array().unwrap(), r["top"].as_array().unwrap());
    assert_eq!(mine.len(), theirs.len());
    for (x, y) in mine.iter().zip(theirs) {
        for k in ["series", "behavior", "date", "hour", "value"] {
            assert_eq!(x[k], y[k], "{k}: {x} vs {y}");
        }
        assert!((float(&x["median"]) - float(&y["median"])).abs() < 1e-9 && (float(&x["z"]) - float(&y["z"])).abs() < 1e-9, "{x} vs {y}");
    }
}
