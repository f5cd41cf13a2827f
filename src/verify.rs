//! Verification: which bytes to read back (`sample_plan` / `full_plan`, pure and reproducible
//! from a seed) and reading them (`run`): direct-I/O reads in flight on worker threads, each
//! compared with the expected pattern regenerated at its offset, all bytes read fed *in order*
//! into one BLAKE3 hasher whose digest goes into the certificate.
//!
//! The sampling rule (documented in docs/certificates.md so a third party can redraw it):
//! 1. `N = ceil(size / block)` blocks. Targets under 64 blocks, or `percent >= 100`, are read whole.
//! 2. `S = min(1000, N / 32)` subsections; subsection `i` is blocks `[i*N/S, (i+1)*N/S)`.
//! 3. Sample length `k` blocks: `1 MiB / block`, halved while `16 k` exceeds the shortest
//!    subsection `Lmin = N / S`, or two samples exceed `percent` of it (`200 k > percent * Lmin`);
//!    never below one block.
//! 4. A ChaCha8 generator keyed by the verification seed (rand_chacha, stream 0). For each
//!    subsection in order, with `L` blocks and `slots = L / k`: draw
//!    `m = min(slots, max(2, ceil(percent * L / (100 k))))` distinct slots with Floyd's
//!    algorithm (`for j in slots-m .. slots: t = uniform(j+1); take t, or j if t was taken`),
//!    where `uniform(n)` draws a u64 and rejects the top `2^64 mod n` values.
//! 5. Add the first block and the last block if no sample holds them; sort by offset.
//! 6. If coverage is still below `percent` (only possible near 100 %), read everything.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Instant, SystemTime};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::aligned::AlignedBuf;
pub use crate::contract::Extent;
use crate::contract::IoFailure;
use crate::device::BlockIo;
use crate::draw::uniform_below;
use crate::pattern::Pattern;
use crate::writer::{attempt, chunk_size, IoConfig};

/// Most subsections a sampled verification uses.
pub const MAX_SUBSECTIONS: u64 = 1000;
/// Largest single sample.
pub const MAX_SAMPLE_BYTES: u64 = 1 << 20;

/// The ranges a verification reads, in the order they are hashed.
#[derive(Clone, Debug, PartialEq)]
pub enum Extents {
    /// Explicit samples, sorted by offset, non-overlapping.
    List(Vec<Extent>),
    /// The whole target in consecutive chunks.
    Whole { size: u64, chunk: u64 },
}

impl Extents {
    /// Number of ranges.
    pub fn len(&self) -> u64 {
        match self {
            Extents::List(v) => v.len() as u64,
            Extents::Whole { size, chunk } => size.div_ceil(*chunk),
        }
    }

    /// True if there is nothing to read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th range.
    pub fn get(&self, i: u64) -> Extent {
        match self {
            Extents::List(v) => v[i as usize],
            Extents::Whole { size, chunk } => {
                let offset = i * chunk;
                Extent {
                    offset,
                    len: (*chunk).min(size - offset),
                }
            }
        }
    }

    /// Total bytes covered.
    pub fn bytes(&self) -> u64 {
        match self {
            Extents::List(v) => v.iter().map(|e| e.len).sum(),
            Extents::Whole { size, .. } => *size,
        }
    }
}

/// What a verification will read.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    /// Subsections the target was split into (1 for a full read).
    pub subsections: u64,
    /// Size of one sample (the chunk size for a full read).
    pub sample_bytes: u64,
    /// The ranges, in hashing order.
    pub extents: Extents,
    /// Bytes covered / size, percent.
    pub coverage_percent: f64,
}

/// Reads the whole target in `chunk`-byte pieces.
pub fn full_plan(size: u64, chunk: u64) -> Samples {
    let chunk = chunk.max(1);
    Samples {
        subsections: 1,
        sample_bytes: chunk,
        extents: Extents::Whole { size, chunk },
        coverage_percent: 100.0,
    }
}

/// Pseudorandom samples covering at least `percent` of a `size`-byte target (see module docs).
pub fn sample_plan(size: u64, block: u32, percent: u8, seed: &[u8; 32]) -> Samples {
    let bs = u64::from(block.max(1));
    let n = size.div_ceil(bs);
    let whole = || full_plan(size, (MAX_SAMPLE_BYTES / bs).max(1) * bs);
    if percent >= 100 || n < 64 {
        return whole();
    }
    let s = (n / 32).clamp(1, MAX_SUBSECTIONS);
    let bound = |i: u64| (u128::from(i) * u128::from(n) / u128::from(s)) as u64;
    let shortest = n / s;
    let mut k = (MAX_SAMPLE_BYTES / bs).max(1);
    while k > 1 && (k * 16 > shortest || 2 * k * 100 > u64::from(percent) * shortest) {
        k /= 2;
    }
    let mut rng = ChaCha8Rng::from_seed(*seed);
    let mut ext = Vec::new();
    let pct = u64::from(percent);
    for i in 0..s {
        let (start, end) = (bound(i), bound(i + 1));
        let len = end - start;
        let slots = len / k;
        let m = (pct * len).div_ceil(100 * k).max(2).min(slots);
        let mut chosen = BTreeSet::new();
        for j in slots - m..slots {
            let t = uniform_below(&mut rng, j + 1);
            if !chosen.insert(t) {
                chosen.insert(j);
            }
        }
        for slot in chosen {
            let b = start + slot * k;
            let offset = b * bs;
            ext.push(Extent {
                offset,
                len: (k * bs).min(size - offset),
            });
        }
    }
    if ext.first().map(|e| e.offset) != Some(0) {
        ext.push(Extent {
            offset: 0,
            len: bs.min(size),
        });
    }
    if ext.iter().all(|e| e.offset + e.len < size) {
        let last = (n - 1) * bs;
        ext.push(Extent {
            offset: last,
            len: size - last,
        });
    }
    ext.sort_by_key(|e| e.offset);
    let bytes: u64 = ext.iter().map(|e| e.len).sum();
    let coverage = bytes as f64 * 100.0 / size as f64;
    if coverage < f64::from(percent) {
        return whole();
    }
    Samples {
        subsections: s,
        sample_bytes: k * bs,
        extents: Extents::List(ext),
        coverage_percent: coverage,
    }
}

