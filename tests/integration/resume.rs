//! Interruptions: SIGINT and SIGKILL mid-wipe, the journal, and `--resume` with the same
//! stream. Image files only, so these run anywhere.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::*;
use assert_cmd::assert::OutputAssertExt;
use mediasan::cert::Verdict;
use predicates::prelude::*;

const SIZE: usize = 48 << 20;

/// The wipe `start` and `start_held` run.
fn wipe_cmd(env: &Env, img: &Path, extra: &[&str]) -> std::process::Command {
    let mut cmd = env.cmd();
    cmd.args([
        "wipe",
        "--yes",
        "--json",
        "--verify",
        "full",
        "--policy",
        "dod-5220.22-m-ece",
        "--queue-depth",
        "1",
    ])
    .args([
        "--checkpoint-interval",
        "0.05",
        "--buffer-size",
        "256K",
        "--cert-dir",
        "c",
    ])
    .args(extra)
    .arg(img);
    cmd
}

/// Starts a wipe held at its first mid-pass checkpoint (the journal is on disk, the wipe is
/// far from its end) and returns once it waits there for a signal.
fn start_held(env: &Env, img: &Path) -> Child {
    spawn_held(
        wipe_cmd(env, img, &["--test-hold", "checkpoint:1"]),
        "checkpoint:1",
    )
}

/// Starts a wipe with --json and returns once its "start" event is out (the journal exists).
fn start(env: &Env, img: &Path, extra: &[&str]) -> Child {
    let mut child = wipe_cmd(env, img, extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.contains("\"start\""), "{first}");
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in out.lines() {});
    child
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig);
}

/// Whether an unfinished wipe's journal is on disk.
fn journal_kept(env: &Env) -> bool {
    std::fs::read_dir(env.path("state/mediasan/journal"))
        .map(|d| d.count())
        .unwrap_or(0)
        > 0
}

fn final_cert(env: &Env) -> mediasan::cert::Certificate {
    let certs = env.certificates(&env.path("c"));
    certs
        .iter()
        .map(|c| read_cert(c))
        .find(|c| c.result != Verdict::Incomplete)
        .expect("a final certificate")
}

#[test]
fn sigint_keeps_a_journal_and_resume_finishes_with_pass() {
    let env = Env::new();
    let img = env.path("r.img");
    make_file(&img, SIZE, 0x11);
    // Interrupted in its first pass, at a checkpoint.
    let mut child = start_held(&env, &img);
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let c = read_cert(&env.certificates(&env.path("c"))[0]);
    assert_eq!(c.result, Verdict::Incomplete);
    assert!(
        std::fs::read_dir(env.path("state/mediasan/journal"))
            .unwrap()
            .count()
            == 1,
        "journal kept"
    );

    // Without --resume or --restart: refused, naming both; nothing written.
    let before = digest(&img);
    env.cmd()
        .args(["wipe", "--yes"])
        .arg(&img)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--resume").and(predicate::str::contains("--restart")));
    assert_eq!(digest(&img), before);

    let resumed = mediasan!(env, "wipe", "--yes", "--resume", "--cert-dir", "c", &img);
    assert_code(&resumed, 0);
    let said = String::from_utf8_lossy(&resumed.stderr).into_owned();
    let c = final_cert(&env);
    assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
    assert_eq!(c.verification.method, "full");
    assert!(
        c.sanitization
            .resumed
            .iter()
            .any(|e| e.starts_with("interrupted")),
        "{:?}",
        c.sanitization.resumed
    );
    assert!(c
        .sanitization
        .resumed
        .iter()
        .any(|e| e.starts_with("resumed")));
    assert_eq!(c.sanitization.passes.len(), 7);
    // The numbers cover the whole wipe: the interrupted pass was written in two runs, the
    // wipe began when the first run did, and the INCOMPLETE certificate is superseded.
    let incomplete = env
        .certificates(&env.path("c"))
        .iter()
        .map(|p| read_cert(p))
        .find(|c| c.result == Verdict::Incomplete)
        .unwrap();
    // The pass the signal cut (unless it came between two passes).
    let size = SIZE as u64;
    let partial = incomplete
        .sanitization
        .passes
        .iter()
        .find(|p| p.interrupted && p.bytes_written > 0 && p.bytes_written < size)
        .map(|p| p.index);
    // (A signal between two passes cuts none: then every pass is one run.)
    if let Some(i) = partial {
        // The resumed run quotes its own bytes at its own rate, and what the pass holds in all.
        let line = format!("pass {i}/7 ");
        let l = said
            .lines()
            .find(|l| l.contains(&line))
            .unwrap_or_else(|| panic!("{said}"));
        assert!(
            l.contains("written by this run (") && l.contains("of the pass in all)"),
            "{l}"
        );
        let cut = &c.sanitization.passes[i - 1];
        assert_eq!(cut.segments.len(), 2, "{:?}", cut.segments);
        assert_eq!(cut.segments[1].from_offset, cut.segments[0].bytes_written);
        assert_eq!(
            cut.segments.iter().map(|s| s.bytes_written).sum::<u64>(),
            cut.bytes_written
        );
        let busy: f64 = cut.segments.iter().map(|s| s.seconds).sum();
        assert!((cut.bytes_per_second - cut.bytes_written as f64 / busy).abs() < 2.0);
        assert_eq!(cut.started, cut.segments[0].started);
    }
    assert!(c.sanitization.passes.iter().all(|p| !p.segments.is_empty()));
    assert_eq!(c.sanitization.started, incomplete.sanitization.started);
    assert!(c.sanitization.active_seconds <= c.sanitization.duration_seconds + 1.0);
    assert_eq!(c.supersedes, vec![incomplete.id.clone()]);
    assert!(incomplete.supersedes.is_empty());
    assert!(
        std::fs::read(&img).unwrap() == expected_bytes(&c, SIZE),
        "the same streams, every byte"
    );
    assert_eq!(
        std::fs::read_dir(env.path("state/mediasan/journal"))
            .unwrap()
            .count(),
        0,
        "journal removed"
    );
    // Nothing left to resume: the refusal names the newest certificate of the medium (the
    // PASS, not the INCOMPLETE it supersedes).
    let pass = env
        .certificates(&env.path("c"))
        .into_iter()
        .find(|p| read_cert(p).result == Verdict::Pass)
        .unwrap();
    let name = pass.file_name().unwrap().to_string_lossy().into_owned();
    env.cmd()
        .args(["wipe", "--yes", "--resume", "--cert-dir", "c"])
        .arg(&img)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("no unfinished wipe").and(predicate::str::contains(format!(
                "the newest certificate for it is c/{name} (PASS, finished {})",
                c.sanitization.finished
            ))),
        );
}

