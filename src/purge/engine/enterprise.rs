//! TCG Enterprise: the Erase of every band, authenticated as EraseMaster, in a TCG session
//! mediasan opens itself (the kernel's sed-opal drives Opal only). The tokens and ComPackets
//! are in `device::tcg_session`; here they go over the drive's own bus as IF-SEND / IF-RECV
//! (SCSI SECURITY PROTOCOL OUT/IN, ATA TRUSTED SEND/RECEIVE, NVMe Security Send/Receive).

use std::io;
use std::time::Duration;

use super::{Block, Bus, Caps, Part, StartError};
use crate::device as dev;
use crate::device::passthrough::{DataDir, Passthrough};
use crate::device::tcg_session::{self as ts, Answer, Token};
use crate::purge::method;

/// Where an Enterprise drive's sessions go: its bus and the ComID its discovery gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tper {
    pub bus: Bus,
    pub comid: u16,
}

/// How long mediasan waits for a TPer's answer to one ComPacket (polled every 25 ms while the
/// TPer says it is outstanding): an Erase changes a key, which takes a drive well under a
/// second.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(25);

/// The Enterprise drive's TPer, where its discovery shows the Enterprise SSC and a ComID.
pub fn tper(caps: &Caps, bus: Bus) -> Option<Tper> {
    let t = caps.tcg.as_ref()?;
    (t.ssc.iter().any(|s| s == "Enterprise"))
        .then_some(())
        .and(t.base_comid)
        .map(|comid| Tper { bus, comid })
}

/// Adds `tcg-erase` to `caps` where the drive's own discovery shows the Enterprise SSC.
pub(super) fn add_enterprise(caps: &mut Caps, bus: Bus) {
    if tper(caps, bus).is_some() {
        caps.supported = method::with_tcg_erase(&caps.supported);
    }
}

/// IF-SEND (`out`) of `b`, or IF-RECV into it, over the drive's own bus.
fn transfer(d: &dyn Passthrough, t: Tper, out: bool, b: &mut [u8]) -> io::Result<()> {
    let len = b.len() as u32;
    let dir = if out {
        DataDir::ToDevice
    } else {
        DataDir::FromDevice
    };
    let status = match t.bus {
        Bus::Nvme => d.nvme(&dev::tcg::if_nvme(out, t.comid, len), b)?.0,
        Bus::Ata => u16::from(
            d.scsi(&dev::tcg::if_ata(out, t.comid, len), dir, b, 15_000)?
                .0,
        ),
        Bus::Scsi => u16::from(
            d.scsi(&dev::tcg::if_scsi(out, t.comid, len), dir, b, 15_000)?
                .0,
        ),
    };
    if status == 0 {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "the drive refused the {}",
            if out { "IF-SEND" } else { "IF-RECV" }
        )))
    }
}

/// One exchange: `payload` sent in a ComPacket, the answer's tokens read back.
fn exchange(
    d: &dyn Passthrough,
    t: Tper,
    tsn: u32,
    hsn: u32,
    payload: &[u8],
) -> Result<Vec<Token>, String> {
    let mut b = ts::compacket(t.comid, tsn, hsn, payload);
    let sent = transfer(d, t, true, &mut b);
    b.fill(0);
    sent.map_err(|e| format!("IF-SEND: {e}"))?;
    let until = std::time::Instant::now() + ANSWER_WITHIN;
    loop {
        let mut a = vec![0u8; ts::ANSWER];
        transfer(d, t, false, &mut a).map_err(|e| format!("IF-RECV: {e}"))?;
        match ts::read_answer(&a)? {
            Answer::Tokens { tokens, .. } => return Ok(tokens),
            Answer::Pending if std::time::Instant::now() < until => std::thread::sleep(POLL),
            Answer::Pending => {
                return Err(format!("no answer within {} s", ANSWER_WITHIN.as_secs()));
            }
        }
    }
}

