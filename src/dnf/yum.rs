//! Classic yum (yum 3: Amazon Linux 2, RHEL/CentOS/Oracle 7). yum keeps its primary metadata
//! only as sqlite, so the available versions come from yum itself:
//! `yum -C -q --showduplicates list available`, whose table this module reads. yum wraps a
//! row when a column is too wide (the version and repository move to the next line, or the
//! repository alone), so rows are read as a stream of words: a `name.arch` word starts a row,
//! the next version-shaped word is its version and the word after that its repository.
//! Everything after an `Obsoleting …` heading is left out (those rows repeat packages listed
//! above, followed by the installed package they replace).
//!
//! `yum list` shows no build time, which the yum payload uses as the release time of a package
//! no notice names; it is read from the sqlite primary databases yum keeps in its cache
//! (`var/cache/yum/…/gen/primary_db.sqlite`, table `packages`, column `time_build`).
//!
//! yum cannot run on the Debian machine this project is built on: this reader is tested with
//! yum's recorded outputs (`fixtures/yum`) and, end to end, with dnf standing in for yum.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::exec::CommandSpec;
use crate::inventory::AvailableVersion;
use crate::repositories::Repositories;

/// Architectures a `name.arch` word may end with.
const ARCHES: &[&str] = &[
    "x86_64", "noarch", "i686", "i586", "i486", "i386", "athlon", "aarch64", "ppc64le", "ppc64",
    "s390x", "armv7hl", "armv7hnl", "ia32e", "amd64",
];

fn root_flag(spec: CommandSpec, root: &Path) -> CommandSpec {
    if root == Path::new("/") {
        spec
    } else {
        let mut argument = std::ffi::OsString::from("--installroot=");
        argument.push(root.as_os_str());
        spec.arg(argument)
    }
}

/// Where yum keeps its metadata: `var/cache/yum` under `root`, or the private cache of
/// baseline sources.
pub fn cache_dirs(root: &Path, repositories: &Repositories) -> Vec<PathBuf> {
    match repositories.private() {
        None => vec![root.join("var/cache/yum")],
        Some(private) => vec![private.cache_dir()],
    }
}

/// `yum makecache fast` (refresh only what expired; never `clean all`).
pub fn makecache(root: &Path, repositories: &Repositories, timeout: Duration) -> CommandSpec {
    root_flag(CommandSpec::new("yum"), root)
        .args(repositories.rpm_options())
        .arg("-q")
        .arg("makecache")
        .arg("fast")
        .timeout(timeout)
}

/// `yum -C -q --showduplicates list available`.
pub fn list_available(root: &Path, repositories: &Repositories) -> CommandSpec {
    root_flag(CommandSpec::new("yum"), root)
        .args(repositories.rpm_options())
        .arg("-C")
        .arg("-q")
        .arg("--showduplicates")
        .arg("list")
        .arg("available")
}

fn split_name_arch(word: &str) -> Option<(&str, &str)> {
    let (name, arch) = word.rsplit_once('.')?;
    (!name.is_empty() && ARCHES.contains(&arch)).then_some((name, arch))
}

fn is_version(word: &str) -> bool {
    let rest = match word.split_once(':') {
        Some((epoch, rest)) if epoch.bytes().all(|b| b.is_ascii_digit()) => rest,
        Some(_) => return false,
        None => word,
    };
    rest.contains('-')
        && rest
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
}

/// The rows of a `yum list` / `yum check-update` table: (name, arch, `[epoch:]version-release`
/// with a 0 epoch dropped, repository).
pub fn parse_list(text: &str) -> Vec<(String, String, String, String)> {
    let mut rows = Vec::new();
    let mut current: Option<(String, String, Option<String>)> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("Obsoleting") {
            break;
        }
        if trimmed.starts_with("Loaded plugins")
            || trimmed.starts_with("Loading mirror")
            || trimmed.starts_with('*')
            || trimmed.starts_with("Last metadata expiration")
        {
            continue;
        }
        for word in trimmed.split_whitespace() {
            match current.as_mut() {
                Some((_, _, None)) if is_version(word) => {
                    if let Some(row) = current.as_mut() {
                        row.2 = Some(word.to_string());
                    }
                }
                Some((name, arch, Some(version))) => {
                    let version = version.strip_prefix("0:").unwrap_or(version).to_string();
                    rows.push((name.clone(), arch.clone(), version, word.to_string()));
                    current = None;
                }
                _ => {
                    if let Some((name, arch)) = split_name_arch(word) {
                        current = Some((name.to_string(), arch.to_string(), None));
                    }
                }
            }
        }
    }
    rows
}

