//! Each target's certificate record: the person and place for the whole run, and per medium
//! its asset tag, source, classification, backup, destination and notes. Per-medium values come
//! from repeated flags in target order, or from a manifest CSV keyed by target or serial; the
//! organization file's `require = [...]` refuses a run that would leave a needed field empty.
//!
//! Pure: [`Records::resolve`] takes what the targets are known by and returns one
//! [`Record`] per target, or the one-line reason it cannot.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::cert::{Person, Record, Validation};
use crate::cli::{BackedUp, RecordArgs};
use crate::config::Config;
use crate::error::{Error, Result};

/// A record field a person fills in, by the name the organization file's `require` and a
/// manifest's header use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Operator,
    Title,
    Organization,
    Location,
    Contact,
    AssetTag,
    MediaSource,
    Classification,
    DataBackedUp,
    BackupLocation,
    PostClassification,
    Destination,
    Note,
    Validator,
}

impl Field {
    pub const ALL: [Field; 14] = [
        Field::Operator,
        Field::Title,
        Field::Organization,
        Field::Location,
        Field::Contact,
        Field::AssetTag,
        Field::MediaSource,
        Field::Classification,
        Field::DataBackedUp,
        Field::BackupLocation,
        Field::PostClassification,
        Field::Destination,
        Field::Note,
        Field::Validator,
    ];

    /// The fields that belong to one medium (a manifest's columns; repeated flags).
    pub const PER_MEDIUM: [Field; 8] = [
        Field::AssetTag,
        Field::MediaSource,
        Field::Classification,
        Field::DataBackedUp,
        Field::BackupLocation,
        Field::PostClassification,
        Field::Destination,
        Field::Note,
    ];

    /// The name in `require = [...]` and in a manifest's header.
    pub fn name(self) -> &'static str {
        match self {
            Field::Operator => "operator",
            Field::Title => "title",
            Field::Organization => "organization",
            Field::Location => "location",
            Field::Contact => "contact",
            Field::AssetTag => "asset_tag",
            Field::MediaSource => "media_source",
            Field::Classification => "classification",
            Field::DataBackedUp => "data_backed_up",
            Field::BackupLocation => "backup_location",
            Field::PostClassification => "post_classification",
            Field::Destination => "destination",
            Field::Note => "note",
            Field::Validator => "validator",
        }
    }

    /// The flag that sets it.
    pub fn flag(self) -> String {
        format!("--{}", self.name().replace('_', "-"))
    }

    /// From a name as people write it: `asset_tag`, `Asset Tag`, `asset-tag`.
    pub fn parse(name: &str) -> Option<Field> {
        let n = name.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Field::ALL.into_iter().find(|f| f.name() == n)
    }

    /// Its value in a record (notes: all of them, joined).
    pub fn get(self, r: &Record) -> String {
        match self {
            Field::Operator => r.operator.name.clone(),
            Field::Title => r.operator.title.clone(),
            Field::Organization => r.operator.organization.clone(),
            Field::Location => r.operator.location.clone(),
            Field::Contact => r.operator.contact.clone(),
            Field::AssetTag => r.asset_tag.clone(),
            Field::MediaSource => r.media_source.clone(),
            Field::Classification => r.classification.clone(),
            Field::DataBackedUp => r.data_backed_up.clone(),
            Field::BackupLocation => r.backup_location.clone(),
            Field::PostClassification => r.post_classification.clone(),
            Field::Destination => r.destination.clone(),
            Field::Note => r.notes.join("; "),
            Field::Validator => r.validation.name.clone(),
        }
    }

    /// Sets a per-medium field (a note is added).
    fn set(self, r: &mut Record, v: String) {
        match self {
            Field::AssetTag => r.asset_tag = v,
            Field::MediaSource => r.media_source = v,
            Field::Classification => r.classification = v,
            Field::DataBackedUp => r.data_backed_up = v,
            Field::BackupLocation => r.backup_location = v,
            Field::PostClassification => r.post_classification = v,
            Field::Destination => r.destination = v,
            Field::Note => r.notes.push(v),
            _ => {}
        }
    }
}

/// What a target is known by, for matching flags and manifest rows to it.
#[derive(Clone, Debug, Default)]
pub struct Key {
    /// The name it was given by.
    pub path: PathBuf,
    /// Its canonical path, if it exists.
    pub canonical: Option<PathBuf>,
    /// The drive's serial number (empty for images and devices without one).
    pub serial: String,
    /// The drive's WWN (or NVMe EUI/NGUID) as the kernel shows it (empty where there is none).
    pub wwn: String,
    /// A loop device's backing file.
    pub backing: Option<PathBuf>,
}

