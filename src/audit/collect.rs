//! Finding the certificates under the paths an auditor names: folders (recursively), single
//! files, and bundles (`.tar`, `.tar.gz`, `.tgz`, such as an Ironic log bundle, and `.zip`), each
//! `*.json` with its `*.json.sig` beside it.
//!
//! Nothing delivered can hang, exhaust or fool the collection: only regular files are read
//! (a FIFO, device or link named like a certificate is a finding), bundle members are bounded
//! while they are unpacked (each by the certificate size limit, all of them together by
//! [`KEPT`] and [`UNPACKED`]: a decompression bomb is a finding), and names are kept as bytes
//! (shown with `\xNN` for bytes that are not UTF-8), so two members are never taken for one;
//! names that still show the same are a finding, and each file is judged on its own.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::provenance::{Input, Role};
use crate::error::{Error, Result};

/// The most bytes of certificates and signatures kept from one bundle (some 50,000 real
/// certificates).
pub const KEPT: u64 = 256 << 20;
/// The most bytes unpacked from one bundle, everything counted (logs included).
pub const UNPACKED: u64 = 4 << 30;

/// One `*.json` file found, with its signature file's bytes if there is one.
#[derive(Clone, Debug)]
pub struct Found {
    /// How people find it: its path, or `bundle.tar.gz!member/path.json` (bytes that are not
    /// UTF-8 shown as `\xNN`).
    pub name: String,
    /// The file on disk that holds it (the bundle, for a member of one).
    pub file: PathBuf,
    /// Its bytes, or why they could not be read.
    pub bytes: std::result::Result<Vec<u8>, String>,
    pub sig: Option<Vec<u8>>,
    /// A validator's countersignature (`*.json.validation.sig`), if there is one.
    pub validation: Option<Vec<u8>>,
    /// Not a file but the finding that several files show as `name` (`bytes` says which).
    pub collision: bool,
    /// The BLAKE3 (hex) of the certificate's bytes, when they were read.
    pub blake3: Option<String>,
}

/// What the collection found, and every file it read (for the report's list of inputs).
#[derive(Clone, Debug, Default)]
pub struct Collected {
    pub found: Vec<Found>,
    /// Sorted by name.
    pub inputs: Vec<Input>,
}

impl Found {
    fn problem(name: String, file: &Path, why: String) -> Found {
        Found {
            name,
            file: file.to_path_buf(),
            bytes: Err(why),
            sig: None,
            validation: None,
            collision: false,
            blake3: None,
        }
    }
}

/// A name as people read it: UTF-8 as it is, every other byte as `\xNN`.
pub fn shown(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

fn shown_path(p: &Path) -> String {
    shown(p.as_os_str().as_bytes())
}

fn is_bundle(name: &[u8]) -> bool {
    [&b".tar"[..], b".tar.gz", b".tgz", b".zip"]
        .iter()
        .any(|x| name.ends_with(x))
}

/// The bytes of the file beside `p` named `p` + `suffix`: `None` when there is none.
fn beside(p: &Path, suffix: &str) -> std::result::Result<Option<Vec<u8>>, String> {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    let s = PathBuf::from(s);
    match std::fs::symlink_metadata(&s) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        _ => crate::limits::read_regular(&s, crate::limits::SIGNATURE)
            .map(Some)
            .map_err(|e| format!("its {suffix} file {} cannot be read: {e}", shown_path(&s))),
    }
}

/// The path of the file beside `p` named `p` + `suffix`, as people read it.
fn beside_name(p: &Path, suffix: &str) -> String {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    shown_path(Path::new(&s))
}

/// One certificate file with its signature and countersignature; what was read goes to
/// `inputs`.
fn file(p: &Path, inputs: &mut Vec<Input>) -> Found {
    let mut f = Found::problem(shown_path(p), p, String::new());
    let both = beside(p, ".sig").and_then(|s| Ok((s, beside(p, ".validation.sig")?)));
    f.bytes = match (
        crate::limits::read_regular(p, crate::limits::CERTIFICATE),
        both,
    ) {
        (Err(e), _) => Err(e.to_string()),
        (Ok(_), Err(why)) => Err(why),
        (Ok(bytes), Ok((sig, validation))) => {
            let input = Input::of(f.name.clone(), Role::Certificate, &bytes);
            f.blake3 = Some(input.blake3.clone());
            inputs.push(input);
            for (b, suffix, role) in [
                (&sig, ".sig", Role::Signature),
                (&validation, ".validation.sig", Role::Countersignature),
            ] {
                if let Some(b) = b {
                    inputs.push(Input::of(beside_name(p, suffix), role, b));
                }
            }
            f.sig = sig;
            f.validation = validation;
            Ok(bytes)
        }
    };
    f
}

