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

/// Every name form of spec §3 for a package, lower-cased: 12 for RPM families, 6 for APT; on
/// SUSE also the package file name (`name-version-release.arch.rpm`, spec §3.3's documented form).
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
            let file_name = (family == Family::Zypper).then(|| format!("{n}-{vr}.{a}.rpm"));
            let mut forms = vec![
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
            ];
            forms.extend(file_name);
            forms
        }
    }
}

/// A comparison of the SUSE range form (spec §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditionOp {
    /// `=` or `==`.
    Equal,
    /// `!=`.
    NotEqual,
    /// `<`.
    Less,
    /// `<=`.
    LessOrEqual,
    /// `>`.
    Greater,
    /// `>=`.
    GreaterOrEqual,
}

impl EditionOp {
    /// Reads an operator as written (`=`, `==`, `!=`, `<`, `<=`, `>`, `>=`).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "=" | "==" => Self::Equal,
            "!=" => Self::NotEqual,
            "<" => Self::Less,
            "<=" => Self::LessOrEqual,
            ">" => Self::Greater,
            ">=" => Self::GreaterOrEqual,
            _ => return None,
        })
    }

    /// Whether `version` (`[epoch:]version-release`) stands in this relation to `edition`.
    /// An edition without a release compares versions only; a `*` in it ends the comparison
    /// there (`7.60.*` is every 7.60 version).
    pub fn holds(self, version: &str, edition: &str) -> bool {
        use std::cmp::Ordering;
        let ordering = compare_edition(version, edition);
        match self {
            Self::Equal => ordering == Ordering::Equal,
            Self::NotEqual => ordering != Ordering::Equal,
            Self::Less => ordering == Ordering::Less,
            Self::LessOrEqual => ordering != Ordering::Greater,
            Self::Greater => ordering == Ordering::Greater,
            Self::GreaterOrEqual => ordering != Ordering::Less,
        }
    }
}

/// Compares a package version with an edition as zypper does: the release only when the
/// edition has one, the epoch only when it has one, and up to a `*` only.
fn compare_edition(version: &str, edition: &str) -> std::cmp::Ordering {
    let candidate = RpmEvr::parse(version);
    let wanted = RpmEvr::parse(edition);
    let mut text = String::new();
    if wanted.epoch().is_some() {
        text.push_str(candidate.epoch_or_zero());
        text.push(':');
    }
    text.push_str(candidate.version());
    if let Some(release) = candidate.release().filter(|_| edition.contains('-')) {
        text.push('-');
        text.push_str(release);
    }
    match edition.find('*') {
        Some(star) => {
            let prefix = edition[..star].trim_end_matches(['.', '-', ':', '_', '+', '~']);
            let cut: String = text.chars().take(prefix.chars().count()).collect();
            crate::version::compare_rpm(&cut, prefix)
        }
        None => crate::version::compare_rpm(&text, edition),
    }
}

/// The SUSE range form of spec §3.3: `NAMEPATTERN OP EDITION [OP EDITION]…`, e.g.
/// `kernel-default > 4.12.14-122.37.1` or `curl*.x86_64 = 7.60.0-11.1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeEntry {
    name: String,
    conditions: Vec<(EditionOp, String)>,
}

impl RangeEntry {
    /// Reads an entry in the range form; `None` when it is not one.
    pub fn parse(entry: &str) -> Option<Self> {
        let at = entry.find(['=', '!', '<', '>'])?;
        let name = entry[..at].trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return None;
        }
        let mut conditions = Vec::new();
        let mut rest = entry[at..].trim_start();
        while !rest.is_empty() {
            let op_length = rest
                .find(|c: char| !matches!(c, '=' | '!' | '<' | '>'))
                .unwrap_or(rest.len());
            let op = EditionOp::parse(&rest[..op_length])?;
            rest = rest[op_length..].trim_start();
            let edition_length = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '=' | '!' | '<' | '>'))
                .unwrap_or(rest.len());
            let edition = &rest[..edition_length];
            if edition.is_empty() {
                return None;
            }
            conditions.push((op, edition.to_string()));
            rest = rest[edition_length..].trim_start();
        }
        Some(Self {
            name: name.to_lowercase(),
            conditions,
        })
    }

    /// Whether the package matches: the name pattern matches its name or `name.arch` as a
    /// whole (any case) and every condition holds for its version.
    pub fn matches(&self, package: PackageRef<'_>) -> bool {
        let name = package.name.to_lowercase();
        let with_arch = format!("{name}.{}", package.arch.to_lowercase());
        let pattern = self.name.as_bytes();
        (glob_match(pattern, name.as_bytes()) || glob_match(pattern, with_arch.as_bytes()))
            && self
                .conditions
                .iter()
                .all(|(op, edition)| op.holds(package.version, edition))
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
    /// The SUSE range form, when the entry is one.
    range: Option<RangeEntry>,
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
            range: RangeEntry::parse(entry),
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

    /// True if and only if the entry matches any name form of the package (on SUSE, or the
    /// package is in its range).
    pub fn matches_package(&self, family: Family, package: PackageRef<'_>) -> bool {
        if let Some(range) = &self.range {
            return family == Family::Zypper && range.matches(package);
        }
        self.could_match(&FormStarts::new(family, package))
            && name_forms(family, package)
                .iter()
                .any(|form| self.matches_lowered(form))
    }
}

