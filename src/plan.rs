//! Install plans: the file `install --dry-run --plan-out` writes and `install --plan` installs
//! exactly. A plan names the system it was made on, the baseline (by its fingerprint) and every
//! target with its exact version; before installing, the system is compared with it and every
//! difference is named (drift). Pure: the caller scans and installs.

use std::cmp::Ordering;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::baseline::Baseline;
use crate::evaluate::PlannedUpdate;
use crate::inventory::Inventory;
use crate::model::is_valid_package_name;
use crate::pattern::{InstallOverrideList, OverrideEntry, PackageRef, Pattern, name_forms};

/// The plan format's version; a plan of another version is refused.
pub const PLAN_VERSION: u32 = 1;

/// An install plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    /// [`PLAN_VERSION`].
    pub plan_version: u32,
    /// When the plan was made.
    pub created: DateTime<Utc>,
    /// The system it was made on.
    pub system: SystemIdentity,
    /// The baseline it was made with.
    pub baseline: PlannedBaseline,
    /// The install override list the plan was made with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_override_list: Option<String>,
    /// Every update to install, exactly.
    pub targets: Vec<PlannedUpdate>,
}

/// What identifies the system a plan was made on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SystemIdentity {
    /// The operating system (AWS spelling, `AMAZON_LINUX_2023`).
    pub operating_system: String,
    /// The product (`AmazonLinux2023`).
    pub product: String,
    /// The package manager (`dnf`, `apt`, …).
    pub package_manager: String,
    /// `etc/machine-id` under the root, when it has one.
    #[serde(default)]
    pub machine_id: Option<String>,
    /// `etc/hostname` under the root, when it has one (informative; not compared).
    #[serde(default)]
    pub hostname: Option<String>,
}

/// The baseline of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlannedBaseline {
    /// Its id (`pb-…`), or name when it has none.
    pub id: String,
    /// Its name.
    pub name: String,
    /// [`Baseline::fingerprint`].
    pub fingerprint: String,
}

/// A plan file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct PlanError {
    /// The file or URL.
    pub source_name: String,
    /// What is wrong and where.
    pub message: String,
}

/// How the system differs from a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Every difference, one sentence each (empty: none).
    pub differences: Vec<String>,
    /// The targets to install: those still offered and not yet installed at (or above) their
    /// version. With drift, only those whose installed version is the plan's too, unless the
    /// caller allows drift.
    pub installable: Vec<PlannedUpdate>,
    /// The targets whose installed version is already the planned one.
    pub done: Vec<PlannedUpdate>,
}

fn first_line(text: &str) -> Option<String> {
    text.lines()
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
}

impl SystemIdentity {
    /// The identity of the system under `root` whose inventory is `inventory`.
    pub fn of(root: &Path, inventory: &Inventory) -> Self {
        let read = |file: &str| {
            std::fs::read_to_string(root.join(file))
                .ok()
                .and_then(|t| first_line(&t))
        };
        Self {
            operating_system: inventory.operating_system.as_aws().to_string(),
            product: inventory.product.clone(),
            package_manager: inventory.package_manager.as_str().to_string(),
            machine_id: read("etc/machine-id"),
            hostname: read("etc/hostname"),
        }
    }
}

