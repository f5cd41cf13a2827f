//! The target: finding out what it is (`probe`, read-only), opening it for direct I/O (`open`),
//! and the block-I/O interface the writer and verifier use (`BlockIo`).
//!
//! Nothing here decides *whether* to wipe; `safety` does that. Nothing here knows patterns.

pub mod ata;
pub mod capture;
pub mod fixture;
pub mod health;
pub mod hidden;
pub mod holders;
pub mod identity;
pub(crate) mod ioctl;
pub mod list;
pub mod mem;
pub mod nvme;
pub mod passthrough;
pub mod replay;
pub mod safety;
pub mod scsi;
pub mod subsystem;
pub mod tcg;
pub mod tcg_session;
pub mod zones;

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

/// What a descriptor refers to, as `fstat` says: the one identity of "the file that was
/// probed" that a later open is checked against (names can be swapped, descriptors not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileId {
    /// `st_dev`: the filesystem the inode lives on.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_rdev`: for a block device, its (major, minor).
    pub rdev: u64,
    /// A block device (else a regular file).
    pub block: bool,
}

impl FileId {
    /// The identity of `meta` (from `fstat` of an open descriptor).
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            rdev: meta.rdev(),
            block: meta.file_type().is_block_device(),
        }
    }
}

/// What we know about a target before opening it for writing.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The path as the user gave it.
    pub path: PathBuf,
    /// The path of what was found there (`/dev/disk/by-id/...` becomes `/dev/sdX`), read from
    /// the probing descriptor, not re-resolved by name.
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
    /// The probed descriptor's `fstat` identity; [`open`] refuses a descriptor that differs.
    pub id: FileId,
    /// Loop devices: (device, inode) of the backing file (stat of the kernel's backing_file).
    pub backing_id: Option<(u64, u64)>,
    /// Image files: the birth time (statx btime), nanoseconds since the epoch, where the
    /// filesystem records it: an inode number can be reused by a new file, a birth time not.
    pub born_ns: Option<u128>,
    /// The read-only descriptor the probe opened, kept for the whole command: later opens go
    /// through it (`/proc/self/fd/N`), never through the name again, and while it is open the
    /// kernel can neither re-bind a loop device nor give this device number to another drive.
    pub handle: Option<std::sync::Arc<File>>,
}

/// The path a descriptor refers to (`/proc/self/fd/N`), else `fallback` canonicalized.
fn path_of(f: &File, fallback: &Path) -> PathBuf {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd()))
        .ok()
        .filter(|p| p.is_absolute())
        .or_else(|| std::fs::canonicalize(fallback).ok())
        .unwrap_or_else(|| fallback.to_path_buf())
}

/// Looks at `path` without writing anything: opens it once (read-only) and describes what that
/// descriptor refers to.
///
/// # Errors
/// [`Error::Target`] when the path is missing, a directory, empty, or not a file or block device.
pub fn probe(path: &Path) -> Result<Probe> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::target(
                path,
                "does not exist; give an existing block device or image file",
            ),
            _ => Error::target(path, format!("cannot open to inspect: {e}")),
        })?;
    let meta = f
        .metadata()
        .map_err(|e| Error::target(path, format!("cannot inspect: {e}")))?;
    let canonical = path_of(&f, path);
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
        let born_ns = meta
            .created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos());
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
            id: FileId::of(&meta),
            backing_id: None,
            born_ns,
            handle: Some(std::sync::Arc::new(f)),
        });
    }
    if ft.is_block_device() {
        let (size, lbs, pbs, ro) = geometry(&f).map_err(|e| Error::target(path, e))?;
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
        let id = FileId::of(&meta);
        let devno = split_devno(id.rdev);
        let identity = identity::for_block(Path::new("/sys"), devno);
        let backing_id = loop_backing_id(&identity);
        return Ok(Probe {
            path: path.to_path_buf(),
            canonical,
            kind: Kind::Block,
            size,
            logical_block_size: lbs,
            physical_block_size: pbs,
            read_only: ro,
            devno: Some(devno),
            identity,
            id,
            backing_id,
            born_ns: None,
            handle: Some(std::sync::Arc::new(f)),
        });
    }
    Err(Error::target(
        path,
        "is neither a regular file nor a block device",
    ))
}

/// (major, minor) of a `dev_t`.
pub fn split_devno(rdev: u64) -> (u64, u64) {
    (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev))
}