/// A method's status in words, with its number.
fn said(tokens: &[Token]) -> (u64, String) {
    match ts::status(tokens) {
        Some(s) => (
            s,
            format!(
                "{} (TCG status {s:#04x})",
                dev::tcg::method_status(i32::try_from(s).unwrap_or(-1))
            ),
        ),
        None => (u64::MAX, "an answer without a status".to_string()),
    }
}

/// The drive's MSID (its default password, which it tells anyone): a session with the Admin
/// SP, Get of C_PIN_MSID's PIN, the session ended.
fn read_msid(d: &dyn Passthrough, t: Tper) -> Result<dev::tcg::Secret, String> {
    let start = exchange(d, t, 0, 0, &ts::start_session(&ts::ADMIN_SP))?;
    let tsn = ts::sync_tsn(&start).ok_or_else(|| {
        format!(
            "the drive answered StartSession with the Admin SP with {}",
            said(&start).1
        )
    })?;
    let pin = exchange(d, t, tsn, ts::HSN, &ts::get(&ts::C_PIN_MSID, "PIN"));
    let _ = exchange(d, t, tsn, ts::HSN, &[ts::END_OF_SESSION]);
    let pin = pin?;
    let mut v = ts::bytes_value(&pin, "PIN")
        .filter(|_| ts::status(&pin) == Some(0))
        .ok_or_else(|| format!("Get of C_PIN_MSID's PIN answered {}", said(&pin).1))?;
    let s = String::from_utf8(v.clone()).map_err(|_| "the MSID is not text".to_string());
    v.fill(0);
    s.and_then(|s| dev::tcg::Secret::new(&s))
}

/// MaxRanges from the answer to its Get: at most 1023 (BandMaster1023 is the Enterprise SSC's
/// last), `None` for a failed Get, no value, or more bands than the SSC has.
fn max_ranges(info: &[Token]) -> Option<u16> {
    match (ts::status(info), ts::value(info, "MaxRanges")) {
        (Some(0), Some(m)) if m < 1024 => Some(m as u16),
        _ => None,
    }
}

