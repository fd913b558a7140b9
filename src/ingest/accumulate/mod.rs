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
//!
//! Modules: [`push`] (a reading in: checks, buffering, interval inference), [`run`] (the hot
//! path for sorted runs), [`place`] (a reading into its meter's row, the far list, the arena),
//! [`interval`] (interval inference), [`strays`] (stray timestamps), [`finish`] (the grid and
//! the matrix). This file holds the accumulator's types and configuration.

use rustc_hash::{FxHashMap, FxHashSet};

mod finish;
mod interval;
mod place;
mod push;
mod run;
mod strays;

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
    /// When set, readings of meters not in this set are quarantined (unknown meter). Shared:
    /// the chunks of a streamed run check against one set built once.
    pub known_meters: Option<std::sync::Arc<FxHashSet<Box<str>>>>,
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

impl Pending {
    /// The reading's instant (the earlier of an ambiguous local time's two).
    fn instant(&self) -> i64 {
        match self.stamp {
            Stamp::At(t) | Stamp::Ambiguous(t, _) => t,
        }
    }
}

/// The distinct instants of `readings`, sorted.
fn distinct_instants(readings: &[Pending]) -> Vec<i64> {
    let mut ts: Vec<i64> = readings.iter().map(Pending::instant).collect();
    ts.sort_unstable();
    ts.dedup();
    ts
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
}

/// `2024-03-31T01:30:00Z`.
pub fn fmt_instant(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}
