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

mod finish;
mod interval;
mod run;
mod strays;

use interval::{consecutive_interval, lattice_share, voted_interval};

use super::budget::{BudgetError, MemoryBudget};
use super::quality::{QualityLog, Reason, RowLoc};
use super::time::Stamp;
use crate::grid::{bitset, bitset_set, LoadMatrix, MatrixError, TimeGrid, UnixSecs};
use crate::numfmt::{compact, compact32};

/// Readings buffered per meter before its interval is inferred from time-ordered readings.
pub const PENDING: usize = 8;
/// Readings buffered at most when they arrive out of order: the interval is then voted on
/// (8 random readings of a half-hourly meter all sit on the hourly lattice 1 time in 128, and
/// 6 of 8 do 29% of the time; 58 of 64 essentially never).
pub const PENDING_MAX: usize = 64;

/// A reading this far (or farther, when the meter's row is longer) beyond its meter's row does
/// not grow the row as it arrives: it waits in the meter's far list until the end, when the
/// dense span of the data decides ([`strays`]). One stray timestamp (1990, 2999) must not size
/// anything.
pub const MIN_JUMP_SECS: i64 = 31 * 86_400;
/// Far readings of one meter that make a group of their own: the row grows to take them (a
/// meter with a long outage, files of two separate months). The budget bounds that growth.
pub const FAR_PROMOTE: usize = 64;

/// Earliest and latest instants accepted (0001-01-01 and 9999-12-31T23:59:59Z): beyond, a
/// timestamp cannot be written back, and arithmetic on it is not safe.
pub const MIN_INSTANT: i64 = -62_135_596_800;
pub const MAX_INSTANT: i64 = 253_402_300_799;

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
    /// What the rows, meters and matrix may take together.
    pub budget: MemoryBudget,
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
            budget: MemoryBudget::default(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    stamp: Stamp,
    value: f64,
    estimated: bool,
    loc: u64,
    /// `value` is already kWh (a reading taken back out of a row).
    kwh: bool,
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
    /// Readings far beyond the row (see [`MIN_JUMP_SECS`]), decided at the end.
    far: Vec<Pending>,
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
    /// Set when an allocation would exceed the budget: nothing more is placed.
    error: Option<BudgetError>,
    /// Readings held in the meters' far lists (for the budget).
    far_len: usize,
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
    /// The rows, meters or matrix would exceed the memory budget.
    #[error(transparent)]
    OverBudget(#[from] BudgetError),
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
            error: None,
            far_len: 0,
        }
    }

    /// Whether an allocation was refused by the budget (readers stop reading then).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// The budget error, if any (taken: the accumulator is not used after it).
    pub fn take_error(&mut self) -> Option<BudgetError> {
        self.error.take()
    }

    /// Bytes held by the meters (structs, ids, index, pending readings) and the arena.
    fn held_bytes(&self) -> u64 {
        let per_meter = std::mem::size_of::<Meter>()
            + PENDING * std::mem::size_of::<Pending>()
            + 2 * std::mem::size_of::<(Box<str>, u32)>()
            + 16;
        (self.meters.len() * per_meter
            + self.far_len * std::mem::size_of::<Pending>()
            + self.arena.capacity() * 4) as u64
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
                    far: Vec::new(),
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
                if i.is_multiple_of(4096) {
                    let held = self.held_bytes();
                    if let Err(e) = self.cfg.budget.check(
                        held,
                        || format!("reading {} distinct meter ids", i + 1),
                        "check --meter-col (a column of unique values such as a timestamp gives \
                         one meter per row), or read fewer meters at once, or raise --memory-budget",
                    ) {
                        self.error.get_or_insert(e);
                    }
                }
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
        if self.error.is_some() {
            return;
        }
        let col = self.cfg.value_column;
        let (t_first, t_last) = match stamp {
            Stamp::At(t) => (t, t),
            Stamp::Ambiguous(a, b) => (a, b),
        };
        if t_first < MIN_INSTANT || t_last > MAX_INSTANT {
            self.quality.reject(
                loc,
                "timestamp",
                meter_id,
                Reason::BadTimestamp,
                format!(
                    "{} seconds since 1970 is outside the years 0001 to 9999; check --timestamp-format",
                    t_first
                ),
                1,
            );
            return;
        }
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
                format!("value {}", compact(value)),
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
                format!(
                    "value {}; use --allow-negative if the meter records net export",
                    compact(value)
                ),
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
            kwh: false,
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

    /// Infers the meter's interval and phase from its pending readings and replays them.
    /// Without `settle`, only a consecutive run is accepted (more readings are awaited
    /// otherwise). With it (64 readings, or the end of input), readings that all sit on the
    /// `fallback` grid lattice take the grid interval, else the interval is voted on.
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
        let on_fallback = fallback.filter(|&f| settle && lattice_share(&ts, f).0 == ts.len());
        let chosen = if let Some(run) = consecutive_interval(&ts) {
            // A consecutive run settles it (hourly data stays hourly on a half-hourly grid).
            Some(run)
        } else if let Some(f) = on_fallback {
            // Sparse readings that all sit on the grid's lattice are gappy grid data.
            Some((f, lattice_share(&ts, f).1))
        } else if settle {
            voted_interval(&ts, if ts.len() >= PENDING_MAX { 0.9 } else { 0.75 })
        } else {
            None
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
        // The readings near most of the others first: a stray among the first readings (a 1990
        // row at the top of a meter's sorted run) must not start the row.
        let (first, rest) = bulk_first(pending);
        for p in first.into_iter().chain(rest) {
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
    fn place_with(&mut self, m: usize, p: Pending, force: bool) {
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
        let mut ts: Vec<i64> = meter
            .far
            .iter()
            .map(|p| match p.stamp {
                Stamp::At(t) | Stamp::Ambiguous(t, _) => t,
            })
            .collect();
        ts.sort_unstable();
        ts.dedup();
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
fn bulk_first(pending: Vec<Pending>) -> (Vec<Pending>, Vec<Pending>) {
    let t_of = |p: &Pending| match p.stamp {
        Stamp::At(t) | Stamp::Ambiguous(t, _) => t,
    };
    let mut ts: Vec<i64> = pending.iter().map(t_of).collect();
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
        .partition(|p| (lo..=hi).contains(&t_of(p)))
}

/// `2024-03-31T01:30:00Z`.
pub fn fmt_instant(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}
