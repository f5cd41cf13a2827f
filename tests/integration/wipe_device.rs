//! The real binary against loop devices this test creates (root only; CI is root). Each test
//! detaches its loop device by name through a guard, even on failure. Where loop devices
//! cannot be used, the test prints `skipped: <reason>`.

use std::path::Path;

use std::process::Command;

use crate::common::*;
use assert_cmd::assert::OutputAssertExt;
use predicates::prelude::*;

fn wipe_loop(sector: u32) {
    let env = Env::new();
    let file = env.path("backing.img");
    let size = 24 * 1024 * 1024;
    make_file(&file, size, 0xC3);
    let lo = match LoopDev::attach(&file, sector, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    assert_code(
        &mediasan!(
            env,
            "wipe",
            "--yes",
            "--verify",
            "full",
            "--cert-dir",
            "certs",
            &lo.dev
        ),
        0,
    );
    let c = read_cert(&env.certificates(&env.path("certs"))[0]);
    assert_eq!(c.result, mediasan::cert::Verdict::Pass);
    assert_eq!(c.media.kind, "block");
    assert_eq!(c.media.identity.interface, "loop");
    assert_eq!(c.media.logical_block_size, sector);
    assert_eq!(c.media.size_bytes, size as u64);
    assert_eq!(
        c.media.identity.backing,
        file.canonicalize().unwrap().display().to_string()
    );
    assert!(c.media.direct_io);
    // The certificate can be re-checked against the device later.
    let cert = env.certificates(&env.path("certs"))[0].clone();
    assert_code(
        &mediasan!(
            env,
            "verify",
            &lo.dev,
            "--cert",
            &cert,
            "--pubkey",
            &env.pubkey()
        ),
        0,
    );
    drop(lo);
    assert!(
        std::fs::read(&file).unwrap() == expected_bytes(&c, size),
        "backing file holds the recorded stream"
    );
    assert_eq!(c.verification.blake3, digest(&file));
}

#[test]
fn loop_device_with_512_byte_sectors() {
    wipe_loop(512);
}

#[test]
fn loop_device_with_4096_byte_sectors() {
    wipe_loop(4096);
}

#[test]
fn sampled_verification_on_a_loop_device() {
    let env = Env::new();
    let file = env.path("s.img");
    make_file(&file, 64 << 20, 0);
    let lo = match LoopDev::attach(&file, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    assert_code(
        &mediasan!(env, "wipe", "--yes", "--verify-percent", "25", &lo.dev),
        0,
    );
    let c = read_cert(&env.certificates(env.dir.path())[0]);
    assert_eq!(c.verification.method, "sampled");
    assert!(c.verification.coverage_percent >= 25.0);
    assert!(c.verification.subsections >= 2);
    assert_eq!(c.verification.mismatches, 0);
}

#[test]
fn read_only_loop_device_is_refused_untouched() {
    let env = Env::new();
    let file = env.path("ro.img");
    make_file(&file, 4 << 20, 0x11);
    let before = digest(&file);
    let lo = match LoopDev::attach(&file, 512, true) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    let out = env
        .cmd()
        .args(["wipe", "--yes"])
        .arg(&lo.dev)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("read-only"));
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stderr)
            .lines()
            .count(),
        1
    );
    drop(lo);
    assert_eq!(digest(&file), before);
}

#[test]
fn mounted_block_device_is_refused_untouched() {
    let env = Env::new();
    let (file, lo) = match ext4_on_loop(&env, "m.img", 16 << 20) {
        Ok(x) => x,
        Err(why) => skip!("{why}"),
    };
    let guard = match mount(&env, &lo.dev, "mnt") {
        Ok(m) => m,
        Err(why) => skip!("{why}"),
    };
    let mnt = guard.at.clone();
    let marker = "KEEP-ME-mounted-data-4411";
    std::fs::write(mnt.join("keep.txt"), marker.repeat(100)).unwrap();
    assert!(Command::new("sync").status().unwrap().success());
    let out = env
        .cmd()
        .args(["wipe", "--yes"])
        .arg(&lo.dev)
        .assert()
        .code(3);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("mounted") || err.contains("in use"), "{err}");
    assert_eq!(err.lines().count(), 1);
    drop(guard);
    drop(lo);
    // Mounting changed the superblock, so compare meaning, not bytes: the data is still there
    // and the filesystem is intact.
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
        "data on the mounted fs survived"
    );
    if have("e2fsck") {
        let ok = Command::new("e2fsck")
            .args(["-n", "-f"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "fs intact: {}",
            String::from_utf8_lossy(&ok.stdout)
        );
    }
}

