//! The operations layer: the pipelines behind the commands, as library functions. Each takes
//! the command's settings, the [`Context`] (the clock reading and the environment, taken once by
//! `main`) and reaches the system through [`crate::backend`]: [`scan`], [`install`], [`run`] (the
//! SSM PatchLinux step) and [`evaluate`] (a recorded inventory). What they share is here: the
//! errors and their exit codes, reading and writing files, evaluating and reporting, and the
//! on-host state a run records. Nothing here parses a command line.

pub mod evaluate;
pub mod explain;
pub mod install;
pub mod run;
pub mod scan;
pub mod settings;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::baseline::{Baseline, BaselineError, builtin_for, find_builtin};
use crate::evaluate::{EvaluateError, EvaluateOptions, Operation, evaluate};
use crate::exit::Outcome;
use crate::inventory::{Inventory, InventoryError};
use crate::ops::settings::{OutputFormat, ReportSettings};
use crate::pattern::{InstallOverrideList, OverrideListError};
use crate::report::{ReportContext, evaluation_json, put_inventory_request, render_table};

/// Everything that can stop a command, each with what and where.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line is inconsistent.
    #[error("{0}")]
    Usage(String),
    /// An input file cannot be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An output file cannot be written.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A malformed baseline.
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    /// A malformed inventory.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// A malformed override list.
    #[error(transparent)]
    OverrideList(#[from] OverrideListError),
    /// Inventory and baseline do not fit.
    #[error(transparent)]
    Evaluate(#[from] EvaluateError),
    /// The package database under the root cannot be read.
    #[error("cannot read the package database: {0}")]
    Apt(#[from] crate::apt::AptError),
    /// rpm or dnf could not report the system.
    #[error("cannot read the package database: {0}")]
    Dnf(#[from] crate::rpm::system::RpmError),
    /// rpm or zypper could not report the system.
    #[error("cannot read the package database: {0}")]
    Zypper(#[from] crate::zypper::ZypperError),
    /// The system is not one this build can scan.
    #[error("{0}")]
    Unsupported(String),
    /// A payload could not be fetched.
    #[error(transparent)]
    Payload(#[from] crate::payload::PayloadError),
    /// An SSM step of `run` failed.
    #[error(transparent)]
    Ssm(#[from] crate::ssm::SsmError),
    /// The package manager failed or is busy.
    #[error(transparent)]
    Install(#[from] crate::install::InstallError),
    /// Another patch-baseline operation runs.
    #[error(transparent)]
    Busy(#[from] crate::state::LockError),
    /// The on-host state cannot be written.
    #[error("cannot update the on-host state: {0}")]
    State(std::io::Error),
    /// The baseline's sources cannot be used.
    #[error(transparent)]
    Repositories(#[from] crate::repositories::RepositoriesError),
    /// A plan file cannot be used (malformed, another version, for another kind of system).
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// The system or baseline drifted from the plan (`--allow-drift` installs what it still can).
    #[error("the system drifted from the plan `{plan}`, nothing installed: {}", differences.join("; "))]
    PlanDrift {
        /// The plan file or URL.
        plan: String,
        /// What differs.
        differences: Vec<String>,
    },
}

impl CliError {
    /// The outcome (and so the exit code) of this error.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Usage(_) => Outcome::Usage,
            Self::Read { .. }
            | Self::Apt(_)
            | Self::Dnf(_)
            | Self::Zypper(_)
            | Self::Repositories(crate::repositories::RepositoriesError::NoMetadata { .. }) => {
                Outcome::NoInput
            }
            Self::Write { .. }
            | Self::State(_)
            | Self::Busy(crate::state::LockError::Unavailable { .. }) => Outcome::CannotWrite,
            Self::Baseline(_)
            | Self::Inventory(_)
            | Self::OverrideList(_)
            | Self::Plan(_)
            | Self::Evaluate(_)
            | Self::Repositories(crate::repositories::RepositoriesError::Sources(_)) => {
                Outcome::BadInput
            }
            Self::Unsupported(_) => Outcome::Unsupported,
            Self::PlanDrift { .. } => Outcome::PlanDrift,
            Self::Ssm(error) => Outcome::Aws(error.code),
            Self::Payload(error) => match error.code() {
                151 => Outcome::PayloadChecksum,
                152 => Outcome::PayloadNotAnArchive,
                154 => Outcome::PayloadCannotCreate,
                155 => Outcome::PayloadExtraction,
                156 => Outcome::PayloadDownload,
                _ => Outcome::Usage,
            },
            Self::Install(crate::install::InstallError::Locked(_)) => Outcome::Locked,
            Self::Install(crate::install::InstallError::Invalid(_)) => Outcome::BadInput,
            Self::Install(_) => Outcome::Failure,
            Self::Busy(crate::state::LockError::Busy(_)) => Outcome::OperationLocked,
            Self::Repositories(crate::repositories::RepositoriesError::Write { .. }) => {
                Outcome::CannotWrite
            }
        }
    }
}

/// The world a command runs in: the clock reading and the environment, taken once by `main`.
#[derive(Debug, Clone)]
pub struct Context {
    /// The current time.
    pub now: DateTime<Utc>,
    /// Environment variables.
    pub env: HashMap<String, String>,
    /// The long steps' timings.
    pub steps: StepLog,
}

impl Context {
    /// The world of `main`: now, the process environment, slow steps reported on stderr when
    /// it is a terminal.
    pub fn from_process() -> Self {
        use std::io::IsTerminal as _;
        Self {
            now: Utc::now(),
            env: std::env::vars().collect(),
            steps: StepLog {
                terminal: std::io::stderr().is_terminal(),
                every: std::env::var_os("PATCH_BASELINE_STEP_TIMES").is_some_and(|v| v == "1"),
                ..StepLog::default()
            },
        }
    }
}

/// The long steps of an operation (metadata refresh, package download, install, upload),
/// timed: one line each, `2026-12-02T01:02:03Z refresh: 3.2 s`. At a terminal a step that took a
/// second or more is written to stderr as it ends (the user sees what takes time; scripts and
/// pipes get only the one-line errors); `run` collects them all for its Run Command output.
#[derive(Debug, Clone, Default)]
pub struct StepLog {
    collect: bool,
    terminal: bool,
    /// `PATCH_BASELINE_STEP_TIMES=1`: every step to stderr as it ends, in milliseconds
    /// (`step install: 1234 ms`), for the benchmarks to tell the package manager's time
    /// from ours.
    every: bool,
    lines: std::cell::RefCell<Vec<String>>,
}

impl StepLog {
    /// A log that keeps every step's line for the caller.
    pub fn collecting() -> Self {
        Self {
            collect: true,
            ..Self::default()
        }
    }

    /// Runs `step`, timing it as `name`.
    pub fn time<T>(&self, name: &str, step: impl FnOnce() -> T) -> T {
        let started = Utc::now();
        let clock = std::time::Instant::now();
        let value = step();
        let took = clock.elapsed();
        let line = format!(
            "{} {name}: {:.1} s",
            started.format("%Y-%m-%dT%H:%M:%SZ"),
            took.as_secs_f64()
        );
        if self.every {
            let _ = writeln!(std::io::stderr(), "step {name}: {} ms", took.as_millis());
        }
        if self.collect {
            self.lines.borrow_mut().push(line);
        } else if self.terminal && took >= std::time::Duration::from_secs(1) {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        value
    }

    /// The collected lines.
    pub fn lines(&self) -> Vec<String> {
        self.lines.borrow().clone()
    }
}

pub(crate) fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes an output file atomically (see [`crate::state::write_atomically`]).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    crate::state::write_atomically_unnamed(path, bytes).map_err(|source| CliError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads a baseline from a file, or from the built-ins when `spec` names one and no such file
/// exists.
pub fn load_baseline(spec: &str) -> Result<Baseline, CliError> {
    let path = Path::new(spec);
    if !path.exists()
        && let Some(builtin) = find_builtin(spec)
    {
        return Ok(builtin.load()?);
    }
    let text = read(path)?;
    Ok(Baseline::from_json(&text, spec)?)
}

pub(crate) fn valid_instance_id(id: &str) -> bool {
    let word = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if let Some(rest) = id.strip_prefix("i-") {
        (rest.len() == 8 || rest.len() == 17) && word(rest)
    } else if let Some(rest) = id.strip_prefix("mi-") {
        rest.len() == 17 && word(rest)
    } else {
        false
    }
}

pub(crate) fn write_out(stdout: &mut dyn Write, text: &str) -> Result<(), CliError> {
    writeln!(stdout, "{text}").map_err(|source| CliError::Write {
        path: PathBuf::from("<stdout>"),
        source,
    })
}

/// The packages of an earlier `NoReboot` install still waiting for a reboot: those recorded as
/// pending when the machine has not booted since the last such install.
pub(crate) fn still_pending(
    states: &crate::state::PatchStates,
    boot: Option<DateTime<Utc>>,
) -> Vec<crate::inventory::PendingRebootPackage> {
    let waiting = match (states.last_no_reboot_install(), boot) {
        (Some(last), Some(boot)) => boot < last,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if !waiting {
        return Vec::new();
    }
    states
        .patch_states
        .iter()
        .filter(|(_, recorded)| {
            recorded.state == crate::model::PatchState::InstalledPendingReboot.as_str()
        })
        .filter_map(|(title, recorded)| {
            let (name, arch) = recorded.id.rsplit_once('.')?;
            // apt names foreign-architecture packages `name:arch` in its items.
            let name = name.strip_suffix(&format!(":{arch}")).unwrap_or(name);
            let version = title.strip_prefix(&format!("{}:", recorded.id))?;
            Some(crate::inventory::PendingRebootPackage {
                name: name.to_string(),
                arch: arch.to_string(),
                version: version.to_string(),
            })
        })
        .collect()
}

/// What one run is: its operation, override list, reboot option and the warnings so far.
pub(crate) struct RunInfo<'a> {
    operation: Operation,
    override_list: Option<&'a (InstallOverrideList, String)>,
    warnings: Vec<String>,
    reboot_option: &'static str,
    /// Where to record the run (`scan`/`install`), and the LastNoRebootInstallOperationTime.
    state: Option<(&'a crate::state::StatePaths, Option<DateTime<Utc>>)>,
    /// The baseline `--baseline` names, when the operation already loaded it (for its sources).
    baseline: Option<&'a Baseline>,
    /// The system scanned (`scan`, `install`), where `--report` may discover the instance id.
    system_root: Option<&'a Path>,
    /// The updates an install deferred to the next maintenance window.
    deferred: &'a [(String, String)],
    /// An install's maintenance window: the summary line and the JSON document's
    /// `maintenanceWindow`.
    window: Option<(String, serde_json::Value)>,
}

/// The managed instance id a hybrid node's SSM agent wrote when it registered
/// (`var/lib/amazon/ssm/registration` under `root`: `{"ManagedInstanceID": "mi-…", "Region": …}`).
fn registered_instance_id(root: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("var/lib/amazon/ssm/registration")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["ManagedInstanceID"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(ToString::to_string)
}

/// The instance id of the system under `root`: its SSM agent's hybrid registration, else, for
/// the host only, IMDS (a mounted image's id is not the host's). `Err` says what was tried.
fn discover_instance_id(root: &Path, context: &Context) -> Result<String, String> {
    if let Some(id) = registered_instance_id(root) {
        return Ok(id);
    }
    let registration = format!(
        "no registration under `{}`",
        root.join("var/lib/amazon/ssm/registration").display()
    );
    if root != Path::new("/") {
        return Err(format!(
            "{registration}; IMDS is not asked for a system under --root"
        ));
    }
    crate::ssm::aws::imds_instance_id(&context.env).map_err(|e| format!("{registration}; {e}"))
}

/// "Now": `--now` (RFC 3339) when given, else the context's time.
pub(crate) fn parse_now(now: Option<&str>, context: &Context) -> Result<DateTime<Utc>, CliError> {
    match now {
        None => Ok(context.now),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| CliError::Usage(format!("--now `{text}` is not an RFC 3339 time: {e}"))),
    }
}

/// The baseline to evaluate `inventory` (read from `source`) against: the one the operation
/// already loaded, else `--baseline`'s, else the built-in one for its operating system.
pub(crate) fn baseline_for<'b>(
    given: Option<&'b Baseline>,
    spec: Option<&str>,
    inventory: &Inventory,
    source: &str,
) -> Result<std::borrow::Cow<'b, Baseline>, CliError> {
    use std::borrow::Cow;
    Ok(match (given, spec) {
        (Some(given), _) => Cow::Borrowed(given),
        (None, Some(spec)) => Cow::Owned(load_baseline(spec)?),
        (None, None) => Cow::Owned(
            builtin_for(inventory.operating_system)
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "no built-in baseline for {} ({source}); pass --baseline",
                        inventory.operating_system
                    ))
                })?
                .load()?,
        ),
    })
}

pub(crate) fn evaluate_and_report(
    inventory: &mut Inventory,
    source: &str,
    args: &ReportSettings,
    run: &RunInfo<'_>,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<(Outcome, crate::evaluate::Counts), CliError> {
    let (operation, override_list) = (run.operation, run.override_list);
    // JSON lists every package, NotApplicable ones too.
    if args.output == OutputFormat::Json {
        inventory.expand_not_installed();
    }
    let inventory: &Inventory = inventory;
    let mut warnings = run.warnings.clone();
    let now = parse_now(args.now.as_deref(), context)?;
    if let Some(id) = &args.snapshot_id
        && uuid::Uuid::try_parse(id)
            .map_or(true, |u| u.hyphenated().to_string() != id.to_lowercase())
    {
        return Err(CliError::Usage(format!(
            "--snapshot-id `{id}` is not a UUID (8-4-4-4-12 hex digits)"
        )));
    }
    let baseline = baseline_for(run.baseline, args.baseline.as_deref(), inventory, source)?;
    let baseline: &Baseline = &baseline;
    if !inventory.sources.is_empty() {
        warnings.push(format!(
            "available packages come from the baseline's sources only ({}), not the machine's own repositories",
            inventory.sources.join(", ")
        ));
    }
    warnings.extend(
        baseline
            .unknown_values
            .iter()
            .map(|e| format!("{e}; evaluated as AWS does: this value matches no package")),
    );
    let warnings = &warnings;
    let mut instance_id = args
        .instance_id
        .clone()
        .or_else(|| inventory.instance_id.clone())
        .or_else(|| context.env.get("AWS_SSM_INSTANCE_ID").cloned());
    // `--report` on a node: the hybrid registration, then (the host only) IMDS.
    let mut not_discovered = String::from("no system was scanned");
    if args.report.is_some()
        && instance_id.is_none()
        && let Some(root) = run.system_root
    {
        match discover_instance_id(root, context) {
            Ok(id) => instance_id = Some(id),
            Err(why) => not_discovered = why,
        }
    }
    if let Some(id) = &instance_id
        && !valid_instance_id(id)
    {
        return Err(CliError::Usage(format!(
            "instance id `{id}` is not of the form i-xxxxxxxx, i-xxxxxxxxxxxxxxxxx or mi-xxxxxxxxxxxxxxxxx"
        )));
    }
    let options = EvaluateOptions {
        now,
        operation,
        override_list: override_list.map(|(list, _)| list),
        deferred: run.deferred,
    };
    let evaluation = evaluate(inventory, baseline, &options)?;

    let report_context = ReportContext {
        instance_id: instance_id.clone().unwrap_or_default(),
        snapshot_id: args
            .snapshot_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        execution_id: context
            .env
            .get("SSM_COMMAND_ID")
            .cloned()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        patch_group: baseline.patch_group.clone(),
        start: now,
        end: if args.now.is_some() {
            now
        } else {
            context.now.max(now)
        },
        reboot_option: run.reboot_option.into(),
        install_override_list: (operation == Operation::Install)
            .then(|| override_list.map(|(_, url)| url.clone()))
            .flatten(),
        last_no_reboot_install: run.state.and_then(|(_, last)| last),
    };
    if let Some(path) = &args.report {
        if instance_id.is_none() {
            return Err(CliError::Usage(format!(
                "--report needs an instance id: pass --instance-id, put `instanceId` in the \
                 inventory, or set AWS_SSM_INSTANCE_ID; a hybrid node's SSM agent registration \
                 (var/lib/amazon/ssm/registration) and, on the host, EC2's instance metadata \
                 are asked too ({not_discovered})"
            )));
        }
        let request = put_inventory_request(&evaluation, &report_context);
        let mut bytes = serde_json::to_vec_pretty(&request).map_err(|e| CliError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        write_atomically(path, &bytes)?;
    }
    if let Some(path) = &args.html {
        let page = crate::report::render_html(&evaluation, &report_context, warnings);
        write_atomically(path, page.as_bytes())?;
    }
    if let Some(path) = &args.prometheus {
        let metrics = crate::report::render_prometheus(&evaluation, &report_context);
        write_atomically(path, metrics.as_bytes())?;
    }

    match args.output {
        OutputFormat::Table => {
            let mut text = render_table(&evaluation, args.all);
            if let Some((line, _)) = &run.window {
                let _ = writeln!(text, "{line}");
            }
            for warning in warnings {
                let _ = writeln!(text, "warning: {warning}");
            }
            write_out(stdout, text.trim_end())?;
        }
        OutputFormat::Run => {
            let mut text = crate::report::render_run(&evaluation);
            if let Some((line, _)) = &run.window {
                let _ = writeln!(text, "{line}");
            }
            for warning in warnings {
                let _ = writeln!(text, "warning: {warning}");
            }
            write_out(stdout, text.trim_end())?;
        }
        OutputFormat::Html => {
            let page = crate::report::render_html(&evaluation, &report_context, warnings);
            write_out(stdout, page.trim_end())?;
        }
        OutputFormat::Prometheus => {
            // Warnings are not metrics: they go to stderr.
            for warning in warnings {
                let _ = writeln!(std::io::stderr(), "warning: {warning}");
            }
            let metrics = crate::report::render_prometheus(&evaluation, &report_context);
            write_out(stdout, metrics.trim_end())?;
        }
        OutputFormat::Json => {
            let mut document = evaluation_json(&evaluation);
            document["warnings"] = serde_json::json!(warnings);
            document["sources"] = serde_json::json!(inventory.sources);
            if let Some((_, window)) = &run.window {
                document["maintenanceWindow"] = window.clone();
            }
            let text = serde_json::to_string_pretty(&document).map_err(|e| CliError::Write {
                path: PathBuf::from("<stdout>"),
                source: std::io::Error::other(e),
            })?;
            write_out(stdout, &text)?;
        }
    }
    if let Some((paths, last_no_reboot)) = run.state {
        let max_bytes = crate::history::max_bytes(&context.env);
        // The history is read and the run's record worked out while the state files are
        // written (each write waits for the disk); the record is written only once they are.
        let (written, history) = std::thread::scope(|scope| {
            let writing =
                scope.spawn(|| record_state(&evaluation, &report_context, paths, last_no_reboot));
            let history = crate::history::prepare(&evaluation, &report_context, paths, max_bytes);
            (writing.join(), history)
        });
        match written {
            Ok(written) => written?,
            Err(panic) => std::panic::resume_unwind(panic),
        }
        for warning in history.commit() {
            let _ = writeln!(std::io::stderr(), "warning: history: {warning}");
        }
    }
    let counts = evaluation.counts();
    if args.fail_on_non_compliant && !evaluation.is_compliant() {
        return Ok((Outcome::NonCompliant, counts));
    }
    Ok((Outcome::Success, counts))
}

/// Records a run in the on-host state files: every installed-type package with its state, the
/// LastNoRebootInstallOperationTime, and the summary item (spec §4.4, §5.2).
pub(crate) fn record_state(
    evaluation: &crate::evaluate::Evaluation<'_>,
    context: &ReportContext,
    paths: &crate::state::StatePaths,
    last_no_reboot: Option<DateTime<Utc>>,
) -> Result<(), CliError> {
    use crate::state::{PatchStates, RecordedState, to_epoch};
    let family = evaluation.package_manager.family();
    let mut states = PatchStates {
        last_no_reboot_install_operation_time: last_no_reboot.map_or(0.0, to_epoch),
        ..PatchStates::default()
    };
    for decision in evaluation
        .decisions
        .iter()
        .filter(|d| d.state.shows_installed_version())
    {
        states.patch_states.insert(
            crate::report::item_title(family, decision),
            RecordedState {
                id: decision.id(),
                installed_time: decision.installed_time().map(to_epoch),
                state: decision.state.as_str().to_string(),
            },
        );
    }
    let states_bytes = states.to_bytes().map_err(CliError::State)?;
    let summary = crate::report::patch_summary_item(evaluation, context);
    let mut bytes = serde_json::to_vec_pretty(&summary)
        .map_err(|e| CliError::State(std::io::Error::other(e)))?;
    bytes.push(b'\n');
    let (states_path, inventory_path) = (paths.states(), paths.last_inventory());
    for parent in [&states_path, &inventory_path]
        .into_iter()
        .filter_map(|p| p.parent())
    {
        std::fs::create_dir_all(parent).map_err(CliError::State)?;
    }
    // Both files or neither: they are replaced together, their waits for the disk overlapping.
    crate::state::write_atomically_all(&[(&states_path, &states_bytes), (&inventory_path, &bytes)])
        .map_err(CliError::State)
}
