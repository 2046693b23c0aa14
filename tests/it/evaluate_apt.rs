//! apt rules (spec §2.5, §3.2): security origins, PRIORITY/SECTION, no dates, versions at or
//! above the installed one only.

use patch_baseline::baseline::Baseline;
use patch_baseline::evaluate::Reason;
use patch_baseline::inventory::Inventory;
use patch_baseline::model::PatchState;
use serde_json::{Value, json};

use crate::util::{assert_states, baseline, decision, inventory, reasons, rule, run_scan};

fn debian_default() -> Baseline {
    patch_baseline::baseline::find_builtin("AWS-DebianDefaultPatchBaseline")
        .unwrap()
        .load()
        .unwrap()
}

fn origin(archive: &str, site: &str, trusted: bool) -> Value {
    json!({"archive": archive, "codename": archive.replace("oldstable", "bookworm"), "origin": "Debian",
           "label": if archive.contains("security") { "Debian-Security" } else { "Debian" }, "site": site, "trusted": trusted})
}

fn inst(name: &str, version: &str) -> Value {
    json!({"name": name, "arch": "amd64", "version": version})
}

fn avail(name: &str, version: &str, origins: Value, priority: &str, section: &str) -> Value {
    json!({"name": name, "arch": "amd64", "version": version, "origins": origins, "priority": priority, "section": section})
}

fn apt(installed: Value, available: Value) -> Inventory {
    inventory("DEBIAN", "Debian12", "apt", json!([]), installed, available)
}

fn sample() -> Inventory {
    let security = origin("bookworm-security", "security.debian.org", true);
    apt(
        json!([
            inst("libssl3", "3.0.15-1~deb12u1"),
            inst("tzdata", "2024a-0+deb12u1"),
            inst("bysite", "1.0-1"),
            inst("byoldstable", "1.0-1"),
            inst("untrusted", "1.0-1"),
            inst("extra", "1.0-1"),
            inst("local", "2.0-1"),
            inst("current", "1.1-1")
        ]),
        json!([
            avail(
                "libssl3",
                "3.0.17-1~deb12u3",
                json!([security.clone()]),
                "optional",
                "libs"
            ),
            avail(
                "tzdata",
                "2025b-0+deb12u1",
                json!([origin("bookworm-updates", "deb.debian.org", true)]),
                "required",
                "localization"
            ),
            avail(
                "bysite",
                "1.1-1",
                json!([origin("bookworm", "security.debian.org", true)]),
                "optional",
                "utils"
            ),
            avail(
                "byoldstable",
                "1.1-1",
                json!([{"archive": "oldstable-security", "codename": "bookworm-security", "site": "deb.debian.org", "trusted": true}]),
                "optional",
                "utils"
            ),
            avail(
                "untrusted",
                "1.1-1",
                json!([origin("bookworm-security", "security.debian.org", false)]),
                "optional",
                "utils"
            ),
            avail(
                "extra",
                "1.1-1",
                json!([security.clone()]),
                "extra",
                "universe/net"
            ),
            avail(
                "local",
                "1.5-1",
                json!([security.clone()]),
                "optional",
                "utils"
            ),
            avail(
                "current",
                "1.1-1",
                json!([security.clone()]),
                "important",
                "admin"
            ),
            avail(
                "notinstalled",
                "1.0-1",
                json!([security]),
                "optional",
                "utils"
            ),
        ]),
    )
}

#[test]
fn default_baseline_approves_security_origins_only_without_delay() {
    let (inv, base) = (sample(), debian_default());
    let ev = run_scan(&inv, &base);
    assert_states(
        &ev,
        &[
            ("libssl3", PatchState::Missing),
            ("tzdata", PatchState::InstalledOther),
            ("bysite", PatchState::Missing),
            ("byoldstable", PatchState::Missing),
            ("untrusted", PatchState::InstalledOther),
            ("extra", PatchState::Missing),
            // Versions below the installed one are not considered on apt.
            ("local", PatchState::InstalledOther),
            ("current", PatchState::Installed),
            ("notinstalled", PatchState::NotApplicable),
        ],
    );
    let d = decision(&ev, "libssl3");
    assert_eq!(
        (d.classification().as_ref(), d.patch_severity().as_ref()),
        ("Security", "optional")
    );
    assert!(ev.cve_ids(d).is_empty());
    assert!(
        matches!(&ev.reasons(d)[0], Reason::ApprovedByRule { rule: 1, origin: Some(o), released: None, .. } if *o == "bookworm-security")
    );
    assert_eq!(
        reasons(&ev, "tzdata"),
        vec![Reason::NonSecurity { rule: 1 }]
    );
    // No archive offers `local`: its dpkg status entry is judged (payload: python-apt's
    // installed version), and it has no Priority here.
    assert_eq!(
        reasons(&ev, "local"),
        vec![Reason::RuleFilter {
            rule: 1,
            key: patch_baseline::model::FilterKey::Priority,
            value: None
        }]
    );
}