impl Key {
    /// What a manifest row can be matched by, for people: `serial S, WWN W`.
    pub fn describe(&self) -> String {
        let mut v = Vec::new();
        if !self.serial.is_empty() {
            v.push(format!("serial {:?}", self.serial));
        }
        if !self.wwn.is_empty() {
            v.push(format!("WWN {}", self.wwn));
        }
        if let Some(b) = &self.backing {
            v.push(format!("backing file {}", b.display()));
        }
        if v.is_empty() {
            "neither its name nor a serial or WWN matches a row".into()
        } else {
            format!("neither its name nor its {} matches a row", v.join(", "))
        }
    }

    /// A target known only by the name it was given (nothing there yet, or simulated).
    pub fn named(path: &Path) -> Key {
        Key {
            path: path.to_path_buf(),
            ..Key::default()
        }
    }

    /// A probed target: its name, what it resolved to, its serial, WWN and backing file.
    pub fn of(p: &crate::device::Probe) -> Key {
        Key {
            path: p.path.clone(),
            canonical: Some(p.canonical.clone()),
            serial: p.identity.serial.clone(),
            wwn: p.identity.wwn.clone(),
            backing: (!p.identity.backing.is_empty() && p.kind == crate::device::Kind::Block)
                .then(|| PathBuf::from(&p.identity.backing)),
        }
    }
}

/// One manifest row: what it is keyed by and the values it gives.
#[derive(Clone, Debug)]
struct Row {
    line: u64,
    target: String,
    serial: String,
    wwn: String,
    values: Vec<(Field, String)>,
}

/// A manifest CSV: a header naming `target` and/or `serial` and per-medium columns.
#[derive(Clone, Debug)]
pub struct Manifest {
    source: String,
    columns: Vec<Field>,
    rows: Vec<Row>,
}

