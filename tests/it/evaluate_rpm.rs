//! yum/dnf rules (spec §2.2–§2.4, §3.1, §4): one case per rule, filter key, state and date edge.

use patch_baseline::baseline::Baseline;
use patch_baseline::evaluate::{Operation, Reason};
use patch_baseline::inventory::Inventory;
use patch_baseline::model::{ComplianceLevel, PatchState};
use patch_baseline::pattern::InstallOverrideList;
use serde_json::{Value, json};

use crate::util::{
    ago, assert_states, baseline, decision, inventory, reasons, rule, run_scan, run_with,
};

fn al2023_default() -> Baseline {
    patch_baseline::baseline::find_builtin("AWS-AmazonLinux2023DefaultPatchBaseline")
        .unwrap()
        .load()
        .unwrap()
}

fn adv(id: &str, kind: &str, severity: Option<&str>, issued: &str) -> Value {
    let mut a = json!({"id": id, "type": kind, "issued": issued, "cves": [format!("CVE-{id}")], "bugzillas": [format!("{}", id.len() * 1000)]});
    if let Some(s) = severity {
        a["severity"] = json!(s);
    }
    a
}

fn inst(name: &str, version: &str) -> Value {
    json!({"name": name, "arch": "x86_64", "version": version, "installedTime": "2024-01-01T00:00:00Z"})
}

fn avail(name: &str, version: &str, advisories: &[&str]) -> Value {
    json!({"name": name, "arch": "x86_64", "version": version, "advisories": advisories})
}

fn dnf(advisories: Value, installed: Value, available: Value) -> Inventory {
    inventory(
        "AMAZON_LINUX_2023",
        "AmazonLinux2023",
        "dnf",
        advisories,
        installed,
        available,
    )
}

#[test]
fn default_baseline_classification_severity_and_delay() {
    let inv = dnf(
        json!([
            adv("CRIT", "security", Some("Critical"), &ago(8, 0)),
            adv("EXACT", "security", Some("Important"), &ago(7, 0)),
            adv("JUSTOVER", "security", Some("Important"), &ago(7, 1)),
            adv("LOW", "security", Some("Low"), &ago(30, 0)),
            adv("BUGFIX", "bugfix", None, &ago(30, 0)),
            adv("ENH", "enhancement", Some("Moderate"), &ago(30, 0)),
        ]),
        json!([
            inst("crit", "1.0-1"),
            inst("exact", "1.0-1"),
            inst("justover", "1.0-1"),
            inst("low", "1.0-1"),
            inst("bugfix", "1.0-1"),
            inst("enh", "1.0-1"),
            inst("nometa", "1.0-1"),
            inst("uptodate", "2.0-1"),
            inst("nothing", "1.0-1"),
        ]),
        json!([
            avail("crit", "1.1-1", &["CRIT"]),
            avail("exact", "1.1-1", &["EXACT"]),
            avail("justover", "1.1-1", &["JUSTOVER"]),
            avail("low", "1.1-1", &["LOW"]),
            avail("bugfix", "1.1-1", &["BUGFIX"]),
            avail("enh", "1.1-1", &["ENH"]),
            avail("nometa", "1.1-1", &[]),
            avail("uptodate", "1.5-1", &["CRIT"]),
            avail("notinstalled", "1.0-1", &["CRIT"]),
        ]),
    );
    let base = al2023_default();
    let ev = run_scan(&inv, &base);
    assert_states(
        &ev,
        &[
            ("crit", PatchState::Missing),
            ("exact", PatchState::InstalledOther),
            ("justover", PatchState::Missing),
            ("low", PatchState::InstalledOther),
            ("bugfix", PatchState::Missing),
            ("enh", PatchState::InstalledOther),
            ("nometa", PatchState::InstalledOther),
            // Observed with AWS payload 1.80 (dnf): an approved version older than the installed
            // one does not make a package Installed; the payload judges only the installed
            // version and newer ones (dnf_report: "candidate update older than what is
            // installed" is ignored).
            ("uptodate", PatchState::InstalledOther),
            ("nothing", PatchState::InstalledOther),
            ("notinstalled", PatchState::NotApplicable),
        ],
    );
    assert!(matches!(
        reasons(&ev, "exact")[0],
        Reason::RuleFilter { .. } | Reason::TooRecent { .. }
    ));
    assert!(
        reasons(&ev, "exact")
            .iter()
            .any(|r| matches!(r, Reason::TooRecent { rule: 1, .. }))
    );
    assert!(matches!(
        reasons(&ev, "nometa")[0],
        Reason::RuleFilter {
            rule: 1,
            value: None,
            ..
        }
    ));
    // Nothing offers an update: the installed package itself, without metadata, was judged.
    assert_eq!(
        reasons(&ev, "nothing"),
        vec![
            Reason::RuleFilter {
                rule: 1,
                key: patch_baseline::model::FilterKey::Classification,
                value: None
            },
            Reason::RuleFilter {
                rule: 2,
                key: patch_baseline::model::FilterKey::Classification,
                value: None
            }
        ]
    );
    let crit = decision(&ev, "crit");
    assert_eq!(
        (
            crit.classification().as_ref(),
            crit.patch_severity().as_ref()
        ),
        ("Security", "Critical")
    );
    assert_eq!(ev.cve_ids(crit), vec!["CVE-CRIT"]);
    // InstalledOther is reported with the installed version and no advisory's metadata.
    let up = decision(&ev, "uptodate");
    assert_eq!((up.version(), up.approved_version()), ("2.0-1", None));
    assert_eq!(up.classification(), "");
    let bugfix = decision(&ev, "bugfix");
    assert_eq!(
        (
            bugfix.classification().as_ref(),
            bugfix.patch_severity().as_ref()
        ),
        ("Bugfix", "")
    );
    let c = ev.counts();
    assert_eq!(
        (c.missing, c.installed, c.installed_other, c.not_applicable),
        (3, 0, 6, 1)
    );
    assert_eq!((c.security_non_compliant, c.other_non_compliant), (2, 1));
}

