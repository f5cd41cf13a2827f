//! Progress and events for people and scripts. On a smart terminal: one bar per target, in
//! target order, as wide as the terminal, with the rate and ETA of the whole wipe (all passes
//! and the verification; after a resume, the rate of this run, not of the jump to where the
//! last run stopped). Elsewhere (a pipe, a file, cron, `TERM=dumb`): a plain line per target
//! every `--progress-interval`; the session log gets those lines too. `--json` writes
//! newline-delimited events to stdout, progress at most once a second per target. The core
//! (`writer`, `verify`) knows none of this: it calls a closure.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::event::{Event, Observer};
use crate::term::Screen;
use crate::units::{human_bytes, human_duration, human_rate};

/// Shared output for one command.
pub struct Reporter {
    multi: Option<MultiProgress>,
    /// Restores the terminal's echo of control characters when the command ends.
    _quiet_ctrl_c: Option<crate::term::EchoCtl>,
    screen: Screen,
    json: bool,
    /// How often a plain progress line is written (without a smart terminal, and to the log).
    interval: Duration,
    stdout: Mutex<()>,
    /// Where a long-running session (`bench`) shows the lines and events instead of bars.
    tap: Option<std::sync::Arc<dyn Tap>>,
}

/// Takes every line and event of a [`Reporter`] (its progress as events, with or without
/// `--json`): the bench's board, which draws its own screen.
pub trait Tap: Send + Sync {
    /// A line for people (a target's lines start with its name).
    fn say(&self, text: &str);
    /// An event (also written to stdout with `--json`).
    fn event(&self, e: &Event);
}

impl Reporter {
    /// Bars if stderr is a smart terminal; JSON events if `json`; plain lines every
    /// `interval` otherwise.
    pub fn new(json: bool, interval: Duration) -> Self {
        let screen = crate::term::stderr_screen();
        let multi = screen
            .smart
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4)));
        // indicatif leaves the cursor in the last column of the last bar; the "^C" a terminal
        // echoes on Ctrl-C would wrap there, and the bars, cleared one line too low, would
        // leave their first line behind. So no echo of control characters while bars show.
        let quiet_ctrl_c = multi.as_ref().and_then(|_| crate::term::EchoCtl::off());
        Reporter {
            multi,
            _quiet_ctrl_c: quiet_ctrl_c,
            screen,
            json,
            interval,
            stdout: Mutex::new(()),
            tap: None,
        }
    }

    /// No bars: every line and event goes to `tap` (and events to stdout with `json`).
    pub fn tapped(json: bool, interval: Duration, tap: std::sync::Arc<dyn Tap>) -> Self {
        Reporter {
            multi: None,
            _quiet_ctrl_c: None,
            screen: crate::term::stderr_screen(),
            json,
            interval,
            stdout: Mutex::new(()),
            tap: Some(tap),
        }
    }

    /// True when JSON events are on.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Writes one JSON event line to stdout (only with `--json`); a closed stdout is ignored.
    pub fn emit(&self, event: &Event) {
        if let Some(t) = &self.tap {
            t.event(event);
        }
        if !self.json {
            return;
        }
        let _guard = self.stdout.lock();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", event.line());
        let _ = out.flush();
    }

    /// A line for people, on stderr (and the log), without tearing the bars.
    pub fn say(&self, text: &str) {
        match (&self.tap, &self.multi) {
            (Some(t), _) => t.say(text),
            (None, Some(m)) => m.suspend(|| errln!("{text}")),
            (None, None) => errln!("{text}"),
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
        // Cells are escaped by the table; the colour codes are ours (the log strips them).
        match &self.multi {
            Some(m) => m.suspend(|| crate::term::err(&text)),
            None => crate::term::err(&text),
        }
    }

    /// A reporter for one target (its bar below the others).
    pub fn target(&self, name: &str) -> TargetReporter<'_> {
        self.targets(&[name.to_string()]).remove(0)
    }

    /// Reporters for several targets, their bars stacked in this order and lined up.
    pub fn targets(&self, names: &[String]) -> Vec<TargetReporter<'_>> {
        let width = usize::from(self.screen.width.unwrap_or(80));
        // The names keep their end (the distinctive part of /dev/disk/by-id/...).
        let shown: Vec<String> = names
            .iter()
            .map(|n| shorten(&crate::term::escape(n), (width / 4).max(12)))
            .collect();
        let pad = shown.iter().map(|s| s.chars().count()).max().unwrap_or(0);
        // A fixed bar width leaves room for the longest message, and 3 columns spare.
        let wide = width >= 120;
        let message = if wide { MESSAGE_WIDE } else { MESSAGE };
        let bar = width
            .saturating_sub(pad + " [] 100% ".len() + message + 3)
            .max(10);
        names
            .iter()
            .zip(shown)
            .map(|(name, prefix)| {
                let bar = self.multi.as_ref().map(|m| {
                    let b = m.add(ProgressBar::new(0));
                    b.set_style(
                        ProgressStyle::with_template(&format!(
                            "{{prefix:<{pad}.bold}} [{{bar:{bar}}}] {{percent:>3}}% {{msg}}"
                        ))
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    b.set_prefix(prefix);
                    b
                });
                TargetReporter {
                    r: self,
                    name: name.clone(),
                    bar,
                    meter: Mutex::new(Meter::default()),
                    wide,
                }
            })
            .collect()
    }
}

