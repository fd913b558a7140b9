//! The streaming accumulator: readings in, [`LoadMatrix`] out, never holding the long table.
//!
//! Readers call [`Accumulator::push`] once per reading, in any order. Each meter keeps one row of
//! `f32` at its *native* interval inside a shared arena (`NaN` = not yet seen). Its interval is
//! inferred from its first [`PENDING`] readings ([`infer_interval`]: in any order, robust to gaps
//! and a stray reading); those are buffered, then replayed.
//! [`Accumulator::finish`] picks the grid (configured, or the most common meter interval), sums
//! finer meters into it (a slot is kept only when complete), quarantines meters whose interval
//! does not fit, and sorts meters by id.
//!
//! Memory: when meters share one span and interval (the nightly-batch case, or any `--start`/
//! `--end` window) the arena rows *are* the matrix: rows are permuted in place into id order, so
//! peak memory is one matrix plus one row. Otherwise rows are copied once into the matrix.
//!
//! Every reading pushed ends up used, quarantined (with a [`Reason`]) or counted as an exact
//! duplicate; the [`QualityLog`] counts reconcile.

use rustc_hash::{FxHashMap, FxHashSet};

use super::quality::{QualityLog, Reason, RowLoc};
use super::time::{AmbiguousPolicy, Stamp};
use crate::grid::{bitset, bitset_set, LoadMatrix, MatrixError, TimeGrid, UnixSecs};

/// Readings buffered per meter before its interval is inferred from time-ordered readings.
pub const PENDING: usize = 8;
/// Readings buffered at most when they arrive out of order: the interval is then voted on
/// (8 random readings of a half-hourly meter all sit on the hourly lattice 1 time in 128, and
/// 6 of 8 do 29% of the time; 58 of 64 essentially never).
pub const PENDING_MAX: usize = 64;

/// Unit of pushed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushUnit {
    /// kWh in the interval.
    Kwh,
    /// Average kW over the interval (converted with the meter's interval).
    Kw,
}

/// What the accumulator checks and how it builds the grid.
#[derive(Debug, Clone)]
pub struct AccumulatorConfig {
    /// Grid interval in seconds; `None` = the most common meter interval.
    pub interval_secs: Option<u32>,
    /// Keep readings in `[start, end)` only; also fixes the grid span.
    pub window: Option<(UnixSecs, UnixSecs)>,
    /// Readings above this average power (kW) are quarantined as physically implausible.
    pub max_kw: f64,
    /// Accept negative values (net export) instead of quarantining them.
    pub allow_negative: bool,
    /// Timestamps mark the interval end (`true`) rather than its start.
    pub stamps_mark_end: bool,
    /// When set, readings of meters not in this set are quarantined (unknown meter).
    pub known_meters: Option<FxHashSet<Box<str>>>,
    /// Column names used in data-quality records.
    pub value_column: &'static str,
}

