//! Each target classed and decided before anything is written: its medium, the policy's
//! technique over what the drive reports, each device method prepared (what it sends, what it
//! erases, every refusal), and the set-aside targets.

use std::collections::HashMap;
use std::path::Path;

use crate::cert::Record;
use crate::device::health::{self, Health};
use crate::device::{self, Kind, Probe};
use crate::error::Error;
use crate::journal::{Journal, MediaKey};
use crate::plan::Plan;
use crate::progress::{Quiet, Reporter};
use crate::purge::engine::{self, Caps};
use crate::purge::flow::{self, bus_name, Drive, Prepared};
use crate::purge::journal::{self as purge_journal, Pending};
use crate::purge::method::{self, Grade, Medium, Method};
use crate::records::{Field, Key};
use crate::settings;
use crate::technique::{self, Chosen, Decision, Facts, MediaClass, Unavailable};

use crate::session::batch;
use crate::session::overwrite::{self, Resolved};
use crate::session::purge::{drive_of, unfinished};

use super::*;

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
pub(super) fn decide_subjects(
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
pub(super) fn decide_one(
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
pub(super) fn subject(
    req: &settings::Sanitize,
    path: &Path,
    resolved: Option<Resolved>,
) -> anyhow::Result<(Option<Drive>, String, Option<Resolved>)> {
    let Some(r) = resolved else {
        let spec = req.simulate.as_ref().map_or("", |(_, s)| s.as_str());
        let drive = Drive::from_simulation(path, spec).map_err(Error::Usage)?;
        let media = spec
            .splitn(4, ':')
            .nth(3)
            .map(|state| Path::new(state).with_extension("media"));
        let resolved = match media {
            Some(m) => Some(Resolved::Existing(Box::new(device::probe(&m)?))),
            None => None,
        };
        return Ok((Some(drive), String::new(), resolved));
    };
    let (d, why) = open_drive(req, &r)?;
    Ok((d, why, Some(r)))
}

/// An unfinished purge of this drive: the one to finish (--resume), or a refusal to start
/// another (see `session::purge::unfinished`).
pub(super) fn unfinished_purge(
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
        (&req.wipe.journal_dir, &req.wipe.cert_dir),
        d,
        &jpath,
    )?
    .map(|p| *p))
}

/// What an interrupted overwrite of this target left (rma's second step, an HDD's overwrite).
pub(super) fn unfinished_wipe(req: &settings::Sanitize, resolved: Option<&Resolved>) -> bool {
    match resolved {
        Some(Resolved::Existing(p)) => {
            crate::journal::path_for(&req.wipe.journal_dir, &MediaKey::of(p), &p.canonical).exists()
        }
        _ => false,
    }
}

/// What earlier runs left of this target.
pub(super) struct Left<'a> {
    purge: Option<&'a Pending>,
    wipe: bool,
}

/// The decision, and the device command prepared for it: finishing what was left (--resume
/// starts nothing new), or the policy's first alternative the drive can do. A technique that is
/// there but blocked refuses the run.
pub(super) fn choose(
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
pub(super) fn plan_of(
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

pub(super) fn decision_has(d: &Decision, f: impl Fn(&Chosen) -> bool) -> bool {
    matches!(d, Decision::Run { steps, .. } if steps.iter().any(f))
}

/// The drive behind `r`, claimed, if it is one mediasan can send commands to; else why not.
pub(super) fn open_drive(
    req: &settings::Sanitize,
    r: &Resolved,
) -> anyhow::Result<(Option<Drive>, String)> {
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
pub(super) fn read_health(
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
pub(super) fn facts(
    r: Option<&Resolved>,
    d: Option<&Drive>,
    drive_medium: Option<Medium>,
) -> Facts {
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
pub(super) fn prepare(
    req: &settings::Sanitize,
    d: &Drive,
    caps: &Result<Caps, String>,
    m: Option<Method>,
) -> Result<Prepared, Unavailable> {
    let caps = caps.as_ref().map_err(|e| Unavailable::Lacks(e.clone()))?;
    // A TCG method counts only with its credential (--psid, --sid-file, --erase-master-file):
    // without it the next
    // alternative is tried, as for a method the drive does not have.
    let usable = |x: &Method| req.request.has_credential(*x);
    let offered = match m {
        None => caps
            .supported
            .iter()
            .filter(|x| usable(x))
            .any(|x| x.grade(caps.medium) == Grade::Purge),
        Some(m) => {
            caps.supported.contains(&m)
                || (d.bus == engine::Bus::Scsi && caps.supported.iter().all(|x| method::tcg(*x)))
        }
    };
    if !offered {
        return Err(Unavailable::Lacks(match m {
            None => "the drive reports no Purge-grade command".into(),
            Some(m) => format!("the drive does not report support for {}", m.name()),
        }));
    }
    if let Some(m) = m.filter(|m| !usable(m)) {
        return Err(Unavailable::Lacks(format!(
            "{} needs {} (not given)",
            m.name(),
            method::credential_flag(m).unwrap_or_default()
        )));
    }
    let r = flow::Request {
        method: m,
        ..req.request.clone()
    };
    flow::prepare(d, &r, &Quiet).map_err(|e| Unavailable::Blocked(e.to_string()))
}

/// The certificate note that says how the technique was chosen.
pub(super) fn note(
    policy: &crate::policy::Policy,
    class: MediaClass,
    why: &str,
    d: &Decision,
) -> String {
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
