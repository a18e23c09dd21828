//! The journey analyses (issue 14) on hand-checkable fixtures: the ordered funnel with its time
//! to convert and breakdowns, cohort retention, the journey options and their errors. The
//! expected numbers were worked out by hand from the rows (see the comments), not by running ecomm.

mod common;
use common::*;
use serde_json::{json, Value};

fn stages(f: &Value) -> Vec<u64> {
    f["stages"].as_array().unwrap().iter().map(|s| n(s, "keys")).collect()
}

fn hist(f: &Value) -> Vec<u64> {
    f["histogram"].as_array().unwrap().iter().map(|b| n(b, "keys")).collect()
}

/// Default steps pv, fav|cart, buy, window 1 day, key user, on the shared fixture:
/// - user 1: pv 10:00 → cart 10:05 → buy 10:10 on 11-25: level 3, T2 = 300 s, T3 = 600 s;
/// - user 2: pv 21:00 → fav 21:30 on 11-25, never buys: level 2, T2 = 1800 s;
/// - user 3: pv → buy on 11-26 (no step 2 between), then pv 21:00 → cart 21:05 → buy 21:06 on
///   11-27: level 3, T2 = 300 s, T3 = 360 s (the 11-26 pv is more than a day before the cart);
/// - users 4 and 5: one pv each: level 1.
///
/// Keys 5, 3, 2. T2 over [300, 300, 1800]: median 300, p90 = 300 + 0.8·1500 = 1500, mean 800.
/// T3 over [360, 600]: median 480, p90 = 360 + 0.9·240 = 576, mean 480. T3 buckets: 360 s in
/// [1,10 min), 600 s in [10,60 min).
#[test]
fn ordered_funnel_matches_the_hand_count() {
    let (_d, db) = setup();
    let f = &analyze(&db, &[])["ordered_funnel"];
    assert_eq!(f["steps"], json!(["pv", "fav|cart", "buy"]));
    assert_eq!((f["by"].as_str(), f["window_s"].as_i64()), (Some("user"), Some(86_400)));
    assert_eq!(stages(f), vec![5, 3, 2]);
    let s = &f["stages"];
    assert_eq!(
        (s[1]["rate_from_first"].as_f64(), s[2]["rate_from_prev"].as_f64(), n(s, "1.drop_off"), n(s, "2.drop_off")),
        (Some(0.6), Some(2.0 / 3.0), 2, 1)
    );
    assert_eq!(s[0]["time_to_convert"], Value::Null);
    assert_eq!(s[1]["time_to_convert"], json!({"median_s": 300.0, "p90_s": 1500.0, "mean_s": 800.0}));
    assert_eq!(s[2]["time_to_convert"], json!({"median_s": 480.0, "p90_s": 576.0, "mean_s": 480.0}));
    assert_eq!(hist(f), vec![0, 1, 1, 0, 0, 0, 0]);
    assert_eq!(f["breakdown"], Value::Null);

    // A 5-minute window: user 1 reaches the cart at exactly 300 s (allowed) but buys at 600 s;
    // user 2's fav comes after 1800 s; user 3's buy after 360 s. Keys 5, 2, 0.
    let f = &analyze(&db, &["--funnel-window", "5m"])["ordered_funnel"];
    assert_eq!(stages(f), vec![5, 2, 0]);
    assert_eq!(f["stages"][2]["time_to_convert"], Value::Null);

    // Buys only: no key starts a pv step.
    assert_eq!(stages(&analyze(&db, &["--behavior", "buy"])["ordered_funnel"]), vec![0, 0, 0]);
    // Two steps pv, buy with no window: users 1 and 3 buy after a pv. User 1: 600 s on 11-25,
    // 60 s on 11-26 → T2 = 60; user 3: 600 s on 11-26, 360 s on 11-27 → 360. Median 210.
    let f = &analyze(&db, &["--funnel-steps", "pv,buy", "--funnel-window", "none"])["ordered_funnel"];
    assert_eq!(stages(f), vec![5, 2]);
    assert_eq!(f["stages"][1]["time_to_convert"]["median_s"], 210.0);
}

