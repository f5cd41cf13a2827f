//! Purge: the drive's own sanitize commands (NVMe Sanitize/Format, ATA SANITIZE/SECURITY
//! ERASE, SCSI SANITIZE). This module holds the command encodings and decodings, pure and
//! checked byte for byte against nvme-cli, hdparm and sg_sanitize (tests/data/ioctlcap).
//! The ATA encodings live in `device::ata`, shared with the hidden-area queries.

pub mod drive;
pub mod engine;
pub mod method;
pub mod nvme;
pub mod scope;
pub mod scsi;
pub mod sim;