#[test]
fn enable_non_security_approves_everything_with_a_listed_priority() {
    let b = baseline(
        "DEBIAN",
        json!([rule(
            json!({"PRIORITY": ["Required", "Important", "Standard", "Optional", "Extra"]}),
            360,
            "UNSPECIFIED",
            true
        )]),
        json!({}),
    );
    let inv = sample();
    let ev = run_scan(&inv, &b);
    // ApproveAfterDays is ignored on apt: 360 days changes nothing.
    assert_states(
        &ev,
        &[
            ("tzdata", PatchState::Missing),
            ("untrusted", PatchState::Missing),
            ("libssl3", PatchState::Missing),
        ],
    );
    assert_eq!(decision(&ev, "tzdata").classification(), "");
}

#[test]
fn priority_section_and_product_filters() {
    let b = baseline(
        "DEBIAN",
        json!([rule(
            json!({"PRIORITY": ["Required", "Important"]}),
            0,
            "HIGH",
            false
        )]),
        json!({}),
    );
    let inv = sample();
    let ev = run_scan(&inv, &b);
    assert_states(
        &ev,
        &[
            ("libssl3", PatchState::InstalledOther),
            ("current", PatchState::Installed),
        ],
    );
    assert!(
        matches!(&reasons(&ev, "libssl3")[0], Reason::RuleFilter { key: patch_baseline::model::FilterKey::Priority, value: Some(v), .. } if *v == "optional")
    );
    let b = baseline(
        "DEBIAN",
        json!([rule(
            json!({"SECTION": ["universe/net", "LIBS"]}),
            0,
            "HIGH",
            false
        )]),
        json!({}),
    );
    assert_states(
        &run_scan(&sample(), &b),
        &[
            ("libssl3", PatchState::Missing),
            ("extra", PatchState::Missing),
            ("bysite", PatchState::InstalledOther),
        ],
    );
    // PRODUCT compares case-insensitively on apt.
    let b = baseline(
        "DEBIAN",
        json!([rule(json!({"PRODUCT": ["debian12"]}), 0, "HIGH", false)]),
        json!({}),
    );
    assert_states(
        &run_scan(&sample(), &b),
        &[("libssl3", PatchState::Missing)],
    );
    let b = baseline(
        "DEBIAN",
        json!([rule(json!({"PRODUCT": ["Debian11"]}), 0, "HIGH", false)]),
        json!({}),
    );
    assert_states(
        &run_scan(&sample(), &b),
        &[("libssl3", PatchState::InstalledOther)],
    );
}

#[test]
fn approved_and_rejected_lists() {
    // Approved list beats global filters (project decision); non-security needs the flag.
    let b = baseline(
        "DEBIAN",
        json!([]),
        json!({
        "GlobalFilters": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["Required"]}]},
        "ApprovedPatches": ["libssl3", "tzdata"], "ApprovedPatchesComplianceLevel": "CRITICAL"}),
    );
    let inv = sample();
    let ev = run_scan(&inv, &b);
    assert_states(
        &ev,
        &[
            ("libssl3", PatchState::Missing),
            ("tzdata", PatchState::InstalledOther),
            ("extra", PatchState::InstalledOther),
        ],
    );
    assert_eq!(ev.counts().critical_non_compliant, 1);
    let b = baseline(
        "DEBIAN",
        json!([]),
        json!({"ApprovedPatches": ["tzdata"], "ApprovedPatchesEnableNonSecurity": true}),
    );
    assert_states(&run_scan(&sample(), &b), &[("tzdata", PatchState::Missing)]);
    // The APT name forms: name.arch:version rejects just that version.
    for (action, state) in [
        ("BLOCK", PatchState::InstalledRejected),
        ("ALLOW_AS_DEPENDENCY", PatchState::InstalledOther),
    ] {
        let b = baseline(
            "DEBIAN",
            json!([rule(json!({"PRIORITY": ["*"]}), 0, "HIGH", false)]),
            json!({"RejectedPatches": ["current.amd64:1.1-1", "libssl*"], "RejectedPatchesAction": action}),
        );
        let inv = sample();
        let ev = run_scan(&inv, &b);
        assert_states(
            &ev,
            &[
                ("current", state),
                ("libssl3", state),
                ("extra", PatchState::Missing),
            ],
        );
    }
}