impl Manifest {
    /// Parses a manifest's text; `source` names it in errors.
    ///
    /// # Errors
    /// [`Error::Usage`] naming the line: no key column, an unknown or session-wide column, a
    /// row without a key, a bad `data_backed_up`, the same key twice.
    pub fn parse(text: &str, source: &str) -> Result<Manifest> {
        let bad = |line: u64, what: String| {
            Error::Usage(format!("manifest {source}: line {line}: {what}"))
        };
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(text.as_bytes());
        let header = rdr.headers().map_err(|e| bad(1, e.to_string()))?.clone();
        let mut key_cols = (None, None);
        let mut wwn_col = None;
        let mut cols: Vec<Option<Field>> = Vec::new();
        for name in header.iter() {
            let n = name.trim().to_ascii_lowercase();
            match n.as_str() {
                "target" | "device" | "path" => key_cols.0 = Some(cols.len()),
                "serial" | "serial_number" | "serial number" => key_cols.1 = Some(cols.len()),
                "wwn" | "wwid" | "eui" => wwn_col = Some(cols.len()),
                _ => {}
            }
            if key_cols.0 == Some(cols.len())
                || key_cols.1 == Some(cols.len())
                || wwn_col == Some(cols.len())
            {
                cols.push(None);
                continue;
            }
            match Field::parse(name) {
                Some(f) if Field::PER_MEDIUM.contains(&f) => {
                    if cols.contains(&Some(f)) {
                        return Err(bad(1, format!("column {} appears twice", f.name())));
                    }
                    cols.push(Some(f));
                }
                Some(f) => {
                    return Err(bad(
                        1,
                        format!(
                            "column {name:?} is the same for every drive of a run; give {} (or set it in the organization file)",
                            f.flag()
                        ),
                    ))
                }
                None => {
                    return Err(bad(
                        1,
                        format!(
                            "unknown column {name:?}; the columns are target and/or serial, then any of {}",
                            Field::PER_MEDIUM.map(Field::name).join(", ")
                        ),
                    ))
                }
            }
        }
        if key_cols == (None, None) && wwn_col.is_none() {
            return Err(bad(
                1,
                "no `target`, `serial` or `wwn` column: the header must say which drive each row is for"
                    .into(),
            ));
        }
        let mut rows = Vec::new();
        let mut seen: HashMap<(String, String), u64> = HashMap::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, csv::Position::line);
                bad(line, e.to_string())
            })?;
            let line = rec.position().map_or(0, csv::Position::line);
            let cell = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("").to_string();
            let (target, serial) = (cell(key_cols.0), cell(key_cols.1));
            let wwn = cell(wwn_col);
            if rec.iter().all(str::is_empty) {
                continue;
            }
            if target.is_empty() && serial.is_empty() && wwn.is_empty() {
                return Err(bad(
                    line,
                    "no target, serial or wwn: which drive is this row for?".into(),
                ));
            }
            let mut values = Vec::new();
            for (i, f) in cols.iter().enumerate() {
                let (Some(f), Some(v)) = (f, rec.get(i)) else {
                    continue;
                };
                if v.is_empty() {
                    continue;
                }
                let v = if *f == Field::DataBackedUp {
                    backed_up(v)
                        .ok_or_else(|| {
                            bad(
                                line,
                                format!("data_backed_up {v:?}: use yes, no or unknown"),
                            )
                        })?
                        .to_string()
                } else {
                    v.to_string()
                };
                values.push((*f, v));
            }
            for k in [("target", &target), ("serial", &serial), ("wwn", &wwn)] {
                if k.1.is_empty() {
                    continue;
                }
                if let Some(first) = seen.insert((k.0.into(), k.1.clone()), line) {
                    return Err(bad(
                        line,
                        format!("{} {:?} was already given on line {first}", k.0, k.1),
                    ));
                }
            }
            rows.push(Row {
                line,
                target,
                serial,
                wwn,
                values,
            });
        }
        Ok(Manifest {
            source: source.to_string(),
            columns: cols.into_iter().flatten().collect(),
            rows,
        })
    }

    /// Loads a manifest file.
    ///
    /// # Errors
    /// [`Error::Usage`]: unreadable, too large, or see [`Manifest::parse`].
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = crate::limits::read_to_string(path, crate::limits::MANIFEST)
            .map_err(|e| Error::Usage(format!("cannot read manifest {}: {e}", path.display())))?;
        Manifest::parse(&text, &path.display().to_string())
    }

    /// The row for `k`: by its target name (any name of the same file or device, a bay's
    /// `/dev/disk/by-path` link, a loop device's backing file), by its serial, or by its WWN.
    fn row_for(&self, k: &Key) -> Result<Option<&Row>> {
        let by_target = |r: &&Row| {
            !r.target.is_empty() && {
                let p = Path::new(&r.target);
                p == k.path
                    || k.backing.as_deref() == Some(p)
                    || k.canonical
                        .as_deref()
                        .is_some_and(|c| std::fs::canonicalize(p).is_ok_and(|rc| rc == c))
            }
        };
        let by_serial = |r: &&Row| !k.serial.is_empty() && r.serial == k.serial;
        let by_wwn = |r: &&Row| !k.wwn.is_empty() && same_wwn(&r.wwn, &k.wwn);
        let hits: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| by_target(r) || by_serial(r) || by_wwn(r))
            .collect();
        match hits.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            [a, b, ..] => Err(Error::Usage(format!(
                "manifest {}: lines {} and {} both match {} (by target or serial); keep one",
                self.source,
                a.line,
                b.line,
                k.path.display()
            ))),
        }
    }
}

/// Whether a manifest's WWN names the drive whose WWN the kernel shows (`naa.5000c5...`,
/// `0x5000c5...`, `5000C5...`, `eui.0025...`: the same number however it is written).
fn same_wwn(row: &str, drive: &str) -> bool {
    let bare = |w: &str| {
        let w = w.trim().to_ascii_lowercase();
        ["naa.", "eui.", "0x", "wwn-0x"]
            .iter()
            .find_map(|p| w.strip_prefix(p).map(str::to_string))
            .unwrap_or(w)
    };
    !row.trim().is_empty() && bare(row) == bare(drive)
}

fn backed_up(v: &str) -> Option<&'static str> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" => Some("yes"),
        "no" | "n" | "false" => Some("no"),
        "unknown" => Some("unknown"),
        _ => None,
    }
}

/// The record fields a command line gives one target (see [`Records::given`]).
pub type Given = Vec<(Field, String)>;

