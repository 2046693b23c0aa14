//! Output of an evaluation: the PutInventory report (`AWS:PatchSummary` and
//! `AWS:ComplianceItem`, spec §5), the terminal table, and the JSON document.

mod python_json;
mod table;

pub use python_json::python_json_dumps;
pub use table::{render_run, render_table, summary_line};

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::evaluate::{Counts, Evaluation, PackageDecision, Reason};
use crate::model::{Family, PatchState, format_aws_time};
use crate::version::RpmEvr;

/// What a report says beyond the evaluation: who, which run, when.
#[derive(Debug, Clone)]
pub struct ReportContext {
    /// The instance id (`i-…` or `mi-…`).
    pub instance_id: String,
    /// The snapshot id (a UUID).
    pub snapshot_id: String,
    /// The execution id (the SSM command id, else a UUID).
    pub execution_id: String,
    /// The patch group, `""` when none.
    pub patch_group: String,
    /// When the operation started.
    pub start: DateTime<Utc>,
    /// When the operation ended.
    pub end: DateTime<Utc>,
    /// `RebootIfNeeded`, `NoReboot` or `RebootIfRequired`.
    pub reboot_option: String,
    /// The install override list URL of an Install, if any.
    pub install_override_list: Option<String>,
    /// The last `NoReboot` install, if any.
    pub last_no_reboot_install: Option<DateTime<Utc>>,
}

/// The compliance item `Title`: `name.arch:epoch:version-release` (RPM, SUSE) or
/// `name.arch:version` (apt).
pub fn item_title(family: Family, decision: &PackageDecision) -> String {
    match family {
        Family::Apt => format!(
            "{}.{}:{}",
            decision.display_name(),
            decision.arch,
            decision.version()
        ),
        Family::Rpm | Family::Zypper => {
            let evr = RpmEvr::parse(decision.version());
            let release = evr.release().map(|r| format!("-{r}")).unwrap_or_default();
            format!(
                "{}.{}:{}:{}{release}",
                decision.name,
                decision.arch,
                evr.epoch_or_zero(),
                evr.version()
            )
        }
    }
}

/// The lower-case hexadecimal SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(64);
    for byte in Sha256::digest(bytes) {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn string_map(pairs: Vec<(&str, String)>) -> Map<String, Value> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v)))
        .collect()
}

/// The `AWS:PatchSummary` content map, keys in the payload's order, all values strings.
pub fn patch_summary_content(
    evaluation: &Evaluation,
    context: &ReportContext,
) -> Map<String, Value> {
    let counts: Counts = evaluation.counts();
    let mut pairs = vec![
        ("BaselineId", evaluation.baseline_id.to_string()),
        ("PatchGroup", context.patch_group.clone()),
        ("SnapshotId", context.snapshot_id.clone()),
        ("ExecutionId", context.execution_id.clone()),
        ("InstalledCount", counts.installed.to_string()),
        ("InstalledOtherCount", counts.installed_other.to_string()),
        (
            "InstalledRejectedCount",
            counts.installed_rejected.to_string(),
        ),
        (
            "InstalledPendingRebootCount",
            counts.installed_pending_reboot.to_string(),
        ),
        ("NotApplicableCount", counts.not_applicable.to_string()),
        ("MissingCount", counts.missing.to_string()),
        ("FailedCount", counts.failed.to_string()),
        (
            "CriticalNonCompliantCount",
            counts.critical_non_compliant.to_string(),
        ),
        (
            "SecurityNonCompliantCount",
            counts.security_non_compliant.to_string(),
        ),
        (
            "OtherNonCompliantCount",
            counts.other_non_compliant.to_string(),
        ),
        ("OperationType", evaluation.operation.as_str().to_string()),
        ("OperationStartTime", format_aws_time(context.start)),
        ("OperationEndTime", format_aws_time(context.end)),
        ("RebootOption", context.reboot_option.clone()),
    ];
    if let Some(url) = &context.install_override_list {
        pairs.push(("InstallOverrideList", url.clone()));
    }
    if let Some(time) = context.last_no_reboot_install {
        pairs.push(("LastNoRebootInstallOperationTime", format_aws_time(time)));
    }
    if let Some(severity) = evaluation.non_compliant_severity() {
        pairs.push(("NonCompliantSeverity", severity.as_str().to_string()));
    }
    string_map(pairs)
}

