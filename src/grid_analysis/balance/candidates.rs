//! Candidate meters for a step in a feeder's residual: a meter whose own load fell when the
//! residual rose (part of its load now bypasses it), or a meter that first appears then (a new
//! connection wired around its meter).
//!
//! Input: the matrix rows of one feeder's meters, the local day ranges and the day of the step.
//! Output: [`Candidate`]s, largest own drop first. A meter's own drop is the best two-sided mean
//! shift of its daily mean load ([`changepoint::best_shift`](super::changepoint::best_shift)).

use std::ops::Range;

use crate::grid::LoadMatrix;
use crate::grid_analysis::changepoint::best_shift;

/// A meter's own drop counts from this size (kW): the smallest rig-sized change a step search
/// calls an onset (`features::steps::MIN_STEP_KW`).
pub const OWN_DROP_MIN_KW: f64 = 0.3;
/// ... and this |t| of the daily means (well clear of day-to-day noise).
pub const OWN_DROP_MIN_T: f64 = 4.0;
/// A meter's change "coincides" with the residual's step within this many days.
pub const DAY_TOLERANCE: usize = 1;
/// Days of a meter's daily mean need this share of slots present.
pub const MIN_DAY_COVERAGE: f64 = 0.5;

/// Why a meter is named.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Why {
    /// Its own daily mean load fell by `kw` from `day`.
    OwnDrop { kw: f64, day: usize },
    /// Its first reading is on `day` (none before).
    NewConnection { day: usize },
}

/// A meter named as a candidate for a feeder's step.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    pub meter_id: String,
    #[serde(flatten)]
    pub why: Why,
}

impl Candidate {
    /// A sentence for reports, with local dates.
    pub fn text(&self, dates: &[String]) -> String {
        let date = |d: usize| dates.get(d).map_or("?", String::as_str).to_string();
        match &self.why {
            Why::OwnDrop { kw, day } => format!(
                "{}: its own load fell {kw:.1} kW on {} (part bypassed?)",
                self.meter_id,
                date(*day)
            ),
            Why::NewConnection { day } => format!(
                "{}: first reading on {} (new connection)",
                self.meter_id,
                date(*day)
            ),
        }
    }
}

/// Daily mean kW of a row (kWh per slot); `NaN` for days under [`MIN_DAY_COVERAGE`].
pub fn daily_mean_kw(row: &[f32], days: &[Range<usize>], hours: f64) -> Vec<f64> {
    days.iter()
        .map(|r| {
            let (s, n) = row[r.clone()]
                .iter()
                .filter(|v| !v.is_nan())
                .fold((0.0, 0usize), |(s, n), v| (s + f64::from(*v), n + 1));
            if n == 0 || (n as f64) < MIN_DAY_COVERAGE * r.len() as f64 {
                f64::NAN
            } else {
                s / n as f64 / hours
            }
        })
        .collect()
}

/// Candidates among `rows` for a step on `step_day`.
pub fn candidates(
    matrix: &LoadMatrix,
    rows: &[usize],
    days: &[Range<usize>],
    step_day: usize,
) -> Vec<Candidate> {
    let hours = matrix.grid.interval_hours();
    let near = |d: usize| d.abs_diff(step_day) <= DAY_TOLERANCE;
    let mut out: Vec<Candidate> = Vec::new();
    for &i in rows {
        let row = matrix.row(i);
        let daily = daily_mean_kw(row, days, hours);
        let first = row
            .iter()
            .position(|v| !v.is_nan())
            .and_then(|s| days.iter().position(|r| r.contains(&s)));
        let id = matrix.meter_ids()[i].to_string();
        if let Some(d) = first.filter(|&d| d > 0 && near(d)) {
            out.push(Candidate {
                meter_id: id,
                why: Why::NewConnection { day: d },
            });
            continue;
        }
        if let Some(sh) = best_shift(&daily, 2, 0.02) {
            if -sh.size() >= OWN_DROP_MIN_KW && sh.t <= -OWN_DROP_MIN_T && near(sh.at) {
                out.push(Candidate {
                    meter_id: id,
                    why: Why::OwnDrop {
                        kw: -sh.size(),
                        day: sh.at,
                    },
                });
            }
        }
    }
    let key = |c: &Candidate| match c.why {
        Why::OwnDrop { kw, .. } => kw,
        Why::NewConnection { .. } => 0.0,
    };
    out.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then_with(|| a.meter_id.cmp(&b.meter_id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::TimeGrid;

    #[test]
    fn own_drop_and_new_connection_are_named() {
        let grid = TimeGrid {
            start: 1_709_251_200,
            interval_secs: 3600,
            n_slots: 24 * 10,
        };
        let days: Vec<Range<usize>> = (0..10).map(|d| d * 24..(d + 1) * 24).collect();
        let n = grid.n_slots;
        let mut values = Vec::new();
        // A: 3.5 kW until day 6, then 0.5 kW (part of it bypassed from day 6).
        values.extend((0..n).map(|s| if s < 6 * 24 { 3.5f32 } else { 0.5 }));
        // B: steady household.
        values.extend((0..n).map(|s| 0.4 + 0.3 * ((s % 24) as f32 / 24.0)));
        // C: first reading on day 5.
        values.extend((0..n).map(|s| if s < 5 * 24 { f32::NAN } else { 1.0 }));
        // D: drops, but on day 2 (not near the step).
        values.extend((0..n).map(|s| if s < 2 * 24 { 3.0f32 } else { 0.3 }));
        let ids: Vec<Box<str>> = vec!["A".into(), "B".into(), "C".into(), "D".into()];
        let m = LoadMatrix::from_parts(grid, ids, values, vec![]).unwrap();
        let c = candidates(&m, &[0, 1, 2, 3], &days, 6);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].meter_id, "A");
        assert!(matches!(c[0].why, Why::OwnDrop { kw, day: 6 } if (kw - 3.0).abs() < 1e-6));
        assert_eq!(c[1].why, Why::NewConnection { day: 5 });
        let dates: Vec<String> = (1..=10).map(|d| format!("2024-03-{d:02}")).collect();
        assert!(c[0].text(&dates).contains("fell 3.0 kW on 2024-03-07"));
    }
}
