//! The apt backend against real apt and dpkg: an alternate root in a temporary directory,
//! packages built with `dpkg-deb`, suites published with `apt-ftparchive` (normal, `-security`,
//! `-updates`, a `NotAutomatic` backports suite), installed with `apt-get`. Our `scan --root`
//! must agree with `apt list --upgradable` and `apt-get -s dist-upgrade` on the same root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::util::{assert_code, binary};

/// A Debian-like system installed under a temporary directory, with its own local archive.
pub struct AptRoot {
    _dir: tempfile::TempDir,
    pub base: PathBuf,
    pub root: PathBuf,
    pub repo: PathBuf,
    pub config: PathBuf,
}

pub fn run(command: &mut Command) -> Output {
    let output = command
        .env("LC_ALL", "C")
        .output()
        .expect("tool must be installed (scripts/test installs it)");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

impl AptRoot {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_path_buf();
        let root = base.join("root");
        let repo = base.join("repo");
        for sub in [
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/sources.list.d",
            "var/lib/dpkg/info",
            "var/lib/dpkg/updates",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/log/apt",
        ] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "ID=debian\nVERSION_ID=\"12\"\nNAME=\"Debian GNU/Linux\"\n",
        )
        .unwrap();
        let suites = [
            "bookworm",
            "bookworm-security",
            "bookworm-updates",
            "bookworm-backports",
        ];
        let sources: String = suites
            .iter()
            .map(|s| format!("deb [trusted=yes] file:{} {s} main\n", repo.display()))
            .collect();
        std::fs::write(root.join("etc/apt/sources.list"), sources).unwrap();
        let config = base.join("apt.conf");
        std::fs::write(
            &config,
            format!(
                "Dir \"{r}/\";\nDir::State::status \"{r}/var/lib/dpkg/status\";\nDir::Cache::pkgcache \"\";\n\
                 Dir::Cache::srcpkgcache \"\";\nDir::Log \"{r}/var/log/apt\";\nAPT::Architecture \"amd64\";\n\
                 APT::Architectures {{ \"amd64\"; }};\nDPkg::Options {{ \"--root={r}\"; \"--force-script-chrootless\"; \
                 \"--log={r}/var/log/dpkg.log\"; }};\nDPkg::Use-Pty \"false\";\nAcquire::GzipIndexes \"false\";\n",
                r = root.display()
            ),
        )
        .unwrap();
        for suite in suites {
            std::fs::create_dir_all(repo.join("dists").join(suite).join("main/binary-amd64"))
                .unwrap();
            std::fs::create_dir_all(repo.join("pool").join(suite)).unwrap();
        }
        Self {
            _dir: dir,
            base,
            root,
            repo,
            config,
        }
    }

    /// Builds `name_version_all.deb` with the given Priority and Section.
    pub fn deb(&self, name: &str, version: &str, priority: &str, section: &str) -> PathBuf {
        self.deb_with(name, version, priority, section, None, None)
    }

    /// Builds a .deb with optional `Depends` and `postinst` script.
    pub fn deb_with(
        &self,
        name: &str,
        version: &str,
        priority: &str,
        section: &str,
        depends: Option<&str>,
        script: Option<(&str, &str)>,
    ) -> PathBuf {
        let dir = self.base.join("build").join(format!("{name}-{version}"));
        std::fs::create_dir_all(dir.join("DEBIAN")).unwrap();
        std::fs::create_dir_all(dir.join(format!("usr/share/{name}"))).unwrap();
        std::fs::write(dir.join(format!("usr/share/{name}/VERSION")), version).unwrap();
        std::fs::write(
            dir.join("DEBIAN/control"),
            format!("Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Test <t@example.com>\n\
                     Priority: {priority}\nSection: {section}\n{}Description: test package {name}\n",
                     depends.map(|d| format!("Depends: {d}\n")).unwrap_or_default()),
        )
        .unwrap();
        if let Some((script_name, script)) = script {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.join("DEBIAN").join(script_name);
            std::fs::write(&path, format!("#!/bin/sh\nset -e\n{script}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let out = self.base.join(format!("{name}_{version}_all.deb"));
        run(Command::new("dpkg-deb")
            .args(["--root-owner-group", "--build"])
            .arg(&dir)
            .arg(&out));
        out
    }

    /// Adds debs to a suite and regenerates its index and Release file.
    pub fn publish(&self, suite: &str, debs: &[PathBuf], label: &str, not_automatic: bool) {
        for deb in debs {
            std::fs::copy(
                deb,
                self.repo
                    .join("pool")
                    .join(suite)
                    .join(deb.file_name().unwrap()),
            )
            .unwrap();
        }
        let packages = run(Command::new("apt-ftparchive")
            .arg("packages")
            .arg(format!("pool/{suite}"))
            .current_dir(&self.repo));
        std::fs::write(
            self.repo
                .join(format!("dists/{suite}/main/binary-amd64/Packages")),
            &packages.stdout,
        )
        .unwrap();
        let mut release = Command::new("apt-ftparchive");
        release.current_dir(&self.repo).args([
            "-o",
            "APT::FTPArchive::Release::Origin=Debian",
            "-o",
            &format!("APT::FTPArchive::Release::Label={label}"),
            "-o",
            &format!("APT::FTPArchive::Release::Suite={suite}"),
            "-o",
            &format!("APT::FTPArchive::Release::Codename={suite}"),
            "-o",
            "APT::FTPArchive::Release::Architectures=amd64",
            "-o",
            "APT::FTPArchive::Release::Components=main",
        ]);
        if not_automatic {
            release.args(["-o", "APT::FTPArchive::Release::NotAutomatic=yes"]);
        }
        let text = run(release.arg("release").arg(format!("dists/{suite}")));
        std::fs::write(
            self.repo.join(format!("dists/{suite}/Release")),
            &text.stdout,
        )
        .unwrap();
    }

    /// Runs an apt tool on the root (`APT_CONFIG`).
    pub fn apt(&self, tool: &str, args: &[&str]) -> Output {
        run(Command::new(tool)
            .args(args)
            .env("APT_CONFIG", &self.config)
            .env("DEBIAN_FRONTEND", "noninteractive"))
    }

    /// `apt list --upgradable`: (name, arch) → (version, suites).
    pub fn upgradable(&self) -> BTreeMap<(String, String), (String, String)> {
        let out = self.apt("apt", &["list", "--upgradable"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("[upgradable from"))
            .map(|line| {
                let (name, rest) = line.split_once('/').unwrap();
                let fields: Vec<&str> = rest.split_whitespace().collect();
                // apt lists `Architecture: all` packages as `all`; python-apt, the payload and we
                // name them by the native architecture (these roots' packages are all `all`, so
                // theirs is this machine's, amd64).
                let arch = if fields[2] == "all" {
                    "amd64"
                } else {
                    fields[2]
                };
                (
                    (name.to_string(), arch.to_string()),
                    (fields[1].to_string(), fields[0].to_string()),
                )
            })
            .collect()
    }

    /// `apt-get -s dist-upgrade`: (name, arch) → version, from the `Inst` lines.
    pub fn simulated_upgrades(&self) -> BTreeMap<String, String> {
        let out = self.apt("apt-get", &["-s", "dist-upgrade"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("Inst "))
            .map(|l| {
                let name = l.split_whitespace().next().unwrap().to_string();
                let version = l
                    .split('(')
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .to_string();
                (name, version)
            })
            .collect()
    }

    /// Our scan of the root: the JSON document.
    pub fn scan(&self, extra: &[&str]) -> Value {
        let mut args = vec!["--root", self.root.to_str().unwrap()];
        args.extend_from_slice(extra);
        scan_json(&args)
    }
}

/// Runs `patch-baseline scan --output json ARGS` and returns the document.
pub fn scan_json(args: &[&str]) -> Value {
    scan_json_env(args, &[])
}

/// `scan_json` with extra environment variables.
pub fn scan_json_env(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut command = Command::new(binary());
    command
        .args(["scan", "--output", "json"])
        .args(args)
        .env("LC_ALL", "C");
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().unwrap();
    assert_code(&out, 0);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (name, arch) → version of the packages our scan reports in `state`.
pub fn in_state(scan: &Value, state: &str) -> BTreeMap<(String, String), String> {
    scan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == state)
        .map(|p| {
            (
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["arch"].as_str().unwrap().to_string(),
                ),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn write_baseline(dir: &Path, name: &str, rules: &str, extra: &str) -> String {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, format!(r#"{{"Name": "{name}", "OperatingSystem": "DEBIAN", "ApprovalRules": {{"PatchRules": [{rules}]}}{extra}}}"#)).unwrap();
    path.to_string_lossy().into_owned()
}

/// The updates the standard scenario publishes in `bookworm-security`.
pub fn scenario_security_debs(apt: &AptRoot) -> Vec<PathBuf> {
    vec![
        apt.deb("sec-pkg", "1.1-1", "optional", "utils"),
        apt.deb("pinned-pkg", "1.1-1", "optional", "utils"),
        apt.deb("held-pkg", "1.1-1", "optional", "utils"),
        apt.deb("extra-pkg", "1.1", "extra", "net"),
        apt.deb("both-pkg", "3.1-1", "standard", "libs"),
        apt.deb("notinst-pkg", "1.1-1", "optional", "utils"),
    ]
}

/// The standard scenario: v1 of everything installed from `bookworm`, then updates published:
/// security, updates, NotAutomatic backports, a security update pinned away, a held package, a
/// package whose security update is overtaken by a newer one in `-updates`.
pub fn scenario() -> AptRoot {
    let apt = AptRoot::new();
    let v1 = [
        apt.deb("sec-pkg", "1.0-1", "optional", "utils"),
        apt.deb("upd-pkg", "2.0-1", "important", "admin"),
        apt.deb("bp-pkg", "1.0-1", "optional", "utils"),
        apt.deb("pinned-pkg", "1.0-1", "optional", "utils"),
        apt.deb("held-pkg", "1.0-1", "optional", "utils"),
        apt.deb("extra-pkg", "1.0", "extra", "net"),
        apt.deb("both-pkg", "3.0-1", "standard", "libs"),
        apt.deb("notinst-pkg", "1.0-1", "optional", "utils"),
    ];
    apt.publish("bookworm", &v1, "Debian", false);
    for suite in [
        "bookworm-security",
        "bookworm-updates",
        "bookworm-backports",
    ] {
        apt.publish(
            suite,
            &[],
            if suite.ends_with("security") {
                "Debian-Security"
            } else {
                "Debian"
            },
            suite.ends_with("backports"),
        );
    }
    apt.apt("apt-get", &["update", "-q"]);
    apt.apt(
        "apt-get",
        &[
            "install",
            "-y",
            "-q",
            "sec-pkg",
            "upd-pkg",
            "bp-pkg",
            "pinned-pkg",
            "held-pkg",
            "extra-pkg",
            "both-pkg",
        ],
    );
    run(Command::new("dpkg")
        .arg(format!("--root={}", apt.root.display()))
        .arg("--set-selections")
        .stdin(
            std::fs::File::open({
                let p = apt.base.join("selections");
                std::fs::write(&p, "held-pkg hold\n").unwrap();
                p
            })
            .unwrap(),
        ));
    apt.publish(
        "bookworm-security",
        &scenario_security_debs(&apt),
        "Debian-Security",
        false,
    );
    apt.publish(
        "bookworm-updates",
        &[
            apt.deb("upd-pkg", "2.1-1", "important", "admin"),
            apt.deb("both-pkg", "3.2-1", "standard", "libs"),
        ],
        "Debian",
        false,
    );
    apt.publish(
        "bookworm-backports",
        &[apt.deb("bp-pkg", "1.5-1", "optional", "utils")],
        "Debian",
        true,
    );
    std::fs::write(
        apt.root.join("etc/apt/preferences.d/pin"),
        "Package: pinned-pkg\nPin: release a=bookworm-security\nPin-Priority: -1\n",
    )
    .unwrap();
    apt.apt("apt-get", &["update", "-q"]);
    apt
}

#[test]
fn scan_agrees_with_apt_on_candidates_security_and_holds() {
    let apt = scenario();
    let upgradable = apt.upgradable();
    // apt's own view of this root, for the record: pins, NotAutomatic and -updates are honoured.
    let names: Vec<&str> = upgradable.keys().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["both-pkg", "extra-pkg", "held-pkg", "sec-pkg", "upd-pkg"]
    );

    // Default Debian baseline: Missing = upgradable packages whose candidate is from -security,
    // and both-pkg at its -security version 3.1-1, which -updates' 3.2-1 overtook: the payload
    // judges every version above the installed one with its own origin (observed with AWS
    // payload 1.80 on this machine's openssh-client, +deb12u9 in -security under +deb12u10).
    let default = apt.scan(&["--no-refresh"]);
    let missing = in_state(&default, "Missing");
    let mut security: BTreeMap<_, _> = upgradable
        .iter()
        .filter(|(_, (_, suites))| suites.contains("security"))
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect();
    security.insert(("both-pkg".into(), "amd64".into()), "3.1-1".into());
    assert_eq!(missing, security);
    assert_eq!(missing.len(), 4, "sec-pkg, extra-pkg, held-pkg, both-pkg");

    // EnableNonSecurity: Missing = exactly apt list --upgradable, with the same versions.
    let all = write_baseline(
        &apt.base,
        "nonsec",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["*"]}]}, "ApproveAfterDays": 7, "EnableNonSecurity": true}"#,
        "",
    );
    let nonsec = apt.scan(&["--no-refresh", "--baseline", &all]);
    let expected: BTreeMap<_, _> = upgradable
        .iter()
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect();
    assert_eq!(in_state(&nonsec, "Missing"), expected);
    // And what apt-get dist-upgrade would do is that minus the held package.
    let simulated = apt.simulated_upgrades();
    let planned: BTreeMap<String, String> = in_state(&nonsec, "Missing")
        .into_iter()
        .filter(|((name, _), _)| name != "held-pkg")
        .map(|((name, _), version)| (name, version))
        .collect();
    assert_eq!(planned, simulated);
    let held = nonsec["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "held-pkg")
        .unwrap();
    assert!(
        held["explanation"]
            .as_str()
            .unwrap()
            .contains("held by the administrator"),
        "{held}"
    );

    // Pinned away (-1) and NotAutomatic versions are judged only when they are apt's candidate
    // (a kept difference: the payload ignores pins); a non-security update is not approved;
    // not installed packages with a security version are NotApplicable.
    let installed_other = in_state(&default, "InstalledOther");
    for name in ["pinned-pkg", "bp-pkg", "upd-pkg"] {
        assert!(
            installed_other.contains_key(&(name.to_string(), "amd64".to_string())),
            "{name}: {installed_other:?}"
        );
    }
    assert_eq!(
        in_state(&default, "NotApplicable")
            .get(&("notinst-pkg".into(), "amd64".into()))
            .map(String::as_str),
        Some("1.1-1")
    );
    assert_eq!(default["operatingSystem"], "DEBIAN");
    assert_eq!(default["product"], "Debian12");
}

#[test]
fn priority_section_and_lists_filters_on_a_real_root() {
    let apt = scenario();
    let extra = write_baseline(
        &apt.base,
        "extra",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["Extra"]}]}, "ApproveAfterDays": 0}"#,
        "",
    );
    assert_eq!(
        in_state(
            &apt.scan(&["--no-refresh", "--baseline", &extra]),
            "Missing"
        )
        .keys()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>(),
        ["extra-pkg"]
    );
    let section = write_baseline(
        &apt.base,
        "section",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "SECTION", "Values": ["utils"]}]}, "ApproveAfterDays": 0, "EnableNonSecurity": true}"#,
        "",
    );
    assert_eq!(
        in_state(
            &apt.scan(&["--no-refresh", "--baseline", &section]),
            "Missing"
        )
        .keys()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>(),
        ["held-pkg", "sec-pkg"]
    );
    let lists = write_baseline(
        &apt.base,
        "lists",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["*"]}]}, "ApproveAfterDays": 0}"#,
        r#", "ApprovedPatches": ["upd-pkg"], "ApprovedPatchesEnableNonSecurity": true, "RejectedPatches": ["sec-pkg"], "RejectedPatchesAction": "BLOCK""#,
    );
    let scan = apt.scan(&["--no-refresh", "--baseline", &lists]);
    assert_eq!(
        in_state(&scan, "Missing")
            .keys()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["both-pkg", "extra-pkg", "held-pkg", "upd-pkg"]
    );
    assert_eq!(
        in_state(&scan, "InstalledRejected")
            .keys()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["sec-pkg"]
    );
}

