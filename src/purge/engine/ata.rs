//! The purge engine on ATA (through SAT: SG_IO's ATA PASS-THROUGH): the one success predicate
//! [`ata_end`], IDENTIFY DEVICE and what it says, SANITIZE and its status, and the security
//! erase sequence with mediasan's temporary password.

use std::io;

use super::scsi::{request_sense, scsi_status_name};
use super::*;
use crate::device::passthrough::{DataDir, Passthrough};
use crate::device::{ata, scsi};

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

pub(super) fn regs_text(r: &AtaReturn) -> String {
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

/// One ATA command: `Ok` only when [`ata_end`] says it completed.
pub(super) fn ata_cmd(
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

/// The reason byte of a failed ATA sanitize (LBA 7:0 of SANITIZE STATUS EXT's error output).
pub(super) fn ata_sanitize_reason(r: &AtaReturn) -> String {
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

pub(super) fn probe_ata(d: &dyn Passthrough, rotational: Option<bool>) -> io::Result<Caps> {
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
        // SANITIZE has a freeze of its own: only a drive that has it can be told to use it.
        blockers.push(Blocker::only(
            &ATA_SECURITY,
            format!(
                "the drive's security is frozen (by the BIOS): suspend and resume the machine (e.g. \
                 rtcwake -m mem -s 5) or hot-plug the drive, then try again{}",
                if id.sanitize {
                    "; SANITIZE is not affected by this freeze"
                } else {
                    ""
                }
            ),
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
pub(super) fn security_state(d: &dyn Passthrough) -> Result<(bool, bool), String> {
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
pub(super) fn remove_password(d: &dyn Passthrough) -> Result<(), String> {
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
pub(super) fn security_erase(
    d: &dyn Passthrough,
    enhanced: bool,
    o: &Options,
) -> Result<(), StartError> {
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

/// SANITIZE STATUS EXT, with its whole return registers: where the kernel answers in
/// fixed-format sense (libata does by default), which carries only COUNT 7:0 and hides the
/// flags of COUNT 15:8, the command is asked again with the kernel's descriptor-format sense
/// switched on for it (the Control mode page's D_SENSE, the one bit libata lets a MODE SELECT
/// change, put back as it was right after). `Err` when the flags cannot be had.
pub(super) fn sanitize_status_whole(d: &dyn Passthrough) -> Result<(u8, Vec<u8>), String> {
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

pub(super) fn poll_ata(d: &dyn Passthrough) -> State {
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

/// SANITIZE STATUS EXT's registers for the certificate: named into `fields`, and the raw
/// sense they came in.
pub(super) fn sanitize_record(
    d: &dyn Passthrough,
    fields: &mut std::collections::BTreeMap<String, String>,
) -> Option<(&'static str, Vec<u8>)> {
    let (status, sense) = sanitize_status_whole(d).ok()?;
    let (AtaEnd::Done(Some(r)) | AtaEnd::Failed { regs: Some(r), .. }) = ata_end(status, &sense)
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
    Some(("ATA SANITIZE STATUS EXT", sense))
}

/// Starts a SANITIZE: the drive's error registers are a refusal (it did not start); a reset
/// leaves whether it started unknown.
pub(super) fn start_sanitize(d: &dyn Passthrough, cdb: &[u8; 16]) -> Result<(), StartError> {
    match d.scsi(cdb, DataDir::None, &mut [], SHORT_MS) {
        Err(e) => Err(StartError::transport("SANITIZE", &e)),
        Ok((status, sense)) => match ata_end(status, &sense) {
            AtaEnd::Done(_) => Ok(()),
            // The drive's error registers (ABRT): it did not start.
            AtaEnd::Failed { why, .. } => Err(StartError::Refused(format!("SANITIZE: {why}"))),
            AtaEnd::Reset(why) => Err(StartError::Unknown(format!(
                "SANITIZE: {why}, so whether it started is unknown"
            ))),
        },
    }
}

/// SANITIZE STATUS EXT with "clear sanitize operation failed".
pub(super) fn exit_failure_mode(d: &dyn Passthrough) -> io::Result<()> {
    ata_cmd(
        d,
        "SANITIZE STATUS EXT (clear sanitize operation failed)",
        &ata::sanitize_status_clear_failure(),
        None,
        SHORT_MS,
    )
    .map(|_| ())
    .map_err(|e| io::Error::other(format!("{e}; a new sanitize is the way out")))
}

/// The security erase sequence's blocks, in order, with those sent only if the erase does not
/// end cleanly.
pub(super) fn security_erase_bytes(enhanced: bool, o: &Options) -> Vec<Block> {
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
