//! The evaluation core, pure: (inventory, baseline, now) → one decision per package.
//!
//! Implements spec §2.2–§2.6 and §4 with the project decisions at the top of the spec:
//! rejected first; then the approved list (which wins over global filters); then global filters
//! and approval rules (OR'ed, each with its filters, date condition and non-security gate); the
//! highest approved version wins; the compliance level is the highest contributing level.
//! `InstalledRejected` only with `BLOCK`. Every decision carries the reasons that decided it.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::baseline::{Baseline, PatchFilter, RejectedAction};
use crate::fasthash::FastMap as FnvMap;
use crate::inventory::{
    Advisory, AvailableVersion, InstalledPackage, Inventory, classification_of,
};
use crate::model::{
    ComplianceLevel, Family, FilterKey, OperatingSystem, PackageManagerKind, PatchState,
};
use crate::pattern::{InstallOverrideList, PackageRef};
use crate::version::VersionScheme;

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
    /// The administrator holds the package (dpkg hold, versionlock, zypper lock): an install
    /// leaves it alone.
    Held,
}

fn day(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%SZ").to_string()
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
            Self::Held => f.write_str("held by the administrator; an install leaves it alone"),
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
    /// The install override list names this update (it is installed whatever the baseline says).
    in_override_list: bool,
    /// The apt family (PatchSeverity is the Debian priority).
    apt: bool,
    /// The package's available versions: a range of [`Evaluation`]'s grouped versions.
    group: (u32, u32),
}

/// The per-state counts of an evaluation (the `AWS:PatchSummary` counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
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
            reasons.push(Reason::NotInOverrideList);
        }
        if basis.in_override_list {
            reasons.push(Reason::InOverrideList);
        }
        if decision.installed.is_some_and(|p| p.held)
            && matches!(decision.state, PatchState::Missing | PatchState::Failed)
        {
            reasons.push(Reason::Held);
        }
        reasons
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
        let mut counts = Counts::default();
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
                        let listed = format!(
                            "in the install override list (`{}`)",
                            InstallOverrideList::describe(entry)
                        );
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

/// The metadata one approval decision looks at: a version seen through one of its advisories
/// (RPM, SUSE) or through its Packages stanza (apt).
struct View<'a> {
    advisory: Option<usize>,
    classification: Option<&'a str>,
    severity: Option<&'a str>,
    priority: Option<&'a str>,
    section: Option<&'a str>,
    released: Option<DateTime<Utc>>,
    security: bool,
    origin: Option<&'a str>,
    /// The installed package itself, without metadata (RPM, SUSE): approved only by a rule that
    /// approves packages without metadata (the payload's "installed package" entry).
    bare: bool,
}

impl View<'_> {
    /// A view without metadata: no advisory, no origin, released at `released`.
    fn without_metadata(released: Option<DateTime<Utc>>) -> Self {
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
struct Verdict<'a> {
    approved: bool,
    compliance: ComplianceLevel,
    /// The reasons: the approving one when approved, otherwise the first failure per rule.
    reasons: Vec<Reason<'a>>,
    /// The advisory that counted most (approved) or the first one.
    advisory: Option<usize>,
    security: bool,
}

