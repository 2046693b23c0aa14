//! The `patch-baseline` binary: parse the command line, take the clock and environment once,
//! run, and turn the outcome into the exit code (the only place that does).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use patch_baseline::cli::{Cli, run};
use patch_baseline::exit::Outcome;
use patch_baseline::ops::Context;

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