#[test]
fn sigkill_at_several_moments_then_resume_ends_in_a_full_pass() {
    let env = Env::new();
    let img = env.path("k.img");
    make_file(&img, SIZE, 0x22);
    // Kill at these moments after the start event, each time resuming the same wipe.
    let mut resumed = false;
    let mut kills = 0;
    for ms in [25u64, 60, 15, 90, 40, 130, 70, 200] {
        let extra: &[&str] = if resumed { &["--resume"] } else { &[] };
        let mut child = start(&env, &img, extra);
        std::thread::sleep(Duration::from_millis(ms));
        signal(&child, nix::sys::signal::Signal::SIGKILL);
        let status = child.wait().unwrap();
        if status.code() == Some(0) {
            break; // it finished before this kill
        }
        if !journal_kept(&env) {
            // Killed after its certificate was stored and its journal removed, on its way out:
            // the wipe is finished and there is nothing left to resume.
            break;
        }
        kills += 1;
        resumed = true;
    }
    if kills == 0 {
        skip!("every wipe finished before its kill (machine too fast for this size)");
    }
    eprintln!("{kills} SIGKILLs, then resumed to the end");
    if resumed && journal_kept(&env) {
        assert_code(
            &mediasan!(env, "wipe", "--yes", "--resume", "--cert-dir", "c", &img),
            0,
        );
    }
    let c = final_cert(&env);
    assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
    assert_eq!(
        c.verification.bytes_read, SIZE as u64,
        "full verification of every byte"
    );
    assert_eq!(c.verification.blake3, digest(&img));
    assert!(
        std::fs::read(&img).unwrap() == expected_bytes(&c, SIZE),
        "after {kills} kills, the same stream"
    );
    assert!(
        c.sanitization
            .resumed
            .iter()
            .filter(|e| e.starts_with("resumed"))
            .count()
            >= 1
    );
}

