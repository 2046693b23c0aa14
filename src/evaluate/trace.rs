//! The full decision trace of one package, for `explain`: every version judged, every view of
//! it (each advisory, the apt stanza, the installed package itself), every global filter and
//! every rule with the value it compared, the non-security gate, the date and its cutoff, and
//! which version the decision took. It is built from the same checks the evaluation makes
//! ([`super::judge::Judge`]), walked exhaustively instead of stopping at the first answer.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::baseline::{PatchFilter, RejectedAction};
use crate::inventory::AvailableVersion;
use crate::model::{ComplianceLevel, FilterKey, PatchState};
use crate::pattern::PackageRef;

use super::judge::View;
use super::{Evaluation, PackageDecision, Reason};

/// Why one package is in its state, in full.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageTrace<'a> {
    /// `name.arch` (apt: `name:arch.arch` for a foreign architecture).
    pub id: String,
    /// Name.
    pub name: &'a str,
    /// Architecture.
    pub arch: &'a str,
    /// The installed version, if installed.
    pub installed_version: Option<&'a str>,
    /// The state.
    pub state: PatchState,
    /// The compliance level.
    pub compliance: ComplianceLevel,
    /// The version the decision took (the highest approved one), if any.
    pub approved_version: Option<&'a str>,
    /// The one-line explanation reports carry.
    pub explanation: String,
    /// The typed reasons behind it, most decisive first.
    pub reasons: Vec<Reason<'a>>,
    /// Held by the administrator or the host's package manager configuration (dpkg hold,
    /// versionlock, an exclude that hides every newer version, a zypper lock).
    pub held: bool,
    /// Installed by a `NoReboot` install; the machine has not rebooted since.
    pub pending_reboot: bool,
    /// `RejectedPatchesAction` of the baseline.
    pub rejected_action: RejectedAction,
    /// Every version judged, newest first: those offered at or above the installed version
    /// (classic yum: every offered version, as its payload judges them), then the installed
    /// package itself when no repository offers its version.
    pub versions: Vec<VersionTrace<'a>>,
    /// Newer versions a repository has that the host's configuration hides from its package
    /// manager (an exclude, includepkgs, a zypper lock on the edition): not judged, never
    /// installed ([`PackageTrace::with_hidden`] fills it from the inventory).
    pub hidden_by_host: Vec<&'a crate::inventory::HiddenVersion>,
}

impl<'a> PackageTrace<'a> {
    /// The trace with the inventory's hidden versions of this package.
    #[must_use]
    pub fn with_hidden(mut self, inventory: &'a crate::inventory::Inventory) -> Self {
        self.hidden_by_host = inventory
            .hidden
            .iter()
            .filter(|h| h.name == self.name && h.arch == self.arch)
            .collect();
        self
    }
}

/// The judgement of one version.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent facts about one version, each reported as a JSON field"
)]
pub struct VersionTrace<'a> {
    /// The version.
    pub version: &'a str,
    /// It is the installed version.
    pub installed: bool,
    /// A repository offers it (false: the installed package itself, as the rpm database or
    /// dpkg's status describe it).
    pub offered: bool,
    /// The repository that offers it, when known.
    pub repository: Option<&'a str>,
    /// The `RejectedPatches` entry that names it; it decides first.
    pub rejected_by: Option<&'a str>,
    /// The `ApprovedPatches` entry that names it (or one of its advisories, CVEs or bugs).
    pub approved_by: Option<&'a str>,
    /// Whether that entry approves it: `ApprovedPatchesEnableNonSecurity` is true, or the
    /// version carries security metadata.
    pub approved_list_applies: bool,
    /// Each way the rules see the version.
    pub views: Vec<ViewTrace<'a>>,
    /// The baseline approves this version.
    pub approved: bool,
    /// The compliance level it would get (the highest of the approved list and the approving
    /// rules).
    pub compliance: ComplianceLevel,
    /// It is the version the decision took.
    pub chosen: bool,
}

/// What one view of a version is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Through<'a> {
    /// An advisory that lists the version (RPM, SUSE).
    Advisory {
        /// Its id.
        id: &'a str,
    },
    /// The version without an advisory (RPM, SUSE: its build time is its date).
    Package,
    /// The installed package without metadata, released at time 0 (RPM, SUSE).
    InstalledPackage,
    /// The Packages stanza the archives give (apt).
    Stanza,
    /// dpkg's status entry: no archive offers the installed version (apt).
    DpkgStatus,
}

