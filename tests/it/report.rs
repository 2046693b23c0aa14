//! The PutInventory request (`--report`): accepted by botocore's SSM service model (patterns and
//! limits included), hashes equal Python's `json.dumps` digest, fields as spec §5.

use std::process::Command;

use serde_json::Value;

use crate::util::{assert_code, repo_root, run_binary};

fn report_for(inventory: &str, extra: &[&str]) -> (tempfile::TempDir, std::path::PathBuf, Value) {
    let dir = tempfile::tempdir().unwrap();
    let inventory = repo_root().join("fixtures/inventories").join(inventory);
    let (report, value) = report_in(dir.path(), &inventory, extra);
    (dir, report, value)
}

/// `evaluate --report` of `inventory` into `dir/report.json`: its path and its JSON.
fn report_in(
    dir: &std::path::Path,
    inventory: &std::path::Path,
    extra: &[&str],
) -> (std::path::PathBuf, Value) {
    let report = dir.join("report.json");
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
    let out = run_binary(&args, dir);
    assert_code(&out, 0);
    let value: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    (report, value)
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

/// A report of over 20,000 items is built by worker threads and hashed as its chunks finish
/// (issue #17): its ContentHash must still be Python's `json.dumps` digest of its content, in
/// order, with escapes (a quote, a backslash, non-ASCII) in a CVE id.
#[test]
fn large_report_hash_equals_pythons() {
    let dir = tempfile::tempdir().unwrap();
    let packages = 24_000;
    let kinds = ["security", "bugfix", "enhancement"];
    let odd = "CVE-caf\u{e9} \"quoted\" back\\slash \u{1f600}";
    let severities = ["Critical", "Important", "Low"];
    let advisories: Vec<Value> = (0..packages / 2)
        .map(|i| {
            serde_json::json!({
                "id": format!("ALAS2023-2024-{i}"),
                "type": kinds[i % kinds.len()],
                "severity": severities[i % 3],
                "issued": "2024-03-01 12:00:00",
                "cves": [format!("CVE-2024-{i}"), format!("CVE-2023-{}", i % 97), odd],
            })
        })
        .collect();
    let installed: Vec<Value> = (0..packages)
        .map(|i| {
            serde_json::json!({"name": format!("pkg{i}"), "arch": "x86_64",
                "version": format!("1.{i}-1.amzn2023"), "installedTime": "2024-01-15T08:00:00Z"})
        })
        .collect();
    let available: Vec<Value> = (0..packages)
        .filter(|i| i % 2 == 0)
        .map(|i| {
            serde_json::json!({"name": format!("pkg{i}"), "arch": "x86_64",
                "version": format!("1.{i}-2.amzn2023"),
                "advisories": [format!("ALAS2023-2024-{}", i / 2)]})
        })
        .collect();
    let inventory = serde_json::json!({
        "operatingSystem": "AMAZON_LINUX_2023", "product": "AmazonLinux2023",
        "packageManager": "dnf", "instanceId": "i-0123456789abcdef0",
        "advisories": advisories, "installed": installed, "available": available,
    });
    let path = dir.path().join("inventory.json");
    std::fs::write(&path, inventory.to_string()).unwrap();
    let (report, value) = report_in(dir.path(), &path, &[]);
    let items = content(&value, 1);
    assert_eq!(items.len(), packages);
    let odd_cves = |i: &Value| i["CVEIds"].as_str().is_some_and(|c| c.contains(odd));
    assert!(items.iter().any(odd_cves));
    let check = Command::new("python3")
        .arg("-c")
        .arg(
            "import hashlib, json, sys\n\
             request = json.load(open(sys.argv[1]))\n\
             for item in request['Items']:\n\
             \x20   digest = hashlib.sha256(json.dumps(item['Content']).encode()).hexdigest()\n\
             \x20   print(item['TypeName'], digest == item['ContentHash'])\n",
        )
        .arg(&report)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(
        stdout,
        "AWS:PatchSummary True\nAWS:ComplianceItem True\n",
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
