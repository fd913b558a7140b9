//! The core data structure: [`LoadMatrix`], meters x time slots on one regular UTC grid.
//!
//! Values are kWh per slot as `f32`, row-major in one contiguous buffer, `NaN` for a missing slot
//! (never zero: zero is a real reading). A meter's series is a `&[f32]` row of `grid.n_slots`.
//! At regional scale (1M meters x 1,440 slots = 5.8 GB) per-reading timestamps would not fit in
//! memory; this layout does, and feature kernels get cache-friendly slices.
//!
//! Invariants: `values.len() == meter_ids.len() * grid.n_slots`; meter ids are unique and sorted
//! (byte order), so the same readings give the same matrix whatever order the files came in.

use std::collections::HashMap;

/// Seconds since the Unix epoch, UTC.
pub type UnixSecs = i64;

/// A regular time grid: `n_slots` slots of `interval_secs`, the first starting at `start`.
/// A slot is labelled by its start instant (interval-beginning convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimeGrid {
    pub start: UnixSecs,
    pub interval_secs: u32,
    pub n_slots: usize,
}

impl TimeGrid {
    /// Start instant of slot `i`.
    pub fn slot_start(&self, i: usize) -> UnixSecs {
        self.start + i as i64 * i64::from(self.interval_secs)
    }

    /// End (exclusive) of the grid.
    pub fn end(&self) -> UnixSecs {
        self.slot_start(self.n_slots)
    }

    /// Slot holding instant `t`, if it lies on the grid.
    pub fn slot_of(&self, t: UnixSecs) -> Option<usize> {
        if t < self.start {
            return None;
        }
        let i = ((t - self.start) / i64::from(self.interval_secs)) as usize;
        (i < self.n_slots).then_some(i)
    }

    /// Interval length in hours (kWh per slot / hours = average kW).
    pub fn interval_hours(&self) -> f64 {
        f64::from(self.interval_secs) / 3600.0
    }

    /// Slots per day (48 for half-hourly).
    pub fn slots_per_day(&self) -> usize {
        (86_400 / self.interval_secs) as usize
    }
}

/// Per-meter data coverage, kept for later stages (flatness built from estimates is not evidence).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Coverage {
    /// Slots with a value.
    pub present: u32,
    /// Slots whose value is (partly) estimated or substituted by the meter-data system.
    pub estimated: u32,
}

impl Coverage {
    pub fn present_share(&self, n_slots: usize) -> f64 {
        if n_slots == 0 {
            0.0
        } else {
            f64::from(self.present) / n_slots as f64
        }
    }
    pub fn estimated_share(&self, n_slots: usize) -> f64 {
        if n_slots == 0 {
            0.0
        } else {
            f64::from(self.estimated) / n_slots as f64
        }
    }
}

/// Meters x slots of kWh on one [`TimeGrid`].
#[derive(Debug, Clone)]
pub struct LoadMatrix {
    pub grid: TimeGrid,
    meter_ids: Vec<Box<str>>,
    index: HashMap<Box<str>, usize>,
    values: Vec<f32>,
    /// Bitset (meters x slots, row-major) of estimated slots; empty when no slot is estimated.
    estimated: Vec<u64>,
    coverage: Vec<Coverage>,
}

/// Why a [`LoadMatrix`] could not be built from parts.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MatrixError {
    #[error("buffer has {got} values, expected {meters} meters x {slots} slots")]
    Shape {
        got: usize,
        meters: usize,
        slots: usize,
    },
    #[error("meter ids must be unique and sorted; {0:?} is out of order or repeated")]
    Ids(String),
}

impl LoadMatrix {
    /// Assemble a matrix. `meter_ids` must be sorted and unique; `estimated` is a row-major bitset
    /// or empty. Coverage is computed here, so it always agrees with the values.
    pub fn from_parts(
        grid: TimeGrid,
        meter_ids: Vec<Box<str>>,
        values: Vec<f32>,
        estimated: Vec<u64>,
    ) -> Result<Self, MatrixError> {
        let slots = grid.n_slots;
        if values.len() != meter_ids.len() * slots {
            return Err(MatrixError::Shape {
                got: values.len(),
                meters: meter_ids.len(),
                slots,
            });
        }
        for w in meter_ids.windows(2) {
            if w[0] >= w[1] {
                return Err(MatrixError::Ids(w[1].to_string()));
            }
        }
        let index = meter_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        let mut m = LoadMatrix {
            grid,
            meter_ids,
            index,
            values,
            estimated,
            coverage: Vec::new(),
        };
        m.coverage = (0..m.n_meters())
            .map(|i| {
                let present = m.row(i).iter().filter(|v| !v.is_nan()).count() as u32;
                let estimated = if m.estimated.is_empty() {
                    0
                } else {
                    (0..slots).filter(|&s| m.is_estimated(i, s)).count() as u32
                };
                Coverage { present, estimated }
            })
            .collect();
        Ok(m)
    }

