//! Each signer's certificates as a numbered series, so a delivery with one missing shows it.
//!
//! The machine's state folder keeps, per signing key, the series' head: its id, the last
//! sequence number and the BLAKE3 of the last certificate file. Each new certificate carries
//! the next number and that BLAKE3 ([`super::Chain`]), and is signed with it; the head moves
//! on only once the certificate is signed. An exclusive lock on the head makes this atomic
//! between processes (a bench's threads, several runs at once): no two certificates of one
//! series get one number. A new state folder starts a new series (a new id): visible, never
//! silent. `audit` reads the series back ([`crate::audit::series`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ssh_key::PublicKey;

use super::Chain;
use crate::error::{Error, Result};

/// What the state folder keeps for one key's series.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Head {
    chain: String,
    seq: u64,
    last: String,
}

/// The folder that keeps the series' heads: `$XDG_STATE_HOME/mediasan/chain`, else
/// `~/.local/state/mediasan/chain`.
pub fn default_dir() -> Option<PathBuf> {
    crate::places::state_dir().map(|s| s.join("chain"))
}

/// The next link of `signer`'s series in `dir`: `make` gets it (or `None` when there is no
/// folder), encodes and signs the certificate that carries it, and returns the certificate's
/// bytes with anything else; the head then records those bytes' BLAKE3. Held under an
/// exclusive lock from reading the head to writing it.
///
/// # Errors
/// `make`'s own. A head that cannot be read, locked or written is not an error (the
/// certificate matters more than its number): the certificate is made without a link, or with
/// it and the head left behind, and `warn` says so.
pub fn link<T>(
    dir: Option<&Path>,
    signer: &PublicKey,
    warn: &dyn Fn(&str),
    make: impl FnOnce(Option<Chain>) -> Result<(Vec<u8>, T)>,
) -> Result<(Vec<u8>, T)> {
    let Some(dir) = dir else {
        warn("warning: no state folder (no HOME or XDG_STATE_HOME): this certificate is not numbered in its signer's series");
        return make(None);
    };
    let name = key_name(signer);
    let held = match lock(dir, &name) {
        Ok(f) => f,
        Err(e) => {
            warn(&format!(
                "warning: {e}; this certificate is not numbered in its signer's series"
            ));
            return make(None);
        }
    };
    let path = dir.join(format!("{name}.json"));
    let head = match read_head(&path) {
        Ok(h) => h,
        Err(e) => {
            // A damaged head must not be taken for a new series of the same id: start anew,
            // which the audit shows as a restart.
            warn(&format!(
                "warning: {e}; a new series is started for this signer"
            ));
            None
        }
    };
    let head = head.unwrap_or_else(|| Head {
        chain: new_id(),
        seq: 0,
        last: String::new(),
    });
    let next = Chain {
        id: head.chain.clone(),
        seq: head.seq + 1,
        previous: head.last.clone(),
    };
    let (bytes, rest) = make(Some(next.clone()))?;
    let moved = Head {
        chain: next.id,
        seq: next.seq,
        last: blake3::hash(&bytes).to_hex().to_string(),
    };
    if let Err(e) = write_head(&path, &moved) {
        warn(&format!(
            "warning: cannot record certificate #{} of this signer's series in {}: {e}; the next one will repeat its number",
            moved.seq,
            path.display()
        ));
    }
    drop(held);
    Ok((bytes, rest))
}

/// The file name of a key's series: the first 8 bytes of its SHA-256 fingerprint, in hex.
fn key_name(key: &PublicKey) -> String {
    super::sign::key_id(key)
}

/// A new series id: 16 random bytes, hex.
fn new_id() -> String {
    let mut b = [0u8; 16];
    ssh_key::rand_core::RngCore::fill_bytes(&mut ssh_key::rand_core::OsRng, &mut b);
    super::hex(&b)
}

