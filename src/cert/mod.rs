//! The certificate of sanitization: its model (field names are a contract, see
//! docs/architecture.md), the verdict rule, and the file names. Signing lives in `sign`.
//!
//! A certificate is JSON, written once and signed over its exact bytes; it is never edited
//! afterwards. Every operator-entered field exists even when empty.

pub mod agent;
pub mod build;
pub mod chain;
pub mod check;
pub mod fonts;
pub mod latest;
pub mod printout;
pub mod record;
pub mod render;
pub mod sign;
pub mod trust;

use serde::{Deserialize, Serialize};

use crate::contract::IoFailure;
pub use record::Record;

/// The `format` value of certificates this version writes.
pub const FORMAT: &str = "mediasan-certificate/1";

/// The outcome (a contract type: see [`crate::contract::Verdict`]).
pub use crate::contract::Verdict;

/// A person (operator or validator).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Person {
    pub name: String,
    pub title: String,
    pub organization: String,
    pub location: String,
    pub contact: String,
}

/// The validation block, for the second person's decision (NIST SP 800-88 Rev. 2 §4.5).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Validation {
    pub name: String,
    pub title: String,
    pub organization: String,
    pub location: String,
    pub contact: String,
    pub signature: String,
    pub date: String,
}

/// The tool that wrote the certificate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tool {
    pub name: String,
    pub version: String,
    pub build: String,
}

impl Tool {
    /// This build of mediasan.
    pub fn this() -> Tool {
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        Tool {
            name: "mediasan".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            build: format!(
                "{}-{} {profile}",
                std::env::consts::ARCH,
                std::env::consts::OS
            ),
        }
    }
}

/// The machine it ran on: what it calls itself, what its firmware says it is, and what the
/// engine that ran mediasan calls it. Empty where unknown (never left out).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Host {
    pub hostname: String,
    pub kernel: String,
    /// systemd's application-specific machine ID for mediasan (what
    /// `systemd-id128 machine-id --app-specific=`[`MACHINE_APP`] prints on that host): stable
    /// for the host, without disclosing its `/etc/machine-id`, which systemd asks to keep
    /// confidential.
    pub machine_id: String,
    /// The DMI (SMBIOS) system: vendor, product, serial number and UUID, where readable
    /// (serial and UUID need root).
    pub system: System,
    /// What the engine calls this machine (`--node KEY=VALUE`, the organization file's
    /// `[node]` table): an Ironic node UUID, a MAAS system_id, an inventory name.
    pub node: std::collections::BTreeMap<String, String>,
}

/// The DMI system identity (`/sys/class/dmi/id`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct System {
    pub vendor: String,
    pub product: String,
    pub serial: String,
    pub uuid: String,
}

/// mediasan's application ID for [`Host::machine_id`].
pub const MACHINE_APP: &str = "ce2b6ca1-641c-4eb3-aee4-10ac69de2a8a";

/// systemd's `sd_id128_get_machine_app_specific()`: HMAC-SHA256 keyed by the machine ID over
/// the application ID, its first 16 bytes made a version 4 UUID, in hex. `None` if the machine
/// ID is not 32 hex digits.
pub fn app_specific_id(machine_id: &str, app: &str) -> Option<String> {
    use hmac::Mac;
    let bytes = |s: &str| -> Option<Vec<u8>> {
        let s: String = s.trim().chars().filter(|c| *c != '-').collect();
        if s.len() != 32 {
            return None;
        }
        (0..16)
            .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
            .collect()
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&bytes(machine_id)?).ok()?;
    mac.update(&bytes(app)?);
    let out = mac.finalize().into_bytes();
    let mut id = [0u8; 16];
    id.copy_from_slice(&out[..16]);
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    Some(hex(&id))
}

impl Host {
    /// This machine.
    pub fn this() -> Host {
        Host {
            hostname: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            kernel: nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            ..Host::read_from(std::path::Path::new("/"))
        }
    }