#[test]
fn yum_dates_updated_else_issued_and_build_time() {
    let advisories = json!([
        {"id": "UPD-EARLIER", "type": "security", "severity": "Critical", "issued": ago(1, 0), "updated": ago(10, 0)},
        {"id": "ONLY-ISSUED", "type": "security", "severity": "Critical", "issued": ago(10, 0)},
        {"id": "OLD", "type": "security", "severity": "Critical", "issued": ago(30, 0)},
    ]);
    let installed = json!([inst("a", "1-1"), inst("b", "1-1"), inst("c", "1-1")]);
    let available = json!([
        avail("a", "2-1", &["UPD-EARLIER"]),
        avail("b", "2-1", &["ONLY-ISSUED"]),
        {"name": "c", "arch": "x86_64", "version": "2-1", "advisories": ["OLD"], "buildTime": ago(2, 0)},
    ]);
    let al2 = patch_baseline::baseline::find_builtin("AWS-AmazonLinux2DefaultPatchBaseline")
        .unwrap()
        .load()
        .unwrap();
    let yum = inventory(
        "AMAZON_LINUX_2",
        "AmazonLinux2",
        "yum",
        advisories.clone(),
        installed.clone(),
        available.clone(),
    );
    let ev = run_scan(&yum, &al2);
    // yum: updated (even when earlier than issued); a package listed in a notice has build
    // time 0 in the AWS payload, so the notice's date decides, not a later build.
    assert_states(
        &ev,
        &[
            ("a", PatchState::Missing),
            ("b", PatchState::Missing),
            ("c", PatchState::Missing),
        ],
    );
    // dnf: issued only; build time is not consulted when the advisory is dated.
    let dnf_inv = inventory(
        "AMAZON_LINUX_2",
        "AmazonLinux2",
        "dnf",
        advisories,
        installed,
        available,
    );
    let ev = run_scan(&dnf_inv, &al2);
    assert_states(
        &ev,
        &[
            ("a", PatchState::InstalledOther),
            ("b", PatchState::Missing),
            ("c", PatchState::Missing),
        ],
    );
}

#[test]
fn approve_until_date_includes_its_last_second() {
    let b = baseline(
        "AMAZON_LINUX_2023",
        json!([{
        "PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]},
        "ApproveUntilDate": "2024-01-31", "ComplianceLevel": "HIGH"}]),
        json!({}),
    );
    let inv = dnf(
        json!([
            {"id": "LAST", "type": "security", "severity": "Low", "issued": "2024-01-31T23:59:59Z"},
            {"id": "NEXT", "type": "security", "severity": "Low", "issued": "2024-02-01T00:00:00Z"},
            {"id": "UNDATED", "type": "security", "severity": "Low"},
        ]),
        json!([
            inst("last", "1-1"),
            inst("next", "1-1"),
            inst("undated", "1-1")
        ]),
        json!([
            avail("last", "2-1", &["LAST"]),
            avail("next", "2-1", &["NEXT"]),
            avail("undated", "2-1", &["UNDATED"])
        ]),
    );
    let ev = run_scan(&inv, &b);
    assert_states(
        &ev,
        &[
            ("last", PatchState::Missing),
            ("next", PatchState::InstalledOther),
            ("undated", PatchState::Missing),
        ],
    );
    assert_eq!(decision(&ev, "last").compliance, ComplianceLevel::High);
}

