//! The library's typed error, and the exit code each kind maps to.
//!
//! Callers branch on the *kind* (usage error, safety refusal, I/O failure), so it is an enum.
//! The binary adds context with `anyhow` at the edges and `main` prints the chain on one line.

use std::io;
use std::path::PathBuf;

/// Exit codes, as documented in the README ("Exit codes").
pub mod exit {
    /// Every target sanitized and verified: PASS.
    pub const PASS: u8 = 0;
    /// Sanitization or verification failed (a FAIL or INCOMPLETE certificate is still written).
    pub const FAILED: u8 = 1;
    /// Usage or input error; nothing was written to any target.
    pub const USAGE: u8 = 2;
    /// Refused for safety (in use, mounted, read-only, not confirmed); nothing was written.
    pub const REFUSED: u8 = 3;
    /// Interrupted by a signal.
    pub const INTERRUPTED: u8 = 130;
}

/// Everything that can go wrong in mediasan, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad argument or input file: the user must change the command.
    #[error("{0}")]
    Usage(String),

    /// The target cannot be used as given (missing, a directory, empty, unreadable).
    #[error("{path}: {reason}")]
    Target { path: PathBuf, reason: String },

    /// A policy that is unknown or does not validate.
    #[error("policy {name}: {reason}")]
    Policy { name: String, reason: String },

    /// mediasan will not touch this target, for the user's own safety.
    #[error("refusing to erase {path}: {reason}")]
    Refused { path: PathBuf, reason: String },

    /// A certificate or signature file that cannot be read or parsed.
    #[error("{0}")]
    CertificateInput(String),

    /// A certificate whose signature does not verify (tampered, wrong key).
    #[error("{0}")]
    NotAuthentic(String),

    /// An I/O error, with the path, and the offset and pass where there is one.
    #[error("{what} {path}{}{}: {cause}",
        offset.map(|o| format!(" at offset {o}")).unwrap_or_default(),
        pass.map(|p| format!(" (pass {p})")).unwrap_or_default())]
    Io {
        what: &'static str,
        path: PathBuf,
        offset: Option<u64>,
        pass: Option<usize>,
        /// The OS error. Part of the message (not a `source`), so a chain printed with `{:#}`
        /// does not repeat it.
        cause: io::Error,
    },

    /// Stopped by SIGINT/SIGTERM.
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// The process exit code for this error (see [`exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Target { .. } | Error::Policy { .. } => exit::USAGE,
            Error::CertificateInput(_) => exit::USAGE,
            Error::Refused { .. } => exit::REFUSED,
            Error::NotAuthentic(_) | Error::Io { .. } => exit::FAILED,
            Error::Interrupted => exit::INTERRUPTED,
        }
    }

    /// Shorthand for an [`Error::Io`] without offset or pass.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            offset: None,
            pass: None,
            cause: source,
        }
    }

    /// Shorthand for an [`Error::Target`].
    pub fn target(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Target {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for an [`Error::Refused`].
    pub fn refused(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Refused {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
