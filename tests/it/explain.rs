//! `explain`: the decision trace of named packages, on real dnf, apt and zypper roots (checked against
//! `scan` of the same root and against the facts the roots were built with) and on a recorded
//! inventory with approved and rejected lists.

use std::process::{Command, Output};

use serde_json::Value;

use crate::apt_root;
use crate::dnf_root;
use crate::util::{assert_code, binary, repo_root};

fn explain(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary());
    command.arg("explain").args(args).env("LC_ALL", "C");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn json(out: &Output) -> Value {
    assert_code(out, 0);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The trace of `id` (`name.arch`) in an `explain --output json` document.
fn trace<'d>(document: &'d Value, id: &str) -> &'d Value {
    document["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no trace of {id}: {document:#}"))
}

/// The version the trace says the decision took.
fn chosen(trace: &Value) -> Option<&str> {
    let chosen: Vec<&Value> = trace["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["chosen"] == true)
        .collect();
    assert!(chosen.len() <= 1, "{trace:#}");
    chosen.first().map(|v| v["version"].as_str().unwrap())
}

/// The trace's state and chosen version are the scan's for the same package.
fn agrees_with_scan(package: &Value, scan: &Value) {
    let reported = scan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == package["name"] && p["arch"] == package["arch"])
        .unwrap_or_else(|| panic!("the scan has no {package:#}"));
    assert_eq!(package["state"], reported["state"], "{package:#}");
    assert_eq!(package["approvedVersion"], reported["approvedVersion"]);
    assert_eq!(
        chosen(package),
        reported["approvedVersion"].as_str(),
        "{package:#}"
    );
}

