//! The right technique per drive: a policy says, for each class of medium, which techniques to
//! use in order of preference (`[media]` in its TOML); [`classify`] says which class a target
//! is, and [`decide`] takes the first alternative the drive can do, or none (FAIL, with the
//! recommendation Destroy). Pure: what the drive can do comes in through a closure, so the
//! decision table is tested without a drive.

use crate::purge::method::{Grade, Medium, Method};

/// The classes of media a policy names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaClass {
    /// Hard disks (ATA/SCSI, rotating).
    Magnetic,
    /// SATA and SAS solid-state drives.
    Flash,
    /// NVMe namespaces.
    Nvme,
    /// USB sticks, memory cards, drives behind USB bridges: no sanitize command mediasan can
    /// rely on.
    Removable,
    /// Image files, loop devices, virtual disks: no purge of their own; the storage beneath
    /// is not covered.
    Virtual,
}

impl MediaClass {
    pub const ALL: [MediaClass; 5] = [
        MediaClass::Magnetic,
        MediaClass::Flash,
        MediaClass::Nvme,
        MediaClass::Removable,
        MediaClass::Virtual,
    ];

    /// The name in policies, output and certificates.
    pub fn name(self) -> &'static str {
        match self {
            MediaClass::Magnetic => "magnetic",
            MediaClass::Flash => "flash",
            MediaClass::Nvme => "nvme",
            MediaClass::Removable => "removable",
            MediaClass::Virtual => "virtual",
        }
    }
}

/// One technique of an alternative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The strongest Purge-grade command the drive has (as `nist-purge` ranks them).
    Purge,
    /// One named device method, whatever its grade.
    Method(Method),
    /// The policy's overwrite passes (Clear).
    Overwrite,
}

impl Step {
    /// Parses `purge`, `overwrite` or a method name.
    pub fn parse(s: &str) -> Option<Step> {
        match s {
            "purge" => Some(Step::Purge),
            "overwrite" => Some(Step::Overwrite),
            m => Method::from_name(m).map(Step::Method),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::Purge => "purge",
            Step::Overwrite => "overwrite",
            Step::Method(m) => m.name(),
        }
    }
}

/// What a policy uses on each class: alternatives in order of preference, each one or more
/// steps run in order (`purge+overwrite`: the drive's purge, then the overwrite).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRules {
    pub magnetic: Vec<Vec<Step>>,
    pub flash: Vec<Vec<Step>>,
    pub nvme: Vec<Vec<Step>>,
    pub removable: Vec<Vec<Step>>,
    pub r#virtual: Vec<Vec<Step>>,
}

impl MediaRules {
    /// Overwrite on every medium: what a policy without `[media]` does (the legacy presets,
    /// nist-clear).
    pub fn overwrite_everywhere() -> MediaRules {
        let o = vec![vec![Step::Overwrite]];
        MediaRules {
            magnetic: o.clone(),
            flash: o.clone(),
            nvme: o.clone(),
            removable: o.clone(),
            r#virtual: o,
        }
    }

    pub fn of(&self, c: MediaClass) -> &[Vec<Step>] {
        match c {
            MediaClass::Magnetic => &self.magnetic,
            MediaClass::Flash => &self.flash,
            MediaClass::Nvme => &self.nvme,
            MediaClass::Removable => &self.removable,
            MediaClass::Virtual => &self.r#virtual,
        }
    }

    /// An alternative as written in a policy: `purge+overwrite`.
    pub fn describe(alt: &[Step]) -> String {
        alt.iter().map(|s| s.name()).collect::<Vec<_>>().join("+")
    }
}

/// What is known of a target before deciding: the kernel's view, and the drive's own medium
/// (ATA word 217, cross-checked) when a drive could be asked.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// `image`, or the sysfs interface (`nvme`, `sata`, `sas`, `scsi`, `usb`, `mmc`, `loop`,
    /// `virtio`, ...).
    pub interface: String,
    pub image: bool,
    pub removable: bool,
    pub rotational: bool,
    /// What the drive itself says of its medium, if it was asked.
    pub drive_medium: Option<Medium>,
    /// Why it is a virtual disk or a RAID volume although it presents itself as a drive
    /// (empty: nothing says so).
    pub virtual_disk: String,
}

