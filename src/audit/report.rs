//! The audit for people (text: the summary first, then every list), for scripts (NDJSON
//! events), for the asset system (CSV, one row per asset) and for the file (one HTML page with
//! counts, a chart of results per day, sortable tables and every problem linked to its file).

use std::collections::BTreeMap;

use super::provenance::Anchor;
use super::reconcile::{Audit, Class, Entry, Standing};
use crate::event::{self, Event};

/// "2026-11-29" of a certificate's end.
fn day(e: &Entry) -> String {
    e.cert()
        .map(|c| c.sanitization.finished.get(..10).unwrap_or("").to_string())
        .unwrap_or_default()
}

fn join(v: &[(String, usize)]) -> String {
    v.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn superseded(a: &Audit) -> usize {
    if a.register.is_some() {
        a.assets.iter().map(|x| x.history.superseded.len()).sum()
    } else {
        a.media.values().map(|h| h.superseded.len()).sum()
    }
}

/// The report for people (every line is escaped by `outln!` when printed).
pub fn text(a: &Audit) -> Vec<String> {
    let mut out = Vec::new();
    let trusted = a.entries.iter().filter(|e| e.class.trusted()).count();
    out.push(format!(
        "AUDIT: {} file(s), {trusted} record(s) from trusted signers",
        a.entries.len()
    ));
    if let Some(note) = a.verify_time.note() {
        out.push(format!("  Note: {note}"));
    }
    out.push(format!(
        "  {}",
        a.counts()
            .iter()
            .map(|(c, n)| format!("{} {n}", c.name()))
            .collect::<Vec<_>>()
            .join(" - ")
    ));
    if let Some(r) = &a.register {
        let mut by: BTreeMap<&str, usize> = BTreeMap::new();
        for x in &a.assets {
            *by.entry(x.history.standing.name()).or_default() += 1;
        }
        out.push(format!(
            "Assets ({}, {} rows): {}; {} record(s) match no asset",
            r.source,
            r.assets.len(),
            by.iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", "),
            a.unexpected.len()
        ));
    } else {
        let covered = a
            .media
            .values()
            .filter(|h| h.standing == Standing::Covered)
            .count();
        out.push(format!(
            "Media: {} with trusted records, {covered} covered (no asset register given: --assets FILE.csv)",
            a.media.len()
        ));
    }
    out.push(format!(
        "By method: {}",
        join(&a.tally(|c| {
            let s = &c.sanitization;
            if s.technique.is_empty() {
                s.method.clone()
            } else {
                format!("{} ({})", s.method, s.technique)
            }
        }))
    ));
    out.push(format!(
        "By policy: {}",
        join(&a.tally(|c| c.sanitization.policy.name.clone()))
    ));
    out.push(format!(
        "By operator: {}",
        join(&a.tally(|c| c.operator.name.clone()))
    ));
    out.push(format!("By signer: {}", join(&a.by_signer())));
    out.push(format!(
        "By machine: {}",
        join(&a.tally(|c| c.host.hostname.clone()))
    ));
    out.push(format!(
        "Superseded earlier records: {}; duplicate copies: {}; validated (countersigned by a trusted second person): {}",
        superseded(a),
        a.duplicates.len(),
        a.entries.iter().filter(|e| e.validated_by().is_some()).count()
    ));
    if !a.series.is_empty() {
        out.push("Series (each signer's certificates, numbered as signed):".into());
        out.extend(a.series.iter().map(|s| format!("  {}", s.describe())));
    }
    if a.unnumbered > 0 {
        out.push(format!(
            "Records without a series number (made before numbering): {}",
            a.unnumbered
        ));
    }
    let problems: Vec<&Entry> = a.entries.iter().filter(|e| e.class.problem()).collect();
    if !problems.is_empty() {
        out.push(String::new());
        out.push(format!("Files that do not count ({}):", problems.len()));
        for e in problems {
            out.push(format!("  {:<16} {}: {}", e.class.name(), e.name, e.detail));
        }
    }
    let broken: Vec<_> = a.series.iter().filter(|s| !s.whole()).collect();
    if !broken.is_empty() {
        out.push(String::new());
        out.push(format!(
            "Series with certificates missing from this delivery or forked ({}):",
            broken.len()
        ));
        out.extend(broken.iter().map(|s| format!("  {}", s.describe())));
    }
    let countersigned: Vec<(&Entry, String)> = a
        .entries
        .iter()
        .filter_map(|e| e.bad_countersignature().map(|w| (e, w)))
        .collect();
    if !countersigned.is_empty() {
        out.push(String::new());
        out.push(format!(
            "Countersignatures that do not count ({}):",
            countersigned.len()
        ));
        for (e, why) in countersigned {
            out.push(format!("  {}: {why}", e.name));
        }
    }
    if let Some(r) = &a.register {
        let open: Vec<_> = a
            .assets
            .iter()
            .filter(|x| x.history.standing != Standing::Covered)
            .collect();
        if !open.is_empty() {
            out.push(String::new());
            out.push(format!(
                "Assets without a trusted PASS or destruction record ({}):",
                open.len()
            ));
            for x in open {
                let asset = &r.assets[x.asset];
                let last = x.history.latest.map(|i| &a.entries[i]);
                out.push(format!(
                    "  line {}: serial {:?} asset tag {:?}: {}{}",
                    asset.line,
                    asset.serial,
                    asset.asset_tag,
                    x.history.standing.name(),
                    last.map_or(String::new(), |e| format!(
                        " (latest: {} {}, {})",
                        e.class.name(),
                        day(e),
                        e.name
                    ))
                ));
            }
        }
        if !a.unexpected.is_empty() {
            out.push(String::new());
            out.push(format!(
                "Records that match no asset ({}):",
                a.unexpected.len()
            ));
            for &i in &a.unexpected {
                let e = &a.entries[i];
                let c = e.cert().cloned().unwrap_or_default();
                out.push(format!(
                    "  {}: {} serial {:?} asset tag {:?} model {:?}",
                    e.name,
                    e.class.name(),
                    c.media.identity.serial,
                    c.media.asset_tag,
                    c.media.identity.model
                ));
            }
        }
        let noted: Vec<_> = a.assets.iter().filter(|x| !x.notes.is_empty()).collect();
        if !noted.is_empty() {
            out.push(String::new());
            out.push("Notes:".into());
            for x in noted {
                for n in &x.notes {
                    out.push(format!("  line {}: {n}", r.assets[x.asset].line));
                }
            }
        }
    } else {
        let open: Vec<_> = a
            .media
            .iter()
            .filter(|(_, h)| h.standing != Standing::Covered)
            .collect();
        if !open.is_empty() {
            out.push(String::new());
            out.push(format!(
                "Media whose latest trusted record is not a PASS ({}):",
                open.len()
            ));
            for (k, h) in open {
                let e = h.latest.map(|i| &a.entries[i]);
                out.push(format!(
                    "  {k}: {}{}",
                    h.standing.name(),
                    e.map_or(String::new(), |e| format!(" ({})", e.name))
                ));
            }
        }
    }
    if let Some(q) = &a.qc {
        out.push(String::new());
        out.push(format!(
            "QC sample: {} of {} logically sanitized media ({} %, seed {:?}; the same seed draws the same sample):",
            q.picks.len(),
            q.population,
            q.percent,
            q.seed
        ));
        for p in &q.picks {
            out.push(format!(
                "  {}: {} (certificate {})",
                p.medium, p.certificate, p.id
            ));
        }
    }
    let cx = &a.context;
    out.push(String::new());
    out.push(format!("Trust anchors ({}):", cx.anchors.len()));
    for k in &cx.anchors {
        out.push(format!("  {}", anchor_line(k)));
    }
    out.push(format!(
        "Inputs: {} file(s) read; BLAKE3 of their list (b3sum lines, in --json and --html): {}",
        cx.inputs.len(),
        cx.inputs_blake3()
    ));
    out.push(String::new());
    out.push(if a.clean() {
        if a.register.is_some() {
            "CLEAN: every asset is covered by a trusted PASS or destruction record, and every file checks".into()
        } else {
            "CLEAN: every medium's latest record is a trusted PASS or destruction, and every file checks".into()
        }
    } else {
        "NOT CLEAN: see the lists above".into()
    });
    out
}

