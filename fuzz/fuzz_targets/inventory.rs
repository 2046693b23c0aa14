//! Feeds `Inventory::from_json` arbitrary text (the inventory file of `evaluate --inventory`).
//! Asserts: no panic, and loading is idempotent: an accepted inventory, written back as JSON,
//! loads again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::inventory::Inventory;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(inventory) = Inventory::from_json(text, "fuzz") else {
        return;
    };
    let written = serde_json::to_string(&inventory).expect("an inventory serializes");
    let again = Inventory::from_json(&written, "fuzz again")
        .unwrap_or_else(|e| panic!("a written inventory does not load: {e}\n{written}"));
    assert_eq!(inventory, again, "loading a written inventory changed it");
});
