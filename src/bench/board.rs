//! The bench's board: one row per drive the bench has taken (its name, slot, identity, stage,
//! progress, result and certificate), kept up to date from the flows' own lines and events
//! (a [`Tap`] of the reporter), and read by the screen. Without a screen its lines go to
//! stderr as they come.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::event::Event;
use crate::progress::Tap;

/// Where a drive is.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    /// Plugged in, waiting the settle delay (or for its size to read more than 0).
    Settling,
    /// Being worked on: `pass`, `verify`, `purge`, or `starting` before the first stage.
    Working(String),
    /// Pulled, or Ctrl-C: its work is stopping at the next safe point.
    Stopping(String),
    /// Finished; waits to be pulled.
    Finished,
    /// Not touched, and why.
    Refused(String),
}

/// One drive's row.
#[derive(Clone, Debug, PartialEq)]
pub struct Bay {
    /// The device node (`/dev/sdb`), as the events name it.
    pub target: String,
    /// Enclosure slot, else a `/dev/disk/by-path` name, else empty.
    pub slot: String,
    pub model: String,
    pub serial: String,
    pub size: u64,
    pub health: String,
    pub stage: Stage,
    pub pass: usize,
    pub passes: usize,
    pub done: u64,
    pub total: u64,
    pub rate: f64,
    pub eta: Option<f64>,
    /// The last result (a drive with two steps has two).
    pub result: Option<String>,
    /// The last certificate's file name.
    pub certificate: Option<String>,
    /// The last thing said about it.
    pub note: String,
}

impl Bay {
    /// A row for a drive just seen.
    pub fn new(target: &str) -> Bay {
        Bay {
            target: target.into(),
            slot: String::new(),
            model: String::new(),
            serial: String::new(),
            size: 0,
            health: String::new(),
            stage: Stage::Settling,
            pass: 0,
            passes: 0,
            done: 0,
            total: 0,
            rate: 0.0,
            eta: None,
            result: None,
            certificate: None,
            note: String::new(),
        }
    }

    /// Fraction of the current stage done (0 to 1).
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            (self.done as f64 / self.total as f64).clamp(0.0, 1.0)
        }
    }
}

/// Everything the screen shows.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub bays: Vec<Bay>,
    /// Drives pulled after they finished: (result, target, serial, certificate).
    pub gone: Vec<(String, String, String, String)>,
    /// The latest lines said, newest last.
    pub lines: VecDeque<String>,
    /// Ctrl-C: no new work.
    pub stopping: bool,
}

/// How many drives are where, for the summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub working: usize,
    pub settling: usize,
    pub pass: usize,
    pub fail: usize,
    pub incomplete: usize,
    pub refused: usize,
}

impl State {
    /// Counts over the drives still plugged in and those pulled after finishing.
    pub fn counts(&self) -> Counts {
        fn ended(c: &mut Counts, r: &str) {
            match r {
                "PASS" => c.pass += 1,
                "INCOMPLETE" => c.incomplete += 1,
                _ => c.fail += 1,
            }
        }
        let mut c = Counts::default();
        for b in &self.bays {
            match &b.stage {
                Stage::Working(_) | Stage::Stopping(_) => c.working += 1,
                Stage::Settling => c.settling += 1,
                Stage::Refused(_) => c.refused += 1,
                Stage::Finished => ended(&mut c, b.result.as_deref().unwrap_or("ERROR")),
            }
        }
        for (r, ..) in &self.gone {
            ended(&mut c, r);
        }
        c
    }
}

/// The board, shared by the bench loop, the drives' threads and the screen.
pub struct Board {
    state: Mutex<State>,
    /// No screen: lines go to stderr as they are said.
    echo: bool,
}

/// Lines kept for the screen's message area.
const LINES: usize = 200;

