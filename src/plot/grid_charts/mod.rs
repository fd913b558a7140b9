//! Time-series charts of the grid analyses (feeder balance, regional load drop): a plain data
//! model ([`Chart`] of stacked [`Panel`]s holding lines, vertical markers, level segments,
//! shaded bands and notes, x in Unix seconds) and one drawing routine for both backends, so
//! tests check the chart data and PNG and SVG cannot disagree.
//!
//! Input: a [`Chart`] built by `grid_analysis::balance_output` or `grid_analysis::drop_output`.
//! Output: a PNG file ([`render_png`], text rasterised with the embedded DejaVu Sans, see
//! [`crate::plot::register_font`]) or an SVG string ([`render_svg`]); drawing is in `draw`. `NaN` values split a line into
//! segments (a gap is drawn as a gap, never bridged).

pub use super::palette::{Rgb, BLUE, DARK, GREEN, GREY, ORANGE, PURPLE, RED};

/// A series; `NaN` y values are gaps.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Legend text (empty: not in the legend).
    pub name: String,
    pub color: Rgb,
    pub width: u32,
    pub points: Vec<(i64, f64)>,
}

/// A vertical line across the panel, labelled at its top.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: i64,
    pub label: String,
    pub color: Rgb,
    pub dashed: bool,
}

/// A horizontal segment (an estimated level), labelled above (or below) it, a third of the way
/// along.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub x0: i64,
    pub x1: i64,
    pub y: f64,
    pub label: String,
    pub color: Rgb,
    /// Put the label under the segment (e.g. the level after a drop, with the data above it).
    pub label_below: bool,
}

/// A shaded x range (excluded days, a transition period).
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub x0: i64,
    pub x1: i64,
    pub color: Rgb,
}

/// Where a note sits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Anchor {
    /// The note's top-left corner at a data point.
    Data(i64, f64),
    /// Stacked lines at the top-left of the plot area.
    TopLeft,
}

/// A text in a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub text: String,
    pub color: Rgb,
    pub anchor: Anchor,
}

/// Where the legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegendAt {
    #[default]
    UpperRight,
    UpperLeft,
    LowerLeft,
    LowerRight,
}

/// One panel of stacked plots sharing the x axis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    pub y_label: String,
    /// Relative height.
    pub weight: u32,
    pub lines: Vec<Line>,
    pub markers: Vec<Marker>,
    pub levels: Vec<Level>,
    pub bands: Vec<Band>,
    pub notes: Vec<Note>,
    /// Draw y = 0 and keep it in range.
    pub zero_line: bool,
    pub legend: LegendAt,
}

/// Height of one row of marker labels / notes above the data, as a share of the data's span.
const MARKER_ROW: f64 = 0.07;
const NOTE_ROW: f64 = 0.085;

/// The vertical layout of a panel: data range, and a band above it for labels and notes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YLayout {
    /// Bottom of the axis.
    pub y0: f64,
    /// Top of the data (markers end here, plus their label row).
    pub data_top: f64,
    /// Top of the axis (notes sit between `data_top` + marker rows and here).
    pub y1: f64,
    /// One label row.
    pub row: f64,
}

impl Panel {
    /// The y range: every finite line value and level, 6% padding, zero included if asked.
    pub fn y_range(&self) -> (f64, f64) {
        let l = self.layout();
        (l.y0, l.y1)
    }

    /// The layout: data range with 6% padding, then one row per marker label and per note.
    pub fn layout(&self) -> YLayout {
        let ys = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .chain(self.levels.iter().map(|l| l.y))
            .chain(self.zero_line.then_some(0.0))
            .filter(|v| v.is_finite());
        let (mut lo, mut hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        let span = (hi - lo).max(1e-6 * hi.abs().max(1.0));
        let data_top = hi + 0.08 * span;
        let top_notes = self
            .notes
            .iter()
            .filter(|n| n.anchor == Anchor::TopLeft)
            .count();
        let rows = MARKER_ROW * self.markers.len().min(3) as f64 + NOTE_ROW * top_notes as f64;
        YLayout {
            y0: lo - 0.06 * span,
            data_top,
            y1: data_top + span * (rows + 0.02),
            row: span,
        }
    }
}

/// A chart: a title and stacked panels over one time range.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub width: u32,
    pub height: u32,
    /// [start, end) in Unix seconds.
    pub x_range: (i64, i64),
    pub panels: Vec<Panel>,
}

