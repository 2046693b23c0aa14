//! Readers of zypper's machine output (`--xmlout`, `LC_ALL=C`): the package editions of
//! `search -s -t package`, the patches of `list-patches --all` (category, severity, issue date,
//! status, restart flag, CVE and Bugzilla references), the messages of any command (which
//! repositories failed), and the `Conflicts` lines of `info -t patch` (which package editions a
//! patch brings). The scan uses them when it cannot read zypper's cache natively.

use chrono::{TimeZone, Utc};
use quick_xml::events::Event;

use crate::fasthash::FastMap;
use crate::inventory::Advisory;
use crate::rpm::updateinfo::attribute;

/// zypper's machine output that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("zypper's XML output ({what}): {message}")]
pub struct ZypperXmlError {
    /// Which command's output.
    pub what: String,
    /// What is wrong.
    pub message: String,
}

/// An element's attributes and the (type, id) of the issues inside it.
type Element = (FastMap<String, String>, Vec<(String, String)>);

/// Every element named `element` in an XML text, with its attributes, and (for `<update>`)
/// the issue references inside it.
fn elements(xml_text: &str, what: &str, element: &str) -> Result<Vec<Element>, ZypperXmlError> {
    let mut xml = quick_xml::Reader::from_str(xml_text);
    let mut found: Vec<Element> = Vec::new();
    let mut inside = false;
    let mut depth = 0usize;
    loop {
        let event = xml.read_event().map_err(|e| ZypperXmlError {
            what: what.to_string(),
            message: format!("at byte {}: {e}", xml.buffer_position()),
        })?;
        match event {
            Event::Eof if depth > 0 => {
                return Err(ZypperXmlError {
                    what: what.to_string(),
                    message: "ends with elements still open: truncated?".to_string(),
                });
            }
            Event::Eof => break,
            Event::Start(ref e) | Event::Empty(ref e) => {
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
                let name = e.local_name().into_inner();
                if name == element {
                    let attributes = e
                        .attributes()
                        .with_checks(false)
                        .flatten()
                        .filter_map(|a| {
                            Some((
                                a.key.local_name().into_inner().to_string(),
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .ok()?
                                    .trim()
                                    .to_string(),
                            ))
                        })
                        .collect();
                    found.push((attributes, Vec::new()));
                    inside = matches!(event, Event::Start(_));
                } else if inside && name == "issue" {
                    if let Some(last) = found.last_mut() {
                        last.1.push((
                            attribute(e, "type").unwrap_or_default(),
                            attribute(e, "id").unwrap_or_default(),
                        ));
                    }
                } else if inside
                    && name == "issue-date"
                    && let (Some(last), Some(time)) = (found.last_mut(), attribute(e, "time_t"))
                {
                    last.0.insert("issue-date".to_string(), time);
                }
            }
            Event::End(ref e) => {
                depth = depth.saturating_sub(1);
                if e.local_name().into_inner() == element {
                    inside = false;
                }
            }
            _ => {}
        }
    }
    Ok(found)
}

/// A package edition the repositories offer (`search -s -t package`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solvable {
    /// Name.
    pub name: String,
    /// Edition (`[epoch:]version-release`).
    pub edition: String,
    /// Architecture.
    pub arch: String,
    /// Repository alias (empty for installed-only packages).
    pub repository: String,
    /// `installed`, `not-installed`, `other-version`.
    pub status: String,
}

/// The solvables of `zypper --xmlout search -s -t package` output.
pub fn parse_search(text: &str) -> Result<Vec<Solvable>, ZypperXmlError> {
    Ok(elements(text, "search", "solvable")?
        .into_iter()
        .map(|(a, _)| {
            let get = |k: &str| a.get(k).cloned().unwrap_or_default();
            Solvable {
                name: get("name"),
                edition: get("edition"),
                arch: get("arch"),
                repository: get("repository"),
                status: get("status"),
            }
        })
        .filter(a_package)
        .collect())
}

fn a_package(solvable: &Solvable) -> bool {
    !solvable.name.is_empty() && !solvable.edition.is_empty()
}

/// One patch of `zypper --xmlout list-patches --all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The advisory as the core sees it (id = patch name, type = category).
    pub advisory: Advisory,
    /// `needed`, `applied`, `not-needed`, `optional`, …
    pub status: String,
    /// The patch's edition.
    pub edition: String,
}

