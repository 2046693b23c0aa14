//! The zypper backend against real zypper and rpm: packages built with `rpmbuild`, an rpm-md
//! repository made with `createrepo_c` and `modifyrepo_c` carrying SUSE-style patches, added to
//! an alternate root with `zypper --root`. Missing must equal what zypper's own `list-patches`
//! (with the matching `--category`/`--severity`/`--date`) and `list-updates` report.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::apt_root::{in_state, run};
use crate::dnf_root::{DnfRoot, missing, report};
use crate::util::{assert_code, binary};

/// One patch of a scenario: id, category, severity, days old, reboot flag, packages
/// (name, epoch, version).
pub struct PatchSpec {
    pub id: &'static str,
    pub category: &'static str,
    pub severity: Option<&'static str>,
    pub days_old: i64,
    pub reboot: bool,
    pub packages: Vec<(&'static str, u32, &'static str)>,
}

pub struct ZypperRoot {
    /// Builds the rpms and the repository (its own dnf root is not used).
    pub build: DnfRoot,
    pub root: PathBuf,
    pub patches: Vec<PatchSpec>,
}

impl ZypperRoot {
    pub fn new() -> Self {
        let build = DnfRoot::new();
        let root = build.base.join("zroot");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "NAME=\"SLES\"\nVERSION=\"15-SP5\"\nVERSION_ID=\"15.5\"\nID=\"sles\"\n",
        )
        .unwrap();
        Self {
            build,
            root,
            patches: Vec::new(),
        }
    }

    /// Runs zypper on the root; `ok` are the exit codes that count as success.
    pub fn zypper_codes(&self, args: &[&str], ok: &[i32]) -> String {
        let out = Command::new("zypper")
            .args(["--non-interactive", "--root", self.root.to_str().unwrap()])
            .args(args)
            .env("HOME", &self.build.home)
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        assert!(
            out.status.code().is_some_and(|c| ok.contains(&c)),
            "zypper {args:?}: {:?} {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Publishes the repository as it is and adds it to zypper as `test`.
    pub fn add_repo(&self) {
        self.build.publish("");
        self.zypper(&[
            "addrepo",
            "-G",
            &format!("file://{}", self.build.repo.display()),
            "test",
        ]);
        self.zypper(&["refresh"]);
    }

    pub fn zypper(&self, args: &[&str]) -> String {
        self.zypper_codes(args, &[0])
    }

    /// Publishes the repository with `patches` as its updateinfo and refreshes zypper.
    pub fn publish(&mut self, patches: Vec<PatchSpec>) {
        let updateinfo: String = patches.iter().map(suse_patch).collect();
        self.build.publish(&updateinfo);
        self.patches = patches;
        self.zypper(&["refresh"]);
    }

    pub fn scan(&self, extra: &[&str], env: &[(&str, &str)]) -> Value {
        let mut command = Command::new(binary());
        command
            .args(["scan", "--output", "json", "--read-only", "--no-refresh"])
            .args(["--root", self.root.to_str().unwrap()])
            .args(extra)
            .env("HOME", &self.build.home)
            .env("LC_ALL", "C");
        for (key, value) in env {
            command.env(key, value);
        }
        let out = command.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn install(&self, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut command = Command::new(binary());
        command
            .args(["install", "--output", "json", "--no-refresh"])
            .args(["--root", self.root.to_str().unwrap()])
            .args(extra)
            .env("HOME", &self.build.home)
            .env("LC_ALL", "C");
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().unwrap()
    }

    pub fn installed(&self) -> BTreeSet<String> {
        let out = run(Command::new("rpm")
            .env("HOME", &self.build.home)
            .arg(format!("--root={}", self.root.display()))
            .args(["-qa", "--qf", "%{NAME}-%{VERSION}\\n"]));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The patches `zypper list-patches ARGS` lists as needed.
    pub fn needed_patches(&self, args: &[&str]) -> BTreeSet<String> {
        // zypper leaves optional (and feature) patches out unless asked; the baseline decides.
        let mut all = vec!["--no-refresh", "list-patches", "--with-optional"];
        all.extend_from_slice(args);
        self.zypper_codes(&all, &[0, 100, 101])
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                (cells.len() >= 7 && cells[5] == "needed").then(|| cells[1].to_string())
            })
            .collect()
    }

    /// The packages (name, arch, version) the given patches bring, from the scenario.
    pub fn packages_of(&self, patches: &BTreeSet<String>) -> BTreeSet<(String, String, String)> {
        self.patches
            .iter()
            .filter(|p| patches.contains(p.id))
            .flat_map(|p| {
                p.packages.iter().map(|(name, epoch, version)| {
                    let version = if *epoch == 0 {
                        format!("{version}-1")
                    } else {
                        format!("{epoch}:{version}-1")
                    };
                    (name.to_string(), "noarch".to_string(), version)
                })
            })
            .collect()
    }

    /// What `zypper list-updates` lists, as (name, arch, version).
    pub fn list_updates(&self) -> BTreeSet<(String, String, String)> {
        self.zypper(&["--no-refresh", "list-updates"])
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                (cells.len() == 6 && cells[0] == "v").then(|| {
                    (
                        cells[2].to_string(),
                        cells[5].to_string(),
                        cells[4].to_string(),
                    )
                })
            })
            .collect()
    }
}

