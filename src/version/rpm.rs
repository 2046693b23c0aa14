//! RPM versions: `rpmvercmp` and `[epoch:]version[-release]` ordering as rpm 4.18's `rpm.vercmp`.

use std::cmp::Ordering;

/// An RPM epoch-version-release, parsed the way rpm parses an EVR string: the epoch is the digits
/// before the first `:`, the release follows the last `-`.
///
/// ```
/// use patch_baseline::version::RpmEvr;
/// let evr = RpmEvr::parse("32:9.8.2-0.62.rc1.57.amzn1");
/// assert_eq!(evr.epoch(), Some("32"));
/// assert_eq!(evr.version(), "9.8.2");
/// assert_eq!(evr.release(), Some("0.62.rc1.57.amzn1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmEvr<'a> {
    epoch: Option<&'a str>,
    version: &'a str,
    release: Option<&'a str>,
}

impl<'a> RpmEvr<'a> {
    /// Splits an EVR string; never fails.
    pub fn parse(text: &'a str) -> Self {
        // Metadata never pads its versions: trimmed only when an end is not plainly visible.
        let text = match (text.as_bytes().first(), text.as_bytes().last()) {
            (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => {
                text
            }
            _ => text.trim(),
        };
        let (epoch, rest) = match text.split_once(':') {
            Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) => {
                (if e.is_empty() { None } else { Some(e) }, rest)
            }
            _ => (None, text),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v, Some(r)),
            None => (rest, None),
        };
        Self {
            epoch,
            version,
            release,
        }
    }

    /// The epoch as written, `None` when absent (ordered as `0`).
    pub fn epoch(&self) -> Option<&'a str> {
        self.epoch
    }

    /// The epoch as written, or `"0"` when absent.
    pub fn epoch_or_zero(&self) -> &'a str {
        self.epoch.unwrap_or("0")
    }

    /// The version part.
    pub fn version(&self) -> &'a str {
        self.version
    }

    /// The release part, `None` when the string had no `-`.
    pub fn release(&self) -> Option<&'a str> {
        self.release
    }
}

impl Ord for RpmEvr<'_> {
    /// Epoch, then version, then release; a missing release compares equal to any release,
    /// as in rpm's `rpmverCmp`.
    fn cmp(&self, other: &Self) -> Ordering {
        rpmvercmp(self.epoch_or_zero(), other.epoch_or_zero())
            .then_with(|| rpmvercmp(self.version, other.version))
            .then_with(|| match (self.release, other.release) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                _ => Ordering::Equal,
            })
    }
}

impl PartialOrd for RpmEvr<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two EVR strings as `rpm --eval '%{lua: print(rpm.vercmp(a, b))}'` does.
pub fn compare_rpm(a: &str, b: &str) -> Ordering {
    // The same text is the same version (the scan compares each offered version with the
    // installed one, most often equal), without parsing either.
    if a == b {
        return Ordering::Equal;
    }
    RpmEvr::parse(a).cmp(&RpmEvr::parse(b))
}

/// rpm's `rpmvercmp`: compares one version (or release) segment string.
///
/// Alphanumeric runs are compared pairwise; numeric runs numerically and newer than alphabetic
/// runs; `~` sorts before anything (even the end), `^` after the end but before anything else.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let separator = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while i < a.len() && separator(a[i]) {
            i += 1;
        }
        while j < b.len() && separator(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            match (ca, cb) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(x), _) if x != b'^' => return Ordering::Greater,
                (_, Some(y)) if y != b'^' => return Ordering::Less,
                _ => {}
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca.is_none() || cb.is_none() {
            break;
        }
        let numeric = a[i].is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let end_a = i + a[i..].iter().take_while(|c| class(c)).count();
        let end_b = j + b[j..].iter().take_while(|c| class(c)).count();
        if end_b == j {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut seg_a, mut seg_b) = (&a[i..end_a], &b[j..end_b]);
        if numeric {
            while seg_a.first() == Some(&b'0') {
                seg_a = &seg_a[1..];
            }
            while seg_b.first() == Some(&b'0') {
                seg_b = &seg_b[1..];
            }
            let by_length = seg_a.len().cmp(&seg_b.len());
            if by_length != Ordering::Equal {
                return by_length;
            }
        }
        let by_bytes = seg_a.cmp(seg_b);
        if by_bytes != Ordering::Equal {
            return by_bytes;
        }
        i = end_a;
        j = end_b;
    }
    match (i < a.len(), j < b.len()) {
        (false, false) => Ordering::Equal,
        (true, _) => Ordering::Greater,
        (false, true) => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_versions_compare_as_trimmed_ones() {
        for (a, b) in [
            (" 1.0-1", "1.0-1"),
            ("1:2.0-3\n", "1:2.0-3"),
            ("\u{a0}1.0-1", "1.0-1"),
        ] {
            assert_eq!(compare_rpm(a, b), Ordering::Equal, "{a:?} {b:?}");
            assert_eq!(RpmEvr::parse(a), RpmEvr::parse(b), "{a:?}");
        }
        assert_eq!(compare_rpm("1.0-1 ", "1.0-2"), Ordering::Less);
        assert_eq!(RpmEvr::parse("").version(), "");
    }
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn rpmvercmp_edge_cases() {
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("5.0.1", "5.0.1a", Less),
            ("1.010", "1.10", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("1.0^git1", "1.0^git2", Less),
            ("el8", "el8_1", Less),
            ("amzn2", "amzn2.0.1", Less),
            ("a", "1", Less),
            ("1a", "1.a", Equal),
            (
                "2.module+el8.4.0+404+316a0dc5.2",
                "2.module+el8.4.0+404+316a0dc5.10",
                Less,
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn evr_ordering() {
        assert_eq!(compare_rpm("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(compare_rpm("0:1.0-1", "1.0-1"), Equal);
        assert_eq!(compare_rpm("1.0-1.el8", "1.0-1.el8_1"), Less);
        assert_eq!(compare_rpm("1.0", "1.0-5"), Equal);
    }
}
