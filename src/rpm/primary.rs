//! `primary.xml` (rpm-md repository metadata), read natively and streaming whatever the
//! compression: for each `<package type="rpm">` its name, arch, epoch, version, release and
//! build time — what a scan needs, nothing else (files, dependencies and descriptions are
//! skipped without being kept).

use std::io::BufRead;
use std::path::Path;

use quick_xml::events::Event;

use crate::rpm::updateinfo::{UpdateinfoError, open};

/// One package of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrimaryPackage {
    /// `<name>`.
    pub name: String,
    /// `<arch>`.
    pub arch: String,
    /// `epoch` of `<version>` (`0` when absent).
    pub epoch: String,
    /// `ver` of `<version>`.
    pub version: String,
    /// `rel` of `<version>`.
    pub release: String,
    /// `build` of `<time>`, seconds since 1970.
    pub build_time: Option<i64>,
}

impl PrimaryPackage {
    /// `[epoch:]version-release`, the epoch only when it is not 0.
    pub fn evr(&self) -> String {
        if self.epoch.is_empty() || self.epoch == "0" {
            format!("{}-{}", self.version, self.release)
        } else {
            format!("{}:{}-{}", self.epoch, self.version, self.release)
        }
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
                                    "epoch" => package.epoch = value(),
                                    "ver" => package.version = value(),
                                    "rel" => package.release = value(),
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

/// Opens and parses a primary file.
pub fn parse_file(path: &Path) -> Result<Vec<PrimaryPackage>, UpdateinfoError> {
    parse(open(path)?, &path.display().to_string())
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
        assert_eq!(packages.len(), 2);
        assert_eq!(
            (
                packages[0].name.as_str(),
                packages[0].arch.as_str(),
                packages[0].evr()
            ),
            ("bash", "x86_64", "5.2-1.amzn2023".to_string())
        );
        assert_eq!(packages[0].build_time, Some(1_690_000_000));
        assert_eq!(packages[1].evr(), "2:1.34-1");
        assert!(parse(&xml.as_bytes()[..300], "t").is_err(), "truncated");
    }
}
