//! Where the package manager takes its repositories from for one operation: the machine's own
//! configuration ([`Repositories::Host`]), or the repositories of the baseline's applying
//! `Sources` ([`Repositories::Private`]).
//!
//! A private set lives in its own directory under the state folder
//! (`patch-configuration/patch-baseline-sources/<key>/`, one per distinct set of applying
//! sources): the configuration written from the sources, and the metadata and package caches
//! the package manager keeps for them. It is handed to the package manager on the command line
//! of each call (apt: `Dir::Etc::sourcelist`, `Dir::Etc::sourceparts`, `Dir::State::lists`,
//! `Dir::Cache`; dnf and yum: `reposdir`, `cachedir` and only its repositories enabled; zypper:
//! `--reposd-dir`, `--cache-dir`), and the native scanners read the same directory. The
//! machine's own configuration is never written, so no crash can leave it changed; a later run
//! removes the directories of other source sets, and every run rewrites its own configuration.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::baseline::PatchSource;
use crate::baseline::sources::{SourcesError, applying, apt_configuration, repo_configuration};
use crate::model::{Family, PackageManagerKind};

/// The repositories of one operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Repositories {
    /// The machine's own configuration.
    #[default]
    Host,
    /// The applying baseline sources, from their private directory.
    Private(PrivateRepositories),
}

/// The private directory of a set of applying sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateRepositories {
    /// The directory, as this process sees it.
    dir: PathBuf,
    /// The applying sources' names, in the baseline's order.
    names: Vec<String>,
    /// Each repository (rpm and zypper: its id; apt: its URI and suite) and its source's name.
    repos: Vec<(String, String)>,
    /// The ids of the repositories the sources enable (rpm and zypper).
    enabled: Vec<String>,
}

