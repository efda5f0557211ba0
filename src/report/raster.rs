//! The chart as a PNG, for the email: Gmail (web and apps) and Outlook desktop do not render inline `<svg>`, so the
//! email carries the report's own SVG rasterised here with resvg, and its HTML shows it through an `<img>`. The HTML
//! file keeps the inline SVG.
//!
//! Text is drawn with one font embedded in the binary, Liberation Sans (SIL Open Font License 1.1,
//! `assets/fonts/`), and no system font is looked up: a server or a container may have none, and the same report
//! must give the same PNG bytes on any machine. Liberation Sans has the metrics of Arial and Helvetica, the
//! families the SVG names for browsers, so the picture is laid out as a browser lays out the SVG. Pure: SVG text
//! in, PNG bytes out.

use std::sync::Arc;

use resvg::{tiny_skia, usvg};

/// Liberation Sans Regular 2.1.5, from Debian's `fonts-liberation2` (licence beside it).
const FONT: &[u8] = include_bytes!("../../assets/fonts/LiberationSans-Regular.ttf");
/// The family name inside [`FONT`]; every family the SVG asks for (`Helvetica, Arial, sans-serif`) resolves to it.
const FONT_FAMILY: &str = "Liberation Sans";

/// Device pixels per CSS pixel: the PNG is drawn at twice the size it is shown, so it stays sharp on high-density
/// screens and when zoomed.
pub const SCALE: u32 = 2;

/// The background the chart is drawn on. Opaque, so a client in dark mode does not put the chart's dark text on a
/// dark background (the report's card is white).
const BACKGROUND: tiny_skia::Color = tiny_skia::Color::WHITE;

/// Why a chart could not be drawn as PNG.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the chart's SVG")]
    Svg(#[source] usvg::Error),
    #[error("cannot draw the chart at {width}x{height} pixels")]
    Canvas { width: u32, height: u32 },
    #[error("cannot encode the chart as PNG")]
    Png(#[source] png::EncodingError),
}

/// `svg`, whose size is `width` x `height` CSS pixels, as PNG bytes of `width * SCALE` x `height * SCALE` pixels on
/// a white background. The same SVG always gives the same bytes.
pub fn svg_to_png(svg: &str, width: u32, height: u32) -> Result<Vec<u8>, Error> {
    let (pw, ph) = (width.saturating_mul(SCALE), height.saturating_mul(SCALE));
    let tree = usvg::Tree::from_str(svg, &options()).map_err(Error::Svg)?;
    let mut pixmap = tiny_skia::Pixmap::new(pw, ph).ok_or(Error::Canvas { width: pw, height: ph })?;
    pixmap.fill(BACKGROUND);
    // Scale the SVG's own size onto the canvas (equal to SCALE when the SVG is `width` x `height`).
    let size = tree.size();
    let transform = tiny_skia::Transform::from_scale(pw as f32 / size.width(), ph as f32 / size.height());
    resvg::render(&tree, transform, &mut pixmap.as_mut());
    pixmap.encode_png().map_err(Error::Png)
}

/// Parsing options with the embedded font as the only font and the default for every generic family.
fn options() -> usvg::Options<'static> {
    let mut db = usvg::fontdb::Database::new();
    db.load_font_source(usvg::fontdb::Source::Binary(Arc::new(FONT)));
    db.set_sans_serif_family(FONT_FAMILY);
    // usvg falls back to the serif family when no named family matches.
    db.set_serif_family(FONT_FAMILY);
    usvg::Options { font_family: FONT_FAMILY.to_string(), fontdb: Arc::new(db), ..usvg::Options::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_is_the_family_we_ask_for() {
        let db = options().fontdb;
        let faces: Vec<_> = db.faces().collect();
        assert_eq!(faces.len(), 1, "one embedded face");
        assert!(faces[0].families.iter().any(|(name, _)| name == FONT_FAMILY), "{:?}", faces[0].families);
        let query = usvg::fontdb::Query {
            families: &[
                usvg::fontdb::Family::Name("Helvetica"),
                usvg::fontdb::Family::Name("Arial"),
                usvg::fontdb::Family::SansSerif,
            ],
            ..usvg::fontdb::Query::default()
        };
        assert_eq!(db.query(&query), Some(faces[0].id), "the SVG's font-family list resolves to the embedded font");
    }

    /// Text draws ink: the same box with and without a word differs, and only where the word is.
    #[test]
    fn text_is_drawn_with_the_embedded_font() {
        let svg = |text: &str| {
            format!(
                r##"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40" font-family="Helvetica, Arial, sans-serif" font-size="20"><text x="10" y="28" fill="#000000">{text}</text></svg>"##
            )
        };
        let decode = |bytes: Vec<u8>| {
            let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            assert_eq!((info.width, info.height), (200, 80), "drawn at 2x");
            buf.truncate(info.buffer_size());
            buf
        };
        let blank = decode(svg_to_png(&svg(""), 100, 40).unwrap());
        assert!(blank.chunks(4).all(|p| p == [255, 255, 255, 255]), "an opaque white background");
        let word = decode(svg_to_png(&svg("Spend"), 100, 40).unwrap());
        let dark = word.chunks(4).filter(|p| p[0] < 64 && p[1] < 64 && p[2] < 64).count();
        // "Spend" at 40 device pixels is roughly 100 x 30 pixels of box, about a fifth of it ink.
        assert!(dark > 300, "the word is drawn ({dark} dark pixels)");
        assert_eq!(svg_to_png(&svg("Spend"), 100, 40).unwrap(), svg_to_png(&svg("Spend"), 100, 40).unwrap());
    }

    #[test]
    fn bad_svg_is_an_error_not_a_panic() {
        assert!(matches!(svg_to_png("<svg", 10, 10), Err(Error::Svg(_))));
        let empty = r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>"#;
        assert!(matches!(svg_to_png(empty, 0, 10), Err(Error::Canvas { width: 0, height: 20 })));
    }
}
