//! `--output html` / `--html FILE` and `--output prometheus` / `--prometheus FILE`: scans of
//! real apt, dnf and zypper roots, the page rendered by a real browser (Debian's chromium,
//! headless, `--dump-dom` and a screenshot) and the metrics read by a real parser (python3's
//! `prometheus_client`); the counts and rows checked against `--output json` of the same scan.
//! Hostile versions, CVE ids and baseline names (pure `evaluate`) stay text in the rendered page
//! and round-trip through the metrics' label escaping.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::apt_root::{run, scenario};
use crate::util::{assert_code, binary, python};

const NOW: &str = "2030-01-01T00:00:00Z";
const STATES: [&str; 7] = [
    "Installed",
    "InstalledOther",
    "InstalledRejected",
    "InstalledPendingReboot",
    "Missing",
    "Failed",
    "NotApplicable",
];
const LEVELS: [&str; 6] = [
    "UNSPECIFIED",
    "INFORMATIONAL",
    "LOW",
    "MEDIUM",
    "HIGH",
    "CRITICAL",
];

/// Runs chromium headless on `page` (a fresh profile, nothing fetched in the background):
/// with `screenshot`, writes a PNG there; returns the DOM it built.
fn chromium(page: &Path, screenshot: Option<&Path>) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut command = Command::new("timeout");
    command.args([
        "120",
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,900",
    ]);
    command.arg(format!("--user-data-dir={}", profile.path().display()));
    match screenshot {
        Some(png) => command.arg(format!("--screenshot={}", png.display())),
        None => command.arg("--dump-dom"),
    };
    command.arg(format!("file://{}", page.display()));
    let out = run(command.env("HOME", profile.path()));
    String::from_utf8(out.stdout).unwrap()
}

/// The value of attribute `name` in the start tag `tag` (as chromium serialises it).
fn attribute<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// The start tags `<{element} …>` of `dom` that carry attribute `marker`, in document order.
fn tags<'d>(dom: &'d str, element: &str, marker: &str) -> Vec<&'d str> {
    let open = format!("<{element} ");
    dom.match_indices(&open)
        .filter_map(|(at, _)| {
            let end = dom[at..].find('>')? + at;
            let tag = &dom[at..=end];
            attribute(tag, marker).is_some().then_some(tag)
        })
        .collect()
}