/// The record a resumed wipe certifies with: the one it began with (`kept`, from its
/// journal), unless this run's command line gives a field that says otherwise.
///
/// # Errors
/// [`Error::Usage`] naming the flag, the value given and the value kept.
pub fn resumed(path: &Path, kept: &Record, given: &[(Field, String)]) -> Result<Record> {
    for (f, v) in given {
        let agrees = match f {
            Field::Note => kept.notes.contains(v),
            _ => f.get(kept) == *v,
        };
        if !agrees {
            let was = match f {
                Field::Note if kept.notes.is_empty() => "no notes".to_string(),
                Field::Note => format!("the notes {:?}", kept.notes.join("; ")),
                _ if f.get(kept).is_empty() => "it empty".to_string(),
                _ => format!("{:?}", f.get(kept)),
            };
            return Err(Error::Usage(format!(
                "{}: {} {v:?} differs from the record of the wipe being resumed, which began with {was}; \
                 leave {} out (the journal keeps the record), or start over with --restart",
                path.display(),
                f.flag(),
                f.flag()
            )));
        }
    }
    Ok(kept.clone())
}

/// Everything the run's records are made of, before the targets are known.
#[derive(Clone, Debug, Default)]
pub struct Records {
    /// What every target's record starts from: the person, the validation block, the
    /// organization file's destination, `--note`s.
    base: Record,
    /// Per-medium flags as given (one value: every target; one per target: in order).
    flags: Vec<(Field, Vec<String>)>,
    manifest: Option<Manifest>,
    /// The organization file's `require`.
    require: Vec<Field>,
    /// What the command line alone gives every record (the person, the validator, `--note`s):
    /// `base` without the organization file.
    given_base: Record,
    /// A drive the manifest has no row for is taken with the run's record alone (a bench,
    /// where drives come unannounced), unless `require` needs a per-medium field.
    missing_rows_ok: bool,
}

