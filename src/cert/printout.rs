//! The PDF certificate: one page laid out like the NIST SP 800-88 sample, first as a list of
//! things to draw (pure, and what the tests look at), then drawn by `krilla` with the fonts of
//! [`super::fonts`], so that every character a certificate holds is printed (or, where no
//! font on the machine has it, named on the page).
//!
//! Why `krilla`: it is the PDF writer the Typst typesetter is built on, kept by its authors;
//! it embeds TrueType fonts subset to the glyphs used, with the ToUnicode maps that let a
//! reader (and `pdftotext`) copy the text back, which our own Latin-1 writer could not do.

use super::fonts::{Face, Fonts};
use super::render::{pen_room, sections, Seal, Section, PRODUCER};
use super::Certificate;

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
    pub fn points(self) -> (f32, f32) {
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

/// An RGB colour, each part 0 to 1.
pub type Rgb = (f32, f32, f32);

const BLACK: Rgb = (0.0, 0.0, 0.0);

/// One thing drawn on the page. Coordinates are PDF points from the bottom left.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Text from its baseline's left end.
    Text {
        face: Face,
        size: f32,
        x: f32,
        y: f32,
        text: String,
        color: Rgb,
    },
    /// A filled grey rectangle (a section's title band).
    Band { x: f32, y: f32, w: f32, h: f32 },
    /// A horizontal line: `ink` true for a line to sign on, false for a light rule.
    Rule { x1: f32, x2: f32, y: f32, ink: bool },
    /// Text across the page, over everything: a printout that cannot pass for a checked one.
    Mark { text: String, size: f32 },
}

/// A page to draw.
#[derive(Debug)]
pub struct Page {
    pub width: f32,
    pub height: f32,
    pub items: Vec<Item>,
}

impl Page {
    /// The texts drawn, in order.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|i| match i {
            Item::Text { text, .. } | Item::Mark { text, .. } => Some(text.as_str()),
            _ => None,
        })
    }

    /// The baseline of the first text line containing `needle`.
    pub fn y_of(&self, needle: &str) -> Option<f32> {
        self.items.iter().find_map(|i| match i {
            Item::Text { text, y, .. } if text.contains(needle) => Some(*y),
            _ => None,
        })
    }
}

/// A drawn PDF and the characters it could not print.
pub struct Printout {
    pub bytes: Vec<u8>,
    /// Characters no font on this machine has: drawn as a box, and named at the page's foot.
    pub unprinted: Vec<char>,
}

// Where things go: the labels' column, the values' column, the page's margins.
const LEFT: f32 = 40.0;
const VALUES: f32 = 175.0;
const MARGIN: f32 = 36.0;
const HEADER_SIZE: f32 = 7.0;
const VALUE_SIZE: f32 = 6.5;

/// Greedy word wrap: lines no wider than `max` by `width` of each character; a word wider
/// than a line is cut.
fn wrap(s: &str, max: f32, width: &dyn Fn(char) -> f32) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut used = 0.0_f32;
    let space = width(' ');
    for word in s.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let line = lines.last_mut().expect("never empty");
            let w: f32 = word.iter().map(|&c| width(c)).sum();
            let sep = if line.is_empty() { 0.0 } else { space };
            if used + sep + w <= max + 1e-3 {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.extend(word.iter());
                used += sep + w;
                break;
            }
            if !line.is_empty() {
                lines.push(String::new());
                used = 0.0;
                continue;
            }
            // Longer than a line: as much as fits (at least one character) on this one.
            let mut fit = 0;
            let mut acc = 0.0;
            while fit < word.len() && (fit == 0 || acc + width(word[fit]) <= max + 1e-3) {
                acc += width(word[fit]);
                fit += 1;
            }
            let rest = word.split_off(fit);
            line.extend(word.iter());
            word = rest;
            lines.push(String::new());
            used = 0.0;
        }
    }
    lines
}

/// Lays out and draws the page.
struct Layout<'a> {
    fonts: &'a Fonts,
    width: f32,
}

