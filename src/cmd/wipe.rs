//! `mediasan wipe`: the straight line of design.md, for each target at once:
//! probe → safety → confirm → open → passes (writer) → verify → certificate → sign.
//! Everything that can refuse (bad input, in use, not confirmed) happens before any target is
//! written; after the first byte is written a certificate is always produced.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::event::{self, Event};
use rand::RngCore;
use ssh_key::PrivateKey;

use crate::cert::{self, Certificate, PassRecord};
use crate::cli::{OnErrorArg, TransportArg, VerifyArg, WipeArgs};
use crate::config::{self, Config};
use crate::device::{self, hidden, BlockIo, Kind, Probe, Target};
use crate::error::{Error, Exit};
use crate::evidence::{self, Folder, Reserve, RESERVE_BYTES};
use crate::journal::{self, Found, Journal, MacKey, MediaKey, Position};
use crate::pattern::Pattern;
use crate::plan::{self, Overrides, PassPlan, Plan};
use crate::policy::{self, PassSpec, Policy, VerifyMode};
use crate::progress::{Reporter, TargetReporter};
use crate::signals::Signals;
use crate::units::{human_bytes, human_rate};
use crate::verify;
use crate::writer::{self, Checkpoints, Durable, FillBudget, IoConfig, OnError};

/// A target as resolved before anything is written.
enum Resolved {
    Existing(Box<Probe>),
    ToCreate { path: PathBuf, size: u64 },
}

impl Resolved {
    fn path(&self) -> &Path {
        match self {
            Resolved::Existing(p) => &p.path,
            Resolved::ToCreate { path, .. } => path,
        }
    }
}

/// Everything the per-target workers share.
struct Ctx<'a> {
    key: &'a PrivateKey,
    mac: MacKey,
    journal_dir: PathBuf,
    /// The certificate folder, then where a certificate goes if it cannot be written there.
    cert_dirs: Vec<PathBuf>,
    config: &'a Config,
    io: IoConfig,
    args: &'a WipeArgs,
    signals: Signals,
}

