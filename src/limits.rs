//! Reading files we did not write (keys, policies, configuration, certificates, signatures,
//! journals, trust files) with a size limit, so `--key /dev/zero` or a huge file is a clear
//! error instead of a hang or an exhausted memory.

use std::io::Read;
use std::path::Path;

/// A signing key or public key file.
pub const KEY: u64 = 64 << 10;
/// A policy file.
pub const POLICY: u64 = 1 << 20;
/// The organization file.
pub const CONFIG: u64 = 1 << 20;
/// A certificate (thousands of failed ranges still fit).
pub const CERTIFICATE: u64 = 64 << 20;
/// A detached signature.
pub const SIGNATURE: u64 = 64 << 10;
/// A journal.
pub const JOURNAL: u64 = 64 << 20;
/// A manifest of per-medium records.
pub const MANIFEST: u64 = 16 << 20;
/// An asset register (CSV).
pub const ASSETS: u64 = 256 << 20;
/// An OpenSSH allowed_signers file.
pub const TRUST: u64 = 16 << 20;

/// Reads at most `limit` bytes of `path`.
///
/// # Errors
/// The open or read error, or `InvalidData` ("larger than N bytes") past the limit.
pub fn read(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    bounded(std::fs::File::open(path)?, limit)
}

/// At most `limit` bytes of `f`; past that, `InvalidData`.
fn bounded(f: std::fs::File, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    f.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes, the most a file of this kind may be"),
        ));
    }
    Ok(buf)
}

/// What kind of file `m` is, in words, when it is not a regular file.
fn not_regular(m: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_file() {
        None
    } else if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_dir() {
        Some("a folder")
    } else if t.is_symlink() {
        Some("a symbolic link")
    } else {
        Some("not a file")
    }
}

/// [`read`] for evidence (certificates, signatures): only a regular file is read. Anything
/// else (a FIFO nobody writes to, a device, a socket) is an error at once, never opened for
/// reading where opening has effects and never a hang: the type is checked before opening,
/// and again on the opened file (opened non-blocking, so a FIFO swapped in between cannot
/// block either).
///
/// # Errors
/// As [`read`], and `InvalidInput` ("not a regular file: a FIFO") for any other kind of file.
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    bounded(open_regular(path)?, limit)
}

/// Opens `path` for reading only if it is a regular file (see [`read_regular`]).
///
/// # Errors
/// The open error, or `InvalidInput` ("not a regular file: a FIFO").
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let refuse = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file: {what}"),
        )
    };
    if let Some(what) = not_regular(&std::fs::metadata(path)?) {
        return Err(refuse(what));
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)?;
    match not_regular(&f.metadata()?) {
        Some(what) => Err(refuse(what)),
        None => Ok(f),
    }
}

/// The kind of a file that is not a regular one ("a FIFO", "a symbolic link"), without
/// following a symbolic link; `None` for a regular file or one that cannot be looked at.
pub fn special_kind(path: &Path) -> Option<&'static str> {
    std::fs::symlink_metadata(path)
        .ok()
        .and_then(|m| not_regular(&m))
}

/// [`read`] as UTF-8 text.
///
/// # Errors
/// As [`read`], and `InvalidData` if it is not UTF-8.
pub fn read_to_string(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read(path, limit)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_and_large_inputs_are_cut_off() {
        let e = read(Path::new("/dev/zero"), 1000).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("larger than 1000 bytes"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![b'a'; 1000]).unwrap();
        assert_eq!(
            read(&p, 1000).unwrap().len(),
            1000,
            "exactly the limit is fine"
        );
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert!(read_to_string(&p, 10).is_err());
    }

    #[test]
    fn evidence_is_read_only_from_regular_files_and_a_fifo_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("x.json.sig");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let e = read_regular(&fifo, 1000).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(e.to_string(), "not a regular file: a FIFO");
        assert_eq!(special_kind(&fifo), Some("a FIFO"));
        let e = read_regular(Path::new("/dev/zero"), 1000).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        assert!(read_regular(dir.path(), 1000).is_err());
        let f = dir.path().join("f");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(read_regular(&f, 3).unwrap(), b"abc");
        assert!(read_regular(&f, 2).is_err());
        assert_eq!(special_kind(&f), None);
    }
}
