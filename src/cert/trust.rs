//! Who may sign certificates. A valid signature only says "this key signed these bytes"; exit 0
//! means *authentic and from a signer you trust*, and trust comes from the user:
//!
//! - `--pubkey KEY.pub` (one or more keys),
//! - an OpenSSH `allowed_signers` file (`--allowed-signers FILE`, or `allowed_signers` in the
//!   organization file): the format `ssh-keygen -Y verify -f` reads, with principals,
//!   `namespaces="..."`, `valid-after="..."` and `valid-before="..."` honoured, so one trust file
//!   serves OpenSSH and mediasan. A `cert-authority` line trusts the keys whose OpenSSH
//!   certificate its CA signed (`ssh-keygen -s CA -I ID -n PRINCIPALS -V ...`), presented in the
//!   signature as `ssh-keygen -Y sign -f KEY-cert.pub` embeds it: a user certificate, valid at
//!   that time, naming the principal asked for (or one the line allows), as `ssh-keygen -Y
//!   verify` judges it; so one line trusts a whole fleet.
//!
//! With none of them the signer is *not checked*, and the commands say so and do not exit 0.
//! Validity windows are judged as `ssh-keygen -Y verify` judges them: now, by default, so
//! whoever holds a retired key cannot sign a backdated certificate. `--verify-time claimed`
//! judges at the time each certificate claims (OpenSSH's `-Overify-time=<that time>`), which
//! relies on the signer's clock and is said so; `--verify-time TIME` at a time the reader
//! chooses.

use std::path::{Path, PathBuf};

use ssh_key::PublicKey;

use super::sign::{fingerprint, SignedBy, NAMESPACE};
use crate::error::{Error, Result};

/// One line of an allowed_signers file.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Principal patterns (`*`, `?`, `!negation`), as written.
    pub principals: String,
    /// `cert-authority`: an SSH CA key, trusting the OpenSSH certificates it signed.
    pub cert_authority: bool,
    /// `namespaces="..."`: pattern list the namespace must match, if given.
    pub namespaces: Option<String>,
    /// `valid-after` / `valid-before`, seconds since the epoch.
    pub valid_after: Option<i64>,
    pub valid_before: Option<i64>,
    pub key: PublicKey,
    /// 1-based line in the file.
    pub line: usize,
}

/// When a key's `valid-after`/`valid-before` window is judged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VerifyTime {
    /// Now, as `ssh-keygen -Y verify` does by default.
    #[default]
    Now,
    /// At the time the certificate claims it was signed: relies on the signer's clock.
    Claimed,
    /// At this time (seconds since the epoch), as `ssh-keygen -Overify-time=`.
    At(i64),
}

impl VerifyTime {
    /// `now`, `claimed`, or an allowed_signers time (`YYYYMMDD[HHMM[SS]][Z]`).
    ///
    /// # Errors
    /// What is accepted, in words.
    pub fn parse(text: &str) -> std::result::Result<VerifyTime, String> {
        match text {
            "now" => Ok(VerifyTime::Now),
            "claimed" => Ok(VerifyTime::Claimed),
            t => parse_time(t).map(VerifyTime::At).ok_or_else(|| {
                format!(
                    "{t:?} is not now, claimed, or a time YYYYMMDD[HHMM[SS]][Z] (as ssh-keygen \
                     -Overify-time)"
                )
            }),
        }
    }

    /// "now", "claimed", or the time (RFC 3339), for machines.
    pub fn name(self) -> String {
        match self {
            VerifyTime::Now => "now".into(),
            VerifyTime::Claimed => "claimed".into(),
            VerifyTime::At(t) => humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0).unsigned_abs()),
            )
            .to_string(),
        }
    }

    /// What a report says about it, when it is not the default.
    pub fn note(self) -> Option<String> {
        match self {
            VerifyTime::Now => None,
            VerifyTime::Claimed => Some(
                "signers' keys were judged valid or not at the time each certificate claims it \
                 was signed (--verify-time claimed): this relies on the signer's clock"
                    .into(),
            ),
            VerifyTime::At(_) => Some(format!(
                "signers' keys were judged valid or not at {} (--verify-time), not now",
                self.name()
            )),
        }
    }

    /// "now", "when the certificate says it was signed", "at the --verify-time".
    fn when(self) -> &'static str {
        match self {
            VerifyTime::Now => "now",
            VerifyTime::Claimed => "when the certificate says it was signed",
            VerifyTime::At(_) => "at the --verify-time",
        }
    }

    /// The time to judge at, for a certificate that claims `claimed`.
    fn at(self, claimed: Option<i64>) -> Option<i64> {
        match self {
            VerifyTime::Now => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .and_then(|d| i64::try_from(d.as_secs()).ok()),
            VerifyTime::Claimed => claimed,
            VerifyTime::At(t) => Some(t),
        }
    }
}

