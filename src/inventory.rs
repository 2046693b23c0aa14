//! The inventory: what is installed and what is available, with advisory metadata and origins.
//!
//! This is the input of the evaluation core. Backends (apt, dnf, yum, zypper) produce it from the
//! host; `patch-baseline evaluate --inventory FILE` reads it from a JSON file whose format is
//! documented in `docs/formats.md` ("Inventory format"). Loading validates every field and reports the
//! JSON path of the first bad one.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize};

use crate::model::{OperatingSystem, PackageManagerKind, is_valid_package_name, parse_date};

/// An inventory file that failed to load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {path}: {message}")]
pub struct InventoryError {
    /// The file name.
    pub source_name: String,
    /// The JSON path of the offending value.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// One security advisory (updateinfo `<update>`, SUSE patch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Advisory {
    /// Advisory id (`ALAS2-2023-1234`, `RHSA-2024:0001`, SUSE patch name).
    pub id: CompactString,
    /// Type / category as published (`security`, `bugfix`, `recommended`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Severity as published (`Important`, `moderate`, `None`); absent when not published.
    #[serde(default)]
    pub severity: Option<String>,
    /// Issue date.
    #[serde(default, deserialize_with = "de_date")]
    pub issued: Option<DateTime<Utc>>,
    /// Update date.
    #[serde(default, deserialize_with = "de_date")]
    pub updated: Option<DateTime<Utc>>,
    /// CVE ids referenced.
    #[serde(default)]
    pub cves: Vec<String>,
    /// Bugzilla ids referenced.
    #[serde(default)]
    pub bugzillas: Vec<String>,
    /// Whether the advisory suggests a reboot for its packages.
    #[serde(default)]
    pub reboot_suggested: bool,
}

impl Advisory {
    /// The classification as AWS shows it: the type with a capital first letter
    /// (`security` → `Security`).
    pub fn classification(&self) -> Cow<'static, str> {
        classification_of(&self.kind)
    }

    /// The severity as published, or `""`.
    pub fn severity_text(&self) -> &str {
        self.severity.as_deref().map_or("", str::trim)
    }
}

/// The classification AWS shows for an advisory type: the type with a capital first letter;
/// the known vocabulary costs no allocation.
pub fn classification_of(kind: &str) -> Cow<'static, str> {
    const KNOWN: &[&str] = &[
        "Security",
        "Bugfix",
        "Enhancement",
        "Newpackage",
        "Recommended",
        "Optional",
        "Feature",
        "Document",
        "Yast",
    ];
    let kind = kind.trim();
    if let Some(known) = KNOWN.iter().find(|k| k.eq_ignore_ascii_case(kind)) {
        return Cow::Borrowed(known);
    }
    let mut chars = kind.chars();
    match chars.next() {
        Some(first) => Cow::Owned(
            first
                .to_uppercase()
                .chain(chars.flat_map(char::to_lowercase))
                .collect(),
        ),
        None => Cow::Borrowed(""),
    }
}

/// Where an apt package version is offered (one `Release` file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AptOrigin {
    /// `Suite` (apt's "archive"), e.g. `bookworm-security` or `oldstable-security`.
    #[serde(default)]
    pub archive: CompactString,
    /// `Codename`, e.g. `bookworm-security`.
    #[serde(default)]
    pub codename: CompactString,
    /// `Origin`, e.g. `Debian`.
    #[serde(default)]
    pub origin: CompactString,
    /// `Label`, e.g. `Debian-Security`.
    #[serde(default)]
    pub label: CompactString,
    /// The host the repository is on, e.g. `security.debian.org`.
    #[serde(default)]
    pub site: CompactString,
    /// Whether apt trusts the repository (signed, or `[trusted=yes]`).
    #[serde(default)]
    pub trusted: bool,
}