#[test]
fn every_list_compression_reads_the_same() {
    let apt = scenario();
    let reference = apt.scan(&[
        "--no-refresh",
        "--save-inventory",
        apt.base.join("plain.json").to_str().unwrap(),
    ]);
    let lists = apt.root.join("var/lib/apt/lists");
    let plain: Vec<PathBuf> = std::fs::read_dir(&lists)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_Packages"))
        .collect();
    assert_eq!(plain.len(), 4);
    // apt links the indexes of file: archives; make them real files, as for a remote archive.
    for file in &plain {
        let bytes = std::fs::read(file).unwrap();
        std::fs::remove_file(file).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    for (tool, args, extension) in [
        ("lz4", vec!["-q", "-z"], "lz4"),
        ("gzip", vec!["-k", "-n"], "gz"),
        ("xz", vec!["-k"], "xz"),
        ("zstd", vec!["-q"], "zst"),
    ] {
        for file in &plain {
            let mut command = Command::new(tool);
            command.args(&args).arg(file);
            if tool == "lz4" || tool == "zstd" {
                command.arg(format!("{}.{extension}", file.display()));
            }
            run(&mut command);
        }
        // Only the compressed files remain, as apt would keep them.
        for file in &plain {
            std::fs::rename(file, apt.base.join(file.file_name().unwrap())).unwrap();
        }
        let scanned = apt.scan(&["--no-refresh"]);
        assert_eq!(scanned["packages"], reference["packages"], "{tool}");
        for file in &plain {
            std::fs::remove_file(format!("{}.{extension}", file.display())).unwrap();
            std::fs::rename(apt.base.join(file.file_name().unwrap()), file).unwrap();
        }
    }
}

#[test]
fn a_failing_repository_is_named_and_the_scan_goes_on() {
    let apt = scenario();
    let mut sources = std::fs::read_to_string(apt.root.join("etc/apt/sources.list")).unwrap();
    sources.push_str(&format!(
        "deb [trusted=yes] file:{}/missing-repo bookworm main\n",
        apt.base.display()
    ));
    std::fs::write(apt.root.join("etc/apt/sources.list"), sources).unwrap();
    let scan = apt.scan(&[]);
    let warnings: Vec<&str> = scan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("missing-repo")),
        "{warnings:?}"
    );
    assert_eq!(
        in_state(&scan, "Missing").len(),
        4,
        "the scan still reports from the lists apt has"
    );
}

