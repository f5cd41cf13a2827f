//! The two promises, tried as a hostile user and a clumsy operator would: the certificate is
//! true (never a PASS for work that did not happen, exit code, certificate and journal always
//! agree), and human output (a closed pipe, a dropped terminal, a hostile name) can neither
//! stop a wipe nor fake what a person reads.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use mediasan::cert::{Certificate, Verdict};
use nix::sys::signal::Signal;

use crate::common::*;

const SIZE: usize = 8 << 20;

/// Starts `wipe --json --test-hold POINT` and returns once the wipe holds there.
pub fn held(env: &Env, img: &Path, point: &str, extra: &[&str]) -> Child {
    let mut cmd = env.cmd();
    cmd.args([
        "wipe",
        "--yes",
        "--json",
        "--cert-dir",
        "c",
        "--test-hold",
        point,
    ])
    .args(["--checkpoint-interval", "0.05", "--buffer-size", "256K"])
    .args(extra)
    .arg(img);
    spawn_held(cmd, point)
}

fn journals(env: &Env) -> usize {
    std::fs::read_dir(env.path("state/mediasan/journal"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0)
}

fn only_cert(env: &Env) -> Certificate {
    let certs = env.certificates(&env.path("c"));
    assert_eq!(certs.len(), 1, "{certs:?}");
    read_cert(&certs[0])
}

/// `wipe --yes --resume TARGET` (a resumed wipe stores where it began, in `c`): the run and
/// the one certificate it added there.
fn resumed(env: &Env, target: &Path) -> (std::process::Output, PathBuf) {
    let before = env.certificates(&env.path("c"));
    let out = mediasan!(env, "wipe", "--yes", "--resume", target);
    let new: Vec<PathBuf> = env
        .certificates(&env.path("c"))
        .into_iter()
        .filter(|c| !before.contains(c))
        .collect();
    assert_eq!(
        new.len(),
        1,
        "one new certificate: {new:?}; {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out, new[0].clone())
}

/// Exit code, certificate and journal tell one story: 130 with INCOMPLETE and a journal kept,
/// or a final result with the journal gone.
fn agree(code: Option<i32>, c: &Certificate, journals: usize) {
    match code {
        Some(130) => {
            assert_eq!(c.result, Verdict::Incomplete, "130 but {:?}", c.reasons);
            assert_eq!(journals, 1, "130 but no journal to resume");
        }
        Some(0) => {
            assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
            assert_eq!(journals, 0, "PASS but a journal left");
            assert!(c.verification.bytes_read > 0, "PASS with nothing read back");
            assert_eq!(c.verification.bytes_read, c.verification.bytes_planned);
        }
        other => panic!("exit {other:?}, {:?} {:?}", c.result, c.reasons),
    }
}

#[test]
fn a_signal_at_every_stage_boundary_leaves_code_certificate_and_journal_agreeing() {
    // (point, signal, expected exit): before the outcome is settled a signal interrupts (130,
    // resumable); after it, it changes nothing.
    let cases = [
        ("pass-start:1", Signal::SIGINT, 130),
        ("pass-end:1", Signal::SIGTERM, 130),
        ("pass-start:2", Signal::SIGINT, 130),
        ("pass-end:2", Signal::SIGINT, 130),
        ("verify-start", Signal::SIGINT, 130),
        ("verify-start", Signal::SIGTERM, 130),
        ("verify-end", Signal::SIGINT, 0),
        ("settled", Signal::SIGINT, 0),
        ("certified", Signal::SIGTERM, 0),
    ];
    for (point, sig, want) in cases {
        let env = Env::new();
        let img = env.path("b.img");
        make_file(&img, SIZE, 0x5A);
        let mut child = held(&env, &img, point, &["--policy", "hmg-is5-enhanced"]);
        signal(&child, sig);
        let code = child.wait().unwrap().code();
        let c = only_cert(&env);
        assert_eq!(code, Some(want), "{point}: {:?} {:?}", c.result, c.reasons);
        agree(code, &c, journals(&env));
        if want == 130 {
            // The journal finishes the wipe: a PASS that really read everything back.
            let (out, path) = resumed(&env, &img);
            let c = read_cert(&path);
            agree(out.status.code(), &c, journals(&env));
            assert_eq!(out.status.code(), Some(0), "{point}: resume");
            assert_eq!(
                std::fs::read(&img).unwrap(),
                expected_bytes(&c, SIZE),
                "{point}: every byte of the last pass"
            );
        }
    }
}

#[test]
fn a_resume_interrupted_again_before_its_verification_is_not_pass() {
    let env = Env::new();
    let img = env.path("r.img");
    make_file(&img, SIZE, 0x33);
    let mut child = held(&env, &img, "pass-end:1", &[]);
    signal(&child, Signal::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    // The resume is stopped again exactly before its verification.
    let mut child = held(&env, &img, "verify-start", &["--resume"]);
    signal(&child, Signal::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    for c in env.certificates(&env.path("c")) {
        let c = read_cert(&c);
        assert_eq!(c.result, Verdict::Incomplete, "{:?}", c.reasons);
    }
    assert_eq!(journals(&env), 1);
}

#[test]
fn sighup_does_not_stop_a_wipe_and_is_noted() {
    let env = Env::new();
    let img = env.path("h.img");
    make_file(&img, SIZE, 0x77);
    let mut child = held(&env, &img, "pass-end:1", &["--policy", "hmg-is5-enhanced"]);
    signal(&child, Signal::SIGHUP);
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let c = only_cert(&env);
    agree(Some(0), &c, journals(&env));
    assert!(
        c.notes.iter().any(|n| n.contains("SIGHUP")),
        "{:?}",
        c.notes
    );
}

#[test]
fn closed_stdout_and_stderr_stop_neither_the_wipe_nor_its_certificate() {
    let env = Env::new();
    let img = env.path("p.img");
    make_file(&img, SIZE, 0x42);
    // `wipe ... 2>&1 | head -c1`: both pipes closed by the reader after (at most) one byte.
    for json in [false, true] {
        let mut cmd = env.cmd();
        cmd.args(["wipe", "--yes", "--cert-dir", "c", "--verify", "full"]);
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd
            .arg(&img)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut one = [0u8; 1];
        let _ = child.stderr.as_mut().unwrap().read(&mut one);
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "json {json}");
    }
    let certs = env.certificates(&env.path("c"));
    assert_eq!(certs.len(), 2);
    for c in certs {
        assert_eq!(read_cert(&c).result, Verdict::Pass);
    }
}

/// Holds at `confirmed` (checked, confirmed, not yet opened for writing), runs `meanwhile`,
/// then lets the wipe go on with SIGHUP (which does not stop it). Returns the exit code.
fn meddle_after_confirmation(env: &Env, target: &Path, meanwhile: impl FnOnce()) -> Option<i32> {
    let mut child = held(env, target, "confirmed", &["--verify", "full"]);
    meanwhile();
    signal(&child, Signal::SIGHUP);
    child.wait().unwrap().code()
}

#[test]
fn a_symlink_flipped_after_confirmation_is_refused_and_nothing_is_written() {
    let env = Env::new();
    let (a, b, link) = (env.path("a.img"), env.path("b.img"), env.path("disk"));
    make_file(&a, SIZE, 0xAA);
    make_file(&b, SIZE, 0xBB);
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let (da, db) = (digest(&a), digest(&b));
    let code = meddle_after_confirmation(&env, &link, || {
        let tmp = env.path("disk.new");
        std::os::unix::fs::symlink(&b, &tmp).unwrap();
        std::fs::rename(&tmp, &link).unwrap();
    });
    assert_eq!(code, Some(3), "refused for safety");
    assert_eq!(digest(&a), da, "the confirmed file untouched");
    assert_eq!(digest(&b), db, "the file now behind the name untouched");
    assert!(
        env.certificates(&env.path("c")).is_empty(),
        "no certificate"
    );
}

#[test]
fn a_loop_device_cannot_be_reattached_to_another_file_under_a_wipe() {
    let env = Env::new();
    let (a, b) = (env.path("a.img"), env.path("b.img"));
    make_file(&a, SIZE, 0xAA);
    make_file(&b, SIZE, 0xBB);
    let lo = match LoopDev::attach(&a, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    let db = digest(&b);
    let mut reattached = None;
    let code = meddle_after_confirmation(&env, &lo.dev, || {
        // Detach (the kernel defers it while mediasan holds the device) and attach B under
        // the same name: the attach must fail.
        let _ = std::process::Command::new("losetup")
            .arg("-d")
            .arg(&lo.dev)
            .status();
        reattached = Some(
            std::process::Command::new("losetup")
                .arg(&lo.dev)
                .arg(&b)
                .status()
                .unwrap()
                .success(),
        );
    });
    assert_eq!(
        reattached,
        Some(false),
        "another file attached under the wipe"
    );
    assert_eq!(code, Some(0));
    let c = only_cert(&env);
    assert_eq!(c.result, Verdict::Pass);
    assert_eq!(
        Path::new(&c.media.identity.backing),
        a.as_path(),
        "the certificate names A"
    );
    assert_eq!(
        std::fs::read(&a).unwrap(),
        expected_bytes(&c, SIZE),
        "A was written"
    );
    assert_eq!(digest(&b), db, "B untouched");
}

/// `wipe --yes TARGET` must be refused (3) naming `needle`, with `file` unchanged.
fn refused_untouched(env: &Env, target: &Path, file: &Path, needle: &str) {
    let before = digest(file);
    let out = mediasan!(env, "wipe", "--yes", "--cert-dir", "c", &target);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(needle), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert_eq!(digest(file), before, "untouched");
}

#[test]
fn a_hard_link_to_the_image_behind_a_mounted_loop_device_is_refused() {
    let env = Env::new();
    let (file, lo) = match ext4_on_loop(&env, "fs.img", 16 << 20) {
        Ok(x) => x,
        Err(why) => skip!("{why}"),
    };
    let _m = match mount(&env, &lo.dev, "mnt") {
        Ok(m) => m,
        Err(why) => skip!("{why}"),
    };
    let link = env.path("innocent-looking.img");
    std::fs::hard_link(&file, &link).unwrap();
    refused_untouched(&env, &link, &file, &lo.dev.display().to_string());
}

#[test]
fn the_device_under_a_mounted_loop_device_is_refused_and_listed_in_use() {
    let env = Env::new();
    let img = env.path("under.img");
    make_file(&img, 16 << 20, 0);
    let lower = match LoopDev::attach(&img, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    let upper = LoopDev::attach(&lower.dev, 512, false).unwrap();
    assert!(std::process::Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&upper.dev)
        .status()
        .unwrap()
        .success());
    let _m = match mount(&env, &upper.dev, "mnt") {
        Ok(m) => m,
        Err(why) => skip!("{why}"),
    };
    refused_untouched(&env, &lower.dev, &img, "under the loop device");
    let out = mediasan!(env, "list", "--json");
    let lower_name = lower.dev.display().to_string();
    let entry = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["path"] == lower_name.as_str())
        .expect("listed");
    assert!(
        entry["in_use"].as_str().unwrap_or("").contains("loop"),
        "{entry}"
    );
}

#[test]
fn an_image_locked_by_another_program_is_refused() {
    let env = Env::new();
    let img = env.path("vm.img");
    make_file(&img, SIZE, 0x11);
    // A POSIX lock (QEMU uses OFD locks; both conflict with ours), then a flock.
    for code in [
        "import fcntl,sys,time; f=open(sys.argv[1],'r+'); fcntl.lockf(f, fcntl.LOCK_SH); print('locked', flush=True); time.sleep(60)",
        "import fcntl,sys,time; f=open(sys.argv[1],'r+'); fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
    ] {
        let mut holder = std::process::Command::new("python3")
            .args(["-c", code])
            .arg(&img)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(holder.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked");
        refused_untouched(&env, &img, &img, "holds a lock");
        let _ = holder.kill();
        let _ = holder.wait();
    }
}

#[test]
fn a_block_device_open_in_another_program_is_refused() {
    let env = Env::new();
    let img = env.path("held.img");
    make_file(&img, SIZE, 0x22);
    let lo = match LoopDev::attach(&img, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    let mut holder = std::process::Command::new("sleep")
        .arg("60")
        .stdin(std::fs::File::open(&lo.dev).unwrap())
        .spawn()
        .unwrap();
    refused_untouched(&env, &lo.dev, &img, &format!("PID {} (sleep)", holder.id()));
    let _ = holder.kill();
    let _ = holder.wait();
    let out = mediasan!(env, "wipe", "--yes", "--cert-dir", "c", &lo.dev);
    assert_code(&out, 0);
}

/// The one journal file of this test's wipes.
fn journal_file(env: &Env) -> std::path::PathBuf {
    let dir = env.path("state/mediasan/journal");
    let v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(v.len(), 1, "{v:?}");
    v[0].clone()
}

/// Interrupts a two-pass wipe of `target` after its first pass (exit 130, journal kept).
fn interrupt_after_pass_1(env: &Env, target: &Path) {
    let mut child = held(env, target, "pass-end:1", &["--policy", "hmg-is5-enhanced"]);
    signal(&child, Signal::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(130));
}

#[test]
fn a_journal_changed_by_hand_or_under_another_key_is_not_resumed() {
    let env = Env::new();
    let img = env.path("j.img");
    make_file(&img, SIZE, 0x61);
    interrupt_after_pass_1(&env, &img);
    let jf = journal_file(&env);
    let original = std::fs::read_to_string(&jf).unwrap();
    // Claim that the second pass is half done.
    let forged = original.replace(
        "\"pass\": 2,\n      \"offset\": 0",
        &format!("\"pass\": 2,\n      \"offset\": {}", SIZE / 2),
    );
    assert_ne!(forged, original, "{original}");
    std::fs::write(&jf, &forged).unwrap();
    let before = digest(&img);
    let out = mediasan!(env, "wipe", "--yes", "--resume", "--cert-dir", "c", &img);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("changed by hand") && err.contains("--restart"),
        "{err}"
    );
    assert_eq!(digest(&img), before, "nothing written");
    // The real journal, but another signing key.
    std::fs::write(&jf, &original).unwrap();
    let other = env.path("other_key");
    assert!(mediasan!(env, "keygen", "--out", &other).status.success());
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--resume",
        "--cert-dir",
        "c",
        "--key",
        &other,
        &img
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another key"));
    // The real journal with its own key resumes, and --restart always starts over.
    let out = mediasan!(env, "wipe", "--yes", "--resume", "--cert-dir", "c", &img);
    assert_code(&out, 0);
}

#[test]
fn a_renumbered_loop_device_resumes_and_its_old_name_is_not_offered_a_restart() {
    let env = Env::new();
    let (x, y) = (env.path("x.img"), env.path("y.img"));
    make_file(&x, SIZE, 0x78);
    make_file(&y, SIZE, 0x79);
    let (a, b) = free_loop_numbers();
    let first = match LoopDev::attach_at(&x, a) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    interrupt_after_pass_1(&env, &first.dev);
    drop(first);
    // After a "reboot": another file under the old name, X under a new one.
    let on_old = LoopDev::attach_at(&y, a).unwrap();
    let x_now = LoopDev::attach_at(&x, b).unwrap();
    // The device under the old name is not the interrupted medium: a plain wipe goes ahead.
    let out = mediasan!(env, "wipe", "--yes", "--cert-dir", "c3", &on_old.dev);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("unfinished"), "{err}");
    // The interrupted medium resumes under its new name.
    let (out, path) = resumed(&env, &x_now.dev);
    assert_code(&out, 0);
    let c = read_cert(&path);
    assert!(c
        .sanitization
        .resumed
        .iter()
        .any(|e| e.starts_with("resumed")));
    assert_eq!(std::fs::read(&x).unwrap(), expected_bytes(&c, SIZE));
}

#[test]
fn the_seams_of_a_resumed_pass_are_verified_and_catch_a_journal_that_claims_too_much() {
    use mediasan::journal::{self, Found, MacKey};
    let env = Env::new();
    const BIG: usize = 32 << 20;
    let d = match FaultDisk::new(&env, BIG, 0x5A, &["--delay-ms".into(), "20".into()]) {
        Ok(d) => d,
        Err(why) => skip!("{why}"),
    };
    // Killed right after a mid-pass checkpoint: the journal is at some offset inside pass 1.
    let mut child = held(&env, d.dev(), "checkpoint:1", &["--verify-percent", "5"]);
    signal(&child, Signal::SIGKILL);
    let _ = child.wait();
    d.set_faults("delay 0\n");
    let jf = journal_file(&env);
    let key = mediasan::cert::sign::load(&env.path("config/mediasan/signing_key")).unwrap();
    let mac = MacKey::of(&mediasan::cert::sign::Signing::plain(key)).unwrap();
    let Some(Found::Valid(j)) = journal::load::<journal::Journal>(&jf, &mac).unwrap() else {
        panic!("journal")
    };
    let at = j.position.offset;
    assert!(at > 0 && at < BIG as u64, "mid-pass: {at}");
    // An authentic journal that claims 16 MiB more than was written (a bug, or the key's
    // holder cheating) is caught by reading the seam.
    let mut forged = (*j).clone();
    forged.position.offset = at + (16 << 20);
    forged.position.bytes_written += 16 << 20;
    let saved = std::fs::read(&jf).unwrap();
    journal::save(&jf, &forged, &mac).unwrap();
    let (out, path) = resumed(&env, d.dev());
    assert_code(&out, 1);
    let c = read_cert(&path);
    assert_eq!(c.result, Verdict::Fail, "{:?}", c.reasons);
    let seam = c.verification.resume_checks[0];
    assert!(
        seam.offset < forged.position.offset && forged.position.offset < seam.offset + seam.length
    );
    // The honest journal resumes to a PASS whose verification read its seam, and which
    // `verify --cert` repeats.
    std::fs::write(&jf, saved).unwrap();
    let (out, path) = resumed(&env, d.dev());
    assert_code(&out, 0);
    let c = read_cert(&path);
    let seam = c.verification.resume_checks[0];
    assert!(
        seam.offset < at && at < seam.offset + seam.length,
        "{seam:?} around {at}"
    );
    let out = mediasan!(
        env,
        "verify",
        "--cert",
        &path,
        "--pubkey",
        &env.pubkey(),
        &d.dev()
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("OK"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unwritable_or_full_certificate_folder_is_refused_before_any_byte() {
    let env = Env::new();
    let img = env.path("e.img");
    make_file(&img, SIZE, 0x31);
    let before = digest(&img);
    for dir in ["/proc/mediasan-nope", "/proc/version"] {
        let out = mediasan!(env, "wipe", "--yes", "--cert-dir", &dir, &img);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("certificate folder (--cert-dir)"), "{err}");
    }
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--journal-dir",
        "/proc/mediasan-nope",
        &img
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("journal folder (--journal-dir)"), "{err}");
    assert_eq!(
        err.matches("os error").count(),
        1,
        "the OS error once: {err}"
    );
    assert_eq!(digest(&img), before, "untouched");
    // A full one (root: a tiny tmpfs, filled).
    let full = match small_tmpfs(&env, "full", "256k") {
        Ok(m) => m,
        Err(why) => skip!("{why}"),
    };
    let _ = std::fs::write(full.at.join("filler"), vec![1u8; 256 << 10]);
    let out = mediasan!(env, "wipe", "--yes", "--cert-dir", &full.at, &img);
    assert_code(&out, 2);
    assert_eq!(digest(&img), before, "untouched");
}

#[test]
fn an_image_filling_the_filesystem_of_its_certificate_and_journal_still_gets_its_certificate() {
    let env = Env::new();
    let fs = match small_tmpfs(&env, "small", "12m") {
        Ok(m) => m,
        Err(why) => skip!("{why}"),
    };
    // A sparse 32 MiB image on a 12 MiB filesystem, with the certificates and the journals on
    // that same filesystem: the wipe fills it (ENOSPC) mid-pass.
    let img = fs.at.join("sparse.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--checkpoint-interval",
        "0.05",
        "--cert-dir",
        &fs.at.join("certs"),
        "--journal-dir",
        &fs.at.join("journals"),
        &img
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let certs = env.certificates(&fs.at.join("certs"));
    assert_eq!(certs.len(), 1, "{err}");
    assert!(std::fs::metadata(&certs[0]).unwrap().len() > 0);
    let c = read_cert(&certs[0]);
    assert_eq!(c.result, Verdict::Fail);
    assert!(
        c.reasons.iter().any(|r| r.contains("No space left")),
        "{:?}",
        c.reasons
    );
}

#[test]
fn a_certificate_folder_that_fails_after_the_wipe_falls_back_and_says_where() {
    let env = Env::new();
    let img = env.path("f.img");
    make_file(&img, SIZE, 0x41);
    let fs = match small_tmpfs(&env, "certs", "4m") {
        Ok(m) => m,
        Err(why) => skip!("{why}"),
    };
    let mut child = env
        .cmd()
        .args([
            "wipe",
            "--yes",
            "--json",
            "--test-hold",
            "settled",
            "--cert-dir",
        ])
        .arg(&fs.at)
        .arg(&img)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("test_hold") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0);
    }
    assert!(std::process::Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&fs.at)
        .status()
        .unwrap()
        .success());
    signal(&child, Signal::SIGHUP);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "{err}");
    assert!(err.contains("it is in"), "{err}");
    let result: serde_json::Value = rest
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event"] == "result")
        .unwrap();
    let path = Path::new(result["certificate"].as_str().unwrap());
    assert!(!path.starts_with(&fs.at), "{path:?}");
    assert_eq!(read_cert(path).result, Verdict::Pass);
    assert!(Path::new(&format!("{}.sig", path.display())).exists());
}

#[test]
fn bad_numbers_endless_files_and_failed_creates_are_one_line_errors() {
    let env = Env::new();
    let img = env.path("n.img");
    make_file(&img, SIZE, 0x51);
    let before = digest(&img);
    let run = |args: &[&str]| {
        let out = env.cmd().args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let img_s = img.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["wipe", "--yes", "--checkpoint-interval", "NaN", img_s],
            "from 0.05 to 3600",
        ),
        (
            vec!["wipe", "--yes", "--slow-window", "NaN", img_s],
            "seconds from 0.1",
        ),
        (
            vec!["wipe", "--yes", "--slow-floor=-inf", img_s],
            "MB/s from 0",
        ),
        (
            vec!["wipe", "--yes", "--key", "/dev/zero", img_s],
            "larger than",
        ),
        (
            vec!["wipe", "--yes", "--policy", "/dev/zero", img_s],
            "larger than",
        ),
        (
            vec!["wipe", "--yes", "--config", "/dev/zero", img_s],
            "larger than",
        ),
        (
            vec!["keygen", "--out", "/proc/mediasan/k"],
            "choose another --out",
        ),
        (vec!["purge-status", img_s], "has no sanitize status"),
    ] {
        let (code, err) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert_eq!(digest(&img), before, "untouched");
    assert_eq!(journals(&env), 0, "no journal written by a refused run");
    // A --create that cannot be sized leaves nothing behind to block a retry.
    let huge = env.path("huge.img");
    let (code, err) = run(&["wipe", "--yes", "--create", "1P", huge.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(!huge.exists(), "the failed image is removed");
    let (code, err) = run(&[
        "wipe",
        "--yes",
        "--create",
        "1M",
        "--cert-dir",
        "c",
        huge.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "the retry works: {err}");
}

/// A wiped 1 MiB image: (certificate, its signature path).
fn signed(env: &Env) -> (std::path::PathBuf, std::path::PathBuf) {
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--create",
        "1M",
        "--cert-dir",
        "c",
        &env.path("s.img")
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cert = env.certificates(&env.path("c"))[0].clone();
    let sig = std::path::PathBuf::from(format!("{}.sig", cert.display()));
    (cert, sig)
}

fn code_and_out(env: &Env, args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = env.cmd().args(args).output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_certificate_re_signed_with_another_key_never_exits_0_without_a_trusted_signer() {
    if !have("ssh-keygen") {
        skip!("ssh-keygen (openssh-client) is not installed");
    }
    let env = Env::new();
    let (cert, _) = signed(&env);
    // The attacker edits the certificate and signs it with their own key, as ssh-keygen would.
    let attacker = env.path("attacker");
    assert!(std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&attacker)
        .status()
        .unwrap()
        .success());
    let forged = env.path("forged.json");
    let text = std::fs::read_to_string(&cert).unwrap();
    std::fs::write(
        &forged,
        text.replacen("\"serial\": \"\"", "\"serial\": \"SN-FAKE\"", 1),
    )
    .unwrap();
    assert!(std::process::Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "mediasan-certificate", "-f"])
        .arg(&attacker)
        .arg(&forged)
        .output()
        .unwrap()
        .status
        .success());
    let os = |s: &str| std::ffi::OsString::from(s);
    let f = forged.clone().into_os_string();
    let out = env.path("r.pdf").into_os_string();
    let img = env.path("s.img").into_os_string();
    // Without any trust anchor: the signature is valid, the signer is not checked: never 0.
    for args in [
        vec![os("cert"), os("verify"), f.clone()],
        vec![os("cert"), os("show"), f.clone()],
        vec![
            os("cert"),
            os("render"),
            f.clone(),
            os("--out"),
            out.clone(),
        ],
        vec![os("verify"), os("--cert"), f.clone(), img.clone()],
    ] {
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let (code, text) = code_and_out(&env, &refs);
        assert_eq!(code, Some(1), "{args:?}: {text}");
        assert!(text.contains("NOT CHECKED"), "{args:?}: {text}");
    }
    // With the organization's key (--pubkey, or allowed_signers): NOT TRUSTED.
    let (code, text) = code_and_out(
        &env,
        &[
            os("cert").as_os_str(),
            os("verify").as_os_str(),
            f.as_os_str(),
            os("--pubkey").as_os_str(),
            env.pubkey().as_os_str(),
        ],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("NOT TRUSTED"), "{text}");
    env.trust_default_key();
    let (code, text) = code_and_out(
        &env,
        &[
            os("cert").as_os_str(),
            os("verify").as_os_str(),
            f.as_os_str(),
        ],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("NOT TRUSTED"), "{text}");
    // The genuine one, through the organization file's allowed_signers: 0, naming the principal.
    let (code, text) = code_and_out(
        &env,
        &[
            os("cert").as_os_str(),
            os("verify").as_os_str(),
            cert.as_os_str(),
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("tester in"), "{text}");
}

#[test]
fn allowed_signers_principals_and_validity_agree_with_openssh() {
    if !have("ssh-keygen") {
        skip!("ssh-keygen (openssh-client) is not installed");
    }
    let env = Env::new();
    let (cert, sig) = signed(&env);
    let c = read_cert(&cert);
    let key = std::fs::read_to_string(env.pubkey()).unwrap();
    let when: String = c
        .sanitization
        .finished
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let when = &when[..14];
    let day_before = {
        let d: u64 = when[..8].parse().unwrap();
        format!("{}", d - 1)
    };
    // (allowed_signers line, principal asked, trusted?)
    let cases = [
        (format!("lab {key}"), "lab", true),
        (format!("lab,ops-* {key}"), "ops-3", true),
        (format!("lab {key}"), "intruder", false),
        (format!("lab namespaces=\"file\" {key}"), "lab", false),
        (
            format!("lab namespaces=\"file,mediasan-*\" {key}"),
            "lab",
            true,
        ),
        (
            format!("lab valid-before=\"{day_before}Z\" {key}"),
            "lab",
            false,
        ),
        (
            format!("lab valid-after=\"{day_before}Z\" {key}"),
            "lab",
            true,
        ),
        (format!("lab cert-authority {key}"), "lab", false),
    ];
    for (i, (line, principal, want)) in cases.iter().enumerate() {
        let file = env.path(&format!("as{i}"));
        std::fs::write(&file, line).unwrap();
        let ours = mediasan!(
            env,
            "cert",
            "verify",
            "--principal",
            &principal,
            "--allowed-signers",
            &file,
            &cert
        );
        let openssh = std::process::Command::new("ssh-keygen")
            .args([
                "-Y",
                "verify",
                "-n",
                "mediasan-certificate",
                "-I",
                principal,
            ])
            .arg("-f")
            .arg(&file)
            .arg("-s")
            .arg(&sig)
            .stdin(std::fs::File::open(&cert).unwrap())
            .output()
            .unwrap();
        assert_eq!(
            ours.status.success(),
            *want,
            "{line} / {principal}: {}",
            String::from_utf8_lossy(&ours.stdout)
        );
        assert_eq!(
            openssh.status.success(),
            *want,
            "OpenSSH on {line} / {principal}: {}",
            String::from_utf8_lossy(&openssh.stderr)
        );
    }
}

#[test]
fn signature_files_are_read_exactly_as_ssh_keygen_reads_them() {
    if !have("ssh-keygen") {
        skip!("ssh-keygen (openssh-client) is not installed");
    }
    let env = Env::new();
    let (cert, sig) = signed(&env);
    let text = std::fs::read_to_string(&sig).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let body = lines[1..lines.len() - 1].join("");
    let variants = [
        ("as written", text.clone()),
        ("CRLF", text.replace('\n', "\r\n")),
        ("leading whitespace", format!("  {text}")),
        ("leading newline", format!("\n{text}")),
        (
            "one long line",
            format!("{}\n{body}\n{}\n", lines[0], lines[lines.len() - 1]),
        ),
        (
            "re-wrapped at 20",
            format!(
                "{}\n{}\n{}\n",
                lines[0],
                body.as_bytes()
                    .chunks(20)
                    .map(|c| String::from_utf8_lossy(c).to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
                lines[lines.len() - 1]
            ),
        ),
        ("trailing data", format!("{text}trailing garbage\n")),
        ("two blocks", format!("{text}{text}")),
        ("no final newline", text.trim_end().to_string()),
        (
            "footer glued to the base64",
            format!("{}\n{body}{}\n", lines[0], lines[lines.len() - 1]),
        ),
        ("bad base64", text.replacen(&body[..4], "!!!!", 1)),
    ];
    for (what, v) in variants {
        let s = env.path("variant.sig");
        std::fs::write(&s, &v).unwrap();
        let openssh = std::process::Command::new("ssh-keygen")
            .args(["-Y", "check-novalidate", "-n", "mediasan-certificate", "-s"])
            .arg(&s)
            .stdin(std::fs::File::open(&cert).unwrap())
            .output()
            .unwrap()
            .status
            .success();
        let ours = mediasan!(
            env,
            "cert",
            "verify",
            "--pubkey",
            &env.pubkey(),
            "--sig",
            &s,
            &cert
        );
        assert_eq!(
            ours.status.success(),
            openssh,
            "{what}: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        if !openssh {
            assert_eq!(
                ours.status.code(),
                Some(2),
                "{what}: unusable signature file"
            );
        }
    }
    // An RSA signature: the key type is named, not "changed after signing".
    let rsa = env.path("rsa");
    assert!(std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
        .arg(&rsa)
        .status()
        .unwrap()
        .success());
    let copy = env.path("copy.json");
    std::fs::copy(&cert, &copy).unwrap();
    assert!(std::process::Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "mediasan-certificate", "-f"])
        .arg(&rsa)
        .arg(&copy)
        .output()
        .unwrap()
        .status
        .success());
    let out = mediasan!(env, "cert", "verify", &copy);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("RSA") && err.contains("Ed25519"), "{err}");
    assert!(!err.contains("changed after signing"), "{err}");
}

#[test]
fn cert_show_hashes_the_bytes_it_verified_and_verify_does_not_pass_a_failed_certificate() {
    let env = Env::new();
    let (cert, _) = signed(&env);
    env.trust_default_key();
    let out = mediasan!(env, "cert", "show", &cert);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&digest(&cert)));
    // A FAIL certificate whose samples still match (signed by the trusted key: here made by
    // editing a PASS and signing it again with ssh-keygen): the media matches, but that is
    // not a sanitization: exit 1, never "PASS".
    if !have("ssh-keygen") {
        skip!("ssh-keygen (openssh-client) is not installed");
    }
    let failed = env.path("failed.json");
    let text = std::fs::read_to_string(&cert).unwrap();
    std::fs::write(
        &failed,
        text.replacen("\"result\": \"PASS\"", "\"result\": \"FAIL\"", 1)
            .replacen(
                "\"reasons\": []",
                "\"reasons\": [\"hidden sectors were not overwritten\"]",
                1,
            ),
    )
    .unwrap();
    assert!(std::process::Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "mediasan-certificate", "-f"])
        .arg(env.path("config/mediasan/signing_key"))
        .arg(&failed)
        .output()
        .unwrap()
        .status
        .success());
    let out = mediasan!(
        env,
        "verify",
        "--json",
        "--cert",
        &failed,
        &env.path("s.img")
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("MATCHES, BUT NOT SANITIZED"), "{stdout}");
    assert!(
        stdout.contains("\"result\":\"FAIL\"") && stdout.contains("\"media_matches\":true"),
        "{stdout}"
    );
}

