//! TCG Storage sessions, for what the kernel's sed-opal does not send: the Enterprise SSC's
//! Erase of each band (TCG Storage Security Subsystem Class: Enterprise 1.01; Core
//! Specification 2.01, 3.2 data streams and 3.3 packets). Pure encoding and decoding: the
//! tokens of a method call, the ComPacket / Packet / SubPacket that carry them, and the
//! TPer's answers read back. Checked byte for byte against what sedutil-cli 1.20 sends
//! (`tests/data/ioctlcap/sedutil-enterprise-erase-nvme.txt`). Nothing here reaches a drive.

/// Every IF-SEND and IF-RECV of a session carries this many bytes (the ComPacket, padded).
pub const BUFFER: usize = 512;
/// The answer buffer: Level 0 Discovery's length, which every TPer's MaxComPacketSize covers.
pub const ANSWER: usize = 2048;
/// The host's session number in every session mediasan opens (any value the host likes).
pub const HSN: u32 = 0x69;

/// A TCG object or method UID (8 bytes, sent as a byte-string atom).
pub type Uid = [u8; 8];

/// The Session Manager, which StartSession is called on.
pub const SMUID: Uid = [0, 0, 0, 0, 0, 0, 0, 0xFF];
/// The SP a session's own methods (Authenticate) are called on.
pub const THIS_SP: Uid = [0, 0, 0, 0, 0, 0, 0, 0x01];
/// The Admin SP, where the MSID is.
pub const ADMIN_SP: Uid = [0, 0, 0x02, 0x05, 0, 0, 0, 0x01];
/// The Admin SP's C_PIN row of the MSID (the drive's default password, readable by anyone).
pub const C_PIN_MSID: Uid = [0, 0, 0, 0x0B, 0, 0, 0x84, 0x02];
/// The Enterprise Locking SP, where the bands are.
pub const ENTERPRISE_LOCKING_SP: Uid = [0, 0, 0x02, 0x05, 0, 0x01, 0, 0x01];
/// The Enterprise Locking SP's EraseMaster authority.
pub const ERASE_MASTER: Uid = [0, 0, 0, 0x09, 0, 0, 0x84, 0x01];
/// The Enterprise LockingInfo table's row (which holds MaxRanges).
pub const LOCKING_INFO: Uid = [0, 0, 0x08, 0x01, 0, 0, 0, 0];
/// Session Manager methods.
pub const START_SESSION: Uid = [0, 0, 0, 0, 0, 0, 0xFF, 0x02];
pub const SYNC_SESSION: Uid = [0, 0, 0, 0, 0, 0, 0xFF, 0x03];
/// The Enterprise SSC's methods (the 0006h method table).
pub const GET: Uid = [0, 0, 0, 0x06, 0, 0, 0, 0x06];
pub const AUTHENTICATE: Uid = [0, 0, 0, 0x06, 0, 0, 0, 0x0C];
pub const ERASE: Uid = [0, 0, 0, 0x06, 0, 0, 0x08, 0x03];

/// The Locking table row of band `n` (Band0, the global band, is row 1): `0000 0802 0000 n+1`.
pub fn band(n: u16) -> Uid {
    let [hi, lo] = (n + 1).to_be_bytes();
    [0, 0, 0x08, 0x02, 0, 0, hi, lo]
}

const START_LIST: u8 = 0xF0;
const END_LIST: u8 = 0xF1;
const START_NAME: u8 = 0xF2;
const END_NAME: u8 = 0xF3;
const CALL: u8 = 0xF8;
const END_OF_DATA: u8 = 0xF9;
/// The token that ends a session (sent alone in its own ComPacket, and answered with itself).
pub const END_OF_SESSION: u8 = 0xFA;

/// A token stream being written: atoms in their shortest encoding.
#[derive(Default)]
pub struct Tokens(Vec<u8>);

impl Tokens {
    /// An unsigned integer: a tiny atom (0-63) or a short atom of the fewest bytes.
    pub fn uint(&mut self, v: u64) -> &mut Self {
        if v < 64 {
            self.0.push(v as u8);
        } else {
            let b = v.to_be_bytes();
            let skip = b.iter().take_while(|x| **x == 0).count();
            self.0.push(0x80 | (8 - skip) as u8);
            self.0.extend_from_slice(&b[skip..]);
        }
        self
    }

