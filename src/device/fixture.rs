//! What real drives answered, as recorded files: readers for the formats drive owners and
//! other tools save, and the scrubbing of a drive's serial number before a recording is
//! shared. Pure: bytes in, answers out. The corpus itself is `tests/data/drives/`.
//!
//! Formats read here, written from their descriptions:
//! - libatasmart's `skdump --save`: records of a 4-byte tag (`IDFY` IDENTIFY DEVICE, `SMST`
//!   the SMART status, `SMDT` the SMART data, `SMTH` the SMART thresholds), a big-endian
//!   32-bit length, then that many bytes.
//! - smartctl's `-r ataioctl,2` report: each command's data between `===== [NAME] DATA START
//!   (BASE-16) =====` and `===== [NAME] DATA END (N Bytes) =====`, sixteen bytes to a line
//!   (`000-015: 40 00 ... |@...|`); the form drive owners paste into smartmontools tickets.
//! - hdparm's `--Istdout`: the 256 IDENTIFY words in hex.
//! - CrystalDiskInfo's text report (Windows): per drive, `-- IDENTIFY_DEVICE ---` with the
//!   words ten to a line (`000: 0040 3FFF ...`, the word number in decimal, an ASCII column
//!   after them when shown), and `-- SMART_READ_DATA ---`, `-- SMART_READ_THRESHOLD ---` or
//!   `-- SMART_NVME ---` with the bytes sixteen to a line (`000: 01 00 ...`, offsets in hex).
//!   For an NVMe drive it keeps only the first 512 bytes of Identify Controller.
//! - plain binaries: 512 bytes of IDENTIFY DEVICE, 4096 of NVMe Identify Controller.

use serde::{Deserialize, Serialize};

use super::ata;
use super::nvme::AdminCmd;

/// The format name of mediasan's own recordings (`mediasan capture`).
pub const FORMAT: &str = "mediasan-capture/1";

/// A drive's answers to read-only commands, exactly as they came back: what a replay answers
/// with (and only with). mediasan's own recording format (JSON); other tools' files are read
/// into it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// [`FORMAT`].
    pub format: String,
    /// `ata`, `scsi` or `nvme`: the command set the drive was reached with.
    pub bus: String,
    /// Where it was recorded (`mediasan capture` and its version, or the file it was read from).
    pub source: String,
    /// The serial number was blanked before it was kept.
    pub serial_scrubbed: bool,
    /// The block device's size and logical block size when it was recorded.
    pub size: u64,
    pub logical_block_size: u32,
    /// Each command and its answer, in the order sent.
    pub exchanges: Vec<Exchange>,
}

/// One command and the drive's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// What it is, for people (`IDENTIFY DEVICE`).
    pub command: String,
    /// A SCSI CDB (ATA inside ATA PASS-THROUGH), hex; or, for NVMe, the 72 bytes of the admin
    /// command with the buffer address and timeout zero ([`nvme_key`]).
    pub cdb: String,
    /// SCSI status, or the NVMe status field.
    pub status: u16,
    /// SCSI sense data, hex (empty for NVMe).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sense: String,
    /// NVMe completion dword 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub result: u32,
    /// The data the drive returned, hex (empty: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data: String,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// An NVMe admin command as a recording keys it: the kernel's 72 bytes without the buffer's
/// address and the timeout, which differ from run to run.
pub fn nvme_key(c: &AdminCmd) -> Vec<u8> {
    AdminCmd {
        addr: 0,
        timeout_ms: 0,
        ..*c
    }
    .to_bytes()
    .to_vec()
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bytes from hex (spaces allowed between bytes).
///
/// # Errors
/// What is not hex.
pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let s: String = s.split_whitespace().collect();
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", s.len()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| format!("not hex: {:?}", &s[i..i + 2]))
        })
        .collect()
}