impl AptOrigin {
    /// True if and only if this origin is a security source (spec §2.5): trusted, and its suite
    /// or codename contains `security`, or its site is `security.debian.org`.
    pub fn is_security(&self) -> bool {
        self.trusted
            && (contains_ignore_case(&self.archive, "security")
                || contains_ignore_case(&self.codename, "security")
                || contains_ignore_case(&self.site, "security.debian.org"))
    }
}

/// True if and only if `haystack` contains `needle` (ASCII, any case); allocates nothing.
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

/// An installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstalledPackage {
    /// Name.
    pub name: CompactString,
    /// Architecture.
    pub arch: CompactString,
    /// Installed version (`[epoch:]version-release` or Debian version).
    pub version: CompactString,
    /// When it was installed, if known.
    #[serde(default, deserialize_with = "de_date")]
    pub installed_time: Option<DateTime<Utc>>,
    /// Held by the administrator (dpkg `hold`, versionlock, zypper lock): reported, never
    /// updated by an install.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// apt: the `Priority` of dpkg's status entry (judged when no archive offers the installed
    /// version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<CompactString>,
    /// apt: the `Section` of dpkg's status entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<CompactString>,
}

/// A version offered by a repository, with what the rules need to judge it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AvailableVersion {
    /// Name.
    pub name: CompactString,
    /// Architecture.
    pub arch: CompactString,
    /// Version.
    pub version: CompactString,
    /// Ids of the advisories (in [`Inventory::advisories`]) that list exactly this version.
    #[serde(default)]
    pub advisories: Vec<CompactString>,
    /// Package build time (RPM), used as the release time when no advisory dates it.
    #[serde(default, deserialize_with = "de_date")]
    pub build_time: Option<DateTime<Utc>>,
    /// apt: the releases offering this version.
    #[serde(default)]
    pub origins: Vec<AptOrigin>,
    /// apt: `Priority`.
    #[serde(default)]
    pub priority: Option<CompactString>,
    /// apt: `Section`.
    #[serde(default)]
    pub section: Option<CompactString>,
    /// The repository it comes from (informational).
    #[serde(default)]
    pub repository: Option<CompactString>,
}

/// A version a repository has that the host's own configuration hides from its package
/// manager (a dnf/yum `exclude` or `includepkgs`, a zypper lock on the edition): never
/// offered, so never judged, and kept only to say so (`explain`). Only versions newer than an
/// installed package of the name are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HiddenVersion {
    /// Name.
    pub name: CompactString,
    /// Architecture.
    pub arch: CompactString,
    /// Version (`[epoch:]version-release`).
    pub version: CompactString,
    /// The repository that has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<CompactString>,
}

/// A package installed by an earlier `NoReboot` install whose reboot has not happened yet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PendingRebootPackage {
    /// Name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// The version that was installed.
    pub version: String,
}

/// The versions offered of packages that are not installed, kept compact: an apt host's lists
/// offer a hundred times more packages than it has installed, and the evaluation only counts
/// those (NotApplicable). Each version is a name, an architecture, a version and a *kind*: the
/// fields and origins the rules look at, shared by every version that has the same ones.
/// Never serialised: [`Inventory::expand_not_installed`] makes them `available` entries for
/// whatever lists every package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotInstalled {
    /// Names and versions, back to back.
    text: String,
    /// The architectures packages are filed under.
    archs: Vec<CompactString>,
    /// The kinds: entries whose name, architecture and version are empty.
    kinds: Vec<AvailableVersion>,
    /// Per package: its name in `text`, its architecture, and where its versions end.
    packages: Vec<CompactPackage>,
    /// Per version: its text and kind.
    versions: Vec<CompactVersion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CompactPackage {
    name: (u32, u32),
    arch: u32,
    end: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CompactVersion {
    version: (u32, u32),
    kind: u32,
}

/// One package of a [`NotInstalled`].
#[derive(Debug, Clone, Copy)]
pub struct NotInstalledPackage<'a> {
    set: &'a NotInstalled,
    /// Name.
    pub name: &'a str,
    /// Architecture.
    pub arch: &'a str,
    versions: &'a [CompactVersion],
}

