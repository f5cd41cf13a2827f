//! `mediasan wipe`: the straight line, for each target at once:
//! settings → probe → safety → plan (or resume) → confirm → session (evidence folders and key)
//! → each target through `session::overwrite::one` (open → `clear::run` → `cert::build::clear`
//! → sign and store → journal kept or removed).
//! Everything that can refuse (bad input, in use, not confirmed) happens before any target is
//! written; after the first byte is written a certificate is always produced.

use std::path::Path;

use crate::cert::{self, Record};
use crate::cli::WipeArgs;
use crate::device::health::Health;
use crate::error::Exit;
use crate::event::{self, Event};
use crate::plan::Plan;
use crate::policy::VerifyMode;
use crate::progress::Reporter;
use crate::records::Key;
use crate::settings;
use crate::summary::Row;
use crate::units::human_bytes;

use crate::session::batch;
pub(crate) use crate::session::open_session;
use crate::session::overwrite::*;

pub fn run(args: &WipeArgs) -> anyhow::Result<Exit> {
    let mut req = settings::Wipe::new(args)?;
    let reporter = Reporter::new(req.json, req.progress_interval);
    let resolved = resolve(&req)?;
    let (records, given) = records(&req, &resolved)?;
    // Each target judged on its own: one refused for safety is set aside (see `batch`).
    let mac = journal_mac(&req)?;
    let mut set_aside = Vec::new();
    let mut kept = (Vec::new(), Vec::new(), Vec::new());
    let mut folders = Vec::new();
    for ((r, rec), given) in resolved.into_iter().zip(records).zip(given) {
        let judged = batch::judge(
            check_safety(std::slice::from_ref(&r)).and_then(|()| plan_one(&req, &r, mac.as_ref())),
        )?;
        match judged {
            Ok(plan) => {
                // A resumed wipe certifies with the record it began with.
                let rec = match &plan.1 {
                    Some(j) => {
                        folders.extend(j.cert_dir.clone());
                        resumed_record(&req, &r, j, rec, &given)?
                    }
                    None => rec,
                };
                kept.0.push(r);
                kept.1.push(plan);
                kept.2.push(rec);
            }
            Err(reason) => set_aside.push(batch::SetAside {
                path: r.path().to_path_buf(),
                probe: probe_of(&r),
                record: rec,
                reason,
            }),
        }
    }
    let (resolved, plans, records) = kept;
    req.cert_dir = resumed_folder(&req, folders)?;
    let keys: Vec<Key> = resolved.iter().map(key).collect();
    let warnings = req.records.warnings(&records, &keys);
    refuse_unfinished_purges(&req, &resolved)?;
    batch::go_on(&set_aside, resolved.len(), req.all_or_nothing, &reporter)?;
    let healths: Vec<Option<Health>> = resolved.iter().map(|r| health_of(&req, r)).collect();
    if req.dry_run || req.yes {
        // Asked for: said once everything else is settled (in the prompt otherwise).
        warnings.iter().for_each(|w| reporter.say(w));
    }
    if req.dry_run {
        for (((r, (p, _)), rec), h) in resolved.iter().zip(&plans).zip(&records).zip(&healths) {
            print_plan(r, p, rec, &req.cert_dir, &reporter);
            if reporter.json() {
                continue;
            }
            if let Some(h) = h {
                outln!("  health: {} ({}; {})", h.word(), h.detail, h.source);
                let over = req.policy.health.over(h);
                if !over.is_empty() {
                    outln!(
                        "  over the policy's health limits ({}): {}",
                        over.join("; "),
                        if req.policy.health.refuse {
                            "it would not be wiped (FAIL, Destroy)"
                        } else {
                            "wiped, with the recommendation Destroy"
                        }
                    );
                }
            }
            if req.restore_hidden {
                outln!(
                    "  hidden areas: restored first if the drive has any (--restore-hidden: SET MAX \
                     ADDRESS EXT to the native maximum, DEVICE CONFIGURATION RESTORE), else refused"
                );
            }
        }
        return Ok(if set_aside.is_empty() {
            Exit::Pass
        } else {
            Exit::Refused
        });
    }
    if !req.yes {
        confirm(&req, &resolved, &records, &warnings, &set_aside)?;
    }
    // on_health = "refuse": drives over the policy's limits are not wiped; each gets a FAIL
    // certificate saying why.
    let mut unhealthy = Vec::new();
    let mut kept = (Vec::new(), Vec::new(), Vec::new());
    for (((r, p), rec), h) in resolved.into_iter().zip(plans).zip(records).zip(healths) {
        let over = h
            .as_ref()
            .map(|h| req.policy.health.over(h))
            .unwrap_or_default();
        match (r, h) {
            (Resolved::Existing(probe), Some(h))
                if req.policy.health.refuse && !over.is_empty() =>
            {
                unhealthy.push((*probe, h, over, rec));
            }
            (r, _) => {
                kept.0.push(r);
                kept.1.push(p);
                kept.2.push(rec);
            }
        }
    }
    let (resolved, plans, records) = kept;
    let count = resolved.len() + unhealthy.len() + set_aside.len();
    let (session, reserves) = open_session(&req, count, &reporter)?;
    let mut reserves = reserves;
    let mut done_early = Vec::new();
    for (probe, h, over, rec) in unhealthy {
        if let Some(mut r) = reserves.pop() {
            r.release();
        }
        let c = cert::build::refused_for_health(&probe, &req.policy.reference(), h, &over, &rec);
        let rep = reporter.target(&probe.path.display().to_string());
        let stored = super::store_certificate(&c, &session.cert_dirs, &session.key, &reporter)?;
        done_early.push((Exit::of(c.result, false), super::announce(&c, stored, &rep)));
    }
    session.signals.hold(req.hold.as_deref(), "confirmed");
    // The last checks before the first write (hidden areas restored, each target opened and
    // checked against what was probed): a target refused here is set aside too.
    let mut ready = Vec::new();
    let mut late = Vec::new();
    for ((mut r, p), mut rec) in resolved.into_iter().zip(plans).zip(records) {
        let path = r.path().to_path_buf();
        let checked = if req.restore_hidden {
            restore_hidden(req.transport, &mut r, &mut rec, &reporter)
        } else {
            Ok(())
        };
        let probe = probe_of(&r);
        match batch::judge(checked.and_then(|()| open_one(r, &reporter)))? {
            Ok(t) => ready.push((t, p, rec)),
            Err(reason) => late.push(batch::SetAside {
                path,
                probe,
                record: rec,
                reason,
            }),
        }
    }
    // Nothing has been written yet: refused as a whole as before the confirmation.
    batch::go_on(&late, ready.len(), req.all_or_nothing, &reporter)?;
    set_aside.extend(late);
    done_early.extend(batch::certify(
        set_aside,
        &req.policy,
        &session,
        &mut reserves,
        &reporter,
    )?);
    // The bars stack in target order: made here, before the threads.
    let names: Vec<String> = ready
        .iter()
        .map(|(t, _, _)| t.probe.path.display().to_string())
        .collect();
    let reps = reporter.targets(&names);
    let ends: Vec<(Exit, Row)> = std::thread::scope(|s| {
        let handles: Vec<_> = ready
            .into_iter()
            .zip(reserves)
            .zip(&reps)
            .map(|(((t, (p, j), record), reserve), rep)| {
                let session = &session;
                s.spawn(move || one(&t, &p, j, &record, reserve, session, rep))
            })
            .collect();
        handles
            .into_iter()
            .zip(&reps)
            .map(|(h, rep)| {
                h.join().unwrap_or_else(|_| {
                    rep.finish();
                    (Exit::Failed, Row::bug(rep.name()))
                })
            })
            .collect()
    });
    drop(reps);
    let (codes, mut rows): (Vec<Exit>, Vec<Row>) = done_early.into_iter().chain(ends).unzip();
    batch::in_target_order(&req.targets, &mut rows);
    if rows.len() > 1 {
        reporter.summary(&rows);
    }
    // Each target decided its own code once (130 if it was interrupted); a signal that came
    // after every target had settled interrupted nothing.
    Ok(Exit::worst(codes))
}

