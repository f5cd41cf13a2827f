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
