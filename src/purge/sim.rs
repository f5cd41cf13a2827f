//! A simulated NVMe drive behind [`Passthrough`], for tests: it answers Identify Controller,
//! runs a Sanitize over a few status polls and then applies its effect to its media (a
//! `MemDevice` that the verification reads) — or, as a "liar", reports success and changes
//! nothing, so the tests can show that verification catches it. A successful sanitize cannot
//! be run on this machine's hardware; this is where that path is exercised.

use std::io;
use std::sync::Mutex;

use rand::{RngCore, SeedableRng};

use crate::device::mem::MemDevice;
use crate::device::nvme::AdminCmd;
use crate::device::passthrough::{DataDir, Passthrough};
use crate::device::tcg::SedOpal;

/// The simulated Opal drive's PSID (as printed on a label: 32 characters).
pub const SIM_PSID: &str = "SIMULATEDPSID0123456789ABCDEFGHJ";
/// The simulated Opal drive's SID password (its owner's).
pub const SIM_SID: &str = "sim-owner-sid";
use crate::device::BlockIo;

/// What the simulated controller supports and how it behaves.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimConfig {
    pub crypto: bool,
    pub block: bool,
    pub overwrite: bool,
    pub format: bool,
    /// Status polls a sanitize takes.
    pub polls: u32,
    /// Report success without touching the media.
    pub liar: bool,
    /// Start in sanitize failure mode (the last sanitize failed).
    pub failed: bool,
    /// The namespace's current LBA format (feature `lbafN`); Format NVM with another fails.
    pub lba_format: u8,
    /// A dual-ported subsystem (CMIC bits 0 and 1) with a shared namespace (NMIC bit 0):
    /// feature `shared`.
    pub shared: bool,
    /// The media holds zeros, as a new or already wiped drive does: feature `zeros`.
    pub zeros: bool,
    /// Deallocated blocks read as zeros (DLFEAT 001b), and a sanitize deallocates unless
    /// No-Deallocate is set: feature `dealloc`.
    pub dealloc: bool,
    /// No-Deallocate Inhibited (SANICAP bit 29): feature `ndi`.
    pub ndi: bool,
    /// The status log cannot be read: feature `nolog`.
    pub no_log: bool,
    /// A worn drive: its health log shows 7 media errors and "reliability degraded": `worn`.
    pub worn: bool,
    /// The drive starts the sanitize, but the ioctl that sent it returns a transport error
    /// (EINTR, as a signal or a controller reset leaves it): feature `lost`.
    pub lost: bool,
    /// A previous owner's crypto erase is already in the Persistent Event Log: `history`.
    pub history: bool,
    /// The Sanitize Status log cannot be read the first 3 times after a sanitize starts (a
    /// controller busy, a path that flaps), then can: feature `flaky`.
    pub flaky: bool,
    /// A self-encrypting drive: TCG Level 0 Discovery through Security Receive reports Opal 2
    /// with locking supported (`opal`), and enabled and locked (`opal-locked`).
    pub opal: Option<bool>,
    /// An owned Opal drive: locking enabled, no range locked (`opal-owned`).
    pub opal_owned: bool,
    /// The drive answers a Revert with FAIL (TCG status 3Fh) and changes nothing
    /// (`opal-refuses`).
    pub opal_refuses: bool,
    /// A host-managed zoned device (`zoned`): the kernel's identity says so, and its media
    /// takes writes in a sequential zone only at the zone's write pointer; a sanitize empties
    /// every sequential zone.
    pub zoned: bool,
    /// A TCG Enterprise SSC drive (`enterprise`; `enterprise-locked`: a band locked), two
    /// bands (Band0 the lower half, Band1 the upper), EraseMaster password
    /// [`super::sim_tcg::SIM_ERASE_MASTER`].
    pub enterprise: Option<bool>,
    /// Its Erase answers FAIL (3Fh) and changes nothing (`enterprise-refuses`).
    pub enterprise_refuses: bool,
    /// Nobody took ownership: the EraseMaster password is the MSID (`enterprise-unowned`).
    pub enterprise_unowned: bool,
}

