//! The binary as a user meets it: output, one-line errors naming what and where, exit codes.

use crate::util::{repo_root, run_binary};

fn fixture(path: &str) -> String {
    repo_root().join(path).to_string_lossy().into_owned()
}

/// `evaluate --inventory fixtures/inventories/al2023-mixed.json EXTRA…` in `dir`.
fn evaluate_al2023(extra: &[&str], dir: &std::path::Path) -> std::process::Output {
    let inventory = fixture("fixtures/inventories/al2023-mixed.json");
    let mut args = vec!["evaluate", "--inventory", &inventory];
    args.extend_from_slice(extra);
    run_binary(&args, dir)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn evaluate_prints_a_table_and_exit_codes_follow_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = fixture("fixtures/inventories/al2023-mixed.json");
    let out = run_binary(
        &[
            "evaluate",
            "--inventory",
            &inventory,
            "--now",
            "2024-06-01T00:00:00Z",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "Missing  openssl-libs.x86_64  1:3.0.8-1.amzn2023.0.9  1:3.0.8-1.amzn2023.0.11"
        ),
        "{text}"
    );
    assert!(
        text.contains("NON_COMPLIANT: 1 installed, 4 installed-other"),
        "{text}"
    );
    assert!(
        !text.contains("bash.x86_64"),
        "compliant packages only with --all"
    );
    let all = run_binary(
        &[
            "evaluate",
            "--inventory",
            &inventory,
            "--now",
            "2024-06-01T00:00:00Z",
            "--all",
        ],
        dir.path(),
    );
    assert!(String::from_utf8_lossy(&all.stdout).contains("bash.x86_64"));
    let strict = run_binary(
        &[
            "evaluate",
            "--inventory",
            &inventory,
            "--fail-on-non-compliant",
            "--now",
            "2024-06-01T00:00:00Z",
        ],
        dir.path(),
    );
    assert_eq!(strict.status.code(), Some(4));
    // Against a baseline that approves nothing, the same machine is compliant.
    let nothing = dir.path().join("nothing.json");
    std::fs::write(&nothing, r#"{"Name": "none", "OperatingSystem": "AMAZON_LINUX_2023", "ApprovalRules": {"PatchRules": []}}"#).unwrap();
    let ok = run_binary(
        &[
            "evaluate",
            "--inventory",
            &inventory,
            "--baseline",
            nothing.to_str().unwrap(),
            "--fail-on-non-compliant",
        ],
        dir.path(),
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("COMPLIANT: 0 installed"));
}

#[test]
fn json_output_carries_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_binary(
        &[
            "evaluate",
            "--inventory",
            &fixture("fixtures/inventories/al2023-mixed.json"),
            "--baseline",
            "AWS-AmazonLinux2023DefaultPatchBaseline",
            "--output",
            "json",
            "--now",
            "2024-06-01T00:00:00Z",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["counts"]["Missing"], 2);
    let sudo = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "sudo")
        .unwrap();
    assert_eq!(sudo["state"], "InstalledOther");
    assert_eq!(sudo["reasons"][0]["kind"], "tooRecent");
    assert_eq!(sudo["reasons"][0]["cutoff"], "2024-05-25T00:00:00Z");
    assert!(
        sudo["explanation"]
            .as_str()
            .unwrap()
            .contains("approves only releases before")
    );
}

