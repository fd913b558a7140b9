//! What the feature kernels read besides a meter's series: the [`FeatureContext`] of a run (the
//! matrix, each time zone's calendar of the grid, each meter's zone, temperature, tariff and
//! feeder segments) and each meter's [`View`] of it (its own span, in its own zone). Meters with
//! the same zone and span share one view.

use rayon::prelude::*;

use super::calendar::Calendar;
use crate::grid::LoadMatrix;

/// Everything the kernels read besides the series.
#[derive(Debug)]
pub struct FeatureContext<'a> {
    pub matrix: &'a LoadMatrix,
    /// Local calendar of the whole grid in each time zone of the run (index = zone id).
    pub calendars: Vec<&'a Calendar>,
    /// Zone id of each meter (matrix order): index into `calendars`.
    pub zone: Vec<u16>,
    /// Temperature per grid slot (°C), when weather is given.
    pub temperature: Option<&'a [f32]>,
    /// Segment ids per meter (matrix order): tariff and feeder, `None` when unknown.
    pub tariff: Vec<Option<u32>>,
    pub feeder: Vec<Option<u32>>,
}

impl<'a> FeatureContext<'a> {
    /// A context in one time zone, without weather or segments.
    pub fn new(matrix: &'a LoadMatrix, calendar: &'a Calendar) -> Self {
        FeatureContext {
            matrix,
            calendars: vec![calendar],
            zone: vec![0; matrix.n_meters()],
            temperature: None,
            tariff: vec![None; matrix.n_meters()],
            feeder: vec![None; matrix.n_meters()],
        }
    }

    /// Meters in several time zones: `calendars[z]` is the grid's calendar in zone `z`, and
    /// `zone[i]` the zone of meter `i` (every one must index `calendars`).
    pub fn with_zones(mut self, calendars: Vec<&'a Calendar>, zone: Vec<u16>) -> Self {
        debug_assert!(zone.iter().all(|&z| (z as usize) < calendars.len()));
        debug_assert_eq!(zone.len(), self.matrix.n_meters());
        self.calendars = calendars;
        self.zone = zone;
        self
    }

    /// Adds per-slot temperature (averaged per local day; days under half covered are unknown).
    pub fn with_temperature(mut self, per_slot: &'a [f32]) -> Self {
        self.temperature = Some(per_slot);
        self
    }

    /// The view key of meter `i`: its zone and the whole grid days around its first and last
    /// reading (so meters of one region with a reading or two missing share one view).
    fn view_key(&self, i: usize) -> (u16, usize, usize) {
        let m = self.matrix;
        let n_slots = m.grid.n_slots;
        let spd = m.grid.slots_per_day().max(1);
        let row = m.row(i);
        let (lo, hi) = match (
            row.iter().position(|v| !v.is_nan()),
            row.iter().rposition(|v| !v.is_nan()),
        ) {
            (Some(a), Some(b)) => (a / spd * spd, ((b / spd + 1) * spd).min(n_slots)),
            _ => (0, n_slots),
        };
        (self.zone[i], lo, hi)
    }

    /// The view of meter `i` alone.
    pub fn view_of(&self, i: usize) -> View {
        let k = self.view_key(i);
        View::new(
            self.calendars[k.0 as usize],
            k.0,
            k.1..k.2,
            self.temperature,
        )
    }

    /// Each meter's [`View`] (shared by meters with the same zone and span), and the view
    /// index of each meter.
    pub fn views(&self) -> (Vec<View>, Vec<u32>) {
        let keys: Vec<(u16, usize, usize)> = (0..self.matrix.n_meters())
            .into_par_iter()
            .map(|i| self.view_key(i))
            .collect();
        let mut index: std::collections::BTreeMap<(u16, usize, usize), u32> = Default::default();
        let mut views = Vec::new();
        let mut of_meter = Vec::with_capacity(keys.len());
        for k in keys {
            let v = *index.entry(k).or_insert_with(|| {
                views.push(View::new(
                    self.calendars[k.0 as usize],
                    k.0,
                    k.1..k.2,
                    self.temperature,
                ));
                (views.len() - 1) as u32
            });
            of_meter.push(v);
        }
        (views, of_meter)
    }
}

/// A meter's own part of the grid: the whole grid days around its readings, in its own time
/// zone. Spans, coverage, day indices and onsets are the meter's, not the run's (a meter with
/// 35 days of readings in a run spanning two years is judged on its 35 days).
#[derive(Debug, Clone)]
pub struct View {
    /// Zone id (index into [`FeatureContext::calendars`]).
    pub zone: u16,
    /// Grid slot of the view's first slot.
    pub offset: usize,
    /// Local calendar of the view's slots (slot 0 = grid slot `offset`).
    pub calendar: Calendar,
    /// Slot range (view-relative) of each local day.
    pub days: Vec<std::ops::Range<usize>>,
    /// Grid calendar day index of each view day (for dates and day indices in outputs).
    pub grid_day: Vec<u32>,
    /// Mean temperature of each local day (°C), when weather is given.
    pub daily_temp: Option<Vec<f32>>,
}

impl View {
    /// The view of grid slots `range` in zone `zone` (`grid_cal`: the grid's calendar there).
    pub fn new(
        grid_cal: &Calendar,
        zone: u16,
        range: std::ops::Range<usize>,
        temperature: Option<&[f32]>,
    ) -> View {
        let calendar = grid_cal.slice(range.clone());
        let days = calendar.day_ranges();
        let grid_day = days
            .iter()
            .map(|r| {
                grid_cal
                    .day
                    .get(range.start + r.start)
                    .copied()
                    .unwrap_or(0)
            })
            .collect();
        let daily_temp = temperature.map(|t| {
            days.iter()
                .map(|r| {
                    let slots =
                        (range.start + r.start).min(t.len())..(range.start + r.end).min(t.len());
                    let v: Vec<f32> = t[slots].iter().copied().filter(|x| !x.is_nan()).collect();
                    if v.len() * 2 < r.len() {
                        f32::NAN
                    } else {
                        v.iter().sum::<f32>() / v.len() as f32
                    }
                })
                .collect()
        });
        View {
            zone,
            offset: range.start,
            calendar,
            days,
            grid_day,
            daily_temp,
        }
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.calendar.day.len()
    }

    /// True for a view of no slots.
    pub fn is_empty(&self) -> bool {
        self.calendar.day.is_empty()
    }
}