impl SimConfig {
    /// The FEATURES of `--simulate nvme:SIZE:FEATURES`: comma-separated names among crypto,
    /// block, overwrite, format, liar, failed and slow.
    ///
    /// # Errors
    /// An unknown name (a typo would otherwise simulate a drive without that feature).
    pub fn from_features(features: &str) -> Result<SimConfig, String> {
        let mut c = SimConfig {
            polls: 3,
            ..SimConfig::default()
        };
        for f in features.split(',').filter(|f| !f.is_empty()) {
            match f {
                "crypto" => c.crypto = true,
                "block" => c.block = true,
                "overwrite" => c.overwrite = true,
                "format" => c.format = true,
                "liar" => c.liar = true,
                "failed" => c.failed = true,
                "slow" => c.polls = 100_000,
                "shared" => c.shared = true,
                "zeros" => c.zeros = true,
                "dealloc" => c.dealloc = true,
                "ndi" => c.ndi = true,
                "nolog" => c.no_log = true,
                "worn" => c.worn = true,
                "lost" => c.lost = true,
                "history" => c.history = true,
                "flaky" => c.flaky = true,
                "opal" => c.opal = Some(false),
                "opal-locked" => c.opal = Some(true),
                "opal-owned" => {
                    c.opal = Some(false);
                    c.opal_owned = true;
                }
                "opal-refuses" => {
                    c.opal = Some(false);
                    c.opal_refuses = true;
                }
                "zoned" => c.zoned = true,
                "enterprise" => c.enterprise = Some(false),
                "enterprise-locked" => c.enterprise = Some(true),
                "enterprise-refuses" => {
                    c.enterprise = Some(false);
                    c.enterprise_refuses = true;
                }
                "enterprise-unowned" => {
                    c.enterprise = Some(false);
                    c.enterprise_unowned = true;
                }
                f if f.starts_with("lbaf") && f[4..].parse::<u8>().is_ok_and(|n| n < 64) => {
                    c.lba_format = f[4..].parse().unwrap_or(0);
                }
                other => {
                    return Err(format!(
                        "unknown feature '{other}'; expected crypto, block, overwrite, format, \
                         liar, failed, slow, shared, zeros, dealloc, ndi, nolog, worn, lost, history, flaky, opal, opal-locked, \
                         opal-owned, opal-refuses, enterprise, enterprise-locked, enterprise-refuses, enterprise-unowned, \
                         zoned or lbafN (N < 64)"
                    ))
                }
            }
        }
        Ok(c)
    }
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct State {
    /// (CDW10, pattern, polls left)
    running: Option<(u32, u32, u32)>,
    /// The CDW10 of the last sanitize (the log's SCDW10).
    last_cdw10: u32,
    /// SSTAT low bits: 0 never, 1 done, 2 running, 3 failed.
    status: u8,
    progress: u16,
    /// The Persistent Event Log's sanitize events, oldest first: (type, body, timestamp ms).
    #[serde(default)]
    pel: Vec<(u8, Vec<u8>, u64)>,
    /// Status log reads still to fail (feature `flaky`).
    #[serde(default)]
    flaps: u32,
    /// A TCG Revert succeeded: the Locking SP is back to its factory state.
    #[serde(default)]
    reverted: bool,
    /// The simulated TCG Enterprise TPer (feature `enterprise`).
    #[serde(default)]
    tper: super::sim_tcg::Tper,
}

impl State {
    /// Logs a Sanitize Start (09h) or Completion (0Ah) event, each later than the last.
    fn log(&mut self, etype: u8, body: Vec<u8>) {
        let ts = self.pel.last().map_or(1000, |e| e.2 + 1000);
        self.pel.push((etype, body, ts));
    }

    fn log_start(&mut self, cdw10: u32) {
        let mut start = vec![0u8; 12];
        start[4..8].copy_from_slice(&cdw10.to_le_bytes());
        self.log(0x09, start);
    }

    fn log_completion(&mut self, sstat: u16) {
        let mut done = vec![0u8; 8];
        done[0..2].copy_from_slice(&0xFFFFu16.to_le_bytes());
        done[2..4].copy_from_slice(&sstat.to_le_bytes());
        self.log(0x0A, done);
    }
}

fn sim_keep(path: &std::path::Path, st: &State) -> io::Result<()> {
    std::fs::write(path, serde_json::to_vec(st).map_err(io::Error::other)?)
}

/// The simulated drive.
pub struct SimNvme {
    /// Its media, shared with whoever reads the evidence.
    pub media: std::sync::Arc<MemDevice>,
    cfg: SimConfig,
    state: Mutex<State>,
    /// Every admin command received, as its 72 bytes.
    pub commands: Mutex<Vec<[u8; 72]>>,
    /// Where the controller's state is kept between runs (`--simulate nvme:SIZE:FEATURES:PATH`:
    /// a drive that outlives the process, as a real one does; its media is in `PATH.media`).
    state_file: Option<std::path::PathBuf>,
}

impl SimNvme {
    /// The drive a `--simulate nvme:SIZE:FEATURES` spec describes.
    ///
    /// # Errors
    /// A message naming what is wrong with the spec.
    pub fn from_spec(spec: &str) -> Result<SimNvme, String> {
        let mut parts = spec.splitn(4, ':');
        let (kind, size, features) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
        let size = size
            .and_then(|s| crate::units::parse_size(s).ok())
            .filter(|_| kind == Some("nvme"))
            .ok_or_else(|| {
                format!("--simulate {spec}: expected nvme:SIZE:FEATURES[:STATE-FILE]")
            })?;
        let cfg =
            SimConfig::from_features(features).map_err(|e| format!("--simulate {spec}: {e}"))?;
        let size = usize::try_from(size).unwrap_or(1 << 20);
        match parts.next() {
            None => Ok(SimNvme::new(size, cfg)),
            Some(_) if cfg.zoned => Err(format!(
                "--simulate {spec}: a zoned drive is simulated only within one run (no STATE-FILE)"
            )),
            Some(path) => SimNvme::kept(std::path::Path::new(path), size, cfg)
                .map_err(|e| format!("--simulate {spec}: {e}")),
        }
    }

