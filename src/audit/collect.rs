//! Finding the certificates under the paths an auditor names: folders (recursively), single
//! files, and bundles (`.tar`, `.tar.gz`, `.tgz`, such as an Ironic log bundle, and `.zip`), each
//! `*.json` with its `*.json.sig` beside it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One `*.json` file found, with its signature file's bytes if there is one.
#[derive(Clone, Debug)]
pub struct Found {
    /// How people find it: its path, or `bundle.tar.gz!member/path.json`.
    pub name: String,
    /// The file on disk that holds it (the bundle, for a member of one).
    pub file: PathBuf,
    /// Its bytes, or why they could not be read.
    pub bytes: std::result::Result<Vec<u8>, String>,
    pub sig: Option<Vec<u8>>,
    /// A validator's countersignature (`*.json.validation.sig`), if there is one.
    pub validation: Option<Vec<u8>>,
}

fn is_bundle(p: &Path) -> bool {
    let n = p.to_string_lossy();
    n.ends_with(".tar") || n.ends_with(".tar.gz") || n.ends_with(".tgz") || n.ends_with(".zip")
}

fn read_limited(p: &Path, limit: u64) -> std::result::Result<Vec<u8>, String> {
    crate::limits::read(p, limit).map_err(|e| e.to_string())
}

/// Every certificate candidate under `paths`, in a stable order (by name).
///
/// # Errors
/// [`Error::Usage`] if a named path does not exist; a file that cannot be read inside is a
/// [`Found`] with its error, never a reason to stop.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<Found>> {
    let mut out = Vec::new();
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
                    out.push(Found {
                        name: err.path().map_or_else(
                            || root.display().to_string(),
                            |p| p.display().to_string(),
                        ),
                        file: err.path().map_or_else(|| root.clone(), Path::to_path_buf),
                        bytes: Err(err.to_string()),
                        sig: None,
                        validation: None,
                    });
                    continue;
                }
            };
            if !e.file_type().is_file() {
                continue;
            }
            let p = e.path();
            if is_bundle(p) {
                out.extend(bundle(p));
            } else if p.extension().is_some_and(|x| x == "json") {
                let beside = |suffix: &str| {
                    let mut s = p.as_os_str().to_owned();
                    s.push(suffix);
                    let s = PathBuf::from(s);
                    s.exists()
                        .then(|| read_limited(&s, crate::limits::SIGNATURE).ok())
                        .flatten()
                };
                out.push(Found {
                    name: p.display().to_string(),
                    file: p.to_path_buf(),
                    bytes: read_limited(p, crate::limits::CERTIFICATE),
                    sig: beside(".sig"),
                    validation: beside(".validation.sig"),
                });
            }
        }
    }
    Ok(out)
}

type Members = BTreeMap<String, std::result::Result<Vec<u8>, String>>;

/// Reads one member (at most a certificate's size limit) if it is a `.json` or `.sig` file.
fn member(members: &mut Members, path: String, r: &mut dyn Read) {
    if !(path.ends_with(".json") || path.ends_with(".sig")) {
        return;
    }
    let limit = crate::limits::CERTIFICATE;
    let mut buf = Vec::new();
    let read = r.take(limit + 1).read_to_end(&mut buf);
    members.insert(
        path,
        match read {
            Ok(_) if buf.len() as u64 > limit => Err(format!("larger than {limit} bytes")),
            Ok(_) => Ok(buf),
            Err(e) => Err(e.to_string()),
        },
    );
}

/// The members of a tar file (gzip or not); the error is what stopped the reading.
fn tar_members(p: &Path, f: std::fs::File) -> (Members, Option<String>) {
    let reader: Box<dyn Read> = if p.to_string_lossy().ends_with(".tar") {
        Box::new(f)
    } else {
        Box::new(flate2::read::GzDecoder::new(f))
    };
    let mut members = Members::new();
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
        let path = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        member(&mut members, path, &mut entry);
    }
    (members, None)
}

/// The members of a zip file; the error is what stopped the reading.
fn zip_members(f: std::fs::File) -> (Members, Option<String>) {
    let mut members = Members::new();
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
        let path = String::from_utf8_lossy(entry.name_raw()).into_owned();
        member(&mut members, path, &mut entry);
    }
    (members, None)
}

/// The `*.json` members of a tar or zip bundle with their `.sig` members.
fn bundle(p: &Path) -> Vec<Found> {
    let name = |member: &str| format!("{}!{member}", p.display());
    let fail = |why: String| {
        vec![Found {
            name: p.display().to_string(),
            file: p.to_path_buf(),
            bytes: Err(format!("cannot read the bundle: {why}")),
            sig: None,
            validation: None,
        }]
    };
    let f = match std::fs::File::open(p) {
        Ok(f) => f,
        Err(e) => return fail(e.to_string()),
    };
    let (members, broken) = if p.to_string_lossy().ends_with(".zip") {
        zip_members(f)
    } else {
        tar_members(p, f)
    };
    let mut out: Vec<Found> = members
        .iter()
        .filter(|(m, _)| m.ends_with(".json"))
        .map(|(m, bytes)| Found {
            name: name(m),
            file: p.to_path_buf(),
            bytes: bytes.clone(),
            sig: members
                .get(&format!("{m}.sig"))
                .and_then(|s| s.as_ref().ok().cloned()),
            validation: members
                .get(&format!("{m}.validation.sig"))
                .and_then(|s| s.as_ref().ok().cloned()),
        })
        .collect();
    if let Some(why) = broken {
        // What follows a damaged entry cannot be read: say so, after what could be.
        out.extend(fail(why));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let found = collect(&[d.path().to_path_buf()]).unwrap();
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
        let found = collect(&[d.path().join("bad.tgz")]).unwrap();
        assert!(found.len() == 1 && found[0].bytes.is_err(), "{found:?}");
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
        let found = collect(&[d.path().to_path_buf()]).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].name.ends_with("bundle.zip!certs/a.json"));
        assert_eq!(found[0].bytes.as_deref().unwrap(), b"{\"a\":1}");
        assert_eq!(found[0].sig.as_deref(), Some(&b"ASIG"[..]));
        assert_eq!(found[0].validation.as_deref(), Some(&b"VSIG"[..]));
        // A damaged zip is one unreadable entry.
        std::fs::write(d.path().join("bad.zip"), b"PK not a zip").unwrap();
        let found = collect(&[d.path().join("bad.zip")]).unwrap();
        assert!(found.len() == 1 && found[0].bytes.is_err(), "{found:?}");
    }
}
