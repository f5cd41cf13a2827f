//! The AES-128-CTR keystream of random passes (key = seed[..16], counter = seed[16..] as a
//! big-endian 128-bit integer, +1 per 16-byte block, wrapping: `openssl enc -aes-128-ctr`),
//! written into a buffer or XORed into one, at any byte offset.
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
    apply(seed, offset, buf, false, fast());
}

/// `buf` ^= the keystream from byte `offset`.
pub fn xor(seed: &[u8; 32], offset: u64, buf: &mut [u8]) {
    apply(seed, offset, buf, true, fast());
}

/// The crates' keystream, the reference the fast path must equal.
fn portable(seed: &[u8; 32], offset: u64, buf: &mut [u8], xor: bool) {
    let (key, iv) = seed.split_at(16);
    let mut c = ctr::Ctr128BE::<aes::Aes128>::new(key.into(), iv.into());
    c.seek(offset);
    if !xor {
        buf.fill(0);
    }
    c.apply_keystream(buf);
}

fn apply(seed: &[u8; 32], offset: u64, buf: &mut [u8], xor: bool, fast: bool) {
    #[cfg(target_arch = "x86_64")]
    if fast {
        let keys = x86::Keys::new(seed[..16].try_into().unwrap_or([0; 16]));
        let iv = u128::from_be_bytes(seed[16..].try_into().unwrap_or([0; 16]));
        let mut ctr = iv.wrapping_add(u128::from(offset / 16));
        let mut rest = buf;
        // A first partial block: its keystream from a whole one.
        let skip = (offset % 16) as usize;
        if skip != 0 {
            let mut block = [0u8; 16];
            keys.blocks(ctr, &mut block, false);
            let n = (16 - skip).min(rest.len());
            for (b, k) in rest[..n].iter_mut().zip(&block[skip..]) {
                *b = if xor { *b ^ *k } else { *k };
            }
            rest = &mut rest[n..];
            ctr = ctr.wrapping_add(1);
        }
        while !rest.is_empty() {
            // Whole blocks up to where the counter's low 64 bits wrap (the fast path keeps the
            // high half fixed), at most the buffer.
            let lo = ctr as u64;
            let to_wrap = u128::from(u64::MAX - lo) + 1;
            let blocks = (rest.len() / 16) as u128;
            let n = (blocks.min(to_wrap) as usize) * 16;
            if n == 0 {
                // The last partial block.
                let mut block = [0u8; 16];
                keys.blocks(ctr, &mut block, false);
                for (b, k) in rest.iter_mut().zip(&block) {
                    *b = if xor { *b ^ *k } else { *k };
                }
                return;
            }
            let (now, later) = rest.split_at_mut(n);
            keys.blocks(ctr, now, xor);
            ctr = ctr.wrapping_add((n / 16) as u128);
            rest = later;
        }
        return;
    }
    let _ = fast;
    portable(seed, offset, buf, xor);
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
            // SAFETY: `available()` was true before any `Keys` is made (the only caller,
            // `apply`, runs this path only when `fast()` said so), so the CPU has AES-NI.
            Keys(unsafe { expand(key) })
        }

        /// Keystream blocks for counters `ctr`, `ctr + 1`, ... into `out` (whole blocks; the
        /// counter's low 64 bits must not wrap within them), XORed into it with `xor`.
        pub fn blocks(&self, ctr: u128, out: &mut [u8], xor: bool) {
            debug_assert!(out.len().is_multiple_of(16));
            debug_assert!(u128::from(u64::MAX - ctr as u64) + 1 >= (out.len() / 16) as u128);
            // SAFETY: as in `new`, the CPU has AVX-512F/BW and VAES.
            unsafe { blocks(&self.0, ctr, out, xor) }
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

    /// Four blocks' counters, one per 128-bit lane, as two native 64-bit halves (high, low):
    /// byte-swapped within each half they are the big-endian counter blocks.
    #[target_feature(enable = "avx512f")]
    fn lanes(hi: u64, lo: u64) -> __m512i {
        let (h, l) = (hi as i64, lo as i64);
        _mm512_set_epi64(
            l.wrapping_add(3),
            h,
            l.wrapping_add(2),
            h,
            l.wrapping_add(1),
            h,
            l,
            h,
        )
    }

    #[target_feature(enable = "avx512f,avx512bw,vaes")]
    fn encrypt(rk: &[__m512i; 11], swap: __m512i, c: __m512i) -> __m512i {
        let mut b = _mm512_xor_si512(_mm512_shuffle_epi8(c, swap), rk[0]);
        for k in &rk[1..10] {
            b = _mm512_aesenc_epi128(b, *k);
        }
        _mm512_aesenclast_epi128(b, rk[10])
    }

    #[target_feature(enable = "avx512f,avx512bw,vaes")]
    fn blocks(keys: &[__m128i; 11], ctr: u128, out: &mut [u8], xor: bool) {
        let rk: [__m512i; 11] = std::array::from_fn(|i| _mm512_broadcast_i32x4(keys[i]));
        let swap = _mm512_broadcast_i32x4(_mm_set_epi8(
            8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7,
        ));
        let four = _mm512_set_epi64(4, 0, 4, 0, 4, 0, 4, 0);
        let hi = (ctr >> 64) as u64;
        let mut c = lanes(hi, ctr as u64);
        let mut wide = out.chunks_exact_mut(512);
        for chunk in &mut wide {
            // Eight registers of four blocks in flight: the AES units stay busy.
            let mut cs = [c; 8];
            for i in 1..8 {
                cs[i] = _mm512_add_epi64(cs[i - 1], four);
            }
            c = _mm512_add_epi64(cs[7], four);
            let ks: [__m512i; 8] = std::array::from_fn(|i| encrypt(&rk, swap, cs[i]));
            for (i, k) in ks.into_iter().enumerate() {
                store(&mut chunk[i * 64..(i + 1) * 64], k, xor);
            }
        }
        let rest = wide.into_remainder();
        let mut quads = rest.chunks_exact_mut(64);
        for q in &mut quads {
            let k = encrypt(&rk, swap, c);
            c = _mm512_add_epi64(c, four);
            store(q, k, xor);
        }
        let tail = quads.into_remainder();
        if !tail.is_empty() {
            let mut k = [0u8; 64];
            store(&mut k, encrypt(&rk, swap, c), false);
            for (b, x) in tail.iter_mut().zip(k) {
                *b = if xor { *b ^ x } else { x };
            }
        }
    }

    /// `dst` (64 bytes) = `k`, or ^= `k`.
    #[target_feature(enable = "avx512f")]
    fn store(dst: &mut [u8], k: __m512i, xor: bool) {
        assert_eq!(dst.len(), 64);
        let p = dst.as_mut_ptr().cast::<__m512i>();
        let v = if xor {
            // SAFETY: `p` points at the 64 bytes of `dst` (checked above), readable; the
            // load is unaligned (`loadu`), so any address is fine.
            _mm512_xor_si512(k, unsafe { _mm512_loadu_si512(p) })
        } else {
            k
        };
        // SAFETY: the same 64 bytes, writable through the `&mut` borrow; unaligned store.
        unsafe { _mm512_storeu_si512(p, v) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn both(seed: &[u8; 32], offset: u64, len: usize, xor_into: Option<u8>) -> (Vec<u8>, Vec<u8>) {
        let start = vec![xor_into.unwrap_or(0x5c); len];
        let (mut a, mut b) = (start.clone(), start);
        apply(seed, offset, &mut a, xor_into.is_some(), true);
        portable(seed, offset, &mut b, xor_into.is_some());
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
            xor_into in proptest::option::of(any::<u8>()),
        ) {
            if !fast() { return Ok(()); }
            let (a, b) = both(&seed, offset, len, xor_into);
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
            let (a, b) = both(&seed, skip, len, None);
            prop_assert_eq!(a, b);
            // And the whole 128-bit counter wrapping.
            seed[16..24].copy_from_slice(&u64::MAX.to_be_bytes());
            let (a, b) = both(&seed, skip, len, Some(0xA5));
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn big_buffers_at_odd_offsets_match() {
        if !fast() {
            return;
        }
        let seed: [u8; 32] = std::array::from_fn(|i| (i * 7 + 1) as u8);
        for (offset, len) in [(0, 1 << 20), (13, (1 << 20) + 5), (4096 * 3 + 1, 777_777)] {
            let (a, b) = both(&seed, offset, len, None);
            assert!(a == b, "offset {offset} len {len}");
        }
    }
}
