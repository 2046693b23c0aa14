//! Baseline `Sources` on real package managers (issue #14): for apt, dnf, yum (the dnf shim of
//! `yum.rs`) and zypper, a root whose own repository offers `xpkg` 1.1 and two local
//! repositories the root is not configured with (one offering `xpkg` 1.2, one `ypkg` 1.1, each
//! with its advisory, patch or `-security` suite). With a default baseline plus a matching
//! source, scan and install use only the sources' repositories, the root's configuration files
//! stay byte-identical (also when the install is killed at each checkpoint), and a source set
//! that does not apply, or a malformed configuration, stops with exit 65 having changed nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::apt_root::{AptRoot, dpkg_versions, in_state, run};
use crate::dnf_root::{DnfRoot, advisory, days_ago};
use crate::util::repo_root;
use crate::zypper_root::{PatchSpec, ZypperRoot, suse_patch};

/// One package manager's root, set up for the sources tests.
struct Case {
    label: &'static str,
    root: PathBuf,
    /// Where baselines are written.
    dir: PathBuf,
    /// The root's configuration that must never change.
    config: &'static [&'static str],
    product: String,
    /// The default baseline of the root's OS.
    baseline: &'static str,
    /// The architecture the scan names `xpkg` with.
    arch: &'static str,
    /// (root's update of xpkg, the mirror's, ypkg's in the second mirror)
    versions: [&'static str; 3],
    /// The configurations of the two unconfigured repositories, and of one that is not there.
    mirrors: [String; 3],
    env: Vec<(String, String)>,
    installed: Box<dyn Fn() -> BTreeMap<String, String>>,
    /// Kept alive: the directories behind the repositories.
    _keep: Vec<Box<dyn std::any::Any>>,
}

impl Case {
    fn command(&self, verb: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let own = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        crate::util::root_command(verb, &self.root, args, own.chain(env.iter().copied()))
    }

    /// A default baseline file with `sources`.
    fn baseline_with(&self, name: &str, sources: Value) -> String {
        let mut baseline: Value = serde_json::from_str(
            &std::fs::read_to_string(repo_root().join("baselines").join(self.baseline)).unwrap(),
        )
        .unwrap();
        baseline["Sources"] = sources;
        let path = self.dir.join(format!("{name}.json"));
        std::fs::write(&path, baseline.to_string()).unwrap();
        path.to_string_lossy().into_owned()
    }

    fn source(&self, name: &str, products: &[&str], mirror: usize) -> Value {
        json!({"Name": name, "Products": products, "Configuration": self.mirrors[mirror]})
    }

    /// Every file under the root's configuration folders, with its bytes.
    fn configuration(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut stack: Vec<PathBuf> = self.config.iter().map(|c| self.root.join(c)).collect();
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).unwrap() {
                    stack.push(entry.unwrap().path());
                }
            } else if path.exists() {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
        assert!(!files.is_empty(), "{}: no configuration found", self.label);
        files
    }
}

