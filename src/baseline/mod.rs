//! The AWS patch baseline: its domain model, and loading it from either shape AWS uses.
//!
//! * The API shape (PascalCase) is what `aws ssm get-patch-baseline` prints and what
//!   `CreatePatchBaseline` and `BaselineOverride` take (spec §1.1).
//! * The snapshot shape (camelCase, wrapped in `patchBaseline`, epoch-second dates) is what the
//!   presigned URL of `GetDeployablePatchSnapshotForInstance` returns (spec §1.3).
//!
//! Loading applies the payload's defaults (spec §1.3) and validates everything AWS validates,
//! plus filter values; every error names the source, the JSON path and the bad value.

mod builtin;
mod dto;
pub mod sources;

pub use builtin::{BUILTIN_BASELINES, BuiltinBaseline, builtin_for, find_builtin};

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::model::{ComplianceLevel, Family, FilterKey, OperatingSystem, parse_date};
use crate::pattern::PatternList;
use dto::{BaselineDto, FilterDto, Shape};

/// Limits of the AWS API (spec §1.1).
const MAX_RULES: usize = 10;
const MAX_FILTERS: usize = 4;
const MAX_VALUES: usize = 20;
const MAX_PATCH_ENTRIES: usize = 50;
const MAX_APPROVE_AFTER_DAYS: i64 = 360;

/// A baseline that failed to load: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {path}: {message}")]
pub struct BaselineError {
    /// The file name or URL the baseline came from.
    pub source_name: String,
    /// The JSON path of the offending value (`$` for the document itself).
    pub path: String,
    /// What is wrong, naming the bad value.
    pub message: String,
}

/// What `RejectedPatchesAction` tells us to do with rejected packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectedAction {
    /// `ALLOW_AS_DEPENDENCY` (default): rejected packages may come in as dependencies.
    AllowAsDependency,
    /// `BLOCK`: rejected packages never come in, installed ones are `InstalledRejected`.
    Block,
}

impl RejectedAction {
    /// The AWS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllowAsDependency => "ALLOW_AS_DEPENDENCY",
            Self::Block => "BLOCK",
        }
    }
}

/// One `PatchFilter`: a key and the values that pass it (`*` passes everything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchFilter {
    /// The key.
    pub key: FilterKey,
    /// The values as written in the baseline.
    pub values: Vec<String>,
    lowered: Vec<String>,
    any: bool,
}

impl PatchFilter {
    /// Builds a filter; values are compared case-insensitively except where the caller says.
    pub fn new(key: FilterKey, values: Vec<String>) -> Self {
        let lowered = values.iter().map(|v| v.to_lowercase()).collect();
        let any = values.iter().any(|v| v == "*");
        Self {
            key,
            values,
            lowered,
            any,
        }
    }

    /// True if and only if the filter has the `*` value.
    pub fn matches_anything(&self) -> bool {
        self.any
    }

    /// True if and only if `value` passes, comparing case-sensitively.
    pub fn passes_exact(&self, value: &str) -> bool {
        self.any || self.values.iter().any(|v| v == value)
    }

    /// True if and only if `value` (any case) passes.
    pub fn passes_ignore_case(&self, value: &str) -> bool {
        self.any || self.lowered.iter().any(|v| v.eq_ignore_ascii_case(value))
    }
}

/// When an approval rule approves a release: after a delay, or up to a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApproveAfter {
    /// `ApproveAfterDays`: released more than this many days before now.
    Days(u32),
    /// `ApproveUntilDate`: released on or before this date (UTC).
    Until(NaiveDate),
}

impl ApproveAfter {
    /// The cutoff: a release is approved if and only if it happened strictly before it
    /// (spec §2.2: `now - days`, or the day after `ApproveUntilDate` at 00:00 UTC).
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Days(days) => now - chrono::Duration::days(i64::from(days)),
            Self::Until(date) => date
                .succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map_or(DateTime::<Utc>::MAX_UTC, |d| d.and_utc()),
        }
    }
}

impl fmt::Display for ApproveAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Days(days) => write!(f, "ApproveAfterDays {days}"),
            Self::Until(date) => write!(f, "ApproveUntilDate {date}"),
        }
    }
}

