//! Hidden areas of ATA drives: HPA, AMA and DCO limits that make a drive report fewer sectors
//! than it has, so an overwrite of "the whole disk" would miss them. Read with IDENTIFY DEVICE,
//! READ NATIVE MAX ADDRESS EXT and DCO IDENTIFY through the drive's [`Passthrough`] (see `ata`
//! for the bytes), so a fake drive stands in for tests.

use std::io;

pub use crate::contract::media::Snapshot;

use super::ata;
use super::passthrough::{DataDir, Passthrough};
use super::{Kind, Probe};

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

fn run(d: &dyn Passthrough, cdb: &[u8; 16], dir: DataDir, data: &mut [u8]) -> io::Result<Vec<u8>> {
    let (status, sense) = d.scsi(cdb, dir, data, 30_000)?;
    let check = status == 0x02;
    let key = sense
        .get(1)
        .map(|b| b & 0x0F)
        .filter(|_| sense.first().is_some_and(|b| b & 0x7F >= 0x72));
    let key = key.or_else(|| sense.get(2).map(|b| b & 0x0F));
    // With CK_COND a good command comes back as CHECK CONDITION, RECOVERED ERROR, ASC/ASCQ
    // 00/1D ("ATA pass through information available").
    if check && key != Some(0x01) {
        return Err(io::Error::other(format!(
            "the device rejected the ATA command (status {status:#04x}, sense key {})",
            key.map_or("-".into(), |k| format!("{k:#x}"))
        )));
    }
    Ok(sense)
}

/// Reads the limits through ATA PASS-THROUGH.
///
/// # Errors
/// When the device is not ATA, refuses the command, or the answer cannot be decoded.
pub fn query_ata(f: &dyn Passthrough) -> io::Result<(Snapshot, Vec<String>)> {
    let mut data = [0u8; 512];
    // A device that rejects IDENTIFY is not an ATA drive (or not one this door reaches).
    run(f, &ata::identify(), DataDir::FromDevice, &mut data).map_err(|e| {
        if e.raw_os_error().is_some() {
            e
        } else {
            io::Error::new(io::ErrorKind::Unsupported, e.to_string())
        }
    })?;
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
        // A drive with the Accessible Max Address feature set answers GET NATIVE MAX ADDRESS
        // EXT; READ NATIVE MAX ADDRESS EXT is obsolete there (ACS-3).
        let ask = if id.ama_supported {
            ata::get_native_max_ext()
        } else {
            ata::read_native_max_ext()
        };
        let sense = run(f, &ask, DataDir::None, &mut [])?;
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

/// What `--restore-hidden` did: the readings before and after, and the commands that took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    pub before: Snapshot,
    pub after: Snapshot,
    pub done: Vec<String>,
}

/// Restores what hides sectors (an HPA or AMA limit with SET MAX ADDRESS EXT to the native
/// maximum, permanently as `hdparm -N p`; then a DCO with DEVICE CONFIGURATION RESTORE), and
/// reads the limits again. `None` when nothing is hidden.
///
/// # Errors
/// A command the drive refuses (a frozen DCO, a security-locked drive), or limits that still
/// hide sectors afterwards: the restore did not take.
pub fn restore(f: &dyn Passthrough) -> io::Result<Option<Restored>> {
    let (before, _) = query_ata(f)?;
    if before.hidden_sectors == 0 {
        return Ok(None);
    }
    let mut done = Vec::new();
    let current_max = before.sectors.saturating_sub(1);
    let mut data = [0u8; 512];
    run(f, &ata::identify(), DataDir::FromDevice, &mut data)?;
    let ama = ata::parse_identify(&data).ama_supported;
    if let Some(native) = before.native_max_lba.filter(|n| *n > current_max) {
        if ama {
            // The Accessible Max Address feature set: SET ACCESSIBLE MAX ADDRESS EXT, as
            // `hdparm -N p` sends it to such a drive.
            run(
                f,
                &ata::set_accessible_max_ext(native),
                DataDir::None,
                &mut [],
            )
            .map_err(|e| {
                io::Error::other(format!(
                    "SET ACCESSIBLE MAX ADDRESS EXT to LBA {native} was refused: {e}"
                ))
            })?;
            done.push(format!(
                "AMA removed: SET ACCESSIBLE MAX ADDRESS EXT to the native maximum LBA {native} \
                 (non-volatile)"
            ));
        } else {
            // ACS: SET MAX ADDRESS EXT must immediately follow READ NATIVE MAX ADDRESS EXT.
            run(f, &ata::read_native_max_ext(), DataDir::None, &mut [])?;
            run(f, &ata::set_max_address_ext(native), DataDir::None, &mut []).map_err(|e| {
                io::Error::other(format!(
                    "SET MAX ADDRESS EXT to LBA {native} was refused: {e}"
                ))
            })?;
            done.push(format!(
                "HPA removed: SET MAX ADDRESS EXT to the native maximum LBA {native} (non-volatile)"
            ));
        }
    }
    let top = before
        .native_max_lba
        .unwrap_or(current_max)
        .max(current_max);
    if before.dco_max_lba.is_some_and(|d| d > top) {
        run(f, &ata::dco_restore(), DataDir::None, &mut []).map_err(|e| {
            io::Error::other(format!(
                "DEVICE CONFIGURATION RESTORE was refused ({e}); the DCO may be frozen (a power cycle \
                 or the drive's own tools may lift it)"
            ))
        })?;
        done.push(
            "DCO restored to the factory configuration (DEVICE CONFIGURATION RESTORE)".into(),
        );
    }
    let (after, why) = query_ata(f)?;
    if after.hidden_sectors > 0 {
        return Err(io::Error::other(format!(
            "the restore did not take: {} sectors are still hidden ({})",
            after.hidden_sectors,
            why.join("; ")
        )));
    }
    Ok(Some(Restored {
        before,
        after,
        done,
    }))
}

