//! `mediasan sanitize` through the real binary over a mixed set: a loop device, an image file to
//! create and the simulated NVMe drive (the hidden `--simulate NAME=SPEC` seam), each given
//! the technique its policy names for its class of medium, with a certificate per step.

use std::path::Path;

use crate::common::*;
use mediasan::cert::{Certificate, Verdict};

fn sanitize(env: &Env, sim: &str, extra: &[&str], targets: &[&Path]) -> std::process::Output {
    let mut c = env.cmd();
    c.args(["sanitize", "--cert-dir", "c", "--poll-interval", "0.01"]);
    if !sim.is_empty() {
        c.args(["--simulate", &format!("/dev/simnvme0={sim}")]);
    }
    c.args(extra).args(targets).output().unwrap()
}

fn certs(env: &Env) -> Vec<Certificate> {
    env.certificates(&env.path("c"))
        .iter()
        .map(|p| read_cert(p))
        .collect()
}

fn of<'a>(certs: &'a [Certificate], path: &str) -> Vec<&'a Certificate> {
    certs.iter().filter(|c| c.media.path == path).collect()
}

#[test]
fn a_mixed_set_gets_the_technique_of_its_medium_and_a_certificate_each() {
    let env = Env::new();
    let file = env.path("lo.img");
    make_file(&file, 4 << 20, 0x33);
    let lo = match LoopDev::attach(&file, 512, false) {
        Ok(l) => l,
        Err(why) => skip!("{why}"),
    };
    let sim = Path::new("/dev/simnvme0");
    let new = env.path("new.img");
    // The dry run says, per target, the class, the technique and why, byte for byte.
    let out = sanitize(
        &env,
        "nvme:4M:crypto,block",
        &["--dry-run", "--json", "--create", "2M"],
        &[&lo.dev, sim, &new],
    );
    assert_code(&out, 0);
    let plans: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["event"] == "sanitize_plan")
        .collect();
    assert_eq!(plans.len(), 3, "{plans:?}");
    let plan = |t: &str| plans.iter().find(|p| p["target"] == t).unwrap();
    let lp = plan(&lo.dev.to_string_lossy());
    assert_eq!(
        (lp["medium"].as_str(), lp["steps"][0]["technique"].as_str()),
        (Some("virtual"), Some("overwrite"))
    );
    let sp = plan("/dev/simnvme0");
    assert_eq!(sp["medium"], "nvme");
    assert_eq!(sp["steps"][0]["method"], "nvme-sanitize-crypto");
    assert_eq!(sp["steps"][0]["grade"], "purge");
    assert!(sp["steps"][0]["bytes"][0]["hex"]
        .as_str()
        .unwrap()
        .starts_with("84"));
    assert_eq!(plan(&new.to_string_lossy())["medium"], "virtual");
    assert!(!new.exists(), "a dry run creates nothing");
    assert!(std::fs::read(&file).unwrap().iter().all(|&b| b == 0x33));

    let out = sanitize(
        &env,
        "nvme:4M:crypto,block",
        &["--yes", "--create", "2M"],
        &[&lo.dev, sim, &new],
    );
    assert_code(&out, 0);
    let all = certs(&env);
    assert_eq!(all.len(), 3);
    let l = of(&all, &lo.dev.to_string_lossy())[0];
    assert_eq!(
        (l.result, l.sanitization.method.as_str()),
        (Verdict::Pass, "clear")
    );
    assert!(
        l.notes.iter().any(|n| n.contains("not covered")),
        "{:?}",
        l.notes
    );
    assert!(l
        .notes
        .iter()
        .any(|n| n.contains("policy nist-decommission: virtual medium")));
    let s = of(&all, "/dev/simnvme0")[0];
    assert_eq!(
        (s.result, s.sanitization.method.as_str()),
        (Verdict::Pass, "purge")
    );
    assert_eq!(
        s.sanitization.command.as_ref().unwrap().method,
        "nvme-sanitize-crypto"
    );
    assert_eq!(of(&all, &new.to_string_lossy())[0].result, Verdict::Pass);
}

