//! Whether a target may be wiped: nothing mounted on it or on its partitions, no holders
//! (RAID, LVM, dm), not active swap, not the storage under a loop device, not open in another
//! program, and for image files, not attached to a loop device and not locked by another
//! program. Everything is compared by identity (device numbers, device and inode), never by
//! path text: a hard link or a second name reaches the same storage.
//! This is the second line of defence; O_EXCL and the locks in `device::open` are the first.

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
    // mountinfo escapes space, tab, newline and backslash as \ooo octal (a byte each).
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) if b[i] == b'\\' => {
                let v = u32::from(d[0] - b'0') * 64
                    + u32::from(d[1] - b'0') * 8
                    + u32::from(d[2] - b'0');
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

/// The device number a sysfs block-device folder's `dev` file gives.
pub(super) fn devno_of(dir: &Path) -> Option<(u64, u64)> {
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

/// What the system is using right now: mounts, active swap, loop devices and what backs them,
/// and the block devices other programs have open.
#[derive(Clone, Debug, Default)]
pub struct Usage {
    /// Mounted filesystems.
    pub mounts: Vec<Mount>,
    /// Active swap: the paths as /proc/swaps lists them, and the devices among them.
    pub swap_paths: Vec<PathBuf>,
    pub swap_devnos: Vec<(u64, u64)>,
    /// Attached loop devices.
    pub loops: Vec<LoopInfo>,
    /// Block devices open in other processes: (device, "PID (command)").
    pub opened: Vec<((u64, u64), String)>,
}

impl Usage {
    /// The programs that have the block device `d` open: "PID (command)".
    pub fn users_of(&self, d: (u64, u64)) -> Vec<&str> {
        self.opened
            .iter()
            .filter(|(o, _)| *o == d)
            .map(|(_, who)| who.as_str())
            .collect()
    }

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
            loops: loops(Path::new("/sys")),
            opened: opened_block_devices(),
        }
    }
}

/// Why block device `devno` (or one of its partitions) is in use, if it is: mounted, held
/// (RAID, LVM, device-mapper) or active swap. Pure over the sysfs tree at `sys` and `usage`.
/// Mount points that make a disk the running system's own.
const SYSTEM_MOUNTS: [&str; 5] = ["/", "/boot", "/boot/efi", "/usr", "/var"];

/// Why `what` cannot be wiped while these programs ("PID (command)") have it: another
/// mediasan is wiping it, or some other program has it open.
fn open_by(what: &str, users: &[&str]) -> String {
    match users.iter().find(|u| u.ends_with("(mediasan)")) {
        Some(u) => {
            let pid = u.split(' ').next().unwrap_or("?");
            format!(
                "{what} is being wiped by another mediasan (PID {pid}); let it finish, or stop it there \
                 with Ctrl-C (kill -INT {pid}) and continue later with --resume"
            )
        }
        None => format!(
            "{what} is open in another program (PID {}); close it first",
            users.join(", PID ")
        ),
    }
}

