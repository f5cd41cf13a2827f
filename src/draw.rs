//! Reproducible draws: the one way mediasan turns random bits into a position or an index, so
//! that sample positions and shuffled orders redrawn from a recorded seed are the same forever.
//! A leaf: it knows only `rand`'s generator trait.

use rand::RngCore;

/// A uniform integer in `0..n` (n > 0) from `rng`: draw a u64, reject the top
/// `2^64 mod n` values so every residue is equally likely, return it mod `n`.
/// Fixed here, not delegated to a library, so sample positions stay reproducible forever.
pub fn uniform_below(rng: &mut impl RngCore, n: u64) -> u64 {
    assert!(n > 0, "uniform_below(0)");
    let reject_from = u64::MAX - (u64::MAX % n + 1) % n;
    loop {
        let x = rng.next_u64();
        if x <= reject_from {
            return x % n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn uniform_below_stays_in_range_and_covers_it() {
        let mut r = ChaCha8Rng::from_seed([5; 32]);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            seen[uniform_below(&mut r, 7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
        assert_eq!(uniform_below(&mut r, 1), 0);
    }
}
