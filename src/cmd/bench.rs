//! `mediasan bench --include PATTERN`: drives are sanitized as they are plugged in, each on its
//! own thread and certified the moment it finishes, until Ctrl-C. The loop, a few times a
//! second: what is plugged in (a `/sys/block` scan, at once after a kernel uevent, else every
//! two seconds) → drives that went away (pulled while working: stopped as a signal stops a
//! wipe, INCOMPLETE, journal kept) → new drives the selection names (settle, probe, refuse
//! what is in use) → each started through `sanitize`'s flow for one target → finished drives'
//! results and lights → the screen. Ctrl-C/SIGTERM: no new work, every drive stopped at a safe
//! point, the session's summary, exit 130. SIGHUP (the terminal went away) without
//! `--unattended`: no new work, the drives being worked on finish and are certified, then the
//! same end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::bench::board::Board;
use crate::bench::screen::Screen;
use crate::bench::tally;
use crate::bench::watch;
use crate::cli::BenchArgs;
use crate::error::Exit;
use crate::event::{self, BenchEnd, Event};
use crate::progress::Reporter;
use crate::settings;

use crate::session::bench::{Bench, Known, TICK};
use crate::session::open_session;

pub fn run(args: &BenchArgs) -> anyhow::Result<Exit> {
    let req = settings::Bench::new(args)?;
    if !req.yes {
        confirm(&req)?;
    }
    let screen_wanted = !req.events && crate::term::stderr_screen().smart;
    let board = Arc::new(Board::new(!screen_wanted));
    let reporter = Reporter::tapped(
        req.events,
        req.sanitize.wipe.progress_interval,
        board.clone(),
    );
    let (session, _) = open_session(&req.sanitize.wipe, 0, &reporter)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let stop_listening = Arc::new(AtomicBool::new(false));
    let listening = if req.uevents {
        watch::listen(tx, stop_listening.clone()).map_err(|e| e.to_string())
    } else {
        Err("--test-no-uevents".into())
    };
    if let Err(e) = listening {
        reporter.say(&format!(
            "no kernel uevents ({e}): looking for drives every {} s instead",
            watch::RESCAN.as_secs()
        ));
    }
    let title = format!(
        "mediasan bench: {} | policy {} | certificates {}",
        req.selection.describe(),
        req.sanitize.wipe.policy.name,
        req.sanitize.wipe.cert_dir.display()
    );
    let sys = std::path::Path::new("/sys");
    let dev = std::path::Path::new("/dev");
    // What is plugged in now (the uevents from here on are already heard).
    let initial = watch::scan(sys, dev);
    reporter.say(&format!(
        "{title}: waiting for drives{}",
        if req.existing {
            ""
        } else {
            " (those plugged in now are left alone; --existing takes them)"
        }
    ));
    let mut screen = if screen_wanted {
        Some(Screen::open()?)
    } else {
        None
    };
    let mut runs: Vec<tally::Run> = Vec::new();
    let mut refused: Vec<tally::Refusal> = Vec::new();
    std::thread::scope(|s| {
        let mut bench = Bench {
            req: &req,
            session: &session,
            reporter: &reporter,
            board: &board,
            known: BTreeMap::new(),
            refused: Vec::new(),
        };
        if req.existing {
            // Taken as if just plugged in: only what the selection names, after the settle.
            bench.reconcile(initial);
        } else {
            for d in initial {
                bench.known.insert(d.names.kernel.clone(), Known::Before(d));
            }
        }
        let mut last_scan = Instant::now();
        let mut stopping = false;
        // The terminal went away (SIGHUP) and the bench is not `--unattended`: nobody watches
        // it any more, so it takes no new drive; what runs finishes and is certified.
        let mut closing = false;
        loop {
            // Each uevent goes to the session log (`--log`), the trail of what was plugged
            // in and pulled; what to do is decided by the scan it triggers.
            let mut hint = false;
            let mut note = |u: watch::Uevent| {
                hint = true;
                crate::term::log(&crate::term::escape(&format!(
                    "uevent: {} /dev/{}",
                    u.action, u.name
                )));
            };
            if let Ok(u) = rx.recv_timeout(TICK) {
                note(u);
            }
            while let Ok(u) = rx.try_recv() {
                note(u);
            }
            if hint || last_scan.elapsed() >= watch::RESCAN {
                last_scan = Instant::now();
                bench.reconcile(watch::scan(sys, dev));
            }
            if !stopping && session.signals.cancelled() {
                stopping = true;
                board.stopping();
                reporter.say("stopping: no new drives; each drive's work stops at a safe point");
                bench.stop_all();
            }
            if !stopping && !closing && !req.unattended && session.signals.hung_up() {
                closing = true;
                board.stopping();
                reporter.say(&format!(
                    "the terminal went away (SIGHUP): no new drive is taken; the {} being worked on \
                     finish and are certified, then the bench ends (--unattended keeps a bench \
                     going without its terminal)",
                    bench.working()
                ));
            }
            if !stopping && !closing {
                bench.start_settled(s);
            }
            runs.extend(bench.reap());
            if let Some(sc) = screen.as_mut() {
                sc.draw(&title, &board.snapshot());
            }
            if (stopping || closing) && !bench.any_working() {
                break;
            }
        }
        refused = std::mem::take(&mut bench.refused);
    });
    stop_listening.store(true, Ordering::Relaxed);
    drop(screen);
    let ended = if session.signals.cancelled() {
        BenchEnd::Signal
    } else {
        BenchEnd::Hangup
    };
    summary(&reporter, &tally::tally(&runs, &refused), ended);
    Ok(Exit::Interrupted)
}

