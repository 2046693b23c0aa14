//! `patch-baseline payload fetch`: archives built by Python's `tarfile` (hostile ones included),
//! served from a local HTTP server that can also break off, throttle, and answer 403 as S3
//! does for an expired presigned URL. Every failure has its code and leaves nothing behind.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use crate::util::{assert_code, binary, sha256_file};

/// Builds a tar.gz with Python's tarfile from a small script describing its members.
fn python_tar(dir: &Path, name: &str, members: &str) -> PathBuf {
    let path = dir.join(name);
    let script = format!(
        "import io, tarfile, sys\nt = tarfile.open(sys.argv[1], 'w:gz')\ndef add(name, data=b'', kind=tarfile.REGTYPE, link='', mode=0o644):\n    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link; i.mode = mode; i.size = len(data) if kind == tarfile.REGTYPE else 0\n    t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)\n{members}\nt.close()\n"
    );
    crate::util::python(&script, &[path.as_os_str()]);
    path
}

fn fetch(url: &str, sha: &str, dest: &Path, extra: &[&str]) -> Output {
    Command::new(binary())
        .args(["payload", "fetch", "--url", url, "--sha256", sha, "--dest"])
        .arg(dest)
        .args(extra)
        .output()
        .unwrap()
}

/// Nothing of the fetch is left beside or at `dest`.
fn assert_clean(parent: &Path, dest: &Path) {
    assert!(!dest.exists(), "{} exists", dest.display());
    let leftovers: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn assert_failure(out: &Output, code: i32, words: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    for word in words {
        assert!(stderr.contains(word), "`{word}` in {stderr}");
    }
}

fn good_archive(dir: &Path) -> PathBuf {
    python_tar(
        dir,
        "good.tar.gz",
        "add('bin/', kind=tarfile.DIRTYPE, mode=0o755)\nadd('bin/run', b'#!/bin/sh\\necho hi\\n', mode=0o4755)\nadd('README', b'payload')\nadd('docs', kind=tarfile.SYMTYPE, link='README')\nadd('bin/same', kind=tarfile.LNKTYPE, link='README')",
    )
}

#[test]
fn a_good_archive_from_a_file_url_is_extracted() {
    let dir = tempfile::tempdir().unwrap();
    let archive = good_archive(dir.path());
    let dest = dir.path().join("out");
    let out = fetch(
        &format!("file://{}", archive.display()),
        &sha256_file(&archive).to_uppercase(),
        &dest,
        &[],
    );
    assert_code(&out, 0);
    assert_eq!(std::fs::read(dest.join("README")).unwrap(), b"payload");
    assert_eq!(
        std::fs::read_link(dest.join("docs")).unwrap(),
        Path::new("README")
    );
    assert_eq!(std::fs::read(dest.join("bin/same")).unwrap(), b"payload");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dest.join("bin/run"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755, "setuid stripped");
    // A second fetch into the same, now full, folder is refused.
    let again = fetch(
        &format!("file://{}", archive.display()),
        &sha256_file(&archive),
        &dest,
        &[],
    );
    assert_failure(&again, 154, &["not empty"]);
}

#[test]
fn a_tampered_or_unreadable_payload_is_refused_before_use() {
    let dir = tempfile::tempdir().unwrap();
    let archive = good_archive(dir.path());
    let expected = sha256_file(&archive);
    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let tampered = dir.path().join("tampered.tar.gz");
    std::fs::write(&tampered, &bytes).unwrap();
    let parent = dir.path().join("work");
    std::fs::create_dir(&parent).unwrap();
    let dest = parent.join("out");
    let out = fetch(
        &format!("file://{}", tampered.display()),
        &expected,
        &dest,
        &[],
    );
    assert_failure(&out, 151, &[&expected, &sha256_file(&tampered)]);
    assert_clean(&parent, &dest);
    // Not an archive at all, but with its own checksum.
    let text = dir.path().join("text.tar.gz");
    std::fs::write(&text, "just text").unwrap();
    let out = fetch(
        &format!("file://{}", text.display()),
        &sha256_file(&text),
        &dest,
        &[],
    );
    assert_failure(&out, 152, &["not a readable tar.gz"]);
    assert_clean(&parent, &dest);
    // A checksum that is not one.
    let out = fetch(&format!("file://{}", text.display()), "abc", &dest, &[]);
    assert_failure(&out, 64, &["not a SHA-256"]);
}

#[test]
fn hostile_archives_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    let cases = [
        (
            "dotdot",
            "add('ok', b'x')\nadd('../outside', b'evil')",
            "`..`",
        ),
        (
            "absolute",
            "add('/tmp/patch-baseline-evil', b'evil')",
            "absolute path",
        ),
        (
            "symlink",
            "add('link', kind=tarfile.SYMTYPE, link='../outside')",
            "outside the destination",
        ),
        (
            "absolute-symlink",
            "add('link', kind=tarfile.SYMTYPE, link='/etc')",
            "outside the destination",
        ),
        (
            "through-symlink",
            "add('sub/', kind=tarfile.DIRTYPE)\nadd('link', kind=tarfile.SYMTYPE, link='sub')\nadd('link/file', b'x')",
            "written through a link",
        ),
        (
            "hardlink",
            "add('hard', kind=tarfile.LNKTYPE, link='../outside')",
            "`..`",
        ),
        // Each link inside on its own, but `e -> d/..` leaves through `d -> sub/x -> ..`; the
        // second archive makes `d` after `e`. Found by `cargo fuzz` (target `tar_extract`):
        // see fixtures/fuzz/PROVENANCE.md.
        (
            "link-chain",
            include_str!("../../fixtures/fuzz/tar_extract-link-chain.members"),
            "through a link",
        ),
        (
            "link-made-later",
            include_str!("../../fixtures/fuzz/tar_extract-link-made-later.members"),
            "through a link",
        ),
        (
            "device",
            "add('dev', kind=tarfile.CHRTYPE)",
            "only files, folders and links",
        ),
        (
            "fifo",
            "add('fifo', kind=tarfile.FIFOTYPE)",
            "only files, folders and links",
        ),
    ];
    for (name, members, words) in cases {
        let archive = python_tar(dir.path(), &format!("{name}.tar.gz"), members);
        let parent = dir.path().join(format!("work-{name}"));
        std::fs::create_dir(&parent).unwrap();
        let dest = parent.join("out");
        let out = fetch(
            &format!("file://{}", archive.display()),
            &sha256_file(&archive),
            &dest,
            &[],
        );
        assert_failure(&out, 155, &[words]);
        assert_clean(&parent, &dest);
        assert!(!outside.exists(), "{name} wrote outside");
    }
    assert!(!Path::new("/tmp/patch-baseline-evil").exists());
    // A gzip bomb: 64 MiB of zeros, far over a 1 MiB limit, in a small archive.
    let bomb = python_tar(dir.path(), "bomb.tar.gz", "add('zeros', bytes(64 << 20))");
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let parent = dir.path().join("work-bomb");
    std::fs::create_dir(&parent).unwrap();
    let dest = parent.join("out");
    let out = fetch(
        &format!("file://{}", bomb.display()),
        &sha256_file(&bomb),
        &dest,
        &["--max-extracted-mib", "1"],
    );
    assert_failure(&out, 155, &["gzip bomb"]);
    assert_clean(&parent, &dest);
}

