//! Issue 16's exports (`ecomm export`): events written as Parquet, CSV, JSON lines and xlsx ingest back
//! into the same analysis (the real 100k sample); filtered events and a segment's users are
//! exactly the rows the analyses count; rejects equal the rejects file; a failed export leaves no
//! file behind.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn export(db: &Path, out: &Path, args: &[&str]) -> Value {
    let o = ecomm().args(["export", "--db"]).arg(db).arg("--out").arg(out).args(["--summary", "json"]).args(args).assert().success();
    serde_json::from_slice(&o.get_output().stdout).unwrap()
}

fn sample(dir: &Path) -> PathBuf {
    let db = dir.join("r.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    db
}

fn csv_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn events_round_trip_through_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample(dir.path());
    let want = analyze(&db, &[]);
    for (fmt, ext) in [("parquet", "parquet"), ("csv", "csv"), ("json", "jsonl"), ("xlsx", "xlsx")] {
        let out = dir.path().join(format!("events.{ext}"));
        let s = export(&db, &out, &["--what", "events", "--format", fmt]);
        assert_eq!(n(&s, "rows"), n(&want, "totals.events"), "{fmt}: {s}");
        let back = dir.path().join(format!("back_{ext}.duckdb"));
        let i = ingest(&back, &[&out], &[]);
        assert_eq!((n(&i, "rows_loaded"), n(&i, "rejected.malformed")), (n(&want, "totals.events"), 0), "{fmt}: {i}");
        assert!(analyze(&back, &[]) == want, "{fmt}: the re-ingested export's analysis differs");
    }
    let header = csv_lines(&dir.path().join("events.csv"))[0].clone();
    assert_eq!(header, "user_id,item_id,category_id,behavior_type,timestamp");
}

#[test]
fn filtered_events_and_segment_users_are_the_rows_the_analyses_count() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample(dir.path());
    let filter = ["--from", "2017-11-28", "--to", "2017-12-01", "--behavior", "pv,buy"];
    let m = analyze(&db, &filter);
    let out = dir.path().join("f.csv");
    let s = export(&db, &out, &[&["--what", "events"][..], &filter[..]].concat());
    assert_eq!(n(&s, "rows"), n(&m, "totals.events"));
    let lines = csv_lines(&out);
    assert!(lines[1..].iter().all(|l| l.contains(",pv,") || l.contains(",buy,")), "only pv and buy");
    // Users: each segment's list has the analysis's count, for the whole window and for a range.
    for args in [&[][..], &["--from", "2017-11-28", "--to", "2017-12-01"][..]] {
        let m = analyze(&db, args);
        for seg in m["rfm"]["segments"].as_array().unwrap() {
            let name = seg["segment"].as_str().unwrap();
            let out = dir.path().join(format!("u_{name}.csv"));
            let s = export(&db, &out, &[&["--what", "users", "--segment", name][..], args].concat());
            assert_eq!(n(&s, "rows"), n(seg, "users"), "{name} {args:?}");
            let lines = csv_lines(&out);
            assert!(
                lines[0].starts_with("user_id,recency_days,frequency,monetary,r_score,f_score,m_score,segment,p_alive"),
                "{}",
                lines[0]
            );
            assert!(lines[1..].iter().all(|l| l.split(',').nth(7) == Some(name)), "{name}");
        }
    }
    // An empty list keeps its columns: without buys there are no buyers, and the files say which
    // columns a list would have.
    let none = dir.path().join("none.csv");
    let s = export(&db, &none, &["--what", "users", "--behavior", "pv"]);
    assert_eq!(n(&s, "rows"), 0);
    assert_eq!(csv_lines(&none), vec![csv_lines(&dir.path().join("u_champions.csv"))[0].clone()]);
    // P(alive) narrows the list.
    let all = export(&db, &dir.path().join("all.json"), &["--what", "users", "--format", "json"]);
    let some = export(&db, &dir.path().join("some.json"), &["--what", "users", "--format", "json", "--min-p-alive", "0.9"]);
    assert!(n(&some, "rows") <= n(&all, "rows"));
    let text = std::fs::read_to_string(dir.path().join("some.json")).unwrap();
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(float(&v["p_alive"]) >= 0.9, "{l}");
        assert!(l.starts_with("{\"user_id\":"), "columns in order: {l}");
    }
}

