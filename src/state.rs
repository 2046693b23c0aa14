//! On-host state, in AWS's formats and places (under `--root` when given): the patch states
//! (`patch-configuration/patch-states-configuration.json`), the last operation's summary
//! (`patch-inventory-from-last-operation.json`), the reboot markers
//! (`patch-baseline-operations-194/195/196`), the operation lock, and the paths of our run
//! history (its format and logic are [`crate::history`]'s). Files are written
//! atomically (temporary file, fsync, rename); a corrupt or future-dated state file is reset
//! with a warning, never a crash. See spec §4.4 and §7.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::model::PatchState;

/// The state paths of the system under a root.
#[derive(Debug, Clone)]
pub struct StatePaths {
    ssm: PathBuf,
}

impl StatePaths {
    /// Paths under `root` (`/` for the host).
    pub fn new(root: &Path) -> Self {
        Self {
            ssm: root.join("var/log/amazon/ssm"),
        }
    }

    /// `patch-configuration/patch-states-configuration.json`.
    pub fn states(&self) -> PathBuf {
        self.ssm
            .join("patch-configuration/patch-states-configuration.json")
    }

    /// `patch-configuration/patch-inventory-from-last-operation.json`.
    pub fn last_inventory(&self) -> PathBuf {
        self.ssm
            .join("patch-configuration/patch-inventory-from-last-operation.json")
    }

    /// The marker folder for a reboot exit code (194, 195, 196).
    pub fn marker(&self, code: u8) -> PathBuf {
        self.ssm.join(format!("patch-baseline-operations-{code}"))
    }

    /// `patch-configuration/patch-baseline-history.jsonl`: the run history ([`crate::history`]).
    pub fn history(&self) -> PathBuf {
        self.ssm
            .join("patch-configuration/patch-baseline-history.jsonl")
    }

    /// `patch-configuration/patch-baseline-history-base.json`: the tracked set of the oldest
    /// run the history keeps ([`crate::history`]).
    pub fn history_base(&self) -> PathBuf {
        self.ssm
            .join("patch-configuration/patch-baseline-history-base.json")
    }

    /// The install journal: the plan of an install that has not finished.
    pub fn journal(&self) -> PathBuf {
        self.ssm
            .join("patch-configuration/patch-baseline-install-in-progress.json")
    }

    /// The zypper locks an install holds while it runs (removed when it ends; a later run
    /// removes those of an interrupted one).
    pub fn zypper_locks(&self) -> PathBuf {
        self.ssm
            .join("patch-configuration/patch-baseline-zypper-locks.txt")
    }

    /// The install rate measured by maintenance-window installs (`--max-duration`).
    pub fn install_rate(&self) -> PathBuf {
        self.ssm
            .join("patch-configuration/patch-baseline-install-rate.json")
    }

    /// The operation lock file.
    pub fn lock(&self) -> PathBuf {
        self.ssm.join("patch-configuration/.patch-baseline.lock")
    }
}

/// The crash point of [`write_atomically`] (`in-write:FILE-NAME`), set once per process from
/// `$PATCH_BASELINE_CRASH_AT` by the commands that write state (crash-safety tests).
static CRASH_AT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets the crash point of [`write_atomically`]: a write of a file named `NAME` stops the
/// process as `kill -9` would, after its temporary file is written and before the rename, when
/// `at` is `in-write:NAME`.
pub fn set_crash_point(at: Option<&String>) {
    if let Some(at) = at.filter(|at| at.starts_with("in-write:")) {
        let _ = CRASH_AT.set(at.clone());
    }
}

/// Writes a file atomically: a temporary file beside it (`NAME.tmp.PID`), fsynced, renamed over
/// it, and the folder fsynced. The folder must exist; a bare file name (`r.json`) is in the
/// current folder. On any error the temporary file is removed and the file is as it was; the
/// temporary files of processes that died while writing it (`kill -9`) are removed too.
/// An error names the file (`` `PATH`: why ``).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_unnamed(path, bytes)
        .map_err(|e| std::io::Error::new(e.kind(), format!("`{}`: {e}", path.display())))
}

/// The temporary file beside `path` that this process writes before renaming it over `path`.
fn temporary_of(path: &Path) -> PathBuf {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp.{}", std::process::id()));
    PathBuf::from(temporary)
}

