//! The evaluation core, pure: (inventory, baseline, now) → one decision per package.
//!
//! Implements spec §2.2–§2.6 and §4 with the project decisions at the top of the spec:
//! rejected first; then the approved list (which wins over global filters); then global filters
//! and approval rules (OR'ed, each with its filters, date condition and non-security gate); the
//! highest approved version wins; the compliance level is the highest contributing level.
//! `InstalledRejected` only with `BLOCK`. Every decision carries the reasons that decided it.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::baseline::RejectedAction;
use crate::inventory::{Advisory, AvailableVersion, InstalledPackage, classification_of};
use crate::model::{ComplianceLevel, FilterKey, OperatingSystem, PackageManagerKind, PatchState};
use crate::pattern::{InstallOverrideList, PackageRef};

mod decide;
mod judge;
mod trace;

pub use decide::evaluate;
use judge::Judge;
pub use trace::{
    DateTrace, FilterTrace, PackageTrace, RuleTrace, Through, VersionTrace, ViewTrace,
};

/// Scan only reports; Install reports after installing (remaining `Missing` become `Failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Operation {
    /// `Scan`.
    Scan,
    /// `Install`.
    Install,
}

impl Operation {
    /// `Scan` or `Install`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scan => "Scan",
            Self::Install => "Install",
        }
    }
}

/// The inputs of an evaluation other than the inventory and the baseline.
#[derive(Debug, Clone, Copy)]
pub struct EvaluateOptions<'a> {
    /// "Now", taken once per run (approve-after-days is measured from it).
    pub now: DateTime<Utc>,
    /// The operation whose result this evaluation reports.
    pub operation: Operation,
    /// The install override list of an Install, if any.
    pub override_list: Option<&'a InstallOverrideList>,
    /// The (name, arch) of updates an Install deferred to the next maintenance window: they
    /// stay Missing, not Failed.
    pub deferred: &'a [(String, String)],
}

/// Why a version was (or was not) approved; rule numbers are 1-based. Strings borrow from the
/// inventory and the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Reason<'a> {
    /// Approval rule `rule` approved it.
    #[serde(rename_all = "camelCase")]
    ApprovedByRule {
        /// The rule (1-based).
        rule: usize,
        /// The advisory that carried it (RPM, SUSE).
        advisory: Option<&'a str>,
        /// Its release time, when dated.
        released: Option<DateTime<Utc>>,
        /// The security origin that offers it (apt).
        origin: Option<&'a str>,
    },
    /// An `ApprovedPatches` entry approved it.
    ApprovedPatches {
        /// The entry.
        entry: &'a str,
    },
    /// An `RejectedPatches` entry rejects it.
    RejectedPatches {
        /// The entry.
        entry: &'a str,
        /// The baseline's `RejectedPatchesAction`.
        action: RejectedAction,
    },
    /// A global filter dropped it.
    GlobalFilter {
        /// The filter key.
        key: FilterKey,
        /// The package's value for that key (`None`: it has none).
        value: Option<&'a str>,
    },
    /// A filter of rule `rule` did not pass.
    RuleFilter {
        /// The rule (1-based).
        rule: usize,
        /// The filter key.
        key: FilterKey,
        /// The package's value for that key (`None`: it has none).
        value: Option<&'a str>,
    },
    /// Released too recently for rule `rule`.
    #[serde(rename_all = "camelCase")]
    TooRecent {
        /// The rule (1-based).
        rule: usize,
        /// The release time used.
        released: DateTime<Utc>,
        /// Releases strictly before this time are approved.
        cutoff: DateTime<Utc>,
    },
    /// Rule `rule` approves security updates only (`EnableNonSecurity` is false).
    NonSecurity {
        /// The rule (1-based).
        rule: usize,
    },
    /// An `ApprovedPatches` entry matched, but `ApprovedPatchesEnableNonSecurity` is false and
    /// this is not a security update.
    ApprovedPatchesNonSecurity {
        /// The entry.
        entry: &'a str,
    },
    /// The baseline has no approval rules and the approved list does not name it.
    NoApprovalRules,
    /// No repository offers a version to judge.
    NoAvailableVersion,
    /// Installed by an earlier `NoReboot` install; the machine has not rebooted since.
    PendingReboot,
    /// The install override list leaves this update out.
    NotInOverrideList,
    /// The install override list names this update: it is installed whether or not the baseline
    /// approves it.
    InOverrideList,
    /// The approved install plan (`install --plan`) leaves this update out.
    NotInPlan,
    /// The approved install plan names this update at this version.
    InPlan,
    /// The administrator holds the package (dpkg hold, versionlock, zypper lock): an install
    /// leaves it alone.
    Held,
    /// The install's maintenance window ended before this update's batch could start.
    DeferredByWindow,
}