#[test]
fn bad_input_gives_one_line_errors_and_documented_codes() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = fixture("fixtures/inventories/al2023-mixed.json");
    let bad = dir.path().join("bad-baseline.json");
    std::fs::write(&bad, r#"{"Name": "b", "OperatingSystem": "AMAZON_LINUX_2023", "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": []}, "ApproveAfterDays": 400}]}}"#).unwrap();
    let cases: Vec<(Vec<String>, i32, String)> = vec![
        (vec!["evaluate".into(), "--inventory".into(), inventory.clone(), "--baseline".into(), bad.to_string_lossy().into()], 65,
            format!("patch-baseline: error: {}: $.ApprovalRules.PatchRules[0].ApproveAfterDays: `400` is outside 0–360", bad.display())),
        (vec!["evaluate".into(), "--inventory".into(), "missing.json".into()], 66,
            "patch-baseline: error: cannot read `missing.json`: No such file or directory (os error 2)".into()),
        (vec!["evaluate".into(), "--inventory".into(), inventory.clone(), "--baseline".into(), "AWS-UbuntuDefaultPatchBaseline".into()], 65,
            "patch-baseline: error: baseline `AWS-UbuntuDefaultPatchBaseline` is for UBUNTU systems, but the inventory comes from a dnf system (AMAZON_LINUX_2023)".into()),
        (vec!["evaluate".into(), "--inventory".into(), inventory.clone(), "--now".into(), "tomorrow".into()], 64,
            "patch-baseline: error: --now `tomorrow` is not an RFC 3339 time".into()),
        (vec!["evaluate".into(), "--inventory".into(), inventory.clone(), "--snapshot-id".into(), "abc".into()], 64,
            "patch-baseline: error: --snapshot-id `abc` is not a UUID".into()),
        (vec!["evaluate".into(), "--inventory".into(), inventory.clone(), "--install-override-list".into(), "x.yaml".into()], 64,
            "patch-baseline: error: --install-override-list applies to --operation Install only".into()),
        (vec!["evaluate".into(), "--inventory".into(), fixture("fixtures/aws_baselines/AWS-AmazonLinux2DefaultPatchBaseline.json")], 65,
            "patch-baseline: error: ".into()),
        (vec!["evaluate".into(), "--bogus".into()], 64, "error: unexpected argument '--bogus'".into()),
        (vec!["evaluate".into(), "--inventory".into(), inventory.clone(), "--report".into(), "/nonexistent-dir/r.json".into()], 74,
            "patch-baseline: error: cannot write `/nonexistent-dir/r.json`".into()),
    ];
    for (args, code, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_binary(&args, dir.path());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(
            err.starts_with(&message),
            "{args:?}:\nwant {message}\ngot  {err}"
        );
        if code != 64 || message.starts_with("patch-baseline") {
            assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        }
    }
    // --report without any instance id.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&inventory).unwrap()).unwrap();
    doc.as_object_mut().unwrap().remove("instanceId");
    let anonymous = dir.path().join("anon.json");
    std::fs::write(&anonymous, doc.to_string()).unwrap();
    let out = run_binary(
        &[
            "evaluate",
            "--inventory",
            anonymous.to_str().unwrap(),
            "--report",
            "r.json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("--report needs an instance id"));
    assert!(!dir.path().join("r.json").exists());
}

#[test]
fn override_list_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("override.yaml");
    std::fs::write(&list, "patches:\n  - title: 'x'\n").unwrap();
    let out = run_binary(
        &[
            "evaluate",
            "--inventory",
            &fixture("fixtures/inventories/al2023-mixed.json"),
            "--operation",
            "Install",
            "--install-override-list",
            list.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "patch-baseline: error: {}: patches[0].id is missing",
            list.display()
        )
    );
}

#[test]
fn baseline_validate_and_builtin_listing() {
    let dir = tempfile::tempdir().unwrap();
    let ok = run_binary(
        &[
            "baseline",
            "validate",
            &fixture("baselines/AWS-RedHatDefaultPatchBaseline.json"),
            &fixture("fixtures/aws_snapshot/patch-baseline-snapshot.json"),
        ],
        dir.path(),
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        text.contains("ok: ")
            && text.contains("AWS-RedHatDefaultPatchBaseline (REDHAT_ENTERPRISE_LINUX), 2 rule(s)"),
        "{text}"
    );
    let bad = run_binary(
        &[
            "baseline",
            "validate",
            &fixture("fixtures/aws_baselines/AWS-WindowsPredefinedPatchBaseline-OS.json"),
        ],
        dir.path(),
    );
    assert_eq!(bad.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("invalid: "));
    assert!(stderr(&bad).contains("`WINDOWS` baselines are not supported"));

    // Sources: every configuration is read as its package manager takes it.
    let write = |name: &str, os: &str, configuration: &str| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            serde_json::json!({"Name": "with-sources", "OperatingSystem": os,
                "Sources": [{"Name": "mirror", "Products": ["*"], "Configuration": configuration}]})
            .to_string(),
        )
        .unwrap();
        path.to_string_lossy().into_owned()
    };
    for (file, os, configuration, error) in [
        (
            "dnf-ok.json",
            "AMAZON_LINUX_2023",
            "[m]\nbaseurl=https://m/\n",
            None,
        ),
        (
            "apt-ok.json",
            "UBUNTU",
            "deb https://m/ubuntu jammy-security main",
            None,
        ),
        (
            "dnf-bad.json",
            "AMAZON_LINUX_2023",
            "baseurl=https://m/",
            Some("source `mirror`: line 1"),
        ),
        (
            "apt-bad.json",
            "DEBIAN",
            "[m]\nbaseurl=https://m/\n",
            Some("source `mirror`: line 1"),
        ),
        (
            "escape.json",
            "SUSE",
            "[../../etc]\nbaseurl=https://m/\n",
            Some("is not a repository id"),
        ),
    ] {
        let out = run_binary(
            &["baseline", "validate", &write(file, os, configuration)],
            dir.path(),
        );
        match error {
            None => assert_eq!(out.status.code(), Some(0), "{file}: {}", stderr(&out)),
            Some(error) => {
                assert_eq!(out.status.code(), Some(65), "{file}");
                assert!(stderr(&out).contains(error), "{file}: {}", stderr(&out));
            }
        }
    }

    // Detection under --root: an Ubuntu image is matched to the Ubuntu baseline.
    std::fs::create_dir_all(dir.path().join("img/etc")).unwrap();
    std::fs::write(
        dir.path().join("img/etc/os-release"),
        "ID=ubuntu\nVERSION_ID=\"22.04\"\n",
    )
    .unwrap();
    let list = run_binary(
        &[
            "baselines",
            "list",
            "--root",
            dir.path().join("img").to_str().unwrap(),
        ],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("* AWS-UbuntuDefaultPatchBaseline"), "{text}");
    assert!(
        text.contains("applies to this system: Ubuntu22.04 (UBUNTU, apt)"),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("* AWS-")).count(), 1);
    let show = run_binary(
        &["baselines", "show", "AWS-SuseDefaultPatchBaseline"],
        dir.path(),
    );
    let shown: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["OperatingSystem"], "SUSE");
    let missing = run_binary(&["baselines", "show", "nope"], dir.path());
    assert_eq!(missing.status.code(), Some(64));
}

