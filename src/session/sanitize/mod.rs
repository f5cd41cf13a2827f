//! Sanitizing one target with the technique its policy names for its medium, as the commands
//! that sanitize share it (`sanitize` over many targets at once, `bench` one drive at a time):
//! its class of medium (`technique::classify`, the drive's own word first), the policy's
//! decision over what the drive reports (`technique::decide`, each device method checked by
//! `purge::flow::prepare`), then its steps in order: the drive's own command
//! (`purge::flow::run`, or `resume` of an unfinished one), the overwrite
//! (`session::overwrite`), or a FAIL certificate recommending Destroy when nothing the policy
//! allows applies. Every refusal happens before anything is written; a certificate per step.

use std::path::PathBuf;

use crate::cert::{self, Record};
use crate::device::health::Health;
use crate::device::Probe;
use crate::error::{Error, Exit};
use crate::event::{self, Event};
use crate::journal::Journal;
use crate::plan::Plan;
use crate::progress::TargetReporter;
use crate::purge::flow::{Drive, Prepared};
use crate::purge::journal::Pending;
use crate::purge::method::Grade;
use crate::settings;
use crate::summary::Row;
use crate::technique::{Chosen, Decision, MediaClass};

use super::overwrite::Resolved;
use super::Session;

mod decide;
mod steps;

pub(crate) use decide::decide_all;
use decide::decide_subjects;
pub(crate) use steps::one;

/// One target, decided.
pub(crate) struct Job {
    pub(crate) path: PathBuf,
    /// What the certificate describes when nothing is run (the drive is not held then).
    pub(crate) probe: Option<Probe>,
    /// The probed (or to-be-created) target an overwrite writes to.
    pub(crate) resolved: Option<Resolved>,
    /// The drive, held for its device command (and the simulated drive of the test seam).
    pub(crate) drive: Option<Drive>,
    pub(crate) class: MediaClass,
    pub(crate) class_why: String,
    pub(crate) decision: Decision,
    /// The device command, prepared (or the unfinished one to finish).
    pub(crate) prepared: Option<Prepared>,
    pub(crate) resume: Option<Pending>,
    /// Not sanitized: its health is over the policy's limits (`on_health = "refuse"`).
    pub(crate) refused_for_health: Option<(Health, Vec<String>)>,
    /// The overwrite's plan (and the journal it resumes, with `--resume`).
    pub(crate) plan: Option<(Plan, Option<Journal>)>,
    pub(crate) record: Record,
    /// The certificate folder the work it resumes began with (from its journal).
    pub(crate) kept_folder: Option<PathBuf>,
}

impl Job {
    pub(crate) fn steps(&self) -> &[Chosen] {
        match &self.decision {
            Decision::Run { steps, .. } => steps,
            Decision::Destroy(_) | Decision::Blocked(_) => &[],
        }
    }
}
/// One drive of a long-running session (`bench`): `probe`, the drive the caller probed and
/// checked (`req` names it alone and says yes), decided as `run` decides each target, its plan
/// emitted as an event, its steps run with the session's folders, key and this drive's
/// signals. Never asks.
///
/// # Errors
/// A refusal before anything was written (in use, blocked, no room for its certificates).
pub(crate) fn run_one(
    req: &settings::Sanitize,
    probe: Probe,
    session: &Session,
    rep: &TargetReporter,
) -> anyhow::Result<(Exit, Vec<Row>)> {
    // The drive the caller probed and checked, never a new look-up of its name.
    let path = probe.path.clone();
    let subject = Some(Resolved::Existing(Box::new(probe)));
    let (mut jobs, refused) = decide_subjects(req, vec![subject], rep.reporter())?;
    if let Some(r) = refused.into_iter().next() {
        return Err(Error::refused(&path, r.reason).into());
    }
    let job = jobs.pop().ok_or_else(|| Error::Usage("no target".into()))?;
    rep.reporter()
        .emit(&Event::SanitizePlan(plan_event(req, &job)));
    let reserves = (0..job.steps().len().max(1))
        .map(|_| session.reserve())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(one(job, reserves, req, session, rep))
}

/// The steps a decision runs, by name, joined with `sep`; None when it runs none.
pub(crate) fn step_names(d: &Decision, sep: &str) -> Option<String> {
    match d {
        Decision::Run { steps, .. } => Some(
            steps
                .iter()
                .map(|s| match s {
                    Chosen::Overwrite => "overwrite".to_string(),
                    Chosen::Device { method, .. } => method.name().to_string(),
                })
                .collect::<Vec<_>>()
                .join(sep),
        ),
        _ => None,
    }
}

/// The plan of one target, for people (`--dry-run` and before the confirmation) or as a
/// `sanitize_plan` event.
/// What was decided for one target, as the `sanitize_plan` event.
pub(crate) fn plan_event(req: &settings::Sanitize, j: &Job) -> event::SanitizePlan {
    let policy = &req.wipe.policy;
    let tried = match &j.decision {
        Decision::Run { why, .. } | Decision::Destroy(why) => why.clone(),
        Decision::Blocked(w) => vec![w.clone()],
    };
    let steps: Vec<event::SanitizeStep> = j
        .steps()
        .iter()
        .map(|s| match s {
            Chosen::Overwrite => event::SanitizeStep {
                technique: "overwrite".into(),
                method: policy.name.clone(),
                grade: "clear".into(),
                bytes: vec![],
                estimate_seconds: None,
                passes: j.plan.as_ref().map_or(vec![], |(p, _)| {
                    p.passes.iter().map(|x| x.pattern.describe()).collect()
                }),
            },
            Chosen::Device { method, grade } => event::SanitizeStep {
                technique: method.technique().into(),
                method: method.name().into(),
                grade: if *grade == Grade::Purge {
                    "purge"
                } else {
                    "clear"
                }
                .into(),
                bytes: j.prepared.as_ref().map_or(vec![], |p| {
                    p.bytes
                        .iter()
                        .map(|b| event::Bytes {
                            what: b.label.clone(),
                            hex: cert::hex(&b.bytes),
                            fields: b.fields().unwrap_or_default(),
                        })
                        .collect()
                }),
                estimate_seconds: j
                    .prepared
                    .as_ref()
                    .and_then(|p| p.estimate.map(|e| e.seconds)),
                passes: vec![],
            },
        })
        .collect();
    event::SanitizePlan {
        target: j.path.clone(),
        medium: j.class.name().into(),
        medium_why: j.class_why.clone(),
        policy: policy.name.clone(),
        destroy: steps.is_empty(),
        steps,
        tried,
        dry_run: req.wipe.dry_run,
    }
}
