//! The dnf backend (Amazon Linux 2023, RHEL 8+, Rocky, Alma, Oracle, CentOS Stream): reads the
//! system under a root through rpm and dnf themselves for what only they know (the rpm database,
//! dnf's view of the available packages after excludes, module filtering and versionlock) and
//! natively for the advisory metadata (the cached `updateinfo.xml`, found through `repomd.xml`).
//! The available packages are read natively from the metadata cache when [`repos`] models the
//! configuration (no modules, no versionlock), else asked of `dnf repoquery`. Installing is in
//! [`install`].

use crate::fasthash::{FastMap, FastSet};
use std::path::Path;
use std::time::Duration;

use chrono::{TimeZone, Utc};

use crate::exec::{CommandSpec, ExecError, Runner};
use crate::inventory::{Advisory, AvailableVersion, InstalledPackage, Inventory};
use crate::model::PackageManagerKind;
use crate::platform::Platform;
use crate::rpm::updateinfo;

pub mod cache;
pub mod install;
pub mod repos;
pub mod yum;

/// A dnf scan that could not read the system.
#[derive(Debug, thiserror::Error)]
pub enum DnfError {
    /// rpm or dnf could not run, failed, or did not finish in time.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// Cached advisory metadata that cannot be read.
    #[error(transparent)]
    Updateinfo(#[from] updateinfo::UpdateinfoError),
}

fn with_root(mut spec: CommandSpec, flag: &str, root: &Path) -> CommandSpec {
    if root != Path::new("/") {
        let mut argument = std::ffi::OsString::from(flag);
        argument.push(root.as_os_str());
        spec = spec.arg(argument);
    }
    spec
}

/// `dnf makecache` for the system under `root` (keeps the cache; never `clean all`).
pub fn makecache(root: &Path, timeout: Duration) -> CommandSpec {
    with_root(CommandSpec::new("dnf"), "--installroot=", root)
        .arg("-q")
        .arg("makecache")
        .timeout(timeout)
}

fn output(runner: &dyn Runner, spec: &CommandSpec) -> Result<String, DnfError> {
    let captured = runner.run(spec)?;
    if captured.code != Some(0) {
        return Err(ExecError::failed(spec, &captured).into());
    }
    Ok(String::from_utf8_lossy(&captured.stdout).into_owned())
}

/// `[epoch:]version-release`, the epoch only when it is not 0.
fn evr(epoch: &str, version: &str, release: &str) -> String {
    if epoch.is_empty() || epoch == "0" || epoch == "(none)" {
        format!("{version}-{release}")
    } else {
        format!("{epoch}:{version}-{release}")
    }
}

/// Installed packages: read from the sqlite rpm database when it is the only one, else (and on
/// any error reading it) from `rpm -qa` in a machine format, which reads every backend.
pub fn installed(runner: &dyn Runner, root: &Path) -> Result<Vec<InstalledPackage>, DnfError> {
    if let Some(path) = crate::rpm::rpmdb::sqlite_path(root)
        && let Ok(packages) = crate::rpm::rpmdb::read_sqlite(&path)
    {
        return Ok(packages);
    }
    installed_by_rpm(runner, root)
}

/// Installed packages from `rpm -qa` in a machine format (every rpmdb backend).
pub fn installed_by_rpm(
    runner: &dyn Runner,
    root: &Path,
) -> Result<Vec<InstalledPackage>, DnfError> {
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

/// Every version dnf offers (after excludes, module filtering and versionlock).
pub fn available(runner: &dyn Runner, root: &Path) -> Result<Vec<AvailableVersion>, DnfError> {
    let spec = with_root(CommandSpec::new("dnf"), "--installroot=", root)
        .arg("-q")
        .arg("--cacheonly")
        .arg("repoquery")
        .arg("--available")
        .arg("--qf")
        .arg("%{name}\\t%{epoch}\\t%{version}\\t%{release}\\t%{arch}\\t%{repoid}");
    let text = output(runner, &spec)?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            (f.len() == 6).then(|| AvailableVersion {
                name: f[0].into(),
                arch: f[4].into(),
                version: evr(f[1], f[2], f[3]).into(),
                advisories: Vec::new(),
                build_time: None,
                origins: Vec::new(),
                priority: None,
                section: None,
                repository: Some(f[5].into()),
            })
        })
        .collect())
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
/// say so; other hidden versions are dropped, as dnf never offers them.
pub(crate) fn apply_host_hiding(
    offered: Vec<repos::Offered>,
    installed: &mut [InstalledPackage],
) -> Vec<AvailableVersion> {
    use crate::version::compare_rpm;
    let mut by_name: FastMap<&str, Vec<&repos::Offered>> = FastMap::default();
    for package in &offered {
        by_name
            .entry(package.package.name.as_str())
            .or_default()
            .push(package);
    }
    let mut held_names: FastSet<String> = FastSet::default();
    for package in installed.iter_mut() {
        let newer = |excluded: bool| {
            by_name.get(package.name.as_str()).is_some_and(|list| {
                list.iter().any(|o| {
                    o.excluded == excluded
                        && compare_rpm(&o.package.evr(), &package.version).is_gt()
                })
            })
        };
        if !newer(false) && newer(true) {
            package.held = true;
            held_names.insert(package.name.to_string());
        }
    }
    drop(by_name);
    offered
        .into_iter()
        .filter(|o| !o.excluded || held_names.contains(o.package.name.as_str()))
        .map(|o| AvailableVersion {
            version: o.package.evr().into(),
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
        })
        .collect()
}

