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

use super::engine::{self, AfterRule, Bus, Caps, Evidence, Expect, Options, StartError, State};
use super::journal::{self, Pending, Stage};
use super::method::{self, Grade, Method};
use super::scope::{self, Scope};
use crate::cert::build::PurgeOutcome;
use crate::cert::{self, DeviceCommand, Verification};
use crate::contract::IoFailure;
use crate::device::nvme::Namespace;
use crate::device::passthrough::{DataDir, Passthrough};
use crate::device::{self, BlockIo, Probe};
use crate::error::Error;
use crate::event::Observer;
use crate::event::{self, Event};
use crate::signals::Signals;
use crate::verify;

/// A drive, chosen once: the real device (its claimed descriptor and a read-only view of its
/// media) or the test seam's simulation behind the same two traits.
pub struct Drive {
    pub probe: Probe,
    pub bus: Bus,
    /// The command door.
    pub pass: Box<dyn Passthrough + Send>,
    /// The media the evidence is read from.
    pub media: Box<dyn BlockIo + Send>,
    /// The test seam's simulated drive (no sysfs, nothing else to hold).
    pub simulated: bool,
}

impl Drive {
    /// The test seam's simulated NVMe drive from its `--simulate` spec
    /// (`nvme:SIZE:FEATURES[:STATE]`), named `path`.
    ///
    /// # Errors
    /// A spec that does not parse; in a build without the test seams, always.
    pub fn from_simulation(path: &Path, spec: &str) -> Result<Drive, String> {
        #[cfg(any(test, debug_assertions, feature = "test-seams"))]
        if let Some(file) = spec.strip_prefix("replay:") {
            return Drive::replayed(path, Path::new(file));
        }
        #[cfg(any(test, debug_assertions, feature = "test-seams"))]
        return super::sim::SimNvme::from_spec(spec)
            .map(|sim| Drive::simulated(path, std::sync::Arc::new(sim)));
        #[cfg(not(any(test, debug_assertions, feature = "test-seams")))]
        {
            let _ = (path, spec);
            Err("--simulate is a test seam, not in this build".into())
        }
    }

    /// A real drive's recorded answers (`replay:FILE`: a mediasan recording or an skdump
    /// file), named `path`: it answers only the read-only commands recorded, and its media can
    /// be neither read nor written, so only what the drive itself said decides.
    ///
    /// # Errors
    /// A file that cannot be read or is not a recording.
    pub fn replayed(path: &Path, file: &Path) -> Result<Drive, String> {
        let bytes = std::fs::read(file)
            .map_err(|e| format!("cannot read the recording {}: {e}", file.display()))?;
        let r = device::fixture::Recording::read(&bytes, &file.display().to_string())?;
        let bus = match r.bus.as_str() {
            "ata" => Bus::Ata,
            "scsi" => Bus::Scsi,
            "nvme" => Bus::Nvme,
            other => return Err(format!("{}: unknown bus {other:?}", file.display())),
        };
        let pass = device::replay::Replay::new(&r)?;
        let mut identity = device::Identity {
            interface: if bus == Bus::Nvme { "nvme" } else { "sata" }.into(),
            media_type: "replayed".into(),
            serial_source: format!("recording {}", file.display()),
            ..device::Identity::default()
        };
        // Who it is, from its own answers, as the kernel would have said it.
        let mut nqn = String::new();
        match bus {
            Bus::Ata => {
                let mut id = [0u8; 512];
                if matches!(
                    pass.scsi(&device::ata::identify(), DataDir::FromDevice, &mut id, 0),
                    Ok((0, _))
                ) {
                    let i = device::ata::parse_identify(&id);
                    // As libata tells the kernel: non-rotational only for word 217 = 1.
                    identity.rotational = i.rotation_rate != 1;
                    identity.vendor = "ATA".into();
                    (identity.model, identity.serial, identity.firmware) =
                        (i.model, i.serial, i.firmware);
                }
            }
            Bus::Nvme => {
                let mut id = [0u8; 4096];
                if matches!(
                    pass.nvme(&device::nvme::identify_controller(), &mut id),
                    Ok((0, _))
                ) {
                    let c = device::nvme::parse_controller(&id);
                    (identity.model, identity.serial) = (c.model, c.serial);
                    nqn = String::from_utf8_lossy(&id[768..1024])
                        .trim_end_matches(['\0', ' '])
                        .to_string();
                }
            }
            Bus::Scsi => {}
        }
        identity.virtual_disk =
            device::identity::virtual_disk(&identity.vendor, &identity.model, "", &nqn)
                .unwrap_or_default();
        let block = r.logical_block_size.max(512);
        Ok(Drive {
            probe: Probe {
                path: path.to_path_buf(),
                canonical: path.to_path_buf(),
                kind: device::Kind::Block,
                size: r.size,
                logical_block_size: block,
                physical_block_size: block,
                read_only: false,
                devno: None,
                identity,
                id: device::FileId::default(),
                backing_id: None,
                born_ns: None,
                handle: None,
            },
            bus,
            pass: Box::new(pass),
            media: Box::new(device::replay::NoMedia {
                size: r.size,
                block_size: block,
            }),
            simulated: true,
        })
    }

    /// The test seam's simulated NVMe drive, named `path`.
    #[cfg(any(test, debug_assertions, feature = "test-seams"))]
    pub fn simulated(path: &Path, sim: std::sync::Arc<super::sim::SimNvme>) -> Drive {
        let probe = Probe {
            path: path.to_path_buf(),
            canonical: path.to_path_buf(),
            kind: device::Kind::Block,
            size: sim.media.size(),
            logical_block_size: 512,
            physical_block_size: 512,
            read_only: false,
            devno: None,
            identity: device::Identity {
                interface: "nvme".into(),
                media_type: "nvme (simulated)".into(),
                zoned: if sim.zoned() { "host-managed" } else { "" }.into(),
                ..device::Identity::default()
            },
            id: device::FileId::default(),
            backing_id: None,
            born_ns: None,
            handle: None,
        };
        Drive {
            probe,
            bus: Bus::Nvme,
            media: Box::new(std::sync::Arc::clone(&sim.media)),
            pass: Box::new(sim),
            simulated: true,
        }
    }
}

/// What the operator asked for.
#[derive(Clone, Debug)]
pub struct Request {
    /// A method by name, or `None` for nist-purge (the strongest Purge the drive has).
    pub method: Option<Method>,
    /// Overwrite: the 32-bit pattern (`None`: 0, or another where 0 is what the drive's
    /// deallocated blocks read as) and the passes.
    pub pattern: Option<u32>,
    pub passes: u8,
    pub ause: bool,
    pub exit_failure_mode: bool,
    pub allow_shared: bool,
    pub verify_percent: u8,
    /// Write canaries at the samples before the purge (the default); without them, samples
    /// that held the same uniform bytes before and after prove nothing.
    pub canaries: bool,
    pub poll: Duration,
    /// How long a status that cannot be read, or progress that does not move, is waited out
    /// (`None`: from the drive's estimate, at least 10 minutes / an hour).
    pub patience: Option<Duration>,
    pub dry_run: bool,
    pub hold: Option<String>,
    /// `--rma-capture`: before the command, save what a vendor's failure analysis needs and
    /// the purge does not keep (health and error logs) into this folder, hashed in the
    /// certificate.
    pub rma_capture: Option<std::path::PathBuf>,
    /// `--allow-bridged-security-erase`: the operator takes the risk of an ATA security erase
    /// through a USB or unknown bridge (see [`bridge`]).
    pub allow_bridged_erase: bool,
    /// NVMe Sanitize: when to set No-Deallocate After Sanitize (`--no-deallocate`).
    pub no_deallocate: NoDeallocate,
    /// `--psid`: the PSID on the drive's label, for tcg-psid-revert (never logged).
    pub psid: Option<crate::device::tcg::Secret>,
    /// `--sid-file`: the owner's SID password, for tcg-revert (never logged).
    pub sid: Option<crate::device::tcg::Secret>,
    /// `--erase-master-file`: a TCG Enterprise drive's EraseMaster password, for tcg-erase
    /// (never logged).
    pub erase_master: Option<crate::device::tcg::Secret>,
    /// `--erase-master-msid`: for tcg-erase, authenticate with the MSID the drive reports (its
    /// EraseMaster password was never set).
    pub erase_master_msid: bool,
}

