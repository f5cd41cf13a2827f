//! What gets written: fixed byte patterns and a seeded, seekable pseudorandom stream.
//!
//! `Pattern::fill_at(buf, offset)` fills `buf` with the bytes that belong at byte `offset` of the
//! target. For the random stream that works at *any* offset without replaying the stream before
//! it: ChaCha is a counter-mode cipher, so we seek to word `offset / 4` of the keystream. This is
//! what lets many threads fill disjoint chunks at once, and lets the verifier (or a third party
//! holding the certificate's seed) regenerate the expected bytes of any sampled block.

use rand::{RngCore, SeedableRng};
use rand_chacha::{ChaCha12Rng, ChaCha20Rng, ChaCha8Rng};
use serde::{Deserialize, Serialize};

/// The keystream generator for random passes. All are ChaCha with a 256-bit key (the pass seed),
/// stream 0, and a 64-bit block counter, as implemented by `rand_chacha`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prng {
    /// ChaCha with 8 rounds.
    #[serde(rename = "chacha8")]
    ChaCha8,
    /// ChaCha with 12 rounds.
    #[serde(rename = "chacha12")]
    ChaCha12,
    /// ChaCha with 20 rounds.
    #[serde(rename = "chacha20")]
    ChaCha20,
    /// AES-128 in counter mode: key = seed[0..16], initial counter block = seed[16..32]
    /// (big-endian, +1 per 16-byte block, wrapping), exactly `openssl enc -aes-128-ctr`.
    #[serde(rename = "aes128-ctr")]
    Aes128Ctr,
}

impl Prng {
    /// The generator used when a policy names none: the fastest measured on x86-64 with AES-NI
    /// (docs/performance.md), and reproducible with `openssl enc -aes-128-ctr`.
    pub const DEFAULT: Prng = Prng::Aes128Ctr;

    /// Every generator, for listings and parsing.
    pub const ALL: [Prng; 4] = [
        Prng::Aes128Ctr,
        Prng::ChaCha8,
        Prng::ChaCha12,
        Prng::ChaCha20,
    ];

    /// The generator with this [`Prng::name`].
    pub fn from_name(name: &str) -> Option<Prng> {
        Prng::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The name written in policies and certificates.
    pub fn name(self) -> &'static str {
        match self {
            Prng::ChaCha8 => "chacha8",
            Prng::ChaCha12 => "chacha12",
            Prng::ChaCha20 => "chacha20",
            Prng::Aes128Ctr => "aes128-ctr",
        }
    }
}

/// A fully resolved pattern for one pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// A repeating byte sequence; byte `i` of the target is `bytes[i % bytes.len()]`.
    Fixed(Vec<u8>),
    /// The keystream of `prng` keyed by `seed`; `inverted` flips every bit (a random pass's
    /// complement).
    Random {
        prng: Prng,
        seed: [u8; 32],
        inverted: bool,
    },
}

impl Pattern {
    /// For a fixed pattern, its period in bytes; `None` for the random stream.
    pub fn period(&self) -> Option<usize> {
        match self {
            Pattern::Fixed(b) => Some(b.len()),
            Pattern::Random { .. } => None,
        }
    }

    /// The bitwise complement of this pattern.
    pub fn complement(&self) -> Pattern {
        match self {
            Pattern::Fixed(b) => Pattern::Fixed(b.iter().map(|x| !x).collect()),
            Pattern::Random {
                prng,
                seed,
                inverted,
            } => Pattern::Random {
                prng: *prng,
                seed: *seed,
                inverted: !inverted,
            },
        }
    }

    /// A short human description: `0x00`, `0x92 0x49 0x24`, `random (chacha8)`.
    pub fn describe(&self) -> String {
        match self {
            Pattern::Fixed(b) => b
                .iter()
                .map(|x| format!("0x{x:02X}"))
                .collect::<Vec<_>>()
                .join(" "),
            Pattern::Random {
                prng,
                inverted: false,
                ..
            } => format!("random ({})", prng.name()),
            Pattern::Random {
                prng,
                inverted: true,
                ..
            } => {
                format!("complement of random ({})", prng.name())
            }
        }
    }

