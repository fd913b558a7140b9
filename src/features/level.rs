//! Level and distribution of a meter's load: mean, spread, quantiles, flatness.
//!
//! Input: a row of average kW per slot (`NaN` = missing) and a scratch buffer. Output: plain
//! numbers. A rig's load is flat: coefficient of variation of a few percent, p10/p90 close to 1,
//! most slots near the median (DOMAIN.md: load factor > 0.9, CV a few % at 30 min).

/// A slot is "near the median" within this relative band.
pub const NEAR_MEDIAN_BAND: f32 = 0.10;

/// Distribution figures of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub present: usize,
    pub mean_kw: f32,
    pub max_kw: f32,
    pub cv: f32,
    pub p10_kw: f32,
    pub p50_kw: f32,
    pub p90_kw: f32,
    /// Share of present slots within ±10% of the median.
    pub near_median_share: f32,
}

/// Nearest-rank quantile position for `q` among `n` sorted values.
pub fn rank(q: f64, n: usize) -> usize {
    ((q * (n.saturating_sub(1)) as f64).round() as usize).min(n.saturating_sub(1))
}

/// Quantiles `qs` (ascending) of the present values, by successive selection (O(n) each,
/// each on the part of the buffer right of the previous one). `buf` is overwritten.
pub fn quantiles<const K: usize>(buf: &mut Vec<f32>, row: &[f32], qs: [f64; K]) -> [f32; K] {
    buf.clear();
    buf.extend(row.iter().copied().filter(|v| !v.is_nan()));
    let n = buf.len();
    let mut out = [f32::NAN; K];
    if n == 0 {
        return out;
    }
    let mut lo = 0;
    for (k, q) in qs.iter().enumerate() {
        let r = rank(*q, n);
        if r >= lo {
            let (_, v, _) = buf[lo..].select_nth_unstable_by(r - lo, f32::total_cmp);
            out[k] = *v;
            lo = r;
        } else {
            out[k] = out[k.saturating_sub(1)];
        }
    }
    out
}

/// Computes [`Level`]; `buf` is scratch.
pub fn level(kw: &[f32], buf: &mut Vec<f32>) -> Level {
    let (mut n, mut sum, mut sumsq, mut max) = (0usize, 0f64, 0f64, f32::NEG_INFINITY);
    for &v in kw {
        if !v.is_nan() {
            n += 1;
            sum += f64::from(v);
            sumsq += f64::from(v) * f64::from(v);
            max = max.max(v);
        }
    }
    if n == 0 {
        return Level {
            present: 0,
            mean_kw: f32::NAN,
            max_kw: f32::NAN,
            cv: f32::NAN,
            p10_kw: f32::NAN,
            p50_kw: f32::NAN,
            p90_kw: f32::NAN,
            near_median_share: f32::NAN,
        };
    }
    let mean = sum / n as f64;
    let var = (sumsq / n as f64 - mean * mean).max(0.0);
    let [p10, p50, p90] = quantiles(buf, kw, [0.10, 0.50, 0.90]);
    let band = (p50 * NEAR_MEDIAN_BAND).abs();
    let near = kw
        .iter()
        .filter(|v| !v.is_nan() && (**v - p50).abs() <= band)
        .count();
    Level {
        present: n,
        mean_kw: mean as f32,
        max_kw: max,
        cv: if mean > 0.0 {
            (var.sqrt() / mean) as f32
        } else {
            f32::NAN
        },
        p10_kw: p10,
        p50_kw: p50,
        p90_kw: p90,
        near_median_share: near as f32 / n as f32,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A seeded random row with gaps.
    pub(crate) fn random_row(seed: u64, n: usize) -> Vec<f32> {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                if rng.gen_bool(0.05) {
                    f32::NAN
                } else {
                    rng.gen_range(0.0..5.0)
                }
            })
            .collect()
    }

    fn naive_quantile(row: &[f32], q: f64) -> f32 {
        let mut v: Vec<f32> = row.iter().copied().filter(|x| !x.is_nan()).collect();
        v.sort_by(f32::total_cmp);
        v[((q * (v.len() - 1) as f64).round()) as usize]
    }

    #[test]
    fn matches_naive_reference() {
        for seed in 0..50 {
            let row = random_row(seed, 1 + (seed as usize * 37) % 1500);
            if row.iter().all(|v| v.is_nan()) {
                continue;
            }
            let mut buf = Vec::new();
            let l = level(&row, &mut buf);
            let vals: Vec<f64> = row
                .iter()
                .filter(|v| !v.is_nan())
                .map(|&v| f64::from(v))
                .collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let sd =
                (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
            assert!((f64::from(l.mean_kw) - mean).abs() < 1e-4);
            assert!((f64::from(l.cv) - sd / mean).abs() < 1e-3, "seed {seed}");
            assert_eq!(l.p10_kw, naive_quantile(&row, 0.1));
            assert_eq!(l.p50_kw, naive_quantile(&row, 0.5));
            assert_eq!(l.p90_kw, naive_quantile(&row, 0.9));
            let med = naive_quantile(&row, 0.5);
            let near = vals
                .iter()
                .filter(|v| (**v as f32 - med).abs() <= med * 0.1)
                .count();
            assert!((l.near_median_share - near as f32 / vals.len() as f32).abs() < 1e-6);
        }
    }

    #[test]
    fn flat_load_is_flat_and_empty_row_is_nan() {
        let mut buf = Vec::new();
        let l = level(&[3.25; 48], &mut buf);
        assert!(l.cv.abs() < 1e-6 && l.near_median_share == 1.0 && l.p10_kw == l.p90_kw);
        assert!(level(&[f32::NAN; 4], &mut buf).mean_kw.is_nan());
    }
}
