//! Drive health, read natively through the drive's [`Passthrough`] door: the NVMe SMART /
//! Health Information log (02h), ATA SMART RETURN STATUS and READ DATA (the bytes smartctl
//! sends). Decoders are pure; [`Limits`] is a policy's triage rule over what they decode.

use serde::{Deserialize, Serialize};

use super::ata;
use super::nvme::AdminCmd;
use super::passthrough::{DataDir, Passthrough};
use super::{Kind, Probe};

/// What the NVMe SMART / Health Information log says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NvmeHealth {
    /// Bit 0 spare below threshold, 1 temperature, 2 reliability degraded, 3 read-only,
    /// 4 volatile memory backup failed, 5 persistent memory read-only.
    pub critical_warning: u8,
    pub available_spare: u8,
    pub available_spare_threshold: u8,
    pub percentage_used: u8,
    /// In units of 1,000 512-byte blocks, as the log counts them.
    pub data_units_written: u64,
    pub power_on_hours: u64,
    pub unsafe_shutdowns: u64,
    pub media_errors: u64,
    pub num_err_log_entries: u64,
    pub temperature_celsius: i32,
}

/// One ATA SMART attribute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AtaAttribute {
    pub id: u8,
    pub name: String,
    pub normalized: u8,
    pub worst: u8,
    /// The 48-bit raw value (its meaning is the vendor's; 194's low byte is degrees C).
    pub raw: u64,
}

/// What ATA SMART says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AtaHealth {
    /// SMART RETURN STATUS: `Some(false)` when the drive says a threshold is exceeded.
    pub passed: Option<bool>,
    pub attributes: Vec<AtaAttribute>,
}

impl AtaHealth {
    /// The raw value of attribute `id`, if the drive has it.
    pub fn raw(&self, id: u8) -> Option<u64> {
        self.attributes.iter().find(|a| a.id == id).map(|a| a.raw)
    }
}

/// A drive's health at one moment, as the certificate records it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Health {
    /// `ok`, `warning` (the drive flags something), `failing` (the drive says it is failing),
    /// `unknown` (could not be read: `detail` says why) or `not_applicable`.
    pub state: String,
    /// Where it was read from.
    pub source: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nvme: Option<NvmeHealth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ata: Option<AtaHealth>,
    /// BLAKE3 of the raw pages read, hex.
    pub raw_blake3: String,
}

impl Health {
    fn unknown(source: &str, why: impl Into<String>) -> Health {
        Health {
            state: "unknown".into(),
            source: source.into(),
            detail: why.into(),
            ..Health::default()
        }
    }

    /// Reallocated sectors (ATA 5), if known.
    pub fn reallocated(&self) -> Option<u64> {
        self.ata.as_ref().and_then(|a| a.raw(5))
    }

    /// One word for a column.
    pub fn word(&self) -> &str {
        if self.state.is_empty() {
            "-"
        } else {
            &self.state
        }
    }
}

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
                Health::unknown(
                    "SCSI",
                    "not an ATA drive; SCSI health (LOG SENSE) is not read yet",
                )
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