/// The class of a target, and why.
pub fn classify(f: &Facts) -> (MediaClass, String) {
    if f.image {
        return (MediaClass::Virtual, "an image file".into());
    }
    if !f.virtual_disk.is_empty() {
        return (MediaClass::Virtual, f.virtual_disk.clone());
    }
    match f.interface.as_str() {
        "nvme" => (MediaClass::Nvme, "an NVMe namespace".into()),
        "loop" => (MediaClass::Virtual, "a loop device".into()),
        "virtio" | "xen" => (
            MediaClass::Virtual,
            format!("a virtual disk ({})", f.interface),
        ),
        // A USB-attached drive that answers as a drive through its bridge is classed by its
        // medium (a USB hard disk is a hard disk); one that does not (a stick) is removable.
        "usb" => match f.drive_medium {
            Some(Medium::Magnetic) => (
                MediaClass::Magnetic,
                "a USB-attached drive that reports a rotation rate through its bridge".into(),
            ),
            Some(Medium::Flash) => (
                MediaClass::Flash,
                "a USB-attached drive that reports a non-rotating medium through its bridge".into(),
            ),
            _ => (MediaClass::Removable, "a USB device".into()),
        },
        "mmc" => (MediaClass::Removable, "an MMC device".into()),
        _ if f.removable => (MediaClass::Removable, "a removable device".into()),
        "sata" | "sas" | "scsi" | "ata" => match f.drive_medium {
            Some(Medium::Magnetic) => (
                MediaClass::Magnetic,
                "the drive reports a rotation rate".into(),
            ),
            Some(Medium::Flash) => (
                MediaClass::Flash,
                "the drive reports a non-rotating medium".into(),
            ),
            _ if f.rotational => (
                MediaClass::Magnetic,
                "the kernel reports it rotational".into(),
            ),
            _ => (
                MediaClass::Flash,
                "the kernel reports it non-rotational".into(),
            ),
        },
        other => (
            MediaClass::Virtual,
            format!(
                "a {} device mediasan has no sanitize command for",
                if other.is_empty() { "unknown" } else { other }
            ),
        ),
    }
}

/// A step as chosen: the device method (for purge steps) and its grade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chosen {
    Device { method: Method, grade: Grade },
    Overwrite,
}

/// What the policy comes to for one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// These steps, in order; `why` says what was tried before them.
    Run {
        steps: Vec<Chosen>,
        why: Vec<String>,
    },
    /// No alternative applies: FAIL, recommend destruction; why each one does not.
    Destroy(Vec<String>),
    /// A technique the policy prefers is there but blocked for now (frozen, locked, in
    /// failure mode, a scope in use): the remedy, rather than a weaker technique.
    Blocked(String),
}

/// Why the drive cannot do a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// It does not have it (or cannot be asked): the next alternative is tried.
    Lacks(String),
    /// It has it, but something stops it for now: the decision stops here.
    Blocked(String),
}

