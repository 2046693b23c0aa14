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

    /// A total order for sorting: [`Self::compare`], except that an RPM version without a
    /// release sorts before the same version with one. `compare` treats a missing release as
    /// equal to any release (as rpm does), which is not transitive (`1.0-2 = 1.0 = 1.0-1` but
    /// `1.0-2 > 1.0-1`), and a sort needs a transitive order. Returns the same answer as
    /// `compare` whenever that is not `Equal`.
    ///
    /// ```
    /// use patch_baseline::version::VersionScheme;
    /// use std::cmp::Ordering;
    /// assert_eq!(VersionScheme::Rpm.compare("1.0", "1.0-1"), Ordering::Equal);
    /// assert_eq!(VersionScheme::Rpm.sort_order("1.0", "1.0-1"), Ordering::Less);
    /// ```
    pub fn sort_order(self, a: &str, b: &str) -> Ordering {
        match self {
            Self::Rpm if a == b => Ordering::Equal,
            Self::Rpm => {
                let (a, b) = (RpmEvr::parse(a), RpmEvr::parse(b));
                a.cmp(&b)
                    .then_with(|| a.release().is_some().cmp(&b.release().is_some()))
            }
            Self::Deb => compare_deb(a, b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `compare` is not transitive for RPM versions without a release (a missing release equals
    /// any release); sorting with it can panic ("does not correctly implement a total order")
    /// or misorder. `sort_order` is total. Found by `cargo fuzz` (target `version_order`).
    #[test]
    fn fuzz_rpm_sort_order_is_total() {
        let bytes = include_str!("../../fixtures/fuzz/version_order-crash-fa0d6402");
        let versions: Vec<&str> = bytes.splitn(3, '\0').collect();
        let (a, b, c) = (versions[0], versions[1], versions[2]);
        let rpm = VersionScheme::Rpm;
        assert_eq!(rpm.compare(a, b), Ordering::Equal);
        assert_eq!(rpm.compare(b, c), Ordering::Equal);
        assert_eq!(rpm.compare(a, c), Ordering::Greater);
        assert_eq!(rpm.sort_order(b, a), Ordering::Less);
        assert_eq!(rpm.sort_order(b, c), Ordering::Less);
        assert_eq!(rpm.sort_order(a, c), Ordering::Greater);
        // Many such versions sort without a panic, and in an order `compare` agrees with.
        let mut many: Vec<String> = (0..64)
            .map(|i| match i % 3 {
                0 => format!("1.{}", i % 5),
                1 => format!("1.{}-{}", i % 5, i),
                _ => format!("0:1.{}-{}.x", i % 5, 64 - i),
            })
            .collect();
        many.sort_by(|a, b| rpm.sort_order(a, b));
        for pair in many.windows(2) {
            assert_ne!(
                rpm.compare(&pair[0], &pair[1]),
                Ordering::Greater,
                "{pair:?}"
            );
        }
    }
}
