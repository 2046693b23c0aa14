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
pub mod sources;

use crate::fasthash::FastMap;
use compact_str::CompactString;
use std::path::Path;

use crate::inventory::{AptOrigin, AvailableVersion, InstalledPackage, Inventory};
use crate::model::PackageManagerKind;
use crate::platform::Platform;
use crate::repositories::Repositories;
use crate::version::compare_deb;
use lists::AptLists;
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

/// Scans the apt system under `root`, with the lists of `repositories` (the host's
/// `var/lib/apt/lists`, or the private lists of the baseline's sources), through the metadata
/// `cache`.
pub fn scan(
    root: &Path,
    platform: &Platform,
    repositories: &Repositories,
    apt_config: Option<&Path>,
    cache: &crate::rpm::cache::MetadataCache,
) -> Result<AptScan, AptError> {
    let installed = dpkg::read_status(root)?;
    let lists = match repositories.private() {
        None => lists::read_lists(root, cache)?,
        Some(private) => lists::read_lists_in(
            &private.apt_lists(),
            sources::list_prefixes(&private.apt_source_list()),
            cache,
        )?,
    };
    let preferences = Preferences::from_root(root);
    let mut warnings: Vec<String> = preferences
        .ignored
        .iter()
        .map(|reason| format!("ignored apt preferences stanza: {reason}"))
        .collect();
    let (unfinished, journal) = dpkg::unfinished(root, &installed);
    if !unfinished.is_empty() || journal {
        warnings.push(format!(
            "dpkg was interrupted and has unfinished work{}{}: `install` finishes it first \
             (`dpkg --configure -a`)",
            if unfinished.is_empty() { "" } else { ": " },
            unfinished.join(", ")
        ));
    }
    if !lists.ignored.is_empty() {
        warnings.push(format!(
            "{} list(s) in the lists folder belong to no configured source and were not read \
             (as apt does): {}",
            lists.ignored.len(),
            lists.ignored.join(", ")
        ));
    }

    // apt files `Architecture: all` packages under the native architecture, and so do python-apt
    // and the payload (`tzdata.amd64`): one group per name and native architecture.
    let native = configured_architecture(root, apt_config)
        .unwrap_or_else(|| native_architecture(&installed));
    let arch_of = |arch: &'_ str| -> CompactString {
        if arch == "all" {
            native.clone()
        } else {
            arch.into()
        }
    };
    // Groups numbered in the order they first appear (the lists' own order, so the loop below
    // walks the versions nearly in memory order), their indexes in one flat array: no
    // allocation per group.
    let mut group_of: FastMap<(&str, &str), u32> = FastMap::default();
    group_of.reserve(lists.versions.len());
    let mut keys: Vec<(&str, &str)> = Vec::new();
    let mut version_group: Vec<u32> = Vec::with_capacity(lists.versions.len());
    for version in &lists.versions {
        let key = (version.name.as_str(), group_arch(&version.arch, &native));
        let next = u32::try_from(keys.len()).unwrap_or(u32::MAX);
        let group = *group_of.entry(key).or_insert_with(|| {
            keys.push(key);
            next
        });
        version_group.push(group);
    }
    let mut starts: Vec<u32> = vec![0; keys.len() + 1];
    for &group in &version_group {
        starts[group as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut filled = starts.clone();
    let mut members: Vec<u32> = vec![0; version_group.len()];
    for (index, &group) in version_group.iter().enumerate() {
        members[filled[group as usize] as usize] = u32::try_from(index).unwrap_or(u32::MAX);
        filled[group as usize] += 1;
    }
    drop((version_group, filled));
    let installed_by_key: FastMap<(&str, &str), &dpkg::DpkgPackage> = installed
        .iter()
        .map(|p| ((p.name.as_str(), group_arch(&p.arch, &native)), p))
        .collect();

    // Most groups give one version: reserved once, not grown (the entries are large).
    let mut available = Vec::with_capacity(keys.len() + keys.len() / 8);
    let mut phased = 0usize;
    // The origin each index gives its versions, made once per index, not once per version.
    let file_origins: Vec<Option<AptOrigin>> = lists
        .files
        .iter()
        .map(|file| {
            file.release.map(|r| {
                let release = &lists.releases[r];
                AptOrigin {
                    archive: release.suite.clone(),
                    codename: release.codename.clone(),
                    origin: release.origin.clone(),
                    label: release.label.clone(),
                    site: release.site.clone(),
                    trusted: true,
                }
            })
        })
        .collect();
    let mut chosen: Vec<&str> = Vec::with_capacity(8);
    for (group, key) in keys.iter().enumerate() {
        let indexes = &members[starts[group] as usize..starts[group + 1] as usize];
        let current = installed_by_key.get(key).copied();
        chosen.clear();
        choose(
            &lists,
            &preferences,
            indexes,
            current,
            &mut phased,
            &mut chosen,
        );
        available.extend(
            chosen
                .iter()
                .filter_map(|version| to_available(&lists, &file_origins, indexes, version, key.1)),
        );
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
            arch: arch_of(&p.arch),
            version: p.version.clone(),
            installed_time: dpkg::installed_time(root, p),
            held: p.held,
            priority: p.priority.clone(),
            section: p.section.clone(),
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
            native_architecture: Some(native.clone()),
            sources: Vec::new(),
        },
        warnings,
    })
}

