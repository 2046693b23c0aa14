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

/// The list file-name prefixes of every configured `deb` source under `root`, or `None` when
/// they cannot all be derived (no sources configured at all, or a transport we do not map).
pub fn configured_prefixes(root: &Path) -> Option<Vec<String>> {
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
pub fn list_prefixes(source_list: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(source_list).ok()?;
    prefixes_of(&[(text, false)])
}

fn prefixes_of(texts: &[(String, bool)]) -> Option<Vec<String>> {
    let mut sources: Vec<(String, String)> = Vec::new();
    for (text, deb822) in texts {
        if *deb822 {
            sources.extend(deb822_sources(text));
        } else {
            sources.extend(one_line_sources(text));
        }
    }
    if sources.is_empty() {
        return None;
    }
    sources
        .iter()
        .map(|(uri, suite)| prefix(uri, suite))
        .collect()
}

/// `deb [options] URI SUITE [COMPONENT…]` lines: (URI, suite) of each `deb` line.
pub fn one_line_sources(text: &str) -> Vec<(String, String)> {
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
            out.push((uri.to_string(), suite.to_string()));
        }
    }
    out
}

/// deb822 stanzas: (URI, suite) for every URI × suite of each enabled stanza of type `deb`.
pub fn deb822_sources(text: &str) -> Vec<(String, String)> {
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
        for uri in field("uris").split_whitespace() {
            for suite in field("suites").split_whitespace() {
                out.push((uri.to_string(), suite.to_string()));
            }
        }
    }
    out
}

/// The list file-name prefix of one source: `…_dists_SUITE_` (or `…_SUITE` for a flat
/// repository, whose suite ends with `/`). `None` for transports we cannot name.
fn prefix(uri: &str, suite: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    if !matches!(
        scheme,
        "http" | "https" | "ftp" | "file" | "copy" | "tor+http" | "tor+https"
    ) {
        return None;
    }
    // Drop `//` and any `user:password@`.
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let rest = match (scheme, rest.split_once('/')) {
        ("file" | "copy", _) => rest.to_string(),
        (_, Some((authority, path))) => {
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{host}/{path}")
        }
        (_, None) => rest.rsplit_once('@').map_or(rest, |(_, h)| h).to_string(),
    };
    let base = if rest.ends_with('/') {
        rest
    } else {
        format!("{rest}/")
    };
    let path = if suite.ends_with('/') {
        format!("{base}{suite}")
    } else {
        format!("{base}dists/{suite}/")
    };
    Some(quote(&path))
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

    #[test]
    fn both_source_formats() {
        let one = one_line_sources(
            "# comment\ndeb [arch=amd64 trusted=yes] http://a/debian bookworm main\n\
             deb-src http://a/debian bookworm main\ndeb http://b/x stable main # tail\n",
        );
        assert_eq!(
            one,
            [
                ("http://a/debian".into(), "bookworm".into()),
                ("http://b/x".into(), "stable".into())
            ]
        );
        let stanzas = deb822_sources(
            "Types: deb deb-src\nURIs: http://a/debian\nSuites: bookworm bookworm-updates\n\
             Components: main\n\nTypes: deb\nURIs: http://c/\nSuites: x\nEnabled: no\n\n\
             Types: deb-src\nURIs: http://d/\nSuites: y\n",
        );
        assert_eq!(
            stanzas,
            [
                ("http://a/debian".into(), "bookworm".into()),
                ("http://a/debian".into(), "bookworm-updates".into())
            ]
        );
    }
}