/// `time` as `%Y-%m-%d %H:%M:%SZ`, written from its fields (a report prints one per package,
/// and chrono's `format` parses its pattern each time); chrono's own formatting for what the
/// fields cannot say the same way (a year outside 0–9999, a leap second).
fn day(time: &DateTime<Utc>) -> String {
    use chrono::{Datelike as _, Timelike as _};
    let year = time.year();
    if !(0..=9999).contains(&year) || time.nanosecond() >= 1_000_000_000 {
        return time.format("%Y-%m-%d %H:%M:%SZ").to_string();
    }
    let mut text = String::with_capacity(20);
    let _ = write!(
        text,
        "{year:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    );
    text
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApprovedByRule {
                rule,
                advisory,
                released,
                origin,
            } => {
                write!(f, "approved by rule {rule}")?;
                let mut details = Vec::new();
                if let Some(advisory) = advisory {
                    details.push((*advisory).to_string());
                }
                if let Some(origin) = origin {
                    details.push(format!("from `{origin}`"));
                }
                if let Some(released) = released {
                    details.push(format!("released {}", day(released)));
                }
                if !details.is_empty() {
                    write!(f, " ({})", details.join(", "))?;
                }
                Ok(())
            }
            Self::ApprovedPatches { entry } => write!(f, "approved by ApprovedPatches `{entry}`"),
            Self::RejectedPatches { entry, action } => {
                write!(
                    f,
                    "rejected by RejectedPatches `{entry}` ({})",
                    action.as_str()
                )
            }
            Self::GlobalFilter { key, value } => write!(
                f,
                "global filter {key}: `{}` is not among its values",
                value.unwrap_or("(none)")
            ),
            Self::RuleFilter { rule, key, value } => write!(
                f,
                "rule {rule}: {key} `{}` is not among its values",
                value.unwrap_or("(none)")
            ),
            Self::TooRecent {
                rule,
                released,
                cutoff,
            } => write!(
                f,
                "rule {rule}: released {}, approves only releases before {}",
                day(released),
                day(cutoff)
            ),
            Self::NonSecurity { rule } => write!(
                f,
                "rule {rule}: not a security update and EnableNonSecurity is false"
            ),
            Self::ApprovedPatchesNonSecurity { entry } => write!(
                f,
                "ApprovedPatches `{entry}` matches, but not a security update and \
                 ApprovedPatchesEnableNonSecurity is false"
            ),
            Self::NoApprovalRules => f.write_str("the baseline has no approval rule for it"),
            Self::NoAvailableVersion => {
                f.write_str("no repository offers a version of it to approve")
            }
            Self::PendingReboot => {
                f.write_str("installed by a NoReboot install; the machine has not rebooted since")
            }
            Self::NotInOverrideList => f.write_str("not in the install override list"),
            Self::InOverrideList => f.write_str(
                "in the install override list, which installs it whatever the baseline says",
            ),
            Self::NotInPlan => f.write_str("not in the approved install plan"),
            Self::InPlan => f.write_str(
                "in the approved install plan, which installs exactly its targets",
            ),
            Self::Held => f.write_str("held by the administrator; an install leaves it alone"),
            Self::DeferredByWindow => f.write_str(
                "deferred: maintenance window (its batch would not have finished before the deadline)",
            ),
        }
    }
}