/// A private directory that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum RepositoriesError {
    /// The sources do not fit this system or are malformed.
    #[error(transparent)]
    Sources(#[from] SourcesError),
    /// Not one repository of the sources has metadata.
    #[error("no metadata for the baseline sources ({names}) in `{}`: {why}", dir.display())]
    NoMetadata {
        /// The sources' names.
        names: String,
        /// Their private directory.
        dir: PathBuf,
        /// Why: no refresh, or the refresh's failure.
        why: String,
    },
    /// The directory cannot be written.
    #[error("cannot write the baseline sources' directory `{}`: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The folder holding every private directory, under the state folder of `root`.
pub fn sources_folder(root: &Path) -> PathBuf {
    root.join("var/log/amazon/ssm/patch-configuration/patch-baseline-sources")
}

impl Repositories {
    /// The repositories for an operation on the system under `root` whose product is `product`:
    /// the host's when `sources` is empty (the directories of earlier source sets are removed,
    /// unless `read_only`), else the applying sources' private directory, written now. A
    /// non-empty `sources` of which none applies, or a malformed configuration, is an error and
    /// nothing is written.
    pub fn prepare(
        root: &Path,
        kind: PackageManagerKind,
        product: &str,
        sources: &[PatchSource],
        read_only: bool,
    ) -> Result<Self, RepositoriesError> {
        let folder = sources_folder(root);
        let family = kind.family();
        let applying = applying(sources, product, family)?;
        if applying.is_empty() {
            if !read_only && folder.exists() {
                let _ = std::fs::remove_dir_all(&folder);
            }
            return Ok(Self::Host);
        }
        // Everything is checked before anything is written.
        let mut repos: Vec<(String, String)> = Vec::new();
        let mut enabled: Vec<String> = Vec::new();
        for source in &applying {
            if family == Family::Apt {
                for line in apt_configuration(source)? {
                    repos.push((format!("{} {}", line.uri, line.suite), source.name.clone()));
                }
            } else {
                for section in repo_configuration(source)? {
                    if let Some((_, other)) = repos.iter().find(|(id, _)| *id == section.id) {
                        return Err(SourcesError::Configuration {
                            source_name: source.name.clone(),
                            message: format!(
                                "repository id `{}` is also used by source `{other}`",
                                section.id
                            ),
                        }
                        .into());
                    }
                    let on = section
                        .options
                        .iter()
                        .rev()
                        .find(|(key, _)| key == "enabled")
                        .is_none_or(|(_, value)| crate::rpm::repos::truthy(value));
                    if on {
                        enabled.push(section.id.clone());
                    }
                    repos.push((section.id, source.name.clone()));
                }
            }
        }
        let key = key(kind, &applying);
        let dir = folder.join(&key);
        let private = PrivateRepositories {
            dir,
            names: applying.iter().map(|s| s.name.clone()).collect(),
            repos,
            enabled,
        };
        if !read_only && let Ok(entries) = std::fs::read_dir(&folder) {
            // Other source sets' directories (an earlier baseline, an interrupted run).
            for entry in entries.flatten() {
                if entry.file_name() != key.as_str() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        private.write(family, &applying)?;
        Ok(Self::Private(private))
    }

    /// The applying sources' names (empty for the host's repositories).
    pub fn source_names(&self) -> &[String] {
        match self {
            Self::Host => &[],
            Self::Private(private) => &private.names,
        }
    }

    /// After the refresh (or none, `refreshed` false): an error when sources are used and not
    /// one of their repositories has metadata, which would report every package as offered by
    /// no repository. `why` is the refresh's first warning, if any.
    pub fn check_metadata(
        &self,
        refreshed: bool,
        why: Option<&str>,
    ) -> Result<(), RepositoriesError> {
        let Some(private) = self.private() else {
            return Ok(());
        };
        if private.has_metadata() {
            return Ok(());
        }
        Err(RepositoriesError::NoMetadata {
            names: private.names.join(", "),
            dir: private.dir.clone(),
            why: match (refreshed, why) {
                (false, _) => "--no-refresh was given and no earlier run fetched it".to_string(),
                (true, Some(why)) => format!("the refresh failed: {why}"),
                (true, None) => "the refresh fetched none".to_string(),
            },
        })
    }

    /// The private directory, when sources are used.
    pub fn private(&self) -> Option<&PrivateRepositories> {
        match self {
            Self::Host => None,
            Self::Private(private) => Some(private),
        }
    }

    /// apt's options (`-o NAME=VALUE` pairs) for these repositories.
    pub fn apt_options(&self) -> Vec<OsString> {
        let Self::Private(private) = self else {
            return Vec::new();
        };
        let mut out = Vec::new();
        // Directories end in `/`; the source list is a file.
        for (name, path, slash) in [
            ("Dir::Etc::sourcelist", private.dir.join("sources.list"), ""),
            (
                "Dir::Etc::sourceparts",
                private.dir.join("sources.list.d"),
                "/",
            ),
            ("Dir::State::lists", private.dir.join("lists"), "/"),
            ("Dir::Cache", private.dir.join("cache"), "/"),
        ] {
            let mut option = OsString::from(format!("{name}="));
            option.push(path.as_os_str());
            option.push(slash);
            out.push("-o".into());
            out.push(option);
        }
        out
    }

    /// dnf's and yum's options: the private `reposdir` and `cachedir` (as this process sees
    /// them: both tools take command-line paths as given, even with `--installroot`), every
    /// other repository disabled (`dnf.conf` and `yum.conf` may hold some) and the sources'
    /// enabled.
    pub fn rpm_options(&self) -> Vec<OsString> {
        let Self::Private(private) = self else {
            return Vec::new();
        };
        let mut reposdir = OsString::from("--setopt=reposdir=");
        reposdir.push(private.dir.join("repos.d"));
        let mut cachedir = OsString::from("--setopt=cachedir=");
        cachedir.push(private.dir.join("cache"));
        let mut out = vec![reposdir, cachedir, "--disablerepo=*".into()];
        for id in &private.enabled {
            out.push(format!("--enablerepo={id}").into());
        }
        out
    }

    /// zypper's global options (they go before the command).
    pub fn zypper_options(&self) -> Vec<OsString> {
        let Self::Private(private) = self else {
            return Vec::new();
        };
        vec![
            "--reposd-dir".into(),
            private.dir.join("repos.d").into_os_string(),
            "--cache-dir".into(),
            private.dir.join("cache").into_os_string(),
        ]
    }

    /// Names the source behind a message about one of its repositories (a failed refresh):
    /// `message` with `(baseline source `NAME`)` added, or unchanged when it names none.
    pub fn attribute(&self, message: String) -> String {
        let Self::Private(private) = self else {
            return message;
        };
        let named = private.repos.iter().find(|(repo, _)| {
            let uri = repo.split(' ').next().unwrap_or(repo);
            // Package managers quote repository ids; apt names the URI.
            message.contains(&format!("`{repo}`"))
                || message.contains(&format!("'{repo}'"))
                || message.contains(&format!("[{repo}]"))
                || (repo.contains(' ') && message.contains(uri))
        });
        match named {
            Some((_, source)) => format!("{message} (baseline source `{source}`)"),
            None => message,
        }
    }
}

impl PrivateRepositories {
    /// apt's lists of the sources.
    pub fn apt_lists(&self) -> PathBuf {
        self.dir.join("lists")
    }

    /// apt's source list of the sources.
    pub fn apt_source_list(&self) -> PathBuf {
        self.dir.join("sources.list")
    }

    /// The `.repo` files of the sources (dnf, yum, zypper).
    pub fn repos_dir(&self) -> PathBuf {
        self.dir.join("repos.d")
    }

    /// The package manager's cache for the sources (dnf's and yum's `cachedir`, zypper's
    /// `--cache-dir`).
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.join("cache")
    }

    /// Whether any repository of the sources has metadata in the directory: a `Release` file
    /// in apt's lists, a `repomd.xml` in the cache (dnf, yum, zypper's raw cache).
    fn has_metadata(&self) -> bool {
        let mut stack = vec![(self.dir.join("lists"), 0), (self.cache_dir(), 0)];
        while let Some((dir, depth)) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name == "repomd.xml"
                    || name.ends_with("_Release")
                    || name.ends_with("_InRelease")
                {
                    return true;
                }
                if depth < 4 && entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push((entry.path(), depth + 1));
                }
            }
        }
        false
    }

    /// The repository ids the sources enable.
    pub fn enabled(&self) -> &[String] {
        &self.enabled
    }

    fn write(&self, family: Family, applying: &[&PatchSource]) -> Result<(), RepositoriesError> {
        let failed = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RepositoriesError::Write { path, source }
        };
        let file = |path: &Path, text: &str| {
            crate::state::write_atomically(path, text.as_bytes()).map_err(failed(path))
        };
        let directory = |path: &Path| std::fs::create_dir_all(path).map_err(failed(path));
        if family == Family::Apt {
            let mut text = String::new();
            for source in applying {
                let _ = writeln!(text, "# baseline source {}", source.name);
                text.push_str(source.configuration.trim_end());
                text.push('\n');
            }
            directory(&self.dir.join("sources.list.d"))?;
            directory(&self.dir.join("lists/partial"))?;
            directory(&self.dir.join("cache/archives/partial"))?;
            file(&self.dir.join("sources.list"), &text)?;
        } else {
            let repos = self.repos_dir();
            directory(&repos)?;
            directory(&self.cache_dir())?;
            let wanted: Vec<String> = applying
                .iter()
                .map(|s| format!("{}.repo", s.name))
                .collect();
            // Files of a source the set no longer has (a hand edit, an older version).
            for entry in std::fs::read_dir(&repos).map_err(failed(&repos))?.flatten() {
                if !wanted.iter().any(|w| entry.file_name() == w.as_str()) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            for (source, name) in applying.iter().zip(&wanted) {
                let mut text = source.configuration.trim_end().to_string();
                text.push('\n');
                file(&repos.join(name), &text)?;
            }
        }
        Ok(())
    }
}

