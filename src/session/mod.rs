//! The session under the commands: what every sanitizing command's run shares once it is
//! confirmed — the signing key (checked before any work, made only where allowed), the evidence
//! folders proven writable with room reserved, the journal's MAC key, the signals, and how a
//! certificate is numbered, signed, stored and announced.

pub mod batch;
pub mod bench;
pub mod certificates;
pub mod overwrite;
pub mod purge;
pub mod sanitize;
pub mod wipe;

use std::path::PathBuf;

use crate::error::Error;
use crate::evidence::{self, Folder, Reserve, RESERVE_BYTES};
use crate::journal::MacKey;
use crate::progress::Reporter;
use crate::settings;
use crate::signals::Signals;

/// What every target's thread shares once the wipe is under way.
pub(crate) struct Session<'a> {
    pub(crate) req: &'a settings::Wipe,
    pub(crate) key: crate::cert::sign::Signing,
    pub(crate) mac: MacKey,
    pub(crate) journal_dir: PathBuf,
    /// The certificate folder, then where a certificate goes if it cannot be written there.
    pub(crate) cert_dirs: Vec<PathBuf>,
    pub(crate) signals: Signals,
    /// The certificate folder, proven writable, for the reserves of targets that come later.
    pub(crate) cert_folder: Folder,
    /// I/O in flight per target, shared out among the session's targets.
    pub(crate) queue_depth: usize,
}

impl<'a> Session<'a> {
    /// Room for one more certificate, kept until it is written.
    pub(crate) fn reserve(&self) -> Result<Reserve, Error> {
        Reserve::new(&self.cert_folder)
    }

    /// A certificate made without any work on the target (a refusal, a drive over the health
    /// limits): signed, stored and announced under the target's `name`; its summary row.
    ///
    /// # Errors
    /// When it cannot be encoded or signed.
    pub(crate) fn certify_now(
        &self,
        c: &crate::cert::Certificate,
        name: &str,
        reporter: &Reporter,
    ) -> anyhow::Result<crate::summary::Row> {
        let rep = reporter.target(name);
        let stored = store_certificate(c, &self.cert_dirs, &self.key, reporter)?;
        let row = announce(c, stored, &rep);
        rep.finish();
        Ok(row)
    }

    /// This session for one medium among many (`bench`): its own stop flags.
    pub(crate) fn for_medium(&self) -> Session<'a> {
        Session {
            req: self.req,
            key: self.key.clone(),
            mac: self.mac.clone(),
            journal_dir: self.journal_dir.clone(),
            cert_dirs: self.cert_dirs.clone(),
            signals: self.signals.for_medium(),
            cert_folder: self.cert_folder.clone(),
            queue_depth: self.queue_depth,
        }
    }
}

/// After the confirmation, before any target is opened: the evidence folders proven with
/// room (a reserve per target), the signing key (created on first use), the signals.
pub(crate) fn open_session<'a>(
    req: &'a settings::Wipe,
    targets: usize,
    reporter: &Reporter,
) -> anyhow::Result<(Session<'a>, Vec<Reserve>)> {
    // A run that may not sign is refused before any folder is made.
    key_ready(&req.key)?;
    let cert_folder = Folder::prepare(
        &req.cert_dir,
        RESERVE_BYTES,
        "certificate folder (--cert-dir)",
    )?;
    let journal_folder = Folder::prepare(
        &req.journal_dir,
        RESERVE_BYTES,
        "journal folder (--journal-dir)",
    )?;
    let reserves = (0..targets)
        .map(|_| Reserve::new(&cert_folder))
        .collect::<Result<Vec<_>, _>>()?;
    let key = load_key(&req.key, reporter)?;
    let session = Session {
        req,
        mac: MacKey::of(&key)?,
        key,
        cert_dirs: evidence::fallbacks(&cert_folder.path, Some(&journal_folder.path)),
        journal_dir: journal_folder.path,
        // From here on SIGINT/SIGTERM stop the wipe at a safe point, SIGHUP does not stop it.
        signals: Signals::install(),
        cert_folder,
        queue_depth: settings::shared_depth(
            req.io.queue_depth,
            req.queue_depth_given,
            targets,
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        ),
    };
    Ok((session, reserves))
}

/// The comment a key made here carries: `mediasan@HOST`.
pub(crate) fn key_comment() -> String {
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("mediasan@{host}")
}

/// The signing key if there is one (`--key`/config, else the default path), never creating
/// it: for a dry run.
pub(crate) fn existing_key(
    path: Option<&std::path::Path>,
) -> anyhow::Result<Option<crate::cert::sign::Signing>> {
    use crate::cert::sign;
    match path {
        // A key that was named must be there.
        Some(p) => Ok(Some(sign::load_signing(p)?)),
        None => match sign::default_key_path() {
            Some(p) if p.exists() => Ok(Some(sign::load_signing(&p)?)),
            _ => Ok(None),
        },
    }
}

/// The signing key: `--key`/`MEDIASAN_KEY`/config, else the default one, created (and
/// announced) on first use where [`key_ready`] allows it.
pub(crate) fn load_key(
    k: &crate::settings::SigningKey,
    reporter: &crate::progress::Reporter,
) -> anyhow::Result<crate::cert::sign::Signing> {
    use crate::cert::sign;
    use anyhow::Context;
    if let Some(p) = &k.path {
        return Ok(sign::load_signing(p)?);
    }
    key_ready(k)?;
    let p = sign::default_key_path().ok_or_else(|| {
        Error::Usage(
            "cannot find a config folder for the default key (no HOME); give --key FILE".into(),
        )
    })?;
    let (key, created) =
        sign::load_or_create(&p, &key_comment()).context("creating the default signing key")?;
    if !created {
        return Ok(sign::with_certificate(sign::Signing::plain(key), &p)?);
    }
    reporter.say(&format!(
        "created signing key {} (public key {}.pub, fingerprint {}); keep it safe, certificates are signed with it",
        p.display(),
        p.display(),
        sign::fingerprint(key.public_key())
    ));
    Ok(sign::Signing::plain(key))
}

