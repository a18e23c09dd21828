//! A small flowing-layout writer for A4 reports on top of printpdf: headings, wrapped paragraphs
//! (Chinese and English line breaking from [`Font::wrap`]), tables, KPI cards, images, page
//! breaks and "page x of y" footers. The font is embedded as a subset by printpdf.

use crate::render::fonts::Font;
use printpdf::{
    Color, DictItem, ExternalStream, ExternalXObject, FontId, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Px, Rect, Rgb, TextItem, XObjectTransform,
};

/// A4 in points.
pub const PAGE: (f32, f32) = (595.28, 841.89);
/// Left/right margin.
pub const MARGIN_X: f32 = 54.0;
const MARGIN_TOP: f32 = 56.0;
const MARGIN_BOTTOM: f32 = 60.0;

/// Text width between the margins.
pub const WIDTH: f32 = PAGE.0 - 2.0 * MARGIN_X;

/// Colours used by the layout (the charts' palette, as PDF colours).
pub mod ink {
    /// Body text.
    pub const TEXT: (u8, u8, u8) = (35, 35, 35);
    /// Secondary text.
    pub const MUTED: (u8, u8, u8) = (100, 100, 100);
    /// Headings and accents (palette blue).
    pub const ACCENT: (u8, u8, u8) = (31, 59, 115);
    /// Table header and card backgrounds.
    pub const SHADE: (u8, u8, u8) = (236, 240, 247);
    /// Rules.
    pub const RULE: (u8, u8, u8) = (200, 200, 200);
}

fn color(c: (u8, u8, u8)) -> Color {
    Color::Rgb(Rgb::new(c.0 as f32 / 255.0, c.1 as f32 / 255.0, c.2 as f32 / 255.0, None))
}

/// Column alignment in [`Doc::table`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Left.
    Left,
    /// Right (numbers).
    Right,
}

/// The document being laid out.
pub struct Doc<'f> {
    font: &'f Font,
    font_id: FontId,
    doc: PdfDocument,
    pages: Vec<Vec<Op>>,
    ops: Vec<Op>,
    /// Current baseline position, from the bottom of the page.
    y: f32,
}

/// A PDF that could not be laid out (an unreadable font or chart image).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PdfError(pub String);