    /// The machine ID and DMI system under `root` (`/` for this machine); what cannot be read
    /// stays empty.
    pub fn read_from(root: &std::path::Path) -> Host {
        let read = |p: &str| -> String {
            crate::limits::read_to_string(&root.join(p), 4096)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let dmi = |f: &str| read(&format!("sys/class/dmi/id/{f}"));
        Host {
            machine_id: app_specific_id(&read("etc/machine-id"), MACHINE_APP).unwrap_or_default(),
            system: System {
                vendor: dmi("sys_vendor"),
                product: dmi("product_name"),
                serial: dmi("product_serial"),
                uuid: dmi("product_uuid"),
            },
            ..Host::default()
        }
    }

    /// The machine in one line: `hostname (vendor product, serial S, UUID U; machine ID M;
    /// node k=v, ...)`, leaving out what is unknown.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let s = &self.system;
        let model = format!("{} {}", s.vendor, s.product).trim().to_string();
        if !model.is_empty() {
            parts.push(model);
        }
        if !s.serial.is_empty() {
            parts.push(format!("serial {}", s.serial));
        }
        if !s.uuid.is_empty() {
            parts.push(format!("UUID {}", s.uuid));
        }
        if !self.machine_id.is_empty() {
            parts.push(format!("machine ID {}", self.machine_id));
        }
        if !self.node.is_empty() {
            parts.push(format!(
                "node {}",
                self.node
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let name = if self.hostname.is_empty() {
            "(no hostname)"
        } else {
            &self.hostname
        };
        if parts.is_empty() {
            name.to_string()
        } else {
            format!("{name} ({})", parts.join("; "))
        }
    }
}

/// Seconds from `a` to `b` (0 if the clock went backwards).
pub fn seconds_between(a: std::time::SystemTime, b: std::time::SystemTime) -> f64 {
    b.duration_since(a).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Hidden-area (HPA/DCO/AMA) state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HiddenAreas {
    /// `not_applicable`, `unknown` (with the reason in `detail`), `none`, or `present`
    /// (sectors beyond the addressable range were not overwritten: never PASS).
    pub state: String,
    pub detail: String,
    /// The limits read before the first pass.
    pub before: Option<crate::contract::media::Snapshot>,
    /// The limits read after the last pass.
    pub after: Option<crate::contract::media::Snapshot>,
}

/// The sanitized item.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Media {
    pub path: String,
    /// `image` or `block`.
    pub kind: String,
    /// Vendor, model, serial (and where it was read), firmware, WWN, media type, interface,
    /// and what backs it; flattened, so they are fields of `media` itself.
    #[serde(flatten)]
    pub identity: crate::contract::media::Identity,
    pub size_bytes: u64,
    pub logical_block_size: u32,
    pub physical_block_size: u32,
    /// Writes bypassed the page cache.
    pub direct_io: bool,
    pub asset_tag: String,
    pub source: String,
    pub classification: String,
    pub data_backed_up: String,
    pub backup_location: String,
    pub hidden_areas: HiddenAreas,
    /// The drive's health before and after (`null` where it was not read).
    pub health: HealthRecord,
    /// A self-encrypting drive's TCG Level 0 Discovery, read before a purge (absent where
    /// the drive answered none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcg: Option<crate::contract::media::Tcg>,
    /// The same discovery read again after a TCG Revert (locking must be off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcg_after: Option<crate::contract::media::Tcg>,
}

/// The drive's health read before and after the sanitization (read by `device::health`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthRecord {
    pub before: Option<crate::contract::media::Health>,
    pub after: Option<crate::contract::media::Health>,
}

/// The policy followed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyRef {
    pub name: String,
    pub description: String,
    pub reference: String,
    pub legacy: bool,
    /// `built-in` or the file path.
    pub source: String,
    /// BLAKE3 of the policy's TOML text.
    pub blake3: String,
}

/// One overwrite pass.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PassRecord {
    pub index: usize,
    /// Human description: `0x00`, `random (chacha8)`...
    pub pattern: String,
    /// Fixed patterns: the repeating bytes, hex.
    pub pattern_bytes: Option<String>,
    /// Random passes: generator name.
    pub prng: Option<String>,
    /// Random passes: the 256-bit key, hex.
    pub seed: Option<String>,
    /// Random passes: every bit of the stream flipped (a complement pass).
    pub inverted: bool,
    pub bytes_written: u64,
    pub started: String,
    pub finished: String,
    pub bytes_per_second: f64,
    /// Byte ranges that could not be written, after retries (failing blocks, coalesced).
    pub errors: Vec<IoFailure>,
    /// Retries made, and I/Os that succeeded only on a retry.
    pub retries: u64,
    pub recovered: u64,
    /// The pass stopped at its first unrecoverable error (`on_error = "abort"`).
    pub aborted: bool,
    /// The throughput watchdog's finding, if the pass was too slow.
    pub slow: Option<String>,
    /// ... and the pass was stopped for it (`--fail-slow`).
    pub slow_stopped: bool,
    /// The pass gave up: the device stopped answering (many chunks in a row, not one block
    /// writable).
    pub gave_up: bool,
    pub flush_error: Option<String>,
    pub interrupted: bool,
    /// Each run that wrote part of this pass, in order: one for a pass written at once, more
    /// for one interrupted and resumed. `started`/`finished` above are the first's start and
    /// the last's end; `bytes_per_second` is over the segments' own time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<Segment>,
    /// A zoned device: the sequential zones the run that finished this pass reset before it
    /// wrote them in order (every one; for a resumed pass, those from where it resumed).
    #[serde(skip_serializing_if = "is_zero")]
    pub zones_reset: u64,
}

/// One stretch of a pass, written by one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Segment {
    pub started: String,
    pub finished: String,
    /// Where in the pass this run began (0, or where the run before it stopped).
    pub from_offset: u64,
    pub bytes_written: u64,
    pub seconds: f64,
}

