//! The target: finding out what it is (`probe`, read-only), opening it for direct I/O (`open`),
//! and the block-I/O interface the writer and verifier use (`BlockIo`).
//!
//! Nothing here decides *whether* to wipe; `safety` does that. Nothing here knows patterns.

pub mod ata;
pub mod hidden;
pub mod identity;
pub(crate) mod ioctl;
pub mod list;
pub mod mem;
pub mod safety;

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
pub use identity::Identity;

/// Alignment used for image files: a page, which any filesystem's O_DIRECT accepts.
pub const IMAGE_BLOCK_SIZE: u32 = 4096;

/// What kind of target this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (a disk image).
    Image,
    /// A block device.
    Block,
}

impl Kind {
    /// `image` or `block`, as in the certificate.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Block => "block",
        }
    }
}

/// What we know about a target before opening it for writing.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The path as the user gave it.
    pub path: PathBuf,
    /// The path with symlinks resolved (`/dev/disk/by-id/...` becomes `/dev/sdX`).
    pub canonical: PathBuf,
    /// Image file or block device.
    pub kind: Kind,
    /// Size in bytes.
    pub size: u64,
    /// The unit every write offset and length is aligned to.
    pub logical_block_size: u32,
    /// The device's physical block size (for images, the filesystem's preferred I/O size).
    pub physical_block_size: u32,
    /// The kernel says the device is read-only.
    pub read_only: bool,
    /// Block devices: (major, minor).
    pub devno: Option<(u64, u64)>,
    /// Vendor, model, serial... where they can be read.
    pub identity: Identity,
}

/// Looks at `path` without writing anything.
///
/// # Errors
/// [`Error::Target`] when the path is missing, a directory, empty, or not a file or block device.
pub fn probe(path: &Path) -> Result<Probe> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::target(
            path,
            "does not exist; give an existing block device or image file (or --create SIZE to make an image)",
        ),
        _ => Error::target(path, format!("cannot inspect: {e}")),
    })?;
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err(Error::target(
            path,
            "is a directory; give a block device or an image file",
        ));
    }
    if ft.is_file() {
        if meta.len() == 0 {
            return Err(Error::target(path, "is empty; there is nothing to wipe"));
        }
        use std::os::unix::fs::MetadataExt;
        return Ok(Probe {
            path: path.to_path_buf(),
            canonical: canonical.clone(),
            kind: Kind::Image,
            size: meta.len(),
            logical_block_size: IMAGE_BLOCK_SIZE,
            physical_block_size: u32::try_from(meta.blksize()).unwrap_or(IMAGE_BLOCK_SIZE),
            read_only: meta.permissions().readonly(),
            devno: None,
            identity: identity::for_image(&canonical, &meta),
        });
    }
    if ft.is_block_device() {
        use std::os::unix::fs::MetadataExt;
        let f = File::open(path)
            .map_err(|e| Error::target(path, format!("cannot open to inspect: {e}")))?;
        let ctx =
            |what: &str, e: io::Error| Error::target(path, format!("cannot read the {what}: {e}"));
        let size = ioctl::size_bytes(&f).map_err(|e| ctx("device size", e))?;
        let lbs = ioctl::logical_block_size(&f).map_err(|e| ctx("logical block size", e))?;
        let pbs = ioctl::physical_block_size(&f).map_err(|e| ctx("physical block size", e))?;
        let ro = ioctl::read_only(&f).map_err(|e| ctx("read-only flag", e))?;
        if size == 0 {
            return Err(Error::target(
                path,
                "has a size of 0 bytes (no medium?); there is nothing to wipe",
            ));
        }
        if lbs == 0 || !lbs.is_power_of_two() || size % u64::from(lbs) != 0 {
            return Err(Error::target(
                path,
                format!("has an unsupported geometry ({size} bytes, {lbs}-byte logical blocks)"),
            ));
        }
        let rdev = meta.rdev();
        let devno = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
        return Ok(Probe {
            path: path.to_path_buf(),
            canonical,
            kind: Kind::Block,
            size,
            logical_block_size: lbs,
            physical_block_size: pbs,
            read_only: ro,
            devno: Some(devno),
            identity: identity::for_block(Path::new("/sys"), devno),
        });
    }
    Err(Error::target(
        path,
        "is neither a regular file nor a block device",
    ))
}

/// Creates an image file of `size` bytes (`--create`). Fails if it already exists.
///
/// # Errors
/// [`Error::Target`] if it cannot be created.
pub fn create_image(path: &Path, size: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::target(path, format!("cannot create the image file: {e}")))?;
    f.set_len(size).map_err(|e| {
        Error::target(
            path,
            format!("cannot size the image file to {size} bytes: {e}"),
        )
    })?;
    Ok(())
}

