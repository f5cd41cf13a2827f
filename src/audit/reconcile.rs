//! The audit's judgement, pure: each file's class, the media and what their latest trusted
//! record says, the asset register matched (by serial, else WWN, else asset tag; model as a
//! check), what is missing, unexpected, duplicated or superseded, and a reproducible QC sample.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;

use super::assets::{key, Register};
use super::collect::Found;
use crate::cert::check::{self, Checked, Problem};
use crate::cert::trust::Trust;
use crate::cert::{Certificate, Verdict};

/// What one file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Authentic, from a trusted signer, PASS.
    Pass,
    /// Authentic, trusted, a destruction record.
    Destroyed,
    /// Authentic, trusted, FAIL: the medium may still hold data.
    Fail,
    /// Authentic, trusted, INCOMPLETE.
    Incomplete,
    /// Authentic, but the signer is not one the auditor trusts.
    Untrusted,
    /// The signature does not verify (changed after signing, another file's signature...).
    BadSignature,
    /// No .sig beside it.
    NoSignature,
    /// A newer certificate format than this mediasan reads.
    UnknownFormat,
    /// Cannot be read or parsed (truncated, damaged, not UTF-8 JSON, not a regular file, a
    /// decompression bomb...).
    Unreadable,
    /// Several files or bundle members show as one name (a bundle holding a name twice, or
    /// names that differ only in bytes that are not UTF-8): each is judged on its own, and
    /// this is the finding that says so.
    NameCollision,
    /// JSON that is not a mediasan certificate (and has no signature): not counted.
    Ignored,
}

impl Class {
    pub const ALL: [Class; 11] = [
        Class::Pass,
        Class::Destroyed,
        Class::Fail,
        Class::Incomplete,
        Class::Untrusted,
        Class::BadSignature,
        Class::NoSignature,
        Class::UnknownFormat,
        Class::Unreadable,
        Class::NameCollision,
        Class::Ignored,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Pass => "PASS",
            Class::Destroyed => "DESTROYED",
            Class::Fail => "FAIL",
            Class::Incomplete => "INCOMPLETE",
            Class::Untrusted => "UNTRUSTED SIGNER",
            Class::BadSignature => "BAD SIGNATURE",
            Class::NoSignature => "NO SIGNATURE",
            Class::UnknownFormat => "UNKNOWN FORMAT",
            Class::Unreadable => "UNREADABLE",
            Class::NameCollision => "NAME COLLISION",
            Class::Ignored => "not a certificate",
        }
    }

    /// A trusted, authentic record (whatever its result).
    pub fn trusted(self) -> bool {
        matches!(
            self,
            Class::Pass | Class::Destroyed | Class::Fail | Class::Incomplete
        )
    }

    /// A file that must be looked at: it can never count for anything.
    pub fn problem(self) -> bool {
        matches!(
            self,
            Class::Untrusted
                | Class::BadSignature
                | Class::NoSignature
                | Class::UnknownFormat
                | Class::Unreadable
                | Class::NameCollision
        )
    }
}

/// One file, judged.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub file: PathBuf,
    pub class: Class,
    /// Why, for a problem; the signer, for a trusted record.
    pub detail: String,
    pub checked: Option<Box<Checked>>,
    /// A file whose signature does not verify or is missing: what it claims, read without
    /// believing it (so the asset it names can show that it does not count).
    pub claimed: Option<Box<Certificate>>,
    /// The BLAKE3 (hex) of the file's bytes, when they were read.
    pub blake3: Option<String>,
}

impl Entry {
    pub fn cert(&self) -> Option<&Certificate> {
        self.checked.as_deref().map(|c| &c.cert)
    }

    /// What the file says, believed or not.
    pub fn says(&self) -> Option<&Certificate> {
        self.cert().or(self.claimed.as_deref())
    }

    /// The validator's countersignature verdict: trusted, or `None` when there is none.
    pub fn validated_by(&self) -> Option<&crate::cert::trust::Signer> {
        match self.checked.as_deref()?.validator.as_ref()? {
            Ok(s) if s.trusted() => Some(s),
            _ => None,
        }
    }

    /// Why a countersignature beside it does not count (invalid, or an untrusted validator).
    pub fn bad_countersignature(&self) -> Option<String> {
        match self.checked.as_deref()?.validator.as_ref()? {
            Ok(s) if s.trusted() => None,
            Ok(s) => Some(format!("countersigned by {}", s.describe())),
            Err(why) => Some(format!("countersignature NOT valid: {why}")),
        }
    }
}

