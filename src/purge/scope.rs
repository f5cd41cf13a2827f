//! What a purge command reaches beyond the device named. An NVMe Sanitize erases every
//! namespace of the NVM subsystem (on every controller, also one another host uses through the
//! second port of a dual-ported drive); a Format NVM erases every namespace when the controller
//! says so (FNA bit 0, or bit 1 for a secure erase); an ATA or SCSI command erases the whole
//! disk, partitions and all. Every block device in scope must be free, and a scope that may
//! reach what this host cannot see needs the operator's explicit `--allow-shared`. Pure.

use std::path::PathBuf;

use super::method::Method;
use crate::device::nvme::Controller;
use crate::device::subsystem::Subsystem;

/// What one purge command erases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// For people and the certificate: the whole extent, in a phrase.
    pub summary: String,
    /// Each block device (and namespace not visible here) it erases, for the prompt and the
    /// certificate.
    pub reaches: Vec<String>,
    /// The block devices it erases: to check for use and to hold exclusively meanwhile.
    pub devices: Vec<(PathBuf, (u64, u64))>,
    /// Why it may erase what is in use elsewhere (other hosts, namespaces not visible here):
    /// the operator must allow it with `--allow-shared`.
    pub shared: Option<String>,
}

impl Scope {
    /// What it erases besides `target` (the other namespaces of an NVMe subsystem, those
    /// without a block device here too): what a read-back of the target does not check.
    pub fn besides(&self, target: &std::path::Path) -> Vec<String> {
        let t = target.display().to_string();
        self.reaches
            .iter()
            .filter(|r| **r != t && !r.starts_with(&format!("{t} ")))
            .cloned()
            .collect()
    }
}

/// True if `m` erases every namespace of the subsystem on a controller like `c`.
pub fn subsystem_wide(m: Method, c: &Controller) -> bool {
    match m {
        Method::NvmeSanitizeCrypto | Method::NvmeSanitizeBlock | Method::NvmeSanitizeOverwrite => {
            true
        }
        // A Revert resets the whole TPer, and the Enterprise Erase erases every band: every
        // locking range of every namespace.
        Method::TcgRevert | Method::TcgPsidRevert | Method::TcgErase => true,
        // Both formats send a secure erase (SES 1 or 2).
        Method::NvmeFormatUserData | Method::NvmeFormatCrypto => {
            c.format_all_namespaces || c.secure_erase_all_namespaces
        }
        _ => false,
    }
}

