//! Classic yum. yum 3 cannot run on this Debian machine, so this is verified two ways, and only
//! these two: (1) the table reader against yum's real recorded outputs (`fixtures/yum`, from
//! Azure's LinuxPatchExtension tests); (2) the whole yum path — os-release of Amazon Linux 2,
//! yum's baseline semantics, `yum list available`, `yum update NEVRA…` — run end to end with a
//! `yum` that is dnf underneath (a two-line shim on `PATH`), on a real rpm root.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use patch_baseline::dnf::yum::parse_list;

use crate::dnf_root::{DnfRoot, missing, nevra, report, scenario};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/yum")
            .join(name),
    )
    .unwrap()
}

fn rows(name: &str) -> Vec<String> {
    parse_list(&fixture(name))
        .into_iter()
        .map(|(n, a, v, r)| format!("{n}.{a} {v} {r}"))
        .collect()
}

#[test]
fn recorded_yum_tables() {
    assert_eq!(
        rows("013_yum_HappyPath_check-update.txt"),
        [
            "selinux-policy.noarch 3.13.1-102.el7_3.16 rhui-rhel-7-server-rhui-rpms",
            "selinux-policy-targeted.noarch 3.13.1-102.el7_3.16 rhui-rhel-7-server-rhui-rpms",
            "libgcc.i686 4.8.5-28.el7 rhui-rhel-7-server-rhui-rpms",
            "tar.x86_64 2:1.26-34.el7 rhui-rhel-7-server-rhui-rpms",
            "tcpdump.x86_64 14:4.9.2-3.el7 rhui-rhel-7-server-rhui-rpms",
        ]
    );
    let kernels = rows("017_yum_HappyPath_yum-list-available-kernel-showduplicates.txt");
    assert_eq!(kernels.len(), 7, "{kernels:?}");
    assert_eq!(kernels[0], "kernel.x86_64 3.10.0-862.el7 base");
    assert_eq!(kernels[6], "kernel.x86_64 3.10.0-862.11.6.el7 updates");
    // Rows wrapped over two lines, and rows with stray words.
    let unaligned = rows("049_yum_UnalignedPath_other.txt");
    assert_eq!(
        unaligned[..3],
        [
            "NetworkManager-config-server.x86_64 1:1.4.0-20.el7_3 rhui-rhel-7-server-rhui-rpms",
            "device-mapper-event-libs.x86_64 7:1.02.135-1.el7_3.5 rhui-rhel-7-server-rhui-rpms",
            "python-rhsm-certificates.x86_64 1.17.10-1.el7_3 rhui-rhel-7-server-rhui-rpms",
        ]
    );
    assert!(unaligned.contains(
        &"kernel-tools-libs.x86_64 3.10.0-693.1.1.el7 rhui-rhel-7-server-rhui-rpms".to_string()
    ));
    // Two architectures of one name stay apart.
    let arches = rows("115_yum_ArchDependency_check-update.txt");
    assert_eq!(arches.len(), 7);
    assert!(arches.contains(&"libgcc.i686 4.8.5-28.el7 rhui-rhel-7-server-rhui-rpms".into()));
    assert!(arches.contains(&"libgcc.x86_64 4.8.5-28.el7 rhui-rhel-7-server-rhui-rpms".into()));
    // The obsoleting section is not read as updates.
    assert_eq!(
        rows("117_yum_ObsoletePackages_check-update.txt"),
        ["grub2-tools.x86_64 1:2.02-142.el8 rhel-8-baseos-rhui-rpms"]
    );
}

/// A directory holding a `yum` that runs dnf (dropping yum 3's `makecache fast` argument).
pub fn yum_shim(dir: &Path) -> String {
    let bin = dir.join("shim-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let yum = bin.join("yum");
    std::fs::write(
        &yum,
        "#!/bin/sh\n# yum 3 stand-in for tests: dnf underneath.\nfor a in \"$@\"; do shift; [ \"$a\" = fast ] || set -- \"$@\" \"$a\"; done\nexec dnf \"$@\"\n",
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&yum).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&yum, permissions).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

pub fn as_amazon_linux_2(dnf: &DnfRoot) {
    std::fs::write(
        dnf.root.join("etc/os-release"),
        "NAME=\"Amazon Linux\"\nID=\"amzn\"\nVERSION_ID=\"2\"\n",
    )
    .unwrap();
    std::fs::copy(
        dnf.root.join("etc/dnf/dnf.conf"),
        dnf.root.join("etc/yum.conf"),
    )
    .unwrap();
}

/// A read-only scan of the root with the yum shim on `PATH`, available packages `from` the
/// metadata cache (`auto`) or the package manager.
fn yum_scan(dnf: &DnfRoot, path: &str, from: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "--root",
        dnf.root.to_str().unwrap(),
        "--read-only",
        "--no-refresh",
    ];
    args.extend_from_slice(extra);
    crate::apt_root::scan_json_env(
        &args,
        &[
            ("HOME", dnf.home.to_str().unwrap()),
            ("PATH", path),
            ("PATCH_BASELINE_AVAILABLE_FROM", from),
        ],
    )
}