#[test]
fn restart_discards_the_journal_and_resume_refuses_other_media() {
    let env = Env::new();
    let img = env.path("m.img");
    make_file(&img, SIZE, 0x33);
    let mut child = start_held(&env, &img);
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    assert_eq!(child.wait().unwrap().code(), None, "killed");
    // Same path, other media (a new file: another inode): journals are filed by the medium,
    // so it has no unfinished wipe to resume; untouched.
    std::fs::remove_file(&img).unwrap();
    make_file(&img, SIZE, 0x44);
    env.cmd()
        .args(["wipe", "--yes", "--resume"])
        .arg(&img)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no unfinished wipe"));
    assert!(std::fs::read(&img).unwrap().iter().all(|&b| b == 0x44));
    // --restart starts over.
    assert_code(
        &mediasan!(env, "wipe", "--yes", "--restart", "--cert-dir", "c", &img),
        0,
    );
    assert_eq!(final_cert(&env).result, Verdict::Pass);
    // Only the journal of the file that is gone is left (a SIGKILL in the middle of a save
    // may leave its .json.tmp beside it).
    assert_eq!(
        std::fs::read_dir(env.path("state/mediasan/journal"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count(),
        1
    );
}

/// Interrupts `wipe ARGS img` at `point` (SIGINT): exit 130 and the INCOMPLETE certificate's
/// path (in `certs`).
fn interrupted_at(env: &Env, point: &str, args: &[&str], img: &Path) -> std::path::PathBuf {
    let mut cmd = env.cmd();
    cmd.args(["wipe", "--yes", "--json", "--test-hold", point])
        .args(args)
        .arg(img);
    let mut child = spawn_held(cmd, point);
    signal(&child, nix::sys::signal::Signal::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let dir = env.path("certs");
    let certs = env.certificates(&dir);
    assert_eq!(certs.len(), 1, "one INCOMPLETE certificate: {certs:?}");
    certs[0].clone()
}

#[test]
fn resume_as_printed_keeps_the_whole_record_and_the_certificate_folder() {
    let env = Env::new();
    let img = env.path("r.img");
    make_file(&img, 8 << 20, 0x11);
    let record = [
        "--cert-dir",
        "certs",
        "--asset-tag",
        "A-7",
        "--operator",
        "Jane Doe",
        "--organization",
        "ACME",
        "--destination",
        "manufacturer",
        "--classification",
        "internal",
        "--note",
        "RMA 4471",
    ];
    let first = interrupted_at(&env, "pass-start:1", &record, &img);
    let cut = read_cert(&first);
    assert_eq!(cut.result, Verdict::Incomplete);
    assert_eq!(cut.media.asset_tag, "A-7");
    // Run as printed (`mediasan wipe IMG --resume`, with --yes as there is no terminal), from
    // another folder.
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = env
        .cmd()
        .current_dir(&elsewhere)
        .args(["wipe", "--yes", "--resume"])
        .arg(&img)
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing lands in the current folder"
    );
    let certs = env.certificates(&env.path("certs"));
    assert_eq!(certs.len(), 2, "the final certificate is beside the first");
    let last = certs
        .iter()
        .map(|c| read_cert(c))
        .find(|c| c.result == Verdict::Pass)
        .expect("a PASS");
    assert_eq!(last.media.asset_tag, "A-7");
    assert_eq!(last.operator.name, "Jane Doe");
    assert_eq!(last.operator.organization, "ACME");
    assert_eq!(last.destination, "manufacturer");
    assert_eq!(last.media.classification, "internal");
    assert!(
        last.notes.iter().any(|n| n == "RMA 4471"),
        "{:?}",
        last.notes
    );
    assert_eq!(last.supersedes, vec![cut.id.clone()]);
    // The audit counts the asset as covered: the INCOMPLETE is superseded.
    env.trust_default_key();
    std::fs::write(env.path("assets.csv"), "serial,asset_tag\n,A-7\n").unwrap();
    let audit = mediasan!(
        env,
        "audit",
        "certs",
        "--assets",
        "assets.csv",
        "--allow-image-records"
    );
    let text = String::from_utf8_lossy(&audit.stdout);
    assert_code(&audit, 0);
    assert!(text.contains("CLEAN"), "{text}");
}

#[test]
fn a_record_flag_given_again_on_resume_must_agree_with_the_journal() {
    let env = Env::new();
    let img = env.path("r.img");
    make_file(&img, 8 << 20, 0x11);
    let record = [
        "--cert-dir",
        "certs",
        "--asset-tag",
        "A-7",
        "--operator",
        "Jane Doe",
    ];
    interrupted_at(&env, "pass-start:1", &record, &img);
    for (flag, value, kept) in [
        ("--asset-tag", "A-8", "A-7"),
        ("--operator", "John Roe", "Jane Doe"),
        ("--cert-dir", "other", "certs"),
    ] {
        let out = mediasan!(env, "wipe", "--yes", "--resume", flag, value, &img);
        assert_code(&out, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(flag) && err.contains(value) && err.contains(kept),
            "{flag}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // The same values again are fine.
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--resume",
        "--asset-tag",
        "A-7",
        "--cert-dir",
        "certs",
        &img
    );
    assert_code(&out, 0);
}

/// Writes `len` bytes of 0xEE at `offset` of `img` (as an OS restoring a GPT, an automount or
/// a person would while the medium is out of mediasan's hands).
fn meddle(img: &Path, offset: u64, len: usize) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
    f.write_all_at(&vec![0xEE; len], offset).unwrap();
    f.sync_all().unwrap();
}

/// The final certificate of `wipe --yes --resume IMG ARGS` (in `certs`) and the run.
fn resume(
    env: &Env,
    img: &Path,
    args: &[&str],
) -> (std::process::Output, mediasan::cert::Certificate) {
    let before = env.certificates(&env.path("certs"));
    let out = env
        .cmd()
        .args(["wipe", "--yes", "--resume"])
        .args(args)
        .arg(img)
        .output()
        .unwrap();
    let new = env
        .certificates(&env.path("certs"))
        .into_iter()
        .find(|c| !before.contains(c))
        .unwrap_or_else(|| {
            panic!(
                "no new certificate: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    (out, read_cert(&new))
}

/// Interrupted at `point`, 4 KiB written at `offset` meanwhile, resumed: the resumed
/// certificate must be a FAIL naming the difference, with its gap and its checks recorded.
fn gap_write_fails(size: u64, point: &str, args: &[&str], offset: u64, cut_at_pass: usize) {
    let env = Env::new();
    let img = env.path("g.img");
    make_file(&img, size as usize, 0x11);
    let mut all = vec!["--cert-dir", "certs"];
    all.extend_from_slice(args);
    interrupted_at(&env, point, &all, &img);
    meddle(&img, offset, 4096);
    let (out, c) = resume(&env, &img, &[]);
    let what = format!(
        "{args:?} cut at {point}, 4 KiB at {offset}: {:?}",
        c.reasons
    );
    assert_code(&out, 1);
    assert_eq!(c.result, Verdict::Fail, "{what}");
    assert!(c.reasons.iter().any(|r| r.contains("differ")), "{what}");
    assert_eq!(c.sanitization.gaps.len(), 1, "{what}");
    let g = &c.sanitization.gaps[0];
    assert!(!g.from.is_empty() && g.from <= g.to, "{g:?}");
    assert_eq!(g.pass, cut_at_pass, "{g:?}");
    let checks = &c.verification.resume_checks;
    assert!(
        checks.iter().any(|r| r.offset == 0 && r.length == 1 << 20),
        "{checks:?}"
    );
    assert!(
        checks
            .iter()
            .any(|r| r.offset + r.length == size && r.length >= 1 << 20),
        "{checks:?}"
    );
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("out of mediasan's hands")),
        "{:?}",
        c.notes
    );
}

#[test]
fn a_write_to_the_first_or_last_mib_while_a_wipe_was_out_of_hand_fails_its_resume() {
    const IMG: u64 = 16 << 20;
    // Cut once every byte was written, before its verification: the whole medium holds the
    // final pattern, and nothing of it will be written again.
    for offset in [0, IMG - 4096, IMG - (1 << 20)] {
        gap_write_fails(IMG, "pass-end:1", &[], offset, 2);
    }
    // Without a verification the first and last MiB are still read: cut inside its only pass
    // (at its first checkpoint), LBA 0 written meanwhile.
    const BIG: u64 = 128 << 20;
    gap_write_fails(
        BIG,
        "checkpoint:1",
        &[
            "--verify",
            "none",
            "--buffer-size",
            "64K",
            "--queue-depth",
            "1",
            "--checkpoint-interval",
            "0.05",
        ],
        0,
        1,
    );
}

#[test]
fn a_resumed_wipe_without_a_gap_write_passes_and_verify_cert_repeats_its_checks() {
    const IMG: u64 = 16 << 20;
    let env = Env::new();
    let img = env.path("g.img");
    make_file(&img, IMG as usize, 0x11);
    interrupted_at(&env, "pass-end:1", &["--cert-dir", "certs"], &img);
    let (out, c) = resume(&env, &img, &[]);
    assert_code(&out, 0);
    assert_eq!(c.result, Verdict::Pass);
    assert!(!c.verification.resume_checks.is_empty());
    let path = env
        .certificates(&env.path("certs"))
        .into_iter()
        .find(|p| read_cert(p).id == c.id)
        .unwrap();
    env.trust_default_key();
    let again = mediasan!(env, "verify", &img, "--cert", &path);
    assert_code(&again, 0);
    // Meddled with afterwards: verify --cert reads the same checks and finds it.
    meddle(&img, 8192, 4096);
    let again = mediasan!(env, "verify", &img, "--cert", &path);
    assert_code(&again, 1);
}

#[test]
fn after_resume_full_reads_the_whole_medium_and_finds_a_write_anywhere() {
    const IMG: u64 = 16 << 20;
    let env = Env::new();
    let img = env.path("g.img");
    make_file(&img, IMG as usize, 0x11);
    interrupted_at(&env, "pass-end:1", &["--cert-dir", "certs"], &img);
    // In the middle, where 10 % samples would most likely miss it.
    meddle(&img, 7 * (1 << 20) + 3 * 4096, 4096);
    let (out, c) = resume(&env, &img, &["--verify-after-resume", "full"]);
    assert_code(&out, 1);
    assert_eq!(c.result, Verdict::Fail, "{:?}", c.reasons);
    assert_eq!(c.verification.method, "full");
    assert_eq!(c.verification.bytes_read, IMG);
}
