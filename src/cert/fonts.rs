//! The fonts a printout is drawn with: DejaVu Sans, Sans Bold and Sans Mono, compiled into
//! the binary (Latin with every European diacritic, Greek, Cyrillic and more), so that a
//! printout never depends on what a ramdisk has; and, for characters they lack (Chinese,
//! Japanese, Korean, for one), the first font installed on this machine that has them. What
//! no font has is drawn as the font's empty box and named on the page by the caller.
//!
//! The only I/O here is reading installed fonts, and only when the embedded ones lack a
//! character.

use std::sync::Arc;

use skrifa::instance::{LocationRef, Size};
use skrifa::MetadataProvider;

static SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static SANS_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
static SANS_MONO: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");

/// The three faces a printout uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Face {
    Regular,
    Bold,
    Mono,
}

/// One font program: its bytes, its index in a collection, and the font for the PDF.
#[derive(Clone)]
pub struct Program {
    data: Arc<dyn AsRef<[u8]> + Send + Sync>,
    index: u32,
    pub pdf: krilla::text::Font,
}

impl Program {
    fn new(data: Arc<dyn AsRef<[u8]> + Send + Sync>, index: u32) -> Option<Program> {
        // skrifa must read it too (character map, advances), not only the PDF writer.
        skrifa::FontRef::from_index((*data).as_ref(), index).ok()?;
        let pdf = krilla::text::Font::new(data.clone().into(), index)?;
        Some(Program { data, index, pdf })
    }

    fn embedded(bytes: &'static [u8]) -> Program {
        Program::new(Arc::new(bytes), 0).expect("the embedded DejaVu fonts are valid")
    }

    fn font(&self) -> skrifa::FontRef<'_> {
        skrifa::FontRef::from_index((*self.data).as_ref(), self.index).expect("checked when loaded")
    }

    /// The glyph of `ch`, if this font has one.
    pub fn glyph(&self, ch: char) -> Option<u32> {
        self.font().charmap().map(ch).map(|g| g.to_u32())
    }

    /// The advance of glyph `gid`, in ems.
    pub fn advance(&self, gid: u32) -> f32 {
        self.font()
            .glyph_metrics(Size::new(1.0), LocationRef::default())
            .advance_width(skrifa::GlyphId::new(gid))
            .unwrap_or(0.0)
    }
}

/// A stretch of text one program draws: `glyphs` are (glyph, advance in ems, byte range of
/// the character in `text`); glyph 0 (the empty box) where no font has the character.
pub struct Run {
    pub program: Program,
    pub text: String,
    pub glyphs: Vec<(u32, f32, std::ops::Range<usize>)>,
}

/// The embedded faces and, found when first needed, installed fonts for what they lack.
pub struct Fonts {
    regular: Program,
    bold: Program,
    mono: Program,
    /// Installed fonts: what is on the machine (read once, when first needed), and those
    /// found useful, in that order.
    installed: Option<fontdb::Database>,
    fallback: Vec<Program>,
    /// Characters no font has: drawn as a box, and named by the caller.
    pub unprinted: std::collections::BTreeSet<char>,
}

impl Default for Fonts {
    fn default() -> Self {
        Fonts::new()
    }
}

impl Fonts {
    pub fn new() -> Fonts {
        Fonts {
            regular: Program::embedded(SANS),
            bold: Program::embedded(SANS_BOLD),
            mono: Program::embedded(SANS_MONO),
            installed: None,
            fallback: Vec::new(),
            unprinted: Default::default(),
        }
    }

    fn embedded(&self, face: Face) -> &Program {
        match face {
            Face::Regular => &self.regular,
            Face::Bold => &self.bold,
            Face::Mono => &self.mono,
        }
    }

    /// The width of `text` in `face` at `size` points, as the layout reckons it: a character
    /// the embedded face lacks counts one em (CJK ideographs and kana are one em wide).
    pub fn width(&self, face: Face, size: f32, text: &str) -> f32 {
        let p = self.embedded(face);
        text.chars()
            .map(|ch| p.glyph(ch).map(|g| p.advance(g)).unwrap_or(1.0))
            .sum::<f32>()
            * size
    }

