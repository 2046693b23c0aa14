//! Applying an install plan with apt: exact `name[:arch]=version` arguments, validated before
//! they reach argv; a simulation first so that packages rejected with `BLOCK` never come in as
//! dependencies; `DEBIAN_FRONTEND=noninteractive` and the conffile policy `--force-confdef
//! --force-confold` unless the administrator configured one; a bounded wait for dpkg's lock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::exec::{Captured, CommandSpec, ExecError, Runner};
use crate::install::{InstallError, Installer, Screened, Target};
use crate::model::{Family, is_valid_package_name};
use crate::pattern::{PackageRef, PatternList};

/// The apt argument: `name=version`, or `name:arch=version` for architecture-specific
/// packages.
fn argument(target: &Target) -> String {
    if target.arch == "all" {
        format!("{}={}", target.name, target.version)
    } else {
        format!("{}:{}={}", target.name, target.arch, target.version)
    }
}

/// Builds apt commands for the system under a root.
#[derive(Debug, Clone)]
pub struct Apt {
    root: PathBuf,
    /// The repository options (baseline sources), before the verb.
    repository_options: Vec<std::ffi::OsString>,
}

impl Apt {
    /// Commands for the system under `root` (`/` for the host).
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            repository_options: Vec::new(),
        }
    }

    /// The same commands with the repositories of `repositories` (apt's options for the
    /// private directory of baseline sources).
    #[must_use]
    pub fn with_repositories(mut self, repositories: &crate::repositories::Repositories) -> Self {
        self.repository_options = repositories.apt_options();
        self
    }

    fn base(&self, tool: &str) -> CommandSpec {
        let mut spec = CommandSpec::new(tool).env("DEBIAN_FRONTEND", "noninteractive");
        if self.root != Path::new("/") {
            let mut dir = std::ffi::OsString::from("Dir=");
            dir.push(self.root.as_os_str());
            dir.push("/");
            let mut status = std::ffi::OsString::from("Dir::State::status=");
            status.push(self.root.join("var/lib/dpkg/status"));
            let mut dpkg_root = std::ffi::OsString::from("DPkg::Options::=--root=");
            dpkg_root.push(self.root.as_os_str());
            // dpkg's log is not under `--root`: the host's `dpkg.cfg` names `/var/log/dpkg.log`,
            // which would record the root's upgrades as the host's.
            let mut dpkg_log = std::ffi::OsString::from("DPkg::Options::=--log=");
            dpkg_log.push(self.root.join("var/log/dpkg.log"));
            spec = spec
                .arg("-o")
                .arg(dir)
                .arg("-o")
                .arg(status)
                .arg("-o")
                .arg(dpkg_root)
                .arg("-o")
                .arg(dpkg_log);
        }
        for option in &self.repository_options {
            spec = spec.arg(option);
        }
        spec
    }

    /// `apt-get update`.
    pub fn update(&self, timeout: Duration) -> CommandSpec {
        self.base("apt-get")
            .arg("-q")
            .arg("update")
            .timeout(timeout)
    }

    /// `apt-config dump`: to see whether the administrator set a conffile policy.
    pub fn config_dump(&self) -> CommandSpec {
        self.base("apt-config").arg("dump")
    }

    fn install_command(
        &self,
        targets: &[Target],
        simulate: bool,
        conffile_policy: bool,
        lock_timeout: Duration,
    ) -> Result<CommandSpec, InstallError> {
        let mut spec = self.base("apt-get").arg("-q").arg("-y");
        if simulate {
            spec = spec.arg("-s");
        }
        spec = spec
            .arg("-o")
            .arg(format!("DPkg::Lock::Timeout={}", lock_timeout.as_secs()));
        if conffile_policy {
            spec = spec
                .arg("-o")
                .arg("DPkg::Options::=--force-confdef")
                .arg("-o")
                .arg("DPkg::Options::=--force-confold");
        }
        spec = spec.arg("install").arg("--only-upgrade").arg("--");
        for target in targets {
            let valid_version = !target.version.is_empty()
                && target
                    .version
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".+~:-".contains(&b));
            let valid_arch = target
                .arch
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !is_valid_package_name(&target.name) || !valid_version || !valid_arch {
                return Err(InstallError::Invalid(argument(target)));
            }
            spec = spec.arg(argument(target));
        }
        Ok(spec.timeout(lock_timeout + Duration::from_secs(3600)))
    }

    /// Whether `apt-config dump` shows a conffile policy (`--force-conf…`) set by the
    /// administrator; if so we add none.
    pub fn has_conffile_policy(&self, runner: &dyn Runner) -> bool {
        runner
            .run(&self.config_dump())
            .is_ok_and(|c| String::from_utf8_lossy(&c.stdout).contains("--force-conf"))
    }

    /// The packages a simulated install of `targets` would install or upgrade, as
    /// (name, arch, version) from apt's `Inst` lines.
    pub fn simulate(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<Vec<(String, String, String)>, InstallError> {
        let spec = self.install_command(targets, true, false, lock_timeout)?;
        let captured = runner.run(&spec)?;
        check(&spec, &captured, &self.root)?;
        Ok(parse_simulation(&String::from_utf8_lossy(&captured.stdout)))
    }

    /// Downloads the packages of `targets` into apt's cache without installing anything.
    pub fn download(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<(), InstallError> {
        let mut spec = self.install_command(targets, false, false, lock_timeout)?;
        // `--download-only` goes before the `install` verb's arguments.
        let position = spec.args.iter().position(|a| a == "install").unwrap_or(0);
        spec.args.insert(position, "--download-only".into());
        let captured = runner.run(&spec)?;
        check(&spec, &captured, &self.root)
    }

    /// Installs `targets`.
    pub fn install(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<Captured, InstallError> {
        let policy = !self.has_conffile_policy(runner);
        let spec = self.install_command(targets, false, policy, lock_timeout)?;
        let captured = runner.run(&spec)?;
        check(&spec, &captured, &self.root)?;
        Ok(captured)
    }

    /// `dpkg --configure -a` with the options apt gives dpkg (`DPkg::Options`, from
    /// `apt-config dump`: the root, the administrator's own) and, unless the administrator set
    /// one, the conffile policy of our installs.
    pub fn configure_pending(&self, runner: &dyn Runner, lock_timeout: Duration) -> CommandSpec {
        let dump = runner
            .run(&self.config_dump())
            .map(|c| String::from_utf8_lossy(&c.stdout).into_owned())
            .unwrap_or_default();
        let options = dpkg_options(&dump);
        let mut spec = CommandSpec::new("dpkg")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(options.iter().cloned());
        if self.root != Path::new("/") && !options.iter().any(|o| o.starts_with("--root")) {
            spec = spec.arg(format!("--root={}", self.root.display()));
        }
        if !options.iter().any(|o| o.starts_with("--force-conf")) {
            spec = spec.args(["--force-confdef", "--force-confold"]);
        }
        spec.args(["--configure", "-a"])
            .timeout(lock_timeout + Duration::from_secs(3600))
    }

    /// Whether the OS asks for a reboot: `run/reboot-required` (Debian/Ubuntu convention), with
    /// the packages of `run/reboot-required.pkgs`.
    pub fn reboot_required(&self) -> Option<Vec<String>> {
        let flag = self.root.join("run/reboot-required");
        if !flag.exists() {
            return None;
        }
        let packages = std::fs::read_to_string(self.root.join("run/reboot-required.pkgs"))
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(ToString::to_string)
            .collect();
        Some(packages)
    }
}

fn check(spec: &CommandSpec, captured: &Captured, root: &Path) -> Result<(), InstallError> {
    if captured.code == Some(0) {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&captured.stderr);
    if let Some(line) = stderr.lines().find(|l| {
        l.contains("Could not get lock")
            || l.contains("is held by process")
            || l.contains("Unable to acquire the dpkg frontend lock")
            || l.contains("Unable to lock the administration directory")
    }) {
        let message = line.trim_start_matches("E: ").trim();
        let holder = ["var/lib/dpkg/lock-frontend", "var/lib/dpkg/lock"]
            .iter()
            .find_map(|lock| crate::install::lock_holder(&root.join(lock)));
        return Err(InstallError::Locked(match holder {
            Some((pid, command)) => format!("held by process {pid} ({command}): {message}"),
            None => message.to_string(),
        }));
    }
    if stderr.contains("dpkg was interrupted") {
        return Err(InstallError::Interrupted(
            "dpkg was interrupted by an earlier run; run `dpkg --configure -a` (as root) and try again".to_string(),
        ));
    }
    Err(ExecError::failed(spec, captured).into())
}

/// The `DPkg::Options` of an `apt-config dump`, in order (`DPkg::Options:: "--root=/x";`).
pub fn dpkg_options(dump: &str) -> Vec<String> {
    dump.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("DPkg::Options:: \"")?;
            let value = rest.strip_suffix("\";")?;
            (!value.is_empty()).then(|| value.to_string())
        })
        .fold(Vec::new(), |mut unique, option| {
            if !unique.contains(&option) {
                unique.push(option);
            }
            unique
        })
}

