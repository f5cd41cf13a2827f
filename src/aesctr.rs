//! The AES-128-CTR keystream of random passes (key = seed[..16], counter = seed[16..] as a
//! big-endian 128-bit integer, +1 per 16-byte block, wrapping: `openssl enc -aes-128-ctr`),
//! written into a buffer, or checked against data read back, at any byte offset.
//!
//! Two ways to the same bytes: where the CPU has VAES with AVX-512 (current server CPUs), four
//! blocks per instruction and 32 blocks in flight, from `x86` below; elsewhere the `aes` and
//! `ctr` crates (AES-NI, eight blocks in flight). The choice is made once at run time; tests
//! check the two against each other at many offsets and lengths, and against OpenSSL.
//!
//! This is one of the few files allowed `unsafe`: calling a function compiled for CPU features
//! (sound only once they are detected) and unaligned 64-byte loads and stores within slices
//! (each argued where it is).
#![allow(unsafe_code)]

use aes::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};

/// Which implementation this process uses.
pub fn implementation() -> &'static str {
    if fast() {
        "vaes-avx512"
    } else {
        "aes-ni (aes crate)"
    }
}

/// True when the VAES path runs here (detected once).
fn fast() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static FAST: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *FAST.get_or_init(|| std::env::var_os("MEDIASAN_NO_VAES").is_none() && x86::available())
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `buf` = the keystream from byte `offset`.
pub fn fill(seed: &[u8; 32], offset: u64, buf: &mut [u8]) {
    apply(seed, offset, buf, fast());
}

/// The crates' keystream, the reference the fast path must equal.
fn portable(seed: &[u8; 32], offset: u64, buf: &mut [u8]) {
    let (key, iv) = seed.split_at(16);
    let mut c = ctr::Ctr128BE::<aes::Aes128>::new(key.into(), iv.into());
    c.seek(offset);
    buf.fill(0);
    c.apply_keystream(buf);
}

/// True when `data` (read from byte `offset`) is exactly the keystream, or with `inverted`
/// its complement: one read of the data, nothing written (the verifier's check).
pub fn matches(seed: &[u8; 32], offset: u64, data: &[u8], inverted: bool) -> bool {
    compare(seed, offset, data, inverted, fast())
}

/// Where a buffer's bytes fall on the keystream's blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece {
    /// Part of one block: its counter, the bytes of it skipped, the bytes used.
    Part { ctr: u128, skip: usize, len: usize },
    /// Whole blocks from counter `ctr` whose low 64 bits do not wrap among them; bytes.
    Whole { ctr: u128, len: usize },
}

/// The pieces of `len` bytes from byte `offset` of the keystream whose first counter is `iv`.
fn pieces(iv: u128, offset: u64, len: usize) -> Vec<Piece> {
    let mut v = Vec::new();
    let mut ctr = iv.wrapping_add(u128::from(offset / 16));
    let mut left = len;
    let skip = (offset % 16) as usize;
    if skip != 0 && left > 0 {
        let n = (16 - skip).min(left);
        v.push(Piece::Part { ctr, skip, len: n });
        left -= n;
        ctr = ctr.wrapping_add(1);
    }
    while left >= 16 {
        let to_wrap = u128::from(u64::MAX - ctr as u64) + 1;
        let n = ((left / 16) as u128).min(to_wrap) as usize * 16;
        v.push(Piece::Whole { ctr, len: n });
        left -= n;
        ctr = ctr.wrapping_add((n / 16) as u128);
    }
    if left > 0 {
        v.push(Piece::Part {
            ctr,
            skip: 0,
            len: left,
        });
    }
    v
}

fn split(seed: &[u8; 32]) -> ([u8; 16], u128) {
    let key = seed[..16].try_into().unwrap_or([0; 16]);
    let iv = u128::from_be_bytes(seed[16..].try_into().unwrap_or([0; 16]));
    (key, iv)
}

fn apply(seed: &[u8; 32], offset: u64, buf: &mut [u8], fast: bool) {
    #[cfg(target_arch = "x86_64")]
    if fast {
        let (key, iv) = split(seed);
        let keys = x86::Keys::new(key);
        let mut at = 0;
        for p in pieces(iv, offset, buf.len()) {
            match p {
                Piece::Part { ctr, skip, len } => {
                    let mut block = [0u8; 16];
                    keys.blocks(ctr, &mut block);
                    buf[at..at + len].copy_from_slice(&block[skip..skip + len]);
                    at += len;
                }
                Piece::Whole { ctr, len } => {
                    keys.blocks(ctr, &mut buf[at..at + len]);
                    at += len;
                }
            }
        }
        return;
    }
    let _ = fast;
    portable(seed, offset, buf);
}

