//! Phase timings on stderr for `ECOMM_TRACE=1`: one clock for the whole process, started by the
//! first trace, so every layer can say how long it took to get somewhere.

use std::time::Instant;

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// The process's trace clock (started by its first use).
pub fn start() -> Instant {
    *START.get_or_init(Instant::now)
}

/// Prints `[trace] SECONDS s  what` to stderr when `ECOMM_TRACE` is set, timed from `t0`.
pub fn trace(t0: Instant, what: &str) {
    if std::env::var_os("ECOMM_TRACE").is_some() {
        eprintln!("[trace] {:>8.3} s  {what}", t0.elapsed().as_secs_f64());
    }
}

/// Like [`trace`], timed from the first trace of the process (for code without a clock of its own).
pub fn trace_here(what: &str) {
    trace(start(), what);
}