#[test]
fn enable_non_security_uses_build_time() {
    let b = baseline(
        "CENTOS",
        json!([rule(json!({"PRODUCT": ["*"]}), 7, "UNSPECIFIED", true)]),
        json!({}),
    );
    let inv = inventory(
        "CENTOS",
        "CentOS7.9",
        "yum",
        json!([]),
        json!([
            inst("old", "1-1"),
            inst("fresh", "1-1"),
            inst("undated", "1-1")
        ]),
        json!([
            {"name": "old", "arch": "x86_64", "version": "2-1", "buildTime": ago(8, 0)},
            {"name": "fresh", "arch": "x86_64", "version": "2-1", "buildTime": ago(1, 0)},
            {"name": "undated", "arch": "x86_64", "version": "2-1"},
        ]),
    );
    let ev = run_scan(&inv, &b);
    assert_states(
        &ev,
        &[
            ("old", PatchState::Missing),
            ("fresh", PatchState::InstalledOther),
            ("undated", PatchState::Missing),
        ],
    );
    assert_eq!(decision(&ev, "old").classification(), "");
    // The same rule without EnableNonSecurity refuses notice-less packages.
    let b = baseline(
        "CENTOS",
        json!([rule(json!({"PRODUCT": ["*"]}), 7, "UNSPECIFIED", false)]),
        json!({}),
    );
    let ev = run_scan(&inv, &b);
    assert_eq!(reasons(&ev, "old"), vec![Reason::NonSecurity { rule: 1 }]);
}

#[test]
fn approved_list_by_name_advisory_cve_bugzilla_and_over_global_filters() {
    let b = baseline(
        "AMAZON_LINUX_2023",
        json!([]),
        json!({
        "GlobalFilters": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]},
        "ApprovedPatches": ["byname", "ADV-ID", "CVE-CVEADV", "8000", "nometa*"],
        "ApprovedPatchesComplianceLevel": "MEDIUM"}),
    );
    let inv = dnf(
        json!([
            adv("BYNAME", "bugfix", None, &ago(0, 0)),
            adv("ADV-ID", "bugfix", None, &ago(0, 0)),
            adv("CVEADV", "enhancement", None, &ago(0, 0)),
            adv("BUGZILLA", "enhancement", None, &ago(0, 0)),
            adv("OTHER", "enhancement", None, &ago(0, 0)),
        ]),
        json!([
            inst("byname", "1-1"),
            inst("byid", "1-1"),
            inst("bycve", "1-1"),
            inst("bybz", "1-1"),
            inst("other", "1-1"),
            inst("nometa-pkg", "1-1")
        ]),
        json!([
            avail("byname", "2-1", &["BYNAME"]),
            avail("byid", "2-1", &["ADV-ID"]),
            avail("bycve", "2-1", &["CVEADV"]),
            avail("bybz", "2-1", &["BUGZILLA"]),
            avail("other", "2-1", &["OTHER"]),
            avail("nometa-pkg", "2-1", &[])
        ]),
    );
    let ev = run_scan(&inv, &b);
    assert_states(
        &ev,
        &[
            ("byname", PatchState::Missing),
            ("byid", PatchState::Missing),
            ("bycve", PatchState::Missing),
            ("bybz", PatchState::Missing),
            ("other", PatchState::InstalledOther),
            ("nometa-pkg", PatchState::InstalledOther),
        ],
    );
    assert_eq!(decision(&ev, "byname").compliance, ComplianceLevel::Medium);
    assert_eq!(
        reasons(&ev, "byid"),
        vec![Reason::ApprovedPatches { entry: "ADV-ID" }]
    );
    assert!(matches!(
        reasons(&ev, "nometa-pkg")[0],
        Reason::ApprovedPatchesNonSecurity { .. }
    ));
    // ApprovedPatchesEnableNonSecurity lets the notice-less package through.
    let mut doc: Value =
        json!({"ApprovedPatches": ["nometa*"], "ApprovedPatchesEnableNonSecurity": true});
    doc["GlobalFilters"] = json!({"PatchFilters": []});
    let b = baseline("AMAZON_LINUX_2023", json!([]), doc);
    assert_states(
        &run_scan(&inv, &b),
        &[
            ("nometa-pkg", PatchState::Missing),
            ("other", PatchState::InstalledOther),
        ],
    );
}

