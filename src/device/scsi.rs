//! SCSI SANITIZE (opcode 0x48) and REQUEST SENSE progress, as CDBs and parameter data.

/// SANITIZE service actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Overwrite = 0x01,
    BlockErase = 0x02,
    CryptoErase = 0x03,
    ExitFailureMode = 0x1F,
}

/// A SANITIZE command: the 10-byte CDB and, for overwrite, its parameter list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub cdb: [u8; 10],
    pub data_out: Vec<u8>,
}

/// SANITIZE with IMMED set (the command returns at once; progress comes from REQUEST SENSE).
/// `ause`: allow unrestricted sanitize exit. For overwrite: `passes` (1..31), `invert`
/// between passes, and the initialization `pattern`.
pub fn sanitize(action: Action, ause: bool, passes: u8, invert: bool, pattern: &[u8]) -> Command {
    let mut cdb = [0u8; 10];
    cdb[0] = 0x48;
    cdb[1] = 0x80 | if ause { 0x20 } else { 0 } | action as u8;
    let mut data_out = Vec::new();
    if action == Action::Overwrite {
        data_out.push(if invert { 0x80 } else { 0 } | (passes & 0x1F));
        data_out.push(0);
        data_out.extend_from_slice(&(pattern.len() as u16).to_be_bytes());
        data_out.extend_from_slice(pattern);
        cdb[7..9].copy_from_slice(&(data_out.len() as u16).to_be_bytes());
    }
    Command { cdb, data_out }
}

/// The fields of a SANITIZE or FORMAT UNIT CDB, or of a SANITIZE overwrite parameter list,
/// named.
pub fn describe(b: &[u8]) -> Option<String> {
    match (b.first()?, b.len()) {
        (0x48, 10) => {
            let sa = b[1] & 0x1F;
            Some(format!(
                "SANITIZE (opcode 0x48): service action {sa:#04x} ({}), IMMED {}, AUSE {}, parameter list length {}",
                match sa {
                    0x01 => "overwrite",
                    0x02 => "block erase",
                    0x03 => "cryptographic erase",
                    0x1F => "exit failure mode",
                    _ => "reserved",
                },
                b[1] >> 7,
                (b[1] >> 5) & 1,
                u16::from_be_bytes([b[7], b[8]])
            ))
        }
        (0x04, 6) => Some(format!(
            "FORMAT UNIT (opcode 0x04): FMTPINFO {}, FMTDATA {}, CMPLST {}, DEFECT LIST FORMAT {}",
            b[1] >> 6,
            (b[1] >> 4) & 1,
            (b[1] >> 3) & 1,
            b[1] & 0x07
        )),
        _ => None,
    }
}

/// The fields of a FORMAT UNIT short parameter list header.
pub fn describe_format_header(d: &[u8]) -> Option<String> {
    let d = d.get(..4)?;
    Some(format!(
        "PROTECTION FIELD USAGE {}, FOV {}, IMMED {}, defect list length {}",
        d[0] & 0x07,
        d[1] >> 7,
        (d[1] >> 1) & 1,
        u16::from_be_bytes([d[2], d[3]])
    ))
}

/// The fields of a SANITIZE overwrite parameter list.
pub fn describe_overwrite(d: &[u8]) -> Option<String> {
    let len = u16::from_be_bytes([*d.get(2)?, *d.get(3)?]);
    Some(format!(
        "INVERT {}, passes {}, pattern length {len}, pattern {}",
        d[0] >> 7,
        d[0] & 0x1F,
        d.get(4..4 + usize::from(len))?
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    ))
}

/// REPORT SUPPORTED OPERATION CODES for SANITIZE with service action `sa` (reporting
/// option 2: one command, opcode and service action), 32 bytes back.
pub fn report_supported(sa: Action) -> [u8; 12] {
    [
        0xA3, 0x0C, 0x02, 0x48, 0x00, sa as u8, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00,
    ]
}

/// REPORT SUPPORTED OPERATION CODES for a command without service actions (reporting option
/// 1: one command, by opcode), 32 bytes back; FORMAT UNIT (04h) is asked this way.
pub fn report_supported_opcode(opcode: u8) -> [u8; 12] {
    [
        0xA3, 0x0C, 0x01, opcode, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00,
    ]
}