/// The decision for one package (one name and architecture). It refers into the inventory
/// and the baseline instead of copying from them; accessors give the reported values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageDecision<'a> {
    /// Name.
    pub name: &'a str,
    /// Architecture.
    pub arch: &'a str,
    /// The patch state.
    pub state: PatchState,
    /// The compliance level (`Severity` of the compliance item).
    pub compliance: ComplianceLevel,
    /// Whether an advisory of the approved version suggests a reboot.
    pub reboot_suggested: bool,
    installed: Option<&'a InstalledPackage>,
    approved: Option<&'a AvailableVersion>,
    /// The package manager (report text differs between yum, dnf and zypper).
    package_manager: PackageManagerKind,
    /// apt: a package of a foreign architecture.
    foreign: bool,
    /// apt: the stanza whose `Priority` is the reported PatchSeverity (the approved version, or
    /// the installed one as an archive offers it).
    shown: Option<&'a AvailableVersion>,
    /// The advisory whose classification and severity are reported (RPM, SUSE).
    advisory: Option<&'a Advisory>,
    /// apt: the approved version comes from a security origin.
    security: bool,
    basis: Basis<'a>,
}

impl<'a> PackageDecision<'a> {
    /// `name.arch`, the compliance item `Id`.
    pub fn id(&self) -> String {
        format!("{}.{}", self.display_name(), self.arch)
    }

    /// The name reports use: apt packages of a foreign architecture are `name:arch`, as
    /// python-apt (and so the payload) names them (`libc6:i386.i386`).
    pub fn display_name(&self) -> Cow<'a, str> {
        if self.foreign {
            Cow::Owned(format!("{}:{}", self.name, self.arch))
        } else {
            Cow::Borrowed(self.name)
        }
    }

    /// The installed version, if installed.
    pub fn installed_version(&self) -> Option<&'a str> {
        self.installed.map(|p| p.version.as_str())
    }

    /// The highest approved version, if any.
    pub fn approved_version(&self) -> Option<&'a str> {
        self.approved.map(|v| v.version.as_str())
    }

    /// The version the report shows: the installed one for `Installed*` states, the approved one
    /// for `Missing`, `Failed` and `NotApplicable`.
    pub fn version(&self) -> &'a str {
        let installed = self.installed_version();
        if self.state.shows_installed_version() {
            installed.unwrap_or("")
        } else {
            self.approved_version().or(installed).unwrap_or("")
        }
    }

    /// When the installed version was installed, if known.
    pub fn installed_time(&self) -> Option<DateTime<Utc>> {
        self.installed.and_then(|p| p.installed_time)
    }

    /// `Classification`: the advisory type with a capital first letter (`Security`, `Bugfix`, …)
    /// for RPM, the patch category as zypper writes it (`security`, `recommended`) for SUSE,
    /// `Security` or `""` for apt; `""` for `InstalledOther` and `InstalledRejected` (apt: the
    /// installed version's origin).
    pub fn classification(&self) -> Cow<'a, str> {
        if self.security {
            return Cow::Borrowed("Security");
        }
        match (self.advisory, self.package_manager) {
            (None, _) => Cow::Borrowed(""),
            (Some(a), PackageManagerKind::Zypper) => Cow::Borrowed(a.kind.trim()),
            (Some(a), _) => classification_of(&a.kind),
        }
    }

    /// `PatchSeverity`: the vendor severity (RPM, SUSE) or the Debian priority (apt).
    ///
    /// yum writes the notice's severity title-cased, `None` when it has none (as its payload);
    /// dnf and zypper as published (zypper in lower case).
    pub fn patch_severity(&self) -> Cow<'a, str> {
        if self.basis.apt {
            return Cow::Borrowed(match (self.shown, self.installed) {
                (Some(version), _) => version.priority.as_deref().unwrap_or(""),
                (None, Some(installed)) if self.state.shows_installed_version() => {
                    installed.priority.as_deref().unwrap_or("")
                }
                _ => "",
            });
        }
        match (self.advisory, self.package_manager) {
            (None, _) => Cow::Borrowed(""),
            (Some(a), PackageManagerKind::Yum) => match a.severity_text() {
                "" => Cow::Borrowed("None"),
                text => Cow::Owned(title_case(text)),
            },
            (Some(a), _) => Cow::Borrowed(a.severity_text()),
        }
    }

    /// The advisories of the approved version.
    pub fn advisory_ids(&self) -> &'a [compact_str::CompactString] {
        match (self.state, self.approved) {
            (PatchState::InstalledOther | PatchState::InstalledRejected, _) | (_, None) => &[],
            (_, Some(version)) => &version.advisories,
        }
    }
}

