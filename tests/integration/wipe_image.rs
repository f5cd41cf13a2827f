//! The real binary against image files: every byte overwritten, certificates signed and
//! checkable with OpenSSH, bad input refused with one line, the documented exit code, and the
//! target untouched.

use std::process::Command;

use crate::common::*;
use assert_cmd::assert::OutputAssertExt;
use predicates::prelude::*;

#[test]
fn odd_sized_images_are_fully_overwritten_with_the_recorded_stream() {
    let env = Env::new();
    // Not a multiple of 4096 or 512; smaller than one buffer; several buffers plus a tail.
    for (i, size) in [1usize, 511, 4097, 1_000_003, 9 * 1024 * 1024 + 123]
        .into_iter()
        .enumerate()
    {
        let img = env.path(&format!("odd{i}.img"));
        make_file(&img, size, 0xA5);
        let certs = env.path(&format!("certs{i}"));
        assert_code(
            &mediasan!(
                env,
                "wipe",
                "--yes",
                "--verify",
                "full",
                "--buffer-size",
                "64K",
                "--cert-dir",
                &certs,
                &img
            ),
            0,
        );
        let c = read_cert(&env.certificates(&certs)[0]);
        assert_eq!(c.result, mediasan::cert::Verdict::Pass);
        assert_eq!(c.media.size_bytes, size as u64);
        assert_eq!(c.sanitization.passes[0].bytes_written, size as u64);
        let on_disk = std::fs::read(&img).unwrap();
        assert_eq!(on_disk.len(), size, "the file keeps its size");
        assert!(
            on_disk == expected_bytes(&c, size),
            "size {size}: bytes differ from the recorded stream"
        );
        // Full verification hashes the whole target in order: an independent BLAKE3 agrees.
        assert_eq!(c.verification.blake3, digest(&img));
    }
}

#[test]
fn every_builtin_policy_leaves_its_last_pattern() {
    let env = Env::new();
    let out = mediasan!(env, "policies", "--json");
    let policies: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "policy")
        .collect();
    // The policies that choose a technique per drive are for `sanitize`: wipe refuses them
    // rather than quietly only overwriting.
    let (names, per_medium): (Vec<_>, Vec<_>) = policies
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .partition(|n| {
            policies
                .iter()
                .any(|v| v["name"] == *n && v["method"] == "clear")
        });
    assert!(names.len() >= 11, "{names:?}");
    assert_eq!(per_medium, ["nist-purge", "nist-decommission", "rma"]);
    for name in &per_medium {
        let img = env.path("refused.img");
        make_file(&img, 300_000, 0x5A);
        let out = mediasan!(env, "wipe", "--yes", "--policy", name, &img);
        assert_code(&out, 2);
        assert!(String::from_utf8_lossy(&out.stderr).contains("mediasan sanitize"));
        assert!(std::fs::read(&img).unwrap().iter().all(|&b| b == 0x5A));
    }
    for name in names {
        let img = env.path(&format!("{name}.img"));
        make_file(&img, 300_000, 0x5A);
        let certs = env.path(&format!("c-{name}"));
        assert_code(
            &mediasan!(
                env,
                "wipe",
                "--yes",
                "--policy",
                &name,
                "--cert-dir",
                &certs,
                &img
            ),
            0,
        );
        let c = read_cert(&env.certificates(&certs)[0]);
        assert_eq!(c.sanitization.policy.name, name);
        assert_eq!(c.sanitization.method, "clear", "overwrite is never purge");
        assert!(
            std::fs::read(&img).unwrap() == expected_bytes(&c, 300_000),
            "{name}"
        );
    }
}

#[test]
fn ext4_image_full_of_markers_has_none_left() {
    if !have("mkfs.ext4") {
        skip!("mkfs.ext4 is not installed");
    }
    let env = Env::new();
    let src = env.path("files");
    std::fs::create_dir(&src).unwrap();
    let marker = "MEDIASAN-SECRET-MARKER-7f3a";
    for i in 0..50 {
        std::fs::write(
            src.join(format!("f{i}.txt")),
            format!("{marker} {i}\n").repeat(2000),
        )
        .unwrap();
    }
    let img = env.path("fs.img");
    let ok = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&src)
        .arg(&img)
        .arg("16M")
        .status()
        .unwrap();
    assert!(ok.success());
    let before = std::fs::read(&img).unwrap();
    assert!(
        before.windows(marker.len()).any(|w| w == marker.as_bytes()),
        "markers are there before"
    );
    assert_code(
        &mediasan!(env, "wipe", "--yes", "--policy", "nist-clear", &img),
        0,
    );
    let after = std::fs::read(&img).unwrap();
    assert_eq!(after.len(), before.len());
    assert!(
        !after.windows(marker.len()).any(|w| w == marker.as_bytes()),
        "a marker survived"
    );
}