    /// Where the generator can check data against its stream without writing anything
    /// (AES-128-CTR): whether `data`, read from byte `offset`, is exactly this pattern. `None`
    /// for other patterns: compare against [`Pattern::fill_at`] instead.
    pub fn matches_at(&self, data: &[u8], offset: u64) -> Option<bool> {
        match self {
            Pattern::Random {
                prng: Prng::Aes128Ctr,
                seed,
                inverted,
            } => Some(crate::aesctr::matches(seed, offset, data, *inverted)),
            _ => None,
        }
    }

    /// Fills `buf` with the bytes this pattern puts at byte `offset` of the target.
    pub fn fill_at(&self, buf: &mut [u8], offset: u64) {
        match self {
            Pattern::Fixed(bytes) => fill_fixed(buf, bytes, offset),
            Pattern::Random {
                prng,
                seed,
                inverted,
            } => {
                match prng {
                    Prng::ChaCha8 => fill_stream::<ChaCha8Rng>(buf, seed, offset),
                    Prng::ChaCha12 => fill_stream::<ChaCha12Rng>(buf, seed, offset),
                    Prng::ChaCha20 => fill_stream::<ChaCha20Rng>(buf, seed, offset),
                    Prng::Aes128Ctr => fill_aes_ctr(buf, seed, offset),
                }
                if *inverted {
                    buf.iter_mut().for_each(|b| *b = !*b);
                }
            }
        }
    }
}

fn fill_fixed(buf: &mut [u8], bytes: &[u8], offset: u64) {
    match bytes {
        [] => buf.fill(0),
        [b] => buf.fill(*b),
        _ => {
            let p = bytes.len();
            let phase = (offset % p as u64) as usize;
            // Write one period starting at the right phase, then double the filled prefix.
            let first = p.min(buf.len());
            for (i, b) in buf[..first].iter_mut().enumerate() {
                *b = bytes[(phase + i) % p];
            }
            let mut filled = first;
            while filled < buf.len() {
                let n = filled.min(buf.len() - filled);
                buf.copy_within(..n, filled);
                filled += n;
            }
        }
    }
}

/// The rand_chacha generators, which can all seek by 32-bit word.
trait Seekable: RngCore + SeedableRng<Seed = [u8; 32]> {
    fn seek_word(&mut self, word: u128);
}

macro_rules! seekable {
    ($($t:ty),*) => {$(
        impl Seekable for $t {
            fn seek_word(&mut self, word: u128) { self.set_word_pos(word) }
        }
    )*};
}
seekable!(ChaCha8Rng, ChaCha12Rng, ChaCha20Rng);

fn fill_stream<R: Seekable>(buf: &mut [u8], seed: &[u8; 32], offset: u64) {
    let mut rng = R::from_seed(*seed);
    rng.seek_word(u128::from(offset / 4));
    let skip = (offset % 4) as usize;
    if skip != 0 {
        let mut head = [0u8; 4];
        rng.fill_bytes(&mut head);
        let n = (4 - skip).min(buf.len());
        buf[..n].copy_from_slice(&head[skip..skip + n]);
        if n < buf.len() {
            rng.fill_bytes(&mut buf[n..]);
        }
    } else {
        rng.fill_bytes(buf);
    }
}