#[test]
fn a_signal_at_every_purge_boundary_leaves_code_and_certificate_agreeing() {
    // (point, expected exit, what the certificate says)
    let cases = [
        ("purge-start", 130, "the drive erased nothing"),
        ("purge-wait", 130, "not followed to the end"),
        ("purge-settled", 0, ""),
        ("purge-certified", 0, ""),
    ];
    for (point, want, why) in cases {
        let env = Env::new();
        let mut cmd = env.cmd();
        cmd.args(["purge", "/dev/simnvme0", "--simulate", "nvme:4M:crypto"])
            .args([
                "--yes",
                "--json",
                "--poll-interval",
                "0.01",
                "--cert-dir",
                "c",
            ])
            .args(["--test-hold", point]);
        let mut child = spawn_held(cmd, point);
        signal(&child, Signal::SIGINT);
        let code = child.wait().unwrap().code();
        assert_eq!(code, Some(want), "{point}");
        let c = only_cert(&env);
        match want {
            130 => {
                assert_eq!(c.result, Verdict::Incomplete, "{point}: {:?}", c.reasons);
                assert!(
                    c.reasons.iter().any(|r| r.contains(why)),
                    "{point}: {:?}",
                    c.reasons
                );
            }
            _ => assert_eq!(c.result, Verdict::Pass, "{point}: {:?}", c.reasons),
        }
    }
}

