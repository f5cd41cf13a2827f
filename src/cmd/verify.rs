//! `mediasan verify TARGET --cert FILE`: check the certificate's signature, check the target is
//! the media it describes, redraw its samples from the recorded seed (or read everything for a
//! full verification), re-read them with direct I/O, compare with the recorded pattern, and
//! compare the BLAKE3 digest. Exit 0 only if the digest matches and nothing differs.

use std::sync::atomic::AtomicBool;

use crate::event::{self, Event};

use crate::cert::Certificate;
use crate::cli::VerifyArgs;
use crate::device::{self, Probe};
use crate::error::{Error, Exit};
use crate::progress::Reporter;
use crate::recheck::{self, Finding};
use crate::units::human_bytes;
use crate::verify::{self, Samples};
use crate::writer::IoConfig;

/// Refuses a target that is not the media the certificate describes.
fn same_media(c: &Certificate, p: &Probe) -> Result<(), Error> {
    let diffs = crate::cert::latest::media_differs(&c.media, p);
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{} is not the media of this certificate ({}; the certificate is for {})",
            p.path.display(),
            diffs.join(", "),
            c.media.path
        )))
    }
}

/// The samples the certificate's verification read, redrawn.
fn redraw(c: &Certificate, p: &Probe) -> Result<Samples, Error> {
    let v = &c.verification;
    match v.method.as_str() {
        "full" => Ok(verify::full_plan(p.size, 1 << 20)),
        "sampled" => {
            let seed: [u8; 32] = crate::cert::unhex(&v.seed)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| {
                    Error::CertificateInput(
                        "the certificate's verification seed is not 32 bytes of hex".into(),
                    )
                })?;
            let extra: Vec<verify::Extent> = v
                .resume_checks
                .iter()
                .map(|r| verify::Extent {
                    offset: r.offset,
                    len: r.length,
                })
                .collect();
            let s = verify::sample_plan(p.size, p.logical_block_size, v.requested_percent, &seed)
                .with_extra(&extra, p.size);
            if (s.subsections, s.sample_bytes, s.extents.len())
                != (v.subsections, v.sample_bytes, v.samples)
            {
                return Err(Error::CertificateInput(format!(
                    "the samples redrawn ({} subsections, {} samples of {} bytes) differ from the certificate's \
                     ({}, {} of {}): it was made with another sampling algorithm ({})",
                    s.subsections,
                    s.extents.len(),
                    s.sample_bytes,
                    v.subsections,
                    v.samples,
                    v.sample_bytes,
                    v.algorithm
                )));
            }
            Ok(s)
        }
        // A resumed wipe read its resume checks even without a verification.
        "none" if !v.resume_checks.is_empty() => {
            let extra: Vec<verify::Extent> = v
                .resume_checks
                .iter()
                .map(|r| verify::Extent {
                    offset: r.offset,
                    len: r.length,
                })
                .collect();
            Ok(verify::no_samples(p.logical_block_size).with_extra(&extra, p.size))
        }
        other => Err(Error::CertificateInput(format!(
            "the certificate records no read-back to repeat (verification method '{other}')"
        ))),
    }
}

pub fn run(args: &VerifyArgs) -> anyhow::Result<Exit> {
    let checked = crate::session::certificates::load_checked(
        &args.cert,
        None,
        &crate::session::certificates::trust_here(&args.trust)?,
    )?;
    let c = &checked.cert;
    let probe = device::probe(&args.target)?;
    same_media(c, &probe)?;
    let pattern = c
        .sanitization
        .passes
        .last()
        .and_then(|p| p.pattern())
        .ok_or_else(|| {
            Error::CertificateInput(
                "the certificate records no pass pattern to compare with".into(),
            )
        })?;
    let samples = redraw(c, &probe)?;
    let target = device::open_readonly(&probe)?;
    let reporter = Reporter::new(args.json, std::time::Duration::from_secs(30));
    let name = probe.path.display().to_string();
    let rep = reporter.target(&name);
    rep.start(
        "verify",
        0,
        0,
        &c.verification.method,
        samples.extents.bytes(),
    );
    let io = IoConfig {
        queue_depth: usize::from(args.queue_depth),
        ..IoConfig::default()
    };
    let cancel = AtomicBool::new(false);
    let r = verify::run(&target, &samples, &pattern, &io, &cancel, &mut |d| {
        rep.progress(d)
    });
    rep.finish();
    // A zoned device's sequential zones must still be full: a zone reset since reads zeros,
    // as a zero pattern does.
    let zones = c
        .verification
        .zones
        .as_ref()
        .and_then(|_| verify::zone_check(&target));
    let zones = zones.as_ref().and_then(zones_changed);
    Ok(judge(args, &checked, &samples, &r, zones, &name, &reporter))
}

