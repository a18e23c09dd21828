//! Customer lifetime value (`clv`, BG/NBD): the limits by hand, the CDNOW fit of Fader, Hardie & Lee
//! (2005), the expectation's series against SciPy's ₂F₁ closed form, and lifetimes' BetaGeoFitter
//! (`tests/reference/clv.py`) on a simulated shop with dropout, the real 100k sample and 1 M
//! generated rows.

mod common;
use common::*;
use ecomm::metrics::clv::bgnbd::{self, Model, Obs};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Runs `tests/reference/clv.py` with `args` and returns its JSON.
fn reference(args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/clv.py");
    let out = std::process::Command::new(seed_python()).arg(&script).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// |a − b| within `tol`, relative to |b| where that is above 1.
fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

/// user_id → (x, t_x, T) of the buyers in the top list.
fn top(c: &Value) -> Vec<(u64, u64, u64, u64)> {
    c["top"].as_array().unwrap().iter().map(|t| (n(t, "user_id"), n(t, "x"), n(t, "t_x"), n(t, "T"))).collect()
}

/// `user_summary`'s forecast per user: user_id → (p_alive, exp_7d, exp_30d), NULLs as None.
fn stored(db: &Path) -> HashMap<i64, Option<(f64, f64, f64)>> {
    let c = duckdb::Connection::open(db).unwrap();
    let mut st = c.prepare("SELECT user_id, p_alive, exp_purchases_7d, exp_purchases_30d FROM user_summary").unwrap();
    let rows = st
        .query_map([], |r| {
            let p: Option<f64> = r.get(1)?;
            Ok((r.get::<_, i64>(0)?, p.map(|p| (p, r.get::<_, f64>(2).unwrap(), r.get::<_, f64>(3).unwrap()))))
        })
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// User 1 buys on days 0, 4 and 8 (twice on day 4), user 2 on days 4 and 8, user 3 on day 8, user 4
/// only views. x, t_x, T = (2, 8, 8), (1, 4, 4), (0, 0, 0): every repeat buyer bought on the last
/// day (no dropout) at the same rate, 1 purchase day per 4 days, so neither dropout nor a spread of
/// rates is identified: the Poisson rate is Σx/ΣT = 3/12 = 0.25 per day, 1.75 purchase days in 7
/// days and 7.5 in 30 for every buyer.
#[test]
fn one_rate_and_no_dropout_by_hand() {
    let d = tempfile::tempdir().unwrap();
    let mut rows = String::new();
    for (k, (u, day)) in [(1, 0), (1, 4), (1, 4), (1, 8), (2, 4), (2, 8), (3, 8)].into_iter().enumerate() {
        rows.push_str(&format!("{u},{},5,buy,{}\n", 100 + day, bj(day, 12, 0, k as i64)));
    }
    for day in 0..9 {
        rows.push_str(&format!("4,900,6,pv,{}\n", bj(day, 9, 0, 0)));
    }
    let csv = d.path().join("rate.csv");
    std::fs::write(&csv, rows).unwrap();
    let db = d.path().join("c.duckdb");
    ingest(&db, &[&csv], &[]);
    let c = &analyze(&db, &[])["clv"];
    assert_eq!((c["model"].as_str().unwrap(), c["dropout_identified"].as_bool().unwrap()), ("poisson", false));
    assert_eq!((n(c, "buyers"), n(c, "repeat_buyers")), (3, 2));
    assert_eq!(c["params"], serde_json::json!({"r": null, "alpha": null, "a": null, "b": null}));
    assert!((float(&c["poisson_rate_per_day"]) - 0.25).abs() < 1e-12);
    assert!((float(&c["log_likelihood"]) - (3.0 * 0.25f64.ln() - 0.25 * 12.0)).abs() < 1e-9);
    assert!((float(&c["expected_7d"]) - 3.0 * 1.75).abs() < 1e-9 && (float(&c["expected_30d"]) - 22.5).abs() < 1e-9);
    assert_eq!(c["p_alive"], serde_json::json!({"mean": 1.0, "q25": 1.0, "median": 1.0, "q75": 1.0}));
    // Equal expectations: the list goes by user_id.
    assert_eq!(top(c), [(1, 2, 8, 8), (2, 1, 4, 4), (3, 0, 0, 0)]);
    // The segments share out the buyers and the totals.
    let segs = c["segments"].as_array().unwrap();
    assert_eq!(segs.iter().map(|s| n(s, "buyers")).sum::<u64>(), 3);
    assert!((segs.iter().map(|s| s["expected_30d"].as_f64().unwrap()).sum::<f64>() - 22.5).abs() < 1e-9);
    // user_summary holds the same forecast for the whole window; the viewer has none.
    let s = stored(&db);
    for u in 1..=3 {
        let (p, e7, e30) = s[&u].unwrap();
        assert!(p == 1.0 && (e7 - 1.75).abs() < 1e-12 && (e30 - 7.5).abs() < 1e-12, "user {u}: {:?}", s[&u]);
    }
    assert_eq!(s[&4], None);
    // A range ending on day 4: user 1 (days 0, 4) and user 2 (day 4): rate 1/4 again, T to day 4.
    let c = &analyze(&db, &["--to", "2017-11-29"])["clv"];
    assert_eq!(top(c), [(1, 1, 4, 4), (2, 0, 0, 0)]);
    assert!((float(&c["poisson_rate_per_day"]) - 0.25).abs() < 1e-12);
    // Filters remove events first: without buys nothing is fitted.
    let c = &analyze(&db, &["--behavior", "pv,cart"])["clv"];
    assert_eq!((c["model"].as_str().unwrap(), n(c, "buyers")), ("none", 0));
    assert!(c["expected_30d"].is_null() && c["p_alive"].is_null() && c["log_likelihood"].is_null());
    // Only first purchases on the range's last day: nobody was observed for any time.
    let c = &analyze(&db, &["--from", "2017-12-03"])["clv"];
    assert_eq!((c["model"].as_str().unwrap(), n(c, "buyers")), ("none", 3));
}

/// User 1 buys every other day (x = 4), user 2 once on day 0 (x = 0, T = 8), user 3 on days 0 and 8:
/// the rates differ but every repeat buyer bought on the last day, so dropout is not identified
/// and the NBD limit is reported. Its (r, α) solve the likelihood equations
/// Σ [Σ_{k<x} 1/(r+k) − ln(1 + T/α)] = 0 and Σ (rT − xα)/(α+T) = 0, checked here from the JSON.
#[test]
fn no_dropout_gives_the_nbd_limit() {
    let d = tempfile::tempdir().unwrap();
    let mut rows = String::new();
    for (u, day) in [(1, 0), (1, 2), (1, 4), (1, 6), (1, 8), (2, 0), (3, 0), (3, 8)] {
        rows.push_str(&format!("{u},7,5,buy,{}\n", bj(day, 12, 0, u)));
    }
    let csv = d.path().join("nbd.csv");
    std::fs::write(&csv, rows).unwrap();
    let db = d.path().join("c.duckdb");
    ingest(&db, &[&csv], &[]);
    let c = &analyze(&db, &[])["clv"];
    assert_eq!((c["model"].as_str().unwrap(), c["dropout_identified"].as_bool().unwrap()), ("nbd", false));
    assert!(c["params"]["a"].is_null() && c["params"]["b"].is_null());
    let (r, alpha) = (float(&c["params"]["r"]), float(&c["params"]["alpha"]));
    let buyers = [(4.0, 8.0), (0.0, 8.0), (1.0, 8.0)];
    let dr: f64 = buyers.iter().map(|&(x, t)| (0..x as usize).map(|k| 1.0 / (r + k as f64)).sum::<f64>() - (t / alpha).ln_1p()).sum();
    let da: f64 = buyers.iter().map(|&(x, t)| (r * t - x * alpha) / (alpha + t)).sum();
    assert!(dr.abs() < 1e-7 && da.abs() < 1e-7, "not a maximum: {dr} {da} at r {r} α {alpha}");
    // Every buyer alive; E[Y(30)] = (r + x) · 30 / (α + T), most for user 1.
    assert!((float(&c["top"][0]["expected_30d"]) - (r + 4.0) * 30.0 / (alpha + 8.0)).abs() < 1e-9);
    assert_eq!(float(&c["top"][0]["p_alive"]), 1.0);
    assert!(float(&c["log_likelihood"]) >= float(&c["nbd_log_likelihood"]) - 1e-12);
}

/// The paper's fit of the CDNOW summary (2,357 customers, weeks): r = 0.243, α = 4.414, a = 0.793,
/// b = 2.426, log-likelihood −9,582.4; lifetimes' parameters within 1e-4 and its P(alive) and
/// 39-week expectations for every customer.
#[test]
fn cdnow_reproduces_the_paper() {
    let r = reference(&["cdnow"]);
    let text = std::fs::read_to_string(r["csv"].as_str().unwrap()).unwrap();
    let obs: Vec<Obs> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Obs { x: f[1].parse().unwrap(), t_x: f[2].parse().unwrap(), t: f[3].parse().unwrap(), n: 1.0 }
        })
        .collect();
    assert_eq!(obs.len(), 2357);
    let fit = bgnbd::fit(&obs);
    let Model::BgNbd { r: rr, alpha, a, b } = fit.model else { panic!("dropout not identified on CDNOW: {fit:?}") };
    for (got, paper) in [(rr, 0.243), (alpha, 4.414), (a, 0.793), (b, 2.426)] {
        assert!((got - paper).abs() < 5e-4, "{got} vs the paper's {paper}");
    }
    assert!((fit.log_likelihood - -9582.4).abs() < 0.05, "{}", fit.log_likelihood);
    let p = &r["params"];
    for (got, k) in [(rr, "r"), (alpha, "alpha"), (a, "a"), (b, "b")] {
        assert!(((got - float(&p[k])) / float(&p[k])).abs() < 1e-4, "{k}: {got} vs lifetimes {}", p[k]);
    }
    for (o, c) in obs.iter().zip(r["customers"].as_array().unwrap()) {
        let alive = fit.model.p_alive(o.x, o.t_x, o.t).unwrap();
        let e39 = fit.model.expected(39.0, o.x, o.t_x, o.t).unwrap();
        assert!((alive - float(&c[3])).abs() < 1e-5 && close(e39, float(&c[4]), 1e-5), "{c}: {alive} {e39}");
    }
}

