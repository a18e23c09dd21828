//! `ecomm export`

use crate::cli::{ExportArgs, SummaryFormat};
use crate::export::{self, ExportError, Summary, What};
use crate::i18n::{prose, t, Lang};
use crate::metrics::lists::{List, UserFilter};
use crate::metrics::source::Ctx;
use crate::metrics::{Metrics, Query};
use crate::store::{self, Mode, OpenOptions};
use anyhow::Result;

/// Validates the options, opens the DB read-only and writes the list or the analyses.
pub fn run(a: ExportArgs) -> Result<()> {
    let users = UserFilter { segment: a.segment.clone(), min_p_alive: a.min_p_alive };
    if a.what != What::List(List::Users) && (users.segment.is_some() || users.min_p_alive.is_some()) {
        return Err(ExportError::Options("--segment and --min-p-alive narrow --what users only / 仅用于导出用户".into()).into());
    }
    if a.what != What::Metrics && a.section.is_some() {
        return Err(ExportError::Options("--section picks one analysis of --what metrics / 仅用于导出分析".into()).into());
    }
    if let Some(p) = users.min_p_alive {
        if !(0.0..=1.0).contains(&p) {
            return Err(ExportError::Options(format!(
                "--min-p-alive {p} is not a probability; use a number from 0 to 1 / 应在 0 到 1 之间"
            ))
            .into());
        }
    }
    let name = match a.what {
        What::List(l) => export::list_name(l).to_string(),
        What::Metrics => a.section.clone().unwrap_or_else(|| "metrics".into()),
    };
    let out = a.out.clone().unwrap_or_else(|| std::path::PathBuf::from("results").join(format!("{name}.{}", a.format.ext())));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ExportError::Write { path: out.clone(), why: e.to_string() })?;
    }
    let conn = store::open(&a.db.db, Mode::ReadOnly, &OpenOptions { memory_limit: a.db.memory_limit.clone(), threads: a.db.threads })?;
    let q = Query { range: a.range.range(), filter: a.filter.filter()?, journey: a.journey.journey()? };
    let s = match a.what {
        What::Metrics => {
            let m = Metrics::for_db(&conn, &a.db.db, &q)?;
            export::run_metrics(&m, a.lang, a.format, a.section.as_deref(), &out)?
        }
        What::List(list) => {
            let range = crate::metrics::range_for_db(&conn, &a.db.db, q.range)?;
            let ctx = Ctx::new(&conn, &range, &q.filter, &q.journey)?;
            export::run(&ctx, list, &users, a.format, &out)?
        }
    };
    match a.summary {
        SummaryFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&s)?),
        SummaryFormat::Text => crate::outln!("{}", summary(&s, a.lang)),
    }
    Ok(())
}

/// The summary line in `lang`.
fn summary(s: &Summary, lang: Lang) -> String {
    let what = t(lang, &format!("list_{}", s.what)).to_string();
    let args = [
        ("what", what),
        ("rows", crate::i18n::int(s.rows)),
        ("file", s.file.clone()),
        ("bytes", crate::i18n::int(s.bytes)),
        ("secs", format!("{:.2}", s.seconds)),
    ];
    prose::fill(lang, &prose::EXPORT_DONE, &args)
}
