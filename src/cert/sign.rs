//! Signing keys and detached SSHSIG signatures (the format of `ssh-keygen -Y sign`), Ed25519,
//! namespace `mediasan-certificate`, through RustCrypto's `ssh-key` crate. So any certificate
//! can be checked with OpenSSH alone:
//! `ssh-keygen -Y check-novalidate -n mediasan-certificate -s X.json.sig < X.json`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use crate::error::{Error, Result};

/// The SSHSIG namespace of certificate signatures.
pub const NAMESPACE: &str = "mediasan-certificate";

/// Where the default signing key lives: `$XDG_CONFIG_HOME/mediasan/signing_key`, else
/// `$HOME/.config/mediasan/signing_key`.
pub fn default_key_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("mediasan").join("signing_key"))
}

/// The `SHA256:...` fingerprint of a public key, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Makes a new Ed25519 key and writes it to `path` (mode 0600) and `path.pub`. Refuses to
/// overwrite either.
///
/// # Errors
/// [`Error::Usage`] if a file exists; [`Error::Io`] if it cannot be written.
pub fn generate(path: &Path, comment: &str) -> Result<PrivateKey> {
    let pub_path = pub_path(path);
    for p in [path, pub_path.as_path()] {
        if p.exists() {
            return Err(Error::Usage(format!(
                "{} already exists; choose another --out or remove it",
                p.display()
            )));
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io("cannot create the key folder", dir, e))?;
    }
    let mut key = PrivateKey::random(&mut ssh_key::rand_core::OsRng, Algorithm::Ed25519)
        .map_err(|e| Error::Usage(format!("cannot generate a key: {e}")))?;
    key.set_comment(comment);
    let private = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::Usage(format!("cannot encode the key: {e}")))?;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::Usage(format!("cannot encode the key: {e}")))?;
    let write = |p: &Path, text: &str, mode: u32| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(p)
            .map_err(|e| Error::io("cannot create", p, e))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::io("cannot write", p, e))
    };
    write(path, &private, 0o600)?;
    write(&pub_path, &format!("{public}\n"), 0o644)?;
    Ok(key)
}

fn pub_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Loads an unencrypted OpenSSH Ed25519 private key.
///
/// # Errors
/// [`Error::Usage`] naming the file and what is wrong with it.
pub fn load(path: &Path) -> Result<PrivateKey> {
    let text = crate::limits::read_to_string(path, crate::limits::KEY)
        .map_err(|e| Error::Usage(format!("cannot read signing key {}: {e}", path.display())))?;
    let key = PrivateKey::from_openssh(&text).map_err(|e| {
        Error::Usage(format!(
            "{} is not an OpenSSH private key ({e}); make one with `mediasan keygen`",
            path.display()
        ))
    })?;
    if key.is_encrypted() {
        return Err(Error::Usage(format!(
            "{} is passphrase-protected; mediasan needs an unencrypted key (make one with `mediasan keygen`)",
            path.display()
        )));
    }
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(Error::Usage(format!(
            "{} is a {} key; mediasan signs with Ed25519 keys",
            path.display(),
            key.algorithm()
        )));
    }
    Ok(key)
}

/// Loads a public key from an OpenSSH `.pub` file (or the public half of a private key file).
///
/// # Errors
/// [`Error::CertificateInput`] if the file is unreadable or not a key.
pub fn load_public(path: &Path) -> Result<PublicKey> {
    let text = crate::limits::read_to_string(path, crate::limits::KEY).map_err(|e| {
        Error::CertificateInput(format!("cannot read public key {}: {e}", path.display()))
    })?;
    if let Ok(k) = PublicKey::from_openssh(text.trim()) {
        return Ok(k);
    }
    PrivateKey::from_openssh(&text)
        .map(|k| k.public_key().clone())
        .map_err(|_| {
            Error::CertificateInput(format!("{} is not an OpenSSH public key", path.display()))
        })
}

/// Signs `msg`: returns the armored SSHSIG text.
///
/// # Errors
/// Only if the key cannot sign (it always can once [`load`] accepted it).
pub fn sign(key: &PrivateKey, msg: &[u8]) -> Result<String> {
    let sig = key
        .sign(NAMESPACE, HashAlg::Sha512, msg)
        .map_err(|e| Error::Usage(format!("cannot sign: {e}")))?;
    sig.to_pem(LineEnding::LF)
        .map_err(|e| Error::Usage(format!("cannot encode the signature: {e}")))
}

/// Checks a detached SSHSIG over `msg`. With `expected`, the signature must also come from that
/// key. Returns the signer's fingerprint.
///
/// # Errors
/// [`Error::CertificateInput`] if the signature is not SSHSIG; [`Error::NotAuthentic`] if it
/// does not verify, has another namespace, or comes from another key.
pub fn check(msg: &[u8], sig_text: &str, expected: Option<&PublicKey>) -> Result<String> {
    let sig = SshSig::from_pem(sig_text.trim()).map_err(|e| {
        Error::CertificateInput(format!("the signature file is not an SSH signature ({e})"))
    })?;
    if sig.namespace() != NAMESPACE {
        return Err(Error::NotAuthentic(format!(
            "the signature is for namespace '{}', not '{NAMESPACE}'",
            sig.namespace()
        )));
    }
    let signer = PublicKey::from(sig.public_key().clone());
    signer.verify(NAMESPACE, msg, &sig).map_err(|_| {
        Error::NotAuthentic(
            "the signature does not match the certificate: it was changed after signing".into(),
        )
    })?;
    if let Some(want) = expected {
        if want.key_data() != signer.key_data() {
            return Err(Error::NotAuthentic(format!(
                "signed by {}, not by the expected key {}",
                fingerprint(&signer),
                fingerprint(want)
            )));
        }
    }
    Ok(fingerprint(&signer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_rejects_any_changed_byte_and_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate(&dir.path().join("k"), "test").unwrap();
        let other = generate(&dir.path().join("o"), "other").unwrap();
        let msg = br#"{"format":"mediasan-certificate/1","result":"PASS"}"#.to_vec();
        let sig = sign(&key, &msg).unwrap();
        assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----"));
        let fp = check(&msg, &sig, Some(key.public_key())).unwrap();
        assert_eq!(fp, fingerprint(key.public_key()));
        for i in 0..msg.len() {
            let mut m = msg.clone();
            m[i] ^= 0x01;
            assert!(
                matches!(check(&m, &sig, None), Err(Error::NotAuthentic(_))),
                "byte {i}"
            );
        }
        assert!(matches!(
            check(&msg, &sig, Some(other.public_key())),
            Err(Error::NotAuthentic(_))
        ));
        assert!(matches!(
            check(&msg, "garbage", None),
            Err(Error::CertificateInput(_))
        ));
    }

    #[test]
    fn keys_round_trip_and_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/key");
        let k = generate(&p, "c").unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load(&p).unwrap().public_key(), k.public_key());
        assert_eq!(
            load_public(&pub_path(&p)).unwrap().key_data(),
            k.public_key().key_data()
        );
        assert!(
            matches!(generate(&p, "c"), Err(Error::Usage(_))),
            "no overwrite"
        );
        std::fs::write(dir.path().join("bad"), "not a key").unwrap();
        assert!(matches!(
            load(&dir.path().join("bad")),
            Err(Error::Usage(_))
        ));
    }
}
