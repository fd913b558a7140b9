//! A landing file's matrix split into local days of the site's zone: one [`DayBlock`] per day
//! with readings (its meters in id order, their native intervals, kWh per slot from local
//! midnight, the estimated flags). Input: the file's `LoadMatrix`; output: the day blocks.

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::{day_start, local_day, next_day};
use crate::grid::LoadMatrix;

/// One day of one file's readings.
#[derive(Debug, Clone)]
pub struct DayBlock {
    pub day: NaiveDate,
    pub n_slots: usize,
    pub ids: Vec<Box<str>>,
    pub native: Vec<u32>,
    /// `ids.len() x n_slots`, row-major.
    pub values: Vec<f32>,
    /// Same shape; empty when nothing is estimated.
    pub estimated: Vec<bool>,
}

impl DayBlock {
    pub fn readings(&self) -> i64 {
        self.values.iter().filter(|v| !v.is_nan()).count() as i64
    }
    /// Meters with a reading in the day's last slot (the day's data reached its end).
    pub fn last_slot_meters(&self) -> i64 {
        if self.n_slots == 0 {
            return 0;
        }
        (0..self.ids.len())
            .filter(|&i| !self.values[i * self.n_slots + self.n_slots - 1].is_nan())
            .count() as i64
    }
}

/// Splits a file's matrix into local days of `tz`.
pub fn split_days(m: &LoadMatrix, native: &[u32], tz: Tz) -> Result<Vec<DayBlock>, String> {
    let g = m.grid;
    if g.n_slots == 0 || m.n_meters() == 0 {
        return Ok(Vec::new());
    }
    let iv = i64::from(g.interval_secs);
    let first = local_day(g.start, tz);
    let last = local_day(g.end() - 1, tz);
    let mut out = Vec::new();
    let mut day = first;
    while day <= last {
        let (ds, de) = (day_start(day, tz), day_start(next_day(day), tz));
        if (ds - g.start).rem_euclid(iv) != 0 {
            return Err(format!(
                "local midnight of {day} is not on the {}-minute grid of the readings",
                iv / 60
            ));
        }
        let n = ((de - ds) / iv) as usize;
        let mut ids = Vec::new();
        let mut nat = Vec::new();
        let mut values = Vec::new();
        let mut est = Vec::new();
        let mut any_est = false;
        for i in 0..m.n_meters() {
            let row = m.row(i);
            let mut vals = vec![f32::NAN; n];
            let mut e = vec![false; n];
            let mut present = false;
            for (k, v) in vals.iter_mut().enumerate() {
                let t = ds + k as i64 * iv;
                if let Some(s) = g.slot_of(t) {
                    *v = row[s];
                    if !row[s].is_nan() {
                        present = true;
                        if m.is_estimated(i, s) {
                            e[k] = true;
                            any_est = true;
                        }
                    }
                }
            }
            if present {
                ids.push(m.meter_ids()[i].clone());
                nat.push(native.get(i).copied().unwrap_or(g.interval_secs));
                values.extend(vals);
                est.extend(e);
            }
        }
        if !ids.is_empty() {
            out.push(DayBlock {
                day,
                n_slots: n,
                ids,
                native: nat,
                values,
                estimated: if any_est { est } else { Vec::new() },
            });
        }
        day = next_day(day);
    }
    Ok(out)
}
