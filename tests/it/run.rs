//! `patch-baseline run` and the SSM document end to end: the document's PatchLinux script,
//! taken from the committed document and run with the environment the SSM agent sets, against
//! dnf and apt alternate roots. SSM is `tests/scripts/fake_ssm.py` (every request checked
//! against botocore's service model and its SigV4 signature verified); S3 is moto's server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use serde_json::{Value, json};

use crate::dnf_root::{DnfRoot, scenario};
use crate::util::binary;

const ACCESS_KEY: &str = "AKIDPATCHBASELINETEST";
const SECRET_KEY: &str = "patch-baseline-test-secret";
const INSTANCE: &str = "i-0123456789abcdef0";

pub fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts")
}

/// Waits for a server's port file.
pub fn port_from(file: &Path, child: &mut Child) -> u16 {
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(file) {
            return text.trim().parse().unwrap();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server stopped: {status}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the server did not start");
}

/// Writes `config` to `config_file` and starts `tests/scripts/SCRIPT` with it; returns the
/// server and the port it wrote to `config.port_file` once ready.
pub fn spawn_script(script: &str, config_file: &Path, config: &Value) -> (Child, u16) {
    let port_file = PathBuf::from(config["port_file"].as_str().unwrap());
    // A server before this one may have left its port.
    let _ = std::fs::remove_file(&port_file);
    std::fs::write(config_file, config.to_string()).unwrap();
    let mut child = Command::new("python3")
        .arg(scripts().join(script))
        .arg(config_file)
        .spawn()
        .unwrap();
    let port = port_from(&port_file, &mut child);
    (child, port)
}

/// The local SSM endpoint.
pub struct FakeSsm {
    child: Child,
    pub port: u16,
    pub record: PathBuf,
    pub snapshot: PathBuf,
}

impl FakeSsm {
    pub fn start(dir: &Path, snapshot: &Value, fail: Value) -> Self {
        Self::start_with(dir, snapshot, fail, json!({}))
    }

    /// `start` with more configuration (`{"product": …}`: the Product the snapshot call returns).
    pub fn start_with(dir: &Path, snapshot: &Value, fail: Value, extra: Value) -> Self {
        let (config, record, snapshot_file, port_file) = (
            dir.join("fake-ssm.json"),
            dir.join("requests.jsonl"),
            dir.join("snapshot.json"),
            dir.join("fake-ssm.port"),
        );
        // A server before this one may have left its requests.
        let _ = std::fs::remove_file(&record);
        std::fs::write(&snapshot_file, snapshot.to_string()).unwrap();
        let mut settings = json!({
            "port_file": port_file, "record": record, "snapshot": snapshot_file,
            "access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "region": "us-east-1",
            "fail": fail,
        });
        if let (Some(settings), Some(extra)) = (settings.as_object_mut(), extra.as_object()) {
            settings.extend(extra.clone());
        }
        let (child, port) = spawn_script("fake_ssm.py", &config, &settings);
        Self {
            child,
            port,
            record,
            snapshot: snapshot_file,
        }
    }

    /// The accepted (and injected-failure) requests of `operation`, in order.
    pub fn requests(&self, operation: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        let all: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let refused: Vec<&Value> = all.iter().filter(|r| r.get("refused").is_some()).collect();
        assert!(refused.is_empty(), "requests refused: {refused:?}");
        all.into_iter()
            .filter(|r| r["operation"] == operation)
            .collect()
    }
}

impl Drop for FakeSsm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto's S3 server with one bucket.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start(dir: &Path) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let moto = Self { child, port };
        for _ in 0..600 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("moto did not start");
    }

    /// Puts objects (key, body) into `bucket`, creating it.
    pub fn put(&self, bucket: &str, objects: &[(&str, &str)]) {
        let script = "import boto3, json, sys\ns3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='a', aws_secret_access_key='b')\ns3.create_bucket(Bucket=sys.argv[2])\nfor key, body in json.loads(sys.argv[3]):\n    s3.put_object(Bucket=sys.argv[2], Key=key, Body=body.encode())\n";
        let endpoint = format!("http://127.0.0.1:{}", self.port);
        let objects = json!(objects).to_string();
        crate::util::python(
            script,
            &[endpoint.as_ref(), bucket.as_ref(), objects.as_ref()],
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A release tarball of the binary under test, and its SHA-256: built once per test process
/// (the debug binary is large) and copied into `dir` (tests may damage their copy).
pub fn release(dir: &Path) -> (PathBuf, String) {
    static BUILT: std::sync::OnceLock<(tempfile::TempDir, PathBuf, String)> =
        std::sync::OnceLock::new();
    let (_, built, sha) = BUILT.get_or_init(|| {
        let stage = tempfile::tempdir().unwrap();
        std::fs::copy(binary(), stage.path().join("patch-baseline")).unwrap();
        let (tarball, sha) = pack_release(stage.path());
        (stage, tarball, sha)
    });
    let copy = dir.join("patch-baseline.tar.gz");
    std::fs::copy(built, &copy).unwrap();
    (copy, sha.clone())
}

/// Packs `stage/patch-baseline` as `stage/patch-baseline.tar.gz`, as a release holds it;
/// returns the tarball and its SHA-256.
pub fn pack_release(stage: &Path) -> (PathBuf, String) {
    let tarball = stage.join("patch-baseline.tar.gz");
    let sha = crate::util::tar_gz(&tarball, stage, "patch-baseline");
    (tarball, sha)
}

/// The PatchLinux script of the committed document with the parameters filled in as the agent
/// does (defaults from the document for those not given).
pub fn document_script(params: &[(&str, &str)]) -> String {
    let document = committed_document("PatchBaseline-RunPatchBaseline.json");
    let shell = document["mainSteps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["action"] == "aws:runShellScript")
        .unwrap();
    let lines: String = shell["inputs"]["runCommand"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| format!("{}\n", l.as_str().unwrap()))
        .collect();
    substitute(&document, &lines, params)
}

/// A committed document of `scripts/document`.
pub fn committed_document(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scripts/document")
                .join(name),
        )
        .unwrap(),
    )
    .unwrap()
}

/// `text` with the document's `{{ Parameter }}`s filled in as the agent does: the values given,
/// else the defaults, each checked against its allowed pattern or values.
pub fn substitute(document: &Value, text: &str, params: &[(&str, &str)]) -> String {
    let mut text = text.to_string();
    for (name, spec) in document["parameters"].as_object().unwrap() {
        let value = params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| (*v).to_string())
            .or_else(|| spec["default"].as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("parameter {name} is required"));
        if let Some(allowed) = spec["allowedValues"].as_array() {
            assert!(
                allowed.iter().any(|a| a == value.as_str()),
                "{name} = {value}"
            );
        }
        if let Some(pattern) = spec["allowedPattern"].as_str() {
            // The agent refuses values that do not match (the release URLs are file:// here).
            if !name.starts_with("ReleaseUrl") {
                assert!(
                    matches_pattern(pattern, &value),
                    "{name} = {value} does not match {pattern}"
                );
            }
        }
        text = text.replace(&format!("{{{{ {name} }}}}"), &value);
    }
    assert!(!text.contains("{{"), "{text}");
    text
}

/// What the SSM agent sets for a step on the test instance: its identity, region and platform,
/// the command id, and credentials the local endpoint accepts.
pub fn agent_identity(platform: &str) -> Vec<(String, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), SECRET_KEY.into()),
        ("AWS_SSM_INSTANCE_ID".into(), INSTANCE.into()),
        ("AWS_SSM_REGION_NAME".into(), "us-east-1".into()),
        ("AWS_SSM_PLATFORM_NAME".into(), platform.into()),
        (
            "SSM_COMMAND_ID".into(),
            "6d1c1d07-2c4a-4a4e-9ad4-6d1c1d072c4a".into(),
        ),
    ]
}

/// The world of one test: a root, the fake SSM, a release, the agent's environment.
pub struct Agent {
    pub dir: PathBuf,
    pub ssm: FakeSsm,
    pub release: (PathBuf, String),
    pub env: Vec<(String, String)>,
}

impl Agent {
    pub fn new(dir: &Path, root: &Path, snapshot: &Value, fail: Value) -> Self {
        let ssm = FakeSsm::start(dir, snapshot, fail);
        let mut env = agent_identity("Amazon Linux");
        env.extend([
            (
                "AWS_ENDPOINT_URL_SSM".into(),
                format!("http://127.0.0.1:{}", ssm.port),
            ),
            ("PATCH_BASELINE_ROOT".into(), root.display().to_string()),
            (
                "AWS_CONFIG_FILE".into(),
                dir.join("no-config").display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                dir.join("no-credentials").display().to_string(),
            ),
        ]);
        Self {
            dir: dir.to_path_buf(),
            release: release(dir),
            ssm,
            env,
        }
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
    }

