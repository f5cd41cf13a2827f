//! Real I/O errors through the kernel's block layer: a direct-I/O loop device over a FUSE file
//! that fails chosen byte ranges (tests/faultfs.py). Root only, like CI; elsewhere each test
//! prints `skipped: <reason>`.

use crate::common::*;
use assert_cmd::assert::OutputAssertExt;
use mediasan::cert::Verdict;

const MIB: usize = 1 << 20;

fn disk(env: &Env, faults: &[&str]) -> Option<FaultDisk> {
    let args: Vec<String> = faults.iter().map(|s| s.to_string()).collect();
    match FaultDisk::new(env, 16 * MIB, 0xAB, &args) {
        Ok(d) => Some(d),
        Err(why) => {
            // Under CI a missing prerequisite fails the test, never skips it.
            assert!(
                !must_run_everything(),
                "this test must run under CI but cannot: {why}"
            );
            eprintln!("skipped: {why}");
            None
        }
    }
}

#[test]
fn write_eio_mid_pass_fails_lists_the_range_and_writes_the_rest() {
    let env = Env::new();
    // 4 KiB at 5 MiB + 4 KiB refuse writes.
    let (s, e) = (5 * MIB + 4096, 5 * MIB + 8192);
    let Some(d) = disk(&env, &["--fail-write", &format!("{s}:{e}")]) else {
        return;
    };
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--policy",
        "nist-clear-zero",
        "--retries",
        "1",
        "--cert-dir",
        "c",
        &d.dev()
    );
    assert_code(&out, 1);
    let c = read_cert(&env.certificates(&env.path("c"))[0]);
    assert_eq!(c.result, Verdict::Fail);
    let errs = &c.sanitization.passes[0].errors;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        (errs[0].offset, errs[0].offset + errs[0].length),
        (s as u64, e as u64),
        "exactly the failing blocks"
    );
    assert!(
        errs[0].error.contains("Input/output error"),
        "{}",
        errs[0].error
    );
    assert_eq!(
        c.sanitization.passes[0].bytes_written,
        (16 * MIB - 4096) as u64
    );
    assert!(
        c.recommendation.starts_with("Destroy"),
        "{}",
        c.recommendation
    );
    assert!(
        c.reasons[0].contains(&format!("offset {s}")),
        "{:?}",
        c.reasons
    );
    drop(d);
    // Everything but the failing range holds zeros; the range keeps its old bytes.
    let b = std::fs::read(env.path("fault-backing.img")).unwrap();
    assert!(
        b[..s].iter().all(|&x| x == 0) && b[e..].iter().all(|&x| x == 0),
        "the rest was written"
    );
    assert!(b[s..e].iter().all(|&x| x == 0xAB));
}

#[test]
fn read_eio_during_verification_fails_and_lists_the_range() {
    let env = Env::new();
    let (s, e) = (9 * MIB, 9 * MIB + 512);
    let Some(d) = disk(&env, &["--fail-read", &format!("{s}:{e}")]) else {
        return;
    };
    env.cmd()
        .args([
            "wipe",
            "--yes",
            "--verify",
            "full",
            "--retries",
            "1",
            "--cert-dir",
            "c",
        ])
        .arg(d.dev())
        .assert()
        .code(1);
    let c = read_cert(&env.certificates(&env.path("c"))[0]);
    assert_eq!(c.result, Verdict::Fail);
    assert!(
        c.sanitization.passes[0].errors.is_empty(),
        "writes were fine"
    );
    let errs = &c.verification.errors;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].offset, errs[0].length), (s as u64, 512));
    assert_eq!(
        c.verification.bytes_read,
        (16 * MIB - 512) as u64,
        "everything else read and compared"
    );
    assert_eq!(c.verification.mismatches, 0);
    assert_eq!(
        c.verification.blake3, "",
        "no digest over an incomplete read"
    );
}