impl PassRecord {
    /// The pattern this pass wrote, rebuilt from the record (to verify again later).
    pub fn pattern(&self) -> Option<crate::pattern::Pattern> {
        use crate::pattern::{Pattern, Prng};
        match (&self.pattern_bytes, &self.seed, &self.prng) {
            (Some(bytes), _, _) => unhex(bytes).filter(|b| !b.is_empty()).map(Pattern::Fixed),
            (None, Some(seed), Some(prng)) => Some(Pattern::Random {
                prng: Prng::from_name(prng)?,
                seed: unhex(seed)?.try_into().ok()?,
                inverted: self.inverted,
            }),
            _ => None,
        }
    }
}

/// Bytes from lower- or upper-case hex; `None` if it is not hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// How the media was sanitized.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sanitization {
    /// `clear` (overwrite is never purge) or `purge`.
    pub method: String,
    /// `overwrite`, `block erase`, `crypto erase`...
    pub technique: String,
    pub policy: PolicyRef,
    pub passes: Vec<PassRecord>,
    /// When the wipe began (its first run, for a resumed one) and ended.
    pub started: String,
    pub finished: String,
    /// From `started` to `finished`, pauses between runs included.
    pub duration_seconds: f64,
    /// The time spent writing and verifying, over all runs.
    pub active_seconds: f64,
    /// Interruptions and resumptions, in order.
    pub resumed: Vec<String>,
    /// A resumed wipe: each time the medium was out of mediasan's hands, between the last
    /// moment a run held it and the moment the next run took it again (what other software
    /// wrote meanwhile to the part already written is what the verification's
    /// `resume_checks` look for).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
    /// Purge: the device command that was sent.
    pub command: Option<DeviceCommand>,
    /// Destroy: where, how and before whom the medium was destroyed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destruction: Option<Destruction>,
}

/// A time the medium of a resumed wipe was out of mediasan's hands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Gap {
    /// The last moment a run held it (its last checkpoint or its interruption); empty if no
    /// run recorded one.
    pub from: String,
    /// When the run that resumed the wipe took it again.
    pub to: String,
    /// Where the wipe stood: the pass (passes + 1: at the verification) and the byte offset.
    pub pass: usize,
    pub offset: u64,
}

/// A physical destruction (NIST SP 800-88 Destroy), as the person who saw it records it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Destruction {
    /// `shred`, `disintegrate`, `pulverize`, `incinerate`, `melt`, `degauss`, `crush`.
    pub method: String,
    /// The facility (and its certification, if any) that destroyed it.
    pub facility: String,
    /// Who saw it destroyed.
    pub witness: String,
    /// The resulting particle size, if the method has one (e.g. "2 mm").
    pub particle_size: String,
    /// The certificate that recommended destroying it, if this record follows one.
    pub follows: Option<String>,
}

/// A device sanitize command, as sent and as the drive answered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceCommand {
    /// e.g. `nvme-sanitize-crypto`.
    pub method: String,
    /// nvme, ata or scsi.
    pub bus: String,
    /// Each command or data block sent to start it: a label and the bytes in hex.
    pub bytes: Vec<(String, String)>,
    /// Pattern, passes, AUSE.
    pub options: String,
    /// The drive's own final status.
    pub drive_status: String,
    /// The drive's time estimate, seconds, if it gave one.
    pub estimate_seconds: Option<u64>,
    /// The estimate is the largest its field can hold: the command takes at least that long.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimate_at_least: bool,
    /// Everything the command erased: the device named, and every other namespace of the same
    /// NVM subsystem a Sanitize (or an all-namespace Format) reaches.
    pub scope: Vec<String>,
    /// The drive's own record of the sanitize, read after it ended (attested by the drive,
    /// not by mediasan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drive_record: Option<DriveRecord>,
    /// `--rma-capture`: the logs saved before the command for the vendor's failure analysis,
    /// files beside the certificate, each with its BLAKE3.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub captured: Vec<Captured>,
    /// A crypto erase: NIST SP 800-88 Rev. 2's conditions for it to be Purge, each with what
    /// the drive showed of it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preconditions: Vec<Precondition>,
}

/// One condition a technique needs to reach its grade, and what shows it (or that nothing
/// does).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Precondition {
    /// The condition, as the standard states it.
    pub requirement: String,
    /// `reported` (the drive states it), `observed` (mediasan's own read-back shows it), or
    /// `not shown` (nothing here can show it).
    pub status: String,
    /// What shows it, or why nothing does.
    pub evidence: String,
}

/// A log saved before a purge (`--rma-capture`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Captured {
    /// Which log: `nvme-smart-log-02h`, `nvme-error-log-01h`, `ata-smart-read-data`, ...
    pub what: String,
    /// The file's name in the certificate folder.
    pub file: String,
    pub bytes: u64,
    pub blake3: String,
}

