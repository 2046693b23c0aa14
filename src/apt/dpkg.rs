//! dpkg's status database (`var/lib/dpkg/status`), parsed natively: which packages are
//! installed, in which version and architecture, whether they are held, and since when
//! (the mtime of their `info/<name>[:<arch>].list`).

use std::path::Path;

use chrono::{DateTime, Utc};
use compact_str::CompactString;

use super::deb822::{Paragraphs, field_value};

/// One installed package as dpkg records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgPackage {
    /// Name.
    pub name: CompactString,
    /// Architecture (`amd64`, `all`, …).
    pub arch: CompactString,
    /// Installed version.
    pub version: CompactString,
    /// `Status: hold …`: the administrator pinned this version.
    pub held: bool,
    /// `Priority` of the status entry (lower case).
    pub priority: Option<CompactString>,
    /// `Section` of the status entry.
    pub section: Option<CompactString>,
    /// The state when it is not `installed`: `half-installed`, `unpacked`, `half-configured`,
    /// `triggers-awaited` or `triggers-pending`, what an interrupted dpkg leaves.
    pub unfinished: Option<CompactString>,
}

/// An unreadable status file: where and what.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DpkgError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Parses a status file's text. Paragraphs whose status is not an installed one
/// (`not-installed`, `config-files`) are skipped, as are paragraphs without a `Status` field
/// (distroless `status.d` style) only when they also lack a version.
///
/// ```
/// use patch_baseline::apt::dpkg::parse_status;
/// let text = b"Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\n\n\
///              Package: b\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 2\n";
/// let packages = parse_status(text).unwrap();
/// assert_eq!(packages.len(), 1);
/// assert_eq!(packages[0].name, "a");
/// ```
pub fn parse_status(text: &[u8]) -> Result<Vec<DpkgPackage>, String> {
    let mut out = Vec::new();
    for (line, paragraph) in Paragraphs::new(text) {
        let field = |name: &str| field_value(paragraph, name);
        let Some(name) = field("Package") else {
            return Err(format!("line {line}: paragraph without a Package field"));
        };
        if name.is_empty() {
            // No package to report (syft's distroless status.d files have such stanzas).
            continue;
        }
        let Some(version) = field("Version") else {
            // dpkg keeps entries of removed packages without a version.
            continue;
        };
        let status = field("Status").unwrap_or("install ok installed");
        let mut words = status.split_ascii_whitespace();
        let (want, state) = (words.next().unwrap_or(""), words.nth(1).unwrap_or(""));
        if matches!(state, "not-installed" | "config-files" | "") {
            continue;
        }
        let arch = field("Architecture").unwrap_or("all");
        out.push(DpkgPackage {
            name: name.into(),
            arch: arch.into(),
            version: version.into(),
            held: want == "hold",
            priority: field("Priority").map(|p| p.to_ascii_lowercase().into()),
            section: field("Section").map(Into::into),
            unfinished: (state != "installed").then(|| state.into()),
        });
    }
    Ok(out)
}

/// Reads `var/lib/dpkg/status` under `root`.
pub fn read_status(root: &Path) -> Result<Vec<DpkgPackage>, DpkgError> {
    let path = root.join("var/lib/dpkg/status");
    let text = std::fs::read(&path).map_err(|e| DpkgError {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse_status(&text).map_err(|message| DpkgError {
        path: path.display().to_string(),
        message,
    })
}

/// What an interrupted dpkg left under `root`: the packages whose state is not `installed`
/// (`name (state)`), and whether dpkg's journal (`var/lib/dpkg/updates`) holds entries, which
/// makes apt refuse to run ("dpkg was interrupted").
pub fn unfinished(root: &Path, packages: &[DpkgPackage]) -> (Vec<String>, bool) {
    let names = packages
        .iter()
        .filter_map(|p| {
            p.unfinished
                .as_ref()
                .map(|state| format!("{} ({state})", p.name))
        })
        .collect();
    let journal = std::fs::read_dir(root.join("var/lib/dpkg/updates")).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
    });
    (names, journal)
}

/// When a package was installed: the mtime of `var/lib/dpkg/info/<name>:<arch>.list`, else of
/// `<name>.list` (spec §2.5).
pub fn installed_time(root: &Path, package: &DpkgPackage) -> Option<DateTime<Utc>> {
    let info = root.join("var/lib/dpkg/info");
    let qualified = info.join(format!("{}:{}.list", package.name, package.arch));
    let plain = info.join(format!("{}.list", package.name));
    let metadata = std::fs::metadata(&qualified)
        .or_else(|_| std::fs::metadata(&plain))
        .ok()?;
    metadata.modified().ok().map(DateTime::<Utc>::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A paragraph whose `Package:` is empty names no package and is skipped; it gave a
    /// package with an empty name. Found by `cargo fuzz` (target `dpkg_status`).
    #[test]
    fn fuzz_paragraph_with_an_empty_package() {
        let text = include_bytes!("../../fixtures/fuzz/dpkg_status-crash-5c194f99");
        let packages = parse_status(text).unwrap();
        assert!(packages.iter().all(|p| !p.name.is_empty()), "{packages:?}");
        assert!(parse_status(b"Package:\nVersion: 1\n").unwrap().is_empty());
    }
}
