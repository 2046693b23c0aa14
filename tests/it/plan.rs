//! Install plans on real apt and dnf roots: `install --dry-run --plan-out` writes what an
//! install would do, `install --plan` installs exactly that (an update approved after the plan
//! was made stays out), and refuses, naming the difference and touching nothing, when the
//! system or the baseline drifted, unless `--allow-drift`. Malformed and foreign plans are
//! refused as bad input.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use serde_json::Value;

use crate::apt_root::{self, installed_versions, patch_env, write_baseline};
use crate::dnf_root;
use crate::util::assert_code;

fn patch(apt: &apt_root::AptRoot, extra: &[&str]) -> Output {
    patch_env(apt, extra, &[])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn targets(plan: &Value) -> BTreeMap<String, String> {
    plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_apt_plan_is_installed_exactly_and_refused_when_the_baseline_drifted() {
    let apt = apt_root::scenario();
    let plan_file = apt.base.join("plan.json");
    let plan_path = plan_file.to_str().unwrap();
    let out = patch(
        &apt,
        &[
            "--dry-run",
            "--plan-out",
            plan_path,
            "--reboot-option",
            "NoReboot",
        ],
    );
    assert_code(&out, 0);
    let dry: Value = serde_json::from_slice(&out.stdout).unwrap();
    let plan: Value = serde_json::from_slice(&std::fs::read(&plan_file).unwrap()).unwrap();
    // The plan file holds exactly what the dry run printed, and the system's identity.
    assert_eq!(plan["targets"], dry["plan"]);
    assert_eq!(plan["planVersion"], 1);
    assert_eq!(plan["system"]["packageManager"], "apt");
    assert_eq!(plan["baseline"]["name"], "AWS-DebianDefaultPatchBaseline");
    assert_eq!(plan["baseline"]["fingerprint"].as_str().unwrap().len(), 64);
    let planned = targets(&plan);
    // The scan's Missing packages, minus the held one, which an install leaves alone.
    let scan = apt.scan(&["--no-refresh"]);
    let mut missing = apt_root::in_state(&scan, "Missing")
        .into_iter()
        .map(|((name, _), version)| (name, version))
        .collect::<BTreeMap<_, _>>();
    missing.remove("held-pkg");
    assert_eq!(planned, missing);
    assert!(!planned.is_empty());
    let before = installed_versions(&apt);

    // Another baseline (EnableNonSecurity) is drift: refused with exit 5, naming it, nothing
    // installed.
    let other = write_baseline(
        &apt.base,
        "other",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["*"]}]}, "ApproveAfterDays": 0, "EnableNonSecurity": true}"#,
        "",
    );
    let out = patch(&apt, &["--plan", plan_path, "--baseline", &other]);
    assert_code(&out, 5);
    assert!(
        stderr(&out).contains("the baseline differs from the plan's"),
        "{}",
        stderr(&out)
    );
    assert_eq!(installed_versions(&apt), before, "nothing installed");

    // After the plan was made, -security offers a fix for upd-pkg too, which the baseline
    // approves; the plan installs exactly its own targets, and upd-pkg stays Missing.
    let mut security = apt_root::scenario_security_debs(&apt);
    security.push(apt.deb("upd-pkg", "2.2-1", "important", "admin"));
    apt.publish("bookworm-security", &security, "Debian-Security", false);
    apt.apt("apt-get", &["update", "-q"]);
    let rescan = apt.scan(&["--no-refresh"]);
    assert_eq!(
        apt_root::in_state(&rescan, "Missing").get(&("upd-pkg".to_string(), "amd64".to_string())),
        Some(&"2.2-1".to_string())
    );
    assert!(!planned.contains_key("upd-pkg"));
    let out = patch(&apt, &["--plan", plan_path, "--reboot-option", "NoReboot"]);
    assert_code(&out, 0);
    let after = installed_versions(&apt);
    for (name, version) in &before {
        match planned.get(name) {
            Some(target) => assert_eq!(&after[name], target, "{name}"),
            None => assert_eq!(&after[name], version, "{name} is not in the plan"),
        }
    }
    // The report: the plan's targets are installed, the rest is as before.
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = apt_root::in_state(&report, "Failed");
    assert!(failed.is_empty(), "{failed:?}");
    let missing = apt_root::in_state(&report, "Missing");
    assert!(
        missing.contains_key(&("upd-pkg".to_string(), "amd64".to_string())),
        "{missing:?}"
    );
    // Its reasons name the plan, not an override list.
    let upd = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "upd-pkg")
        .unwrap();
    let reasons = upd["reasons"].to_string();
    assert!(reasons.contains("\"notInPlan\""), "{upd:#}");
    assert!(!reasons.contains("OverrideList"), "{upd:#}");
    // The summary names the plan where AWS's names the install override list.
    let summary = Command::new(crate::util::binary())
        .args([
            "last-summary",
            "--root",
            apt.root.to_str().unwrap(),
            "InstallOverrideList",
        ])
        .output()
        .unwrap();
    assert_code(&summary, 0);
    assert_eq!(String::from_utf8_lossy(&summary.stdout).trim(), plan_path);
    // Applying it again: everything is installed already, nothing to do.
    let out = patch(&apt, &["--plan", plan_path, "--reboot-option", "NoReboot"]);
    assert_code(&out, 0);
    assert_eq!(installed_versions(&apt), after);
}