#[test]
fn a_drive_the_policy_has_nothing_for_fails_with_destroy_and_nothing_is_sent() {
    let env = Env::new();
    let state = env.path("drive");
    let sim = format!("nvme:4M:format:{}", state.display());
    // Format NVM is only Clear: nist-purge has nothing for this drive.
    let out = sanitize(
        &env,
        &sim,
        &["--yes", "--policy", "nist-purge"],
        &[Path::new("/dev/simnvme0")],
    );
    assert_code(&out, 1);
    let c = &certs(&env)[0];
    assert_eq!(c.result, Verdict::Fail);
    assert_eq!(c.sanitization.method, "none");
    assert!(
        c.recommendation.starts_with("Destroy"),
        "{}",
        c.recommendation
    );
    assert!(
        c.reasons[0].contains("no Purge-grade command"),
        "{:?}",
        c.reasons
    );
    let drive: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(drive["status"], 0, "no sanitize or format was sent");
}

#[test]
fn rma_purges_then_overwrites_every_block_with_a_certificate_for_each() {
    let env = Env::new();
    let state = env.path("drive");
    let sim = format!("nvme:4M:block:{}", state.display());
    let out = sanitize(
        &env,
        &sim,
        &["--yes", "--policy", "rma"],
        &[Path::new("/dev/simnvme0")],
    );
    assert_code(&out, 0);
    let all = certs(&env);
    assert_eq!(all.len(), 2, "the purge's and the overwrite's");
    let purge = all
        .iter()
        .find(|c| c.sanitization.method == "purge")
        .unwrap();
    assert_eq!(
        purge.sanitization.command.as_ref().unwrap().method,
        "nvme-sanitize-block"
    );
    let over = all
        .iter()
        .find(|c| c.sanitization.technique == "overwrite")
        .unwrap();
    assert_eq!(over.result, Verdict::Pass);
    assert_eq!(
        over.verification.method, "full",
        "rma reads every block back"
    );
}

