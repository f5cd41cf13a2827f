//! Signals during a sanitization. SIGINT and SIGTERM ask the flow to stop at the next safe
//! point (a second one kills at once, exit 130: the journal is still valid). SIGHUP (a terminal
//! or SSH session that went away) does not stop anything: the work goes on to its certificate,
//! and the hang-up is noted in it. Output to the vanished terminal is dropped (`term`).
//!
//! The flags are *read* by the flow only at stage boundaries, and the decision "interrupted or
//! not" is taken once from what the stages did, never re-read afterwards.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The flags the signal handlers set.
#[derive(Clone, Debug, Default)]
pub struct Signals {
    /// SIGINT or SIGTERM arrived: stop at the next safe point.
    pub cancel: Arc<AtomicBool>,
    /// SIGHUP arrived: the terminal is gone; go on.
    pub hangup: Arc<AtomicBool>,
    /// The medium was removed while it was worked on (pulled from a bench, or gone from the
    /// system): the work stops as for a signal, and the certificate says so.
    pub removed: Arc<AtomicBool>,
    /// Test builds only: SIGUSR1 arrived, which releases a `--test-hold` without the meaning
    /// of any other signal (cleared when a hold starts).
    pub proceed: Arc<AtomicBool>,
    /// Test builds only: the points already held (each is held once: a point reached again,
    /// such as a checkpoint after the signal that released it, goes on).
    pub held: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Signals {
    /// Installs the handlers (once per command, after the confirmation).
    pub fn install() -> Signals {
        let s = Signals::default();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // A second signal while we are stopping kills the process the ordinary way.
            let _ =
                signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&s.cancel));
            let _ = signal_hook::flag::register(sig, Arc::clone(&s.cancel));
        }
        let _ = signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&s.hangup));
        #[cfg(any(debug_assertions, feature = "test-seams"))]
        let _ = signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(&s.proceed));
        s
    }

    /// True once SIGINT or SIGTERM arrived.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// True once the medium was found removed.
    pub fn removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }

    /// Stops one medium's work because it was removed (a bench saw it pulled).
    pub fn remove(&self) {
        self.removed.store(true, Ordering::Relaxed);
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// The flags of one medium in a session of many (`bench`): stopped on its own (the
    /// session stops each one on SIGINT), the session's hang-up shared.
    pub fn for_medium(&self) -> Signals {
        Signals {
            cancel: Arc::default(),
            hangup: Arc::clone(&self.hangup),
            removed: Arc::default(),
            proceed: Arc::clone(&self.proceed),
            held: Arc::clone(&self.held),
        }
    }

    /// True once SIGHUP arrived.
    pub fn hung_up(&self) -> bool {
        self.hangup.load(Ordering::Relaxed)
    }

    /// The `--test-hold` seam (debug builds only; `want` is always `None` in a release build):
    /// the first time the flow reaches `point`, if it is the one asked for, print `{"event":"test_hold","point":...}` on
    /// stdout and wait (at most two minutes) for any signal, so a test can deliver one exactly
    /// at this stage boundary, or act on the system there and let it go on with SIGUSR1.
    pub fn hold(&self, want: Option<&str>, point: &str) {
        if want != Some(point) {
            return;
        }
        {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            if held.iter().any(|h| h == point) {
                return;
            }
            held.push(point.to_string());
        }
        self.proceed.store(false, Ordering::Relaxed);
        let (c0, h0) = (self.cancelled(), self.hung_up());
        crate::term::out(
            &crate::event::Event::TestHold {
                point: point.to_string(),
            }
            .line(),
        );
        let start = Instant::now();
        while self.cancelled() == c0
            && self.hung_up() == h0
            && !self.proceed.load(Ordering::Relaxed)
            && start.elapsed() < Duration::from_secs(120)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