#[test]
fn every_exit_code_is_documented() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/exit-codes.md"))
            .unwrap();
    for (code, _) in patch_baseline::exit::EXIT_CODES
        .iter()
        .chain(patch_baseline::ssm::CODES)
    {
        assert!(
            readme
                .lines()
                .any(|l| l.starts_with(&format!("| {code} |"))),
            "exit code {code} is not in docs/exit-codes.md's tables"
        );
    }
}

/// The first command many users type: a plain file name for `--report` and
/// `--save-inventory` (its folder is the current one, which `Path::parent` leaves empty).
#[test]
fn plain_file_names_are_written_in_the_current_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = evaluate_al2023(
        &["--instance-id", "i-0123456789abcdef0", "--report", "r.json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["Items"][0]["TypeName"], "AWS:PatchSummary");
    let apt = crate::apt_root::scenario();
    let root = apt.root.to_str().unwrap();
    let out = run_binary(
        &[
            "scan",
            "--root",
            root,
            "--no-refresh",
            "--read-only",
            "--save-inventory",
            "inv.json",
            "--instance-id",
            "i-0123456789abcdef0",
            "--reboot-option",
            "NoReboot",
            "--report",
            "scan.json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A Scan records the RebootOption it was given, as the payload's summary does.
    let scan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("scan.json")).unwrap()).unwrap();
    assert_eq!(scan["Items"][0]["Content"][0]["RebootOption"], "NoReboot");
    for name in ["inv.json", "scan.json"] {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(text.starts_with('{'), "{name}: {text}");
    }
}

/// A baseline the service accepted but with a value outside the vocabulary (a real Terraform
/// baseline with CLASSIFICATION `CriticalUpdates` on AL2023): evaluated as AWS does, the value
/// matching nothing, with a warning naming it; `baseline validate` reports it as an error.
#[test]
fn values_outside_the_vocabulary_warn_and_validate_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let baseline =
        fixture("fixtures/aws_baselines/tf-linux-security-critical-al2023.converted.json");
    let out = evaluate_al2023(&["--baseline", &baseline, "--output", "json"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let document: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = document["warnings"].to_string();
    assert!(
        warnings.contains("`CriticalUpdates` is not a CLASSIFICATION value")
            && warnings.contains("matches no package"),
        "{warnings}"
    );
    let validate = run_binary(&["baseline", "validate", &baseline], dir.path());
    assert_ne!(validate.status.code(), Some(0));
    let text = String::from_utf8_lossy(&validate.stdout);
    assert!(
        text.starts_with("invalid: ") && text.contains("CriticalUpdates"),
        "{text}"
    );
}

/// `scan --report` without an instance id given (issue #15, part 6): a hybrid node's SSM agent
/// registration under the root; on the host, IMDS (a local stand-in, `tests/scripts/fake_imds.py`);
/// when neither has one, one line naming every way.
#[test]
fn scan_report_finds_the_instance_id_on_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let scan = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = std::process::Command::new(crate::util::binary());
        command
            .args(["scan", "--read-only", "--no-refresh", "--output", "json"])
            .args(args)
            .current_dir(dir.path())
            .env("LC_ALL", "C")
            .env_remove("AWS_SSM_INSTANCE_ID");
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().unwrap()
    };
    let reported = |file: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(file)).unwrap()).unwrap()
    };

    // A registered hybrid node (an image or a root: its own registration file).
    let apt = crate::apt_root::AptRoot::new();
    let registration = apt.root.join("var/lib/amazon/ssm/registration");
    std::fs::create_dir_all(registration.parent().unwrap()).unwrap();
    std::fs::write(
        &registration,
        r#"{"ManagedInstanceID":"mi-0123456789abcdef0","Region":"eu-west-1"}"#,
    )
    .unwrap();
    let root = apt.root.to_str().unwrap();
    let out = scan(&["--root", root, "--report", "hybrid.json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        reported("hybrid.json")["InstanceId"],
        "mi-0123456789abcdef0"
    );

    // Under --root without a registration, IMDS is not asked: it would answer for the host.
    std::fs::remove_file(&registration).unwrap();
    let out = scan(&["--root", root, "--report", "none.json"], &[]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("IMDS is not asked for a system under --root"),
        "{}",
        stderr(&out)
    );

    // The host: IMDSv2.
    let imds_dir = dir.path().join("imds");
    std::fs::create_dir_all(&imds_dir).unwrap();
    let (mut imds, port) = crate::run::spawn_script(
        "fake_imds.py",
        &imds_dir.join("imds.json"),
        &serde_json::json!({"port_file": imds_dir.join("imds.port"), "record": imds_dir.join("imds.jsonl"),
            "instance_id": "i-0fedcba9876543210", "region": "eu-west-1",
            "access_key": "AKIDPATCHBASELINETEST", "secret_key": "patch-baseline-test-secret"}),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = scan(
        &["--report", "ec2.json"],
        &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint.as_str())],
    );
    let _ = imds.kill();
    let _ = imds.wait();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(reported("ec2.json")["InstanceId"], "i-0fedcba9876543210");

    // Nothing answers: one line naming the three ways.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let out = scan(
        &["--report", "nothing.json"],
        &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", dead.as_str())],
    );
    let error = stderr(&out);
    assert_eq!(out.status.code(), Some(64), "{error}");
    assert_eq!(error.trim().lines().count(), 1, "{error}");
    for way in ["--instance-id", "var/lib/amazon/ssm/registration", "IMDS"] {
        assert!(error.contains(way), "{way}: {error}");
    }
}