/// One approval rule (`PatchRule`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRule {
    /// The rule's filters, all of which must pass.
    pub filters: Vec<PatchFilter>,
    /// The compliance level given to what it approves.
    pub compliance: ComplianceLevel,
    /// The date condition.
    pub approve: ApproveAfter,
    /// `EnableNonSecurity`: also approve packages without security metadata.
    pub enable_non_security: bool,
}

/// A custom repository of the baseline (`Sources`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchSource {
    /// The repository name.
    pub name: String,
    /// Products it applies to.
    pub products: Vec<String>,
    /// The repository configuration (a `.repo` body or `deb` lines).
    pub configuration: String,
}

/// A validated patch baseline.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Filter values outside the documented vocabulary of the operating system (spec §2.1).
    /// AWS accepts them and its engine matches no package with them, and so do we; `scan`,
    /// `install` and `run` warn, `baseline validate` reports them as errors.
    pub unknown_values: Vec<BaselineError>,
    /// `BaselineId` (an ARN is reduced to its `pb-…` id); empty when the file has none.
    pub id: String,
    /// `Name`; empty when the file has none.
    pub name: String,
    /// `OperatingSystem`; never Windows or macOS.
    pub operating_system: OperatingSystem,
    /// `Description`.
    pub description: String,
    /// `GlobalFilters`.
    pub global_filters: Vec<PatchFilter>,
    /// `ApprovalRules`.
    pub rules: Vec<ApprovalRule>,
    /// `ApprovedPatches`.
    pub approved_patches: PatternList,
    /// `ApprovedPatchesComplianceLevel`.
    pub approved_compliance: ComplianceLevel,
    /// `ApprovedPatchesEnableNonSecurity`.
    pub approved_enable_non_security: bool,
    /// `RejectedPatches`.
    pub rejected_patches: PatternList,
    /// `RejectedPatchesAction`.
    pub rejected_action: RejectedAction,
    /// `Sources`.
    pub sources: Vec<PatchSource>,
    /// The patch group of a snapshot (`""` when none).
    pub patch_group: String,
}

impl Baseline {
    /// The rule family of the baseline's operating system.
    pub fn family(&self) -> Family {
        self.operating_system.family().unwrap_or(Family::Rpm)
    }

    /// The SHA-256 (hex) of what the baseline decides with: operating system, global filters,
    /// rules, the approved and rejected lists with their options, and the sources, in a fixed
    /// form. Its id, name, description and patch group do not count, nor how the file was
    /// written (API or snapshot shape, key order, spacing), so the same baseline fetched as a
    /// snapshot and read from a file has the same fingerprint; any change to a rule does not.
    pub fn fingerprint(&self) -> String {
        let filters = |filters: &[PatchFilter]| -> Vec<serde_json::Value> {
            filters
                .iter()
                .map(|f| serde_json::json!([f.key.as_str(), f.values]))
                .collect()
        };
        let rules: Vec<serde_json::Value> = self
            .rules
            .iter()
            .map(|r| {
                serde_json::json!([
                    filters(&r.filters),
                    r.compliance.as_str(),
                    r.approve.to_string(),
                    r.enable_non_security
                ])
            })
            .collect();
        let sources: Vec<serde_json::Value> = self
            .sources
            .iter()
            .map(|s| serde_json::json!([s.name, s.products, s.configuration]))
            .collect();
        let canonical = serde_json::json!([
            1,
            self.operating_system.as_aws(),
            filters(&self.global_filters),
            rules,
            self.approved_patches.entries().collect::<Vec<_>>(),
            self.approved_compliance.as_str(),
            self.approved_enable_non_security,
            self.rejected_patches.entries().collect::<Vec<_>>(),
            self.rejected_action.as_str(),
            sources,
        ]);
        crate::report::sha256_hex(canonical.to_string().as_bytes())
    }

    /// The id to report as `BaselineId`/`PatchBaselineId`: the id, or the name when there is none.
    pub fn report_id(&self) -> &str {
        if self.id.is_empty() {
            &self.name
        } else {
            &self.id
        }
    }

