//! Placing a reading into its meter's row: the native slot of its instant, the row grown within
//! the shared arena (near readings) or the reading held in the meter's far list (see
//! [`MIN_JUMP_SECS`]; a group of [`FAR_PROMOTE`] far readings grows the row), exact duplicates
//! counted and conflicting ones quarantined, estimated slots marked, the memory budget checked
//! before the arena grows. Inputs: a meter with a known interval and a reading; outputs: the
//! arena cell set, or a quality record.

use super::*;

impl Accumulator {
    /// Native slot of instant `t` for meter `m`, or `None` when off its lattice.
    fn native_slot(&self, m: usize, t: i64) -> Option<i64> {
        let meter = &self.meters[m];
        let iv = i64::from(meter.interval.unwrap_or(1));
        let rel = t - meter.phase;
        if rel.rem_euclid(iv) != 0 {
            return None;
        }
        let n = rel.div_euclid(iv);
        Some(if self.cfg.stamps_mark_end { n - 1 } else { n })
    }

    pub(super) fn place(&mut self, m: usize, p: Pending) {
        self.place_with(m, p, false);
    }

    /// Takes meter `m`'s readings out of its row (as kWh, with their estimated flags; their rows
    /// are not known, only their file) and leaves the meter without a row.
    fn evict_row(&mut self, m: usize) -> Vec<Pending> {
        let meter = &self.meters[m];
        let Some(r) = meter.row else {
            return Vec::new();
        };
        let iv = i64::from(meter.interval.unwrap_or(1));
        let mark = if self.cfg.stamps_mark_end { iv } else { 0 };
        let loc = RowLoc {
            file: RowLoc::unpack(meter.first_loc).file,
            row: 0,
        }
        .pack();
        let estimated: FxHashSet<i64> = meter.estimated.iter().copied().collect();
        let phase = meter.phase;
        let mut out = Vec::with_capacity(meter.used as usize);
        for j in 0..r.len {
            let c = r.start + j;
            let v = self.arena[c];
            if v.is_nan() {
                continue;
            }
            let n = r.base + j as i64;
            out.push(Pending {
                stamp: Stamp::At(phase + n * iv + mark),
                value: f64::from(v),
                estimated: estimated.contains(&n),
                loc,
                kwh: true,
            });
            self.arena[c] = f32::NAN;
        }
        self.quality.readings_used -= out.len() as u64;
        // The span new rows start with was this row's alone: the new row sets it.
        let uiv = iv as u32;
        if self.cfg.window.is_none()
            && self.spans.get(&uiv)
                == Some(&(phase + r.base * iv, phase + (r.base + r.len as i64) * iv))
        {
            self.spans.remove(&uiv);
        }
        let meter = &mut self.meters[m];
        meter.row = None;
        meter.used = 0;
        meter.min_slot = i64::MAX;
        meter.max_slot = i64::MIN;
        meter.estimated.clear();
        meter.last_t = i64::MIN / 2;
        meter.last_n = 0;
        out
    }

    /// Whether native slot `n` lies far beyond meter `m`'s row: more than [`MIN_JUMP_SECS`] or
    /// the row's own length past either end.
    fn is_far(&self, m: usize, n: i64) -> bool {
        let meter = &self.meters[m];
        let Some(r) = meter.row else { return false };
        let iv = i64::from(meter.interval.unwrap_or(1));
        let (lo, hi) = (r.base, r.base + r.len as i64);
        let beyond = if n < lo {
            lo - n
        } else if n >= hi {
            n - hi + 1
        } else {
            return false;
        };
        beyond > (MIN_JUMP_SECS / iv).max(r.len as i64)
    }

