//! The command line: clap definitions ("low args"), validation into settings, and the
//! effectful shell that reads files, takes "now" and the environment from the caller, runs the
//! pure core and writes outputs.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use crate::baseline::{BUILTIN_BASELINES, Baseline, BaselineError, builtin_for, find_builtin};
use crate::evaluate::{EvaluateError, EvaluateOptions, Operation, evaluate};
use crate::exit::Outcome;
use crate::inventory::{Inventory, InventoryError};
use crate::pattern::{InstallOverrideList, OverrideListError};
use crate::platform::{OsRelease, detect};
use crate::report::{ReportContext, evaluation_json, put_inventory_request, render_table};

/// patch-baseline: evaluate AWS patch baselines against Linux machines, natively.
#[derive(Debug, Parser)]
#[command(name = "patch-baseline", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A readable table.
    Table,
    /// One JSON document.
    Json,
}

/// The operation an evaluation reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OperationArg {
    /// Report only.
    #[value(name = "Scan")]
    Scan,
    /// Report after an install: approved updates still missing are Failed.
    #[value(name = "Install")]
    Install,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan this system (or the one installed under --root) and report its compliance.
    Scan(ScanArgs),
    /// Install the approved missing updates, then report compliance as an Install.
    Install(InstallArgs),
    /// Evaluate a recorded inventory (JSON) against a baseline, offline.
    Evaluate(EvaluateArgs),
    /// Work with one baseline file.
    Baseline {
        /// What to do with it.
        #[command(subcommand)]
        command: BaselineCommand,
    },
    /// The predefined AWS baselines built into this binary.
    Baselines {
        /// What to do with them.
        #[command(subcommand)]
        command: BaselinesCommand,
    },
}

/// `baseline …`
#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Check baseline files (API or snapshot shape); prints one line per file.
    Validate {
        /// Baseline files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `baselines …`
#[derive(Debug, Subcommand)]
pub enum BaselinesCommand {
    /// List the built-in baselines and mark the one for the detected OS.
    List {
        /// The system to detect: the root of an installed system (default `/`).
        #[arg(long, default_value = "/")]
        root: PathBuf,
    },
    /// Print a built-in baseline's JSON.
    Show {
        /// Its AWS name, e.g. AWS-UbuntuDefaultPatchBaseline.
        name: String,
    },
}

/// Options shared by `scan` and `evaluate`: the baseline, time, output and report.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A baseline file (API or snapshot shape) or a built-in baseline's name; default: the
    /// built-in baseline for the operating system.
    #[arg(long)]
    pub baseline: Option<String>,
    /// "Now", RFC 3339 (e.g. 2024-06-01T00:00:00Z); default: the current time.
    #[arg(long)]
    pub now: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Also list compliant packages in the table.
    #[arg(long)]
    pub all: bool,
    /// Write the PutInventory request (`aws ssm put-inventory --cli-input-json file://FILE`).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Instance id for the report; default: the inventory's, else $AWS_SSM_INSTANCE_ID.
    #[arg(long)]
    pub instance_id: Option<String>,
    /// Snapshot id for the report; default: a new UUID.
    #[arg(long)]
    pub snapshot_id: Option<String>,
    /// Exit 4 when anything is non-compliant.
    #[arg(long)]
    pub fail_on_non_compliant: bool,
}

/// Which system `scan` and `install` work on, and how its metadata is refreshed.
#[derive(Debug, clap::Args)]
pub struct SystemArgs {
    /// The root of the system (the host by default; a mounted image, a chroot).
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// Do not refresh the package metadata first (`apt-get update`).
    #[arg(long)]
    pub no_refresh: bool,
    /// Seconds the refresh may take before it is stopped (the run goes on with what the
    /// package manager already has).
    #[arg(long, default_value_t = 300)]
    pub refresh_timeout: u64,
}

impl SystemArgs {
    /// The refresh time bound, `None` with `--no-refresh`.
    fn refresh(&self) -> Option<u64> {
        (!self.no_refresh).then_some(self.refresh_timeout)
    }
}

