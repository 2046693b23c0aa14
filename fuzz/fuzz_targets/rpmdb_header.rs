//! Feeds `rpm::rpmdb::parse_header` arbitrary bytes (one header blob of the rpmdb's
//! `Packages` table: index entries, then the data store). Asserts: no panic; a package it
//! reads has a name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::rpm::rpmdb::parse_header;

fuzz_target!(|data: &[u8]| {
    if let Some(package) = parse_header(data) {
        assert!(!package.name.is_empty(), "a header package without a name");
    }
});
