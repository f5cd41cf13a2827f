//! The small types that the certificate, the journal and the policy serialize, and that the
//! I/O stages produce: a leaf module, so a rename in the performance core can never silently
//! change a file format whose field names are a contract.

pub mod media;

use serde::{Deserialize, Serialize};

/// A failed I/O: where, how long, the error as people read it, and the OS error number the
/// verdict and the recommendation branch on (never the message text).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoFailure {
    pub offset: u64,
    pub length: u64,
    pub error: String,
    /// The OS error number (`errno`), where the failure was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    /// Its symbolic name (`EIO`, `ENOSPC`, `ENODATA`...), for people reading the certificate.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

impl IoFailure {
    /// A failure of `length` bytes at `offset` from an I/O error.
    pub fn from_io(offset: u64, length: u64, e: &std::io::Error) -> IoFailure {
        let errno = e.raw_os_error();
        IoFailure {
            offset,
            length,
            error: e.to_string(),
            errno,
            kind: errno.map(errno_name).unwrap_or_default(),
        }
    }

    /// A failure that is not an OS error (a short read, an internal error).
    pub fn other(offset: u64, length: u64, error: impl Into<String>) -> IoFailure {
        IoFailure {
            offset,
            length,
            error: error.into(),
            ..IoFailure::default()
        }
    }

    /// True for an error of the medium itself (the kernel's EIO for an I/O error, ENODATA for
    /// a medium error, EILSEQ for a protection-information error): blocks that may still hold
    /// data no software can clear. A full filesystem, a device that went away or a timeout
    /// say nothing about the medium.
    pub fn media_error(&self) -> bool {
        matches!(
            self.errno,
            Some(nix::libc::EIO) | Some(nix::libc::ENODATA) | Some(nix::libc::EILSEQ)
        )
    }
}

/// The symbolic name of an errno value (`EIO`), or the number.
pub fn errno_name(n: i32) -> String {
    let e = nix::errno::Errno::from_raw(n);
    match e {
        nix::errno::Errno::UnknownErrno => n.to_string(),
        e => format!("{e:?}"),
    }
}

/// What a pass does after an I/O error that retries did not cure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnError {
    /// Record the failing blocks and carry on with the rest (the result is FAIL).
    #[default]
    Continue,
    /// Stop the pass.
    Abort,
}

/// A byte range to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub offset: u64,
    pub len: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_keep_their_errno_and_name_it() {
        let eio = IoFailure::from_io(512, 512, &std::io::Error::from_raw_os_error(nix::libc::EIO));
        assert_eq!((eio.errno, eio.kind.as_str()), (Some(5), "EIO"));
        assert!(eio.media_error());
        let nospc = IoFailure::from_io(
            0,
            4096,
            &std::io::Error::from_raw_os_error(nix::libc::ENOSPC),
        );
        assert_eq!(nospc.kind, "ENOSPC");
        assert!(!nospc.media_error());
        assert!(
            IoFailure::from_io(0, 1, &std::io::Error::from_raw_os_error(nix::libc::ENODATA))
                .media_error()
        );
        let short = IoFailure::other(0, 1, "short read");
        assert!(!short.media_error() && short.errno.is_none());
        // Old certificates without the new fields still read; new ones without errno omit it.
        let old: IoFailure =
            serde_json::from_str(r#"{"offset":1,"length":2,"error":"x"}"#).unwrap();
        assert_eq!(old.errno, None);
        assert!(!serde_json::to_string(&short).unwrap().contains("errno"));
    }
}

/// The outcome of a sanitization, as certificates, events and exit codes name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Every pass wrote every byte and verification found nothing wrong.
    Pass,
    /// Something failed: an I/O error, a mismatch, a flush error.
    #[default]
    Fail,
    /// Something was not done: interrupted, or not verified.
    Incomplete,
}

impl Verdict {
    /// `PASS`, `FAIL` or `INCOMPLETE`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Incomplete => "INCOMPLETE",
        }
    }
}
