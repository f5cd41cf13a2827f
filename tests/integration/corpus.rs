//! The corpus of real drives' answers (`tests/data/drives/corpus.toml`): every fixture is read
//! and decoded, and every expectation on what mediasan decides from it is asserted. The
//! expectations were written from the standard, not from mediasan's output.

use std::path::{Path, PathBuf};

use mediasan::device::{ata, fixture};
use mediasan::purge::method;
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    fixture: Vec<Fixture>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    file: PathBuf,
    drive: String,
    source: String,
    licence: String,
    original_sha256: String,
    serial_scrubbed: bool,
    why: String,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    model: String,
    firmware: Option<String>,
    medium: String,
    security: Vec<String>,
    sanitize: bool,
    ama: Option<bool>,
    hpa: Option<bool>,
    lba48: Option<bool>,
    sectors: Option<u64>,
    erase_minutes: Option<[u32; 2]>,
    methods: Vec<String>,
    purge: String,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/drives")
}

fn corpus() -> Corpus {
    let text = std::fs::read_to_string(corpus_dir().join("corpus.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

/// The security state as the corpus names it, from word 128.
fn security_words(id: &ata::Identify) -> Vec<String> {
    [
        (id.security, "supported"),
        (id.security_enabled, "enabled"),
        (id.security_locked, "locked"),
        (id.security_frozen, "frozen"),
        (id.security_count_expired, "count-expired"),
        (id.security_enhanced_erase, "enhanced-erase"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| name.to_string())
    .collect()
}

#[test]
fn every_fixture_has_its_provenance_and_a_scrubbed_serial() {
    let c = corpus();
    assert!(c.fixture.len() >= 6);
    for f in &c.fixture {
        let name = f.file.display();
        assert!(
            !f.drive.is_empty() && !f.why.is_empty() && !f.licence.is_empty(),
            "{name}"
        );
        assert!(
            f.source.contains(" @ "),
            "{name}: repository@commit and path"
        );
        assert_eq!(f.original_sha256.len(), 64, "{name}");
        let bytes = std::fs::read(corpus_dir().join(&f.file)).unwrap();
        let answers = fixture::read_skdump(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let id = answers.identify.expect("every ATA fixture has IDENTIFY");
        assert!(
            f.serial_scrubbed,
            "{name}: only scrubbed recordings are kept"
        );
        assert_eq!(
            &id[20..40],
            &[b' '; 20],
            "{name}: serial (words 10-19) blank"
        );
        assert_ne!(
            fixture::identify_checksum(&id),
            Some(false),
            "{name}: word 255's checksum is right"
        );
    }
}

#[test]
fn every_real_drive_is_decoded_and_decided_as_the_standard_says() {
    for f in corpus().fixture {
        let name = f.file.display().to_string();
        let bytes = std::fs::read(corpus_dir().join(&f.file)).unwrap();
        let id = ata::parse_identify(&fixture::read_skdump(&bytes).unwrap().identify.unwrap());
        let e = &f.expect;
        assert_eq!(id.model, e.model, "{name}");
        if let Some(fw) = &e.firmware {
            assert_eq!(&id.firmware, fw, "{name}");
        }
        let (medium, why) = method::ata_medium(id.rotation_rate, id.trim, None);
        assert_eq!(medium.name(), e.medium, "{name}: {why}");
        assert_eq!(security_words(&id), e.security, "{name}");
        assert_eq!(id.sanitize, e.sanitize, "{name}");
        if let Some(ama) = e.ama {
            assert_eq!(id.ama_supported, ama, "{name}");
        }
        if let Some(hpa) = e.hpa {
            assert_eq!(id.hpa_supported, hpa, "{name}");
        }
        if let Some(lba48) = e.lba48 {
            assert_eq!(id.lba48, lba48, "{name}");
        }
        if let Some(sectors) = e.sectors {
            assert_eq!(id.sectors, sectors, "{name}");
        }
        if let Some([normal, enhanced]) = e.erase_minutes {
            assert_eq!(
                (id.erase_minutes, id.enhanced_erase_minutes),
                (normal, enhanced),
                "{name}"
            );
        }
        let methods = method::ata_methods(&id);
        let names: Vec<&str> = methods.iter().map(|m| m.name()).collect();
        assert_eq!(names, e.methods, "{name}");
        let purge = method::strongest(&methods, medium)
            .map(|m| m.name().to_string())
            .unwrap_or_else(|_| "none".into());
        assert_eq!(purge, e.purge, "{name}");
    }
}