impl Serialize for PackageDecision<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("PackageDecision", 12)?;
        out.serialize_field("name", self.name)?;
        out.serialize_field("arch", self.arch)?;
        out.serialize_field("state", &self.state)?;
        out.serialize_field("installedVersion", &self.installed_version())?;
        out.serialize_field("version", self.version())?;
        out.serialize_field("approvedVersion", &self.approved_version())?;
        out.serialize_field("compliance", &self.compliance)?;
        out.serialize_field("classification", &self.classification())?;
        out.serialize_field("patchSeverity", &self.patch_severity())?;
        out.serialize_field("advisoryIds", self.advisory_ids())?;
        out.serialize_field("installedTime", &self.installed_time())?;
        out.serialize_field("rebootSuggested", &self.reboot_suggested)?;
        out.end()
    }
}

/// Python's `str.title()` for the words severities are made of: `important` → `Important`.
fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start = true;
    for c in text.chars() {
        if c.is_alphabetic() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

/// What explains a decision: the version whose verdict decided it, and the facts added after.
/// Reasons are rebuilt from it on demand, so the hot path allocates none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent facts about one decision, each read on its own"
)]
struct Basis<'a> {
    /// The approved version, or for `InstalledOther` the newest version judged.
    version: Option<&'a AvailableVersion>,
    /// The `RejectedPatches` entry that makes an installed package `InstalledRejected`.
    rejected_entry: Option<&'a str>,
    /// The installed version itself was judged (the payload's entry for the installed package).
    installed_itself: bool,
    /// Installed by a `NoReboot` install, reboot pending.
    pending_reboot: bool,
    /// An Install with an override list that leaves this update out.
    not_in_override_list: bool,
    /// An Install deferred this update to the next maintenance window.
    deferred: bool,
    /// The install override list names this update (it is installed whatever the baseline says).
    in_override_list: bool,
    /// The apt family (PatchSeverity is the Debian priority).
    apt: bool,
    /// The package's available versions: a range of [`Evaluation`]'s grouped versions.
    group: (u32, u32),
}

/// The per-state counts of an evaluation (the `AWS:PatchSummary` counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Counts {
    /// `InstalledCount`.
    pub installed: usize,
    /// `InstalledOtherCount`.
    pub installed_other: usize,
    /// `InstalledRejectedCount`.
    pub installed_rejected: usize,
    /// `InstalledPendingRebootCount`.
    pub installed_pending_reboot: usize,
    /// `NotApplicableCount`.
    pub not_applicable: usize,
    /// `MissingCount`.
    pub missing: usize,
    /// `FailedCount`.
    pub failed: usize,
    /// `CriticalNonCompliantCount`: non-compliant with compliance level CRITICAL.
    pub critical_non_compliant: usize,
    /// `SecurityNonCompliantCount`: non-compliant with classification Security.
    pub security_non_compliant: usize,
    /// `OtherNonCompliantCount`: non-compliant and neither of the above.
    pub other_non_compliant: usize,
}