/// One view of a version, and what the filters and rules made of it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewTrace<'a> {
    /// What the view is.
    pub through: Through<'a>,
    /// `CLASSIFICATION`'s value.
    pub classification: Option<&'a str>,
    /// `SEVERITY`'s value.
    pub severity: Option<&'a str>,
    /// `PRIORITY`'s value (apt).
    pub priority: Option<&'a str>,
    /// `SECTION`'s value (apt).
    pub section: Option<&'a str>,
    /// The release time the date conditions compare (RPM, SUSE).
    pub released: Option<DateTime<Utc>>,
    /// A security update: a security origin (apt) or a `Security` classification.
    pub security: bool,
    /// The security origin that offers it (apt).
    pub origin: Option<&'a str>,
    /// Every global filter.
    pub global_filters: Vec<FilterTrace<'a>>,
    /// Whether every global filter passes.
    pub global_filters_pass: bool,
    /// Every rule, when the rules look at this view: the global filters pass here, or no view
    /// of the version passes them (then the rules look at none and this is empty).
    pub rules: Vec<RuleTrace<'a>>,
}

/// One filter against one value.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterTrace<'a> {
    /// The key.
    pub key: FilterKey,
    /// The filter's values as the baseline writes them.
    pub values: &'a [String],
    /// The version's value for the key (`None`: it has none).
    pub value: Option<&'a str>,
    /// Whether it passes.
    pub passes: bool,
}

/// One approval rule against one view.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleTrace<'a> {
    /// The rule (1-based).
    pub rule: usize,
    /// Its compliance level.
    pub compliance: ComplianceLevel,
    /// Its date condition (`ApproveAfterDays 7`, `ApproveUntilDate 2024-01-01`).
    pub condition: String,
    /// `EnableNonSecurity`.
    pub enable_non_security: bool,
    /// Every filter of the rule.
    pub filters: Vec<FilterTrace<'a>>,
    /// The non-security gate lets the view through (`None`: the filters failed first).
    pub gate_passes: Option<bool>,
    /// The release time compared and the cutoff (a release strictly before it passes); `None`
    /// when an earlier check failed or on apt, which has no date condition.
    pub date: Option<DateTrace>,
    /// The rule approves the version through this view.
    pub approves: bool,
}

/// A date condition's comparison.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTrace {
    /// The release time used (the epoch when the view has none).
    pub released: DateTime<Utc>,
    /// Releases strictly before this time pass.
    pub cutoff: DateTime<Utc>,
    /// Whether it passes.
    pub passes: bool,
}

