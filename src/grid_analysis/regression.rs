//! Small dense least squares for daily load models (n up to a few thousand days, p up to ~20
//! columns; also the feeder balance's load test of a residual step, a few thousand slots by four
//! columns), and the variance of linear combinations of AR(1) errors.
//!
//! Input: design rows `&[Vec<f64>]` and a response `&[f64]`. Output: an [`OlsFit`] (coefficients,
//! `(X'X)^-1`, residuals). Collinear columns (a weekday or holiday absent from the fit period, a
//! temperature term that never bites) are dropped, not fatal: a Cholesky factorisation of `X'X`
//! skips a column whose pivot falls below [`PIVOT_TOL`] of its own norm, and its coefficient is 0.
//!
//! Daily load residuals are autocorrelated (weather spells, holidays periods): the confidence
//! interval of a mean shift uses the exact variance of a linear combination `w'e` when `e` is
//! AR(1) with lag-one correlation `rho` (see [`ar1_variance`]), not the i.i.d. formula, which is
//! too narrow by a factor of about sqrt((1 + rho) / (1 - rho)).

/// A column whose Cholesky pivot is below this share of its squared norm is collinear with the
/// columns before it and is dropped.
pub const PIVOT_TOL: f64 = 1e-9;
/// The AR(1) coefficient is clamped to [0, this]: a negative lag-one correlation of daily load
/// residuals is noise, and a unit root would make every interval infinite.
pub const MAX_RHO: f64 = 0.95;

/// An ordinary least-squares fit.
#[derive(Debug, Clone)]
pub struct OlsFit {
    /// One per column; 0 for dropped columns.
    pub beta: Vec<f64>,
    /// Whether each column was kept.
    pub kept: Vec<bool>,
    /// `(X'X)^-1` over all columns (zero rows and columns for dropped ones).
    pub xtx_inv: Vec<Vec<f64>>,
    pub residuals: Vec<f64>,
    pub rss: f64,
    pub n: usize,
    /// Columns kept.
    pub rank: usize,
}

impl OlsFit {
    /// `x . beta`.
    pub fn predict(&self, x: &[f64]) -> f64 {
        x.iter().zip(&self.beta).map(|(a, b)| a * b).sum()
    }

    /// Residual variance `rss / (n - rank)` (0 without degrees of freedom).
    pub fn sigma2(&self) -> f64 {
        if self.n > self.rank {
            self.rss / (self.n - self.rank) as f64
        } else {
            0.0
        }
    }

    /// Coefficient of determination.
    pub fn r2(&self, y: &[f64]) -> f64 {
        let m = y.iter().sum::<f64>() / y.len().max(1) as f64;
        let tss: f64 = y.iter().map(|v| (v - m) * (v - m)).sum();
        if tss > 0.0 {
            1.0 - self.rss / tss
        } else {
            0.0
        }
    }
}

/// Fits `y = X beta` by least squares. `None` when there are no rows or no usable column.
// Index loops: the triangular factor and symmetric fills read clearer with explicit indices.
#[allow(clippy::needless_range_loop)]
pub fn ols(x: &[Vec<f64>], y: &[f64]) -> Option<OlsFit> {
    let n = x.len().min(y.len());
    if n == 0 {
        return None;
    }
    let p = x[0].len();
    let mut xtx = vec![vec![0.0; p]; p];
    let mut xty = vec![0.0; p];
    for (row, &yi) in x.iter().zip(y).take(n) {
        for i in 0..p {
            xty[i] += row[i] * yi;
            for j in 0..=i {
                xtx[i][j] += row[i] * row[j];
            }
        }
    }
    for i in 0..p {
        for j in 0..i {
            xtx[j][i] = xtx[i][j];
        }
    }
    // Cholesky L L' of the kept columns, adding one column at a time.
    let mut kept_idx: Vec<usize> = Vec::with_capacity(p);
    let mut l: Vec<Vec<f64>> = Vec::with_capacity(p);
    for j in 0..p {
        let k = kept_idx.len();
        let mut row = vec![0.0; k + 1];
        for (a, &ia) in kept_idx.iter().enumerate() {
            let mut s = xtx[j][ia];
            for b in 0..a {
                s -= row[b] * l[a][b];
            }
            row[a] = s / l[a][a];
        }
        let d = xtx[j][j] - row[..k].iter().map(|v| v * v).sum::<f64>();
        if xtx[j][j] > 0.0 && d > PIVOT_TOL * xtx[j][j] {
            row[k] = d.sqrt();
            l.push(row);
            kept_idx.push(j);
        }
    }
    let r = kept_idx.len();
    if r == 0 {
        return None;
    }
    // Inverse of the reduced X'X: solve L L' Z = I column by column.
    let mut inv_r = vec![vec![0.0; r]; r];
    for c in 0..r {
        let mut z = vec![0.0; r];
        for i in 0..r {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for k in 0..i {
                s -= l[i][k] * z[k];
            }
            z[i] = s / l[i][i];
        }
        for i in (0..r).rev() {
            let mut s = z[i];
            for k in i + 1..r {
                s -= l[k][i] * z[k];
            }
            z[i] = s / l[i][i];
        }
        for i in 0..r {
            inv_r[i][c] = z[i];
        }
    }
    let mut beta = vec![0.0; p];
    let mut xtx_inv = vec![vec![0.0; p]; p];
    for (a, &ia) in kept_idx.iter().enumerate() {
        beta[ia] = (0..r).map(|b| inv_r[a][b] * xty[kept_idx[b]]).sum();
        for (b, &ib) in kept_idx.iter().enumerate() {
            xtx_inv[ia][ib] = inv_r[a][b];
        }
    }
    let mut kept = vec![false; p];
    for &j in &kept_idx {
        kept[j] = true;
    }
    let residuals: Vec<f64> = x
        .iter()
        .zip(y)
        .take(n)
        .map(|(row, yi)| yi - row.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>())
        .collect();
    let rss = residuals.iter().map(|e| e * e).sum();
    Some(OlsFit {
        beta,
        kept,
        xtx_inv,
        residuals,
        rss,
        n,
        rank: r,
    })
}

