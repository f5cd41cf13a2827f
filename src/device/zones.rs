//! The zones of a zoned block device (a host-managed or host-aware SMR drive, an NVMe ZNS
//! namespace), as the kernel's zone report (BLKREPORTZONE) gives them, and what an overwrite
//! needs from them: which zones take writes only at their write pointer (reset first, then
//! written from start to end in order), which cannot be written at all (offline, read-only),
//! and whether every zone can hold its whole length (a zone capacity below the zone size
//! leaves a part no write reaches, which the overwrite does not handle yet).
//!
//! The decoding is pure (the report's bytes in, [`ZoneMap`] out); [`report`] asks the kernel.

use std::fs::File;
use std::io;

use crate::contract::Extent;

/// Bytes per sector in the kernel's zone report (always 512, whatever the block size).
const SECTOR: u64 = 512;
use super::ioctl::{REPORT_HEADER, ZONE_BYTES};
/// `BLK_ZONE_REP_CAPACITY`: the report's zones carry a capacity.
const REP_CAPACITY: u32 = 1;
/// Zones asked for per report call.
const BATCH: usize = 4096;

/// What a zone accepts (`enum blk_zone_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneType {
    /// Written anywhere, as a regular disk.
    Conventional,
    /// Written only at its write pointer (host-managed).
    SequentialRequired,
    /// Best written at its write pointer (host-aware); takes writes anywhere.
    SequentialPreferred,
    /// A type this code does not know (its number).
    Other(u8),
}

/// A zone's condition (`enum blk_zone_cond`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneCond {
    NotWritePointer,
    Empty,
    ImplicitOpen,
    ExplicitOpen,
    Closed,
    ReadOnly,
    Full,
    Offline,
    Other(u8),
}

/// One zone, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone {
    pub start: u64,
    pub len: u64,
    /// Where the next write must land (sequential zones).
    pub wp: u64,
    /// Bytes of the zone that can be written (its length when the report has no capacity).
    pub capacity: u64,
    pub kind: ZoneType,
    pub cond: ZoneCond,
}

impl Zone {
    /// A zone written only in order from its write pointer: it is reset before it is written.
    pub fn sequential(&self) -> bool {
        matches!(
            self.kind,
            ZoneType::SequentialRequired | ZoneType::SequentialPreferred
        )
    }

    /// A zone that takes no write at all: it is recorded as failed, never skipped silently.
    pub fn unwritable(&self) -> Option<&'static str> {
        match (self.kind, self.cond) {
            (_, ZoneCond::Offline) => Some("the zone is offline"),
            (_, ZoneCond::ReadOnly) => Some("the zone is read-only"),
            (ZoneType::Other(_), _) => Some("the zone is of a type mediasan does not know"),
            _ => None,
        }
    }

    /// A sequential zone written to its end (its write pointer at its capacity, or the drive
    /// says full).
    pub fn full(&self) -> bool {
        self.cond == ZoneCond::Full || self.wp >= self.start + self.capacity
    }
}

/// The zones of a device, in order, covering it from byte 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneMap {
    /// The zone size (every zone's but perhaps the last, smaller one's).
    pub zone_bytes: u64,
    pub zones: Vec<Zone>,
}

impl ZoneMap {
    /// The zone holding byte `offset`.
    pub fn at(&self, offset: u64) -> Option<&Zone> {
        self.zones
            .get(usize::try_from(offset / self.zone_bytes.max(1)).ok()?)
            .filter(|z| z.start <= offset && offset < z.start + z.len)
    }

    /// Sequential zones, conventional zones.
    pub fn counts(&self) -> (usize, usize) {
        let seq = self.zones.iter().filter(|z| z.sequential()).count();
        (seq, self.zones.len() - seq)
    }

