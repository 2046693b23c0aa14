//! Payloads: download what we are given (`https://`, `http://`, `file://`; `s3://` through the
//! [`S3Fetcher`] the caller provides), verify its SHA-256 before a byte of it is used, and
//! extract a tar.gz safely into a new folder.
//!
//! The download is streamed to a temporary file beside the destination, hashed as it arrives and
//! bounded in size; network errors and 5xx answers are retried with backoff, 4xx answers are not
//! (a 403 or an expired presigned URL will not get better). Extraction refuses absolute paths,
//! `..`, links that point outside the destination or that an entry would be written through,
//! device files and FIFOs, and more content than the limit (a gzip bomb), and strips setuid,
//! setgid and sticky bits. Everything is extracted into a staging folder renamed into place at
//! the end, so that after a failure nothing is left at the destination.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// Why a payload could not be fetched; each has its exit code (spec §8.1).
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// 151: the content is not what the checksum says.
    #[error("{url}: sha256 check failed: expected {expected}, got {actual}")]
    Checksum {
        /// Where it came from.
        url: String,
        /// The checksum given.
        expected: String,
        /// The checksum of what arrived.
        actual: String,
    },
    /// 152: the content is not a readable tar.gz archive.
    #[error("{url}: not a readable tar.gz archive: {message}")]
    NotAnArchive {
        /// Where it came from.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// 154: the destination cannot be created.
    #[error("cannot create `{}`: {message}", path.display())]
    CannotCreate {
        /// The destination.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// 155: extraction refused (unsafe entry, too large) or failed.
    #[error("{url}: unsafe or failed extraction: {message}")]
    Extraction {
        /// Where it came from.
        url: String,
        /// The entry and what is wrong with it.
        message: String,
    },
    /// 156: the download failed.
    #[error("{url}: download failed: {message}")]
    Download {
        /// Where it came from.
        url: String,
        /// Why (status, network error, size limit).
        message: String,
    },
    /// A usage error: a malformed URL or checksum.
    #[error("{0}")]
    Usage(String),
}

impl PayloadError {
    /// The exit code of spec §8.1 for this error (64 for a usage error).
    pub fn code(&self) -> u8 {
        match self {
            Self::Checksum { .. } => 151,
            Self::NotAnArchive { .. } => 152,
            Self::CannotCreate { .. } => 154,
            Self::Extraction { .. } => 155,
            Self::Download { .. } => 156,
            Self::Usage(_) => 64,
        }
    }
}

/// Bounds on what a payload may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest download, in bytes.
    pub max_download: u64,
    /// Largest total extracted content, in bytes.
    pub max_extracted: u64,
    /// Most entries in the archive.
    pub max_entries: u64,
    /// Attempts for a download that fails with a network error or a 5xx answer.
    pub attempts: u32,
    /// The first wait between attempts (doubled each time).
    pub backoff: Duration,
    /// Timeout for connecting and for each read.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_download: 512 << 20,
            max_extracted: 2 << 30,
            max_entries: 100_000,
            attempts: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Fetches `s3://bucket/key` URLs (the AWS SDK in the binary; tests may give another).
pub trait S3Fetcher {
    /// Streams the object into `out`; `Err` carries a one-line reason (status or error code).
    fn fetch(&self, bucket: &str, key: &str, out: &mut dyn Write) -> Result<(), String>;
}

/// A 64-digit hexadecimal SHA-256 (any case), lower-cased.
pub fn parse_sha256(text: &str) -> Result<String, PayloadError> {
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(PayloadError::Usage(format!(
            "`{text}` is not a SHA-256 (64 hexadecimal digits)"
        )))
    }
}

/// A writer that hashes and counts what passes through it and refuses more than a limit.
struct Counting<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
    limit: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written + buf.len() as u64 > self.limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!("larger than the limit of {} bytes", self.limit),
            ));
        }
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What one download attempt did.
enum Attempt {
    Done,
    /// Worth trying again (network error, 5xx, 429).
    Retry(String),
    /// Not worth trying again.
    Fail(String),
}

