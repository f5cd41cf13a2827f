//! Evidence that a purge erased the media: canaries written at sampled locations before the
//! command, and what the read-back after it must find per method ([`AfterRule`]). Reads and
//! writes go through [`BlockIo`], so tests use a simulated drive's media.

use std::io;

use crate::contract::Extent;
use crate::device::scsi::ReadAfterErase;
use crate::device::BlockIo;

/// What a read-back after a purge must find.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AfterRule {
    /// Overwrite: the bytes the samples must hold, repeated from offset 0.
    pub pattern: Option<Vec<u8>>,
    /// The byte deallocated blocks read as, accepted instead of the pattern when the drive
    /// may deallocate after the sanitize (`None`: the pattern is required).
    pub deallocated: Option<u8>,
    /// Reads may fail after this erase by design (SCSI VPD B1h WABEREQ/WACEREQ). Written by
    /// earlier versions without `unreadable_sense`: then a read that fails with MEDIUM ERROR
    /// (any sense code) counts.
    pub unreadable_is_erased: bool,
    /// How reads fail after this erase by design: a sample whose read fails with exactly that
    /// sense proves the erase; any other failure proves nothing.
    #[serde(default)]
    pub unreadable_sense: Option<ReadAfterErase>,
    /// A host-managed zoned SCSI drive's sanitize: it empties every zone, and a read past a
    /// zone's write pointer may then fail with ILLEGAL REQUEST, ATTEMPT TO READ INVALID DATA
    /// (05h 21h/06h; ZBC, where URSWRZ is off). Such a read is the erase's doing; that the
    /// zone is empty the zone report shows apart.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub past_write_pointer: bool,
}

/// ILLEGAL REQUEST, ATTEMPT TO READ INVALID DATA (ZBC: a read past a zone's write pointer).
const READ_INVALID_DATA: (u8, u8, u8) = (0x05, 0x21, 0x06);

impl AfterRule {
    /// True when a read that failed with sense (key, ASC, ASCQ) is the erase's doing.
    fn by_design(&self, key: u8, asc: u8, ascq: u8) -> bool {
        if self.past_write_pointer && (key, asc, ascq) == READ_INVALID_DATA {
            return true;
        }
        match self.unreadable_sense {
            Some(x) => x.matches(key, asc, ascq),
            None => self.unreadable_is_erased && key == 0x03,
        }
    }

    /// The failures this rule counts as the erase's, for people.
    fn expected(&self) -> String {
        let promised = self.unreadable_sense.map(ReadAfterErase::describe).or(self
            .unreadable_is_erased
            .then_some("MEDIUM ERROR (VPD B1h)"));
        let zoned = self
            .past_write_pointer
            .then_some("ILLEGAL REQUEST, ATTEMPT TO READ INVALID DATA 21h/06h (past an emptied zone's write pointer)");
        match (promised, zoned) {
            (Some(p), Some(z)) => format!("{p} or {z}"),
            (Some(x), None) | (None, Some(x)) => x.to_string(),
            (None, None) => "no failure".into(),
        }
    }

    fn may_fail(&self) -> bool {
        self.unreadable_is_erased || self.unreadable_sense.is_some() || self.past_write_pointer
    }
}

/// Why a read at an offset failed, as the drive says it when asked again (a SCSI READ with its
/// sense): the sense (key, ASC, ASCQ), or why there is none to tell (the block read fine, the
/// device is gone, the transport failed).
pub type Explain<'a> = &'a dyn Fn(u64) -> Result<(u8, u8, u8), String>;

/// What the read-back after a purge found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    /// Samples that prove data was left (a canary still there, the old data, a wrong pattern).
    pub problems: Vec<String>,
    /// Samples that prove the erase.
    pub conclusive: u64,
    /// Samples that prove nothing (without canaries: the same uniform bytes before and after).
    pub inconclusive: u64,
    /// Bytes of the conclusive samples that are unreadable by design after the erase (not
    /// read: counted apart from `bytes_read`).
    pub bytes_by_design: u64,
    /// Samples that could not be read: (offset, error).
    pub read_errors: Vec<(u64, String)>,
    pub bytes_read: u64,
}

/// Evidence that a purge erased the media. With canaries (the default): fresh random data
/// written at sampled locations before the purge, only its hashes kept; afterwards none may
/// be readable, which holds for every method (a drive that did nothing, or erased only part,
/// still returns the canary). Without: the hashes of what was there before, and a sample that
/// held the same uniform bytes before and after proves nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence {
    pub extents: Vec<Extent>,
    pub before: Vec<[u8; 32]>,
    /// Canaries were written (and read back) at every extent.
    pub canaries: bool,
}

