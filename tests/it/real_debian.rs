//! A real Debian 12, really patched (issue #16, part 4): `debootstrap --variant=minbase bookworm`
//! from the real archive (deb.debian.org), the real security suite (security.debian.org) added,
//! then our `scan --root` with the built-in Debian default baseline, our `install --root` (the
//! packages' real maintainer scripts run, dpkg chrooted into the root), and a scan again. apt
//! itself is the referee: `apt-get -s upgrade --with-new-pkgs` on the same root with only the
//! security suite as its source upgrades exactly what we call Missing before, and nothing after.
//!
//! Needs root (debootstrap, dpkg's chroot), debootstrap, curl, tar and zstd (`scripts/test`
//! installs them) and the network. The finished bootstrap is kept as a tarball in
//! `target/tmp/real-debian/`, named by the digest of the archive's `InRelease` and the
//! debootstrap version, so a cached root is the root a fresh bootstrap would make now; without
//! it (or when it does not unpack) the test bootstraps afresh.
//!
//! apt runs with an `APT_CONFIG` that leaves the host's apt configuration out: given `--root`,
//! apt still reads the host's `apt.conf.d`, and runs the hooks it names on the host (debconf's
//! `DPkg::Pre-Install-Pkgs` would load the root's templates into the host's debconf database).
//! Nothing is mounted in the root: dpkg's chroot needs no `/proc` for these packages.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apt_root::{in_state, run};
use crate::util::binary;

const MIRROR: &str = "http://deb.debian.org/debian";
const SECURITY: &str = "deb http://security.debian.org/debian-security bookworm-security main";
const SUITE: &str = "bookworm";

/// A directory holding the root; on drop, anything still mounted under it is unmounted, and
/// when something cannot be, the directory is left in place rather than removed through it.
struct Scratch {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        Self {
            dir: Some(dir),
            root,
        }
    }

    fn base(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }
}

/// The mount points at or under `dir`, deepest first (`/proc/self/mountinfo`, octal escapes
/// decoded).
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|escaped| {
            let mut out = Vec::new();
            let bytes = escaped.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'\\'
                    && i + 3 < bytes.len()
                    && let Ok(b) = u8::from_str_radix(&escaped[i + 1..i + 4], 8)
                {
                    out.push(b);
                    i += 4;
                    continue;
                }
                out.push(bytes[i]);
                i += 1;
            }
            PathBuf::from(String::from_utf8_lossy(&out).into_owned())
        })
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found
}

impl Drop for Scratch {
    // A note in the test's output: a drop cannot fail the test.
    #[allow(clippy::print_stderr)]
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        for point in mounts_under(dir.path()) {
            let done = Command::new("umount").arg(&point).status();
            if !done.is_ok_and(|s| s.success()) {
                let _ = Command::new("umount").arg("-l").arg(&point).status();
            }
        }
        let left = mounts_under(dir.path());
        if !left.is_empty() {
            let kept = dir.keep();
            eprintln!(
                "real_debian: {} left in place, still mounted: {left:?}",
                kept.display()
            );
        }
    }
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The cache file for the archive as it is now: the digest of its `InRelease` and of the
/// debootstrap version (which picks the packages).
fn cache_file() -> PathBuf {
    let release = run(Command::new("curl").args([
        "-fsS",
        "--retry",
        "3",
        "--max-time",
        "60",
        &format!("{MIRROR}/dists/{SUITE}/InRelease"),
    ]));
    let debootstrap =
        run(Command::new("dpkg-query").args(["-W", "-f", "${Version}", "debootstrap"]));
    let mut key = release.stdout.clone();
    key.extend_from_slice(&debootstrap.stdout);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("real-debian")
        .join(format!(
            "{SUITE}-minbase-{}.tar.zst",
            &crate::util::sha256_hex(&key)[..16]
        ))
}

fn tar(args: &[&str], archive: &Path, root: &Path) -> Command {
    let mut command = Command::new("tar");
    command
        .args([
            "--zstd",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
        ])
        .args(args)
        .arg(archive)
        .arg("-C")
        .arg(root)
        .env("LC_ALL", "C");
    command
}

