//! Is a load flat 24/7, like a mining rig? Applied to the load a feeder's residual gained at a
//! step (the residual after the step minus its profile before), or to the whole residual.
//!
//! Input: the added load per slot (kW, `NaN` for excluded slots) and each slot's local hour.
//! Output: a [`RigShape`]: mean, coefficient of variation at the grid interval, peak-to-trough of
//! the mean 24-hour profile over the mean, and a rig-likeness in [0, 1]. DOMAIN.md: a rig runs
//! 24/7 with a CV of a few percent at 30 minutes and no daily rhythm; households, shops and
//! heating swing by more than their mean over a day.

use crate::stats::{mad, median_mut, ramp, MAD_TO_SD};

/// CV of the added load at or below which it counts as fully flat: a few percent of rig noise
/// plus the residual's own noise (DOMAIN.md: "a few percent" at 30-min resolution).
pub const FLAT_FULL_CV: f64 = 0.15;
/// CV at or above which it is not flat at all (a household's load has a CV near 1).
pub const FLAT_ZERO_CV: f64 = 0.5;
/// Peak-to-trough of the mean daily profile, over the mean, at or below which there is no
/// rhythm (noise alone gives ~0.1 on a month of half-hours).
pub const RHYTHM_FULL: f64 = 0.25;
/// ... and at or above which the load clearly follows the clock (homes: 1.5-2).
pub const RHYTHM_ZERO: f64 = 0.75;
/// Fewest slots to judge a shape on (half a day of half-hours).
pub const MIN_SLOTS: usize = 24;

/// The shape of an added load.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RigShape {
    pub mean_kw: f64,
    /// Robust coefficient of variation at the grid interval: 1.4826 x MAD over the median.
    pub cv: f64,
    /// Peak-to-trough of the median profile by local hour, over the median.
    pub diurnal_amp: f64,
    /// `flat x no_rhythm`, each a linear ramp between the constants above; 0 when the mean is
    /// not positive.
    pub rig_likeness: f64,
    pub slots: usize,
}

/// The shape of `added` (kW per slot, `NaN` = excluded), `hour[s]` the local hour of slot `s`.
///
/// Spread and profile are robust (median absolute deviation, hourly medians): a handful of
/// slots off by tens of kW (a rig's own outage, a badly estimated missing reading of a large
/// meter) must not make a flat load look irregular. The mean (energy) is reported as is.
pub fn rig_shape(added: &[f64], hour: &[u8]) -> Option<RigShape> {
    let mut all: Vec<f64> = Vec::new();
    let mut by_hour: Vec<Vec<f64>> = vec![Vec::new(); 24];
    for (v, h) in added.iter().zip(hour) {
        if v.is_finite() {
            all.push(*v);
            by_hour[usize::from(*h).min(23)].push(*v);
        }
    }
    let n = all.len();
    if n < MIN_SLOTS {
        return None;
    }
    let mean = all.iter().sum::<f64>() / n as f64;
    // n >= MIN_SLOTS, so neither is empty.
    let med = median_mut(&mut all).unwrap_or(f64::NAN);
    let sd = MAD_TO_SD * mad(&all, med).unwrap_or(f64::NAN);
    let (lo, hi) = by_hour
        .iter_mut()
        .filter(|b| !b.is_empty())
        .filter_map(|b| median_mut(b))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if med <= 0.0 || mean <= 0.0 {
        return Some(RigShape {
            mean_kw: mean,
            cv: f64::INFINITY,
            diurnal_amp: f64::INFINITY,
            rig_likeness: 0.0,
            slots: n,
        });
    }
    let cv = sd / med;
    let amp = (hi - lo) / med;
    let flat = ramp(cv, FLAT_ZERO_CV, FLAT_FULL_CV);
    let no_rhythm = ramp(amp, RHYTHM_ZERO, RHYTHM_FULL);
    Some(RigShape {
        mean_kw: mean,
        cv,
        diurnal_amp: amp,
        rig_likeness: flat * no_rhythm,
        slots: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(n: usize) -> Vec<u8> {
        (0..n).map(|s| ((s / 2) % 24) as u8).collect()
    }

    #[test]
    fn a_flat_rig_is_rig_like() {
        let added: Vec<f64> = (0..480)
            .map(|s| 6.5 * (1.0 + 0.02 * ((s * 7919) % 13) as f64 / 13.0))
            .collect();
        let r = rig_shape(&added, &hours(480)).unwrap();
        assert!(r.cv < 0.05 && r.diurnal_amp < 0.1, "{r:?}");
        assert_eq!(r.rig_likeness, 1.0);
    }

    #[test]
    fn a_household_shape_is_not() {
        // Low at night, high in the evening: a daily rhythm.
        let h = hours(480);
        let added: Vec<f64> = h
            .iter()
            .map(|&hr| if (17..22).contains(&hr) { 3.0 } else { 0.4 })
            .collect();
        let r = rig_shape(&added, &h).unwrap();
        assert_eq!(r.rig_likeness, 0.0, "{r:?}");
    }

    #[test]
    fn a_few_wild_slots_do_not_spoil_a_flat_load() {
        let mut added = vec![18.0; 480];
        for s in [30, 97, 200, 333, 401] {
            added[s] = -20.0;
        }
        let r = rig_shape(&added, &hours(480)).unwrap();
        assert_eq!(r.rig_likeness, 1.0, "{r:?}");
        assert!(r.mean_kw < 18.0);
    }

    #[test]
    fn degenerate_inputs() {
        assert!(rig_shape(&[1.0; 10], &hours(10)).is_none());
        let r = rig_shape(&[0.0; 100], &hours(100)).unwrap();
        assert_eq!(r.rig_likeness, 0.0);
        let gaps: Vec<f64> = (0..100)
            .map(|s| if s % 2 == 0 { f64::NAN } else { 2.0 })
            .collect();
        assert_eq!(rig_shape(&gaps, &hours(100)).unwrap().slots, 50);
    }
}