impl Recording {
    /// Reads a recording: mediasan's JSON, or an `skdump --save` file.
    ///
    /// # Errors
    /// A file that is neither, or is broken, named.
    pub fn read(bytes: &[u8], name: &str) -> Result<Recording, String> {
        if bytes.first() == Some(&b'{') {
            let r: Recording = serde_json::from_slice(bytes)
                .map_err(|e| format!("{name}: not a mediasan recording: {e}"))?;
            if r.format != FORMAT {
                return Err(format!(
                    "{name}: a recording in format {:?}, this mediasan reads {FORMAT}",
                    r.format
                ));
            }
            for x in &r.exchanges {
                for (what, h) in [("cdb", &x.cdb), ("sense", &x.sense), ("data", &x.data)] {
                    unhex(h).map_err(|e| format!("{name}: {} {what}: {e}", x.command))?;
                }
            }
            return Ok(r);
        }
        let skdump = bytes
            .get(..4)
            .is_some_and(|t| [b"IDFY", b"SMST", b"SMDT", b"SMTH"].iter().any(|k| t == *k));
        // A report of smartctl, hdparm or CrystalDiskInfo: text, not a binary's size (a
        // text file Windows saved may be UTF-16 with its byte order mark).
        let text = match bytes {
            [0xFF, 0xFE, rest @ ..] => String::from_utf16(
                &rest
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect::<Vec<_>>(),
            )
            .ok(),
            [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8(rest.to_vec()).ok(),
            _ => std::str::from_utf8(bytes).ok().map(str::to_string),
        };
        if let Some(text) = text.filter(|t| !skdump && !t.contains('\0')) {
            let text = text.as_str();
            if text.contains(CDI_IDENTIFY) {
                return from_crystaldiskinfo(text, name);
            }
            let (answers, what) = if text.contains(SMARTCTL_START) {
                (read_smartctl(text), "smartctl -r ataioctl,2 report")
            } else {
                let identify = read_istdout(text).map_err(|e| {
                    format!(
                        "{name}: neither a smartctl -r ataioctl,2 report nor hdparm --Istdout words ({e})"
                    )
                })?;
                let a = AtaAnswers {
                    identify: Some(Box::new(identify)),
                    ..AtaAnswers::default()
                };
                (Ok(a), "hdparm --Istdout words")
            };
            let answers = answers.map_err(|e| format!("{name}: {e}"))?;
            return Recording::from_ata(&answers, &format!("{what} {name}"))
                .ok_or_else(|| format!("{name}: the {what} has no IDENTIFY DEVICE"));
        }
        match bytes.len() {
            // A plain binary: IDENTIFY DEVICE, or NVMe Identify Controller.
            512 if !skdump => {
                let mut id = [0u8; 512];
                id.copy_from_slice(bytes);
                let a = AtaAnswers {
                    identify: Some(Box::new(id)),
                    ..AtaAnswers::default()
                };
                Recording::from_ata(&a, &format!("IDENTIFY DEVICE binary {name}"))
                    .ok_or_else(|| format!("{name}: no IDENTIFY DEVICE"))
            }
            4096 if !skdump => Ok(Recording::from_nvme_controller(
                bytes,
                &format!("Identify Controller binary {name}"),
            )),
            _ => {
                let answers = read_skdump(bytes).map_err(|e| format!("{name}: {e}"))?;
                Recording::from_ata(&answers, &format!("skdump file {name}"))
                    .ok_or_else(|| format!("{name}: the skdump file has no IDENTIFY DEVICE"))
            }
        }
    }

    /// The recording of an NVMe controller from its Identify Controller data alone (4096
    /// bytes): what mediasan asks first. Everything else it asks is not recorded.
    pub fn from_nvme_controller(id: &[u8], source: &str) -> Recording {
        Recording {
            format: FORMAT.into(),
            bus: "nvme".into(),
            source: source.into(),
            serial_scrubbed: id.get(4..24).is_some_and(|s| s.iter().all(|b| *b == b' ')),
            size: 0,
            logical_block_size: 512,
            exchanges: vec![Exchange {
                command: "Identify".into(),
                cdb: hex(&nvme_key(&super::nvme::identify_controller())),
                data: hex(id),
                ..Exchange::default()
            }],
        }
    }

    /// The recording of an ATA drive from its answers, as mediasan itself asks for them: the
    /// same CDBs it sends, so a replay answers them. `None` without IDENTIFY.
    pub fn from_ata(a: &AtaAnswers, source: &str) -> Option<Recording> {
        let id = a.identify.as_deref()?;
        let parsed = ata::parse_identify(id);
        let mut exchanges = vec![Exchange {
            command: "IDENTIFY DEVICE".into(),
            cdb: hex(&ata::identify()),
            data: hex(id),
            ..Exchange::default()
        }];
        if let Some(d) = &a.smart_data {
            exchanges.push(Exchange {
                command: "SMART READ DATA".into(),
                cdb: hex(&super::health::smart_read_data()),
                data: hex(d.as_slice()),
                ..Exchange::default()
            });
        }
        if let Some(ok) = a.smart_ok {
            // The verdict comes back in LBA mid/high, with CK_COND: CHECK CONDITION, RECOVERED
            // ERROR, 00h/1Dh and an ATA Status Return descriptor.
            let (mid, high) = if ok { (0x4F, 0xC2) } else { (0xF4, 0x2C) };
            let sense = [
                0x72, 0x01, 0x00, 0x1D, 0, 0, 0, 14, 0x09, 0x0C, 0x00, 0x00, 0, 0, 0, 0, 0, mid, 0,
                high, 0x00, 0x50,
            ];
            exchanges.push(Exchange {
                command: "SMART RETURN STATUS".into(),
                cdb: hex(&super::health::smart_return_status()),
                status: 2,
                sense: hex(&sense),
                ..Exchange::default()
            });
        }
        Some(Recording {
            format: FORMAT.into(),
            bus: "ata".into(),
            source: source.into(),
            serial_scrubbed: id[20..40].iter().all(|b| *b == b' '),
            size: parsed.sectors.saturating_mul(512),
            logical_block_size: 512,
            exchanges,
        })
    }
}

/// A drive's recorded answers to read-only ATA commands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AtaAnswers {
    /// IDENTIFY DEVICE, 512 bytes as the drive sent them.
    pub identify: Option<Box<[u8; 512]>>,
    /// SMART RETURN STATUS: true when the drive said no threshold is exceeded.
    pub smart_ok: Option<bool>,
    /// SMART READ DATA.
    pub smart_data: Option<Box<[u8; 512]>>,
    /// SMART READ THRESHOLDS (obsolete in ACS, still sent by many drives).
    pub smart_thresholds: Option<Box<[u8; 512]>>,
}