/// Lag-one autocorrelation of residuals observed at day indices `t` (pairs one day apart only,
/// so gaps do not count as neighbours), clamped to [0, [`MAX_RHO`]].
pub fn lag1_autocorrelation(e: &[f64], t: &[i64]) -> f64 {
    let n = e.len().min(t.len());
    if n < 3 {
        return 0.0;
    }
    let var: f64 = e[..n].iter().map(|v| v * v).sum::<f64>() / n as f64;
    if var <= 0.0 {
        return 0.0;
    }
    let (mut s, mut pairs) = (0.0, 0usize);
    for i in 1..n {
        if t[i] - t[i - 1] == 1 {
            s += e[i] * e[i - 1];
            pairs += 1;
        }
    }
    if pairs == 0 {
        return 0.0;
    }
    (s / pairs as f64 / var).clamp(0.0, MAX_RHO)
}

/// `Var(w'e)` for AR(1) errors `e` at day indices `t` with marginal variance `s2` and lag-one
/// correlation `rho`: `s2 * sum_ij w_i w_j rho^|t_i - t_j|`. O(n^2); n is a few hundred days.
pub fn ar1_variance(w: &[f64], t: &[i64], s2: f64, rho: f64) -> f64 {
    let n = w.len().min(t.len());
    let mut v = 0.0;
    for i in 0..n {
        v += w[i] * w[i];
        if rho > 0.0 {
            for j in 0..i {
                let lag = (t[i] - t[j]).unsigned_abs();
                let c = rho.powi(lag.min(i32::MAX as u64) as i32);
                if c < 1e-12 {
                    continue;
                }
                v += 2.0 * w[i] * w[j] * c;
            }
        }
    }
    s2 * v
}

/// Inverse of the standard normal CDF (Acklam's rational approximation, relative error below
/// 1.2e-9; P. J. Acklam, "An algorithm for computing the inverse normal cumulative distribution
/// function", 2003). `p` outside (0, 1) gives +-infinity.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.024_25;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_fit_and_inverse() {
        // y = 2 + 3x, exactly.
        let x: Vec<Vec<f64>> = (0..10).map(|i| vec![1.0, i as f64]).collect();
        let y: Vec<f64> = (0..10).map(|i| 2.0 + 3.0 * i as f64).collect();
        let f = ols(&x, &y).unwrap();
        assert!((f.beta[0] - 2.0).abs() < 1e-10 && (f.beta[1] - 3.0).abs() < 1e-10);
        assert!(f.rss < 1e-18 && f.rank == 2);
        // (X'X)^-1 against the closed form for a simple regression.
        let n = 10.0;
        let sx: f64 = (0..10).map(f64::from).sum();
        let sxx: f64 = (0..10).map(|i| f64::from(i * i)).sum();
        let det = n * sxx - sx * sx;
        assert!((f.xtx_inv[0][0] - sxx / det).abs() < 1e-12);
        assert!((f.xtx_inv[1][1] - n / det).abs() < 1e-12);
        assert!((f.xtx_inv[0][1] + sx / det).abs() < 1e-12);
    }

    #[test]
    fn collinear_and_empty_columns_are_dropped() {
        // Column 2 = 2 x column 1; column 3 is all zeros.
        let x: Vec<Vec<f64>> = (0..8)
            .map(|i| vec![1.0, i as f64, 2.0 * i as f64, 0.0])
            .collect();
        let y: Vec<f64> = (0..8).map(|i| 1.0 + i as f64).collect();
        let f = ols(&x, &y).unwrap();
        assert_eq!(f.kept, vec![true, true, false, false]);
        assert_eq!((f.beta[2], f.beta[3]), (0.0, 0.0));
        assert!((f.beta[1] - 1.0).abs() < 1e-10);
        assert!(ols(&[], &[]).is_none());
    }

    #[test]
    fn normal_quantiles() {
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-7);
        assert!(normal_quantile(0.0).is_infinite() && normal_quantile(1.0).is_infinite());
    }

    #[test]
    fn ar1_variance_against_reference() {
        let w = [0.5, -0.25, 0.1, 0.3];
        let t = [0i64, 1, 3, 4];
        assert!(
            (ar1_variance(&w, &t, 2.0, 0.0) - 2.0 * w.iter().map(|v| v * v).sum::<f64>()).abs()
                < 1e-12
        );
        let rho: f64 = 0.6;
        let mut naive = 0.0;
        for i in 0..4 {
            for j in 0..4 {
                naive += w[i] * w[j] * rho.powi((t[i] - t[j]).abs() as i32);
            }
        }
        assert!((ar1_variance(&w, &t, 1.5, rho) - 1.5 * naive).abs() < 1e-12);
    }

    #[test]
    fn lag_one_correlation_skips_gaps() {
        let e = [1.0, 1.0, -1.0, -1.0];
        assert_eq!(lag1_autocorrelation(&e, &[0, 1, 5, 6]), 1.0f64.min(MAX_RHO));
        assert_eq!(lag1_autocorrelation(&e, &[0, 2, 4, 6]), 0.0);
        assert_eq!(lag1_autocorrelation(&[0.0; 5], &[0, 1, 2, 3, 4]), 0.0);
    }
}
