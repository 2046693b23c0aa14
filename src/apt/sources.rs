//! The archives apt is configured to use (`etc/apt/sources.list`, `sources.list.d/*.list` and
//! `*.sources`), as the file-name prefixes apt gives their indexes in `var/lib/apt/lists`.
//!
//! apt reads only the lists of the sources it is configured with; lists left behind by a source
//! that was removed or disabled without an `apt-get update` are not apt's view (nor the AWS
//! payload's, which asks python-apt). apt names a list file after its URI without the scheme
//! and the credentials, some characters quoted as `%xx` and `/` turned into `_`
//! (`deb.debian.org_debian_dists_bookworm_InRelease`). When a source uses a transport whose
//! file names cannot be derived here (`mirror+…`, `cdrom:`), [`configured_prefixes`] answers
//! `None` and every list is read.

use std::fmt::Write as _;
use std::path::Path;

/// One configured source: every URI × suite pair of it is an archive apt downloads lists of
/// (a one-line `deb` entry has one of each; a deb822 stanza may list several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// `URIs`.
    pub uris: Vec<String>,
    /// `Suites`.
    pub suites: Vec<String>,
}

/// The list file-name prefixes of the configured sources, kept as the quoted URI bases and
/// quoted suite parts of each source rather than as their product: a stanza of many URIs and
/// many suites stays linear to hold and to match (apt names a list `QUOTE(base)` followed by
/// `QUOTE(suite part)`, and the quoting is byte by byte).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefixes {
    sources: Vec<(Vec<String>, Vec<String>)>,
}

impl Prefixes {
    /// Does a list file named `name` belong to one of the sources?
    pub fn matches(&self, name: &str) -> bool {
        self.sources.iter().any(|(bases, suites)| {
            bases.iter().any(|base| {
                name.strip_prefix(base.as_str())
                    .is_some_and(|rest| suites.iter().any(|s| rest.starts_with(s.as_str())))
            })
        })
    }
}

/// The list file-name prefixes of every configured `deb` source under `root`, or `None` when
/// they cannot all be derived (no sources configured at all, or a transport we do not map).
pub fn configured_prefixes(root: &Path) -> Option<Prefixes> {
    let etc = root.join("etc/apt");
    let mut texts: Vec<(String, bool)> = Vec::new();
    if let Ok(text) = std::fs::read_to_string(etc.join("sources.list")) {
        texts.push((text, false));
    }
    if let Ok(entries) = std::fs::read_dir(etc.join("sources.list.d")) {
        let mut names: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        names.sort();
        for path in names {
            // apt reads exactly these two extensions, in this case.
            let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let deb822 = extension == "sources";
            if (deb822 || extension == "list")
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                texts.push((text, deb822));
            }
        }
    }
    prefixes_of(&texts)
}

/// The list file-name prefixes of the `deb` lines of one source list file (the private list
/// of baseline sources), or `None` as for [`configured_prefixes`].
pub fn list_prefixes(source_list: &Path) -> Option<Prefixes> {
    let text = std::fs::read_to_string(source_list).ok()?;
    prefixes_of(&[(text, false)])
}

/// The list file-name prefixes of one sources text, deb822 (`.sources`) or one-line (`.list`),
/// or `None` as for [`configured_prefixes`].
pub fn text_prefixes(text: &str, deb822: bool) -> Option<Prefixes> {
    prefixes_of(&[(text.to_string(), deb822)])
}

fn prefixes_of(texts: &[(String, bool)]) -> Option<Prefixes> {
    let mut sources: Vec<Source> = Vec::new();
    for (text, deb822) in texts {
        if *deb822 {
            sources.extend(deb822_sources(text));
        } else {
            sources.extend(one_line_sources(text));
        }
    }
    sources.retain(|s| !s.uris.is_empty() && !s.suites.is_empty());
    if sources.is_empty() {
        return None;
    }
    let mut prefixes = Prefixes::default();
    for source in &sources {
        let mut bases: Vec<String> = Vec::with_capacity(source.uris.len());
        for uri in &source.uris {
            bases.push(quote(&uri_base(uri)?));
        }
        let mut suites: Vec<String> = source
            .suites
            .iter()
            .map(|s| quote(&suite_part(s)))
            .collect();
        bases.sort();
        bases.dedup();
        suites.sort();
        suites.dedup();
        prefixes.sources.push((bases, suites));
    }
    Some(prefixes)
}

