//! Sanitizing one target with the technique its policy names for its medium, as the commands
//! that sanitize share it (`sanitize` over many targets at once, `bench` one drive at a time):
//! its class of medium (`technique::classify`, the drive's own word first), the policy's
//! decision over what the drive reports (`technique::decide`, each device method checked by
//! `purge::flow::prepare`), then its steps in order: the drive's own command
//! (`purge::flow::run`, or `resume` of an unfinished one), the overwrite
//! (`session::overwrite`), or a FAIL certificate recommending Destroy when nothing the policy
//! allows applies. Every refusal happens before anything is written; a certificate per step.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cert::{self, Record};
use crate::device::health::{self, Health};
use crate::device::{self, Kind, Probe};
use crate::error::{Error, Exit};
use crate::event::{self, Event};
use crate::evidence::Reserve;
use crate::journal::{Journal, MediaKey};
use crate::plan::Plan;
use crate::progress::{Quiet, Reporter, TargetReporter};
use crate::purge::engine::{self, Caps};
use crate::purge::flow::{self, bus_name, Drive, Keeper, Prepared};
use crate::purge::journal::{self as purge_journal, Pending};
use crate::purge::method::{Grade, Medium, Method};
use crate::purge::sim::SimNvme;
use crate::records::{Field, Key};
use crate::settings;
use crate::summary::Row;
use crate::technique::{self, Chosen, Decision, Facts, MediaClass, Unavailable};

use super::batch;
use super::overwrite::{self, Resolved};
use super::purge::{drive_of, unfinished, Certify};
use super::Session;

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

/// Every target resolved, classed and decided, before anything is written. A drive whose
/// preferred technique is only blocked for now (frozen, locked, a scope in use) is refused
/// with the remedy (set aside: the others go on), rather than fall to a weaker technique.
pub(crate) fn decide_all(
    req: &settings::Sanitize,
    reporter: &Reporter,
) -> anyhow::Result<(Vec<Job>, Vec<batch::SetAside>)> {
    let sim_name = req.simulate.as_ref().map(|(n, _)| n.clone());
    let real = settings::Wipe {
        targets: req
            .wipe
            .targets
            .iter()
            .filter(|t| Some(*t) != sim_name.as_ref())
            .cloned()
            .collect(),
        ..req.wipe.clone()
    };
    let mut resolved = overwrite::resolve(&real)?.into_iter();
    let mut subjects = Vec::new();
    for t in &req.wipe.targets {
        if Some(t) == sim_name.as_ref() {
            subjects.push(None);
        } else {
            subjects.push(resolved.next());
        }
    }
    decide_subjects(req, subjects, reporter)
}

/// [`decide_all`] once each target is resolved (`None`: the test seam's simulated drive):
/// the jobs, and the targets refused for safety.
fn decide_subjects(
    req: &settings::Sanitize,
    subjects: Vec<Option<Resolved>>,
    reporter: &Reporter,
) -> anyhow::Result<(Vec<Job>, Vec<batch::SetAside>)> {
    let keys: Vec<Key> = req
        .wipe
        .targets
        .iter()
        .zip(&subjects)
        .map(|(t, r)| match r {
            Some(r) => overwrite::key(r),
            None => Key::named(t),
        })
        .collect();
    // With --resume, the records of the work being resumed decide (see `decide_one`).
    let (records, given) = if req.wipe.resume {
        (
            req.wipe.records.resolve_unchecked(&keys)?,
            req.wipe.records.given(&keys)?,
        )
    } else {
        (
            req.wipe.records.resolve(&keys)?,
            vec![Vec::new(); keys.len()],
        )
    };
    let mut jobs = Vec::new();
    let mut set_aside = Vec::new();
    for (((t, r), record), given) in req
        .wipe
        .targets
        .iter()
        .zip(subjects)
        .zip(records)
        .zip(given)
    {
        let probe = r.as_ref().and_then(overwrite::probe_of);
        let safe = match &r {
            Some(r) => overwrite::check_safety(std::slice::from_ref(r)),
            None => Ok(()),
        };
        let kept = record.clone();
        match batch::judge(safe.and_then(|()| decide_one(req, t, r, record, &given)))? {
            Ok(job) => jobs.push(job),
            Err(reason) => set_aside.push(batch::SetAside {
                path: t.clone(),
                // The test seam's simulated drive is described as the drive it stands for.
                probe: probe.or_else(|| {
                    subject(req, t, None)
                        .ok()
                        .and_then(|(d, _, _)| d.map(|d| d.probe))
                }),
                record: kept,
                reason,
            }),
        }
    }
    let records: Vec<Record> = jobs.iter().map(|j| j.record.clone()).collect();
    let job_keys: Vec<Key> = jobs
        .iter()
        .map(|j| keys.iter().find(|k| k.path == j.path).cloned())
        .collect::<Option<_>>()
        .unwrap_or_default();
    if req.wipe.dry_run || req.wipe.yes {
        let warnings = req.wipe.records.warnings(&records, &job_keys);
        warnings.iter().for_each(|w| reporter.say(w));
    }
    Ok((jobs, set_aside))
}