/// Judges one file.
pub fn judge(f: Found, trust: &Trust) -> Entry {
    let (class, detail, checked) = match &f.bytes {
        Err(why) if f.collision => (Class::NameCollision, why.clone(), None),
        Err(why) => (Class::Unreadable, why.clone(), None),
        Ok(bytes) => match check::check(bytes, f.sig.as_deref(), trust) {
            Err(Problem::NotCertificate(why)) if f.sig.is_none() => (Class::Ignored, why, None),
            Err(p @ Problem::NotCertificate(_)) => (
                Class::Unreadable,
                format!("{} (a signature file is beside it)", p.describe()),
                None,
            ),
            Err(p @ Problem::UnknownFormat(_)) => (Class::UnknownFormat, p.describe(), None),
            Err(p @ Problem::NoSignature) => (Class::NoSignature, p.describe(), None),
            Err(p @ Problem::BadSignature(_)) => (Class::BadSignature, p.describe(), None),
            Ok(mut c) => {
                if let Some(v) = &f.validation {
                    c.validator = Some(check::countersignature(
                        bytes,
                        v,
                        trust,
                        check::signed_at(&c.cert),
                        c.signer.fingerprint(),
                    ));
                }
                let class = if !c.signer.trusted() {
                    Class::Untrusted
                } else if c.cert.sanitization.method == "destroy" && c.cert.result == Verdict::Pass
                {
                    Class::Destroyed
                } else {
                    match c.cert.result {
                        Verdict::Pass => Class::Pass,
                        Verdict::Fail => Class::Fail,
                        Verdict::Incomplete => Class::Incomplete,
                    }
                };
                (class, c.signer.describe(), Some(Box::new(c)))
            }
        },
    };
    // What an unsigned or tampered file claims, to tie it to the asset it names.
    let claimed = match (class, &f.bytes) {
        (Class::BadSignature | Class::NoSignature, Ok(bytes)) => {
            serde_json::from_slice::<Certificate>(bytes)
                .ok()
                .map(Box::new)
        }
        _ => None,
    };
    Entry {
        name: f.name,
        file: f.file,
        class,
        detail,
        checked,
        claimed,
        blake3: f.blake3,
    }
}

/// The medium a certificate is about, for grouping its records: serial, else WWN, else asset
/// tag, else path and size.
pub fn media_key(c: &Certificate) -> String {
    let id = &c.media.identity;
    if !id.serial.trim().is_empty() {
        format!("serial {}", key(&id.serial))
    } else if !id.wwn.trim().is_empty() {
        format!("wwn {}", key(&id.wwn))
    } else if !c.media.asset_tag.trim().is_empty() {
        format!("asset tag {}", key(&c.media.asset_tag))
    } else {
        format!("path {} ({} bytes)", c.media.path, c.media.size_bytes)
    }
}

/// Where an asset or a medium stands, by its latest trusted record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Its latest trusted record is a PASS (cleared or purged) or a destruction.
    Covered,
    /// Its latest trusted record is a FAIL: it may still hold data.
    Failed,
    /// Its latest trusted record is INCOMPLETE.
    Incomplete,
    /// No trusted record at all.
    Missing,
}

impl Standing {
    pub fn name(self) -> &'static str {
        match self {
            Standing::Covered => "covered",
            Standing::Failed => "FAILED: may still hold data",
            Standing::Incomplete => "INCOMPLETE: may still hold data",
            Standing::Missing => "NO RECORD",
        }
    }
}

/// The trusted records of one medium (or asset), oldest first, and what they add up to.
#[derive(Clone, Debug)]
pub struct History {
    /// Entry indices of its trusted records (duplicates left out), oldest first.
    pub records: Vec<usize>,
    /// The record that decides (the latest not superseded), if any.
    pub latest: Option<usize>,
    /// Earlier FAIL/INCOMPLETE records a later one replaced.
    pub superseded: Vec<usize>,
    pub standing: Standing,
}

