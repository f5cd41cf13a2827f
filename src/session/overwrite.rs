//! An overwrite (NIST Clear) of each target, as every command that overwrites shares it
//! (`wipe`, `sanitize`'s overwrite steps, `bench`): targets resolved and checked for safety,
//! their records, plans and resumed journals, health and hidden areas, then each one opened,
//! `clear::run`, `cert::build::clear`, signed and stored, its journal kept or removed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::cert::{self, Certificate, Record};
use crate::clear;
use crate::device::health::{self, Health};
use crate::device::{self, FileId, Kind, Probe, Target};
use crate::error::{Error, Exit};
use crate::event::{self, Event};
use crate::evidence::Reserve;
use crate::journal::{self, Found, Journal, MacKey, MediaKey};
use crate::plan::{self, Plan};
use crate::progress::{Reporter, TargetReporter};
use crate::records::{Field, Given, Key};
use crate::settings;
use crate::summary::Row;
use crate::units::human_bytes;
use crate::writer::IoConfig;

use super::Session;

/// A target as resolved before anything is written.
pub(crate) enum Resolved {
    Existing(Box<Probe>),
    ToCreate { path: PathBuf, size: u64 },
}

impl Resolved {
    pub(crate) fn path(&self) -> &Path {
        match self {
            Resolved::Existing(p) => &p.path,
            Resolved::ToCreate { path, .. } => path,
        }
    }
}

/// What was probed of a target (`None` for an image still to create).
pub(crate) fn probe_of(r: &Resolved) -> Option<Probe> {
    match r {
        Resolved::Existing(p) => Some((**p).clone()),
        Resolved::ToCreate { .. } => None,
    }
}

/// Probes every target (or notes the image to create); the same medium twice is refused.
pub(crate) fn resolve(req: &settings::Wipe) -> anyhow::Result<Vec<Resolved>> {
    let mut resolved = Vec::new();
    let mut seen: HashSet<FileId> = HashSet::new();
    let mut new_paths = HashSet::new();
    for path in &req.targets {
        let r = match device::probe(path) {
            Ok(p) => Resolved::Existing(Box::new(p)),
            Err(e) => match (req.create, std::fs::symlink_metadata(path).is_err()) {
                (Some(size), true) => Resolved::ToCreate {
                    path: path.clone(),
                    size,
                },
                // Only a wipe can make what is missing: it says how.
                (None, true) => {
                    return Err(Error::target(
                        path,
                        "does not exist; give an existing block device or image file (or --create SIZE to make an \
                         image)",
                    )
                    .into())
                }
                _ => return Err(e.into()),
            },
        };
        // By identity: two names (a link, /dev/disk/by-id) for one medium are one target.
        let fresh = match &r {
            Resolved::Existing(p) if p.id.block => seen.insert(FileId {
                dev: 0,
                ino: 0,
                ..p.id
            }),
            Resolved::Existing(p) => seen.insert(FileId { rdev: 0, ..p.id }),
            Resolved::ToCreate { path, .. } => new_paths.insert(path.clone()),
        };
        if !fresh {
            return Err(Error::Usage(format!(
                "{} is named twice (two names for the same medium)",
                path.display()
            ))
            .into());
        }
        resolved.push(r);
    }
    Ok(resolved)
}

/// What each target is known by, for its record.
pub(crate) fn key(r: &Resolved) -> Key {
    match r {
        Resolved::Existing(p) => Key::of(p),
        Resolved::ToCreate { path, .. } => Key::named(path),
    }
}

/// Each target's certificate record (flags in target order, the manifest, what the
/// organization file requires), and with `--resume` what the command line gives each (to hold
/// against the record a resumed wipe began with; `require` is then checked once that is known).
pub(crate) fn records(
    req: &settings::Wipe,
    resolved: &[Resolved],
) -> anyhow::Result<(Vec<Record>, Vec<Given>)> {
    let keys: Vec<Key> = resolved.iter().map(key).collect();
    if req.resume {
        Ok((
            req.records.resolve_unchecked(&keys)?,
            req.records.given(&keys)?,
        ))
    } else {
        Ok((req.records.resolve(&keys)?, vec![Vec::new(); keys.len()]))
    }
}

/// The record of a wipe being resumed from journal `j`: the one it began with (flags given
/// again must agree), or for a journal of an older version this run's; then what the
/// organization file requires.
pub(crate) fn resumed_record(
    req: &settings::Wipe,
    r: &Resolved,
    j: &Journal,
    this_run: Record,
    given: &[(Field, String)],
) -> anyhow::Result<Record> {
    let rec = match &j.record {
        Some(kept) => crate::records::resumed(r.path(), kept, given)?,
        None => this_run,
    };
    req.records.check_required(&rec, &key(r))?;
    Ok(rec)
}

