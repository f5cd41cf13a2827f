//! `wipe`'s batch, in the order it runs: each target resolved, judged for safety and planned
//! (fresh or resumed) with its record and health (`prepare`); after the confirmation the
//! drives over the policy's health limits set apart and certified FAIL (`split_unhealthy`,
//! `certify_unhealthy`); the last checks before the first write (`open_all`); then each
//! target through `super::overwrite::one` on its own thread (`super::batch::run_each`).

use crate::cert::{self, Record};
use crate::device::health::Health;
use crate::device::{Probe, Target};
use crate::error::Exit;
use crate::evidence::Reserve;
use crate::journal::Journal;
use crate::plan::Plan;
use crate::progress::Reporter;
use crate::records::Key;
use crate::settings;
use crate::summary::Row;

use super::batch::{self, SetAside};
use super::overwrite::{self, Resolved};
use super::Session;

/// A target that passed its checks: what will be written and recorded.
pub(crate) struct Planned {
    pub(crate) target: Resolved,
    pub(crate) plan: Plan,
    /// The journal of the wipe being resumed.
    pub(crate) journal: Option<Journal>,
    pub(crate) record: Record,
    pub(crate) health: Option<Health>,
}

/// The batch before its confirmation.
pub(crate) struct Prepared {
    pub(crate) planned: Vec<Planned>,
    /// Targets refused on their own (already named by a `drive_refused` event).
    pub(crate) set_aside: Vec<SetAside>,
    /// What the records' checks want said before the run is confirmed.
    pub(crate) warnings: Vec<String>,
}

/// Resolves, judges and plans every target. A target refused for safety is set aside (see
/// [`batch`]); a resumed wipe keeps the record and certificate folder it began with (`req`'s
/// folder is set to it).
///
/// # Errors
/// Anything that refuses the whole run: bad input, every target refused, `--all-or-nothing`,
/// an unfinished purge.
pub(crate) fn prepare(req: &mut settings::Wipe, reporter: &Reporter) -> anyhow::Result<Prepared> {
    let resolved = overwrite::resolve(req)?;
    let (records, given) = overwrite::records(req, &resolved)?;
    let mac = overwrite::journal_mac(req)?;
    let mut set_aside = Vec::new();
    let mut kept = Vec::new();
    let mut folders = Vec::new();
    for ((r, rec), given) in resolved.into_iter().zip(records).zip(given) {
        let judged = batch::judge(
            overwrite::check_safety(std::slice::from_ref(&r))
                .and_then(|()| overwrite::plan_one(req, &r, mac.as_ref())),
        )?;
        match judged {
            Ok((plan, journal)) => {
                // A resumed wipe certifies with the record it began with.
                let record = match &journal {
                    Some(j) => {
                        folders.extend(j.cert_dir.clone());
                        overwrite::resumed_record(req, &r, j, rec, &given)?
                    }
                    None => rec,
                };
                kept.push((r, plan, journal, record));
            }
            Err(reason) => set_aside.push(SetAside {
                path: r.path().to_path_buf(),
                probe: overwrite::probe_of(&r),
                record: rec,
                reason,
            }),
        }
    }
    req.cert_dir = overwrite::resumed_folder(req, folders)?;
    let keys: Vec<Key> = kept.iter().map(|k| overwrite::key(&k.0)).collect();
    let records: Vec<Record> = kept.iter().map(|k| k.3.clone()).collect();
    let warnings = req.records.warnings(&records, &keys);
    for k in &kept {
        overwrite::refuse_unfinished_purge(req, &k.0)?;
    }
    batch::go_on(&set_aside, kept.len(), req.all_or_nothing, reporter)?;
    let planned = kept
        .into_iter()
        .map(|(target, plan, journal, record)| Planned {
            health: overwrite::health_of(req, &target),
            target,
            plan,
            journal,
            record,
        })
        .collect();
    Ok(Prepared {
        planned,
        set_aside,
        warnings,
    })
}

/// A drive over the policy's health limits, not to be wiped (`on_health = "refuse"`).
pub(crate) struct Unhealthy {
    probe: Probe,
    health: Health,
    over: Vec<String>,
    record: Record,
}

/// Sets apart, where the policy refuses unhealthy drives, those over its limits.
pub(crate) fn split_unhealthy(
    req: &settings::Wipe,
    planned: Vec<Planned>,
) -> (Vec<Planned>, Vec<Unhealthy>) {
    let mut unhealthy = Vec::new();
    let mut kept = Vec::new();
    for mut p in planned {
        let over = p
            .health
            .as_ref()
            .map(|h| req.policy.health.over(h))
            .unwrap_or_default();
        if !req.policy.health.refuse || over.is_empty() {
            kept.push(p);
            continue;
        }
        match (p.target, p.health.take()) {
            (Resolved::Existing(probe), Some(health)) => unhealthy.push(Unhealthy {
                probe: *probe,
                health,
                over,
                record: p.record,
            }),
            (target, health) => kept.push(Planned {
                target,
                health,
                ..p
            }),
        }
    }
    (kept, unhealthy)
}

/// Each unhealthy drive's FAIL certificate saying why it was not wiped (each takes one of
/// `reserves`).
///
/// # Errors
/// A certificate that cannot be encoded or signed.
pub(crate) fn certify_unhealthy(
    unhealthy: Vec<Unhealthy>,
    session: &Session,
    reserves: &mut Vec<Reserve>,
    reporter: &Reporter,
) -> anyhow::Result<Vec<(Exit, Vec<Row>)>> {
    let mut done = Vec::new();
    for u in unhealthy {
        if let Some(mut r) = reserves.pop() {
            r.release();
        }
        let policy = session.req.policy.reference();
        let c = cert::build::refused_for_health(&u.probe, &policy, u.health, &u.over, &u.record);
        let row = session.certify_now(&c, &u.probe.path.display().to_string(), reporter)?;
        done.push((Exit::of(c.result, false), vec![row]));
    }
    Ok(done)
}

/// A target opened and checked, ready for its first write.
pub(crate) struct Ready {
    pub(crate) target: Target,
    pub(crate) plan: Plan,
    pub(crate) journal: Option<Journal>,
    pub(crate) record: Record,
}

/// The last checks before the first write: hidden areas restored (`--restore-hidden`), each
/// target opened and checked against what was probed. A target refused here joins
/// `set_aside`.
///
/// # Errors
/// What refuses the whole run (every target refused, `--all-or-nothing`): nothing has been
/// written yet.
pub(crate) fn open_all(
    req: &settings::Wipe,
    planned: Vec<Planned>,
    set_aside: &mut Vec<SetAside>,
    reporter: &Reporter,
) -> anyhow::Result<Vec<Ready>> {
    let mut ready = Vec::new();
    let mut late = Vec::new();
    for p in planned {
        let (mut r, mut record) = (p.target, p.record);
        let path = r.path().to_path_buf();
        let checked = if req.restore_hidden {
            overwrite::restore_hidden(req.transport, &mut r, &mut record, reporter)
        } else {
            Ok(())
        };
        let probe = overwrite::probe_of(&r);
        match batch::judge(checked.and_then(|()| overwrite::open_one(r, reporter)))? {
            Ok(target) => ready.push(Ready {
                target,
                plan: p.plan,
                journal: p.journal,
                record,
            }),
            Err(reason) => late.push(SetAside {
                path,
                probe,
                record,
                reason,
            }),
        }
    }
    batch::go_on(&late, ready.len(), req.all_or_nothing, reporter)?;
    set_aside.extend(late);
    Ok(ready)
}
