//! Full disks and read-only places (issue #16, part 3), on small tmpfs file systems mounted for
//! each test (the tests run as root, as `scripts/test` does): report and state writes on a full
//! disk exit 74 in one line and leave the previous files as they were; an install whose state
//! folder is full or read-only refuses before touching a package; a download or an extraction
//! that fills the disk leaves nothing behind; a scan of a read-only state folder still works;
//! a `noexec` temporary folder breaks nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::apt_root::{AptRoot, installed_versions, scenario};
use crate::util::binary;

/// A tmpfs of `size` mounted at `at` for the test's life (lazily unmounted when dropped, even
/// after a failed assertion).
struct Mount {
    at: PathBuf,
}

impl Mount {
    fn tmpfs(at: &Path, options: &str) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount tmpfs at {} (the disk tests run as root): {}",
            at.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            at: at.to_path_buf(),
        }
    }

    /// Fills the file system: a file grown until the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.at.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while filler.write_all(&block).is_ok() {}
        // What is left is less than a block: fill that too, byte by byte.
        while filler.write_all(&[0]).is_ok() {}
        let _ = filler.sync_all();
    }

    /// Makes it read-only.
    fn read_only(&self) {
        let out = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

fn patch_baseline(apt: &AptRoot, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary());
    command
        .args(args)
        .args(["--root", apt.root.to_str().unwrap(), "--no-refresh"])
        .env("APT_CONFIG", &apt.config)
        .env("LC_ALL", "C");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// Exit 0.
fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Exit 74 with one line of error naming `what`.
fn assert_cannot_write(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains(what), "{stderr}");
    assert!(
        lines[0].contains("No space left on device") || lines[0].contains("Read-only file system"),
        "{stderr}"
    );
}

/// Every file under `dir` (recursively) with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "filler") {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn state_dir(apt: &AptRoot) -> PathBuf {
    apt.root.join("var/log/amazon/ssm")
}

#[test]
fn a_report_on_a_full_disk_keeps_the_previous_one() {
    let apt = scenario();
    let disk = Mount::tmpfs(&apt.base.join("reports"), "size=256k");
    let report = disk.at.join("compliance.json");
    let args = ["scan", "--instance-id", "i-0123456789abcdef0", "--report"];
    let first = patch_baseline(
        &apt,
        &[&args[..], &[report.to_str().unwrap()]].concat(),
        &[],
    );
    assert_ok(&first);
    let before = files(&disk.at);
    assert_eq!(before.len(), 1);
    disk.fill();
    let out = patch_baseline(
        &apt,
        &[&args[..], &[report.to_str().unwrap()]].concat(),
        &[],
    );
    assert_cannot_write(&out, report.to_str().unwrap());
    assert_eq!(
        files(&disk.at),
        before,
        "the previous report, and nothing else"
    );
}

#[test]
fn state_on_a_full_disk_stops_install_before_any_package() {
    let apt = scenario();
    // The state of a first scan, then a full disk under it.
    let state = state_dir(&apt);
    let disk = Mount::tmpfs(&state, "size=256k");
    let scan = patch_baseline(&apt, &["scan", "--output", "json"], &[]);
    assert_ok(&scan);
    let before = files(&disk.at);
    assert!(
        before
            .iter()
            .any(|(p, _)| p.ends_with("patch-states-configuration.json")),
        "{before:?}"
    );
    let versions = installed_versions(&apt);
    disk.fill();

    let out = patch_baseline(&apt, &["install", "--reboot-option", "NoReboot"], &[]);
    assert_cannot_write(&out, "patch-configuration");
    assert_eq!(installed_versions(&apt), versions, "nothing installed");
    assert_eq!(files(&disk.at), before, "the state as it was");

    // A scan records its states: on the full disk it says so in one line, state unchanged.
    let out = patch_baseline(&apt, &["scan"], &[]);
    assert_cannot_write(&out, "patch-configuration");
    assert_eq!(files(&disk.at), before);

    // Space again: the install goes through.
    std::fs::remove_file(disk.at.join("filler")).unwrap();
    let out = patch_baseline(&apt, &["install", "--reboot-option", "NoReboot"], &[]);
    assert_ok(&out);
    assert_eq!(installed_versions(&apt)["sec-pkg"], "1.1-1");
}

#[test]
fn a_read_only_state_folder_allows_scans_and_stops_installs() {
    let apt = scenario();
    let state = state_dir(&apt);
    let disk = Mount::tmpfs(&state, "size=1m");
    let scan = patch_baseline(&apt, &["scan"], &[]);
    assert_eq!(scan.status.code(), Some(0));
    let before = files(&disk.at);
    disk.read_only();
    let versions = installed_versions(&apt);

    let scan = patch_baseline(&apt, &["scan", "--output", "json"], &[]);
    let stderr = String::from_utf8_lossy(&scan.stderr);
    assert_eq!(scan.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&scan.stdout).unwrap();
    assert!(
        report["warnings"]
            .to_string()
            .contains("Read-only file system (os error 30)): scanning without recording the state"),
        "{}",
        report["warnings"]
    );
    assert!(!crate::apt_root::in_state(&report, "Missing").is_empty());

    let out = patch_baseline(&apt, &["install", "--reboot-option", "NoReboot"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert_eq!(installed_versions(&apt), versions, "nothing installed");
    assert_eq!(files(&disk.at), before);
}

#[test]
fn a_noexec_temporary_folder_breaks_nothing() {
    let apt = scenario();
    let tmp = Mount::tmpfs(&apt.base.join("tmp"), "size=16m,noexec");
    let env = [("TMPDIR", tmp.at.to_str().unwrap())];
    let scan = patch_baseline(&apt, &["scan"], &env);
    assert_ok(&scan);
    let out = patch_baseline(&apt, &["install", "--reboot-option", "NoReboot"], &env);
    assert_ok(&out);
    assert_eq!(installed_versions(&apt)["sec-pkg"], "1.1-1");
}

/// A tarball of `size` bytes of incompressible content (one file), and its SHA-256.
fn big_tarball(dir: &Path, size: usize) -> (PathBuf, String) {
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let content: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(stage.join("blob"), content).unwrap();
    let tarball = dir.join("big.tar.gz");
    let sha = crate::util::tar_gz(&tarball, &stage, "blob");
    (tarball, sha)
}

#[test]
fn a_download_or_an_extraction_that_fills_the_disk_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (tarball, sha) = big_tarball(dir.path(), 3 << 20);
    let url = format!("file://{}", tarball.display());
    // The download itself does not fit: 156. It fits but its content does not: 155.
    for (size, code) in ["1m", "4m"].iter().zip([156, 155]) {
        let disk = Mount::tmpfs(
            &dir.path().join(format!("disk-{size}")),
            &format!("size={size}"),
        );
        let dest = disk.at.join("payload");
        let out = Command::new(binary())
            .args([
                "payload", "fetch", "--url", &url, "--sha256", &sha, "--dest",
            ])
            .arg(&dest)
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{size}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{size}: {stderr}");
        assert!(
            stderr.contains("No space left on device"),
            "{size}: {stderr}"
        );
        let left: Vec<_> = std::fs::read_dir(&disk.at).unwrap().flatten().collect();
        assert!(left.is_empty(), "{size}: left behind: {left:?}");
    }
}