impl Samples {
    /// These samples plus the parts of `extra` (the seams of a resumed pass, the regions a
    /// resumed wipe reads in full) that no sample already covers, as extents of at most
    /// `sample_bytes` each, all sorted by offset. The drawn samples stay as they are; a full
    /// read already covers everything. Each range of `extra` is placed in turn around what is
    /// there already (the drawn samples, then the earlier ranges' pieces), so the result is the
    /// same for the same `extra` in the same order; `O(pieces × log samples)`.
    pub fn with_extra(mut self, extra: &[Extent], size: u64) -> Samples {
        let max = self.sample_bytes.max(1);
        let Extents::List(v) = &mut self.extents else {
            return self;
        };
        let mut have: BTreeMap<u64, u64> = v.iter().map(|e| (e.offset, e.len)).collect();
        for e in extra {
            let (mut at, end) = (e.offset, e.offset.saturating_add(e.len).min(size));
            while at < end {
                // The extent covering `at` (extents do not overlap: the last one starting at
                // or before it), else the next one: skip what it covers, or stop before it.
                if let Some((&o, &l)) = have.range(..=at).next_back() {
                    if o + l > at {
                        at = o + l;
                        continue;
                    }
                }
                let gap_end = have
                    .range(at + 1..)
                    .next()
                    .map_or(end, |(&o, _)| o.min(end));
                let len = (gap_end - at).min(max);
                have.insert(at, len);
                v.push(Extent { offset: at, len });
                at += len;
            }
        }
        v.sort_by_key(|e| e.offset);
        self.coverage_percent =
            v.iter().map(|e| e.len).sum::<u64>() as f64 * 100.0 / size.max(1) as f64;
        self
    }

    /// How many bytes of `[0, upto)` these extents cover.
    pub fn covered_below(&self, upto: u64) -> u64 {
        match &self.extents {
            Extents::List(v) => v
                .iter()
                .take_while(|e| e.offset < upto)
                .map(|e| e.len.min(upto - e.offset))
                .sum(),
            Extents::Whole { size, .. } => upto.min(*size),
        }
    }
}

/// Nothing drawn: the samples of a verification whose method is `none`, to which a resumed
/// wipe adds the regions it reads in full ([`Samples::with_extra`], in pieces of 1 MiB).
pub fn no_samples(block: u32) -> Samples {
    let bs = u64::from(block.max(1));
    Samples {
        subsections: 0,
        sample_bytes: (MAX_SAMPLE_BYTES / bs).max(1) * bs,
        extents: Extents::List(Vec::new()),
        coverage_percent: 0.0,
    }
}

/// Where systems write on their own while a medium is out of mediasan's hands (partition
/// tables and the GPT backup, RAID and LVM superblocks): the first and the last MiB (aligned to
/// `block`, within `size`), which the verification of a resumed wipe reads in full.
pub fn edges(size: u64, block: u32) -> Vec<Extent> {
    let bs = u64::from(block.max(1));
    let mib = (1u64 << 20).div_ceil(bs) * bs;
    let head = mib.min(size);
    let tail = size.saturating_sub(mib) / bs * bs;
    let mut v = vec![Extent {
        offset: 0,
        len: head,
    }];
    if tail >= head {
        v.push(Extent {
            offset: tail,
            len: size - tail,
        });
    } else if size > head {
        v.push(Extent {
            offset: head,
            len: size - head,
        });
    }
    v
}

/// What a resumed wipe's verification reads in full so that at least `percent` of `[0, upto)`
/// (the part of the last pass written before an interruption) is read: nothing when the drawn
/// samples already cover that much (each whole subsection carries at least `percent`), else
/// the rest of the subsection `upto` falls in, from its start to `upto`.
pub fn top_up(samples: &Samples, size: u64, block: u32, upto: u64, percent: u8) -> Option<Extent> {
    let bs = u64::from(block.max(1));
    let upto = upto.min(size) / bs * bs;
    if upto == 0 || samples.covered_below(upto) * 100 >= u64::from(percent) * upto {
        return None;
    }
    let n = size.div_ceil(bs);
    let s = samples.subsections.max(1);
    let bound = |i: u64| (u128::from(i) * u128::from(n) / u128::from(s)) as u64;
    let at = upto / bs;
    let i = (0..s).rev().find(|&i| bound(i) <= at).unwrap_or(0);
    let start = bound(i) * bs;
    Some(Extent {
        offset: start,
        len: upto - start,
    })
}

/// The ranges around each point where a pass was resumed, `window` bytes either side
/// (aligned to `block`, within `size`): where a journal that claimed too much would show.
pub fn seams(points: &[u64], window: u64, block: u32, size: u64) -> Vec<Extent> {
    let bs = u64::from(block.max(1));
    points
        .iter()
        .filter(|&&p| p > 0 && p < size)
        .map(|&p| {
            let start = p.saturating_sub(window) / bs * bs;
            let end = (p + window).div_ceil(bs).saturating_mul(bs).min(size);
            Extent {
                offset: start,
                len: end - start,
            }
        })
        .collect()
}

/// What a verification found.
#[derive(Clone, Debug)]
pub struct VerifyReport {
    /// Bytes read and compared.
    pub bytes_read: u64,
    /// Logical blocks whose content differs from the expected pattern.
    pub mismatched_blocks: u64,
    /// Offset of the first differing block.
    pub first_mismatch: Option<u64>,
    /// BLAKE3 of every byte read, in extent order, hex.
    pub blake3: String,
    /// Reads that failed (or came back short).
    pub errors: Vec<IoFailure>,
    /// Stopped early by a cancel request.
    pub interrupted: bool,
    pub started: SystemTime,
    pub finished: SystemTime,
    pub elapsed: std::time::Duration,
}

impl VerifyReport {
    /// Everything planned was read and matched.
    pub fn clean(&self, planned: u64) -> bool {
        self.bytes_read == planned
            && self.mismatched_blocks == 0
            && self.errors.is_empty()
            && !self.interrupted
    }
}

