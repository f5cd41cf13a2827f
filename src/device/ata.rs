//! ATA commands through SCSI ATA PASS-THROUGH(16) (SAT): the CDBs, and the decoding of what
//! comes back (IDENTIFY data, DCO IDENTIFY data, and the registers returned in sense data).
//! Pure: bytes in, values out; `ioctl::sg_io` is the only thing that touches a device.
//!
//! Used to find hidden areas: the Host Protected Area or Accessible Max Address (the drive
//! reports fewer sectors than READ NATIVE MAX ADDRESS EXT says it has) and the Device
//! Configuration Overlay (DCO IDENTIFY's maximum is above the native max).

/// The opcode of ATA PASS-THROUGH(16).
pub const PASS_THROUGH_16: u8 = 0x85;

/// SAT protocol field values we use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    NonData = 3,
    PioDataIn = 4,
    PioDataOut = 5,
}

/// An ATA command as the registers (task file) hold it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskFile {
    pub features: u16,
    pub count: u16,
    pub lba: u64,
    pub device: u8,
    pub command: u8,
}

/// Builds the 16-byte CDB. `extend` for 48-bit commands; `ck_cond` asks for the result
/// registers in the sense data; data-in transfers count 512-byte blocks in the COUNT field.
pub fn cdb(tf: &TaskFile, protocol: Protocol, extend: bool, ck_cond: bool) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = PASS_THROUGH_16;
    c[1] = ((protocol as u8) << 1) | u8::from(extend);
    c[2] = match protocol {
        // T_DIR from device, BYTE_BLOCK (blocks), T_LENGTH in the COUNT field.
        Protocol::PioDataIn => 0x08 | 0x04 | 0x02,
        // T_DIR to device, BYTE_BLOCK, T_LENGTH in the COUNT field.
        Protocol::PioDataOut => 0x04 | 0x02,
        Protocol::NonData => 0,
    } | if ck_cond { 0x20 } else { 0 };
    let [f_hi, f_lo] = tf.features.to_be_bytes();
    let [n_hi, n_lo] = tf.count.to_be_bytes();
    let l = tf.lba.to_le_bytes();
    c[3] = f_hi;
    c[4] = f_lo;
    c[5] = n_hi;
    c[6] = n_lo;
    c[7] = l[3];
    c[8] = l[0];
    c[9] = l[4];
    c[10] = l[1];
    c[11] = l[5];
    c[12] = l[2];
    c[13] = tf.device;
    c[14] = tf.command;
    c
}

/// IDENTIFY DEVICE (0xEC): 512 bytes in.
pub fn identify() -> [u8; 16] {
    cdb(
        &TaskFile {
            count: 1,
            device: 0x40,
            command: 0xEC,
            ..TaskFile::default()
        },
        Protocol::PioDataIn,
        false,
        false,
    )
}

/// READ NATIVE MAX ADDRESS EXT (0x27): the result LBA comes back in the sense data.
pub fn read_native_max_ext() -> [u8; 16] {
    cdb(
        &TaskFile {
            device: 0x40,
            command: 0x27,
            ..TaskFile::default()
        },
        Protocol::NonData,
        true,
        true,
    )
}

/// GET NATIVE MAX ADDRESS EXT (0x78, feature 0000h), of the Accessible Max Address
/// Configuration feature set (ACS-3), which replaces READ NATIVE MAX ADDRESS EXT on drives
/// that have it: the result LBA comes back in the sense data. As `hdparm -N` sends it to such
/// a drive.
pub fn get_native_max_ext() -> [u8; 16] {
    cdb(
        &TaskFile {
            device: 0x40,
            command: 0x78,
            ..TaskFile::default()
        },
        Protocol::NonData,
        true,
        true,
    )
}

/// SET ACCESSIBLE MAX ADDRESS EXT (0x78, feature 0001h) to `max_lba` (non-volatile by
/// definition): removes an AMA limit when `max_lba` is the native maximum. Byte for byte as
/// `hdparm -N p` sends it to a drive with the AMA feature set (COUNT 1, DEVICE E0h).
pub fn set_accessible_max_ext(max_lba: u64) -> [u8; 16] {
    cdb(
        &TaskFile {
            features: 0x0001,
            count: 1,
            lba: max_lba,
            device: 0xE0,
            command: 0x78,
        },
        Protocol::NonData,
        true,
        true,
    )
}