/// The longest bar message: "pass 35/35 1023.9 MiB/s ETA 23h 59m".
const MESSAGE: usize = 36;
/// ... with the pattern (cut to [`LABEL`]): "pass 35/35 random (aes128-ctr) 1023.9 MiB/s ETA 23h 59m".
const MESSAGE_WIDE: usize = MESSAGE + 1 + LABEL;
/// The most of a pattern's name a bar shows.
const LABEL: usize = 20;

/// `s` cut to at most `max` characters, keeping its end: `…by-id/ata-WDC_WD40_1234`.
fn shorten(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let tail: String = s.chars().skip(n - (max - 1)).collect();
    format!("…{tail}")
}

/// Where one target's work stands: the stage, and the whole wipe around it. Pure: the clock is
/// passed in.
#[derive(Default)]
struct Meter {
    kind: &'static str,
    index: usize,
    count: usize,
    label: String,
    stage_total: u64,
    stage_started: Option<Instant>,
    /// The whole wipe: passes, bytes per pass, bytes the verification reads (0: a purge or a
    /// verify on its own, whose stage is the whole).
    passes: usize,
    pass_bytes: u64,
    verify_bytes: u64,
    /// The first report of this run: (when, whole bytes done then). Rates count from here, so
    /// a resumed wipe does not count the bytes an earlier run wrote.
    base: Option<(Instant, u64)>,
    last_event: Option<Instant>,
    last_line: Option<Instant>,
    last_message: Option<Instant>,
}

impl Meter {
    /// Bytes of the whole wipe done, given `done` in the current stage.
    fn whole_done(&self, done: u64) -> u64 {
        match self.kind {
            "pass" if self.pass_bytes > 0 => {
                self.pass_bytes * (self.index.saturating_sub(1) as u64) + done
            }
            "verify" if self.pass_bytes > 0 => self.pass_bytes * self.passes as u64 + done,
            _ => done,
        }
    }

    /// Bytes of the whole wipe.
    fn whole_total(&self) -> u64 {
        if self.pass_bytes > 0 {
            self.pass_bytes * self.passes as u64 + self.verify_bytes
        } else {
            self.stage_total
        }
    }

    /// The rate of this run over the whole wipe (bytes/s), once a second has passed.
    fn rate(&self, now: Instant, whole_done: u64) -> Option<f64> {
        let (t0, d0) = self.base?;
        let secs = (now - t0).as_secs_f64();
        (secs >= 1.0 && whole_done > d0).then(|| (whole_done - d0) as f64 / secs)
    }

    /// Seconds until the whole wipe is done at this run's rate.
    fn eta(&self, now: Instant, whole_done: u64) -> Option<f64> {
        let rate = self.rate(now, whole_done)?;
        Some(self.whole_total().saturating_sub(whole_done) as f64 / rate)
    }

    /// What the stage is, for people: "pass 2/3 random (aes128-ctr)", "verify sampled".
    fn stage(&self, with_label: bool) -> String {
        let label = if with_label && !self.label.is_empty() {
            format!(" {}", self.label.chars().take(LABEL).collect::<String>())
        } else {
            String::new()
        };
        match self.kind {
            "pass" => format!("pass {}/{}{label}", self.index, self.count),
            k => format!("{k}{label}"),
        }
    }