/// The scope of NVMe method `m` sent through namespace `nsid` (`target`, its devno), given the
/// controller, the subsystem as sysfs shows it, the controller's active namespace list and
/// whether the target namespace is shared (NMIC).
pub fn nvme(
    m: Method,
    c: &Controller,
    target: (PathBuf, (u64, u64)),
    nsid: Option<u32>,
    subsystem: Option<&Subsystem>,
    active: &[u32],
    target_shared: bool,
) -> Scope {
    let label = |p: &PathBuf| match nsid {
        Some(n) => format!("{} (namespace {n})", p.display()),
        None => p.display().to_string(),
    };
    if !subsystem_wide(m, c) {
        return Scope {
            summary: format!("{} only", label(&target.0)),
            reaches: vec![label(&target.0)],
            shared: target_shared.then(|| {
                format!(
                    "{} is shared (NMIC): it may be attached to controllers of other hosts",
                    label(&target.0)
                )
            }),
            devices: vec![target],
        };
    }
    let mut reaches = Vec::new();
    let mut devices = Vec::new();
    let mut seen = Vec::new();
    if let Some(s) = subsystem {
        for n in &s.namespaces {
            let path = PathBuf::from(format!("/dev/{}", n.name));
            reaches.push(match n.nsid {
                Some(id) => format!("{} (namespace {id})", path.display()),
                None => path.display().to_string(),
            });
            seen.extend(n.nsid);
            devices.push((path, n.devno));
        }
    }
    if !devices.iter().any(|(_, d)| *d == target.1) {
        reaches.push(label(&target.0));
        seen.extend(nsid);
        devices.push(target);
    }
    let unseen: Vec<u32> = active
        .iter()
        .copied()
        .filter(|n| !seen.contains(n))
        .collect();
    for n in &unseen {
        reaches.push(format!(
            "namespace {n} (active, but no block device on this host)"
        ));
    }
    let mut shared = Vec::new();
    if c.cmic & 0b11 != 0 {
        shared.push(format!(
            "the NVM subsystem has (or may have) more than one port or controller (CMIC {:#04x}): \
             namespaces that other hosts use would be erased too, and mediasan cannot see them",
            c.cmic
        ));
    }
    if !unseen.is_empty() {
        shared.push(format!(
            "namespace(s) {} would be erased but have no block device here to check for use",
            unseen
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Scope {
        summary: format!(
            "the whole NVM subsystem{}: {} namespace(s) visible here",
            subsystem
                .map(|s| format!(" {} ({})", s.name, s.nqn))
                .unwrap_or_default(),
            devices.len()
        ),
        reaches,
        devices,
        shared: (!shared.is_empty()).then(|| shared.join("; ")),
    }
}

/// The scope of an ATA or SCSI command: the whole disk (its partitions are checked with it).
pub fn whole_disk(target: (PathBuf, (u64, u64))) -> Scope {
    Scope {
        summary: format!("the whole disk {}", target.0.display()),
        reaches: vec![format!("{} (the whole disk)", target.0.display())],
        devices: vec![target],
        shared: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::subsystem::Namespace;

    fn sub() -> Subsystem {
        Subsystem {
            name: "nvme-subsys0".into(),
            nqn: "nqn.test".into(),
            controllers: vec!["nvme0".into()],
            namespaces: vec![
                Namespace {
                    name: "nvme0n1".into(),
                    devno: (259, 0),
                    nsid: Some(1),
                },
                Namespace {
                    name: "nvme0n2".into(),
                    devno: (259, 1),
                    nsid: Some(2),
                },
            ],
        }
    }

    fn target() -> (PathBuf, (u64, u64)) {
        (PathBuf::from("/dev/nvme0n1"), (259, 0))
    }

    #[test]
    fn sanitize_reaches_every_namespace_of_the_subsystem() {
        let c = Controller::default();
        let s = nvme(
            Method::NvmeSanitizeBlock,
            &c,
            target(),
            Some(1),
            Some(&sub()),
            &[1, 2],
            false,
        );
        assert_eq!(s.devices.len(), 2);
        assert!(s
            .reaches
            .iter()
            .any(|r| r.contains("nvme0n2 (namespace 2)")));
        // The read-back of the target checks only the target: the rest is said.
        assert_eq!(
            s.besides(&target().0),
            vec!["/dev/nvme0n2 (namespace 2)".to_string()]
        );
        assert!(s.summary.contains("whole NVM subsystem"));
        assert_eq!(s.shared, None);
        // A namespace active on the controller without a block device here: shared.
        let s = nvme(
            Method::NvmeSanitizeCrypto,
            &c,
            target(),
            Some(1),
            Some(&sub()),
            &[1, 2, 3],
            false,
        );
        assert!(s.shared.as_deref().unwrap().contains("namespace(s) 3"));
        // A dual-ported / multi-controller subsystem: shared.
        let dual = Controller {
            cmic: 0b01,
            ..Controller::default()
        };
        let s = nvme(
            Method::NvmeSanitizeOverwrite,
            &dual,
            target(),
            Some(1),
            Some(&sub()),
            &[1, 2],
            false,
        );
        assert!(s.shared.as_deref().unwrap().contains("CMIC"));
    }

    #[test]
    fn format_reaches_one_namespace_unless_fna_says_all() {
        let c = Controller::default();
        let s = nvme(
            Method::NvmeFormatUserData,
            &c,
            target(),
            Some(1),
            Some(&sub()),
            &[1, 2],
            false,
        );
        assert_eq!(s.devices, vec![target()]);
        assert!(s.summary.contains("(namespace 1) only"), "{}", s.summary);
        let s = nvme(
            Method::NvmeFormatUserData,
            &c,
            target(),
            Some(1),
            Some(&sub()),
            &[1, 2],
            true,
        );
        assert!(s.shared.as_deref().unwrap().contains("NMIC"));
        for c in [
            Controller {
                format_all_namespaces: true,
                ..Controller::default()
            },
            Controller {
                secure_erase_all_namespaces: true,
                ..Controller::default()
            },
        ] {
            let s = nvme(
                Method::NvmeFormatCrypto,
                &c,
                target(),
                Some(1),
                Some(&sub()),
                &[1, 2],
                false,
            );
            assert_eq!(s.devices.len(), 2, "{c:?}");
        }
    }
}
