//! Feeds `ssm::snapshot_text` arbitrary bytes (a downloaded snapshot: plain or gzip JSON), then,
//! as `run` does, hands the text it accepts to `Baseline::from_json`. Asserts that neither
//! panics, and that accepted text is valid JSON with a non-null `patchBaseline`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::baseline::Baseline;
use patch_baseline::ssm::snapshot_text;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = snapshot_text(data) else {
        return;
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).expect("snapshot_text accepts only JSON");
    assert!(
        value.get("patchBaseline").is_some_and(|b| !b.is_null()),
        "snapshot_text accepted a snapshot without patchBaseline"
    );
    let _ = Baseline::from_json(&text, "fuzz snapshot");
});