#[test]
fn a_purge_that_is_there_but_blocked_refuses_that_drive_rather_than_fall_to_a_weaker_one() {
    let env = Env::new();
    let file = env.path("lo.img");
    make_file(&file, 1 << 20, 0x33);
    // The drive has a crypto erase, but its sanitize status cannot be read (so it could not
    // be followed): with --all-or-nothing, refused with why before anything is written to
    // any target.
    let out = sanitize(
        &env,
        "nvme:4M:crypto,nolog",
        &["--yes", "--all-or-nothing"],
        &[&file, Path::new("/dev/simnvme0")],
    );
    assert_code(&out, 3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/dev/simnvme0"), "{err}");
    assert!(certs(&env).is_empty());
    assert!(std::fs::read(&file).unwrap().iter().all(|&b| b == 0x33));
    // By default only that drive is refused, never overwritten instead; the other target runs.
    let out = sanitize(
        &env,
        "nvme:4M:crypto,nolog",
        &["--yes"],
        &[&file, Path::new("/dev/simnvme0")],
    );
    assert_code(&out, 3);
    let all = certs(&env);
    assert_eq!(all.len(), 2, "{all:?}");
    let refused = all
        .iter()
        .find(|c| c.media.path == "/dev/simnvme0")
        .expect("the refused drive's record");
    assert_eq!(refused.result, Verdict::Fail);
    assert_eq!(refused.sanitization.technique, "none");
    assert!(
        refused.reasons[0].contains("refused before anything was written"),
        "{:?}",
        refused.reasons
    );
    let other = all
        .iter()
        .find(|c| c.media.path != "/dev/simnvme0")
        .unwrap();
    assert_eq!(other.result, Verdict::Pass);
}

/// A host-managed zoned drive takes a write in a sequential zone only at that zone's write
/// pointer: sanitize's purge writes the canaries drawn there at the write pointers instead,
/// and the drive's zone report after the sanitize must show every sequential zone empty. The
/// certificate says how many canaries moved and what the report showed; `--no-canaries` still
/// judges the purge by its samples read before and after.
#[test]
fn a_host_managed_zoned_drive_is_sanitized_with_its_canaries_at_write_pointers() {
    let env = Env::new();
    let sim = Path::new("/dev/simnvme0");
    let out = sanitize(&env, "nvme:4M:crypto,zoned", &["--yes"], &[sim]);
    assert_code(&out, 0);
    let all = certs(&env);
    assert_eq!(all.len(), 1, "{all:?}");
    let c = &all[0];
    assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
    assert_eq!(c.media.identity.zoned, "host-managed");
    assert!(
        c.verification.algorithm.starts_with("canaries"),
        "{}",
        c.verification.algorithm
    );
    let z = c
        .verification
        .zones
        .as_ref()
        .expect("the zone report after");
    assert_eq!((z.zones, z.sequential), (16, 14), "{z:?}");
    assert!(z.canaries_moved > 0 && z.not_empty.is_empty(), "{z:?}");
    // A drive that only says it sanitized: its zones are still written, and the canaries
    // at their write pointers still read.
    let env = Env::new();
    let out = sanitize(&env, "nvme:4M:crypto,zoned,liar", &["--yes"], &[sim]);
    assert_code(&out, 1);
    let all = certs(&env);
    assert_eq!(all[0].result, Verdict::Fail);
    assert!(
        all[0]
            .reasons
            .iter()
            .any(|r| r.contains("sequential zones still hold data")),
        "{:?}",
        all[0].reasons
    );
    let env = Env::new();
    let out = sanitize(
        &env,
        "nvme:4M:crypto,zoned",
        &["--yes", "--no-canaries"],
        &[sim],
    );
    assert_code(&out, 0);
    let all = certs(&env);
    assert_eq!(all[0].result, Verdict::Pass, "{:?}", all[0].reasons);
    assert!(
        all[0]
            .verification
            .algorithm
            .starts_with("BLAKE3 of sampled locations before and after"),
        "{}",
        all[0].verification.algorithm
    );
}

/// An Opal drive whose only Purge is a TCG Revert: without the owner's SID password the
/// policy's purge step has nothing it may send (nist-purge on NVMe: FAIL, Destroy — never a
/// weaker technique, never a Revert nobody gave the credential for); with `--sid-file` the
/// Revert runs and the canaries prove it.
#[test]
fn sanitize_takes_a_tcg_revert_only_with_its_credential() {
    let env = Env::new();
    let sim = Path::new("/dev/simnvme0");
    let out = sanitize(&env, "nvme:4M:opal", &["--yes"], &[sim]);
    assert_code(&out, 1);
    let failed = certs(&env);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].result, Verdict::Fail);
    std::fs::write(env.path("sid"), "sim-owner-sid\n").unwrap();
    let out = sanitize(
        &env,
        "nvme:4M:opal",
        &["--yes", "--sid-file", "sid"],
        &[sim],
    );
    assert_code(&out, 0);
    let all = certs(&env);
    let purged: Vec<_> = all.iter().filter(|c| c.result == Verdict::Pass).collect();
    assert_eq!(purged.len(), 1, "{all:?}");
    assert_eq!(purged[0].sanitization.policy.name, "tcg-revert");
    assert!(!serde_json::to_string(purged[0])
        .unwrap()
        .contains("sim-owner-sid"));
    // A PSID is one drive's: never sent to several (each wrong try counts toward a lockout).
    for args in [
        &["sanitize", "a.img", "b.img", "--psid", "CODE", "--yes"][..],
        &[
            "bench",
            "--include",
            "/dev/disk/by-path/none*",
            "--psid",
            "CODE",
        ],
    ] {
        let out = env.cmd().args(args).output().unwrap();
        assert_code(&out, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--psid") && err.contains("wrong try"), "{err}");
    }
}

