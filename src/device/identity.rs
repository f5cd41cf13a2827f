//! Who the target is: vendor, model, serial and how it is attached, read from sysfs for block
//! devices, and the filesystem underneath for image files. Reading takes a sysfs root so tests
//! can point it at a fixture tree.

use std::fs::Metadata;
use std::path::Path;

pub use crate::contract::media::Identity;

/// Whether a disk that presents itself as an ATA, SCSI or NVMe drive is in fact virtual: a
/// hypervisor's or a cloud's virtual disk (by what the device reports: vendor, model, the
/// NVMe subsystem's NQN) or a RAID controller's logical volume (by its controller's driver
/// and the vendor or model a logical volume reports). `None`: nothing says so.
pub fn virtual_disk(
    vendor: &str,
    model: &str,
    host_driver: &str,
    subsys_nqn: &str,
) -> Option<String> {
    let v = vendor.trim().to_ascii_lowercase();
    let m = model.trim().to_ascii_lowercase();
    let nqn = subsys_nqn.trim().to_ascii_lowercase();
    let said = || {
        let mut parts = Vec::new();
        if !vendor.trim().is_empty() {
            parts.push(format!("vendor '{}'", vendor.trim()));
        }
        if !model.trim().is_empty() {
            parts.push(format!("model '{}'", model.trim()));
        }
        parts.join(", ")
    };
    let hypervisor = if v == "qemu" || m.starts_with("qemu ") || nqn.contains("org.qemu") {
        Some("a QEMU virtual disk")
    } else if v == "vmware" || v == "vmware," || m.starts_with("vmware virtual") {
        Some("a VMware virtual disk")
    } else if v == "msft" && m.contains("virtual disk") {
        Some("a Hyper-V virtual disk")
    } else if m.starts_with("vbox ") {
        Some("a VirtualBox virtual disk")
    } else if m.contains("amazon elastic block store") {
        Some("an Amazon EBS volume")
    } else if m == "persistentdisk"
        || m.starts_with("nvme_card-pd")
        || (v == "google" && m.contains("persistent"))
    {
        Some("a Google Persistent Disk")
    } else if v == "lio-org" || m == "tcmu device" {
        Some("a LIO (Linux SCSI target) logical unit")
    } else {
        None
    };
    if let Some(what) = hypervisor {
        let how = if nqn.contains("org.qemu") && v != "qemu" && !m.starts_with("qemu ") {
            format!("subsystem NQN '{}'", subsys_nqn.trim())
        } else {
            said()
        };
        return Some(format!("{what} ({how})"));
    }
    let raid_vendor = [
        "lsi", "avago", "broadcom", "dell", "hp", "hpe", "mscc", "adaptec",
    ];
    let volume = match host_driver {
        "megaraid_sas" | "mpi3mr" => raid_vendor.contains(&v.as_str()),
        "hpsa" | "smartpqi" | "aacraid" => {
            m.contains("logical volume")
                || m.contains("logicaldrv")
                || raid_vendor.contains(&v.as_str())
        }
        "mpt3sas" | "mpt2sas" => m.contains("logical volume"),
        _ => m.contains("logical volume") && raid_vendor.contains(&v.as_str()),
    };
    volume.then(|| {
        format!(
            "a RAID logical volume ({}{})",
            if host_driver.is_empty() {
                String::new()
            } else {
                format!("controller driver {host_driver}, ")
            },
            said()
        )
    })
}

