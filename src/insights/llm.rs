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
pub const PROMPT_VERSION: u32 = 3;

/// Why the model could not produce insights.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// Loading the GGUF failed.
    #[error("the model {0} could not be loaded (not a valid GGUF file?)")]
    Load(PathBuf),
    /// Anything llama.cpp reported while preparing or generating.
    #[error("llama.cpp: {0}")]
    Llama(String),
    /// The caller stopped the generation (a closed dashboard stream).
    #[error("the generation was cancelled after {0} tokens")]
    Cancelled(usize),
}

/// Where a generation is, told after the prompt is read (`tokens` 0) and after each token.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    /// The text the token completed (empty while a character is still incomplete).
    pub text: &'a str,
    /// Tokens generated so far in this attempt.
    pub tokens: usize,
    /// The attempt's token limit.
    pub max_tokens: usize,
    /// Seconds since the attempt's generation began (after the prompt).
    pub seconds: f64,
    /// The prompt's tokens.
    pub prompt_tokens: usize,
    /// The attempt: 0, or 1 for the regeneration.
    pub round: u32,
}

impl Step<'_> {
    /// Generated tokens per second so far.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.tokens as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// Where the generation is, as a progress line in `lang`.
    pub fn describe(&self, lang: Lang) -> String {
        use crate::i18n::prose::{fill, INSIGHTS_PROMPT, INSIGHTS_STEP};
        if self.tokens == 0 {
            return fill(lang, &INSIGHTS_PROMPT, &[("prompt", self.prompt_tokens.to_string())]);
        }
        let args = [
            ("round", (self.round + 1).to_string()),
            ("tokens", self.tokens.to_string()),
            ("max", self.max_tokens.to_string()),
            ("rate", format!("{:.1}", self.rate())),
        ];
        fill(lang, &INSIGHTS_STEP, &args)
    }
}

/// Told every [`Step`]; returning false stops the generation ([`LlmError::Cancelled`]).
pub type OnStep<'a> = &'a (dyn Fn(&Step) -> bool + Sync);

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
    /// The attempt (0, or 1 for the regeneration), as told in each [`Step`].
    pub round: u32,
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

/// The rules' insights as numbered candidates for the prompt.
fn candidates(facts: &Facts, lang: Lang) -> String {
    let (f, a) = match lang {
        Lang::Zh => ("发现：", "行动："),
        Lang::En => ("Finding: ", "Action: "),
    };
    let rules = super::rules::insights(facts, lang);
    rules.iter().enumerate().map(|(k, i)| format!("{}. [{}] {f}{} {a}{}\n", k + 1, i.area, i.finding, i.action)).collect()
}