pub fn run(args: &WipeArgs) -> anyhow::Result<Exit> {
    let config = config::load(args.config.as_deref())?;
    let policy_name = args
        .policy
        .clone()
        .or_else(|| config.policy.clone())
        .unwrap_or_else(|| policy::DEFAULT.into());
    let policy = policy::load(&policy_name)?;
    let overrides = Overrides {
        verify: args.verify.map(|v| match v {
            VerifyArg::Full => VerifyMode::Full,
            VerifyArg::Sample => VerifyMode::Sample,
            VerifyArg::None => VerifyMode::None,
        }),
        verify_percent: args.verify_percent,
    };

    // 1. Resolve every target; nothing is written yet.
    let mut resolved = Vec::new();
    let mut seen = HashSet::new();
    for path in &args.targets {
        let r = match device::probe(path) {
            Ok(p) => Resolved::Existing(Box::new(p)),
            Err(e) => match args.create {
                Some(size) if std::fs::symlink_metadata(path).is_err() => Resolved::ToCreate {
                    path: path.clone(),
                    size,
                },
                _ => return Err(e.into()),
            },
        };
        let key = match &r {
            Resolved::Existing(p) => p.canonical.clone(),
            Resolved::ToCreate { path, .. } => path.clone(),
        };
        if !seen.insert(key) {
            return Err(Error::Usage(format!("{} is named twice", path.display())).into());
        }
        resolved.push(r);
    }

    // 2. Safety: nothing in use, nothing read-only.
    for r in &resolved {
        if let Resolved::Existing(p) = r {
            if p.read_only {
                return Err(Error::refused(
                    &p.path,
                    "the device is read-only (e.g. losetup -r, a write-protect switch)",
                )
                .into());
            }
            device::safety::check_not_in_use(p)?;
        }
    }

    let reporter = Reporter::new(args.json);
    // Each target's plan: a fresh one, or with --resume the one in its journal.
    let journal_dir = args
        .journal_dir
        .clone()
        .or_else(journal::default_dir)
        .ok_or_else(|| {
            Error::Usage("cannot find a folder for journals (no HOME); give --journal-dir".into())
        })?;
    // The signing key also seals the journals, so it is needed to believe one. It is created
    // (on first use) only after the confirmation; without one, no journal of ours can exist.
    let key_path = args.key.as_deref().or(config.key.as_deref());
    let mac = super::existing_key(key_path)?.as_ref().map(MacKey::of);
    let mut plans: Vec<Plan> = Vec::new();
    let mut journals: Vec<Option<Journal>> = Vec::new();
    for r in &resolved {
        let found = match r {
            Resolved::Existing(p) => {
                let jpath = journal::path_for(&journal_dir, &MediaKey::of(p), &p.canonical);
                match &mac {
                    Some(mac) => journal::load(&jpath, mac)?,
                    None if jpath.exists() => Some(Found::Invalid(
                        "it cannot be checked without the signing key".into(),
                    )),
                    None => None,
                }
            }
            Resolved::ToCreate { .. } => None,
        };
        let path = r.path();
        match (found, args.resume, args.restart) {
            (Some(Found::Valid(j)), true, _) => {
                if let Resolved::Existing(p) = r {
                    if let Some(why) = j.media.differs(&MediaKey::of(p)) {
                        return Err(Error::refused(
                            path,
                            format!("its unfinished wipe was of other media ({why}); refusing to resume onto this one (--restart starts over)"),
                        )
                        .into());
                    }
                }
                if args.policy.as_ref().is_some_and(|p| *p != j.policy.name && *p != j.policy.source) {
                    return Err(Error::Usage(format!(
                        "the wipe of {} being resumed uses policy {}; leave out --policy",
                        path.display(),
                        j.policy.name
                    ))
                    .into());
                }
                plans.push(plan_from_journal(&j)?);
                journals.push(Some(*j));
            }
            (Some(Found::Invalid(why)), true, _) => {
                return Err(Error::Usage(format!(
                    "the unfinished wipe of {} cannot be resumed: its journal {why}; start over with --restart",
                    path.display()
                ))
                .into())
            }
            (Some(Found::Valid(j)), false, false) => {
                return Err(Error::Usage(format!(
                    "{} has an unfinished wipe ({}, started {}); continue it with --resume, or start over with --restart",
                    path.display(),
                    where_(&j),
                    j.started
                ))
                .into())
            }
            (Some(Found::Invalid(why)), false, false) => {
                return Err(Error::Usage(format!(
                    "{} has an unfinished wipe whose journal cannot be resumed ({why}); start over with --restart",
                    path.display()
                ))
                .into())
            }
            (None, true, _) => {
                return Err(Error::Usage(format!("{} has no unfinished wipe to resume (no journal for this medium in {})", path.display(), journal_dir.display())).into())
            }
            _ => {
                plans.push(plan::build(&policy, &overrides, &mut rand::rng()));
                journals.push(None);
            }
        }
    }

    let cert_dir = &args
        .cert_dir
        .clone()
        .or_else(|| config.cert_dir.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    if args.dry_run {
        for (r, p) in resolved.iter().zip(&plans) {
            print_plan(r, p, cert_dir, &reporter);
        }
        return Ok(Exit::Pass);
    }

    // 3. Confirmation.
    if !args.yes {
        confirm(&resolved)?;
    }

    // 4. Where certificates go, and the key, before touching any target.
    // 4. Where the evidence goes, proven writable with room, before touching any target.
    let cert_folder = Folder::prepare(cert_dir, RESERVE_BYTES, "certificate folder (--cert-dir)")?;
    let journal_folder = Folder::prepare(
        &journal_dir,
        RESERVE_BYTES,
        "journal folder (--journal-dir)",
    )?;
    let mut reserves = Vec::new();
    for _ in 0..resolved.len() {
        reserves.push(Reserve::new(&cert_folder)?);
    }
    let cert_dir = &cert_folder.path;
    let key = super::load_key(key_path, &reporter)?;
    let mac = MacKey::of(&key);

    // From here on SIGINT/SIGTERM stop the wipe at a safe point, SIGHUP does not stop it.
    let signals = Signals::install();
    signals.hold(args.seams.hold(), "confirmed");

    // 5. Create images and open everything (O_EXCL) before the first write: through the
    // probed descriptors, checked against what was probed and confirmed.
    let mut targets = Vec::new();
    for r in resolved {
        let probe = match r {
            Resolved::Existing(p) => *p,
            Resolved::ToCreate { path, size } => {
                device::create_image(&path, size)?;
                reporter.say(&format!(
                    "created image file {} ({})",
                    path.display(),
                    human_bytes(size)
                ));
                device::probe(&path)?
            }
        };
        targets.push(device::open(&probe)?);
    }

    let threads = args.threads.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let ctx = Ctx {
        key: &key,
        mac,
        journal_dir: journal_folder.path.clone(),
        cert_dirs: evidence::fallbacks(cert_dir, Some(&journal_folder.path)),
        config: &config,
        io: IoConfig {
            buffer_size: usize::try_from(args.buffer_size)
                .unwrap_or(usize::MAX)
                .min(1 << 30),
            queue_depth: usize::from(args.queue_depth),
            budget: FillBudget::new(threads),
            retries: args.retries,
            on_error: match args.on_error {
                Some(OnErrorArg::Abort) => OnError::Abort,
                Some(OnErrorArg::Continue) => OnError::Continue,
                None => policy.on_error,
            },
            watchdog: Some(writer::Watchdog {
                floor: args.slow_floor.max(0.0) * 1e6,
                window: std::time::Duration::from_secs_f64(args.slow_window.clamp(0.1, 1e9)),
                stop: args.fail_slow,
            }),
            ..IoConfig::default()
        },
        args,
        signals,
    };

    // 6. All targets at once, one thread each; the exit code is the worst.
    let codes: Vec<Exit> = std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .into_iter()
            .zip(plans.into_iter().zip(journals).zip(reserves))
            .map(|(t, ((p, j), reserve))| {
                let (ctx, reporter) = (&ctx, &reporter);
                s.spawn(move || {
                    let name = t.probe.path.display().to_string();
                    let rep = reporter.target(&name);
                    let code = match wipe_one(&t, &p, j, reserve, ctx, &rep) {
                        Ok(v) => v,
                        Err(e) => {
                            rep.say(&format!("error: {e:#}"));
                            reporter.emit(&Event::Error(event::TargetError {
                                target: name.clone(),
                                error: format!("{e:#}"),
                            }));
                            Exit::Failed
                        }
                    };
                    rep.finish();
                    code
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Exit::Failed))
            .collect()
    });
    // Each target decided its own code once (130 if it was interrupted); a signal that came
    // after every target had settled interrupted nothing.
    Ok(Exit::worst(codes))
}

fn describe(r: &Resolved) -> String {
    match r {
        Resolved::ToCreate { path, size } => {
            format!(
                "{}: new image file, {} ({size} bytes)",
                path.display(),
                human_bytes(*size)
            )
        }
        Resolved::Existing(p) => {
            let mut s = format!(
                "{}: {} {}, {} ({} bytes), {}-byte blocks",
                p.path.display(),
                if p.kind == Kind::Block {
                    "block device"
                } else {
                    "image file"
                },
                p.identity.interface,
                human_bytes(p.size),
                p.size,
                p.logical_block_size
            );
            let id = &p.identity;
            if !id.model.is_empty() || !id.serial.is_empty() {
                s += &format!(", model '{}' serial '{}'", id.model, id.serial);
            }
            if !id.backing.is_empty() {
                s += &format!(", on {}", id.backing);
            }
            s
        }
    }
}

fn confirm(resolved: &[Resolved]) -> anyhow::Result<()> {
    let first = resolved
        .first()
        .map(Resolved::path)
        .unwrap_or(Path::new(""));
    let lines: Vec<String> = resolved.iter().map(describe).collect();
    super::confirm(first, &lines)
}

fn print_plan(r: &Resolved, plan: &Plan, cert_dir: &Path, reporter: &Reporter) {
    let (path, size) = match r {
        Resolved::Existing(p) => (&p.path, p.size),
        Resolved::ToCreate { path, size } => (path, *size),
    };
    let verify = match plan.verify_mode {
        VerifyMode::Sample => format!(
            "sampled, at least {} % of the last pass",
            plan.verify_percent
        ),
        VerifyMode::Full => "full read-back of the last pass".into(),
        VerifyMode::None => "none (the result will be INCOMPLETE, not PASS)".into(),
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
            dry_run: true,
        }));
        return;
    }
    outln!("dry run, nothing is written: {}", describe(r));
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

