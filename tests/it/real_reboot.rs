//! A real reboot (issue #16, part 5): the reboot protocol on a Linux booted under
//! `qemu-system-x86_64` (software emulation, TCG; `PATCH_BASELINE_REAL_REBOOT_ACCEL=kvm` where
//! KVM works), with the boot time the kernel reports, not `PATCH_BASELINE_BOOT_TIME`.
//!
//! The test builds a small Debian 12 image: `debootstrap --variant=minbase` with Debian's
//! kernel, systemd, udev, curl and ca-certificates; a local apt archive (`file:`) holding a security update
//! of a test package installed at its old version; the release tarball of the binary under
//! test (debug information stripped); the document's PatchLinux step (Install, RebootIfNeeded), taken from the committed
//! document as the other document tests take it; and a stand-in for the SSM agent's reboot
//! handling (`tests/scripts/agent_standin.sh`, a systemd unit) that runs the step at boot,
//! reboots the machine when it exits 194 and powers it off otherwise, writing every boot and
//! exit code to the machine's second serial port, a file here. SSM is the local endpoint
//! (`fake_ssm.py`) on this host, which the guest reaches through qemu's user network.
//!
//! Two machines from the image, booted side by side:
//! - A: the install exits 194 → a real reboot → the re-run exits 0 and the marker is gone;
//! - B: the first 194 is answered without a reboot (an agent that could not reboot): the re-run
//!   asks again, 194; then the reboot, and the re-run after it exits 0.
//!
//! It takes minutes and needs root (debootstrap, chroot): `PATCH_BASELINE_REAL_REBOOT=1
//! scripts/test` installs qemu-system-x86 and debootstrap and runs it (README, "Tests").

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the phases, their times and the guests' records are what this test shows"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::apt_root::{AptRoot, run};
use crate::run::{
    FakeSsm, agent_identity, document_script, pack_release, scripts, snapshot, summary_and_items,
};
use crate::util::binary;

/// The test package: 1.0-1 installed from `bookworm`, 1.1-1 in `bookworm-security`.
const PACKAGE: &str = "sec-pkg";
const OLD: &str = "1.0-1";
const NEW: &str = "1.1-1";
/// This host as the guest sees it on qemu's user network.
const HOST: &str = "10.0.2.2";
const MIRROR: &str = "http://deb.debian.org/debian";
/// A machine that has not powered off by then has failed.
const MACHINE_LIMIT: Duration = Duration::from_secs(25 * 60);
/// More boots than this are a reboot loop.
const MOST_BOOTS: usize = 4;
/// A machine whose console has said nothing by then does not start.
const SILENCE_LIMIT: Duration = Duration::from_secs(5 * 60);

