//! The journal: a wipe's plan (passes, seeds, sampling seed) and its durable progress, one file
//! per medium, so a wipe interrupted by Ctrl-C, a crash or a power cut can `--resume` with the
//! same stream where it stopped. Written atomically (temp file, fsync, rename, fsync of the
//! folder) and only with offsets that a successful flush made true, so no journal ever claims a
//! byte that was not on the medium.
//!
//! A journal is *found by the medium's identity* (serial, WWN, model and size; for an image
//! its device, inode and birth time; for a loop device its backing file), not by the kernel's
//! name, so a drive renumbered by a reboot or a re-seat is resumed under its new name and the
//! drive that now has the old name is not mistaken for it. It is *authenticated*: a keyed
//! BLAKE3 MAC derived from the signing key covers every field, so a journal changed by hand
//! (claiming bytes that were never written) or written under another key is refused, and what
//! it says is range-checked before it is believed.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cert::{PassRecord, PolicyRef};
use crate::contract::IoFailure;
use crate::device::{Kind, Probe};
use crate::error::{Error, Result};

/// The `format` of journals this version writes.
pub const FORMAT: &str = "mediasan-journal/2";

/// The key of the journal MAC, derived from the signing key (so only its holder can write a
/// journal that a later `--resume` believes).
#[derive(Clone)]
pub struct MacKey([u8; 32]);

impl MacKey {
    /// The MAC key of a signing key (in a file or in ssh-agent: see
    /// [`crate::cert::sign::Signing::secret`]).
    ///
    /// # Errors
    /// The agent refused or cannot be reached.
    pub fn of(key: &crate::cert::sign::Signing) -> crate::error::Result<MacKey> {
        let (context, secret) = key.secret()?;
        Ok(MacKey(blake3::derive_key(context, &secret)))
    }

    /// A key for tests (no signing key needed).
    #[cfg(test)]
    pub(crate) fn for_tests(seed: u8) -> MacKey {
        MacKey([seed; 32])
    }

    fn mac(&self, body: &[u8]) -> String {
        blake3::keyed_hash(&self.0, body).to_hex().to_string()
    }
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(..)")
    }
}

/// What identifies the media, so a journal never resumes onto other media.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaKey {
    pub kind: String,
    pub size_bytes: u64,
    pub logical_block_size: u32,
    pub serial: String,
    pub model: String,
    pub wwn: String,
    /// Image files: (device, inode) of the file.
    pub dev_ino: Option<(u64, u64)>,
    /// Image files: the file's birth time (statx btime), in nanoseconds since the epoch, where
    /// the filesystem records it: an inode number can be reused by a new file, a birth time not.
    pub born_ns: Option<u128>,
    /// Loop devices: the backing file.
    pub backing: String,
    /// Loop devices: the backing file's (device, inode).
    #[serde(default)]
    pub backing_id: Option<(u64, u64)>,
}

impl MediaKey {
    /// The key of a probed target.
    pub fn of(p: &Probe) -> MediaKey {
        let block = MediaKey::of_block(p.size, p.logical_block_size, &p.identity, p.backing_id);
        match p.kind {
            Kind::Block => block,
            Kind::Image => MediaKey {
                kind: p.kind.name().into(),
                dev_ino: Some((p.id.dev, p.id.ino)),
                born_ns: p.born_ns,
                ..block
            },
        }
    }

    /// The key of a block device from what sysfs says of it (`list`, which opens nothing).
    pub fn of_block(
        size_bytes: u64,
        logical_block_size: u32,
        id: &crate::device::Identity,
        backing_id: Option<(u64, u64)>,
    ) -> MediaKey {
        MediaKey {
            kind: Kind::Block.name().into(),
            size_bytes,
            logical_block_size,
            serial: id.serial.clone(),
            model: id.model.clone(),
            wwn: id.wwn.clone(),
            dev_ino: None,
            born_ns: None,
            backing: id.backing.clone(),
            backing_id,
        }
    }

    /// The identity a journal is filed under: what tells this medium from every other one,
    /// and not the kernel's name for it. Drives with neither serial nor WWN cannot be told
    /// from an identical drive; their key includes the path, so they are never mixed up
    /// (and cannot follow a renumbering either).
    pub fn lookup_id(&self, canonical: &Path) -> String {
        let strong = !self.serial.is_empty() || !self.wwn.is_empty();
        let text = match (self.kind.as_str(), self.dev_ino) {
            ("image", Some((dev, ino))) => format!(
                "image|{dev}|{ino}|{}|{}",
                self.born_ns.unwrap_or(0),
                self.size_bytes
            ),
            _ if !self.backing.is_empty() => {
                format!(
                    "loop|{}|{:?}|{}",
                    self.backing, self.backing_id, self.size_bytes
                )
            }
            _ if strong => format!(
                "block|{}|{}|{}|{}",
                self.serial, self.wwn, self.model, self.size_bytes
            ),
            _ => format!(
                "block|{}|{}|{}",
                canonical.display(),
                self.model,
                self.size_bytes
            ),
        };
        blake3::hash(text.as_bytes()).to_hex()[..32].to_string()
    }

