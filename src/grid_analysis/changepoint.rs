//! Mean-shift change points in a series with gaps: the best single shift (two-sided t statistic
//! of the split, O(n) with prefix sums), binary segmentation for several shifts (Scott & Knott
//! 1974; Killick & Eckley 2014, `changepoint` R package, §2), and the refinement of a daily
//! step to a slot.
//!
//! Input: `&[f64]` with `NaN` for missing values (days excluded for coverage, slots of an
//! outage); indices in the output are indices of the input slice. Output: [`MeanShift`]s.
//! Invariants: each side of a shift holds at least `min_seg` present values; the standard
//! deviation is floored (`sd_floor`) so that a noiseless series does not give an infinite t.

pub use crate::features::changepoint::{best_shift, MeanShift};

/// Shifts found by binary segmentation: split where |t| is largest, keep the split when
/// `|t| >= min_t` and `|size| >= min_size`, recurse into both sides; at most `max_shifts`.
/// Each returned shift is re-measured between its neighbouring change points, in index order.
pub fn segment(
    x: &[f64],
    min_seg: usize,
    min_t: f64,
    min_size: f64,
    max_shifts: usize,
    sd_floor: f64,
) -> Vec<MeanShift> {
    let mut cuts: Vec<usize> = Vec::new();
    let mut stack = vec![(0usize, x.len())];
    while let Some((a, b)) = stack.pop() {
        if cuts.len() >= max_shifts {
            break;
        }
        let Some(sh) = best_shift(&x[a..b], min_seg, sd_floor) else {
            continue;
        };
        if sh.t.abs() >= min_t && sh.size().abs() >= min_size {
            let at = a + sh.at;
            cuts.push(at);
            stack.push((a, at));
            stack.push((at, b));
        }
    }
    cuts.sort_unstable();
    let mut bounds = vec![0];
    bounds.extend(&cuts);
    bounds.push(x.len());
    let mut out = Vec::with_capacity(cuts.len());
    for w in bounds.windows(3) {
        let (a, at, b) = (w[0], w[1], w[2]);
        if let Some(sh) = shift_at(&x[a..b], at - a, sd_floor) {
            out.push(MeanShift { at, ..sh });
        }
    }
    out
}

/// The shift of `x` split at index `at` (means and t of both sides).
pub fn shift_at(x: &[f64], at: usize, sd_floor: f64) -> Option<MeanShift> {
    let stats = |s: &[f64]| {
        let v: Vec<f64> = s.iter().copied().filter(|v| v.is_finite()).collect();
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let ss: f64 = v.iter().map(|x| (x - m) * (x - m)).sum();
        (n, m, ss)
    };
    let (n1, m1, ss1) = stats(x.get(..at)?);
    let (n2, m2, ss2) = stats(x.get(at..)?);
    if n1 < 1.0 || n2 < 1.0 {
        return None;
    }
    let sd = ((ss1 + ss2) / (n1 + n2 - 2.0).max(1.0))
        .sqrt()
        .max(sd_floor);
    Some(MeanShift {
        at,
        before: m1,
        after: m2,
        t: (m2 - m1) / (sd * (1.0 / n1 + 1.0 / n2).sqrt()),
    })
}

