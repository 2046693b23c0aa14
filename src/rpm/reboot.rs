//! The reboot rule the RPM-family backends share when the package manager cannot answer: which
//! updated packages mean a reboot, and which of them were installed after the last boot.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};

use crate::exec::{CommandSpec, Runner};

/// The names whose update means a reboot (the list `needs-restarting -r` uses, plus
/// `openssl-libs`, `gnutls` and the kernel's sub-packages; a trailing `*` is a prefix).
pub const REBOOT_PACKAGES: &[&str] = &[
    "kernel*",
    "glibc",
    "linux-firmware",
    "systemd",
    "dbus*",
    "microcode_ctl",
    "openssl-libs",
    "gnutls",
];

/// Whether updating `name` asks for a reboot (see [`REBOOT_PACKAGES`]).
pub fn is_reboot_package(name: &str) -> bool {
    is_listed(REBOOT_PACKAGES, name)
}

/// Whether `list` names `name`: an entry is a name, or a prefix with a trailing `*`.
pub fn is_listed(list: &[&str], name: &str) -> bool {
    list.iter().any(|entry| match entry.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *entry,
    })
}

/// Names of installed packages (among [`REBOOT_PACKAGES`]) installed after `boot`, with
/// the running kernel compared to the newest installed kernel when the root is the host (the
/// rule shared by dnf, yum and zypper systems).
pub fn native_reboot_rule(
    runner: &dyn Runner,
    root: &Path,
    boot: Option<DateTime<Utc>>,
) -> Option<Vec<String>> {
    let mut spec = CommandSpec::new("rpm");
    if root != Path::new("/") {
        let mut argument = std::ffi::OsString::from("--root=");
        argument.push(root.as_os_str());
        spec = spec.arg(argument);
    }
    let spec = spec
        .arg("-qa")
        .arg("--qf")
        .arg("%{NAME}\\t%{VERSION}-%{RELEASE}.%{ARCH}\\t%{INSTALLTIME}\\n");
    let captured = runner.run(&spec).ok()?;
    let text = String::from_utf8_lossy(&captured.stdout);
    let mut newer = Vec::new();
    let mut newest_kernel: Option<(i64, String)> = None;
    for line in text.lines() {
        let mut fields = line.split('\t');
        let (Some(name), Some(vra), Some(time)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !is_reboot_package(name) {
            continue;
        }
        let time: i64 = time.parse().unwrap_or(0);
        if boot.is_some_and(|boot| Utc.timestamp_opt(time, 0).single() > Some(boot))
            && !newer.iter().any(|n| n == name)
        {
            newer.push(name.to_string());
        }
        if matches!(name, "kernel" | "kernel-core")
            && newest_kernel.as_ref().is_none_or(|(t, _)| time > *t)
        {
            newest_kernel = Some((time, vra.to_string()));
        }
    }
    if root == Path::new("/")
        && let (Some((_, kernel)), Ok(running)) = (
            newest_kernel,
            std::fs::read_to_string("/proc/sys/kernel/osrelease"),
        )
        && kernel != running.trim()
        && !newer.iter().any(|n| n.starts_with("kernel"))
    {
        newer.push("kernel".to_string());
    }
    (!newer.is_empty()).then_some(newer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reboot_names() {
        for name in [
            "kernel",
            "kernel-core",
            "glibc",
            "dbus-broker",
            "openssl-libs",
        ] {
            assert!(is_reboot_package(name), "{name}");
        }
        for name in ["glibc-common", "openssl", "bash", "systemd-libs"] {
            assert!(!is_reboot_package(name), "{name}");
        }
    }
}
