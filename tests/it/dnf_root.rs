//! The dnf scan against real dnf and rpm: packages built with `rpmbuild`, a repository made with
//! `createrepo_c` and `modifyrepo_c` (updateinfo), installed into an alternate root with
//! `dnf --installroot`. Missing must equal what dnf's own `updateinfo list` and `check-update`
//! report for the same baseline rules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::apt_root::{in_state, run, scan_json_env, write_baseline};
use crate::util::{assert_code, binary};

pub struct DnfRoot {
    _dir: tempfile::TempDir,
    pub base: PathBuf,
    pub root: PathBuf,
    pub repo: PathBuf,
    pub home: PathBuf,
}

pub fn days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

impl DnfRoot {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_path_buf();
        let (root, repo, home) = (base.join("root"), base.join("repo"), base.join("home"));
        for d in [
            root.join("etc/dnf"),
            root.join("etc/yum.repos.d"),
            repo.clone(),
            home.clone(),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        // Debian's rpm keeps its database under ~/.rpmdb; point it at /var/lib/rpm as on EL.
        std::fs::write(home.join(".rpmmacros"), "%_dbpath /var/lib/rpm\n").unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "NAME=\"Amazon Linux\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/dnf/dnf.conf"),
            "[main]\ngpgcheck=0\nbest=False\nskip_if_unavailable=False\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/yum.repos.d/test.repo"),
            format!(
                "[test]\nname=test\nbaseurl=file://{}\ngpgcheck=0\nmetadata_expire=0\n",
                repo.display()
            ),
        )
        .unwrap();
        Self {
            _dir: dir,
            base,
            root,
            repo,
            home,
        }
    }

    pub fn rpm(&self, name: &str, epoch: Option<u32>, version: &str) {
        self.rpm_with(name, epoch, version, "");
    }

    /// An rpm with extra spec header lines (`Requires: …`).
    pub fn rpm_with(&self, name: &str, epoch: Option<u32>, version: &str, header: &str) {
        self.rpm_into(&self.repo, name, epoch, version, header);
    }

    /// An rpm written into `dir` (another repository).
    pub fn rpm_into(
        &self,
        dir: &std::path::Path,
        name: &str,
        epoch: Option<u32>,
        version: &str,
        header: &str,
    ) {
        let spec = self.base.join(format!("{name}-{version}.spec"));
        let epoch = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
        std::fs::write(&spec, format!(
            "Name: {name}\n{epoch}Version: {version}\nRelease: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\nAutoReqProv: no\n{header}%description\nt\n%files\n"
        )).unwrap();
        run(Command::new("rpmbuild")
            .env("HOME", &self.home)
            .args(["-bb", "--define"])
            .arg(format!("_topdir {}", self.base.join("rpmbuild").display()))
            .arg("--define")
            .arg(format!("_rpmdir {}", dir.display()))
            .arg(&spec));
    }

    pub fn publish(&self, updateinfo: &str) {
        run(Command::new("createrepo_c").arg("-q").arg(&self.repo));
        if !updateinfo.is_empty() {
            let file = self.base.join("updateinfo.xml");
            std::fs::write(
                &file,
                format!("<?xml version=\"1.0\"?>\n<updates>{updateinfo}</updates>\n"),
            )
            .unwrap();
            run(Command::new("modifyrepo_c")
                .arg("--mdtype=updateinfo")
                .arg(&file)
                .arg(self.repo.join("repodata")));
        }
    }

    pub fn dnf(&self, args: &[&str]) -> String {
        let out = Command::new("dnf")
            .arg(format!("--installroot={}", self.root.display()))
            .arg("-q")
            .args(args)
            .env("HOME", &self.home)
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 100)),
            "dnf {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn scan(&self, extra: &[&str]) -> Value {
        let mut args = vec!["--root", self.root.to_str().unwrap(), "--read-only"];
        args.extend_from_slice(extra);
        scan_json_env(&args, &[("HOME", self.home.to_str().unwrap())])
    }
}

pub fn advisory(
    id: &str,
    kind: &str,
    severity: Option<&str>,
    issued: &str,
    packages: &[(&str, u32, &str)],
) -> String {
    let severity = severity
        .map(|s| format!("<severity>{s}</severity>"))
        .unwrap_or_default();
    let packages: String = packages
        .iter()
        .map(|(n, e, v)| format!("<package name=\"{n}\" epoch=\"{e}\" version=\"{v}\" release=\"1\" arch=\"noarch\"><filename>{n}-{v}-1.noarch.rpm</filename></package>"))
        .collect();
    format!(
        "<update from=\"t\" status=\"final\" type=\"{kind}\" version=\"2\"><id>{id}</id><title>{id}</title><issued date=\"{issued}\"/>{severity}<references><reference href=\"x\" id=\"CVE-{id}\" type=\"cve\"/></references><pkglist><collection short=\"c\">{packages}</collection></pkglist></update>"
    )
}

