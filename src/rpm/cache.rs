//! A cache of what the scan reads from repository metadata and the rpm database, as dnf keeps
//! its own (libsolv) cache: for each cached `primary` and `updateinfo` file, and for the sqlite
//! rpm database, the few fields the scan uses, in `var/cache/patch-baseline` under the root. An
//! entry is used only while its source files have the recorded paths, sizes and modification
//! times (the database with its write-ahead log, where rpm's changes land first); anything else
//! (missing, stale, unreadable, malformed) means the source is parsed again. A scan with
//! `--read-only` reads entries but never writes them.

use std::path::{Path, PathBuf};

use compact_str::CompactString;

use crate::inventory::{Advisory, InstalledPackage};
use crate::rpm::primary::{self, PrimaryPackage};
use crate::rpm::updateinfo::{self, UpdateinfoError};

/// An advisory with the exact packages (name, arch, `[epoch:]version-release`) it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The advisory.
    pub advisory: Advisory,
    /// (name, arch, evr) of each listed package.
    pub packages: Vec<(CompactString, CompactString, CompactString)>,
}

/// Where entries live and whether they may be written.
#[derive(Debug, Clone)]
pub struct MetadataCache {
    dir: PathBuf,
    writable: bool,
}

const VERSION: &str = "patch-baseline metadata cache 2";

/// What an entry records of its source: the cache format, the path, size and modification time.
/// Taken before the source is parsed, so that a source changed while it is parsed leaves an entry
/// that no longer matches (the next scan parses again) instead of one that matches stale data.
pub(crate) fn identity(source: &Path) -> Option<String> {
    let metadata = std::fs::metadata(source).ok()?;
    Some(format!("{VERSION}\t{}", stamp(source, &metadata)?))
}

/// Path, size and modification time (nanoseconds) of a file.
fn stamp(source: &Path, metadata: &std::fs::Metadata) -> Option<String> {
    let modified = metadata
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(format!(
        "{}\t{}\t{modified}",
        source.display(),
        metadata.len()
    ))
}