/// A pass as planned: its pattern, generator and seed, no results yet.
fn planned(p: &PassPlan) -> PassRecord {
    let (pattern_bytes, prng, seed, inverted) = match &p.pattern {
        Pattern::Fixed(b) => (Some(cert::hex(b)), None, None, false),
        Pattern::Random {
            prng,
            seed,
            inverted,
        } => (
            None,
            Some(prng.name().to_string()),
            Some(cert::hex(seed)),
            *inverted,
        ),
    };
    PassRecord {
        index: p.index,
        pattern: p.pattern.describe(),
        pattern_bytes,
        prng,
        seed,
        inverted,
        ..Default::default()
    }
}

fn pass_record(p: &PassPlan, r: &writer::PassReport) -> PassRecord {
    PassRecord {
        bytes_written: r.bytes_written,
        started: cert::timestamp(r.started),
        finished: cert::timestamp(r.finished),
        bytes_per_second: (r.bytes_written as f64 / r.elapsed.as_secs_f64().max(1e-9)).round(),
        errors: r.errors.clone(),
        retries: r.retries,
        recovered: r.recovered,
        aborted: r.aborted,
        gave_up: r.gave_up,
        slow: r.slow.clone(),
        slow_stopped: r.slow_stopped,
        flush_error: r.flush_error.clone(),
        interrupted: r.interrupted,
        ..planned(p)
    }
}

