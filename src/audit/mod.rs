//! `mediasan audit`: every certificate under some folders (and tar bundles) checked at once —
//! signature, signer, format, result — and reconciled with the asset register, so an auditor
//! can show that every asset that left has a valid record from a trusted signer, and that
//! nothing was signed that should not have been.
//!
//! collect (files) → judge (in parallel: signature, trust, class) → reconcile (pure) → report.

pub mod assets;
pub mod collect;
pub mod provenance;
pub mod reconcile;
pub mod report;
pub mod series;

use std::path::PathBuf;

use rayon::prelude::*;

use crate::cert::trust::Trust;
use crate::error::{Error, Result};

/// What an audit needs, decided.
#[derive(Clone, Debug)]
pub struct Settings {
    pub paths: Vec<PathBuf>,
    pub trust: Trust,
    pub assets: Option<PathBuf>,
    /// `--qc-percent` and the seed of the draw.
    pub qc: Option<(f64, String)>,
    /// How records may be matched to the register.
    pub matching: reconcile::Matching,
    /// The command line, for the report.
    pub command: Vec<String>,
}

/// Runs an audit.
///
/// # Errors
/// [`Error::Usage`]: nothing trusted to check against, a path that does not exist, a bad
/// asset register. Files that cannot be read or checked are findings, never errors.
pub fn run(s: &Settings) -> Result<reconcile::Audit> {
    if s.trust.is_empty() {
        return Err(Error::Usage(
            "an audit needs to know whom to trust: give --allowed-signers FILE or --pubkey KEY.pub \
             (or allowed_signers in the organization file)"
                .into(),
        ));
    }
    let register = s
        .assets
        .as_deref()
        .map(assets::Register::load)
        .transpose()?;
    let generated = crate::cert::timestamp(std::time::SystemTime::now());
    let collected = collect::collect(&s.paths)?;
    let entries: Vec<reconcile::Entry> = collected
        .found
        .into_par_iter()
        .map(|f| reconcile::judge(f, &s.trust))
        .collect();
    // Every file read: certificates and bundles, the register, the trust anchors' files.
    let mut inputs = collected.inputs;
    inputs.extend(register.as_ref().and_then(|r| r.input.clone()));
    inputs.extend(s.trust.sources.iter().map(|t| provenance::Input {
        file: t.path.display().to_string(),
        role: if t.allowed_signers {
            provenance::Role::AllowedSigners
        } else {
            provenance::Role::PublicKey
        },
        bytes: t.bytes,
        blake3: t.blake3.clone(),
    }));
    inputs.sort_by(|a, b| a.file.cmp(&b.file));
    inputs.dedup();
    let mut audit = reconcile::reconcile(entries, register, s.qc.clone(), s.matching);
    audit.verify_time = s.trust.time;
    audit.context = provenance::Context {
        version: env!("CARGO_PKG_VERSION").to_string(),
        command: s.command.clone(),
        generated,
        principal: s.trust.principal.clone(),
        anchors: provenance::anchors(&s.trust),
        inputs,
    };
    Ok(audit)
}
