//! The flow's tests of the TCG methods: the Opal Reverts (through the kernel's sed-opal) and the
//! Enterprise Erase (in mediasan's own session), against the simulated drive's SSCs.

use super::*;

fn tcg_request(m: Option<Method>, psid: Option<&str>, sid: Option<&str>) -> Request {
    let secret = |t: &str| crate::device::tcg::Secret::new(t).unwrap();
    Request {
        method: m,
        psid: psid.map(secret),
        sid: sid.map(secret),
        ..request(Method::TcgPsidRevert)
    }
}

/// Prepares and runs `r`, which the drive must refuse; the refusal's text.
fn refused_run(s: &Setup, d: &Drive, r: &Request) -> String {
    let q = &crate::progress::Quiet;
    let p = prepare(d, r, q).unwrap();
    run(d, &p, r, &s.keeper, &Signals::default(), q)
        .err()
        .expect("refused")
        .to_string()
}

#[test]
fn a_psid_revert_through_the_kernel_s_sed_opal_is_proven_by_the_canaries() {
    use crate::purge::sim::SIM_PSID;
    let s = setup("opal-owned");
    let d = drive(&s);
    let r = tcg_request(Some(Method::TcgPsidRevert), Some(SIM_PSID), None);
    let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
    assert!(
        p.warnings.iter().any(|w| w.contains("factory state")),
        "{:?}",
        p.warnings
    );
    // The dry run's block is the ioctl's header: no key in it.
    assert_eq!(p.bytes.len(), 1);
    assert_eq!(p.bytes[0].bytes, [0u8; 8]);
    assert!(p.bytes[0].label.contains("IOC_OPAL_PSID_REVERT_TPR"));
    let ran = prepared_and_run(&s, &d, &r);
    let c = certify(&d, ran);
    assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
    let after = c.media.tcg_after.clone().expect("discovery read again");
    assert!(!after.locking.unwrap().enabled);
    // Read through the drive's own door (its SSC named), not only the kernel's word.
    assert_eq!(after.ssc, ["Opal 2"]);
    assert!(c.media.tcg.clone().unwrap().locking.unwrap().enabled);
    let json = serde_json::to_string(&c).unwrap();
    assert!(
        !json.contains(SIM_PSID),
        "the PSID must never reach a certificate"
    );
    let cmd = c.sanitization.command.clone().unwrap();
    assert!(cmd
        .preconditions
        .iter()
        .any(|x| x.status == "reported" && x.evidence.contains("Media Encryption")));
}

#[test]
fn a_wrong_psid_is_refused_and_a_failed_or_lying_revert_is_fail() {
    use crate::purge::sim::SIM_SID;
    let s = setup("opal-owned");
    let d = drive(&s);
    let r = tcg_request(Some(Method::TcgPsidRevert), Some("NOT-THE-PSID"), None);
    let e = refused_run(&s, &d, &r);
    assert!(
        e.contains("NOT_AUTHORIZED") && e.contains("erased nothing"),
        "{e}"
    );
    assert!(!e.contains("NOT-THE-PSID"), "{e}");
    // A drive that answers FAIL, and one that says success and changes nothing.
    for (features, why) in [
        ("opal-refuses", "FAIL (TCG status 0x3f)"),
        (
            "opal,liar",
            "canary written before the purge is still readable",
        ),
    ] {
        let s = setup(features);
        let d = drive(&s);
        let r = tcg_request(Some(Method::TcgRevert), None, Some(SIM_SID));
        let c = certify(&d, prepared_and_run(&s, &d, &r));
        assert_eq!(c.result, Verdict::Fail, "{features}");
        assert!(
            c.reasons.iter().any(|x| x.contains(why)),
            "{features}: {:?}",
            c.reasons
        );
    }
}

