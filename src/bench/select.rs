//! Which drives a bench may touch: only those that match an explicit `--include` pattern and
//! no `--exclude` one. Pure: the names of a drive come from [`super::watch`].
//!
//! A pattern is a shell glob (`*`, `?`, `[...]`; `/` only matched by `/`) over one of a
//! drive's names, chosen by how it starts:
//! - `/dev/disk/...` (`/dev/disk/by-path/pci-0000:03:00.0-sas-phy7-lun-0`, `.../by-id/ata-*`):
//!   the drive's links there (a bay's by-path name stays with the bay);
//! - `/dev/...` (`/dev/sd*`): the device node;
//! - any other absolute path (`/srv/images/*.img`): the backing file of a loop device (testers);
//! - anything else (`sd*`, `nvme*n1`): the kernel name.

use std::path::PathBuf;

use crate::error::Error;

/// Every name a drive is known by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    /// Kernel name: `sdb`, `nvme0n1`, `loop3`.
    pub kernel: String,
    /// Its links under `/dev/disk/` (`by-path`, `by-id`, ...).
    pub links: Vec<PathBuf>,
    /// A loop device's backing file.
    pub backing: Option<PathBuf>,
}

#[derive(Clone, Debug)]
enum On {
    Kernel,
    Node,
    Link,
    Backing,
}

#[derive(Clone, Debug)]
struct Pattern {
    text: String,
    glob: glob::Pattern,
    on: On,
}

impl Pattern {
    fn new(text: &str, flag: &str) -> Result<Pattern, Error> {
        let glob = glob::Pattern::new(text).map_err(|e| {
            Error::Usage(format!(
                "{flag} {text}: not a valid pattern ({e}); use a shell glob such as 'sd*' or \
                 '/dev/disk/by-path/*-sas-phy*'"
            ))
        })?;
        let on = if text.starts_with("/dev/disk/") {
            On::Link
        } else if text.starts_with("/dev/") {
            On::Node
        } else if text.starts_with('/') {
            On::Backing
        } else {
            On::Kernel
        };
        Ok(Pattern {
            text: text.into(),
            glob,
            on,
        })
    }

    fn matches(&self, n: &Names) -> bool {
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        let m = |s: &str| self.glob.matches_with(s, opts);
        match self.on {
            On::Kernel => m(&n.kernel),
            On::Node => m(&format!("/dev/{}", n.kernel)),
            On::Link => n.links.iter().any(|l| m(&l.to_string_lossy())),
            On::Backing => n.backing.as_ref().is_some_and(|b| m(&b.to_string_lossy())),
        }
    }
}

impl Names {
    /// These names without the `/dev/disk/by-id/` links that do not name this drive: udev
    /// makes those links from the serial and WWN it read, and where it has not caught up with
    /// a drive swapped under the same kernel name (or runs not at all, in a container) a link
    /// can still carry the previous drive's name. A by-id link counts only if its name holds
    /// the `serial` or the `wwn` the drive itself reported (spaces as udev writes them, `_`).
    pub fn confirmed(&self, serial: &str, wwn: &str) -> Names {
        let mut tokens: Vec<String> = Vec::new();
        let serial = serial.split_whitespace().collect::<Vec<_>>().join("_");
        if serial.len() >= 4 {
            tokens.push(serial.to_ascii_lowercase());
        }
        // `naa.5000c500a1b2c3d4` is `wwn-0x5000c500a1b2c3d4` and `scsi-35000c500a1b2c3d4`;
        // `eui.0025...` is `nvme-eui.0025...`.
        let wwn = wwn.trim().to_ascii_lowercase();
        let hex = wwn
            .strip_prefix("naa.")
            .or_else(|| wwn.strip_prefix("0x"))
            .unwrap_or(&wwn);
        if hex.len() >= 8 && !wwn.starts_with("t10.") {
            tokens.push(hex.to_string());
        }
        let links = self
            .links
            .iter()
            .filter(|l| {
                let Ok(rest) = l.strip_prefix("/dev/disk/by-id") else {
                    return true;
                };
                let name = rest.to_string_lossy().to_ascii_lowercase();
                tokens.iter().any(|t| name.contains(t.as_str()))
            })
            .cloned()
            .collect();
        Names {
            links,
            ..self.clone()
        }
    }

