//! Purge with the drive's own command, for one drive: the library flow every front end calls.
//! [`prepare`] reads what the drive can do and decides what to send and what it erases (every
//! refusal happens here, before anything that erases); [`run`] hashes sampled locations,
//! sends the command, follows the drive's progress, reads the samples again, and returns what
//! happened as the certificate's record.
//!
//! Whether a signal cut the purge short is decided once: before the command is sent (nothing
//! erased), or while waiting for the drive (the drive carries on; mediasan stops following it).
//! Both give an INCOMPLETE certificate and exit 130. Once the drive reported the end, a signal
//! changes nothing.

use std::path::Path;
use std::time::{Duration, SystemTime};

use rand::RngCore;

use super::engine::{self, Bus, Caps, Evidence, Options, State};
use super::method::{self, Grade, Method};
use super::scope::{self, Scope};
use crate::cert::build::PurgeOutcome;
use crate::cert::{self, DeviceCommand, Verification};
use crate::contract::IoFailure;
use crate::device::passthrough::Passthrough;
use crate::device::{self, BlockIo, Probe};
use crate::error::Error;
use crate::event::{self, Event};
use crate::pattern::Pattern;
use crate::progress::Observer;
use crate::signals::Signals;
use crate::verify;

/// A drive, chosen once: the real device (its claimed descriptor and a read-only view of its
/// media) or the test seam's simulation behind the same two traits.
pub struct Drive {
    pub probe: Probe,
    pub bus: Bus,
    /// The command door.
    pub pass: Box<dyn Passthrough>,
    /// The media the evidence is read from.
    pub media: Box<dyn BlockIo>,
    /// The test seam's simulated drive (no sysfs, nothing else to hold).
    pub simulated: bool,
}

/// What the operator asked for.
#[derive(Clone, Debug)]
pub struct Request {
    /// A method by name, or `None` for nist-purge (the strongest Purge the drive has).
    pub method: Option<Method>,
    /// Overwrite: the 32-bit pattern and the passes.
    pub pattern: u32,
    pub passes: u8,
    pub ause: bool,
    pub exit_failure_mode: bool,
    pub allow_shared: bool,
    pub verify_percent: u8,
    pub poll: Duration,
    pub dry_run: bool,
    pub hold: Option<String>,
}

/// What will be sent, to what effect.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub method: Method,
    pub grade: Grade,
    pub caps: Caps,
    pub opts: Options,
    /// Each command or data block that starts it, labelled.
    pub bytes: Vec<(String, Vec<u8>)>,
    /// The drive's own time estimate, seconds.
    pub estimate: Option<u64>,
    pub scope: Scope,
}

/// `nvme`, `ata` or `scsi`.
pub fn bus_name(b: Bus) -> &'static str {
    match b {
        Bus::Nvme => "nvme",
        Bus::Ata => "ata",
        Bus::Scsi => "scsi",
    }
}

impl Prepared {
    /// The lines a person confirms: the device, the method, its grade and estimate, and
    /// everything it erases.
    pub fn describe(&self, probe: &Probe) -> Vec<String> {
        let m = self.method;
        let mut lines = vec![format!(
            "{} {}: {} ({}{}){}; it erases {}",
            probe.path.display(),
            self.caps.model,
            m.name(),
            if self.grade == Grade::Purge {
                "Purge"
            } else {
                "Clear"
            },
            m.note().map(|n| format!("; {n}")).unwrap_or_default(),
            self.estimate
                .map(|s| format!(", the drive estimates {} min", s.div_ceil(60)))
                .unwrap_or_default(),
            self.scope.summary
        )];
        lines.extend(self.scope.reaches.iter().map(|r| format!("  erases {r}")));
        lines
    }
}

fn refused(p: &Probe, why: impl Into<String>) -> Error {
    Error::refused(&p.path, why)
}

