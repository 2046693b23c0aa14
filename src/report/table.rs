//! The terminal table: one line per reported package and a summary, readable at 100 columns.

use std::fmt::Write as _;

use crate::evaluate::{Evaluation, PackageDecision};
use crate::model::{Family, PatchState};

/// Renders the evaluation as a table. Non-compliant packages come first; compliant ones are
/// listed only with `all`; NotApplicable ones are only counted.
pub fn render_table(evaluation: &Evaluation, all: bool) -> String {
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut ordered: Vec<_> = evaluation
        .decisions
        .iter()
        .filter(|d| d.state != PatchState::NotApplicable)
        .filter(|d| all || d.state.is_non_compliant())
        .collect();
    ordered.sort_by_key(|d| !d.state.is_non_compliant());
    for d in ordered {
        let target = match d.state {
            PatchState::Missing | PatchState::Failed => d.version().to_string(),
            _ => String::new(),
        };
        rows.push([
            d.state.as_str().to_string(),
            d.id(),
            d.installed_version().unwrap_or_default().to_string(),
            target,
            evaluation.explanation(d),
        ]);
    }
    let headers = ["STATE", "PACKAGE", "INSTALLED", "APPROVED", "WHY"];
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row.iter()).take(4) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Baseline {} ({}) on {} {} at {}",
        evaluation.baseline_name,
        evaluation.baseline_id,
        evaluation.product,
        evaluation.package_manager.as_str(),
        evaluation.now.format("%Y-%m-%d %H:%M:%SZ")
    );
    if !rows.is_empty() {
        let line = |cells: [&str; 5]| {
            format!(
                "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            )
        };
        let _ = writeln!(out, "{}", line(headers).trim_end());
        for row in &rows {
            let cells = [
                row[0].as_str(),
                row[1].as_str(),
                row[2].as_str(),
                row[3].as_str(),
                row[4].as_str(),
            ];
            let _ = writeln!(out, "{}", line(cells).trim_end());
        }
    }
    let c = evaluation.counts();
    let _ = writeln!(out, "{}", summary_line(evaluation));
    if !all && c.installed + c.installed_other > 0 {
        let _ = writeln!(out, "(compliant packages hidden; --all lists them)");
    }
    out
}

/// The one-line summary: compliance and every count.
pub fn summary_line(evaluation: &Evaluation) -> String {
    let c = evaluation.counts();
    format!(
        "{}: {} installed, {} installed-other, {} installed-rejected, {} pending-reboot, {} missing, \
         {} failed, {} not-applicable",
        if evaluation.is_compliant() {
            "COMPLIANT"
        } else {
            "NON_COMPLIANT"
        },
        c.installed,
        c.installed_other,
        c.installed_rejected,
        c.installed_pending_reboot,
        c.missing,
        c.failed,
        c.not_applicable
    )
}

/// The non-compliant packages, most severe first: compliance level (the baseline rule's), then
/// on RPM and SUSE the vendor severity (critical, important or high, moderate or medium, low,
/// then the rest: AWS's default baselines leave every level UNSPECIFIED), then Failed, Missing,
/// InstalledRejected, InstalledPendingReboot, then name and arch (the order of `run`'s output
/// and of the HTML report). apt's PatchSeverity is a Debian priority, not a severity: not ranked.
pub fn most_severe_first<'e, 'a>(evaluation: &'e Evaluation<'a>) -> Vec<&'e PackageDecision<'a>> {
    let ranked = evaluation.package_manager.family() != Family::Apt;
    let vendor = |d: &PackageDecision<'_>| {
        if !ranked {
            return 0;
        }
        match d.patch_severity().to_ascii_lowercase().as_str() {
            "critical" => 4,
            "important" | "high" => 3,
            "moderate" | "medium" => 2,
            "low" => 1,
            _ => 0,
        }
    };
    let state_order = |state: PatchState| match state {
        PatchState::Failed => 0,
        PatchState::Missing => 1,
        PatchState::InstalledRejected => 2,
        _ => 3,
    };
    let mut non_compliant: Vec<_> = evaluation
        .decisions
        .iter()
        .filter(|d| d.state.is_non_compliant())
        .collect();
    non_compliant.sort_by_cached_key(|d| {
        (
            std::cmp::Reverse(d.compliance),
            std::cmp::Reverse(vendor(d)),
            state_order(d.state),
            d.name,
            d.arch,
        )
    });
    non_compliant
}

/// What `run` prints for Run Command, whose console shows the first 2,500 characters: the
/// summary line first, then the non-compliant packages, most severe first
/// ([`most_severe_first`]), one short line each. The full report is in the JSON output and PutInventory.
pub fn render_run(evaluation: &Evaluation) -> String {
    let non_compliant = most_severe_first(evaluation);
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary_line(evaluation));
    if !non_compliant.is_empty() {
        let _ = writeln!(out, "non-compliant, most severe first:");
    }
    for d in non_compliant {
        let target = match d.state {
            PatchState::Missing | PatchState::Failed => format!(" -> {}", d.version()),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {} {} {} {}{}",
            d.compliance.as_str(),
            d.state.as_str(),
            d.id(),
            d.installed_version().unwrap_or_default(),
            target
        );
    }
    out
}
