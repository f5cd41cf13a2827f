//! `mediasan purge` through the real binary: the success path on the simulated NVMe drive
//! (the hidden `--simulate` seam: no such drive exists on a build machine), and the clear
//! refusals on a real loop device, which has no sanitize command.

use std::path::Path;

use crate::common::*;
use mediasan::cert::Verdict;

fn purge(env: &Env, sim: &str, extra: &[&str]) -> std::process::Output {
    env.cmd()
        .args([
            "purge",
            "/dev/simnvme0",
            "--simulate",
            sim,
            "--poll-interval",
            "0.02",
            "--cert-dir",
            "c",
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn dry_run_prints_the_exact_bytes_nvme_cli_sends() {
    let env = Env::new();
    let out = purge(&env, "nvme:4M:crypto,block", &["--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nvme-sanitize-crypto (Purge)"), "{text}");
    // Under the bytes, their fields named.
    assert!(
        text.contains("= Sanitize (opcode 0x84), NSID 0x0: CDW10 0x00000004 = SANACT 4 (crypto erase), AUSE 0, OWPASS 0, OIPBP 0, NDAS 0"),
        "{text}"
    );
    // A crypto erase goes without No-Deallocate (only an overwrite gets it by default): as
    // nvme sanitize --sanact=4 sends it (tests/data/ioctlcap/nvme-sanitize-crypto.txt),
    // addr/timeout masked.
    let printed: Vec<u8> = text
        .lines()
        .find_map(|l| {
            l.split_once("(72 bytes, the kernel's default timeout): ")
                .map(|(_, h)| h.to_string())
        })
        .unwrap()
        .split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    let golden = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ioctlcap/nvme-sanitize-crypto.txt"
    ))
    .unwrap();
    let mut theirs: Vec<u8> = vec![];
    let mut on = false;
    for l in golden.lines() {
        if let Some(h) = l.strip_prefix("[cap] raw72 ") {
            on = true;
            theirs.extend(
                h.split_whitespace()
                    .map(|x| u8::from_str_radix(x, 16).unwrap()),
            );
        } else if on && l.starts_with("      ") {
            theirs.extend(
                l.split_whitespace()
                    .map(|x| u8::from_str_radix(x, 16).unwrap()),
            );
        } else {
            on = false;
        }
    }
    let mask = |v: &mut Vec<u8>| {
        v[24..32].fill(0);
        v[64..72].fill(0);
    };
    let (mut a, mut b) = (printed, theirs);
    mask(&mut a);
    mask(&mut b);
    assert_eq!(a, b);
    assert!(
        env.certificates(&env.path("c")).is_empty(),
        "a dry run certifies nothing"
    );
}

#[test]
fn a_completed_sanitize_is_verified_and_certified_as_purge() {
    let env = Env::new();
    let out = purge(
        &env,
        "nvme:8M:crypto,block",
        &[
            "--yes",
            "--json",
            "--operator",
            "Jane Doe",
            "--data-backed-up",
            "no",
            "--validator",
            "Max Muster",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cert = env.certificates(&env.path("c"))[0].clone();
    let c = read_cert(&cert);
    assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
    assert_eq!(c.sanitization.method, "purge");
    assert_eq!(c.sanitization.technique, "crypto erase");
    let cmd = c.sanitization.command.as_ref().unwrap();
    assert_eq!(
        (
            cmd.method.as_str(),
            cmd.bus.as_str(),
            cmd.drive_status.as_str()
        ),
        (
            "nvme-sanitize-crypto",
            "nvme",
            "completed (SSTAT 1); Global Data Erased 0"
        )
    );
    assert!(c.verification.samples > 2 && c.verification.mismatches == 0);
    assert_eq!(c.operator.name, "Jane Doe");
    assert_eq!(
        (c.media.data_backed_up.as_str(), c.validation.name.as_str()),
        ("no", "Max Muster")
    );
    assert_eq!(c.tool.name, "mediasan");
    assert!(
        !c.tool.version.is_empty() && !c.host.kernel.is_empty(),
        "tool and host recorded"
    );
    assert_code(
        &mediasan!(env, "cert", "verify", "--pubkey", &env.pubkey(), &cert),
        0,
    );
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(events
        .lines()
        .any(|l| l.contains("\"event\":\"result\"") && l.contains("PASS")));
}

#[test]
fn a_drive_that_claims_success_but_changed_nothing_fails() {
    let env = Env::new();
    let out = purge(&env, "nvme:4M:block,liar", &["--yes"]);
    assert_code(&out, 1);
    let c = read_cert(&env.certificates(&env.path("c"))[0]);
    assert_eq!(c.result, Verdict::Fail);
    assert!(
        c.reasons.iter().any(|r| r.contains("still readable")),
        "{:?}",
        c.reasons
    );
}

#[test]
fn no_purge_available_is_refused_and_format_is_certified_as_clear() {
    let env = Env::new();
    let out = purge(&env, "nvme:4M:format", &["--yes"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Purge-grade command"));
    let out = purge(
        &env,
        "nvme:4M:format",
        &["--yes", "--method", "nvme-format-user-data"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = read_cert(&env.certificates(&env.path("c"))[0]);
    assert_eq!(
        (c.result, c.sanitization.method.as_str()),
        (Verdict::Pass, "clear"),
        "Format is Clear, never Purge"
    );
    // A namespace in LBA format 17 (above 15: LBAFU) is formatted in that same format.
    let env = Env::new();
    let out = purge(
        &env,
        "nvme:4M:format,lbaf17",
        &["--yes", "--method", "nvme-format-user-data"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Sanitize failure mode: a new sanitize is the legal way out (it used to be refused
    // with advice to use --ause, which the standards forbid after a restricted failure).
    let out = purge(&env, "nvme:4M:crypto,failed", &["--yes"]);
    assert!(
        out.status.success(),
        "a new sanitize leaves failure mode: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The simulated failure was restricted (SSI 2): EXIT FAILURE MODE is not allowed.
    let out = purge(
        &env,
        "nvme:4M:crypto,failed",
        &["--yes", "--exit-failure-mode"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("restricted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = purge(
        &env,
        "nvme:4M:block",
        &["--yes", "--method", "nvme-sanitize-crypto"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not report support"));
}

#[test]
fn a_loop_device_has_no_sanitize_and_forcing_one_is_refused_cleanly() {
    let env = Env::new();
    let file = env.path("p.img");
    make_file(&file, 4 << 20, 0x5C);
    let lo = match LoopDev::attach(&file, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    // Not a refusal: it has nothing to send, and the way to sanitize it is named.
    for args in [
        &["purge", "--yes"][..],
        &["purge", "--dry-run"],
        &["purge-status"],
    ] {
        let out = env.cmd().args(args).arg(&lo.dev).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("a loop device is a file underneath")
                && err.contains(&format!("mediasan wipe {}", lo.dev.display())),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("refusing") && !err.contains("--transport"),
            "{args:?}: {err}"
        );
    }
    for t in ["nvme", "ata", "scsi"] {
        let out = mediasan!(env, "purge", "--yes", "--transport", &t, &lo.dev);
        assert!(!out.status.success(), "{t}: never a PASS");
        assert_ne!(out.status.code(), Some(0));
        assert!(
            env.certificates(env.dir.path()).is_empty(),
            "{t}: no certificate"
        );
    }
    drop(lo);
    assert!(
        std::fs::read(&file).unwrap().iter().all(|&b| b == 0x5C),
        "untouched"
    );
}

/// `mediasan purge --yes --transport TRANSPORT --method METHOD DEV` under the ioctlcap shim in
/// fake mode (nothing reaches the device; the shim logs every command on stderr).
fn shimmed(
    env: &Env,
    shim: &Path,
    dev: &Path,
    transport: &str,
    method: &str,
) -> std::process::Output {
    shimmed_with(env, shim, dev, transport, method, &[])
}

/// [`shimmed`] with more flags.
fn shimmed_with(
    env: &Env,
    shim: &Path,
    dev: &Path,
    transport: &str,
    method: &str,
    extra: &[&str],
) -> std::process::Output {
    env.cmd()
        .env("IOCTLCAP_FAKE", "1")
        .env("LD_PRELOAD", shim)
        .args([
            "purge",
            "--yes",
            "--transport",
            transport,
            "--method",
            method,
            "--poll-interval",
            "0.01",
            // The fake drive never finishes: give up following it at once (INCOMPLETE), and
            // write no canaries, so the device is never touched.
            "--test-patience",
            "0.2",
            "--no-canaries",
            // Each run leaves a journal (the fake drive may still be "sanitizing"): start over.
            "--restart",
            // The loop device under the shim is no SATA port: a security erase there is
            // one through an unknown bridge, taken only on purpose.
            "--allow-bridged-security-erase",
            "--cert-dir",
            "c",
        ])
        .args(extra)
        .arg(dev)
        .output()
        .unwrap()
}

/// The first logged command line after `prefix` whose hex starts with `lead`, as bytes.
fn sent(log: &str, prefix: &str, lead: &str) -> Option<String> {
    log.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .find(|h| h.starts_with(lead))
        .map(|h| h.trim().to_string())
}

#[test]
fn under_the_ioctlcap_shim_mediasan_sends_the_reference_tools_bytes() {
    let shim = match ioctlcap(Path::new(env!("CARGO_TARGET_TMPDIR"))) {
        Ok(s) => s,
        Err(why) => skip!("{why}"),
    };
    let env = Env::new();
    let file = env.path("cap.img");
    make_file(&file, 4 << 20, 0);
    let lo = match LoopDev::attach(&file, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    let golden = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/tests/data/ioctlcap/{name}.txt",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    // ATA: the fake answers IDENTIFY as a drive with the Sanitize feature set.
    for (method, capture) in [
        ("ata-sanitize-block", "hdparm-sanitize-block"),
        ("ata-sanitize-crypto", "hdparm-sanitize-crypto"),
    ] {
        let out = shimmed(&env, &shim, &lo.dev, "ata", method);
        let log = String::from_utf8_lossy(&out.stderr);
        let ours = sent(&log, "[cap] SG_IO cdb ", "85 07 20 00 1")
            .unwrap_or_else(|| panic!("{method}: no SANITIZE sent: {log}"));
        let theirs = sent(&golden(capture), "[cap] SG_IO cdb ", "85 07 20 00 1").unwrap();
        assert_eq!(ours, theirs, "{method}");
        assert_ne!(
            out.status.code(),
            Some(0),
            "{method}: the fake drive proves nothing, so never PASS"
        );
    }
    // NVMe: the fake answers Identify with SANICAP crypto|block|overwrite, and allows
    // No-Deallocate. A crypto or block erase goes without it (as plain `nvme sanitize`), unless
    // --no-deallocate on asks for it (as `nvme sanitize --no-dealloc`).
    for (method, capture, extra) in [
        ("nvme-sanitize-block", "nvme-sanitize-block", &[][..]),
        ("nvme-sanitize-crypto", "nvme-sanitize-crypto", &[][..]),
        (
            "nvme-sanitize-block",
            "nvme-sanitize-block-nodealloc",
            &["--no-deallocate", "on"][..],
        ),
        (
            "nvme-sanitize-crypto",
            "nvme-sanitize-crypto-nodealloc",
            &["--no-deallocate", "on"][..],
        ),
    ] {
        let out = shimmed_with(&env, &shim, &lo.dev, "nvme", method, extra);
        let log = String::from_utf8_lossy(&out.stderr);
        let ours = sent(&log, "[cap] NVME_IOCTL_ADMIN_CMD ", "opc=0x84")
            .unwrap_or_else(|| panic!("{method}: {log}"));
        let theirs = sent(&golden(capture), "[cap] NVME_IOCTL_ADMIN_CMD ", "opc=0x84").unwrap();
        // The decoded line: opcode, nsid, cdw10..15, data_len (no pointers, no timeout).
        assert_eq!(ours, theirs, "{method}");
        assert_ne!(
            out.status.code(),
            Some(0),
            "{method}: never PASS on a fake drive"
        );
    }
    // ATA security erase: SET PASSWORD, ERASE PREPARE, ERASE UNIT (enhanced), with their data,
    // as hdparm --security-set-pass then --security-erase-enhanced send them.
    let out = shimmed(&env, &shim, &lo.dev, "ata", "ata-security-erase-enhanced");
    let lines = |log: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.starts_with("[cap] SG_IO cdb 85") || l.starts_with("[cap]   data-out"))
            .filter(|l| !l.contains(" ec 00")) // IDENTIFY
            .filter(|l| !l.contains(" b0 00")) // SMART, the health read before and after
            .filter(|l| !l.contains(" 5c 00")) // TRUSTED RECEIVE, the TCG discovery
            // SANITIZE STATUS EXT, read at probe time
            .filter(|l| !l.contains("cdb 85 07 20 00 00 00 00 00 00 00 00 00 00 40 b4 00"))
            .map(|l| l.trim().to_string())
            .collect()
    };
    let ours = lines(&String::from_utf8_lossy(&out.stderr));
    let mut theirs = lines(&golden("hdparm-security-set-pass"));
    theirs.extend(lines(&golden("hdparm-security-erase-enhanced")));
    assert_eq!(ours, theirs);
    assert_ne!(out.status.code(), Some(0), "never PASS on a fake drive");
    drop(lo);
    assert!(
        std::fs::read(&file).unwrap().iter().all(|&b| b == 0),
        "fake mode never touched the device"
    );
}

#[test]
fn ctrl_c_only_stops_waiting_and_says_the_drive_carries_on() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let env = Env::new();
    let mut child = env
        .cmd()
        .args([
            "purge",
            "/dev/simnvme0",
            "--simulate",
            "nvme:4M:crypto,slow",
            "--poll-interval",
            "0.02",
        ])
        .args(["--yes", "--json", "--cert-dir", "c"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().contains("\"start\""));
    std::thread::sleep(std::time::Duration::from_millis(200));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stopped waiting") && err.contains("--resume"),
        "{err}"
    );
    // An INCOMPLETE certificate records what was sent and that it was not followed to the end.
    let certs = env.certificates(&env.path("c"));
    assert_eq!(certs.len(), 1);
    let c = read_cert(&certs[0]);
    assert_eq!(c.result, Verdict::Incomplete, "{:?}", c.reasons);
    let cmd = c.sanitization.command.as_ref().unwrap();
    assert!(
        cmd.drive_status.contains("stopped waiting"),
        "{}",
        cmd.drive_status
    );
    assert!(!cmd.bytes.is_empty(), "the bytes sent are recorded");
}

#[test]
fn a_dual_ported_subsystem_is_purged_only_when_the_operator_says_so_and_the_scope_is_recorded() {
    let env = Env::new();
    // CMIC says more than one port and controller: other hosts may use namespaces we cannot
    // see, and a Sanitize erases them all.
    let out = purge(
        &env,
        "nvme:8M:block,shared",
        &["--yes", "--method", "nvme-sanitize-block"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("CMIC") && err.contains("--allow-shared"),
        "{err}"
    );
    assert!(env.certificates(&env.path("c")).is_empty());
    // The dry run shows what it would erase.
    let out = purge(
        &env,
        "nvme:8M:block",
        &["--dry-run", "--method", "nvme-sanitize-block"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("erases") && text.contains("whole NVM subsystem"),
        "{text}"
    );
    // Allowed: done, and the certificate records the scope.
    let out = purge(
        &env,
        "nvme:8M:block,shared",
        &["--yes", "--method", "nvme-sanitize-block", "--allow-shared"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = read_cert(&env.certificates(&env.path("c"))[0]);
    let scope = &c.sanitization.command.as_ref().unwrap().scope;
    assert!(!scope.is_empty(), "{c:?}");
    assert!(
        c.notes.iter().any(|n| n.contains("whole NVM subsystem")),
        "{:?}",
        c.notes
    );
}

#[test]
fn a_misspelt_method_is_the_users_mistake() {
    let env = Env::new();
    let out = purge(
        &env,
        "nvme:8M:block",
        &["--yes", "--method", "nvme-sanitise-block"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid value 'nvme-sanitise-block' for '--method")
            && err.contains("tip: a similar value exists: 'nvme-sanitize-block'"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_partition_is_refused_naming_its_disk() {
    let env = Env::new();
    let file = env.path("parted.img");
    make_file(&file, 8 << 20, 0);
    if !have("sfdisk") {
        skip!("sfdisk (fdisk) is not installed");
    }
    let mut sf = std::process::Command::new("sfdisk")
        .arg("--quiet")
        .arg(&file)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    sf.stdin
        .as_mut()
        .unwrap()
        .write_all(b"label: dos\n,4M\n,\n")
        .unwrap();
    assert!(sf.wait().unwrap().success());
    if !is_root() {
        skip!("loop devices need root");
    }
    let out = std::process::Command::new("losetup")
        .args(["--find", "--show", "--partscan"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let lo = LoopDev {
        dev: std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()),
    };
    let part = std::path::PathBuf::from(format!("{}p1", lo.dev.display()));
    // Some kernels do not scan a loop device's table on attach: add the partitions by hand.
    let _ = std::process::Command::new("partx")
        .arg("-a")
        .arg(&lo.dev)
        .output();
    for _ in 0..50 {
        if part.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = mediasan!(env, "purge", "--dry-run", "--transport", "ata", &part);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let disk = lo.dev.file_name().unwrap().to_string_lossy().to_string();
    assert!(err.contains(&format!("partition of /dev/{disk}")), "{err}");
}

/// Starts `mediasan purge` on the kept simulated drive `sim`, held once it follows the drive
/// (`purge-wait`), then sends `sig`; returns the exit code.
fn purge_until_waiting(env: &Env, sim: &str, sig: nix::sys::signal::Signal) -> Option<i32> {
    let mut cmd = env.cmd();
    cmd.args(["purge", "/dev/simnvme0", "--simulate", sim])
        .args([
            "--poll-interval",
            "0.01",
            "--yes",
            "--json",
            "--cert-dir",
            "c",
        ])
        .args(["--asset-tag", "P-1"])
        .args(["--test-hold", "purge-wait"]);
    let mut child = spawn_held(cmd, "purge-wait");
    signal(&child, sig);
    child.wait().unwrap().code()
}

fn journals(env: &Env) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(env.path("state/mediasan/journal"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn a_purge_nobody_waited_for_is_finished_and_certified_by_a_later_run() {
    use nix::sys::signal::Signal;
    let env = Env::new();
    let sim = format!("nvme:4M:crypto:{}", env.path("drive").display());
    // Ctrl-C while the drive sanitizes: an INCOMPLETE certificate, the journal kept.
    assert_eq!(purge_until_waiting(&env, &sim, Signal::SIGINT), Some(130));
    let first = read_cert(&env.certificates(&env.path("c"))[0]);
    assert_eq!(first.result, Verdict::Incomplete, "{:?}", first.reasons);
    assert_eq!(journals(&env).len(), 1, "the purge journal is kept");
    // A fresh purge of that drive would collide with the one still running: refused, naming
    // both ways out.
    let out = purge(&env, &sim, &["--yes"]);
    assert_code(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unfinished purge") && err.contains("--resume") && err.contains("--restart"),
        "{err}"
    );
    // The later run follows the drive to the end, reads the canaries written before the
    // command, and certifies the purge, superseding the INCOMPLETE certificate.
    let out = purge(&env, &sim, &["--resume", "--json"]);
    assert_code(&out, 0);
    let certs = env.certificates(&env.path("c"));
    assert_eq!(certs.len(), 2);
    let last = certs
        .iter()
        .map(|c| read_cert(c))
        .find(|c| c.id != first.id)
        .unwrap();
    assert_eq!(last.result, Verdict::Pass, "{:?}", last.reasons);
    assert_eq!(last.supersedes, vec![first.id.clone()]);
    assert_eq!(
        last.media.asset_tag, "P-1",
        "the record the purge began with"
    );
    assert_eq!(last.sanitization.method, "purge");
    assert_eq!(
        last.verification.seed, first.verification.seed,
        "the samples recorded at the start are the ones checked"
    );
    assert!(
        last.sanitization
            .resumed
            .iter()
            .any(|e| e.contains("interrupted"))
            && last
                .sanitization
                .resumed
                .iter()
                .any(|e| e.contains("later run")),
        "{:?}",
        last.sanitization.resumed
    );
    assert!(
        journals(&env).is_empty(),
        "the journal is gone once certified"
    );
    // Nothing left to finish: the refusal names the certificate that ended it.
    let out = purge(&env, &sim, &["--resume"]);
    assert_code(&out, 2);
    let name = certs
        .iter()
        .find(|c| read_cert(c).id == last.id)
        .and_then(|c| c.file_name())
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no unfinished purge")
            && err.contains(&format!(
                "the newest certificate for it is c/{name} (PASS, finished {})",
                last.sanitization.finished
            )),
        "{err}"
    );
}

#[test]
fn a_killed_purge_of_a_drive_that_did_nothing_fails_on_the_canaries_recorded_before() {
    use nix::sys::signal::Signal;
    let env = Env::new();
    let sim = format!("nvme:4M:crypto,liar:{}", env.path("drive").display());
    // SIGKILL: no certificate at all from this run, only the journal.
    assert_eq!(purge_until_waiting(&env, &sim, Signal::SIGKILL), None);
    assert!(env.certificates(&env.path("c")).is_empty());
    assert_eq!(journals(&env).len(), 1);
    let out = purge(&env, &sim, &["--resume"]);
    assert_code(&out, 1);
    let c = read_cert(&env.certificates(&env.path("c"))[0]);
    assert_eq!(c.result, Verdict::Fail, "{:?}", c.reasons);
    assert!(
        c.reasons.iter().any(|r| r.contains("canary")),
        "{:?}",
        c.reasons
    );
    assert!(c.supersedes.is_empty(), "no earlier certificate to replace");
}

#[test]
fn a_purge_journal_changed_by_hand_is_not_believed() {
    use nix::sys::signal::Signal;
    let env = Env::new();
    let sim = format!("nvme:4M:crypto:{}", env.path("drive").display());
    assert_eq!(purge_until_waiting(&env, &sim, Signal::SIGINT), Some(130));
    let j = journals(&env).remove(0);
    let text = std::fs::read_to_string(&j).unwrap();
    // Point the check at other samples: the MAC no longer matches.
    let forged = text.replacen("\"percent\": 1", "\"percent\": 2", 1);
    assert_ne!(forged, text);
    std::fs::write(&j, forged).unwrap();
    let out = purge(&env, &sim, &["--resume"]);
    assert_code(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("changed by hand") && err.contains("--restart"),
        "{err}"
    );
    // --restart would discard it and purge again, but the drive is still sanitizing: the
    // drive's own state refuses, and the journal stays until that is over.
    let out = purge(&env, &sim, &["--restart", "--yes"]);
    assert_code(&out, 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("in progress"));
    assert_eq!(journals(&env).len(), 1);
}

#[test]
fn a_purge_that_could_not_be_journaled_is_never_started() {
    let env = Env::new();
    let sim = format!("nvme:4M:crypto:{}", env.path("drive").display());
    assert_code(&purge(&env, &sim, &["--dry-run"]), 0);
    let before = std::fs::read(env.path("drive.media")).unwrap();
    std::fs::write(env.path("not-a-folder"), b"").unwrap();
    let out = purge(&env, &sim, &["--yes", "--journal-dir", "not-a-folder"]);
    assert_code(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("journal folder"), "{err}");
    assert_eq!(
        std::fs::read(env.path("drive.media")).unwrap(),
        before,
        "no canary written, nothing sent"
    );
}

/// Guard: while its command runs, a purge holds the drive exclusively (O_EXCL), so nothing
/// else (a mount, another wipe) can open it meanwhile.
#[test]
fn a_purge_holds_its_drive_exclusively_while_the_drive_works() {
    use std::os::unix::fs::OpenOptionsExt;
    let shim = match ioctlcap(Path::new(env!("CARGO_TARGET_TMPDIR"))) {
        Ok(s) => s,
        Err(why) => skip!("{why}"),
    };
    let env = Env::new();
    let file = env.path("x.img");
    make_file(&file, 4 << 20, 0);
    let lo = match LoopDev::attach(&file, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    let mut cmd = env.cmd();
    cmd.env("IOCTLCAP_FAKE", "1")
        .env("LD_PRELOAD", &shim)
        .args(["purge", "--yes", "--json", "--transport", "nvme"])
        .args(["--method", "nvme-sanitize-crypto", "--no-canaries"])
        .args(["--poll-interval", "0.01", "--cert-dir", "c"])
        .args(["--test-hold", "purge-wait"])
        .arg(&lo.dev);
    let mut child = spawn_held(cmd, "purge-wait");
    let other = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_EXCL)
        .open(&lo.dev);
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let _ = child.wait();
    let e = other.expect_err("the drive is held exclusively while the purge follows it");
    assert_eq!(e.raw_os_error(), Some(nix::libc::EBUSY), "{e}");
    // Once the purge has let go, it can be opened again.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_EXCL)
        .open(&lo.dev)
        .expect("free again");
}

/// A self-encrypting drive's TCG Level 0 Discovery is listed: the simulated NVMe drive answers
/// Security Receive (protocol 01h, ComID 0001h) as an Opal 2 drive does, locked or not; a
/// drive that answers none has `tcg` null.
#[test]
fn a_self_encrypting_drive_is_listed_with_its_tcg_discovery() {
    let env = crate::common::Env::new();
    let list = |features: &str, json: bool| {
        let mut cmd = env.cmd();
        cmd.arg("list");
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .args(["--simulate", &format!("nvme:1M:{features}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let d: serde_json::Value =
        serde_json::from_str(list("crypto,opal-locked", true).trim()).unwrap();
    assert_eq!(d["tcg"]["ssc"], serde_json::json!(["Opal 2"]), "{d}");
    assert_eq!(d["tcg"]["base_comid"], 0x1001, "{d}");
    assert_eq!(d["tcg"]["locking"]["locked"], true, "{d}");
    assert!(list("crypto,opal-locked", false).contains("SED Opal 2 (locked)"));
    let d: serde_json::Value = serde_json::from_str(list("crypto,opal", true).trim()).unwrap();
    assert_eq!(d["tcg"]["locking"]["enabled"], false, "{d}");
    let table = list("crypto,opal", false);
    assert!(
        table.contains("SED Opal 2") && !table.contains("locked"),
        "{table}"
    );
    let d: serde_json::Value = serde_json::from_str(list("crypto", true).trim()).unwrap();
    assert!(d["tcg"].is_null(), "{d}");
}

/// Every byte of every file under `dir`, for a search.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut all = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            all.extend(all_bytes(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            all.extend(b);
        }
    }
    all
}

/// The TCG Opal Purge through the binary, against the simulated Opal 2 SSC (behind the same
/// door as the kernel's sed-opal): the PSID typed on standard input, PASS by the canaries;
/// the PSID in no output, certificate, journal or event; a wrong one refused (exit 3); a
/// locked drive's PSID revert INCOMPLETE (exit 1) and saying why; an empty SID file a usage
/// error (exit 2).
#[test]
fn a_tcg_psid_revert_runs_through_the_binary_and_the_psid_goes_nowhere() {
    use std::io::Write;
    const PSID: &str = "SIMULATEDPSID0123456789ABCDEFGHJ";
    let env = Env::new();
    let mut cmd = env.cmd();
    cmd.args([
        "purge",
        "/dev/simnvme0",
        "--simulate",
        "nvme:4M:opal-owned",
        "--cert-dir",
        "c",
        "--method",
        "tcg-psid-revert",
        "--psid",
        "-",
        "--yes",
        "--json",
    ])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{PSID}").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let only_cert = |env: &Env| {
        let certs = env.certificates(&env.path("c"));
        assert_eq!(certs.len(), 1, "{certs:?}");
        read_cert(&certs[0])
    };
    let c = only_cert(&env);
    assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
    assert_eq!(c.sanitization.technique, "crypto erase");
    assert!(
        c.notes[0].contains("TCG Revert (tcg-psid-revert"),
        "{:?}",
        c.notes
    );
    assert_eq!(
        c.media
            .tcg_after
            .as_ref()
            .and_then(|t| t.locking)
            .map(|l| l.enabled),
        Some(false)
    );
    let everything = [
        out.stdout.clone(),
        out.stderr.clone(),
        all_bytes(env.dir.path()),
    ]
    .concat();
    assert!(
        !String::from_utf8_lossy(&everything).contains(PSID),
        "the PSID was written somewhere"
    );

    // A wrong PSID: refused, nothing erased, and not echoed.
    let out = purge(
        &env,
        "nvme:4M:opal-owned",
        &[
            "--method",
            "tcg-psid-revert",
            "--psid",
            "WRONG-PSID-1234",
            "--yes",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("NOT_AUTHORIZED") && !err.contains("WRONG-PSID"),
        "{err}"
    );

    // A locked drive: nist-purge with the PSID takes the PSID revert; INCOMPLETE, and why.
    let env = Env::new();
    let out = purge(
        &env,
        "nvme:4M:crypto,opal-locked",
        &["--psid", PSID, "--yes"],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    let c = only_cert(&env);
    assert_eq!(c.result, Verdict::Incomplete);
    assert_eq!(c.sanitization.policy.name, "tcg-psid-revert");
    assert!(
        c.reasons
            .iter()
            .any(|r| r.contains("was locked before the Revert")),
        "{:?}",
        c.reasons
    );

    // The SID password from a file; an empty one is the user's mistake.
    std::fs::write(env.path("empty"), "\n").unwrap();
    let out = purge(
        &env,
        "nvme:4M:opal",
        &["--method", "tcg-revert", "--sid-file", "empty", "--yes"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--sid-file empty: it is empty"), "{err}");
}

/// The TCG Enterprise Purge through the binary, against the simulated Enterprise SSC: the
/// dry run shows every ComPacket (the password withheld); the Erase of every band in
/// mediasan's own session PASSes by the canaries; the EraseMaster password is in no output,
/// certificate, journal or event; a wrong one is refused (exit 3) and not echoed.
#[test]
fn a_tcg_enterprise_erase_runs_through_the_binary_and_the_password_goes_nowhere() {
    const PASSWORD: &str = "sim-erase-master";
    let env = Env::new();
    std::fs::write(env.path("em"), format!("{PASSWORD}\n")).unwrap();
    let out = purge(
        &env,
        "nvme:4M:enterprise",
        &[
            "--method",
            "tcg-erase",
            "--erase-master-file",
            "em",
            "--dry-run",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}");
    for what in [
        "StartSession with the Enterprise Locking SP",
        "Authenticate as EraseMaster",
        "Erase Band0",
        "END OF SESSION",
        "Enterprise",
    ] {
        assert!(text.contains(what), "{what}: {text}");
    }
    assert!(!text.contains(PASSWORD), "{text}");

    let out = purge(
        &env,
        "nvme:4M:enterprise",
        &[
            "--method",
            "tcg-erase",
            "--erase-master-file",
            "em",
            "--yes",
            "--json",
        ],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    let certs = env.certificates(&env.path("c"));
    assert_eq!(certs.len(), 1, "{certs:?}");
    let c = read_cert(&certs[0]);
    assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
    assert_eq!(c.sanitization.technique, "crypto erase");
    assert!(c.notes[0].contains("TCG Enterprise Erase"), "{:?}", c.notes);
    let everything = [out.stdout.clone(), out.stderr.clone(), {
        let mut b = all_bytes(env.dir.path());
        // The password file itself is the operator's.
        let f = std::fs::read(env.path("em")).unwrap();
        if let Some(i) = b.windows(f.len()).position(|w| w == f) {
            b.drain(i..i + f.len());
        }
        b
    }]
    .concat();
    assert!(
        !String::from_utf8_lossy(&everything).contains(PASSWORD),
        "the EraseMaster password was written somewhere"
    );

    std::fs::write(env.path("wrong"), "not-it\n").unwrap();
    let out = purge(
        &env,
        "nvme:4M:enterprise",
        &[
            "--method",
            "tcg-erase",
            "--erase-master-file",
            "wrong",
            "--yes",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("did not accept the EraseMaster password") && !err.contains("not-it"),
        "{err}"
    );

    // A drive nobody took ownership of: its MSID, read from the drive, is the password.
    let out = purge(
        &env,
        "nvme:4M:enterprise-unowned",
        &["--method", "tcg-erase", "--erase-master-msid", "--yes"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // Both at once is the operator's mistake.
    let out = purge(
        &env,
        "nvme:4M:enterprise",
        &["--erase-master-msid", "--erase-master-file", "em", "--yes"],
    );
    assert_eq!(out.status.code(), Some(2));
}
