//! `run`: the SSM PatchLinux step — parameters, snapshot, override lists, the scan or install
//! pipeline, PutInventory, and resuming after a reboot.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::exit::Outcome;
use crate::ops::install::run_install;
use crate::ops::scan::run_scan;
use crate::ops::settings::{
    InstallSettings, OverrideCompliance, ReportSettings, RunOperation, RunSettings, ScanSettings,
    SystemSettings,
};
use crate::ops::{CliError, Context, read, valid_instance_id, write_atomically, write_out};
use crate::platform::{OsRelease, detect};

/// `run`: the PatchLinux step (spec §1.2–§1.3, §3.4, §5, §6, §8). Markers first; then the
/// instance identity, the snapshot (with a BaselineOverride), the override list, the scan or
/// install through the same pipeline as `scan`/`install`, and PutInventory.
/// Runs `run`, the SSM PatchLinux step.
pub(crate) fn run_run(
    args: &RunSettings,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    use crate::ssm::{self, SsmError};
    if !ssm::valid_snapshot_id(&args.snapshot_id) {
        return Err(CliError::Usage(format!(
            "--snapshot-id `{}` does not match (^$)|^[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}$",
            args.snapshot_id
        )));
    }
    for (name, value) in [
        ("--install-override-list", &args.install_override_list),
        ("--baseline-override", &args.baseline_override),
        ("--install-plan", &args.install_plan),
    ] {
        if !ssm::valid_override_url(value) {
            return Err(CliError::Usage(format!(
                "{name} `{value}` does not match (^$)|^https://.+$|^s3://([^/]+)/(.*?([^/]+))$"
            )));
        }
    }
    if !args.baseline_override.is_empty() && !args.install_override_list.is_empty() {
        return Err(SsmError::new(
            ssm::BASELINE_OVERRIDE_AND_INSTALL_OVERRIDE,
            "BaselineOverride and InstallOverrideList cannot be used together",
        )
        .into());
    }
    if !args.install_plan.is_empty() && !args.install_override_list.is_empty() {
        return Err(CliError::Usage(
            "--install-plan and --install-override-list cannot be used together: a plan names \
             exactly what it installs"
                .into(),
        ));
    }
    let root = &args.system.root;
    let paths = crate::state::StatePaths::new(root);
    // A reboot requested by an earlier install comes first (spec §7.2).
    let boot = crate::state::boot_time(&context.env);
    if let Some((outcome, message)) = resume_after_reboot(&paths, boot)? {
        write_out(stdout, message)?;
        return Ok(outcome);
    }
    let (instance_id, region) = ssm::aws::instance_identity(&context.env)?;
    if !valid_instance_id(&instance_id) {
        return Err(SsmError::new(
            ssm::NO_INSTANCE_METADATA,
            format!("instance id `{instance_id}` is not of the form i-… or mi-…"),
        )
        .into());
    }
    let os = OsRelease::from_root(root).map_err(|e| CliError::Read {
        path: root.join("etc/os-release"),
        source: e,
    })?;
    let platform = detect(&os);
    let aws = ssm::aws::Aws::new(&region)?;
    let limits = crate::payload::Limits {
        max_download: 64 << 20,
        ..crate::payload::Limits::default()
    };

    let baseline_override = if args.baseline_override.is_empty() {
        None
    } else {
        let Some(platform) = &platform else {
            return Err(SsmError::new(
                ssm::BASELINE_OVERRIDE_UNSUPPORTED_OS,
                "BaselineOverride: the local operating system cannot be determined",
            )
            .into());
        };
        let bytes = crate::payload::fetch_bytes(&args.baseline_override, &limits, Some(&aws))
            .map_err(|e| {
                let text = e.to_string();
                let code = if text.contains("AccessDenied") || text.contains("HTTP 403") {
                    ssm::BASELINE_OVERRIDE_ACCESS_DENIED
                } else {
                    ssm::BASELINE_OVERRIDE_DOWNLOAD_ERROR
                };
                SsmError::new(code, format!("BaselineOverride: {text}"))
            })?;
        Some(ssm::select_override(
            &String::from_utf8_lossy(&bytes),
            &args.baseline_override,
            platform.operating_system,
        )?)
    };

    // With a BaselineOverride AWS uploads nothing, except for a patch policy's override.
    let report_compliance = baseline_override.is_none()
        || match args.upload_override_compliance {
            OverrideCompliance::Auto => ssm::is_patch_policy_override(&args.baseline_override),
            OverrideCompliance::Upload => true,
            OverrideCompliance::Skip => false,
        };
    let snapshot_id = if args.snapshot_id.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        args.snapshot_id.to_lowercase()
    };
    let (url, product) = aws.snapshot(&instance_id, &snapshot_id, baseline_override.as_ref())?;
    let snapshot = crate::payload::fetch_bytes(&url, &limits, None)
        .map_err(|e| SsmError::new(ssm::SNAPSHOT_ERROR, format!("the snapshot download: {e}")))?;
    let snapshot = ssm::snapshot_text(&snapshot)?;
    // The work folder, as the AWS payload's: removed at the end of every run.
    let work = root.join("var/log/amazon/ssm/patch-baseline-operations");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| CliError::Write {
        path: work.clone(),
        source: e,
    })?;
    let result = (|| {
        let snapshot_file = work.join("snapshot.json");
        write_atomically(&snapshot_file, snapshot.as_bytes())?;
        let baseline =
            crate::baseline::Baseline::from_json(&snapshot, "the snapshot").map_err(|e| {
                SsmError::new(
                    ssm::SNAPSHOT_INVALID,
                    format!("snapshot {snapshot_id}: {e}"),
                )
            })?;
        let override_list =
            if args.install_override_list.is_empty() || args.operation == RunOperation::Scan {
                None
            } else {
                let bytes =
                    crate::payload::fetch_bytes(&args.install_override_list, &limits, Some(&aws))?;
                let file = work.join("install-override-list");
                write_atomically(&file, &bytes)?;
                Some(file.to_string_lossy().into_owned())
            };
        let plan_file = if args.install_plan.is_empty() || args.operation == RunOperation::Scan {
            None
        } else {
            let bytes = crate::payload::fetch_bytes(&args.install_plan, &limits, Some(&aws))?;
            let file = work.join("install-plan.json");
            write_atomically(&file, &bytes)?;
            Some(file.to_string_lossy().into_owned())
        };
        let request_file = work.join("put-inventory.json");
        let report = ReportSettings {
            baseline: Some(snapshot_file.to_string_lossy().into_owned()),
            now: None,
            output: if args.output == crate::ops::settings::OutputFormat::Table {
                crate::ops::settings::OutputFormat::Run
            } else {
                args.output
            },
            all: false,
            report: report_compliance.then(|| request_file.clone()),
            html: None,
            prometheus: None,
            product: Some(product.clone()).filter(|p| !p.is_empty()),
            instance_id: Some(instance_id.clone()),
            snapshot_id: Some(snapshot_id.clone()),
            fail_on_non_compliant: false,
        };
        let system = SystemSettings {
            root: root.clone(),
            no_refresh: args.system.no_refresh,
            refresh_timeout: args.system.refresh_timeout,
            lock_timeout: args.system.lock_timeout,
        };
        // The Run Command output: the report is captured and framed (header, summary, exit
        // reason, timed steps, then the packages); JSON output passes through as it is.
        let framed = args.output == crate::ops::settings::OutputFormat::Table;
        let run_context = Context {
            steps: crate::ops::StepLog::collecting(),
            ..context.clone()
        };
        let context = &run_context;
        let mut captured: Vec<u8> = Vec::new();
        let inner: &mut dyn Write = if framed { &mut captured } else { &mut *stdout };
        let outcome = match args.operation {
            RunOperation::Scan => run_scan(
                &ScanSettings {
                    system,
                    save_inventory: None,
                    read_only: false,
                    reboot_option: args.reboot_option,
                    report,
                },
                context,
                inner,
            )?,
            RunOperation::Install => run_install(
                &InstallSettings {
                    system,
                    reboot_option: args.reboot_option,
                    install_override_list: override_list,
                    dry_run: false,
                    plan_out: None,
                    plan: plan_file,
                    plan_source: Some(args.install_plan.clone()),
                    allow_drift: args.allow_plan_drift,
                    max_duration: args.max_duration,
                    deadline: None,
                    override_list_source: Some(args.install_override_list.clone()),
                    report,
                },
                context,
                inner,
            )?,
        };
        let mut notes: Vec<String> = Vec::new();
        let outcome = if report_compliance {
            let request: serde_json::Value =
                serde_json::from_str(&read(&request_file)?).map_err(|e| CliError::Write {
                    path: request_file.clone(),
                    source: std::io::Error::other(e),
                })?;
            crate::ops::install::checkpoint(context, "before-upload");
            let uploaded = context.steps.time("upload", || upload(&aws, request, root));
            crate::ops::install::checkpoint(context, "after-upload");
            match uploaded {
                Ok(()) => outcome,
                Err(error) if outcome == Outcome::Reboot => {
                    // The reboot still happens; the resumed run then reports failure (spec §7.3).
                    crate::state::write_marker(&paths, 195, context.now)
                        .map_err(CliError::State)?;
                    notes.push(format!("warning: {error}"));
                    Outcome::Reboot
                }
                Err(error) => {
                    if framed {
                        write_out(stdout, String::from_utf8_lossy(&captured).trim_end())?;
                    }
                    return Err(error.into());
                }
            }
        } else {
            // As AWS: with a BaselineOverride the result is shown, not uploaded.
            notes.push("BaselineOverride: compliance is not uploaded".to_string());
            outcome
        };
        if framed {
            let header = RunHeader {
                instance_id: &instance_id,
                region: &region,
                product: &product,
                baseline: &baseline,
                snapshot_id: &snapshot_id,
                operation: args.operation,
                reboot_option: args.reboot_option.as_str(),
            };
            write_out(
                stdout,
                &frame(
                    &header,
                    &String::from_utf8_lossy(&captured),
                    outcome,
                    &context.steps.lines(),
                ),
            )?;
        }
        for note in notes {
            write_out(stdout, &note)?;
        }
        Ok(outcome)
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// What `run`'s output opens with.
struct RunHeader<'a> {
    instance_id: &'a str,
    region: &'a str,
    product: &'a str,
    baseline: &'a crate::baseline::Baseline,
    snapshot_id: &'a str,
    operation: RunOperation,
    reboot_option: &'a str,
}

/// `run`'s Run Command output (the console shows its first 2,500 characters): the header
/// (instance, region, product, baseline, snapshot, operation, reboot option, version), the
/// summary line, the exit code and why, the timed steps, then the rest of the report (the
/// non-compliant packages, most severe first, and the warnings).
fn frame(header: &RunHeader<'_>, report: &str, outcome: Outcome, steps: &[String]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "patch-baseline {} run: {} on {} ({}), product {}",
        env!("CARGO_PKG_VERSION"),
        match header.operation {
            RunOperation::Scan => "Scan",
            RunOperation::Install => "Install",
        },
        header.instance_id,
        header.region,
        if header.product.is_empty() {
            "(detected)"
        } else {
            header.product
        },
    );
    let _ = writeln!(
        out,
        "baseline {} ({}), snapshot {}, reboot option {}",
        if header.baseline.id.is_empty() {
            "(no id)"
        } else {
            &header.baseline.id
        },
        if header.baseline.name.is_empty() {
            "unnamed"
        } else {
            &header.baseline.name
        },
        header.snapshot_id,
        header.reboot_option
    );
    let mut lines = report.lines();
    if let Some(summary) = lines.next() {
        let _ = writeln!(out, "{summary}");
    }
    let _ = writeln!(out, "exit {}: {}", outcome.code(), exit_reason(outcome));
    for step in steps {
        let _ = writeln!(out, "{step}");
    }
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    out.trim_end().to_string()
}

