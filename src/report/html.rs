//! The HTML report (`--output html`, `--html FILE`): one self-contained page, with its style
//! inline and no script, font, image or stylesheet to fetch. It owns the page's layout and the
//! HTML escaping of every string put in it: the machine, baseline and time; the counts as an
//! inline SVG bar chart; the non-compliant packages most severe first with their reason and CVE
//! links; the compliant packages collapsed in a `<details>`.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::evaluate::{Evaluation, PackageDecision};
use crate::model::PatchState;
use crate::report::{
    ReportContext, escape_chars, most_severe_first, non_compliant_by_level, state_counts,
};

/// `text` with `&`, `<`, `>`, `"` and `'` replaced by character references: safe as element
/// text and as a quoted attribute value.
pub fn escape_html(text: &str) -> Cow<'_, str> {
    escape_chars(text, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        _ => None,
    })
}

/// `text` percent-encoded for a URL query value: everything but ASCII letters, digits and
/// `-._~` is written as `%XX` of its UTF-8 bytes.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The bar colour of each state in the chart.
fn state_colour(state: PatchState) -> &'static str {
    match state {
        PatchState::Installed => "#2e7d32",
        PatchState::InstalledOther => "#66bb6a",
        PatchState::InstalledRejected => "#8e24aa",
        PatchState::InstalledPendingReboot => "#f9a825",
        PatchState::Missing => "#ef6c00",
        PatchState::Failed => "#c62828",
        PatchState::NotApplicable => "#9e9e9e",
    }
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em;margin:0 0 .3em}dl{display:grid;grid-template-columns:max-content auto;\
gap:.1em 1em;margin:.5em 0}dt{font-weight:600}dd{margin:0}\
.verdict{display:inline-block;padding:.1em .6em;border-radius:.3em;color:#fff;font-weight:700}\
.ok{background:#2e7d32}.bad{background:#c62828}\
table{border-collapse:collapse;margin:.5em 0}th,td{border-bottom:1px solid #ddd;padding:.2em .5em;\
text-align:left;vertical-align:top}th{background:#f3f3f3}\
td.n{font-family:monospace;overflow-wrap:anywhere}td.p{white-space:nowrap}td.why{min-width:16em}\
td a{display:block;white-space:nowrap}\
.CRITICAL{color:#b71c1c;font-weight:700}.HIGH{color:#e65100;font-weight:700}.MEDIUM{color:#f57f17}\
summary{cursor:pointer;font-weight:600;margin:.8em 0}.warn{color:#8a6d00}";

/// Renders the evaluation as one self-contained HTML page. NotApplicable packages (approved,
/// not installed) are only counted, as in the table.
pub fn render_html(
    evaluation: &Evaluation<'_>,
    context: &ReportContext,
    warnings: &[String],
) -> String {
    let mut out = String::with_capacity(4096 + evaluation.decisions.len() * 200);
    let machine = if context.instance_id.is_empty() {
        evaluation.product
    } else {
        context.instance_id.as_str()
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>Patch compliance of {} ({})</title><style>{STYLE}</style></head><body>\n",
        escape_html(machine),
        escape_html(evaluation.baseline_name)
    );
    let (verdict, class) = if evaluation.is_compliant() {
        ("COMPLIANT", "ok")
    } else {
        ("NON_COMPLIANT", "bad")
    };
    let _ = writeln!(
        out,
        "<h1>Patch compliance <span id=\"verdict\" class=\"verdict {class}\">{verdict}</span></h1>"
    );
    write_facts(&mut out, evaluation, context);
    for warning in warnings {
        let _ = writeln!(
            out,
            "<p class=\"warn\">warning: {}</p>",
            escape_html(warning)
        );
    }
    write_chart(&mut out, evaluation);
    write_non_compliant(&mut out, evaluation);
    write_compliant(&mut out, evaluation);
    out.push_str("</body></html>\n");
    out
}

/// The machine, baseline and time.
fn write_facts(out: &mut String, evaluation: &Evaluation<'_>, context: &ReportContext) {
    let instance = if context.instance_id.is_empty() {
        "(not given)"
    } else {
        context.instance_id.as_str()
    };
    let facts: [(&str, &str, Cow<'_, str>); 7] = [
        ("instance", "Instance", Cow::Borrowed(instance)),
        (
            "system",
            "System",
            Cow::Owned(format!(
                "{} ({}, {})",
                evaluation.operating_system.as_aws(),
                evaluation.product,
                evaluation.package_manager.as_str()
            )),
        ),
        (
            "baseline",
            "Baseline",
            Cow::Owned(format!(
                "{} ({})",
                evaluation.baseline_name, evaluation.baseline_id
            )),
        ),
        (
            "patch-group",
            "Patch group",
            Cow::Borrowed(if context.patch_group.is_empty() {
                "(none)"
            } else {
                context.patch_group.as_str()
            }),
        ),
        (
            "operation",
            "Operation",
            Cow::Borrowed(evaluation.operation.as_str()),
        ),
        (
            "time",
            "Evaluated at",
            Cow::Owned(evaluation.now.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        ),
        (
            "snapshot",
            "Snapshot",
            Cow::Borrowed(context.snapshot_id.as_str()),
        ),
    ];
    out.push_str("<dl>");
    for (id, label, value) in facts {
        let _ = write!(
            out,
            "<dt>{label}</dt><dd id=\"{id}\">{}</dd>",
            escape_html(&value)
        );
    }
    out.push_str("</dl>\n");
}

/// The counts per state as an inline SVG bar chart, and the non-compliant packages per
/// compliance level.
fn write_chart(out: &mut String, evaluation: &Evaluation<'_>) {
    const ROW: usize = 24;
    const LABEL: usize = 190;
    const BAR: usize = 360;
    let counts = state_counts(&evaluation.counts());
    let most = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let height = counts.len() * ROW + 4;
    let _ = writeln!(
        out,
        "<h2>Counts</h2>\n<svg id=\"counts\" role=\"img\" aria-label=\"packages per state\" \
         xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" \
         font-size=\"13\" font-family=\"system-ui,sans-serif\">",
        LABEL + BAR + 60
    );
    for (row, (state, count)) in counts.iter().enumerate() {
        let y = row * ROW + 2;
        // A non-zero count always shows at least a sliver.
        let width = if *count == 0 {
            0
        } else {
            (count * BAR / most).max(2)
        };
        let _ = writeln!(
            out,
            "<g class=\"bar\" data-state=\"{s}\" data-count=\"{count}\"><title>{s}: {count}</title>\
             <text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{s}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{width}\" height=\"{h}\" fill=\"{c}\"/>\
             <text x=\"{nx}\" y=\"{ty}\">{count}</text></g>",
            s = state.as_str(),
            tx = LABEL - 8,
            ty = y + 15,
            h = ROW - 6,
            c = state_colour(*state),
            nx = LABEL + width + 6,
        );
    }
    out.push_str("</svg>\n");
    let levels: Vec<String> = non_compliant_by_level(evaluation)
        .iter()
        .rev()
        .filter(|(_, n)| *n > 0)
        .map(|(level, n)| {
            format!(
                "<span class=\"{l}\" data-severity=\"{l}\" data-count=\"{n}\">{l} {n}</span>",
                l = level.as_str()
            )
        })
        .collect();
    if !levels.is_empty() {
        let _ = writeln!(
            out,
            "<p id=\"severities\">Non-compliant by compliance level: {}</p>",
            levels.join(", ")
        );
    }
}

/// The CVE links of a package, or an empty string.
fn cve_links(evaluation: &Evaluation<'_>, decision: &PackageDecision<'_>) -> String {
    let mut links = String::new();
    for (index, cve) in evaluation.cve_ids(decision).iter().enumerate() {
        if index > 0 {
            links.push(' ');
        }
        let _ = write!(
            links,
            "<a href=\"https://www.cve.org/CVERecord?id={}\">{}</a>",
            escape_html(&percent_encode(cve)),
            escape_html(cve)
        );
    }
    links
}

/// The non-compliant packages, most severe first.
fn write_non_compliant(out: &mut String, evaluation: &Evaluation<'_>) {
    let rows = most_severe_first(evaluation);
    let _ = writeln!(out, "<h2>Non-compliant packages ({})</h2>", rows.len());
    if rows.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    out.push_str(
        "<table id=\"non-compliant\"><thead><tr><th>Level</th><th>State</th><th>Package</th>\
         <th>Installed</th><th>Approved</th><th>Classification</th><th>Severity</th>\
         <th>Why</th><th>CVEs</th></tr></thead><tbody>\n",
    );
    for d in rows {
        let level = d.compliance.as_str();
        let id = d.id();
        let _ = writeln!(
            out,
            "<tr data-package=\"{id}\" data-state=\"{state}\" data-level=\"{level}\">\
             <td class=\"{level}\">{level}</td><td>{state}</td><td class=\"n p\">{id}</td>\
             <td class=\"n\">{installed}</td><td class=\"n\">{approved}</td><td>{class}</td>\
             <td>{severity}</td><td class=\"why\">{why}</td><td>{cves}</td></tr>",
            id = escape_html(&id),
            state = d.state.as_str(),
            installed = escape_html(d.installed_version().unwrap_or_default()),
            approved = escape_html(d.approved_version().unwrap_or_default()),
            class = escape_html(&d.classification()),
            severity = escape_html(&d.patch_severity()),
            why = escape_html(&evaluation.explanation(d)),
            cves = cve_links(evaluation, d),
        );
    }
    out.push_str("</tbody></table>\n");
}

/// The compliant packages (Installed, InstalledOther), collapsed, by name.
fn write_compliant(out: &mut String, evaluation: &Evaluation<'_>) {
    let mut rows: Vec<_> = evaluation
        .decisions
        .iter()
        .filter(|d| matches!(d.state, PatchState::Installed | PatchState::InstalledOther))
        .collect();
    rows.sort_by(|a, b| a.name.cmp(b.name).then(a.arch.cmp(b.arch)));
    let _ = writeln!(
        out,
        "<details id=\"compliant\"><summary>Compliant packages ({})</summary>",
        rows.len()
    );
    if !rows.is_empty() {
        out.push_str(
            "<table><thead><tr><th>State</th><th>Package</th><th>Installed</th><th>Why</th>\
             </tr></thead><tbody>\n",
        );
        for d in rows {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"n p\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                d.state.as_str(),
                escape_html(&d.id()),
                escape_html(d.installed_version().unwrap_or_default()),
                escape_html(&evaluation.explanation(d)),
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</details>\n");
}

#[cfg(test)]
mod tests {
    use super::{escape_html, percent_encode};

    #[test]
    fn escaping_leaves_no_markup() {
        let hostile = "<script>alert('x')</script>&\"pkg\"<img src=x onerror=1>";
        let escaped = escape_html(hostile);
        assert!(!escaped.contains(['<', '>', '"', '\'']));
        assert_eq!(
            escaped,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;pkg&quot;\
             &lt;img src=x onerror=1&gt;"
        );
        assert_eq!(escape_html("libc6:i386.i386"), "libc6:i386.i386");
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
        assert_eq!(escape_html("ünïcode ✓"), "ünïcode ✓");
    }

    #[test]
    fn cve_ids_are_percent_encoded_in_links() {
        assert_eq!(percent_encode("CVE-2024-1234"), "CVE-2024-1234");
        assert_eq!(
            percent_encode("a&b=\"c\" d/é"),
            "a%26b%3D%22c%22%20d%2F%C3%A9"
        );
    }
}