/// The drive's capabilities, leaving sanitize failure mode first if asked (never in a dry run).
fn capabilities(d: &Drive, r: &Request, obs: &dyn Observer) -> Result<Caps, Error> {
    let read = || {
        engine::probe(d.pass.as_ref(), d.bus).map_err(|e| {
            refused(
                &d.probe,
                format!("cannot read its {} capabilities: {e}", bus_name(d.bus)),
            )
        })
    };
    let caps = read()?;
    if r.exit_failure_mode && !r.dry_run && caps.failure_mode {
        engine::exit_failure_mode(d.pass.as_ref(), d.bus)
            .map_err(|e| refused(&d.probe, format!("cannot leave sanitize failure mode: {e}")))?;
        obs.say("left sanitize failure mode");
        return read();
    }
    Ok(caps)
}

/// The namespace's LBA format and whether it is shared, for a Format NVM (which is sent to
/// the named namespace: never "all namespaces", never a guess).
fn namespace(d: &Drive, m: Method) -> Result<(Option<u32>, u8, bool), Error> {
    let nsid: Option<u32> = if d.simulated {
        Some(1)
    } else {
        d.probe.identity.nvme_namespace.parse().ok()
    };
    if !matches!(m, Method::NvmeFormatUserData | Method::NvmeFormatCrypto) {
        return Ok((nsid, 0, false));
    }
    let n = nsid.ok_or_else(|| {
        refused(
            &d.probe,
            "cannot read its NVMe namespace id from sysfs; nothing was sent",
        )
    })?;
    let (lbaf, shared) = engine::namespace(d.pass.as_ref(), n)
        .map_err(|e| refused(&d.probe, format!("cannot read its namespace: {e}")))?;
    Ok((nsid, lbaf, shared))
}

/// What method `m` erases when sent to this drive (see [`crate::purge::scope`]).
fn scope_of(
    d: &Drive,
    m: Method,
    caps: &Caps,
    nsid: Option<u32>,
    shared: bool,
) -> Result<Scope, Error> {
    let p = &d.probe;
    let target = (p.canonical.clone(), p.devno.unwrap_or_default());
    let (Bus::Nvme, Some(c)) = (d.bus, caps.controller.as_ref()) else {
        return Ok(scope::whole_disk(target));
    };
    let sub = p
        .devno
        .filter(|_| !d.simulated)
        .and_then(|n| device::subsystem::of(Path::new("/sys"), n));
    let active = if scope::subsystem_wide(m, c) {
        engine::active_namespaces(d.pass.as_ref()).map_err(|e| {
            refused(
                p,
                format!(
                    "cannot list the namespaces the command would erase: {e}; nothing was sent"
                ),
            )
        })?
    } else {
        vec![]
    };
    Ok(scope::nvme(
        m,
        c,
        target,
        nsid,
        sub.as_ref(),
        &active,
        shared,
    ))
}

/// Refuses a scope with a device in use, or one that may reach what others use unless the
/// operator allowed it.
fn check_scope(d: &Drive, scope: &Scope, allow_shared: bool) -> Result<(), Error> {
    let sys = Path::new("/sys");
    let usage = device::safety::Usage::read();
    for (path, devno) in scope.devices.iter().filter(|_| !d.simulated) {
        if Some(*devno) == d.probe.devno {
            continue; // checked already, with its partitions
        }
        if let Some(why) = device::safety::block_in_use(sys, *devno, &usage) {
            return Err(refused(
                &d.probe,
                format!(
                    "this command erases {} too ({}), and {why}",
                    path.display(),
                    scope.summary
                ),
            ));
        }
    }
    match &scope.shared {
        Some(why) if !allow_shared => Err(refused(
            &d.probe,
            format!("{why}; if erasing all of it is intended, add --allow-shared"),
        )),
        _ => Ok(()),
    }
}

/// Refuses a method the drive does not report (a SCSI drive that cannot report its support
/// lets its own answer decide).
fn check_supported(d: &Drive, m: Method, caps: &Caps) -> Result<(), Error> {
    let scsi_unknown = d.bus == Bus::Scsi && caps.supported.is_empty();
    let any = [
        Method::ScsiSanitizeCrypto,
        Method::ScsiSanitizeBlock,
        Method::ScsiSanitizeOverwrite,
        Method::ScsiFormatUnit,
    ];
    let candidates: &[Method] = if scsi_unknown { &any } else { &caps.supported };
    if candidates.contains(&m) {
        return Ok(());
    }
    let names: Vec<&str> = caps.supported.iter().map(|m| m.name()).collect();
    Err(refused(
        &d.probe,
        format!(
            "the drive does not report support for {}; it supports: {}",
            m.name(),
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        ),
    ))
}

