//! `ecomm insights`: LLM (or rule-based) operating advice from the metrics.

use crate::appdb::AppDb;
use crate::cli::{InsightsArgs, InsightsFormat};
use crate::i18n::{ui, Lang};
use crate::insights::{facts::Facts, produce, Outcome, Request, Source};
use crate::metrics::Metrics;
use crate::store::{self, Mode, OpenOptions};
use anyhow::Result;

/// Runs `ecomm insights`.
pub fn run(a: InsightsArgs) -> Result<()> {
    let conn = store::open(&a.db.db, Mode::ReadOnly, &OpenOptions { memory_limit: a.db.memory_limit.clone(), threads: a.db.threads })?;
    let m = Metrics::for_db(&conn, &a.db.db, &a.query()?)?;
    drop(conn);
    let facts = Facts::from_metrics(&m);
    let app = if a.no_cache { None } else { AppDb::open(&crate::appdb::path_for(&a.db.db)).ok() };
    // A spinner with the tokens and tokens/s while the model writes (on a terminal only).
    let shown = crate::insights::llm::find_model(a.model.as_deref()).is_some() && super::interactive();
    let pb = if shown { indicatif::ProgressBar::new_spinner() } else { indicatif::ProgressBar::hidden() };
    pb.set_style(indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("template"));
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb.set_message(ui::GENERATING_INSIGHTS.get(a.lang));
    let lang = a.lang;
    let tell = |s: &crate::insights::llm::Step| {
        pb.set_message(s.describe(lang));
        true
    };
    let o = produce(&Request {
        facts: &facts,
        lang: a.lang,
        model: a.model.as_deref(),
        threads: crate::insights::model_threads(a.db.threads),
        seed: a.seed,
        app: app.as_ref(),
        use_llm: true,
        on_step: Some(&tell),
    });
    pb.finish_and_clear();
    match a.format {
        InsightsFormat::Json => {
            let mut v = serde_json::to_value(&o)?;
            v["facts"] = serde_json::to_value(&facts)?;
            crate::outln!("{}", serde_json::to_string_pretty(&v)?);
        }
        InsightsFormat::Text => crate::outp!("{}", text(&o, a.lang)),
    }
    Ok(())
}

/// The outcome as readable text.
pub fn text(o: &Outcome, lang: Lang) -> String {
    let w = |t: &ui::Tr| t.get(lang);
    let mut s = String::new();
    let source = match o.source {
        Source::Llm => w(&ui::SOURCE_LLM),
        Source::Rules => w(&ui::SOURCE_RULES),
    };
    s += &format!("{}{source}\n\n", w(&ui::INSIGHTS_SOURCE));
    for (i, ins) in o.insights.iter().enumerate() {
        s += &format!("{}. [{}] P{}\n", i + 1, crate::i18n::area_name(lang, &ins.area), ins.priority);
        s += &format!("   {}{}\n", w(&ui::FINDING), ins.finding);
        s += &format!("   {}{}\n", w(&ui::ACTION), ins.action);
        s += &format!("   {}{}\n", w(&ui::EXPECTED_IMPACT), ins.expected_impact);
    }
    s += "\n";
    if let Some(m) = &o.model {
        s += &format!("{}{m}\n", w(&ui::MODEL));
    }
    if o.cached {
        s += &format!("{}{:.3} s\n", w(&ui::FROM_CACHE), o.seconds);
    } else if o.tokens > 0 {
        s += &format!(
            "{} {} tokens, {:.1} tokens/s; {} {:.1} s ({} {:.1} s)\n",
            w(&ui::GENERATED),
            o.tokens,
            o.tokens_per_sec,
            w(&ui::TOTAL),
            o.seconds,
            w(&ui::MODEL_LOAD),
            o.load_seconds
        );
    }
    if !o.note.is_empty() {
        s += &format!("{}\n", o.note);
    }
    s
}
