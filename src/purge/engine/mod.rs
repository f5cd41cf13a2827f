//! The purge engine: what a drive can do (`probe`), the exact bytes a method sends
//! (`start_bytes`, for `--dry-run`), starting it, following the drive's own progress (`poll`),
//! and checking the result by reading sampled locations back (`Evidence`). Transport-neutral:
//! everything goes through [`Passthrough`], so tests drive a simulated drive.
//!
//! Two rules hold everywhere here. An ATA command succeeded only if [`ata_end`] says so (the
//! transport, the SCSI status, the sense key and the drive's own registers all agree). And a
//! status that cannot be read is "unknown", never "failed" nor "completed".
//!
//! One file per bus: `nvme.rs`, `ata.rs` (through SAT) and `scsi.rs` hold what each says and
//! hears; `tcg.rs` the TCG Opal Reverts, sent through the kernel's sed-opal whatever the bus;
//! `enterprise.rs` the TCG Enterprise Erase, in TCG sessions of mediasan's own over the bus;
//! this file holds the types every bus shares, the one mapping from a method to its command
//! (`Wire`), and a small dispatcher per operation.

mod ata;
mod enterprise;
mod nvme;
mod scsi;
mod tcg;
#[cfg(test)]
mod tests;

use std::io;

use super::method::{self, Medium, Method};
use crate::device as dev;
use crate::device::ata::AtaReturn;
use crate::device::passthrough::Passthrough;

pub use super::evidence::{AfterRule, Evidence, Found};

pub use self::ata::{
    ata_end, identify, password_recovery, security_erase_timeout_ms, unlock, AtaEnd, TEMP_PASSWORD,
};
use self::ata::{poll_ata, probe_ata, security_erase};
pub use self::enterprise::{tper, Tper};
pub use self::nvme::{active_namespaces, namespace};
use self::nvme::{exit_sanitize, persistent_events, poll_nvme, probe_nvme};
use self::scsi::{poll_scsi, probe_scsi};
use self::tcg::{add_tcg, discover_tcg, tcg_revert, ENOTSUPP};
pub use self::tcg::{sed_opal_status, tcg_state};

/// How the drive is attached, for purge purposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bus {
    Nvme,
    Ata,
    Scsi,
}

/// A drive's own time estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    pub seconds: u64,
    /// The field was at its largest value: the method takes at least this long.
    pub at_least: bool,
}

impl Estimate {
    /// "42 min" or "more than 508 min".
    pub fn describe(&self) -> String {
        format!(
            "{}{} min",
            if self.at_least { "more than " } else { "" },
            self.seconds.div_ceil(60)
        )
    }
}

/// Why some methods (or all) cannot be started now.
#[derive(Clone, Debug, PartialEq)]
pub struct Blocker {
    /// The methods it stops; empty: every method.
    pub methods: Vec<Method>,
    pub why: String,
}

impl Blocker {
    fn all(why: impl Into<String>) -> Blocker {
        Blocker {
            methods: vec![],
            why: why.into(),
        }
    }

    fn only(methods: &[Method], why: impl Into<String>) -> Blocker {
        Blocker {
            methods: methods.to_vec(),
            why: why.into(),
        }
    }

    /// Whether it stops `m`.
    pub fn blocks(&self, m: Method) -> bool {
        self.methods.is_empty() || self.methods.contains(&m)
    }
}

/// The drive is in sanitize failure mode (the last sanitize failed).
#[derive(Clone, Debug, PartialEq)]
pub struct FailureMode {
    /// Restricted (the failed sanitize had AUSE 0: only a new sanitize leaves it), unrestricted
    /// (EXIT FAILURE MODE may leave it too), or not reported.
    pub restricted: Option<bool>,
    pub detail: String,
}

const NVME_SANITIZE: [Method; 3] = [
    Method::NvmeSanitizeCrypto,
    Method::NvmeSanitizeBlock,
    Method::NvmeSanitizeOverwrite,
];
const NVME_FORMAT: [Method; 2] = [Method::NvmeFormatUserData, Method::NvmeFormatCrypto];
const ATA_SANITIZE: [Method; 3] = [
    Method::AtaSanitizeCrypto,
    Method::AtaSanitizeBlock,
    Method::AtaSanitizeOverwrite,
];
const ATA_SECURITY: [Method; 2] = [Method::AtaSecurityErase, Method::AtaSecurityEraseEnhanced];

