//! `evaluate`: a recorded inventory, evaluated and reported as a scan or install would.

use std::io::Write;

use crate::evaluate::Operation;
use crate::exit::Outcome;
use crate::inventory::Inventory;
use crate::ops::settings::{EvaluateSettings, RunOperation};
use crate::ops::{CliError, Context, RunInfo, evaluate_and_report, read};
use crate::pattern::InstallOverrideList;

/// Runs `evaluate`.
pub(crate) fn run_evaluate(
    args: &EvaluateSettings,
    context: &Context,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let operation = match args.operation {
        RunOperation::Scan => Operation::Scan,
        RunOperation::Install => Operation::Install,
    };
    if args.install_override_list.is_some() && operation == Operation::Scan {
        return Err(CliError::Usage(
            "--install-override-list applies to --operation Install only".into(),
        ));
    }
    let inventory_name = args.inventory.to_string_lossy().into_owned();
    let mut inventory = Inventory::from_json(&read(&args.inventory)?, &inventory_name)?;
    if let Some(product) = &args.report.product {
        inventory.product.clone_from(product);
    }
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
        baseline: None,
        system_root: None,
        deferred: &[],
        window: None,
    };
    evaluate_and_report(
        &mut inventory,
        &inventory_name,
        &args.report,
        &run,
        context,
        stdout,
    )
    .map(|(outcome, _)| outcome)
}