#[test]
fn image_attached_to_a_loop_device_is_refused() {
    let env = Env::new();
    let file = env.path("att.img");
    make_file(&file, 4 << 20, 0x22);
    let before = digest(&file);
    let lo = match LoopDev::attach(&file, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    env.cmd()
        .args(["wipe", "--yes"])
        .arg(&file)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(lo.dev.display().to_string()));
    drop(lo);
    assert_eq!(digest(&file), before);
}

#[test]
fn one_failing_target_fails_alone_and_the_exit_code_is_the_worst() {
    if !is_root() {
        skip!("mounting a small tmpfs needs root");
    }
    let env = Env::new();
    let small = env.path("small");
    std::fs::create_dir(&small).unwrap();
    if !Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&small)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
    {
        skip!("cannot mount tmpfs here");
    }
    let _m = Mounted { at: small.clone() };
    // A sparse 8 MiB image on a 1 MiB filesystem: writes past ~1 MiB fail with ENOSPC.
    let sparse = small.join("sparse.img");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let good = env.path("good.img");
    make_file(&good, 4 << 20, 0x77);
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--json",
        "--cert-dir",
        "certs",
        &good,
        &sparse
    );
    assert_code(&out, 1);
    let certs = env.certificates(&env.path("certs"));
    assert_eq!(
        certs.len(),
        2,
        "a certificate for each target, the failed one too"
    );
    let by_path = |p: &std::path::Path| {
        let want = p.canonicalize().unwrap().display().to_string();
        certs
            .iter()
            .map(|c| read_cert(c))
            .find(|c| c.media.path == want)
            .unwrap()
    };
    assert_eq!(by_path(&good).result, mediasan::cert::Verdict::Pass);
    let bad = by_path(&sparse);
    assert_eq!(bad.result, mediasan::cert::Verdict::Fail);
    let errors = &bad.sanitization.passes[0].errors;
    assert!(
        !errors.is_empty() && errors[0].error.contains("No space left"),
        "{errors:?}"
    );
    assert!(
        bad.reasons[0].contains("pass 1: write failed in ")
            && bad.reasons[0].contains("ranges")
            && bad.reasons[0].contains("No space left"),
        "{:?}",
        bad.reasons
    );
    assert!(bad.sanitization.passes[0].bytes_written < 8 << 20);
    // Verification still ran, and found the unwritten part.
    assert!(bad.verification.mismatches > 0 || !bad.verification.errors.is_empty());
    assert_eq!(
        bad.recommendation, "",
        "a full filesystem is no reason to destroy media"
    );
    let results: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "result")
        .map(|e| e["result"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = results.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["FAIL", "PASS"]);
}

#[test]
fn list_shows_a_loop_device_free_then_in_use() {
    let env = Env::new();
    let (file, lo) = match ext4_on_loop(&env, "l.img", 8 << 20) {
        Ok(x) => x,
        Err(why) => skip!("{why}"),
    };
    let find = |env: &Env| -> serde_json::Value {
        let out = mediasan!(env, "list", "--json");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|d| d["path"] == lo.dev.display().to_string())
            .expect("the loop device is listed")
    };
    let d = find(&env);
    assert_eq!(d["size_bytes"], 8 << 20);
    assert_eq!(d["interface"], "loop");
    assert_eq!(
        d["backing"],
        file.canonicalize().unwrap().display().to_string()
    );
    assert!(d["in_use"].is_null(), "{d}");
    let guard = match mount(&env, &lo.dev, "mnt") {
        Ok(m) => m,
        Err(why) => skip!("{why}"),
    };
    let d = find(&env);
    assert!(d["in_use"].as_str().unwrap().contains("mounted at"), "{d}");
    drop(guard);
}

