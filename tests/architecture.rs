//! The layering of `docs/architecture.md`, checked on the source: a module imports only modules of
//! a lower layer (never one above it, never one beside it), and no source file grows past the
//! size where it should be split, unless the file says why.

use std::path::{Path, PathBuf};

/// Layer of each top-level module, bottom (0) to top. Keep in step with docs/architecture.md.
const LAYERS: &[(&str, u32)] = &[
    ("i18n", 0),
    ("domain", 0),
    ("gen", 1),
    ("appdb", 0),
    ("store", 2),
    ("metrics", 3),
    ("ingest", 4),
    ("render", 5),
    ("export", 5),
    ("insights", 6),
    ("alert", 6),
    ("report", 7),
    ("mysql", 7),
    ("serve", 8),
    ("cli", 9),
    ("cmd", 10),
];

/// Longest source file without a reason in its module doc (`//! Size:`).
const MAX_LINES: usize = 500;

fn layer(m: &str) -> Option<u32> {
    LAYERS.iter().find(|(n, _)| *n == m).map(|(_, l)| *l)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn src_files() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(&root).unwrap().to_path_buf();
            let first = rel.components().next()?.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
            (first != "lib" && first != "main").then_some((first, p))
        })
        .collect()
}

#[test]
fn every_module_has_a_layer() {
    for (m, p) in src_files() {
        assert!(layer(&m).is_some(), "{} belongs to module '{m}', which has no layer in tests/architecture.rs", p.display());
    }
}

#[test]
fn imports_only_point_down() {
    let mut wrong = Vec::new();
    for (m, p) in src_files() {
        let own = layer(&m).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        for (i, line) in text.lines().enumerate() {
            for part in line.split("crate::").skip(1) {
                let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let Some(l) = layer(&name) else { continue };
                if name != m && l >= own {
                    wrong.push(format!("{}:{}: {m} (layer {own}) uses {name} (layer {l})", p.display(), i + 1));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "imports that do not point down:\n{}", wrong.join("\n"));
}

#[test]
fn source_files_stay_small() {
    let mut long = Vec::new();
    for (_, p) in src_files() {
        let text = std::fs::read_to_string(&p).unwrap();
        let n = text.lines().count();
        if n > MAX_LINES && !text.contains("//! Size:") {
            long.push(format!("{} has {n} lines", p.display()));
        }
    }
    assert!(long.is_empty(), "split these files or say why in a `//! Size:` line:\n{}", long.join("\n"));
}

/// Longest function without a reason in its doc comment (`/// Length:`).
const MAX_FN_LINES: usize = 80;

#[test]
fn functions_stay_short() {
    let mut long = Vec::new();
    for (_, p) in src_files() {
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim_start();
            let body = t.strip_prefix("pub(crate) ").or_else(|| t.strip_prefix("pub ")).unwrap_or(t);
            let body = body.strip_prefix("async ").unwrap_or(body);
            if !body.starts_with("fn ") || l.trim_end().ends_with(';') {
                continue;
            }
            let indent = &l[..l.len() - t.len()];
            let close = format!("{indent}}}");
            let Some(end) = lines[i + 1..].iter().position(|x| *x == close) else { continue };
            let n = end + 2;
            let mut j = i;
            while j > 0 && (lines[j - 1].trim_start().starts_with("///") || lines[j - 1].trim_start().starts_with("#[")) {
                j -= 1;
            }
            let reason = lines[j..i].iter().any(|d| d.contains("/// Length:"));
            if n > MAX_FN_LINES && !reason {
                long.push(format!("{}:{} {} lines", p.display(), i + 1, n));
            }
        }
    }
    assert!(long.is_empty(), "split these functions or say why in a `/// Length:` line of their doc:\n{}", long.join("\n"));
}