/// Looks for hidden areas on a probed target, through `f`, that very device (its open
/// descriptor is one).
pub fn read(probe: &Probe, f: &dyn Passthrough, transport: Transport) -> Outcome {
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
        // A device that takes no SCSI commands at all (SG_IO refused: a loop device, a
        // virtual disk), even with --transport ata: there is no ATA drive behind it.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(nix::libc::EINVAL | nix::libc::ENOTTY | nix::libc::EOPNOTSUPP)
            ) =>
        {
            Outcome::NotApplicable(format!("the device takes no ATA or SCSI commands ({e})"))
        }
        // A USB device that does not take ATA commands (a stick, a card reader): no ATA
        // limits to hide sectors behind.
        Err(e) if e.kind() == io::ErrorKind::Unsupported && iface == "usb" => {
            Outcome::NotApplicable(format!("not an ATA device behind its bridge ({e})"))
        }
        Err(e) => Outcome::Unknown(format!("could not read HPA/DCO limits: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::nvme::AdminCmd;

    /// A SATA drive behind the passthrough door: `sectors` addressable, `native` sectors in
    /// all (an HPA hides the rest), no DCO; or one that rejects every ATA command.
    struct FakeAta {
        sectors: u64,
        native: u64,
        rejects: bool,
    }

    /// A drive whose HPA can be removed (or not): SET MAX ADDRESS EXT takes effect only right
    /// after READ NATIVE MAX ADDRESS EXT, as ACS says.
    struct Hpa {
        sectors: std::sync::Mutex<u64>,
        native: u64,
        read_native_last: std::sync::Mutex<bool>,
        refuses_set: bool,
        sent: std::sync::Mutex<Vec<Vec<u8>>>,
    }

    impl Passthrough for Hpa {
        fn nvme(&self, _: &AdminCmd, _: &mut [u8]) -> io::Result<(u16, u32)> {
            Err(io::Error::other("not NVMe"))
        }
        fn scsi(
            &self,
            cdb: &[u8],
            d: DataDir,
            data: &mut [u8],
            t: u32,
        ) -> io::Result<(u8, Vec<u8>)> {
            self.sent.lock().unwrap().push(cdb.to_vec());
            let was_native =
                std::mem::replace(&mut *self.read_native_last.lock().unwrap(), cdb[14] == 0x27);
            let inner = FakeAta {
                sectors: *self.sectors.lock().unwrap(),
                native: self.native,
                rejects: false,
            };
            match cdb[14] {
                0x37 if self.refuses_set => Ok((
                    0x02,
                    vec![
                        0x72, 0x0b, 0x00, 0x00, 0, 0, 0, 14, 0x09, 0x0c, 0x00, 0x04, 0, 0, 0, 0, 0,
                        0, 0, 0, 0x40, 0x51,
                    ],
                )),
                0x37 if was_native => {
                    let l = u64::from(cdb[8])
                        | u64::from(cdb[10]) << 8
                        | u64::from(cdb[12]) << 16
                        | u64::from(cdb[7]) << 24
                        | u64::from(cdb[9]) << 32
                        | u64::from(cdb[11]) << 40;
                    *self.sectors.lock().unwrap() = l + 1;
                    Ok((
                        0x02,
                        vec![
                            0x72, 0x01, 0x00, 0x1d, 0, 0, 0, 14, 0x09, 0x0c, 0x00, 0, 0, 0, 0, 0,
                            0, 0, 0, 0, 0x40, 0x50,
                        ],
                    ))
                }
                _ => inner.scsi(cdb, d, data, t),
            }
        }
    }

    #[test]
    fn an_hpa_is_removed_with_hdparms_bytes_and_checked_again() {
        let d = Hpa {
            sectors: std::sync::Mutex::new(1000),
            native: 3000,
            read_native_last: std::sync::Mutex::new(false),
            refuses_set: false,
            sent: std::sync::Mutex::new(vec![]),
        };
        let r = restore(&d).unwrap().expect("an HPA to remove");
        assert_eq!((r.before.hidden_sectors, r.after.hidden_sectors), (2000, 0));
        assert_eq!(r.after.sectors, 3000);
        assert!(r.done[0].contains("LBA 2999"), "{:?}", r.done);
        let sent = d.sent.lock().unwrap();
        let i = sent.iter().position(|c| c[14] == 0x37).unwrap();
        assert_eq!(
            sent[i - 1],
            ata::read_native_max_ext().to_vec(),
            "READ NATIVE MAX first"
        );
        assert_eq!(sent[i], ata::set_max_address_ext(2999).to_vec());
        drop(sent);
        assert!(restore(&d).unwrap().is_none(), "nothing hidden any more");
        // A drive that refuses: the restore does not take, and says why.
        let stuck = Hpa {
            refuses_set: true,
            sectors: std::sync::Mutex::new(1000),
            native: 3000,
            read_native_last: std::sync::Mutex::new(false),
            sent: std::sync::Mutex::new(vec![]),
        };
        let e = restore(&stuck).unwrap_err().to_string();
        assert!(
            e.contains("SET MAX ADDRESS EXT to LBA 2999 was refused"),
            "{e}"
        );
    }

    /// A drive with the Accessible Max Address feature set (word 119 bit 8) whose firmware no
    /// longer takes the obsolete READ NATIVE MAX / SET MAX ADDRESS (it aborts them).
    struct Ama {
        sectors: std::sync::Mutex<u64>,
        native: u64,
        sent: std::sync::Mutex<Vec<Vec<u8>>>,
    }

    impl Passthrough for Ama {
        fn nvme(&self, _: &AdminCmd, _: &mut [u8]) -> io::Result<(u16, u32)> {
            Err(io::Error::other("not NVMe"))
        }
        fn scsi(
            &self,
            cdb: &[u8],
            _: DataDir,
            data: &mut [u8],
            _: u32,
        ) -> io::Result<(u8, Vec<u8>)> {
            self.sent.lock().unwrap().push(cdb.to_vec());
            let ok = |lba: u64| {
                let l = lba.to_le_bytes();
                Ok((
                    0x02,
                    vec![
                        0x72, 0x01, 0x00, 0x1d, 0, 0, 0, 14, 0x09, 0x0c, 0x01, 0x00, 0, 0, l[3],
                        l[0], l[4], l[1], l[5], l[2], 0x40, 0x50,
                    ],
                ))
            };
            let features = u16::from_be_bytes([cdb[3], cdb[4]]);
            match cdb[14] {
                0xEC => {
                    data.fill(0);
                    let mut put =
                        |w: usize, v: u16| data[2 * w..2 * w + 2].copy_from_slice(&v.to_le_bytes());
                    put(83, 0x4000 | 1 << 10); // valid, 48-bit
                    put(119, 0x4000 | 1 << 8); // valid, Accessible Max Address Configuration
                    for i in 0..4 {
                        put(100 + i, (*self.sectors.lock().unwrap() >> (16 * i)) as u16);
                    }
                    Ok((0, vec![]))
                }
                0x78 if features == 0 => ok(self.native - 1),
                0x78 if features == 1 => {
                    let l = u64::from(cdb[8])
                        | u64::from(cdb[10]) << 8
                        | u64::from(cdb[12]) << 16
                        | u64::from(cdb[7]) << 24
                        | u64::from(cdb[9]) << 32
                        | u64::from(cdb[11]) << 40;
                    *self.sectors.lock().unwrap() = l + 1;
                    ok(0)
                }
                // ABRT for the obsolete commands.
                _ => Ok((
                    0x02,
                    vec![
                        0x72, 0x0b, 0x00, 0x00, 0, 0, 0, 14, 0x09, 0x0c, 0x00, 0x04, 0, 0, 0, 0, 0,
                        0, 0, 0, 0x40, 0x51,
                    ],
                )),
            }
        }
    }

    #[test]
    fn an_ama_drive_is_read_and_restored_with_the_ama_commands_as_hdparm_sends_them() {
        let d = Ama {
            sectors: std::sync::Mutex::new(1000),
            native: 3000,
            sent: std::sync::Mutex::new(vec![]),
        };
        let (s, _) = query_ata(&d).unwrap();
        assert_eq!((s.native_max_lba, s.hidden_sectors), (Some(2999), 2000));
        let r = restore(&d).unwrap().expect("an AMA limit to remove");
        assert_eq!((r.before.hidden_sectors, r.after.hidden_sectors), (2000, 0));
        assert!(r.done[0].starts_with("AMA removed"), "{:?}", r.done);
        let sent = d.sent.lock().unwrap();
        assert!(sent.contains(&ata::get_native_max_ext().to_vec()));
        assert!(sent.contains(&ata::set_accessible_max_ext(2999).to_vec()));
        assert!(
            !sent.iter().any(|c| c[14] == 0x27 || c[14] == 0x37),
            "never the obsolete commands on an AMA drive"
        );
    }

    impl Passthrough for FakeAta {
        fn nvme(&self, _: &AdminCmd, _: &mut [u8]) -> io::Result<(u16, u32)> {
            Err(io::Error::other("not NVMe"))
        }
        fn scsi(
            &self,
            cdb: &[u8],
            _: DataDir,
            data: &mut [u8],
            _: u32,
        ) -> io::Result<(u8, Vec<u8>)> {
            if self.rejects {
                // CHECK CONDITION, ILLEGAL REQUEST (fixed format), as a SCSI disk answers.
                return Ok((
                    0x02,
                    vec![0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x20, 0x00],
                ));
            }
            match cdb[14] {
                0xEC => {
                    data.fill(0);
                    let mut put =
                        |w: usize, v: u16| data[2 * w..2 * w + 2].copy_from_slice(&v.to_le_bytes());
                    put(82, 1 << 10); // HPA feature set
                    put(83, 0x4000 | 1 << 10); // valid, 48-bit
                    for i in 0..4 {
                        put(100 + i, (self.sectors >> (16 * i)) as u16);
                    }
                    Ok((0, vec![]))
                }
                0x27 => {
                    // READ NATIVE MAX ADDRESS EXT: the LBA in an ATA Return descriptor.
                    let l = (self.native - 1).to_le_bytes();
                    Ok((
                        0x02,
                        vec![
                            0x72, 0x01, 0x00, 0x1d, 0, 0, 0, 14, 0x09, 0x0c, 0x01, 0x00, 0, 0,
                            l[3], l[0], l[4], l[1], l[5], l[2], 0x40, 0x50,
                        ],
                    ))
                }
                _ => Ok((0, vec![])),
            }
        }
    }

    fn sata() -> Probe {
        Probe {
            path: "/dev/sdz".into(),
            canonical: "/dev/sdz".into(),
            kind: Kind::Block,
            size: 1000 * 512,
            logical_block_size: 512,
            physical_block_size: 512,
            read_only: false,
            devno: Some((8, 0)),
            identity: crate::device::Identity {
                interface: "sata".into(),
                ..Default::default()
            },
            id: crate::device::FileId::default(),
            backing_id: None,
            born_ns: None,
            handle: None,
        }
    }

    #[test]
    fn an_hpa_is_found_through_the_passthrough_door() {
        let d = FakeAta {
            sectors: 1000,
            native: 3000,
            rejects: false,
        };
        match read(&sata(), &d, Transport::Auto) {
            Outcome::Read(s, why) => {
                assert_eq!(
                    (s.sectors, s.native_max_lba, s.hidden_sectors),
                    (1000, Some(2999), 2000)
                );
                assert!(why[0].contains("HPA"), "{why:?}");
            }
            other => panic!("{other:?}"),
        }
        let clean = FakeAta {
            sectors: 1000,
            native: 1000,
            rejects: false,
        };
        assert!(
            matches!(read(&sata(), &clean, Transport::Auto), Outcome::Read(s, _) if s.hidden_sectors == 0)
        );
    }

    #[test]
    fn a_drive_that_rejects_ata_is_unknown_or_not_applicable() {
        let d = FakeAta {
            sectors: 0,
            native: 1,
            rejects: true,
        };
        assert!(matches!(
            read(&sata(), &d, Transport::Auto),
            Outcome::Unknown(_)
        ));
        let mut sas = sata();
        sas.identity.interface = "sas".into();
        assert!(matches!(
            read(&sas, &d, Transport::Auto),
            Outcome::NotApplicable(_)
        ));
        let mut nvme = sata();
        nvme.identity.interface = "nvme".into();
        assert!(matches!(
            read(&nvme, &d, Transport::Auto),
            Outcome::NotApplicable(_)
        ));
    }
}
