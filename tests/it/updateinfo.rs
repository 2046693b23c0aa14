//! The updateinfo parser on every real feed in fixtures/updateinfo (copied from shared/realdata
//! with its PROVENANCE), against counts computed independently over the same files
//! (`expected-counts.txt`, written by the data's collector with Python's XML parser).

use std::collections::BTreeMap;

use patch_baseline::rpm::updateinfo::parse_file;

use crate::util::repo_root;

/// One section of expected-counts.txt: `key=N` numbers and `key={'a': n, …}` tallies.
#[derive(Debug, Default)]
struct Expected {
    numbers: BTreeMap<String, usize>,
    tallies: BTreeMap<String, BTreeMap<String, usize>>,
}

fn parse_expected(text: &str) -> BTreeMap<String, Expected> {
    let mut out: BTreeMap<String, Expected> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            current = name.trim().to_string();
            out.entry(current.clone()).or_default();
            continue;
        }
        let Some(section) = out.get_mut(&current) else {
            continue;
        };
        let mut rest = line.trim();
        while let Some(eq) = rest.find('=') {
            let key = rest[..eq]
                .trim()
                .rsplit(' ')
                .next()
                .unwrap_or("")
                .to_string();
            let after = &rest[eq + 1..];
            if let Some(body) = after.strip_prefix('{') {
                let end = body.find('}').unwrap();
                let mut tally = BTreeMap::new();
                for item in body[..end].split(", '").filter(|i| !i.is_empty()) {
                    let (label, count) = item.rsplit_once(": ").unwrap();
                    tally.insert(
                        label.trim_matches('\'').to_string(),
                        count.trim().parse().unwrap(),
                    );
                }
                section.tallies.insert(key, tally);
                rest = &body[end + 1..];
            } else {
                let end = after.find(' ').unwrap_or(after.len());
                if let Ok(number) = after[..end].parse() {
                    section.numbers.insert(key, number);
                }
                rest = &after[end..];
            }
        }
    }
    out
}

fn tally(values: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for value in values {
        *out.entry(value).or_insert(0) += 1;
    }
    out
}

#[test]
fn every_real_feed_parses_to_the_expected_counts() {
    let dir = repo_root().join("fixtures/updateinfo");
    let expected =
        parse_expected(&std::fs::read_to_string(dir.join("expected-counts.txt")).unwrap());
    assert_eq!(expected.len(), 28);
    let mut advisories = 0;
    let mut packages = 0;
    for (file, want) in &expected {
        let notices = parse_file(&dir.join(file)).unwrap_or_else(|e| panic!("{e}"));
        let all_packages: Vec<_> = notices.iter().flat_map(|n| &n.packages).collect();
        assert_eq!(notices.len(), want.numbers["updates"], "{file}: updates");
        assert_eq!(
            all_packages.len(),
            want.numbers["packages"],
            "{file}: packages"
        );
        assert_eq!(
            notices.iter().map(|n| n.collections).sum::<usize>(),
            want.numbers["collections"],
            "{file}: collections"
        );
        assert_eq!(
            notices.iter().map(|n| n.modules.len()).sum::<usize>(),
            want.numbers["modules"],
            "{file}: modules"
        );
        assert_eq!(
            tally(notices.iter().map(|n| n.advisory.kind.clone())),
            want.tallies["types"],
            "{file}: types"
        );
        assert_eq!(
            tally(notices.iter().map(|n| n.status.clone())),
            want.tallies["status"],
            "{file}: status"
        );
        let severities = tally(notices.iter().map(|n| {
            if n.severity_element {
                n.advisory.severity.clone().unwrap_or_default()
            } else {
                "<none>".into()
            }
        }));
        assert_eq!(severities, want.tallies["severity"], "{file}: severity");
        assert_eq!(
            tally(
                notices
                    .iter()
                    .flat_map(|n| n.references.iter().map(|(k, _)| k.clone()))
            ),
            want.tallies["refs"],
            "{file}: refs"
        );
        assert_eq!(
            tally(
                all_packages
                    .iter()
                    .map(|p| p.epoch.clone().unwrap_or_else(|| "None".into()))
            ),
            want.tallies["epoch-attr"],
            "{file}: epoch"
        );
        assert_eq!(
            tally(all_packages.iter().map(|p| p.arch.clone())),
            want.tallies["arch"],
            "{file}: arch"
        );
        let reboot_elements = want.tallies["reboot"]
            .iter()
            .filter(|(k, _)| k.contains("reboot_suggested"))
            .map(|(_, n)| n)
            .sum::<usize>();
        let restart_elements = want.tallies["reboot"]
            .iter()
            .filter(|(k, _)| k.contains("restart_suggested"))
            .map(|(_, n)| n)
            .sum::<usize>();
        assert_eq!(
            all_packages
                .iter()
                .filter(|p| p.reboot_suggested.is_some())
                .count(),
            reboot_elements,
            "{file}: reboot_suggested"
        );
        assert_eq!(
            all_packages
                .iter()
                .filter(|p| p.restart_suggested.is_some())
                .count(),
            restart_elements,
            "{file}: restart_suggested"
        );
        // Every issued/updated date in the feed is one of the real formats and parses.
        let issued = want.tallies["dates"]
            .iter()
            .filter(|(k, _)| k.starts_with("issued"))
            .map(|(_, n)| n)
            .sum::<usize>();
        let updated = want.tallies["dates"]
            .iter()
            .filter(|(k, _)| k.starts_with("updated"))
            .map(|(_, n)| n)
            .sum::<usize>();
        assert_eq!(
            notices
                .iter()
                .filter(|n| n.advisory.issued.is_some())
                .count(),
            issued,
            "{file}: issued dates"
        );
        assert_eq!(
            notices
                .iter()
                .filter(|n| n.advisory.updated.is_some())
                .count(),
            updated,
            "{file}: updated dates"
        );
        assert!(
            notices.iter().all(|n| !n.advisory.id.is_empty()),
            "{file}: ids"
        );
        advisories += notices.len();
        packages += all_packages.len();
    }
    println!(
        "updateinfo: 28 real feeds, {advisories} advisories, {packages} package entries: counts agree"
    );
}

