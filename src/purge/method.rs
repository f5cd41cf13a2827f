//! Which device command sanitizes how: the NIST SP 800-88 / IEEE 2883 grade of each method,
//! and the strongest Purge a drive supports. Pure.

use crate::device::ata::Identify;

use crate::device::nvme::Controller;

/// What the data is stored on, as far as the drive says: the grade of ATA enhanced security
/// erase depends on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Medium {
    Magnetic,
    Flash,
    /// The drive does not say (or says two things): never graded as magnetic.
    #[default]
    Unknown,
}

impl Medium {
    pub fn name(self) -> &'static str {
        match self {
            Medium::Magnetic => "magnetic",
            Medium::Flash => "flash",
            Medium::Unknown => "unknown",
        }
    }
}

/// The medium of an ATA drive from IDENTIFY word 217 (NOMINAL MEDIA ROTATION RATE), TRIM
/// support (word 169) and the kernel's `queue/rotational` (`None` when not known), with the
/// reason. Word 217 = 0 is "not reported", not "magnetic": only 0401h-FFFEh is a spinning
/// disk, and one that also reports TRIM, or that the kernel sees as non-rotating, is not
/// taken for one (a hybrid, or a bridge that invents the field).
pub fn ata_medium(rotation_rate: u16, trim: bool, rotational: Option<bool>) -> (Medium, String) {
    match rotation_rate {
        1 => (Medium::Flash, "IDENTIFY word 217 = 1: non-rotating".into()),
        0x0401..=0xFFFE if !trim && rotational != Some(false) => (
            Medium::Magnetic,
            format!("IDENTIFY word 217: {rotation_rate} rpm"),
        ),
        0x0401..=0xFFFE => (
            Medium::Unknown,
            format!(
                "IDENTIFY word 217 says {rotation_rate} rpm, but {}",
                if trim {
                    "the drive supports TRIM"
                } else {
                    "the kernel sees a non-rotating device"
                }
            ),
        ),
        0 if trim || rotational == Some(false) => (
            Medium::Flash,
            format!(
                "IDENTIFY word 217 = 0 (rate not reported); {}",
                if trim {
                    "the drive supports TRIM"
                } else {
                    "the kernel sees a non-rotating device"
                }
            ),
        ),
        0 => (
            Medium::Unknown,
            "IDENTIFY word 217 = 0: the drive does not report its rotation rate".into(),
        ),
        w => (
            Medium::Unknown,
            format!("IDENTIFY word 217 = {w:#06x} (reserved)"),
        ),
    }
}

/// The outcome a method reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grade {
    Clear,
    Purge,
}

/// A device sanitize method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    NvmeSanitizeCrypto,
    NvmeSanitizeBlock,
    NvmeSanitizeOverwrite,
    /// Format NVM, SES 1 (user data erase): Clear.
    NvmeFormatUserData,
    /// Format NVM, SES 2 (cryptographic erase): Clear, "possible purge".
    NvmeFormatCrypto,
    AtaSanitizeCrypto,
    AtaSanitizeBlock,
    AtaSanitizeOverwrite,
    /// SECURITY ERASE UNIT, enhanced: Purge on magnetic drives only.
    AtaSecurityEraseEnhanced,
    /// SECURITY ERASE UNIT, normal: Clear.
    AtaSecurityErase,
    ScsiSanitizeCrypto,
    ScsiSanitizeBlock,
    ScsiSanitizeOverwrite,
    /// FORMAT UNIT: Clear at best (what it does to the data is the device's business).
    ScsiFormatUnit,
    /// TCG Opal: Revert of the Admin SP with the owner's SID password, through the kernel's
    /// sed-opal (`IOC_OPAL_REVERT_TPR`): the Locking SP's media keys are replaced.
    TcgRevert,
    /// TCG Opal: the same Revert with the PSID printed on the drive's label
    /// (`IOC_OPAL_PSID_REVERT_TPR`), whoever owns the drive.
    TcgPsidRevert,
    /// TCG Enterprise: Erase of every band (Band0 to Band{MaxRanges}) authenticated as
    /// EraseMaster, in a TCG session mediasan opens itself: each band's key is replaced.
    TcgErase,
}