/// `deb [options] URI SUITE [COMPONENT…]` lines: the URI and suite of each `deb` line.
pub fn one_line_sources(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut rest = match line.strip_prefix("deb") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => continue,
        };
        if rest.starts_with('[') {
            let Some(end) = rest.find(']') else { continue };
            rest = rest[end + 1..].trim_start();
        }
        let mut words = rest.split_whitespace();
        if let (Some(uri), Some(suite)) = (words.next(), words.next()) {
            out.push(Source {
                uris: vec![uri.to_string()],
                suites: vec![suite.to_string()],
            });
        }
    }
    out
}

/// deb822 stanzas: the URIs and suites of each enabled stanza of type `deb`.
pub fn deb822_sources(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    let mut clean = String::with_capacity(text.len());
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        clean.push_str(line);
        clean.push('\n');
    }
    for stanza in clean.split("\n\n") {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = fields.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((key, value)) = line.split_once(':') {
                fields.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map_or("", |(_, v)| v.as_str())
        };
        if field("enabled").eq_ignore_ascii_case("no")
            || !field("types").split_whitespace().any(|t| t == "deb")
        {
            continue;
        }
        let words = |name: &str| -> Vec<String> {
            field(name).split_whitespace().map(str::to_string).collect()
        };
        out.push(Source {
            uris: words("uris"),
            suites: words("suites"),
        });
    }
    out
}

/// The part of a list file name a URI gives, unquoted and ending in `/`: the URI without its
/// scheme, `//` and credentials. `None` for transports we cannot name.
fn uri_base(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    if !matches!(
        scheme,
        "http" | "https" | "ftp" | "file" | "copy" | "tor+http" | "tor+https"
    ) {
        return None;
    }
    // Drop `//` and any `user:password@`.
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let mut base = match (scheme, rest.split_once('/')) {
        ("file" | "copy", _) => rest.to_string(),
        (_, Some((authority, path))) => {
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{host}/{path}")
        }
        (_, None) => rest.rsplit_once('@').map_or(rest, |(_, h)| h).to_string(),
    };
    if !base.ends_with('/') {
        base.push('/');
    }
    Some(base)
}

/// The part of a list file name a suite gives, unquoted: `dists/SUITE/`, or the suite itself
/// for a flat repository (whose suite ends with `/`).
fn suite_part(suite: &str) -> String {
    if suite.ends_with('/') {
        suite.to_string()
    } else {
        format!("dists/{suite}/")
    }
}