/// The certificate folder of a run that resumes wipes: the one they began with (`folders`,
/// from their journals), or the run's own when none says.
///
/// # Errors
/// [`Error::Usage`] when `--cert-dir` names another folder, or the wipes began with different
/// ones.
pub(crate) fn resumed_folder(
    req: &settings::Wipe,
    mut folders: Vec<PathBuf>,
) -> anyhow::Result<PathBuf> {
    folders.sort();
    folders.dedup();
    if folders.len() > 1 {
        return Err(Error::Usage(format!(
            "the wipes being resumed keep their certificates in different folders ({}); resume them \
             one at a time",
            folders
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    resume_folder(&req.cert_dir, req.cert_dir_given, folders.pop())
}

/// The certificate folder of a resumed run: `kept` (the one the work began with, from its
/// journal), or `dir` when the journal names none.
///
/// # Errors
/// [`Error::Usage`] when `--cert-dir` was given and names another folder than `kept`.
pub(crate) fn resume_folder(
    dir: &Path,
    given: bool,
    kept: Option<PathBuf>,
) -> anyhow::Result<PathBuf> {
    let Some(kept) = kept else {
        return Ok(dir.to_path_buf());
    };
    let asked = std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_path_buf());
    if given && asked != kept {
        return Err(Error::Usage(format!(
            "--cert-dir {} differs from the certificate folder of the work being resumed, {}; leave \
             --cert-dir out (the journal keeps the folder), or start over with --restart",
            dir.display(),
            kept.display()
        ))
        .into());
    }
    Ok(kept)
}

/// Nothing read-only, nothing in use.
pub(crate) fn check_safety(resolved: &[Resolved]) -> anyhow::Result<()> {
    for r in resolved {
        if let Resolved::Existing(p) = r {
            if p.read_only {
                return Err(Error::refused(
                    &p.path,
                    "the device is read-only (e.g. losetup -r, a write-protect switch)",
                )
                .into());
            }
            device::safety::check_not_in_use(p)?;
        }
    }
    Ok(())
}

/// The key that seals journals, where there is one: the signing key is needed to believe a
/// journal. It is created (on first use) only after the confirmation; without one, no journal
/// of ours can exist.
pub(crate) fn journal_mac(req: &settings::Wipe) -> anyhow::Result<Option<MacKey>> {
    Ok(super::existing_key(req.key.path.as_deref())?
        .map(|k| MacKey::of(&k))
        .transpose()?)
}

/// Each target's plan (see [`plan_one`]).
pub(crate) fn plan_all(
    req: &settings::Wipe,
    resolved: &[Resolved],
) -> anyhow::Result<Vec<(Plan, Option<Journal>)>> {
    let mac = journal_mac(req)?;
    resolved
        .iter()
        .map(|r| plan_one(req, r, mac.as_ref()))
        .collect()
}

/// A target's plan: a fresh one, or with `--resume` the one in its journal (found by the
/// medium's identity, believed only if the signing key sealed it).
pub(crate) fn plan_one(
    req: &settings::Wipe,
    r: &Resolved,
    mac: Option<&MacKey>,
) -> anyhow::Result<(Plan, Option<Journal>)> {
    let found = match r {
        Resolved::Existing(p) => {
            let jpath = journal::path_for(&req.journal_dir, &MediaKey::of(p), &p.canonical);
            match mac {
                Some(mac) => journal::load(&jpath, mac)?,
                None if jpath.exists() => Some(Found::Invalid(
                    "it cannot be checked without the signing key".into(),
                )),
                None => None,
            }
        }
        Resolved::ToCreate { .. } => None,
    };
    decide(req, r, found)
}

/// The resume decision for one target: fresh, or resumed from its (valid) journal, or a
/// refusal naming `--resume` / `--restart`. `--restart` is only ever offered for the medium
/// whose journal it is (journals are filed by identity).
fn decide(
    req: &settings::Wipe,
    r: &Resolved,
    found: Option<Found>,
) -> anyhow::Result<(Plan, Option<Journal>)> {
    let path = r.path();
    match (found, req.resume, req.restart) {
        (Some(Found::Valid(j)), true, _) => {
            if let Resolved::Existing(p) = r {
                if let Some(why) = j.media.differs(&MediaKey::of(p)) {
                    return Err(Error::refused(
                        path,
                        format!("its unfinished wipe was of other media ({why}); refusing to resume onto this one (--restart starts over)"),
                    )
                    .into());
                }
            }
            if req
                .policy_flag
                .as_ref()
                .is_some_and(|p| *p != j.policy.name && *p != j.policy.source)
            {
                return Err(Error::Usage(format!(
                    "the wipe of {} being resumed uses policy {}; leave out --policy",
                    path.display(),
                    j.policy.name
                ))
                .into());
            }
            Ok((clear::plan_from_journal(&j)?, Some(*j)))
        }
        (Some(Found::Invalid(why)), true, _) => Err(Error::Usage(format!(
            "the unfinished wipe of {} cannot be resumed: its journal {why}; start over with --restart",
            path.display()
        ))
        .into()),
        (Some(Found::Valid(j)), false, false) => Err(Error::Usage(format!(
            "{} has an unfinished wipe ({}, started {}); continue it with --resume, or start over with --restart",
            path.display(),
            clear::where_(&j),
            j.started
        ))
        .into()),
        (Some(Found::Invalid(why)), false, false) => Err(Error::Usage(format!(
            "{} has an unfinished wipe whose journal cannot be resumed ({why}); start over with --restart",
            path.display()
        ))
        .into()),
        (None, true, _) => Err(Error::Usage(format!(
            "{} has no unfinished wipe to resume (no journal for this medium in {}){}",
            path.display(),
            req.journal_dir.display(),
            super::last_certified(
                match r {
                    Resolved::Existing(p) => Some(p),
                    Resolved::ToCreate { .. } => None,
                },
                &req.cert_dir,
                &req.journal_dir
            )
        ))
        .into()),
        _ => Ok((
            plan::build(&req.policy, &req.overrides, &mut rand::rng()),
            None,
        )),
    }
}

/// A drive whose own sanitize was started and not finished (a purge journal) may still be
/// sanitizing: overwriting it now would be refused by the drive or lose the purge's
/// certificate. Refused, naming the way out.
pub(crate) fn refuse_unfinished_purge(req: &settings::Wipe, r: &Resolved) -> anyhow::Result<()> {
    let Resolved::Existing(p) = r else {
        return Ok(());
    };
    if p.kind != Kind::Block || req.restart {
        return Ok(());
    }
    let j = crate::purge::journal::path_for(&req.journal_dir, &MediaKey::of(p), &p.canonical);
    if j.exists() {
        return Err(Error::Usage(format!(
            "{} has an unfinished purge (journal {}): finish and certify it with `mediasan purge {} \
             --resume`, or overwrite anyway with --restart",
            p.path.display(),
            j.display(),
            p.path.display()
        ))
        .into());
    }
    Ok(())
}

/// The drive's health through its probed descriptor (`None` for an image to create).
pub(crate) fn health_of(req: &settings::Wipe, r: &Resolved) -> Option<Health> {
    match r {
        Resolved::Existing(p) => p
            .handle
            .as_deref()
            .map(|h| health::read(p, h, req.transport == crate::device::hidden::Transport::Ata)),
        Resolved::ToCreate { .. } => None,
    }
}

/// `--restore-hidden`: an ATA drive's hidden areas restored before it is opened to be
/// written, the kernel told its new size, the target probed again; the readings before and
/// after go into its record's notes. An image, or a drive without hidden sectors, is left as
/// it is.
///
/// # Errors
/// [`Error::Refused`] when the restore does not take, or the kernel does not see the size the
/// drive now reports (nothing is written then).
pub(crate) fn restore_hidden(
    transport: crate::device::hidden::Transport,
    r: &mut Resolved,
    record: &mut Record,
    reporter: &Reporter,
) -> anyhow::Result<()> {
    use crate::device::hidden;
    let Resolved::Existing(p) = r else {
        return Ok(());
    };
    let ata_like = matches!(
        p.identity.interface.as_str(),
        "sata" | "usb" | "scsi" | "sas"
    );
    if p.kind != Kind::Block || (transport == hidden::Transport::Auto && !ata_like) {
        return Ok(());
    }
    let refused = |why: String| {
        Error::refused(
            &p.path,
            format!("--restore-hidden: {why}; nothing was written"),
        )
    };
    let done = {
        let door = device::claim(p)?;
        match hidden::restore(&door) {
            Ok(d) => d,
            // Not an ATA drive after all (a SAS disk): nothing of this kind to restore.
            Err(e)
                if transport == hidden::Transport::Auto
                    && matches!(p.identity.interface.as_str(), "scsi" | "sas") =>
            {
                reporter.say(&format!(
                    "{}: no ATA hidden areas to restore ({e})",
                    p.path.display()
                ));
                None
            }
            Err(e) => return Err(refused(e.to_string()).into()),
        }
    };
    let Some(done) = done else {
        return Ok(());
    };
    // The kernel keeps the old capacity until the disk is revalidated.
    if let Some(name) = p.canonical.file_name() {
        let rescan = Path::new("/sys/class/block")
            .join(name)
            .join("device/rescan");
        let _ = std::fs::write(rescan, "1");
    }
    let now = device::probe(&p.path)?;
    if now.devno != p.devno || MediaKey::of(&now).serial != MediaKey::of(p).serial {
        return Err(refused(
            "after the rescan the name points to another device than the one confirmed".into(),
        )
        .into());
    }
    let want = done.after.sectors * u64::from(now.logical_block_size.max(1));
    if now.size != want {
        return Err(refused(format!(
            "the drive now reports {} sectors, but the kernel still sees {} bytes after a rescan",
            done.after.sectors, now.size
        ))
        .into());
    }
    let reading = |s: &hidden::Snapshot| {
        format!(
            "{} addressable sectors, native max LBA {}, DCO max LBA {}",
            s.sectors,
            s.native_max_lba.map_or("-".into(), |n| n.to_string()),
            s.dco_max_lba.map_or("-".into(), |n| n.to_string())
        )
    };
    let note = format!(
        "Hidden areas restored before the overwrite (--restore-hidden): {}. Before: {}. After: {}.",
        done.done.join("; "),
        reading(&done.before),
        reading(&done.after)
    );
    reporter.say(&format!("{}: {note}", p.path.display()));
    record.notes.push(note);
    *r = Resolved::Existing(Box::new(now));
    Ok(())
}

/// Creates the image if it is one to create, and opens the target (O_EXCL) through its probed
/// descriptor, checked against what was probed and confirmed, before the first write.
pub(crate) fn open_one(r: Resolved, reporter: &Reporter) -> anyhow::Result<Target> {
    let probe = match r {
        Resolved::Existing(p) => *p,
        Resolved::ToCreate { path, size } => {
            device::create_image(&path, size)?;
            reporter.say(&format!(
                "created image file {} ({})",
                path.display(),
                human_bytes(size)
            ));
            device::probe(&path)?
        }
    };
    Ok(device::open(&probe)?)
}

/// One target, on its own thread: its outcome, or an error line and FAIL.
pub(crate) fn one(
    t: &Target,
    plan: &Plan,
    resume: Option<Journal>,
    record: &Record,
    reserve: Reserve,
    session: &Session,
    rep: &TargetReporter,
) -> (Exit, Row) {
    let out = wipe_one(t, plan, resume, record, reserve, session, rep).unwrap_or_else(|e| {
        rep.say(&format!("error: {e:#}"));
        rep.reporter().emit(&Event::Error(event::TargetError {
            target: Some(rep.name().to_string()),
            error: format!("{e:#}"),
            code: Exit::Failed.code(),
        }));
        let row = Row {
            result: "ERROR".into(),
            target: rep.name().to_string(),
            serial: t.probe.identity.serial.clone(),
            asset: record.asset_tag.clone(),
            certificate: format!("none: {e}"),
        };
        (Exit::Failed, row)
    });
    rep.finish();
    out
}

fn wipe_one(
    t: &Target,
    plan: &Plan,
    resume: Option<Journal>,
    record: &Record,
    reserve: Reserve,
    session: &Session,
    rep: &TargetReporter,
) -> anyhow::Result<(Exit, Row)> {
    let req = session.req;
    let now = SystemTime::now();
    let (journal, resumed) = match resume {
        Some(j) => (clear::resume_journal(j, now), true),
        None => {
            // The whole record and the folder go into the journal: a resumed run (`--resume`
            // alone, from any folder) certifies with them.
            let mut j = clear::new_journal(&t.probe, plan, req.io.buffer_size, now);
            j.record = Some(record.clone());
            j.cert_dir = Some(session.cert_folder.path.clone());
            (j, false)
        }
    };
    let journal_path = journal::path_for(
        &session.journal_dir,
        &MediaKey::of(&t.probe),
        &t.probe.canonical,
    );
    // Resumed passes keep the chunk boundaries of the run that began them.
    let io = IoConfig {
        buffer_size: usize::try_from(journal.buffer_size).unwrap_or(req.io.buffer_size),
        queue_depth: session.queue_depth,
        ..req.io.clone()
    };
    let job = clear::Job {
        target: t,
        probe: &t.probe,
        drive: t.file(),
        plan,
        journal,
        resumed,
        journal_path: journal_path.clone(),
        mac: &session.mac,
        io,
        checkpoint: req.checkpoint,
        transport: req.transport,
        fail_slow: req.fail_slow,
        after_resume: req.after_resume.unwrap_or(plan.policy.after_resume),
        hold: req.hold.as_deref(),
    };
    let (outcome, mut journal) = clear::run(job, &session.signals, rep)?;
    let interrupted = outcome.interrupted;
    let c = cert::build::clear(&t.probe, t.direct_io, outcome, record);
    if interrupted {
        // The run that finishes this wipe names the INCOMPLETE certificates it replaces.
        journal.certificates.push(c.id.clone());
        if let Err(e) = journal::save(&journal_path, &journal, &session.mac) {
            rep.say(&format!(
                "warning: {e}; the final certificate will not name this one as superseded"
            ));
        }
    }
    finish(c, interrupted, &journal_path, reserve, session, rep)
}

/// Signs and stores the certificate, keeps the journal of an interrupted wipe (removes it
/// otherwise, once the certificate is on disk), says the result; the target's exit.
fn finish(
    c: Certificate,
    interrupted: bool,
    journal_path: &Path,
    mut reserve: Reserve,
    session: &Session,
    rep: &TargetReporter,
) -> anyhow::Result<(Exit, Row)> {
    reserve.release();
    let stored = super::store_certificate(&c, &session.cert_dirs, &session.key, rep.reporter())?;
    session
        .signals
        .hold(session.req.hold.as_deref(), "certified");
    let name = c.media.path.clone();
    if interrupted {
        rep.say(&format!(
            "the journal is kept: continue with `mediasan wipe {name} --resume`"
        ));
    } else if stored.json.is_some() {
        // Finished (PASS or FAIL) with a certificate on disk: nothing left to resume.
        journal::remove(journal_path);
    }
    let row = super::announce(&c, stored, rep);
    if interrupted {
        crate::term::also_on_terminal(&crate::term::escape(&format!(
            "{name}: {} - certificate {}; continue with `mediasan wipe {name} --resume`",
            row.result, row.certificate
        )));
    }
    Ok((Exit::of(c.result, interrupted), row))
}

/// A zoned block device's zone layout and what an overwrite does with it (a dry run's line),
/// from its zone report read now; `None` for any other target.
pub(crate) fn zones_plan(r: &Resolved) -> Option<String> {
    let Resolved::Existing(p) = r else {
        return None;
    };
    if p.kind != Kind::Block || p.identity.zoned.is_empty() {
        return None;
    }
    let kind = &p.identity.zoned;
    Some(
        match device::open_readonly(p).map(|t| device::BlockIo::report_zones(&t)) {
            Ok(Some(Ok(m))) => format!("zoned ({kind}): {}", m.describe(p.size)),
            Ok(Some(Err(e))) => format!("zoned ({kind}): its zone report failed: {e}"),
            Ok(None) => format!("zoned ({kind})"),
            Err(e) => format!("zoned ({kind}): its zone report could not be read: {e}"),
        },
    )
}

pub(crate) fn describe(r: &Resolved) -> String {
    match r {
        Resolved::ToCreate { path, size } => {
            format!(
                "{}: new image file, {} ({size} bytes)",
                path.display(),
                human_bytes(*size)
            )
        }
        Resolved::Existing(p) => {
            let mut s = format!(
                "{}: {} {}, {} ({} bytes), {}-byte blocks",
                p.path.display(),
                if p.kind == Kind::Block {
                    "block device"
                } else {
                    "image file"
                },
                p.identity.interface,
                human_bytes(p.size),
                p.size,
                p.logical_block_size
            );
            let id = &p.identity;
            if !id.model.is_empty() || !id.serial.is_empty() {
                s += &format!(", model '{}' serial '{}'", id.model, id.serial);
            }
            if !id.backing.is_empty() {
                s += &format!(", on {}", id.backing);
            }
            s
        }
    }
}

/// The asset tag as shown beside a target.
pub(crate) fn asset(rec: &Record) -> String {
    if rec.asset_tag.is_empty() {
        "no asset tag".into()
    } else {
        format!("asset tag {}", rec.asset_tag)
    }
}
