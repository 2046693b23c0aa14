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
use lists::{AptLists, BodyLines, Listed};
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
    let mut by_name: Vec<&dpkg::DpkgPackage> = installed.iter().collect();
    by_name.sort_by(|a, b| a.name.cmp(&b.name));
    let mut lists = lists;
    // dpkg's file times (a stat per package) are read beside the walk.
    let (times, mut walked) = std::thread::scope(|scope| {
        let times = scope.spawn(|| {
            installed
                .iter()
                .map(|p| dpkg::installed_time(root, p))
                .collect::<Vec<_>>()
        });
        let walked = walk_all(&lists, &preferences, &by_name, &native);
        let times = times
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (times, walked)
    });
    if let Err(broken) = &walked {
        // A cache entry that is not whole: those indexes are parsed again, once.
        for &file in broken {
            lists.reread(file, cache)?;
        }
        walked = walk_all(&lists, &preferences, &by_name, &native);
    }
    let Walked {
        available,
        not_installed,
        phased,
    } = walked.map_err(|broken| lists::ListsError {
        path: broken
            .first()
            .and_then(|&f| lists.files.get(f))
            .map(|f| f.path.display().to_string())
            .unwrap_or_default(),
        message: "its versions cannot be read in name order".into(),
    })?;
    if phased > 0 {
        warnings.push(format!(
            "{phased} candidate update(s) are phased: `apt-get dist-upgrade` keeps them back until \
             this machine is in the phase; they are reported, and installed when approved, as \
             AWS does"
        ));
    }
    let installed = installed
        .iter()
        .zip(times)
        .map(|(p, installed_time)| InstalledPackage {
            name: p.name.clone(),
            arch: arch_of(&p.arch),
            version: p.version.clone(),
            installed_time,
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
            hidden: Vec::new(),
            native_architecture: Some(native.clone()),
            sources: Vec::new(),
            not_installed,
        },
        warnings,
    })
}

/// [`walk`] on two threads when the lists are large: the names below the middle name of the
/// largest index on one, the rest on another; the halves are put together in name order.
fn walk_all(
    lists: &AptLists,
    preferences: &Preferences,
    by_name: &[&dpkg::DpkgPackage],
    native: &str,
) -> Result<Walked, Vec<usize>> {
    /// Below this many bytes of bodies, one thread.
    const SPLIT_ABOVE: usize = 4 << 20;
    let file = |f: usize| u32::try_from(f).unwrap_or(u32::MAX);
    let whole = || -> Vec<BodyLines<'_>> {
        lists
            .bodies
            .iter()
            .enumerate()
            .map(|(f, body)| body.versions(file(f)))
            .collect()
    };
    let total: usize = lists.bodies.iter().map(lists::IndexBody::len).sum();
    let split = lists
        .bodies
        .iter()
        .max_by_key(|b| b.len())
        .and_then(lists::IndexBody::middle_name)
        .filter(|_| total > SPLIT_ABOVE);
    match split {
        None => walk(lists, whole(), preferences, by_name, native),
        Some(split) => walk_split(lists, preferences, by_name, native, split),
    }
}