/// One trust anchor in words: where, whom, which key, under what limits.
pub fn anchor_line(k: &Anchor) -> String {
    let mut s = k.source.clone();
    if let Some(l) = k.line {
        s += &format!(" line {l}");
    }
    s += ": ";
    if k.cert_authority {
        s += "cert-authority ";
    }
    if !k.principals.is_empty() {
        s += &format!("{} ", k.principals);
    }
    s += &format!("{} {}", k.key_type, k.fingerprint);
    let limits = anchor_limits(k);
    if !limits.is_empty() {
        s += &format!(" ({})", limits.join("; "));
    }
    s
}

/// What limits an anchor: its namespaces, its validity, and a CA line's being ignored.
fn anchor_limits(k: &Anchor) -> Vec<String> {
    let mut limits = Vec::new();
    if let Some(n) = &k.namespaces {
        limits.push(format!("namespaces {n}"));
    }
    if let Some(t) = &k.valid_after {
        limits.push(format!("valid after {t}"));
    }
    if let Some(t) = &k.valid_before {
        limits.push(format!("valid before {t}"));
    }
    limits
}

/// `covered`, `failed`, `incomplete`, `missing`: what an asset system imports.
fn standing_code(s: Standing) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn class_name(c: Class) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The audit as NDJSON events: every file, every asset, then the summary.
pub fn events(a: &Audit) -> Vec<Event> {
    let dup: BTreeMap<usize, usize> = a.duplicates.iter().copied().collect();
    let cx = &a.context;
    let mut out = vec![Event::AuditContext(event::AuditContext {
        version: cx.version.clone(),
        command: cx.command.clone(),
        generated: cx.generated.clone(),
        verify_time: a.verify_time.name(),
        principal: cx.principal.clone(),
        anchors: cx.anchors.clone(),
        inputs: cx.inputs.len(),
        inputs_blake3: cx.inputs_blake3(),
    })];
    out.extend(cx.inputs.iter().cloned().map(Event::AuditInput));
    out.extend(a.entries.iter().enumerate().map(|(i, e)| {
        let c = e.cert().cloned().unwrap_or_default();
        Event::AuditFile(event::AuditFile {
            file: e.name.clone(),
            class: class_name(e.class),
            detail: e.detail.clone(),
            id: c.id.clone(),
            serial: c.media.identity.serial.clone(),
            asset_tag: c.media.asset_tag.clone(),
            method: c.sanitization.method.clone(),
            finished: c.sanitization.finished.clone(),
            duplicate_of: dup.get(&i).map(|&f| a.entries[f].name.clone()),
            validated_by: e.validated_by().map(|s| s.describe()),
            blake3: e.blake3.clone(),
        })
    }));
    if let Some(r) = &a.register {
        out.extend(a.assets.iter().map(|x| {
            let asset = &r.assets[x.asset];
            Event::AuditAsset(event::AuditAsset {
                line: asset.line,
                serial: asset.serial.clone(),
                asset_tag: asset.asset_tag.clone(),
                standing: standing_code(x.history.standing),
                certificate: x.history.latest.map(|i| a.entries[i].name.clone()),
                matched_by: x.matched_by.to_string(),
                records: x.history.records.len(),
                notes: x.notes.clone(),
            })
        }));
    }
    let covered = a
        .assets
        .iter()
        .filter(|x| x.history.standing == Standing::Covered)
        .count();
    out.push(Event::AuditSummary(event::AuditSummary {
        files: a.entries.len(),
        counts: a
            .counts()
            .into_iter()
            .map(|(c, n)| (class_name(c), n))
            .collect(),
        assets: a.register.as_ref().map(|r| r.assets.len()),
        covered: a.register.as_ref().map(|_| covered),
        not_covered: a.register.as_ref().map(|_| a.assets.len() - covered),
        unexpected: a.register.as_ref().map(|_| a.unexpected.len()),
        duplicates: a.duplicates.len(),
        superseded: superseded(a),
        signers: a.by_signer().into_iter().collect(),
        series: a.series.clone(),
        unnumbered: a.unnumbered,
        qc: a.qc.clone(),
        verify_time: a.verify_time.name(),
        clean: a.clean(),
    }));
    out
}

