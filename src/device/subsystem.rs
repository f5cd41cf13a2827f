//! NVMe subsystems as sysfs shows them: which controllers and namespaces share the NVM
//! subsystem of a namespace, because an NVMe Sanitize (and a Format NVM whose FNA says so)
//! erases all of them, not just the one named. Pure over a sysfs root, so it is tested on
//! fixture trees of both layouts the kernel uses:
//!
//! - without native multipath: `/sys/block/nvme0n1 -> .../nvme/nvme0/nvme0n1`, its `device`
//!   is the controller, and `/sys/class/nvme-subsystem/nvme-subsysN/nvme0` links the
//!   controllers of the subsystem;
//! - with native multipath (a subsystem with several controllers): the namespace is a head
//!   device `/sys/block/nvme0n1 -> .../virtual/nvme-subsystem/nvme-subsys0/nvme0n1` whose
//!   `device` is the subsystem; the per-controller paths (`nvme0c0n1`) are hidden.

use std::path::{Path, PathBuf};

/// A namespace block device of a subsystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// Kernel name (`nvme0n2`).
    pub name: String,
    /// (major, minor).
    pub devno: (u64, u64),
    /// Namespace id, if sysfs says.
    pub nsid: Option<u32>,
}

/// An NVM subsystem as seen from this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subsystem {
    /// `nvme-subsys0`.
    pub name: String,
    /// Its NQN.
    pub nqn: String,
    /// Controllers of it this host has (`nvme0`, `nvme1`).
    pub controllers: Vec<String>,
    /// Every namespace block device of it on this host, sorted by name.
    pub namespaces: Vec<Namespace>,
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn devno(dir: &Path) -> Option<(u64, u64)> {
    let s = read(&dir.join("dev"));
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// `nvme<digits>n<digits>`: a namespace block device (not a hidden path `nvme0c0n1`, not a
/// generic char device `ng0n1`).
fn is_namespace(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("nvme") else {
        return false;
    };
    let Some((c, n)) = rest.split_once('n') else {
        return false;
    };
    !c.is_empty()
        && !n.is_empty()
        && c.bytes().all(|b| b.is_ascii_digit())
        && n.bytes().all(|b| b.is_ascii_digit())
}

/// `nvme<digits>`: a controller.
fn is_controller(name: &str) -> bool {
    name.strip_prefix("nvme")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

fn namespaces_in(dir: &Path, out: &mut Vec<Namespace>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !is_namespace(&name) {
            continue;
        }
        if let Some(d) = devno(&e.path()) {
            if !out.iter().any(|n| n.devno == d) {
                out.push(Namespace {
                    nsid: read(&e.path().join("nsid")).parse().ok(),
                    name,
                    devno: d,
                });
            }
        }
    }
}

/// The subsystem of the NVMe namespace block device `devno`, from the sysfs tree at `sys`;
/// `None` if it is not an NVMe namespace.
pub fn of(sys: &Path, devno: (u64, u64)) -> Option<Subsystem> {
    let link = sys.join(format!("dev/block/{}:{}", devno.0, devno.1));
    let dir = std::fs::canonicalize(link).ok()?;
    let device = std::fs::canonicalize(dir.join("device")).ok()?;
    let dname = device.file_name()?.to_string_lossy().into_owned();
    // The subsystem folder: the device itself (a multipath head), or the one that links our
    // controller.
    let subsys: PathBuf = if dname.starts_with("nvme-subsys") {
        device.clone()
    } else if is_controller(&dname) {
        let class = sys.join("class/nvme-subsystem");
        std::fs::read_dir(class)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|s| std::fs::canonicalize(s.join(&dname)).is_ok_and(|c| c == device))
            .and_then(|s| std::fs::canonicalize(s).ok())?
    } else {
        return None;
    };
    let mut controllers = Vec::new();
    let mut namespaces = Vec::new();
    namespaces_in(&subsys, &mut namespaces);
    for e in std::fs::read_dir(&subsys).ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if is_controller(&name) {
            if let Ok(c) = std::fs::canonicalize(e.path()) {
                namespaces_in(&c, &mut namespaces);
            }
            controllers.push(name);
        }
    }
    controllers.sort();
    namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    Some(Subsystem {
        name: subsys.file_name()?.to_string_lossy().into_owned(),
        nqn: read(&subsys.join("subsysnqn")),
        controllers,
        namespaces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn ns(root: &Path, dir: &str, name: &str, dev: &str, nsid: u32) {
        let d = root.join(dir).join(name);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("dev"), format!("{dev}\n")).unwrap();
        fs::write(d.join("nsid"), format!("{nsid}\n")).unwrap();
        fs::create_dir_all(root.join("dev/block")).unwrap();
        symlink(&d, root.join("dev/block").join(dev)).unwrap();
    }

    #[test]
    fn a_plain_controller_and_its_subsystem() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let ctrl = "devices/pci0000:00/0000:00:04.0/nvme/nvme0";
        ns(r, ctrl, "nvme0n1", "259:0", 1);
        ns(r, ctrl, "nvme0n2", "259:1", 2);
        fs::create_dir_all(r.join(ctrl).join("ng0n1")).unwrap();
        for n in ["nvme0n1", "nvme0n2"] {
            symlink(r.join(ctrl), r.join(ctrl).join(n).join("device")).unwrap();
        }
        let sub = r.join("devices/virtual/nvme-subsystem/nvme-subsys0");
        fs::create_dir_all(&sub).unwrap();
        fs::write(sub.join("subsysnqn"), "nqn.test:one\n").unwrap();
        symlink(r.join(ctrl), sub.join("nvme0")).unwrap();
        fs::create_dir_all(r.join("class/nvme-subsystem")).unwrap();
        symlink(&sub, r.join("class/nvme-subsystem/nvme-subsys0")).unwrap();
        let s = of(r, (259, 0)).unwrap();
        assert_eq!(s.name, "nvme-subsys0");
        assert_eq!(s.nqn, "nqn.test:one");
        assert_eq!(s.controllers, vec!["nvme0"]);
        let names: Vec<_> = s
            .namespaces
            .iter()
            .map(|n| (n.name.as_str(), n.nsid))
            .collect();
        assert_eq!(names, vec![("nvme0n1", Some(1)), ("nvme0n2", Some(2))]);
        assert_eq!(
            of(r, (259, 1)).unwrap(),
            s,
            "the same from either namespace"
        );
    }

    #[test]
    fn a_multipath_subsystem_with_hidden_paths() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let sub = "devices/virtual/nvme-subsystem/nvme-subsys3";
        ns(r, sub, "nvme3n1", "259:5", 1);
        ns(r, sub, "nvme3n2", "259:6", 2);
        for n in ["nvme3n1", "nvme3n2"] {
            symlink(r.join(sub), r.join(sub).join(n).join("device")).unwrap();
        }
        fs::write(r.join(sub).join("subsysnqn"), "nqn.test:mp\n").unwrap();
        for (c, hidden) in [("nvme3", "nvme3c3n1"), ("nvme4", "nvme3c4n1")] {
            let cd = r.join("devices/pci0000:00").join(c);
            fs::create_dir_all(cd.join(hidden)).unwrap();
            fs::write(cd.join(hidden).join("dev"), "259:99\n").unwrap();
            symlink(&cd, r.join(sub).join(c)).unwrap();
        }
        let s = of(r, (259, 6)).unwrap();
        assert_eq!(s.controllers, vec!["nvme3", "nvme4"]);
        let names: Vec<_> = s.namespaces.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["nvme3n1", "nvme3n2"],
            "hidden paths are not namespaces"
        );
    }

    #[test]
    fn names_are_told_apart() {
        assert!(is_namespace("nvme0n1") && is_namespace("nvme12n34"));
        for n in [
            "nvme0c0n1",
            "ng0n1",
            "nvme0",
            "nvme0n",
            "nvmen1",
            "nvme0n1p1",
        ] {
            assert!(!is_namespace(n), "{n}");
        }
        assert!(is_controller("nvme7") && !is_controller("nvme-subsys0") && !is_controller("nvme"));
    }
}
