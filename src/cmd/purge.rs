//! `mediasan purge DEVICE` and `mediasan purge-status DEVICE`: the straight line for
//! the drive's own sanitize command: settings → the drive (real or simulated, chosen once) →
//! `purge::flow::prepare` (what to send, what it erases, every refusal) → dry run or
//! confirmation → evidence folder and key → `purge::flow::run` → `cert::build::purge` → sign
//! and store.

use std::path::Path;
use std::sync::Arc;

use crate::cert;
use crate::cli::{BusArg, PurgeArgs, PurgeStatusArgs};
use crate::device::{self, Probe};
use crate::error::{Error, Exit};
use crate::event::{self, Event};
use crate::evidence::{self, Folder, Reserve, RESERVE_BYTES};
use crate::journal::{MacKey, MediaKey};
use crate::progress::Reporter;
use crate::purge::engine::{self, Bus, State};
use crate::purge::flow::{self, bus_name, Drive, Keeper, Prepared};
use crate::purge::journal::{self, Pending, Stage};
use crate::purge::sim::SimNvme;
use crate::session::purge::{bus_of, drive_of, unfinished, Certify};
use crate::settings;
use crate::signals::Signals;

/// The drive, chosen once: the hidden test seam's simulation, or the real device checked
/// (a whole, writable, unused drive) and claimed exclusively through its probed descriptor.
fn open(req: &settings::Purge) -> anyhow::Result<Drive> {
    if let Some(spec) = &req.simulate {
        let sim = SimNvme::from_spec(spec).map_err(Error::Usage)?;
        return Ok(Drive::simulated(&req.target, Arc::new(sim)));
    }
    drive_of(device::probe(&req.target)?, req.transport)
}

/// The drive's certificate record (the manifest, what the organization file requires), with
/// a warning for what an auditor will miss.
fn record(req: &settings::Purge, p: &Probe) -> anyhow::Result<(cert::Record, Vec<String>)> {
    let keys = [crate::records::Key::of(p)];
    let mut records = req.records.resolve(&keys)?;
    let warnings = req.records.warnings(&records, &keys);
    Ok((records.remove(0), warnings))
}

