//! The one place a certificate is built from what a sanitization did: [`clear`] for an
//! overwrite, [`purge`] for a drive's own command. Pure: the flows hand in their outcome as
//! plain records, the verdict and the recommendation are derived here, nothing is edited after.

use std::time::SystemTime;

use rand::RngCore;

use super::{
    judge, new_id, recommend, seconds_between, timestamp, Certificate, DeviceCommand, HiddenAreas,
    Host, Media, PassRecord, PolicyRef, Record, Sanitization, Tool, Verdict, Verification, FORMAT,
};
use crate::device::{hidden, Kind, Probe};

/// What an overwrite of one target did, as the certificate records it.
#[derive(Clone, Debug)]
pub struct ClearOutcome {
    /// Every pass that ran (the earlier runs' too, for a resumed wipe).
    pub passes: Vec<PassRecord>,
    pub verification: Verification,
    pub hidden: HiddenAreas,
    /// The drive's health before and after.
    pub health: super::HealthRecord,
    pub started: SystemTime,
    pub finished: SystemTime,
    /// Interruptions and resumptions, in order.
    pub events: Vec<String>,
    /// A signal cut the work short: the result is INCOMPLETE and can be resumed.
    pub interrupted: bool,
    /// What cut it short was the medium's removal (pulled from a bench, gone from the system).
    pub pulled: bool,
    /// The terminal hung up meanwhile (and the work went on).
    pub hung_up: bool,
    /// The INCOMPLETE certificates of earlier runs of this wipe.
    pub supersedes: Vec<String>,
    /// The times the medium was out of mediasan's hands before a run resumed the wipe.
    pub gaps: Vec<super::Gap>,
    /// The policy it followed, its triage limits, and how many passes it planned.
    pub policy: PolicyRef,
    pub limits: crate::device::health::Limits,
    pub planned_passes: usize,
}

/// What a purge did, as the certificate records it (kept in the purge journal until then).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PurgeOutcome {
    /// The method's name, technique and note (`nvme-sanitize-crypto`, `crypto erase`).
    pub method: String,
    pub technique: String,
    pub note: Option<String>,
    /// It reaches Purge (not Clear) on this medium.
    pub purge_grade: bool,
    /// `nvme`, `ata` or `scsi`.
    pub bus: String,
    pub command: DeviceCommand,
    /// The drive said the sanitize failed: why.
    pub drive_failed: Option<String>,
    /// A signal cut the purge short (before the command was sent, or while the drive was
    /// followed): why. The result is INCOMPLETE.
    pub interrupted: Option<String>,
    /// The drive could not be followed to the end (its status unreadable, its progress
    /// stuck), or its erase cannot be shown (a drive locked before its PSID revert): why. The
    /// result is INCOMPLETE.
    pub unresolved: Option<String>,
    /// Canaries were written at the samples before the purge.
    pub canaries: bool,
    /// What the read-back of this method can and cannot prove.
    pub proves: String,
    /// The medium as the drive reports it, and how that was decided.
    pub medium: String,
    /// Samples that proved nothing (without canaries: the same uniform bytes before and after).
    pub inconclusive: u64,
    /// The sampled read-back (its `mismatches` are the samples that prove nothing).
    pub verification: Verification,
    /// What the read-back found wrong, per sample.
    pub problems: Vec<String>,
    /// What the command erased (for the notes).
    pub scope_summary: String,
    pub started: SystemTime,
    pub finished: SystemTime,
    /// Interruptions and the later runs that finished the purge, in order.
    #[serde(default)]
    pub events: Vec<String>,
    /// The INCOMPLETE certificates earlier runs of this purge wrote.
    #[serde(default)]
    pub supersedes: Vec<String>,
    /// The drive's health before and after.
    #[serde(default)]
    pub health: super::HealthRecord,
    /// The command was never sent, after the medium had been written to (the canaries could
    /// not all be written): why. A FAIL, never no certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_sent: Option<String>,
    /// What the command erased besides the target, which the read-back did not check (the
    /// other namespaces of an NVMe subsystem).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unverified: Vec<String>,
    /// The Persistent Event Log's sanitize events before the command (so that the certificate
    /// lists only this run's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pel_before: Vec<String>,
    /// A self-encrypting drive's TCG Level 0 Discovery, read before the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcg: Option<crate::contract::media::Tcg>,
    /// The same read again after a TCG Revert: locking must be off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcg_after: Option<crate::contract::media::Tcg>,
    /// A range was locked before the command (a PSID revert or an Enterprise Erase of a
    /// locked drive): nothing could be written or read beforehand, so the read-back cannot
    /// show the erase.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
}

