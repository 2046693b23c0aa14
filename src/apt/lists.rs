//! apt's downloaded indexes under `var/lib/apt/lists`: which `Packages` file belongs to which
//! `Release` (origin, label, suite, codename, NotAutomatic), decompressed in a stream whatever
//! the compression apt kept (lz4, gz, xz, zst or none), reduced to the fields the rules use,
//! and kept reduced in the metadata cache while the index file is unchanged (as dnf's and
//! zypper's metadata are: [`crate::rpm::cache`]).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use compact_str::CompactString;

use super::deb822::{Paragraphs, field_value};
use crate::rpm::cache::MetadataCache;

/// What a `Release`/`InRelease` file says about its archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseInfo {
    /// `Origin`.
    pub origin: CompactString,
    /// `Label`.
    pub label: CompactString,
    /// `Suite` (apt's "archive", `a=`).
    pub suite: CompactString,
    /// `Codename` (`n=`).
    pub codename: CompactString,
    /// `Version` (`v=`).
    pub version: CompactString,
    /// The host the archive is downloaded from (`""` for local `file:` archives).
    pub site: CompactString,
    /// `NotAutomatic: yes`.
    pub not_automatic: bool,
    /// `ButAutomaticUpgrades: yes`.
    pub but_automatic_upgrades: bool,
}

/// One `Packages` index and the release it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    /// The file under `lists/`.
    pub path: PathBuf,
    /// Index into [`AptLists::releases`]; `None` for an index without a Release file.
    pub release: Option<usize>,
    /// The component (`main`, `universe`, …).
    pub component: CompactString,
}

/// One package version from a `Packages` index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedVersion {
    /// `Package`.
    pub name: CompactString,
    /// `Architecture`.
    pub arch: CompactString,
    /// `Version`.
    pub version: CompactString,
    /// `Priority`.
    pub priority: Option<CompactString>,
    /// `Section`.
    pub section: Option<CompactString>,
    /// `Phased-Update-Percentage` (Ubuntu), when below 100.
    pub phased: Option<u8>,
    /// Index into [`AptLists::files`].
    pub file: u32,
}

/// One version of a `Packages` index as its cache body holds it, borrowed from the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed<'a> {
    /// `Package`.
    pub name: &'a str,
    /// `Architecture`.
    pub arch: &'a str,
    /// `Version`.
    pub version: &'a str,
    /// `Priority`.
    pub priority: Option<&'a str>,
    /// `Section`.
    pub section: Option<&'a str>,
    /// `Phased-Update-Percentage` (Ubuntu), when below 100.
    pub phased: Option<u8>,
    /// Index into [`AptLists::files`].
    pub file: u32,
}

/// The versions of one index, in the form of its cache body: one tab-separated line per
/// version, sorted by name (see [`encode_packages`]).
#[derive(Debug, Default)]
pub struct IndexBody {
    text: String,
    start: usize,
}

impl IndexBody {
    /// A body of [`encode_packages`]'s form (a broken one is found broken when walked).
    pub fn new(text: String) -> Self {
        IndexBody { text, start: 0 }
    }

    fn body(&self) -> &str {
        self.text.get(self.start..).unwrap_or("")
    }

    /// The body's length.
    pub fn len(&self) -> usize {
        self.body().len()
    }

    /// No versions?
    pub fn is_empty(&self) -> bool {
        self.body().is_empty()
    }

