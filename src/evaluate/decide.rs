//! Deciding every package: grouping the available versions by package, judging each group
//! (on several threads for large inventories) and turning the verdicts into a state.

use std::cmp::Ordering;

use crate::baseline::{Baseline, RejectedAction};
use crate::fasthash::FastMap as FnvMap;
use crate::inventory::{
    AvailableVersion, InstalledPackage, Inventory, NotInstalled, classification_of,
};
use crate::model::{ComplianceLevel, Family, OperatingSystem, PatchState};
use crate::pattern::PackageRef;
use crate::version::VersionScheme;

use super::judge::{Judge, Verdict, View};
use super::{Basis, EvaluateError, EvaluateOptions, Evaluation, Operation, PackageDecision};

/// From this many (name, arch) groups they are judged on several threads: below it a thread's
/// start costs about what it saves (a group takes about half a microsecond).
const PARALLEL_FROM: usize = 4_096;

/// Evaluates `baseline` against `inventory`.
pub fn evaluate<'a>(
    inventory: &'a Inventory,
    baseline: &'a Baseline,
    options: &EvaluateOptions<'_>,
) -> Result<Evaluation<'a>, EvaluateError> {
    let family = inventory.package_manager.family();
    if baseline.family() != family {
        return Err(EvaluateError::FamilyMismatch {
            baseline: baseline.name.clone(),
            baseline_os: baseline.operating_system,
            package_manager: inventory.package_manager.as_str(),
            inventory_os: inventory.operating_system,
        });
    }
    let scheme = family.version_scheme();
    let judge = Judge {
        baseline,
        family,
        package_manager: inventory.package_manager,
        product: &inventory.product,
        advisories: &inventory.advisories,
        classifications: inventory
            .advisories
            .iter()
            .map(|a| classification_of(&a.kind))
            .collect(),
        advisory_index: inventory
            .advisories
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.as_str(), i))
            .collect(),
        cutoffs: baseline
            .rules
            .iter()
            .map(|r| r.approve.cutoff(options.now))
            .collect(),
        medium_is_moderate: matches!(
            inventory.operating_system,
            OperatingSystem::AmazonLinux2023 | OperatingSystem::AmazonLinux2022
        ),
        native_architecture: inventory.native_architecture.as_deref(),
    };

    // Group by (name, arch) without a Vec per group: a group id per key, then the available
    // versions laid out contiguously per group (counting sort).
    let mut group_ids: FnvMap<(&str, &str), u32> = FnvMap::default();
    // Most groups hold one version (apt lists every package of every index).
    group_ids.reserve(inventory.installed.len() + inventory.available.len());
    let mut installed_of: Vec<Option<&InstalledPackage>> = Vec::new();
    let mut group_of = |name: &'a str, arch: &'a str, installed_of: &mut Vec<_>| -> u32 {
        *group_ids.entry((name, arch)).or_insert_with(|| {
            installed_of.push(None);
            u32::try_from(installed_of.len() - 1).unwrap_or(u32::MAX)
        })
    };
    for package in &inventory.installed {
        let id = group_of(&package.name, &package.arch, &mut installed_of);
        // Install-only packages (several kernels) are installed in more than one version: the
        // newest one is the package's installed version.
        let slot = &mut installed_of[id as usize];
        if slot.is_none_or(|p| scheme.compare(&package.version, &p.version) == Ordering::Greater) {
            *slot = Some(package);
        }
    }
    let version_groups: Vec<u32> = inventory
        .available
        .iter()
        .map(|v| group_of(&v.name, &v.arch, &mut installed_of))
        .collect();
    let groups = installed_of.len();
    let mut starts = vec![0u32; groups + 1];
    for &group in &version_groups {
        starts[group as usize + 1] += 1;
    }
    for i in 0..groups {
        starts[i + 1] += starts[i];
    }
    let mut fill = starts.clone();
    let mut ordered: Vec<&AvailableVersion> = match inventory.available.first() {
        Some(placeholder) => vec![placeholder; inventory.available.len()],
        None => Vec::new(),
    };
    for (version, &group) in inventory.available.iter().zip(&version_groups) {
        ordered[fill[group as usize] as usize] = version;
        fill[group as usize] += 1;
    }
    drop(version_groups);
    drop(group_ids);
    drop(fill);

    let mut pending: FnvMap<(&str, &str), Vec<&str>> = FnvMap::default();
    for p in &inventory.pending_reboot {
        pending
            .entry((p.name.as_str(), p.arch.as_str()))
            .or_default()
            .push(p.version.as_str());
    }

    // Judge the groups in parallel: each thread gets a contiguous range of groups and the
    // matching (disjoint) part of `ordered`.
    let threads = if groups >= PARALLEL_FROM {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(8)
    } else {
        1
    };
    let per_thread = groups.div_ceil(threads).max(1);
    // One slot per group, filled in place by the thread that owns the group: the decisions are
    // never copied or held twice, and `flatten` below reuses the same allocation.
    let mut slots: Vec<Option<PackageDecision<'a>>> = (0..groups).map(|_| None).collect();
    let mut parts = Vec::with_capacity(threads);
    let (mut rest_versions, mut rest_slots): (&mut [&AvailableVersion], &mut [Option<_>]) =
        (&mut ordered, &mut slots);
    let mut first = 0;
    while first < groups {
        let last = (first + per_thread).min(groups);
        let (versions, tail) = rest_versions.split_at_mut((starts[last] - starts[first]) as usize);
        let (slot_part, slot_tail) = rest_slots.split_at_mut(last - first);
        parts.push((first..last, versions, slot_part));
        rest_versions = tail;
        rest_slots = slot_tail;
        first = last;
    }
    let context = GroupContext {
        judge: &judge,
        scheme,
        installed_of: &installed_of,
        starts: &starts,
        pending: &pending,
        options,
    };
    if parts.len() > 1 {
        std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|(range, versions, slots)| {
                    scope.spawn(|| context.decide_groups(range, versions, slots))
                })
                .collect();
            for handle in handles {
                if let Err(panic) = handle.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
    } else {
        for (range, versions, slots) in parts {
            context.decide_groups(range, versions, slots);
        }
    }
    let mut decisions: Vec<PackageDecision<'a>> = slots.into_iter().flatten().collect();
    decisions.sort_unstable_by(|a, b| {
        a.state
            .cmp(&b.state)
            .then_with(|| a.name.cmp(b.name))
            .then_with(|| a.arch.cmp(b.arch))
    });
    Ok(Evaluation {
        operating_system: inventory.operating_system,
        product: &inventory.product,
        package_manager: inventory.package_manager,
        baseline_id: baseline.report_id(),
        baseline_name: &baseline.name,
        now: options.now,
        operation: options.operation,
        not_installed_approved: not_installed_approved(&judge, &inventory.not_installed),
        from_plan: options.override_list.is_some_and(|list| list.plan),
        decisions,
        judge,
        grouped: ordered,
    })
}

