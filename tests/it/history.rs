//! The run history (issue #18) against real package managers in alternate roots: every
//! recording scan and install appends one record, `--read-only` none; `history` lists the runs,
//! `diff` shows newly Missing with its advisory (dnf, zypper), approved by the passing of time
//! (`--now` past `ApproveAfterDays`), newly installed and pending reboot (apt, dnf, zypper);
//! the cap drops the oldest runs, and a tracked set over the cap is left out until it fits; torn and damaged histories never fail a scan.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::apt_root::{AptRoot, patch_env, scenario};
use crate::dnf_root::{DnfRoot, advisory, al2023_baseline, days_ago};
use crate::util::{assert_code, binary};

fn history_file(root: &Path) -> PathBuf {
    root.join("var/log/amazon/ssm/patch-configuration/patch-baseline-history.jsonl")
}

/// Runs the binary with `args` and `env`.
fn pb(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary());
    command.args(args).env("LC_ALL", "C");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn json(out: &Output) -> Value {
    assert_code(out, 0);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn text(out: &Output) -> String {
    assert_code(out, 0);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The runs `history --output json` lists.
pub fn runs(root: &Path) -> Vec<Value> {
    let out = pb(
        &[
            "history",
            "--root",
            root.to_str().unwrap(),
            "--output",
            "json",
        ],
        &[],
    );
    json(&out)["runs"].as_array().unwrap().clone()
}

fn diff(root: &Path, since: Option<&str>) -> Value {
    let mut args = vec!["diff", "--root", root.to_str().unwrap(), "--output", "json"];
    if let Some(since) = since {
        args.extend(["--since", since]);
    }
    json(&pb(&args, &[]))
}

/// The ids of a diff list.
fn ids(diff: &Value, list: &str) -> Vec<String> {
    diff[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {diff}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

const OLD_BOOT: &str = "1000000000";

/// The ids (`name.arch`) of a report's packages in `state`.
fn in_state(report: &Value, state: &str) -> Vec<String> {
    report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == state)
        .map(|p| {
            format!(
                "{}.{}",
                p["name"].as_str().unwrap(),
                p["arch"].as_str().unwrap()
            )
        })
        .collect()
}

/// A recording scan of the apt root.
fn apt_scan(apt: &AptRoot, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let root = apt.root.to_str().unwrap();
    let scan = ["scan", "--root", root, "--no-refresh", "--output", "json"];
    let mut env = env.to_vec();
    env.push(("PATCH_BASELINE_BOOT_TIME", OLD_BOOT));
    pb(&[&scan[..], extra].concat(), &env)
}

#[test]
fn history_apt_scan_install_diff_and_read_only() {
    let apt = scenario();
    let scan = json(&apt_scan(&apt, &[], &[]));
    let missing = in_state(&scan, "Missing");
    assert!(
        missing.contains(&"sec-pkg.amd64".to_string()),
        "{missing:?}"
    );
    let first = runs(&apt.root);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["run"], 1);
    assert_eq!(first[0]["operation"], "Scan");
    assert_eq!(
        first[0]["counts"]["Missing"].as_u64().unwrap() as usize,
        missing.len()
    );
    // A read-only scan records nothing.
    json(&apt_scan(&apt, &["--read-only"], &[]));
    assert_eq!(runs(&apt.root).len(), 1);
    // The first diff is from the history's start: everything Missing is new.
    let start = diff(&apt.root, None);
    assert!(start["since"].is_null());
    let mut from_start = ids(&start, "newlyMissing");
    from_start.extend(ids(&start, "approvedByTime"));
    from_start.sort();
    let mut expected = missing.clone();
    expected.sort();
    assert_eq!(from_start, expected);

    let snapshot = "0b5f0f6c-3a2e-4a55-9d43-3d3c0e0f1a2b";
    let out = patch_env(
        &apt,
        &["--reboot-option", "NoReboot", "--snapshot-id", snapshot],
        &[("PATCH_BASELINE_BOOT_TIME", OLD_BOOT)],
    );
    assert_code(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pending = in_state(&report, "InstalledPendingReboot");
    assert!(pending.contains(&"sec-pkg.amd64".to_string()));
    let all = runs(&apt.root);
    assert_eq!(all.len(), 2);
    assert_eq!(all[1]["run"], 2);
    assert_eq!(all[1]["operation"], "Install");
    assert_eq!(all[1]["snapshotId"], snapshot);
    assert_ne!(all[0]["snapshotId"], all[1]["snapshotId"]);

    let changed = diff(&apt.root, None);
    assert_eq!(changed["since"]["run"], 1);
    assert_eq!(changed["until"]["run"], 2);
    let mut became_pending = ids(&changed, "pendingReboot");
    became_pending.sort();
    let mut pending_sorted = pending.clone();
    pending_sorted.sort();
    assert_eq!(became_pending, pending_sorted);
    let installed = &changed["installed"];
    let sec = installed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "sec-pkg.amd64")
        .unwrap_or_else(|| panic!("sec-pkg not installed in {changed}"));
    assert_eq!(sec["from"], "1.0-1");
    assert_eq!(sec["version"], "1.1-1");
    // Everything the install left Missing was Missing before: nothing newly Missing.
    assert!(ids(&changed, "newlyMissing").is_empty(), "{changed}");
    // `--since 1` and `--since` a time between the runs say the same.
    assert_eq!(diff(&apt.root, Some("1")), changed);
    let between = all[0]["time"].as_str().unwrap();
    assert_eq!(diff(&apt.root, Some(between)), changed);

    // The tables.
    let root = apt.root.to_str().unwrap();
    let table = text(&pb(&["history", "--root", root], &[]));
    assert!(table.starts_with(" RUN  TIME"), "{table}");
    assert!(table.contains(snapshot), "{table}");
    let table = text(&pb(&["diff", "--root", root], &[]));
    assert!(table.contains("newly installed ("), "{table}");
    assert!(table.contains("sec-pkg.amd64  1.0-1 -> 1.1-1"), "{table}");
    assert!(table.contains("became pending reboot ("), "{table}");
    // Unknown runs are usage errors; an empty history is no input.
    assert_code(&pb(&["diff", "--root", root, "--since", "99"], &[]), 64);
    let empty = tempfile::tempdir().unwrap();
    assert_code(
        &pb(&["diff", "--root", empty.path().to_str().unwrap()], &[]),
        66,
    );
    assert!(
        text(&pb(
            &["history", "--root", empty.path().to_str().unwrap()],
            &[]
        ))
        .contains("no run recorded")
    );
}

#[test]
fn history_cap_drops_the_oldest_runs() {
    let apt = scenario();
    json(&apt_scan(&apt, &[], &[]));
    json(&apt_scan(&apt, &[], &[]));
    let file = history_file(&apt.root);
    // The records are small (the first run's tracked set is in the base file): room for four
    // (times vary by a few digits: some slack, far less than a record). A fifth drops the
    // oldest down to three quarters of the cap: three records.
    let text = std::fs::read_to_string(&file).unwrap();
    let longest = text.lines().map(str::len).max().unwrap();
    let cap = (4 * (longest + 1) + 40).to_string();
    let env = [("PATCH_BASELINE_HISTORY_MAX_BYTES", cap.as_str())];
    for _ in 0..8 {
        json(&apt_scan(&apt, &[], &env));
    }
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size <= cap.parse().unwrap(), "{size} > {cap}");
    let kept = runs(&apt.root);
    // Runs 1-4 fit; 5 drops to 3-5; 7 to 5-7; 9 to 7-9; then 10.
    assert_eq!(kept.len(), 4, "{kept:?}");
    assert_eq!(kept.last().unwrap()["run"], 10);
    assert_eq!(kept[0]["run"], 7);
    // The base file holds the oldest kept run's tracked set.
    let base: Value = serde_json::from_slice(
        &std::fs::read(file.with_file_name("patch-baseline-history-base.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(base["run"], kept[0]["run"]);
    assert!(!base["tracked"].as_array().unwrap().is_empty(), "{base}");
    // The rebased first run still replays to the same tracked set: nothing changed since.
    let oldest = kept[0]["run"].to_string();
    let since = diff(&apt.root, Some(&oldest));
    for list in [
        "newlyMissing",
        "approvedByTime",
        "installed",
        "failed",
        "resolved",
    ] {
        assert!(ids(&since, list).is_empty(), "{list}: {since}");
    }
    // Without the cap, every run is kept.
    json(&apt_scan(&apt, &[], &[]));
    assert_eq!(runs(&apt.root).len(), kept.len() + 1);
}

#[test]
fn history_over_the_cap_keeps_counts_and_installs_then_restarts() {
    let apt = scenario();
    let root = apt.root.to_str().unwrap();
    // A cap of 10 bytes makes the base file's cap 40: not one tracked package fits.
    let tiny = [("PATCH_BASELINE_HISTORY_MAX_BYTES", "10")];
    let out = apt_scan(&apt, &[], &tiny);
    let scan = json(&out);
    assert!(!in_state(&scan, "Missing").is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("over the history's cap of 40 bytes"),
        "{stderr}"
    );
    let base_file = history_file(&apt.root).with_file_name("patch-baseline-history-base.json");
    let base: Value = serde_json::from_slice(&std::fs::read(&base_file).unwrap()).unwrap();
    assert_eq!(base["run"], 1);
    assert_eq!(base["untracked"], true, "{base}");
    assert!(base["tracked"].as_array().unwrap().is_empty(), "{base}");
    // The install is over the cap too: its counts and what it installed are kept (alone: the
    // history file's cap of 10 bytes holds the newest record only).
    let mut env = tiny.to_vec();
    env.push(("PATCH_BASELINE_BOOT_TIME", OLD_BOOT));
    assert_code(&patch_env(&apt, &["--reboot-option", "NoReboot"], &env), 0);
    let kept = runs(&apt.root);
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (&kept[0]["run"], &kept[0]["tracked"]),
        (&2.into(), &false.into())
    );
    assert_eq!(kept[0]["operation"], "Install");
    assert!(
        kept[0]["counts"]["InstalledPendingReboot"]
            .as_u64()
            .unwrap()
            > 0
    );
    let table = text(&pb(&["history", "--root", root], &[]));
    assert!(table.contains("-: the run's packages"), "{table}");
    let over = diff(&apt.root, None);
    assert!(
        over["incomplete"].as_str().unwrap().starts_with("run 2's"),
        "{over}"
    );
    assert!(ids(&over, "installed").contains(&"sec-pkg.amd64".to_string()));
    for list in ["newlyMissing", "pendingReboot", "resolved"] {
        assert!(ids(&over, list).is_empty(), "{list}: {over}");
    }
    let table = text(&pb(&["diff", "--root", root], &[]));
    assert!(table.contains("incomplete: run 2's"), "{table}");
    // Found by its install time; the version before is not known without the set.
    assert!(table.contains("  sec-pkg.amd64  1.1-1\n"), "{table}");
    // Under the default cap the next run starts the tracked set again: its record holds the
    // whole set, and diffs from it on are complete.
    let scan = json(&apt_scan(&apt, &[], &[]));
    let pending = in_state(&scan, "InstalledPendingReboot");
    assert!(pending.contains(&"sec-pkg.amd64".to_string()));
    let lines = std::fs::read_to_string(history_file(&apt.root)).unwrap();
    let third: Value = serde_json::from_str(lines.lines().nth(1).unwrap()).unwrap();
    assert_eq!(third["run"], 3);
    assert_eq!(third["restart"], true, "{third}");
    let mut expected = pending.clone();
    expected.sort();
    assert_eq!(pending_in(&third["changes"]), expected);
    // From run 2 (not kept) to 3: incomplete; from 3 to 4: complete, nothing changed.
    assert!(diff(&apt.root, None)["incomplete"].is_string());
    json(&apt_scan(&apt, &[], &[]));
    let complete = diff(&apt.root, None);
    assert!(complete.get("incomplete").is_none(), "{complete}");
    assert_eq!(complete["since"]["run"], 3);
    for list in ["newlyMissing", "pendingReboot", "installed", "resolved"] {
        assert!(ids(&complete, list).is_empty(), "{list}: {complete}");
    }
    // Dropping the oldest runs folds the restart into the base: a base file with the set.
    let cap = (std::fs::metadata(history_file(&apt.root)).unwrap().len() / 2).to_string();
    let env = [("PATCH_BASELINE_HISTORY_MAX_BYTES", cap.as_str())];
    json(&apt_scan(&apt, &[], &env));
    let base: Value = serde_json::from_slice(&std::fs::read(&base_file).unwrap()).unwrap();
    assert!(base.get("untracked").is_none(), "{base}");
    let kept = runs(&apt.root);
    assert_eq!(base["run"], kept[0]["run"]);
    assert!(kept[0]["run"].as_u64().unwrap() >= 3, "{kept:?}");
    assert_eq!(pending_in(&base["tracked"]), expected);
}

/// The sorted ids of the `InstalledPendingReboot` entries of a list of history entries.
fn pending_in(entries: &Value) -> Vec<String> {
    let mut ids: Vec<String> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "InstalledPendingReboot")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn history_torn_and_damaged_files_never_fail_a_scan() {
    let apt = scenario();
    let file = history_file(&apt.root);
    let inode =
        |file: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(file).unwrap());
    json(&apt_scan(&apt, &[], &[]));
    let (first, first_inode) = (std::fs::read(&file).unwrap(), inode(&file));
    // A run that only adds its record appends that line to the file as it was (the same
    // file, its bytes kept).
    json(&apt_scan(&apt, &[], &[]));
    let second = std::fs::read(&file).unwrap();
    assert!(second.starts_with(&first) && second.len() > first.len());
    assert_eq!(inode(&file), first_inode);
    // A torn last record (a crash mid-write, a full disk).
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(b"{\"run\": 3, \"time\": \"2026-");
    std::fs::write(&file, &bytes).unwrap();
    let out = apt_scan(&apt, &[], &[]);
    assert_code(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("torn record"), "{stderr}");
    let kept: Vec<u64> = runs(&apt.root)
        .iter()
        .map(|r| r["run"].as_u64().unwrap())
        .collect();
    assert_eq!(kept, [1, 2, 3]);
    // The torn line is gone: that run rewrote the file (a new one in its place).
    let repaired = std::fs::read(&file).unwrap();
    assert!(!String::from_utf8_lossy(&repaired).contains("\"run\": 3"));
    assert!(repaired.starts_with(&bytes[..bytes.len() - 26]));
    let repaired_inode = inode(&file);
    assert_ne!(repaired_inode, first_inode);
    // The next run appends to it again.
    json(&apt_scan(&apt, &[], &[]));
    let appended = std::fs::read(&file).unwrap();
    assert!(appended.starts_with(&repaired) && appended.len() > repaired.len());
    assert_eq!(inode(&file), repaired_inode);
    // A damaged record in the middle: skipped, the file kept aside, the rest kept.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "garbage";
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = apt_scan(&apt, &[], &[]);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unreadable record"));
    let aside = file.with_file_name("patch-baseline-history.jsonl.corrupt");
    assert!(std::fs::read_to_string(aside).unwrap().contains("garbage"));
    let kept: Vec<u64> = runs(&apt.root)
        .iter()
        .map(|r| r["run"].as_u64().unwrap())
        .collect();
    assert_eq!(kept, [1, 3, 4, 5]);
    // A file that is nothing but garbage: a new history.
    std::fs::write(&file, "\u{0}\u{1}not a history\n").unwrap();
    json(&apt_scan(&apt, &[], &[]));
    let kept = runs(&apt.root);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["run"], 1);
    // An unwritable history (a folder in its place) warns; the scan succeeds.
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let out = apt_scan(&apt, &[], &[]);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: history"));
}

fn dnf_scan(dnf: &DnfRoot, baseline: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "scan",
        "--root",
        dnf.root.to_str().unwrap(),
        "--no-refresh",
        "--baseline",
        baseline,
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    json(&pb(&args, &[("HOME", dnf.home.to_str().unwrap())]))
}

#[test]
fn history_dnf_newly_missing_with_its_advisory_and_approved_by_time() {
    let dnf = DnfRoot::new();
    for name in ["old-sec", "new-sec", "quiet"] {
        dnf.rpm(name, None, "1.0");
    }
    dnf.publish("");
    dnf.dnf(&["-y", "install", "old-sec", "new-sec", "quiet"]);
    let baseline = al2023_baseline(
        &dnf.base,
        "week",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]}, "ApproveAfterDays": 7}"#,
        "",
    );
    let first = dnf_scan(&dnf, &baseline, &[]);
    assert!(in_state(&first, "Missing").is_empty());

    // Two security updates: one released a month ago, one two days ago (too recent for 7 days).
    dnf.rpm("old-sec", None, "1.1");
    dnf.rpm("new-sec", None, "1.1");
    dnf.rpm("quiet", None, "1.1");
    dnf.publish(
        &[
            advisory(
                "ALAS2023-2026-101",
                "security",
                Some("Important"),
                &days_ago(30),
                &[("old-sec", 0, "1.1")],
            ),
            advisory(
                "ALAS2023-2026-102",
                "security",
                Some("Critical"),
                &days_ago(2),
                &[("new-sec", 0, "1.1")],
            ),
        ]
        .concat(),
    );
    dnf.dnf(&["makecache"]);
    let second = dnf_scan(&dnf, &baseline, &[]);
    assert_eq!(in_state(&second, "Missing"), ["old-sec.noarch"]);
    let published = diff(&dnf.root, None);
    assert_eq!(ids(&published, "newlyMissing"), ["old-sec.noarch"]);
    assert!(ids(&published, "approvedByTime").is_empty());
    let change = &published["newlyMissing"][0];
    assert_eq!(change["advisory"], "ALAS2023-2026-101");
    assert_eq!(change["advisories"][0], "ALAS2023-2026-101");
    assert!(change["approved"].as_str().unwrap().starts_with("1.1"));
    assert!(change["installed"].as_str().unwrap().starts_with("1.0"));

    // Six days on, nothing published: the seven days of new-sec have passed.
    let later = (chrono::Utc::now() + chrono::Duration::days(6)).to_rfc3339();
    let third = dnf_scan(&dnf, &baseline, &["--now", &later]);
    let mut now_missing = in_state(&third, "Missing");
    now_missing.sort();
    assert_eq!(now_missing, ["new-sec.noarch", "old-sec.noarch"]);
    let aged = diff(&dnf.root, None);
    assert_eq!(ids(&aged, "approvedByTime"), ["new-sec.noarch"]);
    assert!(ids(&aged, "newlyMissing").is_empty(), "{aged}");
    assert_eq!(aged["approvedByTime"][0]["advisory"], "ALAS2023-2026-102");
    // Since the first run, old-sec is a new publication, new-sec too (released after it ran).
    let mut since_first = ids(&diff(&dnf.root, Some("1")), "newlyMissing");
    since_first.sort();
    assert_eq!(since_first, ["new-sec.noarch", "old-sec.noarch"]);
    let table = text(&pb(&["diff", "--root", dnf.root.to_str().unwrap()], &[]));
    assert!(
        table.contains("approved by the passing of time (now Missing) (1):\n  new-sec.noarch  1.1"),
        "{table}"
    );

    // The install (security updates at once; `install` plans with the clock, not `--now`):
    // both installed, pending reboot; quiet (not approved) stays.
    let at_once = al2023_baseline(
        &dnf.base,
        "now",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]}, "ApproveAfterDays": 0}"#,
        "",
    );
    let out = dnf.install(
        &["--baseline", &at_once, "--reboot-option", "NoReboot"],
        &[("PATCH_BASELINE_BOOT_TIME", "1")],
    );
    assert_code(&out, 0);
    let installed = diff(&dnf.root, None);
    let mut got: Vec<(String, String)> = installed["installed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(got.len(), 2, "{installed}");
    assert_eq!(got[0].0, "new-sec.noarch");
    assert_eq!(got[1].0, "old-sec.noarch");
    assert!(got.iter().all(|(_, v)| v.starts_with("1.1")), "{got:?}");
    let mut pending = ids(&installed, "pendingReboot");
    pending.sort();
    assert_eq!(pending, ["new-sec.noarch", "old-sec.noarch"]);
    assert!(ids(&installed, "resolved").is_empty());
    let all = runs(&dnf.root);
    let operations: Vec<&str> = all
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["Scan", "Scan", "Scan", "Install"]);
    assert_eq!(all[2]["baselineName"], "week");
    assert_eq!(all[3]["baselineName"], "now");
}

