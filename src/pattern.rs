//! Approved/rejected patch entries and install override lists (spec §3): the name forms a
//! package is known by, and case-insensitive matching with `*`, `?` and `[…]` wildcards.

use std::fmt::Write as _;

use serde::Deserialize;

use crate::model::Family;
use crate::version::RpmEvr;

/// The identity of one package version, from which its name forms are generated.
#[derive(Debug, Clone, Copy)]
pub struct PackageRef<'a> {
    /// Package name.
    pub name: &'a str,
    /// Architecture (`x86_64`, `noarch`, `amd64`, `all`, …).
    pub arch: &'a str,
    /// Version string in the family's scheme (RPM `[e:]v-r`, Debian version).
    pub version: &'a str,
}

/// Every name form of spec §3 for a package, lower-cased: 12 for RPM families, 6 for APT.
///
/// ```
/// use patch_baseline::pattern::{name_forms, PackageRef};
/// use patch_baseline::model::Family;
/// let forms = name_forms(Family::Rpm, PackageRef { name: "dbus", arch: "x86_64", version: "1:1.12.28-1.amzn2023.0.1" });
/// assert!(forms.contains(&"dbus.x86_64:1:1.12.28-1.amzn2023.0.1".to_string()));
/// assert_eq!(forms.len(), 12);
/// ```
pub fn name_forms(family: Family, package: PackageRef<'_>) -> Vec<String> {
    let n = package.name.to_lowercase();
    let a = package.arch.to_lowercase();
    match family {
        Family::Apt => {
            let v = package.version.to_lowercase();
            vec![
                format!("{n}.{a}:{v}"),
                format!("{n}-{v}"),
                format!("{a}:{v}"),
                format!("{n}.{a}"),
                v,
                n,
            ]
        }
        Family::Rpm | Family::Zypper => {
            let evr = RpmEvr::parse(package.version);
            let e = evr.epoch_or_zero();
            let v = evr.version().to_lowercase();
            let vr = match evr.release() {
                Some(r) => format!("{v}-{}", r.to_lowercase()),
                None => v.clone(),
            };
            vec![
                format!("{n}.{a}:{e}:{vr}"),
                format!("{e}:{n}-{vr}.{a}"),
                format!("{n}-{e}:{vr}.{a}"),
                format!("{n}-{e}:{vr}"),
                format!("{n}-{vr}.{a}"),
                format!("{n}-{vr}"),
                format!("{n}-{v}"),
                format!("{n}.{a}"),
                format!("{e}:{vr}"),
                vr,
                v,
                n,
            ]
        }
    }
}

/// The strings every name form of a package starts with: name, version and epoch (RPM) or
/// name, version and architecture (APT).
struct FormStarts<'a>([&'a str; 3]);

impl<'a> FormStarts<'a> {
    fn new(family: Family, package: PackageRef<'a>) -> Self {
        match family {
            Family::Apt => Self([package.name, package.version, package.arch]),
            Family::Rpm | Family::Zypper => {
                let evr = RpmEvr::parse(package.version);
                Self([package.name, evr.version(), evr.epoch_or_zero()])
            }
        }
    }
}

/// One entry of an approved, rejected or override list, compiled once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    original: String,
    lowered: String,
    wildcard: bool,
    /// Length of the literal text before the first wildcard.
    literal_prefix: usize,
}

impl Pattern {
    /// Compiles an entry; `*`, `?` and `[` make it a wildcard pattern.
    pub fn new(entry: &str) -> Self {
        let lowered = entry.trim().to_lowercase();
        let literal_prefix = lowered.find(['*', '?', '[']).unwrap_or(lowered.len());
        Self {
            original: entry.to_string(),
            wildcard: literal_prefix < lowered.len(),
            lowered,
            literal_prefix,
        }
    }

    /// The entry as written.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// True if and only if the entry matches `text` (already lower-cased) as a whole.
    pub fn matches_lowered(&self, text: &str) -> bool {
        if self.wildcard {
            glob_match(self.lowered.as_bytes(), text.as_bytes())
        } else {
            self.lowered == text
        }
    }

