//! Feeds the bodies of our metadata cache (`var/cache/patch-baseline`: primary, updateinfo and
//! apt `Packages` entries) arbitrary text: `decode_primary`, `decode_notices` and
//! `decode_packages`. Asserts: no panic, and
//! decoding is stable: what decodes, encoded again, decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::apt::lists::{decode_packages, encode_packages};
use patch_baseline::rpm::cache::{decode_notices, decode_primary, encode_notices, encode_primary};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(packages) = decode_primary(text)
        && let Some(body) = encode_primary(&packages)
    {
        assert_eq!(decode_primary(&body), Some(packages), "primary body: {body}");
    }
    if let Some(notices) = decode_notices(text)
        && let Some(body) = encode_notices(&notices)
    {
        assert_eq!(decode_notices(&body), Some(notices), "updateinfo body: {body}");
    }
    let mut versions = Vec::new();
    if decode_packages(text, 7, &mut versions).is_some()
        && let Some(body) = encode_packages(&versions)
    {
        let mut again = Vec::new();
        assert!(decode_packages(&body, 7, &mut again).is_some(), "apt body: {body}");
        assert_eq!(again, versions, "apt body: {body}");
    }
});