    /// A byte string: a short atom up to 15 bytes, a medium atom up to 2047.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        if b.len() >= 16 {
            return self.medium_bytes(b);
        }
        self.0.push(0xA0 | b.len() as u8);
        self.0.extend_from_slice(b);
        self
    }

    /// A byte string always as a medium atom (`D0`-`D7`, up to 2047 bytes), whatever its
    /// length: how sedutil-cli sends a password, which every TPer it drives accepts.
    pub fn medium_bytes(&mut self, b: &[u8]) -> &mut Self {
        let n = b.len().min(2047);
        self.0.push(0xD0 | (n >> 8) as u8);
        self.0.push(n as u8);
        self.0.extend_from_slice(&b[..n]);
        self
    }

    /// `name = value` where the value is written by `value`.
    pub fn named(&mut self, name: &str, value: impl FnOnce(&mut Self)) -> &mut Self {
        self.0.push(START_NAME);
        self.bytes(name.as_bytes());
        value(self);
        self.0.push(END_NAME);
        self
    }

    /// A control token (list, name, call, end of data...) as it is.
    pub fn raw(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }

    /// The stream written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// A method call's tokens: CALL, the invoking UID, the method UID, the parameter list that
/// `args` writes, END OF DATA and the empty status list the host sends.
pub fn call(object: &Uid, method: &Uid, args: impl FnOnce(&mut Tokens)) -> Vec<u8> {
    let mut t = Tokens::default();
    t.raw(CALL).bytes(object).bytes(method).raw(START_LIST);
    args(&mut t);
    t.raw(END_LIST)
        .raw(END_OF_DATA)
        .raw(START_LIST)
        .uint(0)
        .uint(0)
        .uint(0)
        .raw(END_LIST);
    t.0
}

/// StartSession with `sp`, read-write, no authentication in it (the host authenticates after
/// with Authenticate, as the Enterprise SSC has it), and a 60-second session timeout.
pub fn start_session(sp: &Uid) -> Vec<u8> {
    call(&SMUID, &START_SESSION, |t| {
        t.uint(u64::from(HSN)).bytes(sp).uint(1);
        t.named("SessionTimeout", |t| {
            t.uint(60_000);
        });
    })
}

/// Where an Authenticate's challenge came from, which sets its atom as sedutil-cli sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Challenge<'a> {
    /// A password the operator gave: always a medium atom.
    Given(&'a [u8]),
    /// The MSID the drive itself reported: its shortest atom.
    Msid(&'a [u8]),
}

/// Authenticate as `authority` with `challenge` (its password; never shown or kept).
pub fn authenticate(authority: &Uid, challenge: Challenge) -> Vec<u8> {
    call(&THIS_SP, &AUTHENTICATE, |t| {
        t.bytes(authority);
        t.named("Challenge", |t| match challenge {
            Challenge::Given(b) => {
                t.medium_bytes(b);
            }
            Challenge::Msid(b) => {
                t.bytes(b);
            }
        });
    })
}

/// Get of one column of `row`, by the column's name (the Enterprise SSC's cell block).
pub fn get(row: &Uid, column: &str) -> Vec<u8> {
    call(row, &GET, |t| {
        t.raw(START_LIST);
        t.named("startColumn", |t| {
            t.bytes(column.as_bytes());
        });
        t.named("endColumn", |t| {
            t.bytes(column.as_bytes());
        });
        t.raw(END_LIST);
    })
}

/// Erase of band `n`: a new key for the band (its data cryptographically erased), its locking
/// reset.
pub fn erase(n: u16) -> Vec<u8> {
    call(&band(n), &ERASE, |_| {})
}

/// Frames `payload` in a SubPacket, a Packet (`tsn`, `hsn`) and a ComPacket for `comid`,
/// padded to [`BUFFER`] bytes.
pub fn compacket(comid: u16, tsn: u32, hsn: u32, payload: &[u8]) -> Vec<u8> {
    let sub = payload.len();
    let padded = sub.div_ceil(4) * 4;
    let packet = 12 + padded;
    let com = 24 + packet;
    let mut b = Vec::with_capacity(BUFFER.max(20 + com));
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&comid.to_be_bytes());
    b.extend_from_slice(&[0; 10]); // extension, outstanding data, min transfer
    b.extend_from_slice(&(com as u32).to_be_bytes());
    b.extend_from_slice(&tsn.to_be_bytes());
    b.extend_from_slice(&hsn.to_be_bytes());
    b.extend_from_slice(&[0; 12]); // sequence, reserved, ack type, acknowledgement
    b.extend_from_slice(&(packet as u32).to_be_bytes());
    b.extend_from_slice(&[0; 8]); // reserved, kind 0 (data)
    b.extend_from_slice(&(sub as u32).to_be_bytes());
    b.extend_from_slice(payload);
    b.resize((20 + com).max(BUFFER).div_ceil(BUFFER) * BUFFER, 0);
    b
}