impl Method {
    /// Every method, for listings.
    pub const ALL: [Method; 17] = [
        Method::NvmeSanitizeCrypto,
        Method::NvmeSanitizeBlock,
        Method::NvmeSanitizeOverwrite,
        Method::NvmeFormatUserData,
        Method::NvmeFormatCrypto,
        Method::AtaSanitizeCrypto,
        Method::AtaSanitizeBlock,
        Method::AtaSanitizeOverwrite,
        Method::AtaSecurityEraseEnhanced,
        Method::AtaSecurityErase,
        Method::ScsiSanitizeCrypto,
        Method::ScsiSanitizeBlock,
        Method::ScsiSanitizeOverwrite,
        Method::ScsiFormatUnit,
        Method::TcgRevert,
        Method::TcgPsidRevert,
        Method::TcgErase,
    ];

    /// The method of this name, if there is one.
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The name used in policies and certificates.
    pub fn name(self) -> &'static str {
        match self {
            Method::NvmeSanitizeCrypto => "nvme-sanitize-crypto",
            Method::NvmeSanitizeBlock => "nvme-sanitize-block",
            Method::NvmeSanitizeOverwrite => "nvme-sanitize-overwrite",
            Method::NvmeFormatUserData => "nvme-format-user-data",
            Method::NvmeFormatCrypto => "nvme-format-crypto",
            Method::AtaSanitizeCrypto => "ata-sanitize-crypto",
            Method::AtaSanitizeBlock => "ata-sanitize-block",
            Method::AtaSanitizeOverwrite => "ata-sanitize-overwrite",
            Method::AtaSecurityEraseEnhanced => "ata-security-erase-enhanced",
            Method::AtaSecurityErase => "ata-security-erase",
            Method::ScsiSanitizeCrypto => "scsi-sanitize-crypto",
            Method::ScsiSanitizeBlock => "scsi-sanitize-block",
            Method::ScsiSanitizeOverwrite => "scsi-sanitize-overwrite",
            Method::ScsiFormatUnit => "scsi-format-unit",
            Method::TcgRevert => "tcg-revert",
            Method::TcgPsidRevert => "tcg-psid-revert",
            Method::TcgErase => "tcg-erase",
        }
    }

    /// The grade it reaches on this medium. ATA enhanced security erase is Purge only on a
    /// drive known to be magnetic; Format NVM and normal security erase are Clear.
    pub fn grade(self, medium: Medium) -> Grade {
        match self {
            Method::NvmeFormatUserData
            | Method::NvmeFormatCrypto
            | Method::AtaSecurityErase
            | Method::ScsiFormatUnit => Grade::Clear,
            Method::AtaSecurityEraseEnhanced if medium != Medium::Magnetic => Grade::Clear,
            _ => Grade::Purge,
        }
    }

    /// What reading sampled locations back after this method can prove, and what it cannot
    /// (for the certificate and docs/techniques.md's table).
    pub fn proves(self) -> &'static str {
        match self.technique() {
            "overwrite" => {
                "the canaries written before are gone and the samples read the pattern (or, where the drive \
                 may deallocate afterwards, its deallocated value): the sampled locations were overwritten; \
                 it cannot show what happened to blocks the host cannot address (spares, retired blocks)"
            }
            "crypto erase" => {
                "the canaries written before are gone: the data at the sampled locations is no longer \
                 readable; it cannot tell a crypto erase from a TRIM or unmap, nor show that the old key \
                 is destroyed"
            }
            "block erase" => {
                "the canaries written before are gone: the sampled locations were erased or unmapped; it \
                 cannot show that spare or retired blocks were erased"
            }
            _ => {
                "the canaries written before are gone: the sampled locations no longer hold what was \
                 written; it cannot show how they were erased, nor anything about blocks the host \
                 cannot address"
            }
        }
    }

    /// A note the certificate must carry with this method, if any.
    pub fn note(self) -> Option<&'static str> {
        match self {
            Method::NvmeFormatCrypto => Some(
                "possible purge: NVMe Format with cryptographic erase is rated Clear, \
                                               and Purge only where the vendor documents it",
            ),
            Method::AtaSecurityEraseEnhanced => {
                Some("enhanced security erase is Purge on magnetic media only")
            }
            _ => None,
        }
    }

    /// Its grade for people: "Purge", "Clear", or "Purge on magnetic media only".
    pub fn grade_label(self) -> &'static str {
        match (self.grade(Medium::Flash), self.grade(Medium::Magnetic)) {
            (Grade::Purge, _) => "Purge",
            (Grade::Clear, Grade::Purge) => "Purge on magnetic media only",
            _ => "Clear",
        }
    }

    /// `crypto erase`, `block erase`, `overwrite`...
    pub fn technique(self) -> &'static str {
        match self {
            Method::NvmeSanitizeCrypto
            | Method::AtaSanitizeCrypto
            | Method::ScsiSanitizeCrypto
            | Method::NvmeFormatCrypto
            | Method::TcgRevert
            | Method::TcgPsidRevert
            | Method::TcgErase => "crypto erase",
            Method::NvmeSanitizeBlock | Method::AtaSanitizeBlock | Method::ScsiSanitizeBlock => {
                "block erase"
            }
            Method::NvmeSanitizeOverwrite
            | Method::AtaSanitizeOverwrite
            | Method::ScsiSanitizeOverwrite => "overwrite",
            Method::NvmeFormatUserData => "user data erase",
            Method::ScsiFormatUnit => "format",
            Method::AtaSecurityEraseEnhanced | Method::AtaSecurityErase => "security erase",
        }
    }
}

