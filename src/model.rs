//! Value types shared by every layer: operating systems, package-manager kinds, compliance
//! levels, patch states, package names and advisory dates.
//!
//! Enum spellings are AWS's own (`AMAZON_LINUX_2`, `CRITICAL`, `InstalledPendingReboot`), see
//! `shared/spec/aws-patch-semantics.md` §1.1 and §4.1.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;

use crate::version::VersionScheme;

/// The `OperatingSystem` of a patch baseline (AWS enum), restricted to what a baseline can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OperatingSystem {
    /// `AMAZON_LINUX` (Amazon Linux AMI 2012.03–2018.03, yum).
    AmazonLinux,
    /// `AMAZON_LINUX_2` (yum).
    AmazonLinux2,
    /// `AMAZON_LINUX_2022` (dnf).
    AmazonLinux2022,
    /// `AMAZON_LINUX_2023` (dnf).
    AmazonLinux2023,
    /// `REDHAT_ENTERPRISE_LINUX` (yum on 7, dnf on 8 and later).
    RedhatEnterpriseLinux,
    /// `CENTOS` (yum on 7, dnf on 8 and Stream).
    Centos,
    /// `ORACLE_LINUX`.
    OracleLinux,
    /// `ROCKY_LINUX` (dnf).
    RockyLinux,
    /// `ALMA_LINUX` (dnf).
    AlmaLinux,
    /// `SUSE` (zypper).
    Suse,
    /// `UBUNTU` (apt).
    Ubuntu,
    /// `DEBIAN` (apt).
    Debian,
    /// `RASPBIAN` (apt).
    Raspbian,
    /// `WINDOWS`: recognised only to be refused.
    Windows,
    /// `MACOS`: recognised only to be refused.
    Macos,
}

/// Every `OperatingSystem` with its AWS spelling.
pub const OPERATING_SYSTEMS: &[(OperatingSystem, &str)] = &[
    (OperatingSystem::AmazonLinux, "AMAZON_LINUX"),
    (OperatingSystem::AmazonLinux2, "AMAZON_LINUX_2"),
    (OperatingSystem::AmazonLinux2022, "AMAZON_LINUX_2022"),
    (OperatingSystem::AmazonLinux2023, "AMAZON_LINUX_2023"),
    (
        OperatingSystem::RedhatEnterpriseLinux,
        "REDHAT_ENTERPRISE_LINUX",
    ),
    (OperatingSystem::Centos, "CENTOS"),
    (OperatingSystem::OracleLinux, "ORACLE_LINUX"),
    (OperatingSystem::RockyLinux, "ROCKY_LINUX"),
    (OperatingSystem::AlmaLinux, "ALMA_LINUX"),
    (OperatingSystem::Suse, "SUSE"),
    (OperatingSystem::Ubuntu, "UBUNTU"),
    (OperatingSystem::Debian, "DEBIAN"),
    (OperatingSystem::Raspbian, "RASPBIAN"),
    (OperatingSystem::Windows, "WINDOWS"),
    (OperatingSystem::Macos, "MACOS"),
];

impl OperatingSystem {
    /// Parses the AWS spelling (exact, upper case).
    pub fn from_aws(text: &str) -> Option<Self> {
        OPERATING_SYSTEMS
            .iter()
            .find(|(_, name)| *name == text)
            .map(|(os, _)| *os)
    }

    /// The AWS spelling, e.g. `AMAZON_LINUX_2`.
    pub fn as_aws(self) -> &'static str {
        OPERATING_SYSTEMS
            .iter()
            .find(|(os, _)| *os == self)
            .map_or("", |(_, name)| name)
    }

    /// The package family whose rules apply, `None` for Windows and macOS.
    pub fn family(self) -> Option<Family> {
        match self {
            Self::Ubuntu | Self::Debian | Self::Raspbian => Some(Family::Apt),
            Self::Suse => Some(Family::Zypper),
            Self::Windows | Self::Macos => None,
            _ => Some(Family::Rpm),
        }
    }
}

impl fmt::Display for OperatingSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_aws())
    }
}

/// The rule family of spec §2: which filter keys exist and how approval works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// yum and dnf: updateinfo advisories (classification, severity, dates).
    Rpm,
    /// zypper: SUSE patches (category, severity, created date), no non-security gate.
    Zypper,
    /// apt: security origin, Priority and Section, no dates.
    Apt,
}

