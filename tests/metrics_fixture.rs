//! Every metric on a hand-checkable fixture. The expected numbers were worked out by hand from
//! the rows below (see the comments), not by running ecomm.

mod common;
use common::*;
use serde_json::json;

#[test]
fn every_metric_matches_the_hand_count() {
    let (_d, db) = setup();
    let m = analyze(&db, &[]);
    assert_eq!(m["totals"], json!({"events": 16, "users": 5, "items": 7, "categories": 5}));
    let funnel: Vec<(String, u64, u64)> =
        m["funnel"].as_array().unwrap().iter().map(|s| (s["stage"].as_str().unwrap().to_string(), n(s, "events"), n(s, "users"))).collect();
    assert_eq!(funnel, vec![("pv".into(), 8, 5), ("fav".into(), 1, 1), ("cart".into(), 2, 2), ("buy".into(), 5, 2)]);
    let rates: Vec<(f64, f64)> = m["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["rate_from_prev"].as_f64().unwrap(), s["rate_from_first"].as_f64().unwrap()))
        .collect();
    assert_eq!(rates, vec![(1.0, 1.0), (0.2, 0.2), (2.0, 0.4), (1.0, 0.4)]);
    assert_eq!(m["kpis"]["pv_to_buy_conversion"].as_f64().unwrap(), 0.4);

    let hourly = m["hourly"].as_array().unwrap();
    assert_eq!(hourly.len(), 24);
    let nonzero: Vec<(u64, u64, u64, u64, u64)> = hourly
        .iter()
        .map(|h| (n(h, "hour"), n(h, "pv"), n(h, "fav"), n(h, "cart"), n(h, "buy")))
        .filter(|h| h.1 + h.2 + h.3 + h.4 > 0)
        .collect();
    assert_eq!(nonzero, vec![(0, 1, 0, 0, 0), (9, 1, 0, 0, 0), (10, 1, 0, 1, 1), (20, 1, 0, 0, 1), (21, 3, 1, 1, 3), (23, 1, 0, 0, 0)]);
    assert_eq!(n(&m, "kpis.peak_hour"), 21);

    assert_eq!(
        m["daily"],
        json!([
            {"date": "2017-11-25", "users": 3, "pv": 3, "fav": 1, "cart": 1, "buy": 1},
            {"date": "2017-11-26", "users": 2, "pv": 2, "fav": 0, "cart": 0, "buy": 2},
            {"date": "2017-11-27", "users": 3, "pv": 3, "fav": 0, "cart": 1, "buy": 2},
        ])
    );
    // 11-25: users 1,2,5 -> only user 1 on 11-26. 11-26: users 1,3 -> only user 3 on 11-27.
    assert_eq!(
        m["retention"],
        json!([
            {"date": "2017-11-25", "cohort": 3, "retained": 1, "rate": 1.0 / 3.0},
            {"date": "2017-11-26", "cohort": 2, "retained": 1, "rate": 0.5},
        ])
    );
    assert_eq!(m["repurchase"], json!({"buyers": 2, "repeat_buyers": 2, "rate": 1.0}));
    assert_eq!(m["top_categories"], json!([{"category_id": 10, "buys": 3}, {"category_id": 30, "buys": 2}]));

    // RFM at range end 11-27. user 1: R=1, F=2, M=2; user 3: R=0, F=3, M=2.
    // R quantiles over {0,1} = 0.2,0.4,0.6,0.8: user 3 scores R5, user 1 R1. F over {2,3}: 2.2..2.8:
    // user 3 F5, user 1 F1. -> user 3 champions, user 1 hibernating.
    assert_eq!(n(&m, "rfm.buyers"), 2);
    let segs: Vec<(String, u64)> =
        m["rfm"]["segments"].as_array().unwrap().iter().map(|s| (s["segment"].as_str().unwrap().to_string(), n(s, "users"))).collect();
    assert_eq!(
        segs,
        vec![("champions".into(), 1), ("loyal".into(), 0), ("potential".into(), 0), ("at_risk".into(), 0), ("hibernating".into(), 1)]
    );
    assert_eq!(m["rfm"]["thresholds"]["recency"], json!([0.2, 0.4, 0.6, 0.8]));
    assert_eq!(m["kpis"]["avg_day1_retention"].as_f64().unwrap(), (1.0 / 3.0 + 0.5) / 2.0);
}

#[test]
fn a_date_range_restricts_every_metric() {
    let (_d, db) = setup();
    let m = analyze(&db, &["--from", "2017-11-26", "--to", "2017-11-26"]);
    assert_eq!(m["totals"], json!({"events": 4, "users": 2, "items": 2, "categories": 1}));
    assert_eq!(m["retention"], json!([]));
    // On 11-26 alone both buyers bought once: no repeat buyers; both R=0, F=1 -> equal scores.
    assert_eq!(m["repurchase"], json!({"buyers": 2, "repeat_buyers": 0, "rate": 0.0}));
    assert_eq!(n(&m, "rfm.buyers"), 2);
    assert_eq!(m["top_categories"], json!([{"category_id": 10, "buys": 2}]));
}

#[test]
fn user_summary_holds_one_row_per_user() {
    let (_d, db) = setup();
    let conn = duckdb::Connection::open(&db).unwrap();
    type Row = (i64, i64, i64, Option<i64>, Option<i64>, Option<i64>, Option<String>, i64, i64);
    let rows: Vec<Row> = conn
        .prepare("SELECT user_id, pv, buy, recency_days, frequency, monetary, segment, active_days, distinct_items FROM user_summary ORDER BY user_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0], (1, 2, 2, Some(1), Some(2), Some(2), Some("hibernating".into()), 2, 2));
    assert_eq!(rows[1], (2, 2, 0, None, None, None, None, 2, 2));
    assert_eq!(rows[2], (3, 2, 3, Some(0), Some(3), Some(2), Some("champions".into()), 2, 2));
    let first: String = conn.query_row("SELECT first_event_at::VARCHAR FROM user_summary WHERE user_id = 5", [], |r| r.get(0)).unwrap();
    assert_eq!(first, "2017-11-25 00:00:00");
}

#[test]
fn table_output_in_both_languages() {
    let (_d, db) = setup();
    for lang in ["en", "zh"] {
        let out = ecomm().args(["analyze", "--lang", lang, "--db"]).arg(&db).assert().success().get_output().stdout.clone();
        let text = String::from_utf8(out).unwrap();
        insta::assert_snapshot!(format!("analyze_table_{lang}"), text);
    }
}

/// `ecomm analyze --format json` forced onto the per-day rollups (no day bitmaps).
fn analyze_without_bitmaps(db: &std::path::Path, args: &[&str]) -> serde_json::Value {
    analyze_env(db, args, &[("ECOMM_NO_BITMAPS", "1")])
}

#[test]
fn bitmap_rollups_and_per_day_rollups_agree() {
    // Distinct users/items come from day bitmaps when the window is short; the per-day rollups are the
    // fallback. Both must give identical results, for the whole window and for sub-ranges.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    for range in [vec![], vec!["--from", "2017-11-27", "--to", "2017-12-01"], vec!["--from", "2017-12-03"]] {
        let fast = analyze(&db, &range);
        let slow = analyze_without_bitmaps(&db, &range);
        assert_eq!(fast, slow, "range {range:?}");
    }
}

#[test]
fn stored_rfm_equals_rfm_computed_from_the_buys() {
    // Whole window with every buy kept: RFM is read from user_summary instead of grouping the buys.
    // It must be the same answer, to the last digit, on the real sample and on the hand fixture;
    // and a sub-range or a category (computed path) must still differ where the data says so.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    let (_d, fixture) = setup();
    for db in [&db, &fixture] {
        for args in [vec![], vec!["--behavior", "pv,buy"], vec!["--behavior", "buy"]] {
            let stored = analyze(db, &args);
            let computed = analyze_env(db, &args, &[("ECOMM_NO_STORED_RFM", "1")]);
            assert_eq!(stored, computed, "{args:?}");
            assert!(n(&stored, "rfm.buyers") > 0);
        }
    }
    let whole = analyze(&db, &[]);
    let part = analyze(&db, &["--from", "2017-12-01"]);
    assert!(n(&part, "rfm.buyers") < n(&whole, "rfm.buyers"));
}

#[test]
fn filters_match_the_hand_count() {
    let (_d, db) = setup();
    // Behaviours pv,buy: 8 pv + 5 buy events; every user has a pv; fav and cart are 0, so
    // buy's rate from the previous stage (cart) is 0 and from pv 2/5.
    let m = analyze(&db, &["--behavior", "buy,pv"]);
    assert_eq!(m["filter"], json!({"behaviors": ["pv", "buy"], "categories": []}));
    assert_eq!(m["totals"], json!({"events": 13, "users": 5, "items": 7, "categories": 5}));
    let funnel: Vec<(u64, u64)> = m["funnel"].as_array().unwrap().iter().map(|s| (n(s, "events"), n(s, "users"))).collect();
    assert_eq!(funnel, vec![(8, 5), (0, 0), (0, 0), (5, 2)]);
    assert_eq!(m["funnel"][3]["rate_from_prev"], json!(0.0));
    assert_eq!(m["funnel"][3]["rate_from_first"], json!(0.4));
    // Category 10: user 1's five rows and user 3's two on day 1.
    let m = analyze(&db, &["--category", "10"]);
    assert_eq!(m["totals"], json!({"events": 7, "users": 2, "items": 2, "categories": 1}));
    let funnel: Vec<(u64, u64)> = m["funnel"].as_array().unwrap().iter().map(|s| (n(s, "events"), n(s, "users"))).collect();
    assert_eq!(funnel, vec![(3, 2), (0, 0), (1, 1), (3, 2)]);
    // Buyers 1 and 3; user 1 bought twice in the category.
    assert_eq!(m["repurchase"], json!({"buyers": 2, "repeat_buyers": 1, "rate": 0.5}));
    // Day 0: {1}, day 1: {1, 3}, day 2: nobody in category 10.
    let ret: Vec<(u64, u64)> = m["retention"].as_array().unwrap().iter().map(|r| (n(r, "cohort"), n(r, "retained"))).collect();
    assert_eq!(ret, vec![(1, 1), (2, 0)]);
    assert_eq!(m["top_categories"], json!([{"category_id": 10, "buys": 3}]));
    // Both filters: category 10's buys only.
    let m = analyze(&db, &["--category", "10", "--behavior", "buy"]);
    assert_eq!(m["totals"], json!({"events": 3, "users": 2, "items": 2, "categories": 1}));
    assert_eq!((n(&m, "kpis.pv"), n(&m, "kpis.buys"), n(&m, "kpis.buyers")), (0, 3, 2));
    assert_eq!(m["kpis"]["pv_to_buy_conversion"], json!(0.0));
    // Unfiltered JSON carries no filter key; all four behaviours is no filter.
    assert!(analyze(&db, &[]).get("filter").is_none());
    assert!(analyze(&db, &["--behavior", "pv,fav,cart,buy"]).get("filter").is_none());
    // Clear errors.
    let db_s = db.to_str().unwrap();
    assert!(fails(&["analyze", "--db", db_s, "--category", "999"]).contains("category 999 has no events"));
    assert!(fails(&["analyze", "--db", db_s, "--behavior", "click"]).contains("click"));
    assert!(fails(&["analyze", "--db", db_s, "--category", "abc"]).contains("abc"));
}

/// The real 100k sample with only the rows `keep` accepts, as a CSV in `dir`.
fn filtered_copy(dir: &std::path::Path, name: &str, keep: impl Fn(&str, &str) -> bool) -> std::path::PathBuf {
    let text = std::fs::read_to_string(real("100k")).unwrap();
    let rows: String = text
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.trim_end().split(',').collect();
            f.len() == 5 && keep(f[3], f[2])
        })
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    let p = dir.join(name);
    std::fs::write(&p, rows).unwrap();
    p
}

