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
use crate::ops::run::resume_after_reboot;
use crate::ops::settings::{InstallSettings, OutputFormat, RebootOption};
use crate::ops::{
    CliError, Context, RunInfo, evaluate_and_report, load_baseline, read, still_pending, write_out,
};
use crate::pattern::InstallOverrideList;
use crate::plan::{Plan, SystemIdentity};

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
    use crate::install::Target;
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
            now: context.now,
            operation: Operation::Scan,
            override_list: None,
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
    if !targets.is_empty() {
        match context.steps.time("install", || {
            installer.install(&SystemRunner, &targets, lock_timeout)
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
    let source = format!("the system under `{}`", args.system.root.display());
    let run = RunInfo {
        operation: Operation::Install,
        override_list: override_list.as_ref(),
        warnings,
        reboot_option: args.reboot_option.as_str(),
        state: Some((&paths, last_no_reboot)),
        baseline: Some(&baseline),
        system_root: Some(&args.system.root),
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