/// What the drive reports before anything is started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Caps {
    pub model: String,
    pub serial: String,
    /// Methods the drive says it supports (Purge and Clear grade), strongest first.
    pub supported: Vec<Method>,
    /// What it stores data on (the grade of ATA enhanced erase), and how that was decided.
    pub medium: Medium,
    pub medium_why: String,
    /// Why methods cannot be started now (frozen, locked, a sanitize running...), per method.
    pub blockers: Vec<Blocker>,
    /// The drive's own estimate for each method.
    pub estimates: Vec<(Method, Estimate)>,
    /// NVMe: its estimate for each sanitize sent with No-Deallocate After Sanitize.
    pub estimates_nd: Vec<(Method, Estimate)>,
    /// The last sanitize failed; the drive stays in failure mode until a new sanitize succeeds
    /// (or, if it was unrestricted, it is exited).
    pub failure: Option<FailureMode>,
    /// NVMe: what Identify Controller said (for the scope of a command).
    pub controller: Option<dev::nvme::Controller>,
    /// ATA: IDENTIFY DEVICE as read before anything was sent.
    pub identify: Option<dev::ata::Identify>,
    /// SCSI: reads of blocks after a block erase / crypto erase may fail by design (VPD B1h).
    pub reads_fail_after_erase: (
        Option<crate::device::scsi::ReadAfterErase>,
        Option<crate::device::scsi::ReadAfterErase>,
    ),
    /// SCSI: READ CAPACITY(16) (the protection information FORMAT UNIT keeps).
    pub capacity: Option<dev::scsi::Capacity>,
    /// A self-encrypting drive's TCG Level 0 Discovery, where it answers one.
    pub tcg: Option<dev::tcg::Tcg>,
    /// What the kernel's sed-opal says of the drive (`IOC_OPAL_GET_STATUS`), where it serves it.
    pub sed_opal: Option<dev::tcg::OpalStatus>,
    /// The same in words, also where it does not serve it (its error), for refusals.
    pub sed_opal_says: String,
}

impl Caps {
    /// The first blocker of `m`, if any.
    pub fn blocker(&self, m: Method) -> Option<&Blocker> {
        self.blockers.iter().find(|b| b.blocks(m))
    }

    /// A self-encrypting drive's locking state, where it reports one.
    pub fn locking(&self) -> Option<dev::tcg::TcgLocking> {
        self.tcg.as_ref().and_then(|t| t.locking)
    }

    /// A range of a self-encrypting drive is locked now.
    pub fn locked(&self) -> bool {
        self.locking().is_some_and(|l| l.locked)
    }

    /// The drive's estimate for `m`.
    pub fn estimate(&self, m: Method) -> Option<Estimate> {
        self.estimates
            .iter()
            .find(|(x, _)| *x == m)
            .map(|(_, e)| *e)
    }

    /// The drive's estimate for `m` as it will be sent: with No-Deallocate After Sanitize
    /// (`nd`) the NVMe log's ND estimates, which can be far longer (the drive rewrites the
    /// media instead of deallocating it); an NVMe overwrite's for its `passes` (the log states
    /// ETO and ETOND for 16 passes).
    pub fn estimate_for(&self, m: Method, nd: bool, passes: u8) -> Option<Estimate> {
        let e = if nd {
            self.estimates_nd
                .iter()
                .find(|(x, _)| *x == m)
                .map(|(_, e)| *e)
        } else {
            self.estimate(m)
        }?;
        Some(if m == Method::NvmeSanitizeOverwrite {
            Estimate {
                seconds: (e.seconds * u64::from(passes.clamp(1, 16))).div_ceil(16),
                at_least: e.at_least,
            }
        } else {
            e
        })
    }
}

/// Options of a purge command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Overwrite: the 32-bit pattern and the number of passes (1..=16).
    pub pattern: u32,
    pub passes: u8,
    /// Allow an unrestricted exit from a failed sanitize.
    pub ause: bool,
    /// NVMe Sanitize: No-Deallocate After Sanitize (set where the drive allows it, so the
    /// media reads what the sanitize left rather than the deallocated value).
    pub no_deallocate: bool,
    /// NVMe namespace for Format NVM.
    pub nsid: u32,
    /// Format NVM: the namespace's format, which it must keep (read it with [`namespace`]);
    /// [`start`] refuses any other LBA format.
    pub format: dev::nvme::NsFormat,
    /// SCSI FORMAT UNIT: the protection information type to keep (0 none).
    pub scsi_pi_type: u8,
    /// The drive's size in bytes and its own estimate: the timeouts of blocking commands.
    pub capacity: u64,
    pub estimate: Option<Estimate>,
    /// TCG Enterprise: where its sessions go (the bus and the ComID of its discovery).
    pub tper: Option<Tper>,
    /// TCG Enterprise: authenticate as EraseMaster with the MSID the drive reports (a drive
    /// whose EraseMaster password was never set), where no password is given.
    pub erase_with_msid: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pattern: 0,
            passes: 1,
            ause: false,
            no_deallocate: false,
            nsid: 1,
            format: dev::nvme::NsFormat::default(),
            scsi_pi_type: 0,
            capacity: 0,
            estimate: None,
            tper: None,
            erase_with_msid: false,
        }
    }
}