/// Issue #3's acceptance check on this very machine (Debian 12 against the real archive, lists
/// as `scripts/test`'s `apt-get update` left them): with the Debian default baseline, Missing is
/// exactly the upgradable packages whose candidate comes from a security suite; with
/// EnableNonSecurity, exactly `apt list --upgradable`, versions included.
#[test]
fn this_machine_agrees_with_apt_list_upgradable() {
    let listing = Command::new("apt")
        .args(["list", "--upgradable"])
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    let mut all = BTreeMap::new();
    let mut security = BTreeMap::new();
    for line in String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter(|l| l.contains("[upgradable from"))
    {
        let (name, rest) = line.split_once('/').unwrap();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let arch = if fields[2] == "all" {
            "amd64"
        } else {
            fields[2]
        };
        let key = (name.to_string(), arch.to_string());
        if fields[0].split(',').any(|suite| suite.contains("security")) {
            security.insert(key.clone(), fields[1].to_string());
        }
        all.insert(key, fields[1].to_string());
    }
    let scan = |extra: &[&str]| {
        // --read-only: the test must not leave state files on this machine.
        let mut args = vec!["--no-refresh", "--read-only"];
        args.extend_from_slice(extra);
        scan_json(&args)
    };
    // Default baseline: apt's own version tables (`apt-cache policy`, newest first, `***` the
    // installed one) say which installed packages have a version from a security suite above
    // the installed one; the newest such version is Missing, whether or not it is apt's
    // candidate (payload 1.80 judges every version above the installed one).
    let names: Vec<String> = String::from_utf8_lossy(
        &Command::new("dpkg-query")
            .args(["-W", "-f", "${binary:Package}\n"])
            .output()
            .unwrap()
            .stdout,
    )
    .lines()
    .map(str::to_string)
    .collect();
    let policy = Command::new("apt-cache")
        .arg("policy")
        .args(&names)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    let mut expected_security = BTreeMap::new();
    let text = String::from_utf8_lossy(&policy.stdout);
    let mut current: Option<(String, String)> = None;
    let (mut above_installed, mut version, mut found) = (true, String::new(), false);
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            let name = line.trim_end_matches(':');
            let (name, arch) = name.split_once(':').unwrap_or((name, "amd64"));
            current = Some((name.to_string(), arch.to_string()));
            (above_installed, found) = (true, false);
        } else if line.starts_with(" *** ") {
            above_installed = false;
        } else if line.starts_with("     ") && !line.starts_with("        ") {
            version = line.split_whitespace().next().unwrap_or("").to_string();
        } else if line.starts_with("        ")
            && above_installed
            && !found
            && line.contains("-security/")
            && let Some(key) = &current
        {
            expected_security.insert(key.clone(), version.clone());
            found = true;
        }
    }
    assert!(
        security
            .iter()
            .all(|(k, v)| expected_security.get(k) == Some(v)),
        "apt's security candidates are among them"
    );
    assert_eq!(in_state(&scan(&[]), "Missing"), expected_security);
    let dir = tempfile::tempdir().unwrap();
    let all_baseline = write_baseline(
        dir.path(),
        "nonsec",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["*"]}]}, "ApproveAfterDays": 7, "EnableNonSecurity": true}"#,
        "",
    );
    assert_eq!(
        in_state(&scan(&["--baseline", &all_baseline]), "Missing"),
        all
    );
    println!(
        "this machine: {} upgradable, {} from security; scan agrees on both",
        all.len(),
        security.len()
    );
}

