//! Feeds `OsRelease::parse` (`/etc/os-release`) and `OsRelease::from_system_release` (the one
//! line of `/etc/system-release`) arbitrary text, then the detection table `platform::detect`.
//! Asserts: no panic; a detected platform has a product name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::platform::{OsRelease, detect};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = OsRelease::parse(text);
    let _ = (parsed.get("ID"), parsed.get("VERSION_ID"));
    if let Some(platform) = detect(&parsed) {
        assert!(!platform.product.is_empty(), "detected a platform without product");
    }
    if let Some(release) = OsRelease::from_system_release(text)
        && let Some(platform) = detect(&release)
    {
        assert!(!platform.product.is_empty(), "detected a platform without product");
    }
});
