//! Whether a target may be wiped: nothing mounted on it or on its partitions, no holders
//! (RAID, LVM, dm), not active swap, and for image files, not attached to a loop device.
//! This is the second line of defence; O_EXCL in `device::open` is the first.

use std::path::{Path, PathBuf};

use super::{Kind, Probe};
use crate::error::{Error, Result};

/// One line of /proc/self/mountinfo, the fields we use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// (major, minor) of the mounted device.
    pub devno: (u64, u64),
    /// Where it is mounted.
    pub mount_point: String,
    /// Filesystem type.
    pub fs_type: String,
    /// The mount source (e.g. /dev/sda1).
    pub source: String,
}

fn unescape(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo octal.
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v as char);
            i += 4;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Parses /proc/self/mountinfo (see proc(5)). Malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let (maj, min) = f.get(2)?.split_once(':')?;
            let sep = f.iter().position(|x| *x == "-")?;
            Some(Mount {
                devno: (maj.parse().ok()?, min.parse().ok()?),
                mount_point: unescape(f.get(4)?),
                fs_type: f.get(sep + 1)?.to_string(),
                source: unescape(f.get(sep + 2)?),
            })
        })
        .collect()
}

/// Parses /proc/swaps: the active swap devices and files.
pub fn parse_swaps(text: &str) -> Vec<PathBuf> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(|p| PathBuf::from(unescape(p)))
        .collect()
}

fn devno_of(dir: &Path) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(dir.join("dev")).ok()?;
    let (a, b) = s.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The sysfs directories of a block device and of each of its partitions.
fn device_and_partitions(sys: &Path, devno: (u64, u64)) -> Vec<(String, (u64, u64), PathBuf)> {
    let link = sys.join(format!("dev/block/{}:{}", devno.0, devno.1));
    let Ok(dir) = std::fs::canonicalize(&link) else {
        return vec![];
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = vec![(name, devno, dir.clone())];
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.join("partition").exists() {
                if let Some(d) = devno_of(&p) {
                    out.push((e.file_name().to_string_lossy().into_owned(), d, p));
                }
            }
        }
    }
    out
}

/// What the system is using right now: mounts and active swap.
pub struct Usage {
    /// Mounted filesystems.
    pub mounts: Vec<Mount>,
    /// Active swap: the paths as /proc/swaps lists them, and the devices among them.
    pub swap_paths: Vec<PathBuf>,
    pub swap_devnos: Vec<(u64, u64)>,
}

impl Usage {
    /// Reads /proc/self/mountinfo and /proc/swaps.
    pub fn read() -> Self {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let mounts =
            parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
        let swap_paths = parse_swaps(&std::fs::read_to_string("/proc/swaps").unwrap_or_default());
        let swap_devnos = swap_paths
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .filter(|m| m.file_type().is_block_device())
            .map(|m| {
                (
                    nix::sys::stat::major(m.rdev()),
                    nix::sys::stat::minor(m.rdev()),
                )
            })
            .collect();
        Usage {
            mounts,
            swap_paths,
            swap_devnos,
        }
    }
}

/// Why block device `devno` (or one of its partitions) is in use, if it is: mounted, held
/// (RAID, LVM, device-mapper) or active swap. Pure over the sysfs tree at `sys` and `usage`.
pub fn block_in_use(sys: &Path, devno: (u64, u64), usage: &Usage) -> Option<String> {
    for (name, d, dir) in device_and_partitions(sys, devno) {
        if let Some(m) = usage.mounts.iter().find(|m| m.devno == d) {
            let what = if m.mount_point == "/" {
                "the system disk: "
            } else {
                ""
            };
            return Some(format!(
                "{what}/dev/{name} is mounted at {}; unmount it first",
                m.mount_point
            ));
        }
        let holders: Vec<String> = std::fs::read_dir(dir.join("holders"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if !holders.is_empty() {
            return Some(format!(
                "/dev/{name} is held by {} (RAID, LVM or device-mapper); stop or remove that first",
                holders.join(", ")
            ));
        }
        if usage.swap_devnos.contains(&d) {
            return Some(format!("/dev/{name} is active swap; swapoff it first"));
        }
    }
    None
}

/// Refuses a target that is in use.
///
/// # Errors
/// [`Error::Refused`] naming what uses it and what to do.
pub fn check_not_in_use(probe: &Probe) -> Result<()> {
    let usage = Usage::read();
    let reason = match probe.kind {
        Kind::Block => probe
            .devno
            .and_then(|d| block_in_use(Path::new("/sys"), d, &usage)),
        Kind::Image if usage.swap_paths.contains(&probe.canonical) => {
            Some("is an active swap file; swapoff it first".to_string())
        }
        Kind::Image => loop_device_backed_by(Path::new("/sys"), &probe.canonical)
            .map(|l| format!("is attached to {l}; detach it first (losetup -d {l}) or wipe {l}")),
    };
    match reason {
        Some(r) => Err(Error::refused(&probe.path, r)),
        None => Ok(()),
    }
}

/// The loop device whose backing file is `file`, if any.
pub fn loop_device_backed_by(sys: &Path, file: &Path) -> Option<String> {
    let rd = std::fs::read_dir(sys.join("block")).ok()?;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let backing =
            std::fs::read_to_string(e.path().join("loop/backing_file")).unwrap_or_default();
        let backing = backing.trim();
        if !backing.is_empty() && Path::new(backing) == file {
            return Some(format!("/dev/{name}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines() {
        let text = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                    30 22 7:0 / /mnt/my\\040disk rw - xfs /dev/loop0 rw\n\
                    garbage line\n\
                    31 22 0:45 / /dev/shm rw,nosuid shared:3 master:2 - tmpfs tmpfs rw\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[0],
            Mount {
                devno: (8, 1),
                mount_point: "/".into(),
                fs_type: "ext4".into(),
                source: "/dev/sda1".into()
            }
        );
        assert_eq!(m[1].mount_point, "/mnt/my disk");
        assert_eq!(m[2].fs_type, "tmpfs");
        assert_eq!(m[2].devno, (0, 45));
    }

    #[test]
    fn parses_swaps() {
        let text = "Filename\tType\tSize\tUsed\tPriority\n/dev/sdb2 partition 1 0 -2\n/swap\\040file file 1 0 -3\n";
        assert_eq!(
            parse_swaps(text),
            vec![PathBuf::from("/dev/sdb2"), PathBuf::from("/swap file")]
        );
    }
}