fn wipe_one(
    t: &Target,
    plan: &Plan,
    resume: Option<Journal>,
    mut reserve: Reserve,
    ctx: &Ctx,
    rep: &TargetReporter,
) -> anyhow::Result<Exit> {
    let size = t.size();
    let started = SystemTime::now();
    let name = t.probe.path.display().to_string();
    // The journal is on disk before the first byte is written.
    let jpath = journal::path_for(
        &ctx.journal_dir,
        &MediaKey::of(&t.probe),
        &t.probe.canonical,
    );
    let resumed = resume.is_some();
    let mut j = match resume {
        Some(mut j) => {
            j.events.push(format!(
                "resumed {} {}",
                cert::timestamp(started),
                where_(&j)
            ));
            j.resume_points.push((j.position.pass, j.position.offset));
            rep.say(&format!("resuming {}", where_(&j)));
            j
        }
        None => Journal {
            format: journal::FORMAT.into(),
            target: t.probe.canonical.display().to_string(),
            media: MediaKey::of(&t.probe),
            policy: policy_ref(&plan.policy),
            plan: plan.passes.iter().map(planned).collect(),
            done: vec![],
            position: Position {
                pass: 1,
                ..Position::default()
            },
            verify_mode: plan.verify_mode.name().into(),
            verify_percent: plan.verify_percent,
            verify_seed: cert::hex(&plan.verify_seed),
            buffer_size: ctx.io.buffer_size as u64,
            started: cert::timestamp(started),
            events: vec![],
            resume_points: vec![],
        },
    };
    journal::save(&jpath, &j, &ctx.mac)?;
    // Resumed passes keep the chunk boundaries of the run that began them.
    let io = IoConfig {
        buffer_size: usize::try_from(j.buffer_size).unwrap_or(ctx.io.buffer_size),
        ..ctx.io.clone()
    };
    let every =
        std::time::Duration::from_secs_f64(ctx.args.checkpoint_interval.clamp(0.05, 3600.0));
    rep.reporter().emit(&Event::Start(event::WipeStart {
        target: name.clone(),
        kind: t.probe.kind.name().into(),
        size_bytes: size,
        policy: plan.policy.name.clone(),
        passes: plan.passes.len(),
        verify: plan.verify_mode.name().into(),
        resumed,
        journal: jpath.clone(),
    }));

    let hidden_before = hidden::read(&t.probe, t.file(), transport(ctx.args));
    if let hidden::Outcome::Read(_, why) = &hidden_before {
        for w in why {
            rep.say(&format!(
                "warning: {w}; those sectors cannot be overwritten and the result will be FAIL"
            ));
        }
    }
    let mut records = j.done.clone();
    let first_pass = j.position.pass;
    let hold = ctx.args.seams.hold();
    let signals = &ctx.signals;
    // Whether a signal cut this wipe short: decided from what the stages did, at their
    // boundaries, and never read again after the last stage. Journal kept, INCOMPLETE and exit
    // 130 all follow from this one value.
    let mut interrupted = false;
    for p in plan.passes.iter().filter(|p| p.index >= first_pass) {
        signals.hold(hold, &format!("pass-start:{}", p.index));
        if signals.cancelled() {
            interrupted = true;
            break;
        }
        let (start, prior_errors, prior_written) = if p.index == j.position.pass {
            (
                j.position.offset,
                j.position.errors.clone(),
                j.position.bytes_written,
            )
        } else {
            (0, vec![], 0)
        };
        rep.start(
            "pass",
            p.index,
            plan.passes.len(),
            &p.pattern.describe(),
            size,
        );
        let idx = p.index;
        // Where a resume would continue this pass: this run's durable progress on top of
        // what an earlier run of it had done.
        let resume_point = |d: &Durable| Position {
            pass: idx,
            offset: d.offset,
            errors: prior_errors.iter().chain(&d.errors).cloned().collect(),
            bytes_written: prior_written + d.bytes_written,
        };
        let mut journal_failed = false;
        let r = {
            let mut save = |d: &Durable| {
                j.position = resume_point(d);
                if journal::save(&jpath, &j, &ctx.mac).is_err() {
                    journal_failed = true;
                }
                signals.hold(hold, &format!("checkpoint:{idx}"));
            };
            let mut on_slow = |why: &str| {
                let stopping = if ctx.args.fail_slow {
                    "; stopping it (--fail-slow)"
                } else {
                    ""
                };
                rep.say(&format!("warning: pass {idx} is slow: {why}{stopping}"));
                rep.reporter().emit(&Event::Slow(event::Slow {
                    target: name.clone(),
                    pass: idx,
                    detail: why.to_string(),
                    stopping: ctx.args.fail_slow,
                }));
            };
            let ck = Checkpoints {
                start,
                every,
                save: &mut save,
                on_slow: &mut on_slow,
            };
            writer::run_pass_from(
                t,
                &p.pattern,
                &io,
                &signals.cancel,
                &mut |d| rep.progress(start + d),
                ck,
            )
        };
        if journal_failed {
            rep.say(&format!(
                "warning: cannot update the journal {}; an interruption could not be resumed",
                jpath.display()
            ));
        }
        let mut rec = pass_record(p, &r);
        // A resumed pass: the bytes and errors below its start came from the earlier run.
        rec.bytes_written += prior_written;
        rec.errors = prior_errors.iter().cloned().chain(rec.errors).collect();
        if r.interrupted {
            j.position = resume_point(&r.durable);
        } else {
            j.done.push(rec.clone());
            j.position = Position {
                pass: idx + 1,
                ..Position::default()
            };
        }
        // After the first byte a journal that cannot be written is a warning, never a reason
        // to lose the certificate: the journal on disk stays at its last good state.
        if journal::save(&jpath, &j, &ctx.mac).is_err() && !journal_failed {
            rep.say(&format!(
                "warning: cannot update the journal {}; an interruption could not be resumed from here",
                jpath.display()
            ));
        }
        let complete = rec.bytes_written == size
            && rec.errors.is_empty()
            && rec.flush_error.is_none()
            && !rec.interrupted;
        rep.say(&format!(
            "pass {}/{} {}: {} written in {:.1} s ({}){}",
            p.index,
            plan.passes.len(),
            rec.pattern,
            human_bytes(r.bytes_written),
            r.elapsed.as_secs_f64(),
            human_rate(rec.bytes_per_second),
            if complete {
                String::new()
            } else {
                " - INCOMPLETE".into()
            }
        ));
        rep.reporter().emit(&Event::PassDone(event::PassDone {
            target: name.clone(),
            pass: p.index,
            passes: plan.passes.len(),
            pattern: rec.pattern.clone(),
            bytes_written: r.bytes_written,
            bytes_per_second: rec.bytes_per_second,
            errors: rec.errors.len(),
            complete,
        }));
        // Unwritable blocks do not stop the wipe (unless --on-error abort): the other passes and
        // the verification still run, so the certificate lists everything that failed.
        let stop = r.interrupted || r.aborted || r.gave_up || r.slow_stopped;
        interrupted |= r.interrupted;
        records.push(rec);
        signals.hold(hold, &format!("pass-end:{}", p.index));
        if stop {
            break;
        }
    }

    let all_written = records.len() == plan.passes.len()
        && records
            .iter()
            .all(|r| !r.interrupted && !r.aborted && !r.gave_up && !r.slow_stopped);
    let mut verification = cert::Verification {
        method: plan.verify_mode.name().into(),
        pass: plan.passes.len(),
        algorithm: "mediasan-sample/1 (subsections, ChaCha8 slot draw; see README)".into(),
        seed: cert::hex(&plan.verify_seed),
        requested_percent: plan.verify_percent,
        ..Default::default()
    };
    let verify_now = plan.verify_mode != VerifyMode::None && all_written;
    if verify_now {
        signals.hold(hold, "verify-start");
    }
    if verify_now && signals.cancelled() {
        // Stopped before verification began: it did not run, so this is never PASS; a resume
        // starts at the verification.
        interrupted = true;
        verification.interrupted = true;
    } else if verify_now {
        let samples = match plan.verify_mode {
            VerifyMode::Full => verify::full_plan(
                size,
                writer::chunk_size(ctx.io.buffer_size, t.block_size(), None) as u64,
            ),
            _ => {
                // The seams of a resumed last pass are read too (where a journal claiming bytes
                // never written would show), and recorded so `verify --cert` reads them again.
                let last = plan.passes.len();
                let points: Vec<u64> = j
                    .resume_points
                    .iter()
                    .filter(|(p, _)| *p == last)
                    .map(|(_, o)| *o)
                    .collect();
                let window = writer::chunk_size(
                    io.buffer_size,
                    t.block_size(),
                    plan.final_pattern().period(),
                )
                .min(4 << 20) as u64;
                let extra = verify::seams(&points, window, t.block_size(), size);
                verification.resume_checks = extra
                    .iter()
                    .map(|e| cert::ByteRange {
                        offset: e.offset,
                        length: e.len,
                    })
                    .collect();
                if !extra.is_empty() {
                    verification.algorithm +=
                        " + the seams of the resumed last pass (verification.resume_checks)";
                }
                verify::sample_plan(size, t.block_size(), plan.verify_percent, &plan.verify_seed)
                    .with_extra(&extra, size)
            }
        };
        if plan.verify_mode == VerifyMode::Full {
            verification.algorithm = "whole target in order".into();
        }
        let planned = samples.extents.bytes();
        rep.start("verify", 0, 0, plan.verify_mode.name(), planned);
        let r = verify::run(
            t,
            &samples,
            plan.final_pattern(),
            &ctx.io,
            &signals.cancel,
            &mut |d| rep.progress(d),
        );
        interrupted |= r.interrupted;
        verification.subsections = samples.subsections;
        verification.sample_bytes = samples.sample_bytes;
        verification.samples = samples.extents.len();
        verification.coverage_percent = (samples.coverage_percent * 1000.0).round() / 1000.0;
        verification.bytes_planned = planned;
        verification.bytes_read = r.bytes_read;
        verification.mismatches = r.mismatched_blocks;
        verification.first_mismatch_offset = r.first_mismatch;
        verification.blake3 = r.blake3.clone();
        verification.errors = r.errors.clone();
        verification.interrupted = r.interrupted;
        verification.started = cert::timestamp(r.started);
        verification.finished = cert::timestamp(r.finished);
        verification.bytes_per_second =
            (r.bytes_read as f64 / r.elapsed.as_secs_f64().max(1e-9)).round();
        rep.say(&format!(
            "verify {}: {} read in {:.1} s ({}), {} mismatched block(s), blake3 {}",
            plan.verify_mode.name(),
            human_bytes(r.bytes_read),
            r.elapsed.as_secs_f64(),
            human_rate(verification.bytes_per_second),
            r.mismatched_blocks,
            r.blake3.get(..16).unwrap_or("(none: incomplete read)")
        ));
        rep.reporter().emit(&Event::VerifyDone(event::VerifyDone {
            target: name.clone(),
            method: verification.method.clone(),
            bytes_read: r.bytes_read,
            coverage_percent: verification.coverage_percent,
            mismatches: r.mismatched_blocks,
            first_mismatch_offset: r.first_mismatch,
            errors: r.errors.len(),
            blake3: r.blake3.clone(),
            bytes_per_second: verification.bytes_per_second,
            recheck: None,
        }));
        signals.hold(hold, "verify-end");
    }
    // The outcome is settled: from here on a signal changes nothing (a second one kills the
    // process; the journal on disk is then still valid).
    signals.hold(hold, "settled");

    let hidden_after = matches!(hidden_before, hidden::Outcome::Read(..))
        .then(|| hidden::read(&t.probe, t.file(), transport(ctx.args)));
    let hidden = hidden_record(&hidden_before, hidden_after);
    let finished = SystemTime::now();
    if interrupted {
        j.events.push(format!(
            "interrupted {} {}",
            cert::timestamp(SystemTime::now()),
            where_(&j)
        ));
        if let Err(e) = journal::save(&jpath, &j, &ctx.mac) {
            rep.say(&format!(
                "warning: {e}; the journal keeps its last checkpoint, which is still safe to resume from"
            ));
        }
    }
    let outcome = Outcome {
        passes: records,
        verification,
        hidden,
        started,
        finished,
    };
    let c = build_certificate(t, plan, ctx, outcome, &j.events, interrupted);
    reserve.release();
    let stored = super::store_certificate(&c, &ctx.cert_dirs, ctx.key, rep.reporter())?;
    let (path, sig_path) = (stored.json.clone(), stored.sig.clone());
    signals.hold(hold, "certified");
    if interrupted {
        rep.say(&format!(
            "the journal is kept: continue with `mediasan wipe {name} --resume`"
        ));
    } else if path.is_some() {
        // Finished (PASS or FAIL) with a certificate on disk: nothing left to resume.
        journal::remove(&jpath);
    }
    rep.say(&format!(
        "{}{} - certificate {}",
        c.result.name(),
        if c.reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.reasons.join("; "))
        },
        path.as_deref()
            .map_or("printed above (no folder took it)".into(), |p| p
                .display()
                .to_string())
    ));
    rep.reporter().emit(&Event::Result(event::Outcome {
        target: name.clone(),
        result: c.result.name().into(),
        reasons: c.reasons.clone(),
        certificate: path,
        signature: sig_path,
        id: c.id.clone(),
    }));
    Ok(Exit::of(c.result, interrupted))
}

