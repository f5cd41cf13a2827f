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
