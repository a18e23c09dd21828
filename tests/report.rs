//! `ecomm report`: the PDF read back with poppler (pdftotext, pdffonts, pdftoppm, pdfinfo) and
//! compared with `ecomm analyze --format json` on the same DB.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command as Std;

fn tool(name: &str, args: &[&str]) -> String {
    let out = Std::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} is needed for these tests (apt-get install poppler-utils): {e}"));
    assert!(out.status.success(), "{name} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn report(db: &Path, out: &Path, extra: &[&str]) -> String {
    let o = ecomm()
        .arg("report")
        .arg("--db")
        .arg(db)
        .arg("--out")
        .arg(out)
        .arg("--no-llm")
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8_lossy(&o).into_owned()
}

fn text(pdf: &Path) -> String {
    tool("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"])
}

/// The value printed right after `label` on a line of the KPI table.
fn kpi(text: &str, label: &str) -> String {
    for line in text.lines() {
        let l = line.trim_start();
        if let Some(rest) = l.strip_prefix(label) {
            let v = rest.split_whitespace().next().unwrap_or("");
            if v.starts_with(|c: char| c.is_ascii_digit()) {
                return v.to_string();
            }
        }
    }
    panic!("KPI {label:?} not found in:\n{text}");
}

fn int(v: &str) -> u64 {
    v.replace(',', "").parse().unwrap_or_else(|_| panic!("not an integer: {v}"))
}

fn pct(r: f64) -> String {
    format!("{:.2}%", r * 100.0)
}

/// Every KPI in the PDF equals the analyze JSON.
fn check_kpis(text: &str, json: &Value, labels: [&str; 8]) {
    let k = &json["kpis"];
    assert_eq!(int(&kpi(text, labels[0])), k["uv"].as_u64().unwrap(), "UV");
    assert_eq!(int(&kpi(text, labels[1])), k["pv"].as_u64().unwrap(), "PV");
    assert_eq!(int(&kpi(text, labels[2])), k["buys"].as_u64().unwrap(), "buys");
    assert_eq!(int(&kpi(text, labels[3])), k["buyers"].as_u64().unwrap(), "buyers");
    assert_eq!(kpi(text, labels[4]), pct(k["pv_to_buy_conversion"].as_f64().unwrap()), "conversion");
    assert_eq!(kpi(text, labels[5]), pct(k["repurchase_rate"].as_f64().unwrap()), "repurchase");
    assert_eq!(kpi(text, labels[6]), pct(k["avg_day1_retention"].as_f64().unwrap()), "retention");
    assert_eq!(kpi(text, labels[7]), format!("{}:00", k["peak_hour"].as_u64().unwrap()), "peak hour");
}

const ZH: [&str; 8] = ["访客数 UV", "浏览量 PV", "购买次数", "购买用户", "浏览→购买 用户转化率", "复购率", "平均次日留存", "高峰时段"];
const EN: [&str; 8] = [
    "Unique visitors (UV)",
    "Page views (PV)",
    "Buy events",
    "Buyers",
    "pv→buy user conversion",
    "Repurchase rate",
    "Average day-1 retention",
    "Peak hour",
];

fn pages(pdf: &Path) -> usize {
    let info = tool("pdfinfo", &[pdf.to_str().unwrap()]);
    info.lines().find_map(|l| l.strip_prefix("Pages:")).expect("pages").trim().parse().unwrap()
}

/// Renders every page; keeps page 1 as a PNG artifact under target/.
fn render_all(pdf: &Path, artifact: &str) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("page");
    tool("pdftoppm", &["-r", "60", "-png", pdf.to_str().unwrap(), prefix.to_str().unwrap()]);
    let mut pngs: Vec<PathBuf> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    pngs.sort();
    assert_eq!(pngs.len(), pages(pdf), "pdftoppm rendered every page");
    for p in &pngs {
        assert!(std::fs::metadata(p).unwrap().len() > 1000, "{} looks blank", p.display());
    }
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join(artifact);
    std::fs::copy(&pngs[0], &keep).unwrap();
    let cover = dir.path().join("cover");
    tool("pdftoppm", &["-r", "110", "-png", "-f", "2", "-l", "2", pdf.to_str().unwrap(), cover.to_str().unwrap()]);
}

fn db_100k(dir: &Path) -> PathBuf {
    let db = dir.join("r.duckdb");
    ingest(&db, &[&real("100k")], &[]);
    db
}