/// What a method is on the wire, with its options applied: the one mapping from [`Method`]
/// that starting a method and showing its bytes (`--dry-run`) share.
enum Wire {
    NvmeSanitize(dev::nvme::Sanitize),
    /// Format NVM with this Secure Erase Settings value.
    NvmeFormat {
        ses: u8,
    },
    /// The ATA PASS-THROUGH(16) CDB of a SANITIZE.
    AtaSanitize([u8; 16]),
    AtaSecurityErase {
        enhanced: bool,
    },
    ScsiSanitize(dev::scsi::Command),
    ScsiFormatUnit,
    /// A TCG Revert through the kernel's sed-opal, with the PSID or the SID password.
    TcgRevert {
        psid: bool,
    },
    /// The TCG Enterprise Erase of every band, in mediasan's own session with the drive's TPer
    /// (`msid`: authenticated with the MSID the drive reports).
    TcgErase {
        tper: Option<Tper>,
        msid: bool,
    },
}

fn wire(m: Method, o: &Options) -> Wire {
    let nvme_sanitize = |action| {
        Wire::NvmeSanitize(dev::nvme::Sanitize {
            action,
            ause: o.ause,
            overwrite_passes: if action == dev::nvme::SanitizeAction::Overwrite {
                o.passes.clamp(1, 16) % 16
            } else {
                0
            },
            invert_between_passes: false,
            no_deallocate: o.no_deallocate,
            pattern: o.pattern,
        })
    };
    let scsi_sanitize = |action| {
        Wire::ScsiSanitize(dev::scsi::sanitize(
            action,
            o.ause,
            o.passes,
            false,
            &o.pattern.to_le_bytes(),
        ))
    };
    match m {
        Method::NvmeSanitizeCrypto => nvme_sanitize(dev::nvme::SanitizeAction::CryptoErase),
        Method::NvmeSanitizeBlock => nvme_sanitize(dev::nvme::SanitizeAction::BlockErase),
        Method::NvmeSanitizeOverwrite => nvme_sanitize(dev::nvme::SanitizeAction::Overwrite),
        Method::NvmeFormatUserData => Wire::NvmeFormat { ses: 1 },
        Method::NvmeFormatCrypto => Wire::NvmeFormat { ses: 2 },
        Method::AtaSanitizeCrypto => Wire::AtaSanitize(dev::ata::sanitize_crypto_scramble(o.ause)),
        Method::AtaSanitizeBlock => Wire::AtaSanitize(dev::ata::sanitize_block_erase(o.ause)),
        Method::AtaSanitizeOverwrite => Wire::AtaSanitize(dev::ata::sanitize_overwrite(
            o.pattern, o.passes, false, o.ause,
        )),
        Method::AtaSecurityErase => Wire::AtaSecurityErase { enhanced: false },
        Method::AtaSecurityEraseEnhanced => Wire::AtaSecurityErase { enhanced: true },
        Method::ScsiSanitizeCrypto => scsi_sanitize(dev::scsi::Action::CryptoErase),
        Method::ScsiSanitizeBlock => scsi_sanitize(dev::scsi::Action::BlockErase),
        Method::ScsiSanitizeOverwrite => scsi_sanitize(dev::scsi::Action::Overwrite),
        Method::ScsiFormatUnit => Wire::ScsiFormatUnit,
        Method::TcgRevert => Wire::TcgRevert { psid: false },
        Method::TcgPsidRevert => Wire::TcgRevert { psid: true },
        Method::TcgErase => Wire::TcgErase {
            tper: o.tper,
            msid: o.erase_with_msid,
        },
    }
}

