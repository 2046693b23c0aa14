//! Maintenance windows: an install that must finish by a deadline (`--max-duration`,
//! `--deadline`). The updates are put in batches, most severe first (compliance level, then
//! classification Security, then the rest), with every update that asks for a reboot in one
//! batch that runs last, so the machine reboots once; each batch is estimated from its download
//! size and the rate this machine's package manager was measured at; batches are started
//! while the next one is expected to finish before the deadline. Pure: the caller measures,
//! reads and writes the rate, and installs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::evaluate::PlannedUpdate;
use crate::model::{ComplianceLevel, Family};

/// The most updates one batch holds (the granularity of the deadline).
pub const BATCH_SIZE: usize = 25;

/// What one update costs besides its download size: unpacking, scripts, the database (bytes
/// counted as this many). An update whose size is unknown counts as the batch's known average,
/// else as this alone.
pub const PER_UPDATE_BYTES: u64 = 1 << 20;

/// The rate assumed before any install was measured on this machine: 1 MiB/s.
pub const DEFAULT_BYTES_PER_SECOND: f64 = 1_048_576.0;

/// Whether updating `name` asks for a reboot on `family` (besides what advisories say): the
/// kernel and the libraries and services every process uses.
pub fn asks_for_reboot(family: Family, name: &str) -> bool {
    let listed: &[&str] = match family {
        Family::Apt => &[
            "linux-image*",
            "linux-modules*",
            "linux-firmware",
            "libc6",
            "systemd",
            "dbus*",
            "intel-microcode",
            "amd64-microcode",
        ],
        Family::Rpm | Family::Zypper => crate::rpm::reboot::REBOOT_PACKAGES,
    };
    crate::rpm::reboot::is_listed(listed, name)
}

/// The install rate measured on this machine (kept in the state folder between runs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    /// Bytes (download size plus [`PER_UPDATE_BYTES`] per update) installed per second.
    pub bytes_per_second: f64,
    /// How many transactions it was measured over.
    pub samples: u32,
}

impl Default for Rate {
    fn default() -> Self {
        Self {
            bytes_per_second: DEFAULT_BYTES_PER_SECOND,
            samples: 0,
        }
    }
}

impl Rate {
    /// The rate after one more measured transaction of `bytes` (as [`Batch::bytes`] counts
    /// them) that took `took`: the mean of the last measurements, the newest weighing half.
    #[must_use]
    pub fn updated(self, bytes: u64, took: Duration) -> Self {
        let seconds = took.as_secs_f64().max(0.001);
        #[expect(
            clippy::cast_precision_loss,
            reason = "byte counts far below 2^52; a rate estimate"
        )]
        let measured = bytes as f64 / seconds;
        if !measured.is_finite() || measured <= 0.0 {
            return self;
        }
        let bytes_per_second = if self.samples == 0 {
            measured
        } else {
            f64::midpoint(self.bytes_per_second, measured)
        };
        Self {
            bytes_per_second,
            samples: self.samples.saturating_add(1),
        }
    }

    /// How long `bytes` take at this rate.
    pub fn estimate(self, bytes: u64) -> Duration {
        let rate = if self.bytes_per_second.is_finite() && self.bytes_per_second > 0.0 {
            self.bytes_per_second
        } else {
            DEFAULT_BYTES_PER_SECOND
        };
        #[expect(
            clippy::cast_precision_loss,
            reason = "byte counts far below 2^52; a time estimate"
        )]
        let seconds = bytes as f64 / rate;
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
    }
}

/// One batch: updates installed in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    /// Indexes into the updates given to [`batches`].
    pub updates: Vec<usize>,
    /// The highest compliance level among them.
    pub compliance: ComplianceLevel,
    /// It holds the updates that ask for a reboot.
    pub reboot: bool,
    /// The bytes it is estimated by: download sizes (known or averaged) plus
    /// [`PER_UPDATE_BYTES`] per update.
    pub bytes: u64,
}

/// How severe an update is, for ordering: compliance level, then Security.
fn rank(update: &PlannedUpdate) -> (ComplianceLevel, bool) {
    (
        update.compliance,
        update.classification.eq_ignore_ascii_case("security"),
    )
}

/// The batches of `updates` (with their download sizes, `None` where unknown), in the order
/// they are to be considered: most severe first, at most [`BATCH_SIZE`] each; the updates that
/// ask for a reboot form one batch, placed by its most severe update.
pub fn batches(updates: &[PlannedUpdate], sizes: &[Option<u64>]) -> Vec<Batch> {
    let known: Vec<u64> = sizes.iter().flatten().copied().collect();
    let average = if known.is_empty() {
        0
    } else {
        known.iter().sum::<u64>() / known.len() as u64
    };
    let cost = |index: usize| {
        sizes
            .get(index)
            .copied()
            .flatten()
            .unwrap_or(average)
            .saturating_add(PER_UPDATE_BYTES)
    };
    let mut order: Vec<usize> = (0..updates.len()).collect();
    // Most severe first; by name within a rank, so that the batches are the same every run.
    order.sort_by(|&a, &b| {
        rank(&updates[b])
            .cmp(&rank(&updates[a]))
            .then_with(|| updates[a].name.cmp(&updates[b].name))
            .then_with(|| updates[a].arch.cmp(&updates[b].arch))
    });
    let make = |members: Vec<usize>, reboot: bool| Batch {
        compliance: members
            .iter()
            .map(|&i| updates[i].compliance)
            .max()
            .unwrap_or_default(),
        bytes: members.iter().map(|&i| cost(i)).sum(),
        updates: members,
        reboot,
    };
    let (rebooting, rest): (Vec<usize>, Vec<usize>) =
        order.into_iter().partition(|&i| updates[i].reboot);
    let mut out: Vec<Batch> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut current_rank = None;
    for index in rest {
        let this = rank(&updates[index]);
        if current.len() == BATCH_SIZE || current_rank.is_some_and(|r| r != this) {
            out.push(make(std::mem::take(&mut current), false));
        }
        current_rank = Some(this);
        current.push(index);
    }
    if !current.is_empty() {
        out.push(make(current, false));
    }
    if let Some(&first) = rebooting.first() {
        let position = out
            .iter()
            .position(|b| {
                b.updates
                    .first()
                    .is_some_and(|&i| rank(&updates[i]) < rank(&updates[first]))
            })
            .unwrap_or(out.len());
        out.insert(position, make(rebooting, true));
    }
    out
}