/// Size, logical and physical block size and the read-only flag of a block device descriptor.
fn geometry(f: &File) -> std::result::Result<(u64, u32, u32, bool), String> {
    let ctx = |what: &str, e: io::Error| format!("cannot read the {what}: {e}");
    Ok((
        ioctl::size_bytes(f).map_err(|e| ctx("device size", e))?,
        ioctl::logical_block_size(f).map_err(|e| ctx("logical block size", e))?,
        ioctl::physical_block_size(f).map_err(|e| ctx("physical block size", e))?,
        ioctl::read_only(f).map_err(|e| ctx("read-only flag", e))?,
    ))
}

/// A loop device's backing file, as (device, inode), from the path the kernel reports.
pub(crate) fn loop_backing_id(id: &Identity) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    if id.interface != "loop" || id.backing.is_empty() {
        return None;
    }
    std::fs::metadata(&id.backing)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Why the descriptor `f`, just opened for writing, is not what `probe` saw, if it is not:
/// another inode or device behind the same name (a swapped symlink, a loop device re-attached
/// to another file, a re-seated drive), another size or geometry, another identity.
fn differs(probe: &Probe, f: &File) -> Option<String> {
    let meta = match f.metadata() {
        Ok(m) => m,
        Err(e) => return Some(format!("cannot inspect the opened descriptor: {e}")),
    };
    let now = FileId::of(&meta);
    let was = probe.id;
    if now.block != was.block {
        return Some(format!(
            "it is now a {} (it was a {})",
            if now.block { "block device" } else { "file" },
            if was.block { "block device" } else { "file" }
        ));
    }
    if !now.block {
        if (now.dev, now.ino) != (was.dev, was.ino) {
            return Some("it is now another file (device and inode differ)".into());
        }
        if meta.len() != probe.size {
            return Some(format!(
                "its size changed from {} to {} bytes",
                probe.size,
                meta.len()
            ));
        }
        return None;
    }
    if now.rdev != was.rdev {
        let (a, b) = (split_devno(was.rdev), split_devno(now.rdev));
        return Some(format!(
            "it is now device {}:{} (it was {}:{})",
            b.0, b.1, a.0, a.1
        ));
    }
    match geometry(f) {
        Ok((size, lbs, _, _)) if (size, lbs) != (probe.size, probe.logical_block_size) => {
            return Some(format!(
                "its size or block size changed ({} bytes / {} to {size} / {lbs})",
                probe.size, probe.logical_block_size
            ))
        }
        Ok(_) => {}
        Err(e) => return Some(e),
    }
    // The same device number can name another medium (a re-seated drive, a loop device
    // detached and attached to another file): compare what identifies the medium. Holding our
    // descriptor, the kernel cannot reuse this device number or re-bind the loop device.
    let id = identity::for_block(Path::new("/sys"), split_devno(now.rdev));
    let was_id = &probe.identity;
    for (what, a, b) in [
        ("serial", &was_id.serial, &id.serial),
        ("model", &was_id.model, &id.model),
        ("WWN", &was_id.wwn, &id.wwn),
        ("backing file", &was_id.backing, &id.backing),
    ] {
        if a != b {
            return Some(format!("its {what} changed from '{a}' to '{b}'"));
        }
    }
    if loop_backing_id(&id) != probe.backing_id {
        return Some("its backing file is now another file (device and inode differ)".into());
    }
    None
}

/// Creates an image file of `size` bytes (`--create`). Fails if it already exists; a file it
/// created but could not size is removed again, so a retry is not blocked by it.
///
/// # Errors
/// [`Error::Target`] if it cannot be created.
pub fn create_image(path: &Path, size: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::target(path, format!("cannot create the image file: {e}")))?;
    if let Err(e) = f.set_len(size).and_then(|()| f.sync_all()) {
        // Remove what we created, and only that (the same inode is still at the name).
        use std::os::unix::fs::MetadataExt;
        let ours = f.metadata().map(|m| (m.dev(), m.ino())).ok();
        let there = std::fs::symlink_metadata(path)
            .map(|m| (m.dev(), m.ino()))
            .ok();
        if ours.is_some() && ours == there {
            let _ = std::fs::remove_file(path);
        }
        return Err(Error::target(
            path,
            format!("cannot size the image file to {size} bytes: {e}"),
        ));
    }
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
    /// The zones of a zoned device as they were when it was opened for an overwrite: its
    /// sequential zones are then reset and written in order, one zone per writer. `None` for
    /// every other target.
    fn zones(&self) -> Option<&zones::ZoneMap> {
        None
    }
    /// Resets the sequential zones in `[offset, offset + len)` (their write pointers go back
    /// to their starts).
    ///
    /// # Errors
    /// Not a zoned device, or the device refuses.
    fn reset_zones(&self, _offset: u64, _len: u64) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    /// The zones as the device reports them now (after an overwrite every sequential zone
    /// must be full); `None` for a device that is not zoned.
    fn report_zones(&self) -> Option<io::Result<zones::ZoneMap>> {
        None
    }
}

