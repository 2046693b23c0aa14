//! The run history (issue #18): every recorded `scan`, `install` and `run` appends one compact
//! record to `patch-configuration/patch-baseline-history.jsonl` under the state folder, and
//! `patch-baseline history` and `patch-baseline diff` read it back.
//!
//! A record holds the run's time, operation, baseline, snapshot id and counts, and only the
//! *changes* of the tracked set since the record before it: the packages in a state that asks
//! for attention (`Missing`, `Failed`, `InstalledPendingReboot`, `InstalledRejected`), each with
//! its versions and advisories, and those whose newest version waits for a rule's date.
//! Compliant packages are never listed, so a 100,000-package inventory with nothing changed
//! records a few hundred bytes. The packages a run saw newly installed are listed too. The
//! tracked set of the oldest record kept is the *base*, in
//! `patch-baseline-history-base.json`; replaying the later records' changes on it gives the
//! tracked set of any run.
//!
//! The files are written under the operation lock: a run that only adds its record appends
//! that one line to the history file (a crash while it is written tears only that line, which
//! the next run drops); any other change (the base, records dropped, lines that were damaged)
//! rewrites the files atomically ([`crate::state::write_atomically`]). The history is capped in size and number of records: the oldest records are dropped
//! and folded into the base. The tracked set is capped too ([`BASE_CAP_FACTOR`] times the
//! history's cap): a run whose set is larger is recorded `untracked` (counts and installs
//! only), and the next run whose set fits records it whole (`restart`), so that neither file
//! grows with the machine. A line that cannot be read is skipped with a warning (a torn last
//! line loses only itself); a damaged file is kept aside as `….jsonl.corrupt`. The history
//! never fails a scan: its errors are warnings.
//!
//! "Approved by the passing of time": the tracked set also keeps the installed packages whose
//! newest offered version an approval rule refuses only for its date (`ApproveAfterDays` not
//! yet passed; [`Evaluation::held_by_date`]), as `waiting` for that version. A package newly
//! `Missing` since run S at a version S recorded as `waiting` was approved by the passing of
//! time: the same version was offered then and only the moving cutoff approved it since. A
//! version newly published, or approved through a baseline change, is plain newly `Missing`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::evaluate::{Counts, Evaluation, Reason};
use crate::exit::Outcome;
use crate::model::PatchState;
use crate::ops::CliError;
use crate::report::ReportContext;
use crate::state::StatePaths;

/// The default cap of the history file, in bytes.
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;

/// How many times the history file's cap a run's tracked set may take, serialized: the cap of
/// the base file. A run whose tracked set is larger is recorded without it (`untracked`).
pub const BASE_CAP_FACTOR: usize = 4;

/// The most records the history keeps.
pub const MAX_RECORDS: usize = 1000;

/// The environment variable that sets another cap in bytes (tests, small disks).
pub const MAX_BYTES_VARIABLE: &str = "PATCH_BASELINE_HISTORY_MAX_BYTES";

/// One tracked package as a record lists it. In a record's changes, a missing `state` says the
/// package left the tracked set (it is compliant now, or gone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// `name.arch`.
    pub id: String,
    /// `Missing`, `Failed`, `InstalledPendingReboot` or `InstalledRejected`; none: untracked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The installed version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed: Option<String>,
    /// The approved version (`Missing`, `Failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<String>,
    /// The advisories of the approved version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advisories: Vec<String>,
    /// The advisory that carried the approval (`Missing`), when a rule approved it through one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory: Option<String>,
    /// The release time of the approved version, as the approving rule saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<DateTime<Utc>>,
    /// The newest offered version, when only an approval rule's date keeps it from being
    /// approved (it is approved by the passing of time alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

impl Entry {
    /// The same package and state at the same versions (what a change is measured by).
    fn same_as(&self, other: &Self) -> bool {
        self.state == other.state
            && self.installed == other.installed
            && self.approved == other.approved
            && self.advisories == other.advisories
            && self.waiting == other.waiting
    }

    fn untracked(id: &str) -> Self {
        Self {
            id: id.to_string(),
            state: None,
            installed: None,
            approved: None,
            advisories: Vec::new(),
            advisory: None,
            released: None,
            waiting: None,
        }
    }
}

/// A package a run saw newly installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Installed {
    /// `name.arch`.
    pub id: String,
    /// The version installed now.
    pub version: String,
    /// The version installed before, when the history knew it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// One run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The run id: one more than the record before it, from 1.
    pub run: u64,
    /// The operation's "now" (its start).
    pub time: DateTime<Utc>,
    /// Its end.
    pub end: DateTime<Utc>,
    /// `Scan` or `Install`.
    pub operation: String,
    /// The baseline id.
    pub baseline_id: String,
    /// The baseline name.
    pub baseline_name: String,
    /// The snapshot id reported.
    pub snapshot_id: String,
    /// The per-state counts.
    pub counts: Counts,
    /// The tracked packages that changed since the record before (none once the record is
    /// the oldest: its tracked set is the base file's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Entry>,
    /// The packages this run saw newly installed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub installed: Vec<Installed>,
    /// `changes` is the run's whole tracked set, not its changes: the record before it was
    /// `untracked`, so there was no set to compare with.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restart: bool,
    /// The run's tracked set was larger than the base file's cap and is not kept: the packages
    /// that changed at this run, and until the next `restart`, are not known.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub untracked: bool,
}

/// What a run observed, before it becomes a record: its header and its tracked set.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The record without changes (its `run` is set when it is appended).
    pub header: Record,
    /// The tracked set, by id; none when it was larger than the cap `observe` was given.
    pub tracked: Option<Tracked>,
}

/// The tracked set of a run, by id.
pub type Tracked = BTreeMap<String, Entry>;

/// Applies a record's changes to the tracked set before it (none: not known).
fn apply(tracked: &mut Option<Tracked>, record: &Record) {
    if record.untracked {
        *tracked = None;
        return;
    }
    if record.restart {
        *tracked = Some(Tracked::new());
    }
    // Changes to a set that is not known leave it not known (a record after an untracked one
    // is always a restart; this is a history edited by hand).
    let Some(tracked) = tracked else {
        return;
    };
    for change in &record.changes {
        if change.state.is_some() {
            tracked.insert(change.id.clone(), change.clone());
        } else {
            tracked.remove(&change.id);
        }
    }
}

/// The tracked set after the records up to and including `last` (all of them when `None`):
/// the base, with the changes of the later records applied. None: not known (an `untracked`
/// run, and no `restart` after it).
pub fn replay(history: &Loaded, last: Option<usize>) -> Option<Tracked> {
    let mut tracked = history.base.clone();
    let records = &history.records;
    let end = last.map_or(records.len(), |last| (last + 1).min(records.len()));
    for record in records.iter().take(end) {
        if record.run > history.base_run {
            apply(&mut tracked, record);
        }
    }
    tracked
}

