//! Progress and events for people and scripts. Bars (indicatif) go to stderr only when it is a
//! terminal; `--json` writes newline-delimited JSON events to stdout, progress at most once a
//! second per target. The core (`writer`, `verify`) knows none of this: it calls a closure.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::event::Event;
use crate::term::Screen;

/// Shared output for one command.
pub struct Reporter {
    multi: Option<MultiProgress>,
    screen: Screen,
    json: bool,
    stdout: Mutex<()>,
}

impl Reporter {
    /// Bars if stderr is a smart terminal; JSON events if `json`.
    pub fn new(json: bool) -> Self {
        let screen = crate::term::stderr_screen();
        let multi = screen
            .smart
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4)));
        Reporter {
            multi,
            screen,
            json,
            stdout: Mutex::new(()),
        }
    }

    /// The end-of-run summary table, on stderr (in colour on a terminal that shows it).
    pub fn summary(&self, rows: &[crate::summary::Row]) {
        let plain = crate::summary::table(rows, self.screen.width);
        let text = if self.screen.colour {
            crate::summary::colour(&plain)
        } else {
            plain
        };
        // Cells are escaped by the table; the colour codes are ours.
        match &self.multi {
            Some(m) => m.suspend(|| crate::term::err(&text)),
            None => crate::term::err(&text),
        }
    }

    /// True when JSON events are on.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Writes one JSON event line to stdout (only with `--json`); a closed stdout is ignored.
    pub fn emit(&self, event: &Event) {
        if !self.json {
            return;
        }
        let _guard = self.stdout.lock();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", event.line());
        let _ = out.flush();
    }

    /// A line for people, on stderr, without tearing the bars.
    pub fn say(&self, text: &str) {
        match &self.multi {
            Some(m) => m.suspend(|| errln!("{text}")),
            None => errln!("{text}"),
        }
    }

    /// A reporter for one target.
    pub fn target(&self, name: &str) -> TargetReporter<'_> {
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new(0));
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix:.bold} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_prefix(crate::term::escape(name).into_owned());
            b
        });
        TargetReporter {
            r: self,
            name: name.to_string(),
            bar,
            stage: Mutex::new(Stage::default()),
        }
    }
}

#[derive(Default)]
struct Stage {
    kind: &'static str,
    index: usize,
    count: usize,
    total: u64,
    started: Option<Instant>,
    last_event: Option<Instant>,
}

/// Progress of one target.
pub struct TargetReporter<'a> {
    r: &'a Reporter,
    name: String,
    bar: Option<ProgressBar>,
    stage: Mutex<Stage>,
}

impl TargetReporter<'_> {
    /// The shared reporter.
    pub fn reporter(&self) -> &Reporter {
        self.r
    }

    /// The target's name as given (events carry it raw; lines for people escape it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A stage starts: pass `index` of `count`, or verification (`kind = "verify"`).
    pub fn start(&self, kind: &'static str, index: usize, count: usize, label: &str, total: u64) {
        let mut s = self.stage.lock().unwrap_or_else(|p| p.into_inner());
        *s = Stage {
            kind,
            index,
            count,
            total,
            started: Some(Instant::now()),
            last_event: None,
        };
        if let Some(b) = &self.bar {
            b.reset();
            b.set_length(total);
            b.set_message(if kind == "pass" {
                format!("pass {index}/{count} {label}")
            } else {
                format!("verify {label}")
            });
        }
    }

    /// Bytes done so far in this stage.
    pub fn progress(&self, done: u64) {
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
        if !self.r.json {
            return;
        }
        let mut s = self.stage.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if s.last_event
            .is_some_and(|t| now - t < Duration::from_secs(1))
        {
            return;
        }
        s.last_event = Some(now);
        let secs = s.started.map(|t| (now - t).as_secs_f64()).unwrap_or(0.0);
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let eta = if rate > 0.0 {
            Some((s.total.saturating_sub(done)) as f64 / rate)
        } else {
            None
        };
        self.r.emit(&Event::Progress(crate::event::Progress {
            target: self.name.clone(),
            stage: s.kind.to_string(),
            pass: s.index,
            passes: s.count,
            bytes_done: done,
            bytes_total: s.total,
            bytes_per_second: rate.round(),
            eta_seconds: eta.map(|e| e.round()),
        }));
    }

    /// A human line about this target.
    pub fn say(&self, text: &str) {
        self.r.say(&format!("{}: {text}", self.name));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// What a library flow tells the person and the script running it about one target: lines
/// for people, events for scripts, and the progress of each stage. The flows (`clear`,
/// `purge::flow`) call this and know nothing of bars or terminals.
pub trait Observer: Sync {
    /// A line for people about this target.
    fn say(&self, text: &str);
    /// An event for scripts (`--json`).
    fn event(&self, e: &Event);
    /// A stage starts: pass `index` of `count`, a verification or a purge, `total` units.
    fn stage(&self, kind: &'static str, index: usize, count: usize, label: &str, total: u64);
    /// Units done so far in this stage.
    fn progress(&self, done: u64);
}

impl Observer for TargetReporter<'_> {
    fn say(&self, text: &str) {
        TargetReporter::say(self, text);
    }
    fn event(&self, e: &Event) {
        self.r.emit(e);
    }
    fn stage(&self, kind: &'static str, index: usize, count: usize, label: &str, total: u64) {
        self.start(kind, index, count, label, total);
    }
    fn progress(&self, done: u64) {
        TargetReporter::progress(self, done);
    }
}

/// An observer that tells nobody anything (tests, library use).
pub struct Quiet;

impl Observer for Quiet {
    fn say(&self, _: &str) {}
    fn event(&self, _: &Event) {}
    fn stage(&self, _: &'static str, _: usize, _: usize, _: &str, _: u64) {}
    fn progress(&self, _: u64) {}
}
