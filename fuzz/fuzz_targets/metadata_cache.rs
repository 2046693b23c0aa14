//! Feeds the bodies of our metadata cache (`var/cache/patch-baseline`: primary, updateinfo,
//! installed-package and apt `Packages` entries) arbitrary text: `decode_primary`,
//! `decode_notices`, `decode_installed` and `decode_packages`. Asserts: no panic, and
//! decoding is stable: what decodes, encoded again, decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::apt::lists::{decode_packages, encode_packages};
use patch_baseline::rpm::cache::{
    decode_installed, decode_notices, decode_primary, encode_installed, encode_notices,
    encode_primary,
};

/// What `decode` reads from `text`, encoded again (when it can be), decodes to the same value.
fn round_trip<T: PartialEq + std::fmt::Debug>(
    text: &str,
    decode: fn(&str) -> Option<T>,
    encode: fn(&T) -> Option<String>,
    what: &str,
) {
    if let Some(value) = decode(text)
        && let Some(body) = encode(&value)
    {
        assert_eq!(decode(&body), Some(value), "{what} body: {body}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    round_trip(text, decode_primary, |p| encode_primary(p), "primary");
    round_trip(text, decode_notices, |n| encode_notices(n), "updateinfo");
    round_trip(text, decode_installed, |i| encode_installed(i), "installed");
    if let Some(versions) = decode_packages(text, 7) {
        // A body that decodes is whole and in name order.
        assert!(versions.windows(2).all(|w| w[0].name <= w[1].name));
        let body = encode_packages(&versions);
        assert_eq!(
            decode_packages(&body, 7),
            Some(versions),
            "apt body: {body}"
        );
    }
});
