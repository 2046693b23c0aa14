//! Feeds `rpm::primary::parse` arbitrary bytes (`primary.xml` of a yum/dnf/zypper repository,
//! already decompressed). Asserts: no panic, and the metadata cache encodes the packages it
//! accepts into a body that decodes to the same packages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::rpm::cache::{decode_primary, encode_primary};
use patch_baseline::rpm::primary::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(packages) = parse(data, "fuzz") else {
        return;
    };
    for package in &packages {
        let _ = package.evr();
    }
    if let Some(body) = encode_primary(&packages) {
        assert_eq!(
            decode_primary(&body).as_ref(),
            Some(&packages),
            "the primary cache does not round-trip:\n{body}"
        );
    }
});