/// DEVICE CONFIGURATION IDENTIFY (0xB1, feature 0xC2): 512 bytes in.
pub fn dco_identify() -> [u8; 16] {
    cdb(
        &TaskFile {
            features: 0xC2,
            count: 1,
            device: 0x40,
            command: 0xB1,
            ..TaskFile::default()
        },
        Protocol::PioDataIn,
        false,
        false,
    )
}

/// SET MAX ADDRESS EXT (0x37) to `max_lba`, non-volatile (COUNT bit 0, as `hdparm -N p`):
/// removes a Host Protected Area when `max_lba` is the native maximum. ACS requires READ NATIVE
/// MAX ADDRESS EXT immediately before it.
pub fn set_max_address_ext(max_lba: u64) -> [u8; 16] {
    cdb(
        &TaskFile {
            count: 1,
            lba: max_lba,
            device: 0x40,
            command: 0x37,
            ..TaskFile::default()
        },
        Protocol::NonData,
        true,
        true,
    )
}

/// DEVICE CONFIGURATION RESTORE (0xB1, feature 0xC0): the factory configuration back, the
/// DCO's hidden sectors with it (aborted by the drive if the DCO is frozen or an HPA is set).
pub fn dco_restore() -> [u8; 16] {
    cdb(
        &TaskFile {
            features: 0xC0,
            device: 0x40,
            command: 0xB1,
            ..TaskFile::default()
        },
        Protocol::NonData,
        false,
        true,
    )
}

/// SANITIZE DEVICE (0xB4) sub-commands (the FEATURES field) and their signature LBAs.
fn sanitize_cmd(features: u16, lba: u64, count: u16) -> [u8; 16] {
    cdb(
        &TaskFile {
            features,
            count,
            lba,
            device: 0x40,
            command: 0xB4,
        },
        Protocol::NonData,
        true,
        true,
    )
}

/// The fields of an ATA PASS-THROUGH(16) CDB (as [`cdb`] lays them out), named: the ATA
/// command, its feature and the options in its COUNT and LBA registers.
pub fn describe(c: &[u8]) -> Option<String> {
    if c.len() != 16 || c[0] != PASS_THROUGH_16 {
        return None;
    }
    let features = u16::from_be_bytes([c[3], c[4]]);
    let count = u16::from_be_bytes([c[5], c[6]]);
    let lba = u64::from_le_bytes([c[8], c[10], c[12], c[7], c[9], c[11], 0, 0]);
    let protocol = match (c[1] >> 1) & 0xF {
        3 => "non-data",
        4 => "PIO data-in",
        5 => "PIO data-out",
        _ => "other",
    };
    let what = match (c[14], features) {
        (0xB4, 0x0000) if count & 1 == 1 => {
            "SANITIZE STATUS EXT, CLEAR SANITIZE OPERATION FAILED".to_string()
        }
        (0xB4, 0x0000) => "SANITIZE STATUS EXT".to_string(),
        (0xB4, 0x0011) => format!(
            "SANITIZE CRYPTO SCRAMBLE EXT, FAILURE MODE {}",
            (count >> 4) & 1
        ),
        (0xB4, 0x0012) => format!(
            "SANITIZE BLOCK ERASE EXT, FAILURE MODE {}",
            (count >> 4) & 1
        ),
        (0xB4, 0x0014) => format!(
            "SANITIZE OVERWRITE EXT, passes {} , INVERT {}, FAILURE MODE {}, pattern {:#010x}",
            match count & 0xF {
                0 => 16,
                n => n,
            },
            (count >> 7) & 1,
            (count >> 4) & 1,
            lba & 0xFFFF_FFFF
        )
        .replace(" ,", ","),
        (0xB4, 0x0020) => "SANITIZE FREEZE LOCK EXT".to_string(),
        (0xF1, _) => "SECURITY SET PASSWORD (password in the data block)".to_string(),
        (0xF2, _) => "SECURITY UNLOCK (password in the data block)".to_string(),
        (0xF3, _) => "SECURITY ERASE PREPARE".to_string(),
        (0xF4, _) => {
            "SECURITY ERASE UNIT (normal or enhanced: the data block's word 0)".to_string()
        }
        (0xF6, _) => "SECURITY DISABLE PASSWORD".to_string(),
        (cmd, f) => format!("ATA command {cmd:#04x}, FEATURES {f:#06x}"),
    };
    Some(format!(
        "ATA {what} (command {:#04x}, {protocol}, COUNT {count:#06x}, LBA {lba:#014x})",
        c[14]
    ))
}

