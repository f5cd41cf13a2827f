//! The purge journal: what a later run needs to finish a purge nobody waited for (Ctrl-C, a
//! dropped session, a reboot while the drive sanitized) — the method and what its status must
//! show, the evidence recorded before the command (the canaries' seed, or the hashes of what
//! was there), the certificate's record so far, and whether the command was sent.
//!
//! Written before the command goes out (`planned`) and again once the drive accepted it
//! (`sent`), sealed and filed by the medium's identity exactly as the wipe journal
//! ([`crate::journal`]): a journal changed by hand, written under another key, or naming
//! other media is never believed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::engine::{AfterRule, Evidence, Expect};
use super::method::Method;
use crate::cert::build::PurgeOutcome;
use crate::cert::{hex, unhex};
use crate::contract::Extent;
use crate::journal::{MediaKey, Sealable};
use crate::verify;

/// The `format` of purge journals this version writes.
pub const FORMAT: &str = "mediasan-purge-journal/1";

/// How far the purge got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The evidence is recorded and the command about to be sent: whether the drive got it is
    /// not known.
    Planned,
    /// The drive accepted the command (a blocking one: it returned, the drive had finished).
    Sent,
}

/// Where the samples are and what they held before the purge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Samples {
    /// The sampling seed and percent (the extents are drawn again from them).
    pub seed: String,
    pub percent: u8,
    /// The size and block size they were drawn for.
    pub size: u64,
    pub block: u32,
    /// Canaries: the seed of their data (hashed again at the end).
    pub canary_seed: Option<String>,
    /// Without canaries: the BLAKE3 of each sample before, concatenated, hex.
    pub before: Option<String>,
    /// Where each sample is, when not where it was drawn (a host-managed zoned drive's
    /// canaries go to its zones' write pointers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsets: Option<Vec<u64>>,
}

impl Samples {
    /// The record of `evidence` drawn with `seed` at `percent` of a `size`-byte medium.
    pub fn of(
        evidence: &Evidence,
        seed: &[u8; 32],
        percent: u8,
        size: u64,
        block: u32,
        canary_seed: Option<&[u8; 32]>,
    ) -> Samples {
        let mut s = Samples {
            seed: hex(seed),
            percent,
            size,
            block,
            canary_seed: canary_seed.map(|s| hex(s)),
            // A locked drive: nothing was written or read before, so nothing is recorded.
            before: (!evidence.canaries && !evidence.before.is_empty())
                .then(|| hex(&evidence.before.concat())),
            offsets: None,
        };
        if s.extents() != evidence.extents {
            s.offsets = Some(evidence.extents.iter().map(|e| e.offset).collect());
        }
        s
    }

    /// The sampled extents, where they were drawn or placed.
    pub fn extents(&self) -> Vec<Extent> {
        let s = verify::sample_plan(self.size, self.block, self.percent, &seed32(&self.seed));
        let mut extents: Vec<Extent> = (0..s.extents.len()).map(|i| s.extents.get(i)).collect();
        if let Some(offsets) = &self.offsets {
            for (e, &offset) in extents.iter_mut().zip(offsets) {
                e.offset = offset;
            }
        }
        extents
    }

    /// The evidence as it was recorded before the purge.
    pub fn evidence(&self) -> Evidence {
        let extents = self.extents();
        match (&self.canary_seed, &self.before) {
            (Some(c), _) => Evidence::canaries_written(extents, &seed32(c)),
            (None, Some(b)) => Evidence {
                before: unhex(b)
                    .unwrap_or_default()
                    .chunks_exact(32)
                    .map(|c| c.try_into().unwrap_or([0; 32]))
                    .collect(),
                extents,
                canaries: false,
            },
            (None, None) => Evidence::default(),
        }
    }
}

fn seed32(h: &str) -> [u8; 32] {
    unhex(h).and_then(|v| v.try_into().ok()).unwrap_or([0; 32])
}

/// One drive's unfinished purge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub format: String,
    /// The drive's path when the purge began.
    pub target: String,
    pub media: MediaKey,
    pub stage: Stage,
    /// The method's name ([`Method::from_name`]).
    pub method: String,
    /// What the drive's status must show of our command.
    pub expect: Expect,
    /// What the read-back must find.
    pub rule: AfterRule,
    pub samples: Samples,
    /// How long an unreadable status / progress that does not move is waited out, seconds.
    pub patience_seconds: (u64, u64),
    /// The certificate's record so far (command bytes, options, estimate, scope, the
    /// INCOMPLETE certificates earlier runs wrote, the interruptions).
    pub outcome: PurgeOutcome,
    /// The certificate record the purge began with (who, which asset, where it goes): a run
    /// that finishes it certifies with it, and refuses flags that say otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<crate::cert::Record>,
    /// The certificate folder (absolute) the purge began with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_dir: Option<std::path::PathBuf>,
}

impl Pending {
    /// The method, if this version knows it.
    pub fn method(&self) -> Option<Method> {
        Method::from_name(&self.method)
    }
}

impl Sealable for Pending {
    const FORMAT: &'static str = FORMAT;

    fn format(&self) -> &str {
        &self.format
    }

