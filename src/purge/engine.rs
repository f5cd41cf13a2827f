//! The purge engine: what a drive can do (`probe`), the exact bytes a method sends
//! (`start_bytes`, for `--dry-run`), starting it, following the drive's own progress (`poll`),
//! and checking the result by reading sampled locations back (`Evidence`). Transport-neutral:
//! everything goes through [`Passthrough`], so tests drive a simulated drive.

use std::io;

use super::method::{self, Method};
use crate::contract::Extent;
use crate::device::ata;
use crate::device::passthrough::{DataDir, Passthrough};
use crate::device::BlockIo;
use crate::device::{nvme, scsi};

/// How the drive is attached, for purge purposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bus {
    Nvme,
    Ata,
    Scsi,
}

/// What the drive reports before anything is started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Caps {
    pub model: String,
    pub serial: String,
    /// Methods the drive says it supports (Purge and Clear grade), strongest first.
    pub supported: Vec<Method>,
    /// Flash (for the grade of ATA enhanced erase).
    pub solid_state: bool,
    /// Reasons nothing can be started now (frozen, locked, a failed sanitize to exit first).
    pub blockers: Vec<String>,
    /// The drive's own estimate for each method, seconds.
    pub estimates: Vec<(Method, u64)>,
    /// The last sanitize failed and the drive stays in failure mode until it is exited (one of
    /// the `blockers`).
    pub failure_mode: bool,
    /// NVMe: what Identify Controller said (for the scope of a command).
    pub controller: Option<nvme::Controller>,
}

/// Options of a purge command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Overwrite: the 32-bit pattern and the number of passes (1..=16).
    pub pattern: u32,
    pub passes: u8,
    /// Allow an unrestricted exit from a failed sanitize.
    pub ause: bool,
    /// NVMe namespace for Format NVM.
    pub nsid: u32,
    /// Format NVM: the LBA format to format with, which must be the namespace's current one
    /// (read it with [`lba_format`]); [`start`] refuses any other.
    pub lbaf: u8,
    /// Blocking commands (ATA security erase): seconds to wait for the drive.
    pub timeout_s: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pattern: 0,
            passes: 1,
            ause: false,
            nsid: 1,
            lbaf: 0,
            timeout_s: 12 * 3600,
        }
    }
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
            no_deallocate: false,
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

/// The bytes that start `m`: the 72-byte NVMe command, or the CDB (with its data-out).
/// ATA security erase is a sequence (set password, erase prepare, erase unit, disable).
/// What the fields of a block [`start_bytes`] produced mean, for people checking a dry run:
/// the command, its options, the data.
pub fn fields(label: &str, b: &[u8]) -> Option<String> {
    if label.contains("parameter list") {
        return scsi::describe_overwrite(b);
    }
    if label.contains("data") {
        return ata::describe_security_data(b);
    }
    match b.len() {
        72 => nvme::describe(b),
        16 => ata::describe(b),
        _ => scsi::describe(b),
    }
}