/// The fields of the start of a SECURITY command's data block ([`security_data`]).
pub fn describe_security_data(d: &[u8]) -> Option<String> {
    let word0 = u16::from_le_bytes([*d.first()?, *d.get(1)?]);
    let password: String = d
        .get(2..34)?
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
        .collect();
    Some(format!(
        "word 0 {word0:#06x} = {} password{}; password {password:?}",
        if word0 & 1 == 1 { "master" } else { "user" },
        if word0 & ENHANCED != 0 {
            ", ENHANCED erase"
        } else {
            ""
        }
    ))
}

/// SANITIZE STATUS EXT: the result (progress, status) comes back in the sense data.
pub fn sanitize_status() -> [u8; 16] {
    sanitize_cmd(0x0000, 0, 0)
}

/// SANITIZE STATUS EXT with CLEAR SANITIZE OPERATION FAILED (COUNT bit 0): leaves the
/// failure mode of a sanitize that was started with FAILURE MODE 1.
pub fn sanitize_status_clear_failure() -> [u8; 16] {
    sanitize_cmd(0x0000, 0, 1)
}

/// CRYPTO SCRAMBLE EXT (signature "Cryp"); `failure_mode` lets a failed sanitize be exited.
pub fn sanitize_crypto_scramble(failure_mode: bool) -> [u8; 16] {
    sanitize_cmd(0x0011, 0x4372_7970, if failure_mode { 0x10 } else { 0 })
}

/// BLOCK ERASE EXT (signature "BkEr").
pub fn sanitize_block_erase(failure_mode: bool) -> [u8; 16] {
    sanitize_cmd(0x0012, 0x426B_4572, if failure_mode { 0x10 } else { 0 })
}

/// OVERWRITE EXT (signature "OW" above the 32-bit pattern): `passes` 1..=16 (16 is sent as
/// 0), `invert` the pattern between passes.
pub fn sanitize_overwrite(pattern: u32, passes: u8, invert: bool, failure_mode: bool) -> [u8; 16] {
    let count = u16::from(passes.clamp(1, 16) & 0x0F)
        | if failure_mode { 0x10 } else { 0 }
        | if invert { 0x80 } else { 0 };
    sanitize_cmd(0x0014, 0x4F57 << 32 | u64::from(pattern), count)
}

/// SANITIZE FREEZE LOCK EXT (signature "FrLk").
pub fn sanitize_freeze_lock() -> [u8; 16] {
    sanitize_cmd(0x0020, 0x4672_4C6B, 0)
}

/// The 512-byte data of the SECURITY commands that carry a password: word 0 holds the flags,
/// bytes 2..34 the password (padded with zeros).
pub fn security_data(password: &[u8], master: bool, extra_flags: u16) -> [u8; 512] {
    let mut d = [0u8; 512];
    d[0..2].copy_from_slice(&(u16::from(master) | extra_flags).to_le_bytes());
    let n = password.len().min(32);
    d[2..2 + n].copy_from_slice(&password[..n]);
    d
}

fn security_out(command: u8) -> [u8; 16] {
    cdb(
        &TaskFile {
            count: 1,
            device: 0x40,
            command,
            ..TaskFile::default()
        },
        Protocol::PioDataOut,
        false,
        false,
    )
}

/// SECURITY SET PASSWORD (0xF1); data from [`security_data`] (word 0 bit 8: maximum level).
pub fn security_set_password() -> [u8; 16] {
    security_out(0xF1)
}

/// SECURITY UNLOCK (0xF2).
pub fn security_unlock() -> [u8; 16] {
    security_out(0xF2)
}

/// SECURITY ERASE PREPARE (0xF3), which must come right before ERASE UNIT.
pub fn security_erase_prepare() -> [u8; 16] {
    cdb(
        &TaskFile {
            device: 0x40,
            command: 0xF3,
            ..TaskFile::default()
        },
        Protocol::NonData,
        false,
        true,
    )
}

/// SECURITY ERASE UNIT (0xF4); data word 0 bit 1 selects the enhanced erase.
pub fn security_erase_unit() -> [u8; 16] {
    security_out(0xF4)
}

/// The ERASE UNIT data word-0 flag for the enhanced erase.
pub const ENHANCED: u16 = 1 << 1;

