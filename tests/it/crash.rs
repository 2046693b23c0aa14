//! Crash and re-run on every backend (issue #16, part 2): apt, dnf, yum (the dnf shim of
//! `yum.rs`) and zypper roots, each with `xpkg` 1.0 installed and a critical security update
//! 1.1 whose post-install script records each run in the root's `post.log` and, when the test
//! arms it (`arm-kill` in the root), SIGKILLs its own process group: the package manager and
//! everything it started, mid-transaction. `install` is stopped at every checkpoint
//! (`PATCH_BASELINE_CRASH_AT`: after the plan, after the download, inside the package manager,
//! after the install, inside the state file's write, after the state), then run again; the
//! re-run must converge: exit 0, xpkg at 1.1 exactly once in the package database, its script
//! run once, the report right, no journal, no lock of ours, no temporary file, and the database
//! consistent by the package manager's own check (`dpkg --audit`; `rpm -V` of our packages and
//! `rpmdb --verifydb`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::apt_root::{AptRoot, in_state, run};
use crate::dnf_root::{DnfRoot, advisory, days_ago};
use crate::zypper_root::{PatchSpec, ZypperRoot};

/// Where install is stopped. `in-transaction` arms the package's script instead.
const CHECKPOINTS: [&str; 6] = [
    "after-plan",
    "after-download",
    "in-transaction",
    "after-install",
    "in-write:patch-states-configuration.json",
    "after-state",
];

/// The post-install script of xpkg 1.1 for dpkg (run chrootless: `$DPKG_ROOT` is the root).
const DEB_POSTINST: &str = "if [ -e \"$DPKG_ROOT/arm-kill\" ]; then rm -f \"$DPKG_ROOT/arm-kill\"; kill -KILL 0; fi\n\
     echo \"xpkg $1\" >> \"$DPKG_ROOT/post.log\"";

/// The same for rpm, in Lua (rpm runs it in its own process, chrooted into the root, which has
/// no shell): `posix.kill(0, 9)` signals rpm's process group.
const RPM_POST: &str = "%post -p <lua>\n\
     local armed = io.open(\"/arm-kill\", \"r\")\n\
     if armed then armed:close(); os.remove(\"/arm-kill\"); posix.kill(0, 9) end\n\
     local log = io.open(\"/post.log\", \"a\"); log:write(\"xpkg \" .. arg[2] .. \"\\n\"); log:close()\n";

/// One backend's root.
struct Root {
    label: &'static str,
    root: PathBuf,
    env: Vec<(String, String)>,
    arch: &'static str,
    /// The versions of xpkg in the package database.
    installed: Box<dyn Fn() -> Vec<String>>,
    /// The package manager's own consistency check: `Err` with what it said.
    verify: Box<dyn Fn() -> Result<(), String>>,
    _keep: Box<dyn std::any::Any>,
}

impl Root {
    fn install(&self, env: &[(&str, &str)]) -> Output {
        let args = ["--no-refresh", "--reboot-option", "NoReboot"];
        crate::util::root_command("install", &self.root, &args, self.env_with(env))
    }

    /// The root's environment, then `env`.
    fn env_with<'a>(&'a self, env: &'a [(&str, &str)]) -> impl Iterator<Item = (&'a str, &'a str)> {
        let own = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        own.chain(env.iter().copied())
    }

    fn state_dir(&self) -> PathBuf {
        self.root.join("var/log/amazon/ssm/patch-configuration")
    }
}

/// Files left under `dir` whose names mark them temporary (`*.tmp.PID`).
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().contains(".tmp.") {
                found.push(path);
            }
        }
    }
    found
}