/// The series' lock file, held exclusively (released when the file closes).
fn lock(dir: &Path, name: &str) -> Result<std::fs::File> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io("cannot create the series folder", dir, e))?;
    let path = dir.join(format!("{name}.lock"));
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("cannot open", &path, e))?;
    f.lock().map_err(|e| Error::io("cannot lock", &path, e))?;
    Ok(f)
}

fn read_head(path: &Path) -> Result<Option<Head>> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::Usage(format!("{}: not a series head ({e})", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot read", path, e)),
    }
}

/// Whole or not at all: a temporary file, synced, renamed over the head.
fn write_head(path: &Path, h: &Head) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(h).map_err(std::io::Error::other)?;
    crate::evidence::write_report(path, &bytes, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PublicKey {
        ssh_key::PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519)
            .unwrap()
            .public_key()
            .clone()
    }

    fn next(dir: &Path, k: &PublicKey, body: &str) -> Option<Chain> {
        let (_, c) = link(Some(dir), k, &|_| {}, |c| {
            Ok((format!("{body}{c:?}").into_bytes(), c))
        })
        .unwrap();
        c
    }

    #[test]
    fn each_certificate_gets_the_next_number_and_the_previous_ones_hash() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (key(), key());
        let one = next(t.path(), &a, "x").unwrap();
        assert_eq!((one.seq, one.previous.as_str()), (1, ""));
        let two = next(t.path(), &a, "y").unwrap();
        assert_eq!(two.seq, 2);
        assert_eq!(two.id, one.id);
        assert_eq!(
            two.previous,
            blake3::hash(format!("x{:?}", Some(one.clone())).as_bytes())
                .to_hex()
                .to_string()
        );
        // Another key: its own series.
        let other = next(t.path(), &b, "z").unwrap();
        assert_eq!(other.seq, 1);
        assert_ne!(other.id, one.id);
        // Another state folder: a new series (a restart), never the old numbers.
        let t2 = tempfile::tempdir().unwrap();
        let again = next(t2.path(), &a, "w").unwrap();
        assert_eq!(again.seq, 1);
        assert_ne!(again.id, one.id);
    }

    #[test]
    fn a_failed_signature_does_not_move_the_head_and_no_folder_means_no_link() {
        let t = tempfile::tempdir().unwrap();
        let a = key();
        next(t.path(), &a, "x");
        let r: Result<(Vec<u8>, ())> = link(Some(t.path()), &a, &|_| {}, |_| {
            Err(Error::Usage("cannot sign".into()))
        });
        assert!(r.is_err());
        assert_eq!(next(t.path(), &a, "y").unwrap().seq, 2);
        let warned = std::cell::Cell::new(false);
        let (_, c) = link(None, &a, &|_| warned.set(true), |c| Ok((vec![], c))).unwrap();
        assert!(c.is_none() && warned.get());
    }

    #[test]
    fn a_damaged_head_starts_a_new_series_and_says_so() {
        let t = tempfile::tempdir().unwrap();
        let a = key();
        let first = next(t.path(), &a, "x").unwrap();
        std::fs::write(t.path().join(format!("{}.json", key_name(&a))), b"{garbage").unwrap();
        let warned = std::cell::Cell::new(false);
        let (_, c) = link(Some(t.path()), &a, &|_| warned.set(true), |c| {
            Ok((vec![1], c))
        })
        .unwrap();
        let c = c.unwrap();
        assert!(warned.get());
        assert_eq!(c.seq, 1);
        assert_ne!(c.id, first.id);
    }

    #[test]
    fn threads_at_once_never_share_a_number() {
        let t = tempfile::tempdir().unwrap();
        let a = key();
        let seqs: Vec<u64> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|i| {
                    let (dir, a) = (t.path(), &a);
                    s.spawn(move || {
                        (0..10)
                            .map(|j| next(dir, a, &format!("{i}-{j}")).unwrap().seq)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..=80).collect::<Vec<u64>>());
    }
}
