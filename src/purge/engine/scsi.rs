//! The purge engine on SCSI: what a disk reports (VPD, REQUEST SENSE), SANITIZE and FORMAT
//! UNIT started and followed through REQUEST SENSE.

use std::io;

use super::*;
use crate::device::passthrough::{DataDir, Passthrough};
use crate::device::scsi;

pub(super) fn scsi_status_name(s: u8) -> &'static str {
    match s {
        0x02 => " (CHECK CONDITION without sense data)",
        0x08 => " (BUSY)",
        0x18 => " (RESERVATION CONFLICT)",
        0x28 => " (TASK SET FULL)",
        0x40 => " (TASK ABORTED)",
        _ => "",
    }
}

/// REQUEST SENSE, decoded: (key, ASC, ASCQ, progress), or why it could not be read.
pub(super) fn request_sense(d: &dyn Passthrough) -> Result<(u8, u8, u8, Option<u16>), String> {
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

pub(super) fn probe_scsi(d: &dyn Passthrough) -> Caps {
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
    // FORMAT UNIT (no service action), so that a drive listing SANITIZE can still be sent
    // an explicit `--method scsi-format-unit`.
    let mut data = [0u8; 32];
    if let Ok((0, _)) = d.scsi(
        &scsi::report_supported_opcode(0x04),
        DataDir::FromDevice,
        &mut data,
        SHORT_MS,
    ) {
        if scsi::supported(&data) {
            caps.supported.push(Method::ScsiFormatUnit);
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

/// How a SCSI SANITIZE or FORMAT UNIT answered: GOOD (started; with IMMED it runs on), a
/// refusal (nothing erased), or an end that leaves the media partly erased — a MEDIUM or
/// HARDWARE ERROR (a device that ignores IMMED and fails mid-way, as tcmu-runner does when
/// its backing store fills up), or a timeout after the command went out.
pub(super) fn scsi_started(
    name: &str,
    answer: io::Result<(u8, Vec<u8>)>,
) -> Result<(), StartError> {
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

pub(super) fn scsi_why(status: u8, sense: &[u8]) -> String {
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

/// SCSI progress: REQUEST SENSE, whose answer may also come as the sense of a CHECK CONDITION
/// (a device busy formatting answers every command "format in progress"); a device without
/// REQUEST SENSE (tcmu-runner) is asked with TEST UNIT READY, as sg_format does.
pub(super) fn poll_scsi(d: &dyn Passthrough) -> State {
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
pub(super) fn scsi_state((k, a, q, p): (u8, u8, u8, Option<u16>), from: &str) -> State {
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

/// Starts a SANITIZE (with IMMED it runs on).
pub(super) fn start_sanitize(d: &dyn Passthrough, mut c: scsi::Command) -> Result<(), StartError> {
    let dir = if c.data_out.is_empty() {
        DataDir::None
    } else {
        DataDir::ToDevice
    };
    scsi_started("SANITIZE", d.scsi(&c.cdb, dir, &mut c.data_out, 60_000))
}

/// Starts a FORMAT UNIT (with IMMED it runs on).
pub(super) fn start_format(d: &dyn Passthrough, o: &Options) -> Result<(), StartError> {
    let (cdb, header) = scsi::format_unit(o.scsi_pi_type);
    let mut data = header;
    scsi_started(
        "FORMAT UNIT",
        d.scsi(&cdb, DataDir::ToDevice, &mut data, 60_000),
    )
}

/// SANITIZE's EXIT FAILURE MODE service action.
pub(super) fn exit_failure_mode(d: &dyn Passthrough) -> io::Result<()> {
    let mut c = scsi::sanitize(scsi::Action::ExitFailureMode, false, 0, false, &[]);
    match d.scsi(&c.cdb, DataDir::None, &mut c.data_out, 60_000)? {
        (0, _) => Ok(()),
        (s, _) => Err(io::Error::other(format!(
            "the drive refused EXIT FAILURE MODE (status {s:#04x}); a new sanitize is the way out"
        ))),
    }
}

/// FORMAT UNIT's CDB and parameter list header.
pub(super) fn format_unit_bytes(o: &Options) -> Vec<Block> {
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

/// SANITIZE's CDB, and its parameter list for an overwrite.
pub(super) fn sanitize_bytes(c: &scsi::Command) -> Vec<Block> {
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