/// What the repositories say: natively read packages (or dnf's list) and the advisories.
struct Metadata {
    offered: Result<Vec<repos::Offered>, Vec<AvailableVersion>>,
    notices: Vec<cache::Notice>,
    warning: Option<String>,
}

fn read_metadata(
    runner: &dyn Runner,
    root: &Path,
    tool: install::Tool,
    from: AvailableFrom,
    cache: &cache::MetadataCache,
) -> Result<Metadata, DnfError> {
    let is_yum = tool == install::Tool::Yum;
    // The enabled repositories' advisory feeds, each read on its own thread beside the
    // package lists.
    let config = repos::read_config(root, is_yum);
    let files: Vec<std::path::PathBuf> = repos::cached_repos(root)
        .iter()
        .filter(|cache| config.repos.iter().any(|r| r.enabled && r.id == cache.id))
        .filter_map(|cache| cache.file("updateinfo"))
        .filter(|file| file.exists())
        .collect();
    let ((offered, warning), notices) = cache.updateinfo_beside(&files, || {
        let native = match from {
            AvailableFrom::Auto => repos::available(root, is_yum, std::env::consts::ARCH, cache)?,
            AvailableFrom::PackageManager => repos::Native::Unsupported("asked to".to_string()),
        };
        let (offered, warning) = match native {
            repos::Native::Available { packages } => (Ok(packages), None),
            repos::Native::Unsupported(reason) => {
                let asked = if is_yum {
                    "yum list available"
                } else {
                    "dnf repoquery"
                };
                let warning = (from == AvailableFrom::Auto).then(|| {
                    format!(
                        "available packages asked of `{asked}` ({reason}); held packages are not reported on this path"
                    )
                });
                let mut available = if is_yum {
                    yum::available_with_build_times(
                        &output(runner, &yum::list_available(root))?,
                        root,
                    )
                } else {
                    self::available(runner, root)?
                };
                // `repoquery` lists every repository's versions; dnf's upgrades honour
                // priorities.
                let keep = repos::best_priority(
                    &config,
                    available.iter().map(|v| {
                        (
                            v.name.as_str(),
                            v.repository.as_deref().unwrap_or(""),
                            false,
                        )
                    }),
                );
                let mut keep = keep.into_iter();
                available.retain(|_| keep.next().unwrap_or(true));
                (Err(available), warning)
            }
        };
        Ok::<_, DnfError>((offered, warning))
    })?;
    Ok(Metadata {
        offered,
        notices,
        warning,
    })
}

/// Scans the dnf system under `root`: rpm's database read (by `rpm -qa`) while the metadata
/// cache is read; `warnings` gets why dnf was asked instead of the cache being read natively.
pub fn scan(
    runner: &(dyn Runner + Sync),
    root: &Path,
    platform: &Platform,
    tool: install::Tool,
    from: AvailableFrom,
    cache: &cache::MetadataCache,
    warnings: &mut Vec<String>,
) -> Result<Inventory, DnfError> {
    let (installed, metadata) = std::thread::scope(|scope| {
        let reading = scope.spawn(|| installed(runner, root));
        let metadata = read_metadata(runner, root, tool, from, cache);
        let installed = reading.join().unwrap_or_else(|_| {
            Err(DnfError::Exec(ExecError::Spawn {
                command: "rpm -qa".to_string(),
                source: std::io::Error::other("the reading thread stopped"),
            }))
        });
        (installed, metadata)
    });
    let mut installed = installed?;
    let metadata = metadata?;
    warnings.extend(metadata.warning);
    let mut available = match metadata.offered {
        Ok(offered) => apply_host_hiding(offered, &mut installed),
        Err(available) => available,
    };
    let advisories = link_advisories(&mut available, metadata.notices);
    Ok(Inventory {
        operating_system: platform.operating_system,
        product: platform.product.clone(),
        package_manager: match tool {
            install::Tool::Dnf => PackageManagerKind::Dnf,
            install::Tool::Yum => PackageManagerKind::Yum,
        },
        instance_id: None,
        advisories,
        installed,
        available,
        pending_reboot: Vec::new(),
        native_architecture: None,
    })
}

/// Links each notice to the available versions it lists (only an exact NEVRA match applies:
/// feeds list packages of other releases too) and returns the advisories that apply to any.
pub(crate) fn link_advisories(
    available: &mut [AvailableVersion],
    notices: Vec<cache::Notice>,
) -> Vec<Advisory> {
    let mut advisories: Vec<Advisory> = Vec::new();
    let mut index_of: FastMap<(&str, &str, &str), Vec<usize>> = FastMap::default();
    for (index, version) in available.iter().enumerate() {
        index_of
            .entry((
                version.name.as_str(),
                version.arch.as_str(),
                version.version.as_str(),
            ))
            .or_default()
            .push(index);
    }
    let mut links: Vec<(usize, compact_str::CompactString)> = Vec::new();
    let mut known: FastSet<compact_str::CompactString> = FastSet::default();
    for notice in notices {
        let id = notice.advisory.id.clone();
        let mut listed = false;
        for (name, arch, evr) in &notice.packages {
            let key = (name.as_str(), arch.as_str(), evr.as_str());
            for &index in index_of.get(&key).map_or(&[][..], Vec::as_slice) {
                links.push((index, id.clone()));
                listed = true;
            }
        }
        if listed && known.insert(id) {
            advisories.push(notice.advisory);
        }
    }
    drop(index_of);
    for (index, id) in links {
        let ids = &mut available[index].advisories;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    advisories
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evr_forms() {
        assert_eq!(evr("0", "1.0", "1"), "1.0-1");
        assert_eq!(evr("2", "1.0", "1"), "2:1.0-1");
    }
}