/// The directory name of a source set: a digest of the package manager and each applying
/// source's name and configuration, so that the same sources find their metadata again.
fn key(kind: PackageManagerKind, applying: &[&PatchSource]) -> String {
    let mut digest = Sha256::new();
    digest.update(format!("{kind:?}\0").as_bytes());
    for source in applying {
        digest.update(source.name.as_bytes());
        digest.update(b"\0");
        digest.update(source.configuration.as_bytes());
        digest.update(b"\0");
    }
    let mut out = String::with_capacity(16);
    for byte in &digest.finalize()[..8] {
        let _ = write!(out, "{byte:02x}");
    }
    out
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
    fn private_directory_options_and_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let stale = sources_folder(root).join("0123456789abcdef");
        std::fs::create_dir_all(&stale).unwrap();
        let sources = [
            source(
                "mirror",
                &["AmazonLinux2023"],
                "[mirror]\nname=m\nbaseurl=file:///srv/m\n[off]\nbaseurl=file:///srv/o\nenabled=0\n",
            ),
            source(
                "other",
                &["RedhatEnterpriseLinux9"],
                "[x]\nbaseurl=file:///x\n",
            ),
        ];
        let repos = Repositories::prepare(
            root,
            PackageManagerKind::Dnf,
            "AmazonLinux2023",
            &sources,
            false,
        )
        .unwrap();
        assert_eq!(repos.source_names(), ["mirror"]);
        let private = repos.private().unwrap();
        assert_eq!(private.enabled(), ["mirror"]);
        assert!(!stale.exists(), "another set's directory is removed");
        assert_eq!(
            std::fs::read_to_string(private.repos_dir().join("mirror.repo")).unwrap(),
            sources[0].configuration
        );
        let options: Vec<String> = repos
            .rpm_options()
            .iter()
            .map(|o| o.to_string_lossy().into_owned())
            .collect();
        assert_eq!(options[2..], ["--disablerepo=*", "--enablerepo=mirror"]);
        assert!(options[1].starts_with(&format!(
            "--setopt=cachedir={}",
            sources_folder(root).display()
        )));
        assert_eq!(
            repos.attribute("repository `off` failed".into()),
            "repository `off` failed (baseline source `mirror`)"
        );

        // No sources: the host's repositories, and the private directories go.
        let host =
            Repositories::prepare(root, PackageManagerKind::Dnf, "AmazonLinux2023", &[], false)
                .unwrap();
        assert_eq!(host, Repositories::Host);
        assert!(!sources_folder(root).exists());
    }

    #[test]
    fn apt_options_and_nothing_written_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let good = source(
            "security-mirror",
            &["*"],
            "deb [trusted=yes] file:/srv/repo bookworm-security main",
        );
        let repos = Repositories::prepare(
            root,
            PackageManagerKind::Apt,
            "Debian12",
            std::slice::from_ref(&good),
            false,
        )
        .unwrap();
        let options: Vec<String> = repos
            .apt_options()
            .iter()
            .map(|o| o.to_string_lossy().into_owned())
            .collect();
        assert_eq!(options.len(), 8);
        assert!(
            options[1].starts_with("Dir::Etc::sourcelist=")
                && options[1].ends_with("/sources.list")
        );
        assert!(options[5].ends_with("/lists/"));
        assert_eq!(
            repos.attribute("Err:1 file:/srv/repo bookworm-security InRelease".into()),
            "Err:1 file:/srv/repo bookworm-security InRelease (baseline source `security-mirror`)"
        );
        let text = std::fs::read_to_string(repos.private().unwrap().apt_source_list()).unwrap();
        assert!(text.contains("deb [trusted=yes] file:/srv/repo bookworm-security main"));

        let other = tempfile::tempdir().unwrap();
        let bad = source("broken", &["*"], "deb-line-that-is-not");
        let error = Repositories::prepare(
            other.path(),
            PackageManagerKind::Apt,
            "Debian12",
            &[bad],
            false,
        )
        .unwrap_err();
        assert!(error.to_string().contains("source `broken`"), "{error}");
        assert!(!sources_folder(other.path()).exists());

        let twice = [
            source("one", &["*"], "[same]\nbaseurl=file:///a\n"),
            source("two", &["*"], "[same]\nbaseurl=file:///b\n"),
        ];
        let error = Repositories::prepare(
            other.path(),
            PackageManagerKind::Zypper,
            "SUSE15.5",
            &twice,
            false,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("also used by source `one`"),
            "{error}"
        );
    }
}