/// Every certificate candidate under `paths`, in a stable order (by name), and a finding for
/// every name that several of them show as.
///
/// # Errors
/// [`Error::Usage`] if a named path does not exist; a file that cannot be read inside is a
/// [`Found`] with its error, never a reason to stop.
pub fn collect(paths: &[PathBuf]) -> Result<Collected> {
    let mut out = Vec::new();
    let mut inputs = Vec::new();
    for root in paths {
        if std::fs::symlink_metadata(root).is_err() {
            return Err(Error::Usage(format!(
                "{} does not exist; give folders, certificate files or tar bundles",
                root.display()
            )));
        }
        for e in walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name()
        {
            let e = match e {
                Ok(e) => e,
                Err(err) => {
                    let p = err.path().unwrap_or(root);
                    out.push(Found::problem(shown_path(p), p, err.to_string()));
                    continue;
                }
            };
            let p = e.path();
            let name = p.as_os_str().as_bytes();
            let json = name.ends_with(b".json");
            if e.file_type().is_dir() || !(json || is_bundle(name)) {
                continue;
            }
            if !e.file_type().is_file() {
                let kind = crate::limits::special_kind(p).unwrap_or("not a file");
                out.push(Found::problem(
                    shown_path(p),
                    p,
                    format!("not a regular file: {kind}; only regular files are read"),
                ));
            } else if is_bundle(name) {
                out.extend(bundle(p, &mut inputs));
            } else {
                out.push(file(p, &mut inputs));
            }
        }
    }
    inputs.sort_by(|a, b| a.file.cmp(&b.file));
    inputs.dedup();
    Ok(Collected {
        found: collisions(out),
        inputs,
    })
}

/// Names that several found files show as: each is renamed "NAME (k of n with this name)" and
/// judged on its own, and a finding says so.
fn collisions(mut out: Vec<Found>) -> Vec<Found> {
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for f in &out {
        *count.entry(f.name.clone()).or_default() += 1;
    }
    count.retain(|_, n| *n > 1);
    if count.is_empty() {
        return out;
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut findings = Vec::new();
    for f in &mut out {
        if let Some(&n) = count.get(&f.name) {
            let k = seen.entry(f.name.clone()).or_default();
            *k += 1;
            if *k == 1 {
                findings.push(Found {
                    collision: true,
                    ..Found::problem(
                        f.name.clone(),
                        &f.file,
                        format!(
                            "{n} files show as this name (a bundle that holds the name {n} times, \
                             of which unpacking keeps only the last, or names that differ only \
                             in bytes that are not UTF-8); each is judged on its own as \
                             \"(k of {n} with this name)\""
                        ),
                    )
                });
            }
            f.name = format!("{} ({k} of {n} with this name)", f.name);
        }
    }
    out.extend(findings);
    out
}

/// A bundle's member: its name as bytes, and its bytes or why they were not read.
struct Member {
    name: Vec<u8>,
    bytes: std::result::Result<Vec<u8>, String>,
}

/// What unpacking one bundle has used so far.
#[derive(Default)]
struct Budget {
    kept: u64,
    unpacked: u64,
}

fn bomb(what: &str) -> String {
    format!(
        "the bundle unpacks to more than {what} (a decompression bomb?); what follows in it was \
         not read"
    )
}

/// Reads one member if it is a `.json` or `.sig` file, bounded while it is unpacked by the
/// certificate size limit and by what is left of the bundle's budget.
///
/// # Errors
/// The budget is spent: why, in words (the bundle is not read further).
fn member(
    members: &mut Vec<Member>,
    budget: &mut Budget,
    name: Vec<u8>,
    r: &mut dyn Read,
) -> std::result::Result<(), String> {
    if !(name.ends_with(b".json") || name.ends_with(b".sig")) {
        return Ok(());
    }
    let limit = crate::limits::CERTIFICATE;
    let room = KEPT - budget.kept;
    let mut buf = Vec::new();
    let read = r.take(limit.min(room) + 1).read_to_end(&mut buf);
    let n = buf.len() as u64;
    budget.unpacked += n;
    let bytes = match read {
        Ok(_) if n > limit => Err(format!("larger than {limit} bytes")),
        Ok(_) if n > room => {
            return Err(bomb(&format!(
                "{} of certificates and signatures",
                crate::units::human_bytes(KEPT)
            )))
        }
        Ok(_) => {
            buf.shrink_to_fit();
            budget.kept += n;
            Ok(buf)
        }
        Err(e) => Err(e.to_string()),
    };
    members.push(Member { name, bytes });
    Ok(())
}

/// A reader that fails once more than `left` bytes came through it.
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                bomb(&crate::units::human_bytes(UNPACKED)),
            )
        })?;
        Ok(n)
    }
}