/// The patches of `zypper --xmlout list-patches --all` (or `list-updates -t patch`) output.
pub fn parse_patches(text: &str) -> Result<Vec<Patch>, ZypperXmlError> {
    Ok(elements(text, "list-patches", "update")?
        .into_iter()
        .filter(|(a, _)| a.get("kind").is_some_and(|k| k == "patch"))
        .map(|(a, issues)| {
            let get = |k: &str| a.get(k).cloned().unwrap_or_default();
            let ids = |kind: &str| -> Vec<String> {
                issues
                    .iter()
                    .filter(|(t, id)| t == kind && !id.is_empty())
                    .map(|(_, id)| id.clone())
                    .collect()
            };
            let severity = get("severity");
            Patch {
                advisory: Advisory {
                    id: get("name").into(),
                    kind: get("category"),
                    severity: (!severity.is_empty() && severity != "unspecified")
                        .then_some(severity),
                    issued: a
                        .get("issue-date")
                        .and_then(|t| t.parse::<i64>().ok())
                        .and_then(|t| Utc.timestamp_opt(t, 0).single()),
                    updated: None,
                    cves: ids("cve"),
                    bugzillas: ids("bugzilla"),
                    reboot_suggested: get("restart") == "true",
                },
                status: get("status"),
                edition: get("edition"),
            }
        })
        .collect())
}

/// The `<message type="…">` texts of a zypper XML stream, as (type, text).
pub fn parse_messages(text: &str) -> Vec<(String, String)> {
    let mut xml = quick_xml::Reader::from_str(text);
    let mut messages: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    // A stream cut short still yields the messages before the cut.
    while let Ok(event) = xml.read_event() {
        match event {
            Event::Eof => break,
            Event::Start(ref e) if e.local_name().into_inner() == "message" => {
                messages.push((attribute(e, "type").unwrap_or_default(), String::new()));
                inside = true;
            }
            Event::Text(ref t) if inside => {
                if let Some(last) = messages.last_mut() {
                    last.1
                        .push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0));
                }
            }
            Event::GeneralRef(ref r) if inside => {
                if let Some(last) = messages.last_mut() {
                    let entity = format!("&{};", r.xml_content(quick_xml::XmlVersion::Implicit1_0));
                    last.1
                        .push_str(&quick_xml::escape::unescape(&entity).unwrap_or_default());
                }
            }
            Event::End(ref e) if e.local_name().into_inner() == "message" => inside = false,
            _ => {}
        }
    }
    messages
}

/// The package editions each patch brings, from `zypper info -t patch NAME…` text output: its
/// `Conflicts` lines, `name[.arch] < edition` (a patch conflicts with the older editions of the
/// packages it updates). Returns (patch, name, arch if given, edition).
pub fn parse_patch_conflicts(text: &str) -> Vec<(String, String, Option<String>, String)> {
    let mut found = Vec::new();
    let mut patch = String::new();
    let mut in_conflicts = false;
    for line in text.lines() {
        let (key, value) = match line.split_once(" : ") {
            Some((key, value)) if !key.starts_with(' ') && !key.trim().is_empty() => {
                (key.trim(), value.trim())
            }
            _ => ("", line.trim()),
        };
        if !key.is_empty() {
            in_conflicts = key == "Conflicts";
            if key == "Name" {
                patch = value.to_string();
            }
        } else if line.is_empty() || !line.starts_with(' ') {
            in_conflicts = false;
            continue;
        }
        if !in_conflicts {
            continue;
        }
        // `Conflicts   : [2]` opens an indented list; a single entry stands on the line.
        if value.starts_with('[') && value.ends_with(']') {
            continue;
        }
        let words: Vec<&str> = value.split_whitespace().collect();
        if let [package, "<", edition] = words[..] {
            let (name, arch) = match package.rsplit_once('.') {
                Some((name, arch)) if KNOWN_ARCHES.contains(&arch) => {
                    (name.to_string(), Some(arch.to_string()))
                }
                _ => (package.to_string(), None),
            };
            found.push((patch.clone(), name, arch, edition.to_string()));
        }
    }
    found
}