#[test]
fn a_dnf_plan_is_refused_when_a_target_drifted_and_applied_with_allow_drift() {
    let dnf = dnf_root::scenario();
    let plan_file = dnf.base.join("plan.json");
    let plan_path = plan_file.to_str().unwrap();
    let out = dnf.install(&["--dry-run", "--plan-out", plan_path], &[]);
    assert_code(&out, 0);
    let plan: Value = serde_json::from_slice(&std::fs::read(&plan_file).unwrap()).unwrap();
    let planned = targets(&plan);
    assert_eq!(planned.get("sec-imp").map(String::as_str), Some("1.1-1"));
    assert_eq!(plan["system"]["operatingSystem"], "AMAZON_LINUX_2023");

    // sec-imp goes down to 0.9 behind the plan's back (real rpm): drift.
    dnf.rpm("sec-imp", None, "0.9");
    let rpm_file = std::fs::read_dir(dnf.repo.join("noarch"))
        .map(|d| d.map(|e| e.unwrap().path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(
            std::fs::read_dir(&dnf.repo)
                .unwrap()
                .map(|e| e.unwrap().path()),
        )
        .find(|p| p.to_string_lossy().ends_with("sec-imp-0.9-1.noarch.rpm"))
        .expect("the 0.9 rpm");
    let status = Command::new("rpm")
        .env("HOME", &dnf.home)
        .arg(format!("--root={}", dnf.root.display()))
        .args(["-U", "--oldpackage", "--nodeps"])
        .arg(&rpm_file)
        .status()
        .unwrap();
    assert!(status.success());
    let before = dnf.installed();
    let out = dnf.install(&["--plan", plan_path, "--reboot-option", "NoReboot"], &[]);
    assert_code(&out, 5);
    let message = stderr(&out);
    assert!(
        message.contains(
            "sec-imp.noarch 1.1-1: the installed version is 0.9-1, the plan was made at 1.0-1"
        ),
        "{message}"
    );
    assert_eq!(dnf.installed(), before, "nothing installed");

    // --allow-drift installs what the plan still can, sec-imp included.
    let out = dnf.install(
        &[
            "--plan",
            plan_path,
            "--allow-drift",
            "--reboot-option",
            "NoReboot",
        ],
        &[],
    );
    assert_code(&out, 0);
    let installed = dnf.installed();
    for (name, version) in &planned {
        let without_epoch = version.split_once(':').map_or(version.as_str(), |(_, v)| v);
        let short = without_epoch.trim_end_matches("-1");
        assert!(
            installed.contains(&format!("{name}-{short}")),
            "{name} {version}: {installed:?}"
        );
    }
    let report = dnf_root::report(&out);
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("drift from the plan, allowed"),
        "{warnings}"
    );
}

#[test]
fn malformed_and_foreign_plans_are_refused_as_bad_input() {
    let dnf = dnf_root::scenario();
    let plan_file = dnf.base.join("plan.json");
    let plan_path = plan_file.to_str().unwrap();
    assert_code(
        &dnf.install(&["--dry-run", "--plan-out", plan_path], &[]),
        0,
    );
    let original: Value = serde_json::from_slice(&std::fs::read(&plan_file).unwrap()).unwrap();
    let before = dnf.installed();
    let cases: Vec<(&str, Box<dyn Fn(&mut Value)>, &str)> = vec![
        (
            "a name that must not reach a command line",
            Box::new(|p: &mut Value| p["targets"][0]["name"] = "sec-imp;reboot".into()),
            "targets[0]",
        ),
        (
            "another kind of system",
            Box::new(|p: &mut Value| p["system"]["product"] = "AmazonLinux2".into()),
            "the plan is for AMAZON_LINUX_2023 AmazonLinux2",
        ),
        (
            "another plan version",
            Box::new(|p: &mut Value| p["planVersion"] = 2.into()),
            "planVersion 2",
        ),
        (
            "an unknown field",
            Box::new(|p: &mut Value| p["extra"] = true.into()),
            "unknown field",
        ),
    ];
    for (what, edit, expected) in cases {
        let mut plan = original.clone();
        edit(&mut plan);
        std::fs::write(&plan_file, plan.to_string()).unwrap();
        let out = dnf.install(&["--plan", plan_path], &[]);
        assert_code(&out, 65);
        let message = stderr(&out);
        assert!(message.contains(expected), "{what}: {message}");
        assert!(
            message.contains(plan_path),
            "{what}: names the file: {message}"
        );
        assert_eq!(dnf.installed(), before, "{what}: nothing installed");
    }
    std::fs::write(&plan_file, "{not json").unwrap();
    assert_code(&dnf.install(&["--plan", plan_path], &[]), 65);
    // --plan-out needs --dry-run, --allow-drift needs --plan.
    assert_code(&dnf.install(&["--plan-out", plan_path], &[]), 64);
    assert_code(&dnf.install(&["--allow-drift"], &[]), 64);
}
