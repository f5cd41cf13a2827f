//! Helpers shared by the integration tests: the binary with an isolated config folder, a
//! loop-device guard that always detaches what it attached, and `skip!`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use mediasan::cert::Certificate;

/// Prints `skipped: <reason>` and returns from the test.
#[macro_export]
macro_rules! skip {
    ($($why:tt)*) => {{
        eprintln!("skipped: {}", format!($($why)*));
        return;
    }};
}

/// A scratch folder with its own config dir (so the default key never touches the user's).
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `mediasan` with XDG_CONFIG_HOME inside the scratch folder, run in it.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("mediasan").expect("binary");
        c.env("XDG_CONFIG_HOME", self.path("config"))
            .env_remove("HOME")
            .current_dir(self.dir.path());
        c
    }

    /// Certificates in `dir` (sorted by name).
    pub fn certificates(&self, dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "json"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

pub fn read_cert(p: &Path) -> Certificate {
    serde_json::from_slice(&std::fs::read(p).expect("read cert")).expect("parse cert")
}

/// Writes a file of `size` bytes filled with `byte`.
pub fn make_file(p: &Path, size: usize, byte: u8) {
    std::fs::write(p, vec![byte; size]).expect("write file");
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A loop device over a file, detached by name on drop (even when the test fails).
pub struct LoopDev {
    pub dev: PathBuf,
}

impl LoopDev {
    /// Attaches `file`; `None` (after printing why) where loop devices cannot be used.
    pub fn attach(file: &Path, sector: u32, read_only: bool) -> Result<LoopDev, String> {
        if !is_root() {
            return Err("loop devices need root".into());
        }
        let mut c = Command::new("losetup");
        c.arg("--find")
            .arg("--show")
            .arg("--sector-size")
            .arg(sector.to_string());
        if read_only {
            c.arg("--read-only");
        }
        let out = c
            .arg(file)
            .output()
            .map_err(|e| format!("losetup not runnable: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "losetup failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let dev = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        Ok(LoopDev { dev })
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

/// Unmounts on drop.
pub struct Mounted {
    pub at: PathBuf,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.at).status();
    }
}

/// BLAKE3 of a file's contents.
pub fn digest(p: &Path) -> String {
    blake3::hash(&std::fs::read(p).expect("read"))
        .to_hex()
        .to_string()
}

/// The bytes the certificate's last pass should have left on a target of `size` bytes.
pub fn expected_bytes(cert: &Certificate, size: usize) -> Vec<u8> {
    let pattern = cert
        .sanitization
        .passes
        .last()
        .and_then(|p| p.pattern())
        .expect("a pass with a pattern");
    let mut v = vec![0u8; size];
    pattern.fill_at(&mut v, 0);
    v
}

/// An ext4 filesystem in a new image file `name` of `size` bytes, attached to a loop device.
pub fn ext4_on_loop(env: &Env, name: &str, size: usize) -> Result<(PathBuf, LoopDev), String> {
    if !have("mkfs.ext4") {
        return Err("mkfs.ext4 is not installed".into());
    }
    let file = env.path(name);
    make_file(&file, size, 0);
    let ok = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&file)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err("mkfs.ext4 failed".into());
    }
    let lo = LoopDev::attach(&file, 512, false)?;
    Ok((file, lo))
}

/// Mounts `dev` on a new folder `name` in the scratch folder; unmounted on drop.
pub fn mount(env: &Env, dev: &Path, name: &str) -> Result<Mounted, String> {
    let at = env.path(name);
    std::fs::create_dir(&at).map_err(|e| e.to_string())?;
    match Command::new("mount").arg(dev).arg(&at).status() {
        Ok(s) if s.success() => Ok(Mounted { at }),
        _ => Err("cannot mount a loop device here".into()),
    }
}