/// A page or registers the drive reports about its own sanitize, raw and decoded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriveRecord {
    /// `NVMe Sanitize Status log (81h)`, `ATA SANITIZE STATUS EXT`.
    pub source: String,
    /// The raw bytes, hex, and their BLAKE3.
    pub raw: String,
    pub raw_blake3: String,
    /// The fields, decoded: name and value.
    pub fields: std::collections::BTreeMap<String, String>,
    /// NVMe: the Persistent Event Log's sanitize and format events, where the controller
    /// keeps one (one line each, oldest first), and the BLAKE3 of the log read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub events_blake3: String,
    /// How many events of the log were there before the command (a previous owner's, an
    /// earlier run's): left out of `events`, counted here.
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub events_earlier: usize,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

/// How it was verified and what was found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Verification {
    /// `full`, `sampled` or `none`.
    pub method: String,
    /// Which pass was read back (the last).
    pub pass: usize,
    /// How samples are drawn (named so a third party can redraw them).
    pub algorithm: String,
    /// 256-bit sample seed, hex.
    pub seed: String,
    pub subsections: u64,
    pub sample_bytes: u64,
    pub samples: u64,
    pub requested_percent: u8,
    pub coverage_percent: f64,
    pub bytes_planned: u64,
    pub bytes_read: u64,
    /// Logical blocks that differ from the expected pattern.
    pub mismatches: u64,
    pub first_mismatch_offset: Option<u64>,
    /// BLAKE3 of every byte read, in sample order.
    pub blake3: String,
    pub errors: Vec<IoFailure>,
    pub interrupted: bool,
    pub started: String,
    pub finished: String,
    pub bytes_per_second: f64,
    /// A purge's read-back: bytes of samples that could not be read, by design (SCSI VPD B1h:
    /// the drive answered the very sense it promised after this erase). Checked, not read.
    #[serde(skip_serializing_if = "is_zero")]
    pub unreadable_by_design: u64,
    /// Sampled verification of a resumed wipe: the ranges around each point where the last
    /// pass was resumed, read in addition to the drawn samples (merged with them in offset
    /// order), so a journal that claimed bytes never written would show.
    pub resume_checks: Vec<ByteRange>,
    /// A zoned device: its zone report read after the last pass. A sequential zone reads zeros
    /// past its write pointer, so a zone reset after the overwrite (or never written) could
    /// pass for a zero pattern; its write pointer cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zones: Option<ZoneCheck>,
}

/// What a zoned device's zone report says after an overwrite.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ZoneCheck {
    /// Zones, and of them sequential ones (written only at their write pointer).
    pub zones: u64,
    pub sequential: u64,
    /// Sequential zones not written to their end: from the write pointer to the zone's end.
    pub not_full: Vec<ByteRange>,
    /// After a purge by sanitize: sequential zones that still hold data by the drive's
    /// report (from the zone's start to its write pointer; its capacity where the zone is
    /// full or read-only). A sanitize empties them all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_empty: Vec<ByteRange>,
    /// A purge of a host-managed zoned drive: canaries written at a sequential zone's write
    /// pointer rather than where they were drawn from `seed` (the drive takes writes there
    /// only).
    #[serde(skip_serializing_if = "is_zero")]
    pub canaries_moved: u64,
    /// After a purge by sanitize: the report was read again, and `not_empty` is what it
    /// showed (absent: no zone was required to be empty).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub emptied_checked: bool,
    /// The report could not be read (the check did not happen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A range of bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteRange {
    pub offset: u64,
    pub length: u64,
}

/// A certificate of sanitization.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Certificate {
    pub format: String,
    pub id: String,
    pub result: Verdict,
    /// Why it is not PASS (empty for PASS).
    pub reasons: Vec<String>,
    /// What to do with the media now, when the result calls for it (e.g. Destroy).
    pub recommendation: String,
    pub tool: Tool,
    pub host: Host,
    pub operator: Person,
    pub media: Media,
    pub sanitization: Sanitization,
    pub verification: Verification,
    pub post_sanitization_classification: String,
    pub destination: String,
    pub notes: Vec<String>,
    pub validation: Validation,
    /// The ids of the INCOMPLETE certificates that earlier, interrupted runs of this same wipe
    /// wrote; this one, from the run that ended it, replaces them.
    pub supersedes: Vec<String>,
    /// This certificate's place in its signer's series (see [`chain`]); absent in certificates
    /// made before the series existed, or where no state folder could keep it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Chain>,
}

/// A certificate's place in the series of everything one signing key signed on one machine:
/// so an auditor can tell when one is missing from a delivery.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Chain {
    /// The series: made when the machine's state folder first kept one for this key; a new
    /// id for the same key is a restart (a new state folder), never silent.
    pub id: String,
    /// 1 for the first certificate of the series, then one more for each.
    pub seq: u64,
    /// The BLAKE3 (hex) of the previous certificate's file (its exact bytes), empty for the
    /// first.
    pub previous: String,
}