fn compare(seed: &[u8; 32], offset: u64, data: &[u8], inverted: bool, fast: bool) -> bool {
    let inv = if inverted { 0xFF } else { 0 };
    #[cfg(target_arch = "x86_64")]
    if fast {
        let (key, iv) = split(seed);
        let keys = x86::Keys::new(key);
        let mut at = 0;
        for p in pieces(iv, offset, data.len()) {
            let same = match p {
                Piece::Part { ctr, skip, len } => {
                    let mut block = [0u8; 16];
                    keys.blocks(ctr, &mut block);
                    data[at..at + len]
                        .iter()
                        .zip(&block[skip..])
                        .all(|(d, k)| *d == *k ^ inv)
                }
                Piece::Whole { ctr, len } => keys.equal(ctr, &data[at..at + len], inverted),
            };
            if !same {
                return false;
            }
            at += p.len();
        }
        return true;
    }
    let _ = fast;
    const STEP: usize = 64 * 1024;
    let mut ks = vec![0u8; STEP.min(data.len())];
    data.chunks(STEP).enumerate().all(|(i, d)| {
        let ks = &mut ks[..d.len()];
        portable(seed, offset + (i * STEP) as u64, ks);
        d.iter().zip(ks.iter()).all(|(d, k)| *d == *k ^ inv)
    })
}

