//! A simulated ATA drive behind SAT (ATA PASS-THROUGH(16)), for tests: IDENTIFY from its
//! state, the SECURITY feature set as a state machine (password, enabled, locked, frozen,
//! the attempt counter), SANITIZE with SANITIZE STATUS EXT, and the ways real drives and
//! kernels answer when things go wrong: a reset mid-erase (status 50h, error 01h), a timeout
//! reported only by the transport, fixed-format sense (libata's), unit attentions while
//! polling. Its media is a `MemDevice` the evidence is read from.

use std::io;
use std::sync::Mutex;

use rand::{RngCore, SeedableRng};

use crate::device::mem::MemDevice;
use crate::device::nvme::AdminCmd;
use crate::device::passthrough::{DataDir, Passthrough};
use crate::device::BlockIo;

/// How SECURITY ERASE UNIT ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EraseEnd {
    /// Erased; security disabled, as the standard says.
    #[default]
    Done,
    /// The drive was reset half-way (the kernel's timeout): half erased, security enabled
    /// and locked, the reset signature returned.
    Reset,
    /// The transport timed out (SG_IO driver status only): half erased, enabled and locked.
    Timeout,
    /// Erased, but the drive leaves security enabled (a firmware bug some drives have).
    KeepsPassword,
}

/// What the simulated drive is and does.
#[derive(Clone, Debug, Default)]
pub struct AtaConfig {
    /// IDENTIFY word 217.
    pub rotation_rate: u16,
    pub trim: bool,
    pub security: bool,
    pub enhanced: bool,
    pub frozen: bool,
    /// Security enabled with this (owner's) password before mediasan comes.
    pub owner_password: Option<Vec<u8>>,
    /// ... and locked.
    pub locked: bool,
    pub count_expired: bool,
    /// Words 89/90 (normal, enhanced).
    pub erase_time_words: (u16, u16),
    pub erase: EraseEnd,
    /// SANITIZE feature set (crypto, block, overwrite).
    pub sanitize: bool,
    pub sanitize_frozen: bool,
    /// The last sanitize failed (with FAILURE MODE 1 when `ause`).
    pub sanitize_failed: bool,
    pub failed_with_ause: bool,
    /// Status polls a sanitize takes.
    pub polls: u32,
    /// Behind libata: answer in fixed-format sense (until a MODE SELECT sets the Control
    /// mode page's D_SENSE), and answer REQUEST SENSE with NO SENSE whatever the drive does.
    pub fixed_sense: bool,
    /// A translator that refuses MODE SELECT (so D_SENSE cannot be set).
    pub no_mode_select: bool,
    /// The first N SANITIZE STATUS EXT answers are UNIT ATTENTION.
    pub glitches: u32,
    /// Report a sanitize completed without changing the media.
    pub liar: bool,
}

#[derive(Default)]
struct State {
    password: Option<Vec<u8>>,
    enabled: bool,
    locked: bool,
    /// Running sanitize: (feature, pattern, polls left).
    running: Option<(u16, u32, u32)>,
    progress: u16,
    completed: bool,
    failed: bool,
    glitches: u32,
}

/// The simulated drive.
pub struct SimAta {
    /// Its media, shared with whoever reads the evidence.
    pub media: std::sync::Arc<MemDevice>,
    cfg: AtaConfig,
    state: Mutex<State>,
    /// Every ATA command: (command, features, timeout in ms).
    pub sent: Mutex<Vec<(u8, u16, u32)>>,
    /// The kernel's D_SENSE (descriptor-format sense), as a MODE SELECT left it.
    d_sense: std::sync::atomic::AtomicBool,
}