/// The members of a tar file (gzip or not); the error is what stopped the reading.
fn tar_members(p: &Path, f: std::fs::File) -> (Vec<Member>, Option<String>) {
    let raw: Box<dyn Read> = if p.as_os_str().as_bytes().ends_with(b".tar") {
        Box::new(f)
    } else {
        Box::new(flate2::read::GzDecoder::new(f))
    };
    let reader = Bounded {
        inner: raw,
        left: UNPACKED,
    };
    let mut members = Vec::new();
    let mut budget = Budget::default();
    let mut archive = tar::Archive::new(reader);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => return (members, Some(e.to_string())),
    };
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => return (members, Some(e.to_string())),
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path_bytes().into_owned();
        if let Err(why) = member(&mut members, &mut budget, name, &mut entry) {
            return (members, Some(why));
        }
    }
    (members, None)
}

/// The members of a zip file; the error is what stopped the reading.
fn zip_members(f: std::fs::File) -> (Vec<Member>, Option<String>) {
    let mut members = Vec::new();
    let mut budget = Budget::default();
    let mut archive = match zip::ZipArchive::new(f) {
        Ok(a) => a,
        Err(e) => return (members, Some(e.to_string())),
    };
    for i in 0..archive.len() {
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => return (members, Some(e.to_string())),
        };
        if !entry.is_file() {
            continue;
        }
        let name = entry.name_raw().to_vec();
        if let Err(why) = member(&mut members, &mut budget, name, &mut entry) {
            return (members, Some(why));
        }
        if budget.unpacked > UNPACKED {
            return (members, Some(bomb(&crate::units::human_bytes(UNPACKED))));
        }
    }
    (members, None)
}