#[test]
fn details_of_real_feeds() {
    let dir = repo_root().join("fixtures/updateinfo");
    // Rocky: updated earlier than issued, kept as written.
    let rocky = parse_file(&dir.join("vlu-rocky_happy_updateinfo.xml")).unwrap();
    let cves: usize = rocky.iter().map(|n| n.advisory.cves.len()).sum();
    assert_eq!(cves, 5);
    assert!(
        rocky
            .iter()
            .any(|n| n.advisory.severity.as_deref() == Some("None"))
    );
    // openSUSE (namespaced, epoch-second dates, package-level reboot flags).
    let suse = parse_file(&dir.join("libzypp-opensuse11.0-update-updateinfo.xml.gz")).unwrap();
    assert_eq!(
        suse.iter().filter(|n| n.advisory.reboot_suggested).count(),
        suse.iter()
            .filter(|n| n.packages.iter().any(|p| p.reboot_suggested == Some(true)))
            .count()
    );
    assert!(suse.iter().filter(|n| n.advisory.reboot_suggested).count() > 0);
    // An AL2022 package with a non-zero epoch gets it in its EVR.
    let al2022 = parse_file(&dir.join("vlu-amazon_updateinfo_AL2022.xml.gz")).unwrap();
    assert!(
        al2022[0].packages[0].evr().starts_with("2:"),
        "{}",
        al2022[0].packages[0].evr()
    );
    // A truncated feed is an error naming the file, not a panic.
    let text = std::fs::read(dir.join("vlu-rocky_happy_updateinfo.xml")).unwrap();
    let cut = tempfile::NamedTempFile::new().unwrap();
    let name = cut.path().display().to_string();
    // Cut inside a tag: the XML reader refuses it.
    std::fs::write(cut.path(), &text[..text.len() / 2]).unwrap();
    assert!(
        parse_file(cut.path())
            .unwrap_err()
            .to_string()
            .starts_with(&name)
    );
    // Cut cleanly after the first advisory: still refused, not read as a shorter feed.
    let end = String::from_utf8_lossy(&text).find("</update>").unwrap() + "</update>".len();
    std::fs::write(cut.path(), &text[..end]).unwrap();
    let error = parse_file(cut.path()).unwrap_err().to_string();
    assert!(
        error.starts_with(&name) && error.contains("truncated"),
        "{error}"
    );
    // Not XML at all, and a missing file: errors naming the file.
    std::fs::write(cut.path(), "\u{0}\u{1}garbage<<<").unwrap();
    assert!(parse_file(cut.path()).is_err());
    assert!(
        parse_file(&dir.join("no-such-file.xml"))
            .unwrap_err()
            .to_string()
            .contains("no-such-file.xml")
    );
}