/// A device shared between owners (a simulated drive's media, read by a flow and changed by the
/// drive's commands).
impl<T: BlockIo + Send + ?Sized> BlockIo for std::sync::Arc<T> {
    fn size(&self) -> u64 {
        self.as_ref().size()
    }
    fn block_size(&self) -> u32 {
        self.as_ref().block_size()
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.as_ref().write_at(buf, offset)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.as_ref().read_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        self.as_ref().sync()
    }
    fn zones(&self) -> Option<&zones::ZoneMap> {
        self.as_ref().zones()
    }
    fn reset_zones(&self, offset: u64, len: u64) -> io::Result<()> {
        self.as_ref().reset_zones(offset, len)
    }
    fn report_zones(&self) -> Option<io::Result<zones::ZoneMap>> {
        self.as_ref().report_zones()
    }
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
    /// A zoned device opened for an overwrite: its zones then.
    zones: Option<zones::ZoneMap>,
}

/// Opens `probe`'s file again with `flags` (plus O_CLOEXEC): through the probe's own
/// descriptor (`/proc/self/fd/N`, the very inode that was probed) where there is one, else by
/// name; either way the new descriptor is checked against what was probed.
fn reopen(probe: &Probe, write: bool, flags: i32) -> io::Result<File> {
    use std::os::fd::AsRawFd;
    let via = probe
        .handle
        .as_ref()
        .map(|h| PathBuf::from(format!("/proc/self/fd/{}", h.as_raw_fd())))
        .filter(|p| p.exists())
        .unwrap_or_else(|| probe.path.clone());
    OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(flags | nix::libc::O_CLOEXEC)
        .open(via)
}

/// Why the name given no longer leads to what was probed, if it does not (a symlink flipped, a
/// file renamed over it, another device node).
fn name_moved(probe: &Probe) -> Option<String> {
    let now = match std::fs::metadata(&probe.path) {
        Ok(m) => FileId::of(&m),
        Err(e) => return Some(format!("the name no longer resolves: {e}")),
    };
    let was = probe.id;
    let same = if was.block {
        now.block && now.rdev == was.rdev
    } else {
        !now.block && (now.dev, now.ino) == (was.dev, was.ino)
    };
    (!same).then(|| "the name now leads to something else".to_string())
}

/// Refuses a descriptor that is not what was probed and confirmed, or a name that now leads
/// elsewhere (writing the probed file would then certify a name that holds other data).
fn check_same(probe: &Probe, f: &File) -> Result<()> {
    match differs(probe, f).or_else(|| {
        probe
            .handle
            .is_some()
            .then(|| name_moved(probe))
            .flatten()
    }) {
        None => Ok(()),
        Some(why) => Err(Error::refused(
            &probe.path,
            format!("it changed since it was checked and confirmed ({why}); nothing was written, check the target and run again"),
        )),
    }
}

/// Takes the locks other programs use to claim an image file, and refuses if one holds it:
/// an exclusive `flock` and an open-file-description write lock over the whole file (QEMU
/// locks its images that way). Held as long as `f` is open.
fn lock_image(probe: &Probe, f: &File) -> Result<()> {
    let busy = || {
        Error::refused(
            &probe.path,
            "another program holds a lock on this image (a virtual machine using it?); stop it first",
        )
    };
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(busy()),
        // A filesystem without flock support: the OFD lock below still applies.
        Err(std::fs::TryLockError::Error(_)) => {}
    }
    match safety::ofd_lock(f, true) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(nix::libc::EAGAIN) | Some(nix::libc::EACCES)
            ) =>
        {
            Err(busy())
        }
        // Locks unsupported here (some network filesystems): nothing to conflict with.
        Err(_) => Ok(()),
    }
}

