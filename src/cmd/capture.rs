//! `mediasan capture DEVICE`: the drive (real, opened read-only, or the test seam's) →
//! `purge::capture::record` (through the read-only door) → the recording, as JSON, to a file
//! or stdout, and one line on stderr saying what was kept.

use crate::cli::CaptureArgs;
use crate::device::{self, replay::NoMedia};
use crate::error::{Error, Exit};
use crate::purge::flow::Drive;
use crate::session::purge::bus_of;

pub fn run(args: &CaptureArgs) -> anyhow::Result<Exit> {
    let drive = match args.seams.simulate() {
        Some(spec) => Drive::from_simulation(&args.target, spec).map_err(Error::Usage)?,
        None => open(args)?,
    };
    let path = drive.probe.path.clone();
    let rec = crate::purge::capture::record(drive, args.keep_serial);
    let mut json = serde_json::to_string_pretty(&rec)?;
    json.push('\n');
    match &args.output {
        Some(f) => std::fs::write(f, &json)
            .map_err(|e| Error::Usage(format!("cannot write {}: {e}", f.display())))?,
        None => crate::term::out(json.trim_end()),
    }
    crate::term::err(&format!(
        "recorded {} answers of {}{}{}; nothing was written to the drive",
        rec.exchanges.len(),
        path.display(),
        if rec.serial_scrubbed {
            " (serial numbers blanked)"
        } else if args.keep_serial {
            " (serial numbers kept, as asked)"
        } else {
            ""
        },
        args.output
            .as_ref()
            .map(|f| format!(" into {}", f.display()))
            .unwrap_or_default(),
    ));
    Ok(Exit::Pass)
}

/// The drive opened read-only (no exclusive claim: a capture only reads), its commands going
/// through the probe's descriptor.
fn open(args: &CaptureArgs) -> anyhow::Result<Drive> {
    let p = device::probe(&args.target)?;
    if p.kind != device::Kind::Block {
        return Err(
            Error::target(&p.path, "is not a block device; capture records a drive").into(),
        );
    }
    let transport = crate::settings::transport(args.transport);
    let bus = bus_of(transport, &p)
        .map_err(|why| Error::target(&p.path, format!("has no commands to record: {why}")))?;
    let Some(handle) = p.handle.clone() else {
        return Err(Error::target(&p.path, "cannot be opened").into());
    };
    Ok(Drive {
        bus,
        pass: Box::new(handle),
        media: Box::new(NoMedia {
            size: p.size,
            block_size: p.logical_block_size,
        }),
        probe: p,
        simulated: false,
    })
}