    /// A host-managed zoned device, as the kernel would say (feature `zoned`).
    pub fn zoned(&self) -> bool {
        self.cfg.zoned
    }

    /// A drive of `size` bytes holding pseudorandom "user data". Zoned (feature `zoned`): 16
    /// zones, the first 2 conventional; of the sequential ones (written only at their write
    /// pointer) every third is full, the next written halfway, the next empty.
    pub fn new(size: usize, cfg: SimConfig) -> SimNvme {
        let media = if cfg.zoned {
            let zone = (size as u64 / 16).max(4096) / 4096 * 4096;
            let mut media = MemDevice::zoned(size, 512, zone, 2, 0);
            media.poke(0, &SimNvme::user_data(size, cfg));
            for i in 2..(size as u64).div_ceil(zone) as usize {
                let start = i as u64 * zone;
                media = media.with_write_pointer(
                    i,
                    match (i - 2) % 3 {
                        0 => start + zone,
                        1 => start + zone / 2,
                        _ => start,
                    },
                );
            }
            media
        } else {
            let media = MemDevice::new(size, 512, 0);
            media.poke(0, &SimNvme::user_data(size, cfg));
            media
        };
        SimNvme::with(media, SimNvme::fresh(cfg), cfg, None)
    }

    /// A sanitize empties every zone with a write pointer (ZNS, ZBC, ZAC): each sequential
    /// zone is reset and reads zeros.
    fn empty_zones(&self) {
        let Some(zones) = self.media.zones() else {
            return;
        };
        for z in zones.zones.iter().filter(|z| z.sequential()) {
            let _ = self.media.reset_zones(z.start, z.len);
        }
    }

    /// The drive kept at `path` (its state) and `path.media` (its media), as the last run
    /// left it, or a new one.
    ///
    /// # Errors
    /// The files cannot be read or written.
    pub fn kept(path: &std::path::Path, size: usize, cfg: SimConfig) -> std::io::Result<SimNvme> {
        let media = MemDevice::in_file(&path.with_extension("media"), size, 512, |d| {
            d.copy_from_slice(&SimNvme::user_data(size, cfg));
        })?;
        let state = match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(io::Error::other)?,
            Err(_) => SimNvme::fresh(cfg),
        };
        sim_keep(path, &state)?;
        Ok(SimNvme::with(media, state, cfg, Some(path.to_path_buf())))
    }

    fn user_data(size: usize, cfg: SimConfig) -> Vec<u8> {
        let mut data = vec![0u8; size];
        if !cfg.zeros {
            rand_chacha::ChaCha8Rng::from_seed([42; 32]).fill_bytes(&mut data);
        }
        data
    }

    fn fresh(cfg: SimConfig) -> State {
        let mut st = State {
            status: if cfg.failed { 3 } else { 0 },
            ..State::default()
        };
        if cfg.history {
            st.log_start(4);
            st.log_completion(1);
        }
        st
    }

    fn with(
        media: MemDevice,
        state: State,
        cfg: SimConfig,
        file: Option<std::path::PathBuf>,
    ) -> SimNvme {
        SimNvme {
            media: std::sync::Arc::new(media),
            cfg,
            state: Mutex::new(state),
            commands: Mutex::new(vec![]),
            state_file: file,
        }
    }

    /// Writes the controller's state where a later run finds it.
    fn keep(&self, st: &State) -> io::Result<()> {
        match &self.state_file {
            Some(p) => sim_keep(p, st),
            None => Ok(()),
        }
    }

    /// A new key for band `n` of the simulated Enterprise drive: its half of the media reads
    /// as other data (Band0 the lower half, Band1 the upper).
    fn erase_band(&self, n: u16) {
        let size = self.media.size() as usize;
        let (at, len) = if n == 0 {
            (0, size / 2)
        } else {
            (size / 2, size - size / 2)
        };
        let mut v = vec![0u8; len];
        rand_chacha::ChaCha8Rng::from_seed([11 + n as u8; 32]).fill_bytes(&mut v);
        self.media.poke(at, &v);
    }

    fn apply(&self, cdw10: u32, pattern: u32) {
        let size = self.media.size() as usize;
        let action = cdw10 & 7;
        // Deallocated afterwards unless No-Deallocate (NDAS, bit 9) was set and allowed.
        let ndas = cdw10 & (1 << 9) != 0 && !self.cfg.ndi;
        if self.cfg.dealloc && !ndas && action != 0 {
            self.media.poke(0, &vec![0u8; size]);
            return;
        }
        let new: Vec<u8> = match action {
            2 => vec![0u8; size],
            3 => pattern
                .to_le_bytes()
                .iter()
                .copied()
                .cycle()
                .take(size)
                .collect(),
            _ => {
                let mut v = vec![0u8; size];
                rand_chacha::ChaCha8Rng::from_seed([7; 32]).fill_bytes(&mut v);
                v
            }
        };
        self.media.poke(0, &new);
    }
}

