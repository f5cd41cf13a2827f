//! The purge engine: what a drive can do (`probe`), the exact bytes a method sends
//! (`start_bytes`, for `--dry-run`), starting it, following the drive's own progress (`poll`),
//! and checking the result by reading sampled locations back (`Evidence`). Transport-neutral:
//! everything goes through [`Passthrough`], so tests drive a simulated drive.
//!
//! Two rules hold everywhere here. An ATA command succeeded only if [`ata_end`] says so (the
//! transport, the SCSI status, the sense key and the drive's own registers all agree). And a
//! status that cannot be read is "unknown", never "failed" nor "completed".

use std::io;

use super::method::{self, Medium, Method};
use crate::device::ata::{self, AtaReturn};
use crate::device::passthrough::{DataDir, Passthrough};
use crate::device::{nvme, scsi};

pub use super::evidence::{AfterRule, Evidence, Found};

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
    pub controller: Option<nvme::Controller>,
    /// ATA: IDENTIFY DEVICE as read before anything was sent.
    pub identify: Option<ata::Identify>,
    /// SCSI: reads of blocks after a block erase / crypto erase may fail by design (VPD B1h).
    pub reads_fail_after_erase: (
        Option<crate::device::scsi::ReadAfterErase>,
        Option<crate::device::scsi::ReadAfterErase>,
    ),
    /// SCSI: READ CAPACITY(16) (the protection information FORMAT UNIT keeps).
    pub capacity: Option<scsi::Capacity>,
}

impl Caps {
    /// The first blocker of `m`, if any.
    pub fn blocker(&self, m: Method) -> Option<&Blocker> {
        self.blockers.iter().find(|b| b.blocks(m))
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
    pub format: nvme::NsFormat,
    /// SCSI FORMAT UNIT: the protection information type to keep (0 none).
    pub scsi_pi_type: u8,
    /// The drive's size in bytes and its own estimate: the timeouts of blocking commands.
    pub capacity: u64,
    pub estimate: Option<Estimate>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pattern: 0,
            passes: 1,
            ause: false,
            no_deallocate: false,
            nsid: 1,
            format: nvme::NsFormat::default(),
            scsi_pi_type: 0,
            capacity: 0,
            estimate: None,
        }
    }
}

/// The SG_IO timeout of ATA SECURITY ERASE UNIT, a command that returns only when the erase is
/// done: hdparm's rule, the larger of twice the drive's estimate plus an hour and the capacity
/// at 30 MB/s plus half an hour (an estimate at its largest value is only a lower bound, so
/// the capacity rule still applies). A kernel timeout resets the drive mid-erase.
pub fn security_erase_timeout_ms(estimate: Option<Estimate>, capacity: u64) -> u32 {
    let by_estimate = estimate.map_or(0, |e| e.seconds.saturating_mul(2) + 3600);
    let by_capacity = capacity / 30_000_000 + 1800;
    let secs = by_estimate.max(by_capacity);
    u32::try_from(secs.saturating_mul(1000)).unwrap_or(u32::MAX)
}

/// What a method is on the wire, with its options applied: the one mapping from [`Method`]
/// that starting a method and showing its bytes (`--dry-run`) share.
enum Wire {
    NvmeSanitize(nvme::Sanitize),
    /// Format NVM with this Secure Erase Settings value.
    NvmeFormat {
        ses: u8,
    },
    /// The ATA PASS-THROUGH(16) CDB of a SANITIZE.
    AtaSanitize([u8; 16]),
    AtaSecurityErase {
        enhanced: bool,
    },
    ScsiSanitize(scsi::Command),
    ScsiFormatUnit,
}

