//! Helpers shared by the integration tests: the binary with an isolated config folder, a
//! loop-device guard that always detaches what it attached, and `skip!`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use mediasan::cert::Certificate;

/// A test that cannot run here: on a developer's machine it prints `skipped: <reason>` and
/// returns; under CI (`CI=true`, or `MEDIASAN_REQUIRE_ALL_TESTS=1`, which `.ci/run` sets) it
/// fails naming what was missing, so CI can never go green by skipping.
macro_rules! skip {
    ($($why:tt)*) => {{
        let why = format!($($why)*);
        if $crate::common::must_run_everything() {
            panic!("this test must run under CI but cannot: {why}");
        }
        eprintln!("skipped: {why}");
        return;
    }};
}

/// Runs the binary in `$env` with these arguments (anything that is `AsRef<OsStr>`: `&str`,
/// paths) to the end, and returns its `Output`.
macro_rules! mediasan {
    ($env:expr $(, $arg:expr)* $(,)?) => {
        $env.cmd()
            .args([$(std::ffi::OsStr::new($arg)),*])
            .output()
            .expect("run mediasan")
    };
}

/// Asserts the exit code of a run, showing its stderr when it is not `want`.
pub fn assert_code(out: &std::process::Output, want: i32) {
    assert_eq!(
        out.status.code(),
        Some(want),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// True under CI, where a test that would skip fails instead.
pub fn must_run_everything() -> bool {
    let set = |v: &str| std::env::var(v).is_ok_and(|x| x == "1" || x.eq_ignore_ascii_case("true"));
    set("CI") || set("MEDIASAN_REQUIRE_ALL_TESTS")
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

    /// `mediasan` with XDG_CONFIG_HOME inside the scratch folder, run in it, in a session of
    /// its own (no controlling terminal, as under cron or CI: a test run from a terminal must
    /// not be asked to confirm on it).
    pub fn cmd(&self) -> Command {
        let bin = Command::cargo_bin("mediasan").expect("binary");
        // setsid(1) execs in place (the child is not a group leader), so the pid is mediasan's.
        let mut c = Command::new("setsid");
        c.arg("-w").arg(bin.get_program());
        // No terminal and no key configured: the first run would be refused, so the tests
        // allow the default key to be made on first use (the ones about that refusal remove
        // this).
        c.env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("MEDIASAN_CREATE_KEY", "1")
            .env_remove("MEDIASAN_KEY")
            .env_remove("HOME")
            .current_dir(self.dir.path());
        c
    }

    /// The default signing key's public half (made by the first wipe).
    pub fn pubkey(&self) -> PathBuf {
        self.path("config/mediasan/signing_key.pub")
    }

    /// Trusts the default signing key from now on, as an organization would: an OpenSSH
    /// allowed_signers file named in the organization file (`mediasan.toml`).
    pub fn trust_default_key(&self) {
        let dir = self.path("config/mediasan");
        let key = std::fs::read_to_string(self.pubkey()).expect("a wipe made the default key");
        std::fs::write(dir.join("allowed_signers"), format!("tester {key}")).unwrap();
        std::fs::write(
            dir.join("mediasan.toml"),
            format!(
                "allowed_signers = \"{}\"\n",
                dir.join("allowed_signers").display()
            ),
        )
        .unwrap();
    }

    /// `mediasan wipe --yes --cert-dir c FLAGS TARGET`: the run, and the certificate it wrote
    /// (if it wrote one).
    pub fn wipe(
        &self,
        target: &Path,
        flags: &[&str],
    ) -> (std::process::Output, Option<Certificate>) {
        let dir = self.path("c");
        let before = self.certificates(&dir);
        let out = self
            .cmd()
            .args(["wipe", "--yes", "--cert-dir", "c"])
            .args(flags)
            .arg(target)
            .output()
            .expect("run mediasan");
        let new = self
            .certificates(&dir)
            .into_iter()
            .find(|c| !before.contains(c))
            .map(|c| read_cert(&c));
        (out, new)
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
        Self::attach_with(file, sector, read_only, false)
    }

    /// As [`LoopDev::attach`], optionally with `--direct-io=on` (so reads reach the file).
    pub fn attach_with(
        file: &Path,
        sector: u32,
        read_only: bool,
        direct: bool,
    ) -> Result<LoopDev, String> {
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
        if direct {
            c.arg("--direct-io=on");
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

impl LoopDev {
    /// Attaches `file` as `/dev/loopN` exactly (for tests where the kernel's name matters).
    pub fn attach_at(file: &Path, n: u32) -> Result<LoopDev, String> {
        if !is_root() {
            return Err("loop devices need root".into());
        }
        let dev = PathBuf::from(format!("/dev/loop{n}"));
        let out = Command::new("losetup")
            .arg(&dev)
            .arg(file)
            .output()
            .map_err(|e| format!("losetup not runnable: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "losetup {} failed: {}",
                dev.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(LoopDev { dev })
    }
}

/// Two loop device numbers nobody uses now, from a range the kernel's `--find` reaches last.
/// Each call in this process hands out numbers no earlier call did (tests run in parallel and
/// attach by number), cycling through a range of 40 of this process's own.
pub fn free_loop_numbers() -> (u32, u32) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let free = |n: &u32| !Path::new(&format!("/sys/block/loop{n}/loop")).exists();
    let base = 200 + (std::process::id() % 20) * 40;
    let mut v = Vec::new();
    for _ in 0..40 {
        let n = base + NEXT.fetch_add(1, Ordering::Relaxed) % 40;
        if free(&n) {
            v.push(n);
            if v.len() == 2 {
                break;
            }
        }
    }
    assert_eq!(
        v.len(),
        2,
        "no two free loop devices in {base}..{}",
        base + 40
    );
    (v[0], v[1])
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

/// A tmpfs of `size` bytes mounted on a new folder `name`; unmounted on drop.
pub fn small_tmpfs(env: &Env, name: &str, size: &str) -> Result<Mounted, String> {
    if !is_root() {
        return Err("mounting a tmpfs needs root".into());
    }
    let at = env.path(name);
    std::fs::create_dir_all(&at).map_err(|e| e.to_string())?;
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(&at)
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(Mounted { at })
    } else {
        Err("cannot mount a tmpfs here".into())
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

/// A loop device (direct I/O) over tests/faultfs.py: a FUSE file whose chosen byte ranges fail
/// with EIO, so the block layer returns real I/O errors. Torn down on drop, by name.
pub struct FaultDisk {
    pub lo: Option<LoopDev>,
    pub mnt: PathBuf,
    pub backing: PathBuf,
    pub control: PathBuf,
    child: std::process::Child,
}

impl FaultDisk {
    /// `size` bytes filled with `fill`; `faults` are faultfs.py arguments
    /// (`--fail-write START:END[:once]`, `--fail-read ...`).
    pub fn new(env: &Env, size: usize, fill: u8, faults: &[String]) -> Result<FaultDisk, String> {
        if !is_root() {
            return Err("FUSE-backed loop devices need root".into());
        }
        if !Path::new("/dev/fuse").exists() {
            return Err("/dev/fuse is missing".into());
        }
        let fusepy = ["import fusepy", "import fuse; fuse.FUSE"]
            .iter()
            .any(|code| {
                Command::new("/usr/bin/python3")
                    .args(["-c", code])
                    .output()
                    .is_ok_and(|o| o.status.success())
            });
        if !fusepy {
            return Err("python3-fusepy is not installed".into());
        }
        let backing = env.path("fault-backing.img");
        make_file(&backing, size, fill);
        let mnt = env.path("fault-mnt");
        std::fs::create_dir_all(&mnt).map_err(|e| e.to_string())?;
        let control = env.path("fault-control");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/faultfs.py");
        let log = std::fs::File::create(env.path("faultfs.log")).map_err(|e| e.to_string())?;
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(&backing)
            .arg(&mnt)
            .args(faults)
            .arg("--control")
            .arg(&control)
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start faultfs.py: {e}"))?;
        let mut disk = FaultDisk {
            lo: None,
            mnt: mnt.clone(),
            backing,
            control,
            child,
        };
        let file = mnt.join("disk.img");
        let start = std::time::Instant::now();
        while !file.exists() {
            if start.elapsed().as_secs() > 10 {
                let log = std::fs::read_to_string(env.path("faultfs.log")).unwrap_or_default();
                return Err(format!("faultfs did not mount: {log}"));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        disk.lo = Some(LoopDev::attach_with(&file, 512, false, true)?);
        Ok(disk)
    }

    pub fn dev(&self) -> &Path {
        &self.lo.as_ref().expect("attached").dev
    }

    /// Kills the FUSE daemon: every later I/O to the device fails, as if it had been pulled.
    pub fn pull(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Replaces the faults while the disk is in use (faultfs.py re-reads its control file).
    pub fn set_faults(&self, lines: &str) {
        std::fs::write(&self.control, lines).expect("control file");
    }
}

impl Drop for FaultDisk {
    fn drop(&mut self) {
        self.lo.take();
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds tests/tools/ioctlcap.c (the team's LD_PRELOAD shim that logs SG_IO and NVMe ioctls and, in
/// fake mode, answers them without touching the device) into the test's temp folder.
pub fn ioctlcap(tmp: &Path) -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/ioctlcap.c");
    if !src.exists() {
        return Err(format!("{} is not here", src.display()));
    }
    let out = tmp.join("ioctlcap.so");
    match Command::new("gcc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-ldl")
        .status()
    {
        Ok(s) if s.success() => Ok(out),
        _ => Err("gcc cannot build the ioctlcap shim".into()),
    }
}

/// A tmux server of its own (its socket in the test's folder) with one window of a chosen
/// size running a shell command: a real terminal for the tests where a screen matters. The
/// server is killed on drop.
pub struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Starts `command` (run by `sh -c` in `env`'s folder, with its config folders) in a
    /// `width` x `height` window. When it ends, the window shows `[exit N]` and stays. Ctrl-C
    /// reaches the command, not the shell around it (it traps INT; the command gets the
    /// default, a trap is not inherited).
    pub fn start(env: &Env, width: u16, height: u16, command: &str) -> Result<Tmux, String> {
        if !have("tmux") {
            return Err("tmux is not installed".into());
        }
        let socket = env.path(&format!("tmux-{width}.sock"));
        let bin = assert_cmd::cargo::cargo_bin("mediasan");
        let script = format!(
            "trap : INT; cd '{}' && export XDG_CONFIG_HOME='{}' XDG_STATE_HOME='{}' M='{}'; unset HOME; {command}; echo \"[exit $?]\"; sleep 600",
            env.dir.path().display(),
            env.path("config").display(),
            env.path("state").display(),
            bin.display()
        );
        let ok = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .args(["sh", "-c", &script])
            .env("TERM", "xterm-256color")
            .status()
            .map_err(|e| e.to_string())?
            .success();
        if !ok {
            return Err("tmux could not start a session".into());
        }
        Ok(Tmux { socket })
    }

    /// Types `text` and Enter.
    pub fn type_line(&self, text: &str) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["send-keys", "-l", text])
            .status();
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["send-keys", "Enter"])
            .status();
    }

    /// The screen as it is now (the visible lines, unjoined: what the person sees).
    pub fn screen(&self) -> String {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["capture-pane", "-p"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Waits (up to `secs`) until the screen shows `needle`; the screen then.
    pub fn wait_for(&self, needle: &str, secs: u64) -> Result<String, String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return Ok(s);
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("{needle:?} did not appear; the screen:\n{s}"));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .status();
    }
}

/// Starts `cmd` (it carries `--json` and `--test-hold POINT`) and returns once it holds at
/// `point`; the rest of its stdout is drained on a thread. A test then meddles and signals.
pub fn spawn_held(mut cmd: Command, point: &str) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run mediasan");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).expect("read stdout");
        assert!(n > 0, "mediasan ended before holding at {point}");
        if line.contains("\"test_hold\"") {
            assert!(line.contains(point), "{line}");
            break;
        }
    }
    std::thread::spawn(move || for _ in out.lines() {});
    child
}

/// Sends `sig` to `child`.
pub fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).expect("kill");
}

/// The fingerprint `ssh-keygen -l` prints for a public key file.
pub fn ssh_fingerprint(pubkey: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(pubkey)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// The first page of `pdf` drawn by poppler (`pdftoppm`) at 36 dpi: width, height and RGB
/// pixels, row by row.
pub fn pdf_page_rgb(pdf: &Path) -> (usize, usize, Vec<[u8; 3]>) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("page");
    let ok = Command::new("pdftoppm")
        .args(["-r", "36", "-f", "1", "-l", "1", "-singlefile"])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .unwrap();
    assert!(ok.success(), "pdftoppm cannot draw {}", pdf.display());
    let ppm = std::fs::read(dir.path().join("page.ppm")).unwrap();
    // P6 <width> <height> <maxval>, one whitespace byte, then the pixels.
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&ppm[start..at]).to_string());
    }
    assert_eq!(fields[0], "P6");
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let pixels = ppm[at + 1..]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (w, h, pixels)
}

/// How many strongly red pixels the middle third of `pdf`'s page has (where a mark drawn
/// across the page crosses it; a certificate's red FAIL sits at the top).
pub fn red_across_the_middle(pdf: &Path) -> usize {
    let (w, h, pixels) = pdf_page_rgb(pdf);
    pixels[w * (h / 3)..w * (2 * h / 3)]
        .iter()
        .filter(|[r, g, b]| *r > 120 && *g < 90 && *b < 90)
        .count()
}
