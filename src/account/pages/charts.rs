//! The reports' charts: bar charts drawn on the server with `plotters`' SVG backend (no
//! JavaScript, no bitmaps, no font files: text is SVG `<text>` the browser sets).
//!
//! A page shows a chart as `<img src="data:image/svg+xml;base64,…">` with a text alternative and
//! the same figures in a table beside it. As an image the SVG is a separate document: nothing in
//! it can run or style the page, and the page's `style-src` without `'unsafe-inline'` has no say
//! over it (the Content-Security-Policy already allows `img-src data:`).

use base64::Engine as _;
use plotters::prelude::*;

/// Width and height of every chart, in SVG pixels (it scales down with the page).
const SIZE: (u32, u32) = (720, 300);
/// Bar colours: the stylesheet's accent blue and a muted red for a second series.
const FIRST: RGBColor = RGBColor(11, 92, 173);
const SECOND: RGBColor = RGBColor(179, 38, 30);

/// One series of a bar chart: its name (for the legend) and one value per category.
pub struct Series<'a> {
    /// Legend text.
    pub name: &'a str,
    /// One value per category.
    pub values: Vec<f64>,
}

/// A bar chart of `series` (one or two, side by side) over `categories`, as SVG text.
/// `value_label` formats the value axis. Empty or all-zero data still gives an axis.
pub fn bars(
    categories: &[String],
    series: &[Series<'_>],
    value_label: &dyn Fn(f64) -> String,
) -> String {
    let mut svg = String::new();
    if let Err(error) = draw(&mut svg, categories, series, value_label) {
        tracing::warn!(error = %error, "a chart could not be drawn");
        return String::new();
    }
    svg
}

fn draw(
    svg: &mut String,
    categories: &[String],
    series: &[Series<'_>],
    value_label: &dyn Fn(f64) -> String,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let count = categories.len().max(1);
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0_f64, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..count as f64, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&|v| value_label(*v))
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 14))
        .draw()?;
    // Category i is the slot [i, i + 1); each series gets its lane of the middle 80 %.
    let lane_width = 0.8 / series.len().max(1) as f64;
    for (lane, one) in series.iter().enumerate() {
        let colour = if lane == 0 { FIRST } else { SECOND };
        let offset = 0.1 + lane_width * lane as f64;
        chart
            .draw_series(one.values.iter().enumerate().map(|(i, value)| {
                let left = i as f64 + offset;
                Rectangle::new([(left, 0.0), (left + lane_width, *value)], colour.filled())
            }))?
            .label(one.name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    // Category labels under the axis, centred on their slots; at most about 12 fit.
    let every = count.div_ceil(12);
    let label_style =
        TextStyle::from(("sans-serif", 14)).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Top,
        ));
    for (i, label) in categories.iter().enumerate().step_by(every) {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(label.clone(), (x, y + 6), label_style.clone()))?;
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    root.present()?;
    drop(chart);
    drop(root);
    Ok(())
}

/// An SVG as a `data:` URL for an `<img>`.
pub fn data_url(svg: &str) -> String {
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_chart_is_an_svg_with_its_labels_and_no_style_attributes() {
        let categories = vec!["01.12".to_owned(), "02.12".to_owned()];
        let svg = bars(
            &categories,
            &[
                Series {
                    name: "revenue",
                    values: vec![10.0, 30.0],
                },
                Series {
                    name: "refunds",
                    values: vec![0.0, 5.0],
                },
            ],
            &|v| format!("{v:.0}"),
        );
        if let Ok(path) = std::env::var("OFD_CHART_DUMP") {
            let _ = std::fs::write(path, &svg);
        }
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("01.12") && svg.contains("02.12"), "{svg}");
        assert!(svg.contains("revenue") && svg.contains("refunds"), "{svg}");
        assert!(svg.matches("<rect").count() >= 4, "{svg}");
        assert!(
            !svg.contains("style="),
            "inline styles would need 'unsafe-inline'"
        );
        assert!(data_url(&svg).starts_with("data:image/svg+xml;base64,"));
        // Two categories fill the width: the second bar starts past the middle.
        let second_bar_x: Vec<f64> = svg
            .split("<rect x=\"")
            .skip(2)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect();
        assert!(second_bar_x[1] > 360.0, "{second_bar_x:?}");
        // One category alone is a chart too.
        let one = bars(
            &["01.12".to_owned()],
            &[Series {
                name: "revenue",
                values: vec![10.0],
            }],
            &|v| format!("{v:.0}"),
        );
        assert!(one.contains("fill=\"#0B5CAD\""), "{one}");
        assert!(one.contains("01.12"), "{one}");
        // One category with two series: both bars, side by side.
        let pair = bars(
            &["01.12".to_owned()],
            &[
                Series {
                    name: "cash",
                    values: vec![10.0],
                },
                Series {
                    name: "card",
                    values: vec![5.0],
                },
            ],
            &|v| format!("{v:.0}"),
        );
        let widths: Vec<f64> = pair
            .split("<rect ")
            .filter(|r| r.contains("fill=\"#0B5CAD\"") || r.contains("fill=\"#B3261E\""))
            .filter_map(|r| r.split("width=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect();
        assert!(widths.iter().filter(|w| **w > 100.0).count() == 2, "{pair}");
    }
}
