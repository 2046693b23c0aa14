//! Applying an install plan with zypper: one `zypper update name.arch=edition …` transaction
//! of exactly the approved editions (validated before they reach argv); under `BLOCK` the
//! rejected packages locked (`zypper addlock`) for each transaction and those locks — only
//! ours — removed afterwards, even when the transaction fails, and after a crash by the next
//! run (they are journaled first); every zypper exit code handled explicitly; a bounded wait
//! for zypper's and rpm's locks that names the holder; and the reboot question answered by
//! zypper (exit 102, `needs-restarting`), the patches' reboot flag, and the native rule shared
//! with dnf.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::exec::{Captured, CommandSpec, ExecError, Runner};
use crate::install::{InstallError, Installer, Screened, Target, is_safe_version};
use crate::model::is_valid_package_name;
use crate::pattern::{EditionOp, PatternList};

use super::locks::Lock;

/// What a zypper exit code means (zypper(8), "EXIT CODES").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZypperExit {
    /// 0: success.
    Ok,
    /// 1: an internal error (a bug).
    Bug,
    /// 2: wrong command line syntax.
    Syntax,
    /// 3: invalid arguments.
    InvalidArgs,
    /// 4: a problem reported by libzypp, typically one the solver cannot resolve.
    Zypp,
    /// 5: not enough privileges.
    Privileges,
    /// 6: no repositories defined.
    NoRepositories,
    /// 7: the package system is locked by another process.
    Locked,
    /// 8: the transaction failed while it was applied.
    Commit,
    /// 100: updates are needed (patch-check).
    UpdatesNeeded,
    /// 101: security updates are needed (patch-check).
    SecurityUpdatesNeeded,
    /// 102: a reboot is needed after the transaction.
    RebootNeeded,
    /// 103: zypper updated itself; run it again for the rest.
    RestartNeeded,
    /// 104: a package or capability asked for was not found.
    NotFound,
    /// 105: stopped by a signal.
    Signal,
    /// 106: some repositories were skipped (their refresh failed).
    RepositoriesSkipped,
    /// 107: a package scriptlet failed; the transaction itself was applied.
    ScriptletFailed,
    /// Any other code, or none (killed).
    Unknown(Option<i32>),
}

impl ZypperExit {
    /// Classifies an exit code.
    pub fn from_code(code: Option<i32>) -> Self {
        match code {
            Some(0) => Self::Ok,
            Some(1) => Self::Bug,
            Some(2) => Self::Syntax,
            Some(3) => Self::InvalidArgs,
            Some(4) => Self::Zypp,
            Some(5) => Self::Privileges,
            Some(6) => Self::NoRepositories,
            Some(7) => Self::Locked,
            Some(8) => Self::Commit,
            Some(100) => Self::UpdatesNeeded,
            Some(101) => Self::SecurityUpdatesNeeded,
            Some(102) => Self::RebootNeeded,
            Some(103) => Self::RestartNeeded,
            Some(104) => Self::NotFound,
            Some(105) => Self::Signal,
            Some(106) => Self::RepositoriesSkipped,
            Some(107) => Self::ScriptletFailed,
            other => Self::Unknown(other),
        }
    }

    /// Whether the command did what it was asked (possibly with something to note).
    pub fn succeeded(self) -> bool {
        matches!(
            self,
            Self::Ok
                | Self::UpdatesNeeded
                | Self::SecurityUpdatesNeeded
                | Self::RebootNeeded
                | Self::RepositoriesSkipped
        )
    }
}

/// The `zypper addlock` argument of a lock held for our transactions: a whole name, or one
/// edition of it (`name = edition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionLock {
    /// Package name.
    pub name: String,
    /// The edition, when only that edition is locked.
    pub edition: Option<String>,
}

impl TransactionLock {
    /// The argument `zypper addlock`/`removelock` takes.
    pub fn argument(&self) -> String {
        match &self.edition {
            Some(edition) => format!("{} = {edition}", self.name),
            None => self.name.clone(),
        }
    }

