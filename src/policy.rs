//! Policies: what passes to write and how to verify, as TOML. The built-in ones live in
//! `policies/*.toml` and are compiled into the binary; a user's file is validated the same way,
//! and every error names the key and the line.
//!
//! This module only parses and validates; it draws no random numbers (see `plan`).

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Result};
use crate::pattern::Prng;
use crate::technique::Step;

/// How the result of the last pass is read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyMode {
    /// Read every byte back.
    Full,
    /// Read pseudorandom samples spread over the whole target (see `verify::sample_plan`).
    Sample,
    /// Do not read back (the result cannot be PASS).
    None,
}

impl Policy {
    /// The policy as a certificate and a journal name it.
    pub fn reference(&self) -> crate::cert::PolicyRef {
        crate::cert::PolicyRef {
            name: self.name.clone(),
            description: self.description.clone(),
            reference: self.reference.clone(),
            legacy: self.legacy,
            source: self.source.clone(),
            blake3: self.blake3.clone(),
        }
    }
}

impl VerifyMode {
    /// The name used in policies, flags and certificates.
    pub fn name(self) -> &'static str {
        match self {
            VerifyMode::Full => "full",
            VerifyMode::Sample => "sampled",
            VerifyMode::None => "none",
        }
    }

    /// Parses `full`, `sample` (or `sampled`) and `none`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "full" => Some(VerifyMode::Full),
            "sample" | "sampled" => Some(VerifyMode::Sample),
            "none" => Some(VerifyMode::None),
            _ => None,
        }
    }
}

/// What the verification of a resumed wipe reads of the part written before an interruption
/// (`[verify] after_resume`, `--verify-after-resume`). Either way the first and last MiB are
/// read in full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AfterResume {
    /// At least the policy's percentage of that part (the drawn samples, topped up).
    #[default]
    Sample,
    /// Everything: the whole target is read back (the verification becomes `full`).
    Full,
}

impl AfterResume {
    /// Parses `sample` and `full`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sample" | "sampled" => Some(AfterResume::Sample),
            "full" => Some(AfterResume::Full),
            _ => None,
        }
    }
}

/// One pass as the policy states it, before seeds and random bytes are drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassSpec {
    /// All bytes 0x00.
    Zero,
    /// All bytes 0xFF.
    One,
    /// The seeded pseudorandom stream, a fresh seed per pass.
    Random,
    /// One byte value drawn at random when the wipe is planned, repeated.
    RandomByte,
    /// The bitwise complement of the previous pass.
    Complement,
    /// A fixed repeating byte sequence.
    Bytes(Vec<u8>),
}

/// A validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Short name, e.g. `nist-clear`.
    pub name: String,
    /// One line saying what it does.
    pub description: String,
    /// The standard it follows.
    pub reference: String,
    /// A superseded multi-pass preset (NIST SP 800-88 Rev. 2 does not ask for it).
    pub legacy: bool,
    /// Generator for random passes.
    pub prng: Prng,
    /// Verification of the last pass.
    pub verify_mode: VerifyMode,
    /// Minimum sampled coverage in percent (1..=100).
    pub verify_percent: u8,
    /// What a resumed wipe's verification reads of the part written before an interruption.
    pub after_resume: AfterResume,
    /// The passes, in order.
    pub passes: Vec<PassSpec>,
    /// 1-based inclusive range of passes whose order is drawn at random per wipe.
    pub shuffle: Option<(usize, usize)>,
    /// After an I/O error that retries did not cure: go on (`continue`) or stop (`abort`).
    pub on_error: crate::contract::OnError,
    /// Where it came from: `built-in` or the file path.
    pub source: String,
    /// BLAKE3 of the policy text, hex.
    pub blake3: String,
    /// Which techniques to use on each class of medium (`[media]`; without it, the overwrite
    /// everywhere).
    pub media: crate::technique::MediaRules,
    /// Triage limits on the drive's health (`[health]`; none by default).
    pub health: crate::device::health::Limits,
}

