//! The PDF's sections for the analyses of the metrics registry: each with its charts, its
//! tables, its key numbers and its conclusion, drawn from the analysis's generic
//! [`Section`](crate::metrics::section::Section) alone.

use super::Drawn;
use crate::i18n::{pct, tr, ui, Lang};
use crate::metrics::section::{Plot, PlotKind};
use crate::metrics::Metrics;
use crate::render::chart::{Chart, Kind, Series};
use crate::render::num;
use crate::render::pdf::{ink, Align, Doc, PdfError, WIDTH};

/// The charts of the registry's sections, in section order.
pub fn charts(m: &Metrics, lang: Lang) -> Vec<Chart> {
    m.more.sections().flat_map(|s| s.plots.iter()).map(|p| chart(p, lang)).collect()
}

fn chart(p: &Plot, lang: Lang) -> Chart {
    let fmt: fn(f64) -> String = if lang == Lang::Zh { num::compact_zh } else { num::compact_en };
    let kind = match &p.kind {
        PlotKind::Funnel { stages } => {
            let first = stages.first().map(|s| s.1).unwrap_or(0.0);
            let rate = |a: f64, b: f64| pct(if b > 0.0 { a / b } else { 0.0 });
            Kind::Funnel {
                stages: stages
                    .iter()
                    .enumerate()
                    .map(|(i, (name, v))| {
                        let notes = if i == 0 {
                            vec![tr(lang, &ui::BASE_100)]
                        } else {
                            vec![
                                format!("{} {}", crate::i18n::t(lang, "rate_prev"), rate(*v, stages[i - 1].1)),
                                format!("{} {}", tr(lang, &ui::FROM_STEP_1), rate(*v, first)),
                            ]
                        };
                        (name.get(lang), *v, notes)
                    })
                    .collect(),
            }
        }
        PlotKind::Bars { bars, horizontal, axis } => Kind::Bars {
            bars: bars.iter().map(|(l, v, note)| (l.get(lang), *v, note.show())).collect(),
            horizontal: *horizontal,
            desc: axis.get(lang).to_string(),
        },
        PlotKind::Stacked { x, series, axis } => Kind::Stacked {
            x: x.clone(),
            series: series.iter().map(|(n, v)| Series { name: n.get(lang).to_string(), values: v.clone() }).collect(),
            desc: axis.get(lang).to_string(),
        },
        PlotKind::Heatmap { rows, columns, values } => {
            Kind::Heatmap { rows: rows.clone(), columns: columns.clone(), values: values.clone() }
        }
    };
    Chart { name: p.name, title: p.title.get(lang).to_string(), kind, empty_note: tr(lang, &ui::NOTHING_TO_DRAW_IN_THIS), fmt }
}

fn table(d: &mut Doc, header: &[String], rows: &[Vec<String>]) {
    let widths = vec![1.0 / header.len().max(1) as f32; header.len()];
    let align: Vec<Align> = (0..header.len()).map(|i| if i == 0 { Align::Left } else { Align::Right }).collect();
    let size = if header.len() > 8 { 7.5 } else { 9.0 };
    d.table(header, rows, &widths, &align, size);
}

/// Sections `n` onwards: one per analysis of the registry, each starting with its charts (taken
/// from `drawn` in [`charts`] order); returns the number of the next section.
pub fn sections(d: &mut Doc, m: &Metrics, lang: Lang, drawn: &mut impl Iterator<Item = Drawn>, mut n: usize) -> Result<usize, PdfError> {
    for sec in m.more.sections() {
        let s = sec.shown(lang);
        d.ensure(120.0 + Doc::image_height(crate::render::chart::PNG_SIZE, WIDTH));
        d.heading(&format!("{n}. {}", s.title), 1);
        for _ in &s.plots {
            if let Some(c) = drawn.next() {
                d.ensure(Doc::image_height(crate::render::chart::PNG_SIZE, WIDTH));
                d.image_png(&c.png, WIDTH)?;
            }
        }
        table(d, &s.columns, &s.rows);
        for (title, columns, rows) in &s.tables {
            d.ensure(60.0);
            d.heading(title, 2);
            table(d, columns, rows);
        }
        if !s.headline.is_empty() {
            d.heading(&tr(lang, &ui::KEY_NUMBERS), 2);
            for (label, value) in &s.headline {
                d.bullet(&format!("{label}{}{value}", if lang == Lang::Zh { "：" } else { ": " }), 9.5);
            }
        }
        if let Some(c) = &s.conclusion {
            d.heading(&tr(lang, &ui::CONCLUSION), 2);
            d.paragraph(c, 10.0, ink::TEXT);
        }
        n += 1;
    }
    Ok(n)
}