/// Whether `text` matches the glob `pattern` as a whole (`*`, `?`, `[seq]`, `[!seq]`; case
/// matters).
pub fn glob(pattern: &str, text: &str) -> bool {
    glob_match(pattern.as_bytes(), text.as_bytes())
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

    /// The entries as written, in order.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(Pattern::as_str)
    }

    /// The first entry that matches a name form of the package, if any.
    pub fn match_package(&self, family: Family, package: PackageRef<'_>) -> Option<&str> {
        if self.patterns.is_empty() {
            return None;
        }
        let starts = FormStarts::new(family, package);
        let mut forms: Option<Vec<String>> = None;
        for pattern in &self.patterns {
            if let Some(range) = &pattern.range {
                if family == Family::Zypper && range.matches(package) {
                    return Some(pattern.as_str());
                }
                continue;
            }
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
    /// Made from an approved install plan (`install --plan`), not read from a list: reasons
    /// name the plan.
    pub plan: bool,
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
        Ok(Self {
            entries,
            plan: false,
        })
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
    fn suse_range_form_and_file_names() {
        let zypper = |entry: &str, name: &'static str, version: &'static str| {
            PatternList::new(&[entry.to_string()])
                .match_package(
                    Family::Zypper,
                    PackageRef {
                        name,
                        arch: "x86_64",
                        version,
                    },
                )
                .is_some()
        };
        assert!(zypper(
            "kernel-default > 4.12.14-122.37.1",
            "kernel-default",
            "4.12.14-122.41.1"
        ));
        assert!(!zypper(
            "kernel-default > 4.12.14-122.37.1",
            "kernel-default",
            "4.12.14-122.37.1"
        ));
        // The name pattern matches whole names, not prefixes.
        assert!(!zypper("kernel > 1", "kernel-default", "4.12.14-1"));
        assert!(zypper(
            "curl*.x86_64 = 7.60.0-11.1",
            "curl-mini",
            "7.60.0-11.1"
        ));
        assert!(!zypper(
            "curl*.aarch64 = 7.60.0-11.1",
            "curl",
            "7.60.0-11.1"
        ));
        assert!(zypper("curl = 7.60.*", "curl", "7.60.0-11.1"));
        assert!(!zypper("curl = 7.60.*", "curl", "7.61.0-1"));
        assert!(zypper("curl<7.61", "curl", "7.60.9-99"));
        assert!(zypper("curl >= 7.60 < 7.61", "curl", "7.60.9-99"));
        assert!(!zypper("curl >= 7.60 < 7.61", "curl", "7.61.0-1"));
        assert!(zypper("curl != 7.60.0-11.1", "curl", "7.60.0-11.2"));
        assert!(zypper("curl = 1:7.60.0", "curl", "1:7.60.0-3"));
        assert!(!zypper("curl = 1:7.60.0", "curl", "7.60.0-3"));
        // Only on SUSE; elsewhere a range entry matches nothing.
        let rpm = PatternList::new(&["curl > 1".to_string()]);
        assert!(
            rpm.match_package(
                Family::Rpm,
                PackageRef {
                    name: "curl",
                    arch: "x86_64",
                    version: "7-1"
                }
            )
            .is_none()
        );
        // Not a range: no name, no edition, or an unknown operator.
        for entry in ["> 1", "curl >", "curl <> 1", "curl"] {
            assert_eq!(RangeEntry::parse(entry), None, "{entry}");
        }
        // The documented package file name form.
        assert!(zypper(
            "example-pkg-2018.11.4-46.17.1.x86_64.rpm",
            "example-pkg",
            "2018.11.4-46.17.1"
        ));
        assert!(zypper(
            "example-pkg-2018.11.4-*.x86_64.rpm",
            "example-pkg",
            "2018.11.4-46.17.1"
        ));
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
