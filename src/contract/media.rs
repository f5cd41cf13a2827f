//! What a certificate records of a medium, as the drive reported it: who it is, its hidden
//! areas, its health. These are file formats (certificates, journals, events): they live on
//! the contracts' floor, so that a rename in `device/`, which reads them, can never change a
//! field's name. `device/` fills them in; `cert/` embeds them.

use serde::{Deserialize, Serialize};

/// Identity of a target as far as it can be read. Unknown fields are empty strings, so a
/// certificate always has every field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub vendor: String,
    pub model: String,
    pub serial: String,
    /// Where the serial was read from (e.g. `sysfs device/serial`).
    pub serial_source: String,
    pub firmware: String,
    pub wwn: String,
    /// sata, sas, scsi, nvme, usb, virtio, loop, mmc, file...
    pub interface: String,
    /// hdd, ssd, nvme, usb, removable, image, virtual...
    pub media_type: String,
    /// Loop devices: the file behind it. Image files: the device and filesystem they live on.
    pub backing: String,
    /// Spinning media (the kernel's queue/rotational).
    pub rotational: bool,
    /// Removable media (the kernel's removable flag).
    pub removable: bool,
    /// NVMe: the controller (`nvme0`, with its controller id).
    pub nvme_controller: String,
    /// NVMe: the namespace id.
    pub nvme_namespace: String,
    /// Not a physical medium although it looks like one: a hypervisor's or a cloud's virtual
    /// disk, or a RAID controller's logical volume, and how that was told (empty: nothing says
    /// so). Its own sanitize reaches the emulation or the volume, never the media beneath.
    #[serde(default)]
    pub virtual_disk: String,
    /// A zoned block device, as the kernel's `queue/zoned` says: `host-managed` (every write
    /// must land at its zone's write pointer), `host-aware`, or empty (not zoned).
    #[serde(default)]
    pub zoned: String,
}

impl Identity {
    /// A host-managed zoned device: it takes writes only at each zone's write pointer.
    pub fn host_managed(&self) -> bool {
        self.zoned == "host-managed"
    }
}

/// What a self-encrypting drive says of itself in TCG Level 0 Discovery.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tcg {
    /// The Security Subsystem Classes it implements (`Opal 2`, `Enterprise`, `Pyrite 2`...).
    pub ssc: Vec<String>,
    /// The first SSC's base ComID, where its sessions are opened.
    pub base_comid: Option<u16>,
    /// The Locking feature, where reported.
    pub locking: Option<TcgLocking>,
    /// Block SID Authentication: whether the SID authority is blocked until a power cycle.
    pub sid_blocked: Option<bool>,
    /// The discovery data's structure revision.
    pub revision: u32,
}

/// The Locking feature descriptor (0002h) of Level 0 Discovery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TcgLocking {
    pub supported: bool,
    /// A locking range is configured (the owner set a password).
    pub enabled: bool,
    /// A range is locked now: its data cannot be read or written.
    pub locked: bool,
    pub media_encryption: bool,
    /// The MBR shadow is on (the host sees a pre-boot image, not the user data, at LBA 0).
    pub mbr_enabled: bool,
    pub mbr_done: bool,
}

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

/// What a SCSI/SAS drive reports (LOG SENSE, READ DEFECT DATA), where it answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScsiHealth {
    /// Informational Exceptions log (2Fh): the most recent exception's ASC/ASCQ (0/0: none;
    /// 5Dh: failure prediction threshold exceeded) and the temperature it reports.
    pub ie_asc: u8,
    pub ie_ascq: u8,
    pub temperature_celsius: Option<u8>,
    /// Non-medium error count (log 06h), where the drive keeps it.
    pub non_medium_errors: Option<u64>,
    /// Entries in the grown defect list (READ DEFECT DATA), where the drive answers.
    pub grown_defects: Option<u64>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scsi: Option<ScsiHealth>,
    /// BLAKE3 of the raw pages read, hex.
    pub raw_blake3: String,
}

impl Health {
    /// Health that could not be read from `source`, and why.
    pub fn unknown(source: &str, why: impl Into<String>) -> Health {
        Health {
            state: "unknown".into(),
            source: source.into(),
            detail: why.into(),
            ..Health::default()
        }
    }

    /// Reallocated sectors (ATA 5, or a SCSI drive's grown defects), if known.
    pub fn reallocated(&self) -> Option<u64> {
        self.ata
            .as_ref()
            .and_then(|a| a.raw(5))
            .or_else(|| self.scsi.as_ref().and_then(|s| s.grown_defects))
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
