//! The Prometheus report (`--output prometheus`, `--prometheus FILE`): the evaluation as
//! metrics in the text exposition format, for node_exporter's textfile collector. It owns the
//! metric names, their help texts and labels, and the escaping of label values and help text.
//!
//! Every series carries `baseline_id` and `operation`. The metrics: packages per state, the
//! non-compliant packages per compliance level, compliance, reboot pending (any package
//! InstalledPendingReboot), when the operation ended, and an info series with the machine.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::evaluate::Evaluation;
use crate::report::{ReportContext, escape_chars, non_compliant_by_level, state_counts};

/// `value` escaped as a label value: backslash, double quote and newline as `\\`, `\"`, `\n`.
pub fn escape_label_value(value: &str) -> Cow<'_, str> {
    escape_chars(value, |c| match c {
        '\\' => Some("\\\\"),
        '"' => Some("\\\""),
        '\n' => Some("\\n"),
        _ => None,
    })
}

/// One sample: its own labels (beside the common ones) and its value.
type Sample<'a> = (Vec<(&'static str, &'a str)>, String);

/// Writes one gauge family: its `# HELP` and `# TYPE` lines, then its samples, each with the
/// `common` labels (already written as `k="v",…`) first.
fn write_family(out: &mut String, common: &str, name: &str, help: &str, samples: &[Sample<'_>]) {
    // Help texts are ours: no backslash or newline to escape.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = write!(out, "{name}{{{common}");
        for (key, label) in labels {
            let _ = write!(out, ",{key}=\"{}\"", escape_label_value(label));
        }
        let _ = writeln!(out, "}} {value}");
    }
}

/// `1` or `0`.
fn flag(value: bool) -> String {
    String::from(if value { "1" } else { "0" })
}

/// Renders the evaluation as node_exporter textfile metrics.
pub fn render_prometheus(evaluation: &Evaluation<'_>, context: &ReportContext) -> String {
    let common = format!(
        "baseline_id=\"{}\",operation=\"{}\"",
        escape_label_value(evaluation.baseline_id),
        evaluation.operation.as_str()
    );
    let counts = evaluation.counts();
    let info = vec![
        ("baseline_name", evaluation.baseline_name),
        ("instance_id", context.instance_id.as_str()),
        ("operating_system", evaluation.operating_system.as_aws()),
        ("product", evaluation.product),
        ("package_manager", evaluation.package_manager.as_str()),
        ("patch_group", context.patch_group.as_str()),
    ];
    let per_state = state_counts(&counts)
        .into_iter()
        .map(|(state, n)| (vec![("state", state.as_str())], n.to_string()))
        .collect();
    let per_level = non_compliant_by_level(evaluation)
        .into_iter()
        .map(|(level, n)| (vec![("severity", level.as_str())], n.to_string()))
        .collect();
    // A leap second's 1,000+ ms is the second's last millisecond.
    let ended = format!(
        "{}.{:03}",
        context.end.timestamp(),
        context.end.timestamp_subsec_millis().min(999)
    );
    let families: [(&str, &str, Vec<Sample<'_>>); 6] = [
        (
            "patch_baseline_info",
            "The machine and baseline the other series describe (always 1).",
            vec![(info, "1".to_string())],
        ),
        (
            "patch_baseline_packages",
            "Packages per patch state (NotApplicable: approved but not installed).",
            per_state,
        ),
        (
            "patch_baseline_non_compliant_packages",
            "Non-compliant packages per compliance level of the baseline rule.",
            per_level,
        ),
        (
            "patch_baseline_compliant",
            "1 when no package is non-compliant, else 0.",
            vec![(Vec::new(), flag(evaluation.is_compliant()))],
        ),
        (
            "patch_baseline_reboot_pending",
            "1 when packages were installed without the reboot they need \
             (InstalledPendingReboot), else 0.",
            vec![(Vec::new(), flag(counts.installed_pending_reboot > 0))],
        ),
        (
            "patch_baseline_last_run_timestamp_seconds",
            "When the operation ended, in seconds since the Unix epoch.",
            vec![(Vec::new(), ended)],
        ),
    ];
    let mut out = String::with_capacity(4096);
    for (name, help, samples) in &families {
        write_family(&mut out, &common, name, help, samples);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_label_value;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label_value("plain"), "plain");
        assert_eq!(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }
}