/// Why `run` exits with `outcome`'s code, in a few words.
fn exit_reason(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "done",
        Outcome::Reboot => "a reboot is needed; the SSM agent reboots and runs this step again",
        Outcome::Failure => "approved updates failed to install, or the package manager failed",
        Outcome::DependencyCheckFailure => {
            "approved updates were left out: they would bring in packages RejectedPatches blocks"
        }
        Outcome::RebootNotHappened => "the machine did not reboot after 5 requests",
        _ => "see the error above",
    }
}

/// PutInventory with the rules of spec §5.4: the compliance item without its content when it
/// did not change since the last upload; full content again after InvalidItemContent or
/// ItemContentMismatch; without CVE ids after ItemSizeLimitExceeded.
pub(crate) fn upload(
    aws: &crate::ssm::aws::Aws,
    mut request: serde_json::Value,
    root: &Path,
) -> Result<(), crate::ssm::SsmError> {
    use crate::ssm::{self, SsmError};
    let full = request.clone();
    ssm::make_partial(&mut request, root);
    let mut last = String::new();
    for _ in 0..3 {
        match aws.put_inventory(&request) {
            Ok(()) => {
                let _ = ssm::remember_hash(&request, root);
                return Ok(());
            }
            Err((Some(code), text))
                if code == "InvalidItemContentException"
                    || code == "ItemContentMismatchException" =>
            {
                request = full.clone();
                last = text;
            }
            Err((Some(code), text)) if code == "ItemSizeLimitExceededException" => {
                ssm::drop_cve_ids(&mut request);
                last = text;
            }
            Err((_, text)) => {
                return Err(SsmError::new(
                    ssm::PUT_INVENTORY_ERROR,
                    format!("PutInventory: {text}"),
                ));
            }
        }
    }
    Err(SsmError::new(
        ssm::PUT_INVENTORY_ERROR,
        format!("PutInventory: {last}"),
    ))
}

