//! The daily model of the load-drop analysis: the design (intercept, weekday, holiday, heating
//! and cooling degree-days), the choice of degree-day bases by BIC, the change of post-event days
//! against the pre-event fit with its AR(1) variance, the average over plausible temperature
//! models, and the change-point search.
//!
//! Input: a [`DailyLoad`], a region's daily series and day ranges. Output: [`Interval`]s, fits
//! and a [`ChangePoint`] for [`super::drop`]. Design rows are `Vec<f64>` (p is ~10); a day
//! without a value or a needed temperature is left out, never imputed.

use chrono::{Datelike, NaiveDate};

use super::estimates::{ChangePoint, DropConfig, Interval};
use super::load_series::DailyLoad;
use super::regression::{ar1_variance, lag1_autocorrelation, normal_quantile, ols, OlsFit};

/// Days a degree-day term needs above zero in the fit period to be used.
pub const MIN_DEGREE_DAYS: usize = 7;
/// Candidate degree-day bases (°C), every degree around the usual fixed ones (15.5 °C heating,
/// 22 °C cooling).
pub const HEATING_BASES: [f64; 11] = [
    10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0,
];
pub const COOLING_BASES: [f64; 11] = [
    18.0, 19.0, 20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 28.0,
];
/// Days on each side of a change-point.
pub const MIN_CHANGEPOINT_SEGMENT: usize = 7;

/// A day's covariates: the design row (without the step column) or `None` when unknown.
pub(super) struct Design<'a> {
    pub load: &'a DailyLoad,
    pub holidays: &'a [NaiveDate],
    pub heat: Option<f64>,
    pub cool: Option<f64>,
    pub use_temp: bool,
}

impl Design<'_> {
    pub fn terms(&self) -> Vec<String> {
        let mut t = vec!["intercept".to_string()];
        t.extend(["tue", "wed", "thu", "fri", "sat", "sun", "holiday"].map(String::from));
        if let Some(h) = self.heat {
            t.push(format!("hdd_{h}"));
        }
        if let Some(c) = self.cool {
            t.push(format!("cdd_{c}"));
        }
        t
    }
    pub fn row(&self, d: usize) -> Option<Vec<f64>> {
        let date = *self.load.dates.get(d)?;
        let wd = date.weekday().num_days_from_monday() as usize;
        let mut x = vec![1.0];
        x.extend((1..7).map(|k| if wd == k { 1.0 } else { 0.0 }));
        x.push(if self.holidays.binary_search(&date).is_ok() {
            1.0
        } else {
            0.0
        });
        if self.heat.is_some() || self.cool.is_some() {
            let t = self.load.temp_c.get(d).copied().unwrap_or(f64::NAN);
            if !t.is_finite() {
                return None;
            }
            if let Some(h) = self.heat {
                x.push((h - t).max(0.0));
            }
            if let Some(c) = self.cool {
                x.push((t - c).max(0.0));
            }
        }
        Some(x)
    }
}

/// Rows (day index, design row, y) of the days in `days` with a value and covariates.
pub(super) fn rows(
    design: &Design<'_>,
    y: &[f64],
    days: std::ops::Range<usize>,
) -> Vec<(usize, Vec<f64>, f64)> {
    days.filter_map(|d| {
        let v = *y.get(d)?;
        if !v.is_finite() {
            return None;
        }
        design.row(d).map(|x| (d, x, v))
    })
    .collect()
}

pub(super) fn fit(r: &[(usize, Vec<f64>, f64)]) -> Option<OlsFit> {
    let x: Vec<Vec<f64>> = r.iter().map(|p| p.1.clone()).collect();
    let y: Vec<f64> = r.iter().map(|p| p.2).collect();
    ols(&x, &y)
}