    /// The body's lines as versions of index `file`, in name order.
    pub fn versions(&self, file: u32) -> BodyLines<'_> {
        self.versions_between(file, 0..self.len(), "", None)
    }

    /// The lines in bytes `range` of the body (from [`IndexBody::position_of`]) as versions of
    /// index `file`: each name at least `low` and, with `high`, below it; a line out of those
    /// bounds breaks the walk as a line out of order does.
    pub fn versions_between<'a>(
        &'a self,
        file: u32,
        range: std::ops::Range<usize>,
        low: &'a str,
        high: Option<&'a str>,
    ) -> BodyLines<'a> {
        let body = self.body().get(range);
        BodyLines {
            broken: body.is_none(),
            body: body.unwrap_or(""),
            at: 0,
            file,
            last: low,
            last_key: name_key(low),
            high: high.map(|h| (name_key(h), h)),
        }
    }

    /// Where the first line whose name is not below `name` starts (the body's length when
    /// there is none): a binary search over the lines, which are in name order (in a body that
    /// is not, some line start: the walk then finds it broken).
    pub fn position_of(&self, name: &str) -> usize {
        let body = self.body();
        let bytes = body.as_bytes();
        let (mut low, mut high) = (0usize, bytes.len());
        while low < high {
            let middle = low + (high - low) / 2;
            let start = memchr::memrchr(b'\n', &bytes[low..middle]).map_or(low, |i| low + i + 1);
            let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
            let line = &bytes[start..end];
            let line_name = &line[..memchr::memchr(b'\t', line).unwrap_or(line.len())];
            if line_name < name.as_bytes() {
                low = end;
            } else {
                high = start;
            }
        }
        low
    }

    /// The name of the line around the middle of the body, if any.
    pub fn middle_name(&self) -> Option<&str> {
        let body = self.body();
        let middle = body.len() / 2;
        let start = memchr::memrchr(b'\n', body.as_bytes().get(..middle)?).map_or(0, |i| i + 1);
        let line = body.get(start..)?;
        line.split(['\t', '\n']).next().filter(|n| !n.is_empty())
    }
}

/// The first eight bytes of `name`, big-endian, zero-padded: ordered as the names are (no name
/// holds a NUL), so most comparisons of two names are one comparison of two integers.
pub fn name_key(name: &str) -> u64 {
    let mut bytes = [0u8; 8];
    let head = name.as_bytes().get(..8).unwrap_or(name.as_bytes());
    bytes[..head.len()].copy_from_slice(head);
    u64::from_be_bytes(bytes)
}

/// The versions of one [`IndexBody`], in its (name) order. A line that is not one of
/// [`encode_packages`], or a name out of order, ends the walk and marks it broken: the body
/// is then not to be used ([`BodyLines::is_broken`]).
#[derive(Debug, Clone)]
pub struct BodyLines<'a> {
    body: &'a str,
    at: usize,
    file: u32,
    last: &'a str,
    last_key: u64,
    high: Option<(u64, &'a str)>,
    broken: bool,
}

impl<'a> BodyLines<'a> {
    /// The next version with its [`name_key`].
    pub fn next_keyed(&mut self) -> Option<(u64, Listed<'a>)> {
        if self.broken || self.at >= self.body.len() {
            return None;
        }
        if let Some((listed, next)) = body_line(self.body, self.at, self.file) {
            let key = name_key(listed.name);
            let below_high = self.high.is_none_or(|(high_key, high)| {
                key < high_key || (key == high_key && listed.name < high)
            });
            if below_high
                && (key > self.last_key || (key == self.last_key && listed.name >= self.last))
            {
                self.at = next;
                self.last = listed.name;
                self.last_key = key;
                return Some((key, listed));
            }
        }
        self.broken = true;
        None
    }

    /// The index these are versions of.
    pub fn file(&self) -> u32 {
        self.file
    }

    /// Did the walk stop at a line that is not one of [`encode_packages`]?
    pub fn is_broken(&self) -> bool {
        self.broken
    }
}

impl<'a> Iterator for BodyLines<'a> {
    type Item = Listed<'a>;

    fn next(&mut self) -> Option<Listed<'a>> {
        self.next_keyed().map(|(_, listed)| listed)
    }
}

