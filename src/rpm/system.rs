//! What the RPM-family backends (dnf, yum, zypper) share about the system itself: the installed
//! packages (rpm database), the host's hiding of available versions, and linking advisories to
//! the versions they list. Repository files are [`super::repos`], the metadata cache
//! [`super::cache`]. It knows nothing of dnf or zypper commands.

use std::path::Path;

use chrono::{TimeZone, Utc};
use compact_str::CompactString;

use crate::exec::{CommandSpec, ExecError, Runner};
use crate::fasthash::{FastMap, FastSet};
use crate::inventory::{Advisory, AvailableVersion, InstalledPackage};
use crate::rpm::updateinfo;

/// An RPM-family scan that could not read the system.
#[derive(Debug, thiserror::Error)]
pub enum RpmError {
    /// rpm or dnf could not run, failed, or did not finish in time.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// Cached advisory metadata that cannot be read.
    #[error(transparent)]
    Updateinfo(#[from] updateinfo::UpdateinfoError),
}

/// `spec` with `FLAG ROOT` (`--root=…`, `--installroot=…`) when the root is not the host.
pub(crate) fn with_root(mut spec: CommandSpec, flag: &str, root: &Path) -> CommandSpec {
    if root != Path::new("/") {
        let mut argument = std::ffi::OsString::from(flag);
        argument.push(root.as_os_str());
        spec = spec.arg(argument);
    }
    spec
}

pub(crate) fn output(runner: &dyn Runner, spec: &CommandSpec) -> Result<String, RpmError> {
    let captured = runner.run(spec)?;
    if captured.code != Some(0) {
        return Err(ExecError::failed(spec, &captured).into());
    }
    Ok(String::from_utf8_lossy(&captured.stdout).into_owned())
}

/// `[epoch:]version-release`, the epoch only when it is not 0.
pub(crate) fn evr(epoch: &str, version: &str, release: &str) -> String {
    if epoch.is_empty() || epoch == "0" || epoch == "(none)" {
        format!("{version}-{release}")
    } else {
        format!("{epoch}:{version}-{release}")
    }
}

/// Installed packages: read from the sqlite rpm database when it is the only one (through
/// `cache`, which keeps them while the database is unchanged), else (and on any error reading
/// it) from `rpm -qa` in a machine format, which reads every backend.
pub fn installed(
    runner: &dyn Runner,
    root: &Path,
    cache: &crate::rpm::cache::MetadataCache,
) -> Result<Vec<InstalledPackage>, RpmError> {
    if let Some(path) = crate::rpm::rpmdb::sqlite_path(root)
        && let Ok(packages) = cache.installed(&path, || crate::rpm::rpmdb::read_sqlite(&path))
    {
        return Ok(packages);
    }
    installed_by_rpm(runner, root)
}

/// Installed packages from `rpm -qa` in a machine format (every rpmdb backend).
pub fn installed_by_rpm(
    runner: &dyn Runner,
    root: &Path,
) -> Result<Vec<InstalledPackage>, RpmError> {
    // Digests and signatures are checked when packages are installed; a query need not.
    let spec = with_root(CommandSpec::new("rpm"), "--root=", root)
        .arg("-qa")
        .arg("--nodigest")
        .arg("--nosignature")
        .arg("--qf")
        .arg("%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{INSTALLTIME}\\n");
    let text = output(runner, &spec)?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 6 || f[0] == "gpg-pubkey" {
                return None;
            }
            Some(InstalledPackage {
                name: f[0].into(),
                arch: f[4].into(),
                version: evr(f[1], f[2], f[3]).into(),
                installed_time: f[5]
                    .parse()
                    .ok()
                    .and_then(|s| Utc.timestamp_opt(s, 0).single()),
                held: false,
                priority: None,
                section: None,
            })
        })
        .collect())
}

