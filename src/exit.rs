//! Every exit code of `patch-baseline`, decided in one place (house style §2.2).
//!
//! The SSM agent reads 0 as success and 194 as "reboot, then run me again"; anything else is a
//! failure. Codes 1–3 and 194 follow AWS-RunPatchBaseline (spec §7, §8); 4, 5 and 64–76 are ours, from
//! `sysexits.h` where one fits, so a script can tell bad input from a failed operation.

/// The outcome of a command, before it becomes a process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The command did what was asked (an evaluation may still be non-compliant).
    Success,
    /// The package manager failed, or approved updates failed to install.
    Failure,
    /// Approved updates were left out because they would bring in a package `RejectedPatches`
    /// blocks.
    DependencyCheckFailure,
    /// The machine did not reboot after five requests.
    RebootNotHappened,
    /// `--fail-on-non-compliant` was given and something is non-compliant.
    NonCompliant,
    /// `install --plan`: the system or the baseline drifted from the plan (nothing installed).
    PlanDrift,
    /// The command line is wrong.
    Usage,
    /// An input (baseline, inventory, override list) is malformed or inconsistent.
    BadInput,
    /// An input file cannot be read.
    NoInput,
    /// The system is not one this build can scan.
    Unsupported,
    /// A bug: an internal invariant did not hold.
    Internal,
    /// An output file cannot be written.
    CannotWrite,
    /// The package database is locked by another process (named in the message) beyond the
    /// lock timeout.
    Locked,
    /// Another patch-baseline operation holds the operation lock beyond the lock timeout.
    OperationLocked,
    /// Reboot now, then run again (the SSM agent's protocol).
    Reboot,
    /// A payload's SHA-256 is not the one given.
    PayloadChecksum,
    /// A payload is not a readable tar.gz archive.
    PayloadNotAnArchive,
    /// A payload's destination folder cannot be created.
    PayloadCannotCreate,
    /// A payload's extraction was refused (unsafe entry, too large) or failed.
    PayloadExtraction,
    /// A payload's download failed.
    PayloadDownload,
    /// An SSM step of `run` failed with one of the payload codes of spec §8.2
    /// ([`crate::ssm::CODES`]).
    Aws(u8),
}

impl Outcome {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::DependencyCheckFailure => 2,
            Self::RebootNotHappened => 3,
            Self::NonCompliant => 4,
            Self::PlanDrift => 5,
            Self::Usage => 64,
            Self::BadInput => 65,
            Self::NoInput => 66,
            Self::Unsupported => 69,
            Self::Internal => 70,
            Self::CannotWrite => 74,
            Self::Locked => 75,
            Self::OperationLocked => 76,
            Self::Reboot => 194,
            Self::PayloadChecksum => 151,
            Self::PayloadNotAnArchive => 152,
            Self::PayloadCannotCreate => 154,
            Self::PayloadExtraction => 155,
            Self::PayloadDownload => 156,
            Self::Aws(code) => code,
        }
    }
}

/// Every exit code with its meaning, as docs/exit-codes.md lists them (151–156 as AWS's bootstrap uses
/// them, spec §8.1), except `run`'s codes of spec §8.2, which [`crate::ssm::CODES`] lists.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (0, "success (the run finished; compliance is in the output)"),
    (
        1,
        "install: the package manager failed or approved updates failed to install; after a reboot: the install before it had failures (marker 195)",
    ),
    (
        2,
        "install: approved updates were left out because they would bring in a BLOCK-rejected package; after a reboot: the same from the install before it (marker 196)",
    ),
    (
        3,
        "install: the machine did not reboot after 5 requests (the marker is removed)",
    ),
    (4, "non-compliant, only with --fail-on-non-compliant"),
    (64, "bad command line"),
    (
        65,
        "malformed or inconsistent input: baseline, inventory, override list",
    ),
    (66, "an input file or the package database cannot be read"),
    (
        69,
        "the system is not one this build can scan (not a supported Linux, or its backend is not implemented yet)",
    ),
    (70, "internal error (a bug; please report it)"),
    (74, "an output file or the on-host state cannot be written"),
    (
        75,
        "the package database is locked by another process (named) beyond --lock-timeout",
    ),
    (
        76,
        "another patch-baseline scan or install holds the operation lock beyond --lock-timeout",
    ),
    (
        151,
        "payload: the SHA-256 of what was downloaded is not the one given (both are named)",
    ),
    (152, "payload: not a readable tar.gz archive"),
    (
        154,
        "payload: the destination folder cannot be created (or is not empty)",
    ),
    (
        155,
        "payload: extraction refused (absolute path, `..`, a link leaving the folder, a device file, too much content) or failed",
    ),
    (
        156,
        "payload: the download failed (network, HTTP status, S3 error, size limit)",
    ),
    (
        194,
        "reboot, then run again: the SSM agent reboots the machine and re-runs the step",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_is_documented_once() {
        let outcomes = [
            Outcome::Success,
            Outcome::Failure,
            Outcome::DependencyCheckFailure,
            Outcome::RebootNotHappened,
            Outcome::NonCompliant,
            Outcome::Usage,
            Outcome::BadInput,
            Outcome::NoInput,
            Outcome::Unsupported,
            Outcome::Internal,
            Outcome::CannotWrite,
            Outcome::Locked,
            Outcome::OperationLocked,
            Outcome::Reboot,
            Outcome::PayloadChecksum,
            Outcome::PayloadNotAnArchive,
            Outcome::PayloadCannotCreate,
            Outcome::PayloadExtraction,
            Outcome::PayloadDownload,
        ];
        for (code, _) in crate::ssm::CODES {
            assert!(!EXIT_CODES.iter().any(|(c, _)| c == code), "{code}");
            assert_eq!(Outcome::Aws(*code).code(), *code);
        }
        for outcome in outcomes {
            assert_eq!(
                EXIT_CODES
                    .iter()
                    .filter(|(code, _)| *code == outcome.code())
                    .count(),
                1,
                "{outcome:?}"
            );
        }
        assert_eq!(outcomes.len(), EXIT_CODES.len());
    }
}
