//! Judging one version against the baseline: the views of a version (through each advisory,
//! or its Packages stanza on apt), the filters, the approved and rejected lists, the dates and
//! the non-security gate; and the installed package itself, as the payload judges it.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::baseline::{ApprovalRule, Baseline, PatchFilter};
use crate::fasthash::FastMap as FnvMap;
use crate::inventory::{Advisory, AvailableVersion, InstalledPackage};
use crate::model::{ComplianceLevel, Family, FilterKey, PackageManagerKind};
use crate::pattern::PackageRef;

use super::Reason;

/// The metadata one approval decision looks at: a version seen through one of its advisories
/// (RPM, SUSE) or through its Packages stanza (apt).
pub(super) struct View<'a> {
    pub(super) advisory: Option<usize>,
    pub(super) classification: Option<&'a str>,
    pub(super) severity: Option<&'a str>,
    pub(super) priority: Option<&'a str>,
    pub(super) section: Option<&'a str>,
    pub(super) released: Option<DateTime<Utc>>,
    pub(super) security: bool,
    pub(super) origin: Option<&'a str>,
    /// The installed package itself, without metadata (RPM, SUSE): approved only by a rule that
    /// approves packages without metadata (the payload's "installed package" entry).
    pub(super) bare: bool,
}

impl View<'_> {
    /// A view without metadata: no advisory, no origin, released at `released`.
    pub(super) fn without_metadata(released: Option<DateTime<Utc>>) -> Self {
        View {
            advisory: None,
            classification: None,
            severity: None,
            priority: None,
            section: None,
            released,
            security: false,
            origin: None,
            bare: false,
        }
    }
}

/// The judgement of one available version.
pub(super) struct Verdict<'a> {
    pub(super) approved: bool,
    pub(super) compliance: ComplianceLevel,
    /// The reasons: the approving one when approved, otherwise the first failure per rule.
    pub(super) reasons: Vec<Reason<'a>>,
    /// The advisory that counted most (approved) or the first one.
    pub(super) advisory: Option<usize>,
    pub(super) security: bool,
    /// The verdict on the installed package itself ([`Judge::judge_installed`]).
    pub(super) of_installed: bool,
}

#[derive(Clone)]
pub(super) struct Judge<'a> {
    pub(super) baseline: &'a Baseline,
    pub(super) family: Family,
    pub(super) package_manager: PackageManagerKind,
    pub(super) product: &'a str,
    pub(super) advisories: &'a [Advisory],
    /// Each advisory's type with a capital first letter, computed once.
    pub(super) classifications: Vec<Cow<'static, str>>,
    pub(super) advisory_index: FnvMap<&'a str, usize>,
    pub(super) cutoffs: Vec<DateTime<Utc>>,
    pub(super) medium_is_moderate: bool,
    pub(super) native_architecture: Option<&'a str>,
}

impl fmt::Debug for Judge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Judge")
            .field("baseline", &self.baseline.name)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

impl<'a> Judge<'a> {
    /// apt, dnf and zypper judge the installed version itself and newer ones only; classic yum
    /// judges every offered version.
    pub(super) fn judges_installed_itself(&self) -> bool {
        self.package_manager != PackageManagerKind::Yum
    }

