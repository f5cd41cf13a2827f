//! The block-device ioctls mediasan needs, each wrapped in a safe function.
//!
//! This is one of the few files allowed `unsafe`: the `nix` ioctl macros generate `unsafe fn`s
//! because the kernel writes through the pointer we pass. Each call below passes a pointer to a
//! live, correctly typed local, matching the kernel's declaration in `include/uapi/linux/fs.h`.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use nix::libc::{c_int, c_uint};

mod sys {
    use nix::libc::{c_int, c_uint};
    // #define BLKROGET   _IO(0x12,94)   /* get read-only status (0 = read_write) */  -> int
    nix::ioctl_read_bad!(blkroget, nix::request_code_none!(0x12, 94), c_int);
    // #define BLKSSZGET  _IO(0x12,104)  /* get block device sector size */         -> int
    nix::ioctl_read_bad!(blksszget, nix::request_code_none!(0x12, 104), c_int);
    // #define BLKPBSZGET _IO(0x12,123)  /* get physical block size */             -> unsigned int
    nix::ioctl_read_bad!(blkpbszget, nix::request_code_none!(0x12, 123), c_uint);
    // #define BLKGETSIZE64 _IOR(0x12,114,size_t) /* return device size in bytes */ -> u64
    nix::ioctl_read!(blkgetsize64, 0x12, 114, u64);
    // #define BLKREPORTZONE _IOWR(0x12, 130, struct blk_zone_report)  (linux/blkzoned.h); the
    // 16-byte header is followed by the room for `nr_zones` 64-byte `struct blk_zone`s.
    nix::ioctl_readwrite_bad!(
        blkreportzone,
        nix::request_code_readwrite!(0x12, 130, 16),
        u8
    );
    // #define BLKRESETZONE _IOW(0x12, 131, struct blk_zone_range)
    nix::ioctl_write_ptr_bad!(
        blkresetzone,
        nix::request_code_write!(0x12, 131, 16),
        super::BlkZoneRange
    );
}

/// `struct blk_zone_range` from `<linux/blkzoned.h>`: sectors of 512 bytes.
#[repr(C)]
struct BlkZoneRange {
    sector: u64,
    nr_sectors: u64,
}