/// From REPORT SUPPORTED OPERATION CODES data: supported (SUPPORT 011b or 101b), or not.
pub fn supported(data: &[u8]) -> bool {
    matches!(data.get(1).map(|b| b & 0x07), Some(3) | Some(5))
}

/// How a SCSI disk is formatted with protection information now (READ CAPACITY(16) byte 12:
/// P_TYPE bits 3:1, PROT_EN bit 0), and what its deallocated blocks read as (LBPRZ).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    pub blocks: u64,
    pub block_size: u32,
    /// 0 without protection information, else type 1..=3.
    pub pi_type: u8,
    /// LBPRZ (byte 14 bit 6): unmapped blocks read as zeros.
    pub reads_zero_unmapped: bool,
}

/// READ CAPACITY(16) (SERVICE ACTION IN(16), 0x9E/0x10), 32 bytes in.
pub fn read_capacity16() -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = 0x9E;
    c[1] = 0x10;
    c[13] = 32;
    c
}

/// Decodes READ CAPACITY(16) data.
pub fn parse_capacity16(d: &[u8]) -> Option<Capacity> {
    let d = d.get(..32)?;
    Some(Capacity {
        blocks: u64::from_be_bytes(d[0..8].try_into().ok()?).saturating_add(1),
        block_size: u32::from_be_bytes(d[8..12].try_into().ok()?),
        pi_type: if d[12] & 1 != 0 {
            ((d[12] >> 1) & 0x07) + 1
        } else {
            0
        },
        reads_zero_unmapped: d[14] & 0x40 != 0,
    })
}

/// FORMAT UNIT (opcode 0x04) keeping the drive's protection information type (FMTPINFO and
/// the header's PROTECTION FIELD USAGE, SBC-4 table "Format with protection information"),
/// with a short parameter list header whose IMMED bit makes the drive return at once and
/// report progress through REQUEST SENSE, as sg_format does by default. CMPLST 1 with an
/// empty defect list, as sg_format sends it. Returns the CDB and the 4-byte header.
pub fn format_unit(pi_type: u8) -> ([u8; 6], [u8; 4]) {
    let (fmtpinfo, pfu) = match pi_type {
        0 => (0u8, 0u8),
        1 => (0b10, 0),
        2 => (0b11, 0),
        _ => (0b11, 1),
    };
    // FMTPINFO bits 7:6, FMTDATA bit 4, CMPLST bit 3, DEFECT LIST FORMAT 0.
    let cdb = [0x04, fmtpinfo << 6 | 0x10 | 0x08, 0, 0, 0, 0];
    // PROTECTION FIELD USAGE bits 2:0; FOV 0, IMMED (byte 1 bit 1); defect list length 0.
    (cdb, [pfu, 0x02, 0, 0])
}

/// INQUIRY of VPD page B1h (Block Device Characteristics), 64 bytes in.
pub fn inquiry_b1() -> [u8; 6] {
    [0x12, 0x01, 0xB1, 0x00, 0x40, 0x00]
}

/// How a read of a block not written since a block or crypto erase ends, by design, as VPD
/// page B1h promises it (WABEREQ, WACEREQ; SBC-4): a CHECK CONDITION with sense key MEDIUM
/// ERROR and a stated additional sense code. Nothing else (another sense, a transport error,
/// a vanished device, a short read) is the erase's doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ReadAfterErase {
    /// 10b: MEDIUM ERROR with an additional sense code other than WRITE AFTER SANITIZE
    /// REQUIRED (e.g. ID CRC OR ECC ERROR).
    MediumError,
    /// 11b: MEDIUM ERROR, WRITE AFTER SANITIZE REQUIRED (11h/15h).
    WriteAfterSanitizeRequired,
}

impl ReadAfterErase {
    /// The field's two bits: 10b and 11b promise an error; 00b and 01b none.
    pub fn of(bits: u8) -> Option<ReadAfterErase> {
        match bits & 0b11 {
            0b10 => Some(ReadAfterErase::MediumError),
            0b11 => Some(ReadAfterErase::WriteAfterSanitizeRequired),
            _ => None,
        }
    }

    /// True when sense (key, ASC, ASCQ) is the one promised.
    pub fn matches(self, key: u8, asc: u8, ascq: u8) -> bool {
        let wasr = (asc, ascq) == (0x11, 0x15);
        key == 0x03
            && match self {
                ReadAfterErase::MediumError => !wasr,
                ReadAfterErase::WriteAfterSanitizeRequired => wasr,
            }
    }