impl Default for AccumulatorConfig {
    fn default() -> Self {
        AccumulatorConfig {
            interval_secs: None,
            window: None,
            max_kw: 2000.0,
            allow_negative: false,
            stamps_mark_end: false,
            known_meters: None,
            value_column: "kwh",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    stamp: Stamp,
    value: f64,
    estimated: bool,
    loc: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Row {
    start: usize,
    len: usize,
    /// Absolute native slot number of the row's first cell.
    base: i64,
}

#[derive(Debug)]
struct Meter {
    id: Box<str>,
    unit: PushUnit,
    /// Native interval (seconds) once inferred.
    interval: Option<u32>,
    /// Instants of this meter's slot starts are `phase + k * interval`.
    phase: i64,
    row: Option<Row>,
    pending: Vec<Pending>,
    /// Native slots (absolute numbers) holding estimated values.
    estimated: Vec<i64>,
    used: u64,
    min_slot: i64,
    max_slot: i64,
    first_loc: u64,
    /// Readings rejected because the meter is unknown to the metadata.
    unknown: bool,
    /// Last placed instant and its native slot: the next reading of a time-sorted meter is
    /// `last_t + interval`, found without a division.
    last_t: i64,
    last_n: i64,
    /// kWh per pushed unit (1, or the interval in hours for kW) and the kWh ceiling per slot.
    kwh_factor: f64,
    max_kwh: f64,
}

/// Streaming builder of a [`LoadMatrix`]; see the module docs.
#[derive(Debug)]
pub struct Accumulator {
    cfg: AccumulatorConfig,
    meters: Vec<Meter>,
    index: FxHashMap<Box<str>, u32>,
    last: Option<u32>,
    arena: Vec<f32>,
    /// Union span (instants) of rows so far, per native interval: new rows start with it.
    spans: FxHashMap<u32, (i64, i64)>,
    pub quality: QualityLog,
}

/// The result of [`Accumulator::finish`].
#[derive(Debug)]
pub struct Finished {
    pub matrix: LoadMatrix,
    pub quality: QualityLog,
    /// Per kept meter (matrix order): its native interval in seconds.
    pub native_interval: Vec<u32>,
    /// Whether the in-place (no copy) path built the matrix.
    pub zero_copy: bool,
}

/// Why no matrix could be built at all.
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    /// Nothing usable; the log says why for every reading.
    #[error("no usable readings")]
    NoData { quality: Box<QualityLog> },
    #[error(
        "grid too large: {meters} meters x {slots} slots; narrow the window with --start/--end"
    )]
    TooLarge { meters: usize, slots: i64 },
    #[error(transparent)]
    Matrix(#[from] MatrixError),
}

impl Accumulator {
    pub fn new(cfg: AccumulatorConfig) -> Self {
        let mut spans = FxHashMap::default();
        if let (Some((s, e)), Some(i)) = (cfg.window, cfg.interval_secs) {
            spans.insert(i, (s, e));
        }
        Accumulator {
            cfg,
            meters: Vec::new(),
            index: FxHashMap::default(),
            last: None,
            arena: Vec::new(),
            spans,
            quality: QualityLog::default(),
        }
    }

    pub fn config(&self) -> &AccumulatorConfig {
        &self.cfg
    }

    /// Number of distinct meter ids seen so far (including rejected ones).
    pub fn meters_seen(&self) -> usize {
        self.meters.len()
    }

    fn meter_idx(&mut self, id: &str, unit: PushUnit, loc: RowLoc) -> u32 {
        if let Some(l) = self.last {
            if &*self.meters[l as usize].id == id {
                return l;
            }
        }
        let idx = match self.index.get(id) {
            Some(&i) => i,
            None => {
                let i = self.meters.len() as u32;
                let unknown = self
                    .cfg
                    .known_meters
                    .as_ref()
                    .is_some_and(|k| !k.contains(id));
                self.meters.push(Meter {
                    id: id.into(),
                    unit,
                    interval: None,
                    phase: 0,
                    row: None,
                    pending: Vec::with_capacity(PENDING),
                    estimated: Vec::new(),
                    used: 0,
                    min_slot: i64::MAX,
                    max_slot: i64::MIN,
                    first_loc: loc.pack(),
                    unknown,
                    last_t: i64::MIN / 2,
                    last_n: 0,
                    kwh_factor: 1.0,
                    max_kwh: 0.0,
                });
                self.index.insert(id.into(), i);
                i
            }
        };
        self.last = Some(idx);
        idx
    }

