//! `ecomm insights`: LLM (or rule-based) operating advice from the metrics.

use crate::appdb::AppDb;
use crate::cli::{InsightsArgs, InsightsFormat};
use crate::i18n::Lang;
use crate::insights::{facts::Facts, produce, Outcome, Request, Source};
use crate::metrics::Metrics;
use crate::store::{self, Mode, OpenOptions};
use anyhow::Result;

/// Runs `ecomm insights`.
pub fn run(a: InsightsArgs) -> Result<()> {
    let conn = store::open(&a.db.db, Mode::ReadOnly, &OpenOptions { memory_limit: a.db.memory_limit.clone(), threads: a.db.threads })?;
    let m = Metrics::for_db(&conn, &a.db.db, a.range.range(), &a.filter.filter()?)?;
    drop(conn);
    let facts = Facts::from_metrics(&m);
    let app = if a.no_cache { None } else { AppDb::open(&crate::appdb::path_for(&a.db.db)).ok() };
    if a.format == InsightsFormat::Text && crate::insights::llm::find_model(a.model.as_deref()).is_some() && super::interactive() {
        eprintln!("{}", if a.lang == Lang::Zh { "正在生成建议…" } else { "generating insights…" });
    }
    let o = produce(&Request {
        facts: &facts,
        lang: a.lang,
        model: a.model.as_deref(),
        threads: crate::insights::model_threads(a.db.threads),
        seed: a.seed,
        app: app.as_ref(),
        use_llm: true,
    });
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
    let zh = lang == Lang::Zh;
    let mut s = String::new();
    let source = match (o.source, zh) {
        (Source::Llm, true) => "本地大模型（数字已与事实表核对）",
        (Source::Llm, false) => "local LLM (numbers checked against the fact sheet)",
        (Source::Rules, true) => "规则（未使用大模型）",
        (Source::Rules, false) => "rules (no language model)",
    };
    s += &format!("{}{source}\n\n", if zh { "运营建议 · 来源：" } else { "Operating insights · source: " });
    for (i, ins) in o.insights.iter().enumerate() {
        s += &format!("{}. [{}] P{}\n", i + 1, crate::insights::area_name(lang, &ins.area), ins.priority);
        s += &format!("   {}{}\n", if zh { "发现：" } else { "Finding: " }, ins.finding);
        s += &format!("   {}{}\n", if zh { "行动：" } else { "Action: " }, ins.action);
        s += &format!("   {}{}\n", if zh { "预期效果：" } else { "Expected impact: " }, ins.expected_impact);
    }
    s += "\n";
    if let Some(m) = &o.model {
        s += &format!("{}{m}\n", if zh { "模型：" } else { "Model: " });
    }
    if o.cached {
        s += &format!("{}{:.3} s\n", if zh { "来自缓存，无需推理：" } else { "From the cache, no inference: " }, o.seconds);
    } else if o.tokens > 0 {
        s += &format!(
            "{} {} tokens, {:.1} tokens/s; {} {:.1} s ({} {:.1} s)\n",
            if zh { "生成" } else { "Generated" },
            o.tokens,
            o.tokens_per_sec,
            if zh { "总计" } else { "total" },
            o.seconds,
            if zh { "加载模型" } else { "model load" },
            o.load_seconds
        );
    }
    if !o.note.is_empty() {
        s += &format!("{}\n", o.note);
    }
    s
}