/// The fields every certificate starts with: format, a fresh id, tool, host, and the media as
/// probed.
fn skeleton(p: &Probe) -> Certificate {
    let mut id = [0u8; 16];
    rand::rng().fill_bytes(&mut id);
    Certificate {
        format: FORMAT.into(),
        id: new_id(id),
        tool: Tool::this(),
        host: Host::this(),
        media: Media {
            path: p.canonical.display().to_string(),
            kind: p.kind.name().into(),
            identity: p.identity.clone(),
            size_bytes: p.size,
            logical_block_size: p.logical_block_size,
            physical_block_size: p.physical_block_size,
            ..Media::default()
        },
        ..Certificate::default()
    }
}

/// The certificate of a medium's destruction (NIST Destroy): `media` as identified (by the
/// person, or from the certificate that recommended it), what they saw done, their record.
/// PASS: the certificate attests what the operator and witness state.
pub fn destroyed(
    media: Media,
    d: crate::cert::Destruction,
    at: SystemTime,
    record: &Record,
) -> Certificate {
    let mut id = [0u8; 16];
    rand::rng().fill_bytes(&mut id);
    let mut c = Certificate {
        format: FORMAT.into(),
        id: new_id(id),
        tool: Tool::this(),
        host: Host::this(),
        media,
        ..Certificate::default()
    };
    let mut notes = vec![format!(
        "Destroy (NIST SP 800-88 Rev. 2): the medium was destroyed by {} at {}, witnessed by {}; this record \
         attests what they state, it was not measured by mediasan.",
        d.method,
        if d.facility.is_empty() { "(facility not given)" } else { &d.facility },
        if d.witness.is_empty() { "(no witness given)" } else { &d.witness }
    )];
    if d.method == "degauss" {
        notes.push(
            "Degaussing is Purge for magnetic media only, and leaves flash untouched; a degaussed drive is \
             inoperable but its platters remain."
                .into(),
        );
    }
    c.sanitization = Sanitization {
        method: "destroy".into(),
        technique: d.method.clone(),
        started: timestamp(at),
        finished: timestamp(at),
        destruction: Some(d),
        ..Sanitization::default()
    };
    c.verification.method = "none".into();
    c.notes = notes;
    record.apply(&mut c);
    c.result = Verdict::Pass;
    c
}

/// The notes an overwrite's certificate carries about what it can and cannot cover.
fn clear_notes(p: &Probe, direct_io: bool, policy: &PolicyRef, hung_up: bool) -> Vec<String> {
    let id = &p.identity;
    let mut notes = vec![
        "Overwrite is NIST SP 800-88 Rev. 2 Clear: it rewrites every user-addressable block through the host \
         interface. It is not Purge."
            .to_string(),
    ];
    match p.kind {
        Kind::Image => notes.push(
            "Image file: this covers the file's blocks as the filesystem maps them now; the filesystem, or an SSD \
             beneath it, may keep older copies of the data elsewhere."
                .into(),
        ),
        Kind::Block if id.media_type != "hdd" && id.interface != "loop" => notes.push(
            "On flash media an overwrite cannot reach spare, remapped or over-provisioned cells; prefer a Purge \
             (the drive's sanitize command) where the drive supports it."
                .into(),
        ),
        Kind::Block => {}
    }
    if !direct_io {
        notes.push(
            "The filesystem refused direct I/O: writes were buffered, flushed with fdatasync, and the page \
             cache dropped before verification."
                .into(),
        );
    }
    if policy.legacy {
        notes.push(format!(
            "Policy {} is a legacy multi-pass preset; NIST SP 800-88 Rev. 2 considers one verified pass sufficient \
             for Clear.",
            policy.name
        ));
    }
    if hung_up {
        notes.push(
            "The terminal hung up (SIGHUP) during the wipe; it went on to the end without it."
                .into(),
        );
    }
    notes
}