fn read_trim(p: &Path) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Reads the identity of block device `devno` from the sysfs tree at `sys`.
pub fn for_block(sys: &Path, devno: (u64, u64)) -> Identity {
    let link = sys.join(format!("dev/block/{}:{}", devno.0, devno.1));
    let dir = std::fs::canonicalize(&link).unwrap_or(link);
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let real = dir.to_string_lossy().into_owned();
    // A partition's device attributes live on its parent disk.
    let disk = if dir.join("partition").exists() {
        dir.parent().unwrap_or(&dir).to_path_buf()
    } else {
        dir.clone()
    };
    let dev = disk.join("device");
    let mut id = Identity {
        vendor: read_trim(&dev.join("vendor")),
        model: read_trim(&dev.join("model")),
        firmware: read_trim(&dev.join("firmware_rev")),
        wwn: read_trim(&disk.join("wwid")),
        ..Identity::default()
    };
    if id.firmware.is_empty() {
        id.firmware = read_trim(&dev.join("rev"));
    }
    if id.wwn.is_empty() {
        id.wwn = read_trim(&dev.join("wwid"));
    }
    let serial = read_trim(&dev.join("serial"));
    if !serial.is_empty() {
        id.serial = serial;
        id.serial_source = "sysfs device/serial".into();
    } else if let Ok(pg80) = std::fs::read(dev.join("vpd_pg80")) {
        // SCSI VPD page 0x80: 4-byte header, then the ASCII serial number.
        if pg80.len() > 4 {
            id.serial = String::from_utf8_lossy(&pg80[4..])
                .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string();
            id.serial_source = "SCSI VPD page 0x80 (sysfs)".into();
        }
    } else {
        let s = read_trim(&disk.join("serial"));
        if !s.is_empty() {
            id.serial = s;
            id.serial_source = "sysfs serial".into();
        }
    }
    let rotational = read_trim(&disk.join("queue/rotational")) == "1";
    id.zoned = match read_trim(&disk.join("queue/zoned")).as_str() {
        "none" | "" => String::new(),
        z => z.to_string(),
    };
    let removable = read_trim(&disk.join("removable")) == "1";
    id.rotational = rotational;
    id.removable = removable;
    id.interface = if name.starts_with("loop") {
        "loop"
    } else if name.starts_with("nvme") {
        "nvme"
    } else if name.starts_with("vd") {
        "virtio"
    } else if name.starts_with("mmcblk") {
        "mmc"
    } else if real.contains("/usb") {
        "usb"
    } else if real.contains("/ata") {
        "sata"
    } else if real.contains("/end_device") || real.contains("/sas") {
        "sas"
    } else if real.contains("/host") {
        "scsi"
    } else {
        ""
    }
    .into();
    // The SCSI host's driver (a RAID controller's logical volumes are not drives).
    let host_driver = real
        .split('/')
        .find(|c| {
            c.starts_with("host") && c[4..].bytes().all(|b| b.is_ascii_digit()) && c.len() > 4
        })
        .map(|h| read_trim(&sys.join("class/scsi_host").join(h).join("proc_name")))
        .unwrap_or_default();
    let nqn = if id.interface == "nvme" {
        let ctrl = std::fs::canonicalize(&dev).unwrap_or_else(|_| dev.clone());
        let direct = read_trim(&ctrl.join("subsysnqn"));
        if direct.is_empty() {
            read_trim(&disk.join("device/subsysnqn"))
        } else {
            direct
        }
    } else {
        String::new()
    };
    id.virtual_disk = virtual_disk(&id.vendor, &id.model, &host_driver, &nqn).unwrap_or_default();
    id.media_type = match id.interface.as_str() {
        _ if !id.virtual_disk.is_empty() => "virtual",
        "loop" | "virtio" => "virtual",
        "nvme" => "nvme",
        "usb" | "mmc" => "removable flash",
        _ if removable => "removable",
        _ if rotational => "hdd",
        _ => "ssd",
    }
    .into();
    match id.interface.as_str() {
        "loop" => {
            id.backing = read_trim(&disk.join("loop/backing_file"));
            id.serial_source = "none (loop device)".into();
        }
        "nvme" => {
            // device -> the controller (/sys/class/nvme/nvmeX); the namespace has its nsid.
            // A multipath head's device is the subsystem: take its first controller.
            let mut ctrl = std::fs::canonicalize(&dev).unwrap_or_else(|_| dev.clone());
            if ctrl
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("nvme-subsys"))
            {
                let first = std::fs::read_dir(&ctrl).ok().and_then(|rd| {
                    let mut v: Vec<_> = rd
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| {
                            n.strip_prefix("nvme").is_some_and(|d| {
                                !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
                            })
                        })
                        .collect();
                    v.sort();
                    v.into_iter().next()
                });
                if let Some(c) = first.and_then(|c| std::fs::canonicalize(ctrl.join(c)).ok()) {
                    ctrl = c;
                }
            }
            let cname = ctrl
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let cntlid = read_trim(&ctrl.join("cntlid"));
            id.nvme_controller = if cntlid.is_empty() {
                cname
            } else {
                format!("{cname} (cntlid {cntlid})")
            };
            id.nvme_namespace = read_trim(&disk.join("nsid"));
            if !id.serial.is_empty() {
                id.serial_source = "NVMe Identify Controller (sysfs)".into();
            }
        }
        "usb" if id.serial.is_empty() || id.serial_source.starts_with("SCSI") => {
            // The USB device (the ancestor with idVendor) carries the descriptor's serial.
            let real_dev = std::fs::canonicalize(&dev).unwrap_or_else(|_| dev.clone());
            if let Some(usb) = real_dev.ancestors().find(|a| a.join("idVendor").exists()) {
                let serial = read_trim(&usb.join("serial"));
                if !serial.is_empty() {
                    id.serial = serial;
                    id.serial_source = "USB device descriptor (sysfs)".into();
                }
            }
        }
        _ => {}
    }
    id
}

