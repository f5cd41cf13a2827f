//! A run of several targets (`wipe`, `sanitize`), each judged on its own. A target refused for
//! safety (read-only, in use, held, frozen) is set aside: nothing is written to it, a
//! `drive_refused` event names it, and once the run is confirmed it gets a signed record saying
//! why (FAIL, method `none`) and a `REFUSED` row in the summary; the other targets run, and the
//! exit code is the worst (3 for a refusal). The whole run is refused as before, nothing
//! written and no record, when every target is refused or `--all-or-nothing` was given.
//! Anything that is not a refusal of one target (a usage error) still ends the whole run.

use std::path::PathBuf;

use crate::cert::{self, Record};
use crate::device::Probe;
use crate::error::{Error, Exit};
use crate::event::{self, Event};
use crate::evidence::Reserve;
use crate::policy::Policy;
use crate::progress::{Reporter, TargetReporter};
use crate::summary::Row;

use super::Session;

/// A target refused on its own.
pub(crate) struct SetAside {
    pub(crate) path: PathBuf,
    /// What was found there (`None`: nothing to describe, e.g. an image that could not be made).
    pub(crate) probe: Option<Probe>,
    pub(crate) record: Record,
    pub(crate) reason: String,
}

/// `Err(why)` when `r` is a refusal of one target (the run goes on without it); an error that
/// is not a refusal ends the run.
///
/// # Errors
/// `r`'s error, when it is not an [`Error::Refused`].
pub(crate) fn judge<T>(r: anyhow::Result<T>) -> anyhow::Result<Result<T, String>> {
    match r {
        Ok(t) => Ok(Ok(t)),
        Err(e) => {
            let why = e.chain().find_map(|c| match c.downcast_ref::<Error>() {
                Some(Error::Refused { reason, .. }) => Some(reason.clone()),
                _ => None,
            });
            match why {
                Some(why) => Ok(Err(why)),
                None => Err(e),
            }
        }
    }
}

/// Names every set-aside target (an event each) before anything is asked or written, and
/// says whether the run goes on without them. `left`: how many targets remain to run.
///
/// # Errors
/// [`Error::Refused`] naming every set-aside target when none is left to run, or with
/// `--all-or-nothing`: the whole run is refused, nothing written, no record.
pub(crate) fn go_on(
    set_aside: &[SetAside],
    left: usize,
    all_or_nothing: bool,
    reporter: &Reporter,
) -> anyhow::Result<()> {
    for s in set_aside {
        reporter.emit(&Event::DriveRefused(event::DriveRefused {
            target: s.path.display().to_string(),
            reason: s.reason.clone(),
        }));
    }
    let Some(first) = set_aside.first() else {
        return Ok(());
    };
    if left == 0 || all_or_nothing {
        let mut reason = first.reason.clone();
        for s in &set_aside[1..] {
            reason += &format!("; and {}: {}", s.path.display(), s.reason);
        }
        if left > 0 {
            reason += " (--all-or-nothing: nothing was written to any target)";
        }
        return Err(Error::refused(&first.path, reason).into());
    }
    for s in set_aside {
        reporter.say(&format!(
            "{}: refused, nothing will be written to it: {}",
            s.path.display(),
            s.reason
        ));
    }
    Ok(())
}

/// The lines the confirmation shows for the set-aside targets.
pub(crate) fn untouched(set_aside: &[SetAside]) -> Vec<String> {
    set_aside
        .iter()
        .map(|s| {
            format!(
                "NOT touched (refused): {}: {}; it gets a record saying so",
                s.path.display(),
                s.reason
            )
        })
        .collect()
}

/// Once the run is confirmed and its session open: each set-aside target's signed record and
/// summary row (each certificate takes one of `reserves`, the room kept for it).
///
/// # Errors
/// A certificate that cannot be encoded or signed.
pub(crate) fn certify(
    set_aside: Vec<SetAside>,
    policy: &Policy,
    session: &Session,
    reserves: &mut Vec<Reserve>,
    reporter: &Reporter,
) -> anyhow::Result<Vec<(Exit, Vec<Row>)>> {
    let mut rows = Vec::new();
    for s in set_aside {
        if let Some(mut r) = reserves.pop() {
            r.release();
        }
        let name = s.path.display().to_string();
        let mut row = match &s.probe {
            Some(p) => {
                let c = cert::build::refused(p, &policy.reference(), &s.reason, &s.record);
                session.certify_now(&c, &name, reporter)?
            }
            None => Row {
                asset: s.record.asset_tag.clone(),
                ..Row::error(&name, format!("none: {}", s.reason))
            },
        };
        row.result = "REFUSED".into();
        rows.push((Exit::Refused, vec![row]));
    }
    Ok(rows)
}

/// Each job on its own thread, `one` running it; the bars are made first, in the jobs' order.
/// A thread that panics ends its target as FAIL, its row saying it was a bug.
pub(crate) fn run_each<J: Send>(
    jobs: Vec<(String, J)>,
    reporter: &Reporter,
    one: impl Fn(J, &TargetReporter) -> (Exit, Vec<Row>) + Sync,
) -> Vec<(Exit, Vec<Row>)> {
    let names: Vec<String> = jobs.iter().map(|(name, _)| name.clone()).collect();
    let reps = reporter.targets(&names);
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .zip(&reps)
            .map(|((_, job), rep)| {
                let one = &one;
                s.spawn(move || one(job, rep))
            })
            .collect();
        handles
            .into_iter()
            .zip(&reps)
            .map(|(h, rep)| {
                h.join().unwrap_or_else(|_| {
                    rep.finish();
                    (Exit::Failed, vec![Row::bug(rep.name())])
                })
            })
            .collect()
    })
}

/// How the run ends: the summary (when it has more than one row) in the order the targets
/// were given (refusals are settled first, the others as they end), and the worst code. Each
/// target decided its own code once (130 if it was interrupted); a signal that came after
/// every target had settled interrupted nothing.
pub(crate) fn finish(
    targets: &[PathBuf],
    ends: impl IntoIterator<Item = (Exit, Vec<Row>)>,
    reporter: &Reporter,
) -> Exit {
    let (codes, rows): (Vec<Exit>, Vec<Vec<Row>>) = ends.into_iter().unzip();
    let mut rows: Vec<Row> = rows.into_iter().flatten().collect();
    let at = |r: &Row| {
        targets
            .iter()
            .position(|t| t.display().to_string() == r.target)
            .unwrap_or(usize::MAX)
    };
    rows.sort_by_key(at);
    if rows.len() > 1 {
        reporter.summary(&rows);
    }
    Exit::worst(codes)
}
