//! The readable form of `explain`'s decision traces: one block per package, each version judged
//! with the lists, the views, every filter with the value it compared, the gate and the dates.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::evaluate::{
    Evaluation, FilterTrace, PackageTrace, RuleTrace, Through, VersionTrace, ViewTrace,
};
use crate::model::ComplianceLevel;

fn time(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// The traces as text, after a line naming the baseline, the system and "now"; `unmatched`
/// are the patterns that named no package, `warnings` what the scan warned about.
pub fn render_explain(
    evaluation: &Evaluation<'_>,
    traces: &[PackageTrace<'_>],
    unmatched: &[&str],
    warnings: &[String],
) -> String {
    let mut out = String::new();
    let name = if evaluation.baseline_name.is_empty() {
        "(unnamed baseline)"
    } else {
        evaluation.baseline_name
    };
    let _ = writeln!(
        out,
        "baseline {name} ({}), product {}, now {}",
        if evaluation.baseline_id.is_empty() {
            "no id"
        } else {
            evaluation.baseline_id
        },
        evaluation.product,
        time(&evaluation.now)
    );
    for trace in traces {
        out.push('\n');
        package(&mut out, trace);
    }
    for pattern in unmatched {
        let _ = writeln!(
            out,
            "\n`{pattern}`: no installed or offered package matches"
        );
    }
    for warning in warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    out
}

fn package(out: &mut String, trace: &PackageTrace<'_>) {
    let _ = write!(out, "{}: {}", trace.id, trace.state.as_str());
    if trace.state.is_non_compliant() || trace.compliance != ComplianceLevel::Unspecified {
        let _ = write!(out, ", {}", trace.compliance.as_str());
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "  installed {}; approved {}",
        trace.installed_version.unwrap_or("(not installed)"),
        trace.approved_version.unwrap_or("(none)")
    );
    let _ = writeln!(out, "  why: {}", trace.explanation);
    if trace.held {
        let _ = writeln!(
            out,
            "  held by the host (hold, versionlock, exclude or lock): an install leaves it alone"
        );
    }
    for hidden in &trace.hidden_by_host {
        let _ = writeln!(
            out,
            "  {} hidden by the host's configuration (exclude, includepkgs or a lock on it){}: \
             never offered, not judged",
            hidden.version,
            hidden
                .repository
                .as_ref()
                .map(|r| format!(", in {r}"))
                .unwrap_or_default()
        );
    }
    if trace.pending_reboot {
        let _ = writeln!(
            out,
            "  installed by a NoReboot install; the machine has not rebooted since"
        );
    }
    if trace.versions.is_empty() {
        let _ = writeln!(out, "  no version to judge: no repository offers one");
        return;
    }
    let _ = writeln!(out, "  versions judged, newest first:");
    for version in &trace.versions {
        version_block(out, version, trace);
    }
}

fn version_block(out: &mut String, version: &VersionTrace<'_>, trace: &PackageTrace<'_>) {
    let mut notes = Vec::new();
    if version.installed {
        notes.push("installed".to_string());
    }
    notes.push(if version.approved {
        format!("approved, {}", version.compliance.as_str())
    } else {
        "not approved".to_string()
    });
    if let Some(repository) = version.repository {
        notes.push(format!("from {repository}"));
    }
    if !version.offered {
        notes.push("the installed package itself: no repository offers this version".into());
    }
    let marker = if version.chosen { ">" } else { " " };
    let _ = write!(out, "  {marker} {}  {}", version.version, notes.join(", "));
    if version.chosen {
        out.push_str("  <- the decision takes this version");
    }
    out.push('\n');
    if let Some(entry) = version.rejected_by {
        let _ = writeln!(
            out,
            "      RejectedPatches `{entry}` names it ({}): rejected, nothing else counts",
            trace.rejected_action.as_str()
        );
    }
    if let Some(entry) = version.approved_by {
        if version.approved_list_applies {
            let _ = writeln!(
                out,
                "      ApprovedPatches `{entry}` names it: approved whatever the filters say"
            );
        } else {
            let _ = writeln!(
                out,
                "      ApprovedPatches `{entry}` names it, but it is not a security update and \
                 ApprovedPatchesEnableNonSecurity is false"
            );
        }
    }
    for view in &version.views {
        view_block(out, view);
    }
}

fn view_block(out: &mut String, view: &ViewTrace<'_>) {
    let mut facts = Vec::new();
    let mut fact = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            facts.push(format!("{name} {value}"));
        }
    };
    fact("classification", view.classification);
    fact("severity", view.severity);
    fact("priority", view.priority);
    fact("section", view.section);
    fact("security origin", view.origin);
    if let Some(released) = &view.released {
        facts.push(format!("released {}", time(released)));
    }
    let what = match view.through {
        Through::Advisory { id } => format!("through advisory {id}"),
        Through::Package => "through the package, no advisory".to_string(),
        Through::InstalledPackage => {
            "through the installed package without metadata (released at time 0)".to_string()
        }
        Through::Stanza => "through its Packages stanza".to_string(),
        Through::DpkgStatus => "through dpkg's status entry".to_string(),
    };
    if facts.is_empty() {
        let _ = writeln!(out, "      {what}");
    } else {
        let _ = writeln!(out, "      {what}: {}", facts.join(", "));
    }
    if view.global_filters.is_empty() {
        let _ = writeln!(out, "        global filters: none");
    } else {
        let _ = writeln!(
            out,
            "        global filters: {}",
            if view.global_filters_pass {
                "pass"
            } else {
                "fail, no rule looks at this view"
            }
        );
        for filter in &view.global_filters {
            filter_line(out, filter, "          ");
        }
    }
    if view.global_filters_pass && view.rules.is_empty() {
        let _ = writeln!(
            out,
            "        no rule looks at it: no view of this version passes the global filters, or the baseline has no rules"
        );
    }
    for rule in &view.rules {
        rule_block(out, rule);
    }
}

fn filter_line(out: &mut String, filter: &FilterTrace<'_>, indent: &str) {
    let _ = writeln!(
        out,
        "{indent}{} `{}` {} [{}]: {}",
        filter.key,
        filter.value.unwrap_or("(none)"),
        if filter.passes { "in" } else { "not in" },
        filter.values.join(", "),
        if filter.passes { "pass" } else { "fail" }
    );
}

fn rule_block(out: &mut String, rule: &RuleTrace<'_>) {
    let _ = writeln!(
        out,
        "        rule {} [{}, {}, EnableNonSecurity {}]: {}",
        rule.rule,
        rule.compliance.as_str(),
        rule.condition,
        rule.enable_non_security,
        if rule.approves {
            "approves"
        } else {
            "does not approve"
        }
    );
    for filter in &rule.filters {
        filter_line(out, filter, "          ");
    }
    match rule.gate_passes {
        Some(true) => {
            let _ = writeln!(out, "          non-security gate: pass");
        }
        Some(false) => {
            let _ = writeln!(
                out,
                "          non-security gate: fail (not a security update, EnableNonSecurity is false)"
            );
        }
        None => {}
    }
    if let Some(date) = &rule.date {
        let _ = writeln!(
            out,
            "          released {}, approves releases before {}: {}",
            time(&date.released),
            time(&date.cutoff),
            if date.passes { "pass" } else { "fail" }
        );
    }
}
