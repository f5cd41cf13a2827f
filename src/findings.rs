//! What an audit finds, as the JSON events and the audit report both carry it: the files it
//! read, the keys it trusted, each signer's series of certificates, the QC sample. Contract
//! types on the events' floor (their field names are part of the `audit` event and the
//! report), computed by `audit`.

use serde::Serialize;

/// Why a file was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Certificate,
    Signature,
    Countersignature,
    Bundle,
    Register,
    AllowedSigners,
    PublicKey,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Certificate => "certificate",
            Role::Signature => "signature",
            Role::Countersignature => "countersignature",
            Role::Bundle => "bundle",
            Role::Register => "asset register",
            Role::AllowedSigners => "allowed signers",
            Role::PublicKey => "public key",
        }
    }
}

/// One file the audit read, by the bytes it read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Input {
    /// As found (bytes that are not UTF-8 shown as `\xNN`).
    pub file: String,
    pub role: Role,
    pub bytes: u64,
    /// BLAKE3, hex.
    pub blake3: String,
}

impl Input {
    pub fn of(file: String, role: Role, data: &[u8]) -> Input {
        Input {
            file,
            role,
            bytes: data.len() as u64,
            blake3: blake3::hash(data).to_hex().to_string(),
        }
    }
}

/// One key the audit trusted: a `--pubkey`, or a line of an allowed_signers file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anchor {
    /// The file it is in.
    pub source: String,
    /// Its line in an allowed_signers file.
    pub line: Option<usize>,
    /// Principal patterns (allowed_signers), empty for a `--pubkey`.
    pub principals: String,
    /// A `cert-authority` line: an SSH CA key, trusting the OpenSSH certificates it signed.
    pub cert_authority: bool,
    pub key_type: String,
    pub fingerprint: String,
    pub namespaces: Option<String>,
    /// `valid-after` / `valid-before` (UTC, RFC 3339).
    pub valid_after: Option<String>,
    pub valid_before: Option<String>,
}

/// One signer's series, as the delivery has it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Series {
    /// Who signed it, as "By signer" names them.
    pub signer: String,
    /// The signing key's fingerprint.
    pub key: String,
    /// The series' id (the first 8 hex digits are shown).
    pub id: String,
    pub first: u64,
    pub last: u64,
    /// Certificates of this series in the delivery (copies counted once).
    pub count: usize,
    /// Numbers between `first` and `last` that no certificate in the delivery carries.
    pub gaps: Vec<(u64, u64)>,
    /// Numbers carried by two different certificates, or whose certificate does not follow the
    /// one before it (its `previous` is not that file's BLAKE3).
    pub forks: Vec<u64>,
    /// Another series of the same key began before this one: its state folder was new.
    pub restart: bool,
}

impl Series {
    /// One line for people: "SIGNER series 1a2b3c4d: #1-#12, 12 certificate(s); missing
    /// #5, #7-#8; FORK at #3".
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} series {}: #{}-#{}, {} certificate(s)",
            self.signer,
            self.short_id(),
            self.first,
            self.last,
            self.count
        );
        if self.first > 1 {
            s.push_str(&format!(
                "; starts at #{} (the earlier ones are not in this delivery)",
                self.first
            ));
        }
        if self.restart {
            s.push_str("; a RESTART: this key's series began again (a new state folder)");
        }
        if !self.gaps.is_empty() {
            let g: Vec<String> = self
                .gaps
                .iter()
                .map(|&(a, b)| {
                    if a == b {
                        format!("#{a}")
                    } else {
                        format!("#{a}-#{b}")
                    }
                })
                .collect();
            s.push_str(&format!("; MISSING {}", g.join(", ")));
        }
        if !self.forks.is_empty() {
            let f: Vec<String> = self.forks.iter().map(|n| format!("#{n}")).collect();
            s.push_str(&format!("; FORK at {}", f.join(", ")));
        }
        s
    }

    /// The first 8 characters of the id, as people see it.
    pub fn short_id(&self) -> String {
        self.id.chars().take(8).collect()
    }

    /// Nothing missing between its ends and nothing forked.
    pub fn whole(&self) -> bool {
        self.gaps.is_empty() && self.forks.is_empty()
    }
}

/// The QC sample to check again by hand (R2v3: at least 5 % of logically sanitized media).
#[derive(Clone, Debug, Serialize)]
pub struct Qc {
    pub percent: f64,
    pub seed: String,
    /// How many media could be drawn (covered by a clear or purge PASS).
    pub population: usize,
    /// The drawn ones, by name.
    pub picks: Vec<Pick>,
}

/// One medium drawn for the QC re-check, and the record that covers it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pick {
    /// An asset's `serial X` (or `asset tag X`), or a medium's key.
    pub medium: String,
    /// The file of the record that covers it, and the certificate's id.
    pub certificate: String,
    pub id: String,
    /// The entry of that record.
    #[serde(skip)]
    pub entry: usize,
}