impl Family {
    /// The baseline filter keys valid for this family (spec §2.1).
    pub fn filter_keys(self) -> &'static [FilterKey] {
        match self {
            Self::Rpm | Self::Zypper => &[
                FilterKey::Product,
                FilterKey::Classification,
                FilterKey::Severity,
            ],
            Self::Apt => &[FilterKey::Product, FilterKey::Priority, FilterKey::Section],
        }
    }

    /// How versions of this family are ordered.
    pub fn version_scheme(self) -> VersionScheme {
        match self {
            Self::Rpm | Self::Zypper => VersionScheme::Rpm,
            Self::Apt => VersionScheme::Deb,
        }
    }
}

/// The package manager that produced an inventory; it decides the family and the date rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageManagerKind {
    /// Classic yum (Amazon Linux 1/2, EL7): release time = updated, else issued, date.
    Yum,
    /// dnf (AL2023, EL8+): release time = issued date.
    Dnf,
    /// apt/dpkg.
    Apt,
    /// zypper.
    Zypper,
}

impl PackageManagerKind {
    /// Parses `yum`, `dnf`, `apt` or `zypper`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "yum" => Some(Self::Yum),
            "dnf" => Some(Self::Dnf),
            "apt" => Some(Self::Apt),
            "zypper" => Some(Self::Zypper),
            _ => None,
        }
    }

    /// The rule family.
    pub fn family(self) -> Family {
        match self {
            Self::Yum | Self::Dnf => Family::Rpm,
            Self::Apt => Family::Apt,
            Self::Zypper => Family::Zypper,
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yum => "yum",
            Self::Dnf => "dnf",
            Self::Apt => "apt",
            Self::Zypper => "zypper",
        }
    }
}

/// A baseline filter key (`PatchFilter.Key`) that a Linux baseline may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterKey {
    /// `PRODUCT`: the instance's product string, e.g. `AmazonLinux2023`.
    Product,
    /// `CLASSIFICATION`: advisory type / SUSE category.
    Classification,
    /// `SEVERITY`: vendor severity.
    Severity,
    /// `PRIORITY`: Debian `Priority`.
    Priority,
    /// `SECTION`: Debian `Section`.
    Section,
}

impl FilterKey {
    /// Parses a key of the AWS `PatchFilterKey` enum that is usable in Linux baselines.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "PRODUCT" => Some(Self::Product),
            "CLASSIFICATION" => Some(Self::Classification),
            "SEVERITY" => Some(Self::Severity),
            "PRIORITY" => Some(Self::Priority),
            "SECTION" => Some(Self::Section),
            _ => None,
        }
    }

    /// The AWS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Product => "PRODUCT",
            Self::Classification => "CLASSIFICATION",
            Self::Severity => "SEVERITY",
            Self::Priority => "PRIORITY",
            Self::Section => "SECTION",
        }
    }
}

