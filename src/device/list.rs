//! `mediasan list`: the block devices a technician could wipe, with identity and whether
//! anything uses them. Pure over a sysfs root and a [`Usage`] snapshot, so it is tested on
//! fixture trees.

use std::path::Path;

use serde::Serialize;

use super::identity::{self, Identity};
use super::safety::{block_in_use, Usage};

/// One block device.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Candidate {
    pub path: String,
    pub size_bytes: u64,
    pub logical_block_size: u32,
    #[serde(flatten)]
    pub identity: Identity,
    pub read_only: bool,
    /// Why it may not be wiped now (mounted, held, swap), or `None`.
    pub in_use: Option<String>,
    /// Sanitization methods mediasan can run on it.
    pub supports: Vec<String>,
    /// Its names in /dev/disk/by-id (stable across reboots and re-seats), sorted.
    pub by_id: Vec<String>,
    /// A journal of an unfinished wipe of this medium exists (continue with `--resume`).
    pub unfinished_wipe: bool,
    /// A journal of an unfinished purge of this drive exists (`purge --resume`).
    pub unfinished_purge: bool,
    /// The drive's health, where it answers (root; NVMe, SATA): `state` is the one word.
    pub health: Option<Box<crate::device::health::Health>>,
    /// A self-encrypting drive's TCG Level 0 Discovery, where it answers one (root); null
    /// otherwise.
    #[serde(default)]
    pub tcg: Option<Box<crate::device::tcg::Tcg>>,
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Every whole block device under `sys/block`, except RAM disks, zram, unattached loop devices
/// and optical or floppy drives, in natural order (`loop2` before `loop10`), with its names in
/// `by_id` (a /dev/disk/by-id folder).
pub fn scan(sys: &Path, by_id: &Path, usage: &Usage) -> Vec<Candidate> {
    let names = by_id_names(by_id);
    let Ok(rd) = std::fs::read_dir(sys.join("block")) else {
        return vec![];
    };
    let mut out: Vec<Candidate> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if ["ram", "zram", "sr", "fd"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                return None;
            }
            let dir = e.path();
            let (maj, min) = read(&dir.join("dev"))
                .split_once(':')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))?;
            let size_bytes = read(&dir.join("size")).parse::<u64>().ok()? * 512;
            if size_bytes == 0 {
                return None; // an unattached loop device, an empty card reader
            }
            let read_only = read(&dir.join("ro")) == "1";
            Some(Candidate {
                path: format!("/dev/{name}"),
                size_bytes,
                logical_block_size: read(&dir.join("queue/logical_block_size"))
                    .parse()
                    .unwrap_or(512),
                identity: identity::for_block(sys, (maj, min)),
                read_only,
                in_use: block_in_use(sys, (maj, min), usage),
                supports: if read_only {
                    vec![]
                } else {
                    vec!["overwrite".into()]
                },
                by_id: names
                    .get(&format!("/dev/{name}"))
                    .cloned()
                    .unwrap_or_default(),
                unfinished_wipe: false,
                unfinished_purge: false,
                health: None,
                tcg: None,
            })
        })
        .collect();
    out.sort_by_key(|c| natural(&c.path));
    out
}

/// The names in a /dev/disk/by-id folder, by the device node they lead to.
fn by_id_names(dir: &Path) -> std::collections::HashMap<String, Vec<String>> {
    let mut map: std::collections::HashMap<String, Vec<String>> = Default::default();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let link = e.path();
        let Ok(target) = std::fs::read_link(&link) else {
            continue;
        };
        // udev's links are relative (../../sdb); the device node is named by its file name.
        let Some(node) = target.file_name() else {
            continue;
        };
        map.entry(format!("/dev/{}", node.to_string_lossy()))
            .or_default()
            .push(link.display().to_string());
    }
    for v in map.values_mut() {
        // Names a person reads first (ata-, nvme-, scsi-, usb-), the WWN-based ones after.
        v.sort_by_key(|n| {
            (
                n.contains("/wwn-") || n.contains("-eui.") || n.contains("/nvme-nvme."),
                n.clone(),
            )
        });
    }
    map
}

