//! `mediasan list`: block devices a technician could wipe, what uses them, what can be done.

use std::path::Path;

use comfy_table::{presets, Table};

use crate::cli::ListArgs;
use crate::device::health;
use crate::device::list::{self, Candidate};
use crate::device::passthrough::Passthrough;
use crate::device::safety::Usage;
use crate::error::Exit;
use crate::event::Event;
use crate::journal::{self, MediaKey};
use crate::purge::engine::{self, Bus};
use crate::units::human_bytes;

pub fn run(args: &ListArgs) -> anyhow::Result<Exit> {
    let mut all = match args.seams.simulate() {
        Some(spec) => vec![simulated(spec)?],
        None => list::scan(
            Path::new("/sys"),
            Path::new("/dev/disk/by-id"),
            &Usage::read(),
        ),
    };
    let journals = args.journal_dir.clone().or_else(journal::default_dir);
    for c in &mut all {
        if args.seams.simulate().is_none() {
            add_purge_methods(c);
        }
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

/// The test seam's drive (`--simulate`, e.g. `replay:FILE`, a real drive's recorded answers)
/// as the one device listed, `/dev/replay0`, read through its own door as a real one is.
fn simulated(spec: &str) -> anyhow::Result<Candidate> {
    let d = crate::purge::flow::Drive::from_simulation(Path::new("/dev/replay0"), spec)
        .map_err(crate::error::Error::Usage)?;
    let mut c = Candidate {
        path: d.probe.path.display().to_string(),
        size_bytes: d.probe.size,
        logical_block_size: d.probe.logical_block_size,
        identity: d.probe.identity.clone(),
        read_only: false,
        in_use: None,
        supports: vec![],
        by_id: vec![],
        unfinished_wipe: false,
        unfinished_purge: false,
        health: None,
        tcg: None,
    };
    read_drive(&mut c, d.pass.as_ref(), d.bus, d.bus == Bus::Ata);
    Ok(c)
}

/// What the drive answers through `door`: the purge methods it supports and its TCG
/// discovery (one probe), and its health (SMART / the health log). Read-only queries.
fn read_drive(c: &mut Candidate, door: &dyn Passthrough, bus: Bus, ata: bool) {
    if let Ok(caps) = engine::probe(door, bus, None) {
        c.supports
            .extend(caps.supported.iter().map(|m| m.name().to_string()));
        c.tcg = caps.tcg.map(Box::new);
    }
    c.health = Some(Box::new(health::read_block(
        &c.identity.interface,
        door,
        ata,
    )));
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
        read_drive(c, &d, bus, false);
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
/// One device's cells, escaped: device (with its first by-id name), size, bus, model (a loop
/// device's backing file), serial, health, what it supports, its status.
fn cells(c: &Candidate) -> [String; 8] {
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
    // A host-managed zoned drive cannot be overwritten yet: said where the technician looks.
    let mut status = match c.identity.zoned.as_str() {
        "" => status,
        z => format!("{status}; zoned ({z})"),
    };
    // A self-encrypting drive, and whether its owner's locking is on: a locked range can be
    // neither read nor overwritten.
    if let Some(t) = &c.tcg {
        let l = t.locking.unwrap_or_default();
        status += &format!(
            "; SED {}{}",
            t.ssc.join("/"),
            if l.locked {
                " (locked)"
            } else if l.enabled {
                " (locking on)"
            } else {
                ""
            }
        );
    }
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
    [
        device,
        human_bytes(c.size_bytes),
        esc(&c.identity.interface),
        esc(model),
        esc(&c.identity.serial),
        c.health.as_ref().map_or("-", |h| h.word()).to_string(),
        c.supports.join(", "),
        esc(&status),
    ]
}

/// The devices as a table when it fits `width`, else one block per device: a device name,
/// a word or a path is never broken over two lines.
fn table(all: &[Candidate], width: Option<u16>) -> String {
    let rows: Vec<[String; 8]> = all.iter().map(cells).collect();
    let mut t = Table::new();
    t.load_style(presets::NOTHING);
    t.set_header([
        "DEVICE", "SIZE", "BUS", "MODEL", "SERIAL", "HEALTH", "SUPPORTS", "STATUS",
    ]);
    for r in &rows {
        t.add_row(r.clone());
    }
    let text = t.trim_fmt();
    let fits = |text: &str, w: u16| text.lines().all(|l| l.chars().count() < usize::from(w));
    match width {
        Some(w) if !fits(&text, w) => blocks(&rows),
        _ => text,
    }
}

/// One block per device, for a terminal too narrow for the table: the device and what
/// matters most on its first line, the rest indented under it.
fn blocks(rows: &[[String; 8]]) -> String {
    let mut out = Vec::new();
    for [device, size, bus, model, serial, health, supports, status] in rows {
        let mut names = device.lines();
        let node = names.next().unwrap_or_default();
        out.push(format!("{node}  {size}  {bus}  {status}"));
        for id in names {
            out.push(format!("  by-id {}", id.trim_start()));
        }
        let dash = |s: &str| {
            if s.is_empty() {
                "-".to_string()
            } else {
                s.to_string()
            }
        };
        out.push(format!(
            "  model {}  serial {}  health {}",
            dash(model),
            dash(serial),
            health
        ));
        out.push(format!("  supports {}", dash(supports)));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(path: &str, by_id: &str, backing: &str, status: (bool, bool)) -> Candidate {
        Candidate {
            path: path.into(),
            size_bytes: 128 << 20,
            logical_block_size: 512,
            identity: crate::device::Identity {
                interface: "loop".into(),
                backing: backing.into(),
                ..Default::default()
            },
            read_only: status.0,
            in_use: None,
            supports: vec!["overwrite".into()],
            by_id: if by_id.is_empty() {
                vec![]
            } else {
                vec![by_id.into()]
            },
            unfinished_wipe: status.1,
            unfinished_purge: false,
            tcg: None,
            health: None,
        }
    }

    #[test]
    fn at_80_columns_no_device_name_or_word_is_broken() {
        let all: Vec<Candidate> = (0..18)
            .map(|i| {
                device(
                    &format!("/dev/loop{}", 50 + i),
                    "wwn-0x5000c500a1b2c3d4-long-enough-name",
                    &format!("/srv/images/bay-{i:02}/disk-with-a-long-name.img"),
                    (i % 3 == 0, i % 4 == 0),
                )
            })
            .collect();
        let narrow = table(&all, Some(80));
        for c in &all {
            assert!(narrow.lines().any(|l| l.starts_with(&c.path)), "{narrow}");
        }
        for word in ["overwrite", "read-only", "--resume`"] {
            assert!(narrow.contains(word), "{word}: {narrow}");
        }
        for l in narrow.lines() {
            assert!(!l.ends_with("overwrit") && !l.ends_with("read-onl"), "{l}");
        }
        // Wide enough: the table, one row per device and its by-id line.
        let wide = table(&all[..2], Some(400));
        assert!(wide.trim_start().starts_with("DEVICE"), "{wide}");
        assert_eq!(wide.lines().count(), 5, "{wide}");
    }
}
