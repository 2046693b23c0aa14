//! The single integration-test binary. Modules:
//! - `util`: helpers to run the built binary and build inventories.