impl<'f> Doc<'f> {
    /// Starts an empty document titled `title`, using `font` for all text.
    pub fn new(font: &'f Font, title: &str) -> Result<Doc<'f>, PdfError> {
        let mut doc = PdfDocument::new(title);
        let parsed = ParsedFont::from_bytes(font.bytes, 0, &mut Vec::new())
            .ok_or_else(|| PdfError(format!("printpdf cannot read the font {}", font.path.display())))?;
        let font_id = doc.add_font(&parsed);
        doc.metadata.info.creator = "ecomm".into();
        doc.metadata.info.producer = format!("ecomm {}", env!("CARGO_PKG_VERSION"));
        Ok(Doc { font, font_id, doc, pages: Vec::new(), ops: Vec::new(), y: PAGE.1 - MARGIN_TOP })
    }

    /// Writes one line of text with its baseline at (`x`, `y`).
    pub fn text_at(&mut self, x: f32, y: f32, size: f32, ink: (u8, u8, u8), s: &str) {
        if s.is_empty() {
            return;
        }
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::External(self.font_id.clone()), size: Pt(size) },
            Op::SetFillColor { col: color(ink) },
            Op::SetTextCursor { pos: Point { x: Pt(x), y: Pt(y) } },
            Op::ShowText { items: vec![TextItem::Text(s.to_string())] },
            Op::EndTextSection,
        ]);
    }

    /// Fills a rectangle whose lower-left corner is (`x`, `y`).
    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, ink: (u8, u8, u8)) {
        self.ops.push(Op::SetFillColor { col: color(ink) });
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect { x: Pt(x), y: Pt(y), width: Pt(w), height: Pt(h), mode: Some(PaintMode::Fill), winding_order: None },
        });
    }

    /// Starts a new page.
    pub fn new_page(&mut self) {
        let ops = std::mem::take(&mut self.ops);
        self.pages.push(ops);
        self.y = PAGE.1 - MARGIN_TOP;
    }

    /// Space left on this page.
    pub fn room(&self) -> f32 {
        self.y - MARGIN_BOTTOM
    }

    /// Breaks the page unless `h` points are left.
    pub fn ensure(&mut self, h: f32) {
        if self.room() < h {
            self.new_page();
        }
    }

    /// Vertical space.
    pub fn space(&mut self, h: f32) {
        self.y -= h;
    }

    /// Width of `s` at `size`.
    pub fn width(&self, s: &str, size: f32) -> f32 {
        self.font.width(s, size)
    }

    /// A section heading (level 1) or sub-heading (level 2), wrapped, kept with the next ~80 pt.
    pub fn heading(&mut self, s: &str, level: u8) {
        let size = if level == 1 { 16.0 } else { 12.5 };
        let lines = self.font.wrap(s, size, WIDTH);
        self.ensure(size * 1.4 * lines.len() as f32 + 90.0);
        self.space(if level == 1 { 10.0 } else { 6.0 });
        let ink = if level == 1 { ink::ACCENT } else { ink::TEXT };
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                self.y -= size * 0.4;
            }
            self.y -= size;
            self.text_at(MARGIN_X, self.y, size, ink, line);
        }
        if level == 1 {
            self.rect(MARGIN_X, self.y - 6.0, WIDTH, 1.2, ink::ACCENT);
            self.y -= 14.0;
        } else {
            self.y -= 7.0;
        }
    }

    /// Height a [`Doc::paragraph`] of `s` would take.
    pub fn paragraph_height(&self, s: &str, size: f32) -> f32 {
        self.font.wrap(s, size, WIDTH).len() as f32 * size * 1.55 + size * 0.6
    }

    /// Height of an image `width` points wide.
    pub fn image_height(px: (u32, u32), width: f32) -> f32 {
        width * px.1 as f32 / px.0 as f32 + 6.0
    }

    /// A wrapped paragraph.
    pub fn paragraph(&mut self, s: &str, size: f32, ink: (u8, u8, u8)) {
        self.paragraph_at(MARGIN_X, WIDTH, s, size, ink);
        self.y -= size * 0.6;
    }

    fn paragraph_at(&mut self, x: f32, w: f32, s: &str, size: f32, ink: (u8, u8, u8)) {
        let lh = size * 1.55;
        for line in self.font.wrap(s, size, w) {
            self.ensure(lh);
            self.y -= lh;
            self.text_at(x, self.y + (lh - size) / 2.0, size, ink, &line);
        }
    }

    /// A bulleted, wrapped item.
    pub fn bullet(&mut self, s: &str, size: f32) {
        let lh = size * 1.55;
        self.ensure(lh);
        let top = self.y;
        self.text_at(MARGIN_X + 2.0, top - lh + (lh - size) / 2.0, size, ink::ACCENT, "•");
        self.paragraph_at(MARGIN_X + 14.0, WIDTH - 14.0, s, size, ink::TEXT);
        self.y -= size * 0.35;
    }

    /// A table with a shaded header row; `widths` are fractions of the text width. Cells wrap;
    /// the header repeats after a page break.
    pub fn table(&mut self, header: &[String], rows: &[Vec<String>], widths: &[f32], align: &[Align], size: f32) {
        let lh = size * 1.45;
        let pad = 4.0;
        let cols: Vec<f32> = widths.iter().map(|w| w * WIDTH).collect();
        let draw_row = |doc: &mut Doc, cells: &[String], shade: Option<(u8, u8, u8)>| {
            let wrapped: Vec<Vec<String>> = cells.iter().zip(&cols).map(|(c, w)| doc.font.wrap(c, size, w - 2.0 * pad)).collect();
            let n = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let h = n as f32 * lh + 2.0 * pad;
            if doc.room() < h {
                doc.new_page();
                return false;
            }
            if let Some(s) = shade {
                doc.rect(MARGIN_X, doc.y - h, WIDTH, h, s);
            }
            let mut x = MARGIN_X;
            for (i, lines) in wrapped.iter().enumerate() {
                for (j, line) in lines.iter().enumerate() {
                    let base = doc.y - pad - (j as f32 + 1.0) * lh + (lh - size) / 2.0 + size * 0.15;
                    let tx = if align.get(i) == Some(&Align::Right) { x + cols[i] - pad - doc.width(line, size) } else { x + pad };
                    doc.text_at(tx, base, size, ink::TEXT, line);
                }
                x += cols[i];
            }
            doc.y -= h;
            doc.rect(MARGIN_X, doc.y, WIDTH, 0.5, ink::RULE);
            true
        };
        self.ensure(lh * 3.0);
        draw_row(self, header, Some(ink::SHADE));
        for r in rows {
            if !draw_row(self, r, None) {
                draw_row(self, header, Some(ink::SHADE));
                draw_row(self, r, None);
            }
        }
        self.y -= size;
    }

    /// A grid of KPI cards, `per_row` to a row: (label, value).
    pub fn cards(&mut self, items: &[(String, String)], per_row: usize) {
        let gap = 8.0;
        let w = (WIDTH - gap * (per_row as f32 - 1.0)) / per_row as f32;
        let h = 54.0;
        for chunk in items.chunks(per_row) {
            self.ensure(h + gap);
            let top = self.y;
            for (i, (label, value)) in chunk.iter().enumerate() {
                let x = MARGIN_X + i as f32 * (w + gap);
                self.rect(x, top - h, w, h, ink::SHADE);
                self.rect(x, top - h, 3.0, h, ink::ACCENT);
                let label = self.font.wrap(label, 8.5, w - 14.0).into_iter().next().unwrap_or_default();
                self.text_at(x + 10.0, top - 17.0, 8.5, ink::MUTED, &label);
                self.text_at(x + 10.0, top - 42.0, 17.0, ink::ACCENT, value);
            }
            self.y = top - h - gap;
        }
        self.y -= 6.0;
    }

    /// A PNG image (8-bit RGB, as [`crate::render::chart::png`] writes) scaled to `width` points,
    /// centered. Its compressed pixel data is embedded as it is, with the PNG row filters declared
    /// to the reader (`/DecodeParms /Predictor 15`), so the PDF costs no second compression.
    pub fn image_png(&mut self, png: &[u8], width: f32) -> Result<(), PdfError> {
        let (px, idat) = png_rgb_idat(png)?;
        let h = width * px.1 as f32 / px.0 as f32;
        self.ensure(h + 6.0);
        let int = |v: u32| DictItem::Int(v as i64);
        let name = |v: &str| DictItem::Name(v.as_bytes().to_vec());
        let parms = std::collections::BTreeMap::from([
            ("Predictor".to_string(), DictItem::Int(15)),
            ("Colors".to_string(), DictItem::Int(3)),
            ("BitsPerComponent".to_string(), DictItem::Int(8)),
            ("Columns".to_string(), int(px.0)),
        ]);
        let dict = std::collections::BTreeMap::from([
            ("Type".to_string(), name("XObject")),
            ("Subtype".to_string(), name("Image")),
            ("Width".to_string(), int(px.0)),
            ("Height".to_string(), int(px.1)),
            ("BitsPerComponent".to_string(), DictItem::Int(8)),
            ("ColorSpace".to_string(), name("DeviceRGB")),
            ("Filter".to_string(), name("FlateDecode")),
            ("DecodeParms".to_string(), DictItem::Dict { map: parms }),
        ]);
        let id = self.doc.add_xobject(&ExternalXObject {
            stream: ExternalStream { dict, content: idat, compress: false },
            width: Some(Px(px.0 as usize)),
            height: Some(Px(px.1 as usize)),
            dpi: None,
        });
        self.y -= h;
        self.ops.push(Op::UseXobject {
            id,
            transform: XObjectTransform {
                translate_x: Some(Pt(MARGIN_X + (WIDTH - width) / 2.0)),
                translate_y: Some(Pt(self.y)),
                dpi: Some(px.0 as f32 * 72.0 / width),
                ..Default::default()
            },
        });
        self.y -= 6.0;
        Ok(())
    }

    /// Moves the cursor to `y` (from the bottom of the page).
    pub fn set_y(&mut self, y: f32) {
        self.y = y;
    }

    /// Current cursor position (from the bottom of the page).
    pub fn y(&self) -> f32 {
        self.y
    }

    /// Finishes the layout: `footer(page, pages)` is written at the bottom of every page but the
    /// first (the cover). Returns the PDF bytes (font subset, streams compressed) and the number
    /// of pages.
    pub fn finish(mut self, footer: &dyn Fn(usize, usize) -> String) -> (Vec<u8>, usize) {
        self.new_page();
        let n = self.pages.len();
        let pages: Vec<PdfPage> = std::mem::take(&mut self.pages)
            .into_iter()
            .enumerate()
            .map(|(i, mut ops)| {
                if i > 0 {
                    let s = footer(i + 1, n);
                    let w = self.font.width(&s, 8.5);
                    let mut tmp = std::mem::take(&mut self.ops);
                    self.rect(MARGIN_X, 40.0, WIDTH, 0.5, ink::RULE);
                    self.text_at((PAGE.0 - w) / 2.0, 28.0, 8.5, ink::MUTED, &s);
                    ops.append(&mut self.ops);
                    std::mem::swap(&mut self.ops, &mut tmp);
                }
                PdfPage::new(Pt(PAGE.0).into(), Pt(PAGE.1).into(), ops)
            })
            .collect();
        let opts = PdfSaveOptions { subset_fonts: true, optimize: true, ..Default::default() };
        let mut warnings = Vec::new();
        let bytes = self.doc.with_pages(pages).save(&opts, &mut warnings);
        if std::env::var_os("ECOMM_TRACE").is_some() {
            for w in warnings {
                eprintln!("pdf: {w:?}");
            }
        }
        (bytes, n)
    }
}