/// [`walk`] on two threads: the names below `split` on one, the rest on the other.
fn walk_split(
    lists: &AptLists,
    preferences: &Preferences,
    by_name: &[&dpkg::DpkgPackage],
    native: &str,
    split: &str,
) -> Result<Walked, Vec<usize>> {
    let file = |f: usize| u32::try_from(f).unwrap_or(u32::MAX);
    let cuts: Vec<usize> = lists.bodies.iter().map(|b| b.position_of(split)).collect();
    let below = lists
        .bodies
        .iter()
        .zip(&cuts)
        .enumerate()
        .map(|(f, (body, &cut))| body.versions_between(file(f), 0..cut, "", Some(split)))
        .collect();
    let above = lists
        .bodies
        .iter()
        .zip(&cuts)
        .enumerate()
        .map(|(f, (body, &cut))| body.versions_between(file(f), cut..body.len(), split, None))
        .collect();
    let installed_cut = by_name.partition_point(|p| p.name.as_str() < split);
    let (first, second) = std::thread::scope(|scope| {
        let second =
            scope.spawn(|| walk(lists, above, preferences, &by_name[installed_cut..], native));
        let first = walk(lists, below, preferences, &by_name[..installed_cut], native);
        let second = second
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    });
    match (first, second) {
        (Ok(mut first), Ok(second)) => {
            first.available.extend(second.available);
            first.phased += second.phased;
            if !first.not_installed.append(&second.not_installed) {
                first.available.extend(second.not_installed.to_available());
            }
            Ok(first)
        }
        (first, second) => {
            let mut broken: Vec<usize> = [first.err(), second.err()]
                .into_iter()
                .flatten()
                .flatten()
                .collect();
            broken.sort_unstable();
            broken.dedup();
            Err(broken)
        }
    }
}

/// What [`walk`] makes of the lists.
struct Walked {
    available: Vec<AvailableVersion>,
    not_installed: crate::inventory::NotInstalled,
    phased: usize,
}

