//! The AWS calls of `run`, through the official AWS SDK for Rust: the credential chain of
//! aws-config (environment, the shared profile the agent writes on hybrid `mi-` nodes, IMDSv2
//! on EC2), the instance id and region from IMDSv2 when the agent did not set them, SSM's
//! GetDeployablePatchSnapshotForInstance and PutInventory, and S3's GetObject for `s3://` URLs.
//! Endpoints are overridable the standard way (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SSM`,
//! `AWS_ENDPOINT_URL_S3`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`). Throttling and 5xx answers are
//! retried by the SDK's standard retry strategy (5 attempts, as the AWS payload's boto3 does).
//!
//! Proxies: the SSM and S3 calls honour `HTTPS_PROXY`/`https_proxy`, `HTTP_PROXY`/`http_proxy`
//! and `NO_PROXY`/`no_proxy` (the SDK's behaviour), as the SSM agent's documented proxy setup
//! expects. The instance metadata service is never asked through a proxy — not for the instance
//! identity, not for the credentials: it is a link-local address only the instance itself can
//! reach, and AWS's tools never proxy it.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_ssm::error::ProvideErrorMetadata;
use serde_json::Value;

use super::SsmError;

/// The SDK clients and the runtime they run on.
pub struct Aws {
    runtime: tokio::runtime::Runtime,
    ssm: aws_sdk_ssm::Client,
    s3: aws_sdk_s3::Client,
}

/// The error code and message of a failed SDK call; `None` code for a network or timeout
/// failure.
fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: &aws_sdk_ssm::error::SdkError<E, R>,
) -> (Option<String>, String) {
    match error {
        aws_sdk_ssm::error::SdkError::ServiceError(service) => {
            let inner = service.err();
            (
                inner.code().map(ToString::to_string),
                format!(
                    "{}: {}",
                    inner.code().unwrap_or("error"),
                    inner.message().unwrap_or("")
                ),
            )
        }
        other => {
            use std::error::Error as _;
            let mut text = other.to_string();
            let mut source = other.source();
            while let Some(cause) = source {
                text = format!("{text}: {cause}");
                source = cause.source();
            }
            // A network failure names the proxy it went through, if any.
            let endpoint = std::env::var("AWS_ENDPOINT_URL_SSM")
                .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
                .unwrap_or_else(|_| "https://ssm.amazonaws.com".to_string());
            if let Some(proxy) = crate::payload::proxy_in_use(&endpoint) {
                text = format!("{text} (through the proxy {proxy})");
            }
            (None, text)
        }
    }
}

/// The runtime for the SDK's calls.
fn runtime() -> Result<tokio::runtime::Runtime, SsmError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            SsmError::new(
                super::SNAPSHOT_ERROR,
                format!("cannot start the AWS client: {e}"),
            )
        })
}

/// The instance id from IMDSv2 alone (1 s to connect, 2 attempts), for `scan --report` on an
/// EC2 instance.
pub fn imds_instance_id<S: std::hash::BuildHasher>(
    env: &HashMap<String, String, S>,
) -> Result<String, SsmError> {
    let mut env: HashMap<String, String> =
        env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    env.remove("AWS_SSM_INSTANCE_ID");
    // The region is not needed; a placeholder keeps IMDS from being asked for it.
    env.insert("AWS_SSM_REGION_NAME".into(), "unused".into());
    instance_identity(&env).map(|(id, _)| id)
}

/// The instance id and region: from the agent's environment, else from IMDSv2 (1 s to
/// connect, 2 attempts).
pub fn instance_identity<S: std::hash::BuildHasher>(
    env: &HashMap<String, String, S>,
) -> Result<(String, String), SsmError> {
    let (id, region) = super::identity_from_env(env);
    if let (Some(id), Some(region)) = (id, region) {
        return Ok((id.clone(), region.clone()));
    }
    let runtime = runtime()?;
    runtime.block_on(async {
        let mut builder = aws_config::imds::Client::builder()
            .configure(&direct_provider_config())
            .connect_timeout(Duration::from_secs(1))
            .read_timeout(Duration::from_secs(2))
            .max_attempts(2);
        if let Some(endpoint) = env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
            builder = builder.endpoint(endpoint).map_err(|e| {
                SsmError::new(
                    super::NO_INSTANCE_METADATA,
                    format!("AWS_EC2_METADATA_SERVICE_ENDPOINT `{endpoint}`: {e}"),
                )
            })?;
        }
        let client = builder.build();
        let ask = |path: &'static str| {
            let client = client.clone();
            async move {
                client.get(path).await.map(|v| v.as_ref().trim().to_string()).map_err(|e| {
                    SsmError::new(
                        super::NO_INSTANCE_METADATA,
                        format!(
                            "no instance metadata: AWS_SSM_INSTANCE_ID/AWS_SSM_REGION_NAME are not set and IMDS ({path}) did not answer: {e}"
                        ),
                    )
                })
            }
        };
        let id = match id {
            Some(id) => id.clone(),
            None => ask("/latest/meta-data/instance-id").await?,
        };
        let region = match region {
            Some(region) => region.clone(),
            None => ask("/latest/meta-data/placement/region").await?,
        };
        Ok((id, region))
    })
}

