//! The one door to a drive: NVMe admin commands or SCSI CDBs (ATA goes inside SCSI ATA
//! PASS-THROUGH), for purge and for the hidden-area queries alike. The real implementation
//! sends ioctls to an open device file (any `File` of the device is one: the caller holds it,
//! exclusively where it must); tests put a fake or simulated drive behind the same trait.

use std::fs::File;
use std::io;

use crate::device::ioctl;
pub use crate::device::ioctl::DataDir;

use super::nvme::AdminCmd;

/// A drive that takes pass-through commands.
pub trait Passthrough: Sync {
    /// An NVMe admin command: (NVMe status, completion result dword).
    fn nvme(&self, cmd: &AdminCmd, data: &mut [u8]) -> io::Result<(u16, u32)>;
    /// A SCSI command (or ATA inside ATA PASS-THROUGH): (SCSI status, sense data).
    fn scsi(
        &self,
        cdb: &[u8],
        dir: DataDir,
        data: &mut [u8],
        timeout_ms: u32,
    ) -> io::Result<(u8, Vec<u8>)>;
    /// A request to the kernel's `sed-opal` with its argument struct: the ioctl's result (0,
    /// or a TCG method status). Only a real block device (and the simulated drive) has one;
    /// every other door refuses it, as a kernel without sed-opal does.
    fn sed_opal(&self, op: SedOpal, arg: &mut [u8]) -> io::Result<i32> {
        let _ = (op, arg);
        Err(io::Error::from_raw_os_error(nix::libc::ENOTTY))
    }
}

impl Passthrough for File {
    fn nvme(&self, cmd: &AdminCmd, data: &mut [u8]) -> io::Result<(u16, u32)> {
        ioctl::nvme_admin(self, cmd, data)
    }

    fn scsi(
        &self,
        cdb: &[u8],
        dir: DataDir,
        data: &mut [u8],
        timeout_ms: u32,
    ) -> io::Result<(u8, Vec<u8>)> {
        let s = ioctl::sg_io(self, cdb, dir, data, timeout_ms)?;
        transport(s.host_status, s.driver_status)?;
        Ok((s.status, s.sense))
    }

    fn sed_opal(&self, op: SedOpal, arg: &mut [u8]) -> io::Result<i32> {
        ioctl::sed_opal(self, op.code(), arg)
    }
}

/// The kernel's `sed-opal` requests mediasan makes (`<linux/sed-opal.h>`): the kernel builds
/// the TCG sessions and ComPackets itself, so mediasan sends no TCG packet of its own to erase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SedOpal {
    /// `IOC_OPAL_REVERT_TPR`: Revert of the Admin SP with the SID authority (the owner's
    /// password): the Locking SP and its media keys are reverted to factory state.
    RevertTper,
    /// `IOC_OPAL_PSID_REVERT_TPR`: the same with the PSID authority (the label's code), which
    /// works whoever owns the drive.
    PsidRevertTper,
    /// `IOC_OPAL_GET_STATUS`: whether the kernel's sed-opal serves the drive, and its locking.
    GetStatus,
}

impl SedOpal {
    /// The ioctl request code: `_IOW('p', 226 | 232, struct opal_key)`,
    /// `_IOR('p', 236, struct opal_status)`.
    pub fn code(self) -> u32 {
        match self {
            SedOpal::RevertTper => 0x4108_70E2,
            SedOpal::PsidRevertTper => 0x4108_70E8,
            SedOpal::GetStatus => 0x8008_70EC,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SedOpal::RevertTper => "IOC_OPAL_REVERT_TPR",
            SedOpal::PsidRevertTper => "IOC_OPAL_PSID_REVERT_TPR",
            SedOpal::GetStatus => "IOC_OPAL_GET_STATUS",
        }
    }

    /// The size of its argument, from the request code.
    pub fn arg_len(self) -> usize {
        (self.code() >> 16 & 0x3FFF) as usize
    }
}

/// What SG_IO's host and driver bytes say about a command: a timeout or a transport failure
/// (the command may not have reached the drive, or was cut off and the drive reset) is an
/// error, never a status to read. Kernels before ~5.12, SAS HBAs and USB bridges report a
/// timeout only in `driver_status` (DRIVER_TIMEOUT); DRIVER_SENSE (sense data follows) is
/// normal.
///
/// # Errors
/// The failure, [`io::ErrorKind::TimedOut`] for a timeout.
pub fn transport(host: u16, driver: u16) -> io::Result<()> {
    const DID_TIME_OUT: u16 = 0x03;
    const DRIVER_TIMEOUT: u16 = 0x06;
    const DRIVER_SENSE: u16 = 0x08;
    if host == DID_TIME_OUT || driver & 0x0F == DRIVER_TIMEOUT {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the command timed out (SG_IO host status {host:#06x}, driver status {driver:#04x}); the kernel \
                 may have reset the drive"
            ),
        ));
    }
    if host != 0 {
        return Err(io::Error::other(format!(
            "SG_IO host status {host:#06x}: the adapter or bridge failed the command"
        )));
    }
    match driver & 0x0F {
        0 | DRIVER_SENSE => Ok(()),
        d => Err(io::Error::other(format!(
            "SG_IO driver status {d:#04x}: the kernel failed the command"
        ))),
    }
}

/// A drive shared between owners (a simulated drive is both the command door and the media
/// a flow reads its evidence from).
impl<T: Passthrough + Send + ?Sized> Passthrough for std::sync::Arc<T> {
    fn nvme(&self, cmd: &AdminCmd, data: &mut [u8]) -> io::Result<(u16, u32)> {
        self.as_ref().nvme(cmd, data)
    }

    fn scsi(
        &self,
        cdb: &[u8],
        dir: DataDir,
        data: &mut [u8],
        timeout_ms: u32,
    ) -> io::Result<(u8, Vec<u8>)> {
        self.as_ref().scsi(cdb, dir, data, timeout_ms)
    }

    fn sed_opal(&self, op: SedOpal, arg: &mut [u8]) -> io::Result<i32> {
        self.as_ref().sed_opal(op, arg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_in_the_driver_byte_are_failures() {
        assert!(transport(0, 0).is_ok());
        assert!(transport(0, 0x08).is_ok(), "DRIVER_SENSE: sense follows");
        let e = transport(0, 0x06).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            transport(0x03, 0).unwrap_err().kind(),
            io::ErrorKind::TimedOut
        );
        assert!(transport(0x07, 0).is_err(), "DID_ERROR");
        assert!(transport(0, 0x04).is_err(), "DRIVER_ERROR");
        assert!(
            transport(0, 0x28).is_ok(),
            "suggestion bits with DRIVER_SENSE"
        );
    }
}
