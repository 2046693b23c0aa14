//! `primary.xml` (rpm-md repository metadata), read natively and streaming whatever the
//! compression: for each `<package type="rpm">` its name, arch, epoch, version, release and
//! build time — what a scan needs, nothing else (files, dependencies and descriptions are
//! skipped without being kept).
//!
//! Two readers: [`scan`], which cuts the stream at `</package>` and picks the four elements it
//! needs out of each package with a byte search (about five times faster than tokenising every
//! dependency entry), and [`parse`], a full XML reader used when a package does not have the
//! shape the fast reader expects (a namespace prefix on `<name>`, say).

use std::io::{BufRead, Read};
use std::path::Path;

use compact_str::CompactString;
use quick_xml::events::Event;

use crate::rpm::updateinfo::{UpdateinfoError, open};

/// One package of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrimaryPackage {
    /// `<name>`.
    pub name: CompactString,
    /// `<arch>`.
    pub arch: CompactString,
    /// `epoch` of `<version>` (`0` when absent).
    pub epoch: CompactString,
    /// `ver` of `<version>`.
    pub version: CompactString,
    /// `rel` of `<version>`.
    pub release: CompactString,
    /// `build` of `<time>`, seconds since 1970.
    pub build_time: Option<i64>,
}

impl PrimaryPackage {
    /// `[epoch:]version-release`, the epoch only when it is not 0.
    pub fn evr(&self) -> CompactString {
        // Built in place: most fit the inline form, so no allocation at all.
        let with_epoch = !(self.epoch.is_empty() || self.epoch == "0");
        let mut evr = CompactString::with_capacity(
            self.epoch.len() * usize::from(with_epoch)
                + self.version.len()
                + self.release.len()
                + 2,
        );
        if with_epoch {
            evr.push_str(&self.epoch);
            evr.push(':');
        }
        evr.push_str(&self.version);
        evr.push('-');
        evr.push_str(&self.release);
        evr
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    Name,
    Arch,
}

/// Parses a primary stream. `source_name` names it in errors.
pub fn parse(
    reader: impl BufRead,
    source_name: &str,
) -> Result<Vec<PrimaryPackage>, UpdateinfoError> {
    let mut xml = quick_xml::Reader::from_reader(reader);
    xml.config_mut().trim_text(true);
    let mut buffer = Vec::with_capacity(4096);
    let mut packages = Vec::new();
    let mut current: Option<PrimaryPackage> = None;
    let mut field = Field::None;
    let mut depth = 0usize;
    let error = |xml: &quick_xml::Reader<_>, message: String| UpdateinfoError {
        source_name: source_name.to_string(),
        message: format!("at byte {}: {message}", xml.buffer_position()),
    };
    loop {
        let event = xml
            .read_event_into(&mut buffer)
            .map_err(|e| error(&xml, e.to_string()))?;
        match event {
            Event::Eof if depth > 0 => {
                return Err(error(
                    &xml,
                    format!("ends with {depth} element(s) still open: truncated?"),
                ));
            }
            Event::Eof => break,
            Event::Start(ref element) | Event::Empty(ref element) => {
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
                match element.local_name().into_inner() {
                    "package" => current = Some(PrimaryPackage::default()),
                    "name" if current.is_some() && depth == 3 => field = Field::Name,
                    "arch" if current.is_some() && depth == 3 => field = Field::Arch,
                    "version" | "time" => {
                        if let Some(package) = current.as_mut() {
                            for attribute in element.attributes().flatten() {
                                let value = || {
                                    attribute
                                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                        .map(|v| v.trim().to_string())
                                        .unwrap_or_default()
                                };
                                match attribute.key.local_name().into_inner() {
                                    "epoch" => package.epoch = value().into(),
                                    "ver" => package.version = value().into(),
                                    "rel" => package.release = value().into(),
                                    "build" => package.build_time = value().parse().ok(),
                                    _ => {}
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(ref content) if field != Field::None => {
                if let Some(package) = current.as_mut() {
                    let text = content.xml_content(quick_xml::XmlVersion::Implicit1_0);
                    match field {
                        Field::Name => package.name.push_str(&text),
                        Field::Arch => package.arch.push_str(&text),
                        Field::None => {}
                    }
                }
            }
            Event::End(ref element) => {
                depth = depth.saturating_sub(1);
                field = Field::None;
                if element.local_name().into_inner() == "package"
                    && let Some(mut package) = current.take()
                {
                    if package.epoch.is_empty() {
                        package.epoch.push('0');
                    }
                    packages.push(package);
                }
            }
            _ => {}
        }
        buffer.clear();
    }
    Ok(packages)
}

/// Opens and reads a primary file: the fast reader, else the full XML reader.
pub fn parse_file(path: &Path) -> Result<Vec<PrimaryPackage>, UpdateinfoError> {
    let source_name = path.display().to_string();
    match scan(open(path)?, &source_name)? {
        Some(packages) => Ok(packages),
        None => parse(open(path)?, &source_name),
    }
}

/// Where `needle` (which starts with its only `<`… or any first byte) first occurs in `hay`:
/// a `memchr` on the first byte and a comparison, cheaper than building a substring searcher
/// for the short distances inside one package.
fn find_short(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(at) = memchr::memchr(first, &hay[from..]) {
        let at = from + at;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The text between `<tag>` and `</tag>` in `block`, unescaped.
fn element_text(block: &[u8], open_tag: &[u8], close_tag: &[u8]) -> Option<CompactString> {
    let start = find_short(block, open_tag)? + open_tag.len();
    let length = find_short(&block[start..], close_tag)?;
    let raw = std::str::from_utf8(&block[start..start + length]).ok()?;
    Some(unescape(raw.trim()))
}

fn unescape(text: &str) -> CompactString {
    if text.contains('&') {
        quick_xml::escape::unescape(text).map_or_else(|_| text.into(), |t| t.as_ref().into())
    } else {
        text.into()
    }
}

/// The attributes of the empty element starting with `prefix` (`<version `) in `block`.
fn attributes<'a>(block: &'a [u8], prefix: &[u8]) -> Vec<(&'a [u8], CompactString)> {
    let Some(start) = find_short(block, prefix) else {
        return Vec::new();
    };
    let rest = &block[start + prefix.len()..];
    let end = memchr::memchr(b'>', rest).unwrap_or(rest.len());
    let mut tag = &rest[..end];
    let mut found = Vec::new();
    while let Some(equals) = memchr::memchr(b'=', tag) {
        let key = tag[..equals].trim_ascii();
        let after = &tag[equals + 1..];
        let Some(&quote) = after.first() else { break };
        if quote != b'"' && quote != b'\'' {
            break;
        }
        let Some(close) = memchr::memchr(quote, &after[1..]) else {
            break;
        };
        let value = String::from_utf8_lossy(&after[1..=close]);
        found.push((key, unescape(value.trim())));
        tag = &after[close + 2..];
    }
    found
}

/// The fast reader: `Ok(None)` when a package block lacks the expected `<name>`, `<arch>`
/// or `<version …/>` (the caller then uses [`parse`]).
pub fn scan(
    reader: impl BufRead,
    source_name: &str,
) -> Result<Option<Vec<PrimaryPackage>>, UpdateinfoError> {
    let mut packages = Vec::new();
    let complete = for_each_package(reader, source_name, |block| {
        package_of(block).map(|package| packages.push(package))
    })?;
    Ok(complete.then_some(packages))
}

/// The name, arch, version and build time of one `<package>…</package>` block; none when it
/// lacks `<name>`, `<arch>` or `<version …/>`.
fn package_of(block: &[u8]) -> Option<PrimaryPackage> {
    let mut package = PrimaryPackage {
        name: element_text(block, b"<name>", b"</name>")?,
        arch: element_text(block, b"<arch>", b"</arch>")?,
        epoch: "0".into(),
        ..PrimaryPackage::default()
    };
    let version = attributes(block, b"<version ");
    if version.is_empty() {
        return None;
    }
    for (key, value) in version {
        match key {
            b"epoch" if !value.is_empty() => package.epoch = value,
            b"ver" => package.version = value,
            b"rel" => package.release = value,
            _ => {}
        }
    }
    package.build_time = attributes(block, b"<time ")
        .into_iter()
        .find(|(key, _)| *key == b"build")
        .and_then(|(_, value)| value.parse().ok());
    Some(package)
}

/// Cuts a primary stream into its `<package>` blocks and hands each to `visit`, which answers
/// `None` to stop. `Ok(false)`: stopped; errors for a stream that is not primary metadata or is
/// truncated.
fn for_each_package(
    mut reader: impl BufRead,
    source_name: &str,
    mut visit: impl FnMut(&[u8]) -> Option<()>,
) -> Result<bool, UpdateinfoError> {
    const CHUNK: usize = 1 << 20;
    let error = |message: String| UpdateinfoError {
        source_name: source_name.to_string(),
        message,
    };
    let package_end = memchr::memmem::Finder::new(b"</package>");
    let package_start = memchr::memmem::Finder::new(b"<package");
    let mut buffer: Vec<u8> = Vec::with_capacity(2 * CHUNK);
    let mut consumed = 0usize;
    let mut seen_metadata = false;
    loop {
        let before = buffer.len();
        let read = (&mut reader)
            .take(CHUNK as u64)
            .read_to_end(&mut buffer)
            .map_err(|e| error(format!("at byte {}: {e}", consumed + before)))?;
        let at_end = read == 0;
        if !seen_metadata {
            seen_metadata = memchr::memmem::find(&buffer, b"<metadata").is_some();
            if !seen_metadata && (at_end || buffer.len() > 4 * CHUNK) {
                return Err(error("not primary metadata: no <metadata> element".into()));
            }
        }
        let complete = package_end
            .find_iter(&buffer)
            .last()
            .map_or(0, |end| end + b"</package>".len());
        let mut cursor = 0;
        while let Some(start) = package_start.find(&buffer[cursor..complete]) {
            let start = cursor + start;
            let Some(end) = package_end.find(&buffer[start..complete]) else {
                break;
            };
            cursor = start + end + b"</package>".len();
            if visit(&buffer[start..start + end]).is_none() {
                return Ok(false);
            }
        }
        consumed += complete;
        buffer.drain(..complete);
        if at_end {
            if package_start.find(&buffer).is_some() {
                return Err(error(format!(
                    "ends at byte {} inside a <package>: truncated?",
                    consumed + buffer.len()
                )));
            }
            if memchr::memmem::find(&buffer, b"</metadata>").is_none() {
                return Err(error(format!(
                    "ends at byte {} without </metadata>: truncated?",
                    consumed + buffer.len()
                )));
            }
            return Ok(true);
        }
    }
}

/// The download sizes (`<size package="…"/>`, the rpm file's bytes) a primary file gives the
/// packages `wanted` (name, arch, `[epoch:]version-release`; an epoch 0 may be written or
/// not): one per wanted package, none where the file does not list it. For the maintenance
/// window's estimates when the package manager cannot be asked (zypper, classic yum).
pub fn download_sizes(
    path: &Path,
    wanted: &[(&str, &str, &str)],
) -> Result<Vec<Option<u64>>, UpdateinfoError> {
    let plain = |evr: &str| evr.strip_prefix("0:").unwrap_or(evr).to_string();
    let wanted: Vec<(&str, &str, String)> = wanted
        .iter()
        .map(|(name, arch, evr)| (*name, *arch, plain(evr)))
        .collect();
    let names: std::collections::HashSet<&str> = wanted.iter().map(|w| w.0).collect();
    let mut sizes = vec![None; wanted.len()];
    for_each_package(open(path)?, &path.display().to_string(), |block| {
        // Most blocks are other packages: their name alone rules them out.
        let name = element_text(block, b"<name>", b"</name>");
        if !name.is_some_and(|name| names.contains(name.as_str())) {
            return Some(());
        }
        let Some(package) = package_of(block) else {
            return Some(());
        };
        let evr = package.evr();
        let size = attributes(block, b"<size ")
            .into_iter()
            .find(|(key, _)| *key == b"package")
            .and_then(|(_, value)| value.parse::<u64>().ok());
        for (slot, (name, arch, version)) in sizes.iter_mut().zip(&wanted) {
            if slot.is_none() && package.name == *name && package.arch == *arch && evr == *version {
                *slot = size;
            }
        }
        Some(())
    })?;
    Ok(sizes)
}

/// The download sizes of `targets` from the first of the primary `files` that lists each
/// (the repositories in the order the package manager prefers them); a file that cannot be
/// read gives nothing (the window then estimates those updates from the others).
pub fn sizes_of_targets(
    files: &[std::path::PathBuf],
    targets: &[crate::install::Target],
) -> Vec<Option<u64>> {
    let mut sizes = vec![None; targets.len()];
    for file in files {
        let unknown: Vec<usize> = (0..targets.len()).filter(|&i| sizes[i].is_none()).collect();
        if unknown.is_empty() {
            break;
        }
        let wanted: Vec<(&str, &str, &str)> = unknown
            .iter()
            .map(|&i| {
                let t = &targets[i];
                (t.name.as_str(), t.arch.as_str(), t.version.as_str())
            })
            .collect();
        if let Ok(found) = download_sizes(file, &wanted) {
            for (&i, size) in unknown.iter().zip(found) {
                sizes[i] = size;
            }
        }
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_of_a_small_primary() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="2">
<package type="rpm"><name>bash</name><arch>x86_64</arch><version epoch="0" ver="5.2" rel="1.amzn2023"/>
<checksum type="sha256" pkgid="YES">abc</checksum><summary>The GNU Bourne Again shell</summary>
<time file="1700000000" build="1690000000"/><format><rpm:provides><rpm:entry name="bash" flags="EQ" epoch="0" ver="5.2" rel="1"/></rpm:provides></format></package>
<package type="rpm"><name>tar</name><arch>x86_64</arch><version epoch="2" ver="1.34" rel="1"/></package>
</metadata>"#;
        let packages = parse(xml.as_bytes(), "t").unwrap();
        assert_eq!(
            scan(xml.as_bytes(), "t").unwrap().as_ref(),
            Some(&packages),
            "both readers agree"
        );
        let prefixed = xml.replace("<name>bash</name>", "<c:name>bash</c:name>");
        assert_eq!(scan(prefixed.as_bytes(), "t").unwrap(), None, "falls back");
        for cut in [300, xml.len() - 12] {
            assert!(
                scan(&xml.as_bytes()[..cut], "t").is_err(),
                "truncated at {cut}"
            );
        }
        assert_eq!(packages.len(), 2);
        assert_eq!(
            (
                packages[0].name.as_str(),
                packages[0].arch.as_str(),
                packages[0].evr()
            ),
            ("bash", "x86_64", "5.2-1.amzn2023".into())
        );
        assert_eq!(packages[0].build_time, Some(1_690_000_000));
        assert_eq!(packages[1].evr(), "2:1.34-1");
        assert!(parse(&xml.as_bytes()[..300], "t").is_err(), "truncated");
    }

    #[test]
    fn download_sizes_of_a_real_primary() {
        // libzypp's test repository (fixtures/fuzz/PROVENANCE.md): `<size package=…>` of
        // aaa_base 11.0-51 is 144887 for i586 and 181837 for the source package.
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/fuzz/seeds/primary/libzypp-Delta-primary.xml.gz");
        let wanted = [
            ("aaa_base", "i586", "11.0-51"),
            ("aaa_base", "src", "0:11.0-51"),
            ("aaa_base", "i586", "11.0-52"),
            ("no-such-package", "i586", "1-1"),
        ];
        assert_eq!(
            download_sizes(&path, &wanted).unwrap(),
            [Some(144_887), Some(181_837), None, None]
        );
        let truncated = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(truncated.path(), "<metadata><package><name>a</name>").unwrap();
        let error = download_sizes(truncated.path(), &wanted).unwrap_err();
        assert!(error.to_string().contains("truncated"), "{error}");
    }
}
