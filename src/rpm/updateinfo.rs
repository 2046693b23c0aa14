//! `updateinfo.xml`, read natively and streaming, whatever the compression (gz, bz2, xz, zst,
//! plain) and with or without an XML namespace: advisories with type, status, severity, dates,
//! references (CVE, Bugzilla, self, others), module streams, and the packages each lists, with
//! `reboot_suggested`/`restart_suggested` read at package level only (as libsolv does).
//!
//! Real feeds vary (see `fixtures/updateinfo`): five date formats, severity missing, empty or the
//! literal `None`, `epoch` absent, minified single-line files, double-escaped entities.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use quick_xml::events::{BytesStart, Event};

use crate::inventory::Advisory;
use crate::model::parse_date;

/// One package listed by an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdvisoryPackage {
    /// `name`.
    pub name: String,
    /// `epoch`, as written; `None` when the attribute is absent (means 0).
    pub epoch: Option<String>,
    /// `version`.
    pub version: String,
    /// `release`.
    pub release: String,
    /// `arch`.
    pub arch: String,
    /// `<reboot_suggested>` inside this `<package>`: `None` when absent, true for values
    /// starting with T, t or 1.
    pub reboot_suggested: Option<bool>,
    /// `<restart_suggested>` inside this `<package>`, likewise.
    pub restart_suggested: Option<bool>,
}

impl AdvisoryPackage {
    /// `[epoch:]version-release` as the inventory writes versions (epoch omitted when absent).
    pub fn evr(&self) -> String {
        match &self.epoch {
            Some(epoch) if epoch != "0" && !epoch.is_empty() => {
                format!("{epoch}:{}-{}", self.version, self.release)
            }
            _ => format!("{}-{}", self.version, self.release),
        }
    }
}

/// One `<update>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateNotice {
    /// The advisory as the evaluation core sees it.
    pub advisory: Advisory,
    /// `status` (`final`, `stable`, …).
    pub status: String,
    /// Whether a `<severity>` element is present.
    pub severity_element: bool,
    /// Reference types with their ids (`cve`, `bugzilla`, `self`, `CEFS`, …), in file order.
    pub references: Vec<(String, String)>,
    /// `<collection>` elements.
    pub collections: usize,
    /// `<module name stream>` elements.
    pub modules: Vec<(String, String)>,
    /// Packages listed.
    pub packages: Vec<AdvisoryPackage>,
}

/// An updateinfo file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct UpdateinfoError {
    /// The file.
    pub source_name: String,
    /// What is wrong, with the byte position.
    pub message: String,
}

/// Opens a metadata file, decompressing by extension (`.gz`, `.bz2`, `.xz`, `.zst`, plain).
pub fn open(path: &Path) -> Result<Box<dyn BufRead>, UpdateinfoError> {
    let error = |message: String| UpdateinfoError {
        source_name: path.display().to_string(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| error(e.to_string()))?;
    let input = BufReader::with_capacity(1 << 16, file);
    let name = path.to_string_lossy();
    let reader: Box<dyn Read> = if name.ends_with(".gz") {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else if name.ends_with(".bz2") {
        Box::new(bzip2::bufread::MultiBzDecoder::new(input))
    } else if name.ends_with(".xz") {
        let mut out = Vec::new();
        let mut input = input;
        lzma_rs::xz_decompress(&mut input, &mut out).map_err(|e| error(format!("not xz: {e}")))?;
        Box::new(std::io::Cursor::new(out))
    } else if name.ends_with(".zst") {
        Box::new(
            ruzstd::decoding::StreamingDecoder::new(input)
                .map_err(|e| error(format!("not zstd: {e}")))?,
        )
    } else {
        Box::new(input)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 16, reader)))
}

/// The trimmed, normalized value of an element's attribute (by local name).
pub(crate) fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element
        .attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.local_name().into_inner() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.trim().to_string())
        })
}

