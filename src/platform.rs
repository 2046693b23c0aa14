//! Which system is this: `os-release` parsing and the one table that maps it to an AWS
//! `OperatingSystem`, a product string and a package manager.
//!
//! No other code matches on distribution names (house style §2.4.5). Everything is read under a
//! root directory handed in by the caller, so a mounted image is examined like the host.

use std::collections::HashMap;
use std::path::Path;

use crate::model::{OperatingSystem, PackageManagerKind};

/// The parsed `KEY=VALUE` lines of an `os-release` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    fields: HashMap<String, String>,
}

impl OsRelease {
    /// Parses `os-release` text; unquotes values, ignores comments and malformed lines.
    ///
    /// ```
    /// use patch_baseline::platform::OsRelease;
    /// let os = OsRelease::parse("ID=\"amzn\"\nVERSION_ID='2023'\n");
    /// assert_eq!(os.get("ID"), Some("amzn"));
    /// ```
    pub fn parse(text: &str) -> Self {
        let fields = text
            .lines()
            .filter_map(|line| {
                let line = line.trim();
                if line.starts_with('#') {
                    return None;
                }
                let (key, value) = line.split_once('=')?;
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                    .unwrap_or(value);
                Some((key.trim().to_string(), value.replace("\\\"", "\"")))
            })
            .collect();
        Self { fields }
    }

    /// Reads `etc/os-release`, else `usr/lib/os-release`, else (older RPM systems: Amazon
    /// Linux AMI, EL6) the one line of `etc/system-release`, under `root`.
    pub fn from_root(root: &Path) -> std::io::Result<Self> {
        std::fs::read_to_string(root.join("etc/os-release"))
            .or_else(|_| std::fs::read_to_string(root.join("usr/lib/os-release")))
            .map(|text| Self::parse(&text))
            .or_else(|error| {
                std::fs::read_to_string(root.join("etc/system-release"))
                    .ok()
                    .and_then(|line| Self::from_system_release(&line))
                    .ok_or(error)
            })
    }

    /// The `ID` and `VERSION_ID` that a `system-release` line stands for, e.g. `Amazon Linux
    /// AMI release 2018.03` → `amzn` `2018.03`, `CentOS Linux release 7.9.2009 (Core)` →
    /// `centos` `7.9.2009`.
    ///
    /// ```
    /// use patch_baseline::platform::OsRelease;
    /// let os = OsRelease::from_system_release("Red Hat Enterprise Linux Server release 7.9 (Maipo)").unwrap();
    /// assert_eq!((os.get("ID"), os.get("VERSION_ID")), (Some("rhel"), Some("7.9")));
    /// ```
    pub fn from_system_release(line: &str) -> Option<Self> {
        let line = line.lines().next()?.trim();
        let (name, rest) = line.split_once(" release ")?;
        let version = rest.split_whitespace().next()?;
        let id = [
            ("Amazon Linux", "amzn"),
            ("CentOS", "centos"),
            ("Red Hat Enterprise Linux", "rhel"),
            ("Oracle Linux", "ol"),
            ("Rocky Linux", "rocky"),
            ("AlmaLinux", "almalinux"),
        ]
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))?
        .1;
        Some(Self::parse(&format!(
            "ID={id}\nVERSION_ID={version}\nNAME=\"{name}\"\n"
        )))
    }

    /// The value of a field.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }
}

/// What the detection table says about a system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// The AWS operating system.
    pub operating_system: OperatingSystem,
    /// The product string compared by PRODUCT filters, e.g. `AmazonLinux2023`, `Debian12`.
    pub product: String,
    /// The package manager that applies.
    pub package_manager: PackageManagerKind,
}

/// One row of the detection table: an `os-release` `ID`, the operating system, the product
/// prefix, and the last major version that still uses yum (RPM only).
struct Row {
    id: &'static str,
    operating_system: OperatingSystem,
    product: &'static str,
    last_yum_major: u32,
}