pub fn start_bytes(m: Method, o: &Options) -> Vec<(String, Vec<u8>)> {
    let nv = |c: nvme::AdminCmd| {
        vec![(
            "NVMe admin command (72 bytes)".to_string(),
            c.to_bytes().to_vec(),
        )]
    };
    match wire(m, o) {
        Wire::NvmeSanitize(s) => nv(nvme::sanitize(&s)),
        Wire::NvmeFormat { ses } => nv(nvme::format_nvm(o.nsid, o.lbaf, ses)),
        Wire::AtaSanitize(cdb) => vec![("ATA PASS-THROUGH(16) CDB".into(), cdb.to_vec())],
        Wire::AtaSecurityErase { enhanced } => {
            let enhanced = if enhanced { ata::ENHANCED } else { 0 };
            vec![
                (
                    "SECURITY SET PASSWORD CDB".into(),
                    ata::security_set_password().to_vec(),
                ),
                (
                    "SECURITY ERASE PREPARE CDB".into(),
                    ata::security_erase_prepare().to_vec(),
                ),
                (
                    "SECURITY ERASE UNIT CDB".into(),
                    ata::security_erase_unit().to_vec(),
                ),
                (
                    "SECURITY ERASE UNIT data (first 34 bytes)".into(),
                    ata::security_data(b"mediasan", false, enhanced)[..34].to_vec(),
                ),
            ]
        }
        Wire::ScsiFormatUnit => vec![(
            "SCSI FORMAT UNIT CDB".to_string(),
            scsi::format_unit().to_vec(),
        )],
        Wire::ScsiSanitize(c) => {
            let mut v = vec![("SCSI SANITIZE CDB".to_string(), c.cdb.to_vec())];
            if !c.data_out.is_empty() {
                v.push(("SANITIZE parameter list".into(), c.data_out));
            }
            v
        }
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

/// Reads what the drive can do.
///
/// # Errors
/// When the identify commands fail.
pub fn probe(d: &dyn Passthrough, bus: Bus) -> io::Result<Caps> {
    match bus {
        Bus::Nvme => {
            let mut id = [0u8; 4096];
            nvme_ok(
                "Identify Controller",
                d.nvme(&nvme::identify_controller(), &mut id),
            )?;
            let c = nvme::parse_controller(&id);
            let controller = Some(c.clone());
            let mut supported = method::nvme_purges(&c);
            if c.format {
                if c.format_crypto {
                    supported.push(Method::NvmeFormatCrypto);
                }
                supported.push(Method::NvmeFormatUserData);
            }
            let mut caps = Caps {
                model: c.model,
                serial: c.serial,
                supported,
                solid_state: true,
                controller,
                ..Caps::default()
            };
            if c.sanitize_crypto || c.sanitize_block || c.sanitize_overwrite {
                let mut log = [0u8; 512];
                if nvme_ok(
                    "Sanitize Status log",
                    d.nvme(&nvme::sanitize_log(), &mut log),
                )
                .is_ok()
                {
                    let st = nvme::parse_sanitize_log(&log);
                    if st.status == 3 {
                        caps.failure_mode = true;
                        caps.blockers.push(
                            "the last sanitize failed: the drive is in sanitize failure mode; leave it with \
                             --exit-failure-mode (or start a new sanitize with --ause)"
                                .into(),
                        );
                    }
                    if st.status == 2 {
                        caps.blockers
                            .push(format!("a sanitize is in progress ({:.0} %)", st.percent()));
                    }
                    for (m, e) in [
                        (Method::NvmeSanitizeOverwrite, st.est_overwrite),
                        (Method::NvmeSanitizeBlock, st.est_block),
                        (Method::NvmeSanitizeCrypto, st.est_crypto),
                    ] {
                        if e != 0 && e != u32::MAX {
                            caps.estimates.push((m, u64::from(e)));
                        }
                    }
                }
            }
            Ok(caps)
        }
        Bus::Ata => {
            let mut data = [0u8; 512];
            let (status, _) = d.scsi(&ata::identify(), DataDir::FromDevice, &mut data, 30_000)?;
            if status != 0 {
                return Err(io::Error::other(format!(
                    "IDENTIFY DEVICE failed (SCSI status {status:#04x})"
                )));
            }
            let id = ata::parse_identify(&data);
            let mut supported = method::ata_purges(&id);
            if id.security
                && !supported.contains(&Method::AtaSecurityEraseEnhanced)
                && id.security_enhanced_erase
            {
                supported.push(Method::AtaSecurityEraseEnhanced);
            }
            if id.security {
                supported.push(Method::AtaSecurityErase);
            }
            let mut blockers = Vec::new();
            if id.security_frozen
                && supported.iter().any(|m| {
                    matches!(
                        m,
                        Method::AtaSecurityErase | Method::AtaSecurityEraseEnhanced
                    )
                })
            {
                blockers.push(
                    "the drive's security is frozen (by the BIOS): suspend and resume the machine \
                               (e.g. rtcwake -m mem -s 5) or hot-plug the drive, then try again"
                        .into(),
                );
            }
            if id.security_locked {
                blockers.push("the drive is locked with a password; unlock it first".into());
            }
            let estimates = vec![
                (Method::AtaSecurityErase, u64::from(id.erase_minutes) * 60),
                (
                    Method::AtaSecurityEraseEnhanced,
                    u64::from(id.enhanced_erase_minutes) * 60,
                ),
            ]
            .into_iter()
            .filter(|(_, s)| *s > 0)
            .collect();
            Ok(Caps {
                model: id.model,
                serial: id.serial,
                supported,
                solid_state: id.solid_state,
                blockers,
                estimates,
                failure_mode: false, // ATA leaves it with a new sanitize (AUSE), not a command
                controller: None,
            })
        }
        Bus::Scsi => {
            // Asked with REPORT SUPPORTED OPERATION CODES; a drive that cannot answer lists
            // nothing (unknown is not "supported"): an explicit --method then lets the drive's
            // own answer to SANITIZE decide.
            let mut supported = Vec::new();
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
                    30_000,
                ) {
                    if scsi::supported(&data) {
                        supported.push(m);
                    }
                }
            }
            Ok(Caps {
                supported,
                ..Caps::default()
            })
        }
    }
}