/// Finishes an rpm transaction that was killed part way (issue #16): rpm installs the new
/// version of a package before it erases the old one, so a kill in between leaves both in the
/// database. The older versions of every package installed more than once are erased with
/// `rpm -e` (their erase scripts run as in the upgrade that was cut short), as
/// `yum-complete-transaction` and `dnf remove --duplicates` do; install-only packages (kernels,
/// anything providing `installonlypkg(…)` or `multiversion(…)`) are meant to be installed many
/// times and are left alone. rpm keeps no record of a script that was killed, so the new
/// version's is not run again. Returns what was erased, for the report's warnings.
pub fn erase_duplicates(runner: &dyn Runner, root: &Path) -> Result<Option<String>, RpmError> {
    let installed = installed_by_rpm(runner, root)?;
    let mut by_key: FastMap<(&str, &str), Vec<&InstalledPackage>> = FastMap::default();
    for package in &installed {
        by_key
            .entry((package.name.as_str(), package.arch.as_str()))
            .or_default()
            .push(package);
    }
    let mut older = Vec::new();
    for ((name, arch), mut versions) in by_key {
        if versions.len() < 2 || name.starts_with("kernel") {
            continue;
        }
        versions.sort_by(|a, b| crate::version::compare_rpm(&a.version, &b.version));
        versions.pop();
        for package in versions {
            // rpm takes an epoch in a NEVRA only as `name-epoch:version-release.arch`.
            older.push(format!("{name}-{}.{arch}", package.version));
        }
    }
    if older.is_empty() {
        return Ok(None);
    }
    older.sort();
    let provides = with_root(CommandSpec::new("rpm"), "--root=", root)
        .args(["-q", "--provides"])
        .args(older.iter().cloned());
    let text = output(runner, &provides)?;
    if text
        .lines()
        .any(|l| l.starts_with("installonlypkg(") || l.starts_with("multiversion("))
    {
        // One of them is install-only: judge them one by one.
        older.retain(|nevra| {
            let one = with_root(CommandSpec::new("rpm"), "--root=", root).args([
                "-q",
                "--provides",
                nevra,
            ]);
            output(runner, &one).is_ok_and(|text| {
                !text
                    .lines()
                    .any(|l| l.starts_with("installonlypkg(") || l.starts_with("multiversion("))
            })
        });
        if older.is_empty() {
            return Ok(None);
        }
    }
    let erase = with_root(CommandSpec::new("rpm"), "--root=", root)
        .arg("-e")
        .args(older.iter().cloned());
    output(runner, &erase)?;
    Ok(Some(format!(
        "an interrupted rpm transaction had left older versions installed beside the new ones; \
         erased with {erase}"
    )))
}

/// Whether `installed` has a package (not a kernel) at more than one version of one
/// architecture: the mark of an rpm transaction killed part way.
fn has_duplicates(installed: &[InstalledPackage]) -> bool {
    let mut seen: FastSet<(&str, &str)> = FastSet::default();
    installed.iter().any(|package| {
        !package.name.starts_with("kernel")
            && !seen.insert((package.name.as_str(), package.arch.as_str()))
    })
}

/// [`erase_duplicates`] as an installer's repair step; spawns nothing when the scanned
/// `installed` has no duplicate.
pub(crate) fn repair_duplicates(
    runner: &dyn Runner,
    root: &Path,
    installed: &[InstalledPackage],
) -> Result<Option<String>, crate::install::InstallError> {
    if !has_duplicates(installed) {
        return Ok(None);
    }
    erase_duplicates(runner, root).map_err(|error| match error {
        RpmError::Exec(error) => crate::install::InstallError::Exec(error),
        error @ RpmError::Updateinfo(_) => {
            crate::install::InstallError::Interrupted(error.to_string())
        }
    })
}

/// Where the available packages come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvailableFrom {
    /// The metadata cache, read natively when the configuration allows, else the package
    /// manager.
    Auto,
    /// Always the package manager (`dnf repoquery`, `yum list available`).
    PackageManager,
}

