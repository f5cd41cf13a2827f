//! `mediasan purge DEVICE` and `mediasan purge-status DEVICE`: the straight line for
//! the drive's own sanitize command: settings → the drive (real or simulated, chosen once) →
//! `purge::flow::prepare` (what to send, what it erases, every refusal) → dry run or
//! confirmation → `session::purge::run_and_certify` (evidence folder and key →
//! `purge::flow::run` → `cert::build::purge` → sign and store).

use std::path::Path;

use crate::cert;
use crate::cli::{PurgeArgs, PurgeStatusArgs};
use crate::device::{self};
use crate::error::{Error, Exit};
use crate::event::{self, Event};
use crate::journal::MediaKey;
use crate::progress::Reporter;
use crate::purge::engine::{self, Bus, State};
use crate::purge::flow::{self, bus_name, Drive, Keeper, Prepared};
use crate::purge::journal::{self, Pending, Stage};
use crate::session::purge::{self, bus_of, unfinished};
use crate::settings;
use crate::signals::Signals;

pub fn run(args: &PurgeArgs) -> anyhow::Result<Exit> {
    let req = settings::Purge::new(args)?;
    let reporter = Reporter::new(req.json, req.progress_interval);
    let drive = purge::open(&req)?;
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
        (&req.journal_dir, &req.cert_dir),
        &drive,
        &journal_path,
    )? {
        return resume(&req, &drive, *pending, &journal_path, &reporter);
    }
    let (record, warnings) = purge::record(&req, &drive.probe)?;
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
        confirm(&req, &drive, &prepared, &record, &warnings)?;
    }
    let _held = flow::claim_scope(&drive, &prepared)?;
    let ran = |keeper: &Keeper, signals: &Signals| {
        flow::run(&drive, &prepared, &req.request, keeper, signals, &rep)
    };
    purge::run_and_certify(&req, &drive, &record, journal_path, &rep, ran)
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
    let record = purge::resumed_record(req, &drive.probe, &pending)?;
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
    let req = &purge::resumed_settings(req, &pending)?;
    let ran =
        |_: &Keeper, signals: &Signals| flow::resume(drive, pending, &req.request, signals, &rep);
    purge::run_and_certify(req, drive, &record, journal_path.to_path_buf(), &rep, ran)
}

/// The one question before the drive is sent its command (unless `--yes`).
fn confirm(
    req: &settings::Purge,
    drive: &Drive,
    prepared: &Prepared,
    record: &cert::Record,
    warnings: &[String],
) -> anyhow::Result<()> {
    let or_none = |s: &str| {
        if s.is_empty() {
            "(none)".to_string()
        } else {
            s.to_string()
        }
    };
    let mut about = vec![
        format!("operator: {}", or_none(&record.operator.name)),
        format!("asset tag: {}", or_none(&record.asset_tag)),
        format!("certificates: {}", req.cert_dir.display()),
    ];
    about.extend(warnings.iter().cloned());
    super::confirm(&drive.probe.path, &prepared.describe(&drive.probe), &about)
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
    let transport = crate::settings::transport(args.transport);
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