/// Why a zoned device's zone report no longer shows the overwrite, if it does not.
fn zones_changed(z: &crate::cert::ZoneCheck) -> Option<String> {
    if let Some(e) = &z.error {
        return Some(format!("its zone report could not be read ({e})"));
    }
    let first = z.not_full.first()?;
    Some(format!(
        "{} of {} sequential zones are no longer written to their end (the first from offset {}): \
         reset or rewritten since",
        z.not_full.len(),
        z.sequential,
        first.offset
    ))
}

/// Says whether the media still holds what the certificate records, and whether that proves
/// a sanitization (the certificate a PASS, its signer trusted); the exit.
fn judge(
    args: &VerifyArgs,
    checked: &crate::session::certificates::Checked,
    samples: &Samples,
    r: &verify::VerifyReport,
    zones: Option<String>,
    name: &str,
    reporter: &Reporter,
) -> Exit {
    let c = &checked.cert;
    let trusted = checked.signer.trusted();
    let j = recheck::judge(c, samples.extents.bytes(), r, zones);
    let recheck = event::Recheck {
        certificate: args.cert.clone(),
        signer: checked.signer.fingerprint().to_string(),
        trusted,
        certificate_blake3: c.verification.blake3.clone(),
        digest_matches: j.digest_matches,
        media_matches: j.media_matches,
        certificate_result: c.result.name().into(),
        result: if j.proves(trusted) { "PASS" } else { "FAIL" }.into(),
    };
    reporter.emit(&Event::VerifyDone(done(c, samples, r, name, recheck)));
    errln!(
        "{name}: read {} at {} place(s), {} block(s) differ; blake3 {}",
        human_bytes(r.bytes_read),
        samples.extents.len(),
        r.mismatched_blocks,
        if r.blake3.is_empty() {
            "(incomplete read)"
        } else {
            &r.blake3
        }
    );
    let cert = args.cert.display();
    match j.finding {
        Finding::Differs(why) => {
            outln!("DIFFERS: {name} does not match {cert}: {why}");
            Exit::Failed
        }
        Finding::NotSanitized { result, reason } => {
            outln!(
                "MATCHES, BUT NOT SANITIZED: {name} still holds what {cert} recorded, and that certificate says {} ({reason})",
                result.name()
            );
            Exit::Failed
        }
        Finding::Holds => {
            outln!(
                "{}: {name} still holds what {cert} certifies (signed by {}); blake3 {}",
                if trusted { "OK" } else { "MATCHES" },
                checked.signer.describe(),
                r.blake3
            );
            checked.code(&args.cert)
        }
    }
}

/// The `verify_done` event of a read-back.
fn done(
    c: &Certificate,
    samples: &Samples,
    r: &verify::VerifyReport,
    name: &str,
    recheck: event::Recheck,
) -> event::VerifyDone {
    event::VerifyDone {
        target: name.to_string(),
        method: c.verification.method.clone(),
        bytes_read: r.bytes_read,
        coverage_percent: samples.coverage_percent,
        mismatches: r.mismatched_blocks,
        first_mismatch_offset: r
            .first_mismatch
            .or_else(|| r.errors.first().map(|e| e.offset)),
        errors: r.errors.len(),
        blake3: r.blake3.clone(),
        bytes_per_second: (r.bytes_read as f64 / r.elapsed.as_secs_f64().max(1e-9)).round(),
        recheck: Some(recheck),
    }
}