/// The installed packages whose every newer version the host's own configuration hides (an
/// `exclude` or `includepkgs`) are marked held, and those versions kept so that the report can
/// say so; other hidden versions are dropped, as dnf never offers them (those newer than an
/// installed package of their name are returned, for `explain` to name).
pub(crate) fn apply_host_hiding(
    offered: Vec<crate::rpm::repos::Offered>,
    installed: &mut [InstalledPackage],
) -> (Vec<AvailableVersion>, Vec<crate::inventory::HiddenVersion>) {
    use crate::version::compare_rpm;
    let mut held_names: FastSet<CompactString> = FastSet::default();
    let mut hidden = Vec::new();
    // Only a host that hides versions (the rare case) needs the versions by name.
    if offered.iter().any(|o| o.excluded) {
        let mut by_name: FastMap<&str, Vec<(&crate::rpm::repos::Offered, CompactString)>> =
            FastMap::default();
        for package in &offered {
            by_name
                .entry(package.package.name.as_str())
                .or_default()
                .push((package, package.package.evr()));
        }
        for package in installed.iter_mut() {
            let list = by_name
                .get(package.name.as_str())
                .map_or(&[][..], Vec::as_slice);
            let newer = |excluded: bool| {
                list.iter().any(|(o, evr)| {
                    o.excluded == excluded && compare_rpm(evr, &package.version).is_gt()
                })
            };
            if !newer(false) && newer(true) {
                package.held = true;
                held_names.insert(package.name.clone());
                continue;
            }
            hidden.extend(
                list.iter()
                    .filter(|(o, evr)| o.excluded && compare_rpm(evr, &package.version).is_gt())
                    .map(|(o, evr)| crate::inventory::HiddenVersion {
                        name: o.package.name.clone(),
                        arch: o.package.arch.clone(),
                        version: evr.clone(),
                        repository: Some(o.repo.clone()),
                    }),
            );
        }
    }
    // Several installed versions of one name (kernels) find the same hidden ones.
    hidden.sort_by(|a, b| (&a.name, &a.arch, &a.version).cmp(&(&b.name, &b.arch, &b.version)));
    hidden.dedup_by(|a, b| (&a.name, &a.arch, &a.version) == (&b.name, &b.arch, &b.version));
    // Sized once (a filtered iterator would grow it by doubling, copying every version).
    let mut available = Vec::with_capacity(offered.len());
    available.extend(
        offered
            .into_iter()
            .filter(|o| !o.excluded || held_names.contains(o.package.name.as_str()))
            .map(|o| AvailableVersion {
                version: o.package.evr(),
                name: o.package.name,
                arch: o.package.arch,
                advisories: Vec::new(),
                build_time: o
                    .package
                    .build_time
                    .and_then(|t| Utc.timestamp_opt(t, 0).single()),
                origins: Vec::new(),
                priority: None,
                section: None,
                repository: Some(o.repo),
            }),
    );
    (available, hidden)
}