/// What the user trusts.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// Keys given with `--pubkey`, with the file each came from.
    pub keys: Vec<(PublicKey, PathBuf)>,
    /// allowed_signers files and their entries.
    pub files: Vec<(PathBuf, Vec<Entry>)>,
    /// `--principal`: the signer must be listed under this name.
    pub principal: Option<String>,
    /// When validity windows are judged.
    pub time: VerifyTime,
    /// The files the trust was read from, as read (a report says what it trusted).
    pub sources: Vec<Source>,
    /// This machine's own signing key (its public half, and the file it came from): trusted
    /// only when nothing else is, and only for itself.
    pub own: Option<(PublicKey, PathBuf)>,
}

/// A file trust was read from: its size and BLAKE3 as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    /// An allowed_signers file; otherwise a `--pubkey`.
    pub allowed_signers: bool,
    pub bytes: u64,
    pub blake3: String,
}

impl Source {
    fn of(path: &Path, allowed_signers: bool, data: &[u8]) -> Source {
        Source {
            path: path.to_path_buf(),
            allowed_signers,
            bytes: data.len() as u64,
            blake3: blake3::hash(data).to_hex().to_string(),
        }
    }
}

/// The verdict on a signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signer {
    /// Trusted: `by` says through what (the key file, or principal and allowed_signers line);
    /// `identity` is who that makes the signer, the same for every key a CA certified: the
    /// principal and the key, or the principal and the CA.
    Trusted {
        fingerprint: String,
        by: String,
        identity: String,
    },
    /// Trust anchors were given and this key is not among them (or not for this namespace,
    /// principal or time): why.
    Untrusted { fingerprint: String, why: String },
    /// No trust anchor was given at all.
    NotChecked { fingerprint: String },
}

impl Signer {
    /// The signer's `SHA256:...` fingerprint.
    pub fn fingerprint(&self) -> &str {
        match self {
            Signer::Trusted { fingerprint, .. }
            | Signer::Untrusted { fingerprint, .. }
            | Signer::NotChecked { fingerprint } => fingerprint,
        }
    }

    /// True only for a trusted signer.
    pub fn trusted(&self) -> bool {
        matches!(self, Signer::Trusted { .. })
    }

    /// One phrase for people: "SHA256:... (trusted: ...)", "... NOT TRUSTED: ...", "... (signer
    /// NOT CHECKED: ...)".
    pub fn describe(&self) -> String {
        match self {
            Signer::Trusted {
                fingerprint, by, ..
            } => format!("{fingerprint} (trusted: {by})"),
            Signer::Untrusted { fingerprint, why } => format!("{fingerprint}, NOT TRUSTED: {why}"),
            Signer::NotChecked { fingerprint } => format!(
                "{fingerprint} (signer NOT CHECKED: give --pubkey KEY.pub or --allowed-signers FILE, \
                 or set allowed_signers in the organization file)"
            ),
        }
    }
}

/// OpenSSH's `match_pattern`: `*` any run, `?` one character.
fn glob(pattern: &[char], s: &[char]) -> bool {
    match pattern.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some(('?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

/// OpenSSH's `match_pattern_list`: comma-separated patterns, `!` negates; a negated match
/// wins over everything; otherwise any positive match.
pub fn matches_list(s: &str, list: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let mut hit = false;
    for p in list.split(',') {
        let (neg, p) = match p.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, p),
        };
        let p: Vec<char> = p.chars().collect();
        if glob(&p, &s) {
            if neg {
                return false;
            }
            hit = true;
        }
    }
    hit
}

/// Splits off the first whitespace-separated token of `s`, honouring double quotes (which are
/// kept for options, removed for principals by the caller).
fn token(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return Some((&s[..i], &s[i..])),
            _ => {}
        }
    }
    Some((s, ""))
}