#[test]
fn explain_on_a_dnf_root_agrees_with_scan_and_names_the_check_that_decided() {
    let dnf = dnf_root::scenario();
    let root = dnf.root.to_str().unwrap();
    let home = [("HOME", dnf.home.to_str().unwrap())];
    let scan = dnf.scan(&["--no-refresh"]);
    let out = explain(
        &[
            "--root",
            root,
            "--no-refresh",
            "--output",
            "json",
            "sec-*",
            "fresh",
            "bug.noarch",
            "no-such-package",
        ],
        &home,
    );
    let document = json(&out);
    assert_eq!(
        document["unmatched"],
        serde_json::json!(["no-such-package"])
    );
    let packages = document["packages"].as_array().unwrap();
    let names: Vec<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bug", "fresh", "sec-imp", "sec-low", "sec-mod"]);
    // Every trace agrees with the scan's decision of the same package.
    for package in packages {
        agrees_with_scan(package, &scan);
        // Every version above the installed one is judged, then the installed one (the
        // repository still offers 1.0, which was installed from it).
        let versions = package["versions"].as_array().unwrap();
        let last = versions.last().unwrap();
        assert_eq!(
            (&last["installed"], &last["offered"], &last["version"]),
            (
                &Value::Bool(true),
                &Value::Bool(true),
                &Value::from("1.0-1")
            ),
            "{package:#}"
        );
        assert_eq!(versions.first().unwrap()["version"], "1.1-1", "{package:#}");
    }
    // fresh: its advisory was issued a day ago, the default baseline waits 7 days; the trace
    // shows the date used and the cutoff, and that this is what failed.
    let fresh = trace(&document, "fresh.noarch");
    assert_eq!(fresh["state"], "InstalledOther");
    let view = &fresh["versions"][0]["views"][0];
    assert_eq!(view["through"]["id"], "ALAS2023-2026-004");
    let security_rule = view["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["filters"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["passes"] == true)
        })
        .unwrap_or_else(|| panic!("no rule whose filters pass: {view:#}"));
    assert_eq!(security_rule["gatePasses"], true);
    assert_eq!(security_rule["date"]["passes"], false, "{security_rule:#}");
    assert_eq!(security_rule["approves"], false);
    let released =
        chrono::DateTime::parse_from_rfc3339(security_rule["date"]["released"].as_str().unwrap())
            .unwrap();
    let cutoff =
        chrono::DateTime::parse_from_rfc3339(security_rule["date"]["cutoff"].as_str().unwrap())
            .unwrap();
    let now = chrono::DateTime::parse_from_rfc3339(document["now"].as_str().unwrap()).unwrap();
    assert_eq!(now - cutoff, chrono::Duration::days(7));
    // The advisory was written a day before the scenario was built, moments before this.
    let age = now - released;
    assert!(
        age >= chrono::Duration::days(1) && age < chrono::Duration::days(2),
        "released {released}, now {now}"
    );
    // sec-low: its severity is the value that failed, as the advisory gives it.
    let low = trace(&document, "sec-low.noarch");
    let failed: Vec<(&str, &str)> = low["versions"][0]["views"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["filters"].as_array().unwrap())
        .filter(|f| f["passes"] == false)
        .map(|f| {
            (
                f["key"].as_str().unwrap(),
                f["value"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(failed.contains(&("SEVERITY", "Low")), "{failed:?}");
    // sec-imp is Missing at 1.1, approved by a rule whose every check passed.
    let important = trace(&document, "sec-imp.noarch");
    assert_eq!(important["state"], "Missing");
    let approving = important["versions"][0]["views"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["approves"] == true)
        .count();
    assert_eq!(approving, 1, "{important:#}");

    // The readable form says the same, and explain records nothing on the root.
    let out = explain(&["--root", root, "--no-refresh", "fresh"], &home);
    assert_code(&out, 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("fresh.noarch: InstalledOther"), "{text}");
    assert!(
        text.contains("through advisory ALAS2023-2026-004"),
        "{text}"
    );
    assert!(text.contains(": fail\n"), "{text}");
    assert!(!dnf.root.join("var/log/amazon/ssm").exists());

    // Nothing matches: a usage error naming the patterns.
    let out = explain(&["--root", root, "--no-refresh", "nothing*", "none"], &home);
    assert_code(&out, 64);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`nothing*`, `none`"), "{stderr}");
}

#[test]
fn explain_on_an_apt_root_shows_holds_origins_and_every_version() {
    let apt = apt_root::scenario();
    let root = apt.root.to_str().unwrap();
    let scan = apt.scan(&["--no-refresh"]);
    let document = json(&explain(
        &["--root", root, "--no-refresh", "--output", "json", "*-pkg"],
        &[],
    ));
    let packages = document["packages"].as_array().unwrap();
    assert_eq!(
        packages.len(),
        scan["packages"].as_array().unwrap().len(),
        "every package of the scan matches `*-pkg`"
    );
    for package in packages {
        agrees_with_scan(package, &scan);
    }
    // held-pkg is held by dpkg: the trace says so; its security update is still approved.
    let held = trace(&document, "held-pkg.amd64");
    assert_eq!(held["held"], true);
    assert_eq!(chosen(held), Some("1.1-1"));
    let view = &held["versions"][0]["views"][0];
    assert_eq!(view["through"]["kind"], "stanza");
    assert_eq!(view["security"], true);
    assert_eq!(view["origin"], "bookworm-security");
    // both-pkg: -updates' 3.2-1 is judged first and fails the security gate; -security's 3.1-1
    // wins; the installed 3.0-1 is judged last.
    let both = trace(&document, "both-pkg.amd64");
    let versions: Vec<(&str, bool)> = both["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_str().unwrap(), v["approved"] == true))
        .collect();
    assert_eq!(
        versions,
        [("3.2-1", false), ("3.1-1", true), ("3.0-1", false)]
    );
    let gate: Vec<&Value> = both["versions"][0]["views"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["gatePasses"])
        .collect();
    assert!(gate.contains(&&Value::Bool(false)), "{both:#}");
    let text =
        String::from_utf8(explain(&["--root", root, "--no-refresh", "held-pkg"], &[]).stdout)
            .unwrap();
    assert!(text.contains("held by the host"), "{text}");
    assert!(text.contains("security origin bookworm-security"), "{text}");
}

#[test]
fn explain_of_an_inventory_names_the_list_entries() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("lists.json");
    std::fs::write(
        &baseline,
        r#"{"Name": "lists", "OperatingSystem": "AMAZON_LINUX_2023",
            "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [
              {"Key": "CLASSIFICATION", "Values": ["Security"]}]}, "ApproveAfterDays": 0,
              "ComplianceLevel": "HIGH"}]},
            "ApprovedPatches": ["systemd", "curl"], "ApprovedPatchesComplianceLevel": "MEDIUM",
            "RejectedPatches": ["sudo*"]}"#,
    )
    .unwrap();
    let inventory = repo_root().join("fixtures/inventories/al2023-mixed.json");
    let args = |package: &'static str| {
        vec![
            "--inventory".to_string(),
            inventory.to_string_lossy().into_owned(),
            "--baseline".into(),
            baseline.to_string_lossy().into_owned(),
            "--now".into(),
            "2024-06-01T00:00:00Z".into(),
            "--output".into(),
            "json".into(),
            package.into(),
        ]
    };
    let run = |package| {
        let args = args(package);
        json(&explain(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            &[],
        ))
    };
    // sudo: the rejected list names every version, which decides before anything else.
    let sudo = run("sudo");
    let sudo = trace(&sudo, "sudo.x86_64");
    assert_eq!(sudo["state"], "InstalledOther");
    for version in sudo["versions"].as_array().unwrap() {
        assert_eq!(version["rejectedBy"], "sudo*", "{version:#}");
        assert_eq!(version["approved"], false);
    }
    // systemd's update is a bugfix the rule does not approve; the approved list names it and
    // approves it: with ApprovedPatchesEnableNonSecurity false an entry needs an advisory with a
    // classification, which it has.
    let systemd = run("systemd");
    let systemd = trace(&systemd, "systemd.x86_64");
    let newest = &systemd["versions"][0];
    assert_eq!(newest["approvedBy"], "systemd");
    assert_eq!(newest["approvedListApplies"], true);
    assert_eq!(newest["compliance"], "MEDIUM");
    assert_eq!(systemd["state"], "Missing");
    // curl: the list and the security rule both approve; the higher level counts.
    let curl = run("curl");
    let curl = trace(&curl, "curl.x86_64");
    assert_eq!(curl["versions"][0]["approvedBy"], "curl");
    assert_eq!(curl["compliance"], "HIGH");
    assert_eq!(curl["state"], "Missing");
}

