//! Benchmark: evaluate a synthetic 100,000-package inventory against a 10-rule baseline.
//!
//! Prints the time of `evaluate` (best and median of several runs), of loading the inventory from
//! JSON and of building the PutInventory report, and the process's peak RSS (VmHWM) in MB.
//! Targets (issue #2): evaluate under 150 ms and peak memory under 100 MB on a 2-core machine.
//! Also the size of the run history's records (issue #18) for that inventory: the first one, one
//! with nothing changed, and one a day later. Run with `cargo bench --bench evaluate`.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap
)]

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use patch_baseline::baseline::Baseline;
use patch_baseline::evaluate::{EvaluateOptions, Operation, evaluate};
use patch_baseline::inventory::{Advisory, AvailableVersion, InstalledPackage, Inventory};
use patch_baseline::model::{OperatingSystem, PackageManagerKind};
use patch_baseline::report::{ReportContext, put_inventory_request};
use serde_json::{Value, json};

const PACKAGES: usize = 100_000;
const ADVISORIES: usize = 20_000;

fn synthetic_inventory(now: DateTime<Utc>) -> Inventory {
    let kinds = [
        "security",
        "bugfix",
        "enhancement",
        "security",
        "newpackage",
    ];
    let severities = ["Critical", "Important", "Moderate", "Low", "None"];
    let advisories: Vec<Advisory> = (0..ADVISORIES)
        .map(|i| Advisory {
            id: compact_str::format_compact!("ALAS2023-2026-{i:05}"),
            kind: kinds[i % kinds.len()].to_string(),
            severity: Some(severities[(i / 5) % severities.len()].to_string()),
            issued: Some(now - chrono::Duration::days((i % 40) as i64)),
            cves: vec![format!("CVE-2026-{i:05}")],
            ..Advisory::default()
        })
        .collect();
    let installed_time = Some(now - chrono::Duration::days(300));
    let mut installed = Vec::with_capacity(PACKAGES);
    let mut available = Vec::with_capacity(PACKAGES * 4 / 3);
    let version = |name: &str, v: String, advisory: usize| AvailableVersion {
        name: name.into(),
        arch: "x86_64".into(),
        version: v.into(),
        advisories: vec![compact_str::format_compact!(
            "ALAS2023-2026-{:05}",
            advisory % ADVISORIES
        )],
        build_time: None,
        origins: Vec::new(),
        priority: None,
        section: None,
        repository: None,
    };
    for i in 0..PACKAGES {
        let name = format!("pkg{i:06}-lib");
        installed.push(InstalledPackage {
            name: name.as_str().into(),
            arch: "x86_64".into(),
            version: compact_str::format_compact!(
                "1:{}.{}.0-1.amzn2023.0.{}",
                i % 7,
                i % 13,
                i % 5
            ),
            installed_time,
            held: false,
            priority: None,
            section: None,
        });
        available.push(version(
            &name,
            format!("1:{}.{}.0-1.amzn2023.0.{}", i % 7, i % 13, i % 5 + 1),
            i,
        ));
        if i % 3 == 0 {
            available.push(version(
                &name,
                format!("1:{}.{}.1-1.amzn2023", i % 7, i % 13),
                i * 7,
            ));
        }
    }
    Inventory {
        operating_system: OperatingSystem::AmazonLinux2023,
        product: "AmazonLinux2023".into(),
        package_manager: PackageManagerKind::Dnf,
        instance_id: Some("i-0123456789abcdef0".into()),
        advisories,
        installed,
        available,
        pending_reboot: Vec::new(),
        hidden: Vec::new(),
        native_architecture: None,
        sources: Vec::new(),
        not_installed: patch_baseline::inventory::NotInstalled::default(),
    }
}