/// The namespace's current LBA format, which Format NVM keeps.
///
/// # Errors
/// When Identify Namespace fails.
pub fn lba_format(d: &dyn Passthrough, nsid: u32) -> io::Result<u8> {
    Ok(namespace(d, nsid)?.0)
}

/// The namespace's current LBA format and whether it is shared (NMIC bit 0).
///
/// # Errors
/// When Identify Namespace fails.
pub fn namespace(d: &dyn Passthrough, nsid: u32) -> io::Result<(u8, bool)> {
    let mut ns = [0u8; 4096];
    nvme_ok(
        "Identify Namespace",
        d.nvme(&nvme::identify_namespace(nsid), &mut ns),
    )?;
    Ok((nvme::current_lba_format(&ns), nvme::namespace_shared(&ns)))
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

/// Leaves sanitize failure mode: NVMe Sanitize with SANACT 1, SCSI SANITIZE EXIT FAILURE MODE.
///
/// # Errors
/// When the drive refuses (ATA has no such command: a new sanitize with AUSE does it).
pub fn exit_failure_mode(d: &dyn Passthrough, bus: Bus) -> io::Result<()> {
    match bus {
        Bus::Nvme => {
            let s = nvme::Sanitize {
                action: nvme::SanitizeAction::ExitFailureMode,
                ause: false,
                overwrite_passes: 0,
                invert_between_passes: false,
                no_deallocate: false,
                pattern: 0,
            };
            nvme_ok(
                "Sanitize (exit failure mode)",
                d.nvme(&nvme::sanitize(&s), &mut []),
            )?;
            Ok(())
        }
        Bus::Scsi => {
            let mut c = scsi::sanitize(scsi::Action::ExitFailureMode, false, 0, false, &[]);
            match d.scsi(&c.cdb, DataDir::None, &mut c.data_out, 60_000)? {
                (0, _) => Ok(()),
                (s, _) => Err(io::Error::other(format!(
                    "the drive refused EXIT FAILURE MODE (status {s:#04x})"
                ))),
            }
        }
        Bus::Ata => Err(io::Error::other(
            "ATA has no exit-failure-mode command; start a new sanitize with --ause",
        )),
    }
}

/// Commands that run to the end before they return (Format NVM, ATA security erase): there is
/// no sanitize status to poll afterwards.
pub fn synchronous(m: Method) -> bool {
    matches!(
        m,
        Method::NvmeFormatUserData
            | Method::NvmeFormatCrypto
            | Method::AtaSecurityErase
            | Method::AtaSecurityEraseEnhanced
            | Method::ScsiFormatUnit
    )
}

/// The drive's sanitize state.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    /// Running, percent done.
    Running(f64),
    Completed,
    Failed(String),
}

