//! The only module that runs programs. Commands are values ([`CommandSpec`]: argv, never a
//! shell string; `LC_ALL=C` always), run with a time bound; stdout and stderr are kept and an
//! error names the command, its exit status or signal, and the tail of its stderr.
//!
//! Each command runs in a process group of its own. A signal meant for patch-baseline (Ctrl-C
//! at a terminal, the SSM agent cancelling the step) therefore does not reach a package
//! manager in the middle of a transaction, which finishes on its own; one meant for the
//! package manager's group (a maintainer script killing its group) leaves patch-baseline
//! running to report what happened. A command that overruns its time bound is killed with its
//! whole group, so no orphaned dpkg or rpm keeps the lock.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A command to run: program, arguments and environment changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// The program (resolved through `PATH`).
    pub program: OsString,
    /// The arguments.
    pub args: Vec<OsString>,
    /// Environment changes: `Some` sets, `None` removes. `LC_ALL=C` is always set.
    pub env: BTreeMap<String, Option<OsString>>,
    /// The time bound.
    pub timeout: Duration,
}

impl CommandSpec {
    /// A command with no arguments and a 10-minute bound.
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            timeout: Duration::from_secs(600),
        }
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    #[must_use]
    pub fn args<I: IntoIterator<Item = A>, A: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    #[must_use]
    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.insert(key.to_string(), Some(value.into()));
        self
    }

    /// Sets the time bound.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl fmt::Display for CommandSpec {
    /// The command as a shell would show it (for messages only; never executed as such).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}", self.program.to_string_lossy())?;
        for arg in &self.args {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c))
            {
                write!(f, " '{}'", arg.replace('\'', "'\\''"))?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        f.write_str("`")
    }
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

impl Captured {
    /// The exit status as text (`100`, or `none (killed by a signal)`) and the last three
    /// non-empty lines of standard error joined with ` | `: what an error message shows.
    pub fn failure_summary(&self) -> (String, String) {
        let code = match (self.code, self.signal) {
            (Some(code), _) => code.to_string(),
            (None, Some(signal)) => format!("none (killed by signal {})", signal_name(signal)),
            (None, None) => "none (killed by a signal)".to_string(),
        };
        let stderr = String::from_utf8_lossy(&self.stderr);
        let mut tail: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .rev()
            .take(3)
            .collect();
        tail.reverse();
        (code, tail.join(" | "))
    }
}

/// A signal's number with its name, as `9 (SIGKILL)`.
fn signal_name(signal: i32) -> String {
    use rustix::process::Signal;
    let name = match signal {
        s if s == Signal::HUP.as_raw() => "SIGHUP",
        s if s == Signal::INT.as_raw() => "SIGINT",
        s if s == Signal::QUIT.as_raw() => "SIGQUIT",
        s if s == Signal::ABORT.as_raw() => "SIGABRT",
        s if s == Signal::KILL.as_raw() => "SIGKILL",
        s if s == Signal::SEGV.as_raw() => "SIGSEGV",
        s if s == Signal::PIPE.as_raw() => "SIGPIPE",
        s if s == Signal::TERM.as_raw() => "SIGTERM",
        _ => return signal.to_string(),
    };
    format!("{signal} ({name})")
}

impl ExecError {
    /// The error for `spec`, which ran and failed as `captured` shows.
    pub fn failed(spec: &CommandSpec, captured: &Captured) -> Self {
        let (code, tail) = captured.failure_summary();
        Self::Failed {
            command: spec.to_string(),
            code,
            tail,
        }
    }
}

/// A command that could not run, failed, or did not finish in time.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The program could not be started.
    #[error("cannot run {command}: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// The command ran and failed.
    #[error("{command} failed with exit code {code}: {tail}")]
    Failed {
        /// The command.
        command: String,
        /// Its exit status (`none (killed by a signal)` when there is none).
        code: String,
        /// The last lines of its error output.
        tail: String,
    },
    /// The time bound passed; the command was killed.
    #[error("{command} did not finish within {seconds} s and was stopped")]
    Timeout {
        /// The command.
        command: String,
        /// The bound.
        seconds: u64,
    },
}

