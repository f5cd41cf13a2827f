//! Signing keys and detached SSHSIG signatures (the format of `ssh-keygen -Y sign`), Ed25519,
//! namespace `mediasan-certificate`, through RustCrypto's `ssh-key` crate. So any certificate
//! can be checked with OpenSSH alone:
//! `ssh-keygen -Y check-novalidate -n mediasan-certificate -s X.json.sig < X.json`.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use crate::error::{Error, Result};

/// The SSHSIG namespace of certificate signatures.
pub const NAMESPACE: &str = "mediasan-certificate";

/// The SSHSIG namespace of a validator's countersignature (`cert countersign`): another
/// namespace, so a countersignature can never pass for the certificate's own signature.
pub const VALIDATION: &str = "mediasan-validation";

/// Where the default signing key lives: `$XDG_CONFIG_HOME/mediasan/signing_key`, else
/// `$HOME/.config/mediasan/signing_key`.
pub fn default_key_path() -> Option<PathBuf> {
    crate::places::config_dir().map(|c| c.join("signing_key"))
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
    let key = new_key(comment)?;
    write_key_files(&key, path, &pub_path)?;
    Ok(key)
}

/// The key at `path`, made there first if there is none: `(key, true)` when this call made it.
/// Safe when several processes start at once: both halves are written whole (and synced) in a
/// private folder beside `path`, then the private key is hard-linked into place; link(2) is
/// atomic and never replaces, so exactly one process's key lands and every other one loads
/// that whole file (never a half-written one, never a "File exists" error).
///
/// # Errors
/// [`Error::Io`] if the folder or files cannot be written; see [`load`] for a key that is
/// there but unreadable.
pub fn load_or_create(path: &Path, comment: &str) -> Result<(PrivateKey, bool)> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok((load(path)?, false));
    }
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io("cannot create the key folder", &dir, e))?;
    let name = path.file_name().map_or_else(
        || "signing_key".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut nonce = [0u8; 8];
    ssh_key::rand_core::RngCore::fill_bytes(&mut ssh_key::rand_core::OsRng, &mut nonce);
    let tmp = dir.join(format!(
        ".{name}.{}.{}",
        std::process::id(),
        crate::cert::hex(&nonce)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmp)
        .map_err(|e| Error::io("cannot create", &tmp, e))?;
    let made = (|| {
        let key = new_key(comment)?;
        let (private, public) = (tmp.join("key"), tmp.join("key.pub"));
        write_key_files(&key, &private, &public)?;
        match std::fs::hard_link(&private, path) {
            Ok(()) => {
                let pub_path = pub_path(path);
                std::fs::rename(&public, &pub_path)
                    .map_err(|e| Error::io("cannot write", &pub_path, e))?;
                if let Ok(d) = std::fs::File::open(&dir) {
                    let _ = d.sync_all();
                }
                Ok((key, true))
            }
            // Another process was first: its key, complete, is the one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok((load(path)?, false)),
            Err(e) => Err(Error::io("cannot create", path, e)),
        }
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    made
}

/// A new Ed25519 key with this comment.
fn new_key(comment: &str) -> Result<PrivateKey> {
    let mut key = PrivateKey::random(&mut ssh_key::rand_core::OsRng, Algorithm::Ed25519)
        .map_err(|e| Error::Usage(format!("cannot generate a key: {e}")))?;
    key.set_comment(comment);
    Ok(key)
}

/// Writes `key` to `private` (mode 0600) and its public half to `public`, each new, whole and
/// synced.
fn write_key_files(key: &PrivateKey, private: &Path, public: &Path) -> Result<()> {
    let private_text = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::Usage(format!("cannot encode the key: {e}")))?;
    let public_text = key
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
    write(private, &private_text, 0o600)?;
    write(public, &format!("{public_text}\n"), 0o644)
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
    public_from_text(&read_public(path)?, path)
}

/// The text of a public key file (bounded).
///
/// # Errors
/// [`Error::CertificateInput`] when it cannot be read.
pub fn read_public(path: &Path) -> Result<String> {
    crate::limits::read_to_string(path, crate::limits::KEY).map_err(|e| {
        Error::CertificateInput(format!("cannot read public key {}: {e}", path.display()))
    })
}

/// The public key in `text` (a public key line, or a private key whose public half is
/// taken); `path` names it in errors.
///
/// # Errors
/// [`Error::CertificateInput`] when it is neither.
pub fn public_from_text(text: &str, path: &Path) -> Result<PublicKey> {
    if let Ok(k) = PublicKey::from_openssh(text.trim()) {
        return Ok(k);
    }
    PrivateKey::from_openssh(text)
        .map(|k| k.public_key().clone())
        .map_err(|_| {
            Error::CertificateInput(format!("{} is not an OpenSSH public key", path.display()))
        })
}

/// Where the private half of a signing key is.
#[derive(Clone, Debug)]
enum Holder {
    /// Loaded from a file.
    File(Box<PrivateKey>),
    /// In the ssh-agent at this socket (`SSH_AUTH_SOCK`).
    Agent(PathBuf),
}

/// A signing key — in a file, or in ssh-agent — and the OpenSSH certificate that vouches for
/// it (`KEY-cert.pub` beside the key, as OpenSSH's own tools find it), which signatures then
/// carry.
#[derive(Clone, Debug)]
pub struct Signing {
    holder: Holder,
    public: PublicKey,
    pub cert: Option<ssh_key::Certificate>,
}

impl Signing {
    /// A key from a file, without a certificate.
    pub fn plain(key: PrivateKey) -> Signing {
        Signing {
            public: key.public_key().clone(),
            holder: Holder::File(Box::new(key)),
            cert: None,
        }
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// What makes a folder of certificates self-describing, written beside them: the signer's
    /// public key (`signer-<16 hex of its SHA-256 fingerprint>.pub`) and its OpenSSH
    /// certificate, if it has one (`signer-<16 hex>-cert-<8 hex of the certificate's
    /// BLAKE3>.pub`). Names follow the content, so each is written once. Information only:
    /// nothing is trusted because it lies beside a certificate.
    pub fn public_files(&self) -> Vec<(String, String)> {
        let id = key_id(&self.public);
        let mut files = Vec::new();
        if let Ok(text) = self.public.to_openssh() {
            files.push((format!("signer-{id}.pub"), format!("{text}\n")));
        }
        if let Some(Ok(text)) = self.cert.as_ref().map(ssh_key::Certificate::to_openssh) {
            let b3 = blake3::hash(text.as_bytes());
            let short = crate::cert::hex(&b3.as_bytes()[..4]);
            files.push((format!("signer-{id}-cert-{short}.pub"), format!("{text}\n")));
        }
        files
    }

    /// The Ed25519 signature of `data`, by the file's key or by the agent.
    fn sign_data(&self, data: &[u8]) -> Result<ssh_key::Signature> {
        match &self.holder {
            Holder::File(k) => signature::Signer::try_sign(k.as_ref(), data)
                .map_err(|e| Error::Usage(format!("cannot sign: {e}"))),
            Holder::Agent(socket) => super::agent::sign(socket, self.public.key_data(), data),
        }
    }

    /// A secret only the key's holder can produce, the same every time (for the journal's
    /// MAC): the private key itself, or, in an agent, its signature of a fixed text (Ed25519
    /// signatures are deterministic).
    ///
    /// # Errors
    /// The agent refused or cannot be reached.
    pub fn secret(&self) -> Result<(&'static str, Vec<u8>)> {
        match &self.holder {
            Holder::File(k) => Ok((
                "mediasan journal MAC v1",
                match k.key_data() {
                    ssh_key::private::KeypairData::Ed25519(k) => k.private.to_bytes().to_vec(),
                    // Only Ed25519 keys are ever loaded; anything else still gets a key bound
                    // to it.
                    _ => k.public_key().to_bytes().unwrap_or_default(),
                },
            )),
            Holder::Agent(_) => {
                let sig = self.sign_data(b"mediasan journal MAC key v1")?;
                Ok(("mediasan journal MAC v1 (agent)", sig.as_bytes().to_vec()))
            }
        }
    }
}

/// `KEY-cert.pub`: where OpenSSH keeps a key's certificate (for `KEY.pub`, the public half
/// an agent's key is named by, `KEY-cert.pub` too).
pub fn cert_path(key: &Path) -> PathBuf {
    let mut s = key.as_os_str().to_owned();
    if let Some(stem) = key
        .as_os_str()
        .as_encoded_bytes()
        .strip_suffix(b".pub")
        .and_then(|b| std::str::from_utf8(b).ok())
    {
        s = stem.into();
    }
    s.push("-cert.pub");
    PathBuf::from(s)
}

/// Loads a signing key and, if `KEY-cert.pub` is beside it, its OpenSSH certificate, which
/// must be for this key and valid now (a certificate that would make every signature
/// untrusted is refused here, not discovered by the auditor). A public key file (`KEY.pub`)
/// names a key held by the ssh-agent at `SSH_AUTH_SOCK`, which must hold it.
///
/// # Errors
/// [`Error::Usage`] naming the file and what is wrong.
pub fn load_signing(path: &Path) -> Result<Signing> {
    let text = crate::limits::read_to_string(path, crate::limits::KEY)
        .map_err(|e| Error::Usage(format!("cannot read signing key {}: {e}", path.display())))?;
    let signing = match PublicKey::from_openssh(text.trim()) {
        Ok(public) => {
            let socket = std::env::var_os("SSH_AUTH_SOCK")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "{} is a public key: its private half is used through ssh-agent, but \
                         SSH_AUTH_SOCK is not set; start or forward an agent, or give the \
                         private key file",
                        path.display()
                    ))
                })?;
            if public.algorithm() != Algorithm::Ed25519 {
                return Err(Error::Usage(format!(
                    "{} is a {} key; mediasan signs with Ed25519 keys",
                    path.display(),
                    public.algorithm()
                )));
            }
            if !super::agent::identities(&socket)?.contains(public.key_data()) {
                return Err(Error::Usage(format!(
                    "the ssh-agent at {} does not hold the key {} ({}); add it with ssh-add",
                    socket.display(),
                    path.display(),
                    fingerprint(&public)
                )));
            }
            Signing {
                holder: Holder::Agent(socket),
                public,
                cert: None,
            }
        }
        Err(_) => Signing::plain(load(path)?),
    };
    with_certificate(signing, path)
}