/// Block I/O as the writer and the verifier see it. Offsets are multiples of `block_size()`;
/// a write or read may end unaligned only at the end of the target (an image file's tail).
pub trait BlockIo: Sync {
    /// Bytes in the target.
    fn size(&self) -> u64;
    /// Alignment unit of offsets and lengths.
    fn block_size(&self) -> u32;
    /// Writes all of `buf` at `offset`.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Reads into `buf` (whose length is a multiple of `block_size()`) at `offset`; returns the
    /// bytes read, fewer only at the end of the target.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Makes everything written durable (fdatasync) and drops cached pages, so that a later
    /// read comes from the medium.
    fn sync(&self) -> io::Result<()>;
}

/// A target opened for wiping.
pub struct Target {
    /// What was probed.
    pub probe: Probe,
    /// True if writes bypass the page cache (O_DIRECT).
    pub direct_io: bool,
    file: File,
    /// Image files only: a buffered descriptor for the unaligned tail past the last full block.
    tail: Option<File>,
    aligned_end: u64,
}

/// Opens a probed target for writing: O_DIRECT, and O_EXCL for block devices so the kernel
/// refuses if anything (a mount, RAID, LVM, another wiper) holds it.
///
/// # Errors
/// [`Error::Refused`] if the device is busy, [`Error::Target`] if it is read-only or cannot be
/// opened.
pub fn open(probe: &Probe) -> Result<Target> {
    let path = &probe.path;
    let mut flags = nix::libc::O_DIRECT;
    if probe.kind == Kind::Block {
        flags |= nix::libc::O_EXCL;
    }
    let try_open = |flags| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(flags)
            .open(path)
    };
    let (file, direct_io) = match try_open(flags) {
        Ok(f) => (f, true),
        // Some filesystems refuse O_DIRECT on regular files; fall back to buffered I/O with
        // fdatasync and cache dropping, and say so in the certificate.
        Err(e) if probe.kind == Kind::Image && e.raw_os_error() == Some(nix::libc::EINVAL) => {
            (try_open(0).map_err(|e| open_error(probe, e))?, false)
        }
        Err(e) => return Err(open_error(probe, e)),
    };
    let bs = u64::from(probe.logical_block_size);
    let aligned_end = probe.size / bs * bs;
    let tail = if aligned_end < probe.size && direct_io {
        Some(
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|e| open_error(probe, e))?,
        )
    } else {
        None
    };
    Ok(Target {
        probe: probe.clone(),
        direct_io,
        file,
        tail,
        aligned_end,
    })
}

/// Opens a probed target for reading only, with O_DIRECT where the filesystem allows it, so
/// reads come from the medium and not the page cache.
///
/// # Errors
/// [`Error::Target`] if it cannot be opened.
pub fn open_readonly(probe: &Probe) -> Result<Target> {
    let try_open = |flags| {
        OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(&probe.path)
    };
    let (file, direct_io) = match try_open(nix::libc::O_DIRECT) {
        Ok(f) => (f, true),
        Err(e) if probe.kind == Kind::Image && e.raw_os_error() == Some(nix::libc::EINVAL) => {
            let f = try_open(0).map_err(|e| {
                Error::target(&probe.path, format!("cannot be opened for reading: {e}"))
            })?;
            use nix::fcntl::{posix_fadvise, PosixFadviseAdvice};
            let _ = posix_fadvise(&f, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED);
            (f, false)
        }
        Err(e) => {
            return Err(Error::target(
                &probe.path,
                format!("cannot be opened for reading: {e}"),
            ))
        }
    };
    Ok(Target {
        probe: probe.clone(),
        direct_io,
        file,
        tail: None,
        aligned_end: probe.size,
    })
}

fn open_error(probe: &Probe, e: io::Error) -> Error {
    let path = &probe.path;
    match e.raw_os_error() {
        Some(nix::libc::EBUSY) => Error::refused(
            path,
            "the device is in use (mounted, part of RAID/LVM, or held open by another program); \
             unmount or release it first",
        ),
        Some(nix::libc::EROFS) | Some(nix::libc::EACCES) | Some(nix::libc::EPERM) => Error::target(
            path,
            format!("cannot be opened for writing ({e}); is it read-only?"),
        ),
        _ => Error::target(path, format!("cannot be opened for writing: {e}")),
    }
}

impl BlockIo for Target {
    fn size(&self) -> u64 {
        self.probe.size
    }

    fn block_size(&self) -> u32 {
        self.probe.logical_block_size
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let end = offset + buf.len() as u64;
        match &self.tail {
            Some(tail) if end > self.aligned_end => {
                let split = self.aligned_end.saturating_sub(offset) as usize;
                if split > 0 {
                    self.file.write_all_at(&buf[..split], offset)?;
                }
                tail.write_all_at(&buf[split..], offset + split as u64)
            }
            _ => self.file.write_all_at(buf, offset),
        }
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    fn sync(&self) -> io::Result<()> {
        use nix::fcntl::{posix_fadvise, PosixFadviseAdvice};
        self.file.sync_data()?;
        if let Some(t) = &self.tail {
            t.sync_data()?;
        }
        // Clean pages can now be dropped, so verification reads the medium, not RAM. Advisory:
        // a failure here changes nothing about durability.
        let _ = posix_fadvise(&self.file, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED);
        Ok(())
    }
}
