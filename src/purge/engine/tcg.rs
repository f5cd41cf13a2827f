//! TCG Opal: the Reverts mediasan sends through the kernel's sed-opal (which builds the TCG
//! sessions and ComPackets itself), whether a drive offers them, and its TCG state read again
//! after. The encodings are in `device::tcg`.

use std::io;

use super::{Block, Blocker, Bus, Caps, Part, StartError};
use crate::device as dev;
use crate::device::passthrough::Passthrough;
use crate::purge::method::{self, Method};

/// The kernel's own "not supported" (`include/linux/errno.h`, not a userspace errno): what
/// sed-opal returns for a drive whose discovery shows no Opal.
pub(super) const ENOTSUPP: i32 = 524;

fn revert_op(psid: bool) -> dev::tcg::SedOpal {
    if psid {
        dev::tcg::SedOpal::PsidRevertTper
    } else {
        dev::tcg::SedOpal::RevertTper
    }
}

/// What the kernel's sed-opal says of the drive, or why it says nothing (no sed-opal for this
/// device: ENOTTY or EOPNOTSUPP).
///
/// # Errors
/// The ioctl's failure.
pub fn sed_opal_status(d: &dyn Passthrough) -> io::Result<dev::tcg::OpalStatus> {
    let op = dev::tcg::SedOpal::GetStatus;
    let mut arg = vec![0u8; op.arg_len()];
    d.sed_opal(op, &mut arg)?;
    Ok(dev::tcg::OpalStatus::from_flags(u32::from_ne_bytes([
        arg[0], arg[1], arg[2], arg[3],
    ])))
}

/// Adds the TCG Reverts to `caps` where the drive is an Opal drive (by its discovery or the
/// kernel's word), blocked where the kernel's sed-opal does not serve it (mediasan sends a
/// Revert only through it) or Block SID Authentication stops the SID. A drive whose discovery
/// did not come through mediasan's own door (libata passes no TRUSTED RECEIVE by default) is
/// described by the kernel's status instead.
pub(super) fn add_tcg(d: &dyn Passthrough, caps: &mut Caps) {
    let kernel = sed_opal_status(d);
    caps.sed_opal_says = format!(
        "the kernel's sed-opal (IOC_OPAL_GET_STATUS) says {}",
        match &kernel {
            Ok(s) if s.supported => "it serves the drive".to_string(),
            Ok(_) => "the drive has no Opal it can drive".to_string(),
            Err(e) if e.raw_os_error() == Some(ENOTSUPP) => {
                "\"the drive has no TCG Opal support\" (ENOTSUPP, 524)".to_string()
            }
            Err(e) => format!("\"{e}\""),
        }
    );
    let by_discovery = caps.tcg.as_ref().is_some_and(dev::tcg::revertible);
    let served = matches!(&kernel, Ok(s) if s.supported);
    if !by_discovery && !served {
        return;
    }
    caps.supported = method::with_tcg(&caps.supported);
    let tcg = [Method::TcgRevert, Method::TcgPsidRevert];
    match kernel {
        Ok(s) if s.supported => {
            caps.sed_opal = Some(s);
            if caps.tcg.is_none() {
                caps.tcg = Some(dev::tcg::Tcg {
                    ssc: vec!["Opal (as the kernel's sed-opal reports it)".into()],
                    locking: Some(s.locking),
                    ..dev::tcg::Tcg::default()
                });
            }
        }
        other => caps.blockers.push(Blocker::only(
            &tcg,
            format!(
                "the drive reports {} (TCG Level 0 Discovery), but the kernel's sed-opal does not serve it \
                 ({}); mediasan sends a TCG Revert only through the kernel's sed-opal (Linux 6.0 or later, \
                 CONFIG_BLK_SED_OPAL; a SATA drive behind libata, SAS or NVMe)",
                caps.tcg.as_ref().map_or("Opal".into(), |t| t.ssc.join(", ")),
                match other {
                    Ok(_) => "it says the drive has no Opal it can drive".to_string(),
                    Err(e) => e.to_string(),
                }
            ),
        )),
    }
    if caps.tcg.as_ref().and_then(|t| t.sid_blocked) == Some(true) {
        caps.blockers.push(Blocker::only(
            &[Method::TcgRevert],
            "Block SID Authentication is set (the firmware or BIOS blocked the SID until the next power \
             cycle): power-cycle the drive (off and on, not a reboot that keeps it powered), or use \
             tcg-psid-revert with the PSID on its label",
        ));
    }
}

/// Sends a TCG Revert through the kernel's sed-opal with `key`.
pub(super) fn tcg_revert(
    d: &dyn Passthrough,
    psid: bool,
    key: Option<&dev::tcg::Secret>,
) -> Result<(), StartError> {
    let op = revert_op(psid);
    let what = if psid { "the PSID" } else { "the SID password" };
    let Some(key) = key else {
        return Err(StartError::Refused(format!("{} needs {what}", op.name())));
    };
    let mut arg = dev::tcg::opal_key(key.bytes());
    let r = d.sed_opal(op, &mut arg);
    arg.fill(0);
    std::hint::black_box(&arg);
    match r {
        Ok(0) => Ok(()),
        Ok(1) => Err(StartError::Refused(format!(
            "the drive answered NOT_AUTHORIZED (TCG status 0x01): {what} is not the drive's{}; drives lock \
             the authority out after a few wrong tries until they are power-cycled",
            if psid {
                " (the PSID is the 32 characters printed on the label, often under a 2D code)"
            } else {
                ""
            }
        ))),
        Ok(0x12) => Err(StartError::Refused(
            "the drive answered AUTHORITY_LOCKED_OUT (TCG status 0x12): too many wrong tries; power-cycle \
             the drive, then try once more with the right one"
                .into(),
        )),
        Ok(s) => Err(StartError::Failed(format!(
            "the drive answered {} (TCG status {s:#04x}) to the Revert",
            dev::tcg::method_status(s)
        ))),
        Err(e) => Err(StartError::transport(op.name(), &e)),
    }
}

/// What a TCG Revert sends, for the dry run: the ioctl and the first 8 bytes of its argument
/// (the key that follows is never shown).
pub(super) fn revert_bytes(psid: bool) -> Vec<Block> {
    let op = revert_op(psid);
    vec![Block::new(
                Part::OpalKey,
                format!(
                    "{} (ioctl {:#010x}) to the kernel's sed-opal, which opens the TCG session and sends the \
                     Revert ComPackets itself: the first 8 of the {} bytes of its struct opal_key (the key \
                     that follows is never shown)",
                    op.name(),
                    op.code(),
                    dev::tcg::OPAL_KEY_BYTES
                ),
                &dev::tcg::opal_key(&[])[..8],
            )]
}

/// A self-encrypting drive's TCG state now: its Level 0 Discovery through its own door, else
/// what the kernel's sed-opal says of its locking; `None` where neither answers.
pub fn tcg_state(d: &dyn Passthrough, bus: Bus) -> Option<dev::tcg::Tcg> {
    let mut caps = Caps {
        tcg: discover_tcg(d, bus),
        ..Caps::default()
    };
    add_tcg(d, &mut caps);
    caps.tcg
}

/// Level 0 Discovery over the drive's own bus.
pub(super) fn discover_tcg(d: &dyn Passthrough, bus: Bus) -> Option<dev::tcg::Tcg> {
    match bus {
        Bus::Nvme => dev::tcg::discover("nvme", d, false),
        Bus::Ata => dev::tcg::discover("sata", d, true),
        Bus::Scsi => dev::tcg::discover("scsi", d, false),
    }
}