/// A SUSE-style patch as updateinfo: epoch-seconds dates, lower-case severity (or none), the
/// reboot flag inside `<package>` as SUSE writes it.
pub fn suse_patch(patch: &PatchSpec) -> String {
    let issued = (chrono::Utc::now() - chrono::Duration::days(patch.days_old)).timestamp();
    let severity = patch
        .severity
        .map(|s| format!("<severity>{s}</severity>"))
        .unwrap_or_default();
    let reboot = if patch.reboot {
        "<reboot_suggested>True</reboot_suggested>"
    } else {
        ""
    };
    let packages: String = patch
        .packages
        .iter()
        .map(|(n, e, v)| {
            format!("<package name=\"{n}\" epoch=\"{e}\" version=\"{v}\" release=\"1\" arch=\"noarch\" src=\"x\"><filename>{n}-{v}-1.noarch.rpm</filename>{reboot}</package>")
        })
        .collect();
    format!(
        "<update from=\"maint-coord@suse.de\" status=\"stable\" type=\"{}\" version=\"1\"><id>{}</id><title>t</title>{severity}<release>SUSE Updates</release><issued date=\"{issued}\"/><references><reference href=\"x\" id=\"CVE-{}\" title=\"t\" type=\"cve\"/><reference href=\"x\" id=\"12{}\" title=\"t\" type=\"bugzilla\"/></references><description>d</description><pkglist><collection>{packages}</collection></pkglist></update>",
        patch.category, patch.id, patch.id, patch.days_old
    )
}

fn spec(
    id: &'static str,
    category: &'static str,
    severity: Option<&'static str>,
    days_old: i64,
    packages: Vec<(&'static str, u32, &'static str)>,
) -> PatchSpec {
    PatchSpec {
        id,
        category,
        severity,
        days_old,
        reboot: false,
        packages,
    }
}

