//! Planning: a policy plus the user's overrides becomes a concrete list of passes, with every
//! random choice (seeds, random bytes, shuffled order) drawn once, up front, and recorded.
//! Pure: the randomness comes in as an argument, so tests can fix it.

use rand::RngCore;

use crate::draw::uniform_below;
use crate::pattern::Pattern;
use crate::policy::{PassSpec, Policy, VerifyMode};

/// One pass, fully resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassPlan {
    /// 1-based pass number.
    pub index: usize,
    /// What the policy asked for.
    pub spec: PassSpec,
    /// What will be written.
    pub pattern: Pattern,
}

/// The user's command-line overrides of a policy.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--verify full|sample|none`.
    pub verify: Option<VerifyMode>,
    /// `--verify-percent P`.
    pub verify_percent: Option<u8>,
}

/// Everything a wipe will do, decided before the first byte is written.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The policy this plan follows.
    pub policy: Policy,
    /// The passes in the order they are written.
    pub passes: Vec<PassPlan>,
    /// Verification of the last pass.
    pub verify_mode: VerifyMode,
    /// Minimum coverage for sampled verification, percent.
    pub verify_percent: u8,
    /// Seed of the sample positions (recorded so anyone can redraw them).
    pub verify_seed: [u8; 32],
}

impl Plan {
    /// The pattern the target should hold once every pass is done.
    pub fn final_pattern(&self) -> &Pattern {
        // A policy always has at least one pass (policy::parse enforces it).
        &self.passes[self.passes.len() - 1].pattern
    }
}

fn seed(rng: &mut impl RngCore) -> [u8; 32] {
    let mut s = [0u8; 32];
    rng.fill_bytes(&mut s);
    s
}

/// Builds the plan. `rng` must be a cryptographically secure generator in production: it
/// supplies the pass seeds.
pub fn build(policy: &Policy, overrides: &Overrides, rng: &mut impl RngCore) -> Plan {
    let mut specs = policy.passes.clone();
    if let Some((first, last)) = policy.shuffle {
        // Fisher–Yates over passes first..=last (1-based).
        let part = &mut specs[first - 1..last];
        for i in (1..part.len()).rev() {
            let j = uniform_below(rng, i as u64 + 1) as usize;
            part.swap(i, j);
        }
    }
    let mut passes: Vec<PassPlan> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.into_iter().enumerate() {
        let pattern = match &spec {
            PassSpec::Zero => Pattern::Fixed(vec![0x00]),
            PassSpec::One => Pattern::Fixed(vec![0xFF]),
            PassSpec::Bytes(b) => Pattern::Fixed(b.clone()),
            PassSpec::RandomByte => Pattern::Fixed(vec![(rng.next_u32() & 0xFF) as u8]),
            PassSpec::Random => Pattern::Random {
                prng: policy.prng,
                seed: seed(rng),
                inverted: false,
            },
            // policy::parse guarantees a complement pass is never first.
            PassSpec::Complement => passes[i - 1].pattern.complement(),
        };
        passes.push(PassPlan {
            index: i + 1,
            spec,
            pattern,
        });
    }
    Plan {
        policy: policy.clone(),
        passes,
        verify_mode: overrides.verify.unwrap_or(policy.verify_mode),
        verify_percent: overrides.verify_percent.unwrap_or(policy.verify_percent),
        verify_seed: seed(rng),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng(n: u8) -> ChaCha8Rng {
        ChaCha8Rng::from_seed([n; 32])
    }

    #[test]
    fn every_random_pass_gets_its_own_seed() {
        let p = policy::load("schneier").unwrap();
        let plan = build(&p, &Overrides::default(), &mut rng(1));
        let seeds: Vec<_> = plan
            .passes
            .iter()
            .filter_map(|p| match p.pattern {
                Pattern::Random { seed, .. } => Some(seed),
                _ => None,
            })
            .collect();
        assert_eq!(seeds.len(), 5);
        for (i, a) in seeds.iter().enumerate() {
            assert!(seeds[i + 1..].iter().all(|b| b != a));
            assert_ne!(*a, plan.verify_seed);
        }
        assert_eq!(
            plan.passes.iter().map(|p| p.index).collect::<Vec<_>>(),
            (1..=7).collect::<Vec<_>>()
        );
    }

    #[test]
    fn complement_follows_the_drawn_byte() {
        let p = policy::load("dod-5220.22-m").unwrap();
        for n in 0..20 {
            let plan = build(&p, &Overrides::default(), &mut rng(n));
            let Pattern::Fixed(a) = &plan.passes[0].pattern else {
                panic!()
            };
            let Pattern::Fixed(b) = &plan.passes[1].pattern else {
                panic!()
            };
            assert_eq!(b[0], !a[0]);
            assert!(matches!(plan.passes[2].pattern, Pattern::Random { .. }));
        }
    }

    #[test]
    fn gutmann_shuffles_only_the_middle_and_keeps_the_multiset() {
        let p = policy::load("gutmann").unwrap();
        let a = build(&p, &Overrides::default(), &mut rng(1));
        let b = build(&p, &Overrides::default(), &mut rng(2));
        let mid = |plan: &Plan| {
            plan.passes[4..31]
                .iter()
                .map(|p| p.spec.clone())
                .collect::<Vec<_>>()
        };
        assert_ne!(mid(&a), mid(&b), "different draws give different orders");
        let mut sa = mid(&a);
        let mut orig = p.passes[4..31].to_vec();
        sa.sort_by_key(|s| format!("{s:?}"));
        orig.sort_by_key(|s| format!("{s:?}"));
        assert_eq!(sa, orig);
        assert!(a.passes[..4]
            .iter()
            .chain(&a.passes[31..])
            .all(|p| p.spec == PassSpec::Random));
    }

    #[test]
    fn overrides_win_over_the_policy() {
        let p = policy::load("nist-clear").unwrap();
        let ov = Overrides {
            verify: Some(VerifyMode::Full),
            verify_percent: Some(42),
        };
        let plan = build(&p, &ov, &mut rng(0));
        assert_eq!(plan.verify_mode, VerifyMode::Full);
        assert_eq!(plan.verify_percent, 42);
    }
}