/// Decides the verdict from the records: PASS only if every pass wrote and flushed every byte
/// and a verification read everything it planned (something, never nothing) and found no
/// difference. `interrupted` says a signal cut the work short (before a pass, during one, or
/// before or during the verification): the result is then INCOMPLETE, whatever else it
/// lists, because the work can be resumed; that is the one decision the journal and the exit
/// code also follow.
pub fn judge(c: &Certificate, planned_passes: usize, interrupted: bool) -> (Verdict, Vec<String>) {
    let size = c.media.size_bytes;
    let mut fail = Vec::new();
    let mut incomplete = Vec::new();
    for p in &c.sanitization.passes {
        if let Some(r) = ranges(&p.errors, &format!("pass {}: write failed", p.index)) {
            fail.push(r);
        }
        if let Some(f) = &p.flush_error {
            fail.push(format!("pass {}: {f}", p.index));
        }
        if p.slow_stopped {
            fail.push(format!(
                "pass {} stopped by --fail-slow: {}; the rest was not written",
                p.index,
                p.slow.as_deref().unwrap_or("too slow")
            ));
        }
        if p.gave_up {
            fail.push(format!(
                "pass {} gave up: the device stopped answering (not one block of several MiB in a row could be \
                 written); bytes after that were not written",
                p.index
            ));
        }
        if p.aborted {
            fail.push(format!(
                "pass {} aborted at its first unrecoverable error (on_error = abort): bytes after it were not written",
                p.index
            ));
        }
        if p.interrupted {
            incomplete.push(format!(
                "pass {} interrupted after {} of {} ({} of {size} bytes)",
                p.index,
                crate::units::human_bytes(p.bytes_written),
                crate::units::human_bytes(size),
                p.bytes_written
            ));
        } else if p.errors.is_empty() && p.bytes_written != size {
            fail.push(format!(
                "pass {} wrote {} of {} ({} of {size} bytes)",
                p.index,
                crate::units::human_bytes(p.bytes_written),
                crate::units::human_bytes(size),
                p.bytes_written
            ));
        }
    }
    if c.sanitization.passes.len() < planned_passes && incomplete.is_empty() && fail.is_empty() {
        incomplete.push(format!(
            "{}only {} of {planned_passes} passes ran",
            if interrupted { "interrupted: " } else { "" },
            c.sanitization.passes.len()
        ));
    }
    // A Clear claims every user-addressable block: on a drive whose hidden-area limits could
    // not be read, sectors beyond the size it reports may remain.
    if c.media.hidden_areas.state == "unknown" && c.media.kind == "block" {
        incomplete.push(format!(
            "the drive's hidden-area limits (HPA/AMA, DCO) could not be read ({}): sectors beyond the size \
             it reports may hold data; check them (hdparm -N, as root) and wipe again",
            c.media.hidden_areas.detail
        ));
    }
    if c.media.hidden_areas.state == "present" {
        fail.push(format!(
            "hidden sectors were not overwritten: {}; restore the native max address (e.g. hdparm -N) and wipe again",
            c.media.hidden_areas.detail
        ));
    }
    let v = &c.verification;
    if let Some(z) = v
        .zones
        .as_ref()
        .filter(|_| fail.is_empty() && incomplete.is_empty())
    {
        if let Some(first) = z.not_full.first() {
            fail.push(format!(
                "{} of {} sequential zones are not written to their end (the first from offset {}): the \
                 zone report after the overwrite shows their write pointers short",
                z.not_full.len(),
                z.sequential,
                first.offset
            ));
        }
        if let Some(e) = &z.error {
            incomplete.push(format!(
                "the zone report after the overwrite could not be read ({e}): that every zone was written to \
                 its end is not shown"
            ));
        }
    }
    if fail.is_empty() && incomplete.is_empty() {
        match v.method.as_str() {
            "none" => {
                // A resumed wipe still reads its first and last MiB (resume_checks): a
                // difference there is a failure, not a lack of verification.
                if let Some(r) = ranges(
                    &v.errors,
                    "reading the regions a resumed wipe checks failed",
                ) {
                    fail.push(r);
                }
                if v.mismatches > 0 {
                    fail.push(format!(
                        "the regions a resumed wipe checks (verification.resume_checks) hold {} block(s) that \
                         differ from the pattern, the first at offset {}: something wrote to the medium while \
                         it was out of mediasan's hands",
                        v.mismatches,
                        v.first_mismatch_offset.unwrap_or(0)
                    ));
                }
                incomplete.push("not verified (verification method none)".into());
            }
            _ if v.interrupted && v.bytes_read == 0 => {
                incomplete.push("verification did not run: interrupted before it began".into())
            }
            _ if v.interrupted => incomplete.push(format!(
                "verification interrupted after {} of {} ({} of {} bytes)",
                crate::units::human_bytes(v.bytes_read),
                crate::units::human_bytes(v.bytes_planned),
                v.bytes_read,
                v.bytes_planned
            )),
            // Nothing planned is nothing verified: never a PASS.
            _ if v.bytes_planned == 0 => {
                incomplete.push("verification did not run (nothing was read back)".into())
            }
            _ => {
                if let Some(r) = ranges(&v.errors, "verification read failed") {
                    fail.push(r);
                }
                if v.mismatches > 0 {
                    fail.push(format!(
                        "verification found {} block(s) that differ from the pattern, the first at offset {}",
                        v.mismatches,
                        v.first_mismatch_offset.unwrap_or(0)
                    ));
                }
                if v.errors.is_empty() && v.bytes_read != v.bytes_planned {
                    fail.push(format!(
                        "verification read {} of {} planned bytes",
                        v.bytes_read, v.bytes_planned
                    ));
                }
            }
        }
    } else if v.method != "none" && v.bytes_read == 0 {
        incomplete.push("verification skipped: the overwrite did not complete".into());
    }
    if interrupted && incomplete.is_empty() {
        incomplete.push("interrupted by a signal".into());
    }
    if interrupted {
        // Failures found so far come first: they stay true after a resume.
        fail.extend(incomplete);
        (Verdict::Incomplete, fail)
    } else if !fail.is_empty() {
        fail.extend(incomplete);
        (Verdict::Fail, fail)
    } else if !incomplete.is_empty() {
        (Verdict::Incomplete, incomplete)
    } else {
        (Verdict::Pass, vec![])
    }
}

