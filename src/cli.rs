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

/// `evaluate …`
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// The inventory file (format in the README).
    #[arg(long)]
    pub inventory: PathBuf,
    /// A baseline file (API or snapshot shape) or a built-in baseline's name; default: the
    /// built-in baseline for the inventory's operating system.
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
    /// The operation to report.
    #[arg(long, value_enum, default_value_t = OperationArg::Scan)]
    pub operation: OperationArg,
    /// An install override list file (YAML or JSON); Install only.
    #[arg(long)]
    pub install_override_list: Option<PathBuf>,
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
}

impl CliError {
    /// The outcome (and so the exit code) of this error.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Usage(_) => Outcome::Usage,
            Self::Read { .. } => Outcome::NoInput,
            Self::Write { .. } => Outcome::CannotWrite,
            Self::Baseline(_) | Self::Inventory(_) | Self::OverrideList(_) | Self::Evaluate(_) => {
                Outcome::BadInput
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

fn run_evaluate(
    args: &EvaluateArgs,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let now = match &args.now {
        None => context.now,
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| CliError::Usage(format!("--now `{text}` is not an RFC 3339 time: {e}")))?,
    };
    let operation = match args.operation {
        OperationArg::Scan => Operation::Scan,
        OperationArg::Install => Operation::Install,
    };
    if args.install_override_list.is_some() && operation == Operation::Scan {
        return Err(CliError::Usage(
            "--install-override-list applies to --operation Install only".into(),
        ));
    }
    if let Some(id) = &args.snapshot_id
        && uuid::Uuid::try_parse(id)
            .map_or(true, |u| u.hyphenated().to_string() != id.to_lowercase())
    {
        return Err(CliError::Usage(format!(
            "--snapshot-id `{id}` is not a UUID (8-4-4-4-12 hex digits)"
        )));
    }
    let inventory_name = args.inventory.to_string_lossy().into_owned();
    let inventory = Inventory::from_json(&read(&args.inventory)?, &inventory_name)?;
    let baseline = match &args.baseline {
        Some(spec) => load_baseline(spec)?,
        None => builtin_for(inventory.operating_system)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "no built-in baseline for {}; pass --baseline",
                    inventory.operating_system
                ))
            })?
            .load()?,
    };
    let override_list = match &args.install_override_list {
        Some(path) => Some(InstallOverrideList::parse(
            &read(path)?,
            &path.to_string_lossy(),
        )?),
        None => None,
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
        override_list: override_list.as_ref(),
    };
    let evaluation = evaluate(&inventory, &baseline, &options)?;

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
            reboot_option: "RebootIfNeeded".into(),
            install_override_list: (operation == Operation::Install)
                .then(|| {
                    args.install_override_list
                        .as_ref()
                        .map(|p| p.to_string_lossy().into_owned())
                })
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
        OutputFormat::Table => write_out(stdout, render_table(&evaluation, args.all).trim_end())?,
        OutputFormat::Json => {
            let text =
                serde_json::to_string_pretty(&evaluation_json(&evaluation)).map_err(|e| {
                    CliError::Write {
                        path: PathBuf::from("<stdout>"),
                        source: std::io::Error::other(e),
                    }
                })?;
            write_out(stdout, &text)?;
        }
    }
    if args.fail_on_non_compliant && !evaluation.is_compliant() {
        return Ok(Outcome::NonCompliant);
    }
    Ok(Outcome::Success)
}