/// NEVRAs as `name-[epoch:]version-release.arch` strings → (name, arch, evr).
pub fn nevra(text: &str) -> (String, String, String) {
    let (rest, arch) = text.rsplit_once('.').unwrap();
    let (rest, release) = rest.rsplit_once('-').unwrap();
    let (name, version) = rest.rsplit_once('-').unwrap();
    let version = version.strip_prefix("0:").unwrap_or(version);
    (
        name.to_string(),
        arch.to_string(),
        format!("{version}-{release}"),
    )
}

/// A baseline file for Amazon Linux 2023 with `rules` and `extra` top-level members.
pub fn al2023_baseline(dir: &std::path::Path, name: &str, rules: &str, extra: &str) -> String {
    baseline_for_os("AMAZON_LINUX_2023", dir, name, rules, extra)
}

/// A baseline file for `os` with `rules` and `extra` top-level members.
pub fn baseline_for_os(
    os: &str,
    dir: &std::path::Path,
    name: &str,
    rules: &str,
    extra: &str,
) -> String {
    let path = write_baseline(dir, name, rules, extra);
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"DEBIAN\"", &format!("\"{os}\"")),
    )
    .unwrap();
    path
}

/// A baseline approving every update at once, security or not (what `dnf check-update` offers).
pub fn approve_everything(dnf: &DnfRoot) -> String {
    al2023_baseline(
        &dnf.base,
        "all",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["*"]}]}, "ApproveAfterDays": 0, "EnableNonSecurity": true}"#,
        "",
    )
}

/// What `dnf check-update` lists, as (name, arch, version).
pub fn check_update(dnf: &DnfRoot) -> BTreeSet<(String, String, String)> {
    dnf.dnf(&["check-update"])
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3).then(|| {
                let (name, arch) = f[0].rsplit_once('.').unwrap();
                (name.to_string(), arch.to_string(), f[1].to_string())
            })
        })
        .collect()
}

pub fn missing(scan: &Value) -> BTreeSet<(String, String, String)> {
    in_state(scan, "Missing")
        .into_iter()
        .map(|((n, a), v)| (n, a, v))
        .collect()
}

pub fn scenario() -> DnfRoot {
    let dnf = DnfRoot::new();
    let names = [
        "sec-imp", "bug", "sec-low", "fresh", "plain", "sec-mod", "enh",
    ];
    for name in names {
        dnf.rpm(name, None, "1.0");
    }
    dnf.rpm("ep", Some(2), "1.0");
    dnf.publish("");
    let mut install = vec!["-y", "install", "ep"];
    install.extend_from_slice(&names);
    dnf.dnf(&install);
    for name in names {
        dnf.rpm(name, None, "1.1");
    }
    dnf.rpm("ep", Some(2), "1.1");
    let old = days_ago(30);
    let updateinfo = [
        advisory(
            "ALAS2023-2026-001",
            "security",
            Some("Important"),
            &old,
            &[("sec-imp", 0, "1.1"), ("sec-imp", 0, "0.9")],
        ),
        advisory(
            "ALAS2023-2026-002",
            "bugfix",
            None,
            &old,
            &[("bug", 0, "1.1")],
        ),
        advisory(
            "ALAS2023-2026-003",
            "security",
            Some("Low"),
            &old,
            &[("sec-low", 0, "1.1")],
        ),
        advisory(
            "ALAS2023-2026-004",
            "security",
            Some("Critical"),
            &days_ago(1),
            &[("fresh", 0, "1.1")],
        ),
        advisory(
            "ALAS2023-2026-005",
            "security",
            Some("Critical"),
            &old,
            &[("ep", 2, "1.1")],
        ),
        advisory(
            "ALAS2023-2026-006",
            "security",
            Some("Moderate"),
            &old,
            &[("sec-mod", 0, "1.1")],
        ),
        advisory(
            "ALAS2023-2026-007",
            "enhancement",
            None,
            &old,
            &[("enh", 0, "1.1")],
        ),
    ]
    .concat();
    dnf.publish(&updateinfo);
    dnf.dnf(&["makecache"]);
    dnf
}

