//! Building a report end to end: compute the metrics, find a font, draw the charts, produce the
//! insights, lay out the PDF and write every file atomically. Used by `ecomm report`, `ecomm demo`
//! and the dashboard's `/api/report.pdf`.

use crate::appdb::AppDb;
use crate::i18n::prose::{self, fill};
use crate::i18n::{ui, Lang};
use crate::insights::{facts::Facts, produce, Request, Source};
use crate::metrics::{Metrics, MetricsError, Query};
use crate::render::fonts::{self, FontError};
use crate::store::{self, Mode, OpenOptions, StoreError};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The metrics.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The DB.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No usable font.
    #[error(transparent)]
    Font(#[from] FontError),
    /// The charts.
    #[error("drawing the charts failed: {0}")]
    Charts(#[from] crate::render::chart::DrawError),
    /// The PDF.
    #[error("writing the PDF failed: {0}")]
    Pdf(#[from] crate::render::pdf::PdfError),
    /// A file.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What to report on, validated.
pub struct ReportConfig {
    /// The DuckDB file.
    pub db: PathBuf,
    /// DB open options.
    pub open: OpenOptions,
    /// The PDF to write.
    pub out: PathBuf,
    /// Language.
    pub lang: Lang,
    /// The requested range, filter and journey options.
    pub query: Query,
    /// Explicit font.
    pub font: Option<PathBuf>,
    /// Explicit model for the insights section.
    pub model: Option<PathBuf>,
    /// Use the model when one is configured (false: rules only).
    pub llm: bool,
    /// Show progress.
    pub progress: bool,
}

/// What was written.
pub struct Written {
    /// The PDF.
    pub pdf: PathBuf,
    /// Its size in bytes.
    pub bytes: usize,
    /// Pages.
    pub pages: usize,
    /// Chart files (PNG and SVG).
    pub charts: Vec<PathBuf>,
    /// The font used.
    pub font: String,
    /// Seconds, end to end.
    pub seconds: f64,
}

fn now_in(zone: &str) -> String {
    let now = chrono::Utc::now();
    match crate::domain::tz::Zone::parse(zone) {
        Ok(z) => {
            let off = z.offset_at(now.timestamp());
            let local = now.naive_utc() + chrono::Duration::seconds(off as i64);
            let sign = if off < 0 { '-' } else { '+' };
            format!("{} ({zone}, UTC{sign}{:02}:{:02})", local.format("%Y-%m-%d %H:%M"), off.abs() / 3600, off.abs() % 3600 / 60)
        }
        Err(_) => format!("{} UTC", now.format("%Y-%m-%d %H:%M")),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("out")));
    std::fs::write(&tmp, bytes).map_err(|e| ReportError::Write { path: tmp.clone(), source: e })?;
    std::fs::rename(&tmp, path).map_err(|e| ReportError::Write { path: path.to_path_buf(), source: e })?;
    Ok(())
}

/// Writes each chart as PNG and SVG beside `out` (`<stem>_<chart>.png|svg`); returns the paths.
fn write_charts(drawn: &[super::Drawn], out: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir).map_err(|e| ReportError::Write { path: dir.clone(), source: e })?;
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    let mut chart_files = Vec::new();
    for d in drawn {
        let png = dir.join(format!("{stem}_{}.png", d.chart.name));
        let svg = dir.join(format!("{stem}_{}.svg", d.chart.name));
        write_atomic(&png, &d.png)?;
        write_atomic(&svg, d.svg.as_bytes())?;
        chart_files.extend([png, svg]);
    }
    Ok(chart_files)
}

/// The line under the insights heading: where they came from, and the outcome's own note.
fn insights_note(o: &crate::insights::Outcome, lang: Lang) -> String {
    let mut note = match o.source {
        Source::Rules => prose::NOTE_RULES.get(lang).to_string(),
        Source::Llm => fill(lang, &prose::NOTE_LLM, &[("model", o.model.clone().unwrap_or_default())]),
    };
    if !o.note.is_empty() {
        note = format!("{note} {}", o.note);
    }
    note
}

/// Builds the report for `c` and writes the PDF and the charts.
pub fn generate(c: &ReportConfig) -> Result<Written, ReportError> {
    let started = Instant::now();
    let pb = if c.progress { ProgressBar::new(5) } else { ProgressBar::hidden() };
    pb.set_style(ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg} {elapsed}").expect("template"));
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb.set_message(ui::STEP_METRICS.get(c.lang));
    let conn = store::open(&c.db, Mode::ReadOnly, &c.open)?;
    let m = Metrics::for_db(&conn, &c.db, &c.query)?;
    let totals = store::ingest_totals(&conn)?;
    let sources = store::source_files(&conn)?;
    drop(conn);
    pb.inc(1);

    pb.set_message(ui::STEP_FONT.get(c.lang));
    let font = fonts::find(c.font.as_deref(), c.lang)?;
    crate::domain::trace_here("report: font found");
    pb.inc(1);

    pb.set_message(ui::STEP_CHARTS.get(c.lang));
    let drawn = super::draw(super::charts(&m, c.lang), &font).map_err(ReportError::Charts)?;
    crate::domain::trace_here("report: charts drawn");
    let chart_files = write_charts(&drawn, &c.out)?;
    pb.inc(1);

    crate::domain::trace_here("report: chart files written");
    pb.set_message(ui::STEP_LAYOUT.get(c.lang));
    let facts = Facts::from_metrics(&m);
    pb.set_message(ui::STEP_INSIGHTS.get(c.lang));
    let app = AppDb::open(&crate::appdb::path_for(&c.db)).ok();
    let lang = c.lang;
    let tell = |s: &crate::insights::llm::Step| {
        pb.set_message(s.describe(lang));
        true
    };
    let o = produce(&Request {
        facts: &facts,
        lang: c.lang,
        model: c.model.as_deref(),
        threads: crate::insights::model_threads(c.open.threads),
        seed: 42,
        app: app.as_ref(),
        use_llm: c.llm,
        on_step: Some(&tell),
    });
    let note = insights_note(&o, c.lang);
    let input = super::Input {
        metrics: &m,
        facts: &facts,
        totals: &totals,
        sources: &sources,
        db: c.db.display().to_string(),
        lang: c.lang,
        generated: now_in(&m.range.timezone),
        insights: (o.source, o.insights),
        insights_note: note,
    };
    crate::domain::trace_here("report: insights");
    let (bytes, pages) = super::pdf(&input, &font, drawn).map_err(ReportError::Pdf)?;
    crate::domain::trace_here("report: PDF laid out");
    pb.inc(1);
    pb.set_message(ui::STEP_WRITE.get(c.lang));
    write_atomic(&c.out, &bytes)?;
    pb.inc(1);
    pb.finish_and_clear();
    let font_desc =
        format!("{} ({}{})", font.family, font.path.display(), if font.index > 0 { format!(" #{}", font.index) } else { String::new() });
    Ok(Written {
        pdf: c.out.clone(),
        bytes: bytes.len(),
        pages,
        charts: chart_files,
        font: font_desc,
        seconds: started.elapsed().as_secs_f64(),
    })
}
