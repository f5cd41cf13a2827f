//! The performance core: writes one pass of a pattern over the whole target.
//!
//! Shape: `queue_depth` workers share an atomic chunk counter. Each worker owns one aligned
//! buffer; it claims the next chunk, fills it (random stream: seek + generate; fixed pattern:
//! filled once, because every chunk starts at a multiple of the pattern's period), and writes
//! it with `pwrite` at the chunk's offset. So up to `queue_depth` writes are in flight while
//! other workers generate. Generation is capped by a shared [`FillBudget`] so that several
//! targets wiped at once share the CPU instead of oversubscribing it.
//!
//! On a zoned device ([`BlockIo::zones`]) a worker claims a whole zone instead: it resets the
//! zone if it is sequential and writes it chunk after chunk from its start (a sequential zone
//! takes writes only at its write pointer), so `queue_depth` zones are written at once. The
//! durable offset then advances zone by zone, and a resume starts at a zone's start.
//!
//! The coordinating thread only reports progress. Errors from any worker are collected with
//! their offsets; none is lost.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::aligned::AlignedBuf;
pub use crate::contract::{IoFailure, OnError};
use crate::device::zones::ZoneMap;
use crate::device::BlockIo;
use crate::pattern::Pattern;

/// A counting semaphore that caps how many threads generate pattern bytes at once.
#[derive(Debug)]
pub struct FillBudget {
    free: Mutex<usize>,
    cv: Condvar,
}

impl FillBudget {
    /// A budget of `n` concurrent fills (at least one).
    pub fn new(n: usize) -> Arc<Self> {
        Arc::new(FillBudget {
            free: Mutex::new(n.max(1)),
            cv: Condvar::new(),
        })
    }

    /// Runs `f` while holding one unit of the budget.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            while *free == 0 {
                free = self.cv.wait(free).unwrap_or_else(|p| p.into_inner());
            }
            *free -= 1;
        }
        let out = f();
        *self.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.cv.notify_one();
        out
    }
}

/// Tuning of the I/O pipeline (shared by writing and verification).
#[derive(Clone, Debug)]
pub struct IoConfig {
    /// Bytes per I/O (rounded down to a multiple of the block size and pattern period).
    pub buffer_size: usize,
    /// I/Os in flight per target (one worker each).
    pub queue_depth: usize,
    /// Caps concurrent pattern generation / comparison across all targets.
    pub budget: Arc<FillBudget>,
    /// Times a failed I/O is tried again before it is narrowed to the failing blocks.
    pub retries: u32,
    /// Pause before the n-th retry: n times this.
    pub retry_delay: Duration,
    /// What to do once an I/O has failed for good.
    pub on_error: OnError,
    /// The throughput watchdog, if any.
    pub watchdog: Option<Watchdog>,
}

/// A dying drive can crawl for days: a pass whose rate stays below `floor` bytes/s for
/// `window` is reported, and with `stop` ended (FAIL), so one drive cannot hold a bench hostage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Watchdog {
    pub floor: f64,
    pub window: Duration,
    pub stop: bool,
}

impl Default for IoConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        IoConfig {
            buffer_size: 1 << 20,
            queue_depth: 4,
            budget: FillBudget::new(cores),
            retries: 3,
            retry_delay: Duration::from_millis(200),
            on_error: OnError::Continue,
            watchdog: None,
        }
    }
}

/// What one pass did.
#[derive(Clone, Debug)]
pub struct PassReport {
    /// Bytes written successfully.
    pub bytes_written: u64,
    /// Byte ranges that could not be written (failing blocks, coalesced), in offset order.
    pub errors: Vec<IoFailure>,
    /// Retries made (each is one more attempt at a failed I/O).
    pub retries: u64,
    /// I/Os that failed at first and then succeeded on a retry.
    pub recovered: u64,
    /// The pass stopped at the first unrecoverable error (`OnError::Abort`).
    pub aborted: bool,
    /// The pass gave up because the device stopped answering (see [`GIVE_UP_AFTER`]).
    pub gave_up: bool,
    /// The rate stayed below the watchdog's floor for its window: what was seen.
    pub slow: Option<String>,
    /// ... and the pass was stopped for it.
    pub slow_stopped: bool,
    /// After the final flush: what an interrupted pass can resume from.
    pub durable: Durable,
    /// The final fdatasync failed.
    pub flush_error: Option<String>,
    /// Stopped early by a cancel request.
    pub interrupted: bool,
    /// Sequential zones reset (and then written in order) by this run of the pass.
    pub zones_reset: u64,
    pub started: SystemTime,
    pub finished: SystemTime,
    pub elapsed: Duration,
}

impl PassReport {
    /// Every byte of a `size`-byte target written and flushed without error.
    pub fn complete(&self, size: u64) -> bool {
        self.bytes_written == size
            && self.errors.is_empty()
            && self.flush_error.is_none()
            && !self.interrupted
    }
}

/// A pass gives up after this many consecutive chunks in which not one block could be written:
/// the device is gone or dead, and trying every block of every remaining chunk (on every pass)
/// would only delay the FAIL certificate by hours.
pub const GIVE_UP_AFTER: u64 = 8;

/// What one I/O came to, after retries and narrowing.
#[derive(Debug, Default)]
pub(crate) struct Attempted {
    /// Bytes that went through.
    pub ok: u64,
    /// Ranges that failed for good (coalesced).
    pub failures: Vec<IoFailure>,
    pub retries: u64,
    pub recovered: bool,
}

fn push_coalesced(list: &mut Vec<IoFailure>, offset: u64, length: u64, e: &std::io::Error) {
    let f = IoFailure::from_io(offset, length, e);
    match list.last_mut() {
        Some(l) if l.offset + l.length == offset && l.error == f.error && l.errno == f.errno => {
            l.length += length
        }
        _ => list.push(f),
    }
}

