//! The dnf backend (Amazon Linux 2023, RHEL 8+, Rocky, Alma, Oracle, CentOS Stream): reads the
//! system under a root through rpm and dnf themselves for what only they know (the rpm database,
//! dnf's view of the available packages after excludes, module filtering and versionlock) and
//! natively for the advisory metadata (the cached `updateinfo.xml`, found through `repomd.xml`).
//! Only scanning so far; installing on dnf systems is not implemented yet.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeZone, Utc};

use crate::exec::{CommandSpec, ExecError, Runner};
use crate::inventory::{Advisory, AvailableVersion, InstalledPackage, Inventory};
use crate::model::PackageManagerKind;
use crate::platform::Platform;
use crate::rpm::updateinfo;

pub mod install;

/// A dnf scan that could not read the system.
#[derive(Debug, thiserror::Error)]
pub enum DnfError {
    /// rpm or dnf could not run, failed, or did not finish in time.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// Cached advisory metadata that cannot be read.
    #[error(transparent)]
    Updateinfo(#[from] updateinfo::UpdateinfoError),
}

fn with_root(mut spec: CommandSpec, flag: &str, root: &Path) -> CommandSpec {
    if root != Path::new("/") {
        let mut argument = std::ffi::OsString::from(flag);
        argument.push(root.as_os_str());
        spec = spec.arg(argument);
    }
    spec
}

/// `dnf makecache` for the system under `root` (keeps the cache; never `clean all`).
pub fn makecache(root: &Path, timeout: Duration) -> CommandSpec {
    with_root(CommandSpec::new("dnf"), "--installroot=", root)
        .arg("-q")
        .arg("makecache")
        .timeout(timeout)
}

fn output(runner: &dyn Runner, spec: &CommandSpec) -> Result<String, DnfError> {
    let captured = runner.run(spec)?;
    if captured.code != Some(0) {
        return Err(ExecError::failed(spec, &captured).into());
    }
    Ok(String::from_utf8_lossy(&captured.stdout).into_owned())
}

/// `[epoch:]version-release`, the epoch only when it is not 0.
fn evr(epoch: &str, version: &str, release: &str) -> String {
    if epoch.is_empty() || epoch == "0" || epoch == "(none)" {
        format!("{version}-{release}")
    } else {
        format!("{epoch}:{version}-{release}")
    }
}

/// Installed packages, from `rpm -qa` in a machine format (works with every rpmdb backend).
pub fn installed(runner: &dyn Runner, root: &Path) -> Result<Vec<InstalledPackage>, DnfError> {
    let spec = with_root(CommandSpec::new("rpm"), "--root=", root)
        .arg("-qa")
        .arg("--qf")
        .arg("%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{INSTALLTIME}\\n");
    let text = output(runner, &spec)?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 6 || f[0] == "gpg-pubkey" {
                return None;
            }
            Some(InstalledPackage {
                name: f[0].into(),
                arch: f[4].into(),
                version: evr(f[1], f[2], f[3]).into(),
                installed_time: f[5]
                    .parse()
                    .ok()
                    .and_then(|s| Utc.timestamp_opt(s, 0).single()),
                held: false,
            })
        })
        .collect())
}

/// Every version dnf offers (after excludes, module filtering and versionlock).
pub fn available(runner: &dyn Runner, root: &Path) -> Result<Vec<AvailableVersion>, DnfError> {
    let spec = with_root(CommandSpec::new("dnf"), "--installroot=", root)
        .arg("-q")
        .arg("--cacheonly")
        .arg("repoquery")
        .arg("--available")
        .arg("--qf")
        .arg("%{name}\\t%{epoch}\\t%{version}\\t%{release}\\t%{arch}\\t%{repoid}");
    let text = output(runner, &spec)?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            (f.len() == 6).then(|| AvailableVersion {
                name: f[0].into(),
                arch: f[4].into(),
                version: evr(f[1], f[2], f[3]).into(),
                advisories: Vec::new(),
                build_time: None,
                origins: Vec::new(),
                priority: None,
                section: None,
                repository: Some(f[5].to_string()),
            })
        })
        .collect())
}

/// The cached `updateinfo` files under `root/var/cache/dnf`, found through each repository's
/// `repomd.xml`.
pub fn cached_updateinfo(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join("var/cache/dnf")) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let repodata = entry.path().join("repodata");
        let Ok(repomd) = std::fs::read_to_string(repodata.join("repomd.xml")) else {
            continue;
        };
        if let Some(href) = updateinfo_location(&repomd) {
            let name = href.rsplit('/').next().unwrap_or(&href).to_string();
            files.push(repodata.join(name));
        }
    }
    files.sort();
    files
}

/// The `location href` of the `updateinfo` data in a `repomd.xml`.
pub fn updateinfo_location(repomd: &str) -> Option<String> {
    let start = repomd.find("type=\"updateinfo\"")?;
    let rest = &repomd[start..];
    let end = rest.find("</data>").unwrap_or(rest.len());
    let block = &rest[..end];
    let href = block.find("href=\"")? + 6;
    let length = block[href..].find('"')?;
    Some(block[href..href + length].to_string())
}

/// Scans the dnf system under `root`.
pub fn scan(runner: &dyn Runner, root: &Path, platform: &Platform) -> Result<Inventory, DnfError> {
    let installed = installed(runner, root)?;
    let mut available = available(runner, root)?;
    let mut advisories: Vec<Advisory> = Vec::new();
    let mut index_of: HashMap<(String, String, String), Vec<usize>> = HashMap::new();
    for (index, version) in available.iter().enumerate() {
        index_of
            .entry((
                version.name.to_string(),
                version.arch.to_string(),
                version.version.to_string(),
            ))
            .or_default()
            .push(index);
    }
    let mut known: HashMap<String, usize> = HashMap::new();
    for file in cached_updateinfo(root) {
        for notice in updateinfo::parse_file(&file)? {
            let id = notice.advisory.id.to_string();
            let mut listed = false;
            for package in &notice.packages {
                // Only an exact NEVRA match applies (feeds list packages of other releases too).
                let key = (package.name.clone(), package.arch.clone(), package.evr());
                for &index in index_of.get(&key).map_or(&[][..], Vec::as_slice) {
                    let ids = &mut available[index].advisories;
                    if !ids.iter().any(|existing| existing == id.as_str()) {
                        ids.push(id.as_str().into());
                    }
                    listed = true;
                }
            }
            if listed && !known.contains_key(&id) {
                known.insert(id, advisories.len());
                advisories.push(notice.advisory);
            }
        }
    }
    Ok(Inventory {
        operating_system: platform.operating_system,
        product: platform.product.clone(),
        package_manager: PackageManagerKind::Dnf,
        instance_id: None,
        advisories,
        installed,
        available,
        pending_reboot: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repomd_updateinfo_location() {
        let repomd = r#"<repomd><data type="primary"><location href="repodata/p.xml.gz"/></data>
            <data type="updateinfo"><checksum>x</checksum><location href="repodata/abc-ui.xml.gz"/></data></repomd>"#;
        assert_eq!(
            updateinfo_location(repomd).as_deref(),
            Some("repodata/abc-ui.xml.gz")
        );
        assert_eq!(updateinfo_location("<repomd/>"), None);
        assert_eq!(evr("0", "1.0", "1"), "1.0-1");
        assert_eq!(evr("2", "1.0", "1"), "2:1.0-1");
    }
}
