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
    let count = categories.len().max(1) as i32;
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0_f64, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(110)
        // An integer range segments into one slot per value, both ends included.
        .build_cartesian_2d((0..count - 1).into_segmented(), 0.0..top)?;
    // At most about 12 category labels fit; the others are left unlabelled.
    let every = count.div_euclid(12) + 1;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(count.min(48) as usize)
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) if i % every == 0 => {
                categories.get(*i as usize).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .y_label_formatter(&|v| value_label(*v))
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 14))
        .draw()?;
    // Side-by-side bars: each series gets its lane of a category's slot, by pixel margins.
    let slot = {
        let start = chart.backend_coord(&(SegmentValue::Exact(0), 0.0)).0;
        let end = chart.backend_coord(&(SegmentValue::Exact(1), 0.0)).0;
        u32::try_from((end - start).abs()).unwrap_or(0)
    };
    let lanes = series.len().max(1) as u32;
    let lane_width = slot * 8 / 10 / lanes;
    for (lane, one) in series.iter().enumerate() {
        let colour = if lane == 0 { FIRST } else { SECOND };
        let left = slot / 10 + lane_width * lane as u32;
        let right = slot.saturating_sub(left + lane_width);
        chart
            .draw_series(one.values.iter().enumerate().map(|(i, value)| {
                let i = i as i32;
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), *value),
                    ],
                    colour.filled(),
                );
                bar.set_margin(0, 0, left, right);
                bar
            }))?
            .label(one.name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
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
        assert!(!svg.contains("style="), "inline styles would need 'unsafe-inline'");
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
    }
}
