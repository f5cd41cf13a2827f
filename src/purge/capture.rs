//! `mediasan capture`: a drive's answers to exactly what mediasan's decisions read — the
//! purge probe (with a self-encrypting drive's TCG discovery), a dry-run preparation of nist-purge and of every method of its bus,
//! its health and its hidden areas — recorded through a door that can only send read-only
//! commands ([`crate::device::capture`]), serial numbers blanked unless asked to keep them.
//! Replayed (`--simulate replay:FILE`), the recording makes the same decisions.

use super::engine::{self, Bus};
use super::flow::{self, Drive, Request};
use crate::device::capture::{scrub, taken, Recorder};
use crate::device::fixture::{Recording, FORMAT};
use crate::device::{health, hidden};

/// Records `d`'s answers. The drive's own door is replaced by the recording one for the
/// whole run, so nothing else can reach it.
pub fn record(d: Drive, keep_serial: bool) -> Recording {
    let (door, kept) = Recorder::new(d.pass);
    let d = Drive {
        pass: Box::new(door),
        ..d
    };
    let rotational = (!d.simulated).then_some(d.probe.identity.rotational);
    let _ = engine::probe(d.pass.as_ref(), d.bus, rotational);
    // Refusals are decisions too: what they read is recorded all the same.
    let ask = |method| {
        let _ = flow::prepare(&d, &Request::dry_run(method), &crate::progress::Quiet);
    };
    ask(None);
    let prefix = format!("{}-", flow::bus_name(d.bus));
    for m in super::method::Method::ALL {
        if m.name().starts_with(&prefix) {
            ask(Some(m));
        }
    }
    let _ = health::read_block(
        &d.probe.identity.interface,
        d.pass.as_ref(),
        d.bus == Bus::Ata,
    );
    if d.bus == Bus::Ata {
        let _ = hidden::query_ata(d.pass.as_ref());
    }
    let mut exchanges = taken(&kept);
    if !keep_serial {
        for x in &mut exchanges {
            scrub(x);
        }
    }
    Recording {
        format: FORMAT.into(),
        bus: flow::bus_name(d.bus).into(),
        source: format!(
            "mediasan capture {} of {}",
            env!("CARGO_PKG_VERSION"),
            d.probe.path.display()
        ),
        serial_scrubbed: !keep_serial,
        size: d.media.size(),
        logical_block_size: d.media.block_size(),
        exchanges,
    }
}
