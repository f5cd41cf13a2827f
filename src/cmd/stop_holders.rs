//! `mediasan stop-holders`: named disks → what is stacked on them (`device::holders::plan`)
//! → dry run, or one confirmation → each stopped, top first → what was stopped.
//!
//! Nothing here opens or writes a disk: it asks the kernel to take down md arrays, device-mapper
//! devices and bcache over them, so that a following `wipe`, `sanitize` or `purge` may have them.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

use crate::cli::StopHoldersArgs;
use crate::device::holders::{self, Holder, Kind};
use crate::device::safety::Usage;
use crate::error::{Error, Exit};

/// The kernel names of the targets (`sda`, `sda1`); each must be a block device.
fn kernel_names(sys: &Path, args: &StopHoldersArgs) -> anyhow::Result<Vec<String>> {
    args.targets
        .iter()
        .map(|t| {
            let m = std::fs::metadata(t)
                .map_err(|e| Error::target(t, format!("cannot be read: {e}")))?;
            if !m.file_type().is_block_device() {
                return Err(
                    Error::target(t, "is not a block device; only disks have holders").into(),
                );
            }
            let devno = crate::device::split_devno(m.rdev());
            holders::name_of(sys, devno).ok_or_else(|| {
                Error::target(t, "is not in /sys/dev/block; is /sys mounted?").into()
            })
        })
        .collect()
}

fn refused(first: &Path, reason: impl Into<String>) -> Error {
    Error::RefusedStop {
        path: first.to_path_buf(),
        reason: reason.into(),
    }
}

fn kind_word(k: &Kind) -> &'static str {
    match k {
        Kind::Md => "md",
        Kind::Dm { .. } => "dm",
        Kind::Bcache => "bcache",
        Kind::CacheSet => "bcache-set",
        Kind::Multipath => "multipath",
        Kind::Unknown => "unknown",
    }
}

fn json(stack: &[Holder], dry_run: bool) -> String {
    let items: Vec<serde_json::Value> = stack
        .iter()
        .map(|h| {
            serde_json::json!({
                "name": h.name,
                "kind": kind_word(&h.kind),
                "what": h.what,
                "members": h.members.iter().map(|m| format!("/dev/{m}")).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({ "dry_run": dry_run, "stopped": items }).to_string()
}

pub fn run(args: &StopHoldersArgs) -> anyhow::Result<Exit> {
    let sys = Path::new("/sys");
    let first = args.targets[0].as_path();
    let names = kernel_names(sys, args)?;
    let stack = holders::plan(sys, &names, &Usage::read()).map_err(|why| refused(first, why))?;
    if stack.is_empty() {
        if args.json {
            crate::term::out(&json(&stack, args.dry_run));
        } else {
            errln!("nothing is stacked on them: no md, device-mapper or bcache holds them");
        }
        return Ok(Exit::Pass);
    }
    let lines: Vec<String> = stack.iter().map(Holder::describe).collect();
    if args.dry_run {
        if args.json {
            crate::term::out(&json(&stack, true));
        } else {
            lines.iter().for_each(|l| outln!("would stop {l}"));
        }
        return Ok(Exit::Pass);
    }
    if !args.yes {
        super::ask(
            first,
            "This will stop (take offline) what is stacked on the named disks:",
            &lines,
            &["Their data stays on the disks until they are erased.".to_string()],
        )
        .map_err(|e| match e.downcast::<Error>() {
            Ok(Error::Refused { reason, .. }) => refused(first, reason).into(),
            Ok(other) => other.into(),
            Err(e) => e,
        })?;
    }
    for h in &stack {
        holders::stop(sys, h, Duration::from_secs(10)).map_err(|e| {
            refused(
                first,
                format!("{} could not be stopped: {e}; stop it yourself", h.name),
            )
        })?;
        crate::term::log(&crate::term::escape(&format!("stopped {}", h.describe())));
        if !args.json {
            errln!("stopped {}", h.describe());
        }
    }
    if args.json {
        crate::term::out(&json(&stack, false));
    }
    Ok(Exit::Pass)
}