#[test]
fn ata_queries_send_hdparms_bytes_under_the_ioctlcap_shim() {
    let shim = match ioctlcap(Path::new(env!("CARGO_TARGET_TMPDIR"))) {
        Ok(s) => s,
        Err(why) => skip!("{why}"),
    };
    let env = Env::new();
    let file = env.path("cap.img");
    make_file(&file, 8 << 20, 0);
    let lo = match LoopDev::attach(&file, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    let out = env
        .cmd()
        .env("IOCTLCAP_FAKE", "1")
        .env("LD_PRELOAD", &shim)
        .args(["wipe", "--yes", "--transport", "ata", "--cert-dir", "c"])
        .arg(&lo.dev)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let sent: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("[cap] SG_IO cdb "))
        .collect();
    let hdparm = include_str!("../data/ioctlcap/hdparm-I.txt");
    let golden = hdparm
        .lines()
        .find_map(|l| l.strip_prefix("[cap] SG_IO cdb "))
        .unwrap();
    // The health reads: SMART READ DATA and RETURN STATUS, as smartctl sends them.
    let smartctl: Vec<&str> = include_str!("../data/ioctlcap/smartctl-H-A.txt")
        .lines()
        .filter_map(|l| l.strip_prefix("[cap] SG_IO cdb "))
        .collect();
    assert!(!sent.is_empty(), "mediasan sent no SG_IO: {log}");
    assert!(
        sent.iter()
            .all(|c| *c == golden || (c.ends_with("b0 00") && smartctl.contains(c))),
        "bytes differ from hdparm's and smartctl's: {sent:?} vs {golden} / {smartctl:?}"
    );
    assert!(
        sent.iter().any(|c| c.ends_with("b0 00")),
        "SMART was read: {sent:?}"
    );
    let c = read_cert(&env.certificates(&env.path("c"))[0]);
    assert_eq!(c.media.hidden_areas.state, "none");
    assert!(c.media.hidden_areas.before.is_some() && c.media.hidden_areas.after.is_some());
    let h = c.media.health.before.as_ref().expect("health read before");
    assert!(h.source.starts_with("ATA SMART"), "{h:?}");
}

#[test]
fn a_loop_device_has_no_hidden_areas_to_look_for() {
    let env = Env::new();
    let file = env.path("h.img");
    make_file(&file, 4 << 20, 0);
    let lo = match LoopDev::attach(&file, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    assert_code(&mediasan!(env, "wipe", "--yes", &lo.dev), 0);
    let c = read_cert(&env.certificates(env.dir.path())[0]);
    assert_eq!(c.media.hidden_areas.state, "not_applicable");
    // Forcing ATA on a device that takes no SCSI or ATA commands at all (SG_IO refused): no
    // ATA drive behind it, nothing to hide sectors in, and PASS.
    assert_code(
        &mediasan!(
            env,
            "wipe",
            "--yes",
            "--transport",
            "ata",
            "--cert-dir",
            "forced",
            &lo.dev
        ),
        0,
    );
    let c = read_cert(&env.certificates(&env.path("forced"))[0]);
    assert_eq!(
        c.media.hidden_areas.state, "not_applicable",
        "{:?}",
        c.media.hidden_areas
    );
    assert!(
        c.media
            .hidden_areas
            .detail
            .contains("takes no ATA or SCSI commands"),
        "{:?}",
        c.media.hidden_areas
    );
}

#[test]
fn a_drive_with_an_unfinished_purge_is_not_overwritten_without_restart() {
    let env = Env::new();
    let file = env.path("p.img");
    make_file(&file, 1 << 20, 0x44);
    let lo = match LoopDev::attach(&file, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    let p = mediasan::device::probe(&lo.dev).unwrap();
    let j = mediasan::purge::journal::path_for(
        &env.path("state/mediasan/journal"),
        &mediasan::journal::MediaKey::of(&p),
        &p.canonical,
    );
    drop(p);
    std::fs::create_dir_all(j.parent().unwrap()).unwrap();
    std::fs::write(&j, "{}").unwrap();
    let (out, cert) = env.wipe(&lo.dev, &[]);
    assert_code(&out, 2);
    assert!(cert.is_none());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unfinished purge") && err.contains("--resume"),
        "{err}"
    );
    assert!(std::fs::read(&file).unwrap().iter().all(|&b| b == 0x44));
    let (out, cert) = env.wipe(&lo.dev, &["--restart"]);
    assert_code(&out, 0);
    assert_eq!(cert.unwrap().result, mediasan::cert::Verdict::Pass);
}

#[test]
fn stop_holders_on_a_free_loop_device_stops_nothing_and_an_image_is_no_disk() {
    let env = Env::new();
    let file = env.path("free.img");
    make_file(&file, 4 << 20, 0x5A);
    // An image file has no holders: an input error, exit 2.
    let out = mediasan!(env, "stop-holders", "--yes", &file);
    assert_code(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a block device"), "{err}");
    let lo = match LoopDev::attach(&file, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    let out = mediasan!(env, "stop-holders", "--dry-run", "--json", &lo.dev);
    assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, serde_json::json!({"dry_run": true, "stopped": []}));
    let out = mediasan!(env, "stop-holders", &lo.dev);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing is stacked on them"));
    // Nothing was written to it.
    assert!(std::fs::read(&file).unwrap().iter().all(|b| *b == 0x5A));
}