/// The expectation's positive series against FHL's closed form with SciPy's hyp2f1, over
/// parameters with a < 1 and a > 1, a third parameter a+b+x−1 below 0, x = 0, and long horizons.
#[test]
fn the_series_is_the_closed_form() {
    let mut grid = vec![];
    for (r, alpha) in [(0.243, 4.414), (2.0, 0.5), (6.0, 29.0)] {
        for (a, b) in [(0.793, 2.426), (0.3, 0.4), (3.5, 1.2), (1.7, 25.0)] {
            for (x, t_x, t) in [(0u32, 0.0, 8.0), (1, 3.0, 8.0), (4, 30.0, 38.0), (12, 5.0, 40.0)] {
                for h in [7.0, 30.0, 200.0] {
                    grid.push([r, alpha, a, b, x as f64, t_x, t, h]);
                }
            }
        }
    }
    let theirs = reference(&["closed", &serde_json::to_string(&grid).unwrap()]);
    for (g, c) in grid.iter().zip(theirs.as_array().unwrap()) {
        let m = Model::BgNbd { r: g[0], alpha: g[1], a: g[2], b: g[3] };
        let (e, p) = (m.expected(g[7], g[4] as u32, g[5], g[6]).unwrap(), m.p_alive(g[4] as u32, g[5], g[6]).unwrap());
        assert!(close(e, float(&c[0]), 1e-9) && close(p, float(&c[1]), 1e-12), "{g:?}: {e} {p} vs {c}");
    }
}

