//! The zypper backend (SLES, SLES for SAP, openSUSE Leap and Tumbleweed).
//!
//! A scan reads natively what zypper itself reads: the enabled repositories and their
//! priorities (`etc/zypp/repos.d`), each repository's raw metadata as zypper keeps it
//! (`var/cache/zypp/raw/<alias>/repodata`: `primary` for the package editions, `updateinfo` for
//! the patches — category, severity, dates, references, reboot flag and the package editions
//! each brings), the package locks (`etc/zypp/locks`, see [`locks`]) and rpm's database (shared
//! with the dnf backend). No zypper process runs. When a repository has no raw rpm-md cache
//! (another repository type, a relocated cache) the scan asks zypper instead (see [`xml`]):
//! `search -s -t package`, `list-patches --all` and `info -t patch`. Installing is in
//! [`install`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exec::{CommandSpec, ExecError, Runner};
use crate::inventory::{Advisory, InstalledPackage, Inventory};
use crate::model::PackageManagerKind;
use crate::platform::Platform;
use crate::repositories::Repositories;
use crate::rpm::cache::{MetadataCache, Notice};
use crate::rpm::primary::PrimaryPackage;
use crate::rpm::repos::{CachedRepo, Config, Native, Offered, RepoConfig};
use crate::rpm::system::AvailableFrom;
use crate::rpm::updateinfo::UpdateinfoError;

pub mod install;
pub mod locks;
pub mod xml;

/// A zypper scan that could not read the system.
#[derive(Debug, thiserror::Error)]
pub enum ZypperError {
    /// rpm or zypper could not run, failed, or did not finish in time.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// Cached metadata that cannot be read.
    #[error(transparent)]
    Metadata(#[from] UpdateinfoError),
    /// zypper's machine output that cannot be read.
    #[error(transparent)]
    Xml(#[from] xml::ZypperXmlError),
}

impl From<crate::rpm::system::RpmError> for ZypperError {
    fn from(error: crate::rpm::system::RpmError) -> Self {
        match error {
            crate::rpm::system::RpmError::Exec(e) => Self::Exec(e),
            crate::rpm::system::RpmError::Updateinfo(e) => Self::Metadata(e),
        }
    }
}

/// A zypper command for the system under `root`: `--non-interactive`, `--xmlout` when asked,
/// `--root` unless the root is `/`, and the private directories of baseline sources.
pub fn zypper(root: &Path, repositories: &Repositories, xml: bool) -> CommandSpec {
    let mut spec = CommandSpec::new("zypper").arg("--non-interactive");
    if xml {
        spec = spec.arg("--xmlout");
    }
    if root != Path::new("/") {
        spec = spec.arg("--root").arg(root.as_os_str());
    }
    spec.args(repositories.zypper_options())
}

/// `zypper --xmlout refresh`, bounded by `timeout`. With baseline sources, their repositories
/// are named: a refresh without names would also refresh the machine's services.
pub fn refresh(root: &Path, repositories: &Repositories, timeout: Duration) -> CommandSpec {
    let mut spec = zypper(root, repositories, true).arg("refresh");
    if let Some(private) = repositories.private() {
        spec = spec.args(private.enabled());
    }
    spec.timeout(timeout)
}

/// What a `zypper refresh` that did not succeed says, one warning per failed repository
/// (named), or the whole reason when no repository is named.
pub fn refresh_warnings(code: Option<i32>, output: &str) -> Vec<String> {
    if code == Some(0) {
        return Vec::new();
    }
    let messages = xml::parse_messages(output);
    let mut warnings: Vec<String> = Vec::new();
    for (index, (kind, text)) in messages.iter().enumerate() {
        if kind != "error" {
            continue;
        }
        if let Some(repo) = text
            .strip_prefix("Skipping repository '")
            .and_then(|rest| rest.split_once('\'').map(|(repo, _)| repo))
        {
            // The error before it says why.
            let why = index
                .checked_sub(1)
                .and_then(|before| messages.get(before))
                .filter(|(kind, _)| kind == "error")
                .and_then(|(_, text)| text.lines().nth(1).or_else(|| text.lines().next()))
                .unwrap_or("failed")
                .trim();
            warnings.push(format!(
                "metadata refresh: repository `{repo}` failed ({why}); its cached metadata is used"
            ));
        }
    }
    if warnings.is_empty() {
        let reason = messages
            .iter()
            .filter(|(kind, _)| kind == "error")
            .map(|(_, text)| text.lines().next().unwrap_or("").trim())
            .collect::<Vec<_>>()
            .join("; ");
        warnings.push(format!(
            "metadata refresh: zypper refresh exited with {}{}{}; scanning with the cache it has",
            code.map_or_else(|| "a signal".to_string(), |c| c.to_string()),
            if reason.is_empty() { "" } else { ": " },
            reason
        ));
    }
    warnings
}

/// The repositories of `etc/zypp/repos.d`, or of the private directory of baseline sources
/// (alias, `enabled`, `priority` — default 99, lower wins) and the `type` of each.
pub fn read_repos(root: &Path, repositories: &Repositories) -> Vec<(RepoConfig, String)> {
    let dir = repositories.private().map_or_else(
        || root.join("etc/zypp/repos.d"),
        crate::repositories::PrivateRepositories::repos_dir,
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "repo"))
        .collect();
    files.sort();
    let mut repos: Vec<(RepoConfig, String)> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (section, key, value) in crate::rpm::repos::ini(&text) {
            let index = if let Some(index) = repos.iter().position(|(r, _)| r.id == section) {
                index
            } else {
                repos.push((
                    RepoConfig {
                        id: section.clone(),
                        enabled: true,
                        priority: 99,
                        excludes: Vec::new(),
                        includes: Vec::new(),
                    },
                    String::new(),
                ));
                repos.len() - 1
            };
            let (repo, kind) = &mut repos[index];
            match key.as_str() {
                "enabled" => repo.enabled = crate::rpm::repos::truthy(&value),
                "priority" => repo.priority = value.trim().parse().unwrap_or(99),
                "type" => *kind = value.trim().to_ascii_lowercase(),
                _ => {}
            }
        }
    }
    repos
}

