//! The dnf backend (Amazon Linux 2023, RHEL 8+, Rocky, Alma, Oracle, CentOS Stream): reads the
//! system under a root through rpm and dnf themselves for what only they know (the rpm database,
//! dnf's view of the available packages after excludes, module filtering and versionlock) and
//! natively for the advisory metadata (the cached `updateinfo.xml`, found through `repomd.xml`).
//! The available packages are read natively from the metadata cache when [`repos`] models the
//! configuration (no modules, no versionlock), else asked of `dnf repoquery`. Installing is in
//! [`install`].

use std::path::Path;
use std::time::Duration;

use crate::exec::{CommandSpec, ExecError, Runner};
use crate::inventory::{AvailableVersion, Inventory};
use crate::model::PackageManagerKind;
use crate::platform::Platform;
use crate::repositories::Repositories;

pub mod install;
pub mod yum;

use crate::rpm::system::{
    AvailableFrom, RpmError as DnfError, apply_host_hiding, evr, installed, link_advisories,
    output, with_root,
};
use crate::rpm::{cache, repos};

/// `dnf makecache` for the system under `root` (keeps the cache; never `clean all`).
pub fn makecache(root: &Path, repositories: &Repositories, timeout: Duration) -> CommandSpec {
    with_root(CommandSpec::new("dnf"), "--installroot=", root)
        .args(repositories.rpm_options())
        .arg("-q")
        .arg("makecache")
        .timeout(timeout)
}

/// Every version dnf offers (after excludes, module filtering and versionlock).
pub fn available(
    runner: &dyn Runner,
    root: &Path,
    repositories: &Repositories,
) -> Result<Vec<AvailableVersion>, DnfError> {
    let spec = with_root(CommandSpec::new("dnf"), "--installroot=", root)
        .args(repositories.rpm_options())
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

/// What the repositories say: natively read packages (or dnf's list) and the advisories.
struct Metadata {
    offered: Result<Vec<repos::Offered>, Vec<AvailableVersion>>,
    notices: Vec<cache::Notice>,
    warning: Option<String>,
}

fn read_metadata(
    runner: &dyn Runner,
    root: &Path,
    repositories: &Repositories,
    tool: install::Tool,
    from: AvailableFrom,
    cache: &cache::MetadataCache,
) -> Result<Metadata, DnfError> {
    let is_yum = tool == install::Tool::Yum;
    // The enabled repositories' advisory feeds, each read on its own thread beside the
    // package lists.
    let config = repos::read_config(root, is_yum, repositories);
    let files: Vec<std::path::PathBuf> = repos::cached_repos(root, repositories)
        .iter()
        .filter(|cache| config.repos.iter().any(|r| r.enabled && r.id == cache.id))
        .filter_map(|cache| cache.file("updateinfo"))
        .filter(|file| file.exists())
        .collect();
    let ((offered, warning), notices) = cache.updateinfo_beside(&files, || {
        let native = match from {
            AvailableFrom::Auto => {
                repos::available(root, is_yum, repositories, std::env::consts::ARCH, cache)?
            }
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
                        &output(runner, &yum::list_available(root, repositories))?,
                        &yum::cache_dirs(root, repositories),
                    )
                } else {
                    self::available(runner, root, repositories)?
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
#[expect(
    clippy::too_many_arguments,
    reason = "each is an independent input of the scan; a struct would only rename them"
)]
pub fn scan(
    runner: &(dyn Runner + Sync),
    root: &Path,
    repositories: &Repositories,
    platform: &Platform,
    tool: install::Tool,
    from: AvailableFrom,
    cache: &cache::MetadataCache,
    warnings: &mut Vec<String>,
) -> Result<Inventory, DnfError> {
    let (installed, metadata) = std::thread::scope(|scope| {
        let reading = scope.spawn(|| installed(runner, root, cache));
        let metadata = read_metadata(runner, root, repositories, tool, from, cache);
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
    let (mut available, hidden) = match metadata.offered {
        Ok(offered) => apply_host_hiding(offered, &mut installed),
        Err(available) => (available, Vec::new()),
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
    fn evr_forms() {
        assert_eq!(evr("0", "1.0", "1"), "1.0-1");
        assert_eq!(evr("2", "1.0", "1"), "2:1.0-1");
    }
}
