//! `mediasan audit PATH... [--assets FILE.csv]`: settings → `audit::run` → the report (text or
//! NDJSON, and the CSV and HTML files asked for) → exit 0 only when everything is in order.

use std::path::Path;

use crate::audit::{self, report};
use crate::cli::AuditArgs;
use crate::error::{Error, Exit};

pub fn run(args: &AuditArgs) -> anyhow::Result<Exit> {
    let settings = audit::Settings {
        paths: args.paths.clone(),
        trust: super::cert::trust_of(&args.trust)?,
        assets: args.assets.clone(),
        qc: args.qc_percent.map(|p| {
            let seed = args.seed.clone().unwrap_or_else(|| {
                let mut b = [0u8; 8];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
                crate::cert::hex(&b)
            });
            (p, seed)
        }),
        matching: audit::reconcile::Matching {
            images: args.allow_image_records,
        },
    };
    for out in [&args.csv, &args.html].into_iter().flatten() {
        refuse_overwriting_an_input(out, args)?;
    }
    let a = audit::run(&settings)?;
    if args.json {
        for e in report::events(&a) {
            crate::term::out(&e.line());
        }
    } else {
        for l in report::text(&a) {
            outln!("{l}");
        }
    }
    if let Some(p) = &args.csv {
        write(p, &report::csv(&a))?;
    }
    if let Some(p) = &args.html {
        let generated = format!(
            "{} at {}",
            env!("CARGO_PKG_VERSION"),
            crate::cert::timestamp(std::time::SystemTime::now())
        );
        let page = report::html(&a, &generated)
            .map_err(|e| anyhow::anyhow!("the HTML report's template failed (a bug): {e}"))?;
        write(p, page.as_bytes())?;
    }
    Ok(if a.clean() { Exit::Pass } else { Exit::Failed })
}

/// A report written over the asset register or a certificate would destroy evidence.
fn refuse_overwriting_an_input(out: &Path, args: &AuditArgs) -> Result<(), Error> {
    let Ok(o) = std::fs::canonicalize(out) else {
        return Ok(());
    };
    let inputs = args.assets.iter().chain(&args.paths);
    if inputs
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .any(|i| o == i || o.starts_with(&i) && o.extension().is_some_and(|x| x == "json"))
    {
        return Err(Error::Usage(format!(
            "{} is one of the audit's inputs; write the report elsewhere",
            out.display()
        )));
    }
    Ok(())
}

fn write(p: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(p, bytes)
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", p.display())))?;
    errln!("wrote {}", p.display());
    Ok(())
}
