//! Insights from a local GGUF model through llama.cpp (llama-cpp-2), constrained to the insight
//! JSON schema by grammar sampling.
//!
//! - The prompt is written in the requested language and formatted with the model's own chat
//!   template (read from the GGUF).
//! - The output grammar comes from [`schema`] via llama.cpp's `json_schema_to_grammar`, so the
//!   model can only emit `{"insights":[...]}` with 3–8 well-formed items.
//! - Threads are explicit (`--threads`, default: all cores) and `OMP_WAIT_POLICY=passive` is set
//!   unless the environment says otherwise, so spinning OpenMP workers do not starve the machine.

use super::facts::Facts;
use super::Insight;
use crate::i18n::Lang;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

/// Bump when the prompt or schema changes (part of the cache key).
pub const PROMPT_VERSION: u32 = 2;

/// Why the model could not produce insights.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// Loading the GGUF failed.
    #[error("the model {0} could not be loaded (not a valid GGUF file?)")]
    Load(PathBuf),
    /// Anything llama.cpp reported while preparing or generating.
    #[error("llama.cpp: {0}")]
    Llama(String),
}

fn llama<E: std::fmt::Display>(e: E) -> LlmError {
    LlmError::Llama(e.to_string())
}

/// Generation settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// CPU threads.
    pub threads: usize,
    /// Sampling seed.
    pub seed: u32,
    /// Upper bound on generated tokens per attempt.
    pub max_tokens: usize,
}

/// The model lookup: `explicit` (the flag), then `ECOMM_MODEL`, then the first `*.gguf` in
/// `models/` (by name).
pub fn find_model(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("ECOMM_MODEL").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("models")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")))
        .collect();
    found.sort();
    found.into_iter().next()
}

/// A content hash of a model file that stays fast for multi-GB files: its size and xxh3 of its
/// first, middle and last 8 MiB.
pub fn model_hash(path: &Path) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&len.to_le_bytes());
    const CHUNK: u64 = 8 << 20;
    let mut buf = vec![0u8; CHUNK as usize];
    for at in [0, len.saturating_sub(CHUNK) / 2, len.saturating_sub(CHUNK)] {
        f.seek(SeekFrom::Start(at))?;
        let n = (&mut f).take(CHUNK).read(&mut buf)?;
        h.update(&buf[..n]);
    }
    Ok(format!("{:032x}", h.digest128()))
}

/// The longest finding and action the schema allows (characters).
pub const TEXT_MAX: usize = 160;
/// The longest expected impact the schema allows (characters).
pub const IMPACT_MAX: usize = 120;

/// The JSON schema of the model's output.
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "insights": {
                "type": "array",
                "minItems": 3,
                "maxItems": 8,
                "items": {
                    "type": "object",
                    "properties": {
                        "area": {"type": "string", "enum": super::AREAS},
                        "finding": {"type": "string", "minLength": 8, "maxLength": TEXT_MAX},
                        "action": {"type": "string", "minLength": 8, "maxLength": TEXT_MAX},
                        "priority": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
                        "expected_impact": {"type": "string", "minLength": 4, "maxLength": IMPACT_MAX}
                    },
                    "required": ["area", "finding", "action", "priority", "expected_impact"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["insights"],
        "additionalProperties": false
    })
}

/// Checks a parsed output against [`schema`] (the grammar should make this always true).
pub fn validate(v: &serde_json::Value) -> Result<Vec<Insight>, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Out {
        insights: Vec<Insight>,
    }
    let out: Out = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    if !(3..=8).contains(&out.insights.len()) {
        return Err(format!("{} insights, expected 3 to 8", out.insights.len()));
    }
    for i in &out.insights {
        if !super::AREAS.contains(&i.area.as_str()) {
            return Err(format!("unknown area {}", i.area));
        }
        if !(1..=5).contains(&i.priority) {
            return Err(format!("priority {} outside 1-5", i.priority));
        }
    }
    Ok(out.insights)
}

