//! The NDJSON events scripts read (`--json`): one typed [`Event`], serialized with its name in
//! the field `event`. Field names are a contract (docs/events.md); a unit test checks every
//! variant against its table, so the two cannot drift apart.

use std::path::PathBuf;

use serde::Serialize;

/// One line of `--json` output.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// `wipe --dry-run`: what would be done to one target.
    Plan(WipePlan),
    /// `purge --dry-run`: the command that would be sent, byte for byte.
    #[serde(rename = "plan")]
    PurgePlan(PurgePlan),
    /// `sanitize`: the technique chosen for one target, and why (before anything is written,
    /// and with `--dry-run`).
    SanitizePlan(SanitizePlan),
    /// A wipe of one target starts (its journal is on disk).
    Start(WipeStart),
    /// A purge's command is about to be sent.
    #[serde(rename = "start")]
    PurgeStart(PurgeStart),
    /// At most once a second per target.
    Progress(Progress),
    /// The throughput watchdog found a pass too slow.
    Slow(Slow),
    /// A pass ended.
    PassDone(PassDone),
    /// A read-back ended (a wipe's verification, or `verify --cert`, which adds `recheck`).
    VerifyDone(VerifyDone),
    /// A target's outcome and its certificate.
    Result(Outcome),
    /// A target could not be finished for a reason that is not in a certificate.
    Error(TargetError),
    /// `list --json`: one block device.
    Device(crate::device::list::Candidate),
    /// `policies --json`: one built-in policy.
    Policy(PolicyInfo),
    /// `policies --json`: one purge method.
    PurgeMethod(PurgeMethodInfo),
    /// `cert verify --json`.
    CertVerified(CertVerified),
    /// `purge-status --json`.
    PurgeStatus(PurgeStatus),
    /// `audit --json`: how the audit was made (version, command line, trust anchors), first.
    AuditContext(AuditContext),
    /// `audit --json`: one file read, with its BLAKE3.
    AuditInput(crate::findings::Input),
    /// `audit --json`: one file found, judged.
    AuditFile(AuditFile),
    /// `audit --json --assets`: one asset of the register, reconciled.
    AuditAsset(AuditAsset),
    /// `audit --json`: the counts and the verdict, last.
    AuditSummary(AuditSummary),
    /// Test builds only (`--test-hold`): the flow holds at `point`.
    TestHold { point: String },
    /// `bench`: a drive was plugged in (or found at the start with `--existing`).
    DriveAdded(DriveAdded),
    /// `bench`: a plugged drive that will not be touched, and why.
    DriveRefused(DriveRefused),
    /// `bench`: a drive was pulled.
    DriveRemoved(DriveRemoved),
    /// `bench`, last: what the session did.
    BenchSummary(BenchSummary),
}

