//! The `patch-baseline` binary: parse the command line, take the clock and environment once,
//! run, and turn the outcome into the exit code (the only place that does).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use patch_baseline::cli::{Cli, run};
use patch_baseline::exit::Outcome;
use patch_baseline::ops::Context;

/// mimalloc instead of the C library's allocator: a scan allocates and frees hundreds of
/// thousands of small strings, and the static release's musl allocator is slow at it (with
/// mimalloc a cold dnf scan took 86 ms instead of 128, a warm apt scan 45 instead of 49, for
/// 11 to 15 MB more peak RSS; docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let outcome = if error.use_stderr() {
                Outcome::Usage
            } else {
                Outcome::Success
            };
            let _ = error.print();
            return ExitCode::from(outcome.code());
        }
    };
    let context = Context::from_process();
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let outcome = match run(cli, &context, &mut stdout) {
        Ok(outcome) => outcome,
        Err(error) => {
            let _ = stdout.flush();
            let _ = writeln!(std::io::stderr(), "patch-baseline: error: {error}");
            error.outcome()
        }
    };
    let _ = stdout.flush();
    ExitCode::from(outcome.code())
}