#[test]
fn openssh_accepts_the_signature_and_rejects_a_tampered_certificate() {
    if !have("ssh-keygen") {
        skip!("ssh-keygen (openssh-client) is not installed");
    }
    let env = Env::new();
    let img = env.path("t.img");
    assert_code(&mediasan!(env, "wipe", "--yes", "--create", "1M", &img), 0);
    let cert = env.certificates(env.dir.path())[0].clone();
    let sig = format!("{}.sig", cert.display());
    let check = |file: &std::path::Path| {
        Command::new("ssh-keygen")
            .args([
                "-Y",
                "check-novalidate",
                "-n",
                "mediasan-certificate",
                "-s",
                &sig,
            ])
            .stdin(std::fs::File::open(file).unwrap())
            .output()
            .unwrap()
    };
    let out = check(&cert);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Good \"mediasan-certificate\" signature")
    );
    // Also with an allowed-signers file and the key's .pub, as an auditor would.
    let pubkey = std::fs::read_to_string(env.path("config/mediasan/signing_key.pub")).unwrap();
    let allowed = env.path("allowed_signers");
    std::fs::write(&allowed, format!("auditor@example {pubkey}")).unwrap();
    let ok = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-I",
            "auditor@example",
            "-n",
            "mediasan-certificate",
            "-s",
            &sig,
            "-f",
        ])
        .arg(&allowed)
        .stdin(std::fs::File::open(&cert).unwrap())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let text = std::fs::read_to_string(&cert).unwrap();
    let tampered = env.path("tampered.json");
    std::fs::write(&tampered, text.replacen("\"PASS\"", "\"FAIL\"", 1)).unwrap();
    assert!(
        !check(&tampered).status.success(),
        "OpenSSH must reject a changed certificate"
    );
}

#[test]
fn cert_verify_accepts_the_real_one_and_rejects_every_bad_one() {
    let env = Env::new();
    let img = env.path("v.img");
    assert_code(&mediasan!(env, "wipe", "--yes", "--create", "1M", &img), 0);
    let cert = env.certificates(env.dir.path())[0].clone();
    let sig = std::path::PathBuf::from(format!("{}.sig", cert.display()));
    let pubkey = env.path("config/mediasan/signing_key.pub");
    env.cmd()
        .args(["cert", "verify"])
        .arg(&cert)
        .arg("--pubkey")
        .arg(&pubkey)
        .assert()
        .success()
        .stdout(predicate::str::contains("OK:").and(predicate::str::contains("PASS")));

    // Tampered: exit 1, one line.
    let text = std::fs::read_to_string(&cert).unwrap();
    let t = env.path("t.json");
    std::fs::write(&t, text.replacen("\"clear\"", "\"purge\"", 1)).unwrap();
    std::fs::copy(&sig, env.path("t.json.sig")).unwrap();
    let a = env.cmd().args(["cert", "verify"]).arg(&t).assert().code(1);
    assert_eq!(
        String::from_utf8_lossy(&a.get_output().stderr)
            .lines()
            .count(),
        1
    );

    // Another key: exit 1.
    assert_code(&mediasan!(env, "keygen", "--out", &env.path("other")), 0);
    env.cmd()
        .args(["cert", "verify"])
        .arg(&cert)
        .arg("--pubkey")
        .arg(env.path("other.pub"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("NOT TRUSTED"));

    // Missing signature, garbage signature, not a certificate, missing file: exit 2.
    let lone = env.path("lone.json");
    std::fs::copy(&cert, &lone).unwrap();
    env.cmd()
        .args(["cert", "verify"])
        .arg(&lone)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("signature"));
    std::fs::write(env.path("lone.json.sig"), "garbage").unwrap();
    env.cmd()
        .args(["cert", "verify"])
        .arg(&lone)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an SSH signature"));
    let notcert = env.path("notes.txt");
    std::fs::write(&notcert, "hello").unwrap();
    env.cmd()
        .args(["cert", "verify"])
        .arg(&notcert)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a mediasan certificate"));
    env.cmd()
        .args(["cert", "verify"])
        .arg(env.path("absent.json"))
        .assert()
        .code(2);
}

/// Runs a wipe that must fail before writing, and checks code, one-line message, and that the
/// target is byte-for-byte unchanged.
fn refused(env: &Env, args: &[&str], target: Option<&std::path::Path>, code: i32, needle: &str) {
    let before = target.filter(|t| t.is_file()).map(digest);
    let mut c = env.cmd();
    c.arg("wipe").args(args);
    if let Some(t) = target {
        c.arg(t);
    }
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected '{needle}' in: {err}"
    );
    if code != 2 || !err.starts_with("error: ") {
        // clap prints its own usage block; our errors are one line.
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line, got: {err}"
        );
    }
    if let (Some(t), Some(b)) = (target, before) {
        assert_eq!(digest(t), b, "{args:?}: target changed");
    }
    assert!(
        env.certificates(env.dir.path()).is_empty(),
        "no certificate for a refused wipe"
    );
}

