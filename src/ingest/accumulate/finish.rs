//! [`Accumulator::finish`]: choose the grid, check each meter against it, and build the
//! [`LoadMatrix`], in place when the streamed rows already tile it (rows permuted into id order
//! with one row of scratch), else by one copy that sums finer meters into grid slots (a slot is
//! kept only when complete).

use super::interval::{infer_interval, mode};
use super::*;

/// The coarsest interval the grid takes on its own: meters coarser than an hour (daily
/// registers) hold no daily shape and are quarantined unless `--interval` asks for them.
pub const MAX_AUTO_INTERVAL_SECS: i64 = 3600;

impl Accumulator {
    /// Builds the matrix. Consumes the accumulator.
    pub fn finish(mut self) -> Result<Finished, FinishError> {
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        // 1. Grid interval: configured, else the coarsest interval (up to an hour) among meters
        // resolved from PENDING readings, so a region that mixes meter generations (15, 30,
        // 60 min) keeps every meter: finer meters are summed into the coarser slots, and every
        // meter is judged at one resolution (the same home gives the same features whatever its
        // meter's interval). Else the most common among what the few-reading meters suggest.
        let resolved = self
            .meters
            .iter()
            .filter(|m| m.used > 0)
            .filter_map(|m| m.interval.map(i64::from))
            .filter(|&iv| iv <= MAX_AUTO_INTERVAL_SECS)
            .max()
            .or_else(|| {
                mode(
                    self.meters
                        .iter()
                        .filter(|m| m.used > 0)
                        .filter_map(|m| m.interval.map(i64::from)),
                )
            });
        let suggested = || {
            mode(self.meters.iter().filter_map(|m| {
                let ts = distinct_instants(&m.pending);
                infer_interval(&ts).map(|(iv, _)| i64::from(iv))
            }))
        };
        let interval = self
            .cfg
            .interval_secs
            .or_else(|| resolved.or_else(suggested).map(|i| i as u32));
        // 2. Meters still pending (fewer than PENDING readings) are placed on the grid when
        // their readings fit its lattice.
        if let Some(iv) = interval {
            for m in 0..self.meters.len() {
                if self.meters[m].interval.is_none() && !self.meters[m].pending.is_empty() {
                    self.resolve(m, Some(iv), true);
                }
                // A lone reading off the grid's lattice: no interval to place it on.
                let pending = std::mem::take(&mut self.meters[m].pending);
                if let Some(first) = pending.first() {
                    let t = first.instant();
                    let detail = format!(
                        "{} is not on the grid's {}-minute lattice and one timestamp cannot tell this meter's interval; pass --interval",
                        fmt_instant(t),
                        iv / 60
                    );
                    let id = self.meters[m].id.clone();
                    self.quality.reject(
                        RowLoc::unpack(first.loc),
                        "timestamp",
                        &id,
                        Reason::TooFewReadings,
                        detail,
                        pending.len() as u64,
                    );
                }
            }
        }
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        let Some(interval) = interval.filter(|_| self.quality.readings_used > 0) else {
            // No meter had two distinct readings and no --interval was given: those readings
            // cannot be placed; account for them.
            for m in &mut self.meters {
                let pending = std::mem::take(&mut m.pending);
                if let Some(first) = pending.first() {
                    self.quality.reject(
                        RowLoc::unpack(first.loc),
                        "timestamp",
                        &m.id,
                        Reason::TooFewReadings,
                        "cannot infer this meter's interval from one timestamp; pass --interval",
                        pending.len() as u64,
                    );
                }
            }
            return Err(FinishError::NoData {
                quality: Box::new(self.quality),
            });
        };
        let iv = i64::from(interval);
        // Slot-start instant of a meter's native slot n (slot numbers are start-based).
        let start_of = |m: &Meter, n: i64| m.phase + n * i64::from(m.interval.unwrap_or(interval));
        // 3. Grid phase and span.
        let phase = match self.cfg.window {
            Some((s, _)) => s.rem_euclid(iv),
            None => mode(
                self.meters
                    .iter()
                    .filter(|m| m.used > 0 && m.interval == Some(interval))
                    .map(|m| m.phase.rem_euclid(iv)),
            )
            .unwrap_or(0),
        };
        // 4. Which meters fit the grid.
        let mut keep = vec![false; self.meters.len()];
        for (k, m) in self.meters.iter().enumerate() {
            if m.used == 0 {
                continue;
            }
            let miv = m.interval.unwrap_or(interval);
            let fits = interval % miv == 0 && (phase - m.phase).rem_euclid(i64::from(miv)) == 0;
            if fits {
                keep[k] = true;
                continue;
            }
            let detail = if miv > interval {
                format!(
                    "{}-minute readings are coarser than the {}-minute grid; rerun with --interval {}m to use them",
                    miv / 60,
                    interval / 60,
                    miv / 60
                )
            } else if interval % miv != 0 {
                format!(
                    "{}-minute readings do not divide the {}-minute grid",
                    miv / 60,
                    interval / 60
                )
            } else {
                format!(
                    "readings start at {} past the interval, the grid at {}; check --timestamps-mark",
                    m.phase.rem_euclid(iv) / 60,
                    phase / 60
                )
            };
            let loc = RowLoc::unpack(m.first_loc);
            self.quality.reject(
                RowLoc {
                    file: loc.file,
                    row: 0,
                },
                "timestamp",
                &m.id.clone(),
                Reason::WrongInterval,
                detail,
                m.used + m.far.len() as u64,
            );
            self.quality.unuse(m.used);
        }
        // 4b. Readings held apart while reading (far beyond their meter's row): without a
        // window the dense span decides which are strays; a window says they are all real.
        if self.cfg.window.is_none() {
            self.quarantine_strays(&mut keep, interval);
            self.far_len = 0;
        } else {
            self.far_len = 0;
            for (k, &kept) in keep.iter().enumerate() {
                if kept {
                    for p in std::mem::take(&mut self.meters[k].far) {
                        self.place_with(k, p, true);
                    }
                }
            }
        }
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        if !keep.iter().any(|&k| k) {
            return Err(FinishError::NoData {
                quality: Box::new(self.quality),
            });
        }
        let (grid_start, grid_end) = match self.cfg.window {
            Some((s, e)) => (s, e),
            None => {
                let (mut lo, mut hi) = (i64::MAX, i64::MIN);
                for (k, m) in self.meters.iter().enumerate() {
                    if keep[k] {
                        lo = lo.min(start_of(m, m.min_slot));
                        hi = hi.max(
                            start_of(m, m.max_slot) + i64::from(m.interval.unwrap_or(interval)),
                        );
                    }
                }
                (
                    lo - (lo - phase).rem_euclid(iv),
                    hi + (phase - hi).rem_euclid(iv),
                )
            }
        };
        let n_slots_i = (grid_end - grid_start + iv - 1) / iv;
        let mut order: Vec<usize> = (0..self.meters.len()).filter(|&k| keep[k]).collect();
        order.sort_by(|&a, &b| self.meters[a].id.cmp(&self.meters[b].id));
        if n_slots_i <= 0 {
            return Err(FinishError::NoData {
                quality: Box::new(self.quality),
            });
        }
        let cells = (order.len() as u128) * (n_slots_i as u128);
        if cells > (isize::MAX as u128) / 8 {
            return Err(FinishError::OverBudget(BudgetError {
                what: format!(
                    "a grid of {} meters x {n_slots_i} slots ({} .. {})",
                    order.len(),
                    fmt_instant(grid_start),
                    fmt_instant(grid_end)
                ),
                needed: u64::MAX,
                budget: self.cfg.budget.bytes,
                fix: "narrow the window with --start/--end".into(),
            }));
        }
        let n_slots = usize::try_from(n_slots_i).unwrap_or(usize::MAX);
        let grid = TimeGrid {
            start: grid_start,
            interval_secs: interval,
            n_slots,
        };
        let grid_base = |m: &Meter| (grid_start - m.phase).div_euclid(iv);

        // 5a. In place: every kept meter at the grid interval with a row equal to the grid, rows
        // tiling the arena (no holes), and no rejected meter owning a row.
        let uniform = self
            .meters
            .iter()
            .enumerate()
            .all(|(k, m)| match (keep[k], m.row) {
                (true, Some(r)) => {
                    m.interval == Some(interval)
                        && r.len == n_slots
                        && r.base == grid_base(m)
                        && r.start % n_slots == 0
                }
                (true, None) => false,
                (false, r) => r.is_none(),
            })
            && self.arena.len() == order.len() * n_slots;
        // The matrix (a copy unless the rows are it), its estimated bits, and what is held.
        let held = self.held_bytes();
        let matrix_bytes = cells.saturating_mul(4);
        let bits_bytes = if order.iter().any(|&k| !self.meters[k].estimated.is_empty()) {
            cells / 8 + 8
        } else {
            0
        };
        let need =
            u64::try_from(u128::from(held) + bits_bytes + if uniform { 0 } else { matrix_bytes })
                .unwrap_or(u64::MAX);
        self.cfg.budget.check(
            need,
            || {
                format!(
                    "a grid of {} meters x {} slots of {} min ({} .. {}, {} days)",
                    order.len(),
                    n_slots_i,
                    interval / 60,
                    fmt_instant(grid_start),
                    fmt_instant(grid_end),
                    (grid_end - grid_start) / 86_400
                )
            },
            "narrow the window with --start/--end, split the meters into several runs, or raise \
             --memory-budget",
        )?;
        let values = if uniform {
            // target[arena row] = rank in id order; apply the permutation by cycles.
            let mut target = vec![0usize; order.len()];
            for (rank, &k) in order.iter().enumerate() {
                let r = self.meters[k].row.map_or(0, |r| r.start / n_slots);
                target[r] = rank;
            }
            permute_rows(&mut self.arena, n_slots, &mut target);
            std::mem::take(&mut self.arena)
        } else {
            let len = order.len() * n_slots;
            let mut out: Vec<f32> = Vec::new();
            if out.try_reserve_exact(len).is_err() {
                return Err(FinishError::OverBudget(BudgetError {
                    what: format!(
                        "a grid of {} meters x {n_slots} slots, which the system refused,",
                        order.len()
                    ),
                    needed: need,
                    budget: self.cfg.budget.bytes,
                    fix:
                        "lower --memory-budget to what the machine can give, or narrow the window \
                          with --start/--end"
                            .into(),
                }));
            }
            out.resize(len, f32::NAN);
            let mut sum = vec![0f64; n_slots];
            let mut count = vec![0u16; n_slots];
            let mut partial_meters: Vec<(Box<str>, usize, i64)> = Vec::new();
            for (rank, &k) in order.iter().enumerate() {
                let m = &self.meters[k];
                let Some(r) = m.row else { continue };
                let miv = i64::from(m.interval.unwrap_or(interval));
                let factor = (iv / miv) as u16;
                sum.fill(0.0);
                count.fill(0);
                for (j, &v) in self.arena[r.start..r.start + r.len].iter().enumerate() {
                    if v.is_nan() {
                        continue;
                    }
                    let t = start_of(m, r.base + j as i64);
                    if let Some(g) = grid.slot_of(t) {
                        sum[g] += f64::from(v);
                        count[g] += 1;
                    }
                }
                let dst = &mut out[rank * n_slots..(rank + 1) * n_slots];
                for g in 0..n_slots {
                    if count[g] == factor {
                        dst[g] = sum[g] as f32;
                    }
                }
                let partial = count.iter().filter(|&&c| c > 0 && c < factor).count();
                if partial > 0 {
                    partial_meters.push((m.id.clone(), partial, miv / 60));
                }
            }
            // One note for all meters (a region of finer meters would otherwise print one line
            // per meter).
            if !partial_meters.is_empty() {
                let total: usize = partial_meters.iter().map(|p| p.1).sum();
                let shown: Vec<String> = partial_meters
                    .iter()
                    .take(5)
                    .map(|(id, n, miv)| format!("{id} ({n} of {miv}-min)"))
                    .collect();
                self.quality.notes.push(format!(
                    "{} meters: {total} grid slots had only part of their finer readings and are left missing (e.g. {})",
                    partial_meters.len(),
                    shown.join(", ")
                ));
            }
            out
        };
        let mut estimated = Vec::new();
        if order.iter().any(|&k| !self.meters[k].estimated.is_empty()) {
            estimated = bitset(order.len() * n_slots);
            for (rank, &k) in order.iter().enumerate() {
                let m = &self.meters[k];
                for &n in &m.estimated {
                    if let Some(g) = grid.slot_of(start_of(m, n)) {
                        bitset_set(&mut estimated, rank * n_slots + g);
                    }
                }
            }
        }
        let native_interval = order
            .iter()
            .map(|&k| self.meters[k].interval.unwrap_or(interval))
            .collect();
        let ids: Vec<Box<str>> = order.iter().map(|&k| self.meters[k].id.clone()).collect();
        drop(self.meters);
        let matrix = LoadMatrix::from_parts(grid, ids, values, estimated)?;
        Ok(Finished {
            matrix,
            quality: self.quality,
            native_interval,
            zero_copy: uniform,
        })
    }
}

/// Moves row `r` of `data` (rows of `width`) to row `target[r]`, in place, one row of scratch.
fn permute_rows(data: &mut [f32], width: usize, target: &mut [usize]) {
    let mut tmp = vec![0f32; width];
    for start in 0..target.len() {
        // Follow the cycle through `start`, carrying one row in `tmp`.
        if target[start] == start || target[start] == usize::MAX {
            continue;
        }
        tmp.copy_from_slice(&data[start * width..(start + 1) * width]);
        let mut cur = start;
        loop {
            let dst = target[cur];
            target[cur] = usize::MAX;
            // swap tmp with row dst
            let row = &mut data[dst * width..(dst + 1) * width];
            row.swap_with_slice(&mut tmp);
            cur = dst;
            if cur == start {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_moves_rows() {
        let mut data: Vec<f32> = vec![0., 0., 1., 1., 2., 2.];
        // row 0 -> 2, row 1 -> 0, row 2 -> 1
        permute_rows(&mut data, 2, &mut [2, 0, 1]);
        assert_eq!(data, vec![1., 1., 2., 2., 0., 0.]);
    }
}
