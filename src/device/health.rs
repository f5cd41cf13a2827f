//! Drive health, read natively through the drive's [`Passthrough`] door: the NVMe SMART /
//! Health Information log (02h), ATA SMART RETURN STATUS and READ DATA (the bytes smartctl
//! sends). Decoders are pure; [`Limits`] is a policy's triage rule over what they decode.

pub use crate::contract::media::{AtaAttribute, AtaHealth, Health, NvmeHealth, ScsiHealth};

use super::ata;
use super::nvme::AdminCmd;
use super::passthrough::{DataDir, Passthrough};
use super::{Kind, Probe};

/// Get Log Page 02h (SMART / Health Information), 512 bytes, for the whole controller, as
/// `nvme smart-log` sends it.
pub fn nvme_smart_log() -> AdminCmd {
    let dwords = 512 / 4 - 1;
    AdminCmd {
        opcode: 0x02,
        nsid: 0xFFFF_FFFF,
        cdw10: 0x02 | dwords << 16,
        data_len: 512,
        ..AdminCmd::default()
    }
}

/// Get Log Page 01h (Error Information), `bytes` long (64 bytes an entry), for the controller.
pub fn nvme_error_log(bytes: u32) -> AdminCmd {
    AdminCmd {
        opcode: 0x02,
        nsid: 0xFFFF_FFFF,
        cdw10: 0x01 | (bytes / 4 - 1) << 16,
        data_len: bytes,
        ..AdminCmd::default()
    }
}

/// SMART READ LOG (B0h/D5h) of log `log` (01h: the summary error log), one sector.
pub fn smart_read_log(log: u8) -> [u8; 16] {
    let mut c = smart_cdb(0xD5, ata::Protocol::PioDataIn, 0x0e);
    c[8] = log;
    c
}

/// LOG SENSE of page `page`, cumulative values (PC 01b), `len` bytes: sg_logs's bytes but the
/// allocation length.
pub fn log_sense(page: u8, len: u16) -> [u8; 10] {
    let [hi, lo] = len.to_be_bytes();
    [0x4D, 0, 0x40 | (page & 0x3F), 0, 0, 0, 0, hi, lo, 0]
}

/// READ DEFECT DATA(10) of the grown list only, the header (4 bytes), as `sg_reassign -g`.
pub fn read_grown_defects() -> [u8; 10] {
    [0x37, 0, 0x0C, 0, 0, 0, 0, 0, 4, 0]
}

/// The first parameter (code 0) of a log page: its value bytes.
fn log_param0(page: &[u8]) -> Option<&[u8]> {
    let total = 4 + usize::from(u16::from_be_bytes([*page.get(2)?, *page.get(3)?]));
    let mut at = 4;
    while at + 4 <= total.min(page.len()) {
        let code = u16::from_be_bytes([page[at], page[at + 1]]);
        let len = usize::from(page[at + 3]);
        let value = page.get(at + 4..at + 4 + len)?;
        if code == 0 {
            return Some(value);
        }
        at += 4 + len;
    }
    None
}

/// Decodes the Informational Exceptions log page (2Fh): ASC, ASCQ, temperature.
pub fn decode_ie(page: &[u8]) -> Option<(u8, u8, Option<u8>)> {
    if page.first()? & 0x3F != 0x2F {
        return None;
    }
    let v = log_param0(page)?;
    Some((
        *v.first()?,
        *v.get(1)?,
        v.get(2).copied().filter(|&t| t != 0xFF),
    ))
}

/// Decodes the Non-Medium Error log page (06h): the count.
pub fn decode_non_medium(page: &[u8]) -> Option<u64> {
    if page.first()? & 0x3F != 0x06 {
        return None;
    }
    let v = log_param0(page)?;
    Some(v.iter().take(8).fold(0u64, |n, b| n << 8 | u64::from(*b)))
}

