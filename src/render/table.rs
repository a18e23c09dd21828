//! Terminal tables for `ecomm analyze` and `ecomm ingest`, aligned for CJK text.

use crate::i18n::{int, pct, segment_name, t, Lang};
use crate::ingest::IngestSummary;
use crate::metrics::Metrics;
use std::fmt::Write;

pub use crate::i18n::width;

/// A simple table: a header row and data rows; the first column is left-aligned, the rest right-aligned.
pub fn table<S: AsRef<str>>(header: &[S], rows: &[Vec<String>]) -> String {
    let header: Vec<&str> = header.iter().map(|h| h.as_ref()).collect();
    let n = header.len();
    let mut w: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            w[i] = w[i].max(width(c));
        }
    }
    // Numbers, durations ("3.5 min") and "-" (not defined) are right-aligned.
    let numeric = |s: &str| {
        let s = [" s", " min", " h", " d"].iter().find_map(|u| s.strip_suffix(u)).unwrap_or(s);
        s == "-" || (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || ",.%:".contains(c)))
    };
    let left: Vec<bool> = (0..n).map(|i| !rows.iter().all(|r| r.get(i).is_none_or(|c| numeric(c)))).collect();
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i].saturating_sub(width(c));
            if left[i] {
                out.push_str(c);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(c);
            }
            if i + 1 < cells.len() {
                out.push_str("  ");
            }
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
    };
    line(header.clone(), &mut out);
    let total: usize = w.iter().sum::<usize>() + 2 * (n.saturating_sub(1));
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for r in rows {
        line(r.iter().map(|s| s.as_str()).collect(), &mut out);
    }
    out
}

/// Two aligned columns without a header: label, value.
pub fn key_values(rows: &[Vec<String>]) -> String {
    let t = table(&["", ""], rows);
    let mut out: String = t.lines().skip(2).collect::<Vec<_>>().join("\n");
    out.push('\n');
    out
}

fn section(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n== {title} ==");
}

/// The full analysis as terminal text.
pub fn analysis(m: &Metrics, lang: Lang) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} · {} {} .. {} · {} {}",
        t(lang, "title"),
        t(lang, "range"),
        m.range.from,
        m.range.to,
        t(lang, "timezone"),
        m.range.timezone
    );

    section(&mut o, t(lang, "kpis"));
    let k = &m.kpis;
    o.push_str(&key_values(&[
        vec![t(lang, "uv").into(), int(k.uv)],
        vec![t(lang, "pv").into(), int(k.pv)],
        vec![t(lang, "buys").into(), int(k.buys)],
        vec![t(lang, "buyers").into(), int(k.buyers)],
        vec![t(lang, "conversion").into(), pct(k.pv_to_buy_conversion)],
        vec![t(lang, "repurchase_rate").into(), pct(k.repurchase_rate)],
        vec![t(lang, "avg_retention").into(), pct(k.avg_day1_retention)],
        vec![t(lang, "peak_hour").into(), format!("{:02}:00", k.peak_hour)],
    ]));

    section(&mut o, t(lang, "totals"));
    o.push_str(&table(
        &[t(lang, "events"), t(lang, "users"), t(lang, "items"), t(lang, "categories")],
        &[vec![int(m.totals.events), int(m.totals.users), int(m.totals.items), int(m.totals.categories)]],
    ));

    section(&mut o, t(lang, "funnel"));
    let rows: Vec<Vec<String>> = m
        .funnel
        .iter()
        .map(|s| vec![s.stage.clone(), int(s.events), int(s.users), pct(s.rate_from_prev), pct(s.rate_from_first)])
        .collect();
    o.push_str(&table(&[t(lang, "stage"), t(lang, "events"), t(lang, "users"), t(lang, "rate_prev"), t(lang, "rate_first")], &rows));
    let _ = writeln!(o, "{}: {}", t(lang, "conversion"), pct(m.kpis.pv_to_buy_conversion));

    section(&mut o, t(lang, "hourly"));
    let rows: Vec<Vec<String>> =
        m.hourly.iter().map(|h| vec![format!("{:02}", h.hour), int(h.pv), int(h.fav), int(h.cart), int(h.buy)]).collect();
    o.push_str(&table(&[t(lang, "hour"), "pv", "fav", "cart", "buy"], &rows));

    section(&mut o, t(lang, "daily"));
    let rows: Vec<Vec<String>> =
        m.daily.iter().map(|d| vec![d.date.to_string(), int(d.users), int(d.pv), int(d.fav), int(d.cart), int(d.buy)]).collect();
    o.push_str(&table(&[t(lang, "date"), t(lang, "users"), "pv", "fav", "cart", "buy"], &rows));

    section(&mut o, t(lang, "retention"));
    let rows: Vec<Vec<String>> =
        m.retention.iter().map(|r| vec![r.date.to_string(), int(r.cohort), int(r.retained), pct(r.rate)]).collect();
    o.push_str(&table(&[t(lang, "date"), t(lang, "cohort"), t(lang, "retained"), t(lang, "rate")], &rows));

    section(&mut o, t(lang, "repurchase"));
    o.push_str(&table(
        &[t(lang, "buyers"), t(lang, "repeat_buyers"), t(lang, "repurchase_rate")],
        &[vec![int(m.repurchase.buyers), int(m.repurchase.repeat_buyers), pct(m.repurchase.rate)]],
    ));

    section(&mut o, t(lang, "top_categories"));
    let rows: Vec<Vec<String>> =
        m.top_categories.iter().enumerate().map(|(i, c)| vec![format!("{}", i + 1), c.category_id.to_string(), int(c.buys)]).collect();
    o.push_str(&table(&["#", t(lang, "category"), t(lang, "buys")], &rows));

    section(&mut o, t(lang, "rfm"));
    let rows = rfm_rows(m, lang);
    o.push_str(&table(&rfm_header(lang), &rows));
    let _ = writeln!(o, "{}: {}", t(lang, "buyers"), int(m.rfm.buyers));

    registry_sections(&mut o, m, lang);
    o
}