#[test]
fn yum_path_end_to_end_with_dnf_standing_in_for_yum() {
    let dnf = scenario();
    as_amazon_linux_2(&dnf);
    let path = yum_shim(&dnf.base);
    let scan = |from: &str| yum_scan(&dnf, &path, from, &[]);
    let through_yum = scan("package-manager");
    assert_eq!(
        (
            through_yum["product"].as_str(),
            through_yum["packageManager"].as_str()
        ),
        (Some("AmazonLinux2"), Some("yum"))
    );
    let native = scan("auto");
    assert_eq!(missing(&through_yum), missing(&native));
    // The AL2 default baseline: Security Critical/Important, and Bugfix, after 7 days; what
    // dnf's updateinfo says for the same filters, less the one released a day ago.
    let mut theirs: BTreeSet<(String, String, String)> = dnf
        .dnf(&[
            "updateinfo",
            "list",
            "--sec-severity=Critical",
            "--sec-severity=Important",
            "--bugfix",
        ])
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(nevra)
        .collect();
    assert!(theirs.remove(&("fresh".into(), "noarch".into(), "1.1-1".into())));
    assert_eq!(missing(&through_yum), theirs);

    // Install through `yum update NEVRA…`, then nothing is left.
    let out = dnf.install(
        &["--reboot-option", "NoReboot"],
        &[
            ("PATH", &path),
            ("PATCH_BASELINE_AVAILABLE_FROM", "package-manager"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = report(&out);
    assert!(missing(&after).is_empty(), "{}", after["packages"]);
    let rpms = dnf.installed();
    for expected in [
        "sec-imp-1.1",
        "bug-1.1",
        "ep-1.1",
        "sec-low-1.0",
        "fresh-1.0",
    ] {
        assert!(rpms.contains(expected), "{expected} in {rpms:?}");
    }
}

#[test]
fn yum_lock_held_by_a_live_process_is_named() {
    let dnf = scenario();
    as_amazon_linux_2(&dnf);
    let path = yum_shim(&dnf.base);
    let mut other = Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::create_dir_all(dnf.root.join("var/run")).unwrap();
    std::fs::write(dnf.root.join("var/run/yum.pid"), other.id().to_string()).unwrap();
    let before = dnf.installed();
    let out = dnf.install(&["--lock-timeout", "1"], &[("PATH", &path)]);
    other.kill().unwrap();
    other.wait().unwrap();
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "held by process {} (sleep): yum's lock",
            other.id()
        )),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(dnf.installed(), before);
}

/// yum's payload releases a package no notice names at its build time, so a rule's
/// ApproveAfterDays holds back a just-built one. `yum list` shows no build time: it comes from
/// the sqlite primary database yum caches (here the repository's own, made by createrepo_c and
/// put where yum 3 keeps it). Before this was read, such a package counted as released in 1970.
#[test]
fn yum_list_path_dates_packages_without_a_notice_by_build_time() {
    let dnf = scenario();
    as_amazon_linux_2(&dnf);
    let path = yum_shim(&dnf.base);
    let repodata = dnf.repo.join("repodata");
    let packed = std::fs::read_dir(&repodata)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-primary.sqlite.bz2"))
        .expect("createrepo_c writes a sqlite primary");
    let generated = dnf.root.join("var/cache/yum/x86_64/2/test/gen");
    std::fs::create_dir_all(&generated).unwrap();
    let mut database = Vec::new();
    std::io::Read::read_to_end(
        &mut bzip2::read::BzDecoder::new(std::fs::File::open(&packed).unwrap()),
        &mut database,
    )
    .unwrap();
    std::fs::write(generated.join("primary_db.sqlite"), database).unwrap();
    // Every update, security or not, once released at least 7 days ago.
    let week = crate::dnf_root::baseline_for_os(
        "AMAZON_LINUX_2",
        &dnf.base,
        "week",
        r#"{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["*"]}]}, "ApproveAfterDays": 7, "EnableNonSecurity": true}"#,
        "",
    );
    let scan = |from: &str| yum_scan(&dnf, &path, from, &["--baseline", &week]);
    let through_yum = missing(&scan("package-manager"));
    assert!(
        !through_yum.iter().any(|(n, _, _)| n == "plain"),
        "built just now, no notice: too recent for 7 days: {through_yum:?}"
    );
    assert!(
        through_yum.iter().any(|(n, _, _)| n == "sec-imp"),
        "{through_yum:?}"
    );
    assert_eq!(
        through_yum,
        missing(&scan("auto")),
        "the native reader agrees"
    );
}