/// What a block of bytes sent to a drive is, so its fields can be named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// A 72-byte NVMe admin command.
    Nvme,
    /// An ATA PASS-THROUGH(16) CDB.
    AtaCdb,
    /// A SCSI CDB.
    ScsiCdb,
    /// The start of an ATA SECURITY command's 512-byte data block.
    SecurityData,
    /// A SCSI SANITIZE overwrite parameter list.
    SanitizeParameters,
    /// A SCSI FORMAT UNIT parameter list header.
    FormatHeader,
    /// The `struct opal_key` of a kernel sed-opal request.
    OpalKey,
    /// A TCG ComPacket (IF-SEND), cut after its SubPacket.
    ComPacket,
}

/// One block a method sends: what it is for people (label, with its timeout), what it is
/// for decoding (part), and the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub label: String,
    pub part: Part,
    pub bytes: Vec<u8>,
}

impl Block {
    fn new(part: Part, label: impl Into<String>, bytes: &[u8]) -> Block {
        Block {
            label: label.into(),
            part,
            bytes: bytes.to_vec(),
        }
    }

    /// What its fields mean, for people checking a dry run.
    pub fn fields(&self) -> Option<String> {
        describe(self.part, &self.bytes)
    }
}

/// The fields of `b`, a block of kind `part`, named.
pub fn describe(part: Part, b: &[u8]) -> Option<String> {
    match part {
        Part::Nvme => dev::nvme::describe(b),
        Part::AtaCdb => dev::ata::describe(b),
        Part::ScsiCdb => dev::scsi::describe(b),
        Part::SecurityData => dev::ata::describe_security_data(b),
        Part::SanitizeParameters => dev::scsi::describe_overwrite(b),
        Part::FormatHeader => dev::scsi::describe_format_header(b),
        Part::OpalKey => dev::tcg::describe_opal_key(b),
        Part::ComPacket => dev::tcg_session::describe(b),
    }
}

/// "(timeout 62 min)" for a label.
fn timeout_label(ms: u32) -> String {
    let s = u64::from(ms) / 1000;
    if s >= 120 {
        format!("timeout {} min", s.div_ceil(60))
    } else {
        format!("timeout {s} s")
    }
}

/// Short commands' timeout.
const SHORT_MS: u32 = 30_000;

/// Everything that starts `m`, in order, labelled with what it is and its timeout: the
/// 72-byte NVMe command, or the CDBs with their data. ATA security erase is a sequence, and
/// the commands it sends only if the erase does not end cleanly are listed too.
pub fn start_bytes(m: Method, o: &Options) -> Vec<Block> {
    let nv = |c: dev::nvme::AdminCmd| {
        vec![Block::new(
            Part::Nvme,
            format!(
                "NVMe admin command (72 bytes, {})",
                if c.timeout_ms == 0 {
                    "the kernel's default timeout".to_string()
                } else {
                    timeout_label(c.timeout_ms)
                }
            ),
            &c.to_bytes(),
        )]
    };
    match wire(m, o) {
        Wire::NvmeSanitize(s) => nv(dev::nvme::sanitize(&s)),
        Wire::NvmeFormat { ses } => nv(dev::nvme::format_nvm(
            o.nsid,
            o.format,
            ses,
            dev::nvme::format_timeout_ms(o.capacity),
        )),
        Wire::AtaSanitize(cdb) => vec![Block::new(
            Part::AtaCdb,
            format!("ATA PASS-THROUGH(16) CDB ({})", timeout_label(SHORT_MS)),
            &cdb,
        )],
        Wire::AtaSecurityErase { enhanced } => ata::security_erase_bytes(enhanced, o),
        Wire::ScsiFormatUnit => scsi::format_unit_bytes(o),
        Wire::ScsiSanitize(c) => scsi::sanitize_bytes(&c),
        Wire::TcgRevert { psid } => tcg::revert_bytes(psid),
        Wire::TcgErase { tper, msid } => enterprise::erase_bytes(tper, msid),
    }
}

/// The bytes `--exit-failure-mode` sends before anything else (none on a drive that has no
/// such command).
pub fn exit_failure_mode_bytes(bus: Bus) -> Vec<Block> {
    vec![match bus {
        Bus::Nvme => Block::new(
            Part::Nvme,
            "exit failure mode: NVMe admin command (72 bytes)",
            &dev::nvme::sanitize(&exit_sanitize()).to_bytes(),
        ),
        Bus::Ata => Block::new(
            Part::AtaCdb,
            "exit failure mode: ATA PASS-THROUGH(16) CDB",
            &dev::ata::sanitize_status_clear_failure(),
        ),
        Bus::Scsi => Block::new(
            Part::ScsiCdb,
            "exit failure mode: SCSI SANITIZE CDB",
            &dev::scsi::sanitize(dev::scsi::Action::ExitFailureMode, false, 0, false, &[]).cdb,
        ),
    }]
}