/// Links each notice to the available versions it lists (only an exact NEVRA match applies:
/// feeds list packages of other releases too) and returns the advisories that apply to any.
pub(crate) fn link_advisories(
    available: &mut [AvailableVersion],
    notices: Vec<crate::rpm::cache::Notice>,
) -> Vec<Advisory> {
    const NONE: u32 = u32::MAX;
    // The notices' packages are fewer than the versions and compact: a small map from each
    // (name, arch, evr)'s hash to its first listing, the next listing of the same hash after
    // each, then one pass over the versions in their order. The versions are touched once, in
    // order, instead of hashed into a map of their own and visited again link by link: on a
    // large repository that map and those visits were memory waits, not work.
    let mut listings: Vec<(u32, &(CompactString, CompactString, CompactString))> =
        Vec::with_capacity(notices.iter().map(|n| n.packages.len()).sum());
    listings.extend(notices.iter().enumerate().flat_map(|(n, notice)| {
        let n = u32::try_from(n).unwrap_or(NONE);
        notice.packages.iter().map(move |package| (n, package))
    }));
    let hash_of = |name: &str, arch: &str, evr: &str| {
        use std::hash::BuildHasher as _;
        std::hash::BuildHasherDefault::<crate::fasthash::FastHasher>::default()
            .hash_one((name, arch, evr))
    };
    let mut first: FastMap<u64, u32> = FastMap::default();
    first.reserve(listings.len());
    let mut next: Vec<u32> = vec![NONE; listings.len()];
    // Walked backwards so that each chain runs in the notices' order.
    for (at, (_, (name, arch, evr))) in listings.iter().enumerate().rev() {
        let at = u32::try_from(at).unwrap_or(NONE);
        if let Some(after) = first.insert(hash_of(name, arch, evr), at) {
            next[at as usize] = after;
        }
    }
    let mut listed = vec![false; notices.len()];
    for version in available.iter_mut() {
        let key = (
            version.name.as_str(),
            version.arch.as_str(),
            version.version.as_str(),
        );
        let Some(&head) = first.get(&hash_of(key.0, key.1, key.2)) else {
            continue;
        };
        let mut at = head;
        while let Some(&(notice, (name, arch, evr))) = listings.get(at as usize) {
            if (name.as_str(), arch.as_str(), evr.as_str()) == key {
                let id = &notices[notice as usize].advisory.id;
                if !version.advisories.contains(id) {
                    // Most versions have one advisory: room for one, not the four of a
                    // first push.
                    if version.advisories.capacity() == 0 {
                        version.advisories.reserve_exact(1);
                    }
                    version.advisories.push(id.clone());
                }
                listed[notice as usize] = true;
            }
            at = next[at as usize];
        }
    }
    drop(listings);
    // At most one advisory per id, in the notices' order.
    let mut advisories: Vec<Advisory> = Vec::with_capacity(notices.len());
    let mut known: FastSet<CompactString> = FastSet::default();
    for (notice, listed) in notices.into_iter().zip(listed) {
        if listed && known.insert(notice.advisory.id.clone()) {
            advisories.push(notice.advisory);
        }
    }
    advisories
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpm::cache::Notice;

    fn version(name: &str, version: &str, repo: &str) -> AvailableVersion {
        AvailableVersion {
            name: name.into(),
            arch: "x86_64".into(),
            version: version.into(),
            advisories: Vec::new(),
            build_time: None,
            origins: Vec::new(),
            priority: None,
            section: None,
            repository: Some(repo.into()),
        }
    }

    fn notice(id: &str, packages: &[(&str, &str)]) -> Notice {
        Notice {
            advisory: Advisory {
                id: id.into(),
                kind: "security".into(),
                ..Advisory::default()
            },
            packages: packages
                .iter()
                .map(|&(name, evr)| (name.into(), "x86_64".into(), evr.into()))
                .collect(),
        }
    }

    #[test]
    fn advisories_link_to_every_repository_offering_the_nevra() {
        let mut available = vec![
            version("a", "1.0-1", "one"),
            version("b", "2.0-1", "one"),
            version("a", "1.0-1", "two"),
            version("a", "1.1-1", "two"),
            version("a", "1.0-1", "three"),
        ];
        let notices = vec![
            // Listed twice: linked once.
            notice("A-1", &[("a", "1.0-1"), ("a", "1.0-1")]),
            notice("B-1", &[("b", "2.0-1"), ("a", "1.1-1")]),
            // Lists only versions nobody offers: not an advisory of this system.
            notice("C-1", &[("c", "1.0-1"), ("a", "0.9-1")]),
        ];
        let advisories = link_advisories(&mut available, notices);
        let ids: Vec<&str> = advisories.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["A-1", "B-1"]);
        let linked: Vec<Vec<&str>> = available
            .iter()
            .map(|v| v.advisories.iter().map(CompactString::as_str).collect())
            .collect();
        assert_eq!(
            linked,
            [
                vec!["A-1"],
                vec!["B-1"],
                vec!["A-1"],
                vec!["B-1"],
                vec!["A-1"]
            ]
        );
    }
}