/// One update an install applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlannedUpdate {
    /// Name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// The installed version.
    pub from_version: String,
    /// The exact version to install.
    pub version: String,
    /// Why it is in the plan.
    pub reason: String,
    /// Its compliance level (a maintenance window installs the most severe first).
    #[serde(default)]
    pub compliance: ComplianceLevel,
    /// Its classification (`Security` goes before the rest of its level).
    #[serde(default)]
    pub classification: String,
    /// Installing it asks for a reboot (an advisory says so, or it is a kernel, glibc, …):
    /// a maintenance window installs those together, last.
    #[serde(default)]
    pub reboot: bool,
}

/// The result of evaluating a baseline against an inventory.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation<'a> {
    /// The inventory's operating system.
    #[serde(serialize_with = "ser_os")]
    pub operating_system: OperatingSystem,
    /// The inventory's product.
    pub product: &'a str,
    /// The package manager.
    pub package_manager: PackageManagerKind,
    /// The baseline id reported.
    pub baseline_id: &'a str,
    /// The baseline name.
    pub baseline_name: &'a str,
    /// "Now".
    pub now: DateTime<Utc>,
    /// The operation.
    pub operation: Operation,
    /// Decisions in report order (state, then name, then arch).
    pub decisions: Vec<PackageDecision<'a>>,
    /// The judge that decided, kept to explain decisions on demand.
    #[serde(skip)]
    judge: Judge<'a>,
    /// Available versions grouped by package, newest first within a group.
    #[serde(skip)]
    grouped: Vec<&'a AvailableVersion>,
    /// The packages of the inventory's compact not-installed set the baseline approves a
    /// version of: NotApplicable, counted but not itemised.
    #[serde(skip)]
    not_installed_approved: usize,
    /// The override list is an approved install plan (`install --plan`): reasons say so.
    #[serde(skip)]
    from_plan: bool,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with signature"
)]
fn ser_os<S: serde::Serializer>(os: &OperatingSystem, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(os.as_aws())
}

