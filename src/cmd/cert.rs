//! `mediasan cert verify|show|render`: check a certificate's detached SSHSIG signature and its
//! signer against what the user trusts, then report, print or render it. Exit 0 only for an
//! authentic certificate from a trusted signer.

use std::path::{Path, PathBuf};

use crate::event::{self, Event};

use crate::cert::render::{self, Seal};
use crate::cert::trust::{self, Signer, Trust};
use crate::cert::{sign, Certificate, FORMAT};
use crate::cli::{CertRenderArgs, CertShowArgs, CertVerifyArgs, RenderFormat, TrustArgs};
use crate::error::{Error, Exit};

fn parse_certificate(bytes: &[u8]) -> Option<Certificate> {
    let c: Certificate = serde_json::from_slice(bytes).ok()?;
    let family = FORMAT.split('/').next().unwrap_or(FORMAT);
    c.format.starts_with(&format!("{family}/")).then_some(c)
}

/// What the user trusts: `--pubkey`, `--allowed-signers`, else the organization file's.
pub(crate) fn trust_of(args: &TrustArgs) -> anyhow::Result<Trust> {
    let config = crate::config::load(args.config.as_deref())?;
    let files = trust::allowed_signers_files(
        args.allowed_signers.as_deref(),
        config.allowed_signers.as_deref(),
    );
    Ok(Trust::load(
        &args.pubkey,
        &files,
        args.principal.as_deref(),
    )?)
}

/// A certificate whose signature checked, and the verdict on its signer.
pub(crate) struct Checked {
    pub cert: Certificate,
    pub signer: Signer,
    /// BLAKE3 of the very bytes whose signature was checked.
    pub file_blake3: String,
}

impl Checked {
    /// The seal printed on renderings.
    pub fn seal(&self) -> Seal {
        Seal {
            fingerprint: self.signer.fingerprint().to_string(),
            file_blake3: self.file_blake3.clone(),
            trust: self.signer.describe(),
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

/// The time a certificate was signed, by its own record: when the sanitization finished.
fn signed_at(c: &Certificate) -> Option<i64> {
    let t = if c.sanitization.finished.is_empty() {
        &c.sanitization.started
    } else {
        &c.sanitization.finished
    };
    humantime::parse_rfc3339(t)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
}

/// Reads a certificate and checks its signature (`FILE.sig` unless `sig` is given) over the
/// bytes read, then judges the signer with `trust`.
pub(crate) fn load_checked(
    file: &Path,
    sig: Option<&Path>,
    trust: &Trust,
) -> anyhow::Result<Checked> {
    let bytes = crate::limits::read(file, crate::limits::CERTIFICATE)
        .map_err(|e| Error::CertificateInput(format!("cannot read {}: {e}", file.display())))?;
    let parsed = parse_certificate(&bytes);
    let sig_path = sig.map(Path::to_path_buf).unwrap_or_else(|| {
        let mut s = file.as_os_str().to_owned();
        s.push(".sig");
        PathBuf::from(s)
    });
    let sig = match crate::limits::read(&sig_path, crate::limits::SIGNATURE) {
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
    let signer = trust.judge(&signer, signed_at(&cert));
    Ok(Checked {
        cert,
        signer,
        file_blake3: blake3::hash(&bytes).to_hex().to_string(),
    })
}

pub fn verify(args: &CertVerifyArgs) -> anyhow::Result<Exit> {
    let file = &args.file;
    let checked = load_checked(file, args.sig.as_deref(), &trust_of(&args.trust)?)?;
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
            })
            .line(),
        );
    } else if signer.trusted() {
        outln!(
            "OK: {} is authentic, signed by {}; it records {} for {} ({})",
            file.display(),
            signer.describe(),
            cert.result.name(),
            cert.media.path,
            cert.id
        );
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