/// A token read back from a TPer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Uint(u64),
    Bytes(Vec<u8>),
    /// A control token (list, name, call, end of data, end of session, ...).
    Control(u8),
}

/// What a TPer's ComPacket carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Nothing yet: the TPer has the answer outstanding (poll again).
    Pending,
    /// The TPer's TSN and HSN, and the tokens of its first SubPacket.
    Tokens {
        tsn: u32,
        hsn: u32,
        tokens: Vec<Token>,
    },
}

/// Reads a TPer's ComPacket. `Err` names what is malformed.
///
/// # Errors
/// A sentence for a ComPacket shorter than its headers say, or tokens that do not decode.
pub fn read_answer(b: &[u8]) -> Result<Answer, String> {
    let be32 = |at: usize| -> Result<usize, String> {
        b.get(at..at + 4)
            .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as usize)
            .ok_or_else(|| format!("the answer ends at byte {} inside its headers", b.len()))
    };
    let com = be32(16)?;
    if com == 0 {
        return if be32(8)? != 0 {
            Ok(Answer::Pending)
        } else {
            Err("the TPer answered an empty ComPacket with nothing outstanding".into())
        };
    }
    let (tsn, hsn) = (be32(20)? as u32, be32(24)? as u32);
    let sub = be32(52)?;
    let payload = b
        .get(56..56 + sub)
        .filter(|_| sub <= com)
        .ok_or_else(|| format!("the answer's SubPacket says {sub} bytes, more than it carries"))?;
    Ok(Answer::Tokens {
        tsn,
        hsn,
        tokens: tokens(payload)?,
    })
}

/// Decodes a token stream (Core Specification 3.2.2).
///
/// # Errors
/// A sentence for an atom that runs past the end, or a long or continued atom (which no
/// answer mediasan reads carries).
pub fn tokens(b: &[u8]) -> Result<Vec<Token>, String> {
    let mut out = vec![];
    let mut at = 0;
    while at < b.len() {
        let t = b[at];
        let (head, len, bytes) = match t {
            0x00..=0x7F => {
                out.push(Token::Uint(u64::from(t & 0x3F)));
                at += 1;
                continue;
            }
            0x80..=0xBF => (1, usize::from(t & 0x0F), t & 0x20 != 0),
            0xC0..=0xDF => (
                2,
                usize::from(t & 0x07) << 8 | usize::from(*b.get(at + 1).unwrap_or(&0)),
                t & 0x10 != 0,
            ),
            0xE0..=0xE3 => {
                return Err(format!(
                    "a long atom at byte {at}, which mediasan does not read"
                ))
            }
            _ => {
                if t != 0xFF {
                    out.push(Token::Control(t));
                }
                at += 1;
                continue;
            }
        };
        let v = b
            .get(at + head..at + head + len)
            .ok_or_else(|| format!("an atom at byte {at} runs past the end of the answer"))?;
        out.push(if bytes {
            Token::Bytes(v.to_vec())
        } else if len > 8 {
            return Err(format!("an integer of {len} bytes at byte {at}"));
        } else {
            Token::Uint(v.iter().fold(0, |a, x| a << 8 | u64::from(*x)))
        });
        at += head + len;
    }
    Ok(out)
}