/// `scan …`
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// The system.
    #[command(flatten)]
    pub system: SystemArgs,
    /// Also write the inventory that was scanned (the `evaluate --inventory` format).
    #[arg(long)]
    pub save_inventory: Option<PathBuf>,
    /// Baseline, time, output and report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `RebootOption` of AWS-RunPatchBaseline, plus ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RebootOptionArg {
    /// Reboot when this run installed anything or earlier installs await a reboot.
    #[value(name = "RebootIfNeeded")]
    RebootIfNeeded,
    /// Never reboot.
    #[value(name = "NoReboot")]
    NoReboot,
    /// Reboot only when the OS says a reboot is needed.
    #[value(name = "RebootIfRequired")]
    RebootIfRequired,
}

impl RebootOptionArg {
    /// The AWS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RebootIfNeeded => "RebootIfNeeded",
            Self::NoReboot => "NoReboot",
            Self::RebootIfRequired => "RebootIfRequired",
        }
    }
}

/// `install …`
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The system.
    #[command(flatten)]
    pub system: SystemArgs,
    /// The reboot behaviour (reported in the summary; rebooting arrives with the reboot layer).
    #[arg(long, value_enum, default_value_t = RebootOptionArg::RebootIfNeeded)]
    pub reboot_option: RebootOptionArg,
    /// An install override list file (YAML or JSON): install only the updates it names.
    #[arg(long)]
    pub install_override_list: Option<String>,
    /// Print the install plan and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds to wait for another package manager to release dpkg's lock.
    #[arg(long, default_value_t = 120)]
    pub lock_timeout: u64,
    /// Baseline, time, output and report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `evaluate …`
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// The inventory file (format in the README).
    #[arg(long)]
    pub inventory: PathBuf,
    /// The operation to report.
    #[arg(long, value_enum, default_value_t = OperationArg::Scan)]
    pub operation: OperationArg,
    /// An install override list file (YAML or JSON); Install only.
    #[arg(long)]
    pub install_override_list: Option<PathBuf>,
    /// Baseline, time, output and report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

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
    /// The system is not one this build can scan.
    #[error("{0}")]
    Unsupported(String),
    /// The package manager failed or is busy.
    #[error(transparent)]
    Install(#[from] crate::apt::install::AptInstallError),
}

