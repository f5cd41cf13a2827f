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

#[cfg(test)]
mod tests {
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