/// The canary of sample `i` at `e`: ChaCha8 data keyed by `seed` with `i` in its first bytes.
fn canary(i: usize, e: &Extent, seed: &[u8; 32]) -> crate::aligned::AlignedBuf {
    use rand::{RngCore, SeedableRng};
    let mut buf = crate::aligned::AlignedBuf::new(e.len as usize);
    let mut key = *seed;
    key[..8].copy_from_slice(&(i as u64).to_le_bytes());
    rand_chacha::ChaCha8Rng::from_seed(key).fill_bytes(&mut buf);
    buf
}

fn read(dev: &dyn BlockIo, e: &Extent) -> io::Result<Vec<u8>> {
    let bs = u64::from(dev.block_size());
    let mut buf = crate::aligned::AlignedBuf::new((e.len.div_ceil(bs) * bs) as usize);
    let n = dev.read_at(&mut buf, e.offset)?;
    if (n as u64) < e.len {
        return Err(io::Error::other(format!("short read at {}", e.offset)));
    }
    Ok(buf[..e.len as usize].to_vec())
}

impl Evidence {
    /// Hashes the content at `extents` as it is now (no canaries).
    ///
    /// # Errors
    /// A read error.
    pub fn before(dev: &dyn BlockIo, extents: Vec<Extent>) -> io::Result<Evidence> {
        let before = extents
            .iter()
            .map(|e| read(dev, e).map(|b| *blake3::hash(&b).as_bytes()))
            .collect::<io::Result<_>>()?;
        Ok(Evidence {
            extents,
            before,
            canaries: false,
        })
    }

    /// Writes canaries at `extents` (whole blocks; random data from `seed`), flushes, reads
    /// them back, and keeps their hashes.
    ///
    /// # Errors
    /// A write or read error, an extent that is not whole blocks, or a drive that does not
    /// return what was written (it could not be verified after the purge either).
    pub fn canaries(
        dev: &dyn BlockIo,
        extents: Vec<Extent>,
        seed: &[u8; 32],
    ) -> io::Result<Evidence> {
        let bs = u64::from(dev.block_size().max(1));
        let mut before = Vec::with_capacity(extents.len());
        for (i, e) in extents.iter().enumerate() {
            if e.len % bs != 0 || e.offset % bs != 0 {
                return Err(io::Error::other(format!(
                    "sample at {} ({} bytes) is not whole blocks of {bs}",
                    e.offset, e.len
                )));
            }
            let buf = canary(i, e, seed);
            before.push(*blake3::hash(&buf).as_bytes());
            dev.write_at(&buf, e.offset)?;
        }
        dev.sync()?;
        for (e, h) in extents.iter().zip(&before) {
            if blake3::hash(&read(dev, e)?).as_bytes() != h {
                return Err(io::Error::other(format!(
                    "the canary written at offset {} reads back different: a drive that does not keep what \
                     is written cannot be verified",
                    e.offset
                )));
            }
        }
        Ok(Evidence {
            extents,
            before,
            canaries: true,
        })
    }

    /// The evidence of canaries written earlier from `seed` (a purge finished by a later run
    /// keeps only the seed): the same data, hashed again, nothing written.
    pub fn canaries_written(extents: Vec<Extent>, seed: &[u8; 32]) -> Evidence {
        let before = extents
            .iter()
            .enumerate()
            .map(|(i, e)| *blake3::hash(&canary(i, e, seed)).as_bytes())
            .collect();
        Evidence {
            extents,
            before,
            canaries: true,
        }
    }

