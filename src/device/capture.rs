//! The door `mediasan capture` records a drive through: it passes only an allow-list of
//! read-only commands (anything else never reaches the drive), keeps each command with the
//! drive's answer, and blanks the serial numbers before the recording is kept. Pure apart
//! from the inner door it forwards to.

use std::io;
use std::sync::Mutex;

use super::fixture::{hex, nvme_key, Exchange};
use super::nvme::AdminCmd;
use super::passthrough::{DataDir, Passthrough};

/// What an ATA command inside ATA PASS-THROUGH is, if it only reads: IDENTIFY, SMART's reads,
/// the logs, the native max address, DCO IDENTIFY, SANITIZE STATUS EXT (without its CLEAR
/// bit), TRUSTED RECEIVE, CHECK POWER MODE.
fn ata_read_only(command: u8, features: u16, count: u16) -> Option<&'static str> {
    Some(match (command, features) {
        (0xEC, _) => "IDENTIFY DEVICE",
        (0xA1, _) => "IDENTIFY PACKET DEVICE",
        (0xB0, 0xD0) => "SMART READ DATA",
        (0xB0, 0xD1) => "SMART READ THRESHOLDS",
        (0xB0, 0xD5) => "SMART READ LOG",
        (0xB0, 0xDA) => "SMART RETURN STATUS",
        (0x2F, _) => "READ LOG EXT",
        (0x47, _) => "READ LOG DMA EXT",
        (0x27, _) => "READ NATIVE MAX ADDRESS EXT",
        (0xF8, _) => "READ NATIVE MAX ADDRESS",
        (0x78, 0x0000) => "GET NATIVE MAX ADDRESS EXT",
        (0xB1, 0xC2) => "DEVICE CONFIGURATION IDENTIFY",
        (0xB4, 0x0000) if count & 1 == 0 => "SANITIZE STATUS EXT",
        (0x5C, _) => "TRUSTED RECEIVE",
        (0x5D, _) => "TRUSTED RECEIVE DMA",
        (0xE5, _) => "CHECK POWER MODE",
        _ => return None,
    })
}

/// The name of a SCSI command (or ATA command through ATA PASS-THROUGH) that only reads, or
/// why it is refused. Nothing that sends data to the device passes.
///
/// # Errors
/// The command is not on the list.
pub fn allowed_scsi(cdb: &[u8], dir: DataDir) -> Result<&'static str, String> {
    let refuse = || format!("not a read-only command mediasan records: CDB {}", hex(cdb));
    if dir == DataDir::ToDevice || cdb.is_empty() {
        return Err(refuse());
    }
    let name = match cdb[0] {
        0x00 => "TEST UNIT READY",
        0x03 => "REQUEST SENSE",
        0x12 => "INQUIRY",
        0x1A => "MODE SENSE(6)",
        0x5A => "MODE SENSE(10)",
        0x25 => "READ CAPACITY(10)",
        0x9E if cdb.get(1).map(|b| b & 0x1F) == Some(0x10) => "READ CAPACITY(16)",
        0x4D => "LOG SENSE",
        0x37 => "READ DEFECT DATA(10)",
        0xB7 => "READ DEFECT DATA(12)",
        0xA3 if cdb.get(1).map(|b| b & 0x1F) == Some(0x0C) => "REPORT SUPPORTED OPERATION CODES",
        0xA2 => "SECURITY PROTOCOL IN",
        // ATA PASS-THROUGH(16): non-data or data in (T_DIR set), and a reading command.
        0x85 if cdb.len() == 16 => {
            let protocol = (cdb[1] >> 1) & 0x0F;
            let data_in = cdb[2] & 0x08 != 0;
            let reads = match protocol {
                3 => true,             // non-data
                4 | 10 | 6 => data_in, // PIO data-in, UDMA data-in, DMA
                _ => false,
            };
            let features = u16::from_be_bytes([cdb[3], cdb[4]]);
            let count = u16::from_be_bytes([cdb[5], cdb[6]]);
            match ata_read_only(cdb[14], features, count) {
                Some(n) if reads => n,
                _ => return Err(refuse()),
            }
        }
        _ => return Err(refuse()),
    };
    Ok(name)
}

