//! Several targets in one `wipe` or `sanitize`: each is judged on its own. A target refused
//! for safety (read-only, in use) gets its own refusal (an event naming it, a summary row, a
//! signed record saying why, nothing written) and the others run; the exit code is the worst.
//! `--all-or-nothing` keeps the old way: one refusal and nothing runs.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::*;

const MIB: usize = 1 << 20;

fn events(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn read_only_image(p: &Path, fill: u8) {
    make_file(p, 4 * MIB, fill);
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o444)).unwrap();
}

fn batch_with_one_refused(command: &str) {
    let env = Env::new();
    let (a, b, c) = (env.path("a.img"), env.path("b.img"), env.path("c.img"));
    make_file(&a, 4 * MIB, 0x11);
    read_only_image(&b, 0x22);
    make_file(&c, 4 * MIB, 0x33);
    let b_before = digest(&b);
    let out = mediasan!(
        env,
        command,
        "--yes",
        "--json",
        "--cert-dir",
        "certs",
        "--asset-tag",
        "A-1",
        "--asset-tag",
        "A-2",
        "--asset-tag",
        "A-3",
        &a,
        &b,
        &c
    );
    assert_code(&out, 3);
    let ev = events(&out);
    let refused: Vec<_> = ev
        .iter()
        .filter(|e| e["event"] == "drive_refused")
        .collect();
    assert_eq!(refused.len(), 1, "{ev:?}");
    assert_eq!(refused[0]["target"], b.display().to_string());
    assert!(
        refused[0]["reason"].as_str().unwrap().contains("read-only"),
        "{}",
        refused[0]
    );
    let results: Vec<_> = ev.iter().filter(|e| e["event"] == "result").collect();
    let of = |p: &Path| {
        results
            .iter()
            .find(|e| e["target"] == p.display().to_string())
            .unwrap_or_else(|| panic!("no result for {}: {ev:?}", p.display()))
    };
    assert_eq!(of(&a)["result"], "PASS");
    assert_eq!(of(&c)["result"], "PASS");
    assert_eq!(of(&b)["result"], "FAIL");
    assert_eq!(
        of(&b)["asset_tag"],
        "A-2",
        "the refused drive keeps its own record"
    );
    assert_eq!(
        digest(&b),
        b_before,
        "nothing was written to the refused target"
    );
    // Its signed record says what was refused and why.
    let cert = read_cert(Path::new(of(&b)["certificate"].as_str().unwrap()));
    assert_eq!(cert.sanitization.method, "none");
    assert!(
        cert.reasons
            .iter()
            .any(|r| r.contains("refused") && r.contains("read-only")),
        "{:?}",
        cert.reasons
    );
    assert!(
        !cert.recommendation.starts_with("Destroy"),
        "{}",
        cert.recommendation
    );
    let check = mediasan!(
        env,
        "cert",
        "verify",
        of(&b)["certificate"].as_str().unwrap(),
        "--pubkey",
        &env.pubkey()
    );
    assert_code(&check, 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Summary: 3 targets"), "{err}");
    assert!(err.contains("REFUSED"), "the summary row says it: {err}");
}

#[test]
fn wipe_of_several_runs_the_others_when_one_is_refused_and_records_the_refusal() {
    batch_with_one_refused("wipe");
}

#[test]
fn sanitize_of_several_runs_the_others_when_one_is_refused_and_records_the_refusal() {
    batch_with_one_refused("sanitize");
}

#[test]
fn all_or_nothing_refuses_the_whole_batch_and_names_every_refused_target() {
    let env = Env::new();
    let (a, b, c) = (env.path("a.img"), env.path("b.img"), env.path("c.img"));
    make_file(&a, 4 * MIB, 0x11);
    read_only_image(&b, 0x22);
    read_only_image(&c, 0x33);
    let a_before = digest(&a);
    for command in ["wipe", "sanitize"] {
        let out = mediasan!(
            env,
            command,
            "--yes",
            "--json",
            "--all-or-nothing",
            "--cert-dir",
            "certs",
            &a,
            &b,
            &c
        );
        assert_code(&out, 3);
        assert_eq!(digest(&a), a_before, "{command}: nothing ran");
        assert!(env.certificates(&env.path("certs")).is_empty());
        let ev = events(&out);
        let named: Vec<_> = ev
            .iter()
            .filter(|e| e["event"] == "drive_refused")
            .map(|e| e["target"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            named,
            vec![b.display().to_string(), c.display().to_string()],
            "{command}: {ev:?}"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("b.img") && err.contains("c.img"),
            "{command}: the error names both: {err}"
        );
    }
}

#[test]
fn a_lone_refused_target_is_named_in_the_error_event() {
    let env = Env::new();
    let b = env.path("b.img");
    read_only_image(&b, 0x22);
    let out = mediasan!(env, "wipe", "--yes", "--json", "--cert-dir", "certs", &b);
    assert_code(&out, 3);
    let ev = events(&out);
    let error = ev
        .iter()
        .find(|e| e["event"] == "error")
        .expect("an error event");
    assert_eq!(error["target"], b.display().to_string(), "{error}");
    assert!(env.certificates(&env.path("certs")).is_empty());
}