#[test]
fn install_and_pending_reboot_states_on_apt() {
    let mut doc = serde_json::to_value(sample()).unwrap();
    doc["pendingReboot"] = json!([{"name": "current", "arch": "amd64", "version": "1.1-1"}]);
    let inv = Inventory::from_json(&doc.to_string(), "inv.json").unwrap();
    let base = debian_default();
    let scan = run_scan(&inv, &base);
    assert_states(
        &scan,
        &[
            ("current", PatchState::InstalledPendingReboot),
            ("libssl3", PatchState::Missing),
        ],
    );
    let install = crate::util::run_with(
        &inv,
        &base,
        patch_baseline::evaluate::Operation::Install,
        None,
    );
    assert_states(
        &install,
        &[
            ("libssl3", PatchState::Failed),
            ("extra", PatchState::Failed),
            ("current", PatchState::InstalledPendingReboot),
        ],
    );
    let plan = scan.install_plan(None);
    assert!(
        plan.iter()
            .any(|p| p.name == "libssl3" && p.version == "3.0.17-1~deb12u3")
    );
}

/// The apt points of the payload (observed with AWS payload 1.80 on this Debian 12 host, the
/// oracle run of issue #12): every version above the installed one is judged with its own
/// origin; an installed version no archive offers is judged from dpkg's status entry; the
/// InstalledOther item carries the installed version's Priority and, when a security archive
/// offers it, Classification `Security`; a foreign-architecture package is `name:arch`.
#[test]
fn payload_apt_fields_and_versions() {
    let security = origin("bookworm-security", "security.debian.org", true);
    let main = origin("bookworm", "deb.debian.org", true);
    let mut doc = serde_json::to_value(apt(
        json!([
            inst("openssh-client", "1:9.2p1-2+deb12u6"),
            inst("curl", "7.88.1-10+deb12u99local"),
            inst("libssl3", "3.0.17-1~deb12u3"),
            {"name": "libc6", "arch": "i386", "version": "2.36-9"}
        ]),
        json!([
            avail("openssh-client", "1:9.2p1-2+deb12u9", json!([security.clone()]), "standard", "net"),
            avail("openssh-client", "1:9.2p1-2+deb12u10", json!([main.clone()]), "standard", "net"),
            avail("libssl3", "3.0.17-1~deb12u3", json!([security.clone()]), "optional", "libs"),
            {"name": "libc6", "arch": "i386", "version": "2.36-9+deb12u1", "origins": [security], "priority": "optional", "section": "libs"}
        ]),
    ))
    .unwrap();
    doc["installed"][1]["priority"] = json!("optional");
    doc["installed"][1]["section"] = json!("web");
    doc["nativeArchitecture"] = json!("amd64");
    let inv = Inventory::from_json(&doc.to_string(), "inv.json").unwrap();
    let default = debian_default();
    let ev = run_scan(&inv, &default);
    assert_states(
        &ev,
        &[
            ("openssh-client", PatchState::Missing),
            ("curl", PatchState::InstalledOther),
            ("libssl3", PatchState::Installed),
            ("libc6", PatchState::Missing),
        ],
    );
    // The -security fix that -updates' point release overtook is still Missing, at its version.
    let ssh = decision(&ev, "openssh-client");
    assert_eq!(ssh.version(), "1:9.2p1-2+deb12u9");
    assert_eq!(
        (ssh.classification().as_ref(), ssh.patch_severity().as_ref()),
        ("Security", "standard")
    );
    // Not offered by any archive: dpkg's Priority is reported.
    let curl = decision(&ev, "curl");
    assert_eq!(
        (
            curl.classification().as_ref(),
            curl.patch_severity().as_ref()
        ),
        ("", "optional")
    );
    assert_eq!(decision(&ev, "libc6").id(), "libc6:i386.i386");
    // An EnableNonSecurity rule approves the dpkg status entry itself: Installed.
    let all = baseline(
        "DEBIAN",
        json!([rule(json!({"PRIORITY": ["*"]}), 0, "MEDIUM", true)]),
        json!({}),
    );
    let ev = run_scan(&inv, &all);
    assert_eq!(decision(&ev, "curl").state, PatchState::Installed);
    assert_eq!(
        decision(&ev, "curl").compliance,
        patch_baseline::model::ComplianceLevel::Medium
    );
    // The InstalledOther item of an installed security version: Priority and Security.
    let sections = baseline(
        "DEBIAN",
        json!([rule(json!({"SECTION": ["admin"]}), 0, "HIGH", false)]),
        json!({}),
    );
    let ev = run_scan(&inv, &sections);
    let libssl = decision(&ev, "libssl3");
    assert_eq!(libssl.state, PatchState::InstalledOther);
    assert_eq!(
        (
            libssl.classification().as_ref(),
            libssl.patch_severity().as_ref()
        ),
        ("Security", "optional")
    );
}