    /// For people: the kernel name, then the backing file or the links.
    pub fn describe(&self) -> String {
        let mut s = format!("/dev/{}", self.kernel);
        if let Some(b) = &self.backing {
            s += &format!(" (backing file {})", b.display());
        } else if !self.links.is_empty() {
            let l: Vec<String> = self.links.iter().map(|l| l.display().to_string()).collect();
            s += &format!(" ({})", l.join(", "));
        }
        s
    }
}

/// The bench's selection.
#[derive(Clone, Debug)]
pub struct Selection {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

impl Selection {
    /// The selection of `--include` and `--exclude`.
    ///
    /// # Errors
    /// [`Error::Usage`] without any `--include`, or with a pattern that is not a glob.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Selection, Error> {
        if include.is_empty() {
            return Err(Error::Usage(
                "bench needs --include PATTERN: the drives it may wipe as they are plugged in \
                 (a kernel name glob such as 'sd*', or a bay's '/dev/disk/by-path/...' glob)"
                    .into(),
            ));
        }
        Ok(Selection {
            include: include
                .iter()
                .map(|p| Pattern::new(p, "--include"))
                .collect::<Result<_, _>>()?,
            exclude: exclude
                .iter()
                .map(|p| Pattern::new(p, "--exclude"))
                .collect::<Result<_, _>>()?,
        })
    }

    /// True when a drive known by `n` may be wiped by this bench: an include pattern names it
    /// and no exclude pattern does.
    pub fn selects(&self, n: &Names) -> bool {
        self.include.iter().any(|p| p.matches(n)) && !self.exclude.iter().any(|p| p.matches(n))
    }

    /// Why a pattern can never name a drive, one line each (said when the bench starts: a
    /// bench that waits for a drive its pattern cannot match would wait forever in silence).
    pub fn never(&self) -> Vec<String> {
        let mut why = Vec::new();
        let flagged = self
            .include
            .iter()
            .map(|p| ("--include", p))
            .chain(self.exclude.iter().map(|p| ("--exclude", p)));
        for (flag, p) in flagged {
            let t = p.text.as_str();
            let reason = match p.on {
                On::Kernel if t.contains('/') => Some(
                    "it is matched against kernel names (sdb, nvme0n1), which have no '/'; a \
                     device node starts with /dev/",
                ),
                On::Link
                    if ["/dev/disk/by-partuuid/", "/dev/disk/by-partlabel/", "/dev/disk/by-uuid/", "/dev/disk/by-label/"]
                        .iter()
                        .any(|d| t.starts_with(d)) =>
                {
                    Some("those links name partitions and filesystems, and a bench takes whole drives; use /dev/disk/by-path/ (a bay) or /dev/disk/by-id/")
                }
                On::Node if t.starts_with("/dev/mapper/") || t.starts_with("/dev/md") => Some(
                    "a bench takes whole drives as they are plugged in, never mapped or RAID devices",
                ),
                _ => None,
            };
            if let Some(r) = reason {
                why.push(format!("{flag} {t} can match no drive: {r}"));
            }
        }
        why
    }