#[test]
fn bad_input_is_refused_with_one_line_and_the_target_untouched() {
    let env = Env::new();
    let img = env.path("keep.img");
    make_file(&img, 1 << 20, 0x42);
    refused(
        &env,
        &["--yes"],
        Some(&env.path("missing.img")),
        2,
        "does not exist; give an existing block device or image file (or --create SIZE to make an image)",
    );
    std::fs::create_dir(env.path("adir")).unwrap();
    refused(
        &env,
        &["--yes"],
        Some(&env.path("adir")),
        2,
        "is a directory",
    );
    make_file(&env.path("empty.img"), 0, 0);
    refused(
        &env,
        &["--yes"],
        Some(&env.path("empty.img")),
        2,
        "is empty",
    );
    refused(
        &env,
        &["--yes", "--policy", "no-such-policy"],
        Some(&img),
        2,
        "no built-in policy",
    );
    std::fs::write(
        env.path("bad.toml"),
        "name = \"x\"\ndescription = \"d\"\n[[pass]]\npattern = \"plaid\"\n",
    )
    .unwrap();
    let bad = env.path("bad.toml").display().to_string();
    refused(&env, &["--yes", "--policy", &bad], Some(&img), 2, "line 4");
    refused(
        &env,
        &["--yes", "--verify-percent", "0"],
        Some(&img),
        2,
        "--verify-percent",
    );
    refused(
        &env,
        &["--yes", "--verify-percent", "101"],
        Some(&img),
        2,
        "--verify-percent",
    );
    refused(
        &env,
        &["--yes", "--create", "12Q"],
        Some(&env.path("new.img")),
        2,
        "unknown unit",
    );
    assert!(!env.path("new.img").exists());
    refused(&env, &[], Some(&img), 3, "--yes");
    refused(
        &env,
        &["--yes"],
        Some(std::path::Path::new("/dev/null")),
        2,
        "neither a regular file nor a block device",
    );
}

#[test]
fn a_bad_key_is_refused_before_anything_is_written() {
    let env = Env::new();
    let img = env.path("k.img");
    make_file(&img, 1 << 20, 0x42);
    std::fs::write(env.path("notakey"), "nope").unwrap();
    let key = env.path("notakey").display().to_string();
    refused(
        &env,
        &["--yes", "--key", &key],
        Some(&img),
        2,
        "not an OpenSSH private key",
    );
}

#[test]
fn dry_run_writes_nothing_and_shows_the_plan() {
    let env = Env::new();
    let img = env.path("d.img");
    make_file(&img, 1 << 20, 0x42);
    let before = digest(&img);
    env.cmd()
        .args(["wipe", "--dry-run", "--policy", "dod-5220.22-m"])
        .arg(&img)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("pass 3/3")
                .and(predicate::str::contains("nothing is written")),
        );
    assert_eq!(digest(&img), before);
    assert_code(
        &mediasan!(
            env,
            "wipe",
            "--dry-run",
            "--create",
            "1G",
            &env.path("nope.img")
        ),
        0,
    );
    assert!(!env.path("nope.img").exists(), "dry run creates nothing");
    assert!(env.certificates(env.dir.path()).is_empty());
}

/// A 1 MiB image wiped with `--verify none` (exit 1, INCOMPLETE): the image and its output.
fn wiped_unverified(env: &Env) -> (std::path::PathBuf, assert_cmd::assert::Assert) {
    let img = env.path("n.img");
    let run = env
        .cmd()
        .args(["wipe", "--yes", "--verify", "none", "--create", "1M"])
        .arg(&img)
        .assert()
        .code(1);
    (img, run)
}

#[test]
fn verify_none_is_never_pass() {
    let env = Env::new();
    let (_, run) = wiped_unverified(&env);
    run.stderr(predicate::str::contains("INCOMPLETE"));
    let c = read_cert(&env.certificates(env.dir.path())[0]);
    assert_eq!(c.result, mediasan::cert::Verdict::Incomplete);
    assert!(c.reasons[0].contains("not verified"));
}

/// Numbers that look right (issue "a technician's second day"): an authentic certificate that
/// is not a PASS is never announced "OK:", a verification that never ran is "not run", never
/// "0.00 %", and a dry run's health line has no stray "; )".
#[test]
fn an_incomplete_certificate_reads_as_what_it_is() {
    let env = Env::new();
    let (img, _) = wiped_unverified(&env);
    let cert = env.certificates(env.dir.path())[0].clone();
    let out = env
        .cmd()
        .args(["cert", "verify"])
        .arg(&cert)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("AUTHENTIC, NOT A PASS:"), "{text}");
    assert!(
        !text.contains("OK:") && text.contains("INCOMPLETE"),
        "{text}"
    );
    let out = env
        .cmd()
        .args(["cert", "show"])
        .arg(&cert)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("Coverage"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.ends_with("not run") && !line.contains('%'), "{line}");
    let out = env
        .cmd()
        .args(["wipe", "--dry-run"])
        .arg(&img)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  health: ") && !text.contains("; )"),
        "{text}"
    );
}

#[test]
fn several_targets_get_one_certificate_each() {
    let env = Env::new();
    let a = env.path("a.img");
    let b = env.path("b.img");
    make_file(&a, 3 << 20, 1);
    make_file(&b, 5 << 20, 2);
    assert_code(
        &mediasan!(env, "wipe", "--yes", "--cert-dir", "out", &a, &b),
        0,
    );
    let certs = env.certificates(&env.path("out"));
    assert_eq!(certs.len(), 2);
    let mut sizes: Vec<u64> = certs
        .iter()
        .map(|c| read_cert(c).media.size_bytes)
        .collect();
    sizes.sort();
    assert_eq!(sizes, vec![3 << 20, 5 << 20]);
    env.cmd()
        .args(["wipe", "--yes"])
        .arg(&a)
        .arg(&a)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("named twice"));
}