/// The `Inst name [old] (new origin [arch])` lines of an apt simulation.
pub fn parse_simulation(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("Inst "))
        .filter_map(|rest| {
            let name = rest.split_whitespace().next()?;
            // Only what the parentheses hold: apt may append `[dependency …]` notes after them
            // (`… [amd64]) [libpam-modules:amd64 on libpam-modules-bin:amd64] …`).
            let inside = rest.split('(').nth(1)?.split(')').next()?;
            let version = inside.split_whitespace().next()?;
            let arch = inside
                .rsplit('[')
                .next()
                .and_then(|a| a.split(']').next())
                .unwrap_or("")
                .to_string();
            let (name, arch) = match name.split_once(':') {
                Some((n, a)) => (n.to_string(), a.to_string()),
                None => (name.to_string(), arch),
            };
            (!name.is_empty()).then(|| (name, arch, version.to_string()))
        })
        .collect()
}

impl Installer for Apt {
    fn download_sizes(&self, runner: &dyn Runner, targets: &[Target]) -> Vec<Option<u64>> {
        let mut spec = self.base("apt-cache").arg("show").arg("--");
        for target in targets {
            match target.validated(format!("{}={}", target.name, target.version)) {
                Ok(argument) => spec = spec.arg(argument),
                Err(_) => return vec![None; targets.len()],
            }
        }
        let stanzas = runner
            .run(&spec.timeout(Duration::from_secs(120)))
            .map(|c| String::from_utf8_lossy(&c.stdout).into_owned())
            .unwrap_or_default();
        let sizes = parse_show_sizes(&stanzas);
        targets
            .iter()
            .map(|t| {
                sizes
                    .iter()
                    .find(|(name, version, arch, _)| {
                        *name == t.name
                            && *version == t.version
                            && (*arch == t.arch || *arch == "all")
                    })
                    .map(|(_, _, _, size)| *size)
            })
            .collect()
    }