impl<'a> Evaluation<'a> {
    /// Why `decision` is in its state, most decisive reason first.
    pub fn reasons(&self, decision: &PackageDecision<'a>) -> Vec<Reason<'a>> {
        let basis = decision.basis;
        let mut views = Vec::new();
        let mut reasons = match (basis.rejected_entry, basis.version, decision.installed) {
            (Some(entry), _, _) => vec![Reason::RejectedPatches {
                entry,
                action: RejectedAction::Block,
            }],
            (None, version, Some(installed)) if basis.installed_itself => {
                let offered = version.or(decision.shown);
                self.judge
                    .judge_installed(installed, offered, &mut views, true)
                    .reasons
            }
            (None, Some(version), _) => self.judge.judge(version, &mut views, true).reasons,
            (None, None, _) => Vec::new(),
        };
        if reasons.is_empty() {
            reasons.push(Reason::NoAvailableVersion);
        }
        if basis.pending_reboot {
            reasons.insert(0, Reason::PendingReboot);
        }
        if basis.not_in_override_list {
            reasons.push(if self.from_plan {
                Reason::NotInPlan
            } else {
                Reason::NotInOverrideList
            });
        }
        if basis.deferred {
            reasons.push(Reason::DeferredByWindow);
        }
        if basis.in_override_list {
            reasons.push(if self.from_plan {
                Reason::InPlan
            } else {
                Reason::InOverrideList
            });
        }
        if decision.installed.is_some_and(|p| p.held)
            && matches!(decision.state, PatchState::Missing | PatchState::Failed)
        {
            reasons.push(Reason::Held);
        }
        reasons
    }

    /// The newest offered version above the installed and the approved one, when only an
    /// approval rule's date condition keeps it from being approved (its `TooRecent` reason):
    /// what the passing of time alone will approve. `None` for packages not installed, for a
    /// newest version no rule refuses for its date alone (filters, security only), rejected,
    /// or already approved.
    pub fn held_by_date(&self, decision: &PackageDecision<'a>) -> Option<(&'a str, Reason<'a>)> {
        let installed = decision.installed?;
        let scheme = self.judge.family.version_scheme();
        let (start, end) = decision.basis.group;
        let newest = *self.grouped.get(start as usize..end as usize)?.first()?;
        let above = |version: &str| scheme.compare(&newest.version, version) == Ordering::Greater;
        if !above(&installed.version) || decision.approved.is_some_and(|a| !above(&a.version)) {
            return None;
        }
        if decision.basis.rejected_entry.is_some() {
            return None;
        }
        let mut views = Vec::new();
        let verdict = self.judge.judge(newest, &mut views, true);
        if verdict.approved {
            return None;
        }
        // A rule that refused it only for its date approves it once the cutoff passes it.
        verdict
            .reasons
            .into_iter()
            .find(|r| matches!(r, Reason::TooRecent { .. }))
            .map(|reason| (newest.version.as_str(), reason))
    }

    /// `CVEIds`: the CVEs that installing the target version fixes: those of every advisory of
    /// every version newer than the installed one, up to and including the target, approved or
    /// not (RPM, SUSE; `Missing` and `Failed` only; spec §5.3).
    pub fn cve_ids(&self, decision: &PackageDecision<'a>) -> Vec<&'a str> {
        let (Some(installed), Some(approved)) = (decision.installed, decision.approved) else {
            return Vec::new();
        };
        if decision.basis.apt || !matches!(decision.state, PatchState::Missing | PatchState::Failed)
        {
            return Vec::new();
        }
        let scheme = self.judge.family.version_scheme();
        let (start, end) = decision.basis.group;
        let mut cves: Vec<&'a str> = Vec::new();
        for candidate in &self.grouped[start as usize..end as usize] {
            if scheme.compare(&candidate.version, &installed.version) != Ordering::Greater
                || scheme.compare(&candidate.version, &approved.version) == Ordering::Greater
            {
                continue;
            }
            for index in self.judge.advisory_indexes(candidate) {
                cves.extend(self.judge.advisories[index].cves.iter().map(String::as_str));
            }
        }
        cves.sort_unstable();
        cves.dedup();
        cves
    }

    /// One line saying why `decision` is in its state.
    pub fn explanation(&self, decision: &PackageDecision<'a>) -> String {
        let reasons = self
            .reasons(decision)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let approved = decision.approved_version().unwrap_or("");
        match decision.state {
            PatchState::Missing => format!("{approved} is approved: {reasons}"),
            PatchState::Failed if decision.basis.in_override_list => {
                format!("{approved} is still not installed: {reasons}")
            }
            PatchState::Failed => {
                format!("{approved} is approved but still not installed: {reasons}")
            }
            PatchState::Installed => format!("at or above approved {approved}: {reasons}"),
            PatchState::NotApplicable => format!("not installed; {approved} {reasons}"),
            PatchState::InstalledOther => format!("no approved version: {reasons}"),
            PatchState::InstalledRejected | PatchState::InstalledPendingReboot => reasons,
        }
    }

    /// The per-state counts.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts {
            not_applicable: self.not_installed_approved,
            ..Counts::default()
        };
        for decision in &self.decisions {
            match decision.state {
                PatchState::Installed => counts.installed += 1,
                PatchState::InstalledOther => counts.installed_other += 1,
                PatchState::InstalledRejected => counts.installed_rejected += 1,
                PatchState::InstalledPendingReboot => counts.installed_pending_reboot += 1,
                PatchState::NotApplicable => counts.not_applicable += 1,
                PatchState::Missing => counts.missing += 1,
                PatchState::Failed => counts.failed += 1,
            }
            if decision.state.is_non_compliant() {
                let critical = decision.compliance == ComplianceLevel::Critical;
                let security = decision.classification().eq_ignore_ascii_case("security");
                counts.critical_non_compliant += usize::from(critical);
                counts.security_non_compliant += usize::from(security);
                counts.other_non_compliant += usize::from(!critical && !security);
            }
        }
        counts
    }

    /// True if and only if no package is non-compliant.
    pub fn is_compliant(&self) -> bool {
        !self.decisions.iter().any(|d| d.state.is_non_compliant())
    }