fn errno(e: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Size of a block device in bytes (BLKGETSIZE64).
pub fn size_bytes(f: &File) -> io::Result<u64> {
    let mut v: u64 = 0;
    // SAFETY: `f` is an open file descriptor for the whole call, and `&mut v` points at a live
    // u64, the type the kernel writes for BLKGETSIZE64 (size_t is 64 bits on every target we
    // build for). A non-block fd makes the kernel return ENOTTY; it writes nothing then.
    unsafe { sys::blkgetsize64(f.as_raw_fd(), &mut v) }.map_err(errno)?;
    Ok(v)
}

/// Logical block (sector) size (BLKSSZGET): the unit of addressing and of O_DIRECT alignment.
pub fn logical_block_size(f: &File) -> io::Result<u32> {
    let mut v: c_int = 0;
    // SAFETY: `f` is open for the whole call, and `&mut v` is a live c_int, the type the kernel
    // writes for BLKSSZGET (put_user of an int in blkdev_common_ioctl).
    unsafe { sys::blksszget(f.as_raw_fd(), &mut v) }.map_err(errno)?;
    u32::try_from(v).map_err(|_| io::Error::other(format!("BLKSSZGET returned {v}")))
}

/// Physical block size (BLKPBSZGET).
pub fn physical_block_size(f: &File) -> io::Result<u32> {
    let mut v: c_uint = 0;
    // SAFETY: `f` is open for the whole call, and `&mut v` is a live c_uint, the type the kernel
    // writes for BLKPBSZGET (put_uint in blkdev_common_ioctl).
    unsafe { sys::blkpbszget(f.as_raw_fd(), &mut v) }.map_err(errno)?;
    Ok(v)
}

/// True if the block device is read-only (BLKROGET), e.g. `losetup -r` or a write-protect tab.
pub fn read_only(f: &File) -> io::Result<bool> {
    let mut v: c_int = 0;
    // SAFETY: `f` is open for the whole call, and `&mut v` is a live c_int, the type the kernel
    // writes for BLKROGET (put_int in blkdev_common_ioctl).
    unsafe { sys::blkroget(f.as_raw_fd(), &mut v) }.map_err(errno)?;
    Ok(v != 0)
}

/// A request to the kernel's `sed-opal` (`<linux/sed-opal.h>`, ioctl type 'p') with `arg`
/// as its argument struct, whose size the request code carries. Returns the ioctl's result:
/// 0, or a TCG method status (positive) the drive answered with.
///
/// # Errors
/// `arg` is not the size the request says, or the kernel refuses (`ENOTTY`/`EOPNOTSUPP`: no
/// sed-opal for this device; `EACCES`: no CAP_SYS_ADMIN; an I/O error).
pub fn sed_opal(f: &File, code: u32, arg: &mut [u8]) -> io::Result<i32> {
    if (code >> 8 & 0xFF) != u32::from(b'p') || arg.len() != (code >> 16 & 0x3FFF) as usize {
        return Err(io::Error::other(format!(
            "sed-opal request {code:#010x} with a {}-byte argument",
            arg.len()
        )));
    }
    // SAFETY: `f` is open for the whole call; `arg` is a live buffer of exactly the size the
    // request code declares (checked above), which is all sed_ioctl copies in (copy_from_user
    // of _IOC_SIZE bytes) or out (IOC_OPAL_GET_STATUS writes its 8-byte struct opal_status).
    let r = unsafe {
        nix::libc::ioctl(
            f.as_raw_fd(),
            code as _,
            arg.as_mut_ptr().cast::<nix::libc::c_void>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r)
}

/// `struct blk_zone_report`'s header: `sector` (u64), `nr_zones` (u32), `flags` (u32).
pub const REPORT_HEADER: usize = 16;
/// One `struct blk_zone`.
pub const ZONE_BYTES: usize = 64;

/// Fills `buf` with the zone report (BLKREPORTZONE) from `sector` on: its 16-byte header,
/// then up to `nr_zones` 64-byte zones (decoded by `zones::decode_report`).
///
/// # Errors
/// `buf` is too small for `nr_zones`, or the kernel refuses (not a zoned device).
pub fn report_zones(f: &File, sector: u64, nr_zones: u32, buf: &mut [u8]) -> io::Result<()> {
    let need = REPORT_HEADER + nr_zones as usize * ZONE_BYTES;
    if buf.len() < need {
        return Err(io::Error::other("zone report buffer too small"));
    }
    buf[..8].copy_from_slice(&sector.to_ne_bytes());
    buf[8..12].copy_from_slice(&nr_zones.to_ne_bytes());
    buf[12..16].fill(0);
    // SAFETY: `f` is open for the whole call; `buf` is live and holds the header the kernel
    // reads (sector, nr_zones) and room for the `nr_zones` zones it may write after it (checked
    // above); blkdev_report_zones_ioctl writes no more than that and the header's count.
    unsafe { sys::blkreportzone(f.as_raw_fd(), buf.as_mut_ptr()) }.map_err(errno)?;
    Ok(())
}

/// Resets the zones in `[sector, sector + nr_sectors)` (BLKRESETZONE): their write pointers go
/// back to their starts. `f` must be open for writing.
///
/// # Errors
/// The kernel refuses (a range not on zone boundaries, a conventional zone, an I/O error).
pub fn reset_zones(f: &File, sector: u64, nr_sectors: u64) -> io::Result<()> {
    let r = BlkZoneRange { sector, nr_sectors };
    // SAFETY: `f` is open for the whole call and `&r` is a live blk_zone_range, which the
    // kernel only reads.
    unsafe { sys::blkresetzone(f.as_raw_fd(), &r) }.map_err(errno)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn zone_request_codes_match_linux_blkzoned_h() {
        assert_eq!(nix::request_code_readwrite!(0x12, 130, 16), 0xC010_1282);
        assert_eq!(nix::request_code_write!(0x12, 131, 16), 0x4010_1283);
        assert_eq!(std::mem::size_of::<super::BlkZoneRange>(), 16);
        let f = tempfile::tempfile().unwrap();
        let mut buf = vec![0u8; 16 + 64];
        assert!(super::report_zones(&f, 0, 1, &mut buf).is_err());
        assert!(
            super::report_zones(&f, 0, 2, &mut buf).is_err(),
            "too small"
        );
        assert!(super::reset_zones(&f, 0, 8).is_err());
    }

    #[test]
    fn request_codes_match_linux_fs_h() {
        assert_eq!(nix::request_code_none!(0x12, 94), 0x125E);
        assert_eq!(nix::request_code_none!(0x12, 104), 0x1268);
        assert_eq!(nix::request_code_none!(0x12, 123), 0x127B);
        assert_eq!(
            nix::request_code_read!(0x12, 114, std::mem::size_of::<u64>()),
            0x8008_1272
        );
    }

    #[test]
    fn ioctls_on_a_regular_file_fail_cleanly() {
        let f = tempfile::tempfile().unwrap();
        assert!(super::size_bytes(&f).is_err());
        assert!(super::logical_block_size(&f).is_err());
    }
}

/// `struct sg_io_hdr` from `<scsi/sg.h>` (interface 'S'), field for field.
#[repr(C)]
struct SgIoHdr {
    interface_id: c_int,
    dxfer_direction: c_int,
    cmd_len: u8,
    mx_sb_len: u8,
    iovec_count: u16,
    dxfer_len: c_uint,
    dxferp: *mut u8,
    cmdp: *const u8,
    sbp: *mut u8,
    timeout: c_uint,
    flags: c_uint,
    pack_id: c_int,
    usr_ptr: *mut u8,
    status: u8,
    masked_status: u8,
    msg_status: u8,
    sb_len_wr: u8,
    host_status: u16,
    driver_status: u16,
    resid: c_int,
    duration: c_uint,
    info: c_uint,
}

mod sg {
    // #define SG_IO 0x2285  (scsi/sg.h), argument: struct sg_io_hdr *
    nix::ioctl_readwrite_bad!(sg_io, 0x2285, super::SgIoHdr);
}

/// Direction of an SG_IO data transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataDir {
    None,
    FromDevice,
    ToDevice,
}

/// What SG_IO reports besides the data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgStatus {
    pub status: u8,
    pub host_status: u16,
    pub driver_status: u16,
    pub sense: Vec<u8>,
    pub resid: i32,
}