    /// Reads every sample after the purge and judges it by `rule`. A sample that cannot be
    /// read counts as erased only where the rule says reads fail by design and `explain`
    /// shows the very sense the drive promised; anything else is a read error.
    pub fn after(&self, dev: &dyn BlockIo, rule: &AfterRule, explain: Explain) -> Found {
        let mut f = Found::default();
        for (e, h) in self.extents.iter().zip(&self.before) {
            let now = match read(dev, e) {
                Ok(b) => b,
                Err(err) if rule.may_fail() => {
                    match explain(e.offset) {
                        Ok((k, asc, ascq)) if rule.by_design(k, asc, ascq) => {
                            f.conclusive += 1;
                            f.bytes_by_design += e.len;
                        }
                        Ok((k, asc, ascq)) => f.read_errors.push((
                            e.offset,
                            format!(
                                "{err}; the drive says {} {asc:02x}h/{ascq:02x}h, not {}",
                                crate::device::scsi::key_name(k),
                                rule.expected()
                            ),
                        )),
                        Err(why) => f.read_errors.push((e.offset, format!("{err}; {why}"))),
                    }
                    continue;
                }
                Err(err) => {
                    f.read_errors.push((e.offset, err.to_string()));
                    continue;
                }
            };
            f.bytes_read += e.len;
            let same = blake3::hash(&now).as_bytes() == h;
            let uniform = now.iter().all(|&b| b == now[0]);
            if same && self.canaries {
                f.problems.push(format!(
                    "offset {}: the canary written before the purge is still readable",
                    e.offset
                ));
                continue;
            }
            if same && !uniform {
                f.problems.push(format!(
                    "offset {}: unchanged: the data is still readable",
                    e.offset
                ));
                continue;
            }
            if let Some(p) = &rule.pattern {
                let mut want = vec![0u8; now.len()];
                crate::pattern::Pattern::Fixed(p.clone()).fill_at(&mut want, e.offset);
                let deallocated = rule.deallocated.is_some_and(|b| uniform && now[0] == b);
                if now != want && !deallocated {
                    f.problems.push(format!(
                        "offset {}: neither the overwrite pattern{}",
                        e.offset,
                        if rule.deallocated.is_some() {
                            " nor the deallocated value"
                        } else {
                            ""
                        }
                    ));
                    continue;
                }
            }
            if same {
                // Without canaries: the same uniform bytes before and after (a drive that
                // held zeros and was "erased" to zeros) prove nothing either way.
                f.inconclusive += 1;
            } else {
                f.conclusive += 1;
            }
        }
        f
    }
}