/// Runs `io(range_offset, range_len)` over `[offset, offset + len)`: whole, retried up to
/// `cfg.retries` times with a growing pause; if it still fails, block by block (`block` bytes,
/// the last one possibly shorter), once each, so only the failing blocks are lost and each is
/// recorded. Stops narrowing when `cancel` is set (the rest then counts as not done).
pub(crate) fn attempt(
    offset: u64,
    len: u64,
    block: u64,
    cfg: &IoConfig,
    cancel: &AtomicBool,
    io: &mut dyn FnMut(u64, u64) -> std::io::Result<()>,
) -> Attempted {
    let mut out = Attempted::default();
    for n in 0..=cfg.retries {
        if n > 0 {
            out.retries += 1;
            std::thread::sleep(cfg.retry_delay * n);
        }
        if io(offset, len).is_ok() {
            out.ok = len;
            out.recovered = n > 0;
            return out;
        }
        if cancel.load(Ordering::Relaxed) {
            return out;
        }
    }
    let mut at = offset;
    while at < offset + len {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let n = block.min(offset + len - at);
        match io(at, n) {
            Ok(()) => out.ok += n,
            Err(e) => push_coalesced(&mut out.failures, at, n, &e),
        }
        at += n;
    }
    out
}

/// Sends one message when dropped, i.e. when a worker ends, however it ends.
pub(crate) struct ExitSignal(pub(crate) mpsc::Sender<()>);

impl Drop for ExitSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// Which chunks of a pass are complete. Chunks complete out of order: every chunk below `low`
/// is, and so is each one in `above`.
#[derive(Debug, Default)]
struct Watermark {
    low: u64,
    above: BTreeSet<u64>,
}

impl Watermark {
    fn complete(&mut self, i: u64) {
        self.above.insert(i);
        while self.above.remove(&self.low) {
            self.low += 1;
        }
    }

    /// The end of the contiguous run of complete chunks, as a byte offset.
    fn offset(&self, start: u64, chunk: u64, size: u64) -> u64 {
        (start + self.low * chunk).min(size)
    }
}

/// Reports a rate below the floor sustained over the watchdog's window, from samples of the
/// bytes done so far.
struct RateWatch {
    dog: Watchdog,
    samples: VecDeque<(Instant, u64)>,
}

impl RateWatch {
    fn new(dog: Watchdog) -> Self {
        RateWatch {
            dog,
            samples: VecDeque::new(),
        }
    }

    /// Takes a sample; says what was seen if the rate over the last window is below the floor.
    fn observe(&mut self, now: Instant, done: u64) -> Option<String> {
        self.samples.push_back((now, done));
        while self.samples.len() > 2 && now - self.samples[1].0 >= self.dog.window {
            self.samples.pop_front();
        }
        let (t0, d0) = self.samples[0];
        let span = now - t0;
        if span < self.dog.window {
            return None;
        }
        let rate = (done - d0) as f64 / span.as_secs_f64();
        (rate < self.dog.floor).then(|| {
            format!(
                "{:.2} MB/s over {:.0} s, below the floor of {:.2} MB/s",
                rate / 1e6,
                span.as_secs_f64(),
                self.dog.floor / 1e6
            )
        })
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The chunk size for a pass: `buffer_size` rounded down to a multiple of both the block size
/// and the pattern's period (so a fixed pattern's buffer is the same for every chunk), and at
/// least one such multiple.
pub fn chunk_size(buffer_size: usize, block: u32, period: Option<usize>) -> usize {
    let b = block as usize;
    let p = period.unwrap_or(1).max(1);
    let unit = b / gcd(b, p) * p;
    (buffer_size / unit).max(1) * unit
}

/// Durable progress of a pass, reported at checkpoints for the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Durable {
    /// Every byte below this offset was written (or recorded as failed) before a flush that
    /// succeeded: it can be claimed after a crash.
    pub offset: u64,
    /// Failed ranges below `offset`, from this run.
    pub errors: Vec<IoFailure>,
    /// Bytes below `offset` written by this run.
    pub bytes_written: u64,
}

impl Durable {
    /// Progress up to `offset` of a pass this run began at `start`, given the run's failures.
    fn at(offset: u64, start: u64, errors: &[IoFailure]) -> Durable {
        let errors: Vec<IoFailure> = errors
            .iter()
            .filter(|e| e.offset < offset)
            .cloned()
            .collect();
        let failed: u64 = errors.iter().map(|e| e.length).sum();
        Durable {
            offset,
            errors,
            bytes_written: (offset - start).saturating_sub(failed),
        }
    }
}

/// Where a pass starts, and how it checkpoints.
pub struct Checkpoints<'a> {
    /// Bytes below this offset were done by an earlier run: start here (a multiple of the
    /// chunk size that run used, so of the block size and the pattern period).
    pub start: u64,
    /// Flush and report durable progress this often.
    pub every: Duration,
    /// Called after each checkpoint's successful flush.
    pub save: &'a mut dyn FnMut(&Durable),
    /// Called once, at once, when the watchdog finds the pass too slow.
    pub on_slow: &'a mut dyn FnMut(&str),
}

/// Writes `pattern` over every byte of `dev`, then flushes. Stops early (and says so) when
/// `cancel` becomes true, on an unrecoverable error with [`OnError::Abort`], or when the device
/// stops answering.
pub fn run_pass(
    dev: &dyn BlockIo,
    pattern: &Pattern,
    cfg: &IoConfig,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u64),
) -> PassReport {
    let mut none = |_: &Durable| {};
    let mut quiet = |_: &str| {};
    let ck = Checkpoints {
        start: 0,
        every: Duration::MAX,
        save: &mut none,
        on_slow: &mut quiet,
    };
    run_pass_from(dev, pattern, cfg, cancel, progress, ck)
}

/// What every writer worker of a pass shares: the inputs, the work queue and the tallies.
struct Pass<'a> {
    dev: &'a dyn BlockIo,
    pattern: &'a Pattern,
    cfg: &'a IoConfig,
    cancel: &'a AtomicBool,
    /// Where the pass starts (a resume), the target's size, the chunk each worker writes.
    start: u64,
    size: u64,
    chunk: u64,
    /// What a worker claims at a time: one chunk, or on a zoned device one zone (written in
    /// order, chunk by chunk, after its reset). Completed units make the durable offset.
    unit: u64,
    nunits: u64,
    /// A zoned device's zones ([`BlockIo::zones`]).
    zones: Option<&'a crate::device::zones::ZoneMap>,
    /// Sequential zones reset before they were written.
    zones_reset: AtomicU64,
    bs: u64,
    /// Which chunks are complete, for the durable offset.
    marks: Mutex<Watermark>,
    /// The next chunk to claim.
    next: AtomicU64,
    /// Bytes written.
    done: AtomicU64,
    retries: AtomicU64,
    recovered: AtomicU64,
    /// Every worker stops at its next chunk (an abort, a give-up, the watchdog, a panic).
    stop: AtomicBool,
    panicked: AtomicBool,
    /// The device stopped answering: [`GIVE_UP_AFTER`] chunks in a row wrote nothing.
    gave_up: AtomicBool,
    dead_chunks: AtomicU64,
    errors: Mutex<Vec<IoFailure>>,
}