    pub fn n_meters(&self) -> usize {
        self.meter_ids.len()
    }

    pub fn meter_ids(&self) -> &[Box<str>] {
        &self.meter_ids
    }

    /// Row index of a meter id.
    pub fn meter_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The series of meter `i`, kWh per slot, `NaN` where missing.
    pub fn row(&self, i: usize) -> &[f32] {
        let n = self.grid.n_slots;
        &self.values[i * n..(i + 1) * n]
    }

    /// The series of a meter by id.
    pub fn series(&self, id: &str) -> Option<&[f32]> {
        self.meter_index(id).map(|i| self.row(i))
    }

    /// All values, row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Whether slot `s` of meter `i` is estimated or substituted.
    pub fn is_estimated(&self, i: usize, s: usize) -> bool {
        if self.estimated.is_empty() {
            return false;
        }
        let bit = i * self.grid.n_slots + s;
        self.estimated[bit / 64] >> (bit % 64) & 1 == 1
    }

    /// Whether any slot of the matrix is estimated.
    pub fn has_estimates(&self) -> bool {
        !self.estimated.is_empty()
    }

    pub fn coverage(&self, i: usize) -> Coverage {
        self.coverage[i]
    }

    /// Total slots with a value.
    pub fn present_slots(&self) -> u64 {
        self.coverage.iter().map(|c| u64::from(c.present)).sum()
    }
}

/// A bitset sized for `bits` bits.
pub(crate) fn bitset(bits: usize) -> Vec<u64> {
    vec![0u64; bits.div_ceil(64)]
}

pub(crate) fn bitset_set(set: &mut [u64], bit: usize) {
    set[bit / 64] |= 1 << (bit % 64);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize) -> TimeGrid {
        TimeGrid {
            start: 1_700_000_000 - 1_700_000_000 % 1800,
            interval_secs: 1800,
            n_slots: n,
        }
    }

    #[test]
    fn slot_arithmetic() {
        let g = grid(48);
        assert_eq!(g.slot_of(g.start), Some(0));
        assert_eq!(g.slot_of(g.start + 1799), Some(0));
        assert_eq!(g.slot_of(g.start + 1800), Some(1));
        assert_eq!(g.slot_of(g.start - 1), None);
        assert_eq!(g.slot_of(g.end()), None);
        assert_eq!(g.slots_per_day(), 48);
    }

    #[test]
    fn shape_and_order_are_checked() {
        let g = grid(2);
        let ids: Vec<Box<str>> = vec!["a".into(), "b".into()];
        assert!(matches!(
            LoadMatrix::from_parts(g, ids.clone(), vec![0.0; 3], vec![]),
            Err(MatrixError::Shape { .. })
        ));
        let unsorted: Vec<Box<str>> = vec!["b".into(), "a".into()];
        assert!(LoadMatrix::from_parts(g, unsorted, vec![0.0; 4], vec![]).is_err());
        let m = LoadMatrix::from_parts(g, ids, vec![1.0, f32::NAN, 2.0, 3.0], vec![]).unwrap();
        assert_eq!(m.coverage(0).present, 1);
        assert_eq!(m.series("b"), Some(&[2.0f32, 3.0][..]));
    }

    #[test]
    fn estimated_bits() {
        let g = grid(3);
        let ids: Vec<Box<str>> = vec!["a".into(), "b".into()];
        let mut est = bitset(6);
        bitset_set(&mut est, 4);
        let m = LoadMatrix::from_parts(g, ids, vec![1.0; 6], est).unwrap();
        assert!(m.is_estimated(1, 1));
        assert!(!m.is_estimated(1, 0));
        assert_eq!(m.coverage(1).estimated, 1);
    }

    #[test]
    fn public_types_are_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<LoadMatrix>();
        check::<TimeGrid>();
    }
}