/// Runs `mediasan ARGS` on a pseudo-terminal (so it asks for confirmation), answers `answer`,
/// and returns everything it printed there.
fn on_a_terminal(env: &Env, args: &[&std::ffi::OsStr], answer: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("mediasan");
    let script = r#"
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:-1])
out = b""
sent = False
deadline = time.time() + 30
while time.time() < deadline:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not sent and b"Type 'yes'" in out:
        os.write(fd, sys.argv[-1].encode())
        sent = True
os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(bin)
        .args(args)
        .arg(answer)
        .env("XDG_CONFIG_HOME", env.path("config"))
        .env("XDG_STATE_HOME", env.path("state"))
        .env_remove("MEDIASAN_CREATE_KEY")
        .env_remove("MEDIASAN_KEY")
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn on_a_terminal_the_default_key_is_made_on_first_use_and_announced() {
    let env = Env::new();
    let image = env.path("d.img");
    let args: Vec<&std::ffi::OsStr> = ["wipe", "--yes", "--create", "64K"]
        .iter()
        .map(std::ffi::OsStr::new)
        .chain([image.as_os_str()])
        .collect();
    let screen = on_a_terminal(&env, &args, "");
    assert!(screen.contains("created signing key"), "{screen}");
    assert!(screen.contains("PASS"), "{screen}");
    assert!(env.pubkey().exists());
}