/// A shop with dropout, simulated: 3,000 buyers over 60 days; each buys at one of four rates and
/// drops out after a purchase with one of three probabilities. The fit finds dropout, and
/// lifetimes agrees on the parameters (1e-4) and on every buyer (1e-3).
#[test]
fn a_shop_with_dropout_matches_lifetimes() {
    let d = tempfile::tempdir().unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut rows = String::new();
    for u in 1..=3000i64 {
        let (rate, p) = ([0.1, 0.2, 0.4, 0.8][u as usize % 4], [0.2, 0.5, 0.8][u as usize % 3]);
        let mut t = (uniform() * 40.0).floor() + 0.5;
        loop {
            rows.push_str(&format!("{u},{},9,buy,{}\n", u % 50, bj(t as i64, 12, 0, 0)));
            t += -(1.0 - uniform()).ln() / rate;
            if t >= 60.0 || uniform() < p {
                break;
            }
        }
    }
    // Views on every day keep all 60 days in the detected window.
    for day in 0..60 {
        for k in 0..30 {
            rows.push_str(&format!("{},1,2,pv,{}\n", 100_000 + k, bj(day, 8, 0, k)));
        }
    }
    let csv = d.path().join("shop.csv");
    std::fs::write(&csv, rows).unwrap();
    let db = d.path().join("c.duckdb");
    ingest(&db, &[&csv], &[]);
    let m = analyze(&db, &[]);
    assert_eq!((m["range"]["from"].as_str().unwrap(), m["range"]["to"].as_str().unwrap()), ("2017-11-25", "2018-01-23"));
    let c = &m["clv"];
    assert_eq!((c["model"].as_str().unwrap(), c["dropout_identified"].as_bool().unwrap()), ("bgnbd", true), "{c}");
    assert!(float(&c["log_likelihood"]) > float(&c["nbd_log_likelihood"]));
    let r = reference(&["events", csv.to_str().unwrap(), "2017-11-25", "2018-01-23"]);
    for k in ["r", "alpha", "a", "b"] {
        let (mine, theirs) = (float(&c["params"][k]), float(&r["params"][k]));
        assert!(((mine - theirs) / theirs).abs() < 1e-4, "{k}: {mine} vs lifetimes {theirs}");
    }
    per_user(&db, &r);
    // The list is ranked by the 30-day expectation, ties by user_id, and P(alive) is FHL's eq. 11.
    let list = c["top"].as_array().unwrap();
    assert_eq!(list.len(), 20);
    for w in list.windows(2) {
        let (p, q) = (float(&w[0]["expected_30d"]), float(&w[1]["expected_30d"]));
        assert!(p > q || (p == q && n(&w[0], "user_id") < n(&w[1], "user_id")));
    }
    let (pr, pa, pb, pal) = (float(&c["params"]["r"]), float(&c["params"]["a"]), float(&c["params"]["b"]), float(&c["params"]["alpha"]));
    for t in list {
        let (x, tx, tt) = (n(t, "x") as f64, n(t, "t_x") as f64, n(t, "T") as f64);
        let odds = if x > 0.0 { pa / (pb + x - 1.0) * ((pal + tt) / (pal + tx)).powf(pr + x) } else { 0.0 };
        assert!((float(&t["p_alive"]) - 1.0 / (1.0 + odds)).abs() < 1e-12);
    }
}

