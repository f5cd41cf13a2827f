//! Which device command sanitizes how: the NIST SP 800-88 / IEEE 2883 grade of each method,
//! and the strongest Purge a drive supports. Pure.

use crate::device::ata::Identify;

use crate::device::nvme::Controller;

/// The outcome a method reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grade {
    Clear,
    Purge,
}

/// A device sanitize method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

impl Method {
    /// Every method, for listings.
    pub const ALL: [Method; 14] = [
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
        }
    }

    /// The grade it reaches on this medium (`solid_state`: flash). ATA enhanced security erase
    /// is Purge only on magnetic media; Format NVM and normal security erase are Clear.
    pub fn grade(self, solid_state: bool) -> Grade {
        match self {
            Method::NvmeFormatUserData
            | Method::NvmeFormatCrypto
            | Method::AtaSecurityErase
            | Method::ScsiFormatUnit => Grade::Clear,
            Method::AtaSecurityEraseEnhanced if solid_state => Grade::Clear,
            _ => Grade::Purge,
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
        match (self.grade(true), self.grade(false)) {
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
            | Method::NvmeFormatCrypto => "crypto erase",
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

/// The Purge methods an ATA drive supports, strongest first; enhanced security erase only on
/// magnetic drives, and only where the SECURITY feature set is usable (not frozen or locked).
pub fn ata_purges(id: &Identify) -> Vec<Method> {
    let mut v: Vec<Method> = [
        (id.sanitize_crypto, Method::AtaSanitizeCrypto),
        (id.sanitize_block, Method::AtaSanitizeBlock),
        (id.sanitize_overwrite, Method::AtaSanitizeOverwrite),
    ]
    .into_iter()
    .filter_map(|(ok, m)| ok.then_some(m))
    .collect();
    if id.security && id.security_enhanced_erase && !id.solid_state {
        v.push(Method::AtaSecurityEraseEnhanced);
    }
    v
}

/// `nist-purge`: the strongest Purge, or why there is none (never a Clear-grade fallback).
///
/// # Errors
/// A sentence for the user when the drive supports no Purge method.
pub fn strongest(supported: &[Method], solid_state: bool) -> Result<Method, String> {
    supported.iter().copied().find(|m| m.grade(solid_state) == Grade::Purge).ok_or_else(|| {
        "the drive supports no Purge-grade command (no sanitize, no enhanced erase on magnetic media); \
         use a Clear policy, or Destroy the media"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_every_method_with_its_technique_and_grade() {
        let readme = include_str!("../../README.md");
        for m in Method::ALL {
            let row = format!(
                "| `{}` | {} | {} |",
                m.name(),
                m.technique(),
                m.grade_label()
            );
            assert!(readme.contains(&row), "README lacks {row}");
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
            "no method in the README that does not exist"
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
    fn strongest_purge_follows_ieee_2883_and_never_falls_back_to_clear() {
        let c = Controller {
            sanitize_block: true,
            sanitize_overwrite: true,
            ..Controller::default()
        };
        assert_eq!(
            strongest(&nvme_purges(&c), true),
            Ok(Method::NvmeSanitizeBlock)
        );
        let c = Controller {
            sanitize_crypto: true,
            sanitize_block: true,
            ..Controller::default()
        };
        assert_eq!(
            strongest(&nvme_purges(&c), true),
            Ok(Method::NvmeSanitizeCrypto)
        );
        let c = Controller {
            format: true,
            format_crypto: true,
            ..Controller::default()
        };
        assert!(
            strongest(&nvme_purges(&c), true).is_err(),
            "Format is Clear: no purge"
        );

        let hdd = ata(|i| {
            i.security = true;
            i.security_enhanced_erase = true;
        });
        assert_eq!(
            strongest(&ata_purges(&hdd), false),
            Ok(Method::AtaSecurityEraseEnhanced)
        );
        let ssd = ata(|i| {
            i.security = true;
            i.security_enhanced_erase = true;
            i.solid_state = true;
        });
        assert!(
            strongest(&ata_purges(&ssd), true).is_err(),
            "enhanced erase on flash is not purge"
        );
        let san = ata(|i| {
            i.sanitize = true;
            i.sanitize_block = true;
            i.sanitize_overwrite = true;
        });
        assert_eq!(
            strongest(&ata_purges(&san), true),
            Ok(Method::AtaSanitizeBlock)
        );
    }

    #[test]
    fn grades_and_notes() {
        assert_eq!(Method::NvmeFormatUserData.grade(true), Grade::Clear);
        assert_eq!(Method::NvmeFormatCrypto.grade(true), Grade::Clear);
        assert!(Method::NvmeFormatCrypto
            .note()
            .unwrap()
            .contains("possible purge"));
        assert_eq!(Method::AtaSecurityErase.grade(false), Grade::Clear);
        assert_eq!(Method::AtaSecurityEraseEnhanced.grade(false), Grade::Purge);
        assert_eq!(Method::AtaSecurityEraseEnhanced.grade(true), Grade::Clear);
        assert_eq!(Method::ScsiSanitizeOverwrite.grade(false), Grade::Purge);
        assert_eq!(Method::ScsiSanitizeCrypto.technique(), "crypto erase");
    }
}
