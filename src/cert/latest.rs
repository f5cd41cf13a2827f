//! Which medium a certificate is for, and the newest certificate in a folder for one medium:
//! what `--resume` names when there is nothing left to resume (the run it would finish may
//! have ended already, its certificate stored and its journal removed).

use std::path::{Path, PathBuf};

use super::{Certificate, Media, Verdict};
use crate::device::{Kind, Probe};

/// Why the medium probed as `p` is not the one `m` describes: each field that differs (kind,
/// size, and for a block device its block size and the identity the certificate records).
/// Empty when nothing differs; the path is not compared (device names change).
pub fn media_differs(m: &Media, p: &Probe) -> Vec<String> {
    let mut diffs = Vec::new();
    if m.kind != p.kind.name() {
        diffs.push(format!("kind {} vs {}", m.kind, p.kind.name()));
    }
    if m.size_bytes != p.size {
        diffs.push(format!("size {} vs {} bytes", m.size_bytes, p.size));
    }
    if p.kind == Kind::Block {
        if m.logical_block_size != p.logical_block_size {
            diffs.push(format!(
                "logical block size {} vs {}",
                m.logical_block_size, p.logical_block_size
            ));
        }
        for (what, want, have) in [
            ("serial", &m.identity.serial, &p.identity.serial),
            ("model", &m.identity.model, &p.identity.model),
            ("WWN", &m.identity.wwn, &p.identity.wwn),
        ] {
            if !want.is_empty() && want != have {
                diffs.push(format!("{what} '{want}' vs '{have}'"));
            }
        }
    }
    diffs
}

/// Whether `m` names the medium probed as `p` for certain: nothing differs, and either the
/// certificate records a serial or WWN (which then matched) or it is for the same path (an
/// image file, or a device with no identity of its own such as a loop device).
pub fn is_of(m: &Media, p: &Probe) -> bool {
    let identified =
        p.kind == Kind::Block && !(m.identity.serial.is_empty() && m.identity.wwn.is_empty());
    media_differs(m, p).is_empty() && (identified || Path::new(&m.path) == p.canonical.as_path())
}

/// The newest certificate found for a medium: its file, what it says, when it was signed.
#[derive(Clone, Debug, PartialEq)]
pub struct Latest {
    pub file: PathBuf,
    pub result: Verdict,
    /// The sanitization's end, as the certificate records it.
    pub finished: String,
}

impl Latest {
    /// "FILE (PASS, finished T)", for a message.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, finished {})",
            self.file.display(),
            self.result.name(),
            self.finished
        )
    }
}

/// Files larger than this are not certificates of ours (they are a few KiB).
const MAX_CERTIFICATE: u64 = 4 << 20;