    /// Cheap necessary condition for [`Self::matches_package`]: every name form starts with the
    /// name, the version, the epoch or the architecture, so the entry's literal prefix (up to
    /// its first wildcard) must agree with one of those on their common length.
    fn could_match(&self, starts: &FormStarts<'_>) -> bool {
        let prefix = &self.lowered.as_bytes()[..self.literal_prefix];
        if prefix.is_empty() {
            return true;
        }
        let agrees = |start: &str| {
            let length = prefix.len().min(start.len());
            prefix[..length].eq_ignore_ascii_case(&start.as_bytes()[..length])
        };
        starts.0.iter().any(|start| agrees(start))
    }

    /// True if and only if the entry matches any name form of the package.
    pub fn matches_package(&self, family: Family, package: PackageRef<'_>) -> bool {
        self.could_match(&FormStarts::new(family, package))
            && name_forms(family, package)
                .iter()
                .any(|form| self.matches_lowered(form))
    }
}

/// fnmatch-style matching of a whole string: `*`, `?`, `[seq]`, `[!seq]`.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class_match(pattern, p, text[t]) {
                        if matched {
                            p = next;
                            t += 1;
                            continue;
                        }
                    } else if text[t] == b'[' {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((star_p, star_t)) => {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `pattern[start] == b'['`; returns whether it
/// matched and the index after the class, or `None` if the class is not closed (then `[` is
/// literal, as in Python's fnmatch).
fn class_match(pattern: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = pattern.get(i) == Some(&b'!');
    if negate {
        i += 1;
    }
    let first = i;
    let mut matched = false;
    while i < pattern.len() && (pattern[i] != b']' || i == first) {
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|&e| e != b']') {
            if (pattern[i]..=pattern[i + 2]).contains(&c) {
                matched = true;
            }
            i += 3;
        } else {
            if pattern[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    if i >= pattern.len() {
        return None;
    }
    Some((matched != negate, i + 1))
}

/// A compiled `ApprovedPatches` or `RejectedPatches` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternList {
    patterns: Vec<Pattern>,
    has_exact: bool,
}

impl PatternList {
    /// Compiles a list of entries.
    pub fn new(entries: &[String]) -> Self {
        let patterns: Vec<Pattern> = entries.iter().map(|e| Pattern::new(e)).collect();
        let has_exact = patterns.iter().any(|p| !p.wildcard);
        Self {
            patterns,
            has_exact,
        }
    }

    /// True if and only if the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The first entry that matches a name form of the package, if any.
    pub fn match_package(&self, family: Family, package: PackageRef<'_>) -> Option<&str> {
        if self.patterns.is_empty() {
            return None;
        }
        let starts = FormStarts::new(family, package);
        let mut forms: Option<Vec<String>> = None;
        for pattern in &self.patterns {
            if !pattern.could_match(&starts) {
                continue;
            }
            let forms = forms.get_or_insert_with(|| name_forms(family, package));
            if forms.iter().any(|f| pattern.matches_lowered(f)) {
                return Some(pattern.as_str());
            }
        }
        None
    }

    /// The first entry equal (ignoring case) to an advisory, CVE or Bugzilla id, if any.
    pub fn match_id(&self, id: &str) -> Option<&str> {
        if !self.has_exact {
            return None;
        }
        self.patterns
            .iter()
            .find(|p| !p.wildcard && p.lowered.eq_ignore_ascii_case(id))
            .map(Pattern::as_str)
    }
}

/// An error in an install override list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct OverrideListError {
    /// The file name or URL.
    pub source_name: String,
    /// What is wrong and where.
    pub message: String,
}

/// One entry of an install override list: an `id` and an optional `title`, both of which must
/// match (spec §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideEntry {
    /// Matches a name form, typically `name.arch` (wildcards allowed).
    pub id: Pattern,
    /// When present, must also match a name form, typically `name.arch:epoch:version-release`.
    pub title: Option<Pattern>,
}

/// An install override list (`InstallOverrideList`): which approved updates an Install may apply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstallOverrideList {
    /// The entries, in file order.
    pub entries: Vec<OverrideEntry>,
}

