//! The apt/dpkg backend: reads the system installed under a root (the host is root `/`),
//! natively and without running apt: dpkg's status, apt's lists and Release files, the pins,
//! and apt's candidate per package. Produces the evaluation core's [`Inventory`].
//!
//! Phased updates (`Phased-Update-Percentage`) are candidates, as in `apt-cache policy` and
//! `apt list --upgradable`; `apt-get dist-upgrade` keeps them back until the machine is in the
//! phase, an explicit install does not. The scan names them in a warning. Preferences stanzas we
//! cannot read are warned about too.

pub mod deb822;
pub mod dpkg;
pub mod install;
pub mod lists;
pub mod policy;

use crate::fasthash::FastMap;
use std::path::Path;

use crate::inventory::{AptOrigin, AvailableVersion, InstalledPackage, Inventory};
use crate::model::PackageManagerKind;
use crate::platform::Platform;
use crate::version::compare_deb;
use lists::{AptLists, ListedVersion};
use policy::{Preferences, STATUS_PRIORITY};

/// What an apt scan found, besides the inventory.
#[derive(Debug)]
pub struct AptScan {
    /// Installed packages and the versions apt would choose, with their origins.
    pub inventory: Inventory,
    /// Things the user should know (ignored pins, phased candidates).
    pub warnings: Vec<String>,
}