/// The chart's counts as the browser's DOM has them: state → count.
fn chart_counts(dom: &str) -> BTreeMap<String, u64> {
    tags(dom, "g", "data-state")
        .into_iter()
        .map(|tag| {
            (
                attribute(tag, "data-state").unwrap().to_string(),
                attribute(tag, "data-count").unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// The JSON's counts: state → count.
fn json_counts(scan: &Value) -> BTreeMap<String, u64> {
    STATES
        .iter()
        .map(|state| (state.to_string(), scan["counts"][state].as_u64().unwrap()))
        .collect()
}

/// The JSON's Installed and InstalledOther count.
fn compliant_count(scan: &Value) -> u64 {
    ["Installed", "InstalledOther"]
        .iter()
        .map(|state| scan["counts"][state].as_u64().unwrap())
        .sum()
}

/// The non-compliant packages of the JSON, most severe first (compliance level, then on RPM and
/// SUSE the vendor severity, then Failed, Missing, InstalledRejected, InstalledPendingReboot,
/// then name and arch): (id, state, level).
fn json_most_severe_first(scan: &Value) -> Vec<(String, String, String)> {
    let state_rank = |s: &str| {
        [
            "Failed",
            "Missing",
            "InstalledRejected",
            "InstalledPendingReboot",
        ]
        .iter()
        .position(|x| *x == s)
    };
    let apt = scan["packageManager"] == "apt";
    let vendor_rank = |severity: &str| {
        let order = [
            ["critical", ""],
            ["important", "high"],
            ["moderate", "medium"],
            ["low", ""],
        ];
        let severity = severity.to_lowercase();
        order
            .iter()
            .position(|names| !severity.is_empty() && names.contains(&severity.as_str()))
            .filter(|_| !apt)
            .unwrap_or(order.len())
    };
    let mut rows: Vec<(usize, usize, usize, String, String, String, String)> = scan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| {
            let state = p["state"].as_str().unwrap();
            let rank = state_rank(state)?;
            let level = p["compliance"].as_str().unwrap();
            let level_rank = LEVELS.iter().position(|l| *l == level).unwrap();
            let name = p["name"].as_str().unwrap();
            let arch = p["arch"].as_str().unwrap();
            Some((
                LEVELS.len() - level_rank,
                vendor_rank(p["patchSeverity"].as_str().unwrap()),
                rank,
                name.to_string(),
                arch.to_string(),
                state.to_string(),
                level.to_string(),
            ))
        })
        .collect();
    rows.sort();
    rows.into_iter()
        .map(|(_, _, _, name, arch, s, l)| (format!("{name}.{arch}"), s, l))
        .collect()
}

/// The non-compliant rows of the rendered page: (id, state, level).
fn page_rows(dom: &str) -> Vec<(String, String, String)> {
    tags(dom, "tr", "data-package")
        .into_iter()
        .map(|tag| {
            (
                attribute(tag, "data-package").unwrap().to_string(),
                attribute(tag, "data-state").unwrap().to_string(),
                attribute(tag, "data-level").unwrap().to_string(),
            )
        })
        .collect()
}

fn scan(root: &Path, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(binary());
    command
        .args(["scan", "--root", root.to_str().unwrap()])
        .args(["--no-refresh", "--read-only", "--now", NOW])
        .args(["--snapshot-id", "6f1c0a4e-5b7d-4c3e-9a8f-1e2d3c4b5a69"])
        .args(extra)
        .env("LC_ALL", "C")
        .env_remove("AWS_SSM_INSTANCE_ID");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// `scan … --output json` with `extra`: it must succeed; its JSON.
fn scan_json(root: &Path, extra: &[&str], env: &[(&str, &str)]) -> Value {
    let mut args = vec!["--output", "json"];
    args.extend_from_slice(extra);
    let out = scan(root, &args, env);
    assert_code(&out, 0);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A real apt root scanned once with `--output json --html FILE`: chromium's DOM of the page
/// has the JSON's counts and its non-compliant packages, most severe first; `--output html`
/// prints the same page; a screenshot renders.
#[test]
fn html_of_a_real_apt_scan_renders_in_chromium_with_the_json_counts_and_rows() {
    let apt = scenario();
    let page = apt.base.join("report.html");
    let json = scan_json(
        &apt.root,
        &[
            "--html",
            page.to_str().unwrap(),
            "--instance-id",
            "i-0123456789abcdef0",
        ],
        &[("APT_CONFIG", apt.config.to_str().unwrap())],
    );
    let expected_rows = json_most_severe_first(&json);
    assert!(
        expected_rows.len() >= 2,
        "the scenario has non-compliant packages: {expected_rows:?}"
    );

    let dom = chromium(&page, None);
    assert_eq!(chart_counts(&dom), json_counts(&json));
    let rows = page_rows(&dom);
    assert_eq!(rows, expected_rows);
    assert!(dom.contains("id=\"instance\">i-0123456789abcdef0<"));
    assert!(dom.contains(&format!(
        "id=\"baseline\">{} ({})<",
        json["baselineName"].as_str().unwrap(),
        json["baselineId"].as_str().unwrap()
    )));
    assert!(dom.contains("id=\"time\">2030-01-01 00:00:00 UTC<"));
    let verdict = if json["compliant"] == true {
        ">COMPLIANT<"
    } else {
        ">NON_COMPLIANT<"
    };
    assert!(dom.contains(verdict));
    // Compliant packages are in a closed <details>, one row each.
    let compliant = compliant_count(&json);
    let details = &dom[dom.find("<details id=\"compliant\">").unwrap()..];
    let details = &details[..details.find("</details>").unwrap()];
    assert_eq!(details.matches("<tr><td>").count() as u64, compliant);
    assert!(dom.contains(&format!("Compliant packages ({compliant})")));
    // Nothing to fetch: no script, stylesheet link, image or font.
    let html = std::fs::read_to_string(&page).unwrap();
    for needle in ["<script", "<link", "<img", "@import", "url("] {
        assert!(!html.contains(needle), "{needle} in the page");
    }

    // `--output html` prints the same page.
    let out = scan(
        &apt.root,
        &["--output", "html", "--instance-id", "i-0123456789abcdef0"],
        &[("APT_CONFIG", apt.config.to_str().unwrap())],
    );
    assert_code(&out, 0);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim_end(),
        html.trim_end()
    );

    let png = apt.base.join("report.png");
    chromium(&page, Some(&png));
    let image = std::fs::read(&png).unwrap();
    assert!(image.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(
        image.len() > 10_000,
        "a blank screenshot: {} bytes",
        image.len()
    );
}

/// The samples of a metrics file as python3's `prometheus_client` parses them:
/// (name, labels, value).
fn parse_metrics(file: &Path) -> Vec<(String, BTreeMap<String, String>, f64)> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1], encoding="utf-8").read()
out = []
for family in text_string_to_metric_families(text):
    assert family.type == "gauge", (family.name, family.type)
    assert family.documentation, family.name
    for sample in family.samples:
        out.append([sample.name, sample.labels, sample.value])
print(json.dumps(out))
"#;
    let out = python(script, &[file.as_os_str()]);
    let samples: Vec<(String, BTreeMap<String, String>, f64)> =
        serde_json::from_slice(&out.stdout).unwrap();
    samples
}

fn sample(
    samples: &[(String, BTreeMap<String, String>, f64)],
    name: &str,
    label: Option<(&str, &str)>,
) -> f64 {
    let found: Vec<_> = samples
        .iter()
        .filter(|(n, labels, _)| {
            n == name && label.is_none_or(|(k, v)| labels.get(k).map(String::as_str) == Some(v))
        })
        .collect();
    assert_eq!(found.len(), 1, "{name} {label:?}: {found:?}");
    found[0].2
}

/// Checks the metrics file and the page written beside `json` (`--output json` of the same
/// run) against it: the counts per state and per compliance level, compliance, reboot pending,
/// the end time (`ended`: the range it must fall in), the common labels; the page's rows in
/// the JSON's order, each CVE linked on its package's row. Returns how many CVEs were linked.
fn assert_page_and_metrics_match(
    json: &Value,
    metrics: &Path,
    page: &Path,
    ended: (f64, f64),
) -> usize {
    let samples = parse_metrics(metrics);
    for (state, count) in json_counts(json) {
        assert_eq!(
            sample(&samples, "patch_baseline_packages", Some(("state", &state))),
            count as f64,
            "{state}"
        );
    }
    let non_compliant: Vec<&Value> = json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            [
                "Failed",
                "Missing",
                "InstalledRejected",
                "InstalledPendingReboot",
            ]
            .contains(&p["state"].as_str().unwrap())
        })
        .collect();
    assert!(!non_compliant.is_empty());
    for level in LEVELS {
        let count = non_compliant
            .iter()
            .filter(|p| p["compliance"] == level)
            .count();
        assert_eq!(
            sample(
                &samples,
                "patch_baseline_non_compliant_packages",
                Some(("severity", level))
            ),
            count as f64,
            "{level}"
        );
    }
    assert_eq!(
        sample(&samples, "patch_baseline_compliant", None),
        if json["compliant"] == true { 1.0 } else { 0.0 }
    );
    assert_eq!(
        sample(&samples, "patch_baseline_reboot_pending", None),
        if json["counts"]["InstalledPendingReboot"] == 0 {
            0.0
        } else {
            1.0
        }
    );
    let end = sample(&samples, "patch_baseline_last_run_timestamp_seconds", None);
    assert!(ended.0 <= end && end <= ended.1, "{end} not in {ended:?}");
    for (name, labels, _) in &samples {
        assert_eq!(
            labels["baseline_id"],
            json["baselineId"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(labels["operation"], "Scan", "{name}");
    }

    let dom = chromium(page, None);
    let mut linked = 0;
    for p in &non_compliant {
        let id = format!(
            "{}.{}",
            p["name"].as_str().unwrap(),
            p["arch"].as_str().unwrap()
        );
        let row = &dom[dom.find(&format!("<tr data-package=\"{id}\"")).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        for cve in p["cveIds"].as_array().unwrap() {
            let cve = cve.as_str().unwrap();
            assert!(
                row.contains(&format!(
                    "<a href=\"https://www.cve.org/CVERecord?id={cve}\">{cve}</a>"
                )),
                "{id}: {cve} not linked in {row}"
            );
            linked += 1;
        }
    }
    assert_eq!(page_rows(&dom), json_most_severe_first(json));
    linked
}

/// A real dnf root scanned with `--output json --prometheus FILE --html FILE`: the metrics
/// parse with prometheus_client and carry the JSON's counts, per state and per compliance
/// level; the page links the CVEs of the JSON; `--output prometheus` prints the same metrics.
#[test]
fn prometheus_and_html_of_a_real_dnf_scan_agree_with_its_json() {
    let dnf = crate::dnf_root::scenario();
    let metrics = dnf.base.join("patch_baseline.prom");
    let page = dnf.base.join("report.html");
    let home = dnf.home.to_str().unwrap().to_string();
    let json = scan_json(
        &dnf.root,
        &[
            "--prometheus",
            metrics.to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
        ],
        &[("HOME", &home)],
    );
    let now = chrono::DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .timestamp() as f64;
    let linked = assert_page_and_metrics_match(&json, &metrics, &page, (now, now));
    assert!(linked > 0, "the scenario's advisories carry CVEs");

    let out = scan(&dnf.root, &["--output", "prometheus"], &[("HOME", &home)]);
    assert_code(&out, 0);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim_end(),
        std::fs::read_to_string(&metrics).unwrap().trim_end()
    );
}

/// A real zypper root (SUSE patches of every severity) scanned at the current time: the
/// metrics and the page agree with the JSON of the same run, the end time is the run's, and
/// the vendor severity orders packages of the same compliance level (critical first).
#[test]
fn prometheus_and_html_of_a_real_zypper_scan_agree_with_its_json() {
    let z = crate::zypper_root::scenario();
    let metrics = z.build.base.join("patch_baseline.prom");
    let page = z.build.base.join("report.html");
    let before = chrono::Utc::now().timestamp() as f64;
    let json = z.scan(
        &[
            "--prometheus",
            metrics.to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
        ],
        &[],
    );
    let after = chrono::Utc::now().timestamp() as f64 + 1.0;
    let linked = assert_page_and_metrics_match(&json, &metrics, &page, (before, after));
    assert!(linked > 0, "the scenario's patches carry CVEs");
    let rows = json_most_severe_first(&json);
    let severity = |id: &str| {
        json["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| {
                format!(
                    "{}.{}",
                    p["name"].as_str().unwrap(),
                    p["arch"].as_str().unwrap()
                ) == id
            })
            .unwrap()["patchSeverity"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(severity(&rows[0].0), "critical", "{rows:?}");
}

/// An Amazon Linux 2023 inventory of `count` installed packages, every other one with an
/// approved security update (a CVE each); `hostile` puts markup in a version and a CVE id.
fn generated_inventory(count: usize, hostile: bool) -> Value {
    let mut advisories = Vec::new();
    let mut installed = Vec::new();
    let mut available = Vec::new();
    for i in 0..count {
        let name = format!("package-{i:04}");
        let old = if hostile && i == 0 {
            "1.0-1<script>alert('v')</script>".to_string()
        } else {
            "1.0-1.amzn2023".to_string()
        };
        installed.push(json!({"name": name, "arch": "x86_64", "version": old,
            "installedTime": "2029-01-01T00:00:00Z"}));
        if i % 2 == 0 {
            let id = format!("ALAS2023-2029-{i:04}");
            let cve = if hostile && i == 0 {
                "CVE-1\"><img src=x onerror=alert(1)>".to_string()
            } else {
                format!("CVE-2029-{i:05}")
            };
            let severity = ["Critical", "Important", "Medium", "Low"][i / 2 % 4];
            advisories.push(json!({"id": id, "type": "security", "severity": severity,
                "issued": "2029-06-01 00:00:00", "cves": [cve]}));
            available.push(
                json!({"name": name, "arch": "x86_64", "version": "1.1-1.amzn2023",
                "advisories": [id], "buildTime": "2029-06-01T00:00:00Z"}),
            );
        }
    }
    json!({"operatingSystem": "AMAZON_LINUX_2023", "product": "AmazonLinux2023",
        "packageManager": "dnf", "instanceId": "i-0123456789abcdef0",
        "advisories": advisories, "installed": installed, "available": available})
}

/// `evaluate --now NOW --output json` of `inventory` (written to `dir`) with `extra`: the JSON.
fn evaluate_json(inventory: &Value, dir: &Path, extra: &[&str]) -> Value {
    let file = dir.join("inventory.json");
    std::fs::write(&file, inventory.to_string()).unwrap();
    let mut args = vec![
        "evaluate",
        "--inventory",
        file.to_str().unwrap(),
        "--now",
        NOW,
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = crate::util::run_binary(&args, dir);
    assert_code(&out, 0);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Hostile strings (a version and a CVE id with markup, a baseline name with quotes, a
/// backslash and a newline) stay text: chromium's DOM has no element they would make, and
/// prometheus_client reads the baseline name back unchanged from the metrics' info series.
#[test]
fn hostile_strings_stay_text_in_the_page_and_round_trip_through_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let name = "a \"quoted\" <b>name</b> & C:\\path\nline two";
    let baseline = dir.path().join("baseline.json");
    std::fs::write(
        &baseline,
        json!({"BaselineId": "pb-0123456789abcdef0", "Name": name,
            "OperatingSystem": "AMAZON_LINUX_2023",
            "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [
                {"Key": "CLASSIFICATION", "Values": ["Security"]}]},
                "ApproveAfterDays": 0, "ComplianceLevel": "CRITICAL"}]}})
        .to_string(),
    )
    .unwrap();
    let page = dir.path().join("page.html");
    let metrics = dir.path().join("m.prom");
    let json = evaluate_json(
        &generated_inventory(4, true),
        dir.path(),
        &[
            "--baseline",
            baseline.to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
            "--prometheus",
            metrics.to_str().unwrap(),
        ],
    );
    assert_eq!(json["baselineName"], name);
    let dom = chromium(&page, None);
    for element in ["<script", "<img", "<b>"] {
        assert!(
            !dom.contains(element),
            "{element} became an element:\n{dom}"
        );
    }
    assert!(dom.contains("1.0-1&lt;script&gt;alert('v')&lt;/script&gt;"));
    assert!(dom.contains("a \"quoted\" &lt;b&gt;name&lt;/b&gt; &amp; C:\\path\nline two"));
    assert!(dom.contains(
        "href=\"https://www.cve.org/CVERecord?id=CVE-1%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E\""
    ));
    assert_eq!(page_rows(&dom), json_most_severe_first(&json));

    let samples = parse_metrics(&metrics);
    let info: Vec<_> = samples
        .iter()
        .filter(|(n, _, _)| n == "patch_baseline_info")
        .collect();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].1["baseline_name"], name);
    assert_eq!(info[0].1["instance_id"], "i-0123456789abcdef0");
}

