//! What drives are plugged in, without a udev daemon: the kernel's own uevents (netlink,
//! multicast group 1, sent by the kernel itself, not udevd's re-broadcast on group 2) say
//! *when* to look, and a scan of `/sys/block` says *what* is there. A uevent is only ever a
//! hint: the bench acts on what the scan reads, so a lost or repeated uevent changes nothing,
//! and the periodic rescan covers a kernel whose uevents cannot be read (a container).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use super::select::Names;

/// A block device's uevent, as far as the bench cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uevent {
    /// `add`, `remove`, `change`, ...
    pub action: String,
    /// The kernel name (`DEVNAME`, `sdb`).
    pub name: String,
    /// `disk` or `partition`.
    pub devtype: String,
}

/// Parses one kernel uevent datagram (`action@devpath\0KEY=value\0...`); `None` for anything
/// but a block device, or a datagram that is not a kernel uevent (libudev's binary ones).
pub fn parse(datagram: &[u8]) -> Option<Uevent> {
    let mut fields = datagram.split(|b| *b == 0);
    let head = std::str::from_utf8(fields.next()?).ok()?;
    head.split_once('@')?;
    let (mut action, mut name, mut devtype, mut block) = (None, None, None, false);
    for f in fields {
        let Ok(f) = std::str::from_utf8(f) else {
            continue;
        };
        match f.split_once('=') {
            Some(("ACTION", v)) => action = Some(v.to_string()),
            Some(("DEVNAME", v)) => name = Some(v.trim_start_matches("/dev/").to_string()),
            Some(("DEVTYPE", v)) => devtype = Some(v.to_string()),
            Some(("SUBSYSTEM", v)) => block = v == "block",
            _ => {}
        }
    }
    block.then_some(())?;
    Some(Uevent {
        action: action?,
        name: name?,
        devtype: devtype.unwrap_or_default(),
    })
}

/// Listens to the kernel's uevents on a thread of its own and sends each whole disk's to `tx`,
/// until `stop` is set (it looks every half second).
///
/// # Errors
/// The netlink socket cannot be opened (no permission, a kernel without it): the caller
/// rescans instead.
pub fn listen(tx: Sender<Uevent>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let fd = open()?;
    std::thread::Builder::new()
        .name("uevents".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while !stop.load(Ordering::Relaxed) {
                // A timeout, a message not from the kernel, or an overflow (ENOBUFS) is
                // nothing to send: the periodic rescan sees what was missed.
                if let Ok(Some(n)) = receive(&fd, &mut buf) {
                    // Whole disks only: a partition's events follow its disk's.
                    if let Some(u) = parse(&buf[..n]).filter(|u| u.devtype == "disk") {
                        if tx.send(u).is_err() {
                            return;
                        }
                    }
                }
            }
        })?;
    Ok(())
}

fn open() -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{
        bind, setsockopt, socket, sockopt, AddressFamily, NetlinkAddr, SockFlag, SockProtocol,
        SockType,
    };
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkKObjectUEvent,
    )?;
    // Group 1: the kernel's own messages, there with or without udevd.
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 1))?;
    setsockopt(
        &fd,
        sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(0, 500_000),
    )?;
    // A burst (a shelf of drives powering up) must not overflow the queue; root may go
    // beyond rmem_max. Best effort.
    let _ = setsockopt(&fd, sockopt::RcvBufForce, &(4 << 20));
    Ok(fd)
}