#[test]
fn a_hostile_backing_file_name_reaches_no_terminal_raw() {
    let env = Env::new();
    let dir = env.path("d");
    std::fs::create_dir(&dir).unwrap();
    let evil = dir.join("evil\u{1b}[2J\u{1b}[1;1H\nRESULT: PASS\u{202e}gmi.img");
    make_file(&evil, SIZE, 0x13);
    let lo = match LoopDev::attach(&evil, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    let raw = |text: &str, what: &str| {
        assert!(
            !text.contains('\u{1b}')
                && !text.contains('\u{202e}')
                && !text.contains("\nRESULT: PASS"),
            "{what}: a raw control character reached the terminal: {text:?}"
        );
    };
    let run = |args: &[&std::ffi::OsStr]| {
        let out = env.cmd().args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    let dev = lo.dev.clone().into_os_string();
    // list, as text: escaped; as JSON: the raw name, JSON-escaped (valid JSON, no raw ESC).
    let (_, text, _) = run(&[&os("list")]);
    raw(&text, "list");
    let (_, json, _) = run(&[&os("list"), &os("--json")]);
    let entry = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["path"] == lo.dev.display().to_string())
        .unwrap();
    assert_eq!(
        entry["backing"].as_str().unwrap(),
        evil.to_str().unwrap(),
        "JSON keeps it raw"
    );
    assert!(!json.contains('\u{1b}'));
    // The dry run, a refusal naming the file, the confirmation prompt, a real wipe.
    let (_, out, err) = run(&[&os("wipe"), &os("--dry-run"), &dev]);
    raw(&out, "dry run");
    raw(&err, "dry run");
    let (code, _, err) = run(&[&os("wipe"), &os("--yes"), evil.as_os_str()]);
    assert_eq!(code, Some(3));
    raw(&err, "refusal");
    let screen = on_a_terminal(&env, &[&os("wipe"), &dev], "no\n");
    assert!(screen.contains("This will DESTROY ALL DATA"), "{screen:?}");
    raw(&screen, "prompt");
    let (code, _, err) = run(&[&os("wipe"), &os("--yes"), &os("--cert-dir"), &os("c"), &dev]);
    assert_eq!(code, Some(0), "{err}");
    raw(&err, "wipe");
    let cert = env.certificates(&env.path("c"))[0].clone();
    env.trust_default_key();
    let (_, shown, _) = run(&[&os("cert"), &os("show"), cert.as_os_str()]);
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{202e}'),
        "{shown:?}"
    );
    assert_eq!(
        shown.lines().filter(|l| l.starts_with("RESULT")).count(),
        1,
        "{shown}"
    );
}