/// Opens a probed target for writing, through the probed descriptor: O_DIRECT, and O_EXCL, so
/// the kernel refuses a block device that anything holds (a mount, RAID, LVM, another wiper)
/// and lets nothing claim it while we write (Linux ignores O_EXCL for a regular file). The new
/// descriptor must be what was probed (same inode or device, size, geometry and identity);
/// image files are locked against other programs. A self-encrypting drive with a locked range
/// is refused, and a zoned device's zone report is read (see [`BlockIo::zones`]).
///
/// # Errors
/// [`Error::Refused`] if the device is busy, locked, a self-encrypting drive with a locked
/// range, a host-managed zoned device that cannot be written zone by zone, or no longer what
/// was probed,
/// [`Error::Target`] if it is read-only or cannot be opened.
pub fn open(probe: &Probe) -> Result<Target> {
    let flags = nix::libc::O_DIRECT | nix::libc::O_EXCL;
    let (file, direct_io) = match reopen(probe, true, flags) {
        Ok(f) => (f, true),
        // Some filesystems refuse O_DIRECT on regular files; fall back to buffered I/O with
        // fdatasync and cache dropping, and say so in the certificate.
        Err(e) if probe.kind == Kind::Image && e.raw_os_error() == Some(nix::libc::EINVAL) => (
            reopen(probe, true, nix::libc::O_EXCL).map_err(|e| open_error(probe, e))?,
            false,
        ),
        Err(e) => return Err(open_error(probe, e)),
    };
    check_same(probe, &file)?;
    if probe.kind == Kind::Image {
        lock_image(probe, &file)?;
    }
    let bs = u64::from(probe.logical_block_size);
    let aligned_end = probe.size / bs * bs;
    let tail = if aligned_end < probe.size && direct_io {
        let t = reopen(probe, true, 0).map_err(|e| open_error(probe, e))?;
        check_same(probe, &t)?;
        Some(t)
    } else {
        None
    };
    safety::check_sed(probe, &file)?;
    let zones = zones_for_overwrite(probe, &file)?;
    Ok(Target {
        probe: probe.clone(),
        direct_io,
        file,
        tail,
        aligned_end,
        zones,
    })
}

/// The whole disk (`sda`) a probed partition (`sda1`) belongs to, or `None` for a whole disk.
pub fn partition_of(probe: &Probe) -> Option<String> {
    let (a, b) = probe.devno?;
    let dir = std::fs::canonicalize(format!("/sys/dev/block/{a}:{b}")).ok()?;
    if !dir.join("partition").exists() {
        return None;
    }
    Some(dir.parent()?.file_name()?.to_string_lossy().into_owned())
}

/// Opens a probed block device read-only and exclusively (O_EXCL: nothing can mount or claim
/// it meanwhile), through the probed descriptor, for commands sent to the drive (purge).
///
/// # Errors
/// [`Error::Refused`] if it is busy or no longer what was probed.
pub fn claim(probe: &Probe) -> Result<File> {
    let f = reopen(probe, false, nix::libc::O_EXCL).map_err(|e| open_error(probe, e))?;
    check_same(probe, &f)?;
    Ok(f)
}

/// Opens another block device a purge reaches (a namespace of the same subsystem) read-only
/// and exclusively, and checks it is still device `devno`.
///
/// # Errors
/// [`Error::Refused`] if it is busy or another device now.
pub fn claim_path(path: &Path, devno: (u64, u64)) -> Result<File> {
    use std::os::unix::fs::MetadataExt;
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_EXCL | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::EBUSY) => Error::refused(
                path,
                "it is in use (mounted, held, or opened exclusively by another program)",
            ),
            _ => Error::refused(path, format!("cannot be opened: {e}")),
        })?;
    let now = f.metadata().map(|m| split_devno(m.rdev())).ok();
    if now != Some(devno) {
        return Err(Error::refused(
            path,
            "it is not the device it was a moment ago; nothing was sent",
        ));
    }
    Ok(f)
}

/// Opens a drive a purge has claimed ([`claim`]) for reading and writing its media (the
/// canaries), through the probed descriptor, with O_DIRECT; without O_EXCL, since the claim
/// already holds the device exclusively.
///
/// # Errors
/// [`Error::Target`] if it cannot be opened, [`Error::Refused`] if it is another device now.
pub fn open_media(probe: &Probe) -> Result<Target> {
    let file = reopen(probe, true, nix::libc::O_DIRECT).map_err(|e| {
        Error::target(
            &probe.path,
            format!("cannot be opened for the canaries: {e}"),
        )
    })?;
    check_same(probe, &file)?;
    Ok(Target {
        probe: probe.clone(),
        direct_io: true,
        file,
        tail: None,
        aligned_end: probe.size,
        zones: None,
    })
}