#[test]
fn nist_purge_takes_a_revert_only_with_its_credential_and_after_the_drive_s_own_crypto_erase() {
    use crate::purge::sim::{SIM_PSID, SIM_SID};
    let q = &crate::progress::Quiet;
    // No credential, no other Purge: refused, naming both flags' way.
    let s = setup("opal");
    let e = prepare(&drive(&s), &tcg_request(None, None, None), q)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("only Purge is a TCG Revert") && e.contains("--sid-file"),
        "{e}"
    );
    // By name without its credential: refused before anything is sent.
    let mut r = tcg_request(Some(Method::TcgRevert), Some(SIM_PSID), None);
    r.dry_run = false;
    let e = prepare(&drive(&s), &r, q).err().unwrap().to_string();
    assert!(e.contains("needs the owner's SID password"), "{e}");
    let mut r = tcg_request(Some(Method::TcgPsidRevert), None, Some(SIM_SID));
    r.dry_run = false;
    let e = prepare(&drive(&s), &r, q).err().unwrap().to_string();
    assert!(
        e.contains("needs the PSID printed on the drive's label"),
        "{e}"
    );
    // With the SID: tcg-revert; with a drive crypto erase too, that one first.
    let p = prepare(&drive(&s), &tcg_request(None, None, Some(SIM_SID)), q).unwrap();
    assert_eq!(p.method, Method::TcgRevert);
    let s = setup("crypto,block,opal");
    let p = prepare(&drive(&s), &tcg_request(None, None, Some(SIM_SID)), q).unwrap();
    assert_eq!(p.method, Method::NvmeSanitizeCrypto);
    assert_eq!(
        p.caps.supported[..4],
        [
            Method::NvmeSanitizeCrypto,
            Method::TcgRevert,
            Method::TcgPsidRevert,
            Method::NvmeSanitizeBlock
        ]
    );
    // A drive without Opal offers no Revert, and the kernel's refusal is said.
    let s = setup("crypto");
    let p = prepare(&drive(&s), &tcg_request(None, None, Some(SIM_SID)), q).unwrap();
    assert!(!p.caps.supported.iter().any(|m| method::tcg(*m)));
}

/// A Revert is one blocking ioctl: a run that ended after it returned is certified by a
/// later one from its canaries (with the TCG state read again then); one that ended while
/// it ran (the journal still "planned") is INCOMPLETE, never PASS.
#[test]
fn a_revert_whose_return_nobody_saw_is_never_certified() {
    use crate::purge::sim::SIM_PSID;
    let s = setup("opal-owned");
    let d = drive(&s);
    let r = tcg_request(Some(Method::TcgPsidRevert), Some(SIM_PSID), None);
    assert!(prepared_and_run(&s, &d, &r).pending.is_none());
    let mut j = match crate::journal::load::<Pending>(&s.keeper.path, &s.keeper.mac).unwrap() {
        Some(Found::Valid(j)) => *j,
        other => panic!("{other:?}"),
    };
    assert_eq!(j.stage, Stage::Sent, "the ioctl returned");
    // The later run needs no credential: nothing is sent again.
    let later = request(Method::TcgPsidRevert);
    let ran = resume(
        &d,
        j.clone(),
        &later,
        &Signals::default(),
        &crate::progress::Quiet,
    )
    .unwrap();
    let c = certify(&d, ran);
    assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
    assert_eq!(
        c.media.tcg_after.and_then(|t| t.locking).map(|l| l.enabled),
        Some(false)
    );
    j.stage = Stage::Planned;
    let ran = resume(&d, j, &later, &Signals::default(), &crate::progress::Quiet).unwrap();
    let c = certify(&d, ran);
    assert_eq!(c.result, Verdict::Incomplete);
    assert!(
        c.reasons
            .iter()
            .any(|w| w.contains("whether the drive ran it to the end is unknown")),
        "{:?}",
        c.reasons
    );
}

