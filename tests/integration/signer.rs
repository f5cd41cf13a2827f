//! Who signed: the signing key's first use, under concurrency.

use std::process::Command;

use crate::common::*;

#[test]
fn eight_first_use_processes_at_once_all_sign_with_one_key() {
    if !have("ssh-keygen") {
        skip!("ssh-keygen is needed to check the signatures");
    }
    // Several rounds: the window between one process creating the key and another reading
    // it is short.
    for round in 0..30 {
        let env = Env::new();
        let children: Vec<_> = (0..8)
            .map(|i| {
                env.cmd()
                    .args(["wipe", "--yes", "--create", "64K", "--cert-dir", "c"])
                    .arg(env.path(&format!("d{i}.img")))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (i, c) in children.into_iter().enumerate() {
            let out = c.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}, process {i}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // One key pair, no leftovers.
        let mut files: Vec<String> = std::fs::read_dir(env.path("config/mediasan"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("signing_key") || n.starts_with(".signing_key"))
            .collect();
        files.sort();
        assert_eq!(files, ["signing_key", "signing_key.pub"], "round {round}");
        // Every certificate verifies under that one key, as OpenSSH judges it.
        let key = std::fs::read_to_string(env.pubkey()).unwrap();
        std::fs::write(env.path("allowed"), format!("me {key}")).unwrap();
        let certs = env.certificates(&env.path("c"));
        assert_eq!(certs.len(), 8);
        for c in certs {
            let mut sig = c.clone().into_os_string();
            sig.push(".sig");
            let ok = Command::new("ssh-keygen")
                .args([
                    "-Y",
                    "verify",
                    "-I",
                    "me",
                    "-n",
                    "mediasan-certificate",
                    "-f",
                ])
                .arg(env.path("allowed"))
                .arg("-s")
                .arg(&sig)
                .stdin(std::fs::File::open(&c).unwrap())
                .output()
                .unwrap();
            assert!(
                ok.status.success(),
                "round {round}: {} not signed by the one key",
                c.display()
            );
        }
    }
}

#[test]
fn every_certificate_names_the_machine_and_what_the_engine_calls_it() {
    let env = Env::new();
    let dir = env.path("config/mediasan");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("mediasan.toml"),
        "[node]\ninventory = \"dc2-r14-u07\"\nironic_node = \"from-the-file\"\n",
    )
    .unwrap();
    let (out, cert) = env.wipe(
        &env.path("a.img"),
        &[
            "--create",
            "64K",
            "--node",
            "ironic_node=1be26c0b-0000-4000-8000-0000000000aa",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = cert.unwrap();
    let node: Vec<(&str, &str)> = c
        .host
        .node
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        node,
        [
            ("inventory", "dc2-r14-u07"),
            ("ironic_node", "1be26c0b-0000-4000-8000-0000000000aa")
        ],
        "the flag replaces the file's key"
    );
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(c.host.hostname, hostname.trim());
    // The machine ID as systemd derives it for mediasan, never the raw /etc/machine-id.
    let raw = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    if raw.trim().len() == 32 {
        assert_ne!(c.host.machine_id, raw.trim());
        if have("systemd-id128") {
            let want = Command::new("systemd-id128")
                .args([
                    "machine-id",
                    "--app-specific=ce2b6ca1-641c-4eb3-aee4-10ac69de2a8a",
                ])
                .output()
                .unwrap();
            assert_eq!(
                c.host.machine_id,
                String::from_utf8_lossy(&want.stdout).trim()
            );
        }
    }
    // Shown to people.
    let cert_file = env.certificates(&env.path("c")).pop().unwrap();
    let show = env
        .cmd()
        .args(["cert", "show"])
        .arg(&cert_file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("Machine")
            && text.contains("ironic_node=1be26c0b-0000-4000-8000-0000000000aa"),
        "{text}"
    );
    // A bad pair is one clear line, nothing written.
    let (out, cert) = env.wipe(
        &env.path("b.img"),
        &["--create", "64K", "--node", "ironic node"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(cert.is_none());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEY=VALUE"));
}

#[test]
fn an_unattended_run_without_a_configured_key_is_refused_unless_allowed() {
    let env = Env::new();
    let run = |extra: &[&str], vars: &[(&str, &str)]| {
        let mut c = env.cmd();
        c.env_remove("MEDIASAN_CREATE_KEY")
            .args(["wipe", "--yes", "--create", "64K", "--cert-dir", "c"])
            .args(extra)
            .arg(env.path("d.img"));
        for (k, v) in vars {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    // No terminal (the harness runs it in a session of its own), no key: refused before any
    // work, one line naming the ways out.
    let out = run(&[], &[]);
    assert_code(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("no signing key is configured")
            && last.contains("--key FILE")
            && last.contains("MEDIASAN_KEY")
            && last.contains("--create-key"),
        "{err}"
    );
    assert!(!env.path("d.img").exists(), "nothing made");
    assert!(!env.path("c").exists(), "no folder made");
    assert!(!env.path("state").exists(), "no journal folder made");
    assert!(!env.pubkey().exists(), "no key made");
    assert!(env.certificates(&env.path("c")).is_empty());
    // MEDIASAN_CREATE_KEY=0 allows nothing.
    assert_code(&run(&[], &[("MEDIASAN_CREATE_KEY", "0")]), 2);
    // A destruction record is refused the same way, before its folder is made.
    let out = env
        .cmd()
        .env_remove("MEDIASAN_CREATE_KEY")
        .args(["destroyed", "--serial", "S1", "--method", "shred"])
        .args([
            "--facility",
            "Shred Co",
            "--witness",
            "Max",
            "--cert-dir",
            "d",
        ])
        .output()
        .unwrap();
    assert_code(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no signing key is configured"));
    assert!(!env.path("d").exists());

    // A key named by MEDIASAN_KEY signs, and no default key is made.
    let made = env
        .cmd()
        .args(["keygen", "--out"])
        .arg(env.path("fleet_key"))
        .output()
        .unwrap();
    assert_code(&made, 0);
    let key = env.path("fleet_key");
    let out = run(&[], &[("MEDIASAN_KEY", key.to_str().unwrap())]);
    assert_code(&out, 0);
    assert!(!env.pubkey().exists());
    let certs = env.certificates(&env.path("c"));
    assert_eq!(certs.len(), 1);
    let fleet_pub = env.path("fleet_key.pub");
    let signed_by = |cert: &std::path::Path| {
        let out = env
            .cmd()
            .args(["cert", "verify", "--pubkey"])
            .arg(&fleet_pub)
            .arg(cert)
            .output()
            .unwrap();
        out.status.code() == Some(0)
    };
    assert!(signed_by(&certs[0]), "signed with MEDIASAN_KEY's key");
    // The bundle says who signed: the public key beside the certificates, not trusted for it.
    let beside: Vec<String> = std::fs::read_dir(env.path("c"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("signer-") && n.ends_with(".pub"))
        .collect();
    assert_eq!(beside.len(), 1, "{beside:?}");
    assert_eq!(
        ssh_fingerprint(&env.path("c").join(&beside[0])),
        ssh_fingerprint(&fleet_pub)
    );

    // Allowed by the flag: made, announced; later runs use it without being allowed again.
    std::fs::remove_file(env.path("d.img")).unwrap();
    let out = run(&["--create-key"], &[]);
    assert_code(&out, 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("created signing key"));
    assert!(env.pubkey().exists());
    assert_code(&run(&[], &[]), 0);

    // Allowed by the organization file.
    let env2 = Env::new();
    std::fs::create_dir_all(env2.path("config/mediasan")).unwrap();
    std::fs::write(
        env2.path("config/mediasan/mediasan.toml"),
        "create_key = true\n",
    )
    .unwrap();
    let out = env2
        .cmd()
        .env_remove("MEDIASAN_CREATE_KEY")
        .args(["wipe", "--yes", "--create", "64K", "--cert-dir", "c"])
        .arg(env2.path("d.img"))
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert!(env2.pubkey().exists());
}
