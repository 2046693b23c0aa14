//! Feeds our own state files arbitrary bytes: `PatchStates::from_json`
//! (`patch-states-configuration.json`) and the install journal (`InstallJournal`, JSON).
//! Asserts: no panic, and both round-trip: what loads, saved as the program saves it, loads
//! again to the same value; and a scan's read of the states (`pending_from_json`) accepts
//! exactly what the whole read accepts, keeping its pending-reboot entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::state::{InstallJournal, PatchStates};

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("a valid time");
    match (
        PatchStates::from_json(data, now),
        PatchStates::pending_from_json(data, now),
    ) {
        (Ok(mut whole), Ok(pending)) => {
            whole
                .patch_states
                .retain(|_, recorded| recorded.state == "InstalledPendingReboot");
            assert_eq!(whole, pending, "a scan reads other pending reboots");
        }
        (Err(_), Err(_)) => {}
        (whole, pending) => panic!("the reads disagree: {whole:?} against {pending:?}"),
    }
    if let Ok(states) = PatchStates::from_json(data, now) {
        let saved = states.to_bytes().expect("states serialize");
        let again = PatchStates::from_json(&saved, now)
            .unwrap_or_else(|e| panic!("saved states do not load: {e}"));
        assert_eq!(states, again, "the states file does not round-trip");
    }
    if let Ok(journal) = serde_json::from_slice::<InstallJournal>(data) {
        let saved = serde_json::to_vec(&journal).expect("a journal serializes");
        let again: InstallJournal = serde_json::from_slice(&saved).expect("a saved journal loads");
        assert_eq!(journal, again, "the install journal does not round-trip");
    }
});
