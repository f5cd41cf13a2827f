//! `mediasan wipe`: the straight line, for each target at once:
//! settings → probe → safety → plan (or resume) → confirm → session (evidence folders and key)
//! → each target through `session::overwrite::one` (open → `clear::run` → `cert::build::clear`
//! → sign and store → journal kept or removed).
//! Everything that can refuse (bad input, in use, not confirmed) happens before any target is
//! written; after the first byte is written a certificate is always produced.

use std::path::Path;

use crate::cert::Record;
use crate::cli::WipeArgs;
use crate::error::Exit;
use crate::event::{self, Event};
use crate::plan::Plan;
use crate::policy::VerifyMode;
use crate::progress::Reporter;
use crate::settings;
use crate::units::human_bytes;

use crate::session::batch;
use crate::session::open_session;
use crate::session::overwrite::{asset, describe, one, zones_plan, Resolved};
use crate::session::wipe::{self as flow, Planned, Prepared};

pub fn run(args: &WipeArgs) -> anyhow::Result<Exit> {
    let mut req = settings::Wipe::new(args)?;
    let reporter = Reporter::new(req.json, req.progress_interval);
    let Prepared {
        planned,
        mut set_aside,
        warnings,
    } = flow::prepare(&mut req, &reporter)?;
    if req.dry_run || req.yes {
        // Asked for: said once everything else is settled (in the prompt otherwise).
        warnings.iter().for_each(|w| reporter.say(w));
    }
    if req.dry_run {
        planned.iter().for_each(|p| show(&req, p, &reporter));
        return Ok(if set_aside.is_empty() {
            Exit::Pass
        } else {
            Exit::Refused
        });
    }
    if !req.yes {
        confirm(&req, &planned, &warnings, &set_aside)?;
    }
    let (planned, unhealthy) = flow::split_unhealthy(&req, planned);
    let count = planned.len() + unhealthy.len() + set_aside.len();
    let (session, mut reserves) = open_session(&req, count, &reporter)?;
    let mut ends = flow::certify_unhealthy(unhealthy, &session, &mut reserves, &reporter)?;
    session.signals.hold(req.hold.as_deref(), "confirmed");
    let ready = flow::open_all(&req, planned, &mut set_aside, &reporter)?;
    ends.extend(batch::certify(
        set_aside,
        &req.policy,
        &session,
        &mut reserves,
        &reporter,
    )?);
    let jobs = ready
        .into_iter()
        .zip(reserves)
        .map(|(r, reserve)| (r.target.probe.path.display().to_string(), (r, reserve)))
        .collect();
    ends.extend(batch::run_each(jobs, &reporter, |(r, reserve), rep| {
        let (code, row) = one(
            &r.target, &r.plan, r.journal, &r.record, reserve, &session, rep,
        );
        (code, vec![row])
    }));
    Ok(batch::finish(&req.targets, ends, &reporter))
}

/// The dry run of one target: its plan, health and what `--restore-hidden` would do.
fn show(req: &settings::Wipe, p: &Planned, reporter: &Reporter) {
    print_plan(&p.target, &p.plan, &p.record, &req.cert_dir, reporter);
    if reporter.json() {
        return;
    }
    if let Some(z) = zones_plan(&p.target) {
        outln!("  {}", crate::term::escape(&z));
    }
    if let Some(h) = &p.health {
        // Only what was said: an empty detail or source leaves no stray "; )".
        let about: Vec<&str> = [h.detail.as_str(), h.source.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        if about.is_empty() {
            outln!("  health: {}", h.word());
        } else {
            outln!("  health: {} ({})", h.word(), about.join("; "));
        }
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

fn confirm(
    req: &settings::Wipe,
    planned: &[Planned],
    warnings: &[String],
    set_aside: &[batch::SetAside],
) -> anyhow::Result<()> {
    let first = planned
        .first()
        .map(|p| p.target.path())
        .unwrap_or(Path::new(""));
    let lines: Vec<String> = planned
        .iter()
        .map(|p| format!("{} [{}]", describe(&p.target), asset(&p.record)))
        .collect();
    let operator = planned
        .first()
        .map_or("", |p| p.record.operator.name.as_str());
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

fn print_plan(r: &Resolved, plan: &Plan, rec: &Record, cert_dir: &Path, reporter: &Reporter) {
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
