//! zypper rules (spec §2.6): category and severity, created date, no non-security gate.

use patch_baseline::model::PatchState;
use serde_json::{Value, json};

use crate::util::{ago, assert_states, baseline, decision, inventory, rule, run_scan};

fn inst(name: &str, version: &str) -> Value {
    json!({"name": name, "arch": "x86_64", "version": version})
}

fn avail(name: &str, version: &str, advisories: &[&str]) -> Value {
    json!({"name": name, "arch": "x86_64", "version": version, "advisories": advisories})
}

fn sample() -> patch_baseline::inventory::Inventory {
    inventory(
        "SUSE",
        "Suse15.5",
        "zypper",
        json!([
            {"id": "SUSE-SLE-Module-Basesystem-15-SP5-2024-1", "type": "security", "severity": "important", "issued": ago(10, 0), "cves": ["CVE-2024-1"], "rebootSuggested": true},
            {"id": "SUSE-2024-2", "type": "security", "severity": "moderate", "issued": ago(10, 0)},
            {"id": "SUSE-2024-3", "type": "recommended", "severity": "low", "issued": ago(10, 0)},
            {"id": "SUSE-2024-4", "type": "security", "severity": "critical", "issued": ago(6, 0)},
            {"id": "SUSE-2024-5", "type": "security", "issued": ago(10, 0)},
        ]),
        json!([
            inst("kernel-default", "5.14.21-150500.55.1"),
            inst("curl", "8.0-1"),
            inst("vim", "9.0-1"),
            inst("fresh", "1-1"),
            inst("nosev", "1-1"),
            inst("nometa", "1-1")
        ]),
        json!([
            avail(
                "kernel-default",
                "5.14.21-150500.55.7",
                &["SUSE-SLE-Module-Basesystem-15-SP5-2024-1"]
            ),
            avail("curl", "8.1-1", &["SUSE-2024-2"]),
            avail("vim", "9.1-1", &["SUSE-2024-3"]),
            avail("fresh", "2-1", &["SUSE-2024-4"]),
            avail("nosev", "2-1", &["SUSE-2024-5"]),
            avail("nometa", "2-1", &[])
        ]),
    )
}

#[test]
fn suse_default_baseline() {
    let b = patch_baseline::baseline::find_builtin("AWS-SuseDefaultPatchBaseline")
        .unwrap()
        .load()
        .unwrap();
    let inv = sample();
    let ev = run_scan(&inv, &b);
    assert_states(
        &ev,
        &[
            ("kernel-default", PatchState::Missing),
            ("curl", PatchState::InstalledOther),
            ("vim", PatchState::InstalledOther),
            ("fresh", PatchState::InstalledOther),
            ("nosev", PatchState::InstalledOther),
            ("nometa", PatchState::InstalledOther),
        ],
    );
    let k = decision(&ev, "kernel-default");
    assert_eq!(
        (k.classification().as_ref(), k.patch_severity().as_ref()),
        ("security", "important")
    );
    assert!(k.reboot_suggested);
    assert_eq!(ev.cve_ids(k), vec!["CVE-2024-1"]);
}

#[test]
fn no_non_security_gate_on_suse() {
    // EnableNonSecurity false, yet a wildcard rule approves packages without patch metadata.
    let b = baseline(
        "SUSE",
        json!([rule(
            json!({"CLASSIFICATION": ["*"], "SEVERITY": ["*"]}),
            7,
            "LOW",
            false
        )]),
        json!({}),
    );
    let inv = sample();
    let ev = run_scan(&inv, &b);
    assert_states(
        &ev,
        &[
            ("nometa", PatchState::Missing),
            ("vim", PatchState::Missing),
            // Its update is too recent, but the installed package itself, without patch
            // metadata, passes the wildcard rule: AWS payload 1.80 allows packages without
            // metadata on SUSE whatever EnableNonSecurity says (baseline_rule.test_package_bean).
            ("fresh", PatchState::Installed),
        ],
    );
    let b = baseline(
        "SUSE",
        json!([rule(
            json!({"CLASSIFICATION": ["Recommended", "Security"], "SEVERITY": ["Low", "None"]}),
            0,
            "LOW",
            false
        )]),
        json!({}),
    );
    assert_states(
        &run_scan(&sample(), &b),
        &[
            ("vim", PatchState::Missing),
            ("nosev", PatchState::Missing),
            ("nometa", PatchState::InstalledOther),
            ("curl", PatchState::InstalledOther),
        ],
    );
}

#[test]
fn approved_by_patch_name_and_rejected() {
    let b = baseline(
        "SUSE",
        json!([]),
        json!({"ApprovedPatches": ["SUSE-2024-3"], "RejectedPatches": ["curl"], "RejectedPatchesAction": "BLOCK"}),
    );
    let inv = sample();
    let ev = run_scan(&inv, &b);
    assert_states(
        &ev,
        &[
            ("vim", PatchState::Missing),
            ("curl", PatchState::InstalledRejected),
            ("kernel-default", PatchState::InstalledOther),
        ],
    );
}

#[test]
fn product_filter_install_and_pending_reboot_on_suse() {
    let b = baseline(
        "SUSE",
        json!([rule(
            json!({"PRODUCT": ["Suse15.4"], "CLASSIFICATION": ["Security"]}),
            0,
            "HIGH",
            false
        )]),
        json!({}),
    );
    let inv = sample();
    let ev = run_scan(&inv, &b);
    assert_states(&ev, &[("kernel-default", PatchState::InstalledOther)]);
    let b = baseline(
        "SUSE",
        json!([rule(
            json!({"PRODUCT": ["Suse15.5"], "CLASSIFICATION": ["Security"]}),
            0,
            "HIGH",
            false
        )]),
        json!({}),
    );
    let ev = run_scan(&inv, &b);
    assert_states(
        &ev,
        &[
            ("kernel-default", PatchState::Missing),
            ("curl", PatchState::Missing),
        ],
    );
    let mut doc = serde_json::to_value(sample()).unwrap();
    doc["pendingReboot"] = json!([{"name": "vim", "arch": "x86_64", "version": "9.0-1"}]);
    let pending =
        patch_baseline::inventory::Inventory::from_json(&doc.to_string(), "inv.json").unwrap();
    let install = crate::util::run_with(
        &pending,
        &b,
        patch_baseline::evaluate::Operation::Install,
        None,
    );
    assert_states(
        &install,
        &[
            ("kernel-default", PatchState::Failed),
            ("vim", PatchState::InstalledPendingReboot),
        ],
    );
    // kernel-default, curl, fresh (0-day rule) and nosev (no SEVERITY filter).
    assert_eq!(install.counts().failed, 4);
}
