//! `mediasan capture DEVICE`: the drive (real, opened read-only, or the test seam's) →
//! `purge::capture::record` (through the read-only door) → the recording, as JSON, to a file
//! or stdout, and one line on stderr saying what was kept.

use crate::cli::CaptureArgs;
use crate::error::{Error, Exit};
use crate::purge::flow::Drive;

pub fn run(args: &CaptureArgs) -> anyhow::Result<Exit> {
    let drive = match args.seams.simulate() {
        Some(spec) => Drive::from_simulation(&args.target, spec).map_err(Error::Usage)?,
        None => crate::session::purge::open_read_only(
            &args.target,
            crate::settings::transport(args.transport),
        )?,
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
        } else {
            " (serial numbers kept, as asked)"
        },
        args.output
            .as_ref()
            .map(|f| format!(" into {}", f.display()))
            .unwrap_or_default(),
    ));
    Ok(Exit::Pass)
}
