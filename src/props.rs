//! Property tests: every decoder of what a drive or the kernel hands us (IDENTIFY data, log
//! pages, sense data, mountinfo, sysfs strings) and every reader of files we did not write
//! (policies, the organization file, certificates, signatures, allowed_signers, journals)
//! gives a value or a clean error on arbitrary, mutated, truncated and extreme inputs: it
//! never panics and never loops.

use proptest::prelude::*;

use crate::cert::{sign, trust};
use crate::device::{ata, safety};
use crate::device::{nvme, scsi};

/// Mutations of a valid sample: truncation, byte flips, insertions and huge numbers.
fn mutated(sample: &'static str) -> impl Strategy<Value = String> {
    let len = sample.len();
    (
        0..=len,
        proptest::collection::vec((0..len.max(1), any::<u8>()), 0..8),
        prop_oneof![
            Just(String::new()),
            Just("18446744073709551616".to_string()),
            Just("-9999999999999999999999".to_string()),
            Just("\u{0}\u{202e}\n[[".to_string()),
            "\\PC{0,40}",
        ],
        0..=len,
    )
        .prop_map(move |(cut, flips, insert, at)| {
            let mut b = sample.as_bytes().to_vec();
            for (i, v) in flips {
                if i < b.len() {
                    b[i] = v;
                }
            }
            let at = at.min(b.len());
            b.splice(at..at, insert.bytes());
            b.truncate(cut.max(at));
            String::from_utf8_lossy(&b).into_owned()
        })
}

const POLICY: &str = "name = \"p\"\ndescription = \"d\"\nprng = \"chacha8\"\nshuffle = [1, 2]\n\
[verify]\nmode = \"sample\"\npercent = 25\n[[pass]]\npattern = \"random\"\n[[pass]]\nbytes = [0x92, 0x49]\n";
const CONFIG: &str =
    "organization = \"A\"\ncert_dir = \"/c\"\npolicy = \"nist-clear\"\nallowed_signers = \"/a\"\n";
const MOUNTINFO: &str = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n30 22 7:0 / /mnt/my\\040disk rw - xfs /dev/loop0 rw\n";
const ALLOWED: &str = "lab,ops-* namespaces=\"mediasan-certificate\",valid-after=\"20260101\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPHH2eehP4zKT9Q01DeWlZbiRGDhxYLpV3Tt8urOaDMl c\n";
const SIGNATURE: &str = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg8cfZ56E/jMpP1DTUN5aVluJEYO\nHFgulXdO3y6s5oMyUAAAAUbWVkaWFzYW4tY2VydGlmaWNhdGUAAAAAAAAABnNoYTUxMgAA\nAFMAAAALc3NoLWVkMjU1MTkAAABAs2Gmdke/uj6r4DrCnj1uBPwUhXEmmNaEZVvgNSgRkq\n7/AbJAm8b7Qhsg599HHWCrTHsJq+4FIcVLG6+pLXo+DA==\n-----END SSH SIGNATURE-----\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn ata_answers(page in proptest::collection::vec(any::<u8>(), 512), sense in proptest::collection::vec(any::<u8>(), 0..96)) {
        let page: [u8; 512] = page.try_into().unwrap();
        let id = ata::parse_identify(&page);
        let _ = crate::purge::method::ata_medium(id.rotation_rate, id.trim, None);
        let _ = crate::purge::method::ata_methods(&id);
        let _ = crate::purge::engine::ata_end(2, &sense);
        let _ = ata::parse_dco_max_lba(&page);
        let _ = ata::decode_return(&sense);
        let _ = ata::hidden_sectors(id.sectors, Some(u64::MAX), Some(u64::MAX));
        let _ = ata::hidden_sectors(u64::MAX, Some(0), None);
    }

    #[test]
    fn nvme_answers(page in proptest::collection::vec(any::<u8>(), 4096)) {
        let page: [u8; 4096] = page.try_into().unwrap();
        let c = nvme::parse_controller(&page);
        let _ = crate::purge::method::nvme_purges(&c);
        let _ = nvme::current_lba_format(&page);
        let _ = nvme::ns_format(&page);
        let _ = nvme::deallocated_byte(&page);
        let log: [u8; 512] = page[..512].try_into().unwrap();
        let st = nvme::parse_sanitize_log(&log);
        let _ = st.percent();
    }

    #[test]
    fn scsi_answers(sense in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = scsi::decode_sense(&sense);
        let _ = scsi::supported(&sense);
    }

    #[test]
    fn kernel_tables(text in mutated(MOUNTINFO), raw in "\\PC{0,200}") {
        let _ = safety::parse_mountinfo(&text);
        let _ = safety::parse_mountinfo(&raw);
        let _ = safety::parse_swaps(&text);
        let _ = crate::units::parse_size(&raw);
    }

    #[test]
    fn policies_and_the_organization_file(p in mutated(POLICY), c in mutated(CONFIG)) {
        let _ = crate::policy::parse(&p, "fuzz");
        let _ = crate::config::parse(&c, "fuzz");
    }

    #[test]
    fn signatures_and_trust_files(s in mutated(SIGNATURE), a in mutated(ALLOWED), t in "\\PC{0,20}") {
        let _ = sign::dearmor(s.as_bytes());
        let _ = sign::check(b"message", s.as_bytes());
        let _ = trust::parse_allowed_signers(&a, "fuzz");
        let _ = trust::parse_time(&t);
        let _ = trust::matches_list(&t, &a);
    }

    #[test]
    fn certificates(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = serde_json::from_slice::<crate::cert::Certificate>(&bytes);
    }
}