#[test]
fn explain_on_a_zypper_root_shows_locks_severities_and_agrees_with_scan() {
    let z = crate::zypper_root::scenario();
    // A lock on the package (held) and one on an edition (that version hidden).
    z.zypper(&["addlock", "plain"]);
    z.zypper(&["addlock", "sec-imp = 1.2-1"]);
    let home = [("HOME", z.build.home.to_str().unwrap())];
    let scan = z.scan(&[], &[]);
    let root = z.root.to_str().unwrap();
    let names = ["sec-imp", "sec-low", "plain", "fresh"];
    let args = [
        &["--root", root, "--no-refresh", "--output", "json"][..],
        &names,
    ]
    .concat();
    let document = json(&explain(&args, &home));
    assert_eq!(document["packageManager"], "zypper");
    for package in document["packages"].as_array().unwrap() {
        agrees_with_scan(package, &scan);
    }
    // sec-imp: 1.2-1 is locked, so zypper offers only 1.1-1, which the default SUSE baseline
    // approves (Security, important, 30 days old); the locked one is named, not judged.
    let sec_imp = trace(&document, "sec-imp.noarch");
    assert_eq!(
        (&sec_imp["state"], chosen(sec_imp)),
        (&Value::from("Missing"), Some("1.1-1"))
    );
    let judged: Vec<&str> = sec_imp["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(judged, ["1.1-1", "1.0-1"]);
    assert_eq!(
        sec_imp["hiddenByHost"],
        serde_json::json!([{"name": "sec-imp", "arch": "noarch", "version": "1.2-1", "repository": "test"}])
    );
    let view = &sec_imp["versions"][0]["views"][0];
    assert_eq!(
        view["through"]["id"],
        "SUSE-SLE-Module-Basesystem-15-SP5-2026-2"
    );
    assert_eq!(
        (&view["classification"], &view["severity"]),
        (&"Security".into(), &"important".into())
    );
    // sec-low: the rule's SEVERITY filter fails on the patch's actual value.
    let sec_low = trace(&document, "sec-low.noarch");
    assert_eq!(sec_low["state"], "InstalledOther");
    let filters = &sec_low["versions"][0]["views"][0]["rules"][0]["filters"];
    let severity = filters
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "SEVERITY")
        .unwrap();
    assert_eq!(
        (&severity["value"], &severity["passes"]),
        (&"low".into(), &false.into())
    );
    // plain: locked as a whole, held; its newer version is judged (and reported) all the same.
    let plain = trace(&document, "plain.noarch");
    assert_eq!(plain["held"], true);
    assert!(plain["hiddenByHost"].as_array().unwrap().is_empty());
    // fresh: its patch is a day old, the baseline waits 7 days.
    let fresh = trace(&document, "fresh.noarch");
    assert_eq!(
        fresh["versions"][0]["views"][0]["rules"][0]["date"]["passes"],
        false
    );
    // The table says the same.
    let out = explain(&["--root", root, "--no-refresh", "sec-imp", "plain"], &home);
    assert_code(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1.2-1 hidden by the host's configuration (exclude, includepkgs or a lock on it), in test"),
        "{text}"
    );
    assert!(text.contains("held by the host"), "{text}");
}
