//! Feeds `rpm::repos::location` arbitrary text (`repomd.xml`: where a repository's primary,
//! updateinfo and modules data are) and `rpm::repos::ini` (the INI of `yum.conf`, `dnf.conf`
//! and `.repo` files). Asserts: no panic; a location is text of the input; INI keys are
//! non-empty and hold no `=`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::rpm::repos::{ini, location};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in ["primary", "updateinfo", "modules", "primary_db", ""] {
        if let Some(href) = location(text, kind) {
            assert!(text.contains(href.as_str()), "a location not in the input");
        }
    }
    for (_, key, _) in ini(text) {
        assert!(!key.is_empty() && !key.contains('='), "a bad INI key `{key}`");
    }
});