/// Signs `file` with `key` in `namespace` with OpenSSH, into `out` (a copy is signed, so
/// nothing beside `file` is touched but `out`).
fn ssh_sign(key: &Path, file: &Path, namespace: &str, out: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("f");
    std::fs::copy(file, &copy).unwrap();
    let o = std::process::Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .arg(&copy)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::copy(dir.path().join("f.sig"), out).unwrap();
}

#[test]
fn a_retired_key_cannot_sign_a_backdated_certificate_unless_the_claimed_time_is_asked_for() {
    if !have("ssh-keygen") {
        skip!("ssh-keygen (openssh-client) is not installed");
    }
    let env = Env::new();
    let (cert, sig) = signed(&env);
    // The key was retired at the start of 2026; today its holder signs a certificate that
    // says it was made in 2025.
    let text = std::fs::read_to_string(&cert).unwrap();
    let c = read_cert(&cert);
    let back = text
        .replace(&c.sanitization.started, "2025-03-01T10:00:00Z")
        .replace(&c.sanitization.finished, "2025-03-01T10:05:00Z");
    std::fs::write(&cert, back).unwrap();
    std::fs::remove_file(&sig).unwrap();
    ssh_sign(
        &env.path("config/mediasan/signing_key"),
        &cert,
        "mediasan-certificate",
        &sig,
    );
    let key = std::fs::read_to_string(env.pubkey()).unwrap();
    let trust = env.path("allowed_signers");
    std::fs::write(&trust, format!("lab valid-before=\"20260101Z\" {key}")).unwrap();
    let openssh = |extra: &[&str]| {
        std::process::Command::new("ssh-keygen")
            .args(["-Y", "verify", "-n", "mediasan-certificate", "-I", "lab"])
            .args(extra)
            .arg("-f")
            .arg(&trust)
            .arg("-s")
            .arg(&sig)
            .stdin(std::fs::File::open(&cert).unwrap())
            .output()
            .unwrap()
            .status
            .success()
    };
    // As OpenSSH judges by default: now, when the key is no longer valid.
    assert!(!openssh(&[]));
    let out = mediasan!(env, "cert", "verify", "--allowed-signers", &trust, &cert);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("NOT TRUSTED") && text.contains("no longer valid"),
        "{text}"
    );
    std::fs::write(env.path("assets.csv"), "serial,asset_tag\n,\n").unwrap();
    let out = mediasan!(env, "audit", "c", "--allowed-signers", &trust, "--json");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"class\":\"untrusted\""),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Asked for explicitly: judged at the time the certificate claims, as OpenSSH with
    // -Overify-time, and the output says whose clock that is.
    assert!(openssh(&["-Overify-time=20250301100500Z"]));
    let out = mediasan!(
        env,
        "cert",
        "verify",
        "--allowed-signers",
        &trust,
        "--verify-time",
        "claimed",
        &cert
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("signer's clock"), "{text}");
    let out = mediasan!(
        env,
        "audit",
        "c",
        "--allowed-signers",
        &trust,
        "--verify-time",
        "claimed"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("signer's clock"), "{text}");
    // A fixed time, as -Overify-time.
    let out = mediasan!(
        env,
        "cert",
        "verify",
        "--allowed-signers",
        &trust,
        "--verify-time",
        "20251231Z",
        &cert
    );
    assert_eq!(out.status.code(), Some(0));
    let out = mediasan!(env, "cert", "verify", "--verify-time", "yesterday", &cert);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--verify-time"), "{err}");
}