/// Build times of the packages in yum's cached sqlite primary databases under `caches` (see
/// [`cache_dirs`]: `<basearch>/<releasever>/<repo>/gen/primary_db.sqlite`, and the same one level
/// up for yum's flat cache layout), by (name, arch, `[epoch:]version-release` with a 0 epoch
/// dropped). A database that cannot be read is skipped: its packages keep no build time.
pub fn build_times(caches: &[PathBuf]) -> HashMap<(String, String, String), DateTime<Utc>> {
    let mut out = HashMap::new();
    let mut databases = Vec::new();
    let mut stack: Vec<(PathBuf, usize)> = caches.iter().map(|dir| (dir.clone(), 0)).collect();
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                if depth < 5 {
                    stack.push((path, depth + 1));
                }
            } else if path.file_name().is_some_and(|n| n == "primary_db.sqlite") {
                databases.push(path);
            }
        }
    }
    databases.sort();
    for database in databases {
        let _ = read_build_times(&database, &mut out);
    }
    out
}

fn read_build_times(
    path: &Path,
    out: &mut HashMap<(String, String, String), DateTime<Utc>>,
) -> rusqlite::Result<()> {
    let connection = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut statement = connection
        .prepare("SELECT name, arch, epoch, version, release, time_build FROM packages")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let text = |i: usize| -> rusqlite::Result<String> {
            Ok(row.get::<_, Option<String>>(i)?.unwrap_or_default())
        };
        let (name, arch, epoch, version, release) =
            (text(0)?, text(1)?, text(2)?, text(3)?, text(4)?);
        let Some(time) = row
            .get::<_, Option<i64>>(5)?
            .and_then(|t| Utc.timestamp_opt(t, 0).single())
        else {
            continue;
        };
        let evr = match epoch.as_str() {
            "" | "0" => format!("{version}-{release}"),
            epoch => format!("{epoch}:{version}-{release}"),
        };
        out.entry((name, arch, evr)).or_insert(time);
    }
    Ok(())
}

/// The available versions from `yum list available` output, with the build times of
/// [`build_times`].
pub fn available_with_build_times(text: &str, caches: &[PathBuf]) -> Vec<AvailableVersion> {
    let mut available = available_from_list(text);
    let times = build_times(caches);
    if !times.is_empty() {
        for version in &mut available {
            let key = (
                version.name.to_string(),
                version.arch.to_string(),
                version.version.to_string(),
            );
            version.build_time = times.get(&key).copied();
        }
    }
    available
}

/// The available versions from `yum list available` output.
pub fn available_from_list(text: &str) -> Vec<AvailableVersion> {
    parse_list(text)
        .into_iter()
        .map(|(name, arch, version, repository)| AvailableVersion {
            name: name.into(),
            arch: arch.into(),
            version: version.into(),
            advisories: Vec::new(),
            build_time: None,
            origins: Vec::new(),
            priority: None,
            section: None,
            repository: Some(repository.trim_start_matches('@').into()),
        })
        .collect()
}

/// Whether a live process holds yum's lock (`var/run/yum.pid` under the root): its PID and
/// command.
pub fn lock_holder(root: &Path) -> Option<(u32, String)> {
    ["var/run/yum.pid", "run/yum.pid"].iter().find_map(|file| {
        let pid: u32 = std::fs::read_to_string(root.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        Some((pid, command.trim().to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_rows_and_extra_words() {
        let text = "Loaded plugins: fastestmirror\n * base: mirrors.example.com\nAvailable Packages\n\
                    NetworkManager-config-server.x86_64       1:1.4.0-20.el7_3     \nrhui-rhel-7\n\
                    python-rhsm-certificates.x86_64\n1.17.10-1.el7_3      rhui\n\
                    kernel.x86_64  3.10.0-693.1.1.el7  rhui error-updating\n\
                    tar.x86_64  0:1.26-34.el7  @updates\n\
                    Obsoleting Packages\ngrub2.x86_64 1:2-1 r\n";
        let rows = parse_list(text);
        assert_eq!(
            rows,
            vec![
                (
                    "NetworkManager-config-server".into(),
                    "x86_64".into(),
                    "1:1.4.0-20.el7_3".into(),
                    "rhui-rhel-7".into()
                ),
                (
                    "python-rhsm-certificates".into(),
                    "x86_64".into(),
                    "1.17.10-1.el7_3".into(),
                    "rhui".into()
                ),
                (
                    "kernel".into(),
                    "x86_64".into(),
                    "3.10.0-693.1.1.el7".into(),
                    "rhui".into()
                ),
                (
                    "tar".into(),
                    "x86_64".into(),
                    "1.26-34.el7".into(),
                    "@updates".into()
                ),
            ]
        );
    }
}
