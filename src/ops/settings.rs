//! The validated settings of each command: what the operations take. The command line (or any
//! other caller) builds them; nothing here knows how they were given.

use std::path::PathBuf;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// A readable table.
    Table,
    /// One JSON document.
    Json,
    /// One self-contained HTML page.
    Html,
    /// Prometheus metrics in the text exposition format (node_exporter's textfile collector).
    Prometheus,
    /// `run`'s Run Command output: the summary, then the non-compliant packages, most severe
    /// first (not a command-line choice; `run` frames it with its header).
    Run,
}

/// The operation an evaluation reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOperation {
    /// Report only.
    Scan,
    /// Report after an install: approved updates still missing are Failed.
    Install,
}

/// Options shared by `scan` and `evaluate`: the baseline, time, output and report.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// A baseline file (API or snapshot shape) or a built-in baseline's name; default: the
    /// built-in baseline for the operating system.
    pub baseline: Option<String>,
    /// "Now", RFC 3339 (e.g. 2024-06-01T00:00:00Z); default: the current time.
    pub now: Option<String>,
    /// Output format.
    pub output: OutputFormat,
    /// Also list compliant packages in the table.
    pub all: bool,
    /// Write the PutInventory request (`aws ssm put-inventory --cli-input-json file://FILE`).
    pub report: Option<PathBuf>,
    /// Also write the HTML page to this file (atomically).
    pub html: Option<PathBuf>,
    /// Also write the Prometheus metrics to this file (atomically: a node_exporter textfile
    /// collector `.prom` file).
    pub prometheus: Option<PathBuf>,
    /// The product PRODUCT filters compare (e.g. `AmazonLinux2023`, `Ubuntu22.04`); default:
    /// the one the OS release files give. `run` passes the one SSM returns with the snapshot.
    pub product: Option<String>,
    /// Instance id for the report; default: the inventory's, else $AWS_SSM_INSTANCE_ID.
    pub instance_id: Option<String>,
    /// Snapshot id for the report; default: a new UUID.
    pub snapshot_id: Option<String>,
    /// Exit 4 when anything is non-compliant.
    pub fail_on_non_compliant: bool,
}

/// Which system `scan` and `install` work on, and how its metadata is refreshed.
#[derive(Debug, Clone)]
pub struct SystemSettings {
    /// The root of the system (the host by default; a mounted image, a chroot). A relative
    /// path is taken from the current directory (rpm and dnf need it absolute).
    pub root: PathBuf,
    /// Do not refresh the package metadata first (`apt-get update`).
    pub no_refresh: bool,
    /// Seconds the refresh may take before it is stopped (the run goes on with what the
    /// package manager already has).
    pub refresh_timeout: u64,
    /// Seconds to wait for another patch-baseline operation, or another package manager, to
    /// release its lock.
    pub lock_timeout: u64,
}

impl SystemSettings {
    /// The refresh time bound, `None` with `--no-refresh`.
    pub(crate) fn refresh(&self) -> Option<u64> {
        (!self.no_refresh).then_some(self.refresh_timeout)
    }
}

/// `scan …`
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// The system.
    pub system: SystemSettings,
    /// Also write the inventory that was scanned (the `evaluate --inventory` format).
    pub save_inventory: Option<PathBuf>,
    /// Record nothing on the system (no lock, no state files): a one-off check.
    pub read_only: bool,
    /// The RebootOption the report records for this scan (as AWS-RunPatchBaseline records the
    /// one it was given); a scan never reboots.
    pub reboot_option: RebootOption,
    /// Baseline, time, output and report options.
    pub report: ReportSettings,
}

/// `RebootOption` of AWS-RunPatchBaseline, plus ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebootOption {
    /// Reboot when this run installed anything or earlier installs await a reboot.
    RebootIfNeeded,
    /// Never reboot.
    NoReboot,
    /// Reboot only when the OS says a reboot is needed.
    RebootIfRequired,
}

