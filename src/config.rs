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
//! create_key = false                     # true: make the default key on first use, unattended
//! policy = "nist-clear"
//! destination = "recycling facility"
//! allowed_signers = "/etc/mediasan/allowed_signers"
//! require = ["operator", "asset_tag"]   # refuse a run that would leave these empty
//! paper = "a4"                           # or "letter", for printed certificates
//!
//! [node]                                 # what the engine calls this machine
//! inventory = "dc2-r14-u07"
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
    /// Without a terminal, create the default signing key on first use (else such a run with
    /// no key configured is refused).
    #[serde(default)]
    pub create_key: bool,
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
    /// Paper for `cert render --format pdf`: `a4` or `letter` [default: /etc/papersize, else
    /// the locale's country].
    pub paper: Option<String>,
    /// What the engine calls this machine, in every certificate (`--node KEY=VALUE` replaces a
    /// key): `[node]` then `ironic_node = "..."`, `inventory = "..."`.
    #[serde(default)]
    pub node: std::collections::BTreeMap<String, String>,
}

/// `--node KEY=VALUE`: a key of letters, digits, `_`, `-` and `.`, and a value of printable
/// text.
///
/// # Errors
/// What is wrong, in words (clap shows it with the flag).
pub fn node_pair(s: &str) -> std::result::Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE (e.g. ironic_node=1be26c0b-...)"))?;
    if k.is_empty()
        || !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        return Err(format!(
            "{k:?}: a key is letters, digits, '_', '-' and '.' (e.g. ironic_node)"
        ));
    }
    if v.is_empty() || v.chars().any(char::is_control) {
        return Err(format!(
            "{k}: the value must be printable text and not empty"
        ));
    }
    Ok((k.to_string(), v.to_string()))
}

/// `$XDG_CONFIG_HOME/mediasan/mediasan.toml`, else `~/.config/mediasan/mediasan.toml`.
pub fn default_path() -> Option<PathBuf> {
    crate::places::config_dir().map(|c| c.join("mediasan.toml"))
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
            crate::toml_words::plain(e.message())
        ))
    })
}

/// A path from the organization file with a leading `~/` made the home folder (as a shell
/// would; TOML does not), so `cert_dir = "~/certs"` never becomes a folder named `~`.
///
/// # Errors
/// [`Error::Usage`] for `~` without a HOME, or `~user` (which we do not look up).
fn expand_home(
    p: &Path,
    home: Option<&std::ffi::OsStr>,
    key: &str,
    source: &str,
) -> Result<PathBuf> {
    let Ok(rest) = p.strip_prefix("~") else {
        let text = p.to_string_lossy();
        if text.starts_with('~') {
            return Err(Error::Usage(format!(
                "config {source}: {key} = {text:?}: `~user` paths are not expanded; write the full path"
            )));
        }
        return Ok(p.to_path_buf());
    };
    match home.filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(rest)),
        None => Err(Error::Usage(format!(
            "config {source}: {key} = {:?} starts with ~ but HOME is not set; write the full path",
            p.display().to_string()
        ))),
    }
}

/// The machine's organization file (the Debian package installs a commented one), read when
/// the user has none: for unattended runs as root.
pub const SYSTEM: &str = "/etc/mediasan/mediasan.toml";

/// Loads `--config FILE` (which must exist), else the user's file if there is one, else the
/// machine's ([`SYSTEM`]) if there is one.
///
/// # Errors
/// [`Error::Usage`] if a named file is missing or any file does not parse.
pub fn load(explicit: Option<&Path>) -> Result<Config> {
    load_from(explicit, default_path(), Path::new(SYSTEM))
}

fn load_from(explicit: Option<&Path>, user: Option<PathBuf>, system: &Path) -> Result<Config> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match user {
            Some(p) if p.exists() => p,
            _ if system.exists() => system.to_path_buf(),
            _ => return Ok(Config::default()),
        },
    };
    let text = crate::limits::read_to_string(&path, crate::limits::CONFIG)
        .map_err(|e| Error::Usage(format!("cannot read config {}: {e}", path.display())))?;
    let source = path.display().to_string();
    let mut c = parse(&text, &source)?;
    let home = std::env::var_os("HOME");
    for (key, value) in [
        ("cert_dir", &mut c.cert_dir),
        ("key", &mut c.key),
        ("allowed_signers", &mut c.allowed_signers),
    ] {
        if let Some(p) = value.as_mut() {
            *p = expand_home(p, home.as_deref(), key, &source)?;
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_file_then_the_machines_then_none() {
        let t = tempfile::tempdir().unwrap();
        let (user, system) = (t.path().join("user.toml"), t.path().join("system.toml"));
        std::fs::write(&system, "operator = \"machine\"\n").unwrap();
        let c = load_from(None, Some(user.clone()), &system).unwrap();
        assert_eq!(c.operator.as_deref(), Some("machine"));
        std::fs::write(&user, "operator = \"me\"\n").unwrap();
        let c = load_from(None, Some(user.clone()), &system).unwrap();
        assert_eq!(c.operator.as_deref(), Some("me"));
        let c = load_from(Some(&system), Some(user), &system).unwrap();
        assert_eq!(c.operator.as_deref(), Some("machine"), "--config wins");
        let none = load_from(None, None, &t.path().join("absent.toml")).unwrap();
        assert_eq!(none, Config::default());
        // The package's file, all comments, changes nothing.
        let shipped = include_str!("../packaging/mediasan.toml");
        assert_eq!(parse(shipped, "mediasan.toml").unwrap(), Config::default());
    }

    #[test]
    fn a_leading_tilde_is_the_home_folder() {
        let home = Some(std::ffi::OsStr::new("/home/jane"));
        let e = |p: &str, h| expand_home(Path::new(p), h, "cert_dir", "m.toml");
        assert_eq!(
            e("~/certs", home).unwrap(),
            PathBuf::from("/home/jane/certs")
        );
        assert_eq!(e("/srv/certs", None).unwrap(), PathBuf::from("/srv/certs"));
        assert_eq!(e("certs/~", None).unwrap(), PathBuf::from("certs/~"));
        let no_home = e("~/certs", None).unwrap_err().to_string();
        assert!(
            no_home.contains("HOME is not set") && no_home.contains("cert_dir"),
            "{no_home}"
        );
        assert!(e("~bob/certs", home)
            .unwrap_err()
            .to_string()
            .contains("`~user`"));
    }

    #[test]
    fn toml_messages_speak_of_numbers_and_tables_not_rust_types() {
        let e = parse("require = 3\n", "m.toml").unwrap_err().to_string();
        assert!(e.contains("line 1") && !e.contains("sequence"), "{e}");
    }

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