/// What a resumed wipe's certificate says of the times its medium was out of mediasan's hands,
/// and what the verification did about them.
fn gap_note(c: &Certificate) -> Option<String> {
    let gaps = &c.sanitization.gaps;
    if gaps.is_empty() {
        return None;
    }
    let when: Vec<String> = gaps
        .iter()
        .map(|g| {
            format!(
                "from {} to {}",
                if g.from.is_empty() {
                    "(unknown)"
                } else {
                    &g.from
                },
                g.to
            )
        })
        .collect();
    let v = &c.verification;
    let read = match v.method.as_str() {
        "full" => "the verification read the whole medium".to_string(),
        _ => format!(
            "the verification read the first and last MiB (partition tables, RAID and LVM \
             superblocks) in full{}, listed in verification.resume_checks",
            if v.method == "sampled" {
                format!(
                    " and at least {} % of the part written before each interruption",
                    v.requested_percent
                )
            } else {
                String::new()
            }
        ),
    };
    Some(format!(
        "Resumed wipe: the medium was out of mediasan's hands {} (sanitization.gaps). What other \
         software wrote meanwhile to the part already written is not written over again; {read}.",
        when.join(", ")
    ))
}

/// Seconds spent writing (every segment of every pass) and verifying.
fn active_seconds(passes: &[PassRecord], v: &crate::cert::Verification) -> f64 {
    let writing: f64 = passes
        .iter()
        .map(|p| p.segments.iter().map(|s| s.seconds).sum::<f64>())
        .sum();
    let verifying = if v.bytes_per_second > 0.0 {
        v.bytes_read as f64 / v.bytes_per_second
    } else {
        0.0
    };
    ((writing + verifying) * 1000.0).round() / 1000.0
}

/// The certificate of an overwrite (NIST Clear) of `p`.
pub fn clear(p: &Probe, direct_io: bool, o: ClearOutcome, record: &Record) -> Certificate {
    let mut c = skeleton(p);
    c.media.direct_io = direct_io;
    c.media.hidden_areas = o.hidden;
    let triage = health_notes(&o.health, &o.limits);
    c.media.health = o.health;
    let active = active_seconds(&o.passes, &o.verification);
    c.sanitization = Sanitization {
        method: "clear".into(),
        technique: "overwrite".into(),
        policy: o.policy.clone(),
        passes: o.passes,
        started: timestamp(o.started),
        finished: timestamp(o.finished),
        duration_seconds: seconds_between(o.started, o.finished),
        active_seconds: active,
        resumed: o.events,
        gaps: o.gaps,
        command: None,
        destruction: None,
    };
    c.supersedes = o.supersedes;
    c.verification = o.verification;
    c.notes = clear_notes(p, direct_io, &o.policy, o.hung_up);
    c.notes.extend(gap_note(&c));
    record.apply(&mut c);
    let (verdict, mut reasons) = judge(&c, o.planned_passes, o.interrupted);
    if o.pulled {
        reasons.insert(
            0,
            "the drive was removed (pulled) before the work was finished; plug it in again to \
             resume (its journal is kept)"
                .into(),
        );
    }
    c.result = verdict;
    c.reasons = reasons;
    c.recommendation = recommend(&c);
    triage.apply(&mut c);
    c
}

/// What the drive's health adds to a certificate: growth during the sanitization (a note),
/// and the policy's limits crossed (the recommendation Destroy).
pub struct Triage {
    pub notes: Vec<String>,
    pub over: Vec<String>,
}

