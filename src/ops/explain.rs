//! `explain`: why each named package is (or is not) being patched. The system (read only: no
//! lock, no state recorded, caches only read) or a recorded inventory is evaluated as `scan`
//! and `evaluate` do, and every matching package's full decision trace is printed.

use std::io::Write;

use crate::backend::scan_system;
use crate::evaluate::{EvaluateOptions, Operation, PackageDecision, evaluate};
use crate::exit::Outcome;
use crate::inventory::Inventory;
use crate::ops::settings::{ExplainSettings, OutputFormat};
use crate::ops::{
    CliError, Context, baseline_for, load_baseline, parse_now, read, still_pending, write_out,
};
use crate::pattern::glob;

/// Runs `explain`.
pub(crate) fn run_explain(
    args: &ExplainSettings,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    use crate::state::{PatchStates, StatePaths, boot_time};
    if args.packages.is_empty() {
        return Err(CliError::Usage(
            "name at least one package to explain".into(),
        ));
    }
    let now = parse_now(args.now.as_deref(), context)?;
    let mut warnings = Vec::new();
    let given = args.baseline.as_deref().map(load_baseline).transpose()?;
    let (mut inventory, source) = if let Some(path) = &args.inventory {
        let name = path.to_string_lossy().into_owned();
        (Inventory::from_json(&read(path)?, &name)?, name)
    } else {
        let root = &args.system.root;
        let sources = given.as_ref().map_or(&[][..], |b| b.sources.as_slice());
        let (mut inventory, _) = scan_system(
            root,
            sources,
            args.system.refresh(),
            true,
            args.product.as_deref(),
            context,
            &mut warnings,
        )?;
        let (states, warning) = PatchStates::load(&StatePaths::new(root), now);
        warnings.extend(warning);
        inventory.pending_reboot = still_pending(&states, boot_time(&context.env));
        (inventory, format!("the system under `{}`", root.display()))
    };
    if let Some(product) = &args.product {
        inventory.product.clone_from(product);
    }
    // Packages that are not installed are explained too (they are NotApplicable).
    inventory.expand_not_installed();
    let baseline = baseline_for(
        given.as_ref(),
        args.baseline.as_deref(),
        &inventory,
        &source,
    )?;
    let options = EvaluateOptions {
        now,
        operation: Operation::Scan,
        override_list: None,
        deferred: &[],
    };
    let evaluation = evaluate(&inventory, &baseline, &options)?;
    let mut chosen: Vec<&PackageDecision<'_>> = Vec::new();
    let mut unmatched = Vec::new();
    for pattern in &args.packages {
        let before = chosen.len();
        for decision in &evaluation.decisions {
            if matches(pattern, decision) && !chosen.iter().any(|c| std::ptr::eq(*c, decision)) {
                chosen.push(decision);
            }
        }
        if chosen.len() == before {
            unmatched.push(pattern.as_str());
        }
    }
    if chosen.is_empty() {
        return Err(CliError::Usage(format!(
            "no package installed on or offered to {source} matches {}",
            unmatched
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    chosen.sort_by(|a, b| a.name.cmp(b.name).then_with(|| a.arch.cmp(b.arch)));
    let traces: Vec<_> = chosen
        .iter()
        .map(|d| evaluation.trace(d).with_hidden(&inventory))
        .collect();
    let text = match args.output {
        OutputFormat::Json => {
            let document = serde_json::json!({
                "operatingSystem": evaluation.operating_system.as_aws(),
                "product": evaluation.product,
                "packageManager": evaluation.package_manager,
                "baselineId": evaluation.baseline_id,
                "baselineName": evaluation.baseline_name,
                "now": evaluation.now,
                "packages": traces,
                "unmatched": unmatched,
                "warnings": warnings,
            });
            serde_json::to_string_pretty(&document).map_err(|e| CliError::Write {
                path: "<stdout>".into(),
                source: std::io::Error::other(e),
            })?
        }
        // The command line offers only the table and JSON here.
        OutputFormat::Table | OutputFormat::Run | OutputFormat::Html | OutputFormat::Prometheus => {
            crate::report::render_explain(&evaluation, &traces, &unmatched, &warnings)
        }
    };
    write_out(stdout, text.trim_end())?;
    Ok(Outcome::Success)
}

/// Whether `pattern` names `decision`: its name, its report name (apt's `name:arch`) or its
/// `name.arch`, as a glob (`*`, `?`, `[…]`).
fn matches(pattern: &str, decision: &PackageDecision<'_>) -> bool {
    glob(pattern, decision.name)
        || glob(pattern, &decision.display_name())
        || glob(pattern, &decision.id())
        || glob(pattern, &format!("{}.{}", decision.name, decision.arch))
}