    /// What it promises, for people.
    pub fn describe(self) -> &'static str {
        match self {
            ReadAfterErase::MediumError => {
                "MEDIUM ERROR with a sense code other than WRITE AFTER SANITIZE REQUIRED (VPD B1h: 10b)"
            }
            ReadAfterErase::WriteAfterSanitizeRequired => {
                "MEDIUM ERROR, WRITE AFTER SANITIZE REQUIRED 11h/15h (VPD B1h: 11b)"
            }
        }
    }
}

/// WABEREQ and WACEREQ of VPD page B1h (byte 7 bits 7:6 and 5:4): how a read after a block
/// erase (a crypto erase) fails by design until the block is written, if it does.
pub fn reads_may_fail_after(d: &[u8]) -> (Option<ReadAfterErase>, Option<ReadAfterErase>) {
    match (d.get(1), d.get(7)) {
        (Some(0xB1), Some(&b)) => (ReadAfterErase::of(b >> 6), ReadAfterErase::of(b >> 4)),
        _ => (None, None),
    }
}

/// MODE SENSE(10) of the Control mode page (0Ah), current values, no block descriptors, as
/// `sdparm --page=co` asks it.
pub fn mode_sense_control() -> [u8; 10] {
    [0x5A, 0x08, 0x0A, 0, 0, 0, 0, 0, 0xFC, 0]
}

/// The Control mode page from a MODE SENSE(10) answer (its page bytes, page code 0Ah first).
pub fn control_page(d: &[u8]) -> Option<Vec<u8>> {
    let header = 8 + usize::from(u16::from_be_bytes([*d.get(6)?, *d.get(7)?]));
    let page = d.get(header..)?;
    let len = 2 + usize::from(*page.get(1)?);
    (page.first()? & 0x3F == 0x0A && page.len() >= len && len >= 3).then(|| page[..len].to_vec())
}

/// MODE SELECT(10) with PF of the Control mode page `page` with D_SENSE (byte 2 bit 2) set or
/// cleared and nothing else changed (libata takes D_SENSE and refuses any other change): the
/// CDB and its parameter list.
pub fn mode_select_d_sense(page: &[u8], on: bool) -> ([u8; 10], Vec<u8>) {
    let mut list = vec![0u8; 8];
    let mut p = page.to_vec();
    p[0] &= 0x3F; // PS is reserved in MODE SELECT
    if on {
        p[2] |= 0x04;
    } else {
        p[2] &= !0x04;
    }
    list.extend_from_slice(&p);
    let n = u16::try_from(list.len()).unwrap_or(u16::MAX).to_be_bytes();
    ([0x55, 0x10, 0, 0, 0, 0, 0, n[0], n[1], 0], list)
}

/// READ(16) of `blocks` blocks at `lba` (to learn from its sense why a read failed).
pub fn read16(lba: u64, blocks: u32) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = 0x88;
    c[2..10].copy_from_slice(&lba.to_be_bytes());
    c[10..14].copy_from_slice(&blocks.to_be_bytes());
    c
}

/// A sense key's name.
pub fn key_name(k: u8) -> &'static str {
    match k {
        0x0 => "NO SENSE",
        0x1 => "RECOVERED ERROR",
        0x2 => "NOT READY",
        0x3 => "MEDIUM ERROR",
        0x4 => "HARDWARE ERROR",
        0x5 => "ILLEGAL REQUEST",
        0x6 => "UNIT ATTENTION",
        0x7 => "DATA PROTECT",
        0xB => "ABORTED COMMAND",
        _ => "other",
    }
}

/// TEST UNIT READY (opcode 0x00): GOOD when ready, else CHECK CONDITION with the reason (a
/// format in progress, with its progress), as `sg_turs -p` asks.
pub fn test_unit_ready() -> [u8; 6] {
    [0; 6]
}

/// REQUEST SENSE (opcode 0x03) with a 252-byte allocation, as sg_requests sends it.
pub fn request_sense() -> [u8; 6] {
    [0x03, 0, 0, 0, 0xFC, 0]
}