/// The built-in policies' names and texts, in the order `mediasan policies` lists them.
pub const BUILTIN: &[(&str, &str)] = &[
    ("nist-clear", include_str!("../policies/nist-clear.toml")),
    (
        "nist-clear-zero",
        include_str!("../policies/nist-clear-zero.toml"),
    ),
    (
        "nist-clear-removable",
        include_str!("../policies/nist-clear-removable.toml"),
    ),
    (
        "dod-5220.22-m",
        include_str!("../policies/dod-5220.22-m.toml"),
    ),
    (
        "dod-5220.22-m-ece",
        include_str!("../policies/dod-5220.22-m-ece.toml"),
    ),
    ("gutmann", include_str!("../policies/gutmann.toml")),
    (
        "rcmp-tssit-ops-ii",
        include_str!("../policies/rcmp-tssit-ops-ii.toml"),
    ),
    (
        "hmg-is5-baseline",
        include_str!("../policies/hmg-is5-baseline.toml"),
    ),
    (
        "hmg-is5-enhanced",
        include_str!("../policies/hmg-is5-enhanced.toml"),
    ),
    ("bsi-vsitr", include_str!("../policies/bsi-vsitr.toml")),
    ("schneier", include_str!("../policies/schneier.toml")),
    ("nist-purge", include_str!("../policies/nist-purge.toml")),
    (
        "nist-decommission",
        include_str!("../policies/nist-decommission.toml"),
    ),
    ("rma", include_str!("../policies/rma.toml")),
];

/// The policy used when none is given.
pub const DEFAULT: &str = "nist-clear";

/// The policy `mediasan sanitize` uses when none is given.
pub const SANITIZE_DEFAULT: &str = "nist-decommission";

/// Longest fixed byte sequence a pass may use.
pub const MAX_PATTERN_BYTES: usize = 64;
/// Most passes a policy may have.
pub const MAX_PASSES: usize = 64;

/// All built-in policies, parsed.
///
/// # Errors
/// Only if a built-in policy is broken, which the unit tests rule out.
pub fn builtins() -> Result<Vec<Policy>> {
    BUILTIN
        .iter()
        .map(|(name, text)| parse(text, &format!("built-in {name}")))
        .collect()
}

/// Resolves `--policy NAME|FILE`: a built-in name first, then a file path.
///
/// # Errors
/// [`Error::Policy`] for an unknown name, an unreadable file or one that does not validate.
pub fn load(name_or_path: &str) -> Result<Policy> {
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return parse(text, &format!("built-in {name}"));
    }
    let path = std::path::Path::new(name_or_path);
    if !path.exists() {
        return Err(Error::Policy {
            name: name_or_path.to_string(),
            reason: "no built-in policy of that name and no such file; run `mediasan policies` \
                     to list the built-in ones"
                .into(),
        });
    }
    let text =
        crate::limits::read_to_string(path, crate::limits::POLICY).map_err(|e| Error::Policy {
            name: name_or_path.to_string(),
            reason: format!("cannot read the file: {e}"),
        })?;
    parse(&text, name_or_path)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: Spanned<String>,
    description: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    legacy: bool,
    prng: Option<Spanned<String>>,
    verify: Option<RawVerify>,
    shuffle: Option<Spanned<Vec<usize>>>,
    on_error: Option<Spanned<String>>,
    #[serde(default)]
    pass: Vec<RawPass>,
    media: Option<RawMedia>,
    health: Option<RawHealth>,
}

/// `[health]`: the triage limits.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    reallocated_max: Option<u64>,
    pending_max: Option<u64>,
    uncorrectable_max: Option<u64>,
    media_errors_max: Option<u64>,
    percentage_used_max: Option<u8>,
    #[serde(default)]
    failing: bool,
    on_health: Option<Spanned<String>>,
}