/// Starts `m`. Long-running sanitize commands return at once; the drive works on its own.
///
/// # Errors
/// When the drive refuses the command.
pub fn start(d: &dyn Passthrough, m: Method, o: &Options) -> io::Result<()> {
    match wire(m, o) {
        Wire::NvmeSanitize(s) => {
            nvme_ok("Sanitize", d.nvme(&nvme::sanitize(&s), &mut []))?;
            Ok(())
        }
        Wire::NvmeFormat { ses } => {
            // Another LBA format would change the block size under the user's feet.
            let now = lba_format(d, o.nsid)?;
            if now != o.lbaf {
                return Err(io::Error::other(format!(
                    "namespace {} uses LBA format {now}, not {}; nothing was sent",
                    o.nsid, o.lbaf
                )));
            }
            nvme_ok(
                "Format NVM",
                d.nvme(&nvme::format_nvm(o.nsid, o.lbaf, ses), &mut []),
            )?;
            Ok(())
        }
        Wire::AtaSanitize(cdb) => {
            let (status, sense) = d.scsi(&cdb, DataDir::None, &mut [], 30_000)?;
            let r = ata::decode_return(&sense).ok();
            if status != 0 && r.is_none_or(|r| r.status & 0x01 != 0) {
                return Err(io::Error::other(format!(
                    "the drive refused SANITIZE (status {status:#04x})"
                )));
            }
            Ok(())
        }
        Wire::ScsiSanitize(mut c) => {
            let dir = if c.data_out.is_empty() {
                DataDir::None
            } else {
                DataDir::ToDevice
            };
            let (status, sense) = d.scsi(&c.cdb, dir, &mut c.data_out, 60_000)?;
            if status != 0 {
                let why = scsi::decode_sense(&sense)
                    .map(|(k, asc, ascq, _)| {
                        let note = if k == 5 {
                            " (ILLEGAL REQUEST: not supported)"
                        } else {
                            ""
                        };
                        format!("sense key {k:#x}, ASC/ASCQ {asc:#04x}/{ascq:#04x}{note}")
                    })
                    .unwrap_or_else(|| format!("SCSI status {status:#04x}"));
                return Err(io::Error::other(format!(
                    "the drive refused SANITIZE: {why}"
                )));
            }
            Ok(())
        }
        Wire::ScsiFormatUnit => {
            let (status, sense) = d.scsi(
                &scsi::format_unit(),
                DataDir::None,
                &mut [],
                o.timeout_s.saturating_mul(1000),
            )?;
            if status != 0 {
                let why = scsi::decode_sense(&sense)
                    .map_or(format!("SCSI status {status:#04x}"), |(k, a, q, _)| {
                        format!("sense {k:#x}/{a:#04x}/{q:#04x}")
                    });
                return Err(io::Error::other(format!(
                    "the drive refused FORMAT UNIT: {why}"
                )));
            }
            Ok(())
        }
        Wire::AtaSecurityErase { enhanced } => security_erase(d, enhanced, o.timeout_s),
    }
}

/// The temporary password of an ATA security erase (the drive clears it when the erase ends).
pub const TEMP_PASSWORD: &[u8] = b"mediasan";

/// An ATA command through SAT failed: a CHECK CONDITION whose ATA status has ERR set (or that
/// carries no ATA status at all).
fn ata_failed(status: u8, sense: &[u8]) -> bool {
    status != 0 && ata::decode_return(sense).map_or(true, |r| r.status & 0x01 != 0)
}

fn ata_pio_out(
    d: &dyn Passthrough,
    cdb: &[u8; 16],
    data: &[u8; 512],
    timeout_ms: u32,
) -> io::Result<()> {
    let mut buf = *data;
    let (status, sense) = d.scsi(cdb, DataDir::ToDevice, &mut buf, timeout_ms)?;
    let failed = ata_failed(status, &sense);
    if failed {
        return Err(io::Error::other(format!(
            "the drive refused ATA command {:#04x} (status {status:#04x})",
            cdb[14]
        )));
    }
    Ok(())
}