/// One writer worker: claims the next chunk, fills it (a random pass, on the fill budget),
/// writes it (retried, then narrowed to the failing blocks), marks it complete.
struct Writer<'a> {
    pass: &'a Pass<'a>,
    /// Dropped when the worker ends, however it ends: the coordinator counts them.
    _exit: ExitSignal,
}

impl Writer<'_> {
    /// Runs until the chunks are claimed, a cancel or a stop. A bug that panics in a worker
    /// stops the pass (its chunk stays incomplete, so the pass is never complete) instead of
    /// taking the certificate down with it.
    fn run(&self) {
        let body = std::panic::AssertUnwindSafe(|| self.serve());
        if std::panic::catch_unwind(body).is_err() {
            self.pass.panicked.store(true, Ordering::Relaxed);
            self.pass.stop.store(true, Ordering::Relaxed);
        }
    }

    fn serve(&self) {
        let p = self.pass;
        let mut buf = Buffer {
            buf: AlignedBuf::new(p.chunk as usize),
            phase: None,
        };
        loop {
            if p.stop.load(Ordering::Relaxed) || p.cancel.load(Ordering::Relaxed) {
                break;
            }
            let i = p.next.fetch_add(1, Ordering::Relaxed);
            if i >= p.nunits {
                break;
            }
            let off = p.start + i * p.unit;
            let complete = match p.zones {
                Some(z) => self.write_zone(z, off, &mut buf),
                None => self.write(off, (p.size - off).min(p.chunk), &mut buf, None),
            };
            // A unit cut short by a cancel is not complete: it is written again on resume.
            if complete {
                p.marks
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .complete(i);
            }
        }
    }

    /// Writes the zone at `start` (reset first when it is sequential, then chunk by chunk in
    /// order: a sequential zone takes writes only at its write pointer). A zone that takes no
    /// write, a reset that fails, or a failed write in a sequential zone (its write pointer is
    /// then unknown) records the rest of the zone as failed. True when the zone is done.
    fn write_zone(&self, zones: &ZoneMap, start: u64, buf: &mut Buffer) -> bool {
        let p = self.pass;
        let end = (start + p.unit).min(p.size);
        let zone = zones.at(start);
        let sequential = zone.is_some_and(|z| z.sequential());
        let failed = |from: u64, why: String| {
            self.failed(vec![IoFailure::other(from, end - from, &why)]);
            true
        };
        if let Some(why) = zone.map_or(Some("the zone report does not cover it"), |z| {
            z.unwritable()
        }) {
            return failed(start, why.to_string());
        }
        if sequential {
            if let Err(e) = p.dev.reset_zones(start, end - start) {
                return failed(start, format!("the zone reset failed: {e}"));
            }
            p.zones_reset.fetch_add(1, Ordering::Relaxed);
        }
        let mut off = start;
        while off < end {
            if p.stop.load(Ordering::Relaxed) || p.cancel.load(Ordering::Relaxed) {
                return false;
            }
            let len = p.chunk.min(end - off);
            if !self.write(off, len, buf, sequential.then_some(end)) {
                // A sequential zone's failure covers the rest of it (done); a conventional
                // zone's chunk was cut short by a cancel (not done).
                return sequential;
            }
            off += len;
        }
        true
    }

    /// Records failures in the pass's list (and stops the pass under `--on-error abort`).
    fn failed(&self, failures: Vec<IoFailure>) {
        let p = self.pass;
        if failures.is_empty() {
            return;
        }
        if p.cfg.on_error == OnError::Abort {
            p.stop.store(true, Ordering::Relaxed);
        }
        p.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(failures);
    }

    /// Writes `len` bytes at `off` from `buf` and adds to the tallies; true when every byte was
    /// written or recorded as failed. In a sequential zone (`zone_end`: where it ends) a failed
    /// write is not retried (the write pointer may have moved): the rest of the zone is
    /// recorded as failed.
    fn write(&self, off: u64, len: u64, buf: &mut Buffer, zone_end: Option<u64>) -> bool {
        let p = self.pass;
        let len = len as usize;
        buf.fill(p, off, len);
        let data = &buf.buf[..len];
        if let Some(end) = zone_end {
            return match p.dev.write_at(data, off) {
                Ok(()) => {
                    p.done.fetch_add(len as u64, Ordering::Relaxed);
                    p.dead_chunks.store(0, Ordering::Relaxed);
                    true
                }
                Err(e) => {
                    let mut f = IoFailure::from_io(off, end - off, &e);
                    f.error = format!(
                        "{} (in a sequential zone: the rest of the zone is not written)",
                        f.error
                    );
                    self.failed(vec![f]);
                    self.dead();
                    false
                }
            };
        }
        let r = attempt(off, len as u64, p.bs, p.cfg, p.cancel, &mut |o, n| {
            let from = (o - off) as usize;
            p.dev.write_at(&data[from..from + n as usize], o)
        });
        p.done.fetch_add(r.ok, Ordering::Relaxed);
        p.retries.fetch_add(r.retries, Ordering::Relaxed);
        p.recovered
            .fetch_add(u64::from(r.recovered), Ordering::Relaxed);
        if r.ok > 0 {
            p.dead_chunks.store(0, Ordering::Relaxed);
        } else {
            self.dead();
        }
        let failed: u64 = r.failures.iter().map(|f| f.length).sum();
        let complete = r.ok + failed == len as u64;
        self.failed(r.failures);
        complete
    }

    /// A chunk that wrote nothing: after [`GIVE_UP_AFTER`] in a row the device stopped
    /// answering.
    fn dead(&self) {
        let p = self.pass;
        if p.dead_chunks.fetch_add(1, Ordering::Relaxed) + 1 >= GIVE_UP_AFTER {
            p.gave_up.store(true, Ordering::Relaxed);
            p.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// A worker's buffer, and the pattern offset (modulo its period) a fixed pattern was filled
/// for: filled once while every chunk starts at a multiple of the period, again when one does
/// not (a zone that starts elsewhere).
struct Buffer {
    buf: AlignedBuf,
    phase: Option<u64>,
}

impl Buffer {
    fn fill(&mut self, p: &Pass, off: u64, len: usize) {
        match p.pattern.period() {
            Some(period) => {
                let phase = off % period as u64;
                if self.phase != Some(phase) {
                    p.pattern.fill_at(&mut self.buf, off);
                    self.phase = Some(phase);
                }
            }
            None => p
                .cfg
                .budget
                .run(|| p.pattern.fill_at(&mut self.buf[..len], off)),
        }
    }
}

/// What the coordinator saw: whether the watchdog found the pass slow, and stopped it.
struct Watched {
    slow: Option<String>,
    slow_stopped: bool,
}

/// Reports progress, runs the watchdog and takes checkpoints (the durable offset read
/// *before* the flush that makes it true) until every worker has ended.
fn coordinate(
    p: &Pass,
    workers: usize,
    exit_rx: &mpsc::Receiver<()>,
    progress: &mut dyn FnMut(u64),
    ck: &mut Checkpoints,
) -> Watched {
    let mut seen = Watched {
        slow: None,
        slow_stopped: false,
    };
    let durable_at = || {
        p.marks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .offset(p.start, p.unit, p.size)
    };
    let mut left = workers;
    let mut last_ck = Instant::now();
    let mut saved = p.start;
    let mut watch = p.cfg.watchdog.map(RateWatch::new);
    while left > 0 {
        let now_done = p.done.load(Ordering::Relaxed);
        progress(now_done);
        if let (Some(w), None) = (&mut watch, &seen.slow) {
            if let Some(why) = w.observe(Instant::now(), now_done) {
                if w.dog.stop {
                    seen.slow_stopped = true;
                    p.stop.store(true, Ordering::Relaxed);
                }
                (ck.on_slow)(&why);
                seen.slow = Some(why);
            }
        }
        match exit_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(()) => left -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if last_ck.elapsed() >= ck.every {
            last_ck = Instant::now();
            let w = durable_at(); // before the flush: all of it is then durable
            if w > saved && p.dev.sync().is_ok() {
                saved = w;
                let d = Durable::at(
                    w,
                    p.start,
                    &p.errors.lock().unwrap_or_else(|p| p.into_inner()),
                );
                (ck.save)(&d);
            }
        }
    }
    progress(p.done.load(Ordering::Relaxed));
    seen
}

/// [`run_pass`] from `ck.start`, flushing and calling `ck.save` with the durable offset every
/// `ck.every`. Chunks complete out of order, so the durable offset is the end of the
/// contiguous run of completed chunks, read *before* the flush that makes it true.
/// `Writer`s write; this thread `coordinate`s.
pub fn run_pass_from(
    dev: &dyn BlockIo,
    pattern: &Pattern,
    cfg: &IoConfig,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u64),
    mut ck: Checkpoints,
) -> PassReport {
    let started = SystemTime::now();
    let t0 = Instant::now();
    let size = dev.size();
    let chunk = chunk_size(cfg.buffer_size, dev.block_size(), pattern.period()) as u64;
    let zones = dev.zones();
    // A zoned device is written a zone at a time; a resume starts at a zone's start (the zone
    // an interruption cut is reset and written again).
    let unit = zones.map_or(chunk, |z| z.zone_bytes.max(1));
    let start = ck.start.min(size) / unit * unit;
    let nunits = (size - start).div_ceil(unit);
    let p = Pass {
        dev,
        pattern,
        cfg,
        cancel,
        start,
        size,
        chunk,
        unit,
        nunits,
        zones,
        zones_reset: AtomicU64::new(0),
        bs: u64::from(dev.block_size()),
        marks: Mutex::new(Watermark::default()),
        next: AtomicU64::new(0),
        done: AtomicU64::new(0),
        retries: AtomicU64::new(0),
        recovered: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        panicked: AtomicBool::new(false),
        gave_up: AtomicBool::new(false),
        dead_chunks: AtomicU64::new(0),
        errors: Mutex::new(Vec::new()),
    };
    let workers = cfg.queue_depth.clamp(1, nunits.max(1) as usize);
    let (exit_tx, exit_rx) = mpsc::channel();
    let seen = std::thread::scope(|s| {
        for _ in 0..workers {
            let w = Writer {
                pass: &p,
                _exit: ExitSignal(exit_tx.clone()),
            };
            s.spawn(move || w.run());
        }
        drop(exit_tx);
        coordinate(&p, workers, &exit_rx, progress, &mut ck)
    });
    report(p, seen, started, t0)
}

/// The pass's report, once every worker has ended: what was flushed is durable (the device
/// flushed again, even after an error: it is data the certificate counts).
fn report(p: Pass, seen: Watched, started: SystemTime, t0: Instant) -> PassReport {
    let marks = p.marks.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut errors = p.errors.into_inner().unwrap_or_else(|p| p.into_inner());
    errors.sort_by_key(|e| e.offset);
    let flush_error = p.dev.sync().err().map(|e| format!("fdatasync failed: {e}"));
    let panicked = p.panicked.into_inner();
    let flush_error = if panicked {
        Some(format!(
            "internal error: a writer worker failed; the pass is incomplete{}",
            flush_error.map(|f| format!(" ({f})")).unwrap_or_default()
        ))
    } else {
        flush_error
    };
    let durable_offset = if flush_error.is_none() {
        marks.offset(p.start, p.unit, p.size)
    } else {
        p.start
    };
    let durable = Durable::at(durable_offset, p.start, &errors);
    // A cancel that came after every chunk was done interrupted nothing.
    let interrupted = p.cancel.load(Ordering::Relaxed) && marks.low < p.nunits;
    let gave_up = p.gave_up.into_inner();
    let aborted = p.stop.load(Ordering::Relaxed) && !gave_up && !seen.slow_stopped && !panicked;
    PassReport {
        bytes_written: p.done.into_inner(),
        errors,
        retries: p.retries.into_inner(),
        recovered: p.recovered.into_inner(),
        aborted,
        gave_up,
        slow: seen.slow,
        slow_stopped: seen.slow_stopped,
        durable,
        flush_error,
        interrupted,
        zones_reset: p.zones_reset.into_inner(),
        started,
        finished: SystemTime::now(),
        elapsed: t0.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::mem::MemDevice;
    use crate::pattern::Prng;

    fn cfg(buffer: usize, qd: usize) -> IoConfig {
        IoConfig {
            buffer_size: buffer,
            queue_depth: qd,
            budget: FillBudget::new(2),
            retry_delay: Duration::ZERO,
            ..IoConfig::default()
        }
    }

    fn expected(p: &Pattern, size: usize) -> Vec<u8> {
        let mut v = vec![0u8; size];
        p.fill_at(&mut v, 0);
        v
    }

    #[test]
    fn chunk_size_respects_block_and_period() {
        assert_eq!(chunk_size(4 << 20, 4096, None), 4 << 20);
        assert_eq!(chunk_size(4 << 20, 512, Some(3)) % (512 * 3), 0);
        assert_eq!(chunk_size(4 << 20, 4096, Some(3)) % (4096 * 3), 0);
        assert_eq!(chunk_size(100, 4096, None), 4096, "never below one block");
        assert_eq!(chunk_size(4 << 20, 4096, Some(2)), 4 << 20);
    }

    #[test]
    fn every_byte_written_exactly_once_at_any_depth_and_buffer() {
        let random = Pattern::Random {
            prng: Prng::ChaCha8,
            seed: [4; 32],
            inverted: false,
        };
        let fixed = Pattern::Fixed(vec![0x92, 0x49, 0x24]);
        // sizes: block multiple, odd tail (image-file style), smaller than one buffer.
        for &(size, block) in &[
            (1 << 20, 512u32),
            (1_000_003, 4096),
            (3000, 4096),
            (5 * 4096, 4096),
        ] {
            for buffer in [4096, 64 << 10, 8 << 20] {
                for qd in [1, 3, 8] {
                    for p in [&random, &fixed] {
                        let dev = MemDevice::new(size, block, 0xEE);
                        let cancel = AtomicBool::new(false);
                        let mut last = 0;
                        let r = run_pass(&dev, p, &cfg(buffer, qd), &cancel, &mut |d| last = d);
                        assert!(r.complete(size as u64), "{size} {buffer} {qd} {r:?}");
                        assert_eq!(last, size as u64);
                        assert_eq!(dev.contents(), expected(p, size), "{size} {buffer} {qd}");
                        // Exactly once: the writes tile the target with no overlap.
                        let mut log = dev.log.lock().unwrap().clone();
                        log.sort();
                        let mut at = 0u64;
                        for (off, len) in log {
                            assert_eq!(off, at, "gap or overlap at {off}");
                            at += len as u64;
                        }
                        assert_eq!(at, size as u64);
                        assert!(*dev.syncs.lock().unwrap() >= 1, "flushed");
                    }
                }
            }
        }
    }

    /// A host-managed zoned device: every sequential zone reset, then written in order from its
    /// start (several zones at once), conventional zones as any disk; whatever the depth,
    /// buffer and pattern (a 3-byte pattern whose period does not divide the zone size).
    #[test]
    fn a_zoned_device_is_written_zone_by_zone_at_each_write_pointer() {
        let random = Pattern::Random {
            prng: Prng::ChaCha8,
            seed: [9; 32],
            inverted: false,
        };
        let fixed = Pattern::Fixed(vec![0x92, 0x49, 0x24]);
        let (size, zone) = (1 << 20, 64 << 10);
        for qd in [1, 4] {
            for buffer in [4096, 24 << 10, 1 << 20] {
                for p in [&random, &fixed] {
                    let dev = MemDevice::zoned(size, 512, zone, 2, 0xEE);
                    let r = run_pass(
                        &dev,
                        p,
                        &cfg(buffer, qd),
                        &AtomicBool::new(false),
                        &mut |_| {},
                    );
                    assert!(r.complete(size as u64), "{qd} {buffer} {r:?}");
                    assert_eq!(r.zones_reset, 14, "every sequential zone, once");
                    assert_eq!(dev.contents(), expected(p, size), "{qd} {buffer}");
                    let now = dev.report_zones().unwrap().unwrap();
                    assert!(now.not_full().is_empty(), "{now:?}");
                }
            }
        }
    }

    /// A zone that takes no write, a reset the drive refuses, and a write that fails in a
    /// sequential zone: each records the rest of its zone as failed (never skipped), and the
    /// other zones are written.
    #[test]
    fn a_zone_that_cannot_be_written_is_recorded_as_failed() {
        let zone = 64u64 << 10;
        let mut dev = MemDevice::zoned(1 << 20, 512, zone, 0, 0xEE).zone_offline(3);
        dev.fail_writes = vec![(5 * zone + 8192, 5 * zone + 8704)];
        dev.fail_resets = vec![9 * zone];
        let p = Pattern::Fixed(vec![0x55]);
        let r = run_pass(
            &dev,
            &p,
            &cfg(4096, 3),
            &AtomicBool::new(false),
            &mut |_| {},
        );
        let failed: Vec<(u64, u64)> = r.errors.iter().map(|e| (e.offset, e.length)).collect();
        assert_eq!(
            failed,
            vec![
                (3 * zone, zone),
                (5 * zone + 8192, zone - 8192),
                (9 * zone, zone)
            ],
            "{r:?}"
        );
        assert!(r.errors[0].error.contains("offline"), "{:?}", r.errors[0]);
        assert!(
            r.errors[1].error.contains("sequential zone"),
            "{:?}",
            r.errors[1]
        );
        assert!(
            r.errors[2].error.contains("zone reset failed"),
            "{:?}",
            r.errors[2]
        );
        assert_eq!(r.bytes_written, (1 << 20) - 2 * zone - (zone - 8192));
        assert_eq!(
            r.zones_reset, 14,
            "all 16 but the offline one and the refused one"
        );
        assert_eq!(
            r.durable.offset,
            1 << 20,
            "every zone is done (written or failed)"
        );
    }

    /// An interrupted zoned pass is durable up to the last zone written whole; a resume starts
    /// at that zone's start, whatever offset it is given, and resets the zone cut short.
    #[test]
    fn a_zoned_pass_resumes_at_the_start_of_the_zone_it_was_cut_in() {
        let zone = 64u64 << 10;
        let dev = MemDevice::zoned(1 << 20, 512, zone, 1, 0xEE);
        let p = Pattern::Random {
            prng: Prng::ChaCha8,
            seed: [3; 32],
            inverted: false,
        };
        // Zones 0-5 written by an earlier run, zone 6 half-written, then cut.
        let first = run_pass(
            &MemDevice::zoned(1 << 20, 512, zone, 1, 0xEE),
            &p,
            &cfg(4096, 1),
            &AtomicBool::new(false),
            &mut |_| {},
        );
        assert!(first.complete(1 << 20));
        let mut none = |_: &Durable| {};
        let mut quiet = |_: &str| {};
        let mut buf = vec![0u8; (6 * zone + zone / 2) as usize];
        p.fill_at(&mut buf, 0);
        dev.reset_zones(zone, 6 * zone).unwrap();
        for z in 0..6u64 {
            let (a, b) = ((z * zone) as usize, ((z + 1) * zone) as usize);
            dev.write_at(&buf[a..b], z * zone).unwrap();
        }
        dev.write_at(&buf[(6 * zone) as usize..], 6 * zone).unwrap();
        let ck = Checkpoints {
            start: 6 * zone + zone / 2,
            every: Duration::MAX,
            save: &mut none,
            on_slow: &mut quiet,
        };
        let r = run_pass_from(
            &dev,
            &p,
            &cfg(4096, 2),
            &AtomicBool::new(false),
            &mut |_| {},
            ck,
        );
        assert!(r.errors.is_empty(), "{r:?}");
        assert_eq!(
            r.bytes_written,
            10 * zone,
            "zone 6 again, whole, and the rest"
        );
        assert_eq!(r.zones_reset, 10);
        assert_eq!(dev.contents(), expected(&p, 1 << 20));
        assert!(dev.report_zones().unwrap().unwrap().not_full().is_empty());
    }

    /// A cancel that comes in the middle of a zone stops the zone there: it is not complete,
    /// so the durable offset stays at its start (a resume resets and writes it again).
    #[test]
    fn a_zone_cut_by_a_cancel_is_not_counted_done() {
        let zone = 64u64 << 10;
        let cancel = std::sync::Arc::new(AtomicBool::new(false));
        let mut dev = MemDevice::zoned(1 << 20, 512, zone, 0, 0xEE);
        let c = std::sync::Arc::clone(&cancel);
        dev.on_write = Some(Box::new(move |off| {
            if off == 2 * zone + 8192 {
                c.store(true, Ordering::Relaxed);
            }
        }));
        let p = Pattern::Fixed(vec![0x55]);
        let r = run_pass(&dev, &p, &cfg(4096, 1), &cancel, &mut |_| {});
        assert!(r.interrupted, "{r:?}");
        assert_eq!(r.durable.offset, 2 * zone, "{:?}", r.durable);
        assert_eq!(
            r.bytes_written,
            2 * zone + 8192 + 4096,
            "it stopped at the next chunk"
        );
    }

    /// A device whose writes panic at one offset (a bug anywhere under a worker).
    struct Panics(MemDevice, u64);

    impl BlockIo for Panics {
        fn size(&self) -> u64 {
            self.0.size()
        }
        fn block_size(&self) -> u32 {
            self.0.block_size()
        }
        fn write_at(&self, b: &[u8], o: u64) -> std::io::Result<()> {
            assert!(
                o != self.1,
                "a bug under a writer worker {}",
                crate::testing::INTENDED
            );
            self.0.write_at(b, o)
        }
        fn read_at(&self, b: &mut [u8], o: u64) -> std::io::Result<usize> {
            self.0.read_at(b, o)
        }
        fn sync(&self) -> std::io::Result<()> {
            self.0.sync()
        }
    }

    #[test]
    fn a_panicking_worker_ends_the_pass_incomplete_instead_of_the_process() {
        crate::testing::quiet_intended_panics();
        let dev = Panics(MemDevice::new(8 << 20, 512, 0), 2 << 20);
        let r = run_pass(
            &dev,
            &Pattern::Fixed(vec![7]),
            &cfg(1 << 20, 2),
            &AtomicBool::new(false),
            &mut |_| {},
        );
        assert!(!r.complete(8 << 20), "{r:?}");
        assert!(!r.aborted);
        assert!(
            r.flush_error
                .as_deref()
                .unwrap_or("")
                .contains("internal error"),
            "{r:?}"
        );
    }

    #[test]
    fn a_failing_write_is_narrowed_to_its_blocks_and_the_rest_written() {
        for qd in [1, 4] {
            let mut dev = MemDevice::new(4 << 20, 512, 0);
            // Bytes 3 MiB + 100 .. 3 MiB + 700 fail: blocks 3 MiB and 3 MiB + 512.
            dev.fail_writes = vec![((3 << 20) + 100, (3 << 20) + 700)];
            let cancel = AtomicBool::new(false);
            let r = run_pass(
                &dev,
                &Pattern::Fixed(vec![1]),
                &cfg(256 << 10, qd),
                &cancel,
                &mut |_| {},
            );
            assert!(!r.complete(4 << 20));
            assert_eq!(r.errors.len(), 1, "{r:?}");
            assert_eq!(
                (r.errors[0].offset, r.errors[0].length),
                (3 << 20, 1024),
                "coalesced blocks"
            );
            assert!(
                r.errors[0].error.contains("Input/output error"),
                "{}",
                r.errors[0].error
            );
            assert_eq!(r.bytes_written, (4 << 20) - 1024, "everything else written");
            assert_eq!(r.retries, 3, "the chunk was retried before narrowing");
            let c = dev.contents();
            assert!(
                c[..3 << 20].iter().all(|&b| b == 1)
                    && c[(3 << 20) + 1024..].iter().all(|&b| b == 1)
            );
            assert!(!r.aborted);
        }
    }

    #[test]
    fn abort_stops_the_pass_at_the_first_bad_chunk() {
        let mut dev = MemDevice::new(4 << 20, 512, 0);
        dev.fail_writes = vec![(1 << 20, (1 << 20) + 1)];
        let c = IoConfig {
            on_error: OnError::Abort,
            ..cfg(256 << 10, 1)
        };
        let r = run_pass(
            &dev,
            &Pattern::Fixed(vec![1]),
            &c,
            &AtomicBool::new(false),
            &mut |_| {},
        );
        assert!(r.aborted);
        assert_eq!(r.errors[0].offset, 1 << 20);
        assert!(
            r.bytes_written < 2 << 20,
            "nothing after the bad chunk: {}",
            r.bytes_written
        );
    }

    #[test]
    fn a_device_that_stops_answering_is_given_up_on() {
        let mut dev = MemDevice::new(64 << 20, 512, 0);
        dev.fail_writes = vec![(8 << 20, 64 << 20)];
        let r = run_pass(
            &dev,
            &Pattern::Fixed(vec![1]),
            &cfg(1 << 20, 1),
            &AtomicBool::new(false),
            &mut |_| {},
        );
        assert!(r.gave_up && !r.aborted);
        assert_eq!(r.bytes_written, 8 << 20);
        let failed: u64 = r.errors.iter().map(|e| e.length).sum();
        assert_eq!(
            failed,
            GIVE_UP_AFTER << 20,
            "stopped after {GIVE_UP_AFTER} dead chunks, not 56"
        );
    }

    #[test]
    fn a_pass_resumes_from_a_durable_offset_with_the_same_bytes() {
        let p = Pattern::Random {
            prng: Prng::Aes128Ctr,
            seed: [2; 32],
            inverted: false,
        };
        let size = 5 * (256 << 10) + 4096 * 3;
        let dev = MemDevice::new(size, 512, 0xEE);
        let mut saves = vec![];
        let mut save = |d: &Durable| saves.push(d.offset);
        let start = 2 * (256 << 10);
        let mut quiet = |_: &str| {};
        let ck = Checkpoints {
            start: start as u64,
            every: Duration::ZERO,
            save: &mut save,
            on_slow: &mut quiet,
        };
        let r = run_pass_from(
            &dev,
            &p,
            &cfg(256 << 10, 3),
            &AtomicBool::new(false),
            &mut |_| {},
            ck,
        );
        assert_eq!(r.bytes_written, (size - start) as u64);
        assert_eq!(r.durable.offset, size as u64);
        let c = dev.contents();
        assert!(
            c[..start].iter().all(|&b| b == 0xEE),
            "nothing before the start is touched"
        );
        assert_eq!(
            c[start..],
            expected(&p, size)[start..],
            "the same stream from the start on"
        );
        assert!(
            saves.windows(2).all(|w| w[0] < w[1]),
            "checkpoints only move forward: {saves:?}"
        );
        assert!(saves.iter().all(|&o| o as usize >= start
            && o as usize <= size
            && (o as usize - start).is_multiple_of(256 << 10)
            || o as usize == size));
    }

    #[test]
    fn the_durable_offset_never_passes_an_unfinished_chunk() {
        // A cancel mid-pass: what is claimed durable was all written.
        let p = Pattern::Fixed(vec![0x5A]);
        let dev = MemDevice::new(64 << 20, 512, 0);
        let cancel = AtomicBool::new(false);
        let mut n = 0;
        let r = run_pass(&dev, &p, &cfg(1 << 20, 4), &cancel, &mut |_| {
            n += 1;
            if n == 2 {
                cancel.store(true, Ordering::Relaxed);
            }
        });
        let c = dev.contents();
        let d = r.durable.offset as usize;
        assert!(
            c[..d].iter().all(|&b| b == 0x5A),
            "claimed bytes are written"
        );
        if r.interrupted {
            assert!(d < 64 << 20);
        }
    }

    /// A device that takes `ms` per write.
    struct Crawl(MemDevice, u64);

    impl BlockIo for Crawl {
        fn size(&self) -> u64 {
            self.0.size()
        }
        fn block_size(&self) -> u32 {
            self.0.block_size()
        }
        fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
            std::thread::sleep(Duration::from_millis(self.1));
            self.0.write_at(buf, offset)
        }
        fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
            self.0.read_at(buf, offset)
        }
        fn sync(&self) -> std::io::Result<()> {
            self.0.sync()
        }
    }

    #[test]
    fn the_watchdog_reports_and_can_stop_a_crawling_device() {
        let dev = Crawl(MemDevice::new(64 << 20, 512, 0), 50); // ~1.3 MB/s at 64 KiB writes
        let w = Watchdog {
            floor: 100e6,
            window: Duration::from_millis(300),
            stop: true,
        };
        let c = IoConfig {
            watchdog: Some(w),
            ..cfg(64 << 10, 1)
        };
        let t = Instant::now();
        let r = run_pass(
            &dev,
            &Pattern::Fixed(vec![1]),
            &c,
            &AtomicBool::new(false),
            &mut |_| {},
        );
        assert!(
            r.slow_stopped && r.slow.as_deref().unwrap().contains("below the floor"),
            "{r:?}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "stopped, not crawled to the end"
        );
        assert!(!r.aborted && !r.complete(64 << 20));
        // Without stop: reported, and the pass runs to its end.
        let dev = Crawl(MemDevice::new(2 << 20, 512, 0), 30);
        let w = Watchdog {
            floor: 100e6,
            window: Duration::from_millis(200),
            stop: false,
        };
        let c = IoConfig {
            watchdog: Some(w),
            ..cfg(64 << 10, 1)
        };
        let r = run_pass(
            &dev,
            &Pattern::Fixed(vec![1]),
            &c,
            &AtomicBool::new(false),
            &mut |_| {},
        );
        assert!(r.slow.is_some() && !r.slow_stopped && r.complete(2 << 20));
    }

    #[test]
    fn a_write_that_fails_once_is_retried_and_counted() {
        let dev = MemDevice::new(1 << 20, 512, 0);
        dev.fail_once(true, 4096, 4097);
        let r = run_pass(
            &dev,
            &Pattern::Fixed(vec![3]),
            &cfg(64 << 10, 2),
            &AtomicBool::new(false),
            &mut |_| {},
        );
        assert!(r.complete(1 << 20), "{r:?}");
        assert_eq!((r.retries, r.recovered), (1, 1));
        assert!(dev.contents().iter().all(|&b| b == 3));
    }

    /// A device whose writes wait until `n` of them are in flight at once, then fail at the
    /// chosen offsets: proves concurrent failures are all kept.
    struct Gate {
        inner: MemDevice,
        barrier: std::sync::Barrier,
        calls: AtomicU64,
        /// Chunks (offset, length) whose every write fails.
        fail_at: Vec<(u64, u64)>,
    }

    impl BlockIo for Gate {
        fn size(&self) -> u64 {
            self.inner.size()
        }
        fn block_size(&self) -> u32 {
            self.inner.block_size()
        }
        fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
            if self.calls.fetch_add(1, Ordering::SeqCst) < 4 {
                self.barrier.wait();
            }
            if self
                .fail_at
                .iter()
                .any(|&(o, l)| offset >= o && offset < o + l)
            {
                return Err(std::io::Error::from_raw_os_error(nix::libc::EIO));
            }
            self.inner.write_at(buf, offset)
        }
        fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
            self.inner.read_at(buf, offset)
        }
        fn sync(&self) -> std::io::Result<()> {
            self.inner.sync()
        }
    }

    #[test]
    fn every_failure_among_writes_in_flight_is_reported() {
        let chunk = 64 << 10;
        let dev = Gate {
            inner: MemDevice::new(4 * chunk, 512, 0),
            barrier: std::sync::Barrier::new(4),
            calls: AtomicU64::new(0),
            fail_at: vec![
                (chunk as u64, chunk as u64),
                (3 * chunk as u64, chunk as u64),
            ],
        };
        let r = run_pass(
            &dev,
            &Pattern::Fixed(vec![7]),
            &cfg(chunk, 4),
            &AtomicBool::new(false),
            &mut |_| {},
        );
        let offsets: Vec<u64> = r.errors.iter().map(|e| e.offset).collect();
        assert!(
            r.errors.iter().all(|e| e.length == chunk as u64),
            "each whole bad chunk, coalesced"
        );
        assert_eq!(
            offsets,
            vec![chunk as u64, 3 * chunk as u64],
            "both in-flight failures kept, in order"
        );
        assert_eq!(
            r.bytes_written,
            2 * chunk as u64,
            "the two good writes counted"
        );
        let c = dev.inner.contents();
        assert!(
            c[..chunk].iter().all(|&b| b == 7) && c[2 * chunk..3 * chunk].iter().all(|&b| b == 7)
        );
        assert!(
            c[chunk..2 * chunk].iter().all(|&b| b == 0),
            "failed range not claimed as written"
        );
    }

    #[test]
    fn the_watermark_is_the_end_of_the_contiguous_complete_run() {
        let mut m = Watermark::default();
        for i in [2, 1, 4] {
            m.complete(i);
        }
        assert_eq!(m.offset(100, 10, 1000), 100, "chunk 0 is still open");
        m.complete(0);
        assert_eq!(m.offset(100, 10, 1000), 130, "0..=2 done, 3 open");
        m.complete(3);
        assert_eq!(m.offset(100, 10, 145), 145, "never past the end");
    }

    #[test]
    fn the_rate_watch_judges_only_a_full_window() {
        let dog = Watchdog {
            floor: 1e6,
            window: Duration::from_secs(10),
            stop: false,
        };
        let t = Instant::now();
        let at = |s: u64| t + Duration::from_secs(s);
        let mut w = RateWatch::new(dog);
        assert_eq!(w.observe(at(0), 0), None);
        assert_eq!(w.observe(at(5), 1000), None, "half a window is no verdict");
        let why = w.observe(at(10), 2000).expect("200 B/s over 10 s is slow");
        assert!(why.contains("below the floor of 1.00 MB/s"), "{why}");
        let mut w = RateWatch::new(dog);
        w.observe(at(0), 0);
        assert_eq!(w.observe(at(10), 20_000_000), None, "2 MB/s is fine");
        // A stall after a fast start: judged over the last window, not since the start.
        w.observe(at(20), 20_000_000);
        assert!(w.observe(at(30), 20_000_000).is_some());
    }

    #[test]
    fn a_cancel_after_the_last_chunk_of_a_resumed_pass_interrupts_nothing() {
        let size = 8 << 20;
        let start = 3 << 20;
        let dev = MemDevice::new(size, 512, 0);
        let cancel = AtomicBool::new(false);
        let (mut none, mut quiet) = (|_: &Durable| {}, |_: &str| {});
        let ck = Checkpoints {
            start: start as u64,
            every: Duration::MAX,
            save: &mut none,
            on_slow: &mut quiet,
        };
        // The last progress report comes after every worker has ended.
        let r = run_pass_from(
            &dev,
            &Pattern::Fixed(vec![9]),
            &cfg(1 << 20, 2),
            &cancel,
            &mut |d| {
                if d == (size - start) as u64 {
                    cancel.store(true, Ordering::Relaxed);
                }
            },
            ck,
        );
        assert!(cancel.load(Ordering::Relaxed));
        assert!(!r.interrupted, "{r:?}");
        assert_eq!(r.durable.offset, size as u64);
        assert_eq!(r.durable.bytes_written, (size - start) as u64);
    }

    #[test]
    fn cancel_stops_early_and_says_so() {
        let dev = MemDevice::new(8 << 20, 512, 0);
        let cancel = AtomicBool::new(true);
        let r = run_pass(
            &dev,
            &Pattern::Fixed(vec![1]),
            &cfg(64 << 10, 2),
            &cancel,
            &mut |_| {},
        );
        assert!(r.interrupted);
        assert!(!r.complete(8 << 20));
    }
}