/// A journal of a real (tiny) wipe, sealed with a test key.
fn journal_text() -> (String, crate::journal::MacKey) {
    use crate::journal::{Journal, MediaKey, Position, FORMAT};
    let dir = tempfile::tempdir().unwrap();
    let key = crate::cert::sign::generate(&dir.path().join("k"), "t").unwrap();
    let mac = crate::journal::MacKey::of(&crate::cert::sign::Signing::plain(key)).unwrap();
    let pass = |i| crate::cert::PassRecord {
        index: i,
        prng: Some("aes128-ctr".into()),
        seed: Some("01".repeat(32)),
        ..Default::default()
    };
    let j = Journal {
        format: FORMAT.into(),
        media: MediaKey {
            kind: "block".into(),
            size_bytes: 1 << 20,
            logical_block_size: 512,
            ..Default::default()
        },
        plan: vec![pass(1), pass(2)],
        done: vec![pass(1)],
        position: Position {
            pass: 2,
            offset: 1 << 19,
            errors: vec![],
            bytes_written: 1 << 19,
            ..Position::default()
        },
        verify_mode: "sampled".into(),
        verify_percent: 10,
        verify_seed: "02".repeat(32),
        buffer_size: 1 << 19,
        ..Default::default()
    };
    let p = dir.path().join("j.json");
    crate::journal::save(&p, &j, &mac).unwrap();
    (std::fs::read_to_string(&p).unwrap(), mac)
}

#[test]
fn journals_survive_every_mutation() {
    use proptest::test_runner::{Config, TestRunner};
    let (text, mac) = journal_text();
    let text: &'static str = Box::leak(text.into_boxed_str());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("j.json");
    let mut runner = TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    });
    runner
        .run(&mutated(text), |t| {
            std::fs::write(&p, &t).unwrap();
            let _ = crate::journal::load::<crate::journal::Journal>(&p, &mac);
            Ok(())
        })
        .unwrap();
}

/// Edge values that reach the deepest checks: judged, never an overflow.
#[test]
fn journal_arithmetic_does_not_overflow() {
    let (text, _) = journal_text();
    let sealed: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut j: crate::journal::Journal = serde_json::from_value(sealed["journal"].clone()).unwrap();
    let size = u64::MAX - u64::MAX % (1 << 19);
    j.media.size_bytes = size;
    j.position.offset = size;
    for (offset, length) in [(size / 2, u64::MAX), (u64::MAX, 1), (0, u64::MAX)] {
        j.position.errors = vec![
            crate::contract::IoFailure::other(offset, length, "x"),
            crate::contract::IoFailure::other(u64::MAX, u64::MAX, "y"),
        ];
        assert!(j.implausible().is_some());
    }
    j.position.errors.clear();
    j.position.bytes_written = u64::MAX;
    let _ = j.implausible();
}

/// Authentic journals whose numbers are extreme: judged, never a panic or an overflow.
#[test]
fn authentic_journals_with_extreme_numbers_are_judged() {
    use proptest::test_runner::{Config, TestRunner};
    let (text, _) = journal_text();
    let sealed: serde_json::Value = serde_json::from_str(&text).unwrap();
    let j: crate::journal::Journal = serde_json::from_value(sealed["journal"].clone()).unwrap();
    let big = prop_oneof![Just(0u64), Just(u64::MAX), Just(u64::MAX - 1), any::<u64>()];
    let mut runner = TestRunner::new(Config {
        cases: 512,
        ..Config::default()
    });
    runner
        .run(
            &(
                big.clone(),
                big.clone(),
                big.clone(),
                big,
                1usize..=3,
                any::<u8>(),
            ),
            |(off, len, size, bw, pass, pct)| {
                let mut j = j.clone();
                j.done = j.plan[..pass - 1].to_vec();
                j.position.offset = off;
                j.position.bytes_written = bw;
                j.position.pass = pass;
                j.position.errors = vec![crate::contract::IoFailure::other(off / 2, len, "x")];
                j.media.size_bytes = size;
                j.buffer_size = len;
                j.verify_percent = pct;
                let _ = j.implausible();
                Ok(())
            },
        )
        .unwrap();
}