/// The changes from `before` to `after`: new and changed entries, and untracked ones.
fn changes(before: &Tracked, after: &Tracked) -> Vec<Entry> {
    let mut out: Vec<Entry> = after
        .values()
        .filter(|entry| before.get(&entry.id).is_none_or(|old| !old.same_as(entry)))
        .cloned()
        .collect();
    out.extend(
        before
            .keys()
            .filter(|id| !after.contains_key(*id))
            .map(|id| Entry::untracked(id)),
    );
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The base file: the tracked set as of the oldest record kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseFile {
    /// The run whose tracked set this is.
    pub run: u64,
    /// The tracked set.
    #[serde(default)]
    pub tracked: Vec<Entry>,
    /// That run's set was over the cap and is not kept (`tracked` is empty).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub untracked: bool,
}

/// The history: the base and the records, and what was wrong with the files.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The run the base is the tracked set of (0: none, the empty set).
    pub base_run: u64,
    /// The tracked set as of run `base_run` (none: that run was `untracked`).
    pub base: Option<Tracked>,
    /// The records read, oldest first.
    pub records: Vec<Record>,
    /// One warning per line that could not be read.
    pub warnings: Vec<String>,
    /// A line other than the last was damaged (the file is not only torn).
    pub damaged: bool,
    /// The text of each record as read, in step with `records` (a record whose text is not
    /// known is written anew).
    lines: Vec<String>,
    /// The file is exactly `lines`, each ended by a newline: a new record may be appended to it
    /// as it is.
    clean: bool,
}

impl Default for Loaded {
    fn default() -> Self {
        Self {
            base_run: 0,
            base: Some(Tracked::new()),
            records: Vec::new(),
            warnings: Vec::new(),
            damaged: false,
            lines: Vec::new(),
            clean: false,
        }
    }
}

/// Reads history text: one record per line; unreadable lines are skipped with a warning.
pub fn parse(text: &str, path: &Path) -> Loaded {
    let mut loaded = Loaded::default();
    let lines: Vec<&str> = text.lines().collect();
    // Appending to the file as it is needs every line to be a record, `\n`-ended.
    loaded.clean = text.ends_with('\n') && !text.contains('\r');
    for (number, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            loaded.clean = false;
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(record) => {
                loaded.records.push(record);
                loaded.lines.push((*line).to_string());
            }
            Err(e) => {
                loaded.clean = false;
                let last = number + 1 == lines.len();
                loaded.damaged |= !last;
                loaded.warnings.push(format!(
                    "`{}` line {}: {} ({e}); skipped",
                    path.display(),
                    number + 1,
                    if last {
                        "torn record"
                    } else {
                        "unreadable record"
                    }
                ));
            }
        }
    }
    loaded
}

/// Loads the history file and its base; a missing history is empty, an unreadable one too
/// (with a warning). A base is used only with records: without them the history starts anew.
pub fn load(paths: &StatePaths) -> Loaded {
    let path = paths.history();
    let mut loaded = match std::fs::read(&path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => parse(&text, &path),
            // Not appended to as it is: the rewrite leaves the bytes that are not UTF-8 out.
            Err(e) => Loaded {
                clean: false,
                ..parse(&String::from_utf8_lossy(e.as_bytes()), &path)
            },
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Loaded::default(),
        Err(e) => Loaded {
            warnings: vec![format!("cannot read `{}` ({e})", path.display())],
            ..Loaded::default()
        },
    };
    if loaded.records.is_empty() {
        return loaded;
    }
    let base_path = paths.history_base();
    match std::fs::read(&base_path) {
        Ok(bytes) => match serde_json::from_slice::<BaseFile>(&bytes) {
            Ok(base) => {
                loaded.base_run = base.run;
                loaded.base = (!base.untracked).then(|| {
                    base.tracked
                        .into_iter()
                        .map(|e| (e.id.clone(), e))
                        .collect()
                });
            }
            Err(e) => {
                loaded.damaged = true;
                loaded.warnings.push(format!(
                    "`{}` is corrupt ({e}); the oldest runs' tracked packages are lost",
                    base_path.display()
                ));
            }
        },
        Err(e) => loaded.warnings.push(format!(
            "cannot read `{}` ({e}); the oldest runs' tracked packages are lost",
            base_path.display()
        )),
    }
    loaded
}

/// Folds the oldest record into the base: the base becomes its tracked set, its changes go.
fn fold_oldest(history: &mut Loaded) {
    let base_run = history.base_run;
    if let Some(first) = history.records.first_mut() {
        if first.run > base_run {
            apply(&mut history.base, first);
            history.base_run = first.run;
        }
        first.changes.clear();
        first.restart = false;
    }
}

/// Appends `observation` as the next run (its changes from the replayed tracked set; without a
/// set, `untracked`; after a set that is not known, its whole set as a `restart`). The
/// first record is folded into the base at once. Over `max_bytes` or [`MAX_RECORDS`], the
/// oldest records are dropped down to three quarters of either (so that the base is rewritten
/// once in a while, not at every run), folding the new oldest into the base; the newest record
/// is always kept. Returns the history file's lines, and whether the base changed.
pub fn append(
    history: &mut Loaded,
    observation: Observation,
    max_bytes: usize,
) -> (Vec<String>, bool) {
    let before = replay(history, None);
    let base_changed = append_lines(history, observation, max_bytes, before);
    (history.lines.clone(), base_changed)
}

/// The work of [`append`]: updates `history.records` and `history.lines` and returns whether
/// the base changed. Only the new record, and the oldest when it was folded, are serialized;
/// the other lines are kept as read.
fn append_lines(
    history: &mut Loaded,
    observation: Observation,
    max_bytes: usize,
    before: Option<Tracked>,
) -> bool {
    let mut record = observation.header;
    record.run = history
        .records
        .last()
        .map_or(history.base_run, |last| last.run)
        + 1;
    match (observation.tracked, before) {
        (None, _) => record.untracked = true,
        (Some(after), Some(before)) => record.changes = changes(&before, &after),
        (Some(after), None) => {
            record.restart = true;
            record.changes = after.into_values().collect();
        }
    }
    history.records.push(record);
    let mut base_changed = false;
    if history.records.len() == 1 {
        history.base = Some(Tracked::new());
        history.base_run = 0;
        fold_oldest(history);
        base_changed = true;
    }
    let line = |record: &Record| serde_json::to_string(record).unwrap_or_default();
    let mut lines = std::mem::take(&mut history.lines);
    if base_changed || lines.len() + 1 != history.records.len() {
        // The oldest was folded, or the text of the records read is not known: all anew.
        lines = history.records.iter().map(line).collect();
    } else if let Some(last) = history.records.last() {
        lines.push(line(last));
    }
    let mut total: usize = lines.iter().map(|l| l.len() + 1).sum();
    if total > max_bytes || lines.len() > MAX_RECORDS {
        let (bytes, count) = (max_bytes / 4 * 3, MAX_RECORDS / 4 * 3);
        while lines.len() > 1 && (total > bytes || lines.len() > count) {
            history.records.remove(0);
            total -= lines.remove(0).len() + 1;
            // The base moves to the new oldest record as each is dropped.
            fold_oldest(history);
        }
        if let (Some(first), Some(old)) = (history.records.first(), lines.first_mut()) {
            *old = line(first);
        }
        base_changed = true;
    }
    history.lines = lines;
    base_changed
}

