//! dnf's and yum's view of the available packages, computed natively from the configuration
//! and the metadata cache under a root: enabled repositories (`dnf.conf`/`yum.conf` and the
//! repo files of `reposdir`), `exclude`/`excludepkgs` and `includepkgs` (global and per
//! repository), repository `priority` (for each name, only the repositories with the best
//! priority count), compatible architectures, and each repository's cached `primary` and
//! `updateinfo`, found through its `repomd.xml`.
//!
//! What it does not model it refuses to guess: modular repositories (a `modules` document in
//! the cache), an active versionlock plugin, and a repository whose cache is missing or
//! ambiguous all return [`Native::Unsupported`] with the reason, and the caller asks dnf.

use std::path::{Path, PathBuf};

use crate::model::Family;
use crate::pattern::{PackageRef, PatternList};
use crate::repositories::Repositories;
use crate::rpm::primary::PrimaryPackage;
use crate::rpm::updateinfo::UpdateinfoError;

/// One repository section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepoConfig {
    /// The section name.
    pub id: String,
    /// `enabled` (default true).
    pub enabled: bool,
    /// `priority` (default 99; lower wins).
    pub priority: i64,
    /// `exclude`/`excludepkgs` patterns.
    pub excludes: Vec<String>,
    /// `includepkgs` patterns (empty: everything).
    pub includes: Vec<String>,
}

/// The configuration that decides what is available.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// `[main]` `exclude`/`excludepkgs`.
    pub excludes: Vec<String>,
    /// `[main]` `includepkgs`.
    pub includes: Vec<String>,
    /// Every repository section found.
    pub repos: Vec<RepoConfig>,
    /// The versionlock plugin is enabled with a lock list.
    pub versionlock: bool,
}

/// Sections of an INI file: `(section, key, value)` with continuation lines joined.
pub fn ini(text: &str) -> Vec<(String, String, String)> {
    let mut entries: Vec<(String, String, String)> = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t'])
            && let Some(last) = entries.last_mut()
        {
            last.2.push(' ');
            last.2.push_str(trimmed);
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        if let Some((key, value)) = trimmed.split_once('=')
            && !key.trim().is_empty()
        {
            entries.push((
                section.clone(),
                key.trim().to_ascii_lowercase(),
                value.trim().to_string(),
            ));
        }
    }
    entries
}

fn list(value: &str) -> Vec<String> {
    value
        .split([' ', ',', '\t'])
        .filter(|s| !s.is_empty())
        .map(ToString::to_string)
        .collect()
}

pub(crate) fn truthy(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "1" | "yes" | "true" | "on"
    )
}

/// Reads the configuration under `root`: `etc/dnf/dnf.conf` (dnf) or `etc/yum.conf` (yum), the
/// repo files of its `reposdir`, and the versionlock plugin's state. With baseline sources
/// (`repositories` private), the repositories are those of the private directory only; the
/// main file's excludes and the versionlock still apply.
pub fn read_config(root: &Path, yum: bool, repositories: &Repositories) -> Config {
    let main_file = if yum {
        "etc/yum.conf"
    } else {
        "etc/dnf/dnf.conf"
    };
    let mut config = Config::default();
    let mut reposdirs: Vec<String> = vec![
        "/etc/yum.repos.d".into(),
        "/etc/yum/repos.d".into(),
        "/etc/distro.repos.d".into(),
    ];
    let mut files: Vec<(String, String, String)> = Vec::new();
    for (section, key, value) in
        ini(&std::fs::read_to_string(root.join(main_file)).unwrap_or_default())
    {
        if section == "main" {
            match key.as_str() {
                "exclude" | "excludepkgs" => config.excludes.extend(list(&value)),
                "includepkgs" => config.includes.extend(list(&value)),
                "reposdir" => reposdirs = list(&value),
                _ => {}
            }
        } else if repositories.private().is_none() {
            // yum.conf may hold repositories too.
            files.push((section, key, value));
        }
    }
    let reposdirs: Vec<PathBuf> = match repositories.private() {
        None => reposdirs
            .iter()
            .map(|dir| root.join(dir.trim_start_matches('/')))
            .collect(),
        Some(private) => vec![private.repos_dir()],
    };
    for dir in &reposdirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "repo"))
            .collect();
        paths.sort();
        for path in paths {
            files.extend(ini(&std::fs::read_to_string(path).unwrap_or_default()));
        }
    }
    for (section, key, value) in files {
        let index = if let Some(index) = config.repos.iter().position(|r| r.id == section) {
            index
        } else {
            config.repos.push(RepoConfig {
                id: section.clone(),
                enabled: true,
                priority: 99,
                ..RepoConfig::default()
            });
            config.repos.len() - 1
        };
        let repo = &mut config.repos[index];
        match key.as_str() {
            "enabled" => repo.enabled = truthy(&value),
            "priority" => repo.priority = value.parse().unwrap_or(99),
            "exclude" | "excludepkgs" => repo.excludes.extend(list(&value)),
            "includepkgs" => repo.includes.extend(list(&value)),
            _ => {}
        }
    }
    let plugin = if yum {
        "etc/yum/pluginconf.d/versionlock.conf"
    } else {
        "etc/dnf/plugins/versionlock.conf"
    };
    let plugin_entries = ini(&std::fs::read_to_string(root.join(plugin)).unwrap_or_default());
    let enabled = plugin_entries
        .iter()
        .any(|(s, k, v)| s == "main" && k == "enabled" && truthy(v));
    let locklist = plugin_entries
        .iter()
        .find(|(s, k, _)| s == "main" && k == "locklist")
        .map_or_else(
            || {
                if yum {
                    "etc/yum/pluginconf.d/versionlock.list".to_string()
                } else {
                    "etc/dnf/plugins/versionlock.list".to_string()
                }
            },
            |(_, _, v)| v.trim_start_matches('/').to_string(),
        );
    config.versionlock = enabled
        && std::fs::read_to_string(root.join(locklist)).is_ok_and(|t| {
            t.lines()
                .any(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
        });
    config
}

