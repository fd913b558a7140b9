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

/// Present values with their indices.
fn present(x: &[f64]) -> Vec<(usize, f64)> {
    x.iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| (i, *v))
        .collect()
}

/// The split of `x` with the largest |t|: each side at least `min_seg` present values.
pub fn best_shift(x: &[f64], min_seg: usize, sd_floor: f64) -> Option<MeanShift> {
    best_split(x, min_seg, sd_floor, false)
}

/// The split with the largest t (`up_only`: rises only, the largest signed t) or |t|.
pub fn best_split(x: &[f64], min_seg: usize, sd_floor: f64, up_only: bool) -> Option<MeanShift> {
    let v = present(x);
    let n = v.len();
    let min_seg = min_seg.max(1);
    if n < 2 * min_seg {
        return None;
    }
    let mut s = vec![0f64; n + 1];
    let mut ss = vec![0f64; n + 1];
    for (i, (_, val)) in v.iter().enumerate() {
        s[i + 1] = s[i] + val;
        ss[i + 1] = ss[i] + val * val;
    }
    let mut best: Option<MeanShift> = None;
    for k in min_seg..=n - min_seg {
        let (n1, n2) = (k as f64, (n - k) as f64);
        let (m1, m2) = (s[k] / n1, (s[n] - s[k]) / n2);
        let ss1 = (ss[k] - n1 * m1 * m1).max(0.0);
        let ss2 = ((ss[n] - ss[k]) - n2 * m2 * m2).max(0.0);
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
                at: v[k].0,
                before: m1,
                after: m2,
                t,
            });
        }
    }
    best
}