/// A scan that could not read the system.
#[derive(Debug, thiserror::Error)]
pub enum AptError {
    /// dpkg's status file.
    #[error(transparent)]
    Status(#[from] dpkg::DpkgError),
    /// apt's lists.
    #[error(transparent)]
    Lists(#[from] lists::ListsError),
}

/// Scans the apt system under `root`.
pub fn scan(root: &Path, platform: &Platform) -> Result<AptScan, AptError> {
    let installed = dpkg::read_status(root)?;
    let lists = lists::read_lists(root)?;
    let preferences = Preferences::from_root(root);
    let mut warnings: Vec<String> = preferences
        .ignored
        .iter()
        .map(|reason| format!("ignored apt preferences stanza: {reason}"))
        .collect();

    let mut groups: FastMap<(&str, &str), Vec<u32>> = FastMap::default();
    groups.reserve(lists.versions.len());
    for (index, version) in lists.versions.iter().enumerate() {
        groups
            .entry((version.name.as_str(), version.arch.as_str()))
            .or_default()
            .push(u32::try_from(index).unwrap_or(u32::MAX));
    }
    let installed_by_key: FastMap<(&str, &str), &dpkg::DpkgPackage> = installed
        .iter()
        .map(|p| ((p.name.as_str(), p.arch.as_str()), p))
        .collect();

    let mut available = Vec::new();
    let mut phased = 0usize;
    for (key, indexes) in &groups {
        let current = installed_by_key.get(key).copied();
        let chosen = choose(&lists, &preferences, indexes, current, &mut phased);
        for version in chosen {
            available.push(to_available(&lists, indexes, version));
        }
    }
    if phased > 0 {
        warnings.push(format!(
            "{phased} candidate update(s) are phased: `apt-get dist-upgrade` keeps them back until \
             this machine is in the phase; they are reported, and installed when approved, as \
             AWS does"
        ));
    }
    let installed = installed
        .iter()
        .map(|p| InstalledPackage {
            name: p.name.clone(),
            arch: p.arch.clone(),
            version: p.version.clone(),
            installed_time: dpkg::installed_time(root, p),
            held: p.held,
        })
        .collect();
    Ok(AptScan {
        inventory: Inventory {
            operating_system: platform.operating_system,
            product: platform.product.clone(),
            package_manager: PackageManagerKind::Apt,
            instance_id: None,
            advisories: Vec::new(),
            installed,
            available,
            pending_reboot: Vec::new(),
        },
        warnings,
    })
}

/// The versions of one package to put in the inventory: apt's candidate, and the installed
/// version as the archives offer it (so that an installed security version counts).
fn choose<'l>(
    lists: &'l AptLists,
    preferences: &Preferences,
    indexes: &[u32],
    installed: Option<&dpkg::DpkgPackage>,
    phased: &mut usize,
) -> Vec<&'l str> {
    if let ([only], None) = (indexes, installed) {
        // The common case: one version of a package that is not installed. It is the candidate
        // if its priority allows installing it at all.
        let listed = &lists.versions[*only as usize];
        let file = &lists.files[listed.file as usize];
        let release = file.release.map(|r| &lists.releases[r]);
        return if preferences.priority(&listed.name, &listed.version, release, file) > 0 {
            vec![listed.version.as_str()]
        } else {
            Vec::new()
        };
    }
    let mut versions: Vec<&str> = indexes
        .iter()
        .map(|&i| lists.versions[i as usize].version.as_str())
        .collect();
    if let Some(p) = installed {
        versions.push(p.version.as_str());
    }
    versions.sort_unstable_by(|a, b| compare_deb(b, a));
    versions.dedup_by(|a, b| compare_deb(a, b).is_eq());
    let installed_index = installed.and_then(|p| {
        versions
            .iter()
            .position(|v| compare_deb(v, &p.version).is_eq())
    });
    let priorities: Vec<i32> = versions
        .iter()
        .enumerate()
        .map(|(position, version)| {
            let mut priority = if Some(position) == installed_index {
                STATUS_PRIORITY
            } else {
                i32::MIN
            };
            for listed in indexes.iter().map(|&i| &lists.versions[i as usize]) {
                if !compare_deb(&listed.version, version).is_eq() {
                    continue;
                }
                let file = &lists.files[listed.file as usize];
                let release = file.release.map(|r| &lists.releases[r]);
                priority = priority.max(preferences.priority(&listed.name, version, release, file));
            }
            priority
        })
        .collect();
    let mut chosen = Vec::new();
    let offered = |version: &str| {
        indexes
            .iter()
            .map(|&i| &lists.versions[i as usize])
            .find(|listed| compare_deb(&listed.version, version).is_eq())
            .map(|listed| listed.version.as_str())
    };
    let candidate = policy::candidate(&priorities, installed_index);
    if let Some(candidate) = candidate
        && let Some(version) = offered(versions[candidate])
    {
        let is_phased = indexes
            .iter()
            .map(|&i| &lists.versions[i as usize])
            .any(|l| l.version == version && l.phased.is_some());
        if is_phased && Some(candidate) != installed_index && installed.is_some() {
            *phased += 1;
        }
        chosen.push(version);
    }
    if let Some(index) = installed_index
        && Some(index) != candidate
        && let Some(version) = offered(versions[index])
    {
        chosen.push(version);
    }
    chosen
}

fn to_available(lists: &AptLists, indexes: &[u32], version: &str) -> AvailableVersion {
    let listed: Vec<&ListedVersion> = indexes
        .iter()
        .map(|&i| &lists.versions[i as usize])
        .filter(|l| l.version == version)
        .collect();
    let first = listed[0];
    let mut origins: Vec<AptOrigin> = Vec::with_capacity(listed.len());
    for l in &listed {
        if let Some(release) = lists.files[l.file as usize]
            .release
            .map(|r| &lists.releases[r])
        {
            let origin = AptOrigin {
                archive: release.suite.clone(),
                codename: release.codename.clone(),
                origin: release.origin.clone(),
                label: release.label.clone(),
                site: release.site.clone(),
                trusted: true,
            };
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
    }
    AvailableVersion {
        name: first.name.clone(),
        arch: first.arch.clone(),
        version: first.version.clone(),
        advisories: Vec::new(),
        build_time: None,
        origins,
        // Priorities are lower case in Packages files; fold only when needed.
        priority: first.priority.as_ref().map(|p| {
            if p.bytes().any(|b| b.is_ascii_uppercase()) {
                p.to_ascii_lowercase()
            } else {
                p.clone()
            }
        }),
        section: first.section.clone(),
        repository: None,
    }
}