#[test]
fn rejected_wins_and_block_versus_allow() {
    let advisories = json!([adv("SEC", "security", Some("Critical"), &ago(30, 0))]);
    let installed = json!([
        inst("kernel", "5.10-1"),
        inst("badver", "1.0-1"),
        inst("fixed", "1.0-1")
    ]);
    let available = json!([
        avail("kernel", "5.15-1", &["SEC"]),
        avail("badver", "0.9-1", &["SEC"]),
        avail("fixed", "1.1-1", &["SEC"])
    ]);
    let inv = dnf(advisories, installed, available);
    for (action, kernel_state, badver_state) in [
        (
            "BLOCK",
            PatchState::InstalledRejected,
            PatchState::InstalledRejected,
        ),
        (
            "ALLOW_AS_DEPENDENCY",
            PatchState::InstalledOther,
            // Only the installed version and newer ones count on dnf (payload 1.80): the
            // approved 0.9-1 is older than the installed 1.0-1.
            PatchState::InstalledOther,
        ),
    ] {
        let b = baseline(
            "AMAZON_LINUX_2023",
            json!([rule(
                json!({"CLASSIFICATION": ["Security"]}),
                0,
                "CRITICAL",
                false
            )]),
            json!({"RejectedPatches": ["kernel*", "badver-1.0-1", "fixed-1.0-1"], "ApprovedPatches": ["kernel"], "RejectedPatchesAction": action}),
        );
        let ev = run_scan(&inv, &b);
        // A rejected name never gets approved, even when also in ApprovedPatches.
        // A rejected *installed version* with an approved newer one is Missing (the fix is to update).
        assert_states(
            &ev,
            &[
                ("kernel", kernel_state),
                ("badver", badver_state),
                ("fixed", PatchState::Missing),
            ],
        );
        assert!(matches!(
            reasons(&ev, "kernel")[0],
            Reason::RejectedPatches { .. }
        ));
    }
}

#[test]
fn highest_approved_version_wins_and_compliance_is_the_highest_contribution() {
    let b = baseline(
        "AMAZON_LINUX_2023",
        json!([
            rule(json!({"CLASSIFICATION": ["Security"]}), 0, "HIGH", false),
            rule(json!({"SEVERITY": ["Critical"]}), 0, "CRITICAL", false),
            rule(json!({"SEVERITY": ["Important"]}), 0, "LOW", false),
        ]),
        json!({}),
    );
    let inv = dnf(
        json!([
            adv("V2", "security", Some("Critical"), &ago(10, 0)),
            adv("V3", "security", Some("Important"), &ago(5, 0)),
            adv("V4", "enhancement", Some("Low"), &ago(1, 0)),
        ]),
        json!([inst("pkg", "1-1")]),
        json!([
            avail("pkg", "2-1", &["V2"]),
            avail("pkg", "3-1", &["V3"]),
            avail("pkg", "4-1", &["V4"])
        ]),
    );
    let ev = run_scan(&inv, &b);
    let d = decision(&ev, "pkg");
    assert_eq!((d.state, d.version()), (PatchState::Missing, "3-1"));
    assert_eq!(d.compliance, ComplianceLevel::High);
    assert_eq!(ev.cve_ids(d), vec!["CVE-V2", "CVE-V3"]);
    assert_eq!(ev.non_compliant_severity(), Some(ComplianceLevel::High));
    // Only V2 approved at CRITICAL via rule 2 and HIGH via rule 1: the highest counts.
    let inv = dnf(
        json!([adv("V2", "security", Some("Critical"), &ago(10, 0))]),
        json!([inst("pkg", "1-1")]),
        json!([avail("pkg", "2-1", &["V2"])]),
    );
    let ev = run_scan(&inv, &b);
    assert_eq!(decision(&ev, "pkg").compliance, ComplianceLevel::Critical);
    assert_eq!(ev.counts().critical_non_compliant, 1);
    assert_eq!(ev.non_compliant_severity(), Some(ComplianceLevel::Critical));
}

