//! The PutInventory request (`--report`): accepted by botocore's SSM service model (patterns and
//! limits included), hashes equal Python's `json.dumps` digest, fields as spec §5.

use std::process::Command;

use serde_json::Value;

use crate::util::{assert_code, repo_root, run_binary};

fn report_for(inventory: &str, extra: &[&str]) -> (tempfile::TempDir, std::path::PathBuf, Value) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let inventory = repo_root().join("fixtures/inventories").join(inventory);
    let mut args = vec![
        "evaluate",
        "--inventory",
        inventory.to_str().unwrap(),
        "--now",
        "2024-06-01T00:00:00Z",
        "--snapshot-id",
        "7c64b8b8-1274-47db-8f0d-e26f6c0aae7b",
        "--report",
        report.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run_binary(&args, dir.path());
    assert_code(&out, 0);
    let value: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    (dir, report, value)
}

fn content(report: &Value, item: usize) -> &Vec<Value> {
    report["Items"][item]["Content"].as_array().unwrap()
}

fn item<'a>(report: &'a Value, id: &str) -> &'a Value {
    content(report, 1)
        .iter()
        .find(|c| c["Id"] == id)
        .unwrap_or_else(|| panic!("no item {id}"))
}

#[test]
fn reports_pass_botocore_validation_and_python_hashes() {
    let (_d1, rpm, _) = report_for("al2023-mixed.json", &[]);
    let (_d2, apt, _) = report_for("debian12-mixed.json", &[]);
    let (_d3, install, _) = report_for("al2023-mixed.json", &["--operation", "Install"]);
    let output = Command::new("python3")
        .arg(repo_root().join("tests/scripts/check_put_inventory.py"))
        .args([&rpm, &apt, &install])
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python3 with botocore (scripts/test installs it) rejected a report:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.matches(": ok (").count(), 3, "{stdout}");
}

#[test]
fn summary_has_awss_keys_in_awss_order() {
    let (_d, _, report) = report_for("debian12-mixed.json", &[]);
    let ours: Vec<&String> = content(&report, 0)[0].as_object().unwrap().keys().collect();
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo_root().join("fixtures/aws_snapshot/patch-inventory-from-last-operation.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let theirs: Vec<&String> = sample["Content"][0].as_object().unwrap().keys().collect();
    // The real sample was compliant, so it has no NonCompliantSeverity; ours is not.
    assert_eq!(&ours[..theirs.len()], &theirs[..]);
    assert_eq!(ours[theirs.len()..], [&"NonCompliantSeverity".to_string()]);
    // The item's own keys too: ContentHash before CaptureTime, as the payload writes them.
    let item_keys: Vec<&String> = report["Items"][0].as_object().unwrap().keys().collect();
    let sample_keys: Vec<&String> = sample.as_object().unwrap().keys().collect();
    assert_eq!(item_keys, sample_keys);
    let compliance_keys: Vec<&str> = report["Items"][1]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        compliance_keys,
        [
            "TypeName",
            "SchemaVersion",
            "ContentHash",
            "CaptureTime",
            "Context",
            "Content"
        ]
    );
    let summary = &content(&report, 0)[0];
    assert_eq!(summary["BaselineId"], "pb-09a5f8eb62bde80b1");
    assert_eq!(
        summary["SnapshotId"],
        "7c64b8b8-1274-47db-8f0d-e26f6c0aae7b"
    );
    assert_eq!(
        (
            summary["MissingCount"].as_str(),
            summary["InstalledCount"].as_str()
        ),
        (Some("1"), Some("1"))
    );
    assert_eq!(
        (
            summary["InstalledOtherCount"].as_str(),
            summary["NotApplicableCount"].as_str()
        ),
        (Some("2"), Some("1"))
    );
    assert_eq!(summary["SecurityNonCompliantCount"], "1");
    assert_eq!(summary["NonCompliantSeverity"], "INFORMATIONAL");
    assert_eq!(summary["OperationType"], "Scan");
    assert_eq!(report["InstanceId"], "mi-0123456789abcdef0");
    let context = &report["Items"][1]["Context"];
    assert_eq!(
        context["ExecutionId"],
        "7c64b8b8-1274-47db-8f0d-e26f6c0aae7b"
    );
    assert_eq!(
        (
            context["ComplianceType"].as_str(),
            context["ExecutionType"].as_str()
        ),
        (Some("Patch"), Some("Command"))
    );
}

#[test]
fn compliance_items_per_family() {
    let (_d, _, apt) = report_for("debian12-mixed.json", &[]);
    let libssl = item(&apt, "libssl3.amd64");
    assert_eq!(libssl["Title"], "libssl3.amd64:3.0.17-1~deb12u3");
    assert_eq!(
        (libssl["PatchState"].as_str(), libssl["Status"].as_str()),
        (Some("Missing"), Some("NON_COMPLIANT"))
    );
    assert_eq!(
        (
            libssl["Classification"].as_str(),
            libssl["PatchSeverity"].as_str()
        ),
        (Some("Security"), Some("optional"))
    );
    assert_eq!(libssl["InstalledTime"], "");
    assert!(libssl.get("CVEIds").is_none(), "never CVEIds on apt");
    let openssl = item(&apt, "openssl.amd64");
    assert_eq!(
        (
            openssl["PatchState"].as_str(),
            openssl["InstalledTime"].as_str()
        ),
        (Some("Installed"), Some("2025-10-01T00:00:00Z"))
    );
    assert!(
        content(&apt, 1)
            .iter()
            .all(|c| c["PatchState"] != "NotApplicable"),
        "NotApplicable is counted, not itemised"
    );
    // Order: Installed, InstalledOther, …, Missing.
    let states: Vec<&str> = content(&apt, 1)
        .iter()
        .map(|c| c["PatchState"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["Installed", "InstalledOther", "InstalledOther", "Missing"]
    );

    let (_d, _, rpm) = report_for("al2023-mixed.json", &[]);
    let openssl = item(&rpm, "openssl-libs.x86_64");
    assert_eq!(
        openssl["Title"],
        "openssl-libs.x86_64:1:3.0.8-1.amzn2023.0.11"
    );
    assert_eq!(openssl["CVEIds"], "CVE-2023-6237,CVE-2024-0727");
    assert_eq!(
        (
            openssl["Classification"].as_str(),
            openssl["PatchSeverity"].as_str()
        ),
        (Some("Security"), Some("Important"))
    );
    let kernel = item(&rpm, "kernel.x86_64");
    assert_eq!(kernel["Title"], "kernel.x86_64:0:6.1.82-99.168.amzn2023");
    assert_eq!(kernel["Status"], "COMPLIANT");
    assert!(
        kernel.get("CVEIds").is_none(),
        "CVEIds only for Missing/Failed"
    );
    let curl = item(&rpm, "curl.x86_64");
    assert_eq!(
        (
            curl["PatchState"].as_str(),
            curl["Classification"].as_str(),
            curl["Severity"].as_str()
        ),
        (Some("InstalledOther"), Some(""), Some("UNSPECIFIED"))
    );

    // Install: what is still missing is Failed, and the summary says Install.
    let (_d, _, install) = report_for("al2023-mixed.json", &["--operation", "Install"]);
    assert_eq!(
        item(&install, "openssl-libs.x86_64")["PatchState"],
        "Failed"
    );
    assert_eq!(content(&install, 0)[0]["FailedCount"], "2");
    assert_eq!(content(&install, 0)[0]["MissingCount"], "0");
    assert_eq!(content(&install, 0)[0]["OperationType"], "Install");
}