#[test]
fn help_and_policies_render() {
    let env = Env::new();
    env.cmd()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("wipe"));
    env.cmd()
        .args(["wipe", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--verify-percent"));
    env.cmd().arg("policies").assert().success().stdout(
        predicate::str::contains("nist-clear")
            .and(predicate::str::contains("[LEGACY]"))
            .and(predicate::str::contains("nvme-sanitize-crypto")),
    );
    env.cmd()
        .args(["policies", "--show", "gutmann"])
        .assert()
        .success()
        .stdout(predicate::str::contains("shuffle"));
}

/// The first `n` bytes of `openssl enc -aes-128-ctr -K KEY -iv IV` over zeros (hex key and IV).
fn openssl_ctr(key: &str, iv: &str, n: usize) -> Vec<u8> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c {n} /dev/zero | openssl enc -aes-128-ctr -K {key} -iv {iv}"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn openssl_regenerates_the_random_pass_independently() {
    if !have("openssl") {
        skip!("openssl is not installed");
    }
    let env = Env::new();
    let img = env.path("o.img");
    let size = 3 * 1024 * 1024 + 77;
    make_file(&img, size, 0);
    assert_code(&mediasan!(env, "wipe", "--yes", &img), 0);
    let c = read_cert(&env.certificates(env.dir.path())[0]);
    let pass = &c.sanitization.passes[0];
    assert_eq!(
        pass.prng.as_deref(),
        Some("aes128-ctr"),
        "the default generator"
    );
    let seed = pass.seed.clone().unwrap();
    let (key, iv) = seed.split_at(32);
    // The seed is AES-128 key || initial counter block: exactly `openssl enc -aes-128-ctr`.
    assert!(
        openssl_ctr(key, iv, size) == std::fs::read(&img).unwrap(),
        "OpenSSL's keystream equals the bytes on disk"
    );
}

#[test]
fn openssl_equals_the_generator_at_many_offsets_and_lengths() {
    use mediasan::pattern::{Pattern, Prng};
    if !have("openssl") {
        skip!("openssl is not installed");
    }
    // Seeds whose counter's low half (and whole) wraps inside the stream, and an ordinary one.
    let near = |hi: u64, lo: u64| {
        let mut s = [0x42u8; 32];
        s[16..24].copy_from_slice(&hi.to_be_bytes());
        s[24..].copy_from_slice(&lo.to_be_bytes());
        s
    };
    let seeds = [
        std::array::from_fn(|i| (i * 29 + 5) as u8),
        near(7, u64::MAX - 3),
        near(u64::MAX, u64::MAX - 70),
    ];
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for seed in seeds {
        let total = 300_000;
        let stream = openssl_ctr(&hex(&seed[..16]), &hex(&seed[16..]), total);
        let p = Pattern::Random {
            prng: Prng::Aes128Ctr,
            seed,
            inverted: false,
        };
        for (offset, len) in [
            (0usize, 1usize),
            (0, 16),
            (1, 15),
            (15, 2),
            (17, 1000),
            (64, 512),
            (100, 4096),
            (4095, 8193),
            (1111, 123_457),
            (0, total),
        ] {
            let mut buf = vec![0xEEu8; len];
            p.fill_at(&mut buf, offset as u64);
            assert!(
                buf == stream[offset..offset + len],
                "offset {offset}, length {len}, seed {}",
                hex(&seed)
            );
            // The verifier's check accepts OpenSSL's bytes, and not one changed byte.
            let mut data = stream[offset..offset + len].to_vec();
            assert_eq!(p.matches_at(&data, offset as u64), Some(true));
            data[len / 2] ^= 0x80;
            assert_eq!(p.matches_at(&data, offset as u64), Some(false));
        }
    }
}

#[test]
fn json_events_parse_line_by_line_with_the_documented_fields() {
    let env = Env::new();
    let img = env.path("j.img");
    let start = std::time::Instant::now();
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--json",
        "--policy",
        "hmg-is5-enhanced",
        "--create",
        "64M",
        &img
    );
    let secs = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"start"));
    assert_eq!(kinds.last(), Some(&"result"));
    assert_eq!(kinds.iter().filter(|k| **k == "pass_done").count(), 3);
    assert_eq!(kinds.iter().filter(|k| **k == "verify_done").count(), 1);
    let fields = |kind: &str, names: &[&str]| {
        for e in events.iter().filter(|e| e["event"] == kind) {
            for n in names {
                assert!(e.get(*n).is_some(), "{kind} lacks {n}: {e}");
            }
        }
    };
    fields(
        "start",
        &["target", "kind", "size_bytes", "policy", "passes", "verify"],
    );
    fields(
        "progress",
        &[
            "target",
            "stage",
            "pass",
            "passes",
            "bytes_done",
            "bytes_total",
            "bytes_per_second",
            "eta_seconds",
        ],
    );
    fields(
        "pass_done",
        &[
            "target",
            "pass",
            "passes",
            "pattern",
            "bytes_written",
            "bytes_per_second",
            "errors",
            "complete",
        ],
    );
    fields(
        "verify_done",
        &[
            "target",
            "method",
            "bytes_read",
            "coverage_percent",
            "mismatches",
            "errors",
            "blake3",
            "bytes_per_second",
        ],
    );
    fields(
        "result",
        &[
            "target",
            "result",
            "reasons",
            "certificate",
            "signature",
            "id",
        ],
    );
    // At most one progress event a second per stage (4 stages here), plus each stage's first.
    let progress = kinds.iter().filter(|k| **k == "progress").count();
    assert!(
        progress as f64 <= secs + 4.0 + 1.0,
        "{progress} progress events in {secs:.1} s"
    );
    let result = events.last().unwrap();
    assert_eq!(result["result"], "PASS");
    assert!(std::path::Path::new(result["certificate"].as_str().unwrap()).exists());
}

