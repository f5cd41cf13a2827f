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
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

/// The certificate as sections, in the order of the NIST sample form.
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
            d
        })
        .collect::<Vec<_>>()
        .join("; ");
    let val = &c.validation;
    vec![
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
                (
                    "Tool",
                    format!(
                        "{} {} ({}) on {} (kernel {})",
                        c.tool.name, c.tool.version, c.tool.build, c.host.hostname, c.host.kernel
                    ),
                ),
                (
                    "Started / finished",
                    format!(
                        "{} / {} ({:.0} s)",
                        s.started, s.finished, s.duration_seconds
                    ),
                ),
            ],
        },
        Section {
            title: "Verification",
            fields: vec![
                ("Method", or_dash(&v.method)),
                (
                    "Coverage",
                    format!(
                        "{:.2} % ({} samples of {} bytes, {} subsections)",
                        v.coverage_percent, v.samples, v.sample_bytes, v.subsections
                    ),
                ),
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
                ("Name", or_dash(&val.name)),
                ("Title", or_dash(&val.title)),
                ("Organization", or_dash(&val.organization)),
                ("Location", or_dash(&val.location)),
                ("Phone / contact", or_dash(&val.contact)),
                ("Signature", or_dash(&val.signature)),
                ("Date", or_dash(&val.date)),
            ],
        },
    ]
}

/// Plain text for a terminal.
pub fn text(c: &Certificate, seal: &Seal) -> String {
    let mut out = format!(
        "CERTIFICATE OF SANITIZATION (NIST SP 800-88 Rev. 2)\nRESULT: {}\n",
        c.result.name()
    );
    for r in &c.reasons {
        out += &format!("  - {r}\n");
    }
    for s in sections(c, seal) {
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
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Certificate of Sanitization {id}</title>\n\
         <style>body{{font-family:Helvetica,Arial,sans-serif;max-width:52em;margin:2em auto;font-size:11pt}}\
         h1{{font-size:16pt;margin-bottom:0}}.result{{font-size:28pt;font-weight:bold;color:{colour}}}\
         table{{border-collapse:collapse;width:100%;margin-top:.8em}}th{{text-align:left;background:#eee;padding:.3em}}\
         td{{border-top:1px solid #ccc;padding:.25em .4em;vertical-align:top}}td.k{{width:16em;color:#444}}\
         td.v{{font-family:monospace;word-break:break-all}}</style></head><body>\n\
         <h1>Certificate of Sanitization</h1><div>NIST SP 800-88 Rev. 2 &middot; {id}</div>\n<div class=\"result\">{result}</div>\n",
        id = esc(&c.id),
        result = c.result.name()
    );
    if !c.reasons.is_empty() {
        out += "<ul>";
        for r in &c.reasons {
            out += &format!("<li>{}</li>", esc(r));
        }
        out += "</ul>\n";
    }
    for s in sections(c, seal) {
        out += &format!("<table><tr><th colspan=\"2\">{}</th></tr>\n", esc(s.title));
        for (k, v) in s.fields {
            out += &format!(
                "<tr><td class=\"k\">{}</td><td class=\"v\">{}</td></tr>\n",
                esc(k),
                esc(&v)
            );
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

/// A one-page PDF (US Letter) drawn with the standard Helvetica and Courier fonts.
pub fn pdf(c: &Certificate, seal: &Seal) -> Vec<u8> {
    let (w, h) = (612.0, 792.0);
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
    text(&mut ops, "F2", 30.0, 400.0, y - 8.0, c.result.name());
    ops += "0 0 0 rg\n";
    y -= 26.0;
    for reason in c.reasons.iter().take(3) {
        for line in wrap(reason, 110) {
            text(&mut ops, "F1", 7.0, 40.0, y, &line);
            y -= 8.5;
        }
    }
    for s in sections(c, seal) {
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
            for (i, line) in wrap(&v, 92).into_iter().enumerate() {
                text(&mut ops, "F3", 6.5, 175.0, y, &line);
                y -= 8.0;
                if i > 3 {
                    break;
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
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
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
            },
        )
    }

    #[test]
    fn every_section_and_field_is_in_every_rendering() {
        let (c, seal) = sample();
        let t = text(&c, &seal);
        let h = html(&c, &seal);
        for s in sections(&c, &seal) {
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
    fn wraps_at_spaces_and_cuts_only_long_words() {
        assert_eq!(
            wrap("the quick brown fox", 10),
            vec!["the quick", "brown fox"]
        );
        assert_eq!(wrap("abcdefghijkl xy", 5), vec!["abcde", "fghij", "kl xy"]);
        assert_eq!(wrap("", 5), vec![""]);
    }

    #[test]
    fn pdf_is_well_formed() {
        let (c, seal) = sample();
        let p = pdf(&c, &seal);
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
        assert!(p[xref_at..].starts_with(b"xref\n0 8\n"));
        let table = String::from_utf8_lossy(&p[xref_at..]).to_string();
        for (i, line) in table.lines().skip(3).take(7).enumerate() {
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