fn word(d: &mut [u8], i: usize, v: u16) {
    d[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
}

impl SimAta {
    /// A drive of `size` bytes holding pseudorandom "user data".
    pub fn new(size: usize, cfg: AtaConfig) -> SimAta {
        let media = MemDevice::new(size, 512, 0);
        let mut data = vec![0u8; size];
        rand_chacha::ChaCha8Rng::from_seed([42; 32]).fill_bytes(&mut data);
        media.poke(0, &data);
        let state = State {
            password: cfg.owner_password.clone(),
            enabled: cfg.owner_password.is_some(),
            locked: cfg.locked,
            failed: cfg.sanitize_failed,
            glitches: cfg.glitches,
            ..State::default()
        };
        SimAta {
            media: std::sync::Arc::new(media),
            cfg,
            state: Mutex::new(state),
            sent: Mutex::new(vec![]),
            d_sense: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The command bytes received, in order.
    pub fn commands(&self) -> Vec<u8> {
        self.sent
            .lock()
            .map(|s| s.iter().map(|c| c.0).collect())
            .unwrap_or_default()
    }

    /// Whether the kernel's descriptor-format sense is on now.
    pub fn d_sense(&self) -> bool {
        self.d_sense.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// MODE SENSE(10) / MODE SELECT(10) of the Control mode page, as libata answers them: only
    /// D_SENSE can change.
    fn mode(&self, cdb: &[u8], data: &mut [u8]) -> (u8, Vec<u8>) {
        let illegal = (2, vec![0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0]);
        let page = |d_sense: bool| {
            vec![
                0x0A,
                0x0A,
                if d_sense { 0x06 } else { 0x02 },
                0,
                0,
                0,
                0,
                0,
                0xFF,
                0xFF,
                0,
                0x1E,
            ]
        };
        match cdb[0] {
            0x5A if cdb[2] & 0x3F == 0x0A => {
                let mut answer = vec![0, 18, 0, 0, 0, 0, 0, 0];
                answer.extend(page(self.d_sense()));
                data.fill(0);
                let n = answer.len().min(data.len());
                data[..n].copy_from_slice(&answer[..n]);
                (0, vec![])
            }
            0x55 if !self.cfg.no_mode_select => {
                let got = data.get(8..20).map(<[u8]>::to_vec);
                let on = page(true);
                let off = page(false);
                match got {
                    Some(p) if p == on => self
                        .d_sense
                        .store(true, std::sync::atomic::Ordering::Relaxed),
                    Some(p) if p == off => self
                        .d_sense
                        .store(false, std::sync::atomic::Ordering::Relaxed),
                    _ => return illegal,
                }
                (0, vec![])
            }
            _ => (2, vec![0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0]),
        }
    }

    /// Whether security is enabled / locked now.
    pub fn security(&self) -> (bool, bool) {
        self.state
            .lock()
            .map(|s| (s.enabled, s.locked))
            .unwrap_or((true, true))
    }

    fn erase_media(&self, fraction: f64, fill: Option<u8>) {
        if self.cfg.liar {
            return;
        }
        let n = (self.media.size() as f64 * fraction) as usize;
        let mut v = vec![fill.unwrap_or(0); n];
        if fill.is_none() {
            rand_chacha::ChaCha8Rng::from_seed([7; 32]).fill_bytes(&mut v);
        }
        self.media.poke(0, &v);
    }

    /// Sense data carrying the registers, descriptor or fixed format.
    #[allow(clippy::too_many_arguments)]
    fn sense(
        &self,
        key: u8,
        asc: u8,
        ascq: u8,
        error: u8,
        status: u8,
        count: u16,
        lba: u64,
    ) -> Vec<u8> {
        let l = lba.to_le_bytes();
        if self.cfg.fixed_sense && !self.d_sense() {
            let mut flags = 0x80; // EXTEND
            if count >> 8 != 0 {
                flags |= 0x40;
            }
            if lba >> 24 != 0 {
                flags |= 0x20;
            }
            vec![
                0x70,
                0,
                key,
                error,
                status,
                0x40,
                count as u8,
                10,
                flags,
                l[0],
                l[1],
                l[2],
                asc,
                ascq,
                0,
                0,
                0,
                0,
            ]
        } else {
            let [ch, cl] = count.to_be_bytes();
            vec![
                0x72, key, asc, ascq, 0, 0, 0, 14, 0x09, 0x0c, 0x01, error, ch, cl, l[3], l[0],
                l[4], l[1], l[5], l[2], 0x40, status,
            ]
        }
    }

    fn ok(&self, ck_cond: bool, count: u16, lba: u64) -> (u8, Vec<u8>) {
        if ck_cond {
            (2, self.sense(1, 0, 0x1D, 0, 0x50, count, lba))
        } else {
            (0, vec![])
        }
    }

    fn abort(&self, lba: u64) -> (u8, Vec<u8>) {
        (2, self.sense(0x0B, 0, 0, 0x04, 0x51, 0, lba))
    }

    fn identify(&self, st: &State, data: &mut [u8]) {
        data.fill(0);
        let sectors = self.media.size() / 512;
        word(data, 83, 1 << 10 | 0x4000);
        for i in 0..4 {
            word(data, 100 + i, (sectors >> (16 * i)) as u16);
        }
        let model = b"mediasan simulated ATA drive            ";
        for (i, pair) in model.chunks(2).enumerate() {
            data[54 + 2 * i] = pair[1];
            data[54 + 2 * i + 1] = pair[0];
        }
        let serial = b"SIMATA00000000000001";
        for (i, pair) in serial.chunks(2).enumerate() {
            data[20 + 2 * i] = pair[1];
            data[20 + 2 * i + 1] = pair[0];
        }
        if self.cfg.sanitize {
            word(data, 59, 1 << 12 | 1 << 13 | 1 << 14 | 1 << 15);
        }
        if self.cfg.trim {
            word(data, 169, 1);
            word(data, 69, 1 << 5);
        }
        word(data, 89, self.cfg.erase_time_words.0);
        word(data, 90, self.cfg.erase_time_words.1);
        let mut w128 = 0u16;
        if self.cfg.security {
            w128 |= 1;
        }
        if st.enabled {
            w128 |= 1 << 1;
        }
        if st.locked {
            w128 |= 1 << 2;
        }
        if self.cfg.frozen {
            w128 |= 1 << 3;
        }
        if self.cfg.count_expired {
            w128 |= 1 << 4;
        }
        if self.cfg.enhanced {
            w128 |= 1 << 5;
        }
        word(data, 128, w128);
        word(data, 217, self.cfg.rotation_rate);
    }

    fn password_of(data: &[u8]) -> Vec<u8> {
        let mut p = data.get(2..34).unwrap_or(&[]).to_vec();
        while p.last() == Some(&0) {
            p.pop();
        }
        p
    }

    fn sanitize(
        &self,
        st: &mut State,
        features: u16,
        count: u16,
        lba: u64,
        ck: bool,
    ) -> (u8, Vec<u8>) {
        match features {
            0x0000 => {
                if st.glitches > 0 {
                    st.glitches -= 1;
                    return (2, self.sense(6, 0x29, 0x00, 0, 0, 0, 0));
                }
                if count & 1 == 1 {
                    // CLEAR SANITIZE OPERATION FAILED.
                    if st.failed && self.cfg.failed_with_ause {
                        st.failed = false;
                        return self.ok(ck, 0, 0);
                    }
                    return self.abort(0x01);
                }
                if st.failed {
                    return (2, self.sense(0x0B, 0, 0, 0x04, 0x51, 0, 0x01));
                }
                if let Some((f, pattern, left)) = st.running {
                    if left <= 1 {
                        st.running = None;
                        st.completed = true;
                        match f {
                            0x0011 => self.erase_media(1.0, None),
                            0x0012 => self.erase_media(1.0, Some(0)),
                            _ => {
                                if !self.cfg.liar {
                                    let v: Vec<u8> = pattern
                                        .to_le_bytes()
                                        .iter()
                                        .copied()
                                        .cycle()
                                        .take(self.media.size() as usize)
                                        .collect();
                                    self.media.poke(0, &v);
                                }
                            }
                        }
                    } else {
                        st.running = Some((f, pattern, left - 1));
                        st.progress = st
                            .progress
                            .saturating_add((65536 / self.cfg.polls.max(1)) as u16);
                        return self.ok(true, 0x4000, u64::from(st.progress));
                    }
                }
                let mut c = 0;
                if st.completed {
                    c |= 0x8000;
                }
                if self.cfg.sanitize_frozen {
                    c |= 0x2000;
                }
                self.ok(true, c, 0)
            }
            0x0011 | 0x0012 | 0x0014 => {
                if !self.cfg.sanitize || self.cfg.sanitize_frozen {
                    return self.abort(0x03);
                }
                if st.locked {
                    return self.abort(0);
                }
                st.failed = false;
                st.completed = false;
                st.progress = 0;
                st.running = Some((features, (lba & 0xFFFF_FFFF) as u32, self.cfg.polls.max(1)));
                self.ok(ck, 0, 0)
            }
            _ => self.abort(0x02),
        }
    }
}

impl Passthrough for SimAta {
    fn nvme(&self, _: &AdminCmd, _: &mut [u8]) -> io::Result<(u16, u32)> {
        Err(io::Error::other(
            "the simulated ATA drive takes no NVMe commands",
        ))
    }

    fn scsi(
        &self,
        cdb: &[u8],
        _dir: DataDir,
        data: &mut [u8],
        timeout_ms: u32,
    ) -> io::Result<(u8, Vec<u8>)> {
        if matches!(cdb.first(), Some(0x5A | 0x55)) {
            return Ok(self.mode(cdb, data));
        }
        if cdb.first() == Some(&0x03) {
            // REQUEST SENSE through SAT: a running sanitize is NOT READY 04h/1Bh; libata
            // answers NO SENSE whatever the drive is doing.
            let st = self
                .state
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?;
            data.fill(0);
            data[0] = 0x70;
            data[7] = 10;
            if st.running.is_some() && !self.cfg.fixed_sense {
                data[2] = 2;
                data[12] = 0x04;
                data[13] = 0x1B;
                data[15] = 0x80;
                data[16..18].copy_from_slice(&st.progress.to_be_bytes());
            }
            return Ok((0, vec![]));
        }
        if cdb.len() != 16 || cdb[0] != 0x85 {
            return Ok((2, vec![0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0]));
        }
        let command = cdb[14];
        let features = u16::from_be_bytes([cdb[3], cdb[4]]);
        let count = u16::from_be_bytes([cdb[5], cdb[6]]);
        let lba = u64::from_le_bytes([cdb[8], cdb[10], cdb[12], cdb[7], cdb[9], cdb[11], 0, 0]);
        let ck = cdb[2] & 0x20 != 0;
        if let Ok(mut s) = self.sent.lock() {
            s.push((command, features, timeout_ms));
        }
        let mut st = self
            .state
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?;
        let sec = |st: &State| {
            self.cfg.security && !self.cfg.frozen && !self.cfg.count_expired && !st.locked
        };
        Ok(match command {
            0xEC => {
                self.identify(&st, data);
                self.ok(ck, 0, 0)
            }
            0xF1 if sec(&st) => {
                st.password = Some(SimAta::password_of(data));
                st.enabled = true;
                self.ok(ck, 0, 0)
            }
            0xF2 if self.cfg.security && !self.cfg.count_expired => {
                if st.password.as_deref() == Some(&SimAta::password_of(data)[..]) {
                    st.locked = false;
                    self.ok(ck, 0, 0)
                } else {
                    self.abort(0)
                }
            }
            0xF3 if self.cfg.security && !self.cfg.frozen && st.enabled => self.ok(ck, 0, 0),
            0xF4 if self.cfg.security && st.enabled && !self.cfg.frozen => {
                if st.password.as_deref() != Some(&SimAta::password_of(data)[..]) {
                    return Ok(self.abort(0));
                }
                match self.cfg.erase {
                    EraseEnd::Done => {
                        self.erase_media(1.0, Some(0));
                        st.enabled = false;
                        st.password = None;
                        self.ok(ck, 0, 0)
                    }
                    EraseEnd::KeepsPassword => {
                        self.erase_media(1.0, Some(0));
                        self.ok(ck, 0, 0)
                    }
                    EraseEnd::Reset => {
                        self.erase_media(0.5, Some(0));
                        st.locked = true;
                        (2, self.sense(1, 0, 0x1D, 0x01, 0x50, 1, 1))
                    }
                    EraseEnd::Timeout => {
                        self.erase_media(0.5, Some(0));
                        st.locked = true;
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the command timed out (SG_IO driver status 0x06)",
                        ));
                    }
                }
            }
            0xF6 if self.cfg.security && !st.locked => {
                if st.password.as_deref() == Some(&SimAta::password_of(data)[..]) {
                    st.enabled = false;
                    st.password = None;
                    self.ok(ck, 0, 0)
                } else {
                    self.abort(0)
                }
            }
            0xB4 => self.sanitize(&mut st, features, count, lba, ck),
            _ => self.abort(0),
        })
    }
}
