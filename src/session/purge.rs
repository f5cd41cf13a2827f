//! A drive's own sanitize command as every command that purges shares it (`purge`,
//! `sanitize`'s device steps, `bench`): the bus to talk over, the drive opened (real or
//! simulated), an unfinished purge found and judged, and a finished purge certified, signed,
//! stored and announced.

use std::path::Path;

use crate::cert;
use crate::device::{self, Kind, Probe};
use crate::error::{Error, Exit};
use crate::evidence::{self, Folder, Reserve, RESERVE_BYTES};
use crate::journal::{Found, MacKey, MediaKey};
use crate::progress::TargetReporter;
use crate::purge::engine::Bus;
use crate::purge::flow::{self, Drive, Keeper};
use crate::purge::journal::Pending;
use crate::settings;
use crate::signals::Signals;

/// The bus to talk to `p` over: `--transport`, else from sysfs; or why it has none.
pub(crate) fn bus_of(transport: Option<Bus>, p: &Probe) -> Result<Bus, String> {
    if let Some(b) = transport {
        return Ok(b);
    }
    Ok(match p.identity.interface.as_str() {
        "nvme" => Bus::Nvme,
        "sata" | "usb" => Bus::Ata,
        // A SATA drive behind a SAS HBA or another SCSI host: its translator (SAT) says
        // vendor "ATA"; it is driven with ATA commands through ATA PASS-THROUGH.
        "sas" | "scsi" if p.identity.vendor.trim() == "ATA" => Bus::Ata,
        "sas" | "scsi" => Bus::Scsi,
        "loop" => {
            return Err(format!(
                "a loop device is a file underneath, with no sanitize command of its own; overwrite it \
                 with `mediasan wipe {}`",
                p.path.display()
            ))
        }
        "virtio" | "xen" => {
            return Err(format!(
                "a virtual disk ({}) has no sanitize command a guest can send; overwrite it with \
                 `mediasan wipe {}`, or sanitize the storage on the host",
                p.identity.interface,
                p.path.display()
            ))
        }
        other => {
            return Err(format!(
                "a {} device has no sanitize command mediasan can send; if it is really NVMe, ATA or SCSI \
                 behind a bridge (a USB enclosure), say so with --transport nvme|ata|scsi",
                if other.is_empty() { "device of unknown type" } else { other }
            ))
        }
    })
}

/// `p` as a drive to purge, checked (a whole, writable, unused drive with a bus mediasan can
/// talk) and claimed exclusively through its probed descriptor.
///
/// # Errors
/// [`Error::NoPurge`] when it has no sanitize command mediasan can send; a refusal otherwise.
pub(crate) fn drive_of(p: Probe, transport: Option<Bus>) -> anyhow::Result<Drive> {
    if p.kind != Kind::Block {
        return Err(Error::target(
            &p.path,
            "is not a block device; purge needs a drive (use `mediasan wipe` for image files)",
        )
        .into());
    }
    if let Some(disk) = device::partition_of(&p) {
        return Err(Error::refused(
            &p.path,
            format!(
                "it is a partition of /dev/{disk}; a purge erases the whole drive, not a partition: \
                 name the drive (/dev/{disk}) if that is what you mean, or use `mediasan wipe` for the partition"
            ),
        )
        .into());
    }
    if p.read_only {
        return Err(Error::refused(&p.path, "the device is read-only").into());
    }
    device::safety::check_not_in_use(&p)?;
    let bus = bus_of(transport, &p).map_err(|reason| Error::NoPurge {
        path: p.path.clone(),
        reason,
    })?;
    Ok(Drive {
        bus,
        pass: Box::new(device::claim(&p)?),
        // Read-write, for the canaries (the claim above holds the device exclusively).
        media: Box::new(device::open_media(&p)?),
        probe: p,
        simulated: false,
    })
}