/// Reads an `skdump --save` file.
///
/// # Errors
/// A record that runs past the end, or a page that is not 512 bytes, named.
pub fn read_skdump(bytes: &[u8]) -> Result<AtaAnswers, String> {
    let mut out = AtaAnswers::default();
    let mut at = 0;
    while at < bytes.len() {
        let head = bytes
            .get(at..at + 8)
            .ok_or_else(|| format!("a record at byte {at} is cut short"))?;
        let tag = &head[..4];
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let body = bytes.get(at + 8..at + 8 + len).ok_or_else(|| {
            format!(
                "the {} record at byte {at} runs past the end",
                tag_name(tag)
            )
        })?;
        let page = |what: &str| -> Result<Box<[u8; 512]>, String> {
            <[u8; 512]>::try_from(body)
                .map(Box::new)
                .map_err(|_| format!("the {what} record is {len} bytes, not 512"))
        };
        match tag {
            b"IDFY" => out.identify = Some(page("IDENTIFY")?),
            b"SMDT" => out.smart_data = Some(page("SMART data")?),
            b"SMTH" => out.smart_thresholds = Some(page("SMART thresholds")?),
            b"SMST" => {
                let v = <[u8; 4]>::try_from(body)
                    .map_err(|_| format!("the SMART status record is {len} bytes, not 4"))?;
                out.smart_ok = Some(u32::from_be_bytes(v) != 0);
            }
            // A record of a kind this reader does not know is skipped, as skdump does.
            _ => {}
        }
        at += 8 + len;
    }
    Ok(out)
}

const SMARTCTL_START: &str = "] DATA START (BASE-16) =====";

/// Reads the data smartctl prints with `-r ataioctl,2` (IDENTIFY DEVICE, SMART READ
/// ATTRIBUTE VALUES and THRESHOLDS; other commands' data are skipped). Text around the
/// sections (smartctl's own report, a ticket's words) is ignored.
///
/// # Errors
/// A section whose lines are not sixteen hex bytes at the offsets they name, that ends
/// without its END line, or whose length is not the END line's, named.
pub fn read_smartctl(text: &str) -> Result<AtaAnswers, String> {
    let mut out = AtaAnswers::default();
    let mut lines = text.lines().map(str::trim);
    while let Some(l) = lines.next() {
        let Some(name) = l
            .strip_prefix("===== [")
            .and_then(|r| r.strip_suffix(SMARTCTL_START))
        else {
            continue;
        };
        let mut data = Vec::new();
        let end = loop {
            let Some(l) = lines.next() else {
                return Err(format!("the {name} data has no END line"));
            };
            if let Some(rest) = l.strip_prefix(&format!("===== [{name}] DATA END (")) {
                break rest
                    .strip_suffix(" Bytes) =====")
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| {
                        format!("the {name} data's END line is not smartctl's: {l:?}")
                    })?;
            }
            let (at, bytes) = l
                .split_once(": ")
                .ok_or_else(|| format!("a line of the {name} data is not smartctl's: {l:?}"))?;
            let first = at
                .split_once('-')
                .and_then(|(a, _)| a.parse::<usize>().ok());
            if first != Some(data.len()) {
                return Err(format!(
                    "a line of the {name} data starts at {at:?}, after {} bytes",
                    data.len()
                ));
            }
            let hexes = bytes.split('|').next().unwrap_or_default();
            for h in hexes.split_whitespace() {
                let b = u8::from_str_radix(h, 16)
                    .ok()
                    .filter(|_| h.len() == 2)
                    .ok_or_else(|| format!("not a hex byte in the {name} data: {h:?}"))?;
                data.push(b);
            }
        };
        if data.len() != end {
            return Err(format!(
                "the {name} data holds {} bytes, its END line says {end}",
                data.len()
            ));
        }
        let page = || -> Result<Box<[u8; 512]>, String> {
            <[u8; 512]>::try_from(data.as_slice())
                .map(Box::new)
                .map_err(|_| format!("the {name} data is {} bytes, not 512", data.len()))
        };
        match name {
            "IDENTIFY DEVICE" => out.identify = Some(page()?),
            "SMART READ ATTRIBUTE VALUES" => out.smart_data = Some(page()?),
            "SMART READ ATTRIBUTE THRESHOLDS" => out.smart_thresholds = Some(page()?),
            _ => {}
        }
    }
    Ok(out)
}