/// The proxy the environment names for `url`'s scheme (`https_proxy`/`HTTPS_PROXY` for https,
/// `http_proxy`/`HTTP_PROXY` for http; lower case first, as curl and the AWS CLI read them), its
/// credentials masked, unless `no_proxy`/`NO_PROXY` is set: a network error then names it.
pub fn proxy_in_use(url: &str) -> Option<String> {
    let names: &[&str] = if url.starts_with("https://") {
        &["https_proxy", "HTTPS_PROXY"]
    } else {
        &["http_proxy", "HTTP_PROXY"]
    };
    let value = names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))?;
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    let bypassed = ["no_proxy", "NO_PROXY"]
        .iter()
        .filter_map(|n| std::env::var(n).ok())
        .flat_map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .any(|rule| {
            let rule = rule.trim_start_matches('.');
            !rule.is_empty() && (rule == "*" || host == rule || host.ends_with(&format!(".{rule}")))
        });
    if bypassed {
        return None;
    }
    Some(mask_credentials(&value))
}

/// `scheme://user:password@host` with the password replaced by `***`.
fn mask_credentials(proxy: &str) -> String {
    match proxy.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}")
            }
            None => proxy.to_string(),
        },
        None => proxy.to_string(),
    }
}

/// The root certificates downloads trust: the machine's store, as the AWS SDK's calls trust it
/// (`SSL_CERT_FILE`/`SSL_CERT_DIR` when set); Mozilla's roots when the store is empty or absent.
fn root_certs() -> ureq::tls::RootCerts {
    static ROOTS: std::sync::OnceLock<ureq::tls::RootCerts> = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            let certs: Vec<ureq::tls::Certificate<'static>> = loaded
                .certs
                .iter()
                .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
                .collect();
            if certs.is_empty() {
                ureq::tls::RootCerts::WebPki
            } else {
                ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs))
            }
        })
        .clone()
}