/// A thousand packages: the page stays small (under 512 KiB) and chromium renders every row.
#[test]
fn a_thousand_packages_make_a_small_page_with_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    let json = evaluate_json(
        &generated_inventory(1000, false),
        dir.path(),
        &["--html", page.to_str().unwrap()],
    );
    let size = std::fs::metadata(&page).unwrap().len();
    assert!(size < 512 * 1024, "{size} bytes for 1,000 packages");
    let dom = chromium(&page, None);
    assert_eq!(chart_counts(&dom), json_counts(&json));
    let rows = page_rows(&dom);
    // The default baseline approves the Critical and Important updates: half of them.
    assert_eq!(
        rows.len() as u64,
        json["counts"]["Missing"].as_u64().unwrap()
    );
    assert!(rows.len() >= 200, "{} Missing", rows.len());
    assert_eq!(rows, json_most_severe_first(&json));
    // Every level is UNSPECIFIED in the default baseline: the vendor's Critical come first.
    let critical = dom.matches("<td>Critical</td>").count();
    assert!(critical > 0);
    let first_important = dom.find("<td>Important</td>").unwrap();
    assert_eq!(
        dom[..first_important].matches("<td>Critical</td>").count(),
        critical
    );
    let details = &dom[dom.find("<details id=\"compliant\">").unwrap()..];
    let compliant = compliant_count(&json);
    assert_eq!(details.matches("<tr><td>").count() as u64, compliant);
    assert_eq!(rows.len() as u64 + compliant, 1000);
}

