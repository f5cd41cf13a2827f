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
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};

use crate::bench::board::{Board, Stage};
use crate::bench::leds::{Light, Slot};
use crate::bench::screen::Screen;
use crate::bench::tally;
use crate::bench::watch::{self, Disk};
use crate::cli::BenchArgs;
use crate::device::{self, Probe};
use crate::error::{Error, Exit};
use crate::event::{self, BenchEnd, Event};
use crate::journal::{self, MediaKey};
use crate::progress::Reporter;
use crate::settings;
use crate::signals::Signals;
use crate::summary::Row;

use crate::session::overwrite;
use crate::session::sanitize;
use crate::session::{open_session, Session};

/// Why a settled drive was not taken.
enum NotTaken {
    /// Refused (said, with the drive as the kernel shows it now); until it is pulled.
    Refused(String, Box<Disk>),
    /// Not the medium that settled: forgotten, to be seen afresh.
    Changed(Box<Disk>),
}

/// How often the loop looks at everything.
const TICK: Duration = Duration::from_millis(200);

type Ended = anyhow::Result<(Exit, Vec<Row>)>;

/// What the bench knows of a kernel name.
enum Known<'s> {
    /// Plugged in before the bench started (without `--existing`): never taken while it stays.
    Before(Disk),
    /// Seen; taken once it has stayed unchanged for the settle delay.
    Settling { disk: Disk, since: Instant },
    /// Not taken, and why (until it is pulled).
    Refused(Disk),
    /// Its work runs.
    Working(Box<Work<'s>>),
    /// Its work ended; waits to be pulled.
    Finished { disk: Disk, slot: Option<Slot> },
}

struct Work<'s> {
    disk: Disk,
    /// What identifies its medium across bays and re-plugs (for the session's tally).
    medium: String,
    serial: String,
    signals: Signals,
    slot: Option<Slot>,
    pulled: bool,
    handle: ScopedJoinHandle<'s, Ended>,
}

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

/// The bench's state between ticks.
struct Bench<'s, 'r> {
    req: &'r settings::Bench,
    session: &'r Session<'r>,
    reporter: &'r Reporter,
    board: &'r Board,
    known: BTreeMap<String, Known<'s>>,
    /// Drives not taken, for the session's summary.
    refused: Vec<tally::Refusal>,
}