/// An allowed_signers time: `YYYYMMDD[HHMM[SS]]`, optionally followed by `Z` (UTC; otherwise
/// local time, as OpenSSH reads it). Seconds since the epoch.
pub fn parse_time(text: &str) -> Option<i64> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};
    let (digits, utc) = match text.strip_suffix(['Z', 'z']) {
        Some(d) => (d, true),
        None => (text, false),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| digits.get(r).map_or(Some(0), |x| x.parse::<u32>().ok());
    let date = NaiveDate::from_ymd_opt(digits[..4].parse().ok()?, n(4..6)?, n(6..8)?)?;
    let t: NaiveDateTime = date.and_hms_opt(n(8..10)?, n(10..12)?, n(12..14)?)?;
    if utc {
        Some(t.and_utc().timestamp())
    } else {
        chrono::Local
            .from_local_datetime(&t)
            .earliest()
            .map(|d| d.timestamp())
    }
}

/// Parses an allowed_signers file (`source` names it in errors).
///
/// # Errors
/// [`Error::CertificateInput`] naming the line that cannot be read.
pub fn parse_allowed_signers(text: &str, source: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let bad = |why: String| Error::CertificateInput(format!("{source}: line {line}: {why}"));
        let (principals, rest) = token(l).ok_or_else(|| bad("no principals".into()))?;
        let principals = principals.trim_matches('"').to_string();
        // The key may follow at once, or after an options field.
        let (key, options) = match PublicKey::from_openssh(rest.trim()) {
            Ok(k) => (k, ""),
            Err(_) => {
                let (opts, rest) = token(rest).ok_or_else(|| bad("no key".into()))?;
                let k = PublicKey::from_openssh(rest.trim())
                    .map_err(|e| bad(format!("cannot read the key ({e})")))?;
                (k, opts)
            }
        };
        let mut e = Entry {
            principals,
            cert_authority: false,
            namespaces: None,
            valid_after: None,
            valid_before: None,
            key,
            line,
        };
        let mut opts = options;
        while !opts.is_empty() {
            // name or name="value", separated by commas outside quotes.
            let mut quoted = false;
            let end = opts
                .char_indices()
                .find(|&(_, c)| {
                    if c == '"' {
                        quoted = !quoted;
                    }
                    c == ',' && !quoted
                })
                .map_or(opts.len(), |(i, _)| i);
            let opt = &opts[..end];
            opts = opts.get(end + 1..).unwrap_or("");
            let (name, value) = match opt.split_once('=') {
                Some((n, v)) => (n, Some(v.trim_matches('"'))),
                None => (opt, None),
            };
            match (name.to_ascii_lowercase().as_str(), value) {
                ("cert-authority", None) => e.cert_authority = true,
                ("namespaces", Some(v)) => e.namespaces = Some(v.to_string()),
                ("valid-after", Some(v)) => {
                    e.valid_after = Some(parse_time(v).ok_or_else(|| bad(format!("bad time {v}")))?)
                }
                ("valid-before", Some(v)) => {
                    e.valid_before =
                        Some(parse_time(v).ok_or_else(|| bad(format!("bad time {v}")))?)
                }
                _ => return Err(bad(format!("unknown option {opt}"))),
            }
        }
        out.push(e);
    }
    Ok(out)
}

impl Trust {
    /// The trust anchors from the options and the organization file.
    ///
    /// # Errors
    /// [`Error::CertificateInput`] when a key or trust file cannot be read.
    pub fn load(
        pubkeys: &[PathBuf],
        allowed_signers: &[PathBuf],
        principal: Option<&str>,
    ) -> Result<Trust> {
        let mut t = Trust {
            principal: principal.map(str::to_string),
            ..Trust::default()
        };
        for p in pubkeys {
            let text = super::sign::read_public(p)?;
            t.keys
                .push((super::sign::public_from_text(&text, p)?, p.clone()));
            t.sources.push(Source::of(p, false, text.as_bytes()));
        }
        for p in allowed_signers {
            let text = crate::limits::read_to_string(p, crate::limits::TRUST).map_err(|e| {
                Error::CertificateInput(format!("cannot read allowed signers {}: {e}", p.display()))
            })?;
            t.sources.push(Source::of(p, true, text.as_bytes()));
            t.files.push((
                p.clone(),
                parse_allowed_signers(&text, &p.display().to_string())?,
            ));
        }
        Ok(t)
    }