/// The page and the metrics report an evaluation: `install --dry-run` (a plan) refuses them
/// before touching the system, and `run` (the Run Command console) does not offer them.
#[test]
fn dry_run_and_run_refuse_html_and_prometheus_output() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("no-such-root");
    for format in ["html", "prometheus"] {
        let out = crate::util::run_binary(
            &[
                "install",
                "--dry-run",
                "--root",
                root.to_str().unwrap(),
                "--output",
                format,
            ],
            dir.path(),
        );
        assert_code(&out, 64);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--dry-run prints the install plan"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = crate::util::run_binary(
            &["run", "--operation", "Scan", "--output", format],
            dir.path(),
        );
        assert_code(&out, 64);
        assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value"));
    }
}

/// The metric's value in a textfile, read by prometheus_client.
fn metric(file: &Path, name: &str) -> f64 {
    sample(&parse_metrics(file), name, None)
}

/// Reboot pending on a real apt root: a `NoReboot` install's metrics say 1 (its packages are
/// InstalledPendingReboot), a scan before the next boot too, a scan after it 0; each time as
/// the JSON of the same run counts InstalledPendingReboot.
#[test]
fn reboot_pending_follows_a_real_no_reboot_install_until_the_boot() {
    let apt = scenario();
    let metrics = apt.base.join("patch_baseline.prom");
    let boot_before = "1000000000";
    let out = crate::apt_root::patch_env(
        &apt,
        &[
            "--reboot-option",
            "NoReboot",
            "--prometheus",
            metrics.to_str().unwrap(),
        ],
        &[("PATCH_BASELINE_BOOT_TIME", boot_before)],
    );
    assert_code(&out, 0);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["counts"]["InstalledPendingReboot"].as_u64().unwrap() > 0);
    assert_eq!(metric(&metrics, "patch_baseline_reboot_pending"), 1.0);
    let boot_after = (chrono::Utc::now().timestamp() + 3600).to_string();
    for (boot, pending) in [(boot_before, 1.0), (boot_after.as_str(), 0.0)] {
        let json = scan_json(
            &apt.root,
            &["--prometheus", metrics.to_str().unwrap()],
            &[
                ("APT_CONFIG", apt.config.to_str().unwrap()),
                ("PATCH_BASELINE_BOOT_TIME", boot),
            ],
        );
        let count = json["counts"]["InstalledPendingReboot"].as_u64().unwrap();
        assert_eq!(count > 0, pending == 1.0, "boot {boot}: {count} pending");
        assert_eq!(metric(&metrics, "patch_baseline_reboot_pending"), pending);
        assert_eq!(
            sample(
                &parse_metrics(&metrics),
                "patch_baseline_packages",
                Some(("state", "InstalledPendingReboot"))
            ),
            count as f64
        );
    }
}