const CDI_IDENTIFY: &str = "-- IDENTIFY_DEVICE ---";

/// One drive of a CrystalDiskInfo report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CdiDrive {
    /// The drive's heading (`(01) MODEL`): its model as CrystalDiskInfo names it.
    pub model: String,
    /// `Interface : NVM Express`: the IDENTIFY table is then the first 512 bytes of Identify
    /// Controller.
    pub nvme: bool,
    pub identify: Box<[u8; 512]>,
    pub smart_data: Option<Box<[u8; 512]>>,
    pub smart_thresholds: Option<Box<[u8; 512]>>,
}

/// Reads every drive of a CrystalDiskInfo text report that has its IDENTIFY table.
///
/// # Errors
/// A table whose lines are not at the word or offset they name, or that is not 512 bytes,
/// named with its drive.
pub fn read_crystaldiskinfo(text: &str) -> Result<Vec<CdiDrive>, String> {
    #[derive(Default)]
    struct Open {
        model: String,
        nvme: bool,
        tables: Vec<(String, Vec<u8>)>,
    }
    let mut drives: Vec<Open> = Vec::new();
    let mut table: Option<(String, bool)> = None;
    for line in text.lines().map(str::trim_end) {
        let t = line.trim_start();
        // A drive's heading: ` (01) MODEL`.
        if let Some(model) = t
            .strip_prefix('(')
            .and_then(|r| r.split_once(") "))
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map(|(_, m)| m)
            .filter(|_| line.starts_with(' ') && !line.contains(" : "))
        {
            drives.push(Open {
                model: model.trim().to_string(),
                ..Open::default()
            });
            table = None;
            continue;
        }
        let Some(d) = drives.last_mut() else {
            continue;
        };
        if let Some((key, value)) = t.split_once(" : ") {
            if key.trim() == "Interface" && value.trim() == "NVM Express" {
                d.nvme = true;
            }
            continue;
        }
        if let Some(name) = t.strip_prefix("-- ") {
            let name = name.trim_end_matches('-').trim().to_string();
            let words = name == "IDENTIFY_DEVICE";
            table = Some((name.clone(), words));
            d.tables.push((name, Vec::new()));
            continue;
        }
        let Some((name, words)) = &table else {
            continue;
        };
        let Some((label, rest)) = t.split_once(": ") else {
            // The column heading, or the blank line that ends the table.
            if t.is_empty() {
                table = None;
            }
            continue;
        };
        let data = &mut d.tables.last_mut().expect("a table is open").1;
        let (at, width) = if *words {
            (label.parse::<usize>().ok().map(|w| w * 2), 4)
        } else {
            (usize::from_str_radix(label, 16).ok(), 2)
        };
        if at != Some(data.len()) {
            return Err(format!(
                "{}: the {name} line {label:?} is not where the {} bytes before it end",
                d.model,
                data.len()
            ));
        }
        // The hex fields, up to the ASCII column where one is shown.
        for h in rest
            .split_whitespace()
            .take_while(|h| h.len() == width && h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            let v = u16::from_str_radix(h, 16).map_err(|e| e.to_string())?;
            if *words {
                data.extend_from_slice(&v.to_le_bytes());
            } else {
                data.push(v as u8);
            }
        }
    }
    drives
        .into_iter()
        .filter(|d| d.tables.iter().any(|(n, _)| n == "IDENTIFY_DEVICE"))
        .map(|d| {
            let page = |name: &str| -> Result<Option<Box<[u8; 512]>>, String> {
                d.tables
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, b)| {
                        <[u8; 512]>::try_from(b.as_slice())
                            .map(Box::new)
                            .map_err(|_| {
                                format!(
                                    "{}: the {name} table is {} bytes, not 512",
                                    d.model,
                                    b.len()
                                )
                            })
                    })
                    .transpose()
            };
            Ok(CdiDrive {
                identify: page("IDENTIFY_DEVICE")?.expect("filtered on it"),
                smart_data: if d.nvme {
                    page("SMART_NVME")?
                } else {
                    page("SMART_READ_DATA")?
                },
                smart_thresholds: page("SMART_READ_THRESHOLD")?,
                model: d.model,
                nvme: d.nvme,
            })
        })
        .collect()
}