impl CliError {
    /// The outcome (and so the exit code) of this error.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Usage(_) => Outcome::Usage,
            Self::Read { .. } | Self::Apt(_) => Outcome::NoInput,
            Self::Write { .. } => Outcome::CannotWrite,
            Self::Baseline(_) | Self::Inventory(_) | Self::OverrideList(_) | Self::Evaluate(_) => {
                Outcome::BadInput
            }
            Self::Unsupported(_) => Outcome::Unsupported,
            Self::Install(crate::apt::install::AptInstallError::Locked(_)) => Outcome::Locked,
            Self::Install(crate::apt::install::AptInstallError::Invalid(_)) => Outcome::BadInput,
            Self::Install(_) => Outcome::Failure,
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
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a file atomically: a temporary file beside it, flushed, then renamed over it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let error = |source| CliError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp.{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(error)
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

fn valid_instance_id(id: &str) -> bool {
    let word = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if let Some(rest) = id.strip_prefix("i-") {
        (rest.len() == 8 || rest.len() == 17) && word(rest)
    } else if let Some(rest) = id.strip_prefix("mi-") {
        rest.len() == 17 && word(rest)
    } else {
        false
    }
}

/// Runs a parsed command, writing normal output to `stdout`.
pub fn run(cli: Cli, context: &Context, stdout: &mut dyn Write) -> Result<Outcome, CliError> {
    match cli.command {
        Command::Scan(args) => run_scan(&args, context, stdout),
        Command::Install(args) => run_install(&args, context, stdout),
        Command::Evaluate(args) => run_evaluate(&args, context, stdout),
        Command::Baseline {
            command: BaselineCommand::Validate { files },
        } => run_validate(&files, stdout),
        Command::Baselines {
            command: BaselinesCommand::List { root },
        } => run_list(&root, stdout),
        Command::Baselines {
            command: BaselinesCommand::Show { name },
        } => {
            let builtin = find_builtin(&name).ok_or_else(|| {
                CliError::Usage(format!(
                    "no built-in baseline `{name}` (see `patch-baseline baselines list`)"
                ))
            })?;
            write_out(stdout, builtin.json.trim_end())?;
            Ok(Outcome::Success)
        }
    }
}

fn write_out(stdout: &mut dyn Write, text: &str) -> Result<(), CliError> {
    writeln!(stdout, "{text}").map_err(|source| CliError::Write {
        path: PathBuf::from("<stdout>"),
        source,
    })
}

fn run_validate(files: &[PathBuf], stdout: &mut dyn Write) -> Result<Outcome, CliError> {
    let mut first_error = None;
    for file in files {
        let spec = file.to_string_lossy();
        match load_baseline(&spec) {
            Ok(baseline) => write_out(
                stdout,
                &format!(
                    "ok: {}: {} ({}), {} rule(s)",
                    file.display(),
                    if baseline.name.is_empty() {
                        "(unnamed)"
                    } else {
                        &baseline.name
                    },
                    baseline.operating_system,
                    baseline.rules.len()
                ),
            )?,
            Err(error) => {
                write_out(stdout, &format!("invalid: {error}"))?;
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(Outcome::Success),
    }
}

fn run_list(root: &Path, stdout: &mut dyn Write) -> Result<Outcome, CliError> {
    let detected = OsRelease::from_root(root).ok().and_then(|os| detect(&os));
    let mut text = String::new();
    for builtin in BUILTIN_BASELINES {
        let marker = if detected
            .as_ref()
            .is_some_and(|p| p.operating_system == builtin.operating_system)
        {
            "*"
        } else {
            " "
        };
        let id = builtin.load().map(|b| b.id).unwrap_or_default();
        let _ = writeln!(
            text,
            "{marker} {:<42} {:<24} {id}",
            builtin.name,
            builtin.operating_system.as_aws()
        );
    }
    let _ = match &detected {
        Some(p) => write!(
            text,
            "* applies to this system: {} ({}, {})",
            p.product,
            p.operating_system,
            p.package_manager.as_str()
        ),
        None => write!(
            text,
            "no supported Linux detected under `{}` (no usable etc/os-release)",
            root.display()
        ),
    };
    write_out(stdout, &text)?;
    Ok(Outcome::Success)
}

/// Detects the system under `root`, refreshes its metadata unless told not to, and scans it.
fn scan_system(
    root: &Path,
    refresh: Option<u64>,
    context: &Context,
    warnings: &mut Vec<String>,
) -> Result<Inventory, CliError> {
    let os = OsRelease::from_root(root).map_err(|e| CliError::Read {
        path: root.join("etc/os-release"),
        source: e,
    })?;
    let platform = detect(&os).ok_or_else(|| {
        CliError::Unsupported(format!(
            "`{}` is not a Linux that Patch Manager supports (etc/os-release ID `{}`)",
            root.display(),
            os.get("ID").unwrap_or("")
        ))
    })?;
    if platform.package_manager != crate::model::PackageManagerKind::Apt {
        return Err(CliError::Unsupported(format!(
            "scanning {} ({}) systems is not implemented yet; only apt systems are",
            platform.product,
            platform.package_manager.as_str()
        )));
    }
    if let Some(timeout) = refresh {
        warnings.extend(refresh_apt(root, timeout));
    }
    let scan = crate::apt::scan(root, &platform)?;
    warnings.extend(scan.warnings);
    let mut inventory = scan.inventory;
    inventory.instance_id = context.env.get("AWS_SSM_INSTANCE_ID").cloned();
    Ok(inventory)
}

fn run_scan(
    args: &ScanArgs,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let mut warnings = Vec::new();
    let inventory = scan_system(
        &args.system.root,
        args.system.refresh(),
        context,
        &mut warnings,
    )?;
    if let Some(path) = &args.save_inventory {
        let mut bytes = serde_json::to_vec(&inventory).map_err(|e| CliError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        write_atomically(path, &bytes)?;
    }
    let source = format!("the system under `{}`", args.system.root.display());
    let run = RunInfo {
        operation: Operation::Scan,
        override_list: None,
        warnings,
        reboot_option: "RebootIfNeeded",
    };
    evaluate_and_report(&inventory, &source, &args.report, &run, context, stdout)
}

fn run_install(
    args: &InstallArgs,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    use crate::apt::install::{Apt, Target, block_rejected};
    use crate::exec::SystemRunner;
    let override_list = match &args.install_override_list {
        Some(url) if url.starts_with("https://") || url.starts_with("s3://") => {
            return Err(CliError::Unsupported(format!(
                "downloading `{url}` arrives with `run`; pass a local override list file"
            )));
        }
        Some(path) => Some((
            InstallOverrideList::parse(&read(Path::new(path))?, path)?,
            path.clone(),
        )),
        None => None,
    };
    let mut warnings = Vec::new();
    let before = scan_system(
        &args.system.root,
        args.system.refresh(),
        context,
        &mut warnings,
    )?;
    let baseline = match &args.report.baseline {
        Some(spec) => load_baseline(spec)?,
        None => builtin_for(before.operating_system)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "no built-in baseline for {}",
                    before.operating_system
                ))
            })?
            .load()?,
    };
    let scan = evaluate(
        &before,
        &baseline,
        &EvaluateOptions {
            now: context.now,
            operation: Operation::Scan,
            override_list: None,
        },
    )?;
    let plan = scan.install_plan(override_list.as_ref().map(|(list, _)| list));
    if args.dry_run {
        let text = match args.report.output {
            OutputFormat::Json => {
                serde_json::to_string_pretty(&serde_json::json!({ "plan": plan }))
                    .unwrap_or_default()
            }
            OutputFormat::Table => {
                let mut text = format!("install plan: {} update(s)\n", plan.len());
                for update in &plan {
                    let _ = writeln!(
                        text,
                        "  {}.{} {} -> {}: {}",
                        update.name,
                        update.arch,
                        update.from_version,
                        update.version,
                        update.reason
                    );
                }
                text
            }
        };
        write_out(stdout, text.trim_end())?;
        return Ok(Outcome::Success);
    }
    let apt = Apt::new(&args.system.root);
    let lock_timeout = std::time::Duration::from_secs(args.lock_timeout);
    let targets: Vec<Target> = plan
        .iter()
        .map(|p| Target {
            name: p.name.clone(),
            arch: p.arch.clone(),
            version: p.version.clone(),
        })
        .collect();
    let (targets, blocked) = if baseline.rejected_action == crate::baseline::RejectedAction::Block {
        block_rejected(
            &apt,
            &SystemRunner,
            targets,
            &baseline.rejected_patches,
            lock_timeout,
        )?
    } else {
        (targets, Vec::new())
    };
    for (target, rejected) in &blocked {
        warnings.push(format!(
            "not installed: {}.{} {} would bring in {rejected}, which RejectedPatches blocks",
            target.name, target.arch, target.version
        ));
    }
    if !targets.is_empty() {
        apt.install(&SystemRunner, &targets, lock_timeout)?;
    }
    if let Some(packages) = apt.reboot_required() {
        warnings.push(format!(
            "the system asks for a reboot (run/reboot-required{}{})",
            if packages.is_empty() { "" } else { ": " },
            packages.join(", ")
        ));
    }
    drop(scan);
    let after = scan_system(&args.system.root, None, context, &mut warnings)?;
    let source = format!("the system under `{}`", args.system.root.display());
    let run = RunInfo {
        operation: Operation::Install,
        override_list: override_list.as_ref(),
        warnings,
        reboot_option: args.reboot_option.as_str(),
    };
    evaluate_and_report(&after, &source, &args.report, &run, context, stdout)
}

/// Runs `apt-get update` for the system under `root`; returns warnings (failed repositories,
/// a failed or stopped refresh). The scan goes on with whatever lists apt has.
fn refresh_apt(root: &Path, timeout: u64) -> Vec<String> {
    use crate::exec::{Runner, SystemRunner};
    let spec = crate::apt::install::Apt::new(root).update(std::time::Duration::from_secs(timeout));
    match SystemRunner.run(&spec) {
        Err(error) => vec![format!(
            "metadata refresh skipped: {error}; using the lists apt already has"
        )],
        Ok(captured) => {
            let mut warnings: Vec<String> = String::from_utf8_lossy(&captured.stdout)
                .lines()
                .chain(String::from_utf8_lossy(&captured.stderr).lines())
                .filter(|line| {
                    line.starts_with("Err:")
                        || line.starts_with("E:")
                        || line.starts_with("W: Failed to fetch")
                })
                .map(|line| format!("metadata refresh: {}", line.trim()))
                .collect();
            if captured.code != Some(0) {
                warnings.push(format!(
                    "{spec} exited with {}; scanning with the lists apt already has",
                    captured
                        .code
                        .map_or_else(|| "a signal".to_string(), |c| c.to_string())
                ));
            }
            warnings
        }
    }
}

fn run_evaluate(
    args: &EvaluateArgs,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let operation = match args.operation {
        OperationArg::Scan => Operation::Scan,
        OperationArg::Install => Operation::Install,
    };
    if args.install_override_list.is_some() && operation == Operation::Scan {
        return Err(CliError::Usage(
            "--install-override-list applies to --operation Install only".into(),
        ));
    }
    let inventory_name = args.inventory.to_string_lossy().into_owned();
    let inventory = Inventory::from_json(&read(&args.inventory)?, &inventory_name)?;
    let override_list = match &args.install_override_list {
        Some(path) => Some((
            InstallOverrideList::parse(&read(path)?, &path.to_string_lossy())?,
            path.to_string_lossy().into_owned(),
        )),
        None => None,
    };
    let run = RunInfo {
        operation,
        override_list: override_list.as_ref(),
        warnings: Vec::new(),
        reboot_option: "RebootIfNeeded",
    };
    evaluate_and_report(
        &inventory,
        &inventory_name,
        &args.report,
        &run,
        context,
        stdout,
    )
}

/// What one run is: its operation, override list, reboot option and the warnings so far.
struct RunInfo<'a> {
    operation: Operation,
    override_list: Option<&'a (InstallOverrideList, String)>,
    warnings: Vec<String>,
    reboot_option: &'static str,
}

