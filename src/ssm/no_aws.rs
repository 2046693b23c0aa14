//! The AWS calls in a build without the `aws` feature (the fuzz targets' build, which has no
//! use for the SDK and would spend most of its time compiling it). Nothing here talks to AWS:
//! the instance identity comes from the agent's environment alone, and [`Aws`] cannot be made,
//! so `run`, `--report` to SSM and `s3://` payloads say that this build cannot reach AWS.
//! The release binary is always built with the feature (it is a default one).

use std::collections::HashMap;

use serde_json::Value;

use super::SsmError;

/// The message of every call this build cannot make.
const NO_AWS: &str = "this patch-baseline was built without the `aws` feature: it cannot call AWS";

/// The SDK clients, which this build has none of: no value of this type exists.
pub enum Aws {}

/// The instance id from IMDSv2, which this build cannot ask.
pub fn imds_instance_id<S: std::hash::BuildHasher>(
    _env: &HashMap<String, String, S>,
) -> Result<String, SsmError> {
    Err(SsmError::new(super::NO_INSTANCE_METADATA, NO_AWS))
}

/// The instance id and region from the agent's environment; this build cannot ask IMDS.
pub fn instance_identity<S: std::hash::BuildHasher>(
    env: &HashMap<String, String, S>,
) -> Result<(String, String), SsmError> {
    match super::identity_from_env(env) {
        (Some(id), Some(region)) => Ok((id.clone(), region.clone())),
        _ => Err(SsmError::new(super::NO_INSTANCE_METADATA, NO_AWS)),
    }
}

impl Aws {
    /// Always the error that this build cannot call AWS (143, as a snapshot that cannot be had).
    pub fn new(_region: &str) -> Result<Self, SsmError> {
        Err(SsmError::new(super::SNAPSHOT_ERROR, NO_AWS))
    }

    /// GetDeployablePatchSnapshotForInstance (never called: no `Aws` exists).
    pub fn snapshot(
        &self,
        _instance_id: &str,
        _snapshot_id: &str,
        _baseline_override: Option<&Value>,
    ) -> Result<(String, String), SsmError> {
        match *self {}
    }

    /// PutInventory (never called: no `Aws` exists).
    pub fn put_inventory(&self, _request: &Value) -> Result<(), (Option<String>, String)> {
        match *self {}
    }
}

impl crate::payload::S3Fetcher for Aws {
    fn fetch(
        &self,
        _bucket: &str,
        _key: &str,
        _out: &mut dyn std::io::Write,
    ) -> Result<(), String> {
        match *self {}
    }
}