    fn repair(
        &self,
        runner: &dyn Runner,
        _installed: &[crate::inventory::InstalledPackage],
        lock_timeout: Duration,
    ) -> Result<Option<String>, InstallError> {
        let packages = crate::apt::dpkg::read_status(&self.root)
            .map_err(|e| InstallError::Interrupted(e.to_string()))?;
        let (unfinished, journal) = crate::apt::dpkg::unfinished(&self.root, &packages);
        if unfinished.is_empty() && !journal {
            return Ok(None);
        }
        let spec = self.configure_pending(runner, lock_timeout);
        let captured = runner.run(&spec)?;
        if captured.code != Some(0) {
            let (code, tail) = captured.failure_summary();
            return Err(InstallError::Interrupted(format!(
                "dpkg was interrupted by an earlier run and {spec} could not finish its work \
                 (exit code {code}): {tail}"
            )));
        }
        Ok(Some(format!(
            "dpkg had been interrupted{}{}: finished with {spec}",
            if unfinished.is_empty() { "" } else { ": " },
            unfinished.join(", ")
        )))
    }

    fn screen_blocked(
        &self,
        runner: &dyn Runner,
        targets: Vec<Target>,
        rejected: &PatternList,
        lock_timeout: Duration,
    ) -> Result<Screened, InstallError> {
        block_rejected(self, runner, targets, rejected, lock_timeout)
    }