/// The index in `lo..hi` where a step from level `before` to `after` fits `x` best (least
/// squares with the two levels fixed; `NaN` values ignored). `None` when the range is empty.
pub fn refine_split(x: &[f64], lo: usize, hi: usize, before: f64, after: f64) -> Option<usize> {
    let hi = hi.min(x.len());
    if lo >= hi {
        return None;
    }
    // cost(k) = sum_{lo<=s<k} (x-before)^2 + sum_{k<=s<hi} (x-after)^2; walk k upward.
    let sq = |v: f64, m: f64| {
        if v.is_finite() {
            (v - m) * (v - m)
        } else {
            0.0
        }
    };
    let mut cost: f64 = (lo..hi).map(|s| sq(x[s], after)).sum();
    let mut best = (cost, lo);
    for k in lo + 1..=hi {
        cost += sq(x[k - 1], before) - sq(x[k - 1], after);
        if cost < best.0 {
            best = (cost, k);
        }
    }
    Some(best.1.min(hi - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Reference: every split, means and pooled sd from scratch.
    fn naive(x: &[f64], min_seg: usize, floor: f64) -> Option<(usize, f64)> {
        let v: Vec<(usize, f64)> = x
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| (i, *v))
            .collect();
        let n = v.len();
        let mut best: Option<(usize, f64)> = None;
        for k in min_seg..=n.saturating_sub(min_seg) {
            if k == 0 || k == n {
                continue;
            }
            let a: Vec<f64> = v[..k].iter().map(|p| p.1).collect();
            let b: Vec<f64> = v[k..].iter().map(|p| p.1).collect();
            let ma = a.iter().sum::<f64>() / a.len() as f64;
            let mb = b.iter().sum::<f64>() / b.len() as f64;
            let ss: f64 = a.iter().map(|x| (x - ma).powi(2)).sum::<f64>()
                + b.iter().map(|x| (x - mb).powi(2)).sum::<f64>();
            let sd = (ss / (n as f64 - 2.0).max(1.0)).sqrt().max(floor);
            let t = (mb - ma) / (sd * (1.0 / a.len() as f64 + 1.0 / b.len() as f64).sqrt());
            if best.is_none_or(|p| t.abs() > p.1.abs()) {
                best = Some((v[k].0, t));
            }
        }
        best
    }

    #[test]
    fn best_shift_matches_naive_reference() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(11);
        for _ in 0..300 {
            let n = rng.gen_range(2..50);
            let at = rng.gen_range(0..n);
            let size = rng.gen_range(-5.0..5.0);
            let x: Vec<f64> = (0..n)
                .map(|i| {
                    if rng.gen_bool(0.1) {
                        f64::NAN
                    } else {
                        rng.gen_range(-1.0..1.0) + if i >= at { size } else { 0.0 }
                    }
                })
                .collect();
            let fast = best_shift(&x, 2, 0.01).map(|s| (s.at, s.t));
            let slow = naive(&x, 2, 0.01);
            match (fast, slow) {
                (Some(a), Some(b)) => {
                    assert_eq!(a.0, b.0);
                    assert!((a.1 - b.1).abs() <= 1e-9 * b.1.abs().max(1.0));
                }
                (a, b) => assert_eq!(a.map(|p| p.0), b.map(|p| p.0)),
            }
        }
    }

    #[test]
    fn degenerate_series() {
        assert!(best_shift(&[], 2, 0.1).is_none());
        assert!(best_shift(&[1.0, f64::NAN, 2.0], 2, 0.1).is_none());
        // A constant series: zero shift, finite t thanks to the floor.
        let s = best_shift(&[3.0; 10], 2, 0.1).unwrap();
        assert_eq!(s.t, 0.0);
        // A noiseless step: t is finite and large.
        let x: Vec<f64> = (0..10).map(|i| if i < 6 { 0.0 } else { 5.0 }).collect();
        let s = best_shift(&x, 2, 0.1).unwrap();
        assert_eq!(s.at, 6);
        assert!(s.t.is_finite() && s.t > 50.0);
    }

    #[test]
    fn segmentation_finds_two_steps_and_nothing_in_noise() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        let x: Vec<f64> = (0..60)
            .map(|i| {
                let level = if i < 20 {
                    0.0
                } else if i < 40 {
                    6.0
                } else {
                    20.0
                };
                level + rng.gen_range(-0.5..0.5)
            })
            .collect();
        let sh = segment(&x, 2, 6.0, 1.0, 4, 0.05);
        assert_eq!(sh.iter().map(|s| s.at).collect::<Vec<_>>(), vec![20, 40]);
        assert!((sh[0].size() - 6.0).abs() < 0.5 && (sh[1].size() - 14.0).abs() < 0.5);
        let noise: Vec<f64> = (0..60).map(|_| rng.gen_range(-0.5..0.5)).collect();
        assert!(segment(&noise, 2, 6.0, 1.0, 4, 0.05).is_empty());
    }

    #[test]
    fn refine_split_finds_the_slot() {
        let mut x: Vec<f64> = (0..96).map(|s| if s >= 61 { 8.0 } else { 0.1 }).collect();
        x[70] = f64::NAN;
        assert_eq!(refine_split(&x, 40, 96, 0.1, 8.0), Some(61));
        assert_eq!(refine_split(&x, 5, 5, 0.0, 1.0), None);
    }
}