/// Erases every band of an Enterprise drive: a session with its Locking SP, Authenticate as
/// EraseMaster with `key` (or, with `msid` and no key, the MSID the drive reports, for a
/// drive whose EraseMaster password was never set), MaxRanges read from LockingInfo, then
/// Erase on Band0 to Band{MaxRanges}, and the session ended. Returns the number of bands
/// erased.
///
/// # Errors
/// [`StartError::Refused`] until the first Erase was accepted (a wrong password, a drive that
/// answers no session); [`StartError::Failed`] for an Erase the drive did not accept after
/// another was; [`StartError::Unknown`] for a transport failure once an Erase was sent.
pub(super) fn tcg_erase(
    d: &dyn Passthrough,
    t: Option<Tper>,
    key: Option<&dev::tcg::Secret>,
    msid: bool,
) -> Result<u16, StartError> {
    if key.is_none() && !msid {
        return Err(StartError::Refused(
            "tcg-erase needs the EraseMaster password".into(),
        ));
    }
    let Some(t) = t else {
        return Err(StartError::Refused(
            "the drive's TCG discovery shows no Enterprise SSC with a ComID".into(),
        ));
    };
    let refused = |what: &str, e: String| StartError::Refused(format!("{what}: {e}"));
    let read = match key {
        Some(_) => None,
        None => Some(read_msid(d, t).map_err(|e| refused("reading the drive's MSID", e))?),
    };
    let challenge = match (key, &read) {
        (Some(k), _) => ts::Challenge::Given(k.bytes()),
        (None, Some(m)) => ts::Challenge::Msid(m.bytes()),
        (None, None) => {
            return Err(StartError::Refused(
                "tcg-erase needs the EraseMaster password".into(),
            ))
        }
    };
    let start = exchange(d, t, 0, 0, &ts::start_session(&ts::ENTERPRISE_LOCKING_SP))
        .map_err(|e| refused("StartSession with the Locking SP", e))?;
    let Some(tsn) = ts::sync_tsn(&start) else {
        return Err(StartError::Refused(format!(
            "the drive answered StartSession with the Locking SP with {}, not SyncSession",
            said(&start).1
        )));
    };
    let hsn = ts::HSN;
    let end = || {
        let _ = exchange(d, t, tsn, hsn, &[ts::END_OF_SESSION]);
    };
    let mut challenge = ts::authenticate(&ts::ERASE_MASTER, challenge);
    let auth = exchange(d, t, tsn, hsn, &challenge);
    challenge.fill(0);
    std::hint::black_box(&challenge);
    let auth = auth.map_err(|e| {
        end();
        refused("Authenticate as EraseMaster", e)
    })?;
    if ts::status(&auth) != Some(0) || ts::value(&auth, "") != Some(1) {
        end();
        let answered = match said(&auth) {
            (0, _) => "Authenticate answered False".to_string(),
            (_, s) => s,
        };
        return Err(StartError::Refused(if read.is_some() {
            format!(
                "the drive did not accept its own MSID as the EraseMaster password ({answered}): its \
                 EraseMaster password was set by an owner; give it with --erase-master-file FILE"
            )
        } else {
            format!(
                "the drive did not accept the EraseMaster password ({answered}): it is not the drive's \
                 EraseMaster password; drives lock the authority out after a few wrong tries until they are \
                 power-cycled"
            )
        }));
    }
    let info = exchange(d, t, tsn, hsn, &ts::get(&ts::LOCKING_INFO, "MaxRanges")).map_err(|e| {
        end();
        refused("Get MaxRanges from LockingInfo", e)
    })?;
    let max = match max_ranges(&info) {
        Some(m) => m,
        None => {
            end();
            return Err(StartError::Refused(format!(
                "the drive did not say how many bands it has (Get MaxRanges from LockingInfo answered {})",
                said(&info).1
            )));
        }
    };
    for n in 0..=max {
        let r = exchange(d, t, tsn, hsn, &ts::erase(n));
        match r {
            Ok(a) if ts::status(&a) == Some(0) => {}
            Ok(a) => {
                end();
                let why = format!("the drive answered {} to the Erase of Band{n}", said(&a).1);
                return Err(if n == 0 {
                    StartError::Refused(format!("{why}; no band was erased"))
                } else {
                    StartError::Failed(format!("{why}, after erasing Band0 to Band{}", n - 1))
                });
            }
            Err(e) => {
                end();
                return Err(StartError::Unknown(format!(
                    "the Erase of Band{n}: {e}; whether the drive erased it is unknown"
                )));
            }
        }
    }
    end();
    Ok(max + 1)
}

