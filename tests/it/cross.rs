//! The aarch64 (Graviton) release binary under qemu-user (issue #15, part 4): `--version`, and
//! scans of an apt root and a dnf root whose JSON equals this build's. `scripts/test` builds the
//! aarch64 release and runs these with `--ignored`, naming the binary in
//! `PATCH_BASELINE_CROSS_BINARY` and the emulator in `PATCH_BASELINE_CROSS_RUNNER`
//! (`qemu-aarch64-static`); run without them, they fail.

use std::process::Command;

use crate::util::binary;

/// The cross binary's command under its emulator.
fn cross() -> Command {
    let bin = std::env::var("PATCH_BASELINE_CROSS_BINARY").expect(
        "PATCH_BASELINE_CROSS_BINARY names the aarch64 release binary (scripts/test sets it)",
    );
    let runner = std::env::var("PATCH_BASELINE_CROSS_RUNNER")
        .expect("PATCH_BASELINE_CROSS_RUNNER names the emulator (scripts/test sets it)");
    let mut command = Command::new(runner);
    command.arg(bin);
    command
}

/// `scan --output json` of `root` by `command`, with a fixed clock.
fn scan_json(
    mut command: Command,
    root: &std::path::Path,
    env: &[(&str, &str)],
) -> serde_json::Value {
    command
        .args([
            "scan",
            "--output",
            "json",
            "--read-only",
            "--no-refresh",
            "--all",
        ])
        .args(["--now", "2026-12-01T00:00:00Z", "--root"])
        .arg(root)
        .env("LC_ALL", "C");
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
#[ignore = "scripts/test runs it with the aarch64 release binary"]
fn aarch64_release_scans_as_this_build_does() {
    let out = cross().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("patch-baseline {}", env!("CARGO_PKG_VERSION"))
    );

    let apt = crate::apt_root::scenario();
    let config = apt.config.to_string_lossy().into_owned();
    let env = [("APT_CONFIG", config.as_str())];
    assert_eq!(
        scan_json(cross(), &apt.root, &env),
        scan_json(Command::new(binary()), &apt.root, &env)
    );

    let dnf = crate::dnf_root::scenario();
    let home = dnf.home.to_string_lossy().into_owned();
    let env = [("HOME", home.as_str())];
    let theirs = scan_json(cross(), &dnf.root, &env);
    assert_eq!(theirs, scan_json(Command::new(binary()), &dnf.root, &env));
    assert!(!theirs["packages"].as_array().unwrap().is_empty());
}
