//! `mediasan sanitize TARGET... --policy NAME`: the right technique per target, in a straight
//! line: settings → targets resolved, safety → records → per target: its class of medium
//! (`technique::classify`, the drive's own word first), the policy's decision over what the
//! drive reports (`technique::decide`, each device method checked by `purge::flow::prepare`)
//! → dry run or one confirmation → session (folders, key, signals) → each target on its own
//! thread, its steps in order: the drive's own command (`purge::flow::run`, or `resume` of an
//! unfinished one), the overwrite (wipe's per-target flow), or a FAIL certificate recommending
//! Destroy when nothing the policy allows applies. Every refusal happens before anything is
//! written; a certificate per step.

use std::path::{Path, PathBuf};

use crate::cli::SanitizeArgs;
use crate::error::Exit;
use crate::event::Event;
use crate::evidence::Reserve;
use crate::progress::Reporter;
use crate::settings;

use crate::session::batch;
use crate::session::open_session;
use crate::session::overwrite::{self, zones_plan};
use crate::session::sanitize::*;

pub fn run(args: &SanitizeArgs) -> anyhow::Result<Exit> {
    let mut req = settings::Sanitize::new(args)?;
    let reporter = Reporter::new(req.wipe.json, req.wipe.progress_interval);
    let (jobs, set_aside) = decide_all(&req, &reporter)?;
    // Resumed work keeps its certificates where it began.
    let kept: Vec<PathBuf> = jobs.iter().filter_map(|j| j.kept_folder.clone()).collect();
    req.wipe.cert_dir = overwrite::resumed_folder(&req.wipe, kept)?;
    // A target refused for safety is set aside (see `batch`); the others go on.
    batch::go_on(&set_aside, jobs.len(), req.wipe.all_or_nothing, &reporter)?;
    for j in &jobs {
        show(&req, j, &reporter);
    }
    if req.wipe.dry_run {
        return Ok(if set_aside.is_empty() {
            Exit::Pass
        } else {
            Exit::Refused
        });
    }
    if !req.wipe.yes {
        confirm(&req, &jobs, &set_aside)?;
    }
    let reserves: usize =
        jobs.iter().map(|j| j.steps().len().max(1)).sum::<usize>() + set_aside.len();
    let (session, mut reserves) = open_session(&req.wipe, reserves, &reporter)?;
    let mut ends = batch::certify(
        set_aside,
        &req.wipe.policy,
        &session,
        &mut reserves,
        &reporter,
    )?;
    session.signals.hold(req.wipe.hold.as_deref(), "confirmed");
    // Each job takes the room kept for its certificates (one per step).
    let jobs = jobs
        .into_iter()
        .map(|job| {
            let mine: Vec<Reserve> = reserves.drain(..job.steps().len().max(1)).collect();
            (job.path.display().to_string(), (job, mine))
        })
        .collect();
    ends.extend(batch::run_each(jobs, &reporter, |(job, mine), rep| {
        one(job, mine, &req, &session, rep)
    }));
    Ok(batch::finish(&req.wipe.targets, ends, &reporter))
}

fn show(req: &settings::Sanitize, j: &Job, reporter: &Reporter) {
    let policy = &req.wipe.policy;
    let plan = plan_event(req, j);
    if reporter.json() {
        reporter.emit(&Event::SanitizePlan(plan));
        return;
    }
    let (steps, tried) = (plan.steps, plan.tried);
    let head = if req.wipe.dry_run {
        "dry run, nothing is written: "
    } else {
        ""
    };
    outln!(
        "{head}{}: {} medium ({}); policy {}",
        j.path.display(),
        j.class.name(),
        j.class_why,
        policy.name
    );
    for t in &tried {
        outln!("  not applicable: {t}");
    }
    if steps.is_empty() {
        outln!("  nothing the policy allows applies: FAIL, recommendation Destroy (nothing is written)");
    }
    for (i, s) in steps.iter().enumerate() {
        outln!(
            "  step {}: {} ({}, {}){}",
            i + 1,
            s.method,
            s.technique,
            if s.grade == "purge" { "Purge" } else { "Clear" },
            s.estimate_seconds
                .map(|e| format!(", the drive estimates {} min", e.div_ceil(60)))
                .unwrap_or_default()
        );
        for b in &s.bytes {
            outln!("    {}: {}", b.what, b.hex);
            if !b.fields.is_empty() {
                outln!("      = {}", b.fields);
            }
        }
        for (k, p) in s.passes.iter().enumerate() {
            outln!("    pass {}/{}: {p}", k + 1, s.passes.len());
        }
        if let Some(z) = (!s.passes.is_empty())
            .then(|| j.resolved.as_ref().and_then(zones_plan))
            .flatten()
        {
            outln!("    {}", crate::term::escape(&z));
        }
    }
    if let Some(p) = &j.prepared {
        for w in &p.warnings {
            outln!("  note: {w}");
        }
        for r in &p.scope.reaches {
            outln!("  erases {r}");
        }
    }
}

fn confirm(
    req: &settings::Sanitize,
    jobs: &[Job],
    set_aside: &[batch::SetAside],
) -> anyhow::Result<()> {
    let first = jobs.first().map_or(Path::new(""), |j| j.path.as_path());
    let lines: Vec<String> = jobs
        .iter()
        .map(|j| {
            let what = step_names(&j.decision, " then ")
                .unwrap_or_else(|| "nothing (FAIL, Destroy)".into());
            format!(
                "{} ({} medium): {what} [{}]",
                j.path.display(),
                j.class.name(),
                overwrite::asset(&j.record)
            )
        })
        .collect();
    let mut about = vec![
        format!(
            "policy: {} ({})",
            req.wipe.policy.name, req.wipe.policy.description
        ),
        format!("certificates: {}", req.wipe.cert_dir.display()),
    ];
    about.extend(batch::untouched(set_aside));
    super::confirm(first, &lines, &about)
}