/// The cap in bytes: `$PATCH_BASELINE_HISTORY_MAX_BYTES` if set, else [`DEFAULT_MAX_BYTES`].
pub fn max_bytes<S: std::hash::BuildHasher>(
    env: &std::collections::HashMap<String, String, S>,
) -> usize {
    env.get(MAX_BYTES_VARIABLE)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_BYTES)
}

/// Whether a state is tracked.
fn tracked_state(state: PatchState) -> bool {
    matches!(
        state,
        PatchState::Missing
            | PatchState::Failed
            | PatchState::InstalledPendingReboot
            | PatchState::InstalledRejected
    )
}

/// What an evaluation shows of the tracked set and of the newly installed packages, against
/// the tracked set of the run before (`previous`, with its time). Reasons are asked only for
/// the `Missing` packages that changed. A tracked set larger than `cap` bytes serialized is
/// not kept: the observation has none (the newly installed packages are still found), and
/// it stops building entries as soon as it is over.
pub fn observe(
    evaluation: &Evaluation<'_>,
    context: &ReportContext,
    previous: Option<(&Tracked, DateTime<Utc>)>,
    cap: usize,
) -> Observation {
    let mut tracked = Some(Tracked::new());
    let mut size = ByteCount(0);
    let mut installed = Vec::new();
    // The names tracked before (ids without `.arch`, apt's `:arch` of foreign packages too),
    // so that only their decisions and the tracked ones build an id.
    let names: std::collections::HashSet<&str> = previous
        .map(|(before, _)| {
            before
                .keys()
                .filter_map(|id| id.rsplit_once('.'))
                .map(|(name, _)| name.split_once(':').map_or(name, |(name, _)| name))
                .collect()
        })
        .unwrap_or_default();
    for decision in &evaluation.decisions {
        let state = decision.state;
        let known = names.contains(decision.name);
        let recent =
            previous.is_some_and(|(_, time)| decision.installed_time().is_some_and(|t| t > time));
        // Over the cap, only the installs are still looked for.
        let waiting = tracked.as_ref().and_then(|_| {
            evaluation
                .held_by_date(decision)
                .map(|(version, _)| version)
        });
        let tracked_here = tracked.is_some() && (tracked_state(state) || waiting.is_some());
        if !tracked_here && !known && !recent {
            continue;
        }
        let id = decision.id();
        let old = previous.and_then(|(before, _)| before.get(&id));
        let now_installed = decision.installed_version();
        let was_installed = old.and_then(|old| old.installed.as_deref());
        let changed_version =
            old.is_some() && now_installed.is_some() && now_installed != was_installed;
        if let Some(version) = now_installed
            && state.shows_installed_version()
            && state != PatchState::InstalledRejected
            && (recent || changed_version)
        {
            installed.push(Installed {
                id: id.clone(),
                version: version.to_string(),
                from: was_installed
                    .filter(|w| Some(*w) != now_installed)
                    .map(ToString::to_string),
            });
        }
        if !tracked_here {
            continue;
        }
        let mut entry = Entry {
            id: id.clone(),
            state: Some(state.as_str().to_string()),
            installed: now_installed.map(ToString::to_string),
            approved: if state.shows_installed_version() {
                None
            } else {
                decision.approved_version().map(ToString::to_string)
            },
            advisories: decision
                .advisory_ids()
                .iter()
                .map(ToString::to_string)
                .collect(),
            advisory: None,
            released: None,
            waiting: waiting.map(ToString::to_string),
        };
        match old {
            Some(old) if old.same_as(&entry) => {
                entry.advisory.clone_from(&old.advisory);
                entry.released = old.released;
            }
            _ if state == PatchState::Missing => approval(evaluation, decision, &mut entry),
            _ => {}
        }
        // Measured as the base file writes it (a comma between entries).
        let _ = serde_json::to_writer(&mut size, &entry);
        size.0 += 1;
        if size.0 > cap {
            tracked = None;
        } else if let Some(tracked) = tracked.as_mut() {
            tracked.insert(id, entry);
        }
    }
    Observation {
        header: Record {
            run: 0,
            time: context.start,
            end: context.end,
            operation: evaluation.operation.as_str().to_string(),
            baseline_id: evaluation.baseline_id.to_string(),
            baseline_name: evaluation.baseline_name.to_string(),
            snapshot_id: context.snapshot_id.clone(),
            counts: evaluation.counts(),
            changes: Vec::new(),
            installed,
            restart: false,
            untracked: false,
        },
        tracked,
    }
}

/// A writer that only counts the bytes written to it.
struct ByteCount(usize);

impl Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Fills the approving advisory and release time of a `Missing` entry.
fn approval(
    evaluation: &Evaluation<'_>,
    decision: &crate::evaluate::PackageDecision<'_>,
    entry: &mut Entry,
) {
    for reason in evaluation.reasons(decision) {
        if let Reason::ApprovedByRule {
            advisory, released, ..
        } = reason
        {
            entry.advisory = advisory.map(ToString::to_string);
            entry.released = released;
            return;
        }
    }
}

/// Records a run in the history: loads it, appends the run, writes it back atomically. Never
/// fails: what went wrong is returned as warnings. [`prepare`] then [`Prepared::commit`].
pub fn record(
    evaluation: &Evaluation<'_>,
    context: &ReportContext,
    paths: &StatePaths,
    max_bytes: usize,
) -> Vec<String> {
    prepare(evaluation, context, paths, max_bytes).commit()
}

/// A run's record, worked out and not yet written: what [`Prepared::commit`] writes.
#[derive(Debug)]
pub struct Prepared {
    path: PathBuf,
    base_path: PathBuf,
    warnings: Vec<String>,
    /// The damaged history file is to be kept aside before it is rewritten.
    keep_aside: bool,
    /// The base file's new content, when the base changed.
    base: Option<BaseFile>,
    /// The new record's line alone, when the file as read only needs it appended.
    append: Option<String>,
    /// Every line of the file, when it is rewritten.
    lines: Vec<String>,
}