impl Triage {
    pub fn apply(self, c: &mut Certificate) {
        c.notes.extend(self.notes);
        if !self.over.is_empty() {
            let why = format!(
                "Destroy: the drive's health is over the policy's limits ({})",
                self.over.join("; ")
            );
            c.recommendation = if c.recommendation.is_empty() {
                why
            } else {
                format!("{}; {why}", c.recommendation)
            };
        }
    }
}

/// The triage of a health record under `limits` (see [`Triage`]).
pub fn health_notes(h: &super::HealthRecord, limits: &crate::device::health::Limits) -> Triage {
    use crate::device::health;
    let mut notes = Vec::new();
    if let (Some(b), Some(a)) = (&h.before, &h.after) {
        notes.extend(
            health::growth(b, a)
                .into_iter()
                .map(|g| format!("Warning: {g}.")),
        );
    }
    let over = h
        .before
        .iter()
        .chain(h.after.iter())
        .map(|x| limits.over(x))
        .max_by_key(Vec::len)
        .unwrap_or_default();
    Triage { notes, over }
}

/// The verdict of a purge: FAIL when the drive says it failed or a sample proves nothing;
/// INCOMPLETE when the read-back did not run to the end; PASS otherwise.
fn judge_purge(o: &PurgeOutcome) -> (Verdict, Vec<String>) {
    let mut fail = Vec::new();
    if let Some(w) = &o.not_sent {
        fail.push(w.clone());
    }
    if let Some(w) = &o.drive_failed {
        fail.push(format!("{} failed: {w}", o.method));
    }
    fail.extend(
        o.problems
            .iter()
            .take(10)
            .map(|p| format!("after the sanitize, {p}")),
    );
    if o.problems.len() > 10 {
        fail.push(format!(
            "... and {} more samples like these",
            o.problems.len() - 10
        ));
    }
    // A Revert resets the Locking SP: a drive that still reports locking on did not revert.
    // An Enterprise Erase resets each band's locking, but the SP stays: a range still locked
    // was not erased.
    if let Some(l) = o.tcg_after.as_ref().and_then(|t| t.locking) {
        if o.method == "tcg-erase" {
            if l.locked {
                fail.push(format!(
                    "after {}, the drive still reports a band locked (TCG Level 0 Discovery): the Erase did \
                     not reset every band",
                    o.method
                ));
            }
        } else if l.enabled || l.locked {
            fail.push(format!(
                "after {}, the drive still reports locking {} (TCG Level 0 Discovery): the Revert did not \
                 reset its Locking SP",
                o.method,
                if l.locked { "enabled and a range locked" } else { "enabled" }
            ));
        }
    }
    let v = &o.verification;
    // A sanitize empties every zone with a write pointer: a zone the drive still reports
    // written holds data.
    let zones = v.zones.as_ref();
    if let Some((z, first)) = zones.and_then(|z| Some((z, z.not_empty.first()?))) {
        fail.push(format!(
            "after the sanitize, {} of {} sequential zones still hold data by the drive's zone report (the \
             first at offset {}, {} bytes written): a sanitize empties every zone",
            z.not_empty.len(),
            z.sequential,
            first.offset,
            first.length
        ));
    }
    // What keeps a PASS from being earned without showing data was left: INCOMPLETE.
    let mut open = Vec::new();
    if let Some(e) = zones.and_then(|z| z.error.as_ref()) {
        open.push(format!(
            "the zone report after the sanitize could not be read ({e}): that it emptied every sequential \
             zone is not shown"
        ));
    }
    if let Some(why) = &o.interrupted {
        open.push(why.clone());
    }
    if let Some(why) = &o.unresolved {
        open.push(why.clone());
    }
    if !v.errors.is_empty() {
        open.push(format!(
            "{} samples could not be read after the sanitize (first: {})",
            v.errors.len(),
            v.errors[0].error
        ));
    }
    let conclusive = v
        .samples
        .saturating_sub(o.inconclusive + v.errors.len() as u64 + v.mismatches);
    if o.inconclusive > 0 && conclusive * 2 < v.samples {
        open.push(format!(
            "only {conclusive} of {} samples could prove the erase: the others held the same uniform bytes \
             before and after (write canaries, the default, to prove it on such a drive)",
            v.samples
        ));
    }
    if o.interrupted.is_some() {
        open.extend(fail);
        (Verdict::Incomplete, open)
    } else if !fail.is_empty() {
        (Verdict::Fail, fail)
    } else if !open.is_empty() {
        (Verdict::Incomplete, open)
    } else if v.bytes_planned == 0 || v.bytes_read + v.unreadable_by_design < v.bytes_planned {
        (
            Verdict::Incomplete,
            vec![format!(
                "the read-back after the sanitize checked {} of {} planned bytes",
                v.bytes_read + v.unreadable_by_design,
                v.bytes_planned
            )],
        )
    } else {
        (Verdict::Pass, vec![])
    }
}

