//! The installed packages read straight from an sqlite rpm database (rpm ≥ 4.16: Amazon Linux
//! 2023, EL9, Fedora, SUSE 15.4+): each row of its `Packages` table is an rpm header blob, of
//! which we read name, epoch, version, release, arch and install time.
//!
//! Only when the database is unambiguous: an `rpmdb.sqlite` with no Berkeley DB (`Packages`)
//! or ndb (`Packages.db`) database beside it. Anything else, and any error, is the caller's cue
//! to ask `rpm -qa`, which reads every backend.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};

use crate::inventory::InstalledPackage;

const TAG_NAME: i32 = 1000;
const TAG_VERSION: i32 = 1001;
const TAG_RELEASE: i32 = 1002;
const TAG_EPOCH: i32 = 1003;
const TAG_INSTALLTIME: i32 = 1008;
const TAG_ARCH: i32 = 1022;
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;

/// The sqlite database under `root`, when it is the only rpm database there.
pub fn sqlite_path(root: &Path) -> Option<PathBuf> {
    ["var/lib/rpm", "usr/lib/sysimage/rpm"]
        .iter()
        .map(|dir| root.join(dir))
        .find(|dir| {
            dir.join("rpmdb.sqlite").is_file()
                && !dir.join("Packages").exists()
                && !dir.join("Packages.db").exists()
        })
        .map(|dir| dir.join("rpmdb.sqlite"))
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The fields of one header blob (`il`, `dl`, `il` index entries, the data store).
pub fn parse_header(blob: &[u8]) -> Option<InstalledPackage> {
    let entries = usize::try_from(be_u32(blob, 0)?).ok()?;
    let data_length = usize::try_from(be_u32(blob, 4)?).ok()?;
    let data_start = 8usize.checked_add(entries.checked_mul(16)?)?;
    let data = blob.get(data_start..data_start.checked_add(data_length)?)?;
    let (mut name, mut version, mut release, mut arch) = (None, None, None, None);
    let (mut epoch, mut installed) = (None, None);
    for entry in 0..entries {
        let at = 8 + entry * 16;
        let tag = i32::from_be_bytes(blob.get(at..at + 4)?.try_into().ok()?);
        let kind = be_u32(blob, at + 4)?;
        let offset = usize::try_from(be_u32(blob, at + 8)?).ok()?;
        let string = || -> Option<String> {
            let rest = data.get(offset..)?;
            let end = memchr::memchr(0, rest)?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        match (tag, kind) {
            (TAG_NAME, TYPE_STRING) => name = name.or_else(string),
            (TAG_VERSION, TYPE_STRING) => version = version.or_else(string),
            (TAG_RELEASE, TYPE_STRING) => release = release.or_else(string),
            (TAG_ARCH, TYPE_STRING) => arch = arch.or_else(string),
            (TAG_EPOCH, TYPE_INT32) => epoch = epoch.or(be_u32(data, offset)),
            (TAG_INSTALLTIME, TYPE_INT32) => installed = installed.or(be_u32(data, offset)),
            _ => {}
        }
    }
    let (version, release) = (version?, release?);
    Some(InstalledPackage {
        name: name.filter(|name| !name.is_empty())?.into(),
        arch: arch.unwrap_or_default().into(),
        version: match epoch {
            Some(epoch) if epoch != 0 => format!("{epoch}:{version}-{release}"),
            _ => format!("{version}-{release}"),
        }
        .into(),
        installed_time: installed.and_then(|t| Utc.timestamp_opt(i64::from(t), 0).single()),
        held: false,
        priority: None,
        section: None,
    })
}

/// Every installed package (`gpg-pubkey` entries left out) of the sqlite database at `path`.
pub fn read_sqlite(path: &Path) -> Result<Vec<InstalledPackage>, String> {
    let connection = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut statement = connection
        .prepare("SELECT blob FROM Packages")
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = statement
        .query([])
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut packages = Vec::new();
    while let Some(row) = rows
        .next()
        .map_err(|e| format!("{}: {e}", path.display()))?
    {
        let blob = row
            .get_ref(0)
            .map_err(|e| e.to_string())?
            .as_blob()
            .map_err(|e| e.to_string())?;
        let package = parse_header(blob)
            .ok_or_else(|| format!("{}: a header that cannot be read", path.display()))?;
        if package.name != "gpg-pubkey" {
            packages.push(package);
        }
    }
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header whose name is the empty string is no package; it gave one named ``. Found by
    /// `cargo fuzz` (target `rpmdb_header`).
    #[test]
    fn fuzz_header_with_an_empty_name() {
        let blob = include_bytes!("../../fixtures/fuzz/rpmdb_header-crash-9d7077d9");
        assert_eq!(parse_header(blob), None);
    }

    fn header(entries: &[(i32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, kind, bytes) in entries {
            if *kind == TYPE_INT32 {
                while data.len() % 4 != 0 {
                    data.push(0);
                }
            }
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&kind.to_be_bytes());
            index.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
            index.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(bytes);
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&u32::try_from(entries.len()).unwrap().to_be_bytes());
        blob.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        blob.extend_from_slice(&index);
        blob.extend_from_slice(&data);
        blob
    }

    #[test]
    fn header_fields() {
        let text = |s: &str| {
            let mut b = s.as_bytes().to_vec();
            b.push(0);
            b
        };
        let blob = header(&[
            (TAG_NAME, TYPE_STRING, text("tar")),
            (TAG_VERSION, TYPE_STRING, text("1.34")),
            (TAG_RELEASE, TYPE_STRING, text("1.amzn2023")),
            (TAG_EPOCH, TYPE_INT32, 2u32.to_be_bytes().to_vec()),
            (TAG_ARCH, TYPE_STRING, text("x86_64")),
            (
                TAG_INSTALLTIME,
                TYPE_INT32,
                1_700_000_000u32.to_be_bytes().to_vec(),
            ),
        ]);
        let package = parse_header(&blob).unwrap();
        assert_eq!(
            (
                package.name.as_str(),
                package.arch.as_str(),
                package.version.as_str()
            ),
            ("tar", "x86_64", "2:1.34-1.amzn2023")
        );
        assert_eq!(
            package.installed_time.map(|t| t.timestamp()),
            Some(1_700_000_000)
        );
        // Truncated or lying blobs give nothing, never a panic.
        for cut in 0..blob.len() {
            let _ = parse_header(&blob[..cut]);
        }
        let mut lying = blob.clone();
        lying[3] = 0xff;
        assert!(parse_header(&lying).is_none());
    }
}