#[test]
fn chinese_report_matches_analyze_and_embeds_a_cjk_subset() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_100k(dir.path());
    let pdf = dir.path().join("out/report.pdf");
    let stdout = report(&db, &pdf, &["--lang", "zh"]);
    assert!(stdout.contains("报告已生成"), "{stdout}");
    let size = std::fs::metadata(&pdf).unwrap().len();
    assert!(size < 2 * 1024 * 1024, "PDF is {size} bytes");
    let t = text(&pdf);
    for h in [
        "用户行为分析报告",
        "核心指标",
        "转化漏斗",
        "24 小时行为分布",
        "每日趋势",
        "次日留存",
        "RFM 用户分层",
        "购买量 Top 10 类目",
        "8. 有序漏斗（按顺序、限时间窗口）",
        "9. 同期群留存",
        "10. 用户生命周期（按日期）",
        "11. 会话与路径",
        "12. 品类关联",
        "13. 客户生命周期价值",
        "14. 异常",
        "15. 运营建议（基于规则",
        "附录 A：指标定义",
        "附录 B：数据清洗汇总",
        "结论",
        "第 2 / ",
    ] {
        assert!(t.contains(h), "missing heading {h}");
    }
    check_kpis(&t, &analyze(&db, &[]), ZH);
    // The cleaning summary: 100,001 rows read, 44 out of window.
    assert!(t.contains("100,001") && t.contains("99,957"), "cleaning totals");
    let fonts = tool("pdffonts", &[pdf.to_str().unwrap()]);
    let cjk = fonts
        .lines()
        .skip(2)
        .find(|l| ["CJK", "WenQuanYi", "Han", "PingFang", "YaHei", "Sim"].iter().any(|k| l.contains(k)))
        .unwrap_or_else(|| panic!("no CJK font in:\n{fonts}"));
    let cols: Vec<&str> = cjk.split_whitespace().collect();
    let n = cols.len();
    assert_eq!(&cols[n - 5..n - 2], &["yes", "yes", "yes"], "embedded, subset, with ToUnicode: {cjk}");
    render_all(&pdf, "report-zh-page1.png");
    // Every chart as PNG and SVG beside the PDF.
    for c in ["funnel", "hourly", "daily", "retention", "rfm", "categories"] {
        let png = std::fs::read(dir.path().join(format!("out/report_{c}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{c}.png");
        let svg = std::fs::read_to_string(dir.path().join(format!("out/report_{c}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{c}.svg");
    }
    let svg = std::fs::read_to_string(dir.path().join("out/report_funnel.svg")).unwrap();
    assert!(svg.contains("浏览 pv"), "chart labels are in the report language");
    // The PDF embeds each chart's PNG data as it is: poppler's decoded images equal the PNG files'
    // pixels, in section order.
    let prefix = dir.path().join("img");
    tool("pdfimages", &["-png", pdf.to_str().unwrap(), prefix.to_str().unwrap()]);
    for (k, c) in ["funnel", "hourly", "daily", "retention", "rfm", "categories"].iter().enumerate() {
        let from_pdf = pixels(&dir.path().join(format!("img-{k:03}.png")));
        let file = pixels(&dir.path().join(format!("out/report_{c}.png")));
        assert_eq!(from_pdf.0, (1600, 900), "{c}");
        assert!(from_pdf == file, "the PDF's {c} chart differs from report_{c}.png");
    }
}

/// Size and RGB pixels of a PNG file.
fn pixels(path: &Path) -> ((u32, u32), Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    buf.truncate(info.buffer_size());
    ((info.width, info.height), buf)
}

#[test]
fn english_report_matches_analyze() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_100k(dir.path());
    let pdf = dir.path().join("en.pdf");
    report(&db, &pdf, &["--lang", "en"]);
    let t = text(&pdf);
    for h in [
        "User Behaviour Analysis Report",
        "Key figures",
        "Funnel",
        "Activity by hour",
        "Daily trend",
        "Day-1 retention",
        "RFM segments",
        "8. Ordered funnel (in order, within a window)",
        "9. Cohort retention",
        "10. User lifecycle by date",
        "11. Sessions and paths",
        "12. Category association",
        "13. Customer lifetime value",
        "14. Anomalies",
        "15. Recommendations",
        "Appendix A",
        "Page 2 of",
    ] {
        assert!(t.contains(h), "missing heading {h}");
    }
    let cjk: Vec<char> = t.chars().filter(|c| ('\u{3000}'..='\u{9fff}').contains(c) || ('\u{ff00}'..='\u{ffef}').contains(c)).collect();
    assert!(cjk.is_empty(), "no Chinese in the English report: {cjk:?}");
    // Subscripts are not in the report's fonts (they drew as empty boxes).
    let subscripts: Vec<char> =
        t.chars().filter(|c| ('\u{2080}'..='\u{209f}').contains(c) || ('\u{1d62}'..='\u{1d6a}').contains(c)).collect();
    assert!(subscripts.is_empty(), "subscript characters the fonts lack: {subscripts:?}");
    check_kpis(&t, &analyze(&db, &[]), EN);
    render_all(&pdf, "report-en-page1.png");
    assert!(dir.path().join("en_hourly.svg").exists());
}

#[test]
fn date_filtered_report_uses_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_100k(dir.path());
    let pdf = dir.path().join("dec.pdf");
    report(&db, &pdf, &["--lang", "en", "--from", "2017-12-01", "--to", "2017-12-03"]);
    let t = text(&pdf);
    assert!(t.contains("2017-12-01 – 2017-12-03"), "range on the cover");
    let json = analyze(&db, &["--from", "2017-12-01", "--to", "2017-12-03"]);
    check_kpis(&t, &json, EN);
    assert_ne!(json["kpis"]["pv"], analyze(&db, &[])["kpis"]["pv"], "the filter changes the numbers");
}

#[test]
fn zero_buyers_report_has_no_division_by_zero_or_empty_chart_crash() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("nobuy.csv");
    let mut s = String::new();
    for u in 1..=5 {
        for d in 0..3 {
            s += &format!("{u},{},{},pv,{}\n", 100 + u, 7, bj(d, 20, u, 0));
        }
    }
    std::fs::write(&csv, s).unwrap();
    let db = dir.path().join("n.duckdb");
    ingest(&db, &[&csv], &[]);
    for lang in ["zh", "en"] {
        let pdf = dir.path().join(format!("{lang}.pdf"));
        report(&db, &pdf, &["--lang", lang]);
        let t = text(&pdf);
        assert!(!t.contains("NaN") && !t.contains("inf"), "{t}");
        check_kpis(&t, &analyze(&db, &[]), if lang == "zh" { ZH } else { EN });
        if lang == "zh" {
            assert!(t.contains("区间内没有购买用户"), "says there are no buyers");
        } else {
            assert!(t.contains("no buyers"), "says there are no buyers");
        }
        render_all(&pdf, &format!("report-nobuy-{lang}.png"));
    }
}