    /// Why `other` is not the same media, if it is not.
    pub fn differs(&self, other: &MediaKey) -> Option<String> {
        let mut d = Vec::new();
        if self.kind != other.kind {
            d.push(format!("kind {} vs {}", self.kind, other.kind));
        }
        if self.size_bytes != other.size_bytes {
            d.push(format!(
                "size {} vs {} bytes",
                self.size_bytes, other.size_bytes
            ));
        }
        if self.logical_block_size != other.logical_block_size {
            d.push(format!(
                "block size {} vs {}",
                self.logical_block_size, other.logical_block_size
            ));
        }
        for (what, a, b) in [
            ("serial", &self.serial, &other.serial),
            ("model", &self.model, &other.model),
            ("WWN", &self.wwn, &other.wwn),
        ] {
            if a != b {
                d.push(format!("{what} '{a}' vs '{b}'"));
            }
        }
        if self.dev_ino != other.dev_ino || self.born_ns != other.born_ns {
            d.push("not the same file (device, inode or creation time differ)".into());
        }
        if self.backing != other.backing || self.backing_id != other.backing_id {
            d.push(format!(
                "backing file '{}' vs '{}'",
                self.backing, other.backing
            ));
        }
        (!d.is_empty()).then(|| d.join(", "))
    }
}

/// Where the wipe is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// 1-based pass being written; `passes + 1` means verification.
    pub pass: usize,
    /// Durable offset within that pass.
    pub offset: u64,
    /// Failed ranges of that pass below `offset`.
    pub errors: Vec<IoFailure>,
    /// Bytes of that pass written below `offset`.
    pub bytes_written: u64,
    /// The runs that wrote that pass so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<crate::cert::Segment>,
}

/// One target's journal.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub format: String,
    /// The target's path when the wipe began.
    pub target: String,
    pub media: MediaKey,
    pub policy: PolicyRef,
    /// Every planned pass: pattern, generator and seed (results empty).
    pub plan: Vec<PassRecord>,
    /// Passes finished, with their results.
    pub done: Vec<PassRecord>,
    pub position: Position,
    /// `full`, `sampled` or `none`, the requested percent, and the sample seed (hex).
    pub verify_mode: String,
    pub verify_percent: u8,
    pub verify_seed: String,
    /// The buffer size the wipe used (resumed passes keep its chunk boundaries).
    pub buffer_size: u64,
    pub started: String,
    /// Interruptions and resumptions, in order, for the certificate.
    pub events: Vec<String>,
    /// Where each resume continued (pass, offset), so verification can look at the seams.
    #[serde(default)]
    pub resume_points: Vec<(usize, u64)>,
    /// The ids of the INCOMPLETE certificates interrupted runs of this wipe wrote.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
    /// The certificate record the wipe began with (who, which asset, where it goes): a
    /// resumed run certifies with it, and refuses flags that say otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<crate::cert::Record>,
    /// The certificate folder (absolute) the wipe began with: a resumed run stores there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_dir: Option<PathBuf>,
    /// The last moment a run held the medium (each journal save records it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub held_until: String,
    /// Each time the medium was out of mediasan's hands before a run resumed the wipe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<crate::cert::Gap>,
}

/// A journal as stored: the journal and the MAC over its serialized bytes.
#[derive(Serialize, Deserialize)]
struct Sealed<T> {
    format: String,
    mac: String,
    journal: T,
}

/// What can be kept as a sealed journal: the wipe's [`Journal`], the purge's
/// [`crate::purge::journal::Pending`].
pub trait Sealable: Serialize + DeserializeOwned + Clone {
    /// The `format` this version writes and reads.
    const FORMAT: &'static str;
    /// The `format` the journal itself names.
    fn format(&self) -> &str;
    /// Why what it records could not have been written by mediasan, if so.
    fn implausible(&self) -> Option<String>;
}

impl Sealable for Journal {
    const FORMAT: &'static str = FORMAT;
    fn format(&self) -> &str {
        &self.format
    }
    fn implausible(&self) -> Option<String> {
        Journal::implausible(self)
    }
}