const TABLE: &[Row] = &[
    Row {
        id: "rhel",
        operating_system: OperatingSystem::RedhatEnterpriseLinux,
        product: "RedhatEnterpriseLinux",
        last_yum_major: 7,
    },
    Row {
        id: "centos",
        operating_system: OperatingSystem::Centos,
        product: "CentOS",
        last_yum_major: 7,
    },
    Row {
        id: "ol",
        operating_system: OperatingSystem::OracleLinux,
        product: "OracleLinux",
        last_yum_major: 7,
    },
    Row {
        id: "rocky",
        operating_system: OperatingSystem::RockyLinux,
        product: "RockyLinux",
        last_yum_major: 0,
    },
    Row {
        id: "almalinux",
        operating_system: OperatingSystem::AlmaLinux,
        product: "AlmaLinux",
        last_yum_major: 0,
    },
    Row {
        id: "sles",
        operating_system: OperatingSystem::Suse,
        product: "Suse",
        last_yum_major: 0,
    },
    Row {
        id: "sles_sap",
        operating_system: OperatingSystem::Suse,
        product: "Suse",
        last_yum_major: 0,
    },
    Row {
        id: "opensuse-leap",
        operating_system: OperatingSystem::Suse,
        product: "OpenSUSE",
        last_yum_major: 0,
    },
    Row {
        id: "opensuse-tumbleweed",
        operating_system: OperatingSystem::Suse,
        product: "OpenSUSETumbleweed",
        last_yum_major: 0,
    },
    Row {
        id: "opensuse",
        operating_system: OperatingSystem::Suse,
        product: "OpenSUSE",
        last_yum_major: 0,
    },
    Row {
        id: "ubuntu",
        operating_system: OperatingSystem::Ubuntu,
        product: "Ubuntu",
        last_yum_major: 0,
    },
    Row {
        id: "debian",
        operating_system: OperatingSystem::Debian,
        product: "Debian",
        last_yum_major: 0,
    },
    Row {
        id: "raspbian",
        operating_system: OperatingSystem::Raspbian,
        product: "Raspbian",
        last_yum_major: 0,
    },
];

