//! # patch-baseline
//!
//! A native replacement for the Linux step of AWS Systems Manager's `AWS-RunPatchBaseline`:
//! it evaluates an AWS patch baseline against a machine's packages exactly as Patch Manager does,
//! says why for every package, and reports `AWS:PatchSummary` and `AWS:ComplianceItem`.
//!
//! ## Module map
//!
//! | module | owns | pure? |
//! |---|---|---|
//! | [`version`] | dpkg and rpm version ordering | yes |
//! | [`model`] | shared value types: OS, families, compliance levels, states, dates | yes |
//! | [`pattern`] | approved/rejected name forms, wildcards, install override lists | yes |
//! | [`baseline`] | the baseline model, both JSON shapes, validation, built-in baselines | yes |
//! | [`inventory`] | the inventory format (installed, available, advisories, origins) | yes |
//! | [`evaluate`] | the evaluation core: one decision per package, with reasons | yes |
//! | [`plan`] | install plans: the file, the system's identity, drift | yes (reads `etc/machine-id` under a root) |
//! | [`report`] | PutInventory items, the report file, terminal table, JSON output | yes |
//! | [`apt`], [`dnf`], [`zypper`] | the backends: scan a system under a root, install a plan | no |
//! | [`rpm`] | what the RPM-family backends share (rpmdb, repositories, metadata cache, reboot rule); dnf and zypper do not import each other | no |
//! | [`platform`] | `os-release` parsing and the one OS detection table | yes (reads under a root) |
//! | [`payload`] | download, SHA-256 check and safe tar.gz extraction of payloads | no |
//! | [`ssm`] | `run`: document parameters, BaselineOverride, PutInventory hashes, the AWS SDK calls | no |
//! | [`repositories`] | where the package manager takes its repositories from: the machine's own, or the private directory of the applying baseline `Sources` | no |
//! | [`backend`] | the one place a package manager is chosen: refresh, scan, installer | no |
//! | [`ops`] | the pipelines behind the commands (scan, install, run, evaluate, explain), errors, state recording | no |
//! | [`cli`] | clap definitions and the dispatch to [`ops`] | no |
//! | [`history`] | the bounded run history under the state folder; `history` and `diff` | no |
//! | [`window`] | maintenance windows: batches most severe first, estimates, which fit | yes |
//! | [`exit`] | every exit code, decided in one place | yes |
//!
//! The purity rule: nothing in a pure module reads the clock, the environment or a file that the
//! caller did not hand it. "Now", the root directory and the environment come in as parameters.

pub mod apt;
pub mod backend;
pub mod baseline;
pub mod cli;
pub mod dnf;
pub mod evaluate;
pub mod exec;
pub mod exit;
pub mod fasthash;
pub mod history;
pub mod install;
pub mod inventory;
pub mod model;
pub mod ops;
pub mod pattern;
pub mod payload;
pub mod plan;
pub mod platform;
pub mod report;
pub mod repositories;
pub mod rpm;
pub mod split;
pub mod ssm;
pub mod state;
pub mod version;
pub mod window;
pub mod zypper;