/// The certificate of a purge of `p` with the drive's own command.
pub fn purge(p: &Probe, o: PurgeOutcome, record: &Record) -> Certificate {
    let mut c = skeleton(p);
    c.media.direct_io = true;
    let (verdict, reasons) = judge_purge(&o);
    c.media.health = o.health.clone();
    c.media.tcg = o.tcg.clone();
    c.media.tcg_after = o.tcg_after.clone();
    c.sanitization = Sanitization {
        method: if o.purge_grade { "purge" } else { "clear" }.into(),
        technique: o.technique.clone(),
        policy: PolicyRef {
            name: o.method.clone(),
            source: "device command".into(),
            ..PolicyRef::default()
        },
        started: timestamp(o.started),
        finished: timestamp(o.finished),
        duration_seconds: seconds_between(o.started, o.finished),
        command: Some(o.command),
        resumed: o.events,
        ..Sanitization::default()
    };
    c.supersedes = o.supersedes;
    c.verification = o.verification;
    c.notes = vec![format!(
        "Sanitized by the drive's own {}; verified at {} sampled locations: {}.",
        if o.method == "tcg-erase" {
            "TCG Enterprise Erase of every band (tcg-erase, in a TCG session mediasan opened with the \
             drive, authenticated as EraseMaster)"
                .to_string()
        } else if o.method.starts_with("tcg-") {
            format!(
                "TCG Revert ({}, sent through the kernel's sed-opal)",
                o.method
            )
        } else {
            format!("{} command ({})", o.bus.to_uppercase(), o.method)
        },
        c.verification.samples,
        if o.canaries {
            "canaries (fresh random data) were written there before the command, and none may be readable after it"
        } else {
            "without canaries, what was there before must have changed, and a location that held the same \
             uniform bytes before and after proves nothing"
        }
    )];
    c.notes
        .push(format!("What this read-back proves: {}.", o.proves));
    if !o.medium.is_empty() {
        c.notes.push(format!("Medium: {}.", o.medium));
    }
    c.notes.extend(o.note);
    if let Some(z) = &c.verification.zones {
        let mut zoned = format!(
            "A zoned drive ({} zones, {} sequential)",
            z.zones, z.sequential
        );
        if z.canaries_moved > 0 {
            zoned.push_str(&format!(
                ": {} canaries drawn in sequential zones were written at those zones' write pointers, the \
                 only place the drive takes a write (verification.zones.canaries_moved); a zone reset alone \
                 also makes them unreadable (nothing reads past a write pointer), so there the read-back cannot \
                 tell a sanitize from a reset, as elsewhere it cannot tell one from a TRIM",
                z.canaries_moved
            ));
        }
        if z.emptied_checked {
            zoned.push_str(&format!(
                "; its zone report after the sanitize, which empties every sequential zone, showed {} of them \
                 still written",
                z.not_empty.len()
            ));
        }
        c.notes.push(format!("{zoned}."));
    }
    c.notes
        .push(format!("The command erased {}.", o.scope_summary));
    let unshown: Vec<String> = c
        .sanitization
        .command
        .iter()
        .flat_map(|k| &k.preconditions)
        .filter(|p| p.status == "not shown")
        .map(|p| p.requirement.clone())
        .collect();
    if !unshown.is_empty() {
        c.notes.push(format!(
            "A crypto erase is Purge (NIST SP 800-88 Rev. 2) only where its conditions hold; the drive \
             does not show that {} (sanitization.command.preconditions): the vendor's documentation must.",
            unshown.join(", nor that ")
        ));
    }
    if !o.unverified.is_empty() {
        c.notes.push(format!(
            "The read-back checked {} only. The command also erased {}, which this certificate does \
             not verify.",
            c.media.path,
            o.unverified.join(", ")
        ));
    }
    record.apply(&mut c);
    c.result = verdict;
    c.reasons = reasons;
    c
}