/// What the policy comes to for one target: the drive behind it, its class, its health, what
/// an earlier run left, the decision and the overwrite's plan, in that order.
fn decide_one(
    req: &settings::Sanitize,
    path: &Path,
    resolved: Option<Resolved>,
    mut record: Record,
    given: &[(Field, String)],
) -> anyhow::Result<Job> {
    let policy = &req.wipe.policy;
    let (drive, no_drive, resolved) = subject(req, path, resolved)?;
    // What the drive reports, read once for the class and every alternative.
    let caps = drive.as_ref().map(|d| {
        let rotational = (!d.simulated).then_some(d.probe.identity.rotational);
        engine::probe(d.pass.as_ref(), d.bus, rotational)
            .map_err(|e| format!("cannot read its {} capabilities: {e}", bus_name(d.bus)))
    });
    let medium = caps
        .as_ref()
        .and_then(|c| c.as_ref().ok())
        .map(|c| c.medium);
    let (class, class_why) = technique::classify(&facts(resolved.as_ref(), drive.as_ref(), medium));
    let health = read_health(req, resolved.as_ref(), drive.as_ref());
    let over = health
        .as_ref()
        .map(|h| policy.health.over(h))
        .unwrap_or_default();
    let refused_for_health = (policy.health.refuse && !over.is_empty())
        .then(|| (health.clone().unwrap_or_default(), over.clone()));
    let resume = unfinished_purge(req, drive.as_ref())?;
    let (decision, chosen) = if refused_for_health.is_some() {
        let why = over
            .iter()
            .map(|w| format!("the drive's health is over the policy's limits: {w}"))
            .collect();
        (Decision::Destroy(why), None)
    } else {
        let left = Left {
            purge: resume.as_ref(),
            wipe: unfinished_wipe(req, resolved.as_ref()),
        };
        let door = drive.as_ref().zip(caps.as_ref());
        choose(req, path, class, door, &no_drive, left)?
    };
    let plan = plan_of(req, path, resolved.as_ref(), &decision)?;
    // Work being resumed certifies with the record it began with (flags given again must
    // agree), in the folder it began with.
    let kept = resume
        .as_ref()
        .and_then(|p| p.record.clone().map(|r| (r, p.cert_dir.clone())))
        .or_else(|| {
            plan.as_ref()
                .and_then(|(_, j)| j.as_ref())
                .and_then(|j| j.record.clone().map(|r| (r, j.cert_dir.clone())))
        });
    let mut kept_folder = None;
    if let Some((kept, folder)) = kept {
        record = crate::records::resumed(path, &kept, given)?;
        kept_folder = folder;
    }
    if req.wipe.resume {
        let key = Key::named(path);
        req.wipe.records.check_required(&record, &key)?;
    }
    let mut add_note = |n: String| {
        if !record.notes.contains(&n) {
            record.notes.push(n);
        }
    };
    add_note(note(policy, class, &class_why, &decision));
    if class == MediaClass::Virtual {
        add_note(format!(
            "{} is {class_why}: the storage beneath it (the file system, the host's disk) is not covered \
             by this certificate.",
            path.display()
        ));
    }
    let probe = drive.as_ref().map(|d| d.probe.clone()).or(match &resolved {
        Some(Resolved::Existing(p)) => Some((**p).clone()),
        _ => None,
    });
    // Held only for a device command: an overwrite opens the device itself.
    let drive = if chosen.is_some() || resume.is_some() {
        drive
    } else {
        None
    };
    Ok(Job {
        path: path.to_path_buf(),
        probe,
        resolved,
        drive,
        class,
        class_why,
        decision,
        prepared: chosen,
        resume,
        refused_for_health,
        plan,
        record,
        kept_folder,
    })
}

/// The drive behind a target (claimed, or the test seam's simulated one, whose media file
/// stands for it when overwritten), why there is none, and the target to overwrite.
fn subject(
    req: &settings::Sanitize,
    path: &Path,
    resolved: Option<Resolved>,
) -> anyhow::Result<(Option<Drive>, String, Option<Resolved>)> {
    let Some(r) = resolved else {
        let spec = req.simulate.as_ref().map_or("", |(_, s)| s.as_str());
        let sim = Arc::new(SimNvme::from_spec(spec).map_err(Error::Usage)?);
        let media = spec
            .splitn(4, ':')
            .nth(3)
            .map(|state| Path::new(state).with_extension("media"));
        let resolved = match media {
            Some(m) => Some(Resolved::Existing(Box::new(device::probe(&m)?))),
            None => None,
        };
        return Ok((Some(Drive::simulated(path, sim)), String::new(), resolved));
    };
    let (d, why) = open_drive(req, &r)?;
    Ok((d, why, Some(r)))
}