    /// `text` cut into runs, each drawn by one program: the embedded face where it has the
    /// character, else the first installed font that has it, else the embedded face's box.
    pub fn runs(&mut self, face: Face, text: &str) -> Vec<Run> {
        let mut runs: Vec<Run> = Vec::new();
        for ch in text.chars() {
            let (program, gid) = self.program_for(face, ch);
            let same = runs
                .last()
                .is_some_and(|r| Arc::ptr_eq(&r.program.data, &program.data));
            if !same {
                runs.push(Run {
                    program: program.clone(),
                    text: String::new(),
                    glyphs: Vec::new(),
                });
            }
            let run = runs.last_mut().expect("pushed above");
            let start = run.text.len();
            run.text.push(ch);
            let advance = program.advance(gid);
            run.glyphs
                .push((gid, advance, start..start + ch.len_utf8()));
        }
        runs
    }

    fn program_for(&mut self, face: Face, ch: char) -> (Program, u32) {
        let own = self.embedded(face);
        if let Some(g) = own.glyph(ch) {
            return (own.clone(), g);
        }
        // A character already known to have no font is not looked for again.
        if !ch.is_control() && !ch.is_whitespace() && !self.unprinted.contains(&ch) {
            if let Some(p) = self.fallback.iter().find(|p| p.glyph(ch).is_some()) {
                let g = p.glyph(ch).expect("just found");
                return (p.clone(), g);
            }
            let db = self.installed.get_or_insert_with(|| {
                let mut db = fontdb::Database::new();
                db.load_system_fonts();
                db
            });
            if let Some(p) = installed_font_with(db, ch) {
                let g = p.glyph(ch).expect("chosen for it");
                self.fallback.push(p.clone());
                return (p, g);
            }
        }
        self.unprinted.insert(ch);
        (self.embedded(face).clone(), 0)
    }
}

/// The first font installed on this machine (`db`: fontconfig's directories, else the usual
/// ones) with a glyph for `ch`, regular faces first.
fn installed_font_with(db: &fontdb::Database, ch: char) -> Option<Program> {
    let mut faces: Vec<&fontdb::FaceInfo> = db.faces().collect();
    // Regular, upright faces first; then by path, for a choice that does not change between
    // runs on the same machine.
    faces.sort_by_key(|f| {
        let path = match &f.source {
            fontdb::Source::File(p) | fontdb::Source::SharedFile(p, _) => p.clone(),
            fontdb::Source::Binary(_) => Default::default(),
        };
        (
            f.weight != fontdb::Weight::NORMAL,
            f.style != fontdb::Style::Normal,
            path,
            f.index,
        )
    });
    faces.into_iter().find_map(|f| {
        db.with_face_data(f.id, |data, index| {
            let font = skrifa::FontRef::from_index(data, index).ok()?;
            font.charmap().map(ch)?;
            Program::new(Arc::new(data.to_vec()), index)
        })
        .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_faces_print_european_scripts_and_measure_them() {
        let mut fonts = Fonts::new();
        for face in [Face::Regular, Face::Bold, Face::Mono] {
            let runs = fonts.runs(face, "Łukasz Żółć, Москва, Αθήνα");
            assert_eq!(runs.len(), 1, "{face:?}: one embedded run");
            assert!(runs[0].glyphs.iter().all(|(g, a, _)| *g != 0 && *a > 0.0));
        }
        assert!(fonts.unprinted.is_empty());
        // Mono: every character the same width; the proportional face's 'i' narrower than 'W'.
        let m = |s: &str| fonts.width(Face::Mono, 10.0, s);
        assert!((m("iiii") - m("WWWW")).abs() < 0.01);
        let r = |s: &str| fonts.width(Face::Regular, 10.0, s);
        assert!(r("iiii") < r("WWWW"));
        // A character outside the embedded faces counts one em.
        assert!((fonts.width(Face::Mono, 10.0, "\u{65e5}") - 10.0).abs() < 0.01);
    }

    #[test]
    fn a_character_no_font_has_is_a_box_and_is_named() {
        let mut fonts = Fonts::new();
        // U+0378 is unassigned: no font anywhere has it.
        let runs = fonts.runs(Face::Regular, "a\u{378}b");
        let glyphs: Vec<u32> = runs
            .iter()
            .flat_map(|r| r.glyphs.iter().map(|g| g.0))
            .collect();
        assert_eq!(glyphs.len(), 3);
        assert_eq!(glyphs[1], 0, "the box");
        assert!(glyphs[0] != 0 && glyphs[2] != 0);
        assert_eq!(fonts.unprinted.iter().collect::<Vec<_>>(), vec![&'\u{378}']);
        // Byte ranges point into each run's own text.
        for r in &runs {
            for (_, _, range) in &r.glyphs {
                assert!(r.text.get(range.clone()).is_some());
            }
        }
    }
}