/// Opens a probed target for reading only, through the probed descriptor, with O_DIRECT where
/// the filesystem allows it, so reads come from the medium and not the page cache.
///
/// # Errors
/// [`Error::Target`] if it cannot be opened, [`Error::Refused`] if it is no longer what was
/// probed.
pub fn open_readonly(probe: &Probe) -> Result<Target> {
    let (file, direct_io) = match reopen(probe, false, nix::libc::O_DIRECT) {
        Ok(f) => (f, true),
        Err(e) if probe.kind == Kind::Image && e.raw_os_error() == Some(nix::libc::EINVAL) => {
            let f = reopen(probe, false, 0).map_err(|e| {
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
    check_same(probe, &file)?;
    Ok(Target {
        probe: probe.clone(),
        direct_io,
        file,
        tail: None,
        aligned_end: probe.size,
        zones: None,
    })
}

/// The zones of a zoned block device about to be overwritten, or `None` for another target (a
/// host-aware device whose zones cannot be used that way is written as a regular one: it
/// takes writes anywhere). A host-managed device that cannot be overwritten zone by zone is
/// refused, before anything is written.
fn zones_for_overwrite(probe: &Probe, f: &File) -> Result<Option<zones::ZoneMap>> {
    if probe.kind != Kind::Block || probe.identity.zoned.is_empty() {
        return Ok(None);
    }
    let why = match zones::report(f, probe.size) {
        Ok(m) => match m.unsupported(probe.size) {
            None => return Ok(Some(m)),
            Some(why) => why,
        },
        Err(e) => format!("its zone report failed: {e}"),
    };
    if !probe.identity.host_managed() {
        return Ok(None);
    }
    Err(Error::refused(
        &probe.path,
        format!(
            "it is a host-managed zoned device and {why}; nothing was written; purge it with the drive's own \
             command (`mediasan purge DEVICE`, with --no-canaries if its zone report cannot be read), or Destroy it"
        ),
    ))
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

impl Target {
    /// The open descriptor (for device queries that must reach this very device).
    pub fn file(&self) -> &File {
        &self.file
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

    fn zones(&self) -> Option<&zones::ZoneMap> {
        self.zones.as_ref()
    }

    fn reset_zones(&self, offset: u64, len: u64) -> io::Result<()> {
        ioctl::reset_zones(&self.file, offset / 512, len / 512)
    }

    fn report_zones(&self) -> Option<io::Result<zones::ZoneMap>> {
        (self.probe.kind == Kind::Block && !self.probe.identity.zoned.is_empty())
            .then(|| zones::report(&self.file, self.probe.size))
    }
}

/// True when the block device `p` was removed from the system (its sysfs entry gone, or its
/// size now 0: a pulled drive, a detached loop device), waiting up to `wait` for the kernel to
/// catch up with the failed I/O that made the caller ask. An image file is never gone.
pub fn gone(p: &Probe, wait: std::time::Duration) -> bool {
    let Some(devno) = p.devno.filter(|_| p.kind == Kind::Block) else {
        return false;
    };
    let start = std::time::Instant::now();
    loop {
        if gone_in(Path::new("/sys"), devno) {
            return true;
        }
        if start.elapsed() >= wait {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// [`gone`] as seen in the sysfs tree under `sys`.
fn gone_in(sys: &Path, (major, minor): (u64, u64)) -> bool {
    let dir = sys.join(format!("dev/block/{major}:{minor}"));
    match std::fs::read_to_string(dir.join("size")) {
        Ok(s) => s.trim().parse::<u64>().is_ok_and(|n| n == 0),
        Err(_) => !dir.exists(),
    }
}

#[cfg(test)]
mod gone_tests {
    use super::gone_in;

    #[test]
    fn a_device_is_gone_when_sysfs_forgets_it_or_its_size_drops_to_zero() {
        let sys = tempfile::tempdir().unwrap();
        let dir = sys.path().join("dev/block/8:16");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("size"), "2048\n").unwrap();
        assert!(!gone_in(sys.path(), (8, 16)), "present, with sectors");
        std::fs::write(dir.join("size"), "0\n").unwrap();
        assert!(gone_in(sys.path(), (8, 16)), "no medium any more");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(gone_in(sys.path(), (8, 16)), "removed");
    }
}
