//! Debian version strings and their ordering (Debian Policy §5.6.12, dpkg's `verrevcmp`).

use std::cmp::Ordering;

/// A Debian version split into epoch, upstream version and revision.
///
/// Parsing never fails: like dpkg's comparison, malformed parts are compared as they are.
///
/// ```
/// use patch_baseline::version::DebVersion;
/// let v = DebVersion::parse("1:4.13+dfsg1-1+deb12u2");
/// assert_eq!(v.epoch(), 1);
/// assert_eq!(v.upstream(), "4.13+dfsg1");
/// assert_eq!(v.revision(), "1+deb12u2");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebVersion<'a> {
    epoch: u64,
    upstream: &'a str,
    revision: &'a str,
}

impl<'a> DebVersion<'a> {
    /// Splits `[epoch:]upstream[-revision]`; the revision follows the last `-`.
    pub fn parse(text: &'a str) -> Self {
        let text = text.trim();
        let (epoch, rest) = match text.split_once(':') {
            Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
                (e.parse().unwrap_or(u64::MAX), rest)
            }
            _ => (0, text),
        };
        let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
        Self {
            epoch,
            upstream,
            revision,
        }
    }

    /// The epoch, 0 when absent.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The upstream version.
    pub fn upstream(&self) -> &'a str {
        self.upstream
    }

    /// The Debian revision, empty when absent.
    pub fn revision(&self) -> &'a str {
        self.revision
    }
}

impl Ord for DebVersion<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| verrevcmp(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

impl PartialOrd for DebVersion<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two Debian version strings exactly as `dpkg --compare-versions` does.
pub fn compare_deb(a: &str, b: &str) -> Ordering {
    // The same text is the same version (the lists repeat versions across indexes).
    if a == b {
        return Ordering::Equal;
    }
    DebVersion::parse(a).cmp(&DebVersion::parse(b))
}

/// The weight dpkg gives a character in the non-digit part: `~` sorts before everything,
/// even the end of the string; letters sort before other characters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit_at = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit_at(a, i)) || (j < b.len() && !digit_at(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit_at(a, i) && digit_at(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit_at(a, i) {
            return Ordering::Greater;
        }
        if digit_at(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn policy_edge_cases() {
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0-1", "1.0-1+deb12u1", Less),
            ("2.0~rc1", "2.0", Less),
            ("3.0.11-1~deb12u2", "3.0.11-1", Less),
            ("1ubuntu0.1", "1ubuntu0.10", Less),
            ("0.1.0-4.1", "0.1.0-4~deb12u1", Greater),
            ("0.09-1", "0~git20101011-3.1", Greater),
            ("1.0", "1~a", Greater),
            ("0.1.2+repack-1", "0.1.2+~0.1.0-1", Greater),
            ("1:0.1", "2.0", Greater),
            ("1.0-0", "1.0", Equal),
            ("1.001", "1.1", Equal),
            ("~~", "~~a", Less),
            ("~~a", "~", Less),
            ("~", "", Less),
            ("a", "+", Less),
            ("1.0a", "1.0.", Less),
            ("99999999999999999999999", "100000000000000000000000", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_deb(a, b), want, "{a} vs {b}");
            assert_eq!(compare_deb(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