/// A method's status: the first number of the status list after END OF DATA (0 SUCCESS).
/// `None` where the answer has no status list.
pub fn status(t: &[Token]) -> Option<u64> {
    let eod = t.iter().rposition(|x| *x == Token::Control(END_OF_DATA))?;
    match t.get(eod + 1..eod + 3)? {
        [Token::Control(START_LIST), Token::Uint(s)] => Some(*s),
        _ => None,
    }
}

/// The TSN a SyncSession gives (its parameters are the HSN, then the TSN).
pub fn sync_tsn(t: &[Token]) -> Option<u32> {
    let at = t
        .iter()
        .position(|x| *x == Token::Bytes(SYNC_SESSION.to_vec()))?;
    match t.get(at + 1..at + 4)? {
        [Token::Control(START_LIST), Token::Uint(_), Token::Uint(tsn)] => u32::try_from(*tsn).ok(),
        _ => None,
    }
}

/// The first value a method returned (Authenticate's success, a Get's column in its named
/// form `name = value`): the value named `name`, else the first integer of the result list.
pub fn value(t: &[Token], name: &str) -> Option<u64> {
    let named = t.windows(3).find_map(|w| match w {
        [Token::Control(START_NAME), Token::Bytes(n), Token::Uint(v)] if n == name.as_bytes() => {
            Some(*v)
        }
        _ => None,
    });
    let first = match t {
        [Token::Control(START_LIST), Token::Uint(v), ..] => Some(*v),
        _ => None,
    };
    named.or(first)
}

/// The byte string a Get returned for the column `name` (`name = bytes`).
pub fn bytes_value(t: &[Token], name: &str) -> Option<Vec<u8>> {
    t.windows(3).find_map(|w| match w {
        [Token::Control(START_NAME), Token::Bytes(n), Token::Bytes(v)] if n == name.as_bytes() => {
            Some(v.clone())
        }
        _ => None,
    })
}