#[test]
fn a_users_workbook_holds_what_the_csv_holds() {
    use calamine::{Data, Reader};
    let dir = tempfile::tempdir().unwrap();
    let db = sample(dir.path());
    let (csv, xlsx) = (dir.path().join("u.csv"), dir.path().join("u.xlsx"));
    export(&db, &csv, &["--what", "users", "--segment", "loyal"]);
    let s = export(&db, &xlsx, &["--what", "users", "--segment", "loyal", "--format", "xlsx"]);
    let lines = csv_lines(&csv);
    assert_eq!(n(&s, "rows") as usize, lines.len() - 1);
    let mut book = calamine::open_workbook_auto(&xlsx).unwrap();
    assert_eq!(book.sheet_names(), vec!["users".to_string()]);
    let range = book.worksheet_range("users").unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    assert_eq!(rows.len(), lines.len());
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    assert_eq!(header.join(","), lines[0]);
    for (r, line) in rows[1..].iter().zip(&lines[1..]) {
        for (c, f) in r.iter().zip(line.split(',')) {
            match c {
                Data::Float(x) => assert!((x - f.parse::<f64>().unwrap()).abs() <= 5e-5 * x.abs().max(1.0), "{c} vs {f}"),
                Data::String(t) => assert_eq!(t, f),
                Data::Empty => assert_eq!(f, ""),
                other => panic!("unexpected cell {other:?} for {f}"),
            }
        }
    }
}

#[test]
fn rejects_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample(dir.path());
    let out = dir.path().join("rej.csv");
    let s = export(&db, &out, &["--what", "rejects"]);
    assert_eq!(n(&s, "rows"), 44);
    let file = std::fs::read_to_string(dir.path().join("r.rejects.csv")).unwrap();
    assert_eq!(csv_lines(&out).len(), file.lines().count(), "as many rows as the rejects file");
    let d = db.to_str().unwrap();
    // The summary line in both languages.
    for (lang, says) in [("zh", "已导出拒绝行 44 行 → "), ("en", "Exported 44 rows of rejects → ")] {
        let o = ecomm().args(["export", "--db", d, "--what", "rejects", "--lang", lang, "--out"]).arg(&out).assert().success();
        let text = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
        assert!(text.starts_with(says), "{text}");
    }
    let bad = dir.path().join("bad.csv");
    let b = bad.to_str().unwrap();
    for (args, says) in [
        (vec!["--what", "users", "--segment", "vip"], "unknown segment 'vip'"),
        (vec!["--what", "users", "--min-p-alive", "2"], "not a probability"),
        (vec!["--what", "events", "--segment", "loyal"], "--what users only"),
        (vec!["--what", "events", "--category", "999999999"], "category 999999999"),
        (vec!["--what", "metrics"], "add --section KEY"),
        (vec!["--what", "metrics", "--format", "parquet"], "parquet is for --what events"),
        (vec!["--what", "metrics", "--section", "nope", "--format", "xlsx"], "unknown section 'nope'; use one of overview, funnel"),
        (vec!["--what", "events", "--section", "funnel"], "--section picks one analysis"),
    ] {
        let err = fails(&[&["export", "--db", d, "--out", b][..], &args[..]].concat());
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!bad.exists(), "{args:?} left a file");
    }
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.ends_with(".partial")), "{names:?}");
}

#[test]
fn a_list_longer_than_a_sheet_is_refused_not_cut() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("g.csv");
    ecomm().args(["gen", "--rows", "1100000", "--seed", "3", "--out"]).arg(&csv).assert().success();
    let db = dir.path().join("g.duckdb");
    let s = ingest(&db, &[&csv], &[]);
    assert!(n(&s, "rows_loaded") > 1_048_575, "{s}");
    let out = dir.path().join("all.xlsx");
    let err = fails(&["export", "--db", db.to_str().unwrap(), "--what", "events", "--format", "xlsx", "--out", out.to_str().unwrap()]);
    assert!(err.contains("do not fit an Excel sheet") && err.contains("--format csv"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!out.exists() && !left.iter().any(|n| n.to_string_lossy().contains("all.xlsx")), "{left:?}");
}

/// The cells of a sheet's main table (header at row 4, as the workbook lays it out), as JSON:
/// numbers as numbers, texts as strings, empty cells as null.
fn sheet_table(book: &mut calamine::Sheets<std::io::BufReader<std::fs::File>>, name: &str, rows: usize) -> Vec<Vec<Value>> {
    use calamine::{Data, Reader};
    let range = book.worksheet_range(name).unwrap_or_else(|e| panic!("sheet {name}: {e}"));
    let start = range.start().unwrap();
    assert_eq!(start, (0, 0), "{name} starts at A1");
    let width = (0..64u32).take_while(|c| range.get_value((3, *c)).is_some_and(|v| *v != Data::Empty)).count() as u32;
    (3..4 + rows as u32)
        .map(|r| {
            (0..width)
                .map(|c| match range.get_value((r, c)) {
                    Some(Data::Float(x)) => serde_json::json!(x),
                    Some(Data::Int(x)) => serde_json::json!(*x as f64),
                    Some(Data::String(t)) => Value::String(t.clone()),
                    _ => Value::Null,
                })
                .collect()
        })
        .collect()
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|x| (x - b).abs() <= 1e-9 * b.abs().max(1.0))
}

