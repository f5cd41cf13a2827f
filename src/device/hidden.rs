//! Hidden areas of ATA drives: HPA, AMA and DCO limits that make a drive report fewer sectors
//! than it has, so an overwrite of "the whole disk" would miss them. Read with IDENTIFY DEVICE,
//! READ NATIVE MAX ADDRESS EXT and DCO IDENTIFY over SG_IO (see `ata` for the bytes).

use std::fs::File;
use std::io;

use serde::{Deserialize, Serialize};

use super::ata;
use super::ioctl::{sg_io, DataDir};
use super::{Kind, Probe};

/// The limits read from the drive at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Sectors the host can address now (IDENTIFY).
    pub sectors: u64,
    /// READ NATIVE MAX ADDRESS EXT, if the drive supports HPA/AMA.
    pub native_max_lba: Option<u64>,
    /// DCO IDENTIFY's maximum LBA, if the drive supports DCO.
    pub dco_max_lba: Option<u64>,
    /// Sectors beyond `sectors` the drive has.
    pub hidden_sectors: u64,
}

/// What could be found out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The target kind has no such areas (image, loop, NVMe, virtio, SCSI...).
    NotApplicable(String),
    /// It might, but they could not be read.
    Unknown(String),
    /// Read from the drive.
    Read(Snapshot, Vec<String>),
}

/// Whether to treat the device as ATA regardless of what sysfs says (`--transport ata`, for
/// USB-SATA bridges and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Transport {
    #[default]
    Auto,
    Ata,
}

fn run(f: &File, cdb: &[u8; 16], dir: DataDir, data: &mut [u8]) -> io::Result<Vec<u8>> {
    let s = sg_io(f, cdb, dir, data, 30_000)?;
    let check = s.status == 0x02;
    let key = s
        .sense
        .get(1)
        .map(|b| b & 0x0F)
        .filter(|_| s.sense.first().is_some_and(|b| b & 0x7F >= 0x72));
    let key = key.or_else(|| s.sense.get(2).map(|b| b & 0x0F));
    // With CK_COND a good command comes back as CHECK CONDITION, RECOVERED ERROR, ASC/ASCQ
    // 00/1D ("ATA pass through information available").
    if s.host_status != 0 || (check && key != Some(0x01)) {
        return Err(io::Error::other(format!(
            "the device rejected the ATA command (status {:#04x}, host {:#06x}, sense key {})",
            s.status,
            s.host_status,
            key.map_or("-".into(), |k| format!("{k:#x}"))
        )));
    }
    Ok(s.sense)
}

/// Reads the limits through ATA PASS-THROUGH.
///
/// # Errors
/// When the device is not ATA, refuses the command, or the answer cannot be decoded.
pub fn query_ata(f: &File) -> io::Result<(Snapshot, Vec<String>)> {
    let mut data = [0u8; 512];
    run(f, &ata::identify(), DataDir::FromDevice, &mut data)?;
    if data.iter().all(|&b| b == 0) {
        return Err(io::Error::other("IDENTIFY DEVICE returned no data"));
    }
    let id = ata::parse_identify(&data);
    let mut native = None;
    if !id.lba48 && (id.hpa_supported || id.ama_supported) {
        return Err(io::Error::other(
            "a 28-bit drive with HPA: READ NATIVE MAX ADDRESS (28-bit) is not implemented",
        ));
    }
    if id.lba48 && (id.hpa_supported || id.ama_supported) {
        let sense = run(f, &ata::read_native_max_ext(), DataDir::None, &mut [])?;
        let r = ata::decode_return(&sense).map_err(io::Error::other)?;
        if !r.lba_complete {
            return Err(io::Error::other(
                "the native max address came back truncated (fixed-format sense)",
            ));
        }
        native = Some(r.lba);
    }
    let mut dco = None;
    if id.dco_supported {
        // A DCO we cannot read (often frozen by the firmware) leaves the question open.
        let mut page = [0u8; 512];
        run(f, &ata::dco_identify(), DataDir::FromDevice, &mut page).map_err(|e| {
            io::Error::other(format!("DCO IDENTIFY failed ({e}); the DCO may be frozen"))
        })?;
        dco = Some(ata::parse_dco_max_lba(&page).ok_or_else(|| {
            io::Error::other("the DCO IDENTIFY page has a bad signature or checksum")
        })?);
    }
    let (hidden, why) = ata::hidden_sectors(id.sectors, native, dco);
    Ok((
        Snapshot {
            sectors: id.sectors,
            native_max_lba: native,
            dco_max_lba: dco,
            hidden_sectors: hidden,
        },
        why,
    ))
}

/// Looks for hidden areas on a probed target, through `f`, a descriptor of that very device.
pub fn read(probe: &Probe, f: &File, transport: Transport) -> Outcome {
    if probe.kind == Kind::Image {
        return Outcome::NotApplicable("an image file has no HPA/DCO".into());
    }
    let iface = probe.identity.interface.as_str();
    if transport == Transport::Auto && !matches!(iface, "sata" | "usb" | "scsi" | "sas" | "") {
        return Outcome::NotApplicable(format!("no HPA/DCO on a {iface} device"));
    }
    match query_ata(f) {
        Ok((s, why)) => Outcome::Read(s, why),
        Err(e)
            if e.raw_os_error() == Some(nix::libc::EPERM)
                || e.raw_os_error() == Some(nix::libc::EACCES) =>
        {
            Outcome::Unknown(format!("ATA pass-through needs root (CAP_SYS_RAWIO): {e}"))
        }
        Err(e) if matches!(iface, "scsi" | "sas") && transport == Transport::Auto => {
            Outcome::NotApplicable(format!("not an ATA device ({e})"))
        }
        Err(e) => Outcome::Unknown(format!("could not read HPA/DCO limits: {e}")),
    }
}