#[test]
fn a_locked_drive_takes_only_the_psid_revert_and_its_certificate_is_incomplete() {
    use crate::purge::sim::SIM_PSID;
    let q = &crate::progress::Quiet;
    let s = setup("crypto,opal-locked");
    let d = drive(&s);
    let e = prepare(&d, &tcg_request(None, None, None), q)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("locked range") && e.contains("tcg-psid-revert"),
        "{e}"
    );
    let r = tcg_request(None, Some(SIM_PSID), None);
    let p = prepare(&d, &r, q).unwrap();
    assert_eq!(p.method, Method::TcgPsidRevert);
    assert!(p.locked);
    let before = s.sim.media.contents()[..4096].to_vec();
    let c = certify(&d, prepared_and_run(&s, &d, &r));
    assert_eq!(c.result, Verdict::Incomplete);
    assert!(
        c.reasons
            .iter()
            .any(|x| x.contains("was locked before the Revert")),
        "{:?}",
        c.reasons
    );
    // Nothing was written before (no canaries on a locked drive), and the media was rekeyed.
    assert!(!c
        .sanitization
        .command
        .clone()
        .unwrap()
        .preconditions
        .is_empty());
    assert_ne!(s.sim.media.contents()[..4096].to_vec(), before);
    assert!(c
        .verification
        .algorithm
        .starts_with("none: the drive was locked"));
    assert_eq!(c.verification.bytes_read, 0);
    assert!(!c.media.tcg_after.unwrap().locking.unwrap().locked);
    // The same purge certified by a later run (its journal left at "sent"): still INCOMPLETE,
    // and for the same reason, not merely for the bytes it could not read.
    let j = match crate::journal::load::<Pending>(&s.keeper.path, &s.keeper.mac).unwrap() {
        Some(Found::Valid(j)) => *j,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (&j.samples.canary_seed, &j.samples.before),
        (&None, &None),
        "nothing was written or read before"
    );
    let ran = resume(
        &d,
        j,
        &request(Method::TcgPsidRevert),
        &Signals::default(),
        q,
    )
    .unwrap();
    let c = certify(&d, ran);
    assert_eq!(c.result, Verdict::Incomplete);
    assert_eq!(c.verification.bytes_read, 0, "no canary to look for");
    assert!(
        c.reasons
            .iter()
            .any(|x| x.contains("was locked before the Revert")),
        "{:?}",
        c.reasons
    );
}

fn enterprise_request(m: Option<Method>, password: Option<&str>) -> Request {
    Request {
        method: m,
        erase_master: password.map(|t| crate::device::tcg::Secret::new(t).unwrap()),
        ..request(Method::TcgErase)
    }
}

#[test]
fn an_enterprise_erase_of_every_band_in_mediasan_s_own_session_is_proven_by_the_canaries() {
    use crate::purge::sim_tcg::SIM_ERASE_MASTER;
    let s = setup("enterprise");
    let d = drive(&s);
    let r = enterprise_request(Some(Method::TcgErase), Some(SIM_ERASE_MASTER));
    let p = prepare(&d, &r, &crate::progress::Quiet).unwrap();
    assert!(
        p.warnings.iter().any(|w| w.contains("every band")),
        "{:?}",
        p.warnings
    );
    // The dry run shows every ComPacket, the challenge withheld.
    let labels: Vec<&str> = p.bytes.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(p.bytes.len(), 5, "{labels:?}");
    assert!(labels[1].contains("withheld") && labels[3].contains("Erase Band0"));
    assert_eq!(
        p.bytes[3].fields().unwrap(),
        "ComPacket to ComID 0x07fe, TSN 1 HSN 105: Erase on Band0"
    );
    let ran = prepared_and_run(&s, &d, &r);
    let c = certify(&d, ran);
    assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
    assert!(c.notes[0].contains("TCG Enterprise Erase of every band"));
    let after = c.media.tcg_after.clone().expect("discovery read again");
    assert_eq!(after.ssc, ["Enterprise"]);
    assert!(!after.locking.unwrap().locked);
    let json = serde_json::to_string(&c).unwrap();
    assert!(!json.contains(SIM_ERASE_MASTER));
    let cmd = c.sanitization.command.clone().unwrap();
    assert!(cmd
        .preconditions
        .iter()
        .any(|x| x.status == "reported" && x.evidence.contains("every band")));
}

#[test]
fn an_enterprise_erase_with_a_wrong_password_is_refused_and_a_failed_or_lying_one_is_fail() {
    use crate::purge::sim_tcg::SIM_ERASE_MASTER;
    let s = setup("enterprise");
    let d = drive(&s);
    let before = s.sim.media.contents();
    let r = enterprise_request(Some(Method::TcgErase), Some("not-the-password"));
    let e = refused_run(&s, &d, &r);
    assert!(
        e.contains("did not accept the EraseMaster password") && e.contains("erased nothing"),
        "{e}"
    );
    assert!(!e.contains("not-the-password"), "{e}");
    // Only the canaries were written; no band got a new key.
    let after = s.sim.media.contents();
    let same = before.iter().zip(&after).filter(|(a, b)| a == b).count();
    assert!(same > before.len() * 9 / 10, "{same} of {}", before.len());
    // A drive that answers FAIL to the Erase: refused (no band was erased). One that says
    // success and changes nothing: FAIL by the canaries.
    let s = setup("enterprise-refuses");
    let d = drive(&s);
    let r = enterprise_request(Some(Method::TcgErase), Some(SIM_ERASE_MASTER));
    let e = refused_run(&s, &d, &r);
    assert!(
        e.contains("FAIL (TCG status 0x3f)") && e.contains("Band0"),
        "{e}"
    );
    let s = setup("enterprise,liar");
    let d = drive(&s);
    let c = certify(&d, prepared_and_run(&s, &d, &r));
    assert_eq!(c.result, Verdict::Fail);
    assert!(
        c.reasons.iter().any(|x| x.contains("still readable")),
        "{:?}",
        c.reasons
    );
}

