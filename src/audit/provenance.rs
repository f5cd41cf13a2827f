//! What an audit report says about how it was made, so that it stands on its own: the version
//! and command line, when it ran, the keys it trusted, and the BLAKE3 of every file it read.

use serde::Serialize;

use crate::cert::trust::Trust;

pub use crate::findings::{Anchor, Input, Role};

/// How a report was made.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Context {
    pub version: String,
    /// The command line, as given.
    pub command: Vec<String>,
    /// When the audit ran (UTC).
    pub generated: String,
    /// `--principal`, if given.
    pub principal: Option<String>,
    pub anchors: Vec<Anchor>,
    /// Every file read, sorted by name.
    pub inputs: Vec<Input>,
}

impl Context {
    /// The inputs as `b3sum` prints them (`HASH  FILE`, one per line, sorted by file), so
    /// `b3sum --check` can check them again from where the audit ran.
    pub fn listing(&self) -> String {
        self.inputs
            .iter()
            .map(|i| format!("{}  {}\n", i.blake3, i.file))
            .collect()
    }

    /// The BLAKE3 of [`Context::listing`]: one value that a printout can carry for all inputs.
    pub fn inputs_blake3(&self) -> String {
        blake3::hash(self.listing().as_bytes()).to_hex().to_string()
    }

    /// The command line as one line a shell would read back (each argument quoted when it
    /// needs to be).
    pub fn command_line(&self) -> String {
        self.command
            .iter()
            .map(|a| {
                if !a.is_empty()
                    && a.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b))
                {
                    a.clone()
                } else {
                    format!("'{}'", a.replace('\'', r"'\''"))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn time(t: Option<i64>) -> Option<String> {
    t.map(|t| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| t.to_string())
    })
}

/// Every key `trust` holds, in the order given.
pub fn anchors(trust: &Trust) -> Vec<Anchor> {
    let key =
        |k: &ssh_key::PublicKey| (k.algorithm().to_string(), crate::cert::sign::fingerprint(k));
    let mut out: Vec<Anchor> = trust
        .keys
        .iter()
        .map(|(k, p)| {
            let (key_type, fingerprint) = key(k);
            Anchor {
                source: p.display().to_string(),
                line: None,
                principals: String::new(),
                cert_authority: false,
                key_type,
                fingerprint,
                namespaces: None,
                valid_after: None,
                valid_before: None,
            }
        })
        .collect();
    for (p, entries) in &trust.files {
        out.extend(entries.iter().map(|e| {
            let (key_type, fingerprint) = key(&e.key);
            Anchor {
                source: p.display().to_string(),
                line: Some(e.line),
                principals: e.principals.clone(),
                cert_authority: e.cert_authority,
                key_type,
                fingerprint,
                namespaces: e.namespaces.clone(),
                valid_after: time(e.valid_after),
                valid_before: time(e.valid_before),
            }
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_is_b3sums_and_its_digest_covers_every_line() {
        let mut c = Context {
            inputs: vec![
                Input::of("a.json".into(), Role::Certificate, b"{}"),
                Input::of("a.json.sig".into(), Role::Signature, b"sig"),
            ],
            ..Context::default()
        };
        assert_eq!(
            c.listing(),
            format!(
                "{}  a.json\n{}  a.json.sig\n",
                blake3::hash(b"{}").to_hex(),
                blake3::hash(b"sig").to_hex()
            )
        );
        let before = c.inputs_blake3();
        c.inputs[1] = Input::of("a.json.sig".into(), Role::Signature, b"sig2");
        assert_ne!(c.inputs_blake3(), before);
    }

    #[test]
    fn the_command_line_reads_back_in_a_shell() {
        let c = Context {
            command: vec![
                "mediasan".into(),
                "audit".into(),
                "certs dir".into(),
                "--seed".into(),
                "it's".into(),
                "".into(),
                "--csv=r.csv".into(),
            ],
            ..Context::default()
        };
        assert_eq!(
            c.command_line(),
            r"mediasan audit 'certs dir' --seed 'it'\''s' '' --csv=r.csv"
        );
    }
}
