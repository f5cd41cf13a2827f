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

/// Blank room for a pen under the validation block's empty Signature and Date.
pub(crate) fn pen_room(section: &str, key: &str, value: &str) -> f32 {
    if section == "Validation" && (key == "Signature" || key == "Date") && value == "-" {
        24.0
    } else {
        0.0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> (Certificate, Seal) {
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
        let fonts = crate::cert::fonts::Fonts::new();
        let paper = crate::cert::printout::Paper::Letter;
        let p = crate::cert::printout::layout(&c, &seal, paper, &fonts);
        assert!(p.y_of("RECOMMENDATION: Destroy: 4096 bytes").is_some());
        assert!(p.y_of("resumed 2026-11-29T10:05:00Z").is_some());
    }

    #[test]
    fn an_unchecked_html_is_marked_and_known_as_ours() {
        let (c, mut seal) = sample();
        assert!(is_ours(html(&c, &seal).as_bytes()));
        assert!(!html(&c, &seal).contains("NOT CHECKED"));
        seal.mark = Some("SIGNATURE NOT CHECKED".into());
        assert!(html(&c, &seal).contains("<div class=\"mark\">SIGNATURE NOT CHECKED</div>"));
        assert!(!is_ours(b"%PDF-1.4 someone else's"));
        assert!(!is_ours(b"<!DOCTYPE html><p>a page</p>"));
    }
}
