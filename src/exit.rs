//! Every exit code of `patch-baseline`, decided in one place (house style §2.2).
//!
//! The SSM agent reads 0 as success and 194 as "reboot, then run me again"; anything else is a
//! failure. Codes below 64 and from 194 follow AWS-RunPatchBaseline; 64–74 are ours, from
//! `sysexits.h`, so a script can tell bad input from a failed operation.

/// The outcome of a command, before it becomes a process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The command did what was asked (an evaluation may still be non-compliant).
    Success,
    /// The package manager failed (the message names the command and its error).
    Failure,
    /// The package database is locked by another process (named in the message) beyond the
    /// lock timeout.
    Locked,
    /// `--fail-on-non-compliant` was given and something is non-compliant.
    NonCompliant,
    /// The command line is wrong.
    Usage,
    /// An input (baseline, inventory, override list) is malformed or inconsistent.
    BadInput,
    /// An input file cannot be read.
    NoInput,
    /// An output file cannot be written.
    CannotWrite,
    /// The system is not one this build can scan.
    Unsupported,
    /// A bug: an internal invariant did not hold.
    Internal,
}

impl Outcome {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Locked => 75,
            Self::NonCompliant => 4,
            Self::Usage => 64,
            Self::BadInput => 65,
            Self::NoInput => 66,
            Self::Unsupported => 69,
            Self::Internal => 70,
            Self::CannotWrite => 74,
        }
    }
}

/// Every exit code with its meaning, as the README lists them.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (
        0,
        "success (the evaluation ran; compliance is in the output)",
    ),
    (1, "the package manager failed during install"),
    (4, "non-compliant, only with --fail-on-non-compliant"),
    (64, "bad command line"),
    (
        65,
        "malformed or inconsistent input: baseline, inventory, override list",
    ),
    (66, "an input file cannot be read"),
    (
        69,
        "the system is not one this build can scan (not a supported Linux, or its backend is not implemented yet)",
    ),
    (70, "internal error (a bug; please report it)"),
    (74, "an output file cannot be written"),
    (
        75,
        "the package database is locked by another process (named) beyond --lock-timeout",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_is_documented() {
        for outcome in [
            Outcome::Success,
            Outcome::Failure,
            Outcome::Locked,
            Outcome::NonCompliant,
            Outcome::Usage,
            Outcome::BadInput,
            Outcome::NoInput,
            Outcome::CannotWrite,
            Outcome::Unsupported,
            Outcome::Internal,
        ] {
            assert!(EXIT_CODES.iter().any(|(code, _)| *code == outcome.code()));
        }
    }
}
