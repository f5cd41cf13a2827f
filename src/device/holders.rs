//! What stands between a disk and an erase: software RAID (md), device-mapper (LVM logical
//! volumes, dm-crypt, plain dm) and bcache stacked on it, and how to stop them.
//!
//! Ramdisks that clean machines (an Ironic agent, MAAS's ephemeral environment) assemble md
//! arrays and activate LVM and bcache when they boot; mediasan refuses held disks. `mediasan
//! stop-holders` takes the stacks down, top first, through the kernel's own interfaces (md's
//! `array_state`, bcache's `stop`, device-mapper's DM_DEV_REMOVE), so no userland tool has to be
//! in the ramdisk. Nothing is written to any disk; the layouts' metadata stays where it is until
//! the disks are erased.
//!
//! A stack is stopped only when every disk under it was named: an array that also spans a disk
//! nobody chose is left running and the run is refused. A stack that is mounted, active swap or
//! open in a program is refused too (unmounting is for people to decide). Multipath maps are
//! never stopped: their "members" are paths to one drive.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::safety::{devno_of, Usage};

/// What kind of stack a holder is, and so how it is stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A software RAID array: `clear` into `md/array_state` (as `mdadm --stop`).
    Md,
    /// A device-mapper device, by its dm name: DM_DEV_REMOVE (as `dmsetup remove`).
    Dm { name: String },
    /// A bcache device over a backing disk: `1` into `bcache/stop`.
    Bcache,
    /// A bcache cache set, by UUID: `1` into `/sys/fs/bcache/UUID/stop`.
    CacheSet,
    /// A multipath map: never stopped (its members are paths to one drive).
    Multipath,
    /// A holder that is none of the above: never stopped.
    Unknown,
}

/// One device that holds (part of) a named disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Its kernel name (`md0`, `dm-3`, `bcache0`), or a cache set's UUID.
    pub name: String,
    pub kind: Kind,
    /// What it is, for people: "RAID (raid1)", "LVM logical volume vg0-root".
    pub what: String,
    /// The block devices at the bottom of it (disks or partitions), by kernel name.
    pub members: Vec<String>,
    /// Its device number, where it is a block device.
    pub devno: Option<(u64, u64)>,
}

impl Holder {
    /// One line for people: `md0: RAID (raid1) over /dev/sda1, /dev/sdb1`.
    pub fn describe(&self) -> String {
        let over: Vec<String> = self.members.iter().map(|m| format!("/dev/{m}")).collect();
        format!("{}: {} over {}", self.name, self.what, over.join(", "))
    }
}

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The sysfs directory of the block device `name`.
fn dir_of(sys: &Path, name: &str) -> PathBuf {
    let link = sys.join("class/block").join(name);
    std::fs::canonicalize(&link).unwrap_or(link)
}

/// The kernel name of the block device with this number (`sda`, `sda1`).
pub fn name_of(sys: &Path, devno: (u64, u64)) -> Option<String> {
    let dir = std::fs::canonicalize(sys.join(format!("dev/block/{}:{}", devno.0, devno.1))).ok()?;
    Some(dir.file_name()?.to_string_lossy().into_owned())
}

/// A block device and its partitions, by kernel name.
fn with_partitions(sys: &Path, name: &str) -> Vec<String> {
    let dir = dir_of(sys, name);
    let mut out = vec![name.to_string()];
    out.extend(
        names_in(&dir)
            .into_iter()
            .filter(|p| dir.join(p).join("partition").exists()),
    );
    out
}

/// The devices at the bottom of `name` (those with nothing under them), by kernel name.
fn leaves(sys: &Path, name: &str, depth: usize, out: &mut BTreeSet<String>) {
    let slaves = names_in(&dir_of(sys, name).join("slaves"));
    if slaves.is_empty() || depth > 16 {
        out.insert(name.to_string());
        return;
    }
    for s in slaves {
        leaves(sys, &s, depth + 1, out);
    }
}