/// The `*.json` members of a tar or zip bundle with their `.sig` members: a name the bundle
/// holds several times pairs the k-th certificate with the k-th signature of that name.
fn bundle(p: &Path, inputs: &mut Vec<Input>) -> Vec<Found> {
    let shown_bundle = shown_path(p);
    let fail = |why: String| Found::problem(shown_bundle.clone(), p, why);
    let (f, again) = match crate::limits::open_regular(p).and_then(|f| {
        let again = f.try_clone()?;
        Ok((f, again))
    }) {
        Ok(f) => f,
        Err(e) => return vec![fail(format!("cannot read the bundle: {e}"))],
    };
    let (mut members, broken) = if p.as_os_str().as_bytes().ends_with(b".zip") {
        zip_members(f)
    } else {
        tar_members(p, f)
    };
    // The bundle's own hash, from the file that was unpacked, read once more from its start.
    let unhashed = match hash_file(again, &shown_bundle) {
        Ok(input) => {
            inputs.push(input);
            None
        }
        Err(e) => Some(fail(format!(
            "cannot read the bundle again to take its BLAKE3: {e}"
        ))),
    };
    let mut by_name: BTreeMap<&[u8], Vec<usize>> = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        by_name.entry(&m.name).or_default().push(i);
    }
    // (certificate, signature, countersignature) by index, before the bytes are moved out.
    let mut seen: BTreeMap<&[u8], usize> = BTreeMap::new();
    let mut pairs = Vec::new();
    for (i, m) in members.iter().enumerate() {
        if !m.name.ends_with(b".json") {
            continue;
        }
        let k = seen.entry(&m.name).or_default();
        let pick = |suffix: &[u8]| {
            let all = by_name.get(&[&m.name[..], suffix].concat()[..])?;
            all.get(*k).or(all.last()).copied()
        };
        pairs.push((i, pick(b".sig"), pick(b".validation.sig")));
        *k += 1;
    }
    let small = |i: Option<usize>| i.and_then(|i| members[i].bytes.as_ref().ok().cloned());
    let mut out: Vec<Found> = pairs
        .iter()
        .map(|&(i, sig, validation)| Found {
            name: format!("{shown_bundle}!{}", shown(&members[i].name)),
            file: p.to_path_buf(),
            bytes: Ok(Vec::new()),
            sig: small(sig),
            validation: small(validation),
            collision: false,
            blake3: None,
        })
        .collect();
    // The certificates' bytes are moved, not copied: a bundle is in memory once.
    for (f, &(i, _, _)) in out.iter_mut().zip(&pairs) {
        f.bytes = std::mem::replace(&mut members[i].bytes, Ok(Vec::new()));
        f.blake3 = f
            .bytes
            .as_ref()
            .ok()
            .map(|b| blake3::hash(b).to_hex().to_string());
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(why) = broken {
        // What follows a damaged entry cannot be read: say so, after what could be.
        out.push(fail(format!("cannot read the bundle: {why}")));
    }
    out.extend(unhashed);
    out
}