    /// Reads an argument written by [`Self::argument`].
    pub fn from_argument(text: &str) -> Option<Self> {
        let (name, edition) = match text.split_once(" = ") {
            Some((name, edition)) => (name, Some(edition.to_string())),
            None => (text, None),
        };
        let lock = Self {
            name: name.to_string(),
            edition,
        };
        lock.is_safe().then_some(lock)
    }

    fn is_safe(&self) -> bool {
        is_valid_package_name(&self.name) && self.edition.as_deref().is_none_or(is_safe_version)
    }

    /// The lock as the locks file holds it once added.
    pub fn as_lock(&self) -> Lock {
        Lock {
            name: self.name.clone(),
            exact: false,
            case_sensitive: true,
            arch: None,
            edition: self
                .edition
                .as_ref()
                .map(|edition| (EditionOp::Equal, edition.clone())),
            repo: None,
        }
    }
}

/// Where our transaction locks are journaled under a root.
fn journal_path(root: &Path) -> PathBuf {
    crate::state::StatePaths::new(root).zypper_locks()
}

/// The locks an interrupted run of ours added and did not remove (from its journal).
pub fn leftover_locks(root: &Path) -> Vec<Lock> {
    read_journal(root)
        .iter()
        .map(TransactionLock::as_lock)
        .collect()
}

fn read_journal(root: &Path) -> Vec<TransactionLock> {
    std::fs::read_to_string(journal_path(root))
        .unwrap_or_default()
        .lines()
        .filter_map(TransactionLock::from_argument)
        .collect()
}

/// Builds and runs zypper commands for the system under a root.
#[derive(Debug)]
pub struct Zypper {
    root: PathBuf,
    /// Locks to hold during every transaction (`BLOCK`).
    locks: Vec<TransactionLock>,
    /// Versions (name, arch, version) a patch with the reboot flag brings.
    reboot_suggested: Vec<(String, String, String)>,
    /// What the transactions said about rebooting: zypper exited 102, and the targets with a
    /// patch reboot flag.
    reboot: RefCell<(bool, Vec<String>)>,
    /// The repositories of the transactions (baseline sources).
    repositories: crate::repositories::Repositories,
}

impl Zypper {
    /// Commands for the system under `root`, holding `locks` during every transaction;
    /// `reboot_suggested` are the versions whose patch asks for a reboot.
    pub fn new(
        root: &Path,
        locks: Vec<TransactionLock>,
        reboot_suggested: Vec<(String, String, String)>,
    ) -> Self {
        Self {
            root: root.to_path_buf(),
            locks,
            reboot_suggested,
            reboot: RefCell::new((false, Vec::new())),
            repositories: crate::repositories::Repositories::Host,
        }
    }

    /// The same commands with the repositories of `repositories` (the private directory of
    /// baseline sources).
    #[must_use]
    pub fn with_repositories(mut self, repositories: &crate::repositories::Repositories) -> Self {
        self.repositories = repositories.clone();
        self
    }

    /// The `update` command for `targets` (`--dry-run` or `--download-only` when asked).
    pub fn update_command(
        &self,
        targets: &[Target],
        dry_run: bool,
        download_only: bool,
    ) -> Result<CommandSpec, InstallError> {
        let mut spec = super::zypper(&self.root, &self.repositories, false)
            .arg("--no-refresh")
            .arg("update")
            .arg("--auto-agree-with-licenses");
        if dry_run {
            spec = spec.arg("--dry-run");
        }
        if download_only {
            spec = spec.arg("--download-only");
        }
        for target in targets {
            spec = spec.arg(target.validated(format!(
                "{}.{}={}",
                target.name, target.arch, target.version
            ))?);
        }
        Ok(spec.timeout(Duration::from_secs(3600)))
    }