/// How many packages of `set` the baseline approves a version of (each NotApplicable). A
/// version's verdict depends on its kind alone unless the approved or rejected list names it:
/// each kind is judged once, a named version on its own, as any other.
fn not_installed_approved(judge: &Judge<'_>, set: &NotInstalled) -> usize {
    if set.is_empty() {
        return 0;
    }
    let baseline = judge.baseline;
    let lists = !baseline.approved_patches.is_empty() || !baseline.rejected_patches.is_empty();
    let mut views = Vec::new();
    let mut kinds: Vec<Option<bool>> = vec![None; set.kinds().len()];
    let mut approved = 0;
    for package in set.packages() {
        let any = package.versions().any(|(version, kind)| {
            let named = lists && {
                let package = PackageRef {
                    name: package.name,
                    arch: package.arch,
                    version,
                };
                let family = judge.family;
                baseline
                    .approved_patches
                    .match_package(family, package)
                    .is_some()
                    || baseline
                        .rejected_patches
                        .match_package(family, package)
                        .is_some()
            };
            let Some(of_kind) = set.kinds().get(kind) else {
                return false;
            };
            if named {
                let version = AvailableVersion {
                    name: package.name.into(),
                    arch: package.arch.into(),
                    version: version.into(),
                    ..of_kind.clone()
                };
                return judge.judge(&version, &mut Vec::new(), false).approved;
            }
            *kinds[kind].get_or_insert_with(|| {
                // Judged without a name: the lists do not name this version.
                judge.judge_unnamed(of_kind, &mut views).approved
            })
        });
        approved += usize::from(any);
    }
    approved
}

/// The verdict index that stands for the installed package itself, which no repository offers.
const ITSELF: usize = usize::MAX;

/// What every group's decision needs, shared by the judging threads.
struct GroupContext<'j, 'a> {
    judge: &'j Judge<'a>,
    scheme: VersionScheme,
    installed_of: &'j [Option<&'a InstalledPackage>],
    starts: &'j [u32],
    pending: &'j FnvMap<(&'a str, &'a str), Vec<&'a str>>,
    options: &'j EvaluateOptions<'j>,
}