/// A bundle's size and BLAKE3, read through from its start.
fn hash_file(mut f: std::fs::File, name: &str) -> std::io::Result<Input> {
    use std::io::Seek;
    f.rewind()?;
    let mut h = blake3::Hasher::new();
    let bytes = std::io::copy(&mut f, &mut h)?;
    Ok(Input {
        file: name.to_string(),
        role: Role::Bundle,
        bytes,
        blake3: h.finalize().to_hex().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b3_of(b: &[u8]) -> String {
        blake3::hash(b).to_hex().to_string()
    }

    #[test]
    fn folders_files_and_bundles_give_each_json_with_its_signature() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("x.json"), b"{}").unwrap();
        std::fs::write(sub.join("x.json.sig"), b"SIG").unwrap();
        std::fs::write(sub.join("y.json"), b"{}").unwrap();
        std::fs::write(sub.join("notes.txt"), b"-").unwrap();
        // A gzipped tar with a certificate and its signature in a folder.
        let tgz = d.path().join("bundle.tar.gz");
        {
            let gz = flate2::write::GzEncoder::new(
                std::fs::File::create(&tgz).unwrap(),
                flate2::Compression::fast(),
            );
            let mut t = tar::Builder::new(gz);
            for (n, b) in [
                ("logs/z.json", &b"{\"z\":1}"[..]),
                ("logs/z.json.sig", b"ZSIG"),
            ] {
                let mut h = tar::Header::new_gnu();
                h.set_size(b.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                t.append_data(&mut h, n, b).unwrap();
            }
            t.into_inner().unwrap().finish().unwrap();
        }
        let all = collect(&[d.path().to_path_buf()]).unwrap();
        // Every file read is an input, by the bytes read: the bundle as a whole.
        let inputs: Vec<(String, Role, String)> = all
            .inputs
            .iter()
            .map(|i| {
                let short = i.file.strip_prefix(&*d.path().to_string_lossy()).unwrap();
                (short.to_string(), i.role, i.blake3.clone())
            })
            .collect();
        let b3 = |p: &Path| {
            blake3::hash(&std::fs::read(p).unwrap())
                .to_hex()
                .to_string()
        };
        assert_eq!(
            inputs,
            [
                (
                    "/a/b/x.json".into(),
                    Role::Certificate,
                    b3(&sub.join("x.json"))
                ),
                (
                    "/a/b/x.json.sig".into(),
                    Role::Signature,
                    b3(&sub.join("x.json.sig"))
                ),
                (
                    "/a/b/y.json".into(),
                    Role::Certificate,
                    b3(&sub.join("y.json"))
                ),
                ("/bundle.tar.gz".into(), Role::Bundle, b3(&tgz)),
            ]
        );
        let found = all.found;
        assert_eq!(found[2].blake3, Some(b3_of(b"{\"z\":1}")));
        let names: Vec<String> = found
            .iter()
            .map(|f| f.name.rsplit('/').next().unwrap().to_string())
            .collect();
        assert_eq!(names, ["x.json", "y.json", "z.json"], "{names:?}");
        assert_eq!(found[0].sig.as_deref(), Some(&b"SIG"[..]));
        assert_eq!(found[1].sig, None);
        assert!(found[2].name.contains("bundle.tar.gz!logs/z.json"));
        assert_eq!(found[2].bytes.as_deref().unwrap(), b"{\"z\":1}");
        assert_eq!(found[2].sig.as_deref(), Some(&b"ZSIG"[..]));
        let e = collect(&[d.path().join("nope")]).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        // A broken bundle is one unreadable entry, not a stop.
        std::fs::write(d.path().join("bad.tgz"), b"not gzip").unwrap();
        let found = collect(&[d.path().join("bad.tgz")]).unwrap().found;
        assert!(found.len() == 1 && found[0].bytes.is_err(), "{found:?}");
    }

    #[test]
    fn names_are_kept_as_bytes_and_a_reader_past_its_bound_fails() {
        assert_eq!(shown(b"a/b\xffc.json"), "a/b\\xffc.json");
        assert_eq!(shown("é.json".as_bytes()), "é.json");
        let mut r = Bounded {
            inner: &[7u8; 100][..],
            left: 60,
        };
        let e = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("decompression bomb"), "{e}");
        let mut r = Bounded {
            inner: &[7u8; 100][..],
            left: 100,
        };
        assert_eq!(r.read_to_end(&mut Vec::new()).unwrap(), 100);
    }

    #[test]
    fn two_paths_that_show_the_same_are_a_finding_and_both_are_kept() {
        let f = |name: &str, b: &[u8]| Found {
            bytes: Ok(b.to_vec()),
            ..Found::problem(name.into(), Path::new(name), String::new())
        };
        let out = collisions(vec![
            f("x.json", b"1"),
            f("y.json", b"2"),
            f("x.json", b"3"),
        ]);
        let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "x.json (1 of 2 with this name)",
                "y.json",
                "x.json (2 of 2 with this name)",
                "x.json"
            ]
        );
        assert!(out[3].collision && out[3].bytes.is_err());
        assert_eq!(out[2].bytes.as_deref().unwrap(), b"3");
    }

    #[test]
    fn zip_bundles_give_each_json_with_its_signatures() {
        use std::io::Write;
        let d = tempfile::tempdir().unwrap();
        let z = d.path().join("bundle.zip");
        {
            let mut w = zip::ZipWriter::new(std::fs::File::create(&z).unwrap());
            let o = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (n, b) in [
                ("certs/a.json", &b"{\"a\":1}"[..]),
                ("certs/a.json.sig", b"ASIG"),
                ("certs/a.json.validation.sig", b"VSIG"),
                ("certs/readme.txt", b"-"),
            ] {
                w.start_file(n, o).unwrap();
                w.write_all(b).unwrap();
            }
            w.finish().unwrap();
        }
        let found = collect(&[d.path().to_path_buf()]).unwrap().found;
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].name.ends_with("bundle.zip!certs/a.json"));
        assert_eq!(found[0].bytes.as_deref().unwrap(), b"{\"a\":1}");
        assert_eq!(found[0].sig.as_deref(), Some(&b"ASIG"[..]));
        assert_eq!(found[0].validation.as_deref(), Some(&b"VSIG"[..]));
        // A damaged zip is one unreadable entry.
        std::fs::write(d.path().join("bad.zip"), b"PK not a zip").unwrap();
        let found = collect(&[d.path().join("bad.zip")]).unwrap().found;
        assert!(found.len() == 1 && found[0].bytes.is_err(), "{found:?}");
    }
}