#[test]
fn a_countersignature_made_with_the_certificates_own_key_validates_nothing() {
    if !have("ssh-keygen") {
        skip!("ssh-keygen (openssh-client) is not installed");
    }
    let env = Env::new();
    let (cert, _) = signed(&env);
    env.trust_default_key();
    // The operator countersigns their own certificate with OpenSSH (mediasan refuses to).
    let vsig = std::path::PathBuf::from(format!("{}.validation.sig", cert.display()));
    ssh_sign(
        &env.path("config/mediasan/signing_key"),
        &cert,
        "mediasan-validation",
        &vsig,
    );
    let out = mediasan!(env, "cert", "verify", &cert);
    let text = String::from_utf8_lossy(&out.stdout);
    let validated = text
        .lines()
        .find(|l| l.contains("validated (countersigned)"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        !validated.contains("(trusted") && validated.contains("own signing key"),
        "{text}"
    );
    let out = mediasan!(env, "audit", "c", "--json");
    let ev: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.status.code(), Some(1), "{ev:?}");
    let f = ev.iter().find(|e| e["event"] == "audit_file").unwrap();
    assert!(f["validated_by"].is_null(), "{f}");
    let s = ev.last().unwrap();
    assert_eq!(s["clean"], false, "{s}");
}

/// A new Ed25519 key pair `name` and `name.pub` in `dir`, by ssh-keygen.
fn ed25519(dir: &Path, name: &str) {
    keygen(
        dir,
        &["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", name],
    );
}