#[test]
fn dnf_scan_agrees_with_dnf_updateinfo_and_check_update() {
    let dnf = scenario();
    let scan = dnf.scan(&["--no-refresh"]);
    assert_eq!(
        (scan["operatingSystem"].as_str(), scan["product"].as_str()),
        (Some("AMAZON_LINUX_2023"), Some("AmazonLinux2023"))
    );
    let ours = missing(&scan);
    // A relative --root is taken from the current directory (rpm itself refuses one).
    let relative = Command::new(binary())
        .current_dir(&dnf.base)
        .args([
            "scan",
            "--root",
            "root",
            "--no-refresh",
            "--read-only",
            "--output",
            "json",
        ])
        .env("HOME", &dnf.home)
        .output()
        .unwrap();
    assert_eq!(missing(&report(&relative)), ours);
    let to_set = |text: String| -> BTreeSet<(String, String, String)> {
        text.lines()
            .filter_map(|l| l.split_whitespace().nth(2))
            .map(nevra)
            .collect()
    };
    // The AL2023 default baseline: Security with Critical/Important, and Bugfix; 7 days.
    // (dnf ORs --security with --sec-severity; --sec-severity alone means security of those severities.)
    let mut theirs = to_set(dnf.dnf(&[
        "updateinfo",
        "list",
        "--sec-severity=Critical",
        "--sec-severity=Important",
    ]));
    theirs.extend(to_set(dnf.dnf(&["updateinfo", "list", "--bugfix"])));
    // dnf has no approval delay: `fresh` (issued a day ago) is the one difference.
    assert!(
        theirs.remove(&("fresh".into(), "noarch".into(), "1.1-1".into())),
        "{theirs:?}"
    );
    assert_eq!(ours, theirs);
    assert_eq!(ours.len(), 3, "sec-imp, bug, ep");
    assert!(ours.contains(&("ep".into(), "noarch".into(), "2:1.1-1".into())));
    let fresh = scan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "fresh")
        .unwrap();
    assert_eq!(fresh["reasons"][0]["kind"], "tooRecent");

    // Every update, no delay, non-security too: exactly `dnf check-update`.
    let all = approve_everything(&dnf);
    let everything = missing(&dnf.scan(&["--no-refresh", "--baseline", &all]));
    let check_update = check_update(&dnf);
    assert_eq!(everything, check_update);
    assert_eq!(everything.len(), 8);
}

impl DnfRoot {
    pub fn install(&self, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut command = Command::new(binary());
        command
            .args([
                "install",
                "--root",
                self.root.to_str().unwrap(),
                "--no-refresh",
            ])
            .args(["--output", "json"])
            .args(extra)
            .env("HOME", &self.home)
            .env("LC_ALL", "C");
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().unwrap()
    }