/// A CSV cell a spreadsheet reads as text, never as a formula: one that starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return (a serial from drive firmware, a USB iSerial, a typed
/// `destroyed --serial`) gets a leading `'`, as OWASP's CSV injection advice says; the csv
/// writer quotes and escapes the rest.
pub fn cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// Writes every record through [`cell`].
struct Neutral(csv::Writer<Vec<u8>>);

impl Neutral {
    fn write_record<I, T>(&mut self, row: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let row: Vec<String> = row
            .into_iter()
            .map(|c| cell(c.as_ref()).into_owned())
            .collect();
        self.0.write_record(&row)
    }

    fn into_inner(self) -> Option<Vec<u8>> {
        self.0.into_inner().ok()
    }
}

/// One CSV row per asset (its own columns, then what the audit found), then one per record
/// that matches no asset; without a register, one per medium. Every cell is neutralized
/// against formula injection ([`cell`]).
pub fn csv(a: &Audit) -> Vec<u8> {
    let mut w = Neutral(csv::Writer::from_writer(Vec::new()));
    let found = [
        "standing",
        "certificate",
        "certificate_id",
        "result",
        "method",
        "finished",
        "records",
        "notes",
        "certificate_blake3",
        "qc_sample",
    ];
    // The QC draw, on the rows it drew.
    let drawn: std::collections::HashSet<&str> =
        a.qc.iter()
            .flat_map(|q| q.picks.iter().map(|p| p.medium.as_str()))
            .collect();
    let qc = |name: &str| -> String {
        match &a.qc {
            Some(q) if drawn.contains(name) => {
                format!("drawn (seed {}, {} %)", q.seed, q.percent)
            }
            _ => String::new(),
        }
    };
    let b3 = |i: Option<usize>| -> String {
        i.and_then(|i| a.entries[i].blake3.clone())
            .unwrap_or_default()
    };
    let latest = |i: Option<usize>| -> Vec<String> {
        let e = i.map(|i| &a.entries[i]);
        let c = e.and_then(Entry::cert).cloned().unwrap_or_default();
        vec![
            e.map(|e| e.name.clone()).unwrap_or_default(),
            c.id,
            e.map(|e| e.class.name().to_string()).unwrap_or_default(),
            c.sanitization.method,
            c.sanitization.finished,
        ]
    };
    match &a.register {
        Some(r) => {
            let _ = w.write_record(r.header.iter().map(String::as_str).chain(found));
            for x in &a.assets {
                let mut row = r.assets[x.asset].columns.clone();
                row.resize(r.header.len(), String::new());
                row.push(standing_code(x.history.standing));
                row.extend(latest(x.history.latest));
                row.push(x.history.records.len().to_string());
                row.push(x.notes.join("; "));
                row.push(b3(x.history.latest));
                row.push(qc(&super::reconcile::asset_label(&r.assets[x.asset])));
                let _ = w.write_record(&row);
            }
            for &i in &a.unexpected {
                let mut row = vec![String::new(); r.header.len()];
                if let (Some(c), Some(s)) = (
                    a.entries[i].cert(),
                    r.header
                        .iter()
                        .position(|h| h.eq_ignore_ascii_case("serial")),
                ) {
                    row[s] = c.media.identity.serial.clone();
                }
                row.push("no_asset".into());
                row.extend(latest(Some(i)));
                row.push("1".into());
                row.push(String::new());
                row.push(b3(Some(i)));
                row.push(String::new());
                let _ = w.write_record(&row);
            }
        }
        None => {
            let _ = w.write_record(std::iter::once("medium").chain(found));
            for (k, h) in &a.media {
                let mut row = vec![k.clone(), standing_code(h.standing)];
                row.extend(latest(h.latest));
                row.push(h.records.len().to_string());
                row.push(String::new());
                row.push(b3(h.latest));
                row.push(qc(k));
                let _ = w.write_record(&row);
            }
        }
    }
    w.into_inner().unwrap_or_default()
}