/// The first alternative of `rules` for `class` whose every step the target can do.
/// `device(None)` asks for the strongest Purge the drive has, `device(Some(m))` for method
/// `m`: the method and its grade, or why not. A `purge` step only takes a Purge-grade method:
/// never, silently, a weaker one.
pub fn decide(
    rules: &MediaRules,
    class: MediaClass,
    mut device: impl FnMut(Option<Method>) -> Result<(Method, Grade), Unavailable>,
) -> Decision {
    let mut why = Vec::new();
    'alternatives: for alt in rules.of(class) {
        let mut steps = Vec::new();
        for s in alt {
            let chosen = match s {
                Step::Overwrite => Ok(Chosen::Overwrite),
                Step::Purge => match device(None) {
                    Ok((m, Grade::Purge)) => Ok(Chosen::Device {
                        method: m,
                        grade: Grade::Purge,
                    }),
                    Ok((m, _)) => Err(Unavailable::Lacks(format!(
                        "{} is only Clear on this medium",
                        m.name()
                    ))),
                    Err(e) => Err(e),
                },
                Step::Method(m) => {
                    device(Some(*m)).map(|(method, grade)| Chosen::Device { method, grade })
                }
            };
            match chosen {
                Ok(c) => steps.push(c),
                Err(Unavailable::Lacks(e)) => {
                    why.push(format!("{}: {e}", MediaRules::describe(alt)));
                    continue 'alternatives;
                }
                Err(Unavailable::Blocked(e)) => return Decision::Blocked(e),
            }
        }
        return Decision::Run { steps, why };
    }
    if rules.of(class).is_empty() {
        why.push(format!(
            "the policy lists no technique for {} media",
            class.name()
        ));
    }
    Decision::Destroy(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<Vec<Step>> {
        text.split_whitespace()
            .map(|a| a.split('+').map(|s| Step::parse(s).unwrap()).collect())
            .collect()
    }

    fn decommission() -> MediaRules {
        MediaRules {
            magnetic: rules("purge overwrite"),
            flash: rules("purge"),
            nvme: rules("purge"),
            removable: vec![],
            r#virtual: rules("overwrite"),
        }
    }

    #[test]
    fn targets_are_classed_by_what_they_are() {
        let f = |interface: &str, rotational, medium| Facts {
            interface: interface.into(),
            rotational,
            drive_medium: medium,
            ..Facts::default()
        };
        let c = |f: Facts| classify(&f).0;
        assert_eq!(c(f("nvme", false, None)), MediaClass::Nvme);
        assert_eq!(c(f("sata", true, None)), MediaClass::Magnetic);
        assert_eq!(c(f("sata", false, None)), MediaClass::Flash);
        // The drive's own word (IDENTIFY word 217) wins over the kernel's guess.
        assert_eq!(c(f("sata", true, Some(Medium::Flash))), MediaClass::Flash);
        assert_eq!(
            c(f("sas", false, Some(Medium::Magnetic))),
            MediaClass::Magnetic
        );
        assert_eq!(c(f("usb", true, None)), MediaClass::Removable);
        assert_eq!(c(f("mmc", false, None)), MediaClass::Removable);
        // A USB hard disk whose bridge passes IDENTIFY is a hard disk, not a stick to destroy.
        assert_eq!(
            c(f("usb", true, Some(Medium::Magnetic))),
            MediaClass::Magnetic
        );
        assert_eq!(c(f("usb", true, Some(Medium::Flash))), MediaClass::Flash);
        assert_eq!(
            c(f("usb", true, Some(Medium::Unknown))),
            MediaClass::Removable
        );
        // A virtual disk or RAID volume that presents itself as a drive is virtual.
        let (class, why) = classify(&Facts {
            virtual_disk: "a QEMU virtual disk (model 'QEMU HARDDISK')".into(),
            ..f("sata", true, Some(Medium::Magnetic))
        });
        assert_eq!(class, MediaClass::Virtual);
        assert!(why.contains("QEMU"), "{why}");
        // Loop devices and virtual disks are virtual by what they are, even when the kernel
        // calls them removable, and the reason (shown in the plan and certified) says which.
        for (interface, why) in [
            ("loop", "a loop device"),
            ("virtio", "a virtual disk (virtio)"),
            ("xen", "a virtual disk (xen)"),
        ] {
            for removable in [false, true] {
                assert_eq!(
                    classify(&Facts {
                        removable,
                        ..f(interface, true, None)
                    }),
                    (MediaClass::Virtual, why.to_string()),
                    "{interface}, removable {removable}"
                );
            }
        }
        assert_eq!(
            c(Facts {
                image: true,
                ..Facts::default()
            }),
            MediaClass::Virtual
        );
        // A SCSI or SATA device with removable media (a card reader, an RDX cartridge) is
        // removable, whatever its rotation.
        for interface in ["scsi", "sata"] {
            assert_eq!(
                classify(&Facts {
                    removable: true,
                    ..f(interface, true, Some(Medium::Magnetic))
                }),
                (MediaClass::Removable, "a removable device".to_string()),
                "{interface}"
            );
        }
    }

    #[test]
    fn the_first_alternative_the_drive_can_do_is_taken_never_a_weaker_grade_silently() {
        let r = decommission();
        let crypto = |_: Option<Method>| Ok((Method::NvmeSanitizeCrypto, Grade::Purge));
        assert_eq!(
            decide(&r, MediaClass::Nvme, crypto),
            Decision::Run {
                steps: vec![Chosen::Device {
                    method: Method::NvmeSanitizeCrypto,
                    grade: Grade::Purge
                }],
                why: vec![]
            }
        );
        // An HDD that cannot purge is overwritten, and the decision says why.
        let none = |_: Option<Method>| Err(Unavailable::Lacks("no Purge-grade command".into()));
        let Decision::Run { steps, why } = decide(&r, MediaClass::Magnetic, none) else {
            panic!()
        };
        assert_eq!(steps, vec![Chosen::Overwrite]);
        assert!(why[0].starts_with("purge: no Purge"), "{why:?}");
        // An SSD that cannot purge is not overwritten (the policy does not list it): Destroy.
        assert!(matches!(
            decide(&r, MediaClass::Flash, none),
            Decision::Destroy(w) if w[0].contains("no Purge")
        ));
        // A Clear-grade method never passes for purge.
        let clear = |_: Option<Method>| Ok((Method::AtaSecurityErase, Grade::Clear));
        assert!(matches!(
            decide(&r, MediaClass::Flash, clear),
            Decision::Destroy(w) if w[0].contains("only Clear")
        ));
        assert!(matches!(
            decide(&r, MediaClass::Removable, none),
            Decision::Destroy(w) if w[0].contains("no technique for removable")
        ));
        // A purge that is there but frozen stops the decision with its remedy: never a
        // quiet fall to the overwrite.
        let frozen = |_: Option<Method>| Err(Unavailable::Blocked("frozen: power-cycle".into()));
        assert_eq!(
            decide(&r, MediaClass::Magnetic, frozen),
            Decision::Blocked("frozen: power-cycle".into())
        );
    }

    #[test]
    fn rma_purges_where_it_can_then_overwrites() {
        let rma = MediaRules {
            nvme: rules("purge+overwrite overwrite"),
            ..decommission()
        };
        let Decision::Run { steps, .. } = decide(&rma, MediaClass::Nvme, |_| {
            Ok((Method::NvmeSanitizeBlock, Grade::Purge))
        }) else {
            panic!()
        };
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[1], Chosen::Overwrite);
        let Decision::Run { steps, why } = decide(&rma, MediaClass::Nvme, |_| {
            Err(Unavailable::Lacks("frozen".into()))
        }) else {
            panic!()
        };
        assert_eq!(steps, vec![Chosen::Overwrite]);
        assert_eq!(why, vec!["purge+overwrite: frozen".to_string()]);
    }
}