/// Decides what to send: the method, its options and bytes, what it erases. Every refusal
/// (nothing to purge with, a scope in use or shared, not supported, frozen, locked) happens
/// here; the scope refusal comes before "not supported", being the one that matters.
///
/// # Errors
/// [`Error::Refused`] saying why and what to do.
pub fn prepare(d: &Drive, r: &Request, obs: &dyn Observer) -> Result<Prepared, Error> {
    let caps = capabilities(d, r, obs)?;
    let m = match r.method {
        None => method::strongest(&caps.supported, caps.solid_state)
            .map_err(|why| refused(&d.probe, why))?,
        Some(m) => m,
    };
    let (nsid, lbaf, shared) = namespace(d, m)?;
    let scope = scope_of(d, m, &caps, nsid, shared)?;
    check_scope(d, &scope, r.allow_shared)?;
    if r.method.is_some() {
        check_supported(d, m, &caps)?;
    }
    if let Some(b) = caps.blockers.first() {
        return Err(refused(&d.probe, b.clone()));
    }
    let opts = Options {
        pattern: r.pattern,
        passes: r.passes,
        ause: r.ause,
        nsid: nsid.unwrap_or(0),
        lbaf,
        ..Options::default()
    };
    let estimate = caps
        .estimates
        .iter()
        .find(|(x, _)| *x == m)
        .map(|(_, s)| *s);
    Ok(Prepared {
        method: m,
        grade: m.grade(caps.solid_state),
        bytes: engine::start_bytes(m, &opts),
        caps,
        opts,
        estimate,
        scope,
    })
}

/// Holds every other device of the scope exclusively until the purge is done.
///
/// # Errors
/// [`Error::Refused`] if one is busy or no longer the device it was.
pub fn claim_scope(d: &Drive, p: &Prepared) -> Result<Vec<std::fs::File>, Error> {
    p.scope
        .devices
        .iter()
        .filter(|(_, n)| !d.simulated && Some(*n) != d.probe.devno)
        .map(|(path, n)| device::claim_path(path, *n))
        .collect()
}

/// What following the drive came to.
enum Waited {
    Done(State),
    /// Stopped following (a signal) at this progress; the drive carries on.
    Stopped(f64),
}

fn wait(d: &Drive, r: &Request, signals: &Signals, obs: &dyn Observer) -> Waited {
    let mut first = true;
    loop {
        let at = match engine::poll(d.pass.as_ref(), d.bus) {
            Ok(State::Running(p)) => p,
            Ok(other) => return Waited::Done(other),
            Err(e) => {
                return Waited::Done(State::Failed(format!(
                    "cannot read the sanitize status: {e}"
                )))
            }
        };
        obs.progress((at * 100.0) as u64);
        if first {
            signals.hold(r.hold.as_deref(), "purge-wait");
            first = false;
        }
        if signals.cancelled() {
            return Waited::Stopped(at);
        }
        std::thread::sleep(r.poll);
    }
}

/// The command record of the certificate.
fn command(d: &Drive, p: &Prepared, drive_status: String) -> DeviceCommand {
    DeviceCommand {
        method: p.method.name().into(),
        bus: bus_name(d.bus).into(),
        bytes: p
            .bytes
            .iter()
            .map(|(l, b)| (l.clone(), cert::hex(b)))
            .collect(),
        options: format!(
            "pattern {:#010x}, passes {}, ause {}",
            p.opts.pattern, p.opts.passes, p.opts.ause
        ),
        drive_status,
        estimate_seconds: p.estimate,
        scope: p.scope.reaches.clone(),
    }
}