#[test]
fn missing_or_unusable_font_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_100k(dir.path());
    let out = dir.path().join("x.pdf");
    let missing = dir.path().join("nope.ttf");
    let err = fails(&["report", "--db", db.to_str().unwrap(), "--out", out.to_str().unwrap(), "--font", missing.to_str().unwrap()]);
    assert!(err.contains("nope.ttf") && err.contains("--font"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
    // A real font without Chinese glyphs cannot write a Chinese report.
    let latin = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    if Path::new(latin).exists() {
        let err = fails(&["report", "--db", db.to_str().unwrap(), "--out", out.to_str().unwrap(), "--font", latin, "--lang", "zh"]);
        assert!(err.contains("Chinese"), "{err}");
        // ... but an English one.
        report(&db, &out, &["--font", latin, "--lang", "en"]);
    }
    // ECOMM_FONT pointing at something that is not a font.
    let junk = dir.path().join("junk.ttf");
    std::fs::write(&junk, b"not a font").unwrap();
    let o = ecomm()
        .args(["report", "--db", db.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("ECOMM_FONT", &junk)
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&o);
    assert!(err.contains("junk.ttf"), "{err}");
    assert!(!out.with_extension("pdf.tmp").exists());
}

#[test]
fn font_lookup_order_flag_env_then_fonts_folder() {
    let wqy = Path::new("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc");
    let noto = Path::new("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc");
    assert!(wqy.exists() && noto.exists(), "CI installs fonts-wqy-microhei and fonts-noto-cjk");
    let dir = tempfile::tempdir().unwrap();
    let db = db_100k(dir.path());
    std::fs::create_dir(dir.path().join("fonts")).unwrap();
    std::os::unix::fs::symlink(wqy, dir.path().join("fonts/wqy-microhei.ttc")).unwrap();
    let run = |env: Option<&Path>, flag: Option<&Path>| {
        let mut c = ecomm();
        c.current_dir(dir.path()).args(["report", "--db", "r.duckdb", "--out", "o.pdf", "--no-llm"]).env_remove("ECOMM_FONT");
        if let Some(e) = env {
            c.env("ECOMM_FONT", e);
        }
        if let Some(f) = flag {
            c.arg("--font").arg(f);
        }
        String::from_utf8_lossy(&c.assert().success().get_output().stdout).into_owned()
    };
    assert!(run(None, None).contains("WenQuanYi Micro Hei"), "fonts/ comes before system fonts");
    assert!(run(Some(noto), None).contains("Noto Sans CJK SC"), "ECOMM_FONT before fonts/; SC face of the collection");
    assert!(run(Some(noto), Some(wqy)).contains("WenQuanYi"), "--font before ECOMM_FONT");
    let fonts = tool("pdffonts", &[dir.path().join("o.pdf").to_str().unwrap()]);
    assert!(fonts.contains("WenQuanYi") && fonts.contains("TrueType"), "{fonts}");
    let _ = db;
}
