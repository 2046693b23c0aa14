//! zypper's package locks, read natively from the locks file (`etc/zypp/locks`, the file
//! `zypper addlock` writes): which names (globs), architecture, editions and repository each
//! lock covers. A lock that matches an installed package keeps that package as it is; a lock
//! that matches an available version keeps that version out. Patch locks do not stop a
//! package update and are ignored here.

use std::path::Path;

use crate::pattern::EditionOp;

/// Where the locks file lives under a root.
pub const LOCKS_FILE: &str = "etc/zypp/locks";

/// One package lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// `solvable_name`: the name, a glob unless `match_type` says otherwise.
    pub name: String,
    /// `match_type: exact` (else glob).
    pub exact: bool,
    /// `case_sensitive: off` makes the name match any case.
    pub case_sensitive: bool,
    /// `solvable_arch`, when the lock is for one architecture.
    pub arch: Option<String>,
    /// `version: OP EDITION`, when the lock is for some editions only.
    pub edition: Option<(EditionOp, String)>,
    /// `repo`, when the lock is for one repository's packages only.
    pub repo: Option<String>,
}

impl Lock {
    /// Whether the lock covers this package version (from `repo`, `None` when installed).
    pub fn matches(&self, name: &str, arch: &str, version: &str, repo: Option<&str>) -> bool {
        let name_matches = match (self.exact, self.case_sensitive) {
            (true, true) => self.name == name,
            (true, false) => self.name.eq_ignore_ascii_case(name),
            (false, true) => crate::pattern::glob(&self.name, name),
            (false, false) => crate::pattern::glob(&self.name.to_lowercase(), &name.to_lowercase()),
        };
        name_matches
            && self.arch.as_deref().is_none_or(|a| a == arch)
            && self
                .edition
                .as_ref()
                .is_none_or(|(op, edition)| op.holds(version, edition))
            && self
                .repo
                .as_deref()
                .is_none_or(|wanted| repo.is_none_or(|r| r == wanted))
    }
}

/// The package locks of a locks file's text (blocks of `key: value` lines separated by blank
/// lines), and how many package locks this reader cannot interpret (a `regex` match, say).
/// Blocks for other kinds (patches, patterns) are left out.
pub fn parse(text: &str) -> (Vec<Lock>, usize) {
    let mut locks = Vec::new();
    let mut not_understood = 0;
    for block in text.split("\n\n") {
        let mut kind = "package".to_string();
        let mut lock = Lock {
            name: String::new(),
            exact: false,
            case_sensitive: true,
            arch: None,
            edition: None,
            repo: None,
        };
        let mut understood = true;
        for line in block.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "type" => kind = value.to_string(),
                "solvable_name" => lock.name = value.to_string(),
                "solvable_arch" => lock.arch = Some(value.to_string()),
                "repo" => lock.repo = Some(value.to_string()),
                "match_type" => match value {
                    "exact" => lock.exact = true,
                    "glob" => lock.exact = false,
                    _ => understood = false,
                },
                "case_sensitive" => lock.case_sensitive = value != "off",
                "version" => {
                    let mut words = value.split_whitespace();
                    match (
                        words.next().and_then(EditionOp::parse),
                        words.next(),
                        words.next(),
                    ) {
                        (Some(op), Some(edition), None) => {
                            lock.edition = Some((op, edition.to_string()));
                        }
                        _ => understood = false,
                    }
                }
                _ => {}
            }
        }
        if kind == "package" && !lock.name.is_empty() {
            if understood {
                locks.push(lock);
            } else {
                not_understood += 1;
            }
        }
    }
    (locks, not_understood)
}

/// The package locks under `root` (none when there is no locks file), and how many could not
/// be interpreted.
pub fn read(root: &Path) -> (Vec<Lock>, usize) {
    std::fs::read_to_string(root.join(LOCKS_FILE))
        .map(|text| parse(&text))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_as_zypper_writes_them() {
        // Written by zypper 1.14 `addlock -t patch P`, `addlock 'b*'`, `addlock 'dep < 2'`,
        // `addlock 'rej = 1.1-1'`.
        let text = "\ntype: patch\nmatch_type: glob\ncase_sensitive: on\nsolvable_name: P\n\n\ntype: package\nmatch_type: glob\ncase_sensitive: on\nsolvable_name: b*\n\n\ntype: package\nversion: < 2\nmatch_type: glob\ncase_sensitive: on\nsolvable_name: dep\n\n\ntype: package\nversion: == 1.1-1\nmatch_type: glob\ncase_sensitive: on\nsolvable_name: rej\n";
        let (locks, odd) = parse(text);
        assert_eq!(odd, 0);
        assert_eq!(locks.len(), 3);
        assert!(locks[0].matches("bb", "noarch", "1.0-1", None));
        assert!(!locks[0].matches("ab", "noarch", "1.0-1", None));
        assert!(locks[1].matches("dep", "noarch", "1.9-7", Some("r")));
        assert!(!locks[1].matches("dep", "noarch", "2.0-1", Some("r")));
        assert!(locks[2].matches("rej", "noarch", "1.1-1", Some("r")));
        assert!(!locks[2].matches("rej", "noarch", "1.1-2", Some("r")));
        // `aa.noarch` is a name glob for zypper: it does not lock `aa`.
        let (locks, _) = parse("type: package\nsolvable_name: aa.noarch\n");
        assert!(!locks[0].matches("aa", "noarch", "1-1", None));
        let (locks, odd) = parse("type: package\nmatch_type: regex\nsolvable_name: a.*\n");
        assert!(locks.is_empty() && odd == 1);
    }
}