impl Journal {
    /// Why this journal cannot be believed, if it cannot: every position and count must be
    /// one the writer could have produced.
    pub fn implausible(&self) -> Option<String> {
        let n = self.plan.len();
        let size = self.media.size_bytes;
        let p = &self.position;
        let bad = |why: String| Some(why);
        if n == 0 || self.plan.iter().enumerate().any(|(i, r)| r.index != i + 1) {
            return bad("its plan has no passes, or they are out of order".into());
        }
        if size == 0 || self.media.logical_block_size == 0 {
            return bad("it records no size".into());
        }
        if p.pass == 0 || p.pass > n + 1 {
            return bad(format!("it is at pass {} of {n}", p.pass));
        }
        if self.done.len() != p.pass - 1
            || self
                .done
                .iter()
                .enumerate()
                .any(|(i, r)| r.index != i + 1 || r.bytes_written > size || r.interrupted)
        {
            return bad("its finished passes do not add up".into());
        }
        if !(512..=(1 << 30)).contains(&self.buffer_size) {
            return bad(format!("buffer size {}", self.buffer_size));
        }
        if p.offset > size {
            return bad(format!("offset {} past the end ({size} bytes)", p.offset));
        }
        if p.pass <= n {
            let period = self.plan[p.pass - 1].pattern().and_then(|x| x.period());
            let chunk = crate::writer::chunk_size(
                usize::try_from(self.buffer_size).unwrap_or(1 << 20),
                self.media.logical_block_size,
                period,
            ) as u64;
            if p.offset != size && !p.offset.is_multiple_of(chunk) {
                return bad(format!("offset {} is not on a chunk boundary", p.offset));
            }
        } else if p.offset != 0 {
            return bad("it is at the verification with an offset".into());
        }
        let end = |e: &IoFailure| e.offset.checked_add(e.length);
        let failed = p
            .errors
            .iter()
            .try_fold(0u64, |sum, e| sum.checked_add(e.length));
        let ordered = p
            .errors
            .windows(2)
            .all(|w| end(&w[0]).is_some_and(|x| x <= w[1].offset));
        if !ordered
            || p.errors
                .iter()
                .any(|e| e.length == 0 || end(e).is_none_or(|x| x > p.offset))
            || failed
                .and_then(|f| p.bytes_written.checked_add(f))
                .is_none_or(|t| t > p.offset)
        {
            return bad("its failed ranges or byte counts do not fit its offset".into());
        }
        if !(1..=100).contains(&self.verify_percent)
            || crate::cert::unhex(&self.verify_seed).is_none_or(|s| s.len() != 32)
        {
            return bad("its verification settings are out of range".into());
        }
        None
    }
}

/// The journal folder: `--journal-dir`, else `$XDG_STATE_HOME/mediasan/journal`, else
/// `~/.local/state/mediasan/journal`.
pub fn default_dir() -> Option<PathBuf> {
    crate::places::state_dir().map(|s| s.join("journal"))
}

/// The journal file of the medium `key` (at `canonical` now) in `dir`: named by the medium's
/// identity ([`MediaKey::lookup_id`]), never by the kernel's name.
pub fn path_for(dir: &Path, key: &MediaKey, canonical: &Path) -> PathBuf {
    dir.join(format!("{}.json", key.lookup_id(canonical)))
}

/// What a journal file holds, as far as it can be believed.
#[derive(Debug)]
pub enum Found<T = Journal> {
    /// A journal this key wrote, unchanged and plausible.
    Valid(Box<T>),
    /// A journal that cannot be believed (changed, another key, another format, damaged):
    /// why. It can only be discarded (`--restart`).
    Invalid(String),
}

/// Reads the journal at `path`, if there is one, and checks its MAC and its contents.
///
/// # Errors
/// [`Error::Usage`] if the file exists but cannot be read.
pub fn load<T: Sealable>(path: &Path, key: &MacKey) -> Result<Option<Found<T>>> {
    let bytes = match crate::limits::read(path, crate::limits::JOURNAL) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Usage(format!(
                "cannot read the journal {}: {e}",
                path.display()
            )))
        }
    };
    let sealed: Sealed<T> = match serde_json::from_slice(&bytes) {
        Ok(s) => s,
        Err(e) => {
            let old = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("format").and_then(|f| f.as_str()).map(str::to_string));
            return Ok(Some(Found::Invalid(match old {
                Some(f) if f != T::FORMAT => {
                    format!("it is a {f} journal, which this version cannot resume")
                }
                _ => format!("it is damaged ({e})"),
            })));
        }
    };
    if sealed.format != T::FORMAT || sealed.journal.format() != T::FORMAT {
        return Ok(Some(Found::Invalid(format!(
            "it is a {} journal, which this version cannot resume",
            sealed.format
        ))));
    }
    let body = serde_json::to_vec(&sealed.journal).unwrap_or_default();
    if key.mac(&body) != sealed.mac {
        return Ok(Some(Found::Invalid(
            "it does not authenticate with this signing key (changed by hand, or written under another key)"
                .into(),
        )));
    }
    Ok(Some(match sealed.journal.implausible() {
        Some(why) => Found::Invalid(format!("what it records is impossible: {why}")),
        None => Found::Valid(Box::new(sealed.journal)),
    }))
}

