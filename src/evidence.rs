//! Where the evidence goes: the certificate folder and the journal folder, proven writable
//! (with room) before the first byte of any target is written, and a certificate that is never
//! lost once the data is destroyed.
//!
//! - [`Folder::prepare`] creates a folder, writes and removes a probe file, checks free space,
//!   and (for certificates) keeps a [`Reserve`]: a preallocated file that is deleted just before
//!   the certificate is written, so a filesystem that fills up during the wipe (an image on the
//!   same filesystem, another program) still has room for it.
//! - [`write_certificate`] writes to a temporary name, fsyncs, and links it into place without
//!   overwriting anything, so a failure never leaves a truncated `.json`. If the folder fails,
//!   it falls back to the other folders it is given and says where the certificate went; if
//!   every folder fails, the certificate and its signature are printed on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Bytes kept free per target for its certificate and signature.
pub const RESERVE_BYTES: u64 = 1 << 20;

/// A folder evidence goes into.
#[derive(Clone, Debug)]
pub struct Folder {
    /// Absolute path.
    pub path: PathBuf,
}

impl Folder {
    /// Creates `dir` if need be and proves it writable: a probe file is created, written,
    /// fsynced and removed, and the filesystem must have at least `room` bytes free. `what`
    /// names the folder and its option in errors ("certificate folder (--cert-dir)").
    ///
    /// # Errors
    /// [`Error::Usage`] saying what is wrong and which option to change.
    pub fn prepare(dir: &Path, room: u64, what: &str) -> Result<Folder, Error> {
        let bad = |why: String| Error::Usage(format!("the {what} {} {why}", dir.display()));
        std::fs::create_dir_all(dir).map_err(|e| bad(format!("cannot be created: {e}")))?;
        if !dir.is_dir() {
            return Err(bad("is not a folder".into()));
        }
        let path = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let probe = path.join(format!(".mediasan-probe-{}", std::process::id()));
        let written = (|| -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&probe)?;
            f.write_all(&[0u8; 4096])?;
            f.sync_all()
        })();
        let _ = std::fs::remove_file(&probe);
        written.map_err(|e| bad(format!("is not writable: {e}")))?;
        let free = free_bytes(&path).unwrap_or(u64::MAX);
        if free < room {
            return Err(bad(format!(
                "has only {free} bytes free; at least {room} are needed for the evidence"
            )));
        }
        Ok(Folder { path })
    }
}

/// Bytes available to us on the filesystem of `dir`.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(s.blocks_available() as u64 * s.fragment_size() as u64)
}

/// Room kept for one certificate: a preallocated hidden file, removed when the certificate is
/// written (or when this is dropped).
#[derive(Debug)]
pub struct Reserve {
    path: Option<PathBuf>,
}

impl Reserve {
    /// Preallocates [`RESERVE_BYTES`] in `dir`. A filesystem that cannot preallocate still
    /// gets a reserve written with zeros; one with no room is an error.
    ///
    /// # Errors
    /// [`Error::Usage`] when the room cannot be reserved.
    pub fn new(dir: &Folder) -> Result<Reserve, Error> {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        sweep_stale(&dir.path);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir
            .path
            .join(format!(".mediasan-reserve-{}-{n}", std::process::id()));
        let made = (|| -> std::io::Result<()> {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?;
            let len = RESERVE_BYTES as i64;
            if nix::fcntl::posix_fallocate(&f, 0, len).is_err() {
                let mut w = std::io::BufWriter::new(&f);
                w.write_all(&vec![0u8; RESERVE_BYTES as usize])?;
                w.flush()?;
            }
            f.sync_all()
        })();
        if let Err(e) = made {
            let _ = std::fs::remove_file(&path);
            return Err(Error::Usage(format!(
                "cannot reserve room for certificates in {}: {e}; free some space or choose another --cert-dir",
                dir.path.display()
            )));
        }
        Ok(Reserve { path: Some(path) })
    }

