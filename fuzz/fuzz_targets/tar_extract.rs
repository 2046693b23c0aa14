//! Feeds `payload::extract` (the payload's tar.gz extractor) arbitrary archives, in a fresh
//! temporary folder per input: a gzip stream as it is, anything else as a tar that is gzipped
//! first (so the mutations reach the tar headers). Asserts: no panic; nothing is written
//! outside the destination (the folder beside it and its file are unchanged, nothing new
//! appears next to them); every link the extraction leaves resolves inside the destination.
#![no_main]

use std::io::Write as _;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use patch_baseline::payload::{Limits, extract};

const SENTINEL: &[u8] = b"outside the destination\n";

/// Every path under `dir` (not following links), depth first.
fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        out.push(path.clone());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&path, out);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let base = tempfile::tempdir().expect("a temporary folder");
    let base_path = base.path().canonicalize().expect("the folder resolves");
    let destination = base_path.join("destination");
    let outside = base_path.join("outside");
    std::fs::create_dir(&destination).expect("the destination");
    std::fs::create_dir(&outside).expect("the folder beside it");
    std::fs::write(outside.join("sentinel"), SENTINEL).expect("the sentinel");
    let archive = base_path.join("payload.tar.gz");
    if data.starts_with(&[0x1f, 0x8b]) {
        std::fs::write(&archive, data).expect("the archive");
    } else {
        let mut gzip = flate2::write::GzEncoder::new(
            std::fs::File::create(&archive).expect("the archive"),
            flate2::Compression::fast(),
        );
        gzip.write_all(data).expect("gzip");
        gzip.finish().expect("gzip");
    }
    let limits = Limits {
        max_extracted: 1 << 20,
        max_entries: 512,
        ..Limits::default()
    };
    let _ = extract(&archive, &destination, "fuzz", &limits);

    let mut seen = Vec::new();
    walk(&base_path, &mut seen);
    for path in &seen {
        let allowed = path == &archive
            || path == &destination
            || path == &outside
            || path == &outside.join("sentinel")
            || path.starts_with(&destination);
        assert!(allowed, "the extraction wrote `{}`", path.display());
        if path.starts_with(&destination)
            && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
            && let Ok(resolved) = path.canonicalize()
        {
            assert!(
                resolved.starts_with(&destination),
                "the link `{}` resolves outside the destination, to `{}`",
                path.display(),
                resolved.display()
            );
        }
    }
    assert_eq!(
        std::fs::read(outside.join("sentinel")).ok().as_deref(),
        Some(SENTINEL),
        "the file beside the destination changed"
    );
});