fn confirm(
    req: &settings::Wipe,
    resolved: &[Resolved],
    records: &[Record],
    warnings: &[String],
    set_aside: &[batch::SetAside],
) -> anyhow::Result<()> {
    let first = resolved
        .first()
        .map(Resolved::path)
        .unwrap_or(Path::new(""));
    let lines: Vec<String> = resolved
        .iter()
        .zip(records)
        .map(|(r, rec)| format!("{} [{}]", describe(r), asset(rec)))
        .collect();
    let operator = records.first().map_or("", |r| r.operator.name.as_str());
    let mut about = vec![
        format!(
            "operator: {}",
            if operator.is_empty() {
                "(none)"
            } else {
                operator
            }
        ),
        format!("policy: {} ({})", req.policy.name, req.policy.description),
        format!("certificates: {}", req.cert_dir.display()),
    ];
    if req.restore_hidden {
        about.push(
            "--restore-hidden: hidden areas (HPA/AMA, DCO) are restored permanently before the overwrite".into(),
        );
    }
    about.extend(warnings.iter().cloned());
    about.extend(batch::untouched(set_aside));
    super::confirm(first, &lines, &about)
}

pub(crate) fn print_plan(
    r: &Resolved,
    plan: &Plan,
    rec: &Record,
    cert_dir: &Path,
    reporter: &Reporter,
) {
    let (path, size) = match r {
        Resolved::Existing(p) => (&p.path, p.size),
        Resolved::ToCreate { path, size } => (path, *size),
    };
    if reporter.json() {
        reporter.emit(&Event::Plan(event::WipePlan {
            target: path.clone(),
            size_bytes: size,
            policy: plan.policy.name.clone(),
            passes: plan.passes.iter().map(|p| p.pattern.describe()).collect(),
            verify: plan.verify_mode.name().into(),
            verify_percent: plan.verify_percent,
            cert_dir: cert_dir.to_path_buf(),
            asset_tag: rec.asset_tag.clone(),
            dry_run: true,
        }));
        return;
    }
    let verify = match plan.verify_mode {
        VerifyMode::Sample => format!(
            "sampled, at least {} % of the last pass",
            plan.verify_percent
        ),
        VerifyMode::Full => "full read-back of the last pass".into(),
        VerifyMode::None => "none (the result will be INCOMPLETE, not PASS)".into(),
    };
    outln!("dry run, nothing is written: {}", describe(r));
    outln!(
        "  record: {}, operator {}",
        asset(rec),
        if rec.operator.name.is_empty() {
            "(none)"
        } else {
            &rec.operator.name
        }
    );
    outln!(
        "  policy {} ({}{}): {}",
        plan.policy.name,
        plan.policy.source,
        if plan.policy.legacy { ", legacy" } else { "" },
        plan.policy.description
    );
    for p in &plan.passes {
        outln!(
            "  pass {}/{}: {} over {}",
            p.index,
            plan.passes.len(),
            p.pattern.describe(),
            human_bytes(size)
        );
    }
    outln!("  verify: {verify}");
    outln!(
        "  certificate: {}/<name>-<time>-<id>.json and .json.sig",
        cert_dir.display()
    );
}