fn evaluate_and_report(
    inventory: &Inventory,
    source: &str,
    args: &ReportArgs,
    run: &RunInfo<'_>,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let (operation, override_list, warnings) = (run.operation, run.override_list, &run.warnings);
    let now = match &args.now {
        None => context.now,
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| CliError::Usage(format!("--now `{text}` is not an RFC 3339 time: {e}")))?,
    };
    if let Some(id) = &args.snapshot_id
        && uuid::Uuid::try_parse(id)
            .map_or(true, |u| u.hyphenated().to_string() != id.to_lowercase())
    {
        return Err(CliError::Usage(format!(
            "--snapshot-id `{id}` is not a UUID (8-4-4-4-12 hex digits)"
        )));
    }
    let baseline = match &args.baseline {
        Some(spec) => load_baseline(spec)?,
        None => builtin_for(inventory.operating_system)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "no built-in baseline for {} ({source}); pass --baseline",
                    inventory.operating_system
                ))
            })?
            .load()?,
    };
    let instance_id = args
        .instance_id
        .clone()
        .or_else(|| inventory.instance_id.clone())
        .or_else(|| context.env.get("AWS_SSM_INSTANCE_ID").cloned());
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
    };
    let evaluation = evaluate(inventory, &baseline, &options)?;

    if let Some(path) = &args.report {
        let instance_id = instance_id.ok_or_else(|| {
            CliError::Usage(
                "--report needs an instance id: pass --instance-id, put `instanceId` in the \
                 inventory, or set AWS_SSM_INSTANCE_ID"
                    .into(),
            )
        })?;
        let report_context = ReportContext {
            instance_id,
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
            last_no_reboot_install: None,
        };
        let request = put_inventory_request(&evaluation, &report_context);
        let mut bytes = serde_json::to_vec_pretty(&request).map_err(|e| CliError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        write_atomically(path, &bytes)?;
    }

    match args.output {
        OutputFormat::Table => {
            let mut text = render_table(&evaluation, args.all);
            for warning in warnings {
                let _ = writeln!(text, "warning: {warning}");
            }
            write_out(stdout, text.trim_end())?;
        }
        OutputFormat::Json => {
            let mut document = evaluation_json(&evaluation);
            document["warnings"] = serde_json::json!(warnings);
            let text = serde_json::to_string_pretty(&document).map_err(|e| CliError::Write {
                path: PathBuf::from("<stdout>"),
                source: std::io::Error::other(e),
            })?;
            write_out(stdout, &text)?;
        }
    }
    if args.fail_on_non_compliant && !evaluation.is_compliant() {
        return Ok(Outcome::NonCompliant);
    }
    Ok(Outcome::Success)
}