/// Reads what the drive can do; `rotational` is the kernel's view of the device, when known
/// (a cross-check of what an ATA drive says about its medium). A self-encrypting drive's TCG
/// Level 0 Discovery is read with it, over the same bus.
///
/// # Errors
/// When the identify commands fail.
pub fn probe(d: &dyn Passthrough, bus: Bus, rotational: Option<bool>) -> io::Result<Caps> {
    let mut caps = match bus {
        Bus::Nvme => probe_nvme(d),
        Bus::Ata => probe_ata(d, rotational),
        Bus::Scsi => Ok(probe_scsi(d)),
    }?;
    caps.tcg = discover_tcg(d, bus);
    add_tcg(d, &mut caps);
    enterprise::add_enterprise(&mut caps, bus);
    Ok(caps)
}

/// Leaves sanitize failure mode: NVMe Sanitize with SANACT 1, ATA SANITIZE STATUS EXT with
/// CLEAR SANITIZE OPERATION FAILED, SCSI SANITIZE EXIT FAILURE MODE. Only a failed sanitize
/// that allowed it (AUSE / FAILURE MODE 1) can be left this way; otherwise the drive refuses
/// and a new sanitize is the way out.
///
/// # Errors
/// When the drive refuses.
pub fn exit_failure_mode(d: &dyn Passthrough, bus: Bus) -> io::Result<()> {
    match bus {
        Bus::Nvme => nvme::exit_failure_mode(d),
        Bus::Scsi => scsi::exit_failure_mode(d),
        Bus::Ata => ata::exit_failure_mode(d),
    }
}

/// Commands that run to the end before they return (Format NVM, ATA security erase): there is
/// no status to poll afterwards.
pub fn synchronous(m: Method) -> bool {
    matches!(
        m,
        Method::NvmeFormatUserData
            | Method::NvmeFormatCrypto
            | Method::AtaSecurityErase
            | Method::AtaSecurityEraseEnhanced
            | Method::TcgRevert
            | Method::TcgPsidRevert
            | Method::TcgErase
    )
}

/// Why starting a method did not work.
#[derive(Clone, Debug, PartialEq)]
pub enum StartError {
    /// Refused before anything that erases was accepted: the media is as it was.
    Refused(String),
    /// The erasing command was sent and did not end cleanly: the media may be partly erased.
    Failed(String),
    /// The transport failed after the command may have reached the drive (interrupted, a
    /// timeout, a reset, a host error): whether the drive started it is unknown, and it may be
    /// sanitizing now.
    Unknown(String),
}

impl StartError {
    /// How a transport error `e` of a starting command ends: the kernel refusing the request
    /// itself (no such ioctl, bad argument, no permission: nothing reached the drive) is a
    /// refusal; anything else happened after the command may have gone out.
    pub fn transport(what: &str, e: &io::Error) -> StartError {
        use nix::libc::{EACCES, EINVAL, ENOTTY, EOPNOTSUPP, EPERM};
        match e.raw_os_error() {
            Some(ENOTTY | EINVAL | EPERM | EACCES | EOPNOTSUPP | ENOTSUPP) => {
                StartError::Refused(format!("{what}: {e}"))
            }
            _ => StartError::Unknown(format!("{what}: {e}")),
        }
    }
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Refused(w) | StartError::Failed(w) | StartError::Unknown(w) => {
                f.write_str(w)
            }
        }
    }
}

/// The drive's sanitize state.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    /// Running, percent done.
    Running(f64),
    /// Completed, in the drive's words (what it reported with it).
    Completed(String),
    /// The drive says it failed.
    Failed(String),
    /// The drive reports no sanitize (never sanitized, or none since power-on).
    Idle(String),
    /// The status could not be read or decoded this time: not a failure, not a success.
    Unknown(String),
}

/// What the status of our own command must show (the NVMe log's last command, the overwrite
/// passes done).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Expect {
    /// The CDW10 of the Sanitize we sent.
    pub nvme_cdw10: Option<u32>,
    /// Overwrite passes.
    pub passes: Option<u8>,
}