fn patch(apt: &AptRoot, extra: &[&str]) -> Output {
    patch_env(apt, extra, &[])
}

/// `install` on the root with extra environment (`PATCH_BASELINE_BOOT_TIME`, crash points).
pub fn patch_env(apt: &AptRoot, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec![
        "install",
        "--root",
        apt.root.to_str().unwrap(),
        "--no-refresh",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    // The root's APT_CONFIG makes dpkg run the fixtures' maintainer scripts chrootless.
    let mut command = Command::new(binary());
    command
        .args(&args)
        .env("APT_CONFIG", &apt.config)
        .env("LC_ALL", "C");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

pub fn installed_versions(apt: &AptRoot) -> BTreeMap<String, String> {
    dpkg_versions(&apt.root)
}

/// dpkg's installed versions under `root`, name → version.
pub fn dpkg_versions(root: &Path) -> BTreeMap<String, String> {
    let out = run(Command::new("dpkg-query")
        .arg(format!("--admindir={}/var/lib/dpkg", root.display()))
        .args(["-W", "-f", "${Package} ${Version}\n"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn install_applies_exactly_the_plan_then_rescans() {
    let apt = scenario();
    // A security update whose postinst asks for a reboot, as update-notifier does on Ubuntu.
    apt.publish("bookworm-security", &[apt.deb_with("sec-pkg", "1.2-1", "optional", "utils", None,
        Some(("postinst", "mkdir -p \"$DPKG_ROOT/run\"; touch \"$DPKG_ROOT/run/reboot-required\"; echo sec-pkg >> \"$DPKG_ROOT/run/reboot-required.pkgs\"")))], "Debian-Security", false);
    apt.apt("apt-get", &["update", "-q"]);

    let dry = patch(&apt, &["--dry-run"]);
    assert_code(&dry, 0);
    let plan: Value = serde_json::from_slice(&dry.stdout).unwrap();
    let planned: Vec<(&str, &str)> = plan["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["version"].as_str().unwrap()))
        .collect();
    assert_eq!(
        planned,
        [
            ("both-pkg", "3.1-1"),
            ("extra-pkg", "1.1"),
            ("sec-pkg", "1.2-1")
        ],
        "held-pkg is held: not in the plan; both-pkg at its -security version"
    );
    assert_eq!(
        installed_versions(&apt)["sec-pkg"],
        "1.0-1",
        "a dry run changes nothing"
    );

    let out = patch(&apt, &["--reboot-option", "NoReboot"]);
    assert_code(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions = installed_versions(&apt);
    assert_eq!(
        (versions["sec-pkg"].as_str(), versions["extra-pkg"].as_str()),
        ("1.2-1", "1.1")
    );
    assert_eq!(
        (
            versions["held-pkg"].as_str(),
            versions["upd-pkg"].as_str(),
            versions["pinned-pkg"].as_str()
        ),
        ("1.0-1", "2.0-1", "1.0-1")
    );
    assert_eq!(report["operation"], "Install");
    // NoReboot: what this run installed waits for a reboot.
    let installed = in_state(&report, "InstalledPendingReboot");
    assert_eq!(
        installed
            .get(&("sec-pkg".into(), "amd64".into()))
            .map(String::as_str),
        Some("1.2-1")
    );
    assert_eq!(
        installed
            .get(&("extra-pkg".into(), "amd64".into()))
            .map(String::as_str),
        Some("1.1")
    );
    assert!(in_state(&report, "Failed").is_empty());
    assert!(
        in_state(&report, "Missing").contains_key(&("held-pkg".into(), "amd64".into())),
        "held: deliberately left alone, so Missing rather than Failed"
    );
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("asks for a reboot") && warnings.contains("sec-pkg"),
        "{warnings}"
    );

    // A second run installs nothing and reports the same compliance.
    let again: Value =
        serde_json::from_slice(&patch(&apt, &["--reboot-option", "NoReboot"]).stdout).unwrap();
    assert_eq!(again["counts"], report["counts"]);
    assert_eq!(installed_versions(&apt), versions);
}

#[test]
fn block_keeps_rejected_dependencies_out() {
    let (apt, baseline) = scenario_with_rejected_dependency();
    let out = patch(
        &apt,
        &["--baseline", &baseline, "--reboot-option", "NoReboot"],
    );
    assert_code(&out, 2);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions = installed_versions(&apt);
    assert!(!versions.contains_key("evil-dep"), "{versions:?}");
    assert_eq!(versions["sec-pkg"], "1.0-1");
    assert_eq!(
        versions["extra-pkg"], "1.1",
        "the rest of the plan went ahead"
    );
    assert!(in_state(&report, "Failed").contains_key(&("sec-pkg".into(), "amd64".into())));
    assert!(
        report["warnings"]
            .to_string()
            .contains("would bring in evil-dep 1.0-1"),
        "{}",
        report["warnings"]
    );
    // Without BLOCK the dependency comes in.
    let allow = write_baseline(
        &apt.base,
        "allow",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["*"]}]}, "ApproveAfterDays": 0}"#,
        r#", "RejectedPatches": ["evil-dep"], "RejectedPatchesAction": "ALLOW_AS_DEPENDENCY""#,
    );
    assert!(
        patch(&apt, &["--baseline", &allow, "--reboot-option", "NoReboot"])
            .status
            .success()
    );
    assert_eq!(installed_versions(&apt)["sec-pkg"], "1.2-1");
    assert!(installed_versions(&apt).contains_key("evil-dep"));
}

#[test]
fn a_held_lock_and_an_interrupted_dpkg_are_clear_errors() {
    let apt = scenario();
    let lock = apt.root.join("var/lib/dpkg/lock-frontend");
    let mut holder = Command::new("python3")
        .args(["-c", "import fcntl, sys, time\nf = open(sys.argv[1], 'a')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)"])
        .arg(&lock)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut first,
    )
    .unwrap();
    assert_eq!(first.trim(), "locked");
    let out = patch(&apt, &["--lock-timeout", "1"]);
    let _ = holder.kill();
    let _ = holder.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(
        stderr.contains(&format!("held by process {}", holder.id())),
        "{stderr}"
    );
    assert_eq!(
        installed_versions(&apt)["sec-pkg"],
        "1.0-1",
        "nothing changed"
    );

    // An interrupted dpkg whose journal dpkg cannot finish: exit 1, one line naming the repair,
    // nothing installed.
    let journal = apt.root.join("var/lib/dpkg/updates/0001");
    let status = std::fs::read(apt.root.join("var/lib/dpkg/status")).unwrap();
    std::fs::write(&journal, "this is not a dpkg status paragraph\n").unwrap();
    let out = patch(&apt, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--configure -a"), "{stderr}");
    assert!(stderr.contains("dpkg was interrupted"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert_eq!(
        std::fs::read(apt.root.join("var/lib/dpkg/status")).unwrap(),
        status,
        "nothing installed"
    );

    // One it can finish (an empty entry): finished first, then the install (issue #16).
    std::fs::write(&journal, "").unwrap();
    let out = patch(&apt, &["--reboot-option", "NoReboot"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["warnings"]
            .to_string()
            .contains("dpkg had been interrupted: finished with `dpkg"),
        "{}",
        report["warnings"]
    );
    assert_eq!(installed_versions(&apt)["sec-pkg"], "1.1-1");
    assert!(!journal.exists());
}

/// An Ubuntu 22.04 root: detected as UBUNTU, scanned with AWS-UbuntuDefaultPatchBaseline. (The
/// fixture archive keeps its suite names; Ubuntu's own Release fields are covered by the real
/// focal-security InRelease in `apt_parsers`.)
#[test]
fn ubuntu_root_with_the_ubuntu_default_baseline() {
    let apt = scenario();
    std::fs::write(
        apt.root.join("etc/os-release"),
        "ID=ubuntu\nVERSION_ID=\"22.04\"\nNAME=\"Ubuntu\"\n",
    )
    .unwrap();
    let scan = apt.scan(&["--no-refresh"]);
    assert_eq!(
        (scan["operatingSystem"].as_str(), scan["product"].as_str()),
        (Some("UBUNTU"), Some("Ubuntu22.04"))
    );
    assert_eq!(scan["baselineName"], "AWS-UbuntuDefaultPatchBaseline");
    let mut security: BTreeMap<_, _> = apt
        .upgradable()
        .into_iter()
        .filter(|(_, (_, suites))| suites.contains("security"))
        .map(|(k, (v, _))| (k, v))
        .collect();
    // both-pkg's -security version, overtaken by -updates, is still Missing (payload 1.80).
    security.insert(("both-pkg".into(), "amd64".into()), "3.1-1".into());
    assert_eq!(in_state(&scan, "Missing"), security);
    assert_eq!(security.len(), 4);
}

/// A phased update (Phased-Update-Percentage: 0, as Ubuntu publishes them) in `-updates`:
/// apt's candidate and `apt list --upgradable` include it, `apt-get dist-upgrade` keeps it back
/// (apt does not phase `-security` updates). Our scan follows the candidate, says so in a
/// warning, and an explicit install applies it when approved.
#[test]
fn phased_updates_follow_apts_candidate() {
    let apt = scenario();
    std::fs::write(
        apt.root.join("etc/machine-id"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    apt.publish(
        "bookworm",
        &[apt.deb("ph-pkg", "1.0-1", "optional", "utils")],
        "Debian",
        false,
    );
    apt.apt("apt-get", &["update", "-q"]);
    apt.apt("apt-get", &["install", "-y", "-q", "ph-pkg"]);
    apt.publish(
        "bookworm-updates",
        &[apt.deb("ph-pkg", "2.0-1", "optional", "utils")],
        "Debian",
        false,
    );
    let index = apt
        .repo
        .join("dists/bookworm-updates/main/binary-amd64/Packages");
    let text = std::fs::read_to_string(&index).unwrap().replace(
        "Version: 2.0-1\n",
        "Version: 2.0-1\nPhased-Update-Percentage: 0\n",
    );
    std::fs::write(&index, text).unwrap();
    let release = run(Command::new("apt-ftparchive").current_dir(&apt.repo).args([
        "-o",
        "APT::FTPArchive::Release::Origin=Debian",
        "-o",
        "APT::FTPArchive::Release::Label=Debian",
        "-o",
        "APT::FTPArchive::Release::Suite=bookworm-updates",
        "-o",
        "APT::FTPArchive::Release::Codename=bookworm-updates",
        "release",
        "dists/bookworm-updates",
    ]));
    std::fs::write(
        apt.repo.join("dists/bookworm-updates/Release"),
        &release.stdout,
    )
    .unwrap();
    apt.apt("apt-get", &["update", "-q"]);
    let policy =
        String::from_utf8_lossy(&apt.apt("apt-cache", &["policy", "ph-pkg"]).stdout).to_string();
    assert!(
        policy.contains("Candidate: 2.0-1") && policy.contains("phased 0%"),
        "{policy}"
    );
    assert_eq!(
        apt.upgradable()[&("ph-pkg".to_string(), "amd64".to_string())].0,
        "2.0-1"
    );
    assert!(
        !apt.simulated_upgrades().contains_key("ph-pkg"),
        "dist-upgrade keeps it back"
    );
    let all = approve_everything(&apt);
    let scan = apt.scan(&["--no-refresh", "--baseline", &all]);
    assert_eq!(
        in_state(&scan, "Missing")
            .get(&("ph-pkg".into(), "amd64".into()))
            .map(String::as_str),
        Some("2.0-1")
    );
    assert!(
        scan["warnings"]
            .to_string()
            .contains("1 candidate update(s) are phased"),
        "{}",
        scan["warnings"]
    );
    let out = patch(&apt, &["--baseline", &all, "--reboot-option", "NoReboot"]);
    assert_code(&out, 0);
    assert_eq!(installed_versions(&apt)["ph-pkg"], "2.0-1");
}

/// `NotAutomatic: yes` alone (priority 1) never upgrades; with `ButAutomaticUpgrades: yes`
/// (priority 100) a package installed from that archive follows its newer versions, while one
/// whose installed version is also offered at 500 elsewhere stays: as apt decides.
#[test]
fn but_automatic_upgrades_agrees_with_apt() {
    let apt = scenario();
    let all = approve_everything(&apt);
    let release = |apt: &AptRoot| {
        let text = run(Command::new("apt-ftparchive").current_dir(&apt.repo).args([
            "-o",
            "APT::FTPArchive::Release::Origin=Debian",
            "-o",
            "APT::FTPArchive::Release::Label=Debian",
            "-o",
            "APT::FTPArchive::Release::Suite=bookworm-backports",
            "-o",
            "APT::FTPArchive::Release::Codename=bookworm-backports",
            "-o",
            "APT::FTPArchive::Release::NotAutomatic=yes",
            "-o",
            "APT::FTPArchive::Release::ButAutomaticUpgrades=yes",
            "release",
            "dists/bookworm-backports",
        ]));
        std::fs::write(
            apt.repo.join("dists/bookworm-backports/Release"),
            &text.stdout,
        )
        .unwrap();
    };
    apt.publish(
        "bookworm-backports",
        &[apt.deb("bpa-pkg", "1.0-1", "optional", "utils")],
        "Debian",
        true,
    );
    release(&apt);
    // apt refuses a changed default priority unless told to accept it.
    apt.apt("apt-get", &["update", "-q", "--allow-releaseinfo-change"]);
    apt.apt(
        "apt-get",
        &["install", "-y", "-q", "bpa-pkg/bookworm-backports"],
    );
    apt.publish(
        "bookworm-backports",
        &[apt.deb("bpa-pkg", "1.1-1", "optional", "utils")],
        "Debian",
        true,
    );
    release(&apt);
    apt.apt("apt-get", &["update", "-q"]);
    let expected: BTreeMap<_, _> = apt
        .upgradable()
        .into_iter()
        .map(|(k, (v, _))| (k, v))
        .collect();
    assert_eq!(
        expected
            .get(&("bpa-pkg".into(), "amd64".into()))
            .map(String::as_str),
        Some("1.1-1")
    );
    assert!(
        !expected.contains_key(&("bp-pkg".into(), "amd64".into())),
        "installed version also at 500 in bookworm"
    );
    assert_eq!(
        in_state(&apt.scan(&["--no-refresh", "--baseline", &all]), "Missing"),
        expected
    );
}

/// The scenario plus a security update of sec-pkg that depends on `evil-dep`, and a baseline
/// approving everything that rejects `evil-dep` with BLOCK.
pub fn scenario_with_rejected_dependency() -> (AptRoot, String) {
    let apt = scenario();
    apt.publish(
        "bookworm-security",
        &[
            apt.deb_with(
                "sec-pkg",
                "1.2-1",
                "optional",
                "utils",
                Some("evil-dep"),
                None,
            ),
            apt.deb("evil-dep", "1.0-1", "optional", "utils"),
        ],
        "Debian-Security",
        false,
    );
    apt.apt("apt-get", &["update", "-q"]);
    let baseline = write_baseline(
        &apt.base,
        "block",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["*"]}]}, "ApproveAfterDays": 0}"#,
        r#", "RejectedPatches": ["evil-dep"], "RejectedPatchesAction": "BLOCK""#,
    );
    (apt, baseline)
}

/// The install override list overrides the baseline on apt too (payload 1.80): `upd-pkg`'s
/// update from -updates is not approved by the default (security-only) baseline, yet listed it is
/// installed; approved but unlisted updates stay Missing.
#[test]
fn apt_override_list_installs_what_the_baseline_does_not_approve() {
    let apt = scenario();
    let list = apt.base.join("upd.yaml");
    std::fs::write(&list, "patches:\n  - id: 'upd-pkg'\n").unwrap();
    let out = patch(
        &apt,
        &[
            "--reboot-option",
            "NoReboot",
            "--install-override-list",
            list.to_str().unwrap(),
        ],
    );
    assert_code(&out, 0);
    let versions = installed_versions(&apt);
    assert_eq!(versions["upd-pkg"], "2.1-1");
    assert_eq!(versions["sec-pkg"], "1.0-1", "unlisted: untouched");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(in_state(&report, "Missing").contains_key(&("sec-pkg".into(), "amd64".into())));
    assert!(in_state(&report, "Failed").is_empty(), "{report}");
}

/// Lists left in `var/lib/apt/lists` by a source that was removed without an `apt-get update`
/// are not apt's view (nor the payload's, through python-apt): they are not read, and a warning
/// names them. Here bookworm-updates is taken out of sources.list; apt itself then no longer
/// offers upd-pkg 2.1-1, and neither do we.
#[test]
fn lists_of_sources_no_longer_configured_are_not_read() {
    let apt = scenario();
    let all = approve_everything(&apt);
    let before = in_state(&apt.scan(&["--no-refresh", "--baseline", &all]), "Missing");
    assert!(before.contains_key(&("upd-pkg".into(), "amd64".into())));
    let sources = apt.root.join("etc/apt/sources.list");
    let text = std::fs::read_to_string(&sources).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.contains("bookworm-updates"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&sources, kept).unwrap();
    let scan = apt.scan(&["--no-refresh", "--baseline", &all]);
    let after = in_state(&scan, "Missing");
    assert!(
        !after.contains_key(&("upd-pkg".into(), "amd64".into())),
        "{after:?}"
    );
    let theirs: BTreeMap<_, _> = apt
        .upgradable()
        .into_iter()
        .map(|(k, (v, _))| (k, v))
        .collect();
    // both-pkg: apt's candidate is now its -security version, ours the same.
    assert_eq!(after, theirs);
    assert!(
        scan["warnings"]
            .to_string()
            .contains("bookworm-updates_main_binary"),
        "{}",
        scan["warnings"]
    );
}

/// A baseline approving every update of any priority at once, security or not.
fn approve_everything(apt: &AptRoot) -> String {
    write_baseline(
        &apt.base,
        "nonsec",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["*"]}]}, "ApproveAfterDays": 0, "EnableNonSecurity": true}"#,
        "",
    )
}