/// Which batches to start within `budget`, at `rate`: in order, while the running total of
/// estimates stays within the budget; the first that does not fit and all after it are
/// deferred. The chosen ones are returned in the order to run them: the reboot batch last.
pub fn schedule(batches: Vec<Batch>, rate: Rate, budget: Duration) -> (Vec<Batch>, Vec<Batch>) {
    let mut total = Duration::ZERO;
    let mut chosen = Vec::new();
    let mut deferred = Vec::new();
    for batch in batches {
        let after = total.saturating_add(rate.estimate(batch.bytes));
        if deferred.is_empty() && after <= budget {
            total = after;
            chosen.push(batch);
        } else {
            deferred.push(batch);
        }
    }
    chosen.sort_by_key(|b| b.reboot);
    (chosen, deferred)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(name: &str, compliance: ComplianceLevel, class: &str, reboot: bool) -> PlannedUpdate {
        PlannedUpdate {
            name: name.into(),
            arch: "x86_64".into(),
            from_version: "1".into(),
            version: "2".into(),
            reason: String::new(),
            compliance,
            classification: class.into(),
            reboot,
        }
    }

    fn names(updates: &[PlannedUpdate], batch: &Batch) -> Vec<String> {
        batch
            .updates
            .iter()
            .map(|&i| updates[i].name.clone())
            .collect()
    }

    #[test]
    fn batches_go_most_severe_first_with_the_reboot_batch_placed_by_its_severity() {
        use ComplianceLevel::{Critical, High, Low};
        let updates = vec![
            update("low-bug", Low, "Bugfix", false),
            update("high-sec", High, "Security", false),
            update("high-bug", High, "Bugfix", false),
            update("kernel", High, "Security", true),
            update("crit", Critical, "Security", false),
            update("glibc", Low, "Security", true),
        ];
        let sizes = vec![Some(100), Some(200), None, Some(1000), Some(300), Some(400)];
        let all = batches(&updates, &sizes);
        let order: Vec<Vec<String>> = all.iter().map(|b| names(&updates, b)).collect();
        assert_eq!(
            order,
            [
                vec!["crit"],
                vec!["high-sec"],
                vec!["kernel", "glibc"],
                vec!["high-bug"],
                vec!["low-bug"],
            ]
        );
        assert!(all[2].reboot);
        assert_eq!(all[2].compliance, High);
        // high-bug's size is unknown: the known average (400) stands in.
        assert_eq!(all[3].bytes, 400 + PER_UPDATE_BYTES);
        assert_eq!(all[2].bytes, 1400 + 2 * PER_UPDATE_BYTES);

        // At 1 MiB/s crit and high-sec take about 1 s each, the reboot batch 2 s: those fit in
        // 4.5 s, high-bug would not; the reboot batch runs last.
        let (chosen, deferred) = schedule(all, Rate::default(), Duration::from_millis(4500));
        let chosen: Vec<Vec<String>> = chosen.iter().map(|b| names(&updates, b)).collect();
        assert_eq!(
            chosen,
            [vec!["crit"], vec!["high-sec"], vec!["kernel", "glibc"]]
        );
        assert_eq!(deferred.len(), 2);
    }

    #[test]
    fn a_batch_never_holds_more_than_its_size_and_the_reboot_batch_runs_last() {
        let updates: Vec<PlannedUpdate> = (0..60)
            .map(|i| {
                update(
                    &format!("p{i:02}"),
                    ComplianceLevel::Medium,
                    "Security",
                    i == 7,
                )
            })
            .collect();
        let all = batches(&updates, &vec![Some(0); 60]);
        let sizes: Vec<usize> = all.iter().map(|b| b.updates.len()).collect();
        assert_eq!(sizes, [25, 25, 9, 1]);
        let (chosen, deferred) = schedule(all, Rate::default(), Duration::from_secs(3600));
        assert!(deferred.is_empty());
        assert!(chosen.last().is_some_and(|b| b.reboot));
        assert_eq!(chosen.iter().filter(|b| b.reboot).count(), 1);
    }

    #[test]
    fn the_rate_follows_measurements_and_survives_nonsense() {
        let rate = Rate::default().updated(2_000_000, Duration::from_secs(1));
        assert!((rate.bytes_per_second - 2_000_000.0).abs() < 1.0);
        let rate = rate.updated(1_000_000, Duration::from_secs(1));
        assert!((rate.bytes_per_second - 1_500_000.0).abs() < 1.0);
        assert_eq!(rate.samples, 2);
        assert_eq!(rate.updated(0, Duration::from_secs(1)), rate);
        let broken = Rate {
            bytes_per_second: f64::NAN,
            samples: 3,
        };
        assert_eq!(broken.estimate(1_048_576), Duration::from_secs(1));
        assert!(Rate::default().estimate(u64::MAX).as_secs() > 1_000_000);
    }
}