/// Sends one SCSI command (CDB) through SG_IO; `data` receives the transfer for
/// [`DataDir::FromDevice`].
pub fn sg_io(
    f: &File,
    cdb: &[u8],
    dir: DataDir,
    data: &mut [u8],
    timeout_ms: u32,
) -> io::Result<SgStatus> {
    let mut sense = [0u8; 64];
    let mut hdr = SgIoHdr {
        interface_id: c_int::from(b'S'),
        dxfer_direction: match dir {
            DataDir::None => -1,       // SG_DXFER_NONE
            DataDir::FromDevice => -3, // SG_DXFER_FROM_DEV
            DataDir::ToDevice => -2,   // SG_DXFER_TO_DEV
        },
        cmd_len: u8::try_from(cdb.len())
            .map_err(|_| io::Error::other("CDB longer than 255 bytes"))?,
        mx_sb_len: sense.len() as u8,
        iovec_count: 0,
        dxfer_len: if dir == DataDir::None {
            0
        } else {
            c_uint::try_from(data.len()).map_err(io::Error::other)?
        },
        dxferp: if dir == DataDir::None {
            std::ptr::null_mut()
        } else {
            data.as_mut_ptr()
        },
        cmdp: cdb.as_ptr(),
        sbp: sense.as_mut_ptr(),
        timeout: timeout_ms,
        flags: 0,
        pack_id: 0,
        usr_ptr: std::ptr::null_mut(),
        status: 0,
        masked_status: 0,
        msg_status: 0,
        sb_len_wr: 0,
        host_status: 0,
        driver_status: 0,
        resid: 0,
        duration: 0,
        info: 0,
    };
    // SAFETY: `hdr` is a live, correctly laid out sg_io_hdr (layout checked by a test against
    // <scsi/sg.h> on this target). Every pointer in it is valid for the whole (synchronous)
    // call: `cmdp` points at `cdb` (cmd_len bytes), `sbp` at `sense` (mx_sb_len bytes), and
    // `dxferp` at `data` (dxfer_len bytes, or null with no transfer). The kernel writes at most
    // those lengths and only the output fields of `hdr`.
    unsafe { sg::sg_io(f.as_raw_fd(), &mut hdr) }.map_err(errno)?;
    let n = usize::from(hdr.sb_len_wr).min(sense.len());
    Ok(SgStatus {
        status: hdr.status,
        host_status: hdr.host_status,
        driver_status: hdr.driver_status,
        sense: sense[..n].to_vec(),
        resid: hdr.resid,
    })
}