/// SECURITY DISABLE PASSWORD (0xF6).
pub fn security_disable_password() -> [u8; 16] {
    security_out(0xF6)
}

/// The ATA registers returned in sense data (CK_COND).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtaReturn {
    pub error: u8,
    pub status: u8,
    pub count: u16,
    pub lba: u64,
    /// False if the sense format could only carry the low 24 LBA bits and the upper were not 0.
    pub lba_complete: bool,
    /// False if the sense format could only carry COUNT 7:0 and COUNT 15:8 was not 0 (fixed
    /// format: the flags of SANITIZE STATUS EXT are then unknown).
    pub count_complete: bool,
}

/// Decodes the ATA return registers from sense data: descriptor format (0x72/0x73, ATA Status
/// Return descriptor 0x09) or fixed format (0x70/0x71, SAT layout).
///
/// # Errors
/// A description of what the sense data lacks.
pub fn decode_return(sense: &[u8]) -> Result<AtaReturn, String> {
    match sense.first().map(|b| b & 0x7F) {
        Some(0x72) | Some(0x73) => {
            let total = 8 + usize::from(*sense.get(7).unwrap_or(&0));
            let mut at = 8;
            while at + 2 <= total.min(sense.len()) {
                let (kind, len) = (sense[at], usize::from(sense[at + 1]));
                if kind == 0x09 && len >= 12 && at + 14 <= sense.len() {
                    let d = &sense[at..at + 14];
                    let ext = d[2] & 1 == 1;
                    let lba = u64::from(d[7])
                        | u64::from(d[9]) << 8
                        | u64::from(d[11]) << 16
                        | if ext {
                            u64::from(d[6]) << 24 | u64::from(d[8]) << 32 | u64::from(d[10]) << 40
                        } else {
                            0
                        };
                    let count = u16::from(d[5]) | if ext { u16::from(d[4]) << 8 } else { 0 };
                    return Ok(AtaReturn {
                        error: d[3],
                        status: d[13],
                        count,
                        lba,
                        lba_complete: true,
                        count_complete: true,
                    });
                }
                at += 2 + len;
            }
            Err("descriptor sense without an ATA Status Return descriptor".into())
        }
        Some(0x70) | Some(0x71) if sense.len() >= 15 => {
            // INFORMATION = error, status, device, count(7:0); byte 8 flags (EXTEND, COUNT UPPER
            // NONZERO, LBA UPPER NONZERO); bytes 9..11 = LBA 7:0..23:16
            let upper_nonzero = sense[8] & 0x20 != 0;
            let count_upper_nonzero = sense[8] & 0x40 != 0;
            let lba = u64::from(sense[9]) | u64::from(sense[10]) << 8 | u64::from(sense[11]) << 16;
            Ok(AtaReturn {
                error: sense[3],
                status: sense[4],
                count: u16::from(sense[6]),
                lba,
                lba_complete: !upper_nonzero,
                count_complete: !count_upper_nonzero,
            })
        }
        _ => Err(format!("no usable sense data ({} bytes)", sense.len())),
    }
}

fn word(d: &[u8; 512], i: usize) -> u16 {
    u16::from_le_bytes([d[2 * i], d[2 * i + 1]])
}

/// ATA strings are words with the two bytes swapped, padded with spaces.
fn ata_string(d: &[u8; 512], words: std::ops::Range<usize>) -> String {
    let mut s = Vec::new();
    for i in words {
        s.push(d[2 * i + 1]);
        s.push(d[2 * i]);
    }
    String::from_utf8_lossy(&s)
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string()
}

