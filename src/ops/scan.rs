//! `scan`: lock, state, markers left alone, one scan of the system, evaluation and report.

use std::io::Write;

use crate::backend::scan_system;
use crate::evaluate::Operation;
use crate::exit::Outcome;
use crate::ops::settings::ScanSettings;
use crate::ops::{
    CliError, Context, RunInfo, evaluate_and_report, load_baseline, still_pending, write_atomically,
};

/// Runs `scan`.
pub(crate) fn run_scan(
    args: &ScanSettings,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    use crate::state::{OperationLock, PatchStates, StatePaths, boot_time};
    crate::state::set_crash_point(context.env.get("PATCH_BASELINE_CRASH_AT"));
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
    // The baseline comes first: its sources decide the repositories the scan reads.
    let baseline = args
        .report
        .baseline
        .as_deref()
        .map(load_baseline)
        .transpose()?;
    let sources = baseline.as_ref().map_or(&[][..], |b| b.sources.as_slice());
    // The recorded states are read while the system is scanned (nothing in the scan needs
    // them), keeping only the packages installed pending a reboot (all a scan uses); their
    // warning comes first, as it would read them first.
    let states_at = warnings.len();
    let ((states, warning), scanned) = std::thread::scope(|scope| {
        let (paths, now) = (&paths, context.now);
        let loading = scope.spawn(move || PatchStates::load_pending(paths, now));
        let scanned = scan_system(
            &args.system.root,
            sources,
            args.system.refresh(),
            args.read_only,
            args.report.product.as_deref(),
            context,
            &mut warnings,
        );
        let loaded = loading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (loaded, scanned)
    });
    let (mut inventory, _) = scanned?;
    if let Some(warning) = warning {
        warnings.insert(states_at, warning);
    }
    inventory.pending_reboot = still_pending(&states, boot_time(&context.env));
    if let Some(path) = &args.save_inventory {
        inventory.expand_not_installed();
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
        baseline: baseline.as_ref(),
        system_root: Some(&args.system.root),
        deferred: &[],
        window: None,
    };
    evaluate_and_report(&mut inventory, &source, &args.report, &run, context, stdout)
        .map(|(outcome, _)| outcome)
}