impl<'a> GroupContext<'_, 'a> {
    /// Decides `groups`, whose available versions are `part` (laid out contiguously), into
    /// `slots` (one per group).
    fn decide_groups(
        &self,
        groups: std::ops::Range<usize>,
        part: &mut [&'a AvailableVersion],
        slots: &mut [Option<PackageDecision<'a>>],
    ) {
        let judge = self.judge;
        let scheme = self.scheme;
        let offset = self.starts[groups.start] as usize;
        let first = groups.start;
        let mut views: Vec<View<'a>> = Vec::with_capacity(4);
        let mut verdicts: Vec<(usize, Verdict<'a>)> = Vec::new();
        for group in groups {
            let installed = self.installed_of[group];
            let range =
                self.starts[group] as usize - offset..self.starts[group + 1] as usize - offset;
            let versions = &mut part[range];
            versions.sort_by(|a, b| scheme.sort_order(&b.version, &a.version));
            let mut versions: &[&AvailableVersion] = versions;
            // apt, dnf and zypper judge only the installed version and newer ones (spec §2.4–2.6;
            // an approved older version does not make a package Installed); classic yum judges
            // every version, as its payload does.
            let judges_itself = judge.judges_installed_itself();
            if judges_itself && let Some(installed) = installed {
                let keep = versions
                    .iter()
                    .take_while(|v| {
                        scheme.compare(&v.version, &installed.version) != Ordering::Less
                    })
                    .count();
                versions = &versions[..keep];
            }
            verdicts.clear();
            let mut best = None;
            let mut installed_judged = false;
            for (index, version) in versions.iter().enumerate() {
                let verdict = match installed {
                    Some(p)
                        if judges_itself
                            && scheme.compare(&version.version, &p.version) == Ordering::Equal =>
                    {
                        installed_judged = true;
                        judge.judge_installed(p, Some(version), &mut views, false)
                    }
                    _ => judge.judge(version, &mut views, false),
                };
                let approved = verdict.approved;
                verdicts.push((index, verdict));
                if approved {
                    best = Some(verdicts.len() - 1);
                    break;
                }
            }
            if best.is_none()
                && judges_itself
                && !installed_judged
                && let Some(p) = installed
            {
                // No repository offers the installed version: judge the package itself.
                let verdict = judge.judge_installed(p, None, &mut views, false);
                if verdict.approved {
                    verdicts.push((ITSELF, verdict));
                    best = Some(verdicts.len() - 1);
                }
            }
            slots[group - first] = decide(
                judge,
                scheme,
                installed,
                versions,
                &verdicts,
                best,
                self.pending,
                self.options,
                (self.starts[group], self.starts[group + 1]),
            );
        }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
fn decide<'a>(
    judge: &Judge<'a>,
    scheme: VersionScheme,
    installed: Option<&'a InstalledPackage>,
    versions: &[&'a AvailableVersion],
    verdicts: &[(usize, Verdict<'a>)],
    best: Option<usize>,
    pending: &FnvMap<(&str, &str), Vec<&str>>,
    options: &EvaluateOptions<'_>,
    group: (u32, u32),
) -> Option<PackageDecision<'a>> {
    let family = judge.family;
    let baseline = judge.baseline;
    let (name, arch) = match (installed, versions.first()) {
        (Some(p), _) => (p.name.as_str(), p.arch.as_str()),
        (None, Some(v)) => (v.name.as_str(), v.arch.as_str()),
        (None, None) => return None,
    };
    let best_version = best
        .map(|i| verdicts[i].0)
        .filter(|&i| i != ITSELF)
        .map(|i| versions[i]);
    // The installed version as a repository offers it (apt reports its Priority and origin).
    let offered_installed = installed.and_then(|p| {
        versions
            .iter()
            .rev()
            .find(|v| scheme.compare(&v.version, &p.version) == Ordering::Equal)
            .copied()
    });
    let installed_itself = best.is_some_and(|i| verdicts[i].1.of_installed);
    let mut decision = PackageDecision {
        name,
        arch,
        state: PatchState::InstalledOther,
        compliance: ComplianceLevel::Unspecified,
        reboot_suggested: false,
        installed,
        approved: best_version,
        shown: best_version,
        package_manager: judge.package_manager,
        foreign: family == Family::Apt
            && arch != "all"
            && judge.native_architecture.is_some_and(|n| n != arch),
        advisory: None,
        security: false,
        basis: Basis {
            version: best_version,
            installed_itself,
            apt: family == Family::Apt,
            group,
            ..Basis::default()
        },
    };
    if let Some(index) = best {
        let verdict = &verdicts[index].1;
        decision.compliance = verdict.compliance;
        match family {
            Family::Apt => decision.security = verdict.security,
            Family::Rpm | Family::Zypper => {
                decision.advisory = verdict.advisory.map(|i| &judge.advisories[i]);
                decision.reboot_suggested = best_version.is_some_and(|version| {
                    judge
                        .advisory_indexes(version)
                        .any(|i| judge.advisories[i].reboot_suggested)
                });
            }
        }
    }

    let Some(installed) = installed else {
        let version = best_version?;
        let _ = version;
        decision.state = PatchState::NotApplicable;
        return Some(decision);
    };
    // The install override list overrides the baseline (payload 1.80 on yum, dnf, apt and
    // zypper): after an Install, a listed update still not installed is Failed, approved or not.
    let override_target = match (options.operation, options.override_list) {
        (Operation::Install, Some(list)) if !installed.held => versions
            .iter()
            .find(|v| {
                scheme.compare(&v.version, &installed.version) == Ordering::Greater
                    && list
                        .matching_entry(
                            family,
                            PackageRef {
                                name,
                                arch,
                                version: &v.version,
                            },
                        )
                        .is_some()
            })
            .copied(),
        _ => None,
    };
    // An update the install's maintenance window deferred stays Missing.
    let deferred = options.operation == Operation::Install
        && options
            .deferred
            .iter()
            .any(|(n, a)| n.as_str() == name && a.as_str() == arch);
    if let Some(target) = override_target {
        decision.state = if deferred {
            decision.basis.deferred = true;
            PatchState::Missing
        } else {
            PatchState::Failed
        };
        decision.basis.in_override_list = true;
        if !best_version.is_some_and(|b| std::ptr::eq(b, target)) {
            decision.approved = Some(target);
            decision.shown = Some(target);
            decision.basis.version = Some(target);
            decision.basis.installed_itself = false;
            decision.compliance = ComplianceLevel::Unspecified;
            decision.advisory = judge
                .advisory_indexes(target)
                .next()
                .map(|i| &judge.advisories[i]);
            decision.security = family == Family::Apt
                && target
                    .origins
                    .iter()
                    .any(crate::inventory::AptOrigin::is_security);
            decision.reboot_suggested = judge
                .advisory_indexes(target)
                .any(|i| judge.advisories[i].reboot_suggested);
        }
        return Some(decision);
    }
    let newer = best_version
        .filter(|v| scheme.compare(&v.version, &installed.version) == Ordering::Greater);
    if let Some(version) = newer {
        decision.state = PatchState::Missing;
        // A held package was deliberately left alone: it stays Missing, not Failed.
        if options.operation == Operation::Install && !installed.held {
            let covered = options.override_list.is_none_or(|list| {
                list.matching_entry(
                    family,
                    PackageRef {
                        name,
                        arch,
                        version: &version.version,
                    },
                )
                .is_some()
            });
            if deferred {
                decision.basis.deferred = true;
            } else if covered {
                decision.state = PatchState::Failed;
            } else {
                decision.basis.not_in_override_list = true;
            }
        }
        return Some(decision);
    }
    let installed_ref = PackageRef {
        name,
        arch,
        version: &installed.version,
    };
    let rejected = (baseline.rejected_action == RejectedAction::Block)
        .then(|| {
            baseline
                .rejected_patches
                .match_package(family, installed_ref)
        })
        .flatten();
    // apt reports the Priority and the security origin of the installed version for
    // InstalledOther and InstalledRejected, as the payload (its candidate is the installed one).
    let installed_fields = |decision: &mut PackageDecision<'a>| {
        decision.advisory = None;
        decision.shown = offered_installed;
        decision.security = family == Family::Apt
            && offered_installed.is_some_and(|v| {
                v.origins
                    .iter()
                    .any(crate::inventory::AptOrigin::is_security)
            });
    };
    if let Some(entry) = rejected {
        decision.state = PatchState::InstalledRejected;
        decision.compliance = ComplianceLevel::Unspecified;
        installed_fields(&mut decision);
        decision.basis.rejected_entry = Some(entry);
    } else if best.is_some() {
        decision.state = PatchState::Installed;
    } else {
        decision.state = PatchState::InstalledOther;
        decision.compliance = ComplianceLevel::Unspecified;
        installed_fields(&mut decision);
        decision.basis.version = verdicts
            .first()
            .map(|(index, _)| *index)
            .filter(|&i| i != ITSELF)
            .map(|i| versions[i]);
        decision.basis.installed_itself = decision.basis.version.is_none();
    }
    // The state file's titles carry the epoch (`0:1.1-1`) where the inventory may not
    // (`1.1-1`): the versions are compared, not the strings.
    if pending.get(&(name, arch)).is_some_and(|versions| {
        versions
            .iter()
            .any(|v| scheme.compare(v, &installed.version) == Ordering::Equal)
    }) {
        decision.state = PatchState::InstalledPendingReboot;
        decision.basis.pending_reboot = true;
    }
    Some(decision)
}