/// The name of an NVMe admin command that only reads (Identify, Get Log Page, Get Features,
/// Security Receive), or why it is refused.
///
/// # Errors
/// The command is not on the list.
pub fn allowed_nvme(c: &AdminCmd) -> Result<&'static str, String> {
    match c.opcode {
        0x06 => Ok("Identify"),
        0x02 => Ok("Get Log Page"),
        0x0A => Ok("Get Features"),
        0x82 => Ok("Security Receive"),
        op => Err(format!(
            "not a read-only command mediasan records: NVMe admin opcode {op:#04x}"
        )),
    }
}

/// What a [`Recorder`] kept, shared with whoever reads it afterwards.
pub type Kept = std::sync::Arc<Mutex<Vec<Exchange>>>;

/// A door that lets only [`allowed_scsi`] and [`allowed_nvme`] commands through to `inner`,
/// and keeps each with the answer.
pub struct Recorder {
    inner: Box<dyn Passthrough + Send>,
    kept: Kept,
}

impl Recorder {
    /// The door over `inner`, and where what passes it is kept.
    pub fn new(inner: Box<dyn Passthrough + Send>) -> (Recorder, Kept) {
        let kept = Kept::default();
        (
            Recorder {
                inner,
                kept: kept.clone(),
            },
            kept,
        )
    }

    fn keep(&self, x: Exchange) {
        if let Ok(mut k) = self.kept.lock() {
            k.push(x);
        }
    }
}

/// What was kept, in the order sent.
pub fn taken(kept: &Kept) -> Vec<Exchange> {
    kept.lock().map(|k| k.clone()).unwrap_or_default()
}

fn refused(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, why)
}

impl Passthrough for Recorder {
    fn nvme(&self, cmd: &AdminCmd, data: &mut [u8]) -> io::Result<(u16, u32)> {
        let name = allowed_nvme(cmd).map_err(refused)?;
        let (status, result) = self.inner.nvme(cmd, data)?;
        self.keep(Exchange {
            command: name.into(),
            cdb: hex(&nvme_key(cmd)),
            status,
            result,
            data: hex(data),
            ..Exchange::default()
        });
        Ok((status, result))
    }

    fn scsi(
        &self,
        cdb: &[u8],
        dir: DataDir,
        data: &mut [u8],
        timeout_ms: u32,
    ) -> io::Result<(u8, Vec<u8>)> {
        let name = allowed_scsi(cdb, dir).map_err(refused)?;
        let (status, sense) = self.inner.scsi(cdb, dir, data, timeout_ms)?;
        self.keep(Exchange {
            command: name.into(),
            cdb: hex(cdb),
            status: u16::from(status),
            sense: hex(&sense),
            data: hex(data),
            ..Exchange::default()
        });
        Ok((status, sense))
    }
}

