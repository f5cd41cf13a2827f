//! Human renderings of a certificate, laid out like the NIST SP 800-88 sample certificate:
//! person performing, media, sanitization, verification, destination, signature, validation,
//! with the result in large type and, so a printed copy can be tied back to the signed file,
//! the signer's key fingerprint and the BLAKE3 of the certificate file. Pure: text in, text
//! or bytes out.

use super::Certificate;

/// A titled block of labelled values.
pub struct Section {
    pub title: &'static str,
    pub fields: Vec<(&'static str, String)>,
}

/// What the rendering says about the signature, checked by the caller.
pub struct Seal {
    /// `SHA256:...` of the signing key.
    pub fingerprint: String,
    /// BLAKE3 of the certificate file's bytes, hex.
    pub file_blake3: String,
    /// Whether the signer is trusted, and through what (or that it was not checked).
    pub trust: String,
    /// The validator's countersignature (`cert countersign`): who, and whether trusted; empty
    /// when there is none.
    pub validated: String,
    /// Printed across the page when the signer is not trusted (`SIGNATURE NOT CHECKED`,
    /// `SIGNER NOT TRUSTED`): a rendering asked for with `--unchecked`.
    pub mark: Option<String>,
}

/// What marks a file mediasan rendered (the PDF's Producer, the HTML's generator), so that a
/// later rendering may replace it and nothing else.
pub const PRODUCER: &str = "mediasan certificate rendering";

/// Whether `bytes` (the start of an existing file) are a rendering of mediasan's.
pub fn is_ours(bytes: &[u8]) -> bool {
    let marker_pdf = format!("/Producer ({PRODUCER})");
    let marker_html = format!("<meta name=\"generator\" content=\"{PRODUCER}\">");
    let has = |m: &str| bytes.windows(m.len()).any(|w| w == m.as_bytes());
    (bytes.starts_with(b"%PDF-") && has(&marker_pdf))
        || (bytes.starts_with(b"<!DOCTYPE html>") && has(&marker_html))
}

/// The verification's coverage: "not run" where nothing was read back (never "0.00 %", which
/// reads as a verification that found nothing).
fn coverage(v: &super::Verification) -> String {
    if v.bytes_read == 0 {
        return if v.coverage_percent > 0.0 {
            format!(
                "not run (planned: {:.2} %, {} samples of {} bytes)",
                v.coverage_percent, v.samples, v.sample_bytes
            )
        } else {
            "not run".into()
        };
    }
    format!(
        "{:.2} % ({} samples of {} bytes, {} subsections)",
        v.coverage_percent, v.samples, v.sample_bytes, v.subsections
    )
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

/// The certificate as sections, in the order of the NIST sample form.
/// One drive-health reading, short.
fn health_line(h: Option<&crate::device::health::Health>) -> String {
    match h {
        None => "-".into(),
        Some(h) if h.detail.is_empty() => or_dash(&h.state),
        Some(h) => format!("{} ({})", or_dash(&h.state), h.detail),
    }
}

/// The device command a purge sent, and how the drive answered.
fn device_command(c: Option<&super::DeviceCommand>) -> String {
    match c {
        None => "none (overwrite)".into(),
        Some(c) => format!(
            "{} over {}: {}",
            c.method,
            c.bus.to_uppercase(),
            or_dash(&c.drive_status)
        ),
    }
}

/// The logs saved before the command (`--rma-capture`), with their hashes.
fn captured(c: Option<&super::DeviceCommand>) -> String {
    match c.map(|c| &c.captured) {
        Some(list) if !list.is_empty() => list
            .iter()
            .map(|x| format!("{} ({} bytes, BLAKE3 {})", x.file, x.bytes, x.blake3))
            .collect::<Vec<_>>()
            .join("; "),
        _ => "-".into(),
    }
}

/// What the drive itself reported of the sanitize (its log, its events), with the hash.
fn drive_record(c: Option<&super::DeviceCommand>) -> String {
    match c.and_then(|c| c.drive_record.as_ref()) {
        None => "-".into(),
        Some(r) => {
            let mut t = format!("{} (BLAKE3 {})", r.source, r.raw_blake3);
            for e in &r.events {
                t.push_str("; ");
                t.push_str(e);
            }
            t
        }
    }
}

pub fn sections(c: &Certificate, seal: &Seal) -> Vec<Section> {
    let m = &c.media;
    let id = &m.identity;
    let s = &c.sanitization;
    let v = &c.verification;
    let o = &c.operator;
    let passes = s
        .passes
        .iter()
        .map(|p| {
            let mut d = format!("{}: {}", p.index, p.pattern);
            if let Some(seed) = &p.seed {
                d += &format!(" seed {}", seed);
            }
            if p.segments.len() > 1 {
                d += &format!(
                    " (in {} runs: {})",
                    p.segments.len(),
                    p.segments
                        .iter()
                        .map(|s| format!(
                            "{} bytes from offset {} in {:.1} s",
                            s.bytes_written, s.from_offset, s.seconds
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            d
        })
        .collect::<Vec<_>>()
        .join("; ");
    let val = &c.validation;
    let mut all = vec![
        Section {
            title: "Result",
            fields: vec![
                ("Result", c.result.name().into()),
                (
                    "Reasons",
                    if c.reasons.is_empty() {
                        "-".into()
                    } else {
                        c.reasons.join("; ")
                    },
                ),
                ("Recommendation", or_dash(&c.recommendation)),
            ],
        },
        Section {
            title: "Person performing sanitization",
            fields: vec![
                ("Name", or_dash(&o.name)),
                ("Title", or_dash(&o.title)),
                ("Organization", or_dash(&o.organization)),
                ("Location", or_dash(&o.location)),
                ("Phone / contact", or_dash(&o.contact)),
            ],
        },
        Section {
            title: "Media information",
            fields: vec![
                ("Make / vendor", or_dash(&id.vendor)),
                ("Model", or_dash(&id.model)),
                (
                    "Serial number",
                    format!(
                        "{} (source: {})",
                        or_dash(&id.serial),
                        or_dash(&id.serial_source)
                    ),
                ),
                (
                    "Firmware / WWN",
                    format!("{} / {}", or_dash(&id.firmware), or_dash(&id.wwn)),
                ),
                (
                    "Media type / interface",
                    format!(
                        "{} / {} ({})",
                        or_dash(&id.media_type),
                        or_dash(&id.interface),
                        m.kind
                    ),
                ),
                (
                    "Path",
                    format!(
                        "{}{}",
                        m.path,
                        if id.backing.is_empty() {
                            String::new()
                        } else {
                            format!(" on {}", id.backing)
                        }
                    ),
                ),
                (
                    "Capacity",
                    format!(
                        "{} bytes, {}-byte logical / {}-byte physical blocks",
                        m.size_bytes, m.logical_block_size, m.physical_block_size
                    ),
                ),
                ("Asset / property number", or_dash(&m.asset_tag)),
                ("Media source", or_dash(&m.source)),
                ("Classification", or_dash(&m.classification)),
                ("Data backed up", or_dash(&m.data_backed_up)),
                ("Backup location", or_dash(&m.backup_location)),
                (
                    "Hidden areas (HPA/DCO)",
                    format!(
                        "{}: {}",
                        or_dash(&m.hidden_areas.state),
                        or_dash(&m.hidden_areas.detail)
                    ),
                ),
                (
                    "Drive health (before / after)",
                    format!(
                        "{} / {}",
                        health_line(m.health.before.as_ref()),
                        health_line(m.health.after.as_ref())
                    ),
                ),
            ],
        },
        Section {
            title: "Sanitization details",
            fields: vec![
                ("Method type", s.method.to_uppercase()),
                ("Technique", or_dash(&s.technique)),
                (
                    "Policy / standard",
                    format!(
                        "{}{} - {}",
                        s.policy.name,
                        if s.policy.legacy { " (legacy)" } else { "" },
                        or_dash(&s.policy.reference)
                    ),
                ),
                ("Policy BLAKE3", or_dash(&s.policy.blake3)),
                ("Passes", or_dash(&passes)),
                ("Device command", device_command(s.command.as_ref())),
                ("The drive's own record", drive_record(s.command.as_ref())),
                (
                    "Saved for the vendor (RMA capture)",
                    captured(s.command.as_ref()),
                ),
                (
                    "Interruptions / resumptions",
                    if s.resumed.is_empty() {
                        "none".into()
                    } else {
                        s.resumed.join("; ")
                    },
                ),
                (
                    "Supersedes",
                    if c.supersedes.is_empty() {
                        "none".into()
                    } else {
                        format!(
                            "the INCOMPLETE certificate(s) {} of this wipe's earlier runs",
                            c.supersedes.join(", ")
                        )
                    },
                ),
                (
                    "Tool",
                    format!(
                        "{} {} ({}) on {} (kernel {})",
                        c.tool.name, c.tool.version, c.tool.build, c.host.hostname, c.host.kernel
                    ),
                ),
                ("Machine", c.host.describe()),
                (
                    "Signer's series",
                    c.chain.as_ref().map_or_else(
                        || "not numbered".to_string(),
                        |ch| {
                            format!(
                                "#{} of series {}",
                                ch.seq,
                                ch.id.chars().take(8).collect::<String>()
                            )
                        },
                    ),
                ),
                (
                    "Started / finished",
                    format!(
                        "{} / {} ({:.0} s{})",
                        s.started,
                        s.finished,
                        s.duration_seconds,
                        if s.active_seconds > 0.0
                            && (s.active_seconds - s.duration_seconds).abs() > 1.0
                        {
                            format!(", {:.0} s of it working", s.active_seconds)
                        } else {
                            String::new()
                        }
                    ),
                ),
            ],
        },
        Section {
            title: "Verification",
            fields: vec![
                ("Method", or_dash(&v.method)),
                ("Coverage", coverage(v)),
                ("Sample seed", or_dash(&v.seed)),
                (
                    "Bytes read / mismatched blocks",
                    format!("{} / {}", v.bytes_read, v.mismatches),
                ),
                ("BLAKE3 of data read", or_dash(&v.blake3)),
            ],
        },
        Section {
            title: "Media destination",
            fields: vec![
                (
                    "Post-sanitization classification",
                    or_dash(&c.post_sanitization_classification),
                ),
                ("Destination", or_dash(&c.destination)),
                (
                    "Notes",
                    if c.notes.is_empty() {
                        "-".into()
                    } else {
                        c.notes.join(" | ")
                    },
                ),
            ],
        },
        Section {
            title: "Signature (digital, SSHSIG Ed25519)",
            fields: vec![
                ("Certificate id", c.id.clone()),
                ("Signing key fingerprint", seal.fingerprint.clone()),
                ("Signer", seal.trust.clone()),
                ("Certificate file BLAKE3", seal.file_blake3.clone()),
                (
                    "Check with",
                    "ssh-keygen -Y check-novalidate -n mediasan-certificate -s FILE.sig < FILE"
                        .into(),
                ),
            ],
        },
        Section {
            title: "Validation",
            fields: vec![
                (
                    "Countersigned by",
                    if seal.validated.is_empty() {
                        "- (no countersignature: `mediasan cert countersign FILE --key KEY`)".into()
                    } else {
                        seal.validated.clone()
                    },
                ),
                ("Name", or_dash(&val.name)),
                ("Title", or_dash(&val.title)),
                ("Organization", or_dash(&val.organization)),
                ("Location", or_dash(&val.location)),
                ("Phone / contact", or_dash(&val.contact)),
                ("Signature", or_dash(&val.signature)),
                ("Date", or_dash(&val.date)),
            ],
        },
    ];
    // Every value comes from the certificate file: make control, bidi and invisible characters
    // visible, so no field can fake another line (e.g. a model "\nRESULT: PASS").
    for sec in &mut all {
        for (_, v) in &mut sec.fields {
            if let std::borrow::Cow::Owned(e) = crate::term::escape(v) {
                *v = e;
            }
        }
    }
    all
}

/// Plain text for a terminal. Every value is escaped (see [`crate::term::escape`]).
pub fn text(c: &Certificate, seal: &Seal) -> String {
    let mut out = format!(
        "CERTIFICATE OF SANITIZATION (NIST SP 800-88 Rev. 2)\nRESULT: {}\n",
        c.result.name()
    );
    for r in &c.reasons {
        out += &format!("  - {}\n", crate::term::escape(r));
    }
    if !c.recommendation.is_empty() {
        out += &format!(
            "RECOMMENDATION: {}\n",
            crate::term::escape(&c.recommendation)
        );
    }
    for s in sections(c, seal).into_iter().skip(1) {
        out += &format!("\n{}\n", s.title.to_uppercase());
        for (k, v) in s.fields {
            out += &format!("  {k:<34} {v}\n");
        }
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A standalone HTML page (print it, or keep it).
pub fn html(c: &Certificate, seal: &Seal) -> String {
    let colour = if c.result == super::Verdict::Pass {
        "#0a6b2d"
    } else {
        "#a4161a"
    };
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"generator\" content=\"{producer}\"><title>Certificate of Sanitization {id}</title>\n\
         <style>body{{font-family:Helvetica,Arial,sans-serif;max-width:52em;margin:2em auto;font-size:11pt}}\
         h1{{font-size:16pt;margin-bottom:0}}.result{{font-size:28pt;font-weight:bold;color:{colour}}}\
         table{{border-collapse:collapse;width:100%;margin-top:.8em}}th{{text-align:left;background:#eee;padding:.3em}}\
         td{{border-top:1px solid #ccc;padding:.25em .4em;vertical-align:top}}td.k{{width:16em;color:#444}}\
         td.v{{font-family:monospace;overflow-wrap:anywhere}}td.pen{{height:3.5em}}\
         .mark{{position:fixed;top:38%;left:0;width:100%;text-align:center;transform:rotate(-30deg);\
         font-size:44pt;font-weight:bold;color:rgba(164,22,26,.55);border:4px solid rgba(164,22,26,.55)}}</style></head><body>\n\
         <h1>Certificate of Sanitization</h1><div>NIST SP 800-88 Rev. 2 &middot; {id}</div>\n<div class=\"result\">{result}</div>\n",
        id = esc(&c.id),
        result = c.result.name(),
        producer = PRODUCER
    );
    if let Some(m) = &seal.mark {
        out += &format!("<div class=\"mark\">{}</div>\n", esc(m));
    }
    if !c.reasons.is_empty() {
        out += "<ul>";
        for r in &c.reasons {
            out += &format!("<li>{}</li>", esc(&crate::term::escape(r)));
        }
        out += "</ul>\n";
    }
    if !c.recommendation.is_empty() {
        out += &format!(
            "<div class=\"rec\">Recommendation: {}</div>\n",
            esc(&crate::term::escape(&c.recommendation))
        );
    }
    for s in sections(c, seal).into_iter().skip(1) {
        out += &format!("<table><tr><th colspan=\"2\">{}</th></tr>\n", esc(s.title));
        for (k, v) in s.fields {
            out += &if pen_room(s.title, k, &v) > 0.0 {
                // Room to sign or date by hand.
                format!(
                    "<tr><td class=\"k\">{}</td><td class=\"v pen\"></td></tr>\n",
                    esc(k)
                )
            } else {
                format!(
                    "<tr><td class=\"k\">{}</td><td class=\"v\">{}</td></tr>\n",
                    esc(k),
                    esc(&v)
                )
            };
        }
        out += "</table>\n";
    }
    out + "</body></html>\n"
}

/// Latin-1 text for the PDF's standard fonts (WinAnsi), escaped for a PDF string; characters
/// outside Latin-1 become '?'.
fn pdf_str(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        match ch {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            ' '..='~' => out.push(ch),
            c if (c as u32) >= 0xA0 && (c as u32) <= 0xFF => out += &format!("\\{:03o}", c as u32),
            _ => out.push('?'),
        }
    }
    out
}

/// Greedy word wrap at `width` characters; words longer than a line are cut.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in s.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let line = lines.last_mut().expect("never empty");
            let used = line.chars().count();
            let sep = usize::from(used > 0);
            if used + sep + word.len() <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(String::new());
                continue;
            }
            let rest = word.split_off(width);
            line.extend(word.iter());
            word = rest;
            lines.push(String::new());
        }
    }
    lines
}

/// The header lines of the PDF: the reasons (the first, decisive one always whole) and the
/// recommendation, cut to `max` lines with a "+N more" line saying where the rest is.
fn pdf_header(c: &Certificate, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut shown = 0;
    for (i, r) in c.reasons.iter().enumerate() {
        let wrapped = wrap(&crate::term::escape(r), 110);
        if i > 0 && lines.len() + wrapped.len() > max {
            break;
        }
        lines.extend(wrapped);
        shown += 1;
    }
    if shown < c.reasons.len() {
        lines.push(format!(
            "+{} more reason(s): see the certificate file",
            c.reasons.len() - shown
        ));
    }
    if !c.recommendation.is_empty() {
        lines.extend(wrap(
            &format!("RECOMMENDATION: {}", crate::term::escape(&c.recommendation)),
            110,
        ));
    }
    lines
}

/// The value lines of one PDF field, at most `max` of them; a cut value says so.
fn pdf_value(v: &str, max: usize) -> Vec<String> {
    let mut lines = wrap(v, 92);
    if lines.len() > max {
        let more = lines.len() - max + 1;
        lines.truncate(max.saturating_sub(1));
        lines.push(format!("... (+{more} line(s): see the certificate file)"));
    }
    lines
}

/// Page height the body of the PDF needs with `field_max` lines per field and the header.
fn pdf_height(head: usize, sections: &[Section], field_max: usize) -> f64 {
    let mut y = 26.0 + 8.5 * head as f64;
    for s in sections {
        y += 17.0;
        for (k, v) in &s.fields {
            y += 8.0 * pdf_value(v, field_max).len() as f64 + pen_room(s.title, k, v);
        }
    }
    y
}

/// A sheet of paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paper {
    /// ISO A4, 210 x 297 mm: the default almost everywhere.
    A4,
    /// US Letter, 8.5 x 11 in: North America and a few others.
    Letter,
}

impl Paper {
    /// Width and height in PDF points.
    pub fn points(self) -> (f64, f64) {
        match self {
            Paper::A4 => (595.28, 841.89),
            Paper::Letter => (612.0, 792.0),
        }
    }