/// The folder holding `path` (`Path::parent` of a bare name is empty: that folder is the
/// current one).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Stops the process as `kill -9` would when the crash point names `path`'s file.
fn crash_if_at(path: &Path) {
    if let (Some(at), Some(name)) = (CRASH_AT.get(), path.file_name())
        && at.strip_prefix("in-write:") == Some(&*name.to_string_lossy())
    {
        std::process::abort();
    }
}

/// Writes `bytes` to a new `temporary` file and syncs it.
fn write_synced(temporary: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(temporary)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// [`write_atomically`], its error without the file's name (for callers that name it).
pub(crate) fn write_atomically_unnamed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    remove_dead_temporaries(path);
    let temporary = temporary_of(path);
    let result = (|| {
        write_synced(&temporary, bytes)?;
        crash_if_at(path);
        std::fs::rename(&temporary, path)?;
        File::open(folder_of(path))?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Writes several files as [`write_atomically`] does, together: each one's temporary file is
/// written and synced (on threads of their own, so that the waits for the disk overlap), and
/// only when all of them are is any renamed over its file; then each folder is synced once. On
/// an error before the renames every file is as it was. An error names its file.
pub fn write_atomically_all(files: &[(&Path, &[u8])]) -> std::io::Result<()> {
    let named = |path: &Path, e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("`{}`: {e}", path.display()))
    };
    let temporaries: Vec<PathBuf> = files.iter().map(|(path, _)| temporary_of(path)).collect();
    let write = |(path, bytes): &(&Path, &[u8]), temporary: &Path| -> std::io::Result<()> {
        remove_dead_temporaries(path);
        write_synced(temporary, bytes)
    };
    let written: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .iter()
            .zip(&temporaries)
            .skip(1)
            .map(|(file, temporary)| scope.spawn(move || write(file, temporary)))
            .collect();
        let mut results = Vec::with_capacity(files.len());
        if let (Some(first), Some(temporary)) = (files.first(), temporaries.first()) {
            results.push(write(first, temporary));
        }
        results.extend(handles.into_iter().map(|handle| {
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }));
        results
    });
    let remove_all = |from: usize| {
        for temporary in &temporaries[from..] {
            let _ = std::fs::remove_file(temporary);
        }
    };
    for ((path, _), result) in files.iter().zip(written) {
        if let Err(e) = result {
            remove_all(0);
            return Err(named(path, e));
        }
    }
    for (index, ((path, _), temporary)) in files.iter().zip(&temporaries).enumerate() {
        crash_if_at(path);
        if let Err(e) = std::fs::rename(temporary, path) {
            remove_all(index);
            return Err(named(path, e));
        }
    }
    let mut synced: Vec<&Path> = Vec::new();
    for (path, _) in files {
        let parent = folder_of(path);
        if !synced.contains(&parent) {
            File::open(parent)
                .and_then(|folder| folder.sync_all())
                .map_err(|e| named(path, e))?;
            synced.push(parent);
        }
    }
    Ok(())
}

/// Replaces a file as [`write_atomically`] does (a temporary file beside it renamed over it; on
/// error the file is as it was) but without syncing either to disk: for a cache, whose reader
/// finds a file that a crash cut short and parses its source again. The next fsync or the
/// kernel's writeback makes it durable; until then it costs no wait for the disk.
pub(crate) fn replace_unsynced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    remove_dead_temporaries(path);
    let temporary = temporary_of(path);
    let result = File::create(&temporary)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| std::fs::rename(&temporary, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Removes `NAME.tmp.PID` files beside `path` whose process is gone.
fn remove_dead_temporaries(path: &Path) {
    let (Some(name), parent) = (path.file_name(), path.parent()) else {
        return;
    };
    let parent = match parent {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let prefix = format!("{}.tmp.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(pid) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let alive =
            pid.bytes().all(|b| b.is_ascii_digit()) && Path::new("/proc").join(pid).exists();
        if !alive && !pid.is_empty() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// One package's recorded state (`patchStates` entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedState {
    /// `name.arch`.
    pub id: String,
    /// Install time, epoch seconds.
    pub installed_time: Option<f64>,
    /// `Installed`, `InstalledOther`, `InstalledRejected` or `InstalledPendingReboot`.
    pub state: String,
}

/// `patch-states-configuration.json` as [`PatchStates::pending_from_json`] reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PendingOnly {
    #[serde(default)]
    last_no_reboot_install_operation_time: f64,
    #[serde(default)]
    patch_states: PendingEntries,
}

/// The `patchStates` entries of packages installed pending a reboot; every other entry is read (borrowed,
/// not copied) only to be checked.
#[derive(Default)]
struct PendingEntries(BTreeMap<String, RecordedState>);

/// A title, borrowed from the file unless it has escapes.
#[derive(Deserialize)]
struct BorrowedTitle<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>);

/// A [`RecordedState`] borrowed from the file: the same fields, so the same checks.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BorrowedState<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    installed_time: Option<f64>,
    #[serde(borrow)]
    state: std::borrow::Cow<'a, str>,
}