const PAGE: &str = include_str!("report.html.j2");

/// A link to a file relative to the folder the report is written to (`base`, absolute), so
/// the report and the evidence can move together to another machine; bytes outside the
/// unreserved set are percent-encoded. `None` when no relative path leads there.
fn link(base: &std::path::Path, p: &std::path::Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let abs = std::fs::canonicalize(p).ok()?;
    let rel = pathdiff::diff_paths(abs, base)?;
    let mut url = String::new();
    for &b in rel.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            url += &format!("%{b:02X}");
        }
    }
    Some(url)
}

/// The one-page HTML report, its links relative to `folder` (where it is written). Every value
/// goes through minijinja's HTML auto-escaping.
///
/// # Errors
/// Only if the embedded template is broken (a bug; tested).
pub fn html(a: &Audit, folder: &std::path::Path) -> Result<String, minijinja::Error> {
    use minijinja::context;
    let base = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    let file_url = |p: &std::path::Path| link(&base, p);
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("report.html", PAGE)?;
    // Results per day, for the chart.
    let mut days: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
    for e in a.entries.iter().filter(|e| e.class.trusted()) {
        *days
            .entry(day(e))
            .or_default()
            .entry(e.class.name())
            .or_default() += 1;
    }
    let max = days
        .values()
        .map(|m| m.values().sum::<usize>())
        .max()
        .unwrap_or(1)
        .max(1);
    let chart: Vec<_> = days
        .iter()
        .map(|(d, m)| {
            let seg = |k: &str| m.get(k).copied().unwrap_or(0);
            context! {
                day => d,
                pass => seg("PASS") + seg("DESTROYED"),
                fail => seg("FAIL"),
                incomplete => seg("INCOMPLETE"),
                total => m.values().sum::<usize>(),
                scale => 280.0 / max as f64,
            }
        })
        .collect();
    let files: Vec<_> = a
        .entries
        .iter()
        .map(|e| {
            let c = e.cert().cloned().unwrap_or_default();
            context! {
                name => crate::term::escape(&e.name).into_owned(),
                href => file_url(&e.file),
                class => e.class.name(),
                problem => e.class.problem(),
                serial => c.media.identity.serial,
                asset_tag => c.media.asset_tag,
                method => c.sanitization.method,
                policy => c.sanitization.policy.name,
                operator => c.operator.name,
                finished => c.sanitization.finished,
                validated => e.validated_by().map(|s| s.fingerprint().to_string()).unwrap_or_default(),
                detail => crate::term::escape(&e.detail).into_owned(),
            }
        })
        .collect();
    let assets: Vec<_> = match &a.register {
        Some(r) => a
            .assets
            .iter()
            .map(|x| {
                let asset = &r.assets[x.asset];
                let e = x.history.latest.map(|i| &a.entries[i]);
                context! {
                    line => asset.line,
                    serial => asset.serial,
                    asset_tag => asset.asset_tag,
                    model => asset.model,
                    standing => x.history.standing.name(),
                    covered => x.history.standing == Standing::Covered,
                    certificate => e.map(|e| crate::term::escape(&e.name).into_owned()),
                    href => e.map(|e| file_url(&e.file)),
                    notes => x.notes.join("; "),
                }
            })
            .collect(),
        None => vec![],
    };
    // What needs looking at, first: files that do not count, assets not covered, records
    // that match no asset, countersignatures that do not check.
    let mut attention: Vec<_> = a
        .entries
        .iter()
        .filter(|e| e.class.problem())
        .map(|e| {
            context! {
                what => e.class.name(),
                which => crate::term::escape(&e.name).into_owned(),
                href => file_url(&e.file),
                why => crate::term::escape(&e.detail).into_owned(),
            }
        })
        .collect();
    attention.extend(a.entries.iter().filter_map(|e| {
        e.bad_countersignature().map(|why| {
            context! {
                what => "COUNTERSIGNATURE",
                which => crate::term::escape(&e.name).into_owned(),
                href => file_url(&e.file),
                why => why,
            }
        })
    }));
    attention.extend(a.series.iter().filter(|s| !s.whole()).map(|s| {
        context! {
            what => if s.forks.is_empty() { "MISSING" } else { "FORK" },
            which => format!("{} series {}", s.signer, s.short_id()),
            why => s.describe(),
        }
    }));
    if let Some(r) = &a.register {
        attention.extend(a.assets.iter().filter(|x| x.history.standing != Standing::Covered).map(|x| {
            let asset = &r.assets[x.asset];
            let e = x.history.latest.map(|i| &a.entries[i]);
            context! {
                what => x.history.standing.name(),
                which => format!("line {}: serial {:?} asset tag {:?}", asset.line, asset.serial, asset.asset_tag),
                href => e.map(|e| file_url(&e.file)),
                why => e.map_or("no trusted record".to_string(), |e| format!("latest: {} {}", e.class.name(), day(e))),
            }
        }));
        attention.extend(a.unexpected.iter().map(|&i| {
            let e = &a.entries[i];
            let c = e.cert().cloned().unwrap_or_default();
            context! {
                what => "NO ASSET",
                which => crate::term::escape(&e.name).into_owned(),
                href => file_url(&e.file),
                why => format!("serial {:?} asset tag {:?} is in no row of the register", c.media.identity.serial, c.media.asset_tag),
            }
        }));
    }
    let cx = &a.context;
    let anchors: Vec<_> = cx
        .anchors
        .iter()
        .map(|k| {
            context! {
                source => match k.line { Some(l) => format!("{} line {l}", k.source), None => k.source.clone() },
                principals => k.principals,
                key => format!("{} {}", k.key_type, k.fingerprint),
                limits => anchor_limits(k).join("; "),
                ca => k.cert_authority,
            }
        })
        .collect();
    let picks: Vec<_> =
        a.qc.iter()
            .flat_map(|q| &q.picks)
            .map(|p| {
                context! {
                    medium => p.medium,
                    certificate => crate::term::escape(&p.certificate).into_owned(),
                    href => file_url(&a.entries[p.entry].file),
                    id => p.id,
                }
            })
            .collect();
    let tmpl = env.get_template("report.html")?;
    tmpl.render(context! {
        version => cx.version,
        generated => cx.generated,
        command => crate::term::escape(&cx.command_line()).into_owned(),
        verify_time => a.verify_time.name(),
        principal => cx.principal,
        anchors => anchors,
        inputs => cx.inputs.len(),
        inputs_blake3 => cx.inputs_blake3(),
        listing => cx.inputs.iter().map(|i| format!("{}  {}", i.blake3, crate::term::escape(&i.file))).collect::<Vec<_>>(),
        register_blake3 => a.register.as_ref().and_then(|r| r.input.as_ref()).map(|i| i.blake3.clone()),
        picks => picks,
        summary => text(a).into_iter().take_while(|l| !l.is_empty()).collect::<Vec<_>>(),
        counts => a.counts().iter().map(|(c, n)| context! { name => c.name(), n => n, problem => c.problem() }).collect::<Vec<_>>(),
        clean => a.clean(),
        attention => attention,
        chart => chart,
        files => files,
        assets => assets,
        register => a.register.as_ref().map(|r| r.source.clone()),
        qc => a.qc.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formula_cells_are_neutralized_and_others_kept() {
        for (given, want) in [
            ("=1+1", "'=1+1"),
            ("+A-1", "'+A-1"),
            ("-5", "'-5"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("WD-WCC7K0123456", "WD-WCC7K0123456"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(cell(given), want, "{given:?}");
        }
    }
}
