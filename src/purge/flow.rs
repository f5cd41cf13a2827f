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
        if let Err(why) = zone_report(d) {
            return Err(refused(
                &d.probe,
                format!(
                    "it is a host-managed zoned device (the kernel's queue/zoned) whose zone report {why}: its \
                     canaries can be written only at its zones' write pointers; add --no-canaries to judge the \
                     purge by the samples read before and after alone"
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
            r.canaries.then_some(&sampled.canary_seed),
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
    if p.locked && o.drive_failed.is_none() {
        o.unresolved = Some(format!(
            "the drive was locked before the {}: nothing could be written or read there beforehand, so \
             the read-back cannot show the erase; it is unlocked now, so purge it again (`mediasan purge {}`) \
             for a certificate that proves it",
            if p.method == Method::TcgErase {
                "Erase"
            } else {
                "Revert"
            },
            d.probe.path.display()
        ));
    }
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
    Ok(settled(d, o, pending, again, r, signals))
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
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use super::*;
    use crate::cert::build::purge;
    use crate::cert::{Record, Verdict};
    use crate::journal::{Found, MacKey};
    use crate::purge::sim::{SimConfig, SimNvme};

    /// Stops following the drive right after the command went out (a Ctrl-C at that moment).
    struct CancelOnStart<'a>(&'a Signals);

    impl Observer for CancelOnStart<'_> {
        fn say(&self, _: &str) {}
        fn event(&self, _: &Event) {}
        fn stage(&self, _: &'static str, _: usize, _: usize, _: &str, _: u64) {
            self.0.cancel.store(true, Ordering::Relaxed);
        }
        fn progress(&self, _: u64) {}
    }

    fn request(method: Method) -> Request {
        Request {
            poll: Duration::from_millis(1),
            patience: Some(Duration::from_secs(5)),
            dry_run: false,
            ..Request::dry_run(Some(method))
        }
    }

    struct Setup {
        sim: Arc<SimNvme>,
        keeper: Keeper,
        _dir: tempfile::TempDir,
    }

    fn setup(features: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SimConfig::from_features(features).unwrap();
        Setup {
            sim: Arc::new(SimNvme::new(1 << 20, cfg)),
            keeper: Keeper {
                path: dir.path().join("j.purge.json"),
                mac: MacKey::for_tests(3),
                record: None,
                cert_dir: None,
            },
            _dir: dir,
        }
    }

    /// Prepares `r` for `d` and runs it to the end, nothing interrupting.
    fn prepared_and_run(s: &Setup, d: &Drive, r: &Request) -> Ran {
        let p = prepare(d, r, &crate::progress::Quiet).unwrap();
        run(
            d,
            &p,
            r,
            &s.keeper,
            &Signals::default(),
            &crate::progress::Quiet,
        )
        .unwrap()
    }

    fn drive(s: &Setup) -> Drive {
        Drive::simulated(Path::new("/dev/simnvme0"), Arc::clone(&s.sim))
    }

    /// A simulated ATA drive attached through `interface` (`sata`: libata; `usb`: a USB-SATA
    /// bridge; `scsi`: a host mediasan cannot name).
    fn ata_drive(interface: &str, cfg: crate::purge::sim_ata::AtaConfig) -> Drive {
        let sim = Arc::new(crate::purge::sim_ata::SimAta::new(1 << 20, cfg));
        let mut d = Drive::simulated(
            Path::new("/dev/simsda"),
            Arc::new(SimNvme::new(1 << 20, SimConfig::default())),
        );
        d.probe.identity.interface = interface.into();
        d.bus = Bus::Ata;
        d.media = Box::new(Arc::clone(&sim.media));
        d.pass = Box::new(sim);
        d
    }

    /// A SCSI drive that answers every READ(16) with this status and sense (or fails it),
    /// checking the read asks for the logical block of byte 4096 (LBA 8 of 512-byte blocks).
    struct Answers(Result<(u8, Vec<u8>), String>);

    impl Passthrough for Answers {
        fn nvme(
            &self,
            _: &crate::device::nvme::AdminCmd,
            _: &mut [u8],
        ) -> std::io::Result<(u16, u32)> {
            Err(std::io::Error::other("not NVMe"))
        }
        fn scsi(
            &self,
            cdb: &[u8],
            _: DataDir,
            _: &mut [u8],
            _: u32,
        ) -> std::io::Result<(u8, Vec<u8>)> {
            assert_eq!(cdb[0], 0x88, "READ(16)");
            assert_eq!(cdb[2..10], 8u64.to_be_bytes(), "the block of byte 4096");
            assert_eq!(cdb[10..14], 1u32.to_be_bytes(), "one block");
            self.0.clone().map_err(std::io::Error::other)
        }
    }

    #[test]
    fn why_a_read_failed_is_asked_of_the_drive_and_only_its_sense_counts() {
        let scsi = |a: Answers| {
            let mut d = drive(&setup("crypto"));
            d.bus = Bus::Scsi;
            d.pass = Box::new(a);
            d
        };
        // Fixed-format sense: MEDIUM ERROR, 11h/15h.
        let mut fixed = vec![0u8; 18];
        fixed[0] = 0x70;
        fixed[2] = 0x03;
        fixed[12] = 0x11;
        fixed[13] = 0x15;
        assert_eq!(
            why_unreadable(&scsi(Answers(Ok((2, fixed)))), 4096),
            Ok((3, 0x11, 0x15))
        );
        assert!(
            why_unreadable(&scsi(Answers(Ok((0, vec![])))), 4096).is_err(),
            "GOOD"
        );
        assert!(
            why_unreadable(&scsi(Answers(Ok((2, vec![])))), 4096).is_err(),
            "no sense"
        );
        assert!(why_unreadable(&scsi(Answers(Err("gone".into()))), 4096).is_err());
        assert!(
            why_unreadable(&drive(&setup("crypto")), 0).is_err(),
            "NVMe says nothing"
        );
    }

    fn security_hdd() -> crate::purge::sim_ata::AtaConfig {
        crate::purge::sim_ata::AtaConfig {
            rotation_rate: 7200,
            security: true,
            enhanced: true,
            erase_time_words: (60, 60),
            ..Default::default()
        }
    }

    #[test]
    fn security_erase_is_never_chosen_through_a_usb_or_unknown_bridge() {
        let nist_purge = Request {
            method: None,
            ..request(Method::AtaSanitizeBlock)
        };
        // Through libata: the enhanced erase of a magnetic drive is its Purge.
        let p = prepare(
            &ata_drive("sata", security_hdd()),
            &nist_purge,
            &crate::progress::Quiet,
        )
        .unwrap();
        assert_eq!(p.method, Method::AtaSecurityEraseEnhanced);
        for bridge in ["usb", "scsi", ""] {
            // nist-purge passes it over, and says why.
            let e = prepare(
                &ata_drive(bridge, security_hdd()),
                &nist_purge,
                &crate::progress::Quiet,
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("bridge")
                    && e.contains("locked")
                    && e.contains(
                        "--method ata-security-erase-enhanced --allow-bridged-security-erase"
                    ),
                "{bridge}: {e}"
            );
            // Asked for by name: refused without the acknowledgement...
            let asked = request(Method::AtaSecurityEraseEnhanced);
            let e = prepare(
                &ata_drive(bridge, security_hdd()),
                &asked,
                &crate::progress::Quiet,
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("--allow-bridged-security-erase"),
                "{bridge}: {e}"
            );
            // ... and taken with it, the risk said in the warnings the dry run shows.
            let acked = Request {
                allow_bridged_erase: true,
                ..asked
            };
            let p = prepare(
                &ata_drive(bridge, security_hdd()),
                &acked,
                &crate::progress::Quiet,
            )
            .unwrap();
            assert!(
                p.warnings
                    .iter()
                    .any(|w| w.contains("bridge") && w.contains("do not unplug")),
                "{:?}",
                p.warnings
            );
        }
        // A bridged drive with SANITIZE gets SANITIZE, and the dry run says why not the erase.
        let both = crate::purge::sim_ata::AtaConfig {
            sanitize: true,
            ..security_hdd()
        };
        let p = prepare(
            &ata_drive("usb", both),
            &nist_purge,
            &crate::progress::Quiet,
        )
        .unwrap();
        assert_eq!(p.method.technique(), "crypto erase");
        assert!(
            p.warnings.iter().any(|w| w.contains("was passed over"))
                && !p.warnings.iter().any(|w| w.contains("do not unplug")),
            "{:?}",
            p.warnings
        );
    }

    /// Runs `method` up to the moment after it was sent, then stops following; returns the
    /// journal as a later run loads it.
    fn interrupted(s: &Setup, method: Method) -> Pending {
        let d = drive(s);
        let r = request(method);
        let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
        let signals = Signals::default();
        let ran = run(&d, &p, &r, &s.keeper, &signals, &CancelOnStart(&signals)).unwrap();
        let sync = engine::synchronous(method);
        assert_eq!(ran.outcome.interrupted.is_some(), !sync);
        assert_eq!(ran.pending.is_some(), !sync);
        if let Some(p) = ran.pending {
            s.keeper.keep(p, "first-certificate").unwrap();
        }
        match crate::journal::load::<Pending>(&s.keeper.path, &s.keeper.mac).unwrap() {
            Some(Found::Valid(j)) => *j,
            other => panic!("{other:?}"),
        }
    }

    fn finish_later(s: &Setup, j: Pending) -> (Verdict, Vec<String>, bool) {
        let r = request(j.method().unwrap());
        let ran = resume(
            &drive(s),
            j,
            &r,
            &Signals::default(),
            &crate::progress::Quiet,
        )
        .unwrap();
        let c = purge(&drive(s).probe, ran.outcome, &Record::default());
        (c.result, c.reasons, ran.pending.is_some())
    }

    #[test]
    fn a_sanitize_the_drive_accepted_is_followed_to_the_end_and_checked_by_its_canaries() {
        let s = setup("crypto");
        let j = interrupted(&s, Method::NvmeSanitizeCrypto);
        assert_eq!(j.stage, Stage::Sent);
        let (v, why, again) = finish_later(&s, j);
        assert_eq!((v, again), (Verdict::Pass, false), "{why:?}");
        // The same, on a drive that only said it sanitized: the canaries recorded at the
        // start are still there.
        let s = setup("crypto,liar");
        let j = interrupted(&s, Method::NvmeSanitizeCrypto);
        let (v, why, _) = finish_later(&s, j);
        assert_eq!(v, Verdict::Fail);
        assert!(why.iter().any(|w| w.contains("canary")), "{why:?}");
    }

    #[test]
    fn a_transport_error_on_the_start_is_unknown_never_erased_nothing_and_the_journal_stays() {
        // The drive takes the sanitize, but the ioctl comes back with EINTR.
        let s = setup("crypto,lost");
        let d = drive(&s);
        let r = request(Method::NvmeSanitizeCrypto);
        let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
        let signals = Signals::default();
        let ran = run(&d, &p, &r, &s.keeper, &signals, &crate::progress::Quiet).unwrap();
        let why = ran.outcome.unresolved.clone().unwrap_or_default();
        assert!(
            why.contains("may be sanitizing") && why.contains("--resume"),
            "{why}"
        );
        let c = purge(&d.probe, ran.outcome, &Record::default());
        assert_eq!(c.result, Verdict::Incomplete, "{:?}", c.reasons);
        assert!(
            !c.reasons.iter().any(|w| w.contains("erased nothing")),
            "{:?}",
            c.reasons
        );
        let j = ran.pending.expect("the journal is kept");
        assert_eq!(j.stage, Stage::Planned, "not known to be sent");
        // It did reach the drive: a later run follows it and certifies it.
        let (v, why, again) = finish_later(&s, j);
        assert_eq!((v, again), (Verdict::Pass, false), "{why:?}");
        // The kernel refusing the request itself (nothing reached the drive) stays a refusal.
        let e = engine::StartError::transport(
            "Sanitize",
            &std::io::Error::from_raw_os_error(nix::libc::ENOTTY),
        );
        assert!(matches!(e, engine::StartError::Refused(_)));
        let e = engine::StartError::transport(
            "Sanitize",
            &std::io::Error::from_raw_os_error(nix::libc::ETIMEDOUT),
        );
        assert!(matches!(e, engine::StartError::Unknown(_)));
    }

    #[test]
    fn canaries_that_cannot_be_written_leave_a_fail_certificate_and_send_nothing() {
        let s = setup("crypto");
        let mut d = drive(&s);
        let mut media = crate::device::mem::MemDevice::new(1 << 20, 512, 0);
        media.fail_writes = vec![(512 << 10, 1 << 20)];
        d.media = Box::new(media);
        let r = request(Method::NvmeSanitizeCrypto);
        let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
        let signals = Signals::default();
        let ran = run(&d, &p, &r, &s.keeper, &signals, &crate::progress::Quiet)
            .expect("a record, never an error once the medium was written to");
        assert!(ran.pending.is_none(), "nothing was sent: nothing to follow");
        let c = purge(&d.probe, ran.outcome, &Record::default());
        assert_eq!(c.result, Verdict::Fail);
        assert!(
            c.reasons[0].contains("canaries could not be written")
                && c.reasons[0].contains("not sent"),
            "{:?}",
            c.reasons
        );
        assert!(
            matches!(
                engine::poll(s.sim.as_ref(), Bus::Nvme, &Expect::default()),
                State::Idle(_)
            ),
            "the drive reports no sanitize: nothing was sent"
        );
    }

    #[test]
    fn the_certificate_lists_this_run_s_log_events_only_never_a_previous_owner_s() {
        // The Persistent Event Log already holds a previous owner's crypto erase.
        let s = setup("crypto,history");
        let d = drive(&s);
        let r = request(Method::NvmeSanitizeCrypto);
        let ran = prepared_and_run(&s, &d, &r);
        let record = ran
            .outcome
            .command
            .drive_record
            .clone()
            .expect("the drive's record");
        assert_eq!(record.events.len(), 2, "{:?}", record.events);
        assert!(
            record.events[0].starts_with("Sanitize Start")
                && record.events[0].contains("timestamp 3000")
        );
        assert_eq!(
            record.events_earlier, 2,
            "the previous owner's two, counted apart"
        );
        let c = purge(&d.probe, ran.outcome, &Record::default());
        assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
    }

    #[test]
    fn no_deallocate_goes_with_an_overwrite_only_unless_asked_and_the_estimate_follows_it() {
        let s = setup("crypto,block,overwrite");
        let d = drive(&s);
        let with = |m: Method, nd: NoDeallocate| {
            let r = Request {
                no_deallocate: nd,
                ..request(m)
            };
            let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
            (p.opts.no_deallocate, p.estimate.map(|e| e.seconds))
        };
        // Auto: a crypto or block erase without it (and their plain estimates), an overwrite
        // with it (and the overwrite-with-No-Deallocate estimate).
        assert_eq!(
            with(Method::NvmeSanitizeCrypto, NoDeallocate::Auto),
            (false, Some(10))
        );
        assert_eq!(
            with(Method::NvmeSanitizeBlock, NoDeallocate::Auto),
            (false, Some(120))
        );
        assert_eq!(
            with(Method::NvmeSanitizeOverwrite, NoDeallocate::Auto),
            (true, Some(232)),
            "the log states ETOND for 16 passes: one pass takes a 16th"
        );
        // Asked for: on every method, with the matching estimates; or never.
        assert_eq!(
            with(Method::NvmeSanitizeCrypto, NoDeallocate::On),
            (true, Some(3600))
        );
        assert_eq!(
            with(Method::NvmeSanitizeOverwrite, NoDeallocate::Off),
            (false, Some(225))
        );
        // A drive that inhibits it (NDI) never gets it, and the operator who asked hears why.
        let ndi = setup("crypto,overwrite,ndi");
        let d = drive(&ndi);
        let r = Request {
            no_deallocate: NoDeallocate::On,
            ..request(Method::NvmeSanitizeCrypto)
        };
        let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
        assert!(!p.opts.no_deallocate);
        assert!(
            p.warnings.iter().any(|w| w.contains("NDI")),
            "{:?}",
            p.warnings
        );
        // ... and only the operator who asked for it (cargo-mutants found this unchecked).
        for nd in [NoDeallocate::Auto, NoDeallocate::Off] {
            let r = Request {
                no_deallocate: nd,
                ..request(Method::NvmeSanitizeOverwrite)
            };
            let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
            assert!(
                !p.warnings.iter().any(|w| w.contains("NDI")),
                "{nd:?}: {:?}",
                p.warnings
            );
        }
    }

    #[test]
    fn the_options_recorded_are_those_the_method_takes() {
        let s = setup("crypto,overwrite,format");
        let d = drive(&s);
        let of = |m: Method| options(&prepare(&d, &request(m), &crate::progress::Quiet).unwrap());
        assert_eq!(
            of(Method::NvmeSanitizeCrypto),
            "ause false, no-deallocate false"
        );
        assert_eq!(
            of(Method::NvmeSanitizeOverwrite),
            "pattern 0x00000000, passes 1, ause false, no-deallocate true"
        );
        assert_eq!(of(Method::NvmeFormatUserData), "none");
    }

    #[test]
    fn a_crypto_erase_records_the_conditions_it_needs_and_what_shows_each() {
        let s = setup("crypto,block");
        let d = drive(&s);
        let r = request(Method::NvmeSanitizeCrypto);
        let ran = prepared_and_run(&s, &d, &r);
        let c = purge(&d.probe, ran.outcome, &Record::default());
        let pre = &c.sanitization.command.as_ref().unwrap().preconditions;
        let status: Vec<&str> = pre.iter().map(|p| p.status.as_str()).collect();
        assert_eq!(
            status,
            ["reported", "not shown", "not shown", "observed"],
            "{pre:?}"
        );
        assert!(pre[0].evidence.contains("SANICAP"), "{pre:?}");
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("all user data") && n.contains("vendor")),
            "{:?}",
            c.notes
        );
        // Another technique has none.
        let r = request(Method::NvmeSanitizeBlock);
        let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
        assert!(command(&d, &p, String::new()).preconditions.is_empty());
    }

    /// Guard: Format NVM goes to the ioctl with its own long timeout (the larger of 600 s and
    /// the namespace at 100 MB/s), never 0 (the kernel's 60 s, after which it resets the
    /// controller mid-format), and to the namespace the device is.
    #[test]
    fn format_nvm_reaches_the_ioctl_with_its_own_timeout_and_namespace() {
        let s = setup("format");
        let d = drive(&s);
        let r = request(Method::NvmeFormatUserData);
        let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
        run(
            &d,
            &p,
            &r,
            &s.keeper,
            &Signals::default(),
            &crate::progress::Quiet,
        )
        .unwrap();
        let sent = s.sim.commands.lock().unwrap().clone();
        let format = sent.iter().find(|c| c[0] == 0x80).expect("a Format NVM");
        let le = |at: usize| u32::from_le_bytes(format[at..at + 4].try_into().unwrap());
        assert_eq!(le(64), crate::device::nvme::format_timeout_ms(1 << 20));
        assert_eq!(le(64), 600_000, "timeout_ms of struct nvme_passthru_cmd");
        assert_eq!(le(4), 1, "the namespace of the device");
    }

    /// Guard: a status that cannot be read for a while is waited out (patience), never taken
    /// for the end.
    #[test]
    fn an_unreadable_status_for_a_while_is_waited_out_and_the_purge_certified() {
        let s = setup("crypto,flaky");
        let d = drive(&s);
        let r = request(Method::NvmeSanitizeCrypto);
        let ran = prepared_and_run(&s, &d, &r);
        let c = purge(&d.probe, ran.outcome, &Record::default());
        assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
        // Past its patience, an unreadable status ends the wait INCOMPLETE (the journal kept),
        // never PASS.
        let s = setup("crypto,flaky");
        let d = drive(&s);
        let r = Request {
            patience: Some(Duration::ZERO),
            ..request(Method::NvmeSanitizeCrypto)
        };
        let ran = prepared_and_run(&s, &d, &r);
        assert!(ran.pending.is_some(), "the journal is kept");
        let c = purge(&d.probe, ran.outcome, &Record::default());
        assert_eq!(c.result, Verdict::Incomplete, "{:?}", c.reasons);
    }

    #[test]
    fn a_command_that_may_not_have_been_sent_is_never_certified() {
        // The journal says "about to send", and the drive never got it: INCOMPLETE, nothing
        // left to wait for.
        let s = setup("crypto");
        let mut j = interrupted(&s, Method::NvmeSanitizeCrypto);
        let fresh = setup("crypto");
        j.stage = Stage::Planned;
        let (v, why, again) = finish_later(&fresh, j.clone());
        assert_eq!((v, again), (Verdict::Incomplete, false));
        assert!(why.iter().any(|w| w.contains("unknown")), "{why:?}");
        // It did reach the drive (still running, our SCDW10): followed and certified.
        let (v, why, _) = finish_later(&s, j);
        assert_eq!(v, Verdict::Pass, "{why:?}");
    }

    #[test]
    fn a_blocking_command_whose_return_nobody_saw_is_never_certified() {
        let s = setup("format");
        let mut j = interrupted(&s, Method::NvmeFormatUserData);
        assert_eq!(
            j.stage,
            Stage::Sent,
            "Format NVM returned: the drive had finished"
        );
        let (v, why, again) = finish_later(&s, j.clone());
        assert_eq!((v, again), (Verdict::Pass, false), "{why:?}");
        j.stage = Stage::Planned;
        let (v, why, again) = finish_later(&s, j);
        assert_eq!((v, again), (Verdict::Incomplete, false));
        assert!(
            why.iter()
                .any(|w| w.contains("whether the drive ran it to the end is unknown")),
            "{why:?}"
        );
        assert!(
            !why.iter().any(|w| w.contains("ATA security")),
            "no password to remove after a Format NVM: {why:?}"
        );
    }

    /// An ATA security erase whose end nobody saw: the later run removes mediasan's temporary
    /// password if the drive kept it, and says what it found.
    #[test]
    fn a_security_erase_whose_end_nobody_saw_has_its_password_looked_for() {
        let s = setup("crypto");
        let d = ata_drive("sata", security_hdd());
        let r = request(Method::AtaSecurityErase);
        let ran = prepared_and_run(&s, &d, &r);
        assert!(ran.pending.is_none());
        // The journal as the run left it on disk, as if the process had ended before the
        // erase returned.
        let mut j = match crate::journal::load::<Pending>(&s.keeper.path, &s.keeper.mac).unwrap() {
            Some(Found::Valid(j)) => *j,
            other => panic!("{other:?}"),
        };
        j.stage = Stage::Planned;
        let ran = resume(&d, j, &r, &Signals::default(), &crate::progress::Quiet).unwrap();
        let c = purge(&d.probe, ran.outcome, &Record::default());
        assert_eq!(c.result, Verdict::Incomplete, "{:?}", c.reasons);
        assert!(
            c.reasons.iter().any(
                |w| w.contains("(ATA security is not enabled: there is no password to remove)")
            ),
            "{:?}",
            c.reasons
        );
    }

    #[test]
    fn a_drive_still_sanitizing_when_the_later_run_stops_keeps_its_journal() {
        let s = setup("crypto,slow");
        let j = interrupted(&s, Method::NvmeSanitizeCrypto);
        let signals = Signals::default();
        signals.cancel.store(true, Ordering::Relaxed);
        let r = request(Method::NvmeSanitizeCrypto);
        let ran = resume(&drive(&s), j, &r, &signals, &crate::progress::Quiet).unwrap();
        assert!(ran.outcome.interrupted.is_some());
        let kept = ran.pending.expect("the journal stays for yet another run");
        assert_eq!(kept.outcome.events.len(), 3, "{:?}", kept.outcome.events);
        assert_eq!(
            kept.outcome.supersedes,
            vec!["first-certificate".to_string()]
        );
    }

    /// A sysfs tree with `/sys/dev/block/259:N` for each of `names` (nvme0nN).
    fn fake_sys(names: &[&str]) -> tempfile::TempDir {
        let sys = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(sys.path().join("dev/block")).unwrap();
        for (i, n) in names.iter().enumerate() {
            let dir = sys.path().join("devices").join(n);
            std::fs::create_dir_all(&dir).unwrap();
            std::os::unix::fs::symlink(&dir, sys.path().join(format!("dev/block/259:{}", i + 1)))
                .unwrap();
        }
        sys
    }

    #[test]
    fn a_scope_with_another_device_in_use_is_refused_and_shared_only_when_allowed() {
        let sys = fake_sys(&["nvme0n1", "nvme0n2"]);
        let opened = |devno: (u64, u64)| device::safety::Usage {
            opened: vec![(devno, "42 (postgres)".into())],
            ..Default::default()
        };
        let scope = Scope {
            summary: "the whole NVM subsystem".into(),
            reaches: vec!["/dev/nvme0n1".into(), "/dev/nvme0n2".into()],
            devices: vec![
                (PathBuf::from("/dev/nvme0n1"), (259, 1)),
                (PathBuf::from("/dev/nvme0n2"), (259, 2)),
            ],
            shared: None,
        };
        let mut d = drive(&setup("crypto"));
        d.simulated = false;
        d.probe.devno = Some((259, 1));
        // The other namespace in use: refused, naming it and who has it.
        let e = scope_in_use(&d, &scope, sys.path(), &opened((259, 2)))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/dev/nvme0n2") && e.contains("postgres") && e.contains("erases"),
            "{e}"
        );
        // The target itself is checked before, with its partitions: not here again.
        assert!(scope_in_use(&d, &scope, sys.path(), &opened((259, 1))).is_ok());
        // The simulated drive has no sysfs of its own to ask.
        d.simulated = true;
        assert!(scope_in_use(&d, &scope, sys.path(), &opened((259, 2))).is_ok());

        // What others may use is refused unless allowed.
        let shared = Scope {
            devices: vec![],
            shared: Some("the controller reports more than one port (CMIC)".into()),
            ..scope
        };
        let e = check_scope(&d, &shared, false).unwrap_err().to_string();
        assert!(e.contains("CMIC") && e.contains("--allow-shared"), "{e}");
        assert!(check_scope(&d, &shared, true).is_ok());
        let alone = Scope {
            shared: None,
            ..shared
        };
        assert!(check_scope(&d, &alone, false).is_ok());
    }

    #[test]
    fn an_overwrite_never_uses_the_pattern_the_drive_s_deallocated_blocks_read_as() {
        let pattern = |d: &Drive, asked: Option<u32>, m: Method| {
            let r = Request {
                pattern: asked,
                method: Some(m),
                ..request(m)
            };
            prepare(d, &r, &crate::progress::Quiet).map(|p| (p.opts.pattern, p.warnings))
        };
        // NVMe: the namespace's DLFEAT says deallocated blocks read as zeros.
        let zeros = drive(&setup("overwrite,dealloc"));
        let (p, warnings) = pattern(&zeros, None, Method::NvmeSanitizeOverwrite).unwrap();
        assert_eq!(p, 0x5a5a_5a5a);
        assert!(
            warnings.iter().any(|w| w.contains("deallocated")),
            "{warnings:?}"
        );
        let e = pattern(&zeros, Some(0), Method::NvmeSanitizeOverwrite)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--pattern"), "{e}");
        let plain = drive(&setup("overwrite"));
        assert_eq!(
            pattern(&plain, None, Method::NvmeSanitizeOverwrite)
                .unwrap()
                .0,
            0
        );
        // ATA: IDENTIFY word 69 bit 5 (TRIM reads zeros).
        let ata = |trim: bool| {
            ata_drive(
                "sata",
                crate::purge::sim_ata::AtaConfig {
                    sanitize: true,
                    trim,
                    ..Default::default()
                },
            )
        };
        let of = |d: &Drive| pattern(d, None, Method::AtaSanitizeOverwrite).unwrap().0;
        assert_eq!(of(&ata(true)), 0x5a5a_5a5a);
        assert_eq!(of(&ata(false)), 0);
    }

    #[test]
    fn a_crypto_format_names_the_capability_that_shows_it() {
        let s = setup("format");
        let d = drive(&s);
        let p = prepare(
            &d,
            &request(Method::NvmeFormatCrypto),
            &crate::progress::Quiet,
        )
        .unwrap();
        let pre = preconditions(&d, &p);
        assert!(pre[0].evidence.contains("FNA"), "{pre:?}");
    }

    #[test]
    fn the_journal_keeps_the_record_and_folder_the_purge_began_with() {
        let mut s = setup("crypto,slow");
        let record = Record {
            asset_tag: "ASSET-7".into(),
            ..Record::default()
        };
        s.keeper.record = Some(record.clone());
        s.keeper.cert_dir = Some(PathBuf::from("/var/lib/mediasan/certificates"));
        let j = interrupted(&s, Method::NvmeSanitizeCrypto);
        assert_eq!(j.record, Some(record));
        assert_eq!(
            j.cert_dir,
            Some(PathBuf::from("/var/lib/mediasan/certificates"))
        );
    }

    /// A simulated NVMe drive whose Identify Namespace fails.
    struct NoNamespace(Arc<SimNvme>);

    impl Passthrough for NoNamespace {
        fn nvme(
            &self,
            c: &crate::device::nvme::AdminCmd,
            data: &mut [u8],
        ) -> std::io::Result<(u16, u32)> {
            if c.opcode == 0x06 && c.cdw10 & 0xFF == 0x00 {
                return Err(std::io::Error::other("Identify Namespace timed out"));
            }
            self.0.nvme(c, data)
        }
        fn scsi(
            &self,
            cdb: &[u8],
            dir: DataDir,
            data: &mut [u8],
            t: u32,
        ) -> std::io::Result<(u8, Vec<u8>)> {
            self.0.scsi(cdb, dir, data, t)
        }
    }

    /// Format NVM keeps the namespace's format, so it is never sent without it; a sanitize,
    /// which has no format to keep, goes on (cargo-mutants found the difference unchecked).
    /// A host-managed zoned drive's canaries go to its zones' write pointers, which takes its
    /// zone report: one that cannot be read is refused before anything is written unless the
    /// operator does without canaries.
    #[test]
    fn a_host_managed_zoned_drive_without_a_zone_report_is_purged_only_without_canaries() {
        let mut d = drive(&setup("crypto"));
        d.probe.identity.zoned = "host-managed".into();
        let r = request(Method::NvmeSanitizeCrypto);
        let Err(e) = prepare(&d, &r, &crate::progress::Quiet) else {
            panic!("canaries on a host-managed zoned drive")
        };
        assert!(e.to_string().contains("--no-canaries"), "{e}");
        let without = Request {
            canaries: false,
            ..r.clone()
        };
        assert!(prepare(&d, &without, &crate::progress::Quiet).is_ok());
        d.probe.identity.zoned = "host-aware".into();
        assert!(prepare(&d, &r, &crate::progress::Quiet).is_ok());
    }

    /// A host-managed zoned drive (writes in a sequential zone only at its write pointer) is
    /// purged with canaries: those drawn in sequential zones are written at the zones' write
    /// pointers (the simulated media refuses any other write there), and after the sanitize
    /// the drive's zone report must show every sequential zone empty.
    #[test]
    fn a_host_managed_zoned_drive_s_canaries_go_to_write_pointers_and_its_zones_must_empty() {
        let s = setup("crypto,zoned");
        let d = drive(&s);
        let before = d.media.report_zones().unwrap().unwrap();
        assert!(
            !before.holding().is_empty(),
            "zones written before the purge"
        );
        let r = request(Method::NvmeSanitizeCrypto);
        let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("write pointer") && w.contains("every sequential zone empty")),
            "{:?}",
            p.warnings
        );
        let ran = prepared_and_run(&s, &d, &r);
        assert_eq!(ran.outcome.not_sent, None);
        let c = certify(&d, ran);
        assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
        let z = c.verification.zones.clone().unwrap();
        assert_eq!((z.zones, z.sequential), (16, 14));
        assert!(z.canaries_moved > 0 && z.emptied_checked, "{z:?}");
        assert!(z.not_empty.is_empty() && z.error.is_none(), "{z:?}");
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("written at those zones' write pointers")
                    && n.contains("showed 0 of them still written")),
            "{:?}",
            c.notes
        );
        // Every canary in a sequential zone was written at that zone's write pointer: the
        // zones it landed in were left written exactly up to the canaries' end.
        assert!(s.sim.media.log.lock().unwrap().iter().all(|&(off, _)| {
            let z = before.at(off).unwrap();
            !z.sequential() || off >= z.wp.max(z.start)
        }));
        // A drive that only says it sanitized: the canaries are still there, and its zones
        // are still written.
        let s = setup("crypto,zoned,liar");
        let d = drive(&s);
        let c = certify(&d, prepared_and_run(&s, &d, &r));
        assert_eq!(c.result, Verdict::Fail);
        assert!(
            c.reasons
                .iter()
                .any(|w| w.contains("sequential zones still hold data")),
            "{:?}",
            c.reasons
        );
        assert!(
            c.reasons.iter().any(|w| w.contains("canary")),
            "{:?}",
            c.reasons
        );
        assert_eq!(c.verification.mismatches, c.verification.samples);
        // A method that is no sanitize (a Format) leaves the zones to the drive: the canaries
        // alone judge it, and no zone report is asked to show them empty.
        let s = setup("format,zoned");
        let d = drive(&s);
        let r = request(Method::NvmeFormatUserData);
        let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
        assert!(
            !p.warnings
                .iter()
                .any(|w| w.contains("every sequential zone empty")),
            "{:?}",
            p.warnings
        );
        let c = certify(&d, prepared_and_run(&s, &d, &r));
        let z = c.verification.zones.clone().unwrap();
        assert!(
            z.canaries_moved > 0 && z.not_empty.is_empty() && !z.emptied_checked,
            "{z:?}"
        );
    }

    /// A zoned drive's purge finished by a later run reads its canaries where they were
    /// placed (the journal keeps the write pointers' offsets), not where they were drawn.
    #[test]
    fn a_zoned_purge_finished_later_reads_the_canaries_where_they_were_placed() {
        let s = setup("crypto,zoned");
        let j = interrupted(&s, Method::NvmeSanitizeCrypto);
        assert!(j.samples.offsets.is_some(), "{:?}", j.samples);
        let (v, why, _) = finish_later(&s, j);
        assert_eq!(v, Verdict::Pass, "{why:?}");
        let s = setup("crypto,zoned,liar");
        let j = interrupted(&s, Method::NvmeSanitizeCrypto);
        let r = request(Method::NvmeSanitizeCrypto);
        let ran = resume(
            &drive(&s),
            j,
            &r,
            &Signals::default(),
            &crate::progress::Quiet,
        )
        .unwrap();
        let c = certify(&drive(&s), ran);
        assert_eq!(c.result, Verdict::Fail);
        assert_eq!(
            c.verification.mismatches, c.verification.samples,
            "every canary found again where it was written: {:?}",
            c.reasons
        );
    }

    /// A self-encrypting drive's discovery is shown in the dry run's lines and kept in the
    /// certificate; a drive that answers none shows nothing.
    #[test]
    fn a_self_encrypting_drive_s_discovery_is_shown_and_certified() {
        let s = setup("crypto,opal");
        let d = drive(&s);
        let r = request(Method::NvmeSanitizeCrypto);
        let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
        let lines = p.describe(&d.probe);
        assert!(
            lines.iter().any(
                |l| l == "  self-encrypting drive: Opal 2 (TCG Level 0 Discovery), locking off"
            ),
            "{lines:?}"
        );
        let ran = prepared_and_run(&s, &d, &r);
        let c = purge(&d.probe, ran.outcome, &Record::default());
        let t = c.media.tcg.expect("the discovery in the certificate");
        assert_eq!(t.ssc, ["Opal 2"]);
        assert!(t.locking.unwrap().supported && !t.locking.unwrap().locked);
        // A locked range: refused before anything is written, with the remedy.
        let locked = setup("crypto,opal-locked");
        let Err(e) = prepare(&drive(&locked), &r, &crate::progress::Quiet) else {
            panic!("a purge of a locked self-encrypting drive")
        };
        let e = e.to_string();
        assert!(
            e.contains("self-encrypting drive (Opal 2) with a locked range")
                && e.contains("--PSIDrevert"),
            "{e}"
        );
        let plain = setup("crypto");
        let d = drive(&plain);
        let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
        assert!(!p
            .describe(&d.probe)
            .iter()
            .any(|l| l.contains("self-encrypting")));
        let ran = prepared_and_run(&plain, &d, &r);
        assert_eq!(
            purge(&d.probe, ran.outcome, &Record::default()).media.tcg,
            None
        );
    }

    #[test]
    fn a_namespace_that_cannot_be_read_stops_a_format_only() {
        let s = setup("crypto,format");
        let mut d = drive(&s);
        d.pass = Box::new(NoNamespace(Arc::clone(&s.sim)));
        let e = prepare(
            &d,
            &request(Method::NvmeFormatUserData),
            &crate::progress::Quiet,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("cannot read its namespace") && e.contains("timed out"),
            "{e}"
        );
        assert!(prepare(
            &d,
            &request(Method::NvmeSanitizeCrypto),
            &crate::progress::Quiet
        )
        .is_ok());
    }

    /// An NVMe drive whose Sanitize Status log reads, at the Nth read, `progress(N)`: in
    /// progress at that many 65536ths, or `None`: completed.
    struct Progress {
        reads: std::sync::atomic::AtomicUsize,
        progress: fn(usize) -> Option<u16>,
    }

    impl Passthrough for Progress {
        fn nvme(
            &self,
            c: &crate::device::nvme::AdminCmd,
            data: &mut [u8],
        ) -> std::io::Result<(u16, u32)> {
            assert_eq!(
                (c.opcode, c.cdw10 & 0xFF),
                (0x02, 0x81),
                "the Sanitize Status log"
            );
            let n = self.reads.fetch_add(1, Ordering::Relaxed);
            data.fill(0);
            match (self.progress)(n) {
                Some(p) => {
                    data[0..2].copy_from_slice(&p.to_le_bytes());
                    data[2] = 2;
                }
                None => data[2] = 1,
            }
            Ok((0, 0))
        }
        fn scsi(
            &self,
            _: &[u8],
            _: DataDir,
            _: &mut [u8],
            _: u32,
        ) -> std::io::Result<(u8, Vec<u8>)> {
            Err(std::io::Error::other("not SCSI"))
        }
    }

    /// Following a sanitize: a progress that moves (with pauses shorter than the patience)
    /// is followed to the end however long it takes; one that stays put longer than the
    /// patience is given up, never taken for done (cargo-mutants found the stall test
    /// unchecked).
    #[test]
    fn a_progress_that_stays_put_is_given_up_and_one_that_moves_is_followed() {
        let follow = |progress: fn(usize) -> Option<u16>| {
            let mut d = drive(&setup("crypto"));
            d.pass = Box::new(Progress {
                reads: Default::default(),
                progress,
            });
            let r = request(Method::NvmeSanitizeCrypto);
            let limits = (Duration::from_secs(5), Duration::from_millis(300));
            wait(
                &d,
                &Expect::default(),
                limits,
                &r,
                &Signals::default(),
                &crate::progress::Quiet,
            )
        };
        // Moves every third read for 1000 reads (well over 300 ms at 1 ms a poll).
        let moving = follow(|n| (n < 1000).then_some((n / 3) as u16 * 100));
        assert!(
            matches!(&moving, Waited::Done(State::Completed(_))),
            "{moving:?}"
        );
        let stuck = follow(|_| Some(0x4000));
        assert!(
            matches!(&stuck, Waited::Lost(w) if w.contains("stayed at 25 %")),
            "{stuck:?}"
        );
    }

    /// A method the drive does not report is refused; a SCSI drive that cannot report its
    /// support (nothing listed) lets its own answer decide, a SCSI method only.
    #[test]
    fn only_a_scsi_drive_that_reports_nothing_may_be_sent_an_unreported_method() {
        let mut d = drive(&setup("crypto"));
        let caps = |supported: Vec<Method>| Caps {
            supported,
            ..Caps::default()
        };
        assert!(check_supported(&d, Method::NvmeSanitizeBlock, &caps(vec![])).is_err());
        let e = check_supported(
            &d,
            Method::NvmeSanitizeBlock,
            &caps(vec![Method::NvmeSanitizeCrypto]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("it supports: nvme-sanitize-crypto"), "{e}");
        d.bus = Bus::Scsi;
        assert!(check_supported(&d, Method::ScsiSanitizeBlock, &caps(vec![])).is_ok());
        assert!(check_supported(
            &d,
            Method::ScsiSanitizeBlock,
            &caps(vec![Method::ScsiSanitizeCrypto])
        )
        .is_err());
    }

    #[test]
    fn a_journal_s_own_record_is_never_replaced_by_the_keeper_s() {
        let s = setup("crypto,slow");
        let mut j = interrupted(&s, Method::NvmeSanitizeCrypto);
        let began = Record {
            asset_tag: "BEGAN-WITH".into(),
            ..Record::default()
        };
        j.record = Some(began.clone());
        let keeper = Keeper {
            record: Some(Record {
                asset_tag: "OTHER".into(),
                ..Record::default()
            }),
            ..s.keeper
        };
        keeper.keep(j, "second-certificate").unwrap();
        match crate::journal::load::<Pending>(&keeper.path, &keeper.mac).unwrap() {
            Some(Found::Valid(j)) => assert_eq!(j.record, Some(began)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_record_says_how_the_samples_were_drawn_what_was_captured_and_the_grade() {
        let s = setup("crypto,format");
        let d = drive(&s);
        let rma = tempfile::tempdir().unwrap();
        let r = Request {
            rma_capture: Some(rma.path().to_path_buf()),
            ..request(Method::NvmeSanitizeCrypto)
        };
        let ran = prepared_and_run(&s, &d, &r);
        let o = &ran.outcome;
        assert!(o.purge_grade);
        assert_eq!(o.medium, "flash (NVMe)");
        assert_eq!((o.bus.as_str(), o.command.bus.as_str()), ("nvme", "nvme"));
        assert!(!o.command.captured.is_empty(), "the RMA pages are recorded");
        for c in &o.command.captured {
            let kept = std::fs::read(rma.path().join(&c.file)).unwrap();
            assert!(c.what.starts_with("nvme-") && c.bytes > 0, "{c:?}");
            assert_eq!(
                (kept.len() as u64, blake3::hash(&kept).to_hex().to_string()),
                (c.bytes, c.blake3.clone())
            );
        }
        let v = &o.verification;
        assert_eq!(v.method, "sampled");
        assert!(v.algorithm.starts_with("canaries"), "{}", v.algorithm);
        assert_eq!(v.seed.len(), 64, "{}", v.seed);
        assert!(v.subsections > 0 && v.sample_bytes > 0 && v.samples > 0);
        assert!(v.coverage_percent > 0.0);
        assert_eq!(v.bytes_planned, v.samples * v.sample_bytes);
        // A Clear-grade method is recorded as such.
        let r = request(Method::NvmeFormatUserData);
        let ran = prepared_and_run(&s, &d, &r);
        assert!(!ran.outcome.purge_grade);
    }

    /// Cases real drives were reported with whose raw bytes could not be had (issue-tracker
    /// reports, decoded there): each as the decision mediasan must make from the words the
    /// reports give.
    #[test]
    fn reported_drives_without_their_bytes_are_decided_as_their_words_say() {
        // A Dell-firmware Intel SATA SSD: SANITIZE (block, overwrite, crypto) and no ATA
        // Security feature set, its freeze bit set by the BIOS all the same. Security erase
        // is unsupported (never "frozen"), and nist-purge takes the sanitize.
        let dell = ata_drive(
            "sata",
            crate::purge::sim_ata::AtaConfig {
                rotation_rate: 1,
                sanitize: true,
                security: false,
                frozen: true,
                ..Default::default()
            },
        );
        let Err(e) = prepare(
            &dell,
            &request(Method::AtaSecurityErase),
            &crate::progress::Quiet,
        ) else {
            panic!("a security erase on a drive without the feature set")
        };
        let e = e.to_string();
        assert!(
            e.contains("does not report support for ata-security-erase") && !e.contains("frozen"),
            "{e}"
        );
        let p = prepare(&dell, &Request::dry_run(None), &crate::progress::Quiet).unwrap();
        assert_eq!(p.method, Method::AtaSanitizeCrypto);
        // Word 59 = B901h (behind a SAS HBA): SANITIZE with crypto and block erase, no
        // OVERWRITE EXT.
        let mut id = [0u8; 512];
        id[118..120].copy_from_slice(&0xB901u16.to_le_bytes());
        let parsed = crate::device::ata::parse_identify(&id);
        assert_eq!(
            method::ata_methods(&parsed),
            [Method::AtaSanitizeCrypto, Method::AtaSanitizeBlock]
        );
    }

    /// A SCSI disk answering what `prepare` asks: the commands it lists (opcode, service
    /// action), VPD B1h with its MEDIUM ROTATION RATE and byte 7 (WABEREQ 7:6, WACEREQ 5:4),
    /// READ CAPACITY(16) and REQUEST SENSE with `sense` (key, ASC, ASCQ) and its progress;
    /// GOOD to anything else.
    #[derive(Default)]
    struct ScsiDisk {
        lists: Vec<(u8, u8)>,
        b1_byte7: u8,
        rate: u16,
        sense: (u8, u8, u8),
        progress: Option<u16>,
    }

    impl Passthrough for ScsiDisk {
        fn nvme(
            &self,
            _: &crate::device::nvme::AdminCmd,
            _: &mut [u8],
        ) -> std::io::Result<(u16, u32)> {
            Err(std::io::Error::other("not NVMe"))
        }
        fn scsi(
            &self,
            cdb: &[u8],
            _: DataDir,
            data: &mut [u8],
            _: u32,
        ) -> std::io::Result<(u8, Vec<u8>)> {
            data.fill(0);
            match cdb[0] {
                0xA3 if self.lists.contains(&(cdb[3], cdb[5])) => data[1] = 3,
                0x12 if cdb[1] & 1 == 1 && cdb[2] == 0xB1 => {
                    data[1] = 0xB1;
                    data[3] = 0x3C;
                    data[4..6].copy_from_slice(&self.rate.to_be_bytes());
                    data[7] = self.b1_byte7;
                }
                0x9E => {
                    data[..8].copy_from_slice(&2047u64.to_be_bytes());
                    data[8..12].copy_from_slice(&512u32.to_be_bytes());
                }
                0x03 => {
                    data[0] = 0x70;
                    data[7] = 10;
                    (data[2], data[12], data[13]) = self.sense;
                    if let Some(p) = self.progress {
                        data[15] = 0x80;
                        data[16..18].copy_from_slice(&p.to_be_bytes());
                    }
                }
                _ => {}
            }
            Ok((0, vec![]))
        }
    }

    fn scsi_disk(b1_byte7: u8) -> Drive {
        let mut d = drive(&setup("crypto"));
        d.bus = Bus::Scsi;
        d.probe.identity.interface = "sas".into();
        d.pass = Box::new(ScsiDisk {
            lists: vec![(0x48, 1), (0x48, 2), (0x48, 3)],
            b1_byte7,
            rate: 1,
            ..ScsiDisk::default()
        });
        d
    }

    /// What a SCSI disk's VPD B1h and REQUEST SENSE say before a purge: the medium from its
    /// rotation rate; failure mode stops FORMAT UNIT only (a new sanitize is the way out); a
    /// sanitize or a format in progress stops everything.
    #[test]
    fn a_scsi_disk_s_medium_and_state_are_read_before_the_purge() {
        let probe = |disk: ScsiDisk| engine::probe(&disk, Bus::Scsi, None).unwrap();
        let lists = || vec![(0x48, 2), (0x04, 0)];
        let medium = |rate: u16| {
            probe(ScsiDisk {
                rate,
                ..ScsiDisk::default()
            })
            .medium
        };
        assert_eq!(medium(1), crate::purge::method::Medium::Flash);
        assert_eq!(medium(7200), crate::purge::method::Medium::Magnetic);
        assert_eq!(medium(0x0401), crate::purge::method::Medium::Magnetic);
        assert_eq!(medium(0), crate::purge::method::Medium::Unknown);
        // Failure mode: MEDIUM ERROR, SANITIZE COMMAND FAILED.
        let failed = probe(ScsiDisk {
            lists: lists(),
            sense: (3, 0x31, 0x03),
            ..ScsiDisk::default()
        });
        assert!(failed.failure.is_some());
        assert!(failed.blocker(Method::ScsiFormatUnit).is_some());
        assert!(failed.blocker(Method::ScsiSanitizeBlock).is_none());
        // In progress: NOT READY, 04h/1Bh with a quarter done; 04h/04h a FORMAT UNIT.
        let sanitizing = probe(ScsiDisk {
            lists: lists(),
            sense: (2, 0x04, 0x1B),
            progress: Some(0x4000),
            ..ScsiDisk::default()
        });
        let b = sanitizing
            .blocker(Method::ScsiSanitizeBlock)
            .expect("blocked");
        assert_eq!(b.why, "a sanitize is in progress (25 %)");
        assert!(sanitizing.blocker(Method::ScsiFormatUnit).is_some());
        let formatting = probe(ScsiDisk {
            lists: lists(),
            sense: (2, 0x04, 0x04),
            ..ScsiDisk::default()
        });
        let b = formatting
            .blocker(Method::ScsiSanitizeBlock)
            .expect("blocked");
        assert_eq!(b.why, "a FORMAT UNIT is in progress");
        // NO SENSE: nothing stops it.
        let idle = probe(ScsiDisk {
            lists: lists(),
            ..ScsiDisk::default()
        });
        assert!(idle.failure.is_none());
        assert!(idle.blocker(Method::ScsiSanitizeBlock).is_none());
        assert_eq!(
            idle.supported,
            [Method::ScsiSanitizeBlock, Method::ScsiFormatUnit]
        );
    }

    /// After a SCSI block or crypto erase, only the sense VPD B1h promises for that erase
    /// counts as erased (WABEREQ for block, WACEREQ for crypto); after an overwrite, none.
    #[test]
    fn vpd_b1h_excuses_unreadable_blocks_only_after_the_erase_it_names() {
        let rule = |b1_byte7: u8, m: Method| {
            prepare(&scsi_disk(b1_byte7), &request(m), &crate::progress::Quiet)
                .unwrap()
                .rule
        };
        use crate::device::scsi::ReadAfterErase::{MediumError, WriteAfterSanitizeRequired};
        // WABEREQ 11b (WRITE AFTER SANITIZE REQUIRED), WACEREQ 10b (MEDIUM ERROR).
        let both = 0b1110_0000;
        let r = rule(both, Method::ScsiSanitizeBlock);
        assert!(r.unreadable_is_erased);
        assert_eq!(r.unreadable_sense, Some(WriteAfterSanitizeRequired));
        let r = rule(both, Method::ScsiSanitizeCrypto);
        assert!(r.unreadable_is_erased);
        assert_eq!(r.unreadable_sense, Some(MediumError));
        let r = rule(both, Method::ScsiSanitizeOverwrite);
        assert!(!r.unreadable_is_erased);
        assert_eq!(r.unreadable_sense, None);
        // Block erase promised, crypto not: a crypto erase's unreadable block is not erased.
        let r = rule(0b1100_0000, Method::ScsiSanitizeCrypto);
        assert!(!r.unreadable_is_erased);
        assert_eq!(r.unreadable_sense, None);
        let r = rule(0b0011_0000, Method::ScsiSanitizeBlock);
        assert!(!r.unreadable_is_erased);
    }

    /// Only an overwrite whose drive promises what it reads back (NVMe, SCSI) is judged by
    /// its pattern; an ATA overwrite without DEFINITIVE ENDING PATTERN by its canaries only.
    #[test]
    fn only_an_overwrite_off_ata_is_judged_by_its_pattern() {
        let pattern_rule = |d: &Drive, m: Method| {
            prepare(d, &request(m), &crate::progress::Quiet)
                .unwrap()
                .rule
                .pattern
        };
        let nvme = drive(&setup("crypto,overwrite"));
        assert_eq!(
            pattern_rule(&nvme, Method::NvmeSanitizeOverwrite),
            Some(vec![0; 4])
        );
        assert_eq!(pattern_rule(&nvme, Method::NvmeSanitizeCrypto), None);
        assert_eq!(
            pattern_rule(&scsi_disk(0), Method::ScsiSanitizeOverwrite),
            Some(vec![0; 4])
        );
        let ata = ata_drive(
            "sata",
            crate::purge::sim_ata::AtaConfig {
                sanitize: true,
                ..Default::default()
            },
        );
        assert_eq!(pattern_rule(&ata, Method::AtaSanitizeOverwrite), None);
    }

    /// An explicit pattern is taken as given unless it is what deallocated blocks read as, and
    /// only an overwrite is refused for it.
    #[test]
    fn an_explicit_pattern_is_refused_only_for_an_overwrite_that_could_not_be_told_apart() {
        let prepared = |features: &str, m: Method, p: u32| {
            let r = Request {
                pattern: Some(p),
                ..request(m)
            };
            prepare(&drive(&setup(features)), &r, &crate::progress::Quiet)
        };
        let p = prepared("overwrite", Method::NvmeSanitizeOverwrite, 0x1234_5678).unwrap();
        assert_eq!(p.opts.pattern, 0x1234_5678);
        let p = prepared(
            "overwrite,dealloc",
            Method::NvmeSanitizeOverwrite,
            0x1234_5678,
        )
        .unwrap();
        assert_eq!(p.opts.pattern, 0x1234_5678);
        assert!(prepared("overwrite,dealloc", Method::NvmeSanitizeOverwrite, 0).is_err());
        assert!(prepared("crypto,dealloc", Method::NvmeSanitizeCrypto, 0).is_ok());
    }

    /// The warnings a prepared command carries: the owner's password a security erase
    /// replaces, and which commands cannot be stopped once sent.
    #[test]
    fn the_warnings_say_what_a_command_does_to_the_owner_s_password_and_whether_it_can_be_stopped()
    {
        let warnings = |d: &Drive, m: Method| {
            prepare(d, &request(m), &crate::progress::Quiet)
                .unwrap()
                .warnings
        };
        let owned = ata_drive(
            "sata",
            crate::purge::sim_ata::AtaConfig {
                owner_password: Some(b"owner".to_vec()),
                sanitize: true,
                ..security_hdd()
            },
        );
        let w = warnings(&owned, Method::AtaSecurityEraseEnhanced);
        assert!(w.iter().any(|w| w.contains("the owner's")), "{w:?}");
        assert!(
            w.iter().any(|w| w.contains("cannot be stopped")
                && w.contains("locked with mediasan's temporary password")),
            "{w:?}"
        );
        let w = warnings(&owned, Method::AtaSanitizeBlock);
        assert!(!w.iter().any(|w| w.contains("the owner's")), "{w:?}");
        assert!(!w.iter().any(|w| w.contains("cannot be stopped")), "{w:?}");
        let plain = ata_drive("sata", security_hdd());
        let w = warnings(&plain, Method::AtaSecurityEraseEnhanced);
        assert!(!w.iter().any(|w| w.contains("the owner's")), "{w:?}");
        let nvme = drive(&setup("crypto,format"));
        let w = warnings(&nvme, Method::NvmeFormatUserData);
        assert!(
            w.iter()
                .any(|w| w.contains("cannot be stopped") && w.contains("partly formatted")),
            "{w:?}"
        );
        let w = warnings(&nvme, Method::NvmeSanitizeCrypto);
        assert!(!w.iter().any(|w| w.contains("cannot be stopped")), "{w:?}");
        let mut formats = scsi_disk(0);
        formats.pass = Box::new(ScsiDisk {
            lists: vec![(0x48, 2), (0x04, 0)],
            ..ScsiDisk::default()
        });
        let w = warnings(&formats, Method::ScsiFormatUnit);
        assert!(
            w.iter()
                .any(|w| w.contains("cannot be stopped") && w.contains("partly formatted")),
            "{w:?}"
        );
        let w = warnings(&formats, Method::ScsiSanitizeBlock);
        assert!(!w.iter().any(|w| w.contains("cannot be stopped")), "{w:?}");
        // A drive listing SANITIZE but not FORMAT UNIT is not sent FORMAT UNIT.
        let Err(e) = prepare(
            &scsi_disk(0),
            &request(Method::ScsiFormatUnit),
            &crate::progress::Quiet,
        ) else {
            panic!("FORMAT UNIT sent to a drive that does not list it")
        };
        let e = e.to_string();
        assert!(
            e.contains("does not report support for scsi-format-unit"),
            "{e}"
        );
    }

    /// The bytes shown include leaving failure mode only when asked and the drive is in it.
    #[test]
    fn the_exit_from_failure_mode_is_shown_only_when_asked_and_needed() {
        let labels = |features: &str, exit: bool| {
            let r = Request {
                exit_failure_mode: exit,
                ..Request::dry_run(Some(Method::NvmeSanitizeCrypto))
            };
            prepare(&drive(&setup(features)), &r, &crate::progress::Quiet)
                .unwrap()
                .bytes
                .into_iter()
                .map(|b| b.label)
                .collect::<Vec<_>>()
        };
        let exit = engine::exit_failure_mode_bytes(Bus::Nvme)[0].label.clone();
        assert_eq!(labels("crypto,failed", true)[0], exit);
        assert!(!labels("crypto,failed", false).contains(&exit));
        assert!(!labels("crypto", true).contains(&exit));
    }

    /// Every other device of the scope is held, never the target itself (already claimed),
    /// nothing for the simulated drive.
    #[test]
    fn the_scope_s_other_devices_are_claimed_and_the_target_is_not_claimed_twice() {
        let mut d = drive(&setup("crypto"));
        let mut p = prepare(
            &d,
            &request(Method::NvmeSanitizeCrypto),
            &crate::progress::Quiet,
        )
        .unwrap();
        // The target's path does not exist: claiming it would fail. /dev/null (1:3) can be
        // opened read-only with O_EXCL (ignored for a character device) and touches nothing.
        p.scope.devices = vec![
            (PathBuf::from("/nonexistent/mediasan-target"), (259, 0)),
            (PathBuf::from("/dev/null"), (1, 3)),
        ];
        assert_eq!(
            claim_scope(&d, &p).unwrap().len(),
            0,
            "the simulated drive holds nothing"
        );
        d.simulated = false;
        d.probe.devno = Some((259, 0));
        assert_eq!(claim_scope(&d, &p).unwrap().len(), 1, "/dev/null only");
        // Another device that is not the one it was: refused, by its name.
        p.scope.devices.push((PathBuf::from("/dev/null"), (1, 5)));
        let e = claim_scope(&d, &p).unwrap_err().to_string();
        assert!(
            e.contains("/dev/null") && e.contains("not the device"),
            "{e}"
        );
    }

    /// A start the drive refuses erased nothing: its journal goes, the refusal is the answer.
    #[test]
    fn a_refused_start_removes_its_journal() {
        let s = setup("crypto");
        let d = drive(&s);
        let r = request(Method::NvmeSanitizeBlock);
        // Prepared as if the drive had block erase; the drive refuses it.
        let p = prepare(&drive(&setup("crypto,block")), &r, &crate::progress::Quiet).unwrap();
        let Err(e) = run(
            &d,
            &p,
            &r,
            &s.keeper,
            &Signals::default(),
            &crate::progress::Quiet,
        ) else {
            panic!("the drive refused the block erase")
        };
        assert!(e.to_string().contains("refused"), "{e}");
        assert!(!s.keeper.path.exists(), "the journal is removed");
    }

    /// A later run tells "never received" from "ran and ended before a power cycle" by the
    /// journal's stage, and follows a drive still running what it may not have been sent.
    #[test]
    fn a_later_run_reads_the_drive_s_state_against_the_journal_s_stage() {
        let s = setup("crypto");
        let mut j = interrupted(&s, Method::NvmeSanitizeCrypto);
        // A fresh drive reports no sanitize at all.
        j.stage = Stage::Planned;
        let (v, why, _) = finish_later(&setup("crypto"), j.clone());
        assert_eq!(v, Verdict::Incomplete);
        assert!(
            why.iter()
                .any(|w| w.contains("whether it received the command is unknown")),
            "{why:?}"
        );
        j.stage = Stage::Sent;
        let (v, why, again) = finish_later(&setup("crypto"), j);
        assert_eq!((v, again), (Verdict::Incomplete, false));
        assert!(
            why.iter().any(|w| w.contains("ended before a power cycle")),
            "{why:?}"
        );
        // Still running what the journal says may not have been sent: followed (here, until
        // a signal), and the journal stays, now "sent".
        let s = setup("crypto,slow");
        let mut j = interrupted(&s, Method::NvmeSanitizeCrypto);
        j.stage = Stage::Planned;
        let signals = Signals::default();
        signals.cancel.store(true, Ordering::Relaxed);
        let r = request(Method::NvmeSanitizeCrypto);
        let ran = resume(&drive(&s), j, &r, &signals, &crate::progress::Quiet).unwrap();
        assert!(ran.outcome.interrupted.is_some());
        assert_eq!(ran.pending.expect("kept").stage, Stage::Sent);
    }

    /// The health before and after is the drive's own, read the way its bus is read.
    #[test]
    fn the_purge_records_the_drive_s_health_before_and_after() {
        let s = setup("crypto,worn");
        let d = drive(&s);
        let ran = prepared_and_run(&s, &d, &request(Method::NvmeSanitizeCrypto));
        let h = &ran.outcome.health;
        let before = h.before.as_ref().expect("before");
        let after = h.after.as_ref().expect("after");
        for h in [before, after] {
            assert_eq!(h.nvme.as_ref().map(|n| n.media_errors), Some(7), "{h:?}");
            assert_eq!(h.state, "failing", "{h:?}");
        }
    }

    fn tcg_request(m: Option<Method>, psid: Option<&str>, sid: Option<&str>) -> Request {
        let secret = |t: &str| crate::device::tcg::Secret::new(t).unwrap();
        Request {
            method: m,
            psid: psid.map(secret),
            sid: sid.map(secret),
            ..request(Method::TcgPsidRevert)
        }
    }

    /// Prepares and runs `r`, which the drive must refuse; the refusal's text.
    fn refused_run(s: &Setup, d: &Drive, r: &Request) -> String {
        let q = &crate::progress::Quiet;
        let p = prepare(d, r, q).unwrap();
        run(d, &p, r, &s.keeper, &Signals::default(), q)
            .err()
            .expect("refused")
            .to_string()
    }

    fn certify(d: &Drive, ran: Ran) -> crate::cert::Certificate {
        purge(&d.probe, ran.outcome, &Record::default())
    }

    #[test]
    fn a_psid_revert_through_the_kernel_s_sed_opal_is_proven_by_the_canaries() {
        use crate::purge::sim::SIM_PSID;
        let s = setup("opal-owned");
        let d = drive(&s);
        let r = tcg_request(Some(Method::TcgPsidRevert), Some(SIM_PSID), None);
        let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
        assert!(
            p.warnings.iter().any(|w| w.contains("factory state")),
            "{:?}",
            p.warnings
        );
        // The dry run's block is the ioctl's header: no key in it.
        assert_eq!(p.bytes.len(), 1);
        assert_eq!(p.bytes[0].bytes, [0u8; 8]);
        assert!(p.bytes[0].label.contains("IOC_OPAL_PSID_REVERT_TPR"));
        let ran = prepared_and_run(&s, &d, &r);
        let c = certify(&d, ran);
        assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
        let after = c.media.tcg_after.clone().expect("discovery read again");
        assert!(!after.locking.unwrap().enabled);
        // Read through the drive's own door (its SSC named), not only the kernel's word.
        assert_eq!(after.ssc, ["Opal 2"]);
        assert!(c.media.tcg.clone().unwrap().locking.unwrap().enabled);
        let json = serde_json::to_string(&c).unwrap();
        assert!(
            !json.contains(SIM_PSID),
            "the PSID must never reach a certificate"
        );
        let cmd = c.sanitization.command.clone().unwrap();
        assert!(cmd
            .preconditions
            .iter()
            .any(|x| x.status == "reported" && x.evidence.contains("Media Encryption")));
    }

    #[test]
    fn a_wrong_psid_is_refused_and_a_failed_or_lying_revert_is_fail() {
        use crate::purge::sim::SIM_SID;
        let s = setup("opal-owned");
        let d = drive(&s);
        let r = tcg_request(Some(Method::TcgPsidRevert), Some("NOT-THE-PSID"), None);
        let e = refused_run(&s, &d, &r);
        assert!(
            e.contains("NOT_AUTHORIZED") && e.contains("erased nothing"),
            "{e}"
        );
        assert!(!e.contains("NOT-THE-PSID"), "{e}");
        // A drive that answers FAIL, and one that says success and changes nothing.
        for (features, why) in [
            ("opal-refuses", "FAIL (TCG status 0x3f)"),
            (
                "opal,liar",
                "canary written before the purge is still readable",
            ),
        ] {
            let s = setup(features);
            let d = drive(&s);
            let r = tcg_request(Some(Method::TcgRevert), None, Some(SIM_SID));
            let c = certify(&d, prepared_and_run(&s, &d, &r));
            assert_eq!(c.result, Verdict::Fail, "{features}");
            assert!(
                c.reasons.iter().any(|x| x.contains(why)),
                "{features}: {:?}",
                c.reasons
            );
        }
    }

    #[test]
    fn nist_purge_takes_a_revert_only_with_its_credential_and_after_the_drive_s_own_crypto_erase() {
        use crate::purge::sim::{SIM_PSID, SIM_SID};
        let q = &crate::progress::Quiet;
        // No credential, no other Purge: refused, naming both flags' way.
        let s = setup("opal");
        let e = prepare(&drive(&s), &tcg_request(None, None, None), q)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("only Purge is a TCG Revert") && e.contains("--sid-file"),
            "{e}"
        );
        // By name without its credential: refused before anything is sent.
        let mut r = tcg_request(Some(Method::TcgRevert), Some(SIM_PSID), None);
        r.dry_run = false;
        let e = prepare(&drive(&s), &r, q).err().unwrap().to_string();
        assert!(e.contains("needs the owner's SID password"), "{e}");
        let mut r = tcg_request(Some(Method::TcgPsidRevert), None, Some(SIM_SID));
        r.dry_run = false;
        let e = prepare(&drive(&s), &r, q).err().unwrap().to_string();
        assert!(
            e.contains("needs the PSID printed on the drive's label"),
            "{e}"
        );
        // With the SID: tcg-revert; with a drive crypto erase too, that one first.
        let p = prepare(&drive(&s), &tcg_request(None, None, Some(SIM_SID)), q).unwrap();
        assert_eq!(p.method, Method::TcgRevert);
        let s = setup("crypto,block,opal");
        let p = prepare(&drive(&s), &tcg_request(None, None, Some(SIM_SID)), q).unwrap();
        assert_eq!(p.method, Method::NvmeSanitizeCrypto);
        assert_eq!(
            p.caps.supported[..4],
            [
                Method::NvmeSanitizeCrypto,
                Method::TcgRevert,
                Method::TcgPsidRevert,
                Method::NvmeSanitizeBlock
            ]
        );
        // A drive without Opal offers no Revert, and the kernel's refusal is said.
        let s = setup("crypto");
        let p = prepare(&drive(&s), &tcg_request(None, None, Some(SIM_SID)), q).unwrap();
        assert!(!p.caps.supported.iter().any(|m| method::tcg(*m)));
    }

    /// A Revert is one blocking ioctl: a run that ended after it returned is certified by a
    /// later one from its canaries (with the TCG state read again then); one that ended while
    /// it ran (the journal still "planned") is INCOMPLETE, never PASS.
    #[test]
    fn a_revert_whose_return_nobody_saw_is_never_certified() {
        use crate::purge::sim::SIM_PSID;
        let s = setup("opal-owned");
        let d = drive(&s);
        let r = tcg_request(Some(Method::TcgPsidRevert), Some(SIM_PSID), None);
        assert!(prepared_and_run(&s, &d, &r).pending.is_none());
        let mut j = match crate::journal::load::<Pending>(&s.keeper.path, &s.keeper.mac).unwrap() {
            Some(Found::Valid(j)) => *j,
            other => panic!("{other:?}"),
        };
        assert_eq!(j.stage, Stage::Sent, "the ioctl returned");
        // The later run needs no credential: nothing is sent again.
        let later = request(Method::TcgPsidRevert);
        let ran = resume(
            &d,
            j.clone(),
            &later,
            &Signals::default(),
            &crate::progress::Quiet,
        )
        .unwrap();
        let c = certify(&d, ran);
        assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
        assert_eq!(
            c.media.tcg_after.and_then(|t| t.locking).map(|l| l.enabled),
            Some(false)
        );
        j.stage = Stage::Planned;
        let ran = resume(&d, j, &later, &Signals::default(), &crate::progress::Quiet).unwrap();
        let c = certify(&d, ran);
        assert_eq!(c.result, Verdict::Incomplete);
        assert!(
            c.reasons
                .iter()
                .any(|w| w.contains("whether the drive ran it to the end is unknown")),
            "{:?}",
            c.reasons
        );
    }

    #[test]
    fn a_locked_drive_takes_only_the_psid_revert_and_its_certificate_is_incomplete() {
        use crate::purge::sim::SIM_PSID;
        let q = &crate::progress::Quiet;
        let s = setup("crypto,opal-locked");
        let d = drive(&s);
        let e = prepare(&d, &tcg_request(None, None, None), q)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("locked range") && e.contains("tcg-psid-revert"),
            "{e}"
        );
        let r = tcg_request(None, Some(SIM_PSID), None);
        let p = prepare(&d, &r, q).unwrap();
        assert_eq!(p.method, Method::TcgPsidRevert);
        assert!(p.locked);
        let before = s.sim.media.contents()[..4096].to_vec();
        let c = certify(&d, prepared_and_run(&s, &d, &r));
        assert_eq!(c.result, Verdict::Incomplete);
        assert!(
            c.reasons
                .iter()
                .any(|x| x.contains("was locked before the Revert")),
            "{:?}",
            c.reasons
        );
        // Nothing was written before (no canaries on a locked drive), and the media was rekeyed.
        assert!(!c
            .sanitization
            .command
            .clone()
            .unwrap()
            .preconditions
            .is_empty());
        assert_ne!(s.sim.media.contents()[..4096].to_vec(), before);
        assert!(c
            .verification
            .algorithm
            .starts_with("none: the drive was locked"));
        assert_eq!(c.verification.bytes_read, 0);
        assert!(!c.media.tcg_after.unwrap().locking.unwrap().locked);
    }

    fn enterprise_request(m: Option<Method>, password: Option<&str>) -> Request {
        Request {
            method: m,
            erase_master: password.map(|t| crate::device::tcg::Secret::new(t).unwrap()),
            ..request(Method::TcgErase)
        }
    }

    #[test]
    fn an_enterprise_erase_of_every_band_in_mediasan_s_own_session_is_proven_by_the_canaries() {
        use crate::purge::sim_tcg::SIM_ERASE_MASTER;
        let s = setup("enterprise");
        let d = drive(&s);
        let r = enterprise_request(Some(Method::TcgErase), Some(SIM_ERASE_MASTER));
        let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
        assert!(
            p.warnings.iter().any(|w| w.contains("every band")),
            "{:?}",
            p.warnings
        );
        // The dry run shows every ComPacket, the challenge withheld.
        let labels: Vec<&str> = p.bytes.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(p.bytes.len(), 5, "{labels:?}");
        assert!(labels[1].contains("withheld") && labels[3].contains("Erase Band0"));
        assert_eq!(
            p.bytes[3].fields().unwrap(),
            "ComPacket to ComID 0x07fe, TSN 1 HSN 105: Erase on Band0"
        );
        let ran = prepared_and_run(&s, &d, &r);
        let c = certify(&d, ran);
        assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
        assert!(c.notes[0].contains("TCG Enterprise Erase of every band"));
        let after = c.media.tcg_after.clone().expect("discovery read again");
        assert_eq!(after.ssc, ["Enterprise"]);
        assert!(!after.locking.unwrap().locked);
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains(SIM_ERASE_MASTER));
        let cmd = c.sanitization.command.clone().unwrap();
        assert!(cmd
            .preconditions
            .iter()
            .any(|x| x.status == "reported" && x.evidence.contains("every band")));
    }

    #[test]
    fn an_enterprise_erase_with_a_wrong_password_is_refused_and_a_failed_or_lying_one_is_fail() {
        use crate::purge::sim_tcg::SIM_ERASE_MASTER;
        let s = setup("enterprise");
        let d = drive(&s);
        let before = s.sim.media.contents();
        let r = enterprise_request(Some(Method::TcgErase), Some("not-the-password"));
        let e = refused_run(&s, &d, &r);
        assert!(
            e.contains("did not accept the EraseMaster password") && e.contains("erased nothing"),
            "{e}"
        );
        assert!(!e.contains("not-the-password"), "{e}");
        // Only the canaries were written; no band got a new key.
        let after = s.sim.media.contents();
        let same = before.iter().zip(&after).filter(|(a, b)| a == b).count();
        assert!(same > before.len() * 9 / 10, "{same} of {}", before.len());
        // A drive that answers FAIL to the Erase: refused (no band was erased). One that says
        // success and changes nothing: FAIL by the canaries.
        let s = setup("enterprise-refuses");
        let d = drive(&s);
        let r = enterprise_request(Some(Method::TcgErase), Some(SIM_ERASE_MASTER));
        let e = refused_run(&s, &d, &r);
        assert!(
            e.contains("FAIL (TCG status 0x3f)") && e.contains("Band0"),
            "{e}"
        );
        let s = setup("enterprise,liar");
        let d = drive(&s);
        let c = certify(&d, prepared_and_run(&s, &d, &r));
        assert_eq!(c.result, Verdict::Fail);
        assert!(
            c.reasons.iter().any(|x| x.contains("still readable")),
            "{:?}",
            c.reasons
        );
    }

    #[test]
    fn nist_purge_takes_the_enterprise_erase_only_with_its_password_and_a_locked_drive_is_incomplete(
    ) {
        use crate::purge::sim_tcg::SIM_ERASE_MASTER;
        let q = &crate::progress::Quiet;
        let s = setup("enterprise");
        let e = prepare(&drive(&s), &enterprise_request(None, None), q)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("only Purge is the TCG Enterprise Erase")
                && e.contains("--erase-master-file"),
            "{e}"
        );
        let p = prepare(
            &drive(&s),
            &enterprise_request(None, Some(SIM_ERASE_MASTER)),
            q,
        )
        .unwrap();
        assert_eq!(p.method, Method::TcgErase);
        // No Opal: no Revert offered; the drive's own crypto erase ranks first.
        let s = setup("crypto,block,enterprise");
        let p = prepare(
            &drive(&s),
            &enterprise_request(None, Some(SIM_ERASE_MASTER)),
            q,
        )
        .unwrap();
        assert_eq!(p.method, Method::NvmeSanitizeCrypto);
        assert_eq!(
            p.caps.supported,
            [
                Method::NvmeSanitizeCrypto,
                Method::TcgErase,
                Method::NvmeSanitizeBlock
            ]
        );
        // A locked band: the Erase is the way out (EraseMaster erases a locked band), and its
        // certificate is INCOMPLETE, as nothing could be written or read before.
        let s = setup("enterprise-locked");
        let d = drive(&s);
        let other = enterprise_request(Some(Method::NvmeSanitizeCrypto), None);
        let e = prepare(&drive(&setup("crypto,enterprise-locked")), &other, q)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("locked range") && e.contains("--method tcg-erase --erase-master-file"),
            "{e}"
        );
        let r = enterprise_request(Some(Method::TcgErase), Some(SIM_ERASE_MASTER));
        let p = prepare(&d, &r, q).unwrap();
        assert!(p.locked);
        let c = certify(&d, prepared_and_run(&s, &d, &r));
        assert_eq!(c.result, Verdict::Incomplete, "{:?}", c.reasons);
        assert!(
            c.reasons
                .iter()
                .any(|x| x.contains("was locked before the Erase")),
            "{:?}",
            c.reasons
        );
        assert!(!c.media.tcg_after.unwrap().locking.unwrap().locked);
    }

    #[test]
    fn an_unowned_enterprise_drive_is_erased_with_the_msid_it_reports_and_an_owned_one_refuses_it()
    {
        use crate::purge::sim_tcg::SIM_MSID;
        let q = &crate::progress::Quiet;
        let s = setup("enterprise-unowned");
        let d = drive(&s);
        let r = Request {
            erase_master_msid: true,
            ..enterprise_request(None, None)
        };
        let p = prepare(&d, &r, q).unwrap();
        assert_eq!(p.method, Method::TcgErase);
        assert!(
            p.warnings.iter().any(|w| w.contains("MSID")),
            "{:?}",
            p.warnings
        );
        // The dry run: the MSID read (3 ComPackets), then the Erase session (5).
        assert_eq!(p.bytes.len(), 8);
        assert!(p.bytes[1].fields().unwrap().ends_with("Get on C_PIN_MSID"));
        let c = certify(&d, prepared_and_run(&s, &d, &r));
        assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
        assert!(!serde_json::to_string(&c).unwrap().contains(SIM_MSID));
        // A drive whose owner set the password: the MSID is refused, and the message says to
        // give the password.
        let s = setup("enterprise");
        let d = drive(&s);
        let r = Request {
            method: Some(Method::TcgErase),
            ..r
        };
        let e = refused_run(&s, &d, &r);
        assert!(
            e.contains("did not accept its own MSID") && e.contains("--erase-master-file"),
            "{e}"
        );
    }
}