/// Merges BLAKE3 chaining values of equal-sized, in-order subtrees into the root hash, as
/// BLAKE3's own incremental hasher does (a stack, merged as pairs complete), so the result is
/// exactly `blake3::hash` of the concatenated input. Each subtree must be `2^n` whole chunks
/// (1 KiB) and start at a multiple of its size; only the last may be shorter.
#[derive(Default)]
pub struct SubtreeMerger {
    stack: Vec<blake3::hazmat::ChainingValue>,
    pushed: u64,
}

impl SubtreeMerger {
    /// Adds the chaining value of the next subtree, which must not be the last one.
    pub fn push(&mut self, cv: blake3::hazmat::ChainingValue) {
        use blake3::hazmat::{merge_subtrees_non_root, Mode};
        let mut cv = cv;
        self.pushed += 1;
        let mut total = self.pushed;
        while total.is_multiple_of(2) {
            // A completed pair; it is not the root because the last subtree is still to come.
            let left = self.stack.pop().unwrap_or_default();
            cv = merge_subtrees_non_root(&left, &cv, Mode::Hash);
            total /= 2;
        }
        self.stack.push(cv);
    }

    /// Adds the last subtree's chaining value and returns the root hash. With nothing pushed
    /// before it there is no tree: hash a single extent with `blake3::hash` instead.
    pub fn finish(mut self, last: blake3::hazmat::ChainingValue) -> Option<blake3::Hash> {
        use blake3::hazmat::{merge_subtrees_non_root, merge_subtrees_root, Mode};
        let mut right = last;
        while let Some(left) = self.stack.pop() {
            if self.stack.is_empty() {
                return Some(merge_subtrees_root(&left, &right, Mode::Hash));
            }
            right = merge_subtrees_non_root(&left, &right, Mode::Hash);
        }
        None
    }
}

/// What a worker hands the coordinator for extent `seq`.
struct Done {
    seq: u64,
    /// Serial hashing: the bytes read (the coordinator hashes and recycles the buffer).
    buf: Option<AlignedBuf>,
    len: usize,
    /// Tree hashing: the extent's chaining value.
    cv: Option<blake3::hazmat::ChainingValue>,
}

/// How much of a buffer is hashed and checked at a time: small enough to stay in cache
/// between the two.
const PIECE: usize = 64 * 1024;

/// Compares `data` (read at `offset`) with `expected`, in blocks of `bs`, skipping the blocks
/// that overlap `unread` (they could not be read); returns the number of differing blocks and
/// the first one's offset. `clean`: what the caller's pass over the data already found (the
/// generator's own check, [`Pattern::matches_at`]), if it made one.
fn mismatches(
    expected: &Pattern,
    data: &[u8],
    offset: u64,
    bs: usize,
    want: &mut [u8],
    clean: Option<bool>,
    unread: &[IoFailure],
) -> (u64, Option<u64>) {
    let mut count = 0;
    let mut first = None;
    let mut note = |at: u64| {
        count += 1;
        first.get_or_insert(at);
    };
    let at = |i: usize| offset + (i * bs) as u64;
    if unread.is_empty() {
        match clean.or_else(|| expected.matches_at(data, offset)) {
            Some(true) => return (0, None),
            // Something differs: which blocks, by the same check per block.
            Some(false) => {
                data.chunks(bs)
                    .enumerate()
                    .filter(|(i, b)| expected.matches_at(b, at(*i)) != Some(true))
                    .for_each(|(i, _)| note(at(i)));
                return (count, first);
            }
            None => {}
        }
    }
    let want = &mut want[..data.len()];
    expected.fill_at(want, offset);
    if data != want {
        let read = |i: usize, len: usize| {
            let (a, b) = (at(i), at(i) + len as u64);
            !unread
                .iter()
                .any(|f| a < f.offset + f.length && b > f.offset)
        };
        data.chunks(bs)
            .zip(want.chunks(bs))
            .enumerate()
            .filter(|(i, (a, b))| a != b && read(*i, a.len()))
            .for_each(|(i, _)| note(at(i)));
    }
    (count, first)
}

/// What every verification worker shares: the inputs, the work queue and the tallies.
struct Shared<'a> {
    dev: &'a dyn BlockIo,
    samples: &'a Samples,
    expected: &'a Pattern,
    cfg: &'a IoConfig,
    cancel: &'a AtomicBool,
    /// The device's block size.
    bs: u64,
    /// Extents to read.
    count: u64,
    buf_len: usize,
    /// Whole-target reads in power-of-two chunks: each worker hashes its chunk as a subtree.
    tree: bool,
    /// The next extent to claim.
    next: AtomicU64,
    read_bytes: AtomicU64,
    /// Extents read to their end (with or without failures).
    extents_done: AtomicU64,
    errors: Mutex<Vec<IoFailure>>,
    /// Mismatched blocks, and the first one's offset.
    found: Mutex<(u64, Option<u64>)>,
    free_rx: Mutex<mpsc::Receiver<AlignedBuf>>,
    /// A worker panicked (a bug): everyone stops, the read is incomplete.
    abort: AtomicBool,
}

/// One verification worker: takes a buffer, claims the next extent, reads it (retried, then
/// narrowed to the unreadable blocks), hashes and compares it in one pass, hands it on.
struct Worker<'a> {
    shared: &'a Shared<'a>,
    free_tx: mpsc::Sender<AlignedBuf>,
    done_tx: mpsc::Sender<Done>,
}