#[test]
fn product_filter_is_exact_and_severity_vocabularies() {
    let inv = dnf(
        json!([
            adv("MED", "security", Some("Medium"), &ago(30, 0)),
            adv("NONE", "security", Some("None"), &ago(30, 0)),
            adv("MISSING", "security", None, &ago(30, 0)),
        ]),
        json!([
            inst("med", "1-1"),
            inst("none", "1-1"),
            inst("missing", "1-1")
        ]),
        json!([
            avail("med", "2-1", &["MED"]),
            avail("none", "2-1", &["NONE"]),
            avail("missing", "2-1", &["MISSING"])
        ]),
    );
    let b = baseline(
        "AMAZON_LINUX_2023",
        json!([rule(
            json!({"PRODUCT": ["AmazonLinux2"], "CLASSIFICATION": ["*"]}),
            0,
            "LOW",
            false
        )]),
        json!({}),
    );
    let ev = run_scan(&inv, &b);
    assert_states(&ev, &[("med", PatchState::InstalledOther)]);
    assert!(
        matches!(&reasons(&ev, "med")[0], Reason::RuleFilter { value: Some(v), .. } if *v == "AmazonLinux2023")
    );
    // AL2023: Medium ≡ Moderate; `None` matches the literal and a missing severity; case-insensitive.
    let b = baseline(
        "AMAZON_LINUX_2023",
        json!([rule(
            json!({"PRODUCT": ["AmazonLinux2023"], "CLASSIFICATION": ["security"], "SEVERITY": ["moderate", "none"]}),
            0,
            "LOW",
            false
        )]),
        json!({}),
    );
    assert_states(
        &run_scan(&inv, &b),
        &[
            ("med", PatchState::Missing),
            ("none", PatchState::Missing),
            ("missing", PatchState::Missing),
        ],
    );
    // On RHEL, Medium and Moderate stay distinct.
    let rhel = inventory(
        "REDHAT_ENTERPRISE_LINUX",
        "RedhatEnterpriseLinux9.3",
        "dnf",
        json!([adv("MED", "security", Some("Medium"), &ago(30, 0))]),
        json!([inst("med", "1-1")]),
        json!([avail("med", "2-1", &["MED"])]),
    );
    let b = baseline(
        "REDHAT_ENTERPRISE_LINUX",
        json!([rule(json!({"SEVERITY": ["Moderate"]}), 0, "LOW", false)]),
        json!({}),
    );
    assert_states(&run_scan(&rhel, &b), &[("med", PatchState::InstalledOther)]);
    // Global filters drop what the rules would approve.
    let b = baseline(
        "AMAZON_LINUX_2023",
        json!([rule(json!({"CLASSIFICATION": ["*"]}), 0, "LOW", false)]),
        json!({"GlobalFilters": {"PatchFilters": [{"Key": "SEVERITY", "Values": ["Critical"]}]}}),
    );
    let ev = run_scan(&inv, &b);
    assert_states(&ev, &[("med", PatchState::InstalledOther)]);
    assert!(matches!(
        reasons(&ev, "med")[0],
        Reason::GlobalFilter { .. }
    ));
}

#[test]
fn epochs_order_before_versions() {
    let inv = dnf(
        json!([adv("E", "security", Some("Critical"), &ago(30, 0))]),
        json!([inst("bind", "9.18-1")]),
        json!([avail("bind", "32:9.16-1", &["E"])]),
    );
    let base = al2023_default();
    let d = run_scan(&inv, &base);
    assert_eq!(decision(&d, "bind").state, PatchState::Missing);
}