/// The system and user messages for `facts` in `lang`; `strict` adds a reminder after a failed
/// grounding check.
pub fn messages(facts: &Facts, lang: Lang, strict: bool) -> (String, String) {
    let sheet = facts.prompt_text(lang);
    match lang {
        Lang::Zh => (
            "你是资深电商运营分析师。只根据给定的事实表给出结构化运营建议，只使用事实表中出现的数字，不要编造数字。".into(),
            format!(
                "以下是淘宝用户行为数据的事实表：\n{sheet}\n请给出 3 到 8 条互不相同的运营建议，以 JSON 对象 {{\"insights\": [...]}} 输出。每条建议包含：area（conversion、timing、segments、retention、categories 之一）；finding（数据说明了什么，引用事实表中的具体数字）；action（可执行的具体行动）；priority（1 到 5 的整数，1 最紧急）；expected_impact（预期效果）。finding、action 和 expected_impact 用中文书写。{}",
                if strict { "上一次的回答引用了事实表中没有的数字：这次只能引用事实表中的数字。" } else { "" }
            ),
        ),
        Lang::En => (
            "You are a senior e-commerce operations analyst. Give structured operating advice based only on the fact sheet, citing only numbers that appear in it. Never invent numbers.".into(),
            format!(
                "Fact sheet of Taobao user behaviour data:\n{sheet}\nGive 3 to 8 distinct operating insights as a JSON object {{\"insights\": [...]}}. Each insight has: area (one of conversion, timing, segments, retention, categories); finding (what the data shows, citing specific numbers from the fact sheet); action (a concrete step to take); priority (an integer 1 to 5, 1 = most urgent); expected_impact (the expected effect). Write in English.{}",
                if strict { " Your previous answer cited numbers that are not in the fact sheet: cite only fact-sheet numbers this time." } else { "" }
            ),
        ),
    }
}

fn backend() -> Result<&'static LlamaBackend, LlmError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            if std::env::var_os("OMP_WAIT_POLICY").is_none() {
                std::env::set_var("OMP_WAIT_POLICY", "passive");
            }
            let mut b = LlamaBackend::init().map_err(|e| e.to_string())?;
            if std::env::var_os("ECOMM_TRACE").is_none() {
                b.void_logs();
            }
            Ok(b)
        })
        .as_ref()
        .map_err(|e| LlmError::Llama(e.clone()))
}

/// Grammar-constrained sampling as llama.cpp's own common sampler does it: the token is drawn by
/// the chain (top-k, top-p, temperature, a seeded draw) first and only that one token is checked
/// against the grammar; only when the grammar rejects it is the grammar applied to every
/// candidate (151,936 for Qwen) and the token drawn again from what it allows. Checking every
/// candidate at every step was most of the generation time.
///
/// `ECOMM_GRAMMAR_FIRST=1` applies the grammar to every candidate at every step instead (the old
/// way), so a bench can time both on the same build.
struct Constrained {
    grammar: LlamaSampler,
    chain: LlamaSampler,
    grammar_first: bool,
}

impl Constrained {
    fn sample(&mut self, ctx: &llama_cpp_2::context::LlamaContext<'_>, idx: i32) -> llama_cpp_2::token::LlamaToken {
        let first = (!self.grammar_first).then(|| self.chain.sample(ctx, idx));
        let token = match first {
            Some(t) if self.allows(t) => t,
            _ => self.draw_allowed(ctx, idx).or(first).expect("the chain ends with a draw"),
        };
        self.grammar.accept(token);
        token
    }

    /// Whether the grammar allows `token` next.
    fn allows(&mut self, token: llama_cpp_2::token::LlamaToken) -> bool {
        use llama_cpp_2::token::data::LlamaTokenData;
        use llama_cpp_2::token::data_array::LlamaTokenDataArray;
        let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 1.0, 0.0)], false);
        self.grammar.apply(&mut one);
        one.data[0].logit().is_finite()
    }

    /// A token drawn by the chain from every candidate the grammar allows.
    fn draw_allowed(&mut self, ctx: &llama_cpp_2::context::LlamaContext<'_>, idx: i32) -> Option<llama_cpp_2::token::LlamaToken> {
        let mut all = ctx.token_data_array_ith(idx);
        self.grammar.apply(&mut all);
        self.chain.apply(&mut all);
        all.selected_token()
    }
}