/// The programs ("PID (command)") holding a lock on the file (`dev`, `ino`), from `/proc/locks`.
pub fn lock_holders(locks: &str, dev: (u64, u64), ino: u64) -> Vec<String> {
    let mut out: Vec<String> = locks
        .lines()
        .filter_map(|l| {
            // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (device in hex, inode decimal);
            // "->" lines are waiters; OFD locks have no PID (-1).
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.get(1) == Some(&"->") {
                return None;
            }
            let pid: u32 = f.get(4)?.parse().ok()?;
            let mut id = f.get(5)?.split(':');
            let maj = u64::from_str_radix(id.next()?, 16).ok()?;
            let min = u64::from_str_radix(id.next()?, 16).ok()?;
            let i: u64 = id.next()?.parse().ok()?;
            ((maj, min) == dev && i == ino).then(|| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                format!("{pid} ({})", comm.trim())
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

pub fn block_in_use(sys: &Path, devno: (u64, u64), usage: &Usage) -> Option<String> {
    for (name, d, dir) in device_and_partitions(sys, devno) {
        if let Some(m) = usage.mounts.iter().find(|m| m.devno == d) {
            if SYSTEM_MOUNTS.contains(&m.mount_point.as_str()) {
                return Some(format!(
                    "it is the system disk (/dev/{name} is mounted at {}): a running system cannot wipe \
                     its own disk; boot another one (a rescue USB stick, the network) to wipe it",
                    m.mount_point
                ));
            }
            return Some(format!(
                "/dev/{name} is mounted at {}; unmount it first",
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
                "/dev/{name} is held by {} (RAID, LVM, device-mapper or bcache); stop it first (`mediasan stop-holders` with every disk under it does)",
                holders.join(", ")
            ));
        }
        if usage.swap_devnos.contains(&d) {
            return Some(format!("/dev/{name} is active swap; swapoff it first"));
        }
        if let Some(l) = usage.loops.iter().find(|l| l.backing_devno == Some(d)) {
            return Some(format!(
                "/dev/{name} is the storage under the loop device {}; detach it first (losetup -d {})",
                l.dev, l.dev
            ));
        }
        let users = usage.users_of(d);
        if !users.is_empty() {
            return Some(open_by(&format!("/dev/{name}"), &users));
        }
    }
    // A loop device shares its storage with every other loop device over the same file.
    let me = usage.loops.iter().find(|l| l.devno == devno);
    if let Some(other) = me.and_then(|me| {
        usage
            .loops
            .iter()
            .find(|l| l.devno != devno && l.backing_id.is_some() && l.backing_id == me.backing_id)
    }) {
        return Some(format!(
            "its backing file is also attached as {}; detach that first (losetup -d {})",
            other.dev, other.dev
        ));
    }
    None
}

/// A loop device and the file (or block device) behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopInfo {
    /// `/dev/loopN`.
    pub dev: String,
    /// The loop device's own (major, minor).
    pub devno: (u64, u64),
    /// The backing file as the kernel names it.
    pub backing: String,
    /// (device, inode) of the backing file, where it can be stat'ed.
    pub backing_id: Option<(u64, u64)>,
    /// The backing is a block device: its (major, minor).
    pub backing_devno: Option<(u64, u64)>,
}

/// Every attached loop device under the sysfs tree at `sys`, with what backs it (identified by
/// a `stat` of the path the kernel reports, so hard links and renames compare equal).
pub fn loops(sys: &Path) -> Vec<LoopInfo> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(rd) = std::fs::read_dir(sys.join("block")) else {
        return vec![];
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                return None;
            }
            let backing = std::fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            let backing = backing.trim_end_matches('\n').to_string();
            if backing.is_empty() {
                return None;
            }
            let meta = std::fs::metadata(&backing).ok();
            Some(LoopInfo {
                dev: format!("/dev/{name}"),
                devno: devno_of(&e.path()).unwrap_or_default(),
                backing_id: meta.as_ref().map(|m| (m.dev(), m.ino())),
                backing_devno: meta
                    .as_ref()
                    .filter(|m| m.file_type().is_block_device())
                    .map(|m| super::split_devno(m.rdev())),
                backing,
            })
        })
        .collect()
}

/// Block devices that processes other than this one have open, read from /proc/*/fd:
/// (device, "PID (command)").
pub fn opened_block_devices() -> Vec<((u64, u64), String)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let me = std::process::id().to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    let mut out = Vec::new();
    for p in procs.flatten() {
        let pid = p.file_name().to_string_lossy().into_owned();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let mut devs: Vec<(u64, u64)> = fds
            .flatten()
            .filter_map(|fd| std::fs::metadata(fd.path()).ok())
            .filter(|m| m.file_type().is_block_device())
            .map(|m| super::split_devno(m.rdev()))
            .collect();
        devs.sort_unstable();
        devs.dedup();
        if devs.is_empty() {
            continue;
        }
        let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
        let who = format!("{pid} ({})", comm.trim());
        out.extend(devs.into_iter().map(|d| (d, who.clone())));
    }
    out
}

