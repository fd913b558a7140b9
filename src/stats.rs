//! Robust statistics used across the stages: nearest-rank quantiles and medians, the median
//! absolute deviation, the midpoint median of the peers' metrics, the linear evidence ramp, and
//! the running sums behind every correlation ([`Pairs`]).
//! One home each, so every stage means the same thing by "median".
//!
//! **Empty input.** Every function that summarises values returns `None` for an empty input;
//! the caller states its fallback where it calls (`unwrap_or(f64::NAN)` for "unknown",
//! `unwrap_or(0.0)` where a neutral value is wanted). None of them drops `NaN`: callers filter
//! first (`NaN` would sort last under the total order used here).
//!
//! **Definitions.** The q-quantile is the value of nearest rank `round(q (n - 1))` of the
//! sorted values (0-based), found by selection in O(n); the median is the 0.5-quantile, which
//! for an even count is the upper of the two middle values (`v[n / 2]`). Where numbers are
//! compared with the peers' `metrics.py` (pandas), [`median_sorted_midpoint`] averages the two
//! middle values instead. The hot feature kernels (`features::level::quantiles`, which also
//! reuse buffers) use the same [`rank`].

/// Scale of the median absolute deviation that makes it a consistent estimator of a normal
/// standard deviation (1 / Phi^-1(3/4); Rousseeuw & Croux 1993).
pub const MAD_TO_SD: f64 = 1.4826;

/// A value with a total order (`f32`, `f64`).
pub trait Sample: Copy {
    fn total_cmp(&self, other: &Self) -> std::cmp::Ordering;
}

impl Sample for f32 {
    fn total_cmp(&self, other: &Self) -> std::cmp::Ordering {
        f32::total_cmp(self, other)
    }
}

impl Sample for f64 {
    fn total_cmp(&self, other: &Self) -> std::cmp::Ordering {
        f64::total_cmp(self, other)
    }
}

/// Nearest rank (0-based) of the q-quantile among `n` sorted values: `round(q (n - 1))`,
/// clamped to `n - 1` (0 when `n` is 0).
#[inline]
pub fn rank(q: f64, n: usize) -> usize {
    ((q * (n.saturating_sub(1)) as f64).round() as usize).min(n.saturating_sub(1))
}

/// The q-quantile (nearest rank) of `v`, by selection; reorders `v`. `None` when empty.
pub fn quantile_mut<T: Sample>(v: &mut [T], q: f64) -> Option<T> {
    if v.is_empty() {
        return None;
    }
    let k = rank(q, v.len());
    Some(*v.select_nth_unstable_by(k, T::total_cmp).1)
}

/// The median of `v` (the upper middle value for an even count); reorders `v`. `None` when
/// empty.
pub fn median_mut<T: Sample>(v: &mut [T]) -> Option<T> {
    quantile_mut(v, 0.5)
}

/// Median absolute deviation of `v` about `centre` (unscaled; multiply by [`MAD_TO_SD`] for a
/// standard deviation). `None` when empty.
pub fn mad(v: &[f64], centre: f64) -> Option<f64> {
    let mut dev: Vec<f64> = v.iter().map(|x| (x - centre).abs()).collect();
    median_mut(&mut dev)
}

/// Median of values sorted ascending, the mean of the two middle ones for an even count (the
/// pandas / numpy definition). `None` when empty.
pub fn median_sorted_midpoint(v: &[f64]) -> Option<f64> {
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// A linear evidence ramp: 0 at or before `from`, 1 at or past `full`, linear between; it runs
/// either way (`from > full` rewards low values). A non-finite `x` is no evidence (0); equal
/// ends are a step at `full`.
pub fn ramp(x: f64, from: f64, full: f64) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    if full == from {
        return if x >= full { 1.0 } else { 0.0 };
    }
    ((x - from) / (full - from)).clamp(0.0, 1.0)
}

/// Running sums of paired values for a correlation or a least-squares slope, in one pass: the
/// one home of "Pearson correlation" (daily load vs temperature, vs the peers' signal, and the
/// autocorrelations of the rhythm). Each caller states its rule for too few pairs or a
/// constant side from [`Pairs::n`] and the variances.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pairs {
    n: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
}

