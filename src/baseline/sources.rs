//! Baseline `Sources` (spec §1.1): which sources apply to a system, and their `Configuration`
//! checked and read — for yum/dnf and zypper the body of a `.repo` file, for apt `deb` lines.
//! Pure: it decides and parses; writing the repositories to a private directory and handing it
//! to the package manager (never the machine's own configuration) is [`crate::repositories`]'s.

use crate::model::Family;

use super::PatchSource;

/// A `Sources` entry or set that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourcesError {
    /// `Sources` is not empty, but none lists this system's product.
    #[error(
        "no baseline source applies to product `{product}` (the sources list: {listed}); \
         nothing was changed"
    )]
    NoneApplies {
        /// The system's product.
        product: String,
        /// The products the sources list, comma-separated.
        listed: String,
    },
    /// A `Configuration` that is not of the form the package manager takes.
    #[error("source `{source_name}`: {message}")]
    Configuration {
        /// The source's name.
        source_name: String,
        /// What is wrong, naming the line.
        message: String,
    },
}

/// The sources of `sources` that apply to a system whose product is `product`: those whose
/// `Products` name it or `*` (compared as PRODUCT filters compare: exactly on RPM and SUSE,
/// ignoring case on apt). An empty `Sources` gives an empty list: the machine's own
/// repositories are used. A non-empty `Sources` of which none applies is an error.
pub fn applying<'a>(
    sources: &'a [PatchSource],
    product: &str,
    family: Family,
) -> Result<Vec<&'a PatchSource>, SourcesError> {
    let matches = |listed: &str| {
        listed == "*"
            || if family == Family::Apt {
                listed.eq_ignore_ascii_case(product)
            } else {
                listed == product
            }
    };
    let applying: Vec<&PatchSource> = sources
        .iter()
        .filter(|s| s.products.iter().any(|p| matches(p)))
        .collect();
    if applying.is_empty() && !sources.is_empty() {
        let mut listed: Vec<&str> = sources
            .iter()
            .flat_map(|s| s.products.iter().map(String::as_str))
            .collect();
        listed.sort_unstable();
        listed.dedup();
        return Err(SourcesError::NoneApplies {
            product: product.to_string(),
            listed: listed.join(", "),
        });
    }
    Ok(applying)
}

/// One `[section]` of a `.repo` configuration, its keys in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSection {
    /// The repository id (`[id]`).
    pub id: String,
    /// `key=value` lines, keys lower-cased and trimmed.
    pub options: Vec<(String, String)>,
}

/// One `deb` line of an apt configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    /// The `[options]`, as written (empty when none).
    pub options: String,
    /// The archive URI.
    pub uri: String,
    /// The suite (`bookworm-security`, or a flat `./`).
    pub suite: String,
    /// The components.
    pub components: Vec<String>,
}

/// Longest `Configuration` AWS accepts.
const MAX_CONFIGURATION: usize = 1024;

fn configuration_error(source: &PatchSource, message: String) -> SourcesError {
    SourcesError::Configuration {
        source_name: source.name.clone(),
        message,
    }
}

fn check_length(source: &PatchSource) -> Result<(), SourcesError> {
    if source.configuration.trim().is_empty() || source.configuration.len() > MAX_CONFIGURATION {
        return Err(configuration_error(
            source,
            format!("the configuration must be 1 to {MAX_CONFIGURATION} characters"),
        ));
    }
    Ok(())
}

/// A repository id or file name that stays inside its directory: letters, digits, `_ - . :`,
/// not starting with `.`.
fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b))
}

/// Reads the `.repo` body of a yum/dnf or zypper source: one or more `[id]` sections of
/// `key=value` lines (`#` and `;` comments), each with a `baseurl`, `mirrorlist` or `metalink`.
pub fn repo_configuration(source: &PatchSource) -> Result<Vec<RepoSection>, SourcesError> {
    check_length(source)?;
    let mut sections: Vec<RepoSection> = Vec::new();
    for (number, line) in source.configuration.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(id) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let id = id.trim();
            if !is_safe_id(id) {
                return Err(configuration_error(
                    source,
                    format!("line {}: `[{id}]` is not a repository id", number + 1),
                ));
            }
            sections.push(RepoSection {
                id: id.to_string(),
                options: Vec::new(),
            });
            continue;
        }
        let (Some(section), Some((key, value))) = (sections.last_mut(), line.split_once('='))
        else {
            return Err(configuration_error(
                source,
                format!(
                    "line {}: `{line}` is neither `[id]` nor `key=value` in a section",
                    number + 1
                ),
            ));
        };
        section
            .options
            .push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    if sections.is_empty() {
        return Err(configuration_error(
            source,
            "the configuration has no `[id]` repository section".into(),
        ));
    }
    for section in &sections {
        if !section
            .options
            .iter()
            .any(|(k, _)| matches!(k.as_str(), "baseurl" | "mirrorlist" | "metalink"))
        {
            return Err(configuration_error(
                source,
                format!(
                    "repository `{}` has no baseurl, mirrorlist or metalink",
                    section.id
                ),
            ));
        }
    }
    Ok(sections)
}

