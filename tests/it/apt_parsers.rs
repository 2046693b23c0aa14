//! Our dpkg status and apt index readers on real files (fixtures/dpkg, fixtures/apt; see their
//! PROVENANCE.md), checked against the real `dpkg-query` where it can read the same file.

use std::collections::BTreeSet;
use std::process::Command;

use patch_baseline::apt::dpkg::parse_status;
use patch_baseline::apt::lists::{parse_packages, parse_release};

use crate::util::repo_root;

/// The installed (name, arch, version) set that `dpkg-query` reads from a status file.
fn dpkg_query_installed(status: &std::path::Path) -> BTreeSet<(String, String, String)> {
    let admin = tempfile::tempdir().unwrap();
    std::fs::copy(status, admin.path().join("status")).unwrap();
    for sub in ["info", "updates", "triggers"] {
        std::fs::create_dir_all(admin.path().join(sub)).unwrap();
    }
    let out = Command::new("dpkg-query")
        .arg(format!("--admindir={}", admin.path().display()))
        .args([
            "-W",
            "-f",
            "${Package}\t${Architecture}\t${Version}\t${db:Status-Status}\n",
        ])
        .env("LC_ALL", "C")
        .output()
        .expect("dpkg-query");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            (f.len() == 4 && !f[2].is_empty() && !matches!(f[3], "not-installed" | "config-files"))
                .then(|| (f[0].to_string(), f[1].to_string(), f[2].to_string()))
        })
        .collect()
}

#[test]
fn status_files_of_real_systems_match_dpkg_query() {
    let mut total = 0;
    for (file, at_least) in [
        ("bookworm-container.status", 700),
        ("ubuntu2004-armhf-industio.status", 300),
        ("debian7-wheezy-powerpc-kurobox.status", 300),
        ("debian-riscv64-tanghaojin.status", 100),
        ("trivy-dpkg-valid.status", 80),
    ] {
        let path = repo_root().join("fixtures/dpkg").join(file);
        let ours: BTreeSet<(String, String, String)> = parse_status(&std::fs::read(&path).unwrap())
            .unwrap()
            .into_iter()
            .map(|p| {
                (
                    p.name.to_string(),
                    p.arch.to_string(),
                    p.version.to_string(),
                )
            })
            .collect();
        let theirs = dpkg_query_installed(&path);
        assert_eq!(ours, theirs, "{file}");
        assert!(ours.len() >= at_least, "{file}: {}", ours.len());
        total += ours.len();
    }
    // This machine's own status file, read in place.
    let host = parse_status(&std::fs::read("/var/lib/dpkg/status").unwrap()).unwrap();
    let host: BTreeSet<_> = host
        .into_iter()
        .map(|p| {
            (
                p.name.to_string(),
                p.arch.to_string(),
                p.version.to_string(),
            )
        })
        .collect();
    assert_eq!(
        host,
        dpkg_query_installed(std::path::Path::new("/var/lib/dpkg/status"))
    );
    println!(
        "status files: {} packages agree with dpkg-query, plus {} on this machine",
        total,
        host.len()
    );
}

#[test]
fn deinstalled_and_distroless_entries() {
    // An old AWS kernel left as `deinstall ok config-files` is not installed.
    let text = std::fs::read(repo_root().join("fixtures/dpkg/syft-status.d-deinstall")).unwrap();
    let packages = parse_status(&text).unwrap();
    assert!(
        packages
            .iter()
            .all(|p| !p.name.contains("linux-aws-5.4-headers")),
        "{packages:?}"
    );
    // Distroless status.d stanzas carry no Status field: installed.
    let text = std::fs::read(repo_root().join("fixtures/dpkg/syft-status.d-multiple")).unwrap();
    assert!(parse_status(&text).unwrap().len() >= 2);
    // Held packages are noted.
    let held =
        parse_status(b"Package: a\nStatus: hold ok installed\nArchitecture: amd64\nVersion: 1\n")
            .unwrap();
    assert!(held[0].held);
    assert!(
        parse_status(b"Version: 1\n").is_err(),
        "a paragraph without Package is an error"
    );
}

#[test]
fn ubuntu_focal_security_index_and_release() {
    let text = std::fs::read(
        repo_root().join("fixtures/apt/ubuntu-ports_focal-security_main_binary-armhf_Packages"),
    )
    .unwrap();
    let stanzas = text
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"Package: "))
        .count();
    let mut versions = Vec::new();
    parse_packages(&text[..], 0, &mut versions).unwrap();
    assert_eq!(versions.len(), stanzas);
    assert_eq!(stanzas, 3901);
    assert!(
        versions
            .iter()
            .all(|v| !v.version.is_empty() && !v.arch.is_empty())
    );
    let names: BTreeSet<&str> = versions.iter().map(|v| v.name.as_str()).collect();
    let repeated = names
        .iter()
        .filter(|n| versions.iter().filter(|v| v.name == **n).count() > 1)
        .count();
    assert_eq!(repeated, 34, "names with several versions in one index");
    assert!(
        versions
            .iter()
            .any(|v| v.priority.as_deref() == Some("extra"))
    );
    let release = parse_release(
        &std::fs::read(repo_root().join("fixtures/apt/ubuntu-ports_focal-security_InRelease"))
            .unwrap(),
        "ports.ubuntu.com",
    );
    assert_eq!(
        (
            release.origin.as_str(),
            release.suite.as_str(),
            release.codename.as_str()
        ),
        ("Ubuntu", "focal-security", "focal")
    );
    let wheezy = parse_release(
        &std::fs::read(repo_root().join("fixtures/apt/debian-security-wheezy_updates_InRelease"))
            .unwrap(),
        "security.debian.org",
    );
    assert_eq!(wheezy.label.as_str(), "Debian-Security");
}
