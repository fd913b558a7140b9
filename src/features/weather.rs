//! Temperature sensitivity: does the load follow the weather? Electric and storage heating do
//! (more load when cold); a rig does not, or draws slightly more when hot (DOMAIN.md).
//!
//! Input: per-day mean kW and per-day mean temperature (°C), `NaN` where unknown. Output: the
//! least-squares slope (kW per °C) and the Pearson correlation over days with both.

/// Days needed to estimate a slope.
pub const MIN_DAYS: usize = 5;

/// Slope (kW/°C) and correlation of daily load on daily temperature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TempResponse {
    pub slope_kw_per_c: f32,
    pub corr: f32,
}

pub fn temp_response(daily_kw: &[f32], daily_temp: &[f32]) -> TempResponse {
    let mut p = crate::stats::Pairs::default();
    for (k, t) in daily_kw.iter().zip(daily_temp) {
        if !k.is_nan() && !t.is_nan() {
            p.add(f64::from(*t), f64::from(*k));
        }
    }
    let nan = TempResponse {
        slope_kw_per_c: f32::NAN,
        corr: f32::NAN,
    };
    if p.n() < MIN_DAYS as f64 {
        return nan;
    }
    let (vx, vy, cov) = p.moments();
    if vx <= 1e-9 {
        return nan;
    }
    TempResponse {
        slope_kw_per_c: (cov / vx) as f32,
        corr: if vy <= 1e-12 {
            0.0
        } else {
            (cov / (vx * vy).sqrt()) as f32
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heating_follows_cold_and_rig_does_not() {
        let temp: Vec<f32> = (0..20).map(|d| d as f32 - 5.0).collect();
        let heat: Vec<f32> = temp.iter().map(|t| (15.0 - t) * 0.2).collect();
        let r = temp_response(&heat, &temp);
        assert!(
            (r.slope_kw_per_c + 0.2).abs() < 1e-4 && r.corr < -0.999,
            "{r:?}"
        );
        let rig = vec![3.25f32; 20];
        let r = temp_response(&rig, &temp);
        assert!(r.slope_kw_per_c.abs() < 1e-6 && r.corr == 0.0);
        assert!(temp_response(&rig[..3], &temp[..3]).slope_kw_per_c.is_nan());
    }

    #[test]
    fn matches_naive_least_squares() {
        let x: Vec<f32> = (0..30).map(|d| ((d * 7) % 13) as f32).collect();
        let y: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, v)| 2.0 - 0.1 * v + ((i * 5) % 7) as f32 * 0.01)
            .collect();
        let r = temp_response(&y, &x);
        let n = x.len() as f64;
        let mx = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let my = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let sxy: f64 = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (f64::from(*a) - mx) * (f64::from(*b) - my))
            .sum();
        let sxx: f64 = x.iter().map(|a| (f64::from(*a) - mx).powi(2)).sum();
        assert!((f64::from(r.slope_kw_per_c) - sxy / sxx).abs() < 1e-5);
    }
}
