//! The SSM side of `patch-baseline run` (the PatchLinux step of an SSM Command document):
//! the document's parameters checked with its own patterns (spec §6), the `BaselineOverride`
//! document (a JSON array; the entry for the local OS; codes 160–167), the content-hash rules of
//! PutInventory (spec §5.4), and every error's exit code (spec §8.2). The AWS calls themselves
//! are in [`aws`]; this module's logic is pure.

use serde_json::Value;

use crate::model::OperatingSystem;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(not(feature = "aws"))]
#[path = "no_aws.rs"]
pub mod aws;

/// The instance id and region the SSM agent gives a command (`AWS_SSM_INSTANCE_ID`,
/// `AWS_SSM_REGION_NAME`, else `AWS_REGION`), each `None` when unset or empty.
pub fn identity_from_env<S: std::hash::BuildHasher>(
    env: &std::collections::HashMap<String, String, S>,
) -> (Option<&String>, Option<&String>) {
    let id = env.get("AWS_SSM_INSTANCE_ID").filter(|v| !v.is_empty());
    let region = env
        .get("AWS_SSM_REGION_NAME")
        .or_else(|| env.get("AWS_REGION"))
        .filter(|v| !v.is_empty());
    (id, region)
}

/// An error of the SSM integration, with its exit code (spec §8.2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SsmError {
    /// The exit code.
    pub code: u8,
    /// One line: what and where.
    pub message: String,
}

impl SsmError {
    /// An error with `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// 143: the snapshot could not be had (network, unexpected answer).
pub const SNAPSHOT_ERROR: u8 = 143;
/// 144: GetDeployablePatchSnapshotForInstance answered with an error.
pub const SNAPSHOT_API_ERROR: u8 = 144;
/// 145: GetDeployablePatchSnapshotForInstance was refused (access denied).
pub const SNAPSHOT_ACCESS_DENIED: u8 = 145;
/// 146: the service does not support this operating system.
pub const SNAPSHOT_UNSUPPORTED_OS: u8 = 146;
/// 148: no instance id or region (not in the environment, IMDS unreachable).
pub const NO_INSTANCE_METADATA: u8 = 148;
/// 149: PutInventory failed.
pub const PUT_INVENTORY_ERROR: u8 = 149;
/// 150: the snapshot document is not a valid snapshot.
pub const SNAPSHOT_INVALID: u8 = 150;
/// 160: the BaselineOverride document may not be read (access denied).
pub const BASELINE_OVERRIDE_ACCESS_DENIED: u8 = 160;
/// 161: the BaselineOverride document is not a JSON array of baselines.
pub const BASELINE_OVERRIDE_INVALID: u8 = 161;
/// 162: the BaselineOverride document could not be downloaded.
pub const BASELINE_OVERRIDE_DOWNLOAD_ERROR: u8 = 162;
/// 163: the BaselineOverride document has no baseline for this OS.
pub const BASELINE_OVERRIDE_MISSING_OS: u8 = 163;
/// 165: the BaselineOverride document has more than one baseline for this OS.
pub const BASELINE_OVERRIDE_MULTIPLE: u8 = 165;
/// 166: the local OS cannot be determined for BaselineOverride.
pub const BASELINE_OVERRIDE_UNSUPPORTED_OS: u8 = 166;
/// 167: BaselineOverride and InstallOverrideList were both given.
pub const BASELINE_OVERRIDE_AND_INSTALL_OVERRIDE: u8 = 167;

/// Every code of this module with its meaning, for docs/exit-codes.md and `exit`.
pub const CODES: &[(u8, &str)] = &[
    (
        SNAPSHOT_ERROR,
        "run: the patch snapshot could not be had (network error, unexpected answer)",
    ),
    (
        SNAPSHOT_API_ERROR,
        "run: GetDeployablePatchSnapshotForInstance answered with an error",
    ),
    (
        SNAPSHOT_ACCESS_DENIED,
        "run: GetDeployablePatchSnapshotForInstance was refused (access denied)",
    ),
    (
        SNAPSHOT_UNSUPPORTED_OS,
        "run: Patch Manager does not support this operating system",
    ),
    (
        NO_INSTANCE_METADATA,
        "run: no instance id or region (AWS_SSM_INSTANCE_ID/AWS_SSM_REGION_NAME unset and IMDS unreachable)",
    ),
    (PUT_INVENTORY_ERROR, "run: PutInventory failed"),
    (
        SNAPSHOT_INVALID,
        "run: the downloaded snapshot is not a valid snapshot document",
    ),
    (
        BASELINE_OVERRIDE_ACCESS_DENIED,
        "run: the BaselineOverride document may not be read (access denied)",
    ),
    (
        BASELINE_OVERRIDE_INVALID,
        "run: the BaselineOverride document is not a JSON array of baselines",
    ),
    (
        BASELINE_OVERRIDE_DOWNLOAD_ERROR,
        "run: the BaselineOverride document could not be downloaded",
    ),
    (
        BASELINE_OVERRIDE_MISSING_OS,
        "run: the BaselineOverride document has no baseline for this OS",
    ),
    (
        BASELINE_OVERRIDE_MULTIPLE,
        "run: the BaselineOverride document has more than one baseline for this OS",
    ),
    (
        BASELINE_OVERRIDE_UNSUPPORTED_OS,
        "run: the local OS cannot be determined for BaselineOverride",
    ),
    (
        BASELINE_OVERRIDE_AND_INSTALL_OVERRIDE,
        "run: BaselineOverride and InstallOverrideList were both given",
    ),
];

/// Whether `text` is a SnapshotId the document accepts: empty, or a UUID
/// (`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`).
pub fn valid_snapshot_id(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    text.is_empty()
        || (groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit())))
}

