//! `mediasan list`: block devices a technician could wipe, what uses them, what can be done.

use std::path::Path;

use comfy_table::{presets, ContentArrangement, Table};

use crate::cli::ListArgs;
use crate::device::health;
use crate::device::list::{self, Candidate};
use crate::device::safety::Usage;
use crate::error::Exit;
use crate::event::Event;
use crate::journal::{self, MediaKey};
use crate::purge::engine::{self, Bus};
use crate::units::human_bytes;

pub fn run(args: &ListArgs) -> anyhow::Result<Exit> {
    let mut all = list::scan(
        Path::new("/sys"),
        Path::new("/dev/disk/by-id"),
        &Usage::read(),
    );
    let journals = args.journal_dir.clone().or_else(journal::default_dir);
    for c in &mut all {
        add_purge_methods(c);
        c.unfinished_wipe = journals.as_deref().is_some_and(|d| unfinished(d, c));
        c.unfinished_purge = journals.as_deref().is_some_and(|d| unfinished_purge(d, c));
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
    crate::term::out(&table(&all, crate::term::stderr_screen().width));
    Ok(Exit::Pass)
}

/// What the drive can purge with, where it answers (root; NVMe, SATA, SAS).
fn add_purge_methods(c: &mut Candidate) {
    let bus = match c.identity.interface.as_str() {
        "nvme" => Bus::Nvme,
        "sata" | "usb" => Bus::Ata,
        "sas" | "scsi" => Bus::Scsi,
        _ => return,
    };
    if c.read_only {
        return;
    }
    if let Ok(d) = std::fs::File::open(Path::new(&c.path)) {
        if let Ok(caps) = engine::probe(&d, bus, None) {
            c.supports
                .extend(caps.supported.iter().map(|m| m.name().to_string()));
        }
        // Read-only queries through the same descriptor: SMART / the health log.
        c.health = Some(Box::new(health::read_block(
            &c.identity.interface,
            &d,
            false,
        )));
    }
}

/// A purge journal of this drive is in `dir`.
fn unfinished_purge(dir: &Path, c: &Candidate) -> bool {
    let key = MediaKey::of_block(c.size_bytes, c.logical_block_size, &c.identity, None);
    crate::purge::journal::path_for(dir, &key, Path::new(&c.path)).exists()
}

/// A journal of an unfinished wipe of this medium is in `dir` (filed by its identity, as
/// `wipe` files them).
fn unfinished(dir: &Path, c: &Candidate) -> bool {
    let backing_id = crate::device::loop_backing_id(&c.identity);
    let key = MediaKey::of_block(c.size_bytes, c.logical_block_size, &c.identity, backing_id);
    journal::path_for(dir, &key, Path::new(&c.path)).exists()
}

/// What a person reads: one row per device (escaped; a loop device's backing file in place of
/// a model), its /dev/disk/by-id name below it.
fn table(all: &[Candidate], width: Option<u16>) -> String {
    let mut t = Table::new();
    t.load_style(presets::NOTHING);
    t.set_header([
        "DEVICE", "SIZE", "BUS", "MODEL", "SERIAL", "HEALTH", "SUPPORTS", "STATUS",
    ]);
    for c in all {
        let status = match (
            &c.in_use,
            c.read_only,
            c.unfinished_wipe,
            c.unfinished_purge,
        ) {
            (Some(why), ..) => format!("IN USE: {why}"),
            (None, true, ..) => "read-only".into(),
            (None, false, _, true) => format!(
                "unfinished purge: finish it with `mediasan purge {} --resume` (or --restart)",
                c.path
            ),
            (None, false, true, false) => format!(
                "unfinished wipe: continue with `mediasan wipe {} --resume` (or --restart)",
                c.path
            ),
            (None, false, false, false) => "free".into(),
        };
        let model = if c.identity.interface == "loop" {
            &c.identity.backing
        } else {
            &c.identity.model
        };
        let esc = |s: &str| crate::term::escape(s).into_owned();
        let mut device = esc(&c.path);
        if let Some(id) = c.by_id.first() {
            device += &format!("\n  {}", esc(id));
        }
        t.add_row([
            device,
            human_bytes(c.size_bytes),
            esc(&c.identity.interface),
            esc(model),
            esc(&c.identity.serial),
            c.health.as_ref().map_or("-", |h| h.word()).to_string(),
            c.supports.join(", "),
            esc(&status),
        ]);
    }
    if let Some(w) = width {
        t.set_width(w.saturating_sub(1));
        t.set_content_arrangement(ContentArrangement::Dynamic);
    }
    t.trim_fmt()
}
