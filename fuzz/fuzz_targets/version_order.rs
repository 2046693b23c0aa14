//! Feeds the version comparators (`compare_deb`, as `dpkg --compare-versions`; `compare_rpm`
//! and `rpmvercmp`, as rpm; `VersionScheme::sort_order`, what sorts use) up to three versions
//! split at NUL bytes. Asserts, with no panic: `compare_deb`, `rpmvercmp` and both schemes'
//! `sort_order` are total orders (reflexive, antisymmetric: `a < b` exactly when `b > a`, and
//! transitive over the three); `compare_rpm` is reflexive and antisymmetric (not transitive:
//! a missing release equals any release, as in rpm) and `sort_order` agrees with it wherever
//! it is not `Equal`.
#![no_main]

use std::cmp::Ordering;

use libfuzzer_sys::fuzz_target;
use patch_baseline::version::{VersionScheme, compare_deb, compare_rpm, rpmvercmp};

fn check_order(
    name: &str,
    compare: &dyn Fn(&str, &str) -> Ordering,
    versions: &[&str],
    transitive: bool,
) {
    for a in versions {
        assert_eq!(compare(a, a), Ordering::Equal, "{name}: `{a}` is not equal to itself");
        for b in versions {
            let ab = compare(a, b);
            assert_eq!(ab, compare(b, a).reverse(), "{name}: `{a}` vs `{b}` is not antisymmetric");
            for c in versions.iter().filter(|_| transitive) {
                if ab != Ordering::Greater && compare(b, c) != Ordering::Greater {
                    assert_ne!(
                        compare(a, c),
                        Ordering::Greater,
                        "{name}: `{a}` <= `{b}` <= `{c}` but `{a}` > `{c}`"
                    );
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let versions: Vec<&str> = text.splitn(3, '\0').collect();
    check_order("compare_deb", &compare_deb, &versions, true);
    check_order("rpmvercmp", &rpmvercmp, &versions, true);
    check_order("compare_rpm", &compare_rpm, &versions, false);
    for scheme in [VersionScheme::Rpm, VersionScheme::Deb] {
        let sort_order = |a: &str, b: &str| scheme.sort_order(a, b);
        check_order("sort_order", &sort_order, &versions, true);
        for a in &versions {
            for b in &versions {
                let compared = scheme.compare(a, b);
                if compared != Ordering::Equal {
                    assert_eq!(scheme.sort_order(a, b), compared, "{scheme:?}: `{a}` vs `{b}`");
                }
            }
        }
    }
});