    /// Runs the document's step as the agent would.
    pub fn step(&self, params: &[(&str, &str)]) -> Output {
        let url = format!("file://{}", self.release.0.display());
        // The values given win over these (the first of a name is taken).
        let mut all = params.to_vec();
        all.extend_from_slice(&[
            ("ReleaseUrl", url.as_str()),
            ("ReleaseSha256", self.release.1.as_str()),
        ]);
        let script = self.dir.join("_script");
        std::fs::write(&script, document_script(&all)).unwrap();
        let mut command = Command::new("sh");
        command.arg(&script).env("LC_ALL", "C");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command.output().unwrap()
    }

    /// Runs a committed multi-step document as the SSM agent does (issue #15, part 3): steps in
    /// order; a shell step's 168 ends the document as a success and 169 as a failure, a failed
    /// step with `onFailure: exit` ends it too, and the final step with `finallyStep` runs
    /// whatever happened; 194 reboots (the boot time moves past the reboot request) and runs
    /// the same step again. `aws:runDocument` hooks are recorded, and fail when `failing` names
    /// them. Returns one line per step: `NAME: ok|skipped|failed|reboot[ (detail)]`.
    pub fn run_document(
        &mut self,
        name: &str,
        params: &[(&str, &str)],
        failing: &[&str],
    ) -> Vec<String> {
        let document = committed_document(name);
        let steps = document["mainSteps"].as_array().unwrap().clone();
        let url = format!("file://{}", self.release.0.display());
        let sha = self.release.1.clone();
        // The values given win over these (the first of a name is taken).
        let mut all = params.to_vec();
        all.extend_from_slice(&[
            ("ReleaseUrl", url.as_str()),
            ("ReleaseSha256", sha.as_str()),
        ]);
        let mut log = Vec::new();
        let mut ended = false;
        let mut index = 0;
        let mut reboots = 0;
        while index < steps.len() {
            let step = &steps[index];
            let step_name = step["name"].as_str().unwrap();
            let inputs = &step["inputs"];
            let finally = inputs["finallyStep"] == true && index == steps.len() - 1;
            if ended && !finally {
                log.push(format!("{step_name}: skipped"));
                index += 1;
                continue;
            }
            let exits_on_failure = inputs["onFailure"] == "exit";
            if !precondition_holds(&document, step, &all) {
                log.push(format!("{step_name}: skipped (precondition)"));
                index += 1;
                continue;
            }
            match step["action"].as_str().unwrap() {
                "aws:runShellScript" => {
                    let lines: String = inputs["runCommand"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|l| format!("{}\n", l.as_str().unwrap()))
                        .collect();
                    let script = self.dir.join("_step_script");
                    std::fs::write(&script, substitute(&document, &lines, &all)).unwrap();
                    let mut command = Command::new("sh");
                    command.arg(&script).env("LC_ALL", "C");
                    for (key, value) in &self.env {
                        command.env(key, value);
                    }
                    let out = command.output().unwrap();
                    match out.status.code() {
                        Some(194) => {
                            reboots += 1;
                            assert!(reboots < 3, "{step_name} asks for reboots again and again");
                            log.push(format!("{step_name}: reboot"));
                            let later = (chrono::Utc::now().timestamp() + 60 * reboots).to_string();
                            self.set("PATCH_BASELINE_BOOT_TIME", &later);
                            continue;
                        }
                        Some(0) => log.push(format!("{step_name}: ok")),
                        Some(168) => {
                            log.push(format!("{step_name}: ok (168)"));
                            ended = true;
                        }
                        code => {
                            log.push(format!(
                                "{step_name}: failed ({code:?}): {}",
                                String::from_utf8_lossy(&out.stderr).trim()
                            ));
                            ended = ended || code == Some(169) || exits_on_failure;
                        }
                    }
                }
                "aws:runDocument" => {
                    let hook =
                        substitute(&document, inputs["documentPath"].as_str().unwrap(), &all);
                    if failing.contains(&hook.as_str()) {
                        log.push(format!("{step_name}: failed ({hook})"));
                        ended = ended || exits_on_failure;
                    } else {
                        log.push(format!("{step_name}: ok ({hook})"));
                    }
                }
                "aws:downloadContent" => {
                    assert_eq!(inputs["sourceType"], "S3", "{step_name}");
                    let url = substitute(
                        &document,
                        inputs["sourceInfo"]["path"].as_str().unwrap(),
                        &all,
                    );
                    let destination = inputs["destinationPath"].as_str().unwrap();
                    match self.download_from_s3(&url, destination) {
                        Ok(count) => log.push(format!("{step_name}: ok ({count} files)")),
                        Err(why) => {
                            log.push(format!("{step_name}: failed ({why})"));
                            ended = ended || exits_on_failure;
                        }
                    }
                }
                other => panic!("unexpected action {other}"),
            }
            index += 1;
        }
        log
    }

    /// The local stand-in for S3 that `aws:downloadContent` reads: `s3/BUCKET/KEY` under the
    /// test's folder.
    pub fn s3_objects(&self) -> PathBuf {
        self.dir.join("s3")
    }

    /// `aws:downloadContent` with an S3 source, as the agent's S3 resource does it: the URL
    /// must be an https S3 URL (virtual-hosted `BUCKET.s3.REGION.amazonaws.com/KEY` or path
    /// style `s3.REGION.amazonaws.com/BUCKET/KEY`; `s3://` is not one); a key ending in `/` is
    /// a folder, whose files land under the destination with their paths below the prefix; an
    /// object lands in the destination folder (a path ending in `/`) under its own name. An
    /// absolute destination is taken under the test's root. Returns how many files it wrote.
    fn download_from_s3(&self, url: &str, destination: &str) -> Result<usize, String> {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| "invalid S3 path parameter".to_string())?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (bucket, key) = match host.split_once(".s3.") {
            Some((bucket, _)) if host.ends_with(".amazonaws.com") => {
                (bucket.to_string(), path.to_string())
            }
            _ if host.starts_with("s3.") && host.ends_with(".amazonaws.com") => {
                let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
                (bucket.to_string(), key.to_string())
            }
            _ => return Err("invalid S3 path parameter".into()),
        };
        let root = self
            .env
            .iter()
            .find(|(k, _)| k == "PATCH_BASELINE_ROOT")
            .map(|(_, v)| PathBuf::from(v))
            .unwrap();
        assert!(destination.starts_with('/') && destination.ends_with('/'));
        let target = root.join(destination.trim_start_matches('/'));
        let source = self.s3_objects().join(&bucket).join(&key);
        let mut files = Vec::new();
        if key.ends_with('/') || key.is_empty() {
            let mut stack = vec![source.clone()];
            while let Some(folder) = stack.pop() {
                for entry in std::fs::read_dir(&folder).map_err(|_| "NoSuchKey".to_string())? {
                    let path = entry.unwrap().path();
                    if path.is_dir() {
                        stack.push(path);
                    } else {
                        let below = path.strip_prefix(&source).unwrap().to_path_buf();
                        files.push((path, target.join(below)));
                    }
                }
            }
        } else if source.is_file() {
            let name = source.file_name().unwrap().to_owned();
            files.push((source, target.join(name)));
        } else {
            return Err(format!("NoSuchKey: {bucket}/{key}"));
        }
        if files.is_empty() {
            return Err(format!("nothing under {bucket}/{key}"));
        }
        for (from, to) in &files {
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from, to).unwrap();
        }
        Ok(files.len())
    }
}

/// A step's precondition as the agent evaluates it: `StringEquals` on `platformType` (this is
/// Linux) or on a document parameter, compared after substitution.
fn precondition_holds(document: &Value, step: &Value, params: &[(&str, &str)]) -> bool {
    let Some(condition) = step.get("precondition") else {
        return true;
    };
    let args = condition["StringEquals"].as_array().unwrap();
    assert_eq!(args.len(), 2);
    let (a, b) = (args[0].as_str().unwrap(), args[1].as_str().unwrap());
    if a == "platformType" {
        return b == "Linux";
    }
    assert!(a.contains("{{") || b.contains("{{"), "{a} {b}");
    substitute(document, a, params) == substitute(document, b, params)
}