/// The raw rpm-md cache of a repository alias, if zypper keeps one.
pub(crate) fn raw_cache(
    root: &Path,
    repositories: &Repositories,
    alias: &str,
) -> Option<CachedRepo> {
    let raw = repositories
        .private()
        .map_or_else(
            || root.join("var/cache/zypp"),
            crate::repositories::PrivateRepositories::cache_dir,
        )
        .join("raw");
    let repodata = raw.join(alias).join("repodata");
    let repomd = std::fs::read_to_string(repodata.join("repomd.xml")).ok()?;
    Some(CachedRepo {
        id: alias.to_string(),
        repodata,
        repomd,
    })
}

/// The `[epoch:]version-release` of an edition split into its parts.
fn split_edition(edition: &str) -> (&str, &str, &str) {
    let (epoch, rest) = match edition.split_once(':') {
        Some((epoch, rest)) => (epoch, rest),
        None => ("0", edition),
    };
    let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
    (epoch, version, release)
}

/// What zypper's repositories say: every offered package and the patches.
struct Metadata {
    offered: Vec<Offered>,
    notices: Vec<Notice>,
    warning: Option<String>,
}

/// Every offered package, and the patches.
type Read = (Vec<Offered>, Vec<Notice>);

/// Reads the enabled repositories' raw caches natively; `None` (with the reason) when one has
/// none that this reader understands.
fn read_native(
    root: &Path,
    repositories: &Repositories,
    cache: &MetadataCache,
) -> Result<Result<Read, String>, ZypperError> {
    let repos = read_repos(root, repositories);
    let mut cached = Vec::new();
    for (repo, kind) in repos.iter().filter(|(r, _)| r.enabled) {
        if !kind.is_empty() && kind != "rpm-md" {
            return Ok(Err(format!("repository `{}` is of type `{kind}`", repo.id)));
        }
        match raw_cache(root, repositories, &repo.id) {
            Some(found) => cached.push(found),
            None => {
                return Ok(Err(format!(
                    "repository `{}` has no raw metadata in zypper's raw cache",
                    repo.id
                )));
            }
        }
    }
    let config = Config {
        repos: repos.into_iter().map(|(r, _)| r).collect(),
        ..Config::default()
    };
    let files: Vec<PathBuf> = cached
        .iter()
        .filter_map(|c| c.file("updateinfo"))
        .filter(|f| f.exists())
        .collect();
    let (native, notices) = cache.updateinfo_beside(&files, || {
        crate::rpm::repos::available_in(&config, &cached, std::env::consts::ARCH, cache)
            .map_err(ZypperError::from)
    })?;
    Ok(match native {
        Native::Available { packages } => Ok((packages, notices)),
        Native::Unsupported(reason) => Err(reason),
    })
}

fn xml_output(runner: &dyn Runner, spec: &CommandSpec) -> Result<String, ZypperError> {
    let captured = runner.run(spec)?;
    // 104: nothing found; 106: some repositories skipped (their cache still counts).
    if !matches!(captured.code, Some(0 | 104 | 106)) {
        return Err(ExecError::failed(spec, &captured).into());
    }
    Ok(String::from_utf8_lossy(&captured.stdout).into_owned())
}

