//! Feeds `InstallOverrideList::parse` arbitrary text (the YAML or JSON install override list,
//! `patches: [{id, title}]`), and the patterns of the baseline lists (`Pattern`, `RangeEntry`,
//! `glob`) the first line of the input against the rest. Asserts that nothing panics (a
//! pathological glob must not hang: libFuzzer's timeout catches that), and that an accepted
//! list is matched against sample packages of every family without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::model::Family;
use patch_baseline::pattern::{InstallOverrideList, PackageRef, Pattern, RangeEntry, glob};

const PACKAGES: &[PackageRef<'static>] = &[
    PackageRef {
        name: "kernel",
        arch: "x86_64",
        version: "6.1.0-1.amzn2023",
    },
    PackageRef {
        name: "openssl",
        arch: "amd64",
        version: "3.0.15-1~deb12u1",
    },
    PackageRef {
        name: "curl",
        arch: "noarch",
        version: "1:7.60.0-11.1",
    },
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(list) = InstallOverrideList::parse(text, "fuzz") {
        for family in [Family::Rpm, Family::Zypper, Family::Apt] {
            for package in PACKAGES {
                if let Some(entry) = list.matching_entry(family, *package) {
                    let _ = InstallOverrideList::describe(entry);
                }
            }
        }
    }
    let (pattern, rest) = text.split_once('\n').unwrap_or((text, "kernel"));
    let compiled = Pattern::new(pattern);
    let range = RangeEntry::parse(pattern);
    for candidate in rest.lines().take(8) {
        let _ = glob(pattern, candidate);
        let _ = compiled.matches_lowered(&candidate.to_lowercase());
        for family in [Family::Rpm, Family::Zypper, Family::Apt] {
            let package = PackageRef {
                name: candidate,
                arch: "x86_64",
                version: "1.0-1",
            };
            let _ = compiled.matches_package(family, package);
            if let Some(range) = &range {
                let _ = range.matches(package);
            }
        }
    }
});