/// The system and user messages for `facts` in `lang`; `strict` adds a reminder after a failed
/// grounding check.
///
/// The model is given the fact sheet and the rules' insights as candidates (their numbers are
/// grounded, their actions name levers): it chooses, ranks, sharpens and may add one insight that
/// links two facts, rather than inventing findings freely. The prompt asks for what the quality
/// checks measure: 3+ areas, varied priorities, a lever in every action, each number written
/// with the fact it belongs to, short complete sentences.
pub fn messages(facts: &Facts, lang: Lang, strict: bool) -> (String, String) {
    let sheet = facts.prompt_text(lang);
    let cands = candidates(facts, lang);
    match lang {
        Lang::Zh => (
            "你是资深电商运营分析师。只根据给定的事实表和候选建议写运营建议：只使用事实表中出现的数字并照抄其写法，每个数字都写明它是哪个指标；不要编造数字。".into(),
            format!(
                "事实表（淘宝用户行为数据）：\n{sheet}\n规则给出的候选建议（数字已核对）：\n{cands}\n请输出 4 到 5 条运营建议，格式为 JSON 对象 {{\"insights\": [...]}}。要求：\n1. 从候选建议中挑选最重要的，按紧急程度排序并写得更具体；可以加一条把两个事实联系起来的新建议。\n2. area 为 conversion、timing、segments、retention、categories 之一，至少 3 种不同的 area。\n3. priority 为 1 到 5 的整数（1 最紧急），不要全部相同。\n4. finding 引用事实表中的数字，并在同一分句写明它对应的指标，例如“晚间 18–24 点占全部事件的 42.4%”。\n5. action 写出具体抓手：小时（如 21:00）、日期、类目编号、RFM 分层名称或漏斗阶段（浏览、收藏、加购、购买）；各条 action 互不相同。\n6. finding、action、expected_impact 用中文完整句子，每项不超过 50 个字。{}",
                if strict { "\n上一次的回答引用了事实表中没有的数字，或把数字写在了别的指标上：这次只引用事实表中的数字，并写明它对应的指标。" } else { "" }
            ),
        ),
        Lang::En => (
            "You are a senior e-commerce operations analyst. Write operating advice only from the given fact sheet and candidate insights: use only numbers from the fact sheet, copied as written, and say which measure each number is. Never invent numbers.".into(),
            format!(
                "Fact sheet (Taobao user behaviour data):\n{sheet}\nCandidate insights from the rules (numbers checked):\n{cands}\nWrite 4 to 5 operating insights as a JSON object {{\"insights\": [...]}}. Requirements:\n1. Choose the most important candidates, order them by urgency and make them more specific; you may add one insight that links two facts.\n2. area is one of conversion, timing, segments, retention, categories; use at least 3 different areas.\n3. priority is an integer 1 to 5 (1 = most urgent), not all the same.\n4. finding cites fact-sheet numbers and names the measure of each in the same clause, e.g. \"the evening (18:00-24:00) holds 42.4% of all events\".\n5. action names a concrete lever: an hour (e.g. 21:00), a date, a category id, an RFM segment name or a funnel stage (view, favourite, cart, buy); no two actions alike.\n6. finding, action and expected_impact are complete English sentences of at most 25 words each.{}",
                if strict { "\nYour previous answer cited numbers that are not in the fact sheet or attached a number to the wrong measure: cite only fact-sheet numbers and name the measure of each." } else { "" }
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
    /// The schema's grammar and the sampling chain (top-k 40, top-p 0.9, temperature 0.6, a
    /// draw seeded with `seed`).
    fn new(model: &LlamaModel, seed: u32) -> Result<Constrained, LlmError> {
        let grammar = llama_cpp_2::json_schema_to_grammar(&schema().to_string()).map_err(llama)?;
        Ok(Constrained {
            grammar: LlamaSampler::grammar(model, &grammar, "root").map_err(llama)?,
            chain: LlamaSampler::chain_simple([
                LlamaSampler::top_k(40),
                LlamaSampler::top_p(0.9, 1),
                LlamaSampler::temp(0.6),
                LlamaSampler::dist(seed),
            ]),
            grammar_first: std::env::var_os("ECOMM_GRAMMAR_FIRST").is_some_and(|v| v == "1"),
        })
    }

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

/// Feeds the prompt's `tokens` to `ctx` in batches of 512 (logits for the last one only);
/// returns the next position.
fn read_prompt(
    ctx: &mut llama_cpp_2::context::LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    tokens: &[llama_cpp_2::token::LlamaToken],
) -> Result<i32, LlmError> {
    let mut pos = 0i32;
    for chunk in tokens.chunks(512) {
        batch.clear();
        for (i, t) in chunk.iter().enumerate() {
            let last = pos as usize + i + 1 == tokens.len();
            batch.add(*t, pos + i as i32, &[0], last).map_err(llama)?;
        }
        pos += chunk.len() as i32;
        ctx.decode(batch).map_err(llama)?;
    }
    Ok(pos)
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

    /// Runs one chat completion constrained to [`schema`], telling `on_step` each token.
    pub fn generate(&self, system: &str, user: &str, opts: &Options, on_step: Option<OnStep<'_>>) -> Result<Output, LlmError> {
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
        let mut sampler = Constrained::new(&self.model, opts.seed)?;
        let mut batch = LlamaBatch::new(512, 1);
        let mut pos = read_prompt(&mut ctx, &mut batch, &tokens)?;
        let prompt_seconds = t0.elapsed().as_secs_f64();
        let (t1, prompt_tokens) = (Instant::now(), tokens.len());
        let tell = |text: &str, n: usize| {
            let step = Step {
                text,
                tokens: n,
                max_tokens: opts.max_tokens,
                seconds: t1.elapsed().as_secs_f64(),
                prompt_tokens,
                round: opts.round,
            };
            on_step.is_none_or(|f| f(&step))
        };
        if !tell("", 0) {
            return Err(LlmError::Cancelled(0));
        }
        let mut out = Vec::new();
        let mut told = 0;
        let mut generated = 0;
        while generated < opts.max_tokens {
            let tok = sampler.sample(&ctx, batch.n_tokens() - 1);
            if vocab.is_eog(tok) {
                break;
            }
            out.extend(vocab.token_to_piece(tok, false, None));
            generated += 1;
            // Tell the complete characters written since the last step.
            let fresh = match std::str::from_utf8(&out[told..]) {
                Ok(t) => t,
                Err(e) => std::str::from_utf8(&out[told..told + e.valid_up_to()]).unwrap_or_default(),
            };
            let fresh_len = fresh.len();
            if !tell(fresh, generated) {
                return Err(LlmError::Cancelled(generated));
            }
            told += fresh_len;
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