/// Version 1.0 of every package installed, then 1.1 published with patches of every category
/// and severity, dates on both sides of 7 days, an epoch, a patch with two versions of one
/// package, a reboot-suggesting patch and a package no patch names.
pub fn scenario() -> ZypperRoot {
    let mut z = ZypperRoot::new();
    let names = [
        "sec-crit", "sec-imp", "sec-mod", "sec-low", "rec", "opt", "feat", "fresh", "nosev",
        "boot", "plain",
    ];
    for name in names {
        z.build.rpm(name, None, "1.0");
    }
    z.build.rpm("ep", Some(2), "1.0");
    z.add_repo();
    let mut install = vec!["install", "--no-recommends", "ep"];
    install.extend_from_slice(&names);
    z.zypper(&install);
    for name in names {
        z.build.rpm(name, None, "1.1");
    }
    z.build.rpm("sec-imp", None, "1.2");
    z.build.rpm("ep", Some(2), "1.1");
    let mut boot = spec(
        "SUSE-SLE-Module-Basesystem-15-SP5-2026-11",
        "security",
        Some("important"),
        30,
        vec![("boot", 0, "1.1")],
    );
    boot.reboot = true;
    z.publish(vec![
        spec(
            "SUSE-SLE-Module-Basesystem-15-SP5-2026-1",
            "security",
            Some("critical"),
            30,
            vec![("sec-crit", 0, "1.1")],
        ),
        spec(
            "SUSE-SLE-Module-Basesystem-15-SP5-2026-2",
            "security",
            Some("important"),
            30,
            vec![("sec-imp", 0, "1.1"), ("sec-imp", 0, "1.2")],
        ),
        spec(
            "SUSE-SLE-Module-Basesystem-15-SP5-2026-3",
            "security",
            Some("moderate"),
            30,
            vec![("sec-mod", 0, "1.1")],
        ),
        spec(
            "SUSE-SLE-Module-Basesystem-15-SP5-2026-4",
            "security",
            Some("low"),
            30,
            vec![("sec-low", 0, "1.1")],
        ),
        spec(
            "SUSE-SLE-Module-Basesystem-15-SP5-2026-5",
            "recommended",
            Some("important"),
            30,
            vec![("rec", 0, "1.1")],
        ),
        spec(
            "SUSE-SLE-Module-Basesystem-15-SP5-2026-6",
            "optional",
            None,
            30,
            vec![("opt", 0, "1.1")],
        ),
        spec(
            "SUSE-SLE-Module-Basesystem-15-SP5-2026-7",
            "feature",
            Some("moderate"),
            30,
            vec![("feat", 0, "1.1")],
        ),
        spec(
            "SUSE-SLE-Module-Basesystem-15-SP5-2026-8",
            "security",
            Some("critical"),
            1,
            vec![("fresh", 0, "1.1")],
        ),
        spec(
            "SUSE-SLE-Module-Basesystem-15-SP5-2026-9",
            "security",
            None,
            30,
            vec![("nosev", 0, "1.1")],
        ),
        spec(
            "SUSE-SLE-Module-Basesystem-15-SP5-2026-10",
            "security",
            Some("important"),
            30,
            vec![("ep", 2, "1.1")],
        ),
        boot,
    ]);
    z
}

/// A SUSE baseline file with `rules` and `extra` top-level members.
pub fn suse_baseline(dir: &std::path::Path, name: &str, rules: &str, extra: &str) -> String {
    crate::dnf_root::baseline_for_os("SUSE", dir, name, rules, extra)
}