    /// Places a reading; `force` grows the row however far the reading lies (the far list's
    /// readings once they make a group, or once the dense span has taken them).
    pub(super) fn place_with(&mut self, m: usize, p: Pending, force: bool) {
        let kwh = if p.kwh {
            p.value
        } else {
            p.value * self.meters[m].kwh_factor
        };
        if kwh > self.meters[m].max_kwh {
            let iv = self.meters[m].interval.unwrap_or(1);
            let hours = f64::from(iv) / 3600.0;
            let detail = format!(
                "{} kWh in {} min = {} kW average, above the {} kW maximum (--max-kw)",
                compact(kwh),
                iv / 60,
                compact(kwh / hours),
                compact(self.cfg.max_kw)
            );
            let id = self.meters[m].id.clone();
            let loc = RowLoc::unpack(p.loc);
            self.quality.reject(
                loc,
                self.cfg.value_column,
                &id,
                Reason::AbovePhysicalMax,
                detail,
                1,
            );
            return;
        }
        let (first, second) = match p.stamp {
            Stamp::At(t) => (t, None),
            Stamp::Ambiguous(a, b) => (a, Some(b)),
        };
        let meter = &self.meters[m];
        let n1 = if first == meter.last_t + i64::from(meter.interval.unwrap_or(1)) {
            Some(meter.last_n + 1)
        } else {
            self.native_slot(m, first)
        };
        let Some(n1) = n1 else {
            let iv = self.meters[m].interval.unwrap_or(1);
            let id = self.meters[m].id.clone();
            let detail = format!(
                "{} is not on this meter's {}-minute interval",
                fmt_instant(first),
                iv / 60
            );
            let loc = RowLoc::unpack(p.loc);
            self.quality
                .reject(loc, "timestamp", &id, Reason::OffInterval, detail, 1);
            return;
        };
        if !force && self.is_far(m, n1) {
            let meter = &mut self.meters[m];
            meter.far.push(p);
            let n_far = meter.far.len();
            self.far_len += 1;
            // Decided at 64 far readings, then each time their number doubles.
            if n_far >= FAR_PROMOTE && n_far.is_power_of_two() {
                self.decide_far_group(m);
            }
            return;
        }
        self.place_near(m, p, n1, first, second, kwh);
    }

    /// A meter's far readings make a group (see [`FAR_PROMOTE`]): it takes the row's place when
    /// the row holds fewer readings (a meter whose first readings were strays: a clock reset to
    /// 1970), the row grows to take it when it is dense enough to be data (the rule of the dense
    /// span, [`strays`]: another month of readings), else it waits for the end.
    fn decide_far_group(&mut self, m: usize) {
        let meter = &self.meters[m];
        let ts = distinct_instants(&meter.far);
        let distinct = ts.len() as u64;
        let iv = i64::from(meter.interval.unwrap_or(1));
        let (row_lo, row_hi) = (
            meter
                .phase
                .saturating_add(meter.min_slot.saturating_mul(iv)),
            meter
                .phase
                .saturating_add(meter.max_slot.saturating_mul(iv)),
        );
        let (far_lo, far_hi) = (ts[0], ts[ts.len() - 1]);
        let added = if far_hi < row_lo {
            row_lo.saturating_sub(far_lo)
        } else {
            far_hi.saturating_sub(row_hi)
        };
        let per_day = 86_400.0 / iv.max(60) as f64;
        let dense =
            distinct as f64 >= strays::MIN_DENSITY * per_day * (added as f64 / 86_400.0).max(1.0);
        if meter.used <= 2 * distinct {
            let far = std::mem::take(&mut self.meters[m].far);
            self.far_len -= far.len();
            let evicted = self.evict_row(m);
            let (first, rest) = bulk_first(far);
            for q in first.into_iter().chain(rest) {
                self.place_with(m, q, false);
            }
            self.far_len += evicted.len();
            self.meters[m].far.extend(evicted);
        } else if dense {
            let far = std::mem::take(&mut self.meters[m].far);
            self.far_len -= far.len();
            for q in far {
                self.place_with(m, q, true);
            }
        }
    }

    /// Places a reading near its meter's row (growing it as needed).
    fn place_near(
        &mut self,
        m: usize,
        p: Pending,
        n1: i64,
        first: i64,
        second: Option<i64>,
        kwh: f64,
    ) {
        let loc = RowLoc::unpack(p.loc);
        // `+ 0.0` turns -0.0 into 0.0, so a `-0` reading equals a `0` one.
        let v = (kwh + 0.0) as f32;
        let Some(cell) = self.cell(m, n1) else {
            return;
        };
        let target = if self.arena[cell].is_nan() {
            Some((cell, n1))
        } else if let Some(t2) = second {
            // Sequential DST policy: the second reading at a repeated local time is the later one.
            match self.native_slot(m, t2) {
                Some(n2) => {
                    let Some(c2) = self.cell(m, n2) else {
                        return;
                    };
                    if self.arena[c2].is_nan() {
                        Some((c2, n2))
                    } else {
                        self.dup_or_conflict(m, c2, v, loc, t2)
                    }
                }
                None => self.dup_or_conflict(m, cell, v, loc, first),
            }
        } else {
            self.dup_or_conflict(m, cell, v, loc, first)
        };
        if let Some((c, n)) = target {
            self.arena[c] = v;
            let meter = &mut self.meters[m];
            if second.is_none() {
                meter.last_t = first;
                meter.last_n = n;
            }
            meter.used += 1;
            meter.min_slot = meter.min_slot.min(n);
            meter.max_slot = meter.max_slot.max(n);
            if p.estimated {
                meter.estimated.push(n);
            }
            self.quality.readings_used += 1;
        }
    }