impl Request {
    /// A dry run of `method` (`None`: nist-purge) with every other choice at its default.
    pub fn dry_run(method: Option<Method>) -> Request {
        Request {
            method,
            pattern: None,
            passes: 1,
            ause: false,
            exit_failure_mode: false,
            allow_shared: false,
            verify_percent: 5,
            canaries: true,
            poll: Duration::from_secs(1),
            patience: None,
            dry_run: true,
            hold: None,
            rma_capture: None,
            allow_bridged_erase: false,
            no_deallocate: NoDeallocate::Auto,
            psid: None,
            sid: None,
            erase_master: None,
            erase_master_msid: false,
        }
    }

    /// The credential `m` is sent with: the PSID for tcg-psid-revert, the SID password for
    /// tcg-revert, the EraseMaster password for tcg-erase, none for the rest.
    pub fn credential(&self, m: Method) -> Option<&crate::device::tcg::Secret> {
        match m {
            Method::TcgPsidRevert => self.psid.as_ref(),
            Method::TcgRevert => self.sid.as_ref(),
            Method::TcgErase => self.erase_master.as_ref(),
            _ => None,
        }
    }

    /// Whether `m` can be sent as asked: a credential given, or (tcg-erase) the MSID to be read
    /// from the drive; true for every method that needs none.
    pub fn has_credential(&self, m: Method) -> bool {
        !method::tcg(m)
            || self.credential(m).is_some()
            || (m == Method::TcgErase && self.erase_master_msid)
    }
}

/// Why a TCG method cannot be sent without its credential, and how to give it.
fn needs_credential(m: Method) -> String {
    match m {
        Method::TcgErase => format!(
            "{} needs the drive's TCG Enterprise EraseMaster password: add --erase-master-file FILE (a \
             file holding it), or --erase-master-msid if it was never set (the drive's MSID is then its \
             password)",
            m.name()
        ),
        Method::TcgPsidRevert => format!(
            "{} needs the PSID printed on the drive's label: add --psid CODE (or --psid - to read it from \
             standard input)",
            m.name()
        ),
        _ => format!(
            "{} needs the owner's SID password: add --sid-file FILE (a file holding it), or use \
             tcg-psid-revert with the PSID on the label",
            m.name()
        ),
    }
}

/// When an NVMe Sanitize is sent with No-Deallocate After Sanitize (NDAS), where the drive
/// allows it (SANICAP NDI 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NoDeallocate {
    /// Only for an overwrite, whose read-back then shows the pattern itself. A crypto or block
    /// erase is sent without it: the specification lets reads fail afterwards or has the drive
    /// rewrite all the media, and the canaries need neither.
    #[default]
    Auto,
    /// For every sanitize method.
    On,
    /// Never.
    Off,
}

/// What will be sent, to what effect.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub method: Method,
    pub grade: Grade,
    pub caps: Caps,
    pub opts: Options,
    /// Each command or data block that starts it, labelled.
    pub bytes: Vec<engine::Block>,
    /// The drive's own time estimate.
    pub estimate: Option<engine::Estimate>,
    pub scope: Scope,
    /// What the operator must hear before confirming (an owner's password to be replaced, a
    /// pattern changed, the power not to be cut).
    pub warnings: Vec<String>,
    /// What the read-back after the method must find.
    pub rule: AfterRule,
    /// What the certificate must say with this method on this drive (the method's own note,
    /// and that a virtual disk's sanitize reaches no physical medium).
    pub note: Option<String>,
    /// A range was locked before a PSID revert: nothing can be written or read beforehand, so
    /// the read-back cannot show the erase (the certificate is INCOMPLETE).
    pub locked: bool,
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
                .map(|e| format!(", the drive estimates {}", e.describe()))
                .unwrap_or_default(),
            self.scope.summary
        )];
        lines.extend(self.scope.reaches.iter().map(|r| format!("  erases {r}")));
        if let Some(t) = &self.caps.tcg {
            lines.push(format!("  self-encrypting drive: {}", tcg_summary(t)));
        }
        lines.extend(self.warnings.iter().map(|w| format!("  note: {w}")));
        lines
    }
}

/// A self-encrypting drive's discovery in a phrase: its SSCs and its locking state.
fn tcg_summary(t: &crate::device::tcg::Tcg) -> String {
    let l = t.locking.unwrap_or_default();
    format!(
        "{} (TCG Level 0 Discovery), locking {}{}{}",
        t.ssc.join(", "),
        if l.enabled { "on" } else { "off" },
        if l.locked { ", a range locked" } else { "" },
        if l.mbr_enabled && !l.mbr_done {
            ", MBR shadow on"
        } else {
            ""
        }
    )
}

fn refused(p: &Probe, why: impl Into<String>) -> Error {
    Error::refused(&p.path, why)
}

/// The drive's capabilities (the medium cross-checked with the kernel's view), leaving
/// sanitize failure mode first if asked (never in a dry run).
fn capabilities(d: &Drive, r: &Request, obs: &dyn Observer) -> Result<Caps, Error> {
    let rotational = (!d.simulated).then_some(d.probe.identity.rotational);
    let read = || {
        engine::probe(d.pass.as_ref(), d.bus, rotational).map_err(|e| {
            refused(
                &d.probe,
                format!("cannot read its {} capabilities: {e}", bus_name(d.bus)),
            )
        })
    };
    let caps = read()?;
    if r.exit_failure_mode && !r.dry_run {
        let Some(f) = &caps.failure else {
            obs.say("the drive is not in sanitize failure mode; nothing to exit");
            return Ok(caps);
        };
        if f.restricted == Some(true) {
            return Err(refused(
                &d.probe,
                "the failed sanitize was restricted (AUSE 0): the drive only leaves failure mode through a \
                 new sanitize; run the purge again without --exit-failure-mode",
            ));
        }
        engine::exit_failure_mode(d.pass.as_ref(), d.bus)
            .map_err(|e| refused(&d.probe, format!("cannot leave sanitize failure mode: {e}")))?;
        obs.say("left sanitize failure mode");
        return read();
    }
    Ok(caps)
}

/// The namespace id and what Identify Namespace says of it, for NVMe (Format NVM is sent to the named namespace: never "all namespaces", never a
/// guess).
fn namespace(d: &Drive, m: Method) -> Result<(Option<u32>, Namespace), Error> {
    let nsid: Option<u32> = if d.simulated {
        Some(1)
    } else {
        d.probe.identity.nvme_namespace.parse().ok()
    };
    let format = matches!(m, Method::NvmeFormatUserData | Method::NvmeFormatCrypto);
    if d.bus != Bus::Nvme {
        return Ok((nsid, Namespace::default()));
    }
    let Some(n) = nsid else {
        if format {
            return Err(refused(
                &d.probe,
                "cannot read its NVMe namespace id from sysfs; nothing was sent",
            ));
        }
        return Ok((None, Namespace::default()));
    };
    match engine::namespace(d.pass.as_ref(), n) {
        Ok(ns) => Ok((nsid, ns)),
        Err(e) if format => Err(refused(&d.probe, format!("cannot read its namespace: {e}"))),
        Err(_) => Ok((nsid, Namespace::default())),
    }
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
    scope_in_use(d, scope, Path::new("/sys"), &device::safety::Usage::read())?;
    match &scope.shared {
        Some(why) if !allow_shared => Err(refused(
            &d.probe,
            format!("{why}; if erasing all of it is intended, add --allow-shared"),
        )),
        _ => Ok(()),
    }
}

