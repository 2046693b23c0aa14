//! The one place a package manager is chosen. [`Backend`] is what the operations need of one:
//! refresh its metadata, scan the system into an [`Inventory`], build its installer; the
//! backend table ([`backend_for`]) has one line per package manager, picked once from the
//! detected platform. Adding a package manager is one module implementing [`Backend`] (its
//! scanner and an [`Installer`]) and one line in the table.

use std::path::Path;
use std::time::Duration;

use crate::baseline::{Baseline, PatchSource};
use crate::dnf::install::Tool;
use crate::exec::{Runner, SystemRunner};
use crate::install::Installer;
use crate::inventory::Inventory;
use crate::model::PackageManagerKind;
use crate::ops::{CliError, Context};
use crate::platform::{OsRelease, Platform, detect};
use crate::repositories::Repositories;

/// One package manager, as the operations use it.
pub(crate) trait Backend {
    /// Refreshes the metadata of `repositories`, for at most `timeout` seconds; what fails
    /// becomes a warning and the scan goes on with the metadata the package manager has.
    fn refresh(
        &self,
        root: &Path,
        repositories: &Repositories,
        timeout: u64,
        warnings: &mut Vec<String>,
    );

    /// Scans the system under `root` with the packages `repositories` offer (read-only scans
    /// write no metadata cache of ours).
    fn scan(
        &self,
        root: &Path,
        repositories: &Repositories,
        platform: &Platform,
        read_only: bool,
        context: &Context,
        warnings: &mut Vec<String>,
    ) -> Result<Inventory, CliError>;

    /// The installer for the scanned system, installing from `repositories`. Under `BLOCK`
    /// (`block`) it keeps every version `RejectedPatches` names out, also as a dependency.
    fn installer(
        &self,
        inventory: &Inventory,
        root: &Path,
        repositories: &Repositories,
        baseline: &Baseline,
        block: bool,
    ) -> Box<dyn Installer>;
}

/// The backend table: one line per package manager.
fn backend_for(kind: PackageManagerKind) -> Box<dyn Backend> {
    match kind {
        PackageManagerKind::Apt => Box::new(AptBackend),
        PackageManagerKind::Dnf => Box::new(RpmBackend(Tool::Dnf)),
        PackageManagerKind::Yum => Box::new(RpmBackend(Tool::Yum)),
        PackageManagerKind::Zypper => Box::new(ZypperBackend),
    }
}

