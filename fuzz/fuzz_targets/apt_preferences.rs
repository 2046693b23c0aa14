//! Feeds `apt::policy::Preferences::parse` arbitrary bytes (`/etc/apt/preferences` and
//! `preferences.d` files); the input after the first NUL byte, if any, is read as the
//! `Release` file the pins are matched against. Asserts: no panic, and `priority` answers for
//! sample packages and versions without a panic, with or without a release.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::apt::lists::{IndexFile, parse_release};
use patch_baseline::apt::policy::{Preferences, candidate};

fuzz_target!(|data: &[u8]| {
    let (preferences_text, release_text) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"Origin: Debian\nSuite: stable\nCodename: bookworm\n"[..]),
    };
    let mut preferences = Preferences::default();
    preferences.parse(preferences_text, "fuzz");
    let release = parse_release(release_text, "deb.debian.org");
    let file = IndexFile {
        path: "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages".into(),
        release: Some(0),
        component: "main".into(),
    };
    let mut priorities = Vec::new();
    for package in ["openssl", "Linux-Image-AMD64", ""] {
        for version in ["3.0.15-1~deb12u1", "1:2.0", ""] {
            priorities.push(preferences.priority(package, version, Some(&release), &file));
            priorities.push(preferences.priority(package, version, None, &file));
        }
    }
    if let Some(best) = candidate(&priorities, Some(0)) {
        assert!(best < priorities.len(), "candidate out of range");
    }
});
