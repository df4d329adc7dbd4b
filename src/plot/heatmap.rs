//! Heatmaps of a matrix with labelled rows and columns, e.g. an arm-vs-arm confusion matrix.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{viridis, Canvas, PlotError, FAMILY};

/// Draw `values` (`[rows][cols]`, row 0 at the top) as coloured cells on a viridis scale from the
/// smallest to the largest finite value, row labels on the left, column labels rotated below,
/// and write a PNG to `path`. With `annotate` each cell shows its value (3 significant digits)
/// in black or white, whichever reads better; otherwise a colour bar is drawn on the right.
/// Non-finite cells are grey. The image grows with the matrix (cells 14-60 px).
pub fn heatmap(
    path: &Path,
    title: &str,
    row_labels: &[String],
    col_labels: &[String],
    values: &[Vec<f64>],
    annotate: bool,
) -> Result<(), PlotError> {
    let (rows, cols) = (values.len(), values.first().map_or(0, Vec::len));
    if rows == 0 || cols == 0 {
        return Err(PlotError::Empty { path: path.to_path_buf(), what: "an empty matrix".into() });
    }
    let shape = |reason: String| PlotError::Shape { path: path.to_path_buf(), reason };
    if let Some((r, row)) = values.iter().enumerate().find(|(_, row)| row.len() != cols) {
        return Err(shape(format!("row {r} has {} values but row 0 has {cols}", row.len())));
    }
    if row_labels.len() != rows || col_labels.len() != cols {
        return Err(shape(format!(
            "{} row labels and {} column labels for a {rows} x {cols} matrix",
            row_labels.len(),
            col_labels.len()
        )));
    }
    let finite = values.iter().flatten().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let scale = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };

    // Layout in pixels: title | row labels, cells, colour bar | column labels.
    let cell = (720 / rows.max(cols)).clamp(14, 60) as i32;
    let label_px = |labels: &[String]| labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as i32 * 8 + 16;
    let (left, top) = (label_px(row_labels).max(40), 56);
    let bottom = label_px(col_labels).max(40);
    let bar_width = if annotate { 0 } else { 110 };
    let width = (left + cell * cols as i32 + bar_width + 30).max(360);
    let height = top + cell * rows as i32 + bottom;
    let font_px = (cell as f64 * 0.4).clamp(10.0, 16.0);

    let err = super::draw_error(path);
    let mut canvas = Canvas::new(width as u32, height as u32)?;
    {
        let root = canvas.area();
        let centered = Pos::new(HPos::Center, VPos::Center);
        let title_style = TextStyle::from((FAMILY, 22).into_font()).pos(centered);
        root.draw(&Text::new(title.to_string(), (width / 2, 26), title_style)).map_err(&err)?;
        let label_style = TextStyle::from((FAMILY, font_px).into_font());
        for (r, row) in values.iter().enumerate() {
            let y = top + r as i32 * cell;
            for (c, &v) in row.iter().enumerate() {
                let x = left + c as i32 * cell;
                let fill = if v.is_finite() { viridis(scale(v)) } else { RGBColor(190, 190, 190) };
                root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], fill.filled()))
                    .map_err(&err)?;
                if annotate && v.is_finite() {
                    let ink = if scale(v) > 0.6 { BLACK } else { WHITE };
                    let style = label_style.color(&ink).pos(centered);
                    let text = format_value(v);
                    root.draw(&Text::new(text, (x + cell / 2, y + cell / 2), style)).map_err(&err)?;
                }
            }
            let style = label_style.pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(row_labels[r].clone(), (left - 6, y + cell / 2), style))
                .map_err(&err)?;
        }
        let below = top + rows as i32 * cell + 6;
        let rotated = label_style.transform(FontTransform::Rotate90).pos(Pos::new(HPos::Left, VPos::Center));
        for (c, label) in col_labels.iter().enumerate() {
            let x = left + c as i32 * cell + cell / 2;
            root.draw(&Text::new(label.clone(), (x, below), rotated.clone())).map_err(&err)?;
        }
        root.draw(&Rectangle::new(
            [(left, top), (left + cell * cols as i32, top + cell * rows as i32)],
            BLACK.stroke_width(1),
        ))
        .map_err(&err)?;
        if !annotate {
            let (x, bar_h) = (left + cell * cols as i32 + 20, (cell * rows as i32).max(60));
            for i in 0..bar_h {
                let t = 1.0 - i as f64 / (bar_h - 1) as f64;
                root.draw(&Rectangle::new([(x, top + i), (x + 18, top + i + 1)], viridis(t).filled()))
                    .map_err(&err)?;
            }
            root.draw(&Rectangle::new([(x, top), (x + 18, top + bar_h)], BLACK.stroke_width(1)))
                .map_err(&err)?;
            let style = TextStyle::from((FAMILY, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
            let ticks = if hi > lo { vec![(hi, 0), (0.5 * (lo + hi), bar_h / 2), (lo, bar_h)] } else { vec![(lo, bar_h / 2)] };
            for (v, dy) in ticks {
                root.draw(&Text::new(format_value(v), (x + 24, top + dy), style.clone())).map_err(&err)?;
            }
        }
        root.present().map_err(&err)?;
    }
    canvas.save(path)
}

/// Integers as integers, otherwise 3 significant digits.
fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e6 {
        format!("{}", v as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::tests::inspect;

    fn labels(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix} {i}")).collect()
    }

    #[test]
    fn annotated_and_colour_bar_heatmaps_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let m: Vec<Vec<f64>> =
            (0..6).map(|r| (0..6).map(|c| if r == c { 40.0 + r as f64 } else { (r * c % 5) as f64 }).collect()).collect();
        let path = dir.path().join("confusion.png");
        heatmap(&path, "Arm 0 vs arm 1", &labels("arm0 c", 6), &labels("arm1 c", 6), &m, true).unwrap();
        let (size, colors) = inspect(&path);
        assert!(size.0 >= 360 && size.1 > 6 * 14, "{size:?}");
        assert!(colors > 8, "{colors} colours");

        let big: Vec<Vec<f64>> = (0..30).map(|r| (0..25).map(|c| ((r * 7 + c * 3) % 11) as f64 / 11.0).collect()).collect();
        let path = dir.path().join("bar.png");
        heatmap(&path, "Fractions", &labels("r", 30), &labels("c", 25), &big, false).unwrap();
        let (_, colors) = inspect(&path);
        assert!(colors > 50, "{colors} colours");
    }

    #[test]
    fn heatmap_shape_mismatch_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.png");
        let ragged = vec![vec![1.0, 2.0], vec![3.0]];
        let err = heatmap(&path, "t", &labels("r", 2), &labels("c", 2), &ragged, true).unwrap_err();
        assert!(err.to_string().contains("row 1 has 1 values"), "{err}");
        let square = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
        let err = heatmap(&path, "t", &labels("r", 3), &labels("c", 2), &square, true).unwrap_err();
        assert!(matches!(err, PlotError::Shape { .. }), "{err}");
    }
}
