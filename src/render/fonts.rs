//! Finding a font that can write the report's language, on any OS, without shipping one.
//!
//! Lookup order (first usable wins):
//! 1. `--font PATH`
//! 2. the `ECOMM_FONT` environment variable
//! 3. any `.ttf` / `.otf` / `.ttc` / `.otc` file in `fonts/` (next to the working directory)
//! 4. well-known system fonts: Noto Sans CJK / Source Han Sans, WenQuanYi (Linux), PingFang /
//!    Hiragino Sans GB / STHeiti (macOS), Microsoft YaHei / SimHei / SimSun (Windows), then the
//!    CJK-looking files found under the system font folders.
//!
//! "Usable" means the font parses and has glyphs for a probe string of the report language
//! (Chinese text for `zh`, Latin letters and digits for `en`). A file given explicitly (flag or
//! environment) that is not usable is an error, never silently skipped. Collections (`.ttc`) are
//! searched for the best face (Simplified Chinese first), which is then cut out of the collection
//! as a standalone font, so every consumer (plotters, printpdf) sees one ordinary face.

use crate::i18n::Lang;
use std::path::{Path, PathBuf};

/// A font face loaded into memory (kept for the life of the process: charts need `'static`).
/// Each distinct face is loaded once per process ([`load`] caches it), so a server that renders
/// many reports holds one copy, not one per report.
#[derive(Clone)]
pub struct Font {
    /// File the face came from.
    pub path: PathBuf,
    /// Face index inside the file (0 for plain fonts).
    pub index: u32,
    /// Family name as the font states it, e.g. "Noto Sans CJK SC".
    pub family: String,
    /// The face as a standalone sfnt (extracted from a collection when needed).
    pub bytes: &'static [u8],
    units_per_em: f32,
    ascender: f32,
    descender: f32,
}

/// Why no font could be used.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    /// The explicitly requested font is missing or unreadable.
    #[error("font {path}: {why}; pass another file with --font PATH or ECOMM_FONT / 字体不可用，请用 --font 指定其他字体文件")]
    Unusable {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// Nothing suitable anywhere.
    #[error("no font with {what} glyphs was found; install one (Debian/Ubuntu: apt-get install fonts-noto-cjk; macOS and Windows ship one) or pass --font PATH (.ttf/.otf/.ttc), or set ECOMM_FONT / 未找到可显示中文的字体：请安装 fonts-noto-cjk，或用 --font 指定字体文件")]
    NotFound {
        /// What the font must cover.
        what: &'static str,
    },
}

/// Text a font must cover for each language.
fn probe(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "用户行为分析转化率留存复购类目万亿0123456789%ABCabc",
        Lang::En => "ABCXYZabcxyz0123456789%.,()→",
    }
}

/// Well-known system font files, most preferred first.
const SYSTEM_FONTS: &[&str] = &[
    // Linux
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/noto-cjk/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/adobe-source-han-sans/SourceHanSansCN-Regular.otf",
    "/usr/share/fonts/opentype/source-han-sans/SourceHanSans-Regular.ttc",
    "/usr/share/fonts/adobe-source-han-sans/SourceHanSans-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    // macOS
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    // Windows
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\msyh.ttf",
    "C:\\Windows\\Fonts\\simhei.ttf",
    "C:\\Windows\\Fonts\\simsun.ttc",
    // Latin-only last resorts (enough for English reports)
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/System/Library/Fonts/Helvetica.ttc",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Folders searched (recursively, shallowly) for CJK-looking font files after [`SYSTEM_FONTS`].
fn system_dirs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        ["/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", "C:\\Windows\\Fonts"].iter().map(PathBuf::from).collect();
    if let Some(h) = std::env::var_os("HOME") {
        let h = PathBuf::from(h);
        v.push(h.join(".local/share/fonts"));
        v.push(h.join(".fonts"));
        v.push(h.join("Library/Fonts"));
    }
    if let Some(w) = std::env::var_os("LOCALAPPDATA") {
        v.push(PathBuf::from(w).join("Microsoft\\Windows\\Fonts"));
    }
    v
}

fn is_font_file(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref(), Some("ttf" | "otf" | "ttc" | "otc"))
}

fn list_fonts(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() && depth > 0 {
            list_fonts(&p, depth - 1, out);
        } else if is_font_file(&p) {
            out.push(p);
        }
    }
}