/// Loads the history and works out the run's record and what is to be written, writing
/// nothing: this part reads the files and compares the tracked sets, and may run while the
/// state files are written.
pub fn prepare(
    evaluation: &Evaluation<'_>,
    context: &ReportContext,
    paths: &StatePaths,
    max_bytes: usize,
) -> Prepared {
    let mut loaded = load(paths);
    let mut warnings = std::mem::take(&mut loaded.warnings);
    // A set that is not known compares as empty: only install times find what was installed.
    let replayed = replay(&loaded, None);
    let empty = Tracked::new();
    let previous = loaded
        .records
        .last()
        .map(|last| (replayed.as_ref().unwrap_or(&empty), last.time));
    let cap = max_bytes.saturating_mul(BASE_CAP_FACTOR);
    let observation = observe(evaluation, context, previous, cap);
    if observation.tracked.is_none() {
        warnings.push(format!(
            "the packages that need attention are over the history's cap of {cap} bytes: \
             this run is recorded with its counts and installs only (`diff` cannot list the \
             rest of its changes; `{MAX_BYTES_VARIABLE}` sets a larger cap)"
        ));
    }
    // The file as read, when the new record is all that changes in it.
    let appendable = loaded.clean && !loaded.records.is_empty();
    let base_changed = append_lines(&mut loaded, observation, max_bytes, replayed);
    let keep_aside = loaded.damaged;
    if appendable && !base_changed {
        return Prepared {
            path: paths.history(),
            base_path: paths.history_base(),
            warnings,
            keep_aside,
            base: None,
            append: loaded.lines.pop(),
            lines: Vec::new(),
        };
    }
    let base = base_changed.then(|| BaseFile {
        run: loaded.base_run,
        untracked: loaded.base.is_none(),
        tracked: loaded
            .base
            .take()
            .unwrap_or_default()
            .into_values()
            .collect(),
    });
    Prepared {
        path: paths.history(),
        base_path: paths.history_base(),
        warnings,
        keep_aside,
        base,
        append: None,
        lines: loaded.lines,
    }
}

impl Prepared {
    /// Writes the record: appends its line to the file as read, or rewrites the files (the
    /// base first). Returns the warnings of the whole recording.
    pub fn commit(self) -> Vec<String> {
        let Self {
            path,
            base_path,
            mut warnings,
            keep_aside,
            base,
            append,
            lines,
        } = self;
        if keep_aside {
            let mut aside = path.as_os_str().to_owned();
            aside.push(".corrupt");
            match std::fs::copy(&path, &aside) {
                Ok(_) => warnings.push(format!(
                    "the damaged history is kept as `{}`; diffs across its gaps may be incomplete",
                    PathBuf::from(aside).display()
                )),
                Err(e) => warnings.push(format!("cannot keep the damaged history aside ({e})")),
            }
        }
        if let Some(line) = append {
            if let Err(e) = append_line(&path, &line) {
                warnings.push(format!("the run is not in the history: {e}"));
            }
            return warnings;
        }
        let mut text = lines.join("\n");
        text.push('\n');
        if let Some(parent) = path.parent()
            && let Err(e) = std::fs::create_dir_all(parent)
        {
            warnings.push(format!("cannot create `{}` ({e})", parent.display()));
            return warnings;
        }
        // The base first: a crash between the two writes leaves records the base already holds,
        // which replaying skips.
        if let Some(base) = base {
            let written = serde_json::to_vec(&base)
                .map_err(std::io::Error::other)
                .and_then(|bytes| crate::state::write_atomically(&base_path, &bytes));
            if let Err(e) = written {
                warnings.push(format!("the run is not in the history: {e}"));
                return warnings;
            }
        }
        if let Err(e) = crate::state::write_atomically(&path, text.as_bytes()) {
            warnings.push(format!("the run is not in the history: {e}"));
        }
        warnings
    }
}

/// Appends `line` and a newline to the history file at `path` and syncs it. A write that fails
/// is cut off again, so that the file holds whole lines only.
fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    let named =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("`{}`: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(named)?;
    let length = file.metadata().map_err(named)?.len();
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let written = file.write_all(&bytes).and_then(|()| file.sync_data());
    if let Err(e) = written {
        let _ = file.set_len(length).and_then(|()| file.sync_data());
        return Err(named(e));
    }
    Ok(())
}

/// A package in a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// `name.arch`.
    pub id: String,
    /// Its state at the earlier run, when it was tracked then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub was: Option<String>,
    /// The installed version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed: Option<String>,
    /// The approved version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved: Option<String>,
    /// The approved version's advisories.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advisories: Vec<String>,
    /// The advisory that carried the approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory: Option<String>,
    /// The approved version's release time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released: Option<DateTime<Utc>>,
}

/// A run a diff compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRef {
    /// The run id.
    pub run: u64,
    /// Its time.
    pub time: DateTime<Utc>,
    /// Its operation.
    pub operation: String,
}

/// What changed between two runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diff {
    /// The earlier run (none: the history's start).
    pub since: Option<RunRef>,
    /// The later run (the newest).
    pub until: RunRef,
    /// Newly `Missing`: a version newly offered or newly approved by the baseline's content.
    pub newly_missing: Vec<Change>,
    /// Newly `Missing` because the approving rule's `ApproveAfterDays` passed.
    pub approved_by_time: Vec<Change>,
    /// Newly installed (or updated).
    pub installed: Vec<Installed>,
    /// Newly `Failed`.
    pub failed: Vec<Change>,
    /// Newly `InstalledPendingReboot`.
    pub pending_reboot: Vec<Change>,
    /// Newly `InstalledRejected`.
    pub rejected: Vec<Change>,
    /// No longer `Missing` or `Failed` without an install seen (approval withdrawn, removed).
    pub resolved: Vec<Change>,
    /// Why only `installed` is listed: the tracked set of one of the two runs is not kept (it
    /// was over the history's cap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

fn run_ref(record: &Record) -> RunRef {
    RunRef {
        run: record.run,
        time: record.time,
        operation: record.operation.clone(),
    }
}