#[cfg(test)]
mod sg_tests {
    use super::*;

    #[test]
    fn sg_io_hdr_matches_the_kernel_layout() {
        // x86-64 / aarch64 layout of struct sg_io_hdr: 88 bytes, these offsets.
        assert_eq!(std::mem::size_of::<SgIoHdr>(), 88);
        assert_eq!(std::mem::offset_of!(SgIoHdr, dxferp), 16);
        assert_eq!(std::mem::offset_of!(SgIoHdr, timeout), 40);
        assert_eq!(std::mem::offset_of!(SgIoHdr, usr_ptr), 56);
        assert_eq!(std::mem::offset_of!(SgIoHdr, status), 64);
        assert_eq!(std::mem::offset_of!(SgIoHdr, host_status), 68);
        assert_eq!(std::mem::offset_of!(SgIoHdr, resid), 72);
        assert_eq!(std::mem::offset_of!(SgIoHdr, info), 80);
    }

    #[test]
    fn sg_io_on_a_regular_file_is_a_clean_error() {
        let f = tempfile::tempfile().unwrap();
        let mut buf = [0u8; 512];
        assert!(sg_io(
            &f,
            &[0x12, 0, 0, 0, 36, 0],
            DataDir::FromDevice,
            &mut buf,
            1000
        )
        .is_err());
    }
}

/// `struct nvme_passthru_cmd` from `<linux/nvme_ioctl.h>`, field for field (72 bytes).
#[repr(C)]
struct NvmePassthruCmd {
    opcode: u8,
    flags: u8,
    rsvd1: u16,
    nsid: u32,
    cdw2: u32,
    cdw3: u32,
    metadata: u64,
    addr: u64,
    metadata_len: u32,
    data_len: u32,
    cdw10: u32,
    cdw11: u32,
    cdw12: u32,
    cdw13: u32,
    cdw14: u32,
    cdw15: u32,
    timeout_ms: u32,
    result: u32,
}

mod nvme_sys {
    // #define NVME_IOCTL_ADMIN_CMD _IOWR('N', 0x41, struct nvme_admin_cmd)
    nix::ioctl_readwrite!(nvme_admin_cmd, b'N', 0x41, super::NvmePassthruCmd);
}

/// Sends one NVMe admin command; `data` is the transfer buffer (in or out, as the opcode
/// says). Returns the NVMe status (0 = success) and the completion's result dword.
pub fn nvme_admin(
    f: &File,
    cmd: &crate::device::nvme::AdminCmd,
    data: &mut [u8],
) -> io::Result<(u16, u32)> {
    let mut c = NvmePassthruCmd {
        opcode: cmd.opcode,
        flags: cmd.flags,
        rsvd1: 0,
        nsid: cmd.nsid,
        cdw2: cmd.cdw2,
        cdw3: cmd.cdw3,
        metadata: 0,
        addr: if data.is_empty() {
            0
        } else {
            data.as_mut_ptr() as u64
        },
        metadata_len: 0,
        data_len: u32::try_from(data.len()).map_err(io::Error::other)?,
        cdw10: cmd.cdw10,
        cdw11: cmd.cdw11,
        cdw12: cmd.cdw12,
        cdw13: cmd.cdw13,
        cdw14: cmd.cdw14,
        cdw15: cmd.cdw15,
        timeout_ms: cmd.timeout_ms,
        result: 0,
    };
    // SAFETY: `c` is a live nvme_passthru_cmd laid out as the kernel's (size checked by a test).
    // `addr`/`data_len` describe `data`, which stays borrowed mutably for the whole synchronous
    // call, so the kernel's DMA or copy into it cannot alias anything else; no metadata buffer
    // is passed (metadata 0, metadata_len 0). The kernel writes only `result` back into `c`.
    let status = unsafe { nvme_sys::nvme_admin_cmd(f.as_raw_fd(), &mut c) }.map_err(errno)?;
    Ok((u16::try_from(status).unwrap_or(u16::MAX), c.result))
}