    /// Adds one reading. The caller has counted it in `quality.readings_read` and parsed it;
    /// range checks, duplicates and placement happen here.
    pub fn push(
        &mut self,
        meter_id: &str,
        stamp: Stamp,
        value: f64,
        unit: PushUnit,
        estimated: bool,
        loc: RowLoc,
    ) {
        let col = self.cfg.value_column;
        if meter_id.is_empty() {
            self.quality.reject(
                loc,
                "meter_id",
                "",
                Reason::MissingMeterId,
                "empty meter id",
                1,
            );
            return;
        }
        if !value.is_finite() {
            self.quality.reject(
                loc,
                col,
                meter_id,
                Reason::NotFinite,
                format!("value {value}"),
                1,
            );
            return;
        }
        if value < 0.0 && !self.cfg.allow_negative {
            self.quality.reject(
                loc,
                col,
                meter_id,
                Reason::Negative,
                format!("value {value}; use --allow-negative if the meter records net export"),
                1,
            );
            return;
        }
        if let Some((s, e)) = self.cfg.window {
            let t = match stamp {
                Stamp::At(t) | Stamp::Ambiguous(t, _) => t,
            };
            // End-marked stamps label (t - interval, t]: the window is (start, end] for them.
            let outside = if self.cfg.stamps_mark_end {
                t <= s || t > e
            } else {
                t < s || t >= e
            };
            if outside {
                self.quality.reject(
                    loc,
                    "timestamp",
                    meter_id,
                    Reason::OutsideWindow,
                    fmt_instant(t),
                    1,
                );
                return;
            }
        }
        let m = self.meter_idx(meter_id, unit, loc) as usize;
        if self.meters[m].unknown {
            self.quality.reject(
                loc,
                "meter_id",
                meter_id,
                Reason::UnknownMeter,
                "meter not in the meters file; add it there or drop --meters",
                1,
            );
            return;
        }
        let p = Pending {
            stamp,
            value,
            estimated,
            loc: loc.pack(),
        };
        if self.meters[m].interval.is_some() {
            self.place(m, p);
        } else {
            self.meters[m].pending.push(p);
            let n = self.meters[m].pending.len();
            // Retry at powers of two past the cap (many copies of one timestamp cannot be
            // resolved until another timestamp arrives).
            if n == PENDING || (n >= PENDING_MAX && n.is_power_of_two()) {
                self.resolve(m, None, n >= PENDING_MAX);
            }
        }
    }

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

    /// Infers the meter's interval and phase from its pending readings and replays them.
    /// Without `settle`, only time-ordered evidence is accepted (more readings are awaited
    /// otherwise). `fallback` (the grid interval) serves meters with under three timestamps.
    fn resolve(&mut self, m: usize, fallback: Option<u32>, settle: bool) -> bool {
        let pending = std::mem::take(&mut self.meters[m].pending);
        let mut ts: Vec<i64> = pending
            .iter()
            .map(|p| match p.stamp {
                Stamp::At(t) | Stamp::Ambiguous(t, _) => t,
            })
            .collect();
        ts.sort_unstable();
        ts.dedup();
        let found = ordered_interval(&ts).or_else(|| {
            let share = if ts.len() >= PENDING_MAX { 0.9 } else { 0.75 };
            settle.then(|| voted_interval(&ts, share)).flatten()
        });
        let chosen = match (fallback, found) {
            // Two timestamps a day apart would look like daily data: a meter with so few
            // readings is placed on the grid when they sit on its lattice.
            (Some(f), _) if ts.len() < 3 && lattice_share(&ts, f).0 == ts.len() => {
                Some((f, lattice_share(&ts, f).1))
            }
            (_, Some(found)) => Some(found),
            (Some(f), None) if settle => Some((f, lattice_share(&ts, f).1)),
            _ => None,
        };
        let Some((interval, phase)) = chosen else {
            self.meters[m].pending = pending;
            return false;
        };
        let hours = f64::from(interval) / 3600.0;
        let max_kwh = self.cfg.max_kw * hours;
        let meter = &mut self.meters[m];
        meter.interval = Some(interval);
        meter.phase = phase;
        meter.kwh_factor = match meter.unit {
            PushUnit::Kwh => 1.0,
            PushUnit::Kw => hours,
        };
        meter.max_kwh = max_kwh;
        for p in pending {
            self.place(m, p);
        }
        true
    }

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

