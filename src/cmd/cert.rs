//! `mediasan cert verify|show|render`: check a certificate's detached SSHSIG signature and its
//! signer against what the user trusts, then report, print or render it. Exit 0 only for an
//! authentic certificate from a trusted signer.

use std::path::{Path, PathBuf};

use crate::event::{self, Event};

use crate::cert::render::{self, Seal};
use crate::cert::trust::{self, Signer, Trust};
use crate::cert::{check, sign};
use crate::cli::{
    CertCountersignArgs, CertRenderArgs, CertShowArgs, CertVerifyArgs, RenderFormat, TrustArgs,
};
use crate::error::{Error, Exit};

/// What the user trusts: `--pubkey`, `--allowed-signers`, else the organization file's.
pub(crate) fn trust_of(args: &TrustArgs) -> anyhow::Result<Trust> {
    let config = crate::config::load(args.config.as_deref())?;
    let files = trust::allowed_signers_files(
        args.allowed_signers.as_deref(),
        config.allowed_signers.as_deref(),
    );
    Ok(Trust::load(&args.pubkey, &files, args.principal.as_deref())?.at(args.verify_time))
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

pub fn verify(args: &CertVerifyArgs) -> anyhow::Result<Exit> {
    let file = &args.file;
    let trust = trust_of(&args.trust)?;
    let checked = load_checked(file, args.sig.as_deref(), &trust)?;
    let (cert, signer) = (&checked.cert, &checked.signer);
    if args.json {
        crate::term::out(
            &Event::CertVerified(event::CertVerified {
                certificate: file.clone(),
                signature: "valid".into(),
                signer: signer.fingerprint().to_string(),
                trusted: signer.trusted(),
                trust: signer.describe(),
                key_matches: signer.trusted(),
                id: cert.id.clone(),
                result: cert.result.name().into(),
                target: cert.media.path.clone(),
                verify_time: trust.time.name(),
            })
            .line(),
        );
        return Ok(checked.code(file));
    }
    if signer.trusted() {
        outln!(
            "OK: {} is authentic, signed by {}; it records {} for {} ({})",
            file.display(),
            signer.describe(),
            cert.result.name(),
            cert.media.path,
            cert.id
        );
        if checked.validator.is_some() {
            outln!("  validated (countersigned) by {}", checked.validated());
        }
    } else {
        outln!(
            "SIGNATURE VALID, SIGNER {}: {} is signed by {}; it records {} for {} ({})",
            if matches!(signer, Signer::NotChecked { .. }) {
                "NOT CHECKED"
            } else {
                "NOT TRUSTED"
            },
            file.display(),
            signer.describe(),
            cert.result.name(),
            cert.media.path,
            cert.id
        );
    }
    if let Some(note) = trust.time.note() {
        outln!("  note: {note}");
    }
    Ok(checked.code(file))
}

pub fn show(args: &CertShowArgs) -> anyhow::Result<Exit> {
    let checked = load_checked(&args.file, None, &trust_of(&args.trust)?)?;
    crate::term::out_raw(&render::text(&checked.cert, &checked.seal()));
    Ok(checked.code(&args.file))
}

/// The paper: `--paper`, else the organization file's, else the system's (`/etc/papersize`,
/// as libpaper keeps it), else the locale's country.
fn paper(args: &CertRenderArgs) -> anyhow::Result<render::Paper> {
    use crate::cli::PaperArg;
    if let Some(p) = args.paper {
        return Ok(match p {
            PaperArg::A4 => render::Paper::A4,
            PaperArg::Letter => render::Paper::Letter,
        });
    }
    let config = crate::config::load(args.trust.config.as_deref())?;
    if let Some(name) = &config.paper {
        return render::Paper::from_name(name).ok_or_else(|| {
            Error::Usage(format!(
                "config: paper = {name:?}: use \"a4\" or \"letter\""
            ))
            .into()
        });
    }
    if let Some(p) = std::fs::read_to_string("/etc/papersize")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| !l.trim_start().starts_with('#'))
                .and_then(render::Paper::from_name)
        })
    {
        return Ok(p);
    }
    let locale = ["LC_ALL", "LC_PAPER", "LANG"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default();
    Ok(render::Paper::of_locale(&locale))
}

pub fn render(args: &CertRenderArgs) -> anyhow::Result<Exit> {
    let checked = load_checked(&args.file, None, &trust_of(&args.trust)?)?;
    let seal = checked.seal();
    let bytes = match args.format {
        RenderFormat::Pdf => render::pdf(&checked.cert, &seal, paper(args)?),
        RenderFormat::Html => render::html(&checked.cert, &seal).into_bytes(),
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.out)
        .map_err(|e| {
            Error::Usage(format!(
                "cannot create {}: {e} (it is never overwritten)",
                args.out.display()
            ))
        })?;
    std::io::Write::write_all(&mut f, &bytes)
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", args.out.display())))?;
    errln!("wrote {}", args.out.display());
    Ok(checked.code(&args.file))
}

/// `cert countersign FILE --key K`: the validator signs the very bytes whose own signature
/// checked, with a key of their own, into FILE.validation.sig (never overwritten).
pub fn countersign(args: &CertCountersignArgs) -> anyhow::Result<Exit> {
    let file = &args.file;
    let checked = load_checked(file, None, &trust_of(&args.trust)?)?;
    if !checked.signer.trusted() {
        return Err(Error::Usage(format!(
            "{} is signed by {}; a validator countersigns only a certificate whose signer they trust \
             (give --allowed-signers FILE or --pubkey KEY.pub)",
            file.display(),
            checked.signer.describe()
        ))
        .into());
    }
    let key = sign::load_signing(&args.key)?;
    if sign::fingerprint(key.public_key()) == checked.signer.fingerprint() {
        return Err(Error::Usage(
            "--key is the key that signed the certificate; the second person signs with their own key".into(),
        )
        .into());
    }
    // The bytes signed are the bytes checked (a file changed meanwhile is refused).
    let bytes = crate::limits::read_regular(file, crate::limits::CERTIFICATE)
        .map_err(|e| Error::CertificateInput(format!("cannot read {}: {e}", file.display())))?;
    if blake3::hash(&bytes).to_hex().as_str() != checked.file_blake3 {
        return Err(Error::CertificateInput(format!(
            "{} changed while it was being checked",
            file.display()
        ))
        .into());
    }
    let sig = sign::sign_in(&key, &bytes, sign::VALIDATION)?;
    let out = check::countersignature_path(file);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&out)
        .map_err(|e| {
            Error::Usage(format!(
                "cannot create {}: {e} (a countersignature is never overwritten)",
                out.display()
            ))
        })?;
    std::io::Write::write_all(&mut f, sig.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("cannot write the countersignature", &out, e))?;
    outln!(
        "countersigned {} as {} by {}; check it with: ssh-keygen -Y check-novalidate -n {} -s {} < {}",
        file.display(),
        out.display(),
        sign::fingerprint(key.public_key()),
        sign::VALIDATION,
        out.display(),
        file.display()
    );
    Ok(Exit::Pass)
}