/// One repository's cached metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedRepo {
    /// The repository id.
    pub id: String,
    /// The `repodata` directory.
    pub repodata: PathBuf,
    /// The repomd.xml text.
    pub repomd: String,
}

impl CachedRepo {
    /// The cached file of a metadata type (`primary`, `updateinfo`, `modules`), if listed.
    pub fn file(&self, kind: &str) -> Option<PathBuf> {
        let href = location(&self.repomd, kind)?;
        let name = href.rsplit('/').next().unwrap_or(&href).to_string();
        Some(self.repodata.join(name))
    }
}

/// The `location href` of the data of type `kind` in a `repomd.xml`.
pub fn location(repomd: &str, kind: &str) -> Option<String> {
    let start = repomd.find(&format!("type=\"{kind}\""))?;
    let rest = &repomd[start..];
    let end = rest.find("</data>").unwrap_or(rest.len());
    let block = &rest[..end];
    let href = block.find("href=\"")? + 6;
    let length = block[href..].find('"')?;
    Some(block[href..href + length].to_string())
}

/// Every cached repository under `root`: dnf's `var/cache/dnf/<id>-<hash>/repodata`, and
/// yum's `var/cache/yum/<basearch>/<releasever>/<id>/` (repomd.xml beside the files). With
/// baseline sources, those of their private `cachedir` (dnf's `<id>-<hash>/repodata` or yum's
/// `<id>/`).
pub fn cached_repos(root: &Path, repositories: &Repositories) -> Vec<CachedRepo> {
    let mut repos = Vec::new();
    if let Some(private) = repositories.private() {
        let cache = private.cache_dir();
        dnf_layout(&cache, &mut repos);
        yum_repo_dirs(&cache, &mut repos);
        repos.sort_by(|a, b| a.id.cmp(&b.id).then(a.repodata.cmp(&b.repodata)));
        return repos;
    }
    dnf_layout(&root.join("var/cache/dnf"), &mut repos);
    let yum = root.join("var/cache/yum");
    for arch in std::fs::read_dir(&yum).into_iter().flatten().flatten() {
        for release in std::fs::read_dir(arch.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            yum_repo_dirs(&release.path(), &mut repos);
        }
    }
    repos.sort_by(|a, b| a.id.cmp(&b.id).then(a.repodata.cmp(&b.repodata)));
    repos
}

/// yum's repository caches directly under `dir`: `<id>/repomd.xml`.
fn yum_repo_dirs(dir: &Path, repos: &mut Vec<CachedRepo>) {
    for repo in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = repo.path();
        if let Ok(repomd) = std::fs::read_to_string(path.join("repomd.xml")) {
            repos.push(CachedRepo {
                id: repo.file_name().to_string_lossy().into_owned(),
                repodata: path,
                repomd,
            });
        }
    }
}

/// dnf's repository caches under `dir`: `<id>-<hash>/repodata/repomd.xml`.
fn dnf_layout(dir: &Path, repos: &mut Vec<CachedRepo>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let dir_name = entry.file_name().to_string_lossy().into_owned();
            let repodata = entry.path().join("repodata");
            let Ok(repomd) = std::fs::read_to_string(repodata.join("repomd.xml")) else {
                continue;
            };
            // `<id>-<16 hex digits>`.
            let id = match dir_name.rsplit_once('-') {
                Some((id, hash))
                    if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    id.to_string()
                }
                _ => dir_name,
            };
            repos.push(CachedRepo {
                id,
                repodata,
                repomd,
            });
        }
    }
}

