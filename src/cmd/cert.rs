//! `mediasan cert verify`: check a certificate's detached SSHSIG signature.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::cert::render::{self, Seal};
use crate::cert::{sign, Certificate, FORMAT};
use crate::cli::{CertRenderArgs, CertShowArgs, CertVerifyArgs, RenderFormat};
use crate::error::{exit, Error};

fn parse_certificate(bytes: &[u8]) -> Option<Certificate> {
    let c: Certificate = serde_json::from_slice(bytes).ok()?;
    let family = FORMAT.split('/').next().unwrap_or(FORMAT);
    c.format.starts_with(&format!("{family}/")).then_some(c)
}

/// Reads a certificate and checks its signature (`FILE.sig` unless `sig` is given) and, with
/// `pubkey`, the signer. Returns the certificate, the signer's fingerprint and whether a key
/// was pinned.
pub(crate) fn load_checked(
    file: &Path,
    sig: Option<&Path>,
    pubkey: Option<&Path>,
) -> anyhow::Result<(Certificate, String)> {
    let bytes = crate::limits::read(file, crate::limits::CERTIFICATE)
        .map_err(|e| Error::CertificateInput(format!("cannot read {}: {e}", file.display())))?;
    let parsed = parse_certificate(&bytes);
    let sig_path = sig.map(Path::to_path_buf).unwrap_or_else(|| {
        let mut s = file.as_os_str().to_owned();
        s.push(".sig");
        PathBuf::from(s)
    });
    let sig = match crate::limits::read_to_string(&sig_path, crate::limits::SIGNATURE) {
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
    let expected = pubkey.map(sign::load_public).transpose()?;
    let signer = sign::check(&bytes, &sig, expected.as_ref()).map_err(|e| {
        anyhow::Error::new(e).context(format!("{} is NOT authentic", file.display()))
    })?;
    let cert = parsed.ok_or_else(|| {
        Error::CertificateInput(format!(
            "{} carries a valid signature but is not a mediasan certificate",
            file.display()
        ))
    })?;
    Ok((cert, signer))
}

pub fn verify(args: &CertVerifyArgs) -> anyhow::Result<u8> {
    let file = &args.file;
    let (cert, signer) = load_checked(file, args.sig.as_deref(), args.pubkey.as_deref())?;
    let expected = args.pubkey.is_some();
    if args.json {
        outln!(
            "{}",
            json!({"event": "cert_verified", "certificate": file, "signature": "valid", "signer": signer,
                   "key_matches": expected, "id": cert.id, "result": cert.result.name(),
                   "target": cert.media.path})
        );
    } else {
        outln!(
            "OK: {} is signed by {signer}{}; it records {} for {} ({})",
            file.display(),
            if expected { " (the expected key)" } else { "" },
            cert.result.name(),
            cert.media.path,
            cert.id
        );
    }
    Ok(exit::PASS)
}

/// The seal printed on a rendering: who signed, and the BLAKE3 of the file's bytes.
fn seal(file: &Path, signer: String) -> anyhow::Result<Seal> {
    let bytes = crate::limits::read(file, crate::limits::CERTIFICATE)
        .map_err(|e| Error::CertificateInput(format!("cannot read {}: {e}", file.display())))?;
    Ok(Seal {
        fingerprint: signer,
        file_blake3: blake3::hash(&bytes).to_hex().to_string(),
    })
}

pub fn show(args: &CertShowArgs) -> anyhow::Result<u8> {
    let (cert, signer) = load_checked(&args.file, None, args.pubkey.as_deref())?;
    crate::term::out_raw(&render::text(&cert, &seal(&args.file, signer)?));
    Ok(exit::PASS)
}

pub fn render(args: &CertRenderArgs) -> anyhow::Result<u8> {
    let (cert, signer) = load_checked(&args.file, None, args.pubkey.as_deref())?;
    let seal = seal(&args.file, signer)?;
    let bytes = match args.format {
        RenderFormat::Pdf => render::pdf(&cert, &seal),
        RenderFormat::Html => render::html(&cert, &seal).into_bytes(),
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
        .map_err(|e| Error::io("cannot write", &args.out, e))?;
    errln!("wrote {}", args.out.display());
    Ok(exit::PASS)
}