/// One reason for a list of failed ranges: the range itself when there is one, else how many,
/// how much and the first (the certificate lists every range in `errors`).
fn ranges(errors: &[IoFailure], what: &str) -> Option<String> {
    use crate::units::human_bytes;
    let first = errors.first()?;
    Some(match errors.len() {
        1 => format!(
            "{what} at offset {} ({} bytes): {}",
            first.offset, first.length, first.error
        ),
        n => format!(
            "{what} in {n} ranges ({} in all), the first at {} (offset {}): {}",
            human_bytes(errors.iter().map(|e| e.length).sum::<u64>()),
            human_bytes(first.offset),
            first.offset,
            first.error
        ),
    })
}

/// The recommendation for the media: Destroy when blocks could not be written or read back
/// (a failing drive: those blocks may still hold data and cannot be cleared by software).
///
/// Only for block devices, and only for media errors (by errno: EIO, ENODATA, EILSEQ): a full
/// filesystem under an image, or a device that went away, says nothing about the medium.
pub fn recommend(c: &Certificate) -> String {
    let media = |e: &&IoFailure| e.media_error();
    let write_errors: u64 = c
        .sanitization
        .passes
        .iter()
        .flat_map(|p| &p.errors)
        .filter(media)
        .map(|e| e.length)
        .sum();
    let read_errors: u64 = c
        .verification
        .errors
        .iter()
        .filter(media)
        .map(|e| e.length)
        .sum();
    if c.media.kind != "block" || write_errors + read_errors == 0 {
        return String::new();
    }
    format!(
        "Destroy: {write_errors} bytes could not be written and {read_errors} bytes could not be read back; \
         those blocks may still hold data that software cannot clear"
    )
}

