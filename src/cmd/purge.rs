//! `mediasan purge DEVICE` and `mediasan purge-status DEVICE`: the drive's own sanitize
//! command, with the checks before (supported, not frozen/locked/failed), the exact bytes
//! (`--dry-run`), the drive's progress followed until done (Ctrl-C only stops waiting), sampled
//! verification after, and a signed certificate.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::event::{self, Event};
use rand::RngCore;

use crate::cert::{self, Certificate, DeviceCommand, Verdict};
use crate::cli::{BusArg, PurgeArgs, PurgeStatusArgs};
use crate::config;
use crate::device::passthrough::{DeviceDrive, Passthrough};
use crate::device::{self, Kind, Probe};
use crate::error::{Error, Exit};
use crate::evidence::{self, Folder, Reserve, RESERVE_BYTES};
use crate::pattern::Pattern;
use crate::progress::Reporter;
use crate::purge::engine::{self, Bus, Evidence, Options, State};
use crate::purge::method::{self, Grade, Method};
use crate::purge::scope::{self, Scope};
use crate::purge::sim::{SimConfig, SimNvme};
use crate::verify;

fn bus_of(arg: BusArg, p: &Probe) -> Result<Bus, Error> {
    Ok(match arg {
        BusArg::Nvme => Bus::Nvme,
        BusArg::Ata => Bus::Ata,
        BusArg::Scsi => Bus::Scsi,
        BusArg::Auto => match p.identity.interface.as_str() {
            "nvme" => Bus::Nvme,
            "sata" | "usb" => Bus::Ata,
            "sas" | "scsi" => Bus::Scsi,
            other => {
                return Err(Error::refused(
                    &p.path,
                    format!(
                        "a {} device has no sanitize command mediasan can send; if it is really NVMe, ATA or SCSI \
                         behind a bridge, say so with --transport",
                        if other.is_empty() { "unknown" } else { other }
                    ),
                ))
            }
        },
    })
}

fn bus_name(b: Bus) -> &'static str {
    match b {
        Bus::Nvme => "nvme",
        Bus::Ata => "ata",
        Bus::Scsi => "scsi",
    }
}

/// A drive to send commands to, and (for the simulation) its media.
type Opened = (Box<dyn Passthrough>, Option<Arc<SimNvme>>);

/// The drive: the real device, or the hidden test seam's simulation.
fn open_drive(args_sim: Option<&str>, p: &Probe) -> anyhow::Result<Opened> {
    match args_sim {
        None => Ok((
            Box::new(
                // Exclusively, through the probed descriptor: nothing can mount or claim it
                // while commands go to it.
                DeviceDrive::from_file(device::claim(p)?),
            ),
            None,
        )),
        Some(spec) => {
            let mut parts = spec.split(':');
            let (kind, size, features) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
            let size = size
                .and_then(|s| crate::units::parse_size(s).ok())
                .filter(|_| kind == Some("nvme"));
            let Some(size) = size else {
                return Err(Error::Usage(format!(
                    "--simulate {spec}: expected nvme:SIZE:FEATURES"
                ))
                .into());
            };
            let cfg = SimConfig::from_features(features)
                .map_err(|e| Error::Usage(format!("--simulate {spec}: {e}")))?;
            let sim = Arc::new(SimNvme::new(usize::try_from(size).unwrap_or(1 << 20), cfg));
            struct Shared(Arc<SimNvme>);
            impl Passthrough for Shared {
                fn nvme(
                    &self,
                    c: &crate::device::nvme::AdminCmd,
                    d: &mut [u8],
                ) -> std::io::Result<(u16, u32)> {
                    self.0.nvme(c, d)
                }
                fn scsi(
                    &self,
                    cdb: &[u8],
                    dir: crate::device::passthrough::DataDir,
                    d: &mut [u8],
                    t: u32,
                ) -> std::io::Result<(u8, Vec<u8>)> {
                    self.0.scsi(cdb, dir, d, t)
                }
            }
            Ok((Box::new(Shared(Arc::clone(&sim))), Some(sim)))
        }
    }
}