/// Describes a ComPacket mediasan sends, for the dry run: ComID, TSN/HSN, and the method it
/// calls (the challenge of an Authenticate is never shown: it is sent only in a real run).
pub fn describe(b: &[u8]) -> Option<String> {
    let comid = u16::from_be_bytes([*b.get(4)?, *b.get(5)?]);
    let Ok(Answer::Tokens { tsn, hsn, tokens }) = read_answer(b) else {
        return None;
    };
    let what = match tokens.as_slice() {
        [Token::Control(END_OF_SESSION)] => "END OF SESSION".to_string(),
        [Token::Control(CALL), Token::Bytes(o), Token::Bytes(m), ..] => {
            let name = |u: &[u8]| -> String {
                match u {
                    x if x == START_SESSION => "StartSession".into(),
                    x if x == AUTHENTICATE => "Authenticate".into(),
                    x if x == GET => "Get".into(),
                    x if x == ERASE => "Erase".into(),
                    x if x == SMUID => "the Session Manager".into(),
                    x if x == THIS_SP => "ThisSP".into(),
                    x if x == LOCKING_INFO => "LockingInfo".into(),
                    x if x == C_PIN_MSID => "C_PIN_MSID".into(),
                    x if x.len() == 8 && x[..6] == band(0)[..6] => {
                        format!("Band{}", u16::from_be_bytes([x[6], x[7]]).saturating_sub(1))
                    }
                    x => x.iter().map(|b| format!("{b:02X}")).collect(),
                }
            };
            format!("{} on {}", name(m), name(o))
        }
        _ => "tokens".to_string(),
    };
    Some(format!(
        "ComPacket to ComID {comid:#06x}, TSN {tsn} HSN {hsn}: {what}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Security Sends sedutil-cli made, each the bytes it logged (trailing zero lines cut).
    fn sedutil_sends(file: &str) -> Vec<Vec<u8>> {
        let log = std::fs::read_to_string(format!(
            "{}/tests/data/ioctlcap/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let mut sends = vec![];
        let mut cur: Option<Vec<u8>> = None;
        for line in log.lines() {
            let hex = !line.is_empty()
                && line
                    .split(' ')
                    .all(|h| h.len() == 2 && u8::from_str_radix(h, 16).is_ok());
            if hex {
                if let Some(c) = cur.as_mut() {
                    c.extend(line.split(' ').map(|h| u8::from_str_radix(h, 16).unwrap()));
                }
                continue;
            }
            sends.extend(cur.take());
            if line.starts_with("NVME admin opc=0x81") {
                cur = Some(vec![]);
            }
        }
        sends.extend(cur);
        sends
    }

    /// `ours` equals `theirs` over every byte `theirs` logged; the rest of ours is zeros.
    fn same(ours: &[u8], theirs: &[u8]) {
        assert_eq!(ours.len(), BUFFER);
        assert_eq!(&ours[..theirs.len()], theirs);
        assert!(ours[theirs.len()..].iter().all(|b| *b == 0));
    }

    #[test]
    fn the_enterprise_erase_is_sedutil_s_byte_for_byte() {
        let s = sedutil_sends("sedutil-enterprise-erase-nvme.txt");
        // Properties, StartSession, Get MaxRanges, END OF SESSION, StartSession,
        // Authenticate as EraseMaster, Erase Band1, END OF SESSION. Before a session exists
        // its packets carry TSN 0 and HSN 0.
        assert_eq!(s.len(), 8, "{s:?}");
        let c = 0x07FE;
        same(
            &compacket(c, 0, 0, &start_session(&ENTERPRISE_LOCKING_SP)),
            &s[1],
        );
        same(
            &compacket(c, 1, HSN, &get(&LOCKING_INFO, "MaxRanges")),
            &s[2],
        );
        same(&compacket(c, 1, HSN, &[END_OF_SESSION]), &s[3]);
        same(
            &compacket(c, 0, 0, &start_session(&ENTERPRISE_LOCKING_SP)),
            &s[4],
        );
        same(
            &compacket(
                c,
                1,
                HSN,
                &authenticate(&ERASE_MASTER, Challenge::Given(b"erasemaster-pw")),
            ),
            &s[5],
        );
        same(&compacket(c, 1, HSN, &erase(1)), &s[6]);
        same(&compacket(c, 1, HSN, &[END_OF_SESSION]), &s[7]);
    }

    #[test]
    fn the_msid_read_and_the_erase_with_it_are_sedutil_s_byte_for_byte() {
        let s = sedutil_sends("sedutil-enterprise-erase-msid-nvme.txt");
        // Properties; the MSID read (StartSession with the Admin SP, Get C_PIN_MSID's PIN, END
        // OF SESSION); MaxRanges as before; the Erase session, authenticated with the MSID.
        assert_eq!(s.len(), 11, "{s:?}");
        let c = 0x07FE;
        same(&compacket(c, 0, 0, &start_session(&ADMIN_SP)), &s[1]);
        same(&compacket(c, 1, HSN, &get(&C_PIN_MSID, "PIN")), &s[2]);
        same(&compacket(c, 1, HSN, &[END_OF_SESSION]), &s[3]);
        same(
            &compacket(c, 0, 0, &start_session(&ENTERPRISE_LOCKING_SP)),
            &s[7],
        );
        same(
            &compacket(
                c,
                1,
                HSN,
                &authenticate(&ERASE_MASTER, Challenge::Msid(b"SIMMSID1")),
            ),
            &s[8],
        );
        same(&compacket(c, 1, HSN, &erase(1)), &s[9]);
    }

    #[test]
    fn atoms_take_their_shortest_form_and_decode_back() {
        let mut t = Tokens::default();
        t.uint(0).uint(63).uint(64).uint(60_000).uint(u64::MAX);
        t.bytes(b"")
            .bytes(&[7; 15])
            .bytes(&[9; 16])
            .bytes(&[1; 300])
            .medium_bytes(b"pw");
        assert_eq!(&t.0[..8], &[0x00, 0x3F, 0x81, 0x40, 0x82, 0xEA, 0x60, 0x88]);
        assert_eq!(
            tokens(&t.0).unwrap(),
            vec![
                Token::Uint(0),
                Token::Uint(63),
                Token::Uint(64),
                Token::Uint(60_000),
                Token::Uint(u64::MAX),
                Token::Bytes(vec![]),
                Token::Bytes(vec![7; 15]),
                Token::Bytes(vec![9; 16]),
                Token::Bytes(vec![1; 300]),
                Token::Bytes(b"pw".to_vec()),
            ]
        );
        // A medium atom without the byte flag is an integer; a short one with the sign flag too.
        assert_eq!(
            tokens(&[0xC0, 0x02, 0x12, 0x34]).unwrap(),
            [Token::Uint(0x1234)]
        );
        assert_eq!(tokens(&[0x91, 0x05]).unwrap(), [Token::Uint(5)]);
        assert!(tokens(&[0xA4, 1, 2]).unwrap_err().contains("runs past"));
        assert!(tokens(&[0xE2, 0, 0, 1]).unwrap_err().contains("long atom"));
        assert_eq!(band(0), [0, 0, 8, 2, 0, 0, 0, 1]);
        assert_eq!(band(1023), [0, 0, 8, 2, 0, 0, 4, 0]);
    }

    #[test]
    fn answers_are_read_with_their_status_tsn_and_values() {
        let sync = call(&SMUID, &SYNC_SESSION, |t| {
            t.uint(u64::from(HSN)).uint(0x1234);
        });
        let b = compacket(0x07FE, 0, HSN, &sync[1..]); // as a TPer answers: no CALL token needed
        let Answer::Tokens { tokens: t, .. } = read_answer(&b).unwrap() else {
            panic!()
        };
        assert_eq!(sync_tsn(&t), Some(0x1234));
        assert_eq!(status(&t), Some(0));
        let mut r = Tokens::default();
        r.raw(START_LIST).raw(START_LIST).raw(START_LIST);
        r.named("MaxRanges", |t| {
            t.uint(15);
        });
        r.raw(END_LIST)
            .raw(END_LIST)
            .raw(END_LIST)
            .raw(END_OF_DATA)
            .raw(START_LIST);
        r.uint(0x01).uint(0).uint(0).raw(END_LIST);
        let t = tokens(&r.0).unwrap();
        assert_eq!((value(&t, "MaxRanges"), status(&t)), (Some(15), Some(1)));
        // The value named, not the first one named.
        let mut two = Tokens::default();
        two.named("Other", |t| {
            t.uint(7);
        })
        .named("MaxRanges", |t| {
            t.uint(3);
        })
        .named("Name", |t| {
            t.bytes(b"x");
        })
        .named("PIN", |t| {
            t.bytes(b"msid");
        });
        let two = tokens(&two.0).unwrap();
        assert_eq!(value(&two, "MaxRanges"), Some(3));
        assert_eq!(bytes_value(&two, "PIN"), Some(b"msid".to_vec()));
        assert_eq!(bytes_value(&two, "Absent"), None);
        let yes = tokens(&[0xF0, 0x01, 0xF1, 0xF9, 0xF0, 0, 0, 0, 0xF1]).unwrap();
        assert_eq!(value(&yes, "-"), Some(1));
        // Nothing outstanding and nothing said; data outstanding (poll again); a short one.
        let mut empty = vec![0u8; 56];
        assert!(read_answer(&empty).is_err());
        empty[11] = 1;
        assert_eq!(read_answer(&empty), Ok(Answer::Pending));
        assert!(read_answer(&b[..60])
            .unwrap_err()
            .contains("more than it carries"));
        assert!(read_answer(&b[..10])
            .unwrap_err()
            .contains("inside its headers"));
    }

    #[test]
    fn the_dry_run_names_each_compacket_and_never_a_challenge() {
        let d = |p: Vec<u8>| describe(&compacket(0x07FE, 7, HSN, &p)).unwrap();
        assert_eq!(
            d(start_session(&ENTERPRISE_LOCKING_SP)),
            "ComPacket to ComID 0x07fe, TSN 7 HSN 105: StartSession on the Session Manager"
        );
        let a = d(authenticate(&ERASE_MASTER, Challenge::Given(b"hunter2")));
        assert!(
            a.ends_with("Authenticate on ThisSP") && !a.contains("hunter2"),
            "{a}"
        );
        assert!(d(erase(3)).ends_with("Erase on Band3"));
        assert!(d(get(&LOCKING_INFO, "MaxRanges")).ends_with("Get on LockingInfo"));
        assert!(d(vec![END_OF_SESSION]).ends_with("END OF SESSION"));
    }
}
