//! A decided target's steps, in order, on its own thread: the drive's own command (or the
//! resume of an unfinished one), the overwrite, or the FAIL certificate recommending Destroy.

use crate::cert;
use crate::device;
use crate::error::{Error, Exit};
use crate::evidence::Reserve;
use crate::journal::MediaKey;
use crate::progress::TargetReporter;
use crate::purge::flow::{self, Keeper};
use crate::purge::journal as purge_journal;
use crate::settings;
use crate::summary::Row;
use crate::technique::{Chosen, Decision};

use crate::session::overwrite::{self, Resolved};
use crate::session::purge::Certify;
use crate::session::Session;

use super::*;

/// One target on its own thread: its steps in order, a certificate each; its exit.
pub(crate) fn one(
    mut job: Job,
    mut reserves: Vec<Reserve>,
    req: &settings::Sanitize,
    session: &Session,
    rep: &TargetReporter,
) -> (Exit, Vec<Row>) {
    let mut codes = Vec::new();
    let mut rows = Vec::new();
    let fail = |e: anyhow::Error, rows: &mut Vec<Row>| {
        rep.say(&format!("error: {e:#}"));
        rows.push(Row::error(rep.name(), format!("none: {e}")));
        Exit::Failed
    };
    if let Decision::Destroy(why) = &job.decision {
        let code = match destroy(&job, why, reserves.pop(), session, rep) {
            Ok((code, row)) => {
                rows.push(row);
                code
            }
            Err(e) => fail(e, &mut rows),
        };
        return (code, rows);
    }
    for step in job.steps().to_vec() {
        let reserve = reserves.pop();
        let ended = match step {
            Chosen::Device { .. } => device_step(&mut job, req, session, reserve, rep),
            Chosen::Overwrite => {
                job.drive = None; // the claim released: the overwrite opens the device itself
                overwrite_step(&mut job, session, reserve, rep)
            }
        };
        let code = match ended {
            Ok((code, row)) => {
                rows.push(row);
                code
            }
            Err(e) => fail(e, &mut rows),
        };
        codes.push(code);
        // Interrupted, or the command never ran: the next step waits for a later run.
        if matches!(code, Exit::Interrupted | Exit::Failed) {
            break;
        }
    }
    rep.finish();
    (Exit::worst(codes), rows)
}

pub(super) fn device_step(
    job: &mut Job,
    req: &settings::Sanitize,
    session: &Session,
    reserve: Option<Reserve>,
    rep: &TargetReporter,
) -> anyhow::Result<(Exit, Row)> {
    let d = job
        .drive
        .as_ref()
        .ok_or_else(|| Error::Usage("the drive is not held".into()))?;
    let keeper = Keeper {
        path: purge_journal::path_for(
            &session.journal_dir,
            &MediaKey::of(&d.probe),
            &d.probe.canonical,
        ),
        mac: session.mac.clone(),
        record: Some(job.record.clone()),
        cert_dir: Some(session.cert_folder.path.clone()),
    };
    let ran = match job.resume.take() {
        Some(p) => flow::resume(d, p, &req.request, &session.signals, rep)?,
        None => {
            let p = job
                .prepared
                .as_ref()
                .ok_or_else(|| Error::Usage("no device command was prepared".into()))?;
            let r = flow::Request {
                method: Some(p.method),
                ..req.request.clone()
            };
            flow::run(d, p, &r, &keeper, &session.signals, rep)?
        }
    };
    let end = Certify {
        limits: &session.req.policy.health,
        hold: req.request.hold.as_deref(),
        drive: d,
        record: &job.record,
        dirs: session.cert_dirs.clone(),
        keeper: &keeper,
        key: &session.key,
        signals: &session.signals,
    };
    let reserve = reserve.ok_or_else(|| Error::Usage("no reserve".into()))?;
    end.certify(ran, reserve, rep)
}

pub(super) fn overwrite_step(
    job: &mut Job,
    session: &Session,
    reserve: Option<Reserve>,
    rep: &TargetReporter,
) -> anyhow::Result<(Exit, Row)> {
    let (plan, journal) = job
        .plan
        .take()
        .ok_or_else(|| Error::Usage("no overwrite plan".into()))?;
    if let (true, Some(r)) = (session.req.restore_hidden, job.resolved.as_mut()) {
        overwrite::restore_hidden(session.req.transport, r, &mut job.record, rep.reporter())?;
    }
    // The probe that was confirmed (its descriptor is checked again when opened), never a new
    // look-up by name: a name can point to another device by now.
    let probe = match job.resolved.take() {
        Some(Resolved::Existing(p)) => *p,
        Some(Resolved::ToCreate { path, size }) => {
            device::create_image(&path, size)?;
            device::probe(&path)?
        }
        None => return Err(Error::Usage("nothing to overwrite".into()).into()),
    };
    let t = device::open(&probe)?;
    let reserve = reserve.ok_or_else(|| Error::Usage("no reserve".into()))?;
    Ok(overwrite::one(
        &t,
        &plan,
        journal,
        &job.record,
        reserve,
        session,
        rep,
    ))
}

/// The FAIL certificate of a target nothing the policy allows applies to.
pub(super) fn destroy(
    job: &Job,
    why: &[String],
    reserve: Option<Reserve>,
    session: &Session,
    rep: &TargetReporter,
) -> anyhow::Result<(Exit, Row)> {
    let Some(probe) = &job.probe else {
        return Err(Error::Usage(format!(
            "{}: policy {} names no technique for {} media",
            job.path.display(),
            session.req.policy.name,
            job.class.name()
        ))
        .into());
    };
    let c = match &job.refused_for_health {
        Some((h, over)) => cert::build::refused_for_health(
            probe,
            &session.req.policy.reference(),
            h.clone(),
            over,
            &job.record,
        ),
        None => cert::build::no_technique(
            probe,
            &session.req.policy.reference(),
            job.class.name(),
            why,
            &job.record,
        ),
    };
    if let Some(mut r) = reserve {
        r.release();
    }
    let stored =
        crate::session::store_certificate(&c, &session.cert_dirs, &session.key, rep.reporter())?;
    let row = crate::session::announce(&c, stored, rep);
    Ok((Exit::of(c.result, false), row))
}
