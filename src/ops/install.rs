//! `install`: the install pipeline — lock, markers, journal and checkpoints, plan, install,
//! re-scan, report, and the reboot decision.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use crate::backend::{installer_for, scan_system};
use crate::baseline::builtin_for;
use crate::evaluate::{EvaluateOptions, Operation, evaluate};
use crate::exit::Outcome;
use crate::install::Target;
use crate::ops::run::resume_after_reboot;
use crate::ops::settings::{InstallSettings, OutputFormat, RebootOption};
use crate::ops::{
    CliError, Context, RunInfo, evaluate_and_report, load_baseline, read, still_pending, write_out,
};
use crate::pattern::InstallOverrideList;
use crate::plan::{Plan, SystemIdentity};
use crate::window::{Batch, Rate, batches, schedule};

#[expect(
    clippy::too_many_lines,
    reason = "the install pipeline reads best as one sequence"
)]
/// Runs `install`.
pub(crate) fn run_install(
    args: &InstallSettings,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    use crate::exec::SystemRunner;
    use crate::state::{
        OperationLock, PatchStates, StatePaths, boot_time, clear_markers, write_marker,
    };
    if args.dry_run
        && matches!(
            args.report.output,
            OutputFormat::Html | OutputFormat::Prometheus
        )
    {
        return Err(CliError::Usage(
            "--dry-run prints the install plan, as a table or JSON; --output html and \
             prometheus report an evaluation"
                .to_string(),
        ));
    }
    crate::state::set_crash_point(context.env.get("PATCH_BASELINE_CRASH_AT"));
    // A maintenance window counts from here (the context's clock reading was taken just now).
    let started = std::time::Instant::now();
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
    let approved_plan = match &args.plan {
        Some(url) if url.starts_with("https://") || url.starts_with("s3://") => {
            return Err(CliError::Unsupported(format!(
                "downloading `{url}` arrives with `run`; pass a local plan file"
            )));
        }
        Some(path) => {
            let source = args.plan_source.clone().unwrap_or_else(|| path.clone());
            Some((Plan::parse(&read(Path::new(path))?, &source)?, source))
        }
        None => None,
    };
    let mut warnings = Vec::new();
    let (states, warning) = PatchStates::load(&paths, context.now);
    warnings.extend(warning);
    let previously_pending = still_pending(&states, boot);
    let (journal, warning) = crate::state::InstallJournal::load(&paths);
    warnings.extend(warning);
    // The baseline comes first: its sources decide the repositories scanned and installed from.
    let given = args
        .report
        .baseline
        .as_deref()
        .map(load_baseline)
        .transpose()?;
    let sources = given.as_ref().map_or(&[][..], |b| b.sources.as_slice());
    let (before, repositories) = scan_system(
        &args.system.root,
        sources,
        args.system.refresh(),
        false,
        args.report.product.as_deref(),
        context,
        &mut warnings,
    )?;
    let baseline = match given {
        Some(baseline) => baseline,
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
            // The plan is made at the time the report is made at (`--now`), or an update
            // approved only then would be planned out and reported Failed.
            now: crate::ops::parse_now(args.report.now.as_deref(), context)?,
            operation: Operation::Scan,
            override_list: None,
            deferred: &[],
        },
    )?;
    let identity = SystemIdentity::of(&args.system.root, &before);
    let (plan, override_list) = match &approved_plan {
        None => (
            scan.install_plan(override_list.as_ref().map(|(list, _)| list)),
            override_list,
        ),
        Some((approved, source)) => {
            let (targets, notes) = plan_targets(
                approved,
                source,
                &identity,
                &baseline,
                &before,
                args.allow_drift,
            )?;
            warnings.extend(notes);
            // The install is reported as one with an override list naming exactly the plan.
            let list = approved.as_override_list(before.package_manager.family());
            (targets, Some((list, source.clone())))
        }
    };
    if let Some(path) = &args.plan_out {
        let written = Plan::new(
            identity.clone(),
            &baseline,
            override_list.as_ref().map(|(_, source)| source.clone()),
            plan.clone(),
            context.now,
        );
        let mut bytes = serde_json::to_vec_pretty(&written).map_err(|e| CliError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        crate::ops::write_atomically(path, &bytes)?;
    }
    if args.dry_run {
        let text = match args.report.output {
            OutputFormat::Json => {
                serde_json::to_string_pretty(&serde_json::json!({ "plan": plan }))
                    .unwrap_or_default()
            }
            OutputFormat::Table
            | OutputFormat::Run
            | OutputFormat::Html
            | OutputFormat::Prometheus => {
                let mut text = format!("install plan: {} update(s)\n", plan.len());
                if let Some(path) = &args.plan_out {
                    let _ = writeln!(text, "written to `{}`", path.display());
                }
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
    let installer = installer_for(&before, &args.system.root, &repositories, &baseline, block);
    // An interrupted package manager's unfinished work is finished before anything else.
    if let Some(repaired) = installer.repair(&SystemRunner, &before.installed, lock_timeout)? {
        warnings.push(repaired);
    }
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
    // A maintenance window: batches, most severe first, as many as fit before the deadline.
    let budget = window_budget(args, context)?;
    let mut window = budget.map(|budget| {
        let (rate, warning) = load_rate(&paths);
        warnings.extend(warning);
        WindowRun::plan(&plan, &targets, installer.as_ref(), rate, budget, started)
    });
    let batches: Vec<Vec<Target>> = match &window {
        Some(run) => run.chosen.iter().map(|(_, t)| t.clone()).collect(),
        None if targets.is_empty() => Vec::new(),
        None => vec![targets.clone()],
    };
    let targets: Vec<Target> = batches.iter().flatten().cloned().collect();
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
        context.steps.time("download", || {
            installer.download(&SystemRunner, &targets, lock_timeout)
        })?;
    }
    checkpoint(context, "after-download");
    let mut failed_transaction = None;
    for (index, batch) in batches.iter().enumerate() {
        if let Some(run) = &mut window
            && !run.fits(index)
        {
            run.defer_from(index);
            break;
        }
        let began = std::time::Instant::now();
        match context.steps.time("install", || {
            installer.install(&SystemRunner, batch, lock_timeout)
        }) {
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
        if let Some(run) = &mut window {
            run.finished(index, began.elapsed());
        }
    }
    if let Some(run) = &window {
        // The measured rate is kept for the next window; losing it only costs an estimate.
        if let Err(error) = save_rate(&paths, run.measured) {
            warnings.push(format!(
                "cannot keep the measured install rate in `{}`: {error}",
                paths.install_rate().display()
            ));
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
    let (mut after, _) = scan_system(
        &args.system.root,
        &baseline.sources,
        None,
        false,
        args.report.product.as_deref(),
        context,
        &mut warnings,
    )?;

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
        RebootOption::NoReboot => false,
        RebootOption::RebootIfNeeded => !installed_now.is_empty() || !previously_pending.is_empty(),
        RebootOption::RebootIfRequired => os_requires_reboot.is_some(),
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
        if !installed_now.is_empty() || args.reboot_option == RebootOption::NoReboot {
            last_no_reboot = Some(context.now);
        }
        after.pending_reboot = pending;
    }
    let deferred: Vec<(String, String)> = window
        .as_ref()
        .map(WindowRun::deferred_keys)
        .unwrap_or_default();
    let source = format!("the system under `{}`", args.system.root.display());
    let run = RunInfo {
        operation: Operation::Install,
        override_list: override_list.as_ref(),
        warnings,
        reboot_option: args.reboot_option.as_str(),
        state: Some((&paths, last_no_reboot)),
        baseline: Some(&baseline),
        system_root: Some(&args.system.root),
        deferred: &deferred,
        window: window.as_ref().map(WindowRun::report),
    };
    let (outcome, counts) =
        evaluate_and_report(&mut after, &source, &args.report, &run, context, stdout)?;
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

/// How long the install may take: until `--deadline`, or `--max-duration` minutes from now,
/// whichever comes first; `None` without either.
fn window_budget(
    args: &InstallSettings,
    context: &Context,
) -> Result<Option<(std::time::Duration, chrono::DateTime<chrono::Utc>)>, CliError> {
    let mut deadline = None;
    if let Some(text) = &args.deadline {
        let at = chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| {
                CliError::Usage(format!("--deadline `{text}` is not an RFC 3339 time: {e}"))
            })?
            .with_timezone(&chrono::Utc);
        deadline = Some(at);
    }
    if let Some(minutes) = args.max_duration {
        let minutes = i64::try_from(minutes).unwrap_or(i64::MAX / 120);
        let at = context.now + chrono::Duration::minutes(minutes.min(i64::MAX / 120));
        deadline = Some(deadline.map_or(at, |d: chrono::DateTime<chrono::Utc>| d.min(at)));
    }
    Ok(deadline.map(|at| ((at - context.now).to_std().unwrap_or_default(), at)))
}

/// The install rate measured on this machine, else the default (with a warning when the file
/// is there but unreadable).
fn load_rate(paths: &crate::state::StatePaths) -> (Rate, Option<String>) {
    let path = paths.install_rate();
    match std::fs::read(&path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => (Rate::default(), None),
        Err(error) => (
            Rate::default(),
            Some(format!(
                "cannot read `{}` ({error}): estimating at the default rate",
                path.display()
            )),
        ),
        Ok(bytes) => match serde_json::from_slice::<Rate>(&bytes) {
            Ok(rate) => (rate, None),
            Err(error) => (
                Rate::default(),
                Some(format!(
                    "`{}` is not a rate ({error}): estimating at the default rate",
                    path.display()
                )),
            ),
        },
    }
}

fn save_rate(paths: &crate::state::StatePaths, rate: Rate) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(&rate).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    crate::state::write_atomically(&paths.install_rate(), &bytes)
}

/// An install within a maintenance window: its batches, which ran, which were deferred.
struct WindowRun {
    /// The rate the estimates use (as read before the install).
    rate: Rate,
    /// The rate with this install's measurements.
    measured: Rate,
    budget: std::time::Duration,
    deadline: chrono::DateTime<chrono::Utc>,
    started: std::time::Instant,
    updates: Vec<crate::evaluate::PlannedUpdate>,
    /// The batches to run, in order, with their targets, and how long each took once run.
    chosen: Vec<(Batch, Vec<Target>)>,
    took: Vec<Option<std::time::Duration>>,
    /// The batches deferred: at planning, or when one would not have finished in time.
    deferred: Vec<Batch>,
}

impl WindowRun {
    fn plan(
        plan: &[crate::evaluate::PlannedUpdate],
        targets: &[Target],
        installer: &dyn crate::install::Installer,
        rate: Rate,
        (budget, deadline): (std::time::Duration, chrono::DateTime<chrono::Utc>),
        started: std::time::Instant,
    ) -> Self {
        // One update per target, in the targets' order (the batches index both); a target the
        // plan does not describe ranks last.
        let by_key: crate::fasthash::FastMap<(&str, &str, &str), &crate::evaluate::PlannedUpdate> =
            plan.iter()
                .map(|p| ((p.name.as_str(), p.arch.as_str(), p.version.as_str()), p))
                .collect();
        let updates: Vec<crate::evaluate::PlannedUpdate> = targets
            .iter()
            .map(|t| {
                by_key
                    .get(&(t.name.as_str(), t.arch.as_str(), t.version.as_str()))
                    .map_or_else(
                        || crate::evaluate::PlannedUpdate {
                            name: t.name.clone(),
                            arch: t.arch.clone(),
                            from_version: String::new(),
                            version: t.version.clone(),
                            reason: String::new(),
                            compliance: crate::model::ComplianceLevel::default(),
                            classification: String::new(),
                            reboot: false,
                        },
                        |p| (*p).clone(),
                    )
            })
            .collect();
        let sizes = installer.download_sizes(&crate::exec::SystemRunner, targets);
        let (chosen, deferred) = schedule(batches(&updates, &sizes), rate, budget);
        let chosen: Vec<(Batch, Vec<Target>)> = chosen
            .into_iter()
            .map(|batch| {
                let members = batch
                    .updates
                    .iter()
                    .filter_map(|&i| targets.get(i).cloned())
                    .collect();
                (batch, members)
            })
            .collect();
        Self {
            rate,
            measured: rate,
            budget,
            deadline,
            started,
            took: vec![None; chosen.len()],
            updates,
            chosen,
            deferred,
        }
    }

    /// Whether batch `index` is still expected to finish before the deadline.
    fn fits(&self, index: usize) -> bool {
        self.chosen.get(index).is_some_and(|(batch, _)| {
            self.started.elapsed() + self.rate.estimate(batch.bytes) <= self.budget
        })
    }

    /// Batch `index` and every later one are deferred.
    fn defer_from(&mut self, index: usize) {
        let later: Vec<Batch> = self.chosen.drain(index..).map(|(b, _)| b).collect();
        self.took.truncate(index);
        self.deferred.splice(0..0, later);
    }

    fn finished(&mut self, index: usize, took: std::time::Duration) {
        if let (Some(slot), Some((batch, _))) = (self.took.get_mut(index), self.chosen.get(index)) {
            *slot = Some(took);
            self.measured = self.measured.updated(batch.bytes, took);
        }
    }

    fn deferred_keys(&self) -> Vec<(String, String)> {
        self.deferred
            .iter()
            .flat_map(|b| &b.updates)
            .filter_map(|&i| self.updates.get(i))
            .map(|u| (u.name.clone(), u.arch.clone()))
            .collect()
    }

    /// The summary line and the JSON document's `maintenanceWindow`.
    fn report(&self) -> (String, serde_json::Value) {
        let ids = |batch: &Batch| -> Vec<String> {
            batch
                .updates
                .iter()
                .filter_map(|&i| self.updates.get(i))
                .map(|u| format!("{}.{}", u.name, u.arch))
                .collect()
        };
        let describe = |batch: &Batch, took: Option<std::time::Duration>| {
            serde_json::json!({
                "updates": ids(batch),
                "compliance": batch.compliance,
                "reboot": batch.reboot,
                "bytes": batch.bytes,
                "estimateSeconds": self.rate.estimate(batch.bytes).as_secs_f64(),
                "tookSeconds": took.map(|t| t.as_secs_f64()),
            })
        };
        let deferred = self.deferred_keys();
        let line = format!(
            "maintenance window until {}: {} batch(es) run, {} update(s) deferred to the next window",
            crate::model::format_aws_time(self.deadline),
            self.chosen.len(),
            deferred.len()
        );
        let value = serde_json::json!({
            "deadline": crate::model::format_aws_time(self.deadline),
            "budgetSeconds": self.budget.as_secs_f64(),
            "bytesPerSecond": self.rate.bytes_per_second,
            "measuredBytesPerSecond": self.measured.bytes_per_second,
            "batches": self
                .chosen
                .iter()
                .zip(&self.took)
                .map(|((batch, _), took)| describe(batch, *took))
                .collect::<Vec<_>>(),
            "deferredBatches": self.deferred.iter().map(|b| describe(b, None)).collect::<Vec<_>>(),
            "deferred": deferred
                .iter()
                .map(|(name, arch)| format!("{name}.{arch}"))
                .collect::<Vec<_>>(),
        });
        (line, value)
    }
}

/// The targets of an approved plan on the system as it is now: refused with every difference
/// named when it drifted, unless `allow_drift` (then what still can be installed, and the
/// differences as warnings).
fn plan_targets(
    approved: &Plan,
    source: &str,
    identity: &SystemIdentity,
    baseline: &crate::baseline::Baseline,
    before: &crate::inventory::Inventory,
    allow_drift: bool,
) -> Result<(Vec<crate::evaluate::PlannedUpdate>, Vec<String>), CliError> {
    approved.check_kind(identity, source)?;
    let drift = approved.drift(identity, baseline, before);
    if !drift.differences.is_empty() && !allow_drift {
        return Err(CliError::PlanDrift {
            plan: source.to_string(),
            differences: drift.differences,
        });
    }
    let mut notes: Vec<String> = drift
        .differences
        .iter()
        .map(|d| format!("drift from the plan, allowed: {d}"))
        .collect();
    notes.extend(drift.done.iter().map(|t| {
        format!(
            "{}.{} {} of the plan is installed already",
            t.name, t.arch, t.version
        )
    }));
    Ok((drift.installable, notes))
}

/// Named points inside `install` (and `run`: `before-upload`, `after-upload`) where
/// `$PATCH_BASELINE_CRASH_AT` stops the process as a `kill -9` would (crash-safety tests).
pub(crate) fn checkpoint(context: &Context, name: &str) {
    if context
        .env
        .get("PATCH_BASELINE_CRASH_AT")
        .is_some_and(|at| at == name)
    {
        std::process::abort();
    }
}