/// What one target's wipe did, for its certificate.
struct Outcome {
    passes: Vec<PassRecord>,
    verification: cert::Verification,
    hidden: cert::HiddenAreas,
    started: SystemTime,
    finished: SystemTime,
}

fn build_certificate(
    t: &Target,
    plan: &Plan,
    ctx: &Ctx,
    outcome: Outcome,
    events: &[String],
    interrupted: bool,
) -> Certificate {
    let Outcome {
        passes,
        verification,
        hidden,
        started,
        finished,
    } = outcome;
    let p = &t.probe;
    let id = &p.identity;
    let mut id_bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut id_bytes);
    let mut notes: Vec<String> = Vec::new();
    notes.push(
        "Overwrite is NIST SP 800-88 Rev. 2 Clear: it rewrites every user-addressable block through the host \
         interface. It is not Purge."
            .into(),
    );
    match p.kind {
        Kind::Image => notes.push(
            "Image file: this covers the file's blocks as the filesystem maps them now; the filesystem, or an SSD \
             beneath it, may keep older copies of the data elsewhere."
                .into(),
        ),
        Kind::Block if id.media_type != "hdd" && id.interface != "loop" => notes.push(
            "On flash media an overwrite cannot reach spare, remapped or over-provisioned cells; prefer a Purge \
             (the drive's sanitize command) where the drive supports it."
                .into(),
        ),
        Kind::Block => {}
    }
    if !t.direct_io {
        notes.push("The filesystem refused direct I/O: writes were buffered, flushed with fdatasync, and the page \
                    cache dropped before verification."
            .into());
    }
    if plan.policy.legacy {
        notes.push(format!(
            "Policy {} is a legacy multi-pass preset; NIST SP 800-88 Rev. 2 considers one verified pass sufficient \
             for Clear.",
            plan.policy.name
        ));
    }
    if ctx.signals.hung_up() {
        notes.push(
            "The terminal hung up (SIGHUP) during the wipe; it went on to the end without it."
                .into(),
        );
    }
    notes.extend(ctx.args.record.note.iter().cloned());
    let mut c = Certificate {
        format: cert::FORMAT.into(),
        id: cert::new_id(id_bytes),
        tool: cert::Tool::this(),
        host: cert::Host::this(),
        media: cert::Media {
            path: p.canonical.display().to_string(),
            kind: p.kind.name().into(),
            identity: id.clone(),
            size_bytes: p.size,
            logical_block_size: p.logical_block_size,
            physical_block_size: p.physical_block_size,
            direct_io: t.direct_io,
            hidden_areas: hidden,
            ..cert::Media::default()
        },
        sanitization: cert::Sanitization {
            method: "clear".into(),
            technique: "overwrite".into(),
            policy: policy_ref(&plan.policy),
            passes,
            started: cert::timestamp(started),
            finished: cert::timestamp(finished),
            duration_seconds: cert::seconds_between(started, finished),
            resumed: events.to_vec(),
            command: None,
        },
        verification,
        notes,
        ..Certificate::default()
    };
    super::apply_record(&mut c, &ctx.args.record, ctx.config);
    let (verdict, reasons) = cert::judge(&c, plan.passes.len(), interrupted);
    c.result = verdict;
    c.reasons = reasons;
    c.recommendation = cert::recommend(&c);
    c
}

