//! Feeds the readers of zypper's `--xmlout` output arbitrary text: `parse_search` (`search -s
//! -t package`), `parse_patches` (`list-patches`), `parse_messages` and
//! `parse_patch_conflicts` (messages of a failed transaction), and `refresh_warnings` (a
//! failed `refresh`). Asserts: no panic; every solvable has a name and an edition.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::zypper::refresh_warnings;
use patch_baseline::zypper::xml::{
    parse_messages, parse_patch_conflicts, parse_patches, parse_search,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(solvables) = parse_search(text) {
        for solvable in &solvables {
            assert!(!solvable.name.is_empty() && !solvable.edition.is_empty());
        }
    }
    let _ = parse_patches(text);
    let _ = parse_messages(text);
    let _ = parse_patch_conflicts(text);
    let _ = refresh_warnings(Some(106), text);
    let _ = refresh_warnings(None, text);
});