/// (user, item) keys: user 1 item 100 pv → cart → buy (level 3) and item 101 pv → buy (level 1:
/// no step 2 on that item); user 2 item 200 pv → fav (2), item 201 pv (1); user 3 item 100 pv →
/// buy (1), item 300 pv → cart → buy (3); users 4 and 5 one pv each (1). Keys 8, 3, 2.
/// By category (the key's first pv): 10 holds (1,100), (1,101), (3,100) → 3, 1, 1; 20 holds (2,200),
/// (2,201) → 2, 1, 0; 30 → 1, 1, 1; 40 and 50 → 1, 0, 0.
#[test]
fn item_keys_and_the_category_breakdown() {
    let (_d, db) = setup();
    let f = &analyze(&db, &["--funnel-by", "item", "--funnel-breakdown", "category"])["ordered_funnel"];
    assert_eq!(stages(f), vec![8, 3, 2]);
    let groups: Vec<(String, Vec<u64>)> = f["breakdown"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["group"].as_str().unwrap().to_string(), g["keys"].as_array().unwrap().iter().map(|k| k.as_u64().unwrap()).collect()))
        .collect();
    let want: Vec<(String, Vec<u64>)> = [("10", [3, 1, 1]), ("20", [2, 1, 0]), ("30", [1, 1, 1]), ("40", [1, 0, 0]), ("50", [1, 0, 0])]
        .iter()
        .map(|(g, k)| (g.to_string(), k.to_vec()))
        .collect();
    assert_eq!(groups, want);
    // (user, category) keys: user 1 category 10 (3), user 2 category 20 (2), user 3 category 10
    // (pv → buy: 1) and 30 (3), users 4 and 5 (1 each). Keys 6, 3, 2.
    assert_eq!(stages(&analyze(&db, &["--funnel-by", "category"])["ordered_funnel"]), vec![6, 3, 2]);
}

/// The segment breakdown: users 2, 4 and 5 never bought (non_buyer: keys 3, 1, 0); buyers 1 and 3
/// reach step 3 (whatever their segment, the segments add up to 2, 2, 2).
#[test]
fn segment_breakdown_adds_up() {
    let (_d, db) = setup();
    let g = &analyze(&db, &["--funnel-breakdown", "segment"])["ordered_funnel"]["breakdown"];
    assert_eq!(g["by"], "segment");
    let groups = g["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 6);
    let last = &groups[5];
    assert_eq!((last["group"].as_str(), last["keys"].clone()), (Some("non_buyer"), json!([3, 1, 0])));
    let mut sum = [0u64; 3];
    for g in &groups[..5] {
        for (s, k) in sum.iter_mut().zip(g["keys"].as_array().unwrap()) {
            *s += k.as_u64().unwrap();
        }
    }
    assert_eq!(sum, [2, 2, 2]);
}

/// Steps pv, cart, buy within 1 hour, all on 2017-11-25:
/// - user 11: pv, cart and buy in the same second: level 3, T2 = T3 = 0 (equal times allowed);
/// - user 12: pv 00:00, cart 02:00 (out of the window), then pv 03:00, cart 03:30, buy 03:45:
///   the chain restarts: level 3, T2 = 1800, T3 = 2700;
/// - user 13: its only cart (01:00) precedes its pv (01:10): level 1;
/// - user 14: overlapping chains: pv 05:00, pv 05:20, cart 05:50, buy 06:10; from 05:00 the buy
///   is 70 min away, from 05:20 50 min: level 3, T2 = 1800 (05:20 → 05:50), T3 = 3000.
///
/// Keys 4, 3, 3. T2 over [0, 1800, 1800]: median 1800, p90 1800, mean 1200. T3 over
/// [0, 2700, 3000]: median 2700, p90 = 2700 + 0.8·300 = 2940, mean 1900. Buckets: 0 s in
/// [0,1 min), 2700 and 3000 s in [10,60 min).
#[test]
fn ordered_funnel_edge_cases() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("e.csv");
    let rows = [
        (11, "buy", (0, 0)),
        (11, "cart", (0, 0)),
        (11, "pv", (0, 0)),
        (12, "pv", (0, 0)),
        (12, "cart", (2, 0)),
        (12, "pv", (3, 0)),
        (12, "cart", (3, 30)),
        (12, "buy", (3, 45)),
        (13, "cart", (1, 0)),
        (13, "pv", (1, 10)),
        (14, "pv", (5, 0)),
        (14, "pv", (5, 20)),
        (14, "cart", (5, 50)),
        (14, "buy", (6, 10)),
    ];
    let text: String = rows.iter().map(|(u, b, (h, m))| format!("{u},{u}0,1,{b},{}\n", bj(0, *h, *m, 0))).collect();
    std::fs::write(&csv, text).unwrap();
    let db = dir.path().join("e.duckdb");
    ingest(&db, &[&csv], &["--start", "2017-11-25", "--end", "2017-11-25"]);
    let f = &analyze(&db, &["--funnel-steps", "pv,cart,buy", "--funnel-window", "1h"])["ordered_funnel"];
    assert_eq!(stages(f), vec![4, 3, 3]);
    assert_eq!(f["stages"][1]["time_to_convert"], json!({"median_s": 1800.0, "p90_s": 1800.0, "mean_s": 1200.0}));
    assert_eq!(f["stages"][2]["time_to_convert"], json!({"median_s": 2700.0, "p90_s": 2940.0, "mean_s": 1900.0}));
    assert_eq!(hist(f), vec![1, 0, 2, 0, 0, 0, 0]);
    // Reversed steps, cart then pv: user 11 (same second), user 12 (cart 02:00 → pv 03:00, exactly
    // the hour) and user 13 (cart 01:00 → pv 01:10) reach step 2; user 14 views only before its cart.
    let f = &analyze(&db, &["--funnel-steps", "cart,pv", "--funnel-window", "1h"])["ordered_funnel"];
    assert_eq!(stages(f), vec![4, 3]);
}