impl<'de> Deserialize<'de> for PendingEntries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = PendingEntries;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a map")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<PendingEntries, A::Error> {
                let mut kept = BTreeMap::new();
                while let Some((BorrowedTitle(title), state)) =
                    map.next_entry::<BorrowedTitle<'de>, BorrowedState<'de>>()?
                {
                    // A title given twice is its last entry, as in a map read whole.
                    if state.state == PatchState::InstalledPendingReboot.as_str() {
                        kept.insert(
                            title.into_owned(),
                            RecordedState {
                                id: state.id.into_owned(),
                                installed_time: state.installed_time,
                                state: state.state.into_owned(),
                            },
                        );
                    } else {
                        kept.remove(title.as_ref());
                    }
                }
                Ok(PendingEntries(kept))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// `patch-states-configuration.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchStates {
    /// End of the last `NoReboot` install, epoch seconds; 0 = never.
    #[serde(default)]
    pub last_no_reboot_install_operation_time: f64,
    /// Title (`name.arch:version` or `name.arch:epoch:version-release`) → state.
    #[serde(default)]
    pub patch_states: BTreeMap<String, RecordedState>,
}

impl PatchStates {
    /// `LastNoRebootInstallOperationTime`, when there was one.
    pub fn last_no_reboot_install(&self) -> Option<DateTime<Utc>> {
        epoch(self.last_no_reboot_install_operation_time)
    }

    /// Loads the states; a missing file is empty state, a corrupt or future-dated one is reset
    /// with a warning naming the file.
    pub fn load(paths: &StatePaths, now: DateTime<Utc>) -> (Self, Option<String>) {
        Self::load_with(paths, now, Self::from_json)
    }

    /// [`PatchStates::load`] for a scan, which needs only the packages installed pending a
    /// reboot: the other entries are checked as that checks them (a file it would reset is
    /// reset) but not kept.
    pub fn load_pending(paths: &StatePaths, now: DateTime<Utc>) -> (Self, Option<String>) {
        Self::load_with(paths, now, Self::pending_from_json)
    }

    fn load_with(
        paths: &StatePaths,
        now: DateTime<Utc>,
        from_json: fn(&[u8], DateTime<Utc>) -> Result<Self, String>,
    ) -> (Self, Option<String>) {
        let path = paths.states();
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Self::default(), None),
            Err(e) => {
                return (
                    Self::default(),
                    Some(format!(
                        "cannot read `{}` ({e}); starting from empty state",
                        path.display()
                    )),
                );
            }
        };
        match from_json(&text, now) {
            Ok(states) => (states, None),
            Err(why) => (
                Self::default(),
                Some(format!("`{}` {why}; reset", path.display())),
            ),
        }
    }

    /// Reads the bytes of a states file. The error says what is wrong with them (corrupt, or a
    /// LastNoRebootInstallOperationTime negative or more than five minutes after `now`).
    pub fn from_json(bytes: &[u8], now: DateTime<Utc>) -> Result<Self, String> {
        let states =
            serde_json::from_slice::<Self>(bytes).map_err(|e| format!("is corrupt ({e})"))?;
        states.checked(now)
    }

    /// [`PatchStates::from_json`] keeping only the entries of packages installed pending a
    /// reboot: the same bytes are accepted or refused, with the same reasons.
    pub fn pending_from_json(bytes: &[u8], now: DateTime<Utc>) -> Result<Self, String> {
        let read = serde_json::from_slice::<PendingOnly>(bytes)
            .map_err(|e| format!("is corrupt ({e})"))?;
        Self {
            last_no_reboot_install_operation_time: read.last_no_reboot_install_operation_time,
            patch_states: read.patch_states.0,
        }
        .checked(now)
    }

    fn checked(self, now: DateTime<Utc>) -> Result<Self, String> {
        let states = self;
        if states.last_no_reboot_install_operation_time < 0.0
            || !states.last_no_reboot_install_operation_time.is_finite()
            || states
                .last_no_reboot_install()
                .is_some_and(|t| t > now + chrono::Duration::minutes(5))
        {
            return Err(
                "records a LastNoRebootInstallOperationTime in the future or negative".to_string(),
            );
        }
        Ok(states)
    }

    /// The bytes of the states file as it is written: pretty JSON and a newline.
    pub fn to_bytes(&self) -> std::io::Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