fn read_scsi(d: &dyn Passthrough) -> Health {
    const SOURCE: &str = "SCSI LOG SENSE (2Fh, 06h), READ DEFECT DATA";
    let mut ie = [0u8; 252];
    match d.scsi(&log_sense(0x2F, 252), DataDir::FromDevice, &mut ie, 15_000) {
        Ok((0, _)) => {}
        Ok((s, _)) => {
            return Health::unknown(
                SOURCE,
                format!("the drive does not answer LOG SENSE for informational exceptions (SCSI status {s:#04x})"),
            )
        }
        Err(e) => return Health::unknown(SOURCE, format!("LOG SENSE failed: {e}")),
    }
    let Some((asc, ascq, temperature)) = decode_ie(&ie) else {
        return Health::unknown(
            SOURCE,
            "the informational exceptions page could not be decoded",
        );
    };
    let mut nm = [0u8; 252];
    let non_medium_errors =
        match d.scsi(&log_sense(0x06, 252), DataDir::FromDevice, &mut nm, 15_000) {
            Ok((0, _)) => decode_non_medium(&nm),
            _ => None,
        };
    let mut hdr = [0u8; 4];
    let grown_defects = match d.scsi(&read_grown_defects(), DataDir::FromDevice, &mut hdr, 15_000) {
        Ok((0, _)) => Some(u64::from(u16::from_be_bytes([hdr[2], hdr[3]])) / 8),
        _ => None,
    };
    let sc = ScsiHealth {
        ie_asc: asc,
        ie_ascq: ascq,
        temperature_celsius: temperature,
        non_medium_errors,
        grown_defects,
    };
    let (state, detail) = match (asc, grown_defects) {
        (0x5D, _) => (
            "failing",
            format!("informational exception {asc:02x}h/{ascq:02x}h: failure prediction threshold exceeded"),
        ),
        (0, Some(g)) if g > 0 => ("warning", format!("{g} grown defects")),
        (0, _) => ("ok", "no informational exception".to_string()),
        _ => ("warning", format!("informational exception {asc:02x}h/{ascq:02x}h")),
    };
    let mut raw = ie.to_vec();
    raw.extend_from_slice(&nm);
    raw.extend_from_slice(&hdr);
    Health {
        state: state.into(),
        source: SOURCE.into(),
        detail,
        raw_blake3: blake3::hash(&raw).to_hex().to_string(),
        scsi: Some(sc),
        ..Health::default()
    }
}

fn le(b: &[u8]) -> u64 {
    // The log's 128-bit counters, saturated to 64 bits.
    if b[8..].iter().any(|&x| x != 0) {
        return u64::MAX;
    }
    u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]))
}

/// Decodes the 512-byte SMART / Health Information log.
pub fn decode_nvme(p: &[u8]) -> Option<NvmeHealth> {
    if p.len() < 192 {
        return None;
    }
    let kelvin = i32::from(u16::from_le_bytes([p[1], p[2]]));
    Some(NvmeHealth {
        critical_warning: p[0],
        temperature_celsius: if kelvin == 0 { 0 } else { kelvin - 273 },
        available_spare: p[3],
        available_spare_threshold: p[4],
        percentage_used: p[5],
        data_units_written: le(&p[48..64]),
        power_on_hours: le(&p[128..144]),
        unsafe_shutdowns: le(&p[144..160]),
        media_errors: le(&p[160..176]),
        num_err_log_entries: le(&p[176..192]),
    })
}

/// The state an NVMe log says: failing with a critical warning other than temperature,
/// warning with the temperature bit or the spare at or below its threshold.
fn nvme_state(h: &NvmeHealth) -> (&'static str, String) {
    let bits = [
        "available spare below threshold",
        "temperature out of range",
        "reliability degraded",
        "media read-only",
        "volatile memory backup failed",
        "persistent memory read-only",
    ];
    let set: Vec<&str> = bits
        .iter()
        .enumerate()
        .filter(|(i, _)| h.critical_warning & (1 << i) != 0)
        .map(|(_, b)| *b)
        .collect();
    if h.critical_warning & !0b10 != 0 {
        ("failing", format!("critical warning: {}", set.join(", ")))
    } else if !set.is_empty() {
        ("warning", format!("critical warning: {}", set.join(", ")))
    } else {
        (
            "ok",
            format!(
                "{} % used, spare {} % (threshold {} %), {} media errors",
                h.percentage_used, h.available_spare, h.available_spare_threshold, h.media_errors
            ),
        )
    }
}