/// Asks zypper: the package editions of `search -s -t package`, the patches of
/// `list-patches --all`, and the editions each patch brings from `info -t patch`.
fn read_with_zypper(
    runner: &dyn Runner,
    root: &Path,
    repositories: &Repositories,
) -> Result<(Vec<Offered>, Vec<Notice>), ZypperError> {
    let search = xml_output(
        runner,
        &zypper(root, repositories, true)
            .arg("--no-refresh")
            .arg("search")
            .arg("-s")
            .arg("-t")
            .arg("package"),
    )?;
    let patches = xml_output(
        runner,
        &zypper(root, repositories, true)
            .arg("--no-refresh")
            .arg("list-patches")
            .arg("--all"),
    )?;
    let repos = read_repos(root, repositories);
    let config = Config {
        repos: repos.into_iter().map(|(r, _)| r).collect(),
        ..Config::default()
    };
    let solvables: Vec<xml::Solvable> = xml::parse_search(&search)?
        .into_iter()
        .filter(|s| !s.repository.is_empty() && s.repository != "(System Packages)")
        .collect();
    let keep = crate::rpm::repos::best_priority(
        &config,
        solvables
            .iter()
            .map(|s| (s.name.as_str(), s.repository.as_str(), false)),
    );
    let offered: Vec<Offered> = solvables
        .into_iter()
        .zip(keep)
        .filter(|(_, keep)| *keep)
        .map(|(s, _)| {
            let (epoch, version, release) = split_edition(&s.edition);
            Offered {
                package: PrimaryPackage {
                    name: s.name.as_str().into(),
                    arch: s.arch.as_str().into(),
                    epoch: epoch.into(),
                    version: version.into(),
                    release: release.into(),
                    build_time: None,
                },
                repo: s.repository.as_str().into(),
                excluded: false,
            }
        })
        .collect();
    let mut patches: Vec<xml::Patch> = xml::parse_patches(&patches)?;
    // One patch may be listed once per repository carrying it.
    let mut seen = crate::fasthash::FastSet::default();
    patches.retain(|p| seen.insert(p.advisory.id.clone()));
    let mut notices: Vec<Notice> = patches
        .into_iter()
        .map(|p| Notice {
            advisory: p.advisory,
            packages: Vec::new(),
        })
        .collect();
    // The editions each patch brings, a bounded number of patches per `info` call.
    let names: Vec<String> = notices
        .iter()
        .map(|n| n.advisory.id.to_string())
        .filter(|id| crate::model::is_valid_package_name(id))
        .collect();
    let mut brings: crate::fasthash::FastMap<String, Vec<(String, Option<String>, String)>> =
        crate::fasthash::FastMap::default();
    for chunk in names.chunks(200) {
        let mut spec = zypper(root, repositories, false)
            .arg("--no-refresh")
            .arg("info")
            .arg("-t")
            .arg("patch");
        for name in chunk {
            spec = spec.arg(name);
        }
        let captured = runner.run(&spec)?;
        if !matches!(captured.code, Some(0 | 104 | 106)) {
            return Err(ExecError::failed(&spec, &captured).into());
        }
        for (patch, name, arch, edition) in
            xml::parse_patch_conflicts(&String::from_utf8_lossy(&captured.stdout))
        {
            brings.entry(patch).or_default().push((name, arch, edition));
        }
    }
    for notice in &mut notices {
        for (name, arch, edition) in brings
            .get(notice.advisory.id.as_str())
            .map_or(&[][..], Vec::as_slice)
        {
            // A conflict without an architecture covers every architecture offered.
            for offered in offered.iter().filter(|o| {
                o.package.name == name.as_str()
                    && arch.as_deref().is_none_or(|a| o.package.arch == a)
                    && o.package.evr() == *edition
            }) {
                notice.packages.push((
                    offered.package.name.clone(),
                    offered.package.arch.clone(),
                    edition.as_str().into(),
                ));
            }
        }
    }
    Ok((offered, notices))
}

fn read_metadata(
    runner: &dyn Runner,
    root: &Path,
    repositories: &Repositories,
    from: AvailableFrom,
    cache: &MetadataCache,
) -> Result<Metadata, ZypperError> {
    let native = match from {
        AvailableFrom::Auto => read_native(root, repositories, cache)?,
        AvailableFrom::PackageManager => Err("asked to".to_string()),
    };
    Ok(match native {
        Ok((offered, notices)) => Metadata {
            offered,
            notices,
            warning: None,
        },
        Err(reason) => {
            let (offered, notices) = read_with_zypper(runner, root, repositories)?;
            Metadata {
                offered,
                notices,
                warning: (from == AvailableFrom::Auto)
                    .then(|| format!("packages and patches asked of zypper ({reason})")),
            }
        }
    })
}