fn epoch(seconds: f64) -> Option<DateTime<Utc>> {
    if seconds <= 0.0 || !seconds.is_finite() {
        return None;
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "epoch seconds fit in i64 milliseconds"
    )]
    Utc.timestamp_millis_opt((seconds * 1000.0) as i64).single()
}

/// Epoch seconds of a time, as the state file stores them.
pub fn to_epoch(time: DateTime<Utc>) -> f64 {
    #[expect(
        clippy::cast_precision_loss,
        reason = "milliseconds since 1970 fit in f64 exactly"
    )]
    let millis = time.timestamp_millis() as f64;
    millis / 1000.0
}

/// When the machine booted: `$PATCH_BASELINE_BOOT_TIME` (epoch seconds; for tests and image
/// checks) if set, else `btime` of `/proc/stat`.
pub fn boot_time<S: std::hash::BuildHasher>(
    env: &std::collections::HashMap<String, String, S>,
) -> Option<DateTime<Utc>> {
    if let Some(value) = env.get("PATCH_BASELINE_BOOT_TIME") {
        return value.trim().parse::<f64>().ok().and_then(epoch);
    }
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let seconds: i64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Utc.timestamp_opt(seconds, 0).single()
}

/// The journal of an install in progress: what it set out to install. Written before the
/// package manager runs and removed once the state files record the result, so that a run
/// after a crash still knows what the crashed run installed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallJournal {
    /// (name, arch, version) of every planned update.
    pub targets: Vec<(String, String, String)>,
}