    /// True when the user gave anything to trust.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.files.is_empty()
    }

    /// The same trust, and where it names nobody, this machine's own key (`key`, read from
    /// `path`) for the certificates it signed itself.
    #[must_use]
    pub fn or_own_key(mut self, key: PublicKey, path: PathBuf) -> Trust {
        self.own = Some((key, path));
        self
    }

    /// The same trust, its validity windows judged at `time`.
    #[must_use]
    pub fn at(mut self, time: VerifyTime) -> Trust {
        self.time = time;
        self
    }

    /// Judges who signed a certificate that claims it was signed at `claimed` (seconds since
    /// the epoch; used only with [`VerifyTime::Claimed`]).
    pub fn judge(&self, signer: &SignedBy, claimed: Option<i64>) -> Signer {
        self.judge_in(signer, claimed, NAMESPACE)
    }

    /// What an allowed_signers line says against a signature in `namespace` at `at`: its
    /// namespaces, the principal asked for, and its own valid-after/valid-before.
    fn line_refusal(&self, e: &Entry, namespace: &str, at: Option<i64>) -> Option<String> {
        let when = self.time.when();
        let refuse = if e
            .namespaces
            .as_deref()
            .is_some_and(|n| !matches_list(namespace, n))
        {
            Some(format!("not for the namespace {namespace}"))
        } else if let Some(p) = self
            .principal
            .as_deref()
            .filter(|p| !matches_list(p, &e.principals))
        {
            Some(format!("not listed for the principal {p}"))
        } else if let (Some(a), Some(t)) = (e.valid_after, at) {
            (t < a).then(|| format!("not yet valid {when} (valid-after)"))
        } else {
            None
        };
        refuse.or_else(|| match (e.valid_before, at) {
            (Some(b), Some(t)) if t > b => Some(format!("no longer valid {when} (valid-before)")),
            (Some(_) | None, None) if e.valid_after.is_some() || e.valid_before.is_some() => {
                Some("the certificate has no time to check the key's validity at".to_string())
            }
            _ => None,
        })
    }

    /// Where trust was looked for, for "not in ...".
    fn places(&self) -> String {
        let mut places: Vec<String> = self
            .keys
            .iter()
            .map(|(_, p)| p.display().to_string())
            .collect();
        places.extend(self.files.iter().map(|(p, _)| p.display().to_string()));
        places.join(", ")
    }

    /// [`Trust::judge`] for a signature in `namespace` (an allowed_signers line's
    /// `namespaces=` must allow it). A plain key is trusted by a `--pubkey` or a key line; a
    /// key that presented an OpenSSH certificate only by a `cert-authority` line of the CA that
    /// signed it, as `ssh-keygen -Y verify` judges it.
    pub fn judge_in(&self, by: &SignedBy, claimed: Option<i64>, namespace: &str) -> Signer {
        let signer = &by.key;
        let at = self.time.at(claimed);
        let fingerprint = fingerprint(signer);
        if self.is_empty() {
            return match &self.own {
                Some((k, p)) if self.principal.is_none() && k.key_data() == signer.key_data() => {
                    Signer::Trusted {
                        identity: format!("key {fingerprint}"),
                        fingerprint,
                        by: format!("this machine's key, {}", p.display()),
                    }
                }
                _ => Signer::NotChecked { fingerprint },
            };
        }
        if let Some(cert) = &by.cert {
            return self.judge_certificate(cert, fingerprint, at, namespace);
        }
        if self.principal.is_none() {
            if let Some((_, p)) = self
                .keys
                .iter()
                .find(|(k, _)| k.key_data() == signer.key_data())
            {
                return Signer::Trusted {
                    identity: format!("key {fingerprint}"),
                    fingerprint,
                    by: format!("the key in {}", p.display()),
                };
            }
        }
        let mut why = Vec::new();
        for (file, entries) in &self.files {
            for e in entries
                .iter()
                .filter(|e| e.key.key_data() == signer.key_data())
            {
                let at_line = format!("{} line {}", file.display(), e.line);
                let refuse = if e.cert_authority {
                    Some(
                        "a cert-authority line trusts the OpenSSH certificates its key signed, \
                         not signatures made with the CA key itself"
                            .to_string(),
                    )
                } else {
                    self.line_refusal(e, namespace, at)
                };
                match refuse {
                    None => {
                        return Signer::Trusted {
                            identity: format!("{} (key {fingerprint})", e.principals),
                            fingerprint,
                            by: format!("{} in {at_line}", e.principals),
                        }
                    }
                    Some(r) => why.push(format!("{at_line}: {r}")),
                }
            }
        }
        let why = if why.is_empty() {
            format!("the key is not in {}", self.places())
        } else {
            why.join("; ")
        };
        Signer::Untrusted { fingerprint, why }
    }

    /// A signature by a key with an OpenSSH certificate: trusted by a `cert-authority` line
    /// whose key signed the certificate, when the line allows the namespace, the principal
    /// and the time, the certificate is a user certificate whose CA signature verifies, it is
    /// valid at that time, and it names the principal asked for (or, without one, a principal
    /// the line allows).
    fn judge_certificate(
        &self,
        cert: &ssh_key::Certificate,
        fingerprint: String,
        at: Option<i64>,
        namespace: &str,
    ) -> Signer {
        let when = self.time.when();
        let mut why = Vec::new();
        for (file, entries) in &self.files {
            for e in entries
                .iter()
                .filter(|e| e.cert_authority && e.key.key_data() == cert.signature_key())
            {
                let at_line = format!("{} line {}", file.display(), e.line);
                let principals = cert.valid_principals();
                let allowed: Vec<&str> = match self.principal.as_deref() {
                    Some(p) => principals
                        .iter()
                        .filter(|c| c.as_str() == p)
                        .map(String::as_str)
                        .collect(),
                    None => principals
                        .iter()
                        .filter(|c| matches_list(c, &e.principals))
                        .map(String::as_str)
                        .collect(),
                };
                let refuse = self.line_refusal(e, namespace, at).or_else(|| {
                    if cert.cert_type() != ssh_key::certificate::CertType::User {
                        Some("the OpenSSH certificate is a host certificate, not a user certificate".into())
                    } else if cert.verify_signature().is_err() {
                        Some("the OpenSSH certificate's signature by the CA does not verify".into())
                    } else if let Some(t) = at.and_then(|t| u64::try_from(t).ok()) {
                        if t < cert.valid_after() {
                            Some(format!("the OpenSSH certificate is not yet valid {when}"))
                        } else if t >= cert.valid_before() {
                            Some(format!("the OpenSSH certificate has expired {when}"))
                        } else if principals.is_empty() {
                            Some("the OpenSSH certificate lists no principals".into())
                        } else if allowed.is_empty() {
                            Some(match self.principal.as_deref() {
                                Some(p) => format!(
                                    "the OpenSSH certificate is not for the principal {p} (it names {})",
                                    principals.join(", ")
                                ),
                                None => format!(
                                    "none of the OpenSSH certificate's principals ({}) is allowed by the line ({})",
                                    principals.join(", "),
                                    e.principals
                                ),
                            })
                        } else {
                            None
                        }
                    } else {
                        Some("the certificate has no time to check the OpenSSH certificate's validity at".into())
                    }
                });
                match refuse {
                    None => {
                        return Signer::Trusted {
                            identity: format!(
                                "{} (CA {})",
                                allowed.join(","),
                                super::sign::fingerprint(&e.key)
                            ),
                            fingerprint,
                            by: format!(
                            "{} with OpenSSH certificate {:?} (serial {}) from the CA in {at_line}",
                            allowed.join(","),
                            cert.key_id(),
                            cert.serial()
                        ),
                        }
                    }
                    Some(r) => why.push(format!("{at_line}: {r}")),
                }
            }
        }
        let why = if why.is_empty() {
            format!(
                "signed with an OpenSSH certificate ({:?}) from the CA {}, which no cert-authority line in {} names",
                cert.key_id(),
                cert.signature_key().fingerprint(ssh_key::HashAlg::Sha256),
                self.places()
            )
        } else {
            why.join("; ")
        };
        Signer::Untrusted { fingerprint, why }
    }
}