    pub(super) fn advisory_indexes(
        &self,
        version: &'a AvailableVersion,
    ) -> impl Iterator<Item = usize> + '_ {
        version
            .advisories
            .iter()
            .filter_map(|id| self.advisory_index.get(id.as_str()).copied())
    }

    pub(super) fn views(&self, version: &'a AvailableVersion, views: &mut Vec<View<'a>>) {
        views.clear();
        match self.family {
            Family::Apt => {
                let security_origin = version.origins.iter().find(|o| o.is_security());
                views.push(View {
                    advisory: None,
                    classification: None,
                    severity: None,
                    priority: version.priority.as_deref(),
                    section: version.section.as_deref(),
                    released: None,
                    security: security_origin.is_some(),
                    origin: security_origin.map(|o| {
                        if o.archive.is_empty() {
                            o.codename.as_str()
                        } else {
                            o.archive.as_str()
                        }
                    }),
                    bare: false,
                });
            }
            Family::Rpm | Family::Zypper => {
                for index in self.advisory_indexes(version) {
                    let advisory = &self.advisories[index];
                    let dated = match self.package_manager {
                        PackageManagerKind::Yum => advisory.updated.or(advisory.issued),
                        // zypper dates a patch by the later of its issued and updated dates.
                        PackageManagerKind::Zypper => advisory.issued.max(advisory.updated),
                        _ => advisory.issued,
                    };
                    // The AWS yum payload takes max(notice time, build time) with a build time of
                    // 0 for packages listed in a notice (spec §2.3): the notice's date decides,
                    // the build time only when the notice has none.
                    let released = dated.or(version.build_time);
                    let classification: &'a str = match &self.classifications[index] {
                        Cow::Borrowed(text) => text,
                        Cow::Owned(_) => advisory.kind.trim(),
                    };
                    views.push(View {
                        advisory: Some(index),
                        security: classification.eq_ignore_ascii_case("security"),
                        classification: Some(classification).filter(|c| !c.is_empty()),
                        severity: Some(advisory.severity_text()).filter(|s| !s.is_empty()),
                        priority: None,
                        section: None,
                        released,
                        origin: None,
                        bare: false,
                    });
                }
                if views.is_empty() {
                    views.push(View::without_metadata(version.build_time));
                }
            }
        }
    }

    /// One filter on `view`: whether it passes, and the view's value for the filter's key.
    pub(super) fn filter_outcome(
        &self,
        filter: &PatchFilter,
        view: &View<'a>,
    ) -> (bool, Option<&'a str>) {
        match filter.key {
            FilterKey::Product => {
                let passes = if self.family == Family::Apt {
                    filter.passes_ignore_case(self.product)
                } else {
                    filter.passes_exact(self.product)
                };
                (passes, Some(self.product))
            }
            FilterKey::Classification => (
                view.classification
                    .map_or(filter.matches_anything(), |c| filter.passes_ignore_case(c)),
                view.classification,
            ),
            FilterKey::Severity => (self.severity_passes(filter, view.severity), view.severity),
            FilterKey::Priority => (
                view.priority
                    .map_or(filter.matches_anything(), |p| filter.passes_ignore_case(p)),
                view.priority,
            ),
            FilterKey::Section => (
                view.section
                    .map_or(filter.matches_anything(), |s| filter.passes_ignore_case(s)),
                view.section,
            ),
        }
    }

    /// The first filter of `filters` that `view` fails: its key and the view's value.
    pub(super) fn failing_filter(
        &self,
        filters: &[PatchFilter],
        view: &View<'a>,
    ) -> Option<(FilterKey, Option<&'a str>)> {
        filters.iter().find_map(|filter| {
            let (passes, value) = self.filter_outcome(filter, view);
            (!passes).then_some((filter.key, value))
        })
    }

    /// Whether a version seen through `views` counts as carrying metadata: a classified
    /// advisory (RPM), always (SUSE), a security origin (apt). Without it only rules with
    /// `EnableNonSecurity` (and the approved list with `ApprovedPatchesEnableNonSecurity`)
    /// approve it.
    pub(super) fn has_metadata(&self, views: &[View<'a>]) -> bool {
        match self.family {
            Family::Rpm => views.iter().any(|v| v.classification.is_some()),
            Family::Zypper => true,
            Family::Apt => views.iter().any(|v| v.security),
        }
    }

    /// The non-security gate of `rule` on `view`: true when it lets the view through (zypper
    /// has none; apt needs a security origin, RPM an advisory with a classification).
    pub(super) fn gate_passes(
        &self,
        rule: &ApprovalRule,
        view: &View<'a>,
        has_metadata: bool,
    ) -> bool {
        self.family == Family::Zypper
            || rule.enable_non_security
            || if self.family == Family::Apt {
                view.security
            } else {
                has_metadata && !view.bare
            }
    }

    /// The release time rule `index` compares and its cutoff (a release strictly before the
    /// cutoff passes); `None` on apt, which has no date condition. A view without a date is
    /// taken as released at the epoch.
    pub(super) fn dates(
        &self,
        index: usize,
        view: &View<'a>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if self.family == Family::Apt {
            return None;
        }
        let released = view.released.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let cutoff = self
            .cutoffs
            .get(index)
            .copied()
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Some((released, cutoff))
    }

    /// The `ApprovedPatches` entry that names `package` (or, RPM and SUSE, one of its
    /// advisories, CVEs or bug ids as `views` show them).
    pub(super) fn approved_entry(
        &self,
        package: Option<PackageRef<'a>>,
        views: &[View<'a>],
    ) -> Option<&'a str> {
        let baseline = self.baseline;
        package
            .and_then(|package| {
                baseline
                    .approved_patches
                    .match_package(self.family, package)
            })
            .or_else(|| {
                if package.is_none()
                    || self.family == Family::Apt
                    || baseline.approved_patches.is_empty()
                {
                    return None;
                }
                views.iter().find_map(|v| {
                    let advisory = &self.advisories[v.advisory?];
                    std::iter::once(advisory.id.as_str())
                        .chain(advisory.cves.iter().map(String::as_str))
                        .chain(advisory.bugzillas.iter().map(String::as_str))
                        .find_map(|id| baseline.approved_patches.match_id(id))
                })
            })
    }

    pub(super) fn severity_passes(&self, filter: &PatchFilter, severity: Option<&str>) -> bool {
        match severity {
            None => filter.matches_anything() || filter.passes_ignore_case("None"),
            Some(severity) => {
                filter.passes_ignore_case(severity)
                    || (self.medium_is_moderate
                        && ((severity.eq_ignore_ascii_case("medium")
                            && filter.passes_ignore_case("moderate"))
                            || (severity.eq_ignore_ascii_case("moderate")
                                && filter.passes_ignore_case("medium"))))
            }
        }
    }

    /// Judges one version; reasons are collected only when `want_reasons` (the hot path needs
    /// only the verdict).
    pub(super) fn judge(
        &self,
        version: &'a AvailableVersion,
        views: &mut Vec<View<'a>>,
        want_reasons: bool,
    ) -> Verdict<'a> {
        self.views(version, views);
        let package = PackageRef {
            name: &version.name,
            arch: &version.arch,
            version: &version.version,
        };
        self.judge_views(Some(package), &version.advisories, views, want_reasons)
    }

    /// Judges a version the approved and rejected lists do not name, by its fields and origins
    /// alone (its name, architecture and version are not looked at).
    pub(super) fn judge_unnamed(
        &self,
        version: &'a AvailableVersion,
        views: &mut Vec<View<'a>>,
    ) -> Verdict<'a> {
        self.views(version, views);
        self.judge_views(None, &version.advisories, views, false)
    }

    /// Judges the installed version itself, as the payload does on dnf, zypper and apt: on RPM
    /// and SUSE the advisories that list it (when a repository offers it) and the installed
    /// package without metadata, released at time 0; on apt the archives' stanza when one
    /// offers it, else dpkg's status entry (Priority, Section, no origin).
    pub(super) fn judge_installed(
        &self,
        installed: &'a InstalledPackage,
        offered: Option<&'a AvailableVersion>,
        views: &mut Vec<View<'a>>,
        want_reasons: bool,
    ) -> Verdict<'a> {
        self.installed_views(installed, offered, views);
        let package = PackageRef {
            name: &installed.name,
            arch: &installed.arch,
            version: &installed.version,
        };
        let first = offered.map_or(&[][..], |v| &v.advisories[..]);
        let mut verdict = self.judge_views(Some(package), first, views, want_reasons);
        verdict.of_installed = true;
        verdict
    }

    /// The views of the installed version itself: on RPM and SUSE the advisories of the offered
    /// version equal to it (if any) and the package without metadata; on apt the offered stanza,
    /// else dpkg's status entry.
    pub(super) fn installed_views(
        &self,
        installed: &'a InstalledPackage,
        offered: Option<&'a AvailableVersion>,
        views: &mut Vec<View<'a>>,
    ) {
        views.clear();
        if let Some(version) = offered {
            self.views(version, views);
        }
        match self.family {
            Family::Apt => {
                if offered.is_none() {
                    views.push(View {
                        priority: installed.priority.as_deref(),
                        section: installed.section.as_deref(),
                        ..View::without_metadata(None)
                    });
                }
            }
            Family::Rpm | Family::Zypper => {
                views.retain(|v| v.advisory.is_some());
                views.push(View {
                    bare: true,
                    ..View::without_metadata(None)
                });
            }
        }
    }

    /// Judges `package` as `views` show it; `advisory_ids` are its advisories. Without a
    /// package the approved and rejected lists are not looked at (the caller knows they do not
    /// name it).
    fn judge_views(
        &self,
        package: Option<PackageRef<'a>>,
        advisory_ids: &'a [compact_str::CompactString],
        views: &[View<'a>],
        want_reasons: bool,
    ) -> Verdict<'a> {
        let baseline = self.baseline;
        if let Some(entry) = package.and_then(|package| {
            baseline
                .rejected_patches
                .match_package(self.family, package)
        }) {
            return Verdict {
                approved: false,
                compliance: ComplianceLevel::Unspecified,
                reasons: if want_reasons {
                    vec![Reason::RejectedPatches {
                        entry,
                        action: baseline.rejected_action,
                    }]
                } else {
                    Vec::new()
                },
                advisory: advisory_ids
                    .iter()
                    .find_map(|id| self.advisory_index.get(id.as_str()).copied()),
                security: false,
                of_installed: false,
            };
        }
        let security = views.iter().any(|v| v.security);
        let has_metadata = self.has_metadata(views);

        let mut approved = false;
        let mut compliance = ComplianceLevel::Unspecified;
        let mut best: Option<(ComplianceLevel, Reason<'a>, Option<usize>)> = None;
        let mut failures: Vec<Reason<'a>> = Vec::new();
        let mut consider = |level: ComplianceLevel, reason: Reason<'a>, advisory: Option<usize>| {
            if best.as_ref().is_none_or(|(l, _, _)| level > *l) {
                best = Some((level, reason, advisory));
            }
        };

        // The approved list wins over global filters (project decision).
        let listed = self.approved_entry(package, views);
        if let Some(entry) = listed {
            if has_metadata || baseline.approved_enable_non_security {
                approved = true;
                compliance = baseline.approved_compliance;
                let advisory = views.iter().find_map(|v| v.advisory);
                consider(
                    baseline.approved_compliance,
                    Reason::ApprovedPatches { entry },
                    advisory,
                );
            } else if want_reasons {
                failures.push(Reason::ApprovedPatchesNonSecurity { entry });
            }
        }

        let mut global_failure = None;
        let mut any_global_pass = false;
        for (view_index, view) in views.iter().enumerate() {
            match self.failing_filter(&baseline.global_filters, view) {
                None => any_global_pass = true,
                Some((key, value)) => {
                    global_failure.get_or_insert((view_index, Reason::GlobalFilter { key, value }));
                }
            }
        }
        if !any_global_pass
            && want_reasons
            && let Some((_, reason)) = global_failure.take()
        {
            failures.push(reason);
        }
        for (index, rule) in baseline.rules.iter().enumerate() {
            let number = index + 1;
            let mut first_failure: Option<Reason<'a>> = None;
            for view in views {
                if any_global_pass
                    && global_failure.is_some()
                    && self
                        .failing_filter(&baseline.global_filters, view)
                        .is_some()
                {
                    continue;
                }
                if !any_global_pass {
                    break;
                }
                let failure = if let Some((key, value)) = self.failing_filter(&rule.filters, view) {
                    Some(Reason::RuleFilter {
                        rule: number,
                        key,
                        value,
                    })
                } else if !self.gate_passes(rule, view, has_metadata) {
                    Some(Reason::NonSecurity { rule: number })
                } else {
                    self.dates(index, view)
                        .filter(|(released, cutoff)| released >= cutoff)
                        .map(|(released, cutoff)| Reason::TooRecent {
                            rule: number,
                            released,
                            cutoff,
                        })
                };
                match failure {
                    None => {
                        approved = true;
                        compliance = compliance.max(rule.compliance);
                        consider(
                            rule.compliance,
                            Reason::ApprovedByRule {
                                rule: number,
                                advisory: view.advisory.map(|i| self.advisories[i].id.as_str()),
                                released: view.released,
                                origin: view.origin,
                            },
                            view.advisory,
                        );
                        first_failure = None;
                        break;
                    }
                    Some(reason) => {
                        first_failure.get_or_insert(reason);
                    }
                }
            }
            if want_reasons && let Some(reason) = first_failure {
                failures.push(reason);
            }
        }
        if want_reasons && baseline.rules.is_empty() && !approved && failures.is_empty() {
            failures.push(Reason::NoApprovalRules);
        }
        match best {
            Some((_, reason, advisory)) if approved => Verdict {
                approved,
                compliance,
                reasons: if want_reasons {
                    vec![reason]
                } else {
                    Vec::new()
                },
                advisory: advisory.or_else(|| views.iter().find_map(|v| v.advisory)),
                security,
                of_installed: false,
            },
            _ => Verdict {
                approved: false,
                compliance: ComplianceLevel::Unspecified,
                reasons: failures,
                advisory: views.iter().find_map(|v| v.advisory),
                security,
                of_installed: false,
            },
        }
    }
}