impl RebootOption {
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
#[derive(Debug, Clone)]
pub struct InstallSettings {
    /// The system.
    pub system: SystemSettings,
    /// The reboot behaviour (reported in the summary; rebooting arrives with the reboot layer).
    pub reboot_option: RebootOption,
    /// An install override list file (YAML or JSON): install only the updates it names.
    pub install_override_list: Option<String>,
    /// Print the install plan and stop.
    pub dry_run: bool,
    /// With `dry_run`: also write the plan to this file.
    pub plan_out: Option<PathBuf>,
    /// Install exactly this plan (a file) and nothing else.
    pub plan: Option<String>,
    /// Where the plan came from (the URL `run` downloaded it from), for messages and the report.
    pub plan_source: Option<String>,
    /// With `plan`: install what the plan still can when the system drifted from it.
    pub allow_drift: bool,
    /// A maintenance window of this many minutes from now.
    pub max_duration: Option<u64>,
    /// A maintenance window until this time (RFC 3339).
    pub deadline: Option<String>,
    /// Where the override list came from (the URL `run` downloaded it from), for the report.
    pub override_list_source: Option<String>,
    /// Baseline, time, output and report options.
    pub report: ReportSettings,
}

/// `run …`: AWS-RunPatchBaseline's parameters (spec §6).
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// `Scan` (report only) or `Install`.
    pub operation: RunOperation,
    /// The snapshot id (a UUID); empty: a new one.
    pub snapshot_id: String,
    /// An install override list (`https://…` or `s3://BUCKET/KEY`, YAML or JSON); Install only.
    pub install_override_list: String,
    /// An install plan (`https://…` or `s3://BUCKET/KEY`, written by `install --dry-run
    /// --plan-out`): install exactly it; Install only.
    pub install_plan: String,
    /// With `install_plan`: install what the plan still can when the system drifted.
    pub allow_plan_drift: bool,
    /// An Install's maintenance window, in minutes from now.
    pub max_duration: Option<u64>,
    /// The reboot behaviour of an Install.
    pub reboot_option: RebootOption,
    /// A BaselineOverride document (`https://…` or `s3://BUCKET/KEY`): a JSON array of
    /// baselines, the one for this OS is used; nothing is uploaded then.
    pub baseline_override: String,
    /// Whether the compliance of a BaselineOverride run is uploaded.
    pub upload_override_compliance: OverrideCompliance,
    /// The system.
    pub system: SystemSettings,
    /// Output format.
    pub output: OutputFormat,
}

/// Whether `run` uploads the compliance of a BaselineOverride run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideCompliance {
    /// As AWS: only when the override comes from a patch policy's bucket.
    Auto,
    /// Always.
    Upload,
    /// Never.
    Skip,
}

/// `evaluate …`
#[derive(Debug, Clone)]
pub struct EvaluateSettings {
    /// The inventory file (format in docs/formats.md).
    pub inventory: PathBuf,
    /// The operation to report.
    pub operation: RunOperation,
    /// An install override list file (YAML or JSON); Install only.
    pub install_override_list: Option<PathBuf>,
    /// Baseline, time, output and report options.
    pub report: ReportSettings,
}

/// `explain …`
#[derive(Debug, Clone)]
pub struct ExplainSettings {
    /// The packages: names, `name.arch`, or glob patterns (`kernel*`, `openssl*.x86_64`).
    pub packages: Vec<String>,
    /// A recorded inventory to explain instead of scanning the system.
    pub inventory: Option<PathBuf>,
    /// The system (when no inventory is given).
    pub system: SystemSettings,
    /// A baseline file or a built-in baseline's name; default: the built-in baseline for the
    /// operating system.
    pub baseline: Option<String>,
    /// "Now", RFC 3339; default: the current time.
    pub now: Option<String>,
    /// The product PRODUCT filters compare; default: the one the OS release files give.
    pub product: Option<String>,
    /// Output format (the table is the readable trace).
    pub output: OutputFormat,
}