fn ten_rule_baseline() -> Baseline {
    let rules: Vec<Value> = [
        (json!([["CLASSIFICATION", ["Security"]], ["SEVERITY", ["Critical"]]]), 0, "CRITICAL"),
        (json!([["CLASSIFICATION", ["Security"]], ["SEVERITY", ["Important"]]]), 3, "HIGH"),
        (json!([["CLASSIFICATION", ["Security"]], ["SEVERITY", ["Moderate", "Medium"]]]), 7, "MEDIUM"),
        (json!([["CLASSIFICATION", ["Security"]], ["SEVERITY", ["Low"]]]), 14, "LOW"),
        (json!([["CLASSIFICATION", ["Bugfix"]]]), 7, "LOW"),
        (json!([["CLASSIFICATION", ["Enhancement"]], ["SEVERITY", ["Low", "None"]]]), 30, "INFORMATIONAL"),
        (json!([["CLASSIFICATION", ["Newpackage"]]]), 21, "INFORMATIONAL"),
        (json!([["PRODUCT", ["AmazonLinux2023"]], ["CLASSIFICATION", ["Recommended"]]]), 7, "LOW"),
        (json!([["PRODUCT", ["*"]], ["SEVERITY", ["Critical", "Important"]]]), 1, "HIGH"),
        (json!([["CLASSIFICATION", ["*"]], ["SEVERITY", ["*"]]]), 60, "UNSPECIFIED"),
    ]
    .into_iter()
    .map(|(filters, days, level)| {
        let filters: Vec<Value> = filters
            .as_array()
            .unwrap()
            .iter()
            .map(|f| json!({"Key": f[0], "Values": f[1]}))
            .collect();
        json!({"PatchFilterGroup": {"PatchFilters": filters}, "ApproveAfterDays": days, "ComplianceLevel": level})
    })
    .collect();
    let doc = json!({"Name": "bench-10-rules", "BaselineId": "pb-0123456789abcdef0", "OperatingSystem": "AMAZON_LINUX_2023",
        "GlobalFilters": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["*"]}]},
        "ApprovalRules": {"PatchRules": rules},
        "ApprovedPatches": ["pkg00001*", "CVE-2026-00042"], "RejectedPatches": ["pkg0999*", "pkg000123-lib"],
        "RejectedPatchesAction": "BLOCK"});
    Baseline::from_json(&doc.to_string(), "bench").unwrap()
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-22T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let inventory = synthetic_inventory(now);
    let inventory_rss = peak_rss_mb();
    let baseline = ten_rule_baseline();
    let options = EvaluateOptions {
        now,
        operation: Operation::Scan,
        override_list: None,
        deferred: &[],
    };
    let mut times = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let result = evaluate(&inventory, &baseline, &options).unwrap();
        times.push(started.elapsed());
        drop(result);
    }
    times.sort();
    let evaluation = evaluate(&inventory, &baseline, &options).unwrap();
    let peak = peak_rss_mb();
    let counts = evaluation.counts();
    println!(
        "inventory: {} installed, {} available versions, {} advisories; baseline: {} rules",
        inventory.installed.len(),
        inventory.available.len(),
        inventory.advisories.len(),
        baseline.rules.len()
    );
    println!(
        "decisions: {} (missing {}, installed {}, installed-other {}, installed-rejected {})",
        evaluation.decisions.len(),
        counts.missing,
        counts.installed,
        counts.installed_other,
        counts.installed_rejected
    );
    println!(
        "evaluate: best {:.1} ms, median {:.1} ms (target < 150 ms)",
        ms(times[0]),
        ms(times[times.len() / 2])
    );
    println!(
        "peak RSS (VmHWM) with the inventory and one evaluation held: {peak:.1} MB (target < 100 MB; \
         the inventory alone: {inventory_rss:.1} MB)"
    );

    // Outside the targets: the JSON round trip of `evaluate --inventory` and the report.
    let context = ReportContext {
        instance_id: "i-0123456789abcdef0".into(),
        snapshot_id: "7c64b8b8-1274-47db-8f0d-e26f6c0aae7b".into(),
        execution_id: "x".into(),
        patch_group: String::new(),
        start: now,
        end: now,
        reboot_option: "RebootIfNeeded".into(),
        install_override_list: None,
        last_no_reboot_install: None,
    };
    let mut report_times = Vec::new();
    let mut items = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let report = put_inventory_request(&evaluation, &context);
        report_times.push(started.elapsed());
        items = report.compliance.content.len();
    }
    report_times.sort();
    history_sizes(&inventory, &baseline, &evaluation, &context);
    drop(evaluation);
    let text = serde_json::to_string(&inventory).unwrap();
    let mut load_times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let loaded = Inventory::from_json(&text, "synthetic").unwrap();
        load_times.push(started.elapsed());
        assert_eq!(loaded.installed.len(), inventory.installed.len());
    }
    load_times.sort();
    println!(
        "build PutInventory report ({items} items, content hash included): best {:.1} ms, median {:.1} ms (target < 150 ms)",
        ms(report_times[0]),
        ms(report_times[2]),
    );
    println!(
        "load the inventory from JSON ({:.1} MB): best {:.1} ms, median {:.1} ms (target < 150 ms)",
        text.len() as f64 / 1e6,
        ms(load_times[0]),
        ms(load_times[2]),
    );
}