/// An unfinished purge of this drive: the one to finish (--resume), or a refusal to start
/// another (see `session::purge::unfinished`).
fn unfinished_purge(
    req: &settings::Sanitize,
    drive: Option<&Drive>,
) -> anyhow::Result<Option<Pending>> {
    let Some(d) = drive else {
        return Ok(None);
    };
    let jpath = purge_journal::path_for(
        &req.wipe.journal_dir,
        &MediaKey::of(&d.probe),
        &d.probe.canonical,
    );
    if req.wipe.resume && !jpath.exists() {
        return Ok(None);
    }
    Ok(unfinished(
        req.wipe.key.path.as_deref(),
        (req.wipe.resume, req.wipe.restart),
        &req.wipe.journal_dir,
        d,
        &jpath,
    )?
    .map(|p| *p))
}

/// What an interrupted overwrite of this target left (rma's second step, an HDD's overwrite).
fn unfinished_wipe(req: &settings::Sanitize, resolved: Option<&Resolved>) -> bool {
    match resolved {
        Some(Resolved::Existing(p)) => {
            crate::journal::path_for(&req.wipe.journal_dir, &MediaKey::of(p), &p.canonical).exists()
        }
        _ => false,
    }
}

/// What earlier runs left of this target.
struct Left<'a> {
    purge: Option<&'a Pending>,
    wipe: bool,
}

/// The decision, and the device command prepared for it: finishing what was left (--resume
/// starts nothing new), or the policy's first alternative the drive can do. A technique that is
/// there but blocked refuses the run.
fn choose(
    req: &settings::Sanitize,
    path: &Path,
    class: MediaClass,
    drive: Option<(&Drive, &Result<Caps, String>)>,
    no_drive: &str,
    left: Left,
) -> anyhow::Result<(Decision, Option<Prepared>)> {
    let decision = match (left.purge, req.wipe.resume) {
        (Some(p), _) => {
            let method = p.method().ok_or_else(|| {
                Error::Usage(format!(
                    "{}: its purge journal names an unknown method",
                    path.display()
                ))
            })?;
            let grade = if p.outcome.purge_grade {
                Grade::Purge
            } else {
                Grade::Clear
            };
            let why = vec!["an unfinished purge of this drive is finished (--resume)".into()];
            return Ok((
                Decision::Run {
                    steps: vec![Chosen::Device { method, grade }],
                    why,
                },
                None,
            ));
        }
        (None, true) if left.wipe => Decision::Run {
            steps: vec![Chosen::Overwrite],
            why: vec!["an unfinished overwrite of this target is finished (--resume)".into()],
        },
        (None, true) => {
            return Err(Error::Usage(format!(
                "{} has nothing to resume (no purge or wipe journal for it in {})",
                path.display(),
                req.wipe.journal_dir.display()
            ))
            .into())
        }
        (None, false) => {
            let mut prepared: HashMap<Option<Method>, Prepared> = HashMap::new();
            let d = technique::decide(&req.wipe.policy.media, class, |m| {
                let Some((d, caps)) = drive else {
                    return Err(Unavailable::Lacks(no_drive.to_string()));
                };
                let p = prepare(req, d, caps, m)?;
                let chosen = (p.method, p.grade);
                prepared.insert(m, p);
                Ok(chosen)
            });
            if let Decision::Blocked(why) = &d {
                return Err(Error::refused(path, why.clone()).into());
            }
            let mut chosen = None;
            if let Decision::Run { steps, .. } = &d {
                for s in steps {
                    if let Chosen::Device { method, .. } = s {
                        chosen = prepared
                            .remove(&None)
                            .filter(|p| p.method == *method)
                            .or_else(|| prepared.remove(&Some(*method)));
                    }
                }
            }
            return Ok((d, chosen));
        }
    };
    Ok((decision, None))
}

/// The overwrite's plan, when the decision overwrites (and the journal it resumes).
fn plan_of(
    req: &settings::Sanitize,
    path: &Path,
    resolved: Option<&Resolved>,
    decision: &Decision,
) -> anyhow::Result<Option<(Plan, Option<Journal>)>> {
    if !decision_has(decision, |c| *c == Chosen::Overwrite) {
        return Ok(None);
    }
    let Some(r) = resolved else {
        return Err(Error::Usage(format!(
            "{}: the simulated drive can be overwritten only when kept in a file \
             (--simulate NAME=nvme:SIZE:FEATURES:STATE)",
            path.display()
        ))
        .into());
    };
    Ok(Some(
        overwrite::plan_all(&req.wipe, std::slice::from_ref(r))?
            .pop()
            .ok_or_else(|| Error::Usage("no plan".into()))?,
    ))
}

