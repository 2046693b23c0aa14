//! The command line: clap definitions and the dispatch of each command to its operation in
//! [`crate::ops`]. Only the commands that just print (`baseline validate`, `baselines list`)
//! are carried out here. No package-manager knowledge, no state files.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::baseline::{BUILTIN_BASELINES, find_builtin};
use crate::exit::Outcome;
use crate::platform::{OsRelease, detect};

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
    /// One self-contained HTML page (no scripts, nothing fetched).
    Html,
    /// Prometheus metrics, node_exporter textfile format.
    Prometheus,
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
    /// Why each named package is (or is not) being patched: every version offered at or above
    /// the installed one, each check the baseline makes of it, and which version wins. Records
    /// nothing on the system.
    Explain(ExplainArgs),
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
    /// The summary of the last scan or install recorded on the system (its AWS:PatchSummary
    /// content), as `Field=Value` lines, or one field's value: what the hooks document's steps
    /// decide on.
    LastSummary {
        /// The system: the root of an installed system (default `/`).
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// One field (`MissingCount`, `InstalledPendingRebootCount`, …).
        field: Option<String>,
    },
    /// The runs recorded in the history under the state folder (each scan, install and run
    /// appends one), oldest first.
    History {
        /// The system: the root of an installed system (default `/`).
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        output: TableOrJson,
        /// Only the newest N runs.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// What changed between a recorded run and the newest one: newly Missing (with the advisory
    /// that made it so), approved by the passing of time, newly installed, Failed, pending
    /// reboot.
    Diff {
        /// The system: the root of an installed system (default `/`).
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// The earlier run: a run id (`history` lists them) or an RFC 3339 time (the newest run
        /// at or before it); default: the run before the newest.
        #[arg(long)]
        since: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
        output: TableOrJson,
    },
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
    /// Also write the HTML report to FILE (atomically), whatever --output is.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write the Prometheus metrics to FILE (atomically; for node_exporter's textfile
    /// collector, e.g. /var/lib/prometheus/node-exporter/patch_baseline.prom).
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
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

/// Whether `run` uploads the compliance of a BaselineOverride scan or install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OverrideComplianceArg {
    /// Only when the override comes from a patch policy's bucket (as AWS does).
    #[value(name = "Auto")]
    Auto,
    /// Always.
    #[value(name = "Yes")]
    Yes,
    /// Never, not even for a patch policy.
    #[value(name = "No")]
    No,
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
    /// With --dry-run: also write the plan (system, baseline fingerprint, exact targets) to
    /// FILE, for `install --plan FILE`.
    #[arg(long, requires = "dry_run")]
    pub plan_out: Option<PathBuf>,
    /// Install exactly the plan in FILE (written by `--dry-run --plan-out`) and nothing else;
    /// refused (exit 5, naming what differs) when the system or the baseline drifted from it.
    #[arg(long, conflicts_with = "install_override_list")]
    pub plan: Option<String>,
    /// With --plan: when the system drifted, install the plan's targets that still can be
    /// (still offered, not yet installed) instead of refusing.
    #[arg(long, requires = "plan")]
    pub allow_drift: bool,
    /// A maintenance window of MINUTES from now: install in batches, most severe first, and
    /// start a batch only when it is expected to finish in time; the rest stays Missing
    /// ("deferred: maintenance window").
    #[arg(long, value_name = "MINUTES")]
    pub max_duration: Option<u64>,
    /// A maintenance window until this time (RFC 3339), as --max-duration (with both, the
    /// earlier end counts).
    #[arg(long, value_name = "RFC3339")]
    pub deadline: Option<String>,
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
    /// An install plan (`https://…` or `s3://BUCKET/KEY`, written by `install --dry-run
    /// --plan-out`): install exactly it, refused (exit 5) when the system drifted; Install only.
    #[arg(long, default_value = "")]
    pub install_plan: String,
    /// With --install-plan: install what the plan still can when the system drifted from it.
    #[arg(long)]
    pub allow_plan_drift: bool,
    /// An Install's maintenance window, in minutes from now (as `install --max-duration`).
    #[arg(long, value_name = "MINUTES")]
    pub max_duration: Option<u64>,
    /// The reboot behaviour of an Install.
    #[arg(long, value_enum, default_value_t = RebootOptionArg::RebootIfNeeded)]
    pub reboot_option: RebootOptionArg,
    /// A BaselineOverride document (`https://…` or `s3://BUCKET/KEY`): a JSON array of
    /// baselines, the one for this OS is used; nothing is uploaded then.
    #[arg(long, default_value = "")]
    pub baseline_override: String,
    /// Upload the compliance of a BaselineOverride run: `Auto` only for a patch policy's
    /// override (bucket `aws-quicksetup-patchpolicy-…`), `Yes` always, `No` never.
    #[arg(long, value_enum, default_value_t = OverrideComplianceArg::Auto)]
    pub upload_override_compliance: OverrideComplianceArg,
    /// The system.
    #[command(flatten)]
    pub system: SystemArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
    pub output: TableOrJson,
}

