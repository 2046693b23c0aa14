//! `run` behind a proxy (issue #15, part 1), through a real forward proxy on loopback
//! (`tests/scripts/proxy.py`, which records every request): the SSM calls, the snapshot
//! download and S3 go through it with either letter case of `HTTP_PROXY`; `NO_PROXY` bypasses
//! it; `HTTPS_PROXY` tunnels https endpoints (a local TLS endpoint with a test CA, trusted
//! through `SSL_CERT_FILE` by the SDK and the downloads alike); credentials in the proxy URL
//! are sent; an unreachable proxy is named in a one-line error; and the instance metadata
//! service never reaches the proxy — checked inside a private network namespace (`unshare
//! -n`) where the IMDS stand-in answers at its real address, 169.254.169.254:80, so nothing
//! leaves the machine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use serde_json::{Value, json};

use crate::dnf_root::scenario;
use crate::run::{
    FakeSsm, Moto, al2023_security, code, dnf_agent, scripts, spawn_script, stderr,
    summary_and_items,
};
use crate::util::binary;

/// The recording proxy.
struct Proxy {
    child: Child,
    port: u16,
    record: PathBuf,
}

impl Proxy {
    fn start(dir: &Path, name: &str, auth: Option<&str>) -> Self {
        let record = dir.join(format!("{name}.jsonl"));
        let (child, port) = spawn_script(
            "proxy.py",
            &dir.join(format!("{name}.json")),
            &json!({"port_file": dir.join(format!("{name}.port")), "record": record, "auth": auth}),
        );
        Self {
            child,
            port,
            record,
        }
    }

    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn targets(requests: &[Value]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {}{}", r["method"], r["target"], r["path"]).replace('"', ""))
        .collect()
}

#[test]
fn run_goes_through_the_proxy_the_environment_names() {
    let dnf = scenario();
    let mut agent = dnf_agent(&dnf, &al2023_security(), json!({}));
    let ssm = format!("127.0.0.1:{}", agent.ssm.port);

    // Both letter cases: the snapshot call, the snapshot download and PutInventory pass through.
    for variable in ["HTTP_PROXY", "http_proxy"] {
        let proxy = Proxy::start(&dnf.base, variable, None);
        agent.set(variable, &format!("http://127.0.0.1:{}", proxy.port));
        let out = agent.step(&[("Operation", "Scan")]);
        assert_eq!(code(&out), Some(0), "{variable}: {}", stderr(&out));
        let seen = targets(&proxy.requests());
        // (The download client tunnels plain http through the proxy with CONNECT.)
        assert!(
            seen.contains(&format!("POST {ssm}/"))
                && seen.iter().any(|t| {
                    t.starts_with(&format!("GET {ssm}/snapshot/")) || *t == format!("CONNECT {ssm}")
                }),
            "{variable}: {seen:?}"
        );
        assert_eq!(
            seen.iter().filter(|t| t.starts_with("POST")).count(),
            2,
            "{variable}: GetDeployablePatchSnapshotForInstance and PutInventory: {seen:?}"
        );
        agent.env.retain(|(k, _)| k != variable);
    }

    // NO_PROXY bypasses it.
    let proxy = Proxy::start(&dnf.base, "bypassed", None);
    agent.set("HTTP_PROXY", &format!("http://127.0.0.1:{}", proxy.port));
    agent.set("NO_PROXY", "127.0.0.1");
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(proxy.requests(), Vec::<Value>::new());
    agent.env.retain(|(k, _)| k != "NO_PROXY");

    // Credentials in the proxy URL are sent (the proxy refuses requests without them), and S3
    // (a BaselineOverride from moto) goes through the proxy too.
    let proxy = Proxy::start(&dnf.base, "authenticated", Some("patcher:s3cret"));
    agent.set(
        "HTTP_PROXY",
        &format!("http://patcher:s3cret@127.0.0.1:{}", proxy.port),
    );
    let moto = Moto::start(&dnf.base);
    moto.put(
        "lists",
        &[(
            "override.json",
            // No rules at all is a valid override (PatchRules has 0–10 members).
            r#"[{"OperatingSystem": "AMAZON_LINUX_2023", "ApprovalRules": {"PatchRules": []}}]"#,
        )],
    );
    agent.set(
        "AWS_ENDPOINT_URL_S3",
        &format!("http://127.0.0.1:{}", moto.port),
    );
    let out = agent.step(&[
        ("Operation", "Scan"),
        ("BaselineOverride", "s3://lists/override.json"),
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let requests = proxy.requests();
    assert!(
        requests
            .iter()
            .all(|r| r["auth"] == true && r.get("refused").is_none()),
        "{requests:?}"
    );
    let seen = targets(&requests);
    assert!(
        seen.iter()
            .any(|t| t.starts_with(&format!("GET 127.0.0.1:{}/", moto.port))),
        "the S3 GetObject: {seen:?}"
    );

    // An unreachable proxy: one line naming it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    agent.set("HTTP_PROXY", &dead);
    let out = agent.step(&[("Operation", "Scan")]);
    let error = stderr(&out);
    assert_eq!(code(&out), Some(143), "{error}");
    assert!(
        error.contains(&format!("through the proxy {dead}")),
        "{error}"
    );
    assert_eq!(error.trim().lines().count(), 1, "{error}");
}

/// A CA and a certificate for `localhost` signed by it, made with openssl.
fn test_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (ca_key, ca, key, request, cert, ext) = (
        dir.join("ca.key"),
        dir.join("ca.pem"),
        dir.join("server.key"),
        dir.join("server.csr"),
        dir.join("server.pem"),
        dir.join("server.ext"),
    );
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
    };
    let p = |path: &PathBuf| path.to_str().unwrap().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=patch-baseline test CA",
        "-keyout",
        &p(&ca_key),
        "-out",
        &p(&ca),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        &p(&key),
        "-out",
        &p(&request),
    ]);
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p(&request),
        "-CA",
        &p(&ca),
        "-CAkey",
        &p(&ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &p(&ext),
        "-out",
        &p(&cert),
    ]);
    (ca, cert, key)
}

