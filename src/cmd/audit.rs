//! `mediasan audit PATH... [--assets FILE.csv]`: settings → `audit::run` → the report (text or
//! NDJSON, and the CSV and HTML files asked for) → exit 0 only when everything is in order.

use std::path::{Path, PathBuf};

use crate::audit::{self, report};
use crate::cli::AuditArgs;
use crate::error::{Error, Exit};

pub fn run(args: &AuditArgs) -> anyhow::Result<Exit> {
    let settings = audit::Settings {
        paths: args.paths.clone(),
        trust: crate::session::certificates::trust_of(&args.trust)?,
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
        command: std::env::args_os()
            .map(|a| {
                use std::os::unix::ffi::OsStrExt;
                audit::collect::shown(a.as_bytes())
            })
            .collect(),
    };
    // Where the reports go is settled before the audit runs.
    let inputs: Vec<&Path> = args
        .paths
        .iter()
        .chain(&args.assets)
        .map(PathBuf::as_path)
        .collect();
    let target = |p: &Option<PathBuf>| {
        p.as_deref()
            .map(|p| crate::evidence::report_target(p, &inputs, args.force))
            .transpose()
    };
    let (csv, html) = (target(&args.csv)?, target(&args.html)?);
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
    if let Some(p) = &csv {
        write(p, &report::csv(&a), args.force)?;
    }
    if let Some(p) = &html {
        let folder = match p.parent() {
            Some(f) if !f.as_os_str().is_empty() => f,
            _ => Path::new("."),
        };
        let page = report::html(&a, folder)
            .map_err(|e| anyhow::anyhow!("the HTML report's template failed (a bug): {e}"))?;
        write(p, page.as_bytes(), args.force)?;
    }
    Ok(if a.clean() { Exit::Pass } else { Exit::Failed })
}

fn write(p: &Path, bytes: &[u8], force: bool) -> Result<(), Error> {
    crate::evidence::write_report(p, bytes, force)
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", p.display())))?;
    errln!("wrote {}", p.display());
    Ok(())
}
