//! Daily baseload of one meter for the inspector report: each local day's floor (5th
//! percentile, as the detection computes it) with the detected step drawn as the level before
//! and after it and a marker on the onset day. DOMAIN.md: "the baseload jumps by about
//! n x device kW and stays". Plain data ([`BaseloadChart`]) drawn by [`MeterChart`].

use plotters::coord::Shift;
use plotters::prelude::*;

use super::meter_charts::{
    day_axis, draw_marker, label_style, DayAxis, Marker, MeterChart, BASELOAD_HEIGHT, GRID_COLOUR,
    LEVEL_COLOUR, LOAD_COLOUR, MARGIN, ONSET_COLOUR, WIDTH, X_LABEL_AREA, Y_LABEL_AREA,
};

/// The detected step of a meter, as the baseload chart draws it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepLevels {
    /// Local day of the onset.
    pub onset_day: Option<usize>,
    /// Whether the onset is a step inside the window (else the rig ran from the start).
    pub in_window: bool,
    /// Floor before the step and the rig's floor now (after the last step), kW.
    pub before_kw: Option<f64>,
    pub after_kw: Option<f64>,
    /// Capacity added later: the day of that step and its size (kW).
    pub growth: Option<(usize, f64)>,
}

/// Daily baseload (each local day's 5th percentile, kW) with the detected step: the level
/// before and after it, the onset day, and a later step when capacity was added.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseloadChart {
    /// Per local day, `NaN` when the day is under-covered.
    pub floors_kw: Vec<f32>,
    pub axis: DayAxis,
    /// Onset at the start of its day (x = day index).
    pub onset: Option<Marker>,
    /// Level segments (from day, to day, kW): before the onset, between steps, after.
    pub levels: Vec<(f64, f64, f64)>,
    /// The later step, when capacity was added.
    pub growth: Option<Marker>,
    pub y_max: f64,
}

impl BaseloadChart {
    pub fn new(floors_kw: Vec<f32>, dates: &[String], step: &StepLevels) -> Self {
        let n = dates.len();
        let fin = |v: Option<f64>| v.filter(|x| x.is_finite());
        let onset_day = step.onset_day.filter(|&d| d < n);
        let split = onset_day.unwrap_or(0) as f64;
        let growth = step
            .growth
            .filter(|g| step.in_window && g.0 < n && g.1.is_finite() && g.1 > 0.0)
            .filter(|g| g.0 as f64 > split);
        let mut levels = Vec::new();
        if let (true, Some(b)) = (step.in_window, fin(step.before_kw)) {
            levels.push((0.0, split, b));
        }
        if let Some(a) = fin(step.after_kw) {
            match growth {
                Some((g, kw)) => {
                    levels.push((split, g as f64, (a - kw).max(0.0)));
                    levels.push((g as f64, n as f64, a));
                }
                None => levels.push((split, n as f64, a)),
            }
        }
        let top = floors_kw
            .iter()
            .filter(|v| v.is_finite())
            .map(|&v| f64::from(v))
            .chain(levels.iter().map(|l| l.2))
            .fold(0.0f64, f64::max);
        let onset = onset_day.map(|d| Marker {
            x: d as f64,
            date: dates[d].clone(),
            label: if step.in_window {
                format!("step on {}", dates[d])
            } else {
                "floor since the window start".to_string()
            },
        });
        let growth = growth.map(|(g, kw)| Marker {
            x: g as f64,
            date: dates[g].clone(),
            label: format!("+{kw:.1} kW on {}", dates[g]),
        });
        BaseloadChart {
            floors_kw,
            axis: day_axis(dates),
            onset,
            levels,
            growth,
            y_max: (top * 1.15).max(0.5),
        }
    }
}

impl MeterChart for BaseloadChart {
    const NAME: &'static str = "baseload";
    fn size(&self) -> (u32, u32) {
        (WIDTH, BASELOAD_HEIGHT)
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
            .y_labels(5)
            .bold_line_style(GRID_COLOUR)
            .light_line_style(WHITE)
            .label_style(label_style(12))
            .axis_desc_style(label_style(13))
            .y_desc("daily floor, kW")
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()?;
        for &(from, to, kw) in &self.levels {
            chart.draw_series(LineSeries::new(
                [(from, kw), (to, kw)],
                LEVEL_COLOUR.stroke_width(3),
            ))?;
        }
        let points: Vec<(f64, f64)> = self
            .floors_kw
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(d, &v)| (d as f64 + 0.5, f64::from(v)))
            .collect();
        chart.draw_series(
            points
                .iter()
                .map(|&p| Circle::new(p, 4, LOAD_COLOUR.filled())),
        )?;
        if let Some(m) = &self.growth {
            draw_marker(&mut chart, m, self.y_max, LEVEL_COLOUR)?;
        }
        if let Some(m) = &self.onset {
            draw_marker(&mut chart, m, self.y_max, ONSET_COLOUR)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::meter_charts::tests::polyline_xs;

    #[test]
    fn baseload_step_is_drawn_at_the_onset_day() {
        let dates: Vec<String> = (1..=14).map(|d| format!("2024-03-{d:02}")).collect();
        let floors: Vec<f32> = (0..14).map(|d| if d >= 3 { 6.3 } else { 0.1 }).collect();
        let step = StepLevels {
            onset_day: Some(3),
            in_window: true,
            before_kw: Some(0.1),
            after_kw: Some(6.3),
            growth: None,
        };
        let c = BaseloadChart::new(floors, &dates, &step);
        assert_eq!(c.onset.as_ref().unwrap().date, "2024-03-04");
        assert_eq!(c.levels, vec![(0.0, 3.0, 0.1), (3.0, 14.0, 6.3)]);
        let svg = c.svg().unwrap();
        let left = (MARGIN + Y_LABEL_AREA) as i32;
        let right = (WIDTH - MARGIN) as i32;
        let xs = polyline_xs(&svg, ONSET_COLOUR);
        assert_eq!(xs, vec![c.axis.pixel(3.0, (left, right))]);
        // Before and after levels start at the window start and at the step.
        let levels = polyline_xs(&svg, LEVEL_COLOUR);
        assert_eq!(levels.len(), 2);
        assert!((levels[1] - xs[0]).abs() <= 1);
        // Without an onset in the window, no "before" level.
        let c = BaseloadChart::new(
            vec![6.0; 14],
            &dates,
            &StepLevels {
                in_window: false,
                ..step
            },
        );
        assert_eq!(c.levels, vec![(3.0, 14.0, 6.3)]);
    }

    #[test]
    fn capacity_added_later_splits_the_after_level() {
        let dates: Vec<String> = (1..=20).map(|d| format!("2024-03-{d:02}")).collect();
        let step = StepLevels {
            onset_day: Some(4),
            in_window: true,
            before_kw: Some(0.2),
            after_kw: Some(6.7),
            growth: Some((12, 3.3)),
        };
        let c = BaseloadChart::new(vec![f32::NAN; 20], &dates, &step);
        assert_eq!(c.levels.len(), 3);
        assert!((c.levels[1].2 - 3.4).abs() < 1e-9 && c.levels[1].1 == 12.0);
        let g = c.growth.clone().unwrap();
        assert_eq!((g.x, g.date.as_str()), (12.0, "2024-03-13"));
        assert_eq!(g.label, "+3.3 kW on 2024-03-13");
        assert_eq!(polyline_xs(&c.svg().unwrap(), ONSET_COLOUR).len(), 1);
    }
}