#[test]
#[ignore = "boots Debian under qemu (minutes, root): PATCH_BASELINE_REAL_REBOOT=1 scripts/test runs it"]
fn a_real_reboot_under_qemu() {
    let id = run(Command::new("id").arg("-u"));
    assert_eq!(
        String::from_utf8_lossy(&id.stdout).trim(),
        "0",
        "the real-reboot test needs root (debootstrap, chroot)"
    );
    let started = Instant::now();
    let work = Work::new();
    let guest = build_guest(work.path());
    let snapshot = snapshot(
        "DEBIAN",
        json!([{"key": "PRIORITY", "values": ["Required", "Important", "Standard", "Optional", "Extra"]}]),
    );
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| boot_case(&guest, work.path(), "a", 0, &snapshot));
        let b = scope.spawn(|| boot_case(&guest, work.path(), "b", 1, &snapshot));
        (a.join().unwrap(), b.join().unwrap())
    });

    // A: 194 → a real reboot → 0, the marker gone, the update installed.
    assert_eq!(
        a.events,
        [
            format!("boot 1: up; {PACKAGE} {OLD}; markers none"),
            format!("boot 1: step exit 194; {PACKAGE} {NEW}; markers 194(1)"),
            "boot 1: reboot".into(),
            format!("boot 2: up; {PACKAGE} {NEW}; markers 194(1)"),
            format!("boot 2: step exit 0; {PACKAGE} {NEW}; markers none"),
            "boot 2: poweroff".into(),
        ],
        "case A:\n{}",
        a.records
    );
    assert!(
        a.step_output(2)
            .contains("the reboot requested by the last install happened")
    );
    // B: 194, 194 again without a reboot (a second request recorded), then the reboot and 0.
    assert_eq!(
        b.events,
        [
            format!("boot 1: up; {PACKAGE} {OLD}; markers none"),
            format!("boot 1: step exit 194; {PACKAGE} {NEW}; markers 194(1)"),
            "boot 1: not rebooting: the step runs again".into(),
            format!("boot 1: step exit 194; {PACKAGE} {NEW}; markers 194(2)"),
            "boot 1: reboot".into(),
            format!("boot 2: up; {PACKAGE} {NEW}; markers 194(2)"),
            format!("boot 2: step exit 0; {PACKAGE} {NEW}; markers none"),
            "boot 2: poweroff".into(),
        ],
        "case B:\n{}",
        b.records
    );
    assert!(
        b.step_output(2)
            .contains("has not happened yet; asking again")
    );
    assert!(
        b.step_output(3)
            .contains("the reboot requested by the last install happened")
    );
    for case in [&a, &b] {
        assert!(
            case.step_output(1).contains("exit 194: a reboot is needed"),
            "case {}",
            case.name
        );
        // The kernel's boot time moved: a real reboot, and after the install asked for it.
        assert_eq!(case.btimes.len(), 2, "{}", case.records);
        assert!(case.btimes[1] > case.btimes[0], "{:?}", case.btimes);
        // Seen from outside, in the disk after power-off: no marker, the new version, 2 boots.
        assert_eq!(case.disk.marker, None, "case {}", case.name);
        assert_eq!(
            case.disk.version.as_deref(),
            Some(NEW),
            "case {}",
            case.name
        );
        assert_eq!(case.disk.boots.as_deref(), Some("2"), "case {}", case.name);
        // SSM saw one step that patched (snapshot, report); the re-runs only read the markers.
        assert_eq!(case.snapshots, 1, "case {}", case.name);
        assert_eq!(case.reports.len(), 1, "case {}", case.name);
        let (summary, items) = summary_and_items(&case.reports[0]);
        assert_eq!(
            (
                summary["OperationType"].as_str(),
                summary["RebootOption"].as_str(),
                summary["MissingCount"].as_str(),
                summary["FailedCount"].as_str(),
            ),
            (
                Some("Install"),
                Some("RebootIfNeeded"),
                Some("0"),
                Some("0")
            ),
            "case {}: {summary}",
            case.name
        );
        assert!(
            items
                .iter()
                .any(|i| i["Id"] == format!("{PACKAGE}.amd64") && i["PatchState"] == "Installed"),
            "case {}: {items:?}",
            case.name
        );
    }
    println!(
        "== the real-reboot test took {:.0} s in all",
        started.elapsed().as_secs_f64()
    );
}

/// The image and the kernel it boots.
struct Guest {
    disk: PathBuf,
    kernel: PathBuf,
    initrd: PathBuf,
}