/// Cohorts on the shared fixture. Active: 11-25 {1, 2, 5}, 11-26 {1, 3}, 11-27 {2, 3, 4}.
/// - 11-25 cohort {1, 2, 5}: D0 3, D1 1 (user 1), D2 1 (user 2); unbounded 3, 2 (users 1, 2), 1.
/// - 11-26 cohort {3}: 1, 1; unbounded 1, 1. 11-27 cohort {4}: 1; unbounded 1.
/// - Pooled: D0 5/5; D1 (cohorts 25, 26) 2/4, unbounded 3/4; D2 (cohort 25) 1/3, unbounded 1/3.
#[test]
fn cohorts_match_the_hand_count() {
    let (_d, db) = setup();
    let c = &analyze(&db, &[])["cohorts"];
    assert_eq!((c["start"].as_str(), c["return"].as_str()), (Some("any"), Some("any")));
    let rows: Vec<(String, u64, Value, Value)> = c["cohorts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["date"].as_str().unwrap().to_string(), n(x, "users"), x["retained"].clone(), x["unbounded"].clone()))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("2017-11-25".into(), 3, json!([3, 1, 1]), json!([3, 2, 1])),
            ("2017-11-26".into(), 1, json!([1, 1]), json!([1, 1])),
            ("2017-11-27".into(), 1, json!([1]), json!([1])),
        ]
    );
    let pooled: Vec<(u64, u64, f64, f64)> = c["pooled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (n(p, "users"), n(p, "retained"), p["rate"].as_f64().unwrap(), p["unbounded_rate"].as_f64().unwrap()))
        .collect();
    assert_eq!(pooled, vec![(5, 5, 1.0, 1.0), (4, 2, 0.5, 0.75), (3, 1, 1.0 / 3.0, 1.0 / 3.0)]);

    // First buy starts the cohort: user 1 (buys 11-25, 11-26; active 11-25, 11-26) and user 3
    // (buys 11-26, 11-27). 11-25 {1}: 1, 1, 0, unbounded 1, 1, 0; 11-26 {3}: 1, 1.
    let c = &analyze(&db, &["--retention-start", "buy"])["cohorts"];
    let got: Vec<(Value, Value)> =
        c["cohorts"].as_array().unwrap().iter().map(|x| (x["retained"].clone(), x["unbounded"].clone())).collect();
    assert_eq!(got, vec![(json!([1, 1, 0]), json!([1, 1, 0])), (json!([1, 1]), json!([1, 1]))]);
    // Any start, returns are buys: 11-25 {1, 2, 5}: user 1 buys on 11-25 and 11-26 → 1, 1, 0;
    // 11-26 {3} → 1, 1; 11-27 {4} → 0.
    let c = &analyze(&db, &["--retention-return", "buy"])["cohorts"];
    let got: Vec<Value> = c["cohorts"].as_array().unwrap().iter().map(|x| x["retained"].clone()).collect();
    assert_eq!(got, vec![json!([1, 1, 0]), json!([1, 1]), json!([0])]);
    // From 11-26: cohorts {1, 3} on 11-26 (D1: user 3) and {2, 4} on 11-27.
    let c = &analyze(&db, &["--from", "2017-11-26"])["cohorts"];
    let got: Vec<(u64, Value)> = c["cohorts"].as_array().unwrap().iter().map(|x| (n(x, "users"), x["retained"].clone())).collect();
    assert_eq!(got, vec![(2, json!([2, 1])), (2, json!([2]))]);
}