/// The recording of the one ATA drive of a CrystalDiskInfo report.
fn from_crystaldiskinfo(text: &str, name: &str) -> Result<Recording, String> {
    let drives = read_crystaldiskinfo(text).map_err(|e| format!("{name}: {e}"))?;
    let d = match drives.as_slice() {
        [d] => d,
        [] => {
            return Err(format!(
                "{name}: the CrystalDiskInfo report has no IDENTIFY table"
            ))
        }
        many => {
            let models: Vec<&str> = many.iter().map(|d| d.model.as_str()).collect();
            return Err(format!(
                "{name}: the CrystalDiskInfo report holds {} drives ({}); keep one drive's section",
                many.len(),
                models.join(", ")
            ));
        }
    };
    if d.nvme {
        return Err(format!(
            "{name}: CrystalDiskInfo keeps only the first 512 bytes of an NVMe drive's Identify Controller; \
             record the drive with `mediasan capture`"
        ));
    }
    let a = AtaAnswers {
        identify: Some(d.identify.clone()),
        smart_data: d.smart_data.clone(),
        smart_thresholds: d.smart_thresholds.clone(),
        smart_ok: None,
    };
    Recording::from_ata(&a, &format!("CrystalDiskInfo report {name} ({})", d.model))
        .ok_or_else(|| format!("{name}: no IDENTIFY DEVICE"))
}

fn tag_name(tag: &[u8]) -> String {
    String::from_utf8_lossy(tag).escape_debug().to_string()
}

/// Word 255 of IDENTIFY DEVICE: `Some(true)` when its signature (A5h) is there and the
/// checksum makes the 512 bytes sum to zero, `Some(false)` when it is there but wrong, `None`
/// when the drive does not use it (ACS leaves it optional).
pub fn identify_checksum(d: &[u8; 512]) -> Option<bool> {
    (d[510] == 0xA5).then(|| d.iter().fold(0u8, |s, b| s.wrapping_add(*b)) == 0)
}

/// Blanks what names the one drive in IDENTIFY DEVICE: its serial number (words 10-19, to
/// spaces, as a drive pads it) and world wide name (words 108-111, to zero), and puts the
/// checksum right again where the drive keeps one: a recording to share.
pub fn scrub_identify(d: &mut [u8; 512]) {
    d[20..40].fill(b' ');
    d[216..224].fill(0);
    if d[510] == 0xA5 {
        let sum = d[..511].iter().fold(0u8, |s, b| s.wrapping_add(*b));
        d[511] = sum.wrapping_neg();
    }
}