/// The analyses of the metrics registry: each section's table, then its headline numbers.
fn registry_sections(o: &mut String, m: &Metrics, lang: Lang) {
    for sec in m.more.sections() {
        let s = sec.shown(lang);
        section(o, s.title);
        o.push_str(&table(&s.columns, &s.rows));
        for (title, columns, rows) in &s.tables {
            let _ = writeln!(o, "\n{title}");
            o.push_str(&table(columns, rows));
        }
        for (label, value) in &s.headline {
            let _ = writeln!(o, "{label}: {value}");
        }
    }
}

/// The RFM table's header and rows (segment, users, share, average R/F/M, action), shared by
/// the terminal table and the PDF report.
pub fn rfm_rows(m: &Metrics, lang: Lang) -> Vec<Vec<String>> {
    m.rfm
        .segments
        .iter()
        .map(|s| {
            vec![
                segment_name(lang, &s.segment),
                int(s.users),
                pct(s.share),
                format!("{:.1}", s.avg_recency),
                format!("{:.1}", s.avg_frequency),
                format!("{:.1}", s.avg_monetary),
                if lang == Lang::Zh { s.action_zh.clone() } else { s.action_en.clone() },
            ]
        })
        .collect()
}

/// The RFM table's column headers.
pub fn rfm_header(lang: Lang) -> [&'static str; 7] {
    [t(lang, "segment"), t(lang, "users"), t(lang, "share"), t(lang, "avg_r"), t(lang, "avg_f"), t(lang, "avg_m"), t(lang, "action")]
}

/// The ingest summary as terminal text.
pub fn ingest(s: &IngestSummary, lang: Lang) -> String {
    let mut o = String::new();
    if s.unchanged {
        let _ = writeln!(o, "{}", t(lang, "unchanged"));
    } else {
        let _ = writeln!(o, "{}", t(lang, "ingest_done"));
    }
    let total_rej = s.rejected.malformed + s.rejected.bad_behavior + s.rejected.out_of_window + s.rejected.duplicate;
    let rows = vec![
        vec![t(lang, "rows_read").to_string(), int(s.rows_read)],
        vec![t(lang, "rows_loaded").to_string(), int(s.rows_loaded)],
        vec![t(lang, "rejected").to_string(), int(total_rej)],
        vec![format!("  {}", t(lang, "malformed")), int(s.rejected.malformed)],
        vec![format!("  {}", t(lang, "bad_behavior")), int(s.rejected.bad_behavior)],
        vec![format!("  {}", t(lang, "out_of_window")), int(s.rejected.out_of_window)],
        vec![format!("  {}", t(lang, "duplicate")), int(s.rejected.duplicate)],
        vec![
            t(lang, "window").to_string(),
            format!("{} .. {}{}", s.window.start, s.window.end, if s.window_detected { t(lang, "detected") } else { "" }),
        ],
        vec![t(lang, "timezone").to_string(), s.window.timezone.clone()],
        vec![t(lang, "db_rows").to_string(), int(s.db_rows)],
        vec![t(lang, "speed").to_string(), format!("{:.1} s, {:.2}M rows/s", s.seconds, s.rows_per_sec / 1e6)],
        vec![t(lang, "rejects_file").to_string(), s.rejects_file.clone()],
    ];
    o.push_str(&key_values(&rows));
    for f in &s.files {
        let _ = writeln!(o, "  {} [{}] {} / {}", f.file, f.status, int(f.rows_loaded), int(f.rows_read));
    }
    o
}
