//! Loading baselines: every real AWS baseline (fixtures/aws_baselines, copied from
//! shared/realdata with its PROVENANCE) loads or is refused with its reason, and every validation
//! rule gives a one-line error naming the file, the JSON path and the value.

use patch_baseline::baseline::{ApproveAfter, Baseline, RejectedAction};
use patch_baseline::model::{ComplianceLevel, OperatingSystem};
use serde_json::{Value, json};

use crate::util::repo_root;

fn fixture(name: &str) -> (String, String) {
    let path = repo_root().join("fixtures/aws_baselines").join(name);
    (std::fs::read_to_string(&path).unwrap(), name.to_string())
}

#[test]
fn every_real_baseline_loads_or_is_refused_with_its_reason() {
    let expected: &[(&str, Result<OperatingSystem, &str>)] = &[
        (
            "AWS-AlmaLinuxDefaultPatchBaseline.json",
            Ok(OperatingSystem::AlmaLinux),
        ),
        (
            "AWS-AmazonLinux2022DefaultPatchBaseline.json",
            Ok(OperatingSystem::AmazonLinux2022),
        ),
        (
            "AWS-AmazonLinux2023DefaultPatchBaseline.json",
            Ok(OperatingSystem::AmazonLinux2023),
        ),
        (
            "AWS-AmazonLinux2DefaultPatchBaseline.json",
            Ok(OperatingSystem::AmazonLinux2),
        ),
        (
            "AWS-AmazonLinuxDefaultPatchBaseline.json",
            Ok(OperatingSystem::AmazonLinux),
        ),
        (
            "AWS-CentOSDefaultPatchBaseline.json",
            Ok(OperatingSystem::Centos),
        ),
        (
            "AWS-DebianDefaultPatchBaseline.json",
            Ok(OperatingSystem::Debian),
        ),
        (
            "AWS-OracleLinuxDefaultPatchBaseline.json",
            Ok(OperatingSystem::OracleLinux),
        ),
        (
            "AWS-RaspbianDefaultPatchBaseline.json",
            Ok(OperatingSystem::Raspbian),
        ),
        (
            "AWS-RedHatDefaultPatchBaseline.json",
            Ok(OperatingSystem::RedhatEnterpriseLinux),
        ),
        (
            "AWS-RockyLinuxDefaultPatchBaseline.json",
            Ok(OperatingSystem::RockyLinux),
        ),
        (
            "AWS-SuseDefaultPatchBaseline.json",
            Ok(OperatingSystem::Suse),
        ),
        (
            "AWS-UbuntuDefaultPatchBaseline.json",
            Ok(OperatingSystem::Ubuntu),
        ),
        (
            "awsdoc-cli-create-baseline-custom-repos-AL.json",
            Ok(OperatingSystem::AmazonLinux),
        ),
        (
            "tf-prod-al2023.converted.json",
            Ok(OperatingSystem::AmazonLinux2023),
        ),
        (
            "AWS-DefaultPatchBaseline.json",
            Err("$.OperatingSystem: `WINDOWS` baselines are not supported"),
        ),
        (
            "AWS-WindowsPredefinedPatchBaseline-OS.json",
            Err("$.OperatingSystem: `WINDOWS` baselines are not supported"),
        ),
        (
            "AWS-WindowsPredefinedPatchBaseline-OS-Applications.json",
            Err("$.OperatingSystem: `WINDOWS` baselines are not supported"),
        ),
        (
            "AWS-MacOSDefaultPatchBaseline.json",
            Err("$.OperatingSystem: `MACOS` baselines are not supported"),
        ),
        (
            "awsdoc-cli-get-patch-baseline-windows.json",
            Err("(no OperatingSystem given; AWS defaults to WINDOWS)"),
        ),
        (
            "awsdoc-cli-update-baseline-windows-rejected.json",
            Err("AWS defaults to WINDOWS"),
        ),
        (
            "awsdoc-cli-update-baseline-windows-rename.json",
            Err("AWS defaults to WINDOWS"),
        ),
        (
            "awsdoc-baselineoverride-example.json",
            Err("$: is a JSON array"),
        ),
        (
            "describe-patch-baselines.json",
            Err("$: not a patch baseline"),
        ),
        // Real user baselines with values outside the vocabulary: the service accepted them, so
        // they load (the values are kept and match nothing, see below).
        (
            "cfn-financial-al2.converted.json",
            Ok(OperatingSystem::AmazonLinux2),
        ),
        (
            "tf-linux-security-critical-al2023.converted.json",
            Ok(OperatingSystem::AmazonLinux2023),
        ),
    ];
    let mut files: Vec<String> = std::fs::read_dir(repo_root().join("fixtures/aws_baselines"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        expected.len(),
        "every fixture has an expectation: {files:?}"
    );
    for (name, want) in expected {
        let (text, source) = fixture(name);
        match (Baseline::from_json(&text, &source), want) {
            (Ok(b), Ok(os)) => assert_eq!(b.operating_system, *os, "{name}"),
            (Err(e), Err(part)) => {
                let message = e.to_string();
                assert!(message.starts_with(&format!("{name}: ")), "{message}");
                assert!(message.contains(part), "{name}: {message}");
                assert!(!message.contains('\n'), "one line: {message}");
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

/// AWS accepted these baselines and its engine evaluates them, a value outside the vocabulary
/// matching no package (`baseline_filter.test_package_bean` compares lower-cased membership).
/// We load them, keep the values, and name each one (scan/install/run warn; `baseline
/// validate` refuses).
#[test]
fn values_outside_the_vocabulary_are_kept_and_named() {
    for (name, unknown) in [
        (
            "cfn-financial-al2.converted.json",
            "$.ApprovalRules.PatchRules[0].PatchFilterGroup.PatchFilters[0].Values[2]: `Critical` is not a CLASSIFICATION value",
        ),
        (
            "tf-linux-security-critical-al2023.converted.json",
            "$.ApprovalRules.PatchRules[0].PatchFilterGroup.PatchFilters[0].Values[0]: `CriticalUpdates` is not a CLASSIFICATION value",
        ),
    ] {
        let (text, source) = fixture(name);
        let b = Baseline::from_json(&text, &source).unwrap();
        assert!(!b.unknown_values.is_empty(), "{name}");
        let message = b.unknown_values[0].to_string();
        assert!(message.starts_with(&format!("{name}: ")), "{message}");
        assert!(message.contains(unknown), "{message}");
    }
}

#[test]
fn snapshots_load_with_defaults() {
    for file in [
        "patch-baseline-snapshot.json",
        "patch-baseline-operations_snapshot.json",
    ] {
        let text =
            std::fs::read_to_string(repo_root().join("fixtures/aws_snapshot").join(file)).unwrap();
        let b = Baseline::from_json(&text, file).unwrap();
        assert_eq!(b.operating_system, OperatingSystem::Ubuntu, "{file}");
        assert_eq!(b.id, "pb-0c7e89f711c3095f4");
        assert_eq!(b.rules.len(), 1);
        assert_eq!(b.rules[0].approve, ApproveAfter::Days(7));
        assert_eq!(b.patch_group, "");
    }
    // The payload's defaults for nulls and missing keys (spec §1.3).
    let minimal = json!({"patchBaseline": {"operatingSystem": "AMAZON_LINUX_2", "globalFilters": {"filters": null},
        "approvalRules": {"rules": [{"filterGroup": {"filters": [{"key": "CLASSIFICATION", "values": ["Security"]}]},
            "approveAfterDays": null, "approveUntilDate": null, "complianceLevel": null, "enableNonSecurity": null}]},
        "approvedPatchesComplianceLevel": null, "sources": null, "createdTime": 1525194800.068}, "patchGroup": "web"});
    let b = Baseline::from_json(&minimal.to_string(), "snap.json").unwrap();
    assert_eq!(b.rules[0].approve, ApproveAfter::Days(0));
    assert_eq!(b.rules[0].compliance, ComplianceLevel::Unspecified);
    assert!(!b.rules[0].enable_non_security);
    assert_eq!(b.rejected_action, RejectedAction::AllowAsDependency);
    assert_eq!(b.patch_group, "web");
    let null = Baseline::from_json(r#"{"patchBaseline": null}"#, "snap.json").unwrap_err();
    assert_eq!(
        null.to_string(),
        "snap.json: $.patchBaseline: `patchBaseline` is null: not a valid snapshot"
    );
}

fn valid() -> Value {
    json!({
        "Name": "custom", "OperatingSystem": "AMAZON_LINUX_2",
        "GlobalFilters": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["*"]}]},
        "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]},
            "ComplianceLevel": "HIGH", "ApproveAfterDays": 7}]},
        "ApprovedPatches": [], "RejectedPatches": [], "RejectedPatchesAction": "BLOCK"
    })
}

