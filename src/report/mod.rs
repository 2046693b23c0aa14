//! Output of an evaluation: the PutInventory report (`AWS:PatchSummary` and
//! `AWS:ComplianceItem`, spec §5), the terminal table, the JSON document, the HTML page and the
//! Prometheus metrics.

mod explain;
mod html;
mod prometheus;
mod python_json;
mod table;

pub use explain::render_explain;
pub use html::{escape_html, render_html};
pub use prometheus::{escape_label_value, render_prometheus};
pub use python_json::{ContentHasher, python_json_dumps, python_json_sha256};
pub use table::{most_severe_first, render_run, render_table, summary_line};

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::evaluate::{Counts, Evaluation, PackageDecision, Reason};
use crate::model::{ComplianceLevel, Family, PatchState, format_aws_time};
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

/// `text` with every character `escape` maps replaced by its mapping (borrowed when there is
/// none): the escaping of the HTML page and of the metrics' label values.
pub(crate) fn escape_chars(
    text: &str,
    escape: impl Fn(char) -> Option<&'static str>,
) -> Cow<'_, str> {
    if !text.chars().any(|c| escape(c).is_some()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match escape(c) {
            Some(replacement) => out.push_str(replacement),
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The counts per state, in the order reports list them.
pub fn state_counts(counts: &Counts) -> [(PatchState, usize); 7] {
    [
        (PatchState::Installed, counts.installed),
        (PatchState::InstalledOther, counts.installed_other),
        (PatchState::InstalledRejected, counts.installed_rejected),
        (
            PatchState::InstalledPendingReboot,
            counts.installed_pending_reboot,
        ),
        (PatchState::Missing, counts.missing),
        (PatchState::Failed, counts.failed),
        (PatchState::NotApplicable, counts.not_applicable),
    ]
}

/// The non-compliant packages per compliance level, `UNSPECIFIED` to `CRITICAL`.
pub fn non_compliant_by_level(evaluation: &Evaluation<'_>) -> [(ComplianceLevel, usize); 6] {
    let mut levels = [
        (ComplianceLevel::Unspecified, 0),
        (ComplianceLevel::Informational, 0),
        (ComplianceLevel::Low, 0),
        (ComplianceLevel::Medium, 0),
        (ComplianceLevel::High, 0),
        (ComplianceLevel::Critical, 0),
    ];
    for decision in evaluation
        .decisions
        .iter()
        .filter(|d| d.state.is_non_compliant())
    {
        for (level, count) in &mut levels {
            if *level == decision.compliance {
                *count += 1;
            }
        }
    }
    levels
}

/// The compliance item `Title`: `name.arch:epoch:version-release` (RPM, SUSE) or
/// `name.arch:version` (apt).
pub fn item_title(family: Family, decision: &PackageDecision) -> String {
    match family {
        Family::Apt => {
            let name = decision.display_name();
            let version = decision.version();
            let mut title =
                String::with_capacity(name.len() + decision.arch.len() + version.len() + 2);
            for part in [&name, ".", decision.arch, ":", version] {
                title.push_str(part);
            }
            title
        }
        Family::Rpm | Family::Zypper => {
            let evr = RpmEvr::parse(decision.version());
            let mut title = String::with_capacity(
                decision.name.len() + decision.arch.len() + decision.version().len() + 6,
            );
            for part in [
                decision.name,
                ".",
                decision.arch,
                ":",
                evr.epoch_or_zero(),
                ":",
                evr.version(),
            ] {
                title.push_str(part);
            }
            if let Some(release) = evr.release() {
                title.push('-');
                title.push_str(release);
            }
            title
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

/// One entry of the `AWS:ComplianceItem` content (spec §5.3): a reported package, its values
/// in the payload's key order. [`ComplianceEntry::pairs`] is the map PutInventory receives.
#[derive(Debug, Clone)]
pub struct ComplianceEntry<'r> {
    /// `Id`: `name.arch`.
    pub id: String,
    /// `Title`: see [`item_title`].
    pub title: String,
    /// `Severity`: the baseline's compliance level of the package.
    pub severity: &'static str,
    /// `Status`: `COMPLIANT` or `NON_COMPLIANT`.
    pub status: &'static str,
    /// `PatchBaselineId`.
    pub patch_baseline_id: &'r str,
    /// `PatchState`.
    pub patch_state: &'static str,
    /// `PatchGroup`, `""` when none.
    pub patch_group: &'r str,
    /// `InstalledTime`, `""` unless the state shows the installed version and its time is known.
    pub installed_time: String,
    /// `Classification`.
    pub classification: Cow<'r, str>,
    /// `PatchSeverity`.
    pub patch_severity: Cow<'r, str>,
    /// `CVEIds`, comma-separated; only for a Missing or Failed RPM or SUSE package that has some.
    pub cve_ids: Option<String>,
    /// `InstallOverrideList`: the list's URL, on an Install that had one.
    pub install_override_list: Option<&'r str>,
}

impl ComplianceEntry<'_> {
    /// The entry as PutInventory's string map: `(key, value)` in the payload's order.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("Id", self.id.as_str()),
            ("Title", &self.title),
            ("Severity", self.severity),
            ("Status", self.status),
            ("PatchBaselineId", self.patch_baseline_id),
            ("PatchState", self.patch_state),
            ("PatchGroup", self.patch_group),
            ("DocumentName", ""),
            ("DocumentVersion", ""),
            ("InstalledTime", &self.installed_time),
            ("Classification", &self.classification),
            ("PatchSeverity", &self.patch_severity),
        ]
        .into_iter()
        .chain(self.cve_ids.as_deref().map(|cves| ("CVEIds", cves)))
        .chain(
            self.install_override_list
                .map(|url| ("InstallOverrideList", url)),
        )
    }
}

impl Serialize for ComplianceEntry<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.pairs() {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The `AWS:ComplianceItem` content: one entry per reported package, in report order
/// (`NotApplicable` packages are counted, not itemised, as on Linux).
pub fn compliance_content<'r>(
    evaluation: &'r Evaluation<'_>,
    context: &'r ReportContext,
) -> Vec<ComplianceEntry<'r>> {
    evaluation
        .decisions
        .iter()
        .filter(|d| d.state != PatchState::NotApplicable)
        .map(|d| compliance_entry(evaluation, context, d))
        .collect()
}