/// Applies the package locks: a lock matching an installed package keeps it as it is (every
/// version of that name is hidden), one matching an available version hides that version.
/// [`crate::rpm::system::apply_host_hiding`] then marks installed packages held.
fn apply_locks(locks: &[locks::Lock], installed: &[InstalledPackage], offered: &mut [Offered]) {
    if locks.is_empty() {
        return;
    }
    let kept: crate::fasthash::FastSet<&str> = installed
        .iter()
        .filter(|p| {
            locks
                .iter()
                .any(|l| l.matches(&p.name, &p.arch, &p.version, None))
        })
        .map(|p| p.name.as_str())
        .collect();
    for package in offered.iter_mut() {
        let evr = package.package.evr();
        if kept.contains(package.package.name.as_str())
            || locks.iter().any(|l| {
                l.matches(
                    &package.package.name,
                    &package.package.arch,
                    &evr,
                    Some(&package.repo),
                )
            })
        {
            package.excluded = true;
        }
    }
}

/// Scans the zypper system under `root`: rpm's database read while the repositories' metadata
/// is read (natively, or from zypper when `from` says so or the cache is not rpm-md); locks
/// applied; `warnings` gets why zypper was asked, and locks this reader cannot interpret.
pub fn scan(
    runner: &(dyn Runner + Sync),
    root: &Path,
    repositories: &Repositories,
    platform: &Platform,
    from: AvailableFrom,
    cache: &MetadataCache,
    warnings: &mut Vec<String>,
) -> Result<Inventory, ZypperError> {
    let (installed, metadata) = std::thread::scope(|scope| {
        let reading = scope.spawn(|| crate::rpm::system::installed(runner, root, cache));
        let metadata = read_metadata(runner, root, repositories, from, cache);
        let installed = reading.join().unwrap_or_else(|_| {
            Err(crate::rpm::system::RpmError::Exec(ExecError::Spawn {
                command: "rpm -qa".to_string(),
                source: std::io::Error::other("the reading thread stopped"),
            }))
        });
        (installed, metadata)
    });
    let mut installed = installed?;
    let Metadata {
        mut offered,
        notices,
        warning,
    } = metadata?;
    warnings.extend(warning);
    let (mut locks, not_understood) = locks::read(root);
    // Locks an interrupted install of ours left behind are not the administrator's.
    let ours = install::leftover_locks(root);
    locks.retain(|l| !ours.contains(l));
    if not_understood > 0 {
        warnings.push(format!(
            "{not_understood} package lock(s) in {} use a match type this reader does not interpret; they are not applied to the report (zypper still honours them)",
            locks::LOCKS_FILE
        ));
    }
    apply_locks(&locks, &installed, &mut offered);
    let (mut available, hidden) = crate::rpm::system::apply_host_hiding(offered, &mut installed);
    // A package no patch names has release time 0 on SUSE (spec §2.6), not its build time.
    for version in &mut available {
        version.build_time = None;
    }
    let advisories: Vec<Advisory> = crate::rpm::system::link_advisories(&mut available, notices);
    Ok(Inventory {
        operating_system: platform.operating_system,
        product: platform.product.clone(),
        package_manager: PackageManagerKind::Zypper,
        instance_id: None,
        advisories,
        installed,
        available,
        pending_reboot: Vec::new(),
        hidden,
        native_architecture: None,
        sources: Vec::new(),
        not_installed: crate::inventory::NotInstalled::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_failures_name_the_repository() {
        // Recorded from zypper 1.14.42 with a repository whose directory is gone.
        let output = "<?xml version='1.0'?>\n<stream>\n<message type=\"error\">Repository &apos;broken&apos; is invalid.\n[broken|file:/tmp/zx/nope] Valid metadata not found at specified URL\nHistory:\n - x\n</message>\n<message type=\"error\">Skipping repository &apos;broken&apos; because of the above error.</message>\n<message type=\"info\">Repository &apos;test&apos; is up to date.</message>\n<message type=\"error\">Some of the repositories have not been refreshed because of an error.</message>\n</stream>\n";
        let warnings = refresh_warnings(Some(4), output);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("`broken`") && warnings[0].contains("Valid metadata not found"),
            "{warnings:?}"
        );
        assert!(refresh_warnings(Some(0), output).is_empty());
        let locked = "<stream><message type=\"error\">System management is locked by the application with pid 1617 (sleep).\nClose this application before trying again.</message></stream>";
        assert!(refresh_warnings(Some(7), locked)[0].contains(
            "exited with 7: System management is locked by the application with pid 1617"
        ));
    }

    #[test]
    fn editions_split() {
        assert_eq!(split_edition("1.2-3.1"), ("0", "1.2", "3.1"));
        assert_eq!(split_edition("2:1.2-3"), ("2", "1.2", "3"));
    }
}
