//! Applying an install plan with dnf (or classic yum): exact `name-epoch:version-release.arch`
//! arguments, validated before they reach argv, in one `upgrade` transaction; the available
//! versions that `RejectedPatches` names passed as `--exclude` under `BLOCK`, so that they
//! cannot come in as dependencies; the host's own excludes and versionlock left in force; a
//! bounded wait for dnf's and rpm's locks that names the holder; and the reboot question
//! answered by `needs-restarting -r` on the host or the same rule natively.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::exec::{Captured, CommandSpec, ExecError, Runner};
use crate::install::{InstallError, Installer, Screened, Target, is_safe_version};
use crate::pattern::PatternList;

/// The tool that runs the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// dnf 4 (and yum 4, which is dnf).
    Dnf,
    /// Classic yum 3 (Amazon Linux 2, EL7).
    Yum,
}

/// Builds and runs dnf or yum commands for the system under a root.
#[derive(Debug, Clone)]
pub struct Dnf {
    root: PathBuf,
    tool: Tool,
    /// Exact NEVRAs to exclude from every transaction (rejected with `BLOCK`).
    excludes: Vec<String>,
    /// The repository options (baseline sources).
    repository_options: Vec<std::ffi::OsString>,
}

/// The dnf/yum argument for a package: `name-epoch:version-release.arch` (epoch 0 written out).
pub fn nevra(name: &str, arch: &str, version: &str) -> String {
    if version.contains(':') {
        format!("{name}-{version}.{arch}")
    } else {
        format!("{name}-0:{version}.{arch}")
    }
}

impl Dnf {
    /// Commands for the system under `root`, excluding `excludes` (exact NEVRAs) from every
    /// transaction.
    pub fn new(root: &Path, tool: Tool, excludes: Vec<String>) -> Self {
        Self {
            root: root.to_path_buf(),
            tool,
            excludes,
            repository_options: Vec::new(),
        }
    }

    /// The same commands with the repositories of `repositories` (the private directory of
    /// baseline sources).
    #[must_use]
    pub fn with_repositories(mut self, repositories: &crate::repositories::Repositories) -> Self {
        self.repository_options = repositories.rpm_options();
        self
    }

    fn base(&self) -> CommandSpec {
        let (program, root_flag) = match self.tool {
            Tool::Dnf => ("dnf", "--installroot="),
            Tool::Yum => ("yum", "--installroot="),
        };
        let mut spec = CommandSpec::new(program);
        if self.root != Path::new("/") {
            let mut argument = std::ffi::OsString::from(root_flag);
            argument.push(self.root.as_os_str());
            spec = spec.arg(argument);
        }
        if self.tool == Tool::Dnf {
            // Fail at once when another dnf holds a lock; we wait ourselves, with a bound.
            spec = spec.arg("--setopt=exit_on_lock=True");
        }
        spec.args(&self.repository_options)
    }

    /// The `upgrade` command for `targets`; `assume_no` makes it a dry run, `download_only`
    /// only fetches.
    pub fn upgrade_command(
        &self,
        targets: &[Target],
        assume_no: bool,
        download_only: bool,
    ) -> Result<CommandSpec, InstallError> {
        let mut spec = self.base();
        spec = spec.arg(if assume_no { "--assumeno" } else { "-y" });
        if download_only {
            spec = spec.arg("--downloadonly");
        }
        if self.tool == Tool::Dnf {
            // A target that cannot be installed is left out (and reported Failed after the
            // re-scan) rather than failing the whole transaction, whatever `best` says.
            spec = spec.arg("--setopt=best=False").arg("--skip-broken");
        }
        for exclude in &self.excludes {
            if !is_safe_version(exclude) {
                return Err(InstallError::Invalid(exclude.clone()));
            }
            spec = spec.arg(format!("--exclude={exclude}"));
        }
        // yum 3's `update` with a full NEVRA updates to exactly that version, as dnf's
        // `upgrade` does.
        spec = spec.arg(match self.tool {
            Tool::Dnf => "upgrade",
            Tool::Yum => "update",
        });
        for target in targets {
            spec =
                spec.arg(target.validated(nevra(&target.name, &target.arch, &target.version))?);
        }
        Ok(spec.timeout(Duration::from_secs(3600)))
    }

    /// Runs `spec`, waiting up to `lock_timeout` while another process holds dnf's or rpm's
    /// lock; then gives up naming the holder.
    pub fn run_locked(
        &self,
        runner: &dyn Runner,
        spec: &CommandSpec,
        lock_timeout: Duration,
    ) -> Result<Captured, InstallError> {
        crate::install::wait_for_locks(&self.root, lock_timeout, || {
            if self.tool == Tool::Yum
                && let Some((pid, command)) = crate::dnf::yum::lock_holder(&self.root)
            {
                return Ok(Err(format!(
                    "held by process {pid} ({command}): yum's lock (var/run/yum.pid)"
                )));
            }
            let captured = runner.run(spec)?;
            Ok(if is_lock_failure(&captured) {
                Err(lock_message(&captured))
            } else {
                Ok(captured)
            })
        })
    }