    /// Loads a baseline from JSON text in either shape; `source_name` names it in errors.
    pub fn from_json(text: &str, source_name: &str) -> Result<Self, BaselineError> {
        let error = |path: &str, message: String| BaselineError {
            source_name: source_name.to_string(),
            path: path.to_string(),
            message,
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            error(
                &format!("line {} column {}", e.line(), e.column()),
                format!("not valid JSON: {e}"),
            )
        })?;
        let (shape, body) = match &value {
            serde_json::Value::Object(map) if map.contains_key("patchBaseline") => {
                (Shape::Snapshot, &map["patchBaseline"])
            }
            serde_json::Value::Object(_) => (Shape::Api, &value),
            serde_json::Value::Array(_) => {
                return Err(error(
                    "$",
                    "is a JSON array; a baseline file holds one baseline object (a BaselineOverride \
                     list must be given to `run --baseline-override`)"
                        .into(),
                ));
            }
            other => {
                return Err(error(
                    "$",
                    format!("expected a baseline object, found {}", json_kind(other)),
                ));
            }
        };
        let root = shape.root();
        if body.is_null() {
            return Err(error(
                root,
                "`patchBaseline` is null: not a valid snapshot".into(),
            ));
        }
        let dto: BaselineDto = serde_path_to_error::deserialize(body).map_err(|e| {
            let inner = e.path().to_string();
            let path = if inner == "." || inner.is_empty() {
                root.to_string()
            } else {
                format!("{root}.{}", shape.rename_path(&inner))
            };
            error(&path, e.into_inner().to_string())
        })?;
        let nothing = dto.name.is_none()
            && dto.baseline_id.is_none()
            && dto.operating_system.is_none()
            && dto.approval_rules.is_none()
            && dto.global_filters.is_none()
            && dto.approved_patches.is_none()
            && dto.rejected_patches.is_none();
        if nothing {
            return Err(error(
                root,
                "not a patch baseline: none of Name, BaselineId, OperatingSystem, ApprovalRules, \
                 GlobalFilters, ApprovedPatches, RejectedPatches is present"
                    .into(),
            ));
        }
        let patch_group = match &value {
            serde_json::Value::Object(map) => map
                .get("patchGroup")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        };
        Validator {
            shape,
            error: &error,
            unknown: std::cell::RefCell::default(),
        }
        .build(dto, patch_group)
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The allowed values of a filter key for a family, `None` when any string is allowed
/// (spec §2.1, "Allowed values").
fn allowed_values(family: Family, key: FilterKey) -> Option<&'static [&'static str]> {
    match (family, key) {
        (_, FilterKey::Product | FilterKey::Section) => None,
        (Family::Rpm, FilterKey::Classification) => Some(&[
            "Security",
            "Bugfix",
            "Enhancement",
            "Recommended",
            "Newpackage",
        ]),
        (Family::Zypper, FilterKey::Classification) => Some(&[
            "Security",
            "Recommended",
            "Optional",
            "Feature",
            "Document",
            "Yast",
        ]),
        (Family::Rpm, FilterKey::Severity) => {
            Some(&["Critical", "Important", "Medium", "Moderate", "Low", "None"])
        }
        (Family::Zypper, FilterKey::Severity) => {
            Some(&["Critical", "Important", "Moderate", "Low", "None"])
        }
        (Family::Apt, FilterKey::Priority) => {
            Some(&["Required", "Important", "Standard", "Optional", "Extra"])
        }
        // Keys not valid for the family are refused before values are looked at.
        _ => Some(&[]),
    }
}

struct Validator<'e> {
    shape: Shape,
    error: &'e dyn Fn(&str, String) -> BaselineError,
    /// Filter values outside the documented vocabulary, kept (see [`Baseline::unknown_values`]).
    unknown: std::cell::RefCell<Vec<BaselineError>>,
}