/// The architectures a machine of `machine` architecture installs.
pub fn compatible_arches(machine: &str) -> &'static [&'static str] {
    match machine {
        "x86_64" => &[
            "x86_64", "noarch", "i686", "i586", "i486", "i386", "athlon", "amd64", "ia32e",
        ],
        "aarch64" => &["aarch64", "noarch"],
        "i686" | "x86" => &["i686", "i586", "i486", "i386", "athlon", "noarch"],
        "ppc64le" => &["ppc64le", "noarch"],
        "s390x" => &["s390x", "noarch"],
        _ => &["noarch"],
    }
}

/// A package dnf offers, with the repository it comes from and whether the host's own
/// configuration hides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// The package.
    pub package: PrimaryPackage,
    /// Repository id.
    pub repo: compact_str::CompactString,
    /// Hidden by an `exclude`/`includepkgs` of the host (not by priority).
    pub excluded: bool,
}

/// The native view, or why it cannot be had.
#[derive(Debug)]
pub enum Native {
    /// Every package of the enabled repositories, after priorities, with excludes marked.
    Available {
        /// The packages.
        packages: Vec<Offered>,
    },
    /// Something this reader does not model; ask dnf.
    Unsupported(String),
}

fn matches(list: &PatternList, package: &PrimaryPackage) -> bool {
    if list.is_empty() {
        return false;
    }
    let version = package.evr();
    list.match_package(
        Family::Rpm,
        PackageRef {
            name: &package.name,
            arch: &package.arch,
            version: &version,
        },
    )
    .is_some()
}

/// For each package name, only the repositories with the best (lowest) `priority` among those
/// offering it count, as dnf decides; `items` are (name, repository id) and `hidden` ones take
/// no part in choosing. Returns which items to keep.
pub fn best_priority<'a>(
    config: &Config,
    items: impl Iterator<Item = (&'a str, &'a str, bool)> + Clone,
) -> Vec<bool> {
    let priority = |repo: &str| {
        config
            .repos
            .iter()
            .find(|r| r.id == repo)
            .map_or(99, |r| r.priority)
    };
    // Most systems give every repository one priority (dnf's default, 99): then every item
    // is kept, and no map by name is needed. The items come repository by repository, so the
    // last repository's priority is remembered.
    let mut last: Option<(&str, i64)> = None;
    let mut one_priority = None;
    let mut same = true;
    for (_, repo, hidden) in items.clone() {
        if hidden {
            continue;
        }
        let p = match last {
            Some((id, p)) if id == repo => p,
            _ => {
                let p = priority(repo);
                last = Some((repo, p));
                p
            }
        };
        if *one_priority.get_or_insert(p) != p {
            same = false;
            break;
        }
    }
    if same {
        return items.map(|_| true).collect();
    }
    let mut best: crate::fasthash::FastMap<&str, i64> = crate::fasthash::FastMap::default();
    for (name, repo, hidden) in items.clone() {
        if !hidden {
            let entry = best.entry(name).or_insert_with(|| priority(repo));
            *entry = (*entry).min(priority(repo));
        }
    }
    items
        .map(|(name, repo, hidden)| hidden || best.get(name).is_none_or(|b| *b == priority(repo)))
        .collect()
}

/// Computes what dnf (or yum) offers on the system under `root`, from its configuration and
/// metadata cache.
pub fn available(
    root: &Path,
    yum: bool,
    repositories: &Repositories,
    machine: &str,
    parsed: &crate::rpm::cache::MetadataCache,
) -> Result<Native, UpdateinfoError> {
    let config = read_config(root, yum, repositories);
    if config.versionlock {
        return Ok(Native::Unsupported(
            "the versionlock plugin is active".to_string(),
        ));
    }
    available_in(&config, &cached_repos(root, repositories), machine, parsed)
}