    fn checked(
        &self,
        runner: &dyn Runner,
        spec: &CommandSpec,
        lock_timeout: Duration,
    ) -> Result<Captured, InstallError> {
        let captured = self.run_locked(runner, spec, lock_timeout)?;
        if captured.code == Some(0) {
            Ok(captured)
        } else {
            Err(ExecError::failed(spec, &captured).into())
        }
    }

    /// The package of `self.excludes` that a dry run of `targets` needs, if any (dnf says
    /// "package X is filtered out by exclude filtering" for it).
    fn needs_excluded(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<Option<String>, InstallError> {
        let spec = self.upgrade_command(targets, true, false)?;
        let captured = self.run_locked(runner, &spec, lock_timeout)?;
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&captured.stdout),
            String::from_utf8_lossy(&captured.stderr)
        );
        let ours = |package: &str| {
            self.excludes
                .iter()
                .any(|e| e == package || e.replacen("-0:", "-", 1) == package)
        };
        Ok(text
            .lines()
            .filter_map(|l| {
                l.split("package ")
                    .nth(1)?
                    .strip_suffix(" is filtered out by exclude filtering")
            })
            .find(|package| ours(package))
            .map(str::to_string))
    }

    /// The native reboot rule for this root (see [`crate::rpm::reboot::native_reboot_rule`]).
    pub fn native_reboot_rule(
        &self,
        runner: &dyn Runner,
        boot: Option<DateTime<Utc>>,
    ) -> Option<Vec<String>> {
        crate::rpm::reboot::native_reboot_rule(runner, &self.root, boot)
    }
}

/// Whether dnf stopped because another process holds one of its locks (`exit_on_lock`: exit
/// 200), or yum said it is waiting for its lock.
fn is_lock_failure(captured: &Captured) -> bool {
    captured.code == Some(200)
        || String::from_utf8_lossy(&captured.stderr).contains("Another app is currently holding")
}

/// dnf's or yum's own words about the lock, with the holder's command.
fn lock_message(captured: &Captured) -> String {
    let stderr = String::from_utf8_lossy(&captured.stderr);
    let line = stderr
        .lines()
        .map(str::trim)
        .find(|l| l.contains("locked by") || l.contains("holding"))
        .unwrap_or("another package manager runs");
    let pid = line
        .split(|c: char| !c.is_ascii_digit())
        .rfind(|s| !s.is_empty())
        .and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) => {
            let command = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map_or_else(|_| "?".to_string(), |c| c.trim().to_string());
            format!("held by process {pid} ({command}): {line}")
        }
        None => line.to_string(),
    }
}