/// SECURITY SET PASSWORD (user, temporary), ERASE PREPARE, ERASE UNIT (normal or enhanced, a
/// blocking command: hdparm sizes its timeout from the drive's estimate, we take `timeout_s`).
/// If anything fails after the password was set, the password is removed again (UNLOCK,
/// DISABLE PASSWORD), so the drive is never left locked with it.
fn security_erase(d: &dyn Passthrough, enhanced: bool, timeout_s: u32) -> io::Result<()> {
    let pw = ata::security_data(TEMP_PASSWORD, false, 0);
    ata_pio_out(d, &ata::security_set_password(), &pw, 30_000)?;
    let erase = || -> io::Result<()> {
        let (status, sense) = d.scsi(
            &ata::security_erase_prepare(),
            DataDir::None,
            &mut [],
            30_000,
        )?;
        if ata_failed(status, &sense) {
            return Err(io::Error::other("the drive refused SECURITY ERASE PREPARE"));
        }
        let flags = if enhanced { ata::ENHANCED } else { 0 };
        ata_pio_out(
            d,
            &ata::security_erase_unit(),
            &ata::security_data(TEMP_PASSWORD, false, flags),
            timeout_s.saturating_mul(1000),
        )
    };
    let result = erase();
    if result.is_err() {
        // Never leave the temporary password set: unlock (if the drive locked) and disable it.
        let _ = ata_pio_out(d, &ata::security_unlock(), &pw, 30_000);
        let _ = ata_pio_out(d, &ata::security_disable_password(), &pw, 30_000);
    }
    result
}

/// Asks the drive how its sanitize is going.
///
/// # Errors
/// When the status cannot be read.
pub fn poll(d: &dyn Passthrough, bus: Bus) -> io::Result<State> {
    match bus {
        Bus::Nvme => {
            let mut log = [0u8; 512];
            nvme_ok(
                "Sanitize Status log",
                d.nvme(&nvme::sanitize_log(), &mut log),
            )?;
            let st = nvme::parse_sanitize_log(&log);
            Ok(match st.status {
                2 => State::Running(st.percent()),
                1 | 4 => State::Completed,
                3 => State::Failed("the drive reports the sanitize failed".into()),
                _ => State::Failed("the drive reports no sanitize ever completed".into()),
            })
        }
        Bus::Ata => {
            let (_, sense) = d.scsi(&ata::sanitize_status(), DataDir::None, &mut [], 30_000)?;
            let r = ata::decode_return(&sense).map_err(io::Error::other)?;
            // COUNT bit 15: completed without error; bit 14: in progress; LBA 15:0: progress.
            Ok(if r.count & 0x4000 != 0 {
                State::Running(f64::from((r.lba & 0xFFFF) as u16) * 100.0 / 65536.0)
            } else if r.count & 0x8000 != 0 {
                State::Completed
            } else {
                State::Failed(format!(
                    "SANITIZE STATUS reports neither progress nor success (error {:#04x})",
                    r.error
                ))
            })
        }
        Bus::Scsi => {
            let mut data = [0u8; 252];
            let (_, _) = d.scsi(
                &scsi::request_sense(),
                DataDir::FromDevice,
                &mut data,
                30_000,
            )?;
            Ok(match scsi::decode_sense(&data) {
                Some((k, asc, ascq, p)) if scsi::sanitize_in_progress(k, asc, ascq) => {
                    State::Running(p.map_or(0.0, |p| f64::from(p) * 100.0 / 65536.0))
                }
                Some((0, _, _, _)) | None => State::Completed,
                Some((k, asc, ascq, _)) => {
                    State::Failed(format!("sense {k:#x}/{asc:#04x}/{ascq:#04x}"))
                }
            })
        }
    }
}

/// Evidence that a purge changed the media: BLAKE3 of sampled locations before, compared with
/// what is read after (only the hashes are kept, never the data).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence {
    pub extents: Vec<Extent>,
    pub before: Vec<[u8; 32]>,
}

fn read(dev: &dyn BlockIo, e: &Extent) -> io::Result<Vec<u8>> {
    let bs = u64::from(dev.block_size());
    let mut buf = crate::aligned::AlignedBuf::new((e.len.div_ceil(bs) * bs) as usize);
    let n = dev.read_at(&mut buf, e.offset)?;
    if (n as u64) < e.len {
        return Err(io::Error::other(format!("short read at {}", e.offset)));
    }
    Ok(buf[..e.len as usize].to_vec())
}