impl Board {
    pub fn new(echo: bool) -> Board {
        Board {
            state: Mutex::new(State::default()),
            echo,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy for drawing.
    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }

    /// Changes the row of `target` (made if it is not there).
    pub fn update(&self, target: &str, f: impl FnOnce(&mut Bay)) {
        let mut s = self.lock();
        let i = match s.bays.iter().position(|b| b.target == target) {
            Some(i) => i,
            None => {
                s.bays.push(Bay::new(target));
                s.bays.len() - 1
            }
        };
        f(&mut s.bays[i]);
    }

    /// The drive was pulled: its row goes (a finished one is remembered for the counts).
    pub fn remove(&self, target: &str) {
        let mut s = self.lock();
        if let Some(i) = s.bays.iter().position(|b| b.target == target) {
            let b = s.bays.remove(i);
            if b.stage == Stage::Finished {
                s.gone.push((
                    b.result.unwrap_or_else(|| "ERROR".into()),
                    b.target,
                    b.serial,
                    b.certificate.unwrap_or_default(),
                ));
            }
        }
    }

    /// Ctrl-C: shown on the summary line.
    pub fn stopping(&self) {
        self.lock().stopping = true;
    }

    /// Looks up a row.
    pub fn bay(&self, target: &str) -> Option<Bay> {
        self.lock()
            .bays
            .iter()
            .find(|b| b.target == target)
            .cloned()
    }
}

impl Tap for Board {
    fn say(&self, text: &str) {
        if self.echo {
            errln!("{text}");
        } else {
            crate::term::log(&crate::term::escape(text));
        }
        let mut s = self.lock();
        // "target: text" is about one drive: its row shows it.
        if let Some(b) = s
            .bays
            .iter_mut()
            .find(|b| text.starts_with(&format!("{}: ", b.target)))
        {
            b.note = text[b.target.len() + 2..].to_string();
        }
        s.lines.push_back(text.to_string());
        while s.lines.len() > LINES {
            s.lines.pop_front();
        }
    }

    fn event(&self, e: &Event) {
        match e {
            Event::Progress(p) => self.update(&p.target, |b| {
                if !matches!(b.stage, Stage::Stopping(_)) {
                    b.stage = Stage::Working(p.stage.clone());
                }
                b.pass = p.pass;
                b.passes = p.passes;
                b.done = p.bytes_done;
                b.total = p.bytes_total;
                b.rate = p.bytes_per_second;
                b.eta = p.eta_seconds;
            }),
            Event::Start(s) => self.update(&s.target, |b| {
                b.passes = s.passes;
                b.pass = 0;
                b.done = 0;
            }),
            Event::PurgeStart(s) => self.update(&s.target.to_string_lossy(), |b| {
                if !matches!(b.stage, Stage::Stopping(_)) {
                    b.stage = Stage::Working("purge".into());
                }
                b.note = format!("{} ({})", s.method, s.bus);
            }),
            Event::Result(r) => self.update(&r.target, |b| {
                b.result = Some(r.result.clone());
                b.certificate = r
                    .certificate
                    .as_ref()
                    .and_then(|c| c.file_name())
                    .map(|n| n.to_string_lossy().into_owned());
                if let Some(first) = r.reasons.first() {
                    b.note = first.clone();
                }
            }),
            Event::Error(x) => {
                if let Some(t) = &x.target {
                    self.update(t, |b| b.note = x.error.clone());
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Outcome, Progress};

    #[test]
    fn the_flows_events_move_a_row_and_lines_land_on_their_drive() {
        let board = Board::new(false);
        board.update("/dev/sdb", |b| b.stage = Stage::Working("starting".into()));
        board.event(&Event::Progress(Progress {
            target: "/dev/sdb".into(),
            stage: "pass".into(),
            pass: 1,
            passes: 2,
            bytes_done: 25,
            bytes_total: 100,
            bytes_per_second: 5e8,
            eta_seconds: Some(12.0),
        }));
        let b = board.bay("/dev/sdb").unwrap();
        assert_eq!(b.stage, Stage::Working("pass".into()));
        assert_eq!((b.pass, b.passes, b.fraction()), (1, 2, 0.25));
        board.say("/dev/sdb: warning: pass 1 is slow");
        board.say("/dev/sdbb: not this one");
        assert_eq!(
            board.bay("/dev/sdb").unwrap().note,
            "warning: pass 1 is slow"
        );
        board.event(&Event::Result(Outcome {
            target: "/dev/sdb".into(),
            serial: "S1".into(),
            asset_tag: String::new(),
            result: "PASS".into(),
            reasons: vec![],
            certificate: Some("/certs/sdb-2026-S1-abc.json".into()),
            signature: None,
            id: "abc".into(),
            chain_id: None,
            chain_seq: None,
        }));
        board.update("/dev/sdb", |b| b.stage = Stage::Finished);
        assert_eq!(
            board.bay("/dev/sdb").unwrap().certificate.as_deref(),
            Some("sdb-2026-S1-abc.json")
        );
        board.update("/dev/sdc", |b| b.stage = Stage::Working("pass".into()));
        board.update("/dev/sdd", |b| b.stage = Stage::Refused("mounted".into()));
        assert_eq!(
            board.snapshot().counts(),
            Counts {
                working: 1,
                pass: 1,
                refused: 1,
                ..Counts::default()
            }
        );
        // Pulled after it finished: the row goes, the count stays.
        board.remove("/dev/sdb");
        let s = board.snapshot();
        assert!(s.bays.iter().all(|b| b.target != "/dev/sdb"));
        assert_eq!(s.counts().pass, 1);
        assert_eq!(s.lines.len(), 2);
    }
}
