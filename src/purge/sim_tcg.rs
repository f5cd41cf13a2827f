//! A simulated TCG Enterprise SSC TPer, behind the simulated NVMe drive's Security Send and
//! Receive: it answers StartSession, Authenticate (EraseMaster, [`SIM_ERASE_MASTER`]), Get
//! MaxRanges and Erase on Band0 and Band1 as the Enterprise SSC describes them, and says which
//! band to erase. It reads what mediasan sends with mediasan's own decoder: the wire format
//! itself is checked against sedutil-cli's bytes (`device::tcg_session`'s tests), this is
//! where the success and failure paths of a session run.

use crate::device::tcg_session::{self as ts, Answer, Token};

/// The simulated Enterprise drive's EraseMaster password.
pub const SIM_ERASE_MASTER: &str = "sim-erase-master";
/// Its MSID (C_PIN_MSID's PIN in the Admin SP), which is also the EraseMaster password of a
/// drive nobody took ownership of (`enterprise-unowned`).
pub const SIM_MSID: &str = "SIMMSID0ENTERPRISE0001";
/// The ComID its Level 0 Discovery gives.
pub const COMID: u16 = 0x07FE;
/// Band0 (the global band) and Band1.
pub const MAX_RANGES: u16 = 1;

/// The TPer's state between commands (kept with the simulated controller's).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Tper {
    /// An open session: whether EraseMaster authenticated in it.
    session: Option<bool>,
    /// The tokens of the answer the next IF-RECV returns.
    answer: Vec<u8>,
    /// The bands erased, in order.
    pub erased: Vec<u16>,
}

/// How the simulated drive behaves.
#[derive(Clone, Copy, Debug, Default)]
pub struct Behaviour {
    /// The Erase of this band and every later one answers FAIL (3Fh) and changes nothing.
    pub refuses_from: Option<u16>,
    /// Nobody took ownership: the EraseMaster password is still the MSID.
    pub unowned: bool,
}

/// A method's answer: its result list, END OF DATA and the status list.
fn result(values: &[u8], status: u8) -> Vec<u8> {
    let mut v = vec![0xF0];
    v.extend_from_slice(values);
    v.extend_from_slice(&[0xF1, 0xF9, 0xF0, status, 0x00, 0x00, 0xF1]);
    v
}

impl Tper {
    /// Takes an IF-SEND; returns the band to erase when an Erase was accepted.
    pub fn send(&mut self, b: &[u8], how: Behaviour) -> Option<u16> {
        let Ok(Answer::Tokens { tokens, .. }) = ts::read_answer(b) else {
            self.answer = result(&[], 0x0C); // INVALID_PARAMETER
            return None;
        };
        let (answer, erase) = self.answer_to(&tokens, how);
        if let Some(n) = erase {
            self.erased.push(n);
        }
        self.answer = answer;
        erase
    }

    fn answer_to(&mut self, t: &[Token], how: Behaviour) -> (Vec<u8>, Option<u16>) {
        let bytes = |i: usize| match t.get(i) {
            Some(Token::Bytes(b)) => b.as_slice(),
            _ => &[],
        };
        if t.first() == Some(&Token::Control(ts::END_OF_SESSION)) {
            self.session = None;
            return (vec![ts::END_OF_SESSION], None);
        }
        let (object, method) = (bytes(1), bytes(2));
        if method == ts::START_SESSION {
            self.session = Some(false);
            let sync = ts::call(&ts::SMUID, &ts::SYNC_SESSION, |t| {
                t.uint(u64::from(ts::HSN)).uint(1);
            });
            return (sync, None);
        }
        let Some(authenticated) = self.session else {
            return (result(&[], 0x0C), None);
        };
        if method == ts::GET && object == ts::C_PIN_MSID {
            let mut v = ts::Tokens::default();
            v.raw(0xF0).raw(0xF0);
            v.named("PIN", |t| {
                t.bytes(SIM_MSID.as_bytes());
            });
            v.raw(0xF1).raw(0xF1);
            return (result(&v.into_bytes(), 0), None);
        }
        if method == ts::AUTHENTICATE {
            let challenge = t
                .iter()
                .skip_while(|x| **x != Token::Bytes(b"Challenge".to_vec()))
                .nth(1);
            let password = if how.unowned {
                SIM_MSID
            } else {
                SIM_ERASE_MASTER
            };
            let ok = object == ts::THIS_SP
                && bytes(4) == ts::ERASE_MASTER
                && challenge == Some(&Token::Bytes(password.as_bytes().to_vec()));
            self.session = Some(ok);
            return (result(&[u8::from(ok)], 0), None);
        }
        if method == ts::GET && object == ts::LOCKING_INFO {
            let mut v = vec![0xF0, 0xF0, 0xF2, 0xA9];
            v.extend_from_slice(b"MaxRanges");
            v.extend_from_slice(&[MAX_RANGES as u8, 0xF3, 0xF1, 0xF1]);
            return (result(&v, 0), None);
        }
        if method == ts::ERASE {
            if !authenticated {
                return (result(&[], 0x01), None); // NOT_AUTHORIZED
            }
            let Some(n) = (0..=MAX_RANGES).find(|n| object == ts::band(*n)) else {
                return (result(&[], 0x0C), None);
            };
            if how.refuses_from.is_some_and(|r| n >= r) {
                return (result(&[], 0x3F), None);
            }
            return (result(&[], 0), Some(n));
        }
        (result(&[], 0x0C), None)
    }

    /// Answers an IF-RECV: the pending answer in a ComPacket (then nothing more), or an empty
    /// one with nothing outstanding.
    pub fn recv(&mut self, data: &mut [u8]) {
        data.fill(0);
        if self.answer.is_empty() {
            return;
        }
        let tsn = u32::from(self.session.is_some());
        let b = ts::compacket(COMID, tsn, ts::HSN, &std::mem::take(&mut self.answer));
        let n = b.len().min(data.len());
        data[..n].copy_from_slice(&b[..n]);
    }

    /// Every band has been erased.
    pub fn all_erased(&self) -> bool {
        (0..=MAX_RANGES).all(|n| self.erased.contains(&n))
    }
}