impl fmt::Display for FilterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `PatchComplianceLevel`, ordered from `Unspecified` (lowest) to `Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize, Default,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ComplianceLevel {
    /// `UNSPECIFIED` (0).
    #[default]
    Unspecified,
    /// `INFORMATIONAL` (1).
    Informational,
    /// `LOW` (2).
    Low,
    /// `MEDIUM` (3).
    Medium,
    /// `HIGH` (4).
    High,
    /// `CRITICAL` (5).
    Critical,
}

impl ComplianceLevel {
    /// Parses the AWS spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "UNSPECIFIED" => Some(Self::Unspecified),
            "INFORMATIONAL" => Some(Self::Informational),
            "LOW" => Some(Self::Low),
            "MEDIUM" => Some(Self::Medium),
            "HIGH" => Some(Self::High),
            "CRITICAL" => Some(Self::Critical),
            _ => None,
        }
    }

    /// The AWS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "UNSPECIFIED",
            Self::Informational => "INFORMATIONAL",
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
            Self::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for ComplianceLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A package's patch state as reported in `AWS:ComplianceItem.PatchState` (spec §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum PatchState {
    /// Installed, and at least as new as the highest approved version.
    Installed,
    /// Installed, no approved version applies.
    InstalledOther,
    /// Installed, matches `RejectedPatches`, and `RejectedPatchesAction` is `BLOCK`.
    InstalledRejected,
    /// Installed by a `NoReboot` install and the machine has not booted since.
    InstalledPendingReboot,
    /// Installed, an approved newer version is available.
    Missing,
    /// An install ran and the approved version is still not installed.
    Failed,
    /// Approved, but the package is not installed (counted, not itemised).
    NotApplicable,
}

impl PatchState {
    /// The AWS spelling, e.g. `InstalledPendingReboot`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Installed => "Installed",
            Self::InstalledOther => "InstalledOther",
            Self::InstalledRejected => "InstalledRejected",
            Self::InstalledPendingReboot => "InstalledPendingReboot",
            Self::Missing => "Missing",
            Self::Failed => "Failed",
            Self::NotApplicable => "NotApplicable",
        }
    }

    /// True if and only if the state makes the item `NON_COMPLIANT`.
    pub fn is_non_compliant(self) -> bool {
        matches!(
            self,
            Self::InstalledRejected | Self::InstalledPendingReboot | Self::Missing | Self::Failed
        )
    }

    /// True if and only if the package is installed in this state's meaning (the version shown is
    /// the installed one).
    pub fn shows_installed_version(self) -> bool {
        matches!(
            self,
            Self::Installed
                | Self::InstalledOther
                | Self::InstalledRejected
                | Self::InstalledPendingReboot
        )
    }
}

impl fmt::Display for PatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a date as found in advisories and in our inventory files.
///
/// Accepted: RFC 3339 (`2020-05-14T20:15:38Z`), `YYYY-MM-DD HH:MM:SS` (optionally followed by a
/// zone name such as `UTC`, which is ignored: all dates are UTC), `YYYY-MM-DD HH:MM`,
/// `YYYY-MM-DD HH`, `YYYY-MM-DD`, and integer or fractional epoch seconds. Returns `None` for
/// anything else (a signed year such as `-025-10-01` too: it cannot be written back as one of
/// these forms); the caller decides what an unreadable date means.
///
/// ```
/// use patch_baseline::model::parse_date;
/// assert_eq!(parse_date("2018-01-11 21:05").unwrap().to_rfc3339(), "2018-01-11T21:05:00+00:00");
/// assert_eq!(parse_date("1213630432").unwrap().to_rfc3339(), "2008-06-16T15:33:52+00:00");
/// ```
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() || text.starts_with(['-', '+']) {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let seconds: f64 = text.parse().ok()?;
        if !seconds.is_finite() || !(0.0..=253_402_300_799.0).contains(&seconds) {
            return None;
        }
        #[expect(
            clippy::cast_possible_truncation,
            reason = "range-checked above; milliseconds are enough"
        )]
        return Utc
            .timestamp_millis_opt((seconds * 1000.0).round() as i64)
            .single();
    }
    // The common `YYYY-MM-DD HH:MM:SS` and RFC 3339's `YYYY-MM-DDTHH:MM:SSZ` (our own
    // inventories), read directly (feeds and inventories hold thousands of them).
    let b = text.as_bytes();
    if (b.len() == 19 || (b.len() == 20 && b[10] == b'T' && b[19] == b'Z'))
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b' ' || b[10] == b'T')
        && b[13] == b':'
        && b[16] == b':'
    {
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            text.get(range.clone())
                .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))?
                .parse()
                .ok()
        };
        let year = i32::try_from(number(0..4)?).ok()?;
        return NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
            .and_then(|d| d.and_hms_opt(number(11..13)?, number(14..16)?, number(17..19)?))
            .map(|d| d.and_utc());
    }
    if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
        return Some(parsed.with_timezone(&Utc));
    }
    let head = text.get(..19).unwrap_or(text);
    for (format, length) in [
        ("%Y-%m-%d %H:%M:%S", 19),
        ("%Y-%m-%dT%H:%M:%S", 19),
        ("%Y-%m-%d %H:%M", 16),
        ("%Y-%m-%d %H", 13),
    ] {
        // chrono needs minutes; an hour-only stamp gets `:00` appended.
        let padded = head.get(..length).map(|p| {
            if length == 13 {
                format!("{p}:00")
            } else {
                p.to_string()
            }
        });
        let format = if length == 13 {
            "%Y-%m-%d %H:%M"
        } else {
            format
        };
        if let Some(prefix) = padded
            && let Ok(naive) = NaiveDateTime::parse_from_str(&prefix, format)
            && text[length..]
                .trim()
                .chars()
                .all(|c| c.is_ascii_alphabetic())
        {
            return Some(naive.and_utc());
        }
    }
    if let Some(prefix) = text.get(..10)
        && text.len() == 10
        && let Ok(date) = NaiveDate::parse_from_str(prefix, "%Y-%m-%d")
    {
        return date.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
    }
    None
}