fn holder(sys: &Path, name: &str) -> Holder {
    let dir = dir_of(sys, name);
    let mut members = BTreeSet::new();
    leaves(sys, name, 0, &mut members);
    let (kind, what) = if dir.join("md").is_dir() {
        let level = read(&dir.join("md/level")).unwrap_or_default();
        (
            Kind::Md,
            format!("RAID ({})", if level.is_empty() { "md" } else { &level }),
        )
    } else if dir.join("dm").is_dir() {
        let dm = read(&dir.join("dm/name")).unwrap_or_else(|| name.to_string());
        let uuid = read(&dir.join("dm/uuid")).unwrap_or_default();
        match uuid.split('-').next().unwrap_or("") {
            "mpath" => (Kind::Multipath, format!("multipath map {dm}")),
            "LVM" => (
                Kind::Dm { name: dm.clone() },
                format!("LVM logical volume {dm}"),
            ),
            "CRYPT" => (
                Kind::Dm { name: dm.clone() },
                format!("dm-crypt mapping {dm}"),
            ),
            _ => (
                Kind::Dm { name: dm.clone() },
                format!("device-mapper device {dm}"),
            ),
        }
    } else if dir.join("bcache").exists() {
        (Kind::Bcache, "bcache device".to_string())
    } else {
        (Kind::Unknown, "an unknown holder".to_string())
    };
    Holder {
        name: name.to_string(),
        kind,
        what,
        members: members.into_iter().collect(),
        devno: devno_of(&dir),
    }
}

/// Everything stacked on `name`, top first (the order to stop them in), added to `out`.
fn above(sys: &Path, name: &str, depth: usize, out: &mut Vec<Holder>) {
    if depth > 16 {
        return;
    }
    for h in names_in(&dir_of(sys, name).join("holders")) {
        above(sys, &h, depth + 1, out);
        if !out.iter().any(|o| o.name == h) {
            out.push(holder(sys, &h));
        }
    }
}

/// The bcache cache set a cache device belongs to, with every disk under it: its cache devices
/// and the backing disks attached to it.
fn cache_set(sys: &Path, name: &str) -> Option<Holder> {
    let set = std::fs::canonicalize(dir_of(sys, name).join("bcache/set")).ok()?;
    let uuid = set.file_name()?.to_string_lossy().into_owned();
    let mut members = BTreeSet::new();
    for e in names_in(&set) {
        let n = e.strip_prefix("cache").or_else(|| e.strip_prefix("bdev"));
        if !n.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        // cacheN and bdevN point at the member's `bcache` folder inside its device folder.
        if let Some(dev) = std::fs::canonicalize(set.join(&e))
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .filter(|p| p.join("dev").exists())
        {
            members.insert(dev.file_name()?.to_string_lossy().into_owned());
        }
    }
    Some(Holder {
        name: uuid.clone(),
        kind: Kind::CacheSet,
        what: format!("bcache cache set {uuid}"),
        members: members.into_iter().collect(),
        devno: None,
    })
}

/// What holds the named block devices (kernel names: disks or partitions) and their partitions,
/// in the order to stop it.
pub fn stack(sys: &Path, named: &[String]) -> Vec<Holder> {
    let mut out = Vec::new();
    let mut sets = Vec::new();
    for n in named {
        for d in with_partitions(sys, n) {
            above(sys, &d, 0, &mut out);
            if let Some(s) = cache_set(sys, &d) {
                sets.push(s);
            }
        }
    }
    // A cache set stops after the bcache devices over it.
    for s in sets {
        if !out.iter().any(|o| o.name == s.name) {
            out.push(s);
        }
    }
    out
}

/// Why a holder must not be stopped, or None.
fn refusal(sys: &Path, h: &Holder, chosen: &BTreeSet<String>, usage: &Usage) -> Option<String> {
    let others: Vec<String> = h
        .members
        .iter()
        .filter(|m| !chosen.contains(*m))
        .map(|m| format!("/dev/{m}"))
        .collect();
    if !others.is_empty() {
        return Some(format!(
            "{} ({}) also spans {}, which {} not named: name every disk under it to stop it, or stop it yourself",
            h.name,
            h.what,
            others.join(", "),
            if others.len() == 1 { "was" } else { "were" }
        ));
    }
    if h.kind == Kind::Multipath {
        return Some(format!(
            "{} is a {}: its members are paths to one drive; erase the drive through one path once the map is removed (multipath -f)",
            h.name, h.what
        ));
    }
    if h.kind == Kind::Unknown {
        return Some(format!(
            "{} holds it and is neither md, device-mapper nor bcache; stop it yourself",
            h.name
        ));
    }
    let d = h.devno?;
    for part in with_partitions(sys, &h.name) {
        let Some(pd) = (if part == h.name {
            Some(d)
        } else {
            devno_of(&dir_of(sys, &part))
        }) else {
            continue;
        };
        if let Some(m) = usage.mounts.iter().find(|m| m.devno == pd) {
            return Some(format!(
                "/dev/{part} ({}) is mounted at {}; unmount it first",
                h.what, m.mount_point
            ));
        }
        if usage.swap_devnos.contains(&pd) {
            return Some(format!(
                "/dev/{part} ({}) is active swap; swapoff it first",
                h.what
            ));
        }
        let users = usage.users_of(pd);
        if !users.is_empty() {
            return Some(format!(
                "/dev/{part} ({}) is open in {}; stop that first",
                h.what,
                users.join(", ")
            ));
        }
    }
    None
}

