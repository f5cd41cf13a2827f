//! `mediasan cert verify|show|render`: check a certificate's detached SSHSIG signature and its
//! signer against what the user trusts, then report, print or render it. Exit 0 only for an
//! authentic certificate from a trusted signer.

use crate::event::{self, Event};

use crate::cert::printout;
use crate::cert::render::{self};
use crate::cert::trust::Signer;
use crate::cert::{check, sign};
use crate::cli::{CertCountersignArgs, CertRenderArgs, CertShowArgs, CertVerifyArgs, RenderFormat};
use crate::error::{Error, Exit};
use crate::session::certificates::{load_checked, trust_here};

pub fn verify(args: &CertVerifyArgs) -> anyhow::Result<Exit> {
    let file = &args.file;
    let trust = trust_here(&args.trust)?;
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
            "{}: {} is authentic, signed by {}; it records {} for {} ({})",
            // OK only for a PASS: an authentic FAIL or INCOMPLETE is no sanitization.
            if cert.result == crate::contract::Verdict::Pass {
                "OK"
            } else {
                "AUTHENTIC, NOT A PASS"
            },
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
    let checked = load_checked(&args.file, None, &trust_here(&args.trust)?)?;
    crate::term::out_raw(&render::text(&checked.cert, &checked.seal()));
    Ok(checked.code(&args.file))
}

/// The paper: `--paper`, else the organization file's, else the system's (`/etc/papersize`,
/// as libpaper keeps it), else the locale's country.
fn paper(args: &CertRenderArgs) -> anyhow::Result<printout::Paper> {
    use crate::cli::PaperArg;
    if let Some(p) = args.paper {
        return Ok(match p {
            PaperArg::A4 => printout::Paper::A4,
            PaperArg::Letter => printout::Paper::Letter,
        });
    }
    let config = crate::config::load(args.trust.config.as_deref())?;
    if let Some(name) = &config.paper {
        return printout::Paper::from_name(name).ok_or_else(|| {
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
                .and_then(printout::Paper::from_name)
        })
    {
        return Ok(p);
    }
    let locale = ["LC_ALL", "LC_PAPER", "LANG"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default();
    Ok(printout::Paper::of_locale(&locale))
}

pub fn render(args: &CertRenderArgs) -> anyhow::Result<Exit> {
    let checked = load_checked(&args.file, None, &trust_here(&args.trust)?)?;
    if !checked.signer.trusted() && !args.unchecked {
        // A printout is what people file: none without a trusted signer unless asked for.
        let code = checked.code(&args.file);
        errln!(
            "mediasan: nothing was written to {}; --unchecked renders it anyway, marked {} across the page",
            args.out.display(),
            checked.seal().mark.unwrap_or_default()
        );
        return Ok(code);
    }
    let seal = checked.seal();
    let (bytes, unprinted) = match args.format {
        RenderFormat::Pdf => {
            let p = printout::pdf(&checked.cert, &seal, paper(args)?)?;
            (p.bytes, p.unprinted)
        }
        RenderFormat::Html => (render::html(&checked.cert, &seal).into_bytes(), Vec::new()),
    };
    write_rendering(&args.out, &bytes)?;
    errln!("wrote {}", args.out.display());
    if !unprinted.is_empty() {
        errln!(
            "warning: no font on this machine has {} (printed as boxes, named at the foot of the page): install one that has them (Debian: fonts-noto-cjk for Chinese, Japanese, Korean) and render again, or use --format html",
            printout::code_points(&unprinted)
        );
    }
    Ok(checked.code(&args.file))
}

/// Writes a rendering to `out`: a new file, or in place of a rendering mediasan wrote there
/// before (replaced whole, through a temporary file beside it); any other file is refused.
fn write_rendering(out: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    let cannot = |e: std::io::Error| Error::Usage(format!("cannot write {}: {e}", out.display()));
    match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(out)
                .map_err(cannot)?;
            std::io::Write::write_all(&mut f, bytes).map_err(cannot)
        }
        Err(e) => Err(cannot(e)),
        Ok(m) => {
            let head = crate::limits::read(out, 64 << 20).unwrap_or_default();
            if !m.file_type().is_file() || !render::is_ours(&head) {
                return Err(Error::Usage(format!(
                    "{} exists and is not a rendering mediasan wrote: it is never overwritten; choose another --out",
                    out.display()
                )));
            }
            // A temporary name of our own, created new: a file of that name is never clobbered.
            let mut tmp = out.as_os_str().to_owned();
            tmp.push(format!(".mediasan-{}.tmp", std::process::id()));
            let tmp = std::path::PathBuf::from(tmp);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(cannot)?;
            // Ours from here: removed if it cannot take the rendering's place.
            std::io::Write::write_all(&mut f, bytes)
                .and_then(|()| std::fs::rename(&tmp, out))
                .map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    cannot(e)
                })
        }
    }
}

/// `cert countersign FILE --key K`: the validator signs the very bytes whose own signature
/// checked, with a key of their own, into FILE.validation.sig (never overwritten).
pub fn countersign(args: &CertCountersignArgs) -> anyhow::Result<Exit> {
    let file = &args.file;
    let checked = load_checked(file, None, &trust_here(&args.trust)?)?;
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