/// Maps an `os-release` to the platform, or `None` when the system is not one Patch Manager
/// supports.
///
/// ```
/// use patch_baseline::platform::{OsRelease, detect};
/// use patch_baseline::model::{OperatingSystem, PackageManagerKind};
/// let p = detect(&OsRelease::parse("ID=amzn\nVERSION_ID=2\n")).unwrap();
/// assert_eq!((p.operating_system, p.product.as_str(), p.package_manager),
///            (OperatingSystem::AmazonLinux2, "AmazonLinux2", PackageManagerKind::Yum));
/// ```
pub fn detect(os: &OsRelease) -> Option<Platform> {
    let id = os.get("ID")?.to_lowercase();
    let version = os.get("VERSION_ID").unwrap_or("").to_string();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if id == "amzn" {
        let (operating_system, package_manager) = match version.as_str() {
            "2" => (OperatingSystem::AmazonLinux2, PackageManagerKind::Yum),
            "2022" => (OperatingSystem::AmazonLinux2022, PackageManagerKind::Dnf),
            "2023" => (OperatingSystem::AmazonLinux2023, PackageManagerKind::Dnf),
            _ => (OperatingSystem::AmazonLinux, PackageManagerKind::Yum),
        };
        return Some(Platform {
            operating_system,
            product: format!("AmazonLinux{version}"),
            package_manager,
        });
    }
    let row = TABLE.iter().find(|r| r.id == id).or_else(|| {
        let like = os.get("ID_LIKE").unwrap_or("").to_lowercase();
        let like: Vec<&str> = like.split_whitespace().collect();
        ["rhel", "suse", "ubuntu", "debian"]
            .iter()
            .find(|candidate| like.contains(candidate))
            .and_then(|candidate| TABLE.iter().find(|r| r.id == *candidate))
    })?;
    let package_manager = match row.operating_system.family()? {
        crate::model::Family::Apt => PackageManagerKind::Apt,
        crate::model::Family::Zypper => PackageManagerKind::Zypper,
        crate::model::Family::Rpm if major <= row.last_yum_major => PackageManagerKind::Yum,
        crate::model::Family::Rpm => PackageManagerKind::Dnf,
    };
    Some(Platform {
        operating_system: row.operating_system,
        product: format!("{}{version}", row.product),
        package_manager,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_release_lines() {
        let cases = [
            (
                "Amazon Linux AMI release 2018.03\n",
                "AmazonLinux2018.03",
                PackageManagerKind::Yum,
            ),
            (
                "Amazon Linux release 2 (Karoo)",
                "AmazonLinux2",
                PackageManagerKind::Yum,
            ),
            (
                "CentOS Linux release 7.9.2009 (Core)",
                "CentOS7.9.2009",
                PackageManagerKind::Yum,
            ),
            (
                "Oracle Linux Server release 8.9",
                "OracleLinux8.9",
                PackageManagerKind::Dnf,
            ),
        ];
        for (line, product, manager) in cases {
            let os = OsRelease::from_system_release(line).unwrap();
            let platform = detect(&os).unwrap();
            assert_eq!(
                (platform.product.as_str(), platform.package_manager),
                (product, manager),
                "{line}"
            );
        }
        assert!(OsRelease::from_system_release("Fedora release 39 (Thirty Nine)").is_none());
        assert!(OsRelease::from_system_release("").is_none());
    }

    #[test]
    fn detection_table() {
        let cases = [
            (
                "ID=amzn\nVERSION_ID=\"2023\"",
                OperatingSystem::AmazonLinux2023,
                "AmazonLinux2023",
                PackageManagerKind::Dnf,
            ),
            (
                "ID=amzn\nVERSION_ID=\"2018.03\"",
                OperatingSystem::AmazonLinux,
                "AmazonLinux2018.03",
                PackageManagerKind::Yum,
            ),
            (
                "ID=\"rhel\"\nVERSION_ID=\"7.9\"",
                OperatingSystem::RedhatEnterpriseLinux,
                "RedhatEnterpriseLinux7.9",
                PackageManagerKind::Yum,
            ),
            (
                "ID=\"rhel\"\nVERSION_ID=\"9.3\"",
                OperatingSystem::RedhatEnterpriseLinux,
                "RedhatEnterpriseLinux9.3",
                PackageManagerKind::Dnf,
            ),
            (
                "ID=\"rocky\"\nVERSION_ID=\"9.3\"",
                OperatingSystem::RockyLinux,
                "RockyLinux9.3",
                PackageManagerKind::Dnf,
            ),
            (
                "ID=\"sles\"\nVERSION_ID=\"15.5\"",
                OperatingSystem::Suse,
                "Suse15.5",
                PackageManagerKind::Zypper,
            ),
            (
                "ID=ubuntu\nVERSION_ID=\"22.04\"",
                OperatingSystem::Ubuntu,
                "Ubuntu22.04",
                PackageManagerKind::Apt,
            ),
            (
                "ID=debian\nVERSION_ID=\"12\"",
                OperatingSystem::Debian,
                "Debian12",
                PackageManagerKind::Apt,
            ),
            (
                "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=21",
                OperatingSystem::Ubuntu,
                "Ubuntu21",
                PackageManagerKind::Apt,
            ),
        ];
        for (text, os, product, pm) in cases {
            let p = detect(&OsRelease::parse(text)).unwrap();
            assert_eq!(
                (p.operating_system, p.product.as_str(), p.package_manager),
                (os, product, pm),
                "{text}"
            );
        }
        assert_eq!(detect(&OsRelease::parse("ID=arch\n")), None);
    }
}