/// Blanks what names the one drive: ATA IDENTIFY's serial (words 10-19, the checksum put
/// right) and world wide name (words 108-111); NVMe Identify Controller's serial (bytes
/// 4-23) and Identify Namespace's NGUID and EUI64 (bytes 104-127); SCSI's Unit Serial Number
/// page (VPD 80h) and the vendor-specific bytes 36-55 of standard INQUIRY data, where some
/// drives put it. True if anything was blanked.
pub fn scrub(x: &mut Exchange) -> bool {
    let Ok(cdb) = super::fixture::unhex(&x.cdb) else {
        return false;
    };
    let Ok(mut data) = super::fixture::unhex(&x.data) else {
        return false;
    };
    fn blank(data: &mut [u8], from: usize, to: usize, with: u8) -> bool {
        let to = to.min(data.len());
        match data.get_mut(from..to) {
            Some(d) if !d.is_empty() => {
                d.fill(with);
                true
            }
            _ => false,
        }
    }
    let done = if x.command == "IDENTIFY DEVICE" && data.len() >= 512 {
        let mut id = [0u8; 512];
        id.copy_from_slice(&data[..512]);
        super::fixture::scrub_identify(&mut id);
        data[..512].copy_from_slice(&id);
        true
    } else if x.command == "Identify" && cdb.len() == 72 {
        match cdb[40] {
            0x01 => blank(&mut data, 4, 24, b' '),
            0x00 => blank(&mut data, 104, 128, 0),
            _ => false,
        }
    } else if x.command == "INQUIRY" && cdb.get(1).is_some_and(|b| b & 1 != 0) {
        match cdb.get(2) {
            Some(0x80) => {
                let n = data.len();
                blank(&mut data, 4, n, b' ')
            }
            _ => false,
        }
    } else if x.command == "INQUIRY" {
        // Standard INQUIRY: bytes 36-55 are the vendor's, where some put the serial number.
        blank(&mut data, 36, 56, b' ')
    } else {
        false
    };
    if done {
        x.data = hex(&data);
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command the door lets through is on the list: all 256 SCSI opcodes, and every
    /// ATA command under each ATA PASS-THROUGH protocol, in every direction.
    #[test]
    fn the_door_passes_only_read_only_commands() {
        let mut passed = std::collections::BTreeSet::new();
        for op in 0..=255u8 {
            for dir in [DataDir::None, DataDir::FromDevice, DataDir::ToDevice] {
                let mut cdb = [0u8; 16];
                cdb[0] = op;
                cdb[1] = 0x10; // READ CAPACITY(16)'s service action
                if op == 0xA3 {
                    cdb[1] = 0x0C;
                }
                if let Ok(n) = allowed_scsi(&cdb, dir) {
                    assert_ne!(dir, DataDir::ToDevice, "{n}");
                    passed.insert(op);
                }
            }
        }
        assert_eq!(
            passed.into_iter().collect::<Vec<_>>(),
            [0x00, 0x03, 0x12, 0x1A, 0x25, 0x37, 0x4D, 0x5A, 0x9E, 0xA2, 0xA3, 0xB7],
            "ATA PASS-THROUGH with ATA command 00h (NOP) is not on the list either"
        );
        // ATA PASS-THROUGH: no data-out protocol, no writing command, whatever the fields.
        let mut ata = std::collections::BTreeSet::new();
        for protocol in 0..16u8 {
            for command in 0..=255u8 {
                for features in [
                    0x0000u16, 0x0001, 0x00C0, 0x00C2, 0x00C3, 0x00D0, 0x00D6, 0x00DA, 0x0011,
                ] {
                    for count in [0u16, 1] {
                        for t_dir in [0u8, 0x08] {
                            let mut cdb = [0u8; 16];
                            cdb[0] = 0x85;
                            cdb[1] = protocol << 1;
                            cdb[2] = t_dir | 0x06;
                            cdb[3..5].copy_from_slice(&features.to_be_bytes());
                            cdb[5..7].copy_from_slice(&count.to_be_bytes());
                            cdb[14] = command;
                            if let Ok(n) = allowed_scsi(&cdb, DataDir::FromDevice) {
                                assert!(protocol == 3 || t_dir != 0, "{n}: data out");
                                ata.insert((command, n));
                            }
                        }
                    }
                }
            }
        }
        let names: Vec<&str> = ata.iter().map(|(_, n)| *n).collect();
        for writer in [
            "SECURITY",
            "ERASE",
            "SET",
            "WRITE",
            "DOWNLOAD",
            "FREEZE",
            "RESTORE",
            "CRYPTO",
            "OVERWRITE",
            "BLOCK",
        ] {
            assert!(
                !names.iter().any(|n| n.contains(writer)),
                "{writer}: {names:?}"
            );
        }
        let commands: std::collections::BTreeSet<u8> = ata.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            commands.into_iter().collect::<Vec<_>>(),
            [0x27, 0x2F, 0x47, 0x5C, 0x5D, 0x78, 0xA1, 0xB0, 0xB1, 0xB4, 0xE5, 0xEC, 0xF8]
        );
        // The few that share an opcode with a writing sub-command pass only as the reader.
        let sub = |command: u8, features: u16, count: u16| {
            let mut cdb = [0u8; 16];
            cdb[0] = 0x85;
            cdb[1] = 3 << 1;
            cdb[3..5].copy_from_slice(&features.to_be_bytes());
            cdb[5..7].copy_from_slice(&count.to_be_bytes());
            cdb[14] = command;
            allowed_scsi(&cdb, DataDir::None)
        };
        assert!(sub(0xB4, 0x0000, 0).is_ok(), "SANITIZE STATUS EXT");
        assert!(
            sub(0xB4, 0x0000, 1).is_err(),
            "... with CLEAR SANITIZE OPERATION FAILED"
        );
        assert!(sub(0xB4, 0x0011, 0).is_err(), "CRYPTO SCRAMBLE EXT");
        assert!(
            sub(0x78, 0x0001, 0).is_err(),
            "SET ACCESSIBLE MAX ADDRESS EXT"
        );
        assert!(sub(0xB1, 0x00C3, 0).is_err(), "DEVICE CONFIGURATION SET");
        assert!(sub(0xB0, 0x00D6, 0).is_err(), "SMART WRITE LOG");
        // NVMe: only the four readers.
        let ok: Vec<u8> = (0..=255u8)
            .filter(|op| {
                allowed_nvme(&AdminCmd {
                    opcode: *op,
                    ..AdminCmd::default()
                })
                .is_ok()
            })
            .collect();
        assert_eq!(ok, [0x02, 0x06, 0x0A, 0x82]);
    }

    /// A door that would answer anything: what reaches it is what the recorder let through.
    struct Anything(Mutex<Vec<u8>>);

    impl Passthrough for Anything {
        fn nvme(&self, c: &AdminCmd, data: &mut [u8]) -> io::Result<(u16, u32)> {
            self.0.lock().unwrap().push(c.opcode);
            data.fill(0x5A);
            Ok((0, 1))
        }
        fn scsi(
            &self,
            cdb: &[u8],
            _: DataDir,
            data: &mut [u8],
            _: u32,
        ) -> io::Result<(u8, Vec<u8>)> {
            self.0.lock().unwrap().push(cdb[0]);
            data.fill(0x5A);
            Ok((0, vec![]))
        }
    }

    #[test]
    fn a_refused_command_never_reaches_the_drive_and_a_read_is_kept_then_scrubbed() {
        let inner = std::sync::Arc::new(Anything(Mutex::new(vec![])));
        let (r, kept) = Recorder::new(Box::new(inner.clone()));
        let e = r
            .scsi(
                &super::super::ata::security_erase_unit(),
                DataDir::ToDevice,
                &mut [0; 512],
                0,
            )
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(r
            .nvme(
                &AdminCmd {
                    opcode: 0x84,
                    ..AdminCmd::default()
                },
                &mut []
            )
            .is_err());
        assert!(
            inner.0.lock().unwrap().is_empty(),
            "nothing reached the drive"
        );
        let mut id = [0u8; 512];
        r.scsi(
            &super::super::ata::identify(),
            DataDir::FromDevice,
            &mut id,
            0,
        )
        .unwrap();
        let mut kept = taken(&kept);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].command, "IDENTIFY DEVICE");
        assert!(scrub(&mut kept[0]));
        let data = super::super::fixture::unhex(&kept[0].data).unwrap();
        assert_eq!(&data[20..40], &[b' '; 20]);
        assert_eq!(&data[216..224], &[0; 8]);
        assert_eq!(data[40], 0x5A, "the rest as the drive sent it");
    }
}