/// A drawing failure (plotters' message).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ChartError(pub String);

/// Averages `points` into at most `max` buckets of equal time (a 90-day half-hourly series
/// would otherwise put several values on each pixel). A bucket with no finite value is a gap.
pub fn bucket(points: &[(i64, f64)], max: usize) -> Vec<(i64, f64)> {
    if points.len() <= max || max == 0 {
        return points.to_vec();
    }
    let per = points.len().div_ceil(max);
    points
        .chunks(per)
        .map(|c| {
            let v: Vec<f64> = c.iter().map(|p| p.1).filter(|v| v.is_finite()).collect();
            let y = if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            };
            (c[0].0, y)
        })
        .collect()
}

mod draw;

pub use draw::{render_png, render_svg};

#[cfg(test)]
mod tests {
    use super::draw::segments;
    use super::*;

    fn chart() -> Chart {
        let pts: Vec<(i64, f64)> = (0..200)
            .map(|i| {
                (
                    1_709_251_200 + i * 3600,
                    if i == 50 {
                        f64::NAN
                    } else {
                        (i as f64 / 9.0).sin()
                    },
                )
            })
            .collect();
        Chart {
            title: "Test chart".into(),
            width: 800,
            height: 500,
            x_range: (pts[0].0, pts[199].0),
            panels: vec![
                Panel {
                    y_label: "kW".into(),
                    weight: 2,
                    lines: vec![Line {
                        name: "a sine".into(),
                        color: BLUE,
                        width: 2,
                        points: pts.clone(),
                    }],
                    markers: vec![Marker {
                        x: pts[100].0,
                        label: "step".into(),
                        color: RED,
                        dashed: true,
                    }],
                    levels: vec![Level {
                        x0: pts[0].0,
                        x1: pts[99].0,
                        y: 0.1,
                        label: "before 0.1".into(),
                        color: GREEN,
                        label_below: false,
                    }],
                    bands: vec![Band {
                        x0: pts[10].0,
                        x1: pts[20].0,
                        color: GREY,
                    }],
                    notes: vec![Note {
                        text: "a note".into(),
                        color: DARK,
                        anchor: Anchor::TopLeft,
                    }],
                    zero_line: true,
                    legend: LegendAt::LowerRight,
                },
                Panel {
                    y_label: "°C".into(),
                    weight: 1,
                    ..Panel::default()
                },
            ],
        }
    }

    #[test]
    fn gaps_split_lines_and_buckets_average() {
        assert_eq!(segments(&chart().panels[0].lines[0].points).len(), 2);
        let b = bucket(
            &[(0, 1.0), (1, 3.0), (2, f64::NAN), (3, f64::NAN), (4, 5.0)],
            3,
        );
        assert_eq!(b.len(), 3);
        assert_eq!(b[0], (0, 2.0));
        assert!(b[1].1.is_nan());
        assert_eq!(b[2], (4, 5.0));
    }

    #[test]
    fn y_range_holds_lines_levels_and_zero() {
        let p = &chart().panels[0];
        let (lo, hi) = p.y_range();
        assert!(lo < -0.99 && hi > 0.99);
        let (lo, hi) = Panel::default().y_range();
        assert!(lo < 0.0 && hi > 1.0 && hi < 2.0);
    }

    #[test]
    fn renders_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.png");
        render_png(&chart(), &p).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let svg = render_svg(&chart()).unwrap();
        assert!(svg.contains("Test chart") && svg.contains("a note") && svg.contains("step"));
    }
}