/// A FAIL certificate for a target nothing was written to: `note` says why it was not
/// sanitized, `reasons` the details, and the recommendation is Destroy.
fn not_sanitized(
    p: &Probe,
    policy: &PolicyRef,
    note: String,
    reasons: Vec<String>,
    destroy: String,
    record: &Record,
) -> Certificate {
    let mut c = skeleton(p);
    let now = timestamp(SystemTime::now());
    c.sanitization = Sanitization {
        method: "none".into(),
        technique: "none".into(),
        policy: policy.clone(),
        started: now.clone(),
        finished: now,
        ..Sanitization::default()
    };
    c.notes = vec![note];
    record.apply(&mut c);
    c.result = Verdict::Fail;
    c.reasons = reasons;
    c.recommendation = format!("Destroy: {destroy}");
    c
}

/// A target refused for safety in a batch (`wipe`/`sanitize` of several, the others ran):
/// nothing was written to it, it is not sanitized (FAIL), and the record says why. No
/// recommendation to destroy: remove the cause (unmount it, release it) and sanitize it again.
pub fn refused(p: &Probe, policy: &PolicyRef, reason: &str, record: &Record) -> Certificate {
    let mut c = not_sanitized(
        p,
        policy,
        format!(
            "mediasan refused to sanitize this medium ({reason}); nothing was written to it. It is \
             not sanitized."
        ),
        vec![format!(
            "not sanitized: refused before anything was written: {reason}"
        )],
        String::new(),
        record,
    );
    c.recommendation = format!("Sanitize it again once what made it refused is removed ({reason})");
    c
}

/// A target the policy has no technique for (`sanitize`): nothing was written; FAIL, with the
/// recommendation Destroy and why each technique the policy names does not apply.
pub fn no_technique(
    p: &Probe,
    policy: &PolicyRef,
    medium: &str,
    why: &[String],
    record: &Record,
) -> Certificate {
    let reasons = if why.is_empty() {
        vec![format!(
            "policy {} has no technique for {medium} media",
            policy.name
        )]
    } else {
        why.iter().map(|w| format!("not applicable: {w}")).collect()
    };
    not_sanitized(
        p,
        policy,
        format!(
            "Policy {} names no technique this {medium} medium can do: nothing was written to it.",
            policy.name
        ),
        reasons,
        "no sanitization technique the policy allows applies to this medium (NIST SP 800-88: media that \
         cannot be cleared or purged are destroyed)"
            .into(),
        record,
    )
}

/// A drive not sanitized because its health is over the policy's limits and the policy says
/// `on_health = "refuse"`: nothing was written; FAIL, with the recommendation Destroy.
pub fn refused_for_health(
    p: &Probe,
    policy: &PolicyRef,
    health: crate::device::health::Health,
    over: &[String],
    record: &Record,
) -> Certificate {
    let mut c = not_sanitized(
        p,
        policy,
        format!(
            "Policy {} refuses drives whose health is over its limits (on_health = \"refuse\"): nothing was \
             written to it.",
            policy.name
        ),
        over.iter()
            .map(|w| format!("not sanitized: the drive's health is over the policy's limits: {w}"))
            .collect(),
        format!("the drive's health is over the policy's limits ({})", over.join("; ")),
        record,
    );
    c.media.health.before = Some(health);
    c
}