/// What method `m` erases when sent to `probe` (see [`crate::purge::scope`]).
#[allow(clippy::too_many_arguments)]
fn scope_of(
    m: Method,
    bus: Bus,
    caps: &engine::Caps,
    probe: &Probe,
    nsid: Option<u32>,
    ns_shared: bool,
    drive: &dyn Passthrough,
) -> Result<Scope, Error> {
    let target = (probe.canonical.clone(), probe.devno.unwrap_or_default());
    let (Bus::Nvme, Some(c)) = (bus, caps.controller.as_ref()) else {
        return Ok(scope::whole_disk(target));
    };
    let sub = probe
        .devno
        .and_then(|d| device::subsystem::of(std::path::Path::new("/sys"), d));
    let active = if scope::subsystem_wide(m, c) {
        engine::active_namespaces(drive).map_err(|e| {
            Error::refused(
                &probe.path,
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
        ns_shared,
    ))
}

/// Refuses a scope with a device in use, or one that may reach what others use unless the
/// operator allowed it.
fn check_scope(scope: &Scope, probe: &Probe, allow_shared: bool) -> Result<(), Error> {
    let sys = std::path::Path::new("/sys");
    let usage = device::safety::Usage::read();
    for (path, devno) in &scope.devices {
        if Some(*devno) == probe.devno {
            continue; // checked already, with its partitions
        }
        if let Some(why) = device::safety::block_in_use(sys, *devno, &usage) {
            return Err(Error::refused(
                &probe.path,
                format!(
                    "this command erases {} too ({}), and {why}",
                    path.display(),
                    scope.summary
                ),
            ));
        }
    }
    match &scope.shared {
        Some(why) if !allow_shared => Err(Error::refused(
            &probe.path,
            format!("{why}; if erasing all of it is intended, add --allow-shared"),
        )),
        _ => Ok(()),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(args: &PurgeArgs) -> anyhow::Result<Exit> {
    let config = config::load(args.config.as_deref())?;
    let reporter = Reporter::new(args.json);
    let probe = if args.seams.simulate().is_some() {
        // The simulated drive stands in for hardware; the path names it in the certificate.
        simulated_probe(&args.target)
    } else {
        let p = device::probe(&args.target)?;
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
        p
    };
    // A misspelt method is the user's mistake, not the drive's.
    let requested = match args.method.as_str() {
        "nist-purge" => None,
        name => Some(Method::from_name(name).ok_or_else(|| {
            Error::Usage(format!(
                "--method {name}: no such method; use nist-purge or one of {}",
                Method::ALL.map(Method::name).join(", ")
            ))
        })?),
    };
    let bus = if args.seams.simulate().is_some() {
        Bus::Nvme
    } else {
        bus_of(args.transport, &probe)?
    };
    let (drive, sim) = open_drive(args.seams.simulate(), &probe)?;

    // Before: what can it do, and can it do it now?
    let read_caps = || {
        engine::probe(drive.as_ref(), bus).map_err(|e| {
            Error::refused(
                &probe.path,
                format!("cannot read its {} capabilities: {e}", bus_name(bus)),
            )
        })
    };
    let mut caps = read_caps()?;
    if args.exit_failure_mode && !args.dry_run && caps.failure_mode {
        engine::exit_failure_mode(drive.as_ref(), bus).map_err(|e| {
            Error::refused(
                &probe.path,
                format!("cannot leave sanitize failure mode: {e}"),
            )
        })?;
        reporter.say(&format!(
            "{}: left sanitize failure mode",
            probe.path.display()
        ));
        caps = read_caps()?;
    }
    let m = match requested {
        None => method::strongest(&caps.supported, caps.solid_state)
            .map_err(|why| Error::refused(&probe.path, why))?,
        Some(m) => m,
    };
    // The target's own namespace: Format NVM is sent to it (never "all namespaces", never a
    // guess); a Sanitize is sent to the controller and needs none.
    let nsid: Option<u32> = if sim.is_some() {
        Some(1)
    } else {
        probe.identity.nvme_namespace.parse().ok()
    };
    let format = matches!(m, Method::NvmeFormatUserData | Method::NvmeFormatCrypto);
    // Format NVM keeps the namespace's LBA format: read it now, so that --dry-run and the
    // certificate show the very command that is sent; and whether the namespace is shared.
    let (lbaf, ns_shared) = match (format, nsid) {
        (false, _) => (0, false),
        (true, None) => {
            return Err(Error::refused(
                &probe.path,
                "cannot read its NVMe namespace id from sysfs; nothing was sent",
            )
            .into())
        }
        (true, Some(n)) => engine::namespace(drive.as_ref(), n)
            .map_err(|e| Error::refused(&probe.path, format!("cannot read its namespace: {e}")))?,
    };
    // What the command erases besides the device named: every device of it must be free,
    // and what may be in use elsewhere needs --allow-shared. Checked before whether the drive
    // supports it: "it would erase a disk in use" is the refusal that matters.
    let scope = scope_of(m, bus, &caps, &probe, nsid, ns_shared, drive.as_ref())?;
    check_scope(&scope, &probe, args.allow_shared)?;
    if requested.is_some() {
        // SCSI drives that cannot report their support let the drive's answer decide.
        let scsi_unknown = bus == Bus::Scsi && caps.supported.is_empty();
        let any = [
            Method::ScsiSanitizeCrypto,
            Method::ScsiSanitizeBlock,
            Method::ScsiSanitizeOverwrite,
            Method::ScsiFormatUnit,
        ];
        let candidates: &[Method] = if scsi_unknown { &any } else { &caps.supported };
        if !candidates.contains(&m) {
            let names: Vec<&str> = caps.supported.iter().map(|m| m.name()).collect();
            return Err(Error::refused(
                &probe.path,
                format!(
                    "the drive does not report support for {}; it supports: {}",
                    m.name(),
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                ),
            )
            .into());
        }
    }
    if let Some(b) = caps.blockers.first() {
        return Err(Error::refused(&probe.path, b.clone()).into());
    }
    let opts = Options {
        pattern: args.pattern,
        passes: args.passes,
        ause: args.ause,
        nsid: nsid.unwrap_or(0),
        lbaf,
        ..Options::default()
    };
    let bytes = engine::start_bytes(m, &opts);
    let grade = m.grade(caps.solid_state);
    let estimate = caps
        .estimates
        .iter()
        .find(|(x, _)| *x == m)
        .map(|(_, s)| *s);
    let what = format!(
        "{} {}: {} ({}{}){}; it erases {}",
        probe.path.display(),
        caps.model,
        m.name(),
        if grade == Grade::Purge {
            "Purge"
        } else {
            "Clear"
        },
        m.note().map(|n| format!("; {n}")).unwrap_or_default(),
        estimate
            .map(|s| format!(", the drive estimates {} min", s.div_ceil(60)))
            .unwrap_or_default(),
        scope.summary
    );
    let mut lines = vec![what.clone()];
    lines.extend(scope.reaches.iter().map(|r| format!("  erases {r}")));
    if args.dry_run {
        if reporter.json() {
            reporter.emit(&Event::PurgePlan(event::PurgePlan {
                target: probe.path.clone(),
                method: m.name().into(),
                grade: format!("{grade:?}").to_lowercase(),
                bus: bus_name(bus).into(),
                bytes: bytes
                    .iter()
                    .map(|(l, b)| event::Bytes {
                        what: l.clone(),
                        hex: hex(b),
                    })
                    .collect(),
                scope: scope.reaches.clone(),
                estimate_seconds: estimate,
                dry_run: true,
            }));
        } else {
            outln!("dry run, nothing is sent that erases: {what}");
            for r in &scope.reaches {
                outln!("  erases {r}");
            }
            for (label, b) in &bytes {
                outln!("  {label}: {}", hex(b));
            }
        }
        return Ok(Exit::Pass);
    }
    if !args.yes {
        super::confirm(&probe.path, &lines)?;
    }
    // Every other device the command erases is held exclusively until it is done.
    let _held: Vec<std::fs::File> = scope
        .devices
        .iter()
        .filter(|(_, d)| sim.is_none() && Some(*d) != probe.devno)
        .map(|(p, d)| device::claim_path(p, *d))
        .collect::<Result<_, _>>()?;
    let cert_dir = args
        .cert_dir
        .clone()
        .or_else(|| config.cert_dir.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    // Where the evidence goes, proven writable with room, before anything is sent.
    let cert_folder = Folder::prepare(&cert_dir, RESERVE_BYTES, "certificate folder (--cert-dir)")?;
    let mut reserve = Reserve::new(&cert_folder)?;
    let key = super::load_key(args.key.as_deref().or(config.key.as_deref()), &reporter)?;

    // Evidence before (hashes of sampled locations), then start.
    let target = match &sim {
        Some(s) => TargetIo::Sim(Arc::clone(s)),
        None => TargetIo::Dev(Box::new(device::open_readonly(&probe)?)),
    };
    let io = target.io();
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let s = verify::sample_plan(io.size(), io.block_size(), args.verify_percent, &seed);
    let extents: Vec<_> = (0..s.extents.len()).map(|i| s.extents.get(i)).collect();
    let evidence = Evidence::before(io, extents.clone())?;
    let started = SystemTime::now();
    reporter.emit(&Event::PurgeStart(event::PurgeStart {
        target: probe.path.clone(),
        method: m.name().into(),
        bus: bus_name(bus).into(),
    }));
    engine::start(drive.as_ref(), m, &opts)
        .map_err(|e| Error::refused(&probe.path, format!("the drive refused {}: {e}", m.name())))?;

    // During: follow the drive's own progress. Ctrl-C stops waiting; the drive carries on.
    let cancel = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&cancel));
    }
    let rep = reporter.target(&probe.path.display().to_string());
    rep.start("purge", 1, 1, m.name(), 10_000);
    let state = if engine::synchronous(m) {
        Waited::Done(State::Completed) // the command returned only once the drive had finished
    } else {
        wait(drive.as_ref(), bus, &cancel, &rep, args.poll_interval)
    };
    let Some(state) = state_or_interrupted(state, &reporter, &probe) else {
        rep.finish();
        return Ok(Exit::Interrupted);
    };
    rep.finish();

    // After: the drive's status, then the media itself.
    let expected =
        (m.technique() == "overwrite").then(|| Pattern::Fixed(opts.pattern.to_le_bytes().to_vec()));
    let problems = match &state {
        State::Completed => evidence.after(io, expected.as_ref())?,
        _ => vec![],
    };
    let finished = SystemTime::now();
    let mut c = certificate(
        &probe,
        &args.record,
        &config,
        m,
        grade,
        bus,
        &bytes,
        &opts,
        &state,
        estimate,
        &extents,
        &s,
        &seed,
        &problems,
        started,
        finished,
    );
    if let Some(cmd) = c.sanitization.command.as_mut() {
        cmd.scope = scope.reaches.clone();
    }
    c.notes
        .push(format!("The command erased {}.", scope.summary));
    reserve.release();
    let stored = super::store_certificate(
        &c,
        &evidence::fallbacks(&cert_folder.path, None),
        &key,
        &reporter,
    )?;
    let (path, sig) = (stored.json, stored.sig);
    reporter.say(&format!(
        "{} - certificate {}",
        c.result.name(),
        path.as_deref()
            .map_or("printed above (no folder took it)".into(), |p| p
                .display()
                .to_string())
    ));
    reporter.emit(&Event::Result(event::Outcome {
        target: probe.path.display().to_string(),
        result: c.result.name().into(),
        reasons: c.reasons.clone(),
        certificate: path,
        signature: sig,
        id: c.id.clone(),
    }));
    Ok(Exit::of(c.result, false))
}

/// What waiting ended with: the drive's state, or the user stopped waiting.
enum Waited {
    Done(State),
    StoppedWaiting,
}

/// Polls the drive until its sanitize ends or Ctrl-C (which stops only the waiting).
fn wait(
    drive: &dyn Passthrough,
    bus: Bus,
    cancel: &AtomicBool,
    rep: &crate::progress::TargetReporter,
    every: f64,
) -> Waited {
    loop {
        match engine::poll(drive, bus) {
            Ok(State::Running(p)) => rep.progress((p * 100.0) as u64),
            Ok(other) => return Waited::Done(other),
            Err(e) => {
                return Waited::Done(State::Failed(format!(
                    "cannot read the sanitize status: {e}"
                )))
            }
        }
        if cancel.load(Ordering::Relaxed) {
            return Waited::StoppedWaiting;
        }
        std::thread::sleep(Duration::from_secs_f64(every.clamp(0.01, 3600.0)));
    }
}

fn state_or_interrupted(w: Waited, reporter: &Reporter, probe: &Probe) -> Option<State> {
    match w {
        Waited::Done(s) => Some(s),
        Waited::StoppedWaiting => {
            reporter.say(&format!(
                "stopped waiting; the drive goes on with the sanitize by itself (it survives a reset). \
                 Check it with `mediasan purge-status {}`",
                probe.path.display()
            ));
            None
        }
    }
}

/// Where the verification reads: the real device, or the simulation's media.
enum TargetIo {
    Dev(Box<device::Target>),
    Sim(Arc<SimNvme>),
}

impl TargetIo {
    fn io(&self) -> &dyn device::BlockIo {
        match self {
            TargetIo::Dev(t) => t.as_ref(),
            TargetIo::Sim(s) => &s.media,
        }
    }
}

fn simulated_probe(path: &Path) -> Probe {
    Probe {
        path: path.to_path_buf(),
        canonical: path.to_path_buf(),
        kind: Kind::Block,
        size: 0,
        logical_block_size: 512,
        physical_block_size: 512,
        read_only: false,
        devno: None,
        identity: device::Identity {
            interface: "nvme".into(),
            media_type: "nvme (simulated)".into(),
            ..device::Identity::default()
        },
        id: device::FileId::default(),
        backing_id: None,
        born_ns: None,
        handle: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn certificate(
    p: &Probe,
    record: &crate::cli::RecordArgs,
    config: &config::Config,
    m: Method,
    grade: Grade,
    bus: Bus,
    bytes: &[(String, Vec<u8>)],
    o: &Options,
    state: &State,
    estimate: Option<u64>,
    extents: &[verify::Extent],
    s: &verify::Samples,
    seed: &[u8; 32],
    problems: &[String],
    started: SystemTime,
    finished: SystemTime,
) -> Certificate {
    let mut id = [0u8; 16];
    rand::rng().fill_bytes(&mut id);
    let sampled: u64 = extents.iter().map(|e| e.len).sum();
    let mut notes = vec![format!(
        "Sanitized by the drive's own {} command ({}); verified by reading {} sampled locations before and after{}.",
        bus_name(bus).to_uppercase(),
        m.name(),
        extents.len(),
        if m.technique() == "overwrite" { " (the overwrite pattern must be there)" } else { " (every one must have changed)" }
    )];
    notes.extend(m.note().map(str::to_string));
    notes.extend(record.note.iter().cloned());
    let mut c = Certificate {
        format: cert::FORMAT.into(),
        id: cert::new_id(id),
        tool: cert::Tool::this(),
        host: cert::Host::this(),
        media: cert::Media {
            path: p.canonical.display().to_string(),
            kind: p.kind.name().into(),
            identity: p.identity.clone(),
            size_bytes: s
                .extents
                .bytes()
                .max(p.size)
                .max(extents.last().map_or(0, |e| e.offset + e.len)),
            logical_block_size: p.logical_block_size,
            physical_block_size: p.physical_block_size,
            direct_io: true,
            ..cert::Media::default()
        },
        sanitization: cert::Sanitization {
            method: if grade == Grade::Purge {
                "purge"
            } else {
                "clear"
            }
            .into(),
            technique: m.technique().into(),
            policy: cert::PolicyRef {
                name: m.name().into(),
                source: "device command".into(),
                ..cert::PolicyRef::default()
            },
            started: cert::timestamp(started),
            finished: cert::timestamp(finished),
            duration_seconds: cert::seconds_between(started, finished),
            command: Some(DeviceCommand {
                method: m.name().into(),
                bus: bus_name(bus).into(),
                bytes: bytes.iter().map(|(l, b)| (l.clone(), hex(b))).collect(),
                options: format!(
                    "pattern {:#010x}, passes {}, ause {}",
                    o.pattern, o.passes, o.ause
                ),
                drive_status: match state {
                    State::Completed => "completed".into(),
                    State::Failed(w) => format!("failed: {w}"),
                    State::Running(p) => format!("running ({p:.0} %)"),
                },
                estimate_seconds: estimate,
                scope: vec![],
            }),
            ..cert::Sanitization::default()
        },
        verification: cert::Verification {
            method: "sampled".into(),
            algorithm: "BLAKE3 of sampled locations before and after (hashes only kept)".into(),
            seed: cert::hex(seed),
            subsections: s.subsections,
            sample_bytes: s.sample_bytes,
            samples: extents.len() as u64,
            coverage_percent: s.coverage_percent,
            bytes_planned: sampled,
            bytes_read: if matches!(state, State::Completed) {
                sampled
            } else {
                0
            },
            mismatches: problems.len() as u64,
            ..cert::Verification::default()
        },
        notes,
        ..Certificate::default()
    };
    super::apply_record(&mut c, record, config);
    let (verdict, mut reasons) = cert::judge(&c, 0, false);
    let mut verdict = verdict;
    if let State::Failed(w) = state {
        verdict = Verdict::Fail;
        reasons.insert(0, format!("the drive reports the sanitize failed: {w}"));
    }
    if !problems.is_empty() {
        verdict = Verdict::Fail;
        reasons.retain(|r| !r.contains("block(s) that differ"));
        reasons.extend(
            problems
                .iter()
                .take(10)
                .map(|p| format!("after the sanitize, {p}")),
        );
    }
    c.result = verdict;
    c.reasons = reasons;
    c
}

pub fn status(args: &PurgeStatusArgs) -> anyhow::Result<Exit> {
    let p = device::probe(&args.target)?;
    // Only reading here: nothing is refused "for safety", a target without a status is an
    // input error.
    let bus = bus_of(args.transport, &p).map_err(|e| match e {
        Error::Refused { path, reason } => Error::target(
            path,
            format!(
                "has no sanitize status to read ({})",
                reason.split(';').next().unwrap_or(&reason)
            ),
        ),
        other => other,
    })?;
    let drive = DeviceDrive::open(&p.path)
        .map_err(|e| Error::target(&p.path, format!("cannot open: {e}")))?;
    let st = engine::poll(&drive, bus)
        .map_err(|e| Error::refused(&p.path, format!("cannot read the sanitize status: {e}")))?;
    let (state, percent) = match &st {
        State::Running(x) => ("running", Some(*x)),
        State::Completed => ("completed", None),
        State::Failed(_) => ("failed", None),
    };
    if args.json {
        crate::term::out(
            &Event::PurgeStatus(event::PurgeStatus {
                target: p.path.clone(),
                state: state.into(),
                percent,
                detail: if let State::Failed(w) = &st {
                    w.clone()
                } else {
                    String::new()
                },
            })
            .line(),
        );
    } else {
        outln!(
            "{}: sanitize {state}{}",
            p.path.display(),
            percent.map(|x| format!(" ({x:.1} %)")).unwrap_or_default()
        );
    }
    Ok(Exit::Pass)
}