    /// Runs `spec`, waiting up to `lock_timeout` while another process holds zypper's lock
    /// (exit 7, `run/zypp.pid`) or rpm's transaction lock; then gives up naming the holder.
    /// zypper's exit 103 (it updated itself) runs the command again.
    pub fn run_locked(
        &self,
        runner: &dyn Runner,
        spec: &CommandSpec,
        lock_timeout: Duration,
    ) -> Result<(Captured, ZypperExit), InstallError> {
        let mut restarts = 0;
        crate::install::wait_for_locks(&self.root, lock_timeout, || {
            loop {
                let captured = runner.run(spec)?;
                return Ok(match ZypperExit::from_code(captured.code) {
                    ZypperExit::Locked => Err(lock_message(&captured)),
                    ZypperExit::RestartNeeded if restarts < 3 => {
                        restarts += 1;
                        continue;
                    }
                    exit => Ok((captured, exit)),
                });
            }
        })
    }

    /// Runs `spec` and turns every exit code but success into an error: 105 (a signal) as
    /// interrupted, the rest as a failed command.
    fn checked(
        &self,
        runner: &dyn Runner,
        spec: &CommandSpec,
        lock_timeout: Duration,
    ) -> Result<(Captured, ZypperExit), InstallError> {
        let (captured, exit) = self.run_locked(runner, spec, lock_timeout)?;
        match exit {
            exit if exit.succeeded() => Ok((captured, exit)),
            ZypperExit::Signal => Err(InstallError::Interrupted(format!(
                "{spec} was stopped by a signal (exit 105); run `zypper verify` and try again"
            ))),
            _ => Err(ExecError::failed(spec, &captured).into()),
        }
    }

    /// Runs `operation` with our transaction locks in place, and removes them afterwards
    /// whatever happened. Locks the administrator already has are neither added nor removed;
    /// the locks are journaled before they are added so that a crash cannot leave them.
    fn with_locks<T>(
        &self,
        runner: &dyn Runner,
        lock_timeout: Duration,
        operation: impl FnOnce() -> Result<T, InstallError>,
    ) -> Result<T, InstallError> {
        self.remove_leftovers(runner, lock_timeout)?;
        if self.locks.is_empty() {
            return operation();
        }
        let (existing, _) = super::locks::read(&self.root);
        let ours: Vec<&TransactionLock> = self
            .locks
            .iter()
            .filter(|lock| !existing.contains(&lock.as_lock()))
            .collect();
        if ours.is_empty() {
            return operation();
        }
        let journal: String = ours.iter().map(|l| l.argument() + "\n").collect();
        let path = journal_path(&self.root);
        std::fs::create_dir_all(path.parent().unwrap_or(&self.root))
            .and_then(|()| crate::state::write_atomically(&path, journal.as_bytes()))
            .map_err(|e| {
                InstallError::Exec(ExecError::Spawn {
                    command: format!("writing {}", path.display()),
                    source: e,
                })
            })?;
        let added = self
            .lock_command("addlock", &ours)
            .and_then(|spec| self.checked(runner, &spec, lock_timeout).map(|_| ()));
        let result = added.and_then(|()| operation());
        let removed = self.remove_locks(runner, &ours, lock_timeout);
        let value = result?;
        removed?;
        Ok(value)
    }

    fn lock_command(
        &self,
        verb: &str,
        locks: &[&TransactionLock],
    ) -> Result<CommandSpec, InstallError> {
        let mut spec = super::zypper(&self.root, &self.repositories, false).arg(verb);
        for lock in locks {
            if !lock.is_safe() {
                return Err(InstallError::Invalid(lock.argument()));
            }
            spec = spec.arg(lock.argument());
        }
        Ok(spec.timeout(Duration::from_secs(300)))
    }