#[test]
fn sigint_stops_with_130_and_an_incomplete_certificate() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let env = Env::new();
    let img = env.path("sig.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    // 35 passes over 1 GiB: certainly still running when the signal comes.
    let mut child = env
        .cmd()
        .args(["wipe", "--yes", "--json", "--policy", "gutmann"])
        .arg(&img)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("\"start\""), "{first}");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let started = std::time::Instant::now();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(started.elapsed().as_secs() < 10, "stops promptly");
    assert!(
        rest.last().is_some_and(|l| l.contains("\"INCOMPLETE\"")),
        "{rest:?}"
    );
    let c = read_cert(&env.certificates(env.dir.path())[0]);
    assert_eq!(c.result, mediasan::cert::Verdict::Incomplete);
    assert!(c.reasons[0].contains("interrupted"), "{:?}", c.reasons);
}

/// The NIST SP 800-88 record fields that must exist in every certificate, even empty.
const RECORD_FIELDS: &[&str] = &[
    "/operator/name",
    "/operator/title",
    "/operator/organization",
    "/operator/location",
    "/operator/contact",
    "/media/vendor",
    "/media/model",
    "/media/serial",
    "/media/serial_source",
    "/media/firmware",
    "/media/wwn",
    "/media/media_type",
    "/media/interface",
    "/media/size_bytes",
    "/media/logical_block_size",
    "/media/physical_block_size",
    "/media/asset_tag",
    "/media/source",
    "/media/classification",
    "/media/data_backed_up",
    "/media/backup_location",
    "/media/hidden_areas/state",
    "/sanitization/method",
    "/sanitization/technique",
    "/sanitization/policy/name",
    "/sanitization/policy/blake3",
    "/sanitization/passes/0/pattern",
    "/sanitization/started",
    "/sanitization/finished",
    "/verification/method",
    "/verification/seed",
    "/verification/coverage_percent",
    "/verification/mismatches",
    "/verification/blake3",
    "/post_sanitization_classification",
    "/destination",
    "/notes",
    "/validation/name",
    "/validation/title",
    "/validation/organization",
    "/validation/location",
    "/validation/contact",
    "/validation/signature",
    "/validation/date",
    "/tool/version",
    "/host/hostname",
];

#[test]
fn every_record_field_exists_even_when_empty() {
    let env = Env::new();
    assert_code(
        &mediasan!(env, "wipe", "--yes", "--create", "1M", &env.path("e.img")),
        0,
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&env.certificates(env.dir.path())[0]).unwrap())
            .unwrap();
    for f in RECORD_FIELDS {
        assert!(v.pointer(f).is_some(), "missing {f}");
    }
    assert_eq!(v.pointer("/operator/name").unwrap(), "");
    assert_eq!(v.pointer("/validation/signature").unwrap(), "");
}

#[test]
fn record_fields_come_from_flags_then_the_organization_file() {
    let env = Env::new();
    let conf = env.path("org.toml");
    std::fs::write(
        &conf,
        "organization = \"ACME DC\"\nlocation = \"Frankfurt DC2\"\ncontact = \"+49 1\"\noperator = \"Config Person\"\n\
         title = \"Technician\"\ncert_dir = \"from-config\"\npolicy = \"nist-clear-zero\"\ndestination = \"recycling facility\"\n",
    )
    .unwrap();
    assert_code(
        &mediasan!(
            env,
            "wipe",
            "--yes",
            "--create",
            "1M",
            "--config",
            &conf,
            "--operator",
            "Jane Doe",
            "--asset-tag",
            "A-1001",
            "--media-source",
            "host db7",
            "--classification",
            "Confidential",
            "--data-backed-up",
            "yes",
            "--backup-location",
            "vault 3",
            "--post-classification",
            "Unclassified",
            "--note",
            "first note",
            "--note",
            "second note",
            "--validator",
            "Max Muster",
            "--validator-title",
            "Auditor",
            &env.path("r.img")
        ),
        0,
    );
    let certs = env.certificates(&env.path("from-config"));
    assert_eq!(certs.len(), 1, "config cert_dir used");
    let c = read_cert(&certs[0]);
    assert_eq!(
        c.sanitization.policy.name, "nist-clear-zero",
        "config policy used"
    );
    assert_eq!(c.operator.name, "Jane Doe", "flag beats config");
    assert_eq!(
        (c.operator.title.as_str(), c.operator.organization.as_str()),
        ("Technician", "ACME DC")
    );
    assert_eq!(
        (c.operator.location.as_str(), c.operator.contact.as_str()),
        ("Frankfurt DC2", "+49 1")
    );
    assert_eq!(c.media.asset_tag, "A-1001");
    assert_eq!(c.media.source, "host db7");
    assert_eq!(c.media.classification, "Confidential");
    assert_eq!(c.media.data_backed_up, "yes");
    assert_eq!(c.media.backup_location, "vault 3");
    assert_eq!(c.post_sanitization_classification, "Unclassified");
    assert_eq!(c.destination, "recycling facility");
    assert!(
        c.notes.iter().any(|n| n == "first note") && c.notes.iter().any(|n| n == "second note")
    );

    std::fs::write(&conf, "organisation = \"typo\"\n").unwrap();
    let img = env.path("keep.img");
    make_file(&img, 1 << 20, 9);
    env.cmd()
        .args(["wipe", "--yes", "--config"])
        .arg(&conf)
        .arg(&img)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 1").and(predicate::str::contains("organisation")));
    assert!(std::fs::read(&img).unwrap().iter().all(|&b| b == 9));
    env.cmd()
        .args(["wipe", "--yes", "--config"])
        .arg(env.path("absent.toml"))
        .arg(&img)
        .assert()
        .code(2);
}