impl<'a> NotInstalledPackage<'a> {
    /// Its versions, each with its kind (an index into [`NotInstalled::kinds`]).
    pub fn versions(&self) -> impl Iterator<Item = (&'a str, usize)> + 'a {
        let set = self.set;
        self.versions
            .iter()
            .map(move |v| (set.span(v.version), v.kind as usize))
    }
}

impl NotInstalled {
    fn span(&self, (start, len): (u32, u32)) -> &str {
        self.text
            .get(start as usize..(start + len) as usize)
            .unwrap_or("")
    }

    fn push_text(&mut self, text: &str) -> Option<(u32, u32)> {
        let start = u32::try_from(self.text.len()).ok()?;
        let len = u32::try_from(text.len()).ok()?;
        start.checked_add(len)?;
        self.text.push_str(text);
        Some((start, len))
    }

    /// The index of `arch` in the set's architectures, added when new.
    fn arch_index(&mut self, arch: &str) -> usize {
        self.archs
            .iter()
            .position(|a| a == arch)
            .unwrap_or_else(|| {
                self.archs.push(arch.into());
                self.archs.len() - 1
            })
    }

    /// Adds a kind: the priority, section and origins of `kind` (its name, architecture and
    /// version are not used); returns its index.
    pub fn add_kind(&mut self, kind: AvailableVersion) -> usize {
        self.kinds.push(kind);
        self.kinds.len() - 1
    }

    /// The kinds.
    pub fn kinds(&self) -> &[AvailableVersion] {
        &self.kinds
    }

    /// Adds a package that is not installed, filed under `arch`, with `versions` (each with its
    /// kind from [`NotInstalled::add_kind`]); `false` (nothing added) when the set is full
    /// (4 GB of text) or a kind is unknown.
    pub fn push_package<'v>(
        &mut self,
        name: &str,
        arch: &str,
        versions: impl IntoIterator<Item = (&'v str, usize)>,
    ) -> bool {
        let (text_len, versions_len) = (self.text.len(), self.versions.len());
        let arch_index = self.arch_index(arch);
        let added = (|| {
            let name = self.push_text(name)?;
            for (version, kind) in versions {
                if kind >= self.kinds.len() {
                    return None;
                }
                let version = self.push_text(version)?;
                self.versions.push(CompactVersion {
                    version,
                    kind: u32::try_from(kind).ok()?,
                });
            }
            self.packages.push(CompactPackage {
                name,
                arch: u32::try_from(arch_index).ok()?,
                end: u32::try_from(self.versions.len()).ok()?,
            });
            Some(())
        })();
        if added.is_none() {
            self.text.truncate(text_len);
            self.versions.truncate(versions_len);
        }
        added.is_some()
    }

    /// Adds every package of `other` after this set's; `false` (nothing added) when the set
    /// would be full (4 GB of text).
    pub fn append(&mut self, other: &NotInstalled) -> bool {
        let (Ok(text), Ok(versions), Ok(kinds)) = (
            u32::try_from(self.text.len()),
            u32::try_from(self.versions.len()),
            u32::try_from(self.kinds.len()),
        ) else {
            return false;
        };
        if u32::try_from(self.text.len() + other.text.len()).is_err()
            || u32::try_from(self.versions.len() + other.versions.len()).is_err()
        {
            return false;
        }
        let arches: Vec<u32> = other
            .archs
            .iter()
            .map(|arch| u32::try_from(self.arch_index(arch)).unwrap_or(u32::MAX))
            .collect();
        self.text.push_str(&other.text);
        self.kinds.extend(other.kinds.iter().cloned());
        self.versions
            .extend(other.versions.iter().map(|v| CompactVersion {
                version: (v.version.0 + text, v.version.1),
                kind: v.kind + kinds,
            }));
        self.packages
            .extend(other.packages.iter().map(|p| CompactPackage {
                name: (p.name.0 + text, p.name.1),
                arch: arches.get(p.arch as usize).copied().unwrap_or(u32::MAX),
                end: p.end + versions,
            }));
        true
    }

