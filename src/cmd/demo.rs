//! `ecomm demo`: generate, ingest, analyse and report ~1M rows, on a fresh machine, with nothing
//! else, then serve the dashboard on the demo DB (unless `--no-serve`).

use crate::cli::DemoArgs;
use crate::gen::{generate, GenConfig};
use crate::ingest::{self, IngestConfig};
use crate::metrics::Metrics;
use crate::render::table;
use crate::store::{self, Mode, OpenOptions};
use anyhow::{Context, Result};

/// Runs the demo in `a.dir`.
pub fn run(a: DemoArgs) -> Result<()> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("cannot create {}", a.dir.display()))?;
    let csv = a.dir.join("demo.csv");
    let db = a.dir.join("demo.duckdb");
    let cfg = GenConfig {
        rows: a.rows,
        users: GenConfig::default_users(a.rows),
        seed: a.seed,
        dirty: 0.001,
        start: chrono::NaiveDate::from_ymd_opt(2017, 11, 25).expect("date"),
        days: 9,
        out: csv.clone(),
    };
    eprintln!("[1/5] gen {} rows -> {}", a.rows, csv.display());
    generate(&cfg, &|_| {})?;
    eprintln!("[2/5] ingest -> {}", db.display());
    let s = ingest::run(&IngestConfig {
        inputs: vec![csv.to_string_lossy().into_owned()],
        db: db.clone(),
        start: None,
        end: None,
        tz: None,
        replace: true,
        open: OpenOptions::default(),
        progress: super::interactive(),
        read: Default::default(),
        always_new: false,
    })?;
    crate::outp!("{}", table::ingest(&s, a.lang));
    eprintln!("[3/5] analyze");
    let conn = store::open(&db, Mode::ReadOnly, &OpenOptions::default())?;
    let m = Metrics::for_db(&conn, &db, &Default::default())?;
    drop(conn);
    crate::outp!("{}", table::analysis(&m, a.lang));
    crate::outln!("\nDB: {}  (ecomm analyze --db {} --format json)", db.display(), db.display());
    eprintln!("[4/5] report");
    let w = crate::report::build::generate(&crate::report::build::ReportConfig {
        db: db.clone(),
        open: OpenOptions::default(),
        out: a.results.join("report.pdf"),
        lang: a.lang,
        query: Default::default(),
        font: a.font.clone(),
        model: None,
        llm: true,
        progress: super::interactive(),
    })?;
    super::report::print_written(&w, a.lang);
    crate::outln!("{}", crate::i18n::tr(a.lang, &crate::i18n::ui::DEMO_LIVE_TIP));
    if a.no_serve {
        return Ok(());
    }
    eprintln!("[5/5] dashboard (Ctrl-C to stop; --no-serve skips this step)");
    super::serve::serve(super::serve::ServeConfig {
        db,
        open: OpenOptions::default(),
        ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        port: a.port,
        open_browser: a.open,
        any_port_if_taken: true,
        watch: None,
        schedule: None,
    })
}