fn wire(m: Method, o: &Options) -> Wire {
    let nvme_sanitize = |action| {
        Wire::NvmeSanitize(nvme::Sanitize {
            action,
            ause: o.ause,
            overwrite_passes: if action == nvme::SanitizeAction::Overwrite {
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
        Wire::ScsiSanitize(scsi::sanitize(
            action,
            o.ause,
            o.passes,
            false,
            &o.pattern.to_le_bytes(),
        ))
    };
    match m {
        Method::NvmeSanitizeCrypto => nvme_sanitize(nvme::SanitizeAction::CryptoErase),
        Method::NvmeSanitizeBlock => nvme_sanitize(nvme::SanitizeAction::BlockErase),
        Method::NvmeSanitizeOverwrite => nvme_sanitize(nvme::SanitizeAction::Overwrite),
        Method::NvmeFormatUserData => Wire::NvmeFormat { ses: 1 },
        Method::NvmeFormatCrypto => Wire::NvmeFormat { ses: 2 },
        Method::AtaSanitizeCrypto => Wire::AtaSanitize(ata::sanitize_crypto_scramble(o.ause)),
        Method::AtaSanitizeBlock => Wire::AtaSanitize(ata::sanitize_block_erase(o.ause)),
        Method::AtaSanitizeOverwrite => {
            Wire::AtaSanitize(ata::sanitize_overwrite(o.pattern, o.passes, false, o.ause))
        }
        Method::AtaSecurityErase => Wire::AtaSecurityErase { enhanced: false },
        Method::AtaSecurityEraseEnhanced => Wire::AtaSecurityErase { enhanced: true },
        Method::ScsiSanitizeCrypto => scsi_sanitize(scsi::Action::CryptoErase),
        Method::ScsiSanitizeBlock => scsi_sanitize(scsi::Action::BlockErase),
        Method::ScsiSanitizeOverwrite => scsi_sanitize(scsi::Action::Overwrite),
        Method::ScsiFormatUnit => Wire::ScsiFormatUnit,
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
        Part::Nvme => nvme::describe(b),
        Part::AtaCdb => ata::describe(b),
        Part::ScsiCdb => scsi::describe(b),
        Part::SecurityData => ata::describe_security_data(b),
        Part::SanitizeParameters => scsi::describe_overwrite(b),
        Part::FormatHeader => scsi::describe_format_header(b),
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
    let nv = |c: nvme::AdminCmd| {
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
        Wire::NvmeSanitize(s) => nv(nvme::sanitize(&s)),
        Wire::NvmeFormat { ses } => nv(nvme::format_nvm(
            o.nsid,
            o.format,
            ses,
            nvme::format_timeout_ms(o.capacity),
        )),
        Wire::AtaSanitize(cdb) => vec![Block::new(
            Part::AtaCdb,
            format!("ATA PASS-THROUGH(16) CDB ({})", timeout_label(SHORT_MS)),
            &cdb,
        )],
        Wire::AtaSecurityErase { enhanced } => {
            let flags = if enhanced { ata::ENHANCED } else { 0 };
            let pw = ata::security_data(TEMP_PASSWORD, false, 0);
            let short = timeout_label(SHORT_MS);
            vec![
                Block::new(
                    Part::AtaCdb,
                    format!("SECURITY SET PASSWORD CDB ({short})"),
                    &ata::security_set_password(),
                ),
                Block::new(
                    Part::SecurityData,
                    "SECURITY SET PASSWORD data (first 34 bytes)",
                    &pw[..34],
                ),
                Block::new(
                    Part::AtaCdb,
                    format!("SECURITY ERASE PREPARE CDB ({short})"),
                    &ata::security_erase_prepare(),
                ),
                Block::new(
                    Part::AtaCdb,
                    format!(
                        "SECURITY ERASE UNIT CDB ({})",
                        timeout_label(security_erase_timeout_ms(o.estimate, o.capacity))
                    ),
                    &ata::security_erase_unit(),
                ),
                Block::new(
                    Part::SecurityData,
                    "SECURITY ERASE UNIT data (first 34 bytes)",
                    &ata::security_data(TEMP_PASSWORD, false, flags)[..34],
                ),
                Block::new(
                    Part::AtaCdb,
                    format!("then IDENTIFY DEVICE CDB, to check security is off ({short})"),
                    &ata::identify(),
                ),
                Block::new(
                    Part::AtaCdb,
                    format!("only if still locked: SECURITY UNLOCK CDB ({short})"),
                    &ata::security_unlock(),
                ),
                Block::new(
                    Part::AtaCdb,
                    format!(
                        "only if still enabled: SECURITY DISABLE PASSWORD CDB ({short}), with the SET PASSWORD data"
                    ),
                    &ata::security_disable_password(),
                ),
            ]
        }
        Wire::ScsiFormatUnit => {
            let (cdb, header) = scsi::format_unit(o.scsi_pi_type);
            vec![
                Block::new(
                    Part::ScsiCdb,
                    format!("SCSI FORMAT UNIT CDB ({})", timeout_label(60_000)),
                    &cdb,
                ),
                Block::new(Part::FormatHeader, "SCSI FORMAT UNIT header", &header),
            ]
        }
        Wire::ScsiSanitize(c) => {
            let mut v = vec![Block::new(
                Part::ScsiCdb,
                format!("SCSI SANITIZE CDB ({})", timeout_label(60_000)),
                &c.cdb,
            )];
            if !c.data_out.is_empty() {
                v.push(Block::new(
                    Part::SanitizeParameters,
                    "SANITIZE parameter list",
                    &c.data_out,
                ));
            }
            v
        }
    }
}

/// The bytes `--exit-failure-mode` sends before anything else (none on a drive that has no
/// such command).
pub fn exit_failure_mode_bytes(bus: Bus) -> Vec<Block> {
    vec![match bus {
        Bus::Nvme => Block::new(
            Part::Nvme,
            "exit failure mode: NVMe admin command (72 bytes)",
            &nvme::sanitize(&exit_sanitize()).to_bytes(),
        ),
        Bus::Ata => Block::new(
            Part::AtaCdb,
            "exit failure mode: ATA PASS-THROUGH(16) CDB",
            &ata::sanitize_status_clear_failure(),
        ),
        Bus::Scsi => Block::new(
            Part::ScsiCdb,
            "exit failure mode: SCSI SANITIZE CDB",
            &scsi::sanitize(scsi::Action::ExitFailureMode, false, 0, false, &[]).cdb,
        ),
    }]
}

fn exit_sanitize() -> nvme::Sanitize {
    nvme::Sanitize {
        action: nvme::SanitizeAction::ExitFailureMode,
        ause: false,
        overwrite_passes: 0,
        invert_between_passes: false,
        no_deallocate: false,
        pattern: 0,
    }
}

fn nvme_ok(what: &str, r: io::Result<(u16, u32)>) -> io::Result<u32> {
    match r? {
        (0, result) => Ok(result),
        (status, _) => Err(io::Error::other(format!(
            "{what}: NVMe status {status:#06x}"
        ))),
    }
}

/// How an ATA command through SAT ended.
#[derive(Clone, Debug, PartialEq)]
pub enum AtaEnd {
    /// It completed: the drive's returned registers, when it sent them.
    Done(Option<AtaReturn>),
    /// The drive reported an error or a fault, or the command was rejected: why, and the
    /// registers when there are some.
    Failed {
        why: String,
        regs: Option<AtaReturn>,
    },
    /// The drive was reset during the command: it did not run to its end.
    Reset(String),
}

fn regs_text(r: &AtaReturn) -> String {
    let mut flags = vec![];
    for (bit, name) in [(0x80, "BSY"), (0x20, "DF"), (0x08, "DRQ"), (0x01, "ERR")] {
        if r.status & bit != 0 {
            flags.push(name);
        }
    }
    format!(
        "ATA status {:#04x}{}, error {:#04x}{}",
        r.status,
        if flags.is_empty() {
            String::new()
        } else {
            format!(" ({})", flags.join(" "))
        },
        r.error,
        if r.error & 0x04 != 0 {
            " (ABRT: the drive refused it)"
        } else {
            ""
        }
    )
}

/// The one success predicate of every ATA command (start, poll, the security sequence): the
/// transport already failed what SG_IO's host and driver bytes reject; here the SCSI status,
/// the sense key and the drive's own registers must all agree. A register set with any of
/// BSY, DF, DRQ or ERR is a failure; status 50h with error 01h is the signature a drive
/// returns after a reset (the command did not run to its end); a UNIT ATTENTION for a
/// power-on or reset likewise.
pub fn ata_end(status: u8, sense: &[u8]) -> AtaEnd {
    let key = scsi::decode_sense(sense);
    // The registers: in a descriptor (09h) of descriptor-format sense, or in the INFORMATION
    // field of fixed format, which carries them when the kernel generated the sense for an
    // ATA command (ASC/ASCQ 00h/1Dh on success, an error's sense key otherwise).
    let descriptor = sense.first().is_some_and(|b| b & 0x7F >= 0x72);
    let regs = match key {
        Some((6, ..)) | None => None,
        Some((k, asc, ascq, _)) if descriptor || (asc, ascq) == (0, 0x1D) || k >= 2 => {
            ata::decode_return(sense).ok()
        }
        Some(_) => None,
    };
    match (status, key) {
        (0, None) => AtaEnd::Done(None),
        (_, Some((6, 0x29, q, _))) => AtaEnd::Reset(format!(
            "the drive reported a power-on or reset (UNIT ATTENTION 29h/{q:02x}h)"
        )),
        (0 | 2, Some((k, ..))) if k <= 1 => match regs {
            Some(r) if r.status == 0x50 && r.error == 0x01 => AtaEnd::Reset(
                "the drive returned the reset signature (status 50h, error 01h)".into(),
            ),
            Some(r) if r.status & (0x80 | 0x20 | 0x08 | 0x01) != 0 => AtaEnd::Failed {
                why: regs_text(&r),
                regs: Some(r),
            },
            Some(r) => AtaEnd::Done(Some(r)),
            None if status == 0 => AtaEnd::Done(None),
            None => AtaEnd::Failed {
                why: "CHECK CONDITION without the drive's registers".into(),
                regs: None,
            },
        },
        (_, Some((k, asc, ascq, _))) => AtaEnd::Failed {
            why: format!(
                "sense key {k:#x} ({}), ASC/ASCQ {asc:02x}h/{ascq:02x}h{}",
                scsi::key_name(k),
                regs.map(|r| format!("; {}", regs_text(&r)))
                    .unwrap_or_default()
            ),
            regs: regs.filter(|r| r.status != 0),
        },
        (s, None) => AtaEnd::Failed {
            why: format!("SCSI status {s:#04x}{}", scsi_status_name(s)),
            regs: None,
        },
    }
}

fn scsi_status_name(s: u8) -> &'static str {
    match s {
        0x02 => " (CHECK CONDITION without sense data)",
        0x08 => " (BUSY)",
        0x18 => " (RESERVATION CONFLICT)",
        0x28 => " (TASK SET FULL)",
        0x40 => " (TASK ABORTED)",
        _ => "",
    }
}

/// One ATA command: `Ok` only when [`ata_end`] says it completed.
fn ata_cmd(
    d: &dyn Passthrough,
    what: &str,
    cdb: &[u8; 16],
    data: Option<&[u8; 512]>,
    timeout_ms: u32,
) -> Result<Option<AtaReturn>, String> {
    let mut buf = data.copied();
    let r = match buf.as_mut() {
        Some(b) => d.scsi(cdb, DataDir::ToDevice, b, timeout_ms),
        None => d.scsi(cdb, DataDir::None, &mut [], timeout_ms),
    };
    match r {
        Err(e) => Err(format!("{what}: {e}")),
        Ok((status, sense)) => match ata_end(status, &sense) {
            AtaEnd::Done(r) => Ok(r),
            AtaEnd::Failed { why, .. } => Err(format!("{what}: {why}")),
            AtaEnd::Reset(why) => Err(format!("{what}: {why}; it did not run to its end")),
        },
    }
}

/// IDENTIFY DEVICE.
///
/// # Errors
/// When the drive does not answer it.
pub fn identify(d: &dyn Passthrough) -> io::Result<ata::Identify> {
    let mut data = [0u8; 512];
    let (status, sense) = d.scsi(&ata::identify(), DataDir::FromDevice, &mut data, SHORT_MS)?;
    match ata_end(status, &sense) {
        AtaEnd::Done(_) => Ok(ata::parse_identify(&data)),
        AtaEnd::Failed { why, .. } | AtaEnd::Reset(why) => {
            Err(io::Error::other(format!("IDENTIFY DEVICE failed: {why}")))
        }
    }
}

/// Reads what the drive can do; `rotational` is the kernel's view of the device, when known
/// (a cross-check of what an ATA drive says about its medium).
///
/// # Errors
/// When the identify commands fail.
pub fn probe(d: &dyn Passthrough, bus: Bus, rotational: Option<bool>) -> io::Result<Caps> {
    match bus {
        Bus::Nvme => probe_nvme(d),
        Bus::Ata => probe_ata(d, rotational),
        Bus::Scsi => Ok(probe_scsi(d)),
    }
}

fn probe_nvme(d: &dyn Passthrough) -> io::Result<Caps> {
    let mut id = [0u8; 4096];
    nvme_ok(
        "Identify Controller",
        d.nvme(&nvme::identify_controller(), &mut id),
    )?;
    let c = nvme::parse_controller(&id);
    let mut supported = method::nvme_purges(&c);
    if c.format {
        if c.format_crypto {
            supported.push(Method::NvmeFormatCrypto);
        }
        supported.push(Method::NvmeFormatUserData);
    }
    let mut caps = Caps {
        model: c.model.clone(),
        serial: c.serial.clone(),
        supported,
        medium: Medium::Flash,
        medium_why: "NVMe".into(),
        controller: Some(c.clone()),
        ..Caps::default()
    };
    if !(c.sanitize_crypto || c.sanitize_block || c.sanitize_overwrite) {
        return Ok(caps);
    }
    let mut log = [0u8; 512];
    match nvme_ok(
        "Sanitize Status log",
        d.nvme(&nvme::sanitize_log(), &mut log),
    ) {
        Err(e) => caps.blockers.push(Blocker::only(
            &NVME_SANITIZE,
            format!(
                "its Sanitize Status log cannot be read ({e}): a sanitize that cannot be followed is not started"
            ),
        )),
        Ok(_) => {
            let st = nvme::parse_sanitize_log(&log);
            if st.status == 3 {
                let restricted = match st.state {
                    2 => Some(true),
                    4 => Some(false),
                    _ => None,
                };
                caps.failure = Some(FailureMode {
                    restricted,
                    detail: format!(
                        "the last sanitize failed (SSTAT 3{})",
                        match restricted {
                            Some(true) => ", restricted: only a new sanitize leaves it",
                            Some(false) => ", unrestricted",
                            None => "",
                        }
                    ),
                });
                caps.blockers.push(Blocker::only(
                    &NVME_FORMAT,
                    "the drive is in sanitize failure mode, where Format NVM is refused: a new sanitize \
                     (nist-purge) is the way out",
                ));
            }
            if st.status == 2 {
                caps.blockers.push(Blocker::all(format!(
                    "a sanitize is in progress ({:.0} %)",
                    st.percent()
                )));
            }
            for (m, e, nd) in [
                (Method::NvmeSanitizeOverwrite, st.est_overwrite, st.est_overwrite_nd),
                (Method::NvmeSanitizeBlock, st.est_block, st.est_block_nd),
                (Method::NvmeSanitizeCrypto, st.est_crypto, st.est_crypto_nd),
            ] {
                let known = |e: u32| {
                    (e != 0 && e != u32::MAX).then_some(Estimate {
                        seconds: u64::from(e),
                        at_least: false,
                    })
                };
                caps.estimates.extend(known(e).map(|x| (m, x)));
                caps.estimates_nd.extend(known(nd).map(|x| (m, x)));
            }
        }
    }
    Ok(caps)
}

/// The reason byte of a failed ATA sanitize (LBA 7:0 of SANITIZE STATUS EXT's error output).
fn ata_sanitize_reason(r: &AtaReturn) -> String {
    let code = (r.lba & 0xFF) as u8;
    format!(
        "reason {code:#04x}: {}",
        match code {
            0x00 => "not reported",
            0x01 => "the sanitize was unsuccessful",
            0x02 => "an invalid or unsupported value in the SANITIZE FEATURE field",
            0x03 => "the drive is in the sanitize frozen state",
            0x04 => "SANITIZE FREEZE LOCK failed (sanitize antifreeze lock)",
            _ => "reserved",
        }
    )
}

fn probe_ata(d: &dyn Passthrough, rotational: Option<bool>) -> io::Result<Caps> {
    let id = identify(d)?;
    let (medium, medium_why) = method::ata_medium(id.rotation_rate, id.trim, rotational);
    let supported = method::ata_methods(&id);
    let mut blockers = Vec::new();
    if id.security_locked {
        blockers.push(Blocker::all(format!(
            "the drive is locked with an ATA security password. If a security erase by mediasan was \
             interrupted, it is mediasan's temporary password \"{}\": `mediasan purge DEVICE --unlock` \
             removes it; otherwise the owner's password is needed",
            String::from_utf8_lossy(TEMP_PASSWORD)
        )));
    }
    if id.security_count_expired {
        blockers.push(Blocker::only(
            &ATA_SECURITY,
            "the drive counted five wrong passwords and accepts none until it is power-cycled",
        ));
    }
    if id.security_frozen {
        blockers.push(Blocker::only(
            &ATA_SECURITY,
            "the drive's security is frozen (by the BIOS): suspend and resume the machine (e.g. \
             rtcwake -m mem -s 5) or hot-plug the drive, then try again; SANITIZE is not affected by this freeze",
        ));
    }
    let mut failure = None;
    if id.sanitize {
        match d.scsi(&ata::sanitize_status(), DataDir::None, &mut [], SHORT_MS) {
            Err(e) => blockers.push(Blocker::only(
                &ATA_SANITIZE,
                format!("its SANITIZE STATUS cannot be read ({e}): a sanitize that cannot be followed is not started"),
            )),
            Ok((status, sense)) => match ata_end(status, &sense) {
                AtaEnd::Done(Some(r)) if r.count_complete => {
                    if r.count & 0x2000 != 0 {
                        blockers.push(Blocker::only(
                            &ATA_SANITIZE,
                            "SANITIZE is frozen (a SANITIZE FREEZE LOCK since power-on, often by the BIOS): \
                             power-cycle the drive",
                        ));
                    }
                    if r.count & 0x4000 != 0 {
                        blockers.push(Blocker::all(format!(
                            "a sanitize is in progress ({:.0} %)",
                            f64::from((r.lba & 0xFFFF) as u16) * 100.0 / 65536.0
                        )));
                    }
                }
                AtaEnd::Done(_) => {}
                AtaEnd::Failed { regs: Some(r), .. } if r.status & 0x01 != 0 => {
                    failure = Some(FailureMode {
                        restricted: None,
                        detail: format!(
                            "the last sanitize failed ({})",
                            ata_sanitize_reason(&r)
                        ),
                    });
                    blockers.push(Blocker::only(
                        &ATA_SECURITY,
                        "the drive is in sanitize failure mode: a new sanitize (nist-purge) is the way out",
                    ));
                }
                AtaEnd::Failed { why, .. } | AtaEnd::Reset(why) => blockers.push(Blocker::only(
                    &ATA_SANITIZE,
                    format!("its SANITIZE STATUS cannot be read ({why}): a sanitize that cannot be followed is not started"),
                )),
            },
        }
    }
    let estimates = [
        (
            Method::AtaSecurityErase,
            id.erase_minutes,
            id.erase_at_least,
        ),
        (
            Method::AtaSecurityEraseEnhanced,
            id.enhanced_erase_minutes,
            id.enhanced_erase_at_least,
        ),
    ]
    .into_iter()
    .filter(|(_, min, _)| *min > 0)
    .map(|(m, min, at_least)| {
        (
            m,
            Estimate {
                seconds: u64::from(min) * 60,
                at_least,
            },
        )
    })
    .collect();
    Ok(Caps {
        model: id.model.clone(),
        serial: id.serial.clone(),
        supported,
        medium,
        medium_why,
        blockers,
        estimates,
        failure,
        identify: Some(id),
        ..Caps::default()
    })
}

/// REQUEST SENSE, decoded: (key, ASC, ASCQ, progress), or why it could not be read.
fn request_sense(d: &dyn Passthrough) -> Result<(u8, u8, u8, Option<u16>), String> {
    let mut data = [0u8; 252];
    match d.scsi(
        &scsi::request_sense(),
        DataDir::FromDevice,
        &mut data,
        SHORT_MS,
    ) {
        Err(e) => Err(format!("REQUEST SENSE failed: {e}")),
        Ok((0, _)) => scsi::decode_sense(&data)
            .ok_or_else(|| "REQUEST SENSE returned no sense data".to_string()),
        // Its answer as a CHECK CONDITION: "format in progress" from a busy device, or
        // "invalid opcode" from one without REQUEST SENSE.
        Ok((2, sense)) if scsi::decode_sense(&sense).is_some() => {
            scsi::decode_sense(&sense).ok_or_else(String::new)
        }
        Ok((s, _)) => Err(format!("REQUEST SENSE was rejected (SCSI status {s:#04x})")),
    }
}

fn probe_scsi(d: &dyn Passthrough) -> Caps {
    // Asked with REPORT SUPPORTED OPERATION CODES; a drive that cannot answer lists nothing
    // (unknown is not "supported"): an explicit --method then lets the drive's own answer to
    // SANITIZE decide.
    let mut caps = Caps::default();
    for (sa, m) in [
        (scsi::Action::CryptoErase, Method::ScsiSanitizeCrypto),
        (scsi::Action::BlockErase, Method::ScsiSanitizeBlock),
        (scsi::Action::Overwrite, Method::ScsiSanitizeOverwrite),
    ] {
        let mut data = [0u8; 32];
        if let Ok((0, _)) = d.scsi(
            &scsi::report_supported(sa),
            DataDir::FromDevice,
            &mut data,
            SHORT_MS,
        ) {
            if scsi::supported(&data) {
                caps.supported.push(m);
            }
        }
    }
    let mut b1 = [0u8; 64];
    if let Ok((0, _)) = d.scsi(&scsi::inquiry_b1(), DataDir::FromDevice, &mut b1, SHORT_MS) {
        caps.reads_fail_after_erase = scsi::reads_may_fail_after(&b1);
        let rate = u16::from_be_bytes([b1[4], b1[5]]);
        caps.medium = match rate {
            1 => Medium::Flash,
            0x0401..=0xFFFE => Medium::Magnetic,
            _ => Medium::Unknown,
        };
        caps.medium_why = format!("VPD B1h MEDIUM ROTATION RATE {rate:#06x}");
    }
    let mut rc = [0u8; 32];
    if let Ok((0, _)) = d.scsi(
        &scsi::read_capacity16(),
        DataDir::FromDevice,
        &mut rc,
        SHORT_MS,
    ) {
        caps.capacity = scsi::parse_capacity16(&rc);
    }
    match request_sense(d) {
        Ok((3, 0x31, 0x03, _)) => {
            caps.failure = Some(FailureMode {
                restricted: None,
                detail: "the last sanitize failed (SANITIZE COMMAND FAILED, 03h/31h/03h)".into(),
            });
            caps.blockers.push(Blocker::only(
                &[Method::ScsiFormatUnit],
                "the drive is in sanitize failure mode: a new sanitize (nist-purge) is the way out",
            ));
        }
        Ok((2, 0x04, 0x1B, p)) => caps.blockers.push(Blocker::all(format!(
            "a sanitize is in progress ({:.0} %)",
            p.map_or(0.0, |p| f64::from(p) * 100.0 / 65536.0)
        ))),
        Ok((2, 0x04, 0x04, _)) => caps
            .blockers
            .push(Blocker::all("a FORMAT UNIT is in progress")),
        _ => {}
    }
    caps
}

/// What Identify Namespace says of `nsid` (its format, whether it is shared, what its
/// deallocated blocks read as).
///
/// # Errors
/// When Identify Namespace fails.
pub fn namespace(d: &dyn Passthrough, nsid: u32) -> io::Result<nvme::Namespace> {
    let mut ns = [0u8; 4096];
    nvme_ok(
        "Identify Namespace",
        d.nvme(&nvme::identify_namespace(nsid), &mut ns),
    )?;
    Ok(nvme::parse_namespace(&ns))
}

/// The namespaces active on the controller (Identify, CNS 2).
///
/// # Errors
/// When the controller does not answer.
pub fn active_namespaces(d: &dyn Passthrough) -> io::Result<Vec<u32>> {
    let mut list = [0u8; 4096];
    nvme_ok(
        "Identify Active Namespace ID list",
        d.nvme(&nvme::identify_active_namespaces(), &mut list),
    )?;
    Ok(nvme::parse_namespace_list(&list))
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
        Bus::Nvme => {
            nvme_ok(
                "Sanitize (exit failure mode)",
                d.nvme(&nvme::sanitize(&exit_sanitize()), &mut []),
            )?;
            Ok(())
        }
        Bus::Scsi => {
            let mut c = scsi::sanitize(scsi::Action::ExitFailureMode, false, 0, false, &[]);
            match d.scsi(&c.cdb, DataDir::None, &mut c.data_out, 60_000)? {
                (0, _) => Ok(()),
                (s, _) => Err(io::Error::other(format!(
                    "the drive refused EXIT FAILURE MODE (status {s:#04x}); a new sanitize is the way out"
                ))),
            }
        }
        Bus::Ata => ata_cmd(
            d,
            "SANITIZE STATUS EXT (clear sanitize operation failed)",
            &ata::sanitize_status_clear_failure(),
            None,
            SHORT_MS,
        )
        .map(|_| ())
        .map_err(|e| io::Error::other(format!("{e}; a new sanitize is the way out"))),
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
            Some(ENOTTY | EINVAL | EPERM | EACCES | EOPNOTSUPP) => {
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
                nvme_cdw10: Some(nvme::sanitize(&s).cdw10),
                passes: (s.action == nvme::SanitizeAction::Overwrite)
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
    let refused = |e: String| StartError::Refused(e);
    match wire(m, o) {
        Wire::NvmeSanitize(s) => match d.nvme(&nvme::sanitize(&s), &mut []) {
            Ok((0, _)) => Ok(()),
            // The drive's own status: it did not start.
            Ok((status, _)) => Err(refused(format!("Sanitize: NVMe status {status:#06x}"))),
            Err(e) => Err(StartError::transport("Sanitize", &e)),
        },
        Wire::NvmeFormat { ses } => {
            // Another format would change the block size or the protection under the user's feet.
            let now = namespace(d, o.nsid)
                .map_err(|e| refused(e.to_string()))?
                .format;
            if now.lbaf != o.format.lbaf {
                return Err(refused(format!(
                    "namespace {} uses LBA format {}, not {}; nothing was sent",
                    o.nsid, now.lbaf, o.format.lbaf
                )));
            }
            if now != o.format {
                return Err(refused(format!(
                    "namespace {} is formatted as {now:?}, not {:?}; nothing was sent",
                    o.nsid, o.format
                )));
            }
            let cmd = nvme::format_nvm(o.nsid, o.format, ses, nvme::format_timeout_ms(o.capacity));
            match d.nvme(&cmd, &mut []) {
                Ok((0, _)) => Ok(()),
                // The command was accepted by the kernel; only the drive's status tells whether
                // it started: a status here is a refusal, a transport error (timeout, reset) is not.
                Ok((status, _)) => Err(refused(format!("Format NVM: NVMe status {status:#06x}"))),
                Err(e) => Err(StartError::Failed(format!(
                    "Format NVM did not complete ({e}); the namespace may be partly formatted: do not \
                     use it until a new purge has succeeded"
                ))),
            }
        }
        Wire::AtaSanitize(cdb) => match d.scsi(&cdb, DataDir::None, &mut [], SHORT_MS) {
            Err(e) => Err(StartError::transport("SANITIZE", &e)),
            Ok((status, sense)) => match ata_end(status, &sense) {
                AtaEnd::Done(_) => Ok(()),
                // The drive's error registers (ABRT): it did not start.
                AtaEnd::Failed { why, .. } => Err(refused(format!("SANITIZE: {why}"))),
                AtaEnd::Reset(why) => Err(StartError::Unknown(format!(
                    "SANITIZE: {why}, so whether it started is unknown"
                ))),
            },
        },
        Wire::ScsiSanitize(mut c) => {
            let dir = if c.data_out.is_empty() {
                DataDir::None
            } else {
                DataDir::ToDevice
            };
            scsi_started("SANITIZE", d.scsi(&c.cdb, dir, &mut c.data_out, 60_000))
        }
        Wire::ScsiFormatUnit => {
            let (cdb, header) = scsi::format_unit(o.scsi_pi_type);
            let mut data = header;
            scsi_started(
                "FORMAT UNIT",
                d.scsi(&cdb, DataDir::ToDevice, &mut data, 60_000),
            )
        }
        Wire::AtaSecurityErase { enhanced } => security_erase(d, enhanced, o),
    }
}

/// How a SCSI SANITIZE or FORMAT UNIT answered: GOOD (started; with IMMED it runs on), a
/// refusal (nothing erased), or an end that leaves the media partly erased — a MEDIUM or
/// HARDWARE ERROR (a device that ignores IMMED and fails mid-way, as tcmu-runner does when
/// its backing store fills up), or a timeout after the command went out.
fn scsi_started(name: &str, answer: io::Result<(u8, Vec<u8>)>) -> Result<(), StartError> {
    let (status, sense) = match answer {
        Ok(a) => a,
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            return Err(StartError::Failed(format!(
                "{name} did not complete ({e}); the media may be partly erased: do not use it until a new \
                 purge has succeeded"
            )))
        }
        Err(e) => return Err(StartError::transport(name, &e)),
    };
    match (status, scsi::decode_sense(&sense)) {
        (0, _) => Ok(()),
        (_, Some((k @ (3 | 4), ..))) => Err(StartError::Failed(format!(
            "{name} ended with a {} ({}); the media may be partly erased",
            scsi::key_name(k),
            scsi_why(status, &sense)
        ))),
        _ => Err(StartError::Refused(format!(
            "{name}: {}",
            scsi_why(status, &sense)
        ))),
    }
}

fn scsi_why(status: u8, sense: &[u8]) -> String {
    scsi::decode_sense(sense)
        .map(|(k, asc, ascq, _)| {
            let note = if k == 5 {
                " (ILLEGAL REQUEST: not supported)"
            } else {
                ""
            };
            format!("sense key {k:#x}, ASC/ASCQ {asc:#04x}/{ascq:#04x}{note}")
        })
        .unwrap_or_else(|| format!("SCSI status {status:#04x}"))
}

/// The temporary password of an ATA security erase (the drive clears it when the erase ends).
pub const TEMP_PASSWORD: &[u8] = b"mediasan";

/// The one line that tells an operator how to get a drive out of our password.
pub fn password_recovery() -> String {
    format!(
        "the drive may be left with ATA security enabled and mediasan's temporary user password \"{pw}\": \
         run `mediasan purge DEVICE --unlock` (or `hdparm --user-master u --security-disable {pw} DEVICE`) \
         before powering it off, or it will be locked at the next power-on",
        pw = String::from_utf8_lossy(TEMP_PASSWORD)
    )
}

/// IDENTIFY again after a security command, a few times (a drive reset by a timeout needs a
/// moment): whether security is still enabled and whether it is locked.
fn security_state(d: &dyn Passthrough) -> Result<(bool, bool), String> {
    let mut last = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
        match identify(d) {
            Ok(id) => return Ok((id.security_enabled, id.security_locked)),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// Removes mediasan's temporary password: UNLOCK if locked, DISABLE PASSWORD, and IDENTIFY
/// again. `Ok` once security is off.
fn remove_password(d: &dyn Passthrough) -> Result<(), String> {
    let pw = ata::security_data(TEMP_PASSWORD, false, 0);
    let (enabled, locked) = security_state(d)?;
    if !enabled && !locked {
        return Ok(());
    }
    if locked {
        ata_cmd(
            d,
            "SECURITY UNLOCK",
            &ata::security_unlock(),
            Some(&pw),
            SHORT_MS,
        )?;
    }
    ata_cmd(
        d,
        "SECURITY DISABLE PASSWORD",
        &ata::security_disable_password(),
        Some(&pw),
        SHORT_MS,
    )?;
    match security_state(d)? {
        (false, false) => Ok(()),
        (e, l) => Err(format!(
            "after DISABLE PASSWORD the drive still reports security {}{}",
            if e { "enabled" } else { "disabled" },
            if l { " and locked" } else { "" }
        )),
    }
}

/// `mediasan purge --unlock`: takes mediasan's temporary password off a drive an interrupted
/// security erase left behind. Returns what was done.
///
/// # Errors
/// When the drive does not take the password (it is someone else's) or cannot be read.
pub fn unlock(d: &dyn Passthrough) -> Result<String, String> {
    let id = identify(d).map_err(|e| e.to_string())?;
    if !id.security_enabled && !id.security_locked {
        return Ok("ATA security is not enabled: there is no password to remove".into());
    }
    if id.security_count_expired {
        return Err(
            "the drive counted five wrong passwords and accepts none until it is power-cycled"
                .into(),
        );
    }
    remove_password(d).map_err(|e| {
        format!(
            "mediasan's temporary password did not unlock it ({e}): the password is not mediasan's; \
             the owner's user or master password is needed"
        )
    })?;
    Ok("mediasan's temporary password was removed: ATA security is disabled".into())
}

/// SECURITY SET PASSWORD (user, temporary), ERASE PREPARE, ERASE UNIT (normal or enhanced; a
/// blocking command with a timeout sized from the drive's estimate and capacity), then
/// IDENTIFY again: the erase counts only if the drive then reports security neither enabled
/// nor locked. If anything after the password was set did not end cleanly, the password is
/// removed (UNLOCK, DISABLE PASSWORD) and checked again; if it cannot be, the error says how
/// to recover the drive.
fn security_erase(d: &dyn Passthrough, enhanced: bool, o: &Options) -> Result<(), StartError> {
    let pw = ata::security_data(TEMP_PASSWORD, false, 0);
    ata_cmd(
        d,
        "SECURITY SET PASSWORD",
        &ata::security_set_password(),
        Some(&pw),
        SHORT_MS,
    )
    .map_err(StartError::Refused)?;
    // From here the password is set: every way out goes through the check below.
    let prepare = ata_cmd(
        d,
        "SECURITY ERASE PREPARE",
        &ata::security_erase_prepare(),
        None,
        SHORT_MS,
    );
    let erase = prepare.clone().and_then(|_| {
        let flags = if enhanced { ata::ENHANCED } else { 0 };
        ata_cmd(
            d,
            "SECURITY ERASE UNIT",
            &ata::security_erase_unit(),
            Some(&ata::security_data(TEMP_PASSWORD, false, flags)),
            security_erase_timeout_ms(o.estimate, o.capacity),
        )
    });
    let clean = match security_state(d) {
        Ok((false, false)) => Ok(()),
        Ok(_) | Err(_) => remove_password(d),
    };
    match (prepare, erase, clean) {
        (_, Ok(_), Ok(())) => Ok(()),
        (_, Ok(_), Err(c)) => Err(StartError::Failed(format!(
            "the erase reported success, but security did not end disabled ({c}); {}",
            password_recovery()
        ))),
        (Err(p), _, Ok(())) => Err(StartError::Refused(format!(
            "{p}; the temporary password was removed again"
        ))),
        (Err(p), _, Err(c)) => Err(StartError::Refused(format!(
            "{p}; removing the temporary password failed too ({c}); {}",
            password_recovery()
        ))),
        (Ok(_), Err(e), Ok(())) => Err(StartError::Failed(format!(
            "{e}; the media may be partly erased; the temporary password was removed again"
        ))),
        (Ok(_), Err(e), Err(c)) => Err(StartError::Failed(format!(
            "{e}; the media may be partly erased; removing the temporary password failed ({c}); {}",
            password_recovery()
        ))),
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

fn poll_nvme(d: &dyn Passthrough, expect: &Expect) -> State {
    let mut log = [0u8; 512];
    if let Err(e) = nvme_ok(
        "Sanitize Status log",
        d.nvme(&nvme::sanitize_log(), &mut log),
    ) {
        return State::Unknown(e.to_string());
    }
    let st = nvme::parse_sanitize_log(&log);
    match st.status {
        2 => State::Running(st.percent()),
        1 | 4 => {
            if let Some(sent) = expect.nvme_cdw10 {
                // SANACT, AUSE, OWPASS, OIPBP, NDAS: bits 9:0.
                if st.last_cdw10 & 0x3FF != sent & 0x3FF {
                    return State::Failed(format!(
                        "the drive's log reports the completion of another sanitize (CDW10 {:#x}; mediasan sent {sent:#x})",
                        st.last_cdw10
                    ));
                }
            }
            if let Some(p) = expect.passes {
                if st.passes_done != p {
                    return State::Failed(format!(
                        "the drive reports {} overwrite passes completed, {p} were asked",
                        st.passes_done
                    ));
                }
            }
            let mut words = format!(
                "completed (SSTAT {}{}); Global Data Erased {}",
                st.status,
                if st.status == 4 {
                    ": the drive deallocated all user data although No-Deallocate was asked"
                } else {
                    ""
                },
                if st.global_data_erased { "1" } else { "0" }
            );
            if expect.passes.is_some() {
                words += &format!("; {} overwrite passes", st.passes_done);
            }
            State::Completed(words)
        }
        3 => State::Failed(format!(
            "the drive reports the sanitize failed (SSTAT 3{})",
            match st.state {
                2 => ", restricted failure",
                4 => ", unrestricted failure",
                _ => "",
            }
        )),
        0 => State::Idle("the drive reports no sanitize ever completed (SSTAT 0)".into()),
        s => State::Unknown(format!("reserved SSTAT {s}")),
    }
}

/// The drive's own record of the last sanitize, read once it ended: the NVMe Sanitize Status
/// log (81h), or the registers of ATA SANITIZE STATUS EXT. `None` where the drive keeps none
/// (SCSI) or it cannot be read.
pub fn drive_record(d: &dyn Passthrough, bus: Bus) -> Option<crate::cert::DriveRecord> {
    let mut fields = std::collections::BTreeMap::new();
    let (source, raw) = match bus {
        Bus::Nvme => {
            let mut log = [0u8; 512];
            nvme_ok(
                "Sanitize Status log",
                d.nvme(&nvme::sanitize_log(), &mut log),
            )
            .ok()?;
            let st = nvme::parse_sanitize_log(&log);
            let est = |v: u32| {
                if v == u32::MAX {
                    "none".to_string()
                } else {
                    format!("{v} s")
                }
            };
            for (k, v) in [
                ("SPROG", format!("{} / 65536", st.progress)),
                ("SSTAT status", st.status.to_string()),
                ("SSTAT overwrite passes", st.passes_done.to_string()),
                (
                    "SSTAT global data erased",
                    u8::from(st.global_data_erased).to_string(),
                ),
                ("SCDW10", format!("{:#010x}", st.last_cdw10)),
                ("estimate overwrite", est(st.est_overwrite)),
                ("estimate block erase", est(st.est_block)),
                ("estimate crypto erase", est(st.est_crypto)),
                ("sanitize state", st.state.to_string()),
            ] {
                fields.insert(k.to_string(), v);
            }
            ("NVMe Sanitize Status log (81h)", log.to_vec())
        }
        Bus::Ata => {
            let (status, sense) = sanitize_status_whole(d).ok()?;
            let (AtaEnd::Done(Some(r)) | AtaEnd::Failed { regs: Some(r), .. }) =
                ata_end(status, &sense)
            else {
                return None;
            };
            fields.insert("COUNT".into(), format!("{:#06x}", r.count));
            fields.insert("LBA".into(), format!("{:#x}", r.lba));
            fields.insert("STATUS".into(), format!("{:#04x}", r.status));
            fields.insert("ERROR".into(), format!("{:#04x}", r.error));
            fields.insert(
                "completed without error".into(),
                u8::from(r.count & 0x8000 != 0).to_string(),
            );
            ("ATA SANITIZE STATUS EXT", sense)
        }
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

/// The Persistent Event Log's sanitize and format events, where the controller keeps one:
/// the header (establishing the reporting context), the log up to 64 KiB, the context
/// released.
fn persistent_events(d: &dyn Passthrough) -> (Vec<String>, String) {
    let mut head = [0u8; 512];
    if !matches!(
        d.nvme(&nvme::persistent_event_log(1, 512), &mut head),
        Ok((0, _))
    ) {
        return (vec![], String::new());
    }
    let total = u64::from_le_bytes(head[8..16].try_into().unwrap_or([0; 8]));
    let len = u32::try_from(total.clamp(512, 64 << 10)).unwrap_or(512) / 4 * 4;
    let mut log = vec![0u8; len as usize];
    let read = matches!(
        d.nvme(&nvme::persistent_event_log(0, len), &mut log),
        Ok((0, _))
    );
    let _ = d.nvme(&nvme::persistent_event_log(2, 512), &mut [0u8; 512]);
    if !read {
        return (vec![], String::new());
    }
    (
        nvme::pel_sanitize_events(&log),
        blake3::hash(&log).to_hex().to_string(),
    )
}

/// SANITIZE STATUS EXT, with its whole return registers: where the kernel answers in
/// fixed-format sense (libata does by default), which carries only COUNT 7:0 and hides the
/// flags of COUNT 15:8, the command is asked again with the kernel's descriptor-format sense
/// switched on for it (the Control mode page's D_SENSE, the one bit libata lets a MODE SELECT
/// change, put back as it was right after). `Err` when the flags cannot be had.
fn sanitize_status_whole(d: &dyn Passthrough) -> Result<(u8, Vec<u8>), String> {
    let first = d
        .scsi(&ata::sanitize_status(), DataDir::None, &mut [], SHORT_MS)
        .map_err(|e| format!("SANITIZE STATUS EXT: {e}"))?;
    match ata_end(first.0, &first.1) {
        AtaEnd::Done(Some(r)) | AtaEnd::Failed { regs: Some(r), .. } if !r.count_complete => {}
        _ => return Ok(first),
    }
    let mut answer = vec![0u8; 0xFC];
    let page = match d.scsi(
        &scsi::mode_sense_control(),
        DataDir::FromDevice,
        &mut answer,
        SHORT_MS,
    ) {
        Ok((0, _)) => scsi::control_page(&answer)
            .ok_or("MODE SENSE returned no Control mode page".to_string())?,
        Ok((s, _)) => {
            return Err(format!(
                "MODE SENSE of the Control mode page was rejected (status {s:#04x})"
            ))
        }
        Err(e) => return Err(format!("MODE SENSE of the Control mode page failed: {e}")),
    };
    let select = |on: bool| -> Result<(), String> {
        let (cdb, mut list) = scsi::mode_select_d_sense(&page, on);
        match d.scsi(&cdb, DataDir::ToDevice, &mut list, SHORT_MS) {
            Ok((0, _)) => Ok(()),
            Ok((s, _)) => Err(format!(
                "MODE SELECT of D_SENSE was rejected (status {s:#04x})"
            )),
            Err(e) => Err(format!("MODE SELECT of D_SENSE failed: {e}")),
        }
    };
    let was_on = page.get(2).is_some_and(|b| b & 0x04 != 0);
    if was_on {
        return Err("the kernel answers in fixed-format sense although D_SENSE is set".into());
    }
    select(true)?;
    let again = d
        .scsi(&ata::sanitize_status(), DataDir::None, &mut [], SHORT_MS)
        .map_err(|e| format!("SANITIZE STATUS EXT: {e}"));
    // Put back as it was, whatever the answer.
    let restored = select(false);
    let again = again?;
    if let Err(e) = restored {
        return Err(format!(
            "{e} (descriptor-format sense stays on for this disk until reboot)"
        ));
    }
    Ok(again)
}

fn poll_ata(d: &dyn Passthrough) -> State {
    let (status, sense) = match sanitize_status_whole(d) {
        Ok(r) => r,
        // The flags cannot be had: never inferred from what libata's REQUEST SENSE says (a
        // constant NO SENSE, whatever the drive is doing); only a positive "in progress" from a
        // translator that knows it counts.
        Err(why) => {
            return match request_sense(d) {
                Ok((2, 0x04, 0x1B, p)) => State::Running(progress(p.unwrap_or(0))),
                _ => State::Unknown(format!(
                    "the SANITIZE STATUS flags cannot be read ({why}); the drive's state is unknown"
                )),
            }
        }
    };
    match ata_end(status, &sense) {
        AtaEnd::Done(Some(r)) if r.count_complete => {
            // COUNT bit 15: completed without error; bit 14: in progress; LBA 15:0: progress.
            if r.count & 0x4000 != 0 {
                State::Running(progress((r.lba & 0xFFFF) as u16))
            } else if r.count & 0x8000 != 0 {
                State::Completed("completed without error (SANITIZE STATUS EXT)".into())
            } else {
                State::Idle("the drive reports no sanitize completed since power-on".into())
            }
        }
        AtaEnd::Done(Some(_)) => {
            State::Unknown("SANITIZE STATUS EXT came back without the flags of COUNT 15:8".into())
        }
        AtaEnd::Done(None) => State::Unknown("SANITIZE STATUS EXT returned no registers".into()),
        AtaEnd::Failed { regs: Some(r), .. } if r.status & 0x01 != 0 && r.error & 0x04 != 0 => {
            State::Failed(format!(
                "the drive reports the sanitize failed ({})",
                ata_sanitize_reason(&r)
            ))
        }
        AtaEnd::Failed { why, .. } => State::Unknown(format!("SANITIZE STATUS EXT: {why}")),
        AtaEnd::Reset(why) => State::Unknown(format!("SANITIZE STATUS EXT: {why}")),
    }
}

/// SCSI progress: REQUEST SENSE, whose answer may also come as the sense of a CHECK CONDITION
/// (a device busy formatting answers every command "format in progress"); a device without
/// REQUEST SENSE (tcmu-runner) is asked with TEST UNIT READY, as sg_format does.
fn poll_scsi(d: &dyn Passthrough) -> State {
    let first = match request_sense(d) {
        Ok((5, 0x20, 0x00, _)) => {
            "REQUEST SENSE is not supported (ILLEGAL REQUEST, 20h/00h)".into()
        }
        Ok(sense) => return scsi_state(sense, "REQUEST SENSE"),
        Err(e) => e,
    };
    let mut none = [0u8; 0];
    match d.scsi(&scsi::test_unit_ready(), DataDir::None, &mut none, SHORT_MS) {
        Ok((0, _)) => State::Completed(format!(
            "the drive is ready and reports no operation in progress (TEST UNIT READY: {first})"
        )),
        Ok((2, sense)) => match scsi::decode_sense(&sense) {
            Some(s) => scsi_state(s, "TEST UNIT READY"),
            None => State::Unknown(format!(
                "{first}; TEST UNIT READY gave CHECK CONDITION without sense"
            )),
        },
        Ok((st, _)) => State::Unknown(format!("{first}; TEST UNIT READY: SCSI status {st:#04x}")),
        Err(e) => State::Unknown(format!("{first}; TEST UNIT READY failed: {e}")),
    }
}

/// What decoded sense (key, ASC, ASCQ, progress) says of a sanitize or format.
fn scsi_state((k, a, q, p): (u8, u8, u8, Option<u16>), from: &str) -> State {
    match (k, a, q, p) {
        (2, 0x04, 0x1B | 0x04, p) => State::Running(progress(p.unwrap_or(0))),
        // NO SENSE with a progress indication: still working.
        (0, _, _, Some(p)) => State::Running(progress(p)),
        (0, 0, 0, None) => {
            State::Completed("the drive reports no operation in progress and no error".into())
        }
        (3, 0x31, 0x03, _) => State::Failed(
            "the drive reports the sanitize failed (SANITIZE COMMAND FAILED, 03h/31h/03h)".into(),
        ),
        (3, 0x31, q, _) => State::Failed(format!(
            "the drive reports the format failed (MEDIUM FORMAT CORRUPTED / FORMAT COMMAND FAILED, 03h/31h/{q:02x}h)"
        )),
        (k, a, q, _) => State::Unknown(format!(
            "{from} says {k:#x} ({})/{a:02x}h/{q:02x}h",
            scsi::key_name(k)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(h: &str) -> Vec<u8> {
        h.split_whitespace()
            .map(|x| u8::from_str_radix(x, 16).unwrap())
            .collect()
    }

    #[test]
    fn dry_run_fields_read_the_reference_tools_bytes() {
        // hdparm --sanitize-overwrite hex:11223344, --sanitize-block-erase (ioctlcap).
        let ow = describe(
            Part::AtaCdb,
            &hex("85 07 20 00 14 00 00 11 44 57 33 4f 22 40 b4 00"),
        )
        .unwrap();
        assert!(
            ow.contains(
                "SANITIZE OVERWRITE EXT, passes 16, INVERT 0, FAILURE MODE 0, pattern 0x11223344"
            ),
            "{ow}"
        );
        let be = describe(
            Part::AtaCdb,
            &hex("85 07 20 00 12 00 00 42 72 00 45 00 6b 40 b4 00"),
        )
        .unwrap();
        assert!(
            be.contains("SANITIZE BLOCK ERASE EXT") && be.contains("command 0xb4"),
            "{be}"
        );
        let eu = describe(
            Part::AtaCdb,
            &hex("85 0a 06 00 00 00 01 00 00 00 00 00 00 40 f4 00"),
        )
        .unwrap();
        assert!(
            eu.contains("SECURITY ERASE UNIT") && eu.contains("PIO data-out"),
            "{eu}"
        );
        // sg_sanitize --crypto, --overwrite (ioctlcap).
        let sc = describe(Part::ScsiCdb, &hex("48 83 00 00 00 00 00 00 00 00")).unwrap();
        assert!(
            sc.contains("service action 0x03 (cryptographic erase), IMMED 1, AUSE 0"),
            "{sc}"
        );
        let pl = describe(Part::SanitizeParameters, &hex("01 00 00 04 00 00 00 00")).unwrap();
        assert_eq!(pl, "INVERT 0, passes 1, pattern length 4, pattern 00000000");
        // nvme sanitize -a 3 -p 2 ... -o 0x5a5a5a5a (ioctlcap raw72: CDW10 0x123, CDW11).
        let mut raw = vec![0u8; 72];
        raw[0] = 0x84;
        raw[40..44].copy_from_slice(&0x0000_0123u32.to_le_bytes());
        raw[44..48].copy_from_slice(&0x5a5a_5a5au32.to_le_bytes());
        let nv = describe(Part::Nvme, &raw).unwrap();
        assert!(nv.contains("SANACT 3 (overwrite), AUSE 0, OWPASS 2, OIPBP 1, NDAS 0; CDW11 overwrite pattern 0x5a5a5a5a"), "{nv}");
        let data = ata::security_data(b"mediasan", false, ata::ENHANCED);
        let sd = describe(Part::SecurityData, &data[..34]).unwrap();
        assert_eq!(
            sd,
            "word 0 0x0002 = user password, ENHANCED erase; password \"mediasan\""
        );
    }

    #[test]
    fn every_block_of_every_method_has_its_fields_named() {
        for m in Method::ALL {
            for b in start_bytes(m, &Options::default()) {
                assert!(b.fields().is_some(), "{}: {}", m.name(), b.label);
            }
        }
    }

    /// Answers every SCSI command with GOOD and the given sense / data.
    struct Answer {
        sense: Vec<u8>,
        data: Vec<u8>,
        status: u8,
    }

    impl Passthrough for Answer {
        fn nvme(&self, _: &nvme::AdminCmd, _: &mut [u8]) -> io::Result<(u16, u32)> {
            Err(io::Error::other("not NVMe"))
        }
        fn scsi(&self, _: &[u8], _: DataDir, data: &mut [u8], _: u32) -> io::Result<(u8, Vec<u8>)> {
            let n = self.data.len().min(data.len());
            data[..n].copy_from_slice(&self.data[..n]);
            Ok((self.status, self.sense.clone()))
        }
    }

    /// An ATA Status Return descriptor in descriptor sense, with COUNT and LBA.
    fn ata_sense(count: u16, lba: u16) -> Vec<u8> {
        let [ch, cl] = count.to_be_bytes();
        let [lh, ll] = lba.to_be_bytes();
        vec![
            0x72, 0x01, 0x00, 0x1d, 0, 0, 0, 14, 0x09, 0x0c, 0x01, 0x00, ch, cl, 0, ll, 0, lh, 0,
            0, 0x40, 0x50,
        ]
    }

    #[test]
    fn ata_sanitize_status_is_decoded() {
        let running = Answer {
            sense: ata_sense(0x4000, 0x8000),
            data: vec![],
            status: 2,
        };
        assert_eq!(
            poll(&running, Bus::Ata, &Expect::default()),
            State::Running(50.0)
        );
        let done = Answer {
            sense: ata_sense(0x8000, 0),
            data: vec![],
            status: 2,
        };
        assert!(matches!(
            poll(&done, Bus::Ata, &Expect::default()),
            State::Completed(_)
        ));
        // Neither flag: no sanitize since power-on. It used to read as "failed".
        let idle = Answer {
            sense: ata_sense(0x0000, 0),
            data: vec![],
            status: 2,
        };
        assert!(matches!(
            poll(&idle, Bus::Ata, &Expect::default()),
            State::Idle(_)
        ));
    }

    #[test]
    fn scsi_progress_comes_from_request_sense() {
        // NOT READY, 04/1B "sanitize in progress", progress 0x4000 of 65536.
        let fixed = vec![
            0x70, 0, 0x02, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x04, 0x1b, 0, 0x80, 0x40, 0x00,
        ];
        let running = Answer {
            sense: vec![],
            data: fixed,
            status: 0,
        };
        assert_eq!(
            poll(&running, Bus::Scsi, &Expect::default()),
            State::Running(25.0)
        );
        let clean = Answer {
            sense: vec![],
            data: vec![0x70, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0],
            status: 0,
        };
        assert!(matches!(
            poll(&clean, Bus::Scsi, &Expect::default()),
            State::Completed(_)
        ));
        // A SANITIZE the drive refuses with ILLEGAL REQUEST is a clear error naming it.
        let refuse = Answer {
            sense: vec![0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x20, 0x00],
            data: vec![],
            status: 2,
        };
        let e = start(&refuse, Method::ScsiSanitizeBlock, &Options::default()).unwrap_err();
        assert!(e.to_string().contains("ILLEGAL REQUEST"), "{e}");
    }

    /// tcmu-runner 1.5.4's answers (emulated-drives.md §3.1, from a real run): no REQUEST
    /// SENSE (invalid opcode) when idle; while formatting, every command but INQUIRY gets
    /// CHECK CONDITION NOT READY 04h/04h with the progress.
    struct Tcmu {
        formatting: bool,
    }

    impl Passthrough for Tcmu {
        fn nvme(&self, _: &nvme::AdminCmd, _: &mut [u8]) -> io::Result<(u16, u32)> {
            Err(io::Error::other("not NVMe"))
        }
        fn scsi(&self, cdb: &[u8], _: DataDir, _: &mut [u8], _: u32) -> io::Result<(u8, Vec<u8>)> {
            let busy = hex("70 00 02 00 00 00 00 0a 00 00 00 00 04 04 00 80 61 00");
            let invalid = hex("70 00 05 00 00 00 00 0a 00 00 00 00 20 00 00 00 00 00");
            Ok(match (self.formatting, cdb[0]) {
                (true, _) => (2, busy),
                (false, 0x03) => (2, invalid),
                (false, _) => (0, vec![]),
            })
        }
    }

    #[test]
    fn a_device_without_request_sense_is_followed_with_test_unit_ready() {
        let State::Running(x) = poll(&Tcmu { formatting: true }, Bus::Scsi, &Expect::default())
        else {
            panic!("a format in progress")
        };
        assert!((x - 37.89).abs() < 0.01, "{x}");
        assert!(matches!(
            poll(&Tcmu { formatting: false }, Bus::Scsi, &Expect::default()),
            State::Completed(w) if w.contains("TEST UNIT READY")
        ));
    }

    #[test]
    fn the_drives_own_record_is_kept_raw_and_decoded() {
        let d = hdd(|c| {
            c.sanitize = true;
            c.trim = true;
        });
        start(&d, Method::AtaSanitizeBlock, &Options::default()).unwrap();
        for _ in 0..100 {
            if !matches!(poll(&d, Bus::Ata, &Expect::default()), State::Running(_)) {
                break;
            }
        }
        let r = drive_record(&d, Bus::Ata).expect("SANITIZE STATUS EXT");
        assert_eq!(r.source, "ATA SANITIZE STATUS EXT");
        assert_eq!(r.fields["completed without error"], "1", "{r:?}");
        let raw = crate::cert::unhex(&r.raw).unwrap();
        assert_eq!(r.raw_blake3, blake3::hash(&raw).to_hex().to_string());
        assert!(drive_record(&d, Bus::Scsi).is_none(), "SCSI keeps none");
    }

    #[test]
    fn a_format_that_fails_mid_way_is_a_failure_not_a_refusal() {
        // tcmu-runner when its backing store fills up: FORMAT UNIT ends in CHECK CONDITION,
        // MEDIUM ERROR, after erasing part of the LUN.
        let medium = Answer {
            sense: hex("70 00 03 00 00 00 00 0a 00 00 00 00 0c 00 00 00 00 00"),
            data: vec![],
            status: 2,
        };
        let e = start(&medium, Method::ScsiFormatUnit, &Options::default()).unwrap_err();
        assert!(
            matches!(&e, StartError::Failed(w) if w.contains("partly erased")),
            "{e}"
        );
        let illegal = Answer {
            sense: hex("70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 00 00 00"),
            data: vec![],
            status: 2,
        };
        assert!(matches!(
            start(&illegal, Method::ScsiFormatUnit, &Options::default()),
            Err(StartError::Refused(_))
        ));
    }

    use super::super::sim_ata::{AtaConfig, EraseEnd, SimAta};

    fn hdd(f: impl Fn(&mut AtaConfig)) -> SimAta {
        let mut c = AtaConfig {
            rotation_rate: 7200,
            security: true,
            enhanced: true,
            polls: 2,
            ..AtaConfig::default()
        };
        f(&mut c);
        SimAta::new(1 << 20, c)
    }

    fn opts() -> Options {
        Options {
            capacity: 20_000_000_000_000,
            estimate: Some(Estimate {
                seconds: 600 * 60,
                at_least: false,
            }),
            ..Options::default()
        }
    }

    #[test]
    fn security_erase_timeout_is_sized_from_the_drive_not_fixed() {
        // 20 TB at 30 MB/s + 30 min = 669,466 s; twice a 10 h estimate + 1 h = 75,600 s.
        let t = security_erase_timeout_ms(opts().estimate, opts().capacity);
        assert_eq!(t, (20_000_000_000_000u64 / 30_000_000 + 1800) as u32 * 1000);
        assert!(t > 12 * 3600 * 1000, "more than the old fixed 12 h");
        // A small drive with a long estimate: the estimate rules.
        let e = Some(Estimate {
            seconds: 500 * 60,
            at_least: true,
        });
        assert_eq!(
            security_erase_timeout_ms(e, 1 << 30),
            (2 * 30_000 + 3600) * 1000
        );
        // What was sent is what the dry run shows.
        let d = hdd(|_| {});
        start(&d, Method::AtaSecurityEraseEnhanced, &opts()).unwrap();
        let sent = d.sent.lock().unwrap().clone();
        let erase = sent.iter().find(|c| c.0 == 0xF4).unwrap();
        assert_eq!(erase.2, t);
        let shown = start_bytes(Method::AtaSecurityEraseEnhanced, &opts());
        assert!(
            shown.iter().any(|b| b
                .label
                .starts_with("SECURITY ERASE UNIT CDB (timeout 11142 min)")),
            "{shown:?}"
        );
    }

    #[test]
    fn security_erase_checks_security_is_off_afterwards() {
        let d = hdd(|_| {});
        start(&d, Method::AtaSecurityEraseEnhanced, &opts()).unwrap();
        assert_eq!(
            d.commands(),
            vec![0xF1, 0xF3, 0xF4, 0xEC],
            "set, prepare, erase, check"
        );
        assert_eq!(d.security(), (false, false));
        // A drive that erases but keeps the password: the password is removed, and since it
        // reported success only after that, the erase still fails to be clean? No: the
        // password is removed and the erase counts.
        let keeps = hdd(|c| c.erase = EraseEnd::KeepsPassword);
        start(&keeps, Method::AtaSecurityErase, &opts()).unwrap();
        assert_eq!(keeps.security(), (false, false));
        assert!(
            keeps.commands().ends_with(&[0xF4, 0xEC, 0xEC, 0xF6, 0xEC]),
            "{:?}",
            keeps.commands()
        );
    }

    #[test]
    fn a_reset_mid_erase_is_a_failure_and_the_password_is_removed() {
        // The reset signature (status 50h, error 01h, no ERR bit) used to count as success,
        // and the clean-up was skipped: the drive was left locked with our password.
        let d = hdd(|c| c.erase = EraseEnd::Reset);
        let e = start(&d, Method::AtaSecurityEraseEnhanced, &opts()).unwrap_err();
        assert!(matches!(e, StartError::Failed(_)), "{e:?}");
        assert!(e.to_string().contains("reset signature"), "{e}");
        assert!(e.to_string().contains("partly erased"), "{e}");
        assert_eq!(d.security(), (false, false), "unlocked and disabled again");
        assert!(
            d.commands().ends_with(&[0xEC, 0xF2, 0xF6, 0xEC]),
            "{:?}",
            d.commands()
        );
        // A timeout the kernel reports only in driver_status (the transport's error).
        let t = hdd(|c| c.erase = EraseEnd::Timeout);
        let e = start(&t, Method::AtaSecurityErase, &opts()).unwrap_err();
        assert!(
            matches!(e, StartError::Failed(_)) && e.to_string().contains("timed out"),
            "{e}"
        );
        assert_eq!(t.security(), (false, false));
    }

    /// A drive whose DISABLE PASSWORD is refused: the error names the recovery.
    struct Stubborn(SimAta);

    impl Passthrough for Stubborn {
        fn nvme(&self, c: &nvme::AdminCmd, d: &mut [u8]) -> io::Result<(u16, u32)> {
            self.0.nvme(c, d)
        }
        fn scsi(
            &self,
            cdb: &[u8],
            dir: DataDir,
            d: &mut [u8],
            t: u32,
        ) -> io::Result<(u8, Vec<u8>)> {
            if cdb[14] == 0xF6 {
                return Ok((
                    2,
                    vec![0x70, 0, 0x0B, 0x04, 0x51, 0, 0, 10, 0, 0, 0, 0, 0, 0],
                ));
            }
            self.0.scsi(cdb, dir, d, t)
        }
    }

    #[test]
    fn a_password_that_cannot_be_removed_is_said_with_the_recovery() {
        let d = Stubborn(hdd(|c| c.erase = EraseEnd::Reset));
        let e = start(&d, Method::AtaSecurityErase, &opts())
            .unwrap_err()
            .to_string();
        assert!(e.contains("mediasan purge DEVICE --unlock"), "{e}");
        assert!(e.contains("\"mediasan\""), "{e}");
        let refused = hdd(|c| c.frozen = true);
        let e = start(&refused, Method::AtaSecurityErase, &opts()).unwrap_err();
        assert!(matches!(e, StartError::Refused(_)), "{e:?}");
        assert_eq!(
            refused.commands(),
            vec![0xF1],
            "nothing else when the password was never set"
        );
    }

    #[test]
    fn ata_success_needs_every_layer_to_agree() {
        let regs = |status: u8, error: u8| {
            vec![
                0x72, 0x01, 0x00, 0x1d, 0, 0, 0, 14, 0x09, 0x0c, 0, error, 0, 1, 0, 1, 0, 0, 0, 0,
                0x40, status,
            ]
        };
        // hdparm's capture of a good SECURITY ERASE PREPARE: RECOVERED 00/1D, status 50h.
        assert!(matches!(ata_end(2, &regs(0x50, 0)), AtaEnd::Done(Some(_))));
        assert!(matches!(ata_end(0, &[]), AtaEnd::Done(None)));
        assert!(
            matches!(ata_end(2, &regs(0x50, 0x01)), AtaEnd::Reset(_)),
            "reset signature"
        );
        assert!(
            matches!(ata_end(2, &regs(0x70, 0)), AtaEnd::Failed { .. }),
            "DF without ERR"
        );
        assert!(
            matches!(ata_end(2, &regs(0xD0, 0)), AtaEnd::Failed { .. }),
            "BSY"
        );
        assert!(
            matches!(ata_end(2, &regs(0x58, 0)), AtaEnd::Failed { .. }),
            "DRQ"
        );
        assert!(
            matches!(ata_end(2, &regs(0x51, 0x04)), AtaEnd::Failed { .. }),
            "ERR/ABRT"
        );
        // libata's fixed format for an aborted command: ABORTED COMMAND, registers in INFORMATION.
        let fixed = [
            0x70, 0, 0x0B, 0x04, 0x51, 0x40, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert!(matches!(
            ata_end(2, &fixed),
            AtaEnd::Failed { regs: Some(_), .. }
        ));
        // A unit attention for a reset, and a CHECK CONDITION with nothing usable.
        let ua = [0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29, 0x00];
        assert!(matches!(ata_end(2, &ua), AtaEnd::Reset(_)));
        assert!(matches!(ata_end(2, &[]), AtaEnd::Failed { .. }));
        assert!(matches!(ata_end(0x08, &[]), AtaEnd::Failed { .. }), "BUSY");
    }

    #[test]
    fn locked_frozen_and_owner_passwords_are_said_before_anything_is_sent() {
        let locked = hdd(|c| {
            c.owner_password = Some(b"mediasan".to_vec());
            c.locked = true;
        });
        let caps = probe(&locked, Bus::Ata, None).unwrap();
        let b = caps.blocker(Method::AtaSecurityErase).unwrap();
        assert!(
            b.why.contains("--unlock") && b.why.contains("\"mediasan\""),
            "{}",
            b.why
        );
        assert_eq!(
            unlock(&locked).unwrap(),
            "mediasan's temporary password was removed: ATA security is disabled"
        );
        assert_eq!(locked.security(), (false, false));
        let theirs = hdd(|c| {
            c.owner_password = Some(b"owner".to_vec());
            c.locked = true;
        });
        assert!(unlock(&theirs).unwrap_err().contains("not mediasan's"));
        let expired = hdd(|c| c.count_expired = true);
        let caps = probe(&expired, Bus::Ata, None).unwrap();
        assert!(caps
            .blocker(Method::AtaSecurityErase)
            .unwrap()
            .why
            .contains("power-cycled"));
        let owner = hdd(|c| c.owner_password = Some(b"owner".to_vec()));
        let caps = probe(&owner, Bus::Ata, None).unwrap();
        assert!(caps.identify.unwrap().security_enabled);
        // Saturated estimates are lower bounds.
        let long = hdd(|c| c.erase_time_words = (0x00FF, 0xFFFF));
        let caps = probe(&long, Bus::Ata, None).unwrap();
        let e = caps.estimate(Method::AtaSecurityEraseEnhanced).unwrap();
        assert!(e.at_least && e.describe() == "more than 65532 min", "{e:?}");
        assert_eq!(
            caps.estimate(Method::AtaSecurityErase)
                .map(|e| e.describe()),
            Some("more than 508 min".to_string())
        );
    }

    #[test]
    fn a_security_freeze_blocks_security_erase_only() {
        // Most servers freeze security at boot; SANITIZE has its own freeze lock.
        let d = hdd(|c| {
            c.frozen = true;
            c.sanitize = true;
            c.rotation_rate = 1;
        });
        let caps = probe(&d, Bus::Ata, None).unwrap();
        assert!(caps.blocker(Method::AtaSecurityErase).is_some());
        assert!(caps.blocker(Method::AtaSanitizeCrypto).is_none());
        let frozen = hdd(|c| {
            c.sanitize = true;
            c.sanitize_frozen = true;
        });
        let caps = probe(&frozen, Bus::Ata, None).unwrap();
        assert!(caps
            .blocker(Method::AtaSanitizeBlock)
            .unwrap()
            .why
            .contains("SANITIZE is frozen"));
        assert!(caps.blocker(Method::AtaSecurityErase).is_none());
    }

    #[test]
    fn ata_failure_mode_is_found_and_left_with_the_clear_bit() {
        let d = hdd(|c| {
            c.sanitize = true;
            c.sanitize_failed = true;
            c.failed_with_ause = true;
        });
        let caps = probe(&d, Bus::Ata, None).unwrap();
        let f = caps.failure.clone().unwrap();
        assert!(f.detail.contains("reason 0x01"), "{f:?}");
        assert!(
            caps.blocker(Method::AtaSanitizeBlock).is_none(),
            "a new sanitize is the way out"
        );
        assert!(caps.blocker(Method::AtaSecurityErase).is_some());
        exit_failure_mode(&d, Bus::Ata).unwrap();
        assert!(probe(&d, Bus::Ata, None).unwrap().failure.is_none());
        let restricted = hdd(|c| {
            c.sanitize = true;
            c.sanitize_failed = true;
        });
        let e = exit_failure_mode(&restricted, Bus::Ata)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a new sanitize is the way out"), "{e}");
        // The bytes --exit-failure-mode sends are shown (SANITIZE STATUS EXT, COUNT bit 0).
        let b = &exit_failure_mode_bytes(Bus::Ata)[0];
        assert!(b
            .fields()
            .unwrap()
            .contains("CLEAR SANITIZE OPERATION FAILED"));
    }

    #[test]
    fn polling_keeps_unknown_apart_from_failed() {
        // Behind libata: fixed-format sense hides COUNT 15:8 and REQUEST SENSE says NO SENSE
        // whatever the drive does. The status is asked again with descriptor-format sense
        // (D_SENSE set for it, put back right after): running, then completed, from the
        // drive's own bits, never inferred.
        let d = hdd(|c| {
            c.sanitize = true;
            c.fixed_sense = true;
            c.polls = 3;
            c.glitches = 1;
        });
        start(&d, Method::AtaSanitizeBlock, &opts()).unwrap();
        assert!(
            matches!(poll(&d, Bus::Ata, &Expect::default()), State::Unknown(w) if w.contains("UNIT ATTENTION"))
        );
        assert!(matches!(
            poll(&d, Bus::Ata, &Expect::default()),
            State::Running(_)
        ));
        assert!(!d.d_sense(), "D_SENSE put back as it was");
        let mut end = State::Unknown(String::new());
        for _ in 0..5 {
            end = poll(&d, Bus::Ata, &Expect::default());
            if !matches!(end, State::Running(_)) {
                break;
            }
        }
        assert!(
            matches!(&end, State::Completed(w) if w.contains("SANITIZE STATUS EXT") && !w.contains("inferred")),
            "{end:?}"
        );
        assert!(!d.d_sense());
        // A translator that will not switch: the flags cannot be read, and libata's constant
        // NO SENSE says nothing, so running or done, the state is unknown (and followed).
        let stuck = hdd(|c| {
            c.sanitize = true;
            c.fixed_sense = true;
            c.no_mode_select = true;
            c.polls = 2;
        });
        start(&stuck, Method::AtaSanitizeBlock, &opts()).unwrap();
        for _ in 0..4 {
            let s = poll(&stuck, Bus::Ata, &Expect::default());
            assert!(
                matches!(&s, State::Unknown(w) if w.contains("cannot be read")),
                "{s:?}"
            );
        }
        // A drive never sanitized is idle, not failed.
        let never = hdd(|c| c.sanitize = true);
        assert!(matches!(
            poll(&never, Bus::Ata, &Expect::default()),
            State::Idle(_)
        ));
        // A rejected REQUEST SENSE is unknown, not completed; a unit attention too; NO SENSE
        // with a progress indication is running.
        let rejected = Answer {
            sense: vec![],
            data: vec![],
            status: 2,
        };
        assert!(matches!(
            poll(&rejected, Bus::Scsi, &Expect::default()),
            State::Unknown(_)
        ));
        let ua = Answer {
            sense: vec![],
            data: vec![0x70, 0, 0x06, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x29, 0x00],
            status: 0,
        };
        assert!(matches!(
            poll(&ua, Bus::Scsi, &Expect::default()),
            State::Unknown(_)
        ));
        let working = Answer {
            sense: vec![],
            data: vec![
                0x70, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x00,
            ],
            status: 0,
        };
        assert_eq!(
            poll(&working, Bus::Scsi, &Expect::default()),
            State::Running(50.0)
        );
        let failed = Answer {
            sense: vec![],
            data: vec![0x70, 0, 0x03, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x31, 0x03],
            status: 0,
        };
        assert!(matches!(
            poll(&failed, Bus::Scsi, &Expect::default()),
            State::Failed(_)
        ));
        // The ATA failure reason is decoded.
        let f = hdd(|c| {
            c.sanitize = true;
            c.sanitize_failed = true;
        });
        assert!(
            matches!(poll(&f, Bus::Ata, &Expect::default()), State::Failed(w) if w.contains("unsuccessful"))
        );
    }

    #[test]
    fn only_the_events_after_the_command_are_this_run_s() {
        let line = |t: u64, what: &str| format!("{what} (timestamp {t} ms)");
        let before = vec![
            line(1000, "Sanitize Start"),
            line(2000, "Sanitize Completion"),
        ];
        let mut after = before.clone();
        after.push(line(3000, "Sanitize Start"));
        after.push(line(4000, "Sanitize Completion"));
        assert_eq!(events_since(&after, &before), after[2..].to_vec());
        // The same event twice counts twice; a log that rolled over loses nothing of ours.
        assert_eq!(
            events_since(&[line(1000, "A"), line(1000, "A")], &[line(1000, "A")]),
            vec![line(1000, "A")]
        );
        assert_eq!(events_since(&after[2..], &before), after[2..].to_vec());
        assert!(events_since(&before, &before).is_empty());
    }
}