impl<'s, 'r: 's> Bench<'s, 'r> {
    fn any_working(&self) -> bool {
        self.working() > 0
    }

    fn working(&self) -> usize {
        self.known
            .values()
            .filter(|k| matches!(k, Known::Working(_)))
            .count()
    }

    fn stop_all(&mut self) {
        for k in self.known.values() {
            if let Known::Working(w) = k {
                w.signals.cancel.store(true, Ordering::Relaxed);
                self.board.update(&node(&w.disk), |b| {
                    b.stage = Stage::Stopping("Ctrl-C".into());
                });
            }
        }
    }

    /// Brings what is known in line with what is plugged in now.
    fn reconcile(&mut self, now: Vec<Disk>) {
        let by_name: BTreeMap<&str, &Disk> =
            now.iter().map(|d| (d.names.kernel.as_str(), d)).collect();
        // Gone, emptied, asked to detach, or another medium under the same name: pulled.
        let names: Vec<String> = self.known.keys().cloned().collect();
        for name in names {
            let here = by_name.get(name.as_str()).copied();
            let Some(k) = self.known.get_mut(&name) else {
                continue;
            };
            let (disk, settling) = match k {
                Known::Before(d) | Known::Refused(d) | Known::Finished { disk: d, .. } => {
                    (d.clone(), false)
                }
                Known::Settling { disk, .. } => (disk.clone(), true),
                Known::Working(w) => (w.disk.clone(), false),
            };
            // A drive waiting to start must still be one the selection names (its links
            // may have changed with the drive in the bay).
            let named = |h: &Disk| !settling || self.req.selection.selects(&h.names);
            let still = here
                .is_some_and(|h| h.same_medium(&disk) && h.size > 0 && !h.detaching && named(h));
            if still {
                // A settling drive whose size is still changing starts its wait again.
                if let (Known::Settling { disk, since }, Some(h)) = (k, here) {
                    if h != disk {
                        *disk = h.clone();
                        *since = Instant::now();
                    }
                }
                continue;
            }
            if settling && here.is_some_and(|h| h.same_medium(&disk) && !h.detaching && named(h)) {
                // Size 0 while settling: a drive spinning up; keep waiting.
                if let (Known::Settling { disk, since }, Some(h)) = (k, here) {
                    *disk = h.clone();
                    *since = Instant::now();
                }
                continue;
            }
            self.pulled(&name);
        }
        // New drives the selection names.
        for d in now {
            let name = d.names.kernel.clone();
            if self.known.contains_key(&name)
                || d.detaching
                || !self.req.selection.selects(&d.names)
            {
                continue;
            }
            self.board.update(&node(&d), |b| {
                b.stage = Stage::Settling;
                b.size = d.size;
                b.slot = d
                    .names
                    .links
                    .iter()
                    .find(|l| l.starts_with("/dev/disk/by-path"))
                    .and_then(|l| l.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
            });
            self.known.insert(
                name,
                Known::Settling {
                    disk: d,
                    since: Instant::now(),
                },
            );
            self.hold("bench-seen");
        }
    }

    /// The `--test-hold` seam at one of the bench's own points.
    fn hold(&self, point: &str) {
        self.session
            .signals
            .hold(self.req.sanitize.wipe.hold.as_deref(), point);
    }

    /// `name` is no longer the drive the bench knew.
    fn pulled(&mut self, name: &str) {
        let Some(k) = self.known.get_mut(name) else {
            return;
        };
        let (target, serial, state) = match k {
            Known::Before(_) => {
                self.known.remove(name);
                return;
            }
            Known::Working(w) => {
                if w.pulled {
                    return;
                }
                w.pulled = true;
                w.signals.remove();
                if let Some(slot) = &w.slot {
                    slot.show(Light::Off);
                }
                self.board.update(&node(&w.disk), |b| {
                    b.stage = Stage::Stopping("pulled".into());
                });
                self.reporter.say(&format!(
                    "{}: pulled while it was worked on: its work stops (INCOMPLETE, the journal is kept; plug it in again to resume)",
                    node(&w.disk)
                ));
                let ev = (node(&w.disk), w.serial.clone(), "working");
                self.emit_removed(ev);
                return;
            }
            Known::Settling { disk, .. } => (node(disk), String::new(), "waiting"),
            Known::Refused(disk) => (node(disk), String::new(), "refused"),
            Known::Finished { disk, slot } => {
                if let Some(slot) = slot {
                    slot.show(Light::Off);
                }
                let serial = self
                    .board
                    .bay(&node(disk))
                    .map(|b| b.serial)
                    .unwrap_or_default();
                (node(disk), serial, "finished")
            }
        };
        self.known.remove(name);
        self.board.remove(&target);
        self.emit_removed((target, serial, state));
    }

    fn emit_removed(&self, (target, serial, state): (String, String, &str)) {
        self.reporter
            .emit(&Event::DriveRemoved(event::DriveRemoved {
                target,
                serial,
                state: state.into(),
            }));
    }

    /// Drives that have settled: probed, checked, and started.
    fn start_settled(&mut self, s: &'s std::thread::Scope<'s, '_>) {
        let due: Vec<String> = self
            .known
            .iter()
            .filter_map(|(n, k)| match k {
                Known::Settling { disk, since }
                    if disk.size > 0 && since.elapsed() >= self.req.settle =>
                {
                    Some(n.clone())
                }
                _ => None,
            })
            .collect();
        for name in due {
            let Some(Known::Settling { disk, .. }) = self.known.remove(&name) else {
                continue;
            };
            self.hold("bench-settled");
            let next = match self.take(&disk) {
                Ok((p, now)) => self.start(s, now, p),
                Err(NotTaken::Refused(why, now)) => {
                    self.refuse(&now, &why);
                    Known::Refused(*now)
                }
                Err(NotTaken::Changed(now)) => {
                    // Another medium than the one that settled: looked at afresh (the next
                    // scan sees it as a new drive, and it settles again if it is selected).
                    self.reporter.say(&format!(
                        "{}: the medium changed while it settled ({}); looking at it again",
                        node(&disk),
                        now.names.describe()
                    ));
                    self.board.remove(&node(&disk));
                    continue;
                }
            };
            self.known.insert(name, next);
        }
    }

    /// The drive behind `disk`, if it may be worked on. It is decided on the device the
    /// probe opened, never on earlier names: once the probe holds it, the medium under the
    /// node cannot change (a held loop device cannot be re-bound, a held device number cannot
    /// go to another drive), so its names are read again from there: kernel name, backing
    /// file, `/dev/disk` links (by-id ones only where they name the serial or WWN the drive
    /// reported), size, serial and WWN. It must be the medium that settled and one the
    /// selection names; nothing the selection does not name is ever opened for writing.
    fn take(&self, disk: &Disk) -> Result<(Probe, Disk), NotTaken> {
        let refuse = |why: String| NotTaken::Refused(why, Box::new(disk.clone()));
        let p = device::probe(&disk.node()).map_err(|e| refuse(e.to_string()))?;
        self.hold("bench-probed");
        let Some(devno) = p.devno else {
            return Err(refuse(format!(
                "{} is not a block device",
                disk.node().display()
            )));
        };
        let Some(now) = watch::disk_at(Path::new("/sys"), Path::new("/dev"), devno) else {
            return Err(refuse(format!(
                "{} is no longer a whole disk the kernel shows",
                disk.node().display()
            )));
        };
        let refuse_now = |why: String| NotTaken::Refused(why, Box::new(now.clone()));
        let names = now.names.confirmed(&p.identity.serial, &p.identity.wwn);
        if !self.req.selection.selects(&names) {
            return Err(refuse_now(format!(
                "{} does not match {}",
                names.describe(),
                self.req.selection.describe()
            )));
        }
        if now.detaching {
            return Err(refuse_now("it is being detached (pulled)".into()));
        }
        let backing = now
            .names
            .backing
            .as_ref()
            .map(|b| b.display().to_string())
            .unwrap_or_default();
        let agrees = now.names.kernel == disk.names.kernel
            && now.same_medium(disk)
            && now.size == p.size
            && backing == p.identity.backing
            && (now.serial.is_empty() || now.serial == p.identity.serial);
        if !agrees {
            return Err(NotTaken::Changed(Box::new(now)));
        }
        if p.read_only {
            return Err(refuse_now("the device is read-only".into()));
        }
        // Its record: a manifest row (by serial, WWN, bay or backing file), or the session's
        // alone, unless the organization file requires what only a row gives.
        if let Err(e) = self
            .req
            .sanitize
            .wipe
            .records
            .resolve(&[crate::records::Key::of(&p)])
        {
            return Err(refuse_now(e.to_string()));
        }
        device::safety::check_not_in_use(&p).map_err(|e| {
            refuse_now(match e {
                Error::Refused { reason, .. } => reason,
                e => e.to_string(),
            })
        })?;
        Ok((p, now))
    }

    fn refuse(&mut self, disk: &Disk, why: &str) {
        let target = node(disk);
        self.refused.push(tally::Refusal {
            target: target.clone(),
            reason: why.to_string(),
        });
        self.board
            .update(&target, |b| b.stage = Stage::Refused(why.to_string()));
        self.reporter
            .say(&format!("{target}: not taken: {why}; nothing was written"));
        self.reporter
            .emit(&Event::DriveRefused(event::DriveRefused {
                target,
                reason: why.to_string(),
            }));
    }

    /// Starts one drive's work on its own thread.
    fn start(&self, s: &'s std::thread::Scope<'s, '_>, disk: Disk, p: Probe) -> Known<'s> {
        let req = self.req;
        let target = node(&disk);
        let resumes = !req.sanitize.wipe.restart && unfinished(&req.sanitize, &p);
        let slot = Slot::find(&req.sysfs, &disk.names.kernel);
        if let Some(slot) = &slot {
            slot.show(Light::Working);
        }
        let health = overwrite::health_of(
            &req.sanitize.wipe,
            &overwrite::Resolved::Existing(Box::new(p.clone())),
        );
        let id = &p.identity;
        self.board.update(&target, |b| {
            b.stage = Stage::Working("starting".into());
            // A loop device has no model: its backing file says which image it is.
            b.model = if id.model.is_empty() {
                disk.names
                    .backing
                    .as_ref()
                    .and_then(|f| f.file_name())
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                id.model.clone()
            };
            b.serial = id.serial.clone();
            b.size = p.size;
            b.health = match health.as_ref().map(|h| h.word()) {
                Some("not_applicable") | None => String::new(),
                Some(w) => w.to_string(),
            };
            if let Some(slot) = &slot {
                b.slot = slot.name.clone();
            }
        });
        self.reporter.emit(&Event::DriveAdded(event::DriveAdded {
            target: target.clone(),
            slot: slot.as_ref().map(|s| s.name.clone()),
            model: id.model.clone(),
            serial: id.serial.clone(),
            size_bytes: p.size,
            resumes,
        }));
        let what: Vec<&str> = [id.model.as_str(), id.serial.as_str(), id.backing.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        self.reporter.say(&format!(
            "{target}: taken: {} ({}){}",
            what.join(" "),
            crate::units::human_bytes(p.size),
            if resumes {
                ", continuing its unfinished work"
            } else {
                ""
            }
        ));
        let mut one = req.sanitize.clone();
        one.wipe.targets = vec![disk.node()];
        one.wipe.resume = resumes;
        let mine = self.session.for_medium();
        let signals = mine.signals.clone();
        let reporter = self.reporter;
        let serial = p.identity.serial.clone();
        let medium = MediaKey::of(&p).lookup_id(&p.canonical);
        let handle = s.spawn(move || {
            let rep = reporter.target(&target);
            sanitize::run_one(&one, p, &mine, &rep)
        });
        Known::Working(Box::new(Work {
            serial,
            medium,
            disk,
            signals,
            slot,
            pulled: false,
            handle,
        }))
    }

    /// Drives whose work ended: their runs, results and lights.
    fn reap(&mut self) -> Vec<tally::Run> {
        let done: Vec<String> = self
            .known
            .iter()
            .filter(|(_, k)| matches!(k, Known::Working(w) if w.handle.is_finished()))
            .map(|(n, _)| n.clone())
            .collect();
        let mut runs = Vec::new();
        for name in done {
            let Some(Known::Working(w)) = self.known.remove(&name) else {
                continue;
            };
            let w = *w;
            let target = node(&w.disk);
            let ended = w
                .handle
                .join()
                .unwrap_or_else(|_| Ok((Exit::Failed, vec![Row::bug(&target)])));
            let mine = match ended {
                Ok((_, r)) => r,
                Err(e) => {
                    // Refused before anything was written (blocked, no room): said, no certificate.
                    let why = format!("{e:#}");
                    self.reporter.say(&format!("{target}: {why}"));
                    self.reporter
                        .emit(&Event::DriveRefused(event::DriveRefused {
                            target: target.clone(),
                            reason: why.clone(),
                        }));
                    vec![Row::error(&target, format!("none: {why}"))]
                }
            };
            let worst = tally::worst(&mine);
            if let Some(slot) = &w.slot {
                slot.show(if worst == "PASS" || w.pulled {
                    Light::Off
                } else {
                    Light::Failed
                });
            }
            self.board.update(&target, |b| {
                b.stage = Stage::Finished;
                b.result = Some(worst.clone());
            });
            runs.push(tally::Run {
                medium: w.medium,
                rows: mine,
            });
            if w.pulled {
                self.board.remove(&target);
            } else {
                self.known.insert(
                    name,
                    Known::Finished {
                        disk: w.disk,
                        slot: w.slot,
                    },
                );
            }
        }
        runs
    }
}

fn node(d: &Disk) -> String {
    d.node().display().to_string()
}

/// True when an unfinished wipe or purge of this medium waits in the journal folder.
fn unfinished(req: &settings::Sanitize, p: &Probe) -> bool {
    let key = MediaKey::of(p);
    let dir = &req.wipe.journal_dir;
    journal::path_for(dir, &key, &p.canonical).exists()
        || crate::purge::journal::path_for(dir, &key, &p.canonical).exists()
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