/// `ssh-keygen` with these arguments, which must succeed.
fn keygen(dir: &Path, args: &[&str]) {
    let o = std::process::Command::new("ssh-keygen")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// OpenSSH's verdict on `sig` over `file` under `allowed`: with a principal (`-Y verify -I`),
/// or, without one, the principal `-Y find-principals` finds, verified.
fn openssh_trusts(allowed: &Path, file: &Path, sig: &Path, principal: Option<&str>) -> bool {
    let found;
    let principal = match principal {
        Some(p) => p,
        None => {
            let o = std::process::Command::new("ssh-keygen")
                .args(["-Y", "find-principals", "-f"])
                .arg(allowed)
                .arg("-s")
                .arg(sig)
                .output()
                .unwrap();
            if !o.status.success() {
                return false;
            }
            found = String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            &found
        }
    };
    std::process::Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-n",
            "mediasan-certificate",
            "-I",
            principal,
            "-f",
        ])
        .arg(allowed)
        .arg("-s")
        .arg(sig)
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn openssh_certificates_from_a_fleet_ca_are_judged_exactly_as_ssh_keygen_judges_them() {
    if !have("ssh-keygen") {
        skip!("ssh-keygen (openssh-client) is not installed");
    }
    let env = Env::new();
    let (cert, _) = signed(&env);
    let d = env.path("ca");
    std::fs::create_dir_all(&d).unwrap();
    for k in ["ca", "other_ca", "host"] {
        ed25519(&d, k);
    }
    // Host certificates: (name, CA, extra ssh-keygen -s arguments).
    let certs: [(&str, &str, &[&str]); 7] = [
        ("good", "ca", &["-n", "mediasan@fleet,ops", "-V", "-5m:+1h"]),
        ("expired", "ca", &["-n", "mediasan@fleet", "-V", "-2h:-1h"]),
        ("not_yet", "ca", &["-n", "mediasan@fleet", "-V", "+1h:+2h"]),
        (
            "other_principal",
            "ca",
            &["-n", "someone@else", "-V", "-5m:+1h"],
        ),
        ("no_principals", "ca", &["-V", "-5m:+1h"]),
        (
            "host_cert",
            "ca",
            &["-h", "-n", "mediasan@fleet", "-V", "-5m:+1h"],
        ),
        (
            "wrong_ca",
            "other_ca",
            &["-n", "mediasan@fleet", "-V", "-5m:+1h"],
        ),
    ];
    let ca_pub = std::fs::read_to_string(d.join("ca.pub")).unwrap();
    let lines = [
        ("plain", format!("mediasan@fleet cert-authority {ca_pub}")),
        (
            "glob",
            format!("*@fleet cert-authority,namespaces=\"mediasan-certificate\" {ca_pub}"),
        ),
        (
            "other_namespace",
            format!("mediasan@fleet cert-authority,namespaces=\"file\" {ca_pub}"),
        ),
        (
            "retired",
            format!("mediasan@fleet cert-authority,valid-before=\"20200101\" {ca_pub}"),
        ),
        // The CA's key as a plain key: trusts signatures by the CA key itself, not its
        // certificates.
        ("not_a_ca_line", format!("mediasan@fleet {ca_pub}")),
    ];
    let mut trusted = 0;
    for (name, ca, args) in certs {
        std::fs::copy(d.join("host"), d.join(name)).unwrap();
        std::fs::copy(d.join("host.pub"), d.join(format!("{name}.pub"))).unwrap();
        let mut a = vec!["-q", "-s", ca, "-I", name];
        a.extend_from_slice(args);
        let pubfile = format!("{name}.pub");
        a.push(&pubfile);
        keygen(&d, &a);
        let sig = env.path(&format!("{name}.sig"));
        ssh_sign(
            &d.join(format!("{name}-cert.pub")),
            &cert,
            "mediasan-certificate",
            &sig,
        );
        std::fs::copy(&sig, format!("{}.sig", cert.display())).unwrap();
        for (line_name, line) in &lines {
            let allowed = env.path("allowed_signers");
            std::fs::write(&allowed, line).unwrap();
            for principal in [None, Some("mediasan@fleet")] {
                let want = openssh_trusts(&allowed, &cert, &sig, principal);
                let mut cmd = env.cmd();
                cmd.args(["cert", "verify"])
                    .arg(&cert)
                    .arg("--allowed-signers")
                    .arg(&allowed);
                if let Some(p) = principal {
                    cmd.args(["--principal", p]);
                }
                let out = cmd.output().unwrap();
                let said = String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr);
                assert_eq!(
                    out.status.code() == Some(0),
                    want,
                    "{name} under {line_name} ({principal:?}): OpenSSH says {}, mediasan: {said}",
                    if want { "trusted" } else { "not trusted" }
                );
                if want {
                    trusted += 1;
                    assert!(
                        said.contains(&format!("OpenSSH certificate \"{name}\"")),
                        "{said}"
                    );
                }
            }
        }
    }
    // The good certificate under the two lines that allow it, with and without a principal.
    assert_eq!(trusted, 4);
}

