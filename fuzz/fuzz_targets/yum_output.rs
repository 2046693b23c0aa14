//! Feeds the readers of yum and dnf command output arbitrary text: `dnf::yum::parse_list`
//! (`yum list available` / `yum check-update` tables, wrapped rows included) and
//! `available_from_list`. Asserts: no panic; every row has a name, an arch and a version, and
//! `available_from_list` returns one version per row.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::dnf::yum::{available_from_list, parse_list};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let rows = parse_list(text);
    for (name, arch, version, _) in &rows {
        assert!(!name.is_empty() && !arch.is_empty() && !version.is_empty());
    }
    assert_eq!(available_from_list(text).len(), rows.len());
});
