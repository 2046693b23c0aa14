//! Wire format of a baseline: one set of serde types that reads both the API shape (PascalCase)
//! and the snapshot shape (camelCase, spec §1.3 key mapping) through aliases.

use serde::Deserialize;

/// Which of the two shapes a document is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// PascalCase, `GetPatchBaseline`.
    Api,
    /// camelCase inside `{"patchBaseline": …}`.
    Snapshot,
}

impl Shape {
    /// The JSON path of the baseline object.
    pub(crate) fn root(self) -> &'static str {
        match self {
            Self::Api => "$",
            Self::Snapshot => "$.patchBaseline",
        }
    }

    /// Rewrites a serde path (which uses our canonical API names) into this shape's names.
    pub(crate) fn rename_path(self, path: &str) -> String {
        if self == Self::Api {
            return path.to_string();
        }
        path.split('.')
            .map(|segment| {
                let (name, index) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
                format!("{}{index}", snapshot_key(name))
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// The snapshot-shape name of an API-shape key (spec §1.3 mapping).
fn snapshot_key(api: &str) -> &str {
    match api {
        "PatchFilterGroup" => "filterGroup",
        "PatchFilters" => "filters",
        "PatchRules" => "rules",
        "CreatedDate" => "createdTime",
        "ModifiedDate" => "modifiedTime",
        "BaselineId" => "baselineId",
        "Name" => "name",
        "OperatingSystem" => "operatingSystem",
        "Description" => "description",
        "GlobalFilters" => "globalFilters",
        "ApprovalRules" => "approvalRules",
        "ApprovedPatches" => "approvedPatches",
        "ApprovedPatchesComplianceLevel" => "approvedPatchesComplianceLevel",
        "ApprovedPatchesEnableNonSecurity" => "approvedPatchesEnableNonSecurity",
        "RejectedPatches" => "rejectedPatches",
        "RejectedPatchesAction" => "rejectedPatchesAction",
        "Sources" => "sources",
        "Products" => "products",
        "Configuration" => "configuration",
        "Key" => "key",
        "Values" => "values",
        "ComplianceLevel" => "complianceLevel",
        "ApproveAfterDays" => "approveAfterDays",
        "ApproveUntilDate" => "approveUntilDate",
        "EnableNonSecurity" => "enableNonSecurity",
        other => other,
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct BaselineDto {
    #[serde(rename = "BaselineId", alias = "baselineId")]
    pub(crate) baseline_id: Option<String>,
    #[serde(rename = "Name", alias = "name")]
    pub(crate) name: Option<String>,
    #[serde(rename = "OperatingSystem", alias = "operatingSystem")]
    pub(crate) operating_system: Option<String>,
    #[serde(rename = "Description", alias = "description")]
    pub(crate) description: Option<String>,
    #[serde(rename = "GlobalFilters", alias = "globalFilters")]
    pub(crate) global_filters: Option<FilterGroupDto>,
    #[serde(rename = "ApprovalRules", alias = "approvalRules")]
    pub(crate) approval_rules: Option<RuleGroupDto>,
    #[serde(rename = "ApprovedPatches", alias = "approvedPatches")]
    pub(crate) approved_patches: Option<Vec<String>>,
    #[serde(
        rename = "ApprovedPatchesComplianceLevel",
        alias = "approvedPatchesComplianceLevel"
    )]
    pub(crate) approved_patches_compliance_level: Option<String>,
    #[serde(
        rename = "ApprovedPatchesEnableNonSecurity",
        alias = "approvedPatchesEnableNonSecurity"
    )]
    pub(crate) approved_patches_enable_non_security: Option<bool>,
    #[serde(rename = "RejectedPatches", alias = "rejectedPatches")]
    pub(crate) rejected_patches: Option<Vec<String>>,
    #[serde(rename = "RejectedPatchesAction", alias = "rejectedPatchesAction")]
    pub(crate) rejected_patches_action: Option<String>,
    #[serde(rename = "Sources", alias = "sources")]
    pub(crate) sources: Option<Vec<SourceDto>>,
    #[serde(rename = "CreatedDate", alias = "createdTime")]
    pub(crate) created: Option<serde_json::Value>,
    #[serde(rename = "ModifiedDate", alias = "modifiedTime")]
    pub(crate) modified: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FilterGroupDto {
    #[serde(rename = "PatchFilters", alias = "filters")]
    pub(crate) filters: Option<Vec<FilterDto>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FilterDto {
    #[serde(rename = "Key", alias = "key")]
    pub(crate) key: Option<String>,
    #[serde(rename = "Values", alias = "values")]
    pub(crate) values: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RuleGroupDto {
    #[serde(rename = "PatchRules", alias = "rules")]
    pub(crate) rules: Option<Vec<RuleDto>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RuleDto {
    #[serde(rename = "PatchFilterGroup", alias = "filterGroup")]
    pub(crate) filter_group: Option<FilterGroupDto>,
    #[serde(rename = "ComplianceLevel", alias = "complianceLevel")]
    pub(crate) compliance_level: Option<String>,
    #[serde(rename = "ApproveAfterDays", alias = "approveAfterDays")]
    pub(crate) approve_after_days: Option<i64>,
    #[serde(rename = "ApproveUntilDate", alias = "approveUntilDate")]
    pub(crate) approve_until_date: Option<String>,
    #[serde(rename = "EnableNonSecurity", alias = "enableNonSecurity")]
    pub(crate) enable_non_security: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SourceDto {
    #[serde(rename = "Name", alias = "name")]
    pub(crate) name: Option<String>,
    #[serde(rename = "Products", alias = "products")]
    pub(crate) products: Option<Vec<String>>,
    #[serde(rename = "Configuration", alias = "configuration")]
    pub(crate) configuration: Option<String>,
}