/// The apt lists cache (issue #17): a scan keeps each `Packages` index reduced in
/// `var/cache/patch-baseline` and the next scan reads that while the index is unchanged; a
/// read-only scan writes nothing there; a changed index is read again.
#[test]
fn warm_scans_read_the_lists_cache_while_the_lists_are_unchanged() {
    /// A cache entry with `header`'s identity and `body`: the header ends with the body's
    /// length.
    fn entry_with_body(header: &str, body: &str) -> String {
        let (identity, _) = header.rsplit_once('\t').unwrap();
        format!("{identity}\t{}\n{body}", body.len())
    }

    let apt = scenario();
    let cache = apt.root.join("var/cache/patch-baseline");
    let entries = || -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&cache)
            .into_iter()
            .flatten()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("apt-packages-")
            })
            .collect();
        found.sort();
        found
    };
    let cold = apt.scan(&["--no-refresh", "--read-only"]);
    assert!(
        entries().is_empty(),
        "a read-only scan wrote {:?}",
        entries()
    );
    let first = apt.scan(&["--no-refresh"]);
    assert_eq!(first["packages"], cold["packages"]);
    // One entry per Packages index of the scenario's lists.
    assert_eq!(entries().len(), 4, "{:?}", entries());
    let warm = apt.scan(&["--no-refresh", "--read-only"]);
    assert_eq!(warm["packages"], cold["packages"]);
    // The warm scan did read the entries: one edited by hand shows through.
    let missing = in_state(&cold, "Missing");
    let ((name, _), version) = missing
        .iter()
        .next()
        .expect("the scenario has a Missing update");
    let edited = entries()
        .into_iter()
        .find(|e| {
            std::fs::read_to_string(e).unwrap().lines().any(|l| {
                l.starts_with(&format!("{name}\t")) && l.contains(&format!("\t{version}\t"))
            })
        })
        .expect("an entry holds the Missing version");
    let text = std::fs::read_to_string(&edited).unwrap();
    let bumped = format!("{version}+cache1");
    let (header, body) = text.split_once('\n').unwrap();
    let body = body.replace(&format!("\t{version}\t"), &format!("\t{bumped}\t"));
    std::fs::write(&edited, entry_with_body(header, &body)).unwrap();
    // An entry whose header's length is not its body's (cut short) is not read: the index is.
    std::fs::write(&edited, format!("{header}\n{body}")).unwrap();
    assert_eq!(
        apt.scan(&["--no-refresh", "--read-only"])["packages"],
        cold["packages"]
    );
    std::fs::write(&edited, entry_with_body(header, &body)).unwrap();
    let from_edited = apt.scan(&["--no-refresh", "--read-only"]);
    assert!(
        in_state(&from_edited, "Missing")
            .values()
            .any(|v| *v == bumped),
        "{:?}",
        in_state(&from_edited, "Missing")
    );
    // The index changes (as after apt-get update): it is read again, and the entry rewritten.
    let index = std::fs::read_dir(apt.root.join("var/lib/apt/lists"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_Packages"))
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains(&format!("Version: {version}\n"))
        })
        .unwrap();
    let bytes = std::fs::read(&index).unwrap();
    std::fs::remove_file(&index).unwrap();
    std::fs::write(&index, [&bytes[..], b"\n"].concat()).unwrap();
    let after_update = apt.scan(&["--no-refresh"]);
    assert_eq!(after_update["packages"], cold["packages"]);
    assert!(!std::fs::read_to_string(&edited).unwrap().contains(&bumped));
    // A broken entry (a line cut short; names out of order) is found while the scan reads it:
    // the index is parsed again, the entry rewritten, and the scan is as the cold one.
    for breakage in ["cut short", "out of order"] {
        let text = std::fs::read_to_string(&edited).unwrap();
        let (header, body) = text.split_once('\n').unwrap();
        // The header's length kept true, so that the walk is what finds the damage.
        let broken_body = if breakage == "cut short" {
            format!("{body}zzz\tamd64\n")
        } else {
            let mut lines: Vec<&str> = body.lines().collect();
            lines.reverse();
            assert!(lines.first() != lines.last(), "one line only: {body}");
            format!("{}\n", lines.join("\n"))
        };
        let broken = entry_with_body(header, &broken_body);
        std::fs::write(&edited, &broken).unwrap();
        let scanned = apt.scan(&["--no-refresh"]);
        assert_eq!(scanned["packages"], cold["packages"], "{breakage}");
        assert_ne!(
            std::fs::read_to_string(&edited).unwrap(),
            broken,
            "{breakage}"
        );
    }
}