impl Layout<'_> {
    fn wrap(&self, face: Face, size: f32, s: &str, max: f32) -> Vec<String> {
        let fonts = self.fonts;
        wrap(s, max, &|ch| {
            fonts.width(face, size, ch.encode_utf8(&mut [0; 4]))
        })
    }

    /// The header lines: the reasons (the first, decisive one always whole) and the
    /// recommendation, cut to `max` lines with a "+N more" line saying where the rest is.
    fn header(&self, c: &Certificate, max: usize) -> Vec<String> {
        let room = self.width - LEFT - MARGIN;
        let mut lines: Vec<String> = Vec::new();
        let mut shown = 0;
        for (i, r) in c.reasons.iter().enumerate() {
            let wrapped = self.wrap(Face::Regular, HEADER_SIZE, &crate::term::escape(r), room);
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
            let r = format!("RECOMMENDATION: {}", crate::term::escape(&c.recommendation));
            lines.extend(self.wrap(Face::Regular, HEADER_SIZE, &r, room));
        }
        lines
    }

    /// The value lines of one field, at most `max` of them; a cut value says so.
    fn value(&self, v: &str, max: usize) -> Vec<String> {
        let room = self.width - VALUES - MARGIN;
        let mut lines = self.wrap(Face::Mono, VALUE_SIZE, v, room);
        if lines.len() > max {
            let more = lines.len() - max + 1;
            lines.truncate(max.saturating_sub(1));
            lines.push(format!("... (+{more} line(s): see the certificate file)"));
        }
        lines
    }

    /// Height the body needs with `field_max` lines per field and `head` header lines.
    fn height(&self, head: usize, sections: &[Section], field_max: usize) -> f32 {
        let mut y = 26.0 + 8.5 * head as f32;
        for s in sections {
            y += 17.0;
            for (k, v) in &s.fields {
                y += 8.0 * self.value(v, field_max).len() as f32 + pen_room(s.title, k, v);
            }
        }
        y
    }
}

/// The page of a certificate on `paper`. Long values are cut (saying so) so that everything,
/// the validation block with room to sign included, fits on the page.
pub fn layout(c: &Certificate, seal: &Seal, paper: Paper, fonts: &Fonts) -> Page {
    let (w, h) = paper.points();
    let l = Layout { fonts, width: w };
    let secs: Vec<Section> = sections(c, seal).into_iter().skip(1).collect();
    // The body runs from 50 pt under the top to a 30 pt bottom margin: cut the longest
    // values first, then the header, until it fits.
    let room = h - 50.0 - 30.0;
    let (mut head_max, mut field_max) = (12, 5);
    while l.height(l.header(c, head_max).len(), &secs, field_max) > room {
        if field_max > 1 {
            field_max -= 1;
        } else if head_max > 1 {
            head_max -= 1;
        } else {
            break;
        }
    }
    let mut items = Vec::new();
    let text = |face, size, x, y, s: &str, color| Item::Text {
        face,
        size,
        x,
        y,
        text: s.to_string(),
        color,
    };
    let mut y = h - 50.0;
    items.push(text(
        Face::Bold,
        16.0,
        LEFT,
        y,
        "Certificate of Sanitization",
        BLACK,
    ));
    items.push(text(
        Face::Regular,
        8.0,
        LEFT,
        y - 12.0,
        &format!("NIST SP 800-88 Rev. 2  -  certificate {}", c.id),
        BLACK,
    ));
    let colour = if c.result == super::Verdict::Pass {
        (0.04, 0.42, 0.18)
    } else {
        (0.64, 0.09, 0.10)
    };
    let size = 28.0;
    let result_x = w - MARGIN - fonts.width(Face::Bold, size, c.result.name());
    items.push(text(
        Face::Bold,
        size,
        result_x,
        y - 8.0,
        c.result.name(),
        colour,
    ));
    y -= 26.0;
    for line in l.header(c, head_max) {
        items.push(text(Face::Regular, HEADER_SIZE, LEFT, y, &line, BLACK));
        y -= 8.5;
    }
    for s in secs {
        y -= 6.0;
        items.push(Item::Band {
            x: MARGIN,
            y: y - 3.0,
            w: w - 2.0 * MARGIN,
            h: 11.0,
        });
        items.push(text(Face::Bold, 8.5, LEFT, y, s.title, BLACK));
        y -= 11.0;
        for (k, v) in s.fields {
            items.push(text(Face::Regular, HEADER_SIZE, LEFT, y, k, BLACK));
            let room = pen_room(s.title, k, &v);
            if room > 0.0 {
                // Nothing printed: a line to sign or date on.
                y -= room;
                items.push(Item::Rule {
                    x1: VALUES,
                    x2: w - 60.0,
                    y: y + 8.0,
                    ink: true,
                });
                y -= 8.0;
            } else {
                for line in l.value(&v, field_max) {
                    items.push(text(Face::Mono, VALUE_SIZE, VALUES, y, &line, BLACK));
                    y -= 8.0;
                }
            }
            items.push(Item::Rule {
                x1: MARGIN,
                x2: w - MARGIN,
                y: y + 5.5,
                ink: false,
            });
        }
    }
    if let Some(m) = &seal.mark {
        items.push(Item::Mark {
            text: m.clone(),
            size: 34.0,
        });
    }
    Page {
        width: w,
        height: h,
        items,
    }
}