fn history(entries: &[Entry], mut records: Vec<usize>) -> History {
    let when = |i: usize| {
        entries[i]
            .cert()
            .and_then(check::signed_at)
            .unwrap_or(i64::MIN)
    };
    records.sort_by_key(|&i| (when(i), entries[i].cert().map(|c| c.id.clone())));
    let named: HashSet<&str> = records
        .iter()
        .filter_map(|&i| entries[i].cert())
        .flat_map(|c| c.supersedes.iter().map(String::as_str))
        .collect();
    let live: Vec<usize> = records
        .iter()
        .copied()
        .filter(|&i| {
            entries[i]
                .cert()
                .is_some_and(|c| !named.contains(c.id.as_str()))
        })
        .collect();
    let latest = live.last().copied();
    let superseded = records
        .iter()
        .copied()
        .filter(|&i| {
            Some(i) != latest && matches!(entries[i].class, Class::Fail | Class::Incomplete)
        })
        .collect();
    let standing = match latest.map(|i| entries[i].class) {
        Some(Class::Pass | Class::Destroyed) => Standing::Covered,
        Some(Class::Fail) => Standing::Failed,
        Some(_) => Standing::Incomplete,
        None => Standing::Missing,
    };
    History {
        records,
        latest,
        superseded,
        standing,
    }
}

/// One asset of the register, reconciled.
#[derive(Clone, Debug)]
pub struct AssetResult {
    /// Index in the register.
    pub asset: usize,
    pub history: History,
    /// How its records were found: "serial", "wwn", "asset tag".
    pub matched_by: &'static str,
    /// Notes: the model differs, what claims to cover it but does not count, ...
    pub notes: Vec<String>,
    /// Trusted records that name it but whose identity contradicts the register's (another
    /// drive's serial, an image): findings, never coverage.
    pub conflicts: Vec<usize>,
}

pub use crate::findings::{Pick, Qc};

/// How the QC draw names an asset of the register.
pub fn asset_label(asset: &super::assets::Asset) -> String {
    if asset.serial.is_empty() {
        format!("asset tag {}", asset.asset_tag)
    } else {
        format!("serial {}", asset.serial)
    }
}

/// The whole audit.
#[derive(Clone, Debug)]
pub struct Audit {
    pub entries: Vec<Entry>,
    /// Entries that repeat an earlier entry's certificate id: (duplicate, first).
    pub duplicates: Vec<(usize, usize)>,
    /// Every medium with trusted records, by its key.
    pub media: BTreeMap<String, History>,
    /// With a register: each asset, in its order.
    pub assets: Vec<AssetResult>,
    /// With a register: trusted records that match no asset.
    pub unexpected: Vec<usize>,
    pub register: Option<Register>,
    pub qc: Option<Qc>,
    /// When signers' key validity was judged.
    pub verify_time: crate::cert::trust::VerifyTime,
    /// How the audit was made: version, command, trust anchors, inputs.
    pub context: super::provenance::Context,
    /// Each signer's numbered series: what is missing, forked or begun anew.
    pub series: Vec<super::series::Series>,
    /// Trusted records that carry no series number (made before numbering).
    pub unnumbered: usize,
}

impl Audit {
    /// Everything in order: nothing that needs looking at.
    pub fn clean(&self) -> bool {
        !self
            .entries
            .iter()
            .any(|e| e.class.problem() || e.bad_countersignature().is_some())
            && if self.register.is_some() {
                self.assets
                    .iter()
                    .all(|a| a.history.standing == Standing::Covered && a.conflicts.is_empty())
                    && self.unexpected.is_empty()
            } else {
                self.media.values().all(|h| h.standing == Standing::Covered)
            }
            && self.series.iter().all(super::series::Series::whole)
    }