/// The record of a purge being finished: the one it began with (flags given again must
/// agree), or for a journal of an older version this run's; then what the organization file
/// requires.
fn resumed_record(
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

pub fn run(args: &PurgeArgs) -> anyhow::Result<Exit> {
    let req = settings::Purge::new(args)?;
    let reporter = Reporter::new(req.json, req.progress_interval);
    let drive = open(&req)?;
    if req.unlock {
        return unlock(&drive, &reporter);
    }
    let journal_path = journal::path_for(
        &req.journal_dir,
        &MediaKey::of(&drive.probe),
        &drive.probe.canonical,
    );
    if req.request.dry_run {
        if journal_path.exists() {
            reporter.say(&format!(
                "note: {} has an unfinished purge (journal {}): `--resume` finishes it",
                drive.probe.path.display(),
                journal_path.display()
            ));
        }
    } else if let Some(pending) = unfinished(
        req.key.path.as_deref(),
        (req.resume, req.restart),
        &req.journal_dir,
        &drive,
        &journal_path,
    )? {
        return resume(&req, &drive, *pending, &journal_path, &reporter);
    }
    let (record, warnings) = record(&req, &drive.probe)?;
    let rep = reporter.target(&drive.probe.path.display().to_string());
    let prepared = flow::prepare(&drive, &req.request, &rep)?;
    if req.request.dry_run || req.yes {
        // Asked for: said once everything else is settled (in the prompt otherwise).
        warnings.iter().for_each(|w| reporter.say(w));
    }
    if req.request.dry_run {
        show(&drive, &prepared, &reporter);
        return Ok(Exit::Pass);
    }
    super::key_ready(&req.key)?;
    if !req.yes {
        let mut about = vec![
            format!(
                "operator: {}",
                if record.operator.name.is_empty() {
                    "(none)"
                } else {
                    &record.operator.name
                }
            ),
            format!(
                "asset tag: {}",
                if record.asset_tag.is_empty() {
                    "(none)"
                } else {
                    &record.asset_tag
                }
            ),
            format!("certificates: {}", req.cert_dir.display()),
        ];
        about.extend(warnings.iter().cloned());
        super::confirm(&drive.probe.path, &prepared.describe(&drive.probe), &about)?;
    }
    let _held = flow::claim_scope(&drive, &prepared)?;
    let (folder, reserve) = cert_folder(&req)?;
    let key = super::load_key(&req.key, &reporter)?;
    let keeper = Keeper {
        path: journal_path,
        mac: MacKey::of(&key)?,
        record: Some(record.clone()),
        cert_dir: Some(folder.path.clone()),
    };
    // From here on SIGINT/SIGTERM stop following the drive (never the drive), SIGHUP nothing.
    let signals = Signals::install();
    let ran = flow::run(&drive, &prepared, &req.request, &keeper, &signals, &rep)?;
    rep.finish();
    let no_limits = crate::device::health::Limits::default();
    let end = Certify {
        limits: &no_limits,
        hold: req.request.hold.as_deref(),
        drive: &drive,
        record: &record,
        dirs: evidence::fallbacks(&folder.path, None),
        keeper: &keeper,
        key: &key,
        signals: &signals,
    };
    Ok(end.certify(ran, reserve, &rep)?.0)
}

/// Where the certificate goes, proven writable with room, before anything is sent (and the
/// journal folder, so a purge is never started that could not be finished later).
fn cert_folder(req: &settings::Purge) -> anyhow::Result<(Folder, Reserve)> {
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

/// `--resume`: finishes the purge an earlier run left, and certifies it. Sends nothing that
/// erases (an ATA drive a cut security erase left with mediasan's password gets it removed).
fn resume(
    req: &settings::Purge,
    drive: &Drive,
    pending: Pending,
    journal_path: &Path,
    reporter: &Reporter,
) -> anyhow::Result<Exit> {
    // The record and folder the purge began with; flags given again must agree.
    let record = resumed_record(req, &drive.probe, &pending)?;
    let folder_kept = pending.cert_dir.clone();
    let rep = reporter.target(&drive.probe.path.display().to_string());
    rep.say(&format!(
        "finishing the purge started {} ({}, {})",
        crate::cert::timestamp(pending.outcome.started),
        pending.method,
        match pending.stage {
            Stage::Planned => "the command may not have reached the drive",
            Stage::Sent => "the drive accepted the command",
        }
    ));
    let req = &settings::Purge {
        cert_dir: crate::session::overwrite::resume_folder(
            &req.cert_dir,
            req.cert_dir_given,
            folder_kept,
        )?,
        ..req.clone()
    };
    let (folder, reserve) = cert_folder(req)?;
    let key = super::load_key(&req.key, reporter)?;
    let keeper = Keeper {
        path: journal_path.to_path_buf(),
        mac: MacKey::of(&key)?,
        record: Some(record.clone()),
        cert_dir: Some(folder.path.clone()),
    };
    let signals = Signals::install();
    let ran = flow::resume(drive, pending, &req.request, &signals, &rep)?;
    rep.finish();
    let no_limits = crate::device::health::Limits::default();
    let end = Certify {
        limits: &no_limits,
        hold: req.request.hold.as_deref(),
        drive,
        record: &record,
        dirs: evidence::fallbacks(&folder.path, None),
        keeper: &keeper,
        key: &key,
        signals: &signals,
    };
    Ok(end.certify(ran, reserve, &rep)?.0)
}

/// `--unlock`: mediasan's temporary ATA password off the drive, nothing else.
fn unlock(d: &Drive, reporter: &Reporter) -> anyhow::Result<Exit> {
    if d.bus != Bus::Ata {
        return Err(Error::target(
            &d.probe.path,
            "--unlock is for ATA drives (ATA security passwords); this drive is not ATA",
        )
        .into());
    }
    let done = engine::unlock(d.pass.as_ref()).map_err(|why| Error::refused(&d.probe.path, why))?;
    reporter.say(&format!("{}: {done}", d.probe.path.display()));
    Ok(Exit::Pass)
}

/// `--dry-run`: the exact bytes, what they erase, and the drive's estimate.
pub(crate) fn show(d: &Drive, p: &Prepared, reporter: &Reporter) {
    let hex = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if reporter.json() {
        reporter.emit(&Event::PurgePlan(event::PurgePlan {
            target: d.probe.path.clone(),
            method: p.method.name().into(),
            grade: format!("{:?}", p.grade).to_lowercase(),
            bus: bus_name(d.bus).into(),
            bytes: p
                .bytes
                .iter()
                .map(|b| event::Bytes {
                    what: b.label.clone(),
                    hex: hex(&b.bytes),
                    fields: b.fields().unwrap_or_default(),
                })
                .collect(),
            scope: p.scope.reaches.clone(),
            estimate_seconds: p.estimate.map(|e| e.seconds),
            dry_run: true,
        }));
        return;
    }
    let lines = p.describe(&d.probe);
    outln!("dry run, nothing is sent that erases: {}", lines[0]);
    for l in &lines[1..] {
        outln!("{l}");
    }
    for b in &p.bytes {
        outln!("  {}: {}", b.label, hex(&b.bytes));
        if let Some(f) = b.fields() {
            outln!("    = {f}");
        }
    }
}

pub fn status(args: &PurgeStatusArgs) -> anyhow::Result<Exit> {
    let p = device::probe(&args.target)?;
    let transport = match args.transport {
        BusArg::Auto => None,
        BusArg::Nvme => Some(Bus::Nvme),
        BusArg::Ata => Some(Bus::Ata),
        BusArg::Scsi => Some(Bus::Scsi),
    };
    // Only reading here: nothing is refused "for safety", a target without a status is an
    // input error.
    let bus = bus_of(transport, &p)
        .map_err(|why| Error::target(&p.path, format!("has no sanitize status to read: {why}")))?;
    let Some(drive) = p.handle.as_deref() else {
        return Err(Error::target(&p.path, "cannot be opened").into());
    };
    // An ATA drive without the SANITIZE feature set aborts SANITIZE STATUS EXT the way a
    // failed sanitize is reported: what the drive supports is read first.
    let unsupported = match bus {
        Bus::Ata => match engine::identify(drive) {
            Ok(id) if !id.sanitize => Some(
                "the drive has no SANITIZE feature set (IDENTIFY word 59 bit 12 is clear)"
                    .to_string(),
            ),
            Ok(_) => None,
            Err(e) => {
                return Err(Error::target(
                    &p.path,
                    format!("its sanitize status cannot be read: IDENTIFY DEVICE failed: {e}"),
                )
                .into())
            }
        },
        _ => None,
    };
    let st = match &unsupported {
        Some(_) => None,
        None => Some(engine::poll(drive, bus, &engine::Expect::default())),
    };
    let (state, percent, detail) = match &st {
        None => ("unsupported", None, unsupported.unwrap_or_default()),
        Some(st) => match st {
            State::Running(x) => ("running", Some(*x), String::new()),
            State::Completed(w) => ("completed", None, w.clone()),
            State::Failed(w) => ("failed", None, w.clone()),
            State::Idle(w) => ("none", None, w.clone()),
            State::Unknown(w) => {
                return Err(Error::target(
                    &p.path,
                    format!("its sanitize status cannot be read: {w}"),
                )
                .into())
            }
        },
    };
    if args.json {
        crate::term::out(
            &Event::PurgeStatus(event::PurgeStatus {
                target: p.path.clone(),
                state: state.into(),
                percent,
                detail,
            })
            .line(),
        );
    } else {
        outln!(
            "{}: sanitize {state}{}{}",
            p.path.display(),
            percent.map(|x| format!(" ({x:.1} %)")).unwrap_or_default(),
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            }
        );
    }
    Ok(Exit::Pass)
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