/// The holders to stop for the named block devices, top first; or why not (the first reason).
///
/// # Errors
/// A holder that spans a device nobody named, is in use, or is a multipath map.
pub fn plan(sys: &Path, named: &[String], usage: &Usage) -> Result<Vec<Holder>, String> {
    let chosen: BTreeSet<String> = named.iter().flat_map(|n| with_partitions(sys, n)).collect();
    let holders = stack(sys, named);
    for h in &holders {
        if let Some(why) = refusal(sys, h, &chosen, usage) {
            return Err(why);
        }
    }
    Ok(holders)
}

/// Stops one holder and waits (up to `wait`) until it no longer holds anything.
///
/// # Errors
/// The kernel refused (busy: something opened it meanwhile) or it did not go away in time.
pub fn stop(sys: &Path, h: &Holder, wait: Duration) -> std::io::Result<()> {
    let dir = dir_of(sys, &h.name);
    let under = names_in(&dir.join("slaves"));
    let write = |p: PathBuf, v: &str| {
        std::fs::write(&p, v)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))
    };
    match &h.kind {
        Kind::Md => write(dir.join("md/array_state"), "clear")?,
        Kind::Bcache => write(dir.join("bcache/stop"), "1")?,
        Kind::CacheSet => write(sys.join("fs/bcache").join(&h.name).join("stop"), "1")?,
        Kind::Dm { name } => super::ioctl::dm_remove(name)?,
        Kind::Multipath | Kind::Unknown => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                format!("{} ({}) is never stopped by mediasan", h.name, h.what),
            ))
        }
    }
    let gone = || match h.kind {
        Kind::CacheSet => !sys.join("fs/bcache").join(&h.name).exists(),
        _ => under
            .iter()
            .all(|s| !dir_of(sys, s).join("holders").join(&h.name).exists()),
    };
    let start = Instant::now();
    while !gone() {
        if start.elapsed() > wait {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "{} still holds its disks {} s after it was stopped",
                    h.name,
                    wait.as_secs()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::safety::Mount;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// A sysfs tree: block devices under devices/, linked from class/block and dev/block.
    struct Sys(tempfile::TempDir);

    impl Sys {
        fn new() -> Sys {
            let t = tempfile::tempdir().unwrap();
            fs::create_dir_all(t.path().join("class/block")).unwrap();
            fs::create_dir_all(t.path().join("dev/block")).unwrap();
            Sys(t)
        }
        fn root(&self) -> &Path {
            self.0.path()
        }
        /// A device (`parent` for a partition) with its number.
        fn dev(&self, name: &str, parent: Option<&str>, devno: (u64, u64)) -> PathBuf {
            let dir = match parent {
                Some(p) => self.root().join("devices/virtual/block").join(p).join(name),
                None => self.root().join("devices/virtual/block").join(name),
            };
            fs::create_dir_all(dir.join("holders")).unwrap();
            fs::create_dir_all(dir.join("slaves")).unwrap();
            fs::write(dir.join("dev"), format!("{}:{}\n", devno.0, devno.1)).unwrap();
            if parent.is_some() {
                fs::write(dir.join("partition"), "1\n").unwrap();
            }
            symlink(&dir, self.root().join("class/block").join(name)).unwrap();
            symlink(
                &dir,
                self.root()
                    .join(format!("dev/block/{}:{}", devno.0, devno.1)),
            )
            .unwrap();
            dir
        }
        /// `upper` is stacked on `lower`.
        fn hold(&self, upper: &str, lower: &str) {
            let u = dir_of(self.root(), upper);
            let l = dir_of(self.root(), lower);
            symlink(&u, l.join("holders").join(upper)).unwrap();
            symlink(&l, u.join("slaves").join(lower)).unwrap();
        }
        fn md(&self, name: &str, devno: (u64, u64), level: &str, over: &[&str]) {
            let d = self.dev(name, None, devno);
            fs::create_dir_all(d.join("md")).unwrap();
            fs::write(d.join("md/level"), format!("{level}\n")).unwrap();
            fs::write(d.join("md/array_state"), "clean\n").unwrap();
            over.iter().for_each(|o| self.hold(name, o));
        }
        fn dm(&self, name: &str, devno: (u64, u64), dm: &str, uuid: &str, over: &[&str]) {
            let d = self.dev(name, None, devno);
            fs::create_dir_all(d.join("dm")).unwrap();
            fs::write(d.join("dm/name"), format!("{dm}\n")).unwrap();
            fs::write(d.join("dm/uuid"), format!("{uuid}\n")).unwrap();
            over.iter().for_each(|o| self.hold(name, o));
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Two disks with a partition each in a RAID1, LVM on the array.
    fn raid_with_lvm() -> Sys {
        let s = Sys::new();
        s.dev("sda", None, (8, 0));
        s.dev("sda1", Some("sda"), (8, 1));
        s.dev("sdb", None, (8, 16));
        s.dev("sdb1", Some("sdb"), (8, 17));
        s.dev("sdc", None, (8, 32));
        s.md("md0", (9, 0), "raid1", &["sda1", "sdb1"]);
        s.dm("dm-0", (253, 0), "vg0-root", "LVM-abcdef", &["md0"]);
        s
    }

    #[test]
    fn a_stack_is_stopped_top_first_when_every_disk_under_it_was_named() {
        let s = raid_with_lvm();
        let p = plan(s.root(), &names(&["sda", "sdb"]), &Usage::default()).unwrap();
        let got: Vec<&str> = p.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(got, ["dm-0", "md0"]);
        assert_eq!(
            p[0].kind,
            Kind::Dm {
                name: "vg0-root".into()
            }
        );
        assert_eq!(p[0].what, "LVM logical volume vg0-root");
        assert_eq!(p[1].kind, Kind::Md);
        assert_eq!(
            p[1].describe(),
            "md0: RAID (raid1) over /dev/sda1, /dev/sdb1"
        );
        assert_eq!(p[0].members, names(&["sda1", "sdb1"]));
        // A disk nothing holds: nothing to do.
        assert!(plan(s.root(), &names(&["sdc"]), &Usage::default())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn an_array_over_a_disk_nobody_named_is_left_running() {
        let s = raid_with_lvm();
        let why = plan(s.root(), &names(&["sda"]), &Usage::default()).unwrap_err();
        assert!(
            why.contains("also spans /dev/sdb1, which was not named"),
            "{why}"
        );
        assert!(
            why.starts_with("dm-0 (LVM logical volume vg0-root)"),
            "{why}"
        );
        // Naming a partition of the other disk is not naming what the array is on.
        let why = plan(s.root(), &names(&["sda1", "sdc"]), &Usage::default()).unwrap_err();
        assert!(why.contains("/dev/sdb1"), "{why}");
    }

    #[test]
    fn a_mounted_swapped_or_open_stack_is_refused() {
        let s = raid_with_lvm();
        let mut u = Usage::default();
        u.mounts.push(Mount {
            devno: (253, 0),
            mount_point: "/srv".into(),
            fs_type: "ext4".into(),
            source: "/dev/mapper/vg0-root".into(),
        });
        let why = plan(s.root(), &names(&["sda", "sdb"]), &u).unwrap_err();
        assert_eq!(
            why,
            "/dev/dm-0 (LVM logical volume vg0-root) is mounted at /srv; unmount it first"
        );
        let u = Usage {
            swap_devnos: vec![(253, 0)],
            ..Usage::default()
        };
        let why = plan(s.root(), &names(&["sda", "sdb"]), &u).unwrap_err();
        assert!(why.ends_with("is active swap; swapoff it first"), "{why}");
        let u = Usage {
            opened: vec![((9, 0), "77 (qemu)".into())],
            ..Usage::default()
        };
        let why = plan(s.root(), &names(&["sda", "sdb"]), &u).unwrap_err();
        assert_eq!(
            why,
            "/dev/md0 (RAID (raid1)) is open in 77 (qemu); stop that first"
        );
    }

    #[test]
    fn a_partition_of_a_holder_that_is_mounted_is_found() {
        let s = Sys::new();
        s.dev("vda", None, (254, 0));
        s.dev("vdb", None, (254, 16));
        s.md("md1", (9, 1), "raid0", &["vda", "vdb"]);
        s.dev("md1p1", Some("md1"), (259, 0));
        let u = Usage {
            mounts: vec![Mount {
                devno: (259, 0),
                mount_point: "/data".into(),
                fs_type: "xfs".into(),
                source: "/dev/md1p1".into(),
            }],
            ..Usage::default()
        };
        let why = plan(s.root(), &names(&["vda", "vdb"]), &u).unwrap_err();
        assert_eq!(
            why,
            "/dev/md1p1 (RAID (raid0)) is mounted at /data; unmount it first"
        );
    }

    #[test]
    fn multipath_and_unknown_holders_are_never_stopped() {
        let s = Sys::new();
        s.dev("sdd", None, (8, 48));
        s.dev("sde", None, (8, 64));
        s.dm(
            "dm-2",
            (253, 2),
            "mpatha",
            "mpath-3600a0b80",
            &["sdd", "sde"],
        );
        let why = plan(s.root(), &names(&["sdd", "sde"]), &Usage::default()).unwrap_err();
        assert!(why.contains("multipath map mpatha"), "{why}");
        let s = Sys::new();
        s.dev("sdf", None, (8, 80));
        s.dev("zram9", None, (252, 9));
        s.hold("zram9", "sdf");
        let why = plan(s.root(), &names(&["sdf"]), &Usage::default()).unwrap_err();
        assert!(
            why.contains("neither md, device-mapper nor bcache"),
            "{why}"
        );
        // And stop itself never acts on them, whatever a caller skipped.
        let h = holder(s.root(), "zram9");
        assert_eq!(h.kind, Kind::Unknown);
        let e = stop(s.root(), &h, Duration::from_millis(10)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
    }

    #[test]
    fn a_cache_set_stops_after_its_bcache_devices_and_spans_cache_and_backing_disks() {
        let s = Sys::new();
        let back = s.dev("vdd", None, (254, 48));
        let cache = s.dev("vde", None, (254, 64));
        let b0 = s.dev("bcache0", None, (251, 0));
        fs::create_dir_all(back.join("bcache")).unwrap();
        fs::create_dir_all(cache.join("bcache")).unwrap();
        symlink(back.join("bcache"), b0.join("bcache")).unwrap();
        s.hold("bcache0", "vdd");
        // The kernel links the cache device's holders to the bcache devices of its set too.
        symlink(&b0, cache.join("holders/bcache0")).unwrap();
        let set = s.root().join("fs/bcache/5f1c-uuid");
        fs::create_dir_all(&set).unwrap();
        fs::write(set.join("cache_available_percent"), "100\n").unwrap();
        symlink(cache.join("bcache"), set.join("cache0")).unwrap();
        symlink(back.join("bcache"), set.join("bdev0")).unwrap();
        symlink(&set, cache.join("bcache/set")).unwrap();
        let p = plan(s.root(), &names(&["vdd", "vde"]), &Usage::default()).unwrap();
        let got: Vec<(&str, &Kind)> = p.iter().map(|h| (h.name.as_str(), &h.kind)).collect();
        assert_eq!(
            got,
            [("bcache0", &Kind::Bcache), ("5f1c-uuid", &Kind::CacheSet)]
        );
        assert_eq!(p[1].members, names(&["vdd", "vde"]));
        // The cache alone: its set also has the backing disk, which was not named.
        let why = plan(s.root(), &names(&["vde"]), &Usage::default()).unwrap_err();
        assert!(why.contains("/dev/vdd"), "{why}");
    }

    #[test]
    fn stopping_an_array_writes_clear_and_waits_until_it_lets_go() {
        let s = raid_with_lvm();
        let md = holder(s.root(), "md0");
        // Nobody lets go here: the wait gives up and says so.
        let e = stop(s.root(), &md, Duration::from_millis(100)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        let state = dir_of(s.root(), "md0").join("md/array_state");
        assert_eq!(fs::read_to_string(&state).unwrap(), "clear");
        // The kernel removed the links: stopped.
        fs::remove_file(dir_of(s.root(), "sda1").join("holders/md0")).unwrap();
        fs::remove_file(dir_of(s.root(), "sdb1").join("holders/md0")).unwrap();
        stop(s.root(), &md, Duration::from_secs(1)).unwrap();
    }
}
