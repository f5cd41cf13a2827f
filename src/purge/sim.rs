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
                f if f.starts_with("lbaf") && f[4..].parse::<u8>().is_ok_and(|n| n < 64) => {
                    c.lba_format = f[4..].parse().unwrap_or(0);
                }
                other => {
                    return Err(format!(
                        "unknown feature '{other}'; expected crypto, block, overwrite, format, \
                         liar, failed, slow, shared or lbafN (N < 64)"
                    ))
                }
            }
        }
        Ok(c)
    }
}

#[derive(Default)]
struct State {
    /// (action, pattern, polls left)
    running: Option<(u32, u32, u32)>,
    /// SSTAT low bits: 0 never, 1 done, 2 running, 3 failed.
    status: u8,
    progress: u16,
}

/// The simulated drive.
pub struct SimNvme {
    pub media: MemDevice,
    cfg: SimConfig,
    state: Mutex<State>,
    /// Every admin command received, as its 72 bytes.
    pub commands: Mutex<Vec<[u8; 72]>>,
}

impl SimNvme {
    /// The drive a `--simulate nvme:SIZE:FEATURES` spec describes.
    ///
    /// # Errors
    /// A message naming what is wrong with the spec.
    pub fn from_spec(spec: &str) -> Result<SimNvme, String> {
        let mut parts = spec.split(':');
        let (kind, size, features) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
        let size = size
            .and_then(|s| crate::units::parse_size(s).ok())
            .filter(|_| kind == Some("nvme"))
            .ok_or_else(|| format!("--simulate {spec}: expected nvme:SIZE:FEATURES"))?;
        let cfg =
            SimConfig::from_features(features).map_err(|e| format!("--simulate {spec}: {e}"))?;
        Ok(SimNvme::new(usize::try_from(size).unwrap_or(1 << 20), cfg))
    }

    /// A drive of `size` bytes holding pseudorandom "user data".
    pub fn new(size: usize, cfg: SimConfig) -> SimNvme {
        let media = MemDevice::new(size, 512, 0);
        let mut data = vec![0u8; size];
        rand_chacha::ChaCha8Rng::from_seed([42; 32]).fill_bytes(&mut data);
        media.poke(0, &data);
        let state = State {
            status: if cfg.failed { 3 } else { 0 },
            ..State::default()
        };
        SimNvme {
            media,
            cfg,
            state: Mutex::new(state),
            commands: Mutex::new(vec![]),
        }
    }