impl InstallJournal {
    /// Loads the journal of an interrupted install, if there is one (an unreadable journal is
    /// dropped with a warning).
    pub fn load(paths: &StatePaths) -> (Option<Self>, Option<String>) {
        match std::fs::read(paths.journal()) {
            Err(_) => (None, None),
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(journal) => (Some(journal), None),
                Err(e) => (
                    None,
                    Some(format!(
                        "`{}` is corrupt ({e}); ignored",
                        paths.journal().display()
                    )),
                ),
            },
        }
    }

    /// Writes the journal atomically.
    pub fn save(&self, paths: &StatePaths) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let path = paths.journal();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        write_atomically(&path, &bytes)
    }

    /// Removes the journal.
    pub fn clear(paths: &StatePaths) -> std::io::Result<()> {
        match std::fs::remove_file(paths.journal()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// What the reboot markers say at the start of a run (spec §7.2, project decisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerCheck {
    /// No marker: go on with the operation.
    None,
    /// A marker from before the last boot: the reboot happened; the run ends with the code the
    /// marker stands for (194 → 0, 195 → 1, 196 → 2) without patching again.
    Rebooted(u8),
    /// The machine has not booted since the marker was written: ask again (exit 194).
    AskAgain,
    /// Asked five times without a reboot: give up (exit 3).
    GiveUp,
}

/// Most reboot requests the markers allow before giving up.
pub const MAX_REBOOT_REQUESTS: usize = 5;

/// Writes the marker for `code` (194, 195 or 196) with the time it was written.
pub fn write_marker(paths: &StatePaths, code: u8, now: DateTime<Utc>) -> std::io::Result<()> {
    let folder = paths.marker(code);
    std::fs::create_dir_all(&folder)?;
    write_atomically(
        &folder.join("time"),
        format!("{}\n", to_epoch(now)).as_bytes(),
    )?;
    std::fs::create_dir_all(folder.join("requests").join("1"))
}

/// Checks the markers in the order 194, 195, 196 and updates them: a marker whose reboot
/// happened is removed; one whose reboot did not gets one more request recorded.
pub fn check_markers(
    paths: &StatePaths,
    boot: Option<DateTime<Utc>>,
) -> std::io::Result<MarkerCheck> {
    for code in [194u8, 195, 196] {
        let folder = paths.marker(code);
        if !folder.is_dir() {
            continue;
        }
        let written = std::fs::read_to_string(folder.join("time"))
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .and_then(epoch);
        // Booted after the marker (with a small tolerance, as the payload allows 3 s).
        let rebooted = match (boot, written) {
            (Some(boot), Some(written)) => boot + chrono::Duration::seconds(3) >= written,
            _ => true,
        };
        if rebooted {
            std::fs::remove_dir_all(&folder)?;
            return Ok(MarkerCheck::Rebooted(code));
        }
        let requests = folder.join("requests");
        let asked = std::fs::read_dir(&requests).map_or(0, Iterator::count);
        if asked >= MAX_REBOOT_REQUESTS {
            std::fs::remove_dir_all(&folder)?;
            return Ok(MarkerCheck::GiveUp);
        }
        std::fs::create_dir_all(requests.join((asked + 1).to_string()))?;
        return Ok(MarkerCheck::AskAgain);
    }
    Ok(MarkerCheck::None)
}

/// Removes every marker (a run that ends without asking for a reboot).
pub fn clear_markers(paths: &StatePaths) {
    for code in [194u8, 195, 196] {
        let _ = std::fs::remove_dir_all(paths.marker(code));
    }
}

/// The exclusive lock one `scan`/`install` holds for its whole run. Dropping it releases it.
#[derive(Debug)]
pub struct OperationLock {
    _file: File,
}

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another operation holds it.
    #[error(transparent)]
    Busy(#[from] LockBusy),
    /// The lock file cannot be created (read-only image, not root): the state is not writable.
    #[error("cannot use `{}`: {source}", path.display())]
    Unavailable {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Another operation holds the lock.
#[derive(Debug, thiserror::Error)]
#[error("another patch-baseline operation holds `{}`{holder}; waited {seconds} s", path.display())]
pub struct LockBusy {
    /// The lock file.
    pub path: PathBuf,
    /// " (process N, command)" when known.
    pub holder: String,
    /// How long we waited.
    pub seconds: u64,
}

impl OperationLock {
    /// Takes the lock, waiting up to `timeout`.
    pub fn acquire(paths: &StatePaths, timeout: Duration) -> Result<Self, LockError> {
        let path = paths.lock();
        let busy = |holder: String| LockBusy {
            path: path.clone(),
            holder,
            seconds: timeout.as_secs(),
        };
        let unavailable = |source| LockError::Unavailable {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(unavailable)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(unavailable)?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(_) => {
                    let holder = crate::install::lock_holder(&path)
                        .map(|(pid, command)| format!(" (process {pid}, {command})"))
                        .unwrap_or_default();
                    return Err(busy(holder).into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_reads_the_same_states_file_keeping_only_pending_reboots() {
        let now = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
        let entry = |id: &str, state: &str| {
            format!(r#"{{"id": "{id}", "installedTime": 1789999000.5, "state": "{state}"}}"#)
        };
        let file = |entries: &[(&str, String)], last: &str| {
            let entries: Vec<String> = entries
                .iter()
                .map(|(title, entry)| format!("\"{title}\": {entry}"))
                .collect();
            format!(
                r#"{{"lastNoRebootInstallOperationTime": {last}, "patchStates": {{{}}}}}"#,
                entries.join(", ")
            )
        };
        let good = file(
            &[
                ("a.x86_64:1-1", entry("a.x86_64", "Installed")),
                ("b.x86_64:2-1", entry("b.x86_64", "InstalledPendingReboot")),
                (
                    "c\\u002ex86_64:3-1",
                    entry("c.x86_64", "InstalledPendingReboot"),
                ),
                // Given twice: the last entry counts.
                ("d.x86_64:1-1", entry("d.x86_64", "InstalledPendingReboot")),
                ("d.x86_64:1-1", entry("d.x86_64", "InstalledOther")),
                ("e.x86_64:1-1", entry("e.x86_64", "InstalledOther")),
                ("e.x86_64:1-1", entry("e.x86_64", "InstalledPendingReboot")),
            ],
            "1789999999.25",
        );
        let whole = PatchStates::from_json(good.as_bytes(), now).unwrap();
        let pending = PatchStates::pending_from_json(good.as_bytes(), now).unwrap();
        let mut expected = whole.clone();
        expected
            .patch_states
            .retain(|_, recorded| recorded.state == PatchState::InstalledPendingReboot.as_str());
        assert_eq!(pending, expected);
        let titles: Vec<&str> = pending.patch_states.keys().map(String::as_str).collect();
        assert_eq!(titles, ["b.x86_64:2-1", "c.x86_64:3-1", "e.x86_64:1-1"]);
        // What the whole read refuses, this refuses, with the same reason.
        for bad in [
            file(&[("a", r#"{"id": "a", "state": 3}"#.to_string())], "0"),
            file(&[("a", r#"{"state": "Installed"}"#.to_string())], "0"),
            file(
                &[(
                    "a",
                    r#"{"id": "a", "installedTime": "x", "state": "Installed"}"#.to_string(),
                )],
                "0",
            ),
            file(&[], "-1"),
            file(&[], "1990000000"),
            r#"{"patchStates": null}"#.to_string(),
            r#"{"patchStates": []}"#.to_string(),
            "not json".to_string(),
        ] {
            let whole = PatchStates::from_json(bad.as_bytes(), now).unwrap_err();
            let pending = PatchStates::pending_from_json(bad.as_bytes(), now).unwrap_err();
            assert_eq!(
                whole.split(" at line").next(),
                pending.split(" at line").next(),
                "{bad}"
            );
        }
    }

    #[test]
    fn files_written_together_are_all_replaced_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("one.json"), dir.path().join("two.json"));
        std::fs::write(&one, "old one").unwrap();
        write_atomically_all(&[(&one, b"new one"), (&two, b"new two")]).unwrap();
        assert_eq!(std::fs::read_to_string(&one).unwrap(), "new one");
        assert_eq!(std::fs::read_to_string(&two).unwrap(), "new two");
        // The second cannot be written (its folder is a file): the first stays as it was, the
        // error names the second, and no temporary file is left.
        let blocked = dir.path().join("two.json").join("three.json");
        let error = write_atomically_all(&[(&one, b"newer"), (&blocked, b"x")]).unwrap_err();
        assert!(error.to_string().contains("three.json"), "{error}");
        assert_eq!(std::fs::read_to_string(&one).unwrap(), "new one");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp.")), "{names:?}");
    }

    /// Epoch seconds such as `1635229702.44134433` read back one bit off after a save (serde_json
    /// parses floats exactly only with `float_roundtrip`). Found by `cargo fuzz` (target
    /// `state_files`).
    #[test]
    fn fuzz_states_round_trip_exactly() {
        let bytes = include_bytes!("../fixtures/fuzz/state_files-crash-9d0df3c1");
        let now = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
        let states = PatchStates::from_json(bytes, now).unwrap();
        let saved = serde_json::to_vec_pretty(&states).unwrap();
        assert_eq!(PatchStates::from_json(&saved, now).unwrap(), states);
    }

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000, 0).single().unwrap()
    }

    #[test]
    fn markers_ask_again_five_times_then_give_up() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path());
        let boot_before = Some(now() - chrono::Duration::hours(1));
        assert_eq!(
            check_markers(&paths, boot_before).unwrap(),
            MarkerCheck::None
        );
        write_marker(&paths, 195, now()).unwrap();
        for _ in 1..MAX_REBOOT_REQUESTS {
            assert_eq!(
                check_markers(&paths, boot_before).unwrap(),
                MarkerCheck::AskAgain
            );
        }
        assert_eq!(
            check_markers(&paths, boot_before).unwrap(),
            MarkerCheck::GiveUp
        );
        assert!(!paths.marker(195).exists());
        write_marker(&paths, 196, now()).unwrap();
        let boot_after = Some(now() + chrono::Duration::minutes(2));
        assert_eq!(
            check_markers(&paths, boot_after).unwrap(),
            MarkerCheck::Rebooted(196)
        );
        assert!(!paths.marker(196).exists());
    }

    #[test]
    fn corrupt_and_future_state_files_are_reset() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path());
        let mut states = PatchStates {
            last_no_reboot_install_operation_time: to_epoch(now()),
            ..PatchStates::default()
        };
        states.patch_states.insert(
            "a.all:1".into(),
            RecordedState {
                id: "a.all".into(),
                installed_time: Some(1.0),
                state: "InstalledPendingReboot".into(),
            },
        );
        let path = paths.states();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_atomically(&path, &states.to_bytes().unwrap()).unwrap();
        assert_eq!(PatchStates::load(&paths, now()), (states.clone(), None));
        let (reset, warning) = PatchStates::load(&paths, now() - chrono::Duration::days(1));
        assert_eq!(reset, PatchStates::default());
        assert!(warning.unwrap().contains("future"));
        std::fs::write(paths.states(), "{not json").unwrap();
        let (reset, warning) = PatchStates::load(&paths, now());
        assert_eq!(reset, PatchStates::default());
        assert!(warning.unwrap().contains("corrupt"));
    }
}