/// The provider configuration of the instance metadata clients: the process environment, and
/// an HTTP client that never goes through a proxy, whatever the environment says.
fn direct_provider_config() -> aws_config::provider_config::ProviderConfig {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let direct =
        aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
            let mut connector = aws_smithy_http_client::ConnectorBuilder::default()
                .tls_provider(Provider::Rustls(CryptoMode::AwsLc));
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::disabled()));
            connector.build()
        });
    aws_config::provider_config::ProviderConfig::without_region().with_http_client(direct)
}

impl Aws {
    /// Clients for `region` with the default credential chain and endpoint overrides.
    pub fn new(region: &str) -> Result<Self, SsmError> {
        let runtime = runtime()?;
        let region = aws_config::Region::new(region.to_string());
        let config = runtime.block_on(async {
            // The default chain, with its instance-metadata step on the direct client.
            let imds = aws_config::imds::Client::builder()
                .configure(&direct_provider_config())
                .build();
            let credentials =
                aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                    .region(region.clone())
                    .imds_client(imds)
                    .build()
                    .await;
            aws_config::defaults(BehaviorVersion::latest())
                .region(region)
                .credentials_provider(credentials)
                .retry_config(
                    RetryConfig::standard()
                        .with_max_attempts(5)
                        .with_initial_backoff(Duration::from_millis(200)),
                )
                .load()
                .await
        });
        let ssm = aws_sdk_ssm::Client::new(&config);
        // Path-style addressing when the endpoint is overridden (a local S3 such as moto's).
        let local = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL").is_some();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(local)
                .build(),
        );
        Ok(Self { runtime, ssm, s3 })
    }

    /// GetDeployablePatchSnapshotForInstance; returns the snapshot URL and the product.
    pub fn snapshot(
        &self,
        instance_id: &str,
        snapshot_id: &str,
        baseline_override: Option<&Value>,
    ) -> Result<(String, String), SsmError> {
        let baseline_override = baseline_override.map(to_override).transpose()?;
        let answer = self.runtime.block_on(
            self.ssm
                .get_deployable_patch_snapshot_for_instance()
                .instance_id(instance_id)
                .snapshot_id(snapshot_id)
                .set_baseline_override(baseline_override)
                .send(),
        );
        match answer {
            Ok(output) => {
                let url = output
                    .snapshot_download_url()
                    .unwrap_or_default()
                    .to_string();
                if url.is_empty() {
                    return Err(SsmError::new(
                        super::SNAPSHOT_ERROR,
                        "GetDeployablePatchSnapshotForInstance: the answer has no SnapshotDownloadUrl",
                    ));
                }
                Ok((url, output.product().unwrap_or_default().to_string()))
            }
            Err(error) => {
                let (code, text) = describe(&error);
                let exit = match code.as_deref() {
                    Some(c) if c.contains("AccessDenied") || c == "UnrecognizedClientException" => {
                        super::SNAPSHOT_ACCESS_DENIED
                    }
                    Some("UnsupportedOperatingSystem") => super::SNAPSHOT_UNSUPPORTED_OS,
                    Some(_) => super::SNAPSHOT_API_ERROR,
                    None => super::SNAPSHOT_ERROR,
                };
                Err(SsmError::new(
                    exit,
                    format!("GetDeployablePatchSnapshotForInstance: {text}"),
                ))
            }
        }
    }

    /// PutInventory of a request built by [`crate::report::put_inventory_request`]. Returns the
    /// service's error code on failure, with the message.
    pub fn put_inventory(&self, request: &Value) -> Result<(), (Option<String>, String)> {
        let instance_id = request["InstanceId"].as_str().unwrap_or_default();
        let mut items = Vec::new();
        for item in request["Items"].as_array().into_iter().flatten() {
            let text = |key: &str| item[key].as_str().unwrap_or_default().to_string();
            let mut builder = aws_sdk_ssm::types::InventoryItem::builder()
                .type_name(text("TypeName"))
                .schema_version(text("SchemaVersion"))
                .capture_time(text("CaptureTime"))
                .content_hash(text("ContentHash"));
            if let Some(content) = item["Content"].as_array() {
                builder = builder.set_content(Some(content.iter().map(string_map).collect()));
            }
            if item.get("Context").is_some() {
                builder = builder.set_context(Some(string_map(&item["Context"])));
            }
            items.push(builder.build().map_err(|e| (None, e.to_string()))?);
        }
        let answer = self.runtime.block_on(
            self.ssm
                .put_inventory()
                .instance_id(instance_id)
                .set_items(Some(items))
                .send(),
        );
        answer.map(|_| ()).map_err(|error| describe(&error))
    }

    /// S3 GetObject, streamed into `out`.
    pub fn get_object(
        &self,
        bucket: &str,
        key: &str,
        out: &mut dyn std::io::Write,
    ) -> Result<(), String> {
        self.runtime.block_on(async {
            let object = self
                .s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|error| match &error {
                    aws_sdk_s3::error::SdkError::ServiceError(service) => {
                        use aws_sdk_s3::error::ProvideErrorMetadata as _;
                        let inner = service.err();
                        format!(
                            "s3://{bucket}/{key}: HTTP {}: {}: {}",
                            service.raw().status().as_u16(),
                            inner.code().unwrap_or("error"),
                            inner.message().unwrap_or("")
                        )
                    }
                    other => format!("s3://{bucket}/{key}: {other}"),
                })?;
            let mut body = object.body;
            while let Some(chunk) = body
                .try_next()
                .await
                .map_err(|e| format!("s3://{bucket}/{key}: the transfer broke off: {e}"))?
            {
                out.write_all(&chunk).map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }
}

impl crate::payload::S3Fetcher for Aws {
    fn fetch(&self, bucket: &str, key: &str, out: &mut dyn std::io::Write) -> Result<(), String> {
        self.get_object(bucket, key, out)
    }
}

fn string_map(value: &Value) -> HashMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .map_or_else(|| v.to_string(), ToString::to_string),
            )
        })
        .collect()
}