/// One datagram from the kernel (`None`: a timeout, or one sent by a process).
fn receive(fd: &OwnedFd, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    use nix::sys::socket::{recvfrom, NetlinkAddr};
    match recvfrom::<NetlinkAddr>(fd.as_raw_fd(), buf) {
        // Only the kernel (port 0) speaks for the devices.
        Ok((n, Some(from))) if from.pid() == 0 => Ok(Some(n)),
        Ok(_) => Ok(None),
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A whole block device as sysfs shows it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    pub names: Names,
    pub devno: (u64, u64),
    /// Bytes (0: no medium, or a drive still spinning up).
    pub size: u64,
    /// A loop device asked to detach while it is held (`losetup -d` on a busy device: the
    /// kernel detaches it when the last holder closes it), i.e. pulled by its operator.
    pub detaching: bool,
    /// The serial number sysfs shows (empty where it shows none: loop devices).
    pub serial: String,
    /// The WWN (or NVMe EUI/NGUID) sysfs shows, as `wwid` spells it.
    pub wwn: String,
}

impl Disk {
    /// The `/dev` node.
    pub fn node(&self) -> PathBuf {
        Path::new("/dev").join(&self.names.kernel)
    }

    /// What makes it this medium and not another one in the same place: a loop device
    /// re-attached to another file, a drive swapped in the same bay (another serial or WWN,
    /// even where the kernel gave it the same number), is a new drive.
    pub fn same_medium(&self, other: &Disk) -> bool {
        let agree = |a: &str, b: &str| a.is_empty() || b.is_empty() || a == b;
        self.devno == other.devno
            && self.names.backing == other.names.backing
            && (self.size == other.size || self.size == 0 || other.size == 0)
            && agree(&self.serial, &other.serial)
            && agree(&self.wwn, &other.wwn)
    }
}

/// Every whole block device under `sys/block` (partitions are not drives), with its links
/// under `dev/disk` (`/dev/disk/by-*`, resolved to kernel names).
pub fn scan(sys: &Path, dev: &Path) -> Vec<Disk> {
    let links = disk_links(dev);
    let Ok(dir) = std::fs::read_dir(sys.join("block")) else {
        return Vec::new();
    };
    let mut disks: Vec<Disk> = dir
        .flatten()
        .filter_map(|e| {
            let kernel = e.file_name().to_string_lossy().into_owned();
            let l = links.get(&kernel).cloned().unwrap_or_default();
            read_disk(&e.path(), kernel, l)
        })
        .collect();
    disks.sort_by(|a, b| a.names.kernel.cmp(&b.names.kernel));
    disks
}

/// The whole disk whose device number is `devno`, as sysfs and `dev/disk` show it at this
/// moment (`None`: no such disk, or a partition). Read after the device was opened, this is
/// what the open descriptor refers to: while it is held, a loop device cannot be re-bound
/// and the kernel cannot give its number to another drive.
pub fn disk_at(sys: &Path, dev: &Path, devno: (u64, u64)) -> Option<Disk> {
    let at = std::fs::canonicalize(sys.join(format!("dev/block/{}:{}", devno.0, devno.1))).ok()?;
    if at.join("partition").exists() {
        return None;
    }
    let kernel = at.file_name()?.to_string_lossy().into_owned();
    let links = disk_links(dev).remove(&kernel).unwrap_or_default();
    read_disk(&at, kernel, links).filter(|d| d.devno == devno)
}

/// One disk's sysfs folder `at` (`sys/block/NAME`).
fn read_disk(at: &Path, kernel: String, links: Vec<PathBuf>) -> Option<Disk> {
    let read = |f: &str| {
        std::fs::read_to_string(at.join(f))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let (major, minor) = read("dev")?
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))?;
    let size = read("size")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0)
        * 512;
    let backing = read("loop/backing_file")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    let detaching = backing.is_some() && read("loop/autoclear").as_deref() == Some("1");
    let serial = read("device/serial")
        .or_else(|| read("serial"))
        .or_else(|| {
            // SCSI VPD page 0x80: a 4-byte header, then the serial.
            let pg80 = std::fs::read(at.join("device/vpd_pg80")).ok()?;
            let s = String::from_utf8_lossy(pg80.get(4..)?);
            Some(
                s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                    .to_string(),
            )
            .filter(|s| !s.is_empty())
        })
        .unwrap_or_default();
    let wwn = read("wwid")
        .or_else(|| read("device/wwid"))
        .unwrap_or_default();
    Some(Disk {
        names: Names {
            links,
            kernel,
            backing,
        },
        devno: (major, minor),
        size,
        detaching,
        serial,
        wwn,
    })
}