/// The certificate drawn as a one-page PDF on `paper`.
pub fn pdf(c: &Certificate, seal: &Seal, paper: Paper) -> anyhow::Result<Printout> {
    let mut fonts = Fonts::new();
    let page = layout(c, seal, paper, &fonts);
    let title = format!("Certificate of Sanitization {}", c.id);
    draw(&page, &mut fonts, &title)
}

/// Characters as `U+XXXX`, the first twelve, then how many more (a line's worth at most).
pub fn code_points(chars: &[char]) -> String {
    let mut out: Vec<String> = chars
        .iter()
        .take(12)
        .map(|c| format!("U+{:04X}", *c as u32))
        .collect();
    if chars.len() > 12 {
        out.push(format!("and {} more", chars.len() - 12));
    }
    out.join(" ")
}

fn fill((r, g, b): Rgb) -> krilla::paint::Fill {
    let byte = |v: f32| (v * 255.0).round().clamp(0.0, 255.0) as u8;
    krilla::paint::Fill {
        paint: krilla::color::rgb::Color::new(byte(r), byte(g), byte(b)).into(),
        ..Default::default()
    }
}

/// Draws `text` with its baseline's left end at (`x`, `y`) (krilla's y runs down the page).
fn draw_text(
    surface: &mut krilla::surface::Surface<'_>,
    fonts: &mut Fonts,
    (face, size): (Face, f32),
    (x, y): (f32, f32),
    text: &str,
) {
    let mut x = x;
    for run in fonts.runs(face, text) {
        let glyphs: Vec<krilla::text::KrillaGlyph> = run
            .glyphs
            .iter()
            .map(|(gid, advance, range)| {
                let id = krilla::text::GlyphId::new(*gid);
                krilla::text::KrillaGlyph::new(id, *advance, 0.0, 0.0, 0.0, range.clone(), None)
            })
            .collect();
        let start = krilla::geom::Point::from_xy(x, y);
        surface.draw_glyphs(
            start,
            &glyphs,
            run.program.pdf.clone(),
            &run.text,
            size,
            false,
        );
        x += run.glyphs.iter().map(|g| g.1).sum::<f32>() * size;
    }
}