/// A loaded model.
pub struct Model {
    model: LlamaModel,
    /// The file.
    pub path: PathBuf,
    /// Seconds to load it.
    pub load_seconds: f64,
}

/// One generation: the raw text, tokens and seconds.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Output {
    /// What the model wrote.
    pub raw: String,
    /// Generated tokens.
    pub tokens: usize,
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Seconds for prompt + generation.
    pub seconds: f64,
    /// Seconds for the prompt alone.
    pub prompt_seconds: f64,
}

impl Model {
    /// Loads `path`; a missing or corrupt file is [`LlmError::Load`].
    pub fn load(path: &Path) -> Result<Model, LlmError> {
        if !path.is_file() {
            return Err(LlmError::Load(path.to_path_buf()));
        }
        let t0 = Instant::now();
        let backend = backend()?;
        let model =
            LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()).map_err(|_| LlmError::Load(path.to_path_buf()))?;
        Ok(Model { model, path: path.to_path_buf(), load_seconds: t0.elapsed().as_secs_f64() })
    }

    /// Runs one chat completion constrained to [`schema`].
    pub fn generate(&self, system: &str, user: &str, opts: &Options) -> Result<Output, LlmError> {
        let t0 = Instant::now();
        let backend = backend()?;
        let tmpl = self.model.chat_template(None).map_err(llama)?;
        let chat = [
            LlamaChatMessage::new("system".into(), system.into()).map_err(llama)?,
            LlamaChatMessage::new("user".into(), user.into()).map_err(llama)?,
        ];
        let prompt = self.model.apply_chat_template(&tmpl, &chat, true).map_err(llama)?;
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(prompt.as_bytes(), true, true);
        let n_ctx = (tokens.len() + opts.max_tokens + 16) as u32;
        let threads = opts.threads.max(1) as i32;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(512)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let mut ctx = self.model.new_context(backend, params).map_err(llama)?;
        let grammar = llama_cpp_2::json_schema_to_grammar(&schema().to_string()).map_err(llama)?;
        let mut sampler = Constrained {
            grammar: LlamaSampler::grammar(&self.model, &grammar, "root").map_err(llama)?,
            chain: LlamaSampler::chain_simple([
                LlamaSampler::top_k(40),
                LlamaSampler::top_p(0.9, 1),
                LlamaSampler::temp(0.6),
                LlamaSampler::dist(opts.seed),
            ]),
            grammar_first: std::env::var_os("ECOMM_GRAMMAR_FIRST").is_some_and(|v| v == "1"),
        };
        let mut batch = LlamaBatch::new(512, 1);
        let mut pos = 0i32;
        for chunk in tokens.chunks(512) {
            batch.clear();
            for (i, t) in chunk.iter().enumerate() {
                let last = pos as usize + i + 1 == tokens.len();
                batch.add(*t, pos + i as i32, &[0], last).map_err(llama)?;
            }
            pos += chunk.len() as i32;
            ctx.decode(&mut batch).map_err(llama)?;
        }
        let prompt_seconds = t0.elapsed().as_secs_f64();
        let mut out = Vec::new();
        let mut generated = 0;
        while generated < opts.max_tokens {
            let tok = sampler.sample(&ctx, batch.n_tokens() - 1);
            if vocab.is_eog(tok) {
                break;
            }
            out.extend(vocab.token_to_piece(tok, false, None));
            generated += 1;
            batch.clear();
            batch.add(tok, pos, &[0], true).map_err(llama)?;
            pos += 1;
            ctx.decode(&mut batch).map_err(llama)?;
        }
        Ok(Output {
            raw: String::from_utf8_lossy(&out).into_owned(),
            tokens: generated,
            prompt_tokens: tokens.len(),
            seconds: t0.elapsed().as_secs_f64(),
            prompt_seconds,
        })
    }
}