/// A BaselineOverride entry (GetPatchBaseline-shaped JSON) as the SDK's type.
fn to_override(value: &Value) -> Result<aws_sdk_ssm::types::BaselineOverride, SsmError> {
    use aws_sdk_ssm::types::{
        BaselineOverride, OperatingSystem, PatchAction, PatchComplianceLevel, PatchFilter,
        PatchFilterGroup, PatchFilterKey, PatchRule, PatchRuleGroup, PatchSource,
    };
    let invalid = |what: String| {
        SsmError::new(
            super::BASELINE_OVERRIDE_INVALID,
            format!("BaselineOverride: {what}"),
        )
    };
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(ToString::to_string))
            .collect()
    };
    let filter_group = |v: &Value| -> Result<PatchFilterGroup, SsmError> {
        let mut group = PatchFilterGroup::builder();
        for filter in v["PatchFilters"].as_array().into_iter().flatten() {
            let mut builder = PatchFilter::builder()
                .key(PatchFilterKey::from(filter["Key"].as_str().unwrap_or("")));
            for item in strings(&filter["Values"]) {
                builder = builder.values(item);
            }
            group = group.patch_filters(builder.build().map_err(|e| invalid(e.to_string()))?);
        }
        group.build().map_err(|e| invalid(e.to_string()))
    };
    let mut builder = BaselineOverride::builder();
    if let Some(os) = value["OperatingSystem"].as_str() {
        builder = builder.operating_system(OperatingSystem::from(os));
    }
    if value.get("GlobalFilters").is_some() {
        builder = builder.global_filters(filter_group(&value["GlobalFilters"])?);
    }
    if value.get("ApprovalRules").is_some() {
        // An empty rule list is valid (the API's PatchRules has 0–10 members).
        let mut rules = PatchRuleGroup::builder().set_patch_rules(Some(Vec::new()));
        for rule in value["ApprovalRules"]["PatchRules"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let mut builder =
                PatchRule::builder().patch_filter_group(filter_group(&rule["PatchFilterGroup"])?);
            if let Some(level) = rule["ComplianceLevel"].as_str() {
                builder = builder.compliance_level(PatchComplianceLevel::from(level));
            }
            if let Some(days) = rule["ApproveAfterDays"].as_i64() {
                builder = builder
                    .approve_after_days(i32::try_from(days).map_err(|e| invalid(e.to_string()))?);
            }
            if let Some(date) = rule["ApproveUntilDate"].as_str() {
                builder = builder.approve_until_date(date);
            }
            if let Some(flag) = rule["EnableNonSecurity"].as_bool() {
                builder = builder.enable_non_security(flag);
            }
            rules = rules.patch_rules(builder.build());
        }
        builder = builder.approval_rules(rules.build().map_err(|e| invalid(e.to_string()))?);
    }
    for patch in strings(&value["ApprovedPatches"]) {
        builder = builder.approved_patches(patch);
    }
    for patch in strings(&value["RejectedPatches"]) {
        builder = builder.rejected_patches(patch);
    }
    if let Some(level) = value["ApprovedPatchesComplianceLevel"].as_str() {
        builder = builder.approved_patches_compliance_level(PatchComplianceLevel::from(level));
    }
    if let Some(flag) = value["ApprovedPatchesEnableNonSecurity"].as_bool() {
        builder = builder.approved_patches_enable_non_security(flag);
    }
    if let Some(action) = value["RejectedPatchesAction"].as_str() {
        builder = builder.rejected_patches_action(PatchAction::from(action));
    }
    for source in value["Sources"].as_array().into_iter().flatten() {
        let mut item = PatchSource::builder()
            .name(source["Name"].as_str().unwrap_or_default())
            .configuration(source["Configuration"].as_str().unwrap_or_default());
        for product in strings(&source["Products"]) {
            item = item.products(product);
        }
        builder = builder.sources(item.build().map_err(|e| invalid(e.to_string()))?);
    }
    Ok(builder.build())
}
