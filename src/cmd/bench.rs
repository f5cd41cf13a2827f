//! `mediasan bench --include PATTERN`: drives are sanitized as they are plugged in, each on its
//! own thread and certified the moment it finishes, until Ctrl-C. The loop
//! (`session::bench::serve`), a few times a second: what is plugged in (a `/sys/block` scan,
//! at once after a kernel uevent, else every two seconds) → drives that went away (pulled
//! while working: stopped as a signal stops a wipe, INCOMPLETE, journal kept) → new drives the
//! selection names (settle, probe, refuse what is in use) → each started through `sanitize`'s
//! flow for one target → finished drives' results and lights → the screen. Ctrl-C/SIGTERM: no
//! new work, every drive stopped at a safe point, the session's summary, exit 130. SIGHUP (the
//! terminal went away) without `--unattended`: no new work, the drives being worked on finish
//! and are certified, then the same end.

use std::path::Path;
use std::sync::Arc;

use crate::bench::board::Board;
use crate::bench::screen::Screen;
use crate::bench::tally;
use crate::bench::watch;
use crate::cli::BenchArgs;
use crate::error::Exit;
use crate::event::{self, BenchEnd, Event};
use crate::progress::Reporter;
use crate::settings;

use crate::session::bench::serve;
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
    for w in req.selection.never() {
        reporter.say(&format!("warning: {w}"));
    }
    let ears = serve::listen(&req, &reporter);
    let title = format!(
        "mediasan bench: {} | policy {} | certificates {}",
        req.selection.describe(),
        req.sanitize.wipe.policy.name,
        req.sanitize.wipe.cert_dir.display()
    );
    // What is plugged in now (the uevents from here on are already heard).
    let initial = watch::scan(Path::new("/sys"), Path::new("/dev"));
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
    let mut draw = || {
        if let Some(sc) = screen.as_mut() {
            sc.draw(&title, &board.snapshot());
        }
    };
    let served = serve::serve(&req, &session, &reporter, &board, initial, &ears, &mut draw);
    drop(ears);
    drop(screen);
    let ended = if session.signals.cancelled() {
        BenchEnd::Signal
    } else {
        BenchEnd::Hangup
    };
    summary(
        &reporter,
        &tally::tally(&served.runs, &served.refused),
        ended,
    );
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
