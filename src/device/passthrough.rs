//! The one door to a drive: NVMe admin commands or SCSI CDBs (ATA goes inside SCSI ATA
//! PASS-THROUGH), for purge and for the hidden-area queries alike. The real implementation
//! sends ioctls to an open device file (any `File` of the device is one); tests put a fake or
//! simulated drive behind the same trait.

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
}

/// A real device, opened read-only (pass-through needs no write access to the block device).
pub struct DeviceDrive {
    file: File,
}

impl DeviceDrive {
    /// Commands go through `file`, an open descriptor of the device (held exclusively by the
    /// caller for as long as it needs).
    pub fn from_file(file: File) -> DeviceDrive {
        DeviceDrive { file }
    }

    /// Opens `path` for pass-through commands.
    ///
    /// # Errors
    /// If it cannot be opened.
    pub fn open(path: &std::path::Path) -> io::Result<DeviceDrive> {
        Ok(DeviceDrive {
            file: File::open(path)?,
        })
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
        if s.host_status != 0 {
            return Err(io::Error::other(format!(
                "SG_IO host status {:#06x}",
                s.host_status
            )));
        }
        Ok((s.status, s.sense))
    }
}

impl Passthrough for DeviceDrive {
    fn nvme(&self, cmd: &AdminCmd, data: &mut [u8]) -> io::Result<(u16, u32)> {
        self.file.nvme(cmd, data)
    }

    fn scsi(
        &self,
        cdb: &[u8],
        dir: DataDir,
        data: &mut [u8],
        timeout_ms: u32,
    ) -> io::Result<(u8, Vec<u8>)> {
        self.file.scsi(cdb, dir, data, timeout_ms)
    }
}
