//! Version ordering for the two package families: Debian (`dpkg --compare-versions`) and RPM
//! (`rpmvercmp` plus epoch and release, as `rpm.vercmp` does).
//!
//! Both comparators are written from the tools' documented algorithms and are cross-checked
//! against the real `dpkg` and `rpm` binaries by the `version_crosscheck` integration tests.

mod deb;
mod rpm;

pub use deb::{DebVersion, compare_deb};
pub use rpm::{RpmEvr, compare_rpm, rpmvercmp};

use std::cmp::Ordering;

/// Which ordering a version string follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionScheme {
    /// RPM `[epoch:]version-release`, ordered like `rpm.vercmp`.
    Rpm,
    /// Debian `[epoch:]upstream[-revision]`, ordered like `dpkg --compare-versions`.
    Deb,
}

impl VersionScheme {
    /// Compares two version strings under this scheme.
    ///
    /// ```
    /// use patch_baseline::version::VersionScheme;
    /// use std::cmp::Ordering;
    /// assert_eq!(VersionScheme::Deb.compare("1.0~rc1-1", "1.0-1"), Ordering::Less);
    /// assert_eq!(VersionScheme::Rpm.compare("1:1.0-1", "2.0-1"), Ordering::Greater);
    /// ```
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Self::Rpm => compare_rpm(a, b),
            Self::Deb => compare_deb(a, b),
        }
    }
}