/// The output format of `run`, `explain`, `history` and `diff`: text or JSON, no page or
/// metrics (the Run Command console shows text; a trace or a history is not a report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableOrJson {
    /// Readable text (`run`: the framed Run Command output).
    Table,
    /// One JSON document.
    Json,
}

/// `evaluate …`
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// The inventory file (format in docs/formats.md).
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

/// `explain …`
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The packages: names, `name.arch`, or glob patterns (`kernel*`, `'openssl*.x86_64'`).
    #[arg(required = true)]
    pub packages: Vec<String>,
    /// Explain a recorded inventory (the `evaluate --inventory` format) instead of scanning.
    #[arg(long, conflicts_with = "root")]
    pub inventory: Option<PathBuf>,
    /// The system, when no inventory is given.
    #[command(flatten)]
    pub system: SystemArgs,
    /// A baseline file (API or snapshot shape) or a built-in baseline's name; default: the
    /// built-in baseline for the operating system.
    #[arg(long)]
    pub baseline: Option<String>,
    /// "Now", RFC 3339 (e.g. 2024-06-01T00:00:00Z); default: the current time.
    #[arg(long)]
    pub now: Option<String>,
    /// The product PRODUCT filters compare; default: the one the OS release files give.
    #[arg(long)]
    pub product: Option<String>,
    /// Output format: the readable trace, or one JSON document.
    #[arg(long, value_enum, default_value_t = TableOrJson::Table)]
    pub output: TableOrJson,
}

use crate::ops::evaluate::run_evaluate;
use crate::ops::explain::run_explain;
use crate::ops::install::run_install;
use crate::ops::load_baseline;
use crate::ops::run::run_run;
use crate::ops::scan::run_scan;
use crate::ops::settings;
use crate::ops::write_out;
pub use crate::ops::{CliError, Context};