/// A session gap of 29 minutes splits user 2's pv and fav, 30 minutes apart: 9 sessions, not 8.
#[test]
fn session_gap_is_an_option() {
    let (_d, db) = setup();
    assert_eq!(n(&analyze(&db, &[])["sessions"], "sessions"), 8);
    let s = &analyze(&db, &["--session-gap", "29m"])["sessions"];
    assert_eq!((n(s, "sessions"), n(s, "gap_s")), (9, 1740));
}

/// Wrong options are refused with a sentence that names the value (clap names the flag).
#[test]
fn wrong_journey_options_are_refused() {
    let (_d, db) = setup();
    let db = db.to_str().unwrap();
    for (args, says) in [
        (vec!["--funnel-steps", "pv,pv|buy"], "in two steps"),
        (vec!["--funnel-steps", "pv"], "2 to 4"),
        (vec!["--funnel-steps", "pv,click"], "unknown behaviour 'click'"),
        (vec!["--funnel-window", "1w"], "not a duration"),
        (vec!["--funnel-by", "shop"], "unknown funnel key"),
        (vec!["--funnel-breakdown", "category"], "needs an item or category funnel key"),
        (vec!["--session-gap", "none"], "session gap must be a duration"),
    ] {
        let mut all = vec!["analyze", "--db", db];
        all.extend(args.iter());
        let err = fails(&all);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// Every journey section is in the terminal table, with its extra tables, in both languages.
#[test]
fn journey_sections_in_the_table() {
    let (_d, db) = setup();
    let out = ecomm().args(["analyze", "--db", db.to_str().unwrap(), "--lang", "en"]).assert().success().get_output().stdout.clone();
    let out = String::from_utf8(out).unwrap();
    for s in ["Ordered funnel", "Time to reach the last step", "Cohort retention", "Pooled retention over the cohorts", "Session gap: 30m"]
    {
        assert!(out.contains(s), "{s} missing:\n{out}");
    }
    let out = ecomm().args(["analyze", "--db", db.to_str().unwrap(), "--lang", "zh"]).assert().success().get_output().stdout.clone();
    let out = String::from_utf8(out).unwrap();
    for s in ["有序漏斗", "同期群留存", "合并留存率"] {
        assert!(out.contains(s), "{s} missing");
    }
}

/// Levels and shortest chains of one key by brute force: every chain e1..ek with
/// t1 ≤ … ≤ tk ≤ t1 + w. Returns (level, T_k for k = 0..level).
fn brute(events: &[(i64, usize)], steps: &[&[usize]], w: i64) -> (usize, Vec<i64>) {
    fn go(events: &[(i64, usize)], steps: &[&[usize]], w: i64, t1: i64, prev: i64, k: usize, best: &mut Vec<i64>) {
        if best.len() <= k {
            best.push(prev - t1);
        } else {
            best[k] = best[k].min(prev - t1);
        }
        if k + 1 == steps.len() {
            return;
        }
        for &(t, b) in events {
            if steps[k + 1].contains(&b) && t >= prev && t <= t1 + w {
                go(events, steps, w, t1, t, k + 1, best);
            }
        }
    }
    let mut best = Vec::new();
    for &(t, b) in events {
        if steps[0].contains(&b) {
            go(events, steps, w, t, t, 0, &mut best);
        }
    }
    (best.len(), best)
}

/// The ordered funnel against the brute force above on random events with many equal times, for
/// user and item keys.
#[test]
fn ordered_funnel_equals_a_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("r.csv");
    let mut seed = 7u64;
    let mut rnd = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let names = ["pv", "fav", "cart", "buy"];
    let mut events: Vec<(u64, u64, i64, usize)> = Vec::new();
    for user in 1..=60u64 {
        for _ in 0..rnd(13) + 4 {
            let b = [0, 0, 1, 2, 2, 3, 3][rnd(7) as usize];
            events.push((user, rnd(3), bj(0, 0, 0, 0) + 600 * rnd(18) as i64, b));
        }
    }
    let text: String = events.iter().map(|(u, i, t, b)| format!("{u},{},{},{},{t}\n", 1000 + i, 1 + i, names[*b])).collect();
    std::fs::write(&csv, text).unwrap();
    let db = dir.path().join("r.duckdb");
    ingest(&db, &[&csv], &["--start", "2017-11-25", "--end", "2017-11-25"]);
    let steps: [&[usize]; 3] = [&[0], &[1, 2], &[3]];
    for (by, w, flag) in [("user", 3600, "1h"), ("item", 3600, "1h"), ("user", 7200, "2h"), ("item", 86_400, "1d")] {
        let mut keys: std::collections::BTreeMap<(u64, u64), Vec<(i64, usize)>> = Default::default();
        for (u, i, t, b) in &events {
            keys.entry((*u, if by == "item" { *i } else { 0 })).or_default().push((*t, *b));
        }
        let (mut reached, mut sums) = ([0u64; 3], [0i64; 3]);
        for ev in keys.values() {
            let (level, best) = brute(ev, &steps, w);
            for k in 0..level {
                reached[k] += 1;
                sums[k] += best[k];
            }
        }
        assert!(reached[2] > 5 && reached[2] < reached[1] && reached[1] < reached[0], "a fixture with drop-offs: {reached:?}");
        let f = &analyze(&db, &["--funnel-by", by, "--funnel-window", flag])["ordered_funnel"];
        assert_eq!(stages(f), reached.to_vec(), "{by} {flag}");
        for k in 1..3 {
            let mean = f["stages"][k]["time_to_convert"]["mean_s"].as_f64().unwrap_or(0.0);
            let want = if reached[k] > 0 { sums[k] as f64 / reached[k] as f64 } else { 0.0 };
            assert!((mean - want).abs() < 1e-6, "{by} {flag} step {k}: {mean} vs {want}");
        }
    }
}

/// The sessions and the ordered funnel (every key) read `user_seq` (the events stored by user and
/// time) without a sort; the same analyses from a sorted read of the events (`ECOMM_NO_USER_SEQ`) agree,
/// with and without filters.
#[test]
fn stored_user_order_a_sorted_read_and_one_thread_agree() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    for args in [
        vec![],
        vec!["--behavior", "pv,buy", "--from", "2017-11-28"],
        vec!["--session-gap", "10m", "--funnel-window", "2h"],
        vec!["--funnel-by", "item", "--funnel-breakdown", "category"],
        vec!["--funnel-by", "category", "--funnel-breakdown", "segment", "--funnel-steps", "pv,cart|fav,buy"],
    ] {
        let stored = analyze(&db, &args);
        let sorted = analyze_env(&db, &args, &[("ECOMM_NO_USER_SEQ", "1")]);
        // With one thread the two feeds share it instead of running side by side.
        let one_thread = analyze(&db, &[args.as_slice(), &["--threads", "1"]].concat());
        for key in ["ordered_funnel", "sessions"] {
            assert_eq!(stored[key], sorted[key], "{key} {args:?}");
            assert_eq!(stored[key], one_thread[key], "{key} {args:?} --threads 1");
        }
        assert!(n(&stored["sessions"], "sessions") > 1000);
    }
}