/// Refuses (exit 2) a run that would sign with a key made on the spot where nobody sees it:
/// no key configured, no default key yet, no terminal, and nothing allowing one to be created
/// (`--create-key`, `MEDIASAN_CREATE_KEY=1`, `create_key = true`). An unattended ramdisk must
/// not sign certificates with a throwaway key nobody will ever trust. Checked before any work.
pub(crate) fn key_ready(k: &crate::settings::SigningKey) -> anyhow::Result<()> {
    use crate::cert::sign;
    if k.path.is_some() || k.may_create {
        return Ok(());
    }
    let exists = sign::default_key_path().is_some_and(|p| std::fs::symlink_metadata(p).is_ok());
    if exists || crate::term::attended() {
        return Ok(());
    }
    Err(Error::Usage(
        "no signing key is configured and no terminal is there to announce a new one: give --key FILE (or MEDIASAN_KEY, or key in mediasan.toml), or --create-key to make the default key on first use".into(),
    )
    .into())
}

/// Signs a certificate and stores it with its SSHSIG signature in the first of `dirs` that
/// takes it (never overwriting; see [`crate::evidence::write_certificate`]), saying so when it
/// had to fall back. A certificate no folder took is printed on stderr, never lost.
///
/// # Errors
/// Only when the certificate cannot be encoded or signed.
pub(crate) fn store_certificate(
    c: &crate::cert::Certificate,
    dirs: &[std::path::PathBuf],
    key: &crate::cert::sign::Signing,
    reporter: &crate::progress::Reporter,
) -> anyhow::Result<crate::evidence::Stored> {
    let name = crate::cert::file_name(
        std::path::Path::new(&c.media.path),
        &c.sanitization.started,
        &c.id,
    );
    // Numbered in its signer's series (and signed with its number) under the series' lock.
    let chains = crate::cert::chain::default_dir();
    let (bytes, (sig, chain)) = crate::cert::chain::link(
        chains.as_deref(),
        key.public_key(),
        &|w| reporter.say(w),
        |link| {
            let mut c = c.clone();
            c.chain = link;
            let mut bytes = serde_json::to_vec_pretty(&c)
                .map_err(|e| Error::Usage(format!("cannot encode the certificate: {e}")))?;
            bytes.push(b'\n');
            let sig = crate::cert::sign::sign(key, &bytes)?;
            Ok((bytes, (sig, c.chain.map(|ch| (ch.id, ch.seq)))))
        },
    )?;
    let folders: Vec<&std::path::Path> = dirs.iter().map(|d| d.as_path()).collect();
    let mut stored = crate::evidence::write_certificate(&folders, &name, &bytes, &sig);
    stored.chain = chain;
    // The signer's public key (and OpenSSH certificate) beside it: a bundle says who signed.
    if let Some(dir) = stored.json.as_deref().and_then(std::path::Path::parent) {
        for (file, text) in key.public_files() {
            crate::evidence::put_once(dir, &file, text.as_bytes());
        }
    }
    if let (Some(p), false) = (&stored.json, stored.fallback.is_empty()) {
        reporter.say(&format!(
            "warning: the certificate could not be written where asked ({}); it is in {} instead",
            stored.fallback.join("; "),
            p.display()
        ));
    }
    Ok(stored)
}

/// For a `--resume` that finds nothing to resume: the newest certificate stored for the
/// medium (in `cert_dir` or a folder certificates fall back to), as "; the newest certificate
/// for it is FILE (PASS, finished T)" - the run to resume may have ended already, its journal
/// removed once its certificate was stored. Empty when there is none, or no medium yet.
pub(crate) fn last_certified(
    p: Option<&crate::device::Probe>,
    cert_dir: &std::path::Path,
    journal_dir: &std::path::Path,
) -> String {
    let Some(p) = p else {
        return String::new();
    };
    crate::cert::latest::latest_for(&evidence::fallbacks(cert_dir, Some(journal_dir)), p)
        .map(|l| format!("; the newest certificate for it is {}", l.describe()))
        .unwrap_or_default()
}

/// Says how a target ended: its result and certificate on one line, then its first reasons
/// (the certificate has them all); emits the `result` event; returns its summary row.
pub(crate) fn announce(
    c: &crate::cert::Certificate,
    stored: crate::evidence::Stored,
    rep: &crate::progress::TargetReporter,
) -> crate::summary::Row {
    use crate::event::{Event, Outcome};
    let certificate = stored
        .json
        .as_deref()
        .map_or("printed above (no folder took it)".into(), |p| {
            p.display().to_string()
        });
    rep.say(&format!("{} - certificate {certificate}", c.result.name()));
    for r in crate::summary::reasons(&c.reasons, 3, 200) {
        rep.say(&format!("  {r}"));
    }
    rep.reporter().emit(&Event::Result(Outcome {
        target: rep.name().to_string(),
        serial: c.media.identity.serial.clone(),
        asset_tag: c.media.asset_tag.clone(),
        result: c.result.name().into(),
        reasons: c.reasons.clone(),
        certificate: stored.json,
        signature: stored.sig,
        id: c.id.clone(),
        chain_id: stored.chain.as_ref().map(|ch| ch.0.clone()),
        chain_seq: stored.chain.as_ref().map(|ch| ch.1),
    }));
    crate::summary::Row {
        result: c.result.name().into(),
        target: rep.name().to_string(),
        serial: c.media.identity.serial.clone(),
        asset: c.media.asset_tag.clone(),
        certificate,
    }
}