impl Records {
    /// From the flags and the organization file.
    ///
    /// # Errors
    /// [`Error::Usage`]: an unknown name in `require`, an unreadable or bad manifest, or a
    /// field given both as a flag and as a manifest column.
    pub fn new(a: &RecordArgs, c: &Config) -> Result<Records> {
        let pick = |flag: &Option<String>, conf: &Option<String>| {
            flag.clone().or_else(|| conf.clone()).unwrap_or_default()
        };
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let given_base = Record {
            operator: Person {
                name: text(&a.operator),
                title: text(&a.title),
                organization: text(&a.organization),
                location: text(&a.location),
                contact: text(&a.contact),
            },
            notes: a.note.clone(),
            validation: Validation {
                name: text(&a.validator),
                ..Validation::default()
            },
            ..Record::default()
        };
        let base = Record {
            operator: Person {
                name: pick(&a.operator, &c.operator),
                title: pick(&a.title, &c.title),
                organization: pick(&a.organization, &c.organization),
                location: pick(&a.location, &c.location),
                contact: pick(&a.contact, &c.contact),
            },
            destination: c.destination.clone().unwrap_or_default(),
            notes: a.note.clone(),
            node: {
                let mut node = c.node.clone();
                node.extend(a.node.iter().cloned());
                node
            },
            validation: Validation {
                name: text(&a.validator),
                title: text(&a.validator_title),
                organization: text(&a.validator_organization),
                location: text(&a.validator_location),
                contact: text(&a.validator_contact),
                signature: String::new(),
                date: String::new(),
            },
            ..Record::default()
        };
        let answer = |b: &BackedUp| {
            match b {
                BackedUp::Yes => "yes",
                BackedUp::No => "no",
                BackedUp::Unknown => "unknown",
            }
            .to_string()
        };
        let flags: Vec<(Field, Vec<String>)> = [
            (Field::AssetTag, a.asset_tag.clone()),
            (Field::MediaSource, a.media_source.clone()),
            (Field::Classification, a.classification.clone()),
            (
                Field::DataBackedUp,
                a.data_backed_up.iter().map(answer).collect(),
            ),
            (Field::BackupLocation, a.backup_location.clone()),
            (Field::PostClassification, a.post_classification.clone()),
            (Field::Destination, a.destination.clone()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        let manifest = a.manifest.as_deref().map(Manifest::load).transpose()?;
        if let Some(m) = &manifest {
            if let Some((f, _)) = flags.iter().find(|(f, _)| m.columns.contains(f)) {
                return Err(Error::Usage(format!(
                    "{} is given both as a flag and as a column of the manifest {}; keep one",
                    f.flag(),
                    m.source
                )));
            }
        }
        let require = c
            .require
            .iter()
            .map(|n| {
                Field::parse(n).ok_or_else(|| {
                    Error::Usage(format!(
                        "config: require: unknown field {n:?}; the fields are {}",
                        Field::ALL.map(Field::name).join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Records {
            base,
            flags,
            manifest,
            require,
            given_base,
            missing_rows_ok: false,
        })
    }

    /// A drive the manifest has no row for is taken with the run's record alone (no asset
    /// tag...), unless the organization file requires what only a row can give: for a bench,
    /// where drives come unannounced.
    pub fn allow_missing_rows(&mut self) {
        self.missing_rows_ok = true;
    }

    /// One record per target, in order.
    ///
    /// # Errors
    /// [`Error::Usage`] with the fix: a flag given neither once nor once per target, one asset
    /// tag for several targets or the same tag twice, a target the manifest does not list,
    /// a field the organization file requires left empty.
    pub fn resolve(&self, keys: &[Key]) -> Result<Vec<Record>> {
        let out = self.resolve_unchecked(keys)?;
        for (r, k) in out.iter().zip(keys) {
            self.check_required(r, k)?;
        }
        Ok(out)
    }

    /// As [`Records::resolve`], without the organization file's `require`: for a run that
    /// resumes wipes whose journals keep their records (checked with
    /// [`Records::check_required`] once those are known).
    ///
    /// # Errors
    /// As [`Records::resolve`], but for `require`.
    pub fn resolve_unchecked(&self, keys: &[Key]) -> Result<Vec<Record>> {
        let n = keys.len();
        let mut out = vec![self.base.clone(); n];
        for (f, values) in &self.flags {
            match values.len() {
                1 if *f == Field::AssetTag && n > 1 => {
                    return Err(Error::Usage(format!(
                        "--asset-tag is given once for {n} targets, but an asset tag names one medium: \
                         give one --asset-tag per target, in the order of the targets, or use --manifest"
                    )))
                }
                1 => out.iter_mut().for_each(|r| f.set(r, values[0].clone())),
                k if k == n => {
                    for (r, v) in out.iter_mut().zip(values) {
                        f.set(r, v.clone());
                    }
                }
                k => {
                    return Err(Error::Usage(format!(
                        "{} is given {k} times for {n} target{}: give it once for all of them, or once per \
                         target in the order of the targets (or use --manifest)",
                        f.flag(),
                        if n == 1 { "" } else { "s" }
                    )))
                }
            }
        }
        if let Some(m) = &self.manifest {
            for (r, k) in out.iter_mut().zip(keys) {
                let row = match m.row_for(k)? {
                    Some(row) => row,
                    None if self.missing_rows_ok => continue,
                    None => {
                        return Err(Error::Usage(format!(
                            "{} is not in the manifest {} ({}); add a row for it, or leave it out of this run",
                            k.path.display(),
                            m.source,
                            k.describe()
                        )))
                    }
                };
                for (f, v) in &row.values {
                    f.set(r, v.clone());
                }
            }
        }
        let mut tags: HashMap<&str, &Path> = HashMap::new();
        for (r, k) in out.iter().zip(keys) {
            if r.asset_tag.is_empty() {
                continue;
            }
            if let Some(other) = tags.insert(&r.asset_tag, &k.path) {
                return Err(Error::Usage(format!(
                    "asset tag {:?} is given to both {} and {}; each medium has its own",
                    r.asset_tag,
                    other.display(),
                    k.path.display()
                )));
            }
        }
        Ok(out)
    }

    /// The organization file's `require` for one target's record.
    ///
    /// # Errors
    /// [`Error::Usage`] naming the first required field left empty, and how to give it.
    pub fn check_required(&self, r: &Record, k: &Key) -> Result<()> {
        if let Some(f) = self.require.iter().find(|f| f.get(r).trim().is_empty()) {
            if let Some(m) = &self.manifest {
                if Field::PER_MEDIUM.contains(f) && matches!(m.row_for(k), Ok(None)) {
                    return Err(Error::Usage(format!(
                        "{} has no row in the manifest {} ({}), and the organization file requires {}; add a \
                         row for it",
                        k.path.display(),
                        m.source,
                        k.describe(),
                        f.name()
                    )));
                }
            }
            return Err(Error::Usage(format!(
                "{}: the organization file requires {}, which is empty; give {}{}",
                k.path.display(),
                f.name(),
                f.flag(),
                if Field::PER_MEDIUM.contains(f) {
                    " (once per target) or a --manifest column"
                } else {
                    " or set it in the organization file"
                }
            )));
        }
        Ok(())
    }

    /// The record fields this run's command line gives each target (flags and the manifest;
    /// not the organization file), to hold against the record of a wipe being resumed.
    ///
    /// # Errors
    /// As [`Records::resolve`] (a flag given a wrong number of times, a manifest row missing).
    pub fn given(&self, keys: &[Key]) -> Result<Vec<Given>> {
        let only = Records {
            base: self.given_base.clone(),
            flags: self.flags.clone(),
            manifest: self.manifest.clone(),
            require: Vec::new(),
            given_base: self.given_base.clone(),
            missing_rows_ok: true,
        };
        let records = only.resolve_unchecked(keys)?;
        Ok(records
            .iter()
            .map(|r| {
                let mut v: Vec<(Field, String)> = Field::ALL
                    .into_iter()
                    .filter(|f| *f != Field::Note)
                    .map(|f| (f, f.get(r)))
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                v.extend(r.notes.iter().map(|n| (Field::Note, n.clone())));
                v
            })
            .collect())
    }

    /// Warnings for fields an auditor needs that are empty but not required: who did it, and
    /// which asset each medium is.
    pub fn warnings(&self, records: &[Record], keys: &[Key]) -> Vec<String> {
        let mut w = Vec::new();
        if !self.require.contains(&Field::Operator)
            && records.iter().any(|r| r.operator.name.trim().is_empty())
        {
            w.push(
                "warning: no operator: the certificates will not say who did the work (--operator, or \
                 `operator` in the organization file)"
                    .to_string(),
            );
        }
        if !self.require.contains(&Field::AssetTag) {
            let untagged: Vec<String> = records
                .iter()
                .zip(keys)
                .filter(|(r, _)| r.asset_tag.trim().is_empty())
                .map(|(_, k)| k.path.display().to_string())
                .collect();
            if !untagged.is_empty() {
                w.push(format!(
                    "warning: no asset tag for {}: the certificate will not name the asset (--asset-tag or --manifest)",
                    untagged.join(", ")
                ));
            }
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: &str, serial: &str) -> Key {
        Key {
            serial: serial.into(),
            ..Key::named(Path::new(p))
        }
    }

    fn args(f: impl FnOnce(&mut RecordArgs)) -> RecordArgs {
        let mut a = RecordArgs::default();
        f(&mut a);
        a
    }

    fn msg(e: Error) -> String {
        e.to_string()
    }

    #[test]
    fn node_pairs_are_key_value_and_flags_replace_the_files_keys() {
        assert_eq!(
            crate::config::node_pair("ironic_node=1be26c0b-aa"),
            Ok(("ironic_node".into(), "1be26c0b-aa".into()))
        );
        assert_eq!(
            crate::config::node_pair("inventory=a=b"),
            Ok(("inventory".into(), "a=b".into()))
        );
        for bad in ["novalue", "=x", "a b=x", "k=", "k=a\nb"] {
            assert!(crate::config::node_pair(bad).is_err(), "{bad}");
        }
        let config = Config {
            node: [("inventory", "r1"), ("ironic_node", "old")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Config::default()
        };
        let r = Records::new(
            &args(|a| a.node = vec![("ironic_node".into(), "new".into())]),
            &config,
        )
        .unwrap();
        let mut c = crate::cert::Certificate::default();
        r.base.apply(&mut c);
        assert_eq!(
            c.host.node.into_iter().collect::<Vec<_>>(),
            [
                ("inventory".to_string(), "r1".to_string()),
                ("ironic_node".to_string(), "new".to_string())
            ]
        );
    }

    #[test]
    fn one_value_goes_to_every_target_and_one_per_target_goes_in_order() {
        let r = Records::new(
            &args(|a| {
                a.asset_tag = vec!["A1".into(), "A2".into()];
                a.destination = vec!["recycling".into()];
                a.note = vec!["batch 7".into()];
            }),
            &Config::default(),
        )
        .unwrap();
        let out = r
            .resolve(&[key("/dev/sdb", "S1"), key("/dev/sdc", "S2")])
            .unwrap();
        assert_eq!(out[0].asset_tag, "A1");
        assert_eq!(out[1].asset_tag, "A2");
        assert!(out
            .iter()
            .all(|r| r.destination == "recycling" && r.notes == ["batch 7"]));
    }

    #[test]
    fn an_asset_tag_for_several_targets_or_a_wrong_count_is_refused() {
        let one = Records::new(
            &args(|a| a.asset_tag = vec!["A1".into()]),
            &Config::default(),
        )
        .unwrap();
        let e = msg(one.resolve(&[key("/a", ""), key("/b", "")]).unwrap_err());
        assert!(
            e.contains("once for 2 targets") && e.contains("one --asset-tag per target"),
            "{e}"
        );
        assert_eq!(one.resolve(&[key("/a", "")]).unwrap()[0].asset_tag, "A1");
        let two = Records::new(
            &args(|a| a.classification = vec!["x".into(), "y".into()]),
            &Config::default(),
        )
        .unwrap();
        let e = msg(two
            .resolve(&[key("/a", ""), key("/b", ""), key("/c", "")])
            .unwrap_err());
        assert!(
            e.contains("--classification is given 2 times for 3 targets"),
            "{e}"
        );
        let same = Records::new(
            &args(|a| a.asset_tag = vec!["T".into(), "T".into()]),
            &Config::default(),
        )
        .unwrap();
        let e = msg(same.resolve(&[key("/a", ""), key("/b", "")]).unwrap_err());
        assert!(e.contains("given to both /a and /b"), "{e}");
    }

    #[test]
    fn a_manifest_matches_rows_by_target_or_serial() {
        let m = Manifest::parse(
            "serial,Asset Tag,destination,note,data_backed_up\n\
             S2,A2,manufacturer,RMA 42,Y\n\
             S1,A1,,,\n",
            "m.csv",
        )
        .unwrap();
        let r = Records {
            manifest: Some(m),
            base: Record {
                destination: "recycling".into(),
                ..Record::default()
            },
            ..Records::default()
        };
        let out = r
            .resolve(&[key("/dev/sdb", "S1"), key("/dev/sdc", "S2")])
            .unwrap();
        assert_eq!(
            (out[0].asset_tag.as_str(), out[0].destination.as_str()),
            ("A1", "recycling")
        );
        assert_eq!(
            (out[1].asset_tag.as_str(), out[1].destination.as_str()),
            ("A2", "manufacturer")
        );
        assert_eq!(out[1].notes, ["RMA 42"]);
        assert_eq!(out[1].data_backed_up, "yes");
        let e = msg(r.resolve(&[key("/dev/sdd", "S9")]).unwrap_err());
        assert!(e.contains("/dev/sdd is not in the manifest m.csv"), "{e}");
        let by_target = Manifest::parse("target,asset_tag\n/dev/sdb,A1\n", "m").unwrap();
        let r = Records {
            manifest: Some(by_target),
            ..Records::default()
        };
        assert_eq!(
            r.resolve(&[key("/dev/sdb", "")]).unwrap()[0].asset_tag,
            "A1"
        );
    }

    #[test]
    fn bad_manifests_name_the_line_and_the_fix() {
        let cases = [
            (
                "asset_tag\nA1\n",
                "line 1: no `target`, `serial` or `wwn` column",
            ),
            ("serial,colour\nS1,red\n", "unknown column \"colour\""),
            ("serial,operator\nS1,Jane\n", "give --operator"),
            (
                "serial,asset_tag\nS1,A\nS1,B\n",
                "line 3: serial \"S1\" was already given on line 2",
            ),
            (
                "serial,data_backed_up\nS1,maybe\n",
                "line 2: data_backed_up \"maybe\"",
            ),
            ("serial,asset_tag\n,A\n", "line 2: no target, serial or wwn"),
            ("serial,asset_tag\nS1,A,extra\n", "line 2"),
        ];
        for (text, want) in cases {
            let e = msg(Manifest::parse(text, "m.csv").unwrap_err());
            assert!(
                e.contains("manifest m.csv") && e.contains(want),
                "{text:?}: {e}"
            );
        }
        let both = Manifest::parse("target,serial,asset_tag\n/dev/sdb,,A\n,S1,B\n", "m").unwrap();
        let r = Records {
            manifest: Some(both),
            ..Records::default()
        };
        let e = msg(r.resolve(&[key("/dev/sdb", "S1")]).unwrap_err());
        assert!(e.contains("lines 2 and 3 both match /dev/sdb"), "{e}");
    }

    #[test]
    fn required_fields_refuse_and_missing_ones_warn() {
        let config = Config {
            require: vec!["asset_tag".into(), "Operator".into()],
            ..Config::default()
        };
        let r = Records::new(&args(|a| a.operator = Some("Jane".into())), &config).unwrap();
        let e = msg(r.resolve(&[key("/dev/sdb", "")]).unwrap_err());
        assert!(
            e.contains("/dev/sdb: the organization file requires asset_tag")
                && e.contains("--asset-tag"),
            "{e}"
        );
        let r = Records::new(&args(|a| a.asset_tag = vec!["A".into()]), &config).unwrap();
        let e = msg(r.resolve(&[key("/dev/sdb", "")]).unwrap_err());
        assert!(
            e.contains("requires operator") && e.contains("organization file"),
            "{e}"
        );
        let bad = Config {
            require: vec!["asset".into()],
            ..Config::default()
        };
        assert!(msg(Records::new(&RecordArgs::default(), &bad).unwrap_err())
            .contains("unknown field \"asset\""));
        let none = Records::new(&RecordArgs::default(), &Config::default()).unwrap();
        let keys = [key("/a", ""), key("/b", "")];
        let recs = none.resolve(&keys).unwrap();
        let w = none.warnings(&recs, &keys);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[1].contains("/a, /b"), "{w:?}");
    }

    #[test]
    fn a_flag_and_a_manifest_column_for_one_field_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m.csv");
        std::fs::write(&m, "serial,asset_tag\nS1,A\n").unwrap();
        let a = args(|a| {
            a.asset_tag = vec!["B".into()];
            a.manifest = Some(m.clone());
        });
        let e = msg(Records::new(&a, &Config::default()).unwrap_err());
        assert!(
            e.contains("--asset-tag is given both as a flag and as a column"),
            "{e}"
        );
    }

    #[test]
    fn a_manifest_row_is_found_by_wwn_however_it_is_written_or_by_backing_file() {
        let m = Manifest::parse(
            "wwn,asset_tag\n0x5000C500A1B2C3D4,A-1\neui.0025388b91b2c3d4,A-2\n",
            "m.csv",
        )
        .unwrap();
        let drive = |wwn: &str| Key {
            wwn: wwn.into(),
            ..Key::named(Path::new("/dev/sdq"))
        };
        let tag = |k: &Key| m.row_for(k).unwrap().map(|r| r.values[0].1.clone());
        assert_eq!(tag(&drive("naa.5000c500a1b2c3d4")), Some("A-1".into()));
        assert_eq!(tag(&drive("eui.0025388b91b2c3d4")), Some("A-2".into()));
        assert_eq!(tag(&drive("naa.5000c500a1b2c3d5")), None);
        assert_eq!(tag(&drive("")), None, "no WWN matches no row");
        let by_file = Manifest::parse("target,asset_tag\n/srv/bay/a.img,T-1\n", "m.csv").unwrap();
        let lo = Key {
            backing: Some(PathBuf::from("/srv/bay/a.img")),
            ..Key::named(Path::new("/dev/loop7"))
        };
        assert!(by_file.row_for(&lo).unwrap().is_some());
    }

    #[test]
    fn a_bench_takes_a_drive_without_a_row_unless_a_row_is_required() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m.csv");
        std::fs::write(&m, "serial,asset_tag\nS1,A-1\n").unwrap();
        let a = args(|a| a.manifest = Some(m.clone()));
        let mut lenient = Records::new(&a, &Config::default()).unwrap();
        lenient.allow_missing_rows();
        let out = lenient.resolve(&[key("/dev/sdz", "S9")]).unwrap();
        assert_eq!(out[0].asset_tag, "");
        let strict = Config {
            require: vec!["asset_tag".into()],
            ..Config::default()
        };
        let mut required = Records::new(&a, &strict).unwrap();
        required.allow_missing_rows();
        let e = msg(required.resolve(&[key("/dev/sdz", "S9")]).unwrap_err());
        assert!(
            e.contains("no row") && e.contains("S9") && e.contains("asset_tag"),
            "{e}"
        );
        assert_eq!(
            required.resolve(&[key("/dev/sdb", "S1")]).unwrap()[0].asset_tag,
            "A-1"
        );
    }
}