/// The AES-128-CTR keystream (VAES where the CPU has it: [`crate::aesctr`]).
fn fill_aes_ctr(buf: &mut [u8], seed: &[u8; 32], offset: u64) {
    crate::aesctr::fill(seed, offset, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(p: &Pattern, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        p.fill_at(&mut v, 0);
        v
    }

    #[test]
    fn random_stream_is_seekable_at_any_offset() {
        for prng in [
            Prng::ChaCha8,
            Prng::ChaCha12,
            Prng::ChaCha20,
            Prng::Aes128Ctr,
        ] {
            let p = Pattern::Random {
                prng,
                seed: [7; 32],
                inverted: false,
            };
            let whole = seq(&p, 70_000);
            for &(off, len) in &[
                (0, 1),
                (1, 3),
                (3, 9),
                (4, 64),
                (511, 1025),
                (4096, 8192),
                (65_537, 2000),
            ] {
                let mut part = vec![0u8; len];
                p.fill_at(&mut part, off as u64);
                assert_eq!(part, whole[off..off + len], "{prng:?} at {off}+{len}");
            }
        }
    }

    #[test]
    fn seeds_and_algorithms_give_different_streams() {
        let a = seq(
            &Pattern::Random {
                prng: Prng::ChaCha8,
                seed: [1; 32],
                inverted: false,
            },
            64,
        );
        let b = seq(
            &Pattern::Random {
                prng: Prng::ChaCha8,
                seed: [2; 32],
                inverted: false,
            },
            64,
        );
        let c = seq(
            &Pattern::Random {
                prng: Prng::ChaCha20,
                seed: [1; 32],
                inverted: false,
            },
            64,
        );
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn far_offsets_beyond_32_bit_block_counters_work() {
        // 20 TB into the stream: the block counter is past 2^32.
        let p = Pattern::Random {
            prng: Prng::ChaCha8,
            seed: [9; 32],
            inverted: false,
        };
        let off = 20_000_000_000_000u64;
        let mut a = vec![0u8; 4096];
        let mut b = vec![0u8; 4096];
        p.fill_at(&mut a, off);
        p.fill_at(&mut b[..100], off);
        p.fill_at(&mut b[100..], off + 100);
        assert_eq!(a, b);
        assert!(a.iter().any(|&x| x != 0));
    }

    #[test]
    fn fixed_patterns_keep_their_phase() {
        let p = Pattern::Fixed(vec![0x92, 0x49, 0x24]);
        let whole = seq(&p, 10_000);
        assert_eq!(&whole[..6], &[0x92, 0x49, 0x24, 0x92, 0x49, 0x24]);
        for off in [0usize, 1, 2, 5, 4096, 9000] {
            let mut part = vec![0u8; 1000];
            p.fill_at(&mut part, off as u64);
            assert_eq!(part, whole[off..off + 1000]);
        }
        assert!(seq(&Pattern::Fixed(vec![0xAA]), 100)
            .iter()
            .all(|&b| b == 0xAA));
    }

    #[test]
    fn aes_ctr_matches_nist_sp_800_38a_f_5_1() {
        // CTR-AES128.Encrypt, F.5.1: keystream = plaintext XOR ciphertext.
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(&hexb("2b7e151628aed2a6abf7158809cf4f3c"));
        seed[16..].copy_from_slice(&hexb("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"));
        let p = Pattern::Random {
            prng: Prng::Aes128Ctr,
            seed,
            inverted: false,
        };
        let pt = hexb("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        let ct = hexb("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff");
        let ks: Vec<u8> = pt.iter().zip(&ct).map(|(a, b)| a ^ b).collect();
        assert_eq!(seq(&p, 32), ks);
    }

    fn hexb(s: &str) -> Vec<u8> {
        crate::cert::unhex(s).unwrap()
    }

    #[test]
    fn the_stream_is_checked_without_being_regenerated_into_a_buffer() {
        for inverted in [false, true] {
            let p = Pattern::Random {
                prng: Prng::Aes128Ctr,
                seed: [5; 32],
                inverted,
            };
            let mut data = vec![0u8; 5000];
            p.fill_at(&mut data, 4096);
            assert_eq!(p.matches_at(&data, 4096), Some(true));
            assert_eq!(p.matches_at(&data, 4112), Some(false), "another offset");
            data[4999] ^= 1;
            assert_eq!(p.matches_at(&data, 4096), Some(false));
        }
        assert_eq!(Pattern::Fixed(vec![1]).matches_at(&[1u8; 10], 0), None);
    }

    #[test]
    fn complement_flips_every_bit() {
        for p in [
            Pattern::Fixed(vec![0x55, 0x00]),
            Pattern::Random {
                prng: Prng::ChaCha8,
                seed: [3; 32],
                inverted: false,
            },
        ] {
            let a = seq(&p, 4096);
            let b = seq(&p.complement(), 4096);
            assert!(a.iter().zip(&b).all(|(x, y)| *x == !*y));
            assert_eq!(p.complement().complement(), p);
        }
    }
}
