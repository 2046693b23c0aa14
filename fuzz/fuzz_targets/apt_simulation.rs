//! Feeds `apt::install::parse_simulation` arbitrary text (`apt-get -s` output, whose `Inst`
//! lines name what an install would change). Asserts: no panic; every row it returns has a
//! package name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::apt::install::parse_simulation;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for (name, _, _) in parse_simulation(text) {
        assert!(!name.is_empty(), "a simulated install without a name");
    }
});
