//! [`Accumulator::push_run`]: the hot path for sorted input. A run of one meter's readings that
//! continue its time order into empty slots is placed by a tight loop (no division, no id
//! lookup); anything else falls back to [`Accumulator::push`], so the outcome is the same as
//! pushing each reading.

use super::*;

impl Accumulator {
    /// Adds a run of readings of one meter, as if `push` were called for each: reading `k` is at
    /// `raw[k] / per_sec` seconds with value `values[k] * scale`, from row `first_row + k`.
    /// Readings that continue the meter's time order into empty slots take a tight loop with no
    /// division and no lookup (the sorted-input case); anything else goes through `push`.
    #[allow(clippy::too_many_arguments)]
    pub fn push_run(
        &mut self,
        meter_id: &str,
        raw: &[i64],
        per_sec: i64,
        values: &[f64],
        scale: f64,
        unit: PushUnit,
        file: u32,
        first_row: u64,
    ) {
        let n = raw.len().min(values.len());
        let min_kwh = if self.cfg.allow_negative {
            f64::NEG_INFINITY
        } else {
            0.0
        };
        let (win_lo, win_hi) = match self.cfg.window {
            Some((s, e)) => (s.saturating_mul(per_sec), e.saturating_mul(per_sec)),
            None => (i64::MIN, i64::MAX),
        };
        let end_marked = self.cfg.stamps_mark_end;
        let in_window = |r: i64| {
            if end_marked {
                r > win_lo && r <= win_hi
            } else {
                r >= win_lo && r < win_hi
            }
        };
        let mut k = 0;
        while k < n {
            let loc = RowLoc {
                file,
                row: first_row + k as u64,
            };
            let fast = !meter_id.is_empty() && {
                let m = self.meter_idx(meter_id, unit, loc) as usize;
                let meter = &self.meters[m];
                !meter.unknown && meter.interval.is_some() && meter.row.is_some()
            };
            if fast {
                let m = self.last.unwrap_or(0) as usize;
                let meter = &self.meters[m];
                let iv = i64::from(meter.interval.unwrap_or(1));
                let (factor, max_kwh) = (meter.kwh_factor, meter.max_kwh);
                let row = meter.row.unwrap_or_default();
                let step = iv * per_sec;
                let mut expect = (meter.last_t + iv).checked_mul(per_sec).unwrap_or(i64::MIN);
                let first_n = meter.last_n + 1;
                let mut cur = meter.last_n;
                let k0 = k;
                while k < n {
                    let r = raw[k];
                    let kwh = values[k] * scale * factor;
                    if r != expect || !(kwh >= min_kwh && kwh <= max_kwh) || !in_window(r) {
                        break;
                    }
                    let off = cur + 1 - row.base;
                    if off < 0 || off >= row.len as i64 {
                        break;
                    }
                    let c = row.start + off as usize;
                    if !self.arena[c].is_nan() {
                        break;
                    }
                    self.arena[c] = (kwh + 0.0) as f32;
                    cur += 1;
                    expect += step;
                    k += 1;
                }
                let placed = (k - k0) as u64;
                if placed > 0 {
                    let meter = &mut self.meters[m];
                    meter.last_t += placed as i64 * iv;
                    meter.last_n = cur;
                    meter.min_slot = meter.min_slot.min(first_n);
                    meter.max_slot = meter.max_slot.max(cur);
                    meter.used += placed;
                    self.quality.readings_used += placed;
                }
                if k >= n {
                    break;
                }
            }
            // The general path for this one reading.
            let loc = RowLoc {
                file,
                row: first_row + k as u64,
            };
            self.push(
                meter_id,
                Stamp::At(raw[k].div_euclid(per_sec)),
                values[k] * scale,
                unit,
                false,
                loc,
            );
            k += 1;
        }
    }
}
