//! The evidence charts of one meter for the inspector report: its load over the window with the
//! onset marked ([`LoadChart`]), and what the meter charts share (axis, marker, drawing
//! trait). The daily baseload with the detected step is [`super::meter_baseload`], the day x
//! time-of-day heatmap [`super::meter_heatmap`].
//!
//! Each chart is plain data built from a meter's series (tested without drawing: the onset
//! marker sits at the detected slot and date), drawn by one generic plotters function into SVG
//! (a string, inlined in HTML) or PNG (a file, embedded font). Days are local days of the run's
//! zone: the x axis is a [`DayAxis`] whose grid lines fall on local midnights and are labelled
//! with the date, whatever the slot count of a DST day.

use std::ops::Range;
use std::path::Path;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Chart width (px) of every meter chart, SVG and PNG alike.
pub const WIDTH: u32 = 960;
/// Heights (px).
pub const LOAD_HEIGHT: u32 = 280;
pub const BASELOAD_HEIGHT: u32 = 240;
/// Outer margin and y label area (px): the plotting area starts at `MARGIN + Y_LABEL_AREA`.
pub const MARGIN: u32 = 10;
pub const Y_LABEL_AREA: u32 = 56;
pub const X_LABEL_AREA: u32 = 34;
/// At most this many points per load line: longer windows are averaged into buckets (a 90-day
/// window at 15 minutes is 8,640 slots; more points than pixels only bloats the SVG).
pub const MAX_POINTS: usize = 1500;

/// Series colours (colour-blind safe pairs: blue data, red onset, orange levels).
pub use super::palette::{GRID_COLOUR, LEVEL_COLOUR, LOAD_COLOUR, ONSET_COLOUR, TEXT_COLOUR};

/// Why a chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("{chart} chart: {message}")]
pub struct ChartError {
    pub chart: &'static str,
    pub message: String,
}

/// A linear axis over `range` whose key points are given (local midnights, day centres),
/// each with its label.
#[derive(Debug, Clone, PartialEq)]
pub struct DayAxis {
    pub range: Range<f64>,
    /// (position, label), ascending.
    pub ticks: Vec<(f64, String)>,
}

impl DayAxis {
    /// Pixel of `v` in `limit`, as plotters maps it.
    pub fn pixel(&self, v: f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        if span <= 0.0 {
            return limit.0;
        }
        let share = (v - self.range.start) / span;
        limit.0 + (f64::from(limit.1 - limit.0) * share + 1e-3).floor() as i32
    }
}

impl Ranged for DayAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;
    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.pixel(*value, limit)
    }
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let max = hint.max_num_points().max(1);
        let stride = self.ticks.len().div_ceil(max).max(1);
        self.ticks.iter().step_by(stride).map(|t| t.0).collect()
    }
    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

impl ValueFormatter<f64> for DayAxis {
    fn format_ext(&self, value: &f64) -> String {
        self.ticks
            .iter()
            .find(|t| (t.0 - value).abs() < 1e-9)
            .map(|t| t.1.clone())
            .unwrap_or_default()
    }
}

/// `04 Mar` from `2024-03-04` (the input itself when it is not a date).
pub fn short_date(date: &str) -> String {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(|d| d.format("%d %b").to_string())
        .unwrap_or_else(|_| date.to_string())
}

/// An axis in slots with a key point at the first slot of each local day.
pub fn slot_axis(day_of_slot: &[u32], dates: &[String]) -> DayAxis {
    let mut ticks = Vec::new();
    let mut last = None;
    for (s, &d) in day_of_slot.iter().enumerate() {
        if last != Some(d) {
            last = Some(d);
            let label = dates
                .get(d as usize)
                .map_or(String::new(), |x| short_date(x));
            ticks.push((s as f64, label));
        }
    }
    DayAxis {
        range: 0.0..day_of_slot.len().max(1) as f64,
        ticks,
    }
}

/// An axis in days (day `d` spans `[d, d + 1)`), a key point at each day start.
pub fn day_axis(dates: &[String]) -> DayAxis {
    DayAxis {
        range: 0.0..dates.len().max(1) as f64,
        ticks: dates
            .iter()
            .enumerate()
            .map(|(d, x)| (d as f64, short_date(x)))
            .collect(),
    }
}

/// A marked instant: position on the chart's x axis, its local date, and the label drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: f64,
    pub date: String,
    pub label: String,
}

/// A chart drawable on any plotters backend; SVG and PNG come from the same drawing code.
pub trait MeterChart {
    /// Name used in errors and file names (`load`, `heatmap`, `baseload`).
    const NAME: &'static str;
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>;