impl Worker<'_> {
    /// Runs until the extents are claimed, a cancel, or an abort. A worker that panics (a bug)
    /// must not leave the others waiting for its extent forever: it raises `abort`.
    fn run(&self) {
        let body = std::panic::AssertUnwindSafe(|| self.serve());
        if std::panic::catch_unwind(body).is_err() {
            self.shared.abort.store(true, Ordering::Relaxed);
        }
    }

    fn serve(&self) {
        let sh = self.shared;
        let mut want = vec![0u8; sh.buf_len];
        // Take a buffer *before* claiming a sequence number, so the lowest unhashed number is
        // always held by a worker that can finish it (no deadlock).
        while let Some(buf) = self.free_buffer() {
            if sh.cancel.load(Ordering::Relaxed) {
                break;
            }
            let seq = sh.next.fetch_add(1, Ordering::Relaxed);
            if seq >= sh.count {
                break;
            }
            let done = self.check(seq, buf, &mut want);
            if self.done_tx.send(done).is_err() {
                break;
            }
        }
    }

    /// A free buffer, waiting for one unless the run aborted.
    fn free_buffer(&self) -> Option<AlignedBuf> {
        loop {
            let r = self
                .shared
                .free_rx
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .recv_timeout(std::time::Duration::from_millis(50));
            match r {
                Ok(b) => return Some(b),
                Err(mpsc::RecvTimeoutError::Timeout)
                    if !self.shared.abort.load(Ordering::Relaxed) => {}
                Err(_) => return None,
            }
        }
    }

    /// Reads extent `seq` into `buf`, hashes and compares it, adds to the tallies.
    fn check(&self, seq: u64, mut buf: AlignedBuf, want: &mut [u8]) -> Done {
        let sh = self.shared;
        let (bs, expected) = (sh.bs, sh.expected);
        let e = sh.samples.extents.get(seq);
        let len = e.len as usize;
        // Retried, then narrowed to the unreadable blocks (see writer::attempt).
        let r = attempt(e.offset, e.len, bs, sh.cfg, sh.cancel, &mut |o, n| {
            let from = (o - e.offset) as usize;
            let io = (n.div_ceil(bs) * bs) as usize;
            let got = sh.dev.read_at(&mut buf[from..from + io], o)?;
            if (got as u64) < n {
                return Err(std::io::Error::other(format!(
                    "short read: {got} of {n} bytes"
                )));
            }
            Ok(())
        });
        let whole = r.failures.is_empty() && r.ok == e.len;
        // A read cut short by a cancel left the rest of the extent unread: nothing of it is
        // compared, and the verification counts as interrupted.
        let failed: u64 = r.failures.iter().map(|f| f.length).sum();
        let finished = r.ok + failed == e.len;
        if finished {
            sh.extents_done.fetch_add(1, Ordering::Relaxed);
        }
        // An extent with holes is compared block by block and not hashed (the digest of an
        // incomplete read is left empty anyway).
        let got = if whole { len } else { 0 };
        let mut done = Done {
            seq,
            buf: None,
            len: got,
            cv: None,
        };
        sh.cfg.budget.run(|| {
            // One pass over the bytes in cache-sized pieces: each is hashed and checked
            // against the pattern while it is in cache.
            use blake3::hazmat::HasherExt;
            let mut hasher = (sh.tree && whole).then(|| {
                // In full mode the stream offset of an extent is its target offset.
                let mut h = blake3::Hasher::new();
                h.set_input_offset(e.offset);
                h
            });
            let mut clean = (finished && whole).then_some(true);
            for (k, piece) in buf[..len].chunks(PIECE).enumerate() {
                if let Some(h) = hasher.as_mut() {
                    h.update(piece);
                }
                if clean == Some(true) {
                    clean = expected.matches_at(piece, e.offset + (k * PIECE) as u64);
                }
            }
            done.cv = hasher.map(|h| h.finalize_non_root());
            let (n, first) = if finished {
                mismatches(
                    expected,
                    &buf[..len],
                    e.offset,
                    bs as usize,
                    want,
                    clean,
                    &r.failures,
                )
            } else {
                (0, None)
            };
            if n > 0 {
                let mut f = sh.found.lock().unwrap_or_else(|p| p.into_inner());
                f.0 += n;
                f.1 = match (f.1, first) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        });
        if !r.failures.is_empty() {
            sh.errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(r.failures);
        }
        sh.read_bytes.fetch_add(r.ok, Ordering::Relaxed);
        if sh.tree {
            let _ = self.free_tx.send(buf);
        } else {
            done.buf = Some(buf);
        }
        done
    }
}

/// The digest, built in sequence order by the coordinator: subtrees merged (tree hashing) or
/// the bytes hashed (serial).
#[derive(Default)]
struct Digest {
    hasher: blake3::Hasher,
    merger: SubtreeMerger,
    last_cv: Option<blake3::hazmat::ChainingValue>,
    hashed: u64,
}

impl Digest {
    fn absorb(&mut self, d: Done, free_tx: &mpsc::Sender<AlignedBuf>) {
        self.hashed += d.len as u64;
        if let Some(cv) = d.cv {
            if let Some(prev) = self.last_cv.replace(cv) {
                self.merger.push(prev);
            }
        }
        if let Some(buf) = d.buf {
            self.hasher.update(&buf[..d.len]);
            let _ = free_tx.send(buf);
        }
    }

    /// The hex digest (empty for an incomplete read: a digest is only meaningful over
    /// everything planned).
    fn finish(self, tree: bool, complete: bool) -> String {
        match (tree, self.last_cv) {
            _ if !complete => String::new(),
            (true, Some(cv)) => self
                .merger
                .finish(cv)
                .map(|h| h.to_hex().to_string())
                .unwrap_or_default(),
            _ => self.hasher.finalize().to_hex().to_string(),
        }
    }
}

/// Puts the workers' results in sequence order into the digest, reporting progress, until
/// every worker is gone or one aborted.
fn coordinate(
    sh: &Shared,
    done_rx: &mpsc::Receiver<Done>,
    free_tx: &mpsc::Sender<AlignedBuf>,
    progress: &mut dyn FnMut(u64),
) -> Digest {
    let mut digest = Digest::default();
    let mut pending = BTreeMap::new();
    let mut want_seq = 0u64;
    let mut last_tick = Instant::now();
    loop {
        let disconnected = match done_rx.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(d) => {
                pending.insert(d.seq, d);
                false
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => true,
        };
        while let Some(d) = pending.remove(&want_seq) {
            digest.absorb(d, free_tx);
            want_seq += 1;
        }
        if disconnected || sh.abort.load(Ordering::Relaxed) {
            break;
        }
        if last_tick.elapsed().as_millis() >= 100 {
            progress(digest.hashed);
            last_tick = Instant::now();
        }
    }
    progress(digest.hashed);
    digest
}