/// `--date` for `list-patches`: patches issued before the day `days` ago.
fn cutoff(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

#[test]
fn suse_default_baseline_agrees_with_zypper_list_patches() {
    let z = scenario();
    let scan = z.scan(&[], &[]);
    assert_eq!(
        (
            scan["operatingSystem"].as_str(),
            scan["product"].as_str(),
            scan["packageManager"].as_str()
        ),
        (Some("SUSE"), Some("Suse15.5"), Some("zypper"))
    );
    // AWS-SuseDefaultPatchBaseline: Security, Critical and Important, 7 days.
    let needed = z.needed_patches(&[
        "--category",
        "security",
        "--severity",
        "critical,important",
        "--date",
        &cutoff(7),
    ]);
    assert_eq!(needed.len(), 4, "{needed:?}");
    let expected = z.packages_of(&needed);
    // One patch lists two versions of sec-imp: the newest approved one is Missing.
    let expected: BTreeSet<_> = expected
        .into_iter()
        .filter(|(n, _, v)| !(n == "sec-imp" && v == "1.1-1"))
        .collect();
    assert_eq!(missing(&scan), expected);
    // The fresh critical patch is held back by the delay only.
    let fresh = z.needed_patches(&["--category", "security", "--severity", "critical"]);
    assert!(fresh.contains("SUSE-SLE-Module-Basesystem-15-SP5-2026-8"));
    assert!(!missing(&scan).iter().any(|(n, _, _)| n == "fresh"));
    let packages = scan["packages"].as_array().unwrap();
    // Classification, severity and the CVE come from the patch, in zypper's lower case as the
    // payload reports them (its items carry zypper's `category` and `severity` as they are).
    let crit = packages.iter().find(|p| p["name"] == "sec-crit").unwrap();
    assert_eq!(
        (
            crit["classification"].as_str(),
            crit["patchSeverity"].as_str(),
            crit["cveIds"][0].as_str()
        ),
        (
            Some("security"),
            Some("critical"),
            Some("CVE-SUSE-SLE-Module-Basesystem-15-SP5-2026-1")
        ),
        "{crit}"
    );
}

#[test]
fn custom_suse_baselines_agree_with_zypper_filters() {
    let z = scenario();
    let cases: [(&str, &str, Vec<&str>); 4] = [
        (
            "recommended",
            r#"[{"Key": "CLASSIFICATION", "Values": ["Recommended"]}]"#,
            vec!["--category", "recommended"],
        ),
        (
            "optional-feature",
            r#"[{"Key": "CLASSIFICATION", "Values": ["Optional", "Feature"]}]"#,
            vec!["--category", "optional,feature"],
        ),
        (
            "moderate-low",
            r#"[{"Key": "SEVERITY", "Values": ["Moderate", "Low"]}]"#,
            vec!["--severity", "moderate,low"],
        ),
        (
            "security-any",
            r#"[{"Key": "CLASSIFICATION", "Values": ["Security"]}]"#,
            vec!["--category", "security"],
        ),
    ];
    for (name, filters, args) in cases {
        let baseline = suse_baseline(
            &z.build.base,
            name,
            &format!(
                r#"{{"PatchFilterGroup": {{"PatchFilters": {filters}}}, "ApproveAfterDays": 0}}"#
            ),
            "",
        );
        let scan = z.scan(&["--baseline", &baseline], &[]);
        let needed = z.needed_patches(&args);
        let expected: BTreeSet<_> = z
            .packages_of(&needed)
            .into_iter()
            .filter(|(n, _, v)| !(n == "sec-imp" && v == "1.1-1"))
            .collect();
        assert_eq!(missing(&scan), expected, "{name}: {needed:?}");
    }
    // No enableNonSecurity gate on SUSE: `*` approves the package no patch names too, and
    // then Missing is what `list-updates` offers.
    let baseline = suse_baseline(
        &z.build.base,
        "everything",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["*"]}]}, "ApproveAfterDays": 0}"#,
        "",
    );
    assert_eq!(
        missing(&z.scan(&["--baseline", &baseline], &[])),
        z.list_updates()
    );
}

#[test]
fn approved_patch_names_range_forms_and_file_names() {
    let z = scenario();
    let nothing = r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Document"]}]}, "ApproveAfterDays": 0}"#;
    let baseline = suse_baseline(
        &z.build.base,
        "approved",
        nothing,
        r#", "ApprovedPatches": ["SUSE-SLE-Module-Basesystem-15-SP5-2026-6", "plain > 1.0", "feat-1.1-1.noarch.rpm"], "RejectedPatches": ["sec-imp = 1.2*"]"#,
    );
    let scan = z.scan(&["--baseline", &baseline], &[]);
    let names: BTreeSet<String> = missing(&scan).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(
        names,
        ["feat", "opt", "plain"].map(String::from).into(),
        "{scan}"
    );
    // A rejected range: the installed version is outside it, the 1.2 update inside.
    let rejected = in_state(&scan, "InstalledOther");
    assert!(rejected.contains_key(&("sec-imp".to_string(), "noarch".to_string())));
}

#[test]
fn native_scan_equals_zyppers_own_view() {
    let z = scenario();
    // A user's lock on one package (held: reported, never installed) and one on an edition.
    z.zypper(&["addlock", "plain"]);
    z.zypper(&["addlock", "sec-imp = 1.2-1"]);
    let baseline = suse_baseline(
        &z.build.base,
        "everything",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["*"]}]}, "ApproveAfterDays": 0}"#,
        "",
    );
    let native = z.scan(&["--baseline", &baseline], &[]);
    let asked = z.scan(
        &["--baseline", &baseline],
        &[("PATCH_BASELINE_AVAILABLE_FROM", "package-manager")],
    );
    assert_eq!(native["packages"], asked["packages"]);
    // zypper agrees: the locked edition and the locked package are not updates.
    let updates = z.list_updates();
    let mut expected = missing(&native);
    assert!(expected.remove(&("plain".into(), "noarch".into(), "1.1-1".into())));
    assert_eq!(expected, updates);
    assert!(updates.contains(&("sec-imp".into(), "noarch".into(), "1.1-1".into())));
    let plain = native["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "plain")
        .unwrap();
    assert!(plain["reasons"].to_string().contains("held"), "{plain}");
}