/// What a reboot requested by an earlier install says now (spec §7.2): `None` when no marker is
/// there, else the outcome and its message.
pub(crate) fn resume_after_reboot(
    paths: &crate::state::StatePaths,
    boot: Option<DateTime<Utc>>,
) -> Result<Option<(Outcome, &'static str)>, CliError> {
    use crate::state::{MarkerCheck, check_markers};
    Ok(match check_markers(paths, boot).map_err(CliError::State)? {
        MarkerCheck::None => None,
        MarkerCheck::Rebooted(194) => Some((
            Outcome::Success,
            "the reboot requested by the last install happened",
        )),
        MarkerCheck::Rebooted(195) => Some((
            Outcome::Failure,
            "the reboot requested by the last install happened; that install had failed packages",
        )),
        MarkerCheck::Rebooted(_) => Some((
            Outcome::DependencyCheckFailure,
            "the reboot requested by the last install happened; that install left packages out (RejectedPatches with BLOCK)",
        )),
        MarkerCheck::AskAgain => Some((
            Outcome::Reboot,
            "the reboot requested by the last install has not happened yet; asking again",
        )),
        MarkerCheck::GiveUp => Some((
            Outcome::RebootNotHappened,
            "the machine did not reboot after 5 requests; giving up (marker removed)",
        )),
    })
}
