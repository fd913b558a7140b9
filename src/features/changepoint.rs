//! Mean-shift change points in a series with gaps: the split with the largest t statistic of
//! a shift in mean (pooled standard deviation, O(n) with prefix sums). Shared by the daily-floor
//! steps of one meter ([`super::steps`]) and the residual steps of a feeder
//! (`grid_analysis::changepoint`, which adds binary segmentation on top).
//!
//! Input: `&[f64]` with non-finite values missing; indices in the output are indices of the
//! input. Each side of a split holds at least `min_seg` present values; the standard deviation
//! is floored (`sd_floor`) so that a noiseless series does not give an infinite t.

/// A shift in mean at `at` (the first index of the new level).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MeanShift {
    pub at: usize,
    /// Mean of the segment before / after (of the adjacent segments, after segmentation).
    pub before: f64,
    pub after: f64,
    /// t statistic of the shift with a pooled standard deviation (signed: > 0 for a rise).
    pub t: f64,
}

impl MeanShift {
    pub fn size(&self) -> f64 {
        self.after - self.before
    }
}

/// The split of `x` with the largest |t|: each side at least `min_seg` present values.
pub fn best_shift(x: &[f64], min_seg: usize, sd_floor: f64) -> Option<MeanShift> {
    best_split(x, min_seg, sd_floor, false)
}

/// The split with the largest t (`up_only`: rises only, the largest signed t) or |t|.
pub fn best_split(x: &[f64], min_seg: usize, sd_floor: f64, up_only: bool) -> Option<MeanShift> {
    best_split_of(x.iter().copied(), min_seg, sd_floor, up_only)
}

/// [`best_split`] of the values `x` yields (read twice, nothing allocated): one pass for the
/// totals, one for the running sums of the part before each split (the same sums, in the same
/// order, as prefix sums would hold).
pub fn best_split_of<I>(x: I, min_seg: usize, sd_floor: f64, up_only: bool) -> Option<MeanShift>
where
    I: Iterator<Item = f64> + Clone,
{
    let (mut n, mut s_n, mut ss_n) = (0usize, 0f64, 0f64);
    for val in x.clone().filter(|v| v.is_finite()) {
        n += 1;
        s_n += val;
        ss_n += val * val;
    }
    let min_seg = min_seg.max(1);
    if n < 2 * min_seg {
        return None;
    }
    let mut best: Option<MeanShift> = None;
    // `k` present values before index `at`, summing to `s_k` (squares `ss_k`).
    let (mut k, mut s_k, mut ss_k) = (0usize, 0f64, 0f64);
    for (at, val) in x.enumerate() {
        if !val.is_finite() {
            continue;
        }
        if k > n - min_seg {
            break;
        }
        if k >= min_seg {
            let (n1, n2) = (k as f64, (n - k) as f64);
            let (m1, m2) = (s_k / n1, (s_n - s_k) / n2);
            let ss1 = (ss_k - n1 * m1 * m1).max(0.0);
            let ss2 = ((ss_n - ss_k) - n2 * m2 * m2).max(0.0);
            let sd = ((ss1 + ss2) / (n1 + n2 - 2.0).max(1.0))
                .sqrt()
                .max(sd_floor);
            let t = (m2 - m1) / (sd * (1.0 / n1 + 1.0 / n2).sqrt());
            let better = match best {
                None => true,
                Some(b) if up_only => t > b.t,
                Some(b) => t.abs() > b.t.abs(),
            };
            if better {
                best = Some(MeanShift {
                    at,
                    before: m1,
                    after: m2,
                    t,
                });
            }
        }
        k += 1;
        s_k += val;
        ss_k += val * val;
    }
    best
}