#[test]
fn a_range_that_fails_once_is_retried_and_passes() {
    let env = Env::new();
    let Some(d) = disk(
        &env,
        &[
            "--fail-write",
            &format!("{}:{}:once", 3 * MIB, 3 * MIB + 4096),
        ],
    ) else {
        return;
    };
    assert_code(
        &mediasan!(
            env,
            "wipe",
            "--yes",
            "--verify",
            "full",
            "--cert-dir",
            "c",
            &d.dev()
        ),
        0,
    );
    let c = read_cert(&env.certificates(&env.path("c"))[0]);
    assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
    let p = &c.sanitization.passes[0];
    assert!(
        p.retries >= 1 && p.recovered >= 1,
        "retry counted: {} retries, {} recovered",
        p.retries,
        p.recovered
    );
}

#[test]
fn abort_stops_at_the_first_bad_range() {
    let env = Env::new();
    let Some(d) = disk(
        &env,
        &["--fail-write", &format!("{}:{}", 2 * MIB, 2 * MIB + 512)],
    ) else {
        return;
    };
    env.cmd()
        .args([
            "wipe",
            "--yes",
            "--on-error",
            "abort",
            "--retries",
            "0",
            "--queue-depth",
            "1",
            "--cert-dir",
            "c",
        ])
        .arg(d.dev())
        .assert()
        .code(1);
    let c = read_cert(&env.certificates(&env.path("c"))[0]);
    assert!(c.sanitization.passes[0].aborted);
    assert!(c.sanitization.passes[0].bytes_written <= (3 * MIB) as u64);
    assert!(
        c.reasons.iter().any(|r| r.contains("aborted")),
        "{:?}",
        c.reasons
    );
}

#[test]
fn a_device_that_vanishes_mid_pass_fails_without_hanging() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let env = Env::new();
    let Some(mut d) = disk(&env, &[]) else { return };
    // 35 passes over the FUSE device: still running when the device goes.
    let mut child = env
        .cmd()
        .args([
            "wipe",
            "--yes",
            "--json",
            "--policy",
            "gutmann",
            "--retries",
            "0",
            "--cert-dir",
            "c",
        ])
        .arg(d.dev())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().contains("\"start\""));
    let t = std::time::Instant::now();
    d.pull();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(t.elapsed().as_secs() < 60, "no hang: {:?}", t.elapsed());
    assert_eq!(status.code(), Some(1), "{rest:?}");
    let c = read_cert(&env.certificates(&env.path("c"))[0]);
    assert_eq!(c.result, Verdict::Fail);
    assert!(
        c.sanitization.passes.len() < 35,
        "no further passes after giving up"
    );
    assert!(
        c.reasons
            .iter()
            .any(|r| r.contains("stopped answering") || r.contains("write failed")),
        "{:?}",
        c.reasons
    );
}

#[test]
fn a_crawling_drive_is_reported_and_with_fail_slow_stopped() {
    let env = Env::new();
    // Every FUSE write takes 50 ms longer: a couple of MB/s.
    let Some(d) = disk(&env, &["--delay-ms", "50"]) else {
        return;
    };
    let t = std::time::Instant::now();
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--json",
        "--slow-floor",
        "50",
        "--slow-window",
        "1",
        "--fail-slow",
        "--cert-dir",
        "c",
        &d.dev()
    );
    assert_code(&out, 1);
    assert!(
        t.elapsed().as_secs() < 30,
        "stopped early: {:?}",
        t.elapsed()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l.contains("\"event\":\"slow\"")),
        "a slow event in the progress: {stdout}"
    );
    let c = read_cert(&env.certificates(&env.path("c"))[0]);
    assert_eq!(c.result, Verdict::Fail);
    let p = &c.sanitization.passes[0];
    assert!(
        p.slow_stopped && p.slow.as_deref().unwrap_or("").contains("below the floor"),
        "{p:?}"
    );
    assert!(
        c.reasons.iter().any(|r| r.contains("--fail-slow")),
        "{:?}",
        c.reasons
    );
}