fn decision_has(d: &Decision, f: impl Fn(&Chosen) -> bool) -> bool {
    matches!(d, Decision::Run { steps, .. } if steps.iter().any(f))
}

/// The drive behind `r`, claimed, if it is one mediasan can send commands to; else why not.
fn open_drive(req: &settings::Sanitize, r: &Resolved) -> anyhow::Result<(Option<Drive>, String)> {
    let Resolved::Existing(p) = r else {
        return Ok((
            None,
            "an image file to create has no sanitize command".into(),
        ));
    };
    if p.kind != Kind::Block {
        return Ok((
            None,
            "an image file has no sanitize command of its own".into(),
        ));
    }
    if let Some(disk) = device::partition_of(p) {
        return Ok((
            None,
            format!("a partition of /dev/{disk}: the drive's own commands erase the whole drive"),
        ));
    }
    // `--transport ata` (wipe's flag): talk ATA to the drives that may be ATA behind a bridge
    // or a translator, never to an NVMe namespace, a loop device or a virtual disk of the
    // same run.
    let ata = req.wipe.transport == crate::device::hidden::Transport::Ata
        && matches!(
            p.identity.interface.as_str(),
            "sata" | "usb" | "sas" | "scsi"
        );
    let transport = ata.then_some(engine::Bus::Ata);
    if let Err(why) = crate::session::purge::bus_of(transport, p) {
        return Ok((None, why));
    }
    Ok((Some(drive_of((**p).clone(), transport)?), String::new()))
}

/// The drive's health, where a drive can be asked (its claimed door, else the probed one).
fn read_health(
    req: &settings::Sanitize,
    r: Option<&Resolved>,
    d: Option<&Drive>,
) -> Option<Health> {
    match d {
        Some(d) => Some(health::read(
            &d.probe,
            d.pass.as_ref(),
            d.bus == engine::Bus::Ata,
        )),
        None => r.and_then(|r| overwrite::health_of(&req.wipe, r)),
    }
}

/// What classify needs: the kernel's view, and the drive's own medium when it answers.
fn facts(r: Option<&Resolved>, d: Option<&Drive>, drive_medium: Option<Medium>) -> Facts {
    let probe: Option<&Probe> = d.map(|d| &d.probe).or(match r {
        Some(Resolved::Existing(p)) => Some(p),
        _ => None,
    });
    let Some(p) = probe else {
        return Facts {
            image: true,
            ..Facts::default()
        };
    };
    Facts {
        interface: p.identity.interface.clone(),
        image: p.kind == Kind::Image,
        removable: p.identity.removable,
        rotational: p.identity.rotational,
        drive_medium,
        virtual_disk: p.identity.virtual_disk.clone(),
    }
}

/// Method `m` (or the strongest Purge, `None`) prepared on `d`: not offered by the drive, or
/// offered but blocked for now (which stops the run, with the remedy).
fn prepare(
    req: &settings::Sanitize,
    d: &Drive,
    caps: &Result<Caps, String>,
    m: Option<Method>,
) -> Result<Prepared, Unavailable> {
    let caps = caps.as_ref().map_err(|e| Unavailable::Lacks(e.clone()))?;
    let offered = match m {
        None => caps
            .supported
            .iter()
            .any(|x| x.grade(caps.medium) == Grade::Purge),
        Some(m) => {
            caps.supported.contains(&m) || (d.bus == engine::Bus::Scsi && caps.supported.is_empty())
        }
    };
    if !offered {
        return Err(Unavailable::Lacks(match m {
            None => "the drive reports no Purge-grade command".into(),
            Some(m) => format!("the drive does not report support for {}", m.name()),
        }));
    }
    let r = flow::Request {
        method: m,
        ..req.request.clone()
    };
    flow::prepare(d, &r, &Quiet).map_err(|e| Unavailable::Blocked(e.to_string()))
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

/// The certificate note that says how the technique was chosen.
fn note(policy: &crate::policy::Policy, class: MediaClass, why: &str, d: &Decision) -> String {
    let steps = |d: &Decision| step_names(d, ", then ").unwrap_or_else(|| "nothing".into());
    let tried = match d {
        Decision::Run { why, .. } | Decision::Destroy(why) if !why.is_empty() => {
            format!(" (not applicable first: {})", why.join("; "))
        }
        _ => String::new(),
    };
    format!(
        "Technique chosen by mediasan sanitize, policy {}: {} medium ({why}): {}{tried}.",
        policy.name,
        class.name(),
        steps(d)
    )
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

fn device_step(
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

fn overwrite_step(
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
fn destroy(
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
    let stored = super::store_certificate(&c, &session.cert_dirs, &session.key, rep.reporter())?;
    let row = super::announce(&c, stored, rep);
    Ok((Exit::of(c.result, false), row))
}