fn http_attempt(url: &str, limits: &Limits, out: &mut dyn Write) -> Attempt {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(root_certs())
                .build(),
        )
        .timeout_connect(Some(limits.timeout))
        .timeout_recv_body(Some(limits.timeout * 10))
        .timeout_recv_response(Some(limits.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let response = match agent.get(url).call() {
        Ok(response) => response,
        Err(error) => {
            let proxy = proxy_in_use(url)
                .map(|p| format!(" (through the proxy {p})"))
                .unwrap_or_default();
            return Attempt::Retry(format!("{error}{proxy}"));
        }
    };
    let status = response.status().as_u16();
    if status == 429 || status >= 500 {
        return Attempt::Retry(format!("HTTP {status}"));
    }
    if status != 200 {
        // S3 explains a 403 (expired presigned URL, access denied) in its XML body.
        let mut body = String::new();
        let _ = response
            .into_body()
            .into_reader()
            .take(4096)
            .read_to_string(&mut body);
        let code = between(&body, "<Code>", "</Code>");
        let message = between(&body, "<Message>", "</Message>");
        let detail = match (code, message) {
            (Some(code), Some(message)) => format!(": {code}: {message}"),
            (Some(code), None) => format!(": {code}"),
            _ => String::new(),
        };
        return Attempt::Fail(format!("HTTP {status}{detail}"));
    }
    let mut reader = response
        .into_body()
        .into_with_config()
        .limit(limits.max_download + 1)
        .reader();
    match std::io::copy(&mut reader, out) {
        Ok(_) => Attempt::Done,
        Err(error) if error.kind() == std::io::ErrorKind::FileTooLarge => {
            Attempt::Fail(error.to_string())
        }
        Err(error) => Attempt::Retry(format!("the transfer broke off: {error}")),
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(text[from..to].trim())
}

/// Downloads `url` into what `open` gives (a new sink for each attempt), returning the SHA-256
/// of what arrived and the sink.
fn download<W: Write>(
    url: &str,
    limits: &Limits,
    s3: Option<&dyn S3Fetcher>,
    mut open: impl FnMut() -> Result<W, PayloadError>,
) -> Result<(String, W), PayloadError> {
    let failed = |message: String| PayloadError::Download {
        url: url.to_string(),
        message,
    };
    let mut wait = limits.backoff;
    let mut last = String::new();
    for attempt in 1..=limits.attempts.max(1) {
        let mut out = Counting {
            inner: open()?,
            hasher: Sha256::new(),
            written: 0,
            limit: limits.max_download,
        };
        let outcome = if let Some(path) = url.strip_prefix("file://") {
            match std::fs::File::open(path) {
                Ok(mut source) => match std::io::copy(&mut source, &mut out) {
                    Ok(_) => Attempt::Done,
                    Err(e) => Attempt::Fail(e.to_string()),
                },
                Err(e) => Attempt::Fail(format!("cannot read `{path}`: {e}")),
            }
        } else if let Some(rest) = url.strip_prefix("s3://") {
            let Some((bucket, key)) = rest
                .split_once('/')
                .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            else {
                return Err(PayloadError::Usage(format!(
                    "`{url}`: expected s3://BUCKET/KEY"
                )));
            };
            match s3 {
                Some(s3) => match s3.fetch(bucket, key, &mut out) {
                    Ok(()) => Attempt::Done,
                    Err(reason) => Attempt::Fail(reason),
                },
                None => Attempt::Fail("s3:// URLs are not available here".to_string()),
            }
        } else {
            http_attempt(url, limits, &mut out)
        };
        let flushed = out.flush();
        match (outcome, flushed) {
            (Attempt::Done, Ok(())) => return Ok((hex(&out.hasher.finalize()), out.inner)),
            (Attempt::Done, Err(e)) => return Err(failed(e.to_string())),
            (Attempt::Fail(reason), _) => return Err(failed(reason)),
            (Attempt::Retry(reason), _) => {
                last = format!("{reason} (after {attempt} attempt(s))");
                if attempt < limits.attempts {
                    std::thread::sleep(wait);
                    wait *= 2;
                }
            }
        }
    }
    Err(failed(last))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut text, b| {
        let _ = write!(text, "{b:02x}");
        text
    })
}

/// The path of an archive entry made relative and checked: no root, no prefix, no `..`.
fn safe_relative(path: &Path) -> Result<PathBuf, String> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("a `..` component".to_string()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("an absolute path".to_string());
            }
        }
    }
    Ok(clean)
}