#[test]
fn verify_repeats_the_certified_read_back_and_catches_changes() {
    let env = Env::new();
    let img = env.path("v.img");
    assert_code(
        &mediasan!(
            env,
            "wipe",
            "--yes",
            "--create",
            "64M",
            "--cert-dir",
            "s",
            &img
        ),
        0,
    );
    let cert = env.certificates(&env.path("s"))[0].clone();
    let digest = read_cert(&cert).verification.blake3;
    env.trust_default_key();
    // Intact: same samples, same digest.
    env.cmd()
        .arg("verify")
        .arg(&img)
        .arg("--cert")
        .arg(&cert)
        .assert()
        .success()
        .stdout(predicate::str::contains("OK:").and(predicate::str::contains(digest.as_str())));
    // A changed region (8 MiB of zeros in the middle) is caught by the samples.
    let mut data = std::fs::read(&img).unwrap();
    data[24 << 20..32 << 20].fill(0);
    std::fs::write(&img, &data).unwrap();
    env.cmd()
        .arg("verify")
        .arg(&img)
        .arg("--cert")
        .arg(&cert)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "first differing block is at offset",
        ));

    // Full verification: one changed byte, found at its block.
    let img2 = env.path("f.img");
    assert_code(
        &mediasan!(
            env,
            "wipe",
            "--yes",
            "--verify",
            "full",
            "--create",
            "8M",
            "--cert-dir",
            "f",
            &img2
        ),
        0,
    );
    let cert2 = env.certificates(&env.path("f"))[0].clone();
    assert_code(&mediasan!(env, "verify", &img2, "--cert", &cert2), 0);
    let mut data = std::fs::read(&img2).unwrap();
    data[5_000_001] ^= 0x01;
    std::fs::write(&img2, &data).unwrap();
    env.cmd()
        .arg("verify")
        .arg(&img2)
        .arg("--cert")
        .arg(&cert2)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "offset {}",
            5_000_001 / 4096 * 4096
        )));

    // A certificate for other media is refused; a tampered one is not authentic.
    env.cmd()
        .arg("verify")
        .arg(&img2)
        .arg("--cert")
        .arg(&cert)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "is not the media of this certificate",
        ));
    let t = env.path("t.json");
    std::fs::write(
        &t,
        std::fs::read_to_string(&cert2)
            .unwrap()
            .replace("\"full\"", "\"sampled\""),
    )
    .unwrap();
    std::fs::copy(format!("{}.sig", cert2.display()), env.path("t.json.sig")).unwrap();
    env.cmd()
        .arg("verify")
        .arg(&img2)
        .arg("--cert")
        .arg(&t)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("NOT authentic"));
}

#[test]
fn man_page_and_completions_are_generated_from_the_cli() {
    let env = Env::new();
    let man = mediasan!(env, "generate", "man");
    assert!(man.status.success());
    let text = String::from_utf8_lossy(&man.stdout);
    assert!(
        text.starts_with(".ie") || text.contains(".TH mediasan"),
        "{}",
        &text[..200.min(text.len())]
    );
    assert!(text.contains("wipe") && text.contains("verify"));
    for section in ["EXIT STATUS", "FILES", "ENVIRONMENT", "EXAMPLES", "130"] {
        assert!(text.contains(section), "the man page has {section}");
    }
    if have("man") {
        let page = env.path("mediasan.1");
        std::fs::write(&page, &man.stdout).unwrap();
        let rendered = Command::new("man")
            .arg("-l")
            .arg(&page)
            .env("MANPAGER", "cat")
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&rendered.stdout).contains("mediasan"),
            "man renders it"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let out = mediasan!(env, "generate", "completions", &shell);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("--verify-percent") && text.contains("wipe"),
            "{shell}"
        );
    }
    if have("bash") {
        let script = env.path("c.bash");
        std::fs::write(
            &script,
            mediasan!(env, "generate", "completions", "bash").stdout,
        )
        .unwrap();
        let ok = Command::new("bash")
            .arg("-n")
            .arg(&script)
            .status()
            .unwrap();
        assert!(ok.success(), "bash accepts the completion script");
    }
}