/// A TCG Enterprise drive whose only Purge is the Erase of its bands: the same rule, with
/// `--erase-master-file` (or `--erase-master-msid` for a drive nobody owned).
#[test]
fn sanitize_takes_a_tcg_enterprise_erase_only_with_its_credential() {
    let env = Env::new();
    let sim = Path::new("/dev/simnvme0");
    let out = sanitize(&env, "nvme:4M:enterprise", &["--yes"], &[sim]);
    assert_code(&out, 1);
    assert_eq!(certs(&env)[0].result, Verdict::Fail);
    std::fs::write(env.path("em"), "sim-erase-master\n").unwrap();
    let out = sanitize(
        &env,
        "nvme:4M:enterprise",
        &["--yes", "--erase-master-file", "em"],
        &[sim],
    );
    assert_code(&out, 0);
    let out = sanitize(
        &env,
        "nvme:4M:enterprise-unowned",
        &["--yes", "--erase-master-msid"],
        &[sim],
    );
    assert_code(&out, 0);
    let all = certs(&env);
    let purged: Vec<_> = all.iter().filter(|c| c.result == Verdict::Pass).collect();
    assert_eq!(purged.len(), 2, "{all:?}");
    assert!(purged
        .iter()
        .all(|c| c.sanitization.policy.name == "tcg-erase"));
    assert!(!all.iter().any(|c| serde_json::to_string(c)
        .unwrap()
        .contains("sim-erase-master")));
}