/// Where a relative link target from `entry` lands, lexically; `None` when it leaves the root.
/// `traversed` receives every path the walk goes *through* (a component follows it): were one
/// of them a link, the lexical answer would not be where the link really points.
fn resolve_inside(entry: &Path, target: &Path, traversed: &mut Vec<PathBuf>) -> Option<PathBuf> {
    if target.is_absolute() {
        return None;
    }
    let mut parts: Vec<&std::ffi::OsStr> = entry
        .parent()
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    for component in target.components() {
        if !parts.is_empty() && !matches!(component, Component::CurDir) {
            traversed.push(parts.iter().collect());
        }
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

/// Extracts the tar.gz at `archive` into the empty folder `into`, refusing (with an error,
/// never a panic) any entry that would land or link outside it, and any archive over `limits`
/// (entries, extracted bytes); `url` names the archive in errors.
pub fn extract(
    archive: &Path,
    into: &Path,
    url: &str,
    limits: &Limits,
) -> Result<(), PayloadError> {
    use std::os::unix::fs::PermissionsExt;
    let unreadable = |message: String| PayloadError::NotAnArchive {
        url: url.to_string(),
        message,
    };
    let refused = |entry: &Path, message: String| PayloadError::Extraction {
        url: url.to_string(),
        message: format!("`{}`: {message}", entry.display()),
    };
    let file = std::fs::File::open(archive).map_err(|e| unreadable(e.to_string()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let entries = tar.entries().map_err(|e| unreadable(e.to_string()))?;
    let link_target = |entry: &mut tar::Entry<'_, _>| -> Result<PathBuf, PayloadError> {
        let raw = entry
            .path()
            .map(std::borrow::Cow::into_owned)
            .unwrap_or_default();
        entry
            .link_name()
            .map_err(|e| unreadable(e.to_string()))?
            .map(std::borrow::Cow::into_owned)
            .ok_or_else(|| refused(&raw, "a link without a target".to_string()))
    };
    let mut extracted: u64 = 0;
    let mut count: u64 = 0;
    let mut links: Vec<PathBuf> = Vec::new();
    // Every path a link's target goes through (see the symlink case).
    let mut traversed: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| unreadable(e.to_string()))?;
        count += 1;
        if count > limits.max_entries {
            return Err(PayloadError::Extraction {
                url: url.to_string(),
                message: format!("more than {} entries", limits.max_entries),
            });
        }
        let raw = entry
            .path()
            .map_err(|e| unreadable(e.to_string()))?
            .into_owned();
        let relative = safe_relative(&raw).map_err(|m| refused(&raw, m))?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        // Never write through a link the archive made.
        if links
            .iter()
            .any(|link| relative.starts_with(link) && relative != *link)
        {
            return Err(refused(&raw, "would be written through a link".to_string()));
        }
        let destination = into.join(&relative);
        if std::fs::symlink_metadata(&destination).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(refused(&raw, "would replace a link".to_string()));
        }
        let kind = entry.header().entry_type();
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        let write_error = |e: std::io::Error| refused(&raw, e.to_string());
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent).map_err(write_error)?;
        }
        match kind {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&destination).map_err(write_error)?;
                std::fs::set_permissions(
                    &destination,
                    std::fs::Permissions::from_mode(mode | 0o700),
                )
                .map_err(write_error)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let remaining = limits.max_extracted.saturating_sub(extracted);
                let mut out = std::fs::File::create(&destination).map_err(write_error)?;
                // Reading (a corrupt archive) and writing (a full disk) fail differently.
                let mut limited = (&mut entry).take(remaining + 1);
                let mut buffer = vec![0u8; 64 * 1024];
                let mut copied: u64 = 0;
                loop {
                    let read = match std::io::Read::read(&mut limited, &mut buffer) {
                        Ok(0) => break,
                        Ok(read) => read,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(unreadable(format!("`{}`: {e}", raw.display()))),
                    };
                    std::io::Write::write_all(&mut out, &buffer[..read]).map_err(write_error)?;
                    copied += read as u64;
                }
                if copied > remaining {
                    return Err(PayloadError::Extraction {
                        url: url.to_string(),
                        message: format!(
                            "more than {} bytes of content (a gzip bomb?)",
                            limits.max_extracted
                        ),
                    });
                }
                extracted += copied;
                std::fs::set_permissions(&destination, std::fs::Permissions::from_mode(mode))
                    .map_err(write_error)?;
            }
            tar::EntryType::Symlink => {
                let target = link_target(&mut entry)?;
                let mut through = Vec::new();
                if resolve_inside(&relative, &target, &mut through).is_none() {
                    return Err(refused(
                        &raw,
                        format!("a link to `{}`, outside the destination", target.display()),
                    ));
                }
                // Links are checked lexically, so no link may stand where a link's target goes
                // through: `d -> sub/x` with `sub/x -> ..` makes `e -> d/..` leave the root.
                if through.iter().any(|path| links.contains(path)) || traversed.contains(&relative)
                {
                    return Err(refused(
                        &raw,
                        format!("a link to `{}`, through a link", target.display()),
                    ));
                }
                std::os::unix::fs::symlink(&target, &destination).map_err(write_error)?;
                traversed.extend(through);
                links.push(relative);
            }
            tar::EntryType::Link => {
                let target = link_target(&mut entry)?;
                let target = safe_relative(&target).map_err(|m| refused(&raw, m))?;
                let source = into.join(&target);
                if links.iter().any(|link| target.starts_with(link))
                    || !std::fs::symlink_metadata(&source).is_ok_and(|m| m.is_file())
                {
                    return Err(refused(
                        &raw,
                        format!(
                            "a hard link to `{}`, not a file extracted before it",
                            target.display()
                        ),
                    ));
                }
                std::fs::hard_link(&source, &destination).map_err(write_error)?;
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => {
                return Err(refused(
                    &raw,
                    format!("a {other:?} entry (only files, folders and links are extracted)"),
                ));
            }
        }
    }
    Ok(())
}

