//! A case's history over the nights (nightly runs): estimated kW (blue line, scaled to its
//! maximum) and score (orange line, 0 to 1), one point per night, gaps where the meter was not
//! flagged. Drawn without text so it stays small and needs no font: the report prints the
//! numbers beside it.

use plotters::prelude::*;

use super::palette;

/// One night of a case: score and kW (`None` when not flagged that night).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    pub score: Option<f64>,
    pub kw: Option<f64>,
}

/// Splits a series into runs of present points: (x, y) with y scaled by `scale`.
fn runs(v: &[Option<f64>], scale: f64) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur = Vec::new();
    for (i, y) in v.iter().enumerate() {
        match y.filter(|y| y.is_finite()) {
            Some(y) => cur.push((i as f64, (y / scale).clamp(0.0, 1.05))),
            None if !cur.is_empty() => out.push(std::mem::take(&mut cur)),
            None => {}
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The history as an SVG string of `w` x `h` pixels.
pub fn history_svg(points: &[HistoryPoint], w: u32, h: u32) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        let e = |x: DrawingAreaErrorKind<_>| x.to_string();
        root.fill(&WHITE).map_err(e)?;
        let n = points.len().max(2) as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(3)
            .build_cartesian_2d(-0.3..(n - 0.7), 0.0..1.1)
            .map_err(e)?;
        let max_kw = points
            .iter()
            .filter_map(|p| p.kw)
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
            .max(1e-9);
        let kw: Vec<Option<f64>> = points.iter().map(|p| p.kw).collect();
        let score: Vec<Option<f64>> = points.iter().map(|p| p.score).collect();
        for (series, scale, colour) in [
            (&kw, max_kw, palette::LOAD_COLOUR),
            (&score, 1.0, palette::LEVEL_COLOUR),
        ] {
            for run in runs(series, scale) {
                chart
                    .draw_series(LineSeries::new(run.clone(), colour.stroke_width(2)))
                    .map_err(e)?;
                chart
                    .draw_series(run.iter().map(|&p| Circle::new(p, 2, colour.filled())))
                    .map_err(e)?;
            }
        }
        root.present().map_err(e)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_with_a_gap_draws_two_runs() {
        let p = |s: Option<f64>, k: Option<f64>| HistoryPoint { score: s, kw: k };
        let pts = [
            p(Some(0.7), Some(3.0)),
            p(Some(0.8), Some(3.1)),
            p(None, None),
            p(Some(0.9), Some(6.0)),
        ];
        assert_eq!(runs(&[Some(1.0), Some(2.0), None, Some(3.0)], 3.0).len(), 2);
        let svg = history_svg(&pts, 160, 36).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.matches("<polyline").count() >= 3, "{svg}");
    }
}