/// A zoned drive's zone report after a purge: every sequential zone that still holds data by
/// the drive's own account (a sanitize empties them all). `None` for a drive that is not zoned.
pub fn zones_after(dev: &dyn BlockIo) -> Option<crate::cert::ZoneCheck> {
    use crate::cert::{ByteRange, ZoneCheck};
    use crate::device::zones::ZoneCond;
    Some(match dev.report_zones()? {
        Ok(m) => ZoneCheck {
            zones: m.zones.len() as u64,
            sequential: m.counts().0 as u64,
            not_empty: m
                .holding()
                .iter()
                .map(|z| ByteRange {
                    offset: z.start,
                    length: match z.cond {
                        ZoneCond::Full | ZoneCond::ReadOnly => z.capacity,
                        _ => z.wp.clamp(z.start, z.start + z.capacity) - z.start,
                    },
                })
                .collect(),
            emptied_checked: true,
            ..ZoneCheck::default()
        },
        Err(e) => ZoneCheck {
            error: Some(e.to_string()),
            ..ZoneCheck::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::mem::MemDevice;

    fn no_scsi(_: u64) -> Result<(u8, u8, u8), String> {
        Err("not a SCSI drive".into())
    }

    #[test]
    fn unreadable_samples_count_as_erased_only_with_the_sense_the_drive_promised() {
        let ext = vec![
            Extent {
                offset: 0,
                len: 4096,
            },
            Extent {
                offset: 8192,
                len: 4096,
            },
        ];
        let mut dev = MemDevice::new(16384, 512, 0);
        let ev = Evidence::canaries(&dev, ext, &[5; 32]).unwrap();
        // After a SCSI block erase whose VPD B1h says reads fail with WRITE AFTER SANITIZE
        // REQUIRED until written.
        dev.fail_reads = vec![(0, 16384)];
        let by_design = AfterRule {
            unreadable_is_erased: true,
            unreadable_sense: Some(ReadAfterErase::WriteAfterSanitizeRequired),
            ..AfterRule::default()
        };
        let wasr = |_: u64| Ok((0x03, 0x11, 0x15));
        let f = ev.after(&dev, &by_design, &wasr);
        assert_eq!(
            (f.conclusive, f.bytes_by_design, f.bytes_read),
            (2, 8192, 0),
            "unread bytes are never counted as read"
        );
        assert!(f.read_errors.is_empty() && f.problems.is_empty());
        // Another sense, a transport failure, a vanished device, a block that reads fine when
        // asked again: no evidence, a read error each.
        let others: [Explain; 5] = [
            &|_| Ok((0x03, 0x11, 0x00)),
            &|_| Ok((0x04, 0x44, 0x00)),
            &|_| Ok((0x02, 0x04, 0x1B)),
            &|_| Err("SG_IO host status 0x0001: the adapter or bridge failed the command".into()),
            &|_| Err("the block reads fine when asked again".into()),
        ];
        for explain in others {
            let f = ev.after(&dev, &by_design, explain);
            assert_eq!(
                (
                    f.conclusive,
                    f.bytes_by_design,
                    f.bytes_read,
                    f.read_errors.len()
                ),
                (0, 0, 0, 2)
            );
        }
        // A host-managed zoned SCSI drive after its sanitize: a read past an emptied zone's
        // write pointer fails with ILLEGAL REQUEST 21h/06h by design; any other sense does not
        // count, and without the zoned rule neither does that one.
        let zoned = AfterRule {
            past_write_pointer: true,
            ..AfterRule::default()
        };
        let invalid = |_: u64| Ok((0x05, 0x21, 0x06));
        let f = ev.after(&dev, &zoned, &invalid);
        assert_eq!(
            (f.conclusive, f.bytes_by_design, f.bytes_read),
            (2, 8192, 0)
        );
        let f = ev.after(&dev, &zoned, &|_| Ok((0x05, 0x21, 0x07)));
        assert_eq!((f.conclusive, f.read_errors.len()), (0, 2));
        assert!(
            f.read_errors[0]
                .1
                .contains("not ILLEGAL REQUEST, ATTEMPT TO READ INVALID DATA"),
            "{:?}",
            f.read_errors
        );
        let f = ev.after(&dev, &by_design, &invalid);
        assert_eq!((f.conclusive, f.read_errors.len()), (0, 2));
        let both = AfterRule {
            past_write_pointer: true,
            ..by_design.clone()
        };
        assert_eq!(ev.after(&dev, &both, &wasr).conclusive, 2);
        assert_eq!(ev.after(&dev, &both, &invalid).conclusive, 2);
        // Elsewhere an unreadable sample proves nothing: a read error, not an erase.
        let f = ev.after(&dev, &AfterRule::default(), &no_scsi);
        assert_eq!((f.conclusive, f.read_errors.len()), (0, 2));
        // A journal of an earlier version (the flag alone): a MEDIUM ERROR of any code.
        let old = AfterRule {
            unreadable_is_erased: true,
            ..AfterRule::default()
        };
        assert_eq!(
            ev.after(&dev, &old, &|_| Ok((0x03, 0x10, 0x00))).conclusive,
            2
        );
        assert_eq!(ev.after(&dev, &old, &no_scsi).conclusive, 0);
        // ... but only a MEDIUM ERROR: another sense key is a read error.
        let f = ev.after(&dev, &old, &|_| Ok((0x05, 0x24, 0x00)));
        assert_eq!((f.conclusive, f.read_errors.len()), (0, 2));
        // Where reads may not fail by design, the drive is not asked why (no READ is sent
        // to explain a failure that proves nothing whatever it says).
        let asked = std::cell::Cell::new(0);
        let count = |_: u64| {
            asked.set(asked.get() + 1);
            Ok((0x03, 0x11, 0x15))
        };
        let f = ev.after(&dev, &AfterRule::default(), &count);
        assert_eq!((asked.get(), f.conclusive, f.read_errors.len()), (0, 0, 2));
    }

    #[test]
    fn an_overwrite_may_read_as_deallocated_only_when_every_byte_is_the_deallocated_value() {
        let ext = vec![Extent {
            offset: 0,
            len: 4096,
        }];
        let rule = AfterRule {
            pattern: Some(vec![0xA5]),
            deallocated: Some(0),
            ..AfterRule::default()
        };
        let judge = |fill: &dyn Fn(&mut [u8])| {
            let dev = MemDevice::new(16384, 512, 0);
            let ev = Evidence::canaries(&dev, ext.clone(), &[7; 32]).unwrap();
            let mut buf = vec![0u8; 4096];
            fill(&mut buf);
            dev.write_at(&buf, 0).unwrap();
            let f = ev.after(&dev, &rule, &no_scsi);
            (f.conclusive, f.problems.len())
        };
        assert_eq!(judge(&|b| b.fill(0xA5)), (1, 0), "the pattern");
        assert_eq!(judge(&|b| b.fill(0)), (1, 0), "deallocated: all zeros");
        // Neither: zeros but for one byte, or another uniform value.
        assert_eq!(
            judge(&|b| b[100] = 1),
            (0, 1),
            "a zero first byte is not enough"
        );
        assert_eq!(judge(&|b| b.fill(0xFF)), (0, 1), "another uniform value");
    }

    /// A zoned drive whose zone report says this (or fails with this message).
    struct Reports(Result<crate::device::zones::ZoneMap, String>);

    impl BlockIo for Reports {
        fn size(&self) -> u64 {
            0
        }
        fn block_size(&self) -> u32 {
            512
        }
        fn write_at(&self, _: &[u8], _: u64) -> io::Result<()> {
            Ok(())
        }
        fn read_at(&self, _: &mut [u8], _: u64) -> io::Result<usize> {
            Ok(0)
        }
        fn sync(&self) -> io::Result<()> {
            Ok(())
        }
        fn report_zones(&self) -> Option<io::Result<crate::device::zones::ZoneMap>> {
            Some(self.0.clone().map_err(io::Error::other))
        }
    }

    #[test]
    fn after_a_sanitize_each_zone_still_written_is_recorded_with_what_it_holds() {
        use crate::cert::ByteRange;
        use crate::device::zones::{Zone, ZoneCond, ZoneMap, ZoneType};
        const Z: u64 = 1 << 20;
        let zone = |i: u64, kind, wp: u64, cond| Zone {
            start: i * Z,
            len: Z,
            wp: i * Z + wp,
            capacity: Z / 2,
            kind,
            cond,
        };
        let seq = ZoneType::SequentialRequired;
        let map = ZoneMap {
            zone_bytes: Z,
            zones: vec![
                zone(0, ZoneType::Conventional, 0, ZoneCond::NotWritePointer),
                zone(1, seq, 0, ZoneCond::Empty),
                zone(2, seq, 4096, ZoneCond::ImplicitOpen),
                // A full zone's write pointer is not to be trusted (ZBC leaves it undefined):
                // it holds its capacity.
                zone(3, seq, 0, ZoneCond::Full),
                zone(4, seq, 0, ZoneCond::ReadOnly),
                // A write pointer past the capacity counts up to the capacity.
                zone(5, ZoneType::SequentialPreferred, Z, ZoneCond::Closed),
                zone(6, seq, 0, ZoneCond::Offline),
            ],
        };
        let z = zones_after(&Reports(Ok(map))).unwrap();
        assert_eq!((z.zones, z.sequential), (7, 6));
        assert!(z.emptied_checked && z.error.is_none());
        let range = |offset, length| ByteRange { offset, length };
        assert_eq!(
            z.not_empty,
            vec![
                range(2 * Z, 4096),
                range(3 * Z, Z / 2),
                range(4 * Z, Z / 2),
                range(5 * Z, Z / 2),
            ]
        );
        let z = zones_after(&Reports(Err("EIO".into()))).unwrap();
        assert_eq!(z.error.as_deref(), Some("EIO"));
        assert!(!z.emptied_checked && z.not_empty.is_empty());
        assert_eq!(
            zones_after(&MemDevice::new(4096, 512, 0)),
            None,
            "not zoned"
        );
    }

    /// A drive that returns fewer bytes than asked.
    struct Short(MemDevice);

    impl BlockIo for Short {
        fn size(&self) -> u64 {
            self.0.size()
        }
        fn block_size(&self) -> u32 {
            self.0.block_size()
        }
        fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
            self.0.write_at(buf, offset)
        }
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            let half = buf.len() / 2;
            self.0.read_at(&mut buf[..half], offset)
        }
        fn sync(&self) -> io::Result<()> {
            self.0.sync()
        }
    }

    #[test]
    fn a_short_read_is_an_error_and_samples_must_be_whole_blocks() {
        let ext = |offset, len| vec![Extent { offset, len }];
        let dev = MemDevice::new(16384, 512, 0);
        let ev = Evidence::canaries(&dev, ext(0, 4096), &[5; 32]).unwrap();
        let short = Short(MemDevice::new(16384, 512, 0));
        let f = ev.after(&short, &AfterRule::default(), &no_scsi);
        assert_eq!((f.bytes_read, f.read_errors.len()), (0, 1), "{f:?}");
        assert!(f.read_errors[0].1.contains("short read"), "{f:?}");
        assert!(Evidence::before(&short, ext(0, 4096)).is_err());
        // An offset or a length that is not whole blocks is refused before anything is
        // written.
        for (offset, len) in [(100, 4096), (0, 4000), (100, 4000)] {
            let d = MemDevice::new(16384, 512, 0);
            let e = Evidence::canaries(&d, ext(offset, len), &[5; 32]).unwrap_err();
            assert!(e.to_string().contains("not whole blocks"), "{e}");
            let mut all = vec![0u8; 16384];
            d.read_at(&mut all, 0).unwrap();
            assert!(all.iter().all(|&b| b == 0), "nothing written");
        }
    }
}