    /// Removes `locks` (ours) and then the journal.
    fn remove_locks(
        &self,
        runner: &dyn Runner,
        locks: &[&TransactionLock],
        lock_timeout: Duration,
    ) -> Result<(), InstallError> {
        // Only those still there: removing a lock that is not there is an error for zypper.
        let (existing, _) = super::locks::read(&self.root);
        let present: Vec<&TransactionLock> = locks
            .iter()
            .copied()
            .filter(|l| existing.contains(&l.as_lock()))
            .collect();
        if !present.is_empty() {
            let spec = self.lock_command("removelock", &present)?;
            self.checked(runner, &spec, lock_timeout)?;
        }
        match std::fs::remove_file(journal_path(&self.root)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(InstallError::Exec(ExecError::Spawn {
                    command: format!("removing {}", journal_path(&self.root).display()),
                    source: e,
                }))
            }
            _ => Ok(()),
        }
    }

    /// Removes the locks an interrupted run of ours left (its journal says which).
    fn remove_leftovers(
        &self,
        runner: &dyn Runner,
        lock_timeout: Duration,
    ) -> Result<(), InstallError> {
        let leftovers = read_journal(&self.root);
        if leftovers.is_empty() && !journal_path(&self.root).exists() {
            return Ok(());
        }
        self.remove_locks(runner, &leftovers.iter().collect::<Vec<_>>(), lock_timeout)
    }

    /// The locked package a dry run of `targets` would need to change, if any (zypper:
    /// "remove lock to allow installation of X[repo]" or "… removal of X").
    fn needs_locked(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<Option<String>, InstallError> {
        let spec = self.update_command(targets, true, false)?;
        let (captured, exit) = self.run_locked(runner, &spec, lock_timeout)?;
        if exit != ZypperExit::Zypp {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&captured.stdout);
        Ok(text.lines().find_map(|line| {
            let rest = line.split("remove lock to allow ").nth(1)?;
            let package = rest.split_once(" of ").map_or(rest, |(_, p)| p).trim();
            Some(
                package
                    .split_once('[')
                    .map_or(package, |(p, _)| p)
                    .to_string(),
            )
        }))
    }
}

/// zypper's own words about its lock, with the holder (it names the PID and command).
fn lock_message(captured: &Captured) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&captured.stderr),
        String::from_utf8_lossy(&captured.stdout)
    );
    text.lines()
        .map(str::trim)
        .find(|l| l.contains("is locked by"))
        .map_or_else(
            || "zypper's lock is held (exit 7)".to_string(),
            |line| format!("held: {line}"),
        )
}

impl Installer for Zypper {
    /// From the primary metadata of zypper's raw caches of the enabled repositories, highest
    /// priority first (zypper has no query for a package's download size).
    fn download_sizes(&self, _runner: &dyn Runner, targets: &[Target]) -> Vec<Option<u64>> {
        let mut repos: Vec<_> = super::read_repos(&self.root, &self.repositories)
            .into_iter()
            .filter(|(repo, _)| repo.enabled)
            .collect();
        repos.sort_by_key(|(repo, _)| repo.priority);
        let files: Vec<PathBuf> = repos
            .iter()
            .filter_map(|(repo, _)| super::raw_cache(&self.root, &self.repositories, &repo.id))
            .filter_map(|cache| cache.file("primary"))
            .collect();
        crate::rpm::primary::sizes_of_targets(&files, targets)
    }

    fn repair(
        &self,
        runner: &dyn Runner,
        installed: &[crate::inventory::InstalledPackage],
        _lock_timeout: Duration,
    ) -> Result<Option<String>, InstallError> {
        crate::rpm::system::repair_duplicates(runner, &self.root, installed)
    }

    fn screen_blocked(
        &self,
        runner: &dyn Runner,
        targets: Vec<Target>,
        _rejected: &PatternList,
        lock_timeout: Duration,
    ) -> Result<Screened, InstallError> {
        if targets.is_empty() || self.locks.is_empty() {
            return Ok((targets, Vec::new()));
        }
        self.with_locks(runner, lock_timeout, || {
            crate::install::split_blocked(targets, |some| {
                self.needs_locked(runner, some, lock_timeout)
            })
        })
    }

