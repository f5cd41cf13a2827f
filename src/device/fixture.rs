//! What real drives answered, as recorded files: readers for the formats drive owners and
//! other tools save, and the scrubbing of a drive's serial number before a recording is
//! shared. Pure: bytes in, answers out. The corpus itself is `tests/data/drives/`.
//!
//! Formats read here, written from their descriptions:
//! - libatasmart's `skdump --save`: records of a 4-byte tag (`IDFY` IDENTIFY DEVICE, `SMST`
//!   the SMART status, `SMDT` the SMART data, `SMTH` the SMART thresholds), a big-endian
//!   32-bit length, then that many bytes.

/// A drive's recorded answers to read-only ATA commands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AtaAnswers {
    /// IDENTIFY DEVICE, 512 bytes as the drive sent them.
    pub identify: Option<Box<[u8; 512]>>,
    /// SMART RETURN STATUS: true when the drive said no threshold is exceeded.
    pub smart_ok: Option<bool>,
    /// SMART READ DATA.
    pub smart_data: Option<Box<[u8; 512]>>,
    /// SMART READ THRESHOLDS (obsolete in ACS, still sent by many drives).
    pub smart_thresholds: Option<Box<[u8; 512]>>,
}

/// Reads an `skdump --save` file.
///
/// # Errors
/// A record that runs past the end, or a page that is not 512 bytes, named.
pub fn read_skdump(bytes: &[u8]) -> Result<AtaAnswers, String> {
    let mut out = AtaAnswers::default();
    let mut at = 0;
    while at < bytes.len() {
        let head = bytes
            .get(at..at + 8)
            .ok_or_else(|| format!("a record at byte {at} is cut short"))?;
        let tag = &head[..4];
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let body = bytes.get(at + 8..at + 8 + len).ok_or_else(|| {
            format!(
                "the {} record at byte {at} runs past the end",
                tag_name(tag)
            )
        })?;
        let page = |what: &str| -> Result<Box<[u8; 512]>, String> {
            <[u8; 512]>::try_from(body)
                .map(Box::new)
                .map_err(|_| format!("the {what} record is {len} bytes, not 512"))
        };
        match tag {
            b"IDFY" => out.identify = Some(page("IDENTIFY")?),
            b"SMDT" => out.smart_data = Some(page("SMART data")?),
            b"SMTH" => out.smart_thresholds = Some(page("SMART thresholds")?),
            b"SMST" => {
                let v = <[u8; 4]>::try_from(body)
                    .map_err(|_| format!("the SMART status record is {len} bytes, not 4"))?;
                out.smart_ok = Some(u32::from_be_bytes(v) != 0);
            }
            // A record of a kind this reader does not know is skipped, as skdump does.
            _ => {}
        }
        at += 8 + len;
    }
    Ok(out)
}

fn tag_name(tag: &[u8]) -> String {
    String::from_utf8_lossy(tag).escape_debug().to_string()
}

/// Word 255 of IDENTIFY DEVICE: `Some(true)` when its signature (A5h) is there and the
/// checksum makes the 512 bytes sum to zero, `Some(false)` when it is there but wrong, `None`
/// when the drive does not use it (ACS leaves it optional).
pub fn identify_checksum(d: &[u8; 512]) -> Option<bool> {
    (d[510] == 0xA5).then(|| d.iter().fold(0u8, |s, b| s.wrapping_add(*b)) == 0)
}

/// Blanks IDENTIFY DEVICE's serial number (words 10-19, to spaces, as a drive pads it) and
/// puts the checksum right again where the drive keeps one: a recording to share.
pub fn scrub_identify(d: &mut [u8; 512]) {
    d[20..40].fill(b' ');
    if d[510] == 0xA5 {
        let sum = d[..511].iter().fold(0u8, |s, b| s.wrapping_add(*b));
        d[511] = sum.wrapping_neg();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tag: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut r = tag.to_vec();
        r.extend_from_slice(&(body.len() as u32).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    #[test]
    fn reads_each_record_and_names_a_broken_one() {
        let mut id = [0u8; 512];
        id[20..40].copy_from_slice(b"SERIAL-123          ");
        id[510] = 0xA5;
        let mut f = record(b"IDFY", &id);
        f.extend(record(b"SMST", &1u32.to_be_bytes()));
        f.extend(record(b"XTRA", b"later"));
        f.extend(record(b"SMDT", &[7u8; 512]));
        let a = read_skdump(&f).unwrap();
        assert_eq!(a.identify.as_deref(), Some(&id));
        assert_eq!(a.smart_ok, Some(true));
        assert_eq!(a.smart_data.as_deref(), Some(&[7u8; 512]));
        assert_eq!(a.smart_thresholds, None);
        assert!(read_skdump(&f[..f.len() - 1])
            .unwrap_err()
            .contains("SMDT record at byte"));
        assert!(read_skdump(&record(b"IDFY", &[0; 100]))
            .unwrap_err()
            .contains("100 bytes, not 512"));
        assert!(read_skdump(&f[..3]).unwrap_err().contains("cut short"));
    }

    #[test]
    fn scrubbing_blanks_the_serial_and_keeps_the_checksum_right() {
        let mut id = [0u8; 512];
        for (i, b) in id.iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        id[510] = 0xA5;
        scrub_identify(&mut id);
        assert_eq!(identify_checksum(&id), Some(true));
        assert_eq!(&id[20..40], &[b' '; 20]);
        id[0] ^= 1;
        assert_eq!(identify_checksum(&id), Some(false));
        // Without the signature there is no checksum to keep.
        let mut plain = [1u8; 512];
        scrub_identify(&mut plain);
        assert_eq!(identify_checksum(&plain), None);
        assert_eq!(plain[511], 1);
    }
}
