//! A target held in memory, with optional injected I/O errors. Used by unit tests and benches
//! to exercise the writer and verifier without a disk; it is a real `BlockIo`, not a mock that
//! pretends: bytes written can be read back.

use std::io;
use std::sync::Mutex;

use super::zones::{Zone, ZoneCond, ZoneMap, ZoneType};
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
    /// A host-managed zoned device: its zones as opened, and each zone's write pointer now.
    zoned: Option<(ZoneMap, Mutex<Vec<u64>>)>,
    /// Zone starts whose reset fails with EIO.
    pub fail_resets: Vec<u64>,
    /// Called with the offset of every write that succeeded (a test's hook: a cancel that
    /// comes mid-pass at a known place).
    pub on_write: Option<Box<dyn Fn(u64) + Send + Sync>>,
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
            zoned: None,
            fail_resets: vec![],
            on_write: None,
        }
    }

    /// The same device with zone `i` reported offline (it takes no write).
    pub fn zone_offline(mut self, i: usize) -> Self {
        if let Some(z) = self.zoned.as_mut().and_then(|(m, _)| m.zones.get_mut(i)) {
            z.cond = ZoneCond::Offline;
        }
        self
    }

    /// A host-managed zoned device of `size` bytes in zones of `zone` bytes, the first
    /// `conventional` of them conventional, every sequential zone full of `fill` (written
    /// before). As the kernel does, a write in a sequential zone fails unless it lands at the
    /// zone's write pointer and stays in the zone, and a read past the write pointer reads
    /// zeros.
    pub fn zoned(size: usize, block: u32, zone: u64, conventional: usize, fill: u8) -> Self {
        let zones: Vec<Zone> = (0..(size as u64).div_ceil(zone))
            .map(|i| {
                let start = i * zone;
                let len = zone.min(size as u64 - start);
                let conv = (i as usize) < conventional;
                Zone {
                    start,
                    len,
                    wp: if conv { 0 } else { start + len },
                    capacity: len,
                    kind: if conv {
                        ZoneType::Conventional
                    } else {
                        ZoneType::SequentialRequired
                    },
                    cond: if conv {
                        ZoneCond::NotWritePointer
                    } else {
                        ZoneCond::Full
                    },
                }
            })
            .collect();
        let wps = zones.iter().map(|z| z.wp).collect();
        MemDevice {
            zoned: Some((
                ZoneMap {
                    zone_bytes: zone,
                    zones,
                },
                Mutex::new(wps),
            )),
            ..MemDevice::new(size, block, fill)
        }
    }

    /// The same zoned device with zone `i`'s write pointer at `wp` (written up to there, zeros
    /// past it, as a zone written that far reads).
    pub fn with_write_pointer(self, i: usize, wp: u64) -> Self {
        if let Some((map, wps)) = &self.zoned {
            if let (Some(z), Ok(mut wps), Ok(mut d)) =
                (map.zones.get(i), wps.lock(), self.data.lock())
            {
                let wp = wp.clamp(z.start, z.start + z.len);
                wps[i] = wp;
                d[wp as usize..(z.start + z.len) as usize].fill(0);
            }
        }
        self
    }

    /// Checks a write of `len` bytes at `off` against the zones' write pointers and moves them.
    fn zone_write(&self, off: u64, len: usize) -> io::Result<()> {
        let Some((map, wps)) = &self.zoned else {
            return Ok(());
        };
        let mut wps = wps.lock().map_err(|_| io::Error::other("poisoned"))?;
        let Some(z) = map.at(off).filter(|z| z.sequential()) else {
            return Ok(());
        };
        let i = (off / map.zone_bytes) as usize;
        if off != wps[i] || off + len as u64 > z.start + z.len {
            // The kernel's answer to an unaligned write in a sequential zone.
            return Err(io::Error::from_raw_os_error(nix::libc::EIO));
        }
        wps[i] = off + len as u64;
        Ok(())
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
        self.zone_write(offset, buf.len())?;
        d[o..o + buf.len()].copy_from_slice(buf);
        drop(d);
        self.mirror(offset, buf)?;
        if let Ok(mut l) = self.log.lock() {
            l.push((offset, buf.len()));
        }
        if let Some(f) = &self.on_write {
            f(offset);
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

    fn zones(&self) -> Option<&ZoneMap> {
        self.zoned.as_ref().map(|(m, _)| m)
    }

    /// Resets the sequential zones in the range: their write pointers go back to their
    /// starts, and they read zeros.
    fn reset_zones(&self, offset: u64, len: u64) -> io::Result<()> {
        let Some((map, wps)) = &self.zoned else {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        };
        if self.fail_resets.contains(&offset) {
            return Err(io::Error::from_raw_os_error(nix::libc::EIO));
        }
        let mut d = self.data.lock().map_err(|_| io::Error::other("poisoned"))?;
        let mut wps = wps.lock().map_err(|_| io::Error::other("poisoned"))?;
        for (i, z) in map.zones.iter().enumerate() {
            if z.start < offset || z.start + z.len > offset + len {
                continue;
            }
            if !z.sequential() {
                return Err(io::Error::from_raw_os_error(nix::libc::EINVAL));
            }
            wps[i] = z.start;
            d[z.start as usize..(z.start + z.len) as usize].fill(0);
        }
        Ok(())
    }

    fn report_zones(&self) -> Option<io::Result<ZoneMap>> {
        let (map, wps) = self.zoned.as_ref()?;
        let wps = wps.lock().ok()?;
        let zones = map
            .zones
            .iter()
            .zip(wps.iter())
            .map(|(z, &wp)| Zone {
                wp,
                cond: match () {
                    _ if !z.sequential() => ZoneCond::NotWritePointer,
                    _ if wp == z.start => ZoneCond::Empty,
                    _ if wp == z.start + z.len => ZoneCond::Full,
                    _ => ZoneCond::ImplicitOpen,
                },
                ..*z
            })
            .collect();
        Some(Ok(ZoneMap {
            zone_bytes: map.zone_bytes,
            zones,
        }))
    }
}
