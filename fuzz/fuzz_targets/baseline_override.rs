//! Feeds `ssm::select_override` arbitrary text (a BaselineOverride document: a JSON array of
//! GetPatchBaseline-shaped baselines) for every operating system a baseline can name, then
//! loads the selected entry with `Baseline::from_json` as `run` does. Asserts: no panic; the
//! selection names the asked-for `OperatingSystem` and keeps only forwarded members.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::baseline::Baseline;
use patch_baseline::model::OPERATING_SYSTEMS;
use patch_baseline::ssm::select_override;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for (os, spelling) in OPERATING_SYSTEMS {
        let Ok(selected) = select_override(text, "fuzz", *os) else {
            continue;
        };
        let object = selected.as_object().expect("a selection is an object");
        assert_eq!(
            object.get("OperatingSystem").and_then(|v| v.as_str()),
            Some(os.to_string().as_str()),
            "selected an entry for another OS than {spelling}"
        );
        assert!(!object.contains_key("BaselineId") && !object.contains_key("Name"));
        let _ = Baseline::from_json(&selected.to_string(), "fuzz override");
    }
});
