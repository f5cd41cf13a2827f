//! Clear by overwrite, for one opened target: the library flow every front end calls (`wipe`
//! today; bench mode and the fleet plug-ins later). It runs the passes the plan says (from the
//! journal's position when resuming), checkpoints durable progress into the journal, reads the
//! hidden-area limits before and after, verifies the last pass, and returns what happened as
//! the certificate's records.
//!
//! Whether a signal cut the work short is decided here, once, from what the stages did at
//! their boundaries (before each pass, a pass cut short, before or during the verification),
//! and never read again after the last stage: the journal kept, the INCOMPLETE result and exit
//! 130 all follow from [`ClearOutcome::interrupted`].

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::cert::build::{hidden_record, ClearOutcome};
use crate::cert::{self, ByteRange, PassRecord, Segment, Verification};
use crate::device::passthrough::Passthrough;
use crate::device::{hidden, BlockIo, Probe};
use crate::error::{Error, Result};
use crate::event::Observer;
use crate::event::{self, Event};
use crate::journal::{self, Journal, MacKey, MediaKey, Position};
use crate::pattern::Pattern;
use crate::plan::{PassPlan, Plan};
use crate::policy::{self, PassSpec, VerifyMode};
use crate::signals::Signals;
use crate::units::{human_bytes, human_rate};
use crate::verify;
use crate::writer::{self, Checkpoints, Durable, IoConfig, PassReport};

/// One target's overwrite, ready to run.
pub struct Job<'a> {
    /// Where the bytes go (a [`crate::device::Target`], or a memory device in tests).
    pub target: &'a dyn BlockIo,
    /// What was probed and confirmed: the target's identity.
    pub probe: &'a Probe,
    /// The drive's command door, for the hidden-area queries (its open descriptor).
    pub drive: &'a dyn Passthrough,
    pub plan: &'a Plan,
    /// A fresh journal ([`new_journal`]) or the one being resumed ([`resume_journal`]).
    pub journal: Journal,
    pub resumed: bool,
    pub journal_path: PathBuf,
    pub mac: &'a MacKey,
    /// The pipeline; its buffer size is the journal's (resumed passes keep their chunks).
    pub io: IoConfig,
    pub checkpoint: Duration,
    pub transport: hidden::Transport,
    /// `--fail-slow`, for what the watchdog says.
    pub fail_slow: bool,
    /// What the verification of a resumed wipe reads of the part written before an
    /// interruption.
    pub after_resume: policy::AfterResume,
    /// The `--test-hold` seam (test builds only).
    pub hold: Option<&'a str>,
}

/// A pass as planned: its pattern, generator and seed, no results yet.
pub fn planned(p: &PassPlan) -> PassRecord {
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

fn pass_record(p: &PassPlan, r: &PassReport) -> PassRecord {
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
        zones_reset: r.zones_reset,
        ..planned(p)
    }
}