/// Kernel name → its links under `dev/disk/*/` (where udev, if any, made them).
fn disk_links(dev: &Path) -> std::collections::HashMap<String, Vec<PathBuf>> {
    let mut map: std::collections::HashMap<String, Vec<PathBuf>> = Default::default();
    let Ok(kinds) = std::fs::read_dir(dev.join("disk")) else {
        return map;
    };
    for kind in kinds.flatten() {
        let Ok(entries) = std::fs::read_dir(kind.path()) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(target) = std::fs::read_link(e.path()) else {
                continue;
            };
            if let Some(name) = target.file_name() {
                let shown = Path::new("/dev/disk")
                    .join(kind.file_name())
                    .join(e.file_name());
                map.entry(name.to_string_lossy().into_owned())
                    .or_default()
                    .push(shown);
            }
        }
    }
    for v in map.values_mut() {
        v.sort();
    }
    map
}

/// How long the bench waits between rescans when no uevent arrives.
pub const RESCAN: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_uevent_for_a_disk_is_read_and_anything_else_is_not() {
        let add =
            b"add@/devices/virtual/block/loop7\0ACTION=add\0DEVPATH=/devices/virtual/block/loop7\0\
                    SUBSYSTEM=block\0MAJOR=7\0MINOR=7\0DEVNAME=loop7\0DEVTYPE=disk\0SEQNUM=4242\0";
        assert_eq!(
            parse(add),
            Some(Uevent {
                action: "add".into(),
                name: "loop7".into(),
                devtype: "disk".into()
            })
        );
        let net = b"add@/devices/virtual/net/tap0\0ACTION=add\0SUBSYSTEM=net\0INTERFACE=tap0\0";
        assert_eq!(parse(net), None);
        // libudev's re-broadcast (group 2) starts with "libudev\0" and a binary header.
        assert_eq!(parse(b"libudev\0\xfe\xed\xca\xfe"), None);
        assert_eq!(parse(b""), None);
        let part = b"remove@/devices/x/block/sdb/sdb1\0ACTION=remove\0SUBSYSTEM=block\0DEVNAME=/dev/sdb1\0DEVTYPE=partition\0";
        assert_eq!(
            parse(part).map(|u| (u.name, u.devtype)),
            Some(("sdb1".into(), "partition".into()))
        );
    }

    #[test]
    fn a_scan_reads_size_numbers_backing_files_and_links() {
        let root = tempfile::tempdir().unwrap();
        let (sys, dev) = (root.path().join("sys"), root.path().join("dev"));
        let disk = |name: &str, devno: &str, sectors: &str| {
            let d = sys.join("block").join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("dev"), format!("{devno}\n")).unwrap();
            std::fs::write(d.join("size"), format!("{sectors}\n")).unwrap();
            d
        };
        disk("sdb", "8:16", "2048");
        let lo = disk("loop3", "7:3", "0");
        std::fs::create_dir_all(lo.join("loop")).unwrap();
        std::fs::write(lo.join("loop/backing_file"), "/tmp/a.img\n").unwrap();
        std::fs::write(lo.join("loop/autoclear"), "1\n").unwrap();
        std::fs::create_dir_all(sys.join("block/broken")).unwrap();
        std::fs::create_dir_all(dev.join("disk/by-path")).unwrap();
        std::os::unix::fs::symlink("../../sdb", dev.join("disk/by-path/pci-0-sas-phy7-lun-0"))
            .unwrap();
        let got = scan(&sys, &dev);
        assert_eq!(
            got.len(),
            2,
            "a directory without a dev number is no disk: {got:?}"
        );
        assert_eq!(got[0].names.kernel, "loop3");
        assert_eq!(got[0].size, 0);
        assert!(got[0].detaching);
        assert_eq!(got[0].names.backing, Some(PathBuf::from("/tmp/a.img")));
        assert_eq!(got[1].devno, (8, 16));
        assert_eq!(got[1].size, 2048 * 512);
        assert!(!got[1].detaching);
        assert_eq!(
            got[1].names.links,
            vec![PathBuf::from("/dev/disk/by-path/pci-0-sas-phy7-lun-0")]
        );
        assert_eq!(got[1].node(), PathBuf::from("/dev/sdb"));
    }

    #[test]
    fn another_file_or_another_size_in_the_same_place_is_another_medium() {
        let d = |backing: &str, size: u64| Disk {
            names: Names {
                kernel: "loop3".into(),
                links: vec![],
                backing: Some(backing.into()),
            },
            devno: (7, 3),
            size,
            detaching: false,
            serial: String::new(),
            wwn: String::new(),
        };
        assert!(d("/a", 100).same_medium(&d("/a", 100)));
        assert!(!d("/a", 100).same_medium(&d("/b", 100)));
        assert!(!d("/a", 100).same_medium(&d("/a", 200)));
        // A drive swapped in a bay that the kernel gave the same number: its serial tells.
        let sd = |serial: &str, wwn: &str| Disk {
            names: Names {
                kernel: "sdb".into(),
                ..Names::default()
            },
            devno: (8, 16),
            size: 100,
            detaching: false,
            serial: serial.into(),
            wwn: wwn.into(),
        };
        assert!(sd("S1", "naa.5000").same_medium(&sd("S1", "naa.5000")));
        assert!(!sd("S1", "").same_medium(&sd("S2", "")));
        assert!(!sd("", "naa.5000").same_medium(&sd("", "naa.5001")));
        assert!(
            sd("S1", "").same_medium(&sd("", "")),
            "unknown is no contradiction"
        );
    }

    #[test]
    fn the_disk_at_a_device_number_is_read_with_its_serial_and_wwn() {
        let root = tempfile::tempdir().unwrap();
        let (sys, dev) = (root.path().join("sys"), root.path().join("dev"));
        let d = sys.join("devices/pci0/host0/target0/0:0:0:0/block/sdc");
        std::fs::create_dir_all(d.join("device")).unwrap();
        std::fs::create_dir_all(d.join("sdc1")).unwrap();
        std::fs::write(d.join("dev"), "8:32\n").unwrap();
        std::fs::write(d.join("size"), "4096\n").unwrap();
        std::fs::write(d.join("wwid"), "naa.5000c500a1b2c3d4\n").unwrap();
        let mut pg80 = vec![0, 0x80, 0, 12];
        pg80.extend_from_slice(b"  ZA1B2C3D  ");
        std::fs::write(d.join("device/vpd_pg80"), pg80).unwrap();
        std::fs::write(d.join("sdc1/partition"), "1\n").unwrap();
        std::fs::write(d.join("sdc1/dev"), "8:33\n").unwrap();
        std::fs::create_dir_all(sys.join("dev/block")).unwrap();
        std::os::unix::fs::symlink(&d, sys.join("dev/block/8:32")).unwrap();
        std::os::unix::fs::symlink(d.join("sdc1"), sys.join("dev/block/8:33")).unwrap();
        std::fs::create_dir_all(dev.join("disk/by-id")).unwrap();
        std::os::unix::fs::symlink("../../sdc", dev.join("disk/by-id/wwn-0x5000c500a1b2c3d4"))
            .unwrap();
        let got = disk_at(&sys, &dev, (8, 32)).expect("the disk");
        assert_eq!(got.names.kernel, "sdc");
        assert_eq!(got.serial, "ZA1B2C3D");
        assert_eq!(got.wwn, "naa.5000c500a1b2c3d4");
        assert_eq!(got.size, 4096 * 512);
        assert_eq!(
            got.names.links,
            vec![PathBuf::from("/dev/disk/by-id/wwn-0x5000c500a1b2c3d4")]
        );
        assert_eq!(
            disk_at(&sys, &dev, (8, 33)),
            None,
            "a partition is no drive"
        );
        assert_eq!(disk_at(&sys, &dev, (8, 48)), None, "nothing there");
    }
}