/// What the enabled repositories of `config` offer, read from their caches (`cached`): the
/// same computation for dnf, yum and zypper (whose locks the caller marks afterwards).
pub fn available_in(
    config: &Config,
    cached: &[CachedRepo],
    machine: &str,
    parsed: &crate::rpm::cache::MetadataCache,
) -> Result<Native, UpdateinfoError> {
    let arches = compatible_arches(machine);
    let main_excludes = PatternList::new(&config.excludes);
    let main_includes = PatternList::new(&config.includes);
    let mut packages = Vec::new();
    for repo in config.repos.iter().filter(|r| r.enabled) {
        let mut found = cached.iter().filter(|c| c.id == repo.id);
        let (Some(cache), None) = (found.next(), found.next()) else {
            return Ok(Native::Unsupported(format!(
                "repository `{}` has no single metadata cache",
                repo.id
            )));
        };
        if location(&cache.repomd, "modules").is_some() {
            return Ok(Native::Unsupported(format!(
                "repository `{}` is modular",
                repo.id
            )));
        }
        let Some(primary_file) = cache.file("primary") else {
            return Ok(Native::Unsupported(format!(
                "repository `{}` lists no primary metadata",
                repo.id
            )));
        };
        if !primary_file.exists() {
            return Ok(Native::Unsupported(format!(
                "repository `{}` has no cached primary metadata (yum keeps only the sqlite form)",
                repo.id
            )));
        }
        let excludes = PatternList::new(&repo.excludes);
        let includes = PatternList::new(&repo.includes);
        let primary = parsed.primary(&primary_file)?;
        // Grown once, not by doubling: a copy of every package at each step is what a scan
        // of a large repository spent its page faults on.
        packages.reserve(primary.len());
        for package in primary {
            if !arches.contains(&package.arch.as_str()) {
                continue;
            }
            let hidden = matches(&main_excludes, &package)
                || matches(&excludes, &package)
                || (!config.includes.is_empty() && !matches(&main_includes, &package))
                || (!repo.includes.is_empty() && !matches(&includes, &package));
            packages.push(Offered {
                package,
                repo: repo.id.as_str().into(),
                excluded: hidden,
            });
        }
    }
    let keep = best_priority(
        config,
        packages
            .iter()
            .map(|o| (o.package.name.as_str(), o.repo.as_str(), o.excluded)),
    );
    let mut packages = packages;
    if !keep.iter().all(|k| *k) {
        let mut keep = keep.into_iter();
        packages.retain(|_| keep.next().unwrap_or(false));
    }
    Ok(Native::Available { packages })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(id: &str, priority: i64) -> RepoConfig {
        RepoConfig {
            id: id.into(),
            enabled: true,
            priority,
            excludes: Vec::new(),
            includes: Vec::new(),
        }
    }

    #[test]
    fn best_priority_with_one_priority_or_several() {
        let items = [
            ("a", "one", false),
            ("b", "one", false),
            ("a", "two", false),
            ("c", "two", false),
            ("b", "two", true),
            ("a", "three", false),
        ];
        // One priority everywhere (`three` is not configured: 99, as dnf's default).
        let same = Config {
            repos: vec![repo("one", 99), repo("two", 99)],
            ..Config::default()
        };
        assert_eq!(best_priority(&same, items.iter().copied()), [true; 6]);
        // `two` wins where it offers the name; a hidden item takes no part and is kept.
        let several = Config {
            repos: vec![repo("one", 50), repo("two", 10)],
            ..Config::default()
        };
        assert_eq!(
            best_priority(&several, items.iter().copied()),
            [false, true, true, true, true, false]
        );
        // A hidden item of a better repository does not hide the name's others.
        let hidden_best = [("a", "one", false), ("a", "two", true)];
        assert_eq!(
            best_priority(&several, hidden_best.iter().copied()),
            [true, true]
        );
    }

    /// A line `= value` (no key) is no entry; it gave one with an empty key. Found by `cargo
    /// fuzz` (target `repomd`).
    #[test]
    fn fuzz_ini_line_without_a_key() {
        let text = include_str!("../../fixtures/fuzz/repomd-crash-85a2fd0c");
        assert!(ini(text).iter().all(|(_, key, _)| !key.is_empty()));
        assert_eq!(
            ini("[main]\n= 1\n  =\nexclude=a\n"),
            [("main".to_string(), "exclude".to_string(), "a".to_string())]
        );
    }

    #[test]
    fn ini_with_continuations_and_lists() {
        let text = "[main]\nexclude=kernel* foo,\n  bar\n# c\n[r1]\nenabled = 0\npriority=10\n";
        let entries = ini(text);
        assert_eq!(
            entries[0],
            ("main".into(), "exclude".into(), "kernel* foo, bar".into())
        );
        assert_eq!(list(&entries[0].2), vec!["kernel*", "foo", "bar"]);
        assert_eq!(entries[1], ("r1".into(), "enabled".into(), "0".into()));
        assert!(!truthy("0") && truthy("True"));
    }

    #[test]
    fn repomd_locations() {
        let repomd = r#"<repomd><data type="primary"><location href="repodata/p.xml.gz"/></data>
            <data type="updateinfo"><checksum>x</checksum><location href="repodata/abc-ui.xml.gz"/></data></repomd>"#;
        assert_eq!(
            location(repomd, "updateinfo").as_deref(),
            Some("repodata/abc-ui.xml.gz")
        );
        assert_eq!(
            location(repomd, "primary").as_deref(),
            Some("repodata/p.xml.gz")
        );
        assert_eq!(location(repomd, "modules"), None);
    }
}