#[test]
fn pending_reboot_install_and_override_list() {
    let mut doc = serde_json::to_value(dnf(
        json!([adv("S", "security", Some("Critical"), &ago(30, 0))]),
        json!([inst("done", "2-1"), inst("a", "1-1"), inst("b", "1-1")]),
        json!([
            avail("done", "2-1", &["S"]),
            avail("a", "2-1", &["S"]),
            avail("b", "2-1", &["S"])
        ]),
    ))
    .unwrap();
    doc["pendingReboot"] = json!([{"name": "done", "arch": "x86_64", "version": "2-1"}]);
    let inv = Inventory::from_json(&doc.to_string(), "inv.json").unwrap();
    let b = al2023_default();
    let ev = run_scan(&inv, &b);
    assert_states(
        &ev,
        &[
            ("done", PatchState::InstalledPendingReboot),
            ("a", PatchState::Missing),
        ],
    );
    assert_eq!(reasons(&ev, "done")[0], Reason::PendingReboot);
    let plan = ev.install_plan(None);
    assert_eq!(
        plan.iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect::<Vec<_>>(),
        vec![("a", "2-1"), ("b", "2-1")]
    );
    // Install without an override list: everything still missing is Failed.
    let ev = run_with(&inv, &b, Operation::Install, None);
    assert_states(&ev, &[("a", PatchState::Failed), ("b", PatchState::Failed)]);
    // With an override list: only listed updates count as Failed, the rest stay Missing.
    let list = InstallOverrideList::parse(
        "patches:\n  - id: 'a.x86_64'\n    title: 'a.x86_64:0:2-1'\n",
        "o.yaml",
    )
    .unwrap();
    let ev = run_with(&inv, &b, Operation::Install, Some(&list));
    assert_states(
        &ev,
        &[("a", PatchState::Failed), ("b", PatchState::Missing)],
    );
    assert_eq!(reasons(&ev, "b").last(), Some(&Reason::NotInOverrideList));
    let scan = run_scan(&inv, &b);
    let plan = scan.install_plan(Some(&list));
    assert_eq!(plan.len(), 1);
    assert!(
        plan[0].reason.contains("override list"),
        "{}",
        plan[0].reason
    );
    // The list overrides the baseline (payload 1.80): an update the baseline does not approve
    // (no advisory) is installed when listed, and Failed while it is not installed.
    let inv = dnf(
        json!([]),
        json!([inst("curl", "8.0-1")]),
        json!([avail("curl", "8.1-1", &[]), avail("curl", "8.2-1", &[])]),
    );
    let list = InstallOverrideList::parse("patches:\n  - id: 'curl.x86_64'\n", "o.yaml").unwrap();
    let scan = run_scan(&inv, &b);
    assert_states(&scan, &[("curl", PatchState::InstalledOther)]);
    let plan = scan.install_plan(Some(&list));
    assert_eq!(
        plan.iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect::<Vec<_>>(),
        vec![("curl", "8.2-1")],
        "the newest listed update"
    );
    let ev = run_with(&inv, &b, Operation::Install, Some(&list));
    assert_states(&ev, &[("curl", PatchState::Failed)]);
    assert_eq!(decision(&ev, "curl").version(), "8.2-1");
    assert_eq!(reasons(&ev, "curl").last(), Some(&Reason::InOverrideList));
}

#[test]
fn family_mismatch_is_an_error() {
    let inv = dnf(json!([]), json!([]), json!([]));
    let ubuntu = patch_baseline::baseline::find_builtin("AWS-UbuntuDefaultPatchBaseline")
        .unwrap()
        .load()
        .unwrap();
    let error = patch_baseline::evaluate::evaluate(
        &inv,
        &ubuntu,
        &patch_baseline::evaluate::EvaluateOptions {
            now: crate::util::now(),
            operation: Operation::Scan,
            override_list: None,
            deferred: &[],
        },
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("is for UBUNTU systems"),
        "{error}"
    );
}

#[test]
fn every_predefined_rpm_baseline_evaluates() {
    // Security/Important 30 days old: approved by all RPM defaults (CentOS: everything).
    for name in [
        "AWS-AmazonLinuxDefaultPatchBaseline",
        "AWS-AmazonLinux2DefaultPatchBaseline",
        "AWS-AmazonLinux2022DefaultPatchBaseline",
        "AWS-AmazonLinux2023DefaultPatchBaseline",
        "AWS-RedHatDefaultPatchBaseline",
        "AWS-RockyLinuxDefaultPatchBaseline",
        "AWS-AlmaLinuxDefaultPatchBaseline",
        "AWS-OracleLinuxDefaultPatchBaseline",
        "AWS-CentOSDefaultPatchBaseline",
    ] {
        let b = patch_baseline::baseline::find_builtin(name)
            .unwrap()
            .load()
            .unwrap();
        let os = b.operating_system.as_aws();
        let inv = inventory(
            os,
            "Any",
            "dnf",
            json!([
                adv("S", "security", Some("Important"), &ago(30, 0)),
                adv("E", "enhancement", Some("Low"), &ago(30, 0))
            ]),
            json!([inst("sec", "1-1"), inst("enh", "1-1")]),
            json!([avail("sec", "2-1", &["S"]), avail("enh", "2-1", &["E"])]),
        );
        let ev = run_scan(&inv, &b);
        assert_eq!(decision(&ev, "sec").state, PatchState::Missing, "{name}");
        let enh = if matches!(
            name,
            "AWS-CentOSDefaultPatchBaseline" | "AWS-OracleLinuxDefaultPatchBaseline"
        ) {
            PatchState::Missing
        } else {
            PatchState::InstalledOther
        };
        assert_eq!(decision(&ev, "enh").state, enh, "{name}");
    }
}