    /// Handles a second reading for an occupied slot; returns `None` (nothing to place).
    fn dup_or_conflict(
        &mut self,
        m: usize,
        cell: usize,
        v: f32,
        loc: RowLoc,
        t: i64,
    ) -> Option<(usize, i64)> {
        let old = self.arena[cell];
        if old.to_bits() == v.to_bits() {
            self.quality.exact_duplicates += 1;
        } else {
            let id = self.meters[m].id.clone();
            let detail = format!(
                "{} already has {} kWh; this row says {} (first value kept)",
                fmt_instant(t),
                compact32(old),
                compact32(v)
            );
            self.quality.reject(
                loc,
                self.cfg.value_column,
                &id,
                Reason::ConflictingDuplicate,
                detail,
                1,
            );
        }
        None
    }

    /// Arena index of native slot `n` of meter `m`, growing or moving its row as needed;
    /// `None` when the growth would exceed the memory budget (the error is kept).
    fn cell(&mut self, m: usize, n: i64) -> Option<usize> {
        let iv = self.meters[m].interval.unwrap_or(1);
        let ivl = i64::from(iv);
        let phase = self.meters[m].phase;
        match self.meters[m].row {
            Some(r) if n >= r.base && n < r.base + r.len as i64 => {
                Some(r.start + (n - r.base) as usize)
            }
            row => {
                // The span new rows of this interval should cover (instants -> native slots),
                // unless this reading lies far from it.
                let t = phase + n * ivl;
                let span = self
                    .spans
                    .get(&iv)
                    .copied()
                    .filter(|&(s, e)| near_span(s, e, t, t + ivl));
                let (mut lo, mut hi) = (n, n + 1);
                if let Some((s, e)) = span {
                    lo = lo.min((s - phase).div_euclid(ivl));
                    hi = hi.max((e - phase + ivl - 1).div_euclid(ivl));
                }
                if let Some(r) = row {
                    lo = lo.min(r.base);
                    hi = hi.max(r.base + r.len as i64);
                }
                let is_last = row.is_some_and(|r| r.start + r.len == self.arena.len());
                // The last row of the arena grows exactly (the Vec amortises). A row that must
                // move to grow to the right gets room to spare, so a meter whose readings arrive
                // interleaved with others' does not move once per reading.
                let mut alloc_hi = hi;
                if let Some(r) = row {
                    if !is_last && n >= r.base + r.len as i64 {
                        alloc_hi = hi.max(r.base + 2 * r.len as i64);
                    }
                }
                let new_len = (alloc_hi - lo) as usize;
                let arena_len = match row {
                    Some(r) if is_last => r.start + new_len,
                    _ => self.arena.len() + new_len,
                };
                if !self.reserve_arena(arena_len, m, lo, alloc_hi) {
                    return None;
                }
                let new_start = match row {
                    Some(r) if is_last => {
                        // Grow in place at the end of the arena, shifting right if it grew left.
                        self.arena.resize(r.start + new_len, f32::NAN);
                        let shift = (r.base - lo) as usize;
                        if shift > 0 {
                            self.arena
                                .copy_within(r.start..r.start + r.len, r.start + shift);
                            self.arena[r.start..r.start + shift].fill(f32::NAN);
                        }
                        r.start
                    }
                    _ => {
                        let start = self.arena.len();
                        self.arena.resize(start + new_len, f32::NAN);
                        if let Some(r) = row {
                            let dst = start + (r.base - lo) as usize;
                            self.arena.copy_within(r.start..r.start + r.len, dst);
                            self.arena[r.start..r.start + r.len].fill(f32::NAN);
                        }
                        start
                    }
                };
                let new = Row {
                    start: new_start,
                    len: new_len,
                    base: lo,
                };
                self.meters[m].row = Some(new);
                // The span grows with rows near it only: a row that jumped far (a group of far
                // readings) does not make every later row as long.
                let (s, e) = (phase + lo * ivl, phase + hi * ivl);
                match self.spans.get_mut(&iv) {
                    None => {
                        self.spans.insert(iv, (s, e));
                    }
                    Some(entry) => {
                        if near_span(entry.0, entry.1, s, e) {
                            entry.0 = entry.0.min(s);
                            entry.1 = entry.1.max(e);
                        }
                    }
                }
                Some(new.start + (n - lo) as usize)
            }
        }
    }