/// The buffers' length, and whether the digest is built as a BLAKE3 tree (a whole-target read
/// in power-of-two chunks) rather than hashed in order.
fn layout(samples: &Samples, block_size: u32) -> (usize, bool) {
    let bs = u64::from(block_size);
    // Buffers hold the longest extent (`sample_bytes`; the first/last-block extras and the
    // seams of a resume are no longer).
    let longest = match &samples.extents {
        Extents::List(v) => v.iter().map(|e| e.len).max().unwrap_or(0),
        Extents::Whole { chunk, .. } => *chunk,
    };
    let buf_len = chunk_size(
        samples.sample_bytes.max(longest).max(bs) as usize,
        block_size,
        None,
    );
    let tree = match samples.extents {
        Extents::Whole { chunk, .. } => {
            chunk.is_power_of_two()
                && chunk >= blake3::CHUNK_LEN as u64
                && samples.extents.len() > 1
        }
        Extents::List(_) => false,
    };
    (buf_len, tree)
}

/// A zoned device's zone report after an overwrite (or when a certificate is verified again):
/// every sequential zone must be written to its end. `None` for a device that is not zoned.
pub fn zone_check(dev: &dyn BlockIo) -> Option<crate::cert::ZoneCheck> {
    use crate::cert::{ByteRange, ZoneCheck};
    Some(match dev.report_zones()? {
        Ok(m) => {
            let (sequential, _) = m.counts();
            ZoneCheck {
                zones: m.zones.len() as u64,
                sequential: sequential as u64,
                not_full: m
                    .not_full()
                    .iter()
                    .map(|z| ByteRange {
                        offset: z.wp.max(z.start),
                        length: (z.start + z.capacity).saturating_sub(z.wp.max(z.start)),
                    })
                    .collect(),
                ..ZoneCheck::default()
            }
        }
        Err(e) => ZoneCheck {
            error: Some(e.to_string()),
            ..ZoneCheck::default()
        },
    })
}