/// A certificate prints what it holds: Polish, Cyrillic and Greek from the embedded fonts,
/// Japanese from a font of the machine's, and a character no font has is named at the foot
/// of the page and in a warning, never silently a '?'. pdftotext (poppler) reads it back.
#[test]
fn the_pdf_prints_every_script_a_certificate_holds() {
    if !have("pdftotext") || !have("fc-list") {
        skip!("poppler-utils (pdftotext) and fontconfig (fc-list) are needed");
    }
    let env = Env::new();
    assert_code(
        &mediasan!(
            env,
            "wipe",
            "--yes",
            "--create",
            "1M",
            "--operator",
            "Łukasz Żółć",
            "--organization",
            "Αθήνα Data ΑΕ",
            "--location",
            "Москва, склад 7",
            "--title",
            "山田 J\u{378}rg",
            &env.path("u.img")
        ),
        0,
    );
    let cert = env.certificates(env.dir.path())[0].clone();
    env.trust_default_key();
    let pdf = env.path("u.pdf");
    let out = mediasan!(env, "cert", "render", &cert, "--out", &pdf);
    assert_code(&out, 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: no font on this machine has U+0378"),
        "{err}"
    );
    let text = Command::new("pdftotext")
        .arg("-layout")
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for want in [
        "Łukasz Żółć",
        "Αθήνα Data ΑΕ",
        "Москва, склад 7",
        "Printed as boxes (no font on this machine has them): U+0378",
    ] {
        assert!(text.contains(want), "PDF lacks {want:?}:\n{text}");
    }
    assert!(!text.contains('?'), "nothing printed as '?':\n{text}");
    // Japanese needs a font of the machine's (CI installs fonts-droid-fallback).
    let cjk = Command::new("fc-list")
        .arg(":charset=5c71")
        .output()
        .unwrap();
    if cjk.stdout.is_empty() {
        skip!("no font on this machine has U+5C71 (install fonts-droid-fallback)");
    }
    assert!(
        text.contains("山田"),
        "PDF lacks the Japanese title:\n{text}"
    );
}

#[test]
fn printable_certificates_hold_every_field_and_refuse_tampering() {
    if !have("pdftotext") || !have("pdftoppm") {
        skip!("poppler-utils (pdftotext, pdftoppm) is not installed");
    }
    let env = Env::new();
    assert_code(
        &mediasan!(
            env,
            "wipe",
            "--yes",
            "--create",
            "2M",
            "--operator",
            "Jane Doe",
            "--asset-tag",
            "A-77",
            "--destination",
            "recycling facility",
            &env.path("p.img")
        ),
        0,
    );
    let cert = env.certificates(env.dir.path())[0].clone();
    let c = read_cert(&cert);
    env.trust_default_key();
    let pdf = env.path("c.pdf");
    assert_code(&mediasan!(env, "cert", "render", &cert, "--out", &pdf), 0);
    // The paper asked for is the paper drawn on (pdfinfo, poppler's own reading).
    for (paper, want) in [("a4", "595.28 x 841.89"), ("letter", "612 x 792")] {
        let out_pdf = env.path(&format!("{paper}.pdf"));
        assert_code(
            &mediasan!(env, "cert", "render", &cert, "--paper", paper, "--out", &out_pdf),
            0,
        );
        let info = Command::new("pdfinfo").arg(&out_pdf).output().unwrap();
        let info = String::from_utf8_lossy(&info.stdout);
        assert!(
            info.contains(&format!("Page size:       {want}")),
            "{paper}: {info}"
        );
        assert!(info.contains("Pages:           1"), "{info}");
    }
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let labels = [
        "Certificate of Sanitization",
        "PASS",
        "Person performing sanitization",
        "Name",
        "Title",
        "Organization",
        "Location",
        "Phone / contact",
        "Media information",
        "Make / vendor",
        "Model",
        "Serial number",
        "Capacity",
        "Asset / property number",
        "Media source",
        "Classification",
        "Data backed up",
        "Backup location",
        "Hidden areas",
        "Sanitization details",
        "Method type",
        "Technique",
        "Policy",
        "Passes",
        "Verification",
        "Coverage",
        "Sample seed",
        "BLAKE3 of data read",
        "Media destination",
        "Post-sanitization classification",
        "Destination",
        "Notes",
        "Signature",
        "Signing key fingerprint",
        "Certificate file BLAKE3",
        "Validation",
        "Date",
    ];
    for l in labels {
        assert!(text.contains(l), "PDF lacks '{l}'");
    }
    for v in [
        "Jane Doe",
        "A-77",
        "recycling facility",
        "CLEAR",
        c.id.as_str(),
        &c.verification.blake3[..40],
    ] {
        assert!(text.contains(v), "PDF lacks value '{v}'");
    }
    let file_b3 = digest(&cert);
    assert!(
        text.contains(&file_b3[..40]),
        "the printed copy names the file's BLAKE3"
    );
    // Rendered to pixels, the page is not blank.
    let (w, h, pixels) = pdf_page_rgb(&pdf);
    assert_eq!(pixels.len(), w * h);
    let ink = pixels.iter().filter(|p| p.iter().any(|&v| v < 250)).count();
    assert!(
        ink * 100 > w * h,
        "only {ink} of {} pixels are not white: the page looks empty",
        w * h
    );

    let html = env.path("c.html");
    assert_code(
        &mediasan!(env, "cert", "render", "--format", "html", &cert, "--out", &html),
        0,
    );
    let h = std::fs::read_to_string(&html).unwrap();
    assert!(h.contains("Jane Doe") && h.contains("Validation") && h.contains(&c.id));
    // A rendering mediasan wrote is replaced by a later one; any other file never is.
    assert_code(&mediasan!(env, "cert", "render", &cert, "--out", &pdf), 0);
    let other = env.path("other.pdf");
    std::fs::write(&other, "not ours").unwrap();
    env.cmd()
        .args(["cert", "render"])
        .arg(&cert)
        .arg("--out")
        .arg(&other)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never overwritten"));
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "not ours");
    env.cmd()
        .args(["cert", "show"])
        .arg(&cert)
        .assert()
        .success()
        .stdout(predicate::str::contains("RESULT: PASS"));

    let t = env.path("t.json");
    std::fs::write(
        &t,
        std::fs::read_to_string(&cert)
            .unwrap()
            .replace("Jane Doe", "John Roe"),
    )
    .unwrap();
    std::fs::copy(format!("{}.sig", cert.display()), env.path("t.json.sig")).unwrap();
    env.cmd()
        .args(["cert", "render"])
        .arg(&t)
        .arg("--out")
        .arg(env.path("t.pdf"))
        .assert()
        .code(1);
    assert!(
        !env.path("t.pdf").exists(),
        "nothing rendered for a tampered certificate"
    );
}