/// Prints how long a phase took.
fn phase(name: &str, since: Instant) -> Instant {
    println!("== {name}: {:.0} s", since.elapsed().as_secs_f64());
    Instant::now()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Builds the guest's root folder, then its disk image, in `work`.
fn build_guest(work: &Path) -> Guest {
    let mut since = Instant::now();
    let root = work.join("root");
    // Downloaded packages are kept for the next run (target/tmp); the image is built anew.
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-reboot-debs");
    std::fs::create_dir_all(&cache).unwrap();
    {
        let _mounts = Unmount(&root);
        run(Command::new("debootstrap")
            .args(["--foreign", "--variant=minbase"])
            // ca-certificates: an instance has a CA store (its agent reaches SSM over TLS), and
            // the AWS SDK's debug builds assert that the store holds certificates.
            .arg("--include=linux-image-amd64,systemd-sysv,udev,curl,ca-certificates")
            .arg(format!("--cache-dir={}", cache.display()))
            .arg("bookworm")
            .arg(&root)
            .arg(MIRROR));
        since = phase("debootstrap, first stage (download, unpack)", since);
        // Before the packages are configured: dpkg without fsync (only while building), and an
        // initramfs holding what this machine boots from (virtio disk, ext4), not MODULES=most.
        write(
            &root.join("etc/dpkg/dpkg.cfg.d/unsafe-io"),
            "force-unsafe-io\n",
        );
        write(
            &root.join("etc/initramfs-tools/conf.d/guest"),
            "MODULES=list\n",
        );
        write(
            &root.join("usr/share/initramfs-tools/modules.d/guest"),
            "virtio_pci\nvirtio_blk\next4\n",
        );
        run(Command::new("chroot")
            .arg(&root)
            .args(["/debootstrap/debootstrap", "--second-stage"]));
        since = phase("debootstrap, second stage (configure)", since);
    }
    assert_eq!(mounts_under(&root), Vec::<PathBuf>::new());
    std::fs::remove_file(root.join("etc/dpkg/dpkg.cfg.d/unsafe-io")).unwrap();
    write(
        &root.join("etc/fstab"),
        "/dev/vda / ext4 rw,errors=remount-ro 0 1\n",
    );
    write(&root.join("etc/hostname"), "guest\n");
    write(
        &root.join("etc/systemd/network/eth0.network"),
        &format!("[Match]\nName=eth0\n\n[Network]\nAddress=10.0.2.15/24\nGateway={HOST}\n"),
    );

    // The archive: the old version in bookworm, its security update in bookworm-security; the
    // machine's only apt source.
    let apt = AptRoot::new();
    let old = apt.deb(PACKAGE, OLD, "optional", "utils");
    apt.publish("bookworm", std::slice::from_ref(&old), "Debian", false);
    apt.publish(
        "bookworm-security",
        &[apt.deb(PACKAGE, NEW, "optional", "utils")],
        "Debian-Security",
        false,
    );
    for suite in ["bookworm-updates", "bookworm-backports"] {
        std::fs::remove_dir_all(apt.repo.join("dists").join(suite)).unwrap();
    }
    run(Command::new("cp")
        .arg("-a")
        .arg(&apt.repo)
        .arg(root.join("srv/archive")));
    write(
        &root.join("etc/apt/sources.list"),
        "deb [trusted=yes] file:/srv/archive bookworm main\n\
         deb [trusted=yes] file:/srv/archive bookworm-security main\n",
    );
    run(Command::new("chroot").arg(&root).args([
        "dpkg",
        "-i",
        &format!("/srv/archive/pool/bookworm/{PACKAGE}_{OLD}_all.deb"),
    ]));

    // The release (the binary under test without its debug information, a tenth of its size:
    // the guest unpacks it under emulation), the document's step, the agent's environment and
    // the stand-in.
    let stage = root.join("var/tmp");
    run(Command::new("objcopy")
        .arg("--strip-debug")
        .arg(binary())
        .arg(stage.join("patch-baseline")));
    let (_, sha256) = pack_release(&stage);
    std::fs::remove_file(stage.join("patch-baseline")).unwrap();
    write(
        &root.join("etc/agent-standin/step.sh"),
        &document_script(&[
            ("Operation", "Install"),
            ("RebootOption", "RebootIfNeeded"),
            ("ReleaseUrl", "file:///var/tmp/patch-baseline.tar.gz"),
            ("ReleaseSha256", &sha256),
        ]),
    );
    let mut environment = agent_identity("Debian GNU/Linux");
    environment.extend([
        ("AWS_CONFIG_FILE".into(), "/nonexistent/config".into()),
        (
            "AWS_SHARED_CREDENTIALS_FILE".into(),
            "/nonexistent/credentials".into(),
        ),
    ]);
    let environment: String = environment
        .iter()
        .map(|(key, value)| {
            assert!(!value.contains('\''), "{value}");
            format!("{key}='{value}'\n")
        })
        .collect();
    write(&root.join("etc/agent-standin/environment"), &environment);
    let standin = root.join("usr/local/sbin/agent-standin");
    std::fs::copy(scripts().join("agent_standin.sh"), &standin).unwrap();
    run(Command::new("chmod").arg("755").arg(&standin));
    write(
        &root.join("etc/systemd/system/agent-standin.service"),
        "[Unit]\nDescription=Stand-in for the SSM agent's reboot handling\n\
         Wants=network-online.target\nAfter=network-online.target\n\n\
         [Service]\nType=oneshot\nExecStart=/usr/local/sbin/agent-standin\n\n\
         [Install]\nWantedBy=multi-user.target\n",
    );
    run(Command::new("chroot").arg(&root).args([
        "systemctl",
        "enable",
        "systemd-networkd.service",
        "agent-standin.service",
    ]));
    // Nothing else touches apt or the disk while the step runs.
    run(Command::new("chroot").arg(&root).args([
        "systemctl",
        "mask",
        "apt-daily.timer",
        "apt-daily-upgrade.timer",
        "dpkg-db-backup.timer",
        "e2scrub_all.timer",
        "e2scrub_reap.service",
        "fstrim.timer",
    ]));

    let boot_file = |prefix: &str| {
        let name = std::fs::read_dir(root.join("boot"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with(prefix))
            .unwrap_or_else(|| panic!("no /boot/{prefix}* in the guest"));
        let copy = work.join(&name);
        std::fs::copy(root.join("boot").join(&name), &copy).unwrap();
        copy
    };
    let (kernel, initrd) = (boot_file("vmlinuz-"), boot_file("initrd.img-"));
    let disk = work.join("disk.raw");
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "guest", "-d"])
        .arg(&root)
        .arg(&disk)
        .arg("3G"));
    std::fs::remove_dir_all(&root).unwrap();
    phase(
        "the image (archive, release, stand-in, mkfs.ext4 -d)",
        since,
    );
    Guest {
        disk,
        kernel,
        initrd,
    }
}

