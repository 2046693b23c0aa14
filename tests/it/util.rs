//! Helpers: evaluate JSON fixtures through the library, and run the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use patch_baseline::baseline::Baseline;
use patch_baseline::evaluate::{EvaluateOptions, Evaluation, Operation, PackageDecision, evaluate};
use patch_baseline::inventory::Inventory;
use patch_baseline::model::PatchState;
use patch_baseline::pattern::InstallOverrideList;
use serde_json::{Value, json};

/// The fixed "now" of the table tests.
pub const NOW: &str = "2024-06-01T00:00:00Z";

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc)
}

/// A time `days` days and `seconds` seconds before NOW, in the inventory's RFC 3339 form.
pub fn ago(days: i64, seconds: i64) -> String {
    (now() - chrono::Duration::days(days) - chrono::Duration::seconds(seconds)).to_rfc3339()
}

/// A baseline in API shape with the given OS and rules, and overrides merged in.
pub fn baseline(os: &str, rules: Value, extra: Value) -> Baseline {
    let mut doc = json!({
        "BaselineId": "pb-0123456789abcdef0",
        "Name": "test-baseline",
        "OperatingSystem": os,
        "GlobalFilters": {"PatchFilters": []},
        "ApprovalRules": {"PatchRules": rules},
        "ApprovedPatches": [],
        "RejectedPatches": [],
    });
    if let (Some(target), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            target.insert(k.clone(), v.clone());
        }
    }
    Baseline::from_json(&doc.to_string(), "test-baseline.json").unwrap()
}

/// One rule in API shape.
pub fn rule(filters: Value, days: i64, compliance: &str, non_security: bool) -> Value {
    let filters: Vec<Value> = filters
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| json!({"Key": k, "Values": v}))
        .collect();
    json!({"PatchFilterGroup": {"PatchFilters": filters}, "ApproveAfterDays": days,
           "ComplianceLevel": compliance, "EnableNonSecurity": non_security})
}

/// Builds an inventory from its parts.
pub fn inventory(
    os: &str,
    product: &str,
    pm: &str,
    advisories: Value,
    installed: Value,
    available: Value,
) -> Inventory {
    let doc = json!({"operatingSystem": os, "product": product, "packageManager": pm,
        "advisories": advisories, "installed": installed, "available": available});
    Inventory::from_json(&doc.to_string(), "test-inventory.json").unwrap()
}

pub fn run_scan<'a>(inventory: &'a Inventory, baseline: &'a Baseline) -> Evaluation<'a> {
    run_with(inventory, baseline, Operation::Scan, None)
}

pub fn run_with<'a>(
    inventory: &'a Inventory,
    baseline: &'a Baseline,
    operation: Operation,
    override_list: Option<&InstallOverrideList>,
) -> Evaluation<'a> {
    let evaluation = evaluate(
        inventory,
        baseline,
        &EvaluateOptions {
            now: now(),
            operation,
            override_list,
            deferred: &[],
        },
    )
    .unwrap();
    if override_list.is_none() {
        assert_traces_agree(&evaluation);
    }
    evaluation
}

/// Every decision's `explain` trace agrees with the decision: the newest version the trace
/// finds approved is the one the decision took, with the same compliance level; with none,
/// the package is InstalledOther (or InstalledRejected). Every evaluation the table tests make
/// goes through this check.
pub fn assert_traces_agree(evaluation: &Evaluation) {
    for decision in &evaluation.decisions {
        let trace = evaluation.trace(decision);
        let first = trace.versions.iter().find(|v| v.approved);
        let context = || format!("{}: {:#?}", decision.id(), trace);
        match decision.state {
            PatchState::InstalledRejected => continue,
            PatchState::InstalledPendingReboot if first.is_none() => continue,
            PatchState::InstalledOther => assert!(first.is_none(), "{}", context()),
            _ => {
                let first = first.unwrap_or_else(|| panic!("no approved version: {}", context()));
                assert!(first.chosen, "not the chosen version: {}", context());
                assert_eq!(
                    trace.versions.iter().filter(|v| v.chosen).count(),
                    1,
                    "{}",
                    context()
                );
                if let Some(approved) = decision.approved_version() {
                    assert_eq!(first.version, approved, "{}", context());
                }
                assert_eq!(first.compliance, decision.compliance, "{}", context());
            }
        }
    }
}

pub fn decision<'e>(evaluation: &'e Evaluation<'e>, name: &str) -> &'e PackageDecision<'e> {
    evaluation
        .decisions
        .iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no decision for {name}: {:#?}", evaluation.decisions))
}

/// The reasons of the named package's decision.
pub fn reasons<'e>(
    evaluation: &'e Evaluation<'e>,
    name: &str,
) -> Vec<patch_baseline::evaluate::Reason<'e>> {
    evaluation.reasons(decision(evaluation, name))
}

/// Asserts the state of each named package, printing the explanation on failure.
pub fn assert_states(evaluation: &Evaluation, expected: &[(&str, PatchState)]) {
    for (name, state) in expected {
        let d = decision(evaluation, name);
        assert_eq!(d.state, *state, "{name}: {}", evaluation.explanation(d));
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_patch-baseline"))
}

pub fn run_binary(args: &[&str], cwd: &Path) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(cwd)
        .env("LC_ALL", "C")
        .env_remove("AWS_SSM_INSTANCE_ID")
        .env_remove("SSM_COMMAND_ID")
        .output()
        .unwrap()
}

/// Asserts a process's exit code, showing its stderr when it differs.
pub fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a Python script (`python3 -c`) with arguments; it must succeed.
pub fn python(script: &str, args: &[&std::ffi::OsStr]) -> Output {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 (scripts/test installs it)");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SHA-256 of the file at `path`, in lowercase hex.
pub fn sha256_file(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap())
}

/// The built binary as `patch-baseline VERB --root ROOT --output json ARGS…` under `LC_ALL=C`,
/// with `env` set in order (a later entry wins).
pub fn root_command<K, V>(
    verb: &str,
    root: &Path,
    args: &[&str],
    env: impl IntoIterator<Item = (K, V)>,
) -> Output
where
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    Command::new(binary())
        .arg(verb)
        .arg("--root")
        .arg(root)
        .args(["--output", "json"])
        .args(args)
        .env("LC_ALL", "C")
        .envs(env)
        .output()
        .unwrap()
}

/// `tar -czf TARBALL -C STAGE FILE`; returns the tarball's SHA-256.
pub fn tar_gz(tarball: &Path, stage: &Path, file: &str) -> String {
    let out = Command::new("tar")
        .arg("-czf")
        .arg(tarball)
        .arg("-C")
        .arg(stage)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sha256_file(tarball)
}