/// The diff from the run at `since` (an index into `records`; none: the history's start) to the
/// newest run.
pub fn diff(history: &Loaded, since: Option<usize>) -> Option<Diff> {
    let records = &history.records;
    let newest = records.last()?;
    let since_record = since.and_then(|since| records.get(since));
    let before = since.map_or_else(
        || Some(Tracked::new()),
        |since| replay(history, Some(since)),
    );
    let after = replay(history, None);
    let incomplete = match (&before, &after, since_record) {
        (None, _, Some(record)) => Some(record.run),
        (_, None, _) => Some(newest.run),
        _ => None,
    }
    .map(|run| {
        format!(
            "run {run}'s packages that need attention were over the history's cap and are not \
             kept: only the installs are listed"
        )
    });
    // Two known sets, or nothing to compare (not one set against an empty one).
    let (before, after) = match (before, after) {
        (Some(before), Some(after)) => (before, after),
        _ => (Tracked::new(), Tracked::new()),
    };
    let change = |entry: &Entry| Change {
        id: entry.id.clone(),
        was: before.get(&entry.id).and_then(|old| old.state.clone()),
        installed: entry.installed.clone(),
        approved: entry.approved.clone(),
        advisories: entry.advisories.clone(),
        advisory: entry.advisory.clone(),
        released: entry.released,
    };
    let mut out = Diff {
        since: since_record.map(run_ref),
        until: run_ref(newest),
        newly_missing: Vec::new(),
        approved_by_time: Vec::new(),
        installed: Vec::new(),
        failed: Vec::new(),
        pending_reboot: Vec::new(),
        rejected: Vec::new(),
        resolved: Vec::new(),
        incomplete,
    };
    for entry in after.values() {
        // News: a state it was not in before, or in it at another version (the approved one
        // for Missing and Failed, the installed one for the others).
        let missing_or_failed = matches!(entry.state.as_deref(), Some("Missing" | "Failed"));
        if before.get(&entry.id).is_some_and(|old| {
            old.state == entry.state
                && if missing_or_failed {
                    old.approved == entry.approved
                } else {
                    old.installed == entry.installed
                }
        }) {
            continue;
        }
        let list = match entry.state.as_deref() {
            Some("Missing")
                if entry.approved.is_some()
                    && before.get(&entry.id).and_then(|old| old.waiting.as_ref())
                        == entry.approved.as_ref() =>
            {
                &mut out.approved_by_time
            }
            Some("Missing") => &mut out.newly_missing,
            Some("Failed") => &mut out.failed,
            Some("InstalledPendingReboot") => &mut out.pending_reboot,
            Some("InstalledRejected") => &mut out.rejected,
            _ => continue,
        };
        list.push(change(entry));
    }
    let start = since.map_or(0, |since| since + 1);
    let mut installed: BTreeMap<String, Installed> = BTreeMap::new();
    for record in records.iter().skip(start) {
        for package in &record.installed {
            let from = installed
                .get(&package.id)
                .map_or_else(|| package.from.clone(), |first| first.from.clone());
            installed.insert(
                package.id.clone(),
                Installed {
                    from,
                    ..package.clone()
                },
            );
        }
    }
    for old in before.values() {
        let attention = |entry: &Entry| {
            entry.state.as_deref().is_some_and(|state| {
                matches!(
                    state,
                    "Missing" | "Failed" | "InstalledPendingReboot" | "InstalledRejected"
                )
            })
        };
        let was_pending = matches!(old.state.as_deref(), Some("Missing" | "Failed"));
        let still = after.get(&old.id).is_some_and(attention);
        if was_pending && !still && !installed.contains_key(&old.id) {
            out.resolved.push(Change {
                was: old.state.clone(),
                ..change(old)
            });
        }
    }
    out.installed = installed.into_values().collect();
    Some(out)
}

/// Which run `--since` names: a run id, or an RFC 3339 time (the newest run at or before it).
/// `None` in the result: the history's start.
pub fn resolve_since(records: &[Record], since: Option<&str>) -> Result<Option<usize>, String> {
    let Some(text) = since else {
        return Ok(records.len().checked_sub(2));
    };
    let oldest = records.first().map_or_else(String::new, |first| {
        format!(
            "; the oldest recorded run is {} at {}",
            first.run,
            first.time.to_rfc3339()
        )
    });
    if let Ok(run) = text.trim().parse::<u64>() {
        return records
            .iter()
            .position(|r| r.run == run)
            .map(Some)
            .ok_or_else(|| format!("--since {run}: no such run in the history{oldest}"));
    }
    let time = DateTime::parse_from_rfc3339(text.trim())
        .map_err(|e| format!("--since `{text}` is neither a run id nor an RFC 3339 time: {e}"))?
        .with_timezone(&Utc);
    records
        .iter()
        .rposition(|r| r.time <= time)
        .map(Some)
        .ok_or_else(|| format!("--since {text}: no run at or before it{oldest}"))
}

/// Output of `history` and `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table.
    Table,
    /// JSON.
    Json,
}

fn stdout_error(e: impl std::fmt::Display) -> CliError {
    CliError::Write {
        path: PathBuf::from("<stdout>"),
        source: std::io::Error::other(e.to_string()),
    }
}

fn print_warnings(warnings: &[String]) {
    for warning in warnings {
        let _ = writeln!(std::io::stderr(), "warning: {warning}");
    }
}

/// `patch-baseline history`: the recorded runs, oldest first (the newest `limit` of them).
pub fn list_command(
    root: &Path,
    format: Format,
    limit: Option<usize>,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let loaded = load(&StatePaths::new(root));
    print_warnings(&loaded.warnings);
    let skip = limit.map_or(0, |limit| loaded.records.len().saturating_sub(limit));
    let shown = loaded.records.get(skip..).unwrap_or_default();
    let text = match format {
        Format::Json => {
            let runs: Vec<serde_json::Value> = shown
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "run": r.run,
                        "time": r.time,
                        "end": r.end,
                        "operation": r.operation,
                        "baselineId": r.baseline_id,
                        "baselineName": r.baseline_name,
                        "snapshotId": r.snapshot_id,
                        "counts": r.counts,
                        "changed": r.changes.len(),
                        "installed": r.installed.len(),
                        "tracked": !r.untracked,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({ "runs": runs }))
                .map_err(stdout_error)?
        }
        Format::Table => render_list(shown),
    };
    crate::ops::write_out(stdout, text.trim_end())?;
    Ok(Outcome::Success)
}

fn render_list(records: &[Record]) -> String {
    if records.is_empty() {
        return "no run recorded".to_string();
    }
    let mut text = format!(
        "{:>4}  {:<20}  {:<7}  {:<28}  {:<36}  {:>9} {:>7} {:>6} {:>7}  {:>7}\n",
        "RUN",
        "TIME",
        "OP",
        "BASELINE",
        "SNAPSHOT",
        "INSTALLED",
        "MISSING",
        "FAILED",
        "PENDING",
        "CHANGES"
    );
    for r in records {
        let baseline = if r.baseline_name.is_empty() {
            &r.baseline_id
        } else {
            &r.baseline_name
        };
        let changes = if r.untracked {
            "-".to_string()
        } else {
            (r.changes.len() + r.installed.len()).to_string()
        };
        let _ = writeln!(
            text,
            "{:>4}  {:<20}  {:<7}  {:<28}  {:<36}  {:>9} {:>7} {:>6} {:>7}  {:>7}",
            r.run,
            r.time.format("%Y-%m-%dT%H:%M:%SZ"),
            r.operation,
            baseline,
            r.snapshot_id,
            r.counts.installed,
            r.counts.missing,
            r.counts.failed,
            r.counts.installed_pending_reboot,
            changes
        );
    }
    if records.iter().any(|r| r.untracked) {
        text.push_str(
            "-: the run's packages that need attention were over the history's cap; only its \
             counts and installs are kept\n",
        );
    }
    text
}