/// `[media]`: for each class, alternatives in order of preference, each `purge`, `overwrite`,
/// a method name, or several joined with `+` (run in order).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMedia {
    magnetic: Spanned<Vec<String>>,
    flash: Spanned<Vec<String>>,
    nvme: Spanned<Vec<String>>,
    removable: Spanned<Vec<String>>,
    r#virtual: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerify {
    mode: Spanned<String>,
    percent: Option<Spanned<i64>>,
    after_resume: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPass {
    pattern: Option<Spanned<String>>,
    bytes: Option<Spanned<Vec<u8>>>,
}

fn line_of(text: &str, pos: usize) -> usize {
    text[..pos.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// Parses and validates a policy's TOML text. `source` names it in errors.
///
/// # Errors
/// [`Error::Policy`] naming the line and key of the first problem.
pub fn parse(text: &str, source: &str) -> Result<Policy> {
    let err = |pos: Option<usize>, msg: String| Error::Policy {
        name: source.to_string(),
        reason: match pos {
            Some(p) => format!("line {}: {msg}", line_of(text, p)),
            None => msg,
        },
    };
    let raw: RawPolicy = toml::from_str(text).map_err(|e| {
        err(
            e.span().map(|s| s.start),
            crate::toml_words::plain(e.message()),
        )
    })?;

    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(err(
            Some(raw.name.span().start),
            "`name` must be non-empty and use only letters, digits, '-', '_' and '.'".into(),
        ));
    }

    let prng = match &raw.prng {
        None => Prng::DEFAULT,
        Some(p) => Prng::from_name(p.get_ref()).ok_or_else(|| {
            err(
                Some(p.span().start),
                format!(
                    "`prng` = \"{}\" is not one of aes128-ctr, chacha8, chacha12, chacha20",
                    p.get_ref()
                ),
            )
        })?,
    };

    let (verify_mode, verify_percent) = match &raw.verify {
        None => (VerifyMode::Sample, 10),
        Some(v) => {
            let mode = VerifyMode::parse(v.mode.get_ref()).ok_or_else(|| {
                err(
                    Some(v.mode.span().start),
                    format!(
                        "`verify.mode` = \"{}\" is not one of full, sample, none",
                        v.mode.get_ref()
                    ),
                )
            })?;
            let percent = match &v.percent {
                None => 10,
                Some(p) => u8::try_from(*p.get_ref())
                    .ok()
                    .filter(|x| (1..=100).contains(x))
                    .ok_or_else(|| {
                        err(
                            Some(p.span().start),
                            format!("`verify.percent` = {} is not within 1..100", p.get_ref()),
                        )
                    })?,
            };
            (mode, percent)
        }
    };
    let after_resume = match raw.verify.as_ref().and_then(|v| v.after_resume.as_ref()) {
        None => AfterResume::Sample,
        Some(a) => AfterResume::parse(a.get_ref()).ok_or_else(|| {
            err(
                Some(a.span().start),
                format!(
                    "`verify.after_resume` = \"{}\" is not one of sample, full",
                    a.get_ref()
                ),
            )
        })?,
    };

    if raw.pass.is_empty() {
        return Err(err(
            None,
            "the policy has no [[pass]]; add at least one".into(),
        ));
    }
    if raw.pass.len() > MAX_PASSES {
        return Err(err(
            None,
            format!(
                "{} passes; at most {MAX_PASSES} are allowed",
                raw.pass.len()
            ),
        ));
    }
    let mut passes = Vec::with_capacity(raw.pass.len());
    for (i, p) in raw.pass.iter().enumerate() {
        let spec = match (&p.pattern, &p.bytes) {
            (Some(pat), None) => match pat.get_ref().as_str() {
                "zero" => PassSpec::Zero,
                "one" => PassSpec::One,
                "random" => PassSpec::Random,
                "random-byte" => PassSpec::RandomByte,
                "complement" if i == 0 => {
                    return Err(err(
                        Some(pat.span().start),
                        "`pattern` = \"complement\" cannot be the first pass: it complements the previous one".into(),
                    ))
                }
                "complement" => PassSpec::Complement,
                other => {
                    return Err(err(
                        Some(pat.span().start),
                        format!(
                            "`pattern` = \"{other}\" is not one of zero, one, random, random-byte, complement \
                             (or give `bytes = [..]`)"
                        ),
                    ))
                }
            },
            (None, Some(bytes)) => {
                let b = bytes.get_ref();
                if b.is_empty() || b.len() > MAX_PATTERN_BYTES {
                    return Err(err(
                        Some(bytes.span().start),
                        format!("`bytes` must hold 1 to {MAX_PATTERN_BYTES} values, not {}", b.len()),
                    ));
                }
                PassSpec::Bytes(b.clone())
            }
            (Some(pat), Some(_)) => {
                return Err(err(
                    Some(pat.span().start),
                    format!("pass {}: give either `pattern` or `bytes`, not both", i + 1),
                ))
            }
            (None, None) => {
                return Err(err(None, format!("pass {} has neither `pattern` nor `bytes`", i + 1)))
            }
        };
        passes.push(spec);
    }

    let shuffle = match &raw.shuffle {
        None => None,
        Some(s) => {
            let at = Some(s.span().start);
            match s.get_ref().as_slice() {
                &[a, b] if a >= 1 && a < b && b <= passes.len() => {
                    if passes[a - 1..b].contains(&PassSpec::Complement)
                        || (b < passes.len() && passes[b] == PassSpec::Complement)
                    {
                        return Err(err(
                            at,
                            "`shuffle` range cannot include or precede a complement pass".into(),
                        ));
                    }
                    Some((a, b))
                }
                _ => {
                    return Err(err(
                        at,
                        format!(
                            "`shuffle` must be [first, last] with 1 <= first < last <= {}",
                            passes.len()
                        ),
                    ))
                }
            }
        }
    };

    let on_error = match &raw.on_error {
        None => crate::contract::OnError::Continue,
        Some(v) => match v.get_ref().as_str() {
            "continue" => crate::contract::OnError::Continue,
            "abort" => crate::contract::OnError::Abort,
            other => {
                return Err(err(
                    Some(v.span().start),
                    format!("`on_error` = \"{other}\" is not one of continue, abort"),
                ))
            }
        },
    };

    let media = match &raw.media {
        None => crate::technique::MediaRules::overwrite_everywhere(),
        Some(m) => {
            let class = |v: &Spanned<Vec<String>>, what: &str| -> Result<Vec<Vec<Step>>> {
                v.get_ref()
                    .iter()
                    .map(|alt| {
                        alt.split('+')
                            .map(|s| {
                                Step::parse(s.trim()).ok_or_else(|| {
                                    err(
                                        Some(v.span().start),
                                        format!(
                                            "`media.{what}`: \"{s}\" is not purge, overwrite or a method \
                                             (`mediasan policies` lists them)"
                                        ),
                                    )
                                })
                            })
                            .collect()
                    })
                    .collect()
            };
            crate::technique::MediaRules {
                magnetic: class(&m.magnetic, "magnetic")?,
                flash: class(&m.flash, "flash")?,
                nvme: class(&m.nvme, "nvme")?,
                removable: class(&m.removable, "removable")?,
                r#virtual: class(&m.r#virtual, "virtual")?,
            }
        }
    };

    let health = match &raw.health {
        None => crate::device::health::Limits::default(),
        Some(h) => crate::device::health::Limits {
            reallocated_max: h.reallocated_max,
            pending_max: h.pending_max,
            uncorrectable_max: h.uncorrectable_max,
            media_errors_max: h.media_errors_max,
            percentage_used_max: h.percentage_used_max,
            failing: h.failing,
            refuse: match &h.on_health {
                None => false,
                Some(v) => match v.get_ref().as_str() {
                    "destroy" => false,
                    "refuse" => true,
                    other => {
                        return Err(err(
                            Some(v.span().start),
                            format!(
                                "`health.on_health` = \"{other}\" is not one of destroy, refuse"
                            ),
                        ))
                    }
                },
            },
        },
    };

    Ok(Policy {
        health,
        media,
        name,
        on_error,
        description: raw.description,
        reference: raw.reference,
        legacy: raw.legacy,
        prng,
        verify_mode,
        verify_percent,
        after_resume,
        passes,
        shuffle,
        source: if source.starts_with("built-in ") {
            "built-in".into()
        } else {
            source.into()
        },
        blake3: blake3::hash(text.as_bytes()).to_hex().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_rules_say_what_each_class_gets_and_bad_ones_name_their_line() {
        use crate::technique::{MediaClass, MediaRules};
        let d = load("nist-decommission").unwrap();
        let alts = |c| {
            d.media
                .of(c)
                .iter()
                .map(|a| MediaRules::describe(a))
                .collect::<Vec<_>>()
        };
        assert_eq!(alts(MediaClass::Magnetic), ["purge", "overwrite"]);
        assert_eq!(alts(MediaClass::Flash), ["purge"]);
        assert!(alts(MediaClass::Removable).is_empty());
        assert_eq!(alts(MediaClass::Virtual), ["overwrite"]);
        let rma = load("rma").unwrap();
        assert_eq!(
            rma.media
                .of(MediaClass::Nvme)
                .iter()
                .map(|a| MediaRules::describe(a))
                .collect::<Vec<_>>(),
            ["purge+overwrite", "overwrite"]
        );
        // Without [media]: the overwrite everywhere.
        assert_eq!(
            load("nist-clear").unwrap().media,
            MediaRules::overwrite_everywhere()
        );
        // Every built-in overwrites virtual targets.
        for p in builtins().unwrap() {
            assert_eq!(
                p.media.of(MediaClass::Virtual),
                [vec![crate::technique::Step::Overwrite]],
                "{}",
                p.name
            );
        }
        let text = load_text("nist-decommission")
            .replace("\"purge\", \"overwrite\"", "\"purge\", \"shred\"");
        let e = parse(&text, "x.toml").unwrap_err().to_string();
        assert!(e.contains("line 19") && e.contains("\"shred\""), "{e}");
        let text = load_text("nist-decommission").replace("removable = []\n", "");
        let e = parse(&text, "x.toml").unwrap_err().to_string();
        assert!(e.contains("removable"), "{e}");
    }

    fn load_text(name: &str) -> String {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
            .to_string()
    }

    #[test]
    fn every_builtin_parses_with_its_exact_pass_table() {
        let all = builtins().unwrap();
        assert_eq!(all.len(), BUILTIN.len());
        for (p, (name, _)) in all.iter().zip(BUILTIN) {
            assert_eq!(&p.name, name, "file name and `name` agree");
        }
        let get = |n: &str| all.iter().find(|p| p.name == n).unwrap();
        use PassSpec::*;
        assert_eq!(get("nist-clear").passes, vec![Random]);
        assert!(!get("nist-clear").legacy);
        assert_eq!(get("nist-clear").verify_percent, 10);
        assert_eq!(get("nist-clear-zero").passes, vec![Zero]);
        assert_eq!(get("nist-clear-removable").passes, vec![Random, Complement]);
        assert_eq!(
            get("dod-5220.22-m").passes,
            vec![RandomByte, Complement, Random]
        );
        assert_eq!(
            get("dod-5220.22-m-ece").passes,
            vec![RandomByte, Complement, Random, RandomByte, RandomByte, Complement, Random]
        );
        let g = get("gutmann");
        assert_eq!(g.passes.len(), 35);
        assert!(g.passes[..4]
            .iter()
            .chain(&g.passes[31..])
            .all(|p| *p == Random));
        assert_eq!(g.passes[6], Bytes(vec![0x92, 0x49, 0x24]));
        assert_eq!(g.passes[30], Bytes(vec![0xDB, 0x6D, 0xB6]));
        assert_eq!(g.shuffle, Some((5, 31)));
        let b = |x: u8| Bytes(vec![x]);
        assert_eq!(
            get("rcmp-tssit-ops-ii").passes,
            vec![b(0), b(0xFF), b(0), b(0xFF), b(0), b(0xFF), Random]
        );
        assert_eq!(get("hmg-is5-baseline").passes, vec![Zero]);
        assert_eq!(get("hmg-is5-enhanced").passes, vec![Zero, One, Random]);
        assert_eq!(
            get("bsi-vsitr").passes,
            vec![b(0), b(0xFF), b(0), b(0xFF), b(0), b(0xFF), b(0xAA)]
        );
        assert_eq!(
            get("schneier").passes,
            vec![One, Zero, Random, Random, Random, Random, Random]
        );
        for legacy in [
            "dod-5220.22-m",
            "gutmann",
            "schneier",
            "bsi-vsitr",
            "hmg-is5-baseline",
        ] {
            assert!(get(legacy).legacy, "{legacy} is marked legacy");
        }
    }

    fn reason(text: &str) -> String {
        match parse(text, "test.toml") {
            Err(Error::Policy { reason, .. }) => reason,
            other => panic!("expected a policy error, got {other:?}"),
        }
    }

    #[test]
    fn rejects_bad_policies_naming_line_and_key() {
        let base = "name = \"x\"\ndescription = \"d\"\n";
        let r = reason(&format!("{base}colour = 1\n[[pass]]\npattern = \"zero\"\n"));
        assert!(r.contains("line 3") && r.contains("colour"), "{r}");
        let r = reason(&format!("{base}[[pass]]\npattern = \"purple\"\n"));
        assert!(r.contains("line 4") && r.contains("purple"), "{r}");
        let r = reason(&format!(
            "{base}[verify]\nmode = \"sample\"\npercent = 0\n[[pass]]\npattern = \"zero\"\n"
        ));
        assert!(r.contains("line 5") && r.contains("verify.percent"), "{r}");
        let r = reason(&format!(
            "{base}[verify]\nmode = \"often\"\n[[pass]]\npattern = \"zero\"\n"
        ));
        assert!(r.contains("line 4") && r.contains("verify.mode"), "{r}");
        let r = reason(&format!("{base}[[pass]]\nbytes = [1, 300]\n"));
        assert!(r.contains("line 4"), "{r}");
        let r = reason(&format!("{base}[[pass]]\npattern = \"complement\"\n"));
        assert!(r.contains("first pass"), "{r}");
        let r = reason(&format!(
            "{base}[[pass]]\npattern = \"zero\"\nbytes = [1]\n"
        ));
        assert!(r.contains("not both"), "{r}");
        assert!(reason(base).contains("no [[pass]]"));
        assert!(reason("name = \"x\"\n").contains("description"));
        assert!(reason("this is not toml").contains("line 1"));
        let r = reason(&format!(
            "{base}on_error = \"panic\"\n[[pass]]\npattern = \"zero\"\n"
        ));
        assert!(r.contains("line 3") && r.contains("on_error"), "{r}");
        let r = reason(&format!(
            "{base}prng = \"rc4\"\n[[pass]]\npattern = \"zero\"\n"
        ));
        assert!(r.contains("line 3") && r.contains("prng"), "{r}");
        let r = reason(&format!(
            "{base}shuffle = [2, 9]\n[[pass]]\npattern = \"zero\"\n[[pass]]\npattern = \"one\"\n"
        ));
        assert!(r.contains("shuffle"), "{r}");
    }

    #[test]
    fn unknown_name_is_a_clear_error_and_digest_tracks_the_text() {
        assert!(matches!(load("no-such-policy"), Err(Error::Policy { .. })));
        let a = parse(
            "name = \"a\"\ndescription = \"d\"\n[[pass]]\npattern = \"zero\"\n",
            "a",
        )
        .unwrap();
        let b = parse(
            "name = \"a\"\ndescription = \"e\"\n[[pass]]\npattern = \"zero\"\n",
            "b",
        )
        .unwrap();
        assert_ne!(a.blake3, b.blake3);
        assert_eq!(a.blake3.len(), 64);
    }
}