/// From sense data: (sense key, ASC, ASCQ, progress out of 65536 if the drive reports one).
pub fn decode_sense(s: &[u8]) -> Option<(u8, u8, u8, Option<u16>)> {
    match s.first()? & 0x7F {
        0x70 | 0x71 if s.len() >= 14 => {
            let progress =
                (s.len() >= 18 && s[15] & 0x80 != 0).then(|| u16::from_be_bytes([s[16], s[17]]));
            Some((s[2] & 0x0F, s[12], s[13], progress))
        }
        0x72 | 0x73 if s.len() >= 4 => {
            let mut progress = None;
            let mut at = 8;
            while at + 2 <= s.len() {
                let (kind, len) = (s[at], usize::from(s[at + 1]));
                if kind == 0x02 && at + 7 <= s.len() && s[at + 4] & 0x80 != 0 {
                    progress = Some(u16::from_be_bytes([s[at + 5], s[at + 6]]));
                }
                at += 2 + len;
            }
            Some((s[1] & 0x0F, s[2], s[3], progress))
        }
        _ => None,
    }
}

/// True for "sanitize in progress" (NOT READY, 04/1B).
pub fn sanitize_in_progress(key: u8, asc: u8, ascq: u8) -> bool {
    key == 0x02 && asc == 0x04 && ascq == 0x1B
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/data/ioctlcap/{name}.txt",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    /// The SANITIZE CDB (and data-out) sg_sanitize sent.
    fn theirs(name: &str) -> (Vec<u8>, Vec<u8>) {
        let text = log(name);
        let mut lines = text.lines();
        let mut cdb = vec![];
        let mut data = vec![];
        while let Some(l) = lines.next() {
            if let Some(c) = l.strip_prefix("[cap] SG_IO cdb 48 ") {
                cdb = hex(&format!("48 {c}"));
                for l in lines.by_ref() {
                    if let Some(d) = l.strip_prefix("[cap]   data-out ") {
                        data = hex(d);
                    }
                    if l.contains("-> ret") {
                        break;
                    }
                }
            }
        }
        (cdb, data)
    }

    #[test]
    fn cdbs_equal_sg_sanitizes() {
        let c = sanitize(Action::BlockErase, false, 0, false, &[]);
        assert_eq!((c.cdb.to_vec(), c.data_out), theirs("sg_sanitize-block"));
        let c = sanitize(Action::CryptoErase, false, 0, false, &[]);
        assert_eq!((c.cdb.to_vec(), c.data_out), theirs("sg_sanitize-crypto"));
        let c = sanitize(Action::ExitFailureMode, false, 0, false, &[]);
        assert_eq!((c.cdb.to_vec(), c.data_out), theirs("sg_sanitize-fail"));
        // sg_sanitize -O -z: one pass of a 4-byte zero pattern.
        let c = sanitize(Action::Overwrite, false, 1, false, &[0; 4]);
        assert_eq!(
            (c.cdb.to_vec(), c.data_out),
            theirs("sg_sanitize-overwrite")
        );
        let rs = log("sg_requests");
        assert!(rs.contains(&format!(
            "cdb {}",
            request_sense()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        )));
    }

    #[test]
    fn report_supported_operation_codes() {
        assert_eq!(
            report_supported(Action::BlockErase)[..6],
            [0xA3, 0x0C, 0x02, 0x48, 0x00, 0x02]
        );
        assert_eq!(
            report_supported_opcode(0x04)[..10],
            [0xA3, 0x0C, 0x01, 0x04, 0, 0, 0, 0, 0, 0x20]
        );
        assert!(supported(&[0, 0x03, 0, 10]));
        assert!(!supported(&[0, 0x01, 0, 10]));
        assert!(!supported(&[]));
    }

    #[test]
    fn decodes_progress_from_fixed_and_descriptor_sense() {
        let f = hex("70 00 02 00 00 00 00 0a 00 00 00 00 04 1b 00 80 40 00");
        let (k, asc, ascq, p) = decode_sense(&f).unwrap();
        assert!(sanitize_in_progress(k, asc, ascq));
        assert_eq!(p, Some(0x4000));
        let d = hex("72 02 04 1b 00 00 00 08 02 06 00 00 80 c0 00 00");
        assert_eq!(decode_sense(&d), Some((2, 4, 0x1b, Some(0xc000))));
        assert_eq!(
            decode_sense(&hex("70 00 00 00 00 00 00 0a 00 00 00 00 00 00")),
            Some((0, 0, 0, None))
        );
        assert_eq!(decode_sense(&[]), None);
    }

    #[test]
    fn format_unit_equals_sg_formats_and_keeps_protection() {
        // sg_format --format --quick -e (tests/data/ioctlcap/sg_format-immed.txt).
        let text = log("sg_format-immed");
        let (cdb, header) = format_unit(0);
        assert!(text.contains("cdb 04 18 00 00 00 00"), "{text}");
        assert!(text.contains("data-out 00 02 00 00"), "{text}");
        assert_eq!((cdb, header), ([0x04, 0x18, 0, 0, 0, 0], [0, 0x02, 0, 0]));
        assert_eq!(
            describe_format_header(&header).unwrap(),
            "PROTECTION FIELD USAGE 0, FOV 0, IMMED 1, defect list length 0"
        );
        // Type 1 protection: FMTPINFO 10b; type 3: FMTPINFO 11b with PFU 1.
        assert_eq!(format_unit(1).0[1], 0x98);
        assert_eq!(format_unit(3), ([0x04, 0xD8, 0, 0, 0, 0], [1, 0x02, 0, 0]));
        let mut rc = [0u8; 32];
        rc[7] = 0xFF; // 256 blocks
        rc[10] = 0x02; // 512 bytes
        rc[12] = 0b101; // PROT_EN, P_TYPE 2 = type 3
        rc[14] = 0x40;
        let c = parse_capacity16(&rc).unwrap();
        assert_eq!((c.blocks, c.block_size, c.pi_type), (256, 512, 3));
        assert!(c.reads_zero_unmapped);
        let mut b1 = [0u8; 64];
        b1[1] = 0xB1;
        b1[7] = 0b1001_0000; // WABEREQ 10b, WACEREQ 01b
        assert_eq!(
            reads_may_fail_after(&b1),
            (Some(ReadAfterErase::MediumError), None)
        );
        b1[7] = 0b0111_0000; // WABEREQ 01b, WACEREQ 11b
        assert_eq!(
            reads_may_fail_after(&b1),
            (None, Some(ReadAfterErase::WriteAfterSanitizeRequired))
        );
    }

    #[test]
    fn the_control_page_s_d_sense_is_flipped_and_nothing_else() {
        assert_eq!(
            mode_sense_control(),
            [0x5A, 0x08, 0x0A, 0, 0, 0, 0, 0, 0xFC, 0]
        );
        // MODE SENSE(10) as libata answers it: header, no block descriptor, page 0Ah.
        let mut answer = vec![0, 18, 0, 0, 0, 0, 0, 0];
        answer.extend_from_slice(&[0x0A, 0x0A, 0x02, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0x1E]);
        let page = control_page(&answer).unwrap();
        assert_eq!(page.len(), 12);
        let (cdb, list) = mode_select_d_sense(&page, true);
        assert_eq!(cdb, [0x55, 0x10, 0, 0, 0, 0, 0, 0, 20, 0]);
        assert_eq!(
            list[8..],
            [0x0A, 0x0A, 0x06, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0x1E]
        );
        let (_, back) = mode_select_d_sense(&list[8..], false);
        assert_eq!(back[8..], page[..]);
        assert_eq!(
            control_page(&[0, 6, 0, 0, 0, 0, 0, 0, 0x1C, 0x06]),
            None,
            "another page"
        );
        assert_eq!(control_page(&[0, 1]), None);
    }

    #[test]
    fn only_the_promised_medium_error_is_the_erase_s_doing() {
        let wasr = ReadAfterErase::WriteAfterSanitizeRequired;
        let other = ReadAfterErase::MediumError;
        assert!(wasr.matches(0x03, 0x11, 0x15));
        assert!(
            !wasr.matches(0x03, 0x11, 0x00),
            "an unrecovered read error is not it"
        );
        assert!(
            !wasr.matches(0x04, 0x11, 0x15),
            "a HARDWARE ERROR is not it"
        );
        assert!(other.matches(0x03, 0x10, 0x00), "ID CRC OR ECC ERROR");
        assert!(!other.matches(0x03, 0x11, 0x15));
        assert!(!other.matches(0x02, 0x04, 0x1B), "NOT READY is not it");
        assert!(
            !other.matches(0x06, 0x29, 0x00),
            "a unit attention is not it"
        );
        assert_eq!(
            read16(0x1_0000_0002, 1),
            [0x88, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0]
        );
    }
}
