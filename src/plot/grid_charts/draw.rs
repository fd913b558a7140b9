//! Drawing of a [`Chart`] with plotters, one routine for the bitmap (PNG) and SVG backends.
//! Panels are stacked by weight under the title; each gets its data range plus a band above
//! for marker labels and notes ([`Panel::layout`]).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Anchor, Chart, ChartError, LegendAt, Panel, DARK, MARKER_ROW, NOTE_ROW};

fn err(e: impl std::fmt::Display) -> ChartError {
    ChartError(e.to_string())
}

use crate::plot::palette::{rgb, GRID_BOLD, GRID_LIGHT};

/// Runs of finite points (x in Unix seconds).
pub(super) fn segments(points: &[(i64, f64)]) -> Vec<Vec<(f64, f64)>> {
    crate::plot::gaps::runs(points.iter().map(|&(x, y)| (x as f64, y)))
}

fn date_label(secs: f64, span_days: f64) -> String {
    let Some(d) = chrono::DateTime::from_timestamp(secs as i64, 0) else {
        return String::new();
    };
    if span_days > 400.0 {
        d.format("%Y-%m").to_string()
    } else if span_days > 4.0 {
        d.format("%Y-%m-%d").to_string()
    } else {
        d.format("%m-%d %H:%M").to_string()
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
) -> Result<(), ChartError> {
    root.fill(&WHITE).map_err(err)?;
    let body = root
        .titled(
            &chart.title,
            ("sans-serif", 22).into_font().color(&rgb(DARK)),
        )
        .map_err(err)?;
    let total: u32 = chart
        .panels
        .iter()
        .map(|p| p.weight.max(1))
        .sum::<u32>()
        .max(1);
    let h = body.dim_in_pixel().1;
    let mut breaks = Vec::new();
    let mut acc = 0u32;
    for p in chart
        .panels
        .iter()
        .take(chart.panels.len().saturating_sub(1))
    {
        acc += p.weight.max(1);
        breaks.push((u64::from(h) * u64::from(acc) / u64::from(total)) as i32);
    }
    let areas = body.split_by_breakpoints(Vec::<i32>::new(), breaks);
    for (i, (area, p)) in areas.iter().zip(&chart.panels).enumerate() {
        draw_panel(area, chart, p, i + 1 == chart.panels.len())?;
    }
    root.present().map_err(err)
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
    p: &Panel,
    last: bool,
) -> Result<(), ChartError> {
    let lay = p.layout();
    let (y0, y1) = (lay.y0, lay.y1);
    let (x0, x1) = (
        chart.x_range.0 as f64,
        chart.x_range.1.max(chart.x_range.0 + 1) as f64,
    );
    let span_days = (x1 - x0) / 86_400.0;
    let mut cc = ChartBuilder::on(area)
        .margin(6)
        .margin_right(24)
        .x_label_area_size(if last { 30 } else { 22 })
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let fmt = |x: &f64| date_label(*x, span_days);
    let yfmt = |y: &f64| {
        if (y1 - y0).abs() >= 20.0 {
            format!("{y:.0}")
        } else {
            format!("{y:.1}")
        }
    };
    cc.configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&fmt)
        .y_label_formatter(&yfmt)
        .y_desc(p.y_label.as_str())
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(GRID_LIGHT)
        .bold_line_style(GRID_BOLD)
        .draw()
        .map_err(err)?;
    cc.draw_series(p.bands.iter().map(|b| {
        Rectangle::new(
            [(b.x0 as f64, y0), (b.x1 as f64, y1)],
            rgb(b.color).mix(0.13).filled(),
        )
    }))
    .map_err(err)?;
    if p.zero_line {
        cc.draw_series(LineSeries::new([(x0, 0.0), (x1, 0.0)], BLACK.mix(0.45)))
            .map_err(err)?;
    }
    let mut labelled = false;
    for l in &p.lines {
        let style = rgb(l.color).stroke_width(l.width.max(1));
        for (k, seg) in segments(&l.points).into_iter().enumerate() {
            let drawn = cc.draw_series(LineSeries::new(seg, style)).map_err(err)?;
            if k == 0 && !l.name.is_empty() {
                labelled = true;
                drawn
                    .label(l.name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
            }
        }
    }
    for lv in &p.levels {
        let style = rgb(lv.color).stroke_width(3);
        cc.draw_series(LineSeries::new(
            [(lv.x0 as f64, lv.y), (lv.x1 as f64, lv.y)],
            style,
        ))
        .map_err(err)?;
        if !lv.label.is_empty() {
            let ts = ("sans-serif", 14).into_font().color(&rgb(lv.color));
            let dy = (y1 - y0) * 0.03;
            // Above the segment, a third of the way along (clear of markers at its ends).
            let x = lv.x0 as f64 + (lv.x1 - lv.x0) as f64 / 3.0;
            let y = if lv.label_below {
                lv.y - dy * 0.6
            } else {
                lv.y + dy * 2.2
            };
            cc.draw_series([Text::new(lv.label.clone(), (x, y), ts)])
                .map_err(err)?;
        }
    }
    for (k, m) in p.markers.iter().enumerate() {
        let x = m.x as f64;
        // Labels staggered in rows above the data, each marker line reaching its own label.
        let top = lay.data_top + lay.row * MARKER_ROW * ((k % 3) as f64 + 0.8);
        let style = rgb(m.color).stroke_width(2);
        if m.dashed {
            cc.draw_series(DashedLineSeries::new([(x, y0), (x, top)], 6, 5, style))
                .map_err(err)?;
        } else {
            cc.draw_series(LineSeries::new([(x, y0), (x, top)], style))
                .map_err(err)?;
        }
        let ts = ("sans-serif", 14).into_font().color(&rgb(m.color));
        let xl = x + (x1 - x0) * 0.004;
        cc.draw_series([Text::new(m.label.clone(), (xl, top), ts)])
            .map_err(err)?;
    }
    let notes_top = lay.data_top + lay.row * MARKER_ROW * p.markers.len().min(3) as f64;
    let mut row = p
        .notes
        .iter()
        .filter(|n| n.anchor == Anchor::TopLeft)
        .count();
    for n in &p.notes {
        let ts = ("sans-serif", 15).into_font().color(&rgb(n.color));
        let at = match n.anchor {
            Anchor::Data(x, y) => (x as f64, y),
            Anchor::TopLeft => {
                let y = notes_top + lay.row * NOTE_ROW * row as f64;
                row = row.saturating_sub(1);
                (x0 + (x1 - x0) * 0.01, y)
            }
        };
        cc.draw_series([Text::new(n.text.clone(), at, ts)])
            .map_err(err)?;
    }
    if labelled {
        let pos = match p.legend {
            LegendAt::UpperRight => SeriesLabelPosition::UpperRight,
            LegendAt::UpperLeft => SeriesLabelPosition::UpperLeft,
            LegendAt::LowerLeft => SeriesLabelPosition::LowerLeft,
            LegendAt::LowerRight => SeriesLabelPosition::LowerRight,
        };
        cc.configure_series_labels()
            .position(pos)
            .background_style(WHITE.mix(0.88))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

/// Draws `chart` into a PNG file at `path`.
pub fn render_png(chart: &Chart, path: &Path) -> Result<(), ChartError> {
    crate::plot::register_font();
    let root = BitMapBackend::new(path, (chart.width, chart.height)).into_drawing_area();
    draw(&root, chart)
}

/// Draws `chart` as an SVG document.
pub fn render_svg(chart: &Chart) -> Result<String, ChartError> {
    crate::plot::register_font();
    let mut out = String::new();
    {
        let root =
            SVGBackend::with_string(&mut out, (chart.width, chart.height)).into_drawing_area();
        draw(&root, chart)?;
    }
    Ok(out)
}
