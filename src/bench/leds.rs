//! A drive's slot lights, where the kernel exposes them: an enclosure's slot
//! (`/sys/class/enclosure/<enclosure>/<slot>/{locate,fault}`, the `ses` driver, whose `device`
//! link names the disk in the slot), or a PCIe slot's NPEM/_DSM LEDs
//! (`/sys/class/leds/<bdf>:enclosure:{locate,fail}`, Linux 6.12+, whose `device` link is the
//! PCI device above the NVMe drive). Where there are none, nothing happens: lights are a help
//! to the person at the bench, never a condition of the work.

use std::path::{Path, PathBuf};

/// What a slot's lights say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Light {
    /// The drive is being worked on: locate on.
    Working,
    /// The drive failed: fault on.
    Failed,
    /// Done well, or pulled: both off.
    Off,
}

/// One drive's slot: its name for people and the files that switch its lights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// `<enclosure>/<slot>` or the LED's PCI address.
    pub name: String,
    locate: PathBuf,
    fault: PathBuf,
}

impl Slot {
    /// The slot holding the disk `kernel` (`sdb`), looked up under the sysfs tree `sys`.
    pub fn find(sys: &Path, kernel: &str) -> Option<Slot> {
        enclosure_slot(sys, kernel).or_else(|| npem_slot(sys, kernel))
    }

    /// Switches the lights (errors ignored: a slot that refuses is left as it is).
    pub fn show(&self, light: Light) {
        let (locate, fault) = match light {
            Light::Working => ("1", "0"),
            Light::Failed => ("0", "1"),
            Light::Off => ("0", "0"),
        };
        let _ = std::fs::write(&self.locate, locate);
        let _ = std::fs::write(&self.fault, fault);
    }
}

/// `class/enclosure/*/*/device` → the SCSI device whose `block/<kernel>` is the disk.
fn enclosure_slot(sys: &Path, kernel: &str) -> Option<Slot> {
    for enc in std::fs::read_dir(sys.join("class/enclosure"))
        .ok()?
        .flatten()
    {
        let Ok(slots) = std::fs::read_dir(enc.path()) else {
            continue;
        };
        for slot in slots.flatten() {
            let dir = slot.path();
            let Ok(device) = std::fs::canonicalize(dir.join("device")) else {
                continue;
            };
            if device.join("block").join(kernel).exists() && dir.join("locate").exists() {
                return Some(Slot {
                    name: format!(
                        "{}/{}",
                        enc.file_name().to_string_lossy(),
                        slot.file_name().to_string_lossy()
                    ),
                    locate: dir.join("locate"),
                    fault: dir.join("fault"),
                });
            }
        }
    }
    None
}

/// `class/leds/<bdf>:enclosure:locate` whose `device` (a PCI function) is above the disk.
fn npem_slot(sys: &Path, kernel: &str) -> Option<Slot> {
    let disk = std::fs::canonicalize(sys.join("class/block").join(kernel)).ok()?;
    for led in std::fs::read_dir(sys.join("class/leds")).ok()?.flatten() {
        let name = led.file_name().to_string_lossy().into_owned();
        let Some(bdf) = name.strip_suffix(":enclosure:locate") else {
            continue;
        };
        let Ok(device) = std::fs::canonicalize(led.path().join("device")) else {
            continue;
        };
        if disk.starts_with(&device) {
            let leds = sys.join("class/leds");
            return Some(Slot {
                name: bdf.to_string(),
                locate: leds.join(&name).join("brightness"),
                fault: leds
                    .join(format!("{bdf}:enclosure:fail"))
                    .join("brightness"),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn read(p: PathBuf) -> String {
        std::fs::read_to_string(p).unwrap_or_default()
    }

    #[test]
    fn an_enclosure_slot_is_found_by_its_device_link_and_its_lights_follow_the_work() {
        let sys = tempfile::tempdir().unwrap();
        let s = sys.path();
        // The SCSI device of the disk in slot 7, and an empty slot 6.
        let scsi = s.join("devices/pci0000:00/host0/port-0:7/end_device-0:7/target0:0:7/0:0:7:0");
        std::fs::create_dir_all(scsi.join("block/sdh")).unwrap();
        let other = s.join("devices/pci0000:00/host0/port-0:6/target0:0:6/0:0:6:0");
        std::fs::create_dir_all(other.join("block/sdg")).unwrap();
        for (slot, dev) in [("Slot07", &scsi), ("Slot06", &other)] {
            let d = s.join("class/enclosure/0:0:8:0").join(slot);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("locate"), "0").unwrap();
            std::fs::write(d.join("fault"), "0").unwrap();
            symlink(dev, d.join("device")).unwrap();
        }
        let slot = Slot::find(s, "sdh").expect("slot 7 holds sdh");
        assert_eq!(slot.name, "0:0:8:0/Slot07");
        let dir = s.join("class/enclosure/0:0:8:0/Slot07");
        slot.show(Light::Working);
        assert_eq!(
            (read(dir.join("locate")), read(dir.join("fault"))),
            ("1".into(), "0".into())
        );
        slot.show(Light::Failed);
        assert_eq!(
            (read(dir.join("locate")), read(dir.join("fault"))),
            ("0".into(), "1".into())
        );
        slot.show(Light::Off);
        assert_eq!(
            (read(dir.join("locate")), read(dir.join("fault"))),
            ("0".into(), "0".into())
        );
        let six = s.join("class/enclosure/0:0:8:0/Slot06");
        assert_eq!(
            read(six.join("locate")),
            "0",
            "the neighbour's light is untouched"
        );
        assert_eq!(
            Slot::find(s, "sdz"),
            None,
            "a disk in no slot has no lights"
        );
    }

    #[test]
    fn an_nvme_drive_below_a_pci_slot_with_npem_leds_uses_them() {
        let sys = tempfile::tempdir().unwrap();
        let s = sys.path();
        let pci = s.join("devices/pci0000:00/0000:00:01.0/0000:01:00.0");
        let disk = pci.join("nvme/nvme0/nvme0n1");
        std::fs::create_dir_all(&disk).unwrap();
        std::fs::create_dir_all(s.join("class/block")).unwrap();
        symlink(&disk, s.join("class/block/nvme0n1")).unwrap();
        for led in ["locate", "fail"] {
            let d = s.join(format!("class/leds/0000:01:00.0:enclosure:{led}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("brightness"), "0").unwrap();
            symlink(&pci, d.join("device")).unwrap();
        }
        let slot = Slot::find(s, "nvme0n1").expect("NPEM LEDs above the drive");
        assert_eq!(slot.name, "0000:01:00.0");
        slot.show(Light::Failed);
        let b = |l: &str| read(s.join(format!("class/leds/0000:01:00.0:enclosure:{l}/brightness")));
        assert_eq!((b("locate"), b("fail")), ("0".into(), "1".into()));
        assert_eq!(Slot::find(s, "sda"), None);
    }
}
