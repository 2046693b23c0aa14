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
    /// The PatchLinux step of an SSM Command document: snapshot, scan or install, PutInventory,
    /// and the SSM agent's exit codes.
    Run(RunArgs),
    /// Payloads: download, verify and extract.
    Payload {
        /// What to do.
        #[command(subcommand)]
        command: PayloadCommand,
    },
}

/// `payload …`
#[derive(Debug, Subcommand)]
pub enum PayloadCommand {
    /// Download a tar.gz (https, http, s3 or file URL), check its SHA-256 before using a byte,
    /// and extract it safely into DIR (which must not exist or be empty).
    Fetch {
        /// Where the payload is.
        #[arg(long)]
        url: String,
        /// Its SHA-256 (64 hexadecimal digits); mandatory.
        #[arg(long)]
        sha256: String,
        /// The folder to extract into.
        #[arg(long)]
        dest: PathBuf,
        /// The largest download accepted, in MiB.
        #[arg(long, default_value_t = 512)]
        max_download_mib: u64,
        /// The largest total extracted content accepted, in MiB.
        #[arg(long, default_value_t = 2048)]
        max_extracted_mib: u64,
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
    /// The product PRODUCT filters compare (e.g. `AmazonLinux2023`, `Ubuntu22.04`); default:
    /// the one the OS release files give. `run` passes the one SSM returns with the snapshot.
    #[arg(long)]
    pub product: Option<String>,
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

/// `--root` as an absolute path.
fn absolute_root(text: &str) -> Result<PathBuf, String> {
    std::path::absolute(text).map_err(|e| format!("`{text}`: {e}"))
}

/// Which system `scan` and `install` work on, and how its metadata is refreshed.
#[derive(Debug, clap::Args)]
pub struct SystemArgs {
    /// The root of the system (the host by default; a mounted image, a chroot). A relative
    /// path is taken from the current directory (rpm and dnf need it absolute).
    #[arg(long, default_value = "/", value_parser = absolute_root)]
    pub root: PathBuf,
    /// Do not refresh the package metadata first (`apt-get update`).
    #[arg(long)]
    pub no_refresh: bool,
    /// Seconds the refresh may take before it is stopped (the run goes on with what the
    /// package manager already has).
    #[arg(long, default_value_t = 300)]
    pub refresh_timeout: u64,
    /// Seconds to wait for another patch-baseline operation, or another package manager, to
    /// release its lock.
    #[arg(long, default_value_t = 120)]
    pub lock_timeout: u64,
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
    /// Record nothing on the system (no lock, no state files): a one-off check.
    #[arg(long)]
    pub read_only: bool,
    /// The RebootOption the report records for this scan (as AWS-RunPatchBaseline records the
    /// one it was given); a scan never reboots.
    #[arg(long, value_enum, default_value_t = RebootOptionArg::RebootIfNeeded)]
    pub reboot_option: RebootOptionArg,
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
    /// Where the override list came from (the URL `run` downloaded it from), for the report.
    #[arg(skip)]
    pub override_list_source: Option<String>,
    /// Baseline, time, output and report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `run …`: AWS-RunPatchBaseline's parameters (spec §6).
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// `Scan` (report only) or `Install`.
    #[arg(long, value_enum)]
    pub operation: OperationArg,
    /// The snapshot id (a UUID); empty: a new one.
    #[arg(long, default_value = "")]
    pub snapshot_id: String,
    /// An install override list (`https://…` or `s3://BUCKET/KEY`, YAML or JSON); Install only.
    #[arg(long, default_value = "")]
    pub install_override_list: String,
    /// The reboot behaviour of an Install.
    #[arg(long, value_enum, default_value_t = RebootOptionArg::RebootIfNeeded)]
    pub reboot_option: RebootOptionArg,
    /// A BaselineOverride document (`https://…` or `s3://BUCKET/KEY`): a JSON array of
    /// baselines, the one for this OS is used; nothing is uploaded then.
    #[arg(long, default_value = "")]
    pub baseline_override: String,
    /// The system.
    #[command(flatten)]
    pub system: SystemArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
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
}

impl CliError {
    /// The outcome (and so the exit code) of this error.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Usage(_) => Outcome::Usage,
            Self::Read { .. } | Self::Apt(_) | Self::Dnf(_) | Self::Zypper(_) => Outcome::NoInput,
            Self::Write { .. }
            | Self::State(_)
            | Self::Busy(crate::state::LockError::Unavailable { .. }) => Outcome::CannotWrite,
            Self::Baseline(_) | Self::Inventory(_) | Self::OverrideList(_) | Self::Evaluate(_) => {
                Outcome::BadInput
            }
            Self::Unsupported(_) => Outcome::Unsupported,
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

/// Writes an output file atomically (see [`crate::state::write_atomically`]).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    crate::state::write_atomically(path, bytes).map_err(|source| CliError::Write {
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
        Command::Run(args) => run_run(&args, context, stdout),
        Command::Payload {
            command:
                PayloadCommand::Fetch {
                    url,
                    sha256,
                    dest,
                    max_download_mib,
                    max_extracted_mib,
                },
        } => {
            let limits = crate::payload::Limits {
                max_download: max_download_mib << 20,
                max_extracted: max_extracted_mib << 20,
                ..crate::payload::Limits::default()
            };
            // s3:// through the AWS SDK, in the region of the environment (else IMDS).
            let aws = if url.starts_with("s3://") {
                let region = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SSM_REGION_NAME"]
                    .iter()
                    .find_map(|k| context.env.get(*k).filter(|v| !v.is_empty()).cloned());
                let region = match region {
                    Some(region) => region,
                    None => crate::ssm::aws::instance_identity(&context.env)?.1,
                };
                Some(crate::ssm::aws::Aws::new(&region)?)
            } else {
                None
            };
            crate::payload::fetch(
                &url,
                &sha256,
                &dest,
                &limits,
                aws.as_ref().map(|a| a as &dyn crate::payload::S3Fetcher),
            )?;
            write_out(
                stdout,
                &format!("{url}: SHA-256 verified, extracted into {}", dest.display()),
            )?;
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
        match load_baseline(&spec).and_then(|baseline| match baseline.unknown_values.first() {
            // AWS's engine would evaluate it (the value matches nothing); for a baseline being
            // written it is an error.
            Some(unknown) => Err(CliError::from(unknown.clone())),
            None => Ok(baseline),
        }) {
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

/// Where the RPM backends take the available packages from: the metadata cache read natively
/// (default), or the package manager when `PATCH_BASELINE_AVAILABLE_FROM=package-manager`.
fn available_from(context: &Context) -> crate::rpm::system::AvailableFrom {
    if context
        .env
        .get("PATCH_BASELINE_AVAILABLE_FROM")
        .is_some_and(|v| v == "package-manager")
    {
        crate::rpm::system::AvailableFrom::PackageManager
    } else {
        crate::rpm::system::AvailableFrom::Auto
    }
}

/// Detects the system under `root`, refreshes its metadata unless told not to, and scans it.
fn scan_system(
    root: &Path,
    refresh: Option<u64>,
    read_only: bool,
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
    let mut inventory = match platform.package_manager {
        crate::model::PackageManagerKind::Apt => {
            if let Some(timeout) = refresh {
                warnings.extend(refresh_apt(root, timeout));
            }
            let scan = crate::apt::scan(root, &platform)?;
            warnings.extend(scan.warnings);
            scan.inventory
        }
        crate::model::PackageManagerKind::Dnf | crate::model::PackageManagerKind::Yum => {
            use crate::exec::{Runner, SystemRunner};
            let tool = if platform.package_manager == crate::model::PackageManagerKind::Yum {
                crate::dnf::install::Tool::Yum
            } else {
                crate::dnf::install::Tool::Dnf
            };
            if let Some(timeout) = refresh {
                let timeout = std::time::Duration::from_secs(timeout);
                let spec = match tool {
                    crate::dnf::install::Tool::Dnf => crate::dnf::makecache(root, timeout),
                    crate::dnf::install::Tool::Yum => crate::dnf::yum::makecache(root, timeout),
                };
                match SystemRunner.run(&spec) {
                    Ok(c) if c.code == Some(0) => {}
                    Ok(c) => warnings.push(format!(
                        "{spec} exited with {:?}: {}; scanning with the cache it has",
                        c.code,
                        String::from_utf8_lossy(&c.stderr)
                            .lines()
                            .last()
                            .unwrap_or("")
                    )),
                    Err(e) => warnings.push(format!("metadata refresh skipped: {e}")),
                }
            }
            let cache = crate::rpm::cache::MetadataCache::new(root, !read_only);
            crate::dnf::scan(
                &SystemRunner,
                root,
                &platform,
                tool,
                available_from(context),
                &cache,
                warnings,
            )?
        }
        crate::model::PackageManagerKind::Zypper => {
            use crate::exec::{Runner, SystemRunner};
            if let Some(timeout) = refresh {
                let spec = crate::zypper::refresh(root, std::time::Duration::from_secs(timeout));
                match SystemRunner.run(&spec) {
                    Ok(c) => warnings.extend(crate::zypper::refresh_warnings(
                        c.code,
                        &String::from_utf8_lossy(&c.stdout),
                    )),
                    Err(e) => warnings.push(format!("metadata refresh skipped: {e}")),
                }
            }
            let cache = crate::rpm::cache::MetadataCache::new(root, !read_only);
            crate::zypper::scan(
                &SystemRunner,
                root,
                &platform,
                available_from(context),
                &cache,
                warnings,
            )?
        }
    };
    inventory.instance_id = context.env.get("AWS_SSM_INSTANCE_ID").cloned();
    Ok(inventory)
}

/// The packages of an earlier `NoReboot` install still waiting for a reboot: those recorded as
/// pending when the machine has not booted since the last such install.
fn still_pending(
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
        .filter(|(_, recorded)| recorded.state == "InstalledPendingReboot")
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

fn run_scan(
    args: &ScanArgs,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    use crate::state::{OperationLock, PatchStates, StatePaths, boot_time};
    let paths = StatePaths::new(&args.system.root);
    let mut warnings = Vec::new();
    // A scan of a read-only image, or by a user who may not write the state, still runs: it
    // records nothing.
    let acquired = (!args.read_only).then(|| {
        OperationLock::acquire(
            &paths,
            std::time::Duration::from_secs(args.system.lock_timeout),
        )
    });
    let lock = match acquired {
        None => None,
        Some(Ok(lock)) => Some(lock),
        Some(Err(crate::state::LockError::Unavailable { path, source })) => {
            warnings.push(format!(
                "cannot use `{}` ({source}): scanning without recording the state",
                path.display()
            ));
            None
        }
        Some(Err(busy)) => return Err(busy.into()),
    };
    let (states, warning) = PatchStates::load(&paths, context.now);
    warnings.extend(warning);
    let mut inventory = scan_system(
        &args.system.root,
        args.system.refresh(),
        args.read_only,
        context,
        &mut warnings,
    )?;
    inventory.pending_reboot = still_pending(&states, boot_time(&context.env));
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
        reboot_option: args.reboot_option.as_str(),
        state: lock
            .as_ref()
            .map(|_| (&paths, states.last_no_reboot_install())),
    };
    evaluate_and_report(&inventory, &source, &args.report, &run, context, stdout)
        .map(|(outcome, _)| outcome)
}

#[expect(
    clippy::too_many_lines,
    reason = "the install pipeline reads best as one sequence"
)]
fn run_install(
    args: &InstallArgs,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    use crate::exec::SystemRunner;
    use crate::install::Target;
    use crate::state::{
        OperationLock, PatchStates, StatePaths, boot_time, clear_markers, write_marker,
    };
    let paths = StatePaths::new(&args.system.root);
    let lock_timeout = std::time::Duration::from_secs(args.system.lock_timeout);
    let _lock = OperationLock::acquire(&paths, lock_timeout)?;
    let boot = boot_time(&context.env);

    // A reboot requested by an earlier run comes first (spec §7.2).
    let resumed = resume_after_reboot(&paths, boot)?;
    if let Some((outcome, message)) = resumed {
        write_out(stdout, message)?;
        return Ok(outcome);
    }

    let override_list = match &args.install_override_list {
        Some(url) if url.starts_with("https://") || url.starts_with("s3://") => {
            return Err(CliError::Unsupported(format!(
                "downloading `{url}` arrives with `run`; pass a local override list file"
            )));
        }
        Some(path) => {
            let source = args
                .override_list_source
                .clone()
                .unwrap_or_else(|| path.clone());
            Some((
                InstallOverrideList::parse(&read(Path::new(path))?, &source)?,
                source,
            ))
        }
        None => None,
    };
    let mut warnings = Vec::new();
    let (states, warning) = PatchStates::load(&paths, context.now);
    warnings.extend(warning);
    let previously_pending = still_pending(&states, boot);
    let (journal, warning) = crate::state::InstallJournal::load(&paths);
    warnings.extend(warning);
    let before = scan_system(
        &args.system.root,
        args.system.refresh(),
        false,
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
    let block = baseline.rejected_action == crate::baseline::RejectedAction::Block;
    let installer = installer_for(&before, &args.system.root, &baseline, block);
    let targets: Vec<Target> = plan
        .iter()
        .map(|p| Target {
            name: p.name.clone(),
            arch: p.arch.clone(),
            version: p.version.clone(),
        })
        .collect();
    let (targets, blocked) = if block {
        installer.screen_blocked(
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
    // The journal: what this run sets out to install, plus what an interrupted run had set out to.
    let mut journal = journal.unwrap_or_default();
    for target in &targets {
        let entry = (
            target.name.clone(),
            target.arch.clone(),
            target.version.clone(),
        );
        if !journal.targets.contains(&entry) {
            journal.targets.push(entry);
        }
    }
    journal.save(&paths).map_err(CliError::State)?;
    checkpoint(context, "after-plan");
    if !targets.is_empty() {
        installer.download(&SystemRunner, &targets, lock_timeout)?;
    }
    checkpoint(context, "after-download");
    let mut failed_transaction = None;
    if !targets.is_empty() {
        match installer.install(&SystemRunner, &targets, lock_timeout) {
            Ok(()) => {}
            // The transaction failed part way: re-read the system and report what happened.
            Err(
                error @ crate::install::InstallError::Exec(crate::exec::ExecError::Failed {
                    ..
                }),
            ) => {
                warnings.push(format!("the install failed: {error}"));
                failed_transaction = Some(error);
            }
            Err(error) => return Err(error.into()),
        }
    }
    checkpoint(context, "after-install");
    let os_requires_reboot = installer.reboot_required(&SystemRunner, boot);
    if let Some(packages) = &os_requires_reboot {
        warnings.push(format!(
            "the system asks for a reboot{}{}",
            if packages.is_empty() { "" } else { ": " },
            packages.join(", ")
        ));
    }
    drop(scan);
    let mut after = scan_system(&args.system.root, None, false, context, &mut warnings)?;

    // What this run changed (spec §4.4): packages whose installed version is new.
    let before_versions: HashMap<(&str, &str), &str> = before
        .installed
        .iter()
        .map(|p| ((p.name.as_str(), p.arch.as_str()), p.version.as_str()))
        .collect();
    // A crashed run's journal counts too: its targets installed now were installed by it.
    let journaled = |p: &crate::inventory::InstalledPackage| {
        journal.targets.iter().any(|(n, a, v)| {
            n == p.name.as_str() && a == p.arch.as_str() && v == p.version.as_str()
        })
    };
    let installed_now: Vec<crate::inventory::PendingRebootPackage> = after
        .installed
        .iter()
        .filter(|p| {
            before_versions.get(&(p.name.as_str(), p.arch.as_str())) != Some(&p.version.as_str())
                || journaled(p)
        })
        .map(|p| crate::inventory::PendingRebootPackage {
            name: p.name.to_string(),
            arch: p.arch.to_string(),
            version: p.version.to_string(),
        })
        .collect();
    let request_reboot = match args.reboot_option {
        RebootOptionArg::NoReboot => false,
        RebootOptionArg::RebootIfNeeded => {
            !installed_now.is_empty() || !previously_pending.is_empty()
        }
        RebootOptionArg::RebootIfRequired => os_requires_reboot.is_some(),
    };
    let mut last_no_reboot = states.last_no_reboot_install();
    if !request_reboot {
        // Nothing reboots now: what this run installed waits for the next boot.
        let mut pending = previously_pending;
        for package in installed_now.iter().cloned() {
            if !pending.contains(&package) {
                pending.push(package);
            }
        }
        // The payload records LastNoRebootInstallOperationTime on every NoReboot install, even
        // one that installed nothing.
        if !installed_now.is_empty() || args.reboot_option == RebootOptionArg::NoReboot {
            last_no_reboot = Some(context.now);
        }
        after.pending_reboot = pending;
    }
    let source = format!("the system under `{}`", args.system.root.display());
    let run = RunInfo {
        operation: Operation::Install,
        override_list: override_list.as_ref(),
        warnings,
        reboot_option: args.reboot_option.as_str(),
        state: Some((&paths, last_no_reboot)),
    };
    let (outcome, counts) =
        evaluate_and_report(&after, &source, &args.report, &run, context, stdout)?;
    checkpoint(context, "after-state");
    crate::state::InstallJournal::clear(&paths).map_err(CliError::State)?;
    if request_reboot {
        let code = if !blocked.is_empty() {
            196
        } else if counts.failed > 0 || failed_transaction.is_some() {
            195
        } else {
            194
        };
        write_marker(&paths, code, context.now).map_err(CliError::State)?;
        return Ok(Outcome::Reboot);
    }
    clear_markers(&paths);
    Ok(if !blocked.is_empty() {
        Outcome::DependencyCheckFailure
    } else if counts.failed > 0 || failed_transaction.is_some() {
        Outcome::Failure
    } else {
        outcome
    })
}

/// `run`: the PatchLinux step (spec §1.2–§1.3, §3.4, §5, §6, §8). Markers first; then the
/// instance identity, the snapshot (with a BaselineOverride), the override list, the scan or
/// install through the same pipeline as `scan`/`install`, and PutInventory.
fn run_run(args: &RunArgs, context: &Context, stdout: &mut dyn Write) -> Result<Outcome, CliError> {
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
        crate::baseline::Baseline::from_json(&snapshot, "the snapshot").map_err(|e| {
            SsmError::new(
                ssm::SNAPSHOT_INVALID,
                format!("snapshot {snapshot_id}: {e}"),
            )
        })?;
        let override_list =
            if args.install_override_list.is_empty() || args.operation == OperationArg::Scan {
                None
            } else {
                let bytes =
                    crate::payload::fetch_bytes(&args.install_override_list, &limits, Some(&aws))?;
                let file = work.join("install-override-list");
                write_atomically(&file, &bytes)?;
                Some(file.to_string_lossy().into_owned())
            };
        let request_file = work.join("put-inventory.json");
        let report = ReportArgs {
            baseline: Some(snapshot_file.to_string_lossy().into_owned()),
            now: None,
            output: args.output,
            all: false,
            report: (baseline_override.is_none()).then(|| request_file.clone()),
            product: Some(product.clone()).filter(|p| !p.is_empty()),
            instance_id: Some(instance_id.clone()),
            snapshot_id: Some(snapshot_id.clone()),
            fail_on_non_compliant: false,
        };
        let system = SystemArgs {
            root: root.clone(),
            no_refresh: args.system.no_refresh,
            refresh_timeout: args.system.refresh_timeout,
            lock_timeout: args.system.lock_timeout,
        };
        let outcome = match args.operation {
            OperationArg::Scan => run_scan(
                &ScanArgs {
                    system,
                    save_inventory: None,
                    read_only: false,
                    reboot_option: args.reboot_option,
                    report,
                },
                context,
                stdout,
            )?,
            OperationArg::Install => run_install(
                &InstallArgs {
                    system,
                    reboot_option: args.reboot_option,
                    install_override_list: override_list,
                    dry_run: false,
                    override_list_source: Some(args.install_override_list.clone()),
                    report,
                },
                context,
                stdout,
            )?,
        };
        if baseline_override.is_some() {
            // As AWS: with a BaselineOverride the result is shown, not uploaded.
            write_out(stdout, "BaselineOverride: compliance is not uploaded")?;
            return Ok(outcome);
        }
        let request: serde_json::Value =
            serde_json::from_str(&read(&request_file)?).map_err(|e| CliError::Write {
                path: request_file.clone(),
                source: std::io::Error::other(e),
            })?;
        match upload(&aws, request, root) {
            Ok(()) => Ok(outcome),
            Err(error) if outcome == Outcome::Reboot => {
                // The reboot still happens; the resumed run then reports failure (spec §7.3).
                crate::state::write_marker(&paths, 195, context.now).map_err(CliError::State)?;
                write_out(stdout, &format!("warning: {error}"))?;
                Ok(Outcome::Reboot)
            }
            Err(error) => Err(error.into()),
        }
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// PutInventory with the rules of spec §5.4: the compliance item without its content when it
/// did not change since the last upload; full content again after InvalidItemContent or
/// ItemContentMismatch; without CVE ids after ItemSizeLimitExceeded.
fn upload(
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
fn resume_after_reboot(
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

/// The installer for the scanned system. Under `BLOCK`, dnf gets every available version that
/// `RejectedPatches` names as an exact `--exclude`, and zypper a lock on each (and on each
/// installed rejected package), so that none can come in as a dependency.
fn installer_for(
    inventory: &Inventory,
    root: &Path,
    baseline: &Baseline,
    block: bool,
) -> Box<dyn crate::install::Installer> {
    use crate::model::PackageManagerKind;
    match inventory.package_manager {
        PackageManagerKind::Dnf | PackageManagerKind::Yum => {
            let family = crate::model::Family::Rpm;
            let excludes = if block {
                inventory
                    .available
                    .iter()
                    .filter(|v| {
                        baseline
                            .rejected_patches
                            .match_package(
                                family,
                                crate::pattern::PackageRef {
                                    name: &v.name,
                                    arch: &v.arch,
                                    version: &v.version,
                                },
                            )
                            .is_some()
                    })
                    .map(|v| crate::dnf::install::nevra(&v.name, &v.arch, &v.version))
                    .collect()
            } else {
                Vec::new()
            };
            let tool = if inventory.package_manager == PackageManagerKind::Yum {
                crate::dnf::install::Tool::Yum
            } else {
                crate::dnf::install::Tool::Dnf
            };
            Box::new(crate::dnf::install::Dnf::new(root, tool, excludes))
        }
        PackageManagerKind::Zypper => {
            let family = crate::model::Family::Zypper;
            let rejected = |name: &str, arch: &str, version: &str| {
                baseline
                    .rejected_patches
                    .match_package(
                        family,
                        crate::pattern::PackageRef {
                            name,
                            arch,
                            version,
                        },
                    )
                    .is_some()
            };
            let mut locks: Vec<crate::zypper::install::TransactionLock> = Vec::new();
            if block {
                // Installed rejected packages stay as they are; rejected versions stay out.
                for package in &inventory.installed {
                    if rejected(&package.name, &package.arch, &package.version) {
                        locks.push(crate::zypper::install::TransactionLock {
                            name: package.name.to_string(),
                            edition: None,
                        });
                    }
                }
                for version in &inventory.available {
                    let lock = crate::zypper::install::TransactionLock {
                        name: version.name.to_string(),
                        edition: Some(version.version.to_string()),
                    };
                    if rejected(&version.name, &version.arch, &version.version)
                        && !locks.contains(&lock)
                        && !locks
                            .iter()
                            .any(|l| l.name == lock.name && l.edition.is_none())
                    {
                        locks.push(lock);
                    }
                }
            }
            let flagged: Vec<(String, String, String)> = inventory
                .available
                .iter()
                .filter(|v| {
                    v.advisories.iter().any(|id| {
                        inventory
                            .advisories
                            .iter()
                            .any(|a| a.id == *id && a.reboot_suggested)
                    })
                })
                .map(|v| {
                    (
                        v.name.to_string(),
                        v.arch.to_string(),
                        v.version.to_string(),
                    )
                })
                .collect();
            Box::new(crate::zypper::install::Zypper::new(root, locks, flagged))
        }
        PackageManagerKind::Apt => Box::new(crate::apt::install::Apt::new(root)),
    }
}

/// Named points inside `install` where `$PATCH_BASELINE_CRASH_AT` stops the process as a
/// `kill -9` would (crash-safety tests).
fn checkpoint(context: &Context, name: &str) {
    if context
        .env
        .get("PATCH_BASELINE_CRASH_AT")
        .is_some_and(|at| at == name)
    {
        std::process::abort();
    }
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
        state: None,
    };
    evaluate_and_report(
        &inventory,
        &inventory_name,
        &args.report,
        &run,
        context,
        stdout,
    )
    .map(|(outcome, _)| outcome)
}

/// What one run is: its operation, override list, reboot option and the warnings so far.
struct RunInfo<'a> {
    operation: Operation,
    override_list: Option<&'a (InstallOverrideList, String)>,
    warnings: Vec<String>,
    reboot_option: &'static str,
    /// Where to record the run (`scan`/`install`), and the LastNoRebootInstallOperationTime.
    state: Option<(&'a crate::state::StatePaths, Option<DateTime<Utc>>)>,
}

fn evaluate_and_report(
    inventory: &Inventory,
    source: &str,
    args: &ReportArgs,
    run: &RunInfo<'_>,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<(Outcome, crate::evaluate::Counts), CliError> {
    let (operation, override_list) = (run.operation, run.override_list);
    let mut warnings = run.warnings.clone();
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
    // The product SSM returned with the snapshot (or `--product`) is what PRODUCT filters
    // compare, not the one rebuilt from the release files.
    let with_product;
    let inventory = match &args.product {
        Some(product) if *product != inventory.product => {
            with_product = Inventory {
                product: product.clone(),
                ..inventory.clone()
            };
            &with_product
        }
        _ => inventory,
    };
    warnings.extend(
        baseline
            .unknown_values
            .iter()
            .map(|e| format!("{e}; evaluated as AWS does: this value matches no package")),
    );
    let warnings = &warnings;
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
            return Err(CliError::Usage(
                "--report needs an instance id: pass --instance-id, put `instanceId` in the \
                 inventory, or set AWS_SSM_INSTANCE_ID"
                    .into(),
            ));
        }
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
    if let Some((paths, last_no_reboot)) = run.state {
        record_state(&evaluation, &report_context, paths, last_no_reboot)?;
    }
    let counts = evaluation.counts();
    if args.fail_on_non_compliant && !evaluation.is_compliant() {
        return Ok((Outcome::NonCompliant, counts));
    }
    Ok((Outcome::Success, counts))
}

/// Records a run in the on-host state files: every installed-type package with its state, the
/// LastNoRebootInstallOperationTime, and the summary item (spec §4.4, §5.2).
fn record_state(
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
    states.save(paths).map_err(CliError::State)?;
    let summary = crate::report::patch_summary_item(evaluation, context);
    let mut bytes = serde_json::to_vec_pretty(&summary)
        .map_err(|e| CliError::State(std::io::Error::other(e)))?;
    bytes.push(b'\n');
    crate::state::write_atomically(&paths.last_inventory(), &bytes).map_err(CliError::State)
}