/// Size and concatenated `IDAT` data (one zlib stream) of a non-interlaced 8-bit RGB PNG.
fn png_rgb_idat(png: &[u8]) -> Result<((u32, u32), Vec<u8>), PdfError> {
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    let bad = |why: &str| PdfError(format!("chart image is not a PNG the PDF can embed ({why})"));
    if !png.starts_with(SIG) {
        return Err(bad("no PNG signature"));
    }
    let (mut pos, mut size, mut idat) = (SIG.len(), None, Vec::new());
    while pos + 12 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let kind = &png[pos + 4..pos + 8];
        let data = png.get(pos + 8..pos + 8 + len).ok_or_else(|| bad("truncated chunk"))?;
        match kind {
            b"IHDR" => {
                if len != 13 || data[8] != 8 || data[9] != 2 || data[12] != 0 {
                    return Err(bad("not 8-bit RGB, non-interlaced"));
                }
                let w = u32::from_be_bytes(data[0..4].try_into().expect("4 bytes"));
                let h = u32::from_be_bytes(data[4..8].try_into().expect("4 bytes"));
                size = Some((w, h));
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    match size {
        Some(s) if !idat.is_empty() => Ok((s, idat)),
        _ => Err(bad("no IHDR or IDAT")),
    }
}

#[cfg(test)]
mod tests {
    use super::png_rgb_idat;

    #[test]
    fn png_data_is_taken_only_from_8_bit_rgb() {
        let rgb =
            crate::render::chart::png(&vec![200u8; (crate::render::chart::PNG_SIZE.0 * crate::render::chart::PNG_SIZE.1 * 3) as usize])
                .unwrap();
        let (size, idat) = png_rgb_idat(&rgb).unwrap();
        assert_eq!(size, crate::render::chart::PNG_SIZE);
        assert_eq!(idat[0] & 0x0f, 8, "a zlib stream (deflate)");
        assert!(png_rgb_idat(b"GIF89a").unwrap_err().0.contains("no PNG signature"));
        let mut gray = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut gray, 2, 2);
            enc.set_color(png::ColorType::Grayscale);
            enc.write_header().unwrap().write_image_data(&[0, 1, 2, 3]).unwrap();
        }
        assert!(png_rgb_idat(&gray).unwrap_err().0.contains("not 8-bit RGB"));
        assert!(png_rgb_idat(&rgb[..40]).is_err(), "truncated");
    }
}