    /// From a name (`a4`, `letter`, as `/etc/papersize` or the organization file say it).
    pub fn from_name(name: &str) -> Option<Paper> {
        match name.trim().to_ascii_lowercase().as_str() {
            "a4" => Some(Paper::A4),
            "letter" | "us-letter" | "usletter" => Some(Paper::Letter),
            _ => None,
        }
    }

    /// The paper of a locale name (`en_US.UTF-8`): Letter in the countries that use it, A4
    /// elsewhere.
    pub fn of_locale(locale: &str) -> Paper {
        let territory = locale
            .split(['.', '@'])
            .next()
            .and_then(|l| l.split('_').nth(1))
            .unwrap_or("");
        match territory {
            "US" | "CA" | "MX" | "PH" | "CL" | "CO" | "VE" | "CR" | "GT" | "PR" | "SV" | "NI"
            | "PA" | "DO" => Paper::Letter,
            _ => Paper::A4,
        }
    }
}

/// Blank room for a pen under the validation block's empty Signature and Date.
fn pen_room(section: &str, key: &str, value: &str) -> f64 {
    if section == "Validation" && (key == "Signature" || key == "Date") && value == "-" {
        24.0
    } else {
        0.0
    }
}

/// A one-page PDF drawn with the standard Helvetica and Courier fonts on `paper`. Long values
/// are cut (saying so) so that everything, the validation block with room to sign included,
/// fits on the page.
pub fn pdf(c: &Certificate, seal: &Seal, paper: Paper) -> Vec<u8> {
    let (w, h) = paper.points();
    let secs: Vec<Section> = sections(c, seal).into_iter().skip(1).collect();
    // The body runs from 50 pt under the top to a 30 pt bottom margin: cut the longest
    // values first, then the header, until it fits.
    let room = h - 50.0 - 30.0;
    let (mut head_max, mut field_max) = (12, 5);
    while pdf_height(pdf_header(c, head_max).len(), &secs, field_max) > room {
        if field_max > 1 {
            field_max -= 1;
        } else if head_max > 1 {
            head_max -= 1;
        } else {
            break;
        }
    }
    let mut ops = String::new();
    let mut y = h - 50.0;
    let text = |ops: &mut String, font: &str, size: f64, x: f64, y: f64, s: &str| {
        *ops += &format!(
            "BT /{font} {size} Tf {x:.1} {y:.1} Td ({}) Tj ET\n",
            pdf_str(s)
        );
    };
    text(&mut ops, "F2", 16.0, 40.0, y, "Certificate of Sanitization");
    text(
        &mut ops,
        "F1",
        8.0,
        40.0,
        y - 12.0,
        &format!("NIST SP 800-88 Rev. 2  -  certificate {}", c.id),
    );
    let (r, g, b) = if c.result == super::Verdict::Pass {
        (0.04, 0.42, 0.18)
    } else {
        (0.64, 0.09, 0.10)
    };
    ops += &format!("{r} {g} {b} rg\n");
    // Right-aligned (Helvetica-Bold capitals are at most ~0.78 em wide): INCOMPLETE fits too.
    let size = 28.0;
    let result_x = w - 36.0 - 0.78 * size * c.result.name().len() as f64;
    text(&mut ops, "F2", size, result_x, y - 8.0, c.result.name());
    ops += "0 0 0 rg\n";
    y -= 26.0;
    for line in pdf_header(c, head_max) {
        text(&mut ops, "F1", 7.0, 40.0, y, &line);
        y -= 8.5;
    }
    for s in secs {
        y -= 6.0;
        ops += &format!(
            "0.9 0.9 0.9 rg 36 {:.1} {:.1} 11 re f 0 0 0 rg\n",
            y - 3.0,
            w - 72.0
        );
        text(&mut ops, "F2", 8.5, 40.0, y, s.title);
        y -= 11.0;
        for (k, v) in s.fields {
            text(&mut ops, "F1", 7.0, 40.0, y, k);
            let room = pen_room(s.title, k, &v);
            if room > 0.0 {
                // Nothing printed: a line to sign or date on.
                y -= room;
                ops += &format!(
                    "0 G 0.5 w 175 {:.1} m {:.1} {:.1} l S\n",
                    y + 8.0,
                    w - 60.0,
                    y + 8.0
                );
                y -= 8.0;
            } else {
                for line in pdf_value(&v, field_max) {
                    text(&mut ops, "F3", 6.5, 175.0, y, &line);
                    y -= 8.0;
                }
            }
            ops += &format!(
                "0.8 G 0.3 w 36 {:.1} m {:.1} {:.1} l S 0 G\n",
                y + 5.5,
                w - 36.0,
                y + 5.5
            );
        }
    }
    if let Some(m) = &seal.mark {
        // Across the page, over everything: a printout that cannot pass for a checked one.
        let size = 34.0;
        let (cos, sin) = (0.819_f64, 0.574_f64); // 35 degrees
        let width = 0.70 * size * m.len() as f64;
        let (x, y) = (w / 2.0 - cos * width / 2.0, h / 2.0 - sin * width / 2.0);
        ops += &format!(
            "0.64 0.09 0.10 rg BT /F2 {size} Tf {cos} {sin} {} {cos} {x:.1} {y:.1} Tm ({}) Tj ET 0 0 0 rg\n",
            -sin,
            pdf_str(m)
        );
    }
    // The objects, then the cross-reference table with their byte offsets.
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Contents 4 0 R \
             /Resources << /Font << /F1 5 0 R /F2 6 0 R /F3 7 0 R >> >> >>"
        ),
        format!("<< /Length {} >>\nstream\n{ops}endstream", ops.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
            .to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>"
            .to_string(),
        format!("<< /Producer ({PRODUCER}) >>"),
    ];
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info {} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1,
            objects.len()
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Certificate, Seal) {
        let mut c = Certificate {
            id: "abc".into(),
            ..Default::default()
        };
        c.operator.name = "Jörg (night shift) \\ <ops>".into();
        c.media.identity.model = "WDC WD40".into();
        (
            c,
            Seal {
                fingerprint: "SHA256:xyz".into(),
                file_blake3: "b3".into(),
                trust: "SHA256:xyz (trusted: lab in allowed_signers line 1)".into(),
                validated: String::new(),
                mark: None,
            },
        )
    }

    #[test]
    fn every_section_and_field_is_in_every_rendering() {
        let (c, seal) = sample();
        let t = text(&c, &seal);
        let h = html(&c, &seal);
        // The first section (result, reasons, recommendation) is the header of each rendering.
        for s in sections(&c, &seal).into_iter().skip(1) {
            assert!(t.contains(&s.title.to_uppercase()) && h.contains(s.title));
            for (k, _) in s.fields {
                assert!(t.contains(k) && h.contains(&esc(k)), "{k}");
            }
        }
        assert!(
            h.contains("J\u{f6}rg (night shift) \\ &lt;ops&gt;"),
            "escaped"
        );
        assert!(t.contains("SHA256:xyz") && t.contains("WDC WD40"));
    }

    #[test]
    fn device_strings_cannot_fake_a_line_or_move_the_cursor() {
        let (mut c, seal) = sample();
        c.result = crate::cert::Verdict::Incomplete;
        c.reasons = vec!["pass 1 interrupted\x1b[1A".into()];
        c.media.identity.model = "X\nRESULT: PASS\x1b[2J\u{202e}".into();
        c.media.identity.serial = "\r\u{9b}31m".into();
        let t = text(&c, &seal);
        assert!(
            !t.chars().any(|ch| crate::term::is_unsafe(ch) && ch != '\n'),
            "{t:?}"
        );
        let results: Vec<&str> = t.lines().filter(|l| l.starts_with("RESULT")).collect();
        assert_eq!(results, vec!["RESULT: INCOMPLETE"], "{t}");
        assert!(t.contains("X\\nRESULT: PASS\\x1b[2J\\u{202e}"), "{t}");
        let h = html(&c, &seal);
        assert!(!h.chars().any(|ch| crate::term::is_unsafe(ch) && ch != '\n'));
    }

    #[test]
    fn recommendation_and_interruptions_are_rendered() {
        let (mut c, seal) = sample();
        c.recommendation = "Destroy: 4096 bytes could not be written".into();
        c.sanitization.resumed = vec![
            "interrupted 2026-11-29T10:00:00Z pass 1 of 1 at byte 4096".into(),
            "resumed 2026-11-29T10:05:00Z pass 1 of 1 at byte 4096".into(),
        ];
        let t = text(&c, &seal);
        let h = html(&c, &seal);
        for out in [&t, &h] {
            assert!(out.contains("Destroy: 4096 bytes"), "{out}");
            assert!(out.contains("resumed 2026-11-29T10:05:00Z"), "{out}");
        }
        let p = String::from_utf8_lossy(&pdf(&c, &seal, Paper::Letter)).to_string();
        assert!(p.contains("RECOMMENDATION: Destroy: 4096 bytes"));
        assert!(p.contains("resumed 2026-11-29T10:05:00Z"));
    }

    /// The y coordinate of the first PDF text line containing `needle`.
    fn pdf_y(p: &str, needle: &str) -> f64 {
        let line = p.lines().find(|l| l.contains(needle)).expect(needle);
        let td = line.split_whitespace().collect::<Vec<_>>();
        let i = td.iter().position(|w| *w == "Td").unwrap();
        td[i - 1].parse().unwrap()
    }

    #[test]
    fn long_fields_never_push_the_signature_off_the_page() {
        let (mut c, seal) = sample();
        c.notes = (0..40)
            .map(|i| format!("note {i} {}", "word ".repeat(60)))
            .collect();
        c.reasons = (0..200)
            .map(|i| {
                format!(
                    "pass 1: write failed at offset {} (512 bytes): EIO",
                    i * 512
                )
            })
            .collect();
        c.media.identity.model = "M".repeat(2000);
        c.sanitization.resumed = (0..50).map(|i| format!("resumed {i}")).collect();
        let p = String::from_utf8_lossy(&pdf(&c, &seal, Paper::Letter)).to_string();
        for needle in [
            "SHA256:xyz",
            "Signing key fingerprint",
            "Validation",
            "Date",
        ] {
            let y = pdf_y(&p, needle);
            assert!(y >= 30.0, "{needle} at y = {y}: off the page");
        }
        // The decisive (first) reason is whole; the rest are counted, not dropped silently.
        assert!(
            p.contains("pass 1: write failed at offset 0 \\(512 bytes\\): EIO"),
            "first reason"
        );
        assert!(
            p.contains("more reason\\(s\\): see the certificate file"),
            "+N more"
        );
        assert!(p.contains("see the certificate file"));
    }

    #[test]
    fn paper_follows_the_country_and_leaves_room_to_sign() {
        assert_eq!(Paper::of_locale("en_US.UTF-8"), Paper::Letter);
        assert_eq!(Paper::of_locale("fr_CA.UTF-8"), Paper::Letter);
        assert_eq!(Paper::of_locale("de_DE.UTF-8"), Paper::A4);
        assert_eq!(Paper::of_locale("C.UTF-8"), Paper::A4);
        assert_eq!(Paper::of_locale(""), Paper::A4);
        assert_eq!(Paper::from_name("Letter\n"), Some(Paper::Letter));
        let (c, seal) = sample();
        let h = html(&c, &seal);
        assert!(h.contains("overflow-wrap:anywhere") && !h.contains("break-all"));
        assert!(
            h.contains("<td class=\"k\">Signature</td><td class=\"v pen\"></td>"),
            "room for a pen"
        );
        for paper in [Paper::A4, Paper::Letter] {
            let p = String::from_utf8_lossy(&pdf(&c, &seal, paper)).to_string();
            // The validation block's Signature and Date are blank lines to write on.
            assert!(p.contains("(Signature) Tj") && p.contains("(Date) Tj"));
            assert_eq!(p.matches("0 G 0.5 w 175").count(), 2, "{paper:?}");
        }
    }

    #[test]
    fn wraps_at_spaces_and_cuts_only_long_words() {
        assert_eq!(
            wrap("the quick brown fox", 10),
            vec!["the quick", "brown fox"]
        );
        assert_eq!(wrap("abcdefghijkl xy", 5), vec!["abcde", "fghij", "kl xy"]);
        assert_eq!(wrap("", 5), vec![""]);
    }

    #[test]
    fn an_unchecked_rendering_is_marked_and_both_formats_are_known_as_ours() {
        let (c, mut seal) = sample();
        for bytes in [pdf(&c, &seal, Paper::A4), html(&c, &seal).into_bytes()] {
            assert!(is_ours(&bytes));
            assert!(!String::from_utf8_lossy(&bytes).contains("NOT CHECKED"));
        }
        seal.mark = Some("SIGNATURE NOT CHECKED".into());
        assert!(html(&c, &seal).contains("<div class=\"mark\">SIGNATURE NOT CHECKED</div>"));
        let p = pdf(&c, &seal, Paper::Letter);
        assert!(String::from_utf8_lossy(&p).contains("(SIGNATURE NOT CHECKED) Tj"));
        assert!(!is_ours(b"%PDF-1.4 someone else's"));
        assert!(!is_ours(b"<!DOCTYPE html><p>a page</p>"));
    }

    #[test]
    fn pdf_is_well_formed() {
        let (c, seal) = sample();
        let p = pdf(&c, &seal, Paper::A4);
        assert!(String::from_utf8_lossy(&p).contains("/MediaBox [0 0 595.28 841.89]"));
        let find = |needle: &[u8]| p.windows(needle.len()).rposition(|w| w == needle).unwrap();
        assert!(p.starts_with(b"%PDF-1.4") && p.ends_with(b"%%EOF\n"));
        // Every xref offset points at its object (offsets are byte offsets).
        let after = find(b"startxref\n") + b"startxref\n".len();
        let xref_at: usize = String::from_utf8_lossy(&p[after..])
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(p[xref_at..].starts_with(b"xref\n0 9\n"));
        let table = String::from_utf8_lossy(&p[xref_at..]).to_string();
        for (i, line) in table.lines().skip(3).take(8).enumerate() {
            let off: usize = line[..10].parse().unwrap();
            assert!(
                p[off..].starts_with(format!("{} 0 obj", i + 1).as_bytes()),
                "object {}",
                i + 1
            );
        }
        let text = String::from_utf8_lossy(&p);
        assert!(
            text.contains("J\\366rg \\(night shift\\) \\\\ <ops>"),
            "Latin-1 and escapes"
        );
    }
}
