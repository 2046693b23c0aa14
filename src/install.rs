//! What every backend's installer shares: the exact package versions to install, the ways an
//! install can fail, and the [`Installer`] steps the `install` pipeline drives (screen for
//! `BLOCK`, download, install, ask the OS whether it needs a reboot).

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::exec::{ExecError, Runner};
use crate::inventory::InstalledPackage;
use crate::pattern::PatternList;

/// One exact package version to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Name.
    pub name: String,
    /// Architecture (`all`/`noarch` or the machine architecture).
    pub arch: String,
    /// The exact version (`[epoch:]version[-release]`).
    pub version: String,
}

impl Target {
    /// `argument` (this target as the package manager names it), once the name, architecture
    /// and version are known safe for a command line.
    pub fn validated(&self, argument: String) -> Result<String, InstallError> {
        if crate::model::is_valid_package_name(&self.name)
            && is_safe_version(&self.version)
            && is_safe_version(&self.arch)
        {
            Ok(argument)
        } else {
            Err(InstallError::Invalid(argument))
        }
    }
}

/// Why an install did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A name, architecture, version or pattern that must not reach a command line.
    #[error(
        "refusing to pass `{0}` to the package manager: not a valid package name, architecture, version or pattern"
    )]
    Invalid(String),
    /// Another process holds the package manager's lock (the message names it when known).
    #[error("the package database is locked: {0}")]
    Locked(String),
    /// An earlier run of the package manager was interrupted and must be finished by hand.
    #[error("{0}")]
    Interrupted(String),
    /// The package manager could not be run, failed, or did not finish in time.
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// The targets that may be installed, and those blocked with the rejected package that blocks
/// each.
pub type Screened = (Vec<Target>, Vec<(Target, String)>);

/// The steps of an install, as one backend performs them.
pub trait Installer {
    /// Splits `targets` into those that can be installed and those whose installation would
    /// bring in a package that `rejected` names (`BLOCK`).
    fn screen_blocked(
        &self,
        runner: &dyn Runner,
        targets: Vec<Target>,
        rejected: &PatternList,
        lock_timeout: Duration,
    ) -> Result<Screened, InstallError>;

    /// Fetches the packages of `targets` without installing anything.
    fn download(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<(), InstallError>;

    /// Installs exactly `targets` in one transaction.
    fn install(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<(), InstallError>;

    /// Finishes what an interrupted run of the package manager left unfinished, before
    /// anything is planned against it (dpkg: `dpkg --configure -a`). Returns what it did, for
    /// the report's warnings; `None` when there was nothing to finish. `installed` is what the
    /// scan just read, so that a repair with nothing to do spawns nothing.
    fn repair(
        &self,
        _runner: &dyn Runner,
        _installed: &[InstalledPackage],
        _lock_timeout: Duration,
    ) -> Result<Option<String>, InstallError> {
        Ok(None)
    }

    /// The download size in bytes of each target, as its repository gives it; `None` where
    /// the package manager cannot say (zypper, classic yum) or the query fails. Used only to
    /// estimate how long an install takes (`--max-duration`).
    fn download_sizes(&self, _runner: &dyn Runner, targets: &[Target]) -> Vec<Option<u64>> {
        vec![None; targets.len()]
    }

    /// Whether the OS says a reboot is needed, with the packages that make it so when known.
    fn reboot_required(
        &self,
        runner: &dyn Runner,
        boot: Option<DateTime<Utc>>,
    ) -> Option<Vec<String>>;
}

/// Splits `targets` by a dry-run `check` that names the rejected package a set of targets
/// would need: all at once first, and one by one only when something is needed.
pub fn split_blocked(
    targets: Vec<Target>,
    mut check: impl FnMut(&[Target]) -> Result<Option<String>, InstallError>,
) -> Result<Screened, InstallError> {
    if targets.is_empty() || check(&targets)?.is_none() {
        return Ok((targets, Vec::new()));
    }
    let mut allowed = Vec::new();
    let mut blocked = Vec::new();
    for target in targets {
        match check(std::slice::from_ref(&target))? {
            Some(problem) => blocked.push((target, problem)),
            None => allowed.push(target),
        }
    }
    Ok((allowed, blocked))
}

/// Runs `attempt` until it does not report a lock holder (`Err(holder)` inside), waiting half
/// a second between attempts and at most `lock_timeout` in all; then fails naming the holder.
/// The rpm transaction lock under `root` counts as held without an attempt.
pub fn wait_for_locks<T>(
    root: &Path,
    lock_timeout: std::time::Duration,
    mut attempt: impl FnMut() -> Result<Result<T, String>, InstallError>,
) -> Result<T, InstallError> {
    let started = std::time::Instant::now();
    loop {
        let holder = ["var/lib/rpm/.rpm.lock", "usr/lib/sysimage/rpm/.rpm.lock"]
            .iter()
            .find_map(|lock| lock_holder(&root.join(lock)));
        let holder = match holder {
            Some((pid, command)) => {
                format!("held by process {pid} ({command}): the rpm transaction lock")
            }
            None => match attempt()? {
                Ok(value) => return Ok(value),
                Err(holder) => holder,
            },
        };
        if started.elapsed() >= lock_timeout {
            return Err(InstallError::Locked(format!(
                "{holder} (waited {} s)",
                lock_timeout.as_secs()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// Whether `text` may go to a command line as a version or architecture: non-empty, and only
/// the characters versions use.
pub fn is_safe_version(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('-')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~:_-^".contains(&b))
}

/// Who holds a lock file: the PID and command of the process whose POSIX or flock lock on
/// the file's inode `/proc/locks` lists.
pub fn lock_holder(path: &Path) -> Option<(u32, String)> {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(path).ok()?.ino();
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let pid: u32 = locks.lines().find_map(|line| {
        // "1: POSIX  ADVISORY  WRITE 1234 00:2d:5678 0 EOF"
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields.iter().position(|f| f.matches(':').count() == 2)?;
        let file_inode: u64 = fields[at].rsplit(':').next()?.parse().ok()?;
        (file_inode == inode).then(|| fields.get(at.checked_sub(1)?)?.parse().ok())?
    })?;
    let command = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map_or_else(|_| "?".to_string(), |c| c.trim().to_string());
    Some((pid, command))
}
