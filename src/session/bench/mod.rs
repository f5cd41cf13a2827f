//! A bench session: the drives a selection names, taken as they are plugged in (settled,
//! probed, refused when in use), each sanitized on its own thread through
//! `session::sanitize::run_one` with its own stop flags, pulled drives stopped as a signal
//! stops a wipe, finished drives' results and lights on the board. `mediasan bench` drives it
//! a few times a second and draws what it shows.

pub mod serve;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};

use crate::bench::board::{Board, Stage};
use crate::bench::leds::{Light, Slot};
use crate::bench::tally;
use crate::bench::watch::{self, Disk};
use crate::device::{self, Probe};
use crate::error::{Error, Exit};
use crate::event::{self, Event};
use crate::journal::{self, MediaKey};
use crate::progress::Reporter;
use crate::settings;
use crate::signals::Signals;
use crate::summary::Row;

use super::overwrite;
use super::sanitize;
use super::Session;

/// Why a settled drive was not taken.
pub(crate) enum NotTaken {
    /// Refused (said, with the drive as the kernel shows it now); until it is pulled.
    Refused(String, Box<Disk>),
    /// Not the medium that settled: forgotten, to be seen afresh.
    Changed(Box<Disk>),
}

/// How often the loop looks at everything.
pub(crate) const TICK: Duration = Duration::from_millis(200);

type Ended = anyhow::Result<(Exit, Vec<Row>)>;

/// What the bench knows of a kernel name.
pub(crate) enum Known<'s> {
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

pub(crate) struct Work<'s> {
    disk: Disk,
    /// What identifies its medium across bays and re-plugs (for the session's tally).
    medium: String,
    serial: String,
    signals: Signals,
    slot: Option<Slot>,
    pulled: bool,
    handle: ScopedJoinHandle<'s, Ended>,
}

/// The bench's state between ticks.
pub(crate) struct Bench<'s, 'r> {
    pub(crate) req: &'r settings::Bench,
    pub(crate) session: &'r Session<'r>,
    pub(crate) reporter: &'r Reporter,
    pub(crate) board: &'r Board,
    pub(crate) known: BTreeMap<String, Known<'s>>,
    /// Drives not taken, for the session's summary.
    pub(crate) refused: Vec<tally::Refusal>,
}

impl<'s, 'r: 's> Bench<'s, 'r> {
    pub(crate) fn any_working(&self) -> bool {
        self.working() > 0
    }

    pub(crate) fn working(&self) -> usize {
        self.known
            .values()
            .filter(|k| matches!(k, Known::Working(_)))
            .count()
    }

    pub(crate) fn stop_all(&mut self) {
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
    pub(crate) fn reconcile(&mut self, now: Vec<Disk>) {
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
    pub(crate) fn start_settled(&mut self, s: &'s std::thread::Scope<'s, '_>) {
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
    pub(crate) fn reap(&mut self) -> Vec<tally::Run> {
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