/// Runs the purge: samples hashed, the command sent, the drive followed, the samples read
/// again. Returns the certificate's record.
///
/// # Errors
/// Only before the command is sent: the samples cannot be read, or the drive refuses it.
pub fn run(
    d: &Drive,
    p: &Prepared,
    r: &Request,
    signals: &Signals,
    obs: &dyn Observer,
) -> Result<PurgeOutcome, Error> {
    let media = d.media.as_ref();
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let s = verify::sample_plan(media.size(), media.block_size(), r.verify_percent, &seed);
    let extents: Vec<_> = (0..s.extents.len()).map(|i| s.extents.get(i)).collect();
    let evidence = Evidence::before(media, extents.clone()).map_err(|e| {
        Error::io(
            "cannot read the samples to compare after the purge",
            &d.probe.path,
            e,
        )
    })?;
    let sampled: u64 = extents.iter().map(|e| e.len).sum();
    let mut o = PurgeOutcome {
        method: p.method.name().into(),
        technique: p.method.technique().into(),
        note: p.method.note().map(str::to_string),
        purge_grade: p.grade == Grade::Purge,
        bus: bus_name(d.bus).into(),
        command: command(d, p, "not sent".into()),
        drive_failed: None,
        interrupted: None,
        verification: Verification {
            method: "sampled".into(),
            algorithm: "BLAKE3 of sampled locations before and after (hashes only kept)".into(),
            seed: cert::hex(&seed),
            subsections: s.subsections,
            sample_bytes: s.sample_bytes,
            samples: extents.len() as u64,
            coverage_percent: s.coverage_percent,
            bytes_planned: sampled,
            ..Verification::default()
        },
        problems: vec![],
        scope_summary: p.scope.summary.clone(),
        started: SystemTime::now(),
        finished: SystemTime::now(),
    };
    signals.hold(r.hold.as_deref(), "purge-start");
    if signals.cancelled() {
        o.interrupted = Some("interrupted before the command was sent; nothing was erased".into());
        return Ok(o);
    }
    obs.event(&Event::PurgeStart(event::PurgeStart {
        target: d.probe.path.clone(),
        method: p.method.name().into(),
        bus: bus_name(d.bus).into(),
    }));
    engine::start(d.pass.as_ref(), p.method, &p.opts).map_err(|e| {
        refused(
            &d.probe,
            format!("the drive refused {}: {e}", p.method.name()),
        )
    })?;
    obs.stage("purge", 1, 1, p.method.name(), 10_000);
    let waited = if engine::synchronous(p.method) {
        Waited::Done(State::Completed) // the command returned only once the drive had finished
    } else {
        wait(d, r, signals, obs)
    };
    finish(d, p, &evidence, waited, &mut o, obs);
    o.finished = SystemTime::now();
    signals.hold(r.hold.as_deref(), "purge-settled");
    Ok(o)
}

/// Records how the purge ended, and reads the samples again once the drive says it is done
/// (a read that fails is recorded, never a reason to lose the certificate).
fn finish(
    d: &Drive,
    p: &Prepared,
    evidence: &Evidence,
    waited: Waited,
    o: &mut PurgeOutcome,
    obs: &dyn Observer,
) {
    match waited {
        Waited::Stopped(at) => {
            obs.say(&format!(
                "stopped waiting; the drive goes on with the sanitize by itself. Check it with \
                 `mediasan purge-status {}`",
                d.probe.path.display()
            ));
            o.command.drive_status = format!("running ({at:.0} %) when mediasan stopped waiting");
            o.interrupted = Some(format!(
                "interrupted while the drive sanitized ({at:.0} % done); it was not followed to the end nor \
                 verified"
            ));
        }
        Waited::Done(State::Failed(w)) => {
            o.command.drive_status = format!("failed: {w}");
            o.drive_failed = Some(w);
        }
        Waited::Done(state) => {
            o.command.drive_status = match state {
                State::Running(x) => format!("running ({x:.0} %)"),
                _ => "completed".into(),
            };
            let expected = (p.method.technique() == "overwrite")
                .then(|| Pattern::Fixed(p.opts.pattern.to_le_bytes().to_vec()));
            match evidence.after(d.media.as_ref(), expected.as_ref()) {
                Ok(problems) => {
                    o.problems = problems;
                    o.verification.bytes_read = o.verification.bytes_planned;
                    o.verification.mismatches = o.problems.len() as u64;
                }
                Err(e) => o.verification.errors.push(IoFailure::from_io(0, 0, &e)),
            }
        }
    }
}