    /// The chart as an SVG element (`class="chart"`, scales to its container).
    fn svg(&self) -> Result<String, ChartError> {
        super::register_font();
        let err = |e: &dyn std::fmt::Display| ChartError {
            chart: Self::NAME,
            message: e.to_string(),
        };
        let mut s = String::new();
        {
            let root = SVGBackend::with_string(&mut s, self.size()).into_drawing_area();
            self.draw(&root).map_err(|e| err(&e))?;
            root.present().map_err(|e| err(&e))?;
        }
        // `opacity="1"` and `stroke="none"` are SVG's defaults: dropping them makes a
        // 1,440-cell heatmap ~20% smaller.
        Ok(s.replace(" opacity=\"1\"", "")
            .replace(" stroke=\"none\"", "")
            .replacen("<svg ", "<svg class=\"chart\" role=\"img\" ", 1))
    }

    /// The chart as a PNG file at `path`.
    fn png(&self, path: &Path) -> Result<(), ChartError> {
        super::register_font();
        let err = |e: &dyn std::fmt::Display| ChartError {
            chart: Self::NAME,
            message: format!("{}: {e}", path.display()),
        };
        let root = BitMapBackend::new(path, self.size()).into_drawing_area();
        self.draw(&root).map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
        Ok(())
    }
}

pub(super) fn label_style(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&TEXT_COLOUR)
}

/// Load over the whole window (kW), gaps left open, with the onset and the floor since it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadChart {
    /// Runs of consecutive points (x in slots, kW); a gap in the data starts a new run.
    pub runs: Vec<Vec<(f64, f64)>>,
    pub axis: DayAxis,
    pub onset: Option<Marker>,
    /// The floor since the onset: (from x, to x, kW).
    pub floor: Option<(f64, f64, f64)>,
    pub y_max: f64,
}

impl LoadChart {
    /// `kwh` per slot (`NaN` missing), `interval_hours` to turn it into kW, the local day of
    /// each slot and the date of each day; the onset slot (its date is the finding's onset)
    /// and the rig's floor with the slot it holds from (the onset, or the last step when
    /// capacity was added later).
    pub fn new(
        kwh: &[f32],
        interval_hours: f64,
        day_of_slot: &[u32],
        dates: &[String],
        onset_slot: Option<usize>,
        onset_in_window: bool,
        floor: Option<(usize, f64)>,
    ) -> Self {
        let n = kwh.len();
        let bucket = n.div_ceil(MAX_POINTS).max(1);
        let mut y_max = 0.0f64;
        // One point per bucket (the mean of its present slots, NaN without any), then runs.
        let points: Vec<(f64, f64)> = (0..n)
            .step_by(bucket)
            .map(|start| {
                let end = (start + bucket).min(n);
                let (k, sum) = kwh[start..end]
                    .iter()
                    .filter(|v| v.is_finite())
                    .fold((0usize, 0f64), |(k, s), &v| (k + 1, s + f64::from(v)));
                let kw = if k == 0 {
                    f64::NAN
                } else {
                    sum / k as f64 / interval_hours.max(1e-9)
                };
                if kw.is_finite() {
                    y_max = y_max.max(kw);
                }
                (start as f64 + (end - start) as f64 / 2.0, kw)
            })
            .collect();
        let runs = super::gaps::runs(points);
        let onset = onset_slot.filter(|&s| s < n.max(1)).map(|s| {
            let date = day_of_slot
                .get(s)
                .and_then(|&d| dates.get(d as usize))
                .cloned()
                .unwrap_or_default();
            let label = if onset_in_window {
                format!("onset {date}")
            } else {
                "running from the window start".to_string()
            };
            Marker {
                x: s as f64,
                date,
                label,
            }
        });
        let floor = floor
            .filter(|f| f.1.is_finite() && f.1 > 0.0)
            .map(|(from, k)| {
                y_max = y_max.max(k);
                (from.min(n) as f64, n as f64, k)
            });
        LoadChart {
            runs,
            axis: slot_axis(day_of_slot, dates),
            onset,
            floor,
            y_max: (y_max * 1.12).max(0.5),
        }
    }
}

/// Draws a vertical marker with its label at the top of the plotting area.
pub(super) fn draw_marker<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<DayAxis, plotters::coord::types::RangedCoordf64>>,
    m: &Marker,
    y_max: f64,
    colour: RGBColor,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let style = colour.stroke_width(2);
    chart.draw_series(LineSeries::new([(m.x, 0.0), (m.x, y_max)], style))?;
    let right_half = m.x > (chart.x_range().start + chart.x_range().end) / 2.0;
    let pos = if right_half {
        Pos::new(HPos::Right, VPos::Top)
    } else {
        Pos::new(HPos::Left, VPos::Top)
    };
    let offset = if right_half { -4 } else { 4 };
    let text = label_style(13).color(&colour).pos(pos);
    chart.draw_series(std::iter::once(
        EmptyElement::at((m.x, y_max)) + Text::new(m.label.clone(), (offset, 4), text),
    ))?;
    Ok(())
}