/// The name smartmontools gives attribute `id` (the common ones).
pub fn attribute_name(id: u8) -> &'static str {
    match id {
        1 => "Raw_Read_Error_Rate",
        5 => "Reallocated_Sector_Ct",
        9 => "Power_On_Hours",
        12 => "Power_Cycle_Count",
        177 => "Wear_Leveling_Count",
        187 => "Reported_Uncorrect",
        188 => "Command_Timeout",
        194 => "Temperature_Celsius",
        196 => "Reallocated_Event_Count",
        197 => "Current_Pending_Sector",
        198 => "Offline_Uncorrectable",
        199 => "UDMA_CRC_Error_Count",
        231 => "SSD_Life_Left",
        233 => "Media_Wearout_Indicator",
        241 => "Total_LBAs_Written",
        _ => "",
    }
}

/// Decodes SMART READ DATA's attribute table (30 entries of 12 bytes from offset 2).
pub fn decode_ata_attributes(p: &[u8]) -> Vec<AtaAttribute> {
    p.get(2..362)
        .map(|t| {
            t.chunks_exact(12)
                .filter(|e| e[0] != 0)
                .map(|e| {
                    let mut raw = [0u8; 8];
                    raw[..6].copy_from_slice(&e[5..11]);
                    AtaAttribute {
                        id: e[0],
                        name: attribute_name(e[0]).into(),
                        normalized: e[3],
                        worst: e[4],
                        raw: u64::from_le_bytes(raw),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// SMART READ DATA (B0h/D0h): 512 bytes in; the bytes smartctl sends.
pub fn smart_read_data() -> [u8; 16] {
    smart_cdb(0xD0, ata::Protocol::PioDataIn, 0x0e)
}

/// SMART RETURN STATUS (B0h/DAh): the verdict comes back in LBA mid/high; smartctl's bytes.
pub fn smart_return_status() -> [u8; 16] {
    smart_cdb(0xDA, ata::Protocol::NonData, 0x2c)
}

fn smart_cdb(feature: u8, p: ata::Protocol, flags: u8) -> [u8; 16] {
    let mut c = ata::cdb(
        &ata::TaskFile {
            features: u16::from(feature),
            count: u16::from(p == ata::Protocol::PioDataIn),
            lba: 0x00C2_4F00,
            device: 0,
            command: 0xB0,
        },
        p,
        false,
        false,
    );
    c[2] = flags;
    c
}

fn run(d: &dyn Passthrough, cdb: &[u8; 16], data: &mut [u8]) -> Result<(u8, Vec<u8>), String> {
    let dir = if data.is_empty() {
        DataDir::None
    } else {
        DataDir::FromDevice
    };
    d.scsi(cdb, dir, data, 15_000).map_err(|e| e.to_string())
}

/// ATA SMART through ATA PASS-THROUGH.
fn read_ata(d: &dyn Passthrough) -> Health {
    const SOURCE: &str = "ATA SMART (RETURN STATUS, READ DATA)";
    let mut page = [0u8; 512];
    match run(d, &smart_read_data(), &mut page) {
        Ok((0, _)) => {}
        Ok((s, _)) => {
            return Health::unknown(
                SOURCE,
                format!(
                    "SMART READ DATA was refused (SCSI status {s:#04x}; SMART may be disabled)"
                ),
            )
        }
        Err(e) => return Health::unknown(SOURCE, format!("SMART READ DATA failed: {e}")),
    }
    if page.iter().all(|&b| b == 0) {
        return Health::unknown(SOURCE, "SMART READ DATA returned nothing");
    }
    let passed = match run(d, &smart_return_status(), &mut []) {
        Ok((_, sense)) => ata::decode_return(&sense).ok().and_then(|r| {
            match ((r.lba >> 8) & 0xFF, (r.lba >> 16) & 0xFF) {
                (0x4F, 0xC2) => Some(true),
                (0xF4, 0x2C) => Some(false),
                _ => None,
            }
        }),
        Err(_) => None,
    };
    let a = AtaHealth {
        passed,
        attributes: decode_ata_attributes(&page),
    };
    let count = |id| a.raw(id).unwrap_or(0);
    let (state, detail) = match passed {
        Some(false) => (
            "failing",
            "SMART RETURN STATUS: the drive says a threshold is exceeded".to_string(),
        ),
        _ if count(5) + count(197) + count(198) > 0 => (
            "warning",
            format!(
                "{} reallocated, {} pending, {} offline uncorrectable sectors",
                count(5),
                count(197),
                count(198)
            ),
        ),
        _ => (
            "ok",
            format!(
                "{} attributes, no reallocated or pending sectors{}",
                a.attributes.len(),
                if passed.is_none() {
                    "; SMART RETURN STATUS unreadable"
                } else {
                    ""
                }
            ),
        ),
    };
    Health {
        state: state.into(),
        source: SOURCE.into(),
        detail,
        raw_blake3: blake3::hash(&page).to_hex().to_string(),
        ata: Some(a),
        nvme: None,
        scsi: None,
    }
}

fn read_nvme(d: &dyn Passthrough) -> Health {
    const SOURCE: &str = "NVMe SMART / Health Information log (02h)";
    let mut page = [0u8; 512];
    match d.nvme(&nvme_smart_log(), &mut page) {
        Ok((0, _)) => {}
        Ok((s, _)) => return Health::unknown(SOURCE, format!("NVMe status {s:#06x}")),
        Err(e) => return Health::unknown(SOURCE, e.to_string()),
    }
    let Some(h) = decode_nvme(&page) else {
        return Health::unknown(SOURCE, "the log page is too short");
    };
    let (state, detail) = nvme_state(&h);
    Health {
        state: state.into(),
        source: SOURCE.into(),
        detail,
        raw_blake3: blake3::hash(&page).to_hex().to_string(),
        nvme: Some(h),
        ata: None,
        scsi: None,
    }
}

/// The health of a probed target through `d` (that very device), by its bus; `ata` forces
/// ATA (USB-SATA bridges).
pub fn read(p: &Probe, d: &dyn Passthrough, ata: bool) -> Health {
    if p.kind == Kind::Image {
        return Health {
            state: "not_applicable".into(),
            detail: "an image file has no drive health".into(),
            ..Health::default()
        };
    }
    read_block(&p.identity.interface, d, ata)
}

/// The health of a block device of sysfs interface `interface` through `d`.
pub fn read_block(interface: &str, d: &dyn Passthrough, ata: bool) -> Health {
    match interface {
        _ if ata => read_ata(d),
        "nvme" => read_nvme(d),
        "sata" | "usb" => read_ata(d),
        "sas" | "scsi" => {
            // A SATA disk behind a SAS HBA answers ATA PASS-THROUGH; a SAS disk does not.
            let h = read_ata(d);
            if h.state == "unknown" {
                read_scsi(d)
            } else {
                h
            }
        }
        other => Health {
            state: "not_applicable".into(),
            detail: format!(
                "a {} device has no drive health",
                if other.is_empty() { "virtual" } else { other }
            ),
            ..Health::default()
        },
    }
}

/// A policy's triage limits (`[health]`): a drive over one gets the recommendation Destroy,
/// or, with `on_health = "refuse"`, is not sanitized at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// ATA 5 (reallocated), 197 (pending), 187+198 (uncorrectable) raw counts above which.
    pub reallocated_max: Option<u64>,
    pub pending_max: Option<u64>,
    pub uncorrectable_max: Option<u64>,
    /// NVMe media and data-integrity errors above which.
    pub media_errors_max: Option<u64>,
    /// NVMe percentage used above which.
    pub percentage_used_max: Option<u8>,
    /// A drive that says it is failing (NVMe critical warning, SMART threshold exceeded).
    pub failing: bool,
    /// `refuse` instead of wiping with the recommendation Destroy.
    pub refuse: bool,
}

impl Limits {
    /// Why `h` is over the limits (empty when within, or when nothing is set).
    pub fn over(&self, h: &Health) -> Vec<String> {
        let mut why = Vec::new();
        let mut over = |what: &str, v: Option<u64>, max: Option<u64>| {
            if let (Some(v), Some(m)) = (v, max) {
                if v > m {
                    why.push(format!("{what} {v} > {m}"));
                }
            }
        };
        let ata = h.ata.as_ref();
        over(
            "reallocated sectors",
            ata.and_then(|a| a.raw(5)),
            self.reallocated_max,
        );
        over(
            "pending sectors",
            ata.and_then(|a| a.raw(197)),
            self.pending_max,
        );
        let unc = ata.and_then(|a| match (a.raw(187), a.raw(198)) {
            (None, None) => None,
            (x, y) => Some(x.unwrap_or(0) + y.unwrap_or(0)),
        });
        over("uncorrectable sectors", unc, self.uncorrectable_max);
        let nv = h.nvme.as_ref();
        over(
            "media errors",
            nv.map(|n| n.media_errors),
            self.media_errors_max,
        );
        over(
            "percentage used",
            nv.map(|n| u64::from(n.percentage_used)),
            self.percentage_used_max.map(u64::from),
        );
        if self.failing && h.state == "failing" {
            why.push(format!("the drive says it is failing ({})", h.detail));
        }
        why
    }

    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        *self
            == Limits {
                refuse: self.refuse,
                ..Limits::default()
            }
    }
}

/// What grew between two readings (more reallocated or pending sectors, new media errors).
pub fn growth(before: &Health, after: &Health) -> Vec<String> {
    let mut g = Vec::new();
    if let (Some(b), Some(a)) = (&before.ata, &after.ata) {
        for (id, what) in [
            (5, "reallocated"),
            (197, "pending"),
            (198, "offline uncorrectable"),
        ] {
            if let (Some(x), Some(y)) = (b.raw(id), a.raw(id)) {
                if y > x {
                    g.push(format!(
                        "{what} sectors grew from {x} to {y} during the sanitization"
                    ));
                }
            }
        }
    }
    if let (Some(b), Some(a)) = (&before.nvme, &after.nvme) {
        if a.media_errors > b.media_errors {
            g.push(format!(
                "media errors grew from {} to {} during the sanitization",
                b.media_errors, a.media_errors
            ));
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SMART READ DATA page with these (id, normalized, raw) attributes.
    pub(crate) fn smart_page(attrs: &[(u8, u8, u64)]) -> [u8; 512] {
        let mut p = [0u8; 512];
        p[0] = 0x10;
        for (i, (id, norm, raw)) in attrs.iter().enumerate() {
            let e = &mut p[2 + 12 * i..14 + 12 * i];
            e[0] = *id;
            e[1] = 0x33;
            e[3] = *norm;
            e[4] = *norm;
            e[5..11].copy_from_slice(&raw.to_le_bytes()[..6]);
        }
        p
    }

    #[test]
    fn smart_commands_equal_smartctls_and_nvme_clis() {
        let log = include_str!("../../tests/data/ioctlcap/smartctl-H-A.txt");
        let cdbs: Vec<Vec<u8>> = log
            .lines()
            .filter_map(|l| l.strip_prefix("[cap] SG_IO cdb "))
            .map(|h| {
                h.split_whitespace()
                    .map(|x| u8::from_str_radix(x, 16).unwrap())
                    .collect()
            })
            .collect();
        assert!(
            cdbs.contains(&smart_read_data().to_vec()),
            "SMART READ DATA"
        );
        assert!(
            cdbs.contains(&smart_return_status().to_vec()),
            "SMART RETURN STATUS"
        );
        let nv = include_str!("../../tests/data/ioctlcap/nvme-smart-log.txt");
        assert!(
            nv.contains("opc=0x02 nsid=0xffffffff cdw10=0x007f0002"),
            "{nv}"
        );
        let c = nvme_smart_log();
        assert_eq!(
            (c.opcode, c.nsid, c.cdw10, c.data_len),
            (0x02, 0xFFFF_FFFF, 0x007f_0002, 512)
        );
    }

    #[test]
    fn scsi_health_is_decoded_and_its_commands_equal_sg3_utils() {
        let cdb = |name: &str| -> Vec<u8> {
            let text = std::fs::read_to_string(format!(
                "{}/tests/data/ioctlcap/{name}.txt",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            text.lines()
                .filter_map(|l| l.strip_prefix("[cap] SG_IO cdb "))
                .map(|h| {
                    h.split_whitespace()
                        .map(|x| u8::from_str_radix(x, 16).unwrap())
                        .collect::<Vec<u8>>()
                })
                .find(|c| c[0] != 0x12)
                .unwrap()
        };
        // sg_logs asks for the 4-byte header first: all but the allocation length agree.
        let ie = cdb("scsi-logs-2f");
        assert_eq!(ie[..7], log_sense(0x2F, 252)[..7]);
        assert_eq!(cdb("scsi-logs-06")[..7], log_sense(0x06, 252)[..7]);
        assert_eq!(cdb("sg_reassign-g"), read_grown_defects().to_vec());
        // An IE page: parameter 0, ASC 5Dh (failure prediction), 38 C.
        let page = [0x2F, 0, 0, 8, 0, 0, 0x03, 4, 0x5D, 0x10, 38, 0];
        assert_eq!(decode_ie(&page), Some((0x5D, 0x10, Some(38))));
        let nm = [0x06, 0, 0, 6, 0, 0, 0x02, 2, 0x01, 0x02];
        assert_eq!(decode_non_medium(&nm), Some(258));
        assert_eq!(decode_ie(&nm), None, "another page");
    }

    #[test]
    fn nvme_health_is_decoded_and_judged() {
        let mut p = [0u8; 512];
        p[1..3].copy_from_slice(&310u16.to_le_bytes());
        p[3] = 100;
        p[4] = 10;
        p[5] = 3;
        p[48] = 0x10;
        p[128] = 42;
        p[160] = 7;
        let h = decode_nvme(&p).unwrap();
        assert_eq!(
            (
                h.temperature_celsius,
                h.available_spare,
                h.percentage_used,
                h.data_units_written,
                h.power_on_hours,
                h.media_errors
            ),
            (37, 100, 3, 16, 42, 7)
        );
        assert_eq!(nvme_state(&h).0, "ok");
        p[0] = 0b100; // reliability degraded
        assert_eq!(nvme_state(&decode_nvme(&p).unwrap()).0, "failing");
        p[0] = 0b10; // temperature only
        assert_eq!(nvme_state(&decode_nvme(&p).unwrap()).0, "warning");
    }

    #[test]
    fn ata_attributes_are_decoded_with_their_names() {
        let p = smart_page(&[
            (5, 100, 8),
            (9, 99, 12345),
            (194, 64, 0x0014_0000_0024),
            (197, 100, 2),
        ]);
        let a = decode_ata_attributes(&p);
        assert_eq!(a.len(), 4);
        assert_eq!((a[0].name.as_str(), a[0].raw), ("Reallocated_Sector_Ct", 8));
        assert_eq!(a[2].raw & 0xFF, 0x24, "194's low byte is the temperature");
    }

    #[test]
    fn triage_names_every_limit_crossed_and_growth_is_seen() {
        let h = |attrs: &[(u8, u8, u64)]| Health {
            state: "warning".into(),
            ata: Some(AtaHealth {
                passed: Some(true),
                attributes: decode_ata_attributes(&smart_page(attrs)),
            }),
            ..Health::default()
        };
        let worn = h(&[(5, 90, 120), (197, 100, 3), (198, 100, 1)]);
        let limits = Limits {
            reallocated_max: Some(100),
            pending_max: Some(0),
            uncorrectable_max: Some(5),
            ..Limits::default()
        };
        let why = limits.over(&worn);
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(why[0].contains("reallocated sectors 120 > 100"));
        assert!(
            Limits::default().over(&worn).is_empty(),
            "no limits, no triage"
        );
        assert!(Limits::default().is_empty() && !limits.is_empty());
        let later = h(&[(5, 90, 125), (197, 100, 3)]);
        assert_eq!(
            growth(&worn, &later),
            ["reallocated sectors grew from 120 to 125 during the sanitization"]
        );
    }
}