/// Takes (or, with `write = false`, asks about) an open-file-description lock over the whole
/// of `f`: the kind QEMU and other programs use to claim an image.
///
/// # Errors
/// EAGAIN/EACCES when another program holds a conflicting lock; others when locks do not work.
pub fn ofd_lock(f: &std::fs::File, write: bool) -> std::io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg};
    use nix::libc;
    let mut lk = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    if write {
        fcntl(f, FcntlArg::F_OFD_SETLK(&lk))
            .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
        return Ok(());
    }
    fcntl(f, FcntlArg::F_OFD_GETLK(&mut lk))
        .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
    if lk.l_type == libc::F_UNLCK as libc::c_short {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(libc::EAGAIN))
    }
}

/// Whether another program holds a lock on the image open as `f` (an OFD/POSIX lock, or an
/// exclusive flock, which is tested by taking it and letting it go).
fn image_locked(f: &std::fs::File) -> bool {
    let ofd = matches!(
        ofd_lock(f, false).map_err(|e| e.raw_os_error()),
        Err(Some(nix::libc::EAGAIN))
    );
    let flock = match f.try_lock_shared() {
        Ok(()) => {
            let _ = f.unlock();
            false
        }
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
    };
    ofd || flock
}

/// Refuses an overwrite of a self-encrypting drive with a locked range (its TCG Level 0
/// Discovery, asked through `door`, read-only): every write there would fail, and the FAIL it
/// ended with would not say why. Drives only (NVMe, SATA, SAS, SCSI, USB): nothing is asked of
/// an image, a loop device or a virtual disk.
///
/// # Errors
/// [`Error::Refused`] naming the unlock or the PSID revert.
pub fn check_sed(probe: &Probe, door: &dyn super::passthrough::Passthrough) -> Result<()> {
    let drive = matches!(
        probe.identity.interface.as_str(),
        "nvme" | "sata" | "sas" | "scsi" | "usb"
    );
    if probe.kind != Kind::Block || !drive || !probe.identity.virtual_disk.is_empty() {
        return Ok(());
    }
    let why = super::tcg::discover(&probe.identity.interface, door, false).and_then(|t| {
        super::tcg::locked_range(
            &t,
            "every write there would fail, so nothing was written",
            "",
        )
    });
    match why {
        Some(why) => Err(Error::refused(&probe.path, why)),
        None => Ok(()),
    }
}