/// Refuses a scope with a device other than the target in use (the target itself is
/// checked with its partitions before): `sys` and `usage` are the machine's, or a test's.
fn scope_in_use(
    d: &Drive,
    scope: &Scope,
    sys: &Path,
    usage: &device::safety::Usage,
) -> Result<(), Error> {
    for (path, devno) in scope.devices.iter().filter(|_| !d.simulated) {
        if Some(*devno) == d.probe.devno {
            continue; // checked already, with its partitions
        }
        if let Some(why) = device::safety::block_in_use(sys, *devno, usage) {
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
    Ok(())
}

/// Refuses a method the drive does not report (a SCSI drive that cannot report its support
/// lets its own answer decide).
fn check_supported(d: &Drive, m: Method, caps: &Caps) -> Result<(), Error> {
    let scsi_unknown = d.bus == Bus::Scsi && caps.supported.iter().all(|m| method::tcg(*m));
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
            "the drive does not report support for {}{}; it supports: {}",
            m.name(),
            if m == Method::TcgErase {
                match &caps.tcg {
                    Some(t) => format!(
                        " (its TCG Level 0 Discovery shows {}, no Enterprise Security Subsystem Class)",
                        t.ssc.join(", ")
                    ),
                    None => " (it answers no TCG Level 0 Discovery, so no Enterprise Security Subsystem \
                             Class)"
                        .to_string(),
                }
            } else if method::tcg(m) {
                format!(
                    " (it answers no TCG Opal discovery, and {})",
                    caps.sed_opal_says
                )
            } else {
                String::new()
            },
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        ),
    ))
}

/// Why an ATA security erase must not be chosen for this drive on its own: it is reached
/// through a USB or unknown bridge (not libata, not a SAS HBA's SATL). The erase is one
/// command that runs for minutes to hours with the password set; bridges reset the drive
/// mid-erase or lose the unlock (the kernel's ATA documentation and nwipe warn of exactly
/// this), leaving it locked with a password nobody has.
pub fn bridge(d: &Drive) -> Option<String> {
    if d.bus != Bus::Ata {
        return None;
    }
    let via = match d.probe.identity.interface.as_str() {
        "sata" | "sas" => return None,
        "usb" => "a USB-SATA bridge".to_string(),
        "" => "an unknown bridge".to_string(),
        other => format!("an unknown bridge ({other})"),
    };
    Some(format!(
        "the drive is reached through {via}, and an ATA security erase through a bridge can leave it \
         locked (bridges reset the drive mid-erase or drop the unlock)"
    ))
}

/// A security erase, the one kind of command [`bridge`] rules out.
fn security_erase(m: Method) -> bool {
    matches!(
        m,
        Method::AtaSecurityErase | Method::AtaSecurityEraseEnhanced
    )
}

/// The method to use: the one asked for, or the strongest Purge no blocker stops (so a
/// security freeze does not stop a SANITIZE the drive also has). A security erase is never
/// chosen through a bridge (see [`bridge`]).
fn choose(d: &Drive, r: &Request, caps: &Caps) -> Result<Method, Error> {
    if let Some(m) = r.method {
        return Ok(m);
    }
    // A locked drive's way out is the PSID revert: with the PSID given, nist-purge takes it.
    let psid = Method::TcgPsidRevert;
    if caps.locked()
        && r.psid.is_some()
        && caps.supported.contains(&psid)
        && caps.blocker(psid).is_none()
    {
        return Ok(psid);
    }
    if !d.probe.identity.virtual_disk.is_empty() {
        return Err(Error::NoPurge {
            path: d.probe.path.clone(),
            reason: format!(
                "it is {}: its own sanitize command reaches the emulation or the volume, not a physical \
                 medium, so there is no Purge to choose; overwrite it with `mediasan wipe {}` (or `mediasan \
                 sanitize`), and sanitize the storage beneath on its host",
                d.probe.identity.virtual_disk,
                d.probe.path.display()
            ),
        });
    }
    let bridged = bridge(d);
    let free: Vec<Method> = caps
        .supported
        .iter()
        .copied()
        .filter(|m| caps.blocker(*m).is_none())
        .filter(|m| bridged.is_none() || !security_erase(*m))
        .filter(|m| r.has_credential(*m))
        .collect();
    method::strongest(&free, caps.medium).map_err(|why| {
        // A Purge the drive has but cannot start now: say what stops it.
        let purges = || {
            caps.supported
                .iter()
                .filter(|m| m.grade(caps.medium) == Grade::Purge)
        };
        if let (Some(b), Some(m)) = (&bridged, purges().find(|m| security_erase(**m))) {
            if purges().all(|m| security_erase(*m)) {
                return refused(
                    &d.probe,
                    format!(
                        "{b}: {} is not chosen on its own; connect the drive to a SATA or SAS port, or \
                         take the risk with --method {} --allow-bridged-security-erase",
                        m.name(),
                        m.name()
                    ),
                );
            }
        }
        let blocked = purges().find_map(|m| caps.blocker(*m));
        if let (None, Some(m)) = (blocked, purges().find(|m| method::tcg(**m))) {
            let what = if *m == Method::TcgErase {
                "the TCG Enterprise Erase"
            } else {
                "a TCG Revert"
            };
            return refused(
                &d.probe,
                format!("its only Purge is {what}: {}", needs_credential(*m)),
            );
        }
        refused(&d.probe, blocked.map_or(why, |b| b.why.clone()))
    })
}

/// Why the block at `offset` cannot be read, as the drive itself says it: the sample's first
/// block read again with READ(16) through the command door, and its sense. Only a SCSI
/// drive tells this way; a block that reads now, a transport failure or a device that is gone
/// tell nothing.
fn why_unreadable(d: &Drive, offset: u64) -> Result<(u8, u8, u8), String> {
    if d.bus != Bus::Scsi {
        return Err("only a SCSI drive says why a read failed".into());
    }
    let bs = u64::from(d.media.block_size().max(1));
    let mut buf = vec![0u8; bs as usize];
    let cdb = crate::device::scsi::read16(offset / bs, 1);
    match d.pass.scsi(&cdb, DataDir::FromDevice, &mut buf, 30_000) {
        Err(e) => Err(format!("asked again, the read failed without a sense: {e}")),
        Ok((0, _)) => Err("asked again, the block reads: the failure was not the drive's".into()),
        Ok((status, sense)) => crate::device::scsi::decode_sense(&sense)
            .map(|(k, asc, ascq, _)| (k, asc, ascq))
            .ok_or_else(|| format!("asked again, status {status:#04x} without sense data")),
    }
}

/// The drive's zones as it reports them now, or why they cannot be read.
fn zone_report(d: &Drive) -> Result<crate::device::zones::ZoneMap, String> {
    match d.media.report_zones() {
        Some(Ok(m)) => Ok(m),
        Some(Err(e)) => Err(format!("cannot be read ({e})")),
        None => Err("cannot be read here".into()),
    }
}

/// The byte the drive's deallocated blocks read as, if it says.
fn deallocated(d: &Drive, caps: &Caps, ns_dealloc: Option<u8>) -> Option<u8> {
    match d.bus {
        Bus::Nvme => ns_dealloc,
        Bus::Ata => caps
            .identify
            .as_ref()
            .and_then(|i| i.trim_reads_zero.then_some(0)),
        Bus::Scsi => caps
            .capacity
            .and_then(|c| c.reads_zero_unmapped.then_some(0)),
    }
}