/// The identity of an image file: the filesystem and device it lives on.
pub fn for_image(path: &Path, meta: &Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    let dev = meta.dev();
    let (maj, min) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let fs = super::safety::parse_mountinfo(&mountinfo)
        .into_iter()
        .filter(|m| m.devno == (maj, min) && path.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.len());
    let backing = match fs {
        Some(m) => format!(
            "{} filesystem on {} (device {maj}:{min}), mounted at {}",
            m.fs_type, m.source, m.mount_point
        ),
        None => format!("device {maj}:{min}"),
    };
    Identity {
        interface: "file".into(),
        media_type: "image".into(),
        serial_source: "none (image file)".into(),
        backing,
        ..Identity::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn link(root: &Path, devno: &str, target: &str) {
        fs::create_dir_all(root.join("dev/block")).unwrap();
        fs::create_dir_all(root.join(target)).unwrap();
        std::os::unix::fs::symlink(root.join(target), root.join("dev/block").join(devno)).unwrap();
    }

    #[test]
    fn reads_a_sata_hdd_fixture() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let d = "devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda";
        link(r, "8:0", d);
        write(r, &format!("{d}/device/vendor"), "ATA     \n");
        write(r, &format!("{d}/device/model"), "WDC WD40EFRX-68N\n");
        write(r, &format!("{d}/device/rev"), "0A82\n");
        let mut pg80 = vec![0u8, 0x80, 0, 12];
        pg80.extend_from_slice(b"WD-WCC7K0ABC");
        fs::write(r.join(d).join("device/vpd_pg80"), pg80).unwrap();
        write(r, &format!("{d}/queue/rotational"), "1\n");
        write(r, &format!("{d}/removable"), "0\n");
        let id = for_block(r, (8, 0));
        assert_eq!(id.vendor, "ATA");
        assert_eq!(id.model, "WDC WD40EFRX-68N");
        assert_eq!(id.serial, "WD-WCC7K0ABC");
        assert_eq!(id.serial_source, "SCSI VPD page 0x80 (sysfs)");
        assert_eq!(id.firmware, "0A82");
        assert_eq!(id.interface, "sata");
        assert_eq!(id.media_type, "hdd");
        assert_eq!(id.zoned, "", "no queue/zoned: not zoned");
        // An SMR drive the kernel drives as host-managed; "none" is not zoned.
        write(r, &format!("{d}/queue/zoned"), "host-managed\n");
        assert_eq!(for_block(r, (8, 0)).zoned, "host-managed");
        write(r, &format!("{d}/queue/zoned"), "none\n");
        assert_eq!(for_block(r, (8, 0)).zoned, "");
    }

    #[test]
    fn reads_nvme_and_loop_fixtures() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let n = "devices/pci0000:00/0000:00:03.0/nvme/nvme0/nvme0n1";
        link(r, "259:0", n);
        write(r, &format!("{n}/device/model"), "Samsung SSD 980 PRO 1TB\n");
        write(r, &format!("{n}/device/serial"), "S5GXNF0R123456\n");
        write(r, &format!("{n}/device/firmware_rev"), "5B2QGXA7\n");
        write(r, &format!("{n}/wwid"), "eui.002538b111b22c33\n");
        write(r, &format!("{n}/nsid"), "1\n");
        // `device` links to the controller, /sys/class/nvme/nvme0.
        let ctrl = r.join("devices/pci0000:00/0000:00:03.0/nvme/nvme0");
        fs::rename(r.join(n).join("device"), ctrl.join("ctrl")).unwrap();
        fs::write(ctrl.join("ctrl/cntlid"), "4\n").unwrap();
        std::os::unix::fs::symlink(ctrl.join("ctrl"), r.join(n).join("device")).unwrap();
        let id = for_block(r, (259, 0));
        assert_eq!(id.nvme_controller, "ctrl (cntlid 4)");
        assert_eq!(id.nvme_namespace, "1");
        assert_eq!(id.serial_source, "NVMe Identify Controller (sysfs)");
        assert_eq!(
            (id.interface.as_str(), id.media_type.as_str()),
            ("nvme", "nvme")
        );
        assert_eq!(id.serial, "S5GXNF0R123456");
        assert_eq!(id.firmware, "5B2QGXA7");
        assert_eq!(id.wwn, "eui.002538b111b22c33");

        let l = "devices/virtual/block/loop3";
        link(r, "7:3", l);
        write(r, &format!("{l}/loop/backing_file"), "/tmp/disk.img\n");
        let id = for_block(r, (7, 3));
        assert_eq!(id.interface, "loop");
        assert_eq!(id.backing, "/tmp/disk.img");
        assert_eq!(id.media_type, "virtual");
    }

    #[test]
    fn reads_usb_stick_and_virtio_fixtures() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let usb = "devices/pci0000:00/0000:00:14.0/usb1/1-1";
        let d = format!("{usb}/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdd");
        link(r, "8:48", &d);
        write(r, &format!("{usb}/idVendor"), "0781\n");
        write(r, &format!("{usb}/serial"), "4C530001231116112530\n");
        write(r, &format!("{d}/device/vendor"), "SanDisk \n");
        write(r, &format!("{d}/device/model"), "Cruzer Blade    \n");
        write(r, &format!("{d}/removable"), "1\n");
        write(r, &format!("{d}/queue/rotational"), "1\n");
        // `device` is a symlink to the SCSI device directory, as in sysfs.
        let scsi = r.join(format!("{usb}/1-1:1.0/host6/target6:0:0/6:0:0:0"));
        fs::rename(r.join(&d).join("device"), scsi.join("attrs")).unwrap();
        std::os::unix::fs::symlink(scsi.join("attrs"), r.join(&d).join("device")).unwrap();
        let id = for_block(r, (8, 48));
        assert_eq!(
            (id.interface.as_str(), id.media_type.as_str()),
            ("usb", "removable flash")
        );
        assert_eq!(id.vendor, "SanDisk");
        assert_eq!(id.model, "Cruzer Blade");
        assert!(id.removable);
        assert_eq!(id.serial, "4C530001231116112530");
        assert_eq!(id.serial_source, "USB device descriptor (sysfs)");

        let v = "devices/pci0000:00/0000:00:04.0/virtio1/block/vda";
        link(r, "254:0", v);
        write(r, &format!("{v}/serial"), "disk-0001\n");
        let id = for_block(r, (254, 0));
        assert_eq!(
            (id.interface.as_str(), id.media_type.as_str()),
            ("virtio", "virtual")
        );
        assert_eq!(
            (id.serial.as_str(), id.serial_source.as_str()),
            ("disk-0001", "sysfs serial")
        );
    }

    #[test]
    fn virtual_disks_and_raid_volumes_are_told_from_drives() {
        let v = |vendor, model, driver, nqn| virtual_disk(vendor, model, driver, nqn);
        assert!(v("QEMU", "QEMU HARDDISK", "", "").unwrap().contains("QEMU"));
        assert!(v("ATA", "QEMU HARDDISK", "ahci", "")
            .unwrap()
            .contains("QEMU"));
        assert!(v("", "QEMU NVMe Ctrl", "", "nqn.2019-08.org.qemu:serial1")
            .unwrap()
            .contains("QEMU"));
        assert!(v("", "Some NVMe", "", "nqn.2019-08.org.qemu:x")
            .unwrap()
            .contains("NQN"));
        assert!(v("VMware", "Virtual disk", "vmw_pvscsi", "")
            .unwrap()
            .contains("VMware"));
        assert!(v("", "VMware Virtual NVMe Disk", "", "").is_some());
        assert!(v("Msft", "Virtual Disk", "storvsc", "")
            .unwrap()
            .contains("Hyper-V"));
        assert!(v("ATA", "VBOX HARDDISK", "ahci", "").is_some());
        assert!(v("", "Amazon Elastic Block Store", "", "")
            .unwrap()
            .contains("EBS"));
        assert!(v("Google", "PersistentDisk", "virtio_scsi", "")
            .unwrap()
            .contains("Google"));
        assert!(v("LIO-ORG", "TCMU device", "tcm_loopback", "").is_some());
        // RAID logical volumes, by controller.
        assert!(v("DELL", "PERC H730P Mini", "megaraid_sas", "")
            .unwrap()
            .contains("RAID"));
        assert!(v("AVAGO", "MR9361-8i", "megaraid_sas", "").is_some());
        assert!(v("HP", "LOGICAL VOLUME", "hpsa", "").is_some());
        assert!(v("LSI", "Logical Volume", "mpt3sas", "").is_some());
        // Physical drives, also behind those controllers (JBOD, HBA mode).
        assert_eq!(v("ATA", "ST4000NM0035-1V4", "megaraid_sas", ""), None);
        assert_eq!(v("SEAGATE", "ST4000NM0025", "mpt3sas", ""), None);
        assert_eq!(v("ATA", "WDC WD40EFRX-68N", "ahci", ""), None);
        assert_eq!(
            v(
                "",
                "Samsung SSD 980 PRO 1TB",
                "",
                "nqn.2014.08.org.nvmexpress:144d"
            ),
            None
        );
        assert_eq!(
            v("", "Amazon EC2 NVMe Instance Storage", "", ""),
            None,
            "local instance storage is a drive"
        );
    }

    #[test]
    fn missing_sysfs_gives_empty_fields_not_errors() {
        let t = tempfile::tempdir().unwrap();
        let id = for_block(t.path(), (1, 2));
        assert_eq!(id.model, "");
        assert_eq!(id.serial, "");
    }
}