#[test]
fn a_key_with_an_openssh_certificate_signs_what_ssh_keygen_and_one_ca_line_trust() {
    if !have("ssh-keygen") {
        skip!("ssh-keygen (openssh-client) is not installed");
    }
    let env = Env::new();
    let d = env.path("keys");
    std::fs::create_dir_all(&d).unwrap();
    ed25519(&d, "ca");
    // Two hosts, each with its own key and a short-lived certificate from the fleet CA.
    for host in ["host1", "host2"] {
        let out = mediasan!(env, "keygen", "--out", &d.join(host));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pubfile = format!("{host}.pub");
        keygen(
            &d,
            &[
                "-q",
                "-s",
                "ca",
                "-I",
                &format!("{host}-boot1"),
                "-n",
                "mediasan@fleet",
                "-V",
                "-5m:+1h",
                &pubfile,
            ],
        );
        let out = mediasan!(
            env,
            "wipe",
            "--yes",
            "--create",
            "64K",
            "--cert-dir",
            "certs",
            "--key",
            &d.join(host),
            &env.path(&format!("{host}.img"))
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ca = std::fs::read_to_string(d.join("ca.pub")).unwrap();
    let allowed = env.path("allowed_signers");
    std::fs::write(
        &allowed,
        format!("mediasan@fleet cert-authority,namespaces=\"mediasan-certificate\" {ca}"),
    )
    .unwrap();
    let certs = env.certificates(&env.path("certs"));
    assert_eq!(certs.len(), 2);
    for c in &certs {
        let sig = std::path::PathBuf::from(format!("{}.sig", c.display()));
        assert!(
            openssh_trusts(&allowed, c, &sig, Some("mediasan@fleet")),
            "ssh-keygen -Y verify accepts {}",
            c.display()
        );
        let out = mediasan!(env, "cert", "verify", c, "--allowed-signers", &allowed);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("-boot1\" (serial 0) from the CA"));
    }
    // The auditor trusts the one CA line: both hosts' records are CLEAN, and counted as one
    // signer (the principal and the CA), on two machines.
    let out = mediasan!(env, "audit", "certs", "--allowed-signers", &allowed);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let ca_fp = ssh_fingerprint(&d.join("ca.pub"));
    assert!(
        text.contains(&format!("By signer: mediasan@fleet (CA {ca_fp}) 2")),
        "{text}"
    );
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(
        text.contains(&format!("By machine: {} 2", hostname.trim())),
        "{text}"
    );

    // A certificate that would make every signature untrusted is refused before any work:
    // expired, or for another key.
    keygen(
        &d,
        &[
            "-q",
            "-s",
            "ca",
            "-I",
            "old",
            "-n",
            "mediasan@fleet",
            "-V",
            "-2h:-1h",
            "host1.pub",
        ],
    );
    let refused = |key: &str, img: &str, why: &str| {
        let out = mediasan!(
            env,
            "wipe",
            "--yes",
            "--create",
            "64K",
            "--cert-dir",
            "certs",
            "--key",
            &d.join(key),
            &env.path(img)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(why), "{err}");
    };
    refused("host1", "x.img", "is not valid now");
    std::fs::copy(d.join("host2"), d.join("host3")).unwrap();
    std::fs::copy(d.join("host1-cert.pub"), d.join("host3-cert.pub")).unwrap();
    refused("host3", "y.img", "for another key");
    assert_eq!(
        env.certificates(&env.path("certs")).len(),
        2,
        "nothing signed with a refused certificate"
    );
}

/// A real ssh-agent on a socket in `dir`, killed when dropped.
struct Agent {
    child: Child,
    socket: PathBuf,
}

impl Agent {
    fn start(dir: &Path) -> Agent {
        let socket = dir.join("agent.sock");
        let child = std::process::Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while !socket.exists() {
            assert!(start.elapsed().as_secs() < 20, "ssh-agent did not start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Agent { child, socket }
    }

    fn add(&self, key: &Path) {
        let o = std::process::Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_key_held_by_ssh_agent_signs_and_never_touches_the_disk() {
    if !have("ssh-keygen") || !have("ssh-agent") || !have("ssh-add") {
        skip!("ssh-keygen, ssh-agent and ssh-add (openssh-client) are needed");
    }
    let env = Env::new();
    let d = env.path("keys");
    std::fs::create_dir_all(&d).unwrap();
    ed25519(&d, "token");
    ed25519(&d, "ca");
    let agent = Agent::start(&d);
    agent.add(&d.join("token"));
    // The private half leaves the disk: only the agent holds it now.
    std::fs::remove_file(d.join("token")).unwrap();
    let wipe = |img: &str, sock: Option<&Path>| {
        let mut c = env.cmd();
        c.args([
            "wipe",
            "--yes",
            "--create",
            "64K",
            "--cert-dir",
            "certs",
            "--key",
        ])
        .arg(d.join("token.pub"))
        .arg(env.path(img))
        .env_remove("SSH_AUTH_SOCK");
        if let Some(s) = sock {
            c.env("SSH_AUTH_SOCK", s);
        }
        c.output().unwrap()
    };
    let out = wipe("a.img", Some(&agent.socket));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pubkey = std::fs::read_to_string(d.join("token.pub")).unwrap();
    let allowed = env.path("allowed_signers");
    std::fs::write(&allowed, format!("ops {pubkey}")).unwrap();
    let cert = env.certificates(&env.path("certs")).pop().unwrap();
    let sig = PathBuf::from(format!("{}.sig", cert.display()));
    assert!(openssh_trusts(&allowed, &cert, &sig, Some("ops")));

    // With a certificate from the fleet CA beside the public half, the agent's key signs
    // what one CA line trusts.
    keygen(
        &d,
        &[
            "-q",
            "-s",
            "ca",
            "-I",
            "token-1",
            "-n",
            "mediasan@fleet",
            "-V",
            "-5m:+1h",
            "token.pub",
        ],
    );
    let out = wipe("b.img", Some(&agent.socket));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ca = std::fs::read_to_string(d.join("ca.pub")).unwrap();
    std::fs::write(&allowed, format!("mediasan@fleet cert-authority {ca}")).unwrap();
    let newest = env
        .certificates(&env.path("certs"))
        .into_iter()
        .find(|c| *c != cert)
        .unwrap();
    let sig = PathBuf::from(format!("{}.sig", newest.display()));
    assert!(openssh_trusts(
        &allowed,
        &newest,
        &sig,
        Some("mediasan@fleet")
    ));
    let out = mediasan!(
        env,
        "cert",
        "verify",
        &newest,
        "--allowed-signers",
        &allowed
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Without an agent, or with one that does not hold the key: one line, nothing written.
    std::fs::remove_file(d.join("token-cert.pub")).unwrap();
    let out = wipe("c.img", None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SSH_AUTH_SOCK is not set"));
    std::fs::create_dir_all(env.path("other")).unwrap();
    let empty = Agent::start(&env.path("other"));
    let out = wipe("d.img", Some(&empty.socket));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not hold the key"));
    assert_eq!(env.certificates(&env.path("certs")).len(), 2);
}

/// Your own certificates check on your own machine with nothing named: the machine's own
/// signing key is trusted by default and said to be ("trusted: this machine's key"); a
/// certificate signed by any other key stays NOT CHECKED (exit 1), and an audit still trusts
/// only what it names.
#[test]
fn this_machines_own_key_is_trusted_by_default_and_no_other_key_is() {
    let env = Env::new();
    let (cert, _) = signed(&env);
    let c = cert.clone().into_os_string();
    for args in [
        vec!["cert", "verify"],
        vec!["cert", "show"],
        vec!["verify", "--cert"],
    ] {
        let mut argv: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        argv.push(&c);
        let img = env.path("s.img").into_os_string();
        if args[0] == "verify" {
            argv.push(&img);
        }
        let (code, text) = code_and_out(&env, &argv);
        assert_eq!(code, Some(0), "{args:?}: {text}");
        assert!(
            text.contains("trusted: this machine's key"),
            "{args:?}: {text}"
        );
    }
    // Another machine's certificate (another key as this machine's default): NOT CHECKED.
    let other = Env::new();
    let (theirs, _) = signed(&other);
    let (code, text) = code_and_out(
        &env,
        &[
            std::ffi::OsStr::new("cert"),
            "verify".as_ref(),
            theirs.as_os_str(),
        ],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("NOT CHECKED"), "{text}");
    // `--principal` asks for an allowed_signers file: the default does not stand in for it.
    let (code, text) = code_and_out(
        &env,
        &[
            std::ffi::OsStr::new("cert"),
            "verify".as_ref(),
            c.as_os_str(),
            "--principal".as_ref(),
            "tester".as_ref(),
        ],
    );
    assert_eq!(code, Some(1), "{text}");
    // An audit trusts only what it names: without it, it asks whom to trust.
    let (code, text) = code_and_out(
        &env,
        &[std::ffi::OsStr::new("audit"), env.path("c").as_os_str()],
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("whom to trust"), "{text}");
}

/// A printout is what people file: without a trusted signer `cert render` writes nothing
/// unless `--unchecked` asks for it, and then the page says SIGNATURE NOT CHECKED across it;
/// once the signer is trusted, a second run replaces the file it wrote.
#[test]
fn an_unchecked_printout_is_made_only_on_request_marked_across_the_page_and_replaced_later() {
    if !have("pdftotext") || !have("pdftoppm") {
        skip!("poppler-utils (pdftotext, pdftoppm) is not installed");
    }
    // A certificate from another machine: its key is not this machine's.
    let other = Env::new();
    let (theirs, _) = signed(&other);
    let env = Env::new();
    let _ = signed(&env);
    let pdf = env.path("theirs.pdf");
    let render = |extra: &[&std::ffi::OsStr]| {
        let mut argv: Vec<&std::ffi::OsStr> = vec![
            "cert".as_ref(),
            "render".as_ref(),
            theirs.as_os_str(),
            "--out".as_ref(),
            pdf.as_os_str(),
        ];
        argv.extend_from_slice(extra);
        code_and_out(&env, &argv)
    };
    let (code, text) = render(&[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("nothing was written") && text.contains("--unchecked"),
        "{text}"
    );
    assert!(!pdf.exists(), "no printout without a trusted signer");
    let (code, text) = render(&["--unchecked".as_ref()]);
    assert_eq!(code, Some(1), "{text}");
    // Drawn across the page, in red over the middle of it (pdftotext does not read
    // rotated text back: poppler draws the page and the red is counted).
    assert!(red_across_the_middle(&pdf) > 500, "no mark drawn");
    let read = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(read.status.success() && String::from_utf8_lossy(&read.stdout).contains("PASS"));
    // Now trusted (their public key): the same --out is replaced, unmarked, exit 0.
    let theirs_pub = other.pubkey().into_os_string();
    let (code, text) = render(&["--pubkey".as_ref(), theirs_pub.as_os_str()]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        red_across_the_middle(&pdf),
        0,
        "a trusted printout is not marked"
    );
    let words = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&words.stdout);
    assert!(
        !words.contains("NOT CHECKED") && words.contains("PASS"),
        "{words}"
    );
}

/// "This machine's key" is the signing key itself, never whatever `.pub` lies beside it: a
/// `.pub` swapped for another key trusts neither that key's certificates nor loses ours.
#[test]
fn a_swapped_pub_file_beside_the_key_trusts_no_other_key() {
    let env = Env::new();
    let (ours, _) = signed(&env);
    let other = Env::new();
    let (theirs, _) = signed(&other);
    std::fs::copy(other.pubkey(), env.pubkey()).unwrap();
    let verify = |c: &std::path::Path| {
        code_and_out(&env, &["cert".as_ref(), "verify".as_ref(), c.as_os_str()])
    };
    let (code, text) = verify(&theirs);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("NOT CHECKED"), "{text}");
    let (code, text) = verify(&ours);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("trusted: this machine's key"), "{text}");
}