#[derive(Clone)]
struct Judge<'a> {
    baseline: &'a Baseline,
    family: Family,
    package_manager: PackageManagerKind,
    product: &'a str,
    advisories: &'a [Advisory],
    /// Each advisory's type with a capital first letter, computed once.
    classifications: Vec<Cow<'static, str>>,
    advisory_index: FnvMap<&'a str, usize>,
    cutoffs: Vec<DateTime<Utc>>,
    medium_is_moderate: bool,
    native_architecture: Option<&'a str>,
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
    fn judges_installed_itself(&self) -> bool {
        self.package_manager != PackageManagerKind::Yum
    }

    fn advisory_indexes(&self, version: &'a AvailableVersion) -> impl Iterator<Item = usize> + '_ {
        version
            .advisories
            .iter()
            .filter_map(|id| self.advisory_index.get(id.as_str()).copied())
    }

    fn views(&self, version: &'a AvailableVersion, views: &mut Vec<View<'a>>) {
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

    /// The first filter of `filters` that `view` fails: its key and the view's value.
    fn failing_filter(
        &self,
        filters: &[PatchFilter],
        view: &View<'a>,
    ) -> Option<(FilterKey, Option<&'a str>)> {
        filters.iter().find_map(|filter| {
            let (passes, value) = match filter.key {
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
            };
            (!passes).then_some((filter.key, value))
        })
    }

    fn severity_passes(&self, filter: &PatchFilter, severity: Option<&str>) -> bool {
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
    fn judge(
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
        self.judge_views(package, version, views, want_reasons)
    }

    /// Judges the installed version itself, as the payload does on dnf, zypper and apt: on RPM
    /// and SUSE the advisories that list it (when a repository offers it) and the installed
    /// package without metadata, released at time 0; on apt the archives' stanza when one
    /// offers it, else dpkg's status entry (Priority, Section, no origin).
    fn judge_installed(
        &self,
        installed: &'a InstalledPackage,
        offered: Option<&'a AvailableVersion>,
        views: &mut Vec<View<'a>>,
        want_reasons: bool,
    ) -> Verdict<'a> {
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
        let package = PackageRef {
            name: &installed.name,
            arch: &installed.arch,
            version: &installed.version,
        };
        let first = offered.map_or(&[][..], |v| &v.advisories[..]);
        self.judge_views_with(package, first, views, want_reasons)
    }

    fn judge_views(
        &self,
        package: PackageRef<'a>,
        version: &'a AvailableVersion,
        views: &[View<'a>],
        want_reasons: bool,
    ) -> Verdict<'a> {
        self.judge_views_with(package, &version.advisories, views, want_reasons)
    }

    fn judge_views_with(
        &self,
        package: PackageRef<'a>,
        advisory_ids: &'a [compact_str::CompactString],
        views: &[View<'a>],
        want_reasons: bool,
    ) -> Verdict<'a> {
        let baseline = self.baseline;
        if let Some(entry) = baseline
            .rejected_patches
            .match_package(self.family, package)
        {
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
            };
        }
        let security = views.iter().any(|v| v.security);
        let has_metadata = match self.family {
            Family::Rpm => views.iter().any(|v| v.classification.is_some()),
            Family::Zypper => true,
            Family::Apt => security,
        };

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
        let listed = baseline
            .approved_patches
            .match_package(self.family, package)
            .or_else(|| {
                if self.family == Family::Apt || baseline.approved_patches.is_empty() {
                    return None;
                }
                views.iter().find_map(|v| {
                    let advisory = &self.advisories[v.advisory?];
                    std::iter::once(advisory.id.as_str())
                        .chain(advisory.cves.iter().map(String::as_str))
                        .chain(advisory.bugzillas.iter().map(String::as_str))
                        .find_map(|id| baseline.approved_patches.match_id(id))
                })
            });
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
                } else if self.family != Family::Zypper
                    && !rule.enable_non_security
                    && !(if self.family == Family::Apt {
                        view.security
                    } else {
                        has_metadata && !view.bare
                    })
                {
                    Some(Reason::NonSecurity { rule: number })
                } else if self.family == Family::Apt {
                    None
                } else {
                    let released = view.released.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
                    let cutoff = self.cutoffs[index];
                    (released >= cutoff).then_some(Reason::TooRecent {
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
            },
            _ => Verdict {
                approved: false,
                compliance: ComplianceLevel::Unspecified,
                reasons: failures,
                advisory: views.iter().find_map(|v| v.advisory),
                security,
            },
        }
    }
}

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
    group_ids.reserve(inventory.installed.len().max(inventory.available.len() / 2));
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
    let threads = if groups >= 20_000 {
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
        decisions,
        judge,
        grouped: ordered,
    })
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
            versions.sort_by(|a, b| scheme.compare(&b.version, &a.version));
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
    let installed_itself = judge.judges_installed_itself()
        && best.is_some()
        && installed.is_some()
        && best_version.is_none_or(|v| offered_installed.is_some_and(|o| std::ptr::eq(v, o)));
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
    if let Some(target) = override_target {
        decision.state = PatchState::Failed;
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
            if covered {
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