pub fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A snapshot (spec §1.3) for `os` approving Security updates of `severities` after 7 days.
pub fn snapshot(os: &str, filters: Value) -> Value {
    json!({
        "patchBaseline": {
            "accountId": "123456789012",
            "baselineId": "pb-0123456789abcdef0",
            "name": "test-baseline",
            "operatingSystem": os,
            "globalFilters": {"filters": []},
            "approvalRules": {"rules": [{
                "filterGroup": {"filters": filters},
                "complianceLevel": "CRITICAL",
                "enableNonSecurity": false,
                "approveAfterDays": 7,
                "approveUntilDate": null
            }]},
            "approvedPatches": [],
            "approvedPatchesComplianceLevel": "UNSPECIFIED",
            "approvedPatchesEnableNonSecurity": false,
            "rejectedPatches": [],
            "rejectedPatchesAction": "ALLOW_AS_DEPENDENCY",
            "createdTime": 1_700_000_000.0,
            "modifiedTime": 1_700_000_000.0,
            "description": "test",
            "sources": []
        },
        "patchGroup": null,
        "patches": [],
        "enableApplicationPatches": false,
        "requiredFeatures": []
    })
}

pub fn al2023_security() -> Value {
    snapshot(
        "AMAZON_LINUX_2023",
        json!([{"key": "CLASSIFICATION", "values": ["Security"]},
               {"key": "SEVERITY", "values": ["Critical", "Important"]}]),
    )
}