impl Validator<'_> {
    fn path(&self, api: &str, snapshot: &str) -> String {
        format!(
            "{}.{}",
            self.shape.root(),
            if self.shape == Shape::Api {
                api
            } else {
                snapshot
            }
        )
    }

    fn build(&self, dto: BaselineDto, patch_group: String) -> Result<Baseline, BaselineError> {
        let os_path = self.path("OperatingSystem", "operatingSystem");
        let os_text = dto.operating_system.as_deref().unwrap_or("WINDOWS");
        let operating_system = OperatingSystem::from_aws(os_text).ok_or_else(|| {
            (self.error)(
                &os_path,
                format!(
                    "unknown OperatingSystem `{os_text}` (expected one of {})",
                    crate::model::OPERATING_SYSTEMS
                        .iter()
                        .map(|(_, n)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        let Some(family) = operating_system.family() else {
            let implied = if dto.operating_system.is_none() {
                " (no OperatingSystem given; AWS defaults to WINDOWS)"
            } else {
                ""
            };
            return Err((self.error)(
                &os_path,
                format!(
                    "`{os_text}` baselines are not supported: patch-baseline evaluates Linux \
                     baselines only{implied}"
                ),
            ));
        };

        let global_filters = self.filters(
            family,
            dto.global_filters
                .and_then(|g| g.filters)
                .unwrap_or_default(),
            &self.path("GlobalFilters.PatchFilters", "globalFilters.filters"),
        )?;

        let rules_dto = dto.approval_rules.and_then(|r| r.rules).unwrap_or_default();
        let rules_path = self.path("ApprovalRules.PatchRules", "approvalRules.rules");
        if rules_dto.len() > MAX_RULES {
            return Err((self.error)(
                &rules_path,
                format!(
                    "{} approval rules; AWS allows at most {MAX_RULES}",
                    rules_dto.len()
                ),
            ));
        }
        let mut rules = Vec::with_capacity(rules_dto.len());
        for (index, rule) in rules_dto.into_iter().enumerate() {
            let rule_path = format!("{rules_path}[{index}]");
            let group_path = format!(
                "{rule_path}.{}",
                if self.shape == Shape::Api {
                    "PatchFilterGroup.PatchFilters"
                } else {
                    "filterGroup.filters"
                }
            );
            let filters = self.filters(
                family,
                rule.filter_group
                    .and_then(|g| g.filters)
                    .unwrap_or_default(),
                &group_path,
            )?;
            let compliance = self.compliance(
                rule.compliance_level.as_deref(),
                &format!(
                    "{rule_path}.{}",
                    self.key("ComplianceLevel", "complianceLevel")
                ),
            )?;
            let approve = self.approve_after(
                rule.approve_after_days,
                rule.approve_until_date.as_deref(),
                &rule_path,
            )?;
            rules.push(ApprovalRule {
                filters,
                compliance,
                approve,
                enable_non_security: rule.enable_non_security.unwrap_or(false),
            });
        }

        let approved_patches = self.patch_list(
            &dto.approved_patches.unwrap_or_default(),
            &self.path("ApprovedPatches", "approvedPatches"),
        )?;
        let rejected_patches = self.patch_list(
            &dto.rejected_patches.unwrap_or_default(),
            &self.path("RejectedPatches", "rejectedPatches"),
        )?;
        let approved_compliance = self.compliance(
            dto.approved_patches_compliance_level.as_deref(),
            &self.path(
                "ApprovedPatchesComplianceLevel",
                "approvedPatchesComplianceLevel",
            ),
        )?;
        let action_path = self.path("RejectedPatchesAction", "rejectedPatchesAction");
        let rejected_action = match dto.rejected_patches_action.as_deref() {
            None | Some("ALLOW_AS_DEPENDENCY") => RejectedAction::AllowAsDependency,
            Some("BLOCK") => RejectedAction::Block,
            Some(other) => {
                return Err((self.error)(
                    &action_path,
                    format!(
                        "unknown RejectedPatchesAction `{other}` (expected ALLOW_AS_DEPENDENCY or BLOCK)"
                    ),
                ));
            }
        };
        let sources = self.sources(dto.sources.unwrap_or_default())?;
        let id = dto.baseline_id.unwrap_or_default();
        let id = match id.rsplit_once("patchbaseline/") {
            Some((_, short)) => short.to_string(),
            None => id,
        };
        for (field, api, snapshot) in [
            (&dto.created, "CreatedDate", "createdTime"),
            (&dto.modified, "ModifiedDate", "modifiedTime"),
        ] {
            self.check_timestamp(field.as_ref(), &self.path(api, snapshot))?;
        }
        Ok(Baseline {
            id,
            name: dto.name.unwrap_or_default(),
            operating_system,
            description: dto.description.unwrap_or_default(),
            global_filters,
            rules,
            approved_patches,
            approved_compliance,
            approved_enable_non_security: dto.approved_patches_enable_non_security.unwrap_or(false),
            rejected_patches,
            rejected_action,
            sources,
            patch_group,
            unknown_values: self.unknown.take(),
        })
    }

    fn key<'k>(&self, api: &'k str, snapshot: &'k str) -> &'k str {
        if self.shape == Shape::Api {
            api
        } else {
            snapshot
        }
    }

    fn filters(
        &self,
        family: Family,
        filters: Vec<FilterDto>,
        path: &str,
    ) -> Result<Vec<PatchFilter>, BaselineError> {
        if filters.len() > MAX_FILTERS {
            return Err((self.error)(
                path,
                format!(
                    "{} filters; AWS allows at most {MAX_FILTERS} per group",
                    filters.len()
                ),
            ));
        }
        let mut out: Vec<PatchFilter> = Vec::with_capacity(filters.len());
        for (index, filter) in filters.into_iter().enumerate() {
            let here = format!("{path}[{index}]");
            let key_path = format!("{here}.{}", self.key("Key", "key"));
            let key_text = filter.key.unwrap_or_default();
            let valid = family.filter_keys();
            let key = FilterKey::parse(&key_text)
                .filter(|k| valid.contains(k))
                .ok_or_else(|| {
                    (self.error)(
                        &key_path,
                        format!(
                            "filter key `{key_text}` is not valid for this operating system \
                             (valid: {})",
                            valid
                                .iter()
                                .map(|k| k.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?;
            if out.iter().any(|f| f.key == key) {
                return Err((self.error)(
                    &key_path,
                    format!("filter key `{key_text}` appears twice in one group"),
                ));
            }
            let values_path = format!("{here}.{}", self.key("Values", "values"));
            let values = filter.values.unwrap_or_default();
            if values.is_empty() || values.len() > MAX_VALUES {
                return Err((self.error)(
                    &values_path,
                    format!("{} values; AWS requires 1 to {MAX_VALUES}", values.len()),
                ));
            }
            let allowed = allowed_values(family, key);
            for (vi, value) in values.iter().enumerate() {
                let value_path = format!("{values_path}[{vi}]");
                if value.is_empty() || value.chars().count() > 64 {
                    return Err((self.error)(
                        &value_path,
                        format!("`{value}` must be 1 to 64 characters"),
                    ));
                }
                if let Some(allowed) = allowed
                    && value != "*"
                    && !allowed.iter().any(|a| a.eq_ignore_ascii_case(value))
                {
                    // The service accepted it (real baselines have CLASSIFICATION `Critical` on
                    // AL2): it is kept and, as in AWS's engine, matches no package.
                    self.unknown.borrow_mut().push((self.error)(
                        &value_path,
                        format!(
                            "`{value}` is not a {key} value for this operating system \
                             (valid: {}, or *)",
                            allowed.join(", ")
                        ),
                    ));
                }
            }
            out.push(PatchFilter::new(key, values));
        }
        Ok(out)
    }

    fn compliance(&self, text: Option<&str>, path: &str) -> Result<ComplianceLevel, BaselineError> {
        match text {
            None => Ok(ComplianceLevel::Unspecified),
            Some(text) => ComplianceLevel::parse(text).ok_or_else(|| {
                (self.error)(
                    path,
                    format!(
                        "unknown ComplianceLevel `{text}` (expected CRITICAL, HIGH, MEDIUM, LOW, \
                         INFORMATIONAL or UNSPECIFIED)"
                    ),
                )
            }),
        }
    }

    fn approve_after(
        &self,
        days: Option<i64>,
        until: Option<&str>,
        rule_path: &str,
    ) -> Result<ApproveAfter, BaselineError> {
        let days_path = format!(
            "{rule_path}.{}",
            self.key("ApproveAfterDays", "approveAfterDays")
        );
        let until_path = format!(
            "{rule_path}.{}",
            self.key("ApproveUntilDate", "approveUntilDate")
        );
        match (days, until) {
            (Some(_), Some(_)) => Err((self.error)(
                rule_path,
                "gives both ApproveAfterDays and ApproveUntilDate; exactly one is allowed".into(),
            )),
            // The payload defaults a missing approveAfterDays to 0 in snapshots (spec §1.3).
            (None, None) if self.shape == Shape::Snapshot => Ok(ApproveAfter::Days(0)),
            (None, None) => Err((self.error)(
                rule_path,
                "gives neither ApproveAfterDays nor ApproveUntilDate; exactly one is required"
                    .into(),
            )),
            (Some(days), None) => u32::try_from(days)
                .ok()
                .filter(|d| i64::from(*d) <= MAX_APPROVE_AFTER_DAYS)
                .map(ApproveAfter::Days)
                .ok_or_else(|| {
                    (self.error)(
                        &days_path,
                        format!("`{days}` is outside 0–{MAX_APPROVE_AFTER_DAYS}"),
                    )
                }),
            (None, Some(date)) => NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .ok()
                .filter(|_| date.len() == 10)
                .map(ApproveAfter::Until)
                .ok_or_else(|| {
                    (self.error)(
                        &until_path,
                        format!("`{date}` is not a date of the form YYYY-MM-DD"),
                    )
                }),
        }
    }

    fn patch_list(&self, entries: &[String], path: &str) -> Result<PatternList, BaselineError> {
        if entries.len() > MAX_PATCH_ENTRIES {
            return Err((self.error)(
                path,
                format!(
                    "{} entries; AWS allows at most {MAX_PATCH_ENTRIES}",
                    entries.len()
                ),
            ));
        }
        for (index, entry) in entries.iter().enumerate() {
            if entry.trim().is_empty() || entry.chars().count() > 100 {
                return Err((self.error)(
                    &format!("{path}[{index}]"),
                    format!("`{entry}` must be 1 to 100 characters"),
                ));
            }
        }
        Ok(PatternList::new(entries))
    }

    fn sources(&self, sources: Vec<dto::SourceDto>) -> Result<Vec<PatchSource>, BaselineError> {
        let path = self.path("Sources", "sources");
        if sources.len() > 20 {
            return Err((self.error)(
                &path,
                format!("{} sources; AWS allows at most 20", sources.len()),
            ));
        }
        let mut out = Vec::with_capacity(sources.len());
        for (index, source) in sources.into_iter().enumerate() {
            let name = source.name.unwrap_or_default();
            let valid_name = (3..=50).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
            if !valid_name {
                return Err((self.error)(
                    &format!("{path}[{index}].{}", self.key("Name", "name")),
                    format!("source name `{name}` must match ^[a-zA-Z0-9_\\-.]{{3,50}}$"),
                ));
            }
            let configuration = source.configuration.unwrap_or_default();
            if configuration.is_empty() || configuration.len() > 1024 {
                return Err((self.error)(
                    &format!(
                        "{path}[{index}].{}",
                        self.key("Configuration", "configuration")
                    ),
                    "configuration must be 1 to 1024 characters".into(),
                ));
            }
            out.push(PatchSource {
                name,
                products: source.products.unwrap_or_default(),
                configuration,
            });
        }
        Ok(out)
    }

    fn check_timestamp(
        &self,
        value: Option<&serde_json::Value>,
        path: &str,
    ) -> Result<(), BaselineError> {
        let readable = match value {
            None | Some(serde_json::Value::Null) => true,
            Some(serde_json::Value::Number(n)) => n
                .as_f64()
                .and_then(|s| parse_date(&s.to_string()))
                .is_some(),
            Some(serde_json::Value::String(s)) => parse_date(s).is_some(),
            Some(_) => false,
        };
        if readable {
            Ok(())
        } else {
            Err((self.error)(
                path,
                format!(
                    "`{}` is not a timestamp",
                    value.map(ToString::to_string).unwrap_or_default()
                ),
            ))
        }
    }
}