/// Unzips one member of an xlsx (the workbook is a zip of XML parts).
fn part(xlsx: &Path, member: &str) -> String {
    let o = std::process::Command::new("unzip").arg("-p").arg(xlsx).arg(member).output().unwrap();
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_metrics_workbook_holds_every_analysis_with_its_numbers_and_a_chart() {
    use calamine::Reader;
    let dir = tempfile::tempdir().unwrap();
    let db = sample(dir.path());
    let filter = ["--from", "2017-11-26", "--to", "2017-12-02"];
    let m = analyze(&db, &filter);
    let xlsx = dir.path().join("m.xlsx");
    let s = export(&db, &xlsx, &[&["--what", "metrics", "--format", "xlsx", "--lang", "en"][..], &filter[..]].concat());
    assert_eq!(s["what"], "metrics");
    let mut book = calamine::open_workbook_auto(&xlsx).unwrap();
    let names = book.sheet_names();
    assert_eq!(
        names[..8],
        ["Overview", "Funnel", "Activity by hour", "Daily trend", "Day-1 retention", "Repurchase", "Top categories", "RFM segments"]
    );
    // One sheet per registry analysis after the built-ins, in the JSON's order.
    let registry = ["ordered_funnel", "cohorts", "lifecycle", "sessions", "association", "clv", "anomalies"];
    assert_eq!(names.len(), 8 + registry.len(), "{names:?}");
    // The funnel: headers in English, numbers equal to the JSON (rates as the same ratios).
    let f = sheet_table(&mut book, "Funnel", 4);
    assert_eq!(f[0], ["Stage", "Events", "Users", "From previous", "From pv"].map(Value::from).to_vec());
    for (row, st) in f[1..].iter().zip(m["funnel"].as_array().unwrap()) {
        assert_eq!(row[0], st["stage"]);
        for (i, k) in ["events", "users", "rate_from_prev", "rate_from_first"].iter().enumerate() {
            assert!(close(&row[i + 1], float(&st[k])), "funnel {k}: {row:?} vs {st}");
        }
    }
    let h = sheet_table(&mut book, "Activity by hour", 24);
    for (row, hr) in h[1..].iter().zip(m["hourly"].as_array().unwrap()) {
        for (i, k) in ["hour", "pv", "fav", "cart", "buy"].iter().enumerate() {
            assert!(close(&row[i], float(&hr[k])), "hourly {k}: {row:?}");
        }
    }
    let days = m["daily"].as_array().unwrap();
    let d = sheet_table(&mut book, "Daily trend", days.len());
    for (row, day) in d[1..].iter().zip(days) {
        assert_eq!(row[0], day["date"]);
        assert!(close(&row[1], float(&day["users"])) && close(&row[5], float(&day["buy"])), "{row:?} vs {day}");
    }
    let ret = m["retention"].as_array().unwrap();
    let r = sheet_table(&mut book, "Day-1 retention", ret.len());
    for (row, x) in r[1..].iter().zip(ret) {
        assert!(close(&row[1], float(&x["cohort"])) && close(&row[2], float(&x["retained"])) && close(&row[3], float(&x["rate"])));
    }
    let p = sheet_table(&mut book, "Repurchase", 1);
    assert!(close(&p[1][0], float(&m["repurchase"]["buyers"])) && close(&p[1][2], float(&m["repurchase"]["rate"])), "{p:?}");
    let cats = m["top_categories"].as_array().unwrap();
    let c = sheet_table(&mut book, "Top categories", cats.len());
    for (row, x) in c[1..].iter().zip(cats) {
        assert_eq!(row[1], Value::String(x["category_id"].to_string()));
        assert!(close(&row[2], float(&x["buys"])));
    }
    let segs = m["rfm"]["segments"].as_array().unwrap();
    let rfm = sheet_table(&mut book, "RFM segments", segs.len());
    for (row, x) in rfm[1..].iter().zip(segs) {
        assert!(close(&row[1], float(&x["users"])) && close(&row[2], float(&x["share"])) && close(&row[3], float(&x["avg_recency"])));
    }
    let o = sheet_table(&mut book, "Overview", 15);
    assert_eq!(o[1], ["Range", "2017-11-26 .. 2017-12-02"].map(Value::from).to_vec());
    assert!(close(&o[4][1], float(&m["kpis"]["uv"])) && close(&o[8][1], float(&m["kpis"]["pv_to_buy_conversion"])), "{o:?}");
    // Every registry analysis: its sheet's table is its section's, cell for cell. A chart for each
    // plot (the built-ins have 7), except heatmaps, which Excel draws as a colour scale.
    let mut plots = 7;
    for (i, key) in registry.iter().enumerate() {
        let j = dir.path().join(format!("{key}.json"));
        export(&db, &j, &[&["--what", "metrics", "--format", "json", "--lang", "en", "--section", key][..], &filter[..]].concat());
        let sec: Value = serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap();
        let rows = sec["rows"].as_array().unwrap();
        let drawn = |p: &&Value| p["kind"] != "heatmap" && !p["labels"].as_array().unwrap().is_empty();
        plots += sec["plots"].as_array().unwrap().iter().filter(drawn).count();
        let t = sheet_table(&mut book, &names[8 + i], rows.len());
        assert_eq!(t[0], sec["columns"].as_array().unwrap().clone(), "{key}");
        for (got, want) in t[1..].iter().zip(rows) {
            for (g, w) in got.iter().zip(want.as_array().unwrap()) {
                match w {
                    Value::Number(x) => assert!(close(g, x.as_f64().unwrap()), "{key}: {g} vs {w}"),
                    Value::String(_) => assert_eq!(g, w, "{key}"),
                    _ => assert_eq!(g, &Value::Null, "{key}"),
                }
            }
        }
    }
    // Native charts: one per plot of every sheet but the heatmaps; frozen headers; number formats.
    let listing = std::process::Command::new("unzip").arg("-Z1").arg(&xlsx).output().unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    let charts = listing.lines().filter(|l| l.starts_with("xl/charts/chart")).count();
    assert_eq!(charts, plots, "{listing}");
    let funnel = part(&xlsx, "xl/worksheets/sheet2.xml");
    assert!(funnel.contains(r#"<pane ySplit="4" topLeftCell="A5" activePane="bottomLeft" state="frozen"/>"#), "{funnel}");
    assert!(part(&xlsx, "xl/drawings/drawing1.xml").contains("<c:chart "), "the funnel sheet draws a chart");
    let styles = part(&xlsx, "xl/styles.xml");
    assert!(styles.contains("0.00%") && styles.contains("#,##0"), "{styles}");
    assert!(part(&xlsx, "xl/charts/chart1.xml").contains("<c:barChart>"), "the funnel is a bar chart");
    assert!(part(&xlsx, "xl/worksheets/sheet10.xml").contains(r#"type="colorScale""#), "the cohorts' heatmap is a colour scale");
}

#[test]
fn the_workbook_reads_in_chinese_and_one_section_exports_as_csv() {
    use calamine::Reader;
    let dir = tempfile::tempdir().unwrap();
    let db = sample(dir.path());
    let xlsx = dir.path().join("zh.xlsx");
    export(&db, &xlsx, &["--what", "metrics", "--format", "xlsx", "--lang", "zh"]);
    let mut book = calamine::open_workbook_auto(&xlsx).unwrap();
    let names = book.sheet_names();
    assert_eq!(names[..3], ["概览", "转化漏斗", "24 小时行为分布"]);
    assert!(names.iter().all(|n| n.chars().count() <= 31), "{names:?}");
    let range = book.worksheet_range("转化漏斗").unwrap();
    assert_eq!(range.get_value((3, 0)).unwrap().to_string(), "阶段");
    assert_eq!(range.get_value((4, 0)).unwrap().to_string(), "浏览 pv");
    // One section as CSV: a BOM for Excel, the header in the language, the JSON's numbers.
    let m = analyze(&db, &[]);
    let csv = dir.path().join("funnel.csv");
    let s = export(&db, &csv, &["--what", "metrics", "--section", "funnel", "--format", "csv", "--lang", "en"]);
    assert_eq!(n(&s, "rows"), 4);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with('\u{feff}'), "BOM");
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "Stage,Events,Users,From previous,From pv");
    let buy = &m["funnel"][3];
    assert_eq!(
        lines[4],
        format!("buy,{},{},{},{}", buy["events"], buy["users"], float(&buy["rate_from_prev"]), float(&buy["rate_from_first"]))
    );
    // --format json without --section is exactly `analyze --format json`.
    let j = dir.path().join("all.json");
    export(&db, &j, &["--what", "metrics", "--format", "json"]);
    assert_eq!(serde_json::from_str::<Value>(&std::fs::read_to_string(&j).unwrap()).unwrap(), m);
}