/// Reads the `deb` lines of an apt source (one-line format; `deb-src` lines and comments are
/// skipped): `deb [options] URI SUITE [COMPONENT…]`, at least one.
pub fn apt_configuration(source: &PatchSource) -> Result<Vec<AptSource>, SourcesError> {
    check_length(source)?;
    let mut out = Vec::new();
    for (number, line) in source.configuration.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("deb-src ") {
            continue;
        }
        let bad = || {
            configuration_error(
                source,
                format!(
                    "line {}: `{line}` is not `deb [options] URI SUITE [COMPONENT…]`",
                    number + 1
                ),
            )
        };
        let mut rest = line.strip_prefix("deb ").ok_or_else(bad)?.trim_start();
        let mut options = String::new();
        if rest.starts_with('[') {
            let end = rest.find(']').ok_or_else(bad)?;
            options = rest[1..end].trim().to_string();
            rest = rest[end + 1..].trim_start();
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            return Err(bad());
        };
        if !uri.contains(':') {
            return Err(bad());
        }
        out.push(AptSource {
            options,
            uri: uri.to_string(),
            suite: suite.to_string(),
            components: words.map(str::to_string).collect(),
        });
    }
    if out.is_empty() {
        return Err(configuration_error(
            source,
            "the configuration has no `deb` line".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, products: &[&str], configuration: &str) -> PatchSource {
        PatchSource {
            name: name.into(),
            products: products.iter().map(ToString::to_string).collect(),
            configuration: configuration.into(),
        }
    }

    #[test]
    fn which_sources_apply() {
        let sources = [
            source("mirror", &["AmazonLinux2023"], "[m]\nbaseurl=http://m/\n"),
            source(
                "other",
                &["RedhatEnterpriseLinux9.4"],
                "[o]\nbaseurl=http://o/\n",
            ),
            source("any", &["*"], "[a]\nbaseurl=http://a/\n"),
        ];
        let names = |found: Vec<&PatchSource>| -> Vec<String> {
            found.iter().map(|s| s.name.clone()).collect()
        };
        assert_eq!(
            names(applying(&sources, "AmazonLinux2023", Family::Rpm).unwrap()),
            ["mirror", "any"]
        );
        assert!(
            applying(&[], "AmazonLinux2023", Family::Rpm)
                .unwrap()
                .is_empty()
        );
        let error = applying(&sources[..2], "AmazonLinux2", Family::Rpm).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no baseline source applies to product `AmazonLinux2` (the sources list: \
             AmazonLinux2023, RedhatEnterpriseLinux9.4); nothing was changed"
        );
        // Case: exact on RPM, ignored on apt (as PRODUCT filters).
        let ubuntu = [source("u", &["ubuntu22.04"], "deb http://u/ jammy main")];
        assert!(applying(&ubuntu, "Ubuntu22.04", Family::Apt).unwrap().len() == 1);
        assert!(applying(&ubuntu, "Ubuntu22.04", Family::Rpm).is_err());
    }

    #[test]
    fn repo_configurations() {
        let two = source(
            "two",
            &["*"],
            "# internal mirror\n[base]\nname=Base\nbaseurl=https://mirror/base/\nenabled=1\n\n[updates]\nmirrorlist = https://mirror/list\n",
        );
        let sections = repo_configuration(&two).unwrap();
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[1].id, "updates");
        assert_eq!(
            sections[1].options,
            [("mirrorlist".to_string(), "https://mirror/list".to_string())]
        );
        for (configuration, expected) in [
            (
                "baseurl=http://x/",
                "neither `[id]` nor `key=value` in a section",
            ),
            (
                "[../etc]\nbaseurl=http://x/",
                "`[../etc]` is not a repository id",
            ),
            ("[.hidden]\nbaseurl=http://x/", "is not a repository id"),
            ("[a]\nname=no url", "has no baseurl, mirrorlist or metalink"),
            ("# only a comment", "no `[id]` repository section"),
            ("[a]\njust words", "neither `[id]` nor `key=value`"),
        ] {
            let error = repo_configuration(&source("bad", &["*"], configuration)).unwrap_err();
            assert!(
                error.to_string().contains(expected),
                "{configuration}: {error}"
            );
            assert!(error.to_string().starts_with("source `bad`: "), "{error}");
        }
        let long = format!("[a]\nbaseurl=http://x/{}\n", "a".repeat(1024));
        assert!(
            repo_configuration(&source("long", &["*"], &long))
                .unwrap_err()
                .to_string()
                .contains("1 to 1024 characters")
        );
    }

    #[test]
    fn apt_configurations() {
        let lines = source(
            "mirror",
            &["*"],
            "deb [trusted=yes] http://mirror/debian-security bookworm-security main contrib\n# note\ndeb-src http://mirror/debian bookworm main\ndeb file:/srv/repo ./\n",
        );
        let found = apt_configuration(&lines).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0],
            AptSource {
                options: "trusted=yes".into(),
                uri: "http://mirror/debian-security".into(),
                suite: "bookworm-security".into(),
                components: vec!["main".into(), "contrib".into()],
            }
        );
        assert_eq!(found[1].suite, "./");
        for bad in [
            "[base]\nbaseurl=http://x/",
            "deb http://x/",
            "deb [trusted=yes http://x/ stable",
            "deb nouri stable main",
            "# nothing",
        ] {
            assert!(
                apt_configuration(&source("bad", &["*"], bad)).is_err(),
                "{bad}"
            );
        }
    }
}