/// Fills `scratch.root` with a minbase bookworm: from the cache when it unpacks, else by
/// debootstrap (then cached). Returns whether the cache was used. A cache that fails is a
/// note in the test's output, not a failure.
#[allow(clippy::print_stderr)]
fn bootstrap(scratch: &Scratch) -> bool {
    let cache = cache_file();
    if cache.is_file() {
        let unpacked = tar(&["-xpf"], &cache, &scratch.root).output().unwrap();
        if unpacked.status.success() && scratch.root.join("var/lib/dpkg/status").is_file() {
            return true;
        }
        eprintln!(
            "real_debian: the cached {} does not unpack ({}); bootstrapping afresh",
            cache.display(),
            String::from_utf8_lossy(&unpacked.stderr).trim()
        );
        std::fs::remove_dir_all(&scratch.root).unwrap();
        std::fs::create_dir(&scratch.root).unwrap();
    }
    // On failure too, `Scratch` unmounts what debootstrap may have left mounted in the root.
    run(Command::new("debootstrap")
        .args(["--variant=minbase", SUITE])
        .arg(&scratch.root)
        .arg(MIRROR));
    assert!(
        mounts_under(&scratch.root).is_empty(),
        "debootstrap left mounts: {:?}",
        mounts_under(&scratch.root)
    );
    // The cache: written beside, renamed into place; older ones removed.
    let dir = cache.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    for old in std::fs::read_dir(dir).unwrap().flatten() {
        let _ = std::fs::remove_file(old.path());
    }
    let partial = cache.with_extension("partial");
    let packed = tar(&["-cf"], &partial, &scratch.root)
        .arg(".")
        .output()
        .unwrap();
    if packed.status.success() {
        std::fs::rename(&partial, &cache).unwrap();
    } else {
        let _ = std::fs::remove_file(&partial);
        eprintln!(
            "real_debian: could not cache the bootstrap: {}",
            String::from_utf8_lossy(&packed.stderr).trim()
        );
    }
    false
}

/// The root under test: its directory, and the `APT_CONFIG` that keeps the host's apt
/// configuration out.
struct Root<'a> {
    scratch: &'a Scratch,
    apt_config: PathBuf,
    security_list: PathBuf,
}