/// The compliance entry of one decision.
fn compliance_entry<'r>(
    evaluation: &'r Evaluation<'_>,
    context: &'r ReportContext,
    d: &'r PackageDecision<'_>,
) -> ComplianceEntry<'r> {
    let family = evaluation.package_manager.family();
    let status = if d.state.is_non_compliant() {
        "NON_COMPLIANT"
    } else {
        "COMPLIANT"
    };
    let installed_time = match (d.state.shows_installed_version(), d.installed_time()) {
        (true, Some(time)) => format_aws_time(time),
        _ => String::new(),
    };
    let cve_ids =
        if matches!(d.state, PatchState::Missing | PatchState::Failed) && family != Family::Apt {
            let cves = evaluation.cve_ids(d);
            (!cves.is_empty()).then(|| cves.join(","))
        } else {
            None
        };
    ComplianceEntry {
        id: d.id(),
        title: item_title(family, d),
        severity: d.compliance.as_str(),
        status,
        patch_baseline_id: evaluation.baseline_id,
        patch_state: d.state.as_str(),
        patch_group: &context.patch_group,
        installed_time,
        classification: d.classification(),
        patch_severity: d.patch_severity(),
        cve_ids,
        install_override_list: context.install_override_list.as_deref(),
    }
}

/// Reports of at least this many entries are built by worker threads.
const PARALLEL_ENTRIES: usize = 20_000;
/// Entries per piece of work of a worker thread.
const CHUNK_ENTRIES: usize = 2_048;

/// [`compliance_content`] and its content hash. A large report is built in chunks by worker
/// threads while this thread hashes the finished chunks in order, so the hash (which cannot be
/// split) overlaps the building.
fn compliance_content_hashed<'r>(
    evaluation: &'r Evaluation<'_>,
    context: &'r ReportContext,
) -> (Vec<ComplianceEntry<'r>>, String) {
    let reported: Vec<&PackageDecision<'_>> = evaluation
        .decisions
        .iter()
        .filter(|d| d.state != PatchState::NotApplicable)
        .collect();
    let mut hasher = ContentHasher::new();
    let workers = if reported.len() >= PARALLEL_ENTRIES {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
    } else {
        1
    };
    if workers < 2 {
        let entries = compliance_content(evaluation, context);
        for entry in &entries {
            hasher.push(entry.pairs());
        }
        return (entries, hasher.finish());
    }
    let chunks: Vec<&[&PackageDecision<'_>]> = reported.chunks(CHUNK_ENTRIES).collect();
    let mut built: Vec<Option<Vec<ComplianceEntry<'r>>>> =
        (0..chunks.len()).map(|_| None).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (send, receive) = std::sync::mpsc::channel();
        for _ in 0..workers {
            let (send, chunks, next) = (send.clone(), &chunks, &next);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(chunk) = chunks.get(index) else {
                        break;
                    };
                    let entries: Vec<ComplianceEntry<'r>> = chunk
                        .iter()
                        .map(|d| compliance_entry(evaluation, context, d))
                        .collect();
                    if send.send((index, entries)).is_err() {
                        break;
                    }
                }
            });
        }
        // The loop ends when every worker has ended (a panicking one too: the scope then
        // re-raises its panic).
        drop(send);
        let mut unhashed = 0;
        for (index, entries) in receive {
            built[index] = Some(entries);
            while let Some(Some(entries)) = built.get(unhashed) {
                for entry in entries {
                    hasher.push(entry.pairs());
                }
                unhashed += 1;
            }
        }
    });
    let entries = built.into_iter().flatten().flatten().collect();
    (entries, hasher.finish())
}