#[test]
fn zypper_install_then_rescan_and_patch_check() {
    let z = scenario();
    z.zypper(&["addlock", "rec"]);
    let locks_before = std::fs::read(z.root.join("etc/zypp/locks")).unwrap();
    let out = z.install(&["--reboot-option", "NoReboot"], &[]);
    assert_code(&out, 0);
    let installed = z.installed();
    for package in ["sec-crit-1.1", "sec-imp-1.2", "ep-1.1", "boot-1.1"] {
        assert!(installed.contains(package), "{package}: {installed:?}");
    }
    for package in ["fresh-1.0", "sec-mod-1.0", "rec-1.0", "plain-1.0"] {
        assert!(installed.contains(package), "{package} untouched");
    }
    let scan = z.scan(&[], &[]);
    assert!(missing(&scan).is_empty(), "{scan}");
    // zypper has nothing left for the approved patches.
    let needed = z.needed_patches(&["--category", "security", "--severity", "critical,important"]);
    assert_eq!(
        needed,
        ["SUSE-SLE-Module-Basesystem-15-SP5-2026-8".to_string()].into(),
        "only the fresh patch"
    );
    assert_eq!(
        std::fs::read(z.root.join("etc/zypp/locks")).unwrap(),
        locks_before,
        "the user's lock is left as it was"
    );
    // A second install changes nothing.
    let out = z.install(&["--reboot-option", "NoReboot"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(z.installed(), installed);
}

/// `need` 1.1 requires `rej` ≥ 1.1; the baseline rejects `rej` 1.1 by range.
fn block_scenario(z: &mut ZypperRoot) {
    z.build.rpm("need", None, "1.0");
    z.build.rpm("rej", None, "1.0");
    z.add_repo();
    z.zypper(&["install", "--no-recommends", "need", "rej"]);
    z.build
        .rpm_with("need", None, "1.1", "Requires: rej >= 1.1\n");
    z.build.rpm("rej", None, "1.1");
    z.publish(vec![spec(
        "SUSE-2026-40",
        "security",
        Some("critical"),
        30,
        vec![("need", 0, "1.1")],
    )]);
}

#[test]
fn zypper_block_locks_rejected_packages_only_for_the_transaction() {
    let mut z = ZypperRoot::new();
    block_scenario(&mut z);
    z.zypper(&["addlock", "unrelated*"]);
    let locks_before = std::fs::read(z.root.join("etc/zypp/locks")).unwrap();
    let rules = r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]}, "ApproveAfterDays": 0}"#;
    let block = suse_baseline(
        &z.build.base,
        "block",
        rules,
        r#", "RejectedPatches": ["rej > 1.0"], "RejectedPatchesAction": "BLOCK""#,
    );
    let out = z.install(&["--baseline", &block, "--reboot-option", "NoReboot"], &[]);
    assert_code(&out, 2);
    let warnings = report(&out)["warnings"].to_string();
    assert!(
        warnings.contains("need.noarch 1.1-1 would bring in rej-1.1-1.noarch"),
        "{warnings}"
    );
    assert!(z.installed().contains("need-1.0") && z.installed().contains("rej-1.0"));
    assert_eq!(
        std::fs::read(z.root.join("etc/zypp/locks")).unwrap(),
        locks_before,
        "our locks are gone, the user's stays"
    );
    // ALLOW_AS_DEPENDENCY: the rejected version comes in as a dependency.
    let allow = suse_baseline(
        &z.build.base,
        "allow",
        rules,
        r#", "RejectedPatches": ["rej > 1.0"], "RejectedPatchesAction": "ALLOW_AS_DEPENDENCY""#,
    );
    let out = z.install(&["--baseline", &allow, "--reboot-option", "NoReboot"], &[]);
    assert_code(&out, 0);
    assert!(z.installed().contains("need-1.1") && z.installed().contains("rej-1.1"));
    let packages = report(&out)["packages"].clone();
    let rej = packages
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "rej")
        .unwrap();
    // Rejected, yet in with ALLOW_AS_DEPENDENCY: not InstalledRejected; this NoReboot run
    // installed it, so it waits for the reboot.
    assert_eq!(rej["state"], "InstalledPendingReboot", "{rej}");
}

