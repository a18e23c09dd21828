//! Operating advice derived from the metrics.
//!
//! The shape is fixed for every source: `{"insights":[{"area","finding","action","priority",
//! "expected_impact"}]}` with `area` one of conversion, timing, segments, retention,
//! categories and `priority` 1 (most urgent) to 5. [`rules`] builds deterministic,
//! rule-based insights from the same [`Metrics`](crate::metrics::Metrics) as `ecomm analyze`;
//! they are what the report and dashboard show when no language model is configured.

pub mod facts;
pub mod grounding;
pub mod llm;
pub mod meaning;
pub mod quality;
pub mod rules;

use serde::{Deserialize, Serialize};

/// The areas an insight can be about.
pub const AREAS: [&str; 5] = ["conversion", "timing", "segments", "retention", "categories"];

/// One piece of advice.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Insight {
    /// One of [`AREAS`].
    pub area: String,
    /// What the numbers show (cites numbers from the metrics).
    pub finding: String,
    /// What to do about it.
    pub action: String,
    /// 1 (most urgent) to 5.
    pub priority: u8,
    /// What doing it should change.
    pub expected_impact: String,
}

/// Where a set of insights came from.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Deterministic rules ([`rules`]).
    Rules,
    /// A local language model.
    Llm,
}

use crate::i18n::prose::{self, fill};
use crate::i18n::Lang;
use facts::Facts;
use std::path::Path;
use std::time::Instant;

/// What to produce insights from, and how.
pub struct Request<'a> {
    /// The fact sheet.
    pub facts: &'a Facts,
    /// Output language.
    pub lang: Lang,
    /// `--model`, if given (else `ECOMM_MODEL`, else `models/*.gguf`).
    pub model: Option<&'a Path>,
    /// CPU threads for the model.
    pub threads: usize,
    /// Sampling seed.
    pub seed: u32,
    /// The app DB for the cache (None: no cache).
    pub app: Option<&'a crate::appdb::AppDb>,
    /// Use the model if one is found (false: rules only).
    pub use_llm: bool,
    /// Told each token as the model writes it (a progress bar, a stream); returning false
    /// cancels the run, which then answers with the rules and caches nothing.
    pub on_step: Option<llm::OnStep<'a>>,
}

/// One model generation and what the grounding check made of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attempt {
    /// What the model wrote (valid JSON unless it ran out of tokens).
    pub raw: String,
    /// Whether `raw` parsed and matched the schema.
    pub valid: bool,
    /// Insights that passed the grounding check.
    pub kept: usize,
    /// (finding, numbers not in the fact sheet) of each dropped insight.
    pub dropped: Vec<(String, Vec<String>)>,
    /// Generated tokens.
    pub tokens: usize,
    /// Seconds, prompt and generation.
    pub seconds: f64,
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: usize,
    /// Seconds reading the prompt (the rest of `seconds` is generation).
    #[serde(default)]
    pub prompt_seconds: f64,
    /// Seconds parsing the output and checking its numbers (grounding), after `seconds`.
    #[serde(default)]
    pub grounding_seconds: f64,
}

/// The insights and how they were made.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    /// rules or llm.
    pub source: Source,
    /// 3 to 8 insights.
    pub insights: Vec<Insight>,
    /// What the reader should know (e.g. how to enable the model); may be empty.
    pub note: String,
    /// The model file used, if any.
    pub model: Option<String>,
    /// Answered from the app DB's cache (no inference).
    pub cached: bool,
    /// Insights dropped by the grounding check, over all attempts.
    pub dropped: usize,
    /// Whether a second generation ran.
    pub regenerated: bool,
    /// Generated tokens, over all attempts.
    pub tokens: usize,
    /// Generated tokens per second.
    pub tokens_per_sec: f64,
    /// Seconds end to end (this run).
    pub seconds: f64,
    /// Seconds to load the model.
    pub load_seconds: f64,
    /// Each generation.
    pub attempts: Vec<Attempt>,
    /// The checks of [`quality`] on `insights` (made for every answer, cached or not).
    #[serde(default)]
    pub quality: Option<quality::Quality>,
}