/// The history records of three runs on the synthetic inventory: the first (its tracked set
/// goes to the base file), the same evaluation again (nothing changed), and one a day later
/// (what aged in).
fn history_sizes(
    inventory: &Inventory,
    baseline: &Baseline,
    evaluation: &patch_baseline::evaluate::Evaluation<'_>,
    context: &ReportContext,
) {
    use patch_baseline::history::{
        BASE_CAP_FACTOR, DEFAULT_MAX_BYTES, Loaded, append, observe, replay,
    };
    let mut history = Loaded::default();
    let started = Instant::now();
    let first = observe(evaluation, context, None, usize::MAX);
    let first_time = started.elapsed();
    append(&mut history, first, usize::MAX);
    let base: Vec<_> = history.base.iter().flat_map(|base| base.values()).collect();
    let base_bytes = serde_json::to_string(&base).unwrap().len();
    let tracked = base.len();
    let before = replay(&history, None).unwrap_or_default();
    let started = Instant::now();
    let same = observe(
        evaluation,
        context,
        Some((&before, context.start)),
        usize::MAX,
    );
    let same_time = started.elapsed();
    append(&mut history, same, usize::MAX);
    let later = EvaluateOptions {
        now: context.start + chrono::Duration::days(1),
        operation: Operation::Scan,
        override_list: None,
        deferred: &[],
    };
    let next = evaluate(inventory, baseline, &later).unwrap();
    let before = replay(&history, None).unwrap_or_default();
    let day = observe(&next, context, Some((&before, context.start)), usize::MAX);
    let (lines, _) = append(&mut history, day, usize::MAX);
    let sizes: Vec<usize> = lines.iter().map(String::len).collect();
    println!(
        "history: base file {base_bytes} bytes ({tracked} tracked packages), observed in {:.1} ms; \
         records: first {} bytes, the same run again {} bytes (observed in {:.1} ms), a day \
         later {} bytes ({} changes)",
        ms(first_time),
        sizes[0],
        sizes[1],
        ms(same_time),
        sizes[2],
        history.records[2].changes.len()
    );
    // What a recording run does by default: the set is over the base file's cap, so it is not
    // kept, and observing stops building it there.
    let cap = DEFAULT_MAX_BYTES * BASE_CAP_FACTOR;
    let mut capped = Loaded::default();
    let started = Instant::now();
    let first = observe(evaluation, context, None, cap);
    let capped_time = started.elapsed();
    let kept = first.tracked.is_some();
    let (lines, _) = append(&mut capped, first, DEFAULT_MAX_BYTES);
    println!(
        "history under the default caps ({cap} bytes for the set): set kept: {kept}, observed \
         in {:.1} ms, record {} bytes",
        ms(capped_time),
        lines[0].len()
    );
}