    /// Why an overwrite of every byte of a `size`-byte device cannot be done with these zones,
    /// if it cannot: zones that do not tile the device at one size, or a zone whose capacity is
    /// below its size (its last part takes no write; reads there are not the overwrite's).
    pub fn unsupported(&self, size: u64) -> Option<String> {
        let z = self.zone_bytes;
        if z == 0 || self.zones.is_empty() {
            return Some("the zone report is empty".into());
        }
        let mut at = 0;
        for (i, zone) in self.zones.iter().enumerate() {
            let last = i + 1 == self.zones.len();
            if zone.start != at || (zone.len != z && !(last && zone.len < z)) {
                return Some(format!(
                    "zone {i} (at byte {}, {} bytes) breaks the {z}-byte zone layout",
                    zone.start, zone.len
                ));
            }
            if zone.capacity < zone.len {
                return Some(format!(
                    "zone {i}'s capacity ({} bytes) is below its size ({} bytes): its last part takes \
                     no write, and an overwrite of such zones is not built yet",
                    zone.capacity, zone.len
                ));
            }
            at += zone.len;
        }
        (at != size).then(|| format!("the zones cover {at} bytes of a {size}-byte device"))
    }

    /// What an overwrite of a `size`-byte device with these zones does, in one line (a dry
    /// run's).
    pub fn describe(&self, size: u64) -> String {
        let (seq, conv) = self.counts();
        let what = format!(
            "{} zones of {} ({conv} conventional, {seq} sequential)",
            self.zones.len(),
            crate::units::human_bytes(self.zone_bytes)
        );
        let dead = self
            .zones
            .iter()
            .filter(|z| z.unwritable().is_some())
            .count();
        match self.unsupported(size) {
            Some(why) => format!("{what}: the overwrite would be refused: {why}"),
            None if dead > 0 => format!(
                "{what}: each sequential zone is reset, then written in order; {dead} zone(s) take no write \
                 (offline or read-only) and would be recorded as failed"
            ),
            None => format!("{what}: each sequential zone is reset, then written in order"),
        }
    }

    /// The sequential zones that are not written to their end: after an overwrite, none.
    pub fn not_full(&self) -> Vec<&Zone> {
        self.zones
            .iter()
            .filter(|z| z.sequential() && z.unwritable().is_none() && !z.full())
            .collect()
    }
}

impl ZoneMap {
    /// The index of the zone holding byte `offset` if that zone takes writes only at its write
    /// pointer (host-managed).
    fn required_at(&self, offset: u64) -> Option<usize> {
        let z = self.at(offset)?;
        (z.kind == ZoneType::SequentialRequired)
            .then(|| (z.start / self.zone_bytes.max(1)) as usize)
    }

    /// Zone `z` takes `len` bytes at `wp`, written only at its write pointer (host-managed).
    fn room(&self, z: &Zone, wp: u64, len: u64) -> bool {
        z.kind == ZoneType::SequentialRequired
            && z.unwritable().is_none()
            && z.cond != ZoneCond::Full
            && wp + len <= z.start + z.capacity
    }

    /// Why a canary of `len` bytes drawn in a zone written only at its write pointer would
    /// find no place ([`ZoneMap::place_samples`]), if it would not: no such zone has room.
    pub fn no_room(&self, len: u64) -> Option<String> {
        let required = self
            .zones
            .iter()
            .any(|z| z.kind == ZoneType::SequentialRequired);
        let any = self
            .zones
            .iter()
            .any(|z| self.room(z, z.wp.max(z.start), len));
        (required && !any).then(|| no_room(len))
    }

    /// Where a purge's canaries go on this device, for samples `drawn` in that order. A sample
    /// in zones that take writes anywhere (conventional, host-aware) stays where it was drawn.
    /// One that touches a zone written only at its write pointer (host-managed) goes to that
    /// pointer, after the samples already placed there; if the zone has no room left (full,
    /// offline, read-only, or too little capacity), to the next such zone that has room. Each
    /// canary, written in this order, then lands where the drive takes it. Returns the extents
    /// and how many of them moved.
    ///
    /// # Errors
    /// A sample must move and no zone written at its write pointer has room for it.
    pub fn place_samples(&self, drawn: &[Extent]) -> Result<(Vec<Extent>, usize), String> {
        let mut wps: Vec<u64> = self.zones.iter().map(|z| z.wp.max(z.start)).collect();
        let room = |i: usize, wp: u64, len: u64| self.room(&self.zones[i], wp, len);
        let n = self.zones.len();
        let mut placed = Vec::with_capacity(drawn.len());
        let mut moved = 0;
        for e in drawn {
            let last = e.offset + e.len.max(1) - 1;
            let Some(first) = self
                .required_at(e.offset)
                .or_else(|| self.required_at(last))
            else {
                placed.push(*e);
                continue;
            };
            let i = (0..n)
                .map(|k| (first + k) % n)
                .find(|&i| room(i, wps[i], e.len))
                .ok_or_else(|| no_room(e.len))?;
            let at = Extent {
                offset: wps[i],
                len: e.len,
            };
            if at != *e {
                moved += 1;
            }
            wps[i] += e.len;
            placed.push(at);
        }
        Ok((placed, moved))
    }