fn rules_outcome(req: &Request, note: String, model: Option<String>) -> Outcome {
    Outcome {
        source: Source::Rules,
        insights: rules::insights(req.facts, req.lang),
        note,
        model,
        cached: false,
        dropped: 0,
        regenerated: false,
        tokens: 0,
        tokens_per_sec: 0.0,
        seconds: 0.0,
        load_seconds: 0.0,
        attempts: Vec::new(),
        quality: None,
    }
}

fn how_to_enable(lang: Lang) -> &'static str {
    prose::HOW_TO_ENABLE.get(lang)
}

/// Insights for `req`: from the model when one is found and loads (cached in the app DB),
/// otherwise from [`rules`]. Never fails and never returns fewer than 3 insights.
pub fn produce(req: &Request) -> Outcome {
    let t0 = Instant::now();
    let sheet = quality::Sheet::of(req.facts);
    let mut out = produce_inner(req, &sheet);
    if !out.cached {
        out.seconds = t0.elapsed().as_secs_f64();
    }
    out.quality = Some(quality::check(&out.insights, &sheet));
    out
}

/// The cached outcome for `key`, if any (and the cache hit recorded in the history).
fn from_cache(req: &Request, key: &str, t0: Instant) -> Option<Outcome> {
    let app = req.app?;
    let json = app.get(key).ok()??;
    let mut o = serde_json::from_str::<Outcome>(&json).ok()?;
    o.cached = true;
    o.seconds = t0.elapsed().as_secs_f64();
    let _ = app.record(key, if o.source == Source::Llm { "llm" } else { "rules" }, true, o.seconds);
    Some(o)
}

/// Up to two rounds of generation: each insight is kept when every number it cites is in the fact
/// `sheet` and belongs to the fact its words name ([`meaning::ungrounded`]) and it is not a
/// repeat; a second round runs when the first left fewer than its own count (at least 3) clean
/// insights.
fn generate_rounds(model: &llm::Model, req: &Request, sheet: &quality::Sheet) -> Result<(Vec<Insight>, Vec<Attempt>), llm::LlmError> {
    let opts = llm::Options { threads: req.threads, seed: req.seed, max_tokens: 1200, round: 0 };
    let mut kept: Vec<Insight> = Vec::new();
    let mut attempts = Vec::new();
    let mut target = 0;
    for round in 0..2 {
        let (system, user) = llm::messages(req.facts, req.lang, round > 0);
        let o =
            model.generate(&system, &user, &llm::Options { seed: opts.seed.wrapping_add(round), round, ..opts.clone() }, req.on_step)?;
        let checked = Instant::now();
        let parsed = serde_json::from_str::<serde_json::Value>(&o.raw).map_err(|e| e.to_string()).and_then(|v| llm::validate(&v));
        let mut a = Attempt {
            raw: o.raw.clone(),
            valid: parsed.is_ok(),
            kept: 0,
            dropped: Vec::new(),
            tokens: o.tokens,
            seconds: o.seconds,
            prompt_tokens: o.prompt_tokens,
            prompt_seconds: o.prompt_seconds,
            grounding_seconds: 0.0,
        };
        let items = parsed.unwrap_or_default();
        if round == 0 {
            target = items.len().max(3);
        }
        for ins in items {
            let unknown = meaning::ungrounded(&sheet.allowed, &sheet.meanings, &ins);
            if !unknown.is_empty() {
                a.dropped.push((ins.finding.clone(), unknown));
            } else if kept.len() < target && !kept.iter().any(|k| k.finding == ins.finding) {
                kept.push(ins);
                a.kept += 1;
            }
        }
        a.grounding_seconds = checked.elapsed().as_secs_f64();
        let clean = a.valid && a.dropped.is_empty() && kept.len() >= 3;
        attempts.push(a);
        if clean || kept.len() >= target {
            break;
        }
    }
    Ok((kept, attempts))
}