impl Expect {
    /// What `m` sent with `o` must come back as.
    pub fn of(m: Method, o: &Options) -> Expect {
        match wire(m, o) {
            Wire::NvmeSanitize(s) => Expect {
                nvme_cdw10: Some(dev::nvme::sanitize(&s).cdw10),
                passes: (s.action == dev::nvme::SanitizeAction::Overwrite)
                    .then_some(o.passes.clamp(1, 16)),
            },
            _ => Expect::default(),
        }
    }
}

/// Starts `m`. Long-running sanitize commands return at once; the drive works on its own.
///
/// # Errors
/// [`StartError::Refused`] when the drive refuses the command (nothing erased);
/// [`StartError::Failed`] when a blocking command was accepted and did not end cleanly.
pub fn start(d: &dyn Passthrough, m: Method, o: &Options) -> Result<(), StartError> {
    start_keyed(d, m, o, None)
}

/// [`start`] with the credential a TCG method needs (the PSID or the SID password, which go
/// to the kernel and nowhere else; the EraseMaster password, which goes into the drive's own
/// TCG session and nowhere else).
///
/// # Errors
/// As [`start`]; a TCG method without its credential, or one the drive does not accept, is
/// refused.
pub fn start_keyed(
    d: &dyn Passthrough,
    m: Method,
    o: &Options,
    key: Option<&dev::tcg::Secret>,
) -> Result<(), StartError> {
    match wire(m, o) {
        Wire::NvmeSanitize(c) => nvme::start_sanitize(d, &c),
        Wire::NvmeFormat { ses } => nvme::start_format(d, ses, o),
        Wire::AtaSanitize(cdb) => ata::start_sanitize(d, &cdb),
        Wire::ScsiSanitize(c) => scsi::start_sanitize(d, c),
        Wire::ScsiFormatUnit => scsi::start_format(d, o),
        Wire::AtaSecurityErase { enhanced } => security_erase(d, enhanced, o),
        Wire::TcgRevert { psid } => tcg_revert(d, psid, key),
        Wire::TcgErase { tper, msid } => enterprise::tcg_erase(d, tper, key, msid).map(|_| ()),
    }
}

fn progress(v: u16) -> f64 {
    f64::from(v) * 100.0 / 65536.0
}

/// Asks the drive how its sanitize (or SCSI format) is going; `expect` ties a completion to
/// the command we sent.
pub fn poll(d: &dyn Passthrough, bus: Bus, expect: &Expect) -> State {
    match bus {
        Bus::Nvme => poll_nvme(d, expect),
        Bus::Ata => poll_ata(d),
        Bus::Scsi => poll_scsi(d),
    }
}

/// The drive's own record of the last sanitize, read once it ended: the NVMe Sanitize Status
/// log (81h), or the registers of ATA SANITIZE STATUS EXT. `None` where the drive keeps none
/// (SCSI) or it cannot be read.
pub fn drive_record(d: &dyn Passthrough, bus: Bus) -> Option<crate::cert::DriveRecord> {
    let mut fields = std::collections::BTreeMap::new();
    let (source, raw) = match bus {
        Bus::Nvme => nvme::sanitize_record(d, &mut fields)?,
        Bus::Ata => ata::sanitize_record(d, &mut fields)?,
        Bus::Scsi => return None,
    };
    let (events, events_blake3) = match bus {
        Bus::Nvme => persistent_events(d),
        _ => (vec![], String::new()),
    };
    Some(crate::cert::DriveRecord {
        source: source.into(),
        raw_blake3: blake3::hash(&raw).to_hex().to_string(),
        raw: crate::cert::hex(&raw),
        fields,
        events,
        events_blake3,
        events_earlier: 0,
    })
}

/// The Persistent Event Log's sanitize and format events now (NVMe; none elsewhere): read
/// before a command so that the certificate lists only the events that came after it.
pub fn pel_events(d: &dyn Passthrough, bus: Bus) -> Vec<String> {
    match bus {
        Bus::Nvme => persistent_events(d).0,
        _ => vec![],
    }
}

/// The events of `after` that were not in `before` (the log read before the command): this
/// run's, never a previous owner's. Each line carries the controller's timestamp, so an event
/// is the same event only if everything about it is.
pub fn events_since(after: &[String], before: &[String]) -> Vec<String> {
    let mut left: Vec<&String> = before.iter().collect();
    after
        .iter()
        .filter(|e| match left.iter().position(|b| b == e) {
            Some(i) => {
                left.remove(i);
                false
            }
            None => true,
        })
        .cloned()
        .collect()
}