/// The one question before a bench starts (unless `--yes`): it destroys whatever is plugged in
/// that matches, without asking again.
fn confirm(req: &settings::Bench) -> anyhow::Result<()> {
    let lines = vec![format!(
        "every drive plugged in from now on that matches: {}{}",
        req.selection.describe(),
        if req.existing {
            " (and those that match now: --existing)"
        } else {
            ""
        }
    )];
    let about = vec![
        format!(
            "policy: {} ({})",
            req.sanitize.wipe.policy.name, req.sanitize.wipe.policy.description
        ),
        format!("certificates: {}", req.sanitize.wipe.cert_dir.display()),
        "each drive starts without another question".into(),
    ];
    super::confirm(std::path::Path::new("bench"), &lines, &about)
}

/// The session's end: one row per drive (its latest run; the refused ones too), what was
/// superseded, and the `bench_summary` event.
fn summary(reporter: &Reporter, t: &tally::Tally, ended: BenchEnd) {
    let interrupted = ended == BenchEnd::Signal;
    if t.rows.is_empty() {
        reporter.say("bench: no drive was worked on");
    } else {
        reporter.summary(&t.rows);
    }
    if !t.superseded.is_empty() {
        let list: Vec<String> = t
            .superseded
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        crate::term::err(&crate::term::escape(&format!(
            "superseded by a later run of the same drive: {}",
            list.join(", ")
        )));
    }
    let line = t
        .counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    crate::term::err(&crate::term::escape(&format!(
        "bench ended ({}): {}, {}{}",
        match ended {
            BenchEnd::Signal => "Ctrl-C",
            BenchEnd::Hangup => "its terminal went away",
        },
        plural(t.media, "drive"),
        plural(t.certificates.len(), "certificate"),
        if line.is_empty() {
            String::new()
        } else {
            format!("; {line}")
        }
    )));
    reporter.emit(&Event::BenchSummary(event::BenchSummary {
        counts: t.counts.clone(),
        media: t.media,
        certificates: t.certificates.clone(),
        superseded: t.superseded.clone(),
        refused: t
            .refused
            .iter()
            .map(|r| event::DriveRefused {
                target: r.target.clone(),
                reason: r.reason.clone(),
            })
            .collect(),
        interrupted,
        ended,
    }));
}