/// Decides what to send: the method, its options and bytes, what it erases. Every refusal
/// (nothing to purge with, a scope in use or shared, not supported, frozen, locked) happens
/// here; the scope refusal comes before "not supported", being the one that matters.
///
/// # Errors
/// [`Error::Refused`] saying why and what to do.
pub fn prepare(d: &Drive, r: &Request, obs: &dyn Observer) -> Result<Prepared, Error> {
    // A host-managed zoned drive takes a write in a sequential zone only at that zone's write
    // pointer: the canaries go there, which takes its zone report.
    let zoned_canaries = r.canaries && d.probe.identity.host_managed();
    if zoned_canaries {
        let block = u64::from(d.media.block_size().max(1));
        let room = zone_report(d).map(|m| m.no_room(block));
        let why = match room {
            Err(why) => Some(format!("whose zone report {why}")),
            Ok(Some(why)) => Some(format!("where {why}")),
            Ok(None) => None,
        };
        if let Some(why) = why {
            return Err(refused(
                &d.probe,
                format!(
                    "it is a host-managed zoned device (the kernel's queue/zoned) {why}: its canaries can be \
                     written only at its zones' write pointers; add --no-canaries to judge the purge by the \
                     samples read before and after alone"
                ),
            ));
        }
    }
    let caps = capabilities(d, r, obs)?;
    let m = choose(d, r, &caps)?;
    // A TCG Revert on a drive that is no Opal drive (or that the kernel does not serve) has no
    // scope to weigh: say that first.
    if method::tcg(m) && r.method.is_some() {
        check_supported(d, m, &caps)?;
    }
    // A locked range can be neither written (the canaries) nor read (the samples): nothing
    // that follows could be judged, so nothing is written — except the PSID revert and the
    // Enterprise Erase (EraseMaster erases a locked band), the ways out, whose certificates
    // say they prove nothing.
    let locked = caps.locked();
    if let Some(why) = caps.tcg.as_ref().and_then(|t| {
        device::tcg::locked_range(
            t,
            "its data can be neither written nor read, so the purge could not be judged",
            if engine::tper(&caps, d.bus).is_some() {
                ", then purge (mediasan erases every band of a TCG Enterprise drive itself as EraseMaster, \
                 locked or not: --method tcg-erase --erase-master-file FILE)"
            } else {
                ", then purge (mediasan sends the PSID revert itself: --method tcg-psid-revert --psid CODE)"
            },
        )
    }) {
        if m != Method::TcgPsidRevert && m != Method::TcgErase {
            return Err(refused(&d.probe, why));
        }
    }
    let (nsid, ns) = namespace(d, m)?;
    let scope = scope_of(d, m, &caps, nsid, ns.shared)?;
    check_scope(d, &scope, r.allow_shared)?;
    if r.method.is_some() {
        check_supported(d, m, &caps)?;
    }
    if let Some(b) = caps.blocker(m) {
        return Err(refused(&d.probe, b.why.clone()));
    }
    if !r.has_credential(m) && !r.dry_run {
        return Err(refused(&d.probe, needs_credential(m)));
    }
    let mut warnings = Vec::new();
    if zoned_canaries {
        warnings.push(format!(
            "a host-managed zoned drive: a canary drawn in a sequential zone is written at that zone's write \
             pointer instead (the only place the drive takes a write){}",
            if method::sanitize(m) {
                ", and after the sanitize the drive's zone report must show every sequential zone empty"
            } else {
                ""
            }
        ));
    }
    if locked {
        warnings.push(
            "the drive is locked: nothing can be written or read before the erase, so the read-back \
             cannot show the erase and the certificate will be INCOMPLETE; once it is unlocked, purge it \
             again for one that proves it"
                .into(),
        );
    }
    if m == Method::TcgErase {
        warnings.push(
            "a TCG Enterprise Erase gives every band (Band0 to the drive's MaxRanges) a new key and resets \
             its locking settings: the data of every band is gone"
                .into(),
        );
        if r.erase_master.is_none() && r.erase_master_msid {
            warnings.push(
                "the EraseMaster password is the MSID the drive reports (--erase-master-msid): a drive whose \
                 owner set the password counts this as a wrong try"
                    .into(),
            );
        } else if !r.has_credential(m) {
            warnings.push(needs_credential(m));
        }
    } else if method::tcg(m) {
        warnings.push(
            "a TCG Revert returns the drive's security to its factory state: every owner's password, \
             locking range and MBR shadow is gone with the data"
                .into(),
        );
        if r.credential(m).is_none() {
            warnings.push(needs_credential(m));
        }
        if caps.locking().is_some_and(|l| !l.enabled) {
            warnings.push(
                "locking was never enabled on this drive; a drive may keep its data through a Revert then \
                 (the Opal specification leaves it to the vendor), and the canaries will show it"
                    .into(),
            );
        }
    }
    match bridge(d) {
        Some(b) if security_erase(m) && !r.allow_bridged_erase => {
            return Err(refused(
                &d.probe,
                format!(
                    "{b}; connect it to a SATA or SAS port, or add --allow-bridged-security-erase to take \
                     the risk"
                ),
            ))
        }
        Some(b) if security_erase(m) => warnings.push(format!(
            "{b}: going ahead as --allow-bridged-security-erase says; do not unplug it, and if it ends \
             locked, unlock it on a SATA port with `mediasan purge --unlock`"
        )),
        Some(b) => {
            if let Some(e) = caps.supported.iter().find(|e| security_erase(**e)) {
                warnings.push(format!("{} was passed over: {b}", e.name()));
            }
        }
        None => {}
    }
    let overwrite = m.technique() == "overwrite";
    let dealloc = deallocated(d, &caps, ns.deallocated);
    let allowed = caps
        .controller
        .as_ref()
        .is_some_and(|c| !c.no_deallocate_inhibited);
    let sanitize = matches!(
        m,
        Method::NvmeSanitizeCrypto | Method::NvmeSanitizeBlock | Method::NvmeSanitizeOverwrite
    );
    let wanted = match r.no_deallocate {
        NoDeallocate::Auto => overwrite,
        NoDeallocate::On => true,
        NoDeallocate::Off => false,
    };
    if sanitize && r.no_deallocate == NoDeallocate::On && !allowed {
        warnings.push(
            "--no-deallocate on: the drive inhibits No-Deallocate After Sanitize (SANICAP NDI), so it is \
             not set"
                .into(),
        );
    }
    let no_deallocate = d.bus == Bus::Nvme && sanitize && allowed && wanted;
    // An overwrite whose pattern is what deallocated blocks read as cannot be told from a
    // drive that only deallocated.
    let same = |p: u32| dealloc.is_some_and(|b| p == u32::from_ne_bytes([b; 4]));
    let pattern = match r.pattern {
        Some(p) if overwrite && same(p) => {
            return Err(refused(
                &d.probe,
                format!(
                    "the overwrite pattern {p:#010x} is what the drive's deallocated blocks read as, so the \
                     read-back could not tell an overwrite from a drive that only deallocated: choose another \
                     --pattern (e.g. 0x5a5a5a5a)"
                ),
            ))
        }
        Some(p) => p,
        None if overwrite && same(0) => {
            warnings.push(
                "the overwrite pattern is 0x5a5a5a5a, not 0: the drive's deallocated blocks read as zeros".into(),
            );
            0x5A5A_5A5A
        }
        None => 0,
    };
    if let (Some(id), true) = (&caps.identify, m.technique() == "security erase") {
        if id.security_enabled {
            warnings.push(
                "ATA security is already enabled with a password mediasan does not know (the owner's); the \
                 erase replaces it with mediasan's temporary password, which the erase then clears"
                    .into(),
            );
        }
    }
    if engine::synchronous(m) || m == Method::ScsiFormatUnit {
        warnings.push(format!(
            "{} cannot be stopped once sent: do not cut the power or reset the drive until mediasan says it \
             is done (a cut leaves the drive {})",
            m.name(),
            if m.technique() == "security erase" {
                "locked with mediasan's temporary password, and partly erased"
            } else if method::tcg(m) {
                "in whatever state its firmware recovers to"
            } else {
                "partly formatted, possibly unusable"
            }
        ));
    }
    // The estimate of the command as sent: with No-Deallocate, the drive's ND estimate.
    let estimate = caps.estimate_for(m, no_deallocate, r.passes);
    let opts = Options {
        pattern,
        passes: r.passes,
        ause: r.ause,
        no_deallocate,
        nsid: nsid.unwrap_or(0),
        format: ns.format,
        scsi_pi_type: caps.capacity.map_or(0, |c| c.pi_type),
        capacity: d.media.size(),
        estimate,
        tper: engine::tper(&caps, d.bus),
        erase_with_msid: r.erase_master_msid && r.erase_master.is_none(),
    };
    let (block_fails, crypto_fails) = caps.reads_fail_after_erase;
    let unreadable = match m.technique() {
        "block erase" => block_fails,
        "crypto erase" => crypto_fails,
        _ => None,
    };
    let rule = AfterRule {
        // Without DEFINITIVE ENDING PATTERN an ATA drive promises nothing about what an
        // overwrite reads back as: there only the canaries count.
        pattern: (overwrite && d.bus != Bus::Ata).then(|| pattern.to_le_bytes().to_vec()),
        // NVMe with No-Deallocate set must show the pattern; elsewhere the drive may
        // deallocate after the overwrite.
        deallocated: if no_deallocate { None } else { dealloc },
        unreadable_is_erased: unreadable.is_some(),
        unreadable_sense: unreadable,
        past_write_pointer: d.bus == Bus::Scsi
            && d.probe.identity.host_managed()
            && method::sanitize(m),
    };
    let mut bytes = Vec::new();
    if r.exit_failure_mode && caps.failure.is_some() {
        bytes.extend(engine::exit_failure_mode_bytes(d.bus));
    }
    bytes.extend(engine::start_bytes(m, &opts));
    // A virtual disk or a RAID volume: its command reaches the emulation or the volume, never
    // the media beneath; Clear at most, and said so.
    let virtual_disk = &d.probe.identity.virtual_disk;
    let mut note = m.note().map(str::to_string);
    let grade = if virtual_disk.is_empty() {
        m.grade(caps.medium)
    } else {
        let why = format!(
            "this is {virtual_disk}: {} reaches the virtual disk or the volume, not the physical media \
             beneath, which this certificate does not cover; it is graded Clear at most, never Purge",
            m.name()
        );
        warnings.push(why.clone());
        note = Some(match note {
            Some(n) => format!("{n}; {why}"),
            None => why,
        });
        Grade::Clear
    };
    Ok(Prepared {
        method: m,
        grade,
        bytes,
        caps,
        opts,
        estimate,
        scope,
        warnings,
        rule,
        note,
        locked,
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
#[derive(Debug)]
enum Waited {
    Done(State),
    /// Stopped following (a signal; true: the drive was removed) at this progress; the drive
    /// carries on.
    Stopped(f64, bool),
    /// Gave up following: the status could not be read, or the progress did not move, for
    /// longer than the patience allows. The drive may still be working.
    Lost(String),
}

/// How long an unreadable status and a progress that does not move are waited out: the
/// drive's estimate (twice, for progress), at least 10 minutes / an hour.
fn patience(r: &Request, p: &Prepared) -> (Duration, Duration) {
    if let Some(d) = r.patience {
        return (d, d);
    }
    let est = p.estimate.map_or(0, |e| e.seconds);
    (
        Duration::from_secs(est.max(600)),
        Duration::from_secs(est.saturating_mul(2).max(3600)),
    )
}

fn wait(
    d: &Drive,
    expect: &Expect,
    (unknown_limit, stall_limit): (Duration, Duration),
    r: &Request,
    signals: &Signals,
    obs: &dyn Observer,
) -> Waited {
    use std::time::Instant;
    let mut first = true;
    let mut last_read = Instant::now();
    let mut moved = (-1.0f64, Instant::now());
    let mut delay = r.poll;
    let mut at = 0.0;
    loop {
        match engine::poll(d.pass.as_ref(), d.bus, expect) {
            State::Running(x) => {
                at = x;
                last_read = Instant::now();
                delay = r.poll;
                if x > moved.0 {
                    moved = (x, Instant::now());
                } else if moved.1.elapsed() > stall_limit {
                    return Waited::Lost(format!(
                        "the drive's progress stayed at {x:.0} % for {} min",
                        moved.1.elapsed().as_secs() / 60
                    ));
                }
                obs.progress((x * 100.0) as u64);
            }
            State::Unknown(why) | State::Idle(why) => {
                // A transient answer (a bridge's fixed sense, a unit attention, a timeout) is
                // retried with backoff; only a lasting one ends the wait, and never as "failed".
                if last_read.elapsed() > unknown_limit {
                    return Waited::Lost(format!(
                        "the drive's sanitize status could not be read for {} s (last: {why})",
                        last_read.elapsed().as_secs()
                    ));
                }
                delay = (delay * 2).min(r.poll.max(Duration::from_millis(1)) * 12);
            }
            other => return Waited::Done(other),
        }
        if first {
            signals.hold(r.hold.as_deref(), "purge-wait");
            first = false;
        }
        if signals.cancelled() {
            return Waited::Stopped(at, signals.removed());
        }
        std::thread::sleep(delay);
    }
}

/// The command record of the certificate.
/// A crypto erase's conditions for Purge (NIST SP 800-88 Rev. 2: all user data encrypted
/// with a media encryption key, the key changed or destroyed, the drive stating both), each
/// with what this drive showed of it; none for another technique.
fn preconditions(d: &Drive, p: &Prepared) -> Vec<cert::Precondition> {
    if p.method.technique() != "crypto erase" {
        return vec![];
    }
    let tcg = method::tcg(p.method);
    let supports = match d.bus {
        _ if p.method == Method::TcgErase => {
            "TCG Level 0 Discovery reports the Enterprise Security Subsystem Class, whose Erase replaces \
             each band's media encryption key"
        }
        _ if tcg => {
            "TCG Level 0 Discovery (or the kernel's sed-opal) reports an Opal Security Subsystem Class, \
             whose Revert replaces the Locking SP's media encryption keys"
        }
        Bus::Nvme if p.method == Method::NvmeFormatCrypto => {
            "Identify Controller FNA bit 2: cryptographic erase is supported as part of a secure erase"
        }
        Bus::Nvme => "Identify Controller SANICAP bit 0 (CES): the Crypto Erase sanitize operation is supported",
        Bus::Ata => "IDENTIFY word 59 bit 13: CRYPTO SCRAMBLE EXT is supported",
        Bus::Scsi => "the drive accepts SANITIZE with CRYPTOGRAPHIC ERASE",
    };
    // An Opal drive says in its Locking feature whether it encrypts the media.
    let encrypts = p.caps.locking().is_some_and(|l| l.media_encryption);
    let erase = p.method == Method::TcgErase;
    let p = |requirement: &str, status: &str, evidence: &str| cert::Precondition {
        requirement: requirement.into(),
        status: status.into(),
        evidence: evidence.into(),
    };
    vec![
        p(
            "the drive performs a cryptographic erase (changes the media encryption key)",
            "reported",
            supports,
        ),
        if tcg && encrypts {
            p(
                "all user data, in every user-addressable and spare location, is encrypted with the key \
                 that is changed",
                "reported",
                if erase {
                    "TCG Level 0 Discovery, Locking feature: Media Encryption is set (the Enterprise SSC \
                     encrypts all user data with the bands' keys, and the Erase replaced the key of every \
                     band, Band0 to MaxRanges); spare locations are the vendor's word"
                } else {
                    "TCG Level 0 Discovery, Locking feature: Media Encryption is set (the Opal SSC encrypts \
                     all user data with the locking ranges' keys, which the Revert replaces); spare \
                     locations are the vendor's word"
                },
            )
        } else {
            p(
                "all user data, in every user-addressable and spare location, is encrypted with the key \
                 that is changed",
                "not shown",
                "no command of this interface reports what the media encryption key covers; the vendor's \
                 documentation (or a TCG Opal/Enterprise drive's locking state) must show it",
            )
        },
        p(
            "the old key is destroyed and cannot be recovered",
            "not shown",
            "nothing a host can read shows it; the drive's own completion status is recorded in drive_record",
        ),
        p(
            "data written before is no longer readable",
            "observed",
            "the canaries written at the sampled locations before the command are gone (verification)",
        ),
    ]
}

fn command(d: &Drive, p: &Prepared, drive_status: String) -> DeviceCommand {
    DeviceCommand {
        preconditions: preconditions(d, p),
        method: p.method.name().into(),
        bus: bus_name(d.bus).into(),
        bytes: p
            .bytes
            .iter()
            .map(|b| (b.label.clone(), cert::hex(&b.bytes)))
            .collect(),
        options: options(p),
        drive_status,
        estimate_seconds: p.estimate.map(|e| e.seconds),
        estimate_at_least: p.estimate.is_some_and(|e| e.at_least),
        scope: p.scope.reaches.clone(),
        drive_record: None,
        captured: vec![],
    }
}

/// The options the command was sent with, as far as they mean anything for its method: the
/// pattern and passes of an overwrite, AUSE and No-Deallocate of a sanitize.
fn options(p: &Prepared) -> String {
    let m = p.method;
    let mut o = Vec::new();
    if m.technique() == "overwrite" {
        o.push(format!("pattern {:#010x}", p.opts.pattern));
        o.push(format!("passes {}", p.opts.passes));
    }
    if method::sanitize(m) {
        o.push(format!("ause {}", p.opts.ause));
    }
    if matches!(
        m,
        Method::NvmeSanitizeCrypto | Method::NvmeSanitizeBlock | Method::NvmeSanitizeOverwrite
    ) {
        o.push(format!("no-deallocate {}", p.opts.no_deallocate));
    }
    if o.is_empty() {
        "none".into()
    } else {
        o.join(", ")
    }
}

/// Saves the logs a vendor's failure analysis needs before the purge (NVMe: SMART / Health
/// 02h, Error Information 01h; ATA: SMART READ DATA and its error log), each to a file in
/// `dir`; returns what was saved, hashed.
fn rma_capture(d: &Drive, dir: &Path) -> std::io::Result<Vec<cert::Captured>> {
    use crate::device::health;
    let mut pages: Vec<(&str, Vec<u8>)> = Vec::new();
    match d.bus {
        Bus::Nvme => {
            let mut smart = vec![0u8; 512];
            if matches!(
                d.pass.nvme(&health::nvme_smart_log(), &mut smart),
                Ok((0, _))
            ) {
                pages.push(("nvme-smart-log-02h", smart));
            }
            let mut errors = vec![0u8; 4096];
            if matches!(
                d.pass.nvme(&health::nvme_error_log(4096), &mut errors),
                Ok((0, _))
            ) {
                pages.push(("nvme-error-log-01h", errors));
            }
        }
        Bus::Ata => {
            for (name, cdb) in [
                ("ata-smart-read-data", health::smart_read_data()),
                ("ata-smart-error-log", health::smart_read_log(0x01)),
            ] {
                let mut page = vec![0u8; 512];
                if matches!(
                    d.pass.scsi(
                        &cdb,
                        crate::device::passthrough::DataDir::FromDevice,
                        &mut page,
                        15_000
                    ),
                    Ok((0, _))
                ) {
                    pages.push((name, page));
                }
            }
        }
        Bus::Scsi => {}
    }
    std::fs::create_dir_all(dir)?;
    let stem = format!(
        "{}-{}",
        d.probe
            .path
            .file_name()
            .map_or("drive".into(), |n| n.to_string_lossy().into_owned()),
        cert::timestamp(SystemTime::now()).replace([':', '-'], "")
    );
    pages
        .into_iter()
        .map(|(name, bytes)| {
            let file = dir.join(format!("{stem}.rma-{name}.bin"));
            std::fs::write(&file, &bytes)?;
            Ok(cert::Captured {
                what: name.into(),
                file: file
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                bytes: bytes.len() as u64,
                blake3: blake3::hash(&bytes).to_hex().to_string(),
            })
        })
        .collect()
}

/// Where the purge journal is kept, the key that seals it, and what it keeps of the run that
/// began the purge for the run that finishes it.
pub struct Keeper {
    pub path: std::path::PathBuf,
    pub mac: crate::journal::MacKey,
    /// The certificate record the purge began with.
    pub record: Option<cert::Record>,
    /// The certificate folder it began with (absolute).
    pub cert_dir: Option<std::path::PathBuf>,
}

impl Keeper {
    fn save(&self, j: &Pending) -> Result<(), Error> {
        if j.record.is_none() && self.record.is_some() {
            let j = Pending {
                record: self.record.clone(),
                cert_dir: self.cert_dir.clone(),
                ..j.clone()
            };
            return crate::journal::save(&self.path, &j, &self.mac);
        }
        crate::journal::save(&self.path, j, &self.mac)
    }

    /// Removes the journal (the purge has its final certificate, or never reached the drive).
    pub fn remove(&self) {
        crate::journal::remove(&self.path);
    }

    /// Keeps `j` for a later run, naming the INCOMPLETE certificate `id` this run wrote.
    ///
    /// # Errors
    /// [`Error::Io`] if it cannot be written.
    pub fn keep(&self, mut j: Pending, id: &str) -> Result<(), Error> {
        j.outcome.supersedes.push(id.to_string());
        self.save(&j)
    }
}

/// What a run of the purge came to: the certificate's record, and the journal when the drive
/// may still be sanitizing (a later run can finish and certify the purge).
pub struct Ran {
    pub outcome: PurgeOutcome,
    pub pending: Option<Pending>,
}

/// The sampled locations a purge is judged by, and what they held before its command.
struct Sampled {
    seed: [u8; 32],
    canary_seed: [u8; 32],
    plan: verify::Samples,
    extents: Vec<crate::contract::Extent>,
    evidence: Evidence,
    /// Why the command is not sent: the canaries could not all be written.
    not_sent: Option<String>,
    /// A host-managed zoned drive: its zones, and how many canaries went to a write pointer
    /// rather than where they were drawn.
    zones: Option<crate::cert::ZoneCheck>,
}

/// Draws the samples and takes what they hold before the command: canaries written
/// (`--canaries`), else their hashes read. Canaries that cannot all be written (a failing
/// drive, a host-managed SMR zone): the medium was written to, so a certificate says so, and
/// the command is not sent.
fn sample(d: &Drive, p: &Prepared, r: &Request) -> Result<Sampled, Error> {
    let media = d.media.as_ref();
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let plan = verify::sample_plan(media.size(), media.block_size(), r.verify_percent, &seed);
    let extents: Vec<_> = (0..plan.extents.len())
        .map(|i| plan.extents.get(i))
        .collect();
    let mut canary_seed = [0u8; 32];
    if p.locked {
        // Nothing can be written or read: no evidence before, so none after.
        return Ok(Sampled {
            seed,
            canary_seed,
            plan,
            evidence: Evidence {
                extents: extents.clone(),
                before: vec![],
                canaries: false,
            },
            extents,
            not_sent: None,
            zones: None,
        });
    }
    let mut zones = None;
    let extents = if r.canaries && d.probe.identity.host_managed() {
        let placed = zone_report(d).and_then(|m| {
            let (seq, _) = m.counts();
            m.place_samples(&extents).map(|(placed, moved)| {
                zones = Some(crate::cert::ZoneCheck {
                    zones: m.zones.len() as u64,
                    sequential: seq as u64,
                    canaries_moved: moved as u64,
                    ..crate::cert::ZoneCheck::default()
                });
                placed
            })
        });
        placed.map_err(|why| {
            refused(
                &d.probe,
                format!(
                    "its canaries cannot be placed at its zones' write pointers: {why}; add --no-canaries to \
                     judge the purge by the samples read before and after alone (nothing was written)"
                ),
            )
        })?
    } else {
        extents
    };
    let evidence = if r.canaries {
        rand::rng().fill_bytes(&mut canary_seed);
        Evidence::canaries(media, extents.clone(), &canary_seed)
    } else {
        Ok(Evidence::before(media, extents.clone()).map_err(|e| {
            Error::io(
                "cannot read the samples to compare after the purge",
                &d.probe.path,
                e,
            )
        })?)
    };
    let (evidence, not_sent) = match evidence {
        Ok(e) => (e, None),
        Err(e) => (
            Evidence {
                extents: extents.clone(),
                before: vec![],
                canaries: true,
            },
            Some(format!(
                "not sanitized: the canaries could not be written before the command ({e}), so {} was \
                 not sent; the sampled locations written before the error hold random data",
                p.method.name()
            )),
        ),
    };
    Ok(Sampled {
        seed,
        canary_seed,
        plan,
        extents,
        evidence,
        not_sent,
        zones,
    })
}

/// The certificate's record of a purge before its command is sent.
fn first_outcome(
    d: &Drive,
    p: &Prepared,
    captured: Vec<cert::Captured>,
    health_before: crate::device::health::Health,
    sampled: &Sampled,
) -> PurgeOutcome {
    let (s, extents, evidence) = (&sampled.plan, &sampled.extents, &sampled.evidence);
    let bytes_planned: u64 = extents.iter().map(|e| e.len).sum();
    PurgeOutcome {
        method: p.method.name().into(),
        technique: p.method.technique().into(),
        note: p.note.clone(),
        purge_grade: p.grade == Grade::Purge,
        bus: bus_name(d.bus).into(),
        command: DeviceCommand {
            captured,
            ..command(d, p, "not sent".into())
        },
        drive_failed: None,
        interrupted: None,
        unresolved: None,
        canaries: evidence.canaries,
        proves: p.method.proves().into(),
        medium: format!("{} ({})", p.caps.medium.name(), p.caps.medium_why),
        inconclusive: 0,
        verification: Verification {
            method: "sampled".into(),
            algorithm: if p.locked {
                "none: the drive was locked, so nothing could be written or read at the sampled locations \
                 before the purge"
            } else if evidence.canaries {
                "canaries: fresh random data written at sampled locations before the purge (BLAKE3 hashes \
                 kept); none may be readable after it"
            } else {
                "BLAKE3 of sampled locations before and after (hashes only kept)"
            }
            .into(),
            seed: cert::hex(&sampled.seed),
            subsections: s.subsections,
            sample_bytes: s.sample_bytes,
            samples: extents.len() as u64,
            coverage_percent: s.coverage_percent,
            bytes_planned,
            zones: sampled.zones.clone(),
            ..Verification::default()
        },
        problems: vec![],
        scope_summary: p.scope.summary.clone(),
        started: SystemTime::now(),
        finished: SystemTime::now(),
        events: vec![],
        supersedes: vec![],
        health: crate::cert::HealthRecord {
            before: Some(health_before),
            after: None,
        },
        not_sent: sampled.not_sent.clone(),
        // The other namespaces an NVMe subsystem-wide command erases: the read-back checks
        // the target only, and the certificate says so.
        unverified: p.scope.besides(&d.probe.canonical),
        pel_before: engine::pel_events(d.pass.as_ref(), d.bus),
        tcg: p.caps.tcg.clone(),
        tcg_after: None,
        locked: p.locked,
    }
}

/// What a later run needs to finish the purge, written before the command goes out.
fn journal_entry(
    d: &Drive,
    p: &Prepared,
    r: &Request,
    sampled: &Sampled,
    o: &PurgeOutcome,
    (unknown, stall): (Duration, Duration),
) -> Pending {
    let media = d.media.as_ref();
    Pending {
        format: journal::FORMAT.into(),
        target: d.probe.path.display().to_string(),
        media: crate::journal::MediaKey::of(&d.probe),
        stage: Stage::Planned,
        method: p.method.name().into(),
        expect: Expect::of(p.method, &p.opts),
        rule: p.rule.clone(),
        samples: journal::Samples::of(
            &sampled.evidence,
            &sampled.seed,
            r.verify_percent,
            media.size(),
            media.block_size(),
            sampled.evidence.canaries.then_some(&sampled.canary_seed),
        ),
        patience_seconds: (unknown.as_secs(), stall.as_secs()),
        outcome: o.clone(),
        // The keeper adds the run's record and folder when it saves.
        record: None,
        cert_dir: None,
    }
}

/// Runs the purge: canaries written at the samples (or the samples hashed), the journal
/// written, the command sent, the drive followed, the samples read again. Returns the
/// certificate's record.
///
/// # Errors
/// Only before the command is sent: the samples cannot be written or read, the journal cannot
/// be written, or the drive refuses the command.
pub fn run(
    d: &Drive,
    p: &Prepared,
    r: &Request,
    keeper: &Keeper,
    signals: &Signals,
    obs: &dyn Observer,
) -> Result<Ran, Error> {
    let health_before = health(d);
    let captured = match &r.rma_capture {
        Some(dir) => rma_capture(d, dir).map_err(|e| {
            Error::io(
                "cannot save the RMA capture (--rma-capture; nothing was sent to the drive)",
                dir,
                e,
            )
        })?,
        None => vec![],
    };
    let sampled = sample(d, p, r)?;
    let mut o = first_outcome(d, p, captured, health_before, &sampled);
    if o.not_sent.is_some() {
        o.finished = SystemTime::now();
        return Ok(Ran {
            outcome: o,
            pending: None,
        });
    }
    signals.hold(r.hold.as_deref(), "purge-start");
    if signals.cancelled() {
        o.interrupted = Some(
            "interrupted before the command was sent; the drive erased nothing (the canaries overwrote the \
             sampled locations)"
                .into(),
        );
        return Ok(Ran {
            outcome: o,
            pending: None,
        });
    }
    let (unknown, stall) = patience(r, p);
    let mut pending = journal_entry(d, p, r, &sampled, &o, (unknown, stall));
    // Written before the command goes out: a run cut short from here on leaves what a later
    // run needs to finish the purge.
    keeper.save(&pending).map_err(|e| {
        refused(
            &d.probe,
            format!("{e}; nothing was sent (a purge that cannot be journaled cannot be finished after an interruption)"),
        )
    })?;
    obs.event(&Event::PurgeStart(event::PurgeStart {
        target: d.probe.path.clone(),
        method: p.method.name().into(),
        bus: bus_name(d.bus).into(),
    }));
    obs.stage("purge", 1, 1, p.method.name(), 10_000);
    let waited = match engine::start_keyed(
        d.pass.as_ref(),
        p.method,
        &p.opts,
        r.credential(p.method),
    ) {
        Err(StartError::Refused(e)) => {
            keeper.remove();
            return Err(refused(
                &d.probe,
                format!(
                    "the drive refused {}: {e}{}",
                    p.method.name(),
                    if sampled.evidence.canaries {
                        " (the drive erased nothing; the canaries overwrote the sampled locations)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        Err(StartError::Failed(e)) => Waited::Done(State::Failed(e)),
        Err(StartError::Unknown(e)) => {
            // It may have reached the drive: never "erased nothing", and the journal stays (as
            // "may not have been sent") so a later run can follow it and certify it.
            o.unresolved = Some(format!(
                "{e}: whether the drive received {} is unknown, and it may be sanitizing now; \
                 `mediasan purge-status` shows its state, and `mediasan purge DEVICE --resume` \
                 follows it and certifies it if it ran",
                p.method.name()
            ));
            return Ok(settled(d, o, pending, true, r, signals));
        }
        started => {
            pending.stage = Stage::Sent;
            if let Err(e) = keeper.save(&pending) {
                obs.say(&format!(
                    "warning: {e}; if this run is cut short, a later run cannot tell the command was sent"
                ));
            }
            match started {
                // A blocking command returned only once the drive had finished.
                Ok(()) if engine::synchronous(p.method) => Waited::Done(State::Completed(
                    "completed (the command returned when the drive had finished)".into(),
                )),
                _ => wait(d, &pending.expect, (unknown, stall), r, signals, obs),
            }
        }
    };
    if method::tcg(p.method) {
        o.tcg_after = engine::tcg_state(d.pass.as_ref(), d.bus);
    }
    let resumable = finish(d, p.method, &p.rule, &sampled.evidence, waited, &mut o, obs);
    was_locked(d, p.method, &mut o);
    Ok(settled(d, o, pending, resumable, r, signals))
}

/// Finishes a purge an earlier run left (see [`crate::purge::journal`]): follows the drive
/// if it still sanitizes, reads the samples once it reports the end, and returns the
/// certificate's record — never a PASS for a command whose end nobody saw.
pub fn resume(
    d: &Drive,
    mut pending: Pending,
    r: &Request,
    signals: &Signals,
    obs: &dyn Observer,
) -> Result<Ran, Error> {
    let Some(m) = pending.method() else {
        return Err(refused(
            &d.probe,
            "its journal names a method this version does not know",
        ));
    };
    let mut o = pending.outcome.clone();
    o.interrupted = None;
    o.unresolved = None;
    let now = crate::cert::timestamp(SystemTime::now());
    let limits = (
        Duration::from_secs(pending.patience_seconds.0),
        Duration::from_secs(pending.patience_seconds.1),
    );
    let evidence = pending.samples.evidence();
    let sync = engine::synchronous(m);
    // Whether what follows can leave the drive still sanitizing (then the journal stays).
    let mut followed = false;
    let waited = match (pending.stage, sync) {
        (Stage::Sent, true) => {
            o.events.push(format!(
                "{now}: certified by a later run ({} had returned: the drive had finished)",
                m.name()
            ));
            Waited::Done(State::Completed(
                "completed (the command returned when the drive had finished)".into(),
            ))
        }
        (Stage::Planned, true) => {
            // The process or the host ended while the blocking command ran, or just before it
            // was sent: whether the drive ran it to the end cannot be known.
            let mut why = format!(
                "mediasan stopped while {} ran, or just before it was sent (the process or the host ended), so \
                 whether the drive ran it to the end is unknown; sanitize the drive again",
                m.name()
            );
            if m.technique() == "security erase" {
                why.push_str(&match engine::unlock(d.pass.as_ref()) {
                    Ok(done) => format!(" ({done})"),
                    Err(e) => format!(" (ATA security: {e})"),
                });
            }
            o.events.push(format!(
                "{now}: a later run found the end of {} unknown",
                m.name()
            ));
            Waited::Lost(why)
        }
        (stage, false) => {
            let state = engine::poll(d.pass.as_ref(), d.bus, &pending.expect);
            let ours = matches!(state, State::Running(_))
                || stage == Stage::Sent
                || (matches!(state, State::Completed(_) | State::Failed(_))
                    && pending.expect.nvme_cdw10.is_some());
            o.events.push(format!(
                "{now}: resumed by a later run (the drive reported {})",
                describe(&state)
            ));
            match state {
                _ if !ours => Waited::Lost(format!(
                    "mediasan stopped just before or while sending {}, and the drive now reports {}: whether \
                     it received the command is unknown; sanitize the drive again",
                    m.name(),
                    describe(&state)
                )),
                State::Idle(w) => Waited::Lost(format!(
                    "the drive reports no sanitize in progress and none completed ({w}): it ended before a power \
                     cycle, which clears that record, or never ran; sanitize the drive again"
                )),
                State::Running(_) | State::Unknown(_) => {
                    pending.stage = Stage::Sent;
                    followed = true;
                    wait(d, &pending.expect, limits, r, signals, obs)
                }
                done => Waited::Done(done),
            }
        }
    };
    // Only a drive that may still be sanitizing leaves something for yet another run.
    let again = followed && matches!(waited, Waited::Stopped(..) | Waited::Lost(_));
    if method::tcg(m) {
        o.tcg_after = engine::tcg_state(d.pass.as_ref(), d.bus);
    }
    finish(d, m, &pending.rule, &evidence, waited, &mut o, obs);
    was_locked(d, m, &mut o);
    Ok(settled(d, o, pending, again, r, signals))
}

/// A drive locked before its command (a PSID revert, an Enterprise Erase): nothing could be
/// written or read there beforehand, so its certificate is INCOMPLETE and says why and what to
/// do, whichever run certifies it.
fn was_locked(d: &Drive, m: Method, o: &mut PurgeOutcome) {
    if !o.locked || o.drive_failed.is_some() {
        return;
    }
    o.unresolved = Some(format!(
        "the drive was locked before the {}: nothing could be written or read there beforehand, so \
         the read-back cannot show the erase; it is unlocked now, so purge it again (`mediasan purge {}`) \
         for a certificate that proves it",
        if m == Method::TcgErase {
            "Erase"
        } else {
            "Revert"
        },
        d.probe.path.display()
    ));
}

/// The end every run shares once the drive's answer is in (first run or a later one): the
/// drive's health after, the time, the `purge-settled` stop point, the journal's copy of the
/// events. `keep`: the drive may still be sanitizing, so the journal stays for a later run.
fn settled(
    d: &Drive,
    mut o: PurgeOutcome,
    mut pending: Pending,
    keep: bool,
    r: &Request,
    signals: &Signals,
) -> Ran {
    o.health.after = Some(health(d));
    o.finished = SystemTime::now();
    signals.hold(r.hold.as_deref(), "purge-settled");
    pending.outcome.events = o.events.clone();
    Ran {
        outcome: o,
        pending: keep.then_some(pending),
    }
}

/// The drive's health now, over the same door as its commands.
fn health(d: &Drive) -> crate::device::health::Health {
    crate::device::health::read(&d.probe, d.pass.as_ref(), d.bus == Bus::Ata)
}

fn describe(s: &State) -> String {
    match s {
        State::Running(x) => format!("running, {x:.0} %"),
        State::Completed(w) => format!("completed: {w}"),
        State::Failed(w) => format!("failed: {w}"),
        State::Idle(w) => format!("no sanitize: {w}"),
        State::Unknown(w) => format!("an unreadable status: {w}"),
    }
}

/// Records how the purge ended, and reads the samples again once the drive says it is done,
/// or when it said it failed (a read that fails is recorded, never a reason to lose the
/// certificate). True when the drive may still be sanitizing: a later run can finish it.
fn finish(
    d: &Drive,
    m: Method,
    rule: &AfterRule,
    evidence: &Evidence,
    waited: Waited,
    o: &mut PurgeOutcome,
    obs: &dyn Observer,
) -> bool {
    let later = format!(
        "`mediasan purge {} --resume` finishes and certifies it once the drive is done",
        d.probe.path.display()
    );
    match waited {
        Waited::Stopped(at, pulled) => {
            obs.say(&format!(
                "stopped waiting; the drive goes on with the sanitize by itself: {later}"
            ));
            o.command.drive_status = format!("running ({at:.0} %) when mediasan stopped waiting");
            o.interrupted = Some(if pulled {
                format!(
                    "the drive was removed (pulled) while it sanitized ({at:.0} % done); plug it in again \
                     to follow it to the end and verify it"
                )
            } else {
                format!(
                    "interrupted while the drive sanitized ({at:.0} % done); it was not followed to the \
                     end nor verified"
                )
            });
            o.events.push(format!(
                "{}: interrupted while the drive sanitized ({at:.0} %)",
                crate::cert::timestamp(SystemTime::now())
            ));
            return true;
        }
        Waited::Lost(why) => {
            obs.say(&format!(
                "stopped following the drive: {why}. It may still be working: {later}"
            ));
            o.command.drive_status = format!("unknown: {why}");
            o.unresolved = Some(format!(
                "{why}; the drive may still be sanitizing, and it was not verified"
            ));
            return true;
        }
        Waited::Done(State::Failed(w)) => {
            o.command.drive_status = format!("failed: {w}");
            o.drive_failed = Some(w);
        }
        Waited::Done(state) => {
            o.command.drive_status = match state {
                State::Running(x) => format!("running ({x:.0} %)"),
                State::Completed(w) | State::Idle(w) | State::Unknown(w) => w,
                State::Failed(_) => unreachable!("handled above"),
            };
        }
    }
    o.command.drive_record = engine::drive_record(d.pass.as_ref(), d.bus);
    // Only this run's events: a previous owner's sanitize is not this certificate's.
    if let Some(r) = o.command.drive_record.as_mut() {
        let ours = engine::events_since(&r.events, &o.pel_before);
        r.events_earlier = r.events.len() - ours.len();
        r.events = ours;
    }
    let f = evidence.after(d.media.as_ref(), rule, &|offset| why_unreadable(d, offset));
    // Samples unreadable by design count as checked (the drive says reads fail after this
    // erase until the blocks are written), but never as read.
    o.verification.bytes_read = f.bytes_read;
    o.verification.unreadable_by_design = f.bytes_by_design;
    o.verification.mismatches = f.problems.len() as u64;
    o.verification.errors = f
        .read_errors
        .iter()
        .map(|(at, e)| IoFailure::from_io(*at, 0, &std::io::Error::other(e.clone())))
        .collect();
    o.problems = f.problems;
    o.inconclusive = f.inconclusive;
    // A sanitize empties every zone with a write pointer: the drive's zone report must say so.
    if method::sanitize(m) {
        if let Some(after) = super::evidence::zones_after(d.media.as_ref()) {
            let before = o.verification.zones.take().unwrap_or_default();
            o.verification.zones = Some(match after.error {
                Some(_) => crate::cert::ZoneCheck {
                    error: after.error,
                    ..before
                },
                None => crate::cert::ZoneCheck {
                    canaries_moved: before.canaries_moved,
                    ..after
                },
            });
        }
    }
    false
}

#[cfg(test)]
mod tests;