/// Runs a parsed command, writing normal output to `stdout`.
pub fn run(cli: Cli, context: &Context, stdout: &mut dyn Write) -> Result<Outcome, CliError> {
    match cli.command {
        Command::Scan(args) => run_scan(&args.into(), context, stdout),
        Command::Install(args) => run_install(&args.into(), context, stdout),
        Command::Evaluate(args) => run_evaluate(&args.into(), context, stdout),
        Command::Explain(args) => run_explain(&args.into(), context, stdout),
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
        Command::Run(args) => run_run(&args.into(), context, stdout),
        Command::LastSummary { root, field } => run_last_summary(&root, field.as_deref(), stdout),
        Command::History {
            root,
            output,
            limit,
        } => crate::history::list_command(&root, history_format(output), limit, stdout),
        Command::Diff {
            root,
            since,
            output,
        } => crate::history::diff_command(&root, since.as_deref(), history_format(output), stdout),
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

fn run_validate(files: &[PathBuf], stdout: &mut dyn Write) -> Result<Outcome, CliError> {
    let mut first_error = None;
    for file in files {
        let spec = file.to_string_lossy();
        match load_baseline(&spec).and_then(|baseline| match baseline.unknown_values.first() {
            // AWS's engine would evaluate it (the value matches nothing); for a baseline being
            // written it is an error.
            Some(unknown) => Err(CliError::from(unknown.clone())),
            None => check_sources(&baseline).map(|()| baseline),
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

/// Every source's `Configuration` read as its package manager takes it (at run time only the
/// applying sources are read; a baseline being written is checked whole).
fn check_sources(baseline: &crate::baseline::Baseline) -> Result<(), CliError> {
    use crate::baseline::sources::{apt_configuration, repo_configuration};
    for source in &baseline.sources {
        let checked = if baseline.family() == crate::model::Family::Apt {
            apt_configuration(source).map(|_| ())
        } else {
            repo_configuration(source).map(|_| ())
        };
        checked.map_err(|e| CliError::Repositories(e.into()))?;
    }
    Ok(())
}

fn history_format(output: TableOrJson) -> crate::history::Format {
    match output {
        TableOrJson::Table => crate::history::Format::Table,
        TableOrJson::Json => crate::history::Format::Json,
    }
}

fn run_last_summary(
    root: &Path,
    field: Option<&str>,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let path = crate::state::StatePaths::new(root).last_inventory();
    let text = crate::ops::read(&path)?;
    let summary: serde_json::Value = serde_json::from_str(&text).map_err(|e| CliError::Read {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    let content = summary["Content"][0]
        .as_object()
        .ok_or_else(|| CliError::Read {
            path: path.clone(),
            source: std::io::Error::other("no AWS:PatchSummary content"),
        })?;
    let value = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let text = if let Some(field) = field {
        let found = content.get(field).ok_or_else(|| {
            CliError::Usage(format!(
                "the last summary in `{}` has no field `{field}`",
                path.display()
            ))
        })?;
        value(found)
    } else {
        content
            .iter()
            .map(|(k, v)| format!("{k}={}", value(v)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    write_out(stdout, &text)?;
    Ok(Outcome::Success)
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

// The command line turned into the operations' settings: one conversion per command.

impl From<OutputFormat> for settings::OutputFormat {
    fn from(format: OutputFormat) -> Self {
        match format {
            OutputFormat::Table => Self::Table,
            OutputFormat::Json => Self::Json,
            OutputFormat::Html => Self::Html,
            OutputFormat::Prometheus => Self::Prometheus,
        }
    }
}

impl From<TableOrJson> for settings::OutputFormat {
    fn from(format: TableOrJson) -> Self {
        match format {
            TableOrJson::Table => Self::Table,
            TableOrJson::Json => Self::Json,
        }
    }
}

impl From<OperationArg> for settings::RunOperation {
    fn from(operation: OperationArg) -> Self {
        match operation {
            OperationArg::Scan => Self::Scan,
            OperationArg::Install => Self::Install,
        }
    }
}

impl From<RebootOptionArg> for settings::RebootOption {
    fn from(option: RebootOptionArg) -> Self {
        match option {
            RebootOptionArg::RebootIfNeeded => Self::RebootIfNeeded,
            RebootOptionArg::NoReboot => Self::NoReboot,
            RebootOptionArg::RebootIfRequired => Self::RebootIfRequired,
        }
    }
}

impl From<ReportArgs> for settings::ReportSettings {
    fn from(args: ReportArgs) -> Self {
        Self {
            baseline: args.baseline,
            now: args.now,
            output: args.output.into(),
            all: args.all,
            report: args.report,
            html: args.html,
            prometheus: args.prometheus,
            product: args.product,
            instance_id: args.instance_id,
            snapshot_id: args.snapshot_id,
            fail_on_non_compliant: args.fail_on_non_compliant,
        }
    }
}

impl From<SystemArgs> for settings::SystemSettings {
    fn from(args: SystemArgs) -> Self {
        Self {
            root: args.root,
            no_refresh: args.no_refresh,
            refresh_timeout: args.refresh_timeout,
            lock_timeout: args.lock_timeout,
        }
    }
}

impl From<ScanArgs> for settings::ScanSettings {
    fn from(args: ScanArgs) -> Self {
        Self {
            system: args.system.into(),
            save_inventory: args.save_inventory,
            read_only: args.read_only,
            reboot_option: args.reboot_option.into(),
            report: args.report.into(),
        }
    }
}

impl From<InstallArgs> for settings::InstallSettings {
    fn from(args: InstallArgs) -> Self {
        Self {
            system: args.system.into(),
            reboot_option: args.reboot_option.into(),
            install_override_list: args.install_override_list,
            dry_run: args.dry_run,
            plan_out: args.plan_out,
            plan: args.plan,
            plan_source: None,
            allow_drift: args.allow_drift,
            max_duration: args.max_duration,
            deadline: args.deadline,
            override_list_source: args.override_list_source,
            report: args.report.into(),
        }
    }
}

impl From<RunArgs> for settings::RunSettings {
    fn from(args: RunArgs) -> Self {
        Self {
            operation: args.operation.into(),
            snapshot_id: args.snapshot_id,
            install_override_list: args.install_override_list,
            install_plan: args.install_plan,
            allow_plan_drift: args.allow_plan_drift,
            max_duration: args.max_duration,
            reboot_option: args.reboot_option.into(),
            baseline_override: args.baseline_override,
            upload_override_compliance: match args.upload_override_compliance {
                OverrideComplianceArg::Auto => settings::OverrideCompliance::Auto,
                OverrideComplianceArg::Yes => settings::OverrideCompliance::Upload,
                OverrideComplianceArg::No => settings::OverrideCompliance::Skip,
            },
            system: args.system.into(),
            output: args.output.into(),
        }
    }
}

impl From<EvaluateArgs> for settings::EvaluateSettings {
    fn from(args: EvaluateArgs) -> Self {
        Self {
            inventory: args.inventory,
            operation: args.operation.into(),
            install_override_list: args.install_override_list,
            report: args.report.into(),
        }
    }
}

impl From<ExplainArgs> for settings::ExplainSettings {
    fn from(args: ExplainArgs) -> Self {
        Self {
            packages: args.packages,
            inventory: args.inventory,
            system: args.system.into(),
            baseline: args.baseline,
            now: args.now,
            product: args.product,
            output: args.output.into(),
        }
    }
}