/// Whether `text` is an InstallOverrideList/BaselineOverride the document accepts: empty,
/// `https://…`, or `s3://BUCKET/KEY` (`(^$)|^https://.+$|^s3://([^/]+)/(.*?([^/]+))$`).
pub fn valid_override_url(text: &str) -> bool {
    if text.is_empty() {
        return true;
    }
    if let Some(rest) = text.strip_prefix("https://") {
        return !rest.is_empty() && !rest.contains('\n');
    }
    text.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(bucket, key)| {
            !bucket.is_empty() && !key.is_empty() && !key.ends_with('/') && !key.contains('\n')
        })
}

/// Picks the baseline for `os` from a BaselineOverride document (a JSON array of
/// GetPatchBaseline-shaped objects), as the fields GetDeployablePatchSnapshotForInstance takes.
pub fn select_override(text: &str, source: &str, os: OperatingSystem) -> Result<Value, SsmError> {
    let document: Value = serde_json::from_str(text).map_err(|e| {
        SsmError::new(
            BASELINE_OVERRIDE_INVALID,
            format!("BaselineOverride {source}: not JSON: {e}"),
        )
    })?;
    let Value::Array(entries) = document else {
        return Err(SsmError::new(
            BASELINE_OVERRIDE_INVALID,
            format!("BaselineOverride {source}: not a JSON array of baselines"),
        ));
    };
    let wanted = os.to_string();
    let mut found: Vec<&serde_json::Map<String, Value>> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let Some(object) = entry.as_object() else {
            return Err(SsmError::new(
                BASELINE_OVERRIDE_INVALID,
                format!("BaselineOverride {source}: [{index}] is not an object"),
            ));
        };
        let Some(entry_os) = object.get("OperatingSystem").and_then(Value::as_str) else {
            return Err(SsmError::new(
                BASELINE_OVERRIDE_INVALID,
                format!("BaselineOverride {source}: [{index}] has no OperatingSystem"),
            ));
        };
        if entry_os == wanted {
            found.push(object);
        }
    }
    match found.as_slice() {
        [] => Err(SsmError::new(
            BASELINE_OVERRIDE_MISSING_OS,
            format!("BaselineOverride {source}: no baseline for {wanted}"),
        )),
        [one] => {
            // The members GetDeployablePatchSnapshotForInstance's BaselineOverride takes.
            const FORWARDED: &[&str] = &[
                "OperatingSystem",
                "GlobalFilters",
                "ApprovalRules",
                "ApprovedPatches",
                "ApprovedPatchesComplianceLevel",
                "ApprovedPatchesEnableNonSecurity",
                "RejectedPatches",
                "RejectedPatchesAction",
                "Sources",
            ];
            Ok(Value::Object(
                one.iter()
                    .filter(|(key, _)| FORWARDED.contains(&key.as_str()))
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect(),
            ))
        }
        _ => Err(SsmError::new(
            BASELINE_OVERRIDE_MULTIPLE,
            format!(
                "BaselineOverride {source}: {} baselines for {wanted}",
                found.len()
            ),
        )),
    }
}

