//! Reading a certificate back, as every command that reads one shares it (`cert`, `verify`,
//! `audit`, `destroyed`): what the user trusts, the certificate and its signature read within
//! their limits and checked, its signer and countersignature judged, and the exit code and seal
//! people get from that.

use std::path::{Path, PathBuf};

use crate::cert::render::Seal;
use crate::cert::trust::{self, Signer, Trust};
use crate::cert::{check, sign};
use crate::cli::TrustArgs;
use crate::error::{Error, Exit};

/// What the user trusts: `--pubkey`, `--allowed-signers`, else the organization file's. An
/// audit trusts only what it names.
pub(crate) fn trust_of(args: &TrustArgs) -> anyhow::Result<Trust> {
    let config = crate::config::load(args.config.as_deref())?;
    let files = trust::allowed_signers_files(
        args.allowed_signers.as_deref(),
        config.allowed_signers.as_deref(),
    );
    Ok(Trust::load(&args.pubkey, &files, args.principal.as_deref())?.at(args.verify_time))
}

/// [`trust_of`], and where that names nobody, this machine's own signing key (`--key`'s
/// sources: `MEDIASAN_KEY`, the organization file's `key`, else the default key): the
/// certificates this machine signed are trusted on it, said as "trusted: this machine's key";
/// never any other key.
pub(crate) fn trust_here(args: &TrustArgs) -> anyhow::Result<Trust> {
    let trust = trust_of(args)?;
    if !trust.is_empty() || args.principal.is_some() {
        return Ok(trust);
    }
    let config = crate::config::load(args.config.as_deref())?;
    let path = crate::settings::key(None, false, &config)
        .path
        .or_else(sign::default_key_path);
    Ok(match path.and_then(|p| own_public_key(&p)) {
        Some((key, from)) => trust.or_own_key(key, from),
        None => trust,
    })
}

/// The public half of the signing key at `path`, taken from the key itself; its `.pub` beside
/// it only when the key cannot be read here (a `.pub` may be stale or swapped: it is never
/// believed over the key). `None` when there is neither (nothing is trusted by default then).
fn own_public_key(path: &Path) -> Option<(ssh_key::PublicKey, PathBuf)> {
    if let Ok(key) = sign::load_signing(path) {
        return Some((key.public_key().clone(), path.to_path_buf()));
    }
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = PathBuf::from(pub_path);
    let text = sign::read_public(&pub_path).ok()?;
    sign::public_from_text(&text, &pub_path)
        .ok()
        .map(|k| (k, pub_path))
}

/// A certificate whose signature checked, the verdict on its signer and on its
/// countersignature, and what people and exit codes make of them.
pub(crate) struct Checked(pub check::Checked);

impl std::ops::Deref for Checked {
    type Target = check::Checked;
    fn deref(&self) -> &check::Checked {
        &self.0
    }
}

impl Checked {
    /// The seal printed on renderings.
    pub fn seal(&self) -> Seal {
        Seal {
            fingerprint: self.signer.fingerprint().to_string(),
            file_blake3: self.file_blake3.clone(),
            trust: self.signer.describe(),
            validated: self.validated(),
            mark: match &self.signer {
                Signer::Trusted { .. } => None,
                Signer::NotChecked { .. } => Some("SIGNATURE NOT CHECKED".into()),
                Signer::Untrusted { .. } => Some("SIGNER NOT TRUSTED".into()),
            },
        }
    }

    /// The countersignature for people: "SHA256:... (trusted: ...)", "NOT VALID: why", or
    /// empty when there is none.
    pub fn validated(&self) -> String {
        match &self.validator {
            None => String::new(),
            Some(Ok(s)) => s.describe(),
            Some(Err(why)) => format!("countersignature NOT VALID: {why}"),
        }
    }

    /// The exit code a command that only reads the certificate ends with: 0 only for a
    /// trusted signer, and a line saying why otherwise.
    pub fn code(&self, file: &Path) -> Exit {
        if self.signer.trusted() {
            return Exit::Pass;
        }
        errln!(
            "mediasan: {}: the signature is valid, but the signer is {}",
            file.display(),
            match &self.signer {
                Signer::Untrusted { why, .. } => format!("NOT TRUSTED ({why})"),
                _ => "NOT CHECKED: give --pubkey KEY.pub or --allowed-signers FILE (or allowed_signers in the organization file)".into(),
            }
        );
        Exit::Failed
    }
}

/// Reads a certificate and checks its signature (`FILE.sig` unless `sig` is given) over the
/// bytes read, then judges the signer with `trust`.
pub(crate) fn load_checked(
    file: &Path,
    sig: Option<&Path>,
    trust: &Trust,
) -> anyhow::Result<Checked> {
    let bytes = crate::limits::read_regular(file, crate::limits::CERTIFICATE)
        .map_err(|e| Error::CertificateInput(format!("cannot read {}: {e}", file.display())))?;
    let parsed = match check::parse(&bytes) {
        Ok(c) => c,
        Err(p @ check::Problem::UnknownFormat(_)) => {
            return Err(
                Error::CertificateInput(format!("{}: {}", file.display(), p.describe())).into(),
            )
        }
        Err(_) => None,
    };
    let sig_path = sig.map(Path::to_path_buf).unwrap_or_else(|| {
        let mut s = file.as_os_str().to_owned();
        s.push(".sig");
        PathBuf::from(s)
    });
    let sig = match crate::limits::read_regular(&sig_path, crate::limits::SIGNATURE) {
        Ok(s) => s,
        Err(_) if parsed.is_none() => {
            return Err(Error::CertificateInput(format!(
                "{} is not a mediasan certificate",
                file.display()
            ))
            .into())
        }
        Err(e) => {
            return Err(Error::CertificateInput(format!(
                "cannot read the signature {}: {e}; a certificate is checked against its .sig file",
                sig_path.display()
            ))
            .into())
        }
    };
    let signer = sign::check(&bytes, &sig).map_err(|e| {
        let what = match e {
            Error::NotAuthentic(_) => format!("{} is NOT authentic", file.display()),
            _ => format!("cannot check {}", file.display()),
        };
        anyhow::Error::new(e).context(what)
    })?;
    let cert = parsed.ok_or_else(|| {
        Error::CertificateInput(format!(
            "{} carries a valid signature but is not a mediasan certificate",
            file.display()
        ))
    })?;
    let at = check::signed_at(&cert);
    let signer = trust.judge(&signer, at);
    let vpath = check::countersignature_path(file);
    let validator = vpath.exists().then(|| {
        crate::limits::read_regular(&vpath, crate::limits::SIGNATURE)
            .map_err(|e| format!("cannot read {}: {e}", vpath.display()))
            .and_then(|v| check::countersignature(&bytes, &v, trust, at, signer.fingerprint()))
    });
    Ok(Checked(check::Checked {
        cert,
        signer,
        file_blake3: blake3::hash(&bytes).to_hex().to_string(),
        validator,
    }))
}