    /// Gives the room back (just before the certificate is written).
    pub fn release(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for Reserve {
    fn drop(&mut self) {
        self.release();
    }
}

/// Removes reserve files left by processes that no longer run (a SIGKILL, a power cut).
fn sweep_stale(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(".mediasan-reserve-") else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Where a certificate was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The certificate, or `None` if no folder took it (it was printed on stderr).
    pub json: Option<PathBuf>,
    /// Its signature.
    pub sig: Option<PathBuf>,
    /// When it is not in the first folder: why that failed, and every later one that did.
    pub fallback: Vec<String>,
    /// Its place in its signer's series, `(series id, number)`, when it has one.
    pub chain: Option<(String, u64)>,
}

/// Writes `bytes` to `dir/name` without ever leaving a partial file there and without
/// overwriting: a temporary file, fsynced, then linked into place, then the folder fsynced.
fn put(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let fin = dir.join(name);
    let r = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, &fin)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    let _ = std::fs::remove_file(&tmp);
    r.map(|()| fin)
}

/// Writes `name` into `dir` unless it is there already (a file named by its content, such as
/// the signer's public key beside its certificates): whole or not at all, never over
/// anything. Best effort: the certificate does not depend on it.
pub fn put_once(dir: &Path, name: &str, bytes: &[u8]) {
    if std::fs::symlink_metadata(dir.join(name)).is_err() {
        let _ = put(dir, name, bytes);
    }
}

/// Where a report (the audit's CSV or HTML) may go: `out` made absolute through its folder.
/// Never an input or anything inside one (`inputs`: the audited folders, bundles and
/// register), never through a symbolic link, never over anything that exists unless `force`,
/// and then only over a regular file.
///
/// # Errors
/// [`Error::Usage`], one line saying why and what to do.
pub fn report_target(out: &Path, inputs: &[&Path], force: bool) -> Result<PathBuf, Error> {
    let shown = out.display();
    let name = out.file_name().ok_or_else(|| {
        Error::Usage(format!(
            "{shown} is not a file name; give FILE.csv or FILE.html"
        ))
    })?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let folder = std::fs::canonicalize(parent).map_err(|e| {
        Error::Usage(format!(
            "cannot write {shown}: its folder {}: {e}",
            parent.display()
        ))
    })?;
    let target = folder.join(name);
    let existing = std::fs::symlink_metadata(out).ok();
    if existing.as_ref().is_some_and(std::fs::Metadata::is_symlink) {
        return Err(Error::Usage(format!(
            "{shown} is a symbolic link; a report is never written through one: give another path"
        )));
    }
    for input in inputs {
        let Ok(i) = std::fs::canonicalize(input) else {
            continue;
        };
        if target == i {
            return Err(Error::Usage(format!(
                "{shown} is one of the audit's inputs; write the report elsewhere"
            )));
        }
        if target.starts_with(&i) {
            return Err(Error::Usage(format!(
                "{shown} is inside the audited folder {}; write the report elsewhere, never among \
                 the evidence",
                input.display()
            )));
        }
    }
    match existing {
        Some(m) if !m.is_file() => Err(Error::Usage(format!(
            "{shown} exists and is not a regular file; give another path"
        ))),
        Some(_) if !force => Err(Error::Usage(format!(
            "{shown} exists; give --force to replace it, or another path"
        ))),
        _ => Ok(target),
    }
}

/// Writes a report to `target` (from [`report_target`]): a temporary file beside it, fsynced,
/// then linked into place (nothing is overwritten, even a file that appeared meanwhile) or,
/// with `force`, renamed over it (the old file is replaced, never written through).
///
/// # Errors
/// The I/O error.
pub fn write_report(target: &Path, bytes: &[u8], force: bool) -> std::io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !force {
        return put(dir, &name, bytes).map(|_| ());
    }
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let r = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, target)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    let _ = std::fs::remove_file(&tmp);
    r
}

