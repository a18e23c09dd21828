//! The category association (`association`): a hand-checkable fixture, the basket and filter
//! options, and the real 100k sample against mlxtend (`tests/reference/association.py`).

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// Baskets (categories with a buy): user 1 {10, 20}, user 2 {10, 20}, user 3 {10, 30}, user 4
/// {20}, user 5 {30} and a cart in 40; everybody also views category 50.
fn fixture(dir: &Path) -> std::path::PathBuf {
    let buys: &[(u64, u64)] = &[(1, 10), (1, 20), (2, 10), (2, 20), (3, 10), (3, 30), (4, 20), (5, 30)];
    let mut rows = String::new();
    for (k, (u, c)) in buys.iter().enumerate() {
        rows.push_str(&format!("{u},{},{c},buy,{}\n", 100 + k, bj(1, 12, 0, k as i64)));
    }
    rows.push_str(&format!("5,900,40,cart,{}\n", bj(1, 13, 0, 0)));
    for u in 1..=5 {
        rows.push_str(&format!("{u},950,50,pv,{}\n", bj(0, 9, 0, u)));
    }
    let csv = dir.join("baskets.csv");
    std::fs::write(&csv, rows).unwrap();
    csv
}

fn pairs(a: &Value, list: &str) -> Vec<(u64, u64, u64)> {
    a[list].as_array().unwrap().iter().map(|r| (n(r, "antecedent"), n(r, "consequent"), n(r, "n_both"))).collect()
}

#[test]
fn rules_by_hand() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("a.duckdb");
    ingest(&db, &[&fixture(d.path())], &[]);
    // Default threshold 5: no pair is in 5 baskets.
    let a = &analyze(&db, &[])["association"];
    assert_eq!((n(a, "baskets"), n(a, "multi_category_baskets"), n(a, "pairs")), (5, 3, 0));
    assert_eq!(a["basket"], "buy");
    // Threshold 1: n(10) = n(20) = 3, n(30) = 2, n(10,20) = 2, n(10,30) = 1, N = 5.
    // Lift 10→20 = 2·5/(3·3) = 10/9 (and 20→10 the same: ties by n, then A); 10→30 = 1·5/(3·2) = 5/6.
    let a = &analyze(&db, &["--min-pair-users", "1"])["association"];
    assert_eq!(n(a, "pairs"), 4);
    assert_eq!(pairs(a, "rules"), [(10, 20, 2), (20, 10, 2), (10, 30, 1), (30, 10, 1)]);
    let r = &a["rules"][0];
    assert!((float(&r["support"]) - 0.4).abs() < 1e-12);
    assert!((float(&r["confidence"]) - 2.0 / 3.0).abs() < 1e-12);
    assert!((float(&r["lift"]) - 10.0 / 9.0).abs() < 1e-12);
    assert!((float(&r["leverage"]) - (0.4 - 0.6 * 0.6)).abs() < 1e-12);
    assert!((float(&a["rules"][2]["lift"]) - 5.0 / 6.0).abs() < 1e-12);
    // Carts count too with --basket cart,buy: user 5's basket gains 40.
    let a = &analyze(&db, &["--min-pair-users", "1", "--basket", "cart,buy"])["association"];
    assert_eq!((n(a, "pairs"), n(a, "multi_category_baskets")), (6, 4));
    assert_eq!(a["basket"], "cart,buy");
    // Bought together with 10: 20 (2 baskets), then 30 (1).
    let a = &analyze(&db, &["--bought-with", "10"])["association"];
    assert_eq!((n(&a["bought_with"], "category"), n(&a["bought_with"], "baskets")), (10, 3));
    assert_eq!(pairs(&a["bought_with"], "together"), [(10, 20, 2), (10, 30, 1)]);
    // Filters remove events first: without buys there are no baskets.
    let a = &analyze(&db, &["--behavior", "pv,cart"])["association"];
    assert_eq!((n(a, "baskets"), n(a, "pairs")), (0, 0));
    // Wrong options say what to write.
    assert!(fails(&["analyze", "--db", db.to_str().unwrap(), "--basket", "pv"]).contains("use buy, cart or cart,buy"));
    assert!(fails(&["analyze", "--db", db.to_str().unwrap(), "--min-pair-users", "0"]).contains("min-pair-users"));
}

#[test]
fn the_real_sample_matches_mlxtend() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("r.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    for least in ["2", "5"] {
        let m = analyze(&db, &["--min-pair-users", least]);
        let (from, to) = (m["range"]["from"].as_str().unwrap(), m["range"]["to"].as_str().unwrap());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/association.py");
        let out = std::process::Command::new(seed_python()).arg(&script).arg(real("100k")).args([from, to, least]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        let a = &m["association"];
        assert_eq!(n(a, "baskets"), n(&r, "baskets"));
        assert_eq!(n(a, "multi_category_baskets"), n(&r, "multi"));
        let theirs = r["rules"].as_array().unwrap();
        assert_eq!(n(a, "pairs"), theirs.len() as u64, "every pair at the threshold, as mlxtend finds them");
        let mine = a["rules"].as_array().unwrap();
        assert_eq!(mine.len(), theirs.len().min(20));
        for x in mine {
            let y = theirs
                .iter()
                .find(|y| y["antecedent"] == x["antecedent"] && y["consequent"] == x["consequent"])
                .expect("the rule in mlxtend");
            assert_eq!(x["n_both"], y["n_both"]);
            for k in ["support", "confidence", "lift", "leverage"] {
                assert!((float(&x[k]) - float(&y[k])).abs() < 1e-9, "{k}: {x} vs {y}");
            }
        }
        // The listed rules have the highest lifts: none left out beats the last one listed.
        if let Some(last) = mine.last() {
            let listed = |y: &Value| mine.iter().any(|x| x["antecedent"] == y["antecedent"] && x["consequent"] == y["consequent"]);
            for y in theirs.iter().filter(|y| !listed(y)) {
                assert!(float(&y["lift"]) <= float(&last["lift"]) + 1e-9, "{y} beats {last}");
            }
        }
    }
}
