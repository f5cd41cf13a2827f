//! Purge: the drive's own sanitize commands (NVMe Sanitize/Format, ATA SANITIZE/SECURITY
//! ERASE, SCSI SANITIZE): which method is which grade (`method`), what a command erases
//! (`scope`), running and following one (`engine`), proving it (`evidence`), finishing it in a
//! later run (`journal`), and simulated
//! NVMe and ATA drives (`sim`, `sim_ata`). The command
//! encodings and decodings, and the one door to a drive (`Passthrough`), live in `device`
//! (`device::{ata, nvme, scsi, passthrough}`), shared with the hidden-area queries.

pub mod capture;
pub mod engine;
pub mod evidence;
pub mod flow;
pub mod journal;
pub mod method;
pub mod scope;
// The simulated drives behind the same door, for the tests and the `--simulate` test seam:
// never in a release build.
#[cfg(any(test, debug_assertions, feature = "test-seams"))]
pub mod sim;
#[cfg(any(test, debug_assertions, feature = "test-seams"))]
pub mod sim_ata;
pub mod sim_tcg;