/// The certificate's hidden-area record from what was read before and after the passes.
pub fn hidden_record(before: &hidden::Outcome, after: Option<hidden::Outcome>) -> HiddenAreas {
    match before {
        hidden::Outcome::NotApplicable(why) => HiddenAreas {
            state: "not_applicable".into(),
            detail: why.clone(),
            ..Default::default()
        },
        hidden::Outcome::Unknown(why) => HiddenAreas {
            state: "unknown".into(),
            detail: why.clone(),
            ..Default::default()
        },
        hidden::Outcome::Read(b, why) => {
            let after = match after {
                Some(hidden::Outcome::Read(a, _)) => Some(a),
                _ => None,
            };
            let left = after
                .as_ref()
                .map_or(b.hidden_sectors, |a| a.hidden_sectors);
            HiddenAreas {
                state: if left > 0 || b.hidden_sectors > 0 {
                    "present"
                } else {
                    "none"
                }
                .into(),
                detail: if why.is_empty() {
                    format!(
                        "no hidden sectors: {} addressable sectors are all the drive reports",
                        b.sectors
                    )
                } else {
                    why.join("; ")
                },
                before: Some(b.clone()),
                after,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verification(planned: u64, read: u64) -> Verification {
        Verification {
            method: "sampled".into(),
            bytes_planned: planned,
            bytes_read: read,
            ..Default::default()
        }
    }

    fn purged(problems: Vec<String>, failed: Option<String>, read: u64) -> PurgeOutcome {
        PurgeOutcome {
            method: "nvme-sanitize-crypto".into(),
            technique: "crypto erase".into(),
            note: None,
            purge_grade: true,
            bus: "nvme".into(),
            command: DeviceCommand::default(),
            drive_failed: failed,
            interrupted: None,
            unresolved: None,
            canaries: true,
            proves: String::new(),
            medium: String::new(),
            inconclusive: 0,
            verification: Verification {
                mismatches: problems.len() as u64,
                samples: 10,
                ..verification(100, read)
            },
            problems,
            scope_summary: "the whole NVM subsystem".into(),
            started: SystemTime::UNIX_EPOCH,
            finished: SystemTime::UNIX_EPOCH,
            events: vec![],
            supersedes: vec![],
            not_sent: None,
            unverified: vec![],
            pel_before: vec![],
            tcg: None,
            tcg_after: None,
            locked: false,
            health: Default::default(),
        }
    }

    #[test]
    fn a_purge_is_judged_from_typed_facts_not_edited_reasons() {
        assert_eq!(
            judge_purge(&purged(vec![], None, 100)),
            (Verdict::Pass, vec![])
        );
        let (v, r) = judge_purge(&purged(vec!["offset 0: unchanged".into()], None, 100));
        assert_eq!(v, Verdict::Fail);
        assert_eq!(
            r,
            vec!["after the sanitize, offset 0: unchanged"],
            "no generic mismatch line"
        );
        let (v, r) = judge_purge(&purged(vec![], Some("SSTAT 3".into()), 0));
        assert_eq!(v, Verdict::Fail);
        assert!(r[0].contains("failed: "), "{r:?}");
        let (v, _) = judge_purge(&purged(vec![], None, 40));
        assert_eq!(
            v,
            Verdict::Incomplete,
            "a read-back that did not finish is not PASS"
        );
        // Samples that prove nothing (a drive that held zeros, read without canaries) are
        // neither a PASS nor a FAIL: INCOMPLETE once they are the majority.
        let mut zeros = purged(vec![], None, 100);
        zeros.canaries = false;
        zeros.inconclusive = 10;
        let (v, r) = judge_purge(&zeros);
        assert_eq!(v, Verdict::Incomplete, "{r:?}");
        assert!(r[0].contains("only 0 of 10 samples"), "{r:?}");
        zeros.inconclusive = 4;
        assert_eq!(judge_purge(&zeros).0, Verdict::Pass);
        // A drive that could not be followed to the end: INCOMPLETE, never FAIL or PASS.
        let mut lost = purged(vec![], None, 0);
        lost.unresolved = Some("the status could not be read".into());
        assert_eq!(judge_purge(&lost).0, Verdict::Incomplete);
        let many: Vec<String> = (0..25).map(|i| format!("offset {i}: unchanged")).collect();
        let (_, r) = judge_purge(&purged(many, None, 100));
        assert_eq!(r.len(), 11);
        assert!(r[10].contains("15 more"));
    }

    /// The TCG state read again after the method: a Revert must leave locking off; an
    /// Enterprise Erase resets each band's locking but keeps the SP (locking stays enabled),
    /// so only a band still locked fails it.
    #[test]
    fn a_tcg_method_fails_on_the_locking_its_drive_still_reports_after() {
        use crate::contract::media::{Tcg, TcgLocking};
        let after = |method: &str, enabled: bool, locked: bool| {
            let mut o = purged(vec![], None, 100);
            o.method = method.into();
            o.tcg_after = Some(Tcg {
                ssc: vec!["Enterprise".into()],
                locking: Some(TcgLocking {
                    supported: true,
                    enabled,
                    locked,
                    ..TcgLocking::default()
                }),
                ..Tcg::default()
            });
            judge_purge(&o)
        };
        assert_eq!(after("tcg-erase", true, false), (Verdict::Pass, vec![]));
        let (v, r) = after("tcg-erase", true, true);
        assert_eq!(v, Verdict::Fail);
        assert_eq!(
            r,
            vec![
                "after tcg-erase, the drive still reports a band locked (TCG Level 0 Discovery): the Erase did \
                 not reset every band"
            ]
        );
        assert_eq!(after("tcg-revert", false, false), (Verdict::Pass, vec![]));
        for (enabled, locked, what) in [
            (true, false, "locking enabled"),
            (true, true, "locking enabled and a range locked"),
            (false, true, "locking enabled and a range locked"),
        ] {
            let (v, r) = after("tcg-psid-revert", enabled, locked);
            assert_eq!(v, Verdict::Fail);
            assert!(
                r[0].starts_with(&format!(
                    "after tcg-psid-revert, the drive still reports {what} "
                )),
                "{r:?}"
            );
        }
    }

    #[test]
    fn a_zoned_drive_s_sanitize_fails_while_its_zone_report_shows_a_zone_written() {
        use crate::cert::{ByteRange, ZoneCheck};
        let mut o = purged(vec![], None, 100);
        o.verification.zones = Some(ZoneCheck {
            zones: 16,
            sequential: 14,
            canaries_moved: 5,
            ..ZoneCheck::default()
        });
        assert_eq!(judge_purge(&o), (Verdict::Pass, vec![]), "every zone empty");
        // Every canary unreadable, and yet the drive says a zone still holds data.
        o.verification.zones.as_mut().unwrap().not_empty = vec![
            ByteRange {
                offset: 1 << 20,
                length: 4096,
            },
            ByteRange {
                offset: 3 << 20,
                length: 1 << 20,
            },
        ];
        let (v, r) = judge_purge(&o);
        assert_eq!(v, Verdict::Fail);
        assert_eq!(
            r,
            vec![
                "after the sanitize, 2 of 14 sequential zones still hold data by the drive's zone report (the \
                 first at offset 1048576, 4096 bytes written): a sanitize empties every zone"
            ]
        );
        // A report that could not be read: not shown either way.
        o.verification.zones = Some(ZoneCheck {
            error: Some("EIO".into()),
            ..ZoneCheck::default()
        });
        let (v, r) = judge_purge(&o);
        assert_eq!(v, Verdict::Incomplete);
        assert!(
            r[0].contains("zone report after the sanitize could not be read (EIO)"),
            "{r:?}"
        );
    }
}
