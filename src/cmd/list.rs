//! `mediasan list`: block devices a technician could wipe.

use std::path::Path;

use crate::event::Event;

use crate::cli::ListArgs;
use crate::device::list;
use crate::device::passthrough::DeviceDrive;
use crate::device::safety::Usage;
use crate::error::Exit;
use crate::purge::engine::{self, Bus};
use crate::units::human_bytes;

pub fn run(args: &ListArgs) -> anyhow::Result<Exit> {
    let mut all = list::scan(Path::new("/sys"), &Usage::read());
    // What each drive can purge with, where it answers (root; NVMe, SATA, SAS).
    for c in &mut all {
        let bus = match c.identity.interface.as_str() {
            "nvme" => Bus::Nvme,
            "sata" | "usb" => Bus::Ata,
            "sas" | "scsi" => Bus::Scsi,
            _ => continue,
        };
        if c.read_only {
            continue;
        }
        if let Ok(d) = DeviceDrive::open(Path::new(&c.path)) {
            if let Ok(caps) = engine::probe(&d, bus) {
                c.supports
                    .extend(caps.supported.iter().map(|m| m.name().to_string()));
            }
        }
    }
    if args.json {
        for c in all {
            crate::term::out(&Event::Device(c).line());
        }
        return Ok(Exit::Pass);
    }
    if all.is_empty() {
        errln!("no block devices found");
        return Ok(Exit::Pass);
    }
    outln!(
        "{:<14} {:>11} {:<8} {:<24} {:<20} {:<10} STATUS",
        "DEVICE",
        "SIZE",
        "BUS",
        "MODEL",
        "SERIAL",
        "SUPPORTS"
    );
    for c in &all {
        let status = match (&c.in_use, c.read_only) {
            (Some(why), _) => format!("IN USE: {why}"),
            (None, true) => "read-only".into(),
            (None, false) => "free".into(),
        };
        let model = if c.identity.interface == "loop" {
            c.identity.backing.clone()
        } else {
            c.identity.model.clone()
        };
        outln!(
            "{:<14} {:>11} {:<8} {:<24} {:<20} {:<10} {status}",
            c.path,
            human_bytes(c.size_bytes),
            c.identity.interface,
            model,
            c.identity.serial,
            c.supports.join(","),
        );
    }
    Ok(Exit::Pass)
}