    /// Every version as an `available` entry.
    pub fn to_available(&self) -> Vec<AvailableVersion> {
        let mut available = Vec::with_capacity(self.versions.len());
        for package in self.packages() {
            for (version, kind) in package.versions() {
                if let Some(kind) = self.kinds.get(kind) {
                    available.push(AvailableVersion {
                        name: package.name.into(),
                        arch: package.arch.into(),
                        version: version.into(),
                        ..kind.clone()
                    });
                }
            }
        }
        available
    }

    /// The number of packages.
    pub fn len(&self) -> usize {
        self.packages.len()
    }

    /// No packages?
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// The packages, in the order they were added.
    pub fn packages(&self) -> impl Iterator<Item = NotInstalledPackage<'_>> {
        let mut start = 0usize;
        self.packages.iter().map(move |p| {
            let end = p.end as usize;
            let versions = self.versions.get(start..end).unwrap_or(&[]);
            start = end;
            NotInstalledPackage {
                set: self,
                name: self.span(p.name),
                arch: self
                    .archs
                    .get(p.arch as usize)
                    .map_or("", CompactString::as_str),
                versions,
            }
        })
    }
}

/// Everything the evaluation needs to know about one machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inventory {
    /// The operating system, AWS spelling (`AMAZON_LINUX_2023`).
    #[serde(deserialize_with = "de_os", serialize_with = "ser_os")]
    pub operating_system: OperatingSystem,
    /// The product string the PRODUCT filter compares, e.g. `AmazonLinux2023`, `Debian12`.
    pub product: String,
    /// The package manager: `yum`, `dnf`, `apt` or `zypper`.
    #[serde(deserialize_with = "de_pm")]
    pub package_manager: PackageManagerKind,
    /// The instance id, when known.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Advisories referenced by available versions.
    #[serde(default)]
    pub advisories: Vec<Advisory>,
    /// Installed packages.
    #[serde(default)]
    pub installed: Vec<InstalledPackage>,
    /// Available versions (all known versions, including installed ones when a repository
    /// offers them).
    #[serde(default)]
    pub available: Vec<AvailableVersion>,
    /// Packages still waiting for a reboot after a `NoReboot` install.
    #[serde(default)]
    pub pending_reboot: Vec<PendingRebootPackage>,
    /// Versions newer than an installed package that the host's configuration hides (dnf,
    /// yum and zypper); `explain` names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<HiddenVersion>,
    /// apt: the native architecture (`amd64`). Packages of another architecture are named
    /// `name:arch` in reports, as python-apt and the payload name them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_architecture: Option<CompactString>,
    /// The baseline sources whose repositories the available versions come from (empty: the
    /// machine's own repositories).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Packages that are not installed, with the versions offered, kept compact (apt); no
    /// package here is installed or has an entry in `available`.
    #[serde(skip)]
    pub not_installed: NotInstalled,
}

impl Inventory {
    /// Moves every package of [`Inventory::not_installed`] into `available`, for what lists
    /// every package (`--output json`, `--save-inventory`).
    pub fn expand_not_installed(&mut self) {
        let set = std::mem::take(&mut self.not_installed);
        self.available.extend(set.to_available());
    }

    /// Loads and validates an inventory from JSON text.
    pub fn from_json(text: &str, source_name: &str) -> Result<Self, InventoryError> {
        let error = |path: String, message: String| InventoryError {
            source_name: source_name.to_string(),
            path,
            message,
        };
        // Parsed without tracking where it is (much faster); only a failure is parsed again
        // with serde_path_to_error, to say where.
        let parsed: Result<Self, _> = serde_json::from_str(text);
        let Ok(mut inventory) = parsed else {
            let (path, message) = Self::path_of_error(text);
            return Err(error(path, message));
        };
        inventory
            .validate()
            .map_err(|(path, message)| error(path, message))?;
        inventory.merge_duplicates();
        Ok(inventory)
    }