#[test]
fn an_interrupted_sanitize_is_finished_by_sanitize_resume() {
    let env = Env::new();
    let sim = format!("nvme:4M:crypto:{}", env.path("drive").display());
    let mut cmd = env.cmd();
    cmd.args(["sanitize", "--yes", "--json", "--cert-dir", "c"])
        .args(["--poll-interval", "0.01", "--test-hold", "purge-wait"])
        .args(["--asset-tag", "A-9", "--operator", "Jane Doe"])
        .args([
            "--simulate",
            &format!("/dev/simnvme0={sim}"),
            "/dev/simnvme0",
        ]);
    let mut child = spawn_held(cmd, "purge-wait");
    signal(&child, nix::sys::signal::Signal::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let first = certs(&env).remove(0);
    assert_eq!(first.result, Verdict::Incomplete);
    let target = Path::new("/dev/simnvme0");
    assert_code(&sanitize(&env, &sim, &["--yes"], &[target]), 2);
    // A record flag given again must agree with the one the purge began with.
    let out = sanitize(
        &env,
        &sim,
        &["--yes", "--resume", "--asset-tag", "A-10"],
        &[target],
    );
    assert_code(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("A-10") && err.contains("A-9"), "{err}");
    let out = sanitize(&env, &sim, &["--yes", "--resume"], &[target]);
    assert_code(&out, 0);
    let last = certs(&env).into_iter().find(|c| c.id != first.id).unwrap();
    assert_eq!(last.result, Verdict::Pass, "{:?}", last.reasons);
    assert_eq!(last.supersedes, vec![first.id]);
    assert_eq!(last.media.asset_tag, "A-9", "the record it began with");
    assert_eq!(last.operator.name, "Jane Doe");
    // Finished: --resume never starts a new device command.
    let out = sanitize(&env, &sim, &["--yes", "--resume"], &[target]);
    assert_code(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to resume"));
    assert_eq!(certs(&env).len(), 2);
}

#[test]
fn an_rma_overwrite_cut_short_after_its_purge_is_finished_by_resume() {
    let env = Env::new();
    let sim = format!("nvme:4M:block:{}", env.path("drive").display());
    let mut cmd = env.cmd();
    cmd.args([
        "sanitize",
        "--yes",
        "--json",
        "--cert-dir",
        "c",
        "--policy",
        "rma",
    ])
    .args(["--poll-interval", "0.01", "--test-hold", "pass-start:1"])
    .args([
        "--simulate",
        &format!("/dev/simnvme0={sim}"),
        "/dev/simnvme0",
    ]);
    let mut child = spawn_held(cmd, "pass-start:1");
    signal(&child, nix::sys::signal::Signal::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let first = certs(&env);
    assert_eq!(
        first.len(),
        2,
        "the purge's PASS and the overwrite's INCOMPLETE"
    );
    assert!(first
        .iter()
        .any(|c| c.sanitization.method == "purge" && c.result == Verdict::Pass));
    // The later run finishes the overwrite only: no second device command.
    let out = sanitize(
        &env,
        &sim,
        &["--yes", "--resume", "--policy", "rma"],
        &[Path::new("/dev/simnvme0")],
    );
    assert_code(&out, 0);
    let all = certs(&env);
    assert_eq!(all.len(), 3);
    assert_eq!(
        all.iter()
            .filter(|c| c.sanitization.method == "purge")
            .count(),
        1
    );
    let done = all
        .iter()
        .find(|c| c.sanitization.technique == "overwrite" && c.result == Verdict::Pass)
        .expect("the overwrite finished");
    assert_eq!(done.supersedes.len(), 1);
}

/// nist-purge's text with a `[health]` table appended.
fn policy_with_health(env: &Env, health: &str) -> std::path::PathBuf {
    let out = env
        .cmd()
        .args(["policies", "--show", "nist-purge"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout)
        .replace("name = \"nist-purge\"", "name = \"site-purge\"");
    let p = env.path("site.toml");
    std::fs::write(&p, format!("{text}\n[health]\n{health}\n")).unwrap();
    p
}

#[test]
fn health_is_in_every_certificate_and_a_policy_limit_triages_a_worn_drive() {
    let env = Env::new();
    let sim = Path::new("/dev/simnvme0");
    // A healthy drive: its SMART / Health log before and after, decoded.
    let out = sanitize(
        &env,
        "nvme:4M:crypto",
        &["--yes", "--policy", "nist-purge"],
        &[sim],
    );
    assert_code(&out, 0);
    let c = certs(&env).remove(0);
    let before = c.media.health.before.as_ref().expect("health before");
    assert_eq!(before.state, "ok", "{before:?}");
    let n = before.nvme.as_ref().unwrap();
    assert_eq!(
        (n.power_on_hours, n.percentage_used, n.available_spare),
        (42, 3, 100)
    );
    assert!(c.media.health.after.is_some());
    assert!(c.recommendation.is_empty());
    // The drive's own record of the sanitize, read after it: its Sanitize Status log.
    let rec = c
        .sanitization
        .command
        .as_ref()
        .unwrap()
        .drive_record
        .as_ref()
        .expect("drive record");
    assert_eq!(rec.source, "NVMe Sanitize Status log (81h)");
    assert_eq!(rec.fields["SSTAT status"], "1", "{rec:?}");
    assert_eq!(
        rec.fields["SCDW10"], "0x00000004",
        "crypto erase, without No-Deallocate: {rec:?}"
    );
    assert_eq!(rec.raw.len(), 1024);
    // And the Persistent Event Log's sanitize events, as the drive recorded them.
    assert_eq!(rec.events.len(), 2, "{rec:?}");
    assert!(
        rec.events[0].starts_with("Sanitize Start") && rec.events[0].contains("CDW10 0x00000004"),
        "{rec:?}"
    );
    assert!(rec.events[1].starts_with("Sanitize Completion"), "{rec:?}");

    // Over the limits, on_health = "destroy" (the default): sanitized, recommendation Destroy.
    let env = Env::new();
    let p = policy_with_health(&env, "media_errors_max = 0\nfailing = true");
    let pol = p.to_string_lossy().to_string();
    let out = sanitize(
        &env,
        "nvme:4M:crypto,worn",
        &["--yes", "--policy", &pol],
        &[sim],
    );
    assert_code(&out, 0);
    let c = certs(&env).remove(0);
    assert_eq!(
        (c.result, c.sanitization.method.as_str()),
        (Verdict::Pass, "purge")
    );
    assert!(
        c.recommendation.starts_with("Destroy") && c.recommendation.contains("media errors 7 > 0"),
        "{}",
        c.recommendation
    );
    assert_eq!(c.media.health.before.as_ref().unwrap().state, "failing");

    // on_health = "refuse": not sanitized at all, a FAIL certificate saying why.
    let env = Env::new();
    let state = env.path("drive");
    let p = policy_with_health(&env, "media_errors_max = 0\non_health = \"refuse\"");
    let pol = p.to_string_lossy().to_string();
    let kept = format!("nvme:4M:crypto,worn:{}", state.display());
    let out = sanitize(&env, &kept, &["--yes", "--policy", &pol], &[sim]);
    assert_code(&out, 1);
    let c = certs(&env).remove(0);
    assert_eq!(
        (c.result, c.sanitization.method.as_str()),
        (Verdict::Fail, "none")
    );
    assert!(
        c.reasons[0].contains("health is over the policy's limits: media errors 7 > 0"),
        "{:?}",
        c.reasons
    );
    assert!(c.recommendation.starts_with("Destroy"));
    let drive: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(drive["status"], 0, "no sanitize was sent");
}

#[test]
fn rma_capture_saves_the_logs_before_the_purge_hashed_in_the_certificate() {
    let env = Env::new();
    let out = sanitize(
        &env,
        "nvme:4M:crypto",
        &["--yes", "--policy", "nist-purge", "--rma-capture"],
        &[Path::new("/dev/simnvme0")],
    );
    assert_code(&out, 0);
    let c = certs(&env).remove(0);
    let got = &c.sanitization.command.as_ref().unwrap().captured;
    let what: Vec<&str> = got.iter().map(|x| x.what.as_str()).collect();
    assert_eq!(what, ["nvme-smart-log-02h", "nvme-error-log-01h"]);
    for x in got {
        let bytes = std::fs::read(env.path("c").join(&x.file)).unwrap();
        assert_eq!(bytes.len() as u64, x.bytes);
        assert_eq!(
            blake3::hash(&bytes).to_hex().to_string(),
            x.blake3,
            "{}",
            x.file
        );
    }
    // The error log as the drive had it before the purge: one entry.
    let errors = std::fs::read(env.path("c").join(&got[1].file)).unwrap();
    assert_eq!(errors[0], 1);
}

#[test]
fn a_name_flipped_after_confirmation_is_never_the_one_overwritten() {
    let env = Env::new();
    let (a, b, link) = (env.path("a.img"), env.path("b.img"), env.path("disk"));
    make_file(&a, 1 << 20, 0xAA);
    make_file(&b, 1 << 20, 0xBB);
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let mut cmd = env.cmd();
    cmd.args(["sanitize", "--yes", "--json", "--cert-dir", "c"])
        .args(["--test-hold", "confirmed"])
        .arg(&link);
    let mut child = spawn_held(cmd, "confirmed");
    let tmp = env.path("disk.new");
    std::os::unix::fs::symlink(&b, &tmp).unwrap();
    std::fs::rename(&tmp, &link).unwrap();
    signal(&child, nix::sys::signal::Signal::SIGHUP);
    let code = child.wait().unwrap().code();
    assert!(
        std::fs::read(&b).unwrap().iter().all(|&x| x == 0xBB),
        "the file now behind the name untouched (exit {code:?})"
    );
    for c in certs(&env) {
        assert_ne!(
            c.result,
            Verdict::Pass,
            "no PASS for a file that was not confirmed"
        );
    }
}
