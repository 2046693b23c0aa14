//! The reboot protocol, on-host state and crash safety of `install` (issue #6), against real
//! apt and dpkg in alternate roots: NoReboot → InstalledPendingReboot until a boot; RebootIfNeeded
//! → exit 194 with markers, asked again at most five times; 195 → 1 after the reboot;
//! RebootIfRequired with and without the OS's signal; one operation at a time; corrupt state;
//! a crash at every checkpoint. `PATCH_BASELINE_BOOT_TIME` stands in for the boot.

use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::apt_root::{
    AptRoot, in_state, installed_versions, patch_env, scan_json_env, scenario,
    scenario_with_rejected_dependency,
};
use crate::util::{assert_code, binary};

/// A boot long before any run here.
const OLD_BOOT: &str = "1000000000";

/// A boot an hour from now: "the machine has rebooted since".
fn later_boot() -> String {
    (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600)
        .to_string()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn scan_booted(apt: &AptRoot, boot: &str) -> Value {
    scan_json_env(
        &["--root", apt.root.to_str().unwrap(), "--no-refresh"],
        &[("PATCH_BASELINE_BOOT_TIME", boot)],
    )
}

fn ssm(apt: &AptRoot, path: &str) -> std::path::PathBuf {
    apt.root.join("var/log/amazon/ssm").join(path)
}

fn key(name: &str) -> (String, String) {
    (name.to_string(), "amd64".to_string())
}

#[test]
fn no_reboot_pending_until_the_machine_boots() {
    let apt = scenario();
    let out = patch_env(
        &apt,
        &["--reboot-option", "NoReboot"],
        &[("PATCH_BASELINE_BOOT_TIME", OLD_BOOT)],
    );
    assert_code(&out, 0);
    let report = json(&out);
    assert!(in_state(&report, "InstalledPendingReboot").contains_key(&key("sec-pkg")));
    let states: Value = serde_json::from_slice(
        &std::fs::read(ssm(
            &apt,
            "patch-configuration/patch-states-configuration.json",
        ))
        .unwrap(),
    )
    .unwrap();
    assert!(states["lastNoRebootInstallOperationTime"].as_f64().unwrap() > 1.0e9);
    assert_eq!(
        states["patchStates"]["sec-pkg.amd64:1.1-1"]["state"],
        "InstalledPendingReboot"
    );
    let summary: Value = serde_json::from_slice(
        &std::fs::read(ssm(
            &apt,
            "patch-configuration/patch-inventory-from-last-operation.json",
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(summary["TypeName"], "AWS:PatchSummary");
    assert_eq!(summary["Content"][0]["RebootOption"], "NoReboot");
    // sec-pkg, extra-pkg and both-pkg (at its -security version).
    assert_eq!(summary["Content"][0]["InstalledPendingRebootCount"], "3");
    assert!(
        summary["Content"][0]["LastNoRebootInstallOperationTime"]
            .as_str()
            .is_some()
    );
    // A later scan without a boot: still pending.
    assert!(
        in_state(&scan_booted(&apt, OLD_BOOT), "InstalledPendingReboot")
            .contains_key(&key("sec-pkg"))
    );
    // After a boot: Installed, and the state file says so.
    let booted = scan_booted(&apt, &later_boot());
    assert!(in_state(&booted, "Installed").contains_key(&key("sec-pkg")));
    assert!(in_state(&booted, "InstalledPendingReboot").is_empty());
}

#[test]
fn reboot_if_needed_asks_five_times_then_gives_up() {
    let apt = scenario();
    let old = [("PATCH_BASELINE_BOOT_TIME", OLD_BOOT)];
    let out = patch_env(&apt, &[], &old);
    assert_code(&out, 194);
    assert!(ssm(&apt, "patch-baseline-operations-194").is_dir());
    assert_eq!(installed_versions(&apt)["sec-pkg"], "1.1-1");
    for _ in 0..4 {
        let again = patch_env(&apt, &[], &old);
        assert_eq!(again.status.code(), Some(194));
        assert!(String::from_utf8_lossy(&again.stdout).contains("has not happened yet"));
    }
    let sixth = patch_env(&apt, &[], &old);
    assert_eq!(
        sixth.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&sixth.stdout)
    );
    assert!(!ssm(&apt, "patch-baseline-operations-194").exists());
}

#[test]
fn after_the_reboot_the_rerun_exits_without_patching() {
    let apt = scenario();
    assert_eq!(
        patch_env(&apt, &[], &[("PATCH_BASELINE_BOOT_TIME", OLD_BOOT)])
            .status
            .code(),
        Some(194)
    );
    // Something new to install would be there, but the resumed run must not patch.
    apt.publish(
        "bookworm-security",
        &[apt.deb("sec-pkg", "1.2-1", "optional", "utils")],
        "Debian-Security",
        false,
    );
    apt.apt("apt-get", &["update", "-q"]);
    let resumed = patch_env(&apt, &[], &[("PATCH_BASELINE_BOOT_TIME", &later_boot())]);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stdout)
    );
    assert!(!ssm(&apt, "patch-baseline-operations-194").exists());
    assert_eq!(installed_versions(&apt)["sec-pkg"], "1.1-1");
}

#[test]
fn a_failed_package_gives_195_then_1() {
    let apt = scenario();
    apt.publish(
        "bookworm",
        &[apt.deb("bad-pkg", "1.0-1", "optional", "utils")],
        "Debian",
        false,
    );
    apt.apt("apt-get", &["update", "-q"]);
    apt.apt("apt-get", &["install", "-y", "-q", "bad-pkg"]);
    apt.publish(
        "bookworm-security",
        &[apt.deb_with(
            "bad-pkg",
            "1.1-1",
            "optional",
            "utils",
            None,
            Some(("preinst", "exit 1")),
        )],
        "Debian-Security",
        false,
    );
    apt.apt("apt-get", &["update", "-q"]);
    let out = patch_env(&apt, &[], &[("PATCH_BASELINE_BOOT_TIME", OLD_BOOT)]);
    assert_code(&out, 194);
    let report = json(&out);
    assert!(
        in_state(&report, "Failed").contains_key(&key("bad-pkg")),
        "{}",
        report["counts"]
    );
    assert_eq!(
        installed_versions(&apt)["sec-pkg"],
        "1.1-1",
        "the rest went ahead"
    );
    assert!(ssm(&apt, "patch-baseline-operations-195").is_dir());
    let resumed = patch_env(&apt, &[], &[("PATCH_BASELINE_BOOT_TIME", &later_boot())]);
    assert_eq!(resumed.status.code(), Some(1));
    assert!(!ssm(&apt, "patch-baseline-operations-195").exists());
}

#[test]
fn reboot_if_required_follows_the_os_signal() {
    // Without the signal: no reboot; what was installed is pending, as with NoReboot.
    let quiet = scenario();
    let out = patch_env(
        &quiet,
        &["--reboot-option", "RebootIfRequired"],
        &[("PATCH_BASELINE_BOOT_TIME", OLD_BOOT)],
    );
    assert_code(&out, 0);
    assert!(in_state(&json(&out), "InstalledPendingReboot").contains_key(&key("sec-pkg")));
    assert!(!ssm(&quiet, "patch-baseline-operations-194").exists());
    // With it (a postinst writes run/reboot-required): reboot.
    let loud = scenario();
    loud.publish(
        "bookworm-security",
        &[loud.deb_with(
            "sec-pkg",
            "1.2-1",
            "optional",
            "utils",
            None,
            Some((
                "postinst",
                "mkdir -p \"$DPKG_ROOT/run\"; touch \"$DPKG_ROOT/run/reboot-required\"",
            )),
        )],
        "Debian-Security",
        false,
    );
    loud.apt("apt-get", &["update", "-q"]);
    let out = patch_env(
        &loud,
        &["--reboot-option", "RebootIfRequired"],
        &[("PATCH_BASELINE_BOOT_TIME", OLD_BOOT)],
    );
    assert_code(&out, 194);
    assert!(ssm(&loud, "patch-baseline-operations-194").is_dir());
}

#[test]
fn one_operation_at_a_time() {
    let apt = scenario();
    let lock = ssm(&apt, "patch-configuration/.patch-baseline.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let mut holder = Command::new("python3")
        .args(["-c", "import fcntl, sys, time\nf = open(sys.argv[1], 'a')\nfcntl.flock(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)"])
        .arg(&lock)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut first,
    )
    .unwrap();
    let install = patch_env(&apt, &["--lock-timeout", "1"], &[]);
    let scan = Command::new(binary())
        .args([
            "scan",
            "--root",
            apt.root.to_str().unwrap(),
            "--no-refresh",
            "--lock-timeout",
            "1",
        ])
        .output()
        .unwrap();
    let pid = holder.id();
    let _ = holder.kill();
    let _ = holder.wait();
    let stderr = String::from_utf8_lossy(&install.stderr);
    assert_eq!(install.status.code(), Some(76), "{stderr}");
    assert!(stderr.contains(&format!("process {pid}")), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1);
    assert_eq!(scan.status.code(), Some(76));
    assert_eq!(
        installed_versions(&apt)["sec-pkg"],
        "1.0-1",
        "nothing changed"
    );
}

#[test]
fn a_corrupt_state_file_is_reset_with_a_warning() {
    let apt = scenario();
    let states = ssm(&apt, "patch-configuration/patch-states-configuration.json");
    std::fs::create_dir_all(states.parent().unwrap()).unwrap();
    std::fs::write(
        &states,
        "{\"lastNoRebootInstallOperationTime\": \"yesterday\"",
    )
    .unwrap();
    let scan = scan_booted(&apt, OLD_BOOT);
    assert!(
        scan["warnings"].to_string().contains("is corrupt"),
        "{}",
        scan["warnings"]
    );
    let rewritten: Value = serde_json::from_slice(&std::fs::read(&states).unwrap()).unwrap();
    assert!(rewritten["patchStates"].is_object());
}

#[test]
fn a_crash_at_every_checkpoint_converges() {
    for checkpoint in [
        "after-plan",
        "after-download",
        "after-install",
        "after-state",
    ] {
        let apt = scenario();
        let old = ("PATCH_BASELINE_BOOT_TIME", OLD_BOOT);
        let crashed = patch_env(
            &apt,
            &["--reboot-option", "NoReboot"],
            &[old, ("PATCH_BASELINE_CRASH_AT", checkpoint)],
        );
        assert_eq!(
            crashed.status.code(),
            None,
            "{checkpoint}: stopped by a signal, as kill -9 would"
        );
        let out = patch_env(&apt, &["--reboot-option", "NoReboot"], &[old]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{checkpoint}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = json(&out);
        let pending = in_state(&report, "InstalledPendingReboot");
        assert!(
            pending.contains_key(&key("sec-pkg")) && pending.contains_key(&key("extra-pkg")),
            "{checkpoint}: {pending:?}"
        );
        assert_eq!(installed_versions(&apt)["sec-pkg"], "1.1-1");
        let log = std::fs::read_to_string(apt.root.join("var/log/dpkg.log")).unwrap();
        assert_eq!(
            log.matches(" upgrade sec-pkg:all ").count(),
            1,
            "{checkpoint}: installed once"
        );
        assert!(
            !ssm(
                &apt,
                "patch-configuration/patch-baseline-install-in-progress.json"
            )
            .exists(),
            "{checkpoint}"
        );
    }
}

#[test]
fn reboot_if_needed_reboots_for_earlier_pending_installs() {
    let apt = scenario();
    let old = [("PATCH_BASELINE_BOOT_TIME", OLD_BOOT)];
    assert_eq!(
        patch_env(&apt, &["--reboot-option", "NoReboot"], &old)
            .status
            .code(),
        Some(0)
    );
    // Nothing new to install, but the NoReboot install still waits for its reboot.
    let out = patch_env(&apt, &["--reboot-option", "RebootIfNeeded"], &old);
    assert_code(&out, 194);
    assert!(ssm(&apt, "patch-baseline-operations-194").is_dir());
}

#[test]
fn blocked_updates_give_196_then_2() {
    let (apt, baseline) = scenario_with_rejected_dependency();
    let out = patch_env(
        &apt,
        &["--baseline", &baseline],
        &[("PATCH_BASELINE_BOOT_TIME", OLD_BOOT)],
    );
    assert_code(&out, 194);
    assert!(ssm(&apt, "patch-baseline-operations-196").is_dir());
    let resumed = patch_env(
        &apt,
        &["--baseline", &baseline],
        &[("PATCH_BASELINE_BOOT_TIME", &later_boot())],
    );
    assert_eq!(resumed.status.code(), Some(2));
}

#[test]
fn an_unwritable_state_folder_makes_scan_read_only_and_install_refuse() {
    let apt = scenario();
    // A file where the state folder should be stands in for a read-only image.
    std::fs::create_dir_all(apt.root.join("var/log/amazon")).unwrap();
    std::fs::write(apt.root.join("var/log/amazon/ssm"), "not a folder").unwrap();
    let scan = scan_booted(&apt, OLD_BOOT);
    assert!(
        scan["warnings"]
            .to_string()
            .contains("scanning without recording the state"),
        "{}",
        scan["warnings"]
    );
    assert_eq!(in_state(&scan, "Missing").len(), 4);
    let install = patch_env(&apt, &[], &[]);
    assert_code(&install, 74);
    assert_eq!(
        installed_versions(&apt)["sec-pkg"],
        "1.0-1",
        "nothing changed"
    );
}

#[test]
fn a_read_only_scan_records_nothing() {
    let apt = scenario();
    let out = Command::new(binary())
        .args([
            "scan",
            "--root",
            apt.root.to_str().unwrap(),
            "--no-refresh",
            "--read-only",
        ])
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert!(!apt.root.join("var/log/amazon").exists());
    // Without it, the scan records its state.
    let _ = scan_booted(&apt, OLD_BOOT);
    assert!(ssm(&apt, "patch-configuration/patch-states-configuration.json").is_file());
}

/// A NoReboot install on an RPM root (dnf or zypper), then a recording scan and a
/// RebootIfNeeded install without a boot in between: the scan must keep the packages
/// InstalledPendingReboot (the state file's titles carry the epoch, `0:1.1-1`, the inventory's
/// versions do not) and the install must still ask for the reboot.
fn pending_reboot_survives_a_scan_on_an_rpm_root(
    root: &std::path::Path,
    home: &std::path::Path,
    install: &dyn Fn(&[&str], &[(&str, &str)]) -> Output,
) {
    let old = [("PATCH_BASELINE_BOOT_TIME", OLD_BOOT)];
    let out = install(&["--reboot-option", "NoReboot"], &old);
    assert_code(&out, 0);
    let pending = in_state(&json(&out), "InstalledPendingReboot");
    assert!(!pending.is_empty(), "the install installed something");
    let scan = Command::new(binary())
        .args(["scan", "--output", "json", "--no-refresh", "--root"])
        .arg(root)
        .env("HOME", home)
        .env("LC_ALL", "C")
        .env("PATCH_BASELINE_BOOT_TIME", OLD_BOOT)
        .output()
        .unwrap();
    assert_code(&scan, 0);
    assert_eq!(
        in_state(&json(&scan), "InstalledPendingReboot"),
        pending,
        "no boot since the NoReboot install: still pending"
    );
    let states: Value = serde_json::from_slice(
        &std::fs::read(
            root.join("var/log/amazon/ssm/patch-configuration/patch-states-configuration.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let recorded = states["patchStates"]
        .as_object()
        .unwrap()
        .values()
        .filter(|s| s["state"] == "InstalledPendingReboot")
        .count();
    assert_eq!(
        recorded,
        pending.len(),
        "the scan kept them in the state file"
    );
    let out = install(&["--reboot-option", "RebootIfNeeded"], &old);
    assert_code(&out, 194);
    assert!(
        root.join("var/log/amazon/ssm/patch-baseline-operations-194")
            .is_dir()
    );
}

#[test]
fn dnf_pending_reboot_survives_a_scan() {
    let dnf = crate::dnf_root::scenario();
    pending_reboot_survives_a_scan_on_an_rpm_root(&dnf.root, &dnf.home, &|extra, env| {
        dnf.install(extra, env)
    });
}

#[test]
fn zypper_pending_reboot_survives_a_scan() {
    let z = crate::zypper_root::scenario();
    pending_reboot_survives_a_scan_on_an_rpm_root(&z.root, &z.build.home, &|extra, env| {
        z.install(extra, env)
    });
}