/// The architectures a `name.arch` in zypper's output can end with.
const KNOWN_ARCHES: &[&str] = &[
    "x86_64", "noarch", "i586", "i686", "aarch64", "ppc64le", "s390x", "armv7hl", "src", "nosrc",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/fixtures/zypper/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn real_leap16_list_patches() {
        // openSUSE Leap 16.0 `zypper --xmlout list-patches --category security`: two patches,
        // each listed once per repository carrying it.
        let text = fixture("leap16-aarch64-zypper-xmlout-list-patches-security.TRIMMED.xml");
        let patches = parse_patches(&text).unwrap();
        let names: Vec<&str> = patches.iter().map(|p| p.advisory.id.as_str()).collect();
        assert_eq!(
            names,
            [
                "openSUSE-Leap-16.0-112",
                "openSUSE-Leap-16.0-113",
                "openSUSE-Leap-16.0-112",
                "openSUSE-Leap-16.0-113"
            ]
        );
        let qemu = &patches[0].advisory;
        assert_eq!(
            (
                qemu.kind.as_str(),
                qemu.severity.as_deref(),
                qemu.reboot_suggested
            ),
            ("security", Some("important"), false)
        );
        assert_eq!(qemu.issued.map(|t| t.timestamp()), Some(1_766_061_723));
        assert!(qemu.cves.contains(&"CVE-2025-11234".to_string()));
        assert!(qemu.cves.iter().all(|c| c.starts_with("CVE-")));
        assert_eq!(patches[0].status, "needed");
        let kernel = &patches[1].advisory;
        assert!(kernel.reboot_suggested);
        assert!(kernel.bugzillas.contains(&"1235463".to_string()));
        // Jira references are neither CVEs nor Bugzilla ids.
        assert!(
            !kernel
                .cves
                .iter()
                .chain(&kernel.bugzillas)
                .any(|i| i.starts_with("PED-"))
        );
    }

    #[test]
    fn real_outputs_without_patches_or_editions() {
        // `list-updates` lists packages, not patches; Salt's `search -t patch` solvables have no
        // edition: neither yields anything, and neither is an error.
        for name in [
            "leap16-aarch64-zypper-xmlout-list-updates.xml",
            "salt-zypper-list-updates.xml",
        ] {
            assert!(parse_patches(&fixture(name)).unwrap().is_empty(), "{name}");
        }
        assert!(
            parse_search(&fixture("salt-zypper-search-patches.xml"))
                .unwrap()
                .is_empty()
        );
        let messages = parse_messages(&fixture("salt-zypper-list-updates.xml"));
        assert_eq!(
            messages[0],
            ("info".to_string(), "Loading repository data...".to_string())
        );
    }

    #[test]
    fn search_output_and_truncation() {
        let search = r#"<stream><search-result version="0.0"><solvable-list>
<solvable status="other-version" name="aa" kind="package" edition="1.2-1" arch="noarch" repository="test"/>
<solvable status="installed" name="aa" kind="package" edition="1.0-1" arch="noarch" repository="(System Packages)"/>
</solvable-list></search-result></stream>"#;
        let solvables = parse_search(search).unwrap();
        assert_eq!(solvables.len(), 2);
        assert_eq!(
            (
                solvables[0].edition.as_str(),
                solvables[0].repository.as_str()
            ),
            ("1.2-1", "test")
        );
        let error = parse_patches("<stream><update-status><update-list><update kind=\"patch\"")
            .unwrap_err();
        assert!(error.to_string().contains("list-patches"), "{error}");
    }

    #[test]
    fn patch_conflicts_single_and_listed() {
        // zypper 1.14.42 `info -t patch` (one package), and the list form of several.
        let text = "Information for patch SUSE-2026-1:\n----------------------------------\nRepository  : test\nName        : SUSE-2026-1\nVersion     : 1\nStatus      : needed\nCategory    : security\nProvides    : patch:SUSE-2026-1 = 1\nConflicts   : aa < 1.1-1\n\n\nInformation for patch SUSE-2026-2:\n----------------------------------\nName        : SUSE-2026-2\nConflicts   : [2]\n    bb.x86_64 < 2:1.1-1\n    libbb1 < 1.1-1\n\n";
        assert_eq!(
            parse_patch_conflicts(text),
            vec![
                ("SUSE-2026-1".into(), "aa".into(), None, "1.1-1".into()),
                (
                    "SUSE-2026-2".into(),
                    "bb".into(),
                    Some("x86_64".into()),
                    "2:1.1-1".into()
                ),
                ("SUSE-2026-2".into(), "libbb1".into(), None, "1.1-1".into()),
            ]
        );
    }
}