/// Reads `samples` back from `dev` and compares them with `expected`.
///
/// `Worker`s read (up to `queue_depth` reads in flight), compare on the fill budget, and,
/// for a full read in power-of-two chunks, hash their chunk as a BLAKE3 subtree so hashing
/// scales with cores; this thread merges the subtrees in order (`coordinate`). Sampled
/// extents are not tree-aligned, so their bytes are hashed here, in order.
pub fn run(
    dev: &dyn BlockIo,
    samples: &Samples,
    expected: &Pattern,
    cfg: &IoConfig,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u64),
) -> VerifyReport {
    let started = SystemTime::now();
    let t0 = Instant::now();
    let bs = u64::from(dev.block_size());
    let count = samples.extents.len();
    let (buf_len, tree) = layout(samples, dev.block_size());
    let workers = cfg.queue_depth.clamp(1, count.max(1) as usize);
    let (free_tx, free_rx) = mpsc::channel::<AlignedBuf>();
    for _ in 0..workers * 2 {
        let _ = free_tx.send(AlignedBuf::new(buf_len));
    }
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let sh = Shared {
        dev,
        samples,
        expected,
        cfg,
        cancel,
        bs,
        count,
        buf_len,
        tree,
        next: AtomicU64::new(0),
        read_bytes: AtomicU64::new(0),
        extents_done: AtomicU64::new(0),
        errors: Mutex::new(Vec::new()),
        found: Mutex::new((0, None)),
        free_rx: Mutex::new(free_rx),
        abort: AtomicBool::new(false),
    };
    let digest = std::thread::scope(|s| {
        for _ in 0..workers {
            let w = Worker {
                shared: &sh,
                free_tx: free_tx.clone(),
                done_tx: done_tx.clone(),
            };
            s.spawn(move || w.run());
        }
        drop(done_tx);
        coordinate(&sh, &done_rx, &free_tx, progress)
    });
    let mut errors = sh.errors.into_inner().unwrap_or_else(|p| p.into_inner());
    if sh.abort.into_inner() {
        errors.push(IoFailure::other(
            0,
            0,
            "internal error: a verification worker failed; the read-back is incomplete",
        ));
    }
    errors.sort_by_key(|e| e.offset);
    let (mismatched_blocks, first_mismatch) =
        sh.found.into_inner().unwrap_or_else(|p| p.into_inner());
    let bytes_read = sh.read_bytes.into_inner();
    let complete = errors.is_empty() && bytes_read == samples.extents.bytes();
    VerifyReport {
        bytes_read,
        mismatched_blocks,
        first_mismatch,
        blake3: digest.finish(tree, complete),
        errors,
        // A cancel that came after every extent was read interrupted nothing.
        interrupted: cancel.load(Ordering::Relaxed) && sh.extents_done.into_inner() < count,
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
    use crate::writer::FillBudget;

    fn list(s: &Samples) -> Vec<Extent> {
        (0..s.extents.len()).map(|i| s.extents.get(i)).collect()
    }

    /// A device whose reads panic at one offset (a bug anywhere under a worker).
    struct Panics(MemDevice, u64);

    impl BlockIo for Panics {
        fn size(&self) -> u64 {
            self.0.size()
        }
        fn block_size(&self) -> u32 {
            self.0.block_size()
        }
        fn write_at(&self, b: &[u8], o: u64) -> std::io::Result<()> {
            self.0.write_at(b, o)
        }
        fn read_at(&self, b: &mut [u8], o: u64) -> std::io::Result<usize> {
            assert!(
                o != self.1,
                "a bug under a verification worker {}",
                crate::testing::INTENDED
            );
            self.0.read_at(b, o)
        }
        fn sync(&self) -> std::io::Result<()> {
            self.0.sync()
        }
    }

    #[test]
    fn a_panicking_worker_ends_the_read_back_instead_of_hanging_it() {
        crate::testing::quiet_intended_panics();
        let p = Pattern::Fixed(vec![0]);
        let dev = Panics(MemDevice::new(8 << 20, 512, 0), 1 << 20);
        let cfg = IoConfig {
            buffer_size: 1 << 20,
            queue_depth: 2,
            budget: FillBudget::new(2),
            ..IoConfig::default()
        };
        let r = run(
            &dev,
            &full_plan(8 << 20, 1 << 20),
            &p,
            &cfg,
            &AtomicBool::new(false),
            &mut |_| {},
        );
        assert!(!r.clean(8 << 20), "{r:?}");
        assert!(
            r.errors.iter().any(|e| e.error.contains("internal error")),
            "{r:?}"
        );
        assert!(r.blake3.is_empty());
    }

    #[test]
    fn resume_seams_are_merged_into_the_samples() {
        let size = 64 << 20;
        let base = sample_plan(size, 4096, 5, &[3; 32]);
        let seams = seams(
            &[0, 10 << 20, 10 << 20, (40 << 20) + 100, size],
            1 << 20,
            4096,
            size,
        );
        assert_eq!(
            seams,
            vec![
                Extent {
                    offset: 9 << 20,
                    len: 2 << 20
                },
                Extent {
                    offset: 9 << 20,
                    len: 2 << 20
                },
                Extent {
                    offset: 39 << 20,
                    len: (2 << 20) + 4096
                },
            ],
            "0 and the end are no seams; aligned to blocks"
        );
        let merged = base.clone().with_extra(&seams, size);
        let v = list(&merged);
        for w in v.windows(2) {
            assert!(w[0].offset + w[0].len <= w[1].offset, "sorted and disjoint");
        }
        for e in &v {
            assert!(
                e.len <= merged.sample_bytes,
                "no extent longer than a sample"
            );
            assert_eq!(e.offset % 4096, 0);
        }
        let covered = |at: u64| v.iter().any(|e| e.offset <= at && at < e.offset + e.len);
        for s in &seams {
            for at in (s.offset..s.offset + s.len).step_by(4096) {
                assert!(covered(at), "{at} of {s:?}");
            }
        }
        for e in list(&base) {
            assert!(v.contains(&e), "every drawn sample kept as it is");
        }
        assert_eq!(
            merged,
            base.clone().with_extra(&seams, size),
            "deterministic"
        );
        assert!(merged.coverage_percent > base.coverage_percent);
        let whole = full_plan(size, 1 << 20);
        assert_eq!(
            whole.clone().with_extra(&seams, size),
            whole,
            "a full read has no seams to add"
        );
    }

    #[test]
    fn samples_are_deterministic_aligned_disjoint_and_reach_coverage() {
        for &(size, block) in &[
            (1u64 << 30, 512u32),
            (1 << 30, 4096),
            (10_000_000_007, 4096),
            (300 * 4096, 4096),
            (1 << 40, 4096),
        ] {
            for pct in [1u8, 10, 33, 90] {
                let a = sample_plan(size, block, pct, &[1; 32]);
                let b = sample_plan(size, block, pct, &[1; 32]);
                let c = sample_plan(size, block, pct, &[2; 32]);
                assert_eq!(a, b, "same seed, same samples");
                assert_ne!(list(&a), list(&c), "other seed, other samples");
                let v = list(&a);
                assert_eq!(v[0].offset, 0, "first block included");
                let last = v.last().unwrap();
                assert_eq!(last.offset + last.len, size, "last block included");
                for w in v.windows(2) {
                    assert!(w[0].offset + w[0].len <= w[1].offset, "sorted and disjoint");
                }
                for e in &v {
                    assert_eq!(e.offset % u64::from(block), 0, "aligned");
                    assert!(e.offset + e.len <= size, "in range");
                }
                assert!(
                    a.coverage_percent >= f64::from(pct),
                    "{size} {pct}: {}",
                    a.coverage_percent
                );
                if size >= 1 << 30 {
                    assert!(
                        a.coverage_percent < f64::from(pct) * 1.3 + 1.0,
                        "{size} {pct}: {}",
                        a.coverage_percent
                    );
                }
                assert_eq!(
                    a.extents.bytes() as f64 * 100.0 / size as f64,
                    a.coverage_percent
                );
            }
        }
    }

    #[test]
    fn every_subsection_gets_at_least_two_samples() {
        let size = 1u64 << 30;
        let s = sample_plan(size, 4096, 1, &[3; 32]);
        assert_eq!(s.subsections, 1000);
        let n = size / 4096;
        let mut per = vec![0u32; s.subsections as usize];
        for e in list(&s) {
            let b = e.offset / 4096;
            let i = (0..s.subsections)
                .find(|&i| b < (i + 1) * n / s.subsections)
                .unwrap();
            per[i as usize] += 1;
        }
        assert!(per.iter().all(|&c| c >= 2), "{per:?}");
    }

    #[test]
    fn tiny_targets_and_100_percent_are_read_whole() {
        assert_eq!(
            sample_plan(10 * 4096, 4096, 10, &[0; 32]).coverage_percent,
            100.0
        );
        assert!(matches!(
            sample_plan(1 << 30, 512, 100, &[0; 32]).extents,
            Extents::Whole { .. }
        ));
    }

    /// A full verification of a 1 MiB device in 64 KiB chunks.
    fn full_mib(dev: &MemDevice, p: &Pattern, qd: usize) -> VerifyReport {
        run(
            dev,
            &full_plan(1 << 20, 64 << 10),
            p,
            &cfg(qd),
            &AtomicBool::new(false),
            &mut |_| {},
        )
    }

    fn cfg(qd: usize) -> IoConfig {
        IoConfig {
            buffer_size: 64 << 10,
            queue_depth: qd,
            budget: FillBudget::new(2),
            retry_delay: std::time::Duration::ZERO,
            ..IoConfig::default()
        }
    }

    fn written(size: usize, p: &Pattern) -> MemDevice {
        let dev = MemDevice::new(size, 512, 0);
        let mut v = vec![0u8; size];
        p.fill_at(&mut v, 0);
        dev.poke(0, &v);
        dev
    }

    #[test]
    fn full_verify_digest_is_blake3_of_the_whole_target() {
        let p = Pattern::Random {
            prng: Prng::ChaCha8,
            seed: [8; 32],
            inverted: false,
        };
        for qd in [1, 5] {
            let dev = written(1_000_000, &p);
            let cancel = AtomicBool::new(false);
            let s = full_plan(1_000_000, 64 << 10);
            let r = run(&dev, &s, &p, &cfg(qd), &cancel, &mut |_| {});
            assert!(r.clean(1_000_000), "{r:?}");
            assert_eq!(r.blake3, blake3::hash(&dev.contents()).to_hex().to_string());
        }
    }

    #[test]
    fn sampled_digest_is_blake3_of_the_samples_in_order() {
        let p = Pattern::Fixed(vec![0x6D, 0xB6, 0xDB]);
        let size = 4 << 20;
        let dev = written(size, &p);
        let s = sample_plan(size as u64, 512, 10, &[5; 32]);
        let r = run(&dev, &s, &p, &cfg(3), &AtomicBool::new(false), &mut |_| {});
        assert!(r.clean(s.extents.bytes()));
        let all = dev.contents();
        let mut h = blake3::Hasher::new();
        for e in list(&s) {
            h.update(&all[e.offset as usize..(e.offset + e.len) as usize]);
        }
        assert_eq!(r.blake3, h.finalize().to_hex().to_string());
    }

    #[test]
    fn a_changed_byte_is_found_with_its_block() {
        let p = Pattern::Fixed(vec![0]);
        let dev = written(1 << 20, &p);
        dev.poke(700_001, &[1]);
        let r = full_mib(&dev, &p, 2);
        assert_eq!(r.mismatched_blocks, 1);
        assert_eq!(r.first_mismatch, Some(700_001 / 512 * 512));
        assert!(!r.clean(1 << 20));
    }

    #[test]
    fn subtree_merger_equals_blake3_of_the_whole() {
        use blake3::hazmat::HasherExt;
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for sub in [1024usize, 4096, 65536] {
            for len in [
                sub + 1,
                2 * sub,
                3 * sub - 5,
                5 * sub,
                7 * sub + 100,
                8 * sub,
                9 * sub - 1,
            ] {
                if len > data.len() {
                    continue;
                }
                let mut m = SubtreeMerger::default();
                let pieces: Vec<_> = data[..len].chunks(sub).collect();
                let cv = |i: usize| {
                    blake3::Hasher::new()
                        .set_input_offset((i * sub) as u64)
                        .update(pieces[i])
                        .finalize_non_root()
                };
                for i in 0..pieces.len() - 1 {
                    m.push(cv(i));
                }
                let root = m.finish(cv(pieces.len() - 1)).unwrap();
                assert_eq!(root, blake3::hash(&data[..len]), "sub {sub} len {len}");
            }
        }
    }

    #[test]
    fn full_verify_with_tree_hashing_and_every_generator() {
        for prng in [Prng::Aes128Ctr, Prng::ChaCha8] {
            for inverted in [false, true] {
                let p = Pattern::Random {
                    prng,
                    seed: [6; 32],
                    inverted,
                };
                let size = 3 * 65536 + 4096;
                let dev = written(size, &p);
                let r = run(
                    &dev,
                    &full_plan(size as u64, 65536),
                    &p,
                    &cfg(3),
                    &AtomicBool::new(false),
                    &mut |_| {},
                );
                assert!(r.clean(size as u64), "{prng:?} {r:?}");
                assert_eq!(r.blake3, blake3::hash(&dev.contents()).to_hex().to_string());
                dev.poke(70_000, &[0x55, 0x55]);
                let r = run(
                    &dev,
                    &full_plan(size as u64, 65536),
                    &p,
                    &cfg(2),
                    &AtomicBool::new(false),
                    &mut |_| {},
                );
                assert_eq!(
                    (r.mismatched_blocks, r.first_mismatch),
                    (1, Some(70_000 / 512 * 512)),
                    "{prng:?}"
                );
            }
        }
    }

    #[test]
    fn unreadable_blocks_are_listed_and_the_rest_still_compared() {
        let p = Pattern::Fixed(vec![0]);
        let mut dev = written(1 << 20, &p);
        dev.fail_reads = vec![(100_000, 100_001)];
        dev.poke(600_000, &[9]);
        let r = full_mib(&dev, &p, 2);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(
            (r.errors[0].offset, r.errors[0].length),
            (100_000 / 512 * 512, 512),
            "just the bad block"
        );
        assert_eq!(r.bytes_read, (1 << 20) - 512);
        assert_eq!(
            r.first_mismatch,
            Some(600_000 / 512 * 512),
            "still compared elsewhere"
        );
        assert!(r.blake3.is_empty(), "no digest for an incomplete read");
        // In the same extent as the bad block, the readable blocks are compared too.
        dev.poke(100_000 + 1024, &[7]);
        let r = full_mib(&dev, &p, 2);
        assert_eq!(r.mismatched_blocks, 2);
    }

    #[test]
    fn a_read_that_fails_once_is_retried() {
        let p = Pattern::Fixed(vec![0]);
        let dev = written(1 << 20, &p);
        dev.fail_once(false, 0, 1);
        let r = full_mib(&dev, &p, 2);
        assert!(r.clean(1 << 20), "{r:?}");
    }

    /// Reads that overlap `at` fail and request a cancel, as a Ctrl-C during a retry would.
    struct CancelOnRead<'a> {
        inner: MemDevice,
        at: u64,
        cancel: &'a AtomicBool,
    }

    impl BlockIo for CancelOnRead<'_> {
        fn size(&self) -> u64 {
            self.inner.size()
        }
        fn block_size(&self) -> u32 {
            self.inner.block_size()
        }
        fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
            self.inner.write_at(buf, offset)
        }
        fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
            if (offset..offset + buf.len() as u64).contains(&self.at) {
                self.cancel.store(true, Ordering::Relaxed);
                return Err(std::io::Error::from_raw_os_error(nix::libc::EIO));
            }
            self.inner.read_at(buf, offset)
        }
        fn sync(&self) -> std::io::Result<()> {
            self.inner.sync()
        }
    }

    #[test]
    fn an_extent_cut_short_by_a_cancel_is_not_compared() {
        let p = Pattern::Random {
            prng: Prng::ChaCha8,
            seed: [3; 32],
            inverted: false,
        };
        let cancel = AtomicBool::new(false);
        let dev = CancelOnRead {
            inner: written(1 << 20, &p),
            at: (512 << 10) + 4096,
            cancel: &cancel,
        };
        let r = run(
            &dev,
            &full_plan(1 << 20, 64 << 10),
            &p,
            &cfg(1),
            &cancel,
            &mut |_| {},
        );
        assert!(r.interrupted, "{r:?}");
        // The buffer still held an earlier extent's bytes: comparing them was a false mismatch.
        assert_eq!((r.mismatched_blocks, r.first_mismatch), (0, None), "{r:?}");
        assert!(r.blake3.is_empty());
    }

    #[test]
    fn a_cancel_after_every_extent_was_read_interrupts_nothing() {
        let p = Pattern::Fixed(vec![0]);
        let mut dev = written(1 << 20, &p);
        dev.fail_reads = vec![(4096, 4097)];
        let cancel = AtomicBool::new(false);
        // With one extent unreadable, this many bytes are hashed only once all are done.
        let last = (1 << 20) - (64 << 10);
        let r = run(
            &dev,
            &full_plan(1 << 20, 64 << 10),
            &p,
            &cfg(2),
            &cancel,
            &mut |d| {
                if d == last {
                    cancel.store(true, Ordering::Relaxed);
                }
            },
        );
        assert!(cancel.load(Ordering::Relaxed));
        assert!(!r.interrupted, "{r:?}");
        assert_eq!(r.errors.len(), 1, "the read error is still reported");
    }

    #[test]
    fn read_errors_are_reported_with_offsets() {
        let p = Pattern::Fixed(vec![0]);
        let mut dev = written(1 << 20, &p);
        dev.fail_reads = vec![(512 << 10, (512 << 10) + 1)];
        let r = full_mib(&dev, &p, 4);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].offset, 512 << 10);
        assert!(!r.clean(1 << 20));
    }

    /// The placement `with_extra` had before it used an ordered map: every extent scanned for
    /// each piece. The new one must place every piece where this one did.
    fn with_extra_by_scan(
        mut v: Vec<Extent>,
        extra: &[Extent],
        size: u64,
        max: u64,
    ) -> Vec<Extent> {
        for e in extra {
            let (mut at, end) = (e.offset, e.offset.saturating_add(e.len).min(size));
            while at < end {
                let next = v
                    .iter()
                    .filter(|x| x.offset + x.len > at)
                    .min_by_key(|x| x.offset);
                let gap_end = match next {
                    Some(x) if x.offset <= at => {
                        at = x.offset + x.len;
                        continue;
                    }
                    Some(x) => x.offset.min(end),
                    None => end,
                };
                let len = (gap_end - at).min(max);
                v.push(Extent { offset: at, len });
                at += len;
            }
        }
        v.sort_by_key(|e| e.offset);
        v
    }

    proptest::proptest! {
        #[test]
        fn extra_ranges_are_placed_as_the_scan_placed_them(
            seed in proptest::prelude::any::<[u8; 32]>(),
            pct in 1u8..60,
            mb in 1u64..64,
            raw in proptest::collection::vec((0u64..80, 1u64..40), 0..6),
        ) {
            let size = mb << 20;
            let base = sample_plan(size, 4096, pct, &seed);
            let extra: Vec<Extent> = raw
                .iter()
                .map(|(o, l)| Extent { offset: o * 65536, len: l * 65536 })
                .collect();
            let fast = list(&base.clone().with_extra(&extra, size));
            let slow = with_extra_by_scan(list(&base), &extra, size, base.sample_bytes);
            proptest::prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn a_resumed_wipe_reads_the_first_and_last_mib_whole() {
        assert_eq!(
            edges(64 << 20, 4096),
            vec![
                Extent {
                    offset: 0,
                    len: 1 << 20
                },
                Extent {
                    offset: 63 << 20,
                    len: 1 << 20
                }
            ]
        );
        // Not a multiple of a MiB: the tail is the last MiB, block-aligned.
        let size = (10 << 20) + 3 * 4096;
        let e = edges(size, 4096);
        assert_eq!(e[1].offset + e[1].len, size);
        assert_eq!(e[1].offset % 4096, 0);
        assert!(e[1].len >= 1 << 20);
        // Small media: the head, then whatever is left.
        assert_eq!(
            edges(3 << 19, 512),
            vec![
                Extent {
                    offset: 0,
                    len: 1 << 20
                },
                Extent {
                    offset: 1 << 20,
                    len: 1 << 19
                }
            ]
        );
        assert_eq!(
            edges(4096, 4096),
            vec![Extent {
                offset: 0,
                len: 4096
            }]
        );
    }

    #[test]
    fn the_part_written_before_an_interruption_gets_its_share_of_reads() {
        let size = 1u64 << 30;
        let s = sample_plan(size, 4096, 10, &[7; 32]);
        // Whole subsections already carry 10 % each.
        let n = size / 4096;
        let bound = |i: u64| i * n / s.subsections * 4096;
        assert_eq!(top_up(&s, size, 4096, bound(500), 10), None);
        // Cut inside a subsection: the drawn samples may fall short there, and then the rest
        // of that subsection is read whole, so [0, upto) is covered to 10 % in any case.
        for upto in [
            bound(3) + 4096 * 7,
            bound(700) + 12345 * 4096 % (bound(701) - bound(700)),
        ] {
            let added = top_up(&s, size, 4096, upto, 10);
            let mut covered = s.covered_below(upto);
            if let Some(e) = added {
                assert_eq!(e.offset + e.len, upto / 4096 * 4096);
                assert!(e.len <= bound(1) + 4096, "at most one subsection");
                let with = s.clone().with_extra(&[e], size);
                covered = with.covered_below(upto);
            }
            assert!(
                covered * 100 >= 10 * (upto / 4096 * 4096),
                "{upto}: {covered}"
            );
        }
        // Tiny parts: the first MiB read whole covers them anyway, and nothing is below 0.
        assert_eq!(top_up(&s, size, 4096, 0, 10), None);
    }
}