/// "pass 2 of 3 at byte 123" or "verification", for messages.
fn where_(j: &Journal) -> String {
    if j.position.pass > j.plan.len() {
        "at verification".into()
    } else {
        format!(
            "pass {} of {} at byte {}",
            j.position.pass,
            j.plan.len(),
            j.position.offset
        )
    }
}

fn policy_ref(p: &Policy) -> cert::PolicyRef {
    cert::PolicyRef {
        name: p.name.clone(),
        description: p.description.clone(),
        reference: p.reference.clone(),
        legacy: p.legacy,
        source: p.source.clone(),
        blake3: p.blake3.clone(),
    }
}

/// The plan a journal recorded: the same policy (unchanged), passes, seeds and sample seed.
fn plan_from_journal(j: &Journal) -> anyhow::Result<Plan> {
    let source = if j.policy.source == "built-in" {
        &j.policy.name
    } else {
        &j.policy.source
    };
    let policy = policy::load(source)?;
    if policy.blake3 != j.policy.blake3 {
        return Err(Error::Usage(format!(
            "policy {source} changed since the wipe began (its BLAKE3 differs); restore it, or start over with --restart"
        ))
        .into());
    }
    let damaged = || {
        Error::Usage(format!(
            "the journal of {} is damaged; start over with --restart",
            j.target
        ))
    };
    let passes = j
        .plan
        .iter()
        .map(|r| {
            let pattern = r.pattern()?;
            let spec = match &pattern {
                Pattern::Fixed(b) => PassSpec::Bytes(b.clone()),
                Pattern::Random { inverted: true, .. } => PassSpec::Complement,
                Pattern::Random { .. } => PassSpec::Random,
            };
            Some(PassPlan {
                index: r.index,
                spec,
                pattern,
            })
        })
        .collect::<Option<Vec<_>>>()
        .filter(|v| !v.is_empty())
        .ok_or_else(damaged)?;
    Ok(Plan {
        policy,
        passes,
        verify_mode: VerifyMode::parse(&j.verify_mode).ok_or_else(damaged)?,
        verify_percent: j.verify_percent,
        verify_seed: cert::unhex(&j.verify_seed)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(damaged)?,
    })
}