impl Plan {
    /// A plan of `targets` for `system` with `baseline`, made at `now`.
    pub fn new(
        system: SystemIdentity,
        baseline: &Baseline,
        install_override_list: Option<String>,
        targets: Vec<PlannedUpdate>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            plan_version: PLAN_VERSION,
            created: now,
            system,
            baseline: PlannedBaseline {
                id: baseline.report_id().to_string(),
                name: baseline.name.clone(),
                fingerprint: baseline.fingerprint(),
            },
            install_override_list,
            targets,
        }
    }

    /// Reads a plan; its version, and every target's name, architecture and versions, are
    /// checked (nothing unsafe reaches a package manager's command line).
    pub fn parse(text: &str, source_name: &str) -> Result<Self, PlanError> {
        let error = |message: String| PlanError {
            source_name: source_name.to_string(),
            message,
        };
        let plan: Self =
            serde_json::from_str(text).map_err(|e| error(format!("not a valid plan: {e}")))?;
        if plan.plan_version != PLAN_VERSION {
            return Err(error(format!(
                "planVersion {} is not {PLAN_VERSION}, the one this build reads",
                plan.plan_version
            )));
        }
        for (index, target) in plan.targets.iter().enumerate() {
            let safe = |text: &str| crate::install::is_safe_version(text);
            if !is_valid_package_name(&target.name)
                || !safe(&target.arch)
                || !safe(&target.version)
                || !(target.from_version.is_empty() || safe(&target.from_version))
            {
                return Err(error(format!(
                    "targets[{index}]: `{}.{} {}` is not a valid package name, architecture and version",
                    target.name, target.arch, target.version
                )));
            }
        }
        Ok(plan)
    }

    /// The plan as an install override list naming exactly its targets (`name.arch` and the
    /// exact version), which is how the install after it is reported.
    pub fn as_override_list(&self, family: crate::model::Family) -> InstallOverrideList {
        InstallOverrideList {
            entries: self
                .targets
                .iter()
                .map(|t| {
                    let package = PackageRef {
                        name: &t.name,
                        arch: &t.arch,
                        version: &t.version,
                    };
                    OverrideEntry {
                        id: Pattern::new(&format!("{}.{}", t.name, t.arch)),
                        title: name_forms(family, package).first().map(|f| Pattern::new(f)),
                    }
                })
                .collect(),
            plan: true,
        }
    }

    /// Whether the plan was made for a system of `identity`'s kind: the same operating
    /// system, product and package manager. Another kind is never installed, drift allowed or
    /// not.
    pub fn check_kind(
        &self,
        identity: &SystemIdentity,
        source_name: &str,
    ) -> Result<(), PlanError> {
        let planned = &self.system;
        if (
            &planned.operating_system,
            &planned.product,
            &planned.package_manager,
        ) != (
            &identity.operating_system,
            &identity.product,
            &identity.package_manager,
        ) {
            return Err(PlanError {
                source_name: source_name.to_string(),
                message: format!(
                    "the plan is for {} {} ({}), this system is {} {} ({})",
                    planned.operating_system,
                    planned.product,
                    planned.package_manager,
                    identity.operating_system,
                    identity.product,
                    identity.package_manager
                ),
            });
        }
        Ok(())
    }

    /// How `inventory` (the system now, of `identity`) and `baseline` differ from the plan.
    pub fn drift(
        &self,
        identity: &SystemIdentity,
        baseline: &Baseline,
        inventory: &Inventory,
    ) -> Drift {
        let scheme = inventory.package_manager.family().version_scheme();
        let mut drift = Drift::default();
        if let (Some(planned), Some(now)) = (&self.system.machine_id, &identity.machine_id)
            && planned != now
        {
            drift.differences.push(format!(
                "the plan was made on machine {planned}, this is machine {now}"
            ));
        }
        let fingerprint = baseline.fingerprint();
        if fingerprint != self.baseline.fingerprint {
            drift.differences.push(format!(
                "the baseline differs from the plan's: {} has fingerprint {}, the plan's {} had {}",
                baseline.report_id(),
                short(&fingerprint),
                self.baseline.id,
                short(&self.baseline.fingerprint)
            ));
        }
        // One pass over the installed and the offered packages for the targets' names (a plan
        // of every update of a large machine is thousands of targets).
        let keys: crate::fasthash::FastSet<(&str, &str)> = self
            .targets
            .iter()
            .map(|t| (t.name.as_str(), t.arch.as_str()))
            .collect();
        let mut newest: crate::fasthash::FastMap<(&str, &str), &str> =
            crate::fasthash::FastMap::default();
        for package in &inventory.installed {
            let key = (package.name.as_str(), package.arch.as_str());
            if keys.contains(&key) {
                let entry = newest.entry(key).or_insert(&package.version);
                if scheme.compare(&package.version, entry) == Ordering::Greater {
                    *entry = &package.version;
                }
            }
        }
        let mut offered_versions: crate::fasthash::FastMap<(&str, &str), Vec<&str>> =
            crate::fasthash::FastMap::default();
        for version in &inventory.available {
            let key = (version.name.as_str(), version.arch.as_str());
            if keys.contains(&key) {
                offered_versions
                    .entry(key)
                    .or_default()
                    .push(&version.version);
            }
        }
        for target in &self.targets {
            let id = format!("{}.{} {}", target.name, target.arch, target.version);
            let key = (target.name.as_str(), target.arch.as_str());
            let installed = newest.get(&key).copied();
            let Some(installed) = installed else {
                drift.differences.push(format!(
                    "{id}: {}.{} is no longer installed",
                    target.name, target.arch
                ));
                continue;
            };
            match scheme.compare(installed, &target.version) {
                Ordering::Equal => {
                    drift.done.push(target.clone());
                    continue;
                }
                Ordering::Greater => {
                    drift.differences.push(format!(
                        "{id}: {installed} is installed, newer than the plan's target"
                    ));
                    continue;
                }
                Ordering::Less => {}
            }
            let unchanged = target.from_version.is_empty()
                || scheme.compare(installed, &target.from_version) == Ordering::Equal;
            if !unchanged {
                drift.differences.push(format!(
                    "{id}: the installed version is {installed}, the plan was made at {}",
                    target.from_version
                ));
            }
            let offered = offered_versions.get(&key).is_some_and(|versions| {
                versions
                    .iter()
                    .any(|v| scheme.compare(v, &target.version) == Ordering::Equal)
            });
            if !offered {
                drift
                    .differences
                    .push(format!("{id}: no repository offers this version any more"));
                continue;
            }
            drift.installable.push(target.clone());
        }
        drift
    }
}

/// The first 12 hex digits of a fingerprint, as messages show it.
fn short(fingerprint: &str) -> &str {
    fingerprint.get(..12).unwrap_or(fingerprint)
}