/// Stops an install at every checkpoint on fresh copies of one backend's root, and checks the
/// re-run converges.
fn crash_everywhere(make: fn() -> Root) {
    for checkpoint in CHECKPOINTS {
        let root = make();
        let label = format!("{} {checkpoint}", root.label);
        assert_eq!((root.installed)(), ["1.0-1"], "{label}: before");
        let crashed = if checkpoint == "in-transaction" {
            std::fs::write(root.root.join("arm-kill"), "").unwrap();
            root.install(&[])
        } else {
            root.install(&[("PATCH_BASELINE_CRASH_AT", checkpoint)])
        };
        let stderr = String::from_utf8_lossy(&crashed.stderr).into_owned();
        if checkpoint == "in-transaction" {
            // patch-baseline outlives its package manager and reports the failed install.
            let said = format!("{stderr}{}", String::from_utf8_lossy(&crashed.stdout));
            assert!(!root.root.join("arm-kill").exists(), "{label}: not armed");
            assert_eq!(crashed.status.code(), Some(1), "{label}: {said}");
            assert!(said.contains("SIGKILL"), "{label}: {said}");
        } else {
            assert_eq!(
                crashed.status.code(),
                None,
                "{label}: stopped by a signal, as kill -9 would: {stderr}"
            );
        }

        let out = root.install(&[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{label}: {stderr}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let key = ("xpkg".to_string(), root.arch.to_string());
        assert!(
            in_state(&report, "InstalledPendingReboot").contains_key(&key),
            "{label}: {}",
            report["packages"]
        );
        assert!(in_state(&report, "Missing").is_empty(), "{label}");
        assert!(in_state(&report, "Failed").is_empty(), "{label}");
        assert_eq!((root.installed)(), ["1.1-1"], "{label}: once, at 1.1");
        // The killed script: dpkg records the package as unpacked and `dpkg --configure -a`
        // runs it again; rpm records nothing, so it is not run again, and the older version
        // still installed beside the new one is erased.
        let (runs, repair) = match (checkpoint, root.label) {
            ("in-transaction", "apt") => (1, Some("dpkg had been interrupted")),
            ("in-transaction", _) => (0, Some("erased with `rpm")),
            _ => (1, None),
        };
        let log = std::fs::read_to_string(root.root.join("post.log")).unwrap_or_default();
        assert_eq!(
            log.lines().count(),
            runs,
            "{label}: the script's runs: {log}"
        );
        let warnings = report["warnings"].to_string();
        assert_eq!(
            repair.map(|r| warnings.contains(r)),
            repair.map(|_| true),
            "{label}: {warnings}"
        );
        (root.verify)().unwrap_or_else(|why| panic!("{label}: {why}"));
        let state = root.state_dir();
        assert!(
            !state
                .join("patch-baseline-install-in-progress.json")
                .exists(),
            "{label}: journal left"
        );
        assert!(
            temporaries(&root.root.join("var/log/amazon")).is_empty(),
            "{label}: {:?}",
            temporaries(&root.root.join("var/log/amazon"))
        );
        let locks = root.root.join("etc/zypp/locks");
        if locks.exists() {
            let text = std::fs::read_to_string(&locks).unwrap();
            assert!(
                !text.contains("xpkg"),
                "{label}: a lock of ours left: {text}"
            );
        }
    }
}

fn apt() -> Root {
    let apt = AptRoot::new();
    apt.publish(
        "bookworm",
        &[apt.deb("xpkg", "1.0-1", "optional", "utils")],
        "Debian",
        false,
    );
    apt.publish(
        "bookworm-security",
        &[apt.deb_with(
            "xpkg",
            "1.1-1",
            "optional",
            "utils",
            None,
            Some(("postinst", DEB_POSTINST)),
        )],
        "Debian-Security",
        false,
    );
    for suite in ["bookworm-updates", "bookworm-backports"] {
        apt.publish(suite, &[], "Debian", false);
    }
    apt.apt("apt-get", &["update", "-q"]);
    apt.apt("apt-get", &["install", "-y", "-q", "xpkg=1.0-1"]);
    let root = apt.root.clone();
    let installed = move || {
        crate::apt_root::dpkg_versions(&root)
            .get("xpkg")
            .into_iter()
            .cloned()
            .collect()
    };
    let root = apt.root.clone();
    let verify = move || {
        let audit = run(Command::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .arg("--audit"));
        let said = String::from_utf8_lossy(&audit.stdout).trim().to_string();
        if said.is_empty() {
            Ok(())
        } else {
            Err(format!("dpkg --audit: {said}"))
        }
    };
    Root {
        label: "apt",
        root: apt.root.clone(),
        env: vec![("APT_CONFIG".into(), apt.config.display().to_string())],
        arch: "amd64",
        installed: Box::new(installed),
        verify: Box::new(verify),
        _keep: Box::new(apt),
    }
}

/// xpkg's versions in the rpm database under `root`.
fn rpm_versions(root: &Path, home: &Path) -> Vec<String> {
    let out = Command::new("rpm")
        .env("HOME", home)
        .arg(format!("--root={}", root.display()))
        .args(["-q", "--qf", "%{VERSION}-%{RELEASE}\\n", "xpkg"])
        .output()
        .unwrap();
    let mut versions: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    versions.sort();
    versions
}

/// `rpm -V xpkg` and `rpmdb --verifydb` under `root`.
fn rpm_verify(root: &Path, home: &Path) -> Result<(), String> {
    for args in [&["-V", "xpkg"][..], &["--verifydb"][..]] {
        let program = if args[0] == "--verifydb" {
            "rpmdb"
        } else {
            "rpm"
        };
        let out = Command::new(program)
            .env("HOME", home)
            .arg(format!("--root={}", root.display()))
            .args(args)
            .output()
            .unwrap();
        if !out.status.success() {
            return Err(format!(
                "{program} {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(())
}

/// A dnf root: xpkg 1.0 installed, 1.1 (with the script) under a critical advisory.
fn dnf_with_update() -> DnfRoot {
    let dnf = DnfRoot::new();
    dnf.rpm("xpkg", None, "1.0");
    dnf.publish("");
    dnf.dnf(&["-y", "install", "xpkg"]);
    dnf.rpm_with("xpkg", None, "1.1", RPM_POST);
    dnf.publish(&advisory(
        "ALAS2023-2026-301",
        "security",
        Some("Critical"),
        &days_ago(30),
        &[("xpkg", 0, "1.1")],
    ));
    dnf.dnf(&["makecache"]);
    dnf
}

fn rpm_root(label: &'static str, dnf: DnfRoot, env: Vec<(String, String)>) -> Root {
    let (root, home) = (dnf.root.clone(), dnf.home.clone());
    let (root2, home2) = (dnf.root.clone(), dnf.home.clone());
    Root {
        label,
        root: dnf.root.clone(),
        env,
        arch: "noarch",
        installed: Box::new(move || rpm_versions(&root, &home)),
        verify: Box::new(move || rpm_verify(&root2, &home2)),
        _keep: Box::new(dnf),
    }
}

fn dnf() -> Root {
    let dnf = dnf_with_update();
    let env = vec![("HOME".to_string(), dnf.home.display().to_string())];
    rpm_root("dnf", dnf, env)
}

fn yum() -> Root {
    let dnf = dnf_with_update();
    crate::yum::as_amazon_linux_2(&dnf);
    let env = vec![
        ("HOME".to_string(), dnf.home.display().to_string()),
        ("PATH".to_string(), crate::yum::yum_shim(&dnf.base)),
    ];
    rpm_root("yum", dnf, env)
}

fn zypper() -> Root {
    let mut z = ZypperRoot::new();
    z.build.rpm("xpkg", None, "1.0");
    z.add_repo();
    z.zypper(&["install", "--no-recommends", "xpkg"]);
    z.build.rpm_with("xpkg", None, "1.1", RPM_POST);
    z.publish(vec![PatchSpec {
        id: "SUSE-SLE-Module-Basesystem-15-SP5-2026-301",
        category: "security",
        severity: Some("critical"),
        days_old: 30,
        reboot: false,
        packages: vec![("xpkg", 0, "1.1")],
    }]);
    let (root, home) = (z.root.clone(), z.build.home.clone());
    let (root2, home2) = (z.root.clone(), z.build.home.clone());
    Root {
        label: "zypper",
        root: z.root.clone(),
        env: vec![("HOME".into(), z.build.home.display().to_string())],
        arch: "noarch",
        installed: Box::new(move || rpm_versions(&root, &home)),
        verify: Box::new(move || rpm_verify(&root2, &home2)),
        _keep: Box::new(z),
    }
}

#[test]
fn apt_install_converges_after_a_crash_anywhere() {
    crash_everywhere(apt);
}

#[test]
fn dnf_install_converges_after_a_crash_anywhere() {
    crash_everywhere(dnf);
}

#[test]
fn yum_install_converges_after_a_crash_anywhere() {
    crash_everywhere(yum);
}

#[test]
fn zypper_install_converges_after_a_crash_anywhere() {
    crash_everywhere(zypper);
}
