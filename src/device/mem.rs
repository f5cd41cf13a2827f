//! A target held in memory, with optional injected I/O errors. Used by unit tests and benches
//! to exercise the writer and verifier without a disk; it is a real `BlockIo`, not a mock that
//! pretends: bytes written can be read back.

use std::io;
use std::sync::Mutex;

use super::BlockIo;

/// An in-memory block device.
pub struct MemDevice {
    data: Mutex<Vec<u8>>,
    block: u32,
    /// Byte ranges `[start, end)` where writes fail with EIO.
    pub fail_writes: Vec<(u64, u64)>,
    /// Byte ranges `[start, end)` where reads fail with EIO.
    pub fail_reads: Vec<(u64, u64)>,
    /// Byte ranges that fail once (write: true / read: false), then work.
    transient: Mutex<Vec<(bool, u64, u64)>>,
    /// Every write as (offset, length), in the order they happened.
    pub log: Mutex<Vec<(u64, usize)>>,
    /// Number of `sync` calls.
    pub syncs: Mutex<u32>,
    /// A file every write is copied to, so the contents outlive the process (a simulated
    /// drive that a later run finds again).
    mirror: Option<std::fs::File>,
}

impl MemDevice {
    /// A device of `size` bytes filled with `fill`, addressed in `block`-byte units.
    pub fn new(size: usize, block: u32, fill: u8) -> Self {
        MemDevice {
            data: Mutex::new(vec![fill; size]),
            block,
            fail_writes: vec![],
            fail_reads: vec![],
            transient: Mutex::new(vec![]),
            log: Mutex::new(vec![]),
            syncs: Mutex::new(0),
            mirror: None,
        }
    }

    /// A device kept in the file `path`: its contents if the file is `size` bytes long, else
    /// `init` written there first.
    ///
    /// # Errors
    /// The file cannot be read or written.
    pub fn in_file(
        path: &std::path::Path,
        size: usize,
        block: u32,
        init: impl FnOnce(&mut [u8]),
    ) -> io::Result<Self> {
        let mut data = match std::fs::read(path) {
            Ok(d) if d.len() == size => d,
            _ => {
                let mut d = vec![0u8; size];
                init(&mut d);
                std::fs::write(path, &d)?;
                d
            }
        };
        data.truncate(size);
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        Ok(MemDevice {
            data: Mutex::new(data),
            mirror: Some(file),
            ..MemDevice::new(0, block, 0)
        })
    }

    fn mirror(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        match &self.mirror {
            Some(f) => f.write_all_at(bytes, offset),
            None => Ok(()),
        }
    }

    /// Makes writes (`write`) or reads touching `[start, end)` fail once, then work.
    pub fn fail_once(&self, write: bool, start: u64, end: u64) {
        if let Ok(mut t) = self.transient.lock() {
            t.push((write, start, end));
        }
    }

    fn transient_hit(&self, write: bool, off: u64, len: usize) -> bool {
        let Ok(mut t) = self.transient.lock() else {
            return false;
        };
        match t
            .iter()
            .position(|&(w, s, e)| w == write && off < e && off + len as u64 > s)
        {
            Some(i) => {
                t.remove(i);
                true
            }
            None => false,
        }
    }

    /// A copy of the contents.
    pub fn contents(&self) -> Vec<u8> {
        self.data.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Overwrites bytes directly (to simulate corruption, or a drive's own erase).
    pub fn poke(&self, offset: usize, bytes: &[u8]) {
        if let Ok(mut d) = self.data.lock() {
            d[offset..offset + bytes.len()].copy_from_slice(bytes);
        }
        let _ = self.mirror(offset as u64, bytes);
    }
}

fn hits(ranges: &[(u64, u64)], off: u64, len: usize) -> bool {
    ranges.iter().any(|&(s, e)| off < e && off + len as u64 > s)
}

fn check_aligned(block: u32, off: u64, len: usize, size: u64) -> io::Result<()> {
    let b = u64::from(block);
    let end = off + len as u64;
    if !off.is_multiple_of(b) || (!(len as u64).is_multiple_of(b) && end != size) {
        return Err(io::Error::from_raw_os_error(nix::libc::EINVAL));
    }
    Ok(())
}

impl BlockIo for MemDevice {
    fn size(&self) -> u64 {
        self.data.lock().map(|d| d.len() as u64).unwrap_or(0)
    }

    fn block_size(&self) -> u32 {
        self.block
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        check_aligned(self.block, offset, buf.len(), self.size())?;
        if hits(&self.fail_writes, offset, buf.len()) || self.transient_hit(true, offset, buf.len())
        {
            return Err(io::Error::from_raw_os_error(nix::libc::EIO));
        }
        let mut d = self.data.lock().map_err(|_| io::Error::other("poisoned"))?;
        let o = offset as usize;
        if o + buf.len() > d.len() {
            return Err(io::Error::from_raw_os_error(nix::libc::ENOSPC));
        }
        d[o..o + buf.len()].copy_from_slice(buf);
        drop(d);
        self.mirror(offset, buf)?;
        if let Ok(mut l) = self.log.lock() {
            l.push((offset, buf.len()));
        }
        Ok(())
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        check_aligned(self.block, offset, buf.len(), u64::MAX)?;
        if hits(&self.fail_reads, offset, buf.len()) || self.transient_hit(false, offset, buf.len())
        {
            return Err(io::Error::from_raw_os_error(nix::libc::EIO));
        }
        let d = self.data.lock().map_err(|_| io::Error::other("poisoned"))?;
        let o = (offset as usize).min(d.len());
        let n = buf.len().min(d.len() - o);
        buf[..n].copy_from_slice(&d[o..o + n]);
        Ok(n)
    }

    fn sync(&self) -> io::Result<()> {
        if let Ok(mut s) = self.syncs.lock() {
            *s += 1;
        }
        Ok(())
    }
}
