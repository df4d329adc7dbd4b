//! Scatter plots of 2-D points coloured by category, e.g. a UMAP coloured by a label set.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{category_color, draw_error, padded_range, Canvas, PlotError, FAMILY};

/// Draw `points[i]` coloured by the category `labels[i]` (any ordered, printable label: cluster
/// numbers, cell-type names) with a legend of categories in sorted order beside the plot (one
/// column up to 20 categories, two up to 40, three beyond), and write a PNG to `path`. Colours
/// come from [`category_color`] by sorted category rank; points with a non-finite coordinate are
/// skipped. Point radius shrinks with the number of points (3 px to 1 px).
pub fn scatter<L: Ord + Display>(
    path: &Path,
    title: &str,
    points: &[(f32, f32)],
    labels: &[L],
) -> Result<(), PlotError> {
    if points.len() != labels.len() {
        return Err(PlotError::Shape {
            path: path.to_path_buf(),
            reason: format!("{} points but {} labels", points.len(), labels.len()),
        });
    }
    let finite = |p: &&(f32, f32)| p.0.is_finite() && p.1.is_finite();
    let (Some((x0, x1)), Some((y0, y1))) = (
        padded_range(points.iter().filter(finite).map(|p| p.0 as f64)),
        padded_range(points.iter().filter(finite).map(|p| p.1 as f64)),
    ) else {
        return Err(PlotError::Empty {
            path: path.to_path_buf(),
            what: format!("{} points, none finite", points.len()),
        });
    };
    let mut categories: BTreeMap<&L, usize> = labels.iter().map(|l| (l, 0)).collect();
    for (rank, v) in categories.values_mut().enumerate() {
        *v = rank;
    }
    let columns = match categories.len() { 0..=20 => 1, 21..=40 => 2, _ => 3 };
    let legend_width = 190 * columns as u32;
    let (plot_side, height) = (760u32, 760u32);
    let radius = match points.len() { 0..=2_000 => 3, 2_001..=20_000 => 2, _ => 1 };

    let err = draw_error(path);
    let mut canvas = Canvas::new(plot_side + legend_width, height)?;
    {
        let root = canvas.area();
        let (plot_area, legend_area) = root.split_horizontally(plot_side);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(title, (FAMILY, 24))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .label_style((FAMILY, 14))
            .draw()
            .map_err(&err)?;
        chart
            .draw_series(points.iter().zip(labels).filter(|(p, _)| finite(p)).map(|(p, l)| {
                let color = category_color(categories[l]).mix(0.8);
                Circle::new((p.0 as f64, p.1 as f64), radius, color.filled())
            }))
            .map_err(&err)?;

        let rows = categories.len().div_ceil(columns);
        let row_px = ((height as usize - 80) / rows.max(1)).clamp(10, 26) as i32;
        let font_px = (row_px as f64 * 0.65).clamp(9.0, 15.0);
        let style = TextStyle::from((FAMILY, font_px).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        for (label, &rank) in &categories {
            let (col, row) = ((rank / rows) as i32, (rank % rows) as i32);
            let (x, y) = (10 + col * 190, 60 + row * row_px);
            let color = category_color(rank);
            legend_area.draw(&Circle::new((x + 6, y), 5, color.filled())).map_err(&err)?;
            let mut text = label.to_string();
            if text.chars().count() > 22 {
                text = text.chars().take(21).chain(std::iter::once('…')).collect();
            }
            legend_area.draw(&Text::new(text, (x + 18, y), style.clone())).map_err(&err)?;
        }
        root.present().map_err(&err)?;
    }
    canvas.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::tests::inspect;

    /// `n` points on `k` rings of blobs, labelled by blob.
    fn blobs(n: usize, k: usize) -> (Vec<(f32, f32)>, Vec<usize>) {
        (0..n)
            .map(|i| {
                let c = i % k;
                let angle = c as f32 / k as f32 * std::f32::consts::TAU;
                let jitter = ((i * 7919) % 101) as f32 / 101.0 - 0.5;
                let jitter2 = ((i * 104729) % 97) as f32 / 97.0 - 0.5;
                ((10.0 * angle.cos() + jitter, 10.0 * angle.sin() + jitter2), c)
            })
            .unzip()
    }

    #[test]
    fn scatter_with_forty_categories_has_legend_and_colours() {
        let dir = tempfile::tempdir().unwrap();
        let (points, labels) = blobs(4_000, 40);
        let path = dir.path().join("umap.png");
        scatter(&path, "UMAP coloured by cluster", &points, &labels).unwrap();
        let (size, colors) = inspect(&path);
        assert_eq!(size, (760 + 380, 760));
        assert!(colors > 40, "{colors} colours");
    }

    #[test]
    fn scatter_takes_string_labels_and_checks_lengths() {
        let dir = tempfile::tempdir().unwrap();
        let (points, labels) = blobs(300, 3);
        let names: Vec<String> = labels.iter().map(|c| ["neuron", "astrocyte", "microglia"][*c].to_string()).collect();
        let path = dir.path().join("types.png");
        scatter(&path, "cell types", &points, &names).unwrap();
        let (size, colors) = inspect(&path);
        assert_eq!(size, (760 + 190, 760));
        assert!(colors > 3, "{colors} colours");
        let err = scatter(&path, "t", &points[..2], &names).unwrap_err();
        assert!(matches!(err, PlotError::Shape { .. }), "{err}");
    }
}