/// "pass 2 of 3 at byte 123" or "at verification", for messages.
pub fn where_(j: &Journal) -> String {
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

/// The journal of a new wipe of the medium `probe` with `plan`.
pub fn new_journal(probe: &Probe, plan: &Plan, buffer_size: usize, started: SystemTime) -> Journal {
    Journal {
        format: journal::FORMAT.into(),
        target: probe.canonical.display().to_string(),
        media: MediaKey::of(probe),
        policy: plan.policy.reference(),
        plan: plan.passes.iter().map(planned).collect(),
        done: vec![],
        position: Position {
            pass: 1,
            ..Position::default()
        },
        verify_mode: plan.verify_mode.name().into(),
        verify_percent: plan.verify_percent,
        verify_seed: cert::hex(&plan.verify_seed),
        buffer_size: buffer_size as u64,
        started: cert::timestamp(started),
        events: vec![],
        resume_points: vec![],
        certificates: vec![],
        record: None,
        cert_dir: None,
        held_until: cert::timestamp(started),
        gaps: vec![],
    }
}

/// A journal being resumed now: the resumption recorded, with its position, and the gap since
/// a run last held the medium.
pub fn resume_journal(mut j: Journal, now: SystemTime) -> Journal {
    j.events
        .push(format!("resumed {} {}", cert::timestamp(now), where_(&j)));
    j.resume_points.push((j.position.pass, j.position.offset));
    j.gaps.push(cert::Gap {
        from: std::mem::take(&mut j.held_until),
        to: cert::timestamp(now),
        pass: j.position.pass,
        offset: j.position.offset,
    });
    j.held_until = cert::timestamp(now);
    j
}

/// The plan a journal recorded: the same policy (unchanged), passes, seeds and sample seed.
///
/// # Errors
/// [`Error::Usage`] if the policy changed or the journal's plan cannot be read.
pub fn plan_from_journal(j: &Journal) -> Result<Plan> {
    let source = if j.policy.source == "built-in" {
        &j.policy.name
    } else {
        &j.policy.source
    };
    let policy = policy::load(source)?;
    if policy.blake3 != j.policy.blake3 {
        return Err(Error::Usage(format!(
            "policy {source} changed since the wipe began (its BLAKE3 differs); restore it, or start over with --restart"
        )));
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

/// The running state of one target's overwrite.
struct Run<'a, 'j> {
    job: &'j Job<'a>,
    journal: Journal,
    signals: &'j Signals,
    obs: &'j dyn Observer,
    name: String,
    /// This target's medium was found gone after failed writes (other targets of the same
    /// command share `signals`, so this is kept here, not there).
    gone: bool,
}

impl Run<'_, '_> {
    fn hold(&self, point: &str) {
        self.signals.hold(self.job.hold, point);
    }

    /// Saves the journal; after the first byte a failure is a warning (the journal on disk
    /// keeps its last good state), never a reason to lose the certificate.
    fn save(&mut self) {
        self.journal.held_until = cert::timestamp(SystemTime::now());
        if let Err(e) = journal::save(&self.job.journal_path, &self.journal, self.job.mac) {
            self.obs.say(&format!(
                "warning: {e}; an interruption can only resume from the last saved checkpoint"
            ));
        }
    }

    /// Runs pass `p` (from the journal's position if it is the pass being resumed).
    fn pass(&mut self, p: &PassPlan) -> (PassRecord, PassReport) {
        let (job, size) = (self.job, self.job.target.size());
        let (start, prior_errors, prior_written, prior_segments) =
            if p.index == self.journal.position.pass {
                let pos = &self.journal.position;
                (
                    pos.offset,
                    pos.errors.clone(),
                    pos.bytes_written,
                    pos.segments.clone(),
                )
            } else {
                (0, vec![], 0, vec![])
            };
        let began = SystemTime::now();
        // This run's stretch of the pass, after the earlier runs' ones.
        let segments = |bytes: u64, end: SystemTime| -> Vec<Segment> {
            let mut all = prior_segments.clone();
            all.push(Segment {
                started: cert::timestamp(began),
                finished: cert::timestamp(end),
                from_offset: start,
                bytes_written: bytes,
                seconds: end.duration_since(began).unwrap_or_default().as_secs_f64(),
            });
            all
        };
        let count = job.plan.passes.len();
        self.obs
            .stage("pass", p.index, count, &p.pattern.describe(), size);
        let idx = p.index;
        // Where a resume would continue this pass: this run's durable progress on top of
        // what an earlier run of it had done.
        let resume_point = |d: &Durable| Position {
            pass: idx,
            offset: d.offset,
            errors: prior_errors.iter().chain(&d.errors).cloned().collect(),
            bytes_written: prior_written + d.bytes_written,
            segments: segments(d.bytes_written, SystemTime::now()),
        };
        let mut r = {
            let (journal, obs, name) = (&mut self.journal, self.obs, &self.name);
            let mut save = |d: &Durable| {
                journal.position = resume_point(d);
                journal.held_until = cert::timestamp(SystemTime::now());
                if let Err(e) = journal::save(&job.journal_path, journal, job.mac) {
                    obs.say(&format!("warning: {e}; this checkpoint is not recorded"));
                }
                self.signals.hold(job.hold, &format!("checkpoint:{idx}"));
            };
            let mut on_slow = |why: &str| {
                let stopping = if job.fail_slow {
                    "; stopping it (--fail-slow)"
                } else {
                    ""
                };
                obs.say(&format!("warning: pass {idx} is slow: {why}{stopping}"));
                obs.event(&Event::Slow(event::Slow {
                    target: name.clone(),
                    pass: idx,
                    detail: why.to_string(),
                    stopping: job.fail_slow,
                }));
            };
            let ck = Checkpoints {
                start,
                every: job.checkpoint,
                save: &mut save,
                on_slow: &mut on_slow,
            };
            let cancel = &self.signals.cancel;
            writer::run_pass_from(
                job.target,
                &p.pattern,
                &job.io,
                cancel,
                &mut |d| obs.progress(start + d),
                ck,
            )
        };
        // Errors because the medium went away (pulled, dropped off the bus): the pass is
        // cut short, not failed, and a later run continues it from its durable point.
        if !r.interrupted && self.pulled(&r) {
            r.interrupted = true;
        }
        let mut rec = pass_record(p, &r);
        // A resumed pass: the bytes, errors and time below its start came from earlier runs.
        rec.bytes_written += prior_written;
        rec.errors = prior_errors.iter().cloned().chain(rec.errors).collect();
        rec.segments = segments(r.bytes_written, r.finished);
        if let Some(s) = rec.segments.last_mut() {
            s.started = cert::timestamp(r.started);
            s.seconds = r.elapsed.as_secs_f64();
        }
        if let Some(first) = rec.segments.first() {
            rec.started = first.started.clone();
        }
        let busy: f64 = rec.segments.iter().map(|s| s.seconds).sum();
        rec.bytes_per_second = (rec.bytes_written as f64 / busy.max(1e-9)).round();
        if r.interrupted {
            self.journal.position = resume_point(&r.durable);
        } else {
            self.journal.done.push(rec.clone());
            self.journal.position = Position {
                pass: idx + 1,
                ..Position::default()
            };
        }
        self.save();
        (rec, r)
    }

    /// True when the medium was removed: the session said so, or a pass that met errors
    /// finds it gone from the system (a removal is seen by the kernel within a moment of the
    /// first failed write; a failing drive that stays is not "removed").
    fn pulled(&mut self, r: &PassReport) -> bool {
        if self.signals.removed() {
            return true;
        }
        let errors = !r.errors.is_empty() || r.gave_up || r.aborted || r.flush_error.is_some();
        if errors && crate::device::gone(self.job.probe, Duration::from_secs(2)) {
            self.gone = true;
        }
        self.gone
    }

    /// Tells people and scripts how a pass went.
    fn report_pass(&self, rec: &PassRecord, r: &PassReport) {
        let size = self.job.target.size();
        let count = self.job.plan.passes.len();
        let complete = rec.bytes_written == size
            && rec.errors.is_empty()
            && rec.flush_error.is_none()
            && !rec.interrupted;
        // This run's bytes at this run's rate; a resumed pass says how much it holds in all.
        let this_run = r.bytes_written as f64 / r.elapsed.as_secs_f64().max(1e-9);
        let written = if r.bytes_written == rec.bytes_written {
            format!("{} written", human_bytes(r.bytes_written))
        } else {
            format!(
                "{} written by this run ({} of the pass in all)",
                human_bytes(r.bytes_written),
                human_bytes(rec.bytes_written)
            )
        };
        let line = format!(
            "pass {}/{count} {}: {written} in {:.1} s ({}){}",
            rec.index,
            rec.pattern,
            r.elapsed.as_secs_f64(),
            human_rate(this_run),
            match () {
                _ if complete => String::new(),
                _ if rec.interrupted => " - interrupted".into(),
                _ if !rec.errors.is_empty() =>
                    format!(" - {} range(s) could not be written", rec.errors.len()),
                _ if rec.flush_error.is_some() => " - the flush failed".into(),
                _ => " - not every byte was written".into(),
            }
        );
        // A pass that did not complete is news even where the bar shows it.
        if complete {
            self.obs.note(&line);
        } else {
            self.obs.say(&line);
        }
        self.obs.event(&Event::PassDone(event::PassDone {
            target: self.name.clone(),
            pass: rec.index,
            passes: count,
            pattern: rec.pattern.clone(),
            bytes_written: r.bytes_written,
            bytes_per_second: rec.bytes_per_second,
            errors: rec.errors.len(),
            complete,
        }));
    }

    /// Every pass from the journal's position on; true if a signal cut them short.
    fn passes(&mut self, records: &mut Vec<PassRecord>) -> bool {
        let first = self.journal.position.pass;
        for p in self.job.plan.passes.iter().filter(|p| p.index >= first) {
            self.hold(&format!("pass-start:{}", p.index));
            if self.signals.cancelled() {
                return true;
            }
            let (rec, r) = self.pass(p);
            self.report_pass(&rec, &r);
            records.push(rec);
            self.hold(&format!("pass-end:{}", p.index));
            if r.interrupted {
                return true;
            }
            // Unwritable blocks do not stop the wipe (unless --on-error abort): the other
            // passes and the verification still run, so the certificate lists everything.
            if r.aborted || r.gave_up || r.slow_stopped {
                return false;
            }
        }
        false
    }

    /// What the verification reads: everything, or the drawn samples plus, for a resumed wipe,
    /// what its interruptions call for (recorded in `v.resume_checks`, in the order they are
    /// placed, so `verify --cert` reads them too): the seams of a resumed last pass (where a
    /// journal that claimed too much would show), the first and last MiB in full (where other
    /// software writes on its own while the medium is out of mediasan's hands), and the rest of
    /// the subsection where the last pass was cut, when the drawn samples fall short of the
    /// policy's percentage of the part written before. A resumed wipe whose verification is
    /// `none` still reads those; one asked to (`after_resume = "full"`) reads everything.
    fn samples(&self, v: &mut Verification) -> verify::Samples {
        let (t, plan, size) = (self.job.target, self.job.plan, self.job.target.size());
        let resumed = !self.journal.resume_points.is_empty();
        if plan.verify_mode == VerifyMode::Full
            || (resumed && self.job.after_resume == policy::AfterResume::Full)
        {
            if plan.verify_mode != VerifyMode::Full {
                v.method = VerifyMode::Full.name().into();
                v.algorithm = "whole target in order (a resumed wipe: after_resume = full)".into();
            } else {
                v.algorithm = "whole target in order".into();
            }
            return verify::full_plan(
                size,
                writer::chunk_size(self.job.io.buffer_size, t.block_size(), None) as u64,
            );
        }
        let last = plan.passes.len();
        let points: Vec<u64> = self
            .journal
            .resume_points
            .iter()
            .filter(|(p, _)| *p == last)
            .map(|(_, o)| *o)
            .collect();
        let period = plan.final_pattern().period();
        let window =
            writer::chunk_size(self.job.io.buffer_size, t.block_size(), period).min(4 << 20) as u64;
        let mut extra = verify::seams(&points, window, t.block_size(), size);
        let base = if plan.verify_mode == VerifyMode::None {
            verify::no_samples(t.block_size())
        } else {
            verify::sample_plan(size, t.block_size(), plan.verify_percent, &plan.verify_seed)
        };
        if resumed {
            extra.extend(verify::edges(size, t.block_size()));
            // The part of the last pass written before the latest interruption (all of it
            // when the wipe was cut at its verification).
            let upto = self
                .journal
                .resume_points
                .iter()
                .filter(|(p, _)| *p >= last)
                .map(|(p, o)| if *p > last { size } else { *o })
                .max();
            if plan.verify_mode == VerifyMode::Sample {
                extra.extend(upto.and_then(|u| {
                    verify::top_up(&base, size, t.block_size(), u, plan.verify_percent)
                }));
            }
        }
        v.resume_checks = extra
            .iter()
            .map(|e| ByteRange {
                offset: e.offset,
                length: e.len,
            })
            .collect();
        if resumed {
            v.algorithm +=
                " + what a resumed wipe reads (verification.resume_checks: the seams of \
                            a resumed last pass, the first and last MiB, the part written before)";
        }
        base.with_extra(&extra, size)
    }

    /// Reads the last pass back. Returns the record and whether a signal cut it short
    /// (stopped before it began counts: it did not run, so this is never PASS).
    fn verify(&self, all_written: bool) -> (Verification, bool) {
        let plan = self.job.plan;
        let mut v = Verification {
            method: plan.verify_mode.name().into(),
            pass: plan.passes.len(),
            algorithm:
                "mediasan-sample/1 (subsections, ChaCha8 slot draw; see docs/certificates.md)"
                    .into(),
            seed: cert::hex(&plan.verify_seed),
            requested_percent: plan.verify_percent,
            ..Default::default()
        };
        // A resumed wipe reads what its interruptions call for even when the policy says not
        // to verify (see `samples`).
        let resumed = !self.journal.resume_points.is_empty();
        if (plan.verify_mode == VerifyMode::None && !resumed) || !all_written {
            return (v, false);
        }
        if plan.verify_mode == VerifyMode::None {
            v.algorithm = "none".into();
        }
        self.hold("verify-start");
        if self.signals.cancelled() {
            v.interrupted = true;
            return (v, true);
        }
        let samples = self.samples(&mut v);
        let planned = samples.extents.bytes();
        self.obs
            .stage("verify", 0, 0, plan.verify_mode.name(), planned);
        let r = verify::run(
            self.job.target,
            &samples,
            plan.final_pattern(),
            &self.job.io,
            &self.signals.cancel,
            &mut |d| self.obs.progress(d),
        );
        v.subsections = samples.subsections;
        v.sample_bytes = samples.sample_bytes;
        v.samples = samples.extents.len();
        v.coverage_percent = (samples.coverage_percent * 1000.0).round() / 1000.0;
        v.bytes_planned = planned;
        v.bytes_read = r.bytes_read;
        v.mismatches = r.mismatched_blocks;
        v.first_mismatch_offset = r.first_mismatch;
        v.blake3 = r.blake3.clone();
        v.errors = r.errors.clone();
        v.interrupted = r.interrupted;
        v.started = cert::timestamp(r.started);
        v.finished = cert::timestamp(r.finished);
        v.bytes_per_second = (r.bytes_read as f64 / r.elapsed.as_secs_f64().max(1e-9)).round();
        self.report_verify(&v);
        self.hold("verify-end");
        (v, r.interrupted)
    }

    fn report_verify(&self, v: &Verification) {
        self.obs.say(&format!(
            "verify {}: {} read ({}), {} mismatched block(s), blake3 {}",
            v.method,
            human_bytes(v.bytes_read),
            human_rate(v.bytes_per_second),
            v.mismatches,
            v.blake3.get(..16).unwrap_or("(none: incomplete read)")
        ));
        self.obs.event(&Event::VerifyDone(event::VerifyDone {
            target: self.name.clone(),
            method: v.method.clone(),
            bytes_read: v.bytes_read,
            coverage_percent: v.coverage_percent,
            mismatches: v.mismatches,
            first_mismatch_offset: v.first_mismatch_offset,
            errors: v.errors.len(),
            blake3: v.blake3.clone(),
            bytes_per_second: v.bytes_per_second,
            recheck: None,
        }));
    }
}

/// Runs one target's overwrite. Returns its outcome and the journal as it ends.
///
/// # Errors
/// Only before the first byte: the journal cannot be written.
pub fn run(job: Job, signals: &Signals, obs: &dyn Observer) -> Result<(ClearOutcome, Journal)> {
    // A resumed wipe began when its first run did.
    let started = if job.resumed {
        humantime::parse_rfc3339(&job.journal.started).unwrap_or_else(|_| SystemTime::now())
    } else {
        SystemTime::now()
    };
    let (t, probe) = (job.target, job.probe);
    // The journal is on disk before the first byte is written.
    journal::save(&job.journal_path, &job.journal, job.mac)?;
    if job.resumed {
        obs.say(&format!("resuming {}", where_(&job.journal)));
    }
    let mut run = Run {
        journal: job.journal.clone(),
        job: &job,
        signals,
        obs,
        name: probe.path.display().to_string(),
        gone: false,
    };
    obs.event(&Event::Start(event::WipeStart {
        target: run.name.clone(),
        kind: probe.kind.name().into(),
        size_bytes: t.size(),
        policy: job.plan.policy.name.clone(),
        passes: job.plan.passes.len(),
        verify: job.plan.verify_mode.name().into(),
        resumed: job.resumed,
        journal: job.journal_path.clone(),
    }));
    let verify_bytes = match job.plan.verify_mode {
        VerifyMode::None => 0,
        VerifyMode::Full => t.size(),
        VerifyMode::Sample => t.size() / 100 * u64::from(job.plan.verify_percent),
    };
    obs.work(job.plan.passes.len(), t.size(), verify_bytes);
    let hidden_before = hidden::read(probe, job.drive, job.transport);
    let force_ata = job.transport == hidden::Transport::Ata;
    let health_before = crate::device::health::read(probe, job.drive, force_ata);
    if let hidden::Outcome::Read(_, why) = &hidden_before {
        for w in why {
            obs.say(&format!(
                "warning: {w}; those sectors cannot be overwritten and the result will be FAIL"
            ));
        }
    }
    let mut passes = run.journal.done.clone();
    let mut interrupted = run.passes(&mut passes);
    let all_written = passes.len() == job.plan.passes.len()
        && passes
            .iter()
            .all(|r| !r.interrupted && !r.aborted && !r.gave_up && !r.slow_stopped);
    let (mut verification, cut) = run.verify(all_written);
    interrupted |= cut;
    if all_written && t.zones().is_some() {
        verification.zones = verify::zone_check(t);
    }
    // The outcome is settled: from here on a signal changes nothing (a second one kills the
    // process; the journal on disk is then still valid).
    run.hold("settled");
    let hidden_after = matches!(hidden_before, hidden::Outcome::Read(..))
        .then(|| hidden::read(probe, job.drive, job.transport));
    let readable = !matches!(health_before.state.as_str(), "not_applicable" | "unknown");
    let health = crate::cert::HealthRecord {
        after: readable.then(|| crate::device::health::read(probe, job.drive, force_ata)),
        before: Some(health_before),
    };
    let pulled = signals.removed() || run.gone;
    if interrupted {
        let at = where_(&run.journal);
        run.journal.events.push(format!(
            "{} {} {at}",
            if pulled {
                "removed (the drive was pulled)"
            } else {
                "interrupted"
            },
            cert::timestamp(SystemTime::now())
        ));
        run.save();
    }
    let outcome = ClearOutcome {
        passes,
        verification,
        hidden: hidden_record(&hidden_before, hidden_after),
        health,
        started,
        finished: SystemTime::now(),
        events: run.journal.events.clone(),
        interrupted,
        pulled: interrupted && pulled,
        hung_up: signals.hung_up(),
        supersedes: run.journal.certificates.clone(),
        gaps: run.journal.gaps.clone(),
        policy: job.plan.policy.reference(),
        limits: job.plan.policy.health.clone(),
        planned_passes: job.plan.passes.len(),
    };
    Ok((outcome, run.journal))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::mem::MemDevice;
    use crate::device::nvme::AdminCmd;
    use crate::device::passthrough::DataDir;
    use crate::device::{FileId, Identity, Kind};
    use crate::event::Observer;
    use crate::plan::Overrides;
    use crate::progress::Quiet;
    use std::sync::atomic::Ordering;

    /// No drive behind it (an image has no hidden areas to ask about).
    struct NoDrive;

    impl Passthrough for NoDrive {
        fn nvme(&self, _: &AdminCmd, _: &mut [u8]) -> std::io::Result<(u16, u32)> {
            Err(std::io::Error::other("no drive"))
        }
        fn scsi(
            &self,
            _: &[u8],
            _: DataDir,
            _: &mut [u8],
            _: u32,
        ) -> std::io::Result<(u8, Vec<u8>)> {
            Err(std::io::Error::other("no drive"))
        }
    }

    fn probe(size: u64) -> Probe {
        Probe {
            path: "/mem/t.img".into(),
            canonical: "/mem/t.img".into(),
            kind: Kind::Image,
            size,
            logical_block_size: 4096,
            physical_block_size: 4096,
            read_only: false,
            devno: None,
            identity: Identity::default(),
            id: FileId::default(),
            backing_id: None,
            born_ns: None,
            handle: None,
        }
    }

    fn plan(policy: &str, verify: VerifyMode) -> Plan {
        let policy = crate::policy::load(policy).unwrap();
        let o = Overrides {
            verify: Some(verify),
            verify_percent: Some(20),
        };
        crate::plan::build(&policy, &o, &mut rand::rng())
    }

    fn io() -> IoConfig {
        IoConfig {
            buffer_size: 64 << 10,
            queue_depth: 2,
            ..IoConfig::default()
        }
    }

    fn run_job(
        dev: &MemDevice,
        p: &Probe,
        plan: &Plan,
        journal: Journal,
        resumed: bool,
        signals: &Signals,
        obs: &dyn Observer,
    ) -> (ClearOutcome, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let mac = MacKey::for_tests(7);
        let job = Job {
            target: dev,
            probe: p,
            drive: &NoDrive,
            plan,
            journal,
            resumed,
            journal_path: dir.path().join("j.json"),
            mac: &mac,
            io: io(),
            checkpoint: Duration::from_millis(1),
            transport: hidden::Transport::Auto,
            fail_slow: false,
            after_resume: policy::AfterResume::Sample,
            hold: None,
        };
        run(job, signals, obs).unwrap()
    }

    fn expected(plan: &Plan, size: usize) -> Vec<u8> {
        let mut v = vec![0u8; size];
        plan.final_pattern().fill_at(&mut v, 0);
        v
    }

    #[test]
    fn a_fresh_overwrite_writes_every_pass_and_verifies() {
        let size = 1 << 20;
        let (dev, p) = (MemDevice::new(size, 4096, 0xEE), probe(size as u64));
        let plan = plan("hmg-is5-enhanced", VerifyMode::Full);
        let j = new_journal(&p, &plan, 64 << 10, SystemTime::now());
        let (o, j) = run_job(&dev, &p, &plan, j, false, &Signals::default(), &Quiet);
        assert!(!o.interrupted);
        assert_eq!(o.passes.len(), 3);
        assert!(o.passes.iter().all(|r| r.bytes_written == size as u64));
        assert_eq!(o.verification.bytes_read, size as u64);
        assert_eq!(o.verification.mismatches, 0);
        assert_eq!(j.position.pass, 4, "the journal is at the end");
        assert_eq!(dev.contents(), expected(&plan, size));
        assert_eq!(o.hidden.state, "not_applicable");
    }

    /// A host-managed zoned device: each pass resets every sequential zone and writes it in
    /// order (the device refuses any other write), the read-back matches, and the zone report
    /// after the last pass shows every sequential zone full.
    #[test]
    fn a_zoned_device_is_overwritten_and_its_zones_checked() {
        let size = 1 << 20;
        let dev = MemDevice::zoned(size, 4096, 64 << 10, 2, 0xEE);
        let p = probe(size as u64);
        let plan = plan("hmg-is5-enhanced", VerifyMode::Full);
        let j = new_journal(&p, &plan, 64 << 10, SystemTime::now());
        let (o, _) = run_job(&dev, &p, &plan, j, false, &Signals::default(), &Quiet);
        assert!(o
            .passes
            .iter()
            .all(|r| r.bytes_written == size as u64 && r.errors.is_empty()));
        assert!(
            o.passes.iter().all(|r| r.zones_reset == 14),
            "{:?}",
            o.passes
        );
        assert_eq!(o.verification.mismatches, 0);
        let z = o
            .verification
            .zones
            .as_ref()
            .expect("the zone report is read");
        assert_eq!((z.zones, z.sequential), (16, 14));
        assert!(z.not_full.is_empty() && z.error.is_none(), "{z:?}");
        assert_eq!(dev.contents(), expected(&plan, size));
        // A regular device has no zone check.
        let dev = MemDevice::new(size, 4096, 0xEE);
        let j = new_journal(&p, &plan, 64 << 10, SystemTime::now());
        let (o, _) = run_job(&dev, &p, &plan, j, false, &Signals::default(), &Quiet);
        assert_eq!(o.verification.zones, None);
        assert!(o.passes.iter().all(|r| r.zones_reset == 0));
    }

    #[test]
    fn a_resume_continues_from_the_journals_offset_and_reads_its_seam() {
        let size = 1 << 20;
        let p = probe(size as u64);
        let plan = plan("nist-clear", VerifyMode::Sample);
        // An earlier run wrote the first 256 KiB of the only pass, then stopped.
        let at = 256 << 10;
        let mut first = vec![0xEEu8; size];
        plan.final_pattern().fill_at(&mut first[..at], 0);
        let dev = MemDevice::new(size, 4096, 0);
        dev.write_at(&first, 0).unwrap();
        let mut j = new_journal(&p, &plan, 64 << 10, SystemTime::now());
        j.position.offset = at as u64;
        j.position.bytes_written = at as u64;
        let j = resume_journal(j, SystemTime::now());
        let (o, _) = run_job(&dev, &p, &plan, j, true, &Signals::default(), &Quiet);
        assert!(!o.interrupted);
        assert_eq!(
            o.passes[0].bytes_written, size as u64,
            "the earlier run's bytes count"
        );
        assert_eq!(
            dev.contents(),
            expected(&plan, size),
            "nothing written twice or missed"
        );
        let seam = o.verification.resume_checks[0];
        assert!(seam.offset < at as u64 && (at as u64) < seam.offset + seam.length);
        assert!(o.events.iter().any(|e| e.starts_with("resumed")));
        // Not written before the journal's offset: the journal claimed too much, and the
        // seam catches it.
        let dev = MemDevice::new(size, 4096, 0);
        let mut j = new_journal(&p, &plan, 64 << 10, SystemTime::now());
        j.position.offset = at as u64;
        j.position.bytes_written = at as u64;
        let (o, _) = run_job(
            &dev,
            &p,
            &plan,
            resume_journal(j, SystemTime::now()),
            true,
            &Signals::default(),
            &Quiet,
        );
        assert!(o.verification.mismatches > 0, "{:?}", o.verification);
    }

    /// Raises the cancel flag as soon as the last pass is reported done.
    struct CancelAfterLastPass<'a>(&'a Signals, usize);

    impl Observer for CancelAfterLastPass<'_> {
        fn say(&self, _: &str) {}
        fn event(&self, e: &Event) {
            if let Event::PassDone(p) = e {
                if p.pass == self.1 {
                    self.0.cancel.store(true, Ordering::Relaxed);
                }
            }
        }
        fn stage(&self, _: &'static str, _: usize, _: usize, _: &str, _: u64) {}
        fn progress(&self, _: u64) {}
    }

    #[test]
    fn a_cancel_after_the_last_chunk_stops_before_verification_and_is_never_pass() {
        let size = 1 << 20;
        let (dev, p) = (MemDevice::new(size, 4096, 0xEE), probe(size as u64));
        let plan = plan("nist-clear", VerifyMode::Full);
        let signals = Signals::default();
        let j = new_journal(&p, &plan, 64 << 10, SystemTime::now());
        let (o, j) = run_job(
            &dev,
            &p,
            &plan,
            j,
            false,
            &signals,
            &CancelAfterLastPass(&signals, 1),
        );
        assert!(!o.passes[0].interrupted, "the pass itself finished");
        assert!(o.interrupted, "but the work was cut short");
        assert!(o.verification.interrupted && o.verification.bytes_read == 0);
        assert_eq!(j.position.pass, 2, "a resume starts at the verification");
        assert!(o.events.iter().any(|e| e.starts_with("interrupted")));
        let c = crate::cert::build::clear(&p, true, o, &crate::cert::Record::default());
        assert_eq!(c.result, crate::cert::Verdict::Incomplete);
    }
}
