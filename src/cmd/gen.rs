//! `ecomm gen`

use crate::cli::GenArgs;
use crate::gen::{generate, GenConfig};
use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

/// Validates the arguments and writes the file.
pub fn run(a: GenArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&a.dirty) {
        bail!("--dirty must be between 0 and 1 (a fraction of rows), got {} / --dirty 应在 0 到 1 之间", a.dirty);
    }
    if a.rows == 0 {
        bail!("--rows must be at least 1 / --rows 至少为 1");
    }
    if a.days == 0 {
        bail!("--days must be at least 1 / --days 至少为 1");
    }
    let name = a.out.to_string_lossy().to_lowercase();
    if !(name.ends_with(".csv") || name.ends_with(".csv.gz")) {
        bail!("--out must end in .csv or .csv.gz, got {} / 输出文件须以 .csv 或 .csv.gz 结尾", a.out.display());
    }
    let cfg = GenConfig {
        rows: a.rows,
        users: a.users.unwrap_or_else(|| GenConfig::default_users(a.rows)).max(1),
        seed: a.seed,
        dirty: a.dirty,
        start: a.start,
        days: a.days,
        out: a.out.clone(),
    };
    let t0 = Instant::now();
    let pb = if super::interactive() { ProgressBar::new(cfg.rows) } else { ProgressBar::hidden() };
    pb.set_style(
        ProgressStyle::with_template("{spinner} gen [{bar:30}] {human_pos}/{human_len} rows {per_sec} ({elapsed})")
            .expect("template")
            .progress_chars("=> "),
    );
    let s = generate(&cfg, &|rows| pb.set_position(rows))?;
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "wrote {} rows ({} users, {:.1} MB) to {} in {:.1} s ({:.1}M rows/s)",
        s.rows,
        s.users,
        s.bytes as f64 / 1e6,
        cfg.out.display(),
        secs,
        s.rows as f64 / secs.max(1e-9) / 1e6
    );
    Ok(())
}