impl Installer for Dnf {
    fn download_sizes(&self, runner: &dyn Runner, targets: &[Target]) -> Vec<Option<u64>> {
        if targets.is_empty() {
            return Vec::new();
        }
        // Classic yum has no `repoquery` verb: its cached primary metadata says it.
        if self.tool != Tool::Dnf {
            let files: Vec<PathBuf> = if self.repository_options.is_empty() {
                crate::rpm::repos::cached_repos(
                    &self.root,
                    &crate::repositories::Repositories::Host,
                )
                .iter()
                .filter_map(|cache| cache.file("primary"))
                .collect()
            } else {
                // Baseline sources: their private cache is not known here.
                Vec::new()
            };
            return crate::rpm::primary::sizes_of_targets(&files, targets);
        }
        let mut spec = self
            .base()
            .arg("-q")
            .arg("repoquery")
            .arg("--qf")
            .arg("%{name} %{arch} %{epoch}:%{version}-%{release} %{downloadsize}");
        for target in targets {
            match target.validated(nevra(&target.name, &target.arch, &target.version)) {
                Ok(argument) => spec = spec.arg(argument),
                Err(_) => return vec![None; targets.len()],
            }
        }
        let text = runner
            .run(&spec.timeout(Duration::from_secs(300)))
            .map(|c| String::from_utf8_lossy(&c.stdout).into_owned())
            .unwrap_or_default();
        let rows: Vec<(&str, &str, &str, u64)> = text
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let row = (
                    words.next()?,
                    words.next()?,
                    words.next()?,
                    words.next()?.parse().ok()?,
                );
                Some(row)
            })
            .collect();
        targets
            .iter()
            .map(|t| {
                let version = if t.version.contains(':') {
                    t.version.clone()
                } else {
                    format!("0:{}", t.version)
                };
                rows.iter()
                    .find(|(name, arch, evr, _)| {
                        *name == t.name && *arch == t.arch && *evr == version
                    })
                    .map(|(_, _, _, size)| *size)
            })
            .collect()
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
        if targets.is_empty() || self.excludes.is_empty() {
            return Ok((targets, Vec::new()));
        }
        crate::install::split_blocked(targets, |some| {
            self.needs_excluded(runner, some, lock_timeout)
        })
    }

    fn download(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<(), InstallError> {
        let spec = self.upgrade_command(targets, false, true)?;
        self.checked(runner, &spec, lock_timeout).map(|_| ())
    }

    fn install(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<(), InstallError> {
        let spec = self.upgrade_command(targets, false, false)?;
        self.checked(runner, &spec, lock_timeout).map(|_| ())
    }

    fn reboot_required(
        &self,
        runner: &dyn Runner,
        boot: Option<DateTime<Utc>>,
    ) -> Option<Vec<String>> {
        // On the host, the distribution's own tool decides when it is there.
        if self.root == Path::new("/") {
            let spec = CommandSpec::new("needs-restarting")
                .arg("-r")
                .timeout(Duration::from_secs(60));
            if let Ok(captured) = runner.run(&spec) {
                match captured.code {
                    Some(0) => return None,
                    Some(1) => {
                        let names: Vec<String> = String::from_utf8_lossy(&captured.stdout)
                            .lines()
                            .filter_map(|l| l.trim().split_once(" -> "))
                            .map(|(name, _)| name.trim().to_string())
                            .collect();
                        return Some(names);
                    }
                    _ => {}
                }
            }
        }
        self.native_reboot_rule(runner, boot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runner for installers that must not run anything.
    struct NoRunner;

    impl Runner for NoRunner {
        fn run(&self, spec: &CommandSpec) -> Result<Captured, ExecError> {
            panic!("ran {spec:?}")
        }
    }

    #[test]
    fn classic_yum_sizes_come_from_its_cached_primary() {
        // yum's cache layout (`var/cache/yum/<basearch>/<releasever>/<id>/`) holding libzypp's
        // real test primary (fixtures/fuzz/PROVENANCE.md); yum is never asked.
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("var/cache/yum/x86_64/2/amzn2-core");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(
            repo.join("repomd.xml"),
            r#"<repomd><data type="primary"><location href="repodata/p-primary.xml.gz"/></data></repomd>"#,
        )
        .unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/fuzz/seeds/primary/libzypp-Delta-primary.xml.gz"),
            repo.join("p-primary.xml.gz"),
        )
        .unwrap();
        let target = |arch: &str, version: &str| Target {
            name: "aaa_base".into(),
            arch: arch.into(),
            version: version.into(),
        };
        let targets = [
            target("i586", "11.0-51"),
            target("x86_64", "0:11.0-51"),
            target("x86_64", "11.0-52"),
        ];
        let yum = Dnf::new(root.path(), Tool::Yum, Vec::new());
        assert_eq!(
            yum.download_sizes(&NoRunner, &targets),
            [Some(144_887), Some(145_086), None]
        );
        assert!(yum.download_sizes(&NoRunner, &[]).is_empty());
    }

    #[test]
    fn arguments_are_exact_and_validated() {
        let dnf = Dnf::new(Path::new("/r"), Tool::Dnf, vec!["rej-0:2-1.noarch".into()]);
        let target = |name: &str, version: &str| Target {
            name: name.into(),
            arch: "x86_64".into(),
            version: version.into(),
        };
        let spec = dnf
            .upgrade_command(&[target("a", "1.1-1"), target("b", "2:3-4")], false, false)
            .unwrap();
        assert_eq!(
            spec.to_string(),
            "`dnf --installroot=/r --setopt=exit_on_lock=True -y --setopt=best=False --skip-broken --exclude=rej-0:2-1.noarch upgrade a-0:1.1-1.x86_64 b-2:3-4.x86_64`"
        );
        assert!(
            dnf.upgrade_command(&[target("-x", "1-1")], true, false)
                .is_err()
        );
        assert!(
            dnf.upgrade_command(&[target("a", "1 -1")], true, false)
                .is_err()
        );
        let bad = Dnf::new(Path::new("/"), Tool::Yum, vec!["--setopt=x".into()]);
        assert!(
            bad.upgrade_command(&[target("a", "1-1")], true, false)
                .is_err()
        );
        let yum = Dnf::new(Path::new("/"), Tool::Yum, Vec::new());
        assert_eq!(
            yum.upgrade_command(&[target("a", "1-1")], false, true)
                .unwrap()
                .to_string(),
            "`yum -y --downloadonly update a-0:1-1.x86_64`"
        );
    }

    #[test]
    fn lock_messages_name_the_pid() {
        let captured = Captured {
            code: Some(200),
            signal: None,
            stdout: Vec::new(),
            stderr: b"RPMDB already locked by 4242\n".to_vec(),
        };
        assert!(is_lock_failure(&captured));
        assert!(lock_message(&captured).starts_with("held by process 4242 "));
    }
}