impl Pairs {
    /// Adds a pair (callers skip missing values).
    #[inline]
    pub fn add(&mut self, x: f64, y: f64) {
        self.n += 1.0;
        self.sx += x;
        self.sy += y;
        self.sxx += x * x;
        self.syy += y * y;
        self.sxy += x * y;
    }
    /// Pairs added.
    pub fn n(&self) -> f64 {
        self.n
    }
    /// Means of x and y (`NaN` without pairs).
    pub fn means(&self) -> (f64, f64) {
        (self.sx / self.n, self.sy / self.n)
    }
    /// Population variances of x and y and their covariance.
    pub fn moments(&self) -> (f64, f64, f64) {
        let (mx, my) = self.means();
        (
            self.sxx / self.n - mx * mx,
            self.syy / self.n - my * my,
            self.sxy / self.n - mx * my,
        )
    }
}

/// Coefficient of variation of the finite values (`NaN` under two or at a zero mean).
pub fn cv(v: &[f32]) -> f32 {
    let (n, sum) = v
        .iter()
        .filter(|a| a.is_finite())
        .fold((0usize, 0f64), |(n, s), &a| (n + 1, s + f64::from(a)));
    if n < 2 {
        return f32::NAN;
    }
    let m = sum / n as f64;
    let ss: f64 = v
        .iter()
        .filter(|a| a.is_finite())
        .map(|&a| (f64::from(a) - m).powi(2))
        .sum();
    let sd = (ss / n as f64).sqrt();
    if m > 1e-6 {
        (sd / m) as f32
    } else {
        f32::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: sort a copy, take the nearest rank.
    fn naive_quantile(v: &[f64], q: f64) -> Option<f64> {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let k = ((s.len() as f64 - 1.0) * q).round();
        (!s.is_empty()).then(|| s[k as usize])
    }

    #[test]
    fn quantiles_match_a_sorting_reference() {
        let mut x: u64 = 99;
        for n in 0..40 {
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((x >> 40) % 17) as f64
                })
                .collect();
            for q in [0.0, 0.1, 0.25, 0.5, 0.9, 1.0] {
                assert_eq!(quantile_mut(&mut v.clone(), q), naive_quantile(&v, q));
            }
        }
    }

    #[test]
    fn empty_inputs_are_none() {
        assert_eq!(median_mut::<f64>(&mut []), None);
        assert_eq!(median_mut::<f32>(&mut []), None);
        assert_eq!(mad(&[], 0.0), None);
        assert_eq!(median_sorted_midpoint(&[]), None);
        assert_eq!(rank(0.5, 0), 0);
    }

    #[test]
    fn medians_and_mad() {
        assert_eq!(
            median_mut(&mut [3.0, 1.0, 2.0, 4.0]),
            Some(3.0),
            "upper middle"
        );
        assert_eq!(median_sorted_midpoint(&[1.0, 2.0, 3.0, 4.0]), Some(2.5));
        // MAD = 0: a constant series has no spread (callers handle the degenerate scale).
        assert_eq!(mad(&[5.0, 5.0, 5.0], 5.0), Some(0.0));
        assert_eq!(mad(&[1.0, 2.0, 3.0, 4.0, 100.0], 3.0), Some(1.0));
    }

    #[test]
    fn ramps_both_ways() {
        assert_eq!(ramp(0.1, 0.5, 0.15), 1.0);
        assert_eq!(ramp(0.6, 0.5, 0.15), 0.0);
        assert!((ramp(0.325, 0.5, 0.15) - 0.5).abs() < 1e-12);
        assert_eq!(ramp(f64::NAN, 0.0, 1.0), 0.0);
        assert_eq!(ramp(f64::INFINITY, 0.0, 1.0), 0.0);
        assert_eq!(ramp(2.0, 2.0, 2.0), 1.0);
        assert_eq!(ramp(1.9, 2.0, 2.0), 0.0);
    }
}
