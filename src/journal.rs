//! The journal: a wipe's plan (passes, seeds, sampling seed) and its durable progress, one file
//! per target, so a wipe interrupted by Ctrl-C, a crash or a power cut can `--resume` with the
//! same stream where it stopped. Written atomically (temp file, fsync, rename, fsync of the
//! folder) and only with offsets that a successful flush made true, so no journal ever claims a
//! byte that was not on the medium.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cert::{PassRecord, PolicyRef};
use crate::device::{Kind, Probe};
use crate::error::{Error, Result};
use crate::writer::IoFailure;

/// The `format` of journals this version writes.
pub const FORMAT: &str = "mediasan-journal/1";

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
}

impl MediaKey {
    /// The key of a probed target.
    pub fn of(p: &Probe) -> MediaKey {
        let image = p.kind == Kind::Image;
        let dev_ino = image.then_some((p.id.dev, p.id.ino));
        let born_ns = if image { p.born_ns } else { None };
        MediaKey {
            kind: p.kind.name().into(),
            size_bytes: p.size,
            logical_block_size: p.logical_block_size,
            serial: p.identity.serial.clone(),
            model: p.identity.model.clone(),
            wwn: p.identity.wwn.clone(),
            dev_ino,
            born_ns,
            backing: p.identity.backing.clone(),
        }
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
        if self.backing != other.backing {
            d.push(format!(
                "backing file '{}' vs '{}'",
                self.backing, other.backing
            ));
        }
        (!d.is_empty()).then(|| d.join(", "))
    }
}

/// Where the wipe is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// 1-based pass being written; `passes + 1` means verification.
    pub pass: usize,
    /// Durable offset within that pass.
    pub offset: u64,
    /// Failed ranges of that pass below `offset`.
    pub errors: Vec<IoFailure>,
    /// Bytes of that pass written below `offset`.
    pub bytes_written: u64,
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
}

/// The journal folder: `--journal-dir`, else `$XDG_STATE_HOME/mediasan/journal`, else
/// `~/.local/state/mediasan/journal`.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(base.join("mediasan").join("journal"))
}

/// The journal file of the target at `canonical` in `dir`.
pub fn path_for(dir: &Path, canonical: &Path) -> PathBuf {
    let base = crate::cert::safe_name(canonical);
    let h = blake3::hash(canonical.as_os_str().as_encoded_bytes()).to_hex();
    dir.join(format!("{base}-{}.json", &h[..16]))
}

/// Reads a journal, if there is one.
///
/// # Errors
/// [`Error::Usage`] if the file exists but cannot be read or parsed.
pub fn load(path: &Path) -> Result<Option<Journal>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Usage(format!(
                "cannot read the journal {}: {e}",
                path.display()
            )))
        }
    };
    let j: Journal = serde_json::from_slice(&bytes).map_err(|e| {
        Error::Usage(format!(
            "the journal {} is damaged ({e}); remove it or use --restart",
            path.display()
        ))
    })?;
    if j.format != FORMAT {
        return Err(Error::Usage(format!(
            "{} is not a {FORMAT} journal",
            path.display()
        )));
    }
    Ok(Some(j))
}

/// Replaces the journal at `path` atomically: a crash leaves the old or the new one, whole.
///
/// # Errors
/// [`Error::Io`] if it cannot be written.
pub fn save(path: &Path, j: &Journal) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io("cannot create the journal folder", dir, e))?;
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(j)
        .map_err(|e| Error::io("cannot encode the journal", path, std::io::Error::other(e)))?;
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| Error::io("cannot write the journal", path, e))
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

    #[test]
    fn saves_atomically_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = path_for(dir.path(), Path::new("/dev/disk/by-id/ata-X Y"));
        assert!(p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("ata-X_Y-"));
        assert_eq!(load(&p).unwrap(), None);
        let mut j = Journal {
            format: FORMAT.into(),
            target: "/dev/sdz".into(),
            ..Default::default()
        };
        j.position = Position {
            pass: 2,
            offset: 4096,
            errors: vec![],
            bytes_written: 4096,
        };
        save(&p, &j).unwrap();
        assert_eq!(load(&p).unwrap(), Some(j.clone()));
        j.position.offset = 8192;
        save(&p, &j).unwrap();
        assert_eq!(load(&p).unwrap().unwrap().position.offset, 8192);
        assert!(!p.with_extension("json.tmp").exists(), "no temp file left");
        std::fs::write(&p, "{ half a journ").unwrap();
        assert!(matches!(load(&p), Err(Error::Usage(_))));
        remove(&p);
        assert_eq!(load(&p).unwrap(), None);
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
