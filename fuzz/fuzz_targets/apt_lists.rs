//! Feeds the apt index readers arbitrary bytes: `parse_packages` (a `Packages` index, read in
//! chunks and scanned in place), `parse_release` (`Release` or clear-signed `InRelease`), the
//! deb822 paragraph reader, and the `sources.list` readers (one-line and deb822 `.sources`) and
//! the list-name prefixes made of them.
//! Asserts: no panic; the paragraph reader's line numbers only grow and its paragraphs are
//! slices of the input; every listed version has a name; what the metadata cache can hold of
//! the listed versions comes back from it unchanged, in name order; a cache body read from
//! arbitrary text is whole or refused; the body read straight from the stream is the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::apt::deb822::{Paragraphs, field_value};
use patch_baseline::apt::lists::{
    cacheable, decode_packages, encode_packages, packages_body, parse_packages, parse_release,
};
use patch_baseline::apt::sources::{deb822_sources, one_line_sources, text_prefixes};

fuzz_target!(|data: &[u8]| {
    let mut listed = Vec::new();
    if parse_packages(data, 0, &mut listed).is_ok() {
        for version in &listed {
            assert!(!version.name.is_empty(), "a listed version without a name");
        }
        let body = encode_packages(&listed);
        let streamed = packages_body(data);
        assert_eq!(streamed.ok().as_ref(), Some(&body), "streamed body");
        let cached = decode_packages(&body, 0);
        assert!(cached.is_some(), "cache body: {body}");
        let mut kept: Vec<_> = listed.iter().filter_map(cacheable).collect();
        kept.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(cached, Some(kept), "cache body: {body}");
    }
    let _ = parse_release(data, "deb.example.org");
    let mut last_line = 0;
    for (line, paragraph) in Paragraphs::new(data) {
        assert!(line > last_line, "paragraph lines do not grow");
        assert!(paragraph.len() <= data.len());
        last_line = line;
        let _ = field_value(paragraph, "Package");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(versions) = decode_packages(text, 0) {
            assert!(versions.windows(2).all(|w| w[0].name <= w[1].name));
        }
        let _ = one_line_sources(text);
        let _ = deb822_sources(text);
        // The prefixes of as many URIs × suites as the text names, matched against a name.
        for deb822 in [false, true] {
            if let Some(prefixes) = text_prefixes(text, deb822) {
                let _ = prefixes.matches("deb.debian.org_debian_dists_bookworm_InRelease");
            }
        }
    }
});