/// What one machine did.
struct CaseRun {
    name: &'static str,
    /// The records (the second serial port), as written.
    records: String,
    /// The event lines, boot time, uptime and durations left out.
    events: Vec<String>,
    /// `btime` of each boot.
    btimes: Vec<u64>,
    /// What the disk holds after power-off.
    disk: DiskState,
    snapshots: usize,
    reports: Vec<Value>,
}

impl CaseRun {
    /// The output of the `n`th run of the step (from 1).
    fn step_output(&self, n: usize) -> String {
        let mut runs = 0;
        let mut output = String::new();
        for line in self.records.lines() {
            if line.contains(": step exit ") {
                runs += 1;
            } else if runs == n
                && let Some((_, text)) = line.split_once(": | ")
            {
                output.push_str(text);
                output.push('\n');
            }
        }
        output
    }
}

struct DiskState {
    marker: Option<String>,
    version: Option<String>,
    boots: Option<String>,
}

/// Boots a copy of the image as machine `name` until it powers off; `skip_reboots` reboot
/// requests are answered by running the step again at once.
fn boot_case(
    guest: &Guest,
    work: &Path,
    name: &'static str,
    skip_reboots: u32,
    snapshot: &Value,
) -> CaseRun {
    let dir = work.join(format!("machine-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let disk = dir.join("disk.raw");
    run(Command::new("cp")
        .arg("--sparse=always")
        .arg(&guest.disk)
        .arg(&disk));
    let ssm = FakeSsm::start_with(
        &dir,
        snapshot,
        json!({}),
        json!({"snapshot_host": HOST, "product": "Debian12"}),
    );
    let (console, records) = (dir.join("console.log"), dir.join("records.log"));
    // Software emulation unless asked otherwise: a /dev/kvm may open and still not run a guest
    // (nested virtualisation off), as on the machine this was written on.
    let accel = std::env::var("PATCH_BASELINE_REAL_REBOOT_ACCEL").unwrap_or_else(|_| "tcg".into());
    for path in [&disk, &console, &records, &guest.kernel, &guest.initrd] {
        assert!(!path.to_string_lossy().contains(','), "{}", path.display());
    }
    let mut command = Command::new("qemu-system-x86_64");
    command
        .args(["-accel", &accel])
        .args(["-m", "1024", "-smp", "1", "-no-user-config", "-nodefaults"])
        .args(["-display", "none", "-monitor", "none"])
        .arg("-kernel")
        .arg(&guest.kernel)
        .arg("-initrd")
        .arg(&guest.initrd)
        .arg("-append")
        .arg(format!(
            "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1 quiet \
             agent_standin.ssm_endpoint=http://{HOST}:{} agent_standin.skip_reboots={skip_reboots} \
             agent_standin.package={PACKAGE}",
            ssm.port
        ))
        .arg("-drive")
        .arg(format!("file={},format=raw,if=virtio", disk.display()))
        .args(["-netdev", "user,id=net0"])
        .args(["-device", "virtio-net-pci,netdev=net0,romfile="])
        .arg("-chardev")
        .arg(format!("file,id=console,path={}", console.display()))
        .args(["-serial", "chardev:console"])
        .arg("-chardev")
        .arg(format!("file,id=records,path={}", records.display()))
        .args(["-serial", "chardev:records"])
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("qemu.out")).unwrap())
        .stderr(std::fs::File::create(dir.join("qemu.err")).unwrap());
    let started = Instant::now();
    let mut machine = Machine(
        command
            .spawn()
            .expect("qemu-system-x86_64 (scripts/test installs it)"),
    );
    let tail = |path: &Path| {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    let status = loop {
        if let Some(status) = machine.0.try_wait().unwrap() {
            break status;
        }
        // Each reboot or panic (panic=-1 restarts at once) shows on the console, quiet or not.
        let text = std::fs::read_to_string(&console).unwrap_or_default();
        let boots = 1
            + text.matches("reboot: Restarting system").count()
            + text.matches("Kernel panic").count();
        assert!(
            started.elapsed() < MACHINE_LIMIT
                && boots <= MOST_BOOTS
                && (!text.is_empty() || started.elapsed() < SILENCE_LIMIT),
            "machine {name}: still running after {:.0} s and {boots} boots\nconsole:\n{}\nrecords:\n{}",
            started.elapsed().as_secs_f64(),
            tail(&console),
            tail(&records)
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    let seconds = started.elapsed().as_secs_f64();
    // The guest powered itself off (qemu also exits 0 when it is stopped by a signal).
    assert!(
        status.success()
            && std::fs::read_to_string(&console)
                .unwrap_or_default()
                .contains("reboot: Power down"),
        "machine {name}: qemu {status}: {}\nconsole:\n{}",
        std::fs::read_to_string(dir.join("qemu.err")).unwrap_or_default(),
        tail(&console)
    );
    let text = std::fs::read_to_string(&records).unwrap().replace('\r', "");
    println!("== machine {name} ({accel}): powered off after {seconds:.0} s; its records:\n{text}");
    let mut events = Vec::new();
    let mut btimes = Vec::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("boot ") && !l.contains(": | "))
    {
        let mut kept = Vec::new();
        for field in line.split("; ") {
            if let Some(value) = field.strip_prefix("btime ") {
                btimes.push(value.parse().unwrap());
            } else if !field.starts_with("uptime ") && !field.starts_with("took ") {
                kept.push(field);
            }
        }
        events.push(kept.join("; "));
    }
    let snapshots = ssm.requests("GetDeployablePatchSnapshotForInstance").len();
    let reports = ssm.requests("PutInventory");
    CaseRun {
        name,
        events,
        btimes,
        disk: DiskState {
            marker: guest_file(&disk, "/var/log/amazon/ssm/patch-baseline-operations-194"),
            version: guest_file(&disk, &format!("/usr/share/{PACKAGE}/VERSION")),
            boots: guest_file(&disk, "/var/lib/agent-standin/boots").map(|b| b.trim().to_string()),
        },
        records: text,
        snapshots,
        reports,
    }
}

/// A file of the powered-off disk (`debugfs`): its contents, or `Some("<directory>")`; `None`
/// when there is nothing at `path`.
fn guest_file(disk: &Path, path: &str) -> Option<String> {
    let out = Command::new("debugfs")
        .arg("-R")
        .arg(format!("stat {path}"))
        .arg(disk)
        .env("LC_ALL", "C")
        .output()
        .expect("debugfs (e2fsprogs)");
    let stat = String::from_utf8_lossy(&out.stdout);
    if String::from_utf8_lossy(&out.stderr).contains("File not found") {
        return None;
    }
    if stat.contains("Type: directory") {
        return Some("<directory>".into());
    }
    let out = run(Command::new("debugfs")
        .arg("-R")
        .arg(format!("cat {path}"))
        .arg(disk));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A running virtual machine, stopped when dropped (a failed test leaves none behind).
struct Machine(Child);

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The mount points at or under `dir` (from `/proc/self/mountinfo`), deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(point.replace("\\040", " ")))
        .filter(|point| point.starts_with(dir))
        .collect();
    found.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
    found
}

/// Unmounts whatever debootstrap left mounted under a folder when dropped.
struct Unmount<'a>(&'a Path);

impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        for point in mounts_under(self.0) {
            let _ = Command::new("umount")
                .arg("--lazy")
                .arg(&point)
                .env("LC_ALL", "C")
                .status();
        }
    }
}

/// The test's folder under target/tmp (the image is gigabytes; /tmp may be small), removed
/// at the end unless something is still mounted in it, which removing would reach through.
struct Work {
    dir: Option<tempfile::TempDir>,
    /// Its real path, as mountinfo names it.
    path: PathBuf,
}

impl Work {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("real-reboot-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let path = std::fs::canonicalize(dir.path()).unwrap();
        Self {
            dir: Some(dir),
            path,
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let left = mounts_under(&self.path);
        if let Some(dir) = self.dir.take() {
            if left.is_empty() {
                drop(dir);
            } else {
                eprintln!(
                    "left in place, still mounted: {left:?} (in {})",
                    dir.keep().display()
                );
            }
        }
    }
}