#[cfg(test)]
mod nvme_tests {
    use super::*;

    #[test]
    fn nvme_passthru_cmd_matches_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<NvmePassthruCmd>(), 72);
        assert_eq!(std::mem::offset_of!(NvmePassthruCmd, addr), 24);
        assert_eq!(std::mem::offset_of!(NvmePassthruCmd, cdw10), 40);
        assert_eq!(std::mem::offset_of!(NvmePassthruCmd, timeout_ms), 64);
        assert_eq!(nix::request_code_readwrite!(b'N', 0x41, 72), 0xC048_4E41);
    }

    #[test]
    fn nvme_admin_on_a_regular_file_is_a_clean_error() {
        let f = tempfile::tempfile().unwrap();
        let mut d = [0u8; 4096];
        assert!(nvme_admin(&f, &crate::device::nvme::identify_controller(), &mut d).is_err());
    }
}

/// `struct dm_ioctl` from `<linux/dm-ioctl.h>`, field for field (312 bytes).
#[repr(C)]
struct DmIoctl {
    version: [u32; 3],
    data_size: u32,
    data_start: u32,
    target_count: u32,
    open_count: i32,
    flags: u32,
    event_nr: u32,
    padding: u32,
    dev: u64,
    name: [u8; 128],
    uuid: [u8; 129],
    data: [u8; 7],
}

mod dm {
    // #define DM_DEV_REMOVE _IOWR(DM_IOCTL, DM_DEV_REMOVE_CMD, struct dm_ioctl)
    // with DM_IOCTL 0xfd and DM_DEV_REMOVE_CMD 4 (linux/dm-ioctl.h).
    nix::ioctl_readwrite!(dm_dev_remove, 0xfd, 4, super::DmIoctl);
}

/// Removes the device-mapper device called `name` (DM_DEV_REMOVE on /dev/mapper/control, as
/// `dmsetup remove` does). The kernel refuses with EBUSY while it is open or mounted.
///
/// # Errors
/// No device-mapper, no such device, a name too long, or the kernel's refusal.
pub fn dm_remove(name: &str) -> io::Result<()> {
    let mut req = DmIoctl {
        // The interface version this call is written for (DM_VERSION_MAJOR 4); the kernel
        // accepts any minor up to its own.
        version: [4, 0, 0],
        data_size: u32::try_from(std::mem::size_of::<DmIoctl>()).unwrap_or(312),
        data_start: u32::try_from(std::mem::size_of::<DmIoctl>()).unwrap_or(312),
        target_count: 0,
        open_count: 0,
        flags: 0,
        event_nr: 0,
        padding: 0,
        dev: 0,
        name: [0; 128],
        uuid: [0; 129],
        data: [0; 7],
    };
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= req.name.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a device-mapper name: {name:?}"),
        ));
    }
    req.name[..bytes.len()].copy_from_slice(bytes);
    let control = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/mapper/control")
        .map_err(|e| io::Error::new(e.kind(), format!("/dev/mapper/control: {e}")))?;
    // SAFETY: `control` is open for the whole call and `&mut req` points at a live DmIoctl laid
    // out as the kernel's struct dm_ioctl, with data_size saying it is that big and no payload
    // after it (data_start = data_size): the kernel reads and writes within those 312 bytes.
    unsafe { dm::dm_dev_remove(control.as_raw_fd(), &mut req) }.map_err(errno)?;
    Ok(())
}

#[cfg(test)]
mod dm_tests {
    #[test]
    fn dm_ioctl_matches_the_kernel_header() {
        assert_eq!(std::mem::size_of::<super::DmIoctl>(), 312);
        // _IOWR(0xfd, 4, struct dm_ioctl) as strace prints DM_DEV_REMOVE.
        assert_eq!(nix::request_code_readwrite!(0xfd, 4, 312), 0xc138_fd04);
    }

    #[test]
    fn a_bad_name_is_refused_before_any_call() {
        for n in ["", "a\0b", &"x".repeat(128)] {
            let e = super::dm_remove(n).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{n:?}");
        }
    }
}
