//! The day x time-of-day heatmap of one meter: one row per local day, one column per half hour
//! (or per interval, when coarser), colour = mean kW. A rig is a band of one colour from its
//! onset row down; a household shows evening peaks; grow lights a 12/12 block; a night-tariff
//! rig a block from midnight to six. Missing cells stay grey (never zero).
//!
//! Input: kWh per slot, the local day and local minute of day of each slot (from the run's
//! zone: a DST day has one hour more or less, and its cells are averaged, not shifted).
//! Colours: viridis (perceptually uniform, readable in grey print), capped at the 99th
//! percentile so a single spike does not wash the rest out.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::meter_charts::{
    short_date, DayAxis, MeterChart, MARGIN, ONSET_COLOUR, TEXT_COLOUR, WIDTH, X_LABEL_AREA,
    Y_LABEL_AREA,
};

/// Width of the colour legend at the right (px).
pub const LEGEND_WIDTH: u32 = 90;
/// Finest column: half an hour (15-minute grids are averaged to half hours).
pub const MIN_COL_MINUTES: u32 = 30;
pub use super::palette::MISSING_COLOUR;

/// Viridis at six stops (matplotlib's `viridis`, 0, 0.2, ..., 1).
const VIRIDIS: [(u8, u8, u8); 6] = [
    (68, 1, 84),
    (65, 68, 135),
    (42, 120, 142),
    (34, 168, 132),
    (122, 209, 81),
    (253, 231, 37),
];

/// Viridis colour of `t` in [0, 1] (clamped).
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - i as f64;
    let lerp = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// Mean kW per (local day, time-of-day column).
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub dates: Vec<String>,
    pub cols: usize,
    pub col_minutes: u32,
    /// Day-major, `NaN` = no reading in the cell.
    pub cells: Vec<f32>,
    /// Top of the colour scale (kW): the 99th percentile of the cells.
    pub scale_kw: f64,
    pub onset_day: Option<usize>,
}

impl Heatmap {
    /// `minute_of_day` is the local minute (0..1440) of each slot's start.
    pub fn new(
        kwh: &[f32],
        interval_hours: f64,
        day_of_slot: &[u32],
        minute_of_day: &[u16],
        dates: &[String],
        onset_day: Option<usize>,
    ) -> Self {
        let interval_min = (interval_hours * 60.0).round().max(1.0) as u32;
        let col_minutes = interval_min.clamp(MIN_COL_MINUTES, 1440);
        let cols = (1440 / col_minutes).max(1) as usize;
        let n_days = dates.len();
        let mut sum = vec![0f64; n_days * cols];
        let mut count = vec![0u32; n_days * cols];
        for (s, &v) in kwh.iter().enumerate() {
            let (Some(&d), Some(&m)) = (day_of_slot.get(s), minute_of_day.get(s)) else {
                continue;
            };
            let c = (u32::from(m) / col_minutes) as usize;
            if !v.is_finite() || d as usize >= n_days || c >= cols {
                continue;
            }
            let k = d as usize * cols + c;
            sum[k] += f64::from(v) / interval_hours.max(1e-9);
            count[k] += 1;
        }
        let cells: Vec<f32> = sum
            .iter()
            .zip(&count)
            .map(|(s, &n)| {
                if n == 0 {
                    f32::NAN
                } else {
                    (s / f64::from(n)) as f32
                }
            })
            .collect();
        let mut sorted: Vec<f32> = cells.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f32::total_cmp);
        let scale_kw = sorted
            .get((sorted.len() as f64 * 0.99) as usize)
            .or(sorted.last())
            .map_or(1.0, |&v| f64::from(v))
            .max(0.1);
        Heatmap {
            dates: dates.to_vec(),
            cols,
            col_minutes,
            cells,
            scale_kw,
            onset_day: onset_day.filter(|&d| d < n_days),
        }
    }

    /// Row height (px): the chart grows with the window, within bounds.
    fn row_px(&self) -> u32 {
        (260 / self.dates.len().max(1) as u32).clamp(4, 18)
    }

    /// Top of day `d`'s row on the y axis (rows run down from the first day).
    fn row_top(&self, d: usize) -> f64 {
        (self.dates.len() - d) as f64
    }
}