/// The write-ahead log beside an sqlite database (`rpmdb.sqlite-wal`).
fn wal_of(database: &Path) -> PathBuf {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// The identity of an sqlite database: its own and its write-ahead log's (or `-` while there
/// is none), since a committed change may live only in the log until a checkpoint.
fn database_identity(database: &Path) -> Option<String> {
    let own = identity(database)?;
    let wal = wal_of(database);
    let log = match std::fs::metadata(&wal) {
        Ok(metadata) => stamp(&wal, &metadata)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => "-".to_string(),
        Err(_) => return None,
    };
    Some(format!("{own}\t{log}"))
}

impl MetadataCache {
    /// The cache of the system under `root`; `writable` false reads only.
    pub fn new(root: &Path, writable: bool) -> Self {
        Self {
            dir: root.join("var/cache/patch-baseline"),
            writable,
        }
    }

    fn entry(&self, source: &Path, kind: &str) -> PathBuf {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = BuildHasherDefault::<crate::fasthash::FastHasher>::default()
            .hash_one(source.as_os_str().as_encoded_bytes());
        self.dir.join(format!("{kind}-{hash:016x}"))
    }

    /// A valid entry of `kind` for `source`, with where its body starts (the apt lists keep
    /// theirs here too).
    pub(crate) fn read(&self, source: &Path, kind: &str) -> Option<(String, usize)> {
        self.read_as(source, kind, &identity(source)?)
    }

    fn read_as(&self, source: &Path, kind: &str, identity: &str) -> Option<(String, usize)> {
        let text = std::fs::read_to_string(self.entry(source, kind)).ok()?;
        let (header, body) = text.split_once('\n')?;
        // The body's length ends the header: an entry cut short (entries are not synced to
        // disk, so a crash may leave one so) is stale like any other.
        let (recorded, length) = header.rsplit_once('\t')?;
        let start = header.len() + 1;
        (recorded == identity && length.parse::<usize>().ok()? == body.len())
            .then_some((text, start))
    }

    /// Records `body` as the entry of `kind` for `source` as it was when `identity` was taken
    /// (before parsing it), unless the cache is read-only.
    pub(crate) fn write(&self, source: &Path, kind: &str, identity: &str, body: &str) {
        if !self.writable {
            return;
        }
        // A cache that cannot be written is no error: the next scan parses again.
        let _ = std::fs::create_dir_all(&self.dir).and_then(|()| {
            crate::state::replace_unsynced(
                &self.entry(source, kind),
                format!("{identity}\t{}\n{body}", body.len()).as_bytes(),
            )
        });
    }

    /// The value of `source`'s entry of `kind` while `identity` (taken now, before any parsing)
    /// still matches, else `parse`'s, which is then recorded when `encode` can write it.
    fn through<T, E>(
        &self,
        source: &Path,
        kind: &str,
        identity: Option<String>,
        decode: impl FnOnce(&str) -> Option<T>,
        parse: impl FnOnce() -> Result<T, E>,
        encode: impl FnOnce(&T) -> Option<String>,
    ) -> Result<T, E> {
        if let Some(identity) = &identity
            && let Some((text, body)) = self.read_as(source, kind, identity)
            && let Some(value) = decode(&text[body..])
        {
            return Ok(value);
        }
        let value = parse()?;
        if let Some(identity) = identity
            && let Some(body) = encode(&value)
        {
            self.write(source, kind, &identity, &body);
        }
        Ok(value)
    }

    /// The installed packages of the sqlite rpm database at `database`, from its entry while
    /// the database and its write-ahead log are unchanged, else from `read` (which is then
    /// recorded).
    pub fn installed<E>(
        &self,
        database: &Path,
        read: impl FnOnce() -> Result<Vec<InstalledPackage>, E>,
    ) -> Result<Vec<InstalledPackage>, E> {
        let identity = database_identity(database);
        self.through(
            database,
            "installed",
            identity,
            decode_installed,
            read,
            |p| encode_installed(p),
        )
    }

    /// The packages of a primary file.
    pub fn primary(&self, source: &Path) -> Result<Vec<PrimaryPackage>, UpdateinfoError> {
        self.through(
            source,
            "primary",
            identity(source),
            decode_primary,
            || primary::parse_file(source),
            |p| encode_primary(p),
        )
    }

    /// The notices of an updateinfo file.
    pub fn updateinfo(&self, source: &Path) -> Result<Vec<Notice>, UpdateinfoError> {
        let parse = || -> Result<Vec<Notice>, UpdateinfoError> {
            Ok(updateinfo::parse_file(source)?
                .into_iter()
                .map(|notice| Notice {
                    packages: notice
                        .packages
                        .iter()
                        .map(|p| {
                            (
                                p.name.as_str().into(),
                                p.arch.as_str().into(),
                                p.evr().into(),
                            )
                        })
                        .collect(),
                    advisory: notice.advisory,
                })
                .collect())
        };
        self.through(
            source,
            "updateinfo",
            identity(source),
            decode_notices,
            parse,
            |n| encode_notices(n),
        )
    }
}

/// One line per package: name, arch, epoch, version, release, build time, tab-separated;
/// `None` when a field holds a tab or a newline.
impl MetadataCache {
    /// Reads the advisory feeds `files`, each on its own thread, while `work` runs on this one;
    /// returns what `work` returned and every notice.
    pub fn updateinfo_beside<T, E>(
        &self,
        files: &[std::path::PathBuf],
        work: impl FnOnce() -> Result<T, E>,
    ) -> Result<(T, Vec<Notice>), E>
    where
        E: From<UpdateinfoError> + From<crate::exec::ExecError>,
    {
        std::thread::scope(|scope| {
            let readers: Vec<_> = files
                .iter()
                .map(|file| scope.spawn(move || self.updateinfo(file)))
                .collect();
            let value = work()?;
            let mut notices = Vec::new();
            for reader in readers {
                let parsed = reader.join().map_err(|_| crate::exec::ExecError::Spawn {
                    command: "reading updateinfo".to_string(),
                    source: std::io::Error::other("the reading thread stopped"),
                })?;
                notices.extend(parsed?);
            }
            Ok((value, notices))
        })
    }
}

/// The body of a primary cache entry: one tab-separated line per package; `None` when a field
/// holds a tab or newline (such a file is not cached).
pub fn encode_primary(packages: &[PrimaryPackage]) -> Option<String> {
    let mut body = String::with_capacity(packages.len() * 48);
    let mut number = itoa::Buffer::new();
    for p in packages {
        let fields = [&p.name, &p.arch, &p.epoch, &p.version, &p.release];
        if fields
            .iter()
            .any(|f| memchr::memchr2(b'\t', b'\n', f.as_bytes()).is_some())
        {
            return None;
        }
        for field in fields {
            body.push_str(field);
            body.push('\t');
        }
        if let Some(time) = p.build_time {
            body.push_str(number.format(time));
        }
        body.push('\n');
    }
    Some(body)
}

/// Reads a body written by [`encode_primary`]; `None` when it is not one.
pub fn decode_primary(body: &str) -> Option<Vec<PrimaryPackage>> {
    let mut packages = Vec::with_capacity(memchr::memchr_iter(b'\n', body.as_bytes()).count());
    for line in crate::split::lines(body) {
        packages.push(decode_primary_line(line)?);
    }
    Some(packages)
}

fn decode_primary_line(line: &str) -> Option<PrimaryPackage> {
    let mut f = crate::split::tabs(line);
    let mut next = || f.next().map(CompactString::from);
    let (name, arch, epoch, version, release) = (next()?, next()?, next()?, next()?, next()?);
    let build = next()?;
    Some(PrimaryPackage {
        name,
        arch,
        epoch,
        version,
        release,
        build_time: if build.is_empty() {
            None
        } else {
            Some(build.parse().ok()?)
        },
    })
}

/// The body of an installed-packages entry: name, arch, version and install time (seconds, or
/// empty) per line; `None` when a package cannot be written so (a tab or newline in a field, or
/// what the rpm database reader never returns: an empty name, a held or apt-only field).
pub fn encode_installed(packages: &[InstalledPackage]) -> Option<String> {
    use std::fmt::Write as _;
    let mut body = String::with_capacity(packages.len() * 40);
    for p in packages {
        let fields = [&p.name, &p.arch, &p.version];
        if p.name.is_empty()
            || p.held
            || p.priority.is_some()
            || p.section.is_some()
            || fields.iter().any(|f| f.contains(['\t', '\n']))
        {
            return None;
        }
        let _ = write!(body, "{}\t{}\t{}\t", p.name, p.arch, p.version);
        if let Some(time) = p.installed_time {
            let _ = write!(body, "{}", time.timestamp());
        }
        body.push('\n');
    }
    Some(body)
}

/// Reads a body written by [`encode_installed`]; `None` when it is not one.
pub fn decode_installed(body: &str) -> Option<Vec<InstalledPackage>> {
    use chrono::TimeZone as _;
    let mut packages = Vec::with_capacity(memchr::memchr_iter(b'\n', body.as_bytes()).count());
    for line in crate::split::lines(body) {
        let mut f = crate::split::tabs(line);
        let (name, arch, version, time) = (f.next()?, f.next()?, f.next()?, f.next()?);
        if f.next().is_some() || name.is_empty() {
            return None;
        }
        packages.push(InstalledPackage {
            name: name.into(),
            arch: arch.into(),
            version: version.into(),
            installed_time: if time.is_empty() {
                None
            } else {
                Some(chrono::Utc.timestamp_opt(time.parse().ok()?, 0).single()?)
            },
            held: false,
            priority: None,
            section: None,
        });
    }
    Some(packages)
}

/// An advisory line (`A`, id, type, severity or `-`, issued and updated seconds or empty,
/// reboot `1`/`0`, CVEs and Bugzilla ids comma-joined) and one `P` line (name, arch, evr) per
/// package; `None` when a field holds a tab, a newline or (in a list) a comma.
pub fn encode_notices(notices: &[Notice]) -> Option<String> {
    let bad = |text: &str| memchr::memchr2(b'\t', b'\n', text.as_bytes()).is_some();
    let bad_item = |text: &String| memchr::memchr3(b'\t', b'\n', b',', text.as_bytes()).is_some();
    // Pushed piece by piece (a `writeln!` of nine fields was a third of a cold scan's
    // encoding).
    let mut body = String::with_capacity(notices.len() * 128);
    let mut number = itoa::Buffer::new();
    for notice in notices {
        let a = &notice.advisory;
        let severity = a.severity.as_deref();
        if bad(&a.id)
            || bad(&a.kind)
            || severity.is_some_and(|s| bad(s) || s == "-")
            || a.cves.iter().any(bad_item)
            || a.bugzillas.iter().any(bad_item)
        {
            return None;
        }
        for field in ["A", &a.id, &a.kind, severity.unwrap_or("-")] {
            body.push_str(field);
            body.push('\t');
        }
        for time in [a.issued, a.updated] {
            if let Some(time) = time {
                body.push_str(number.format(time.timestamp()));
            }
            body.push('\t');
        }
        body.push(if a.reboot_suggested { '1' } else { '0' });
        for list in [&a.cves, &a.bugzillas] {
            body.push('\t');
            for (n, item) in list.iter().enumerate() {
                if n > 0 {
                    body.push(',');
                }
                body.push_str(item);
            }
        }
        body.push('\n');
        for (name, arch, evr) in &notice.packages {
            if bad(name) || bad(arch) || bad(evr) {
                return None;
            }
            for field in ["P", name, arch] {
                body.push_str(field);
                body.push('\t');
            }
            body.push_str(evr);
            body.push('\n');
        }
    }
    Some(body)
}

/// Reads a body written by [`encode_notices`]; `None` when it is not one.
pub fn decode_notices(body: &str) -> Option<Vec<Notice>> {
    use chrono::TimeZone as _;
    // Every list sized once: how many packages follow each advisory line, counted first (a
    // pass over the line starts), since the lists grown by doubling were most of the memory
    // first touched in decoding an entry.
    let mut sizes: Vec<u32> = Vec::new();
    for kind in std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', body.as_bytes()).map(|at| at + 1))
        .filter_map(|start| body.as_bytes().get(start))
    {
        match kind {
            b'A' => sizes.push(0),
            b'P' => {
                if let Some(last) = sizes.last_mut() {
                    *last = last.saturating_add(1);
                }
            }
            _ => {}
        }
    }
    let mut sizes = sizes.into_iter();
    let mut notices: Vec<Notice> = Vec::with_capacity(sizes.len());
    for line in crate::split::lines(body) {
        let mut f = crate::split::tabs(line);
        match f.next()? {
            "A" => {
                let mut next = || f.next();
                let (id, kind, severity) = (next()?, next()?, next()?);
                let mut time = || -> Option<Option<chrono::DateTime<chrono::Utc>>> {
                    let text = next()?;
                    if text.is_empty() {
                        return Some(None);
                    }
                    Some(chrono::Utc.timestamp_opt(text.parse().ok()?, 0).single())
                };
                let (issued, updated) = (time()?, time()?);
                let list = |text: &str| -> Vec<String> {
                    if text.is_empty() {
                        return Vec::new();
                    }
                    let mut items =
                        Vec::with_capacity(memchr::memchr_iter(b',', text.as_bytes()).count() + 1);
                    items.extend(
                        text.split(',')
                            .filter(|s| !s.is_empty())
                            .map(ToString::to_string),
                    );
                    items
                };
                let reboot = next()? == "1";
                let (cves, bugzillas) = (list(next()?), list(next()?));
                notices.push(Notice {
                    advisory: Advisory {
                        id: id.into(),
                        kind: kind.to_string(),
                        severity: (severity != "-").then(|| severity.to_string()),
                        issued,
                        updated,
                        cves,
                        bugzillas,
                        reboot_suggested: reboot,
                    },
                    packages: Vec::with_capacity(sizes.next().unwrap_or(0) as usize),
                });
            }
            "P" => {
                let (name, arch, evr) = (f.next()?, f.next()?, f.next()?);
                notices
                    .last_mut()?
                    .packages
                    .push((name.into(), arch.into(), evr.into()));
            }
            _ => return None,
        }
    }
    Some(notices)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A field ending in `\r` was written as `…\r\n` and read back without it (`lines()`
    /// strips `\r\n`). Found by `cargo fuzz` (target `metadata_cache`).
    #[test]
    fn fuzz_bodies_round_trip_with_carriage_returns() {
        let body = include_str!("../../fixtures/fuzz/metadata_cache-crash-0f5716ed");
        let notices = decode_notices(body).unwrap();
        assert_eq!(notices[1].packages[0].2, "\r");
        let again = encode_notices(&notices).unwrap();
        assert_eq!(decode_notices(&again), Some(notices));
        let packages = decode_primary("a\tx86_64\t0\t1\t1\r\t\n").unwrap();
        assert_eq!(packages[0].release, "1\r");
        let again = encode_primary(&packages).unwrap();
        assert_eq!(decode_primary(&again), Some(packages));
    }

    #[test]
    fn primary_lines_round_trip() {
        let packages = vec![
            PrimaryPackage {
                name: "bash".into(),
                arch: "x86_64".into(),
                epoch: "0".into(),
                version: "5.2".into(),
                release: "1".into(),
                build_time: Some(1_700_000_000),
            },
            PrimaryPackage {
                name: "tar".into(),
                arch: "noarch".into(),
                epoch: "2".into(),
                version: "1.34".into(),
                release: "1".into(),
                build_time: None,
            },
        ];
        let body = encode_primary(&packages).unwrap();
        assert_eq!(decode_primary(&body).unwrap(), packages);
        assert_eq!(decode_primary("bash\tx86_64\n"), None, "malformed");
        let mut odd = packages[0].clone();
        odd.name = "a\tb".into();
        assert_eq!(encode_primary(&[odd]), None);
    }

    #[test]
    fn notices_round_trip() {
        let notices = vec![
            Notice {
                advisory: Advisory {
                    id: "ALAS2023-2026-001".into(),
                    kind: "security".into(),
                    severity: Some("Important".into()),
                    issued: chrono::DateTime::from_timestamp(1_700_000_000, 0),
                    updated: None,
                    cves: vec!["CVE-2026-1".into(), "CVE-2026-2".into()],
                    bugzillas: vec!["42".into()],
                    reboot_suggested: true,
                },
                packages: vec![("a".into(), "noarch".into(), "2:1.0-1".into())],
            },
            Notice {
                advisory: Advisory {
                    id: "B".into(),
                    kind: "bugfix".into(),
                    ..Advisory::default()
                },
                packages: Vec::new(),
            },
        ];
        let body = encode_notices(&notices).unwrap();
        // The format of the entries written before (cache format 1), byte for byte.
        assert_eq!(
            body,
            "A\tALAS2023-2026-001\tsecurity\tImportant\t1700000000\t\t1\tCVE-2026-1,CVE-2026-2\t42\n\
             P\ta\tnoarch\t2:1.0-1\n\
             A\tB\tbugfix\t-\t\t\t0\t\t\n"
        );
        assert_eq!(decode_notices(&body).unwrap(), notices);
        assert!(decode_notices("X\tjunk\n").is_none());
        assert!(
            decode_notices("P\ta\tb\tc\n").is_none(),
            "a package before any advisory"
        );
    }

    fn package(name: &str, version: &str, time: Option<i64>) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            arch: "x86_64".into(),
            version: version.into(),
            installed_time: time.and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
            held: false,
            priority: None,
            section: None,
        }
    }

    #[test]
    fn installed_entries_follow_the_database_and_its_log() {
        use std::cell::Cell;
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("rpmdb.sqlite");
        let wal = dir.path().join("rpmdb.sqlite-wal");
        std::fs::write(&database, "one").unwrap();
        let cache = MetadataCache::new(dir.path(), true);
        let reader = MetadataCache::new(dir.path(), false);
        let reads = Cell::new(0);
        let scan = |cache: &MetadataCache, packages: Vec<InstalledPackage>| {
            cache
                .installed(&database, || {
                    reads.set(reads.get() + 1);
                    Ok::<_, String>(packages)
                })
                .unwrap()
        };
        let first = vec![
            package("bash", "5.2-1", Some(1_700_000_000)),
            package("tar", "2:1.34-1", None),
        ];
        assert_eq!(scan(&cache, first.clone()), first);
        assert_eq!(reads.get(), 1);
        // Unchanged: the entry, for a writer and a read-only scan alike.
        assert_eq!(scan(&cache, Vec::new()), first);
        assert_eq!(scan(&reader, Vec::new()), first);
        assert_eq!(reads.get(), 1);
        // A change that lives only in the write-ahead log: read again.
        let second = vec![package("bash", "5.2-2", Some(1_700_000_100))];
        std::fs::write(&wal, "frame").unwrap();
        assert_eq!(scan(&cache, second.clone()), second);
        assert_eq!(scan(&cache, Vec::new()), second);
        assert_eq!(reads.get(), 2);
        std::fs::write(&wal, "frame, frame").unwrap();
        assert_eq!(scan(&cache, first.clone()), first);
        // The log checkpointed away, or the database itself changed: read again.
        std::fs::remove_file(&wal).unwrap();
        assert_eq!(scan(&cache, second.clone()), second);
        std::fs::write(&database, "two!").unwrap();
        assert_eq!(scan(&cache, first.clone()), first);
        assert_eq!(reads.get(), 5);
        // A read-only scan of a changed database reads it and leaves the entry alone.
        std::fs::write(&database, "three").unwrap();
        assert_eq!(scan(&reader, second.clone()), second);
        assert_eq!(scan(&reader, second.clone()), second);
        assert_eq!(reads.get(), 7);
        // A corrupt entry is read again; a read that fails is the caller's error.
        assert_eq!(scan(&cache, first.clone()), first);
        std::fs::write(cache.entry(&database, "installed"), "garbage").unwrap();
        assert_eq!(scan(&cache, second.clone()), second);
        assert_eq!(reads.get(), 9);
        std::fs::write(&database, "four").unwrap();
        let failed = cache.installed(&database, || Err::<Vec<InstalledPackage>, _>("locked"));
        assert_eq!(failed, Err("locked"));
        // No database at all: nothing cached, every scan reads.
        std::fs::remove_file(&database).unwrap();
        assert_eq!(scan(&cache, first.clone()), first);
        assert_eq!(scan(&cache, second.clone()), second);
        assert_eq!(reads.get(), 11);
    }

    #[test]
    fn a_source_changed_while_it_is_read_leaves_no_matching_entry() {
        // The identity is taken before the read: an entry written after the source changed
        // under the read records the source as it was, so the next scan reads again.
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("rpmdb.sqlite");
        std::fs::write(&database, "old").unwrap();
        let cache = MetadataCache::new(dir.path(), true);
        let old = vec![package("bash", "5.2-1", None)];
        let read = cache.installed(&database, || {
            std::fs::write(&database, "newer").unwrap();
            Ok::<_, String>(old.clone())
        });
        assert_eq!(read.unwrap(), old);
        assert!(cache.entry(&database, "installed").exists(), "written");
        let new = vec![package("bash", "5.2-2", None)];
        let again = cache.installed(&database, || Ok::<_, String>(new.clone()));
        assert_eq!(again.unwrap(), new, "the stale entry was believed");
    }

    #[test]
    fn installed_lines_round_trip() {
        let packages = vec![
            package("bash", "5.2-1", Some(1_700_000_000)),
            package("a", "1:0-0", None),
        ];
        let body = encode_installed(&packages).unwrap();
        assert_eq!(
            body,
            "bash\tx86_64\t5.2-1\t1700000000\na\tx86_64\t1:0-0\t\n"
        );
        assert_eq!(decode_installed(&body), Some(packages.clone()));
        for broken in [
            "bash\tx86_64\t5.2-1\n",
            "bash\tx86_64\t5.2-1\t\tmore\n",
            "\tx86_64\t1-1\t\n",
            "a\tb\tc\tsoon\n",
        ] {
            assert_eq!(decode_installed(broken), None, "{broken:?}");
        }
        let mut held = packages[0].clone();
        held.held = true;
        let mut tab = packages[1].clone();
        tab.version = "1\t2".into();
        for odd in [held, tab] {
            assert_eq!(
                encode_installed(std::slice::from_ref(&odd)),
                None,
                "{odd:?}"
            );
        }
    }

    #[test]
    fn entries_follow_their_source() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("primary.xml");
        std::fs::write(
            &source,
            r#"<metadata><package type="rpm"><name>a</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/></package></metadata>"#,
        )
        .unwrap();
        let cache = MetadataCache::new(dir.path(), true);
        assert_eq!(cache.primary(&source).unwrap().len(), 1);
        let entry = cache.entry(&source, "primary");
        assert!(entry.exists(), "written");
        // A read-only cache reads the entry; a changed source is parsed again.
        let reader = MetadataCache::new(dir.path(), false);
        assert_eq!(reader.primary(&source).unwrap()[0].name, "a");
        std::fs::write(
            &source,
            r#"<metadata><package type="rpm"><name>b</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/></package><package type="rpm"><name>c</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/></package></metadata>"#,
        )
        .unwrap();
        assert_eq!(reader.primary(&source).unwrap().len(), 2);
        // A corrupt entry is ignored.
        std::fs::write(&entry, "garbage").unwrap();
        assert_eq!(cache.primary(&source).unwrap().len(), 2);
    }

    #[test]
    fn an_entry_cut_short_is_stale() {
        // Entries are not synced to disk: a crash may leave one with only its first lines,
        // which would decode (whole lines) to fewer packages than the source has.
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("primary.xml");
        let package = |name: &str| {
            format!(
                r#"<package type="rpm"><name>{name}</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/></package>"#
            )
        };
        std::fs::write(
            &source,
            format!("<metadata>{}{}</metadata>", package("a"), package("b")),
        )
        .unwrap();
        let cache = MetadataCache::new(dir.path(), true);
        assert_eq!(cache.primary(&source).unwrap().len(), 2);
        let entry = cache.entry(&source, "primary");
        let text = std::fs::read_to_string(&entry).unwrap();
        let (header, body) = text.split_once('\n').unwrap();
        assert!(header.ends_with(&format!("\t{}", body.len())), "{header}");
        let first_line = body.lines().next().unwrap();
        assert!(decode_primary(&format!("{first_line}\n")).is_some_and(|p| p.len() == 1));
        let reader = MetadataCache::new(dir.path(), false);
        std::fs::write(&entry, format!("{header}\n{first_line}\n")).unwrap();
        assert!(reader.read(&source, "primary").is_none());
        let names: Vec<_> = reader
            .primary(&source)
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        // Whole again, it is used.
        std::fs::write(&entry, &text).unwrap();
        assert!(reader.read(&source, "primary").is_some());
    }
}