/// Every candidate pair of degree-day bases (none, heating only, cooling only, both) that bites
/// on the pre-event days, with its BIC, best first.
pub(super) fn rank_bases(
    base: &Design<'_>,
    y: &[f64],
    pre: std::ops::Range<usize>,
) -> Vec<(Bases, f64)> {
    if !base.use_temp || base.load.temp_c.is_empty() {
        return vec![((None, None), 0.0)];
    }
    let temps: Vec<f64> = pre
        .clone()
        .filter_map(|d| base.load.temp_c.get(d).copied())
        .filter(|t| t.is_finite())
        .collect();
    let bites =
        |f: &dyn Fn(f64) -> bool| temps.iter().filter(|&&t| f(t)).count() >= MIN_DEGREE_DAYS;
    let mut options: Vec<Bases> = vec![(None, None)];
    for &h in HEATING_BASES.iter().filter(|&&h| bites(&|t| t < h)) {
        options.push((Some(h), None));
    }
    for &c in COOLING_BASES.iter().filter(|&&c| bites(&|t| t > c)) {
        options.push((None, Some(c)));
        for &h in HEATING_BASES
            .iter()
            .filter(|&&h| h <= c && bites(&|t| t < h))
        {
            options.push((Some(h), Some(c)));
        }
    }
    // Every option is fitted on the days with a known temperature, so their BICs compare.
    let known = Design {
        heat: Some(0.0),
        ..*base
    };
    let mut out: Vec<(Bases, f64)> = options
        .into_iter()
        .filter_map(|(h, c)| {
            let d = Design {
                heat: h,
                cool: c,
                ..*base
            };
            let r: Vec<_> = rows(&d, y, pre.clone())
                .into_iter()
                .filter(|p| known.row(p.0).is_some())
                .collect();
            let f = fit(&r)?;
            let n = r.len() as f64;
            let k = (f.rank + usize::from(h.is_some()) + usize::from(c.is_some())) as f64;
            Some(((h, c), n * (f.rss / n).max(1e-300).ln() + k * n.ln()))
        })
        .collect();
    out.sort_by(|a, b| a.1.total_cmp(&b.1));
    if out.is_empty() {
        out.push(((None, None), 0.0));
    }
    out
}

/// Heating and cooling degree-day bases (°C).
pub(super) type Bases = (Option<f64>, Option<f64>);

/// Models within this BIC of the best share the estimate (weights exp(-dBIC / 2)).
pub const MODEL_AVERAGING_DBIC: f64 = 10.0;

/// The change averaged over the plausible temperature models, with Burnham & Anderson's
/// unconditional variance `sum_i w_i (var_i + (d_i - d)^2)` ("Model Selection and Multimodel
/// Inference", 2002, eq. 4.9 squared form), so that choosing the bases from the same data is
/// part of the interval. (In simulation the bases are well identified and this adds ~1% to the
/// standard error; the intervals' coverage is checked in `drop_tests.rs`.)
pub(super) fn averaged(
    models: &[(Bases, f64)],
    base: &Design<'_>,
    y: &[f64],
    pre: std::ops::Range<usize>,
    post: std::ops::Range<usize>,
    z: f64,
) -> Option<Interval> {
    let best = models.first()?.1;
    let mut parts: Vec<(f64, Interval)> = Vec::new();
    for &((h, c), bic) in models.iter().filter(|m| m.1 - best <= MODEL_AVERAGING_DBIC) {
        let d = Design {
            heat: h,
            cool: c,
            ..*base
        };
        if let Some(sh) = shift(&rows(&d, y, pre.clone()), &rows(&d, y, post.clone()), z) {
            parts.push(((-(bic - best) / 2.0).exp(), sh.change));
        }
    }
    let wsum: f64 = parts.iter().map(|p| p.0).sum();
    if parts.is_empty() || wsum <= 0.0 {
        return None;
    }
    let mean = parts.iter().map(|(w, i)| w * i.estimate).sum::<f64>() / wsum;
    let var = parts
        .iter()
        .map(|(w, i)| w * (i.se * i.se + (i.estimate - mean).powi(2)))
        .sum::<f64>()
        / wsum;
    Some(Interval::new(mean, var.sqrt(), z))
}