/// A local HTTP server answering each request to a path with the next canned response for it
/// (the last one repeats). Counts the requests.
struct Server {
    url: String,
    hits: Arc<Mutex<Vec<String>>>,
}

fn serve(routes: Vec<(&'static str, Vec<Vec<u8>>)>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(Mutex::new(Vec::new()));
    let seen = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let line = String::from_utf8_lossy(&request);
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let count = {
                let mut hits = seen.lock().unwrap();
                hits.push(path.clone());
                hits.iter().filter(|p| **p == path).count()
            };
            let response = routes
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, answers)| answers[(count - 1).min(answers.len() - 1)].clone())
                .unwrap_or_else(|| b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec());
            let _ = stream.write_all(&response);
        }
    });
    Server { url, hits }
}

fn ok(body: &[u8]) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    response
}

#[test]
fn http_downloads_retry_what_can_get_better_and_name_what_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let archive = good_archive(dir.path());
    let body = std::fs::read(&archive).unwrap();
    let sha = sha256_file(&archive);
    // The second half missing: the server promises more than it sends, then closes.
    let mut truncated = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    truncated.extend_from_slice(&body[..body.len() / 2]);
    let expired = b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: 125\r\nConnection: close\r\n\r\n<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message><RequestId>1</RequestId></Error>".to_vec();
    let throttled =
        b"HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec();
    let server = serve(vec![
        ("/good.tar.gz", vec![ok(&body)]),
        (
            "/flaky.tar.gz",
            vec![throttled.clone(), truncated.clone(), ok(&body)],
        ),
        ("/truncated.tar.gz", vec![truncated]),
        ("/expired.tar.gz", vec![expired]),
        ("/throttled.tar.gz", vec![throttled]),
    ]);
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();

    let dest = work.join("good");
    let out = fetch(&format!("{}/good.tar.gz", server.url), &sha, &dest, &[]);
    assert_code(&out, 0);
    assert_eq!(std::fs::read(dest.join("README")).unwrap(), b"payload");

    // Throttled, then broken off, then whole: retried into success.
    let dest = work.join("flaky");
    let out = fetch(&format!("{}/flaky.tar.gz", server.url), &sha, &dest, &[]);
    assert_code(&out, 0);
    let hits = server.hits.lock().unwrap().clone();
    assert_eq!(hits.iter().filter(|p| *p == "/flaky.tar.gz").count(), 3);
    std::fs::remove_dir_all(&dest).unwrap();

    // Always truncated: retried, then 156 naming the URL; nothing left.
    let dest = work.join("truncated");
    let out = fetch(
        &format!("{}/truncated.tar.gz", server.url),
        &sha,
        &dest,
        &[],
    );
    assert_failure(&out, 156, &["/truncated.tar.gz", "download failed"]);
    assert_clean(&work, &dest);

    // An expired presigned URL: S3's reason, and no retry.
    let dest = work.join("expired");
    let out = fetch(&format!("{}/expired.tar.gz", server.url), &sha, &dest, &[]);
    assert_failure(
        &out,
        156,
        &["HTTP 403", "AccessDenied", "Request has expired"],
    );
    let hits = server.hits.lock().unwrap().clone();
    assert_eq!(hits.iter().filter(|p| *p == "/expired.tar.gz").count(), 1);
    assert_clean(&work, &dest);

    // Throttled every time: retried, then 156.
    let dest = work.join("throttled");
    let out = fetch(
        &format!("{}/throttled.tar.gz", server.url),
        &sha,
        &dest,
        &[],
    );
    assert_failure(&out, 156, &["HTTP 503"]);
    let hits = server.hits.lock().unwrap().clone();
    assert!(hits.iter().filter(|p| *p == "/throttled.tar.gz").count() > 1);
    assert_clean(&work, &dest);

    // Nobody listening.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dest = work.join("refused");
    let out = fetch(
        &format!("http://127.0.0.1:{port}/x.tar.gz"),
        &sha,
        &dest,
        &[],
    );
    assert_failure(&out, 156, &["download failed"]);
    assert_clean(&work, &dest);
}