/// Replaces the journal at `path` atomically (a crash leaves the old or the new one, whole),
/// sealed with `key`.
///
/// # Errors
/// [`Error::Io`] if it cannot be written.
pub fn save<T: Sealable>(path: &Path, j: &T, key: &MacKey) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io("cannot create the journal folder", dir, e))?;
    let tmp = path.with_extension("json.tmp");
    let encode = |e| Error::io("cannot encode the journal", path, std::io::Error::other(e));
    let body = serde_json::to_vec(j).map_err(encode)?;
    let sealed = Sealed {
        format: T::FORMAT.into(),
        mac: key.mac(&body),
        journal: j.clone(),
    };
    let bytes = serde_json::to_vec_pretty(&sealed).map_err(encode)?;
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("cannot write the journal", path, e)
    })
}

/// Removes a journal (the wipe ended with a certificate).
pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> MacKey {
        MacKey([seed; 32])
    }

    /// A plausible journal: 2 random passes of a 1 MiB disk, pass 2 at 256 KiB.
    fn sample() -> Journal {
        let pass = |i| PassRecord {
            index: i,
            prng: Some("aes128-ctr".into()),
            seed: Some("01".repeat(32)),
            ..Default::default()
        };
        Journal {
            format: FORMAT.into(),
            target: "/dev/sdz".into(),
            media: MediaKey {
                kind: "block".into(),
                size_bytes: 1 << 20,
                logical_block_size: 512,
                serial: "S1".into(),
                ..Default::default()
            },
            plan: vec![pass(1), pass(2)],
            done: vec![PassRecord {
                bytes_written: 1 << 20,
                ..pass(1)
            }],
            position: Position {
                pass: 2,
                offset: 256 << 10,
                errors: vec![],
                bytes_written: 256 << 10,
                ..Position::default()
            },
            verify_mode: "sampled".into(),
            verify_percent: 10,
            verify_seed: "02".repeat(32),
            buffer_size: 128 << 10,
            ..Default::default()
        }
    }

    fn valid(f: Option<Found>) -> Journal {
        match f {
            Some(Found::Valid(j)) => *j,
            other => panic!("{other:?}"),
        }
    }

    fn invalid(f: Option<Found>) -> String {
        match f {
            Some(Found::Invalid(why)) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn saves_atomically_and_loads_back_only_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let j = sample();
        let p = path_for(dir.path(), &j.media, Path::new("/dev/sdz"));
        assert!(load::<Journal>(&p, &key(1)).unwrap().is_none());
        save(&p, &j, &key(1)).unwrap();
        assert_eq!(valid(load(&p, &key(1)).unwrap()), j);
        let mut j2 = j.clone();
        j2.position.offset = 512 << 10;
        j2.position.bytes_written = 512 << 10;
        save(&p, &j2, &key(1)).unwrap();
        assert_eq!(valid(load(&p, &key(1)).unwrap()).position.offset, 512 << 10);
        assert!(!p.with_extension("json.tmp").exists(), "no temp file left");
        // Another signing key: not believed.
        assert!(invalid(load(&p, &key(2)).unwrap()).contains("another key"));
        remove(&p);
        assert!(load::<Journal>(&p, &key(1)).unwrap().is_none());
    }

    #[test]
    fn a_journal_with_any_rate_authenticates_after_it_is_read_back() {
        // The MAC covers the journal as written again after reading: a rate whose decimal
        // form does not parse back to the same bits would make a good journal "changed by
        // hand" (a bench drive pulled under load lost its resume so). Every f64 must round-trip.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.json");
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut j = sample();
            // Rates as measured: bytes over elapsed seconds.
            j.done[0].bytes_per_second =
                (1u64 << 20) as f64 / ((x % 1_000_000_007) as f64 / 1e9 + 1e-6);
            j.done[0].bytes_written = x % (1 << 20);
            save(&p, &j, &key(1)).unwrap();
            match load::<Journal>(&p, &key(1)).unwrap() {
                Some(Found::Valid(back)) => {
                    assert_eq!(back.done[0].bytes_per_second, j.done[0].bytes_per_second)
                }
                other => panic!(
                    "draw {i}: rate {:e}: {:?}",
                    j.done[0].bytes_per_second,
                    other.map(|f| match f {
                        Found::Valid(_) => String::new(),
                        Found::Invalid(why) => why,
                    })
                ),
            }
        }
    }

    #[test]
    fn a_journal_changed_by_hand_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let j = sample();
        let p = dir.path().join("j.json");
        save(&p, &j, &key(1)).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        // Claim more bytes than were written: the MAC no longer matches.
        let forged = text.replace("\"offset\": 262144", "\"offset\": 786432");
        assert_ne!(forged, text);
        std::fs::write(&p, &forged).unwrap();
        assert!(invalid(load(&p, &key(1)).unwrap()).contains("changed by hand"));
        std::fs::write(&p, "{ half a journ").unwrap();
        assert!(invalid(load(&p, &key(1)).unwrap()).contains("damaged"));
        std::fs::write(&p, r#"{"format":"mediasan-journal/1","target":"/dev/sdz"}"#).unwrap();
        assert!(invalid(load(&p, &key(1)).unwrap()).contains("mediasan-journal/1"));
    }

    #[test]
    fn impossible_positions_are_refused_even_when_authentic() {
        let ok = sample();
        assert_eq!(ok.implausible(), None);
        type Edit = Box<dyn Fn(&mut Journal)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("past the end", Box::new(|j| j.position.offset = 2 << 20)),
            ("chunk", Box::new(|j| j.position.offset = 1000)),
            ("pass 9", Box::new(|j| j.position.pass = 9)),
            ("pass 0", Box::new(|j| j.position.pass = 0)),
            ("finished", Box::new(|j| j.done.clear())),
            (
                "byte counts",
                Box::new(|j| j.position.bytes_written = 300 << 10),
            ),
            (
                "failed ranges",
                Box::new(|j| j.position.errors = vec![IoFailure::other(255 << 10, 4096, "EIO")]),
            ),
            ("buffer", Box::new(|j| j.buffer_size = 7)),
            ("verification", Box::new(|j| j.verify_percent = 0)),
            ("verification", Box::new(|j| j.verify_seed = "zz".into())),
            ("plan", Box::new(|j| j.plan.clear())),
        ];
        for (what, edit) in cases {
            let mut j = ok.clone();
            edit(&mut j);
            assert!(j.implausible().is_some(), "{what}");
        }
    }

    #[test]
    fn journals_are_filed_by_the_media_not_the_kernel_name() {
        let strong = sample().media;
        assert_eq!(
            path_for(Path::new("/j"), &strong, Path::new("/dev/sdb")),
            path_for(Path::new("/j"), &strong, Path::new("/dev/sdc")),
            "a renumbered drive keeps its journal"
        );
        let other = MediaKey {
            serial: "S2".into(),
            ..strong.clone()
        };
        assert_ne!(
            path_for(Path::new("/j"), &strong, Path::new("/dev/sdb")),
            path_for(Path::new("/j"), &other, Path::new("/dev/sdb")),
            "another drive under the same name has none"
        );
        let weak = MediaKey {
            serial: String::new(),
            ..strong
        };
        assert_ne!(
            path_for(Path::new("/j"), &weak, Path::new("/dev/sdb")),
            path_for(Path::new("/j"), &weak, Path::new("/dev/sdc")),
            "without serial or WWN, identical drives are told apart by name"
        );
    }

    #[test]
    fn media_keys_tell_other_media_apart() {
        let a = MediaKey {
            kind: "block".into(),
            size_bytes: 100,
            serial: "S1".into(),
            ..Default::default()
        };
        assert_eq!(a.differs(&a.clone()), None);
        let b = MediaKey {
            serial: "S2".into(),
            ..a.clone()
        };
        assert!(a.differs(&b).unwrap().contains("serial"));
        let c = MediaKey {
            size_bytes: 200,
            ..a.clone()
        };
        assert!(a.differs(&c).unwrap().contains("size"));
        let i = MediaKey {
            kind: "image".into(),
            dev_ino: Some((1, 2)),
            ..Default::default()
        };
        let j = MediaKey {
            dev_ino: Some((1, 3)),
            ..i.clone()
        };
        assert!(i.differs(&j).unwrap().contains("inode"));
        let k = MediaKey {
            born_ns: Some(5),
            ..i.clone()
        };
        assert!(
            i.differs(&k).is_some(),
            "a reused inode number with another birth time"
        );
    }
}