#[test]
fn empty_and_one_sided_inventories() {
    let b = al2023_default();
    let nothing_available = dnf(json!([]), json!([inst("a", "1-1")]), json!([]));
    let ev = run_scan(&nothing_available, &b);
    assert_states(&ev, &[("a", PatchState::InstalledOther)]);
    let nothing_at_all = dnf(json!([]), json!([]), json!([]));
    assert!(run_scan(&nothing_at_all, &b).decisions.is_empty());
    let nothing_installed = dnf(
        json!([adv("S", "security", Some("Critical"), &ago(30, 0))]),
        json!([]),
        json!([avail("z", "1-1", &["S"])]),
    );
    assert_states(
        &run_scan(&nothing_installed, &b),
        &[("z", PatchState::NotApplicable)],
    );
}

#[test]
fn parallel_and_sequential_judging_agree() {
    // 30,000 groups take the multi-threaded path; the same packages one at a time must decide
    // identically.
    let advisories = json!([
        adv("S", "security", Some("Critical"), &ago(30, 0)),
        adv("L", "security", Some("Low"), &ago(30, 0))
    ]);
    let installed: Vec<Value> = (0..30_000).map(|i| inst(&format!("p{i}"), "1-1")).collect();
    let available: Vec<Value> = (0..30_000)
        .map(|i| {
            avail(
                &format!("p{i}"),
                "2-1",
                &[if i % 3 == 0 { "L" } else { "S" }],
            )
        })
        .collect();
    let big = dnf(
        advisories.clone(),
        Value::Array(installed),
        Value::Array(available),
    );
    let b = al2023_default();
    let ev = run_scan(&big, &b);
    assert_eq!(ev.decisions.len(), 30_000);
    for i in [0usize, 1, 2, 14_999, 15_000, 29_999] {
        let single = dnf(
            advisories.clone(),
            json!([inst(&format!("p{i}"), "1-1")]),
            json!([avail(
                &format!("p{i}"),
                "2-1",
                &[if i % 3 == 0 { "L" } else { "S" }]
            )]),
        );
        let one = run_scan(&single, &b);
        let name = format!("p{i}");
        assert_eq!(decision(&ev, &name).state, one.decisions[0].state, "{name}");
    }
    let names: Vec<&str> = ev.decisions.iter().map(|d| d.name).collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| (decision(&ev, n).state, *n));
    assert_eq!(names, sorted, "report order: state, then name");
    assert_eq!(ev.counts().missing, 20_000);
}

#[test]
fn install_only_packages_use_the_newest_installed_version() {
    let inv = dnf(
        json!([adv("K", "security", Some("Important"), &ago(30, 0))]),
        json!([
            inst("kernel", "6.1.90-1"),
            inst("kernel", "6.1.100-1"),
            inst("kernel", "6.1.95-1")
        ]),
        json!([avail("kernel", "6.1.100-1", &["K"])]),
    );
    let base = al2023_default();
    let ev = run_scan(&inv, &base);
    let k = decision(&ev, "kernel");
    assert_eq!((k.state, k.version()), (PatchState::Installed, "6.1.100-1"));
    assert_eq!(ev.decisions.len(), 1);
}

/// A CLASSIFICATION value outside the vocabulary (`Critical` on AL2, from a real CloudFormation
/// baseline) matches no package, as in AWS's engine, and the rest of the filter still works.
#[test]
fn a_value_outside_the_vocabulary_matches_nothing() {
    let inv = dnf(
        json!([
            adv("SEC", "security", Some("Critical"), &ago(30, 0)),
            adv("BUG", "bugfix", Some("Critical"), &ago(30, 0)),
        ]),
        json!([inst("sec", "1.0-1"), inst("bug", "1.0-1")]),
        json!([
            avail("sec", "1.1-1", &["SEC"]),
            avail("bug", "1.1-1", &["BUG"])
        ]),
    );
    let b = baseline(
        "AMAZON_LINUX_2023",
        json!([rule(
            json!({"CLASSIFICATION": ["Security", "Critical"]}),
            0,
            "HIGH",
            false
        )]),
        json!({}),
    );
    assert_eq!(b.unknown_values.len(), 1);
    let ev = run_scan(&inv, &b);
    assert_states(
        &ev,
        &[
            ("sec", PatchState::Missing),
            ("bug", PatchState::InstalledOther),
        ],
    );
    let only_unknown = baseline(
        "AMAZON_LINUX_2023",
        json!([rule(
            json!({"CLASSIFICATION": ["Critical"]}),
            0,
            "HIGH",
            false
        )]),
        json!({}),
    );
    let ev = run_scan(&inv, &only_unknown);
    assert_eq!(ev.counts().missing, 0);
}