    /// `NonCompliantSeverity`: when something is non-compliant, the highest compliance level
    /// among the non-compliant packages, at least `INFORMATIONAL` (spec §4.5). As the payload
    /// computes it before pending-reboot packages are counted, InstalledPendingReboot packages
    /// do not count.
    pub fn non_compliant_severity(&self) -> Option<ComplianceLevel> {
        self.decisions
            .iter()
            .filter(|d| d.state.is_non_compliant() && d.state != PatchState::InstalledPendingReboot)
            .map(|d| d.compliance.max(ComplianceLevel::Informational))
            .max()
    }

    /// The updates an install applies: every `Missing` package at its approved version; with an
    /// override list instead the newest listed update of every installed package, whether or not
    /// the baseline approves it (spec §3.4, as the payload).
    pub fn install_plan(&self, override_list: Option<&InstallOverrideList>) -> Vec<PlannedUpdate> {
        let family = self.package_manager.family();
        let scheme = family.version_scheme();
        let plan = |d: &PackageDecision<'a>, version: &str, reason: String| PlannedUpdate {
            name: d.name.to_string(),
            arch: d.arch.to_string(),
            from_version: d.installed_version().unwrap_or_default().to_string(),
            version: version.to_string(),
            reason,
            compliance: d.compliance,
            classification: d.classification().into_owned(),
            reboot: d.reboot_suggested || crate::window::asks_for_reboot(family, d.name),
        };
        let Some(list) = override_list else {
            return self
                .decisions
                .iter()
                .filter(|d| d.state == PatchState::Missing && !d.installed.is_some_and(|p| p.held))
                .filter_map(|d| Some(plan(d, d.approved_version()?, self.explanation(d))))
                .collect();
        };
        // The override list overrides the baseline, as in the payload: the newest listed update
        // of every installed package, approved or not (held packages stay held).
        self.decisions
            .iter()
            .filter_map(|d| {
                let installed = d.installed.filter(|p| !p.held)?;
                let (start, end) = d.basis.group;
                self.grouped[start as usize..end as usize]
                    .iter()
                    .filter(|v| scheme.compare(&v.version, &installed.version) == Ordering::Greater)
                    .find_map(|v| {
                        let package = PackageRef {
                            name: d.name,
                            arch: d.arch,
                            version: &v.version,
                        };
                        let entry = list.matching_entry(family, package)?;
                        let listed = if list.plan {
                            "in the approved install plan".to_string()
                        } else {
                            format!(
                                "in the install override list (`{}`)",
                                InstallOverrideList::describe(entry)
                            )
                        };
                        let reason = if d.state == PatchState::Missing
                            && d.approved_version() == Some(v.version.as_str())
                        {
                            format!("{}; {listed}", self.explanation(d))
                        } else {
                            format!("{listed}, which installs it whatever the baseline says")
                        };
                        Some(plan(d, &v.version, reason))
                    })
            })
            .collect()
    }
}

/// An inventory and a baseline that cannot be evaluated together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvaluateError {
    /// The baseline is for another family of systems.
    #[error(
        "baseline `{baseline}` is for {baseline_os} systems, but the inventory comes from a \
         {package_manager} system ({inventory_os})"
    )]
    FamilyMismatch {
        /// The baseline's name.
        baseline: String,
        /// The baseline's operating system.
        baseline_os: OperatingSystem,
        /// The inventory's package manager.
        package_manager: &'static str,
        /// The inventory's operating system.
        inventory_os: OperatingSystem,
    },
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn days_are_written_as_chrono_writes_them() {
        let times = [
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.timestamp_opt(1_796_155_954, 0).unwrap(),
            Utc.timestamp_opt(1_796_155_954, 999_999_999).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(7, 2, 3, 4, 5, 6).unwrap(),
            // A leap second.
            Utc.timestamp_opt(1_483_228_799, 1_500_000_000).unwrap(),
        ];
        for time in times {
            assert_eq!(day(&time), time.format("%Y-%m-%d %H:%M:%SZ").to_string());
        }
    }
}
