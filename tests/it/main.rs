//! The single integration-test binary (one link step). Modules:
//! - `util`: helpers to evaluate fixtures through the library and run the built binary.
//! - `evaluate_rpm`, `evaluate_apt`, `evaluate_zypper`: table tests, one case per rule of spec
//!   §2–§4 per family (filters, dates, gates, lists, states).
//! - `baseline_load`: every real AWS baseline loads or is refused with its reason; every
//!   validation error names file, JSON path and value.
//! - `report`: the PutInventory request, checked against botocore's service model and Python's
//!   `json.dumps` hash.
//! - `version_crosscheck`: our version ordering against the real `dpkg` and `rpm`.
//! - `cli`: the binary's output, messages and exit codes.
//! - `explain`: the decision traces of `explain` on real dnf and apt roots and on an inventory.
//! - `html`: `--output html` rendered by headless chromium and `--output prometheus` read by
//!   python3's prometheus_client, on real apt, dnf and zypper roots and hostile `evaluate` inputs.
//! - `apt_root`: the apt backend against real apt and dpkg in a temporary alternate root.
//! - `apt_parsers`: dpkg status and apt index readers on real files, against `dpkg-query`.
//! - `plan`: install plans on real apt and dnf roots: exactly the plan, drift refused, bad plans.
//! - `reboot`: the reboot protocol, on-host state and crash safety of `install` (real apt).
//! - `updateinfo`: the updateinfo parser on every real feed, against independent counts.
//! - `dnf_root`: the dnf scan against real dnf and rpm in a temporary alternate root.
//! - `history`: the run history, `history` and `diff` on real apt, dnf and zypper roots (the
//!   cap, torn files, approved by the passing of time).
//! - `yum`: classic yum through recorded outputs and a yum shim over dnf.
//! - `zypper_root`: the zypper backend against real zypper and rpm in a temporary alternate root.
//! - `payload`: `payload fetch` against local files and a local HTTP server, hostile archives.
//! - `run`: `run` and the SSM document end to end (fake SSM endpoint checked against botocore, moto S3).
//! - `cross`: the aarch64 release binary under qemu-user, scanning as this build does (run by
//!   `scripts/test` with `--ignored`).
//! - `crash`: `install` killed at every checkpoint on apt, dnf, yum (shim) and zypper roots, the
//!   package manager killed mid-transaction; every re-run converges.
//! - `disk`: full disks, read-only state folders and a `noexec` `TMPDIR`, on tmpfs mounts.
//! - `real_debian`: a real Debian 12 bootstrapped from the real archive, with the real security
//!   suite: scan, install (real maintainer scripts), scan again, apt's simulation as referee.
//! - `sources`: baseline `Sources` on real apt, dnf, yum (shim) and zypper roots: only the
//!   sources' repositories used, the root's configuration never written, crashes converge.
//! - `window`: maintenance windows (`install --max-duration`) on real apt and dnf roots.
//! - `real_reboot`: the reboot protocol across a real reboot of Debian under qemu-system-x86_64
//!   (minutes, root; run by `scripts/test` with `--ignored` when `PATCH_BASELINE_REAL_REBOOT=1`).

// The tests drive real tools (dpkg, rpm, python3) directly; the product itself spawns only through
// its runner.
#![allow(clippy::disallowed_methods)]
// Test code favours direct table literals and `unwrap` over the library's stricter lints.
#![allow(clippy::pedantic, clippy::unwrap_used, clippy::type_complexity)]

mod apt_parsers;
mod apt_root;
mod baseline_load;
mod cli;
mod crash;
mod cross;
mod disk;
mod dnf_root;
mod evaluate_apt;
mod evaluate_rpm;
mod evaluate_zypper;
mod explain;
mod history;
mod html;
mod payload;
mod plan;
mod proxy;
mod real_debian;
mod real_reboot;
mod reboot;
mod report;
mod run;
mod sources;
mod updateinfo;
mod util;
mod version_crosscheck;
mod window;
mod yum;
mod zypper_root;
