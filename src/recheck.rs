//! What `mediasan verify --cert` concludes from reading a medium again: whether it still holds
//! what its certificate records, and whether that proves a sanitization. Pure: the command
//! reads the medium, this decides, the command says it.

use crate::cert::{Certificate, Verdict};
use crate::verify::VerifyReport;

/// What the read-back shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// The medium does not hold what the certificate records: why (the first cause, then any
    /// zone report's on top).
    Differs(String),
    /// It does, but the certificate is not a PASS: its result and first reason.
    NotSanitized { result: Verdict, reason: String },
    /// It does, and the certificate is a PASS: proof of the sanitization when its signer is
    /// trusted.
    Holds,
}

/// The read-back judged against its certificate.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    /// The BLAKE3 of what was read equals the certificate's (never for an incomplete read).
    pub digest_matches: bool,
    /// Everything planned was read, nothing differs, the digest matches, and a zoned device's
    /// report still shows the overwrite.
    pub media_matches: bool,
    pub finding: Finding,
}

impl Judged {
    /// PASS only where the medium matches a PASS certificate whose signer is trusted.
    pub fn proves(&self, trusted: bool) -> bool {
        self.finding == Finding::Holds && trusted
    }
}

/// Judges the read-back `r` of `planned` bytes against `c`; `zones` is why a zoned device's
/// report no longer shows the overwrite, if it does not.
pub fn judge(c: &Certificate, planned: u64, r: &VerifyReport, zones: Option<String>) -> Judged {
    let digest_matches = !r.blake3.is_empty() && r.blake3 == c.verification.blake3;
    let media_matches = r.clean(planned) && digest_matches && zones.is_none();
    let finding = if !media_matches {
        Finding::Differs(why_differs(c, r, digest_matches, zones))
    } else if c.result != Verdict::Pass {
        Finding::NotSanitized {
            result: c.result,
            reason: c
                .reasons
                .first()
                .map_or("no reason given", String::as_str)
                .to_string(),
        }
    } else {
        Finding::Holds
    };
    Judged {
        digest_matches,
        media_matches,
        finding,
    }
}

fn why_differs(
    c: &Certificate,
    r: &VerifyReport,
    digest_matches: bool,
    zones: Option<String>,
) -> String {
    let first = r
        .first_mismatch
        .or_else(|| r.errors.first().map(|e| e.offset));
    let why = match (first, r.errors.first()) {
        _ if digest_matches => zones.clone().unwrap_or_default(),
        (_, Some(e)) => format!("read failed at offset {}: {}", e.offset, e.error),
        (Some(off), None) => format!("the first differing block is at offset {off}"),
        (None, None) => format!(
            "the digest differs ({} vs the certificate's {})",
            r.blake3, c.verification.blake3
        ),
    };
    let also = zones
        .filter(|_| !digest_matches)
        .map(|z| format!("; and {z}"))
        .unwrap_or_default();
    format!("{why}{also}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(result: Verdict) -> Certificate {
        let mut c = Certificate {
            result,
            reasons: if result == Verdict::Pass {
                vec![]
            } else {
                vec!["pass 2 failed".into()]
            },
            ..Default::default()
        };
        c.verification.blake3 = "ab".repeat(32);
        c
    }

    fn read(blake3: &str) -> VerifyReport {
        VerifyReport {
            bytes_read: 4096,
            mismatched_blocks: 0,
            first_mismatch: None,
            blake3: blake3.into(),
            errors: vec![],
            interrupted: false,
            started: std::time::SystemTime::UNIX_EPOCH,
            finished: std::time::SystemTime::UNIX_EPOCH,
            elapsed: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn only_a_whole_matching_read_of_a_pass_holds_and_only_a_trusted_signer_proves_it() {
        let c = cert(Verdict::Pass);
        let j = judge(&c, 4096, &read(&"ab".repeat(32)), None);
        assert!(j.digest_matches && j.media_matches);
        assert_eq!(j.finding, Finding::Holds);
        assert!(j.proves(true) && !j.proves(false));
        // A short read (interrupted, or less than planned) matches nothing, digest or not.
        let j = judge(&c, 8192, &read(&"ab".repeat(32)), None);
        assert!(!j.media_matches && !j.proves(true));
        // An incomplete read has no digest: it never matches an empty one either.
        let mut empty = cert(Verdict::Pass);
        empty.verification.blake3.clear();
        let j = judge(&empty, 4096, &read(""), None);
        assert!(!j.digest_matches && !j.proves(true));
    }

    #[test]
    fn what_differs_is_named_by_its_first_cause() {
        let c = cert(Verdict::Pass);
        let mut r = read(&"cd".repeat(32));
        assert!(matches!(
            judge(&c, 4096, &r, None).finding,
            Finding::Differs(w) if w.starts_with("the digest differs (cdcd")
        ));
        r.mismatched_blocks = 1;
        r.first_mismatch = Some(512);
        assert_eq!(
            judge(&c, 4096, &r, None).finding,
            Finding::Differs("the first differing block is at offset 512".into())
        );
        r.errors.push(crate::contract::IoFailure {
            offset: 1024,
            length: 512,
            error: "EIO".into(),
            errno: Some(5),
            kind: "EIO".into(),
        });
        let reset = "2 of 7 sequential zones are no longer written to their end".to_string();
        let zones = Some(reset.clone());
        assert_eq!(
            judge(&c, 4096, &r, zones.clone()).finding,
            Finding::Differs(
                "read failed at offset 1024: EIO; and 2 of 7 sequential zones are no longer \
                 written to their end"
                    .into()
            )
        );
        // Every byte as recorded, but the zones were reset since: the zone report says so.
        let j = judge(&c, 4096, &read(&"ab".repeat(32)), zones.clone());
        assert!(j.digest_matches && !j.media_matches);
        assert_eq!(j.finding, Finding::Differs(reset));
    }

    #[test]
    fn a_matching_medium_of_a_certificate_that_is_not_a_pass_proves_nothing() {
        let c = cert(Verdict::Fail);
        let j = judge(&c, 4096, &read(&"ab".repeat(32)), None);
        assert!(j.media_matches);
        assert_eq!(
            j.finding,
            Finding::NotSanitized {
                result: Verdict::Fail,
                reason: "pass 2 failed".into()
            }
        );
        assert!(!j.proves(true));
    }
}