    /// The bar's message: stage, rate, ETA of the whole.
    fn message(&self, now: Instant, whole_done: u64, with_label: bool) -> String {
        let mut m = self.stage(with_label);
        if self.kind != "purge" {
            if let Some(r) = self.rate(now, whole_done) {
                m += &format!(" {}", human_rate(r));
            }
        }
        match self.eta(now, whole_done) {
            Some(e) => m += &format!(" ETA {}", human_duration(e)),
            None => m += " ETA -",
        }
        m
    }

    /// A plain progress line, for a log or a terminal that cannot redraw.
    /// A plain progress line: the whole job's percentage, then this stage's bytes (a pass
    /// counts against the drive's size, never the pass and the verification added up).
    fn line(&self, now: Instant, whole_done: u64, stage_done: u64) -> String {
        let total = self.whole_total();
        let pct = if total > 0 {
            whole_done as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        let mut l = format!("{pct:.1} % - {}", self.stage(true));
        if self.kind != "purge" {
            l += &format!(
                ", {} of {}",
                human_bytes(stage_done.min(self.stage_total)),
                human_bytes(self.stage_total)
            );
            if let Some(r) = self.rate(now, whole_done) {
                l += &format!(", {}", human_rate(r));
            }
        }
        if let Some(e) = self.eta(now, whole_done) {
            l += &format!(", about {} left", human_duration(e));
        }
        l
    }
}

/// Progress of one target.
pub struct TargetReporter<'a> {
    r: &'a Reporter,
    name: String,
    bar: Option<ProgressBar>,
    meter: Mutex<Meter>,
    /// The terminal has room for the pattern beside the pass number.
    wide: bool,
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

    fn meter(&self) -> std::sync::MutexGuard<'_, Meter> {
        self.meter.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The whole wipe, for its rate and ETA: `passes` of `pass_bytes`, then a verification
    /// that reads about `verify_bytes`.
    pub fn work(&self, passes: usize, pass_bytes: u64, verify_bytes: u64) {
        let mut m = self.meter();
        m.passes = passes;
        m.pass_bytes = pass_bytes;
        m.verify_bytes = verify_bytes;
        if let Some(b) = &self.bar {
            b.set_length(m.whole_total());
        }
    }

    /// A stage starts: pass `index` of `count`, a verification or a purge, `total` units.
    pub fn start(&self, kind: &'static str, index: usize, count: usize, label: &str, total: u64) {
        let mut m = self.meter();
        m.kind = kind;
        m.index = index;
        m.count = count;
        m.label = label.to_string();
        m.stage_total = total;
        m.stage_started = Some(Instant::now());
        m.last_event = None;
        if kind == "verify" && m.pass_bytes > 0 {
            m.verify_bytes = total;
        }
        if let Some(b) = &self.bar {
            b.set_length(m.whole_total());
            b.set_position(m.whole_done(0));
            b.set_message(m.stage(self.wide));
        }
    }