    /// The sequential zones that still hold data by the drive's own account: after a sanitize,
    /// which empties every zone with a write pointer, none may. A zone holds data unless it is
    /// empty (its write pointer at its start) or offline (nothing in it can be read).
    pub fn holding(&self) -> Vec<&Zone> {
        self.zones
            .iter()
            .filter(|z| {
                z.sequential()
                    && z.cond != ZoneCond::Offline
                    && !(z.cond == ZoneCond::Empty && z.wp <= z.start)
            })
            .collect()
    }
}

/// Why a canary of `len` bytes finds no write pointer to go to.
fn no_room(len: u64) -> String {
    format!(
        "no zone written at its write pointer has room for a {len}-byte canary (every such zone is full or \
         takes no write)"
    )
}

/// Decodes one `struct blk_zone` (64 bytes; sectors of 512 bytes). `capacity` says whether
/// the report carries capacities (`BLK_ZONE_REP_CAPACITY`).
pub fn decode_zone(b: &[u8], capacity: bool) -> Option<Zone> {
    let u64_at = |o: usize| -> Option<u64> {
        u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?).checked_mul(SECTOR)
    };
    let (start, len) = (u64_at(0)?, u64_at(8)?);
    // A conventional zone has no write pointer: ZBC reports all ones there, which the kernel
    // may pass on shifted; it is never used, and must not make the report unreadable.
    let wp = u64::from_le_bytes(b.get(16..24)?.try_into().ok()?).saturating_mul(SECTOR);
    let kind = match *b.get(24)? {
        1 => ZoneType::Conventional,
        2 => ZoneType::SequentialRequired,
        3 => ZoneType::SequentialPreferred,
        t => ZoneType::Other(t),
    };
    let cond = match *b.get(25)? {
        0x0 => ZoneCond::NotWritePointer,
        0x1 => ZoneCond::Empty,
        0x2 => ZoneCond::ImplicitOpen,
        0x3 => ZoneCond::ExplicitOpen,
        0x4 => ZoneCond::Closed,
        0xD => ZoneCond::ReadOnly,
        0xE => ZoneCond::Full,
        0xF => ZoneCond::Offline,
        c => ZoneCond::Other(c),
    };
    let capacity = if capacity { u64_at(32)? } else { len };
    Some(Zone {
        start,
        len,
        wp,
        capacity,
        kind,
        cond,
    })
}

/// Decodes a report's buffer (header, then zones): its zones, in order.
pub fn decode_report(b: &[u8]) -> Option<Vec<Zone>> {
    let n = u32::from_le_bytes(b.get(8..12)?.try_into().ok()?) as usize;
    let flags = u32::from_le_bytes(b.get(12..16)?.try_into().ok()?);
    (0..n)
        .map(|i| {
            let at = REPORT_HEADER + i * ZONE_BYTES;
            decode_zone(b.get(at..at + ZONE_BYTES)?, flags & REP_CAPACITY != 0)
        })
        .collect()
}