#[test]
fn generated_completions_survive_a_reader_that_goes_away() {
    use std::io::Read;
    use std::process::Stdio;
    let env = Env::new();
    // A small pipe, so the writer is still writing when the reader goes away (as `| head`).
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_SETPIPE_SZ(4096)).unwrap();
    let child = env
        .cmd()
        .args(["generate", "completions", "bash"])
        .stdout(Stdio::from(w))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::fs::File::from(r);
    let mut head = [0u8; 8];
    reader.read_exact(&mut head).unwrap();
    drop(reader);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

#[test]
fn every_man_page_the_main_page_names_is_generated_with_its_options() {
    let env = Env::new();
    let dir = env.path("man");
    std::fs::create_dir_all(&dir).unwrap();
    let out = mediasan!(env, "generate", "man", "--dir", &dir);
    assert_code(&out, 0);
    let main = std::fs::read_to_string(dir.join("mediasan.1")).unwrap();
    // SEE ALSO names the subcommands' pages as mediasan\-wipe(1): each is there.
    let named: Vec<String> = main
        .split("mediasan\\-")
        .skip(1)
        .filter_map(|s| s.split_once("(1)").map(|(n, _)| n.replace("\\-", "-")))
        .filter(|n| !n.contains(char::is_whitespace) && !n.is_empty())
        .collect();
    assert!(named.len() >= 10, "{named:?}");
    for n in &named {
        assert!(
            dir.join(format!("mediasan-{n}.1")).exists(),
            "mediasan.1 names mediasan-{n}(1), which was not generated"
        );
    }
    let wipe = std::fs::read_to_string(dir.join("mediasan-wipe.1")).unwrap();
    assert!(wipe.contains("\\-\\-policy") && wipe.contains("\\-\\-verify\\-percent"));
    let sanitize = std::fs::read_to_string(dir.join("mediasan-sanitize.1")).unwrap();
    assert!(sanitize.contains("nist\\-decommission"), "{sanitize}");
    // A folder that is not there: one line, exit 2.
    let out = mediasan!(env, "generate", "man", "--dir", &env.path("missing/deeper"));
    assert_code(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the man pages"));
}

/// The README's own check command works as written however many runs left certificates in the
/// folder (a glob matching two files once broke it: "ambiguous redirect").
#[test]
fn the_readmes_check_command_works_after_a_second_run() {
    if !have("ssh-keygen") {
        skip!("ssh-keygen (openssh-client) is not installed");
    }
    let readme = include_str!("../../README.md");
    let check = readme
        .lines()
        .find(|l| {
            l.starts_with("c=$(ls -t demo.img-") && l.contains("ssh-keygen -Y check-novalidate")
        })
        .expect("the README's check command");
    let env = Env::new();
    for _ in 0..2 {
        assert_code(
            &mediasan!(
                env,
                "wipe",
                "demo.img",
                "--create",
                "1M",
                "--yes",
                "--create-key"
            ),
            0,
        );
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    assert_eq!(env.certificates(env.dir.path()).len(), 2);
    let out = std::process::Command::new("bash")
        .args(["-c", check])
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{check}: {text}");
    assert!(
        text.contains("Good \"mediasan-certificate\" signature"),
        "{text}"
    );
}