/// Formats a time as AWS inventory wants it: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_aws_time(time: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let year = time.year();
    if !(0..=9999).contains(&year) {
        // Outside four digits chrono's own form (a sign, more digits) is kept.
        return time.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    }
    // By hand: chrono's `format` parses its pattern on every call, and a 100,000-item report
    // formats a time per item.
    let digits = |out: &mut [u8], value: u32| {
        let mut value = value;
        for slot in out.iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    let mut text = *b"0000-00-00T00:00:00Z";
    digits(&mut text[0..4], year.unsigned_abs());
    digits(&mut text[5..7], time.month());
    digits(&mut text[8..10], time.day());
    digits(&mut text[11..13], time.hour());
    digits(&mut text[14..16], time.minute());
    // A leap second (nanoseconds over a billion) is second 60, as chrono writes it.
    digits(
        &mut text[17..19],
        time.second() + time.nanosecond() / 1_000_000_000,
    );
    text.iter().map(|&b| char::from(b)).collect()
}

/// Returns true if and only if `name` is a plausible package name for any family: 1–255
/// characters from `[A-Za-z0-9+._~^-]` plus `:` for dpkg multi-arch, not starting with `-`.
///
/// Names are checked before they reach a command line (house style: validate before argv).
pub fn is_valid_package_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+._~^-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_time_is_written_as_chrono_writes_it() {
        let chrono_form = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        // Every 7,777,777 s (about 90 days, so every field moves) from year 0 to 9999, plus
        // the edges and a leap second.
        let mut seconds = -62_167_219_200_i64;
        while seconds < 253_402_300_800 {
            let time = Utc.timestamp_opt(seconds, 0).unwrap();
            assert_eq!(format_aws_time(time), chrono_form(time), "{seconds}");
            seconds += 7_777_777;
        }
        for seconds in [
            0,
            253_402_300_799,
            -62_167_219_201,
            253_402_300_800,
            951_782_400,
        ] {
            let time = Utc.timestamp_opt(seconds, 0).unwrap();
            assert_eq!(format_aws_time(time), chrono_form(time), "{seconds}");
        }
        let leap = Utc.timestamp_opt(1_483_228_799, 1_500_000_000).unwrap();
        assert_eq!(format_aws_time(leap), chrono_form(leap));
        assert_eq!(format_aws_time(leap), "2016-12-31T23:59:60Z");
    }

    #[test]
    fn dates_in_all_real_formats() {
        let want = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            parse_date("2023-02-17 20:41:00"),
            Some(want("2023-02-17T20:41:00Z"))
        );
        assert_eq!(
            parse_date("2023-02-17 20:41:00 UTC"),
            Some(want("2023-02-17T20:41:00Z"))
        );
        assert_eq!(
            parse_date("2018-01-11 21:05"),
            Some(want("2018-01-11T21:05:00Z"))
        );
        assert_eq!(
            parse_date("2018-01-11 21"),
            Some(want("2018-01-11T21:00:00Z"))
        );
        assert_eq!(parse_date("2018-01-11"), Some(want("2018-01-11T00:00:00Z")));
        assert_eq!(
            parse_date("2020-05-14T20:15:38Z"),
            Some(want("2020-05-14T20:15:38Z"))
        );
        assert_eq!(parse_date("1766061723"), Some(want("2025-12-18T12:42:03Z")));
        assert_eq!(
            parse_date("1525194800.068"),
            Some(want("2018-05-01T17:13:20.068Z"))
        );
        for bad in [
            "",
            "None",
            "2018-13-01",
            "yesterday",
            "2018-01-11 21:05 +junk1",
            "1e400",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn compliance_order() {
        assert!(ComplianceLevel::Critical > ComplianceLevel::High);
        assert!(ComplianceLevel::Informational > ComplianceLevel::Unspecified);
    }
}