    fn download(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<(), InstallError> {
        let spec = self.update_command(targets, false, true)?;
        self.with_locks(runner, lock_timeout, || {
            self.checked(runner, &spec, lock_timeout).map(|_| ())
        })
    }

    fn install(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<(), InstallError> {
        let spec = self.update_command(targets, false, false)?;
        let (_, exit) = self.with_locks(runner, lock_timeout, || {
            self.checked(runner, &spec, lock_timeout)
        })?;
        let mut reboot = self.reboot.borrow_mut();
        reboot.0 |= exit == ZypperExit::RebootNeeded;
        for target in targets {
            let key = (
                target.name.clone(),
                target.arch.clone(),
                target.version.clone(),
            );
            if self.reboot_suggested.contains(&key) && !reboot.1.contains(&target.name) {
                reboot.1.push(target.name.clone());
            }
        }
        Ok(())
    }

    fn reboot_required(
        &self,
        runner: &dyn Runner,
        boot: Option<DateTime<Utc>>,
    ) -> Option<Vec<String>> {
        let (exit_102, flagged) = self.reboot.borrow().clone();
        let mut names = flagged;
        for name in
            crate::rpm::reboot::native_reboot_rule(runner, &self.root, boot).unwrap_or_default()
        {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        if !names.is_empty() {
            return Some(names);
        }
        let spec = super::zypper(&self.root, &self.repositories, false)
            .arg("needs-rebooting")
            .timeout(Duration::from_secs(60));
        let asked = runner
            .run(&spec)
            .is_ok_and(|c| ZypperExit::from_code(c.code) == ZypperExit::RebootNeeded);
        (exit_102 || asked).then(Vec::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_exact_and_validated() {
        let zypper = Zypper::new(Path::new("/r"), Vec::new(), Vec::new());
        let target = |name: &str, version: &str| Target {
            name: name.into(),
            arch: "x86_64".into(),
            version: version.into(),
        };
        let spec = zypper
            .update_command(&[target("a", "1.1-1"), target("b", "2:3-4")], false, false)
            .unwrap();
        assert_eq!(
            spec.to_string(),
            "`zypper --non-interactive --root /r --no-refresh update --auto-agree-with-licenses a.x86_64=1.1-1 b.x86_64=2:3-4`"
        );
        assert!(
            zypper
                .update_command(&[target("-x", "1-1")], true, false)
                .is_err()
        );
        assert!(
            zypper
                .update_command(&[target("a", "1 -1")], true, false)
                .is_err()
        );
        let lock = TransactionLock {
            name: "rej".into(),
            edition: Some("1.1-1".into()),
        };
        assert_eq!(lock.argument(), "rej = 1.1-1");
        assert_eq!(TransactionLock::from_argument("rej = 1.1-1"), Some(lock));
        assert_eq!(TransactionLock::from_argument("--rm = 1"), None);
        assert_eq!(TransactionLock::from_argument("rej = 1;rm"), None);
    }

    #[test]
    fn every_exit_code_has_a_meaning() {
        for code in [0, 100, 101, 102, 106] {
            assert!(ZypperExit::from_code(Some(code)).succeeded(), "{code}");
        }
        for code in [1, 2, 3, 4, 5, 6, 7, 8, 103, 104, 105, 107, 42] {
            assert!(!ZypperExit::from_code(Some(code)).succeeded(), "{code}");
        }
        assert_eq!(ZypperExit::from_code(None), ZypperExit::Unknown(None));
        let captured = Captured {
            code: Some(7),
            signal: None,
            stdout: Vec::new(),
            stderr: b"System management is locked by the application with pid 1617 (sleep).\nClose this application before trying again.\n".to_vec(),
        };
        assert_eq!(
            lock_message(&captured),
            "held: System management is locked by the application with pid 1617 (sleep)."
        );
        // As a real SLES zypper printed it (Azure LinuxPatchExtension's recorded output).
        let recorded = std::fs::read(format!(
            "{}/fixtures/zypper/azure-lpe-047-zypper-locked.txt",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let captured = Captured {
            code: Some(7),
            signal: None,
            stdout: Vec::new(),
            stderr: recorded,
        };
        assert!(lock_message(&captured).contains("pid 7914 (/usr/bin/zypper)"));
    }
}