/// Walks every index and the installed packages (`by_name`, sorted by name) together, a name
/// at a time: each index is sorted by name (its cache body is), so one merge groups them
/// without hashing the lists' hundred thousand versions. Installed packages get every version
/// judged in full; the rest are kept compact, one kind per distinct priority, section and set
/// of releases. `Err`: the indexes whose bodies are broken.
fn walk<'l>(
    lists: &'l AptLists,
    parts: Vec<BodyLines<'l>>,
    preferences: &Preferences,
    by_name: &[&dpkg::DpkgPackage],
    native: &str,
) -> Result<Walked, Vec<usize>> {
    let mut installed_at = 0usize;
    let mut available = Vec::with_capacity(by_name.len() * 2);
    let mut not_installed = crate::inventory::NotInstalled::default();
    let mut kinds: FastMap<(Option<&str>, Option<&str>, u64), usize> = FastMap::default();
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
    let mut merge = Merge::new(parts);
    let mut batch: Vec<Listed<'_>> = Vec::new();
    let mut group: Vec<Listed<'_>> = Vec::new();
    let mut group_arches: Vec<&str> = Vec::new();
    let mut chosen: Vec<&str> = Vec::with_capacity(8);
    let mut chosen_kinds: Vec<(&str, usize)> = Vec::with_capacity(8);
    while let Some(name) = merge.next_name(&mut batch) {
        while by_name
            .get(installed_at)
            .is_some_and(|p| p.name.as_str() < name)
        {
            installed_at += 1;
        }
        let same_name = by_name[installed_at..]
            .iter()
            .take_while(|p| p.name.as_str() == name)
            .count();
        let installed_here = &by_name[installed_at..installed_at + same_name];
        group_arches.clear();
        for listed in &batch {
            let arch = group_arch(listed.arch, native);
            if !group_arches.contains(&arch) {
                group_arches.push(arch);
            }
        }
        for &arch in &group_arches {
            group.clear();
            group.extend(batch.iter().filter(|l| group_arch(l.arch, native) == arch));
            // The last status entry of a (name, arch) is the one dpkg means.
            let current = installed_here
                .iter()
                .rev()
                .find(|p| group_arch(&p.arch, native) == arch)
                .copied();
            chosen.clear();
            choose(
                lists,
                preferences,
                &group,
                current,
                &mut phased,
                &mut chosen,
            );
            if current.is_none() {
                chosen_kinds.clear();
                let compact = chosen.iter().all(|version| {
                    let Some(key) = kind_key(lists, &group, version) else {
                        return false;
                    };
                    let kind = *kinds.entry(key).or_insert_with(|| {
                        not_installed.add_kind(kind_of(lists, &file_origins, key))
                    });
                    chosen_kinds.push((version, kind));
                    true
                });
                if compact && not_installed.push_package(name, arch, chosen_kinds.iter().copied()) {
                    continue;
                }
            }
            available.extend(
                chosen
                    .iter()
                    .filter_map(|version| to_available(&file_origins, &group, version, arch)),
            );
        }
    }
    let broken = merge.broken();
    if !broken.is_empty() {
        return Err(broken);
    }
    Ok(Walked {
        available,
        not_installed,
        phased,
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

/// A merge of every index's versions (each index in name order) into one walk by name.
struct Merge<'l> {
    /// Each index's lines, with the one at its head and its name's [`lists::name_key`].
    cursors: Vec<(Option<(u64, Listed<'l>)>, BodyLines<'l>)>,
}

impl<'l> Merge<'l> {
    fn new(parts: Vec<BodyLines<'l>>) -> Self {
        let cursors = parts
            .into_iter()
            .map(|mut lines| (lines.next_keyed(), lines))
            .collect();
        Merge { cursors }
    }

    /// The next name, with every version of it (index by index, each index's in its order)
    /// in `batch`; `None` when every index is done.
    fn next_name(&mut self, batch: &mut Vec<Listed<'l>>) -> Option<&'l str> {
        let (key, name) = self
            .cursors
            .iter()
            .filter_map(|(head, _)| head.map(|(key, h)| (key, h.name)))
            .min()?;
        batch.clear();
        for (head, lines) in &mut self.cursors {
            while let Some((_, listed)) = head.filter(|(k, h)| *k == key && h.name == name) {
                batch.push(listed);
                *head = lines.next_keyed();
            }
        }
        Some(name)
    }

    /// The indexes whose walk stopped at a broken line.
    fn broken(&self) -> Vec<usize> {
        self.cursors
            .iter()
            .filter(|(_, lines)| lines.is_broken())
            .map(|(_, lines)| lines.file() as usize)
            .collect()
    }
}

/// The (priority, section, releases) of `version` in `group`, the key of its kind: the first
/// stanza's fields and a bit per release of the indexes listing it; `None` past 64 releases.
fn kind_key<'l>(
    lists: &AptLists,
    group: &[Listed<'l>],
    version: &str,
) -> Option<(Option<&'l str>, Option<&'l str>, u64)> {
    let mut listing = group.iter().filter(|l| l.version == version);
    let first = listing.next()?;
    let mut releases = 0u64;
    for listed in std::iter::once(first).chain(listing) {
        if let Some(release) = lists
            .files
            .get(listed.file as usize)
            .and_then(|f| f.release)
        {
            releases |= 1u64.checked_shl(u32::try_from(release).ok()?)?;
        }
    }
    Some((first.priority, first.section, releases))
}

/// The kind `key` ([`kind_key`]) stands for: its priority (folded to lower case), section and
/// the origins of its releases, in the releases' order.
fn kind_of(
    lists: &AptLists,
    file_origins: &[Option<AptOrigin>],
    (priority, section, releases): (Option<&str>, Option<&str>, u64),
) -> AvailableVersion {
    let mut origins: Vec<AptOrigin> = Vec::new();
    for release in (0..64usize).filter(|r| releases & (1u64 << r) != 0) {
        let origin = lists
            .files
            .iter()
            .position(|f| f.release == Some(release))
            .and_then(|file| file_origins.get(file).cloned().flatten());
        if let Some(origin) = origin
            && !origins.contains(&origin)
        {
            origins.push(origin);
        }
    }
    AvailableVersion {
        name: CompactString::default(),
        arch: CompactString::default(),
        version: CompactString::default(),
        advisories: Vec::new(),
        build_time: None,
        origins,
        priority: priority.map(fold_priority),
        section: section.map(CompactString::from),
        repository: None,
    }
}

/// A Priority as the rules compare it: lower case (Packages files write it so; folded only
/// when needed).
fn fold_priority(priority: &str) -> CompactString {
    if priority.bytes().any(|b| b.is_ascii_uppercase()) {
        priority.to_ascii_lowercase().into()
    } else {
        priority.into()
    }
}

/// The versions of one package to put in the inventory: every version at or above the installed
/// one (every version when nothing is installed) from an archive of default priority, apt's
/// candidate, and the installed version as the archives offer it. `group` is every listed
/// version of the package.
fn choose<'l>(
    lists: &AptLists,
    preferences: &Preferences,
    group: &[Listed<'l>],
    installed: Option<&dpkg::DpkgPackage>,
    phased: &mut usize,
    chosen: &mut Vec<&'l str>,
) {
    let release_of = |listed: &Listed<'_>| {
        let file = &lists.files[listed.file as usize];
        (file, file.release.map(|r| &lists.releases[r]))
    };
    if let (Some(first), None) = (group.first(), installed)
        && group.iter().all(|l| l.version == first.version)
    {
        // The common case: one version of a package that is not installed (in one index, or
        // in several: `Architecture: all` in each architecture's). It is the candidate if its
        // priority allows installing it at all.
        let allowed = group.iter().any(|listed| {
            let (file, release) = release_of(listed);
            preferences.priority(listed.name, listed.version, release, file) > 0
        });
        if allowed {
            chosen.push(first.version);
        }
        return;
    }
    let mut versions: Vec<&str> = group.iter().map(|l| l.version).collect();
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
            for listed in group {
                if !compare_deb(listed.version, version).is_eq() {
                    continue;
                }
                let (file, release) = release_of(listed);
                priority = priority.max(preferences.priority(listed.name, version, release, file));
            }
            priority
        })
        .collect();
    let offered = |version: &str| {
        group
            .iter()
            .find(|listed| compare_deb(listed.version, version).is_eq())
            .map(|listed| listed.version)
    };
    let candidate = policy::candidate(&priorities, installed_index);
    if let Some(candidate) = candidate
        && Some(candidate) != installed_index
        && installed.is_some()
        && let Some(version) = offered(versions[candidate])
    {
        let is_phased = group
            .iter()
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
    file_origins: &[Option<AptOrigin>],
    group: &[Listed<'_>],
    version: &str,
    arch: &str,
) -> Option<AvailableVersion> {
    let mut listed = group.iter().filter(|l| l.version == version);
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
        name: first.name.into(),
        arch: arch.into(),
        version: first.version.into(),
        advisories: Vec::new(),
        build_time: None,
        origins,
        priority: first.priority.map(fold_priority),
        section: first.section.map(CompactString::from),
        repository: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lists::{IndexBody, IndexFile, ReleaseInfo};
    use std::fmt::Write as _;

    /// Two indexes (a security archive and the main one) of generated packages: some names in
    /// both, some `all`, some of a foreign architecture, a few installed.
    fn generated() -> (AptLists, Vec<dpkg::DpkgPackage>) {
        let release = |suite: &str| ReleaseInfo {
            origin: "Debian".into(),
            label: "Debian".into(),
            suite: suite.into(),
            codename: suite.into(),
            ..ReleaseInfo::default()
        };
        let file = |release: usize| IndexFile {
            path: std::path::PathBuf::from(format!("index-{release}")),
            release: Some(release),
            component: "main".into(),
        };
        let mut bodies = [String::new(), String::new()];
        for n in 0..3000 {
            let name = format!("p{:05}", (n * 7919) % 3000);
            let (arch, section) = match n % 5 {
                0 => ("all", "libs"),
                1 => ("arm64", "net"),
                _ => ("amd64", "utils"),
            };
            let priority = ["optional", "required", "Important"][n % 3];
            let _ = writeln!(bodies[0], "{name}\t{arch}\t1.{n}\t{priority}\t{section}\t");
            if n % 4 == 0 {
                let _ = writeln!(
                    bodies[1],
                    "{name}\t{arch}\t1.{n}+s1\t{priority}\t{section}\t"
                );
            }
        }
        let sorted = |body: &str| {
            let mut lines: Vec<&str> = body.lines().collect();
            lines.sort_by_key(|l| l.split('\t').next().unwrap_or("").to_string());
            lines.iter().fold(String::new(), |mut all, l| {
                all.push_str(l);
                all.push('\n');
                all
            })
        };
        let lists = AptLists {
            releases: vec![release("bookworm"), release("bookworm-security")],
            files: vec![file(0), file(1)],
            bodies: bodies.iter().map(|b| IndexBody::new(sorted(b))).collect(),
            ignored: Vec::new(),
        };
        let installed = (0..3000)
            .step_by(13)
            .map(|n| dpkg::DpkgPackage {
                name: format!("p{n:05}").into(),
                arch: "amd64".into(),
                version: "1.0".into(),
                held: false,
                priority: None,
                section: None,
                unfinished: None,
            })
            .collect();
        (lists, installed)
    }

    /// Every index walked whole.
    fn whole(lists: &AptLists) -> Vec<BodyLines<'_>> {
        lists
            .bodies
            .iter()
            .enumerate()
            .map(|(f, b)| b.versions(u32::try_from(f).unwrap()))
            .collect()
    }

    /// The walk on two threads, split anywhere, is the walk on one; a body out of order is
    /// found broken either way.
    #[test]
    fn split_walks_are_the_whole_walk() {
        let (mut lists, installed) = generated();
        let mut by_name: Vec<&dpkg::DpkgPackage> = installed.iter().collect();
        by_name.sort_by(|a, b| a.name.cmp(&b.name));
        let preferences = Preferences::default();
        let one = walk(&lists, whole(&lists), &preferences, &by_name, "amd64").unwrap();
        assert!(one.not_installed.len() > 1000 && one.available.len() > 100);
        let middle = lists.bodies[0].middle_name().unwrap().to_string();
        for split in [
            "",
            "a",
            "p00000",
            "p01500",
            "p01500x",
            middle.as_str(),
            "p02999",
            "q",
        ] {
            let two = walk_split(&lists, &preferences, &by_name, "amd64", split).unwrap();
            assert_eq!(two.available, one.available, "split at {split:?}");
            assert_eq!(
                two.not_installed.to_available(),
                one.not_installed.to_available(),
                "split at {split:?}"
            );
            assert_eq!(two.phased, one.phased);
        }
        // Out of order: two lines of the security index swapped.
        let text: Vec<String> = lists.bodies[1]
            .versions(1)
            .map(|l| {
                format!(
                    "{}\t{}\t{}\t{}\t{}\t\n",
                    l.name,
                    l.arch,
                    l.version,
                    l.priority.unwrap_or(""),
                    l.section.unwrap_or("")
                )
            })
            .collect();
        let mut swapped = text.clone();
        swapped.swap(100, 500);
        lists.bodies[1] = IndexBody::new(swapped.concat());
        assert_eq!(
            walk(&lists, whole(&lists), &preferences, &by_name, "amd64").err(),
            Some(vec![1])
        );
        for split in ["p00000", middle.as_str(), "p02000"] {
            assert_eq!(
                walk_split(&lists, &preferences, &by_name, "amd64", split).err(),
                Some(vec![1]),
                "split at {split:?}"
            );
        }
    }

    #[test]
    fn position_of_finds_the_first_line_not_below() {
        let body =
            IndexBody::new("a\tx\t1\t\t\t\nb\tx\t1\t\t\t\nb\tx\t2\t\t\t\nd\tx\t1\t\t\t\n".into());
        let line = "a\tx\t1\t\t\t\n".len();
        for (name, at) in [
            ("", 0),
            ("a", 0),
            ("b", line),
            ("c", 3 * line),
            ("d", 3 * line),
            ("e", 4 * line),
        ] {
            assert_eq!(body.position_of(name), at, "{name}");
        }
        assert_eq!(IndexBody::new(String::new()).position_of("a"), 0);
        assert_eq!(body.middle_name(), Some("b"));
    }
}