/// The newest certificate in `dirs` (not their subfolders) for the medium probed as `p`: of
/// those no other one supersedes, the last signed by its own record (then by its number in
/// its signer's series); `None` when the folders have none or cannot be read. The signature
/// is not checked: this names a file, it does not vouch for it.
pub fn latest_for<D: AsRef<Path>>(dirs: &[D], p: &Probe) -> Option<Latest> {
    let mut found: Vec<(PathBuf, Certificate)> = Vec::new();
    let entries = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten());
    for entry in entries {
        let file = entry.path();
        let small = entry
            .metadata()
            .is_ok_and(|m| m.is_file() && m.len() <= MAX_CERTIFICATE);
        if !small || file.extension().is_none_or(|x| x != "json") {
            continue;
        }
        if let Some(c) = std::fs::read(&file)
            .ok()
            .and_then(|b| super::check::parse(&b).ok().flatten())
            .filter(|c| is_of(&c.media, p))
        {
            found.push((file, c));
        }
    }
    let superseded: std::collections::HashSet<String> = found
        .iter()
        .flat_map(|(_, c)| c.supersedes.iter().cloned())
        .collect();
    found
        .into_iter()
        .filter(|(_, c)| !superseded.contains(&c.id))
        .max_by_key(|(_, c)| {
            (
                super::check::signed_at(c).unwrap_or(i64::MIN),
                c.chain.as_ref().map_or(0, |ch| ch.seq),
            )
        })
        .map(|(file, c)| Latest {
            file,
            result: c.result,
            finished: c.sanitization.finished,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(kind: Kind, path: &str, serial: &str) -> Probe {
        let identity = crate::contract::media::Identity {
            serial: serial.into(),
            ..Default::default()
        };
        Probe {
            path: path.into(),
            canonical: path.into(),
            kind,
            size: 1 << 20,
            logical_block_size: 512,
            physical_block_size: 512,
            read_only: false,
            devno: None,
            identity,
            id: crate::device::FileId::default(),
            backing_id: None,
            born_ns: None,
            handle: None,
        }
    }

    fn cert(path: &str, kind: &str, serial: &str, finished: &str, result: Verdict) -> Certificate {
        let mut c = Certificate {
            format: super::super::FORMAT.into(),
            result,
            ..Default::default()
        };
        c.media.path = path.into();
        c.media.kind = kind.into();
        c.media.size_bytes = 1 << 20;
        c.media.logical_block_size = 512;
        c.media.identity.serial = serial.into();
        c.sanitization.finished = finished.into();
        c
    }

    #[test]
    fn a_medium_is_its_serial_or_else_its_path() {
        let img = probe(Kind::Image, "/w/a.img", "");
        assert!(is_of(
            &cert("/w/a.img", "image", "", "", Verdict::Pass).media,
            &img
        ));
        // Another image of the same size is not this one.
        assert!(!is_of(
            &cert("/w/b.img", "image", "", "", Verdict::Pass).media,
            &img
        ));
        // A drive is its serial, whatever its name is today.
        let sda = probe(Kind::Block, "/dev/sda", "S1");
        assert!(is_of(
            &cert("/dev/sdb", "block", "S1", "", Verdict::Pass).media,
            &sda
        ));
        assert!(!is_of(
            &cert("/dev/sda", "block", "S2", "", Verdict::Pass).media,
            &sda
        ));
        // A device with no identity (a loop device) is its path.
        let loop0 = probe(Kind::Block, "/dev/loop0", "");
        assert!(is_of(
            &cert("/dev/loop0", "block", "", "", Verdict::Pass).media,
            &loop0
        ));
        assert!(!is_of(
            &cert("/dev/loop1", "block", "", "", Verdict::Pass).media,
            &loop0
        ));
        // Another size is other media.
        let mut c = cert("/w/a.img", "image", "", "", Verdict::Pass);
        c.media.size_bytes += 512;
        assert!(!is_of(&c.media, &img));
        assert_eq!(media_differs(&c.media, &img).len(), 1);
    }

    #[test]
    fn the_newest_certificate_of_the_medium_is_found_and_others_are_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, c: &Certificate| {
            std::fs::write(dir.path().join(name), serde_json::to_vec(c).unwrap()).unwrap();
        };
        let img = probe(Kind::Image, "/w/a.img", "");
        assert_eq!(latest_for(&[dir.path()], &img), None);
        write(
            "a-1.json",
            &cert(
                "/w/a.img",
                "image",
                "",
                "2026-12-01T10:00:00Z",
                Verdict::Incomplete,
            ),
        );
        write(
            "a-2.json",
            &cert(
                "/w/a.img",
                "image",
                "",
                "2026-12-02T10:00:00Z",
                Verdict::Pass,
            ),
        );
        // A certificate another supersedes is never the newest, even signed later by its
        // record (the same second, or a clock stepped back between the two runs).
        let mut inc = cert(
            "/w/a.img",
            "image",
            "",
            "2026-12-02T11:00:01Z",
            Verdict::Incomplete,
        );
        inc.id = "i".into();
        write("a-3.json", &inc);
        let mut fin = cert(
            "/w/a.img",
            "image",
            "",
            "2026-12-02T11:00:00Z",
            Verdict::Fail,
        );
        fin.supersedes = vec!["i".into()];
        write("a-4.json", &fin);
        // Newer, but of another medium; and files that are not certificates.
        write(
            "b.json",
            &cert(
                "/w/b.img",
                "image",
                "",
                "2026-12-03T10:00:00Z",
                Verdict::Fail,
            ),
        );
        std::fs::write(dir.path().join("x.json"), b"{\"not\": \"ours\"}").unwrap();
        std::fs::write(dir.path().join("y.json"), b"not json").unwrap();
        std::fs::write(dir.path().join("a-2.json.sig"), b"sig").unwrap();
        // Newer certificates of the medium that are not where certificates are: a file not
        // named .json, one too large to be one of ours, a folder named .json.
        let newer = cert(
            "/w/a.img",
            "image",
            "",
            "2026-12-09T10:00:00Z",
            Verdict::Fail,
        );
        write("a-9.json.bak", &newer);
        let mut big = serde_json::to_vec(&newer).unwrap();
        big.resize(big.len() + (MAX_CERTIFICATE as usize), b' ');
        std::fs::write(dir.path().join("a-9.json"), big).unwrap();
        std::fs::create_dir(dir.path().join("d.json")).unwrap();
        let l = latest_for(&[dir.path()], &img).unwrap();
        assert_eq!(l.file, dir.path().join("a-4.json"));
        assert_eq!(l.result, Verdict::Fail);
        // Without those two, the newer of the first two.
        std::fs::remove_file(dir.path().join("a-3.json")).unwrap();
        std::fs::remove_file(dir.path().join("a-4.json")).unwrap();
        let l = latest_for(&[dir.path()], &img).unwrap();
        assert_eq!(l.file, dir.path().join("a-2.json"));
        assert_eq!(l.result, Verdict::Pass);
        assert!(l
            .describe()
            .ends_with("(PASS, finished 2026-12-02T10:00:00Z)"));
        // A folder that cannot be read has none.
        assert_eq!(latest_for(&[dir.path().join("missing")], &img), None);
    }
}