fn draw(page: &Page, fonts: &mut Fonts, title: &str) -> anyhow::Result<Printout> {
    use krilla::geom::{PathBuilder, Rect, Transform};
    let (w, h) = (page.width, page.height);
    let mut doc = krilla::Document::new();
    doc.set_metadata(
        krilla::metadata::Metadata::new()
            .producer(PRODUCER.to_string())
            .title(title.to_string()),
    );
    let settings = krilla::page::PageSettings::from_wh(w, h)
        .ok_or_else(|| anyhow::anyhow!("a page of {w} x {h} points cannot be drawn"))?;
    let mut pdf_page = doc.start_page_with(settings);
    let mut surface = pdf_page.surface();
    for item in &page.items {
        match item {
            Item::Text {
                face,
                size,
                x,
                y,
                text,
                color,
            } => {
                surface.set_fill(Some(fill(*color)));
                surface.set_stroke(None);
                draw_text(&mut surface, fonts, (*face, *size), (*x, h - y), text);
            }
            Item::Band { x, y, w, h: bh } => {
                let mut p = PathBuilder::new();
                if let Some(r) = Rect::from_xywh(*x, h - y - bh, *w, *bh) {
                    p.push_rect(r);
                }
                if let Some(path) = p.finish() {
                    surface.set_fill(Some(fill((0.9, 0.9, 0.9))));
                    surface.set_stroke(None);
                    surface.draw_path(&path);
                }
            }
            Item::Rule { x1, x2, y, ink } => {
                let mut p = PathBuilder::new();
                p.move_to(*x1, h - y);
                p.line_to(*x2, h - y);
                if let Some(path) = p.finish() {
                    let (grey, width) = if *ink { (0.0, 0.5) } else { (0.8, 0.3) };
                    surface.set_fill(None);
                    surface.set_stroke(Some(krilla::paint::Stroke {
                        paint: fill((grey, grey, grey)).paint,
                        width,
                        ..Default::default()
                    }));
                    surface.draw_path(&path);
                }
            }
            Item::Mark { text, size } => {
                // Centred, rising at 35 degrees (y runs down: the sine's signs are turned).
                let width = fonts.width(Face::Bold, *size, text);
                let (cos, sin) = (35f32.to_radians().cos(), 35f32.to_radians().sin());
                let turn = Transform::from_row(cos, -sin, sin, cos, w / 2.0, h / 2.0);
                surface.push_transform(&turn);
                surface.set_fill(Some(fill((0.64, 0.09, 0.10))));
                surface.set_stroke(None);
                draw_text(
                    &mut surface,
                    fonts,
                    (Face::Bold, *size),
                    (-width / 2.0, size * 0.35),
                    text,
                );
                surface.pop();
            }
        }
    }
    let unprinted: Vec<char> = fonts.unprinted.iter().copied().collect();
    if !unprinted.is_empty() {
        let note = format!(
            "Printed as boxes (no font on this machine has them): {}. The certificate file holds them; its HTML rendering shows them.",
            code_points(&unprinted)
        );
        surface.set_fill(Some(fill(BLACK)));
        draw_text(
            &mut surface,
            fonts,
            (Face::Regular, 6.0),
            (LEFT, h - 16.0),
            &note,
        );
    }
    surface.finish();
    pdf_page.finish();
    let bytes = doc
        .finish()
        .map_err(|e| anyhow::anyhow!("cannot draw the PDF: {e:?}"))?;
    Ok(Printout { bytes, unprinted })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::render::tests::sample;

    fn page(c: &Certificate, seal: &Seal, paper: Paper) -> Page {
        layout(c, seal, paper, &Fonts::new())
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
        let p = page(&c, &seal, Paper::Letter);
        for needle in [
            "SHA256:xyz",
            "Signing key fingerprint",
            "Validation",
            "Date",
        ] {
            let y = p.y_of(needle).expect(needle);
            assert!(y >= 30.0, "{needle} at y = {y}: off the page");
        }
        let all: Vec<&str> = p.texts().collect();
        // The decisive (first) reason is whole; the rest are counted, not dropped silently.
        assert!(all.contains(&"pass 1: write failed at offset 0 (512 bytes): EIO"));
        assert!(all
            .iter()
            .any(|t| t.contains("more reason(s): see the certificate file")));
        assert!(all
            .iter()
            .any(|t| t.contains("line(s): see the certificate file")));
    }

    #[test]
    fn every_line_fits_between_the_margins_whatever_the_script() {
        let (mut c, seal) = sample();
        let fonts = Fonts::new();
        c.operator.name = "Łukasz Żółć ".repeat(20);
        c.operator.location = "Москва, склад 7 ".repeat(20);
        c.media.identity.model = "日本語のモデル名".repeat(30);
        for paper in [Paper::A4, Paper::Letter] {
            let p = layout(&c, &seal, paper, &fonts);
            for item in &p.items {
                if let Item::Text {
                    face,
                    size,
                    x,
                    text,
                    ..
                } = item
                {
                    let right = x + fonts.width(*face, *size, text);
                    assert!(right <= p.width - MARGIN + 0.5, "{text:?} ends at {right}");
                }
            }
            assert!(p.texts().any(|t| t.starts_with("Łukasz Żółć")));
            assert!(p.texts().any(|t| t.starts_with("日本語のモデル名")));
        }
    }

    #[test]
    fn device_strings_reach_the_page_escaped() {
        let (mut c, seal) = sample();
        c.media.identity.model = "X\nRESULT: PASS\x1b[2J\u{202e}".into();
        let p = page(&c, &seal, Paper::A4);
        assert!(p.texts().all(|t| !t.chars().any(crate::term::is_unsafe)));
        assert!(p
            .texts()
            .any(|t| t.contains("X\\nRESULT: PASS\\x1b[2J\\u{202e}")));
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
        for paper in [Paper::A4, Paper::Letter] {
            let p = page(&c, &seal, paper);
            assert_eq!((p.width, p.height), paper.points());
            // The validation block's Signature and Date are blank lines to write on.
            let signing = p
                .items
                .iter()
                .filter(|i| matches!(i, Item::Rule { ink: true, x1, .. } if *x1 == VALUES))
                .count();
            assert_eq!(signing, 2, "{paper:?}");
            assert!(p.y_of("Signature").is_some() && p.y_of("Date").is_some());
        }
    }

    #[test]
    fn wraps_at_spaces_and_cuts_only_long_words() {
        let one = |_: char| 1.0;
        assert_eq!(
            wrap("the quick brown fox", 10.0, &one),
            vec!["the quick", "brown fox"]
        );
        assert_eq!(
            wrap("abcdefghijkl xy", 5.0, &one),
            vec!["abcde", "fghij", "kl xy"]
        );
        assert_eq!(wrap("", 5.0, &one), vec![""]);
        // Wide characters take their width: two per line of four.
        let wide = |c: char| if c.is_ascii() { 1.0 } else { 2.0 };
        assert_eq!(wrap("日本語", 4.0, &wide), vec!["日本", "語"]);
    }

    #[test]
    fn an_unchecked_rendering_is_marked_and_known_as_ours() {
        let (c, mut seal) = sample();
        let p = pdf(&c, &seal, Paper::A4).unwrap();
        assert!(super::super::render::is_ours(&p.bytes));
        assert!(!page(&c, &seal, Paper::A4)
            .items
            .iter()
            .any(|i| matches!(i, Item::Mark { .. })));
        seal.mark = Some("SIGNATURE NOT CHECKED".into());
        let marked = page(&c, &seal, Paper::Letter);
        assert!(marked
            .items
            .iter()
            .any(|i| matches!(i, Item::Mark { text, .. } if text == "SIGNATURE NOT CHECKED")));
        // Drawn last, over everything.
        assert!(matches!(marked.items.last(), Some(Item::Mark { .. })));
    }

    #[test]
    fn the_pdf_is_one_page_of_the_paper_asked_for_and_names_what_it_could_not_print() {
        let (mut c, seal) = sample();
        let p = pdf(&c, &seal, Paper::A4).unwrap();
        assert!(p.bytes.starts_with(b"%PDF-") && p.unprinted.is_empty());
        let text = String::from_utf8_lossy(&p.bytes);
        assert!(text.contains("/MediaBox [0 0 595.28 841.89]"), "A4");
        // U+0378 is unassigned: no font has it, so it is named, never silently a '?'.
        c.operator.name = "J\u{378}rg".into();
        let p = pdf(&c, &seal, Paper::Letter).unwrap();
        assert_eq!(p.unprinted, vec!['\u{378}']);
        // However many there are, the note stays one line.
        let many: Vec<char> = (0xE0080..0xE00A8).filter_map(char::from_u32).collect();
        assert_eq!(
            code_points(&many),
            "U+E0080 U+E0081 U+E0082 U+E0083 U+E0084 U+E0085 U+E0086 U+E0087 U+E0088 U+E0089 \
             U+E008A U+E008B and 28 more"
        );
    }
}