/// A random RFC 4122 version-4 UUID.
pub fn new_id(bytes: [u8; 16]) -> String {
    let mut b = bytes;
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Lower-case hex of bytes.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// RFC 3339 UTC, seconds precision.
pub fn timestamp(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The last component of `path` as a safe file-name part: anything but letters, digits, `.`,
/// `_` and `-` becomes `_` (`target` if there is none).
pub fn safe_name(path: &std::path::Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "target".into());
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The certificate's file name: `<target name>-<UTC time>-<id prefix>.json`, with anything
/// but letters, digits, `.`, `_` and `-` in the target name replaced by `_`.
pub fn file_name(target: &std::path::Path, started: &str, id: &str) -> String {
    let base = safe_name(target);
    let stamp: String = started.chars().filter(|c| *c != '-' && *c != ':').collect();
    format!("{base}-{stamp}-{}.json", &id[..8.min(id.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passing() -> Certificate {
        let mut c = Certificate {
            format: FORMAT.into(),
            ..Default::default()
        };
        c.media.size_bytes = 1000;
        c.sanitization.passes = vec![PassRecord {
            index: 1,
            bytes_written: 1000,
            ..Default::default()
        }];
        c.verification = Verification {
            method: "sampled".into(),
            bytes_planned: 100,
            bytes_read: 100,
            ..Default::default()
        };
        c
    }

    /// A zoned device's zone report after the overwrite: a sequential zone not written to its
    /// end fails the certificate even where every read matched (it reads zeros, as a zero
    /// pattern does); a report that could not be read leaves it INCOMPLETE.
    #[test]
    fn a_sequential_zone_short_of_its_end_fails_the_overwrite() {
        let mut c = passing();
        c.verification.zones = Some(ZoneCheck {
            zones: 16,
            sequential: 14,
            ..ZoneCheck::default()
        });
        assert_eq!(judge(&c, 1, false), (Verdict::Pass, vec![]));
        c.verification.zones.as_mut().unwrap().not_full = vec![ByteRange {
            offset: 4 << 20,
            length: 1 << 20,
        }];
        let (v, r) = judge(&c, 1, false);
        assert_eq!(v, Verdict::Fail);
        assert!(
            r[0].contains("1 of 14 sequential zones") && r[0].contains("4194304"),
            "{r:?}"
        );
        c.verification.zones = Some(ZoneCheck {
            error: Some("EIO".into()),
            ..ZoneCheck::default()
        });
        let (v, r) = judge(&c, 1, false);
        assert_eq!(v, Verdict::Incomplete);
        assert!(
            r[0].contains("zone report") && r[0].contains("EIO"),
            "{r:?}"
        );
    }

    #[test]
    fn pass_only_when_everything_holds() {
        assert_eq!(judge(&passing(), 1, false), (Verdict::Pass, vec![]));

        let mut c = passing();
        c.verification.mismatches = 3;
        c.verification.first_mismatch_offset = Some(4096);
        let (v, r) = judge(&c, 1, false);
        assert_eq!(v, Verdict::Fail);
        assert!(
            r[0].contains("3 block(s)") && r[0].contains("4096"),
            "{r:?}"
        );

        let mut c = passing();
        c.sanitization.passes[0]
            .errors
            .push(IoFailure::other(512, 512, "EIO"));
        c.sanitization.passes[0].bytes_written = 488;
        let (v, r) = judge(&c, 1, false);
        assert_eq!(v, Verdict::Fail);
        assert!(r[0].contains("offset 512"));

        let mut c = passing();
        c.sanitization.passes[0].flush_error = Some("fdatasync failed".into());
        assert_eq!(judge(&c, 1, false).0, Verdict::Fail);

        let mut c = passing();
        c.sanitization.passes[0].bytes_written = 999;
        assert_eq!(judge(&c, 1, false).0, Verdict::Fail);

        let mut c = passing();
        c.sanitization.passes[0].interrupted = true;
        assert_eq!(judge(&c, 1, false).0, Verdict::Incomplete);

        // A drive whose hidden-area limits could not be read: its Clear cannot claim every
        // user-addressable block. An image (no such limits) is unaffected.
        let mut c = passing();
        c.media.kind = "block".into();
        c.media.hidden_areas.state = "unknown".into();
        c.media.hidden_areas.detail = "DCO IDENTIFY failed; the DCO may be frozen".into();
        let (v, r) = judge(&c, 1, false);
        assert_eq!(v, Verdict::Incomplete);
        assert!(
            r[0].contains("hidden-area limits") && r[0].contains("frozen"),
            "{r:?}"
        );
        c.media.kind = "image".into();
        assert_eq!(judge(&c, 1, false).0, Verdict::Pass);

        assert_eq!(
            judge(&passing(), 3, false).0,
            Verdict::Incomplete,
            "passes missing"
        );
        let (v, r) = judge(&passing(), 3, true);
        assert_eq!(v, Verdict::Incomplete);
        assert!(r[0].starts_with("interrupted: only 1 of 3"), "{r:?}");

        // Verification that did not run is never PASS: nothing planned, or stopped before it
        // began, or interrupted before it began with the passes all done.
        let mut c = passing();
        c.verification.bytes_planned = 0;
        c.verification.bytes_read = 0;
        assert_eq!(
            judge(&c, 1, false).0,
            Verdict::Incomplete,
            "0 planned = not verified"
        );
        let mut c = passing();
        c.verification.bytes_read = 0;
        c.verification.interrupted = true;
        let (v, r) = judge(&c, 1, true);
        assert_eq!(v, Verdict::Incomplete);
        assert!(r[0].contains("did not run"), "{r:?}");
        // A signal makes the result INCOMPLETE even when failures were found (the wipe can be
        // resumed; the failures are listed first and stay).
        let mut c = passing();
        c.sanitization.passes[0]
            .errors
            .push(IoFailure::other(0, 512, "EIO"));
        c.sanitization.passes[0].bytes_written = 488;
        let (v, r) = judge(&c, 2, true);
        assert_eq!(v, Verdict::Incomplete);
        assert!(r[0].contains("write failed"), "{r:?}");
        // ... and a fully done wipe that a signal reached at a boundary is not PASS.
        assert_eq!(judge(&passing(), 1, true).0, Verdict::Incomplete);

        let mut c = passing();
        c.verification.method = "none".into();
        assert_eq!(
            judge(&c, 1, false).0,
            Verdict::Incomplete,
            "unverified is never PASS"
        );

        let mut c = passing();
        c.verification.bytes_read = 50;
        assert_eq!(judge(&c, 1, false).0, Verdict::Fail);

        let mut c = passing();
        c.verification.errors.push(IoFailure::other(0, 4096, "EIO"));
        assert_eq!(judge(&c, 1, false).0, Verdict::Fail);
    }

    #[test]
    fn unwritable_blocks_recommend_destroy() {
        let mut c = passing();
        c.media.kind = "block".into();
        assert_eq!(recommend(&c), "");
        let eio = "Input/output error (os error 5)";
        c.sanitization.passes[0].errors.push(IoFailure::from_io(
            512,
            1024,
            &std::io::Error::from_raw_os_error(nix::libc::EIO),
        ));
        assert!(c.sanitization.passes[0].errors[0]
            .error
            .starts_with(eio.split(' ').next().unwrap()));
        assert!(recommend(&c).starts_with("Destroy: 1024 bytes"));
        c.media.kind = "image".into();
        assert_eq!(recommend(&c), "", "not for an image file");
        c.media.kind = "block".into();
        c.sanitization.passes[0].errors[0] = IoFailure::from_io(
            512,
            1024,
            &std::io::Error::from_raw_os_error(nix::libc::ENOSPC),
        );
        assert_eq!(recommend(&c), "", "not for a full filesystem");
        let mut c = passing();
        c.sanitization.passes[0].aborted = true;
        let (v, r) = judge(&c, 1, false);
        assert_eq!(v, Verdict::Fail);
        assert!(r.iter().any(|r| r.contains("aborted")), "{r:?}");
    }

    #[test]
    fn certificate_round_trips_through_json() {
        let mut c = passing();
        c.result = Verdict::Pass;
        c.sanitization.passes[0].seed = Some("ab".repeat(32));
        let text = serde_json::to_string_pretty(&c).unwrap();
        assert!(text.contains("\"result\": \"PASS\""));
        assert!(text.contains("\"size_bytes\": 1000"));
        let back: Certificate = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn pass_records_rebuild_their_pattern() {
        use crate::pattern::{Pattern, Prng};
        let fixed = PassRecord {
            pattern_bytes: Some("9249".into()),
            ..Default::default()
        };
        assert_eq!(fixed.pattern(), Some(Pattern::Fixed(vec![0x92, 0x49])));
        let random = PassRecord {
            prng: Some("aes128-ctr".into()),
            seed: Some("0a".repeat(32)),
            inverted: true,
            ..Default::default()
        };
        assert_eq!(
            random.pattern(),
            Some(Pattern::Random {
                prng: Prng::Aes128Ctr,
                seed: [10; 32],
                inverted: true
            })
        );
        for bad in [
            PassRecord {
                pattern_bytes: Some("zz".into()),
                ..Default::default()
            },
            PassRecord {
                prng: Some("rc4".into()),
                seed: Some("00".repeat(32)),
                ..Default::default()
            },
            PassRecord {
                prng: Some("chacha8".into()),
                seed: Some("00".repeat(31)),
                ..Default::default()
            },
            PassRecord::default(),
        ] {
            assert_eq!(bad.pattern(), None, "{bad:?}");
        }
    }

    #[test]
    fn the_machine_is_read_from_its_files_and_its_id_is_systemds_app_specific_one() {
        // systemd's algorithm, checked against `systemd-id128 machine-id --app-specific=` on
        // a machine with this /etc/machine-id.
        assert_eq!(
            app_specific_id("3d1219c7c4c5404aaa1f6d2a48adfda4\n", MACHINE_APP).as_deref(),
            Some("66fb80a2d18d43af82f84918bc64d001")
        );
        assert_eq!(app_specific_id("", MACHINE_APP), None);
        assert_eq!(app_specific_id("3d12zz", MACHINE_APP), None);
        let root = tempfile::tempdir().unwrap();
        let dmi = root.path().join("sys/class/dmi/id");
        std::fs::create_dir_all(&dmi).unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(
            root.path().join("etc/machine-id"),
            "3d1219c7c4c5404aaa1f6d2a48adfda4\n",
        )
        .unwrap();
        for (f, v) in [
            ("sys_vendor", "Dell Inc.\n"),
            ("product_name", "PowerEdge R750\n"),
            ("product_serial", "7XK2J93\n"),
        ] {
            std::fs::write(dmi.join(f), v).unwrap();
        }
        let mut h = Host::read_from(root.path());
        assert_eq!(h.machine_id, "66fb80a2d18d43af82f84918bc64d001");
        assert_eq!(
            h.system,
            System {
                vendor: "Dell Inc.".into(),
                product: "PowerEdge R750".into(),
                serial: "7XK2J93".into(),
                uuid: String::new(),
            }
        );
        h.hostname = "node-7".into();
        h.node.insert("ironic_node".into(), "1be26c0b".into());
        assert_eq!(
            h.describe(),
            "node-7 (Dell Inc. PowerEdge R750; serial 7XK2J93; machine ID \
             66fb80a2d18d43af82f84918bc64d001; node ironic_node=1be26c0b)"
        );
        assert_eq!(Host::default().describe(), "(no hostname)");
        // A certificate of an older mediasan (no machine fields) still reads.
        let old: Host = serde_json::from_str(r#"{"hostname":"h","kernel":"6.1"}"#).unwrap();
        assert_eq!((old.hostname.as_str(), old.machine_id.as_str()), ("h", ""));
    }

    #[test]
    fn ids_and_names() {
        let id = new_id([0xFF; 16]);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        let n = file_name(
            std::path::Path::new("/dev/disk/by-id/ata-X Y"),
            "2026-11-21T10:14:06Z",
            &id,
        );
        assert_eq!(n, "ata-X_Y-20261121T101406Z-ffffffff.json");
    }
}