/// Runs commands.
pub trait Runner {
    /// Runs `spec` to completion and returns what it printed, whatever its exit code.
    fn run(&self, spec: &CommandSpec) -> Result<Captured, ExecError>;
}

/// Runs commands on this machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRunner;

impl Runner for SystemRunner {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that spawns processes"
    )]
    fn run(&self, spec: &CommandSpec) -> Result<Captured, ExecError> {
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for (key, value) in &spec.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        let mut child = command.spawn().map_err(|source| ExecError::Spawn {
            command: spec.to_string(),
            source,
        })?;
        // Drain both pipes on their own threads so a chatty child never blocks on a full pipe.
        let mut out = child.stdout.take();
        let mut err = child.stderr.take();
        let stdout = std::thread::spawn(move || {
            let mut buffer = Vec::new();
            if let Some(pipe) = out.as_mut() {
                let _ = pipe.read_to_end(&mut buffer);
            }
            buffer
        });
        let stderr = std::thread::spawn(move || {
            let mut buffer = Vec::new();
            if let Some(pipe) = err.as_mut() {
                let _ = pipe.read_to_end(&mut buffer);
            }
            buffer
        });
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= spec.timeout => {
                    kill_group(child.id());
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ExecError::Timeout {
                        command: spec.to_string(),
                        seconds: spec.timeout.as_secs(),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(source) => {
                    return Err(ExecError::Spawn {
                        command: spec.to_string(),
                        source,
                    });
                }
            }
        };
        Ok(Captured {
            code: status.code(),
            signal: status.signal(),
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        })
    }
}

/// Sends SIGKILL to the process group `leader` leads (the command and whatever it started).
fn kill_group(leader: u32) {
    let Some(group) = i32::try_from(leader)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    // The group is the child's own (process_group(0) above), never ours. It may be gone.
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A script file for `sh` (the tests' stand-in for a package manager).
    fn script(dir: &std::path::Path, text: &str) -> CommandSpec {
        let path = dir.join("script.sh");
        std::fs::write(&path, text).unwrap();
        CommandSpec::new("sh").arg(path)
    }

    #[test]
    fn a_command_killed_by_a_signal_is_named_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let spec = script(dir.path(), "echo started >&2\nkill -KILL $$\n");
        let captured = SystemRunner.run(&spec).unwrap();
        assert_eq!((captured.code, captured.signal), (None, Some(9)));
        let error = ExecError::failed(&spec, &captured).to_string();
        assert!(
            error.contains("exit code none (killed by signal 9 (SIGKILL)): started"),
            "{error}"
        );
    }

    #[test]
    fn a_command_that_kills_its_group_leaves_the_caller_running() {
        // `kill 0` signals the caller's process group, as a maintainer script killing its
        // package manager's group does: the command's own group, not this test's.
        let dir = tempfile::tempdir().unwrap();
        let captured = SystemRunner
            .run(&script(dir.path(), "kill -KILL 0\n"))
            .unwrap();
        assert_eq!(captured.signal, Some(9));
    }

    #[test]
    fn an_overrun_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let spec = script(
            dir.path(),
            &format!("sleep 60 &\necho $! > '{}'\nwait\n", pid_file.display()),
        )
        .timeout(Duration::from_millis(500));
        let error = SystemRunner.run(&spec).unwrap_err();
        assert!(matches!(error, ExecError::Timeout { .. }), "{error}");
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild is gone (or a zombie of init's, which is gone too): no process runs
        // with that pid in our group's name.
        let deadline = Instant::now() + Duration::from_secs(5);
        let alive = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| !stat.contains(") Z "))
        };
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(), "the command's child {pid} still runs");
    }
}