#[test]
fn a_filter_equals_a_db_holding_only_the_kept_events() {
    // The definition of a filter: every metric as if the DB held only the matching events.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("all.duckdb");
    let s = ingest(&db, &[&real("100k")], &[]);
    let (start, end) = (s["window"]["start"].as_str().unwrap().to_string(), s["window"]["end"].as_str().unwrap().to_string());
    let all = analyze(&db, &[]);
    let top = all["top_categories"][0]["category_id"].as_i64().unwrap().to_string();
    let second = all["top_categories"][1]["category_id"].as_i64().unwrap().to_string();
    let cases: Vec<(Vec<&str>, Vec<&str>, Vec<&str>)> = vec![
        (vec!["pv", "buy"], vec![], vec![]),
        (vec!["cart"], vec![], vec!["--from", "2017-11-28", "--to", "2017-12-02"]),
        (vec![], vec![&top], vec![]),
        (vec!["buy", "fav"], vec![&top, &second], vec!["--from", "2017-12-01"]),
    ];
    for (i, (behaviors, cats, range)) in cases.iter().enumerate() {
        let csv = filtered_copy(dir.path(), &format!("only{i}.csv"), |b, c| {
            (behaviors.is_empty() || behaviors.contains(&b)) && (cats.is_empty() || cats.contains(&c))
        });
        let only = dir.path().join(format!("only{i}.duckdb"));
        ingest(&only, &[&csv], &["--start", &start, "--end", &end]);
        let mut args: Vec<String> = range.iter().map(|s| s.to_string()).collect();
        if !behaviors.is_empty() {
            args.extend(["--behavior".into(), behaviors.join(",")]);
        }
        if !cats.is_empty() {
            args.extend(["--category".into(), cats.join(",")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut filtered = analyze(&db, &args);
        assert!(filtered["filter"].is_object(), "case {i}");
        filtered.as_object_mut().unwrap().remove("filter");
        let expected = analyze(&only, range);
        assert_eq!(filtered, expected, "case {i}: {args:?}");
        // The per-day fallback (no day bitmaps) agrees too.
        let mut slow = analyze_without_bitmaps(&db, &args);
        slow.as_object_mut().unwrap().remove("filter");
        assert_eq!(slow, expected, "case {i} without bitmaps");
    }
}

/// Lifecycle on the fixture. Active users: 11-25 {1, 2, 5}, 11-26 {1, 3}, 11-27 {2, 3, 4}; first
/// seen: users 1, 2, 5 on 11-25, user 3 on 11-26, user 4 on 11-27.
/// - 11-25: everybody is new (3).
/// - 11-26: user 1 returning, user 3 new; users 2 and 5 dormant.
/// - 11-27: user 3 returning, user 4 new, user 2 resurrecting (inactive on 11-26, first seen
///   before it); user 1 dormant.
#[test]
fn lifecycle_matches_the_hand_count() {
    let (_d, db) = setup();
    let day = |d: &str, new: u64, returning: u64, resurrecting: u64, dormant: u64| {
        json!({"date": d, "new": new, "returning": returning, "resurrecting": resurrecting, "dormant": dormant,
               "active": new + returning + resurrecting})
    };
    assert_eq!(
        analyze(&db, &[])["lifecycle"],
        json!([day("2017-11-25", 3, 0, 0, 0), day("2017-11-26", 1, 1, 0, 2), day("2017-11-27", 1, 1, 1, 1)])
    );
    // Buys only: user 1 buys on 11-25 and 11-26, user 3 on 11-26 and 11-27.
    assert_eq!(
        analyze(&db, &["--behavior", "buy"])["lifecycle"],
        json!([day("2017-11-25", 1, 0, 0, 0), day("2017-11-26", 1, 1, 0, 0), day("2017-11-27", 0, 1, 0, 1)])
    );
    // Category 10: user 1 on 11-25 and 11-26, user 3 on 11-26 only; nobody on 11-27.
    assert_eq!(
        analyze(&db, &["--category", "10"])["lifecycle"],
        json!([day("2017-11-25", 1, 0, 0, 0), day("2017-11-26", 1, 1, 0, 0), day("2017-11-27", 0, 0, 0, 2)])
    );
    // From 11-26 on, "first seen" starts there: users 1 and 3 are new on 11-26, user 2 new on 11-27.
    assert_eq!(analyze(&db, &["--from", "2017-11-26"])["lifecycle"], json!([day("2017-11-26", 2, 0, 0, 0), day("2017-11-27", 2, 1, 0, 1)]));
}

#[test]
fn lifecycle_adds_up_on_the_real_sample() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    let m = analyze(&db, &[]);
    let days = m["lifecycle"].as_array().unwrap();
    assert_eq!(days.len(), m["daily"].as_array().unwrap().len());
    for (i, d) in days.iter().enumerate() {
        // new + returning + resurrecting = the day's active users = the daily UV.
        assert_eq!(n(d, "new") + n(d, "returning") + n(d, "resurrecting"), n(d, "active"));
        assert_eq!(n(d, "active"), n(&m["daily"][i], "users"));
        if i > 0 {
            // Yesterday's active users either came back (returning) or not (dormant).
            assert_eq!(n(d, "returning") + n(d, "dormant"), n(&days[i - 1], "active"));
        }
    }
    // Each user is new exactly once.
    assert_eq!(days.iter().map(|d| n(d, "new")).sum::<u64>(), n(&m["totals"], "users"));
}

/// Sessions on the fixture (30-minute gap). User 1: [pv cart buy] on 11-25 (600 s), [pv buy] on 11-26
/// (60 s). User 2: [pv fav] on 11-25 with a gap of exactly 30 minutes (one session, 1800 s), [pv] on
/// 11-27. User 3: [pv buy] on 11-26 (600 s), [pv cart buy buy] on 11-27 (420 s; path pv → cart →
/// buy). Users 4 and 5: one pv each. 8 sessions of 5 users; durations 0,0,0,60,420,600,600,1800
/// (median 240); events 1,1,1,2,2,2,3,4 (median 2); 4 with a buy; both cart sessions bought; the 4
/// sessions without a buy end on fav once and pv three times.
#[test]
fn sessions_and_paths_match_the_hand_count() {
    let (_d, db) = setup();
    let s = &analyze(&db, &[])["sessions"];
    assert_eq!(n(s, "sessions"), 8);
    assert_eq!(s["sessions_per_user"], 1.6);
    assert_eq!(s["median_duration_s"], 240.0);
    assert_eq!(s["median_events"], 2.0);
    assert_eq!(s["buy_share"], 0.5);
    assert_eq!(s["cart_abandonment"], 0.0);
    assert_eq!(s["exits"], json!({"pv": 0.75, "fav": 0.25, "cart": 0.0}));
    assert_eq!(
        s["top_paths"],
        json!([
            {"path": "pv", "sessions": 3, "share": 0.375},
            {"path": "pv → buy", "sessions": 2, "share": 0.25},
            {"path": "pv → cart → buy", "sessions": 2, "share": 0.25},
            {"path": "pv → fav", "sessions": 1, "share": 0.125}
        ])
    );
    // Carts only: user 1's and user 3's carts are their sessions' only kept events, never bought.
    let c = &analyze(&db, &["--behavior", "cart"])["sessions"];
    assert_eq!((n(c, "sessions"), c["cart_abandonment"].as_f64().unwrap()), (2, 1.0));
    assert_eq!(c["exits"]["cart"], 1.0);
}

/// Long paths are cut after 6 nodes; equal timestamps sort pv before buy; a gap of 30 minutes and
/// one second starts a new session.
#[test]
fn session_paths_are_cut_and_ties_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("s.csv");
    let mut rows = String::new();
    // User 7: pv fav pv fav pv fav pv, a minute apart: 7 nodes.
    for (m, b) in ["pv", "fav", "pv", "fav", "pv", "fav", "pv"].iter().enumerate() {
        rows += &format!("7,70,1,{b},{}\n", bj(0, 12, m as i64, 0));
    }
    // User 8: buy and pv of one item in the same second, then a pv 30 min 1 s later.
    rows += &format!("8,80,1,buy,{}\n8,80,1,pv,{}\n8,81,1,pv,{}\n", bj(0, 9, 0, 0), bj(0, 9, 0, 0), bj(0, 9, 30, 1));
    std::fs::write(&csv, rows).unwrap();
    let db = dir.path().join("s.duckdb");
    ingest(&db, &[&csv], &["--start", "2017-11-25", "--end", "2017-11-25"]);
    let s = &analyze(&db, &[])["sessions"];
    let paths: Vec<(String, u64)> =
        s["top_paths"].as_array().unwrap().iter().map(|p| (p["path"].as_str().unwrap().to_string(), n(p, "sessions"))).collect();
    assert_eq!(paths, vec![("pv".into(), 1), ("pv → buy".into(), 1), ("pv → fav → pv → fav → pv → fav → …".into(), 1)]);
    assert_eq!(n(s, "sessions"), 3);
}