#[derive(Clone, Debug, Serialize)]
pub struct DriveAdded {
    pub target: String,
    /// The enclosure slot or PCI slot with lights, if the kernel shows one.
    pub slot: Option<String>,
    pub model: String,
    pub serial: String,
    pub size_bytes: u64,
    /// An unfinished wipe or purge of this medium is continued (`--restart`: started over).
    pub resumes: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct DriveRefused {
    pub target: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct DriveRemoved {
    pub target: String,
    pub serial: String,
    /// `working` (its work is stopped, INCOMPLETE), `finished`, `waiting` or `refused`.
    pub state: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchSummary {
    /// Drives by how their latest run ended: PASS, FAIL, INCOMPLETE, ERROR (no certificate),
    /// and REFUSED (not taken). A drive pulled and plugged in again counts once.
    pub counts: std::collections::BTreeMap<String, usize>,
    /// How many drives (media, not certificates).
    pub media: usize,
    /// Every certificate written, in order.
    pub certificates: Vec<PathBuf>,
    /// Certificates a later run of the same drive replaced (an INCOMPLETE its resume superseded).
    pub superseded: Vec<PathBuf>,
    /// The drives not taken, and why.
    pub refused: Vec<DriveRefused>,
    /// Stopped by Ctrl-C or SIGTERM (the drives being worked on were stopped too).
    pub interrupted: bool,
    /// Why the bench ended.
    pub ended: BenchEnd,
}

/// Why a bench ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchEnd {
    /// SIGINT or SIGTERM: every drive's work stopped at a safe point.
    Signal,
    /// Its terminal went away (SIGHUP, without `--unattended`): no new drive was taken, the
    /// work that ran finished and was certified.
    Hangup,
}

impl Event {
    /// The event as one JSON line (no newline).
    pub fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            serde_json::json!({"event": "error", "target": "", "error": format!("cannot encode an event: {e}")})
                .to_string()
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditContext {
    pub version: String,
    /// The command line, argument by argument.
    pub command: Vec<String>,
    /// When the audit ran (UTC).
    pub generated: String,
    /// When signers' key validity was judged: `now`, `claimed` or a time.
    pub verify_time: String,
    /// `--principal`, if given.
    pub principal: Option<String>,
    /// Every key trusted: each `--pubkey` and each allowed_signers line.
    pub anchors: Vec<crate::findings::Anchor>,
    /// How many files were read (each is an `audit_input`).
    pub inputs: usize,
    /// BLAKE3 of the inputs' list as `b3sum` prints it (`HASH  FILE` lines, sorted by file).
    pub inputs_blake3: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditFile {
    pub file: String,
    /// `pass`, `destroyed`, `fail`, `incomplete`, `untrusted`, `bad_signature`, `no_signature`,
    /// `unknown_format`, `unreadable`, `ignored`.
    pub class: String,
    pub detail: String,
    /// Empty when the file could not be read as a certificate.
    pub id: String,
    pub serial: String,
    pub asset_tag: String,
    pub method: String,
    pub finished: String,
    /// Another file holds the same certificate (this one is not counted again).
    pub duplicate_of: Option<String>,
    /// The trusted validator who countersigned it (`cert countersign`), if any.
    pub validated_by: Option<String>,
    /// BLAKE3 of the certificate's bytes (a bundle's member's too), when they were read.
    pub blake3: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditAsset {
    pub line: u64,
    pub serial: String,
    pub asset_tag: String,
    /// `covered`, `failed`, `incomplete`, `missing`.
    pub standing: String,
    /// The deciding record's file, if any.
    pub certificate: Option<String>,
    pub matched_by: String,
    pub records: usize,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditSummary {
    pub files: usize,
    /// Per class (as in `audit_file`).
    pub counts: std::collections::BTreeMap<String, usize>,
    pub assets: Option<usize>,
    pub covered: Option<usize>,
    pub not_covered: Option<usize>,
    pub unexpected: Option<usize>,
    pub duplicates: usize,
    pub superseded: usize,
    /// Trusted records per signer identity (principal and key, or principal and CA).
    pub signers: std::collections::BTreeMap<String, usize>,
    /// Each signer's numbered series: `signer`, `key`, `id`, `first`, `last`, `count`, `gaps`
    /// (`[from, to]` pairs missing), `forks`, `restart`.
    pub series: Vec<crate::findings::Series>,
    /// Trusted records without a series number (made before numbering).
    pub unnumbered: usize,
    pub qc: Option<crate::findings::Qc>,
    /// When signers' key validity was judged: `now`, `claimed` or a time.
    pub verify_time: String,
    /// Every asset (or medium) covered by a trusted PASS or destruction, and no problem file.
    pub clean: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct WipePlan {
    pub target: PathBuf,
    pub size_bytes: u64,
    pub policy: String,
    pub passes: Vec<String>,
    pub verify: String,
    pub verify_percent: u8,
    pub cert_dir: PathBuf,
    pub asset_tag: String,
    pub dry_run: bool,
}

/// One command or data block of a purge, in hex.
#[derive(Clone, Debug, Serialize)]
pub struct Bytes {
    pub what: String,
    pub hex: String,
    /// The fields named: `SANACT 4 (crypto erase), AUSE 0, ...`.
    pub fields: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PurgePlan {
    pub target: PathBuf,
    pub method: String,
    pub grade: String,
    pub bus: String,
    pub bytes: Vec<Bytes>,
    pub scope: Vec<String>,
    pub estimate_seconds: Option<u64>,
    pub dry_run: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct SanitizePlan {
    pub target: PathBuf,
    /// The class of medium (`magnetic`, `flash`, `nvme`, `removable`, `virtual`) and why.
    pub medium: String,
    pub medium_why: String,
    pub policy: String,
    /// What runs, in order; empty when nothing applies (then `destroy`).
    pub steps: Vec<SanitizeStep>,
    /// The alternatives the policy prefers that do not apply, and why.
    pub tried: Vec<String>,
    pub destroy: bool,
    pub dry_run: bool,
}

/// One technique of a sanitize plan.
#[derive(Clone, Debug, Serialize)]
pub struct SanitizeStep {
    /// `overwrite`, or the device method's technique (`crypto erase`, ...).
    pub technique: String,
    /// The device method's name, or the policy's for an overwrite.
    pub method: String,
    /// `purge` or `clear`.
    pub grade: String,
    /// A device command's blocks, byte for byte (empty for an overwrite).
    pub bytes: Vec<Bytes>,
    pub estimate_seconds: Option<u64>,
    /// An overwrite's passes.
    pub passes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WipeStart {
    pub target: String,
    pub kind: String,
    pub size_bytes: u64,
    pub policy: String,
    pub passes: usize,
    pub verify: String,
    pub resumed: bool,
    pub journal: PathBuf,
}

#[derive(Clone, Debug, Serialize)]
pub struct PurgeStart {
    pub target: PathBuf,
    pub method: String,
    pub bus: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    pub target: String,
    /// `pass`, `verify` or `purge`.
    pub stage: String,
    pub pass: usize,
    pub passes: usize,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub bytes_per_second: f64,
    pub eta_seconds: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Slow {
    pub target: String,
    pub pass: usize,
    pub detail: String,
    pub stopping: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct PassDone {
    pub target: String,
    pub pass: usize,
    pub passes: usize,
    pub pattern: String,
    pub bytes_written: u64,
    pub bytes_per_second: f64,
    pub errors: usize,
    pub complete: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct VerifyDone {
    pub target: String,
    pub method: String,
    pub bytes_read: u64,
    pub coverage_percent: f64,
    pub mismatches: u64,
    pub first_mismatch_offset: Option<u64>,
    pub errors: usize,
    pub blake3: String,
    pub bytes_per_second: f64,
    /// `verify --cert` only: the certificate it was checked against, and the judgement.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub recheck: Option<Recheck>,
}

/// What `verify --cert` adds to `verify_done`.
#[derive(Clone, Debug, Serialize)]
pub struct Recheck {
    pub certificate: PathBuf,
    pub signer: String,
    pub trusted: bool,
    pub certificate_blake3: String,
    pub digest_matches: bool,
    pub media_matches: bool,
    pub certificate_result: String,
    /// PASS only if the media matches, the certificate is a PASS and its signer is trusted.
    pub result: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub target: String,
    /// The drive's serial number (empty for images).
    pub serial: String,
    /// The record's asset tag (empty if none was given).
    pub asset_tag: String,
    pub result: String,
    pub reasons: Vec<String>,
    /// `null` only if no folder could take the certificate (it was printed on stderr).
    pub certificate: Option<PathBuf>,
    pub signature: Option<PathBuf>,
    pub id: String,
    /// The certificate's place in its signer's series (`chain.id`, `chain.seq`): an engine
    /// that keeps the last number can tell when the end of a series is missing. `null` when it
    /// has none.
    pub chain_id: Option<String>,
    pub chain_seq: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TargetError {
    /// The target it is about (a refusal or a bad target names it); `null` when the error is
    /// about no one target (bad input, a policy, a folder).
    pub target: Option<String>,
    pub error: String,
    /// The exit code it leads to (1 for one target of several).
    pub code: u8,
}

#[derive(Clone, Debug, Serialize)]
pub struct PolicyInfo {
    pub name: String,
    pub description: String,
    pub reference: String,
    pub legacy: bool,
    pub method: String,
    pub passes: Vec<String>,
    pub verify: String,
    pub verify_percent: u8,
    pub prng: String,
    pub blake3: String,
    /// What `sanitize` uses on each class of medium: alternatives in order of preference.
    pub media: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PurgeMethodInfo {
    pub name: String,
    pub technique: String,
    pub grade_on_flash: String,
    pub grade_on_magnetic: String,
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CertVerified {
    pub certificate: PathBuf,
    pub signature: String,
    pub signer: String,
    pub trusted: bool,
    pub trust: String,
    pub key_matches: bool,
    pub id: String,
    pub result: String,
    pub target: String,
    /// When the signer's key validity was judged: `now`, `claimed` or a time.
    pub verify_time: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PurgeStatus {
    pub target: PathBuf,
    pub state: String,
    pub percent: Option<f64>,
    pub detail: String,
}

/// What a library flow tells the person and the script running it about one target: lines
/// for people, events for scripts, and the progress of each stage. The flows (`clear`,
/// `purge::flow`) call this and know nothing of bars or terminals; `progress` draws it for
/// people.
pub trait Observer: Sync {
    /// A line for people about this target.
    fn say(&self, text: &str);
    /// A line the progress bars already carry (a pass done): people see it where there are no
    /// bars (a log, a pipe), the session log (`--log`) always has it.
    fn note(&self, text: &str) {
        self.say(text);
    }
    /// An event for scripts (`--json`).
    fn event(&self, e: &Event);
    /// The whole job, for a rate and ETA over all of it: `passes` of `pass_bytes`, then a
    /// verification reading about `verify_bytes`.
    fn work(&self, _passes: usize, _pass_bytes: u64, _verify_bytes: u64) {}
    /// A stage starts: pass `index` of `count`, a verification or a purge, `total` units.
    fn stage(&self, kind: &'static str, index: usize, count: usize, label: &str, total: u64);
    /// Units done so far in this stage.
    fn progress(&self, done: u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One sample of every event, with the docs/events.md row it must match (event name, and a word
    /// of the row's context where one name has several rows).
    fn samples() -> Vec<(Event, &'static str, &'static str)> {
        let p = PathBuf::from("/dev/x");
        let s = String::from;
        let verify_done = VerifyDone {
            target: s("x"),
            method: s("sampled"),
            bytes_read: 1,
            coverage_percent: 10.0,
            mismatches: 0,
            first_mismatch_offset: None,
            errors: 0,
            blake3: s("b"),
            bytes_per_second: 1.0,
            recheck: None,
        };
        vec![
            (
                Event::Plan(WipePlan {
                    target: p.clone(),
                    size_bytes: 1,
                    policy: s("p"),
                    passes: vec![],
                    verify: s("sampled"),
                    verify_percent: 10,
                    cert_dir: p.clone(),
                    asset_tag: s("A1"),
                    dry_run: true,
                }),
                "plan",
                "wipe",
            ),
            (
                Event::PurgePlan(PurgePlan {
                    target: p.clone(),
                    method: s("m"),
                    grade: s("purge"),
                    bus: s("nvme"),
                    bytes: vec![],
                    scope: vec![],
                    estimate_seconds: None,
                    dry_run: true,
                }),
                "plan",
                "purge",
            ),
            (
                Event::Start(WipeStart {
                    target: s("x"),
                    kind: s("image"),
                    size_bytes: 1,
                    policy: s("p"),
                    passes: 1,
                    verify: s("sampled"),
                    resumed: false,
                    journal: p.clone(),
                }),
                "start",
                "wipe",
            ),
            (
                Event::PurgeStart(PurgeStart {
                    target: p.clone(),
                    method: s("m"),
                    bus: s("nvme"),
                }),
                "start",
                "purge",
            ),
            (
                Event::Progress(Progress {
                    target: s("x"),
                    stage: s("pass"),
                    pass: 1,
                    passes: 1,
                    bytes_done: 0,
                    bytes_total: 1,
                    bytes_per_second: 0.0,
                    eta_seconds: None,
                }),
                "progress",
                "",
            ),
            (
                Event::Slow(Slow {
                    target: s("x"),
                    pass: 1,
                    detail: s("d"),
                    stopping: false,
                }),
                "slow",
                "",
            ),
            (
                Event::PassDone(PassDone {
                    target: s("x"),
                    pass: 1,
                    passes: 1,
                    pattern: s("0x00"),
                    bytes_written: 1,
                    bytes_per_second: 1.0,
                    errors: 0,
                    complete: true,
                }),
                "pass_done",
                "",
            ),
            (
                Event::VerifyDone(verify_done.clone()),
                "verify_done",
                "wipe",
            ),
            (
                Event::VerifyDone(VerifyDone {
                    recheck: Some(Recheck {
                        certificate: p.clone(),
                        signer: s("SHA256:x"),
                        trusted: true,
                        certificate_blake3: s("b"),
                        digest_matches: true,
                        media_matches: true,
                        certificate_result: s("PASS"),
                        result: s("PASS"),
                    }),
                    ..verify_done
                }),
                "verify_done",
                "verify",
            ),
            (
                Event::Result(Outcome {
                    target: s("x"),
                    serial: s("S1"),
                    asset_tag: s("A1"),
                    result: s("PASS"),
                    reasons: vec![],
                    certificate: Some(p.clone()),
                    signature: Some(p.clone()),
                    id: s("i"),
                    chain_id: Some(s("c")),
                    chain_seq: Some(1),
                }),
                "result",
                "",
            ),
            (
                Event::Error(TargetError {
                    target: Some(s("x")),
                    error: s("e"),
                    code: 1,
                }),
                "error",
                "",
            ),
            (
                Event::Device(crate::device::list::Candidate {
                    path: s("/dev/x"),
                    size_bytes: 1,
                    logical_block_size: 512,
                    identity: crate::device::Identity::default(),
                    read_only: false,
                    in_use: None,
                    supports: vec![],
                    by_id: vec![s("/dev/disk/by-id/ata-X")],
                    unfinished_wipe: false,
                    unfinished_purge: false,
                    health: None,
                    tcg: None,
                }),
                "device",
                "",
            ),
            (
                Event::SanitizePlan(SanitizePlan {
                    target: p.clone(),
                    medium: s("magnetic"),
                    medium_why: s("w"),
                    policy: s("nist-decommission"),
                    steps: vec![SanitizeStep {
                        technique: s("overwrite"),
                        method: s("nist-decommission"),
                        grade: s("clear"),
                        bytes: vec![],
                        estimate_seconds: None,
                        passes: vec![],
                    }],
                    tried: vec![],
                    destroy: false,
                    dry_run: true,
                }),
                "sanitize_plan",
                "",
            ),
            (
                Event::Policy(PolicyInfo {
                    name: s("p"),
                    description: s("d"),
                    reference: s("r"),
                    legacy: false,
                    method: s("clear"),
                    passes: vec![],
                    verify: s("sampled"),
                    verify_percent: 10,
                    prng: s("aes128-ctr"),
                    blake3: s("b"),
                    media: Default::default(),
                }),
                "policy",
                "",
            ),
            (
                Event::PurgeMethod(PurgeMethodInfo {
                    name: s("m"),
                    technique: s("t"),
                    grade_on_flash: s("purge"),
                    grade_on_magnetic: s("purge"),
                    note: None,
                }),
                "purge_method",
                "",
            ),
            (
                Event::CertVerified(CertVerified {
                    certificate: p.clone(),
                    signature: s("valid"),
                    signer: s("SHA256:x"),
                    trusted: true,
                    trust: s("t"),
                    key_matches: true,
                    id: s("i"),
                    result: s("PASS"),
                    target: s("x"),
                    verify_time: s("now"),
                }),
                "cert_verified",
                "",
            ),
            (
                Event::PurgeStatus(PurgeStatus {
                    target: p,
                    state: s("running"),
                    percent: Some(1.0),
                    detail: s(""),
                }),
                "purge_status",
                "",
            ),
            (
                Event::AuditContext(AuditContext {
                    version: s("1"),
                    command: vec![s("mediasan"), s("audit"), s("c")],
                    generated: s("t"),
                    verify_time: s("now"),
                    principal: None,
                    anchors: vec![],
                    inputs: 1,
                    inputs_blake3: s("h"),
                }),
                "audit_context",
                "",
            ),
            (
                Event::AuditInput(crate::findings::Input::of(
                    s("c/x.json"),
                    crate::findings::Role::Certificate,
                    b"{}",
                )),
                "audit_input",
                "",
            ),
            (
                Event::AuditFile(AuditFile {
                    file: s("c/x.json"),
                    class: s("pass"),
                    detail: s(""),
                    id: s("i"),
                    serial: s("S"),
                    asset_tag: s("A"),
                    method: s("clear"),
                    finished: s("t"),
                    duplicate_of: None,
                    validated_by: None,
                    blake3: None,
                }),
                "audit_file",
                "",
            ),
            (
                Event::AuditAsset(AuditAsset {
                    line: 2,
                    serial: s("S"),
                    asset_tag: s("A"),
                    standing: s("covered"),
                    certificate: None,
                    matched_by: s("serial"),
                    records: 1,
                    notes: vec![],
                }),
                "audit_asset",
                "",
            ),
            (
                Event::AuditSummary(AuditSummary {
                    files: 1,
                    counts: Default::default(),
                    assets: None,
                    covered: None,
                    not_covered: None,
                    unexpected: None,
                    duplicates: 0,
                    superseded: 0,
                    signers: Default::default(),
                    series: vec![],
                    unnumbered: 0,
                    qc: None,
                    verify_time: "now".into(),
                    clean: true,
                }),
                "audit_summary",
                "",
            ),
            (
                Event::DriveAdded(DriveAdded {
                    target: s("/dev/sdb"),
                    slot: Some(s("0:0:8:0/Slot07")),
                    model: s("M"),
                    serial: s("S"),
                    size_bytes: 1,
                    resumes: false,
                }),
                "drive_added",
                "",
            ),
            (
                Event::DriveRefused(DriveRefused {
                    target: s("/dev/sdb"),
                    reason: s("mounted"),
                }),
                "drive_refused",
                "",
            ),
            (
                Event::DriveRemoved(DriveRemoved {
                    target: s("/dev/sdb"),
                    serial: s("S"),
                    state: s("working"),
                }),
                "drive_removed",
                "",
            ),
            (
                Event::BenchSummary(BenchSummary {
                    counts: Default::default(),
                    media: 0,
                    certificates: vec![],
                    superseded: vec![],
                    refused: vec![],
                    interrupted: true,
                    ended: BenchEnd::Signal,
                }),
                "bench_summary",
                "",
            ),
        ]
    }

    #[test]
    fn every_kind_of_event_has_a_sample() {
        // An exhaustive match: a new variant does not compile until it is named here (and so
        // gets a sample and a docs/events.md row).
        let kind = |e: &Event| -> &'static str {
            match e {
                Event::Plan(_) | Event::PurgePlan(_) => "plan",
                Event::Start(_) | Event::PurgeStart(_) => "start",
                Event::SanitizePlan(_) => "sanitize_plan",
                Event::Progress(_) => "progress",
                Event::Slow(_) => "slow",
                Event::PassDone(_) => "pass_done",
                Event::VerifyDone(_) => "verify_done",
                Event::Result(_) => "result",
                Event::Error(_) => "error",
                Event::Device(_) => "device",
                Event::Policy(_) => "policy",
                Event::PurgeMethod(_) => "purge_method",
                Event::CertVerified(_) => "cert_verified",
                Event::PurgeStatus(_) => "purge_status",
                Event::AuditContext(_) => "audit_context",
                Event::AuditInput(_) => "audit_input",
                Event::AuditFile(_) => "audit_file",
                Event::AuditAsset(_) => "audit_asset",
                Event::AuditSummary(_) => "audit_summary",
                Event::TestHold { .. } => "test_hold",
                Event::DriveAdded(_) => "drive_added",
                Event::DriveRefused(_) => "drive_refused",
                Event::DriveRemoved(_) => "drive_removed",
                Event::BenchSummary(_) => "bench_summary",
            }
        };
        let sampled: Vec<&str> = samples()
            .iter()
            .map(|(e, n, _)| {
                assert_eq!(kind(e), *n);
                *n
            })
            .collect();
        for k in [
            "plan",
            "sanitize_plan",
            "start",
            "progress",
            "slow",
            "pass_done",
            "verify_done",
            "result",
            "error",
            "device",
            "policy",
            "purge_method",
            "cert_verified",
            "purge_status",
            "audit_context",
            "audit_input",
            "audit_file",
            "audit_asset",
            "audit_summary",
            "drive_added",
            "drive_refused",
            "drive_removed",
            "bench_summary",
        ] {
            assert!(sampled.contains(&k), "no sample of {k}");
        }
    }

    /// docs/events.md's table: (first cell, fields in the second), by backticks.
    fn readme_rows() -> Vec<(String, Vec<String>)> {
        let readme = include_str!("../docs/events.md");
        let section = readme
            .split("# JSON output")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("docs/events.md has a JSON output section");
        // The fields are the backticked words outside parentheses (which describe values).
        let ticks = |cell: &str| -> Vec<String> {
            let mut depth = 0;
            let outside: String = cell
                .chars()
                .filter(|&c| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => return depth == 0,
                    }
                    false
                })
                .collect();
            outside
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        };
        section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split(" | ").collect();
                (
                    cells[0].to_string(),
                    ticks(cells.get(1).copied().unwrap_or("")),
                )
            })
            .collect()
    }

    #[test]
    fn every_event_has_exactly_the_fields_the_readme_documents() {
        let rows = readme_rows();
        for (event, name, context) in samples() {
            let v = serde_json::to_value(&event).unwrap();
            assert_eq!(v["event"], name, "{event:?}");
            let mut fields: Vec<String> = v
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "event")
                .cloned()
                .collect();
            fields.sort();
            let row = rows
                .iter()
                .find(|(first, _)| {
                    first.starts_with(&format!("| `{name}`"))
                        && (context.is_empty() || first.contains(&format!("({context}")))
                })
                .unwrap_or_else(|| panic!("docs/events.md has no row for {name} ({context})"));
            let mut documented = row.1.clone();
            documented.sort();
            documented.dedup();
            assert_eq!(
                fields, documented,
                "{name} ({context}): code vs docs/events.md"
            );
        }
    }

    #[test]
    fn wipe_and_verify_agree_on_verify_done() {
        let s = samples();
        let keys = |e: &Event| -> Vec<String> {
            serde_json::to_value(e)
                .unwrap()
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        let wipe = keys(
            &s.iter()
                .find(|x| x.1 == "verify_done" && x.2 == "wipe")
                .unwrap()
                .0,
        );
        let verify = keys(
            &s.iter()
                .find(|x| x.1 == "verify_done" && x.2 == "verify")
                .unwrap()
                .0,
        );
        for k in &wipe {
            assert!(verify.contains(k), "verify's verify_done lacks {k}");
        }
    }
}