#[test]
fn history_zypper_scan_then_install() {
    let z = crate::zypper_root::scenario();
    let root = z.root.to_str().unwrap();
    let home = [("HOME", z.build.home.to_str().unwrap())];
    let scan = json(&pb(
        &["scan", "--root", root, "--no-refresh", "--output", "json"],
        &home,
    ));
    let mut missing = in_state(&scan, "Missing");
    missing.sort();
    assert!(!missing.is_empty());
    // One run: from the history's start, everything Missing is new, each with its patch.
    let start = diff(&z.root, None);
    assert_eq!(ids(&start, "newlyMissing"), missing);
    for change in start["newlyMissing"].as_array().unwrap() {
        let patch = change["advisories"][0].as_str().unwrap_or_default();
        assert!(patch.starts_with("SUSE-"), "{change}");
    }
    let out = z.install(&["--reboot-option", "NoReboot"], &[]);
    assert_code(&out, 0);
    let mut pending = in_state(&crate::dnf_root::report(&out), "InstalledPendingReboot");
    pending.sort();
    assert!(!pending.is_empty());
    let after = diff(&z.root, None);
    let installed: Vec<String> = after["installed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(installed, pending);
    assert_eq!(ids(&after, "pendingReboot"), pending);
    assert!(ids(&after, "newlyMissing").is_empty(), "{after}");
    let operations: Vec<String> = runs(&z.root)
        .iter()
        .map(|r| r["operation"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(operations, ["Scan", "Install"]);
}
