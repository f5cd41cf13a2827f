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
    let f = std::fs::File::open(path)?;
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
}