    /// Counts per class.
    pub fn counts(&self) -> Vec<(Class, usize)> {
        Class::ALL
            .iter()
            .map(|&c| (c, self.entries.iter().filter(|e| e.class == c).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Trusted records counted by a field of the certificate (method, policy, operator...).
    pub fn tally(&self, field: impl Fn(&Certificate) -> String) -> Vec<(String, usize)> {
        self.count(|k| field(&k.cert))
    }

    /// Trusted records counted by who signed them: the principal and key, or the principal
    /// and the CA (every host a fleet CA certified counts as that one signer).
    pub fn by_signer(&self) -> Vec<(String, usize)> {
        self.count(|k| identity(&k.signer))
    }

    fn count(&self, field: impl Fn(&Checked) -> String) -> Vec<(String, usize)> {
        let dup: HashSet<usize> = self.duplicates.iter().map(|d| d.0).collect();
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            if let (true, false, Some(c)) =
                (e.class.trusted(), dup.contains(&i), e.checked.as_deref())
            {
                let k = field(c);
                *m.entry(if k.trim().is_empty() {
                    "(none)".into()
                } else {
                    k
                })
                .or_default() += 1;
            }
        }
        m.into_iter().collect()
    }
}

/// Who a signer is for people: the principal and key, or the principal and CA, else the key.
fn identity(s: &crate::cert::trust::Signer) -> String {
    match s {
        crate::cert::trust::Signer::Trusted { identity, .. } => identity.clone(),
        other => other.fingerprint().to_string(),
    }
}

/// How records may be matched to the register's assets.
#[derive(Clone, Copy, Debug, Default)]
pub struct Matching {
    /// `--allow-image-records`: an image file's or loop device's record may cover a register
    /// row that gives no hardware identity (a tester's register); never a drive's.
    pub images: bool,
}

/// Reconciles judged entries with the register (if any) and draws the QC sample (if asked).
pub fn reconcile(
    entries: Vec<Entry>,
    register: Option<Register>,
    qc: Option<(f64, String)>,
    matching: Matching,
) -> Audit {
    // The same certificate in two files (a copy) counts once; only trusted files are copies
    // of each other: an untrusted, tampered or unsigned file never hides a trusted one.
    let mut first: HashMap<String, usize> = HashMap::new();
    let mut duplicates = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if !e.class.trusted() {
            continue;
        }
        if let Some(c) = e.cert() {
            if let Some(&f) = first.get(&c.id) {
                duplicates.push((i, f));
            } else {
                first.insert(c.id.clone(), i);
            }
        }
    }
    let dup: HashSet<usize> = duplicates.iter().map(|d| d.0).collect();
    let trusted: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].class.trusted() && !dup.contains(&i))
        .collect();
    let mut by_media: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &i in &trusted {
        if let Some(c) = entries[i].cert() {
            by_media.entry(media_key(c)).or_default().push(i);
        }
    }
    let media = by_media
        .into_iter()
        .map(|(k, v)| (k, history(&entries, v)))
        .collect();
    let (assets, unexpected) = match &register {
        Some(r) => match_assets(&entries, &trusted, r, matching),
        None => (vec![], vec![]),
    };
    let (series, unnumbered) = super::series::of(
        trusted
            .iter()
            .filter_map(|&i| entries[i].checked.as_deref()),
        |c| identity(&c.signer),
    );
    let mut audit = Audit {
        series,
        unnumbered,
        entries,
        duplicates,
        media,
        assets,
        unexpected,
        register,
        qc: None,
        verify_time: crate::cert::trust::VerifyTime::default(),
        context: super::provenance::Context::default(),
    };
    audit.qc = qc.map(|(percent, seed)| draw(&audit, percent, seed));
    audit
}