fn refused(mutate: impl FnOnce(&mut Value)) -> String {
    let mut doc = valid();
    mutate(&mut doc);
    Baseline::from_json(&doc.to_string(), "b.json")
        .unwrap_err()
        .to_string()
}

#[test]
fn every_validation_rule_names_path_and_value() {
    assert!(Baseline::from_json(&valid().to_string(), "b.json").is_ok());
    let rule = "$.ApprovalRules.PatchRules[0]";
    let cases: Vec<(String, Box<dyn FnOnce(&mut Value)>)> = vec![
        (
            "b.json: $.OperatingSystem: unknown OperatingSystem `FEDORA`".into(),
            Box::new(|d| d["OperatingSystem"] = json!("FEDORA")),
        ),
        (
            format!(
                "b.json: {rule}.PatchFilterGroup.PatchFilters[0].Key: filter key `PRIORITY` is not valid for this operating system (valid: PRODUCT, CLASSIFICATION, SEVERITY)"
            ),
            Box::new(|d| {
                d["ApprovalRules"]["PatchRules"][0]["PatchFilterGroup"]["PatchFilters"][0]["Key"] =
                    json!("PRIORITY")
            }),
        ),
        (
            "b.json: $.GlobalFilters.PatchFilters[0].Key: filter key `MSRC_SEVERITY` is not valid"
                .into(),
            Box::new(|d| d["GlobalFilters"]["PatchFilters"][0]["Key"] = json!("MSRC_SEVERITY")),
        ),
        (
            format!("b.json: {rule}.ApproveAfterDays: `361` is outside 0–360"),
            Box::new(|d| d["ApprovalRules"]["PatchRules"][0]["ApproveAfterDays"] = json!(361)),
        ),
        (
            format!("b.json: {rule}.ApproveAfterDays: `-1` is outside 0–360"),
            Box::new(|d| d["ApprovalRules"]["PatchRules"][0]["ApproveAfterDays"] = json!(-1)),
        ),
        (
            format!("b.json: {rule}: gives both ApproveAfterDays and ApproveUntilDate"),
            Box::new(|d| {
                d["ApprovalRules"]["PatchRules"][0]["ApproveUntilDate"] = json!("2024-01-01")
            }),
        ),
        (
            format!("b.json: {rule}: gives neither ApproveAfterDays nor ApproveUntilDate"),
            Box::new(|d| {
                d["ApprovalRules"]["PatchRules"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("ApproveAfterDays");
            }),
        ),
        (
            format!(
                "b.json: {rule}.ApproveUntilDate: `2024-13-01` is not a date of the form YYYY-MM-DD"
            ),
            Box::new(|d| {
                let r = d["ApprovalRules"]["PatchRules"][0].as_object_mut().unwrap();
                r.remove("ApproveAfterDays");
                r.insert("ApproveUntilDate".into(), json!("2024-13-01"));
            }),
        ),
        (
            format!("b.json: {rule}.ApproveAfterDays: invalid type: string \"7\""),
            Box::new(|d| d["ApprovalRules"]["PatchRules"][0]["ApproveAfterDays"] = json!("7")),
        ),
        (
            "b.json: $.ApprovalRules.PatchRules: 11 approval rules; AWS allows at most 10".into(),
            Box::new(|d| {
                let r = d["ApprovalRules"]["PatchRules"][0].clone();
                d["ApprovalRules"]["PatchRules"] = Value::Array(vec![r; 11]);
            }),
        ),
        (
            format!(
                "b.json: {rule}.PatchFilterGroup.PatchFilters: 5 filters; AWS allows at most 4 per group"
            ),
            Box::new(|d| {
                d["ApprovalRules"]["PatchRules"][0]["PatchFilterGroup"]["PatchFilters"] = json!([
                {"Key": "PRODUCT", "Values": ["*"]}, {"Key": "CLASSIFICATION", "Values": ["*"]}, {"Key": "SEVERITY", "Values": ["*"]},
                {"Key": "SEVERITY", "Values": ["*"]}, {"Key": "PRODUCT", "Values": ["*"]}]);
            }),
        ),
        (
            format!(
                "b.json: {rule}.PatchFilterGroup.PatchFilters[1].Key: filter key `CLASSIFICATION` appears twice in one group"
            ),
            Box::new(|d| {
                d["ApprovalRules"]["PatchRules"][0]["PatchFilterGroup"]["PatchFilters"] = json!([
                {"Key": "CLASSIFICATION", "Values": ["Security"]}, {"Key": "CLASSIFICATION", "Values": ["Bugfix"]}]);
            }),
        ),
        (
            "b.json: $.GlobalFilters.PatchFilters[0].Values: 21 values; AWS requires 1 to 20"
                .into(),
            Box::new(|d| {
                d["GlobalFilters"]["PatchFilters"][0]["Values"] = Value::Array(vec![json!("*"); 21])
            }),
        ),
        (
            "b.json: $.GlobalFilters.PatchFilters[0].Values: 0 values".into(),
            Box::new(|d| d["GlobalFilters"]["PatchFilters"][0]["Values"] = json!([])),
        ),
        (
            "b.json: $.ApprovedPatches: 51 entries; AWS allows at most 50".into(),
            Box::new(|d| d["ApprovedPatches"] = Value::Array(vec![json!("x"); 51])),
        ),
        (
            "b.json: $.RejectedPatches: 51 entries; AWS allows at most 50".into(),
            Box::new(|d| d["RejectedPatches"] = Value::Array(vec![json!("x"); 51])),
        ),
        (
            "b.json: $.RejectedPatches[0]: `` must be 1 to 100 characters".into(),
            Box::new(|d| d["RejectedPatches"] = json!([""])),
        ),
        (
            "b.json: $.RejectedPatchesAction: unknown RejectedPatchesAction `DENY`".into(),
            Box::new(|d| d["RejectedPatchesAction"] = json!("DENY")),
        ),
        (
            format!("b.json: {rule}.ComplianceLevel: unknown ComplianceLevel `SEVERE`"),
            Box::new(|d| d["ApprovalRules"]["PatchRules"][0]["ComplianceLevel"] = json!("SEVERE")),
        ),
        (
            "b.json: $.ApprovedPatchesComplianceLevel: unknown ComplianceLevel `high`".into(),
            Box::new(|d| d["ApprovedPatchesComplianceLevel"] = json!("high")),
        ),
        (
            "b.json: $.OperatingSystem: `WINDOWS` baselines are not supported".into(),
            Box::new(|d| d["OperatingSystem"] = json!("WINDOWS")),
        ),
        (
            "b.json: $.Sources[0].Name: source name `x` must match".into(),
            Box::new(|d| {
                d["Sources"] = json!([{"Name": "x", "Products": ["*"], "Configuration": "[x]"}])
            }),
        ),
        (
            "b.json: $.CreatedDate: `\"yesterday\"` is not a timestamp".into(),
            Box::new(|d| d["CreatedDate"] = json!("yesterday")),
        ),
    ];
    for (want, mutate) in cases {
        let got = refused(mutate);
        assert!(
            got.starts_with(&want),
            "want prefix:\n  {want}\ngot:\n  {got}"
        );
        assert!(!got.contains('\n'));
    }
    let e = Baseline::from_json("{\"Name\": ", "b.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("b.json: line 1 column 9: not valid JSON"),
        "{e}"
    );
    // Snapshot-shape errors use the snapshot's own key names.
    let snap = json!({"patchBaseline": {"operatingSystem": "UBUNTU", "approvalRules": {"rules": [
        {"filterGroup": {"filters": [{"key": "SEVERITY", "values": ["Critical"]}]}, "approveAfterDays": 7}]}}});
    let e = Baseline::from_json(&snap.to_string(), "s.json")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("s.json: $.patchBaseline.approvalRules.rules[0].filterGroup.filters[0].key: filter key `SEVERITY`"), "{e}");
    let snap = json!({"patchBaseline": {"operatingSystem": "UBUNTU", "approvalRules": {"rules": [{"approveAfterDays": "x"}]}}});
    let e = Baseline::from_json(&snap.to_string(), "s.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "s.json: $.patchBaseline.approvalRules.rules[0].approveAfterDays: invalid type"
        ),
        "{e}"
    );
}