fn json_of(case: &Case, out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {}{}",
        case.label,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn missing(case: &Case, scan: &Value, name: &str) -> Option<String> {
    in_state(scan, "Missing")
        .get(&(name.to_string(), case.arch.to_string()))
        .cloned()
}

/// The whole behaviour on one root.
fn exercise(case: &Case) {
    let label = case.label;
    let [root_version, mirror_version, second_version] = case.versions;
    let original = case.configuration();
    let unchanged = |when: &str| {
        assert!(
            case.configuration() == original,
            "{label}: the root's configuration changed {when}"
        );
    };
    let product = case.product.as_str();

    // Without sources: the root's own repository.
    let plain = case.baseline_with("plain", json!([]));
    let scan = json_of(
        case,
        &case.command("scan", &["--no-refresh", "--baseline", &plain], &[]),
    );
    assert_eq!(missing(case, &scan, "xpkg").as_deref(), Some(root_version));
    assert_eq!(scan["sources"], json!([]));

    // A source for this product: only its repository (zpkg's update is in the root's only).
    let one = case.baseline_with("one", json!([case.source("mirror-one", &[product], 0)]));
    let scan = json_of(case, &case.command("scan", &["--baseline", &one], &[]));
    assert_eq!(
        missing(case, &scan, "xpkg").as_deref(),
        Some(mirror_version),
        "{label}: {}",
        scan["warnings"]
    );
    assert_eq!(missing(case, &scan, "zpkg"), None, "{label}");
    assert!(
        !scan["warnings"].to_string().contains("asked of"),
        "{label}: the native scanner reads the sources' metadata: {}",
        scan["warnings"]
    );
    assert_eq!(scan["sources"], json!(["mirror-one"]));
    assert!(
        scan["warnings"]
            .to_string()
            .contains("come from the baseline's sources only (mirror-one)"),
        "{label}: {}",
        scan["warnings"]
    );
    // The package manager's own view of the sources (dnf repoquery, yum list, zypper search)
    // says the same.
    let asked = json_of(
        case,
        &case.command(
            "scan",
            &["--no-refresh", "--baseline", &one],
            &[("PATCH_BASELINE_AVAILABLE_FROM", "package-manager")],
        ),
    );
    assert_eq!(
        in_state(&asked, "Missing"),
        in_state(&scan, "Missing"),
        "{label}"
    );
    unchanged("by a scan with sources");

    // `*`, and two applying sources beside one that does not apply.
    let two = case.baseline_with(
        "two",
        json!([
            case.source("mirror-one", &["*"], 0),
            case.source("elsewhere", &["NotThisProduct"], 1),
            case.source("mirror-two", &[product], 1),
        ]),
    );
    let scan = json_of(case, &case.command("scan", &["--baseline", &two], &[]));
    assert_eq!(
        (
            missing(case, &scan, "xpkg").as_deref(),
            missing(case, &scan, "ypkg").as_deref()
        ),
        (Some(mirror_version), Some(second_version)),
        "{label}: {}",
        scan["warnings"]
    );
    assert_eq!(scan["sources"], json!(["mirror-one", "mirror-two"]));
    let ypkg = scan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ypkg")
        .unwrap();
    assert!(
        ypkg["reasons"].to_string().contains("held"),
        "{label}: the machine's hold, exclude or lock still applies: {ypkg}"
    );

    // The set changed, so the first set's directory went: without a refresh there is no
    // metadata for it, which is an error (66) naming the sources, not an empty report.
    let out = case.command("scan", &["--no-refresh", "--baseline", &one], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(66), "{label}: {stderr}");
    assert!(
        stderr.contains("no metadata for the baseline sources (mirror-one)")
            && stderr.contains("--no-refresh"),
        "{label}: {stderr}"
    );

    // A source whose repository cannot be fetched is named: in a warning when the other
    // source's metadata still lets the scan go on, or in the error (dnf and yum stop on a
    // repository that fails, `skip_if_unavailable=False` in these roots).
    let gone = case.baseline_with(
        "gone",
        json!([
            case.source("mirror-one", &[product], 0),
            case.source("gone-source", &[product], 2)
        ]),
    );
    let out = case.command("scan", &["--baseline", &gone], &[]);
    match out.status.code() {
        Some(0) => {
            let scan: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(
                scan["warnings"]
                    .to_string()
                    .contains("(baseline source `gone-source`)"),
                "{label}: {}",
                scan["warnings"]
            );
            assert_eq!(
                missing(case, &scan, "xpkg").as_deref(),
                Some(mirror_version)
            );
        }
        code => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                label == "dnf" || label == "yum",
                "{label}: {code:?} {stderr}"
            );
            assert_eq!(code, Some(66), "{label}: {stderr}");
            assert!(
                stderr.contains("gone-repo") && stderr.contains("(baseline source `gone-source`)"),
                "{label}: {stderr}"
            );
        }
    }

    // None applies: 65, one line naming the product and the listed products; nothing done.
    let before = (case.installed)();
    let none = case.baseline_with(
        "none",
        json!([case.source("elsewhere", &["NotThisProduct"], 0)]),
    );
    for verb in ["scan", "install"] {
        let out = case.command(verb, &["--no-refresh", "--baseline", &none], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(65), "{label} {verb}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("`{product}`")) && stderr.contains("NotThisProduct"),
            "{stderr}"
        );
    }
    // A configuration that is not of the package manager's form: 65, naming the source.
    let broken = case.baseline_with(
        "broken",
        json!([{"Name": "broken-one", "Products": ["*"], "Configuration": "this is not a repository"}]),
    );
    let out = case.command("install", &["--no-refresh", "--baseline", &broken], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{label}: {stderr}");
    assert!(stderr.contains("source `broken-one`"), "{stderr}");
    assert_eq!((case.installed)(), before, "{label}: nothing installed");
    unchanged("by refused runs");

    // Killed at every checkpoint: the configuration is as it was; the re-run converges.
    for point in [
        "after-plan",
        "after-download",
        "after-install",
        "after-state",
    ] {
        let out = case.command(
            "install",
            &["--baseline", &one, "--reboot-option", "NoReboot"],
            &[("PATCH_BASELINE_CRASH_AT", point)],
        );
        assert_eq!(
            out.status.code(),
            None,
            "{label}: killed at {point}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        unchanged(&format!("by an install killed at {point}"));
    }
    let out = case.command(
        "install",
        &[
            "--no-refresh",
            "--baseline",
            &one,
            "--reboot-option",
            "NoReboot",
        ],
        &[],
    );
    let report = json_of(case, &out);
    assert_eq!(
        (case.installed)()["xpkg"],
        mirror_version,
        "{label}: {report}"
    );
    assert_eq!(missing(case, &report, "xpkg"), None, "{label}");
    assert!(in_state(&report, "Failed").is_empty(), "{label}: {report}");
    assert_eq!(report["sources"], json!(["mirror-one"]));
    unchanged("by the install");

    // Back to the root's own repositories: the private directory goes.
    let scan = json_of(
        case,
        &case.command("scan", &["--no-refresh", "--baseline", &plain], &[]),
    );
    assert_eq!(scan["sources"], json!([]));
    assert!(
        !case
            .root
            .join("var/log/amazon/ssm/patch-configuration/patch-baseline-sources")
            .exists(),
        "{label}"
    );
    unchanged("at the end");
}

fn apt_case() -> Case {
    let apt = AptRoot::new();
    let v1: Vec<PathBuf> = ["xpkg", "ypkg", "zpkg"]
        .iter()
        .map(|n| apt.deb(n, "1.0-1", "optional", "utils"))
        .collect();
    apt.publish("bookworm", &v1, "Debian", false);
    apt.publish(
        "bookworm-security",
        &[
            apt.deb("xpkg", "1.1-1", "optional", "utils"),
            apt.deb("zpkg", "1.1-1", "optional", "utils"),
        ],
        "Debian-Security",
        false,
    );
    for suite in ["bookworm-updates", "bookworm-backports"] {
        apt.publish(suite, &[], "Debian", false);
    }
    apt.apt("apt-get", &["update", "-q"]);
    apt.apt(
        "apt-get",
        &["install", "-y", "-q", "xpkg=1.0-1", "ypkg", "zpkg=1.0-1"],
    );
    // The machine's policy still applies to the sources' packages: ypkg is held.
    let selections = apt.base.join("selections");
    std::fs::write(&selections, "ypkg hold\n").unwrap();
    run(Command::new("dpkg")
        .arg(format!("--root={}", apt.root.display()))
        .arg("--set-selections")
        .stdin(std::fs::File::open(&selections).unwrap()));
    // The mirrors: other archives, with the updates in their -security suite.
    let mirror = |name: &str| {
        let m = AptRoot::new();
        m.publish(
            "bookworm-security",
            &[m.deb(
                name,
                if name == "xpkg" { "1.2-1" } else { "1.1-1" },
                "optional",
                "utils",
            )],
            "Debian-Security",
            false,
        );
        m
    };
    let (one, two) = (mirror("xpkg"), mirror("ypkg"));
    let line = |m: &AptRoot| {
        format!(
            "deb [trusted=yes] file:{} bookworm-security main",
            m.repo.display()
        )
    };
    let root = apt.root.clone();
    Case {
        label: "apt",
        root: apt.root.clone(),
        dir: apt.base.clone(),
        config: &["etc/apt"],
        product: "Debian12".into(),
        baseline: "AWS-DebianDefaultPatchBaseline.json",
        arch: "amd64",
        versions: ["1.1-1", "1.2-1", "1.1-1"],
        mirrors: [
            line(&one),
            line(&two),
            "deb [trusted=yes] file:/nonexistent/gone-repo bookworm main".into(),
        ],
        env: vec![("APT_CONFIG".into(), apt.config.display().to_string())],
        installed: Box::new(move || dpkg_versions(&root)),
        _keep: vec![Box::new(apt), Box::new(one), Box::new(two)],
    }
}

/// rpm's installed versions under a root, `name` → `version-release`.
fn rpm_installed(root: &Path, home: &Path) -> BTreeMap<String, String> {
    let out = run(Command::new("rpm")
        .env("HOME", home)
        .arg(format!("--root={}", root.display()))
        .args(["-qa", "--qf", "%{NAME} %{VERSION}-%{RELEASE}\\n"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// An rpm-md repository of its own (a [`DnfRoot`] used only for its repository) offering
/// `name` at `version` with a critical security advisory `id` of 30 days ago.
fn rpm_mirror(name: &'static str, version: &'static str, id: &'static str, suse: bool) -> DnfRoot {
    let mirror = DnfRoot::new();
    mirror.rpm(name, None, version);
    let updateinfo = if suse {
        suse_patch(&PatchSpec {
            id,
            category: "security",
            severity: Some("critical"),
            days_old: 30,
            reboot: false,
            packages: vec![(name, 0, version)],
        })
    } else {
        advisory(
            id,
            "security",
            Some("Critical"),
            &days_ago(30),
            &[(name, 0, version)],
        )
    };
    mirror.publish(&updateinfo);
    mirror
}

/// The `.repo` section of a mirror.
fn repo_section(id: &str, repo: &Path, zypper: bool) -> String {
    let extra = if zypper {
        "type=rpm-md\nautorefresh=1\n"
    } else {
        "metadata_expire=0\n"
    };
    format!(
        "[{id}]\nname={id}\nbaseurl=file://{}\nenabled=1\ngpgcheck=0\n{extra}",
        repo.display()
    )
}

/// A dnf root (Amazon Linux 2023): xpkg, ypkg, zpkg 1.0 installed; 1.1 of xpkg and zpkg with
/// critical advisories in its own repository.
fn dnf_root() -> DnfRoot {
    let dnf = DnfRoot::new();
    for name in ["xpkg", "ypkg", "zpkg"] {
        dnf.rpm(name, None, "1.0");
    }
    dnf.publish("");
    dnf.dnf(&["-y", "install", "xpkg", "ypkg", "zpkg"]);
    dnf.rpm("xpkg", None, "1.1");
    dnf.rpm("zpkg", None, "1.1");
    let old = days_ago(30);
    dnf.publish(
        &[
            advisory(
                "ALAS2023-2026-101",
                "security",
                Some("Critical"),
                &old,
                &[("xpkg", 0, "1.1")],
            ),
            advisory(
                "ALAS2023-2026-102",
                "security",
                Some("Critical"),
                &old,
                &[("zpkg", 0, "1.1")],
            ),
        ]
        .concat(),
    );
    dnf.dnf(&["makecache"]);
    // The machine's policy still applies to the sources' packages: ypkg is excluded.
    let conf = dnf.root.join("etc/dnf/dnf.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, format!("{text}exclude=ypkg\n")).unwrap();
    dnf
}

fn rpm_case(label: &'static str, yum: bool) -> Case {
    let dnf = dnf_root();
    let mut env = vec![("HOME".to_string(), dnf.home.display().to_string())];
    let (product, baseline) = if yum {
        crate::yum::as_amazon_linux_2(&dnf);
        env.push(("PATH".into(), crate::yum::yum_shim(&dnf.base)));
        ("AmazonLinux2", "AWS-AmazonLinux2DefaultPatchBaseline.json")
    } else {
        (
            "AmazonLinux2023",
            "AWS-AmazonLinux2023DefaultPatchBaseline.json",
        )
    };
    let one = rpm_mirror("xpkg", "1.2", "ALAS-2026-201", false);
    let two = rpm_mirror("ypkg", "1.1", "ALAS-2026-202", false);
    let (root, home) = (dnf.root.clone(), dnf.home.clone());
    Case {
        label,
        root: dnf.root.clone(),
        dir: dnf.base.clone(),
        config: if yum {
            &["etc/yum.repos.d", "etc/dnf", "etc/yum.conf"]
        } else {
            &["etc/yum.repos.d", "etc/dnf"]
        },
        product: product.into(),
        baseline,
        arch: "noarch",
        versions: ["1.1-1", "1.2-1", "1.1-1"],
        mirrors: [
            repo_section("mirror-one", &one.repo, false),
            repo_section("mirror-two", &two.repo, false),
            repo_section("gone-repo", Path::new("/nonexistent/gone-repo"), false),
        ],
        env,
        installed: Box::new(move || rpm_installed(&root, &home)),
        _keep: vec![Box::new(dnf), Box::new(one), Box::new(two)],
    }
}

#[test]
fn apt_sources_replace_the_roots_repositories() {
    exercise(&apt_case());
}

#[test]
fn dnf_sources_replace_the_roots_repositories() {
    exercise(&rpm_case("dnf", false));
}

#[test]
fn yum_sources_replace_the_roots_repositories() {
    exercise(&rpm_case("yum", true));
}

#[test]
fn zypper_sources_replace_the_roots_repositories() {
    let mut z = ZypperRoot::new();
    for name in ["xpkg", "ypkg", "zpkg"] {
        z.build.rpm(name, None, "1.0");
    }
    z.add_repo();
    z.zypper(&["install", "--no-recommends", "xpkg", "ypkg", "zpkg"]);
    // The machine's policy still applies to the sources' packages: ypkg is locked.
    z.zypper(&["addlock", "ypkg"]);
    z.build.rpm("xpkg", None, "1.1");
    z.build.rpm("zpkg", None, "1.1");
    let patch = |id: &'static str, name: &'static str| PatchSpec {
        id,
        category: "security",
        severity: Some("critical"),
        days_old: 30,
        reboot: false,
        packages: vec![(name, 0, "1.1")],
    };
    z.publish(vec![
        patch("SUSE-SLE-Module-Basesystem-15-SP5-2026-101", "xpkg"),
        patch("SUSE-SLE-Module-Basesystem-15-SP5-2026-102", "zpkg"),
    ]);
    let one = rpm_mirror(
        "xpkg",
        "1.2",
        "SUSE-SLE-Module-Basesystem-15-SP5-2026-201",
        true,
    );
    let two = rpm_mirror(
        "ypkg",
        "1.1",
        "SUSE-SLE-Module-Basesystem-15-SP5-2026-202",
        true,
    );
    let (root, home) = (z.root.clone(), z.build.home.clone());
    let case = Case {
        label: "zypper",
        root: z.root.clone(),
        dir: z.build.base.clone(),
        config: &["etc/zypp"],
        product: "Suse15.5".into(),
        baseline: "AWS-SuseDefaultPatchBaseline.json",
        arch: "noarch",
        versions: ["1.1-1", "1.2-1", "1.1-1"],
        mirrors: [
            repo_section("mirror-one", &one.repo, true),
            repo_section("mirror-two", &two.repo, true),
            repo_section("gone-repo", Path::new("/nonexistent/gone-repo"), true),
        ],
        env: vec![("HOME".into(), z.build.home.display().to_string())],
        installed: Box::new(move || rpm_installed(&root, &home)),
        _keep: vec![Box::new(z), Box::new(one), Box::new(two)],
    };
    exercise(&case);
}