/// Every buyer's stored forecast within 1e-3 of lifetimes' (`r` from `clv.py events`), and the
/// same (x, t_x, T).
fn per_user(db: &Path, r: &Value) {
    let s = stored(db);
    let theirs = r["buyers"].as_object().unwrap();
    assert_eq!(s.values().filter(|v| v.is_some()).count(), theirs.len(), "buyers");
    let mut worst = [0.0f64; 3];
    for (u, t) in theirs {
        let (p, e7, e30) = s[&u.parse::<i64>().unwrap()].unwrap_or_else(|| panic!("buyer {u} has no forecast"));
        assert!(
            (p - float(&t[3])).abs() < 1e-3 && close(e7, float(&t[4]), 1e-3) && close(e30, float(&t[5]), 1e-3),
            "user {u}: {p} {e7} {e30} vs lifetimes {t}"
        );
        for (w, (mine, theirs)) in worst.iter_mut().zip([(p, float(&t[3])), (e7, float(&t[4])), (e30, float(&t[5]))]) {
            *w = w.max((mine - theirs).abs());
        }
    }
    eprintln!(
        "{} buyers; largest differences from lifetimes: P(alive) {:.1e}, 7 d {:.1e}, 30 d {:.1e}",
        theirs.len(),
        worst[0],
        worst[1],
        worst[2]
    );
}

/// The real 100k sample (nine days, no dropout seen) and 1 M generated rows: lifetimes' fit
/// wanders towards a → 0 there, and its predictions tend to the NBD limit that ecomm reports.
#[test]
fn real_and_generated_rows_match_lifetimes() {
    let d = tempfile::tempdir().unwrap();
    let generated = d.path().join("gen.csv");
    ecomm().args(["gen", "--rows", "1000000", "--seed", "7", "--dirty", "0", "--out"]).arg(&generated).assert().success();
    for (name, csv) in [("real", real("100k")), ("generated", generated)] {
        let db = d.path().join(format!("{name}.duckdb"));
        ingest(&db, &[&csv], &[]);
        let m = analyze(&db, &[]);
        let (from, to) = (m["range"]["from"].as_str().unwrap(), m["range"]["to"].as_str().unwrap());
        let r = reference(&["events", csv.to_str().unwrap(), from, to]);
        eprintln!("{name}: ecomm {} {}, lifetimes {}", m["clv"]["model"], m["clv"]["params"], r["params"]);
        per_user(&db, &r);
    }
}