/// What IDENTIFY DEVICE says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identify {
    pub model: String,
    pub serial: String,
    pub firmware: String,
    /// 48-bit addressing supported.
    pub lba48: bool,
    /// User-addressable sectors now (words 100-103, or 60-61 without 48-bit).
    pub sectors: u64,
    pub hpa_supported: bool,
    pub hpa_enabled: bool,
    pub dco_supported: bool,
    /// Accessible Max Address Configuration (ACS-3) supported.
    pub ama_supported: bool,
    /// Word 59: the SANITIZE feature set and which of its commands.
    pub sanitize: bool,
    pub sanitize_crypto: bool,
    pub sanitize_block: bool,
    pub sanitize_overwrite: bool,
    /// Word 128: the SECURITY feature set and its state.
    pub security: bool,
    pub security_enabled: bool,
    pub security_locked: bool,
    pub security_frozen: bool,
    /// Word 128 bit 4: five wrong passwords were tried; the drive takes no more until it is
    /// power-cycled.
    pub security_count_expired: bool,
    pub security_enhanced_erase: bool,
    /// Words 89/90: estimated minutes for normal and enhanced SECURITY ERASE (0: unknown).
    pub erase_minutes: u32,
    pub enhanced_erase_minutes: u32,
    /// The estimate is the largest the field can hold: the erase takes at least that long.
    pub erase_at_least: bool,
    pub enhanced_erase_at_least: bool,
    /// Word 217, NOMINAL MEDIA ROTATION RATE: 0 not reported, 1 non-rotating (solid state),
    /// 0401h-FFFEh revolutions per minute; other values reserved.
    pub rotation_rate: u16,
    /// Word 169 bit 0: DATA SET MANAGEMENT (TRIM) supported, which magnetic drives rarely have.
    pub trim: bool,
    /// Word 69 bit 5: trimmed blocks read as zeros (RZAT).
    pub trim_reads_zero: bool,
}

/// Words 89/90: bit 15 selects the extended format (bits 14:0) else bits 7:0; units of two
/// minutes; 0 means not reported. The largest value (7FFFh, or FFh) means "more than" the
/// one below it: more than 65532 (508) minutes, as ACS states it; the minutes are then a
/// lower bound (the second value is true).
fn erase_time(w: u16) -> (u32, bool) {
    let (v, max) = if w & 0x8000 != 0 {
        (w & 0x7FFF, 0x7FFF)
    } else {
        (w & 0x00FF, 0x00FF)
    };
    if v == max {
        (u32::from(max - 1) * 2, true)
    } else {
        (u32::from(v) * 2, false)
    }
}

/// Parses IDENTIFY DEVICE data (ACS-3 word numbers).
pub fn parse_identify(d: &[u8; 512]) -> Identify {
    let lba48 = word(d, 83) & (1 << 10) != 0;
    let sectors = if lba48 {
        (0..4)
            .map(|i| u64::from(word(d, 100 + i)) << (16 * i))
            .sum()
    } else {
        u64::from(word(d, 60)) | u64::from(word(d, 61)) << 16
    };
    let valid = |w: u16| w != 0xFFFF && w & 0xC000 == 0x4000;
    Identify {
        model: ata_string(d, 27..47),
        serial: ata_string(d, 10..20),
        firmware: ata_string(d, 23..27),
        lba48,
        sectors,
        hpa_supported: valid(word(d, 83)) && word(d, 82) & (1 << 10) != 0,
        hpa_enabled: valid(word(d, 83)) && word(d, 85) & (1 << 10) != 0,
        dco_supported: valid(word(d, 83)) && word(d, 83) & (1 << 11) != 0,
        ama_supported: valid(word(d, 119)) && word(d, 119) & (1 << 8) != 0,
        sanitize: word(d, 59) & (1 << 12) != 0,
        sanitize_crypto: word(d, 59) & (1 << 12) != 0 && word(d, 59) & (1 << 13) != 0,
        sanitize_overwrite: word(d, 59) & (1 << 12) != 0 && word(d, 59) & (1 << 14) != 0,
        sanitize_block: word(d, 59) & (1 << 12) != 0 && word(d, 59) & (1 << 15) != 0,
        security: word(d, 128) & 1 != 0,
        security_enabled: word(d, 128) & (1 << 1) != 0,
        security_locked: word(d, 128) & (1 << 2) != 0,
        security_frozen: word(d, 128) & (1 << 3) != 0,
        security_count_expired: word(d, 128) & (1 << 4) != 0,
        security_enhanced_erase: word(d, 128) & (1 << 5) != 0,
        erase_minutes: erase_time(word(d, 89)).0,
        enhanced_erase_minutes: erase_time(word(d, 90)).0,
        erase_at_least: erase_time(word(d, 89)).1,
        enhanced_erase_at_least: erase_time(word(d, 90)).1,
        rotation_rate: word(d, 217),
        trim: word(d, 169) & 1 != 0,
        trim_reads_zero: word(d, 69) & (1 << 5) != 0,
    }
}

