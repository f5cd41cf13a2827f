//! The library's typed error, and the exit code each kind maps to.
//!
//! Callers branch on the *kind* (usage error, safety refusal, I/O failure), so it is an enum.
//! The binary adds context with `anyhow` at the edges and `main` prints the chain on one line.

use std::io;
use std::path::PathBuf;

/// How a command ends, as documented in the README ("Exit codes"): each outcome has one
/// process exit code, and several targets' outcomes combine into the worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: every target sanitized and verified (PASS); a read-only command succeeded.
    Pass,
    /// 1: sanitization or verification failed (a FAIL or INCOMPLETE certificate is still
    /// written); not authentic, or not from a trusted signer.
    Failed,
    /// 2: usage or input error; nothing was written to any target.
    Usage,
    /// 3: refused for safety (in use, mounted, read-only, not confirmed); nothing was written
    /// to the refused target (in a batch the others ran, unless `--all-or-nothing`).
    Refused,
    /// 130: interrupted by a signal (the journal is kept for `--resume`).
    Interrupted,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Pass => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Refused => 3,
            Exit::Interrupted => 130,
        }
    }

    /// How bad it is, for [`Exit::worst`]: an interruption outranks a refusal, which outranks
    /// a usage error, which outranks a failure, which outranks a pass.
    fn rank(self) -> u8 {
        match self {
            Exit::Pass => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Refused => 3,
            Exit::Interrupted => 4,
        }
    }

    /// The worst of several outcomes (several targets at once); `Pass` for none.
    pub fn worst(all: impl IntoIterator<Item = Exit>) -> Exit {
        all.into_iter()
            .max_by_key(|e| e.rank())
            .unwrap_or(Exit::Pass)
    }

    /// A sanitization's outcome: interrupted (the work can be resumed), else by its verdict.
    pub fn of(verdict: crate::contract::Verdict, interrupted: bool) -> Exit {
        match (interrupted, verdict) {
            (true, _) => Exit::Interrupted,
            (false, crate::contract::Verdict::Pass) => Exit::Pass,
            (false, _) => Exit::Failed,
        }
    }
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

    /// The target has no sanitize command of its own (a loop device, a virtual disk, an
    /// unknown bus): not a refusal, there is simply nothing to send; `reason` says what to do.
    #[error("{path} cannot be purged: {reason}")]
    NoPurge { path: PathBuf, reason: String },

    /// mediasan will not touch this target, for the user's own safety.
    #[error("refusing to erase {path}: {reason}")]
    Refused { path: PathBuf, reason: String },

    /// mediasan will not stop what is stacked on this disk (`stop-holders`), for the user's
    /// own safety: it spans a disk nobody named, or it is in use.
    #[error("refusing to stop what holds {path}: {reason}")]
    RefusedStop { path: PathBuf, reason: String },

    /// A certificate or signature file that cannot be read or parsed.
    #[error("{0}")]
    CertificateInput(String),

    /// A certificate whose signature does not verify (tampered, wrong key).
    #[error("{0}")]
    NotAuthentic(String),

    /// An I/O error on a file of ours (a journal, a key, a certificate), with its path. (I/O
    /// errors on a target are never errors: they are recorded in its certificate.)
    #[error("{what} {path}: {cause}")]
    Io {
        what: &'static str,
        path: PathBuf,
        /// The OS error. Part of the message (not a `source`), so a chain printed with `{:#}`
        /// does not repeat it.
        cause: io::Error,
    },
}

impl Error {
    /// How a command that ends with this error ends (see [`Exit`]).
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Target { .. } | Error::Policy { .. } => Exit::Usage,
            Error::NoPurge { .. } => Exit::Usage,
            Error::CertificateInput(_) => Exit::Usage,
            Error::Refused { .. } | Error::RefusedStop { .. } => Exit::Refused,
            Error::NotAuthentic(_) | Error::Io { .. } => Exit::Failed,
        }
    }

    /// The target this error is about, where it is about one.
    pub fn target_path(&self) -> Option<&std::path::Path> {
        match self {
            Error::Target { path, .. }
            | Error::NoPurge { path, .. }
            | Error::Refused { path, .. }
            | Error::RefusedStop { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Shorthand for an [`Error::Io`].
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Verdict;

    #[test]
    fn exit_codes_are_the_documented_numbers_and_the_worst_wins() {
        let all = [
            Exit::Pass,
            Exit::Failed,
            Exit::Usage,
            Exit::Refused,
            Exit::Interrupted,
        ];
        assert_eq!(all.map(Exit::code), [0, 1, 2, 3, 130]);
        assert_eq!(Exit::worst([]), Exit::Pass);
        assert_eq!(
            Exit::worst([Exit::Pass, Exit::Failed, Exit::Pass]),
            Exit::Failed
        );
        assert_eq!(
            Exit::worst([Exit::Interrupted, Exit::Refused]),
            Exit::Interrupted
        );
        assert_eq!(Exit::worst([Exit::Usage, Exit::Failed]), Exit::Usage);
        assert_eq!(Exit::of(Verdict::Pass, false), Exit::Pass);
        assert_eq!(Exit::of(Verdict::Incomplete, false), Exit::Failed);
        assert_eq!(Exit::of(Verdict::Pass, true), Exit::Interrupted);
        assert_eq!(Error::refused("x", "y").exit(), Exit::Refused);
        assert_eq!(Error::Usage("x".into()).exit(), Exit::Usage);
    }
}