/// Finds the report font for `lang` in the documented order.
pub fn find(explicit: Option<&Path>, lang: Lang) -> Result<Font, FontError> {
    let env = std::env::var_os("ECOMM_FONT").filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = explicit.map(Path::to_path_buf).or(env) {
        return load(&p, lang);
    }
    let mut candidates = Vec::new();
    list_fonts(Path::new("fonts"), 2, &mut candidates);
    candidates.extend(SYSTEM_FONTS.iter().map(PathBuf::from));
    let mut found = Vec::new();
    for d in system_dirs() {
        list_fonts(&d, 3, &mut found);
    }
    let cjk = |p: &PathBuf| {
        let n = p.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        ["cjk", "han", "wqy", "hei", "song", "sun", "ming", "kai", "yahei", "pingfang", "noto"].iter().any(|k| n.contains(k))
    };
    candidates.extend(found.iter().filter(|p| cjk(p)).cloned());
    if lang == Lang::En {
        candidates.extend(found);
    }
    for p in candidates {
        if p.is_file() {
            if let Ok(f) = load(&p, lang) {
                return Ok(f);
            }
        }
    }
    Err(FontError::NotFound { what: if lang == Lang::Zh { "Chinese" } else { "Latin" } })
}

/// Faces loaded so far, by (file, its length and modification time, language).
type FaceCache = std::sync::Mutex<std::collections::HashMap<(PathBuf, u64, Option<std::time::SystemTime>, Lang), Font>>;
static LOADED: std::sync::OnceLock<FaceCache> = std::sync::OnceLock::new();

/// Loads the best face of `path` that covers `lang`. The face's bytes live for the rest of the
/// process (charts need `'static`), so each (file, language) is loaded once and then reused: a
/// file replaced on disk (new length or modification time) is loaded again.
pub fn load(path: &Path, lang: Lang) -> Result<Font, FontError> {
    let meta = std::fs::metadata(path).ok();
    let key = (path.to_path_buf(), meta.as_ref().map_or(0, |m| m.len()), meta.and_then(|m| m.modified().ok()), lang);
    let cache = LOADED.get_or_init(Default::default);
    if let Some(f) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(f.clone());
    }
    let font = load_uncached(path, lang)?;
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key, font.clone());
    Ok(font)
}

fn load_uncached(path: &Path, lang: Lang) -> Result<Font, FontError> {
    let bad = |why: String| FontError::Unusable { path: path.to_path_buf(), why };
    let data = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let faces = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
    let text = probe(lang);
    let mut best: Option<(i32, u32, String)> = None;
    for i in 0..faces {
        let Ok(face) = ttf_parser::Face::parse(&data, i) else { continue };
        if !text.chars().all(|c| c == ' ' || face.glyph_index(c).is_some()) {
            continue;
        }
        let family = family_name(&face).unwrap_or_else(|| format!("face {i}"));
        let f = family.to_ascii_lowercase();
        let mut score = 0;
        if f.contains(" sc") || f.contains("simplified") || f.contains(" cn") || f.contains("gb") || f.contains("yahei") {
            score += 4;
        }
        if f.contains("mono") || face.is_monospaced() {
            score -= 2;
        }
        if best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, i, family));
        }
    }
    let Some((_, index, family)) = best else {
        return Err(bad(format!("no face covers the {} text of the report", if lang == Lang::Zh { "Chinese" } else { "English" })));
    };
    let bytes = if faces > 1 || data.starts_with(b"ttcf") { extract_face(&data, index).map_err(bad)? } else { data };
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let face = ttf_parser::Face::parse(bytes, 0).map_err(|e| bad(format!("extracted face does not parse: {e}")))?;
    Ok(Font {
        path: path.to_path_buf(),
        index,
        family,
        units_per_em: face.units_per_em() as f32,
        ascender: face.ascender() as f32,
        descender: face.descender() as f32,
        bytes,
    })
}

fn family_name(face: &ttf_parser::Face) -> Option<String> {
    let names: Vec<_> = face.names().into_iter().collect();
    // Prefer the typographic family (16), then the family (1); English (0x409) first.
    for id in [ttf_parser::name_id::TYPOGRAPHIC_FAMILY, ttf_parser::name_id::FAMILY] {
        let mut fallback = None;
        for n in names.iter().filter(|n| n.name_id == id) {
            if let Some(s) = n.to_string() {
                if n.language_id == 0x409 {
                    return Some(s);
                }
                fallback.get_or_insert(s);
            }
        }
        if fallback.is_some() {
            return fallback;
        }
    }
    None
}