    /// Makes room for an arena of `len` cells within the budget (capacity grows by doubling,
    /// never past the budget); `false` with the error kept when it does not fit. `m` and its
    /// native slots `lo..hi` name what asked.
    fn reserve_arena(&mut self, len: usize, m: usize, lo: i64, hi: i64) -> bool {
        if len <= self.arena.capacity() {
            return true;
        }
        let others = self.held_bytes() - self.arena.capacity() as u64 * 4;
        let need = others.saturating_add(len as u64 * 4);
        let meter = &self.meters[m];
        let iv = i64::from(meter.interval.unwrap_or(1));
        let check = self.cfg.budget.check(
            need,
            || {
                format!(
                    "reading: the rows of {} meters so far ({} cells; meter {} spans {} .. {})",
                    self.meters.len(),
                    len,
                    meter.id,
                    fmt_instant(meter.phase + lo * iv),
                    fmt_instant(meter.phase + hi * iv)
                )
            },
            "narrow the window with --start/--end (a meter's row covers every slot from its first \
             reading to its last), read fewer meters at once, or raise --memory-budget",
        );
        if let Err(e) = check {
            self.error.get_or_insert(e);
            return false;
        }
        let room = self.cfg.budget.room_for::<f32>(others).max(len);
        let target = (self.arena.capacity().saturating_mul(2)).clamp(len, room);
        let ok = self
            .arena
            .try_reserve_exact(target - self.arena.len())
            .or_else(|_| self.arena.try_reserve_exact(len - self.arena.len()));
        if ok.is_err() {
            self.error.get_or_insert(BudgetError {
                what: format!(
                    "reading: the rows of {} meters so far ({len} cells), which the system refused,",
                    self.meters.len()
                ),
                needed: need,
                budget: self.cfg.budget.bytes,
                fix: "lower --memory-budget to what the machine can give, or narrow the window \
                      with --start/--end"
                    .into(),
            });
            return false;
        }
        true
    }
}

/// Whether instants `s..e` lie within [`MIN_JUMP_SECS`] (or the span's own length) of the span
/// `lo..hi`.
fn near_span(lo: i64, hi: i64, s: i64, e: i64) -> bool {
    let allow = MIN_JUMP_SECS.max(hi - lo);
    s >= lo - allow && e <= hi + allow
}

/// Splits readings into the largest group whose consecutive times (sorted) lie within
/// [`MIN_JUMP_SECS`] of each other and the rest, each in arrival order (which decides between
/// conflicting duplicates).
pub(super) fn bulk_first(pending: Vec<Pending>) -> (Vec<Pending>, Vec<Pending>) {
    let mut ts: Vec<i64> = pending.iter().map(Pending::instant).collect();
    ts.sort_unstable();
    if ts.windows(2).all(|w| w[1] - w[0] <= MIN_JUMP_SECS) {
        return (pending, Vec::new());
    }
    // Groups of the sorted times; the largest one (the earliest of equals).
    let (mut best, mut start) = ((0usize, 0usize), 0usize);
    for i in 1..=ts.len() {
        if i == ts.len() || ts[i] - ts[i - 1] > MIN_JUMP_SECS {
            if i - start > best.1 - best.0 {
                best = (start, i);
            }
            start = i;
        }
    }
    let (lo, hi) = (ts[best.0], ts[best.1 - 1]);
    pending
        .into_iter()
        .partition(|p| (lo..=hi).contains(&p.instant()))
}
