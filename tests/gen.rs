//! The generator: deterministic, shaped like the real data, and consistent with ingest + analyze.

mod common;
use common::*;

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let d = tempfile::tempdir().unwrap();
    let (a, b, c) = (d.path().join("a.csv"), d.path().join("b.csv"), d.path().join("c.csv"));
    for (p, seed) in [(&a, "5"), (&b, "5"), (&c, "6")] {
        ecomm().args(["gen", "--rows", "50000", "--dirty", "0.01", "--seed", seed, "--out"]).arg(p).assert().success();
    }
    let (ba, bb, bc) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), std::fs::read(&c).unwrap());
    assert_eq!(ba, bb);
    assert_ne!(ba, bc);
    assert_eq!(ba.iter().filter(|x| **x == b'\n').count(), 50_000);
}

#[test]
fn generated_data_looks_like_the_real_data() {
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("g.csv.gz");
    ecomm().args(["gen", "--rows", "400000", "--seed", "11", "--out"]).arg(&csv).assert().success();
    let db = d.path().join("g.duckdb");
    let s = ingest(&db, &[&csv], &[]);
    assert_eq!(n(&s, "rows_read"), 400_000);
    assert_eq!(n(&s, "rows_loaded"), 400_000, "clean data must load whole: {s}");
    assert_eq!(s["window"]["start"], "2017-11-25");
    assert_eq!(s["window"]["end"], "2017-12-03");
    let m = analyze(&db, &[]);
    let total = n(&m, "totals.events") as f64;
    let share = |i: usize| n(&m["funnel"][i], "events") as f64 / total;
    let (pv, fav, cart, buy) = (share(0), share(1), share(2), share(3));
    assert!((pv - 0.896).abs() < 0.015, "pv share {pv}");
    assert!((cart - 0.055).abs() < 0.01, "cart share {cart}");
    assert!((fav - 0.029).abs() < 0.008, "fav share {fav}");
    assert!((buy - 0.020).abs() < 0.006, "buy share {buy}");
    let buyers = n(&m, "repurchase.buyers") as f64 / n(&m, "totals.users") as f64;
    assert!((buyers - 0.68).abs() < 0.04, "buyer share {buyers}");
    // Daily cycle: 04:00 is the quietest hour, the peak is 20:00-22:00.
    let hourly: Vec<u64> = m["hourly"].as_array().unwrap().iter().map(|h| n(h, "pv") + n(h, "fav") + n(h, "cart") + n(h, "buy")).collect();
    let min_h = (0..24).min_by_key(|h| hourly[*h]).unwrap();
    let max_h = (0..24).max_by_key(|h| hourly[*h]).unwrap();
    assert!((3..=5).contains(&min_h), "quietest hour {min_h}");
    assert!((20..=22).contains(&max_h), "peak hour {max_h}");
    // Lift on the last two days.
    let daily: Vec<u64> = m["daily"].as_array().unwrap().iter().map(|d| n(d, "pv")).collect();
    let early = daily[..7].iter().sum::<u64>() as f64 / 7.0;
    assert!(daily[7] as f64 > 1.15 * early && daily[8] as f64 > 1.15 * early, "{daily:?}");
    // Heavy tail: the busiest user has far more events than the median user.
    let conn = duckdb::Connection::open(&db).unwrap();
    let (med, max): (f64, i64) = conn
        .query_row("SELECT median(c), max(c) FROM (SELECT count(*) AS c FROM user_behavior GROUP BY user_id)", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(max as f64 > 8.0 * med, "median {med}, max {max}");
    // Popularity follows a power law: the top 1 % of items get a large share of page views.
    let top_share: f64 = conn
        .query_row(
            "WITH c AS (SELECT item_id, count(*) AS n FROM user_behavior GROUP BY item_id),
                  r AS (SELECT n, row_number() OVER (ORDER BY n DESC) AS k, count(*) OVER () AS items FROM c)
             SELECT sum(n) FILTER (WHERE k <= items / 100) / sum(n) FROM r",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(top_share > 0.08, "top 1% item share {top_share}");
    // Every fav, cart and buy follows an earlier (or same-second) pv of the same item by the same user.
    let orphans: i64 = conn
        .query_row(
            "SELECT count(*) FROM user_behavior a WHERE behavior_type <> 'pv' AND NOT EXISTS (
                SELECT 1 FROM user_behavior b WHERE b.behavior_type = 'pv' AND b.user_id = a.user_id
                  AND b.item_id = a.item_id AND b.ts <= a.ts)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
}

#[test]
fn dirty_rows_are_all_rejected_and_counted() {
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("dirty.csv");
    ecomm().args(["gen", "--rows", "100000", "--dirty", "0.05", "--seed", "2", "--out"]).arg(&csv).assert().success();
    let s = ingest(&d.path().join("d.duckdb"), &[&csv], &["--start", "2017-11-25", "--end", "2017-12-03"]);
    let rej = &s["rejected"];
    let total_rej: u64 = ["malformed", "bad_behavior", "out_of_window", "duplicate"].iter().map(|k| n(rej, k)).sum();
    assert_eq!(n(&s, "rows_read"), 100_000);
    assert_eq!(n(&s, "rows_loaded") + total_rej, 100_000);
    for k in ["malformed", "bad_behavior", "out_of_window", "duplicate"] {
        let v = n(rej, k);
        assert!((800..=1700).contains(&v), "{k}: {v} (expected about 1,250)");
    }
}

/// Property: for generated data of any seed, size and dirt, the funnel's four event counts sum
/// to the total events, which equal the rows loaded; hourly and daily sums agree too.
#[test]
fn property_funnel_sums_to_totals() {
    let d = tempfile::tempdir().unwrap();
    let mut rng = ecomm::gen::Rng::new(2024, 0);
    for case in 0..6 {
        let rows = 1_000 + rng.below(40_000);
        let seed = rng.next_u64() % 1_000_000;
        let dirty = [0.0, 0.01, 0.2][rng.below(3) as usize];
        let csv = d.path().join(format!("p{case}.csv"));
        ecomm()
            .args(["gen", "--rows", &rows.to_string(), "--seed", &seed.to_string(), "--dirty", &dirty.to_string(), "--out"])
            .arg(&csv)
            .assert()
            .success();
        let db = d.path().join(format!("p{case}.duckdb"));
        let s = ingest(&db, &[&csv], &["--start", "2017-11-25", "--end", "2017-12-03"]);
        let m = analyze(&db, &[]);
        let funnel: u64 = (0..4).map(|i| n(&m["funnel"][i], "events")).sum();
        let hourly: u64 = m["hourly"].as_array().unwrap().iter().map(|h| n(h, "pv") + n(h, "fav") + n(h, "cart") + n(h, "buy")).sum();
        let daily: u64 = m["daily"].as_array().unwrap().iter().map(|h| n(h, "pv") + n(h, "fav") + n(h, "cart") + n(h, "buy")).sum();
        let total = n(&m, "totals.events");
        assert_eq!(funnel, total, "case {case}: rows {rows} seed {seed} dirty {dirty}");
        assert_eq!(hourly, total);
        assert_eq!(daily, total);
        assert_eq!(total, n(&s, "rows_loaded"));
        let segs: u64 = m["rfm"]["segments"].as_array().unwrap().iter().map(|s| n(s, "users")).sum();
        assert_eq!(segs, n(&m, "rfm.buyers"));
        assert_eq!(n(&m, "rfm.buyers"), n(&m, "repurchase.buyers"));
    }
}

#[test]
fn demo_runs_end_to_end() {
    let d = tempfile::tempdir().unwrap();
    let out = ecomm()
        .args(["demo", "--no-serve", "--rows", "60000", "--lang", "en", "--dir"])
        .arg(d.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("Funnel") && text.contains("RFM segments") && text.contains("Rows loaded"), "{text}");
    assert!(d.path().join("demo.duckdb").exists());
    assert!(d.path().join("demo.rejects.csv").exists());
}

/// Row groups (column segments) of `user_behavior.category_id` whose min/max statistics could hold
/// `cat`: the ones a `category_id = cat` scan cannot skip.
fn segments_holding(db: &std::path::Path, cats: &[i64]) -> (usize, Vec<usize>) {
    let conn = duckdb::Connection::open(db).unwrap();
    let stats: Vec<String> = conn
        .prepare(
            "SELECT stats::VARCHAR FROM pragma_storage_info('user_behavior') WHERE column_name = 'category_id' AND segment_type = 'BIGINT'",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let num = |s: &str, key: &str| -> i64 {
        let at = s.find(key).unwrap_or_else(|| panic!("no {key} in {s}")) + key.len();
        s[at..].trim_start().split(|c: char| !(c.is_ascii_digit() || c == '-')).next().unwrap().parse().unwrap()
    };
    let ranges: Vec<(i64, i64)> = stats.iter().map(|s| (num(s, "'min':"), num(s, "'max':"))).collect();
    (ranges.len(), cats.iter().map(|c| ranges.iter().filter(|(lo, hi)| lo <= c && c <= hi).count()).collect())
}

#[test]
fn ingest_clusters_rows_by_category_without_changing_any_number() {
    // Category filters rely on each row group holding a narrow range of category ids (see
    // store::load::Appenders). 1 M rows (one chunk at the default 2 Mi rows, about 8 row groups)
    // against the same file loaded unsorted (ECOMM_CLUSTER_ROWS=0).
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("g.csv");
    ecomm().args(["gen", "--rows", "1000000", "--seed", "3", "--out"]).arg(&csv).assert().success();
    let (sorted, plain) = (d.path().join("s.duckdb"), d.path().join("p.duckdb"));
    for (db, rows) in [(&sorted, "2097152"), (&plain, "0")] {
        let s = ingest_env(db, &[&csv], &[], &[("ECOMM_CLUSTER_ROWS", rows)]);
        assert_eq!(n(&s, "rows_loaded"), 1_000_000);
    }
    // Same data, same answers, filtered or not.
    let top: Vec<i64> =
        analyze(&plain, &[])["top_categories"].as_array().unwrap().iter().map(|c| c["category_id"].as_i64().unwrap()).collect();
    assert_eq!(analyze(&sorted, &[]), analyze(&plain, &[]));
    let one = top[3].to_string();
    assert_eq!(analyze(&sorted, &["--category", &one]), analyze(&plain, &["--category", &one]));

    let (segs_s, hold_s) = segments_holding(&sorted, &top);
    let (segs_p, hold_p) = segments_holding(&plain, &top);
    eprintln!("segments holding the top categories: sorted {hold_s:?} of {segs_s}, unsorted {hold_p:?} of {segs_p}");
    assert!(segs_s >= 8 && segs_p >= 8, "{segs_s} / {segs_p} segments");
    // Unsorted, every segment spans nearly all ids; sorted, each of the busiest categories sits in
    // one to three of about 9 (the parallel load from the stage may put two bands' pieces in one
    // row group).
    assert!(hold_p.iter().all(|&h| h * 10 >= segs_p * 9), "unsorted: {hold_p:?} of {segs_p}");
    assert!(hold_s.iter().all(|&h| h <= 3), "sorted: {hold_s:?} of {segs_s}");
}
