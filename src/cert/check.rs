//! Checking one certificate file: its bytes parse as a certificate of a format this version
//! reads, its detached SSHSIG verifies over exactly those bytes, and its signer is judged
//! against what the reader trusts. Pure over bytes, so `cert verify` and `audit` (ten
//! thousand files, in parallel) share one rule.

use super::trust::{Signer, Trust};
use super::{sign, Certificate, FORMAT};
use crate::error::Error;

/// Why a file does not count as a certificate from a trusted signer, before its signer is even
/// judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Not JSON, or JSON that is not a mediasan certificate (no `format` of ours).
    NotCertificate(String),
    /// A mediasan certificate of a format this version does not know (a newer one).
    UnknownFormat(String),
    /// A certificate with no signature file beside it.
    NoSignature,
    /// The signature is malformed, for another namespace, made by a key type we do not verify,
    /// or does not verify over these bytes.
    BadSignature(String),
}

impl Problem {
    /// One phrase for people.
    pub fn describe(&self) -> String {
        match self {
            Problem::NotCertificate(why) => format!("not a mediasan certificate ({why})"),
            Problem::UnknownFormat(f) => format!(
                "format {f} is not one this mediasan reads ({FORMAT}); check it with a newer mediasan"
            ),
            Problem::NoSignature => "no signature file (.sig) beside it".into(),
            Problem::BadSignature(why) => format!("signature NOT valid: {why}"),
        }
    }
}

/// A certificate whose signature checked, and the verdict on its signer.
#[derive(Clone, Debug)]
pub struct Checked {
    pub cert: Certificate,
    pub signer: Signer,
    /// BLAKE3 of the very bytes whose signature was checked.
    pub file_blake3: String,
    /// The validator's countersignature over the same bytes, if there is one: its signer
    /// judged, or why it does not check.
    pub validator: Option<Result<Signer, String>>,
}

/// The certificate in `bytes`, if they are one of ours: `Ok(None)` for JSON of another kind.
///
/// # Errors
/// The certificate's format is ours but of a version this one does not read, or the JSON of a
/// certificate of ours does not fit the fields.
pub fn parse(bytes: &[u8]) -> Result<Option<Certificate>, Problem> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Problem::NotCertificate(format!("not valid JSON: {e}")))?;
    let family = FORMAT.split('/').next().unwrap_or(FORMAT);
    let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if !format.starts_with(&format!("{family}/")) {
        return Ok(None);
    }
    if format != FORMAT {
        return Err(Problem::UnknownFormat(format.to_string()));
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| Problem::NotCertificate(format!("its fields do not fit: {e}")))
}

/// The time a certificate was signed, by its own record: when the sanitization finished
/// (seconds since the epoch).
pub fn signed_at(c: &Certificate) -> Option<i64> {
    let t = if c.sanitization.finished.is_empty() {
        &c.sanitization.started
    } else {
        &c.sanitization.finished
    };
    humantime::parse_rfc3339(t)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
}

/// Checks a certificate's bytes and its signature file's bytes, and judges the signer.
///
/// # Errors
/// Why it does not count (see [`Problem`]); a file that is not one of ours at all is
/// `NotCertificate`.
pub fn check(bytes: &[u8], sig: Option<&[u8]>, trust: &Trust) -> Result<Checked, Problem> {
    let cert = parse(bytes)?.ok_or_else(|| {
        Problem::NotCertificate("no \"format\": \"mediasan-certificate/...\"".into())
    })?;
    let sig = sig.ok_or(Problem::NoSignature)?;
    let signer = sign::check(bytes, sig).map_err(|e| {
        Problem::BadSignature(match e {
            Error::NotAuthentic(why) | Error::CertificateInput(why) => why,
            other => other.to_string(),
        })
    })?;
    let signer = trust.judge(&signer, signed_at(&cert));
    Ok(Checked {
        cert,
        signer,
        file_blake3: blake3::hash(bytes).to_hex().to_string(),
        validator: None,
    })
}

/// Checks a validator's countersignature (namespace [`sign::VALIDATION`]) over a
/// certificate's bytes and judges its signer (`claimed`: the certificate's own time). The
/// validator is a second person: a countersignature made with the key that signed the
/// certificate (`signer`, its fingerprint) validates nothing.
///
/// # Errors
/// Why it does not check, in words.
pub fn countersignature(
    bytes: &[u8],
    vsig: &[u8],
    trust: &Trust,
    claimed: Option<i64>,
    signer: &str,
) -> Result<Signer, String> {
    let key = sign::check_in(bytes, vsig, sign::VALIDATION).map_err(|e| match e {
        Error::NotAuthentic(why) | Error::CertificateInput(why) => why,
        other => other.to_string(),
    })?;
    if sign::fingerprint(&key.key) == signer {
        return Err(format!(
            "it was made with the certificate's own signing key ({signer}); a second person \
             countersigns with a key of their own"
        ));
    }
    Ok(trust.judge_in(&key, claimed, sign::VALIDATION))
}

/// The countersignature file of a certificate file: `X.json.validation.sig`.
pub fn countersignature_path(file: &std::path::Path) -> std::path::PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".validation.sig");
    s.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(json: &[u8]) -> (ssh_key::PrivateKey, String) {
        let dir = tempfile::tempdir().unwrap();
        let key = sign::generate(&dir.path().join("k"), "t").unwrap();
        let sig = sign::sign(&sign::Signing::plain(key.clone()), json).unwrap();
        (key, sig)
    }

    #[test]
    fn every_way_to_fail_is_named_and_none_is_a_pass() {
        let good = serde_json::to_vec(&Certificate {
            format: FORMAT.into(),
            ..Certificate::default()
        })
        .unwrap();
        let (key, sig) = signed(&good);
        let trust = Trust {
            keys: vec![(key.public_key().clone(), "k.pub".into())],
            ..Trust::default()
        };
        let ok = check(&good, Some(sig.as_bytes()), &trust).unwrap();
        assert!(ok.signer.trusted());
        assert!(matches!(
            check(&good, None, &trust),
            Err(Problem::NoSignature)
        ));
        let mut changed = good.clone();
        changed[5] ^= 1;
        assert!(matches!(
            check(&changed, Some(sig.as_bytes()), &trust),
            Err(Problem::BadSignature(_) | Problem::NotCertificate(_))
        ));
        let truncated = &good[..good.len() / 2];
        assert!(
            matches!(check(truncated, Some(sig.as_bytes()), &trust), Err(Problem::NotCertificate(w)) if w.contains("not valid JSON"))
        );
        let future = br#"{"format":"mediasan-certificate/2","result":"PASS"}"#;
        assert_eq!(
            check(future, Some(sig.as_bytes()), &trust).unwrap_err(),
            Problem::UnknownFormat("mediasan-certificate/2".into())
        );
        assert!(matches!(
            check(br#"{"name":"x"}"#, None, &trust),
            Err(Problem::NotCertificate(_))
        ));
        assert!(!check(&good, Some(sig.as_bytes()), &Trust::default())
            .unwrap()
            .signer
            .trusted());
        assert!(check(&good, Some(b"garbage"), &trust).is_err());
    }
}