impl MeterChart for LoadChart {
    const NAME: &'static str = "load";
    fn size(&self) -> (u32, u32) {
        (WIDTH, LOAD_HEIGHT)
    }
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .margin(MARGIN)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(self.axis.clone(), 0.0..self.y_max)?;
        chart
            .configure_mesh()
            .x_labels(16)
            .y_labels(6)
            .bold_line_style(GRID_COLOUR)
            .light_line_style(WHITE)
            .label_style(label_style(12))
            .axis_desc_style(label_style(13))
            .y_desc("kW")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        for run in &self.runs {
            chart.draw_series(LineSeries::new(run.iter().copied(), LOAD_COLOUR))?;
        }
        if let Some((from, to, kw)) = self.floor {
            chart.draw_series(DashedLineSeries::new(
                [(from, kw), (to, kw)],
                6,
                4,
                LEVEL_COLOUR.stroke_width(2),
            ))?;
        }
        if let Some(m) = &self.onset {
            draw_marker(&mut chart, m, self.y_max, ONSET_COLOUR)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn calendar(days: usize, per_day: usize) -> (Vec<u32>, Vec<String>) {
        let day_of_slot = (0..days * per_day).map(|s| (s / per_day) as u32).collect();
        let dates = (0..days).map(|d| format!("2024-03-{:02}", d + 1)).collect();
        (day_of_slot, dates)
    }

    /// The x pixel of every polyline drawn in `colour`.
    pub(in crate::plot) fn polyline_xs(svg: &str, colour: RGBColor) -> Vec<i32> {
        let stroke = format!(
            "stroke=\"#{:02X}{:02X}{:02X}\"",
            colour.0, colour.1, colour.2
        );
        svg.split("<polyline")
            .skip(1)
            .filter(|p| p.split("/>").next().is_some_and(|t| t.contains(&stroke)))
            .filter_map(|p| {
                let pts = p.split("points=\"").nth(1)?;
                pts.split(',').next()?.trim().parse().ok()
            })
            .collect()
    }

    #[test]
    fn onset_marker_sits_at_the_detected_slot_and_date() {
        let (day_of_slot, dates) = calendar(14, 48);
        let kwh: Vec<f32> = (0..14 * 48)
            .map(|s| if s >= 3 * 48 + 20 { 5.0 } else { 0.1 })
            .collect();
        let c = LoadChart::new(
            &kwh,
            0.5,
            &day_of_slot,
            &dates,
            Some(3 * 48 + 20),
            true,
            Some((3 * 48 + 20, 10.0)),
        );
        let m = c.onset.clone().unwrap();
        assert_eq!(m.x, 164.0);
        assert_eq!(m.date, "2024-03-04");
        assert_eq!(m.label, "onset 2024-03-04");
        assert_eq!(c.floor, Some((164.0, 672.0, 10.0)));
        // In the SVG the red line is where the axis maps slot 164 in the plotting area.
        let svg = c.svg().unwrap();
        let left = (MARGIN + Y_LABEL_AREA) as i32;
        let right = (WIDTH - MARGIN) as i32;
        let expected = c.axis.pixel(164.0, (left, right));
        let xs = polyline_xs(&svg, ONSET_COLOUR);
        assert_eq!(xs.len(), 1, "one onset line");
        assert!((xs[0] - expected).abs() <= 1, "{} vs {expected}", xs[0]);
        // 164 / 672 of the way across.
        let share = f64::from(xs[0] - left) / f64::from(right - left);
        assert!((share - 164.0 / 672.0).abs() < 0.01);
        assert!(svg.starts_with("<svg class=\"chart\""));
    }

    #[test]
    fn gaps_split_the_line_and_long_windows_are_bucketed() {
        let (day_of_slot, dates) = calendar(2, 48);
        let mut kwh = vec![1.0f32; 96];
        kwh[10..20].iter_mut().for_each(|v| *v = f32::NAN);
        let c = LoadChart::new(&kwh, 0.5, &day_of_slot, &dates, None, false, None);
        assert_eq!(c.runs.len(), 2);
        assert_eq!(c.runs[0].len() + c.runs[1].len(), 86);
        assert!(
            (c.runs[0][0].1 - 2.0).abs() < 1e-9,
            "kWh per half hour -> kW"
        );
        let (day_of_slot, dates) = calendar(90, 96);
        let kwh = vec![0.25f32; 90 * 96];
        let c = LoadChart::new(&kwh, 0.25, &day_of_slot, &dates, Some(0), false, None);
        assert!(c.runs[0].len() <= MAX_POINTS);
        assert_eq!(c.onset.unwrap().label, "running from the window start");
        assert_eq!(c.axis.ticks.len(), 90);
        assert_eq!(c.axis.ticks[1], (96.0, "02 Mar".to_string()));
    }

    #[test]
    fn png_renders_with_the_embedded_font() {
        let dir = tempfile::tempdir().unwrap();
        let (day_of_slot, dates) = calendar(3, 48);
        let c = LoadChart::new(&[0.5; 144], 0.5, &day_of_slot, &dates, Some(50), true, None);
        let p = dir.path().join("load.png");
        c.png(&p).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
}