    /// The patterns, for people: `include sd*, /dev/disk/by-path/*; exclude sda`.
    pub fn describe(&self) -> String {
        let list = |v: &[Pattern]| {
            v.iter()
                .map(|p| p.text.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = format!("include {}", list(&self.include));
        if !self.exclude.is_empty() {
            s += &format!("; exclude {}", list(&self.exclude));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(kernel: &str, links: &[&str], backing: Option<&str>) -> Names {
        Names {
            kernel: kernel.into(),
            links: links.iter().map(PathBuf::from).collect(),
            backing: backing.map(PathBuf::from),
        }
    }

    fn sel(inc: &[&str], exc: &[&str]) -> Selection {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Selection::new(&s(inc), &s(exc)).unwrap()
    }

    #[test]
    fn nothing_is_selected_without_an_include() {
        let e = Selection::new(&[], &["sda".into()]).unwrap_err();
        assert!(e.to_string().contains("--include"), "{e}");
    }

    #[test]
    fn kernel_names_device_nodes_links_and_backing_files_each_match_their_own_kind() {
        let sdb = names(
            "sdb",
            &[
                "/dev/disk/by-path/pci-0000:03:00.0-sas-phy7-lun-0",
                "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4",
            ],
            None,
        );
        assert!(sel(&["sd*"], &[]).selects(&sdb));
        assert!(sel(&["/dev/sd?"], &[]).selects(&sdb));
        assert!(sel(&["/dev/disk/by-path/*-sas-phy7-*"], &[]).selects(&sdb));
        assert!(!sel(&["/dev/disk/by-path/*-sas-phy6-*"], &[]).selects(&sdb));
        assert!(!sel(&["nvme*"], &[]).selects(&sdb));
        // A kernel-name pattern is not a path: "sdb" is not matched by a link glob's words.
        assert!(!sel(&["*phy7*"], &[]).selects(&sdb));
        let lo = names("loop7", &[], Some("/tmp/bench-x/a.img"));
        assert!(sel(&["/tmp/bench-x/*.img"], &[]).selects(&lo));
        assert!(
            !sel(&["/tmp/*.img"], &[]).selects(&lo),
            "'*' does not cross a '/'"
        );
        assert!(!sel(&["/tmp/bench-x/*.img"], &[]).selects(&sdb));
    }

    #[test]
    fn an_exclude_wins_over_an_include() {
        let s = sel(&["sd*"], &["sda", "/dev/disk/by-id/*BOOT*"]);
        assert!(!s.selects(&names("sda", &[], None)));
        assert!(!s.selects(&names("sdc", &["/dev/disk/by-id/ata-BOOT_SSD_1"], None)));
        assert!(s.selects(&names("sdd", &["/dev/disk/by-id/ata-DATA_1"], None)));
        assert_eq!(
            s.describe(),
            "include sd*; exclude sda, /dev/disk/by-id/*BOOT*"
        );
    }

    #[test]
    fn a_by_id_link_counts_only_if_it_names_the_drive_that_answered() {
        let n = names(
            "sdb",
            &[
                "/dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0123456",
                "/dev/disk/by-id/wwn-0x50014ee2b1c2d3e4",
                "/dev/disk/by-id/ata-OLD_DRIVE_ZA1B2C3D",
                "/dev/disk/by-path/pci-0000:03:00.0-sas-phy7-lun-0",
            ],
            None,
        );
        let c = n.confirmed("WD-WCC7K0123456", "naa.50014ee2b1c2d3e4");
        assert_eq!(
            c.links,
            vec![
                PathBuf::from("/dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0123456"),
                PathBuf::from("/dev/disk/by-id/wwn-0x50014ee2b1c2d3e4"),
                PathBuf::from("/dev/disk/by-path/pci-0000:03:00.0-sas-phy7-lun-0"),
            ],
            "the stale link of the drive that was there before is dropped; by-path stays"
        );
        assert!(!sel(&["/dev/disk/by-id/*ZA1B2C3D*"], &[]).selects(&c));
        // A serial with spaces is written with '_' by udev.
        let m = names("sdc", &["/dev/disk/by-id/ata-X_S3Z9_NB0K"], None);
        assert_eq!(m.confirmed("S3Z9 NB0K", "").links.len(), 1);
        // A drive that reports neither: no by-id link can be confirmed.
        assert!(n
            .confirmed("", "")
            .links
            .iter()
            .all(|l| l.starts_with("/dev/disk/by-path")));
        // NVMe: the EUI is in the link's name.
        let nv = names(
            "nvme0n1",
            &["/dev/disk/by-id/nvme-eui.0025388b91b2c3d4"],
            None,
        );
        assert_eq!(nv.confirmed("", "eui.0025388b91b2c3d4").links.len(), 1);
    }

    #[test]
    fn a_pattern_that_can_match_no_drive_is_named_and_a_good_one_is_not() {
        let s = sel(
            &[
                "dev/sd*",
                "sd*",
                "/dev/disk/by-uuid/*",
                "/dev/disk/by-path/*",
            ],
            &["/dev/mapper/*", "sda"],
        );
        let never = s.never();
        assert_eq!(never.len(), 3, "{never:?}");
        assert!(
            never[0].starts_with("--include dev/sd* can match no drive"),
            "{never:?}"
        );
        assert!(
            never[1].starts_with("--include /dev/disk/by-uuid/*"),
            "{never:?}"
        );
        assert!(never[2].starts_with("--exclude /dev/mapper/*"), "{never:?}");
        assert!(sel(&["sd*", "nvme*n1", "/srv/img/*.img"], &[])
            .never()
            .is_empty());
    }

    #[test]
    fn a_broken_pattern_is_refused_with_what_to_write() {
        let e = Selection::new(&["sd[".into()], &[]).unwrap_err();
        assert!(e.to_string().contains("sd["), "{e}");
    }
}