    fn implausible(&self) -> Option<String> {
        let s = &self.samples;
        let hex32 = |h: &str| unhex(h).is_some_and(|v| v.len() == 32);
        if self.method().is_none() {
            return Some(format!("it names an unknown method '{}'", self.method));
        }
        if s.size == 0 || s.size != self.media.size_bytes || s.block == 0 {
            return Some("its samples do not fit the media it names".into());
        }
        if !(1..=100).contains(&s.percent) || !hex32(&s.seed) {
            return Some("its sampling settings are out of range".into());
        }
        match (&s.canary_seed, &s.before) {
            (Some(c), None) if hex32(c) => {}
            (None, Some(b)) if unhex(b).is_some_and(|v| v.len() == 32 * s.extents().len()) => {}
            (None, None) if self.outcome.locked => {}
            _ => return Some("its record of the samples before the purge is damaged".into()),
        }
        None
    }
}

/// The purge journal of the medium `key` (at `canonical` now) in `dir`, next to the wipe
/// journals and filed the same way.
pub fn path_for(dir: &Path, key: &MediaKey, canonical: &Path) -> PathBuf {
    dir.join(format!("{}.purge.json", key.lookup_id(canonical)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::mem::MemDevice;
    use crate::journal::{self, Found, MacKey};

    fn pending(canaries: bool) -> (Pending, Evidence) {
        let dev = MemDevice::new(1 << 20, 512, 7);
        let seed = [4u8; 32];
        let s = verify::sample_plan(1 << 20, 512, 5, &seed);
        let extents: Vec<_> = (0..s.extents.len()).map(|i| s.extents.get(i)).collect();
        let ev = if canaries {
            Evidence::canaries(&dev, extents, &[9; 32]).unwrap()
        } else {
            Evidence::before(&dev, extents).unwrap()
        };
        let samples = Samples::of(&ev, &seed, 5, 1 << 20, 512, canaries.then_some(&[9; 32]));
        let p = Pending {
            format: FORMAT.into(),
            target: "/dev/nvme9n1".into(),
            media: MediaKey {
                kind: "block".into(),
                size_bytes: 1 << 20,
                logical_block_size: 512,
                serial: "S1".into(),
                ..MediaKey::default()
            },
            stage: Stage::Sent,
            method: Method::NvmeSanitizeCrypto.name().into(),
            expect: Expect {
                nvme_cdw10: Some(4),
                passes: None,
            },
            rule: AfterRule::default(),
            samples,
            patience_seconds: (600, 3600),
            outcome: PurgeOutcome {
                method: "nvme-sanitize-crypto".into(),
                technique: "crypto erase".into(),
                note: None,
                purge_grade: true,
                bus: "nvme".into(),
                command: crate::cert::DeviceCommand::default(),
                drive_failed: None,
                interrupted: None,
                unresolved: None,
                canaries,
                proves: String::new(),
                medium: String::new(),
                inconclusive: 0,
                verification: crate::cert::Verification::default(),
                problems: vec![],
                scope_summary: String::new(),
                started: std::time::SystemTime::UNIX_EPOCH,
                finished: std::time::SystemTime::UNIX_EPOCH,
                events: vec![],
                supersedes: vec![],
                not_sent: None,
                unverified: vec![],
                pel_before: vec![],
                tcg: None,
                tcg_after: None,
                locked: false,
                health: Default::default(),
            },
            record: None,
            cert_dir: None,
        };
        (p, ev)
    }

    #[test]
    fn the_evidence_comes_back_whole_from_the_journal() {
        for canaries in [true, false] {
            let (p, ev) = pending(canaries);
            assert_eq!(p.samples.evidence(), ev, "canaries {canaries}");
            assert_eq!(p.implausible(), None);
        }
    }

    #[test]
    fn a_purge_journal_is_sealed_and_checked_like_a_wipe_journal() {
        let dir = tempfile::tempdir().unwrap();
        let (p, _) = pending(true);
        let path = path_for(dir.path(), &p.media, Path::new("/dev/nvme9n1"));
        assert!(path.to_string_lossy().ends_with(".purge.json"));
        journal::save(&path, &p, &MacKey::for_tests(1)).unwrap();
        match journal::load::<Pending>(&path, &MacKey::for_tests(1)).unwrap() {
            Some(Found::Valid(q)) => assert_eq!(*q, p),
            other => panic!("{other:?}"),
        }
        match journal::load::<Pending>(&path, &MacKey::for_tests(2)).unwrap() {
            Some(Found::Invalid(why)) => assert!(why.contains("another key"), "{why}"),
            other => panic!("{other:?}"),
        }
        // A wipe journal's reader does not take a purge journal for its own.
        match journal::load::<journal::Journal>(&path, &MacKey::for_tests(1)).unwrap() {
            Some(Found::Invalid(why)) => assert!(why.contains(FORMAT), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn impossible_purge_journals_are_refused() {
        let (ok, _) = pending(false);
        type Edit = Box<dyn Fn(&mut Pending)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "method",
                Box::new(|p| p.method = "nvme-sanitize-magic".into()),
            ),
            ("size", Box::new(|p| p.samples.size = 2 << 20)),
            ("percent", Box::new(|p| p.samples.percent = 0)),
            ("seed", Box::new(|p| p.samples.seed = "zz".into())),
            (
                "hashes",
                Box::new(|p| p.samples.before = Some("00".repeat(32))),
            ),
            ("neither", Box::new(|p| p.samples.before = None)),
        ];
        for (what, edit) in cases {
            let mut p = ok.clone();
            edit(&mut p);
            assert!(p.implausible().is_some(), "{what}");
        }
        // Neither canaries nor hashes: only a drive locked before its command, where nothing
        // could be written or read, has no record of the samples.
        let mut locked = ok.clone();
        locked.samples.before = None;
        locked.outcome.locked = true;
        assert_eq!(locked.implausible(), None);
        assert_eq!(locked.samples.evidence(), Evidence::default());
    }
}