/// Downloads a small document (`https://`, `http://`, `file://`, `s3://`) into memory, with the
/// same retries and size limit as a payload.
pub fn fetch_bytes(
    url: &str,
    limits: &Limits,
    s3: Option<&dyn S3Fetcher>,
) -> Result<Vec<u8>, PayloadError> {
    download(url, limits, s3, || Ok(Vec::new())).map(|(_, bytes)| bytes)
}

/// A sibling of `dest` for work in progress: `.NAME.TAG-PID`.
fn sibling(dest: &Path, tag: &str) -> PathBuf {
    let name = dest
        .file_name()
        .map_or_else(|| "payload".into(), |n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

/// Downloads `url`, checks its SHA-256 against `sha256`, and extracts it (a tar.gz) into
/// `dest`, which must not exist or be empty. After any failure `dest` is as it was and
/// nothing else is left behind.
pub fn fetch(
    url: &str,
    sha256: &str,
    dest: &Path,
    limits: &Limits,
    s3: Option<&dyn S3Fetcher>,
) -> Result<(), PayloadError> {
    let expected = parse_sha256(sha256)?;
    if !["https://", "http://", "file://", "s3://"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
    {
        return Err(PayloadError::Usage(format!(
            "`{url}`: only https://, http://, s3:// and file:// URLs are fetched"
        )));
    }
    let cannot_create = |message: String| PayloadError::CannotCreate {
        path: dest.to_path_buf(),
        message,
    };
    let existed = match std::fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(cannot_create("it exists and is not empty".to_string()));
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(cannot_create(e.to_string())),
    };
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| cannot_create(e.to_string()))?;
    }
    let download_file = sibling(dest, "download");
    let staging = sibling(dest, "partial");
    let result = (|| {
        let (actual, _) = download(url, limits, s3, || {
            std::fs::File::create(&download_file)
                .map(std::io::BufWriter::new)
                .map_err(|e| PayloadError::Download {
                    url: url.to_string(),
                    message: format!(
                        "cannot write the download to `{}`: {e}",
                        download_file.display()
                    ),
                })
        })?;
        if actual != expected {
            return Err(PayloadError::Checksum {
                url: url.to_string(),
                expected: expected.clone(),
                actual,
            });
        }
        std::fs::create_dir(&staging).map_err(|e| cannot_create(e.to_string()))?;
        extract(&download_file, &staging, url, limits)?;
        if existed {
            std::fs::remove_dir(dest).map_err(|e| cannot_create(e.to_string()))?;
        }
        std::fs::rename(&staging, dest).map_err(|e| cannot_create(e.to_string()))
    })();
    let _ = std::fs::remove_file(&download_file);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
        if existed && !dest.exists() {
            let _ = std::fs::create_dir(dest);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_links() {
        assert_eq!(
            safe_relative(Path::new("./a/b")).unwrap(),
            PathBuf::from("a/b")
        );
        assert!(safe_relative(Path::new("/etc/passwd")).is_err());
        assert!(safe_relative(Path::new("a/../../x")).is_err());
        let mut through = Vec::new();
        assert_eq!(
            resolve_inside(Path::new("a/b/link"), Path::new("../c"), &mut through),
            Some(PathBuf::from("a/c"))
        );
        assert_eq!(through, [PathBuf::from("a/b"), PathBuf::from("a")]);
        assert_eq!(
            resolve_inside(Path::new("link"), Path::new("../etc"), &mut through),
            None
        );
        assert_eq!(
            resolve_inside(Path::new("a/link"), Path::new("/etc"), &mut through),
            None
        );
        assert!(parse_sha256(&"A".repeat(64)).is_ok());
        assert!(parse_sha256("abc").is_err());
    }
}