impl MeterChart for Heatmap {
    const NAME: &'static str = "heatmap";
    fn size(&self) -> (u32, u32) {
        let h = self.dates.len() as u32 * self.row_px() + X_LABEL_AREA + 2 * MARGIN + 4;
        (WIDTH, h.max(160))
    }
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let (main, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let n = self.dates.len();
        let hours = DayAxis {
            range: 0.0..24.0,
            ticks: (0..=8)
                .map(|i| (f64::from(i * 3), format!("{:02}:00", (i * 3) % 24)))
                .collect(),
        };
        // Day rows, first day at the top; a label at each row's middle, ascending positions.
        let days = DayAxis {
            range: 0.0..n.max(1) as f64,
            ticks: (0..n)
                .rev()
                .map(|d| (self.row_top(d) - 0.5, short_date(&self.dates[d])))
                .collect(),
        };
        let style = ("sans-serif", 12).into_font().color(&TEXT_COLOUR);
        let mut chart = ChartBuilder::on(&main)
            .margin(MARGIN)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(hours, days)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(9)
            .y_labels(16)
            .label_style(style.clone())
            .draw()?;
        let w = 24.0 / self.cols as f64;
        chart.draw_series((0..n * self.cols).map(|k| {
            let (d, c) = (k / self.cols, k % self.cols);
            let v = self.cells[k];
            let colour = if v.is_finite() {
                viridis(f64::from(v) / self.scale_kw)
            } else {
                MISSING_COLOUR
            };
            let top = self.row_top(d);
            Rectangle::new(
                [(c as f64 * w, top), ((c + 1) as f64 * w, top - 1.0)],
                colour.filled(),
            )
        }))?;
        if let Some(d) = self.onset_day {
            let top = self.row_top(d);
            chart.draw_series(LineSeries::new(
                [(0.0, top), (24.0, top)],
                ONSET_COLOUR.stroke_width(2),
            ))?;
        }
        // Legend: a vertical bar from 0 (bottom) to the scale top.
        let (_, lh) = legend.dim_in_pixel();
        let (top, bottom) = (
            MARGIN as i32 + 14,
            lh as i32 - X_LABEL_AREA as i32 - MARGIN as i32,
        );
        let steps = 40;
        for i in 0..steps {
            let y0 = bottom - (bottom - top) * i / steps;
            let y1 = bottom - (bottom - top) * (i + 1) / steps;
            let colour = viridis((f64::from(i) + 0.5) / f64::from(steps));
            legend.draw(&Rectangle::new([(10, y1), (26, y0)], colour.filled()))?;
        }
        let fmt = |v: f64| {
            if v >= 10.0 {
                format!("{v:.0} kW")
            } else {
                format!("{v:.1} kW")
            }
        };
        legend.draw(&Text::new(fmt(self.scale_kw), (30, top - 6), style.clone()))?;
        legend.draw(&Text::new(fmt(0.0), (30, bottom - 8), style.clone()))?;
        legend.draw(&Text::new("mean kW", (4, top - 26 + 6), style))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_average_slots_and_keep_gaps() {
        let dates: Vec<String> = (1..=2).map(|d| format!("2024-03-{d:02}")).collect();
        // 15-minute grid: averaged into half-hour columns.
        let day_of_slot: Vec<u32> = (0..192).map(|s| (s / 96) as u32).collect();
        let minute: Vec<u16> = (0..192).map(|s| ((s % 96) * 15) as u16).collect();
        let mut kwh: Vec<f32> = (0..192)
            .map(|s| if s % 2 == 0 { 0.25 } else { 0.5 })
            .collect();
        kwh[96..100].iter_mut().for_each(|v| *v = f32::NAN);
        let h = Heatmap::new(&kwh, 0.25, &day_of_slot, &minute, &dates, Some(1));
        assert_eq!((h.cols, h.col_minutes), (48, 30));
        assert!((h.cells[0] - 1.5).abs() < 1e-6, "mean of 1 kW and 2 kW");
        assert!(h.cells[48].is_nan() && h.cells[49].is_nan());
        assert!((h.cells[50] - 1.5).abs() < 1e-6);
        assert_eq!(h.onset_day, Some(1));
        let svg = h.svg().unwrap();
        assert!(svg.contains("#EEEEEE"), "missing cells are grey");
        assert!(svg.contains("02 Mar"));
    }

    #[test]
    fn colour_scale_is_clamped() {
        assert_eq!(viridis(-1.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(2.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), RGBColor(68, 1, 84));
        assert_eq!(viridis(0.2), RGBColor(65, 68, 135));
    }
}