#[test]
fn https_endpoints_are_tunnelled_through_https_proxy() {
    let dnf = scenario();
    let mut agent = dnf_agent(&dnf, &al2023_security(), json!({}));
    let (ca, cert, key) = test_ca(&dnf.base);
    agent.ssm = FakeSsm::start_with(
        &dnf.base,
        &al2023_security(),
        json!({}),
        json!({"tls": {"cert": cert, "key": key}}),
    );
    let endpoint = format!("https://localhost:{}", agent.ssm.port);
    agent.set("AWS_ENDPOINT_URL_SSM", &endpoint);
    agent.set("SSL_CERT_FILE", ca.to_str().unwrap());
    let proxy = Proxy::start(&dnf.base, "tls", None);
    agent.set("HTTPS_PROXY", &format!("http://127.0.0.1:{}", proxy.port));
    let out = agent.step(&[("Operation", "Scan")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(agent.ssm.requests("PutInventory").len(), 1);
    // Every https connection (the SDK's and the snapshot download's) is a CONNECT tunnel.
    let requests = proxy.requests();
    let tunnel = format!("localhost:{}", agent.ssm.port);
    assert!(
        requests.len() >= 2
            && requests
                .iter()
                .all(|r| r["method"] == "CONNECT" && r["target"] == tunnel.as_str()),
        "{requests:?}"
    );
}

#[test]
fn instance_metadata_never_goes_through_the_proxy() {
    let dnf = scenario();
    let dir = dnf.base.clone();
    let write = |name: &str, value: Value| {
        let path = dir.join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path
    };
    let imds = write(
        "imds.json",
        json!({"port_file": dir.join("imds.port"), "record": dir.join("imds.jsonl"),
               "address": "169.254.169.254", "port": 80, "instance_id": "i-0123456789abcdef0",
               "region": "us-east-1", "access_key": "AKIDPATCHBASELINETEST",
               "secret_key": "patch-baseline-test-secret"}),
    );
    let proxy = write(
        "netns-proxy.json",
        json!({"port_file": dir.join("netns-proxy.port"), "record": dir.join("netns-proxy.jsonl")}),
    );
    std::fs::write(dir.join("snapshot.json"), al2023_security().to_string()).unwrap();
    let ssm = write(
        "netns-ssm.json",
        json!({"port_file": dir.join("netns-ssm.port"), "record": dir.join("netns-ssm.jsonl"),
               "snapshot": dir.join("snapshot.json"), "access_key": "AKIDPATCHBASELINETEST",
               "secret_key": "patch-baseline-test-secret", "region": "us-east-1", "fail": {}}),
    );
    // Everything runs in a network namespace of its own: loopback only, plus IMDS's address.
    let script = format!(
        r#"set -eu
ip link set lo up
ip addr add 169.254.169.254/32 dev lo
python3 {scripts}/fake_imds.py {imds} >/dev/null 2>&1 & servers=$!
python3 {scripts}/proxy.py {proxy} >/dev/null 2>&1 & servers="$servers $!"
python3 {scripts}/fake_ssm.py {ssm} >/dev/null 2>&1 & servers="$servers $!"
trap 'kill $servers 2>/dev/null' EXIT
for f in imds netns-proxy netns-ssm; do
  i=0; while [ ! -s "{dir}/$f.port" ]; do i=$((i+1)); [ $i -lt 600 ] || exit 90; sleep 0.05; done
done
set +e
env -i PATH="$PATH" HOME="{home}" LC_ALL=C \
  HTTP_PROXY="http://127.0.0.1:$(cat {dir}/netns-proxy.port)" \
  HTTPS_PROXY="http://127.0.0.1:$(cat {dir}/netns-proxy.port)" \
  AWS_ENDPOINT_URL_SSM="http://127.0.0.1:$(cat {dir}/netns-ssm.port)" \
  AWS_CONFIG_FILE={dir}/no-config AWS_SHARED_CREDENTIALS_FILE={dir}/no-credentials \
  {binary} run --operation Scan --root {root}
"#,
        scripts = scripts().display(),
        imds = imds.display(),
        proxy = proxy.display(),
        ssm = ssm.display(),
        dir = dir.display(),
        home = dnf.home.display(),
        binary = binary().display(),
        root = dnf.root.display(),
    );
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(
        code(&out),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    let lines = |name: &str| -> Vec<Value> {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    // The identity and the credentials came from IMDS, directly, with a session token.
    let asked: Vec<String> = lines("imds.jsonl")
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    for path in [
        "/latest/api/token",
        "/latest/meta-data/instance-id",
        "/latest/meta-data/placement/region",
        "/latest/meta-data/iam/security-credentials/test-role",
    ] {
        assert!(asked.iter().any(|p| p == path), "{path} in {asked:?}");
    }
    assert!(
        lines("imds.jsonl")
            .iter()
            .all(|r| r["method"] == "PUT" || r["token"] == true),
        "IMDSv2 only"
    );
    // The SSM calls went through the proxy; nothing for 169.254.169.254 did.
    let through = lines("netns-proxy.jsonl");
    assert!(!through.is_empty());
    assert!(
        through
            .iter()
            .all(|r| !r["target"].as_str().unwrap().contains("169.254.169.254")),
        "{through:?}"
    );
    let puts: Vec<Value> = lines("netns-ssm.jsonl")
        .into_iter()
        .filter(|r| r["operation"] == "PutInventory")
        .collect();
    assert_eq!(puts.len(), 1);
    let (summary, _) = summary_and_items(&puts[0]);
    assert_eq!(summary["OperationType"], "Scan");
}