/// Writes the certificate `json` (named `name`) and its signature `sig` into the first of
/// `folders` that takes both, the signature first (a signature without its certificate
/// misleads nobody). If none does, both are printed on stderr, so the evidence of a wipe that
/// destroyed data is never lost.
pub fn write_certificate(folders: &[&Path], name: &str, json: &[u8], sig: &str) -> Stored {
    let mut fallback = Vec::new();
    let sig_name = format!("{name}.sig");
    for dir in folders {
        let r = std::fs::create_dir_all(dir)
            .and_then(|()| put(dir, &sig_name, sig.as_bytes()))
            .and_then(|s| match put(dir, name, json) {
                Ok(j) => Ok((j, s)),
                Err(e) => {
                    // Only the signature this attempt put there is taken back.
                    let _ = std::fs::remove_file(&s);
                    Err(e)
                }
            });
        match r {
            Ok((j, s)) => {
                return Stored {
                    json: Some(j),
                    sig: Some(s),
                    fallback,
                    chain: None,
                }
            }
            Err(e) => fallback.push(format!("{}: {e}", dir.display())),
        }
    }
    crate::term::err(&format!(
        "mediasan: could not write the certificate {name} anywhere ({}); here it is, keep it:",
        crate::term::escape(&fallback.join("; "))
    ));
    crate::term::err(&String::from_utf8_lossy(json));
    crate::term::err(sig);
    Stored {
        json: None,
        sig: None,
        fallback,
        chain: None,
    }
}

/// The folders a certificate may fall back to after `first`: the journal folder, the state
/// folder, then /var/tmp and /tmp.
pub fn fallbacks(first: &Path, journal: Option<&Path>) -> Vec<PathBuf> {
    let mut v = vec![first.to_path_buf()];
    if let Some(j) = journal {
        v.push(j.join("certificates"));
    }
    if let Some(s) = crate::places::state_dir() {
        v.push(s.join("certificates"));
    }
    v.push(PathBuf::from("/var/tmp/mediasan-certificates"));
    v.push(PathBuf::from("/tmp/mediasan-certificates"));
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_must_be_writable_and_have_room() {
        let t = tempfile::tempdir().unwrap();
        let f = Folder::prepare(&t.path().join("a/b"), 1024, "certificate folder").unwrap();
        assert!(f.path.is_absolute() && f.path.is_dir());
        assert_eq!(
            std::fs::read_dir(&f.path).unwrap().count(),
            0,
            "no probe left"
        );
        let e = Folder::prepare(Path::new("/proc/version/x"), 0, "certificate folder");
        assert!(matches!(e, Err(Error::Usage(_))));
        let e = Folder::prepare(t.path(), u64::MAX, "certificate folder").unwrap_err();
        assert!(e.to_string().contains("bytes free"), "{e}");
    }

    #[test]
    fn a_reserve_holds_room_until_released() {
        let t = tempfile::tempdir().unwrap();
        let f = Folder::prepare(t.path(), 0, "x").unwrap();
        let mut r = Reserve::new(&f).unwrap();
        let names: Vec<_> = std::fs::read_dir(t.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
        assert_eq!(names[0].metadata().unwrap().len(), RESERVE_BYTES);
        r.release();
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
        // A reserve of a process that is gone is swept.
        std::fs::write(t.path().join(".mediasan-reserve-999999999-0"), b"x").unwrap();
        let _r = Reserve::new(&f).unwrap();
        assert!(!t.path().join(".mediasan-reserve-999999999-0").exists());
    }

    #[test]
    fn certificates_fall_back_and_never_overwrite() {
        let t = tempfile::tempdir().unwrap();
        let good = t.path().join("good");
        let s = write_certificate(&[Path::new("/proc/nope"), &good], "c.json", b"{}", "SIG");
        assert_eq!(s.json, Some(good.join("c.json")));
        assert_eq!(std::fs::read(good.join("c.json.sig")).unwrap(), b"SIG");
        assert_eq!(s.fallback.len(), 1, "{s:?}");
        // The name exists: the next folder takes it; nothing is overwritten.
        let other = t.path().join("other");
        let s2 = write_certificate(&[&good, &other], "c.json", b"{\"x\":1}", "SIG2");
        assert_eq!(s2.json, Some(other.join("c.json")));
        assert_eq!(std::fs::read(good.join("c.json")).unwrap(), b"{}");
        let leftovers: Vec<_> = std::fs::read_dir(&good)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "no temporary files: {leftovers:?}");
        // Nowhere to write: printed, not lost.
        let s3 = write_certificate(&[Path::new("/proc/nope")], "c.json", b"{}", "SIG");
        assert_eq!(s3.json, None);
    }
}