    /// Where and why `text` does not parse as an inventory: `(path, message)`.
    fn path_of_error(text: &str) -> (String, String) {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let at = |e: &serde_json::Error| format!("line {} column {}", e.line(), e.column());
        let Err(e) = serde_path_to_error::deserialize::<_, Self>(&mut deserializer) else {
            // The inventory parsed, so what follows it is the problem.
            let e = deserializer
                .end()
                .err()
                .unwrap_or_else(|| serde::de::Error::custom("the inventory does not parse"));
            return (at(&e), e.to_string());
        };
        let path = e.path().to_string();
        let inner = e.into_inner();
        let path = if inner.is_syntax() || inner.is_eof() || path == "." || path.is_empty() {
            at(&inner)
        } else {
            format!("$.{path}")
        };
        (path, inner.to_string())
    }

    fn validate(&self) -> Result<(), (String, String)> {
        if self.operating_system.family() != Some(self.package_manager.family()) {
            return Err((
                "$.packageManager".into(),
                format!(
                    "`{}` does not manage `{}` systems",
                    self.package_manager.as_str(),
                    self.operating_system
                ),
            ));
        }
        // The path is only written out for an error.
        let check = |path: &dyn Fn() -> String, name: &str, arch: &str, version: &str| {
            if is_valid_package_name(name)
                && !arch.is_empty()
                && arch
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                && !version.trim().is_empty()
                && !version.chars().any(char::is_whitespace)
            {
                return Ok(());
            }
            let path = path();
            if !is_valid_package_name(name) {
                return Err((
                    format!("{path}.name"),
                    format!("`{name}` is not a valid package name"),
                ));
            }
            if arch.is_empty()
                || !arch
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err((
                    format!("{path}.arch"),
                    format!("`{arch}` is not a valid architecture"),
                ));
            }
            if version.trim().is_empty() || version.chars().any(char::is_whitespace) {
                return Err((
                    format!("{path}.version"),
                    format!("`{version}` is not a valid version"),
                ));
            }
            Ok(())
        };
        for (i, p) in self.installed.iter().enumerate() {
            check(
                &|| format!("$.installed[{i}]"),
                &p.name,
                &p.arch,
                &p.version,
            )?;
        }
        for (i, p) in self.hidden.iter().enumerate() {
            check(&|| format!("$.hidden[{i}]"), &p.name, &p.arch, &p.version)?;
        }
        let ids: crate::fasthash::FastSet<&str> =
            self.advisories.iter().map(|a| a.id.as_str()).collect();
        for (i, a) in self.advisories.iter().enumerate() {
            if a.id.trim().is_empty() {
                return Err((
                    format!("$.advisories[{i}].id"),
                    "advisory id is empty".into(),
                ));
            }
        }
        for (i, p) in self.available.iter().enumerate() {
            check(
                &|| format!("$.available[{i}]"),
                &p.name,
                &p.arch,
                &p.version,
            )?;
            for (j, id) in p.advisories.iter().enumerate() {
                if !ids.contains(id.as_str()) {
                    return Err((
                        format!("$.available[{i}].advisories[{j}]"),
                        format!("advisory `{id}` is not in $.advisories"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Merges entries of `available` that name the same version of the same package (the same
    /// version offered by two repositories), keeping every advisory and origin.
    fn merge_duplicates(&mut self) {
        // Most inventories have none: found on borrowed keys, nothing moves then.
        let mut keys: crate::fasthash::FastSet<(&str, &str, &str)> =
            crate::fasthash::FastSet::default();
        keys.reserve(self.available.len());
        if self
            .available
            .iter()
            .all(|v| keys.insert((v.name.as_str(), v.arch.as_str(), v.version.as_str())))
        {
            return;
        }
        drop(keys);
        let mut seen: HashMap<(CompactString, CompactString, CompactString), usize> =
            HashMap::new();
        let mut merged: Vec<AvailableVersion> = Vec::with_capacity(self.available.len());
        for version in self.available.drain(..) {
            let key = (
                version.name.clone(),
                version.arch.clone(),
                version.version.clone(),
            );
            if let Some(&index) = seen.get(&key) {
                let target = &mut merged[index];
                for advisory in version.advisories {
                    if !target.advisories.contains(&advisory) {
                        target.advisories.push(advisory);
                    }
                }
                for origin in version.origins {
                    if !target.origins.contains(&origin) {
                        target.origins.push(origin);
                    }
                }
                target.priority = target.priority.take().or(version.priority);
                target.section = target.section.take().or(version.section);
                target.build_time = target.build_time.or(version.build_time);
            } else {
                seen.insert(key, merged.len());
                merged.push(version);
            }
        }
        self.available = merged;
    }
}

fn de_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    /// A date as text or epoch seconds, or null; read without buffering the value (an
    /// untagged enum would copy every date into a temporary first).
    struct DateVisitor;
    impl<'de> serde::de::Visitor<'de> for DateVisitor {
        type Value = Option<DateTime<Utc>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a date (text or epoch seconds) or null")
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            parse_date(text)
                .map(Some)
                .ok_or_else(|| E::custom(format!("`{text}` is not a date")))
        }
        fn visit_f64<E: serde::de::Error>(self, seconds: f64) -> Result<Self::Value, E> {
            parse_date(&seconds.to_string())
                .map(Some)
                .ok_or_else(|| E::custom(format!("`{seconds}` is not a date")))
        }
        #[expect(
            clippy::cast_precision_loss,
            reason = "as the f64 it was read as before; dates are far below 2^53"
        )]
        fn visit_i64<E: serde::de::Error>(self, seconds: i64) -> Result<Self::Value, E> {
            self.visit_f64(seconds as f64)
        }
        #[expect(
            clippy::cast_precision_loss,
            reason = "as the f64 it was read as before; dates are far below 2^53"
        )]
        fn visit_u64<E: serde::de::Error>(self, seconds: u64) -> Result<Self::Value, E> {
            self.visit_f64(seconds as f64)
        }
    }
    deserializer.deserialize_option(DateVisitor)
}

fn de_os<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OperatingSystem, D::Error> {
    let text = String::deserialize(deserializer)?;
    OperatingSystem::from_aws(&text)
        .filter(|os| os.family().is_some())
        .ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not a supported Linux OperatingSystem"))
        })
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with signature"
)]
fn ser_os<S: serde::Serializer>(os: &OperatingSystem, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(os.as_aws())
}