/// The Purge methods an NVMe controller supports, strongest first (crypto erase, block erase,
/// overwrite), as IEEE 2883 orders them.
pub fn nvme_purges(c: &Controller) -> Vec<Method> {
    [
        (c.sanitize_crypto, Method::NvmeSanitizeCrypto),
        (c.sanitize_block, Method::NvmeSanitizeBlock),
        (c.sanitize_overwrite, Method::NvmeSanitizeOverwrite),
    ]
    .into_iter()
    .filter_map(|(ok, m)| ok.then_some(m))
    .collect()
}

/// The methods an ATA drive supports, strongest first: SANITIZE (crypto, block, overwrite),
/// then the security erases (enhanced, normal). Which of them is Purge is [`Method::grade`]'s
/// business (enhanced erase only on magnetic media); whether it can be started now, a
/// blocker's.
pub fn ata_methods(id: &Identify) -> Vec<Method> {
    [
        (id.sanitize_crypto, Method::AtaSanitizeCrypto),
        (id.sanitize_block, Method::AtaSanitizeBlock),
        (id.sanitize_overwrite, Method::AtaSanitizeOverwrite),
        (
            id.security && id.security_enhanced_erase,
            Method::AtaSecurityEraseEnhanced,
        ),
        (id.security, Method::AtaSecurityErase),
    ]
    .into_iter()
    .filter_map(|(ok, m)| ok.then_some(m))
    .collect()
}

/// Whether `m` is a TCG method: a Revert (sent through the kernel's sed-opal) or the
/// Enterprise Erase (in mediasan's own TCG session), each sent with a credential.
pub fn tcg(m: Method) -> bool {
    matches!(
        m,
        Method::TcgRevert | Method::TcgPsidRevert | Method::TcgErase
    )
}

/// The drive's SANITIZE (NVMe, ATA or SCSI). On a zoned drive it empties every zone with a
/// write pointer (ZNS, ZAC, ZBC), which the drive's zone report afterwards must show.
pub fn sanitize(m: Method) -> bool {
    matches!(
        m,
        Method::NvmeSanitizeCrypto
            | Method::NvmeSanitizeBlock
            | Method::NvmeSanitizeOverwrite
            | Method::AtaSanitizeCrypto
            | Method::AtaSanitizeBlock
            | Method::AtaSanitizeOverwrite
            | Method::ScsiSanitizeCrypto
            | Method::ScsiSanitizeBlock
            | Method::ScsiSanitizeOverwrite
    )
}

/// The flag that gives the credential a TCG method is sent with (`--psid` for the PSID,
/// `--sid-file` for the owner's password, `--erase-master-file` for the Enterprise
/// EraseMaster's); `None` for every other method.
pub fn credential_flag(m: Method) -> Option<&'static str> {
    match m {
        Method::TcgPsidRevert => Some("--psid"),
        Method::TcgRevert => Some("--sid-file"),
        Method::TcgErase => Some("--erase-master-file"),
        _ => None,
    }
}

/// `supported` with the TCG Reverts added after the bus's own Purge-grade crypto erases and
/// before anything else: IEEE 2883 ranks crypto erase first, and a drive's own sanitize needs
/// no credential.
pub fn with_tcg(supported: &[Method]) -> Vec<Method> {
    let at = supported
        .iter()
        .take_while(|m| m.technique() == "crypto erase" && m.grade(Medium::Flash) == Grade::Purge)
        .count();
    let mut v = supported[..at].to_vec();
    v.extend([Method::TcgRevert, Method::TcgPsidRevert]);
    v.extend_from_slice(&supported[at..]);
    v
}