#[test]
fn truncated_and_mangled_input_never_panics() {
    let text = valid().to_string();
    for end in 0..text.len() {
        let _ = Baseline::from_json(&text[..end], "cut.json");
    }
    let snapshot = std::fs::read_to_string(
        repo_root().join("fixtures/aws_snapshot/patch-baseline-snapshot.json"),
    )
    .unwrap();
    let bytes = snapshot.as_bytes();
    for i in (0..bytes.len()).step_by(3) {
        for replacement in [b'0', b'"', b'}', b'[', b'-'] {
            let mut mangled = bytes.to_vec();
            mangled[i] = replacement;
            let _ = Baseline::from_json(&String::from_utf8_lossy(&mangled), "mangled.json");
        }
    }
}

#[test]
fn a_fingerprint_ignores_shape_and_layout_and_sees_every_decision() {
    let load = |path: &str| {
        let text = std::fs::read_to_string(crate::util::repo_root().join(path)).unwrap();
        Baseline::from_json(&text, path).unwrap()
    };
    // The same AWS baseline fetched as a snapshot and as the API's GetPatchBaseline answer.
    let snapshot = load("fixtures/aws_snapshot/patch-baseline-snapshot.json");
    let api = load("fixtures/aws_baselines/AWS-UbuntuDefaultPatchBaseline.json");
    assert_eq!(snapshot.name, api.name);
    assert_eq!(snapshot.fingerprint(), api.fingerprint());
    assert_eq!(snapshot.fingerprint().len(), 64);
    // Re-indented, keys reordered, another description: the same fingerprint.
    let base = valid();
    let mut shuffled = serde_json::Map::new();
    for (key, value) in base.as_object().unwrap().iter().rev() {
        shuffled.insert(key.clone(), value.clone());
    }
    shuffled.insert("Description".into(), "edited".into());
    let fingerprint = |value: &Value| {
        Baseline::from_json(&serde_json::to_string_pretty(value).unwrap(), "b.json")
            .unwrap()
            .fingerprint()
    };
    let original = fingerprint(&base);
    assert_eq!(fingerprint(&Value::Object(shuffled)), original);
    // Any change to what decides changes it.
    let changes: Vec<Box<dyn Fn(&mut Value)>> = vec![
        Box::new(|b| b["ApprovalRules"]["PatchRules"][0]["ApproveAfterDays"] = 8.into()),
        Box::new(|b| b["ApprovalRules"]["PatchRules"][0]["EnableNonSecurity"] = true.into()),
        Box::new(|b| b["RejectedPatches"] = serde_json::json!(["openssl"])),
        Box::new(|b| b["ApprovedPatches"] = serde_json::json!(["curl"])),
        Box::new(|b| b["RejectedPatchesAction"] = "ALLOW_AS_DEPENDENCY".into()),
    ];
    for (index, change) in changes.iter().enumerate() {
        let mut changed = base.clone();
        change(&mut changed);
        assert_ne!(fingerprint(&changed), original, "change {index}");
    }
}