    fn download(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<(), InstallError> {
        Apt::download(self, runner, targets, lock_timeout)
    }

    fn install(
        &self,
        runner: &dyn Runner,
        targets: &[Target],
        lock_timeout: Duration,
    ) -> Result<(), InstallError> {
        Apt::install(self, runner, targets, lock_timeout).map(|_| ())
    }

    fn reboot_required(
        &self,
        _runner: &dyn Runner,
        _boot: Option<DateTime<Utc>>,
    ) -> Option<Vec<String>> {
        Apt::reboot_required(self)
    }
}

/// Splits `targets` into those that can be installed and those whose installation would bring
/// in a package that `rejected` names (BLOCK), with the rejected package that blocks each.
pub fn block_rejected(
    apt: &Apt,
    runner: &dyn Runner,
    targets: Vec<Target>,
    rejected: &PatternList,
    lock_timeout: Duration,
) -> Result<Screened, InstallError> {
    let is_rejected = |(name, arch, version): &(String, String, String)| {
        rejected
            .match_package(
                Family::Apt,
                PackageRef {
                    name,
                    arch,
                    version,
                },
            )
            .is_some()
    };
    if targets.is_empty() || rejected.is_empty() {
        return Ok((targets, Vec::new()));
    }
    let all = apt.simulate(runner, &targets, lock_timeout)?;
    if !all.iter().any(&is_rejected) {
        return Ok((targets, Vec::new()));
    }
    let mut allowed = Vec::new();
    let mut blocked = Vec::new();
    for target in targets {
        let alone = apt.simulate(runner, std::slice::from_ref(&target), lock_timeout)?;
        match alone.iter().find(|i| is_rejected(i)) {
            Some((name, _, version)) => blocked.push((target, format!("{name} {version}"))),
            None => allowed.push(target),
        }
    }
    Ok((allowed, blocked))
}

/// (package, version, architecture, size) of every stanza `apt-cache show` printed that has
/// all four.
fn parse_show_sizes(text: &str) -> Vec<(String, String, String, u64)> {
    text.split("\n\n")
        .filter_map(|stanza| {
            let field = |name: &str| {
                stanza.lines().find_map(|line| {
                    line.strip_prefix(name)
                        .and_then(|rest| rest.strip_prefix(':'))
                        .map(|value| value.trim().to_string())
                })
            };
            Some((
                field("Package")?,
                field("Version")?,
                field("Architecture")?,
                field("Size")?.parse().ok()?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `Inst :amd64 …` line (no name before the colon) is no install; it gave a row with
    /// an empty package name. Found by `cargo fuzz` (target `apt_simulation`).
    #[test]
    fn fuzz_simulation_line_without_a_name() {
        let text = include_str!("../../fixtures/fuzz/apt_simulation-crash-a32c8f5d");
        let rows = parse_simulation(text);
        assert!(rows.iter().all(|(name, _, _)| !name.is_empty()), "{rows:?}");
        assert!(parse_simulation("Inst :amd64 (1.0 Debian:12/stable [amd64])\n").is_empty());
    }

    #[test]
    fn dpkg_options_are_read_from_apt_config_dump_once_each() {
        let dump = "DPkg \"\";\nDPkg::Options \"\";\nDPkg::Options:: \"--root=/r\";\n\
                    DPkg::Options:: \"--force-confold\";\nDPkg::Options:: \"--root=/r\";\n\
                    DPkg::Lock::Timeout \"5\";\n";
        assert_eq!(dpkg_options(dump), ["--root=/r", "--force-confold"]);
        assert!(dpkg_options("").is_empty());
    }

    #[test]
    fn unfinished_packages_are_named_with_their_state() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"Package: a\nStatus: install ok installed\nVersion: 1\n\n\
                     Package: b\nStatus: install ok half-configured\nVersion: 2\n\n\
                     Package: c\nStatus: install reinstreq half-installed\nVersion: 3\n";
        let packages = crate::apt::dpkg::parse_status(text).unwrap();
        assert_eq!(
            crate::apt::dpkg::unfinished(dir.path(), &packages),
            (
                vec![
                    "b (half-configured)".to_string(),
                    "c (half-installed)".to_string()
                ],
                false
            )
        );
        std::fs::create_dir_all(dir.path().join("var/lib/dpkg/updates")).unwrap();
        std::fs::write(dir.path().join("var/lib/dpkg/updates/tmp.i"), "").unwrap();
        assert!(!crate::apt::dpkg::unfinished(dir.path(), &packages[..1]).1);
        std::fs::write(dir.path().join("var/lib/dpkg/updates/0001"), "").unwrap();
        assert!(crate::apt::dpkg::unfinished(dir.path(), &packages[..1]).1);
    }

    #[test]
    fn simulation_lines() {
        let out = "Reading package lists...\nInst libssl3 [3.0.15-1~deb12u1] (3.0.17-1~deb12u3 Debian-Security:12/oldstable-security [amd64])\n\
                   Inst foo:i386 [1] (2 Debian:12 [i386]) []\n\
                   Inst libpam-modules-bin [1.5.2-6+deb12u2] (1.5.2-6+deb12u3 Debian-Security:12/oldstable-security [amd64]) [libpam-modules:amd64 on libpam-modules-bin:amd64] [libpam-modules:amd64 ]\n\
                   Conf libssl3 (3.0.17-1~deb12u3 Debian-Security:12/oldstable-security [amd64])\n";
        assert_eq!(
            parse_simulation(out),
            vec![
                ("libssl3".into(), "amd64".into(), "3.0.17-1~deb12u3".into()),
                ("foo".into(), "i386".into(), "2".into()),
                (
                    "libpam-modules-bin".into(),
                    "amd64".into(),
                    "1.5.2-6+deb12u3".into()
                )
            ]
        );
    }

    #[test]
    fn an_alternate_root_keeps_dpkg_and_its_log_inside() {
        let spec = Apt::new(Path::new("/mnt/image")).update(Duration::from_secs(1));
        let args: Vec<String> = spec
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for option in [
            "Dir=/mnt/image/",
            "Dir::State::status=/mnt/image/var/lib/dpkg/status",
            "DPkg::Options::=--root=/mnt/image",
            "DPkg::Options::=--log=/mnt/image/var/log/dpkg.log",
        ] {
            let at = args
                .iter()
                .position(|a| a == option)
                .unwrap_or_else(|| panic!("{option} in {args:?}"));
            assert_eq!(args[at - 1], "-o");
        }
        let host = Apt::new(Path::new("/")).update(Duration::from_secs(1));
        assert!(
            !host
                .args
                .iter()
                .any(|a| a.to_string_lossy().contains("--log="))
        );
    }

    #[test]
    fn arguments_are_validated() {
        let apt = Apt::new(Path::new("/"));
        let bad = Target {
            name: "-o".into(),
            arch: "all".into(),
            version: "1".into(),
        };
        assert!(matches!(
            apt.install_command(&[bad], true, false, Duration::from_secs(1)),
            Err(InstallError::Invalid(_))
        ));
        let odd = Target {
            name: "ok".into(),
            arch: "all".into(),
            version: "1;rm".into(),
        };
        assert!(
            apt.install_command(&[odd], true, false, Duration::from_secs(1))
                .is_err()
        );
        let good = Target {
            name: "libssl3".into(),
            arch: "amd64".into(),
            version: "3.0.17-1~deb12u3".into(),
        };
        let spec = apt
            .install_command(&[good], false, true, Duration::from_secs(5))
            .unwrap();
        let text = spec.to_string();
        assert!(
            text.ends_with("install --only-upgrade -- libssl3:amd64=3.0.17-1~deb12u3`"),
            "{text}"
        );
        assert!(text.contains("DPkg::Options::=--force-confold"));
    }
}