    pub fn installed(&self) -> BTreeSet<String> {
        let out = run(Command::new("rpm")
            .env("HOME", &self.home)
            .arg(format!("--root={}", self.root.display()))
            .args(["-qa", "--qf", "%{NAME}-%{VERSION}\\n"]));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

pub fn report(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn dnf_install_then_rescan_reports_installed_and_dnf_agrees() {
    let dnf = scenario();
    let before = missing(&dnf.scan(&["--no-refresh"]));
    let out = dnf.install(
        &["--reboot-option", "NoReboot"],
        &[("PATCH_BASELINE_BOOT_TIME", "1")],
    );
    assert_code(&out, 0);
    let after = report(&out);
    let installed = in_state(&after, "InstalledPendingReboot");
    let installed: BTreeSet<(String, String, String)> =
        installed.into_iter().map(|((n, a), v)| (n, a, v)).collect();
    assert_eq!(
        installed, before,
        "exactly the approved updates were installed"
    );
    assert!(in_state(&after, "Missing").is_empty());
    // Exactly those versions, nothing else: sec-low, fresh and plain keep 1.0.
    let rpms = dnf.installed();
    for expected in [
        "sec-imp-1.1",
        "bug-1.1",
        "ep-1.1",
        "sec-low-1.0",
        "fresh-1.0",
        "plain-1.0",
    ] {
        assert!(rpms.contains(expected), "{expected} in {rpms:?}");
    }
    // dnf has nothing left for the default baseline's advisories.
    let left = dnf.dnf(&[
        "updateinfo",
        "list",
        "--sec-severity=Critical",
        "--sec-severity=Important",
        "--bugfix",
    ]);
    assert!(
        left.lines().all(|l| l.contains("fresh-1.1")),
        "dnf still offers: {left}"
    );
    // A second install has nothing to do.
    let last = dnf
        .root
        .join("var/log/amazon/ssm/patch-configuration/patch-inventory-from-last-operation.json");
    std::fs::remove_file(&last).unwrap();
    // Forget the first install's LastNoRebootInstallOperationTime.
    std::fs::remove_file(last.with_file_name("patch-states-configuration.json")).unwrap();
    let again = dnf.install(&["--reboot-option", "NoReboot"], &[]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(dnf.installed(), rpms);
    // Even a NoReboot install that installed nothing records its time, as the payload does.
    let summary: Value = serde_json::from_slice(&std::fs::read(&last).unwrap()).unwrap();
    assert!(
        summary["Content"][0]["LastNoRebootInstallOperationTime"].is_string(),
        "{summary}"
    );
}

#[test]
fn dnf_block_keeps_rejected_dependencies_out_and_allow_lets_them_in() {
    let dnf = DnfRoot::new();
    dnf.rpm("app", None, "1.0");
    dnf.rpm("lib", None, "1.0");
    dnf.publish("");
    dnf.dnf(&["-y", "install", "app", "lib"]);
    // app 1.1 needs lib >= 1.1; lib 1.1 is rejected.
    dnf.rpm_with("app", None, "1.1", "Requires: lib >= 1.1\n");
    dnf.rpm("lib", None, "1.1");
    dnf.rpm("other", None, "1.0");
    let old = days_ago(30);
    dnf.publish(&advisory(
        "ALAS2023-2026-010",
        "security",
        Some("Critical"),
        &old,
        &[("app", 0, "1.1")],
    ));
    dnf.dnf(&["makecache"]);
    let baseline = |action: &str| {
        al2023_baseline(
            &dnf.base,
            action,
            r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]}, "ApproveAfterDays": 0}"#,
            &format!(r#", "RejectedPatches": ["lib-1.1*"], "RejectedPatchesAction": "{action}""#),
        )
    };
    let block = baseline("BLOCK");
    let out = dnf.install(&["--baseline", &block], &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let warnings = report(&out)["warnings"].to_string();
    assert!(
        warnings.contains(
            "not installed: app.noarch 1.1-1 would bring in lib-1.1-1.noarch, which RejectedPatches blocks"
        ),
        "{warnings}"
    );
    assert!(dnf.installed().contains("app-1.0") && dnf.installed().contains("lib-1.0"));

    let allow = baseline("ALLOW_AS_DEPENDENCY");
    let out = dnf.install(&["--baseline", &allow, "--reboot-option", "NoReboot"], &[]);
    assert_code(&out, 0);
    let rpms = dnf.installed();
    assert!(
        rpms.contains("app-1.1") && rpms.contains("lib-1.1"),
        "{rpms:?}"
    );
    assert!(!rpms.contains("other-1.0"), "only what the plan needs");
}

#[test]
fn dnf_install_waits_for_a_held_rpm_lock_and_names_the_holder() {
    let dnf = scenario();
    let lock = dnf.root.join("var/lib/rpm/.rpm.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, "").unwrap();
    let mut holder = Command::new("flock")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let before = dnf.installed();
    let out = dnf.install(&["--lock-timeout", "1"], &[]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(out.status.code(), Some(75));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the package database is locked: held by process")
            && (stderr.contains("(flock)") || stderr.contains("(sleep)")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(dnf.installed(), before, "nothing changed");
}

#[test]
fn dnf_install_waits_for_another_dnf_and_names_it() {
    let dnf = scenario();
    let mut other = Command::new("sleep").arg("30").spawn().unwrap();
    let pid_file = dnf.root.join("var/lib/dnf/rpmdb_lock.pid");
    std::fs::create_dir_all(pid_file.parent().unwrap()).unwrap();
    std::fs::write(&pid_file, other.id().to_string()).unwrap();
    let before = dnf.installed();
    let out = dnf.install(&["--lock-timeout", "1"], &[]);
    other.kill().unwrap();
    other.wait().unwrap();
    assert_eq!(out.status.code(), Some(75));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("held by process {} (sleep)", other.id())),
        "{stderr}"
    );
    assert_eq!(dnf.installed(), before, "nothing changed");
}

#[test]
fn dnf_reboot_rule_reboot_if_required() {
    let dnf = DnfRoot::new();
    dnf.rpm("kernel-fx", None, "1.0");
    dnf.rpm("tool", None, "1.0");
    dnf.publish("");
    dnf.dnf(&["-y", "install", "kernel-fx", "tool"]);
    dnf.rpm("kernel-fx", None, "1.1");
    dnf.rpm("tool", None, "1.1");
    let old = days_ago(30);
    dnf.publish(
        &[
            advisory(
                "ALAS2023-2026-020",
                "security",
                Some("Important"),
                &old,
                &[("tool", 0, "1.1")],
            ),
            advisory(
                "ALAS2023-2026-021",
                "security",
                Some("Important"),
                &old,
                &[("kernel-fx", 0, "1.1")],
            ),
        ]
        .concat(),
    );
    dnf.dnf(&["makecache"]);
    // Only `tool` first (the override list picks it): nothing the reboot rule names.
    let list = dnf.base.join("only-tool.yaml");
    std::fs::write(&list, "patches:\n  - id: 'tool'\n").unwrap();
    // The machine "booted" after the fixtures were first installed, before this install.
    let boot = chrono::Utc::now().timestamp().to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let env = [("PATCH_BASELINE_BOOT_TIME", boot.as_str())];
    let out = dnf.install(
        &[
            "--reboot-option",
            "RebootIfRequired",
            "--install-override-list",
            list.to_str().unwrap(),
        ],
        &env,
    );
    assert_code(&out, 0);
    assert!(dnf.installed().contains("tool-1.1"));
    // Then the kernel: installed after boot, so the OS needs a reboot.
    let out = dnf.install(&["--reboot-option", "RebootIfRequired"], &env);
    assert_code(&out, 194);
    let warnings = report(&out)["warnings"].to_string();
    assert!(
        warnings.contains("the system asks for a reboot: kernel-fx"),
        "{warnings}"
    );
}

/// A second and third repository, priorities, a disabled repository, global and per-repository
/// excludes and includepkgs: the natively read view must equal dnf's own.
#[test]
fn native_view_equals_dnf_with_priorities_excludes_and_disabled_repos() {
    let dnf = DnfRoot::new();
    for name in ["prio", "plain", "excl", "rexcl", "incl", "notincl"] {
        dnf.rpm(name, None, "1.0");
    }
    dnf.publish("");
    dnf.dnf(&[
        "-y", "install", "prio", "plain", "excl", "rexcl", "incl", "notincl",
    ]);
    for name in ["prio", "plain", "excl", "rexcl"] {
        dnf.rpm(name, None, "1.1");
    }
    // incl and notincl now come only from `extra` (whose includepkgs names incl).
    for name in ["incl", "notincl"] {
        std::fs::remove_file(dnf.repo.join(format!("noarch/{name}-1.0-1.noarch.rpm"))).unwrap();
    }
    dnf.publish("");
    let extra = dnf.base.join("extra");
    let off = dnf.base.join("off");
    for (dir, name, version) in [
        (&extra, "prio", "1.5"),
        (&extra, "incl", "1.1"),
        (&extra, "notincl", "1.1"),
        (&off, "plain", "9.0"),
    ] {
        std::fs::create_dir_all(dir).unwrap();
        dnf.rpm_into(dir, name, None, version, "");
    }
    for dir in [&extra, &off] {
        run(Command::new("createrepo_c").arg("-q").arg(dir));
    }
    std::fs::write(
        dnf.root.join("etc/yum.repos.d/more.repo"),
        format!(
            "[extra]\nname=extra\nbaseurl=file://{}\ngpgcheck=0\npriority=50\nincludepkgs=prio incl\n\n[off]\nname=off\nbaseurl=file://{}\nenabled=0\ngpgcheck=0\n",
            extra.display(),
            off.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dnf.root.join("etc/yum.repos.d/test.repo"),
        format!(
            "[test]\nname=test\nbaseurl=file://{}\ngpgcheck=0\nmetadata_expire=0\npriority=10\nexcludepkgs=rexcl-1.1*\n",
            dnf.repo.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dnf.root.join("etc/dnf/dnf.conf"),
        "[main]\ngpgcheck=0\nbest=False\nskip_if_unavailable=False\nexclude=excl\n",
    )
    .unwrap();
    dnf.dnf(&["makecache"]);
    let all = approve_everything(&dnf);
    let native = dnf.scan(&["--no-refresh", "--baseline", &all]);
    assert!(
        native["warnings"].as_array().unwrap().is_empty(),
        "read natively: {}",
        native["warnings"]
    );
    let through_dnf = scan_json_env(
        &[
            "--root",
            dnf.root.to_str().unwrap(),
            "--read-only",
            "--no-refresh",
            "--baseline",
            &all,
        ],
        &[
            ("HOME", dnf.home.to_str().unwrap()),
            ("PATCH_BASELINE_AVAILABLE_FROM", "package-manager"),
        ],
    );
    let check_update = check_update(&dnf);
    let held = |scan: &Value| -> BTreeSet<String> {
        scan["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["reasons"].to_string().contains("held"))
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let missing_not_held = |scan: &Value| -> BTreeSet<(String, String, String)> {
        let held = held(scan);
        missing(scan)
            .into_iter()
            .filter(|(n, _, _)| !held.contains(n))
            .collect()
    };
    // prio 1.1 from the priority-10 repository, not 1.5 from the priority-50 one; plain not
    // from the disabled repository; incl from `extra` (included); notincl not (includepkgs);
    // excl and rexcl hidden by the host's excludes.
    let expected: BTreeSet<(String, String, String)> =
        [("prio", "1.1-1"), ("plain", "1.1-1"), ("incl", "1.1-1")]
            .iter()
            .map(|(n, v)| (n.to_string(), "noarch".to_string(), v.to_string()))
            .collect();
    assert_eq!(check_update, expected, "dnf itself");
    assert_eq!(missing_not_held(&native), expected, "native");
    assert_eq!(missing(&through_dnf), expected, "through dnf repoquery");
    // The host's excludes are reported: Missing, held, with the version dnf hides.
    assert_eq!(
        held(&native),
        ["excl", "notincl", "rexcl"]
            .iter()
            .map(ToString::to_string)
            .collect()
    );
    // The held ones are never installed.
    let out = dnf.install(&["--baseline", &all, "--reboot-option", "NoReboot"], &[]);
    assert_code(&out, 0);
    let rpms = dnf.installed();
    for expected in [
        "prio-1.1",
        "plain-1.1",
        "incl-1.1",
        "excl-1.0",
        "rexcl-1.0",
        "notincl-1.0",
    ] {
        assert!(rpms.contains(expected), "{expected} in {rpms:?}");
    }
}

/// Every predefined RPM-family baseline, on the OS it is for: Missing equals what dnf's own
/// `updateinfo list` (or `check-update`) says for the baseline's rules, less what the 7-day delay
/// holds back. On yum systems the cache is read natively (see `yum.rs` for the yum command path).
#[test]
fn every_predefined_rpm_baseline_agrees_with_dnf() {
    let dnf = scenario();
    let lines_to_set = |text: String| -> BTreeSet<(String, String, String)> {
        text.lines()
            .filter_map(|l| l.split_whitespace().nth(2))
            .map(nevra)
            .collect()
    };
    let check_update = check_update(&dnf);
    let default_rules = [
        "--sec-severity=Critical",
        "--sec-severity=Important",
        "--bugfix",
    ];
    let oracle_rules = [
        "--sec-severity=Critical",
        "--sec-severity=Important",
        "--sec-severity=Moderate",
        "--bugfix",
        "--enhancement",
    ];
    let cases: [(&str, &str, &str, &str, &[&str]); 10] = [
        (
            "AWS-AlmaLinuxDefaultPatchBaseline",
            "almalinux",
            "9.3",
            "AlmaLinux9.3",
            &default_rules,
        ),
        (
            "AWS-AmazonLinux2022DefaultPatchBaseline",
            "amzn",
            "2022",
            "AmazonLinux2022",
            &default_rules,
        ),
        (
            "AWS-AmazonLinux2023DefaultPatchBaseline",
            "amzn",
            "2023",
            "AmazonLinux2023",
            &default_rules,
        ),
        (
            "AWS-AmazonLinux2DefaultPatchBaseline",
            "amzn",
            "2",
            "AmazonLinux2",
            &default_rules,
        ),
        (
            "AWS-AmazonLinuxDefaultPatchBaseline",
            "amzn",
            "2018.03",
            "AmazonLinux2018.03",
            &default_rules,
        ),
        (
            "AWS-CentOSDefaultPatchBaseline",
            "centos",
            "7",
            "CentOS7",
            &[],
        ),
        (
            "AWS-CentOSDefaultPatchBaseline",
            "centos",
            "8",
            "CentOS8",
            &[],
        ),
        (
            "AWS-OracleLinuxDefaultPatchBaseline",
            "ol",
            "8.9",
            "OracleLinux8.9",
            &oracle_rules,
        ),
        (
            "AWS-RedHatDefaultPatchBaseline",
            "rhel",
            "9.3",
            "RedhatEnterpriseLinux9.3",
            &default_rules,
        ),
        (
            "AWS-RockyLinuxDefaultPatchBaseline",
            "rocky",
            "9.3",
            "RockyLinux9.3",
            &default_rules,
        ),
    ];
    let too_recent: BTreeSet<&str> = ["fresh", "plain"].into_iter().collect();
    for (baseline, id, version, product, rules) in cases {
        std::fs::write(
            dnf.root.join("etc/os-release"),
            format!("ID=\"{id}\"\nVERSION_ID=\"{version}\"\n"),
        )
        .unwrap();
        let scan = dnf.scan(&["--no-refresh"]);
        assert_eq!(scan["baselineName"], baseline, "{product}");
        assert_eq!(scan["product"], product);
        let theirs = if rules.is_empty() {
            // PRODUCT * with non-security updates: everything dnf would update.
            check_update.clone()
        } else {
            let mut args = vec!["updateinfo", "list"];
            args.extend_from_slice(rules);
            lines_to_set(dnf.dnf(&args))
        };
        let expected: BTreeSet<_> = theirs
            .into_iter()
            .filter(|(name, _, _)| !too_recent.contains(name.as_str()))
            .collect();
        assert_eq!(missing(&scan), expected, "{baseline} on {product}");
        assert!(!expected.is_empty());
    }
}

/// ApprovedPatches by advisory id and by CVE id, with no rule approving anything else.
#[test]
fn dnf_approved_by_advisory_and_cve_ids() {
    let dnf = scenario();
    let path = al2023_baseline(
        &dnf.base,
        "ids",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Newpackage"]}]}, "ApproveAfterDays": 0}"#,
        r#", "ApprovedPatches": ["ALAS2023-2026-003", "CVE-ALAS2023-2026-006"]"#,
    );
    let scan = dnf.scan(&["--no-refresh", "--baseline", &path]);
    let names: BTreeSet<String> = missing(&scan).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(
        names,
        ["sec-low", "sec-mod"]
            .iter()
            .map(ToString::to_string)
            .collect()
    );
}

/// A modular repository: the native reader steps aside (with a warning) and dnf's own view,
/// modular filtering included, is what the scan uses: a package that only a non-enabled module
/// stream provides is not offered, as `dnf check-update` agrees.
#[test]
fn dnf_modular_repository_uses_dnfs_view() {
    let dnf = scenario();
    let modules = dnf.base.join("modules.yaml");
    std::fs::write(
        &modules,
        "---\ndocument: modulemd\nversion: 2\ndata:\n  name: testmod\n  stream: \"1\"\n  version: 1\n  context: c0ffee42\n  arch: noarch\n  summary: t\n  description: t\n  license:\n    module: [MIT]\n  artifacts:\n    rpms:\n    - plain-0:1.1-1.noarch\n...\n",
    )
    .unwrap();
    run(Command::new("modifyrepo_c")
        .arg("--mdtype=modules")
        .arg(&modules)
        .arg(dnf.repo.join("repodata")));
    dnf.dnf(&["makecache"]);
    let all = approve_everything(&dnf);
    let scan = dnf.scan(&["--no-refresh", "--baseline", &all]);
    assert!(
        scan["warnings"].to_string().contains("is modular"),
        "{}",
        scan["warnings"]
    );
    let theirs = check_update(&dnf);
    assert!(
        !theirs.iter().any(|(n, _, _)| n == "plain"),
        "dnf filters the modular package: {theirs:?}"
    );
    assert_eq!(missing(&scan), theirs);
}

/// The sqlite rpm database read natively gives exactly what `rpm -qa` prints (epochs, arches,
/// install times), and the scan falls back to `rpm -qa` when a Berkeley DB file sits beside it.
#[test]
fn native_rpmdb_equals_rpm_qa() {
    let dnf = scenario();
    let path = patch_baseline::rpm::rpmdb::sqlite_path(&dnf.root).expect("an sqlite rpmdb");
    let native: BTreeSet<String> = patch_baseline::rpm::rpmdb::read_sqlite(&path)
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {} {} {}",
                p.name,
                p.arch,
                p.version,
                p.installed_time.unwrap().timestamp()
            )
        })
        .collect();
    let out = run(Command::new("rpm")
        .env("HOME", &dnf.home)
        .arg(format!("--root={}", dnf.root.display()))
        .args([
            "-qa",
            "--qf",
            "%{NAME} %{ARCH} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{INSTALLTIME}\\n",
        ]));
    let by_rpm: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("gpg-pubkey "))
        .map(str::to_string)
        .collect();
    assert_eq!(native, by_rpm);
    assert_eq!(native.len(), 8);
    assert!(native.iter().any(|l| l.starts_with("ep noarch 2:1.0-1 ")));
    // A Berkeley DB beside it: ambiguous, so the reader steps aside (the scan asks rpm).
    std::fs::write(path.with_file_name("Packages"), "").unwrap();
    assert!(patch_baseline::rpm::rpmdb::sqlite_path(&dnf.root).is_none());
    let scan = dnf.scan(&["--no-refresh"]);
    assert_eq!(missing(&scan).len(), 3);
}

/// The installed packages read from the sqlite rpm database are kept in
/// `var/cache/patch-baseline` and believed while the database and its write-ahead log keep
/// their sizes and times; a real rpm transaction (here rpm itself, no dnf) changes one of them,
/// so the next scan, read-only or not, reads the database again.
#[test]
fn the_installed_entry_follows_real_rpm_transactions() {
    let dnf = DnfRoot::new();
    for name in ["app", "tool"] {
        dnf.rpm(name, None, "1.0");
    }
    dnf.publish("");
    dnf.dnf(&["-y", "install", "app", "tool"]);
    let root = dnf.root.to_str().unwrap();
    let home = [("HOME", dnf.home.to_str().unwrap())];
    let installed = |extra: &[&str]| -> BTreeMap<String, String> {
        let mut args = vec!["--root", root, "--no-refresh"];
        args.extend_from_slice(extra);
        let scan = scan_json_env(&args, &home);
        scan["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| {
                Some((
                    p["name"].as_str()?.to_string(),
                    p["installedVersion"].as_str()?.to_string(),
                ))
            })
            .collect()
    };
    let entries = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dnf.root.join("var/cache/patch-baseline"))
            .map(|dir| {
                dir.map(|e| e.unwrap().path())
                    .filter(|p| {
                        p.file_name()
                            .unwrap()
                            .to_string_lossy()
                            .starts_with("installed-")
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let both = |app: &str, tool: Option<&str>| -> BTreeMap<String, String> {
        let mut expected = BTreeMap::from([("app".to_string(), app.to_string())]);
        if let Some(tool) = tool {
            expected.insert("tool".to_string(), tool.to_string());
        }
        expected
    };
    assert_eq!(installed(&["--read-only"]), both("1.0-1", Some("1.0-1")));
    assert!(entries().is_empty(), "a read-only scan writes no entry");
    assert_eq!(installed(&[]), both("1.0-1", Some("1.0-1")));
    assert_eq!(entries().len(), 1);
    // rpm upgrades one package and then erases the other, each a transaction of its own.
    dnf.rpm("app", None, "1.1");
    let rpm = |args: &[&str]| {
        run(Command::new("rpm")
            .env("HOME", &dnf.home)
            .env("LC_ALL", "C")
            .arg(format!("--root={root}"))
            .args(args));
    };
    rpm(&[
        "-U",
        dnf.repo
            .join("noarch/app-1.1-1.noarch.rpm")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(installed(&["--read-only"]), both("1.1-1", Some("1.0-1")));
    rpm(&["-e", "tool"]);
    assert_eq!(installed(&["--read-only"]), both("1.1-1", None));
    assert_eq!(installed(&[]), both("1.1-1", None));
    // While nothing changes the entry is what the scan believes: doctored, it shows.
    let [entry] = entries().try_into().unwrap();
    let text = std::fs::read_to_string(&entry).unwrap();
    let doctored = text.replace("app\tnoarch\t1.1-1\t", "app\tnoarch\t9.9-1\t");
    assert_ne!(doctored, text, "{text}");
    std::fs::write(&entry, doctored).unwrap();
    assert_eq!(installed(&["--read-only"]), both("9.9-1", None));
}

/// The install override list overrides the baseline, as AWS payload 1.80 does on dnf: `plain`,
/// whose update has no advisory and is not approved by the default baseline, is installed
/// because the list names it; the approved but unlisted updates stay Missing (not Failed).
#[test]
fn dnf_override_list_installs_what_the_baseline_does_not_approve() {
    let dnf = scenario();
    let scan = dnf.scan(&["--no-refresh"]);
    assert!(in_state(&scan, "InstalledOther").contains_key(&("plain".into(), "noarch".into())));
    let list = dnf.base.join("plain.yaml");
    std::fs::write(&list, "patches:\n  - id: 'plain.noarch'\n").unwrap();
    let out = dnf.install(
        &[
            "--reboot-option",
            "NoReboot",
            "--install-override-list",
            list.to_str().unwrap(),
        ],
        &[],
    );
    assert_code(&out, 0);
    let rpms = dnf.installed();
    assert!(rpms.contains("plain-1.1"), "{rpms:?}");
    assert!(
        rpms.contains("sec-imp-1.0"),
        "unlisted: untouched: {rpms:?}"
    );
    let after = report(&out);
    assert!(in_state(&after, "Missing").contains_key(&("sec-imp".into(), "noarch".into())));
    assert!(in_state(&after, "Failed").is_empty(), "{after}");
}

/// `install --now` plans at that time too: `fresh`, issued a day ago and held back 7 days by
/// the default baseline, is installed by an install "ten days from now", not reported Failed.
#[test]
fn install_plans_at_the_time_it_reports_at() {
    let dnf = scenario();
    let later = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let out = dnf.install(&["--now", &later, "--reboot-option", "NoReboot"], &[]);
    let report = report(&out);
    assert!(dnf.installed().contains("fresh-1.1"), "{report:#}");
    let failed: Vec<&Value> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == "Failed")
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}