/// The trimmed, normalized values of an element's attributes `names` (by local name; the first
/// of each name), in one pass over the attributes: [`attribute`] for several names at once.
fn attributes<const N: usize>(element: &BytesStart<'_>, names: [&str; N]) -> [Option<String>; N] {
    let mut values: [Option<String>; N] = std::array::from_fn(|_| None);
    let mut seen = [false; N];
    for a in element.attributes().with_checks(false).flatten() {
        let key = a.key.local_name().into_inner();
        let Some(slot) = names.iter().position(|n| *n == key) else {
            continue;
        };
        if std::mem::replace(&mut seen[slot], true) {
            continue;
        }
        // A value that cannot be normalized reads as absent, as in `attribute`.
        values[slot] = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .ok()
            .map(|v| v.trim().to_string());
    }
    values
}

/// Which element's text we are collecting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Text {
    None,
    Id,
    Severity,
    Reboot,
    Restart,
}

/// Parses an updateinfo stream. `source_name` names it in errors.
pub fn parse(
    reader: impl BufRead,
    source_name: &str,
) -> Result<Vec<UpdateNotice>, UpdateinfoError> {
    let mut xml = quick_xml::Reader::from_reader(reader);
    xml.config_mut().trim_text(false);
    let mut buffer = Vec::with_capacity(4096);
    let mut notices = Vec::new();
    let mut current: Option<UpdateNotice> = None;
    let mut text = Text::None;
    let mut collected = String::new();
    let mut depth = 0usize;
    loop {
        let event = xml
            .read_event_into(&mut buffer)
            .map_err(|e| UpdateinfoError {
                source_name: source_name.to_string(),
                message: format!("at byte {}: {e}", xml.buffer_position()),
            })?;
        match event {
            Event::Eof if depth > 0 => {
                return Err(UpdateinfoError {
                    source_name: source_name.to_string(),
                    message: format!(
                        "ends at byte {} with {depth} element(s) still open: truncated?",
                        xml.buffer_position()
                    ),
                });
            }
            Event::Eof => break,
            Event::Start(ref element) | Event::Empty(ref element) => {
                let empty = matches!(event, Event::Empty(_));
                if !empty {
                    depth += 1;
                }
                let name = element.local_name().into_inner();
                match name {
                    "update" => {
                        let [kind, status] = attributes(element, ["type", "status"]);
                        current = Some(UpdateNotice {
                            advisory: Advisory {
                                kind: kind.unwrap_or_default(),
                                ..Advisory::default()
                            },
                            status: status.unwrap_or_default(),
                            ..UpdateNotice::default()
                        });
                    }
                    _ if current.is_none() => {}
                    "id" if !empty => text = Text::Id,
                    "severity" => {
                        if let Some(notice) = current.as_mut() {
                            notice.severity_element = true;
                        }
                        if !empty {
                            text = Text::Severity;
                        }
                    }
                    "issued" | "updated" => {
                        let date = attribute(element, "date").and_then(|d| parse_date(&d));
                        if let Some(notice) = current.as_mut() {
                            if name == "issued" {
                                notice.advisory.issued = date;
                            } else {
                                notice.advisory.updated = date;
                            }
                        }
                    }
                    "reference" => {
                        if let Some(notice) = current.as_mut() {
                            let [kind, id] = attributes(element, ["type", "id"]);
                            let (kind, id) = (kind.unwrap_or_default(), id.unwrap_or_default());
                            match kind.as_str() {
                                "cve" if !id.is_empty() => notice.advisory.cves.push(id.clone()),
                                "bugzilla" if !id.is_empty() => {
                                    notice.advisory.bugzillas.push(id.clone());
                                }
                                _ => {}
                            }
                            notice.references.push((kind, id));
                        }
                    }
                    "collection" => {
                        if let Some(notice) = current.as_mut() {
                            notice.collections += 1;
                        }
                    }
                    "module" => {
                        if let Some(notice) = current.as_mut() {
                            notice.modules.push((
                                attribute(element, "name").unwrap_or_default(),
                                attribute(element, "stream").unwrap_or_default(),
                            ));
                        }
                    }
                    "package" => {
                        if let Some(notice) = current.as_mut() {
                            let [name, epoch, version, release, arch] = attributes(
                                element,
                                ["name", "epoch", "version", "release", "arch"],
                            );
                            notice.packages.push(AdvisoryPackage {
                                name: name.unwrap_or_default(),
                                epoch,
                                version: version.unwrap_or_default(),
                                release: release.unwrap_or_default(),
                                arch: arch.unwrap_or_default(),
                                ..AdvisoryPackage::default()
                            });
                        }
                    }
                    "reboot_suggested" | "restart_suggested" => {
                        let reboot = name == "reboot_suggested";
                        if let Some(package) = current.as_mut().and_then(|n| n.packages.last_mut())
                        {
                            if reboot {
                                package.reboot_suggested = Some(false);
                            } else {
                                package.restart_suggested = Some(false);
                            }
                            if !empty {
                                text = if reboot { Text::Reboot } else { Text::Restart };
                            }
                        }
                    }
                    _ => {}
                }
                collected.clear();
            }
            Event::Text(ref content) if text != Text::None => {
                collected.push_str(&content.xml_content(quick_xml::XmlVersion::Implicit1_0));
            }
            Event::GeneralRef(ref reference) if text != Text::None => {
                // Entities inside a text we keep (`&amp;` in an id or severity).
                let entity = format!(
                    "&{};",
                    reference.xml_content(quick_xml::XmlVersion::Implicit1_0)
                );
                collected.push_str(&quick_xml::escape::unescape(&entity).unwrap_or_default());
            }
            Event::End(ref element) => {
                depth = depth.saturating_sub(1);
                let name = element.local_name().into_inner();
                if let Some(notice) = current.as_mut() {
                    let value = collected.trim();
                    match (text, name) {
                        (Text::Id, "id") => notice.advisory.id = value.into(),
                        (Text::Severity, "severity") => {
                            notice.advisory.severity =
                                Some(value.to_string()).filter(|v| !v.is_empty());
                        }
                        (
                            Text::Reboot | Text::Restart,
                            "reboot_suggested" | "restart_suggested",
                        ) => {
                            let yes = value.starts_with(['T', 't', '1']);
                            if let Some(package) = notice.packages.last_mut() {
                                if text == Text::Reboot {
                                    package.reboot_suggested = Some(yes);
                                } else {
                                    package.restart_suggested = Some(yes);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                if name == "update"
                    && let Some(mut notice) = current.take()
                {
                    notice.advisory.reboot_suggested = notice
                        .packages
                        .iter()
                        .any(|p| p.reboot_suggested == Some(true));
                    notices.push(notice);
                }
                if text != Text::None {
                    text = Text::None;
                    collected.clear();
                }
            }
            _ => {}
        }
        buffer.clear();
    }
    Ok(notices)
}

/// Opens and parses an updateinfo file.
pub fn parse_file(path: &Path) -> Result<Vec<UpdateNotice>, UpdateinfoError> {
    parse(open(path)?, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`attributes`] gives, name by name, what [`attribute`] gives: the first attribute of a
    /// name counts (a repeated one is ignored, one that cannot be read reads as absent), values
    /// trimmed and entities resolved.
    #[test]
    fn attributes_in_one_pass_agree_with_attribute_by_name() {
        let elements = [
            r#"<package name=" a " epoch="1" version="2.0" release="3" arch="x86_64"/>"#,
            r#"<package arch="noarch" name="b&amp;c" version="1"/>"#,
            r#"<package name="first" name="second" version="1" version="2"/>"#,
            r#"<package name="&bogus;" name="second" release="r"/>"#,
            r#"<package x:name="prefixed" epoch=""/>"#,
            "<package/>",
        ];
        let names = ["name", "epoch", "version", "release", "arch"];
        for text in elements {
            let mut reader = quick_xml::Reader::from_str(text);
            let Ok(quick_xml::events::Event::Empty(element)) = reader.read_event() else {
                panic!("{text} is not an empty element");
            };
            let one_pass = attributes(&element, names);
            let by_name = names.map(|name| attribute(&element, name));
            assert_eq!(one_pass, by_name, "{text}");
        }
        let mut reader = quick_xml::Reader::from_str(elements[2]);
        let Ok(quick_xml::events::Event::Empty(element)) = reader.read_event() else {
            panic!("not an empty element");
        };
        assert_eq!(
            attributes(&element, ["name", "version", "arch"]),
            [Some("first".into()), Some("1".into()), None]
        );
    }
}
