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
    if let Some(versions) = decode_packages(text, 7) {
        // A body that decodes is whole and in name order.
        assert!(versions.windows(2).all(|w| w[0].name <= w[1].name));
        let body = encode_packages(&versions);
        assert_eq!(decode_packages(&body, 7), Some(versions), "apt body: {body}");
    }
});