/// The `AWS:PatchSummary` inventory item (what `patch-inventory-from-last-operation.json` holds).
pub fn patch_summary_item(evaluation: &Evaluation, context: &ReportContext) -> Value {
    let summary = vec![patch_summary_content(evaluation, context)];
    // Keys in the payload's order (its patch-inventory-from-last-operation.json files).
    json!({
        "TypeName": "AWS:PatchSummary",
        "SchemaVersion": "1.0",
        "ContentHash": python_json_sha256(&summary),
        "CaptureTime": format_aws_time(context.end),
        "Content": summary,
    })
}

/// The PutInventory request body: `{"InstanceId": …, "Items": [summary, compliance]}`, which
/// serialises to the JSON the payload sends (keys in its order). The compliance content stays
/// typed, so that building a request of 100,000 items takes no 1.2 million JSON strings.
#[derive(Debug, Clone)]
pub struct PutInventoryRequest<'r> {
    /// `InstanceId`.
    pub instance_id: &'r str,
    /// The `AWS:PatchSummary` item (see [`patch_summary_item`]).
    pub summary: Value,
    /// The `AWS:ComplianceItem` item.
    pub compliance: ComplianceItem<'r>,
}

/// The `AWS:ComplianceItem` inventory item of a request.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceItem<'r> {
    /// `TypeName`: `AWS:ComplianceItem`.
    #[serde(rename = "TypeName")]
    pub type_name: &'static str,
    /// `SchemaVersion`: `1.0`.
    #[serde(rename = "SchemaVersion")]
    pub schema_version: &'static str,
    /// `ContentHash`: the SHA-256 of the content as Python's `json.dumps` writes it (spec §5.4).
    #[serde(rename = "ContentHash")]
    pub content_hash: String,
    /// `CaptureTime`: when the operation ended.
    #[serde(rename = "CaptureTime")]
    pub capture_time: String,
    /// `Context`.
    #[serde(rename = "Context")]
    pub context: ComplianceContext<'r>,
    /// `Content`.
    #[serde(rename = "Content")]
    pub content: Vec<ComplianceEntry<'r>>,
}

/// The `Context` of the compliance item.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceContext<'r> {
    /// `ComplianceType`: `Patch`.
    #[serde(rename = "ComplianceType")]
    pub compliance_type: &'static str,
    /// `ExecutionId`: the snapshot id, as the payload sends it.
    #[serde(rename = "ExecutionId")]
    pub execution_id: &'r str,
    /// `ExecutionType`: `Command`.
    #[serde(rename = "ExecutionType")]
    pub execution_type: &'static str,
    /// `ExecutionTime`: when the operation started.
    #[serde(rename = "ExecutionTime")]
    pub execution_time: String,
}

impl Serialize for PutInventoryRequest<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Body<'b, 'r> {
            #[serde(rename = "InstanceId")]
            instance_id: &'b str,
            #[serde(rename = "Items")]
            items: (&'b Value, &'b ComplianceItem<'r>),
        }
        Body {
            instance_id: self.instance_id,
            items: (&self.summary, &self.compliance),
        }
        .serialize(serializer)
    }
}

/// The PutInventory request of an evaluation.
pub fn put_inventory_request<'r>(
    evaluation: &'r Evaluation<'_>,
    context: &'r ReportContext,
) -> PutInventoryRequest<'r> {
    let (entries, content_hash) = compliance_content_hashed(evaluation, context);
    PutInventoryRequest {
        instance_id: &context.instance_id,
        summary: patch_summary_item(evaluation, context),
        compliance: ComplianceItem {
            type_name: "AWS:ComplianceItem",
            schema_version: "1.0",
            content_hash,
            capture_time: format_aws_time(context.end),
            context: ComplianceContext {
                compliance_type: "Patch",
                execution_id: &context.snapshot_id,
                execution_type: "Command",
                execution_time: format_aws_time(context.start),
            },
            content: entries,
        },
    }
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
