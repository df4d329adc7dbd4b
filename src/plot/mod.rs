//! Figures as PNG: line plots (consensus vs number of clusters), heatmaps (arm-vs-arm confusion
//! matrices) and scatter plots (UMAP coloured by a label set).
//!
//! Drawing is `plotters` into an in-memory RGB buffer (`BitMapBackend::with_buffer`); the PNG is
//! written by `image`, so plotters' own image encoder is not needed. Text uses DejaVu Sans shipped
//! beside this file (`DejaVuSans.ttf`, licence in `DejaVuSans-LICENSE.txt`), registered with
//! plotters' ab_glyph support under the family name `"sans-serif"`: no system fonts are read.

mod heatmap;
mod line;
mod scatter;

use std::path::{Path, PathBuf};

use plotters::style::RGBColor;

pub use heatmap::heatmap;
pub use line::line_plot;
pub use scatter::scatter;

/// DejaVu Sans 2.37 (Bitstream Vera licence + public-domain DejaVu changes).
static FONT: &[u8] = include_bytes!("DejaVuSans.ttf");
/// Family name every figure in this module asks for.
const FAMILY: &str = "sans-serif";

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{path}: nothing to plot: {what}")]
    Empty { path: PathBuf, what: String },
    #[error("{path}: {reason}")]
    Shape { path: PathBuf, reason: String },
    #[error("{path}: drawing failed: {reason}")]
    Draw { path: PathBuf, reason: String },
    #[error("{path}: cannot write PNG: {source}")]
    Write { path: PathBuf, #[source] source: image::ImageError },
    #[error("the shipped font src/plot/DejaVuSans.ttf could not be parsed; restore it from git")]
    Font,
}

/// Register the shipped font once per process.
fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, FONT).is_ok()
    });
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

/// An RGB canvas of `width x height` pixels that figures draw into, then [`Canvas::save`].
struct Canvas {
    width: u32,
    height: u32,
    /// `[height * width * 3]`, row-major RGB.
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Result<Self, PlotError> {
        ensure_font()?;
        Ok(Self { width, height, pixels: vec![255; width as usize * height as usize * 3] })
    }

    fn area(&mut self) -> plotters::drawing::DrawingArea<plotters::prelude::BitMapBackend<'_>, plotters::coord::Shift> {
        use plotters::prelude::IntoDrawingArea;
        plotters::prelude::BitMapBackend::with_buffer(&mut self.pixels, (self.width, self.height))
            .into_drawing_area()
    }

    fn save(self, path: &Path) -> Result<(), PlotError> {
        let image = image::RgbImage::from_raw(self.width, self.height, self.pixels)
            .expect("canvas buffer is width * height * 3 by construction");
        image.save_with_format(path, image::ImageFormat::Png)
            .map_err(|source| PlotError::Write { path: path.to_path_buf(), source })
    }
}

/// Turn any plotters error into [`PlotError::Draw`] naming the output file.
fn draw_error<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> PlotError + '_ {
    move |e| PlotError::Draw { path: path.to_path_buf(), reason: e.to_string() }
}

/// Categorical palette: matplotlib's tab10 (dark) then tab20's light halves, then tab20b; 40
/// distinguishable colours, after which hues are spread by the golden angle.
pub fn category_color(i: usize) -> RGBColor {
    const TABLE: [u32; 40] = [
        0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22,
        0x17becf, 0xaec7e8, 0xffbb78, 0x98df8a, 0xff9896, 0xc5b0d5, 0xc49c94, 0xf7b6d2, 0xc7c7c7,
        0xdbdb8d, 0x9edae5, 0x393b79, 0x637939, 0x8c6d31, 0x843c39, 0x7b4173, 0x5254a3, 0x8ca252,
        0xbd9e39, 0xad494a, 0xa55194, 0x6b6ecf, 0xb5cf6b, 0xe7ba52, 0xd6616b, 0xce6dbd, 0x9c9ede,
        0xcedb9c, 0xe7cb94, 0xe7969c, 0xde9ed6,
    ];
    if let Some(&hex) = TABLE.get(i) {
        return RGBColor((hex >> 16) as u8, (hex >> 8) as u8, hex as u8);
    }
    let hue = (i as f64 * 137.507_764) % 360.0;
    let lightness = [0.45, 0.6, 0.35][i % 3];
    hsl(hue, 0.65, lightness)
}

fn hsl(hue: f64, saturation: f64, lightness: f64) -> RGBColor {
    let c = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = hue / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = lightness - c / 2.0;
    let byte = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    RGBColor(byte(r), byte(g), byte(b))
}

/// Viridis by linear interpolation between 9 anchors (matplotlib's viridis at 0, 1/8, ..., 1);
/// `t` is clamped to [0, 1].
pub fn viridis(t: f64) -> RGBColor {
    const ANCHORS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let x = t * (ANCHORS.len() - 1) as f64;
    let i = (x.floor() as usize).min(ANCHORS.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A padded `[lo, hi]` range over finite values (a constant range is widened by 1).
fn padded_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
    Some((lo - pad, hi + pad))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Re-read a written PNG: its size and how many distinct colours it holds.
    pub(crate) fn inspect(path: &Path) -> ((u32, u32), usize) {
        let image = image::open(path).unwrap().to_rgb8();
        let colors: std::collections::HashSet<[u8; 3]> = image.pixels().map(|p| p.0).collect();
        (image.dimensions(), colors.len())
    }

    #[test]
    fn palette_has_forty_distinct_colours_then_keeps_going() {
        let colors: std::collections::HashSet<(u8, u8, u8)> =
            (0..60).map(|i| { let c = category_color(i); (c.0, c.1, c.2) }).collect();
        assert_eq!(colors.len(), 60);
        let (a, b) = (viridis(0.0), viridis(1.0));
        assert_eq!((a.0, a.1, a.2, b.0, b.1, b.2), (68, 1, 84, 253, 231, 37));
    }

    #[test]
    fn shipped_font_parses() {
        ensure_font().unwrap();
    }
}