fn transport(args: &WipeArgs) -> hidden::Transport {
    match args.transport {
        TransportArg::Auto => hidden::Transport::Auto,
        TransportArg::Ata => hidden::Transport::Ata,
    }
}

/// The certificate's hidden-area record from what was read before and after.
fn hidden_record(before: &hidden::Outcome, after: Option<hidden::Outcome>) -> cert::HiddenAreas {
    match before {
        hidden::Outcome::NotApplicable(why) => cert::HiddenAreas {
            state: "not_applicable".into(),
            detail: why.clone(),
            ..Default::default()
        },
        hidden::Outcome::Unknown(why) => cert::HiddenAreas {
            state: "unknown".into(),
            detail: why.clone(),
            ..Default::default()
        },
        hidden::Outcome::Read(b, why) => {
            let after = match after {
                Some(hidden::Outcome::Read(a, _)) => Some(a),
                _ => None,
            };
            let left = after
                .as_ref()
                .map_or(b.hidden_sectors, |a| a.hidden_sectors);
            cert::HiddenAreas {
                state: if left > 0 || b.hidden_sectors > 0 {
                    "present"
                } else {
                    "none"
                }
                .into(),
                detail: if why.is_empty() {
                    format!(
                        "no hidden sectors: {} addressable sectors are all the drive reports",
                        b.sectors
                    )
                } else {
                    why.join("; ")
                },
                before: Some(b.clone()),
                after,
            }
        }
    }
}