/// The drive's unfinished purge to finish (`--resume`), or `None` to purge afresh; a
/// refusal naming `--resume` / `--restart` when the two would collide. A journal is believed
/// only if the signing key sealed it and it names this medium.
pub(crate) fn unfinished(
    key: Option<&Path>,
    (resume, restart): (bool, bool),
    (journal_dir, cert_dir): (&Path, &Path),
    d: &Drive,
    path: &Path,
) -> anyhow::Result<Option<Box<Pending>>> {
    let mac = super::existing_key(key)?
        .map(|k| MacKey::of(&k))
        .transpose()?;
    let found = match &mac {
        Some(mac) => crate::journal::load::<Pending>(path, mac)?,
        None if path.exists() => Some(Found::Invalid(
            "it cannot be checked without the signing key".into(),
        )),
        None => None,
    };
    let name = d.probe.path.display();
    let usage = |m: String| -> anyhow::Result<Option<Box<Pending>>> { Err(Error::Usage(m).into()) };
    match (found, resume, restart) {
        (Some(Found::Valid(j)), true, _) => match j.media.differs(&MediaKey::of(&d.probe)) {
            Some(why) => Err(Error::refused(
                &d.probe.path,
                format!("its unfinished purge was of other media ({why}); refusing to certify this one"),
            )
            .into()),
            None => Ok(Some(j)),
        },
        (Some(Found::Invalid(why)), true, _) => usage(format!(
            "the unfinished purge of {name} cannot be finished: its journal {why}; discard it with --restart \
             and purge again"
        )),
        (Some(Found::Valid(j)), false, false) => usage(format!(
            "{name} has an unfinished purge ({}, started {}): finish and certify it with --resume, or discard \
             it and purge again with --restart",
            j.method,
            crate::cert::timestamp(j.outcome.started)
        )),
        (Some(Found::Invalid(why)), false, false) => usage(format!(
            "{name} has an unfinished purge whose journal cannot be believed ({why}); discard it and purge \
             again with --restart"
        )),
        (None, true, _) => usage(format!(
            "{name} has no unfinished purge to finish (no purge journal for this drive in {}){}",
            journal_dir.display(),
            super::last_certified(Some(&d.probe), cert_dir, journal_dir)
        )),
        _ => Ok(None),
    }
}

/// The drive of `mediasan purge`, chosen once: the hidden test seam's simulation, or the real device checked
/// (a whole, writable, unused drive) and claimed exclusively through its probed descriptor.
pub(crate) fn open(req: &settings::Purge) -> anyhow::Result<Drive> {
    if let Some(spec) = &req.simulate {
        return Ok(Drive::from_simulation(&req.target, spec).map_err(Error::Usage)?);
    }
    drive_of(device::probe(&req.target)?, req.transport)
}

/// The drive of `mediasan capture`: opened read-only, without an exclusive claim (a capture
/// only reads), its commands going through the probe's descriptor; its media neither read nor
/// written.
pub(crate) fn open_read_only(target: &Path, transport: Option<Bus>) -> anyhow::Result<Drive> {
    let p = device::probe(target)?;
    if p.kind != Kind::Block {
        return Err(
            Error::target(&p.path, "is not a block device; capture records a drive").into(),
        );
    }
    let bus = bus_of(transport, &p)
        .map_err(|why| Error::target(&p.path, format!("has no commands to record: {why}")))?;
    let Some(handle) = p.handle.clone() else {
        return Err(Error::target(&p.path, "cannot be opened").into());
    };
    Ok(Drive {
        bus,
        pass: Box::new(handle),
        media: Box::new(device::replay::NoMedia {
            size: p.size,
            block_size: p.logical_block_size,
        }),
        probe: p,
        simulated: false,
    })
}

/// The drive's certificate record (the manifest, what the organization file requires), with
/// a warning for what an auditor will miss.
pub(crate) fn record(
    req: &settings::Purge,
    p: &Probe,
) -> anyhow::Result<(cert::Record, Vec<String>)> {
    let keys = [crate::records::Key::of(p)];
    let mut records = req.records.resolve(&keys)?;
    let warnings = req.records.warnings(&records, &keys);
    Ok((records.remove(0), warnings))
}

/// The record of a purge being finished: the one it began with (flags given again must
/// agree), or for a journal of an older version this run's; then what the organization file
/// requires.
pub(crate) fn resumed_record(
    req: &settings::Purge,
    p: &Probe,
    pending: &Pending,
) -> anyhow::Result<cert::Record> {
    let keys = [crate::records::Key::of(p)];
    let rec = match &pending.record {
        Some(kept) => {
            let given = req.records.given(&keys)?;
            crate::records::resumed(&p.path, kept, &given[0])?
        }
        None => req.records.resolve_unchecked(&keys)?.remove(0),
    };
    req.records.check_required(&rec, &keys[0])?;
    Ok(rec)
}

/// Where the certificate goes, proven writable with room, before anything is sent (and the
/// journal folder, so a purge is never started that could not be finished later).
pub(crate) fn cert_folder(req: &settings::Purge) -> anyhow::Result<(Folder, Reserve)> {
    let folder = Folder::prepare(
        &req.cert_dir,
        RESERVE_BYTES,
        "certificate folder (--cert-dir)",
    )?;
    Folder::prepare(
        &req.journal_dir,
        RESERVE_BYTES,
        "journal folder (--journal-dir)",
    )?;
    let reserve = Reserve::new(&folder)?;
    Ok((folder, reserve))
}

/// The settings of a purge being finished: its certificates go where it began (see
/// [`super::overwrite::resume_folder`]).
///
/// # Errors
/// [`Error::Usage`] when `--cert-dir` names another folder than the journal's.
pub(crate) fn resumed_settings(
    req: &settings::Purge,
    pending: &Pending,
) -> anyhow::Result<settings::Purge> {
    Ok(settings::Purge {
        cert_dir: super::overwrite::resume_folder(
            &req.cert_dir,
            req.cert_dir_given,
            pending.cert_dir.clone(),
        )?,
        ..req.clone()
    })
}