/// The maximum LBA a DCO IDENTIFY page allows (words 3-6), if the page's signature and
/// checksum (word 255) are right.
pub fn parse_dco_max_lba(d: &[u8; 512]) -> Option<u64> {
    let sum = d.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    if d[510] != 0xA5 || sum != 0 {
        return None;
    }
    Some((0..4).map(|i| u64::from(word(d, 3 + i)) << (16 * i)).sum())
}

/// Sectors beyond what the host can address now, and why, from the current count, the native
/// max LBA and the DCO max LBA.
pub fn hidden_sectors(
    current: u64,
    native_max_lba: Option<u64>,
    dco_max_lba: Option<u64>,
) -> (u64, Vec<String>) {
    let mut why = Vec::new();
    // ATA addresses are 48-bit; saturate rather than trust a nonsense answer to fit.
    let native = native_max_lba.map(|l| l.saturating_add(1));
    let mut top = current;
    if let Some(n) = native.filter(|&n| n > current) {
        why.push(format!(
            "HPA/AMA hides {} sectors ({current} addressable of {n} native)",
            n - current
        ));
        top = n;
    }
    if let Some(d) = dco_max_lba
        .map(|l| l.saturating_add(1))
        .filter(|&d| d > native.unwrap_or(current).max(current))
    {
        why.push(format!(
            "DCO hides {} sectors ({} of {d} factory)",
            d - top,
            top
        ));
        top = d;
    }
    (top - current, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// The CDBs in an ioctlcap log (tests/data/ioctlcap, captured from hdparm 9.65).
    fn captured(log: &str) -> Vec<Vec<u8>> {
        log.lines()
            .filter_map(|l| l.strip_prefix("[cap] SG_IO cdb "))
            .map(hex)
            .collect()
    }

    #[test]
    fn cdbs_equal_hdparms() {
        let i = captured(include_str!("../../tests/data/ioctlcap/hdparm-I.txt"));
        let n = captured(include_str!("../../tests/data/ioctlcap/hdparm-N.txt"));
        let d = captured(include_str!(
            "../../tests/data/ioctlcap/hdparm-dco-identify.txt"
        ));
        assert_eq!(i[0], identify().to_vec(), "hdparm -I: IDENTIFY DEVICE");
        assert_eq!(
            n[1],
            read_native_max_ext().to_vec(),
            "hdparm -N: READ NATIVE MAX ADDRESS EXT"
        );
        assert_eq!(
            d[0],
            dco_identify().to_vec(),
            "hdparm --dco-identify: DCO IDENTIFY"
        );
        // Removing an HPA (hdparm -N p7000: READ NATIVE MAX, then SET MAX to LBA 6999) and
        // restoring a DCO.
        let set = captured(include_str!("../../tests/data/ioctlcap/hdparm-N-p7000.txt"));
        assert_eq!(set[1], read_native_max_ext().to_vec());
        assert_eq!(
            set[2],
            set_max_address_ext(6999).to_vec(),
            "SET MAX ADDRESS EXT"
        );
        // A drive with the Accessible Max Address feature set: hdparm -N sends GET NATIVE MAX
        // ADDRESS EXT, -N p7000 SET ACCESSIBLE MAX ADDRESS EXT (no READ NATIVE MAX before it).
        let n = captured(include_str!("../../tests/data/ioctlcap/hdparm-N-ama.txt"));
        assert_eq!(
            n[1],
            get_native_max_ext().to_vec(),
            "GET NATIVE MAX ADDRESS EXT"
        );
        let set = captured(include_str!(
            "../../tests/data/ioctlcap/hdparm-N-p7000-ama.txt"
        ));
        assert_eq!(
            set[1],
            set_accessible_max_ext(6999).to_vec(),
            "SET ACCESSIBLE MAX ADDRESS EXT"
        );
        let r = captured(include_str!(
            "../../tests/data/ioctlcap/hdparm-dco-restore.txt"
        ));
        assert_eq!(r[0], dco_restore().to_vec(), "DEVICE CONFIGURATION RESTORE");
        // And the sense hdparm -N got back has the shape decode_return reads.
        let sense = include_str!("../../tests/data/ioctlcap/hdparm-N.txt")
            .lines()
            .find_map(|l| l.strip_prefix("[cap]   sense "))
            .map(hex)
            .unwrap();
        assert_eq!(&sense[..4], &[0x72, 0x01, 0x00, 0x1d]);
    }

    /// The captured CDBs (and data-out) of every hdparm sanitize/security capture.
    fn cdbs_in(name: &str) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let text = std::fs::read_to_string(format!(
            "{}/tests/data/ioctlcap/{name}.txt",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let mut out: Vec<(Vec<u8>, Option<Vec<u8>>)> = vec![];
        for l in text.lines() {
            if let Some(c) = l.strip_prefix("[cap] SG_IO cdb ") {
                out.push((hex(c), None));
            } else if let Some(d) = l.strip_prefix("[cap]   data-out ") {
                if let Some(last) = out.last_mut() {
                    last.1 = Some(hex(d));
                }
            }
        }
        out
    }

    #[test]
    fn sanitize_and_security_equal_hdparms() {
        assert_eq!(
            cdbs_in("hdparm-sanitize-status")[1].0,
            sanitize_status().to_vec()
        );
        assert_eq!(
            cdbs_in("hdparm-sanitize-block")[1].0,
            sanitize_block_erase(false).to_vec()
        );
        assert_eq!(
            cdbs_in("hdparm-sanitize-crypto")[1].0,
            sanitize_crypto_scramble(false).to_vec()
        );
        // hdparm --sanitize-overwrite hex:11223344 (its default count field 0 = 16 passes)
        assert_eq!(
            cdbs_in("hdparm-sanitize-overwrite")[1].0,
            sanitize_overwrite(0x1122_3344, 16, false, false).to_vec()
        );
        // --security-set-pass mediasan (user, high)
        let set = &cdbs_in("hdparm-security-set-pass")[0];
        assert_eq!(set.0, security_set_password().to_vec());
        assert_eq!(
            set.1.as_deref().unwrap(),
            &security_data(b"mediasan", false, 0)[..16]
        );
        // --security-erase: ERASE PREPARE then ERASE UNIT with the password.
        let e = cdbs_in("hdparm-security-erase");
        assert_eq!(e[1].0, security_erase_prepare().to_vec());
        assert_eq!(e[2].0, security_erase_unit().to_vec());
        assert_eq!(
            e[2].1.as_deref().unwrap(),
            &security_data(b"mediasan", false, 0)[..16]
        );
        let e = cdbs_in("hdparm-security-erase-enhanced");
        assert_eq!(
            e[2].1.as_deref().unwrap(),
            &security_data(b"mediasan", false, ENHANCED)[..16]
        );
        // --security-disable: UNLOCK, then DISABLE PASSWORD.
        let d = cdbs_in("hdparm-security-disable");
        assert_eq!(
            (d[0].0.clone(), d[1].0.clone()),
            (
                security_unlock().to_vec(),
                security_disable_password().to_vec()
            )
        );
    }

    #[test]
    fn identify_reports_sanitize_and_security_state() {
        let mut d = identify_data(1000, false);
        let mut put = |w: usize, v: u16| d[2 * w..2 * w + 2].copy_from_slice(&v.to_le_bytes());
        put(59, 1 << 12 | 1 << 13 | 1 << 15);
        put(128, 1 | 1 << 3 | 1 << 5);
        put(89, 0x8000 | 30);
        put(90, 45);
        put(217, 1);
        let id = parse_identify(&d);
        assert!(id.sanitize && id.sanitize_crypto && id.sanitize_block && !id.sanitize_overwrite);
        assert!(
            id.security && id.security_frozen && id.security_enhanced_erase && !id.security_locked
        );
        assert_eq!((id.erase_minutes, id.enhanced_erase_minutes), (60, 90));
        assert!(!id.erase_at_least && !id.enhanced_erase_at_least);
        assert_eq!(id.rotation_rate, 1, "non-rotating");
        assert_eq!(sanitize_overwrite(0, 3, true, true)[6], 0x80 | 0x10 | 3);
        assert_eq!(sanitize_freeze_lock()[4], 0x20);
    }

    #[test]
    fn saturated_erase_estimates_are_lower_bounds() {
        // Words 89/90: 00FFh (basic format) and FFFFh (extended, 7FFFh) mean "more than".
        assert_eq!(erase_time(0x00FF), (508, true));
        assert_eq!(erase_time(0xFFFF), (65532, true));
        assert_eq!(erase_time(0x00FE), (508, false));
        assert_eq!(erase_time(0x8000 | 0x7FFE), (65532, false));
        assert_eq!(erase_time(0x801E), (60, false));
        assert_eq!(erase_time(0x001E), (60, false));
        assert_eq!(erase_time(0), (0, false));
    }

    #[test]
    fn lba_bytes_go_where_sat_puts_them() {
        let tf = TaskFile {
            lba: 0x0000_6655_4433_2211,
            count: 0xBBAA,
            features: 0xDDCC,
            device: 0x40,
            command: 0x25,
        };
        let c = cdb(&tf, Protocol::NonData, true, false);
        assert_eq!(
            &c[3..15],
            &[0xDD, 0xCC, 0xBB, 0xAA, 0x44, 0x11, 0x55, 0x22, 0x66, 0x33, 0x40, 0x25]
        );
    }

    #[test]
    fn decodes_descriptor_and_fixed_sense() {
        // hdparm -N's captured sense shape (72 01 00 1d ... 09 0c), registers filled in. The ATA
        // Return descriptor holds LBA bytes as 31:24, 7:0, 39:32, 15:8, 47:40, 23:16.
        let d = hex("72 01 00 1d 00 00 00 0e 09 0c 01 00 00 00 5a af 00 6f 00 1c 40 50");
        let r = decode_return(&d).unwrap();
        assert_eq!(r.lba, 0x5A_1C_6F_AF);
        assert_eq!(r.status, 0x50);
        let d = hex("72 01 00 1d 00 00 00 0e 09 0c 01 00 00 00 74 af 70 6f 01 1c 40 50");
        assert_eq!(decode_return(&d).unwrap().lba, 0x01_70_74_1C_6F_AF);
        // Fixed format: only LBA 23:0, plus a flag when the upper bits are not zero.
        let f = hex("70 00 01 00 50 40 00 0a 80 af 6f 1c 00 1d 00 00 00 00");
        let r = decode_return(&f).unwrap();
        assert_eq!((r.lba, r.lba_complete, r.status), (0x1C6FAF, true, 0x50));
        let f = hex("70 00 01 00 50 40 00 0a a0 af 6f 1c 00 1d 00 00 00 00");
        assert!(!decode_return(&f).unwrap().lba_complete);
        assert!(decode_return(&[]).is_err());
        assert!(decode_return(&hex("72 05 24 00 00 00 00 00")).is_err());
    }

    fn identify_data(sectors: u64, hpa: bool) -> [u8; 512] {
        let mut d = [0u8; 512];
        let mut put = |w: usize, v: u16| d[2 * w..2 * w + 2].copy_from_slice(&v.to_le_bytes());
        put(82, if hpa { 1 << 10 } else { 0 });
        put(83, 0x4000 | 1 << 10 | 1 << 11);
        put(85, if hpa { 1 << 10 } else { 0 });
        put(119, 0x4000 | 1 << 8);
        for i in 0..4 {
            put(100 + i, (sectors >> (16 * i)) as u16);
        }
        let model = b"WDC WD40EFRX-68N32N0                    ";
        for (i, pair) in model.chunks(2).enumerate() {
            d[2 * (27 + i)] = pair[1];
            d[2 * (27 + i) + 1] = pair[0];
        }
        d
    }

    #[test]
    fn parses_identify() {
        let id = parse_identify(&identify_data(7_814_037_168, true));
        assert_eq!(id.model, "WDC WD40EFRX-68N32N0");
        assert!(
            id.lba48 && id.hpa_supported && id.hpa_enabled && id.dco_supported && id.ama_supported
        );
        assert_eq!(id.sectors, 7_814_037_168);
    }

    #[test]
    fn dco_page_needs_signature_and_checksum() {
        let mut d = [0u8; 512];
        d[6..14].copy_from_slice(&7_814_037_167u64.to_le_bytes());
        d[510] = 0xA5;
        let sum = d.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        d[511] = 0u8.wrapping_sub(sum);
        assert_eq!(parse_dco_max_lba(&d), Some(7_814_037_167));
        d[100] = 1;
        assert_eq!(parse_dco_max_lba(&d), None, "bad checksum");
    }

    #[test]
    fn finds_hidden_sectors() {
        assert_eq!(hidden_sectors(1000, Some(999), Some(999)).0, 0);
        let (n, why) = hidden_sectors(900, Some(999), None);
        assert_eq!(n, 100);
        assert!(why[0].contains("HPA/AMA hides 100"));
        let (n, why) = hidden_sectors(900, Some(949), Some(999));
        assert_eq!(n, 100);
        assert_eq!(why.len(), 2);
        assert_eq!(hidden_sectors(1000, None, None).0, 0);
    }
}