/// What a TCG Enterprise Erase sends, for the dry run: every ComPacket (with `msid`, the MSID
/// read first), the challenge withheld (its length is the password's, which the dry run does
/// not show).
pub(super) fn erase_bytes(t: Option<Tper>, msid: bool) -> Vec<Block> {
    let Some(t) = t else { return vec![] };
    let hsn = ts::HSN;
    let tsn = 1; // the TPer gives the TSN; shown as 1
    let p = |what: &str, b: Vec<u8>| {
        let used = 56 + u32::from_be_bytes([b[52], b[53], b[54], b[55]]) as usize;
        Block::new(
            Part::ComPacket,
            what.to_string(),
            &b[..used.div_ceil(4) * 4],
        )
    };
    let mut v = vec![];
    if msid {
        v.extend([
            p(
                "IF-SEND: StartSession with the Admin SP, to read the MSID",
                ts::compacket(t.comid, 0, 0, &ts::start_session(&ts::ADMIN_SP)),
            ),
            p(
                "IF-SEND: Get the MSID (C_PIN_MSID's PIN)",
                ts::compacket(t.comid, tsn, hsn, &ts::get(&ts::C_PIN_MSID, "PIN")),
            ),
            p(
                "IF-SEND: END OF SESSION",
                ts::compacket(t.comid, tsn, hsn, &[ts::END_OF_SESSION]),
            ),
        ]);
    }
    v.extend([
        p(
            "IF-SEND: StartSession with the Enterprise Locking SP, read-write (the answer gives the TSN)",
            ts::compacket(t.comid, 0, 0, &ts::start_session(&ts::ENTERPRISE_LOCKING_SP)),
        ),
        p(
            if msid {
                "IF-SEND: Authenticate as EraseMaster with the MSID read; the Challenge is withheld here"
            } else {
                "IF-SEND: Authenticate as EraseMaster; the Challenge (the password) is withheld here"
            },
            ts::compacket(
                t.comid,
                tsn,
                hsn,
                &ts::authenticate(&ts::ERASE_MASTER, ts::Challenge::Given(b"")),
            ),
        ),
        p(
            "IF-SEND: Get MaxRanges from LockingInfo",
            ts::compacket(t.comid, tsn, hsn, &ts::get(&ts::LOCKING_INFO, "MaxRanges")),
        ),
        p(
            "IF-SEND: Erase Band0, then the same for Band1 to Band{MaxRanges}",
            ts::compacket(t.comid, tsn, hsn, &ts::erase(0)),
        ),
        p(
            "IF-SEND: END OF SESSION",
            ts::compacket(t.comid, tsn, hsn, &[ts::END_OF_SESSION]),
        ),
    ]);
    v
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::device::nvme::AdminCmd;
    use crate::device::tcg::Secret;
    use crate::purge::sim_tcg::{self, Behaviour, SIM_ERASE_MASTER};

    /// The simulated Enterprise TPer on NVMe, which can answer "outstanding" first, lose the
    /// transport after a number of IF-SENDs, and log what was sent.
    struct Fake {
        tper: Mutex<sim_tcg::Tper>,
        how: Behaviour,
        outstanding: Mutex<u32>,
        sends_before_loss: Mutex<Option<u32>>,
        /// The IF-RECV (counted from 0) that fails once with EIO.
        recv_fails: Mutex<Option<u32>>,
        sent: Mutex<Vec<Vec<u8>>>,
    }

    impl Fake {
        fn new(how: Behaviour) -> Fake {
            Fake {
                tper: Mutex::default(),
                how,
                outstanding: Mutex::new(0),
                sends_before_loss: Mutex::new(None),
                recv_fails: Mutex::new(None),
                sent: Mutex::default(),
            }
        }
    }

    impl Passthrough for Fake {
        fn nvme(&self, cmd: &AdminCmd, data: &mut [u8]) -> io::Result<(u16, u32)> {
            assert_eq!(cmd.cdw10, 0x0107_FE00, "protocol 1, ComID 07FEh");
            if cmd.opcode == 0x81 {
                if let Some(n) = self.sends_before_loss.lock().unwrap().as_mut() {
                    if *n == 0 {
                        return Err(io::Error::from_raw_os_error(nix::libc::EIO));
                    }
                    *n -= 1;
                }
                self.sent.lock().unwrap().push(data.to_vec());
                self.tper.lock().unwrap().send(data, self.how);
                return Ok((0, 0));
            }
            if let Some(n) = self.recv_fails.lock().unwrap().as_mut() {
                *n = n.wrapping_sub(1);
                if *n == u32::MAX {
                    return Err(io::Error::from_raw_os_error(nix::libc::EIO));
                }
            }
            let mut o = self.outstanding.lock().unwrap();
            if *o > 0 {
                *o -= 1;
                data.fill(0);
                data[11] = 1; // outstanding data, nothing yet
                return Ok((0, 0));
            }
            self.tper.lock().unwrap().recv(data);
            Ok((0, 0))
        }

        fn scsi(&self, _: &[u8], _: DataDir, _: &mut [u8], _: u32) -> io::Result<(u8, Vec<u8>)> {
            Err(io::Error::other("not SCSI"))
        }
    }

    const T: Option<Tper> = Some(Tper {
        bus: Bus::Nvme,
        comid: sim_tcg::COMID,
    });

    fn key(t: &str) -> Secret {
        Secret::new(t).unwrap()
    }

    #[test]
    fn every_band_is_erased_in_one_session_after_the_tper_s_outstanding_answers() {
        let f = Fake::new(Behaviour::default());
        *f.outstanding.lock().unwrap() = 3;
        assert_eq!(tcg_erase(&f, T, Some(&key(SIM_ERASE_MASTER)), false), Ok(2));
        assert_eq!(f.tper.lock().unwrap().erased, [0, 1]);
        let sent = f.sent.lock().unwrap();
        // StartSession, Authenticate, Get, Erase Band0, Erase Band1, END OF SESSION.
        assert_eq!(sent.len(), 6);
        assert_eq!(sent[5][56], ts::END_OF_SESSION);
        // The challenge went out once, in the Authenticate, and nowhere else.
        let has = |b: &Vec<u8>| b.windows(16).any(|w| w == SIM_ERASE_MASTER.as_bytes());
        assert_eq!(sent.iter().filter(|b| has(b)).count(), 1);
        assert!(has(&sent[1]));
    }

    #[test]
    fn a_wrong_password_a_refused_band_and_a_lost_transport_end_as_they_should() {
        // A wrong password: refused, the session ended, no band erased.
        let f = Fake::new(Behaviour::default());
        let e = tcg_erase(&f, T, Some(&key("hunter2-x")), false).unwrap_err();
        assert!(
            matches!(&e, StartError::Refused(m) if m.contains("Authenticate answered False") && !m.contains("hunter2")),
            "{e:?}"
        );
        assert!(f.tper.lock().unwrap().erased.is_empty());
        assert_eq!(
            f.sent.lock().unwrap().last().unwrap()[56],
            ts::END_OF_SESSION
        );
        // Band1 refused after Band0 was erased: FAIL, naming both.
        let f = Fake::new(Behaviour {
            refuses_from: Some(1),
            ..Behaviour::default()
        });
        let e = tcg_erase(&f, T, Some(&key(SIM_ERASE_MASTER)), false).unwrap_err();
        assert!(
            matches!(&e, StartError::Failed(m) if m.contains("Erase of Band1") && m.contains("after erasing Band0 to Band0")),
            "{e:?}"
        );
        // Band0 refused: nothing was erased.
        let f = Fake::new(Behaviour {
            refuses_from: Some(0),
            ..Behaviour::default()
        });
        let e = tcg_erase(&f, T, Some(&key(SIM_ERASE_MASTER)), false).unwrap_err();
        assert!(
            matches!(&e, StartError::Refused(m) if m.contains("no band was erased")),
            "{e:?}"
        );
        // The transport lost at the Erase of Band0 (the 4th IF-SEND): unknown, never refused.
        let f = Fake::new(Behaviour::default());
        *f.sends_before_loss.lock().unwrap() = Some(3);
        let e = tcg_erase(&f, T, Some(&key(SIM_ERASE_MASTER)), false).unwrap_err();
        assert!(
            matches!(&e, StartError::Unknown(m) if m.contains("Band0") && m.contains("unknown")),
            "{e:?}"
        );
        // The answer to the Get lost: refused, and the session ended all the same.
        let f = Fake::new(Behaviour::default());
        *f.recv_fails.lock().unwrap() = Some(2);
        let e = tcg_erase(&f, T, Some(&key(SIM_ERASE_MASTER)), false).unwrap_err();
        assert!(
            matches!(&e, StartError::Refused(m) if m.contains("Get MaxRanges")),
            "{e:?}"
        );
        assert_eq!(
            f.sent.lock().unwrap().last().unwrap()[56],
            ts::END_OF_SESSION
        );
        assert!(f.tper.lock().unwrap().erased.is_empty());
        // Lost before any Erase: refused.
        let f = Fake::new(Behaviour::default());
        *f.sends_before_loss.lock().unwrap() = Some(1);
        let e = tcg_erase(&f, T, Some(&key(SIM_ERASE_MASTER)), false).unwrap_err();
        assert!(
            matches!(&e, StartError::Refused(m) if m.contains("Authenticate as EraseMaster")),
            "{e:?}"
        );
        // No password, no TPer.
        assert!(matches!(
            tcg_erase(&f, T, None, false),
            Err(StartError::Refused(_))
        ));
        assert!(matches!(
            tcg_erase(&f, None, Some(&key("x")), false),
            Err(StartError::Refused(m)) if m.contains("no Enterprise SSC")
        ));
    }

    #[test]
    fn without_a_password_the_msid_is_read_from_the_admin_sp_first() {
        let f = Fake::new(Behaviour {
            unowned: true,
            ..Behaviour::default()
        });
        assert_eq!(tcg_erase(&f, T, None, true), Ok(2));
        let sent = f.sent.lock().unwrap();
        // StartSession (Admin SP), Get C_PIN_MSID, END; then the Erase session of 6.
        assert_eq!(sent.len(), 9);
        assert!(sent[0].windows(8).any(|w| w == ts::ADMIN_SP));
        assert!(sent[1].windows(8).any(|w| w == ts::C_PIN_MSID));
        assert!(sent[4]
            .windows(sim_tcg::SIM_MSID.len())
            .any(|w| w == sim_tcg::SIM_MSID.as_bytes()));
        // Neither a password nor the MSID asked for: refused before anything is sent.
        let f = Fake::new(Behaviour::default());
        assert!(matches!(
            tcg_erase(&f, T, None, false),
            Err(StartError::Refused(_))
        ));
        assert!(f.sent.lock().unwrap().is_empty());
    }

    #[test]
    fn max_ranges_is_read_only_from_a_successful_get_and_never_past_1023() {
        let answer = |m: u64, status: u64| {
            let mut t = ts::Tokens::default();
            t.raw(0xF0).named("MaxRanges", |t| {
                t.uint(m);
            });
            t.raw(0xF1)
                .raw(0xF9)
                .raw(0xF0)
                .uint(status)
                .uint(0)
                .uint(0)
                .raw(0xF1);
            ts::tokens(&t.into_bytes()).unwrap()
        };
        assert_eq!(max_ranges(&answer(1023, 0)), Some(1023));
        assert_eq!(max_ranges(&answer(1024, 0)), None);
        assert_eq!(max_ranges(&answer(3, 1)), None);
        assert_eq!(max_ranges(&[]), None);
    }

    #[test]
    fn the_scsi_and_ata_transports_carry_protocol_1_the_comid_and_the_length() {
        assert_eq!(
            dev::tcg::if_scsi(true, 0x07FE, 512),
            [0xB5, 0x01, 0x07, 0xFE, 0, 0, 0, 0, 0x02, 0x00, 0, 0]
        );
        assert_eq!(
            dev::tcg::if_scsi(false, 0x0001, 2048),
            dev::tcg::discovery_scsi()
        );
        assert_eq!(
            dev::tcg::if_ata(false, 0x0001, 2048),
            dev::tcg::discovery_ata()
        );
        let send = dev::tcg::if_ata(true, 0x07FE, 512);
        let d = dev::ata::describe(&send).unwrap();
        assert!(
            d.contains("5Eh") || d.contains("0x5e") || d.contains("5E"),
            "{d}"
        );
        // PIO data-out (protocol 5), to the device, one 512-byte block, ComID in LBA 23:8.
        assert_eq!(send[1] >> 1 & 0x0F, 5);
        assert_eq!(send[2] & 0x08, 0, "T_DIR 0: to the device");
        assert_eq!(
            (send[6], send[10], send[12], send[14]),
            (1, 0xFE, 0x07, 0x5E)
        );
        let n = dev::tcg::if_nvme(true, 0x07FE, 512);
        assert_eq!((n.opcode, n.cdw10, n.cdw11), (0x81, 0x0107_FE00, 512));
    }
}