impl Passthrough for SimNvme {
    fn nvme(&self, cmd: &AdminCmd, data: &mut [u8]) -> io::Result<(u16, u32)> {
        if let Ok(mut c) = self.commands.lock() {
            c.push(cmd.to_bytes());
        }
        let mut st = self
            .state
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?;
        let answer = self.answer(&mut st, cmd, data);
        self.keep(&st)?;
        answer
    }

    fn scsi(
        &self,
        _cdb: &[u8],
        _dir: DataDir,
        _data: &mut [u8],
        _timeout_ms: u32,
    ) -> io::Result<(u8, Vec<u8>)> {
        Err(io::Error::other(
            "the simulated NVMe drive takes no SCSI commands",
        ))
    }

    fn sed_opal(&self, op: SedOpal, arg: &mut [u8]) -> io::Result<i32> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?;
        let answer = self.opal(&mut st, op, arg);
        self.keep(&st)?;
        answer
    }
}

impl SimNvme {
    /// Its Opal locking now: (enabled, a range locked).
    fn locking(&self, st: &State) -> (bool, bool) {
        let locked = self.cfg.opal == Some(true) && !st.reverted;
        (locked || (self.cfg.opal_owned && !st.reverted), locked)
    }

    /// The kernel's sed-opal in front of the simulated Opal 2 SSC: GET_STATUS, and a Revert
    /// that checks the PSID ([`SIM_PSID`]) or the SID password ([`SIM_SID`]), then replaces the
    /// media key (the media reads as other data) and resets locking.
    fn opal(&self, st: &mut State, op: SedOpal, arg: &mut [u8]) -> io::Result<i32> {
        if self.cfg.opal.is_none() {
            return Err(io::Error::from_raw_os_error(nix::libc::ENOTTY));
        }
        let (enabled, locked) = self.locking(st);
        match op {
            SedOpal::GetStatus => {
                let flags = 0x03 | u32::from(enabled) << 2 | u32::from(locked) << 3;
                arg[..4].copy_from_slice(&flags.to_ne_bytes());
                Ok(0)
            }
            SedOpal::RevertTper | SedOpal::PsidRevertTper => {
                let want = if op == SedOpal::PsidRevertTper {
                    SIM_PSID
                } else {
                    SIM_SID
                };
                let n = usize::from(arg[1]);
                if arg.get(8..8 + n) != Some(want.as_bytes()) {
                    return Ok(0x01);
                }
                if self.cfg.opal_refuses {
                    return Ok(0x3F);
                }
                st.reverted = true;
                if !self.cfg.liar {
                    self.apply(4, 0);
                }
                Ok(0)
            }
        }
    }

