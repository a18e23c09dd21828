//! Writing a command's output to stdout without panicking (see [`crate::outln!`]).

use std::io::Write;

/// Writes and flushes `args` to stdout; on failure ends the process (see [`fail`]).
pub fn write(args: std::fmt::Arguments) {
    if let Err(e) = try_write(args) {
        fail(e)
    }
}

/// Writes and flushes `args` to stdout, returning the error.
pub fn try_write(args: std::fmt::Arguments) -> std::io::Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_fmt(args).and_then(|_| o.flush())
}

/// Ends the process after a failed write to stdout: quietly with 0 when the reader went away
/// (a closed pipe), else with a one-line error and exit 1.
pub fn fail(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    let _ = writeln!(
        std::io::stderr(),
        "error: cannot write the output to standard output: {e}; free disk space or send the output elsewhere / 无法写入标准输出"
    );
    std::process::exit(super::EXIT_ERROR)
}
