//! `ecomm report`: the PDF report plus every chart as PNG and SVG (built by [`crate::report::build`]).

use crate::cli::ReportArgs;
use crate::i18n::{ui, Lang};
use crate::report::build::{generate, ReportConfig, Written};
use crate::store::OpenOptions;
use anyhow::Result;

/// Runs `ecomm report`.
pub fn run(a: ReportArgs) -> Result<()> {
    let w = generate(&ReportConfig {
        db: a.db.db.clone(),
        open: OpenOptions { memory_limit: a.db.memory_limit.clone(), threads: a.db.threads },
        out: a.out.clone(),
        lang: a.lang,
        query: a.query()?,
        font: a.font.clone(),
        model: a.model.clone(),
        llm: !a.no_llm,
        progress: !a.quiet && super::interactive(),
    })?;
    print_written(&w, a.lang);
    Ok(())
}

/// Prints where the report and charts went.
pub fn print_written(w: &Written, lang: Lang) {
    let (head, charts, font) = (ui::REPORT_WRITTEN.get(lang), ui::CHARTS.get(lang), ui::FONT.get(lang));
    crate::outln!(
        "{head}: {} ({:.0} KB, {} {}, {:.2} s)",
        w.pdf.display(),
        w.bytes as f64 / 1024.0,
        w.pages,
        ui::PAGES.get(lang),
        w.seconds
    );
    let dir = w.charts.first().and_then(|p| p.parent()).map(|p| p.display().to_string()).unwrap_or_default();
    let names: Vec<String> = w.charts.iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    crate::outln!("{charts} ({dir}): {}", names.join(", "));
    crate::outln!("{font}: {}", w.font);
}
