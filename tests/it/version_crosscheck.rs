//! Our version ordering against the real tools: `dpkg --compare-versions` on pairs of versions
//! from this machine's apt lists, and rpm's own `rpm.vercmp` on pairs of real EVRs
//! (`fixtures/versions/rpm-evrs.txt`). Zero disagreements allowed, at least 5,000 pairs each.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

use patch_baseline::version::{compare_deb, compare_rpm};

use crate::util::{assert_code, repo_root};

/// A small deterministic generator, so that every run checks the same pairs.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % bound as u64).unwrap()
    }
}

/// Pairs from grouped versions: neighbours within each name, then random cross pairs.
fn pairs(groups: &BTreeMap<String, BTreeSet<String>>, random: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for versions in groups.values() {
        let versions: Vec<&String> = versions.iter().collect();
        for w in versions.windows(2) {
            out.push((w[0].clone(), w[1].clone()));
        }
    }
    let all: Vec<&String> = groups.values().flatten().collect();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..random {
        let a = all[rng.next(all.len())];
        let b = all[rng.next(all.len())];
        out.push((a.clone(), b.clone()));
    }
    out
}

fn apt_list_versions() -> BTreeMap<String, BTreeSet<String>> {
    let targets = Command::new("apt-get")
        .args([
            "indextargets",
            "--format",
            "$(FILENAME)",
            "Created-By: Packages",
        ])
        .env("LC_ALL", "C")
        .output()
        .expect("apt-get must be installed (scripts/test installs it)");
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in String::from_utf8_lossy(&targets.stdout).lines() {
        let text = Command::new("/usr/lib/apt/apt-helper")
            .args(["cat-file", file])
            .output()
            .expect("apt-helper cat-file");
        let mut name = String::new();
        for line in String::from_utf8_lossy(&text.stdout).lines() {
            if let Some(n) = line.strip_prefix("Package: ") {
                name = n.to_string();
            } else if let Some(v) = line.strip_prefix("Version: ") {
                groups
                    .entry(name.clone())
                    .or_default()
                    .insert(v.to_string());
            }
        }
    }
    groups
}

fn dpkg_order(a: &str, b: &str) -> Ordering {
    let test = |op: &str| {
        Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .status()
            .expect("dpkg")
            .success()
    };
    if test("lt") {
        Ordering::Less
    } else if test("gt") {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

#[test]
fn deb_ordering_equals_dpkg_on_real_archive_pairs() {
    let groups = apt_list_versions();
    let total: usize = groups.values().map(BTreeSet::len).sum();
    assert!(
        total >= 5000,
        "only {total} versions in this machine's apt lists: run `apt-get update` (scripts/test does)"
    );
    let mut pairs = pairs(&groups, 5200);
    for (a, b) in [
        ("1.0", "1~a"),
        ("0.1.0-4.1", "0.1.0-4~deb12u1"),
        ("1:0", "9"),
        ("1.0-0", "1.0"),
    ] {
        pairs.push((a.into(), b.into()));
    }
    let chunks: Vec<Vec<(String, String)>> = pairs
        .chunks(pairs.len() / 2 + 1)
        .map(<[_]>::to_vec)
        .collect();
    let disagreements: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(a, b)| {
                            let ours = compare_deb(a, b);
                            let theirs = dpkg_order(a, b);
                            (ours != theirs)
                                .then(|| format!("{a} vs {b}: ours {ours:?}, dpkg {theirs:?}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    println!(
        "deb: {} pairs checked against dpkg, {} disagreements",
        pairs.len(),
        disagreements.len()
    );
    assert!(pairs.len() >= 5000);
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn rpm_ordering_equals_rpm_vercmp_on_real_evrs() {
    let text = std::fs::read_to_string(repo_root().join("fixtures/versions/rpm-evrs.txt")).unwrap();
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, evr) = line.split_once(' ').unwrap();
        groups
            .entry(name.to_string())
            .or_default()
            .insert(evr.to_string());
    }
    let mut pairs = pairs(&groups, 3000);
    for (a, b) in [
        ("1.0~rc1-1", "1.0-1"),
        ("1.0^git1-1", "1.0-1"),
        ("1:1.0-1", "2.0-1"),
        ("1.010-1", "1.10-1"),
        ("1.0-1.el8", "1.0-1.el8_1"),
    ] {
        pairs.push((a.into(), b.into()));
    }
    assert!(pairs.len() >= 5000, "only {} rpm pairs", pairs.len());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pairs.txt");
    let mut out = std::fs::File::create(&file).unwrap();
    for (a, b) in &pairs {
        writeln!(out, "{a} {b}").unwrap();
    }
    drop(out);
    let script = format!(
        "%{{lua: local out = {{}}; for line in io.lines(\"{}\") do local a, b = line:match(\"^(%S+) (%S+)$\"); out[#out + 1] = rpm.vercmp(a, b) end; print(table.concat(out, \"\\n\"))}}",
        file.display()
    );
    let output = Command::new("rpm")
        .args(["--eval", &script])
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .expect("rpm must be installed (scripts/test installs it)");
    assert_code(&output, 0);
    let results: Vec<i32> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .parse()
                .unwrap_or_else(|_| panic!("rpm printed `{l}`"))
        })
        .collect();
    assert_eq!(
        results.len(),
        pairs.len(),
        "rpm printed one result per pair"
    );
    let disagreements: Vec<String> = pairs
        .iter()
        .zip(&results)
        .filter_map(|((a, b), theirs)| {
            let ours = compare_rpm(a, b);
            (ours != theirs.cmp(&0)).then(|| format!("{a} vs {b}: ours {ours:?}, rpm {theirs}"))
        })
        .collect();
    println!(
        "rpm: {} pairs checked against rpm.vercmp, {} disagreements",
        pairs.len(),
        disagreements.len()
    );
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}
