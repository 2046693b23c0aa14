//! Feeds `rpm::updateinfo::parse` arbitrary bytes (`updateinfo.xml` of yum, dnf and zypper
//! repositories, already decompressed). Asserts: no panic; every notice it returns has an id,
//! and the metadata cache encodes what it accepts into a body that decodes to the same notices.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patch_baseline::rpm::cache::{Notice, decode_notices, encode_notices};
use patch_baseline::rpm::updateinfo::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(notices) = parse(data, "fuzz") else {
        return;
    };
    for notice in &notices {
        let _ = notice.packages.iter().map(|p| p.evr()).count();
    }
    let cached: Vec<Notice> = notices
        .iter()
        .map(|notice| Notice {
            advisory: notice.advisory.clone(),
            packages: notice
                .packages
                .iter()
                .map(|p| (p.name.as_str().into(), p.arch.as_str().into(), p.evr().into()))
                .collect(),
        })
        .collect();
    if let Some(body) = encode_notices(&cached) {
        assert_eq!(
            decode_notices(&body).as_ref(),
            Some(&cached),
            "the updateinfo cache does not round-trip:\n{body}"
        );
    }
});