/// Reads a downloaded snapshot: plain JSON, or gzip-compressed JSON, with a non-null
/// `patchBaseline` (spec §1.3). Returns the JSON text.
pub fn snapshot_text(bytes: &[u8]) -> Result<String, SsmError> {
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes), &mut text)
            .map_err(|e| SsmError::new(SNAPSHOT_INVALID, format!("snapshot: bad gzip: {e}")))?;
        text
    } else {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| SsmError::new(SNAPSHOT_INVALID, "snapshot: not UTF-8 text"))?
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| SsmError::new(SNAPSHOT_INVALID, format!("snapshot: not JSON: {e}")))?;
    if value.get("patchBaseline").is_none_or(Value::is_null) {
        return Err(SsmError::new(
            SNAPSHOT_INVALID,
            "snapshot: no patchBaseline in it",
        ));
    }
    Ok(text)
}

/// Where the previous compliance content hash is kept: an empty folder named after it under
/// `var/log/amazon/ssm/pb-hashes` (spec §5.4).
pub fn hashes_dir(root: &std::path::Path) -> std::path::PathBuf {
    root.join("var/log/amazon/ssm/pb-hashes")
}

/// Makes a PutInventory request partial when the compliance content did not change since the
/// last upload: the compliance item is sent without `Content` (the service keeps the old one).
/// Returns whether it did.
pub fn make_partial(request: &mut Value, root: &std::path::Path) -> bool {
    let Some(item) = request["Items"].as_array_mut().and_then(|items| {
        items
            .iter_mut()
            .find(|i| i["TypeName"] == "AWS:ComplianceItem")
    }) else {
        return false;
    };
    let Some(hash) = item["ContentHash"].as_str() else {
        return false;
    };
    if !hashes_dir(root).join(hash).is_dir() {
        return false;
    }
    if let Some(object) = item.as_object_mut() {
        object.remove("Content");
    }
    true
}

/// Drops every `CVEIds` of the compliance content (the retry after ItemSizeLimitExceeded).
pub fn drop_cve_ids(request: &mut Value) {
    for item in request["Items"].as_array_mut().into_iter().flatten() {
        if item["TypeName"] != "AWS:ComplianceItem" {
            continue;
        }
        let mut changed = false;
        for entry in item["Content"].as_array_mut().into_iter().flatten() {
            if let Some(map) = entry.as_object_mut() {
                changed |= map.remove("CVEIds").is_some();
            }
        }
        if changed && let Some(content) = item["Content"].as_array() {
            let maps: Vec<serde_json::Map<String, Value>> = content
                .iter()
                .filter_map(|v| v.as_object().cloned())
                .collect();
            item["ContentHash"] = Value::String(crate::report::python_json_sha256(&maps));
        }
    }
}