/// The `AWS:ComplianceItem` content: one map per reported package, in report order
/// (`NotApplicable` packages are counted, not itemised, as on Linux).
pub fn compliance_content(
    evaluation: &Evaluation,
    context: &ReportContext,
) -> Vec<Map<String, Value>> {
    let family = evaluation.package_manager.family();
    evaluation
        .decisions
        .iter()
        .filter(|d| d.state != PatchState::NotApplicable)
        .map(|d| {
            let status = if d.state.is_non_compliant() {
                "NON_COMPLIANT"
            } else {
                "COMPLIANT"
            };
            let installed_time = match (d.state.shows_installed_version(), d.installed_time()) {
                (true, Some(time)) => format_aws_time(time),
                _ => String::new(),
            };
            let mut pairs = vec![
                ("Id", d.id()),
                ("Title", item_title(family, d)),
                ("Severity", d.compliance.as_str().to_string()),
                ("Status", status.to_string()),
                ("PatchBaselineId", evaluation.baseline_id.to_string()),
                ("PatchState", d.state.as_str().to_string()),
                ("PatchGroup", context.patch_group.clone()),
                ("DocumentName", String::new()),
                ("DocumentVersion", String::new()),
                ("InstalledTime", installed_time),
                ("Classification", d.classification().to_string()),
                ("PatchSeverity", d.patch_severity().to_string()),
            ];
            if matches!(d.state, PatchState::Missing | PatchState::Failed) && family != Family::Apt
            {
                let cves = evaluation.cve_ids(d);
                if !cves.is_empty() {
                    pairs.push(("CVEIds", cves.join(",")));
                }
            }
            if let Some(url) = &context.install_override_list {
                pairs.push(("InstallOverrideList", url.clone()));
            }
            string_map(pairs)
        })
        .collect()
}

/// The `AWS:PatchSummary` inventory item (what `patch-inventory-from-last-operation.json` holds).
pub fn patch_summary_item(evaluation: &Evaluation, context: &ReportContext) -> Value {
    let summary = vec![patch_summary_content(evaluation, context)];
    // Keys in the payload's order (its patch-inventory-from-last-operation.json files).
    json!({
        "TypeName": "AWS:PatchSummary",
        "SchemaVersion": "1.0",
        "ContentHash": sha256_hex(python_json_dumps(&summary).as_bytes()),
        "CaptureTime": format_aws_time(context.end),
        "Content": summary,
    })
}

/// The PutInventory request body: `{"InstanceId": …, "Items": [summary, compliance]}`, which
/// `aws ssm put-inventory --cli-input-json file://FILE` accepts.
pub fn put_inventory_request(evaluation: &Evaluation, context: &ReportContext) -> Value {
    let capture = format_aws_time(context.end);
    let compliance = compliance_content(evaluation, context);
    let compliance_hash = sha256_hex(python_json_dumps(&compliance).as_bytes());
    json!({
        "InstanceId": context.instance_id,
        "Items": [
            patch_summary_item(evaluation, context),
            {
                "TypeName": "AWS:ComplianceItem",
                "SchemaVersion": "1.0",
                "ContentHash": compliance_hash,
                "CaptureTime": capture,
                "Context": {
                    "ComplianceType": "Patch",
                    "ExecutionId": context.snapshot_id,
                    "ExecutionType": "Command",
                    "ExecutionTime": format_aws_time(context.start),
                },
                "Content": compliance,
            }
        ]
    })
}

/// The `--output json` document: the evaluation with counts and a one-line explanation per
/// package (NotApplicable packages included).
pub fn evaluation_json(evaluation: &Evaluation<'_>) -> Value {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Package<'a> {
        #[serde(flatten)]
        decision: &'a PackageDecision<'a>,
        cve_ids: Vec<&'a str>,
        reasons: Vec<Reason<'a>>,
        explanation: String,
    }
    let packages: Vec<Package<'_>> = evaluation
        .decisions
        .iter()
        .map(|decision| Package {
            decision,
            cve_ids: evaluation.cve_ids(decision),
            reasons: evaluation.reasons(decision),
            explanation: evaluation.explanation(decision),
        })
        .collect();
    json!({
        "operatingSystem": evaluation.operating_system.as_aws(),
        "product": evaluation.product,
        "packageManager": evaluation.package_manager,
        "baselineId": evaluation.baseline_id,
        "baselineName": evaluation.baseline_name,
        "now": format_aws_time(evaluation.now),
        "operation": evaluation.operation,
        "compliant": evaluation.is_compliant(),
        "nonCompliantSeverity": evaluation.non_compliant_severity(),
        "counts": evaluation.counts(),
        "packages": packages,
    })
}