/// The apt scan keeps packages that are not installed compact ([`NotInstalled`]): judged per
/// kind, by name only when a list names them. Every baseline counts them as the same packages
/// listed in full do.
#[test]
fn compact_not_installed_packages_count_as_listed_ones() {
    use patch_baseline::inventory::NotInstalled;
    let security = origin("bookworm-security", "security.debian.org", true);
    let updates = origin("bookworm-updates", "deb.debian.org", true);
    let plain = origin("bookworm", "deb.debian.org", true);
    let mut full = sample();
    let extra: Vec<Value> = vec![
        avail(
            "n-sec",
            "1.0",
            json!([security.clone()]),
            "optional",
            "libs",
        ),
        avail(
            "n-sec",
            "1.1",
            json!([security.clone(), plain.clone()]),
            "optional",
            "libs",
        ),
        avail("n-sec2", "2", json!([security.clone()]), "optional", "libs"),
        avail("n-upd", "1", json!([updates.clone()]), "required", "admin"),
        avail("n-opt", "1", json!([plain.clone()]), "optional", "utils"),
        avail("n-extra", "1", json!([plain.clone()]), "extra", "net"),
        avail("n-rej", "3", json!([security.clone()]), "important", "libs"),
        avail("n-appr", "4", json!([plain.clone()]), "standard", "misc"),
        json!({"name": "n-bare", "arch": "amd64", "version": "5", "origins": [plain.clone()]}),
    ];
    let extra: Vec<patch_baseline::inventory::AvailableVersion> =
        serde_json::from_value(Value::Array(extra)).unwrap();
    full.available.extend(extra.iter().cloned());
    let mut compact = sample();
    let mut set = NotInstalled::default();
    let mut at = 0;
    while at < extra.len() {
        let name = extra[at].name.clone();
        let same: Vec<_> = extra[at..].iter().take_while(|v| v.name == name).collect();
        let versions: Vec<(&str, usize)> = same
            .iter()
            .map(|v| {
                let kind = patch_baseline::inventory::AvailableVersion {
                    name: Default::default(),
                    arch: Default::default(),
                    version: Default::default(),
                    ..(*v).clone()
                };
                (v.version.as_str(), set.add_kind(kind))
            })
            .collect();
        assert!(set.push_package(&name, "amd64", versions));
        at += same.len();
    }
    compact.not_installed = set;
    let baselines = [
        debian_default(),
        baseline(
            "DEBIAN",
            json!([rule(
                json!({"PRIORITY": ["Required", "Optional"]}),
                0,
                "HIGH",
                true
            )]),
            json!({}),
        ),
        baseline(
            "DEBIAN",
            json!([rule(json!({"SECTION": ["libs"]}), 0, "HIGH", false)]),
            json!({"RejectedPatches": ["n-rej"], "ApprovedPatches": ["n-appr", "n-opt.amd64:1"],
                   "ApprovedPatchesEnableNonSecurity": true}),
        ),
        baseline(
            "DEBIAN",
            json!([rule(json!({"PRIORITY": ["*"]}), 0, "HIGH", true)]),
            json!({"GlobalFilters": {"PatchFilters": [{"Key": "SECTION", "Values": ["libs", "net"]}]},
                   "RejectedPatches": ["n-sec:1.1"], "RejectedPatchesAction": "BLOCK"}),
        ),
    ];
    let mut seen = Vec::new();
    for b in &baselines {
        let listed = run_scan(&full, b).counts();
        let counted = run_scan(&compact, b).counts();
        assert_eq!(counted, listed, "baseline {}", b.name);
        seen.push(listed.not_applicable);
    }
    // The baselines approve different not-installed packages: the counts are not all alike.
    assert!(seen.windows(2).any(|w| w[0] != w[1]), "{seen:?}");
    assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
    // Expanded, the compact set is the listed versions again.
    compact.expand_not_installed();
    assert!(compact.not_installed.is_empty());
    assert_eq!(compact.available, full.available);
}