/// IDENTIFY DEVICE as `hdparm --Istdout` prints it (and `hdparm --Istdin` reads it): the 256
/// words in hex, eight to a line.
pub fn to_istdout(d: &[u8; 512]) -> String {
    d.chunks(16)
        .map(|line| {
            line.chunks(2)
                .map(|w| format!("{:04x}", u16::from_le_bytes([w[0], w[1]])))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// IDENTIFY DEVICE from `hdparm --Istdout`'s words (hex, any spacing; lines that are not
/// words, such as a heading, are skipped).
///
/// # Errors
/// Not 256 words.
pub fn read_istdout(text: &str) -> Result<[u8; 512], String> {
    let words: Vec<u16> = text
        .lines()
        .filter(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            !t.is_empty()
                && t.iter()
                    .all(|w| w.len() == 4 && u16::from_str_radix(w, 16).is_ok())
        })
        .flat_map(|l| {
            l.split_whitespace()
                .filter_map(|w| u16::from_str_radix(w, 16).ok())
                .collect::<Vec<_>>()
        })
        .collect();
    if words.len() != 256 {
        return Err(format!("{} IDENTIFY words, not 256", words.len()));
    }
    let mut d = [0u8; 512];
    for (i, w) in words.iter().enumerate() {
        d[2 * i..2 * i + 2].copy_from_slice(&w.to_le_bytes());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tag: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut r = tag.to_vec();
        r.extend_from_slice(&(body.len() as u32).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    #[test]
    fn reads_each_record_and_names_a_broken_one() {
        let mut id = [0u8; 512];
        id[20..40].copy_from_slice(b"SERIAL-123          ");
        id[510] = 0xA5;
        let mut f = record(b"IDFY", &id);
        f.extend(record(b"SMST", &1u32.to_be_bytes()));
        f.extend(record(b"XTRA", b"later"));
        f.extend(record(b"SMDT", &[7u8; 512]));
        let a = read_skdump(&f).unwrap();
        assert_eq!(a.identify.as_deref(), Some(&id));
        assert_eq!(a.smart_ok, Some(true));
        assert_eq!(a.smart_data.as_deref(), Some(&[7u8; 512]));
        assert_eq!(a.smart_thresholds, None);
        assert!(read_skdump(&f[..f.len() - 1])
            .unwrap_err()
            .contains("SMDT record at byte"));
        assert!(read_skdump(&record(b"IDFY", &[0; 100]))
            .unwrap_err()
            .contains("100 bytes, not 512"));
        assert!(read_skdump(&f[..3]).unwrap_err().contains("cut short"));
    }

    #[test]
    fn an_skdump_becomes_a_recording_of_the_commands_mediasan_sends() {
        let mut id = [0u8; 512];
        id[20..40].fill(b' ');
        // 48-bit, 1000 sectors (words 100-103).
        id[83 * 2 + 1] = 0x04;
        id[86 * 2 + 1] = 0x04;
        id[200..202].copy_from_slice(&1000u16.to_le_bytes());
        let mut f = record(b"IDFY", &id);
        f.extend(record(b"SMST", &0u32.to_be_bytes()));
        f.extend(record(b"SMDT", &[7u8; 512]));
        let r = Recording::read(&f, "x.skdump").unwrap();
        assert_eq!(
            (r.bus.as_str(), r.size, r.serial_scrubbed),
            ("ata", 512_000, true)
        );
        let cdbs: Vec<&str> = r.exchanges.iter().map(|x| x.cdb.as_str()).collect();
        assert_eq!(
            cdbs,
            [
                hex(&ata::identify()),
                hex(&super::super::health::smart_read_data()),
                hex(&super::super::health::smart_return_status())
            ]
        );
        // A failing drive's SMART RETURN STATUS: LBA mid/high F4h/2Ch, with its registers.
        let status = ata::decode_return(&unhex(&r.exchanges[2].sense).unwrap()).unwrap();
        assert_eq!((status.lba >> 8) & 0xFFFF, 0x2CF4);
        // Its own JSON reads back the same; another format or broken hex is named.
        let json = serde_json::to_vec(&r).unwrap();
        assert_eq!(Recording::read(&json, "r.json").unwrap(), r);
        let other = String::from_utf8(json.clone())
            .unwrap()
            .replace(FORMAT, "mediasan-capture/9");
        assert!(Recording::read(other.as_bytes(), "r.json")
            .unwrap_err()
            .contains("mediasan-capture/9"));
        let broken = String::from_utf8(json)
            .unwrap()
            .replacen("\"data\":\"", "\"data\":\"zz", 1);
        assert!(Recording::read(broken.as_bytes(), "r.json")
            .unwrap_err()
            .contains("IDENTIFY DEVICE data"));
        assert!(Recording::read(&record(b"SMDT", &[0; 512]), "y")
            .unwrap_err()
            .contains("no IDENTIFY"));
    }

    #[test]
    fn plain_binaries_are_identify_device_or_identify_controller_by_their_size() {
        let mut id = [0u8; 512];
        id[0] = 0x40;
        let r = Recording::read(&id, "id.bin").unwrap();
        assert_eq!(
            (r.bus.as_str(), r.exchanges[0].cdb.clone()),
            ("ata", hex(&ata::identify()))
        );
        let mut ctrl = vec![0u8; 4096];
        ctrl[4..24].fill(b' ');
        let r = Recording::read(&ctrl, "ctrl.bin").unwrap();
        assert_eq!(r.bus, "nvme");
        assert!(r.serial_scrubbed);
        assert_eq!(
            r.exchanges[0].cdb,
            hex(&nvme_key(&super::super::nvme::identify_controller()))
        );
        assert!(Recording::read(&[0u8; 100], "x").is_err());
    }

    #[test]
    fn hdparm_s_word_table_reads_back_the_same_bytes() {
        let mut id = [0u8; 512];
        for (i, b) in id.iter_mut().enumerate() {
            *b = (i * 13 + 5) as u8;
        }
        let text = to_istdout(&id);
        assert_eq!(text.lines().count(), 32);
        assert!(text.starts_with("1205 2c1f "), "{text}");
        assert_eq!(read_istdout(&format!("/dev/sda:\n{text}")).unwrap(), id);
        assert!(read_istdout("0000 0001\n")
            .unwrap_err()
            .contains("2 IDENTIFY words"));
    }

    /// smartctl's `-r ataioctl,2` layout, as smartctl 7.3 prints it (its lines beside the
    /// data too); the real tool's output for every corpus drive is read in
    /// tests/integration/corpus.rs.
    fn smartctl_report(name: &str, d: &[u8]) -> String {
        let mut t = format!(
            "REPORT-IOCTL: Device=/dev/sda Command={name}\n\n===== [{name}] DATA START (BASE-16) =====\n"
        );
        for (i, line) in d.chunks(16).enumerate() {
            let hexes: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
            let ascii: String = line
                .iter()
                .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                .collect();
            t += &format!(
                "{:03}-{:03}: {} |{ascii}|\n",
                i * 16,
                i * 16 + 15,
                hexes.join(" ")
            );
        }
        t + &format!("===== [{name}] DATA END ({} Bytes) =====\n", d.len())
    }

    #[test]
    fn smartctl_s_hex_report_reads_back_the_drive_s_pages() {
        let mut id = [0u8; 512];
        for (i, b) in id.iter_mut().enumerate() {
            *b = (i * 11 + 3) as u8;
        }
        let text = format!(
            "smartctl 7.3\n{}{}Device Model: X\n",
            smartctl_report("IDENTIFY DEVICE", &id),
            smartctl_report("SMART READ ATTRIBUTE VALUES", &[9; 512])
        );
        let a = read_smartctl(&text).unwrap();
        assert_eq!(a.identify.as_deref(), Some(&id));
        assert_eq!(a.smart_data.as_deref(), Some(&[9; 512]));
        let r = Recording::read(text.as_bytes(), "t.txt").unwrap();
        assert!(r.source.starts_with("smartctl -r ataioctl,2 report"));
        assert_eq!(r.exchanges[0].data, hex(&id));
        // hdparm's words are read too.
        let r = Recording::read(to_istdout(&id).as_bytes(), "w.txt").unwrap();
        assert_eq!(r.exchanges[0].data, hex(&id));
        // What is wrong is named.
        let cut = text.replace("===== [IDENTIFY DEVICE] DATA END (512 Bytes) =====\n", "");
        assert!(read_smartctl(&cut).unwrap_err().contains("starts at"));
        let short = text.replace("496-511: ", "496-511: zz ");
        assert!(read_smartctl(&short).unwrap_err().contains("\"zz\""));
        let skipped = text.replacen("016-031", "032-047", 1);
        assert!(read_smartctl(&skipped)
            .unwrap_err()
            .contains("starts at \"032-047\", after 16 bytes"));
        let long = text.replacen("(512 Bytes)", "(500 Bytes)", 1);
        assert!(read_smartctl(&long)
            .unwrap_err()
            .contains("END line says 500"));
        let open = smartctl_report("IDENTIFY DEVICE", &id).replace("DATA END", "DATA");
        assert!(read_smartctl(&open).is_err());
        assert!(Recording::read(b"hello\n", "n.txt")
            .unwrap_err()
            .contains("neither a smartctl"));
    }

    /// CrystalDiskInfo's layout (9.x, as its reports show it): a drive's heading and
    /// properties, the IDENTIFY words ten to a line (an ASCII column after them when
    /// `ascii`), then a byte table.
    fn cdi_drive(
        n: u8,
        model: &str,
        nvme: bool,
        id: &[u8; 512],
        bytes: (&str, &[u8]),
        ascii: bool,
    ) -> String {
        let dashes = "-".repeat(76);
        let mut t = format!(
            "{dashes}\n ({n:02}) {model}\n{dashes}\n           Model : {model}\n       Interface : {}\n\n",
            if nvme { "NVM Express" } else { "Serial ATA" }
        );
        t += "-- IDENTIFY_DEVICE ---------------------------------------------------------\n";
        t += "        0    1    2    3    4    5    6    7    8    9\n";
        let words: Vec<u16> = id
            .chunks(2)
            .map(|w| u16::from_le_bytes([w[0], w[1]]))
            .collect();
        for (k, row) in words.chunks(10).enumerate() {
            let hexes: Vec<String> = row.iter().map(|w| format!("{w:04X}")).collect();
            t += &format!("{:03}: {}", k * 10, hexes.join(" "));
            if ascii {
                t += "  ";
                t += &row
                    .iter()
                    .flat_map(|w| w.to_be_bytes())
                    .map(|b| if b.is_ascii_graphic() { b as char } else { '.' })
                    .collect::<String>();
            }
            t += "\n";
        }
        t += &format!("\n-- {} {}\n", bytes.0, "-".repeat(72 - bytes.0.len()));
        t += "     +0 +1 +2 +3 +4 +5 +6 +7 +8 +9 +A +B +C +D +E +F\n";
        for (k, row) in bytes.1.chunks(16).enumerate() {
            let hexes: Vec<String> = row.iter().map(|b| format!("{b:02X}")).collect();
            t += &format!("{:03X}: {}\n", k * 16, hexes.join(" "));
        }
        t + "\n"
    }

    #[test]
    fn crystaldiskinfo_s_report_reads_back_each_drive_s_tables() {
        let mut id = [0u8; 512];
        for (i, b) in id.iter_mut().enumerate() {
            *b = (i * 5 + 1) as u8;
        }
        let mut ctrl = [0u8; 512];
        ctrl[328] = 0x07;
        let head = "CrystalDiskInfo 9.7.2\n\n-- Disk List ---\n (01) NVME MODEL : 256.0 GB\n\n";
        let nvme = cdi_drive(
            1,
            "NVME MODEL",
            true,
            &ctrl,
            ("SMART_NVME", &[3; 512]),
            false,
        );
        let ata = cdi_drive(
            2,
            "ATA MODEL",
            false,
            &id,
            ("SMART_READ_DATA", &[9; 512]),
            true,
        );
        let drives = read_crystaldiskinfo(&format!("{head}{nvme}{ata}")).unwrap();
        assert_eq!(drives.len(), 2);
        assert_eq!(
            (drives[0].model.as_str(), drives[0].nvme),
            ("NVME MODEL", true)
        );
        assert_eq!(*drives[0].identify, ctrl);
        assert_eq!(drives[0].smart_data.as_deref(), Some(&[3; 512]));
        assert_eq!(
            (drives[1].model.as_str(), drives[1].nvme),
            ("ATA MODEL", false)
        );
        assert_eq!(*drives[1].identify, id, "read past the ASCII column");
        assert_eq!(drives[1].smart_data.as_deref(), Some(&[9; 512]));
        // One ATA drive is a recording; two, or an NVMe drive, are refused with the remedy.
        let r = Recording::read(format!("{head}{ata}").as_bytes(), "cdi.txt").unwrap();
        assert_eq!(r.exchanges[0].data, hex(&id));
        // The same, saved by Windows as UTF-16 with a byte order mark and CRLF line ends.
        let windows: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                format!("{head}{ata}")
                    .replace('\n', "\r\n")
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        let again = Recording::read(&windows, "DiskInfo.txt").unwrap();
        assert_eq!(again.exchanges, r.exchanges);
        assert!(r.source.contains("(ATA MODEL)"), "{}", r.source);
        let e = Recording::read(format!("{head}{nvme}{ata}").as_bytes(), "cdi.txt").unwrap_err();
        assert!(e.contains("2 drives (NVME MODEL, ATA MODEL)"), "{e}");
        let e = Recording::read(nvme.as_bytes(), "cdi.txt").unwrap_err();
        assert!(e.contains("mediasan capture"), "{e}");
        // A table with a line missing or cut short is named.
        let gap = ata.replace("\n010: ", "\nxxx\n020: ");
        assert!(read_crystaldiskinfo(&gap).is_err());
        let cut = ata.replacen("\n250: ", "\n", 1);
        let e = read_crystaldiskinfo(&cut).unwrap_err();
        assert!(e.contains("ATA MODEL"), "{e}");
    }

    #[test]
    fn scrubbing_blanks_the_serial_and_keeps_the_checksum_right() {
        let mut id = [0u8; 512];
        for (i, b) in id.iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        id[510] = 0xA5;
        scrub_identify(&mut id);
        assert_eq!(identify_checksum(&id), Some(true));
        assert_eq!(&id[20..40], &[b' '; 20]);
        assert_eq!(&id[216..224], &[0; 8], "the world wide name");
        id[0] ^= 1;
        assert_eq!(identify_checksum(&id), Some(false));
        // Without the signature there is no checksum to keep.
        let mut plain = [1u8; 512];
        scrub_identify(&mut plain);
        assert_eq!(identify_checksum(&plain), None);
        assert_eq!(plain[511], 1);
    }
}