impl Evidence {
    /// Hashes the content at `extents` now.
    ///
    /// # Errors
    /// A read error.
    pub fn before(dev: &dyn BlockIo, extents: Vec<Extent>) -> io::Result<Evidence> {
        let before = extents
            .iter()
            .map(|e| read(dev, e).map(|b| *blake3::hash(&b).as_bytes()))
            .collect::<io::Result<_>>()?;
        Ok(Evidence { extents, before })
    }

    /// Checks the media after the purge: with an `expected` pattern (overwrite), every sample must
    /// hold it; otherwise (crypto or block erase) every sample must differ from before, and a
    /// sample that was one repeated byte before and after proves nothing. Returns the problems.
    ///
    /// # Errors
    /// A read error.
    pub fn after(
        &self,
        dev: &dyn BlockIo,
        expected: Option<&crate::pattern::Pattern>,
    ) -> io::Result<Vec<String>> {
        let mut problems = Vec::new();
        for (e, h) in self.extents.iter().zip(&self.before) {
            let now = read(dev, e)?;
            match expected {
                Some(p) => {
                    let mut want = vec![0u8; now.len()];
                    p.fill_at(&mut want, e.offset);
                    if now != want {
                        problems.push(format!("offset {}: not the overwrite pattern", e.offset));
                    }
                }
                None => {
                    if blake3::hash(&now).as_bytes() == h {
                        let uniform = now.iter().all(|&b| b == now[0]);
                        problems.push(format!(
                            "offset {}: {}",
                            e.offset,
                            if uniform {
                                "unchanged, and it held no data to prove the erase with"
                            } else {
                                "unchanged: the data is still readable"
                            }
                        ));
                    }
                }
            }
        }
        Ok(problems)
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
        let ow = fields(
            "ATA PASS-THROUGH(16) CDB",
            &hex("85 07 20 00 14 00 00 11 44 57 33 4f 22 40 b4 00"),
        )
        .unwrap();
        assert!(
            ow.contains(
                "SANITIZE OVERWRITE EXT, passes 16, INVERT 0, FAILURE MODE 0, pattern 0x11223344"
            ),
            "{ow}"
        );
        let be = fields(
            "ATA PASS-THROUGH(16) CDB",
            &hex("85 07 20 00 12 00 00 42 72 00 45 00 6b 40 b4 00"),
        )
        .unwrap();
        assert!(
            be.contains("SANITIZE BLOCK ERASE EXT") && be.contains("command 0xb4"),
            "{be}"
        );
        let eu = fields(
            "SECURITY ERASE UNIT CDB",
            &hex("85 0a 06 00 00 00 01 00 00 00 00 00 00 40 f4 00"),
        )
        .unwrap();
        assert!(
            eu.contains("SECURITY ERASE UNIT") && eu.contains("PIO data-out"),
            "{eu}"
        );
        // sg_sanitize --crypto, --overwrite (ioctlcap).
        let sc = fields("SCSI SANITIZE CDB", &hex("48 83 00 00 00 00 00 00 00 00")).unwrap();
        assert!(
            sc.contains("service action 0x03 (cryptographic erase), IMMED 1, AUSE 0"),
            "{sc}"
        );
        let pl = fields("SANITIZE parameter list", &hex("01 00 00 04 00 00 00 00")).unwrap();
        assert_eq!(pl, "INVERT 0, passes 1, pattern length 4, pattern 00000000");
        // nvme sanitize -a 3 -p 2 ... -o 0x5a5a5a5a (ioctlcap raw72: CDW10 0x123, CDW11).
        let mut raw = vec![0u8; 72];
        raw[0] = 0x84;
        raw[40..44].copy_from_slice(&0x0000_0123u32.to_le_bytes());
        raw[44..48].copy_from_slice(&0x5a5a_5a5au32.to_le_bytes());
        let nv = fields("NVMe admin command (72 bytes)", &raw).unwrap();
        assert!(nv.contains("SANACT 3 (overwrite), AUSE 0, OWPASS 2, OIPBP 1, NDAS 0; CDW11 overwrite pattern 0x5a5a5a5a"), "{nv}");
        let data = ata::security_data(b"mediasan", false, ata::ENHANCED);
        let sd = fields("SECURITY ERASE UNIT data (first 34 bytes)", &data[..34]).unwrap();
        assert_eq!(
            sd,
            "word 0 0x0002 = user password, ENHANCED erase; password \"mediasan\""
        );
    }