/// The confirmed part of `mediasan purge` (first run or `--resume`): the evidence folders
/// proven with room, the key, the journal's keeper and the signals ready before `go` talks to
/// the drive (from then on SIGINT/SIGTERM stop following the drive, never the drive; SIGHUP
/// nothing); then the certificate.
pub(crate) fn run_and_certify(
    req: &settings::Purge,
    drive: &Drive,
    record: &cert::Record,
    journal_path: std::path::PathBuf,
    rep: &TargetReporter,
    go: impl FnOnce(&Keeper, &Signals) -> Result<flow::Ran, Error>,
) -> anyhow::Result<Exit> {
    let (folder, reserve) = cert_folder(req)?;
    let key = super::load_key(&req.key, rep.reporter())?;
    let keeper = Keeper {
        path: journal_path,
        mac: MacKey::of(&key)?,
        record: Some(record.clone()),
        cert_dir: Some(folder.path.clone()),
    };
    let signals = Signals::install();
    let ran = go(&keeper, &signals)?;
    rep.finish();
    let no_limits = crate::device::health::Limits::default();
    let end = Certify {
        limits: &no_limits,
        hold: req.request.hold.as_deref(),
        drive,
        record,
        dirs: evidence::fallbacks(&folder.path, None),
        keeper: &keeper,
        key: &key,
        signals: &signals,
    };
    Ok(end.certify(ran, reserve, rep)?.0)
}

/// What the end of a run (first or later) needs to certify it.
pub(crate) struct Certify<'a> {
    /// The triage limits of the policy that chose this purge (none for `mediasan purge`).
    pub(crate) limits: &'a crate::device::health::Limits,
    pub(crate) hold: Option<&'a str>,
    pub(crate) drive: &'a Drive,
    pub(crate) record: &'a cert::Record,
    /// The certificate folder, then where a certificate goes if it cannot be written there.
    pub(crate) dirs: Vec<std::path::PathBuf>,
    pub(crate) keeper: &'a Keeper,
    pub(crate) key: &'a crate::cert::sign::Signing,
    pub(crate) signals: &'a Signals,
}

impl Certify<'_> {
    /// Builds, signs and stores the certificate; keeps the journal while the drive may still
    /// be sanitizing (naming this INCOMPLETE certificate for the final one to supersede),
    /// removes it once the final certificate is on disk.
    pub(crate) fn certify(
        &self,
        ran: flow::Ran,
        mut reserve: Reserve,
        rep: &crate::progress::TargetReporter,
    ) -> anyhow::Result<(Exit, crate::summary::Row)> {
        let interrupted = ran.outcome.interrupted.is_some();
        let mut c = cert::build::purge(&self.drive.probe, ran.outcome, self.record);
        cert::build::health_notes(&c.media.health, self.limits).apply(&mut c);
        reserve.release();
        let stored = super::store_certificate(&c, &self.dirs, self.key, rep.reporter())?;
        match ran.pending {
            Some(p) => {
                if let Err(e) = self.keeper.keep(p, &c.id) {
                    rep.say(&format!(
                        "warning: {e}; the final certificate will not name this one as superseded"
                    ));
                }
            }
            None if stored.json.is_some() => self.keeper.remove(),
            None => {}
        }
        self.signals.hold(self.hold, "purge-certified");
        let row = super::announce(&c, stored, rep);
        Ok((Exit::of(c.result, interrupted), row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(interface: &str, vendor: &str) -> Probe {
        let mut p = crate::purge::flow::Drive::simulated(
            std::path::Path::new("/dev/sdq"),
            std::sync::Arc::new(crate::purge::sim::SimNvme::new(
                1 << 20,
                crate::purge::sim::SimConfig::default(),
            )),
        )
        .probe;
        p.identity.interface = interface.into();
        p.identity.vendor = vendor.into();
        p
    }

    #[test]
    fn a_sata_drive_behind_a_sas_hba_is_driven_through_sat() {
        assert_eq!(bus_of(None, &probe("sas", "ATA     ")), Ok(Bus::Ata));
        assert_eq!(bus_of(None, &probe("scsi", "ATA")), Ok(Bus::Ata));
        assert_eq!(bus_of(None, &probe("sas", "SEAGATE")), Ok(Bus::Scsi));
        assert_eq!(bus_of(None, &probe("sata", "ATA")), Ok(Bus::Ata));
        assert_eq!(bus_of(None, &probe("nvme", "")), Ok(Bus::Nvme));
        assert!(bus_of(None, &probe("loop", "")).is_err());
    }
}