/// Where the RPM backends take the available packages from: the metadata cache read natively
/// (default), or the package manager when `PATCH_BASELINE_AVAILABLE_FROM=package-manager`.
pub(crate) fn available_from(context: &Context) -> crate::rpm::system::AvailableFrom {
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

/// Detects the system under `root`, prepares the repositories (the machine's own, or the
/// private directory of the baseline `sources` that apply), refreshes their metadata unless
/// told not to, and scans it. `product`, when given (`--product`, or the one SSM returns with
/// the snapshot), replaces the one the release files give: it is what PRODUCT filters and
/// source `Products` compare.
pub(crate) fn scan_system(
    root: &Path,
    sources: &[PatchSource],
    refresh: Option<u64>,
    read_only: bool,
    product: Option<&str>,
    context: &Context,
    warnings: &mut Vec<String>,
) -> Result<(Inventory, Repositories), CliError> {
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
    let product = product.unwrap_or(&platform.product).to_string();
    let repositories =
        Repositories::prepare(root, platform.package_manager, &product, sources, read_only)?;
    let backend = backend_for(platform.package_manager);
    let mut refreshed = Vec::new();
    if let Some(timeout) = refresh {
        context.steps.time("refresh", || {
            backend.refresh(root, &repositories, timeout, &mut refreshed);
        });
    }
    let refreshed: Vec<String> = refreshed
        .into_iter()
        .map(|w| repositories.attribute(w))
        .collect();
    repositories.check_metadata(refresh.is_some(), refreshed.first().map(String::as_str))?;
    warnings.extend(refreshed);
    let mut inventory =
        backend.scan(root, &repositories, &platform, read_only, context, warnings)?;
    inventory.instance_id = context.env.get("AWS_SSM_INSTANCE_ID").cloned();
    inventory.product = product;
    inventory.sources = repositories.source_names().to_vec();
    Ok((inventory, repositories))
}

/// The installer for the scanned system (see [`Backend::installer`]).
pub(crate) fn installer_for(
    inventory: &Inventory,
    root: &Path,
    repositories: &Repositories,
    baseline: &Baseline,
    block: bool,
) -> Box<dyn Installer> {
    backend_for(inventory.package_manager).installer(inventory, root, repositories, baseline, block)
}

/// apt and dpkg (Debian, Ubuntu, Raspbian).
struct AptBackend;

impl Backend for AptBackend {
    fn refresh(
        &self,
        root: &Path,
        repositories: &Repositories,
        timeout: u64,
        warnings: &mut Vec<String>,
    ) {
        warnings.extend(refresh_apt(root, repositories, timeout));
    }

    fn scan(
        &self,
        root: &Path,
        repositories: &Repositories,
        platform: &Platform,
        read_only: bool,
        context: &Context,
        warnings: &mut Vec<String>,
    ) -> Result<Inventory, CliError> {
        let apt_config = context.env.get("APT_CONFIG").map(std::path::Path::new);
        let cache = crate::rpm::cache::MetadataCache::new(root, !read_only);
        let scan = crate::apt::scan(root, platform, repositories, apt_config, &cache)?;
        warnings.extend(scan.warnings);
        Ok(scan.inventory)
    }

    fn installer(
        &self,
        _inventory: &Inventory,
        root: &Path,
        repositories: &Repositories,
        _baseline: &Baseline,
        _block: bool,
    ) -> Box<dyn Installer> {
        Box::new(crate::apt::install::Apt::new(root).with_repositories(repositories))
    }
}

/// dnf, or classic yum (the same scanner and installer, another tool).
struct RpmBackend(Tool);

impl Backend for RpmBackend {
    fn refresh(
        &self,
        root: &Path,
        repositories: &Repositories,
        timeout: u64,
        warnings: &mut Vec<String>,
    ) {
        let timeout = Duration::from_secs(timeout);
        let spec = match self.0 {
            Tool::Dnf => crate::dnf::makecache(root, repositories, timeout),
            Tool::Yum => crate::dnf::yum::makecache(root, repositories, timeout),
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

    fn scan(
        &self,
        root: &Path,
        repositories: &Repositories,
        platform: &Platform,
        read_only: bool,
        context: &Context,
        warnings: &mut Vec<String>,
    ) -> Result<Inventory, CliError> {
        let cache = crate::rpm::cache::MetadataCache::new(root, !read_only);
        crate::dnf::scan(
            &SystemRunner,
            root,
            repositories,
            platform,
            self.0,
            available_from(context),
            &cache,
            warnings,
        )
        .map_err(Into::into)
    }

    fn installer(
        &self,
        inventory: &Inventory,
        root: &Path,
        repositories: &Repositories,
        baseline: &Baseline,
        block: bool,
    ) -> Box<dyn Installer> {
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
        Box::new(
            crate::dnf::install::Dnf::new(root, self.0, excludes).with_repositories(repositories),
        )
    }
}

/// zypper (SLES, openSUSE).
struct ZypperBackend;

impl Backend for ZypperBackend {
    fn refresh(
        &self,
        root: &Path,
        repositories: &Repositories,
        timeout: u64,
        warnings: &mut Vec<String>,
    ) {
        let spec = crate::zypper::refresh(root, repositories, Duration::from_secs(timeout));
        match SystemRunner.run(&spec) {
            Ok(c) => warnings.extend(crate::zypper::refresh_warnings(
                c.code,
                &String::from_utf8_lossy(&c.stdout),
            )),
            Err(e) => warnings.push(format!("metadata refresh skipped: {e}")),
        }
    }

    fn scan(
        &self,
        root: &Path,
        repositories: &Repositories,
        platform: &Platform,
        read_only: bool,
        context: &Context,
        warnings: &mut Vec<String>,
    ) -> Result<Inventory, CliError> {
        let cache = crate::rpm::cache::MetadataCache::new(root, !read_only);
        crate::zypper::scan(
            &SystemRunner,
            root,
            repositories,
            platform,
            available_from(context),
            &cache,
            warnings,
        )
        .map_err(Into::into)
    }

    fn installer(
        &self,
        inventory: &Inventory,
        root: &Path,
        repositories: &Repositories,
        baseline: &Baseline,
        block: bool,
    ) -> Box<dyn Installer> {
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
        Box::new(
            crate::zypper::install::Zypper::new(root, locks, flagged)
                .with_repositories(repositories),
        )
    }
}

/// Runs `apt-get update` for the system under `root` and `repositories`; returns warnings
/// (failed repositories, a failed or stopped refresh). The scan goes on with whatever lists apt
/// has.
pub(crate) fn refresh_apt(root: &Path, repositories: &Repositories, timeout: u64) -> Vec<String> {
    let spec = crate::apt::install::Apt::new(root)
        .with_repositories(repositories)
        .update(std::time::Duration::from_secs(timeout));
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
