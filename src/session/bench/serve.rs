//! The bench's loop, a few times a second until it is told to stop: the kernel's uevents
//! heard (each one logged), what is plugged in scanned (at once after a uevent, else every
//! [`watch::RESCAN`]) and reconciled, a signal stopping every drive at a safe point, a hang-up
//! (without `--unattended`) letting the drives being worked on finish, the settled drives
//! started, the finished ones reaped, the screen drawn.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use crate::bench::board::Board;
use crate::bench::tally;
use crate::bench::watch::{self, Disk, Uevent};
use crate::progress::Reporter;
use crate::settings;

use super::{Bench, Known, TICK};
use crate::session::Session;

/// The kernel's uevents as they come (none with `--test-no-uevents`, or where the kernel does
/// not send them: the bench then scans on its own); dropped, it stops listening.
pub(crate) struct Ears {
    uevents: Receiver<Uevent>,
    stop: Arc<AtomicBool>,
}

impl Drop for Ears {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts listening for uevents, saying so when the bench has to scan on its own instead.
pub(crate) fn listen(req: &settings::Bench, reporter: &Reporter) -> Ears {
    let (tx, uevents) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let listening = if req.uevents {
        watch::listen(tx, stop.clone()).map_err(|e| e.to_string())
    } else {
        Err("--test-no-uevents".into())
    };
    if let Err(e) = listening {
        reporter.say(&format!(
            "no kernel uevents ({e}): looking for drives every {} s instead",
            watch::RESCAN.as_secs()
        ));
    }
    Ears { uevents, stop }
}

/// What a bench session did: every run (a drive's work) and every drive not taken.
pub(crate) struct Served {
    pub(crate) runs: Vec<tally::Run>,
    pub(crate) refused: Vec<tally::Refusal>,
}

/// Runs the bench until a signal (or a hang-up) and its drives have stopped. `initial`: what
/// was plugged in when it started, taken only with `--existing`; `draw`: the screen, each tick.
pub(crate) fn serve(
    req: &settings::Bench,
    session: &Session,
    reporter: &Reporter,
    board: &Board,
    initial: Vec<Disk>,
    ears: &Ears,
    draw: &mut dyn FnMut(),
) -> Served {
    let (sys, dev) = (std::path::Path::new("/sys"), std::path::Path::new("/dev"));
    let mut runs: Vec<tally::Run> = Vec::new();
    let refused = std::thread::scope(|s| {
        let mut bench = Bench {
            req,
            session,
            reporter,
            board,
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
            if heard(&ears.uevents) || last_scan.elapsed() >= watch::RESCAN {
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
            draw();
            if (stopping || closing) && !bench.any_working() {
                break;
            }
        }
        std::mem::take(&mut bench.refused)
    });
    Served { runs, refused }
}

/// Waits up to a [`TICK`] for uevents and takes all that came; each goes to the session log
/// (`--log`), the trail of what was plugged in and pulled. Whether any came: what to do is
/// decided by the scan it triggers.
fn heard(uevents: &Receiver<Uevent>) -> bool {
    let note = |u: Uevent| {
        crate::term::log(&crate::term::escape(&format!(
            "uevent: {} /dev/{}",
            u.action, u.name
        )));
    };
    let mut any = false;
    if let Ok(u) = uevents.recv_timeout(TICK) {
        note(u);
        any = true;
    }
    while let Ok(u) = uevents.try_recv() {
        note(u);
        any = true;
    }
    any
}