    fn place(&mut self, m: usize, p: Pending) {
        let kwh = p.value * self.meters[m].kwh_factor;
        if kwh > self.meters[m].max_kwh {
            let iv = self.meters[m].interval.unwrap_or(1);
            let hours = f64::from(iv) / 3600.0;
            let detail = format!(
                "{:.3} kWh in {} min = {:.1} kW average, above the {} kW maximum (--max-kw)",
                kwh,
                iv / 60,
                kwh / hours,
                self.cfg.max_kw
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
        let loc = RowLoc::unpack(p.loc);
        // `+ 0.0` turns -0.0 into 0.0, so a `-0` reading equals a `0` one.
        let v = (kwh + 0.0) as f32;
        let cell = self.cell(m, n1);
        let target = if self.arena[cell].is_nan() {
            Some((cell, n1))
        } else if let Some(t2) = second {
            // Sequential DST policy: the second reading at a repeated local time is the later one.
            match self.native_slot(m, t2) {
                Some(n2) => {
                    let c2 = self.cell(m, n2);
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
                "{} already has {old} kWh; this row says {v} (first value kept)",
                fmt_instant(t)
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

    /// Arena index of native slot `n` of meter `m`, growing or moving its row as needed.
    fn cell(&mut self, m: usize, n: i64) -> usize {
        let iv = self.meters[m].interval.unwrap_or(1);
        let ivl = i64::from(iv);
        let phase = self.meters[m].phase;
        match self.meters[m].row {
            Some(r) if n >= r.base && n < r.base + r.len as i64 => r.start + (n - r.base) as usize,
            row => {
                // The span new rows of this interval should cover (instants -> native slots).
                let span = self.spans.get(&iv).copied();
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
                let (s, e) = (phase + lo * ivl, phase + hi * ivl);
                let entry = self.spans.entry(iv).or_insert((s, e));
                entry.0 = entry.0.min(s);
                entry.1 = entry.1.max(e);
                new.start + (n - lo) as usize
            }
        }
    }

    /// Builds the matrix. Consumes the accumulator.
    pub fn finish(mut self) -> Result<Finished, FinishError> {
        // 1. Grid interval: configured, else the most common interval among meters resolved
        // from PENDING readings, else among what the few-reading meters suggest.
        let resolved = mode(
            self.meters
                .iter()
                .filter(|m| m.used > 0)
                .filter_map(|m| m.interval.map(i64::from)),
        );
        let suggested = || {
            mode(self.meters.iter().filter_map(|m| {
                let mut ts: Vec<i64> = m
                    .pending
                    .iter()
                    .map(|p| match p.stamp {
                        Stamp::At(t) | Stamp::Ambiguous(t, _) => t,
                    })
                    .collect();
                ts.sort_unstable();
                ts.dedup();
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
            }
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
                m.used,
            );
            self.quality.unuse(m.used);
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
        if n_slots_i <= 0 || (order.len() as i128) * (n_slots_i as i128) > (isize::MAX as i128) / 8
        {
            return Err(FinishError::TooLarge {
                meters: order.len(),
                slots: n_slots_i,
            });
        }
        let n_slots = n_slots_i as usize;
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
            let mut out = vec![f32::NAN; order.len() * n_slots];
            let mut sum = vec![0f64; n_slots];
            let mut count = vec![0u16; n_slots];
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
                    self.quality.notes.push(format!(
                        "meter {}: {partial} slots had only part of their {}-minute readings and are left missing",
                        m.id,
                        miv / 60
                    ));
                }
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

/// Meter intervals considered: whole minutes that divide a day, largest first.
fn day_divisors_desc() -> impl Iterator<Item = u32> {
    (1..=1440u32)
        .rev()
        .filter(|m| 1440 % m == 0)
        .map(|m| m * 60)
}

/// How many of `ts` share the most common phase on an `interval` lattice, and that phase.
fn lattice_share(ts: &[i64], interval: u32) -> (usize, i64) {
    let iv = i64::from(interval);
    let mut counts: FxHashMap<i64, usize> = FxHashMap::default();
    for t in ts {
        *counts.entry(t.rem_euclid(iv)).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or((0, 0), |(phase, n)| (n, phase))
}

/// The interval of time-ordered readings (sorted distinct `ts`): every step is a multiple of
/// one standard interval (a divisor of a day) and some step equals it, i.e. two readings are
/// adjacent. Consecutive readings give this at once; a stray off-lattice reading or readings
/// sampled out of order do not, and then [`voted_interval`] decides on more readings.
pub(crate) fn ordered_interval(ts: &[i64]) -> Option<(u32, i64)> {
    if ts.len() < 2 {
        return None;
    }
    let g = ts.iter().fold(0i64, |g, t| gcd(g, t - ts[0]));
    let min_step = ts.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(0);
    (g >= 60 && 86_400 % g == 0 && min_step == g).then(|| (g as u32, ts[0].rem_euclid(g)))
}

/// The largest standard interval on whose lattice at least `share` of `ts` lie: order does not
/// matter, a stray reading does not shrink the interval, gaps do not stretch it. With no
/// interval reaching `share`, the one with the best agreement (at least 5 minutes).
pub(crate) fn voted_interval(ts: &[i64], share: f64) -> Option<(u32, i64)> {
    if ts.len() < 2 {
        return None;
    }
    let need = ((ts.len() as f64) * share).ceil() as usize;
    day_divisors_desc()
        .find_map(|iv| {
            let (n, phase) = lattice_share(ts, iv);
            (n >= 2 && n >= need).then_some((iv, phase))
        })
        .or_else(|| {
            day_divisors_desc()
                .filter(|&iv| iv >= 300)
                .map(|iv| (iv, lattice_share(ts, iv)))
                .max_by_key(|&(iv, (n, _))| (n, iv))
                .map(|(iv, (_, phase))| (iv, phase))
        })
}

/// The interval of a meter's first readings: ordered evidence, else a 3-in-4 vote.
pub(crate) fn infer_interval(ts: &[i64]) -> Option<(u32, i64)> {
    ordered_interval(ts).or_else(|| voted_interval(ts, 0.75))
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The most common value (ties: the smallest).
fn mode(it: impl Iterator<Item = i64>) -> Option<i64> {
    let mut counts: FxHashMap<i64, u64> = FxHashMap::default();
    for v in it {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(v, _)| v)
}

/// `2024-03-31T01:30:00Z`.
pub fn fmt_instant(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// Ambiguous-time policy re-exported for readers that build stamps themselves.
pub type Policy = AmbiguousPolicy;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_inference_ignores_order_gaps_and_strays() {
        let half = |k: i64| 1_700_000_000 - 1_700_000_000 % 1800 + k * 1800;
        let sorted: Vec<i64> = (0..8).map(half).collect();
        assert_eq!(infer_interval(&sorted).map(|x| x.0), Some(1800));
        let mut shuffled: Vec<i64> = [37, 2, 811, 90, 5, 440, 1200, 63].map(half).to_vec();
        shuffled.sort_unstable();
        assert_eq!(
            ordered_interval(&shuffled),
            None,
            "no two readings adjacent"
        );
        assert_eq!(infer_interval(&shuffled).map(|x| x.0), Some(1800));
        // 8 random half-hours that happen to be all on the hour look hourly; 64 do not.
        let mut even: Vec<i64> = [2, 40, 812, 90, 6, 440, 1200, 64].map(half).to_vec();
        even.sort_unstable();
        assert_eq!(voted_interval(&even, 0.9).map(|x| x.0), Some(3600));
        let mut many: Vec<i64> = (0..64).map(|k| half((k * 37) % 1440)).collect();
        many.sort_unstable();
        assert_eq!(voted_interval(&many, 0.9).map(|x| x.0), Some(1800));
        // A stray reading 7 minutes past: 7 of 8 still on the 30-minute lattice.
        let mut stray = sorted.clone();
        stray[3] += 420;
        assert_eq!(infer_interval(&stray).map(|x| x.0), Some(1800));
        // Hourly data is hourly, quarter-hourly is quarter-hourly.
        let hourly: Vec<i64> = (0..8).map(|k| half(2 * k)).collect();
        assert_eq!(infer_interval(&hourly).map(|x| x.0), Some(3600));
        let quarter: Vec<i64> = (0..8).map(|k| half(0) + k * 900).collect();
        assert_eq!(infer_interval(&quarter).map(|x| x.0), Some(900));
        // Never an interval that does not divide a day (00:00 and 03:30 -> 30 min, not 210).
        assert_eq!(infer_interval(&[half(0), half(7)]).map(|x| x.0), Some(1800));
        assert_eq!(infer_interval(&[half(0)]), None);
    }

    #[test]
    fn permutation_moves_rows() {
        let mut data: Vec<f32> = vec![0., 0., 1., 1., 2., 2.];
        // row 0 -> 2, row 1 -> 0, row 2 -> 1
        permute_rows(&mut data, 2, &mut [2, 0, 1]);
        assert_eq!(data, vec![1., 1., 2., 2., 0., 0.]);
    }
}
