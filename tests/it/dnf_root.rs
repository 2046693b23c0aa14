//! The dnf scan against real dnf and rpm: packages built with `rpmbuild`, a repository made with
//! `createrepo_c` and `modifyrepo_c` (updateinfo), installed into an alternate root with
//! `dnf --installroot`. Missing must equal what dnf's own `updateinfo list` and `check-update`
//! report for the same baseline rules.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::apt_root::{in_state, run, scan_json_env, write_baseline};
use crate::util::binary;

struct DnfRoot {
    _dir: tempfile::TempDir,
    base: PathBuf,
    root: PathBuf,
    repo: PathBuf,
    home: PathBuf,
}

fn days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

impl DnfRoot {
    fn new() -> Self {
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

    fn rpm(&self, name: &str, epoch: Option<u32>, version: &str) {
        let spec = self.base.join(format!("{name}-{version}.spec"));
        let epoch = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
        std::fs::write(&spec, format!(
            "Name: {name}\n{epoch}Version: {version}\nRelease: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\nAutoReqProv: no\n%description\nt\n%files\n"
        )).unwrap();
        run(Command::new("rpmbuild")
            .env("HOME", &self.home)
            .args(["-bb", "--define"])
            .arg(format!("_topdir {}", self.base.join("rpmbuild").display()))
            .arg("--define")
            .arg(format!("_rpmdir {}", self.repo.display()))
            .arg(&spec));
    }

    fn publish(&self, updateinfo: &str) {
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

    fn dnf(&self, args: &[&str]) -> String {
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

    fn scan(&self, extra: &[&str]) -> Value {
        let mut args = vec!["--root", self.root.to_str().unwrap(), "--read-only"];
        args.extend_from_slice(extra);
        scan_json_env(&args, &[("HOME", self.home.to_str().unwrap())])
    }
}

fn advisory(
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
fn nevra(text: &str) -> (String, String, String) {
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

fn missing(scan: &Value) -> BTreeSet<(String, String, String)> {
    in_state(scan, "Missing")
        .into_iter()
        .map(|((n, a), v)| (n, a, v))
        .collect()
}

fn scenario() -> DnfRoot {
    let dnf = DnfRoot::new();
    for name in ["sec-imp", "bug", "sec-low", "fresh", "plain"] {
        dnf.rpm(name, None, "1.0");
    }
    dnf.rpm("ep", Some(2), "1.0");
    dnf.publish("");
    dnf.dnf(&[
        "-y", "install", "sec-imp", "bug", "sec-low", "fresh", "plain", "ep",
    ]);
    for name in ["sec-imp", "bug", "sec-low", "fresh", "plain"] {
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
    let all = write_baseline(
        &dnf.base,
        "all",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["*"]}]}, "ApproveAfterDays": 0, "EnableNonSecurity": true}"#,
        "",
    );
    std::fs::write(
        &all,
        std::fs::read_to_string(&all)
            .unwrap()
            .replace("DEBIAN", "AMAZON_LINUX_2023"),
    )
    .unwrap();
    let everything = missing(&dnf.scan(&["--no-refresh", "--baseline", &all]));
    let check_update: BTreeSet<(String, String, String)> = dnf
        .dnf(&["check-update"])
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3).then(|| {
                let (name, arch) = f[0].rsplit_once('.').unwrap();
                (name.to_string(), arch.to_string(), f[1].to_string())
            })
        })
        .collect();
    assert_eq!(everything, check_update);
    assert_eq!(everything.len(), 6);
}

#[test]
fn install_refuses_dnf_systems_for_now() {
    let dnf = DnfRoot::new();
    let out = Command::new(binary())
        .args([
            "install",
            "--root",
            dnf.root.to_str().unwrap(),
            "--no-refresh",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("installing on AmazonLinux2023 (dnf) systems is not implemented yet")
    );
    assert!(
        !Path::new(&dnf.root.join("var/log/amazon")).exists(),
        "nothing touched"
    );
}
