//! Feeds `Baseline::from_json` arbitrary text: a baseline in either AWS shape (GetPatchBaseline's
//! PascalCase object, or a snapshot's `patchBaseline`). Asserts that it never panics, and that a
//! baseline it accepts is evaluated (Scan and Install, against the recorded AL2023 and Debian 12
//! inventories of `fixtures/inventories`) without a panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use patch_baseline::baseline::Baseline;
use patch_baseline::evaluate::{EvaluateOptions, Operation, evaluate};
use patch_baseline::inventory::Inventory;

static INVENTORIES: LazyLock<Vec<Inventory>> = LazyLock::new(|| {
    [
        include_str!("../../fixtures/inventories/al2023-mixed.json"),
        include_str!("../../fixtures/inventories/debian12-mixed.json"),
    ]
    .iter()
    .map(|text| Inventory::from_json(text, "fixture").expect("the fixture inventories load"))
    .collect()
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(baseline) = Baseline::from_json(text, "fuzz") else {
        return;
    };
    let _ = (baseline.family(), baseline.report_id());
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("a valid time");
    for inventory in INVENTORIES.iter() {
        for operation in [Operation::Scan, Operation::Install] {
            let options = EvaluateOptions {
                now,
                operation,
                override_list: None,
                deferred: &[],
            };
            if let Ok(evaluation) = evaluate(inventory, &baseline, &options) {
                std::hint::black_box(&evaluation);
            }
        }
    }
});