/// Cuts face `index` out of a TrueType/OpenType collection into a standalone sfnt.
pub fn extract_face(data: &[u8], index: u32) -> Result<Vec<u8>, String> {
    let be32 = |o: usize| -> Result<u32, String> {
        data.get(o..o + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok_or_else(|| "truncated font file".to_string())
    };
    let be16 = |o: usize| -> Result<u16, String> {
        data.get(o..o + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or_else(|| "truncated font file".to_string())
    };
    let start = if data.starts_with(b"ttcf") {
        let n = be32(8)?;
        if index >= n {
            return Err(format!("face {index} not in a collection of {n}"));
        }
        be32(12 + 4 * index as usize)? as usize
    } else {
        0
    };
    let num_tables = be16(start + 4)? as usize;
    let mut tables = Vec::with_capacity(num_tables);
    for t in 0..num_tables {
        let rec = start + 12 + 16 * t;
        let tag = data.get(rec..rec + 4).ok_or("truncated font file")?;
        let (sum, off, len) = (be32(rec + 4)?, be32(rec + 8)? as usize, be32(rec + 12)? as usize);
        let body = data.get(off..off + len).ok_or("table past the end of the font file")?;
        tables.push((tag, sum, body));
    }
    let header = 12 + 16 * num_tables;
    let mut out = Vec::with_capacity(header + tables.iter().map(|t| t.2.len() + 3).sum::<usize>());
    out.extend_from_slice(&data[start..start + 12]);
    let mut offset = header;
    for (tag, sum, body) in &tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&sum.to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        offset += (body.len() + 3) & !3;
    }
    for (_, _, body) in &tables {
        out.extend_from_slice(body);
        out.resize((out.len() + 3) & !3, 0);
    }
    Ok(out)
}

impl Font {
    /// Width of `text` at `size` (same unit as `size`), from the font's advance widths.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let face = ttf_parser::Face::parse(self.bytes, 0).expect("font parsed at load");
        let units: f32 = text
            .chars()
            .map(|c| face.glyph_index(c).and_then(|g| face.glyph_hor_advance(g)).map(f32::from).unwrap_or(self.units_per_em * 0.5))
            .sum();
        units * size / self.units_per_em
    }

    /// Ascender height at `size` (positive).
    pub fn ascent(&self, size: f32) -> f32 {
        self.ascender * size / self.units_per_em
    }

    /// Descender depth at `size` (positive).
    pub fn descent(&self, size: f32) -> f32 {
        -self.descender * size / self.units_per_em
    }

    /// Breaks `text` into lines no wider than `max` at `size`: at spaces for Latin words, and
    /// between any two CJK characters (never before closing punctuation).
    pub fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            for token in tokens(para) {
                let candidate = format!("{line}{token}");
                if !line.is_empty() && self.width(candidate.trim_end(), size) > max {
                    lines.push(line.trim_end().to_string());
                    line = token.trim_start().to_string();
                } else {
                    line = candidate;
                }
            }
            lines.push(line.trim_end().to_string());
        }
        lines
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
}

fn is_closing(c: char) -> bool {
    "，。、；：？！）》」』】%,.;:?!)".contains(c)
}

/// Splits a paragraph into unbreakable tokens: a Latin word with its trailing spaces, or one
/// CJK character with any closing punctuation that follows it.
fn tokens(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_space = false;
    for c in s.chars() {
        let starts_new = if is_closing(c) {
            false
        } else if is_cjk(c) {
            true
        } else if c == ' ' {
            false
        } else {
            prev_space || cur.chars().last().is_some_and(is_cjk)
        };
        if starts_new && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
        prev_space = c == ' ';
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_break_cjk_and_words() {
        assert_eq!(tokens("ab cd"), vec!["ab ", "cd"]);
        assert_eq!(tokens("转化率，高"), vec!["转", "化", "率，", "高"]);
        assert_eq!(tokens("UV 12万人"), vec!["UV ", "12", "万", "人"]);
    }
}