    /// The controller's answer to `cmd`, its state changed accordingly.
    fn answer(&self, st: &mut State, cmd: &AdminCmd, data: &mut [u8]) -> io::Result<(u16, u32)> {
        let enterprise_comid = 0x0100_0000 | u32::from(super::sim_tcg::COMID) << 8;
        match (cmd.opcode, cmd.cdw10 & 0xFF) {
            (0x82, _) if cmd.cdw10 == 0x0100_0100 && self.cfg.enterprise.is_some() => {
                let locked = self.cfg.enterprise == Some(true) && !st.tper.all_erased();
                data.fill(0);
                let mut d = vec![0u8; 48];
                d[4..8].copy_from_slice(&1u32.to_be_bytes());
                // Locking: supported, enabled, media encryption; locked if asked.
                d.extend_from_slice(&[0x00, 0x02, 0x10, 0x0C]);
                d.push(0x0B | if locked { 0x04 } else { 0 });
                d.extend_from_slice(&[0; 11]);
                // Enterprise SSC (0100h): base ComID, one ComID.
                let [h, l] = super::sim_tcg::COMID.to_be_bytes();
                d.extend_from_slice(&[0x01, 0x00, 0x10, 0x0C, h, l, 0x00, 0x01, 0x01]);
                d.extend_from_slice(&[0; 7]);
                let len = (d.len() - 4) as u32;
                d[..4].copy_from_slice(&len.to_be_bytes());
                data[..d.len()].copy_from_slice(&d);
                Ok((0, 0))
            }
            (0x81, _) if cmd.cdw10 == enterprise_comid && self.cfg.enterprise.is_some() => {
                let how = super::sim_tcg::Behaviour {
                    refuses_from: self.cfg.enterprise_refuses.then_some(0),
                    unowned: self.cfg.enterprise_unowned,
                };
                if let Some(band) = st.tper.send(data, how) {
                    if !self.cfg.liar {
                        self.erase_band(band);
                    }
                }
                Ok((0, 0))
            }
            (0x82, _) if cmd.cdw10 == enterprise_comid && self.cfg.enterprise.is_some() => {
                st.tper.recv(data);
                Ok((0, 0))
            }
            // Security Receive, protocol 01h, ComID 0001h: Level 0 Discovery.
            (0x82, _) if cmd.cdw10 == 0x0100_0100 && self.cfg.opal.is_some() => {
                let (enabled, locked) = self.locking(st);
                data.fill(0);
                let mut d = vec![0u8; 48];
                d[4..8].copy_from_slice(&1u32.to_be_bytes());
                // Locking (0002h): supported, media encryption; enabled and locked if asked.
                d.extend_from_slice(&[0x00, 0x02, 0x10, 0x0C]);
                d.push(0x09 | if enabled { 0x02 } else { 0 } | if locked { 0x04 } else { 0 });
                d.extend_from_slice(&[0; 11]);
                // Opal SSC V2 (0203h): base ComID 1001h, one ComID.
                d.extend_from_slice(&[0x02, 0x03, 0x10, 0x10, 0x10, 0x01, 0x00, 0x01]);
                d.extend_from_slice(&[0; 12]);
                let len = (d.len() - 4) as u32;
                d[..4].copy_from_slice(&len.to_be_bytes());
                data[..d.len()].copy_from_slice(&d);
                Ok((0, 0))
            }
            (0x06, 0) => {
                // Identify Namespace: FLBAS bits 3:0 and 6:5 hold the current LBA format.
                data.fill(0);
                let f = self.cfg.lba_format;
                data[26] = (f & 0x0F) | (f >> 4 & 0x03) << 5;
                data[30] = u8::from(self.cfg.shared);
                data[33] = u8::from(self.cfg.dealloc);
                Ok((0, 0))
            }
            (0x06, 2) => {
                // Active Namespace ID list: namespace 1 only.
                data.fill(0);
                data[..4].copy_from_slice(&1u32.to_le_bytes());
                Ok((0, 0))
            }
            (0x06, 1) => {
                data.fill(0);
                data[4..12].copy_from_slice(b"SIM00001");
                data[24..36].copy_from_slice(b"mediasan sim");
                data[256] = if self.cfg.format { 0b10 } else { 0 };
                data[328] = u8::from(self.cfg.crypto)
                    | u8::from(self.cfg.block) << 1
                    | u8::from(self.cfg.overwrite) << 2;
                data[331] = if self.cfg.ndi { 0x20 } else { 0 };
                data[524] = 0b100;
                data[76] = if self.cfg.shared { 0b11 } else { 0 };
                Ok((0, 0))
            }
            (0x84, _) => {
                let action = cmd.cdw10 & 0x7;
                if action == 1 {
                    // Exit failure mode: back to "never sanitized / completed" state.
                    if st.status == 3 {
                        st.status = 0;
                    }
                    return Ok((0, 0));
                }
                let supported = match action {
                    2 => self.cfg.block,
                    3 => self.cfg.overwrite,
                    4 => self.cfg.crypto,
                    _ => false,
                };
                if !supported {
                    return Ok((0x0002, 0)); // Invalid Field in Command
                }
                if st.running.is_some() {
                    return Ok((0x001D, 0)); // Sanitize In Progress
                }
                st.running = Some((cmd.cdw10, cmd.cdw11, self.cfg.polls.max(1)));
                st.last_cdw10 = cmd.cdw10;
                st.status = 2;
                st.progress = 0;
                st.log_start(cmd.cdw10);
                if self.cfg.flaky {
                    st.flaps = 3;
                }
                if self.cfg.lost {
                    return Err(io::Error::from_raw_os_error(nix::libc::EINTR));
                }
                Ok((0, 0))
            }
            (0x80, _) => {
                if !self.cfg.format {
                    return Ok((0x0001, 0));
                }
                let lbaf = (cmd.cdw10 & 0x0F) as u8 | ((cmd.cdw10 >> 12 & 0x03) as u8) << 4;
                if lbaf != self.cfg.lba_format {
                    return Ok((0x010A, 0)); // Invalid Format: this drive has no other
                }
                if !self.cfg.liar {
                    self.apply(if (cmd.cdw10 >> 9) & 7 == 2 { 4 } else { 2 }, 0);
                }
                Ok((0, 0))
            }
            (0x02, 0x0D) => {
                // Persistent Event Log: every sanitize event, oldest first.
                data.fill(0);
                let mut events = Vec::new();
                for (etype, body, ts) in &st.pel {
                    let mut e = vec![*etype, 0, 21, 0, 0, 0];
                    e.extend_from_slice(&ts.to_le_bytes());
                    e.extend_from_slice(&[0; 6]);
                    e.extend_from_slice(&0u16.to_le_bytes());
                    e.extend_from_slice(&(body.len() as u16).to_le_bytes());
                    e.extend_from_slice(body);
                    events.extend(e);
                }
                let mut log = vec![0u8; 512];
                log[0] = 0x0D;
                log[4..8].copy_from_slice(&(st.pel.len() as u32).to_le_bytes());
                log[8..16].copy_from_slice(&((512 + events.len()) as u64).to_le_bytes());
                log.extend(events);
                let n = data.len().min(log.len());
                data[..n].copy_from_slice(&log[..n]);
                Ok((0, 0))
            }
            (0x02, 0x01) => {
                // Error Information: one entry, error count 1, status "Unrecovered Read Error".
                data.fill(0);
                data[0] = 1;
                data[12..14].copy_from_slice(&(0x0281u16 << 1).to_le_bytes());
                Ok((0, 0))
            }
            (0x02, 0x02) => {
                // SMART / Health Information: a healthy drive, 3 % used, 42 power-on hours.
                data.fill(0);
                data[1..3].copy_from_slice(&308u16.to_le_bytes());
                data[3] = 100;
                data[4] = 10;
                data[5] = 3;
                data[128] = 42;
                if self.cfg.worn {
                    data[0] = 0b100;
                    data[160] = 7;
                }
                Ok((0, 0))
            }
            (0x02, 0x81) => {
                if self.cfg.no_log {
                    return Ok((0x0009, 0)); // Invalid Log Page
                }
                if st.flaps > 0 {
                    st.flaps -= 1;
                    return Ok((0x0006, 0)); // Internal Error: this time
                }
                if let Some((cdw10, pattern, left)) = st.running {
                    if left <= 1 {
                        if !self.cfg.liar {
                            self.apply(cdw10, pattern);
                            self.empty_zones();
                        }
                        st.running = None;
                        st.status = 1;
                        st.progress = 0xFFFF;
                        st.log_completion(1);
                    } else {
                        st.running = Some((cdw10, pattern, left - 1));
                        st.progress = st
                            .progress
                            .saturating_add((65536 / self.cfg.polls.max(1)) as u16);
                    }
                }
                data.fill(0);
                data[0..2].copy_from_slice(&st.progress.to_le_bytes());
                let passes = if st.last_cdw10 & 7 == 3 && st.status == 1 {
                    match (st.last_cdw10 >> 4) & 0xF {
                        0 => 16,
                        n => n as u16,
                    }
                } else {
                    0
                };
                data[2..4].copy_from_slice(&(u16::from(st.status) | passes << 3).to_le_bytes());
                data[4..8].copy_from_slice(&st.last_cdw10.to_le_bytes());
                // Estimates: ETO, ETBE, ETCE, then the same with No-Deallocate (ETOND, ETBEND,
                // ETCEND), which a drive that rewrites its media instead of deallocating makes long.
                for (at, secs) in [
                    (8, 3600u32),
                    (12, 120),
                    (16, 10),
                    (20, 3700),
                    (24, 3600),
                    (28, 3600),
                ] {
                    data[at..at + 4].copy_from_slice(&secs.to_le_bytes());
                }
                // Sanitize State Information: restricted failure when failed.
                data[36] = if st.status == 3 { 2 } else { 0 };
                Ok((0, 0))
            }
            _ => Ok((0x0001, 0)), // Invalid Command Opcode
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::engine::{self, AfterRule, Bus, Evidence, Options, State};
    use super::super::method::{self, Method};
    use super::*;
    use crate::verify;

    fn run_to_end(d: &SimNvme, expect: &engine::Expect) -> State {
        for _ in 0..100 {
            match engine::poll(d, Bus::Nvme, expect) {
                State::Running(_) => continue,
                s => return s,
            }
        }
        State::Failed("never finished".into())
    }

    fn canaries(d: &SimNvme) -> Evidence {
        Evidence::canaries(&d.media, samples(d), &[3; 32]).unwrap()
    }

    fn samples(d: &SimNvme) -> Vec<verify::Extent> {
        let s = verify::sample_plan(d.media.size(), 512, 5, &[9; 32]);
        (0..s.extents.len()).map(|i| s.extents.get(i)).collect()
    }

    #[test]
    fn format_keeps_the_lba_format_and_dry_run_shows_the_bytes_sent() {
        let d = SimNvme::new(1 << 20, SimConfig::from_features("format,lbaf17").unwrap());
        let m = Method::NvmeFormatUserData;
        let wrong = Options::default(); // LBA format 0
        let e = engine::start(&d, m, &wrong).unwrap_err().to_string();
        assert!(e.contains("uses LBA format 17, not 0"), "{e}");
        assert!(
            d.commands.lock().unwrap().iter().all(|c| c[0] != 0x80),
            "nothing sent"
        );
        let o = Options {
            format: engine::namespace(&d, 1).unwrap().format,
            ..Options::default()
        };
        assert_eq!(o.format.lbaf, 17);
        engine::start(&d, m, &o).unwrap();
        let sent = d
            .commands
            .lock()
            .unwrap()
            .iter()
            .find(|c| c[0] == 0x80)
            .copied()
            .unwrap();
        assert_eq!(engine::start_bytes(m, &o)[0].bytes, sent.to_vec());
        assert!(d.media.contents().iter().all(|&b| b == 0), "formatted");
    }

    #[test]
    fn simulate_features_parse_and_typos_are_refused() {
        let c = SimConfig::from_features("crypto,failed,slow").unwrap();
        assert!(c.crypto && c.failed && !c.block && !c.liar);
        assert_eq!(c.polls, 100_000);
        assert_eq!(SimConfig::from_features("").unwrap().polls, 3);
        let e = SimConfig::from_features("crypto,bogus").unwrap_err();
        assert!(e.contains("'bogus'"), "{e}");
        assert_eq!(SimConfig::from_features("lbaf63").unwrap().lba_format, 63);
        assert!(SimConfig::from_features("lbaf64").is_err());
    }

    #[test]
    fn nist_purge_picks_crypto_erase_and_it_is_proven_by_before_after_samples() {
        let d = SimNvme::new(
            4 << 20,
            SimConfig {
                crypto: true,
                block: true,
                polls: 4,
                ..SimConfig::default()
            },
        );
        let caps = engine::probe(&d, Bus::Nvme, None).unwrap();
        assert_eq!(caps.model, "mediasan sim");
        assert!(caps.blockers.is_empty() && caps.failure.is_none());
        let m = method::strongest(&caps.supported, caps.medium).unwrap();
        assert_eq!(m, Method::NvmeSanitizeCrypto);
        let ev = canaries(&d);
        let expect = engine::Expect::of(m, &Options::default());
        engine::start(&d, m, &Options::default()).unwrap();
        assert!(matches!(engine::poll(&d, Bus::Nvme, &expect), State::Running(p) if p > 0.0));
        assert!(matches!(run_to_end(&d, &expect), State::Completed(_)));
        let f = ev.after(&d.media, &AfterRule::default(), &|_| Err(String::new()));
        assert!(
            f.problems.is_empty() && f.conclusive == ev.extents.len() as u64,
            "{f:?}"
        );
        // The command the drive received is the one --dry-run prints.
        let sent = d
            .commands
            .lock()
            .unwrap()
            .iter()
            .find(|c| c[0] == 0x84)
            .copied()
            .unwrap();
        assert_eq!(
            engine::start_bytes(m, &Options::default())[0].bytes,
            sent.to_vec()
        );
    }

    #[test]
    fn overwrite_is_checked_against_its_pattern() {
        let d = SimNvme::new(
            1 << 20,
            SimConfig {
                overwrite: true,
                polls: 2,
                ..SimConfig::default()
            },
        );
        let o = Options {
            pattern: 0xA5C3_0F01,
            passes: 1,
            ..Options::default()
        };
        let ev = canaries(&d);
        let expect = engine::Expect::of(Method::NvmeSanitizeOverwrite, &o);
        engine::start(&d, Method::NvmeSanitizeOverwrite, &o).unwrap();
        assert!(
            matches!(run_to_end(&d, &expect), State::Completed(w) if w.contains("1 overwrite passes"))
        );
        let rule = |p: Vec<u8>| AfterRule {
            pattern: Some(p),
            ..AfterRule::default()
        };
        assert!(ev
            .after(&d.media, &rule(o.pattern.to_le_bytes().to_vec()), &|_| Err(
                String::new()
            ),)
            .problems
            .is_empty());
        assert!(
            !ev.after(&d.media, &rule(vec![0]), &|_| Err(String::new()))
                .problems
                .is_empty(),
            "a wrong pattern is caught"
        );
    }

    #[test]
    fn a_drive_that_reports_success_but_changes_nothing_is_caught() {
        let d = SimNvme::new(
            1 << 20,
            SimConfig {
                block: true,
                polls: 2,
                liar: true,
                ..SimConfig::default()
            },
        );
        let ev = canaries(&d);
        engine::start(&d, Method::NvmeSanitizeBlock, &Options::default()).unwrap();
        assert!(
            matches!(
                run_to_end(&d, &engine::Expect::default()),
                State::Completed(_)
            ),
            "the drive says it worked"
        );
        let problems = ev
            .after(&d.media, &AfterRule::default(), &|_| Err(String::new()))
            .problems;
        assert!(
            !problems.is_empty()
                && problems[0].contains("canary written before the purge is still readable"),
            "{problems:?}"
        );
    }

    #[test]
    fn format_is_clear_and_really_erases() {
        let d = SimNvme::new(
            1 << 20,
            SimConfig {
                format: true,
                ..SimConfig::default()
            },
        );
        let ev = canaries(&d);
        assert!(engine::synchronous(Method::NvmeFormatUserData));
        engine::start(&d, Method::NvmeFormatUserData, &Options::default()).unwrap();
        assert!(ev
            .after(&d.media, &AfterRule::default(), &|_| Err(String::new()))
            .problems
            .is_empty());
        assert_eq!(
            Method::NvmeFormatUserData.grade(method::Medium::Flash),
            method::Grade::Clear
        );
    }

    #[test]
    fn crypto_erase_bytes_equal_nvme_clis() {
        // nvme sanitize --sanact=4 sends OWPASS 0: so do we for every non-overwrite action.
        let b = &engine::start_bytes(Method::NvmeSanitizeCrypto, &Options::default())[0].bytes;
        assert_eq!(&b[40..44], &[4, 0, 0, 0]);
    }

    #[test]
    fn unsupported_commands_and_failure_mode_are_refused_clearly() {
        let d = SimNvme::new(
            1 << 20,
            SimConfig {
                block: true,
                polls: 1,
                ..SimConfig::default()
            },
        );
        let e = engine::start(&d, Method::NvmeSanitizeCrypto, &Options::default()).unwrap_err();
        assert!(e.to_string().contains("NVMe status 0x0002"), "{e}");
        let none = SimNvme::new(
            1 << 20,
            SimConfig {
                format: true,
                ..SimConfig::default()
            },
        );
        let caps = engine::probe(&none, Bus::Nvme, None).unwrap();
        assert!(caps.supported.contains(&Method::NvmeFormatUserData));
        assert!(
            method::strongest(&caps.supported, caps.medium).is_err(),
            "Format alone is no purge"
        );
        let failed = SimNvme::new(
            1 << 20,
            SimConfig {
                crypto: true,
                failed: true,
                ..SimConfig::default()
            },
        );
        let caps = engine::probe(&failed, Bus::Nvme, None).unwrap();
        let f = caps.failure.clone().unwrap();
        assert_eq!(f.restricted, Some(true), "SSI 2: restricted failure");
        // Failure mode no longer refuses a new sanitize (the legal way out); Format is.
        assert!(caps.blocker(Method::NvmeSanitizeCrypto).is_none());
        assert!(caps.blocker(Method::NvmeFormatUserData).is_some());
    }

    #[test]
    fn canaries_prove_an_erase_on_a_drive_that_held_zeros() {
        // A new or already wiped drive holds zeros; a block erase leaves zeros. Comparing
        // before and after proves nothing (it used to FAIL every such drive); canaries do.
        let d = SimNvme::new(1 << 20, SimConfig::from_features("block,zeros").unwrap());
        let ro = Evidence::before(&d.media, samples(&d)).unwrap();
        let ev = canaries(&d);
        engine::start(&d, Method::NvmeSanitizeBlock, &Options::default()).unwrap();
        assert!(matches!(
            run_to_end(&d, &engine::Expect::default()),
            State::Completed(_)
        ));
        let f = ev.after(&d.media, &AfterRule::default(), &|_| Err(String::new()));
        assert!(f.problems.is_empty() && f.inconclusive == 0, "{f:?}");
        // Without canaries the same samples are inconclusive, not failures.
        let mut plain = ro.clone();
        plain.canaries = false;
        let f = plain.after(&d.media, &AfterRule::default(), &|_| Err(String::new()));
        assert!(
            f.problems.is_empty() && f.inconclusive == plain.extents.len() as u64,
            "{f:?}"
        );
    }

    #[test]
    fn the_status_must_be_of_our_own_command() {
        let d = SimNvme::new(1 << 20, SimConfig::from_features("block,crypto").unwrap());
        engine::start(&d, Method::NvmeSanitizeBlock, &Options::default()).unwrap();
        // What we expect had we sent a crypto erase: the log's SCDW10 says block erase.
        let crypto = engine::Expect::of(Method::NvmeSanitizeCrypto, &Options::default());
        assert!(
            matches!(run_to_end(&d, &crypto), State::Failed(w) if w.contains("another sanitize"))
        );
        // A drive that deallocates after an overwrite unless No-Deallocate is set: we set it
        // (the drive allows it), so the pattern must be there.
        let o = Options {
            pattern: 0x5A5A_5A5A,
            no_deallocate: true,
            ..Options::default()
        };
        let ow = SimNvme::new(
            1 << 20,
            SimConfig::from_features("overwrite,dealloc").unwrap(),
        );
        let ev = canaries(&ow);
        engine::start(&ow, Method::NvmeSanitizeOverwrite, &o).unwrap();
        let expect = engine::Expect::of(Method::NvmeSanitizeOverwrite, &o);
        assert!(matches!(run_to_end(&ow, &expect), State::Completed(_)));
        let rule = AfterRule {
            pattern: Some(o.pattern.to_le_bytes().to_vec()),
            ..AfterRule::default()
        };
        assert!(ev
            .after(&ow.media, &rule, &|_| Err(String::new()))
            .problems
            .is_empty());
        // The never-sanitized drive is idle, not failed; a log that cannot be read blocks.
        let idle = SimNvme::new(1 << 20, SimConfig::from_features("block").unwrap());
        assert!(matches!(
            engine::poll(&idle, Bus::Nvme, &engine::Expect::default()),
            State::Idle(_)
        ));
        let nolog = SimNvme::new(1 << 20, SimConfig::from_features("block,nolog").unwrap());
        let caps = engine::probe(&nolog, Bus::Nvme, None).unwrap();
        assert!(caps
            .blocker(Method::NvmeSanitizeBlock)
            .unwrap()
            .why
            .contains("cannot be read"));
    }
}