/// apt's `URItoFileName` quoting: some characters and every byte outside printable ASCII as
/// `%xx`, then `/` as `_`.
fn quote(path: &str) -> String {
    const QUOTED: &[u8] = b"\\|{}[]<>\"^~_=!@#$%&*";
    let mut out = String::with_capacity(path.len());
    for &byte in path.as_bytes() {
        if byte <= 0x20 || byte >= 0x7f || QUOTED.contains(&byte) {
            let _ = write!(out, "%{byte:02x}");
        } else if byte == b'/' {
            out.push('_');
        } else {
            out.push(char::from(byte));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole prefix of one URI and suite.
    fn prefix(uri: &str, suite: &str) -> Option<String> {
        Some(quote(&format!("{}{}", uri_base(uri)?, suite_part(suite))))
    }

    #[test]
    fn prefixes_as_apt_names_its_lists() {
        assert_eq!(
            prefix("http://deb.debian.org/debian", "bookworm").as_deref(),
            Some("deb.debian.org_debian_dists_bookworm_")
        );
        assert_eq!(
            prefix("https://deb.nodesource.com/node_20.x/", "nodistro").as_deref(),
            Some("deb.nodesource.com_node%5f20.x_dists_nodistro_")
        );
        assert_eq!(
            prefix("https://user:secret@example.com:8443/repo", "./").as_deref(),
            Some("example.com:8443_repo_._")
        );
        assert_eq!(
            prefix("file:/srv/repo", "bookworm-security").as_deref(),
            Some("_srv_repo_dists_bookworm-security_")
        );
        assert_eq!(prefix("mirror+file:/etc/apt/mirrors.txt", "x"), None);
    }

    fn source(uri: &str, suites: &[&str]) -> Source {
        Source {
            uris: vec![uri.to_string()],
            suites: suites.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn both_source_formats() {
        let one = one_line_sources(
            "# comment\ndeb [arch=amd64 trusted=yes] http://a/debian bookworm main\n\
             deb-src http://a/debian bookworm main\ndeb http://b/x stable main # tail\n",
        );
        assert_eq!(
            one,
            [
                source("http://a/debian", &["bookworm"]),
                source("http://b/x", &["stable"])
            ]
        );
        let stanzas = deb822_sources(
            "Types: deb deb-src\nURIs: http://a/debian\nSuites: bookworm bookworm-updates\n\
             Components: main\n\nTypes: deb\nURIs: http://c/\nSuites: x\nEnabled: no\n\n\
             Types: deb-src\nURIs: http://d/\nSuites: y\n",
        );
        assert_eq!(
            stanzas,
            [source("http://a/debian", &["bookworm", "bookworm-updates"])]
        );
    }

    #[test]
    fn prefixes_match_every_uri_and_suite_of_a_stanza() {
        let texts = [(
            "Types: deb\nURIs: http://a/debian https://b/x\nSuites: bookworm bookworm-updates ./\n"
                .to_string(),
            true,
        )];
        let prefixes = prefixes_of(&texts).unwrap();
        for name in [
            "a_debian_dists_bookworm_InRelease",
            "b_x_dists_bookworm-updates_main_binary-amd64_Packages",
            "b_x_._Packages",
        ] {
            assert!(prefixes.matches(name), "{name}");
        }
        for name in [
            "a_debian_dists_trixie_InRelease",
            "c_debian_dists_bookworm_Release",
        ] {
            assert!(!prefixes.matches(name), "{name}");
        }
        // Many URIs and many suites are held and matched without their product: 4,000 × 4,000
        // pairs would be 16 million prefixes.
        let uris: Vec<String> = (0..4000).map(|i| format!("http://h{i}/d")).collect();
        let suites: Vec<String> = (0..4000).map(|i| format!("s{i}")).collect();
        let text = format!(
            "Types: deb\nURIs: {}\nSuites: {}\n",
            uris.join(" "),
            suites.join(" ")
        );
        let prefixes = prefixes_of(&[(text, true)]).unwrap();
        assert_eq!(
            prefixes.sources[0].0.len() * prefixes.sources[0].1.len(),
            16_000_000
        );
        assert!(prefixes.matches("h3999_d_dists_s3999_InRelease"));
        assert!(!prefixes.matches("h4000_d_dists_s1_InRelease"));
    }

    #[test]
    fn fuzz_many_uris_and_suites_stay_linear() {
        // A stanza of 1,800 URIs × 1,800 suites: held as two lists, not 3.24 million pairs.
        let text = include_str!("../../fixtures/fuzz/apt_lists-slow-sources");
        let sources = deb822_sources(text);
        assert_eq!(sources.len(), 1);
        assert_eq!(
            (sources[0].uris.len(), sources[0].suites.len()),
            (1800, 1800)
        );
        // `a:N` has a scheme no list name is derived from: no prefixes, every list is read.
        assert_eq!(text_prefixes(text, true), None);
        let mapped = text.replace("a:", "http://h/");
        let prefixes = text_prefixes(&mapped, true).unwrap();
        assert!(prefixes.matches("h_1799_dists_s1799_InRelease"));
        assert!(!prefixes.matches("h_1800_dists_s0_InRelease"));
    }
}