/// `supported` with the TCG Enterprise Erase added where [`with_tcg`] adds the Reverts.
pub fn with_tcg_erase(supported: &[Method]) -> Vec<Method> {
    let at = supported
        .iter()
        .take_while(|m| {
            m.technique() == "crypto erase" && m.grade(Medium::Flash) == Grade::Purge && !tcg(**m)
        })
        .count();
    let mut v = supported[..at].to_vec();
    v.push(Method::TcgErase);
    v.extend_from_slice(&supported[at..]);
    v
}

/// `nist-purge`: the strongest Purge, or why there is none (never a Clear-grade fallback).
///
/// # Errors
/// A sentence for the user when the drive supports no Purge method.
pub fn strongest(supported: &[Method], medium: Medium) -> Result<Method, String> {
    supported.iter().copied().find(|m| m.grade(medium) == Grade::Purge).ok_or_else(|| {
        "the drive supports no Purge-grade command (no sanitize, no enhanced erase on magnetic media); \
         use a Clear policy, or Destroy the media"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_list_every_method_with_its_technique_and_grade() {
        let readme = include_str!("../../docs/techniques.md");
        for m in Method::ALL {
            let row = format!(
                "| `{}` | {} | {} |",
                m.name(),
                m.technique(),
                m.grade_label()
            );
            assert!(readme.contains(&row), "docs/techniques.md lacks {row}");
        }
        let rows = readme
            .lines()
            .filter(|l| {
                l.starts_with("| `")
                    && l.contains("-")
                    && (l.ends_with("| Purge |")
                        || l.ends_with("| Clear |")
                        || l.ends_with("magnetic media only |"))
            })
            .count();
        assert_eq!(
            rows,
            Method::ALL.len(),
            "no method in docs/techniques.md that does not exist"
        );
    }

    fn ata(f: impl Fn(&mut Identify)) -> Identify {
        let mut id = Identify {
            lba48: true,
            sectors: 1000,
            ..Identify::default()
        };
        f(&mut id);
        id
    }

    #[test]
    fn security_erase_needs_the_security_feature_set_whatever_the_enhanced_bit_says() {
        // A drive that reports no ATA Security feature set (word 128 bit 0 clear) offers no
        // security erase, even with the enhanced-erase bit set: it would be refused.
        let odd = ata(|id| {
            id.security = false;
            id.security_enhanced_erase = true;
            id.sanitize_block = true;
        });
        assert_eq!(ata_methods(&odd), [Method::AtaSanitizeBlock]);
        let both = ata(|id| {
            id.security = true;
            id.security_enhanced_erase = true;
        });
        assert_eq!(
            ata_methods(&both),
            [Method::AtaSecurityEraseEnhanced, Method::AtaSecurityErase]
        );
    }

    #[test]
    fn strongest_purge_follows_ieee_2883_and_never_falls_back_to_clear() {
        let c = Controller {
            sanitize_block: true,
            sanitize_overwrite: true,
            ..Controller::default()
        };
        assert_eq!(
            strongest(&nvme_purges(&c), Medium::Flash),
            Ok(Method::NvmeSanitizeBlock)
        );
        let c = Controller {
            sanitize_crypto: true,
            sanitize_block: true,
            ..Controller::default()
        };
        assert_eq!(
            strongest(&nvme_purges(&c), Medium::Flash),
            Ok(Method::NvmeSanitizeCrypto)
        );
        let c = Controller {
            format: true,
            format_crypto: true,
            ..Controller::default()
        };
        assert!(
            strongest(&nvme_purges(&c), Medium::Flash).is_err(),
            "Format is Clear: no purge"
        );

        let hdd = ata(|i| {
            i.security = true;
            i.security_enhanced_erase = true;
        });
        assert_eq!(
            strongest(&ata_methods(&hdd), Medium::Magnetic),
            Ok(Method::AtaSecurityEraseEnhanced)
        );
        let ssd = ata(|i| {
            i.security = true;
            i.security_enhanced_erase = true;
            i.rotation_rate = 1;
        });
        assert!(
            strongest(&ata_methods(&ssd), Medium::Flash).is_err(),
            "enhanced erase on flash is not purge"
        );
        assert!(
            strongest(&ata_methods(&ssd), Medium::Unknown).is_err(),
            "nor on a drive that does not say what it is"
        );
        let san = ata(|i| {
            i.sanitize = true;
            i.sanitize_block = true;
            i.sanitize_overwrite = true;
        });
        assert_eq!(
            strongest(&ata_methods(&san), Medium::Flash),
            Ok(Method::AtaSanitizeBlock)
        );
    }

    #[test]
    fn the_medium_is_named_in_the_words_plans_and_certificates_show() {
        let names: Vec<&str> = [Medium::Magnetic, Medium::Flash, Medium::Unknown]
            .into_iter()
            .map(Medium::name)
            .collect();
        assert_eq!(names, ["magnetic", "flash", "unknown"]);
    }

    #[test]
    fn grades_and_notes() {
        assert_eq!(
            Method::NvmeFormatUserData.grade(Medium::Flash),
            Grade::Clear
        );
        assert_eq!(Method::NvmeFormatCrypto.grade(Medium::Flash), Grade::Clear);
        assert!(Method::NvmeFormatCrypto
            .note()
            .unwrap()
            .contains("possible purge"));
        assert_eq!(
            Method::AtaSecurityErase.grade(Medium::Magnetic),
            Grade::Clear
        );
        assert_eq!(
            Method::AtaSecurityEraseEnhanced.grade(Medium::Magnetic),
            Grade::Purge
        );
        assert_eq!(
            Method::AtaSecurityEraseEnhanced.grade(Medium::Flash),
            Grade::Clear
        );
        assert_eq!(
            Method::AtaSecurityEraseEnhanced.grade(Medium::Unknown),
            Grade::Clear
        );
        assert_eq!(
            Method::ScsiSanitizeOverwrite.grade(Medium::Magnetic),
            Grade::Purge
        );
        assert_eq!(Method::ScsiSanitizeCrypto.technique(), "crypto erase");
        // The certificate carries why enhanced security erase is Purge only on magnetic media;
        // the methods without such a caveat carry none.
        assert!(Method::AtaSecurityEraseEnhanced
            .note()
            .unwrap()
            .contains("magnetic media only"));
        let noted: Vec<&str> = Method::ALL
            .iter()
            .filter(|m| m.note().is_some())
            .map(|m| m.name())
            .collect();
        assert_eq!(
            noted,
            [
                Method::NvmeFormatCrypto.name(),
                Method::AtaSecurityEraseEnhanced.name()
            ]
        );
    }

    #[test]
    fn every_method_says_what_its_read_back_proves_and_what_it_cannot() {
        for m in Method::ALL {
            let p = m.proves();
            assert!(
                p.starts_with("the canaries written before are gone") && p.contains("cannot"),
                "{}: {p:?}",
                m.name()
            );
        }
        // The overwrite's claim names the pattern; the crypto erase's says what it cannot tell.
        assert!(Method::NvmeSanitizeOverwrite.proves().contains("pattern"));
        assert!(Method::NvmeSanitizeCrypto
            .proves()
            .contains("cannot tell a crypto erase from a TRIM"));
        assert!(Method::ScsiSanitizeBlock
            .proves()
            .contains("spare or retired blocks"));
    }

    #[test]
    fn word_217_zero_is_not_magnetic() {
        // An SSD that does not report its rate (word 217 = 0) used to be graded magnetic, so
        // its enhanced erase was certified Purge.
        assert_eq!(ata_medium(0, false, None).0, Medium::Unknown);
        assert_eq!(ata_medium(0, true, None).0, Medium::Flash);
        assert_eq!(ata_medium(0, false, Some(false)).0, Medium::Flash);
        assert_eq!(ata_medium(1, false, Some(true)).0, Medium::Flash);
        assert_eq!(ata_medium(7200, false, Some(true)).0, Medium::Magnetic);
        assert_eq!(ata_medium(7200, true, Some(true)).0, Medium::Unknown);
        assert_eq!(ata_medium(0x0400, false, None).0, Medium::Unknown);
        assert_eq!(ata_medium(0xFFFF, false, None).0, Medium::Unknown);
        let (_, why) = ata_medium(0, false, None);
        assert!(why.contains("does not report"), "{why}");
    }
}