/// yum's PatchSeverity is the notice's severity title-cased, `None` when the notice has none
/// (the yum payload's `get_severity_update_notice`); dnf reports it as published.
#[test]
fn yum_patch_severity_is_title_cased_or_none() {
    let advisories = json!([
        {"id": "LOWER", "type": "security", "severity": "important", "issued": ago(30, 0)},
        {"id": "NOSEV", "type": "bugfix", "issued": ago(30, 0)},
    ]);
    let installed = json!([inst("a", "1-1"), inst("b", "1-1")]);
    let available = json!([avail("a", "2-1", &["LOWER"]), avail("b", "2-1", &["NOSEV"])]);
    let al2 = patch_baseline::baseline::find_builtin("AWS-AmazonLinux2DefaultPatchBaseline")
        .unwrap()
        .load()
        .unwrap();
    for (manager, a, b) in [("yum", "Important", "None"), ("dnf", "important", "")] {
        let inv = inventory(
            "AMAZON_LINUX_2",
            "AmazonLinux2",
            manager,
            advisories.clone(),
            installed.clone(),
            available.clone(),
        );
        let ev = run_scan(&inv, &al2);
        assert_eq!(decision(&ev, "a").patch_severity(), a, "{manager}");
        assert_eq!(decision(&ev, "b").patch_severity(), b, "{manager}");
    }
}

/// Payload behaviours on dnf (observed with AWS payload 1.80 on generated AL2023 roots, the
/// oracle run of issue #12): an EnableNonSecurity rule approves the installed package itself
/// (no metadata, released at time 0) with that rule's compliance level and no classification;
/// CVEIds are those of every version above the installed one up to the target, approved or
/// not; NonCompliantSeverity leaves pending-reboot packages out.
#[test]
fn payload_dnf_installed_itself_cves_and_non_compliant_severity() {
    let inv = dnf(
        json!([
            adv("A-LOW", "security", Some("Low"), &ago(30, 0)),
            adv("A-CRIT", "security", Some("Critical"), &ago(30, 0)),
        ]),
        json!([inst("quiet", "1.0-1"), inst("lib", "1.0-1")]),
        json!([
            avail("quiet", "1.0-1", &[]),
            avail("lib", "1.1-1", &["A-LOW"]),
            avail("lib", "1.2-1", &["A-CRIT"])
        ]),
    );
    let b = baseline(
        "AMAZON_LINUX_2023",
        json!([
            rule(
                json!({"CLASSIFICATION": ["Security"], "SEVERITY": ["Critical"]}),
                0,
                "CRITICAL",
                false
            ),
            rule(json!({"CLASSIFICATION": ["*"]}), 0, "LOW", true)
        ]),
        json!({}),
    );
    let ev = run_scan(&inv, &b);
    let quiet = decision(&ev, "quiet");
    assert_eq!(quiet.state, PatchState::Installed);
    assert_eq!(quiet.compliance, ComplianceLevel::Low);
    assert_eq!(quiet.classification(), "");
    let lib = decision(&ev, "lib");
    assert_eq!((lib.state, lib.version()), (PatchState::Missing, "1.2-1"));
    assert_eq!(ev.cve_ids(lib), vec!["CVE-A-CRIT", "CVE-A-LOW"]);
    // Only rule 1 (security Critical): 1.1-1 is not approved, its CVE still counts.
    let crit_only = baseline(
        "AMAZON_LINUX_2023",
        json!([rule(
            json!({"CLASSIFICATION": ["Security"], "SEVERITY": ["Critical"]}),
            0,
            "CRITICAL",
            false
        )]),
        json!({}),
    );
    let ev = run_scan(&inv, &crit_only);
    assert_eq!(
        ev.cve_ids(decision(&ev, "lib")),
        vec!["CVE-A-CRIT", "CVE-A-LOW"]
    );
    assert_eq!(decision(&ev, "quiet").state, PatchState::InstalledOther);
    // Pending reboot only: non-compliant, but no NonCompliantSeverity.
    let mut doc = serde_json::to_value(dnf(
        json!([]),
        json!([inst("done", "2-1")]),
        json!([avail("done", "2-1", &[])]),
    ))
    .unwrap();
    doc["pendingReboot"] = json!([{"name": "done", "arch": "x86_64", "version": "2-1"}]);
    let pending = Inventory::from_json(&doc.to_string(), "inv.json").unwrap();
    let ev = run_scan(&pending, &crit_only);
    assert!(!ev.is_compliant());
    assert_eq!(ev.non_compliant_severity(), None);
}
