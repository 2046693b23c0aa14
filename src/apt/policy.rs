//! apt's version selection (`apt-cache policy`): priorities of package files (500, 100 for
//! `ButAutomaticUpgrades`, 1 for `NotAutomatic`, 100 for the installed version), pins from
//! `etc/apt/preferences` and `preferences.d`, and the candidate: the version of highest
//! priority (ties: the newest), never below the installed version unless pinned to 1000 or more.
//! See apt_preferences(5).

use std::path::Path;

use super::deb822::{Paragraphs, field_value};
use super::lists::{IndexFile, ReleaseInfo};
use crate::pattern::Pattern;

/// Which versions a pin applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PinTarget {
    /// `Pin: release a=…, n=…, o=…, l=…, c=…, v=…, b=…`
    Release(Vec<(char, Pattern)>),
    /// `Pin: origin host`
    Origin(String),
    /// `Pin: version glob`
    Version(Pattern),
}

/// One preferences stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pin {
    /// `None`: `Package: *` (a generic pin on package files).
    packages: Option<Vec<Pattern>>,
    target: PinTarget,
    priority: i32,
}

/// The pins of a system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pins: Vec<Pin>,
    /// Stanzas we could not use, with the reason (reported, never fatal: apt warns too).
    pub ignored: Vec<String>,
}

impl Preferences {
    /// Reads `etc/apt/preferences` and the files of `etc/apt/preferences.d` (those without an
    /// extension or ending in `.pref`, as apt does) under `root`.
    pub fn from_root(root: &Path) -> Self {
        let mut preferences = Self::default();
        let mut files = vec![root.join("etc/apt/preferences")];
        if let Ok(entries) = std::fs::read_dir(root.join("etc/apt/preferences.d")) {
            let mut names: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    (p.extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("pref"))
                        || !name.contains('.'))
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
                })
                .collect();
            names.sort();
            files.extend(names);
        }
        for file in files {
            if let Ok(text) = std::fs::read(&file) {
                preferences.parse(&text, &file.display().to_string());
            }
        }
        preferences
    }

    /// Adds the stanzas of one preferences file.
    pub fn parse(&mut self, text: &[u8], source: &str) {
        for (line, paragraph) in Paragraphs::new(text) {
            let field = |name: &str| field_value(paragraph, name);
            let (Some(package), Some(pin), Some(priority)) =
                (field("Package"), field("Pin"), field("Pin-Priority"))
            else {
                if field("Explanation").is_none() || field("Package").is_some() {
                    self.ignored.push(format!(
                        "{source}:{line}: needs Package, Pin and Pin-Priority"
                    ));
                }
                continue;
            };
            let Ok(priority) = priority.parse::<i32>() else {
                self.ignored.push(format!(
                    "{source}:{line}: Pin-Priority `{priority}` is not a number"
                ));
                continue;
            };
            let packages = if package.trim() == "*" {
                None
            } else {
                Some(package.split_whitespace().map(Pattern::new).collect())
            };
            let (kind, value) = pin.split_once(char::is_whitespace).unwrap_or((pin, ""));
            let value = value.trim();
            let target = match kind {
                "release" => PinTarget::Release(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(|term| match term.split_once('=') {
                            Some((key, v)) => (
                                key.trim().chars().next().unwrap_or('a'),
                                Pattern::new(v.trim()),
                            ),
                            None => ('a', Pattern::new(term)),
                        })
                        .collect(),
                ),
                "origin" => PinTarget::Origin(value.trim_matches('"').to_string()),
                "version" => PinTarget::Version(Pattern::new(value)),
                other => {
                    self.ignored
                        .push(format!("{source}:{line}: unknown pin type `{other}`"));
                    continue;
                }
            };
            self.pins.push(Pin {
                packages,
                target,
                priority,
            });
        }
    }

    fn target_matches(
        target: &PinTarget,
        version: &str,
        release: Option<&ReleaseInfo>,
        file: &IndexFile,
    ) -> bool {
        match target {
            PinTarget::Version(pattern) => pattern.matches_lowered(&version.to_lowercase()),
            PinTarget::Origin(host) => release.is_some_and(|r| r.site.eq_ignore_ascii_case(host)),
            PinTarget::Release(terms) => {
                let Some(release) = release else { return false };
                terms.iter().all(|(key, pattern)| {
                    let value = match key {
                        'a' => release.suite.as_str(),
                        'n' => release.codename.as_str(),
                        'v' => release.version.as_str(),
                        'o' => release.origin.as_str(),
                        'l' => release.label.as_str(),
                        'c' => file.component.as_str(),
                        _ => return false,
                    };
                    if value.bytes().any(|b| b.is_ascii_uppercase()) {
                        pattern.matches_lowered(&value.to_ascii_lowercase())
                    } else {
                        pattern.matches_lowered(value)
                    }
                })
            }
        }
    }

    /// The priority of one version of `package` as offered by one index file.
    pub fn priority(
        &self,
        package: &str,
        version: &str,
        release: Option<&ReleaseInfo>,
        file: &IndexFile,
    ) -> i32 {
        if !self.pins.is_empty() {
            // Debian package names are lower case by policy; lower-case only when needed.
            let lowered: std::borrow::Cow<'_, str> =
                if package.bytes().any(|b| b.is_ascii_uppercase()) {
                    std::borrow::Cow::Owned(package.to_ascii_lowercase())
                } else {
                    std::borrow::Cow::Borrowed(package)
                };
            for pin in &self.pins {
                if let Some(names) = &pin.packages
                    && names.iter().any(|n| n.matches_lowered(&lowered))
                    && Self::target_matches(&pin.target, version, release, file)
                {
                    return pin.priority;
                }
            }
            for pin in self.pins.iter().filter(|p| p.packages.is_none()) {
                if !matches!(pin.target, PinTarget::Version(_))
                    && Self::target_matches(&pin.target, version, release, file)
                {
                    return pin.priority;
                }
            }
        }
        default_priority(release)
    }
}

/// A package file's priority without pins.
pub fn default_priority(release: Option<&ReleaseInfo>) -> i32 {
    match release {
        Some(r) if r.not_automatic && r.but_automatic_upgrades => 100,
        Some(r) if r.not_automatic => 1,
        _ => 500,
    }
}

/// The priority of the installed version as recorded in dpkg's status file.
pub const STATUS_PRIORITY: i32 = 100;

/// The priority of a version from an archive with no pin and no `NotAutomatic`.
pub const DEFAULT_PRIORITY: i32 = 500;

/// Picks the candidate among versions sorted newest first, each with its priority (the
/// highest over the files offering it). `installed` is the index of the installed version.
///
/// ```
/// use patch_baseline::apt::policy::candidate;
/// // newer version in a NotAutomatic archive (priority 1): the installed one (100) stays
/// assert_eq!(candidate(&[1, 100], Some(1)), Some(1));
/// // newer version at 500: upgrade
/// assert_eq!(candidate(&[500, 100], Some(1)), Some(0));
/// // nothing installed: highest priority, ties to the newest
/// assert_eq!(candidate(&[500, 990, 990], None), Some(1));
/// ```
pub fn candidate(priorities: &[i32], installed: Option<usize>) -> Option<usize> {
    let mut best = None;
    let mut max = 0;
    let mut installed_seen = false;
    for (index, &priority) in priorities.iter().enumerate() {
        let allowed = !installed_seen || priority >= 1000;
        if allowed && priority > max {
            best = Some(index);
            max = priority;
        }
        if Some(index) == installed {
            installed_seen = true;
            if best.is_none() {
                best = Some(index);
            }
        }
    }
    best
}