    /// Units done so far in this stage.
    pub fn progress(&self, done: u64) {
        let now = Instant::now();
        let mut m = self.meter();
        let whole = m.whole_done(done);
        if m.base.is_none() {
            m.base = Some((now, whole));
        }
        let due = |last: Option<Instant>, every: Duration| last.is_none_or(|t| now - t >= every);
        if let Some(b) = &self.bar {
            b.set_position(whole);
            if due(m.last_message, Duration::from_millis(250)) {
                m.last_message = Some(now);
                b.set_message(m.message(now, whole, self.wide));
            }
        }
        // A plain line: on stderr without a smart terminal, in the log always.
        let tapped = self.r.tap.is_some();
        if (self.bar.is_none() && !tapped || crate::term::logging())
            && due(m.last_line, self.r.interval)
        {
            if m.last_line.is_some() {
                let line = format!("{}: {}", self.name, m.line(now, whole, done));
                if self.bar.is_none() && !tapped {
                    self.r.say(&line);
                } else {
                    crate::term::log(&crate::term::escape(&line));
                }
            }
            m.last_line = Some(now);
        }
        // Events at most once a second (a board redraws no faster).
        if !(self.r.json || tapped) || !due(m.last_event, Duration::from_secs(1)) {
            return;
        }
        m.last_event = Some(now);
        let secs = m
            .stage_started
            .map(|t| (now - t).as_secs_f64())
            .unwrap_or(0.0);
        // After a resume this run's rate, not the jump to where the last run stopped.
        let rate = m.rate(now, whole).unwrap_or_else(|| {
            if secs > 0.0 && m.base.is_some_and(|(_, d0)| d0 == 0) {
                done as f64 / secs
            } else {
                0.0
            }
        });
        let event = Event::Progress(crate::event::Progress {
            target: self.name.clone(),
            stage: m.kind.to_string(),
            pass: m.index,
            passes: m.count,
            bytes_done: done,
            bytes_total: m.stage_total,
            bytes_per_second: rate.round(),
            eta_seconds: m.eta(now, whole).map(|e| e.round()),
        });
        drop(m);
        self.r.emit(&event);
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

impl Drop for TargetReporter<'_> {
    /// A bar never outlives its target (an error, a panic, Ctrl-C).
    fn drop(&mut self) {
        self.finish();
    }
}

impl Observer for TargetReporter<'_> {
    fn say(&self, text: &str) {
        TargetReporter::say(self, text);
    }
    fn note(&self, text: &str) {
        if self.bar.is_some() {
            // The bar shows it: a 35-pass policy over three drives is not 105 lines above it.
            crate::term::log(&format!("{}: {text}", self.name));
        } else {
            TargetReporter::say(self, text);
        }
    }
    fn event(&self, e: &Event) {
        self.r.emit(e);
    }
    fn work(&self, passes: usize, pass_bytes: u64, verify_bytes: u64) {
        TargetReporter::work(self, passes, pass_bytes, verify_bytes);
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

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn three_passes() -> Meter {
        Meter {
            passes: 3,
            pass_bytes: GIB,
            verify_bytes: GIB / 10,
            kind: "pass",
            count: 3,
            ..Meter::default()
        }
    }

    #[test]
    fn the_eta_covers_every_pass_and_the_verification() {
        let t0 = Instant::now();
        let mut m = three_passes();
        m.index = 1;
        m.base = Some((t0, 0));
        // 100 MiB/s for 10 s into pass 1: 3.1 GiB - 1000 MiB left at 100 MiB/s.
        let now = t0 + Duration::from_secs(10);
        let done = 1000 << 20;
        let eta = m.eta(now, m.whole_done(done)).unwrap();
        let want = (3 * GIB + GIB / 10 - (1000 << 20)) as f64 / (100 << 20) as f64;
        assert!((eta - want).abs() < 0.5, "{eta} vs {want}");
        m.index = 2;
        assert_eq!(m.whole_done(5), GIB + 5);
        m.kind = "verify";
        assert_eq!(m.whole_done(5), 3 * GIB + 5);
    }

    #[test]
    fn after_a_resume_the_rate_is_this_runs_not_the_jump() {
        let t0 = Instant::now();
        let mut m = three_passes();
        m.index = 2;
        // This run began 700 MiB into pass 2 and wrote 20 MiB/s for 5 s.
        m.base = Some((t0, m.whole_done(700 << 20)));
        let now = t0 + Duration::from_secs(5);
        let whole = m.whole_done(800 << 20);
        let rate = m.rate(now, whole).unwrap();
        assert!((rate - (20 << 20) as f64).abs() < 1.0, "{rate}");
        assert!(m.message(now, whole, false).contains("20.0 MiB/s"));
        assert!(
            m.rate(t0 + Duration::from_millis(500), whole).is_none(),
            "no rate before a second"
        );
    }

    #[test]
    fn plain_lines_say_the_stage_the_amount_the_rate_and_the_time_left() {
        let t0 = Instant::now();
        let mut m = three_passes();
        m.index = 1;
        m.label = "random (aes128-ctr)".into();
        // A pass's stage is the drive's size (as `stage` sets it).
        m.stage_total = GIB;
        m.base = Some((t0, 0));
        let l = m.line(t0 + Duration::from_secs(60), m.whole_done(GIB / 2), GIB / 2);
        // The whole job's percentage; the pass's bytes against the drive's size, never against
        // the passes and the verification added up (3.10 GiB for a 1 GiB drive).
        assert!(
            l.starts_with("16.1 % - pass 1/3 random (aes128-ctr), 512.00 MiB of 1.00 GiB"),
            "{l}"
        );
        assert!(l.contains("MiB/s") && l.contains("left"), "{l}");
    }

    #[test]
    fn long_names_keep_their_end() {
        assert_eq!(shorten("/dev/sdb", 12), "/dev/sdb");
        let s = shorten("/dev/disk/by-id/ata-WDC_WD40EFRX_WD-WCC7K0123456", 20);
        assert_eq!(s.chars().count(), 20);
        assert!(s.starts_with('…') && s.ends_with("WD-WCC7K0123456"));
    }
}