/// Change of the post rows against the pre fit: the interval and the fit's pieces.
pub(super) struct Shift {
    pub change: Interval,
    pub fit: OlsFit,
    pub rho: f64,
    pub level_before: f64,
}

pub(super) fn shift(
    pre: &[(usize, Vec<f64>, f64)],
    post: &[(usize, Vec<f64>, f64)],
    z: f64,
) -> Option<Shift> {
    let f = fit(pre)?;
    let p = f.beta.len();
    let m = post.len() as f64;
    let mut xbar = vec![0.0; p];
    for r in post {
        for (a, v) in xbar.iter_mut().zip(&r.1) {
            *a += v / m;
        }
    }
    let ybar = post.iter().map(|r| r.2).sum::<f64>() / m;
    let delta = ybar - f.predict(&xbar);
    // delta - true = mean(e_post) - xbar' (X'X)^-1 X' e_pre: weights on every row.
    let g: Vec<f64> = (0..p)
        .map(|i| (0..p).map(|j| f.xtx_inv[i][j] * xbar[j]).sum())
        .collect();
    let mut w: Vec<f64> = pre
        .iter()
        .map(|r| -r.1.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>())
        .collect();
    w.extend(std::iter::repeat_n(1.0 / m, post.len()));
    let t: Vec<i64> = pre.iter().chain(post).map(|r| r.0 as i64).collect();
    let t_pre: Vec<i64> = pre.iter().map(|r| r.0 as i64).collect();
    // Kendall's small-sample bias of the lag-one correlation, (1 + 3 rho) / n, added back.
    let r0 = lag1_autocorrelation(&f.residuals, &t_pre);
    let rho = (r0 + (1.0 + 3.0 * r0) / pre.len() as f64).min(super::regression::MAX_RHO);
    let se = ar1_variance(&w, &t, f.sigma2(), rho).max(0.0).sqrt();
    let level_before = pre.iter().map(|r| r.2).sum::<f64>() / pre.len() as f64;
    Some(Shift {
        change: Interval::new(delta, se, z),
        fit: f,
        rho,
        level_before,
    })
}

/// The split of `window` (with the covariates) that minimises the RSS.
pub(super) fn changepoint(
    design: &Design<'_>,
    y: &[f64],
    window: std::ops::Range<usize>,
    event: usize,
    cfg: &DropConfig,
    dates: &[NaiveDate],
    rho: f64,
) -> Option<ChangePoint> {
    let r = rows(design, y, window);
    if r.len() < 2 * MIN_CHANGEPOINT_SEGMENT {
        return None;
    }
    let mut best: Option<(f64, usize, OlsFit)> = None;
    for k in MIN_CHANGEPOINT_SEGMENT..=r.len() - MIN_CHANGEPOINT_SEGMENT {
        let at = r[k].0;
        let x: Vec<Vec<f64>> = r
            .iter()
            .map(|p| {
                let mut x = p.1.clone();
                x.push(if p.0 >= at { 1.0 } else { 0.0 });
                x
            })
            .collect();
        let yy: Vec<f64> = r.iter().map(|p| p.2).collect();
        if let Some(f) = ols(&x, &yy) {
            if best.as_ref().is_none_or(|b| f.rss < b.0) {
                best = Some((f.rss, at, f));
            }
        }
    }
    let (_, at, f) = best?;
    let j = f.beta.len() - 1;
    // i.i.d. standard error inflated for AR(1) errors (a step is a mean of many days).
    let se = (f.sigma2() * f.xtx_inv[j][j]).max(0.0).sqrt() * ((1.0 + rho) / (1.0 - rho)).sqrt();
    let t = if se > 0.0 { f.beta[j] / se } else { 0.0 };
    let days_from_event = at as i64 - event as i64;
    let zc = normal_quantile(1.0 - (1.0 - cfg.confidence) / 2.0);
    Some(ChangePoint {
        date: *dates.get(at)?,
        change_mw: f.beta[j],
        t,
        days_from_event,
        agrees: t.abs() >= zc
            && days_from_event.unsigned_abs() <= u64::from(cfg.changepoint_tolerance),
    })
}
