//! Line plots with marked points, e.g. consensus against the number of clusters per arm.

use std::path::Path;

use plotters::prelude::*;

use super::{category_color, draw_error, padded_range, Canvas, PlotError, FAMILY};

/// Draw each named series as a line through its points with every point marked, a legend in the
/// upper right when there is more than one series (or the one has a name), and write a
/// 900 x 600 PNG to `path`. Points with a non-finite coordinate are skipped.
pub fn line_plot(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> Result<(), PlotError> {
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let all = || series.iter().flat_map(|(_, pts)| pts.iter().filter(finite));
    let (Some((x0, x1)), Some((y0, y1))) =
        (padded_range(all().map(|p| p.0)), padded_range(all().map(|p| p.1)))
    else {
        return Err(PlotError::Empty {
            path: path.to_path_buf(),
            what: format!("{} series without a finite point", series.len()),
        });
    };
    // Whole-number ticks without decimals (cluster counts, epochs); others with up to 3.
    let x_tick = |v: &f64| {
        if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) {
            format!("{v:.0}")
        } else {
            format!("{v:.3}").trim_end_matches('0').to_string()
        }
    };
    let err = draw_error(path);
    let mut canvas = Canvas::new(900, 600)?;
    {
        let root = canvas.area();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 24))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .x_label_formatter(&x_tick)
            .y_desc(y_label)
            .label_style((FAMILY, 15))
            .axis_desc_style((FAMILY, 17))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(&err)?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = category_color(i);
            let points: Vec<(f64, f64)> = points.iter().filter(finite).copied().collect();
            chart
                .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
                .map_err(&err)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(&err)?;
        }
        if series.len() > 1 || series.iter().any(|(name, _)| !name.is_empty()) {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font((FAMILY, 15))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(&err)?;
        }
        root.present().map_err(&err)?;
    }
    canvas.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::tests::inspect;

    #[test]
    fn line_plot_writes_a_png_with_lines_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consensus.png");
        let arm = |s: f64| (2..=12).map(|k| (k as f64, 1.0 - s * (k as f64 - 6.0).powi(2))).collect();
        let series = [("arm 0 vs 1", arm(0.01)), ("arm 0 vs 2", arm(0.02)), ("arm 1 vs 2", arm(0.015))];
        line_plot(&path, "Consensus vs number of clusters", "clusters", "consensus", &series)
            .unwrap();
        let (size, colors) = inspect(&path);
        assert_eq!(size, (900, 600));
        assert!(colors > 20, "{colors} colours");
    }

    #[test]
    fn line_plot_without_finite_points_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.png");
        let err = line_plot(&path, "t", "x", "y", &[("nan", vec![(f64::NAN, 1.0)])]).unwrap_err();
        assert!(matches!(err, PlotError::Empty { .. }), "{err}");
        assert!(!path.exists());
    }
}