#[derive(Deserialize)]
struct OverrideDocument {
    patches: Option<Vec<serde_yaml_ng::Value>>,
}

impl InstallOverrideList {
    /// Parses the YAML (or JSON) document `patches: [{id: …, title: …}, …]`; other keys are
    /// ignored, a missing `id` is an error.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, OverrideListError> {
        let error = |message: String| OverrideListError {
            source_name: source_name.to_string(),
            message,
        };
        let document: OverrideDocument = serde_yaml_ng::from_str(text).map_err(|e| {
            let location = e
                .location()
                .map(|l| format!("line {} column {}: ", l.line(), l.column()))
                .unwrap_or_default();
            error(format!("{location}not a valid override list: {e}"))
        })?;
        let patches = document
            .patches
            .ok_or_else(|| error("`patches` is missing: expected `patches: [{id: …}]`".into()))?;
        let mut entries = Vec::with_capacity(patches.len());
        for (index, patch) in patches.iter().enumerate() {
            let field = |name: &str| -> Result<Option<String>, OverrideListError> {
                match patch.get(name) {
                    None | Some(serde_yaml_ng::Value::Null) => Ok(None),
                    Some(serde_yaml_ng::Value::String(s)) => Ok(Some(s.clone())),
                    Some(serde_yaml_ng::Value::Number(n)) => Ok(Some(n.to_string())),
                    Some(_) => Err(error(format!("patches[{index}].{name} must be a string"))),
                }
            };
            if !patch.is_mapping() {
                return Err(error(format!(
                    "patches[{index}] must be a map with `id` (and optional `title`)"
                )));
            }
            let id = field("id")?
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| error(format!("patches[{index}].id is missing")))?;
            let title = field("title")?.filter(|s| !s.trim().is_empty());
            entries.push(OverrideEntry {
                id: Pattern::new(&id),
                title: title.as_deref().map(Pattern::new),
            });
        }
        Ok(Self { entries })
    }

    /// The first entry whose `id` and `title` both match the package version, if any.
    pub fn matching_entry(
        &self,
        family: Family,
        package: PackageRef<'_>,
    ) -> Option<&OverrideEntry> {
        self.entries.iter().find(|e| {
            e.id.matches_package(family, package)
                && e.title
                    .as_ref()
                    .is_none_or(|t| t.matches_package(family, package))
        })
    }

    /// Describes an entry as `id` or `id` / `title`.
    pub fn describe(entry: &OverrideEntry) -> String {
        let mut out = entry.id.as_str().to_string();
        if let Some(title) = &entry.title {
            let _ = write!(out, " / {}", title.as_str());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpm(name: &'static str, arch: &'static str, version: &'static str) -> PackageRef<'static> {
        PackageRef {
            name,
            arch,
            version,
        }
    }

    #[test]
    fn all_twelve_rpm_forms_match() {
        let pkg = rpm("dbus", "x86_64", "1:1.12.28-1.amzn2023.0.1");
        for entry in [
            "dbus",
            "dbus.x86_64",
            "dbus-1.12.28",
            "dbus-1.12.28-1.amzn2023.0.1",
            "dbus-1.12.28-1.amzn2023.0.1.x86_64",
            "1.12.28",
            "1.12.28-1.amzn2023.0.1",
            "1:1.12.28-1.amzn2023.0.1",
            "dbus-1:1.12.28-1.amzn2023.0.1",
            "dbus-1:1.12.28-1.amzn2023.0.1.x86_64",
            "1:dbus-1.12.28-1.amzn2023.0.1.x86_64",
            "dbus.x86_64:1:1.12.28-1.amzn2023.0.1",
            "DBUS.X86_64",
            "dbus*",
            "d?us",
            "*.amzn2023.0.1",
            "[a-d]bus",
        ] {
            let list = PatternList::new(&[entry.to_string()]);
            assert_eq!(list.match_package(Family::Rpm, pkg), Some(entry), "{entry}");
        }
        for entry in [
            "dbu",
            "dbus.i686",
            "dbus-2*",
            "2:1.12.28-1.amzn2023.0.1",
            "[!d]bus",
            "bus",
        ] {
            let list = PatternList::new(&[entry.to_string()]);
            assert_eq!(list.match_package(Family::Rpm, pkg), None, "{entry}");
        }
    }

    #[test]
    fn epoch_defaults_to_zero() {
        let pkg = rpm("bash", "x86_64", "5.2.15-1.amzn2023");
        let list = PatternList::new(&["bash-0:5.2.15-1.amzn2023".to_string()]);
        assert!(list.match_package(Family::Rpm, pkg).is_some());
    }

    #[test]
    fn all_six_apt_forms_match() {
        let pkg = rpm("libssl3", "amd64", "3.0.17-1~deb12u3");
        for entry in [
            "libssl3",
            "3.0.17-1~deb12u3",
            "libssl3.amd64",
            "libssl3-3.0.17-1~deb12u3",
            "amd64:3.0.17-1~deb12u3",
            "libssl3.amd64:3.0.17-1~deb12u3",
            "libssl*",
        ] {
            let list = PatternList::new(&[entry.to_string()]);
            assert_eq!(list.match_package(Family::Apt, pkg), Some(entry), "{entry}");
        }
        let list = PatternList::new(&["libssl3.i386".to_string()]);
        assert_eq!(list.match_package(Family::Apt, pkg), None);
    }

    #[test]
    fn ids_match_exactly() {
        let list = PatternList::new(&[
            "ALAS2-2023-1234".into(),
            "CVE-2023-0286".into(),
            "ALAS*".into(),
        ]);
        assert_eq!(list.match_id("alas2-2023-1234"), Some("ALAS2-2023-1234"));
        assert_eq!(list.match_id("CVE-2023-0286"), Some("CVE-2023-0286"));
        assert_eq!(list.match_id("ALAS2-2023-9999"), None);
    }

    #[test]
    fn glob_edge_cases() {
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*b*c", b"aXbYc"));
        assert!(!glob_match(b"a*b*c", b"aXbY"));
        assert!(glob_match(b"[abc", b"[abc"));
        assert!(glob_match(b"[]]x", b"]x"));
    }

    #[test]
    fn override_list_yaml_and_json() {
        let yaml = "patches:\n  - id: 'dhcp*'\n  - id: 'bind.x86_64'\n    title: '32:9.8.2-0.62.rc1.57.amzn1'\n    extra: ignored\n";
        let list = InstallOverrideList::parse(yaml, "o.yaml").unwrap();
        assert_eq!(list.entries.len(), 2);
        let bind_ok = rpm("bind", "x86_64", "32:9.8.2-0.62.rc1.57.amzn1");
        let bind_other = rpm("bind", "x86_64", "32:9.8.2-0.68.rc1.60.amzn1");
        assert!(list.matching_entry(Family::Rpm, bind_ok).is_some());
        assert!(list.matching_entry(Family::Rpm, bind_other).is_none());
        assert!(
            list.matching_entry(Family::Rpm, rpm("dhclient", "x86_64", "1-1"))
                .is_none()
        );
        assert!(
            list.matching_entry(Family::Rpm, rpm("dhcp-common", "noarch", "1-1"))
                .is_some()
        );
        let json = r#"{"patches": [{"id": "curl.x86_64", "title": "*"}]}"#;
        assert_eq!(
            InstallOverrideList::parse(json, "o.json")
                .unwrap()
                .entries
                .len(),
            1
        );
        let missing =
            InstallOverrideList::parse("patches:\n  - title: x\n", "bad.yaml").unwrap_err();
        assert_eq!(missing.to_string(), "bad.yaml: patches[0].id is missing");
        assert!(InstallOverrideList::parse("nope: 1\n", "bad.yaml").is_err());
        assert!(InstallOverrideList::parse("patches: [\n", "bad.yaml").is_err());
    }
}