/// The path given with `--allowed-signers`, else the organization file's `allowed_signers`.
pub fn allowed_signers_files(flag: Option<&Path>, config: Option<&Path>) -> Vec<PathBuf> {
    flag.or(config).map(Path::to_path_buf).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPHH2eehP4zKT9Q01DeWlZbiRGDhxYLpV3Tt8urOaDMl";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).unwrap()
    }

    #[test]
    fn patterns_match_as_openssh_does() {
        assert!(matches_list("lab", "lab"));
        assert!(matches_list("lab-2", "lab-*"));
        assert!(matches_list("lab2", "lab?"));
        assert!(!matches_list("lab22", "lab?"));
        assert!(matches_list("x", "a,b,x"));
        assert!(!matches_list("lab-2", "lab-*,!lab-2"));
        assert!(matches_list("mediasan-certificate", "file,mediasan-*"));
        assert!(!matches_list("", "a"));
    }

    #[test]
    fn allowed_signers_lines_and_options_are_read() {
        let text = format!(
            "# comment\n\nlab {KEY_A} comment\n\"a b,ops\" namespaces=\"file,mediasan-certificate\",valid-after=\"20260101\",valid-before=\"20270101Z\" {KEY_A}\nca cert-authority {KEY_A}\n"
        );
        let e = parse_allowed_signers(&text, "f").unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].principals, "lab");
        assert_eq!(e[0].line, 3);
        assert_eq!(e[1].principals, "a b,ops", "quotes removed");
        assert_eq!(
            e[1].namespaces.as_deref(),
            Some("file,mediasan-certificate")
        );
        assert_eq!(e[1].valid_before, Some(1_798_761_600));
        assert!(e[1].valid_after.is_some());
        assert!(e[2].cert_authority);
        for bad in [
            format!("lab bogus=\"x\" {KEY_A}"),
            "lab ssh-ed25519 notbase64".to_string(),
            format!("lab valid-after=\"2026\" {KEY_A}"),
            "lab".to_string(),
        ] {
            let err = parse_allowed_signers(&bad, "f").unwrap_err().to_string();
            assert!(err.contains("line 1"), "{bad}: {err}");
        }
    }

    #[test]
    fn trust_needs_an_anchor_and_honours_namespace_principal_and_time() {
        let k = key(KEY_A);
        assert!(matches!(
            Trust::default().judge(&SignedBy::key(k.clone()), None),
            Signer::NotChecked { .. }
        ));
        let file = |line: &str| Trust {
            files: vec![(
                PathBuf::from("as"),
                parse_allowed_signers(line, "as").unwrap(),
            )],
            ..Trust::default()
        };
        let t = file(&format!("lab {KEY_A}"));
        assert!(t.judge(&SignedBy::key(k.clone()), Some(0)).trusted());
        let t = file(&format!("lab namespaces=\"file\" {KEY_A}"));
        assert!(!t.judge(&SignedBy::key(k.clone()), Some(0)).trusted());
        let t = file(&format!("lab cert-authority {KEY_A}"));
        assert!(!t.judge(&SignedBy::key(k.clone()), Some(0)).trusted());
        let t = file(&format!("lab valid-before=\"20260101Z\" {KEY_A}"));
        let before = parse_time("20251231Z").unwrap();
        let after = parse_time("20260102Z").unwrap();
        assert!(
            !t.judge(&SignedBy::key(k.clone()), Some(before)).trusted(),
            "judged now, as OpenSSH does: a certificate's claimed time does not matter"
        );
        let t = t.at(VerifyTime::Claimed);
        assert!(
            t.judge(&SignedBy::key(k.clone()), Some(before)).trusted(),
            "claimed: signed while the key was valid"
        );
        assert!(!t.judge(&SignedBy::key(k.clone()), Some(after)).trusted());
        assert!(
            !t.judge(&SignedBy::key(k.clone()), None).trusted(),
            "no time, no validity check"
        );
        let t = t.at(VerifyTime::At(before));
        assert!(
            t.judge(&SignedBy::key(k.clone()), Some(after)).trusted(),
            "a fixed time"
        );
        let t = file(&format!("lab valid-after=\"20260101Z\" {KEY_A}"));
        assert!(
            t.judge(&SignedBy::key(k.clone()), Some(before)).trusted(),
            "valid now"
        );
        assert_eq!(VerifyTime::parse("claimed"), Ok(VerifyTime::Claimed));
        assert_eq!(VerifyTime::parse("now"), Ok(VerifyTime::Now));
        assert_eq!(VerifyTime::parse("20251231Z"), Ok(VerifyTime::At(before)));
        assert!(VerifyTime::parse("yesterday").is_err());
        assert!(VerifyTime::Claimed
            .note()
            .unwrap()
            .contains("signer's clock"));
        let mut t = file(&format!("lab,ops-* {KEY_A}"));
        t.principal = Some("ops-7".into());
        assert!(t.judge(&SignedBy::key(k.clone()), Some(0)).trusted());
        t.principal = Some("intruder".into());
        let v = t.judge(&SignedBy::key(k.clone()), Some(0));
        assert!(
            matches!(&v, Signer::Untrusted { why, .. } if why.contains("principal")),
            "{v:?}"
        );
        let other = Trust {
            files: vec![(PathBuf::from("as"), vec![])],
            ..Trust::default()
        };
        assert!(matches!(
            other.judge(&SignedBy::key(k.clone()), Some(0)),
            Signer::Untrusted { .. }
        ));
    }
}