/// The version on the body line starting at `at`, and where the next line starts; `None` at
/// the end or on a line that is not one of [`encode_packages`].
fn body_line(body: &str, at: usize, file: u32) -> Option<(Listed<'_>, usize)> {
    let bytes = body.as_bytes();
    // One pass over the line: five tabs, then its newline.
    let mut fields = [""; 6];
    let mut from = at;
    let mut end = None;
    for (found, position) in memchr::memchr2_iter(b'\t', b'\n', bytes.get(at..)?).enumerate() {
        let position = at + position;
        // Tabs and newlines are ASCII, so these are character boundaries.
        let text = body.get(from..position)?;
        if bytes[position] == b'\n' {
            if found != 5 {
                return None;
            }
            fields[5] = text;
            end = Some(position);
            break;
        }
        *fields.get_mut(found).filter(|_| found < 5)? = text;
        from = position + 1;
    }
    let end = end?;
    let [name, arch, version, priority, section, phased] = fields;
    // What [`cacheable`] does not keep is not a body line.
    if name.is_empty() || arch.is_empty() || version.is_empty() {
        return None;
    }
    let listed = Listed {
        name,
        arch,
        version,
        priority: (!priority.is_empty()).then_some(priority),
        section: (!section.is_empty()).then_some(section),
        phased: if phased.is_empty() {
            None
        } else {
            Some(phased.parse().ok().filter(|p: &u8| *p < 100)?)
        },
        file,
    };
    Some((listed, end + 1))
}

/// Everything apt has downloaded.
#[derive(Debug, Default)]
pub struct AptLists {
    /// Release files.
    pub releases: Vec<ReleaseInfo>,
    /// Packages indexes.
    pub files: Vec<IndexFile>,
    /// The versions of each index (one body per entry of `files`).
    pub bodies: Vec<IndexBody>,
    /// `Packages` lists left in the folder by sources apt is no longer configured with (not
    /// read).
    pub ignored: Vec<String>,
}

impl AptLists {
    /// Parses index `file` again, not from the cache (whose entry was found broken), and
    /// writes its entry again.
    pub fn reread(&mut self, file: usize, cache: &MetadataCache) -> Result<(), ListsError> {
        if let (Some(index), Some(body)) = (self.files.get(file), self.bodies.get_mut(file)) {
            *body = parsed_body(&index.path, cache)?;
        }
        Ok(())
    }

    /// Every version of every index, index by index.
    pub fn versions(&self) -> impl Iterator<Item = Listed<'_>> {
        self.bodies
            .iter()
            .enumerate()
            .flat_map(|(file, body)| body.versions(u32::try_from(file).unwrap_or(u32::MAX)))
    }
}

