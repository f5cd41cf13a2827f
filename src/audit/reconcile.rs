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
    /// Cannot be read or parsed (truncated, damaged, not UTF-8 JSON...).
    Unreadable,
    /// JSON that is not a mediasan certificate (and has no signature): not counted.
    Ignored,
}

impl Class {
    pub const ALL: [Class; 10] = [
        Class::Pass,
        Class::Destroyed,
        Class::Fail,
        Class::Incomplete,
        Class::Untrusted,
        Class::BadSignature,
        Class::NoSignature,
        Class::UnknownFormat,
        Class::Unreadable,
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
}

impl Entry {
    pub fn cert(&self) -> Option<&Certificate> {
        self.checked.as_deref().map(|c| &c.cert)
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
    Entry {
        name: f.name,
        file: f.file,
        class,
        detail,
        checked,
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
    /// Problem records that name it (untrusted, ...): never counted, listed.
    pub untrusted: Vec<usize>,
    /// Notes: the model differs, ...
    pub notes: Vec<String>,
}

/// The QC sample to check again by hand (R2v3: at least 5 % of logically sanitized media).
#[derive(Clone, Debug, Serialize)]
pub struct Qc {
    pub percent: f64,
    pub seed: String,
    /// How many media could be drawn (covered by a clear or purge PASS).
    pub population: usize,
    /// The drawn ones: an asset's serial (or tag), or a medium's key.
    pub picks: Vec<String>,
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
                    .all(|a| a.history.standing == Standing::Covered)
                    && self.unexpected.is_empty()
            } else {
                self.media.values().all(|h| h.standing == Standing::Covered)
            }
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
        let dup: HashSet<usize> = self.duplicates.iter().map(|d| d.0).collect();
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            if let (true, false, Some(c)) = (e.class.trusted(), dup.contains(&i), e.cert()) {
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

/// Reconciles judged entries with the register (if any) and draws the QC sample (if asked).
pub fn reconcile(
    entries: Vec<Entry>,
    register: Option<Register>,
    qc: Option<(f64, String)>,
) -> Audit {
    // The same certificate in two files (a copy) counts once.
    let mut first: HashMap<String, usize> = HashMap::new();
    let mut duplicates = Vec::new();
    for (i, e) in entries.iter().enumerate() {
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
        Some(r) => match_assets(&entries, &trusted, r),
        None => (vec![], vec![]),
    };
    let mut audit = Audit {
        entries,
        duplicates,
        media,
        assets,
        unexpected,
        register,
        qc: None,
    };
    audit.qc = qc.map(|(percent, seed)| draw(&audit, percent, seed));
    audit
}

/// Which asset a certificate is about: by serial, else WWN, else asset tag.
fn find_asset(
    c: &Certificate,
    maps: &[(&'static str, HashMap<String, usize>); 3],
) -> Option<(usize, &'static str)> {
    let id = &c.media.identity;
    [&id.serial, &id.wwn, &c.media.asset_tag]
        .iter()
        .zip(maps)
        .find_map(|(v, (how, m))| {
            (!v.trim().is_empty())
                .then(|| m.get(&key(v)).map(|&a| (a, *how)))
                .flatten()
        })
}

fn match_assets(
    entries: &[Entry],
    trusted: &[usize],
    r: &Register,
) -> (Vec<AssetResult>, Vec<usize>) {
    let map = |f: fn(&super::assets::Asset) -> &String| -> HashMap<String, usize> {
        r.assets
            .iter()
            .enumerate()
            .filter(|(_, a)| !f(a).trim().is_empty())
            .map(|(i, a)| (key(f(a)), i))
            .collect()
    };
    let maps = [
        ("serial", map(|a| &a.serial)),
        ("wwn", map(|a| &a.wwn)),
        ("asset tag", map(|a| &a.asset_tag)),
    ];
    let mut found: Vec<(Vec<usize>, &'static str, Vec<usize>)> =
        vec![(vec![], "", vec![]); r.assets.len()];
    let mut unexpected = Vec::new();
    for &i in trusted {
        let Some(c) = entries[i].cert() else { continue };
        match find_asset(c, &maps) {
            Some((a, how)) => {
                found[a].0.push(i);
                found[a].1 = how;
            }
            None => unexpected.push(i),
        }
    }
    // Untrusted records that name an asset are shown beside it (they never count).
    for (i, e) in entries.iter().enumerate() {
        if let (Class::Untrusted, Some(c)) = (e.class, e.cert()) {
            if let Some((a, _)) = find_asset(c, &maps) {
                found[a].2.push(i);
            }
        }
    }
    let results = found
        .into_iter()
        .enumerate()
        .map(|(a, (records, how, untrusted))| {
            let asset = &r.assets[a];
            let mut notes = Vec::new();
            for &i in &records {
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
            if !untrusted.is_empty() {
                notes.push(format!(
                    "{} record(s) from an untrusted signer name it",
                    untrusted.len()
                ));
            }
            AssetResult {
                asset: a,
                history: history(entries, records),
                matched_by: how,
                untrusted,
                notes,
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
    let mut population: Vec<String> = match &a.register {
        Some(r) => a
            .assets
            .iter()
            .filter(|x| logical(&x.history))
            .map(|x| {
                let asset = &r.assets[x.asset];
                if asset.serial.is_empty() {
                    format!("asset tag {}", asset.asset_tag)
                } else {
                    format!("serial {}", asset.serial)
                }
            })
            .collect(),
        None => a
            .media
            .iter()
            .filter(|(_, h)| logical(h))
            .map(|(k, _)| k.clone())
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
    let mut picks = population;
    picks.shuffle(&mut rng);
    picks.truncate(take);
    picks.sort();
    Qc {
        percent,
        seed,
        population: n,
        picks,
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
                },
                file_blake3: String::new(),
                validator: None,
            })),
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
        let a = reconcile(entries, Some(r), None);
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
        let a = reconcile(entries, Some(register("serial\nS1\nS2\n")), None);
        assert_eq!(
            a.assets[0].history.standing,
            Standing::Missing,
            "untrusted is no record"
        );
        assert_eq!(a.assets[0].untrusted, vec![0]);
        assert_eq!(a.assets[1].history.records.len(), 1);
        assert_eq!(a.duplicates, vec![(2, 1)]);
        assert!(!a.clean(), "an untrusted file is a problem");
        let ok = reconcile(
            vec![rec("S2", "", Verdict::Pass, "2026-11-01T00:00:00Z", "y")],
            Some(register("serial\nS2\n")),
            None,
        );
        assert!(ok.clean());
    }

    #[test]
    fn an_incomplete_named_as_superseded_does_not_decide() {
        let mut pass = rec("S1", "", Verdict::Pass, "2026-11-01T00:00:00Z", "p");
        pass.checked.as_mut().unwrap().cert.supersedes = vec!["i".into()];
        // The INCOMPLETE is dated later (clock skew), but the PASS names it as superseded.
        let inc = rec("S1", "", Verdict::Incomplete, "2026-11-02T00:00:00Z", "i");
        let a = reconcile(vec![pass, inc], None, None);
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
        let a = reconcile(entries.clone(), None, Some((5.0, "audit-2026-11".into())));
        let b = reconcile(entries.clone(), None, Some((5.0, "audit-2026-11".into())));
        let c = reconcile(entries, None, Some((5.0, "another".into())));
        let qa = a.qc.unwrap();
        assert_eq!(qa.population, 40);
        assert_eq!(qa.picks.len(), 2, "ceil(5 % of 40)");
        assert_eq!(qa.picks, b.qc.unwrap().picks);
        assert_ne!(qa.picks, c.qc.unwrap().picks);
    }
}