/// What a record is to the register.
enum Match {
    /// It covers this asset, found this way.
    Covers(usize, &'static str),
    /// It names this asset, but its identity contradicts the register's: why.
    Conflict(usize, String),
}

/// The register's lookups: serial, WWN, asset tag.
type Maps = [(&'static str, HashMap<String, usize>); 3];

/// Which asset a record is about, and whether it may cover it: by serial, else WWN, else asset
/// tag — but a record whose hardware identity contradicts the row's (another drive's serial
/// or WWN, none where the row has one) never covers it, and an image file's or loop device's
/// record never covers a drive (with `images`, a row without hardware identity).
fn locate(c: &Certificate, maps: &Maps, r: &Register, images: bool) -> Option<Match> {
    let id = &c.media.identity;
    let image = c.media.kind == "image" || id.interface == "loop";
    let by = |n: usize, v: &str| {
        (!v.trim().is_empty())
            .then(|| maps[n].1.get(&key(v)).copied())
            .flatten()
    };
    let what = if c.media.kind == "image" {
        "an image file"
    } else {
        "a loop device"
    };
    let differs = |row: &str, rec: &str| {
        !row.trim().is_empty() && (rec.trim().is_empty() || key(row) != key(rec))
    };
    let not_drive = |a: usize| {
        Match::Conflict(
            a,
            format!(
                "it is the record of {what} ({}), which never covers a drive of the register",
                c.media.path
            ),
        )
    };
    if let Some(a) = by(0, &id.serial) {
        return Some(if image {
            not_drive(a)
        } else {
            Match::Covers(a, "serial")
        });
    }
    if let Some(a) = by(1, &id.wwn) {
        let row = &r.assets[a];
        return Some(if image {
            not_drive(a)
        } else if differs(&row.serial, &id.serial) {
            Match::Conflict(
                a,
                format!(
                    "identity conflict: its WWN is the register's, but it is the record of serial {:?}, \
                     the register's is {:?}",
                    id.serial, row.serial
                ),
            )
        } else {
            Match::Covers(a, "wwn")
        });
    }
    let a = by(2, &c.media.asset_tag)?;
    let row = &r.assets[a];
    let hardware = !row.serial.trim().is_empty() || !row.wwn.trim().is_empty();
    Some(if image && hardware {
        not_drive(a)
    } else if image && !images {
        Match::Conflict(
            a,
            format!(
                "it is the record of {what} ({}), which covers a row without serial or WWN only \
                 with --allow-image-records",
                c.media.path
            ),
        )
    } else if differs(&row.serial, &id.serial) {
        Match::Conflict(
            a,
            format!(
                "identity conflict: it carries the register's asset tag, but it is the record of serial \
                 {:?}, the register's is {:?}",
                id.serial, row.serial
            ),
        )
    } else if differs(&row.wwn, &id.wwn) && !id.wwn.trim().is_empty() {
        Match::Conflict(
            a,
            format!(
                "identity conflict: it carries the register's asset tag, but its WWN is {:?}, the \
                 register's {:?}",
                id.wwn, row.wwn
            ),
        )
    } else {
        Match::Covers(a, "asset tag")
    })
}

fn match_assets(
    entries: &[Entry],
    trusted: &[usize],
    r: &Register,
    matching: Matching,
) -> (Vec<AssetResult>, Vec<usize>) {
    let map = |f: fn(&super::assets::Asset) -> &String| -> HashMap<String, usize> {
        r.assets
            .iter()
            .enumerate()
            .filter(|(_, a)| !f(a).trim().is_empty())
            .map(|(i, a)| (key(f(a)), i))
            .collect()
    };
    let maps: Maps = [
        ("serial", map(|a| &a.serial)),
        ("wwn", map(|a| &a.wwn)),
        ("asset tag", map(|a| &a.asset_tag)),
    ];
    struct Found {
        records: Vec<usize>,
        how: &'static str,
        claims: Vec<String>,
        conflicts: Vec<usize>,
    }
    let mut found: Vec<Found> = (0..r.assets.len())
        .map(|_| Found {
            records: vec![],
            how: "",
            claims: vec![],
            conflicts: vec![],
        })
        .collect();
    let mut unexpected = Vec::new();
    for &i in trusted {
        let Some(c) = entries[i].cert() else { continue };
        match locate(c, &maps, r, matching.images) {
            Some(Match::Covers(a, how)) => {
                found[a].records.push(i);
                found[a].how = how;
            }
            Some(Match::Conflict(a, why)) => {
                found[a].conflicts.push(i);
                found[a]
                    .claims
                    .push(format!("{} claims to cover it, but {why}", entries[i].name));
            }
            None => unexpected.push(i),
        }
    }
    // Every other file that names an asset, whatever its trust, is shown beside it: it
    // claims to cover it, but does not count.
    let trusted_set: HashSet<usize> = trusted.iter().copied().collect();
    for (i, e) in entries.iter().enumerate() {
        if trusted_set.contains(&i) || e.class == Class::Ignored {
            continue;
        }
        let Some(c) = e.says() else { continue };
        let a = match locate(c, &maps, r, true) {
            Some(Match::Covers(a, _) | Match::Conflict(a, _)) => a,
            None => continue,
        };
        let why = match e.class {
            Class::Untrusted => format!("its signer is not trusted ({})", e.detail),
            Class::BadSignature => format!("its signature does not verify ({})", e.detail),
            Class::NoSignature => "it has no signature".to_string(),
            _ if e.class.trusted() => "it is a copy of another file (counted once)".to_string(),
            _ => e.detail.clone(),
        };
        found[a]
            .claims
            .push(format!("{} claims to cover it, but {why}", e.name));
    }
    let results = found
        .into_iter()
        .enumerate()
        .map(|(a, f)| {
            let asset = &r.assets[a];
            let mut notes = Vec::new();
            for &i in &f.records {
                if let Some(c) = entries[i].cert() {
                    let m = &c.media.identity.model;
                    if !asset.model.trim().is_empty()
                        && !m.trim().is_empty()
                        && key(m) != key(&asset.model)
                    {
                        notes.push(format!(
                            "the model differs: {:?} in the register, {:?} in {}",
                            asset.model, m, entries[i].name
                        ));
                    }
                }
            }
            notes.extend(f.claims);
            AssetResult {
                asset: a,
                history: history(entries, f.records),
                matched_by: f.how,
                notes,
                conflicts: f.conflicts,
            }
        })
        .collect();
    (results, unexpected)
}

/// The QC draw: `percent` of the media covered by a clear or purge PASS (destruction is not a
/// logical sanitization), at least one when there are any, chosen by a ChaCha8 generator keyed
/// by BLAKE3(`seed`) from the candidates in a fixed order, so anyone can draw it again.
fn draw(a: &Audit, percent: f64, seed: String) -> Qc {
    let logical = |h: &History| {
        h.standing == Standing::Covered
            && h.latest.is_some_and(|i| a.entries[i].class == Class::Pass)
    };
    // (name, the entry that covers it); `logical` holds only with a latest entry.
    let mut population: Vec<(String, usize)> = match &a.register {
        Some(r) => a
            .assets
            .iter()
            .filter(|x| logical(&x.history))
            .filter_map(|x| Some((asset_label(&r.assets[x.asset]), x.history.latest?)))
            .collect(),
        None => a
            .media
            .iter()
            .filter(|(_, h)| logical(h))
            .filter_map(|(k, h)| Some((k.clone(), h.latest?)))
            .collect(),
    };
    population.sort();
    let n = population.len();
    let take = if n == 0 {
        0
    } else {
        ((percent / 100.0 * n as f64).ceil() as usize).clamp(1, n)
    };
    let mut rng = rand_chacha::ChaCha8Rng::from_seed(*blake3::hash(seed.as_bytes()).as_bytes());
    let mut drawn = population;
    drawn.shuffle(&mut rng);
    drawn.truncate(take);
    drawn.sort();
    Qc {
        percent,
        seed,
        population: n,
        picks: drawn
            .into_iter()
            .map(|(medium, entry)| Pick {
                medium,
                certificate: a.entries[entry].name.clone(),
                id: a.entries[entry]
                    .cert()
                    .map(|c| c.id.clone())
                    .unwrap_or_default(),
                entry,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::trust::Signer;

    /// A trusted entry of a certificate with this serial, tag, result and time.
    fn rec(serial: &str, tag: &str, result: Verdict, at: &str, id: &str) -> Entry {
        let mut c = Certificate {
            id: id.into(),
            result,
            ..Certificate::default()
        };
        c.media.identity.serial = serial.into();
        c.media.asset_tag = tag.into();
        c.media.identity.model = "WDC WD40".into();
        c.sanitization.method = "clear".into();
        c.sanitization.finished = at.into();
        let class = match result {
            Verdict::Pass => Class::Pass,
            Verdict::Fail => Class::Fail,
            Verdict::Incomplete => Class::Incomplete,
        };
        Entry {
            name: format!("{id}.json"),
            file: format!("{id}.json").into(),
            class,
            detail: String::new(),
            checked: Some(Box::new(Checked {
                cert: c,
                signer: Signer::Trusted {
                    fingerprint: "SHA256:x".into(),
                    by: "k.pub".into(),
                    identity: "key SHA256:x".into(),
                },
                file_blake3: String::new(),
                validator: None,
            })),
            claimed: None,
            blake3: None,
        }
    }

    fn register(text: &str) -> Register {
        Register::parse(text, "a.csv").unwrap()
    }

    #[test]
    fn assets_are_matched_by_serial_then_wwn_then_tag_and_the_latest_record_decides() {
        let mut later_pass = rec("S1", "", Verdict::Pass, "2026-11-02T00:00:00Z", "b");
        later_pass
            .checked
            .as_mut()
            .unwrap()
            .cert
            .media
            .identity
            .model = "wdc wd40".into();
        let entries = vec![
            rec("S1", "", Verdict::Fail, "2026-11-01T00:00:00Z", "a"),
            later_pass,
            rec("", "T-2", Verdict::Pass, "2026-11-01T00:00:00Z", "c"),
            rec("S3", "", Verdict::Pass, "2026-11-03T00:00:00Z", "d"),
            rec("S3", "", Verdict::Fail, "2026-11-04T00:00:00Z", "e"),
            rec("S9", "", Verdict::Pass, "2026-11-01T00:00:00Z", "f"),
        ];
        let r = register("serial,asset_tag,model\ns1,,WDC WD40\n,T-2,\nS3,,\nS4,,\n");
        let a = reconcile(entries, Some(r), None, Matching::default());
        let st: Vec<Standing> = a.assets.iter().map(|x| x.history.standing).collect();
        assert_eq!(
            st,
            [
                Standing::Covered,
                Standing::Covered,
                Standing::Failed,
                Standing::Missing
            ]
        );
        assert_eq!(a.assets[0].matched_by, "serial");
        assert_eq!(a.assets[1].matched_by, "asset tag");
        assert_eq!(
            a.assets[0].history.superseded,
            vec![0],
            "the FAIL before the PASS"
        );
        assert!(a.assets[0].notes.is_empty(), "model compared without case");
        assert_eq!(a.unexpected, vec![5], "S9 is in no register row");
        assert!(!a.clean());
    }

    #[test]
    fn problems_never_count_and_copies_count_once() {
        let mut bad = rec("S1", "", Verdict::Pass, "2026-11-01T00:00:00Z", "x");
        bad.class = Class::Untrusted;
        let copy = rec("S2", "", Verdict::Pass, "2026-11-01T00:00:00Z", "y");
        let entries = vec![bad, copy.clone(), copy];
        let a = reconcile(
            entries,
            Some(register("serial\nS1\nS2\n")),
            None,
            Matching::default(),
        );
        assert_eq!(
            a.assets[0].history.standing,
            Standing::Missing,
            "untrusted is no record"
        );
        assert!(
            a.assets[0].notes[0].contains("claims to cover it, but its signer is not trusted"),
            "{:?}",
            a.assets[0].notes
        );
        assert_eq!(a.assets[1].history.records.len(), 1);
        assert_eq!(a.duplicates, vec![(2, 1)]);
        assert!(!a.clean(), "an untrusted file is a problem");
        let ok = reconcile(
            vec![rec("S2", "", Verdict::Pass, "2026-11-01T00:00:00Z", "y")],
            Some(register("serial\nS2\n")),
            None,
            Matching::default(),
        );
        assert!(ok.clean());
    }

    #[test]
    fn an_incomplete_named_as_superseded_does_not_decide() {
        let mut pass = rec("S1", "", Verdict::Pass, "2026-11-01T00:00:00Z", "p");
        pass.checked.as_mut().unwrap().cert.supersedes = vec!["i".into()];
        // The INCOMPLETE is dated later (clock skew), but the PASS names it as superseded.
        let inc = rec("S1", "", Verdict::Incomplete, "2026-11-02T00:00:00Z", "i");
        let a = reconcile(vec![pass, inc], None, None, Matching::default());
        let h = &a.media["serial S1"];
        assert_eq!(h.standing, Standing::Covered);
        assert_eq!(h.superseded, vec![1]);
        assert!(a.clean());
    }

    #[test]
    fn the_qc_draw_repeats_with_its_seed() {
        let entries: Vec<Entry> = (0..40)
            .map(|i| {
                rec(
                    &format!("S{i:02}"),
                    "",
                    Verdict::Pass,
                    "2026-11-01T00:00:00Z",
                    &format!("id{i}"),
                )
            })
            .collect();
        let a = reconcile(
            entries.clone(),
            None,
            Some((5.0, "audit-2026-11".into())),
            Matching::default(),
        );
        let b = reconcile(
            entries.clone(),
            None,
            Some((5.0, "audit-2026-11".into())),
            Matching::default(),
        );
        let c = reconcile(
            entries,
            None,
            Some((5.0, "another".into())),
            Matching::default(),
        );
        let qa = a.qc.unwrap();
        assert_eq!(qa.population, 40);
        assert_eq!(qa.picks.len(), 2, "ceil(5 % of 40)");
        assert_eq!(qa.picks, b.qc.unwrap().picks);
        assert_ne!(qa.picks, c.qc.unwrap().picks);
    }
}