/// A lists file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ListsError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn error(path: &Path, message: impl std::fmt::Display) -> ListsError {
    ListsError {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Parses the first paragraph of a `Release` or clear-signed `InRelease` file.
pub fn parse_release(text: &[u8], site: &str) -> ReleaseInfo {
    let mut body = text;
    if body.starts_with(b"-----BEGIN PGP SIGNED MESSAGE-----") {
        // Skip the armour header block (up to the first blank line).
        if let Some(position) = memchr::memmem::find(body, b"\n\n") {
            body = &body[position + 2..];
        }
    }
    if let Some(position) = memchr::memmem::find(body, b"\n-----BEGIN PGP SIGNATURE-----") {
        body = &body[..position];
    }
    let paragraph = Paragraphs::new(body).next().map_or(&[][..], |(_, p)| p);
    let get = |name: &str| CompactString::from(field_value(paragraph, name).unwrap_or(""));
    let yes =
        |name: &str| field_value(paragraph, name).is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    ReleaseInfo {
        origin: get("Origin"),
        label: get("Label"),
        suite: get("Suite"),
        codename: get("Codename"),
        version: get("Version"),
        site: site.into(),
        not_automatic: yes("NotAutomatic"),
        but_automatic_upgrades: yes("ButAutomaticUpgrades"),
    }
}

/// The compression of an index file, from its name.
fn open_decompressed(path: &Path) -> Result<Box<dyn Read>, ListsError> {
    let file = File::open(path).map_err(|e| error(path, e))?;
    let name = path.to_string_lossy();
    let buffered = BufReader::with_capacity(1 << 16, file);
    Ok(if name.ends_with(".lz4") {
        Box::new(lz4_flex::frame::FrameDecoder::new(buffered))
    } else if name.ends_with(".gz") {
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else if name.ends_with(".zst") {
        Box::new(ruzstd::decoding::StreamingDecoder::new(buffered).map_err(|e| error(path, e))?)
    } else if name.ends_with(".xz") {
        let mut out = Vec::new();
        let mut input = buffered;
        lzma_rs::xz_decompress(&mut input, &mut out).map_err(|e| error(path, e))?;
        Box::new(std::io::Cursor::new(out))
    } else {
        Box::new(buffered)
    })
}

/// Reads the fields the rules need from a `Packages` stream. The stream is read in large
/// chunks and scanned in place (no copy per line): Packages files run to tens of megabytes.
pub fn parse_packages(
    reader: impl Read,
    file: u32,
    out: &mut Vec<ListedVersion>,
) -> std::io::Result<()> {
    each_stanza(reader, file, |version| out.push(version.clone()))
}

/// Reads a `Packages` stream straight into the body [`encode_packages`] makes of its versions
/// (without holding every version first): what a scan reads and the cache keeps.
pub fn packages_body(reader: impl Read) -> std::io::Result<String> {
    let mut body = String::new();
    // (name, line) ranges of each line in `body`, to sort by name.
    let mut lines: Vec<(u32, u32, u32)> = Vec::new();
    let mut phased = String::new();
    each_stanza(reader, 0, |v| {
        let plain = |f: &str| !f.is_empty() && !f.contains(['\t', '\n']);
        if !(plain(&v.name) && plain(&v.arch) && plain(&v.version)) {
            return;
        }
        let start = body.len();
        for field in [v.name.as_str(), &v.arch, &v.version] {
            body.push_str(field);
            body.push('\t');
        }
        for field in [v.priority.as_deref(), v.section.as_deref()] {
            body.push_str(field.filter(|f| plain(f)).unwrap_or(""));
            body.push('\t');
        }
        if let Some(percentage) = v.phased.filter(|p| *p < 100) {
            phased.clear();
            let _ = write!(phased, "{percentage}");
            body.push_str(&phased);
        }
        body.push('\n');
        let (Ok(start), Ok(name), Ok(end)) = (
            u32::try_from(start),
            u32::try_from(v.name.len()),
            u32::try_from(body.len()),
        ) else {
            return;
        };
        lines.push((start, name, end));
    })?;
    if u32::try_from(body.len()).is_err() {
        return Err(std::io::Error::other(
            "the index holds more than 4 GB of versions",
        ));
    }
    let name = |&(start, len, _): &(u32, u32, u32)| &body[start as usize..(start + len) as usize];
    if lines.windows(2).all(|w| name(&w[0]) <= name(&w[1])) {
        return Ok(body);
    }
    // Most of an index is in name order already, which the stable sort makes quick work of.
    lines.sort_by(|a, b| name(a).cmp(name(b)));
    let mut sorted = String::with_capacity(body.len());
    for &(start, _, end) in &lines {
        sorted.push_str(&body[start as usize..end as usize]);
    }
    Ok(sorted)
}

/// Calls `each` with every stanza of a `Packages` stream that has a name and a version, as
/// the version of index `file` it describes.
fn each_stanza(
    mut reader: impl Read,
    file: u32,
    mut each: impl FnMut(&ListedVersion),
) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 20;
    let mut buffer: Vec<u8> = Vec::with_capacity(2 * CHUNK);
    let mut current = ListedVersion {
        name: CompactString::default(),
        arch: CompactString::default(),
        version: CompactString::default(),
        priority: None,
        section: None,
        phased: None,
        file,
    };
    let mut finished = false;
    while !finished {
        // Top the buffer up to at least one chunk past its unprocessed tail.
        let kept = buffer.len();
        buffer.resize(kept + CHUNK, 0);
        let mut filled = kept;
        while filled < buffer.len() {
            let read = reader.read(&mut buffer[filled..])?;
            if read == 0 {
                finished = true;
                break;
            }
            filled += read;
        }
        buffer.truncate(filled);
        if finished && buffer.last() != Some(&b'\n') {
            buffer.push(b'\n');
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &buffer) {
            take_line(&buffer[start..end], &mut current, &mut each);
            start = end + 1;
        }
        buffer.drain(..start);
    }
    take_line(b"", &mut current, &mut each);
    Ok(())
}

fn take_line(line: &[u8], current: &mut ListedVersion, each: &mut impl FnMut(&ListedVersion)) {
    let value = |prefix: usize| -> CompactString {
        let text = String::from_utf8_lossy(&line[prefix..]);
        CompactString::from(text.trim())
    };
    match line.first() {
        None | Some(b'\r') => {
            if !current.name.is_empty() && !current.version.is_empty() {
                each(current);
            }
            current.name.clear();
            current.version.clear();
            current.arch.clear();
            current.priority = None;
            current.section = None;
            current.phased = None;
        }
        Some(b'P') if line.starts_with(b"Package:") => current.name = value(8),
        Some(b'P') if line.starts_with(b"Priority:") => current.priority = Some(value(9)),
        Some(b'P') if line.starts_with(b"Phased-Update-Percentage:") => {
            current.phased = value(25).parse().ok().filter(|p: &u8| *p < 100);
        }
        Some(b'V') if line.starts_with(b"Version:") => current.version = value(8),
        Some(b'A') if line.starts_with(b"Architecture:") => current.arch = value(13),
        Some(b'S') if line.starts_with(b"Section:") => current.section = Some(value(8)),
        _ => {}
    }
}

/// Is this file name a binary `Packages` index?
fn is_packages_index(name: &str) -> bool {
    let base = name
        .strip_suffix(".lz4")
        .or_else(|| name.strip_suffix(".gz"))
        .or_else(|| name.strip_suffix(".xz"))
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(name);
    base.ends_with("_Packages")
        && !base.contains("_source_")
        && !base.contains("_debian-installer_")
}

/// Reads every Release file and Packages index under `root/var/lib/apt/lists` that belongs to a
/// configured source (see [`super::sources`]).
pub fn read_lists(root: &Path, cache: &MetadataCache) -> Result<AptLists, ListsError> {
    read_lists_in(
        &root.join("var/lib/apt/lists"),
        super::sources::configured_prefixes(root),
        cache,
    )
}

/// The cache entries of `Packages` indexes (sorted bodies; the unsorted entries of earlier
/// versions are another kind, not read).
const CACHE_KIND: &str = "apt-packages-by-name";

/// The version as a cache body can hold it: `None` when its name, architecture or version is
/// empty or holds a tab or newline (no Debian package is named so: apt rejects such a stanza
/// too); an empty `Priority` or `Section`, or one holding a tab or newline, reads as absent.
pub fn cacheable(version: &ListedVersion) -> Option<ListedVersion> {
    let plain = |f: &str| !f.is_empty() && !f.contains(['\t', '\n']);
    if ![&version.name, &version.arch, &version.version]
        .iter()
        .all(|f| plain(f))
    {
        return None;
    }
    Some(ListedVersion {
        priority: version.priority.clone().filter(|f| plain(f)),
        section: version.section.clone().filter(|f| plain(f)),
        phased: version.phased.filter(|p| *p < 100),
        ..version.clone()
    })
}

/// The body of a `Packages` cache entry, which is also the form a scan reads every index in:
/// one line per version, name, arch, version, priority, section and phased percentage
/// tab-separated (an absent field empty), sorted by name (stable: an index's order among
/// versions of one name), of the versions [`cacheable`] keeps.
pub fn encode_packages(versions: &[ListedVersion]) -> String {
    let mut kept: Vec<ListedVersion> = versions.iter().filter_map(cacheable).collect();
    kept.sort_by(|a, b| a.name.cmp(&b.name));
    let mut body = String::with_capacity(kept.len() * 64);
    for v in &kept {
        for field in [v.name.as_str(), &v.arch, &v.version] {
            body.push_str(field);
            body.push('\t');
        }
        for field in [v.priority.as_deref(), v.section.as_deref()] {
            body.push_str(field.unwrap_or(""));
            body.push('\t');
        }
        if let Some(phased) = v.phased {
            body.push_str(&phased.to_string());
        }
        body.push('\n');
    }
    body
}

/// Reads a body written by [`encode_packages`] as the versions of index `file`; `None` when it
/// is not one.
pub fn decode_packages(body: &str, file: u32) -> Option<Vec<ListedVersion>> {
    let own = |f: Option<&str>| f.map(CompactString::from);
    let body = IndexBody {
        text: body.to_string(),
        start: 0,
    };
    let mut lines = body.versions(file);
    let versions = lines
        .by_ref()
        .map(|l| ListedVersion {
            name: l.name.into(),
            arch: l.arch.into(),
            version: l.version.into(),
            priority: own(l.priority),
            section: own(l.section),
            phased: l.phased,
            file: l.file,
        })
        .collect();
    (!lines.is_broken()).then_some(versions)
}

/// The versions of one `Packages` index: from the cache while `path` is unchanged, else parsed
/// (and the cache entry written, unless it is read-only).
fn index_body(path: &Path, cache: &MetadataCache) -> Result<IndexBody, ListsError> {
    // A broken entry is found while the scan reads it ([`BodyLines::is_broken`]), which then
    // parses the index again ([`AptLists::reread`]).
    if let Some((text, start)) = cache.read(path, CACHE_KIND) {
        return Ok(IndexBody { text, start });
    }
    parsed_body(path, cache)
}

/// The versions of one `Packages` index, parsed (and the cache entry written, unless it is
/// read-only).
fn parsed_body(path: &Path, cache: &MetadataCache) -> Result<IndexBody, ListsError> {
    let identity = crate::rpm::cache::identity(path);
    let reader = open_decompressed(path)?;
    let text = packages_body(reader).map_err(|e| error(path, e))?;
    if let Some(identity) = identity {
        cache.write(path, CACHE_KIND, &identity, &text);
    }
    Ok(IndexBody { text, start: 0 })
}

/// Reads the lists in `directory` whose names start with one of `prefixes` (all of them when
/// `None`): the host's lists, or the private lists of baseline sources. The `Packages` indexes
/// are read on threads of their own (the big ones dominate a scan), through `cache`.
pub fn read_lists_in(
    directory: &Path,
    prefixes: Option<super::sources::Prefixes>,
    cache: &MetadataCache,
) -> Result<AptLists, ListsError> {
    let directory = directory.to_path_buf();
    let entries = std::fs::read_dir(&directory).map_err(|e| error(&directory, e))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        // apt links the indexes of `file:` archives instead of copying them: follow links.
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut lists = AptLists::default();
    // Only the lists of the sources apt is configured with are apt's view.
    if let Some(prefixes) = prefixes {
        let (kept, ignored): (Vec<String>, Vec<String>) = names.into_iter().partition(|name| {
            !(is_packages_index(name) || name.ends_with("_InRelease") || name.ends_with("_Release"))
                || prefixes.matches(name)
        });
        names = kept;
        lists.ignored = ignored
            .into_iter()
            .filter(|n| is_packages_index(n))
            .collect();
    }
    let mut prefixes: Vec<(String, usize)> = Vec::new();
    for name in &names {
        let prefix = name
            .strip_suffix("InRelease")
            .or_else(|| name.strip_suffix("Release"))
            .filter(|p| p.ends_with('_'));
        let Some(prefix) = prefix else { continue };
        if prefixes.iter().any(|(p, _)| p == prefix) {
            continue; // both InRelease and Release: the first (InRelease sorts first) wins
        }
        let path = directory.join(name);
        let text = std::fs::read(&path).map_err(|e| error(&path, e))?;
        let site = prefix.split('_').next().unwrap_or("");
        prefixes.push((prefix.to_string(), lists.releases.len()));
        lists.releases.push(parse_release(&text, site));
    }
    for name in names.iter().filter(|n| is_packages_index(n)) {
        let release = prefixes
            .iter()
            .filter(|(prefix, _)| name.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len());
        let component = release
            .and_then(|(prefix, _)| name[prefix.len()..].split("_binary-").next())
            .unwrap_or("")
            .trim_end_matches('_')
            .replace('_', "/");
        lists.files.push(IndexFile {
            path: directory.join(name),
            release: release.map(|(_, index)| *index),
            component: component.into(),
        });
    }
    let read = |index: &IndexFile| index_body(&index.path, cache);
    let parts: Vec<Result<IndexBody, ListsError>> = if lists.files.len() > 1 {
        std::thread::scope(|scope| {
            let readers: Vec<_> = lists
                .files
                .iter()
                .map(|job| scope.spawn(move || read(job)))
                .collect();
            readers
                .into_iter()
                .map(|reader| {
                    reader
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    } else {
        lists.files.iter().map(read).collect()
    };
    lists.bodies = parts.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(lists)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_body_line_with_an_empty_arch() {
        // Decoded as a version with architecture ``, which no body is written with: encoded
        // again it was left out, so the body did not round-trip. Now it is not a body line.
        let body = include_str!("../../fixtures/fuzz/metadata_cache-crash-120f728d");
        assert_eq!(decode_packages(body, 7), None);
        let whole = body.replacen("\t\t", "\tamd64\t", 1);
        let versions = decode_packages(&whole, 7).unwrap();
        assert_eq!(versions[0].arch, "amd64");
        assert_eq!(
            decode_packages(&encode_packages(&versions), 7),
            Some(versions)
        );
    }

    #[test]
    fn packages_cache_round_trip_and_staleness() {
        let dir = tempfile::tempdir().unwrap();
        let lists = dir.path().join("lists");
        std::fs::create_dir(&lists).unwrap();
        let index = lists.join("example.org_dists_stable_main_binary-amd64_Packages");
        let text = "Package: b\nVersion: 2\nArchitecture: all\nPhased-Update-Percentage: 10\n\nPackage: a\nVersion: 1.0\nArchitecture: amd64\nPriority: optional\nSection: utils\n";
        std::fs::write(&index, text).unwrap();
        let cache = MetadataCache::new(dir.path(), true);
        let read = |cache: &MetadataCache| -> Vec<(String, String, Option<String>)> {
            read_lists_in(&lists, None, cache)
                .unwrap()
                .versions()
                .map(|l| {
                    (
                        l.name.to_string(),
                        l.version.to_string(),
                        l.section.map(str::to_string),
                    )
                })
                .collect()
        };
        // Read in name order, whatever the index's order.
        assert_eq!(
            read(&cache),
            [
                ("a".into(), "1.0".into(), Some("utils".into())),
                ("b".into(), "2".into(), None)
            ]
        );
        let mut parsed = Vec::new();
        parse_packages(text.as_bytes(), 0, &mut parsed).unwrap();
        let body = encode_packages(&parsed);
        let decoded = decode_packages(&body, 0).unwrap();
        parsed.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(decoded, parsed);
        // The entry is used while the index is unchanged: a changed entry shows it was read.
        let (entry_text, start) = cache.read(&index, CACHE_KIND).unwrap();
        assert_eq!(&entry_text[start..], body);
        let header = &entry_text[..start];
        let entry = std::fs::read_dir(dir.path().join("var/cache/patch-baseline"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::write(
            &entry,
            format!("{header}{}", body.replace("utils", "games")),
        )
        .unwrap();
        // An entry whose length is not its header's is stale: the index is parsed again (the
        // section read is the index's, not the entry's).
        std::fs::write(
            &entry,
            format!("{header}{}", body.replace("utils", "games-longer")),
        )
        .unwrap();
        assert_eq!(read(&cache)[0].2.as_deref(), Some("utils"));
        std::fs::write(
            &entry,
            format!("{header}{}", body.replace("utils", "games")),
        )
        .unwrap();
        assert_eq!(read(&cache)[0].2.as_deref(), Some("games"));
        // A changed index (size) is parsed again; a read-only cache is not written.
        std::fs::write(&index, text.replace("1.0", "1.01")).unwrap();
        let read_only = MetadataCache::new(dir.path(), false);
        assert_eq!(
            read(&read_only)[0],
            ("a".into(), "1.01".into(), Some("utils".into()))
        );
        assert!(read_only.read(&index, CACHE_KIND).is_none());
        // A broken entry (a line cut short, names out of order) is found broken by the walk,
        // and the index parsed again.
        read(&cache);
        let (entry_text, start) = cache.read(&index, CACHE_KIND).unwrap();
        let header = entry_text[..start].to_string();
        // An empty architecture is a line no writer makes (found by fuzzing metadata_cache).
        for broken in [
            "a\tb\n",
            "b\tall\t2\t\t\t\na\tamd64\t9\t\t\t\n",
            "a\t\t00\t00\t200\t05\n",
        ] {
            // With the header's length the broken body's, so that the walk is what finds it.
            let (identity, _) = header.trim_end().rsplit_once('\t').unwrap();
            let length = broken.len();
            std::fs::write(&entry, format!("{identity}\t{length}\n{broken}")).unwrap();
            let mut found = read_lists_in(&lists, None, &cache).unwrap();
            let mut walk = found.bodies[0].versions(0);
            walk.by_ref().for_each(drop);
            assert!(walk.is_broken(), "{broken:?}");
            found.reread(0, &cache).unwrap();
            let versions: Vec<_> = found.versions().map(|l| l.version).collect();
            assert_eq!(versions, ["1.01", "2"]);
            assert!(!std::fs::read_to_string(&entry).unwrap().contains(broken));
        }
        // What a body cannot say is left out or read as absent.
        let mut odd = parsed.clone();
        odd[0].priority = Some(CompactString::default());
        odd[1].name = "a\tb".into();
        let kept = decode_packages(&encode_packages(&odd), 0).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].priority, None);
        assert!(decode_packages(&body[..body.len() - 3], 0).is_none());
    }

    #[test]
    fn clearsigned_release() {
        let text = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: Debian\nLabel: Debian-Security\nSuite: oldstable-security\nCodename: bookworm-security\nNotAutomatic: yes\nSHA256:\n abc 1 main/x\n-----BEGIN PGP SIGNATURE-----\n\nxyz\n-----END PGP SIGNATURE-----\n";
        let info = parse_release(text, "deb.debian.org");
        assert_eq!(
            (info.origin.as_str(), info.label.as_str()),
            ("Debian", "Debian-Security")
        );
        assert_eq!(
            (info.suite.as_str(), info.codename.as_str()),
            ("oldstable-security", "bookworm-security")
        );
        assert!(info.not_automatic && !info.but_automatic_upgrades);
    }

    #[test]
    fn packages_stanzas() {
        let text = b"Package: a\nVersion: 1.0\nArchitecture: amd64\nPriority: optional\nSection: utils\nDescription: x\n y\n\nPackage: b\nVersion: 2\nArchitecture: all\nPhased-Update-Percentage: 10\n";
        let mut out = Vec::new();
        parse_packages(&text[..], 3, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].name.as_str(), out[0].section.as_deref()),
            ("a", Some("utils"))
        );
        assert_eq!(
            (out[1].arch.as_str(), out[1].phased, out[1].file),
            ("all", Some(10), 3)
        );
        // The body read straight from the stream is the one made of the parsed versions.
        let unsorted = b"Package: z\nVersion: 1\nArchitecture: all\nPriority:\n\nPackage: a\tb\nVersion: 1\n\nPackage: m\nVersion: 2\nArchitecture: amd64\nSection: net\nPhased-Update-Percentage: 100\n";
        for text in [&text[..], &unsorted[..]] {
            let mut parsed = Vec::new();
            parse_packages(text, 0, &mut parsed).unwrap();
            assert_eq!(packages_body(text).unwrap(), encode_packages(&parsed));
        }
        assert_eq!(
            packages_body(&unsorted[..]).unwrap(),
            "m\tamd64\t2\t\tnet\t\nz\tall\t1\t\t\t\n"
        );
        assert!(is_packages_index(
            "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4"
        ));
        assert!(!is_packages_index(
            "deb.debian.org_debian_dists_bookworm_main_i18n_Translation-en"
        ));
    }
}