/// The device's zones from the kernel's zone report, asked for in batches from sector 0 to
/// `size`.
///
/// # Errors
/// The report fails (not a zoned device, a drive that does not answer) or makes no progress.
pub fn report(f: &File, size: u64) -> io::Result<ZoneMap> {
    let mut zones: Vec<Zone> = Vec::new();
    let mut buf = vec![0u8; REPORT_HEADER + BATCH * ZONE_BYTES];
    let mut at = 0;
    while at < size {
        buf.fill(0);
        super::ioctl::report_zones(f, at / SECTOR, BATCH as u32, &mut buf)?;
        let got = decode_report(&buf)
            .ok_or_else(|| io::Error::other("the zone report could not be decoded"))?;
        let Some(last) = got.last() else { break };
        let next = last.start + last.len;
        if next <= at {
            return Err(io::Error::other("the zone report made no progress"));
        }
        at = next;
        zones.extend(got);
    }
    let zone_bytes = zones.first().map(|z| z.len).unwrap_or(0);
    Ok(ZoneMap { zone_bytes, zones })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `struct blk_zone` as the kernel lays it out.
    pub(crate) fn raw(start: u64, len: u64, wp: u64, kind: u8, cond: u8, cap: u64) -> Vec<u8> {
        let mut b = vec![0u8; ZONE_BYTES];
        b[0..8].copy_from_slice(&(start / SECTOR).to_le_bytes());
        b[8..16].copy_from_slice(&(len / SECTOR).to_le_bytes());
        b[16..24].copy_from_slice(&(wp / SECTOR).to_le_bytes());
        b[24] = kind;
        b[25] = cond;
        b[32..40].copy_from_slice(&(cap / SECTOR).to_le_bytes());
        b
    }

    fn report_of(zones: &[Vec<u8>], flags: u32) -> Vec<u8> {
        let mut b = vec![0u8; REPORT_HEADER];
        b[8..12].copy_from_slice(&(zones.len() as u32).to_le_bytes());
        b[12..16].copy_from_slice(&flags.to_le_bytes());
        for z in zones {
            b.extend_from_slice(z);
        }
        b
    }

    const M: u64 = 1 << 20;

    #[test]
    fn a_report_decodes_to_zones_in_bytes() {
        let b = report_of(
            &[
                raw(0, 16 * M, 0, 1, 0, 16 * M),
                raw(16 * M, 16 * M, 20 * M, 2, 2, 16 * M),
                raw(32 * M, 16 * M, 48 * M, 2, 0xE, 16 * M),
                raw(48 * M, 16 * M, 48 * M, 3, 0xF, 8 * M),
            ],
            REP_CAPACITY,
        );
        let z = decode_report(&b).unwrap();
        assert_eq!(z.len(), 4);
        assert_eq!(z[0].kind, ZoneType::Conventional);
        assert!(!z[0].sequential());
        assert_eq!(
            (z[1].start, z[1].wp, z[1].cond),
            (16 * M, 20 * M, ZoneCond::ImplicitOpen)
        );
        assert!(z[1].sequential() && !z[1].full());
        assert!(z[2].full());
        assert_eq!(z[3].kind, ZoneType::SequentialPreferred);
        assert_eq!(z[3].capacity, 8 * M, "the capacity is read when flagged");
        assert_eq!(z[3].unwritable(), Some("the zone is offline"));
        assert_eq!(z[1].unwritable(), None);
        // A read-only zone, and a zone type this code does not know, take no write either.
        let b = report_of(
            &[
                raw(0, 16 * M, 0, 2, 0xD, 16 * M),
                raw(16 * M, 16 * M, 16 * M, 4, 1, 16 * M),
            ],
            REP_CAPACITY,
        );
        let z = decode_report(&b).unwrap();
        assert_eq!(z[0].unwritable(), Some("the zone is read-only"));
        assert_eq!(z[1].kind, ZoneType::Other(4));
        assert!(z[1].unwritable().unwrap().contains("does not know"));
        // A conventional zone's write pointer of all ones (ZBC's "invalid") is no reason to
        // refuse the report.
        let mut conv = raw(0, 16 * M, 0, 1, 0, 16 * M);
        conv[16..24].fill(0xFF);
        let b = report_of(&[conv], REP_CAPACITY);
        assert_eq!(decode_report(&b).unwrap()[0].wp, u64::MAX);
        // Without the capacity flag the field is not trusted: capacity = length.
        let b = report_of(&[raw(0, 16 * M, 0, 2, 1, 8 * M)], 0);
        assert_eq!(decode_report(&b).unwrap()[0].capacity, 16 * M);
        // A report that claims more zones than its buffer holds is refused.
        let mut b = report_of(&[raw(0, 16 * M, 0, 2, 1, 16 * M)], 0);
        b[8] = 2;
        assert_eq!(decode_report(&b), None);
        assert_eq!(decode_report(&[0u8; 8]), None);
    }

    fn map(zones: Vec<Zone>) -> ZoneMap {
        ZoneMap {
            zone_bytes: zones[0].len,
            zones,
        }
    }

    fn zone(start: u64, len: u64, kind: ZoneType, cap: u64) -> Zone {
        Zone {
            start,
            len,
            wp: start,
            capacity: cap,
            kind,
            cond: ZoneCond::Empty,
        }
    }

    #[test]
    fn only_zones_that_tile_the_device_with_their_whole_length_writable_are_overwritten() {
        let seq = ZoneType::SequentialRequired;
        let good = map(vec![
            zone(0, 16 * M, ZoneType::Conventional, 16 * M),
            zone(16 * M, 16 * M, seq, 16 * M),
            zone(32 * M, 4 * M, seq, 4 * M), // a smaller last zone
        ]);
        assert_eq!(good.unsupported(36 * M), None);
        assert_eq!(good.counts(), (2, 1));
        assert_eq!(good.at(17 * M).unwrap().start, 16 * M);
        assert_eq!(good.at(36 * M), None);
        assert!(good.unsupported(40 * M).unwrap().contains("cover"));
        let gap = map(vec![zone(0, 16 * M, seq, 12 * M)]);
        assert!(gap.unsupported(16 * M).unwrap().contains("capacity"));
        let hole = map(vec![
            zone(0, 16 * M, seq, 16 * M),
            zone(20 * M, 16 * M, seq, 16 * M),
        ]);
        assert!(hole.unsupported(36 * M).unwrap().contains("zone 1"));
        let uneven = map(vec![
            zone(0, 16 * M, seq, 16 * M),
            zone(16 * M, 8 * M, seq, 8 * M),
            zone(24 * M, 16 * M, seq, 16 * M),
        ]);
        assert!(uneven.unsupported(40 * M).unwrap().contains("zone 1"));
        assert!(ZoneMap {
            zone_bytes: 0,
            zones: vec![]
        }
        .unsupported(0)
        .is_some());
        // An empty report is refused whatever zone size it claims.
        let empty = ZoneMap {
            zone_bytes: 16 * M,
            zones: vec![],
        };
        assert!(empty.unsupported(0).unwrap().contains("empty"));
    }

    #[test]
    fn a_dry_run_says_how_the_zones_would_be_written_or_why_not() {
        let seq = ZoneType::SequentialRequired;
        let mut good = map(vec![
            zone(0, 16 * M, ZoneType::Conventional, 16 * M),
            zone(16 * M, 16 * M, seq, 16 * M),
        ]);
        assert_eq!(
            good.describe(32 * M),
            "2 zones of 16.00 MiB (1 conventional, 1 sequential): each sequential zone is reset, then \
             written in order"
        );
        good.zones[1].cond = ZoneCond::Offline;
        assert!(good.describe(32 * M).contains("1 zone(s) take no write"));
        let gap = map(vec![zone(0, 16 * M, seq, 12 * M)]);
        assert!(gap
            .describe(16 * M)
            .contains("would be refused: zone 0's capacity"));
    }

    #[test]
    fn after_an_overwrite_every_sequential_zone_must_be_full() {
        let mut m = map(vec![
            zone(0, 16 * M, ZoneType::Conventional, 16 * M),
            zone(16 * M, 16 * M, ZoneType::SequentialRequired, 16 * M),
            zone(32 * M, 16 * M, ZoneType::SequentialRequired, 16 * M),
        ]);
        assert_eq!(m.not_full().len(), 2, "empty sequential zones are not full");
        m.zones[1].wp = 32 * M;
        m.zones[2].cond = ZoneCond::Full;
        assert!(
            m.not_full().is_empty(),
            "the conventional zone has no write pointer"
        );
        m.zones[2] = Zone {
            cond: ZoneCond::Offline,
            ..m.zones[2]
        };
        assert!(
            m.not_full().is_empty(),
            "an offline zone is counted as failed elsewhere"
        );
    }

    fn ext(offset: u64, len: u64) -> Extent {
        Extent { offset, len }
    }

    #[test]
    fn canaries_go_where_a_host_managed_drive_takes_them_at_write_pointers() {
        let seq = ZoneType::SequentialRequired;
        let mut m = map(vec![
            zone(0, 16 * M, ZoneType::Conventional, 16 * M),
            zone(16 * M, 16 * M, seq, 16 * M),
            zone(32 * M, 16 * M, seq, 16 * M),
            zone(48 * M, 16 * M, ZoneType::SequentialPreferred, 16 * M),
        ]);
        m.zones[1].wp = 20 * M;
        m.zones[1].cond = ZoneCond::ImplicitOpen;
        let drawn = [
            ext(M, 4096),             // conventional: stays
            ext(18 * M, 4096),        // below zone 1's pointer: to the pointer
            ext(30 * M, 4096),        // past it: to the pointer, after the first
            ext(40 * M, 8192),        // zone 2 is empty: to its start
            ext(50 * M, 4096),        // host-aware: stays
            ext(16 * M - 4096, 8192), // straddles into zone 1: moved there
        ];
        let (placed, moved) = m.place_samples(&drawn).unwrap();
        assert_eq!(
            placed,
            vec![
                ext(M, 4096),
                ext(20 * M, 4096),
                ext(20 * M + 4096, 4096),
                ext(32 * M, 8192),
                ext(50 * M, 4096),
                ext(20 * M + 8192, 8192),
            ]
        );
        assert_eq!(moved, 4);
        // A conventional zone's last block, right before a sequential zone, stays.
        assert_eq!(
            m.place_samples(&[ext(16 * M - 4096, 4096)]).unwrap(),
            (vec![ext(16 * M - 4096, 4096)], 0)
        );
        // A sample drawn exactly at the pointer does not count as moved.
        assert_eq!(m.place_samples(&[ext(20 * M, 4096)]).unwrap().1, 0);
        // A full zone sends its sample on to the next zone with room, wrapping round.
        m.zones[2].cond = ZoneCond::Full;
        m.zones[2].wp = 48 * M;
        let (placed, _) = m.place_samples(&[ext(40 * M, 4096)]).unwrap();
        assert_eq!(placed, vec![ext(20 * M, 4096)]);
        // Room is counted in the zone's capacity, not its length.
        m.zones[1].capacity = 4 * M + 4096;
        assert_eq!(
            m.place_samples(&[ext(17 * M, 4096)]).unwrap().0,
            vec![ext(20 * M, 4096)]
        );
        assert!(m
            .place_samples(&[ext(17 * M, 4096), ext(17 * M + 4096, 4096)])
            .unwrap_err()
            .contains("no zone written at its write pointer has room"));
        m.zones[1].cond = ZoneCond::Offline;
        assert!(m.place_samples(&[ext(17 * M, 4096)]).is_err());
        assert_eq!(
            m.place_samples(&[ext(M, 4096)]).unwrap().0,
            vec![ext(M, 4096)]
        );
    }

    #[test]
    fn after_a_sanitize_a_sequential_zone_holds_data_unless_empty_or_offline() {
        let seq = ZoneType::SequentialRequired;
        let mut m = map(vec![
            zone(0, 16 * M, ZoneType::Conventional, 16 * M),
            zone(16 * M, 16 * M, seq, 16 * M),
            zone(32 * M, 16 * M, ZoneType::SequentialPreferred, 16 * M),
            zone(48 * M, 16 * M, seq, 16 * M),
        ]);
        m.zones[0].cond = ZoneCond::NotWritePointer;
        assert!(m.holding().is_empty(), "{:?}", m.holding());
        m.zones[1].wp = 16 * M + 4096;
        m.zones[1].cond = ZoneCond::ImplicitOpen;
        m.zones[2].cond = ZoneCond::Full;
        m.zones[3].cond = ZoneCond::Offline;
        let starts: Vec<u64> = m.holding().iter().map(|z| z.start).collect();
        assert_eq!(starts, vec![16 * M, 32 * M]);
        m.zones[1].cond = ZoneCond::Empty;
        assert_eq!(
            m.holding().len(),
            2,
            "an empty zone whose pointer is past its start"
        );
        m.zones[1] = zone(16 * M, 16 * M, seq, 16 * M);
        m.zones[2].cond = ZoneCond::ReadOnly;
        assert_eq!(m.holding().len(), 1, "a read-only zone keeps its data");
    }
}