/// The summary map and the compliance items of a recorded PutInventory.
pub fn summary_and_items(request: &Value) -> (Value, Vec<Value>) {
    let items = request["body"]["Items"].as_array().unwrap();
    let summary = items
        .iter()
        .find(|i| i["TypeName"] == "AWS:PatchSummary")
        .unwrap();
    let compliance = items
        .iter()
        .find(|i| i["TypeName"] == "AWS:ComplianceItem")
        .unwrap();
    (
        summary["Content"][0].clone(),
        compliance["Content"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    )
}

pub fn dnf_agent(dnf: &DnfRoot, snapshot: &Value, fail: Value) -> Agent {
    let mut agent = Agent::new(&dnf.base, &dnf.root, snapshot, fail);
    agent.set("HOME", dnf.home.to_str().unwrap());
    agent
}

#[test]
fn document_scan_install_and_reboot_on_dnf_report_to_ssm() {
    let dnf = scenario();
    let mut agent = dnf_agent(&dnf, &al2023_security(), json!({}));

    // Scan without a SnapshotId: a new one, and the counts.
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let snapshots = agent.ssm.requests("GetDeployablePatchSnapshotForInstance");
    assert_eq!(snapshots.len(), 1);
    let generated = snapshots[0]["body"]["SnapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(uuid::Uuid::try_parse(&generated).is_ok(), "{generated}");
    let puts = agent.ssm.requests("PutInventory");
    assert_eq!(puts.len(), 1);
    let (summary, items) = summary_and_items(&puts[0]);
    assert_eq!(
        (
            summary["OperationType"].as_str(),
            summary["MissingCount"].as_str(),
            summary["SnapshotId"].as_str(),
            summary["BaselineId"].as_str(),
            summary["ExecutionId"].as_str()
        ),
        (
            Some("Scan"),
            Some("2"),
            Some(generated.as_str()),
            Some("pb-0123456789abcdef0"),
            Some("6d1c1d07-2c4a-4a4e-9ad4-6d1c1d072c4a")
        ),
        "{summary}"
    );
    let missing: Vec<&str> = items
        .iter()
        .filter(|i| i["PatchState"] == "Missing")
        .map(|i| i["Id"].as_str().unwrap())
        .collect();
    assert_eq!(missing, ["ep.noarch", "sec-imp.noarch"]);
    // The release was downloaded, checked and kept; the work folder is gone.
    assert!(
        dnf.root
            .join(format!(
                "var/lib/amazon/patch-baseline/release-{}/patch-baseline",
                agent.release.1
            ))
            .exists()
    );
    assert!(
        !dnf.root
            .join("var/log/amazon/ssm/patch-baseline-operations")
            .exists()
    );

    // The same compliance again: the compliance item goes without its content (spec §5.4).
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let puts = agent.ssm.requests("PutInventory");
    let compliance = puts[1]["body"]["Items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["TypeName"] == "AWS:ComplianceItem")
        .unwrap()
        .clone();
    assert!(compliance.get("Content").is_none(), "{compliance}");

    // Install with a SnapshotId and NoReboot: installed, pending a reboot.
    let snapshot_id = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
    let out = agent.step(&[
        ("Operation", "Install"),
        ("SnapshotId", snapshot_id),
        ("RebootOption", "NoReboot"),
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(dnf.installed().contains("sec-imp-1.1") && dnf.installed().contains("ep-1.1"));
    let snapshots = agent.ssm.requests("GetDeployablePatchSnapshotForInstance");
    assert_eq!(snapshots[2]["body"]["SnapshotId"], snapshot_id);
    let (summary, _) = summary_and_items(agent.ssm.requests("PutInventory").last().unwrap());
    assert_eq!(
        (
            summary["OperationType"].as_str(),
            summary["InstalledPendingRebootCount"].as_str(),
            summary["MissingCount"].as_str(),
            summary["RebootOption"].as_str()
        ),
        (Some("Install"), Some("2"), Some("0"), Some("NoReboot"))
    );

    // RebootIfNeeded with packages awaiting a reboot: 194, then the agent reboots and re-runs
    // the step, which reports the reboot without a new snapshot.
    let out = agent.step(&[("Operation", "Install"), ("SnapshotId", snapshot_id)]);
    assert_eq!(code(&out), Some(194), "{}", stderr(&out));
    let calls = agent
        .ssm
        .requests("GetDeployablePatchSnapshotForInstance")
        .len();
    let later = (chrono::Utc::now() + chrono::Duration::seconds(30))
        .timestamp()
        .to_string();
    agent.set("PATCH_BASELINE_BOOT_TIME", &later);
    let out = agent.step(&[("Operation", "Install"), ("SnapshotId", snapshot_id)]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(
        agent
            .ssm
            .requests("GetDeployablePatchSnapshotForInstance")
            .len(),
        calls
    );
}

#[test]
fn document_override_lists_from_s3_and_baseline_override() {
    let dnf = scenario();
    let mut agent = dnf_agent(&dnf, &al2023_security(), json!({}));
    let moto = Moto::start(&dnf.base);
    let everything = json!([
        {"OperatingSystem": "UBUNTU", "ApprovalRules": {"PatchRules": []}},
        {"OperatingSystem": "AMAZON_LINUX_2023", "Name": "all",
         "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [
             {"Key": "CLASSIFICATION", "Values": ["*"]}]}, "ApproveAfterDays": 0,
             "EnableNonSecurity": true, "ComplianceLevel": "HIGH"}]},
         "RejectedPatches": ["plain"], "RejectedPatchesAction": "BLOCK"}
    ]);
    moto.put(
        "lists",
        &[
            ("only/sec-imp.yaml", "patches:\n  - id: 'sec-imp'\n"),
            ("override.json", &everything.to_string()),
        ],
    );
    agent.set(
        "AWS_ENDPOINT_URL_S3",
        &format!("http://127.0.0.1:{}", moto.port),
    );

    // InstallOverrideList from S3: only what it names is installed.
    let list = "s3://lists/only/sec-imp.yaml";
    let out = agent.step(&[
        ("Operation", "Install"),
        ("InstallOverrideList", list),
        ("RebootOption", "NoReboot"),
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let installed = dnf.installed();
    assert!(
        installed.contains("sec-imp-1.1") && installed.contains("ep-1.0"),
        "{installed:?}"
    );
    let (summary, items) = summary_and_items(agent.ssm.requests("PutInventory").last().unwrap());
    assert_eq!(summary["InstallOverrideList"], list);
    assert_eq!(summary["MissingCount"], "1", "{summary}");
    assert!(items.iter().all(|i| i["InstallOverrideList"] == list));

    // BaselineOverride from S3: the entry for this OS goes to the service, nothing is uploaded.
    let puts = agent.ssm.requests("PutInventory").len();
    let out = agent.step(&[
        ("Operation", "Scan"),
        ("BaselineOverride", "s3://lists/override.json"),
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let request = agent
        .ssm
        .requests("GetDeployablePatchSnapshotForInstance")
        .last()
        .unwrap()
        .clone();
    let sent = &request["body"]["BaselineOverride"];
    assert_eq!(sent["OperatingSystem"], "AMAZON_LINUX_2023", "{request}");
    assert_eq!(sent["RejectedPatches"], json!(["plain"]));
    assert_eq!(sent["RejectedPatchesAction"], "BLOCK");
    assert!(sent.get("Name").is_none());
    assert_eq!(agent.ssm.requests("PutInventory").len(), puts);

    // Both at once: 167, before anything is asked of AWS.
    let calls = agent
        .ssm
        .requests("GetDeployablePatchSnapshotForInstance")
        .len();
    let out = agent.step(&[
        ("Operation", "Install"),
        ("InstallOverrideList", list),
        ("BaselineOverride", "s3://lists/override.json"),
    ]);
    assert_eq!(code(&out), Some(167), "{}", stderr(&out));
    // A missing override document: 162; not for this OS: 163; not an array: 161.
    moto.put(
        "lists",
        &[
            ("ubuntu-only.json", r#"[{"OperatingSystem": "UBUNTU"}]"#),
            ("object.json", r#"{"OperatingSystem": "AMAZON_LINUX_2023"}"#),
        ],
    );
    for (url, expected) in [
        ("s3://lists/nothing-here.json", 162),
        ("s3://lists/ubuntu-only.json", 163),
        ("s3://lists/object.json", 161),
    ] {
        let out = agent.step(&[("Operation", "Scan"), ("BaselineOverride", url)]);
        assert_eq!(code(&out), Some(expected), "{url}: {}", stderr(&out));
        assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    }
    // S3 refuses: 160 (the fake endpoint answers 403 AccessDenied for this bucket).
    agent.set(
        "AWS_ENDPOINT_URL_S3",
        &format!("http://127.0.0.1:{}", agent.ssm.port),
    );
    let out = agent.step(&[
        ("Operation", "Scan"),
        ("BaselineOverride", "s3://denied-bucket/o.json"),
    ]);
    assert_eq!(code(&out), Some(160), "{}", stderr(&out));
    assert!(stderr(&out).contains("AccessDenied"), "{}", stderr(&out));
    assert_eq!(
        agent
            .ssm
            .requests("GetDeployablePatchSnapshotForInstance")
            .len(),
        calls,
        "no snapshot was asked for after a bad override"
    );
}

#[test]
fn ssm_errors_throttling_and_bad_payloads_have_their_codes() {
    let dnf = scenario();
    let before = dnf.installed();
    // Throttled twice, then accepted: retried by the SDK. The snapshot arrives gzipped.
    let agent = dnf_agent(
        &dnf,
        &al2023_security(),
        json!({"PutInventory": ["ThrottlingException", "ThrottlingException"]}),
    );
    let mut flag = agent.ssm.snapshot.clone().into_os_string();
    flag.push(".gzip");
    std::fs::write(&flag, "").unwrap();
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let puts = agent.ssm.requests("PutInventory");
    assert_eq!(puts.len(), 3);
    assert!(puts[2].get("failed").is_none());
    // Unchanged compliance goes without its content; the service says the content does not
    // match (ItemContentMismatch), so it goes again in full (spec §5.4).
    let mut inject = agent.ssm.record.clone().into_os_string();
    inject.push(".inject");
    std::fs::write(
        &inject,
        r#"{"PutInventory": ["ItemContentMismatchException"]}"#,
    )
    .unwrap();
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let puts = agent.ssm.requests("PutInventory");
    let has_content = |put: &Value| {
        put["body"]["Items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["TypeName"] == "AWS:ComplianceItem")
            .unwrap()
            .get("Content")
            .is_some()
    };
    assert_eq!(puts.len(), 5);
    assert_eq!(puts[3]["failed"], "ItemContentMismatchException");
    assert!(!has_content(&puts[3]) && has_content(&puts[4]));
    drop(agent);

    // Access denied for the snapshot: 145; an unusable snapshot: 150; PutInventory refused: 149.
    let agent = dnf_agent(
        &dnf,
        &al2023_security(),
        json!({"GetDeployablePatchSnapshotForInstance": ["AccessDeniedException"],
               "PutInventory": ["InvalidInstanceId"]}),
    );
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(145), "{}", stderr(&out));
    assert!(stderr(&out).contains("AccessDeniedException"));
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(149), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("InvalidInstanceId"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&agent.ssm.snapshot, "<html>not a snapshot</html>").unwrap();
    let out = agent.step(&[("Operation", "Install")]);
    assert_eq!(code(&out), Some(150), "{}", stderr(&out));
    assert_eq!(dnf.installed(), before, "nothing installed");
    std::fs::write(&agent.ssm.snapshot, r#"{"patchBaseline": {"operatingSystem": "AMAZON_LINUX_2023", "approvalRules": {"rules": [{"filterGroup": {"filters": [{"key": "NOPE", "values": ["x"]}]}}]}}}"#).unwrap();
    let out = agent.step(&[("Operation", "Install")]);
    assert_eq!(code(&out), Some(150), "{}", stderr(&out));
    assert_eq!(dnf.installed(), before, "nothing installed");
    // A snapshot whose filter values the service accepted but that are outside our vocabulary
    // (CLASSIFICATION `CriticalUpdates` on AL2023, as a real Terraform baseline has): evaluated
    // as AWS does, the value matching nothing, with a warning; the run succeeds.
    let accepted = snapshot(
        "AMAZON_LINUX_2023",
        json!([{"key": "CLASSIFICATION", "values": ["Security", "CriticalUpdates"]}]),
    );
    std::fs::write(&agent.ssm.snapshot, accepted.to_string()).unwrap();
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        said.contains("`CriticalUpdates` is not a CLASSIFICATION value"),
        "{said}"
    );
    drop(agent);

    // No instance identity and IMDS unreachable: 148.
    let mut agent = dnf_agent(&dnf, &al2023_security(), json!({}));
    agent.env.retain(|(k, _)| k != "AWS_SSM_INSTANCE_ID");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let imds = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    agent.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds);
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(148), "{}", stderr(&out));
    assert!(stderr(&out).contains("IMDS"), "{}", stderr(&out));

    // The release payload: tampered (151), missing (156), not an archive (155); the release
    // the earlier steps installed is removed first, so that it is fetched again.
    let agent = dnf_agent(&dnf, &al2023_security(), json!({}));
    std::fs::remove_dir_all(dnf.root.join("var/lib/amazon/patch-baseline")).unwrap();
    let mut bytes = std::fs::read(&agent.release.0).unwrap();
    bytes[20] ^= 0xff;
    std::fs::write(&agent.release.0, &bytes).unwrap();
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(151), "{}", stderr(&out));
    assert!(stderr(&out).contains(&agent.release.1), "{}", stderr(&out));
    std::fs::remove_file(&agent.release.0).unwrap();
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(156), "{}", stderr(&out));
    let text = b"not a tarball";
    std::fs::write(&agent.release.0, text).unwrap();
    let sha = crate::util::sha256_file(&agent.release.0);
    let url = format!("file://{}", agent.release.0.display());
    let script = agent.dir.join("_bad");
    std::fs::write(
        &script,
        document_script(&[
            ("ReleaseUrl", &url),
            ("ReleaseSha256", &sha),
            ("Operation", "Scan"),
        ]),
    )
    .unwrap();
    let mut command = Command::new("sh");
    command.arg(&script);
    for (k, v) in &agent.env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    assert_eq!(code(&out), Some(155), "{}", stderr(&out));
    let leftovers: Vec<_> = std::fs::read_dir(dnf.root.join("var/lib/amazon/patch-baseline"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with(".download"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(dnf.installed(), before, "nothing installed by any of these");

    // A failing install (the package files are gone from the repository): 1.
    let agent = dnf_agent(&dnf, &al2023_security(), json!({}));
    let mut removed = 0;
    for dir in [dnf.repo.clone(), dnf.repo.join("noarch")] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("sec-imp-1.1")
            {
                std::fs::remove_file(entry.path()).unwrap();
                removed += 1;
            }
        }
    }
    assert_eq!(removed, 1);
    let out = agent.step(&[("Operation", "Install"), ("RebootOption", "NoReboot")]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
}

#[test]
fn document_scan_on_an_apt_root() {
    let apt = crate::apt_root::scenario();
    let snapshot = snapshot(
        "DEBIAN",
        json!([{"key": "PRIORITY", "values": ["Required", "Important", "Standard", "Optional", "Extra"]}]),
    );
    let mut agent = Agent::new(&apt.base, &apt.root, &snapshot, json!({}));
    agent.set("APT_CONFIG", apt.config.to_str().unwrap());
    agent.set("AWS_SSM_PLATFORM_NAME", "Debian GNU/Linux");
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let (summary, items) = summary_and_items(&agent.ssm.requests("PutInventory")[0]);
    // The step is one run in the history, with its snapshot.
    let runs = crate::history::runs(&apt.root);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["operation"], "Scan");
    assert_eq!(runs[0]["snapshotId"], summary["SnapshotId"], "{summary}");
    let scan = apt.scan(&["--baseline", agent.ssm.snapshot.to_str().unwrap()]);
    let missing = crate::apt_root::in_state(&scan, "Missing");
    assert_eq!(
        summary["MissingCount"],
        missing.len().to_string(),
        "{summary}"
    );
    assert!(!missing.is_empty());
    for (name, arch) in missing.keys() {
        assert!(
            items
                .iter()
                .any(|i| i["Id"] == format!("{name}.{arch}") && i["PatchState"] == "Missing"),
            "{name}"
        );
    }
    // Install, NoReboot: what was Missing is installed and pending a reboot, but for what the
    // administrator holds (still Missing, not Failed).
    let held = scan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == "Missing" && p["reasons"].to_string().contains("\"held\""))
        .count();
    let out = agent.step(&[("Operation", "Install"), ("RebootOption", "NoReboot")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let (summary, _) = summary_and_items(agent.ssm.requests("PutInventory").last().unwrap());
    // The step's scan, the test's own and the install: three runs.
    let runs = crate::history::runs(&apt.root);
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[2]["operation"], "Install");
    assert_eq!(runs[2]["snapshotId"], summary["SnapshotId"], "{summary}");
    assert_ne!(runs[2]["snapshotId"], runs[0]["snapshotId"]);
    assert_eq!(
        (
            summary["OperationType"].as_str(),
            summary["MissingCount"].as_str(),
            summary["FailedCount"].as_str(),
            summary["InstalledPendingRebootCount"].as_str()
        ),
        (
            Some("Install"),
            Some(held.to_string().as_str()),
            Some("0"),
            Some((missing.len() - held).to_string().as_str())
        ),
        "{summary}"
    );
}

#[test]
fn the_document_is_generated_from_its_script_and_shellcheck_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("scripts/gen-document"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = Command::new("shellcheck")
        .arg(root.join("scripts/document/patch-linux.sh"))
        .output()
        .expect("shellcheck (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn payload_fetch_from_s3_and_a_refused_object() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let (tarball, sha) = release(dir.path());
    // moto keeps text bodies; the tarball goes in through boto3 from the file.
    crate::util::python(
        "import boto3, sys\ns3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='a', aws_secret_access_key='b')\ns3.create_bucket(Bucket='releases')\ns3.upload_file(sys.argv[2], 'releases', 'v1/patch-baseline.tar.gz')\n",
        &[
            format!("http://127.0.0.1:{}", moto.port).as_ref(),
            tarball.as_os_str(),
        ],
    );
    let fetch = |url: &str, endpoint: u16, dest: &Path| {
        Command::new(binary())
            .args(["payload", "fetch", "--url", url, "--sha256", &sha, "--dest"])
            .arg(dest)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .env(
                "AWS_ENDPOINT_URL_S3",
                format!("http://127.0.0.1:{endpoint}"),
            )
            .env("AWS_CONFIG_FILE", dir.path().join("none"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
            .output()
            .unwrap()
    };
    let dest = dir.path().join("out");
    let out = fetch("s3://releases/v1/patch-baseline.tar.gz", moto.port, &dest);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(dest.join("patch-baseline").exists());
    // A 403 from S3: 156 with S3's reason, nothing left.
    let ssm = FakeSsm::start(dir.path(), &json!({}), json!({}));
    let dest = dir.path().join("denied");
    let out = fetch("s3://denied-bucket/x.tar.gz", ssm.port, &dest);
    assert_eq!(code(&out), Some(156), "{}", stderr(&out));
    assert!(stderr(&out).contains("AccessDenied"), "{}", stderr(&out));
    assert!(!dest.exists());
    // A missing object: 156 too.
    let out = fetch("s3://releases/v2/nothing.tar.gz", moto.port, &dest);
    assert_eq!(code(&out), Some(156), "{}", stderr(&out));
    assert!(stderr(&out).contains("NoSuchKey"), "{}", stderr(&out));
}

/// PRODUCT filters compare the product GetDeployablePatchSnapshotForInstance returns (the
/// payload's `instance_info.product`), not one rebuilt from os-release: a snapshot whose only
/// product is `AmazonLinux2023.9` approves on an instance SSM calls that, and nothing on one SSM
/// calls `AmazonLinux2023`.
#[test]
fn run_compares_the_product_ssm_returns() {
    let dnf = scenario();
    let snapshot = snapshot(
        "AMAZON_LINUX_2023",
        json!([{"key": "PRODUCT", "values": ["AmazonLinux2023.9"]},
               {"key": "CLASSIFICATION", "values": ["Security"]}]),
    );
    let mut agent = dnf_agent(&dnf, &snapshot, json!({}));
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let (summary, _) = summary_and_items(&agent.ssm.requests("PutInventory")[0]);
    assert_eq!(summary["MissingCount"], "0", "{summary}");
    agent.ssm = FakeSsm::start_with(
        &dnf.base,
        &snapshot,
        json!({}),
        json!({"product": "AmazonLinux2023.9"}),
    );
    let endpoint = format!("http://127.0.0.1:{}", agent.ssm.port);
    agent.set("AWS_ENDPOINT_URL_SSM", &endpoint);
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let (summary, _) = summary_and_items(&agent.ssm.requests("PutInventory")[0]);
    assert_ne!(summary["MissingCount"], "0", "{summary}");
    // The install plan compares the same product: what the scan found missing is installed.
    let missing = summary["MissingCount"].clone();
    let out = agent.step(&[("Operation", "Install"), ("RebootOption", "NoReboot")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let puts = agent.ssm.requests("PutInventory");
    let (summary, _) = summary_and_items(puts.last().unwrap());
    assert_eq!(
        (
            &summary["FailedCount"],
            &summary["InstalledPendingRebootCount"]
        ),
        (&serde_json::json!("0"), &missing),
        "{summary}"
    );
}

/// Baseline `Sources` through `run` (issue #14): a snapshot whose baseline carries a source, and
/// a BaselineOverride that does (the service's snapshot then carries it). Only the source's
/// repository is used, the root's repository configuration is untouched, and the PutInventory
/// items keep AWS's shape (the fake endpoint checks them against botocore's model).
#[test]
fn run_uses_the_sources_of_the_snapshot_and_of_a_baseline_override() {
    let dnf = scenario();
    // A repository the root is not configured with: sec-imp 1.2, an Important security fix.
    let mirror = DnfRoot::new();
    mirror.rpm("sec-imp", None, "1.2");
    mirror.publish(&crate::dnf_root::advisory(
        "ALAS2023-2026-900",
        "security",
        Some("Important"),
        &crate::dnf_root::days_ago(30),
        &[("sec-imp", 0, "1.2")],
    ));
    let configuration = format!(
        "[mirror]\nname=mirror\nbaseurl=file://{}\ngpgcheck=0\nmetadata_expire=0\n",
        mirror.repo.display()
    );
    let repo_file = dnf.root.join("etc/yum.repos.d/test.repo");
    let original = std::fs::read(&repo_file).unwrap();
    let missing_titles = |request: &Value| -> (Value, Vec<String>) {
        let (summary, items) = summary_and_items(request);
        let titles = items
            .iter()
            .filter(|i| i["PatchState"] == "Missing")
            .map(|i| i["Title"].as_str().unwrap().to_string())
            .collect();
        (summary["MissingCount"].clone(), titles)
    };

    // Without sources, the root's repository: sec-imp 1.1 and ep are missing.
    let mut agent = dnf_agent(&dnf, &al2023_security(), json!({}));
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let (count, _) = missing_titles(&agent.ssm.requests("PutInventory")[0]);
    assert_eq!(count, "2");

    // The snapshot carries a source for this product: only the mirror counts.
    let mut with_sources = al2023_security();
    with_sources["patchBaseline"]["sources"] = json!([
        {"name": "mirror", "products": ["AmazonLinux2023"], "configuration": configuration}
    ]);
    agent.ssm = FakeSsm::start(&dnf.base, &with_sources, json!({}));
    let endpoint = format!("http://127.0.0.1:{}", agent.ssm.port);
    agent.set("AWS_ENDPOINT_URL_SSM", &endpoint);
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let (count, titles) = missing_titles(&agent.ssm.requests("PutInventory")[0]);
    assert_eq!(
        (count, titles),
        (json!("1"), vec!["sec-imp.noarch:0:1.2-1".to_string()])
    );
    let out = agent.step(&[("Operation", "Install"), ("RebootOption", "NoReboot")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let installed = dnf.installed();
    assert!(
        installed.contains("sec-imp-1.2") && installed.contains("ep-1.0"),
        "{installed:?}"
    );
    assert_eq!(std::fs::read(&repo_file).unwrap(), original);

    // A BaselineOverride with a source: the service's snapshot carries it.
    let moto = moto_for(&mut agent, &dnf.base);
    let override_document = security_override(json!({
        "Sources": [{"Name": "mirror", "Products": ["*"], "Configuration": configuration}]
    }));
    moto.put(
        "lists",
        &[("override.json", &override_document.to_string())],
    );
    agent.ssm = FakeSsm::start(&dnf.base, &al2023_security(), json!({}));
    let endpoint = format!("http://127.0.0.1:{}", agent.ssm.port);
    agent.set("AWS_ENDPOINT_URL_SSM", &endpoint);
    let out = agent.step(&[
        ("Operation", "Scan"),
        ("BaselineOverride", "s3://lists/override.json"),
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let request = &agent.ssm.requests("GetDeployablePatchSnapshotForInstance")[0];
    assert_eq!(
        request["body"]["BaselineOverride"]["Sources"][0]["Name"],
        "mirror"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("come from the baseline's sources only (mirror)"),
        "{stdout}"
    );
    // Everything the mirror offers is installed: nothing is missing.
    assert!(stdout.contains("0 missing"), "{stdout}");
    assert_eq!(std::fs::read(&repo_file).unwrap(), original);
}

/// BaselineOverride and compliance (issue #15, part 2): AWS uploads nothing for an override,
/// "except when a patching operation uses a patch policy" — the override then comes from the
/// policy's bucket (`aws-quicksetup-patchpolicy-ACCOUNT-ID`) and compliance is reported. The
/// document's UploadOverrideCompliance asks for it explicitly (Yes) or never (No).
#[test]
fn patch_policy_overrides_report_compliance() {
    let dnf = scenario();
    let mut agent = dnf_agent(&dnf, &al2023_security(), json!({}));
    let moto = moto_for(&mut agent, &dnf.base);
    let override_document = security_override(json!({})).to_string();
    let policy_bucket = "aws-quicksetup-patchpolicy-123456789012-abcde";
    moto.put(
        policy_bucket,
        &[("baseline_overrides.json", &override_document)],
    );
    moto.put("lists", &[("override.json", &override_document)]);
    let policy = format!("s3://{policy_bucket}/baseline_overrides.json");
    let plain = "s3://lists/override.json";
    for (url, upload, expected) in [
        (policy.as_str(), "Auto", true),
        (plain, "Auto", false),
        (plain, "Yes", true),
        (policy.as_str(), "No", false),
    ] {
        let before = agent.ssm.requests("PutInventory").len();
        let out = agent.step(&[
            ("Operation", "Scan"),
            ("BaselineOverride", url),
            ("UploadOverrideCompliance", upload),
        ]);
        assert_eq!(code(&out), Some(0), "{url} {upload}: {}", stderr(&out));
        let puts = agent.ssm.requests("PutInventory");
        assert_eq!(puts.len() - before, usize::from(expected), "{url} {upload}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.contains("compliance is not uploaded"),
            !expected,
            "{url} {upload}: {stdout}"
        );
        if expected {
            // The override's own rules: every security update approved at once.
            let (summary, _) = summary_and_items(puts.last().unwrap());
            assert_ne!(summary["MissingCount"], "2", "{summary}");
        }
    }
}

/// moto's S3, started in `dir`, as the agent's S3 endpoint.
fn moto_for(agent: &mut Agent, dir: &Path) -> Moto {
    let moto = Moto::start(dir);
    agent.set(
        "AWS_ENDPOINT_URL_S3",
        &format!("http://127.0.0.1:{}", moto.port),
    );
    moto
}

/// A BaselineOverride document for AL2023 approving every security update at once, with
/// `extra` members.
fn security_override(extra: Value) -> Value {
    let mut baseline = json!({
        "OperatingSystem": "AMAZON_LINUX_2023",
        "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [
            {"Key": "CLASSIFICATION", "Values": ["Security"]}]},
            "ApproveAfterDays": 0, "ComplianceLevel": "HIGH"}]}
    });
    if let (Some(baseline), Some(extra)) = (baseline.as_object_mut(), extra.as_object()) {
        baseline.extend(extra.clone());
    }
    json!([baseline])
}

/// The Run Command console shows the first 2,500 characters of a step's output (issue #15,
/// part 5): on a root with 200 missing packages they hold the header (instance, region,
/// product, baseline, snapshot, operation, reboot option, version), the summary line and the
/// exit reason; the timed steps follow, then every non-compliant package.
#[test]
fn run_output_opens_with_what_an_operator_needs() {
    let apt = crate::apt_root::AptRoot::new();
    let names: Vec<String> = (0..200).map(|i| format!("pkg-{i:03}")).collect();
    let old: Vec<PathBuf> = names
        .iter()
        .map(|n| apt.deb(n, "1.0-1", "optional", "utils"))
        .collect();
    apt.publish("bookworm", &old, "Debian", false);
    let new: Vec<PathBuf> = names
        .iter()
        .map(|n| apt.deb(n, "1.1-1", "optional", "utils"))
        .collect();
    apt.publish("bookworm-security", &new, "Debian-Security", false);
    for suite in ["bookworm-updates", "bookworm-backports"] {
        apt.publish(suite, &[], "Debian", false);
    }
    apt.apt("apt-get", &["update", "-q"]);
    let mut install = vec!["install".to_string(), "-y".into(), "-q".into()];
    install.extend(names.iter().map(|n| format!("{n}=1.0-1")));
    let install: Vec<&str> = install.iter().map(String::as_str).collect();
    apt.apt("apt-get", &install);
    let snapshot = snapshot(
        "DEBIAN",
        json!([{"key": "PRIORITY", "values": ["Optional"]}]),
    );
    let mut agent = Agent::new(&apt.base, &apt.root, &snapshot, json!({}));
    agent.set("APT_CONFIG", apt.config.to_str().unwrap());
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let console: String = text.chars().take(2500).collect();
    for expected in [
        &format!(
            "patch-baseline {} run: Scan on i-0123456789abcdef0 (us-east-1), product",
            env!("CARGO_PKG_VERSION")
        ),
        "baseline pb-0123456789abcdef0 (test-baseline), snapshot ",
        ", reboot option RebootIfNeeded",
        "NON_COMPLIANT: 0 installed, 0 installed-other, 0 installed-rejected, 0 pending-reboot, 200 missing",
        "exit 0: done",
    ] {
        assert!(console.contains(expected), "{expected:?} in {console}");
    }
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.iter().any(|l| l.contains(" refresh: ")), "{text}");
    assert!(lines.iter().any(|l| l.contains(" upload: ")), "{text}");
    // Every non-compliant package, after the summary.
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("  CRITICAL Missing pkg-"))
            .count(),
        200,
        "{text}"
    );
}

/// The hooks document (issue #15, part 3) run as the SSM agent runs it, on a dnf root: the
/// step order of AWS-RunPatchBaselineWithHooks for a Scan, an Install across a reboot, an
/// Install with nothing left to do, and a failing pre-install hook.
#[test]
fn hooks_document_runs_its_steps_in_order_across_a_reboot() {
    let dnf = scenario();
    let mut agent = dnf_agent(&dnf, &al2023_security(), json!({}));
    let document = "PatchBaseline-RunPatchBaselineWithHooks.json";
    let hooks = [
        ("PreInstallHookDocName", "Pre-Hook"),
        ("PostInstallHookDocName", "Post-Hook"),
        ("OnExitHookDocName", "Exit-Hook"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all = hooks.to_vec();
        all.extend_from_slice(extra);
        all
    };

    // A Scan reports and ends; the on-exit hook is the final step and runs.
    let log = agent.run_document(document, &with(&[("Operation", "Scan")]), &[]);
    assert_eq!(
        log,
        [
            "DownloadRelease: skipped (precondition)",
            "PatchScan: ok (168)",
            "PreInstallHook: skipped",
            "InstallWithNoReboot: skipped",
            "PostInstallHook: skipped",
            "RebootIfNeeded: skipped",
            "OnExitHook: ok (Exit-Hook)"
        ]
    );
    assert_eq!(agent.ssm.requests("PutInventory").len(), 1);
    assert!(
        dnf.installed().contains("sec-imp-1.0"),
        "a scan installs nothing"
    );

    // A failing pre-install hook: nothing is installed, on to the on-exit hook.
    let log = agent.run_document(document, &with(&[("Operation", "Install")]), &["Pre-Hook"]);
    assert_eq!(
        log,
        [
            "DownloadRelease: skipped (precondition)",
            "PatchScan: ok",
            "PreInstallHook: failed (Pre-Hook)",
            "InstallWithNoReboot: skipped",
            "PostInstallHook: skipped",
            "RebootIfNeeded: skipped",
            "OnExitHook: ok (Exit-Hook)"
        ]
    );
    assert!(dnf.installed().contains("sec-imp-1.0"));

    // An Install: pre-install hook, install without reboot, post-install hook, the reboot (the
    // step runs again after it and reports it), then the on-exit hook.
    let log = agent.run_document(document, &with(&[("Operation", "Install")]), &[]);
    assert_eq!(
        log,
        [
            "DownloadRelease: skipped (precondition)",
            "PatchScan: ok",
            "PreInstallHook: ok (Pre-Hook)",
            "InstallWithNoReboot: ok",
            "PostInstallHook: ok (Post-Hook)",
            "RebootIfNeeded: reboot",
            "RebootIfNeeded: ok",
            "OnExitHook: ok (Exit-Hook)"
        ]
    );
    let installed = dnf.installed();
    assert!(
        installed.contains("sec-imp-1.1") && installed.contains("ep-1.1"),
        "{installed:?}"
    );
    // The scan, the install (NoReboot) and the reboot's install each reported, under one
    // snapshot id.
    let snapshots: std::collections::BTreeSet<String> = agent
        .ssm
        .requests("GetDeployablePatchSnapshotForInstance")
        .iter()
        .rev()
        .take(3)
        .map(|r| r["body"]["SnapshotId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");

    // Again: nothing missing and the reboot done, so the scan ends it.
    let log = agent.run_document(document, &with(&[("Operation", "Install")]), &[]);
    assert_eq!(log[1], "PatchScan: ok (168)", "{log:?}");
    assert_eq!(log[6], "OnExitHook: ok (Exit-Hook)");
}

/// The document picks the release for the machine's architecture (issue #15, part 4):
/// ReleaseUrl on x86_64, ReleaseUrlAarch64 on aarch64 (Graviton), a clear 146 on an aarch64
/// machine without it and on any other architecture (`PATCH_BASELINE_MACHINE` stands in for
/// `uname -m`).
#[test]
fn document_picks_the_release_for_the_machine() {
    let dnf = scenario();
    let mut agent = dnf_agent(&dnf, &al2023_security(), json!({}));
    let url = format!("file://{}", agent.release.0.display());
    let sha = agent.release.1.clone();
    // On aarch64 the x86_64 parameters are not used: a wrong x86_64 SHA-256 does not matter.
    agent.set("PATCH_BASELINE_MACHINE", "aarch64");
    let wrong = "0".repeat(64);
    let out = agent.step(&[
        ("Operation", "Scan"),
        ("ReleaseSha256", &wrong),
        ("ReleaseUrlAarch64", &url),
        ("ReleaseSha256Aarch64", &sha),
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(agent.ssm.requests("PutInventory").len(), 1);
    // aarch64 without its release, and an architecture there is no release for.
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(146), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ReleaseUrlAarch64"),
        "{}",
        stderr(&out)
    );
    agent.set("PATCH_BASELINE_MACHINE", "riscv64");
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(146), "{}", stderr(&out));
    assert!(stderr(&out).contains("riscv64"), "{}", stderr(&out));
    assert_eq!(agent.ssm.requests("PutInventory").len(), 1);
}

/// Whether `value` matches the allowed pattern of the committed document's parameter `name`.
fn allowed(document: &Value, name: &str, value: &str) -> bool {
    matches_pattern(
        document["parameters"][name]["allowedPattern"]
            .as_str()
            .unwrap(),
        value,
    )
}

/// Whether `value` matches a document parameter's allowed pattern (Python's `re.search`, close
/// to the service's check).
fn matches_pattern(pattern: &str, value: &str) -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import re,sys; sys.exit(0 if re.search(sys.argv[1], sys.argv[2]) else 1)",
            pattern,
            value,
        ])
        .status()
        .unwrap()
        .success()
}

/// The release from a private bucket (issue #15, part 4): with `ReleaseSource` S3 the
/// documents' `aws:downloadContent` step fetches the release (here from a local stand-in for
/// the agent's S3 source) and the shell step uses its file, checking the SHA-256 itself and
/// never downloading (curl and wget fail if called). A folder URL holding both architectures'
/// tarballs gives each machine its own by checksum; a tampered object is refused with 151 and
/// runs nothing; a missing object fails the download step, which ends the document. With the
/// default `HTTPS` the step is skipped by its precondition.
#[test]
fn document_release_from_a_private_bucket() {
    let dnf = scenario();
    let mut agent = dnf_agent(&dnf, &al2023_security(), json!({}));
    let main = "PatchBaseline-RunPatchBaseline.json";
    let hooks = "PatchBaseline-RunPatchBaselineWithHooks.json";
    let document = committed_document(main);
    for url in [
        "https://my-bucket.s3.eu-west-1.amazonaws.com/releases/patch-baseline.tar.gz",
        "https://s3.eu-west-1.amazonaws.com/my-bucket/releases/0.2.0/",
    ] {
        assert!(allowed(&document, "ReleaseUrl", url), "{url}");
    }
    // The agent's S3 source parses only https S3 URLs.
    assert!(!allowed(
        &document,
        "ReleaseUrl",
        "s3://my-bucket/releases/x.tar.gz"
    ));

    // Downloading is not the shell step's job with S3: curl and wget fail when called.
    let stubs = agent.dir.join("no-download");
    std::fs::create_dir_all(&stubs).unwrap();
    let called = agent.dir.join("download-called");
    for tool in ["curl", "wget"] {
        let stub = stubs.join(tool);
        std::fs::write(
            &stub,
            format!("#!/bin/sh\necho {tool} >> '{}'\nexit 7\n", called.display()),
        )
        .unwrap();
        std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let path = format!("{}:{}", stubs.display(), std::env::var("PATH").unwrap());
    agent.set("PATH", &path);

    let (tarball, sha) = agent.release.clone();
    let bucket = agent.s3_objects().join("my-bucket");
    std::fs::create_dir_all(bucket.join("releases/0.2.0")).unwrap();
    std::fs::copy(&tarball, bucket.join("releases/patch-baseline.tar.gz")).unwrap();
    let state = dnf.root.join("var/lib/amazon/patch-baseline");
    let object = "https://my-bucket.s3.eu-west-1.amazonaws.com/releases/patch-baseline.tar.gz";

    // One object, virtual-hosted style.
    let params = [
        ("Operation", "Scan"),
        ("ReleaseSource", "S3"),
        ("ReleaseUrl", object),
        ("ReleaseSha256", sha.as_str()),
    ];
    let log = agent.run_document(main, &params, &[]);
    assert_eq!(log, ["DownloadRelease: ok (1 files)", "PatchLinux: ok"]);
    assert_eq!(agent.ssm.requests("PutInventory").len(), 1);
    assert!(
        state
            .join(format!("release-{sha}/patch-baseline"))
            .is_file()
    );
    assert!(
        !state.join("s3-release").exists(),
        "the download is removed"
    );

    // A folder, path style, with both architectures' tarballs: an aarch64 machine takes the one
    // with its checksum (here the same binary packed with a marker, so it runs on this host).
    let folder = bucket.join("releases/0.2.0");
    std::fs::copy(&tarball, folder.join("patch-baseline-x86_64-linux.tar.gz")).unwrap();
    let stage = agent.dir.join("arm-stage");
    std::fs::create_dir_all(&stage).unwrap();
    assert!(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&stage)
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(stage.join("ARCH"), "aarch64\n").unwrap();
    let arm = folder.join("patch-baseline-aarch64-linux.tar.gz");
    assert!(
        Command::new("tar")
            .arg("-czf")
            .arg(&arm)
            .arg("-C")
            .arg(&stage)
            .args(["patch-baseline", "ARCH"])
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(folder.join("SHA256SUMS"), "not a tarball\n").unwrap();
    let arm_sha = crate::util::sha256_file(&arm);
    agent.set("PATCH_BASELINE_MACHINE", "aarch64");
    let folder_url = "https://s3.eu-west-1.amazonaws.com/my-bucket/releases/0.2.0/";
    let params = [
        ("Operation", "Scan"),
        ("ReleaseSource", "S3"),
        ("ReleaseUrl", folder_url),
        ("ReleaseSha256", sha.as_str()),
        ("ReleaseSha256Aarch64", arm_sha.as_str()),
    ];
    let log = agent.run_document(main, &params, &[]);
    assert_eq!(log, ["DownloadRelease: ok (3 files)", "PatchLinux: ok"]);
    assert!(state.join(format!("release-{arm_sha}/ARCH")).is_file());
    assert_eq!(agent.ssm.requests("PutInventory").len(), 2);
    assert!(!state.join("s3-release").exists());

    // Nothing in the folder has the checksum asked for (a tampered or wrong release): 151, the
    // files named with what they are, nothing run.
    agent.set("PATCH_BASELINE_MACHINE", "x86_64");
    let wrong = "ab".repeat(32);
    let params = [
        ("Operation", "Scan"),
        ("ReleaseSource", "S3"),
        ("ReleaseUrl", folder_url),
        ("ReleaseSha256", wrong.as_str()),
    ];
    let log = agent.run_document(main, &params, &[]);
    assert_eq!(log[0], "DownloadRelease: ok (3 files)");
    assert!(
        log[1].starts_with("PatchLinux: failed (Some(151))")
            && log[1].contains(&format!("should be {wrong}"))
            && log[1].contains(&format!("{arm_sha} patch-baseline-aarch64-linux.tar.gz")),
        "{log:?}"
    );
    assert!(!state.join(format!("release-{wrong}")).exists());
    assert_eq!(agent.ssm.requests("PutInventory").len(), 2);

    // A key the bucket does not have: the download step fails and ends the document.
    let params = [
        ("Operation", "Scan"),
        ("ReleaseSource", "S3"),
        (
            "ReleaseUrl",
            "https://my-bucket.s3.eu-west-1.amazonaws.com/releases/gone.tar.gz",
        ),
        ("ReleaseSha256", sha.as_str()),
    ];
    let log = agent.run_document(main, &params, &[]);
    assert_eq!(
        log,
        [
            "DownloadRelease: failed (NoSuchKey: my-bucket/releases/gone.tar.gz)",
            "PatchLinux: skipped"
        ]
    );

    // The hooks document has the same step, first.
    std::fs::remove_dir_all(state.join(format!("release-{sha}"))).unwrap();
    std::fs::remove_dir_all(state.join("s3-release")).unwrap();
    let params = [
        ("Operation", "Scan"),
        ("ReleaseSource", "S3"),
        ("ReleaseUrl", object),
        ("ReleaseSha256", sha.as_str()),
    ];
    let log = agent.run_document(hooks, &params, &[]);
    assert_eq!(
        log[..2],
        ["DownloadRelease: ok (1 files)", "PatchScan: ok (168)"]
    );
    assert!(
        state
            .join(format!("release-{sha}/patch-baseline"))
            .is_file()
    );
    assert!(!called.exists(), "curl or wget was called");

    // HTTPS, the default: the step is skipped and the shell step downloads.
    let log = agent.run_document(main, &[("Operation", "Scan")], &[]);
    assert_eq!(
        log,
        ["DownloadRelease: skipped (precondition)", "PatchLinux: ok"]
    );
}

/// `run` killed just before and just after its PutInventory (issue #16, part 2): the next run
/// installs nothing again and uploads the compliance, so SSM ends with the right report.
#[test]
fn run_converges_after_a_crash_around_the_upload() {
    let dnf = scenario();
    let mut agent = dnf_agent(&dnf, &al2023_security(), json!({}));
    let install = [("Operation", "Install"), ("RebootOption", "NoReboot")];
    let mut uploads = 0;
    for point in ["before-upload", "after-upload"] {
        agent.set("PATCH_BASELINE_CRASH_AT", point);
        let out = agent.step(&install);
        assert_eq!(code(&out), None, "{point}: killed: {}", stderr(&out));
        if point == "after-upload" {
            uploads += 1;
        }
        assert_eq!(agent.ssm.requests("PutInventory").len(), uploads, "{point}");
        let installed = dnf.installed();
        assert!(
            installed.contains("sec-imp-1.1") && installed.contains("ep-1.1"),
            "{point}: {installed:?}"
        );

        agent.set("PATCH_BASELINE_CRASH_AT", "");
        let out = agent.step(&install);
        assert_eq!(code(&out), Some(0), "{point}: {}", stderr(&out));
        uploads += 1;
        let puts = agent.ssm.requests("PutInventory");
        assert_eq!(puts.len(), uploads, "{point}");
        // The summary always has its content (the compliance items only when they changed).
        let (summary, _) = summary_and_items(puts.last().unwrap());
        assert_eq!(
            (
                summary["OperationType"].as_str(),
                summary["MissingCount"].as_str(),
                summary["FailedCount"].as_str(),
                summary["InstalledPendingRebootCount"].as_str(),
            ),
            (Some("Install"), Some("0"), Some("0"), Some("2")),
            "{point}: {summary}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(dnf.root.join("var/log/dnf.rpm.log"))
            .unwrap_or_default()
            .matches("Upgrade: sec-imp-1.1")
            .count(),
        1,
        "installed once"
    );
}

#[test]
fn document_installs_a_plan_from_s3_exactly_and_refuses_a_drifted_one() {
    let dnf = scenario();
    let snapshot = al2023_security();
    let mut agent = dnf_agent(&dnf, &snapshot, json!({}));
    // The plan, made on the root with the snapshot's baseline: the change that was approved.
    let baseline_file = dnf.base.join("approved-baseline.json");
    std::fs::write(&baseline_file, snapshot.to_string()).unwrap();
    let plan_file = dnf.base.join("plan.json");
    let out = dnf.install(
        &[
            "--dry-run",
            "--baseline",
            baseline_file.to_str().unwrap(),
            "--plan-out",
            plan_file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let mut plan: Value = serde_json::from_slice(&std::fs::read(&plan_file).unwrap()).unwrap();
    let planned: Vec<String> = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(planned, ["ep", "sec-imp"], "{plan:#}");
    // Approve only sec-imp: the operator's edit of the plan is what runs.
    plan["targets"] = json!([plan["targets"][1].clone()]);
    let moto = Moto::start(&dnf.base);
    let mut drifted = plan.clone();
    drifted["baseline"]["fingerprint"] = json!("0".repeat(64));
    moto.put(
        "plans",
        &[
            ("approved.json", &plan.to_string()),
            ("drifted.json", &drifted.to_string()),
        ],
    );
    agent.set(
        "AWS_ENDPOINT_URL_S3",
        &format!("http://127.0.0.1:{}", moto.port),
    );
    let puts = agent.ssm.requests("PutInventory").len();
    let out = agent.step(&[
        ("Operation", "Install"),
        ("InstallPlan", "s3://plans/drifted.json"),
        ("RebootOption", "NoReboot"),
    ]);
    assert_eq!(code(&out), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the baseline differs from the plan's"),
        "{}",
        stderr(&out)
    );
    assert!(dnf.installed().contains("sec-imp-1.0"));
    assert_eq!(
        agent.ssm.requests("PutInventory").len(),
        puts,
        "nothing reported"
    );

    let plan_url = "s3://plans/approved.json";
    let out = agent.step(&[
        ("Operation", "Install"),
        ("InstallPlan", plan_url),
        ("RebootOption", "NoReboot"),
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let installed = dnf.installed();
    assert!(
        installed.contains("sec-imp-1.1") && installed.contains("ep-1.0"),
        "only the plan's target: {installed:?}"
    );
    let (summary, _) = summary_and_items(agent.ssm.requests("PutInventory").last().unwrap());
    assert_eq!(summary["InstallOverrideList"], plan_url);
    assert_eq!(summary["MissingCount"], "1", "ep stays Missing: {summary}");
    assert_eq!(summary["FailedCount"], "0", "{summary}");
}
