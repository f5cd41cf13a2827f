//! Where mediasan keeps its files by default, following the XDG base directories: a leaf, so
//! every layer can ask without importing another.

use std::path::PathBuf;

/// `$XDG_CONFIG_HOME/mediasan`, else `~/.config/mediasan`: the signing key, the organization
/// file.
pub fn config_dir() -> Option<PathBuf> {
    base("XDG_CONFIG_HOME", ".config")
}

/// `$XDG_STATE_HOME/mediasan`, else `~/.local/state/mediasan`: journals, the signers' series,
/// certificates that had nowhere else to go.
pub fn state_dir() -> Option<PathBuf> {
    base("XDG_STATE_HOME", ".local/state")
}

fn base(var: &str, under_home: &str) -> Option<PathBuf> {
    let base = std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(under_home))
        })?;
    Some(base.join("mediasan"))
}