impl Root<'_> {
    fn path(&self) -> &Path {
        &self.scratch.root
    }

    /// apt's tool on the root as our binary points apt at it (`-o Dir=…`), with only the
    /// security suite as source.
    fn apt_security(&self, args: &[&str]) -> Output {
        let root = self.path().display().to_string();
        run(Command::new("apt-get")
            .args([
                "-o",
                &format!("Dir={root}/"),
                "-o",
                &format!("Dir::State::status={root}/var/lib/dpkg/status"),
                "-o",
                &format!("Dir::Etc::SourceList={}", self.security_list.display()),
                "-o",
                "Dir::Etc::SourceParts=/nonexistent",
            ])
            .args(args)
            .env("APT_CONFIG", &self.apt_config))
    }

    /// What `apt-get -s upgrade --with-new-pkgs` from the security suite alone would upgrade:
    /// (name, arch) → version (`all` named by the native architecture, as we name it).
    fn security_upgrades(&self, native: &str) -> BTreeMap<(String, String), String> {
        let out = text(&self.apt_security(&["-s", "-q", "--with-new-pkgs", "upgrade"]));
        assert!(
            !out.contains("kept back"),
            "apt keeps security updates back:\n{out}"
        );
        out.lines()
            .filter_map(|l| l.strip_prefix("Inst "))
            // Upgrades name the installed version in brackets; new packages do not.
            .filter(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|w| w.starts_with('['))
            })
            .map(|l| {
                let name = l.split_whitespace().next().unwrap();
                let inside = l.split('(').nth(1).unwrap().split(')').next().unwrap();
                let version = inside.split_whitespace().next().unwrap().to_string();
                let arch = inside.rsplit('[').next().unwrap().trim_end_matches(']');
                let (name, arch) = name.split_once(':').unwrap_or((name, arch));
                let arch = if arch == "all" { native } else { arch };
                ((name.to_string(), arch.to_string()), version)
            })
            .collect()
    }

    /// Our binary on the root: exit code and the JSON document.
    fn ours(&self, verb: &str, extra: &[&str]) -> (Option<i32>, Value) {
        let out = Command::new(binary())
            .args([verb, "--root"])
            .arg(self.path())
            .args(["--output", "json"])
            .args(extra)
            .env("APT_CONFIG", &self.apt_config)
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{verb}: {e}\nstdout:\n{}\nstderr:\n{}\nterm.log:\n{}",
                text(&out),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(self.path().join("var/log/apt/term.log"))
                    .unwrap_or_default()
            )
        });
        (out.status.code(), doc)
    }

    fn dpkg_query(&self, args: &[&str]) -> String {
        text(&run(Command::new("dpkg-query")
            .arg(format!("--admindir={}/var/lib/dpkg", self.path().display()))
            .args(args)))
    }

    /// The root's native architecture: its dpkg's.
    fn native(&self) -> String {
        self.dpkg_query(&["-W", "-f", "${Architecture}", "dpkg"])
    }

    /// (name, arch) → version of what dpkg has installed in the root (`all` named by the
    /// native architecture).
    fn installed(&self, native: &str) -> BTreeMap<(String, String), String> {
        self.dpkg_query(&["-W", "-f", "${Package}\t${Architecture}\t${Version}\n"])
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let arch = if f[1] == "all" { native } else { f[1] };
                ((f[0].to_string(), arch.to_string()), f[2].to_string())
            })
            .collect()
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[test]
fn a_real_bookworm_is_patched_to_what_apt_says() {
    let is_root = run(Command::new("id").arg("-u")).stdout == b"0\n";
    assert!(
        is_root,
        "needs root: debootstrap, and dpkg chroots into the root for the maintainer scripts (scripts/test runs as root in CI)"
    );
    let scratch = Scratch::new();
    let started = Instant::now();
    let cached = bootstrap(&scratch);
    let bootstrapped = started.elapsed();

    let root_path = scratch.root.clone();
    let base = scratch.base().to_path_buf();
    // The archive's own sources.list (debootstrap's), plus the security suite.
    let sources = root_path.join("etc/apt/sources.list");
    let mut list = std::fs::OpenOptions::new()
        .append(true)
        .open(&sources)
        .unwrap();
    writeln!(list, "{SECURITY}").unwrap();
    drop(list);
    let security_list = base.join("security.list");
    std::fs::write(&security_list, format!("{SECURITY}\n")).unwrap();
    let parts = base.join("apt.conf.d");
    std::fs::create_dir(&parts).unwrap();
    let apt_config = base.join("apt.conf");
    std::fs::write(
        &apt_config,
        format!(
            "Dir::Etc::main \"/dev/null\";\nDir::Etc::parts \"{}\";\n",
            parts.display()
        ),
    )
    .unwrap();
    let root = Root {
        scratch: &scratch,
        apt_config,
        security_list,
    };
    let native = root.native();
    assert!(!native.is_empty());
    let native = native.as_str();
    let before = root.installed(native);
    let point_release = std::fs::read_to_string(root_path.join("etc/debian_version")).unwrap();

    // Scan (with its refresh: `apt-get update` of the root's lists, security included).
    let t = Instant::now();
    let (code, scan) = root.ours("scan", &[]);
    let scanned = t.elapsed();
    assert_eq!(code, Some(0), "{scan}");
    assert_eq!(scan["baselineName"], "AWS-DebianDefaultPatchBaseline");
    assert_eq!(scan["product"], "Debian12");
    assert_eq!(scan["compliant"], false);
    let missing = in_state(&scan, "Missing");
    let expected = root.security_upgrades(native);
    assert!(
        !missing.is_empty(),
        "the archive's point release {point_release} has no security update pending: nothing to patch"
    );
    assert_eq!(
        missing, expected,
        "Missing = what apt would upgrade from the security suite"
    );
    for (key, version) in &missing {
        let installed = before.get(key);
        assert!(
            installed.is_some_and(|v| v != version),
            "{key:?}: installed {installed:?}, Missing {version}"
        );
    }

    // Install: one apt-get transaction, dpkg chrooted into the root for the real maintainer
    // scripts; RebootIfNeeded asks for the reboot because updates were installed.
    let t = Instant::now();
    let install_started = std::time::SystemTime::now();
    let host_log = Path::new("/var/log/dpkg.log");
    let host_log_size = std::fs::metadata(host_log).map_or(0, |m| m.len());
    let (code, install) = root.ours("install", &[]);
    let installed_in = t.elapsed();
    assert_eq!(code, Some(194), "{install}");
    assert_eq!(install["operation"], "Install");
    assert_eq!(in_state(&install, "Missing"), BTreeMap::new());
    assert_eq!(in_state(&install, "Failed"), BTreeMap::new());

    // Afterwards, a fresh scan: nothing Missing, every update Installed at the security version.
    let t = Instant::now();
    let (code, after) = root.ours("scan", &[]);
    assert_eq!(code, Some(0), "{after}");
    assert_eq!(after["compliant"], true, "{after}");
    assert_eq!(in_state(&after, "Missing"), BTreeMap::new());
    let now_installed = in_state(&after, "Installed");
    for (key, version) in &missing {
        assert_eq!(now_installed.get(key), Some(version), "{key:?}");
    }
    // dpkg agrees, and is clean.
    let dpkg = root.installed(native);
    for (key, version) in &missing {
        assert_eq!(dpkg.get(key), Some(version), "dpkg's {key:?}");
    }
    let audit = run(Command::new("dpkg")
        .arg(format!("--root={}", root_path.display()))
        .arg("--audit"));
    assert_eq!(text(&audit), "", "dpkg --audit");
    // apt agrees: nothing left to upgrade from the security suite.
    assert_eq!(root.security_upgrades(native), BTreeMap::new());
    let checked = t.elapsed();

    // The maintainer scripts ran: dpkg configured each update in the root (its log is the
    // root's, not the host's), and the libc-bin trigger rebuilt the root's linker cache.
    let log = std::fs::read_to_string(root_path.join("var/log/dpkg.log")).unwrap();
    for ((name, _), version) in &missing {
        assert!(
            log.lines().any(|l| l.contains(" status installed ")
                && l.contains(&format!(" {name}:"))
                && l.ends_with(&format!(" {version}"))),
            "the root's dpkg.log configures {name} {version}"
        );
    }
    // … and not in the host's: no line dpkg added to it meanwhile is one of these upgrades.
    let host_added = std::fs::read(host_log)
        .map(|all| {
            String::from_utf8_lossy(&all[all.len().min(host_log_size as usize)..]).into_owned()
        })
        .unwrap_or_default();
    for ((name, arch), version) in &missing {
        let old = &before[&(name.clone(), arch.clone())];
        assert!(
            !host_added
                .lines()
                .any(|l| l.contains(&format!(" upgrade {name}:"))
                    && l.ends_with(&format!(" {old} {version}"))),
            "the host's dpkg.log records the root's upgrade of {name}"
        );
    }
    let term = std::fs::read_to_string(root_path.join("var/log/apt/term.log")).unwrap();
    for ((name, _), version) in &missing {
        assert!(
            term.lines().any(|l| l.starts_with("Setting up ")
                && (l.starts_with(&format!("Setting up {name} ("))
                    || l.starts_with(&format!("Setting up {name}:")))
                && l.ends_with(&format!(" ({version}) ..."))),
            "term.log: Setting up {name} ({version})"
        );
    }
    if term.contains("Processing triggers for libc-bin") {
        let cache = std::fs::metadata(root_path.join("etc/ld.so.cache")).unwrap();
        assert!(
            cache.modified().unwrap() >= install_started,
            "ldconfig ran in the root"
        );
    }
    println!(
        "real bookworm {} (minbase, {} packages): {} security updates Missing, installed; \
         bootstrap {} ({}), scan with refresh {}, install {}, scan and checks {}",
        point_release.trim(),
        before.len(),
        missing.len(),
        seconds(bootstrapped),
        if cached {
            "from the cache"
        } else {
            "debootstrap"
        },
        seconds(scanned),
        seconds(installed_in),
        seconds(checked),
    );
    println!(
        "Missing: {}",
        missing
            .iter()
            .map(|((n, a), v)| format!("{n}.{a} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