impl<'a> Evaluation<'a> {
    /// The full trace of `decision`: every version judged and every check made of it.
    pub fn trace(&self, decision: &PackageDecision<'a>) -> PackageTrace<'a> {
        let judge = &self.judge;
        let scheme = judge.family.version_scheme();
        let (start, end) = decision.basis.group;
        let group = self
            .grouped
            .get(start as usize..end as usize)
            .unwrap_or_default();
        let installed = decision.installed;
        let judges_itself = judge.judges_installed_itself();
        let mut versions = Vec::new();
        let mut views = Vec::new();
        let mut offers_installed = false;
        for &version in group {
            let order = installed.map(|p| scheme.compare(&version.version, &p.version));
            if judges_itself && order == Some(Ordering::Less) {
                continue;
            }
            let is_installed = order == Some(Ordering::Equal);
            // The installed version is judged as the installed package (its name and version
            // as installed), seen through the advisories of the offered one.
            let package = match installed {
                Some(p) if judges_itself && is_installed => {
                    offers_installed = true;
                    judge.installed_views(p, Some(version), &mut views);
                    PackageRef {
                        name: &p.name,
                        arch: &p.arch,
                        version: &p.version,
                    }
                }
                _ => {
                    judge.views(version, &mut views);
                    PackageRef {
                        name: &version.name,
                        arch: &version.arch,
                        version: &version.version,
                    }
                }
            };
            let mut trace = self.version_trace(package, &views, Some(version));
            trace.installed = is_installed;
            trace.chosen = decision.approved.is_some_and(|a| std::ptr::eq(a, version));
            versions.push(trace);
        }
        if judges_itself
            && !offers_installed
            && let Some(p) = installed
        {
            judge.installed_views(p, None, &mut views);
            let package = PackageRef {
                name: &p.name,
                arch: &p.arch,
                version: &p.version,
            };
            let mut trace = self.version_trace(package, &views, None);
            trace.installed = true;
            trace.chosen = decision.approved.is_none()
                && trace.approved
                && decision.basis.installed_itself
                && matches!(
                    decision.state,
                    PatchState::Installed | PatchState::InstalledPendingReboot
                );
            versions.push(trace);
        }
        PackageTrace {
            id: decision.id(),
            name: decision.name,
            arch: decision.arch,
            installed_version: decision.installed_version(),
            state: decision.state,
            compliance: decision.compliance,
            approved_version: decision.approved_version(),
            explanation: self.explanation(decision),
            reasons: self.reasons(decision),
            held: installed.is_some_and(|p| p.held),
            pending_reboot: decision.basis.pending_reboot,
            rejected_action: judge.baseline.rejected_action,
            versions,
            hidden_by_host: Vec::new(),
        }
    }

    /// Every check of one version seen through `views`.
    fn version_trace(
        &self,
        package: PackageRef<'a>,
        views: &[View<'a>],
        offered: Option<&'a AvailableVersion>,
    ) -> VersionTrace<'a> {
        let judge = &self.judge;
        let baseline = judge.baseline;
        let rejected_by = baseline
            .rejected_patches
            .match_package(judge.family, package);
        let has_metadata = judge.has_metadata(views);
        let approved_by = judge.approved_entry(Some(package), views);
        let approved_list_applies =
            approved_by.is_some() && (has_metadata || baseline.approved_enable_non_security);
        let filters = |list: &'a [PatchFilter], view: &View<'a>| -> Vec<FilterTrace<'a>> {
            list.iter()
                .map(|filter| {
                    let (passes, value) = judge.filter_outcome(filter, view);
                    FilterTrace {
                        key: filter.key,
                        values: &filter.values,
                        value,
                        passes,
                    }
                })
                .collect()
        };
        let any_global_pass = views
            .iter()
            .any(|v| judge.failing_filter(&baseline.global_filters, v).is_none());
        let mut compliance = if approved_list_applies {
            baseline.approved_compliance
        } else {
            ComplianceLevel::Unspecified
        };
        let mut by_rule = false;
        let mut traces = Vec::with_capacity(views.len());
        for view in views {
            let global_filters = filters(&baseline.global_filters, view);
            let global_filters_pass = global_filters.iter().all(|f| f.passes);
            let mut rules = Vec::new();
            if any_global_pass && global_filters_pass {
                for (index, rule) in baseline.rules.iter().enumerate() {
                    let rule_filters = filters(&rule.filters, view);
                    let filters_pass = rule_filters.iter().all(|f| f.passes);
                    let gate_passes =
                        filters_pass.then(|| judge.gate_passes(rule, view, has_metadata));
                    let date = (gate_passes == Some(true))
                        .then(|| judge.dates(index, view))
                        .flatten()
                        .map(|(released, cutoff)| DateTrace {
                            released,
                            cutoff,
                            passes: released < cutoff,
                        });
                    let approves = gate_passes == Some(true) && date.is_none_or(|d| d.passes);
                    if approves {
                        by_rule = true;
                        compliance = compliance.max(rule.compliance);
                    }
                    rules.push(RuleTrace {
                        rule: index + 1,
                        compliance: rule.compliance,
                        condition: rule.approve.to_string(),
                        enable_non_security: rule.enable_non_security,
                        filters: rule_filters,
                        gate_passes,
                        date,
                        approves,
                    });
                }
            }
            traces.push(ViewTrace {
                through: through(view, offered.is_some(), judge),
                classification: view.classification,
                severity: view.severity,
                priority: view.priority,
                section: view.section,
                released: view.released,
                security: view.security,
                origin: view.origin,
                global_filters,
                global_filters_pass,
                rules,
            });
        }
        let approved = rejected_by.is_none() && (approved_list_applies || by_rule);
        VersionTrace {
            version: offered.map_or(package.version, |v| v.version.as_str()),
            installed: false,
            offered: offered.is_some(),
            repository: offered.and_then(|v| v.repository.as_deref()),
            rejected_by,
            approved_by,
            approved_list_applies,
            views: traces,
            approved,
            compliance: if approved {
                compliance
            } else {
                ComplianceLevel::Unspecified
            },
            chosen: false,
        }
    }
}

/// What `view` is.
fn through<'a>(view: &View<'a>, offered: bool, judge: &super::judge::Judge<'a>) -> Through<'a> {
    match view.advisory {
        Some(index) => judge
            .advisories
            .get(index)
            .map_or(Through::Package, |a| Through::Advisory { id: &a.id }),
        None if view.bare => Through::InstalledPackage,
        None if judge.family == crate::model::Family::Apt => {
            if offered {
                Through::Stanza
            } else {
                Through::DpkgStatus
            }
        }
        None => Through::Package,
    }
}
