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
            "FORMAT UNIT (opcode 0x04): FMTDATA {}, IMMED {}",
            (b[1] >> 4) & 1,
            (b[1] >> 1) & 1
        )),
        _ => None,
    }
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

/// From REPORT SUPPORTED OPERATION CODES data: supported (SUPPORT 011b or 101b), or not.
pub fn supported(data: &[u8]) -> bool {
    matches!(data.get(1).map(|b| b & 0x07), Some(3) | Some(5))
}

/// FORMAT UNIT (opcode 0x04), no parameter list, waiting for completion (IMMED 0).
pub fn format_unit() -> [u8; 6] {
    [0x04, 0, 0, 0, 0, 0]
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
}