/// `key` (loaded from `path`) with the certificate beside it, if any; see [`load_signing`].
///
/// # Errors
/// As [`load_signing`].
pub fn with_certificate(key: Signing, path: &Path) -> Result<Signing> {
    let cp = cert_path(path);
    if std::fs::symlink_metadata(&cp).is_err() {
        return Ok(key);
    }
    let bad = |why: String| Error::Usage(format!("{}: {why}", cp.display()));
    let text = crate::limits::read_to_string(&cp, crate::limits::KEY)
        .map_err(|e| bad(format!("cannot be read: {e}")))?;
    let cert = ssh_key::Certificate::from_openssh(text.trim())
        .map_err(|e| bad(format!("not an OpenSSH certificate ({e})")))?;
    if cert.public_key() != key.public.key_data() {
        return Err(bad(format!(
            "the certificate is for another key than {}; sign the key's .pub with ssh-keygen -s",
            path.display()
        )));
    }
    if cert.cert_type() != ssh_key::certificate::CertType::User {
        return Err(bad(
            "a host certificate; signatures need a user certificate (ssh-keygen -s without -h)"
                .into(),
        ));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if now < cert.valid_after() || now >= cert.valid_before() {
        return Err(bad(format!(
            "the certificate {:?} is not valid now (valid from {} to {}); get a new one",
            cert.key_id(),
            crate::cert::timestamp(cert.valid_after_time()),
            crate::cert::timestamp(cert.valid_before_time())
        )));
    }
    if cert.valid_principals().is_empty() {
        return Err(bad(format!(
            "the certificate {:?} names no principal (ssh-keygen -s ... -n PRINCIPAL); no \
             allowed_signers line could trust it",
            cert.key_id()
        )));
    }
    Ok(Signing {
        cert: Some(cert),
        ..key
    })
}

/// Signs `msg`: returns the armored SSHSIG text.
///
/// # Errors
/// Only if the key cannot sign (it always can once [`load`] accepted it).
pub fn sign(key: &Signing, msg: &[u8]) -> Result<String> {
    sign_in(key, msg, NAMESPACE)
}

/// [`sign`] in another namespace ([`VALIDATION`]). With a certificate, the SSHSIG's public
/// key is the certificate, exactly as `ssh-keygen -Y sign -f KEY-cert.pub` writes it.
///
/// # Errors
/// As [`sign`].
pub fn sign_in(s: &Signing, msg: &[u8], namespace: &str) -> Result<String> {
    let failed = |e: ssh_key::Error| Error::Usage(format!("cannot sign: {e}"));
    let data = SshSig::signed_data(namespace, HashAlg::Sha512, msg).map_err(failed)?;
    let signature = s.sign_data(&data)?;
    let Some(cert) = &s.cert else {
        return SshSig::new(
            s.public.key_data().clone(),
            namespace,
            HashAlg::Sha512,
            signature,
        )
        .and_then(|sig| sig.to_pem(LineEnding::LF))
        .map_err(|e| Error::Usage(format!("cannot encode the signature: {e}")));
    };
    use ssh_encoding::Encode;
    let enc = |e: ssh_encoding::Error| Error::Usage(format!("cannot encode the signature: {e}"));
    let mut blob = b"SSHSIG".to_vec();
    1u32.encode(&mut blob).map_err(enc)?;
    cert.to_bytes()
        .map_err(failed)?
        .encode(&mut blob)
        .map_err(enc)?;
    namespace.encode(&mut blob).map_err(enc)?;
    Vec::<u8>::new().encode(&mut blob).map_err(enc)?;
    "sha512".encode(&mut blob).map_err(enc)?;
    let mut sig_bytes = Vec::new();
    signature.encode(&mut sig_bytes).map_err(enc)?;
    sig_bytes.encode(&mut blob).map_err(enc)?;
    use base64ct::Encoding;
    let b64 = base64ct::Base64::encode_string(&blob);
    let mut out = String::from("-----BEGIN SSH SIGNATURE-----\n");
    for line in b64.as_bytes().chunks(70) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END SSH SIGNATURE-----\n");
    Ok(out)
}

/// The armour of a detached SSHSIG, as OpenSSH reads it (`sshsig_dearmor`): the file must
/// begin with exactly this line; the base64 text runs to the first newline followed by the
/// footer; whitespace inside it is ignored; anything after the footer is ignored.
const BEGIN: &[u8] = b"-----BEGIN SSH SIGNATURE-----\n";
const END: &[u8] = b"\n-----END SSH SIGNATURE-----";

/// The SSHSIG blob inside an armoured signature, accepting exactly what `ssh-keygen -Y`
/// accepts: no leading whitespace, no CRLF header, any wrapping of the base64 text, data after
/// the footer ignored (a second block included), canonical padded base64.
///
/// # Errors
/// [`Error::CertificateInput`] saying what is wrong.
pub fn dearmor(text: &[u8]) -> Result<Vec<u8>> {
    let bad = |why: &str| {
        Error::CertificateInput(format!(
            "the signature file is not an SSH signature ({why})"
        ))
    };
    let rest = text
        .strip_prefix(BEGIN)
        .ok_or_else(|| bad("it does not begin with the line -----BEGIN SSH SIGNATURE-----"))?;
    let end = rest
        .windows(END.len())
        .position(|w| w == END)
        .ok_or_else(|| bad("no -----END SSH SIGNATURE----- line"))?;
    let b64: Vec<u8> = rest[..end]
        .iter()
        .copied()
        .filter(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .collect();
    use base64ct::Encoding;
    base64ct::Base64::decode_vec(&String::from_utf8_lossy(&b64)).map_err(|_| bad("bad base64"))
}

/// Parses an SSHSIG blob; every byte must belong to it.
fn parse(blob: &[u8]) -> Result<SshSig> {
    use ssh_encoding::{Decode, Reader};
    let mut r = blob;
    let sig = SshSig::decode(&mut r).map_err(|e| {
        Error::CertificateInput(format!("the signature file is not an SSH signature ({e})"))
    })?;
    if !r.is_finished() {
        return Err(Error::CertificateInput(
            "the signature file is not an SSH signature (data after the signature)".into(),
        ));
    }
    Ok(sig)
}

/// Who made a signature: the key, and the OpenSSH certificate it presented (as
/// `ssh-keygen -Y sign -f KEY-cert.pub` embeds it), which a `cert-authority` line of an
/// allowed_signers file can trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedBy {
    pub key: PublicKey,
    pub cert: Option<Box<ssh_key::Certificate>>,
}

impl SignedBy {
    /// A plain key's signature.
    pub fn key(key: PublicKey) -> SignedBy {
        SignedBy { key, cert: None }
    }
}

/// The parts of an SSHSIG blob whose public key is an OpenSSH certificate (which
/// `SshSig::decode` does not read): every byte must belong to it.
struct CertSig {
    cert: ssh_key::Certificate,
    namespace: String,
    hash_alg: HashAlg,
    signature: ssh_key::Signature,
}

/// The algorithm name a public key blob starts with.
fn blob_algorithm(blob: &[u8]) -> Option<String> {
    use ssh_encoding::Decode;
    let mut r = blob.get(10..)?; // "SSHSIG" and the version
    let key = Vec::<u8>::decode(&mut r).ok()?;
    let mut k = &key[..];
    String::decode(&mut k).ok()
}

fn parse_cert_sig(blob: &[u8]) -> Result<CertSig> {
    use ssh_encoding::{Decode, Reader};
    let bad = |why: String| {
        Error::CertificateInput(format!(
            "the signature file is not an SSH signature ({why})"
        ))
    };
    let mut r = blob
        .strip_prefix(b"SSHSIG")
        .ok_or_else(|| bad("no SSHSIG preamble".into()))?;
    let e = |e: ssh_encoding::Error| bad(e.to_string());
    if u32::decode(&mut r).map_err(e)? != 1 {
        return Err(bad("not version 1".into()));
    }
    let key = Vec::<u8>::decode(&mut r).map_err(e)?;
    let namespace = String::decode(&mut r).map_err(e)?;
    let _reserved = Vec::<u8>::decode(&mut r).map_err(e)?;
    let hash_alg = String::decode(&mut r).map_err(e)?;
    let signature = Vec::<u8>::decode(&mut r).map_err(e)?;
    if !r.is_finished() {
        return Err(bad("data after the signature".into()));
    }
    let cert = ssh_key::Certificate::from_bytes(&key)
        .map_err(|e| bad(format!("its OpenSSH certificate cannot be read: {e}")))?;
    let hash_alg = match hash_alg.as_str() {
        "sha512" => HashAlg::Sha512,
        "sha256" => HashAlg::Sha256,
        other => return Err(bad(format!("hash algorithm {other:?}"))),
    };
    let signature = ssh_key::Signature::decode(&mut &signature[..])
        .map_err(|e| bad(format!("its signature cannot be read: {e}")))?;
    Ok(CertSig {
        cert,
        namespace,
        hash_alg,
        signature,
    })
}

/// A key's short name in file names (`signer-<id>.pub`, the chain's head): the first 8 bytes
/// of its SHA-256 fingerprint, 16 hex digits.
pub fn key_id(key: &PublicKey) -> String {
    let fp = key.fingerprint(HashAlg::Sha256);
    crate::cert::hex(&fp.as_bytes()[..8])
}

/// Checks a detached SSHSIG (the armoured text, as read from the file) over `msg`: the
/// namespace and the signature itself. Says nothing about whether the signer is trusted (see
/// [`crate::cert::trust`]). Returns who signed: the key, and the OpenSSH certificate it
/// presented, if any (whose own CA signature, validity and principals are trust's to judge).
///
/// # Errors
/// [`Error::CertificateInput`] if the signature is not SSHSIG or uses a key type mediasan does
/// not verify; [`Error::NotAuthentic`] if it does not verify or has another namespace.
pub fn check(msg: &[u8], sig_text: &[u8]) -> Result<SignedBy> {
    check_in(msg, sig_text, NAMESPACE)
}

fn other_namespace(found: &str, namespace: &str) -> Error {
    Error::NotAuthentic(format!(
        "the signature is for namespace '{found}', not '{namespace}'"
    ))
}

fn changed() -> Error {
    Error::NotAuthentic(
        "the signature does not match the certificate: it was changed after signing".into(),
    )
}

fn only_ed25519(algorithm: &Algorithm) -> Result<()> {
    if *algorithm == Algorithm::Ed25519 {
        return Ok(());
    }
    let kind = match algorithm {
        Algorithm::Rsa { .. } => "an RSA".to_string(),
        Algorithm::Ecdsa { .. } => "an ECDSA".to_string(),
        Algorithm::Dsa => "a DSA".to_string(),
        other => format!("a {other}"),
    };
    Err(Error::CertificateInput(format!(
        "the signature was made with {kind} key ({algorithm}); mediasan verifies Ed25519 \
         signatures only (check it with ssh-keygen -Y verify)"
    )))
}

/// [`check`] in another namespace ([`VALIDATION`]).
///
/// # Errors
/// As [`check`].
pub fn check_in(msg: &[u8], sig_text: &[u8], namespace: &str) -> Result<SignedBy> {
    let blob = dearmor(sig_text)?;
    if blob_algorithm(&blob).is_some_and(|a| a.ends_with("-cert-v01@openssh.com")) {
        let s = parse_cert_sig(&blob)?;
        if s.namespace != namespace {
            return Err(other_namespace(&s.namespace, namespace));
        }
        let key = PublicKey::from(s.cert.public_key().clone());
        only_ed25519(&key.algorithm())?;
        let data = SshSig::signed_data(namespace, s.hash_alg, msg)
            .map_err(|e| Error::CertificateInput(format!("cannot check the signature: {e}")))?;
        signature::Verifier::verify(key.key_data(), &data, &s.signature).map_err(|_| changed())?;
        return Ok(SignedBy {
            key,
            cert: Some(Box::new(s.cert)),
        });
    }
    let sig = parse(&blob)?;
    if sig.namespace() != namespace {
        return Err(other_namespace(sig.namespace(), namespace));
    }
    let signer = PublicKey::from(sig.public_key().clone());
    only_ed25519(&signer.algorithm())?;
    signer.verify(namespace, msg, &sig).map_err(|_| changed())?;
    Ok(SignedBy::key(signer))
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
        let sig = sign(&Signing::plain(key.clone()), &msg).unwrap();
        assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----"));
        let signer = check(&msg, sig.as_bytes()).unwrap();
        assert_eq!(signer.key.key_data(), key.public_key().key_data());
        for i in 0..msg.len() {
            let mut m = msg.clone();
            m[i] ^= 0x01;
            assert!(
                matches!(check(&m, sig.as_bytes()), Err(Error::NotAuthentic(_))),
                "byte {i}"
            );
        }
        let theirs = check(
            &msg,
            sign(&Signing::plain(other.clone()), &msg)
                .unwrap()
                .as_bytes(),
        )
        .unwrap();
        assert_ne!(
            theirs.key.key_data(),
            key.public_key().key_data(),
            "valid, but another signer"
        );
        assert!(matches!(
            check(&msg, b"garbage"),
            Err(Error::CertificateInput(_))
        ));
    }

    #[test]
    fn armour_is_read_as_openssh_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate(&dir.path().join("k"), "t").unwrap();
        let msg = b"certificate bytes";
        let sig = sign(&Signing::plain(key.clone()), msg).unwrap();
        let lines: Vec<&str> = sig.lines().collect();
        let body = lines[1..lines.len() - 1].join("");
        let (head, foot) = (lines[0], lines[lines.len() - 1]);
        let ok = |t: String| check(msg, t.as_bytes()).is_ok();
        assert!(ok(sig.clone()));
        assert!(ok(format!("{head}\n{body}\n{foot}\n")), "any wrapping");
        assert!(
            ok(format!("{head}\n {body}\t\n\n{foot}")),
            "whitespace, no final newline"
        );
        assert!(ok(format!("{sig}garbage")), "data after the footer");
        assert!(ok(format!("{sig}{sig}")), "a second block");
        assert!(!ok(sig.replace('\n', "\r\n")), "CRLF header");
        assert!(!ok(format!(" {sig}")), "leading whitespace");
        assert!(!ok(format!("\n{sig}")), "leading newline");
        assert!(
            !ok(format!("{head}\n{body}{foot}\n")),
            "footer not on its own line"
        );
        assert!(
            !ok(format!("{head}\n{}\n{foot}\n", body.trim_end_matches('='))),
            "padding"
        );
    }

    #[test]
    fn a_key_is_made_once_whole_and_then_loaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/signing_key");
        // A stale public half without its key is replaced by the new key's.
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(pub_path(&p), "stale\n").unwrap();
        let (k, made) = load_or_create(&p, "c").unwrap();
        assert!(made);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_public(&pub_path(&p)).unwrap(), *k.public_key());
        let (again, made) = load_or_create(&p, "c").unwrap();
        assert!(!made);
        assert_eq!(again.public_key(), k.public_key());
        // Nothing is left behind but the two halves.
        let mut names: Vec<String> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["signing_key", "signing_key.pub"]);
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