/// Records the compliance content hash of a successful upload (the old ones removed).
pub fn remember_hash(request: &Value, root: &std::path::Path) -> std::io::Result<()> {
    let Some(hash) = request["Items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["TypeName"] == "AWS:ComplianceItem"))
        .and_then(|item| item["ContentHash"].as_str())
    else {
        return Ok(());
    };
    let dir = hashes_dir(root);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            if entry.file_name() != *hash {
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
    std::fs::create_dir_all(dir.join(hash))
}

/// Whether a BaselineOverride URL is a Quick Setup patch policy's (AWS's user guide: "except
/// when a patching operation uses a patch policy", the override then comes from the policy's S3
/// bucket and compliance is reported). Patch policies keep their `baseline_overrides.json` in a
/// bucket named `aws-quicksetup-patchpolicy-ACCOUNT-CONFIGID` (its access-log bucket,
/// `aws-quicksetup-patchpolicy-access-log-…`, holds no override); the URL is `s3://BUCKET/KEY`
/// or an https S3 URL, virtual-hosted (`BUCKET.s3.REGION.amazonaws.com`) or path-style.
pub fn is_patch_policy_override(url: &str) -> bool {
    let bucket = if let Some(rest) = url.strip_prefix("s3://") {
        rest.split('/').next().unwrap_or("")
    } else if let Some(rest) = url.strip_prefix("https://") {
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        match host.split_once(".s3") {
            Some((bucket, _)) if !bucket.is_empty() => bucket,
            _ if host.starts_with("s3.") || host.starts_with("s3-") => {
                path.split('/').next().unwrap_or("")
            }
            _ => "",
        }
    } else {
        ""
    };
    bucket.starts_with("aws-quicksetup-patchpolicy-")
        && !bucket.starts_with("aws-quicksetup-patchpolicy-access-log-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_policy_overrides_by_their_bucket() {
        for url in [
            "s3://aws-quicksetup-patchpolicy-123456789012-abcde/baseline_overrides.json",
            "https://aws-quicksetup-patchpolicy-123456789012-abcde.s3.us-east-1.amazonaws.com/baseline_overrides.json",
            "https://s3.us-east-1.amazonaws.com/aws-quicksetup-patchpolicy-123456789012-abcde/baseline_overrides.json",
        ] {
            assert!(is_patch_policy_override(url), "{url}");
        }
        for url in [
            "",
            "s3://my-bucket/aws-quicksetup-patchpolicy-x/baseline_overrides.json",
            "s3://aws-quicksetup-patchpolicy-access-log-123456789012-ab12-abcde/x.json",
            "https://example.com/aws-quicksetup-patchpolicy-1/o.json",
        ] {
            assert!(!is_patch_policy_override(url), "{url}");
        }
    }

    #[test]
    fn document_patterns() {
        assert!(valid_snapshot_id(""));
        assert!(valid_snapshot_id("0a1B2c3d-0000-4000-8000-123456789abc"));
        assert!(!valid_snapshot_id("0a1b2c3d-0000-4000-8000-123456789ab"));
        assert!(!valid_snapshot_id("not-a-uuid"));
        assert!(valid_override_url("https://example.com/list.yaml"));
        assert!(valid_override_url("s3://bucket/path/list.yaml"));
        assert!(!valid_override_url("s3://bucket/"));
        assert!(!valid_override_url("http://example.com/list.yaml"));
        assert!(!valid_override_url("file:///etc/passwd"));
    }

    #[test]
    fn baseline_override_selection_and_codes() {
        let two = r#"[{"OperatingSystem": "AMAZON_LINUX_2023", "Name": "x", "ApprovedPatches": ["a"]},
                      {"OperatingSystem": "UBUNTU", "ApprovedPatches": ["b"]}]"#;
        let picked = select_override(two, "t", OperatingSystem::AmazonLinux2023).unwrap();
        assert_eq!(picked["ApprovedPatches"][0], "a");
        assert!(picked.get("Name").is_none(), "only the forwarded members");
        let code = |text: &str| {
            select_override(text, "t", OperatingSystem::AmazonLinux2023)
                .unwrap_err()
                .code
        };
        assert_eq!(code("{}"), BASELINE_OVERRIDE_INVALID);
        assert_eq!(code("[1]"), BASELINE_OVERRIDE_INVALID);
        assert_eq!(code("not json"), BASELINE_OVERRIDE_INVALID);
        assert_eq!(
            code(r#"[{"OperatingSystem": "UBUNTU"}]"#),
            BASELINE_OVERRIDE_MISSING_OS
        );
        assert_eq!(
            code(
                r#"[{"OperatingSystem": "AMAZON_LINUX_2023"}, {"OperatingSystem": "AMAZON_LINUX_2023"}]"#
            ),
            BASELINE_OVERRIDE_MULTIPLE
        );
    }

    #[test]
    fn snapshots_plain_gzip_and_invalid() {
        let text = r#"{"patchBaseline": {"name": "x"}, "patchGroup": null}"#;
        assert_eq!(snapshot_text(text.as_bytes()).unwrap(), text);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
        assert_eq!(snapshot_text(&gz.finish().unwrap()).unwrap(), text);
        for bad in [&b"{\"patchBaseline\": null}"[..], b"<html>", b"\x1f\x8bxx"] {
            assert_eq!(snapshot_text(bad).unwrap_err().code, SNAPSHOT_INVALID);
        }
    }
}