    fn apply(&self, action: u32, pattern: u32) {
        let size = self.media.size() as usize;
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
        match (cmd.opcode, cmd.cdw10 & 0xFF) {
            (0x06, 0) => {
                // Identify Namespace: FLBAS bits 3:0 and 6:5 hold the current LBA format.
                data.fill(0);
                let f = self.cfg.lba_format;
                data[26] = (f & 0x0F) | (f >> 4 & 0x03) << 5;
                data[30] = u8::from(self.cfg.shared);
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
                st.running = Some((action, cmd.cdw11, self.cfg.polls.max(1)));
                st.status = 2;
                st.progress = 0;
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
            (0x02, 0x81) => {
                if let Some((action, pattern, left)) = st.running {
                    if left <= 1 {
                        if !self.cfg.liar {
                            self.apply(action, pattern);
                        }
                        st.running = None;
                        st.status = 1;
                        st.progress = 0xFFFF;
                    } else {
                        st.running = Some((action, pattern, left - 1));
                        st.progress = st
                            .progress
                            .saturating_add((65536 / self.cfg.polls.max(1)) as u16);
                    }
                }
                data.fill(0);
                data[0..2].copy_from_slice(&st.progress.to_le_bytes());
                data[2..4].copy_from_slice(&u16::from(st.status).to_le_bytes());
                data[12..16].copy_from_slice(&120u32.to_le_bytes());
                Ok((0, 0))
            }
            _ => Ok((0x0001, 0)), // Invalid Command Opcode
        }
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
}

/// A simulated drive shared between its two faces: the command door and the media a flow
/// reads its evidence from.
impl Passthrough for std::sync::Arc<SimNvme> {
    fn nvme(&self, cmd: &AdminCmd, data: &mut [u8]) -> io::Result<(u16, u32)> {
        self.as_ref().nvme(cmd, data)
    }

    fn scsi(
        &self,
        cdb: &[u8],
        dir: DataDir,
        data: &mut [u8],
        timeout_ms: u32,
    ) -> io::Result<(u8, Vec<u8>)> {
        self.as_ref().scsi(cdb, dir, data, timeout_ms)
    }
}

impl crate::device::BlockIo for std::sync::Arc<SimNvme> {
    fn size(&self) -> u64 {
        self.media.size()
    }
    fn block_size(&self) -> u32 {
        self.media.block_size()
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.media.write_at(buf, offset)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.media.read_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        self.media.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::super::engine::{self, Bus, Evidence, Options, State};
    use super::super::method::{self, Method};
    use super::*;
    use crate::pattern::Pattern;
    use crate::verify;

    fn run_to_end(d: &SimNvme) -> State {
        for _ in 0..100 {
            match engine::poll(d, Bus::Nvme).unwrap() {
                State::Running(_) => continue,
                s => return s,
            }
        }
        State::Failed("never finished".into())
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
            lbaf: engine::lba_format(&d, 1).unwrap(),
            ..Options::default()
        };
        assert_eq!(o.lbaf, 17);
        engine::start(&d, m, &o).unwrap();
        let sent = d
            .commands
            .lock()
            .unwrap()
            .iter()
            .find(|c| c[0] == 0x80)
            .copied()
            .unwrap();
        assert_eq!(engine::start_bytes(m, &o)[0].1, sent.to_vec());
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
        let caps = engine::probe(&d, Bus::Nvme).unwrap();
        assert_eq!(caps.model, "mediasan sim");
        assert!(caps.blockers.is_empty() && !caps.failure_mode);
        let m = method::strongest(&caps.supported, caps.solid_state).unwrap();
        assert_eq!(m, Method::NvmeSanitizeCrypto);
        let ev = Evidence::before(&d.media, samples(&d)).unwrap();
        engine::start(&d, m, &Options::default()).unwrap();
        assert!(matches!(engine::poll(&d, Bus::Nvme).unwrap(), State::Running(p) if p > 0.0));
        assert_eq!(run_to_end(&d), State::Completed);
        assert_eq!(ev.after(&d.media, None).unwrap(), Vec::<String>::new());
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
            engine::start_bytes(m, &Options::default())[0].1,
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
        let ev = Evidence::before(&d.media, samples(&d)).unwrap();
        engine::start(&d, Method::NvmeSanitizeOverwrite, &o).unwrap();
        assert_eq!(run_to_end(&d), State::Completed);
        let p = Pattern::Fixed(o.pattern.to_le_bytes().to_vec());
        assert!(ev.after(&d.media, Some(&p)).unwrap().is_empty());
        assert!(
            !ev.after(&d.media, Some(&Pattern::Fixed(vec![0])))
                .unwrap()
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
        let ev = Evidence::before(&d.media, samples(&d)).unwrap();
        engine::start(&d, Method::NvmeSanitizeBlock, &Options::default()).unwrap();
        assert_eq!(run_to_end(&d), State::Completed, "the drive says it worked");
        let problems = ev.after(&d.media, None).unwrap();
        assert!(
            !problems.is_empty() && problems[0].contains("still readable"),
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
        let ev = Evidence::before(&d.media, samples(&d)).unwrap();
        assert!(engine::synchronous(Method::NvmeFormatUserData));
        engine::start(&d, Method::NvmeFormatUserData, &Options::default()).unwrap();
        assert!(ev.after(&d.media, None).unwrap().is_empty());
        assert_eq!(Method::NvmeFormatUserData.grade(true), method::Grade::Clear);
    }

    #[test]
    fn crypto_erase_bytes_equal_nvme_clis() {
        // nvme sanitize --sanact=4 sends OWPASS 0: so do we for every non-overwrite action.
        let b = &engine::start_bytes(Method::NvmeSanitizeCrypto, &Options::default())[0].1;
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
        let caps = engine::probe(&none, Bus::Nvme).unwrap();
        assert!(caps.supported.contains(&Method::NvmeFormatUserData));
        assert!(
            method::strongest(&caps.supported, true).is_err(),
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
        let caps = engine::probe(&failed, Bus::Nvme).unwrap();
        assert!(caps.failure_mode);
        assert!(
            caps.blockers[0].contains("failure mode"),
            "{:?}",
            caps.blockers
        );
    }
}