/// The architecture a package is grouped under: its own, or `native` for `all`.
fn group_arch<'a>(arch: &'a str, native: &'a str) -> &'a str {
    if arch == "all" { native } else { arch }
}

/// The native architecture the system under `root` is configured with, when it says: the
/// first line of dpkg's `var/lib/dpkg/arch` (native first, then the foreign ones, once a foreign
/// architecture was added), else `APT::Architecture` in apt's
/// configuration (`apt_config`, i.e. `$APT_CONFIG`, then `etc/apt/apt.conf` and
/// `apt.conf.d/*`). A mounted image of another architecture is then named by its own.
pub fn configured_architecture(root: &Path, apt_config: Option<&Path>) -> Option<CompactString> {
    if let Ok(text) = std::fs::read_to_string(root.join("var/lib/dpkg/arch"))
        && let Some(first) = text.lines().map(str::trim).find(|l| !l.is_empty())
    {
        return Some(first.into());
    }
    let mut files: Vec<std::path::PathBuf> =
        apt_config.map(Path::to_path_buf).into_iter().collect();
    files.push(root.join("etc/apt/apt.conf"));
    let mut parts: Vec<_> = std::fs::read_dir(root.join("etc/apt/apt.conf.d"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    parts.sort();
    files.extend(parts);
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("APT::Architecture ")
                && let Some(value) = rest.trim().strip_prefix('"')
                && let Some((value, _)) = value.split_once('"')
                && !value.is_empty()
            {
                return Some(value.into());
            }
        }
    }
    None
}

/// The native architecture guessed from the installed packages (the most common one), else
/// this build's.
pub fn native_architecture(installed: &[dpkg::DpkgPackage]) -> CompactString {
    let mut counts: FastMap<&str, usize> = FastMap::default();
    for package in installed.iter().filter(|p| p.arch != "all") {
        *counts.entry(package.arch.as_str()).or_default() += 1;
    }
    if let Some((arch, _)) = counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
    {
        return arch.into();
    }
    match std::env::consts::ARCH {
        "x86_64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        "x86" => "i386".into(),
        "arm" => "armhf".into(),
        other => other.into(),
    }
}

/// The versions of one package to put in the inventory: every version at or above the installed
/// one (every version when nothing is installed) from an archive of default priority, apt's
/// candidate, and the installed version as the archives offer it.
fn choose<'l>(
    lists: &'l AptLists,
    preferences: &Preferences,
    indexes: &[u32],
    installed: Option<&dpkg::DpkgPackage>,
    phased: &mut usize,
    chosen: &mut Vec<&'l str>,
) {
    if let ([only], None) = (indexes, installed) {
        // The common case: one version of a package that is not installed. It is the candidate
        // if its priority allows installing it at all.
        let listed = &lists.versions[*only as usize];
        let file = &lists.files[listed.file as usize];
        let release = file.release.map(|r| &lists.releases[r]);
        if preferences.priority(&listed.name, &listed.version, release, file) > 0 {
            chosen.push(listed.version.as_str());
        }
        return;
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
    let offered = |version: &str| {
        indexes
            .iter()
            .map(|&i| &lists.versions[i as usize])
            .find(|listed| compare_deb(&listed.version, version).is_eq())
            .map(|listed| listed.version.as_str())
    };
    let candidate = policy::candidate(&priorities, installed_index);
    if let Some(candidate) = candidate
        && Some(candidate) != installed_index
        && installed.is_some()
        && let Some(version) = offered(versions[candidate])
    {
        let is_phased = indexes
            .iter()
            .map(|&i| &lists.versions[i as usize])
            .any(|l| l.version == version && l.phased.is_some());
        if is_phased {
            *phased += 1;
        }
    }
    // Every version at or above the installed one is judged, each with its own origins, as the
    // payload's python-apt loop does (a `-security` fix overtaken by a point release is still
    // an update to judge). Versions from archives the administrator or the archive itself
    // ranks below the default priority 500 (backports, NotAutomatic archives, pins) are judged
    // only when apt chose them as the candidate.
    chosen.extend(
        (0..versions.len())
            .filter(|&position| installed_index.is_none_or(|installed| position <= installed))
            .filter(|&position| {
                Some(position) == installed_index
                    || Some(position) == candidate
                    || priorities[position] >= policy::DEFAULT_PRIORITY
            })
            .filter_map(|position| offered(versions[position])),
    );
}

/// The available version `version` of a group (filed under `arch`), with the origins of every
/// index listing it (`file_origins`: each index's); `None` when no index of the group lists it.
fn to_available(
    lists: &AptLists,
    file_origins: &[Option<AptOrigin>],
    indexes: &[u32],
    version: &str,
    arch: &str,
) -> Option<AvailableVersion> {
    let mut listed = indexes
        .iter()
        .map(|&i| &lists.versions[i as usize])
        .filter(|l| l.version == version);
    let first = listed.next()?;
    let mut origins: Vec<AptOrigin> = Vec::with_capacity(1);
    for l in std::iter::once(first).chain(listed) {
        if let Some(Some(origin)) = file_origins.get(l.file as usize)
            && !origins.contains(origin)
        {
            origins.push(origin.clone());
        }
    }
    Some(AvailableVersion {
        name: first.name.clone(),
        arch: arch.into(),
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
    })
}