fn de_pm<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PackageManagerKind, D::Error> {
    let text = String::deserialize(deserializer)?;
    PackageManagerKind::parse(&text).ok_or_else(|| {
        serde::de::Error::custom(format!("`{text}` is not one of yum, dnf, apt, zypper"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-025-10-01T00:00:00Z` was read as the year -25 and written back as `-0025-…`, which
    /// did not load again. Found by `cargo fuzz` (target `inventory`).
    #[test]
    fn fuzz_signed_year_is_not_a_date() {
        let text = include_str!("../fixtures/fuzz/inventory-crash-b2393b59");
        let error = Inventory::from_json(text, "inventory.json").unwrap_err();
        assert!(error.to_string().contains("is not a date"), "{error}");
        assert_eq!(crate::model::parse_date("-025-10-01T00:00:00Z"), None);
        assert_eq!(crate::model::parse_date("+2024-10-01"), None);
    }

    const MINIMAL: &str = r#"{"operatingSystem":"AMAZON_LINUX_2023","product":"AmazonLinux2023","packageManager":"dnf",
        "advisories":[{"id":"A-1","type":"security","severity":"Important","issued":"2024-01-01 00:00:00"}],
        "installed":[{"name":"curl","arch":"x86_64","version":"8.0-1"}],
        "available":[{"name":"curl","arch":"x86_64","version":"8.1-1","advisories":["A-1"]},
                     {"name":"curl","arch":"x86_64","version":"8.1-1","advisories":[]}]}"#;

    #[test]
    fn loads_and_merges_duplicates() {
        let inventory = Inventory::from_json(MINIMAL, "inv.json").unwrap();
        assert_eq!(inventory.available.len(), 1);
        assert_eq!(inventory.available[0].advisories, vec!["A-1".to_string()]);
        assert_eq!(inventory.advisories[0].classification(), "Security");
    }

    #[test]
    fn errors_name_the_path() {
        let bad = MINIMAL.replace("8.0-1", "8.0 -1");
        let e = Inventory::from_json(&bad, "inv.json").unwrap_err();
        assert_eq!(e.path, "$.installed[0].version");
        let bad = MINIMAL.replace(r#""advisories":["A-1"]"#, r#""advisories":["A-2"]"#);
        let e = Inventory::from_json(&bad, "inv.json").unwrap_err();
        assert_eq!(
            e.to_string(),
            "inv.json: $.available[0].advisories[0]: advisory `A-2` is not in $.advisories"
        );
        let bad = MINIMAL.replace("2024-01-01 00:00:00", "soon");
        let e = Inventory::from_json(&bad, "inv.json").unwrap_err();
        assert_eq!(e.path, "$.advisories[0].issued");
        let bad = MINIMAL.replace("\"dnf\"", "\"apt\"");
        assert_eq!(
            Inventory::from_json(&bad, "inv.json").unwrap_err().path,
            "$.packageManager"
        );
        let bad = MINIMAL.replace("\"curl\"", "\"-rf\"");
        assert_eq!(
            Inventory::from_json(&bad, "inv.json").unwrap_err().path,
            "$.installed[0].name"
        );
        // Hidden versions are checked as offered ones are.
        let hidden = |version: &str| {
            MINIMAL.replace(
                r#""installed":["#,
                &format!(
                    r#""hidden":[{{"name":"curl","arch":"x86_64","version":"{version}","repository":"r"}}],"installed":["#
                ),
            )
        };
        let with_hidden = Inventory::from_json(&hidden("8.2-1"), "inv.json").unwrap();
        assert_eq!(with_hidden.hidden[0].version, "8.2-1");
        assert_eq!(
            Inventory::from_json(&hidden("8.2 -1"), "inv.json")
                .unwrap_err()
                .path,
            "$.hidden[0].version"
        );
        assert!(
            Inventory::from_json("{", "inv.json")
                .unwrap_err()
                .path
                .starts_with("line 1")
        );
        // Text after the inventory is named by its place.
        let e = Inventory::from_json(&format!("{MINIMAL} x"), "inv.json").unwrap_err();
        assert_eq!(e.path, "line 5 column 90", "{e}");
        assert!(e.message.contains("trailing characters"), "{e}");
    }

    #[test]
    fn dates_as_text_epoch_seconds_or_null() {
        let with = |value: &str| {
            let text = MINIMAL.replace(
                r#""version":"8.0-1""#,
                &format!(r#""version":"8.0-1","installedTime":{value}"#),
            );
            Inventory::from_json(&text, "inv.json").map(|i| i.installed[0].installed_time)
        };
        let want = chrono::TimeZone::timestamp_opt(&Utc, 1_700_000_000, 0).single();
        assert_eq!(with("1700000000").unwrap(), want);
        assert_eq!(with("1700000000.0").unwrap(), want);
        assert_eq!(with(r#""2023-11-14T22:13:20Z""#).unwrap(), want);
        assert_eq!(with(r#""2023-11-14 22:13:20""#).unwrap(), want);
        assert_eq!(with(r#""2023-11-14T22:13:20+00:00""#).unwrap(), want);
        assert_eq!(with("null").unwrap(), None);
        assert_eq!(with("-5").unwrap_err().path, "$.installed[0].installedTime");
        assert_eq!(
            with("true").unwrap_err().path,
            "$.installed[0].installedTime"
        );
    }
}