/// A sort key that orders the numbers inside names by value (loop2 < loop10), and disk
/// letters as the kernel counts them (sdz < sdaa).
fn natural(s: &str) -> Vec<(String, u64)> {
    // sd/vd/hd/xvd disks count in letters (a..z, aa..): as a number, they sort by it.
    let (dir, base) = s.rsplit_once('/').unwrap_or(("", s));
    let lettered = ["xvd", "sd", "vd", "hd"].iter().find_map(|f| {
        let rest = base.strip_prefix(f)?;
        (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase())).then(|| {
            let n = rest.bytes().fold(0u64, |n, b| {
                n.saturating_mul(26).saturating_add(u64::from(b - b'a' + 1))
            });
            format!("{dir}/{f}{n}")
        })
    });
    let s = lettered.as_deref().unwrap_or(s);
    let mut parts = Vec::new();
    let (mut text, mut digits) = (String::new(), String::new());
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            let n = digits.parse().unwrap_or(u64::MAX);
            parts.push((std::mem::take(&mut text), n));
            digits.clear();
        }
        text.push(c);
    }
    let n = digits.parse().unwrap_or(0);
    parts.push((text, n));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::safety::Mount;
    use std::fs;

    fn disk(
        sys: &Path,
        name: &str,
        devno: &str,
        real: &str,
        size_sectors: u64,
        parts: &[(&str, &str)],
    ) {
        let dir = sys.join(real);
        fs::create_dir_all(dir.join("queue")).unwrap();
        fs::write(dir.join("dev"), format!("{devno}\n")).unwrap();
        fs::write(dir.join("size"), format!("{size_sectors}\n")).unwrap();
        fs::write(dir.join("ro"), "0\n").unwrap();
        fs::write(dir.join("queue/logical_block_size"), "512\n").unwrap();
        fs::create_dir_all(dir.join("holders")).unwrap();
        for (pname, pdev) in parts {
            let p = dir.join(pname);
            fs::create_dir_all(p.join("holders")).unwrap();
            fs::write(p.join("partition"), "1\n").unwrap();
            fs::write(p.join("dev"), format!("{pdev}\n")).unwrap();
        }
        fs::create_dir_all(sys.join("block")).unwrap();
        fs::create_dir_all(sys.join("dev/block")).unwrap();
        std::os::unix::fs::symlink(&dir, sys.join("block").join(name)).unwrap();
        std::os::unix::fs::symlink(&dir, sys.join("dev/block").join(devno)).unwrap();
    }

    #[test]
    fn names_sort_as_people_count() {
        let mut v = vec![
            "/dev/loop10",
            "/dev/sdaa",
            "/dev/loop2",
            "/dev/sdz",
            "/dev/sdb",
            "/dev/nvme10n1",
            "/dev/nvme2n1",
        ];
        v.sort_by_key(|n| natural(n));
        assert_eq!(
            v,
            [
                "/dev/loop2",
                "/dev/loop10",
                "/dev/nvme2n1",
                "/dev/nvme10n1",
                "/dev/sdb",
                "/dev/sdz",
                "/dev/sdaa"
            ]
        );
    }

    #[test]
    fn by_id_names_lead_to_their_device_readable_ones_first() {
        let t = tempfile::tempdir().unwrap();
        for (name, to) in [
            ("wwn-0x5000c500a1b2c3d4", "../../sdb"),
            ("ata-WDC_WD40EFRX_WD-WCC7K0123456", "../../sdb"),
            ("ata-WDC_WD40EFRX_WD-WCC7K0123456-part1", "../../sdb1"),
        ] {
            std::os::unix::fs::symlink(to, t.path().join(name)).unwrap();
        }
        let m = by_id_names(t.path());
        let sdb = &m["/dev/sdb"];
        assert_eq!(sdb.len(), 2);
        assert!(
            sdb[0].ends_with("ata-WDC_WD40EFRX_WD-WCC7K0123456"),
            "{sdb:?}"
        );
        assert_eq!(m["/dev/sdb1"].len(), 1);
    }

    #[test]
    fn lists_disks_with_their_use() {
        let t = tempfile::tempdir().unwrap();
        let sys = t.path();
        disk(
            sys,
            "vda",
            "254:0",
            "devices/pci0000:00/virtio1/block/vda",
            2048,
            &[("vda1", "254:1")],
        );
        disk(
            sys,
            "sdb",
            "8:16",
            "devices/pci0000:00/ata2/host1/target1:0:0/1:0:0:0/block/sdb",
            4096,
            &[],
        );
        disk(sys, "loop0", "7:0", "devices/virtual/block/loop0", 0, &[]);
        disk(sys, "ram0", "1:0", "devices/virtual/block/ram0", 8192, &[]);
        disk(
            sys,
            "sdc",
            "8:32",
            "devices/pci0000:00/ata3/host2/target2:0:0/2:0:0:0/block/sdc",
            4096,
            &[],
        );
        fs::create_dir_all(
            sys.join("devices/pci0000:00/ata3/host2/target2:0:0/2:0:0:0/block/sdc/holders/md0"),
        )
        .unwrap();
        let usage = Usage {
            mounts: vec![Mount {
                devno: (254, 1),
                mount_point: "/".into(),
                fs_type: "ext4".into(),
                source: "/dev/vda1".into(),
            }],
            swap_paths: vec![],
            swap_devnos: vec![],
            ..Usage::default()
        };
        let list = scan(sys, &sys.join("by-id"), &usage);
        let names: Vec<&str> = list.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            names,
            vec!["/dev/sdb", "/dev/sdc", "/dev/vda"],
            "no ram disk, no empty loop"
        );
        let vda = &list[2];
        assert_eq!(vda.size_bytes, 2048 * 512);
        let why = vda.in_use.as_deref().unwrap();
        assert!(
            why.contains("system disk") && why.contains("boot another"),
            "{why}"
        );
        assert!(
            !why.contains("unmount"),
            "the system disk cannot be unmounted: {why}"
        );
        assert_eq!(vda.identity.interface, "virtio");
        assert_eq!(list[0].in_use, None);
        assert_eq!(list[0].identity.interface, "sata");
        assert_eq!(list[0].supports, vec!["overwrite"]);
        assert!(list[1].in_use.as_deref().unwrap().contains("held by md0"));

        // Compared by identity: the storage under a loop device, and a disk another program
        // has open, are in use too.
        let usage = Usage {
            loops: vec![crate::device::safety::LoopInfo {
                dev: "/dev/loop3".into(),
                devno: (7, 3),
                backing: "/dev/sdb".into(),
                backing_id: Some((5, 99)),
                backing_devno: Some((8, 16)),
            }],
            opened: vec![((8, 32), "4242 (qemu-system-x86)".into())],
            ..usage
        };
        let list = scan(sys, &sys.join("by-id"), &usage);
        let sdb = list[0].in_use.as_deref().unwrap();
        assert!(sdb.contains("under the loop device /dev/loop3"), "{sdb}");
        let held = Usage {
            mounts: vec![],
            ..usage.clone()
        };
        fs::remove_dir(
            sys.join("devices/pci0000:00/ata3/host2/target2:0:0/2:0:0:0/block/sdc/holders/md0"),
        )
        .unwrap();
        let list = scan(sys, &sys.join("by-id"), &held);
        let sdc = list[1].in_use.as_deref().unwrap();
        assert!(
            sdc.contains("open in another program (PID 4242 (qemu-system-x86))"),
            "{sdc}"
        );
        let wiping = Usage {
            opened: vec![((8, 32), "77 (mediasan)".into())],
            ..held
        };
        let list = scan(sys, &sys.join("by-id"), &wiping);
        let sdc = list[1].in_use.as_deref().unwrap();
        assert!(
            sdc.contains("being wiped by another mediasan (PID 77)"),
            "{sdc}"
        );
    }
}
