//! `mediasan policies`: list the built-in policies, or print one.

use crate::event::{self, Event};

use crate::cli::PoliciesArgs;
use crate::error::{Error, Exit};
use crate::policy::{self, PassSpec};
use crate::purge::method::{Grade, Medium, Method};
use crate::technique::{MediaClass, MediaRules};

fn pass_name(p: &PassSpec) -> String {
    match p {
        PassSpec::Zero => "zero".into(),
        PassSpec::One => "one".into(),
        PassSpec::Random => "random".into(),
        PassSpec::RandomByte => "random-byte".into(),
        PassSpec::Complement => "complement".into(),
        PassSpec::Bytes(b) => b
            .iter()
            .map(|x| format!("{x:02X}"))
            .collect::<Vec<_>>()
            .join(""),
    }
}

pub fn run(args: &PoliciesArgs) -> anyhow::Result<Exit> {
    if let Some(name) = &args.show {
        let (_, text) = policy::BUILTIN
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::Policy {
                name: name.clone(),
                reason: "no built-in policy of that name; run `mediasan policies` to list them"
                    .into(),
            })?;
        crate::term::out_raw(text);
        return Ok(Exit::Pass);
    }
    let all = policy::builtins()?;
    if args.json {
        json(&all);
    } else {
        table(&all);
    }
    Ok(Exit::Pass)
}

fn grade_name(m: Method, medium: Medium) -> &'static str {
    if m.grade(medium) == Grade::Purge {
        "purge"
    } else {
        "clear"
    }
}

/// One `policy` event per built-in policy, one `purge_method` per method.
fn json(all: &[policy::Policy]) {
    for p in all {
        crate::term::out(
            &Event::Policy(event::PolicyInfo {
                name: p.name.clone(),
                description: p.description.clone(),
                reference: p.reference.clone(),
                legacy: p.legacy,
                method: if p.media == MediaRules::overwrite_everywhere() {
                    "clear"
                } else {
                    "by medium"
                }
                .into(),
                passes: p.passes.iter().map(pass_name).collect(),
                verify: p.verify_mode.name().into(),
                verify_percent: p.verify_percent,
                prng: p.prng.name().into(),
                blake3: p.blake3.clone(),
                media: MediaClass::ALL
                    .iter()
                    .map(|c| {
                        let alts = p.media.of(*c).iter().map(|a| MediaRules::describe(a));
                        (c.name().to_string(), alts.collect())
                    })
                    .collect(),
            })
            .line(),
        );
    }
    for m in Method::ALL {
        crate::term::out(
            &Event::PurgeMethod(event::PurgeMethodInfo {
                name: m.name().into(),
                technique: m.technique().into(),
                grade_on_flash: grade_name(m, Medium::Flash).into(),
                grade_on_magnetic: grade_name(m, Medium::Magnetic).into(),
                note: m.note().map(str::to_string),
            })
            .line(),
        );
    }
}

/// The policies and the purge methods, for people.
fn table(all: &[policy::Policy]) {
    let width = all.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in all {
        let verify = match p.verify_mode {
            policy::VerifyMode::Sample => format!("sampled >= {} %", p.verify_percent),
            m => m.name().to_string(),
        };
        outln!(
            "{:width$}  {:<9}  verify {:<15} {}{}",
            p.name,
            format!(
                "{:>2} pass{}",
                p.passes.len(),
                if p.passes.len() == 1 { "" } else { "es" }
            ),
            verify,
            if p.legacy { "[LEGACY] " } else { "" },
            p.description.trim_start_matches("LEGACY "),
        );
    }
    outln!();
    outln!("What `mediasan sanitize` uses per medium (the first the drive can do; none: FAIL, Destroy):");
    for p in all
        .iter()
        .filter(|p| p.media != MediaRules::overwrite_everywhere())
    {
        let per: Vec<String> = MediaClass::ALL
            .iter()
            .map(|c| {
                let alts: Vec<String> = p
                    .media
                    .of(*c)
                    .iter()
                    .map(|a| MediaRules::describe(a))
                    .collect();
                format!(
                    "{} {}",
                    c.name(),
                    if alts.is_empty() {
                        "destroy".into()
                    } else {
                        alts.join(" > ")
                    }
                )
            })
            .collect();
        outln!("  {:width$}  {}", p.name, per.join("; "));
    }
    outln!("  every other policy: overwrite on every medium.");
    outln!();
    outln!(
        "An overwrite is NIST SP 800-88 Clear, never Purge; `wipe` uses only a policy's passes."
    );
    outln!("`mediasan policies --show NAME` prints one; `--policy FILE` uses your own TOML.");
    outln!();
    outln!(
        "Purge with the drive's own commands: `mediasan purge DEVICE --method NAME`, NAME one of"
    );
    outln!("  nist-purge (the strongest Purge the drive supports: crypto erase, block erase, overwrite)");
    for m in Method::ALL {
        outln!(
            "  {:<28} {:<16} {}",
            m.name(),
            m.technique(),
            m.grade_label()
        );
    }
}