#[test]
fn nist_purge_takes_the_enterprise_erase_only_with_its_password_and_a_locked_drive_is_incomplete() {
    use crate::purge::sim_tcg::SIM_ERASE_MASTER;
    let q = &crate::progress::Quiet;
    let s = setup("enterprise");
    let e = prepare(&drive(&s), &enterprise_request(None, None), q)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("only Purge is the TCG Enterprise Erase") && e.contains("--erase-master-file"),
        "{e}"
    );
    let p = prepare(
        &drive(&s),
        &enterprise_request(None, Some(SIM_ERASE_MASTER)),
        q,
    )
    .unwrap();
    assert_eq!(p.method, Method::TcgErase);
    // No Opal: no Revert offered; the drive's own crypto erase ranks first.
    let s = setup("crypto,block,enterprise");
    let p = prepare(
        &drive(&s),
        &enterprise_request(None, Some(SIM_ERASE_MASTER)),
        q,
    )
    .unwrap();
    assert_eq!(p.method, Method::NvmeSanitizeCrypto);
    assert_eq!(
        p.caps.supported,
        [
            Method::NvmeSanitizeCrypto,
            Method::TcgErase,
            Method::NvmeSanitizeBlock
        ]
    );
    // A locked band: the Erase is the way out (EraseMaster erases a locked band), and its
    // certificate is INCOMPLETE, as nothing could be written or read before.
    let s = setup("enterprise-locked");
    let d = drive(&s);
    let other = enterprise_request(Some(Method::NvmeSanitizeCrypto), None);
    let e = prepare(&drive(&setup("crypto,enterprise-locked")), &other, q)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("locked range") && e.contains("--method tcg-erase --erase-master-file"),
        "{e}"
    );
    let r = enterprise_request(Some(Method::TcgErase), Some(SIM_ERASE_MASTER));
    let p = prepare(&d, &r, q).unwrap();
    assert!(p.locked);
    let c = certify(&d, prepared_and_run(&s, &d, &r));
    assert_eq!(c.result, Verdict::Incomplete, "{:?}", c.reasons);
    assert!(
        c.reasons
            .iter()
            .any(|x| x.contains("was locked before the Erase")),
        "{:?}",
        c.reasons
    );
    assert!(!c.media.tcg_after.unwrap().locking.unwrap().locked);
}

#[test]
fn an_unowned_enterprise_drive_is_erased_with_the_msid_it_reports_and_an_owned_one_refuses_it() {
    use crate::purge::sim_tcg::SIM_MSID;
    let q = &crate::progress::Quiet;
    let s = setup("enterprise-unowned");
    let d = drive(&s);
    let r = Request {
        erase_master_msid: true,
        ..enterprise_request(None, None)
    };
    let p = prepare(&d, &r, q).unwrap();
    assert_eq!(p.method, Method::TcgErase);
    assert!(
        p.warnings.iter().any(|w| w.contains("MSID")),
        "{:?}",
        p.warnings
    );
    // The dry run: the MSID read (3 ComPackets), then the Erase session (5).
    assert_eq!(p.bytes.len(), 8);
    assert!(p.bytes[1].fields().unwrap().ends_with("Get on C_PIN_MSID"));
    let c = certify(&d, prepared_and_run(&s, &d, &r));
    assert_eq!(c.result, Verdict::Pass, "{:?}", c.reasons);
    assert!(!serde_json::to_string(&c).unwrap().contains(SIM_MSID));
    // A drive whose owner set the password: the MSID is refused, and the message says to
    // give the password.
    let s = setup("enterprise");
    let d = drive(&s);
    let r = Request {
        method: Some(Method::TcgErase),
        ..r
    };
    let e = refused_run(&s, &d, &r);
    assert!(
        e.contains("did not accept its own MSID") && e.contains("--erase-master-file"),
        "{e}"
    );
}
