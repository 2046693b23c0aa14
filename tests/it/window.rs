//! Maintenance windows (`install --max-duration`) on real apt, dnf and zypper roots: batches
//! most severe first, estimated from the download sizes apt and dnf report (zypper's from its
//! raw primary metadata) and the rate kept in the
//! state folder; what would not finish in time is not started and stays Missing ("deferred");
//! the next window installs the rest. The estimates are driven through the rate file, so no
//! outcome depends on how fast this machine is.

use serde_json::Value;

use crate::apt_root::{self, installed_versions, patch_env, write_baseline};
use crate::dnf_root;
use crate::util::assert_code;

const MIB: f64 = 1_048_576.0;

fn rate_file(root: &std::path::Path) -> std::path::PathBuf {
    root.join("var/log/amazon/ssm/patch-configuration/patch-baseline-install-rate.json")
}

fn set_rate(root: &std::path::Path, bytes_per_second: f64) {
    let path = rate_file(root);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        serde_json::json!({"bytesPerSecond": bytes_per_second, "samples": 1}).to_string(),
    )
    .unwrap();
}

fn by_name<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {report:#}"))
}

#[test]
fn an_apt_window_installs_the_most_severe_batch_and_defers_the_rest_to_the_next() {
    let apt = apt_root::scenario();
    // extra-pkg is CRITICAL, sec-pkg and both-pkg LOW (all three from -security).
    let baseline = write_baseline(
        &apt.base,
        "levels",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["Extra"]}]}, "ApproveAfterDays": 0, "ComplianceLevel": "CRITICAL"},
           {"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["Optional", "Standard"]}]}, "ApproveAfterDays": 0, "ComplianceLevel": "LOW"}"#,
        "",
    );
    // One update costs 1 MiB plus its size: at 1 MiB per 50 s the CRITICAL batch (one update)
    // is estimated at about 50 s, the LOW one (two) at about 100 s: in 2 minutes only the first.
    set_rate(&apt.root, MIB / 50.0);
    let before = installed_versions(&apt);
    let out = patch_env(
        &apt,
        &[
            "--baseline",
            &baseline,
            "--max-duration",
            "2",
            "--reboot-option",
            "NoReboot",
        ],
        &[],
    );
    assert_code(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let after = installed_versions(&apt);
    assert_eq!(after["extra-pkg"], "1.1");
    assert_eq!(after["sec-pkg"], before["sec-pkg"]);
    assert_eq!(after["both-pkg"], before["both-pkg"]);
    for name in ["sec-pkg", "both-pkg"] {
        let package = by_name(&report, name);
        assert_eq!(package["state"], "Missing", "{package:#}");
        assert!(
            package["reasons"].to_string().contains("deferredByWindow"),
            "{package:#}"
        );
    }
    let window = &report["maintenanceWindow"];
    assert_eq!(
        window["deferred"],
        serde_json::json!(["both-pkg.amd64", "sec-pkg.amd64"])
    );
    let batches = window["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 1, "{window:#}");
    assert_eq!(
        batches[0]["updates"],
        serde_json::json!(["extra-pkg.amd64"])
    );
    assert_eq!(batches[0]["compliance"], "CRITICAL");
    // apt-cache gave the download size: more than the 1 MiB an update counts besides it.
    let bytes = batches[0]["bytes"].as_u64().unwrap();
    let show = apt.apt("apt-cache", &["show", "extra-pkg=1.1"]);
    let size: u64 = String::from_utf8_lossy(&show.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Size: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(bytes, (1 << 20) + size, "{window:#}");
    let estimate = batches[0]["estimateSeconds"].as_f64().unwrap();
    assert!((estimate - 50.0).abs() < 1.0, "{estimate}");
    assert!(batches[0]["tookSeconds"].as_f64().is_some());
    // The measurement is kept for the next window.
    let kept: Value =
        serde_json::from_slice(&std::fs::read(rate_file(&apt.root)).unwrap()).unwrap();
    assert_eq!(kept["samples"], 2);
    assert_ne!(kept["bytesPerSecond"].as_f64().unwrap(), MIB / 50.0);

    // The next window, with room for everything, installs the rest.
    set_rate(&apt.root, MIB);
    let out = patch_env(
        &apt,
        &[
            "--baseline",
            &baseline,
            "--max-duration",
            "60",
            "--reboot-option",
            "NoReboot",
        ],
        &[],
    );
    assert_code(&out, 0);
    let after = installed_versions(&apt);
    assert_eq!(after["sec-pkg"], "1.1-1");
    assert_eq!(after["both-pkg"], "3.1-1");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["maintenanceWindow"]["deferred"],
        serde_json::json!([])
    );
}

#[test]
fn a_dnf_window_that_is_already_over_starts_nothing() {
    let dnf = dnf_root::scenario();
    let before = dnf.installed();
    let missing: Vec<String> = dnf.scan(&["--no-refresh"])["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == "Missing")
        .map(|p| {
            format!(
                "{}.{}",
                p["name"].as_str().unwrap(),
                p["arch"].as_str().unwrap()
            )
        })
        .collect();
    assert!(missing.len() >= 2);
    let out = dnf.install(&["--max-duration", "0", "--reboot-option", "NoReboot"], &[]);
    assert_code(&out, 0);
    assert_eq!(dnf.installed(), before, "nothing started");
    let report = dnf_root::report(&out);
    let window = &report["maintenanceWindow"];
    assert_eq!(window["batches"], serde_json::json!([]));
    let mut deferred: Vec<String> = window["deferred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    deferred.sort();
    assert_eq!(deferred, missing, "{window:#}");
    for package in report["packages"].as_array().unwrap() {
        assert_ne!(package["state"], "Failed", "{package:#}");
    }
    // dnf's repoquery gave the download sizes.
    for batch in window["deferredBatches"].as_array().unwrap() {
        let updates = batch["updates"].as_array().unwrap().len() as u64;
        assert!(
            batch["bytes"].as_u64().unwrap() > updates << 20,
            "size known: {batch:#}"
        );
    }
    // The table says it in one line.
    let out = std::process::Command::new(crate::util::binary())
        .args([
            "install",
            "--root",
            dnf.root.to_str().unwrap(),
            "--no-refresh",
        ])
        .args(["--max-duration", "0", "--reboot-option", "NoReboot"])
        .env("HOME", &dnf.home)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert_code(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "0 batch(es) run, {} update(s) deferred to the next window",
            missing.len()
        )),
        "{text}"
    );

    // A plan installed in a window that is over: its targets are deferred, Missing, not Failed.
    let plan = dnf.base.join("plan.json");
    let plan = plan.to_str().unwrap();
    assert_code(&dnf.install(&["--dry-run", "--plan-out", plan], &[]), 0);
    let out = dnf.install(
        &[
            "--plan",
            plan,
            "--max-duration",
            "0",
            "--reboot-option",
            "NoReboot",
        ],
        &[],
    );
    assert_code(&out, 0);
    assert_eq!(dnf.installed(), before);
    let report = dnf_root::report(&out);
    for id in &missing {
        let package = report["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| {
                &format!(
                    "{}.{}",
                    p["name"].as_str().unwrap(),
                    p["arch"].as_str().unwrap()
                ) == id
            })
            .unwrap();
        assert_eq!(package["state"], "Missing", "{package:#}");
        assert!(
            package["reasons"].to_string().contains("deferredByWindow"),
            "{package:#}"
        );
    }
}

#[test]
fn a_zypper_window_estimates_from_the_sizes_in_zyppers_raw_metadata() {
    let z = crate::zypper_root::scenario();
    let before = z.installed();
    let report: Value = {
        let out = z.install(&["--max-duration", "0", "--reboot-option", "NoReboot"], &[]);
        assert_code(&out, 0);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(z.installed(), before, "nothing started");
    let window = &report["maintenanceWindow"];
    let batches = window["deferredBatches"].as_array().unwrap();
    assert!(!batches.is_empty(), "{window:#}");
    // zypper has no size query: the primary metadata in zypper's raw cache gave each update's
    // download size, which is the rpm file's size; an update counts 1 MiB besides it.
    for batch in batches {
        let mut expected = 0;
        for id in batch["updates"].as_array().unwrap() {
            let (name, arch) = id.as_str().unwrap().rsplit_once('.').unwrap();
            let version = by_name(&report, name)["approvedVersion"].as_str().unwrap();
            let version = version.split_once(':').map_or(version, |(_, v)| v);
            let file = z
                .build
                .repo
                .join(arch)
                .join(format!("{name}-{version}.{arch}.rpm"));
            expected += (1 << 20) + std::fs::metadata(&file).unwrap().len();
        }
        assert_eq!(batch["bytes"].as_u64().unwrap(), expected, "{batch:#}");
    }
}