/// `patch-baseline diff`: what changed from `--since` (default: the run before the newest) to
/// the newest run.
pub fn diff_command(
    root: &Path,
    since: Option<&str>,
    format: Format,
    stdout: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let paths = StatePaths::new(root);
    let loaded = load(&paths);
    print_warnings(&loaded.warnings);
    if loaded.records.is_empty() {
        return Err(CliError::Read {
            path: paths.history(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no run recorded"),
        });
    }
    let index = resolve_since(&loaded.records, since).map_err(CliError::Usage)?;
    let Some(diff) = diff(&loaded, index) else {
        return Ok(Outcome::Success);
    };
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&diff).map_err(stdout_error)?,
        Format::Table => render_diff(&diff),
    };
    crate::ops::write_out(stdout, text.trim_end())?;
    Ok(Outcome::Success)
}

fn render_diff(diff: &Diff) -> String {
    let at = |r: &RunRef| {
        format!(
            "run {} ({}, {})",
            r.run,
            r.operation,
            r.time.format("%Y-%m-%dT%H:%M:%SZ")
        )
    };
    let mut text = format!(
        "since {} until {}\n",
        diff.since
            .as_ref()
            .map_or_else(|| "the history's start".to_string(), at),
        at(&diff.until)
    );
    let approved = |c: &Change| {
        let mut line = format!("  {}  {}", c.id, c.approved.as_deref().unwrap_or(""));
        if let Some(installed) = &c.installed {
            let _ = write!(line, " (installed {installed})");
        }
        let advisory = c
            .advisory
            .clone()
            .or_else(|| (!c.advisories.is_empty()).then(|| c.advisories.join(", ")));
        if let Some(advisory) = advisory {
            let _ = write!(line, "  {advisory}");
        }
        if let Some(released) = c.released {
            let _ = write!(line, ", released {}", released.format("%Y-%m-%d"));
        }
        line
    };
    let plain = |c: &Change| {
        let version = c.installed.as_deref().or(c.approved.as_deref());
        format!("  {}  {}", c.id, version.unwrap_or(""))
    };
    let installed: Vec<String> = diff
        .installed
        .iter()
        .map(|p| {
            let from = p
                .from
                .as_ref()
                .map(|f| format!("{f} -> "))
                .unwrap_or_default();
            format!("  {}  {from}{}", p.id, p.version)
        })
        .collect();
    let lines = |changes: &[Change], line: &dyn Fn(&Change) -> String| {
        changes.iter().map(line).collect::<Vec<_>>()
    };
    let sections = [
        ("newly Missing", lines(&diff.newly_missing, &approved)),
        (
            "approved by the passing of time (now Missing)",
            lines(&diff.approved_by_time, &approved),
        ),
        ("newly installed", installed),
        ("newly Failed", lines(&diff.failed, &approved)),
        ("became pending reboot", lines(&diff.pending_reboot, &plain)),
        ("newly rejected", lines(&diff.rejected, &plain)),
        ("no longer Missing or Failed", lines(&diff.resolved, &plain)),
    ];
    let mut empty = true;
    for (title, lines) in sections {
        if lines.is_empty() {
            continue;
        }
        empty = false;
        let _ = writeln!(text, "{title} ({}):", lines.len());
        for line in lines {
            let _ = writeln!(text, "{line}");
        }
    }
    if let Some(incomplete) = &diff.incomplete {
        let _ = writeln!(text, "incomplete: {incomplete}");
    } else if empty {
        text.push_str("no change\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0)
            .single()
            .unwrap()
    }

    fn entry(id: &str, state: &str, approved: Option<&str>) -> Entry {
        Entry {
            state: Some(state.to_string()),
            installed: Some("1.0".to_string()),
            approved: approved.map(ToString::to_string),
            advisories: approved
                .map(|_| vec![format!("ADV-{id}")])
                .unwrap_or_default(),
            ..Entry::untracked(id)
        }
    }

    fn observation(day: u32, tracked: &[Entry], installed: &[(&str, &str)]) -> Observation {
        Observation {
            header: Record {
                run: 0,
                time: at(day),
                end: at(day),
                operation: "Scan".to_string(),
                baseline_id: "pb-1".to_string(),
                baseline_name: "b".to_string(),
                snapshot_id: format!("snap-{day}"),
                counts: Counts {
                    missing: tracked.len(),
                    ..Counts::default()
                },
                changes: Vec::new(),
                restart: false,
                untracked: false,
                installed: installed
                    .iter()
                    .map(|(id, version)| Installed {
                        id: (*id).to_string(),
                        version: (*version).to_string(),
                        from: Some("1.0".to_string()),
                    })
                    .collect(),
            },
            tracked: Some(tracked.iter().map(|e| (e.id.clone(), e.clone())).collect()),
        }
    }

    /// Appends under the default cap.
    fn push(history: &mut Loaded, observation: Observation) -> Vec<String> {
        append(history, observation, DEFAULT_MAX_BYTES).0
    }

    #[test]
    fn records_keep_only_changes_and_replay_to_each_run() {
        let mut history = Loaded::default();
        let first = [
            entry("a.x", "Missing", Some("2")),
            entry("b.x", "Missing", Some("3")),
        ];
        push(&mut history, observation(1, &first, &[]));
        let second = [
            entry("a.x", "Missing", Some("2")),
            entry("c.x", "Failed", Some("4")),
        ];
        push(&mut history, observation(2, &second, &[("b.x", "3")]));
        let lines = push(&mut history, observation(3, &second, &[]));
        let records = &history.records;
        assert_eq!(records.iter().map(|r| r.run).collect::<Vec<_>>(), [1, 2, 3]);
        // The first run's set is the base; its record keeps none of it.
        assert_eq!(history.base_run, 1);
        assert_eq!(history.base, observation(1, &first, &[]).tracked);
        assert!(records[0].changes.is_empty());
        // b left, c came: two changes; a unchanged is not written again.
        let ids: Vec<(&str, Option<&str>)> = records[1]
            .changes
            .iter()
            .map(|c| (c.id.as_str(), c.state.as_deref()))
            .collect();
        assert_eq!(ids, [("b.x", None), ("c.x", Some("Failed"))]);
        assert!(records[2].changes.is_empty());
        assert!(!lines[2].contains("changes"), "{}", lines[2]);
        assert_eq!(
            replay(&history, Some(0)),
            observation(1, &first, &[]).tracked
        );
        assert_eq!(replay(&history, None), observation(2, &second, &[]).tracked);
        let reread = parse(&(lines.join("\n") + "\n"), Path::new("h"));
        assert_eq!(&reread.records, records);
        assert!(reread.warnings.is_empty());
    }

    #[test]
    fn the_cap_drops_the_oldest_into_the_base() {
        let mut history = Loaded::default();
        for day in 1..=20 {
            let tracked: Vec<Entry> = (0..day)
                .map(|n| entry(&format!("p{n}.x"), "Missing", Some("2")))
                .collect();
            let (lines, _) = append(&mut history, observation(day, &tracked, &[]), 1500);
            let total: usize = lines.iter().map(|l| l.len() + 1).sum();
            assert!(total <= 1500, "{total}");
        }
        let records = &history.records;
        assert!(records.len() < 20 && records.len() > 1);
        assert_eq!(records.last().unwrap().run, 20);
        assert_eq!(history.base_run, records[0].run);
        assert!(records[0].changes.is_empty());
        assert_eq!(records[0].run, 21 - records.len() as u64);
        let expected: Tracked = (0..20)
            .map(|n| entry(&format!("p{n}.x"), "Missing", Some("2")))
            .map(|e| (e.id.clone(), e))
            .collect();
        assert_eq!(replay(&history, None), Some(expected));
        // The oldest kept run's set: its day's packages.
        let first = usize::try_from(records[0].run).unwrap();
        assert_eq!(replay(&history, Some(0)).unwrap().len(), first);
        // A record larger than the cap is still kept, alone, folded into the base.
        let (_, base_changed) = append(&mut history, observation(21, &[], &[]), 10);
        assert!(base_changed);
        assert_eq!(history.records.len(), 1);
        assert_eq!(history.base_run, 21);
        assert_eq!(history.base, Some(Tracked::new()));
    }

    #[test]
    fn a_set_over_the_cap_is_left_out_and_the_next_run_restarts() {
        let mut history = Loaded::default();
        let a = [entry("a.x", "Missing", Some("2"))];
        let b = [entry("b.x", "Missing", Some("3"))];
        push(&mut history, observation(1, &a, &[]));
        let mut over = observation(2, &[], &[("a.x", "2")]);
        over.tracked = None;
        push(&mut history, over);
        let lines = push(&mut history, observation(3, &b, &[]));
        let records = &history.records;
        assert!(records[1].untracked && records[1].changes.is_empty());
        assert!(lines[1].contains("\"untracked\":true"), "{}", lines[1]);
        // The run after it holds its whole set.
        assert!(records[2].restart);
        assert_eq!(records[2].changes, b.to_vec());
        assert!(lines[2].contains("\"restart\":true"), "{}", lines[2]);
        assert_eq!(parse(&lines.join("\n"), Path::new("h")).records, *records);
        assert_eq!(replay(&history, Some(0)).unwrap().len(), 1);
        assert_eq!(replay(&history, Some(1)), None);
        assert_eq!(replay(&history, None), observation(3, &b, &[]).tracked);
        // Two known sets compare in full across the gap; the installs come from every record.
        let across = diff(&history, Some(0)).unwrap();
        assert!(across.incomplete.is_none());
        let ids = |changes: &[Change]| changes.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&across.newly_missing), ["b.x"]);
        assert_eq!(across.installed.len(), 1);
        assert!(across.resolved.is_empty(), "a.x was installed: {across:?}");
        // From the run that is not kept: nothing but the installs after it.
        let from_gap = diff(&history, Some(1)).unwrap();
        assert!(from_gap.incomplete.unwrap().starts_with("run 2's"));
        assert!(from_gap.newly_missing.is_empty() && from_gap.resolved.is_empty());
        // Dropping the oldest folds the untracked run, then the restart, into the base.
        append(&mut history, observation(4, &b, &[]), 10);
        assert_eq!(history.records.len(), 1);
        assert_eq!(history.base, observation(4, &b, &[]).tracked);
        assert!(!history.records[0].restart && history.records[0].changes.is_empty());
        // An untracked first run: the base is not known, the next run restarts.
        let mut history = Loaded::default();
        let mut over = observation(1, &[], &[]);
        over.tracked = None;
        push(&mut history, over);
        assert_eq!((history.base_run, history.base.as_ref()), (1, None));
        push(&mut history, observation(2, &a, &[]));
        assert!(history.records[1].restart);
        assert_eq!(replay(&history, None), observation(2, &a, &[]).tracked);
        let incomplete = diff(&history, Some(0)).unwrap();
        assert!(incomplete.incomplete.unwrap().starts_with("run 1's"));
        assert!(incomplete.newly_missing.is_empty());
        // From the history's start (nothing tracked) it is complete.
        let start = diff(&history, None).unwrap();
        assert_eq!(
            (start.incomplete, ids(&start.newly_missing)),
            (None, vec!["a.x".to_string()])
        );
    }

    #[test]
    fn torn_and_damaged_lines_are_skipped_with_warnings() {
        let mut history = Loaded::default();
        let mut lines = Vec::new();
        for day in 1..=3 {
            lines = push(&mut history, observation(day, &[], &[]));
        }
        // A file of whole records may be appended to as it is; one with a torn, damaged or
        // blank line, or without its last newline, is rewritten.
        let whole = format!("{}\n{}\n", lines[0], lines[1]);
        assert!(parse(&whole, Path::new("h")).clean);
        for not_whole in [
            whole.trim_end().to_string(),
            format!("{}\n\n{}\n", lines[0], lines[1]),
            whole.replace('\n', "\r\n"),
        ] {
            let loaded = parse(&not_whole, Path::new("h"));
            assert_eq!(loaded.records.len(), 2);
            assert!(!loaded.clean, "{not_whole:?}");
        }
        let torn = format!("{}\n{}\n{{\"run\": 4, \"ti", lines[0], lines[1]);
        let loaded = parse(&torn, Path::new("h"));
        assert_eq!(loaded.records.len(), 2);
        assert!(!loaded.damaged && !loaded.clean);
        assert!(loaded.warnings[0].contains("line 3: torn record"));
        let damaged = format!("{}\nnot json\n{}\n", lines[0], lines[2]);
        let loaded = parse(&damaged, Path::new("h"));
        assert_eq!(
            loaded.records.iter().map(|r| r.run).collect::<Vec<_>>(),
            [1, 3]
        );
        assert!(loaded.damaged && !loaded.clean);
        assert!(loaded.warnings[0].contains("line 2: unreadable record"));
    }

    #[test]
    fn diff_sorts_the_changes_by_kind() {
        let mut history = Loaded::default();
        let late = entry("late.x", "Missing", Some("2"));
        let mut new = entry("new.x", "Missing", Some("5"));
        new.released = Some(at(9));
        new.advisory = Some("ALAS-9".to_string());
        // Offered at run 1, refused only for its date.
        let mut waiting = entry("late.x", "Installed", None);
        waiting.waiting = Some("2".to_string());
        // Waiting for 3 at run 1, but 4 is published and Missing since.
        let mut overtaken = entry("over.x", "Installed", None);
        overtaken.waiting = Some("3".to_string());
        let first = [
            waiting,
            overtaken,
            entry("done.x", "Missing", Some("2")),
            entry("gone.x", "Missing", Some("2")),
            entry("stay.x", "Missing", Some("2")),
        ];
        push(&mut history, observation(10, &first, &[]));
        let second = [
            entry("stay.x", "Missing", Some("2")),
            late.clone(),
            new.clone(),
            entry("over.x", "Missing", Some("4")),
            entry("fail.x", "Failed", Some("2")),
        ];
        push(&mut history, observation(12, &second, &[("done.x", "2")]));
        let mut third = second.to_vec();
        third.push(entry("wait.x", "InstalledPendingReboot", None));
        push(&mut history, observation(13, &third, &[("wait.x", "3")]));

        let all = diff(&history, Some(0)).unwrap();
        let ids = |c: &[Change]| c.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(all.since.as_ref().unwrap().run, 1);
        assert_eq!(all.until.run, 3);
        assert_eq!(ids(&all.approved_by_time), ["late.x"]);
        assert_eq!(ids(&all.newly_missing), ["new.x", "over.x"]);
        assert_eq!(all.newly_missing[0].advisory.as_deref(), Some("ALAS-9"));
        assert_eq!(ids(&all.failed), ["fail.x"]);
        assert_eq!(ids(&all.pending_reboot), ["wait.x"]);
        assert_eq!(ids(&all.resolved), ["gone.x"]);
        assert_eq!(
            all.installed
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>(),
            ["done.x", "wait.x"]
        );
        // The default: the run before the newest.
        let last = diff(&history, resolve_since(&history.records, None).unwrap()).unwrap();
        assert_eq!(ids(&last.pending_reboot), ["wait.x"]);
        assert!(last.newly_missing.is_empty() && last.failed.is_empty());
        // From the start: everything tracked is new, nothing aged in (no earlier run).
        let start = diff(&history, None).unwrap();
        assert!(start.approved_by_time.is_empty());
        assert_eq!(
            ids(&start.newly_missing),
            ["late.x", "new.x", "over.x", "stay.x"]
        );
        let table = render_diff(&all);
        assert!(table.contains("approved by the passing of time"), "{table}");
        assert!(table.contains("new.x  5 (installed 1.0)  ALAS-9, released 2026-11-09"));
        assert!(table.contains("done.x  1.0 -> 2"), "{table}");
    }

    #[test]
    fn since_takes_a_run_id_or_a_time() {
        let mut history = Loaded::default();
        for day in [1, 5, 9] {
            push(&mut history, observation(day, &[], &[]));
        }
        assert_eq!(resolve_since(&history.records, Some("2")), Ok(Some(1)));
        assert_eq!(
            resolve_since(&history.records, Some("2026-11-06T00:00:00Z")),
            Ok(Some(1))
        );
        assert_eq!(
            resolve_since(&history.records, Some("2026-11-09T12:00:00Z")),
            Ok(Some(2))
        );
        assert!(
            resolve_since(&history.records, Some("2026-10-01T00:00:00Z"))
                .unwrap_err()
                .contains("oldest recorded run is 1")
        );
        assert!(resolve_since(&history.records, Some("7")).is_err());
        assert!(resolve_since(&history.records, Some("yesterday")).is_err());
        assert_eq!(resolve_since(&history.records[..1], None), Ok(None));
    }

    fn context(now: DateTime<Utc>) -> ReportContext {
        ReportContext {
            instance_id: String::new(),
            snapshot_id: format!("snap-{}", now.timestamp()),
            execution_id: String::new(),
            patch_group: String::new(),
            start: now,
            end: now,
            reboot_option: "NoReboot".to_string(),
            install_override_list: None,
            last_no_reboot_install: None,
        }
    }

    /// The evaluation core's decisions through `observe`: a security update three days old under
    /// a seven-day rule waits for its version; five days later it is approved by the passing of
    /// time. A package whose update the rule refuses for its classification never waits.
    #[test]
    fn observe_tracks_what_waits_for_its_date() {
        let inventory = crate::inventory::Inventory::from_json(
            &serde_json::json!({
                "operatingSystem": "AMAZON_LINUX_2023", "product": "AmazonLinux2023",
                "packageManager": "dnf",
                "advisories": [
                    {"id": "ALAS-1", "type": "security", "severity": "Critical",
                     "issued": "2026-11-28 00:00:00"},
                    {"id": "ALAS-2", "type": "bugfix", "issued": "2026-11-01 00:00:00"}
                ],
                "installed": [
                    {"name": "a", "arch": "x86_64", "version": "1.0-1",
                     "installedTime": "2026-10-01T00:00:00Z"},
                    {"name": "b", "arch": "x86_64", "version": "1.0-1",
                     "installedTime": "2026-10-01T00:00:00Z"}
                ],
                "available": [
                    {"name": "a", "arch": "x86_64", "version": "1.1-1", "advisories": ["ALAS-1"]},
                    {"name": "b", "arch": "x86_64", "version": "1.1-1", "advisories": ["ALAS-2"]}
                ]
            })
            .to_string(),
            "inventory",
        )
        .unwrap();
        let baseline = crate::baseline::Baseline::from_json(
            r#"{"Name": "week", "OperatingSystem": "AMAZON_LINUX_2023", "ApprovalRules":
                {"PatchRules": [{"PatchFilterGroup": {"PatchFilters":
                  [{"Key": "CLASSIFICATION", "Values": ["Security"]}]}, "ApproveAfterDays": 7}]}}"#,
            "baseline",
        )
        .unwrap();
        let evaluate = |now: DateTime<Utc>| {
            let options = crate::evaluate::EvaluateOptions {
                now,
                operation: crate::evaluate::Operation::Scan,
                override_list: None,
                deferred: &[],
            };
            crate::evaluate::evaluate(&inventory, &baseline, &options).unwrap()
        };
        let mut history = Loaded::default();
        let (first, second) = (
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap(),
        );
        let early = evaluate(first);
        let seen = observe(&early, &context(first), None, usize::MAX);
        let tracked = seen.tracked.as_ref().unwrap();
        let waiting = tracked.get("a.x86_64").unwrap();
        assert_eq!(waiting.state.as_deref(), Some("InstalledOther"));
        assert_eq!(waiting.waiting.as_deref(), Some("1.1-1"));
        assert!(!tracked.contains_key("b.x86_64"), "{tracked:?}");
        push(&mut history, seen);
        let late = evaluate(second);
        let before = replay(&history, None).unwrap();
        let seen = observe(&late, &context(second), Some((&before, first)), usize::MAX);
        // Over a cap, no set is kept, and building it stopped at the first entry over.
        let capped = observe(&late, &context(second), Some((&before, first)), 10);
        assert!(capped.tracked.is_none());
        assert_eq!(capped.header.counts, seen.header.counts);
        let missing = seen.tracked.as_ref().unwrap().get("a.x86_64").unwrap();
        assert_eq!(missing.state.as_deref(), Some("Missing"));
        assert_eq!(missing.advisory.as_deref(), Some("ALAS-1"));
        assert!(missing.waiting.is_none());
        push(&mut history, seen);
        let changed = diff(&history, Some(0)).unwrap();
        let ids: Vec<&str> = changed
            .approved_by_time
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["a.x86_64"]);
        assert_eq!(
            changed.approved_by_time[0].was.as_deref(),
            Some("InstalledOther")
        );
        assert!(changed.newly_missing.is_empty() && changed.installed.is_empty());
    }
}
