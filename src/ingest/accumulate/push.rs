//! [`Accumulator::push`]: one reading in. Finds or adds its meter (unknown meters quarantined),
//! checks the reading (window, instant range, negative and implausible values), buffers it until
//! the meter's interval is known, then places it; [`Accumulator::resolve`] infers the interval
//! and phase from the buffered readings ([`PENDING`], or up to [`PENDING_MAX`] out of order) and
//! replays them. Inputs: readings as the readers parse them; outputs: placed readings, or
//! quarantine records in the quality log.

use super::interval::{consecutive_interval, lattice_share, voted_interval};
use super::place::bulk_first;
use super::*;

impl Accumulator {
    pub(super) fn meter_idx(&mut self, id: &str, unit: PushUnit, loc: RowLoc) -> u32 {
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
    pub(super) fn resolve(&mut self, m: usize, fallback: Option<u32>, settle: bool) -> bool {
        let pending = std::mem::take(&mut self.meters[m].pending);
        let ts = distinct_instants(&pending);
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
}