impl Piece {
    fn len(self) -> usize {
        match self {
            Piece::Part { len, .. } | Piece::Whole { len, .. } => len,
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// VAES with AVX-512 (and AES-NI for the key schedule).
    pub fn available() -> bool {
        is_x86_feature_detected!("aes")
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("vaes")
    }

    /// The eleven round keys of AES-128.
    pub struct Keys([__m128i; 11]);

    impl Keys {
        /// Callers have checked [`available`].
        pub fn new(key: [u8; 16]) -> Keys {
            // SAFETY: `available()` was true before any `Keys` is made (its callers, `apply`
            // and `compare`, take this path only when `fast()` said so), so the CPU has AES-NI.
            Keys(unsafe { expand(key) })
        }

        /// True when `data` (whole blocks from counter `ctr`, as for [`Keys::blocks`]) is the
        /// keystream, or its complement with `inverted`.
        pub fn equal(&self, ctr: u128, data: &[u8], inverted: bool) -> bool {
            debug_assert!(data.len().is_multiple_of(16));
            // SAFETY: as in `new`, the CPU has AVX-512F/BW and VAES.
            unsafe { equal(&self.0, ctr, data, inverted) }
        }

        /// Keystream blocks for counters `ctr`, `ctr + 1`, ... into `out` (whole blocks; the
        /// counter's low 64 bits must not wrap within them).
        pub fn blocks(&self, ctr: u128, out: &mut [u8]) {
            debug_assert!(out.len().is_multiple_of(16));
            debug_assert!(u128::from(u64::MAX - ctr as u64) + 1 >= (out.len() / 16) as u128);
            // SAFETY: as in `new`, the CPU has AVX-512F/BW and VAES.
            unsafe { blocks(&self.0, ctr, out) }
        }
    }

    macro_rules! round_key {
        ($k:expr, $rcon:literal) => {{
            let k = $k;
            let t = _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<$rcon>(k));
            let k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
            let k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
            let k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
            _mm_xor_si128(k, t)
        }};
    }

    #[target_feature(enable = "aes,sse2")]
    fn expand(key: [u8; 16]) -> [__m128i; 11] {
        let k0 = _mm_set_epi64x(
            i64::from_le_bytes(key[8..].try_into().unwrap_or([0; 8])),
            i64::from_le_bytes(key[..8].try_into().unwrap_or([0; 8])),
        );
        let k1 = round_key!(k0, 0x01);
        let k2 = round_key!(k1, 0x02);
        let k3 = round_key!(k2, 0x04);
        let k4 = round_key!(k3, 0x08);
        let k5 = round_key!(k4, 0x10);
        let k6 = round_key!(k5, 0x20);
        let k7 = round_key!(k6, 0x40);
        let k8 = round_key!(k7, 0x80);
        let k9 = round_key!(k8, 0x1b);
        let k10 = round_key!(k9, 0x36);
        [k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10]
    }

    /// The keystream from one counter on, four blocks (one 512-bit register) at a time: the
    /// round keys in every lane, and the counters as two native 64-bit halves (high, low) per
    /// lane, byte-swapped into big-endian blocks when encrypted.
    struct Stream {
        rk: [__m512i; 11],
        swap: __m512i,
        four: __m512i,
        next: __m512i,
    }

    impl Stream {
        #[target_feature(enable = "avx512f,avx512bw")]
        fn new(keys: &[__m128i; 11], ctr: u128) -> Stream {
            let (h, l) = ((ctr >> 64) as i64, ctr as i64);
            Stream {
                rk: std::array::from_fn(|i| _mm512_broadcast_i32x4(keys[i])),
                swap: _mm512_broadcast_i32x4(_mm_set_epi8(
                    8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7,
                )),
                four: _mm512_set_epi64(4, 0, 4, 0, 4, 0, 4, 0),
                next: _mm512_set_epi64(
                    l.wrapping_add(3),
                    h,
                    l.wrapping_add(2),
                    h,
                    l.wrapping_add(1),
                    h,
                    l,
                    h,
                ),
            }
        }

        /// Four blocks' keystream from their counters.
        #[target_feature(enable = "avx512f,avx512bw,vaes")]
        fn encrypt(&self, c: __m512i) -> __m512i {
            let mut b = _mm512_xor_si512(_mm512_shuffle_epi8(c, self.swap), self.rk[0]);
            for k in &self.rk[1..10] {
                b = _mm512_aesenc_epi128(b, *k);
            }
            _mm512_aesenclast_epi128(b, self.rk[10])
        }

        /// The next four blocks.
        #[target_feature(enable = "avx512f,avx512bw,vaes")]
        fn four(&mut self) -> __m512i {
            let c = self.next;
            self.next = _mm512_add_epi64(c, self.four);
            self.encrypt(c)
        }

        /// The next 32 blocks: eight registers in flight keep the AES units busy.
        #[target_feature(enable = "avx512f,avx512bw,vaes")]
        fn thirty_two(&mut self) -> [__m512i; 8] {
            let mut cs = [self.next; 8];
            for i in 1..8 {
                cs[i] = _mm512_add_epi64(cs[i - 1], self.four);
            }
            self.next = _mm512_add_epi64(cs[7], self.four);
            std::array::from_fn(|i| self.encrypt(cs[i]))
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,vaes")]
    fn blocks(keys: &[__m128i; 11], ctr: u128, out: &mut [u8]) {
        let mut ks = Stream::new(keys, ctr);
        let mut wide = out.chunks_exact_mut(512);
        for chunk in &mut wide {
            for (i, k) in ks.thirty_two().into_iter().enumerate() {
                store(&mut chunk[i * 64..(i + 1) * 64], k);
            }
        }
        let mut quads = wide.into_remainder().chunks_exact_mut(64);
        for q in &mut quads {
            store(q, ks.four());
        }
        let tail = quads.into_remainder();
        if !tail.is_empty() {
            let mut k = [0u8; 64];
            store(&mut k, ks.four());
            tail.copy_from_slice(&k[..tail.len()]);
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,vaes")]
    fn equal(keys: &[__m128i; 11], ctr: u128, data: &[u8], inverted: bool) -> bool {
        let mut ks = Stream::new(keys, ctr);
        let inv = _mm512_set1_epi8(if inverted { -1 } else { 0 });
        // Every bit that differs, accumulated: zero at the end means equal.
        let mut acc = _mm512_setzero_si512();
        let mut differs = |k: __m512i, d: &[u8]| {
            acc = _mm512_or_si512(acc, _mm512_xor_si512(_mm512_xor_si512(k, load(d)), inv));
        };
        let mut wide = data.chunks_exact(512);
        for chunk in &mut wide {
            for (i, k) in ks.thirty_two().into_iter().enumerate() {
                differs(k, &chunk[i * 64..(i + 1) * 64]);
            }
        }
        let mut quads = wide.remainder().chunks_exact(64);
        for q in &mut quads {
            differs(ks.four(), q);
        }
        let tail = quads.remainder();
        let mut same = _mm512_test_epi64_mask(acc, acc) == 0;
        if !tail.is_empty() {
            let mut k = [0u8; 64];
            store(&mut k, ks.four());
            let x = if inverted { 0xFF } else { 0 };
            same &= tail.iter().zip(k).all(|(d, k)| *d == k ^ x);
        }
        same
    }

    /// The 64 bytes of `src`.
    #[target_feature(enable = "avx512f")]
    fn load(src: &[u8]) -> __m512i {
        assert_eq!(src.len(), 64);
        // SAFETY: `src` is 64 readable bytes (checked above); the load is unaligned (`loadu`).
        unsafe { _mm512_loadu_si512(src.as_ptr().cast::<__m512i>()) }
    }

    /// `dst` (64 bytes) = `k`.
    #[target_feature(enable = "avx512f")]
    fn store(dst: &mut [u8], k: __m512i) {
        assert_eq!(dst.len(), 64);
        // SAFETY: `dst` is 64 bytes (checked above), writable through the `&mut` borrow; the
        // store is unaligned (`storeu`), so any address is fine.
        unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast::<__m512i>(), k) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn both(seed: &[u8; 32], offset: u64, len: usize) -> (Vec<u8>, Vec<u8>) {
        let (mut a, mut b) = (vec![0x5c; len], vec![0xc5; len]);
        apply(seed, offset, &mut a, true);
        portable(seed, offset, &mut b);
        (a, b)
    }

    #[test]
    fn the_fast_path_runs_exactly_where_the_cpu_has_vaes_and_avx512() {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let flags: Vec<&str> = cpuinfo
            .lines()
            .find(|l| l.starts_with("flags"))
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default();
        let has = |f: &str| flags.contains(&f);
        let want = cfg!(target_arch = "x86_64")
            && ["aes", "avx512f", "avx512bw", "vaes"]
                .iter()
                .all(|f| has(f))
            && std::env::var_os("MEDIASAN_NO_VAES").is_none();
        assert_eq!(fast(), want, "{}", implementation());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn fast_and_portable_keystreams_are_byte_identical(
            seed in proptest::array::uniform32(any::<u8>()),
            offset in 0u64..(1 << 40),
            len in 0usize..3000,
        ) {
            if !fast() { return Ok(()); }
            let (a, b) = both(&seed, offset, len);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn the_counters_low_half_wrapping_inside_a_buffer_is_carried(
            before in 0u64..40,
            len in 0usize..2000,
            skip in 0u64..16,
        ) {
            if !fast() { return Ok(()); }
            // The IV's low 64 bits `before` blocks short of wrapping.
            let mut seed = [3u8; 32];
            seed[16..24].copy_from_slice(&0x0123_4567_89ab_cdefu64.to_be_bytes());
            seed[24..].copy_from_slice(&(u64::MAX - before).to_be_bytes());
            let (a, b) = both(&seed, skip, len);
            prop_assert_eq!(a, b);
            // And the whole 128-bit counter wrapping.
            seed[16..24].copy_from_slice(&u64::MAX.to_be_bytes());
            let (a, b) = both(&seed, skip, len);
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn a_buffer_is_cut_where_the_counters_low_half_wraps() {
        let iv = (7u128 << 64) | u128::from(u64::MAX - 1);
        assert_eq!(
            pieces(iv, 5, 70),
            vec![
                Piece::Part {
                    ctr: iv,
                    skip: 5,
                    len: 11
                },
                Piece::Whole {
                    ctr: iv + 1,
                    len: 16
                },
                Piece::Whole {
                    ctr: 8 << 64,
                    len: 32
                },
                Piece::Part {
                    ctr: (8 << 64) + 2,
                    skip: 0,
                    len: 11
                },
            ]
        );
        assert_eq!(pieces(iv, 3, 0), vec![]);
        assert_eq!(
            pieces(0, 17, 4),
            vec![Piece::Part {
                ctr: 1,
                skip: 1,
                len: 4
            }]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn the_check_accepts_the_stream_and_finds_any_changed_byte(
            seed in proptest::array::uniform32(any::<u8>()),
            offset in 0u64..(1 << 40),
            len in 1usize..3000,
            inverted in any::<bool>(),
            flip in any::<prop::sample::Index>(),
            fast_path in any::<bool>(),
        ) {
            if fast_path && !fast() { return Ok(()); }
            let mut data = vec![0u8; len];
            portable(&seed, offset, &mut data);
            if inverted {
                data.iter_mut().for_each(|b| *b = !*b);
            }
            prop_assert!(compare(&seed, offset, &data, inverted, fast_path));
            prop_assert!(!compare(&seed, offset, &data, !inverted, fast_path));
            let i = flip.index(len);
            data[i] ^= 0x10;
            prop_assert!(!compare(&seed, offset, &data, inverted, fast_path), "byte {} changed", i);
        }
    }

    #[test]
    fn big_buffers_at_odd_offsets_match() {
        if !fast() {
            return;
        }
        let seed: [u8; 32] = std::array::from_fn(|i| (i * 7 + 1) as u8);
        for (offset, len) in [(0, 1 << 20), (13, (1 << 20) + 5), (4096 * 3 + 1, 777_777)] {
            let (a, b) = both(&seed, offset, len);
            assert!(a == b, "offset {offset} len {len}");
        }
    }
}
