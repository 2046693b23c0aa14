//! Benchmark: parse an Amazon Linux 2-sized updateinfo feed (about 8 MB uncompressed, the size
//! AL2 core's repomd.xml declares), built by repeating the real AL2 advisories of
//! `fixtures/updateinfo/vlu-amazon_updateinfo_2_items.xml.gz` with unique ids. Target: < 100 ms.
//! Run with `cargo bench --bench updateinfo`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use patch_baseline::rpm::updateinfo::parse_file;

fn main() {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/updateinfo/vlu-amazon_updateinfo_2_items.xml.gz");
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&source).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let start = text.find("<update ").unwrap();
    let end = text.rfind("</update>").unwrap() + "</update>".len();
    let (head, body, tail) = (&text[..start], &text[start..end], &text[end..]);
    let mut feed = String::from(head);
    let mut copies = 0;
    while feed.len() < 8_150_000 {
        feed.push_str(&body.replace("<id>ALAS", &format!("<id>C{copies}-ALAS")));
        copies += 1;
    }
    feed.push_str(tail);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("updateinfo.xml");
    std::fs::write(&plain, &feed).unwrap();
    let gz = dir.path().join("updateinfo.xml.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    encoder.write_all(feed.as_bytes()).unwrap();
    encoder.finish().unwrap();
    for (label, path) in [("plain", &plain), ("gz", &gz)] {
        let mut best = Duration::MAX;
        let mut count = 0;
        for _ in 0..7 {
            let started = Instant::now();
            count = parse_file(path).unwrap().len();
            best = best.min(started.elapsed());
        }
        println!(
            "updateinfo {label}: {:.1} MB uncompressed, {count} advisories: best {:.1} ms (target < 100 ms)",
            feed.len() as f64 / 1e6,
            best.as_secs_f64() * 1000.0
        );
    }
}