#[test]
fn zypper_locks_left_by_a_crashed_install_are_removed_by_the_next() {
    let mut z = ZypperRoot::new();
    block_scenario(&mut z);
    // A run that added its lock and was killed: the lock and its journal remain.
    z.zypper(&["addlock", "rej = 1.1-1"]);
    let journal = z
        .root
        .join("var/log/amazon/ssm/patch-configuration/patch-baseline-zypper-locks.txt");
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    std::fs::write(&journal, "rej = 1.1-1\n").unwrap();
    // The scan does not count it as the administrator's lock.
    let rules = r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]}, "ApproveAfterDays": 0}"#;
    let baseline = suse_baseline(&z.build.base, "plain", rules, "");
    let scan = z.scan(&["--baseline", &baseline], &[]);
    assert!(
        missing(&scan).contains(&("need".into(), "noarch".into(), "1.1-1".into())),
        "{scan}"
    );
    let out = z.install(
        &["--baseline", &baseline, "--reboot-option", "NoReboot"],
        &[],
    );
    assert_code(&out, 0);
    assert!(z.installed().contains("need-1.1"));
    assert!(!journal.exists());
    assert!(
        z.zypper(&["locks"]).contains("no package locks"),
        "the leftover lock is gone"
    );
}

#[test]
fn zypper_reboot_suggesting_patch_asks_for_a_reboot() {
    let z = scenario();
    let boot_time = chrono::Utc::now().timestamp().to_string();
    let env = [("PATCH_BASELINE_BOOT_TIME", boot_time.as_str())];
    // A patch without the flag first: no reboot.
    let list = z.build.base.join("only-crit.yaml");
    std::fs::write(&list, "patches:\n  - id: 'sec-crit'\n").unwrap();
    let out = z.install(
        &[
            "--reboot-option",
            "RebootIfRequired",
            "--install-override-list",
            list.to_str().unwrap(),
        ],
        &env,
    );
    assert_code(&out, 0);
    // Then the rest, which includes the patch with reboot_suggested.
    let out = z.install(&["--reboot-option", "RebootIfRequired"], &env);
    assert_code(&out, 194);
    let warnings = report(&out)["warnings"].to_string();
    assert!(
        warnings.contains("the system asks for a reboot: boot"),
        "{warnings}"
    );
    assert!(z.installed().contains("boot-1.1"));
}

#[test]
fn zypper_install_waits_for_zyppers_lock_and_names_the_holder() {
    let z = scenario();
    let mut other = Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::create_dir_all(z.root.join("run")).unwrap();
    std::fs::write(z.root.join("run/zypp.pid"), other.id().to_string()).unwrap();
    let before = z.installed();
    let out = z.install(&["--lock-timeout", "1"], &[]);
    other.kill().unwrap();
    other.wait().unwrap();
    assert_eq!(out.status.code(), Some(75));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "locked by the application with pid {} (sleep)",
            other.id()
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(z.installed(), before, "nothing changed");
}

#[test]
fn a_failing_repository_is_named_and_the_cache_still_used() {
    let z = scenario();
    z.zypper(&[
        "addrepo",
        "-G",
        "file:///nonexistent/patch-baseline",
        "gone",
    ]);
    let out = Command::new(binary())
        .args(["scan", "--output", "json", "--read-only"])
        .args(["--root", z.root.to_str().unwrap()])
        .env("HOME", &z.build.home)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert_code(&out, 0);
    let scan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = scan["warnings"].to_string();
    assert!(warnings.contains("repository `gone` failed"), "{warnings}");
    assert!(!missing(&scan).is_empty());
}
