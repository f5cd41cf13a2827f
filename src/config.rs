//! The organization file, `mediasan.toml` in the config folder (or `--config FILE`): who we
//! are and our defaults, so technicians do not retype them on every wipe. Flags always win.
//!
//! ```toml
//! organization = "ACME Datacenter Services"
//! location = "Frankfurt DC2, cage 14"
//! contact = "+49 69 0000 0000, wipe@acme.example"
//! operator = "Jane Doe"            # default person performing; --operator overrides
//! title = "Datacenter technician"
//! cert_dir = "/var/lib/mediasan/certificates"
//! key = "/etc/mediasan/signing_key"
//! policy = "nist-clear"
//! destination = "recycling facility"
//! allowed_signers = "/etc/mediasan/allowed_signers"
//! require = ["operator", "asset_tag"]   # refuse a run that would leave these empty
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The organization file's contents; every key is optional.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub organization: Option<String>,
    pub location: Option<String>,
    pub contact: Option<String>,
    pub operator: Option<String>,
    pub title: Option<String>,
    pub cert_dir: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub policy: Option<String>,
    pub destination: Option<String>,
    /// An OpenSSH allowed_signers file: whom `cert verify`, `cert show`, `cert render` and
    /// `verify` trust as signers.
    pub allowed_signers: Option<PathBuf>,
    /// Record fields every certificate must have (a run that would leave one empty is
    /// refused): any of operator, title, organization, location, contact, asset_tag,
    /// media_source, classification, data_backed_up, backup_location, post_classification,
    /// destination, note, validator.
    #[serde(default)]
    pub require: Vec<String>,
}

/// `$XDG_CONFIG_HOME/mediasan/mediasan.toml`, else `~/.config/mediasan/mediasan.toml`.
pub fn default_path() -> Option<PathBuf> {
    crate::cert::sign::default_key_path().map(|k| k.with_file_name("mediasan.toml"))
}

/// Parses the file's text; `source` names it in errors.
///
/// # Errors
/// [`Error::Usage`] naming the line and the problem.
pub fn parse(text: &str, source: &str) -> Result<Config> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        Error::Usage(format!(
            "config {source}: {}{}",
            line.map(|l| format!("line {l}: ")).unwrap_or_default(),
            e.message().replace('\n', " ")
        ))
    })
}

/// Loads `--config FILE` (which must exist), else the default file if there is one.
///
/// # Errors
/// [`Error::Usage`] if a named file is missing or any file does not parse.
pub fn load(explicit: Option<&Path>) -> Result<Config> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match default_path() {
            Some(p) if p.exists() => p,
            _ => return Ok(Config::default()),
        },
    };
    let text = crate::limits::read_to_string(&path, crate::limits::CONFIG)
        .map_err(|e| Error::Usage(format!("cannot read config {}: {e}", path.display())))?;
    parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let text = "organization = \"ACME\"\nlocation = \"DC2\"\ncontact = \"x@y\"\noperator = \"Jane\"\n\
                    title = \"Tech\"\ncert_dir = \"/c\"\nkey = \"/k\"\npolicy = \"nist-clear-zero\"\n\
                    destination = \"recycling facility\"\n";
        let c = parse(text, "t").unwrap();
        assert_eq!(c.organization.as_deref(), Some("ACME"));
        assert_eq!(c.cert_dir, Some(PathBuf::from("/c")));
        assert_eq!(c.policy.as_deref(), Some("nist-clear-zero"));
        assert_eq!(parse("", "t").unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_name_the_line() {
        let Err(Error::Usage(m)) = parse("organization = \"A\"\norganisation = \"B\"\n", "f.toml")
        else {
            panic!()
        };
        assert!(m.contains("line 2") && m.contains("organisation"), "{m}");
    }
}