/// Refuses a target that is in use.
///
/// # Errors
/// [`Error::Refused`] naming what uses it and what to do.
pub fn check_not_in_use(probe: &Probe) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let sys = Path::new("/sys");
    let mut usage = Usage::read();
    let loops = &usage.loops;
    let reason = match (probe.kind, probe.devno) {
        (Kind::Block, Some(d)) => {
            let first = block_in_use(sys, d, &usage);
            // Scanners (udev, blkid, `losetup --find`, smartctl) open devices for an instant:
            // a program that has it open is a user only if it still has it a moment later.
            if first
                .as_deref()
                .is_some_and(|r| r.contains("open in another program"))
            {
                std::thread::sleep(std::time::Duration::from_millis(300));
                let again = opened_block_devices();
                usage.opened.retain(|o| again.contains(o));
                block_in_use(sys, d, &usage)
            } else {
                first
            }
        }
        (Kind::Block, None) => None,
        (Kind::Image, _) => {
            let me = (probe.id.dev, probe.id.ino);
            let swap = usage
                .swap_paths
                .iter()
                .filter_map(|p| std::fs::metadata(p).ok())
                .any(|m| (m.dev(), m.ino()) == me);
            if swap {
                Some("is an active swap file; swapoff it first".to_string())
            } else if let Some(l) = loops.iter().find(|l| l.backing_id == Some(me)) {
                Some(format!(
                    "is attached to {} (as {}); detach it first (losetup -d {}) or wipe {}",
                    l.dev,
                    crate::term::escape(&l.backing),
                    l.dev,
                    l.dev
                ))
            } else if probe.handle.as_deref().is_some_and(image_locked) {
                let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
                let holders = lock_holders(&locks, super::split_devno(probe.id.dev), probe.id.ino);
                let holders: Vec<&str> = holders.iter().map(String::as_str).collect();
                Some(if holders.iter().any(|h| h.ends_with("(mediasan)")) {
                    open_by("it", &holders)
                } else {
                    "another program holds a lock on this image (a virtual machine using it?); stop it first"
                        .to_string()
                })
            } else {
                None
            }
        }
    };
    match reason {
        Some(r) => Err(Error::refused(&probe.path, r)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    /// An NVMe drive that answers Level 0 Discovery as an Opal 2 drive, locked or not.
    struct Sed(Option<bool>);

    impl crate::device::passthrough::Passthrough for Sed {
        fn nvme(
            &self,
            c: &crate::device::nvme::AdminCmd,
            data: &mut [u8],
        ) -> std::io::Result<(u16, u32)> {
            let Some(locked) = self.0 else {
                return Ok((0x4002, 0)); // Invalid Field: no security protocol 01h
            };
            assert_eq!(c.opcode, 0x82, "only Security Receive is sent");
            let locking = [
                if locked { 0x07u8 } else { 0x03 },
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
            ];
            let opal2 = [0x10u8, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            let d = crate::device::tcg::tests::discovery(&[(0x0002, &locking), (0x0203, &opal2)]);
            data[..d.len()].copy_from_slice(&d);
            Ok((0, 0))
        }
        fn scsi(
            &self,
            _: &[u8],
            _: crate::device::passthrough::DataDir,
            _: &mut [u8],
            _: u32,
        ) -> std::io::Result<(u8, Vec<u8>)> {
            panic!("an NVMe drive is asked through NVMe")
        }
    }

    #[test]
    fn only_a_self_encrypting_drive_with_a_locked_range_is_refused_an_overwrite() {
        let mut p = crate::device::Probe {
            path: "/dev/nvme0n1".into(),
            canonical: "/dev/nvme0n1".into(),
            kind: Kind::Block,
            size: 1 << 20,
            logical_block_size: 512,
            physical_block_size: 512,
            read_only: false,
            devno: None,
            identity: crate::device::Identity::default(),
            id: crate::device::FileId::default(),
            backing_id: None,
            born_ns: None,
            handle: None,
        };
        p.identity.interface = "nvme".into();
        let e = check_sed(&p, &Sed(Some(true))).unwrap_err().to_string();
        assert!(
            e.contains("Opal 2") && e.contains("locked range") && e.contains("PSID"),
            "{e}"
        );
        assert!(check_sed(&p, &Sed(Some(false))).is_ok(), "unlocked");
        assert!(check_sed(&p, &Sed(None)).is_ok(), "not a SED");
        // Nothing is asked of what is not a drive (the double would answer locked).
        for iface in ["loop", "virtio", ""] {
            p.identity.interface = iface.into();
            assert!(check_sed(&p, &Sed(Some(true))).is_ok(), "{iface}");
        }
        p.identity.interface = "nvme".into();
        p.identity.virtual_disk = "QEMU".into();
        assert!(check_sed(&p, &Sed(Some(true))).is_ok(), "a virtual disk");
    }

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
    fn lock_holders_are_found_by_device_and_inode() {
        let locks = "1: FLOCK  ADVISORY  WRITE 4242 fe:01:1234 0 EOF\n\
                     1: -> FLOCK  ADVISORY  WRITE 4343 fe:01:1234 0 EOF\n\
                     2: OFDLCK ADVISORY  WRITE -1 fe:01:1234 0 EOF\n\
                     3: POSIX  ADVISORY  READ 99 08:01:1234 0 EOF\n";
        let h = lock_holders(locks, (0xfe, 1), 1234);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h[0].starts_with("4242 ("), "{h:?}");
        assert!(lock_holders(locks, (0xfe, 1), 99).is_empty());
    }

    #[test]
    fn another_mediasan_is_named_with_what_to_do() {
        let m = open_by("/dev/sdb", &["77 (mediasan)"]);
        assert!(
            m.contains("being wiped by another mediasan (PID 77)") && m.contains("kill -INT 77"),
            "{m}"
        );
        let o = open_by("/dev/sdb", &["5 (dd)", "6 (cat)"]);
        assert!(
            o.contains("open in another program (PID 5 (dd), PID 6 (cat))"),
            "{o}"
        );
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