    #[test]
    fn every_block_of_every_method_has_its_fields_named() {
        for m in Method::ALL {
            for (label, b) in start_bytes(m, &Options::default()) {
                assert!(fields(&label, &b).is_some(), "{}: {label}", m.name());
            }
        }
    }
    use std::sync::Mutex;

    /// Records every ATA command (the command byte of each CDB) and fails the one given.
    struct Ata {
        sent: Mutex<Vec<u8>>,
        fail: u8,
    }

    impl Passthrough for Ata {
        fn nvme(&self, _: &nvme::AdminCmd, _: &mut [u8]) -> io::Result<(u16, u32)> {
            Err(io::Error::other("not NVMe"))
        }
        fn scsi(&self, cdb: &[u8], _: DataDir, _: &mut [u8], _: u32) -> io::Result<(u8, Vec<u8>)> {
            self.sent.lock().unwrap().push(cdb[14]);
            if cdb[14] == self.fail {
                // CHECK CONDITION with an ATA return descriptor: ERR set, ABRT.
                let sense = vec![
                    0x72, 0x0b, 0x00, 0x00, 0, 0, 0, 14, 0x09, 0x0c, 0, 0x04, 0, 0, 0, 0, 0, 0, 0,
                    0, 0x40, 0x51,
                ];
                return Ok((0x02, sense));
            }
            Ok((0, vec![]))
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
        assert_eq!(poll(&running, Bus::Ata).unwrap(), State::Running(50.0));
        let done = Answer {
            sense: ata_sense(0x8000, 0),
            data: vec![],
            status: 2,
        };
        assert_eq!(poll(&done, Bus::Ata).unwrap(), State::Completed);
        let failed = Answer {
            sense: ata_sense(0x0000, 0),
            data: vec![],
            status: 2,
        };
        assert!(matches!(poll(&failed, Bus::Ata).unwrap(), State::Failed(_)));
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
        assert_eq!(poll(&running, Bus::Scsi).unwrap(), State::Running(25.0));
        let clean = Answer {
            sense: vec![],
            data: vec![0x70, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0],
            status: 0,
        };
        assert_eq!(poll(&clean, Bus::Scsi).unwrap(), State::Completed);
        // A SANITIZE the drive refuses with ILLEGAL REQUEST is a clear error naming it.
        let refuse = Answer {
            sense: vec![0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x20, 0x00],
            data: vec![],
            status: 2,
        };
        let e = start(&refuse, Method::ScsiSanitizeBlock, &Options::default()).unwrap_err();
        assert!(e.to_string().contains("ILLEGAL REQUEST"), "{e}");
    }

    #[test]
    fn security_erase_sends_the_sequence_and_always_clears_its_password() {
        let ok = Ata {
            sent: Mutex::new(vec![]),
            fail: 0,
        };
        security_erase(&ok, true, 10).unwrap();
        assert_eq!(
            *ok.sent.lock().unwrap(),
            vec![0xF1, 0xF3, 0xF4],
            "set password, prepare, erase unit"
        );
        let bad = Ata {
            sent: Mutex::new(vec![]),
            fail: 0xF4,
        };
        assert!(security_erase(&bad, false, 10).is_err());
        assert_eq!(
            *bad.sent.lock().unwrap(),
            vec![0xF1, 0xF3, 0xF4, 0xF2, 0xF6],
            "unlock and disable after a failure"
        );
        let refused = Ata {
            sent: Mutex::new(vec![]),
            fail: 0xF1,
        };
        assert!(security_erase(&refused, false, 10).is_err());
        assert_eq!(
            *refused.sent.lock().unwrap(),
            vec![0xF1],
            "nothing else when the password was never set"
        );
    }
}