/// The outcome of the model's rounds: its insights when at least 3 passed the checks, else the
/// rules' insights with the model's attempts and a note saying why.
fn llm_outcome(req: &Request, kept: Vec<Insight>, attempts: Vec<Attempt>, shown: String, load_seconds: f64) -> Outcome {
    let tokens: usize = attempts.iter().map(|a| a.tokens).sum();
    // Generation speed: tokens over the seconds after the prompt was read.
    let gen_seconds: f64 = attempts.iter().map(|a| a.seconds - a.prompt_seconds).sum();
    let dropped: usize = attempts.iter().map(|a| a.dropped.len()).sum();
    let note = if dropped > 0 { fill(req.lang, &prose::NOTE_DROPPED, &[("dropped", dropped.to_string())]) } else { String::new() };
    let mut outcome = Outcome {
        source: Source::Llm,
        insights: kept,
        note,
        model: Some(shown),
        cached: false,
        dropped,
        regenerated: attempts.len() > 1,
        tokens,
        tokens_per_sec: if gen_seconds > 0.0 { tokens as f64 / gen_seconds } else { 0.0 },
        seconds: 0.0,
        load_seconds,
        attempts,
        quality: None,
    };
    if outcome.insights.len() < 3 {
        let counts = [("valid", outcome.insights.len().to_string()), ("dropped", dropped.to_string())];
        outcome.note = fill(req.lang, &prose::NOTE_FAILED, &counts);
        outcome = Outcome {
            attempts: std::mem::take(&mut outcome.attempts),
            dropped,
            regenerated: outcome.regenerated,
            tokens,
            tokens_per_sec: outcome.tokens_per_sec,
            load_seconds: outcome.load_seconds,
            ..rules_outcome(req, format!("{} {}", outcome.note, prose::NOTE_RULES_INSTEAD.get(req.lang)), outcome.model.clone())
        };
    }
    outcome
}

fn produce_inner(req: &Request, sheet: &quality::Sheet) -> Outcome {
    if !req.use_llm {
        return rules_outcome(req, prose::NOTE_RULES_ASKED.get(req.lang).into(), None);
    }
    let Some(path) = llm::find_model(req.model) else {
        let note = format!("{}{}", prose::NOTE_NO_MODEL.get(req.lang), how_to_enable(req.lang));
        return rules_outcome(req, note, None);
    };
    let shown = path.display().to_string();
    let model_hash = match llm::model_hash(&path) {
        Ok(h) => h,
        Err(e) => {
            let note = format!("{} {shown}: {e}. {}", prose::NOTE_BAD_MODEL.get(req.lang), how_to_enable(req.lang));
            return rules_outcome(req, note, Some(shown));
        }
    };
    let facts_json = serde_json::to_string(req.facts).unwrap_or_default();
    let facts_hash = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(facts_json.as_bytes()));
    let lang = if req.lang == Lang::Zh { "zh" } else { "en" };
    let key = format!("{facts_hash}:{model_hash}:{}:{lang}:{}", llm::PROMPT_VERSION, req.seed);
    let t0 = Instant::now();
    if let Some(o) = from_cache(req, &key, t0) {
        return o;
    }
    let model = match llm::Model::load(&path) {
        Ok(m) => m,
        Err(e) => {
            let note = format!("{e}; {}", how_to_enable(req.lang));
            return rules_outcome(req, note, Some(shown));
        }
    };
    let (kept, attempts) = match generate_rounds(&model, req, sheet) {
        Ok(r) => r,
        Err(llm::LlmError::Cancelled(n)) => {
            let note = fill(req.lang, &prose::NOTE_CANCELLED, &[("tokens", n.to_string())]);
            return rules_outcome(req, note, Some(shown));
        }
        Err(e) => {
            let note = format!("{e}; {}", how_to_enable(req.lang));
            return rules_outcome(req, note, Some(shown));
        }
    };
    let mut outcome = llm_outcome(req, kept, attempts, shown, model.load_seconds);
    outcome.seconds = t0.elapsed().as_secs_f64();
    if let Some(app) = req.app {
        if let Ok(json) = serde_json::to_string(&outcome) {
            let _ = app.put(&key, &facts_hash, &model_hash, llm::PROMPT_VERSION, lang, &json);
        }
        let _ = app.record(&key, if outcome.source == Source::Llm { "llm" } else { "rules" }, false, outcome.seconds);
    }
    outcome
}

/// CPU threads for the model: `n`, or all cores for 0.
pub fn model_threads(n: usize) -> usize {
    if n > 0 {
        n
    } else {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
    }
}
